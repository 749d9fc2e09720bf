/* tls - the OpenSSL client under io; see tls.h */
#include "tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "log.h"
#include "tlssess.h"

#define TLS_ERR_MAX 256
#define TLS_PIN_LEN 64
#define TLS_REPORT_MAX (256 * 1024)	/* one handshake's report: protocol, chain, verdict */
/* a fixed type number for our socket BIO; BIO_get_new_index would use up a global table */
#define TLS_BIO_TYPE ((BIO_TYPE_START + 77) | BIO_TYPE_SOURCE_SINK)

struct tls {
	int fd;
	bool peer_eof;		/* recv() saw the end of the stream */
	bool verify;
	bool established;	/* handshake done: close_notify is worth sending */
	bool trust_loaded;	/* CA certificates in the context's store */
	bool trust_failed;	/* ... could not be loaded: err says why */
	SSL_CTX *ctx;
	SSL *ssl;
	BIO_METHOD *bio_method;
	const struct tls_cache *cache;
	struct log_trace trace;		/* sendmail --check: tls_report after the handshake */
	char *ca_file;			/* tls_ca_file; NULL: the system's store */
	char pin[TLS_PIN_LEN + 1];	/* "" when no pin */
	char key[TLS_KEY_MAX];		/* session cache key, "" without a cache */
	char err[TLS_ERR_MAX];
	char desc[96];
};

/* set_err - the one-line reason of a failure */
__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	char raw[TLS_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	if (n < 0) {
		log_printable("TLS: error", 10, err, errlen);
		return;
	}
	/* file names and OpenSSL's text may hold anything; keep the line printable */
	log_printable(raw, (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1, err, errlen);
}

/* ssl_reason - the most specific text OpenSSL queued for the last failure */
static const char *ssl_reason(char *tmp, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	if (e == 0)
		return "unknown error";
	crypto_error_strings();
	const char *r = ERR_reason_error_string(e);
	if (r != NULL)
		return r;
	ERR_error_string_n(e, tmp, len);
	return tmp;
}

/* bio_write - send() with MSG_NOSIGNAL: a closed peer must not kill us with SIGPIPE */
static int bio_write(BIO *b, const char *p, int n)
{
	struct tls *t = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t r = send(t->fd, p, (size_t)n, MSG_NOSIGNAL);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_write(b);
		return -1;
	}
	return (int)r;
}

/* bio_read - recv(), remembering end of stream for BIO_CTRL_EOF */
static int bio_read(BIO *b, char *p, int n)
{
	struct tls *t = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t r = recv(t->fd, p, (size_t)n, 0);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	if (r == 0)
		t->peer_eof = true;
	return (int)r;
}

/* bio_ctrl - the few controls the SSL layer asks a socket about */
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls *t = BIO_get_data(b);
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return t->peer_eof ? 1 : 0;
	default:
		return 0;
	}
}

/* attach_socket - a BIO of our own over fd, given to the SSL object */
static int attach_socket(struct tls *t)
{
	t->bio_method = BIO_meth_new(TLS_BIO_TYPE, "relaymail socket");
	if (t->bio_method == NULL ||
	    BIO_meth_set_write(t->bio_method, bio_write) != 1 ||
	    BIO_meth_set_read(t->bio_method, bio_read) != 1 ||
	    BIO_meth_set_ctrl(t->bio_method, bio_ctrl) != 1)
		return -1;
	BIO *b = BIO_new(t->bio_method);
	if (b == NULL)
		return -1;
	BIO_set_data(b, t);
	BIO_set_init(b, 1);
	SSL_set_bio(t->ssl, b, b);	/* the SSL object owns b now */
	return 0;
}

/* is_ip_literal - host names get SNI and DNS matching; addresses neither */
static bool is_ip_literal(const char *name)
{
	unsigned char addr[16];
	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* parse_pin - 64 hex digits, colons allowed, stored lower case */
static int parse_pin(struct tls *t, const char *fp)
{
	size_t n = 0;
	for (const char *p = fp; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == TLS_PIN_LEN)
			return -1;
		t->pin[n++] = (char)tolower((unsigned char)*p);
	}
	t->pin[n] = '\0';
	return n == TLS_PIN_LEN ? 0 : -1;
}

