/* test_smtp - reply parsing, verdicts and dot-stuffing, table driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "smtp.h"
#include "smtp_script.h"
#include "row_label.h"

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
		row_label("test_reply_line: cases[%zu]", i);
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
	row_label_done();
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
		row_label("test_enhanced: cases[%zu]", i);
		char out[16] = "junk";
		const char *rest = NULL;
		int rc = smtp_enhanced(cases[i].text, cases[i].code, out, &rest);
		assert_int_equal(rc, cases[i].rc);
		assert_string_equal(out, cases[i].out);
		if (rc == 0)
			assert_string_equal(rest, cases[i].rest);
	}
	row_label_done();
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
		row_label("test_verdict: cases[%zu]", i);
		struct smtp_reply r = { .code = cases[i].code };
		assert_int_equal(smtp_reply_verdict(&r), cases[i].v);
	}
	row_label_done();
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
		row_label("test_assembly: cases[%zu]", i);
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
	row_label_done();
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
		row_label("test_assembly_limits: cases[%zu]", i);
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
	row_label_done();
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
		row_label("test_stuff: cases[%zu]", i);
		struct smtp_stuffer st = { .at_line_start = true };
		char out[128];
		size_t o = 0;
		for (size_t k = 0; k < 4 && cases[i].chunks[k] != NULL; k++)
			o += smtp_stuff(&st, cases[i].chunks[k], strlen(cases[i].chunks[k]), out + o);
		assert_int_equal(o, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, o);
	}
	row_label_done();
}

struct session_case {
	const char *name;
	enum conf_tls tls;
	enum conf_mech mech;
	const char *user, *secret;
	const char *data;		/* message data; NULL: smtp_open only */
	const char *rcpt[3];
	bool eightbit;
	const char *notify, *ret, *envid;
	const char *script[SCRIPT_MAX];
	bool open_ok;
	int why_code;			/* smtp_open failure: the reply code */
	const char *why_text;		/* ... and a piece of its text */
	enum smtp_verdict verdict;
	int tx_code;
	const char *tx_text;
	int rcpt_code[3];
	bool lost;
};

