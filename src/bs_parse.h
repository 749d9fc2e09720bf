/*
 * bs_parse - the pure half of -bs (bs.c): one command line into its parts,
 * and the MAIL parameters. No I/O, no allocation, no session state: what a
 * command means in the dialogue is bs.c's. A fuzz target (fuzz_bs).
 */
#ifndef RELAYMAIL_BS_PARSE_H
#define RELAYMAIL_BS_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* the largest message -bs takes (announced with SIZE) */
#define BS_SIZE_MAX (1024ULL * 1024 * 1024)

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

#endif
