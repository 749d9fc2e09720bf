/* test_oauth2 - the token endpoint's JSON reply, the cache file format, expiry */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oauth2.h"
#include "oauth2_lib.h"
#include "row_label.h"

static const struct {
	const char *json;
	int result;
	const char *token;	/* when result is 0 */
	long expires_in;	/* when result is 0 */
	const char *err;	/* a part of the reason, when result is -1 */
} replies[] = {
	{ "{\"access_token\":\"ya29.abc\",\"expires_in\":3599,\"token_type\":\"Bearer\"}",
	  0, "ya29.abc", 3599, NULL },
	{ "{\"access_token\":\"tok\",\"token_type\":\"bearer\"}", 0, "tok", 3600, NULL },
	{ "{\"access_token\":\"tok\",\"expires_in\":\"120\"}", 0, "tok", 120, NULL },
	{ "{\"access_token\":\"tok\",\"expires_in\":0}", 0, "tok", 0, NULL },
	{ "{\"access_token\":\"t\",\"expires_in\":10,\"refresh_token\":\"new\",\"scope\":\"x\"}",
	  0, "t", 10, NULL },
	{ " {\"access_token\":\"tok\",\"expires_in\":null} ", 0, "tok", 3600, NULL },
	{ "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been expired or revoked.\"}",
	  -1, NULL, 0, "invalid_grant: Token has been expired or revoked." },
	{ "{\"error\":\"invalid_client\"}", -1, NULL, 0, "OAuth2 token endpoint: invalid_client" },
	{ "{\"error\":\"x\",\"error_description\":\"line\\nbreak\"}", -1, NULL, 0, "x: line?break" },
	{ "{\"access_token\":\"tok\",\"token_type\":\"MAC\"}", -1, NULL, 0, "not Bearer" },
	{ "{\"access_token\":\"tok\",\"expires_in\":-5}", -1, NULL, 0, "malformed expires_in" },
	{ "{\"access_token\":\"tok\",\"expires_in\":\"12x\"}", -1, NULL, 0, "malformed expires_in" },
	{ "{\"access_token\":\"tok\",\"expires_in\":1.5e3}", -1, NULL, 0, "malformed expires_in" },
	{ "{\"access_token\":\"\"}", -1, NULL, 0, "no usable access_token" },
	{ "{\"access_token\":\"a b\"}", -1, NULL, 0, "no usable access_token" },
	{ "{\"access_token\":\"a\\r\\nQUIT\"}", -1, NULL, 0, "no usable access_token" },
	{ "{\"access_token\":42}", -1, NULL, 0, "no usable access_token" },
	{ "{\"expires_in\":3600}", -1, NULL, 0, "no usable access_token" },
	{ "[\"access_token\"]", -1, NULL, 0, "not a JSON object" },
	{ "{\"access_token\":\"tok\"", -1, NULL, 0, "not a JSON object" },
	{ "<html>502 Bad Gateway</html>", -1, NULL, 0, "not a JSON object" },
	{ "", -1, NULL, 0, "not a JSON object" },
};

/* test_reply_parse - each reply: the token and lifetime, or the reason */
static void test_reply_parse(void **state)
{
	struct oauth2_lib lib;
	char lerr[256] = "";
	(void)state;
	if (oauth2_lib_open(&lib, lerr, sizeof lerr) < 0)
		fail_msg("%s", lerr);
	for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
		row_label("test_reply_parse: replies[%zu]", i);
		struct buf tok;
		char err[512] = "";
		long exp = -1;
		buf_init(&tok, OAUTH2_TOKEN_MAX);
		int r = oauth2_reply_parse(&lib, replies[i].json, strlen(replies[i].json), &tok, &exp,
					   err, sizeof err);
		if (r != replies[i].result)
			fail_msg("reply %zu: result %d, reason %s", i, r, err);
		if (r == 0) {
			assert_string_equal(buf_cstr(&tok), replies[i].token);
			assert_int_equal(exp, replies[i].expires_in);
		} else {
			if (strstr(err, replies[i].err) == NULL)
				fail_msg("reply %zu: reason \"%s\" lacks \"%s\"", i, err, replies[i].err);
			assert_int_equal(tok.len, 0);
			assert_null(strchr(err, '\n'));
		}
		buf_free(&tok);
	}
	row_label_done();
	oauth2_lib_close(&lib);
}

