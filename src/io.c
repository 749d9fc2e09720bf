/* io - buffered lines over a socket or TLS, with deadlines and hard limits; see io.h */
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"

#define IO_RBUF (16 * 1024)	/* must exceed IO_LINE_MAX + 2 */
#define IO_WBUF (64 * 1024)
#define IO_HOST_MAX 256
#define IO_PEER_MAX (IO_HOST_MAX + INET6_ADDRSTRLEN + 16)
#define IO_ERR_MAX 512

struct io {
	int fd;
	struct tls *tls;
	unsigned timeout;	/* seconds per step; 0: none */
	unsigned port;
	bool loopback;
	bool broken;		/* the byte stream is out of step (over-long line, failed handshake) */
	size_t rpos, rlen;	/* unread input is rbuf[rpos..rlen) */
	size_t wlen;
	size_t rseen;		/* rbuf[0..rseen) ever held input: io_close wipes that, not pages never touched */
	char host[IO_HOST_MAX];
	char peer[IO_PEER_MAX];
	char err[IO_ERR_MAX];
	char rbuf[IO_RBUF];
	char wbuf[IO_WBUF];
};

/* set_err - record the one-line reason of the last failure, made printable */
__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	char raw[IO_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	if (errlen == 0)
		return;
	if (n < 0) {
		err[0] = '\0';
		return;
	}
	log_printable(raw, (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1, err, errlen);
}

/* now_ms - monotonic milliseconds: wall-clock jumps must not stretch a deadline */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* deadline_after - absolute deadline for a step of s seconds; -1 for none */
static long long deadline_after(unsigned s)
{
	return s == 0 ? -1 : now_ms() + (long long)s * 1000;
}

/* poll_until - wait for events on fd until deadline: 1 ready, 0 timed out, -1 error */
static int poll_until(int fd, short events, long long deadline)
{
	for (;;) {
		int ms = -1;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return 0;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 1;	/* errors and hang-ups surface in the next read or write */
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* wait_io - poll_until with the error texts of a step ("waiting for the server") */
static int wait_io(struct io *io, short events, long long deadline, const char *what)
{
	int r = poll_until(io->fd, events, deadline);
	if (r == 1)
		return 0;
	if (r == 0)
		set_err(io->err, sizeof io->err, "timeout after %us %s", io->timeout, what);
	else
		set_err(io->err, sizeof io->err, "poll failed: %s", strerror(errno));
	return -1;
}

/* format_addr - numeric address and port of a socket address */
static void format_addr(const struct sockaddr *sa, char *addr, size_t addrlen, unsigned *port)
{
	const void *a = NULL;
	*port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a = &s4->sin_addr;
		*port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		a = &s6->sin6_addr;
		*port = ntohs(s6->sin6_port);
	}
	if (a == NULL || inet_ntop(sa->sa_family, a, addr, (socklen_t)addrlen) == NULL)
		log_printable("unknown", 7, addr, addrlen);
}

/* is_loopback - 127.0.0.0/8, ::1, and 127/8 mapped into IPv6 */
static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

/* io_new - the io for a connected socket, its peer described for messages */
static struct io *io_new(int fd, const char *host, const struct sockaddr *sa, unsigned timeout)
{
	/* io_connect checks the length; io_from_fd's label is cut if need be */
	if (strlen(host) >= IO_HOST_MAX)
		host = "peer";
	struct io *io = malloc(sizeof *io);
	if (io == NULL)
		return NULL;
	io->fd = fd;
	io->tls = NULL;
	io->timeout = timeout;
	io->port = 0;
	io->loopback = false;
	io->broken = false;
	io->rpos = io->rlen = io->wlen = 0;
	io->rseen = 0;
	io->err[0] = '\0';
	memcpy(io->host, host, strlen(host) + 1);
	int n;
	if (sa != NULL) {
		char addr[INET6_ADDRSTRLEN + 8];
		format_addr(sa, addr, sizeof addr, &io->port);
		io->loopback = is_loopback(sa);
		n = snprintf(io->peer, sizeof io->peer, "%s[%s]:%u", io->host, addr, io->port);
	} else {
		n = snprintf(io->peer, sizeof io->peer, "%s", io->host);
	}
	if (n < 0 || (size_t)n >= sizeof io->peer)	/* cannot happen: the sizes allow for it */
		io->peer[0] = '\0';
	return io;
}

/* try_connect - one address, non-blocking, within timeout: the socket or -1 and why */
static int try_connect(const struct addrinfo *ai, unsigned timeout, char *why, size_t whylen)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0) {
		set_err(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			set_err(why, whylen, "%s", strerror(errno));
			close(fd);
			return -1;
		}
		int r = poll_until(fd, POLLOUT, deadline_after(timeout));
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (r <= 0) {
			if (r == 0)
				set_err(why, whylen, "timeout after %us", timeout);
			else
				set_err(why, whylen, "poll failed: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
			set_err(why, whylen, "%s", strerror(soerr != 0 ? soerr : errno));
			close(fd);
			return -1;
		}
	}
	/* each command group goes out in one segment at once: no Nagle/delayed-ACK stall */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* io_connect - resolve, then every address in turn */
struct io *io_connect(const char *host, unsigned port, unsigned timeout, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char service[16];

	if (host == NULL || host[0] == '\0' || strlen(host) >= IO_HOST_MAX) {
		set_err(err, errlen, "connect: invalid host name");
		return NULL;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int n = snprintf(service, sizeof service, "%u", port);
	if (n < 0 || (size_t)n >= sizeof service || port == 0 || port > 65535) {
		set_err(err, errlen, "connect to %s: invalid port %u", host, port);
		return NULL;
	}
	int rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		set_err(err, errlen, "%s: name lookup failed: %s", host,
			rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return NULL;
	}
	set_err(err, errlen, "%s: name lookup failed: no address", host);
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		char why[256], addr[INET6_ADDRSTRLEN + 8];
		unsigned p;
		int fd = try_connect(ai, timeout, why, sizeof why);
		if (fd < 0) {
			format_addr(ai->ai_addr, addr, sizeof addr, &p);
			set_err(err, errlen, "connect to %s[%s]:%u: %s", host, addr, port, why);
			continue;
		}
		struct io *io = io_new(fd, host, ai->ai_addr, timeout);
		freeaddrinfo(res);
		if (io == NULL) {
			close(fd);
			set_err(err, errlen, "connect to %s: out of memory", host);
		}
		return io;
	}
	freeaddrinfo(res);
	return NULL;
}

/* io_from_fd - wrap a connected socket (tests, or a caller that connected itself) */
struct io *io_from_fd(int fd, const char *name, unsigned timeout)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	const struct sockaddr *sa = NULL;

	memset(&ss, 0, sizeof ss);
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		int one = 1;
		sa = (const struct sockaddr *)&ss;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	struct io *io = io_new(fd, name != NULL ? name : "peer", sa, timeout);
	if (io == NULL)
		close(fd);
	return io;
}

/* io_peer - host[address]:port */
const char *io_peer(const struct io *io)
{
	return io->peer;
}

/* io_peer_is_loopback - AUTH in clear text is allowed only to these */
bool io_peer_is_loopback(const struct io *io)
{
	return io->loopback;
}

/* io_set_timeout - per-step deadline */
void io_set_timeout(struct io *io, unsigned seconds)
{
	io->timeout = seconds;
}

/* io_start_tls - handshake on the open connection, refusing pipelined clear text */
int io_start_tls(struct io *io, const struct tls_settings *t)
{
	if (io->tls != NULL || io->broken) {
		set_err(io->err, sizeof io->err, "TLS: %s", io->tls != NULL ? "already started"
								     : "connection unusable");
		return -1;
	}
	if (io_pending(io) > 0) {
		set_err(io->err, sizeof io->err,
			"TLS: the server sent data ahead of the handshake (injection attempt?)");
		return -1;
	}
	if (io->wlen > 0 && io_flush(io) < 0)
		return -1;
	struct tls *s = tls_new(io->fd, t, io->host, io->port, io->err, sizeof io->err);
	if (s == NULL)
		return -1;
	long long deadline = deadline_after(io->timeout);
	for (;;) {
		enum tls_result r = tls_handshake(s);
		if (r == TLS_DONE)
			break;
		if ((r == TLS_WANT_READ || r == TLS_WANT_WRITE) &&
		    wait_io(io, r == TLS_WANT_READ ? POLLIN : POLLOUT, deadline,
			    "in the TLS handshake") == 0)
			continue;
		if (r != TLS_WANT_READ && r != TLS_WANT_WRITE)
			set_err(io->err, sizeof io->err, "%s", tls_error(s));
		tls_free(s);
		io->broken = true;	/* half a handshake: nothing more can be said on this stream */
		return -1;
	}
	io->tls = s;
	return 0;
}

/* io_is_tls - encrypted */
bool io_is_tls(const struct io *io)
{
	return io->tls != NULL;
}

/* io_tls_describe - protocol and cipher, for the -v transcript */
const char *io_tls_describe(struct io *io)
{
	return io->tls != NULL ? tls_describe(io->tls) : "";
}

/* io_pending - unread input, ours and the TLS layer's */
size_t io_pending(const struct io *io)
{
	return io->rlen - io->rpos + (io->tls != NULL ? tls_pending(io->tls) : 0);
}

/* fill_tls - one TLS read into rbuf: 1 data, 0 closed, -1 failure, 2 wait for events */
static int fill_tls(struct io *io, size_t room, short *events)
{
	size_t got = 0;
	switch (tls_read(io->tls, io->rbuf + io->rlen, room, &got)) {
	case TLS_DONE:
		io->rlen += got;
		return 1;
	case TLS_WANT_READ:
		*events = POLLIN;
		return 2;
	case TLS_WANT_WRITE:
		*events = POLLOUT;
		return 2;
	case TLS_EOF:
		set_err(io->err, sizeof io->err, "connection closed by the server");
		return 0;
	default:
		set_err(io->err, sizeof io->err, "%s", tls_error(io->tls));
		return -1;
	}
}

/* fill - more input after rbuf[rlen]: 1 some, 0 the peer closed, -1 error or timeout */
static int fill(struct io *io, long long deadline)
{
	for (;;) {
		size_t room = IO_RBUF - io->rlen;
		short events = POLLIN;
		int r;
		if (io->tls != NULL) {
			r = fill_tls(io, room, &events);
		} else {
			ssize_t n = recv(io->fd, io->rbuf + io->rlen, room, 0);
			if (n > 0) {
				io->rlen += (size_t)n;
				r = 1;
			} else if (n == 0) {
				set_err(io->err, sizeof io->err, "connection closed by the server");
				r = 0;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				r = 2;
			} else {
				set_err(io->err, sizeof io->err, "error reading from the server: %s",
					strerror(errno));
				r = -1;
			}
		}
		if (io->rlen > io->rseen)
			io->rseen = io->rlen;
		if (r != 2)
			return r;
		if (wait_io(io, events, deadline, "waiting for the server") < 0)
			return -1;
	}
}

/* too_long - refuse the line; the rest of it would be read as the next line */
static int too_long(struct io *io)
{
	set_err(io->err, sizeof io->err, "server sent a line longer than %d bytes", IO_LINE_MAX);
	io->broken = true;
	io->rpos = io->rlen = 0;
	return -1;
}

/* io_read_line - next line; memory stays within rbuf however long the server's line */
int io_read_line(struct io *io, struct buf *line)
{
	buf_reset(line);
	if (io->broken) {
		if (io->err[0] == '\0')
			set_err(io->err, sizeof io->err, "connection unusable");
		return -1;
	}
	long long deadline = deadline_after(io->timeout);
	size_t scan = io->rpos;	/* bytes before scan hold no LF */
	for (;;) {
		char *nl = memchr(io->rbuf + scan, '\n', io->rlen - scan);
		if (nl != NULL) {
			size_t end = (size_t)(nl - io->rbuf);
			size_t len = end - io->rpos;
			if (len > 0 && io->rbuf[end - 1] == '\r')
				len--;
			if (len > IO_LINE_MAX)
				return too_long(io);
			if (buf_append(line, io->rbuf + io->rpos, len) < 0) {
				set_err(io->err, sizeof io->err,
					"server sent a line longer than %zu bytes", line->max);
				io->broken = true;
				return -1;
			}
			io->rpos = end + 1;
			if (io->rpos == io->rlen)
				io->rpos = io->rlen = 0;
			return 1;
		}
		/* a CR may still follow IO_LINE_MAX bytes; anything more is too long */
		if (io->rlen - io->rpos > IO_LINE_MAX + 1)
			return too_long(io);
		if (io->rlen == IO_RBUF) {
			memmove(io->rbuf, io->rbuf + io->rpos, io->rlen - io->rpos);
			io->rlen -= io->rpos;
			io->rpos = 0;
		}
		scan = io->rlen;
		int r = fill(io, deadline);
		if (r <= 0)
			return r;
	}
}

/* io_write - append to the write buffer, sending only when it is full */
int io_write(struct io *io, const void *p, size_t n)
{
	const char *s = p;
	if (io->broken) {
		set_err(io->err, sizeof io->err, "connection unusable");
		return -1;
	}
	while (n > 0) {
		if (io->wlen == IO_WBUF && io_flush(io) < 0)
			return -1;
		size_t k = IO_WBUF - io->wlen < n ? IO_WBUF - io->wlen : n;
		memcpy(io->wbuf + io->wlen, s, k);
		io->wlen += k;
		s += k;
		n -= k;
	}
	return 0;
}

/* send_some - one send or TLS write of wbuf[off..wlen): bytes sent, 0 to wait, -1 error */
static ssize_t send_some(struct io *io, size_t off, short *events)
{
	if (io->tls != NULL) {
		size_t put = 0;
		switch (tls_write(io->tls, io->wbuf + off, io->wlen - off, &put)) {
		case TLS_DONE:
			return (ssize_t)put;
		case TLS_WANT_READ:
			*events = POLLIN;
			return 0;
		case TLS_WANT_WRITE:
			*events = POLLOUT;
			return 0;
		default:
			set_err(io->err, sizeof io->err, "%s", tls_error(io->tls));
			return -1;
		}
	}
	ssize_t n = send(io->fd, io->wbuf + off, io->wlen - off, MSG_NOSIGNAL);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		*events = POLLOUT;
		return 0;
	}
	if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
		set_err(io->err, sizeof io->err, "connection closed by the server");
	else
		set_err(io->err, sizeof io->err, "error writing to the server: %s",
			n < 0 ? strerror(errno) : "nothing written");
	return -1;
}

