/* test_smtp - reply parsing, verdicts and dot-stuffing, table driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* test_reply_line - valid lines, continuation flag, text; malformed refused */
static void test_reply_line(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		int rc, code;
		bool last;
		const char *text;
	} cases[] = {
		{ "250 ok", 0, 250, true, "ok" },
		{ "250-PIPELINING", 0, 250, false, "PIPELINING" },
		{ "250", 0, 250, true, "" },
		{ "250 ", 0, 250, true, "" },
		{ "250-", 0, 250, false, "" },
		{ "354 End data with <CR><LF>.<CR><LF>", 0, 354, true, "End data with <CR><LF>.<CR><LF>" },
		{ "421 4.3.2 bye", 0, 421, true, "4.3.2 bye" },
		{ "599 x", 0, 599, true, "x" },
		{ "220 Welcome to coremail System(With Anti-Spam) 2.1", 0, 220, true,
		  "Welcome to coremail System(With Anti-Spam) 2.1" },
		{ "25", -1, 0, false, NULL },
		{ "2500 x", -1, 0, false, NULL },
		{ "250x", -1, 0, false, NULL },
		{ "650 x", -1, 0, false, NULL },
		{ "199 x", -1, 0, false, NULL },
		{ "150 x", -1, 0, false, NULL },
		{ "", -1, 0, false, NULL },
		{ "abc", -1, 0, false, NULL },
		{ " 250 x", -1, 0, false, NULL },
		{ "2a0 x", -1, 0, false, NULL },
		{ "25a x", -1, 0, false, NULL },
		{ "250\tx", -1, 0, false, NULL },
		{ "250_x", -1, 0, false, NULL },
		{ "-250 x", -1, 0, false, NULL },
	};
	for (size_t i = 0; i < N(cases); i++) {
		int code = -7;
		bool last = false;
		const char *text = NULL;
		int rc = smtp_reply_line(cases[i].line, strlen(cases[i].line), &code, &last, &text);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(code, cases[i].code);
			assert_int_equal(last, cases[i].last);
			assert_string_equal(text, cases[i].text);
		}
	}
}

/* test_reply_line_len - only len bytes are read: no NUL needed */
static void test_reply_line_len(void **state)
{
	(void)state;
	int code;
	bool last;
	const char *text;
	assert_int_equal(smtp_reply_line("250-more", 3, &code, &last, &text), 0);
	assert_int_equal(code, 250);
	assert_true(last);
	assert_int_equal(smtp_reply_line("25", 2, &code, &last, &text), -1);
}

/* test_enhanced - class must agree with the code; malformed ones ignored */
static void test_enhanced(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int code, rc;
		const char *out, *rest;
	} cases[] = {
		{ "5.1.1 no such user", 550, 0, "5.1.1", "no such user" },
		{ "2.0.0 Ok: queued as X", 250, 0, "2.0.0", "Ok: queued as X" },
		{ "4.7.0   try later", 451, 0, "4.7.0", "try later" },
		{ "5.7.139 access denied", 535, 0, "5.7.139", "access denied" },
		{ "5.1.1", 550, 0, "5.1.1", "" },
		{ "4.1.1 mismatch", 550, -1, "", NULL },
		{ "5.1.1 mismatch", 450, -1, "", NULL },
		{ "2.0.0 mismatch", 550, -1, "", NULL },
		{ "3.0.0 no class 3", 354, -1, "", NULL },
		{ "5.1 short", 550, -1, "", NULL },
		{ "5.1.", 550, -1, "", NULL },
		{ "5..1 x", 550, -1, "", NULL },
		{ "5.1234.1 x", 550, -1, "", NULL },
		{ "5.1.1234 x", 550, -1, "", NULL },
		{ "5.1.1x", 550, -1, "", NULL },
		{ "6.1.1 x", 650, -1, "", NULL },
		{ "no code", 550, -1, "", NULL },
		{ "", 550, -1, "", NULL },
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[16] = "junk";
		const char *rest = NULL;
		int rc = smtp_enhanced(cases[i].text, cases[i].code, out, &rest);
		assert_int_equal(rc, cases[i].rc);
		assert_string_equal(out, cases[i].out);
		if (rc == 0)
			assert_string_equal(rest, cases[i].rest);
	}
}

/* test_verdict - 2xx/3xx ok, 4xx temporary, 5xx permanent, no reply temporary */
static void test_verdict(void **state)
{
	(void)state;
	static const struct {
		int code;
		enum smtp_verdict v;
	} cases[] = {
		{ 250, SMTP_OK }, { 235, SMTP_OK }, { 354, SMTP_OK }, { 334, SMTP_OK },
		{ 421, SMTP_TEMP }, { 450, SMTP_TEMP }, { 452, SMTP_TEMP }, { 0, SMTP_TEMP },
		{ 500, SMTP_PERM }, { 535, SMTP_PERM }, { 550, SMTP_PERM }, { 554, SMTP_PERM },
		{ 199, SMTP_TEMP }, { 600, SMTP_TEMP },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_reply r = { .code = cases[i].code };
		assert_int_equal(smtp_reply_verdict(&r), cases[i].v);
	}
}

