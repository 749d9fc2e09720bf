/* conf - the INI configuration file into a struct conf; see conf.h */
#include "conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iniparser.h>

#include "buf.h"
#include "conf_check.h"

#define WHY_MAX 256		/* one problem text, without the "FILE: [s] k: " */
#define SHOWN_MAX 48		/* bytes of a bad value quoted back in an error */
#define TIMEOUT_MAX 86400	/* one day: keeps timeout * 1000 inside an int */

/* one key being parsed: what the table's parse function gets */
struct setting {
	const char *value;	/* as iniparser returns it: trimmed, unquoted */
	const char *shown;	/* the value quoted for an error, or "the value" */
	struct conf *conf;
	void *field;		/* where it goes inside conf */
	char *why;		/* the problem, when the parse function fails */
};

/* a row of the key table */
struct conf_key {
	const char *section;
	const char *name;
	int (*parse)(const struct setting *s);
	size_t offset;
	unsigned flags;
};

#define KEY_SECRET 1u		/* never quote the value back */
#define KEY_EMPTY_OK 2u		/* "" is a value, not "use the default" */

/* one conf_load() call: the file, the result, and where an error goes */
struct conf_loading {
	const char *path;
	struct conf *c;
	char *err;
	size_t errlen;
};

static const struct name_value tls_names[] = {
	{ "starttls", CONF_TLS_STARTTLS }, { "tls", CONF_TLS_IMPLICIT },
	{ "none", CONF_TLS_NONE }, { NULL, 0 },
};

static const struct name_value mode_names[] = {
	{ "sync", CONF_MODE_SYNC }, { "background", CONF_MODE_BACKGROUND },
	{ "queue", CONF_MODE_QUEUE }, { NULL, 0 },
};

static const struct name_value bool_names[] = {
	{ "yes", 1 }, { "true", 1 }, { "on", 1 }, { "1", 1 },
	{ "no", 0 }, { "false", 0 }, { "off", 0 }, { "0", 0 }, { NULL, 0 },
};

static const char *const section_names[] = {
	"smarthost", "auth", "sender", "aliases", "queue", "log", NULL,
};

/*
 * iniparser reports its syntax errors through a callback that takes no
 * context argument, so the text has to land in file-scope storage; it is
 * written and read only inside one conf_load() call.
 */
static char ini_error[512];

/* fail - record the problem for the key being parsed */
__attribute__((format(printf, 2, 3)))
static int fail(const struct setting *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->why, WHY_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 && snprintf(s->why, WHY_MAX, "bad value") < 0)
		s->why[0] = '\0';
	return -1;
}

/* has_control - a byte that has no place in a configuration value */
static bool has_control(const char *v)
{
	for (; *v != '\0'; v++)
		if (iscntrl((unsigned char)*v))
			return true;
	return false;
}

/* dup_into - replace the string field with a copy of v */
static int dup_into(const struct setting *s, const char *v)
{
	char *copy = strdup(v);
	if (copy == NULL)
		return fail(s, "out of memory");
	char **field = s->field;
	free(*field);
	*field = copy;
	return 0;
}

/* parse_text - any one-line text (user names, client ids, secrets) */
static int parse_text(const struct setting *s)
{
	if (has_control(s->value))
		return fail(s, "contains a control character");
	return dup_into(s, s->value);
}

/* parse_path - an absolute file name */
static int parse_path(const struct setting *s)
{
	if (s->value[0] != '/')
		return fail(s, "%s is not an absolute path", s->shown);
	return parse_text(s);
}

/* parse_path_or_empty - an absolute file name, or "" to turn it off */
static int parse_path_or_empty(const struct setting *s)
{
	if (s->value[0] == '\0')
		return dup_into(s, "");
	return parse_path(s);
}

/* is_name - letters, digits and extra only, not starting with - or . */
static bool is_name(const char *v, const char *extra)
{
	if (*v == '-' || *v == '.')
		return false;
	for (; *v != '\0'; v++)
		if (!isalnum((unsigned char)*v) && strchr(extra, *v) == NULL)
			return false;
	return true;
}

/* parse_host - a host name or an IP address for getaddrinfo */
static int parse_host(const struct setting *s)
{
	if (!is_name(s->value, ".-_:"))
		return fail(s, "%s is not a host name or IP address", s->shown);
	return dup_into(s, s->value);
}

/* parse_domain - a domain name */
static int parse_domain(const struct setting *s)
{
	if (!is_name(s->value, ".-"))
		return fail(s, "%s is not a domain name", s->shown);
	return dup_into(s, s->value);
}

