/*
 * oauth2_lib - libcurl and json-c, opened with dlopen(3) only when an
 * OAuth2 token exchange is about to happen. Linked in, they and their
 * thirty dependencies (GnuTLS, Kerberos, LDAP, ...) would be loaded and
 * relocated by every sendmail call, which almost never needs them: that
 * cost 3 ms of CPU and 4 MB of memory per message.
 *
 * Each member has the name and the exact type of the library function it
 * points to, so that oauth2.c reads as if it called them directly.
 */
#ifndef RELAYMAIL_OAUTH2_LIB_H
#define RELAYMAIL_OAUTH2_LIB_H

#include <stdbool.h>
#include <stddef.h>

/* the checking macros would turn "lib->curl_easy_setopt(" into garbage */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <json-c/json.h>

#define OAUTH2_LIB_CURL "libcurl.so.4"
#define OAUTH2_LIB_JSON "libjson-c.so.5"

struct oauth2_lib {
	void *curl_handle;
	void *json_handle;
	__typeof__(curl_easy_init) *curl_easy_init;
	__typeof__(curl_easy_setopt) *curl_easy_setopt;
	__typeof__(curl_easy_perform) *curl_easy_perform;
	__typeof__(curl_easy_getinfo) *curl_easy_getinfo;
	__typeof__(curl_easy_cleanup) *curl_easy_cleanup;
	__typeof__(curl_easy_escape) *curl_easy_escape;
	__typeof__(curl_easy_strerror) *curl_easy_strerror;
	__typeof__(curl_free) *curl_free;
	__typeof__(json_tokener_new) *json_tokener_new;
	__typeof__(json_tokener_parse_ex) *json_tokener_parse_ex;
	__typeof__(json_tokener_get_error) *json_tokener_get_error;
	__typeof__(json_tokener_free) *json_tokener_free;
	__typeof__(json_object_is_type) *json_object_is_type;
	__typeof__(json_object_object_get_ex) *json_object_object_get_ex;
	__typeof__(json_object_get_string) *json_object_get_string;
	__typeof__(json_object_get_string_len) *json_object_get_string_len;
	__typeof__(json_object_get_int64) *json_object_get_int64;
	__typeof__(json_object_put) *json_object_put;
};

/* oauth2_lib_open - load both libraries and every function; 0, or -1 with err */
int oauth2_lib_open(struct oauth2_lib *l, char *err, size_t errlen);

/* oauth2_lib_close - unload them */
void oauth2_lib_close(struct oauth2_lib *l);

#endif
