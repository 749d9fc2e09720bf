/* test_message - message intake: line endings, dot rule, headers, completion */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "message.h"
#include "row_label.h"

/* a string literal with its length, NUL bytes included */
#define S(x) x, sizeof(x) - 1

/* sink - collects what message_* hand to their callback */
struct sink {
	struct buf b;
	size_t calls;
	size_t max_chunk;
	size_t total;
	bool keep;		/* false: only count (large inputs) */
	int fail;		/* returned by the callback when non-zero */
	size_t heap_base;
	size_t heap_peak;
};

/* sink_write - the write callback under test */
static int sink_write(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;
	s->calls++;
	s->total += n;
	if (n > s->max_chunk)
		s->max_chunk = n;
	struct mallinfo2 mi = mallinfo2();
	if (mi.uordblks > s->heap_peak)
		s->heap_peak = mi.uordblks;
	if (s->fail != 0)
		return s->fail;
	if (s->keep && buf_append(&s->b, p, n) < 0)
		return -100;
	return 0;
}

/* sink_init - an empty sink that keeps what it gets */
static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof *s);
	buf_init(&s->b, 64 * 1024 * 1024);
	s->keep = true;
}

/*
 * feed - a reader fd fed by a child that writes in in packets of chunk
 * bytes over a SEQPACKET socket, so that every read(2) sees one packet:
 * this forces line endings to be split across reads.
 */
static int feed(const char *in, size_t len, size_t chunk, pid_t *pid)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		close(sv[0]);
		for (size_t i = 0; i < len; i += chunk) {
			size_t n = len - i < chunk ? len - i : chunk;
			if (write(sv[1], in + i, n) != (ssize_t)n)
				_exit(1);
		}
		_exit(0);
	}
	close(sv[1]);
	return sv[0];
}

/* feed_end - close the reader side and reap the child */
static void feed_end(int fd, pid_t pid)
{
	close(fd);
	waitpid(pid, NULL, 0);
}

/* run - read headers, write them and the body into s; result of the first failing step */
static int run_fd(int fd, bool dot_ends, struct sink *s, char *err, size_t errlen,
		  bool *eightbit)
{
	struct message_reader *r = malloc(sizeof *r);
	assert_non_null(r);
	message_reader_init(r, fd, dot_ends);
	struct message_headers h;
	int rc = message_read_headers(r, &h, err, errlen);
	if (rc == 0)
		rc = message_write_headers(&h, sink_write, s);
	if (rc == 0)
		rc = message_copy_body(r, sink_write, s);
	if (eightbit != NULL)
		*eightbit = r->eightbit;
	message_headers_free(&h);
	message_reader_free(r);
	free(r);
	return rc;
}

/* run_str - run over in, fed in chunks */
static int run_str(const char *in, size_t len, bool dot_ends, size_t chunk,
		   struct sink *s, char *err, size_t errlen)
{
	pid_t pid;
	int fd = feed(in, len, chunk, &pid);
	int rc = run_fd(fd, dot_ends, s, err, errlen, NULL);
	feed_end(fd, pid);
	return rc;
}

/* assert_out - the sink holds exactly want */
static void assert_out(const struct sink *s, const char *want, size_t wantlen, const char *label)
{
	if (s->b.len != wantlen || memcmp(s->b.data, want, wantlen) != 0) {
		fprintf(stderr, "case %s: got %zu bytes [", label, s->b.len);
		fwrite(s->b.data, 1, s->b.len, stderr);
		fprintf(stderr, "] want %zu bytes\n", wantlen);
		fail();
	}
}

struct io_case {
	const char *in;
	size_t inlen;
	bool dot_ends;
	const char *want;
	size_t wantlen;
};

