/* message - stdin to the canonical spool form; see message.h */
#include "message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/* what reader_peek sees next, besides a byte value 0..255 */
enum {
	SYM_ERR = -2,		/* read error, errno kept */
	SYM_EOF = -1,		/* no more input */
	SYM_EOL = 256		/* a line ending: LF, CRLF or a lone CR */
};

/* how a piece of a line read by read_piece ended */
enum piece_end {
	PIECE_EOL,		/* the line ended (its line ending taken) */
	PIECE_EOF,		/* the input ended without a line ending */
	PIECE_FULL		/* MESSAGE_LINE_MAX bytes and the line goes on */
};

#define OUT_CHUNK 32768		/* body bytes handed to the callback at once */

/* the reader's input buffer: on the heap, taken at the first read */
struct message_inbuf {
	char b[65536];
};

/* message_reader_init - reader over fd */
void message_reader_init(struct message_reader *r, int fd, bool dot_ends)
{
	r->fd = fd;
	r->dot_ends = dot_ends;
	r->eof = false;
	r->eightbit = false;
	r->lines = 0;
	r->in = NULL;
	r->in_pos = 0;
	r->in_len = 0;
	r->last_cr = false;
	r->at_line_start = true;
	r->first_line_done = false;
	/* one line piece and its CRLF */
	buf_init(&r->pending, MESSAGE_LINE_MAX + 2);
}

/* message_reader_free - release the input buffer and the read-ahead line */
void message_reader_free(struct message_reader *r)
{
	free(r->in);
	r->in = NULL;
	buf_free(&r->pending);
}

