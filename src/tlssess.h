/*
 * tlssess - a saved TLS session made lean before it is stored: the
 * server's certificate taken out of OpenSSL's DER encoding of the
 * session (i2d_SSL_SESSION). Resumption never looks at that certificate,
 * but decoding it (its public key above all) is most of what reading the
 * session back costs; OpenSSL 3.0 has no call to leave it out. Pure byte
 * work on memory: no OpenSSL, no I/O (a fuzz target).
 *
 * The layout expected (OpenSSL's SSL_SESSION_ASN1): one SEQUENCE whose
 * first element is the INTEGER 1 (the format's version) and which holds
 * the certificate as its one element tagged [3] (context-specific,
 * constructed: 0xA3). Anything else is left alone: the caller stores the
 * session unchanged, as OpenSSL wrote it.
 */
#ifndef RELAYMAIL_TLSSESS_H
#define RELAYMAIL_TLSSESS_H

#include <stddef.h>

#include "buf.h"

/*
 * tlssess_strip_peer - the n bytes of der without the [3] element, the
 * outer length re-encoded, appended to out. 0; or -1 with out unchanged
 * when der is not the expected layout (malformed or non-minimal DER,
 * bytes after the SEQUENCE, no or two [3] elements) or out is too small.
 */
int tlssess_strip_peer(const unsigned char *der, size_t n, struct buf *out);

#endif
