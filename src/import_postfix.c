/* import_postfix - main.cf and the SASL password map's source file; see import_parse.h */
#include "import_parse.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* the main.cf values relaymail has a use for, read before any is applied ($name references) */
struct postfix {
	char relayhost[256], level[32], wrapper[8], sasl[8], maps[IMPORT_VALUE_MAX];
	char ca[IMPORT_VALUE_MAX], cert[IMPORT_VALUE_MAX], key[IMPORT_VALUE_MAX];
	char helo[256], myorigin[256], mydomain[256], myhostname[256];
};

/* logical_line - one main.cf entry: a line and the indented lines that continue it */
static int logical_line(struct import *im, const char **text, char *line, size_t n)
{
	int r = import_line(im, text, line, n);
	while (r == 0 && (**text == ' ' || **text == '\t')) {
		char more[IMPORT_VALUE_MAX];
		size_t len = strlen(line);
		if (import_line(im, text, more, sizeof more) != 0)
			return -1;
		if (more[0] == '#' || more[0] == '\0')
			continue;
		if (len + 1 + strlen(more) >= n)
			return import_fail(im, "postfix: an entry is longer than %zu characters", n - 1);
		line[len] = ' ';
		memcpy(line + len + 1, more, strlen(more) + 1);
	}
	return r;
}

/* keep - store the value of a key relaymail uses; 1 when the key is not one of them */
static int keep(struct import *im, struct postfix *p, const char *k, const char *v)
{
#define K(name, field) IMPORT_FIELD(name, struct postfix, field)
	static const struct import_field keys[] = {
		K("relayhost", relayhost), K("smtp_tls_security_level", level),
		K("smtp_tls_wrappermode", wrapper), K("smtp_sasl_auth_enable", sasl),
		K("smtp_sasl_password_maps", maps), K("smtp_tls_CAfile", ca),
		K("smtp_tls_cert_file", cert), K("smtp_tls_key_file", key), K("smtp_helo_name", helo),
		K("myorigin", myorigin), K("mydomain", mydomain), K("myhostname", myhostname),
	};
#undef K
	return import_field_set(im, p, keys, sizeof keys / sizeof keys[0], k, v);
}

/* expand - $mydomain / $myhostname (or ${...}); NULL for any other reference */
static const char *expand(const struct postfix *p, const char *v)
{
	if (strchr(v, '$') == NULL)
		return v;
	if (strcmp(v, "$mydomain") == 0 || strcmp(v, "${mydomain}") == 0)
		return p->mydomain[0] != '\0' ? p->mydomain : NULL;
	if (strcmp(v, "$myhostname") == 0 || strcmp(v, "${myhostname}") == 0)
		return p->myhostname[0] != '\0' ? p->myhostname : NULL;
	return NULL;
}

/* tls_level - smtp_tls_security_level (and the wrapper mode) into tls and tls_verify */
static void tls_level(struct import *im, const struct postfix *p)
{
	const char *l = p->level[0] != '\0' ? p->level : "none";
	bool wrapped = import_yes(p->wrapper) == 1;
	im->tls = wrapped ? IMPORT_TLS_IMPLICIT : IMPORT_TLS_STARTTLS;
	if (strcmp(l, "none") == 0 && !wrapped)
		im->tls = IMPORT_TLS_NONE;
	else if (strcmp(l, "may") == 0 || strcmp(l, "encrypt") == 0)
		import_note(im, "postfix: smtp_tls_security_level = %s does not carry over: relaymail %s", l,
			    "always encrypts and verifies the certificate (set tls_ca_file or tls_fingerprint for a private one)");
	else if (strcmp(l, "verify") != 0 && strcmp(l, "secure") != 0)
		import_note(im, "postfix: smtp_tls_security_level = %s does not carry over", l);
}