/* reader_read - one read(2) into the free end of the buffer; 1, 0 at EOF, -1 */
static int reader_read(struct message_reader *r)
{
	if (r->eof)
		return 0;
	if (r->in == NULL && (r->in = malloc(sizeof *r->in)) == NULL)
		return -1;	/* errno ENOMEM: a read error to the caller */
	for (;;) {
		ssize_t n = read(r->fd, r->in->b + r->in_len, sizeof r->in->b - r->in_len);
		if (n > 0) {
			r->in_len += (size_t)n;
			return 1;
		}
		if (n == 0) {
			r->eof = true;
			return 0;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* reader_peek - the next symbol (byte, SYM_EOL, SYM_EOF, SYM_ERR), not taken */
static int reader_peek(struct message_reader *r)
{
	for (;;) {
		if (r->in_pos == r->in_len) {
			r->in_pos = 0;
			r->in_len = 0;
			int rc = reader_read(r);
			if (rc <= 0)
				return rc == 0 ? SYM_EOF : SYM_ERR;
		}
		unsigned char ch = (unsigned char)r->in->b[r->in_pos];
		if (r->last_cr) {
			/* the LF of a CRLF whose CR, maybe in an earlier read, ended a line */
			r->last_cr = false;
			if (ch == '\n') {
				r->in_pos++;
				continue;
			}
		}
		if (ch == '\r' || ch == '\n')
			return SYM_EOL;
		return ch;
	}
}

/* reader_take - consume the symbol reader_peek just returned */
static void reader_take(struct message_reader *r, int sym)
{
	unsigned char ch = (unsigned char)r->in->b[r->in_pos++];
	if (sym == SYM_EOL) {
		r->last_cr = ch == '\r';
		r->lines++;
		r->at_line_start = true;
		return;
	}
	r->at_line_start = false;
	if (ch >= 0x80)
		r->eightbit = true;
}

/* reader_stop - the lone dot: the input ends here, what follows is not ours */
static void reader_stop(struct message_reader *r)
{
	r->in_pos = r->in_len;
	r->last_cr = false;
	r->eof = true;
}

/* skip_mbox_from - drop a leading mbox "From " line; 0 or -1 (read error) */
static int skip_mbox_from(struct message_reader *r)
{
	static const char sep[] = "From ";
	size_t n = sizeof sep - 1;

	r->first_line_done = true;
	/* nothing was taken yet, so the bytes start at in[0] */
	while (r->in_len - r->in_pos < n && !r->eof) {
		if (reader_read(r) < 0)
			return -1;
	}
	if (r->in_len - r->in_pos < n || memcmp(r->in->b + r->in_pos, sep, n) != 0)
		return 0;
	/* the separator is not part of the message: its bytes do not count */
	bool eightbit = r->eightbit;
	for (;;) {
		int s = reader_peek(r);
		if (s == SYM_ERR)
			return -1;
		if (s == SYM_EOF)
			break;
		reader_take(r, s);
		if (s == SYM_EOL)
			break;
	}
	r->eightbit = eightbit;
	return 0;
}

/* read_piece - up to MESSAGE_LINE_MAX bytes of one line into p; 0 or -1 */
static int read_piece(struct message_reader *r, char *p, size_t *len,
		      bool *nul, enum piece_end *end)
{
	*len = 0;
	*nul = false;
	for (;;) {
		int s = reader_peek(r);
		if (s == SYM_ERR)
			return -1;
		if (s == SYM_EOF) {
			*end = PIECE_EOF;
			return 0;
		}
		if (s == SYM_EOL) {
			reader_take(r, s);
			*end = PIECE_EOL;
			return 0;
		}
		/* peeking first lets a line of exactly 998 octets end normally */
		if (*len == MESSAGE_LINE_MAX) {
			*end = PIECE_FULL;
			return 0;
		}
		reader_take(r, s);
		if (s == 0)
			*nul = true;
		p[(*len)++] = (char)s;
	}
}

/* is_wsp - SP or HT, the white space of header folding */
static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* field_name_len - length of the field name that starts line, 0 when none */
static size_t field_name_len(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && line[i] > ' ' && line[i] < 0x7f && line[i] != ':')
		i++;
	size_t name = i;
	/* obsolete syntax allows white space between the name and the colon */
	while (i < len && is_wsp(line[i]))
		i++;
	if (name == 0 || i == len || line[i] != ':')
		return 0;
	return name;
}

/* headers_init - an empty header block */
static void headers_init(struct message_headers *h)
{
	*h = (struct message_headers){ .f = NULL };
	buf_init(&h->raw, MESSAGE_HEADER_MAX);
	buf_init(&h->added, MESSAGE_ADDED_MAX);
}

/* message_headers_free - release the header block */
void message_headers_free(struct message_headers *h)
{
	buf_free(&h->raw);
	buf_free(&h->added);
	free(h->f);
	h->f = NULL;
	h->n = h->cap = 0;
}

/* set_err - the one-line reason; always returns -1 */
static int set_err(char *err, size_t errlen, const char *what, unsigned long long line)
{
	int n = line > 0 ? snprintf(err, errlen, "%s %llu", what, line)
			 : snprintf(err, errlen, "%s", what);
	if (n < 0 && errlen > 0)
		err[0] = '\0';
	return -1;
}

/* size_err - the reason a header append failed */
static int size_err(char *err, size_t errlen)
{
	if (errno == E2BIG)
		return set_err(err, errlen, "header block larger than 1 MiB", 0);
	return set_err(err, errlen, "out of memory reading the header block", 0);
}

/* field_add - index a new field starting at raw offset off */
static int field_add(struct message_headers *h, size_t off, size_t namelen)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 32;
		struct message_field *f = realloc(h->f, cap * sizeof *f);
		if (f == NULL)
			return -1;
		h->f = f;
		h->cap = cap;
	}
	h->f[h->n++] = (struct message_field){ .off = off, .namelen = namelen };
	return 0;
}

/*
 * fold_line - the header line at *ls is full and c comes next: break it
 * before its last white space after min (c's own, when it is one) so that
 * no line is blank; where there is none, with CRLF SP.
 */
static int fold_line(struct buf *raw, size_t *ls, size_t min, char c)
{
	size_t end = raw->len;
	size_t first = *ls;
	while (first < end && is_wsp(raw->data[first]))
		first++;
	if (min < first + 1)
		min = first + 1;
	size_t p = end + 1;
	if (!is_wsp(c))
		while (--p > min && !is_wsp(raw->data[p - 1]))
			;
	if (p > min) {
		p--;
		if (buf_append(raw, "\r\n", 2) < 0)
			return -1;
		memmove(raw->data + p + 2, raw->data + p, end - p);
		memcpy(raw->data + p, "\r\n", 2);
		*ls = p + 2;
		return 0;
	}
	if (buf_append(raw, "\r\n ", 3) < 0)
		return -1;
	*ls = end + 2;
	return 0;
}

