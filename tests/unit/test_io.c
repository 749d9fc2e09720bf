/* test_io - line reading, limits, deadlines and connects over real local sockets */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/memcheck.h>

#include "io.h"
#include "tls.h"

#include "crypto.h"
#include "row_label.h"

#define MAX_CHUNKS 6
#define MAX_LINES 6

/* write_all - test helper: the whole of p, or die */
static void write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t k = write(fd, s, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(1);
		s += k;
		n -= (size_t)k;
	}
}

/* feed - in a child: write chunks 30 ms apart, so that each is a separate read, then exit */
static void feed(int fd, const char *const *chunks, size_t nchunks)
{
	for (size_t i = 0; i < nchunks; i++) {
		write_all(fd, chunks[i], strlen(chunks[i]));
		usleep(30000);
	}
	_exit(0);
}

/* pair - an io over one end of a socket pair; *peer gets the other end */
static struct io *pair(int *peer, unsigned timeout)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct io *io = io_from_fd(sv[0], "test", timeout);
	assert_non_null(io);
	*peer = sv[1];
	return io;
}

/*
 * pair_fork - a socket pair and a child process for the peer's side,
 * forked before the io exists so that the child holds no copy of it
 * (valgrind checks children for leaks too). Child: NULL; parent: the io.
 */
static struct io *pair_fork(int *peer, unsigned timeout, pid_t *pid)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		close(sv[0]);
		*peer = sv[1];
		return NULL;
	}
	close(sv[1]);
	*peer = -1;
	struct io *io = io_from_fd(sv[0], "test", timeout);
	assert_non_null(io);
	return io;
}

/* reap - stop and collect a helper child */
static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static const struct {
	const char *chunks[MAX_CHUNKS];
	const char *lines[MAX_LINES];
	size_t nlines;
} split_cases[] = {
	{{"220 ready\r\n"}, {"220 ready"}, 1},
	{{"220 ready\n"}, {"220 ready"}, 1},
	{{"250-a\r\n250-b\n250 c\r\n"}, {"250-a", "250-b", "250 c"}, 3},
	{{"22", "0 re", "ady\r", "\n"}, {"220 ready"}, 1},
	{{"250-one\r", "\n250 two\r\n"}, {"250-one", "250 two"}, 2},
	{{"\r\n\n"}, {"", ""}, 2},
	{{"a\rb\r\n"}, {"a\rb"}, 1},			/* a lone CR stays in the line */
	{{"x\r\r\n"}, {"x\r"}, 1},			/* only one CR is part of the end */
	{{"nul\0", "\n"}, {"nul"}, 1},			/* strings end at the NUL in the table */
	{{"first\n", "second\r\n", "", "third"}, {"first", "second"}, 2},	/* unterminated tail */
};

/* test_line_splitting - CRLF or LF, split anywhere across reads */
static void test_line_splitting(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
		row_label("test_line_splitting: split_cases[%zu]", i);
		int peer;
		pid_t pid;
		size_t nchunks = 0;
		while (nchunks < MAX_CHUNKS && split_cases[i].chunks[nchunks] != NULL)
			nchunks++;
		struct io *io = pair_fork(&peer, 5, &pid);
		if (io == NULL)
			feed(peer, split_cases[i].chunks, nchunks);
		struct buf line;
		buf_init(&line, IO_LINE_MAX);
		for (size_t k = 0; k < split_cases[i].nlines; k++) {
			assert_int_equal(io_read_line(io, &line), 1);
			assert_string_equal(buf_cstr(&line), split_cases[i].lines[k]);
			assert_int_equal(line.len, strlen(split_cases[i].lines[k]));
		}
		assert_int_equal(io_read_line(io, &line), 0);
		assert_string_equal(io_error(io), "connection closed by the server");
		buf_free(&line);
		io_close(io);
		reap(pid);
	}
	row_label_done();
}

static const struct {
	size_t len;	/* bytes before the end of line */
	const char *eol;
	int result;
} length_cases[] = {
	{IO_LINE_MAX, "\r\n", 1},
	{IO_LINE_MAX, "\n", 1},
	{IO_LINE_MAX + 1, "\r\n", -1},
	{IO_LINE_MAX + 1, "\n", -1},
	{IO_LINE_MAX + 2, "\n", -1},
	{IO_LINE_MAX - 1, "\r\n", 1},
	{8 * 1024 * 1024, "\r\n", -1},	/* a server streaming garbage without end */
};