/* run_session - one scripted case: open, maybe send, close, check the script */
static void run_session(const struct session_case *c)
{
	struct conf conf;
	struct smtp_reply why, rr[3];
	unsigned port;
	int status;
	memset(&conf, 0, sizeof conf);
	conf.smarthost.helo = "client.example";
	conf.smarthost.timeout = 5;
	print_message("session: %s\n", c->name);
	pid_t pid = start_server(c->script, &port);
	struct smtp_params cfg = {
		.host = "127.0.0.1", .port = port, .helo = conf.smarthost.helo,
		.timeout = conf.smarthost.timeout, .tls = c->tls,
		.mechanism = c->mech, .user = c->user, .secret = c->secret,
		.trace = { log_trace_wire, NULL },
	};
	struct smtp_session *s = smtp_open(&cfg, &why);
	assert_int_equal(s != NULL, c->open_ok);
	if (s == NULL) {
		assert_int_equal(why.code, c->why_code);
		assert_non_null(strstr(why.text, c->why_text));
	} else if (c->data != NULL) {
		size_t n = 0;
		while (n < 3 && c->rcpt[n] != NULL)
			n++;
		struct smtp_result res = { .rcpt = rr };
		struct smtp_message m = {
			.sender = "me@example.com", .rcpt = c->rcpt, .nrcpt = n,
			.size = strlen(c->data), .eightbit = c->eightbit, .notify = c->notify,
			.ret = c->ret, .envid = c->envid, .data_fd = data_file(c->data),
		};
		enum smtp_verdict v = smtp_send(s, &m, &res);
		close(m.data_fd);
		assert_int_equal(v, c->verdict);
		assert_int_equal(res.tx.code, c->tx_code);
		assert_non_null(strstr(res.tx.text, c->tx_text));
		assert_int_equal(smtp_tx_lost(res.state), c->lost);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(rr[i].code, c->rcpt_code[i]);
	}
	smtp_close(s);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define GREET "S:220 mx.example ESMTP", "C:EHLO client.example"
#define LOGIN_SEED "C:AUTH LOGIN", "S:334 VXNlcm5hbWU6", "C:bXlhY2NvdW50", \
	"S:334 UGFzc3dvcmQ6", "C:bXlwYXNzd29yZA==", "S:235 Authentication successful"

static const struct session_case open_cases[] = {
	{ "the seed's session", CONF_TLS_NONE, CONF_MECH_LOGIN, "myaccount", "mypassword", .script = {
		"S:220 Welcome to coremail System(With Anti-Spam) 2.1", "C:EHLO client.example",
		"S:250-192.168.30.29", "S:250-PIPELINING", "S:250-SIZE 10240000", "S:250-ETRN",
		"S:250-AUTH LOGIN", "S:250 8BITMIME", LOGIN_SEED }, .open_ok = true },
	{ "old AUTH=LOGIN line", CONF_TLS_NONE, CONF_MECH_LOGIN, "myaccount", "mypassword", .script = {
		GREET, "S:250-mx.example", "S:250 AUTH=LOGIN", LOGIN_SEED }, .open_ok = true },
	{ "auto picks CRAM-MD5 without TLS", CONF_TLS_NONE, CONF_MECH_AUTO, "tim", "tanstaaftanstaaf",
	  .script = { GREET, "S:250-mx.example", "S:250-AUTH LOGIN", "S:250 AUTH=CRAM-MD5",
		"C:AUTH CRAM-MD5",
		"S:334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
		"C:dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", "S:235 2.7.0 ok" },
	  .open_ok = true },
	{ "PLAIN with its initial response", CONF_TLS_NONE, CONF_MECH_PLAIN, "myaccount", "mypassword",
	  .script = { GREET, "S:250-mx.example", "S:250 AUTH PLAIN",
		"C:AUTH PLAIN AG15YWNjb3VudABteXBhc3N3b3Jk", "S:235 ok" }, .open_ok = true },
	{ "535 fails the session with the reply", CONF_TLS_NONE, CONF_MECH_PLAIN, "u", "p",
	  .script = { GREET, "S:250-mx.example", "S:250 AUTH PLAIN", "C:AUTH PLAIN AHUAcA==",
		"S:535 5.7.8 Authentication credentials invalid" },
	  .why_code = 535, .why_text = "credentials invalid" },
	/* conf allows tls = none with AUTH only to root's loopback port: auto as with TLS */
	{ "auto takes PLAIN without TLS", CONF_TLS_NONE, CONF_MECH_AUTO, "u", "p",
	  .script = { GREET, "S:250-mx.example", "S:250 AUTH PLAIN LOGIN", "C:AUTH PLAIN AHUAcA==",
		"S:235 2.7.0 ok" }, .open_ok = true },
	{ "explicit mechanism not offered", CONF_TLS_NONE, CONF_MECH_CRAM_MD5, "u", "p",
	  .script = { GREET, "S:250-mx.example", "S:250 AUTH PLAIN LOGIN" },
	  .why_text = "does not offer AUTH CRAM-MD5" },
	{ "554 greeting", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  .script = { "S:554 5.7.1 go away" }, .why_code = 554, .why_text = "go away" },
	{ "EHLO refused: HELO when no TLS, no AUTH", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  .script = { GREET, "S:502 5.5.1 what", "C:HELO client.example", "S:250 hi" },
	  .open_ok = true },
	{ "EHLO refused with AUTH needed: no HELO", CONF_TLS_NONE, CONF_MECH_PLAIN, "u", "p",
	  .script = { GREET, "S:502 5.5.1 what" }, .why_code = 502, .why_text = "what" },
	{ "STARTTLS not offered", CONF_TLS_STARTTLS, CONF_MECH_NONE, NULL, NULL,
	  .script = { GREET, "S:250-mx.example", "S:250 8BITMIME" },
	  .why_text = "does not offer STARTTLS" },
	{ "STARTTLS refused", CONF_TLS_STARTTLS, CONF_MECH_NONE, NULL, NULL,
	  .script = { GREET, "S:250-mx.example", "S:250 STARTTLS", "C:STARTTLS",
		"S:454 4.7.0 TLS not available" }, .why_code = 454, .why_text = "TLS not available" },
	{ "STARTTLS response injection", CONF_TLS_STARTTLS, CONF_MECH_NONE, NULL, NULL,
	  .script = { GREET, "S:250-mx.example", "S:250 STARTTLS", "C:STARTTLS",
		"X:220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n" },
	  .why_text = "STARTTLS reply followed by unexpected data (injection attempt)" },
	{ "malformed multi-line reply", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  .script = { GREET, "S:250-mx.example", "S:251 PIPELINING" }, .why_text = "malformed" },
	{ "421 at EHLO", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  .script = { GREET, "S:421 4.3.2 shutting down" }, .why_code = 421, .why_text = "shutting" },
};

/* test_open - the session set-up cases */
static void test_open(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(open_cases); i++) {
		row_label("test_open: %s", open_cases[i].name);
		run_session(&open_cases[i]);
	}
	row_label_done();
}