/* new_session - OpenSSL has a resumable session (a TLS 1.3 ticket, maybe late): keep it */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls *t = SSL_get_app_data(ssl);
	if (t == NULL || t->cache == NULL || t->cache->store == NULL || t->key[0] == '\0')
		return 0;
	unsigned char *der = NULL;
	int n = i2d_SSL_SESSION(sess, &der);
	if (n > 0 && der != NULL) {
		/* without the server's certificate, unless a pin must check it on resumption */
		struct buf lean;
		buf_init(&lean, (size_t)n);
		if (t->pin[0] == '\0' && tlssess_strip_peer(der, (size_t)n, &lean) == 0)
			t->cache->store(t->cache->ctx, t->key, lean.data, lean.len);
		else
			t->cache->store(t->cache->ctx, t->key, der, (size_t)n);
		buf_wipe(&lean);
	}
	OPENSSL_clear_free(der, n > 0 ? (size_t)n : 0);
	return 0;	/* we keep no reference to sess */
}

/* offer_session - hand a saved session to the handshake, when there is one */
static void offer_session(struct tls *t)
{
	struct buf der;
	if (t->cache == NULL || t->cache->load == NULL || t->key[0] == '\0')
		return;
	buf_init(&der, 64 * 1024);
	if (t->cache->load(t->cache->ctx, t->key, &der) == 0 && der.len > 0) {
		const unsigned char *p = (const unsigned char *)der.data;
		SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)der.len);
		/* an unusable entry is forgotten rather than offered again and again */
		if (s == NULL || !SSL_SESSION_is_resumable(s) || SSL_set_session(t->ssl, s) != 1) {
			if (t->cache->store != NULL)
				t->cache->store(t->cache->ctx, t->key, "", 0);
		}
		SSL_SESSION_free(s);
	}
	buf_wipe(&der);
	ERR_clear_error();
}

/* load_trust - CA certificates: the configured file, or the system's hashed directory */
static int load_trust(struct tls *t, char *err, size_t errlen)
{
	char tmp[256];
	if (t->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(t->ctx, t->ca_file, NULL) != 1) {
			set_err(err, errlen, "TLS: cannot load CA file %s: %s", t->ca_file,
				ssl_reason(tmp, sizeof tmp));
			return -1;
		}
		return 0;
	}
	/*
	 * The hashed directory is searched lazily, for the issuers the chain
	 * names only; the bundle file would be parsed whole on every run.
	 */
	const char *dir = X509_get_default_cert_dir();
	if (access(dir, X_OK) == 0 && SSL_CTX_load_verify_dir(t->ctx, dir) == 1)
		return 0;
	if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		set_err(err, errlen, "TLS: cannot load the system trust store: %s",
			ssl_reason(tmp, sizeof tmp));
		return -1;
	}
	return 0;
}

/*
 * verify_chain - load the trust store on first need, then verify as OpenSSL
 * would. A resumed session brings no certificate and never gets here, so a
 * repeat call skips parsing the CA certificates altogether.
 */
static int verify_chain(X509_STORE_CTX *x, void *arg)
{
	struct tls *t = arg;
	if (!t->trust_loaded) {
		if (load_trust(t, t->err, sizeof t->err) < 0) {
			t->trust_failed = true;
			X509_STORE_CTX_set_error(x, X509_V_ERR_UNSPECIFIED);
			return 0;
		}
		t->trust_loaded = true;
	}
	return X509_verify_cert(x);
}

/* check_ca_file - a missing or unreadable tls_ca_file fails before any byte is sent */
static int check_ca_file(struct tls *t, const struct tls_settings *cfg, char *err, size_t errlen)
{
	if (cfg->ca_file == NULL || cfg->ca_file[0] == '\0')
		return 0;
	int fd = open(cfg->ca_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		set_err(err, errlen, "TLS: cannot load CA file %s: %s", cfg->ca_file,
			strerror(errno));
		return -1;
	}
	close(fd);
	t->ca_file = strdup(cfg->ca_file);
	if (t->ca_file == NULL) {
		set_err(err, errlen, "TLS: out of memory");
		return -1;
	}
	return 0;
}

/* load_client_cert - certificate chain and key for client authentication */
static int load_client_cert(struct tls *t, const struct tls_settings *cfg, char *err, size_t errlen)
{
	char tmp[256];
	const char *key = cfg->key_file != NULL && cfg->key_file[0] != '\0' ? cfg->key_file
									   : cfg->cert_file;
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->cert_file) != 1) {
		set_err(err, errlen, "TLS: cannot load client certificate %s: %s", cfg->cert_file,
			ssl_reason(tmp, sizeof tmp));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
		set_err(err, errlen, "TLS: cannot load client key %s: %s", key,
			ssl_reason(tmp, sizeof tmp));
		return -1;
	}
	if (SSL_CTX_check_private_key(t->ctx) != 1) {
		set_err(err, errlen, "TLS: client key %s does not match certificate %s", key,
			cfg->cert_file);
		return -1;
	}
	return 0;
}

