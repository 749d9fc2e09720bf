/*
 * message_complete - the header fields relaymail adds or rewrites: Date:,
 * Message-ID:, From: (with -F as an RFC 5322 phrase or RFC 2047 words) and
 * rewrite_from; see message_complete_headers in message.h.
 */
#include "message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define ADDR_MAX 900		/* longest address we write into a header */
#define PHRASE_MAX 900		/* longer names are written as encoded words */
#define EW_BYTES 45		/* name bytes per encoded word: 60 base64 chars, 75 in all */

/* is_wsp - white space that folds a header line */
static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
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

/* message_date - RFC 5322 date-time, local time with a numeric zone */
int message_date(time_t t, char *out, size_t outlen)
{
	/* our own names: strftime's %a and %b would follow the locale */
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	int n = snprintf(out, outlen, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
			 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* add_date - the "Date:" field */
static int add_date(struct buf *b, time_t now)
{
	char date[64];
	if (message_date(now, date, sizeof date) < 0)
		return -1;
	return buf_printf(b, "Date: %s\r\n", date);
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

/* rewrite_from - the first From: gets addr, keeping its display name; others go */
static int rewrite_from(struct message_headers *h, long i, const char *addr)
{
	size_t vlen;
	const char *phrase = message_field_value(h, (size_t)i, &vlen);
	size_t plen = phrase_len(phrase, vlen);
	struct buf nf;
	buf_init(&nf, MESSAGE_ADDED_MAX);
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
	buf_init(&add, MESSAGE_ADDED_MAX);
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
