/* test_auth - SASL mechanisms against their RFC examples, and auto selection */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "crypto.h"
#include "row_label.h"

/* b64 - base64 of a raw response, as a C string in out */
static void b64(const struct buf *raw, struct buf *out)
{
	buf_reset(out);
	assert_int_equal(crypto_base64_encode(raw->data, raw->len, out), 0);
}

/* run_steps - drive one mechanism through base64 challenges, compare each answer */
static void run_steps(enum conf_mech mech, const char *user, const char *secret,
		      const char *const *challenges, const char *const *expected, size_t n)
{
	struct auth_client c;
	struct buf raw, enc, chal;
	const struct auth_mech *m = auth_mech_by_conf(mech);
	assert_non_null(m);
	assert_int_equal(auth_client_init(&c, m, user, secret, "smtp.example.com", 587), 0);
	buf_init(&raw, 4096);
	buf_init(&enc, 8192);
	buf_init(&chal, 4096);
	for (size_t i = 0; i < n; i++) {
		buf_reset(&raw);
		buf_reset(&chal);
		if (challenges[i] == NULL) {
			assert_int_equal(auth_client_step(&c, NULL, 0, &raw), 0);
		} else {
			assert_int_equal(crypto_base64_decode(challenges[i], strlen(challenges[i]),
							      &chal), 0);
			assert_int_equal(auth_client_step(&c, (const unsigned char *)chal.data,
							  chal.len, &raw), 0);
		}
		b64(&raw, &enc);
		assert_string_equal(buf_cstr(&enc), expected[i]);
	}
	buf_wipe(&raw);
	buf_free(&enc);
	buf_free(&chal);
	auth_client_wipe(&c);
}

/* test_plain - initial response "\0myaccount\0mypassword" */
static void test_plain(void **state)
{
	(void)state;
	const char *ch[] = { NULL };
	const char *ex[] = { "AG15YWNjb3VudABteXBhc3N3b3Jk" };
	run_steps(CONF_MECH_PLAIN, "myaccount", "mypassword", ch, ex, 1);
}

/* test_login_seed - the seed's session: Username:/Password: prompts */
static void test_login_seed(void **state)
{
	(void)state;
	const char *ch[] = { "VXNlcm5hbWU6", "UGFzc3dvcmQ6" };
	const char *ex[] = { "bXlhY2NvdW50", "bXlwYXNzd29yZA==" };
	run_steps(CONF_MECH_LOGIN, "myaccount", "mypassword", ch, ex, 2);
}

/* test_cram_md5 - RFC 2195 section 2 example */
static void test_cram_md5(void **state)
{
	(void)state;
	const char *ch[] = { "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+" };
	const char *ex[] = { "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw" };
	run_steps(CONF_MECH_CRAM_MD5, "tim", "tanstaaftanstaaf", ch, ex, 1);
}

/* test_xoauth2 - Google's documented example, then the empty answer to an error */
static void test_xoauth2(void **state)
{
	(void)state;
	const char *ch[] = { NULL, "eyJzdGF0dXMiOiI0MDEifQ==" };
	const char *ex[] = {
		"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNS"
		"bGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==",
		"" };
	run_steps(CONF_MECH_XOAUTH2, "someuser@example.com",
		  "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", ch, ex, 2);
}

/* test_oauthbearer - RFC 7628 gs2 header, host, port, token; error gets %x01 */
static void test_oauthbearer(void **state)
{
	(void)state;
	struct auth_client c;
	struct buf out;
	const char want[] = "n,a=u=2Cx@example.com,\001host=smtp.example.com\001port=587"
			    "\001auth=Bearer tok\001\001";
	buf_init(&out, 1024);
	assert_int_equal(auth_client_init(&c, auth_mech_by_conf(CONF_MECH_OAUTHBEARER),
					  "u,x@example.com", "tok", "smtp.example.com", 587), 0);
	assert_int_equal(auth_client_step(&c, NULL, 0, &out), 0);
	assert_int_equal(out.len, sizeof want - 1);
	assert_memory_equal(out.data, want, sizeof want - 1);
	buf_reset(&out);
	assert_int_equal(auth_client_step(&c, (const unsigned char *)"{}", 2, &out), 0);
	assert_int_equal(out.len, 1);
	assert_int_equal(out.data[0], 1);
	auth_client_wipe(&c);
	buf_free(&out);
}

