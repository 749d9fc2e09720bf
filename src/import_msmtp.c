/* import_msmtp - an msmtprc (accounts, defaults, inheritance) to relaymail settings; see import_parse.h */
#include "import_parse.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MSMTP_DEPTH 8	/* account x : y chains deeper than this are refused (a loop) */

/* the parse state of one account: msmtp's tls and tls_starttls combine at the end */
struct msmtp_tls {
	int tls;		/* -1 unset */
	int starttls;		/* -1 unset (msmtp's default: on) */
};

/* unquote - msmtp's "..." values with \" and \\ inside, in place */
static void unquote(char *v)
{
	size_t n = strlen(v);
	if (n < 2 || v[0] != '"' || v[n - 1] != '"')
		return;
	char *out = v;
	for (size_t i = 1; i + 1 < n; i++) {
		if (v[i] == '\\' && i + 2 < n)
			i++;
		*out++ = v[i];
	}
	*out = '\0';
}

/* split - "key value" into key and value (value "" when absent) */
static void split(char *line, char **key, char **value)
{
	char *p = line;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	*key = line;
	*value = p;
	unquote(p);
}

/* set_auth - auth on | off | a mechanism */
static void set_auth(struct import *im, const char *v)
{
	static const char *const same[] = { "plain", "login", "cram-md5", "scram-sha-256",
					     "xoauth2", "oauthbearer" };
	int yes = import_yes(v);
	const char *m = yes == 1 ? "auto" : yes == 0 ? "none" : NULL;
	for (size_t i = 0; m == NULL && i < sizeof same / sizeof same[0]; i++)
		if (strcasecmp(v, same[i]) == 0)
			m = same[i];
	if (m == NULL) {
		import_note(im, "msmtp: auth %s does not carry over: relaymail has no such mechanism, auto chosen", v);
		m = "auto";
	}
	(void)snprintf(im->mechanism, sizeof im->mechanism, "%s", m);
}

/* set_mapped - keys that map to one relaymail value, "~/" expanded */
static int set_mapped(struct import *im, const char *key, const char *v)
{
#define MAP(k, field) IMPORT_FIELD(k, struct import, field)
	static const struct import_field map[] = {
		MAP("host", host), MAP("tls_cert_file", tls_cert_file), MAP("tls_key_file", tls_key_file),
		MAP("user", user), MAP("passwordeval", password_command), MAP("maildomain", domain),
		MAP("domain", helo), MAP("aliases", aliases_file), MAP("logfile", log_file),
	};
#undef MAP
	return import_field_set(im, im, map, sizeof map / sizeof map[0], key, v);
}

/* setting - one "key value" line of the chosen account */
static int setting(struct import *im, struct msmtp_tls *t, const char *key, const char *v)
{
	if (strcmp(key, "passwordeval") == 0)	/* the later of password / passwordeval wins */
		im->secret_from[0] = '\0';
	int r = set_mapped(im, key, v);
	if (r <= 0)
		return r;
	if (strcmp(key, "port") == 0)
		return import_port(im, "msmtp port", v);
	if (strcmp(key, "tls") == 0)
		t->tls = import_yes(v);
	else if (strcmp(key, "tls_starttls") == 0)
		t->starttls = import_yes(v);
	else if (strcmp(key, "tls_certcheck") == 0)
		im->tls_verify = import_yes(v);
	else if (strcmp(key, "tls_trust_file") == 0)
		return strcmp(v, "system") == 0 ? 0 : import_set(im, im->tls_ca_file, sizeof im->tls_ca_file, key, v);
	else if (strcmp(key, "tls_fingerprint") == 0 && strlen(v) == 95)
		return import_set(im, im->tls_fingerprint, sizeof im->tls_fingerprint, key, v);
	else if (strcmp(key, "auth") == 0)
		set_auth(im, v);
	else if (strcmp(key, "password") == 0) {
		(void)snprintf(im->secret_from, sizeof im->secret_from, "msmtp's password");
		im->password_command[0] = '\0';
	}
	else if (strcmp(key, "from") == 0 && strpbrk(v, "*?[%,") == NULL)
		return import_set(im, im->from, sizeof im->from, key, v);
	else if (strcmp(key, "from") == 0 && strncmp(v, "%U@", 3) == 0 && strpbrk(v + 3, "*?[%,") == NULL)
		return import_set(im, im->domain, sizeof im->domain, key, v + 3);	/* login@domain: the default */
	else if (strcmp(key, "timeout") == 0 && import_yes(v) != 0)
		(void)snprintf(im->timeout, sizeof im->timeout, "%.20ss", v);
	else if (strcmp(key, "allow_from_override") == 0)
		im->allow_from_override = import_yes(v) != 0;
	else if (strcmp(key, "syslog") == 0)
		im->syslog = import_yes(v) != 0;
	else if (!(strcmp(key, "protocol") == 0 && strcmp(v, "smtp") == 0) &&
		 !(strcmp(key, "timeout") == 0) && strcmp(key, "auto_from") != 0)
		import_note(im, "msmtp: %s does not carry over", key);
	return 0;
}

