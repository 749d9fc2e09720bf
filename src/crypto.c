/* crypto - codecs and primitives on OpenSSL's one-shot functions; see crypto.h */
/* the per-library error-text loaders of crypto_error_strings are deprecated, not gone */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

/* input bytes per EVP_EncodeBlock / EVP_DecodeBlock call (multiples of 3 and 4) */
#define B64_ENC_CHUNK 768
#define B64_DEC_CHUNK 1024

/*
 * crypto_init - OpenSSL's set-up, once, without what a message does not need:
 * error strings are loaded when an error is shown (crypto_error_strings),
 * nothing is freed at exit (the process ends; SSL objects wipe their keys when
 * freed), and the legacy table of every cipher's name is not built (2.3 M
 * instructions; TLS fetches its ciphers from the provider, and the list it can
 * negotiate is byte-identical without it). The digest table stays: a full
 * handshake's certificate check looks digests up by name. The first
 * initialisation decides, so every entry calls this first.
 */
void crypto_init(void)
{
	static bool done;
	if (!done)
		done = OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
					OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
					OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
					OPENSSL_INIT_NO_ATEXIT, NULL) == 1;
}

/*
 * crypto_error_strings - OpenSSL's texts, loaded just before one is shown.
 * Not through OPENSSL_init_ssl(LOAD_*_STRINGS): crypto_init's NO_LOAD ran
 * that once-only step already, and a second request does nothing.
 */
void crypto_error_strings(void)
{
	(void)ERR_load_SSL_strings();
	(void)ERR_load_X509_strings();
	(void)ERR_load_PEM_strings();
	(void)ERR_load_EVP_strings();
	(void)ERR_load_BIO_strings();
	(void)ERR_load_ASN1_strings();
}