/* parse_helo - a domain name or an address literal such as [192.0.2.1] */
static int parse_helo(const struct setting *s)
{
	const char *v = s->value;
	size_t n = strlen(v);
	if (v[0] != '[')
		return parse_domain(s);
	if (n < 3 || strchr(v, ']') != v + n - 1 || !is_name(v + 1, ".:]"))
		return fail(s, "%s is not a domain name or address literal", s->shown);
	return dup_into(s, v);
}

/* parse_address - an envelope address, or a local name completed later */
static int parse_address(const struct setting *s)
{
	const char *v = s->value;
	const char *at = strrchr(v, '@');
	if (v[0] == '-' || v[0] == '@' || (at != NULL && at[1] == '\0'))
		return fail(s, "%s is not an e-mail address", s->shown);
	for (; *v != '\0'; v++)
		if (isspace((unsigned char)*v) || iscntrl((unsigned char)*v) ||
		    strchr("<>(),", *v) != NULL)
			return fail(s, "%s is not an e-mail address", s->shown);
	return dup_into(s, s->value);
}

/* parse_https - a URL that can only be fetched over TLS */
static int parse_https(const struct setting *s)
{
	if (strncmp(s->value, "https://", 8) != 0 || s->value[8] == '\0')
		return fail(s, "%s does not start with https://", s->shown);
	for (const char *p = s->value; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return fail(s, "%s is not a URL", s->shown);
	return dup_into(s, s->value);
}

/* parse_port - a TCP port number */
static int parse_port(const struct setting *s)
{
	unsigned long n = 0;
	const char *p = s->value;
	for (; isdigit((unsigned char)*p) && n <= 65535; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (*p != '\0' || n < 1 || n > 65535)
		return fail(s, "%s is not a port number (1-65535)", s->shown);
	*(unsigned *)s->field = (unsigned)n;
	return 0;
}

/* parse_duration - seconds with an optional unit */
static int parse_duration(const struct setting *s)
{
	if (conf_parse_duration(s->value, s->field) < 0)
		return fail(s, "%s is not a duration (e.g. 90s, 10m, 1h, 5d, 2w)",
			    s->shown);
	return 0;
}

/* parse_positive_duration - a duration that may not be zero */
static int parse_positive_duration(const struct setting *s)
{
	if (parse_duration(s) < 0)
		return -1;
	if (*(unsigned *)s->field == 0)
		return fail(s, "must be longer than 0");
	return 0;
}

/* parse_size - bytes with an optional unit (k, M, G); 0 allowed */
static int parse_size(const struct setting *s)
{
	if (conf_parse_size(s->value, s->field) < 0)
		return fail(s, "%s is not a size (e.g. 0, 512k, 50M, 1G)", s->shown);
	return 0;
}

/* parse_timeout - a network step limit; unset means the RFC 5321 values */
static int parse_timeout(const struct setting *s)
{
	if (parse_positive_duration(s) < 0)
		return -1;
	if (*(unsigned *)s->field > TIMEOUT_MAX)
		return fail(s, "%s is too long (at most 1d)", s->shown);
	return 0;
}

/* parse_retry - "MIN..MAX" or one duration for both */
static int parse_retry(const struct setting *s)
{
	static const char *const usage =
		"is not a retry range (e.g. 5m..1h, or one duration)";
	char first[64];
	unsigned lo, hi;
	const char *dots = strstr(s->value, "..");
	size_t n = dots != NULL ? (size_t)(dots - s->value) : strlen(s->value);
	if (n >= sizeof first)
		return fail(s, "%s %s", s->shown, usage);
	memcpy(first, s->value, n);
	first[n] = '\0';
	if (conf_parse_duration(first, &lo) < 0 ||
	    conf_parse_duration(dots != NULL ? dots + 2 : first, &hi) < 0)
		return fail(s, "%s %s", s->shown, usage);
	if (lo == 0)
		return fail(s, "%s: the first retry must be later than 0", s->shown);
	if (lo > hi)
		return fail(s, "%s: the minimum is larger than the maximum", s->shown);
	s->conf->queue.retry_min = lo;
	s->conf->queue.retry_max = hi;
	return 0;
}

/* parse_fingerprint - SHA-256 in hex, colons allowed; kept lower case */
static int parse_fingerprint(const struct setting *s)
{
	char hex[65];
	size_t n = 0;
	for (const char *p = s->value; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == 64)
			return fail(s, "%s is not a SHA-256 fingerprint (64 hex digits)",
				    s->shown);
		hex[n++] = (char)tolower((unsigned char)*p);
	}
	if (n != 64)
		return fail(s, "%s is not a SHA-256 fingerprint (64 hex digits)",
			    s->shown);
	hex[n] = '\0';
	return dup_into(s, hex);
}

/* lookup - the value of name in a name table, or -1 */
static int lookup(const struct name_value *t, const char *name, int *value)
{
	for (; t->name != NULL; t++) {
		if (strcasecmp(t->name, name) == 0) {
			*value = t->value;
			return 0;
		}
	}
	return -1;
}

/* fail_choice - "not one of a, b, c" from a name table */
static int fail_choice(const struct setting *s, const struct name_value *t)
{
	struct buf list;
	buf_init(&list, WHY_MAX);
	for (; t->name != NULL; t++)
		if (buf_printf(&list, "%s%s", list.len ? ", " : "", t->name) < 0)
			break;
	fail(s, "%s is not one of %s", s->shown, buf_cstr(&list));
	buf_free(&list);
	return -1;
}

/* parse_bool - yes/no and its usual spellings */
static int parse_bool(const struct setting *s)
{
	int v;
	if (lookup(bool_names, s->value, &v) < 0)
		return fail(s, "%s is not yes or no", s->shown);
	*(bool *)s->field = v != 0;
	return 0;
}

/* parse_tls - [smarthost] tls */
static int parse_tls(const struct setting *s)
{
	int v;
	if (lookup(tls_names, s->value, &v) < 0)
		return fail_choice(s, tls_names);
	*(enum conf_tls *)s->field = (enum conf_tls)v;
	return 0;
}

/* parse_mech - [auth] mechanism */
static int parse_mech(const struct setting *s)
{
	int v;
	if (lookup(conf_mech_names, s->value, &v) < 0)
		return fail_choice(s, conf_mech_names);
	*(enum conf_mech *)s->field = (enum conf_mech)v;
	return 0;
}

/* parse_mode - [queue] mode */
static int parse_mode(const struct setting *s)
{
	int v;
	if (lookup(mode_names, s->value, &v) < 0)
		return fail_choice(s, mode_names);
	*(enum conf_queue_mode *)s->field = (enum conf_queue_mode)v;
	return 0;
}

/* a key whose name is its field's name in struct conf */
#define KEY(section, key, parse, flags) \
	{ #section, #key, parse, AT(section.key), flags }

/* every key but [aliases], whose keys are the user's own names */
static const struct conf_key conf_keys[] = {
	KEY(smarthost, host, parse_host, 0),
	KEY(smarthost, port, parse_port, 0),
	KEY(smarthost, tls, parse_tls, 0),
	KEY(smarthost, tls_verify, parse_bool, 0),
	KEY(smarthost, tls_ca_file, parse_path, 0),
	KEY(smarthost, tls_fingerprint, parse_fingerprint, 0),
	KEY(smarthost, tls_cert_file, parse_path, 0),
	KEY(smarthost, tls_key_file, parse_path, 0),
	KEY(smarthost, tls_min_version, parse_text, 0),	/* checked in conf_check.c */
	KEY(smarthost, tls_ciphers, parse_text, 0),
	KEY(smarthost, tls_ciphersuites, parse_text, 0),
	KEY(smarthost, helo, parse_helo, 0),
	KEY(smarthost, timeout, parse_timeout, 0),
	KEY(auth, mechanism, parse_mech, 0),
	KEY(auth, user, parse_text, 0),
	KEY(auth, password, parse_text, KEY_SECRET),
	KEY(auth, password_file, parse_path, 0),
	KEY(auth, password_command, parse_text, KEY_SECRET),
	KEY(auth, oauth2_token_url, parse_https, 0),
	KEY(auth, oauth2_client_id, parse_text, 0),
	KEY(auth, oauth2_client_secret, parse_text, KEY_SECRET),
	KEY(auth, oauth2_client_secret_file, parse_path, 0),
	KEY(auth, oauth2_refresh_token, parse_text, KEY_SECRET),
	KEY(auth, oauth2_refresh_token_file, parse_path, 0),
	KEY(sender, domain, parse_domain, 0),
	KEY(sender, from, parse_address, 0),
	KEY(sender, allow_from_override, parse_bool, 0),
	KEY(sender, rewrite_from, parse_bool, 0),
	KEY(sender, aliases_file, parse_path_or_empty, KEY_EMPTY_OK),
	KEY(queue, dir, parse_path, 0),
	KEY(queue, mode, parse_mode, 0),
	{ "queue", "retry", parse_retry, AT(queue.retry_min), 0 },	/* and retry_max */
	KEY(queue, max_age, parse_positive_duration, 0),
	KEY(queue, max_message_size, parse_size, 0),
	KEY(queue, min_free, parse_size, 0),
	KEY(queue, keep_failed, parse_duration, 0),
	KEY(log, syslog, parse_bool, 0),
	KEY(log, file, parse_path, 0),
};

/* find_key - the table row for section and key, or NULL */
static const struct conf_key *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < sizeof conf_keys / sizeof conf_keys[0]; i++)
		if (strcmp(conf_keys[i].section, section) == 0 &&
		    strcmp(conf_keys[i].name, key) == 0)
			return &conf_keys[i];
	return NULL;
}

