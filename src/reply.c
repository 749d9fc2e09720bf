/*
 * reply - the pure half of the SMTP client (declared in smtp.h): a reply
 * line parsed, enhanced status codes checked against the reply code, a
 * multi-line reply assembled into one struct smtp_reply and judged by
 * smtp_reply_verdict, EHLO keywords, the wire-safety checks of envelope
 * values, and dot-stuffing of the data. No I/O, no session
 * state: the fuzz target tests/fuzz/fuzz_reply.c and the unit tests drive
 * these directly.
 */
#include "smtp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "log.h"

/* smtp_reply_verdict - the one place a reply code becomes a verdict */
enum smtp_verdict smtp_reply_verdict(const struct smtp_reply *r)
{
	if (r->code >= 200 && r->code < 400)
		return SMTP_OK;
	if (r->code >= 500 && r->code < 600)
		return SMTP_PERM;
	return SMTP_TEMP;
}

/* smtp_reply_line - split "250-text" into code, continuation flag and text */
int smtp_reply_line(const char *line, size_t len, int *code, bool *last, const char **text)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*last = len == 3 || line[3] == ' ';
	*text = line + (len > 3 ? 4 : 3);
	return 0;
}

/* count_digits - length of the run of 1 to 3 digits at t (0: none or too many) */
static size_t count_digits(const char *t, size_t n)
{
	size_t i = 0;
	while (i < n && isdigit((unsigned char)t[i]))
		i++;
	return i >= 1 && i <= 3 ? i : 0;
}

/* enhanced_n - smtp_enhanced on n bytes; *used: bytes consumed with the blanks after */
static int enhanced_n(const char *t, size_t n, int code, char out[16], size_t *used)
{
	size_t i = 2, k;
	out[0] = '\0';
	if (n < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.' ||
	    t[0] - '0' != code / 100)
		return -1;	/* a class that disagrees with the code is not trusted */
	if ((k = count_digits(t + i, n - i)) == 0)
		return -1;
	i += k;
	if (i >= n || t[i] != '.')
		return -1;
	i++;
	if ((k = count_digits(t + i, n - i)) == 0)
		return -1;
	i += k;
	if (i < n && t[i] != ' ' && t[i] != '\t')
		return -1;
	memcpy(out, t, i);
	out[i] = '\0';
	while (i < n && (t[i] == ' ' || t[i] == '\t'))
		i++;
	*used = i;
	return 0;
}

/* smtp_enhanced - "5.1.1" at the start of text, when it agrees with code */
int smtp_enhanced(const char *text, int code, char out[16], const char **rest)
{
	size_t used = 0;
	if (enhanced_n(text, strlen(text), code, out, &used) < 0)
		return -1;
	*rest = text + used;
	return 0;
}

/* smtp_reply_begin - empty reply, nothing read yet */
void smtp_reply_begin(struct smtp_assembly *a, struct smtp_reply *r)
{
	memset(a, 0, sizeof *a);
	memset(r, 0, sizeof *r);
	a->r = r;
}

/* malformed - turn the reply under assembly into "no usable reply" */
static int malformed(struct smtp_assembly *a, const char *why, const char *line, size_t len)
{
	char shown[96];
	log_printable(line, len, shown, sizeof shown);
	int n = snprintf(a->r->text, sizeof a->r->text, "malformed reply from server (%s): \"%s\"",
			 why, shown);
	if (n < 0)
		a->r->text[0] = '\0';
	a->r->code = 0;
	a->r->enhanced[0] = '\0';
	a->done = true;
	return -1;
}

/* join_text - add one line's text, printable, "; " between lines */
static void join_text(struct smtp_assembly *a, const char *t, size_t n)
{
	char *text = a->r->text;
	if (n == 0 || a->textlen + 8 >= SMTP_TEXT_MAX)
		return;		/* nothing to add, or already cut with "..." */
	if (a->textlen > 0) {
		memcpy(text + a->textlen, "; ", 3);
		a->textlen += 2;
	}
	log_printable(t, n, text + a->textlen, SMTP_TEXT_MAX - a->textlen);
	a->textlen += strlen(text + a->textlen);
}

