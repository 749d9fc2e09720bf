/*
 * mailq - the queue listing; see mailq.h.
 *
 * The text layout is Postfix's showq one: "%-10s" id (our ids are 16
 * characters, so, as with Postfix's long queue ids, the line simply grows),
 * then '*' for a message being delivered or a space, the size in 8
 * columns, the arrival time, two spaces, the sender; the error and the
 * recipients at column 41. Monitoring (check_mailq -M postfix and its
 * friends) reads the "-- N Kbytes in M Request(s)." footer and lines that
 * start with a hex id, both of which this keeps.
 *
 * A message that disappears or cannot be read between the directory scan
 * and the read is left out: it is either delivered or not ours to show.
 */
#include "mailq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RCPT_COLUMN 41

struct mailq_ctx {
	struct queue *q;
	FILE *out;
	bool json;
	unsigned long long bytes;
	size_t count;
};

/* put_clean - a string with every control character shown as '?' */
static void put_clean(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		putc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
}

/* arrival_text - "Fri Nov 27 01:03:58" in local time, independent of the locale */
static void arrival_text(time_t t, char out[32])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		memcpy(out, "??? ??? ?? ??:??:??", 20);
		return;
	}
	int n = snprintf(out, 32, "%s %s %2d %02d:%02d:%02d", days[tm.tm_wday],
			 months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || n >= 32)
		memcpy(out, "??? ??? ?? ??:??:??", 20);
}

/* print_text - one message the way Postfix's mailq shows it */
static void print_text(struct mailq_ctx *c, const struct queue_msg *m)
{
	char when[32];
	arrival_text(m->arrival, when);
	if (c->count == 0)
		fputs("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n", c->out);
	fprintf(c->out, "%-10s%c%8llu %s  ", m->id, m->busy ? '*' : ' ', m->size, when);
	put_clean(c->out, m->sender[0] != '\0' ? m->sender : "MAILER-DAEMON");
	putc('\n', c->out);
	if (m->last_error != NULL && m->last_error[0] != '\0') {
		fprintf(c->out, "%*s(", RCPT_COLUMN, "");
		put_clean(c->out, m->last_error);
		fputs(")\n", c->out);
	}
	for (size_t i = 0; i < m->nrcpt; i++) {
		if (m->rcpt_done[i])
			continue;
		fprintf(c->out, "%*s", RCPT_COLUMN, "");
		put_clean(c->out, m->rcpt[i]);
		putc('\n', c->out);
	}
	putc('\n', c->out);
}

/* utf8_len - length of the valid UTF-8 sequence at s, 0 when invalid */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;	/* no overlong forms */
		hi = c == 0xed ? 0x9f : 0xbf;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* put_json_string - s as a JSON string; invalid UTF-8 becomes U+FFFD */
static void put_json_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	putc('"', out);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			putc('\\', out);
			putc(*s++, out);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(out, "\\u%04x", *s++);
		} else if (*s < 0x80) {
			putc(*s++, out);
		} else {
			size_t n = utf8_len(s);
			if (n == 0) {
				fputs("\\ufffd", out);
				s++;
			} else {
				fwrite(s, 1, n, out);
				s += n;
			}
		}
	}
	putc('"', out);
}

/* print_json - one message as one JSON object on one line, like postqueue -j */
static void print_json(struct mailq_ctx *c, const struct queue_msg *m)
{
	bool has_error = m->last_error != NULL && m->last_error[0] != '\0';
	fprintf(c->out, "{\"queue_name\": \"%s\", \"queue_id\": \"%s\", \"arrival_time\": %lld, "
		"\"message_size\": %llu, \"sender\": ", m->busy ? "active" : "deferred", m->id,
		(long long)m->arrival, m->size);
	put_json_string(c->out, m->sender);
	fputs(", \"recipients\": [", c->out);
	bool first = true;
	for (size_t i = 0; i < m->nrcpt; i++) {
		if (m->rcpt_done[i])
			continue;
		fputs(first ? "{\"address\": " : ", {\"address\": ", c->out);
		put_json_string(c->out, m->rcpt[i]);
		if (has_error) {
			fputs(", \"delay_reason\": ", c->out);
			put_json_string(c->out, m->last_error);
		}
		putc('}', c->out);
		first = false;
	}
	fprintf(c->out, "], \"attempts\": %u, \"next_retry\": %lld, \"last_error\": ", m->attempts,
		(long long)m->next_try);
	if (has_error)
		put_json_string(c->out, m->last_error);
	else
		fputs("null", c->out);
	fputs("}\n", c->out);
}

/* show_one - queue_walk callback: read one message and print it */
static int show_one(void *ctx, const char *id)
{
	struct mailq_ctx *c = ctx;
	struct queue_msg m;
	char err[256];
	if (queue_read(c->q, id, &m, err, sizeof(err)) < 0)
		return 0;
	if (c->json)
		print_json(c, &m);
	else
		print_text(c, &m);
	c->bytes += m.size;
	c->count++;
	queue_release(&m);
	return ferror(c->out) ? -1 : 0;
}

/* mailq_print - the whole listing */
int mailq_print(struct queue *q, FILE *out, bool json, char *err, size_t errlen)
{
	struct mailq_ctx c = { .q = q, .out = out, .json = json, .bytes = 0, .count = 0 };
	if (queue_walk(q, show_one, &c) < 0) {
		int n = snprintf(err, errlen, "%s/q: cannot list the queue: %s", queue_path(q),
				 strerror(errno));
		if (n < 0 && errlen > 0)
			err[0] = '\0';
		return -1;
	}
	if (!json) {
		if (c.count == 0)
			fputs("Mail queue is empty\n", out);
		else
			fprintf(out, "-- %llu Kbytes in %zu Request%s.\n", c.bytes / 1024, c.count,
				c.count == 1 ? "" : "s");
	}
	if (fflush(out) != 0 || ferror(out)) {
		int n = snprintf(err, errlen, "cannot write the listing: %s", strerror(errno));
		if (n < 0 && errlen > 0)
			err[0] = '\0';
		return -1;
	}
	return 0;
}