/* without a header, output is the empty line and the body */
static const struct io_case io_cases[] = {
	{ S("a\nb\n"), true, S("\r\na\r\nb\r\n") },
	{ S("a\r\nb\r\n"), true, S("\r\na\r\nb\r\n") },
	{ S("a\r\nb\nc\r\n"), true, S("\r\na\r\nb\r\nc\r\n") },
	{ S("a\rb\r\n"), true, S("\r\na\r\nb\r\n") },
	{ S("a\r\rb"), true, S("\r\na\r\n\r\nb\r\n") },
	{ S("a\n\rb\n"), true, S("\r\na\r\n\r\nb\r\n") },
	{ S("a\r\n\r\nb"), true, S("\r\na\r\n\r\nb\r\n") },
	{ S("a"), true, S("\r\na\r\n") },
	{ S(""), true, S("\r\n") },
	{ S("a\n\n"), true, S("\r\na\r\n\r\n") },
	{ S("\r\n\r\n"), true, S("\r\n\r\n") },
	/* the dot rule */
	{ S("a\n.\nb\n"), true, S("\r\na\r\n") },
	{ S("a\n.\nb\n"), false, S("\r\na\r\n.\r\nb\r\n") },
	{ S("a\n..\nb\n"), true, S("\r\na\r\n..\r\nb\r\n") },
	{ S("a\n..\nb\n"), false, S("\r\na\r\n..\r\nb\r\n") },
	{ S("a\n. \nb\n"), true, S("\r\na\r\n. \r\nb\r\n") },
	{ S("a\n.x\nb\n"), true, S("\r\na\r\n.x\r\nb\r\n") },
	{ S("a\n.x\nb\n"), false, S("\r\na\r\n.x\r\nb\r\n") },
	{ S("a\n x.\n"), true, S("\r\na\r\n x.\r\n") },
	{ S("a\n.\r\nb"), true, S("\r\na\r\n") },
	{ S("a\r.\rb"), true, S("\r\na\r\n") },
	{ S("a\n."), true, S("\r\na\r\n") },
	{ S("a\n."), false, S("\r\na\r\n.\r\n") },
	{ S(".\nSubject: x\n"), true, S("\r\n") },
	{ S(".\nSubject: x\n"), false, S("\r\n.\r\nSubject: x\r\n") },
	{ S("Subject: x\n.\nbody\n"), true, S("Subject: x\r\n\r\n") },
	{ S("Subject: x\n\n.\nafter\n"), true, S("Subject: x\r\n\r\n") },
	{ S("Subject: x\n\n.\nafter\n"), false, S("Subject: x\r\n\r\n.\r\nafter\r\n") },
	/* SMTP smuggling attempts come out as ordinary lines */
	{ S("S: x\n\na\n.\r\nMAIL FROM:<x>\n"), false,
	  S("S: x\r\n\r\na\r\n.\r\nMAIL FROM:<x>\r\n") },
	{ S("S: x\n\na\r\n.\nb\r.\rc"), false, S("S: x\r\n\r\na\r\n.\r\nb\r\n.\r\nc\r\n") },
	/* the mbox separator */
	{ S("From foo@bar Fri Nov 27 03:01:58 2026\nSubject: x\n\nbody\n"), true,
	  S("Subject: x\r\n\r\nbody\r\n") },
	{ S("From: a@b\n\nbody"), true, S("From: a@b\r\n\r\nbody\r\n") },
	{ S("From foo\n"), true, S("\r\n") },
	{ S("From foo"), true, S("\r\n") },
	{ S("Fro"), true, S("\r\nFro\r\n") },
	{ S("a\nFrom x\n"), true, S("\r\na\r\nFrom x\r\n") },
	/* NUL in the body is kept */
	{ S("S: x\n\na\0b\n\0\n"), true, S("S: x\r\n\r\na\0b\r\n\0\r\n") },
	{ S("ab\0c\nd"), true, S("\r\nab\0c\r\nd\r\n") },
};

/* test_line_endings - every case, fed in packets of several sizes */
static void test_line_endings(void **state)
{
	(void)state;
	static const size_t chunks[] = { 1, 2, 3, 5, 4096 };
	for (size_t i = 0; i < sizeof io_cases / sizeof io_cases[0]; i++) {
		const struct io_case *c = &io_cases[i];
		row_label_bytes("line_endings", i, c->in, c->inlen);
		for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
			struct sink s;
			char err[200], label[64];
			sink_init(&s);
			assert_int_equal(run_str(c->in, c->inlen, c->dot_ends, chunks[k],
						 &s, err, sizeof err), 0);
			snprintf(label, sizeof label, "%zu chunk %zu", i, chunks[k]);
			assert_out(&s, c->want, c->wantlen, label);
			buf_free(&s.b);
		}
	}
	row_label_done();
}

/* test_split_crlf - a CRLF torn apart by read boundaries is one line ending */
static void test_split_crlf(void **state)
{
	(void)state;
	static const char *const packets[] = { "S: a\r", "\nT: b\r", "\n\r", "\nx\r", "\n\r", "\r\n" };
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	for (size_t i = 0; i < sizeof packets / sizeof packets[0]; i++) {
		size_t n = strlen(packets[i]);
		assert_int_equal(write(sv[1], packets[i], n), (ssize_t)n);
	}
	close(sv[1]);
	struct sink s;
	char err[200];
	sink_init(&s);
	assert_int_equal(run_fd(sv[0], true, &s, err, sizeof err, NULL), 0);
	assert_out(&s, S("S: a\r\nT: b\r\n\r\nx\r\n\r\n\r\n"), "split");
	close(sv[0]);
	buf_free(&s.b);
}

