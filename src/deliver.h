/*
 * deliver - policy: queued messages -> SMTP session -> per-recipient
 * outcome -> queue state, log line, bounce.
 *
 * One struct deliver holds at most one session with the smarthost, opened
 * on first need and kept for the following messages (RSET after a failed
 * one); reconnecting only when the smarthost dropped it. In a queue run
 * each message's envelope is pipelined behind the previous one's data
 * (smtp_send, SMTP_THEN_PIPELINE); its fate is still recorded only once its
 * own reply is in. The secret is fetched
 * once, when the first session is opened, and wiped when the deliverer is
 * freed.
 */
#ifndef RELAYMAIL_DELIVER_H
#define RELAYMAIL_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "queue.h"
#include "smtp.h"

struct deliver;

/* what happened to one message in one attempt, for the front end */
struct deliver_report {
	unsigned sent;		/* recipients accepted with the final 250 */
	unsigned deferred;	/* recipients left in the queue for a retry */
	unsigned rejected;	/* recipients refused for good (5xx) */
	bool tx_rejected;	/* MAIL, DATA or end of data refused for good */
	struct smtp_reply reason;	/* the reply that explains the worst outcome */
	char refused[256];	/* the first recipient refused for good, or "" */
};

/* deliver_new - a deliverer for c and q (both outlive it); NULL on ENOMEM */
struct deliver *deliver_new(const struct conf *c, struct queue *q);

/* deliver_free - QUIT any session, wipe the secret, free */
void deliver_free(struct deliver *d);

/* who tells the sender about refused recipients */
enum deliver_bounce {
	DELIVER_BOUNCE_ALWAYS,	/* queue runs: an RFC 3464 bounce */
	DELIVER_BOUNCE_PARTIAL,	/* -bs: the caller reports a total refusal, a bounce the rest */
	DELIVER_BOUNCE_NEVER,	/* sync sendmail: the exit status and stderr say it */
};

/*
 * deliver_smtp_params - the SMTP session's parameters from the
 * configuration, the one place they are built (deliveries and --check):
 * smarthost, EHLO name, timeout, TLS mode and settings, AUTH mechanism and
 * user, the -v transcript as trace. The caller adds the secret and the TLS
 * session cache.
 */
void deliver_smtp_params(const struct conf *c, struct smtp_params *p);

/*
 * deliver_message - one attempt at the locked message m, then m's fate is
 * recorded in the queue: removed (all done), deferred (state saved with
 * the next retry), or moved to failed/ (every recipient handled, some
 * refused). m is released in every case. Result: 0, or -1 when the queue
 * itself failed (m is then still safely in the queue).
 */
int deliver_message(struct deliver *d, struct queue_msg *m, enum deliver_bounce bounce,
		    struct deliver_report *rep);

/*
 * deliver_set_last - the next deliver_message is the last one over this
 * session: QUIT is sent in the same write as the end of its data, and the
 * session is closed as soon as the reply to the data is in.
 */
void deliver_set_last(struct deliver *d);

/* selection for a queue run */
struct deliver_select {
	bool force;		/* ignore next_try (sendmail -q) */
	const char *id;		/* -qI: only ids starting with this, or NULL */
	const char *domain;	/* -qR: only messages with a recipient in it, or NULL */
};

/*
 * deliver_queue - one queue run: every selected message that is due and
 * not locked by another runner, over as few connections as possible;
 * expired messages (max_age) bounce. Each message is locked before any of
 * its commands is sent; one left untried by a session lost behind the
 * previous message is sent again over a new session, with no attempt
 * counted, unless the smarthost throttled (deliver_throttled). A
 * deliverer's first run starts with the spool's clean-up (queue_sweep);
 * a runner looking again with the same deliverer does not repeat it.
 * Result: number of messages that left the queue (sent or bounced), or -1
 * when the queue could not be read.
 */
int deliver_queue(struct deliver *d, const struct deliver_select *sel);

/*
 * deliver_throttled - the smarthost throttled (421, or 4.7.x / 4.3.2 to
 * MAIL, RCPT or DATA) during a queue run of d: the message that got the
 * reply was deferred as usual; every message the run reached after it was
 * left untried (no attempt counted, due again when that one is, the
 * reason in mailq), and d opens no new session.
 */
bool deliver_throttled(const struct deliver *d);

/* deliver_describe - a reply as one line: "550 5.1.1 text", or our own text */
void deliver_describe(const struct smtp_reply *r, char *out, size_t outlen);

#endif
