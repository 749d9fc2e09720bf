/* oauth2 - the built-in OAuth2 refresh-token exchange and its cache; see oauth2.h */
#include "oauth2.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>


#include "crypto.h"
#include "oauth2_lib.h"
#include "secret.h"

#define OAUTH2_MAGIC "relaymail-oauth2 1\n"
#define OAUTH2_SECRET_MAX 65536		/* a refresh token or client secret */
#define OAUTH2_TIMEOUT 60		/* seconds, without a [smarthost] timeout */

/* oauth2_configured - the [auth] section asks for the built-in exchange */
bool oauth2_configured(const struct conf *c)
{
	return c->auth.user != NULL && c->auth.oauth2_token_url != NULL &&
	       (c->auth.mechanism == CONF_MECH_XOAUTH2 ||
		c->auth.mechanism == CONF_MECH_OAUTHBEARER);
}

/* oauth2_cache_fresh - a token expiring at expiry is still usable at now */
bool oauth2_cache_fresh(time_t expiry, time_t now)
{
	return expiry > now && expiry - now > OAUTH2_MARGIN;
}

/* token_ok - an access token is printable ASCII without spaces (RFC 6750 b64token) */
static bool token_ok(const char *t, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return false;
	return true;
}

/* oauth2_cache_format - the cache file's content for token and its expiry */
int oauth2_cache_format(const char *token, time_t expiry, struct buf *out)
{
	if (!token_ok(token, strlen(token)) || expiry <= 0)
		return -1;
	return buf_printf(out, "%s%lld\n%s\n", OAUTH2_MAGIC, (long long)expiry, token);
}