/* io_flush - everything queued, in as few writes as the transport allows */
int io_flush(struct io *io)
{
	long long deadline = deadline_after(io->timeout);
	size_t off = 0;
	int r = 0;

	while (off < io->wlen) {
		short events = POLLOUT;
		ssize_t n = send_some(io, off, &events);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 || wait_io(io, events, deadline, "sending to the server") < 0) {
			r = -1;
			break;
		}
	}
	/* the buffer held AUTH lines too: leave no copy behind */
	explicit_bzero(io->wbuf, io->wlen);
	io->wlen = 0;
	return r;
}

/* io_error - last reason */
const char *io_error(const struct io *io)
{
	return io->err[0] != '\0' ? io->err : "no error";
}

/* io_close - close_notify without waiting, close, wipe */
void io_close(struct io *io)
{
	if (io == NULL)
		return;
	tls_free(io->tls);
	if (io->fd >= 0)
		close(io->fd);
	/*
	 * Only what the buffers hold: untouched pages would be faulted in for
	 * nothing. io_flush wipes wbuf as it empties it, so wbuf[0..wlen) is all
	 * that is left there.
	 */
	explicit_bzero(io->rbuf, io->rseen);
	explicit_bzero(io->wbuf, io->wlen);
	explicit_bzero(io, offsetof(struct io, rbuf));
	free(io);
}