/* header - "defaults" or "account NAME [: PARENTS]": 1 and the name/parents, 0 for other lines */
static int header(char *line, char **name, char **parents)
{
	if (strcmp(line, "defaults") == 0) {
		*name = NULL;
		*parents = NULL;
		return 1;
	}
	if (strncmp(line, "account", 7) != 0 || !isspace((unsigned char)line[7]))
		return 0;
	char *p = line + 7;
	while (isspace((unsigned char)*p))
		p++;
	*name = p;
	char *colon = strchr(p, ':');
	*parents = colon != NULL ? colon + 1 : NULL;
	char *end = colon != NULL ? colon : p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return 1;
}

static int resolve(struct import *im, struct msmtp_tls *t, const char *text, const char *account, int depth);

/* parents - resolve each of "a, b" in order */
static int parents(struct import *im, struct msmtp_tls *t, const char *text, char *list, int depth)
{
	for (char *p = list; p != NULL;) {
		char *comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		while (isspace((unsigned char)*p))
			p++;
		char *end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*p != '\0' && resolve(im, t, text, p, depth + 1) < 0)
			return -1;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}

/* resolve_in - resolve's work, reading text line by line into line (n bytes) */
static int resolve_in(struct import *im, struct msmtp_tls *t, const char *text, const char *account,
		      int depth, char *line, size_t n)
{
	char *name, *plist, *key, *value;
	int in = 0, found = 0, r;	/* in: 0 none, 1 defaults, 2 the account */
	const char *p = text;
	if (depth > MSMTP_DEPTH)
		return import_fail(im, "account %s: inheritance deeper than %d accounts (a loop?)", account, MSMTP_DEPTH);
	while ((r = import_line(im, &p, line, n)) == 0) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (header(line, &name, &plist)) {
			if (found)
				break;
			in = name == NULL ? 1 : strcmp(name, account) == 0 ? 2 : 0;
			found = in == 2;
			if (found && plist != NULL && parents(im, t, text, plist, depth) < 0)
				return -1;
			continue;
		}
		split(line, &key, &value);
		if (in != 0 && setting(im, t, key, value) < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	return found ? 0 : import_fail(im, "no account \"%s\"%s", account,
				       depth == 0 ? " (name one with --import=msmtp:NAME)" : "");
}

/* resolve - the defaults before the account, its parents, then its own lines */
static int resolve(struct import *im, struct msmtp_tls *t, const char *text, const char *account, int depth)
{
	char line[IMPORT_VALUE_MAX + 64];
	int r = resolve_in(im, t, text, account, depth, line, sizeof line);
	wipe_memory(line, sizeof line);	/* it may have held a password */
	return r;
}

/* import_msmtp - resolve the account, then msmtp's tls/tls_starttls pair */
int import_msmtp(struct import *im, const char *text, const char *account)
{
	struct msmtp_tls t = { -1, -1 };
	if (resolve(im, &t, text, account != NULL ? account : "default", 0) < 0)
		return -1;
	im->tls = t.tls != 1 ? IMPORT_TLS_NONE : t.starttls == 0 ? IMPORT_TLS_IMPLICIT : IMPORT_TLS_STARTTLS;
	if (im->password_command[0] != '\0')
		import_note(im, "msmtp: passwordeval is now password_command, run for every user who sends "
			    "and for root's queue runs: check that it works for them");
	if (im->tls_verify == 0 && im->tls_fingerprint[0] == '\0')
		import_note(im, "msmtp: tls_certcheck off does not carry over without tls_fingerprint: "
			    "certificates are verified");
	if (im->tls_verify == 0 && im->tls_fingerprint[0] == '\0')
		im->tls_verify = -1;
	return 0;
}
