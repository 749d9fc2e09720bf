/*
 * conf_check - private to the conf module: the checks conf_load runs once
 * every key is parsed. A key given twice in one section (iniparser would
 * silently keep the last one), and the rules that tie keys together: the
 * smarthost is required, keys that need or exclude each other, an [auth]
 * that can get its secret, no AUTH in clear text except to a loopback host
 * on a port below 1024, no tls_verify = no without a pin. It reports
 * problems as records and calls nothing in conf.c; the cipher lists are
 * the TLS module's to check (tls_check_settings).
 */
#ifndef RELAYMAIL_CONF_CHECK_H
#define RELAYMAIL_CONF_CHECK_H

#include <stddef.h>

#include "conf.h"

/* the offset of a member of struct conf (the key tables) */
#define AT(member) offsetof(struct conf, member)

/* a name of the configuration and the value it stands for */
struct name_value {
	const char *name;
	int value;
};

/* the [auth] mechanism names (conf_value.c), NULL-terminated */
extern const struct name_value conf_mech_names[];

/*
 * a problem the checks found: section and key ("" when the problem is the
 * whole file's) and what is wrong; conf.c adds the file name
 */
struct conf_problem {
	char section[160];
	char key[160];
	char text[256];
};

/*
 * conf_check_duplicates - read path once more, line by line as iniparser
 * does, and report the first key given twice in one section. 0, or -1
 * with *p set. The lines read are wiped (they may hold a password).
 */
int conf_check_duplicates(const char *path, struct conf_problem *p);

/* conf_check_keys - the rules across keys on c; 0, or -1 with *p set */
int conf_check_keys(const struct conf *c, struct conf_problem *p);

#endif
