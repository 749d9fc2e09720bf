/*
 * crypto - the codecs and primitives that authentication needs, on top of
 * OpenSSL's EVP and BIO-free one-shot functions: base64, hex, HMAC,
 * SHA-256, PBKDF2, random bytes. Pure functions; no secret is kept here.
 */
#ifndef RELAYMAIL_CRYPTO_H
#define RELAYMAIL_CRYPTO_H

#include <stddef.h>

#include "buf.h"

/* crypto_init - OpenSSL's lean set-up, once; every OpenSSL user calls it first */
void crypto_init(void);

/* crypto_error_strings - load OpenSSL's error texts (only when one is shown) */
void crypto_error_strings(void);

/* crypto_base64_encode - append the base64 form of in (no newlines) to out */
int crypto_base64_encode(const void *in, size_t n, struct buf *out);

/*
 * crypto_base64_decode - append the decoded bytes of in to out; white
 * space is not allowed; padding required. 0, or -1 on malformed input.
 */
int crypto_base64_decode(const char *in, size_t n, struct buf *out);

/* crypto_hex - append lower-case hex of in to out */
int crypto_hex(const void *in, size_t n, struct buf *out);

#define CRYPTO_HMAC_MAX 32	/* the longest mac crypto_hmac writes (sha256) */

/*
 * crypto_hmac - HMAC with "md5", "sha1" or "sha256" into mac, which must
 * hold CRYPTO_HMAC_MAX bytes (*maclen set to 16, 20 or 32). 0/-1 (-1 also
 * for an unknown digest name).
 */
int crypto_hmac(const char *digest, const void *key, size_t keylen,
		const void *msg, size_t msglen, unsigned char *mac, size_t *maclen);

/* crypto_sha256 - digest of in into out[32] */
int crypto_sha256(const void *in, size_t n, unsigned char out[32]);

/* crypto_pbkdf2_sha256 - PBKDF2-HMAC-SHA-256, outlen bytes into out */
int crypto_pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
			 unsigned iterations, unsigned char *out, size_t outlen);

/* crypto_random - n unpredictable bytes; 0/-1 */
int crypto_random(void *out, size_t n);

#endif
