/* test_envelope - address checks, completion, sender forms, aliases, lists */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "envelope.h"
#include "row_label.h"

static const char aliases_text[] =
	"# /etc/aliases for the tests\n"
	"postmaster: root\n"
	"\n"
	"webmaster: \"web@example.net\",\n"
	"  w2@example.net\n"
	"# a comment between entries\n"
	"multi: a1@x.org, a2@x.org, \"|/usr/bin/procmail -a\", /var/mail/x,\n"
	"\t:include:/etc/mail/list, a3@x.org\n"
	"pipe: \"|/usr/bin/foo\"\n"
	"a: b\n"
	"b: c\n"
	"c: a\n"
	"self: self\n"
	"Root: shadowed@file.example\n"
	"d1: d2\nd2: d3\nd3: d4\nd4: d5\nd5: d6\nd6: d7\nd7: d8\nd8: d9\nd9: end@x.org\n"
	"e1: e2\ne2: e3\ne3: e4\ne4: e5\ne5: e6\ne6: e7\ne7: e8\ne8: end@x.org\n"
	"badtarget: -oQ/tmp@x\n"
	"ctl: a\x01" "b@x\n"
	"spaced: \"x y\"@z.org, Named Person <named@z.org> (comment, with comma)\n"
	"crlf: crlf@x.org\r\n"
	"no colon on this line\n"
	"dup: first@x.org\n"
	"dup: second@x.org\n";

struct fixture {
	struct conf c;
	struct conf_alias al[4];
	char path[64];
};

/* setup - a hand-made conf (conf_load is another module) and an aliases file */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	int r = snprintf(f->path, sizeof(f->path), "/tmp/test_envelope.XXXXXX");
	assert_true(r > 0 && (size_t)r < sizeof(f->path));
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, aliases_text, sizeof(aliases_text) - 1),
			 (ssize_t)(sizeof(aliases_text) - 1));
	close(fd);
	f->al[0] = (struct conf_alias){ "root", "admin@example.org, ops" };
	f->al[1] = (struct conf_alias){ "ops", "Ops Team <ops@example.org>" };
	f->al[2] = (struct conf_alias){ "loop", "loop" };
	f->al[3] = (struct conf_alias){ "admin", "admin@example.org" };
	f->c.sender.domain = "example.com";
	f->c.sender.aliases_file = f->path;
	f->c.aliases.v = f->al;
	f->c.aliases.n = 4;
	*state = f;
	return 0;
}

/* teardown - remove the aliases file */
static int teardown(void **state)
{
	struct fixture *f = *state;
	(void)row_label_report(state);
	unlink(f->path);
	free(f);
	return 0;
}