/* oauth2_cache_parse - a cache file's content: token and expiry */
int oauth2_cache_parse(const char *data, size_t n, struct buf *token, time_t *expiry)
{
	size_t m = strlen(OAUTH2_MAGIC);
	if (n < m || memcmp(data, OAUTH2_MAGIC, m) != 0)
		return -1;
	const char *p = data + m, *end = data + n;
	long long v = 0;
	if (p == end || !isdigit((unsigned char)*p))
		return -1;
	for (; p < end && isdigit((unsigned char)*p); p++) {
		if (v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (p == end || *p++ != '\n' || v <= 0)
		return -1;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || nl + 1 != end || !token_ok(p, (size_t)(nl - p)))
		return -1;
	if (buf_append(token, p, (size_t)(nl - p)) < 0)
		return -1;
	*expiry = (time_t)v;
	return 0;
}

/* printable_copy - at most 200 printable bytes of s into out, others as '?' */
static void printable_copy(const char *s, char *out, size_t outlen)
{
	size_t i = 0;
	for (; s[i] != '\0' && i + 1 < outlen && i < 200; i++)
		out[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
	out[i] = '\0';
}

/* reply_error - the endpoint's "error" (and "error_description") as one line */
static int reply_error(const struct oauth2_lib *lib, json_object *root, json_object *e,
		       char *err, size_t errlen)
{
	char code[64], desc[256] = "";
	json_object *d = NULL;
	printable_copy(lib->json_object_get_string(e), code, sizeof code);
	if (lib->json_object_object_get_ex(root, "error_description", &d) &&
	    lib->json_object_is_type(d, json_type_string))
		printable_copy(lib->json_object_get_string(d), desc, sizeof desc);
	return buf_error(err, errlen, "OAuth2 token endpoint: %s%s%s", code,
			 desc[0] != '\0' ? ": " : "", desc);
}

/* reply_lifetime - expires_in (a number, or a string of digits) in seconds */
static int reply_lifetime(const struct oauth2_lib *lib, json_object *root, long *expires_in)
{
	json_object *v = NULL;
	*expires_in = OAUTH2_DEFAULT_LIFETIME;
	if (!lib->json_object_object_get_ex(root, "expires_in", &v) || lib->json_object_is_type(v, json_type_null))
		return 0;
	if (!lib->json_object_is_type(v, json_type_int) && !lib->json_object_is_type(v, json_type_string))
		return -1;
	if (lib->json_object_is_type(v, json_type_string)) {
		const char *s = lib->json_object_get_string(v);
		if (*s == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
			return -1;
	}
	int64_t n = lib->json_object_get_int64(v);
	if (n < 0 || n > 10L * 365 * 86400)
		return -1;
	*expires_in = (long)n;
	return 0;
}

/* oauth2_reply_parse - the token endpoint's JSON reply into token and lifetime */
int oauth2_reply_parse(const struct oauth2_lib *lib, const char *json, size_t n,
		       struct buf *token, long *expires_in,
		       char *err, size_t errlen)
{
	json_tokener *tok = lib->json_tokener_new();
	if (tok == NULL || n > INT_MAX)
		return buf_error(err, errlen, "OAuth2 token endpoint: cannot parse the reply");
	json_object *root = lib->json_tokener_parse_ex(tok, json, (int)n);
	bool whole = lib->json_tokener_get_error(tok) == json_tokener_success;
	lib->json_tokener_free(tok);
	json_object *e = NULL, *t = NULL, *ty = NULL;
	int r;
	if (root == NULL || !whole || !lib->json_object_is_type(root, json_type_object))
		r = buf_error(err, errlen, "OAuth2 token endpoint: the reply is not a JSON object");
	else if (lib->json_object_object_get_ex(root, "error", &e) && lib->json_object_is_type(e, json_type_string))
		r = reply_error(lib, root, e, err, errlen);
	else if (!lib->json_object_object_get_ex(root, "access_token", &t) ||
		 !lib->json_object_is_type(t, json_type_string) ||
		 !token_ok(lib->json_object_get_string(t), (size_t)lib->json_object_get_string_len(t)))
		r = buf_error(err, errlen, "OAuth2 token endpoint: no usable access_token in the reply");
	else if (lib->json_object_object_get_ex(root, "token_type", &ty) &&
		 (!lib->json_object_is_type(ty, json_type_string) ||
		  strcasecmp(lib->json_object_get_string(ty), "bearer") != 0))
		r = buf_error(err, errlen, "OAuth2 token endpoint: token_type is not Bearer");
	else if (reply_lifetime(lib, root, expires_in) < 0)
		r = buf_error(err, errlen, "OAuth2 token endpoint: malformed expires_in");
	else if (buf_puts(token, lib->json_object_get_string(t)) < 0)
		r = buf_error(err, errlen, "OAuth2 token endpoint: the access token is too long");
	else
		r = 0;
	if (t != NULL)
		wipe_memory((void *)lib->json_object_get_string(t), (size_t)lib->json_object_get_string_len(t));
	lib->json_object_put(root);
	return r;
}

/* cache_key - hex SHA-256 of the token URL, client id and refresh token */
static int cache_key(const struct conf *c, const char *refresh, char key[65])
{
	struct buf in, hex;
	unsigned char md[32];
	buf_init(&in, 3 * OAUTH2_SECRET_MAX);
	buf_init(&hex, 64);
	int r = buf_printf(&in, "%s\n%s\n%s", c->auth.oauth2_token_url,
			   c->auth.oauth2_client_id ? c->auth.oauth2_client_id : "", refresh);
	if (r == 0)
		r = crypto_sha256(in.data, in.len, md);
	if (r == 0)
		r = crypto_hex(md, sizeof md, &hex);
	if (r == 0 && hex.len == 64)
		memcpy(key, hex.data, 65);
	else
		r = -1;
	buf_wipe(&in);
	buf_free(&hex);
	wipe_memory(md, sizeof md);
	return r;
}

/* cache_read - a fresh token from the cache entry key; 0 found, -1 not */
static int cache_read(int dfd, const char *key, struct buf *out)
{
	char data[OAUTH2_TOKEN_MAX + 128];
	struct stat st;
	int fd = openat(dfd, key, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    (st.st_mode & 077) == 0 && st.st_size > 0 && (size_t)st.st_size < sizeof data)
		n = pread(fd, data, sizeof data, 0);
	close(fd);
	time_t expiry = 0;
	int r = n > 0 && oauth2_cache_parse(data, (size_t)n, out, &expiry) == 0 ? 0 : -1;
	if (r == 0 && !oauth2_cache_fresh(expiry, time(NULL)))
		r = -1;
	if (r < 0)
		buf_wipe(out);
	wipe_memory(data, sizeof data);
	return r;
}

/* cache_write - save token (expiring at expiry) as key: temp, fsync, rename */
static void cache_write(int dfd, const char *key, const char *token, time_t expiry)
{
	char tmp[128];
	struct buf content;
	int n = snprintf(tmp, sizeof tmp, ".%.64s.%ld", key, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return;
	buf_init(&content, OAUTH2_TOKEN_MAX + 128);
	if (oauth2_cache_format(token, expiry, &content) == 0) {
		(void)unlinkat(dfd, tmp, 0);
		int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		bool ok = fd >= 0 && fchmod(fd, 0600) == 0 &&
			  buf_write_all(fd, content.data, content.len) == 0 && fsync(fd) == 0;
		if (fd >= 0 && close(fd) < 0)
			ok = false;
		if (fd >= 0 && (!ok || renameat(dfd, tmp, dfd, key) < 0))
			(void)unlinkat(dfd, tmp, 0);
		else if (ok)
			(void)fsync(dfd);
	}
	buf_wipe(&content);
}

/* collect - libcurl's write callback: the reply body into a struct buf */
static size_t collect(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;
	return buf_append(b, p, n) < 0 ? 0 : n;
}

/* put_field - "&name=value" (URL-escaped) onto the POST body */
static int put_field(const struct oauth2_lib *lib, CURL *h, struct buf *body, const char *name,
		     const char *value)
{
	char *esc = lib->curl_easy_escape(h, value, 0);
	if (esc == NULL)
		return -1;
	int r = buf_printf(body, "%s%s=%s", body->len > 0 ? "&" : "", name, esc);
	wipe_memory(esc, strlen(esc));
	lib->curl_free(esc);
	return r;
}

/* request_setup - every libcurl option of the token request */
static int request_setup(const struct oauth2_lib *lib, CURL *h, const struct conf *c,
			 const struct buf *body,
			 struct buf *reply, char *cerr)
{
	long secs = c->smarthost.timeout > 0 ? (long)c->smarthost.timeout : OAUTH2_TIMEOUT;
	CURLcode e = lib->curl_easy_setopt(h, CURLOPT_URL, c->auth.oauth2_token_url);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_PROXY, "");	/* no proxy from the environment */
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (e == CURLE_OK && c->smarthost.tls_ca_file != NULL)
		e = lib->curl_easy_setopt(h, CURLOPT_CAINFO, c->smarthost.tls_ca_file);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_TIMEOUT, secs);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, secs);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body->len);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	if (e == CURLE_OK)
		e = lib->curl_easy_setopt(h, CURLOPT_USERAGENT, "relaymail");
	return e == CURLE_OK ? 0 : -1;
}

