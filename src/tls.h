/*
 * tls - the TLS client: the only code of the program that includes
 * <openssl/ssl.h> and <openssl/x509*.h>. io drives it over its own
 * non-blocking socket: every call returns at once and says what it waits
 * for (TLS_WANT_READ or TLS_WANT_WRITE), and io polls for that with its
 * deadline. TLS 1.3 session tickets that arrive after the handshake are
 * absorbed by tls_read like any other record, so they never stall a
 * reader.
 *
 * Settings (struct tls_settings): TLS 1.2 minimum, or 1.3 with
 * min_version "1.3"; OpenSSL's cipher list and TLS 1.3 suites unless
 * ciphers / ciphersuites replace them. Certificate checks: with
 * verify, the chain against ca_file or the system store and the host name
 * (or IP literal) by OpenSSL itself, aborting the handshake on failure;
 * with a fingerprint, the SHA-256 of the leaf certificate must equal it
 * (with verify off the pin alone decides; with both, both must pass).
 *
 * Session resumption (issue 6) plugs in through struct tls_cache: the
 * owner of the storage (the spool) supplies load/store callbacks, tls
 * offers the loaded session before the handshake and stores every new
 * one (TLS 1.3 tickets included) under a key naming the host, port and
 * every verification setting, so a session is never reused under weaker
 * or different settings. No callback: every handshake is a full one.
 */
#ifndef RELAYMAIL_TLS_H
#define RELAYMAIL_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "log.h"

struct tls;
struct tls_cache;

/* tls_settings - one connection's TLS settings, prepared from [smarthost] tls_* */
struct tls_settings {
	const char *servername;	/* SNI and the name the certificate must match; NULL: the host connected to */
	bool verify;		/* chain + host name, by OpenSSL */
	const char *ca_file;	/* NULL: the system trust store */
	const char *fingerprint;	/* NULL or 64 hex digits (colons allowed): SHA-256 of the leaf cert's DER */
	const char *cert_file;	/* NULL or client certificate (PEM) */
	const char *key_file;	/* NULL: the key is in cert_file */
	const struct tls_cache *cache;	/* NULL: no session resumption */
	const char *min_version;	/* NULL or "1.2": TLS 1.2; "1.3": TLS 1.3 only */
	const char *ciphers;		/* NULL: OpenSSL's default TLS 1.2 cipher list */
	const char *ciphersuites;	/* NULL: OpenSSL's default TLS 1.3 suites */
	struct log_trace trace;	/* sendmail --check: tls_report's lines after the handshake; fn NULL: none */
};

enum tls_result {
	TLS_DONE,	/* the step completed */
	TLS_WANT_READ,	/* poll for input, then call again with the same arguments */
	TLS_WANT_WRITE,	/* poll for output, then call again with the same arguments */
	TLS_EOF,	/* the peer closed the connection */
	TLS_FAIL	/* tls_error says why; the connection is unusable */
};

#define TLS_KEY_MAX 65	/* 64 hex digits and a NUL */

/*
 * struct tls_cache - saved sessions, kept by whoever owns the storage.
 * load puts the DER session saved under key into der and returns 0, or
 * -1 when there is none; store keeps n bytes under key (n == 0: forget
 * the entry). Both may be NULL.
 */
struct tls_cache {
	void *ctx;
	int (*load)(void *ctx, const char *key, struct buf *der);
	void (*store)(void *ctx, const char *key, const void *der, size_t n);
};

/*
 * tls_new - a client for the connected socket fd (non-blocking; not
 * owned: the caller closes it after tls_free). host and port are those
 * connected to; cfg->servername, when NULL, defaults to host. NULL with
 * err set when the settings cannot be loaded (CA file, client
 * certificate or key, a malformed fingerprint).
 */
struct tls *tls_new(int fd, const struct tls_settings *cfg, const char *host, unsigned port,
		    char *err, size_t errlen);

/*
 * tls_handshake - drive the handshake, then check the fingerprint pin.
 * TLS_DONE, TLS_WANT_READ/WRITE, or TLS_FAIL with tls_error (e.g. "TLS:
 * certificate verify failed: hostname mismatch").
 */
enum tls_result tls_handshake(struct tls *t);

/* tls_read - up to n decrypted bytes into p (*got set on TLS_DONE) */
enum tls_result tls_read(struct tls *t, void *p, size_t n, size_t *got);

/* tls_write - some of p's n bytes (*put set on TLS_DONE, at least one) */
enum tls_result tls_write(struct tls *t, const void *p, size_t n, size_t *put);

/* tls_pending - decrypted bytes buffered inside the TLS layer */
size_t tls_pending(const struct tls *t);

/* tls_error - why the last step failed: printable, one line */
const char *tls_error(const struct tls *t);

/* tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384" (" resumed"), for -v */
const char *tls_describe(struct tls *t);

/*
 * tls_session_key - the cache key for these settings: hex SHA-256 of
 * host, port and every tls_settings field that affects trust. 0/-1.
 */
int tls_session_key(const struct tls_settings *cfg, const char *host, unsigned port,
		    char key[TLS_KEY_MAX]);

/*
 * tls_check_settings - the cipher lists of the configuration file file
 * ([smarthost] tls_ciphers: a TLS 1.2 cipher list, at least one cipher
 * must match; tls_ciphersuites: TLS 1.3 suites; NULL: not set) are taken
 * by OpenSSL. 0, or -1 with "FILE: [smarthost] KEY: problem" in err.
 * Nothing is kept. In the program, nothing set leaves the library closed.
 */
int tls_check_settings(const char *file, const char *ciphers, const char *suites,
		       char *err, size_t errlen);

/*
 * tls_report - the handshake as sendmail --check shows it, appended to
 * out (printable lines): protocol and cipher, resumption, each
 * certificate of the peer's chain (subject, issuer, validity, the leaf's
 * subject alternative names, SHA-256 fingerprint) and the verification
 * result. Also after a failed handshake (with what was received).
 */
void tls_report(struct tls *t, struct buf *out);

/* tls_free - send close_notify without waiting for the answer, free t */
void tls_free(struct tls *t);

#endif