/* known_section - one of SPEC's six sections */
static bool known_section(const char *name)
{
	for (size_t i = 0; section_names[i] != NULL; i++)
		if (strcmp(section_names[i], name) == 0)
			return true;
	return false;
}

/* show_value - the value quoted for an error, control bytes made visible */
static void show_value(const char *v, char *out, size_t outlen)
{
	size_t o = 0;
	out[o++] = '"';
	for (; *v != '\0' && o + 6 < outlen; v++) {
		unsigned char ch = (unsigned char)*v;
		out[o++] = (isprint(ch) && ch != '"') ? (char)ch : '?';
	}
	if (*v != '\0' && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/*
 * conf_report - put "FILE: [section] key: problem" (without the section,
 * or the key, when NULL) into ld->err. Always -1.
 */
__attribute__((format(printf, 4, 5)))
static int conf_report(const struct conf_loading *ld, const char *section, const char *key,
		const char *fmt, ...)
{
	char why[WHY_MAX], where[160] = "";
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (n < 0)
		why[0] = '\0';
	if (key != NULL && (section != NULL ?
	    snprintf(where, sizeof where, "[%s] %s: ", section, key) :
	    snprintf(where, sizeof where, "%s: ", key)) < 0)
		where[0] = '\0';
	if (snprintf(ld->err, ld->errlen, "%s: %s%s", ld->path, where, why) < 0 &&
	    ld->errlen > 0)
		ld->err[0] = '\0';
	return -1;
}

/* set_key - parse one value of a table key into the conf */
static int set_key(const struct conf_loading *ld, const struct conf_key *k,
		   const char *value)
{
	char shown[SHOWN_MAX + 8] = "the value";
	char why[WHY_MAX] = "";
	if (value[0] == '\0' && !(k->flags & KEY_EMPTY_OK))
		return 0;	/* "key =" keeps the default, as SPEC's example shows */
	if (!(k->flags & KEY_SECRET))
		show_value(value, shown, sizeof shown);
	const struct setting s = {
		.value = value,
		.shown = shown,
		.conf = ld->c,
		.field = (char *)ld->c + k->offset,
		.why = why,
	};
	return k->parse(&s) < 0 ? conf_report(ld, k->section, k->name, "%s", why) : 0;
}

/* alias_problem - what is wrong with an [aliases] entry, or NULL */
static const char *alias_problem(const char *name, const char *value)
{
	if (strcmp(name, "default") != 0) {
		if (name[0] == '\0' || !is_name(name, "._-+"))
			return "is not a local name (letters, digits, . _ - +)";
		if (value[0] == '\0')
			return "has no address";
	}
	if (has_control(value))
		return "contains a control character";
	/* every comma-separated element must hold something */
	for (const char *p = value; *p != '\0';) {
		size_t n = strcspn(p, ",");
		size_t blank = strspn(p, " \t");
		if (blank >= n)
			return "has an empty address in its list";
		p += n + (p[n] == ',');
		if (p[-1] == ',' && *p == '\0')
			return "has an empty address in its list";
	}
	return NULL;
}

/* add_alias - one [aliases] entry; "default" is the catch-all */
static int add_alias(const struct conf_loading *ld, const char *name, const char *value)
{
	struct conf *c = ld->c;
	const char *problem = alias_problem(name, value);
	if (problem != NULL)
		return conf_report(ld, "aliases", name, "%s", problem);
	if (strcmp(name, "default") == 0) {
		free(c->aliases.default_target);
		c->aliases.default_target = strdup(value);
		return c->aliases.default_target ? 0 :
		       conf_report(ld, "aliases", name, "out of memory");
	}
	struct conf_alias *v = realloc(c->aliases.v, (c->aliases.n + 1) * sizeof *v);
	if (v == NULL)
		return conf_report(ld, "aliases", name, "out of memory");
	c->aliases.v = v;
	v += c->aliases.n++;
	v->name = strdup(name);
	v->targets = strdup(value);
	return v->name && v->targets ? 0 : conf_report(ld, "aliases", name, "out of memory");
}

/* apply_entry - one dictionary entry: a section of its own, or section:key */
static int apply_entry(const struct conf_loading *ld, const char *entry, const char *value)
{
	char section[128];
	if (value == NULL) {	/* iniparser keeps each section as a valueless entry */
		if (!known_section(entry))
			return conf_report(ld, NULL, NULL, "[%s]: unknown section (expected "
				      "smarthost, auth, sender, aliases, queue or log)", entry);
		return 0;
	}
	const char *colon = strchr(entry, ':');
	if (colon == entry || colon == NULL)
		return conf_report(ld, NULL, colon ? colon + 1 : entry,
			      "key outside any section");
	size_t n = (size_t)(colon - entry);
	if (n >= sizeof section)
		n = sizeof section - 1;
	memcpy(section, entry, n);
	section[n] = '\0';
	if (!known_section(section))
		return 0;	/* the section's own entry reports it */
	if (strcmp(section, "aliases") == 0)
		return add_alias(ld, colon + 1, value);
	const struct conf_key *k = find_key(section, colon + 1);
	if (k == NULL)
		return conf_report(ld, section, colon + 1, "unknown key");
	return set_key(ld, k, value);
}

/* capture_ini_error - iniparser's error callback: keep its text */
__attribute__((format(printf, 1, 2)))
static int capture_ini_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(ini_error, sizeof ini_error, fmt, ap);
	va_end(ap);
	if (n < 0)
		ini_error[0] = '\0';
	return 0;
}

/*
 * parse_failure - turn iniparser's captured "... in FILE (LINE)" text into
 * our one line; the offending line is not quoted: it may hold a password.
 */
static int parse_failure(const struct conf_loading *ld)
{
	const char *open = strrchr(ini_error, '(');
	char *end = NULL;
	unsigned long line = open ? strtoul(open + 1, &end, 10) : 0;
	if (end == NULL || *end != ')')
		line = 0;
	if (strstr(ini_error, "too long") != NULL)
		return conf_report(ld, NULL, NULL, "line %lu: line too long (at most "
			      "1023 bytes)", line);
	if (strstr(ini_error, "syntax error") != NULL)
		return conf_report(ld, NULL, NULL, "line %lu: syntax error (expected "
			      "\"[section]\" or \"key = value\")", line);
	if (strstr(ini_error, "cannot open") != NULL)
		return conf_report(ld, NULL, NULL, "cannot read: %s",
			      strerror(errno ? errno : EACCES));
	return conf_report(ld, NULL, NULL, "cannot parse: out of memory");
}

/* load_file - iniparser reads the file; every entry applied in file order */
static int load_file(const struct conf_loading *ld)
{
	ini_error[0] = '\0';
	errno = 0;
	iniparser_set_error_callback(capture_ini_error);
	dictionary *d = iniparser_load(ld->path);
	iniparser_set_error_callback(NULL);
	if (d == NULL)
		return parse_failure(ld);
	int r = 0;
	for (ssize_t i = 0; i < d->size; i++) {
		if (d->key[i] != NULL && r == 0)
			r = apply_entry(ld, d->key[i], d->val[i]);
		if (d->key[i] != NULL && d->val[i] != NULL)	/* passwords among them */
			wipe_memory(d->val[i], strlen(d->val[i]));
	}
	iniparser_freedict(d);
	return r;
}

/* check_readable - a regular file that this process may read */
static int check_readable(const struct conf_loading *ld)
{
	struct stat st;
	int fd = open_regular(ld->path, &st);
	if (fd == -2 && S_ISDIR(st.st_mode))
		return conf_report(ld, NULL, NULL, "cannot read: %s", strerror(EISDIR));
	if (fd == -2)
		return conf_report(ld, NULL, NULL, "cannot read: not a regular file");
	if (fd < 0)
		return conf_report(ld, NULL, NULL, "cannot read: %s", strerror(errno));
	close(fd);
	return 0;
}

/* this_host - this host's fully qualified name, else its plain name */
static char *this_host(void)
{
	char name[256];
	if (gethostname(name, sizeof name) < 0)
		return NULL;
	name[sizeof name - 1] = '\0';
	struct addrinfo hints = { .ai_flags = AI_CANONNAME, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char *fqdn = NULL;
	if (getaddrinfo(name, NULL, &hints, &res) == 0 && res != NULL &&
	    res->ai_canonname != NULL && strchr(res->ai_canonname, '.') != NULL &&
	    is_name(res->ai_canonname, ".-"))
		fqdn = strdup(res->ai_canonname);
	if (res != NULL)
		freeaddrinfo(res);
	return fqdn != NULL ? fqdn : strdup(name);
}

/* set_defaults - the values that depend on other keys or on this host */
static int set_defaults(const struct conf_loading *ld)
{
	static const unsigned ports[] = {
		[CONF_TLS_STARTTLS] = 587, [CONF_TLS_IMPLICIT] = 465, [CONF_TLS_NONE] = 25,
	};
	struct conf *c = ld->c;
	if (c->smarthost.port == 0)	/* a given port is never 0 */
		c->smarthost.port = ports[c->smarthost.tls];
	if ((c->smarthost.helo == NULL && (c->smarthost.helo = this_host()) == NULL) ||
	    (c->sender.domain == NULL && (c->sender.domain = this_host()) == NULL))
		return conf_report(ld, NULL, NULL, "cannot find this host's name for helo "
			      "and domain: %s", strerror(errno));
	if (c->sender.aliases_file == NULL)
		c->sender.aliases_file = strdup("/etc/aliases");
	if (c->queue.dir == NULL)
		c->queue.dir = strdup("/var/spool/relaymail");
	c->path = strdup(ld->path);
	if (!c->sender.aliases_file || !c->queue.dir || !c->path)
		return conf_report(ld, NULL, NULL, "out of memory");
	return 0;
}

/* check_across - conf_check's passes: a key given twice, rules across keys */
static int check_across(const struct conf_loading *ld)
{
	struct conf_problem p = { .text = "" };
	if (conf_check_duplicates(ld->path, &p) == 0 && conf_check_keys(ld->c, &p) == 0)
		return 0;
	return conf_report(ld, p.section[0] ? p.section : NULL, p.key[0] ? p.key : NULL,
			   "%s", p.text);
}

/* conf_load - read and check path into *c */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	const struct conf_loading ld = { .path = path, .c = c, .err = err, .errlen = errlen };
	memset(c, 0, sizeof *c);
	c->smarthost.tls_verify = true;
	c->sender.allow_from_override = true;
	c->queue.retry_min = 300;
	c->queue.retry_max = 3600;
	c->queue.max_age = 5 * 86400;
	c->queue.max_message_size = 50ULL << 20;
	c->queue.min_free = 100ULL << 20;
	c->queue.keep_failed = 30 * 86400;
	c->log.syslog = true;
	int r = check_readable(&ld);
	if (r == 0)
		r = load_file(&ld);
	if (r == 0)
		r = check_across(&ld);
	if (r == 0)
		r = set_defaults(&ld);
	if (r < 0)
		conf_free(c);
	return r;
}

/* free_secret - wipe a string that may be a credential, then free it */
static void free_secret(char *s)
{
	if (s != NULL) {
		wipe_memory(s, strlen(s));
		free(s);
	}
}

/* conf_free - release everything conf_load allocated */
void conf_free(struct conf *c)
{
	char *plain[] = {
		c->path, c->smarthost.host, c->smarthost.tls_ca_file,
		c->smarthost.tls_fingerprint, c->smarthost.tls_cert_file,
		c->smarthost.tls_key_file, c->smarthost.tls_min_version,
		c->smarthost.tls_ciphers, c->smarthost.tls_ciphersuites,
		c->smarthost.helo, c->auth.user,
		c->auth.password_file, c->auth.oauth2_token_url,
		c->auth.oauth2_client_id, c->auth.oauth2_client_secret_file,
		c->auth.oauth2_refresh_token_file, c->sender.domain, c->sender.from,
		c->sender.aliases_file, c->aliases.default_target, c->queue.dir,
		c->log.file,
	};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		free(plain[i]);
	free_secret(c->auth.password);
	free_secret(c->auth.password_command);
	free_secret(c->auth.oauth2_client_secret);
	free_secret(c->auth.oauth2_refresh_token);
	for (size_t i = 0; i < c->aliases.n; i++) {
		free(c->aliases.v[i].name);
		free(c->aliases.v[i].targets);
	}
	free(c->aliases.v);
	memset(c, 0, sizeof *c);
}
