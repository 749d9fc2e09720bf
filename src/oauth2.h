/*
 * oauth2 - the built-in OAuth2 refresh-token exchange ([auth] oauth2_*).
 *
 * An HTTPS POST (grant_type=refresh_token, refresh_token, client_id and
 * client_secret when set; application/x-www-form-urlencoded) to
 * oauth2_token_url with libcurl: TLS verified against the system trust
 * store, or [smarthost] tls_ca_file when that is set; no proxy from the
 * environment, no redirects, the [smarthost] timeout (or 60 s). The JSON
 * reply (json-c) gives access_token, expires_in and token_type; an
 * "error" reply becomes a one-line reason that never holds a secret.
 *
 * The access token is cached in the spool, <spool>/oauth2/KEY (KEY: hex
 * SHA-256 of the token URL, the client id and the refresh token), mode
 * 0600, written temp + fsync + rename, and reused until 60 s before it
 * expires. A rotated refresh token in the reply is not written back.
 */
#ifndef RELAYMAIL_OAUTH2_H
#define RELAYMAIL_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "conf.h"

struct oauth2_lib;	/* oauth2_lib.h: libcurl and json-c, loaded on demand */

#define OAUTH2_TOKEN_MAX 16384		/* an access token is never longer */
#define OAUTH2_REPLY_MAX (64 * 1024)	/* what is read of the token endpoint */
#define OAUTH2_MARGIN 60		/* seconds before expiry a token is retired */
#define OAUTH2_DEFAULT_LIFETIME 3600	/* when the reply names no expires_in */

/* oauth2_configured - the [auth] section asks for the built-in exchange */
bool oauth2_configured(const struct conf *c);

/*
 * oauth2_fetch - an access token into out (an empty buffer): from the
 * cache in the directory cache_dirfd (the spool's oauth2/, from
 * queue_private_dir; -1: no cache) when still fresh and refresh is false, else from
 * the token endpoint (the stale cache entry is removed first).
 * Result: 0, or -1 with a one-line reason in err (no secret in it).
 */
int oauth2_fetch(const struct conf *c, int cache_dirfd, bool refresh, struct buf *out,
		 char *err, size_t errlen);

/*
 * oauth2_reply_parse - the token endpoint's JSON reply (n bytes): the
 * access token into token, its lifetime in seconds into *expires_in.
 * lib: json-c, from oauth2_lib_open. Result: 0, or -1 with a printable
 * one-line reason in err.
 */
int oauth2_reply_parse(const struct oauth2_lib *lib, const char *json, size_t n,
		       struct buf *token, long *expires_in, char *err, size_t errlen);

/* oauth2_cache_format - the cache file's content for token and its expiry */
int oauth2_cache_format(const char *token, time_t expiry, struct buf *out);

/*
 * oauth2_cache_parse - a cache file's content (n bytes): token and expiry.
 * Result: 0, or -1 when it is not exactly what oauth2_cache_format writes.
 */
int oauth2_cache_parse(const char *data, size_t n, struct buf *token, time_t *expiry);

/* oauth2_cache_fresh - a token expiring at expiry is still usable at now */
bool oauth2_cache_fresh(time_t expiry, time_t now);

#endif
