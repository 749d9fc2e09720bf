/*
 * bs - sendmail -bs: an SMTP server dialogue on stdin/stdout (what Symfony
 * Mailer and Laravel speak by default). HELO, EHLO, MAIL, RCPT, DATA,
 * RSET, NOOP, VRFY, QUIT; several messages per session; pipelined input.
 * A message is answered "250 2.0.0 Ok: queued as ID" only once it is
 * relayed or durably queued, exactly as sendmail -bm would; only
 * CRLF.CRLF ends its data; a client that vanishes mid-message leaves
 * nothing behind.
 */
#ifndef RELAYMAIL_BS_H
#define RELAYMAIL_BS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "queue.h"

/* the largest message -bs takes (announced with SIZE) */
#define BS_SIZE_MAX (1024ULL * 1024 * 1024)

enum bs_delivery { BS_DELIVER_SYNC, BS_DELIVER_BACKGROUND, BS_DELIVER_QUEUE };

/*
 * bs_serve - run the dialogue on fds 0 and 1 until QUIT or end of input.
 * Result: 0, or -1 when the spool failed (the client was told 451).
 */
int bs_serve(const struct conf *c, struct queue *q, enum bs_delivery how);

/* the commands of the dialogue; BS_CMD_BAD: a line refused as it stands */
enum bs_verb {
	BS_CMD_BAD, BS_CMD_HELO, BS_CMD_EHLO, BS_CMD_MAIL, BS_CMD_RCPT, BS_CMD_DATA,
	BS_CMD_RSET, BS_CMD_NOOP, BS_CMD_VRFY, BS_CMD_QUIT,
};

/* one parsed command line; every pointer points into the line parsed */
struct bs_command {
	enum bs_verb verb;
	const char *reply;	/* BS_CMD_BAD: the 5xx reply line for it */
	const char *arg;	/* what follows the verb and one space */
	size_t arglen;
	/* MAIL and RCPT only: */
	bool path_ok;		/* "FROM:"/"TO:" then <addr> or addr was found */
	const char *addr;	/* the address between the brackets (may be empty) */
	size_t addrlen;
	const char *params;	/* the parameters after it, leading spaces skipped */
	size_t paramslen;
};

/*
 * bs_parse_command - parse one command line of len bytes as read, its LF or
 * CRLF ending included or not (pure: no I/O, no allocation). A CR, LF or
 * NUL anywhere but in the line ending, an unknown verb, or HELO/EHLO
 * without an argument give -1 with out->verb = BS_CMD_BAD and out->reply
 * set; otherwise 0. The address is not checked here (envelope_check_bytes
 * does that), nor anything that depends on the session's state.
 */
int bs_parse_command(const char *line, size_t len, struct bs_command *out);

/*
 * bs_parse_mail_params - the MAIL parameters (n bytes, space separated):
 * NULL when every one is taken (SIZE= up to max, at most BS_SIZE_MAX;
 * BODY=7BIT, BODY=8BITMIME, which sets *body8), else the reply line
 * refusing them. Pure.
 */
const char *bs_parse_mail_params(const char *p, size_t n, unsigned long long max, bool *body8);

/* bs_size_max - the biggest message -bs takes under c ([queue] max_message_size) */
unsigned long long bs_size_max(const struct conf *c);

#endif
