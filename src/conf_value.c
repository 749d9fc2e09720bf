/* conf_value - the number parsers, the mechanism names and the clear-text AUTH rule of the configuration; see conf.h */
#include "conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "conf_check.h"

/* parse_scaled - digits and an optional one-letter unit from units/scales */
static int parse_scaled(const char *s, const char *units,
			const unsigned long long *scales, unsigned long long max,
			unsigned long long *out)
{
	unsigned long long n = 0;
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return -1;	/* also refuses "", signs and white space */
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	unsigned long long scale = 1;
	if (*p != '\0') {
		const char *u = strchr(units, *p);
		if (u == NULL || p[1] != '\0')
			return -1;
		scale = scales[u - units];
	}
	if (n > max / scale)
		return -1;
	*out = n * scale;
	return 0;
}

/* conf_parse_duration - "90", "90s", "10m", "1h", "5d", "2w" into seconds */
int conf_parse_duration(const char *s, unsigned *seconds)
{
	static const unsigned long long scales[] = { 1, 60, 3600, 86400, 604800 };
	unsigned long long v;
	if (parse_scaled(s, "smhdw", scales, UINT_MAX, &v) < 0)
		return -1;
	*seconds = (unsigned)v;
	return 0;
}

/* conf_parse_size - "1000", "10k", "20M", "1G" (powers of 1024) into bytes */
int conf_parse_size(const char *s, unsigned long long *bytes)
{
	static const unsigned long long scales[] = {
		1, 1ULL << 10, 1ULL << 10, 1ULL << 20, 1ULL << 20, 1ULL << 30, 1ULL << 30,
	};
	return parse_scaled(s, "bkKmMgG", scales, ULLONG_MAX, bytes);
}

const struct name_value conf_mech_names[] = {
	{ "auto", CONF_MECH_AUTO }, { "plain", CONF_MECH_PLAIN },
	{ "login", CONF_MECH_LOGIN }, { "cram-md5", CONF_MECH_CRAM_MD5 },
	{ "scram-sha-256", CONF_MECH_SCRAM_SHA_256 }, { "xoauth2", CONF_MECH_XOAUTH2 },
	{ "oauthbearer", CONF_MECH_OAUTHBEARER }, { "none", CONF_MECH_NONE },
	{ NULL, 0 },
};

/* conf_mech_name - the configuration's spelling of a mechanism */
const char *conf_mech_name(enum conf_mech m)
{
	for (const struct name_value *t = conf_mech_names; t->name != NULL; t++)
		if (t->value == (int)m)
			return t->name;
	return "unknown";
}

/*
 * is_loopback - a host that SPEC lets us authenticate to without TLS: an
 * address in 127.0.0.0/8 or ::1 as written, or the name "localhost". A name
 * is resolved only at connect time; smtp.c then refuses to authenticate
 * unless the address it reached is a loopback one too.
 */
static bool is_loopback(const char *host)
{
	unsigned char a[16];
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, &in6addr_loopback, 16) == 0;
}

/* conf_clear_auth_allowed - a loopback host, on a port below 1024 (0: not judged) */
bool conf_clear_auth_allowed(const char *host, unsigned port)
{
	return host != NULL && is_loopback(host) && port < 1024;
}