/* request_body - grant_type=refresh_token&refresh_token=...&client_id=...&client_secret=... */
static int request_body(const struct oauth2_lib *lib, CURL *h, const char *refresh,
			const char *client_id,
			const char *client_secret, struct buf *body)
{
	int r = put_field(lib, h, body, "grant_type", "refresh_token");
	if (r == 0)
		r = put_field(lib, h, body, "refresh_token", refresh);
	if (r == 0 && client_id != NULL)
		r = put_field(lib, h, body, "client_id", client_id);
	if (r == 0 && client_secret != NULL)
		r = put_field(lib, h, body, "client_secret", client_secret);
	return r;
}

/* http_post - POST body to the token URL; the reply body and HTTP status */
static int http_post(const struct oauth2_lib *lib, const struct conf *c, const char *refresh,
		     const char *client_secret,
		     struct buf *reply, long *status, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	struct buf body;
	CURL *h = lib->curl_easy_init();
	if (h == NULL)
		return buf_error(err, errlen, "OAuth2: cannot start libcurl");
	buf_init(&body, 4 * OAUTH2_SECRET_MAX);
	int r = request_body(lib, h, refresh, c->auth.oauth2_client_id, client_secret, &body);
	if (r < 0)
		r = buf_error(err, errlen, "OAuth2: the token request is too long");
	else if (request_setup(lib, h, c, &body, reply, cerr) < 0)
		r = buf_error(err, errlen, "OAuth2: cannot set up libcurl");
	if (r == 0) {
		CURLcode e = lib->curl_easy_perform(h);
		char shown[256];
		printable_copy(cerr[0] != '\0' ? cerr : lib->curl_easy_strerror(e), shown, sizeof shown);
		if (e != CURLE_OK)
			r = buf_error(err, errlen, "OAuth2 token endpoint %s: %s",
				      c->auth.oauth2_token_url, shown);
		else if (lib->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status) != CURLE_OK)
			*status = 0;
	}
	lib->curl_easy_cleanup(h);
	buf_wipe(&body);
	return r;
}

