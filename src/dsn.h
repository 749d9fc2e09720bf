/*
 * dsn - RFC 3464 delivery status notifications (bounces), written into the
 * queue as a new message from the null sender to the failed message's
 * sender. Never for a null-sender message (so never a bounce of a bounce).
 */
#ifndef RELAYMAIL_DSN_H
#define RELAYMAIL_DSN_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "queue.h"
#include "smtp.h"

struct dsn_rcpt {
	const char *addr;
	struct smtp_reply reply;	/* the reply that failed it (code 0: expired) */
	const char *remote_mta;		/* smarthost name, or NULL */
};

/*
 * dsn_bounce - queue a multipart/report for m's failed recipients:
 * a human-readable part, message/delivery-status (Reporting-MTA,
 * Arrival-Date, per recipient Final-Recipient, Action: failed, Status,
 * Remote-MTA, Diagnostic-Code), and the original message's headers
 * (text/rfc822-headers; the whole message when RET=FULL).
 * m must be open (its fd readable). The new message's id is put in
 * new_id. Result: 0; 1 when no bounce is due (null sender); -1 with err.
 */
int dsn_bounce(struct queue *q, const struct conf *c, const struct queue_msg *m,
	       const struct dsn_rcpt *failed, size_t nfailed, time_t now,
	       char new_id[QUEUE_ID_LEN + 1], char *err, size_t errlen);

#endif