/* crypto_base64_encode - base64 of in, appended to out in bounded chunks */
int crypto_base64_encode(const void *in, size_t n, struct buf *out)
{
	const unsigned char *p = in;
	unsigned char enc[B64_ENC_CHUNK / 3 * 4 + 1];

	if (n == 0)
		return buf_append(out, "", 0);
	/* all or nothing: make sure the whole result fits before appending */
	if (n / 3 > (((size_t)-1) - 4) / 4 || (n + 2) / 3 * 4 > out->max - out->len)
		return -1;
	while (n > 0) {
		size_t k = n < B64_ENC_CHUNK ? n : B64_ENC_CHUNK;
		int m = EVP_EncodeBlock(enc, p, (int)k);
		if (m < 0 || buf_append(out, enc, (size_t)m) < 0)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

/* b64_value - the 6-bit value of an alphabet character, -1 for anything else */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * b64_check - strict syntax: length a multiple of 4, alphabet only, '='
 * only as the last one or two characters, and zero bits under the padding
 * so that every input has one canonical form. Returns the pad count or -1.
 */
static int b64_check(const char *in, size_t n)
{
	size_t pad = 0;

	if (n % 4 != 0)
		return -1;
	if (n == 0)
		return 0;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (b64_value((unsigned char)in[i]) < 0)
			return -1;
	/* the last data character carries 4 (one '=') or 2 (two '=') spare bits */
	if (pad > 0) {
		int last = b64_value((unsigned char)in[n - pad - 1]);
		int mask = pad == 1 ? 0x03 : 0x0f;
		if (last & mask)
			return -1;
	}
	return (int)pad;
}

/* crypto_base64_decode - strict base64 to bytes, appended to out */
int crypto_base64_decode(const char *in, size_t n, struct buf *out)
{
	unsigned char dec[B64_DEC_CHUNK / 4 * 3];
	int pad = b64_check(in, n);

	if (pad < 0)
		return -1;
	if (n == 0)
		return buf_append(out, "", 0);
	size_t total = n / 4 * 3 - (size_t)pad;
	if (total > out->max - out->len)
		return -1;
	size_t saved = out->len;
	/* the padded last quantum is decoded apart: EVP_DecodeBlock does not report padding */
	size_t body = pad > 0 ? n - 4 : n;
	for (size_t off = 0; off < body; off += B64_DEC_CHUNK) {
		size_t k = body - off < B64_DEC_CHUNK ? body - off : B64_DEC_CHUNK;
		int m = EVP_DecodeBlock(dec, (const unsigned char *)in + off, (int)k);
		if (m != (int)(k / 4 * 3) || buf_append(out, dec, (size_t)m) < 0)
			goto fail;
	}
	if (pad > 0) {
		unsigned char last[4];
		memcpy(last, in + n - 4, 4);
		for (int i = 4 - pad; i < 4; i++)
			last[i] = 'A';	/* the zero value, so the spare bytes come out as 0 */
		if (EVP_DecodeBlock(dec, last, 4) != 3 ||
		    buf_append(out, dec, (size_t)(3 - pad)) < 0)
			goto fail;
	}
	OPENSSL_cleanse(dec, sizeof dec);
	return 0;
fail:
	OPENSSL_cleanse(dec, sizeof dec);
	out->len = saved;
	if (out->data != NULL)
		out->data[saved] = '\0';
	return -1;
}

/* crypto_hex - lower-case hex of in, appended to out */
int crypto_hex(const void *in, size_t n, struct buf *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;
	char pair[2];

	if (n > (out->max - out->len) / 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		pair[0] = digits[p[i] >> 4];
		pair[1] = digits[p[i] & 0x0f];
		if (buf_append(out, pair, 2) < 0)
			return -1;
	}
	return 0;
}

/* digest_by_name - the message digests that authentication uses, nothing else */
static const EVP_MD *digest_by_name(const char *name)
{
	if (strcmp(name, "md5") == 0)
		return EVP_md5();
	if (strcmp(name, "sha1") == 0)
		return EVP_sha1();
	if (strcmp(name, "sha256") == 0)
		return EVP_sha256();
	return NULL;
}

/* crypto_hmac - one-shot HMAC */
int crypto_hmac(const char *digest, const void *key, size_t keylen,
		const void *msg, size_t msglen, unsigned char *mac, size_t *maclen)
{
	static const unsigned char empty[1];
	unsigned int len = 0;

	crypto_init();
	const EVP_MD *md = digest_by_name(digest);
	if (md == NULL || keylen > INT_MAX)
		return -1;
	/* HMAC() treats a NULL key as "reuse the previous one"; never pass NULL */
	if (key == NULL)
		key = empty;
	if (msg == NULL)
		msg = empty;
	if (HMAC(md, key, (int)keylen, msg, msglen, mac, &len) == NULL)
		return -1;
	*maclen = len;
	return 0;
}

/* crypto_sha256 - one-shot SHA-256 */
int crypto_sha256(const void *in, size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	crypto_init();
	if (EVP_Digest(in, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -1;
	return 0;
}

/* crypto_pbkdf2_sha256 - PBKDF2-HMAC-SHA-256 (SCRAM's Hi()) */
int crypto_pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
			 unsigned iterations, unsigned char *out, size_t outlen)
{
	static const unsigned char empty[1];

	crypto_init();
	if (iterations == 0 || iterations > INT_MAX || pwlen > INT_MAX ||
	    saltlen > INT_MAX || outlen == 0 || outlen > INT_MAX)
		return -1;
	if (pw == NULL)
		pw = empty;
	if (salt == NULL)
		salt = empty;
	if (PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, (int)saltlen, (int)iterations,
			      EVP_sha256(), (int)outlen, out) != 1)
		return -1;
	return 0;
}

/* crypto_random - bytes from OpenSSL's CSPRNG, in int-sized pieces */
int crypto_random(void *out, size_t n)
{
	unsigned char *p = out;

	crypto_init();
	while (n > 0) {
		size_t k = n < INT_MAX ? n : INT_MAX;
		if (RAND_bytes(p, (int)k) != 1)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}
