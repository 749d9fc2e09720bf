/* test_rfc5322 - address lists and field names, table driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rfc5322.h"
#include "row_label.h"

struct addr_case {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	int rc;			/* expected count, or -1 */
	const char *want;	/* addresses joined with '|' */
};

static const struct addr_case addr_cases[] = {
	{ "user@example.com", 0, 1, "user@example.com" },
	{ "John Doe <john@example.com>", 0, 1, "john@example.com" },
	{ "<john@example.com>", 0, 1, "john@example.com" },
	{ "\"Doe, John\" <j@x.com>", 0, 1, "j@x.com" },
	/* Outlook's unquoted "Last, First": the first half is a local name */
	{ "Doe, John <j@x.com>", 0, 2, "Doe|j@x.com" },
	{ "a@x.com, b@y.org", 0, 2, "a@x.com|b@y.org" },
	{ "a@x.com,b@y.org,,c@z.net", 0, 3, "a@x.com|b@y.org|c@z.net" },
	{ ",a@x.com,", 0, 1, "a@x.com" },
	{ ",,,", 0, 0, "" },
	{ "", 0, 0, "" },
	{ "   \t ", 0, 0, "" },
	{ "undisclosed-recipients:;", 0, 0, "" },
	{ "Undisclosed recipients: ;", 0, 0, "" },
	{ "Undisclosed recipients:;, root", 0, 1, "root" },
	{ "team: a@x.com, B <b@y.org>;, c@z.net", 0, 3, "a@x.com|b@y.org|c@z.net" },
	{ "team:;, d@x.com", 0, 1, "d@x.com" },
	{ "Mixed: a@x;, Other <b@y>, grp2: \"c d\"@z, e@w;", 0, 4,
	  "a@x|b@y|\"c d\"@z|e@w" },
	{ "team: a@x.com, b@y.org", 0, 2, "a@x.com|b@y.org" },
	{ "a@x.com (Alice)", 0, 1, "a@x.com" },
	{ "(lead) a (mid) @ (x) x.com (tail)", 0, 1, "a@x.com" },
	{ "a@x.com (outer (nested (deep)) comment)", 0, 1, "a@x.com" },
	{ "Alice (work) <alice@x.com> (note, with comma)", 0, 1, "alice@x.com" },
	{ "a@x.com (\\) escaped paren)", 0, 1, "a@x.com" },
	{ "\"a, b\" <ab@x.com>, c@x.com", 0, 2, "ab@x.com|c@x.com" },
	{ "\"john.doe\"@x.com", 0, 1, "john.doe@x.com" },
	{ "\"john doe\"@x.com", 0, 1, "\"john doe\"@x.com" },
	{ "\"a\\\"b\"@x.com", 0, 1, "\"a\\\"b\"@x.com" },
	{ "\"a\\b\"@x", 0, 1, "ab@x" },
	{ "\"a@b\"@x", 0, 1, "\"a@b\"@x" },
	{ "\"\"@x", 0, 1, "\"\"@x" },
	{ "\"john\".doe@x", 0, 1, "john.doe@x" },
	{ "a . b@x", 0, 1, "a.b@x" },
	{ "first.last+tag@x.com", 0, 1, "first.last+tag@x.com" },
	{ "o'reilly@x.ie, Seán O'Brien <sean.o'brien@x.ie>", 0, 2,
	  "o'reilly@x.ie|sean.o'brien@x.ie" },
	{ "a@x.com,\r\n b@y.org", 0, 2, "a@x.com|b@y.org" },
	{ "A\n B <a@x.com>,\n\tb@y", 0, 2, "a@x.com|b@y" },
	{ "\"folded\r\n name\"@x", 0, 1, "\"folded name\"@x" },
	{ "<@relay1.example,@relay2.example:user@host.example>", 0, 1, "user@host.example" },
	{ "Name <@a:u@h>", 0, 1, "u@h" },
	{ "user@[192.0.2.1]", 0, 1, "user@[192.0.2.1]" },
	{ "user@[ 192.0.2.1 ]", 0, 1, "user@[192.0.2.1]" },
	{ "user@[IPv6:2001:db8::1]", 0, 1, "user@[IPv6:2001:db8::1]" },
	{ "root", 0, 1, "root" },
	{ "root, admin", 0, 2, "root|admin" },
	{ "root (Cron Daemon)", 0, 1, "root" },
	{ "Cron Daemon <root>", 0, 1, "root" },
	{ "J\xc3\xbcrgen M\xc3\xbcller <jm@x.de>", 0, 1, "jm@x.de" },
	{ "\"J\xc3\xbcrgen, M\" <jm@x.de>", 0, 1, "jm@x.de" },
	{ "=?UTF-8?B?SsO8cmdlbg==?= <j@x.de>", 0, 1, "j@x.de" },
	{ "=?UTF-8?Q?M=C3=BCller,_Hans?= <h@x.de>", 0, 1, "h@x.de" },
	{ "\"=?utf-8?q?a?=\" <q@x>", 0, 1, "q@x" },
	{ "Dr. Who <who@x>", 0, 1, "who@x" },
	{ "a@x.com <b@y.com>", 0, 1, "b@y.com" },
	{ "<a@x.com> trailing words", 0, 1, "a@x.com" },
	{ "a@x.com;", 0, 1, "a@x.com" },
	{ "<>", 0, 0, "" },
	{ "-oQ/tmp/", 0, 1, "-oQ/tmp/" },
	{ "\"with\rcr\"@x", 0, 1, "\"with\rcr\"@x" },
	/* the examples of RFC 5322 appendix A, and more field values seen in the wild */
	{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", 0, 3,
	  "mary@x.test|jdoe@example.org|one@y.test" },
	{ "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", 0, 2,
	  "boss@nil.test|sysservices@example.net" },
	{ "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
	  "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
	  0, 3, "c@public.example|joe@example.org|jdoe@one.test" },
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", 0, 1, "pete@silly.test" },
	{ "=?iso-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", 0, 1, "PIRARD@vm1.ulg.ac.be" },
	{ "'John Doe' <jd@x.com>", 0, 1, "jd@x.com" },
	{ "a@x.com; b@y.com", 0, 2, "a@x.com|b@y.com" },
	{ "Friends: \"A, B\" <a@x>, (c) b@y;, Enemies: ;", 0, 2, "a@x|b@y" },
	{ "\"Joe Q. Public\" <john.q.public@example.com>", 0, 1, "john.q.public@example.com" },
	{ "John Q. Public <JQP@example.com>", 0, 1, "JQP@example.com" },
	{ "\"first\\\\last\"@x", 0, 1, "\"first\\\\last\"@x" },
	{ "MAILER-DAEMON@host.example (Mail Delivery System)", 0, 1, "MAILER-DAEMON@host.example" },
	/* broken beyond recovery */
	{ "a@b@c", 0, -1, NULL },
	{ "Name <a@x.com", 0, -1, NULL },
	{ "Name <a@x.com, b@y.com", 0, -1, NULL },
	{ "\"unbalanced@x.com", 0, -1, NULL },
	{ "\"ends in backslash\\", 0, -1, NULL },
	{ "a@x.com (unclosed", 0, -1, NULL },
	{ "a@x.com)", 0, -1, NULL },
	{ "a@x.com garbage", 0, -1, NULL },
	{ "John Doe", 0, -1, NULL },
	{ "a@x.com>", 0, -1, NULL },
	{ "<a@x.com, b@y.com>", 0, -1, NULL },
	{ "<a@x.com> <b@y.com>", 0, -1, NULL },
	{ "<@route.only>", 0, -1, NULL },
	{ "a@", 0, -1, NULL },
	{ "@x.com", 0, -1, NULL },
	{ "a@x..com", 0, -1, NULL },
	{ "a@x.com.", 0, -1, NULL },
	{ "a@\"q\"", 0, -1, NULL },
	{ "a@[1.2.3.4", 0, -1, NULL },
	{ "a@x]", 0, -1, NULL },
	{ "a\\b@x", 0, -1, NULL },
	{ "joe@x.com\0, evil@y", 17, -1, NULL },
	{ "\"a\0b\"@x", 7, -1, NULL },
	{ "a@x.com\x01", 0, -1, NULL },
	{ "a@x.com\x7f", 0, -1, NULL },
	/* len is honoured: the rest of the string is never read */
	{ "a@x.com, b@y.com", 7, 1, "a@x.com" },
	{ "\"cut\"@x", 3, -1, NULL },
};

