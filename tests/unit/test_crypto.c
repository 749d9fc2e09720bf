/* test_crypto - base64, hex, HMAC, SHA-256, PBKDF2 against published vectors */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto.h"
#include "row_label.h"

#define X10(s) s s s s s s s s s s

/* unhex - test helper: hex text to bytes in out (size outlen); the byte count */
static size_t unhex(const char *hex, unsigned char *out, size_t outlen)
{
	size_t n = strlen(hex) / 2;
	assert_true(n <= outlen);
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + (size_t)j];
			v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
		}
		out[i] = (unsigned char)v;
	}
	return n;
}

/* to_hex - test helper: bytes to a NUL-terminated hex string via crypto_hex */
static void to_hex(const unsigned char *p, size_t n, struct buf *b)
{
	buf_reset(b);
	assert_int_equal(crypto_hex(p, n, b), 0);
}

static const struct {
	const char *plain;
	size_t len;
	const char *encoded;
} b64_cases[] = {
	/* RFC 4648 section 10 */
	{"", 0, ""},
	{"f", 1, "Zg=="},
	{"fo", 2, "Zm8="},
	{"foo", 3, "Zm9v"},
	{"foob", 4, "Zm9vYg=="},
	{"fooba", 5, "Zm9vYmE="},
	{"foobar", 6, "Zm9vYmFy"},
	/* the seed session's AUTH LOGIN answers */
	{"myaccount", 9, "bXlhY2NvdW50"},
	{"mypassword", 10, "bXlwYXNzd29yZA=="},
	/* AUTH PLAIN's NULs, high bytes, the whole alphabet's edges */
	{"\0user\0pass", 10, "AHVzZXIAcGFzcw=="},
	{"\xff\xfe\xfd", 3, "//79"},
	{"\xfb\xef\xbe", 3, "++++"},
	{"\0\0\0", 3, "AAAA"},
	{"<1896.697170952@postoffice.reston.mci.net>", 42,
	 "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"},
};

/* test_base64_encode - every vector encodes to its published form */
static void test_base64_encode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof b64_cases / sizeof b64_cases[0]; i++) {
		row_label("test_base64_encode: b64_cases[%zu]", i);
		struct buf out;
		buf_init(&out, 1024);
		assert_int_equal(crypto_base64_encode(b64_cases[i].plain, b64_cases[i].len, &out), 0);
		assert_string_equal(buf_cstr(&out), b64_cases[i].encoded);
		buf_free(&out);
	}
	row_label_done();
}

/* test_base64_decode - every vector decodes to the exact bytes and length */
static void test_base64_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof b64_cases / sizeof b64_cases[0]; i++) {
		row_label("test_base64_decode: b64_cases[%zu]", i);
		struct buf out;
		buf_init(&out, 1024);
		const char *e = b64_cases[i].encoded;
		assert_int_equal(crypto_base64_decode(e, strlen(e), &out), 0);
		assert_int_equal(out.len, b64_cases[i].len);
		if (out.len > 0)
			assert_memory_equal(out.data, b64_cases[i].plain, out.len);
		buf_free(&out);
	}
	row_label_done();
}

static const struct {
	const char *in;
	size_t len;
} b64_bad[] = {
	{"Zg=", 3},		/* length not a multiple of 4 */
	{"Zg", 2},		/* padding missing */
	{"Zm9vY", 5},
	{"Z===", 4},		/* three pad characters */
	{"====", 4},
	{"Zh==", 4},		/* non-zero bits under the padding */
	{"Zm9=", 4},
	{"Zg==Zg==", 8},	/* padding in the middle */
	{"Zm=v", 4},
	{"Zm9vYg=A", 8},
	{"Zm 9v", 5},		/* white space anywhere */
	{"Zm9v\n", 5},
	{" Zm9v", 5},
	{"Zm9v\r\n", 6},
	{"Zm\tv", 4},
	{"Zm-_", 4},		/* the URL-safe alphabet */
	{"Zm9v!AAA", 8},	/* other characters */
	{"Zm\0v", 4},		/* an embedded NUL */
	{"Zm9\x80", 4},
};

