/* import_ssmtp - ssmtp.conf and revaliases to relaymail settings; see import_parse.h */
#include "import_parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* flag - a YES/NO key into *out (1/0); a note when it is neither */
static void flag(struct import *im, const char *key, const char *v, int *out)
{
	int yes = import_yes(v);
	if (yes < 0)
		import_note(im, "ssmtp: %s=%s is neither YES nor NO: ignored", key, v);
	else
		*out = yes;
}

/* setting - one Key=Value line; keys in any case, as ssmtp reads them */
static int setting(struct import *im, int flags[2], const char *k, const char *v)
{
	int *tls = &flags[0], *starttls = &flags[1];
	if (strcasecmp(k, "mailhub") == 0)
		return import_host_port(im, "ssmtp mailhub", v);
	if (strcasecmp(k, "root") == 0)
		return *v != '\0' ? import_add_alias(im, "root", v) : 0;
	if (strcasecmp(k, "RewriteDomain") == 0)
		return import_domain(im, k, v);
	if (strcasecmp(k, "hostname") == 0)
		return import_set(im, im->helo, sizeof im->helo, k, v);
	if (strcasecmp(k, "AuthUser") == 0)
		return import_set(im, im->user, sizeof im->user, k, v);
	if (strcasecmp(k, "TLS_CA_File") == 0)
		return import_set(im, im->tls_ca_file, sizeof im->tls_ca_file, k, v);
	if (strcasecmp(k, "TLSCert") == 0)
		return import_set(im, im->tls_cert_file, sizeof im->tls_cert_file, k, v);
	if (strcasecmp(k, "TLSKey") == 0)
		return import_set(im, im->tls_key_file, sizeof im->tls_key_file, k, v);
	if (strcasecmp(k, "AuthPass") == 0)
		(void)snprintf(im->secret_from, sizeof im->secret_from, "ssmtp's AuthPass");
	else if (strcasecmp(k, "AuthMethod") == 0)
		(void)snprintf(im->mechanism, sizeof im->mechanism, "%s",
			       strcasecmp(v, "cram-md5") == 0 ? "cram-md5" : "auto");
	else if (strcasecmp(k, "FromLineOverride") == 0)
		flag(im, k, v, &im->allow_from_override);
	else if (strcasecmp(k, "UseTLS") == 0)
		flag(im, k, v, tls);
	else if (strcasecmp(k, "UseSTARTTLS") == 0)
		flag(im, k, v, starttls);
	else
		import_note(im, "ssmtp: %s does not carry over", k);
	return 0;
}

/* import_ssmtp - ssmtp.conf: UseSTARTTLS wins over UseTLS; neither is plain SMTP */
int import_ssmtp(struct import *im, const char *text)
{
	int flags[2] = { 0, 0 };
	if (import_each(im, text, '=', "ssmtp", flags, setting) < 0)
		return -1;
	int tls = flags[0], starttls = flags[1];
	if (im->host[0] == '\0')
		return import_fail(im, "ssmtp: no mailhub");
	im->tls = starttls ? IMPORT_TLS_STARTTLS : tls ? IMPORT_TLS_IMPLICIT : IMPORT_TLS_NONE;
	if (im->allow_from_override < 0)
		im->allow_from_override = 0;	/* ssmtp's default is FromLineOverride=NO */
	if (im->tls_cert_file[0] != '\0' && im->tls_key_file[0] == '\0')
		(void)snprintf(im->tls_key_file, sizeof im->tls_key_file, "%s", im->tls_cert_file);
	if (tls || starttls)
		import_note(im, "ssmtp: the smarthost's certificate was not verified; relaymail verifies it "
			    "(set tls_ca_file or tls_fingerprint for a private one)");
	return 0;
}

/* revalias - one local:from:mailhub line: noted, not carried over */
static int revalias(struct import *im, int flags[2], const char *user, const char *rest)
{
	(void)flags;
	import_note(im, "ssmtp revaliases: %s's sender %s does not carry over "
		    "(relaymail has one [sender] rule for every user)", user, rest);
	return 0;
}

/* import_ssmtp_revaliases - local:from:mailhub lines; relaymail has no per-user sender */
int import_ssmtp_revaliases(struct import *im, const char *text)
{
	return import_each(im, text, ':', "revaliases", NULL, revalias);
}