/* test_line_limit - IO_LINE_MAX accepted, one more refused, memory never grown */
static void test_line_limit(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof length_cases / sizeof length_cases[0]; i++) {
		row_label("test_line_limit: length_cases[%zu]", i);
		int peer;
		pid_t pid;
		size_t len = length_cases[i].len;
		struct io *io = pair_fork(&peer, 5, &pid);
		if (io == NULL) {
			char block[4096];
			memset(block, 'a', sizeof block);
			for (size_t done = 0; done < len;) {
				size_t k = len - done < sizeof block ? len - done : sizeof block;
				write_all(peer, block, k);
				done += k;
			}
			write_all(peer, length_cases[i].eol, strlen(length_cases[i].eol));
			write_all(peer, "250 next\r\n", 10);
			_exit(0);
		}
		struct buf line;
		buf_init(&line, 64 * 1024 * 1024);
		int r = io_read_line(io, &line);
		assert_int_equal(r, length_cases[i].result);
		if (r == 1) {
			assert_int_equal(line.len, len);
			assert_int_equal(io_read_line(io, &line), 1);
			assert_string_equal(buf_cstr(&line), "250 next");
		} else {
			assert_string_equal(io_error(io), "server sent a line longer than 4096 bytes");
			/* refused before anything was copied out of the fixed read buffer */
			assert_null(line.data);
			assert_int_equal(line.len, 0);
			/* the session is over: the tail must not pass as the next reply */
			assert_int_equal(io_read_line(io, &line), -1);
		}
		buf_free(&line);
		io_close(io);
		reap(pid);
	}
	row_label_done();
}

