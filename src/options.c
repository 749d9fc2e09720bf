/* options - the sendmail command line; see options.h */
#include "options.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conf.h"

/* flags without a value, accepted; those not handled below are ignored */
#define FLAGS "tivnUG"
/* options that take a value, glued or as the next argument */
#define WITH_VALUE "frFCBNRVXhLOAeob"

/* printable_value - refuse values that could break a line on the wire */
static bool printable_value(const char *v, size_t max)
{
	size_t n = 0;
	for (; *v != '\0'; v++, n++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f || n >= max)
			return false;
	return true;
}

/* parse_notify - -N never | success,failure,delay into upper case */
static int parse_notify(const char *v, struct options *o)
{
	static const char *const words[] = { "never", "success", "failure", "delay" };
	char copy[64];
	size_t len = 0;
	bool never = false, other = false;
	if (snprintf(copy, sizeof copy, "%s", v) >= (int)sizeof copy)
		return -1;
	o->notify[0] = '\0';
	for (char *p = copy; p != NULL && *p != '\0';) {
		char *comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		size_t w = 0;
		while (w < 4 && strcasecmp(p, words[w]) != 0)
			w++;
		if (w == 4)
			return -1;
		never = never || w == 0;
		other = other || w != 0;
		int n = snprintf(o->notify + len, sizeof o->notify - len, "%s%s",
				 len ? "," : "", w == 0 ? "NEVER" : w == 1 ? "SUCCESS" :
				 w == 2 ? "FAILURE" : "DELAY");
		if (n < 0 || (size_t)n >= sizeof o->notify - len)
			return -1;
		len += (size_t)n;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return (never && other) || len == 0 ? -1 : 0;
}

/* parse_b - -bX: the mode letter */
static int parse_b(const char *v, struct options *o, char *err, size_t errlen)
{
	static const struct { const char *name; enum options_mode mode; } modes[] = {
		{ "m", OPTIONS_DELIVER }, { "p", OPTIONS_LIST }, { "s", OPTIONS_SMTP },
		{ "i", OPTIONS_NEWALIASES }, { "v", OPTIONS_VERIFY },
	};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(v, modes[i].name) == 0) {
			o->mode = modes[i].mode;
			return 0;
		}
	}
	return buf_error(err, errlen, "unsupported option -b%s", v);
}

/* parse_o - -oX: -oi, -odX; every other classic -o option is ignored */
static int parse_o(const char *v, struct options *o, char *err, size_t errlen)
{
	if (strcmp(v, "i") == 0) {
		o->dot_ends = false;
	} else if (v[0] == 'd') {
		if (strcmp(v, "di") == 0)
			o->delivery = OPTIONS_DELIVERY_SYNC;
		else if (strcmp(v, "db") == 0)
			o->delivery = OPTIONS_DELIVERY_BACKGROUND;
		else if (strcmp(v, "dq") == 0 || strcmp(v, "dd") == 0)
			o->delivery = OPTIONS_DELIVERY_QUEUE;
		else
			return buf_error(err, errlen, "unknown delivery mode -o%s (use -odi, -odb or -odq)", v);
	}
	return 0;
}

/* parse_q - -q, -qINTERVAL, -qIid, -qRdomain */
static int parse_q(const char *v, struct options *o, char *err, size_t errlen)
{
	o->mode = OPTIONS_QUEUE_RUN;
	if (*v == '\0')
		return 0;
	if (*v == 'I' && v[1] != '\0' && printable_value(v + 1, 64)) {
		o->queue_id = v + 1;
		for (const char *p = v + 1; *p; p++)
			if (!isxdigit((unsigned char)*p) || islower((unsigned char)*p))
				return buf_error(err, errlen, "bad queue id in -q%s", v);
		return 0;
	}
	if (*v == 'R' && v[1] != '\0' && printable_value(v + 1, 255)) {
		o->queue_domain = v + 1;
		return 0;
	}
	if (conf_parse_duration(v, &o->queue_interval) < 0 || o->queue_interval == 0)
		return buf_error(err, errlen, "bad queue interval in -q%s (e.g. -q30m)", v);
	return 0;
}