/* setup_ctx - the context: protocol floor, trust, client certificate, session callback */
static int setup_ctx(struct tls *t, const struct tls_settings *cfg, char *err, size_t errlen)
{
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->ctx == NULL) {
		set_err(err, errlen, "TLS: cannot create a context");
		return -1;
	}
	bool only13 = cfg->min_version != NULL && strcmp(cfg->min_version, "1.3") == 0;
	if (SSL_CTX_set_min_proto_version(t->ctx, only13 ? TLS1_3_VERSION : TLS1_2_VERSION) != 1) {
		set_err(err, errlen, "TLS: cannot set TLS %s as the minimum version",
			only13 ? "1.3" : "1.2");
		return -1;
	}
	if (cfg->ciphers != NULL && SSL_CTX_set_cipher_list(t->ctx, cfg->ciphers) != 1) {
		set_err(err, errlen, "TLS: tls_ciphers not accepted by OpenSSL");
		return -1;
	}
	if (cfg->ciphersuites != NULL && SSL_CTX_set_ciphersuites(t->ctx, cfg->ciphersuites) != 1) {
		set_err(err, errlen, "TLS: tls_ciphersuites not accepted by OpenSSL");
		return -1;
	}
	/* SMTP is self-delimiting: a close without close_notify truncates nothing */
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	/* whole bursts of records per recv() instead of a header and a body each */
	SSL_CTX_set_read_ahead(t->ctx, 1);
	SSL_CTX_set_verify(t->ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (t->verify) {
		if (check_ca_file(t, cfg, err, errlen) < 0)
			return -1;
		SSL_CTX_set_cert_verify_callback(t->ctx, verify_chain, t);
	}
	if (cfg->cert_file != NULL && cfg->cert_file[0] != '\0' &&
	    load_client_cert(t, cfg, err, errlen) < 0)
		return -1;
	if (t->cache != NULL) {
		SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT |
					       SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(t->ctx, new_session);
	}
	return 0;
}

/* setup_ssl - the connection: socket, SNI, the name the certificate must carry */
static int setup_ssl(struct tls *t, const char *fqdn, char *err, size_t errlen)
{
	char name[256];
	size_t len = strlen(fqdn);
	if (len == 0 || len >= sizeof name) {
		set_err(err, errlen, "TLS: invalid server name");
		return -1;
	}
	memcpy(name, fqdn, len + 1);
	/* SNI and certificates carry names without the root's trailing dot */
	if (len > 1 && name[len - 1] == '.')
		name[len - 1] = '\0';
	t->ssl = SSL_new(t->ctx);
	if (t->ssl == NULL || attach_socket(t) < 0) {
		set_err(err, errlen, "TLS: cannot create a connection");
		return -1;
	}
	SSL_set_app_data(t->ssl, t);
	bool ip = is_ip_literal(name);
	if (!ip && SSL_set_tlsext_host_name(t->ssl, name) != 1) {
		set_err(err, errlen, "TLS: cannot use %s as server name", name);
		return -1;
	}
	if (t->verify) {
		int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name)
			    : SSL_set1_host(t->ssl, name);
		if (ok != 1) {
			set_err(err, errlen, "TLS: cannot verify against the name %s", name);
			return -1;
		}
		/* "*.example.com" matches one label only */
		SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	return 0;
}

