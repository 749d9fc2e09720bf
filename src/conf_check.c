/* conf_check - the checks across keys and the duplicate-key pass; see conf_check.h */
#include "conf_check.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* problem - fill *p with section, key (NULL: none) and the text; always -1 */
__attribute__((format(printf, 4, 5)))
static int problem(struct conf_problem *p, const char *section, const char *key,
		   const char *fmt, ...)
{
	va_list ap;
	snprintf(p->section, sizeof p->section, "%s", section ? section : "");
	snprintf(p->key, sizeof p->key, "%s", key ? key : "");
	va_start(ap, fmt);
	if (vsnprintf(p->text, sizeof p->text, fmt, ap) < 0)
		p->text[0] = '\0';
	va_end(ap);
	return -1;
}

/* strip - trim white space at both ends, in place */
static char *strip(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* lower - lower-case in place, as iniparser does to names */
static char *lower(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/*
 * note_line - remember the section or key of one logical line; 1 when the
 * key was already seen. iniparser keeps the last of two equal keys without
 * a word, so the lines are looked at once more here, the way it reads
 * them: "[name]", "key = value", comments starting with # or ;.
 */
static int note_line(char *line, struct buf *section, struct buf *seen,
		     struct buf *key)
{
	char *s = strip(line);
	size_t n = strlen(s);
	if (n == 0 || *s == '#' || *s == ';')
		return 0;
	if (*s == '[' && s[n - 1] == ']') {
		*strchr(s, ']') = '\0';
		buf_reset(section);
		return buf_puts(section, lower(strip(s + 1))) < 0 ? -1 : 0;
	}
	char *eq = strchr(s, '=');
	if (eq == NULL)
		return 0;
	*eq = '\0';
	buf_reset(key);
	if (buf_printf(key, "\n%s:%s\n", buf_cstr(section), lower(strip(s))) < 0)
		return -1;
	if (strstr(buf_cstr(seen), buf_cstr(key)) != NULL)
		return 1;
	/* seen holds "\nA\nB\n": append without the leading newline */
	return buf_append(seen, key->data + 1, key->len - 1) < 0 ? -1 : 0;
}

/* conf_check_duplicates - the first key given twice in one section, if any */
int conf_check_duplicates(const char *path, struct conf_problem *p)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return problem(p, NULL, NULL, "cannot read: %s", strerror(errno));
	struct buf logical, section, seen, key;
	buf_init(&logical, 1 << 20);
	buf_init(&section, 4096);
	buf_init(&seen, 1 << 22);
	buf_init(&key, 8192);
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int r = buf_putc(&seen, '\n');
	while (r == 0 && (got = getline(&line, &cap, f)) >= 0) {
		size_t n = (size_t)got;
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			n--;
		bool more = n > 0 && line[n - 1] == '\\';	/* continued line */
		r = buf_append(&logical, line, more ? n - 1 : n);
		if (r < 0 || more)
			continue;
		r = note_line(logical.data, &section, &seen, &key);
		buf_reset(&logical);
	}
	if (r > 0) {
		char *name = strip(key.data);
		*strchr(name, ':') = '\0';
		r = problem(p, name, name + strlen(name) + 1, "given more than once");
	} else if (r < 0) {
		r = problem(p, NULL, NULL, "cannot read: %s", strerror(errno));
	}
	if (line != NULL)
		wipe_memory(line, cap);	/* the lines may have held a password */
	free(line);
	buf_wipe(&logical);
	buf_free(&section);
	buf_free(&seen);
	buf_free(&key);
	fclose(f);
	return r;
}

/* two keys that only go together, or that exclude each other */
enum pairing { NEEDS, EXCLUDES };

struct pair_rule {
	const char *section, *key, *other;
	size_t key_at, other_at;
	enum pairing how;
};

#define PAIR(s, a, b, how) { #s, #a, #b, AT(s.a), AT(s.b), how }

static const struct pair_rule pair_rules[] = {
	PAIR(smarthost, tls_cert_file, tls_key_file, NEEDS),
	PAIR(smarthost, tls_key_file, tls_cert_file, NEEDS),
	PAIR(auth, password, user, NEEDS),
	PAIR(auth, password_file, user, NEEDS),
	PAIR(auth, password_command, user, NEEDS),
	PAIR(auth, oauth2_token_url, user, NEEDS),
	PAIR(auth, oauth2_client_id, user, NEEDS),
	PAIR(auth, oauth2_client_secret, user, NEEDS),
	PAIR(auth, oauth2_client_secret_file, user, NEEDS),
	PAIR(auth, oauth2_refresh_token, user, NEEDS),
	PAIR(auth, oauth2_refresh_token_file, user, NEEDS),
	PAIR(auth, password, password_file, EXCLUDES),
	PAIR(auth, password, password_command, EXCLUDES),
	PAIR(auth, password_file, password_command, EXCLUDES),
	PAIR(auth, oauth2_client_secret, oauth2_client_secret_file, EXCLUDES),
	PAIR(auth, oauth2_refresh_token, oauth2_refresh_token_file, EXCLUDES),
};

/* string_at - the string field at offset at of c */
static const char *string_at(const struct conf *c, size_t at)
{
	return *(char *const *)((const char *)c + at);
}

/* check_auth - [auth]: a way to get the secret that fits the mechanism */
static int check_auth(const struct conf *c, struct conf_problem *p)
{
	enum conf_mech m = c->auth.mechanism;
	const char *pw = c->auth.password ? "password" : c->auth.password_file ?
			 "password_file" : c->auth.password_command ? "password_command" : NULL;
	bool oauth = c->auth.oauth2_token_url || c->auth.oauth2_client_id ||
		     c->auth.oauth2_client_secret || c->auth.oauth2_client_secret_file ||
		     c->auth.oauth2_refresh_token || c->auth.oauth2_refresh_token_file;
	if (c->auth.user == NULL)
		return m == CONF_MECH_AUTO || m == CONF_MECH_NONE ? 0 :
		       problem(p, "auth", "mechanism", "\"%s\" needs user", conf_mech_name(m));
	if (m == CONF_MECH_NONE)
		return problem(p, "auth", "mechanism", "\"none\", but user is set");
	if (!oauth)
		return pw != NULL ? 0 : problem(p, "auth", "user", "set, but none of "
					      "password, password_file and password_command is");
	if (pw != NULL)
		return problem(p, "auth", pw, "cannot be combined with the oauth2_* keys");
	if (m != CONF_MECH_XOAUTH2 && m != CONF_MECH_OAUTHBEARER)
		return problem(p, "auth", "mechanism", "the oauth2_* keys need "
			      "mechanism = xoauth2 or oauthbearer");
	const char *missing = !c->auth.oauth2_token_url ? "oauth2_token_url" :
			      !c->auth.oauth2_client_id ? "oauth2_client_id" :
			      !c->auth.oauth2_refresh_token && !c->auth.oauth2_refresh_token_file ?
			      "oauth2_refresh_token" : NULL;
	return missing ? problem(p, "auth", missing, "missing (the oauth2_* keys "
				"need it)") : 0;
}

/*
 * check_clear_auth - without TLS, a password (or anything derived from it)
 * goes only to a loopback address on a port below 1024, where only root
 * can listen: any local user can bind 127.0.0.1:2525 while the real relay
 * is down
 */
static int check_clear_auth(const struct conf *c, struct conf_problem *p)
{
	if (c->smarthost.tls != CONF_TLS_NONE || c->auth.user == NULL ||
	    c->auth.mechanism == CONF_MECH_NONE)
		return 0;
	if (!conf_clear_auth_allowed(c->smarthost.host, 0))
		return problem(p, "smarthost", "tls", "\"none\": authentication "
			      "without TLS is only allowed to a loopback address");
	if (!conf_clear_auth_allowed(c->smarthost.host, c->smarthost.port))
		return problem(p, "smarthost", "port", "%u: authentication without TLS "
			      "is only allowed to a port below 1024 (where only root can "
			      "listen)", c->smarthost.port);
	return 0;
}

/*
 * check_tls_version - tls_min_version; the cipher lists only OpenSSL can
 * judge, so the TLS module checks them (tls_check_settings)
 */
static int check_tls_version(const struct conf *c, struct conf_problem *p)
{
	const char *v = c->smarthost.tls_min_version;
	if (v != NULL && strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0)
		return problem(p, "smarthost", "tls_min_version", "\"%.16s\" is not "
			      "one of 1.2, 1.3", v);
	return 0;
}

/* conf_check_keys - the rules that tie several keys together */
int conf_check_keys(const struct conf *c, struct conf_problem *p)
{
	if (c->smarthost.host == NULL)
		return problem(p, "smarthost", "host", "missing (it is required)");
	for (size_t i = 0; i < sizeof pair_rules / sizeof pair_rules[0]; i++) {
		const struct pair_rule *r = &pair_rules[i];
		bool a = string_at(c, r->key_at) != NULL;
		bool b = string_at(c, r->other_at) != NULL;
		if (a && !b && r->how == NEEDS)
			return problem(p, r->section, r->key, "set without %s", r->other);
		if (a && b && r->how == EXCLUDES)
			return problem(p, r->section, r->key, "cannot be set together "
				      "with %s", r->other);
	}
	if (!c->smarthost.tls_verify && c->smarthost.tls_fingerprint == NULL)
		return problem(p, "smarthost", "tls_verify", "\"no\" without "
			      "tls_fingerprint would trust any certificate: trust a private "
			      "one with tls_ca_file, or pin it with tls_fingerprint");
	if (check_clear_auth(c, p) < 0 || check_tls_version(c, p) < 0)
		return -1;
	return check_auth(c, p);
}
