/* oauth2_lib - libcurl and json-c loaded on demand; see oauth2_lib.h */
#include "oauth2_lib.h"

#include <dlfcn.h>
#include <string.h>

#include "buf.h"

/* where each function is found: its name, its library, its slot */
static const struct {
	const char *name;
	bool json;
	size_t slot;
} functions[] = {
#define FN(lib, name) { #name, lib, offsetof(struct oauth2_lib, name) }
	FN(false, curl_easy_init), FN(false, curl_easy_setopt), FN(false, curl_easy_perform),
	FN(false, curl_easy_getinfo), FN(false, curl_easy_cleanup), FN(false, curl_easy_escape),
	FN(false, curl_easy_strerror), FN(false, curl_free),
	FN(true, json_tokener_new), FN(true, json_tokener_parse_ex),
	FN(true, json_tokener_get_error), FN(true, json_tokener_free),
	FN(true, json_object_is_type), FN(true, json_object_object_get_ex),
	FN(true, json_object_get_string), FN(true, json_object_get_string_len),
	FN(true, json_object_get_int64), FN(true, json_object_put),
#undef FN
};

/* oauth2_lib_close - unload what was loaded */
void oauth2_lib_close(struct oauth2_lib *l)
{
	if (l->curl_handle != NULL)
		dlclose(l->curl_handle);
	if (l->json_handle != NULL)
		dlclose(l->json_handle);
	memset(l, 0, sizeof *l);
}

/* oauth2_lib_open - dlopen both, dlsym every function */
int oauth2_lib_open(struct oauth2_lib *l, char *err, size_t errlen)
{
	memset(l, 0, sizeof *l);
	l->curl_handle = dlopen(OAUTH2_LIB_CURL, RTLD_NOW | RTLD_LOCAL);
	l->json_handle = dlopen(OAUTH2_LIB_JSON, RTLD_NOW | RTLD_LOCAL);
	if (l->curl_handle == NULL || l->json_handle == NULL) {
		oauth2_lib_close(l);
		return buf_error(err, errlen, "OAuth2 needs %s and %s (Debian: libcurl4, libjson-c5)",
				 OAUTH2_LIB_CURL, OAUTH2_LIB_JSON);
	}
	for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
		void *sym = dlsym(functions[i].json ? l->json_handle : l->curl_handle,
				  functions[i].name);
		if (sym == NULL) {
			oauth2_lib_close(l);
			return buf_error(err, errlen, "OAuth2: %s lacks %s",
					 functions[i].json ? OAUTH2_LIB_JSON : OAUTH2_LIB_CURL,
					 functions[i].name);
		}
		/* POSIX: a function's address comes back from dlsym as a void * */
		memcpy((char *)l + functions[i].slot, &sym, sizeof sym);
	}
	return 0;
}