#define EHLO_PIPE GREET, "S:250-mx.example", "S:250-PIPELINING", "S:250-SIZE 1000", \
	"S:250-8BITMIME", "S:250 DSN"
#define EHLO_PLAIN GREET, "S:250-mx.example", "S:250 SIZE"

static const struct session_case send_cases[] = {
	{ "pipelined, one recipient refused", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "Subject: x\r\n\r\n.dot\r\nend\r\n", { "a@x", "bad@x" }, .script = { EHLO_PIPE,
		"C:MAIL FROM:<me@example.com> SIZE=25", "C:RCPT TO:<a@x>", "C:RCPT TO:<bad@x>",
		"C:DATA", "S:250 2.1.0 ok", "S:250 2.1.5 ok", "S:550 5.1.1 no such user",
		"S:354 go", "C:Subject: x", "C:", "C:..dot", "C:end", "C:.",
		"S:250 2.0.0 queued as X" }, .open_ok = true,
	  .verdict = SMTP_OK, .tx_code = 250, .tx_text = "queued as X", .rcpt_code = { 250, 550 } },
	{ "DSN and 8BITMIME parameters", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "x\r\n", { "a@x" }, true, "SUCCESS,FAILURE", "HDRS", "id42", .script = { EHLO_PIPE,
		"C:MAIL FROM:<me@example.com> SIZE=3 BODY=8BITMIME RET=HDRS ENVID=id42",
		"C:RCPT TO:<a@x> NOTIFY=SUCCESS,FAILURE", "C:DATA", "S:250 ok", "S:250 ok",
		"S:354 go", "C:x", "C:.", "S:250 ok" }, .open_ok = true,
	  .verdict = SMTP_OK, .tx_code = 250, .tx_text = "ok", .rcpt_code = { 250 } },
	{ "no recipient accepted, DATA already sent", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "x\r\n", { "a@x", "b@x" }, .script = { EHLO_PIPE,
		"C:MAIL FROM:<me@example.com> SIZE=3", "C:RCPT TO:<a@x>", "C:RCPT TO:<b@x>",
		"C:DATA", "S:250 ok", "S:450 4.2.0 later", "S:550 5.1.1 unknown", "S:354 go",
		"C:.", "S:554 no valid recipients" }, .open_ok = true,
	  .verdict = SMTP_PERM, .tx_code = 550, .tx_text = "unknown", .rcpt_code = { 450, 550 } },
	{ "all recipients 4xx: temporary", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "x\r\n", { "a@x" }, .script = { EHLO_PIPE,
		"C:MAIL FROM:<me@example.com> SIZE=3", "C:RCPT TO:<a@x>", "C:DATA",
		"S:250 ok", "S:452 4.5.3 too many", "S:554 5.5.1 no valid recipients" },
	  .open_ok = true, .verdict = SMTP_TEMP, .tx_code = 452, .tx_text = "too many",
	  .rcpt_code = { 452 } },
	{ "MAIL refused, pipelined", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "x\r\n", { "a@x" }, .script = { EHLO_PIPE,
		"C:MAIL FROM:<me@example.com> SIZE=3", "C:RCPT TO:<a@x>", "C:DATA",
		"S:553 5.7.1 sender refused", "S:503 5.5.1 no MAIL", "S:503 5.5.1 no MAIL" },
	  .open_ok = true, .verdict = SMTP_PERM, .tx_code = 553, .tx_text = "sender refused",
	  .rcpt_code = { 0 } },
	{ "too large for SIZE: refused before MAIL", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "0123456789", { "a@x" }, .script = { GREET, "S:250-mx.example", "S:250 SIZE 5" },
	  .open_ok = true, .verdict = SMTP_PERM, .tx_code = 552,
	  .tx_text = "message size 10 exceeds the smarthost's limit of 5", .rcpt_code = { 0 } },
	{ "serial, missing final CRLF added", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "abc", { "a@x" }, .script = { EHLO_PLAIN,
		"C:MAIL FROM:<me@example.com> SIZE=3", "S:250 ok", "C:RCPT TO:<a@x>", "S:250 ok",
		"C:DATA", "S:354 go", "C:abc", "C:.", "S:250 done" }, .open_ok = true,
	  .verdict = SMTP_OK, .tx_code = 250, .tx_text = "done", .rcpt_code = { 250 } },
	{ "serial, no recipient: no DATA", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "abc\r\n", { "a@x" }, .script = { EHLO_PLAIN,
		"C:MAIL FROM:<me@example.com> SIZE=5", "S:250 ok", "C:RCPT TO:<a@x>",
		"S:550 5.1.1 no" }, .open_ok = true,
	  .verdict = SMTP_PERM, .tx_code = 550, .tx_text = "no", .rcpt_code = { 550 } },
	{ "421 to MAIL: session lost", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "abc\r\n", { "a@x" }, .script = { EHLO_PLAIN,
		"C:MAIL FROM:<me@example.com> SIZE=5", "S:421 4.3.2 bye" }, .open_ok = true,
	  .verdict = SMTP_TEMP, .tx_code = 421, .tx_text = "bye", .rcpt_code = { 0 }, .lost = true },
	{ "end of data refused", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "abc\r\n", { "a@x" }, .script = { EHLO_PLAIN,
		"C:MAIL FROM:<me@example.com> SIZE=5", "S:250 ok", "C:RCPT TO:<a@x>", "S:250 ok",
		"C:DATA", "S:354 go", "C:abc", "C:.", "S:554 5.7.1 spam" }, .open_ok = true,
	  .verdict = SMTP_PERM, .tx_code = 554, .tx_text = "spam", .rcpt_code = { 250 } },
	{ "connection closed after DATA", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "abc\r\n", { "a@x" }, .script = { EHLO_PLAIN,
		"C:MAIL FROM:<me@example.com> SIZE=5", "S:250 ok", "C:RCPT TO:<a@x>", "S:250 ok",
		"C:DATA", "S:354 go", "C:abc", "C:.", "E:" }, .open_ok = true,
	  .verdict = SMTP_TEMP, .tx_code = 0, .tx_text = "lost connection", .rcpt_code = { 250 },
	  .lost = true },
	{ "CHUNKING: BDAT with the envelope, data raw", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  ".dot\r\nend", { "a@x", "b@x" }, .script = { GREET, "S:250-mx.example",
		"S:250-PIPELINING", "S:250 CHUNKING", "C:MAIL FROM:<me@example.com>",
		"C:RCPT TO:<a@x>", "C:RCPT TO:<b@x>", "C:BDAT 11 LAST", "C:.dot", "C:end",
		"S:250 ok", "S:250 ok", "S:550 5.1.1 unknown", "S:250 2.0.0 queued" },
	  .open_ok = true, .verdict = SMTP_OK, .tx_code = 250, .tx_text = "queued",
	  .rcpt_code = { 250, 550 } },
	{ "CHUNKING: no recipient accepted", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "x\r\n", { "a@x" }, .script = { GREET, "S:250-mx.example", "S:250-PIPELINING",
		"S:250 CHUNKING", "C:MAIL FROM:<me@example.com>", "C:RCPT TO:<a@x>",
		"C:BDAT 3 LAST", "C:x", "S:250 ok", "S:550 5.1.1 unknown",
		"S:554 5.5.1 no valid recipients" },
	  .open_ok = true, .verdict = SMTP_PERM, .tx_code = 550, .tx_text = "unknown",
	  .rcpt_code = { 550 } },
	{ "control character in an address", CONF_TLS_NONE, CONF_MECH_NONE, NULL, NULL,
	  "abc\r\n", { "a@x\r\nRSET" }, .script = { EHLO_PLAIN }, .open_ok = true,
	  .verdict = SMTP_PERM, .tx_code = 501, .tx_text = "control", .rcpt_code = { 0 } },
};

