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
#define ADDED_MAX 65536		/* the fields we add are short */
#define ADDR_MAX 900		/* longest address we write into a header */
#define PHRASE_MAX 900		/* longer names are written as encoded words */
#define EW_BYTES 45		/* name bytes per encoded word: 60 base64 chars, 75 in all */

/* message_reader_init - reader over fd */
void message_reader_init(struct message_reader *r, int fd, bool dot_ends)
{
	r->fd = fd;
	r->dot_ends = dot_ends;
	r->eof = false;
	r->eightbit = false;
	r->lines = 0;
	r->in_pos = 0;
	r->in_len = 0;
	r->last_cr = false;
	r->at_line_start = true;
	r->first_line_done = false;
	/* one line piece and its CRLF */
	buf_init(&r->pending, MESSAGE_LINE_MAX + 2);
}

/* message_reader_free - release the read-ahead line */
void message_reader_free(struct message_reader *r)
{
	buf_free(&r->pending);
}

/* reader_read - one read(2) into the free end of the buffer; 1, 0 at EOF, -1 */
static int reader_read(struct message_reader *r)
{
	if (r->eof)
		return 0;
	for (;;) {
		ssize_t n = read(r->fd, r->in + r->in_len, sizeof r->in - r->in_len);
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
		unsigned char ch = (unsigned char)r->in[r->in_pos];
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
	unsigned char ch = (unsigned char)r->in[r->in_pos++];
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
	if (r->in_len - r->in_pos < n || memcmp(r->in + r->in_pos, sep, n) != 0)
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
	buf_init(&h->added, ADDED_MAX);
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
		} else if (line_start && s == '.' && r->dot_ends) {
			held_dot = true;
		} else {
			rc = body_put(b, s);
		}
		if (rc != 0)
			return rc;
	}
}