/* test_base64_malformed - rejected, and the output buffer left untouched */
static void test_base64_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof b64_bad / sizeof b64_bad[0]; i++) {
		row_label("test_base64_malformed: b64_bad[%zu]", i);
		struct buf out;
		buf_init(&out, 1024);
		assert_int_equal(buf_puts(&out, "keep"), 0);
		if (crypto_base64_decode(b64_bad[i].in, b64_bad[i].len, &out) != -1)
			fail_msg("accepted malformed base64 case %zu", i);
		assert_string_equal(buf_cstr(&out), "keep");
		buf_free(&out);
	}
	row_label_done();
}

/* test_base64_limits - a result beyond the buffer's maximum fails whole */
static void test_base64_limits(void **state)
{
	(void)state;
	struct buf out;
	buf_init(&out, 7);
	assert_int_equal(crypto_base64_encode("foobar", 6, &out), -1);
	assert_int_equal(out.len, 0);
	assert_int_equal(crypto_base64_encode("fooba", 5, &out), -1);
	assert_int_equal(crypto_base64_encode("foob", 4, &out), -1);
	assert_int_equal(crypto_base64_encode("foo", 3, &out), 0);
	assert_string_equal(buf_cstr(&out), "Zm9v");
	buf_reset(&out);
	buf_free(&out);
	buf_init(&out, 5);
	assert_int_equal(crypto_base64_decode("Zm9vYmFy", 8, &out), -1);
	assert_int_equal(out.len, 0);
	assert_int_equal(crypto_base64_decode("Zm9vYmE=", 8, &out), 0);
	assert_string_equal(buf_cstr(&out), "fooba");
	buf_free(&out);
}

/* test_base64_long - a round trip longer than one internal chunk */
static void test_base64_long(void **state)
{
	(void)state;
	unsigned char in[5000];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (size_t n = 4990; n <= sizeof in; n++) {
		struct buf enc, dec;
		buf_init(&enc, 8000);
		buf_init(&dec, 8000);
		assert_int_equal(crypto_base64_encode(in, n, &enc), 0);
		assert_int_equal(enc.len, (n + 2) / 3 * 4);
		assert_int_equal(crypto_base64_decode(enc.data, enc.len, &dec), 0);
		assert_int_equal(dec.len, n);
		assert_memory_equal(dec.data, in, n);
		buf_free(&enc);
		buf_free(&dec);
	}
}

static const struct {
	const char *in;
	size_t len;
	const char *hex;
} hex_cases[] = {
	{"", 0, ""},
	{"\x00", 1, "00"},
	{"\xff", 1, "ff"},
	{"\x01\x23\x45\x67\x89\xab\xcd\xef", 8, "0123456789abcdef"},
	{"abc", 3, "616263"},
};

/* test_hex - lower-case, two digits a byte */
static void test_hex(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof hex_cases / sizeof hex_cases[0]; i++) {
		row_label("test_hex: hex_cases[%zu]", i);
		struct buf out;
		buf_init(&out, 64);
		to_hex((const unsigned char *)hex_cases[i].in, hex_cases[i].len, &out);
		assert_string_equal(buf_cstr(&out), hex_cases[i].hex);
		buf_free(&out);
	}
	row_label_done();
	struct buf small;
	buf_init(&small, 3);
	assert_int_equal(crypto_hex("ab", 2, &small), -1);
	assert_int_equal(small.len, 0);
	buf_free(&small);
}