/* test_check - every refused class, and what passes */
static void test_check(void **state)
{
	static const struct {
		const char *addr;
		bool null_ok;
		const char *err;	/* NULL: accepted */
	} cases[] = {
		{ "a@x.com", false, NULL },
		{ "root", false, NULL },
		{ "first.last+tag@x.com", false, NULL },
		{ "o'reilly@x.ie", false, NULL },
		{ "\"a b\"@x", false, NULL },
		{ "\"a@b\"@c", false, NULL },
		{ "user@[192.0.2.1]", false, NULL },
		{ "", true, NULL },
		{ "", false, "empty address" },
		{ "a\r@x", false, "address contains a carriage return" },
		{ "a@x\r", false, "address contains a carriage return" },
		{ "a\n@x", false, "address contains a line feed" },
		{ "a@x\nRCPT TO:<b@y>", false, "address contains a line feed" },
		{ "a\x01@x", false, "address contains the control character 0x01" },
		{ "a\t@x", false, "address contains the control character 0x09" },
		{ "a\x7f@x", false, "address contains the control character 0x7f" },
		{ "-oQ/tmp/@x", false, "address starts with '-'" },
		{ "-froot", false, "address starts with '-'" },
		{ "a<b@x", false, "address contains '<'" },
		{ "<a@x>", false, "address contains '<'" },
		{ "a@x>", false, "address contains '>'" },
		{ "a b@x", false, "address contains white space" },
		{ "a@x y", false, "address contains white space" },
		{ "\"a b\" c@x", false, "address contains white space" },
		{ "\"a b@x", false, "address has an unbalanced quote" },
		{ "j\xc3\xbcrgen@x.de", false,
		  "non-ASCII address needs SMTPUTF8, which relaymail does not use" },
		{ "a@b@c", false, "address has more than one '@'" },
		{ "@x", false, "address has an empty local part" },
		{ "a@", false, "address has an empty domain" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		row_label("test_check: cases[%zu]", i);
		err[0] = '\0';
		int r = envelope_check_addr(cases[i].addr, cases[i].null_ok, err, sizeof(err));
		if (cases[i].err == NULL ? r != 0 : r != -1 || strcmp(err, cases[i].err) != 0)
			fail_msg("check case %zu: %d \"%s\", want \"%s\"", i, r, err,
				 cases[i].err ? cases[i].err : "(accepted)");
	}
	row_label_done();
}

/* test_check_bytes - a NUL is named; length limits at 254 */
static void test_check_bytes(void **state)
{
	char err[256], addr[300];

	(void)state;
	assert_int_equal(envelope_check_bytes("a\0b@x", 5, false, err, sizeof(err)), -1);
	assert_string_equal(err, "address contains a NUL byte");
	memset(addr, 'a', sizeof(addr));
	memcpy(addr + 248, "@x.com", 6);	/* 254 bytes */
	assert_int_equal(envelope_check_bytes(addr, 254, false, err, sizeof(err)), 0);
	memset(addr, 'a', sizeof(addr));
	memcpy(addr + 249, "@x.com", 6);
	assert_int_equal(envelope_check_bytes(addr, 255, false, err, sizeof(err)), -1);
	assert_string_equal(err, "address longer than 254 bytes");
	/* a tiny err buffer is cut, never overrun */
	char small[8];
	assert_int_equal(envelope_check_addr("a\n", false, small, sizeof(small)), -1);
	assert_string_equal(small, "address");
}

/* test_complete - bare names get the domain, anything else is kept */
static void test_complete(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "root", "root@example.com" },
		{ "a@x.org", "a@x.org" },
		{ "", "" },
		{ "\"a b\"", "\"a b\"@example.com" },
		{ "\"a@b\"", "\"a@b\"@example.com" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		row_label("test_complete: cases[%zu]", i);
		char *got = envelope_complete(&f->c, cases[i].in);
		assert_non_null(got);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
	row_label_done();
}

/* test_sender - the null sender, angle brackets, completion, refusals */
static void test_sender(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *in;
		const char *want;	/* NULL: refused with err */
		const char *err;
	} cases[] = {
		{ "", "", NULL },
		{ "<>", "", NULL },
		{ "<a@b.org>", "a@b.org", NULL },
		{ "a@b.org", "a@b.org", NULL },
		{ "root", "root@example.com", NULL },
		{ "<root>", "root@example.com", NULL },
		{ "-f@x", NULL, "address starts with '-'" },
		{ "a\n@x", NULL, "address contains a line feed" },
		{ "<a@b", NULL, "address contains '<'" },
		{ "a b@x", NULL, "address contains white space" },
		{ "< >", NULL, "address contains white space" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		row_label("test_sender: cases[%zu]", i);
		struct envelope e;
		char err[256] = "";
		envelope_init(&e, &f->c);
		int r = envelope_set_sender(&e, cases[i].in, err, sizeof(err));
		if (cases[i].want != NULL) {
			if (r != 0 || strcmp(e.sender, cases[i].want) != 0)
				fail_msg("sender case %zu: %d \"%s\" (%s)", i, r,
					 e.sender ? e.sender : "(null)", err);
		} else if (r != -1 || strcmp(err, cases[i].err) != 0) {
			fail_msg("sender case %zu: %d \"%s\", want \"%s\"", i, r, err, cases[i].err);
		}
		envelope_free(&e);
	}
	row_label_done();
}

/* join - the recipients of e separated by '|' */
static void join(const struct envelope *e, char *out, size_t outlen)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < e->nrcpt; i++) {
		int r = snprintf(out + n, outlen - n, "%s%s", i ? "|" : "", e->rcpt[i]);
		assert_true(r >= 0 && (size_t)r < outlen - n);
		n += (size_t)r;
	}
}

struct rcpt_case {
	const char *in;
	const char *want;	/* joined recipients, or NULL */
	const char *err;	/* with want NULL: the error */
};

