/*
 * conf_check - private to the conf module: the checks conf_load runs once
 * every key is parsed. A key given twice in one section (iniparser would
 * silently keep the last one), and the rules that tie keys together: the
 * smarthost is required, keys that need or exclude each other, an [auth]
 * that can get its secret, no AUTH in clear text except to a loopback host
 * on a port below 1024, no tls_verify = no without a pin.
 */
#ifndef RELAYMAIL_CONF_CHECK_H
#define RELAYMAIL_CONF_CHECK_H

#include <stddef.h>

#include "conf.h"

/* the offset of a member of struct conf (the key tables) */
#define AT(member) offsetof(struct conf, member)

/* one conf_load() call: the file, the result, and where an error goes */
struct conf_loading {
	const char *path;
	struct conf *c;
	char *err;
	size_t errlen;
};

/*
 * conf_report - put "FILE: [section] key: problem" (without the section,
 * or the key, when NULL) into ld->err. Always -1.
 */
__attribute__((format(printf, 4, 5)))
int conf_report(const struct conf_loading *ld, const char *section, const char *key,
		const char *fmt, ...);

/*
 * conf_check_duplicates - read ld->path once more, line by line as
 * iniparser does, and report the first key given twice in one section.
 * 0, or -1 with ld->err set. The lines read are wiped (they may hold a
 * password).
 */
int conf_check_duplicates(const struct conf_loading *ld);

/* conf_check_keys - the rules across keys on ld->c; 0, or -1 with ld->err */
int conf_check_keys(const struct conf_loading *ld);

#endif