/* smtp_reply_feed - one more line of the reply */
int smtp_reply_feed(struct smtp_assembly *a, const char *line, size_t len)
{
	int code;
	bool last;
	const char *text;
	char enh[16];
	size_t used = 0;
	if (a->done)
		return malformed(a, "line after the last one", line, len);
	if (smtp_reply_line(line, len, &code, &last, &text) < 0)
		return malformed(a, "bad reply line", line, len);
	if (a->lines > 0 && code != a->r->code)
		return malformed(a, "reply code changed within a reply", line, len);
	a->lines++;
	a->bytes += len + 2;
	if (a->lines > SMTP_REPLY_LINES_MAX || a->bytes > SMTP_REPLY_BYTES_MAX)
		return malformed(a, "reply too long", line, len);
	a->r->code = code;
	size_t tlen = len - (size_t)(text - line);
	if (enhanced_n(text, tlen, code, enh, &used) == 0) {
		if (a->r->enhanced[0] == '\0')
			memcpy(a->r->enhanced, enh, sizeof enh);
		text += used;
		tlen -= used;
	}
	join_text(a, text, tlen);
	a->done = last;
	return last ? 1 : 0;
}

/* smtp_stuff - double each '.' that starts a line; state spans chunks */
size_t smtp_stuff(struct smtp_stuffer *st, const char *in, size_t n, char *out)
{
	size_t o = 0;
	bool bol = st->at_line_start;
	for (size_t i = 0; i < n; i++) {
		if (bol && in[i] == '.')
			out[o++] = '.';
		out[o++] = in[i];
		bol = in[i] == '\n';
	}
	st->at_line_start = bol;
	return o;
}

/* is_word - the keyword t (n bytes) is w, in any case */
static bool is_word(const char *t, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(t, w, n) == 0;
}

/* parse_size - SIZE's argument; 0 (no limit) when absent or unreadable */
static unsigned long long parse_size(const char *t, size_t n)
{
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)t[i]))
			return 0;
		unsigned d = (unsigned)(t[i] - '0');
		if (v > (~0ULL - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	return v;
}

/* smtp_ehlo_keyword - one EHLO keyword line into what the server offers */
void smtp_ehlo_keyword(struct smtp_ext *e, const char *t, size_t n)
{
	size_t w = 0;
	while (w < n && t[w] != ' ' && t[w] != '=')
		w++;
	const char *arg = w < n ? t + w + 1 : t + n;
	size_t alen = w < n ? n - w - 1 : 0;
	while (alen > 0 && isspace((unsigned char)arg[alen - 1]))
		alen--;		/* "SIZE 10240000 " still announces a limit */
	if (is_word(t, w, "PIPELINING"))
		e->pipelining = true;
	else if (is_word(t, w, "STARTTLS"))
		e->starttls = true;
	else if (is_word(t, w, "8BITMIME"))
		e->eightbitmime = true;
	else if (is_word(t, w, "DSN"))
		e->dsn = true;
	else if (is_word(t, w, "CHUNKING"))
		e->chunking = true;
	else if (is_word(t, w, "SMTPUTF8"))
		e->smtputf8 = true;
	else if (is_word(t, w, "AUTH"))	/* both "AUTH LOGIN" and the old "AUTH=LOGIN" */
		e->auth |= auth_parse_offer(arg, alen);
	else if (is_word(t, w, "SIZE")) {
		e->size = true;
		e->size_max = parse_size(arg, alen);
	}
}

/* smtp_wire_safe - nothing that could end or split a command line (defence in depth) */
bool smtp_wire_safe(const char *p, bool param)
{
	for (; p != NULL && *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f || (param && c == ' '))
			return false;
	}
	return true;
}

/* smtp_xtext - RFC 3461 section 4: "+" and "=" and what is not printable, as +XX */
int smtp_xtext(struct buf *out, const char *p)
{
	for (; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		int e = c >= '!' && c <= '~' && c != '+' && c != '=' ? buf_putc(out, (char)c)
								      : buf_printf(out, "+%02X", c);
		if (e < 0)
			return -1;
	}
	return 0;
}

/* smtp_is_8bit - the address needs SMTPUTF8 */
bool smtp_is_8bit(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}