struct hdr_case {
	const char *in;
	size_t n;		/* fields found */
	const char *value;	/* value of the last field, or NULL */
	const char *want;	/* whole output */
};

static const struct hdr_case hdr_cases[] = {
	{ "Subject: hi\nTo: a@b,\n  c@d\n\nbody\n", 2, "a@b,\r\n  c@d",
	  "Subject: hi\r\nTo: a@b,\r\n  c@d\r\n\r\nbody\r\n" },
	{ "Subject: hi\r\nTo: a@b,\r\n\tc@d\r\n\r\n", 2, "a@b,\r\n\tc@d",
	  "Subject: hi\r\nTo: a@b,\r\n\tc@d\r\n\r\n" },
	{ "hello\nworld\n", 0, NULL, "\r\nhello\r\nworld\r\n" },
	{ "Subject: x\nhello world\nmore\n", 1, "x", "Subject: x\r\n\r\nhello world\r\nmore\r\n" },
	{ " x\nSubject: y\n", 0, NULL, "\r\n x\r\nSubject: y\r\n" },
	{ "Subject : spaced\n\n", 1, "spaced", "Subject : spaced\r\n\r\n" },
	{ "X-Empty:\n\n", 1, "", "X-Empty:\r\n\r\n" },
	{ "To:\n a@b\n\n", 1, "a@b", "To:\r\n a@b\r\n\r\n" },
	{ "Subject: x", 1, "x", "Subject: x\r\n\r\n" },
	{ "A: 1\nB: 2\nC: 3\nD:4\n\nb", 4, "4", "A: 1\r\nB: 2\r\nC: 3\r\nD:4\r\n\r\nb\r\n" },
	{ "A: 1\n \n\n", 1, "1\r\n ", "A: 1\r\n \r\n\r\n" },
	{ "http://x.example/\nbody\n", 1, "//x.example/", "http://x.example/\r\n\r\nbody\r\n" },
	{ "\nSubject: not a header\n", 0, NULL, "\r\nSubject: not a header\r\n" },
	{ "A: 1\n:x\n", 1, "1", "A: 1\r\n\r\n:x\r\n" },
};

/* test_headers - field index, values and the written block */
static void test_headers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof hdr_cases / sizeof hdr_cases[0]; i++) {
		const struct hdr_case *c = &hdr_cases[i];
		row_label_str("headers", i, c->in);
		pid_t pid;
		int fd = feed(c->in, strlen(c->in), 3, &pid);
		struct message_reader *r = malloc(sizeof *r);
		assert_non_null(r);
		message_reader_init(r, fd, true);
		struct message_headers h;
		char err[200], label[32];
		struct sink s;
		sink_init(&s);
		assert_int_equal(message_read_headers(r, &h, err, sizeof err), 0);
		assert_int_equal(h.n, c->n);
		if (c->value != NULL) {
			size_t len;
			const char *v = message_field_value(&h, h.n - 1, &len);
			assert_int_equal(len, strlen(c->value));
			assert_memory_equal(v, c->value, len);
		}
		assert_int_equal(message_write_headers(&h, sink_write, &s), 0);
		assert_int_equal(message_copy_body(r, sink_write, &s), 0);
		snprintf(label, sizeof label, "hdr %zu", i);
		assert_out(&s, c->want, strlen(c->want), label);
		message_headers_free(&h);
		message_reader_free(r);
		free(r);
		feed_end(fd, pid);
		buf_free(&s.b);
	}
	row_label_done();
}

struct err_case {
	const char *in;
	size_t inlen;
	const char *err;
};

static const struct err_case err_cases[] = {
	{ S("Subject: a\0b\n\nbody"), "NUL byte in header line 1" },
	{ S("A: b\n c\0\n\n"), "NUL byte in header line 2" },
	{ S("From x\nA: b\nB: \0\n"), "NUL byte in header line 3" },
	{ S("A: b\r\nB: c\rC: \0"), "NUL byte in header line 3" },
};

/* test_header_errors - refused header blocks name the problem */
static void test_header_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
		struct sink s;
		char err[200] = "";
		row_label_bytes("header_errors", i, err_cases[i].in, err_cases[i].inlen);
		sink_init(&s);
		assert_int_equal(run_str(err_cases[i].in, err_cases[i].inlen, true, 2,
					 &s, err, sizeof err), -1);
		assert_string_equal(err, err_cases[i].err);
		assert_int_equal(s.b.len, 0);
		buf_free(&s.b);
	}
	row_label_done();
}