/* test_send - transactions against the scripted server */
static void test_send(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(send_cases); i++) {
		row_label("test_send: %s", send_cases[i].name);
		run_session(&send_cases[i]);
	}
	row_label_done();
}

/*
 * Two transactions pipelined one into the other (SMTP_THEN_PIPELINE): the script
 * proves the order, since the server answers the first end of data only
 * once it has read the second MAIL. Then smtp_finish decides the second.
 */
struct flush_case {
	const char *name;
	const char *script[SCRIPT_MAX];
	bool open1;			/* first left open by its smtp_send */
	enum smtp_verdict v1, v2;	/* verdicts once decided */
	int code1, code2;		/* their deciding reply codes */
	bool untried2;			/* the second never judged */
};

#define EHLO_CHUNK GREET, "S:250-mx.example", "S:250-PIPELINING", "S:250 CHUNKING"
#define ENV(n) "C:MAIL FROM:<me@example.com> SIZE=" n, "C:RCPT TO:<a@x>", "C:DATA"

static const struct flush_case flush_cases[] = {
	{ "DATA: next envelope behind the data", .script = { EHLO_PIPE,
		ENV("3"), "S:250 ok", "S:250 ok", "S:354 go",
		"C:x", "C:.", ENV("3"), "S:250 first", "S:250 ok", "S:250 ok", "S:354 go",
		"C:x", "C:.", "S:250 second" },
	  .open1 = true, .v1 = SMTP_OK, .v2 = SMTP_OK, .code1 = 250, .code2 = 250 },
	{ "DATA: 554 to the first, the next MAIL is fresh", .script = { EHLO_PIPE,
		ENV("3"), "S:250 ok", "S:250 ok", "S:354 go",
		"C:x", "C:.", ENV("3"), "S:554 5.7.1 spam", "S:250 ok", "S:250 ok", "S:354 go",
		"C:x", "C:.", "S:250 second" },
	  .open1 = true, .v1 = SMTP_PERM, .v2 = SMTP_OK, .code1 = 554, .code2 = 250 },
	{ "DATA: 421 to the first, the second untried", .script = { EHLO_PIPE,
		ENV("3"), "S:250 ok", "S:250 ok", "S:354 go",
		"C:x", "C:.", ENV("3"), "S:421 4.3.2 bye", "E:" },
	  .open1 = true, .v1 = SMTP_TEMP, .v2 = SMTP_TEMP, .code1 = 421, .code2 = 0,
	  .untried2 = true },
	{ "BDAT: next envelope and chunk behind the first", .script = { EHLO_CHUNK,
		"C:MAIL FROM:<me@example.com>", "C:RCPT TO:<a@x>", "C:BDAT 3 LAST", "C:x",
		"C:MAIL FROM:<me@example.com>", "C:RCPT TO:<a@x>", "C:BDAT 3 LAST", "C:x",
		"S:250 ok", "S:250 ok", "S:250 first", "S:250 ok", "S:250 ok", "S:250 second" },
	  .open1 = true, .v1 = SMTP_OK, .v2 = SMTP_OK, .code1 = 250, .code2 = 250 },
	{ "no PIPELINING: nothing held", .script = { EHLO_PLAIN,
		"C:MAIL FROM:<me@example.com> SIZE=3", "S:250 ok", "C:RCPT TO:<a@x>", "S:250 ok",
		"C:DATA", "S:354 go", "C:x", "C:.", "S:250 first",
		"C:MAIL FROM:<me@example.com> SIZE=3", "S:250 ok", "C:RCPT TO:<a@x>", "S:250 ok",
		"C:DATA", "S:354 go", "C:x", "C:.", "S:250 second" },
	  .v1 = SMTP_OK, .v2 = SMTP_OK, .code1 = 250, .code2 = 250 },
};

