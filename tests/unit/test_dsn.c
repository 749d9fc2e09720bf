/* test_dsn - bounces: parsed back as a multipart/report, never for <> */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "spool_fixture.h"

struct fixture {
	char dir[64];
	struct queue *q;
	struct conf c;
};

/* setup - spool and a hand-made configuration */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	spool_make(f->dir, sizeof(f->dir), &f->q, "test_dsn");
	f->c.sender.domain = "example.com";
	f->c.smarthost.helo = "host.example.com";
	setenv("TZ", "UTC", 1);
	tzset();
	*state = f;
	return 0;
}

/* teardown - remove the spool */
static int teardown(void **state)
{
	struct fixture *f = *state;
	spool_remove(f->dir, f->q);
	free(f);
	return 0;
}

static const char original[] =
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.org, carol@example.net\r\n"
	"Subject: the report\r\n"
	"\r\n"
	"secret body line\r\n";

/* enqueue - the original message, locked in m */
static void enqueue(struct fixture *f, const char *sender, const char *ret, struct queue_msg *m)
{
	static char *rcpt[] = { "bob@example.org", "carol@example.net" };
	struct envelope e;
	struct queue_new n;
	char err[256];
	memset(&e, 0, sizeof(e));
	e.sender = (char *)sender;
	e.rcpt = rcpt;
	e.nrcpt = 2;
	e.ret = (char *)ret;
	e.envid = "ENV1";
	assert_int_equal(queue_new_begin(f->q, &e, 1795748638, &n, err, sizeof(err)), 0);
	assert_int_equal(queue_new_write(&n, original, sizeof(original) - 1), 0);
	assert_int_equal(queue_new_commit(f->q, &n, false, m, err, sizeof(err)), 0);
}

/* read_bounce - the queued bounce: its message and its data as a string */
static char *read_bounce(struct fixture *f, const char *id, struct queue_msg *b)
{
	char err[256];
	assert_int_equal(queue_read(f->q, id, b, err, sizeof(err)), 0);
	char *text = calloc(1, (size_t)b->size + 1);
	assert_non_null(text);
	assert_int_equal(pread(b->fd, text, (size_t)b->size, b->data_off), (ssize_t)b->size);
	return text;
}

/* failed_two - one 550 with an enhanced code, one expiry */
static void failed_two(struct dsn_rcpt d[2])
{
	memset(d, 0, 2 * sizeof(*d));
	d[0].addr = "bob@example.org";
	d[0].reply.code = 550;
	memcpy(d[0].reply.enhanced, "5.1.1", 6);
	assert_true(snprintf(d[0].reply.text, sizeof(d[0].reply.text), "no such user") > 0);
	d[0].remote_mta = "smtp.example.net";
	d[1].addr = "carol@example.net";
	d[1].reply.code = 0;
	assert_true(snprintf(d[1].reply.text, sizeof(d[1].reply.text), "connection refused") > 0);
}

/* count - occurrences of needle in hay */
static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* check_lines - every line ends with CRLF and is at most 998 octets */
static void check_lines(const char *text)
{
	const char *p = text;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl > p && nl[-1] == '\r');
		assert_true(nl - p - 1 <= 998);
		p = nl + 1;
	}
}

/* part_of - the text of MIME part i (1-based) between boundaries; caller frees */
static char *part_of(const char *text, const char *boundary, int i)
{
	char delim[128];
	int n = snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	assert_true(n > 0 && (size_t)n < sizeof(delim));
	const char *p = text;
	for (int k = 0; k < i; k++) {
		p = strstr(p, delim);
		assert_non_null(p);
		p += strlen(delim);
	}
	assert_memory_equal(p, "\r\n", 2);
	p += 2;
	const char *end = strstr(p, delim);
	assert_non_null(end);
	return strndup(p, (size_t)(end - p));
}