/* run_rcpt_cases - each case in a fresh envelope over conf c */
static void run_rcpt_cases(const struct conf *c, const struct rcpt_case *cases, size_t n, bool list)
{
	for (size_t i = 0; i < n; i++) {
		struct envelope e;
		char err[256] = "", got[1024];
		envelope_init(&e, c);
		int r = list ? envelope_add_list(&e, cases[i].in, err, sizeof(err))
			     : envelope_add_rcpt(&e, cases[i].in, err, sizeof(err));
		join(&e, got, sizeof(got));
		if (cases[i].want != NULL) {
			if (r != 0 || strcmp(got, cases[i].want) != 0)
				fail_msg("case %zu \"%s\": %d \"%s\" (%s), want \"%s\"", i,
					 cases[i].in, r, got, err, cases[i].want);
		} else if (r != -1 || strstr(err, cases[i].err) == NULL) {
			fail_msg("case %zu \"%s\": %d \"%s\", want error \"%s\"", i,
				 cases[i].in, r, err, cases[i].err);
		}
		envelope_free(&e);
	}
}

/* test_aliases - [aliases] then the file, recursion, loops, skipped pipes */
static void test_aliases(void **state)
{
	struct fixture *f = *state;
	static const struct rcpt_case cases[] = {
		{ "x@y.org", "x@y.org", NULL },
		{ "nobody", "nobody@example.com", NULL },
		{ "root", "admin@example.org|ops@example.org", NULL },
		{ "ROOT", "admin@example.org|ops@example.org", NULL },
		{ "postmaster", "admin@example.org|ops@example.org", NULL },
		{ "PostMaster", "admin@example.org|ops@example.org", NULL },
		{ "webmaster", "web@example.net|w2@example.net", NULL },
		{ "multi", "a1@x.org|a2@x.org|a3@x.org", NULL },
		{ "pipe", "pipe@example.com", NULL },
		{ "a", "a@example.com", NULL },
		{ "self", "self@example.com", NULL },
		{ "loop", "loop@example.com", NULL },
		{ "spaced", "\"x y\"@z.org|named@z.org", NULL },
		{ "crlf", "crlf@x.org", NULL },
		{ "dup", "first@x.org", NULL },
		{ "e1", "end@x.org", NULL },
		{ "d1", NULL, "aliases nest deeper than 8 levels" },
		{ "badtarget", NULL, "alias badtarget: address starts with '-'" },
		{ "ctl", NULL, "alias ctl: control character in address list" },
		{ "-oQ/tmp/", NULL, "address starts with '-'" },
		{ "bad\nname", NULL, "address contains a line feed" },
	};
	run_rcpt_cases(&f->c, cases, sizeof(cases) / sizeof(cases[0]), false);
}

/* test_default - [aliases] default catches other names, not alias names */
static void test_default(void **state)
{
	struct fixture *f = *state;
	struct conf c = f->c;
	static const struct rcpt_case with_default[] = {
		{ "nobody", "catchall@example.org|catch@example.com", NULL },
		{ "root", "admin@example.org|ops@example.org", NULL },
		{ "pipe", "catchall@example.org|catch@example.com", NULL },
		{ "self", "self@example.com", NULL },
		{ "x@y.org", "x@y.org", NULL },
	};
	c.aliases.default_target = "catchall@example.org, catch";
	run_rcpt_cases(&c, with_default, sizeof(with_default) / sizeof(with_default[0]), false);

	static const struct rcpt_case alias_default[] = {
		{ "nobody", "admin@example.org", NULL },
	};
	c.aliases.default_target = "admin";
	run_rcpt_cases(&c, alias_default, 1, false);
}

/* test_aliases_file - missing is fine, unreadable is an error, "" disables */
static void test_aliases_file(void **state)
{
	struct fixture *f = *state;
	struct conf c = f->c;
	static const struct rcpt_case plain[] = {
		{ "postmaster", "postmaster@example.com", NULL },
		{ "root", "admin@example.org|ops@example.org", NULL },
	};
	static const struct rcpt_case unreadable[] = {
		{ "postmaster", NULL, "cannot read the aliases file /tmp: Is a directory" },
		{ "x@y.org", "x@y.org", NULL },
		/* [aliases] is consulted before the file is needed */
		{ "root", "admin@example.org|ops@example.org", NULL },
	};

	c.sender.aliases_file = "/nonexistent/aliases";
	run_rcpt_cases(&c, plain, 2, false);
	c.sender.aliases_file = "";
	run_rcpt_cases(&c, plain, 2, false);
	c.sender.aliases_file = NULL;
	run_rcpt_cases(&c, plain, 2, false);
	c.sender.aliases_file = "/tmp";
	run_rcpt_cases(&c, unreadable, 3, false);
}