/* tls_new - context and connection for one socket */
struct tls *tls_new(int fd, const struct tls_settings *cfg, const char *host, unsigned port,
		    char *err, size_t errlen)
{
	if (cfg == NULL || host == NULL) {
		set_err(err, errlen, "TLS: no settings given");
		return NULL;
	}
	struct tls *t = calloc(1, sizeof *t);
	if (t == NULL) {
		set_err(err, errlen, "TLS: out of memory");
		return NULL;
	}
	t->fd = fd;
	t->verify = cfg->verify;
	t->cache = cfg->cache;
	t->trace = cfg->trace;
	const char *name = cfg->servername != NULL && cfg->servername[0] != '\0'
				   ? cfg->servername : host;
	crypto_init();
	ERR_clear_error();
	if (cfg->fingerprint != NULL && cfg->fingerprint[0] != '\0' &&
	    parse_pin(t, cfg->fingerprint) < 0) {
		set_err(err, errlen, "TLS: the fingerprint is not 64 hex digits (SHA-256)");
		goto fail;
	}
	if (setup_ctx(t, cfg, err, errlen) < 0 || setup_ssl(t, name, err, errlen) < 0)
		goto fail;
	/* after the context: its digests are fetched then, and the key's SHA-256 reuses them */
	if (t->cache != NULL && tls_session_key(cfg, host, port, t->key) < 0) {
		set_err(err, errlen, "TLS: cannot compute the session cache key");
		goto fail;
	}
	offer_session(t);
	return t;
fail:
	ERR_clear_error();
	tls_free(t);
	return NULL;
}

/* check_pin - the leaf certificate's SHA-256 against the configured one */
static int check_pin(struct tls *t)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509 *cert = SSL_get1_peer_certificate(t->ssl);

	if (cert == NULL) {
		set_err(t->err, sizeof t->err, "TLS: the server sent no certificate");
		return -1;
	}
	int ok = X509_digest(cert, EVP_sha256(), md, &mdlen);
	X509_free(cert);
	struct buf hex;
	buf_init(&hex, 2 * EVP_MAX_MD_SIZE);
	if (ok != 1 || crypto_hex(md, mdlen, &hex) < 0) {
		buf_free(&hex);
		set_err(t->err, sizeof t->err, "TLS: cannot compute the certificate fingerprint");
		return -1;
	}
	int r = strcmp(buf_cstr(&hex), t->pin) == 0 ? 0 : -1;
	if (r < 0)
		set_err(t->err, sizeof t->err,
			"TLS: certificate fingerprint mismatch: the server's is %s", buf_cstr(&hex));
	buf_free(&hex);
	return r;
}

/* handshake_failure - explain a failed handshake, the verification reason first */
static enum tls_result handshake_failure(struct tls *t, int code)
{
	char tmp[256];
	long v = SSL_get_verify_result(t->ssl);

	if (t->trust_failed)
		;	/* err already names the CA file and why */
	else if (t->verify && v != X509_V_OK)
		set_err(t->err, sizeof t->err, "TLS: certificate verify failed: %s",
			X509_verify_cert_error_string(v));
	else if (code == SSL_ERROR_SYSCALL && errno != 0 && ERR_peek_error() == 0)
		set_err(t->err, sizeof t->err, "TLS handshake failed: %s", strerror(errno));
	else if (code == SSL_ERROR_SYSCALL || t->peer_eof)
		set_err(t->err, sizeof t->err,
			"TLS handshake failed: connection closed by the server");
	else
		set_err(t->err, sizeof t->err, "TLS handshake failed: %s",
			ssl_reason(tmp, sizeof tmp));
	ERR_clear_error();
	return TLS_FAIL;
}

/* trace_report - tls_report to the trace, when there is one */
static void trace_report(struct tls *t)
{
	struct buf out;
	if (t->trace.fn == NULL)
		return;
	buf_init(&out, TLS_REPORT_MAX);
	tls_report(t, &out);
	t->trace.fn(t->trace.ctx, LOG_TRACE_REPORT, buf_cstr(&out), out.len);
	buf_free(&out);
}

/* tls_handshake - one step of SSL_connect, then the pin */
enum tls_result tls_handshake(struct tls *t)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_connect(t->ssl);
	if (r != 1) {
		int code = SSL_get_error(t->ssl, r);
		if (code == SSL_ERROR_WANT_READ)
			return TLS_WANT_READ;
		if (code == SSL_ERROR_WANT_WRITE)
			return TLS_WANT_WRITE;
		enum tls_result f = handshake_failure(t, code);
		trace_report(t);
		return f;
	}
	t->established = true;
	trace_report(t);
	if (t->pin[0] != '\0' && check_pin(t) < 0)
		return TLS_FAIL;
	return TLS_DONE;
}