/* test_timeout - a silent server: -1 after about the deadline, with the reason */
static void test_timeout(void **state)
{
	(void)state;
	int peer;
	struct io *io = pair(&peer, 30);
	io_set_timeout(io, 1);
	struct buf line;
	buf_init(&line, IO_LINE_MAX);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	write_all(peer, "220 partial", 11);
	assert_int_equal(io_read_line(io, &line), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_true(secs >= 0.9);
	assert_true(secs < 3.0);
	assert_string_equal(io_error(io), "timeout after 1s waiting for the server");
	buf_free(&line);
	io_close(io);
	close(peer);
}

/* test_peer_close - the end of the stream is 0, also in the middle of a line */
static void test_peer_close(void **state)
{
	(void)state;
	int peer;
	struct io *io = pair(&peer, 5);
	write_all(peer, "421 bye\r\n250 half", 17);
	close(peer);
	struct buf line;
	buf_init(&line, IO_LINE_MAX);
	assert_int_equal(io_read_line(io, &line), 1);
	assert_string_equal(buf_cstr(&line), "421 bye");
	assert_int_equal(io_read_line(io, &line), 0);
	assert_string_equal(io_error(io), "connection closed by the server");
	assert_int_equal(io_read_line(io, &line), 0);
	/* writing to a closed peer fails cleanly instead of raising SIGPIPE */
	assert_int_equal(io_write(io, "QUIT\r\n", 6), 0);
	assert_int_equal(io_flush(io), -1);
	assert_string_equal(io_error(io), "connection closed by the server");
	buf_free(&line);
	io_close(io);
}

/* test_pending - bytes behind a line are reported, and block STARTTLS */
static void test_pending(void **state)
{
	(void)state;
	int peer;
	struct io *io = pair(&peer, 5);
	struct buf line;
	buf_init(&line, IO_LINE_MAX);
	write_all(peer, "220 go ahead\r\n", 14);
	assert_int_equal(io_read_line(io, &line), 1);
	assert_int_equal(io_pending(io), 0);
	write_all(peer, "220 go ahead\r\n250 injected\r\n", 28);
	assert_int_equal(io_read_line(io, &line), 1);
	assert_string_equal(buf_cstr(&line), "220 go ahead");
	assert_int_equal(io_pending(io), 14);
	struct tls_settings t = {.servername = "localhost", .verify = true};
	assert_int_equal(io_start_tls(io, &t), -1);
	assert_non_null(strstr(io_error(io), "ahead of the handshake"));
	assert_false(io_is_tls(io));
	assert_int_equal(io_read_line(io, &line), 1);
	assert_string_equal(buf_cstr(&line), "250 injected");
	assert_int_equal(io_pending(io), 0);
	buf_free(&line);
	io_close(io);
	close(peer);
}

/*
 * free is wrapped for this test program (-Wl,--wrap=free in the Makefile)
 * so that test_close_wipes can look at an io's memory just before it goes
 * back to the allocator.
 */
void __real_free(void *p);
void __wrap_free(void *p);
static const void *watched;	/* the block __wrap_free inspects, once */
static int watched_marks = -1;	/* MARK- found in it when it was freed */

/* count_marks - occurrences of "MARK-" in the n bytes at p (all bytes, written or not) */
static int count_marks(const void *p, size_t n)
{
	/* the buffers' tails were never written: valgrind would call them undefined */
	VALGRIND_MAKE_MEM_DEFINED(p, n);
	int found = 0;
	const char *s = p, *end = s + n;
	while ((s = memmem(s, (size_t)(end - s), "MARK-", 5)) != NULL) {
		found++;
		s += 5;
	}
	return found;
}

void __wrap_free(void *p)
{
	if (p != NULL && p == watched) {
		watched_marks = count_marks(p, malloc_usable_size(p));
		watched = NULL;
	}
	__real_free(p);
}

/*
 * test_close_wipes - io_close leaves nothing of a server's reply in the read
 * buffer nor of an unsent command in the write buffer (it wipes only what
 * the buffers ever held, so these must be counted right)
 */
static void test_close_wipes(void **state)
{
	(void)state;
	int peer;
	struct io *io = pair(&peer, 5);
	struct buf line;
	buf_init(&line, IO_LINE_MAX);
	write_all(peer, "334 MARK-CHALLENGE\r\n", 20);
	assert_int_equal(io_read_line(io, &line), 1);
	assert_string_equal(buf_cstr(&line), "334 MARK-CHALLENGE");
	assert_int_equal(io_write(io, "MARK-SECRET-RESPONSE\r\n", 22), 0);
	/* both are in the io's memory now: the test can see them */
	assert_int_equal(count_marks(io, malloc_usable_size(io)), 2);
	watched = io;
	watched_marks = -1;
	io_close(io);
	assert_int_equal(watched_marks, 0);
	buf_wipe(&line);
	close(peer);
}

/* test_write_buffering - nothing leaves before io_flush; then all of it at once */
static void test_write_buffering(void **state)
{
	(void)state;
	int peer;
	struct io *io = pair(&peer, 5);
	const char *group = "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n";
	assert_int_equal(io_write(io, group, 27), 0);
	assert_int_equal(io_write(io, group + 27, strlen(group) - 27), 0);
	char got[256];
	assert_int_equal(recv(peer, got, sizeof got, MSG_DONTWAIT), -1);
	assert_int_equal(io_flush(io), 0);
	ssize_t n = recv(peer, got, sizeof got, 0);
	assert_int_equal(n, (ssize_t)strlen(group));	/* one read: one write */
	assert_memory_equal(got, group, strlen(group));
	io_close(io);
	close(peer);
}

/* test_write_large - more than the write buffer, byte-exact at the other end */
static void test_write_large(void **state)
{
	(void)state;
	int peer;
	pid_t pid;
	size_t total = 300 * 1000 + 7;
	struct io *io = pair_fork(&peer, 5, &pid);
	if (io == NULL) {
		/* count and checksum what arrives, then answer with one line */
		unsigned long sum = 0, count = 0;
		char b[8192];
		while (count < total) {
			ssize_t k = read(peer, b, sizeof b);
			if (k <= 0)
				_exit(1);
			for (ssize_t j = 0; j < k; j++)
				sum = sum * 31 + (unsigned char)b[j];
			count += (unsigned long)k;
		}
		char reply[64];
		int m = snprintf(reply, sizeof reply, "%lu %lu\r\n", count, sum);
		if (m < 0 || (size_t)m >= sizeof reply)
			_exit(1);
		write_all(peer, reply, (size_t)m);
		_exit(0);
	}
	unsigned long sum = 0;
	for (size_t i = 0; i < total; i++) {
		char c = (char)('a' + i % 26);
		sum = sum * 31 + (unsigned char)c;
		assert_int_equal(io_write(io, &c, 1), 0);
	}
	assert_int_equal(io_flush(io), 0);
	struct buf line;
	buf_init(&line, IO_LINE_MAX);
	assert_int_equal(io_read_line(io, &line), 1);
	char want[64];
	assert_in_range(snprintf(want, sizeof want, "%zu %lu", total, sum), 1, sizeof want - 1);
	assert_string_equal(buf_cstr(&line), want);
	buf_free(&line);
	io_close(io);
	waitpid(pid, NULL, 0);
}

/* listener - a TCP listener on a free loopback port of the given family */
static int listener(int family, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof *s6;
	}
	int fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* test_connect - peer text, loopback, a greeting across TCP */
static void test_connect(void **state)
{
	(void)state;
	static const struct {
		int family;
		const char *host;
		const char *addr;
	} cases[] = {
		{AF_INET, "127.0.0.1", "127.0.0.1"},
		{AF_INET6, "::1", "::1"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_connect: cases[%zu]", i);
		unsigned port;
		int lfd = listener(cases[i].family, &port);
		if (lfd < 0 && cases[i].family == AF_INET6)
			continue;	/* no IPv6 here */
		assert_true(lfd >= 0);
		char err[256], want[128];
		struct io *io = io_connect(cases[i].host, port, 5, err, sizeof err);
		assert_non_null(io);
		assert_in_range(snprintf(want, sizeof want, "%s[%s]:%u", cases[i].host,
					 cases[i].addr, port), 1, sizeof want - 1);
		assert_string_equal(io_peer(io), want);
		assert_true(io_peer_is_loopback(io));
		int c = accept(lfd, NULL, NULL);
		assert_true(c >= 0);
		write_all(c, "220 hello\r\n", 11);
		struct buf line;
		buf_init(&line, IO_LINE_MAX);
		assert_int_equal(io_read_line(io, &line), 1);
		assert_string_equal(buf_cstr(&line), "220 hello");
		buf_free(&line);
		io_close(io);
		close(c);
		close(lfd);
	}
	row_label_done();
}

/* test_connect_refused - the error names host, address, port and reason */
static void test_connect_refused(void **state)
{
	(void)state;
	unsigned port;
	int lfd = listener(AF_INET, &port);
	assert_true(lfd >= 0);
	close(lfd);	/* the port is free and nobody listens */
	char err[256], want[256];
	assert_null(io_connect("127.0.0.1", port, 5, err, sizeof err));
	assert_in_range(snprintf(want, sizeof want,
				 "connect to 127.0.0.1[127.0.0.1]:%u: Connection refused", port),
			1, sizeof want - 1);
	assert_string_equal(err, want);
	assert_null(io_connect("", 25, 5, err, sizeof err));
	assert_null(io_connect("127.0.0.1", 0, 5, err, sizeof err));
	assert_null(io_connect("256.1.1.1.1", 25, 5, err, sizeof err));
	assert_non_null(strstr(err, "name lookup failed"));
}

/* test_tls_config_errors - bad settings fail before any byte is sent */
static void test_tls_config_errors(void **state)
{
	(void)state;
	static const struct {
		struct tls_settings t;
		const char *error;
	} cases[] = {
		{{.servername = "localhost", .fingerprint = "abcd"},
		 "TLS: the fingerprint is not 64 hex digits (SHA-256)"},
		{{.servername = "localhost",
		  .fingerprint = "zz00000000000000000000000000000000000000000000000000000000000000"},
		 "TLS: the fingerprint is not 64 hex digits (SHA-256)"},
		{{.servername = "localhost", .verify = true, .ca_file = "/nonexistent/ca.pem"},
		 "TLS: cannot load CA file /nonexistent/ca.pem"},
		{{.servername = "localhost", .cert_file = "/nonexistent/c.pem"},
		 "TLS: cannot load client certificate /nonexistent/c.pem"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_tls_config_errors: cases[%zu]", i);
		int peer;
		struct io *io = pair(&peer, 5);
		assert_int_equal(io_start_tls(io, &cases[i].t), -1);
		if (strncmp(io_error(io), cases[i].error, strlen(cases[i].error)) != 0)
			fail_msg("case %zu: got \"%s\"", i, io_error(io));
		/* OpenSSL's reason as text, not "lib(N)::reason(M)" */
		assert_null(strstr(io_error(io), "reason("));
		char b[16];
		assert_int_equal(recv(peer, b, sizeof b, MSG_DONTWAIT), -1);	/* nothing sent */
		io_close(io);
		close(peer);
	}
	row_label_done();
}

/* test_tls_handshake_eof - a server that hangs up mid-handshake is a clean failure */
static void test_tls_handshake_eof(void **state)
{
	(void)state;
	int peer;
	pid_t pid;
	struct io *io = pair_fork(&peer, 5, &pid);
	if (io == NULL) {
		char b[4096];
		ssize_t k = read(peer, b, sizeof b);	/* the ClientHello */
		_exit(k > 0 ? 0 : 1);
	}
	struct tls_settings t = {.servername = "localhost", .verify = false};
	assert_int_equal(io_start_tls(io, &t), -1);
	assert_non_null(strstr(io_error(io), "TLS handshake failed"));
	io_close(io);
	waitpid(pid, NULL, 0);
}

/* test_tls_handshake_timeout - a silent server: the handshake deadline fires */
static void test_tls_handshake_timeout(void **state)
{
	(void)state;
	int peer;
	struct io *io = pair(&peer, 1);
	struct tls_settings t = {.servername = "localhost"};
	assert_int_equal(io_start_tls(io, &t), -1);
	assert_string_equal(io_error(io), "timeout after 1s in the TLS handshake");
	io_close(io);
	close(peer);
}

/* test_session_key - the key changes with every setting that decides trust */
static void test_session_key(void **state)
{
	(void)state;
	struct tls_settings base = {.servername = "mx.example.com", .verify = true};
	char k0[TLS_KEY_MAX], k[TLS_KEY_MAX];
	assert_int_equal(tls_session_key(&base, "mx.example.com", 587, k0), 0);
	assert_int_equal(strlen(k0), 64);
	assert_int_equal(tls_session_key(&base, "mx.example.com", 587, k), 0);
	assert_string_equal(k, k0);
	struct tls_settings v[] = {
		{.servername = "mx.example.com", .verify = false},
		{.servername = "mx.example.org", .verify = true},
		{.servername = "mx.example.com", .verify = true, .ca_file = "/etc/ca.pem"},
		{.servername = "mx.example.com", .verify = true, .fingerprint = "00"},
		{.servername = "mx.example.com", .verify = true, .cert_file = "c.pem"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		row_label("test_session_key: v[%zu]", i);
		assert_int_equal(tls_session_key(&v[i], "mx.example.com", 587, k), 0);
		assert_string_not_equal(k, k0);
	}
	row_label_done();
	assert_int_equal(tls_session_key(&base, "mx.example.com", 465, k), 0);
	assert_string_not_equal(k, k0);
}

/*
 * Test certificates, valid 2000-2100 (the expired one 2000-2001), P-256:
 * a CA, a server certificate for localhost and 127.0.0.1 signed by it, an
 * unrelated CA, and a client certificate signed by the first CA.
 */
static const char ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBajCCAQ+gAwIBAgICEAAwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRcmVsYXlt\n"
	"YWlsIHRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBwx\n"
	"GjAYBgNVBAMMEXJlbGF5bWFpbCB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
	"AQcDQgAE3VNxoXk+HGIErkqHPQPB3S/2TyUrkCDIXD1997ZNVoGZFHAnRzPXnVSD\n"
	"oVFAqY7ukcqOXaBB4Gc+WkDA7bU2DqM/MD0wDwYDVR0TAQH/BAUwAwEB/zALBgNV\n"
	"HQ8EBAMCAgQwHQYDVR0OBBYEFAATv0m3qJWi02J0M4edPTpJa9O3MAoGCCqGSM49\n"
	"BAMCA0kAMEYCIQCetAFewp6ydJ2Kop5LKKAN61TELNI5UmErcZFUcadyzwIhAOh5\n"
	"bBVJzt1XyXZ6XIPI4tMKTkaBQ7thBTT2vDYsDi2y\n"
	"-----END CERTIFICATE-----\n";

static const char other_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBajCCARGgAwIBAgICEAEwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwScmVsYXlt\n"
	"YWlsIG90aGVyIENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAd\n"
	"MRswGQYDVQQDDBJyZWxheW1haWwgb3RoZXIgQ0EwWTATBgcqhkjOPQIBBggqhkjO\n"
	"PQMBBwNCAAR/4uLGF/OOgcpF33omQk5WHUPeAxdm0EQpEMHe0pxN55vJvPVPb//H\n"
	"KRxl9fkkQ8I0seyTta2/D78lTcYCmEh0oz8wPTAPBgNVHRMBAf8EBTADAQH/MAsG\n"
	"A1UdDwQEAwICBDAdBgNVHQ4EFgQUiBmqI3nVKWtZuus8WC6zV+L2Jl4wCgYIKoZI\n"
	"zj0EAwIDRwAwRAIgRKpJG3n+jv2kKTkN+k1yZnFOOR3CGfjXE2oWCgwhUT4CIEBv\n"
	"9LZ3bQsraFyHaYzhVq+4bfX+t1jiJatCMTxvYwXJ\n"
	"-----END CERTIFICATE-----\n";

static const char server_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBizCCATGgAwIBAgICEAIwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRcmVsYXlt\n"
	"YWlsIHRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQx\n"
	"EjAQBgNVBAMMCWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCx9\n"
	"mQVTVrKz9CQ04gee3sNJX+2nkQUYDLkmOsMAICLBsA6QGrNlXcGudv0GwVk+Gjrf\n"
	"sRmY2JAd4sm/ux91opujaTBnMAkGA1UdEwQCMAAwGgYDVR0RBBMwEYIJbG9jYWxo\n"
	"b3N0hwR/AAABMB8GA1UdIwQYMBaAFAATv0m3qJWi02J0M4edPTpJa9O3MB0GA1Ud\n"
	"DgQWBBTHpCr8/CvtW+De7ml9rC1kaTdeATAKBggqhkjOPQQDAgNIADBFAiEA2aB7\n"
	"ISvUF2UIeRiDm7CHMS7masUFv5Hkdn8mA9i7yM0CIFYLZ60m1sBgzCg4u+ml72pj\n"
	"/oSMVRamwryUwk99GLFo\n"
	"-----END CERTIFICATE-----\n";

static const char expired_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBiTCCAS+gAwIBAgICEAMwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRcmVsYXlt\n"
	"YWlsIHRlc3QgQ0EwHhcNMDAwMTAxMDAwMDAwWhcNMDEwMTAxMDAwMDAwWjAUMRIw\n"
	"EAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQsfZkF\n"
	"U1ays/QkNOIHnt7DSV/tp5EFGAy5JjrDACAiwbAOkBqzZV3Brnb9BsFZPho637EZ\n"
	"mNiQHeLJv7sfdaKbo2kwZzAJBgNVHRMEAjAAMBoGA1UdEQQTMBGCCWxvY2FsaG9z\n"
	"dIcEfwAAATAfBgNVHSMEGDAWgBQAE79Jt6iVotNidDOHnT06SWvTtzAdBgNVHQ4E\n"
	"FgQUx6Qq/Pwr7Vvg3u5pfawtZGk3XgEwCgYIKoZIzj0EAwIDSAAwRQIgDxS7O6TP\n"
	"+7ZYmXNk7HQC65l3aJ4owBmjKDsU75ePxGkCIQCaAl/FKccIl/kabxV/NO3atRIB\n"
	"CWhpV1xkMIoDwafzxQ==\n"
	"-----END CERTIFICATE-----\n";

static const char server_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2PZqb9TBEdI6nDiF\n"
	"nfbz3KD1ir1C5YI7TGAnUz6GXkOhRANCAAQsfZkFU1ays/QkNOIHnt7DSV/tp5EF\n"
	"GAy5JjrDACAiwbAOkBqzZV3Brnb9BsFZPho637EZmNiQHeLJv7sfdaKb\n"
	"-----END PRIVATE KEY-----\n";

static const char client_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBijCCATGgAwIBAgICEAQwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRcmVsYXlt\n"
	"YWlsIHRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBsx\n"
	"GTAXBgNVBAMMEHJlbGF5bWFpbCBjbGllbnQwWTATBgcqhkjOPQIBBggqhkjOPQMB\n"
	"BwNCAASo5SSbNnsi8lQI3ZbEX6RqKgbl+1Hd4DXkzHfgd6oeHNWQ7awqRIJBL4ec\n"
	"7kAJ0cjENOHOtxjD2U1OCjEuugYHo2IwYDAJBgNVHRMEAjAAMBMGA1UdJQQMMAoG\n"
	"CCsGAQUFBwMCMB0GA1UdDgQWBBSyjue+lLaMohz8uZxfiUVktSW92zAfBgNVHSME\n"
	"GDAWgBQAE79Jt6iVotNidDOHnT06SWvTtzAKBggqhkjOPQQDAgNHADBEAiBthege\n"
	"ww80/Brvs4Nkx80agKywnLex+B4I2nPcSh0UFQIgLsRlsDK+Z+ShkQr1gusLpURg\n"
	"Kjexh/oWqg/4D9CKf9c=\n"
	"-----END CERTIFICATE-----\n";

static const char client_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkQeevkQKY4WjHFgh\n"
	"SQn8372L3ndEUUanc/P3JGRlJqWhRANCAASo5SSbNnsi8lQI3ZbEX6RqKgbl+1Hd\n"
	"4DXkzHfgd6oeHNWQ7awqRIJBL4ec7kAJ0cjENOHOtxjD2U1OCjEuugYH\n"
	"-----END PRIVATE KEY-----\n";

/* the TLS peer: Python's ssl module on the other end of the socket pair */
static const char tls_server_py[] =
	"import socket, ssl, sys\n"
	"fd, cert, key, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]\n"
	"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	"ctx.load_cert_chain(cert, key)\n"
	"if ca != '-':\n"
	"    ctx.load_verify_locations(ca)\n"
	"    ctx.verify_mode = ssl.CERT_REQUIRED\n"
	"try:\n"
	"    t = ctx.wrap_socket(socket.socket(fileno=fd), server_side=True)\n"
	"    line = b''\n"
	"    while not line.endswith(b'\\n'):\n"
	"        d = t.recv(100)\n"
	"        if not d:\n"
	"            break\n"
	"        line += d\n"
	"    t.sendall(b'250 ' + line.strip()[::-1] + b'\\r\\n')\n"
	"    t.close()\n"
	"except Exception:\n"
	"    pass\n";

struct tls_fixture {
	char dir[64];
	char path[7][128];
	char pin[65];
};

enum { F_CA, F_OTHER_CA, F_SERVER, F_EXPIRED, F_SERVER_KEY, F_CLIENT, F_CLIENT_KEY };

/* pem_fingerprint - SHA-256 of a PEM certificate's DER, as the configuration writes it */
static void pem_fingerprint(const char *pem, char out[65])
{
	struct buf b64, der, hex;
	unsigned char md[32];
	buf_init(&b64, 4096);
	buf_init(&der, 4096);
	buf_init(&hex, 65);
	const char *p = strchr(pem, '\n') + 1;
	const char *end = strstr(p, "-----END");
	for (; p < end; p++)
		if (*p != '\n')
			assert_int_equal(buf_putc(&b64, *p), 0);
	assert_int_equal(crypto_base64_decode(b64.data, b64.len, &der), 0);
	assert_int_equal(crypto_sha256(der.data, der.len, md), 0);
	assert_int_equal(crypto_hex(md, sizeof md, &hex), 0);
	memcpy(out, hex.data, 65);
	buf_free(&b64);
	buf_free(&der);
	buf_free(&hex);
}

/* tls_setup - the certificates in a private temporary directory */
static int tls_setup(void **state)
{
	static const char *const names[] = {"ca.pem", "other-ca.pem", "server.pem", "expired.pem",
					    "server.key", "client.pem", "client.key"};
	const char *const texts[] = {ca_pem, other_ca_pem, server_pem, expired_pem,
				     server_key, client_pem, client_key};
	struct tls_fixture *f = calloc(1, sizeof *f);
	if (f == NULL || access("/usr/bin/python3", X_OK) != 0)
		return -1;
	memcpy(f->dir, "/tmp/test_io.XXXXXX", sizeof "/tmp/test_io.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	for (size_t i = 0; i < 7; i++) {
		int n = snprintf(f->path[i], sizeof f->path[i], "%s/%s", f->dir, names[i]);
		if (n < 0 || (size_t)n >= sizeof f->path[i])
			return -1;
		FILE *fp = fopen(f->path[i], "w");
		if (fp == NULL || fputs(texts[i], fp) < 0 || fclose(fp) != 0)
			return -1;
	}
	pem_fingerprint(server_pem, f->pin);
	*state = f;
	return 0;
}

/* tls_teardown - remove the temporary directory */
static int tls_teardown(void **state)
{
	struct tls_fixture *f = *state;
	(void)row_label_report(state);
	for (size_t i = 0; i < 7; i++)
		unlink(f->path[i]);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* tls_server - start the Python peer on fd with the given certificate */
static pid_t tls_server(const struct tls_fixture *f, int fd, int cert, const char *client_ca)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char fdtext[16];
		int n = snprintf(fdtext, sizeof fdtext, "%d", fd);
		if (n < 0 || (size_t)n >= sizeof fdtext)
			_exit(127);
		execl("/usr/bin/python3", "python3", "-I", "-c", tls_server_py, fdtext,
		      f->path[cert], f->path[F_SERVER_KEY], client_ca, (char *)NULL);
		_exit(127);
	}
	return pid;
}

#define PIN_OK "*"	/* stands for the server certificate's real fingerprint */

static const struct {
	int cert;		/* what the server presents */
	bool verify;
	int ca;			/* -1: none given */
	const char *pin;
	const char *servername;
	bool client_auth;	/* the server demands a client certificate */
	bool give_client_cert;
	const char *error;	/* NULL: the handshake and one exchange succeed */
} tls_cases[] = {
	{F_SERVER, true, F_CA, NULL, NULL, false, false, NULL},
	{F_SERVER, true, F_CA, NULL, "localhost", false, false, NULL},
	{F_SERVER, true, F_CA, NULL, "127.0.0.1", false, false, NULL},
	{F_SERVER, true, F_CA, NULL, "mail.example.com", false, false,
	 "TLS: certificate verify failed: hostname mismatch"},
	{F_SERVER, true, F_CA, NULL, "127.0.0.2", false, false,
	 "TLS: certificate verify failed: IP address mismatch"},
	{F_SERVER, true, F_OTHER_CA, NULL, NULL, false, false,
	 "TLS: certificate verify failed: unable to get local issuer certificate"},
	{F_EXPIRED, true, F_CA, NULL, NULL, false, false,
	 "TLS: certificate verify failed: certificate has expired"},
	{F_SERVER, false, -1, PIN_OK, "mail.example.com", false, false, NULL},
	{F_SERVER, false, -1, "00000000000000000000000000000000"
			      "00000000000000000000000000000000", NULL, false, false,
	 "TLS: certificate fingerprint mismatch"},
	{F_SERVER, true, F_CA, PIN_OK, NULL, false, false, NULL},
	{F_SERVER, true, F_CA, PIN_OK, "mail.example.com", false, false,
	 "TLS: certificate verify failed: hostname mismatch"},
	{F_SERVER, true, F_OTHER_CA, PIN_OK, NULL, false, false,
	 "TLS: certificate verify failed: unable to get local issuer certificate"},
	{F_EXPIRED, false, -1, NULL, "mail.example.com", false, false, NULL},
	{F_SERVER, true, F_CA, NULL, NULL, true, true, NULL},
	/* the TLS 1.3 server refuses after our side finished: its alert or its hang-up */
	{F_SERVER, true, F_CA, NULL, NULL, true, false, ""},
};

/* test_tls_verify - chain, name, expiry and pin decisions against a real TLS server */
static void test_tls_verify(void **state)
{
	const struct tls_fixture *f = *state;
	for (size_t i = 0; i < sizeof tls_cases / sizeof tls_cases[0]; i++) {
		row_label("test_tls_verify: tls_cases[%zu]", i);
		int sv[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		pid_t pid = tls_server(f, sv[1], tls_cases[i].cert,
				       tls_cases[i].client_auth ? f->path[F_CA] : "-");
		close(sv[1]);
		struct io *io = io_from_fd(sv[0], "localhost", 10);
		assert_non_null(io);
		const char *pin = tls_cases[i].pin;
		struct tls_settings t = {
			.servername = tls_cases[i].servername,
			.verify = tls_cases[i].verify,
			.ca_file = tls_cases[i].ca >= 0 ? f->path[tls_cases[i].ca] : NULL,
			.fingerprint = pin != NULL && strcmp(pin, PIN_OK) == 0 ? f->pin : pin,
			.cert_file = tls_cases[i].give_client_cert ? f->path[F_CLIENT] : NULL,
			.key_file = tls_cases[i].give_client_cert ? f->path[F_CLIENT_KEY] : NULL,
		};
		struct buf line;
		buf_init(&line, IO_LINE_MAX);
		int r = io_start_tls(io, &t);
		if (r == 0 && (io_write(io, "hello\n", 6) < 0 || io_flush(io) < 0 ||
			       io_read_line(io, &line) != 1))
			r = -1;
		if (tls_cases[i].error == NULL) {
			if (r != 0)
				fail_msg("case %zu: %s", i, io_error(io));
			assert_true(io_is_tls(io));
			assert_string_equal(buf_cstr(&line), "250 olleh");
			assert_non_null(strstr(io_tls_describe(io), "TLSv1."));
		} else {
			if (r != -1)
				fail_msg("case %zu: accepted", i);
			if (strncmp(io_error(io), tls_cases[i].error, strlen(tls_cases[i].error)) != 0)
				fail_msg("case %zu: got \"%s\"", i, io_error(io));
		}
		buf_free(&line);
		io_close(io);
		waitpid(pid, NULL, 0);
	}
	row_label_done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_line_splitting, row_label_report),
		cmocka_unit_test_teardown(test_line_limit, row_label_report),
		cmocka_unit_test_teardown(test_timeout, row_label_report),
		cmocka_unit_test_teardown(test_peer_close, row_label_report),
		cmocka_unit_test_teardown(test_pending, row_label_report),
		cmocka_unit_test_teardown(test_close_wipes, row_label_report),
		cmocka_unit_test_teardown(test_write_buffering, row_label_report),
		cmocka_unit_test_teardown(test_write_large, row_label_report),
		cmocka_unit_test_teardown(test_connect, row_label_report),
		cmocka_unit_test_teardown(test_connect_refused, row_label_report),
		cmocka_unit_test_teardown(test_tls_config_errors, row_label_report),
		cmocka_unit_test_teardown(test_tls_handshake_eof, row_label_report),
		cmocka_unit_test_teardown(test_tls_handshake_timeout, row_label_report),
		cmocka_unit_test_teardown(test_session_key, row_label_report),
		cmocka_unit_test_setup_teardown(test_tls_verify, tls_setup, tls_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