static const struct {
	const char *data;
	int result;
	const char *token;
	time_t expiry;
} caches[] = {
	{ "relaymail-oauth2 1\n1700000000\nya29.abc\n", 0, "ya29.abc", 1700000000 },
	{ "relaymail-oauth2 1\n1\nt\n", 0, "t", 1 },
	{ "relaymail-oauth2 1\n1700000000\nya29.abc", -1, NULL, 0 },		/* no final LF */
	{ "relaymail-oauth2 1\n1700000000\nya29.abc\nmore\n", -1, NULL, 0 },
	{ "relaymail-oauth2 1\n\nya29.abc\n", -1, NULL, 0 },
	{ "relaymail-oauth2 1\n0\nya29.abc\n", -1, NULL, 0 },
	{ "relaymail-oauth2 1\n-5\nya29.abc\n", -1, NULL, 0 },
	{ "relaymail-oauth2 1\n12x\nya29.abc\n", -1, NULL, 0 },
	{ "relaymail-oauth2 1\n99999999999999999999999\nt\n", -1, NULL, 0 },
	{ "relaymail-oauth2 1\n1700000000\n\n", -1, NULL, 0 },
	{ "relaymail-oauth2 1\n1700000000\na b\n", -1, NULL, 0 },
	{ "relaymail-oauth2 2\n1700000000\nya29.abc\n", -1, NULL, 0 },
	{ "", -1, NULL, 0 },
};

/* test_cache_parse - each cache file content: token and expiry, or refused */
static void test_cache_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof caches / sizeof caches[0]; i++) {
		row_label("test_cache_parse: caches[%zu]", i);
		struct buf tok;
		time_t expiry = 0;
		buf_init(&tok, OAUTH2_TOKEN_MAX);
		int r = oauth2_cache_parse(caches[i].data, strlen(caches[i].data), &tok, &expiry);
		if (r != caches[i].result)
			fail_msg("cache %zu: result %d", i, r);
		if (r == 0) {
			assert_string_equal(buf_cstr(&tok), caches[i].token);
			assert_int_equal(expiry, caches[i].expiry);
		}
		buf_free(&tok);
	}
	row_label_done();
}

/* test_cache_round_trip - what oauth2_cache_format writes parses back */
static void test_cache_round_trip(void **state)
{
	(void)state;
	static const struct {
		const char *token;
		time_t expiry;
		int result;
	} cases[] = {
		{ "ya29.a0AfH6SMB-_~+/=", 1800000000, 0 },
		{ "x", 1, 0 },
		{ "", 1800000000, -1 },
		{ "a\nb", 1800000000, -1 },
		{ "tok", 0, -1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_cache_round_trip: cases[%zu]", i);
		struct buf out, tok;
		time_t expiry = 0;
		buf_init(&out, OAUTH2_TOKEN_MAX + 128);
		buf_init(&tok, OAUTH2_TOKEN_MAX);
		int r = oauth2_cache_format(cases[i].token, cases[i].expiry, &out);
		if (r != cases[i].result)
			fail_msg("format %zu: result %d", i, r);
		if (r == 0) {
			assert_int_equal(oauth2_cache_parse(out.data, out.len, &tok, &expiry), 0);
			assert_string_equal(buf_cstr(&tok), cases[i].token);
			assert_int_equal(expiry, cases[i].expiry);
		}
		buf_free(&out);
		buf_free(&tok);
	}
	row_label_done();
}

/* test_fresh - a token is retired OAUTH2_MARGIN seconds before it expires */
static void test_fresh(void **state)
{
	(void)state;
	static const struct {
		time_t expiry, now;
		bool fresh;
	} cases[] = {
		{ 1000, 0, true },
		{ 1000, 939, true },
		{ 1000, 940, false },
		{ 1000, 999, false },
		{ 1000, 1000, false },
		{ 1000, 5000, false },
		{ 59, 0, false },
		{ 61, 0, true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_fresh: cases[%zu]", i);
		if (oauth2_cache_fresh(cases[i].expiry, cases[i].now) != cases[i].fresh)
			fail_msg("fresh %zu: expected %d", i, cases[i].fresh);
	}
	row_label_done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_reply_parse, row_label_report),
		cmocka_unit_test_teardown(test_cache_parse, row_label_report),
		cmocka_unit_test_teardown(test_cache_round_trip, row_label_report),
		cmocka_unit_test_teardown(test_fresh, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