/* apply - the kept values to relaymail's settings */
static int apply(struct import *im, const struct postfix *p)
{
	if (p->relayhost[0] == '\0')
		return import_fail(im, "postfix: relayhost is empty (Postfix delivers directly; relaymail needs a smarthost)");
	const char *relay = expand(p, p->relayhost);
	if (relay == NULL)
		return import_fail(im, "postfix: relayhost = %s: cannot expand it", p->relayhost);
	if (import_host_port(im, "postfix relayhost", relay) < 0)
		return -1;
	if (im->port == 0)
		im->port = 25;	/* Postfix's default, not relaymail's */
	tls_level(im, p);
	const char *origin = expand(p, p->myorigin[0] != '\0' ? p->myorigin : "$myhostname");
	if (origin == NULL)
		import_note(im, "postfix: myorigin = %s does not carry over: set [sender] domain", p->myorigin);
	if ((origin != NULL && import_domain(im, "myorigin", origin) < 0) ||
	    import_set(im, im->tls_ca_file, sizeof im->tls_ca_file, "smtp_tls_CAfile", p->ca) < 0 ||
	    import_set(im, im->tls_cert_file, sizeof im->tls_cert_file, "smtp_tls_cert_file", p->cert) < 0 ||
	    import_set(im, im->tls_key_file, sizeof im->tls_key_file, "smtp_tls_key_file", p->key) < 0)
		return -1;
	const char *helo = expand(p, p->helo);
	if (helo == NULL)
		import_note(im, "postfix: smtp_helo_name = %s does not carry over", p->helo);
	else if (import_set(im, im->helo, sizeof im->helo, "smtp_helo_name", helo) < 0)
		return -1;
	if (import_yes(p->sasl) != 1)
		return 0;
	/* "hash:/etc/postfix/sasl_passwd": the source file of the first map */
	const char *colon = strchr(p->maps, ':');
	size_t n = strcspn(colon != NULL ? colon + 1 : "", " ,");
	if (colon == NULL || colon[1] != '/' || n >= sizeof im->aux_path)
		return import_fail(im, "postfix: smtp_sasl_password_maps = %s: not a file map", p->maps);
	memcpy(im->aux_path, colon + 1, n);
	im->aux_path[n] = '\0';
	return 0;
}

/* import_postfix - main.cf: only the client side of Postfix has an equivalent */
int import_postfix(struct import *im, const char *text)
{
	struct postfix p;
	char line[4096], *k, *v;
	int r;
	memset(&p, 0, sizeof p);
	while ((r = logical_line(im, &text, line, sizeof line)) == 0) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (import_split(line, '=', &k, &v) < 0)
			return import_fail(im, "postfix: \"%.60s\" is not name = value", line);
		int kept = keep(im, &p, k, v);
		if (kept < 0)
			return -1;
		if (kept > 0)
			import_note(im, "postfix: %s does not carry over", k);
	}
	return r < 0 ? -1 : apply(im, &p);
}

/* sasl_line - "[host]:port" "user:password": 1 (stop) on the relayhost's line */
static int sasl_line(struct import *im, int flags[2], const char *key, const char *value)
{
	char host[256];
	(void)flags;
	size_t n = strcspn(value, ":");
	if (value[n] != ':')
		return import_fail(im, "postfix SASL password file: a line is not \"host user:password\"");
	if (*key == '[')
		key++;
	(void)snprintf(host, sizeof host, "%.*s", (int)strcspn(key, "]:"), key);
	if (strcmp(host, im->host) != 0)
		return 0;
	(void)snprintf(im->secret_from, sizeof im->secret_from, "Postfix's SASL password file");
	char user[IMPORT_VALUE_MAX];
	(void)snprintf(user, sizeof user, "%.*s", (int)n, value);
	return import_set(im, im->user, sizeof im->user, "user", user) < 0 ? -1 : 1;
}

/* import_postfix_sasl - "[host]:port user:password" lines: the user for the relayhost */
int import_postfix_sasl(struct import *im, const char *text)
{
	if (import_each(im, text, 0, "postfix SASL password file", NULL, sasl_line) < 0)
		return -1;
	if (im->secret_from[0] == '\0')
		import_note(im, "postfix: the SASL password file has no line for %s: no authentication",
			    im->host);
	return 0;
}
