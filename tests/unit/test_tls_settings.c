/*
 * test_tls_settings - the cipher lists of a configuration, which the TLS
 * module checks once conf_load has read the file (src/sendmail.c does the
 * same two steps): "PATH: [smarthost] KEY: problem", as conf_load's errors
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tls.h"

#define H "[smarthost]\nhost = smtp.example.com\n"

/* load_and_check - conf_load on a temporary file holding ini, then tls_check_settings */
static int load_and_check(const char *ini, char *err, size_t errlen, char *path, size_t pathlen)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int n = snprintf(path, pathlen, "%s/test_tls_settings.XXXXXX", dir);
	assert_true(n > 0 && (size_t)n < pathlen);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
	assert_int_equal(close(fd), 0);
	struct conf c;
	int r = conf_load(path, &c, err, errlen);
	unlink(path);
	if (r < 0)
		fail_msg("row \"%s\": conf_load: %s", ini, err);
	r = tls_check_settings(path, c.smarthost.tls_ciphers, c.smarthost.tls_ciphersuites,
			       err, errlen);
	conf_free(&c);
	return r;
}

struct bad_case {
	const char *ini;
	const char *error;	/* expected after "PATH: " */
};

/* test_bad - each refused list: one line naming the file and the key */
static void test_bad(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ H "tls_ciphers = NO-SUCH-CIPHER\n",
		  "[smarthost] tls_ciphers: \"NO-SUCH-CIPHER\" is not a cipher list OpenSSL accepts" },
		{ H "tls_ciphers = !ALL\n",
		  "[smarthost] tls_ciphers: \"!ALL\" is not a cipher list OpenSSL accepts" },
		{ H "tls_ciphersuites = TLS_NO_SUCH_SUITE\n",
		  "[smarthost] tls_ciphersuites: \"TLS_NO_SUCH_SUITE\" is not a TLS 1.3 cipher suite "
		  "list OpenSSL accepts" },
		{ H "tls_ciphersuites = ECDHE-RSA-AES128-GCM-SHA256\n",
		  "[smarthost] tls_ciphersuites: \"ECDHE-RSA-AES128-GCM-SHA256\" is not a TLS 1.3" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[512] = "", path[256], want[768];
		if (load_and_check(cases[i].ini, err, sizeof err, path, sizeof path) != -1)
			fail_msg("row \"%s\": accepted, expected \"%s\"", cases[i].ini, cases[i].error);
		int n = snprintf(want, sizeof want, "%s: %s", path, cases[i].error);
		assert_true(n > 0 && (size_t)n < sizeof want);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("row \"%s\":\n got  %s\n want %s", cases[i].ini, err, want);
		if (strchr(err, '\n') != NULL)
			fail_msg("row \"%s\": the error is more than one line", cases[i].ini);
	}
}

/* test_good - lists OpenSSL takes, and none set, pass */
static void test_good(void **state)
{
	(void)state;
	static const char *const cases[] = {
		H,
		H "tls_ciphers = HIGH:!aNULL:!MD5\n",
		H "tls_ciphersuites = TLS_AES_256_GCM_SHA384\n",
		H "tls_ciphers = ECDHE-RSA-AES256-GCM-SHA384\n"
		  "tls_ciphersuites = TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256\n",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[512] = "", path[256];
		if (load_and_check(cases[i], err, sizeof err, path, sizeof path) != 0)
			fail_msg("row \"%s\": %s", cases[i], err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_good),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