/* test_bounce_headers - the bounce envelope and its top-level header fields */
static void test_bounce_headers(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m, b;
	struct dsn_rcpt d[2];
	char new_id[QUEUE_ID_LEN + 1], err[256];
	enqueue(f, "alice@example.com", NULL, &m);
	failed_two(d);
	assert_int_equal(dsn_bounce(f->q, &f->c, &m, d, 2, 1795750000, new_id, err,
				    sizeof(err)), 0);
	assert_true(queue_valid_id(new_id));
	assert_string_not_equal(new_id, m.id);
	char *text = read_bounce(f, new_id, &b);
	assert_false(b.busy);			/* released for the next run */
	assert_string_equal(b.sender, "");	/* from the null sender */
	assert_false(b.eightbit);
	assert_int_equal(b.nrcpt, 1);
	assert_string_equal(b.rcpt[0], "alice@example.com");
	check_lines(text);

	char boundary[64];
	int n = snprintf(boundary, sizeof(boundary), "%s/bounce.relaymail", new_id);
	assert_true(n > 0 && (size_t)n < sizeof(boundary));
	char ct[160];
	n = snprintf(ct, sizeof(ct), "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		     "\tboundary=\"%s\"\r\n", boundary);
	assert_true(n > 0 && (size_t)n < sizeof(ct));
	assert_non_null(strstr(text, ct));
	assert_non_null(strstr(text, "From: Mail Delivery System <MAILER-DAEMON@example.com>\r\n"));
	assert_non_null(strstr(text, "To: <alice@example.com>\r\n"));
	assert_non_null(strstr(text, "Subject: Undelivered Mail Returned to Sender\r\n"));
	assert_non_null(strstr(text, "Auto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(text, "Date: Fri, 27 Nov 2026 03:26:40 +0000\r\n"));
	assert_non_null(strstr(text, "Message-ID: <"));
	assert_non_null(strstr(text, "MIME-Version: 1.0\r\n"));
	char closing[80];
	n = snprintf(closing, sizeof(closing), "\r\n--%s--\r\n", boundary);
	assert_true(n > 0 && (size_t)n < sizeof(closing));
	assert_int_equal(count(text, closing), 1);
	assert_int_equal(strcmp(text + strlen(text) - strlen(closing), closing), 0);
	free(text);
	queue_release(&b);
	queue_release(&m);
}

/* test_bounce_parts - the human part, the delivery-status fields, the headers */
static void test_bounce_parts(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m, b;
	struct dsn_rcpt d[2];
	char new_id[QUEUE_ID_LEN + 1], err[256], boundary[64];
	enqueue(f, "alice@example.com", NULL, &m);
	failed_two(d);
	assert_int_equal(dsn_bounce(f->q, &f->c, &m, d, 2, 1795750000, new_id, err,
				    sizeof(err)), 0);
	int n = snprintf(boundary, sizeof(boundary), "%s/bounce.relaymail", new_id);
	assert_true(n > 0 && (size_t)n < sizeof(boundary));
	char *text = read_bounce(f, new_id, &b);
	queue_release(&b);
	char *p1 = part_of(text, boundary, 1);
	char *p2 = part_of(text, boundary, 2);
	char *p3 = part_of(text, boundary, 3);
	assert_non_null(strstr(p1, "Content-Type: text/plain; charset=us-ascii\r\n\r\n"));
	assert_non_null(strstr(p1, "<bob@example.org>: host smtp.example.net said:\r\n"
				   "    550 5.1.1 no such user\r\n"));
	assert_non_null(strstr(p1, "<carol@example.net>: delivery time expired"));

	assert_memory_equal(p2, "Content-Description: Delivery report\r\n"
				"Content-Type: message/delivery-status\r\n\r\n",
			    strlen("Content-Description: Delivery report\r\n"
				   "Content-Type: message/delivery-status\r\n\r\n"));
	assert_non_null(strstr(p2, "Reporting-MTA: dns; host.example.com\r\n"));
	assert_non_null(strstr(p2, "Original-Envelope-Id: ENV1\r\n"));
	assert_non_null(strstr(p2, "Arrival-Date: Fri, 27 Nov 2026 03:03:58 +0000\r\n"));
	assert_non_null(strstr(p2, "\r\n\r\nFinal-Recipient: rfc822; bob@example.org\r\n"
				   "Action: failed\r\nStatus: 5.1.1\r\n"
				   "Remote-MTA: dns; smtp.example.net\r\n"
				   "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
	assert_non_null(strstr(p2, "\r\n\r\nFinal-Recipient: rfc822; carol@example.net\r\n"
				   "Action: failed\r\nStatus: 4.4.7\r\n"));
	assert_null(strstr(p2, "Diagnostic-Code: smtp; 0"));
	assert_int_equal(count(p2, "Action: failed\r\n"), 2);

	assert_non_null(strstr(p3, "Content-Type: text/rfc822-headers\r\n\r\n"
				   "From: Alice <alice@example.com>\r\n"
				   "To: bob@example.org, carol@example.net\r\n"
				   "Subject: the report\r\n"));
	assert_null(strstr(text, "secret body line"));	/* headers only */
	free(p1);
	free(p2);
	free(p3);
	free(text);
	queue_release(&m);
}

/* test_bounce_full - RET=FULL attaches the whole message */
static void test_bounce_full(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m, b;
	struct dsn_rcpt d[2];
	char new_id[QUEUE_ID_LEN + 1], err[256];
	enqueue(f, "alice@example.com", "FULL", &m);
	failed_two(d);
	assert_int_equal(dsn_bounce(f->q, &f->c, &m, d, 1, 1795750000, new_id, err,
				    sizeof(err)), 0);
	char *text = read_bounce(f, new_id, &b);
	check_lines(text);
	assert_non_null(strstr(text, "Content-Type: message/rfc822\r\n\r\n"));
	assert_non_null(strstr(text, original));
	assert_null(strstr(text, "carol@example.net>: delivery"));	/* only one failed */
	free(text);
	queue_release(&b);
	queue_release(&m);
}

/* test_no_bounce_for_null_sender - never a bounce of a bounce */
static void test_no_bounce_for_null_sender(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m;
	struct dsn_rcpt d[2];
	char new_id[QUEUE_ID_LEN + 1], err[256];
	enqueue(f, "", NULL, &m);
	failed_two(d);
	assert_int_equal(dsn_bounce(f->q, &f->c, &m, d, 2, 1795750000, new_id, err,
				    sizeof(err)), 1);
	queue_release(&m);
	int msgs = 0;
	DIR *qd = fdopendir(spool_subdir(f->dir, "q"));
	assert_non_null(qd);
	struct dirent *de;
	while ((de = readdir(qd)) != NULL)
		if (de->d_name[0] != '.')
			msgs++;
	closedir(qd);
	assert_int_equal(msgs, 1);	/* only the original */
}

/* test_refuses_unsafe - a line break in a reply text never reaches a header */
static void test_refuses_unsafe(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m;
	struct dsn_rcpt d[2];
	char new_id[QUEUE_ID_LEN + 1], err[256];
	enqueue(f, "alice@example.com", NULL, &m);
	failed_two(d);
	assert_true(snprintf(d[0].reply.text, sizeof(d[0].reply.text), "bad\r\nInjected: yes") > 0);
	assert_int_equal(dsn_bounce(f->q, &f->c, &m, d, 2, 1795750000, new_id, err,
				    sizeof(err)), -1);
	queue_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bounce_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounce_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounce_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_bounce_for_null_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_unsafe, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
