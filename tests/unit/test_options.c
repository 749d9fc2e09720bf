/* test_options - the sendmail command line, table driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "options.h"
#include "row_label.h"

#define MAXARGS 24

struct accept_case {
	const char *argv[MAXARGS];	/* without argv[0], NULL-terminated */
	enum options_mode mode;
	bool from_headers, dot_ends;
	const char *sender;
	const char *rcpts;		/* recipients joined by '|' */
	enum options_delivery delivery;
	const char *extra;		/* "F=name", "C=file", "N=..", "R=..", "V=..", "B=..", "q=secs", "qI=..", "qR=..", "v", "json", "import=.." */
};

static const struct accept_case accepted[] = {
	{ { "-t", "-i", NULL }, OPTIONS_DELIVER, true, false, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-ti", NULL }, OPTIONS_DELIVER, true, false, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-oi", "-f", "a@x", "-t", NULL }, OPTIONS_DELIVER, true, false, "a@x", "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-fa@x", "b@y", NULL }, OPTIONS_DELIVER, false, true, "a@x", "b@y", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-f", "a@x", "-f", "c@z", "b@y", NULL }, OPTIONS_DELIVER, false, true, "c@z", "b@y", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-r", "a@x", "b@y", NULL }, OPTIONS_DELIVER, false, true, "a@x", "b@y", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-f", "<>", "b@y", NULL }, OPTIONS_DELIVER, false, true, "<>", "b@y", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root", NULL }, OPTIONS_DELIVER, false, false, NULL, "root", OPTIONS_DELIVERY_CONFIG, "F=CronDaemon" },
	{ { "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "u", NULL }, OPTIONS_DELIVER, true, false, "u", "", OPTIONS_DELIVERY_SYNC, "B=" },
	{ { "-odb", "x@y", NULL }, OPTIONS_DELIVER, false, true, NULL, "x@y", OPTIONS_DELIVERY_BACKGROUND, NULL },
	{ { "-odq", "x@y", NULL }, OPTIONS_DELIVER, false, true, NULL, "x@y", OPTIONS_DELIVERY_QUEUE, NULL },
	{ { "-i", "--", "-notanoption", "b@y", NULL }, OPTIONS_DELIVER, false, false, NULL, "-notanoption|b@y", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "a@x", "-t", NULL }, OPTIONS_DELIVER, true, true, NULL, "a@x", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-oee", "-oep", "-oeq", "-oew", "-oQ/tmp", "-O", "Timeout=1", "-h", "5", "-L", "tag", "-n", "-U", "-G", "-Am", "-Ac", "-em", NULL }, OPTIONS_DELIVER, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-bm", "x@y", NULL }, OPTIONS_DELIVER, false, true, NULL, "x@y", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-bp", NULL }, OPTIONS_LIST, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-bs", NULL }, OPTIONS_SMTP, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-bi", NULL }, OPTIONS_NEWALIASES, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-bv", "root", NULL }, OPTIONS_VERIFY, false, true, NULL, "root", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-q", NULL }, OPTIONS_QUEUE_RUN, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, "q=0" },
	{ { "-q30m", NULL }, OPTIONS_QUEUE_RUN, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, "q=1800" },
	{ { "-q1h", NULL }, OPTIONS_QUEUE_RUN, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, "q=3600" },
	{ { "-qIABC0", NULL }, OPTIONS_QUEUE_RUN, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, "qI=ABC0" },
	{ { "-qRexample.org", NULL }, OPTIONS_QUEUE_RUN, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, "qR=example.org" },
	{ { "-C", "/tmp/x.conf", "-v", "a@b", NULL }, OPTIONS_DELIVER, false, true, NULL, "a@b", OPTIONS_DELIVERY_CONFIG, "C=/tmp/x.conf" },
	{ { "-N", "success,Failure", "a@b", NULL }, OPTIONS_DELIVER, false, true, NULL, "a@b", OPTIONS_DELIVERY_CONFIG, "N=SUCCESS,FAILURE" },
	{ { "-Nnever", "a@b", NULL }, OPTIONS_DELIVER, false, true, NULL, "a@b", OPTIONS_DELIVERY_CONFIG, "N=NEVER" },
	{ { "-R", "hdrs", "-V", "env-1", "a@b", NULL }, OPTIONS_DELIVER, false, true, NULL, "a@b", OPTIONS_DELIVERY_CONFIG, "R=HDRS" },
	{ { "-B", "7bit", "a@b", NULL }, OPTIONS_DELIVER, false, true, NULL, "a@b", OPTIONS_DELIVERY_CONFIG, "B=7BIT" },
	{ { "--version", NULL }, OPTIONS_VERSION, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "--help", NULL }, OPTIONS_HELP, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "--check", NULL }, OPTIONS_CHECK, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, NULL },
	{ { "-C", "/tmp/r.conf", "--check", NULL }, OPTIONS_CHECK, false, true, NULL, "",
	  OPTIONS_DELIVERY_CONFIG, "C=/tmp/r.conf" },
	{ { "--json", NULL }, OPTIONS_DELIVER, false, true, NULL, "", OPTIONS_DELIVERY_CONFIG, "json" },
	{ { "--import=msmtp:work", "/home/u/.msmtprc", NULL }, OPTIONS_IMPORT, false, true, NULL, "/home/u/.msmtprc",
	  OPTIONS_DELIVERY_CONFIG, "import=msmtp:work" },
	{ { "a,b@c", NULL }, OPTIONS_DELIVER, false, true, NULL, "a,b@c", OPTIONS_DELIVERY_CONFIG, NULL },
};

