/*
 * dsn - RFC 3464 bounces; see dsn.h.
 *
 * The bounce is written straight into the queue (queue_new_*), so it gets
 * the same durability as any submitted message, and goes out with the next
 * delivery of the queue: from <> to the failed message's sender. Every
 * line is CRLF and stays under 998 octets: addresses, host names and reply
 * texts are cut to fixed maxima that add up to less than that.
 */
#include "dsn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "message.h"
#include "buf.h"

#define DSN_TEXT_MAX (256 * 1024)	/* the generated parts; recipients add ~1.5 kB each */

struct dsn_writer {
	struct queue_new *n;
	struct buf b;
	char boundary[64];
};

/* one_line - true when s can go into a header: printable, no line breaks */
static bool one_line(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* has_8bit - s holds a byte outside ASCII (an SMTPUTF8 address) */
static bool has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* flush - hand the text built so far to the queue file */
static int flush(struct dsn_writer *w)
{
	if (w->b.len > 0 && queue_new_write(w->n, w->b.data, w->b.len) < 0)
		return -1;
	buf_reset(&w->b);
	return 0;
}

/* status_of - the RFC 3463 status for a failed recipient */
static const char *status_of(const struct smtp_reply *r)
{
	if (r->enhanced[0] != '\0')
		return r->enhanced;
	return r->code >= 500 && r->code <= 599 ? "5.0.0" : "4.4.7";	/* else: expired */
}

/* ret_full - the sender asked for the whole message back (RET=FULL) */
static bool ret_full(const struct queue_msg *m)
{
	return m->ret != NULL && strcasecmp(m->ret, "FULL") == 0;
}

/* put_headers - the bounce's own header block and the multipart preamble */
static int put_headers(struct dsn_writer *w, const struct conf *c, const struct queue_msg *m,
		       time_t now)
{
	char date[64];
	if (message_date(now, date, sizeof(date)) < 0)
		return -1;
	return buf_printf(&w->b,
			  "From: Mail Delivery System <MAILER-DAEMON@%.255s>\r\n"
			  "To: <%.900s>\r\n"
			  "Subject: Undelivered Mail Returned to Sender\r\n"
			  "Date: %s\r\n"
			  "Message-ID: <%s.bounce@%.255s>\r\n"
			  "Auto-Submitted: auto-replied\r\n"
			  "MIME-Version: 1.0\r\n"
			  "Content-Type: multipart/report; report-type=delivery-status;\r\n"
			  "\tboundary=\"%s\"\r\n"
			  "\r\n"
			  "This is a MIME-encapsulated message.\r\n"
			  "\r\n--%s\r\n",
			  c->sender.domain, m->sender, date, w->n->id, c->smarthost.helo,
			  w->boundary, w->boundary);
}

/* put_human - part 1: what happened, in words */
static int put_human(struct dsn_writer *w, const struct conf *c, const struct queue_msg *m,
		     const struct dsn_rcpt *failed, size_t nfailed)
{
	char date[64];
	bool full = ret_full(m);
	if (message_date(m->arrival, date, sizeof(date)) < 0 ||
	    buf_printf(&w->b,
		       "Content-Description: Notification\r\n"
		       "Content-Type: text/plain; charset=us-ascii\r\n"
		       "\r\n"
		       "This is the mail system at host %.255s.\r\n"
		       "\r\n"
		       "Your message of %s could not be delivered to one or\r\n"
		       "more recipients. It was given up on; the reasons follow, and the\r\n"
		       "original message%s attached.\r\n"
		       "\r\n",
		       c->smarthost.helo, date, full ? " is" : "'s headers are") < 0)
		return -1;
	for (size_t i = 0; i < nfailed; i++) {
		const struct smtp_reply *r = &failed[i].reply;
		int e;
		if (r->code != 0)
			e = buf_printf(&w->b, "<%.700s>: host %.255s said:\r\n    %d %s%s%.600s\r\n\r\n",
				       failed[i].addr,
				       failed[i].remote_mta ? failed[i].remote_mta : "(smarthost)",
				       r->code, r->enhanced, r->enhanced[0] ? " " : "", r->text);
		else
			e = buf_printf(&w->b, "<%.700s>: delivery time expired%s\r\n    %.600s\r\n\r\n",
				       failed[i].addr, r->text[0] ? "; last problem:" : "", r->text);
		if (e < 0 || flush(w) < 0)
			return -1;
	}
	return buf_printf(&w->b, "\r\n--%s\r\n", w->boundary);
}

/* put_status - part 2: message/delivery-status, machine-readable */
static int put_status(struct dsn_writer *w, const struct conf *c, const struct queue_msg *m,
		      const struct dsn_rcpt *failed, size_t nfailed)
{
	char date[64];
	if (message_date(m->arrival, date, sizeof(date)) < 0 ||
	    buf_printf(&w->b,
		       "Content-Description: Delivery report\r\n"
		       "Content-Type: message/delivery-status\r\n"
		       "\r\n"
		       "Reporting-MTA: dns; %.255s\r\n"
		       "X-Relaymail-Queue-ID: %s\r\n",
		       c->smarthost.helo, m->id) < 0 ||
	    (m->envid != NULL && buf_printf(&w->b, "Original-Envelope-Id: %.900s\r\n", m->envid) < 0) ||
	    buf_printf(&w->b, "Arrival-Date: %s\r\n", date) < 0)
		return -1;
	for (size_t i = 0; i < nfailed; i++) {
		const struct smtp_reply *r = &failed[i].reply;
		if (buf_printf(&w->b, "\r\nFinal-Recipient: rfc822; %.900s\r\n"
			       "Action: failed\r\nStatus: %s\r\n",
			       failed[i].addr, status_of(r)) < 0)
			return -1;
		if (failed[i].remote_mta != NULL &&
		    buf_printf(&w->b, "Remote-MTA: dns; %.255s\r\n", failed[i].remote_mta) < 0)
			return -1;
		if (r->code != 0 &&
		    buf_printf(&w->b, "Diagnostic-Code: smtp; %d %s%s%.600s\r\n", r->code,
			       r->enhanced, r->enhanced[0] ? " " : "", r->text) < 0)
			return -1;
		if (flush(w) < 0)
			return -1;
	}
	return buf_printf(&w->b, "\r\n--%s\r\n", w->boundary);
}

/* put_original - part 3: the original header block, or all of it for RET=FULL */
static int put_original(struct dsn_writer *w, const struct queue_msg *m)
{
	bool full = ret_full(m);
	if (buf_printf(&w->b, "Content-Description: %s\r\nContent-Type: %s\r\n%s\r\n",
		       full ? "Undelivered Message" : "Undelivered Message Headers",
		       full ? "message/rfc822" : "text/rfc822-headers",
		       m->eightbit ? "Content-Transfer-Encoding: 8bit\r\n" : "") < 0 ||
	    flush(w) < 0)
		return -1;
	static const char blank[] = "\r\n\r\n";
	size_t matched = 2;	/* as if a line had just ended: no headers at all */
	char chunk[8192];
	off_t off = m->data_off;
	bool ends_crlf = true;
	for (;;) {
		ssize_t r = pread(m->fd, chunk, sizeof(chunk), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		size_t keep = (size_t)r;
		for (size_t i = 0; !full && i < (size_t)r; i++) {
			matched = chunk[i] == blank[matched] ? matched + 1 : (chunk[i] == '\r' ? 1 : 0);
			if (matched == 4) {
				keep = i + 1;	/* through the empty line that ends the headers */
				break;
			}
		}
		if (queue_new_write(w->n, chunk, keep) < 0)
			return -1;
		ends_crlf = keep >= 2 ? chunk[keep - 2] == '\r' && chunk[keep - 1] == '\n' : ends_crlf;
		if (matched == 4)
			break;
		off += r;
	}
	/* the CRLF before a boundary belongs to the boundary */
	return buf_printf(&w->b, "%s\r\n--%s--\r\n", ends_crlf ? "" : "\r\n", w->boundary);
}

/* write_bounce - the whole bounce message into w->n */
static int write_bounce(struct dsn_writer *w, const struct conf *c, const struct queue_msg *m,
			const struct dsn_rcpt *failed, size_t nfailed, time_t now)
{
	int n = snprintf(w->boundary, sizeof(w->boundary), "%s/bounce.relaymail", w->n->id);
	if (n < 0 || (size_t)n >= sizeof(w->boundary))
		return -1;
	if (put_headers(w, c, m, now) < 0 || put_human(w, c, m, failed, nfailed) < 0 ||
	    put_status(w, c, m, failed, nfailed) < 0 || flush(w) < 0 ||
	    put_original(w, m) < 0 || flush(w) < 0)
		return -1;
	return 0;
}

/* dsn_bounce - queue a delivery status notification for m's failed recipients */
int dsn_bounce(struct queue *q, const struct conf *c, const struct queue_msg *m,
	       const struct dsn_rcpt *failed, size_t nfailed, time_t now,
	       char new_id[QUEUE_ID_LEN + 1], char *err, size_t errlen)
{
	/* never bounce a bounce */
	if (m->sender == NULL || m->sender[0] == '\0' || nfailed == 0)
		return 1;
	if (m->fd < 0)
		return buf_error(err, errlen, "bounce for %s: the message is not open", m->id);
	if (!one_line(c->sender.domain) || !one_line(c->smarthost.helo) || !one_line(m->sender))
		return buf_error(err, errlen, "bounce for %s: unsafe domain or address", m->id);
	for (size_t i = 0; i < nfailed; i++)
		if (failed[i].addr == NULL || !one_line(failed[i].addr) ||
		    (failed[i].remote_mta != NULL && !one_line(failed[i].remote_mta)) ||
		    !one_line(failed[i].reply.text) || !one_line(failed[i].reply.enhanced))
			return buf_error(err, errlen, "bounce for %s: unsafe recipient data", m->id);

	char *rcpt[1] = { m->sender };
	struct envelope env;
	memset(&env, 0, sizeof(env));
	env.sender = "";
	env.rcpt = rcpt;
	env.nrcpt = 1;

	struct queue_new n;
	struct dsn_writer w = { .n = &n };
	struct queue_msg nm;
	if (queue_new_begin(q, &env, now, &n, err, errlen) < 0)
		return -1;
	buf_init(&w.b, DSN_TEXT_MAX);
	if (write_bounce(&w, c, m, failed, nfailed, now) < 0) {
		int e = errno;
		buf_free(&w.b);
		queue_new_abort(q, &n);
		return buf_error(err, errlen, "bounce for %s: %s", m->id, strerror(e));
	}
	buf_free(&w.b);
	bool eightbit = m->eightbit || has_8bit(m->sender);
	for (size_t i = 0; i < nfailed; i++)
		eightbit = eightbit || has_8bit(failed[i].addr) || has_8bit(failed[i].reply.text);
	if (queue_new_commit(q, &n, eightbit, &nm, err, errlen) < 0)
		return -1;
	memcpy(new_id, nm.id, QUEUE_ID_LEN + 1);
	queue_release(&nm);	/* unlocked: the next queue run sends it */
	return 0;
}
