/*
 * io - buffered line I/O over a TCP socket, in clear or through TLS, with a
 * deadline on every step and hard limits on line length.
 *
 * Every error leaves a printable one-line reason in io_error(); all of them
 * are temporary failures from the point of view of delivery (the caller
 * queues and retries).
 */
#ifndef RELAYMAIL_IO_H
#define RELAYMAIL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "tls.h"

#define IO_LINE_MAX 4096	/* longest reply line accepted (RFC 5321: 512) */

struct io;

/*
 * io_connect - resolve host (getaddrinfo, AF_UNSPEC) and try every address
 * in turn, each with timeout seconds, until one connects. TCP_NODELAY is
 * set; timeout is also the first per-step deadline (see io_set_timeout).
 * Result: a new io, or NULL with err ("connect to host[192.0.2.1]:587:
 * Connection refused"; the last address's error, or "host: name lookup
 * failed: ...").
 */
struct io *io_connect(const char *host, unsigned port, unsigned timeout, char *err, size_t errlen);

/*
 * io_from_fd - an io over an already connected stream socket (made
 * non-blocking; owned by the io from now on, even on failure). name is
 * shown as the peer ("name[address]:port", or name alone when the socket
 * has no IP address; a name of 256 bytes or more shows as "peer"). Used
 * by tests and by callers that connect themselves. NULL only when out of
 * memory.
 */
struct io *io_from_fd(int fd, const char *name, unsigned timeout);

/* io_peer - "host[address]:port" of the connected peer */
const char *io_peer(const struct io *io);

/* io_peer_is_loopback - the connected address is 127/8, ::1 or ::ffff:127/104 */
bool io_peer_is_loopback(const struct io *io);

/* io_set_timeout - deadline in seconds for each following read, flush or handshake (0: none) */
void io_set_timeout(struct io *io, unsigned seconds);

/*
 * io_start_tls - TLS handshake (TLS 1.2 minimum, or t->min_version) over
 * the connection, then certificate checks per t. Fails if unread input
 * is pending (the caller must check io_pending first, see STARTTLS
 * injection). 0, or -1 with
 * io_error saying why (the verification failure reason included); after
 * a failed handshake the io can only be closed. Queued output is flushed
 * first; the handshake has one io_set_timeout deadline.
 */
int io_start_tls(struct io *io, const struct tls_settings *t);

/* io_is_tls - the connection is encrypted */
bool io_is_tls(const struct io *io);

/* io_tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384" (+ " resumed"), or "" in clear */
const char *io_tls_describe(struct io *io);

/* io_pending - bytes received but not yet read by the caller */
size_t io_pending(const struct io *io);

/*
 * io_read_line - the next line, without its CRLF (or LF), into line
 * (reset first). 1: a line; 0: the peer closed; -1: timeout, error, or a
 * line longer than IO_LINE_MAX (io_error says which; after an over-long
 * line every further read fails). Memory: the fixed read buffer only.
 */
int io_read_line(struct io *io, struct buf *line);

/* io_write - queue bytes for sending (buffered; flushed when full) */
int io_write(struct io *io, const void *p, size_t n);

/* io_flush - send everything queued; 0 or -1 */
int io_flush(struct io *io);

/* io_error - the last error, printable, one line */
const char *io_error(const struct io *io);

/* io_close - shut TLS down (without waiting) and close; io freed */
void io_close(struct io *io);

#endif
