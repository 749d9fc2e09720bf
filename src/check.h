/*
 * check - sendmail --check: one look at the configured smarthost without
 * sending mail. Connects, reads the greeting, says EHLO, starts TLS as
 * configured (STARTTLS or implicit), and prints what it saw: the peer
 * address, the greeting, the EHLO extensions, the TLS protocol and
 * cipher, whether the session was resumed, the certificate chain and the
 * verification result, and the AUTH mechanism a delivery would use. It
 * never authenticates and never fetches a secret (no password_file read,
 * no password_command run, no OAuth2 exchange), then QUITs.
 */
#ifndef RELAYMAIL_CHECK_H
#define RELAYMAIL_CHECK_H

#include <stdio.h>

#include "conf.h"

/*
 * check_run - the report on out. 0 when the connection, the TLS
 * handshake and the certificate checks succeeded; -1 when not, with a
 * last line "check failed: REASON" on out.
 */
int check_run(const struct conf *c, FILE *out);

#endif