struct collect {
	char out[4096];
	size_t n;
	int calls;
	int stop_at;		/* return -1 on this call (1-based); 0 never */
};

/* collect_addr - join the addresses with '|' */
static int collect_addr(void *ctx, const char *addr)
{
	struct collect *c = ctx;
	int r = snprintf(c->out + c->n, sizeof(c->out) - c->n, "%s%s",
			 c->n > 0 ? "|" : "", addr);

	assert_true(r >= 0 && (size_t)r < sizeof(c->out) - c->n);
	c->n += (size_t)r;
	c->calls++;
	return c->calls == c->stop_at ? -1 : 0;
}

/* run_case - parse from an exact-size heap copy so ASan sees any overread */
static int run_case(const char *in, size_t len, struct collect *c, const char **why)
{
	char *copy = malloc(len > 0 ? len : 1);
	assert_non_null(copy);
	memcpy(copy, in, len);
	int rc = rfc5322_parse_addresses(copy, len, collect_addr, c, why);
	free(copy);
	return rc;
}

/* test_addresses - every row of addr_cases */
static void test_addresses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		row_label("test_addresses: addr_cases[%zu]", i);
		const struct addr_case *k = &addr_cases[i];
		struct collect c = { .n = 0 };
		const char *why = NULL;
		size_t len = k->len ? k->len : strlen(k->in);
		int rc = run_case(k->in, len, &c, &why);

		if (rc != k->rc || (k->want != NULL && strcmp(c.out, k->want) != 0))
			fail_msg("case %zu \"%s\": rc %d (want %d), got \"%s\" (want \"%s\"), why %s",
				 i, k->in, rc, k->rc, c.out, k->want ? k->want : "-",
				 why ? why : "-");
		if (rc < 0)
			assert_non_null(why);
		else
			assert_null(why);
	}
	row_label_done();
}