#define RFC7677_NONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC7677_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC7677_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* scram_start - an exchange with the RFC 7677 nonce, client-first checked */
static void scram_start(struct auth_client *c, struct buf *out)
{
	assert_int_equal(auth_client_init(c, auth_mech_by_conf(CONF_MECH_SCRAM_SHA_256), "user",
					  "pencil", NULL, 0), 0);
	memset(c->nonce, 0, sizeof c->nonce);
	memcpy(c->nonce, RFC7677_NONCE, strlen(RFC7677_NONCE));
	assert_int_equal(auth_client_step(c, NULL, 0, out), 0);
	assert_string_equal(buf_cstr(out), "n,,n=user,r=" RFC7677_NONCE);
	buf_reset(out);
}

/* test_scram_rfc7677 - the RFC's whole exchange, server signature checked */
static void test_scram_rfc7677(void **state)
{
	(void)state;
	struct auth_client c;
	struct buf out;
	buf_init(&out, 4096);
	scram_start(&c, &out);
	assert_int_equal(auth_client_step(&c, (const unsigned char *)RFC7677_FIRST,
					  strlen(RFC7677_FIRST), &out), 0);
	assert_string_equal(buf_cstr(&out),
			    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	buf_reset(&out);
	assert_false(c.verified);
	assert_int_equal(auth_client_success(&c, "", 0), -1);
	assert_int_equal(auth_client_step(&c, (const unsigned char *)RFC7677_FINAL,
					  strlen(RFC7677_FINAL), &out), 0);
	assert_int_equal(out.len, 0);
	assert_true(c.verified);
	assert_int_equal(auth_client_success(&c, "", 0), 0);
	auth_client_wipe(&c);
	buf_free(&out);
}

/* test_scram_failures - bad server messages are refused, not trusted */
static void test_scram_failures(void **state)
{
	(void)state;
	static const struct {
		const char *first;	/* server-first */
		const char *final;	/* server-final, or NULL when first must fail */
		int final_rc;
	} cases[] = {
		{ "r=OTHERNONCE,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", NULL, 0 },
		{ "r=" RFC7677_NONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", NULL, 0 },
		{ "r=" RFC7677_NONCE "x,s=!!!!,i=4096", NULL, 0 },
		{ "r=" RFC7677_NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", NULL, 0 },
		{ "r=" RFC7677_NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999", NULL, 0 },
		{ "r=" RFC7677_NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==", NULL, 0 },
		{ "m=ext,r=" RFC7677_NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", NULL, 0 },
		{ RFC7677_FIRST, RFC7677_FINAL, 0 },
		{ RFC7677_FIRST, "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", -1 },
		{ RFC7677_FIRST, "e=invalid-proof", -1 },
		{ RFC7677_FIRST, "v=short", -1 },
		{ RFC7677_FIRST, "x=1", -1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_scram_failures: cases[%zu]", i);
		struct auth_client c;
		struct buf out;
		buf_init(&out, 4096);
		scram_start(&c, &out);
		int rc = auth_client_step(&c, (const unsigned char *)cases[i].first,
					  strlen(cases[i].first), &out);
		if (cases[i].final == NULL) {
			assert_int_equal(rc, -1);
			assert_int_equal(out.len, 0);
		} else {
			assert_int_equal(rc, 0);
			buf_reset(&out);
			rc = auth_client_step(&c, (const unsigned char *)cases[i].final,
					      strlen(cases[i].final), &out);
			assert_int_equal(rc, cases[i].final_rc);
			assert_int_equal(c.verified, rc == 0);
		}
		auth_client_wipe(&c);
		buf_free(&out);
	}
	row_label_done();
}

/* test_scram_final_in_235 - server-final carried by the 235 itself */
static void test_scram_final_in_235(void **state)
{
	(void)state;
	struct auth_client c;
	struct buf out, enc;
	buf_init(&out, 4096);
	buf_init(&enc, 4096);
	scram_start(&c, &out);
	assert_int_equal(auth_client_step(&c, (const unsigned char *)RFC7677_FIRST,
					  strlen(RFC7677_FIRST), &out), 0);
	assert_int_equal(crypto_base64_encode(RFC7677_FINAL, strlen(RFC7677_FINAL), &enc), 0);
	assert_int_equal(auth_client_success(&c, enc.data, enc.len), 0);
	assert_true(c.verified);
	auth_client_wipe(&c);
	buf_free(&out);
	buf_free(&enc);
}

/* test_unexpected_rounds - extra challenges are errors */
static void test_unexpected_rounds(void **state)
{
	(void)state;
	static const struct {
		enum conf_mech mech;
		unsigned ok_rounds;	/* answers given before an error */
		bool initial;
	} cases[] = {
		{ CONF_MECH_PLAIN, 1, true },
		{ CONF_MECH_LOGIN, 2, false },
		{ CONF_MECH_CRAM_MD5, 1, false },
		{ CONF_MECH_XOAUTH2, 2, true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_unexpected_rounds: cases[%zu]", i);
		struct auth_client c;
		struct buf out;
		buf_init(&out, 4096);
		assert_int_equal(auth_client_init(&c, auth_mech_by_conf(cases[i].mech), "u", "s3cr3t",
						  NULL, 0), 0);
		if (!cases[i].initial)
			assert_int_equal(auth_client_step(&c, NULL, 0, &out), -1);
		for (unsigned r = 0; r < cases[i].ok_rounds; r++) {
			bool first = r == 0 && cases[i].initial;
			assert_int_equal(auth_client_step(&c, first ? NULL : (const unsigned char *)"x",
							  first ? 0 : 1, &out), 0);
		}
		assert_int_equal(auth_client_step(&c, (const unsigned char *)"x", 1, &out), -1);
		assert_true(strlen(c.error) > 0);
		assert_null(strstr(c.error, "s3cr3t"));	/* never the secret */
		auth_client_wipe(&c);
		buf_wipe(&out);
	}
	row_label_done();
}

#define B(m) (1u << CONF_MECH_##m)

/* test_parse_offer - names from "AUTH ..." lines, any case, unknown ignored */
static void test_parse_offer(void **state)
{
	(void)state;
	static const struct {
		const char *list;
		unsigned mask;
	} cases[] = {
		{ "LOGIN", B(LOGIN) },
		{ "LOGIN PLAIN CRAM-MD5", B(LOGIN) | B(PLAIN) | B(CRAM_MD5) },
		{ "plain  login", B(LOGIN) | B(PLAIN) },
		{ "GSSAPI NTLM DIGEST-MD5", 0 },
		{ "SCRAM-SHA-256 SCRAM-SHA-1 XOAUTH2 OAUTHBEARER",
		  B(SCRAM_SHA_256) | B(XOAUTH2) | B(OAUTHBEARER) },
		{ "", 0 },
		{ "PLAINX LOGI", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_parse_offer: cases[%zu]", i);
		assert_int_equal(auth_parse_offer(cases[i].list, strlen(cases[i].list)),
				 cases[i].mask);
	}
	row_label_done();
}

/* test_choose - offered set x TLS x configured -> chosen (or refused) */
static void test_choose(void **state)
{
	(void)state;
	static const struct {
		enum conf_mech wanted;
		unsigned offered;
		const char *chosen;	/* NULL: refused */
	} cases[] = {
		{ CONF_MECH_AUTO, B(LOGIN), "LOGIN" },
		{ CONF_MECH_AUTO, B(LOGIN) | B(PLAIN), "PLAIN" },
		{ CONF_MECH_AUTO, B(LOGIN) | B(PLAIN) | B(CRAM_MD5), "PLAIN" },
		{ CONF_MECH_AUTO, B(LOGIN) | B(CRAM_MD5), "CRAM-MD5" },
		{ CONF_MECH_AUTO, B(CRAM_MD5) | B(SCRAM_SHA_256), "SCRAM-SHA-256" },
		{ CONF_MECH_AUTO, B(PLAIN) | B(SCRAM_SHA_256), "SCRAM-SHA-256" },
		{ CONF_MECH_AUTO, B(XOAUTH2) | B(OAUTHBEARER), NULL },
		{ CONF_MECH_AUTO, B(XOAUTH2) | B(PLAIN), "PLAIN" },
		{ CONF_MECH_AUTO, 0, NULL },
		{ CONF_MECH_PLAIN, B(LOGIN) | B(PLAIN) | B(CRAM_MD5), "PLAIN" },
		{ CONF_MECH_LOGIN, B(PLAIN), NULL },
		{ CONF_MECH_CRAM_MD5, B(PLAIN) | B(LOGIN), NULL },
		{ CONF_MECH_XOAUTH2, B(XOAUTH2), "XOAUTH2" },
		{ CONF_MECH_OAUTHBEARER, B(XOAUTH2), NULL },
		{ CONF_MECH_NONE, B(PLAIN), NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_choose: cases[%zu]", i);
		char err[160] = "";
		const struct auth_mech *m = auth_choose(cases[i].wanted, cases[i].offered, err,
							sizeof err);
		if (cases[i].chosen == NULL) {
			assert_null(m);
			assert_true(strlen(err) > 0);
		} else {
			assert_non_null(m);
			assert_string_equal(m->name, cases[i].chosen);
		}
	}
	row_label_done();
}

/* test_choose_errors - the refusal names the mechanism or the reason */
static void test_choose_errors(void **state)
{
	(void)state;
	char err[160];
	assert_null(auth_choose(CONF_MECH_CRAM_MD5, B(PLAIN), err, sizeof err));
	assert_string_equal(err, "smarthost does not offer AUTH CRAM-MD5");
	assert_null(auth_choose(CONF_MECH_AUTO, B(XOAUTH2), err, sizeof err));
	assert_string_equal(err, "smarthost offers no AUTH mechanism that relaymail supports");
}

/* a scripted server for auth_run: replies to give, lines and transcript kept */
#define WIRE_MAX 6

struct fake_wire {
	const int *codes;
	const char *const *texts;
	size_t nreplies, next;
	char sent[WIRE_MAX][512], shown[WIRE_MAX][512];
	size_t nsent;
};

/* fake_send - record the line and what the transcript would show */
static int fake_send(void *ctx, const char *line, size_t n, const char *shown)
{
	struct fake_wire *f = ctx;
	assert_true(f->nsent < WIRE_MAX && n < sizeof f->sent[0]);
	memcpy(f->sent[f->nsent], line, n);
	f->sent[f->nsent][n] = '\0';
	int r = snprintf(f->shown[f->nsent], sizeof f->shown[0], "%s",
			 shown != NULL ? shown : f->sent[f->nsent]);
	assert_true(r >= 0);
	f->nsent++;
	return 0;
}

/* fake_reply - the next scripted reply; -1 (connection lost) when none is left */
static int fake_reply(void *ctx, int *code, const char **text, size_t *n)
{
	struct fake_wire *f = ctx;
	if (f->next >= f->nreplies)
		return -1;
	*code = f->codes[f->next];
	*text = f->texts[f->next];
	*n = strlen(*text);
	f->next++;
	return 0;
}

#define SCRAM_C1 "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8="
#define SCRAM_S1 "cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxz" \
	"PVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY="
#define SCRAM_C2 "Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhO" \
	"bEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ=="
#define SCRAM_S2 "dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ=="
#define SCRAM_S2_BAD "dj1BQUFBVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ=="

/* test_run - whole exchanges: lines sent, transcript, outcome */
static void test_run(void **state)
{
	(void)state;
	static const struct {
		enum conf_mech mech;
		const char *user, *secret;
		int codes[WIRE_MAX];
		const char *texts[WIRE_MAX];
		const char *sent[WIRE_MAX], *shown[WIRE_MAX];
		enum auth_outcome outcome;
	} cases[] = {
		{ CONF_MECH_PLAIN, "myaccount", "mypassword", { 235 }, { "2.7.0 ok" },
		  { "AUTH PLAIN AG15YWNjb3VudABteXBhc3N3b3Jk" }, { "AUTH PLAIN <redacted>" }, AUTH_OK },
		{ CONF_MECH_LOGIN, "myaccount", "mypassword", { 334, 334, 235 },
		  { "VXNlcm5hbWU6", "UGFzc3dvcmQ6", "Authentication successful" },
		  { "AUTH LOGIN", "bXlhY2NvdW50", "bXlwYXNzd29yZA==" },
		  { "AUTH LOGIN", "<redacted>", "<redacted>" }, AUTH_OK },
		{ CONF_MECH_CRAM_MD5, "tim", "tanstaaftanstaaf", { 334, 235 },
		  { "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", "ok" },
		  { "AUTH CRAM-MD5", "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw" },
		  { "AUTH CRAM-MD5", "<redacted>" }, AUTH_OK },
		{ CONF_MECH_PLAIN, "u", "p", { 535 }, { "5.7.8 invalid" }, { "AUTH PLAIN AHUAcA==" },
		  { "AUTH PLAIN <redacted>" }, AUTH_REFUSED },
		{ CONF_MECH_LOGIN, "u", "p", { 334, 501 }, { "!!not base64", "5.7.0 cancelled" },
		  { "AUTH LOGIN", "*" }, { "AUTH LOGIN", "*" }, AUTH_FAILED },
		{ CONF_MECH_LOGIN, "u", "p", { 334, 334, 334, 501 }, { "", "", "", "" },
		  { "AUTH LOGIN", "dQ==", "cA==", "*" }, { "AUTH LOGIN", "<redacted>", "<redacted>", "*" },
		  AUTH_FAILED },
		{ CONF_MECH_SCRAM_SHA_256, "user", "pencil", { 334, 334, 235 },
		  { SCRAM_S1, SCRAM_S2, "2.7.0 ok" }, { "AUTH SCRAM-SHA-256 " SCRAM_C1, SCRAM_C2, "" },
		  { "AUTH SCRAM-SHA-256 <redacted>", "<redacted>", "" }, AUTH_OK },
		{ CONF_MECH_SCRAM_SHA_256, "user", "pencil", { 334, 235 },
		  { SCRAM_S1, "2.7.0 " SCRAM_S2 }, { "AUTH SCRAM-SHA-256 " SCRAM_C1, SCRAM_C2 },
		  { "AUTH SCRAM-SHA-256 <redacted>", "<redacted>" }, AUTH_OK },
		{ CONF_MECH_SCRAM_SHA_256, "user", "pencil", { 334, 334, 501 },
		  { SCRAM_S1, SCRAM_S2_BAD, "" }, { "AUTH SCRAM-SHA-256 " SCRAM_C1, SCRAM_C2, "*" },
		  { "AUTH SCRAM-SHA-256 <redacted>", "<redacted>", "*" }, AUTH_FAILED },
		{ CONF_MECH_SCRAM_SHA_256, "user", "pencil", { 334, 235 },
		  { SCRAM_S1, "2.7.0 Authentication successful" },
		  { "AUTH SCRAM-SHA-256 " SCRAM_C1, SCRAM_C2 },
		  { "AUTH SCRAM-SHA-256 <redacted>", "<redacted>" }, AUTH_FAILED },
		{ CONF_MECH_XOAUTH2, "u", "t", { 334, 535 }, { "eyJzdGF0dXMiOiI0MDEifQ==", "5.7.8 no" },
		  { "AUTH XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIHQBAQ==", "" },
		  { "AUTH XOAUTH2 <redacted>", "" }, AUTH_REFUSED },
		{ CONF_MECH_LOGIN, "u", "p", { 334 }, { "VXNlcm5hbWU6" }, { "AUTH LOGIN", "dQ==" },
		  { "AUTH LOGIN", "<redacted>" }, AUTH_LOST },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_run: cases[%zu]", i);
		struct fake_wire f = { .codes = cases[i].codes, .texts = cases[i].texts };
		struct auth_wire w = { &f, fake_send, fake_reply };
		struct auth_client c;
		while (f.nreplies < WIRE_MAX && cases[i].codes[f.nreplies] != 0)
			f.nreplies++;
		assert_int_equal(auth_client_init(&c, auth_mech_by_conf(cases[i].mech), cases[i].user,
						  cases[i].secret, NULL, 0), 0);
		memset(c.nonce, 0, sizeof c.nonce);
		memcpy(c.nonce, RFC7677_NONCE, strlen(RFC7677_NONCE));
		assert_int_equal(auth_run(&c, &w), cases[i].outcome);
		size_t want = 0;
		while (want < WIRE_MAX && cases[i].sent[want] != NULL)
			want++;
		assert_int_equal(f.nsent, want);
		for (size_t k = 0; k < want; k++) {
			assert_string_equal(f.sent[k], cases[i].sent[k]);
			assert_string_equal(f.shown[k], cases[i].shown[k]);
		}
		auth_client_wipe(&c);
	}
	row_label_done();
}

/* main - run the table tests */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_plain, row_label_report),
		cmocka_unit_test_teardown(test_login_seed, row_label_report),
		cmocka_unit_test_teardown(test_cram_md5, row_label_report),
		cmocka_unit_test_teardown(test_xoauth2, row_label_report),
		cmocka_unit_test_teardown(test_oauthbearer, row_label_report),
		cmocka_unit_test_teardown(test_scram_rfc7677, row_label_report),
		cmocka_unit_test_teardown(test_scram_failures, row_label_report),
		cmocka_unit_test_teardown(test_scram_final_in_235, row_label_report),
		cmocka_unit_test_teardown(test_unexpected_rounds, row_label_report),
		cmocka_unit_test_teardown(test_parse_offer, row_label_report),
		cmocka_unit_test_teardown(test_choose, row_label_report),
		cmocka_unit_test_teardown(test_choose_errors, row_label_report),
		cmocka_unit_test_teardown(test_run, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