/* load_secrets - the refresh token and client secret, from the config or their files */
static int load_secrets(const struct conf *c, struct buf *refresh, struct buf *client_secret,
			bool *have_secret, char *err, size_t errlen)
{
	int r = 0;
	if (c->auth.oauth2_refresh_token != NULL)
		r = buf_puts(refresh, c->auth.oauth2_refresh_token) < 0 ?
			buf_error(err, errlen, "[auth] oauth2_refresh_token: too long") : 0;
	else if (c->auth.oauth2_refresh_token_file != NULL)
		r = secret_read_file(c->auth.oauth2_refresh_token_file, "oauth2_refresh_token_file",
				     refresh, err, errlen);
	else
		r = buf_error(err, errlen, "[auth] oauth2_refresh_token is not set");
	*have_secret = c->auth.oauth2_client_secret != NULL ||
		       c->auth.oauth2_client_secret_file != NULL;
	if (r == 0 && c->auth.oauth2_client_secret != NULL)
		r = buf_puts(client_secret, c->auth.oauth2_client_secret) < 0 ?
			buf_error(err, errlen, "[auth] oauth2_client_secret: too long") : 0;
	else if (r == 0 && c->auth.oauth2_client_secret_file != NULL)
		r = secret_read_file(c->auth.oauth2_client_secret_file,
				     "oauth2_client_secret_file", client_secret, err, errlen);
	return r;
}

/* exchange - the token request and its reply: a token and its lifetime */
static int exchange(const struct oauth2_lib *lib, const struct conf *c, const char *refresh,
		    const char *client_secret,
		    struct buf *out, long *lifetime, char *err, size_t errlen)
{
	struct buf reply;
	long status = 0;
	buf_init(&reply, OAUTH2_REPLY_MAX);
	int r = http_post(lib, c, refresh, client_secret, &reply, &status, err, errlen);
	if (r == 0) {
		r = oauth2_reply_parse(lib, buf_cstr(&reply), reply.len, out, lifetime, err, errlen);
		if (r < 0 && (status < 200 || status > 299) &&
		    strstr(err, "not a JSON object") != NULL)
			r = buf_error(err, errlen, "OAuth2 token endpoint: HTTP status %ld", status);
		else if (r == 0 && (status < 200 || status > 299)) {
			buf_wipe(out);
			r = buf_error(err, errlen, "OAuth2 token endpoint: HTTP status %ld", status);
		}
	}
	buf_wipe(&reply);
	return r;
}

/* scrub - drop a reason that happens to quote a secret (a careless endpoint) */
static void scrub(char *err, size_t errlen, const char *refresh, const char *client_secret)
{
	if ((refresh[0] != '\0' && strstr(err, refresh) != NULL) ||
	    (client_secret[0] != '\0' && strstr(err, client_secret) != NULL))
		(void)buf_error(err, errlen, "OAuth2 token endpoint: the request was refused");
}

/* oauth2_fetch - an access token: the cached one, or a fresh one from the endpoint */
int oauth2_fetch(const struct conf *c, int cache_dirfd, bool refresh, struct buf *out,
		 char *err, size_t errlen)
{
	struct buf rt, cs;
	char key[65];
	bool have_cs = false;
	long lifetime = 0;
	buf_init(&rt, OAUTH2_SECRET_MAX);
	buf_init(&cs, OAUTH2_SECRET_MAX);
	int r = load_secrets(c, &rt, &cs, &have_cs, err, errlen);
	int dfd = r == 0 && cache_key(c, buf_cstr(&rt), key) == 0 ? cache_dirfd : -1;
	bool cached = r == 0 && dfd >= 0 && !refresh && cache_read(dfd, key, out) == 0;
	if (!cached && r == 0 && dfd >= 0)
		(void)unlinkat(dfd, key, 0);	/* stale or revoked */
	if (!cached && r == 0) {
		struct oauth2_lib lib;	/* loaded only now: see oauth2_lib.h */
		r = oauth2_lib_open(&lib, err, errlen);
		if (r == 0) {
			r = exchange(&lib, c, buf_cstr(&rt), have_cs ? buf_cstr(&cs) : NULL, out,
				     &lifetime, err, errlen);
			oauth2_lib_close(&lib);
		}
	}
	if (r < 0)
		scrub(err, errlen, buf_cstr(&rt), buf_cstr(&cs));
	else if (!cached && dfd >= 0)
		cache_write(dfd, key, buf_cstr(out), time(NULL) + lifetime);
	buf_wipe(&rt);
	buf_wipe(&cs);
	wipe_memory(key, sizeof key);
	return r;
}