/* fold_rest - read the rest of a header line longer than 998 octets into raw */
static int fold_rest(struct message_reader *r, struct buf *raw, size_t ls,
		     size_t min, unsigned long long lineno, char *err, size_t errlen)
{
	for (;;) {
		int s = reader_peek(r);
		if (s == SYM_ERR)
			return -2;
		if (s == SYM_EOF)
			return 0;
		reader_take(r, s);
		if (s == SYM_EOL)
			return 0;
		if (s == 0)
			return set_err(err, errlen, "NUL byte in header line", lineno);
		if (raw->len - ls == MESSAGE_LINE_MAX) {
			if (fold_line(raw, &ls, min, (char)s) < 0)
				return size_err(err, errlen);
			min = ls + 1;
		}
		if (buf_putc(raw, (char)s) < 0)
			return size_err(err, errlen);
	}
}

/* header_store - add a field or continuation line to the block */
static int header_store(struct message_reader *r, struct message_headers *h,
			const char *line, size_t len, enum piece_end end,
			size_t namelen, unsigned long long lineno,
			char *err, size_t errlen)
{
	size_t ls = h->raw.len;
	size_t min = ls + 1;
	if (namelen > 0) {
		if (h->n == MESSAGE_FIELD_MAX)
			return set_err(err, errlen, "more than 32768 header fields", 0);
		if (field_add(h, ls, namelen) < 0)
			return set_err(err, errlen, "out of memory reading the header block", 0);
		/* never fold inside the name or before the colon */
		min = ls + (size_t)((const char *)memchr(line, ':', len) - line) + 1;
	}
	if (buf_append(&h->raw, line, len) < 0)
		return size_err(err, errlen);
	if (end == PIECE_FULL) {
		int rc = fold_rest(r, &h->raw, ls, min, lineno, err, errlen);
		if (rc != 0)
			return rc;
	}
	if (buf_append(&h->raw, "\r\n", 2) < 0)
		return size_err(err, errlen);
	struct message_field *f = &h->f[h->n - 1];
	f->len = h->raw.len - f->off;
	return 0;
}

/* keep_pending - the first body line, read while looking for headers */
static int keep_pending(struct message_reader *r, const char *line, size_t len,
			enum piece_end end, char *err, size_t errlen)
{
	buf_reset(&r->pending);
	if (buf_append(&r->pending, line, len) < 0 ||
	    (end != PIECE_FULL && buf_append(&r->pending, "\r\n", 2) < 0))
		return set_err(err, errlen, "out of memory reading the message", 0);
	return 0;
}

/* read_block - the work of message_read_headers */
static int read_block(struct message_reader *r, struct message_headers *h,
			 char *err, size_t errlen)
{
	char line[MESSAGE_LINE_MAX];

	headers_init(h);
	if (errlen > 0)
		err[0] = '\0';
	if (!r->first_line_done && skip_mbox_from(r) < 0)
		return -2;
	for (;;) {
		unsigned long long lineno = r->lines + 1;
		size_t len;
		bool nul;
		enum piece_end end;
		if (read_piece(r, line, &len, &nul, &end) < 0)
			return -2;
		if (len == 0 && end != PIECE_FULL)
			return 0;	/* the empty line, or no more input */
		if (r->dot_ends && end != PIECE_FULL && len == 1 && line[0] == '.') {
			reader_stop(r);
			return 0;
		}
		size_t namelen = 0;
		bool cont = h->n > 0 && is_wsp(line[0]);
		if (!cont)
			namelen = field_name_len(line, len);
		if (!cont && namelen == 0)
			return keep_pending(r, line, len, end, err, errlen);
		if (nul)
			return set_err(err, errlen, "NUL byte in header line", lineno);
		int rc = header_store(r, h, line, len, end, namelen, lineno, err, errlen);
		if (rc != 0)
			return rc;
		if (end == PIECE_EOF)
			return 0;
	}
}