/* rep - n copies of c appended to b */
static void rep(struct buf *b, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf_putc(b, c), 0);
}

/* test_long_lines - 998-octet folding of header lines and splitting of body lines */
static void test_long_lines(void **state)
{
	(void)state;
	struct long_case {
		const char *pre;	/* then n1 x c1, mid, n2 x c2, post */
		size_t n1;
		char c1;
		const char *mid;
		size_t n2;
		char c2;
		const char *post;
		/* expected: the same pieces */
		const char *wpre;
		size_t w1;
		const char *wmid;
		size_t w2;
		const char *wpost;
	} cases[] = {
		/* body line of exactly 998 octets is left alone */
		{ "", 998, 'a', "", 0, 'b', "\n", "\r\n", 998, "", 0, "\r\n" },
		{ "", 999, 'a', "", 0, 'b', "\n", "\r\n", 998, "\r\na", 0, "\r\n" },
		{ "S: x\n\n", 998, 'a', "", 1000, 'b', "\n", "S: x\r\n\r\n", 998, "\r\n", 998,
		  "\r\nbb\r\n" },
		{ "S: x\nbody", 995, 'a', "", 0, 'b', "", "S: x\r\n\r\nbody", 994, "\r\na", 0, "\r\n" },
		/* header folded at its last white space */
		{ "X: ", 600, 'a', " ", 600, 'b', "\n\n", "X: ", 600, "\r\n ", 600, "\r\n\r\n" },
		{ "X:", 1200, 'a', "", 0, 'b', "\n\n", "X:", 996, "\r\n ", 0, "" },
		{ "X: y\n ", 1100, 'c', "", 0, 'b', "\n\n", "X: y\r\n ", 997, "\r\n ", 0, "" },
		{ "X: ", 995, 'a', "", 0, 'b', "\n\n", "X: ", 995, "\r\n\r\n", 0, "" },
		/* the white space right after the limit is the fold */
		{ "X: ", 995, 'a', " ", 10, 'b', "\n\n", "X: ", 995, "\r\n ", 10, "\r\n\r\n" },
		{ "X: a ", 993, 'a', "\t", 10, 'b', "\n\n", "X: a ", 993, "\r\n\t", 10, "\r\n\r\n" },
		/* the only white space is after the colon; then CRLF SP */
		{ "Subject: ", 1000, 'a', "", 0, 'b', "\n\nb\n", "Subject:\r\n ", 997,
		  "\r\n aaa\r\n\r\nb\r\n", 0, "" },
		/* folded twice: after "a", then at the tab */
		{ "X: a ", 994, 'a', "\t", 10, 'b', "\n\n", "X: a\r\n ", 994, "\r\n\t", 10, "\r\n\r\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct long_case *c = &cases[i];
		char what[96];
		int w = snprintf(what, sizeof what, "%s + %zu x %c + %s + %zu x %c", c->pre, c->n1,
				 c->c1, c->mid, c->n2, c->c2);
		assert_true(w > 0 && (size_t)w < sizeof what);
		row_label_str("long_lines", i, what);
		struct buf in, want;
		buf_init(&in, 1 << 20);
		buf_init(&want, 1 << 20);
		assert_int_equal(buf_puts(&in, c->pre), 0);
		rep(&in, c->c1, c->n1);
		assert_int_equal(buf_puts(&in, c->mid), 0);
		rep(&in, c->c2, c->n2);
		assert_int_equal(buf_puts(&in, c->post), 0);
		assert_int_equal(buf_puts(&want, c->wpre), 0);
		rep(&want, c->c1, c->w1);
		assert_int_equal(buf_puts(&want, c->wmid), 0);
		rep(&want, c->c2, c->w2);
		assert_int_equal(buf_puts(&want, c->wpost), 0);
		/* the rest of the no-white-space cases */
		if (i == 5) {
			rep(&want, 'a', 204);
			assert_int_equal(buf_puts(&want, "\r\n\r\n"), 0);
		} else if (i == 6) {
			rep(&want, 'c', 103);
			assert_int_equal(buf_puts(&want, "\r\n\r\n"), 0);
		}
		struct sink s;
		char err[200], label[16];
		sink_init(&s);
		assert_int_equal(run_str(in.data, in.len, true, 700, &s, err, sizeof err), 0);
		snprintf(label, sizeof label, "long %zu", i);
		assert_out(&s, want.data, want.len, label);
		buf_free(&in);
		buf_free(&want);
		buf_free(&s.b);
	}
	row_label_done();
}

/* test_big_body - 10 MB streamed with bounded memory and large writes */
static void test_big_body(void **state)
{
	(void)state;
	enum { LINES = 4000, LEN = 2500 };
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char line[LEN + 1];
		close(p[0]);
		memset(line, 'x', LEN);
		line[LEN] = '\n';
		if (write(p[1], "Subject: big\n\n", 14) != 14)
			_exit(1);
		for (int i = 0; i < LINES; i++)
			if (write(p[1], line, sizeof line) != (ssize_t)sizeof line)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	struct sink s;
	sink_init(&s);
	s.keep = false;
	s.heap_base = mallinfo2().uordblks;
	char err[200];
	assert_int_equal(run_fd(p[0], true, &s, err, sizeof err, NULL), 0);
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* each line: 998 + CRLF + 998 + CRLF + 504 + CRLF */
	assert_int_equal(s.total, 16 + (size_t)LINES * (LEN + 6));
	assert_true(s.max_chunk <= 32768);
	assert_true(s.calls < s.total / 16384 + 4);
	/* the heap the reader uses does not grow with the message */
	assert_true(s.heap_peak < s.heap_base + 512 * 1024);
	buf_free(&s.b);
}

/* test_header_too_big - more than 1 MiB of header is refused */
static void test_header_too_big(void **state)
{
	(void)state;
	struct buf in;
	buf_init(&in, 4 << 20);
	for (int i = 0; i < 1100; i++) {
		assert_int_equal(buf_puts(&in, "X-Long: "), 0);
		rep(&in, 'z', 990);
		assert_int_equal(buf_putc(&in, '\n'), 0);
	}
	struct sink s;
	char err[200] = "";
	sink_init(&s);
	assert_int_equal(run_str(in.data, in.len, true, 65536, &s, err, sizeof err), -1);
	assert_string_equal(err, "header block larger than 1 MiB");
	buf_free(&in);
	buf_free(&s.b);
}

struct eight_case {
	const char *in;
	bool eightbit;
};

/* test_eightbit - the flag follows the bytes that are kept */
static void test_eightbit(void **state)
{
	(void)state;
	static const struct eight_case cases[] = {
		{ "S: x\n\nabc\n", false },
		{ "S: \xc3\xa9\n\nabc\n", true },
		{ "S: x\n\nab\xff\n", true },
		{ "From \xe9t\xe9\nS: x\n\nabc\n", false },
		{ "\xc3\xa9\n", true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pid_t pid;
		row_label_str("eightbit", i, cases[i].in);
		int fd = feed(cases[i].in, strlen(cases[i].in), 4096, &pid);
		struct sink s;
		char err[200];
		bool eight = !cases[i].eightbit;
		sink_init(&s);
		assert_int_equal(run_fd(fd, true, &s, err, sizeof err, &eight), 0);
		assert_int_equal(eight, cases[i].eightbit);
		feed_end(fd, pid);
		buf_free(&s.b);
	}
	row_label_done();
}

/* test_errors_pass_through - read errors are -2, callback results come back */
static void test_errors_pass_through(void **state)
{
	(void)state;
	struct message_reader *r = malloc(sizeof *r);
	struct message_headers h;
	char err[200];
	struct sink s;
	assert_non_null(r);
	sink_init(&s);
	message_reader_init(r, -1, true);
	assert_int_equal(message_read_headers(r, &h, err, sizeof err), -2);
	assert_int_equal(errno, EBADF);
	message_headers_free(&h);
	assert_int_equal(message_copy_body(r, sink_write, &s), -2);
	message_reader_free(r);

	s.fail = 7;
	assert_int_equal(run_str(S("S: x\n\nbody\n"), true, 4096, &s, err, sizeof err), 7);
	s.calls = 0;
	pid_t pid;
	int fd = feed(S("body\n"), 4096, &pid);
	message_reader_init(r, fd, true);
	assert_int_equal(message_copy_body(r, sink_write, &s), 7);
	assert_int_equal(s.calls, 1);
	message_reader_free(r);
	feed_end(fd, pid);
	free(r);
	buf_free(&s.b);
}

/* read_block - parse in into h (the reader is freed again) */
static void read_block(const char *in, struct message_headers *h)
{
	pid_t pid;
	int fd = feed(in, strlen(in), 4096, &pid);
	struct message_reader *r = malloc(sizeof *r);
	char err[200];
	assert_non_null(r);
	message_reader_init(r, fd, true);
	assert_int_equal(message_read_headers(r, h, err, sizeof err), 0);
	message_reader_free(r);
	free(r);
	feed_end(fd, pid);
}

/* written - the header block as message_write_headers writes it */
static void written(const struct message_headers *h, struct sink *s)
{
	sink_init(s);
	assert_int_equal(message_write_headers(h, sink_write, s), 0);
	assert_int_equal(buf_append(&s->b, "", 1), 0);
}

struct remove_case {
	const char *in;
	const char *want;
};

/* test_remove - Bcc and Resent-Bcc go with their continuation lines */
static void test_remove(void **state)
{
	(void)state;
	static const struct remove_case cases[] = {
		{ "To: a@b\nBcc: x@y,\n  z@w\nSubject: s\n\n", "To: a@b\r\nSubject: s\r\n\r\n" },
		{ "BCC: x@y\n\t z@w\nbcc: q@r\nTo: a@b\n\n", "To: a@b\r\n\r\n" },
		{ "Resent-Bcc: x@y,\n r@s\nResent-To: t@u\n\n", "Resent-To: t@u\r\n\r\n" },
		{ "To: a@b\nBcc:\n\n", "To: a@b\r\n\r\n" },
		{ "X-Bcc: keep\nBccx: keep\n\n", "X-Bcc: keep\r\nBccx: keep\r\n\r\n" },
		{ "Bcc: a\nBcc: b\n\n", "\r\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct message_headers h;
		struct sink s;
		row_label_str("remove", i, cases[i].in);
		read_block(cases[i].in, &h);
		long bcc = message_find(&h, "bcc", 0);
		message_remove(&h, "Bcc");
		message_remove(&h, "Resent-Bcc");
		/* removed fields stay readable for -t */
		if (bcc >= 0)
			assert_int_equal(message_find(&h, "BCC", 0), bcc);
		written(&h, &s);
		assert_string_equal(s.b.data, cases[i].want);
		buf_free(&s.b);
		message_headers_free(&h);
	}
	row_label_done();
}

/* test_find - case-insensitive names, start index */
static void test_find(void **state)
{
	(void)state;
	struct message_headers h;
	read_block("To: a\nCC: b\nto: c\nSubject: s\n\n", &h);
	assert_int_equal(message_find(&h, "To", 0), 0);
	assert_int_equal(message_find(&h, "TO", 1), 2);
	assert_int_equal(message_find(&h, "To", 3), -1);
	assert_int_equal(message_find(&h, "cc", 0), 1);
	assert_int_equal(message_find(&h, "T", 0), -1);
	assert_int_equal(message_find(&h, "Subjects", 0), -1);
	message_headers_free(&h);
}

/* complete - parse in, complete it with mc, return the written block */
static int complete(const char *in, const struct message_completion *mc, struct sink *s)
{
	struct message_headers h;
	read_block(in, &h);
	int rc = message_complete_headers(&h, mc);
	written(&h, s);
	message_headers_free(&h);
	return rc;
}

/* matches - s matches the extended regular expression re */
static bool matches(const char *s, const char *re)
{
	regex_t rx;
	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	bool ok = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return ok;
}

#define NOW 1795748518	/* Fri, 27 Nov 2026 03:01:58 UTC */

/* test_date_and_id - Date: in RFC 5322 form in several zones, Message-ID form */
static void test_date_and_id(void **state)
{
	(void)state;
	static const struct {
		const char *tz;
		const char *date;
	} cases[] = {
		{ "UTC0", "Date: Fri, 27 Nov 2026 03:01:58 +0000\r\n" },
		{ "IST-5:30", "Date: Fri, 27 Nov 2026 08:31:58 +0530\r\n" },
		{ "XYZ3:15", "Date: Thu, 26 Nov 2026 23:46:58 -0315\r\n" },
	};
	struct message_completion mc = { "me@example.com", NULL, "example.com", false, NOW };
	char first_id[128] = "";
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sink s;
		row_label_str("date_and_id", i, cases[i].tz);
		assert_int_equal(setenv("TZ", cases[i].tz, 1), 0);
		tzset();
		assert_int_equal(complete("Subject: s\n\n", &mc, &s), 0);
		const char *d = strstr(s.b.data, "Date: ");
		assert_non_null(d);
		assert_memory_equal(d, cases[i].date, strlen(cases[i].date));
		const char *m = strstr(s.b.data, "Message-ID: ");
		assert_non_null(m);
		assert_true(matches(m, "^Message-ID: <20261127030158\\.[0-9A-F]{16}@example\\.com>\r\n"));
		assert_true(strcmp(m, first_id) != 0);	/* random part differs */
		snprintf(first_id, sizeof first_id, "%s", m);
		assert_true(matches(s.b.data, "^Subject: s\r\nDate: [^\r]*\r\nMessage-ID: [^\r]*\r\n"
					      "From: me@example.com\r\n\r\n$"));
		buf_free(&s.b);
	}
	unsetenv("TZ");
	tzset();
	row_label_done();
}

struct from_case {
	const char *full_name;
	const char *sender;
	int rc;
	const char *from;	/* the From: line added */
};

/* test_add_from - From: from the sender and -F, quoting and encoding the name */
static void test_add_from(void **state)
{
	(void)state;
	static const struct from_case cases[] = {
		{ NULL, "a@b", 0, "From: a@b\r\n" },
		{ "", "a@b", 0, "From: a@b\r\n" },
		{ "CronDaemon", "root@h.example", 0, "From: CronDaemon <root@h.example>\r\n" },
		{ "John Smith", "a@b", 0, "From: John Smith <a@b>\r\n" },
		{ "J. Smith", "a@b", 0, "From: \"J. Smith\" <a@b>\r\n" },
		{ "Smith, John", "a@b", 0, "From: \"Smith, John\" <a@b>\r\n" },
		{ "Say \"hi\"", "a@b", 0, "From: \"Say \\\"hi\\\"\" <a@b>\r\n" },
		{ "back\\slash", "a@b", 0, "From: \"back\\\\slash\" <a@b>\r\n" },
		{ " pad", "a@b", 0, "From: \" pad\" <a@b>\r\n" },
		{ "J\xc3\xbcrgen", "a@b", 0, "From: =?UTF-8?B?SsO8cmdlbg==?= <a@b>\r\n" },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
		  "a@b", 0,
		  "From: =?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6k=?=\r\n"
		  " =?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqQ==?= <a@b>\r\n" },
		{ NULL, "", 0, "From: MAILER-DAEMON@example.com\r\n" },
		{ "Mailer", "", 0, "From: Mailer <MAILER-DAEMON@example.com>\r\n" },
		/* never a line break from the caller into a header */
		{ NULL, "a@b\r\nBcc: x@y", -1, NULL },
		{ "Name\nBcc: x@y", "a@b", -1, NULL },
		{ "Name\r", "a@b", -1, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct from_case *c = &cases[i];
		char what[160];
		int w = snprintf(what, sizeof what, "-F %s, sender <%s>",
				 c->full_name != NULL ? c->full_name : "(none)", c->sender);
		assert_true(w > 0);
		row_label_bytes("add_from", i, what, strnlen(what, sizeof what));
		struct message_completion mc = { c->sender, c->full_name, "example.com", false, NOW };
		struct sink s;
		assert_int_equal(complete("Date: x\nMessage-ID: <y@z>\n\n", &mc, &s), c->rc);
		if (c->rc == 0) {
			char want[512];
			int n = snprintf(want, sizeof want, "Date: x\r\nMessage-ID: <y@z>\r\n%s\r\n", c->from);
			assert_true(n > 0 && (size_t)n < sizeof want);
			assert_string_equal(s.b.data, want);
		} else {
			assert_string_equal(s.b.data, "Date: x\r\nMessage-ID: <y@z>\r\n\r\n");
		}
		buf_free(&s.b);
	}
	struct message_completion bad = { "a@b", NULL, "example.com\r\nX: y", false, NOW };
	struct sink s;
	assert_int_equal(complete("Subject: s\n\n", &bad, &s), -1);
	assert_string_equal(s.b.data, "Subject: s\r\n\r\n");
	buf_free(&s.b);
	row_label_done();
}

/* test_present_kept - nothing added when the fields are there, in any case */
static void test_present_kept(void **state)
{
	(void)state;
	static const char in[] = "date: Thu, 1 Jan 2026 00:00:00 +0000\nmessage-id: <a@b>\nFROM: x@y\n\n";
	struct message_completion mc = { "me@example.com", "Me", "example.com", false, NOW };
	struct sink s;
	assert_int_equal(complete(in, &mc, &s), 0);
	assert_string_equal(s.b.data, "date: Thu, 1 Jan 2026 00:00:00 +0000\r\nmessage-id: <a@b>\r\n"
				      "FROM: x@y\r\n\r\n");
	buf_free(&s.b);
}

struct rewrite_case {
	const char *in;
	const char *sender;
	const char *want;
};

/* test_rewrite_from - address replaced, display name and field order kept, Sender: gone */
static void test_rewrite_from(void **state)
{
	(void)state;
	static const struct rewrite_case cases[] = {
		{ "From: John <john@x>\nSender: s@x\nTo: t@y\n", "me@z",
		  "From: John <me@z>\r\nTo: t@y\r\n" },
		{ "From: \"Doe, John\" <j@x>\n", "me@z", "From: \"Doe, John\" <me@z>\r\n" },
		{ "From: j@x\n", "me@z", "From: me@z\r\n" },
		{ "From: j@x (John)\n", "me@z", "From: me@z\r\n" },
		{ "From: <j@x>\n", "me@z", "From: me@z\r\n" },
		{ "FROM: =?UTF-8?B?SsO8cmdlbg==?= <j@x>\n", "me@z",
		  "From: =?UTF-8?B?SsO8cmdlbg==?= <me@z>\r\n" },
		{ "From: (c <x>) \"a<b\" <j@x>\n", "me@z", "From: (c <x>) \"a<b\" <me@z>\r\n" },
		{ "Subject: s\nFrom: A\n <a@x>\nTo: t\n", "me@z",
		  "Subject: s\r\nFrom: A <me@z>\r\nTo: t\r\n" },
		{ "From: A <a@x>\nfrom: B <b@x>\n", "", "From: A <MAILER-DAEMON@example.com>\r\n" },
		{ "From: Team: A <a@x>;\n", "me@z", "From: me@z\r\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct message_completion mc = { cases[i].sender, "Ignored", "example.com", true, NOW };
		char in[256], want[256];
		row_label_str("rewrite_from", i, cases[i].in);
		int n = snprintf(in, sizeof in, "Date: d\nMessage-ID: <m@x>\n%s\n", cases[i].in);
		assert_true(n > 0 && (size_t)n < sizeof in);
		n = snprintf(want, sizeof want, "Date: d\r\nMessage-ID: <m@x>\r\n%s\r\n", cases[i].want);
		assert_true(n > 0 && (size_t)n < sizeof want);
		struct sink s;
		assert_int_equal(complete(in, &mc, &s), 0);
		assert_string_equal(s.b.data, want);
		buf_free(&s.b);
	}
	row_label_done();
}

/* test_rewrite_long_name - a display name folded onto its own line stays within 998 */
static void test_rewrite_long_name(void **state)
{
	(void)state;
	struct buf in, want;
	buf_init(&in, 1 << 16);
	buf_init(&want, 1 << 16);
	assert_int_equal(buf_puts(&in, "Date: d\nMessage-ID: <m@x>\nFrom:\n \""), 0);
	rep(&in, 'n', 995);
	assert_int_equal(buf_puts(&in, "\" <j@x>\n\n"), 0);
	assert_int_equal(buf_puts(&want, "Date: d\r\nMessage-ID: <m@x>\r\nFrom:\r\n \""), 0);
	rep(&want, 'n', 995);
	assert_int_equal(buf_puts(&want, "\"\r\n <me@z>\r\n\r\n"), 0);
	struct message_completion mc = { "me@z", NULL, "example.com", true, NOW };
	struct sink s;
	assert_int_equal(complete(in.data, &mc, &s), 0);
	assert_string_equal(s.b.data, want.data);
	buf_free(&s.b);
	buf_free(&in);
	buf_free(&want);
}

int main(void)
{
	/* a reader that stops at the lone dot closes on a writer still writing */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_line_endings, row_label_report),
		cmocka_unit_test(test_split_crlf),
		cmocka_unit_test_teardown(test_headers, row_label_report),
		cmocka_unit_test_teardown(test_header_errors, row_label_report),
		cmocka_unit_test_teardown(test_long_lines, row_label_report),
		cmocka_unit_test(test_big_body),
		cmocka_unit_test(test_header_too_big),
		cmocka_unit_test_teardown(test_eightbit, row_label_report),
		cmocka_unit_test(test_errors_pass_through),
		cmocka_unit_test_teardown(test_remove, row_label_report),
		cmocka_unit_test(test_find),
		cmocka_unit_test_teardown(test_date_and_id, row_label_report),
		cmocka_unit_test_teardown(test_add_from, row_label_report),
		cmocka_unit_test(test_present_kept),
		cmocka_unit_test_teardown(test_rewrite_from, row_label_report),
		cmocka_unit_test(test_rewrite_long_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