/* io_failure - map an SSL_read/SSL_write failure to a result and a reason */
static enum tls_result io_failure(struct tls *t, int code, const char *what)
{
	char tmp[256];
	switch (code) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		set_err(t->err, sizeof t->err, "connection closed by the server");
		return TLS_EOF;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 || errno == EPIPE || errno == ECONNRESET || t->peer_eof) {
			set_err(t->err, sizeof t->err, "connection closed by the server");
			t->established = false;
			return TLS_EOF;
		}
		set_err(t->err, sizeof t->err, "TLS %s failed: %s", what, strerror(errno));
		break;
	default:
		set_err(t->err, sizeof t->err, "TLS %s failed: %s", what,
			ssl_reason(tmp, sizeof tmp));
		break;
	}
	/* after a fatal error OpenSSL forbids SSL_shutdown */
	t->established = false;
	ERR_clear_error();
	return TLS_FAIL;
}

/* tls_read - SSL_read_ex; tickets and other non-data records just mean "want read" */
enum tls_result tls_read(struct tls *t, void *p, size_t n, size_t *got)
{
	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(t->ssl, p, n, got) == 1)
		return TLS_DONE;
	return io_failure(t, SSL_get_error(t->ssl, 0), "read");
}

/* tls_write - SSL_write_ex in partial-write mode */
enum tls_result tls_write(struct tls *t, const void *p, size_t n, size_t *put)
{
	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(t->ssl, p, n, put) == 1)
		return TLS_DONE;
	return io_failure(t, SSL_get_error(t->ssl, 0), "write");
}

/* tls_pending - decrypted, unread bytes */
size_t tls_pending(const struct tls *t)
{
	int n = SSL_pending(t->ssl);
	return n > 0 ? (size_t)n : 0;
}

/* tls_error - last reason */
const char *tls_error(const struct tls *t)
{
	return t->err[0] != '\0' ? t->err : "TLS: unknown error";
}

/* tls_describe - protocol and cipher of the established connection */
const char *tls_describe(struct tls *t)
{
	int n = snprintf(t->desc, sizeof t->desc, "%s %s%s", SSL_get_version(t->ssl),
			 SSL_get_cipher_name(t->ssl), SSL_session_reused(t->ssl) ? " resumed" : "");
	if (n < 0 || (size_t)n >= sizeof t->desc)
		return "TLS";
	return t->desc;
}

/* add_field - one length-prefixed field of the cache key's input */
static int add_field(struct buf *b, const char *s)
{
	const char *v = s != NULL ? s : "";
	return buf_printf(b, "%zu:%s;", strlen(v), v);
}

/* tls_session_key - hash of everything that decides whom a session may be reused with */
int tls_session_key(const struct tls_settings *cfg, const char *host, unsigned port,
		    char key[TLS_KEY_MAX])
{
	struct buf in, hex;
	unsigned char md[32];
	int r = -1;

	buf_init(&in, 16384);
	buf_init(&hex, TLS_KEY_MAX);
	if (buf_printf(&in, "relaymail-tls-1;%u;%d;", port, cfg->verify ? 1 : 0) == 0 &&
	    add_field(&in, host) == 0 && add_field(&in, cfg->servername) == 0 &&
	    add_field(&in, cfg->ca_file) == 0 && add_field(&in, cfg->fingerprint) == 0 &&
	    add_field(&in, cfg->cert_file) == 0 && add_field(&in, cfg->key_file) == 0 &&
	    add_field(&in, cfg->min_version) == 0 && add_field(&in, cfg->ciphers) == 0 &&
	    add_field(&in, cfg->ciphersuites) == 0 &&
	    crypto_sha256(in.data, in.len, md) == 0 && crypto_hex(md, sizeof md, &hex) == 0) {
		memcpy(key, hex.data, hex.len + 1);
		r = 0;
	}
	buf_free(&in);
	buf_free(&hex);
	return r;
}

/* check_ciphers - does OpenSSL take list, in a throw-away context? */
static int check_ciphers(const char *list, bool suites)
{
	crypto_init();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return -1;
	int ok = suites ? SSL_CTX_set_ciphersuites(ctx, list) : SSL_CTX_set_cipher_list(ctx, list);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ok == 1 ? 0 : -1;
}

/* tls_check_settings - the configuration's cipher lists, as OpenSSL takes them */
int tls_check_settings(const char *file, const char *ciphers, const char *suites,
		       char *err, size_t errlen)
{
	bool bad_ciphers = ciphers != NULL && check_ciphers(ciphers, false) < 0;
	if (!bad_ciphers && (suites == NULL || check_ciphers(suites, true) == 0))
		return 0;
	/* snprintf, not buf_error: the library takes only src/tlslib.dynamic from the program */
	int n = bad_ciphers ?
		snprintf(err, errlen, "%s: [smarthost] tls_ciphers: \"%.64s\" is not a cipher "
			 "list OpenSSL accepts", file, ciphers) :
		snprintf(err, errlen, "%s: [smarthost] tls_ciphersuites: \"%.64s\" is not a "
			 "TLS 1.3 cipher suite list OpenSSL accepts", file, suites);
	if (n < 0 && errlen > 0)
		err[0] = '\0';
	return -1;
}