struct refuse_case {
	const char *argv[MAXARGS];
	const char *error;	/* substring of the message */
};

static const struct refuse_case refused[] = {
	{ { "-X", "/tmp/log", NULL }, "-X is refused" },
	{ { "-X/var/www/shell.php", NULL }, "-X is refused" },
	{ { "-Z", NULL }, "unknown option -Z" },
	{ { "-tZ", NULL }, "unknown option -Z" },
	{ { "-d0.1", NULL }, "unknown option -d" },
	{ { "--frobnicate", NULL }, "unknown option --frobnicate" },
	{ { "--import", NULL }, "--import needs a format" },
	{ { "--import=", NULL }, "--import needs a format" },
	{ { "--checkit", NULL }, "unknown option --checkit" },
	{ { "-bt", NULL }, "unsupported option -bt" },
	{ { "-f", NULL }, "option -f needs a value" },
	{ { "-bd", NULL }, "unsupported option -bd" },
	{ { "-bt", NULL }, "unsupported option -bt" },
	{ { "-odx", NULL }, "unknown delivery mode" },
	{ { "-Bbinarymime", NULL }, "-B takes 7BIT or 8BITMIME" },
	{ { "-N", "sometimes", NULL }, "-N takes never" },
	{ { "-N", "never,success", NULL }, "-N takes never" },
	{ { "-R", "some", NULL }, "-R takes full or hdrs" },
	{ { "-V", "a b", NULL }, "bad envelope id" },
	{ { "-qxyz", NULL }, "bad queue interval" },
	{ { "-qIxyz", NULL }, "bad queue id" },
	{ { "-f", "a@x\r\nRCPT TO:<v@w>", NULL }, "control character" },
	{ { "-F", "Name\nBcc: v@w", NULL }, "control character" },
};

