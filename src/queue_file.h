/*
 * queue_file - private to the queue module: the spool files' format.
 * queue.c does the I/O; this writes and parses the text (the format is
 * described at the top of queue_file.c). queue_parse, queue_msg_init and
 * queue_release, implemented here too, are declared in queue.h.
 */
#ifndef RELAYMAIL_QUEUE_FILE_H
#define RELAYMAIL_QUEUE_FILE_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "envelope.h"
#include "queue.h"

#define ENV_MAGIC "relaymail-queue 1"
#define STATE_MAGIC "relaymail-state 1"
#define ENV_MAX (64u * 1024 * 1024)	/* envelope block; 10000 long addresses fit */
#define STATE_MAX (4u * 1024 * 1024)
#define ERROR_MAX 1000			/* bytes of error text kept */

/*
 * queue_file_envelope - append the envelope block for env (id, arrival,
 * sender, recipients, DSN parameters, "body 7BIT", the empty line) to b;
 * *body_off gets the offset of the body value, patched at commit. 0, or
 * -1 (errno EINVAL for a value with a control character, or b is full).
 */
int queue_file_envelope(struct buf *b, const char *id, time_t arrival,
			const struct envelope *env, size_t *body_off);

/*
 * queue_file_state - append m's delivery state (attempts, next try, last
 * error made printable and cut at ERROR_MAX, recipients done) to b. 0 or -1.
 */
int queue_file_state(struct buf *b, const struct queue_msg *m);

#endif