/* message_read_headers - read the header block into h; on failure h is left empty */
int message_read_headers(struct message_reader *r, struct message_headers *h,
			 char *err, size_t errlen)
{
	int rc = read_block(r, h, err, errlen);
	if (rc != 0) {
		int saved = errno;
		message_headers_free(h);
		errno = saved;
	}
	return rc;
}

/* message_field_value - the value of field i, as written */
const char *message_field_value(const struct message_headers *h, size_t i, size_t *len)
{
	const struct message_field *f = &h->f[i];
	const char *p = h->raw.data + f->off;
	const char *colon = memchr(p, ':', f->len);
	size_t n = f->len - 2 - (size_t)(colon + 1 - p);	/* final CRLF off */
	p = colon + 1;
	/* white space, and a fold right after the colon */
	while ((n > 0 && is_wsp(*p)) || (n >= 3 && p[0] == '\r' && p[1] == '\n' && is_wsp(p[2]))) {
		size_t k = is_wsp(*p) ? 1 : 2;
		p += k;
		n -= k;
	}
	*len = n;
	return p;
}

/* name_is - a field name equals want, in any case */
static bool name_is(const struct message_headers *h, size_t i, const char *want)
{
	const struct message_field *f = &h->f[i];
	return strlen(want) == f->namelen &&
	       strncasecmp(h->raw.data + f->off, want, f->namelen) == 0;
}

/* message_find - the next field named name */
long message_find(const struct message_headers *h, const char *name, size_t start)
{
	for (size_t i = start; i < h->n; i++)
		if (name_is(h, i, name))
			return (long)i;
	return -1;
}

/* message_remove - mark every field named name removed */
void message_remove(struct message_headers *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (name_is(h, i, name))
			h->f[i].removed = true;
}

/* message_write_headers - kept fields, added ones, the empty line */
int message_write_headers(const struct message_headers *h,
			  int (*out)(void *ctx, const void *p, size_t n), void *ctx)
{
	size_t i = 0;
	while (i < h->n) {
		if (h->f[i].removed) {
			i++;
			continue;
		}
		/* neighbours in raw go out in one call */
		size_t off = h->f[i].off, len = h->f[i].len;
		for (i++; i < h->n && !h->f[i].removed && h->f[i].off == off + len; i++)
			len += h->f[i].len;
		int rc = out(ctx, h->raw.data + off, len);
		if (rc != 0)
			return rc;
	}
	if (h->added.len > 0) {
		int rc = out(ctx, h->added.data, h->added.len);
		if (rc != 0)
			return rc;
	}
	return out(ctx, "\r\n", 2);
}

/* body state carried through message_copy_body */
struct body_out {
	char buf[OUT_CHUNK];
	size_t len;
	size_t col;		/* octets in the current output line */
	int (*out)(void *ctx, const void *p, size_t n);
	void *ctx;
};

/* body_flush - hand what is buffered to the callback */
static int body_flush(struct body_out *b)
{
	if (b->len == 0)
		return 0;
	int rc = b->out(b->ctx, b->buf, b->len);
	b->len = 0;
	return rc;
}

/* body_put - a content byte, or with c < 0 the line's end; splits at 998 octets */
static int body_put(struct body_out *b, int c)
{
	if (b->len + 3 > sizeof b->buf) {
		int rc = body_flush(b);
		if (rc != 0)
			return rc;
	}
	if (c < 0 || b->col == MESSAGE_LINE_MAX) {
		b->buf[b->len++] = '\r';
		b->buf[b->len++] = '\n';
		b->col = 0;
		if (c < 0)
			return 0;
	}
	b->buf[b->len++] = (char)c;
	b->col++;
	return 0;
}

/*
 * copy_run - the content bytes from the next one (known not to end a line)
 * up to the line's end or the end of what was read, into b at once; the
 * same result as body_put byte by byte, at memcpy speed.
 */