/* test_flush - transactions pipelined into each other, as a queue run sends them */
static void test_flush(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(flush_cases); i++) {
		row_label("test_flush: %s", flush_cases[i].name);
		const struct flush_case *c = &flush_cases[i];
		struct conf conf;
		struct smtp_reply why, rr1[1], rr2[1];
		const char *rcpt[] = { "a@x" };
		unsigned port;
		int status;
		memset(&conf, 0, sizeof conf);
		conf.smarthost.helo = "client.example";
		conf.smarthost.timeout = 5;
		print_message("flush: %s\n", c->name);
		pid_t pid = start_server(c->script, &port);
		struct smtp_params cfg = { .host = "127.0.0.1", .port = port,
					   .helo = conf.smarthost.helo, .timeout = conf.smarthost.timeout,
					   .tls = CONF_TLS_NONE, .mechanism = CONF_MECH_NONE };
		struct smtp_session *s = smtp_open(&cfg, &why);
		assert_non_null(s);
		struct smtp_result r1 = { .rcpt = rr1 }, r2 = { .rcpt = rr2 };
		struct smtp_message m1 = { .sender = "me@example.com", .rcpt = rcpt, .nrcpt = 1,
					   .size = 3, .data_fd = data_file("x\r\n"), .then = SMTP_THEN_PIPELINE };
		struct smtp_message m2 = m1;
		m2.data_fd = data_file("x\r\n");
		(void)smtp_send(s, &m1, &r1);
		row_label("test_flush: %s: the first %s", c->name, smtp_tx_state_name(r1.state));
		assert_int_equal(r1.state == SMTP_TX_OPEN, c->open1);
		enum smtp_verdict v2 = smtp_send(s, &m2, &r2);
		row_label("test_flush: %s: the first %s, the second %s", c->name,
			  smtp_tx_state_name(r1.state), smtp_tx_state_name(r2.state));
		assert_false(r1.state == SMTP_TX_OPEN);
		assert_int_equal(r1.verdict, c->v1);
		assert_int_equal(r1.tx.code, c->code1);
		assert_int_equal(r2.state == SMTP_TX_UNTRIED, c->untried2);
		if (r2.state == SMTP_TX_OPEN)
			v2 = smtp_finish(s);
		assert_false(r2.state == SMTP_TX_OPEN);
		assert_int_equal(v2, c->v2);
		assert_int_equal(r2.verdict, c->v2);
		assert_int_equal(r2.tx.code, c->code2);
		close(m1.data_fd);
		close(m2.data_fd);
		smtp_close(s);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	row_label_done();
}