static const struct {
	const char *digest;
	const char *key_hex;
	const char *msg;
	const char *msg_hex;	/* used when msg is NULL */
	const char *mac;
} hmac_cases[] = {
	/* RFC 2202 section 2, HMAC-MD5 test cases 1-7 */
	{"md5", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", NULL,
	 "9294727a3638bb1c13f48ef8158bfc9d"},
	{"md5", "4a656665", "what do ya want for nothing?", NULL,
	 "750c783e6ab0b503eaa86e310a5db738"},
	{"md5", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, X10("dddddddddd"),
	 "56be34521d144c88dbb8c733f0e8b3f6"},
	{"md5", "0102030405060708090a0b0c0d0e0f10111213141516171819", NULL, X10("cdcdcdcdcd"),
	 "697eaf0aca3a3aea3a75164746ffaa79"},
	{"md5", "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "Test With Truncation", NULL,
	 "56461ef2342edc00f9bab995690efd4c"},
	{"md5", X10("aaaaaaaaaaaaaaaa"), "Test Using Larger Than Block-Size Key - Hash Key First",
	 NULL, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
	{"md5", X10("aaaaaaaaaaaaaaaa"),
	 "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data", NULL,
	 "6f630fad67cda0ee1fb1f562db3aa53e"},
	/* RFC 2195 section 2: the CRAM-MD5 example */
	{"md5", "74616e737461616674616e7374616166",
	 "<1896.697170952@postoffice.reston.mci.net>", NULL,
	 "b913a602c7eda7a495b4e6e7334d3890"},
	/* RFC 4231 test cases 1 and 2, HMAC-SHA-256 */
	{"sha256", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", NULL,
	 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{"sha256", "4a656665", "what do ya want for nothing?", NULL,
	 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	/* RFC 2202 section 3, HMAC-SHA-1 test case 2 */
	{"sha1", "4a656665", "what do ya want for nothing?", NULL,
	 "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
};

/* test_hmac - published HMAC vectors, CRAM-MD5 included */
static void test_hmac(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof hmac_cases / sizeof hmac_cases[0]; i++) {
		row_label("test_hmac: hmac_cases[%zu]", i);
		unsigned char key[128], msg[128], mac[CRYPTO_HMAC_MAX];
		size_t keylen = unhex(hmac_cases[i].key_hex, key, sizeof key);
		size_t msglen;
		if (hmac_cases[i].msg != NULL) {
			msglen = strlen(hmac_cases[i].msg);
			memcpy(msg, hmac_cases[i].msg, msglen);
		} else {
			msglen = unhex(hmac_cases[i].msg_hex, msg, sizeof msg);
		}
		size_t maclen = 0;
		assert_int_equal(crypto_hmac(hmac_cases[i].digest, key, keylen, msg, msglen,
					     mac, &maclen), 0);
		struct buf out;
		buf_init(&out, 128);
		to_hex(mac, maclen, &out);
		assert_string_equal(buf_cstr(&out), hmac_cases[i].mac);
		buf_free(&out);
	}
	row_label_done();
	unsigned char mac[CRYPTO_HMAC_MAX];
	size_t maclen = 0;
	assert_int_equal(crypto_hmac("md4", "k", 1, "m", 1, mac, &maclen), -1);
	assert_int_equal(crypto_hmac("", "k", 1, "m", 1, mac, &maclen), -1);
}

/* test_cram_md5_answer - the RFC 2195 client answer, built from the primitives */
static void test_cram_md5_answer(void **state)
{
	(void)state;
	const char *challenge_b64 = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
	struct buf challenge, answer, enc;
	unsigned char mac[CRYPTO_HMAC_MAX];
	size_t maclen = 0;

	buf_init(&challenge, 512);
	buf_init(&answer, 512);
	buf_init(&enc, 512);
	assert_int_equal(crypto_base64_decode(challenge_b64, strlen(challenge_b64), &challenge), 0);
	assert_int_equal(crypto_hmac("md5", "tanstaaftanstaaf", 16, challenge.data, challenge.len,
				     mac, &maclen), 0);
	assert_int_equal(buf_puts(&answer, "tim "), 0);
	assert_int_equal(crypto_hex(mac, maclen, &answer), 0);
	assert_string_equal(buf_cstr(&answer), "tim b913a602c7eda7a495b4e6e7334d3890");
	assert_int_equal(crypto_base64_encode(answer.data, answer.len, &enc), 0);
	assert_string_equal(buf_cstr(&enc), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
	buf_free(&challenge);
	buf_free(&answer);
	buf_free(&enc);
}

static const struct {
	const char *in;
	const char *digest;
} sha_cases[] = {
	/* FIPS 180-2 appendix B */
	{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
};

/* test_sha256 - FIPS vectors */
static void test_sha256(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof sha_cases / sizeof sha_cases[0]; i++) {
		row_label("test_sha256: sha_cases[%zu]", i);
		unsigned char d[32];
		struct buf out;
		buf_init(&out, 128);
		assert_int_equal(crypto_sha256(sha_cases[i].in, strlen(sha_cases[i].in), d), 0);
		to_hex(d, sizeof d, &out);
		assert_string_equal(buf_cstr(&out), sha_cases[i].digest);
		buf_free(&out);
	}
	row_label_done();
}

static const struct {
	const char *pw;
	const char *salt;
	unsigned iterations;
	size_t outlen;
	const char *dk;
} pbkdf2_cases[] = {
	{"password", "salt", 1, 32,
	 "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
	{"password", "salt", 2, 32,
	 "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"},
	{"password", "salt", 4096, 32,
	 "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
	{"passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 40,
	 "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"},
	/* RFC 7914 section 11 */
	{"passwd", "salt", 1, 64,
	 "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	 "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"},
};

/* test_pbkdf2 - PBKDF2-HMAC-SHA-256 known answers, and bad arguments */
static void test_pbkdf2(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof pbkdf2_cases / sizeof pbkdf2_cases[0]; i++) {
		row_label("test_pbkdf2: pbkdf2_cases[%zu]", i);
		unsigned char dk[64];
		struct buf out;
		buf_init(&out, 256);
		assert_int_equal(crypto_pbkdf2_sha256(pbkdf2_cases[i].pw, strlen(pbkdf2_cases[i].pw),
						      pbkdf2_cases[i].salt,
						      strlen(pbkdf2_cases[i].salt),
						      pbkdf2_cases[i].iterations, dk,
						      pbkdf2_cases[i].outlen), 0);
		to_hex(dk, pbkdf2_cases[i].outlen, &out);
		assert_string_equal(buf_cstr(&out), pbkdf2_cases[i].dk);
		buf_free(&out);
	}
	row_label_done();
	unsigned char dk[32];
	assert_int_equal(crypto_pbkdf2_sha256("p", 1, "s", 1, 0, dk, sizeof dk), -1);
	assert_int_equal(crypto_pbkdf2_sha256("p", 1, "s", 1, 1, dk, 0), -1);
}

/* test_random - fills the buffer, and two draws differ */
static void test_random(void **state)
{
	(void)state;
	unsigned char a[32], b[32], zero[32] = {0};
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	assert_int_equal(crypto_random(a, sizeof a), 0);
	assert_int_equal(crypto_random(b, sizeof b), 0);
	assert_memory_not_equal(a, b, sizeof a);
	assert_memory_not_equal(a, zero, sizeof a);
	assert_int_equal(crypto_random(a, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_base64_encode, row_label_report),
		cmocka_unit_test_teardown(test_base64_decode, row_label_report),
		cmocka_unit_test_teardown(test_base64_malformed, row_label_report),
		cmocka_unit_test_teardown(test_base64_limits, row_label_report),
		cmocka_unit_test_teardown(test_base64_long, row_label_report),
		cmocka_unit_test_teardown(test_hex, row_label_report),
		cmocka_unit_test_teardown(test_hmac, row_label_report),
		cmocka_unit_test_teardown(test_cram_md5_answer, row_label_report),
		cmocka_unit_test_teardown(test_sha256, row_label_report),
		cmocka_unit_test_teardown(test_pbkdf2, row_label_report),
		cmocka_unit_test_teardown(test_random, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