/* test_lists - comma-separated arguments, as cron's MAILTO gives them */
static void test_lists(void **state)
{
	struct fixture *f = *state;
	static const struct rcpt_case cases[] = {
		{ "a@x.org, b@y.org", "a@x.org|b@y.org", NULL },
		{ "a@x.org,b@y.org", "a@x.org|b@y.org", NULL },
		{ "root,admin", "admin@example.org|ops@example.org", NULL },
		{ "root, nobody", "admin@example.org|ops@example.org|nobody@example.com", NULL },
		{ "A <a@x.org>, \"B, b\" <b@y.org>", "a@x.org|b@y.org", NULL },
		{ "a@x.org,\tA@X.ORG", "a@x.org", NULL },
		{ ",,,", "", NULL },
		{ "-oQ/tmp/", NULL, "address starts with '-'" },
		{ "a@x.org, -X/tmp/log", NULL, "address starts with '-'" },
		{ "a@x.org\nb@y.org", NULL, "address contains a line feed" },
		{ "a@x.org\r", NULL, "address contains a carriage return" },
		{ "Name <a@x.org", NULL, "bad address list: missing '>'" },
		{ "j\xc3\xbcrgen@x.de", NULL, "non-ASCII address needs SMTPUTF8" },
		{ "J\xc3\xbcrgen <j@x.de>", "j@x.de", NULL },
	};
	run_rcpt_cases(&f->c, cases, sizeof(cases) / sizeof(cases[0]), true);
}

/* test_duplicates - case-insensitive, across calls and expansions */
static void test_duplicates(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	char err[256], got[512];

	envelope_init(&e, &f->c);
	assert_int_equal(envelope_add_rcpt(&e, "root", err, sizeof(err)), 0);
	assert_int_equal(envelope_add_rcpt(&e, "ADMIN@EXAMPLE.ORG", err, sizeof(err)), 0);
	assert_int_equal(envelope_add_rcpt(&e, "admin", err, sizeof(err)), 0);
	assert_int_equal(envelope_add_list(&e, "ops@example.org, new@x.org", err, sizeof(err)), 0);
	join(&e, got, sizeof(got));
	assert_string_equal(got, "admin@example.org|ops@example.org|new@x.org");
	envelope_free(&e);
	assert_int_equal(e.nrcpt, 0);
}

/* test_limit - ENVELOPE_MAX_RCPT distinct recipients, then an error */
static void test_limit(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	char err[256], addr[64];

	envelope_init(&e, &f->c);
	for (int i = 0; i < ENVELOPE_MAX_RCPT; i++) {
		int r = snprintf(addr, sizeof(addr), "u%d@x.org", i);
		assert_true(r > 0 && (size_t)r < sizeof(addr));
		assert_int_equal(envelope_add_rcpt(&e, addr, err, sizeof(err)), 0);
	}
	assert_int_equal(envelope_add_rcpt(&e, "u0@x.org", err, sizeof(err)), 0);
	assert_int_equal(envelope_add_rcpt(&e, "one.more@x.org", err, sizeof(err)), -1);
	assert_string_equal(err, "more than 10000 recipients");
	assert_int_equal(e.nrcpt, ENVELOPE_MAX_RCPT);
	envelope_free(&e);
}

struct seen {
	char out[512];
	size_t n;
};

/* seen_addr - collect -bv output */
static int seen_addr(void *ctx, const char *addr)
{
	struct seen *s = ctx;
	int r = snprintf(s->out + s->n, sizeof(s->out) - s->n, "%s%s", s->n ? "|" : "", addr);
	assert_true(r >= 0 && (size_t)r < sizeof(s->out) - s->n);
	s->n += (size_t)r;
	return strcmp(addr, "stop@x.org") == 0 ? -1 : 0;
}

/* test_expand - -bv shows the expansion and adds nothing */
static void test_expand(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct seen s = { .n = 0 };
	char err[256];

	envelope_init(&e, &f->c);
	assert_int_equal(envelope_expand(&e, "postmaster", seen_addr, &s, err, sizeof(err)), 0);
	assert_string_equal(s.out, "admin@example.org|ops@example.org");
	assert_int_equal(e.nrcpt, 0);
	s.n = 0;
	assert_int_equal(envelope_expand(&e, "stop@x.org", seen_addr, &s, err, sizeof(err)), -1);
	s.n = 0;
	assert_int_equal(envelope_expand(&e, "webmaster, x@y.org", seen_addr, &s, err, sizeof(err)), 0);
	assert_string_equal(s.out, "web@example.net|w2@example.net|x@y.org");
	assert_int_equal(envelope_expand(&e, "a\rb", seen_addr, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "address contains a carriage return");
	envelope_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_check, row_label_report),
		cmocka_unit_test_teardown(test_check_bytes, row_label_report),
		cmocka_unit_test_setup_teardown(test_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