/* report_bio - what a memory BIO holds, made printable, as "label: text" */
static void report_bio(struct buf *out, const char *label, BIO *m)
{
	char raw[1024], shown[4096];
	int n = m != NULL ? BIO_read(m, raw, sizeof raw) : -1;
	log_printable(raw, n > 0 ? (size_t)n : 0, shown, sizeof shown);
	(void)buf_printf(out, "  %s: %s\n", label, shown);
	BIO_free(m);
}

/* report_names - the leaf's subject alternative names, comma separated */
static void report_names(struct buf *out, X509 *x)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	BIO *m = BIO_new(BIO_s_mem());
	for (int i = 0; m != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		if (i > 0)
			BIO_puts(m, ", ");
		GENERAL_NAME_print(m, sk_GENERAL_NAME_value(names, i));
	}
	if (names == NULL && m != NULL)
		BIO_puts(m, "(none)");
	GENERAL_NAMES_free(names);
	report_bio(out, "subject alternative names", m);
}

/* report_cert - one certificate of the chain (index 0: the server's own) */
static void report_cert(struct buf *out, X509 *x, int index)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	(void)buf_printf(out, "certificate %d%s:\n", index, index == 0 ? " (server)" : "");
	BIO *m = BIO_new(BIO_s_mem());
	if (m != NULL)
		X509_NAME_print_ex(m, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
	report_bio(out, "subject", m);
	if ((m = BIO_new(BIO_s_mem())) != NULL)
		X509_NAME_print_ex(m, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253);
	report_bio(out, "issuer", m);
	if ((m = BIO_new(BIO_s_mem())) != NULL) {
		ASN1_TIME_print(m, X509_get0_notBefore(x));
		BIO_puts(m, " to ");
		ASN1_TIME_print(m, X509_get0_notAfter(x));
	}
	report_bio(out, "valid", m);
	if (index == 0)
		report_names(out, x);
	if (X509_digest(x, EVP_sha256(), md, &len) != 1)
		return;
	(void)buf_printf(out, "  SHA-256 fingerprint: ");
	for (unsigned int i = 0; i < len; i++)
		(void)buf_printf(out, "%02X%s", md[i], i + 1 < len ? ":" : "\n");
}

/* tls_report - protocol, chain and verdict of the handshake just done or failed */
void tls_report(struct tls *t, struct buf *out)
{
	if (t->established)
		(void)buf_printf(out, "TLS: %s %s\nTLS session resumed: %s\n",
				 SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl),
				 SSL_session_reused(t->ssl) ? "yes" : "no");
	else
		(void)buf_printf(out, "TLS: handshake failed\n");
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl);
	X509 *leaf = SSL_get0_peer_certificate(t->ssl);
	if (chain == NULL || sk_X509_num(chain) == 0) {
		if (leaf != NULL)
			report_cert(out, leaf, 0);
		else
			(void)buf_printf(out, "certificate: none received\n");
	}
	for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
		report_cert(out, sk_X509_value(chain, i), i);
	long v = SSL_get_verify_result(t->ssl);
	if (!t->verify)
		(void)buf_printf(out, "verification: off (tls_verify = no)\n");
	else if (v != X509_V_OK)
		(void)buf_printf(out, "verification: failed: %s\n", X509_verify_cert_error_string(v));
	else if (t->established)
		(void)buf_printf(out, "verification: ok (chain and host name)\n");
	else
		(void)buf_printf(out, "verification: not completed\n");
	ERR_clear_error();
}

/* tls_free - close_notify (not waiting for the peer's), then release everything */
void tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL) {
		if (t->established) {
			ERR_clear_error();
			(void)SSL_shutdown(t->ssl);
		}
		SSL_free(t->ssl);
	}
	BIO_meth_free(t->bio_method);
	SSL_CTX_free(t->ctx);
	free(t->ca_file);
	ERR_clear_error();
	wipe_memory(t, sizeof *t);
	free(t);
}
