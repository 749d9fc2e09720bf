/*
 * envelope - the envelope sender and recipients of one message, and the one
 * place where an address is checked for wire safety (no CR, LF, NUL, no
 * control characters, no leading '-', not too long) and completed: bare
 * local names are expanded through [aliases] / aliases_file and completed
 * with [sender] domain.
 */
#ifndef RELAYMAIL_ENVELOPE_H
#define RELAYMAIL_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

#define ENVELOPE_MAX_RCPT 10000

/*
 * Every string of an envelope is malloc'd and owned by it (envelope_free
 * releases sender, rcpt, notify, ret and envid).
 */
struct envelope {
	char *sender;		/* "" is the null sender <>; NULL until set */
	char **rcpt;		/* unique (case-insensitive), in order of addition */
	size_t nrcpt;
	size_t cap;
	char *notify;		/* DSN: NULL or "NEVER" or "SUCCESS,FAILURE,DELAY" subset */
	char *ret;		/* DSN: NULL, "FULL" or "HDRS" */
	char *envid;		/* DSN: NULL or the envelope id (xtext-safe) */
	bool eightbit;		/* the message needs BODY=8BITMIME */
	struct envelope_aliases *aliases;	/* loaded lazily; private */
	const struct conf *conf;
};

/* envelope_init - empty envelope using c's [sender] and [aliases] */
void envelope_init(struct envelope *e, const struct conf *c);

/* envelope_free - release all */
void envelope_free(struct envelope *e);

/*
 * envelope_check_addr - the wire-safety check alone (pure): 0, or -1 with
 * err saying what is wrong ("address contains a line feed", ...).
 * An empty string is valid only when null_ok. Refused: control bytes (CR,
 * LF, NUL named), 8-bit bytes (no SMTPUTF8), a leading '-', '<' or '>',
 * white space outside a leading quoted local part, more than one '@' or
 * an empty side of it, more than 254 bytes.
 */
int envelope_check_addr(const char *addr, bool null_ok, char *err, size_t errlen);

/*
 * envelope_check_bytes - the same check of len bytes that need not end in
 * NUL and may hold one ("address contains a NUL byte"): for values read
 * from the wire (-bs) or a file.
 */
int envelope_check_bytes(const char *addr, size_t len, bool null_ok, char *err, size_t errlen);

/*
 * envelope_complete - the address as it goes on the wire: "name" becomes
 * "name@domain"; anything with '@' is returned unchanged. Pure but for
 * allocation; result malloc'd, NULL on ENOMEM.
 */
char *envelope_complete(const struct conf *c, const char *addr);

/*
 * envelope_set_sender - check, complete and set the sender ("<>" or "" is
 * the null sender; "<addr>" is accepted). 0, or -1 with err.
 */
int envelope_set_sender(struct envelope *e, const char *addr, char *err, size_t errlen);

/*
 * envelope_add_rcpt - check one recipient as given by the caller or a
 * header, expand it if it is a bare local name ([aliases] first, then
 * aliases_file, then [aliases] default, recursively, at most 8 levels,
 * loops broken) and add every resulting address, skipping duplicates.
 * 0, or -1 with err (unsafe address, alias file unreadable, too many).
 * Pipe, file and :include: targets are skipped (mail only goes to the
 * smarthost); an alias left with no other target counts as no alias.
 * A name that reaches itself ("root: root") ends as name@domain.
 */
int envelope_add_rcpt(struct envelope *e, const char *addr, char *err, size_t errlen);

/*
 * envelope_add_list - split a comma-separated argument (cron's MAILTO,
 * "a@x, b@y") with the RFC 5322 parser and add each. 0 or -1 with err.
 */
int envelope_add_list(struct envelope *e, const char *list, char *err, size_t errlen);

/*
 * envelope_expand - for -bv: call fn(ctx, addr) for every address name
 * expands to, without adding it anywhere. name may be a comma-separated
 * list, as with envelope_add_list. 0 or -1 with err (fn returning -1
 * stops the walk and is an error too).
 */
int envelope_expand(struct envelope *e, const char *name,
		    int (*fn)(void *ctx, const char *addr), void *ctx,
		    char *err, size_t errlen);

#endif
