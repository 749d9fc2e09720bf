/* import_dma - dma.conf and its auth.conf to relaymail settings; see import_parse.h */
#include "import_parse.h"

#include <stdio.h>
#include <string.h>

/* masquerade - "user@host" fixes the sender, "host" the domain, "user@" has no equivalent */
static int masquerade(struct import *im, const char *v)
{
	const char *at = strchr(v, '@');
	if (at == NULL)
		return import_set(im, im->domain, sizeof im->domain, "MASQUERADE", v);
	if (at[1] == '\0') {
		import_note(im, "dma: MASQUERADE %s does not carry over (relaymail keeps the user's name)", v);
		return 0;
	}
	im->allow_from_override = 0;
	return import_set(im, im->from, sizeof im->from, "MASQUERADE", v);
}

/* setting - one "KEY [value]" line; flags have no value */
static int setting(struct import *im, int flags[2], const char *k, const char *v)
{
	int *secure = &flags[0], *starttls = &flags[1];
	if (strcmp(k, "SMARTHOST") == 0)
		return import_set(im, im->host, sizeof im->host, k, v);
	if (strcmp(k, "PORT") == 0)
		return import_port(im, "dma PORT", v);
	if (strcmp(k, "ALIASES") == 0)
		return import_set(im, im->aliases_file, sizeof im->aliases_file, k, v);
	if (strcmp(k, "AUTHPATH") == 0)
		return import_set(im, im->aux_path, sizeof im->aux_path, k, v);
	if (strcmp(k, "CERTFILE") == 0)	/* dma reads certificate and key from this one file */
		return import_set(im, im->tls_cert_file, sizeof im->tls_cert_file, k, v) < 0 ? -1 :
		       import_set(im, im->tls_key_file, sizeof im->tls_key_file, k, v);
	if (strcmp(k, "FINGERPRINT") == 0)
		return import_set(im, im->tls_fingerprint, sizeof im->tls_fingerprint, k, v);
	if (strcmp(k, "MAILNAME") == 0)
		return import_domain(im, k, v);
	if (strcmp(k, "MASQUERADE") == 0)
		return masquerade(im, v);
	if (strcmp(k, "SECURETRANSFER") == 0)
		*secure = 1;
	else if (strcmp(k, "STARTTLS") == 0)
		*starttls = 1;
	else if (strcmp(k, "DEFER") == 0)
		(void)snprintf(im->mode, sizeof im->mode, "queue");
	else if (strcmp(k, "NULLCLIENT") != 0)	/* relaymail is always a null client */
		import_note(im, "dma: %s does not carry over", k);
	return 0;
}

/* import_dma - dma.conf; the smarthost is required (without it dma delivers itself) */
int import_dma(struct import *im, const char *text)
{
	int flags[2] = { 0, 0 };
	if (import_each(im, text, 0, "dma", flags, setting) < 0)
		return -1;
	int secure = flags[0], starttls = flags[1];
	if (im->host[0] == '\0')
		return import_fail(im, "dma: no SMARTHOST (dma delivers directly; relaymail needs a smarthost)");
	im->tls = !secure ? IMPORT_TLS_NONE : starttls ? IMPORT_TLS_STARTTLS : IMPORT_TLS_IMPLICIT;
	if (im->port == 0)
		im->port = 25;	/* dma's default, not relaymail's */
	return 0;
}

/* auth_line - "user" | "smarthost:password": 1 (stop) on the smarthost's line */
static int auth_line(struct import *im, int flags[2], const char *user, const char *rest)
{
	(void)flags;
	size_t n = strcspn(rest, ":");
	if (rest[n] != ':')
		return import_fail(im, "dma auth.conf: a line is not user|smarthost:password");
	if (strlen(im->host) != n || strncmp(rest, im->host, n) != 0)
		return 0;
	(void)snprintf(im->secret_from, sizeof im->secret_from, "dma's auth.conf");
	return import_set(im, im->user, sizeof im->user, "auth.conf", user) < 0 ? -1 : 1;
}

/* import_dma_auth - "user|smarthost:password" lines: the user of the smarthost's line */
int import_dma_auth(struct import *im, const char *text)
{
	if (import_each(im, text, '|', "dma auth.conf", NULL, auth_line) < 0)
		return -1;
	if (im->secret_from[0] == '\0')
		import_note(im, "dma auth.conf: no line for %s: no authentication", im->host);
	return 0;
}