/* message_copy_body - stream the rest of the input in canonical form */
int message_copy_body(struct message_reader *r,
		      int (*out)(void *ctx, const void *p, size_t n), void *ctx)
{
	struct body_out b = { .out = out, .ctx = ctx };
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

/* last_line_len - octets after the last CRLF in b */
static size_t last_line_len(const struct buf *b)
{
	size_t i = b->len;
	while (i > 0 && b->data[i - 1] != '\n')
		i--;
	return b->len - i;
}

/* random_hex - 8 random bytes from the kernel as 16 hex digits; 0 or -1 */
static int random_hex(char hex[17])
{
	static const char digits[] = "0123456789ABCDEF";
	unsigned char rnd[8];
	size_t got = 0, n = sizeof rnd;
	while (got < n) {
		ssize_t k = getrandom(rnd + got, n - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[rnd[i] >> 4];
		hex[2 * i + 1] = digits[rnd[i] & 15];
	}
	hex[2 * n] = '\0';
	return 0;
}

/* add_date - "Date:" in RFC 5322 form, local time with a numeric zone */
static int add_date(struct buf *b, time_t now)
{
	/* our own names: strftime's %a and %b would follow the locale */
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (localtime_r(&now, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	return buf_printf(b, "Date: %s, %d %s %d %02d:%02d:%02d %c%02ld%02ld\r\n",
			  days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
			  tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
			  sign, off / 60, off % 60);
}

/* add_message_id - "Message-ID: <UTC time.random@domain>" */
static int add_message_id(struct buf *b, time_t now, const char *domain)
{
	struct tm tm;
	char hex[17];
	if (gmtime_r(&now, &tm) == NULL || random_hex(hex) < 0)
		return -1;
	return buf_printf(b, "Message-ID: <%04d%02d%02d%02d%02d%02d.%s@%s>\r\n",
			  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			  tm.tm_hour, tm.tm_min, tm.tm_sec, hex, domain);
}

/* put_base64 - n bytes of p in base64 (RFC 4648, padded) */
static int put_base64(struct buf *b, const unsigned char *p, size_t n)
{
	static const char al[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = { al[(v >> 18) & 63], al[(v >> 12) & 63],
			      i + 1 < n ? al[(v >> 6) & 63] : '=',
			      i + 2 < n ? al[v & 63] : '=' };
		if (buf_append(b, q, 4) < 0)
			return -1;
	}
	return 0;
}

/* put_encoded_words - name as RFC 2047 B words, folded, never splitting a UTF-8 character */
static int put_encoded_words(struct buf *b, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len = strlen(name);
	size_t i = 0;
	while (i < len) {
		size_t n = len - i < EW_BYTES ? len - i : EW_BYTES;
		size_t k = n;
		while (k > 0 && i + k < len && (p[i + k] & 0xC0) == 0x80)
			k--;
		if (k == 0)
			k = n;	/* not UTF-8 after all: any cut will do */
		if ((i > 0 && buf_append(b, "\r\n ", 3) < 0) ||
		    buf_puts(b, "=?UTF-8?B?") < 0 || put_base64(b, p + i, k) < 0 ||
		    buf_puts(b, "?=") < 0)
			return -1;
		i += k;
	}
	return 0;
}

/* is_atext - RFC 5322 atext: may stand in a phrase unquoted */
static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* put_phrase - a full name as an RFC 5322 phrase */
static int put_phrase(struct buf *b, const char *name)
{
	size_t len = strlen(name);
	bool plain = len > 0 && name[0] != ' ' && name[len - 1] != ' ';
	bool encode = len > PHRASE_MAX;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p >= 0x80 || (*p < 0x20 && *p != '\t') || *p == 0x7f)
			encode = true;
		if (!is_atext(*p) && *p != ' ')
			plain = false;
	}
	if (encode)
		return put_encoded_words(b, name);
	if (plain)
		return buf_puts(b, name);
	if (buf_putc(b, '"') < 0)
		return -1;
	for (const char *p = name; *p != '\0'; p++) {
		if ((*p == '"' || *p == '\\') && buf_putc(b, '\\') < 0)
			return -1;
		if (buf_putc(b, *p) < 0)
			return -1;
	}
	return buf_putc(b, '"');
}

/* put_angle_addr - " <addr>", on a new folded line when this one would be too long */
static int put_angle_addr(struct buf *b, const char *addr)
{
	size_t need = strlen(addr) + 3;
	if (last_line_len(b) + need > MESSAGE_LINE_MAX && buf_puts(b, "\r\n") < 0)
		return -1;
	return buf_printf(b, " <%s>", addr);
}

/*
 * phrase_len - length of the display name that starts a From: value, as
 * written (quotes, encoded words and folding kept); 0 when there is none.
 */
static size_t phrase_len(const char *v, size_t n)
{
	bool quoted = false;
	int depth = 0;
	size_t i;
	for (i = 0; i < n; i++) {
		char c = v[i];
		if ((quoted || depth > 0) && c == '\\') {
			i++;
		} else if (quoted) {
			quoted = c != '"';
		} else if (c == '(') {
			depth++;
		} else if (depth > 0) {
			depth -= c == ')';
		} else if (c == '"') {
			quoted = true;
		} else if (c == '<' || c == ',' || c == ';' || c == ':') {
			break;
		}
	}
	if (i >= n || v[i] != '<')
		return 0;
	while (i > 0 && (is_wsp(v[i - 1]) || v[i - 1] == '\r' || v[i - 1] == '\n'))
		i--;
	return i;
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

/* rewrite_from - the first From: gets addr, keeping its display name; others go */
static int rewrite_from(struct message_headers *h, long i, const char *addr)
{
	size_t vlen;
	const char *phrase = message_field_value(h, (size_t)i, &vlen);
	size_t plen = phrase_len(phrase, vlen);
	struct buf nf;
	buf_init(&nf, ADDED_MAX);
	int rc = buf_puts(&nf, "From:");
	/* a name that was folded onto its own line may be too long for the first one */
	const char *eol = memchr(phrase, '\r', plen);
	size_t first = eol != NULL ? (size_t)(eol - phrase) : plen;
	if (rc == 0 && plen > 0 && first + 6 > MESSAGE_LINE_MAX)
		rc = buf_puts(&nf, "\r\n");
	if (rc == 0 && plen > 0)
		rc = buf_putc(&nf, ' ') < 0 || buf_append(&nf, phrase, plen) < 0 ||
		     put_angle_addr(&nf, addr) < 0 ? -1 : 0;
	else if (rc == 0)
		rc = buf_printf(&nf, " %s", addr);
	if (rc == 0)
		rc = buf_puts(&nf, "\r\n");
	size_t off = h->raw.len;
	if (rc == 0)
		rc = buf_append(&h->raw, nf.data, nf.len);
	if (rc == 0) {
		h->f[i].off = off;
		h->f[i].len = nf.len;
		h->f[i].namelen = 4;
		for (long j = message_find(h, "From", (size_t)i + 1); j >= 0;
		     j = message_find(h, "From", (size_t)j + 1))
			h->f[j].removed = true;
		message_remove(h, "Sender");
	}
	buf_free(&nf);
	return rc;
}

/* add_from - "From:" from -F and the sender */
static int add_from(struct buf *b, const char *full_name, const char *addr)
{
	if (full_name == NULL || full_name[0] == '\0')
		return buf_printf(b, "From: %s\r\n", addr);
	if (buf_puts(b, "From: ") < 0 || put_phrase(b, full_name) < 0 ||
	    put_angle_addr(b, addr) < 0)
		return -1;
	return buf_puts(b, "\r\n");
}

/* message_complete_headers - add what a message must have, apply rewrite_from */
int message_complete_headers(struct message_headers *h, const struct message_completion *mc)
{
	const char *domain = mc->domain != NULL && mc->domain[0] != '\0' ? mc->domain : "localhost";
	const char *sender = mc->sender != NULL ? mc->sender : "";
	/* checked by the front end already; a header must never get a line break from us */
	if (strpbrk(domain, "\r\n") || strpbrk(sender, "\r\n") ||
	    (mc->full_name != NULL && strpbrk(mc->full_name, "\r\n")) ||
	    strlen(domain) > ADDR_MAX / 2 || strlen(sender) > ADDR_MAX)
		return -1;
	char null_sender[ADDR_MAX / 2 + 16];
	if (sender[0] == '\0') {
		int n = snprintf(null_sender, sizeof null_sender, "MAILER-DAEMON@%s", domain);
		if (n < 0 || (size_t)n >= sizeof null_sender)
			return -1;
		sender = null_sender;
	}
	/* build aside, so that a failure adds nothing */
	struct buf add;
	buf_init(&add, ADDED_MAX);
	int rc = 0;
	if (message_find(h, "Date", 0) < 0)
		rc = add_date(&add, mc->now);
	if (rc == 0 && message_find(h, "Message-ID", 0) < 0)
		rc = add_message_id(&add, mc->now, domain);
	long from = message_find(h, "From", 0);
	if (rc == 0 && from < 0)
		rc = add_from(&add, mc->full_name, sender);
	if (rc == 0 && from >= 0 && mc->rewrite_from)
		rc = rewrite_from(h, from, sender);
	if (rc == 0)
		rc = buf_append(&h->added, add.data, add.len);
	buf_free(&add);
	return rc < 0 ? -1 : 0;
}
