/* tlslib - the OpenSSL half, opened on first use; see tlslib.h */
#include "tlslib.h"

#include <dlfcn.h>

#ifndef RELAYMAIL_TLS_LIB
#error "RELAYMAIL_TLS_LIB, the library's absolute path, comes from the Makefile"
#endif

/*
 * RTLD_DEEPBIND: the 4,900 references of libssl and libcrypto to their own
 * functions, all bound when they are loaded (Debian builds them with
 * BIND_NOW), are looked up in the library's own scope before the program,
 * libc and ld.so: 1.1 M instructions less per send. OpenSSL then takes
 * malloc from libc even when another allocator is interposed, which is
 * safe because nothing it allocates is freed outside it, nor the reverse
 * (a struct buf of the program grows through the program's buf_append:
 * src/tlslib.dynamic). AddressSanitizer must interpose every malloc and
 * refuses the flag: its builds bind as usual.
 */
#if defined(__SANITIZE_ADDRESS__)
#define TLSLIB_DEEPBIND 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLSLIB_DEEPBIND 0
#endif
#endif
#ifndef TLSLIB_DEEPBIND
#define TLSLIB_DEEPBIND RTLD_DEEPBIND
#endif

/*
 * The library, once opened, for the rest of the process (never closed:
 * the SSL objects it made live as long as their connections), or why it
 * could not be opened (tried once).
 */
static const struct tlslib_table *opened;
static char open_error[512];

/* table - the library's table, opened on the first call; NULL with err set when it cannot be */
static const struct tlslib_table *table(char *err, size_t errlen)
{
	if (opened == NULL && open_error[0] == '\0') {
		/* RTLD_LOCAL: OpenSSL's symbols stay out of the program's namespace */
		void *h = dlopen(RELAYMAIL_TLS_LIB, RTLD_NOW | RTLD_LOCAL | TLSLIB_DEEPBIND);
		const struct tlslib_table *t = h != NULL ? dlsym(h, TLSLIB_SYMBOL) : NULL;
		if (t != NULL && t->version == TLSLIB_VERSION && t->size == sizeof *t) {
			opened = t;
		} else {
			(void)buf_error(open_error, sizeof open_error, "TLS: cannot load %s",
					h == NULL ? dlerror() : RELAYMAIL_TLS_LIB
					": another version of relaymail's TLS library");
			if (h != NULL)
				dlclose(h);
		}
	}
	if (opened == NULL && err != NULL)
		(void)buf_error(err, errlen, "%s", open_error);
	return opened;
}

/* tls_new - tls.c's, in the library, opened now if need be */
struct tls *tls_new(int fd, const struct tls_settings *cfg, const char *host, unsigned port,
		    char *err, size_t errlen)
{
	const struct tlslib_table *t = table(err, errlen);
	return t != NULL ? t->tls_new(fd, cfg, host, port, err, errlen) : NULL;
}

/* tls_handshake - tls.c's (a struct tls exists: the library is open) */
enum tls_result tls_handshake(struct tls *s)
{
	return opened->tls_handshake(s);
}

/* tls_read - tls.c's */
enum tls_result tls_read(struct tls *s, void *p, size_t n, size_t *got)
{
	return opened->tls_read(s, p, n, got);
}

/* tls_write - tls.c's */
enum tls_result tls_write(struct tls *s, const void *p, size_t n, size_t *put)
{
	return opened->tls_write(s, p, n, put);
}

/* tls_pending - tls.c's */
size_t tls_pending(const struct tls *s)
{
	return opened->tls_pending(s);
}

/* tls_error - tls.c's */
const char *tls_error(const struct tls *s)
{
	return opened->tls_error(s);
}

/* tls_describe - tls.c's */
const char *tls_describe(struct tls *s)
{
	return opened->tls_describe(s);
}

/* tls_free - tls.c's; NULL (no TLS was started) needs no library */
void tls_free(struct tls *s)
{
	if (s != NULL)
		opened->tls_free(s);
}

/*
 * tls_check_settings - tls.c's; a configuration that sets no cipher list
 * does not open the library; one that cannot be opened takes no list
 */
int tls_check_settings(const char *file, const char *ciphers, const char *suites,
		       char *err, size_t errlen)
{
	if (ciphers == NULL && suites == NULL)
		return 0;
	const struct tlslib_table *t = table(err, errlen);
	return t != NULL ? t->tls_check_settings(file, ciphers, suites, err, errlen) : -1;
}

/* crypto_base64_encode - crypto.c's; -1 without the library */
int crypto_base64_encode(const void *in, size_t n, struct buf *out)
{
	const struct tlslib_table *t = table(NULL, 0);
	return t != NULL ? t->crypto_base64_encode(in, n, out) : -1;
}

/* crypto_base64_decode - crypto.c's; -1 without the library */
int crypto_base64_decode(const char *in, size_t n, struct buf *out)
{
	const struct tlslib_table *t = table(NULL, 0);
	return t != NULL ? t->crypto_base64_decode(in, n, out) : -1;
}

/* crypto_hex - crypto.c's; -1 without the library */
int crypto_hex(const void *in, size_t n, struct buf *out)
{
	const struct tlslib_table *t = table(NULL, 0);
	return t != NULL ? t->crypto_hex(in, n, out) : -1;
}

/* crypto_hmac - crypto.c's; -1 without the library */
int crypto_hmac(const char *digest, const void *key, size_t keylen,
		const void *msg, size_t msglen, unsigned char *mac, size_t *maclen)
{
	const struct tlslib_table *t = table(NULL, 0);
	return t != NULL ? t->crypto_hmac(digest, key, keylen, msg, msglen, mac, maclen) : -1;
}

/* crypto_sha256 - crypto.c's; -1 without the library */
int crypto_sha256(const void *in, size_t n, unsigned char out[32])
{
	const struct tlslib_table *t = table(NULL, 0);
	return t != NULL ? t->crypto_sha256(in, n, out) : -1;
}

/* crypto_pbkdf2_sha256 - crypto.c's; -1 without the library */
int crypto_pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
			 unsigned iterations, unsigned char *out, size_t outlen)
{
	const struct tlslib_table *t = table(NULL, 0);
	return t != NULL ? t->crypto_pbkdf2_sha256(pw, pwlen, salt, saltlen, iterations, out,
						   outlen) : -1;
}

/* crypto_random - crypto.c's; -1 without the library */
int crypto_random(void *out, size_t n)
{
	const struct tlslib_table *t = table(NULL, 0);
	return t != NULL ? t->crypto_random(out, n) : -1;
}
