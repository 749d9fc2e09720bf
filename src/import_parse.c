/* import_parse - the result of --import and helpers shared by its parsers; see import_parse.h */
#include "import_parse.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* import_init - everything unset */
void import_init(struct import *im, const char *home)
{
	memset(im, 0, sizeof *im);
	im->home = home;
	im->tls_verify = -1;
	im->allow_from_override = -1;
	im->syslog = -1;
	buf_init(&im->notes, IMPORT_NOTES_MAX);
}

/* import_free - the notes are the only allocation */
void import_free(struct import *im)
{
	buf_free(&im->notes);
}

/* import_fail - record why, fail */
int import_fail(struct import *im, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(im->error, sizeof im->error, fmt, ap);
	va_end(ap);
	return -1;
}

/* import_note - one line; notes past IMPORT_NOTES_MAX are dropped after a last "more" line */
void import_note(struct import *im, const char *fmt, ...)
{
	va_list ap;
	size_t before = im->notes.len;
	va_start(ap, fmt);
	int r = buf_vprintf(&im->notes, fmt, ap);
	va_end(ap);
	if (r < 0 || buf_putc(&im->notes, '\n') < 0) {
		im->notes.len = before;	/* no half line */
		if (im->notes.data != NULL)
			im->notes.data[before] = '\0';
	}
}

/* import_set - copy, with "~/" made absolute from home */
int import_set(struct import *im, char *dst, size_t n, const char *key, const char *value)
{
	int r;
	if (strncmp(value, "~/", 2) == 0 && im->home != NULL)
		r = snprintf(dst, n, "%s/%s", im->home, value + 2);
	else
		r = snprintf(dst, n, "%s", value);
	if (r < 0 || (size_t)r >= n)
		return import_fail(im, "the value of %s is too long", key);
	return 0;
}

/* import_add_alias - append to [aliases] */
int import_add_alias(struct import *im, const char *name, const char *value)
{
	if (im->nalias == IMPORT_ALIASES_MAX)
		return import_fail(im, "more than %d aliases", IMPORT_ALIASES_MAX);
	struct import_alias *a = &im->alias[im->nalias];
	if (import_set(im, a->name, sizeof a->name, "an alias name", name) < 0 ||
	    import_set(im, a->value, sizeof a->value, name, value) < 0)
		return -1;
	im->nalias++;
	return 0;
}

/* import_port - 1..65535 */
int import_port(struct import *im, const char *what, const char *value)
{
	char *end;
	unsigned long p = strtoul(value, &end, 10);
	if (!isdigit((unsigned char)*value) || *end != '\0' || p == 0 || p > 65535)
		return import_fail(im, "%s: bad port \"%s\"", what, value);
	im->port = (unsigned)p;
	return 0;
}

/* import_yes - the boolean words the five programs use */
int import_yes(const char *value)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(value, yes[i]) == 0)
			return 1;
		if (strcasecmp(value, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* import_line - one trimmed line */
int import_line(struct import *im, const char **text, char *line, size_t n)
{
	const char *p = *text;
	if (*p == '\0')
		return 1;
	const char *nl = strchr(p, '\n');
	size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
	*text = nl != NULL ? nl + 1 : p + len;
	while (len > 0 && isspace((unsigned char)*p)) {
		p++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	if (len >= n)
		return import_fail(im, "a line is longer than %zu characters", n - 1);
	memcpy(line, p, len);
	line[len] = '\0';
	return 0;
}

/* import_host_port - brackets (Postfix: no MX lookup) are dropped; relaymail never looks up MX */
int import_host_port(struct import *im, const char *what, const char *value)
{
	char host[256];
	const char *port = NULL;
	if (snprintf(host, sizeof host, "%s", value) >= (int)sizeof host)
		return import_fail(im, "%s: host name too long", what);
	char *h = host;
	if (*h == '[') {
		char *close = strchr(h, ']');
		if (close == NULL)
			return import_fail(im, "%s: \"%s\" has no closing ]", what, value);
		*close = '\0';
		h++;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return import_fail(im, "%s: cannot read \"%s\"", what, value);
	} else {
		char *colon = strchr(h, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (*h == '\0')
		return import_fail(im, "%s: no host name in \"%s\"", what, value);
	for (const char *c = h; *c; c++)
		if (isspace((unsigned char)*c) || !isprint((unsigned char)*c))
			return import_fail(im, "%s: bad host name \"%s\"", what, value);
	if (port != NULL && import_port(im, what, port) < 0)
		return -1;
	return import_set(im, im->host, sizeof im->host, what, h);
}

/* trim - blanks off both ends, in place */
static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* import_split - one separator (or blanks) between key and value */
int import_split(char *line, char sep, char **key, char **value)
{
	char *p = line;
	if (sep != 0) {
		p = strchr(line, sep);
		if (p == NULL)
			return -1;
	} else {
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
	}
	if (*p != '\0')
		*p++ = '\0';
	*key = trim(line);
	*value = trim(p);
	return 0;
}

/* import_domain - a file name goes to domain_file, to be read by the caller */
int import_domain(struct import *im, const char *key, const char *value)
{
	if (value[0] == '/')
		return import_set(im, im->domain_file, sizeof im->domain_file, key, value);
	im->domain_file[0] = '\0';
	return import_set(im, im->domain, sizeof im->domain, key, value);
}

/* import_field_set - one lookup in a format's key table */
int import_field_set(struct import *im, void *base, const struct import_field *t, size_t n,
		     const char *key, const char *value)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, t[i].key) == 0)
			return import_set(im, (char *)base + t[i].off, t[i].size, key, value);
	return 1;
}

/* import_each - the key/value loop of ssmtp.conf and dma.conf */
int import_each(struct import *im, const char *text, char sep, const char *format, int flags[2],
		int (*fn)(struct import *im, int flags[2], const char *key, const char *value))
{
	char line[IMPORT_VALUE_MAX + 64] = "", *k, *v;
	int r;
	unsigned n = 0;
	while ((r = import_line(im, &text, line, sizeof line)) == 0) {
		n++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (import_split(line, sep, &k, &v) < 0) {
			r = import_fail(im, "%s: line %u has no '%c'", format, n, sep);
			break;
		}
		if ((r = fn(im, flags, k, v)) != 0)
			break;
	}
	wipe_memory(line, sizeof line);	/* it may have held a password */
	return r < 0 ? -1 : 0;
}