/* test_error_texts - a few errors say exactly what is wrong */
static void test_error_texts(void **state)
{
	static const struct {
		const char *in;
		const char *why;
	} cases[] = {
		{ "Name <a@x.com", "missing '>' in address list" },
		{ "\"a@x", "unbalanced quote in address list" },
		{ "a@b@c", "address has more than one '@'" },
		{ "(x", "unbalanced parenthesis in comment" },
		{ "a@x\rRCPT TO:<evil@v>", "line break inside an address list" },
		{ "a@x\nRCPT TO:<evil@v>", "line break inside an address list" },
		{ "a@x\r\nb@y", "line break inside an address list" },
		{ "a@x,\rb@y", "line break inside an address list" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		row_label("test_error_texts: cases[%zu]", i);
		struct collect c = { .n = 0 };
		const char *why = NULL;
		assert_int_equal(run_case(cases[i].in, strlen(cases[i].in), &c, &why), -1);
		assert_non_null(why);
		assert_string_equal(why, cases[i].why);
	}
	row_label_done();
}

/* test_long_address - 998 bytes pass, 999 do not */
static void test_long_address(void **state)
{
	char in[1200];
	struct collect c = { .n = 0 };
	const char *why = NULL;

	(void)state;
	memset(in, 'a', sizeof(in));
	memcpy(in + 992, "@x.com", 6);	/* 998 bytes */
	assert_int_equal(run_case(in, 998, &c, &why), 1);
	assert_int_equal(strlen(c.out), 998);
	memset(in, 'a', sizeof(in));
	memcpy(in + 993, "@x.com", 6);	/* 999 bytes */
	c.n = 0;
	c.out[0] = '\0';
	assert_int_equal(run_case(in, 999, &c, &why), -1);
	assert_string_equal(why, "address longer than 998 bytes");
}

/* test_stop - a callback's -1 ends the walk with -2 */
static void test_stop(void **state)
{
	struct collect c = { .n = 0, .stop_at = 2 };
	const char *why = NULL;

	(void)state;
	assert_int_equal(run_case("a@x, b@y, c@z", 13, &c, &why), -2);
	assert_int_equal(c.calls, 2);
	assert_string_equal(c.out, "a@x|b@y");
}

/* test_null_why - why may be NULL */
static void test_null_why(void **state)
{
	struct collect c = { .n = 0 };

	(void)state;
	assert_int_equal(rfc5322_parse_addresses("<a@x", 4, collect_addr, &c, NULL), -1);
}

/* test_field_name - where a field name ends, or that there is none */
static void test_field_name(void **state)
{
	static const struct {
		const char *line;
		size_t len;	/* 0: strlen */
		size_t want;
	} cases[] = {
		{ "Subject: hi", 0, 7 },
		{ "subject : x", 0, 7 },
		{ "To:", 0, 2 },
		{ "Resent-To:x", 0, 9 },
		{ "X-Mailer\t: y", 0, 8 },
		{ "From foo@bar Fri Nov 27", 0, 0 },
		{ " continuation", 0, 0 },
		{ "\tcontinuation: x", 0, 0 },
		{ ":no name", 0, 0 },
		{ "NoColon", 0, 0 },
		{ "", 0, 0 },
		{ "X-\xc3\x9c: a", 0, 0 },
		{ "A b: x", 0, 0 },
		{ "To: x", 2, 0 },
		{ "To: x", 3, 2 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		row_label("test_field_name: cases[%zu]", i);
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
		char *copy = malloc(len > 0 ? len : 1);
		assert_non_null(copy);
		memcpy(copy, cases[i].line, len);
		size_t got = rfc5322_field_name(copy, len);
		free(copy);
		if (got != cases[i].want)
			fail_msg("field name case %zu \"%s\": %zu, want %zu", i,
				 cases[i].line, got, cases[i].want);
	}
	row_label_done();
}

/* test_name_is - case-insensitive and exact in length */
static void test_name_is(void **state)
{
	static const struct {
		const char *name;
		const char *want;
		bool equal;
	} cases[] = {
		{ "TO", "to", true },
		{ "Bcc", "bcc", true },
		{ "resent-bcc", "Resent-Bcc", true },
		{ "Bc", "bcc", false },
		{ "Bccx", "bcc", false },
		{ "Cc", "To", false },
		{ "", "", true },
		{ "", "x", false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		row_label("test_name_is: cases[%zu]", i);
		assert_int_equal(rfc5322_name_is(cases[i].name, strlen(cases[i].name),
						 cases[i].want), cases[i].equal);
	}
	row_label_done();
	/* only namelen bytes count */
	assert_true(rfc5322_name_is("Cc: x", 2, "cc"));
}

/* bare-name completion: value, then the value with "@d" inserted where due */
static const struct {
	const char *in;
	const char *out;
} bare_cases[] = {
	{ "root", "root@d" },
	{ "root (Cron Daemon)", "root@d (Cron Daemon)" },
	{ "Cron Daemon <root>", "Cron Daemon <root@d>" },
	{ "\"Cron, Daemon\" <root>", "\"Cron, Daemon\" <root@d>" },
	{ "root, admin@x.org, postmaster", "root@d, admin@x.org, postmaster@d" },
	{ "first.last", "first.last@d" },
	{ "\"john doe\"", "\"john doe\"@d" },
	{ "<\"john doe\">", "<\"john doe\"@d>" },
	{ "admin@example.com", "admin@example.com" },
	{ "Admin <admin@example.com>", "Admin <admin@example.com>" },
	{ "undisclosed-recipients:;", "undisclosed-recipients:;" },
	{ "team: root, a@b;", "team: root@d, a@b;" },
	{ "<@relay.example:root>", "<@relay.example:root@d>" },
	{ "John Smith", "John Smith" },
	{ "<>", "<>" },
	{ "", "" },
	{ " , ,root", " , ,root@d" },
	{ "root\r\n (folded comment)", "root@d\r\n (folded comment)" },
	{ "Logwatch <root>, (c) root", "Logwatch <root@d>, (c) root@d" },
};

struct insertions {
	size_t off[16];
	size_t n;
};

/* note_offset - record one completion point */
static int note_offset(void *ctx, size_t offset)
{
	struct insertions *ins = ctx;
	assert_true(ins->n < 16);
	ins->off[ins->n++] = offset;
	return 0;
}

/* test_bare_addresses - completion points, checked by rebuilding the text */
static void test_bare_addresses(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof bare_cases / sizeof bare_cases[0]; k++) {
		row_label("test_bare_addresses: bare_cases[%zu]", k);
		const char *in = bare_cases[k].in;
		struct insertions ins = { .n = 0 };
		const char *why = NULL;
		char out[256];
		size_t o = 0, prev = 0, len = strlen(in);
		int r = rfc5322_bare_addresses(in, len, note_offset, &ins, &why);
		if (r < 0)
			fail_msg("case %zu \"%s\": %s", k, in, why ? why : "?");
		assert_int_equal((size_t)r, ins.n);
		for (size_t i = 0; i < ins.n; i++) {
			assert_true(ins.off[i] >= prev && ins.off[i] <= len);
			memcpy(out + o, in + prev, ins.off[i] - prev);
			o += ins.off[i] - prev;
			memcpy(out + o, "@d", 2);
			o += 2;
			prev = ins.off[i];
		}
		memcpy(out + o, in + prev, len - prev);
		o += len - prev;
		out[o] = '\0';
		if (strcmp(out, bare_cases[k].out) != 0)
			fail_msg("case %zu: \"%s\" became \"%s\", want \"%s\"", k, in, out, bare_cases[k].out);
	}
	row_label_done();
	const char *why = NULL;
	struct insertions ins = { .n = 0 };
	assert_int_equal(rfc5322_bare_addresses("Name <root", 10, note_offset, &ins, &why), -1);
	assert_non_null(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_addresses, row_label_report),
		cmocka_unit_test_teardown(test_error_texts, row_label_report),
		cmocka_unit_test_teardown(test_long_address, row_label_report),
		cmocka_unit_test_teardown(test_stop, row_label_report),
		cmocka_unit_test_teardown(test_null_why, row_label_report),
		cmocka_unit_test_teardown(test_field_name, row_label_report),
		cmocka_unit_test_teardown(test_name_is, row_label_report),
		cmocka_unit_test_teardown(test_bare_addresses, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
