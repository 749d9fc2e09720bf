/* test_secret - password, password_file and password_command */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "secret.h"
#include "row_label.h"

enum source { SRC_NONE, SRC_PASSWORD, SRC_FILE, SRC_MISSING_FILE, SRC_COMMAND, SRC_OAUTH2 };

struct secret_case {
	enum source source;
	const char *value;	/* password, file content or command */
	int result;
	const char *expected;	/* the secret (result 0) or part of the error */
	const char *hidden;	/* NULL, or text that must not be in the error */
};

static const struct secret_case cases[] = {
	{ SRC_NONE, NULL, 1, "", NULL },
	{ SRC_PASSWORD, "mypassword", 0, "mypassword", NULL },
	{ SRC_PASSWORD, " spaces kept ", 0, " spaces kept ", NULL },
	{ SRC_FILE, "s3cret\n", 0, "s3cret", NULL },
	{ SRC_FILE, "s3cret\r\nsecond line\n", 0, "s3cret", NULL },
	{ SRC_FILE, "no newline", 0, "no newline", NULL },
	{ SRC_FILE, " tab\tand space \n", 0, " tab\tand space ", NULL },
	{ SRC_FILE, "", -1, "is empty", NULL },
	{ SRC_FILE, "\nhunter2\n", -1, "the first line is empty", "hunter2" },
	{ SRC_FILE, "\r\nhunter2\n", -1, "the first line is empty", "hunter2" },
	{ SRC_MISSING_FILE, NULL, -1, ": cannot read: No such file or directory", NULL },
	{ SRC_COMMAND, "printf 'tok3n\\nsecond\\n'", 0, "tok3n", NULL },
	{ SRC_COMMAND, "printf 'tok3n\\r\\n'", 0, "tok3n", NULL },
	{ SRC_COMMAND, "printf 'no-newline'", 0, "no-newline", NULL },
	{ SRC_COMMAND, "echo hidden-to-stderr >&2; echo ok", 0, "ok", NULL },
	{ SRC_COMMAND, "exit 3", -1, "[auth] password_command: exited with status 3", NULL },
	{ SRC_COMMAND, "echo hunter2; exit 2", -1, "exited with status 2", "hunter2" },
	{ SRC_COMMAND, "true", -1, "[auth] password_command: printed nothing", NULL },
	{ SRC_COMMAND, "cat", -1, "printed nothing", NULL },	/* stdin is /dev/null */
	{ SRC_COMMAND, "echo; echo hunter2", -1, "the first line is empty", "hunter2" },
	{ SRC_COMMAND, "kill -9 $$", -1, "killed by signal 9", NULL },
	{ SRC_COMMAND, "head -c 70000 /dev/zero | tr '\\000' a", -1,
	  "printed more than 64 KiB", NULL },
	{ SRC_COMMAND, "/nonexistent/helper", -1, "exited with status 127", NULL },
	{ SRC_OAUTH2, NULL, -1, "built-in OAuth2 token exchange is not implemented "
	  "yet; use password_command", NULL },
};

/* fill - a conf naming the case's secret; file names the temporary file */
static void fill(const struct secret_case *t, struct conf *c, char *file, size_t len)
{
	memset(c, 0, sizeof *c);
	file[0] = '\0';
	if (t->source == SRC_NONE)
		return;
	c->auth.user = "myaccount";
	switch (t->source) {
	case SRC_PASSWORD:
		c->auth.password = (char *)t->value;
		break;
	case SRC_FILE: {
		int n = snprintf(file, len, "/tmp/test_secret.XXXXXX");
		assert_true(n > 0 && (size_t)n < len);
		int fd = mkstemp(file);
		assert_true(fd >= 0);
		size_t want = strlen(t->value);
		assert_int_equal(write(fd, t->value, want), (ssize_t)want);
		assert_int_equal(close(fd), 0);
		c->auth.password_file = file;
		break;
	}
	case SRC_MISSING_FILE:
		c->auth.password_file = "/nonexistent/relaymail.secret";
		break;
	case SRC_COMMAND:
		c->auth.password_command = (char *)t->value;
		break;
	case SRC_OAUTH2:
		c->auth.mechanism = CONF_MECH_XOAUTH2;
		c->auth.oauth2_token_url = "https://example.com/token";
		c->auth.oauth2_client_id = "id";
		c->auth.oauth2_refresh_token = "refresh";
		break;
	case SRC_NONE:
		break;
	}
}

/* test_fetch - every case of the table */
static void test_fetch(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_fetch: cases[%zu]", i);
		const struct secret_case *t = &cases[i];
		struct conf c;
		struct buf out;
		char err[512] = "", file[64];
		fill(t, &c, file, sizeof file);
		buf_init(&out, 4096);
		int r = secret_fetch(&c, &out, err, sizeof err);
		if (file[0] != '\0')
			unlink(file);
		if (r != t->result)
			fail_msg("case %zu: result %d (%s)", i, r, err);
		if (r == 0 && strcmp(buf_cstr(&out), t->expected) != 0)
			fail_msg("case %zu: secret \"%s\"", i, buf_cstr(&out));
		if (r == -1 && strstr(err, t->expected) == NULL)
			fail_msg("case %zu: error \"%s\"", i, err);
		if (r == -1 && t->source == SRC_FILE && strstr(err, file) == NULL)
			fail_msg("case %zu: error does not name the file: %s", i, err);
		if (t->hidden != NULL && strstr(err, t->hidden) != NULL)
			fail_msg("case %zu: error shows the secret: %s", i, err);
		if (r != 0)
			assert_int_equal(out.len, 0);
		assert_null(strchr(err, '\n'));
		buf_wipe(&out);
	}
	row_label_done();
}

/* test_too_long - a secret larger than the caller's buffer is refused */
static void test_too_long(void **state)
{
	(void)state;
	struct conf c;
	struct buf out;
	char err[512] = "";
	memset(&c, 0, sizeof c);
	c.auth.user = "u";
	c.auth.password = "0123456789";
	buf_init(&out, 4);
	assert_int_equal(secret_fetch(&c, &out, err, sizeof err), -1);
	assert_non_null(strstr(err, "too long"));
	assert_null(strstr(err, "0123"));
	c.auth.password = NULL;
	c.auth.password_command = "echo 0123456789";
	assert_int_equal(secret_fetch(&c, &out, err, sizeof err), -1);
	assert_non_null(strstr(err, "too long"));
	buf_wipe(&out);
}

/* test_pipe_held_open - a daemon started by the helper does not hold us */
static void test_pipe_held_open(void **state)
{
	(void)state;
	struct conf c;
	struct buf out;
	char err[512] = "";
	memset(&c, 0, sizeof c);
	c.auth.user = "u";
	c.auth.password_command = "sleep 5 2>/dev/null & echo tok3n";
	buf_init(&out, 4096);
	time_t start = time(NULL);
	assert_int_equal(secret_fetch(&c, &out, err, sizeof err), 0);
	assert_string_equal(buf_cstr(&out), "tok3n");
	assert_true(time(NULL) - start < 3);
	buf_wipe(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fetch, row_label_report),
		cmocka_unit_test_teardown(test_too_long, row_label_report),
		cmocka_unit_test_teardown(test_pipe_held_open, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
