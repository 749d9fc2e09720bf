/*
 * submit - one message from the caller into the queue: envelope from the
 * command line (and the headers with -t), header fix-ups, the body
 * streamed to the spool, committed. Nothing is visible in the queue until
 * the whole input was read and the message was committed.
 */
#ifndef RELAYMAIL_SUBMIT_H
#define RELAYMAIL_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "queue.h"

enum submit_result {
	SUBMIT_OK,
	SUBMIT_USAGE,		/* bad sender or recipient argument, no recipient */
	SUBMIT_BAD_MESSAGE,	/* malformed header block, bad header address */
	SUBMIT_READ_ERROR,	/* the input could not be read */
	SUBMIT_CANT_QUEUE,	/* the spool refused the message */
	SUBMIT_TOO_BIG,		/* over [queue] max_message_size: nothing kept */
};

struct submit_request {
	int fd;				/* the message */
	const char *sender;		/* NULL: [sender] from, or login name */
	char *const *rcpt;		/* recipient arguments (comma lists allowed) */
	int nrcpt;
	bool from_headers;		/* -t */
	bool dot_ends;			/* no -i */
	const char *full_name;		/* -F */
	bool body_8bit;			/* -B 8BITMIME */
	const char *notify, *ret, *envid;	/* DSN, NULL when unset */
	bool commit_later;		/* sync send: leave m pending (queue_new_finish) */
};

/*
 * submit_message - read, check and commit one message; on SUBMIT_OK m
 * holds it, committed (or, with commit_later, pending) and still locked
 * (see queue_new_commit, queue_new_finish). Otherwise err says why in one
 * line and nothing was queued.
 */
enum submit_result submit_message(const struct conf *c, struct queue *q,
				  const struct submit_request *req, struct queue_msg *m,
				  char *err, size_t errlen);

#endif