/* test_assembly - multi-line replies joined; malformed ones refused */
static void test_assembly(void **state)
{
	(void)state;
	static const struct {
		const char *lines[4];
		int rc, code;
		const char *enhanced, *text;
	} cases[] = {
		{ { "250 ok" }, 1, 250, "", "ok" },
		{ { "250-first", "250 second" }, 1, 250, "", "first; second" },
		{ { "250-mx.example.com", "250-PIPELINING", "250 8BITMIME" }, 1, 250, "",
		  "mx.example.com; PIPELINING; 8BITMIME" },
		{ { "550-5.1.1 no such user", "550 5.1.1 really" }, 1, 550, "5.1.1",
		  "no such user; really" },
		{ { "550 4.1.1 disagreeing" }, 1, 550, "", "4.1.1 disagreeing" },
		{ { "421 4.3.2 shutting down" }, 1, 421, "4.3.2", "shutting down" },
		{ { "250-", "250 ok" }, 1, 250, "", "ok" },
		{ { "550 bad\001\x7f" }, 1, 550, "", "bad\\x01\\x7F" },
		{ { "250-a", "251 b" }, -1, 0, "", NULL },
		{ { "250-a", "garbage" }, -1, 0, "", NULL },
		{ { "25" }, -1, 0, "", NULL },
		{ { "" }, -1, 0, "", NULL },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_assembly a;
		struct smtp_reply r;
		int rc = 0;
		smtp_reply_begin(&a, &r);
		for (size_t k = 0; k < 4 && cases[i].lines[k] != NULL && rc == 0; k++)
			rc = smtp_reply_feed(&a, cases[i].lines[k], strlen(cases[i].lines[k]));
		assert_int_equal(rc, cases[i].rc);
		assert_int_equal(r.code, cases[i].code);
		assert_string_equal(r.enhanced, cases[i].enhanced);
		if (cases[i].text != NULL)
			assert_string_equal(r.text, cases[i].text);
		else
			assert_non_null(strstr(r.text, "malformed"));
	}
}

/* test_assembly_limits - 200 lines and 64 KiB per reply; long text cut with "..." */
static void test_assembly_limits(void **state)
{
	(void)state;
	static const struct {
		size_t lines, width;
		int rc;
	} cases[] = {
		{ 200, 10, 1 },
		{ 201, 10, -1 },
		{ 60, 1000, 1 },
		{ 70, 1000, -1 },
	};
	char line[1100];
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_assembly a;
		struct smtp_reply r;
		int rc = 0;
		smtp_reply_begin(&a, &r);
		for (size_t k = 0; k < cases[i].lines && rc == 0; k++) {
			memset(line, 'x', sizeof line);
			memcpy(line, k + 1 == cases[i].lines ? "250 " : "250-", 4);
			rc = smtp_reply_feed(&a, line, cases[i].width);
		}
		assert_int_equal(rc, cases[i].rc);
		assert_true(strlen(r.text) < SMTP_TEXT_MAX);
		if (rc == 1) {
			assert_int_equal(r.code, 250);
			if (strlen(r.text) > SMTP_TEXT_MAX - 20)
				assert_non_null(strstr(r.text, "..."));
		}
	}
}

/* test_stuff - dots doubled at line starts only, across chunk boundaries */
static void test_stuff(void **state)
{
	(void)state;
	static const struct {
		const char *chunks[4];
		const char *out;
	} cases[] = {
		{ { "no dot\r\n" }, "no dot\r\n" },
		{ { ".\r\n" }, "..\r\n" },
		{ { ".hidden\r\n" }, "..hidden\r\n" },
		{ { "a\r\n.b\r\n" }, "a\r\n..b\r\n" },
		{ { "a.b\r\n" }, "a.b\r\n" },
		{ { "..\r\n" }, "...\r\n" },
		{ { "a\r\n", ".b\r\n" }, "a\r\n..b\r\n" },
		{ { "a\r", "\n.", "b\r\n" }, "a\r\n..b\r\n" },
		{ { "a", ".", "\r\n" }, "a.\r\n" },
		{ { "", ".x" }, "..x" },
		{ { "x\r\n.\r\n.\r\n" }, "x\r\n..\r\n..\r\n" },
		{ { "" }, "" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_stuffer st = { .at_line_start = true };
		char out[128];
		size_t o = 0;
		for (size_t k = 0; k < 4 && cases[i].chunks[k] != NULL; k++)
			o += smtp_stuff(&st, cases[i].chunks[k], strlen(cases[i].chunks[k]), out + o);
		assert_int_equal(o, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, o);
	}
}

/* main - run everything */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_line),
		cmocka_unit_test(test_reply_line_len),
		cmocka_unit_test(test_enhanced),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_assembly),
		cmocka_unit_test(test_assembly_limits),
		cmocka_unit_test(test_stuff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