static int copy_run(struct message_reader *r, struct body_out *b)
{
	const unsigned char *p = (const unsigned char *)r->in->b + r->in_pos;
	size_t avail = r->in_len - r->in_pos, n = 0;
	unsigned char any = 0;
	while (n < avail && p[n] != '\r' && p[n] != '\n')
		any |= p[n++];
	if (any & 0x80)
		r->eightbit = true;
	r->in_pos += n;
	r->at_line_start = false;
	while (n > 0) {
		if (b->col == MESSAGE_LINE_MAX) {
			int rc = body_put(b, -1);
			if (rc != 0)
				return rc;
		}
		size_t k = MESSAGE_LINE_MAX - b->col;
		if (k > n)
			k = n;
		if (b->len + k > sizeof b->buf) {
			int rc = body_flush(b);
			if (rc != 0)
				return rc;
		}
		memcpy(b->buf + b->len, p, k);
		b->len += k;
		b->col += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* body_loop - normalize the input into b until its end or the lone dot */
static int body_loop(struct message_reader *r, struct body_out *b)
{
	bool held_dot = false;	/* a "." that starts a line, maybe the lone dot */
	for (;;) {
		int s = reader_peek(r);
		if (s == SYM_ERR)
			return -2;
		if (s == SYM_EOF) {
			/* a last line without line ending gets one; a lone dot ends all */
			if (held_dot)
				return 0;
			return b->col > 0 ? body_put(b, -1) : 0;
		}
		bool line_start = r->at_line_start;
		if (s != SYM_EOL && !held_dot && !(line_start && s == '.' && r->dot_ends)) {
			int rc = copy_run(r, b);
			if (rc != 0)
				return rc;
			continue;
		}
		reader_take(r, s);
		int rc = 0;
		if (s == SYM_EOL) {
			if (held_dot) {
				reader_stop(r);
				return 0;
			}
			rc = body_put(b, -1);
		} else if (held_dot) {
			held_dot = false;
			rc = body_put(b, '.');
			if (rc == 0)
				rc = body_put(b, s);
		} else {
			held_dot = true;	/* a line starting with "." and dot_ends */
		}
		if (rc != 0)
			return rc;
	}
}

/* message_copy_body - stream the rest of the input in canonical form */
int message_copy_body(struct message_reader *r,
		      int (*out)(void *ctx, const void *p, size_t n), void *ctx)
{
	/* field by field: an initializer would zero all of buf, 8 pages of stack, for nothing */
	struct body_out b;
	b.len = 0;
	b.col = 0;
	b.out = out;
	b.ctx = ctx;
	if (!r->first_line_done && skip_mbox_from(r) < 0)
		return -2;
	if (r->pending.len > 0) {
		/* the first body line, met while reading the header block */
		const char *p = r->pending.data;
		size_t n = r->pending.len;
		bool ended = n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n';
		memcpy(b.buf, p, n);
		b.len = n;
		b.col = ended ? 0 : n;
		buf_reset(&r->pending);
	}
	int rc = body_loop(r, &b);
	if (rc == 0)
		rc = body_flush(&b);
	return rc;
}

/* message_set_field - put a rewritten field in the place of field i */
int message_set_field(struct message_headers *h, size_t i, const char *text, size_t len)
{
	size_t namelen = field_name_len(text, len), line = 0;
	if (i >= h->n || namelen == 0 || len < 2 || text[len - 2] != '\r' || text[len - 1] != '\n')
		return -1;
	for (size_t k = 0; k < len; k++) {
		char c = text[k];
		if (c == '\0' || (c == '\r' && (k + 1 >= len || text[k + 1] != '\n')) ||
		    (c == '\n' && (k == 0 || text[k - 1] != '\r')))
			return -1;
		if (c == '\n') {
			/* a continuation must start with white space, or it would be a new field */
			if (k + 1 < len && !is_wsp(text[k + 1]))
				return -1;
			line = 0;
		} else if (c != '\r' && ++line > MESSAGE_LINE_MAX) {
			return -1;
		}
	}
	size_t off = h->raw.len;
	if (buf_append(&h->raw, text, len) < 0)
		return -1;
	h->f[i].off = off;
	h->f[i].len = len;
	h->f[i].namelen = namelen;
	return 0;
}