/* test_transcript - -v shows the conversation with every secret redacted */
static void test_transcript(void **state)
{
	(void)state;
	static const struct {
		size_t open_case;
		const char *shown[3];
		const char *hidden[3];
	} cases[] = {
		{ 0, { "> AUTH LOGIN", "> <redacted>", "< 334 UGFzc3dvcmQ6" },
		  { "bXlhY2NvdW50", "bXlwYXNzd29yZA==", "mypassword" } },
		{ 3, { "> AUTH PLAIN <redacted>", "< 235 ok", "> EHLO client.example" },
		  { "AG15YWNjb3VudABteXBhc3N3b3Jk", "mypassword", "bXlwYXNzd29yZA" } },
		{ 2, { "> AUTH CRAM-MD5", "> <redacted>", "< 235 2.7.0 ok" },
		  { "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", "b913a602c7ed", "tanstaaf" } },
	};
	for (size_t i = 0; i < N(cases); i++) {
		row_label("test_transcript: cases[%zu]", i);
		char text[8192];
		FILE *f = tmpfile();
		assert_non_null(f);
		int saved = dup(2);
		assert_true(saved >= 0 && dup2(fileno(f), 2) == 2);
		log_init("test", true);
		run_session(&open_cases[cases[i].open_case]);
		log_init("test", false);
		assert_int_equal(dup2(saved, 2), 2);
		close(saved);
		rewind(f);
		size_t n = fread(text, 1, sizeof text - 1, f);
		text[n] = '\0';
		fclose(f);
		for (size_t k = 0; k < 3; k++) {
			assert_non_null(strstr(text, cases[i].shown[k]));
			assert_null(strstr(text, cases[i].hidden[k]));
		}
	}
	row_label_done();
}

/* test_xtext - RFC 3461 xtext: what goes as is and what becomes +XX */
static void test_xtext(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a=b+c", "a+3Db+2Bc" },
		{ "QQ314159", "QQ314159" },
		{ "", "" },
		{ "!~", "!~" },
		{ "a b", "a+20b" },
		{ "+", "+2B" },
		{ "==", "+3D+3D" },
		{ "\x7f\x01", "+7F+01" },
		{ "\xc3\xa9", "+C3+A9" },
		{ "<id@host>", "<id@host>" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_xtext: cases[%zu]", i);
		struct buf b;
		buf_init(&b, 64);
		assert_int_equal(smtp_xtext(&b, cases[i].in), 0);
		assert_string_equal(buf_cstr(&b), cases[i].out);
		buf_free(&b);
	}
	row_label_done();
	struct buf small;
	buf_init(&small, 4);
	assert_int_equal(smtp_xtext(&small, "=="), -1);	/* full: fails, never cuts */
	buf_free(&small);
}

/* main - run everything */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_reply_line, row_label_report),
		cmocka_unit_test_teardown(test_reply_line_len, row_label_report),
		cmocka_unit_test_teardown(test_enhanced, row_label_report),
		cmocka_unit_test_teardown(test_verdict, row_label_report),
		cmocka_unit_test_teardown(test_assembly, row_label_report),
		cmocka_unit_test_teardown(test_assembly_limits, row_label_report),
		cmocka_unit_test_teardown(test_stuff, row_label_report),
		cmocka_unit_test_teardown(test_xtext, row_label_report),
		cmocka_unit_test_teardown(test_open, row_label_report),
		cmocka_unit_test_teardown(test_send, row_label_report),
		cmocka_unit_test_teardown(test_flush, row_label_report),
		cmocka_unit_test_teardown(test_transcript, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
