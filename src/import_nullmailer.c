/* import_nullmailer - nullmailer's configuration files to relaymail settings; see import_parse.h */
#include "import_parse.h"

#include <stdio.h>
#include <string.h>

/* remote_option - one --name[=value] of a remotes line */
static int remote_option(struct import *im, const char *opt)
{
	const char *eq = strchr(opt, '=');
	const char *v = eq != NULL ? eq + 1 : "";
	size_t n = eq != NULL ? (size_t)(eq - opt) : strlen(opt);
#define IS(name) (n == sizeof(name) - 1 && strncmp(opt, name, n) == 0)
	if (IS("--port"))
		return import_port(im, "nullmailer remotes --port", v);
	if (IS("--user"))
		return import_set(im, im->user, sizeof im->user, "--user", v);
	if (IS("--x509cafile"))
		return import_set(im, im->tls_ca_file, sizeof im->tls_ca_file, "--x509cafile", v);
	if (IS("--x509certfile"))
		return import_set(im, im->tls_cert_file, sizeof im->tls_cert_file, "--x509certfile", v);
	if (IS("--x509keyfile"))
		return import_set(im, im->tls_key_file, sizeof im->tls_key_file, "--x509keyfile", v);
	if (IS("--pass"))
		(void)snprintf(im->secret_from, sizeof im->secret_from, "nullmailer's remotes (--pass)");
	else if (IS("--ssl"))
		im->tls = im->tls == IMPORT_TLS_STARTTLS ? im->tls : IMPORT_TLS_IMPLICIT;
	else if (IS("--starttls"))
		im->tls = IMPORT_TLS_STARTTLS;
	else if (IS("--auth-login"))
		(void)snprintf(im->mechanism, sizeof im->mechanism, "login");
	else
		import_note(im, "nullmailer remotes: %.*s does not carry over", (int)n, opt);
#undef IS
	return 0;
}

/* remotes_in - remotes' work, reading text line by line into line (n bytes) */
static int remotes_in(struct import *im, const char *text, char *line, size_t n)
{
	char *host, *rest;
	int r, seen = 0;
	while ((r = import_line(im, &text, line, n)) == 0) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		(void)import_split(line, 0, &host, &rest);
		if (seen++ > 0) {
			import_note(im, "nullmailer remotes: %s does not carry over (relaymail relays to one smarthost)", host);
			continue;
		}
		if (import_set(im, im->host, sizeof im->host, "remotes", host) < 0)
			return -1;
		im->tls = IMPORT_TLS_NONE;
		char *proto, *opts;
		(void)import_split(rest, 0, &proto, &opts);
		if (*proto != '\0' && strcmp(proto, "smtp") != 0)
			return import_fail(im, "nullmailer remotes: %s uses %s; relaymail speaks only SMTP", host, proto);
		while (*opts != '\0') {
			char *opt;
			(void)import_split(opts, 0, &opt, &opts);
			if (remote_option(im, opt) < 0)
				return -1;
		}
	}
	if (r < 0)
		return -1;
	return seen > 0 ? 0 : import_fail(im, "nullmailer remotes: no remote host");
}

/* remotes - the first remote is the smarthost; relaymail has only one */
static int remotes(struct import *im, const char *text)
{
	char line[IMPORT_VALUE_MAX + 64];
	int r = remotes_in(im, text, line, sizeof line);
	wipe_memory(line, sizeof line);	/* --pass= may have been on it */
	return r;
}

/* first_line - the file's first line ("" for an empty file, as nullmailer reads it), or -1 */
static int first_line(struct import *im, const char *name, const char *text, char *line, size_t n)
{
	int r = import_line(im, &text, line, n);
	if (r < 0)
		return import_fail(im, "nullmailer %s: the line is too long", name);
	if (r == 1)
		line[0] = '\0';
	return 0;
}

/* import_nullmailer - one file; call defaultdomain before defaulthost (it completes it) */
int import_nullmailer(struct import *im, const char *name, const char *text)
{
	char v[IMPORT_VALUE_MAX];
	if (strcmp(name, "remotes") == 0)
		return remotes(im, text);
	if (first_line(im, name, text, v, sizeof v) < 0)
		return -1;
	if (v[0] == '\0')
		return 0;	/* an empty file is an unset setting */
	if (strcmp(name, "defaultdomain") == 0)
		return import_set(im, im->domain, sizeof im->domain, name, v);
	if (strcmp(name, "defaulthost") == 0) {
		char full[256];
		int n = strchr(v, '.') != NULL || im->domain[0] == '\0' ?
			snprintf(full, sizeof full, "%s", v) : snprintf(full, sizeof full, "%s.%s", v, im->domain);
		if (n < 0 || (size_t)n >= sizeof full)
			return import_fail(im, "nullmailer defaulthost: too long");
		return import_set(im, im->domain, sizeof im->domain, name, full);
	}
	if (strcmp(name, "helohost") == 0 || (strcmp(name, "me") == 0 && im->helo[0] == '\0'))
		return import_set(im, im->helo, sizeof im->helo, name, v);
	if (strcmp(name, "adminaddr") == 0)
		return import_add_alias(im, "default", v);
	if (strcmp(name, "allmailfrom") == 0) {
		im->allow_from_override = 0;
		return import_set(im, im->from, sizeof im->from, name, v);
	}
	if (strcmp(name, "me") != 0)
		import_note(im, "nullmailer %s does not carry over", name);
	return 0;
}
