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

#include "bs_parse.h"
#include "conf.h"
#include "queue.h"

enum bs_delivery { BS_DELIVER_SYNC, BS_DELIVER_BACKGROUND, BS_DELIVER_QUEUE };

/*
 * bs_serve - run the dialogue on fds 0 and 1 until QUIT or end of input.
 * Result: 0, or -1 when the spool failed (the client was told 451).
 */
int bs_serve(const struct conf *c, struct queue *q, enum bs_delivery how);

/* bs_size_max - the biggest message -bs takes under c ([queue] max_message_size) */
unsigned long long bs_size_max(const struct conf *c);

#endif