/* run - parse a NULL-terminated argument list */
static int run(const char *const *args, struct options *o, char **rcpt, char *err, size_t errlen)
{
	char *argv[MAXARGS + 1];
	int argc = 0;
	argv[argc++] = (char *)"sendmail";
	for (size_t i = 0; args[i] != NULL; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	return options_parse(argc, argv, OPTIONS_DELIVER, rcpt, o, err, errlen);
}

/* check_extra - one "key=value" expectation */
static void check_extra(const struct options *o, const char *extra)
{
	char buf[64];
	const char *eq = strchr(extra, '=');
	const char *v = eq ? eq + 1 : "";
	if (strcmp(extra, "v") == 0) {
		assert_true(o->verbose);
	} else if (strcmp(extra, "json") == 0) {
		assert_true(o->json);
	} else if (strncmp(extra, "import=", 7) == 0) {
		assert_string_equal(o->import, extra + 7);
	} else if (strncmp(extra, "F=", 2) == 0) {
		assert_string_equal(o->full_name, v);
	} else if (strncmp(extra, "C=", 2) == 0) {
		assert_string_equal(o->config, v);
	} else if (strncmp(extra, "N=", 2) == 0) {
		assert_string_equal(o->notify, v);
	} else if (strncmp(extra, "R=", 2) == 0) {
		assert_string_equal(o->ret, v);
		assert_string_equal(o->envid, "env-1");
	} else if (strncmp(extra, "B=", 2) == 0) {
		if (*v == '\0')
			assert_null(o->body);
		else
			assert_string_equal(o->body, v);
	} else if (strncmp(extra, "q=", 2) == 0) {
		snprintf(buf, sizeof buf, "%u", o->queue_interval);
		assert_string_equal(buf, v);
	} else if (strncmp(extra, "qI=", 3) == 0) {
		assert_string_equal(o->queue_id, v);
	} else if (strncmp(extra, "qR=", 3) == 0) {
		assert_string_equal(o->queue_domain, v);
	} else {
		fail_msg("bad expectation %s", extra);
	}
}

/* test_accepted - every accepted command line parses to what it means */
static void test_accepted(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof accepted / sizeof accepted[0]; k++) {
		row_label("test_accepted: accepted[%zu]", k);
		const struct accept_case *c = &accepted[k];
		struct options o;
		char *rcpt[MAXARGS + 1];
		char err[256] = "", joined[512] = "";
		size_t len = 0;
		if (run(c->argv, &o, rcpt, err, sizeof err) != 0)
			fail_msg("case %zu (%s): refused: %s", k, c->argv[0], err);
		assert_int_equal(o.mode, c->mode);
		assert_int_equal(o.from_headers, c->from_headers);
		assert_int_equal(o.dot_ends, c->dot_ends);
		assert_int_equal(o.delivery, c->delivery);
		if (c->sender == NULL)
			assert_null(o.sender);
		else
			assert_string_equal(o.sender, c->sender);
		for (int i = 0; i < o.nrcpt; i++) {
			int n = snprintf(joined + len, sizeof joined - len, "%s%s", i ? "|" : "", o.rcpt[i]);
			assert_true(n > 0);
			len += (size_t)n;
		}
		assert_string_equal(joined, c->rcpts);
		if (c->extra != NULL)
			check_extra(&o, c->extra);
	}
	row_label_done();
}

/* test_refused - every bad command line gets the right one-line error */
static void test_refused(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
		row_label("test_refused: refused[%zu]", k);
		struct options o;
		char *rcpt[MAXARGS + 1];
		char err[256] = "";
		assert_int_equal(run(refused[k].argv, &o, rcpt, err, sizeof err), -1);
		if (strstr(err, refused[k].error) == NULL)
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", k, err, refused[k].error);
		assert_null(strchr(err, '\n'));
	}
	row_label_done();
}

/* test_mailq_mode - called as mailq, the default mode is the listing */
static void test_mailq_mode(void **state)
{
	(void)state;
	char *argv[] = { (char *)"mailq", (char *)"--json", NULL };
	char *rcpt[3];
	struct options o;
	char err[128];
	assert_int_equal(options_parse(2, argv, OPTIONS_LIST, rcpt, &o, err, sizeof err), 0);
	assert_int_equal(o.mode, OPTIONS_LIST);
	assert_true(o.json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_accepted, row_label_report),
		cmocka_unit_test_teardown(test_refused, row_label_report),
		cmocka_unit_test_teardown(test_mailq_mode, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