/* with_value - one option that takes a value */
static int with_value(char c, const char *v, struct options *o, char *err, size_t errlen)
{
	char name[3] = { '-', c, '\0' };
	if (strchr("fFCVhL", c) != NULL && !printable_value(v, 4096))
		return buf_error(err, errlen, "the value of %s contains a control character", name);
	switch (c) {
	case 'f':
	case 'r':
		o->sender = v;
		return printable_value(v, 4096) ? 0 :
		       buf_error(err, errlen, "the value of %s contains a control character", name);
	case 'F':
		o->full_name = v;
		return 0;
	case 'C':
		o->config = v;
		return 0;
	case 'B':
		if (strcasecmp(v, "7BIT") == 0)
			o->body = "7BIT";
		else if (strcasecmp(v, "8BITMIME") == 0)
			o->body = "8BITMIME";
		else
			return buf_error(err, errlen, "-B takes 7BIT or 8BITMIME, not \"%s\"", v);
		return 0;
	case 'N':
		return parse_notify(v, o) == 0 ? 0 :
		       buf_error(err, errlen, "-N takes never or a list of success,failure,delay, not \"%s\"", v);
	case 'R':
		if (strcasecmp(v, "full") == 0)
			o->ret = "FULL";
		else if (strcasecmp(v, "hdrs") == 0)
			o->ret = "HDRS";
		else
			return buf_error(err, errlen, "-R takes full or hdrs, not \"%s\"", v);
		return 0;
	case 'V':
		if (!printable_value(v, 100) || strchr(v, ' ') != NULL || *v == '\0')
			return buf_error(err, errlen, "bad envelope id for -V: %s", "at most 100 printable characters");
		o->envid = v;
		return 0;
	case 'X':
		return buf_error(err, errlen, "%s is refused: relaymail never writes a file named on its command line", name);
	case 'b':
		return parse_b(v, o, err, errlen);
	case 'o':
		return parse_o(v, o, err, errlen);
	default:	/* -h hops, -L tag, -O opt=val, -A m|c, -e mode: accepted, ignored */
		return 0;
	}
}

/* long_option - --version, --help, --check, --json, --runner, --import=FORMAT */
static int long_option(const char *arg, struct options *o, char *err, size_t errlen)
{
	if (strcmp(arg, "--version") == 0)
		o->mode = OPTIONS_VERSION;
	else if (strcmp(arg, "--help") == 0)
		o->mode = OPTIONS_HELP;
	else if (strcmp(arg, "--check") == 0)
		o->mode = OPTIONS_CHECK;
	else if (strcmp(arg, "--json") == 0)
		o->json = true;
	else if (strcmp(arg, "--runner") == 0)
		o->mode = OPTIONS_RUNNER;
	else if (strncmp(arg, "--import=", 9) == 0 && arg[9] != '\0' && printable_value(arg + 9, 255)) {
		o->mode = OPTIONS_IMPORT;
		o->import = arg + 9;
	} else if (strncmp(arg, "--import", 8) == 0)
		return buf_error(err, errlen, "--import needs a format: --import=msmtp, ssmtp, nullmailer, dma or postfix");
	else
		return buf_error(err, errlen, "unknown option %s", arg);
	return 0;
}

/* cluster - one argument of grouped flags, maybe ending in an option with a value */
static int cluster(int argc, char **argv, int *i, struct options *o, char *err, size_t errlen)
{
	const char *arg = argv[*i];
	for (size_t j = 1; arg[j] != '\0'; j++) {
		char c = arg[j];
		if (c == 'q')
			return parse_q(arg + j + 1, o, err, errlen);
		if (strchr(WITH_VALUE, c) != NULL) {
			const char *v = arg + j + 1;
			if (*v == '\0') {
				if (*i + 1 >= argc) {
					char name[3] = { '-', c, '\0' };
					return buf_error(err, errlen, "option %s needs a value", name);
				}
				v = argv[++*i];
			}
			return with_value(c, v, o, err, errlen);
		}
		if (strchr(FLAGS, c) == NULL) {
			char name[3] = { '-', c, '\0' };
			if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
				name[1] = '?';
			return buf_error(err, errlen, "unknown option %s", name);
		}
		if (c == 't')
			o->from_headers = true;
		else if (c == 'i')
			o->dot_ends = false;
		else if (c == 'v')
			o->verbose = true;
	}
	return 0;
}

/* options_parse - the whole command line */
int options_parse(int argc, char **argv, enum options_mode mode, char **rcpt,
		  struct options *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof *o);
	o->mode = mode;
	o->dot_ends = true;
	o->rcpt = rcpt;
	bool only_rcpt = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (only_rcpt || arg[0] != '-' || arg[1] == '\0') {
			rcpt[o->nrcpt++] = argv[i];
		} else if (strcmp(arg, "--") == 0) {
			only_rcpt = true;
		} else if (arg[1] == '-') {
			if (long_option(arg, o, err, errlen) < 0)
				return -1;
		} else if (cluster(argc, argv, &i, o, err, errlen) < 0) {
			return -1;
		}
	}
	return 0;
}
