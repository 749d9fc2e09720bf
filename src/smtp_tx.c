/* smtp_tx - mail transactions over an open session, pipelined; see smtp.h */
#include "smtp.h"
#include "smtp_session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

/* check_message - refuse what must never reach the wire; 0 or -1 with tx set */
static int check_message(const struct smtp_session *s, const struct smtp_message *m,
			 struct smtp_reply *tx)
{
	bool ok = smtp_wire_safe(m->sender, false) && smtp_wire_safe(m->notify, true) &&
		  smtp_wire_safe(m->ret, true) && smtp_wire_safe(m->envid, true);
	for (size_t i = 0; ok && i < m->nrcpt; i++)
		ok = smtp_wire_safe(m->rcpt[i], false);
	if (!ok) {
		smtp_set_text(tx, "refusing an envelope with control characters");
		tx->code = 501;
		return -1;
	}
	if (m->nrcpt == 0) {
		smtp_set_text(tx, "no recipients");
		tx->code = 554;
		return -1;
	}
	if (s->ext.size && s->ext.size_max != 0 && m->size > s->ext.size_max) {
		smtp_set_text(tx, "message size %llu exceeds the smarthost's limit of %llu", m->size,
			 s->ext.size_max);
		tx->code = 552;
		memcpy(tx->enhanced, "5.3.4", sizeof "5.3.4");
		return -1;
	}
	return 0;
}

/* put_mail - queue MAIL FROM with the parameters the server understands */
static int put_mail(struct smtp_session *s, const struct smtp_message *m, struct smtp_reply *r)
{
	bool utf8 = s->ext.smtputf8 && smtp_is_8bit(m->sender);
	for (size_t i = 0; !utf8 && s->ext.smtputf8 && i < m->nrcpt; i++)
		utf8 = smtp_is_8bit(m->rcpt[i]);
	buf_reset(&s->cmd);
	int e = buf_printf(&s->cmd, "MAIL FROM:<%s>", m->sender);
	if (e == 0 && s->ext.size)
		e = buf_printf(&s->cmd, " SIZE=%llu", m->size);
	if (e == 0 && s->ext.eightbitmime && m->eightbit)
		e = buf_puts(&s->cmd, " BODY=8BITMIME");
	if (e == 0 && utf8)
		e = buf_puts(&s->cmd, " SMTPUTF8");
	if (e == 0 && s->ext.dsn && m->ret != NULL)
		e = buf_printf(&s->cmd, " RET=%s", m->ret);
	if (e == 0 && s->ext.dsn && m->envid != NULL)
		e = buf_puts(&s->cmd, " ENVID=") < 0 ? -1 : smtp_xtext(&s->cmd, m->envid);
	if (e < 0) {
		smtp_set_text(r, "MAIL FROM command too long");
		return -1;
	}
	return smtp_send_line(s, SMTP_ST_MAIL, s->cmd.data, s->cmd.len, NULL, r);
}

/* put_rcpt - queue one RCPT TO */
static int put_rcpt(struct smtp_session *s, const struct smtp_message *m, size_t i,
		    struct smtp_reply *r)
{
	if (s->ext.dsn && m->notify != NULL)
		return smtp_send_fmt(s, SMTP_ST_RCPT, r, "RCPT TO:<%s> NOTIFY=%s", m->rcpt[i], m->notify);
	return smtp_send_fmt(s, SMTP_ST_RCPT, r, "RCPT TO:<%s>", m->rcpt[i]);
}

/* failed - the verdict for a reply that should have been a success */
static enum smtp_verdict failed(const struct smtp_reply *r)
{
	enum smtp_verdict v = smtp_reply_verdict(r);
	return v == SMTP_OK ? SMTP_TEMP : v;
}

/* rcpt_failure - no recipient accepted: the worst RCPT reply decides */
static enum smtp_verdict rcpt_failure(const struct smtp_message *m, struct smtp_result *res)
{
	const struct smtp_reply *worst = &res->rcpt[0];
	for (size_t i = 0; i < m->nrcpt; i++) {
		if (smtp_reply_verdict(&res->rcpt[i]) == SMTP_PERM) {
			worst = &res->rcpt[i];
			break;
		}
	}
	res->tx = *worst;
	return failed(worst);
}

/* count_ok - recipients accepted */
static size_t count_ok(const struct smtp_message *m, const struct smtp_result *res)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nrcpt; i++)
		n += res->rcpt[i].code >= 200 && res->rcpt[i].code < 300;
	return n;
}

/* end_empty - a pipelined DATA got 354 with no recipient: send an empty message's end */
static void end_empty(struct smtp_session *s)
{
	struct smtp_reply ignored;
	if (smtp_send_line(s, SMTP_ST_END, ".", 1, NULL, &ignored) == 0 && smtp_flush(s, &ignored) == 0)
		smtp_read_reply(s, SMTP_ST_END, &ignored, NULL);
}

/* session_lost - the transaction died with the connection */
static enum smtp_verdict session_lost(struct smtp_result *res, const struct smtp_reply *why)
{
	res->tx = *why;
	res->state = SMTP_TX_LOST;
	return SMTP_TEMP;
}

/* envelope_serial - MAIL, each RCPT, DATA, one round trip each */
static enum smtp_verdict envelope_serial(struct smtp_session *s, const struct smtp_message *m,
					 struct smtp_result *res, bool *go)
{
	struct smtp_reply r;
	if (put_mail(s, m, &r) < 0 || smtp_flush(s, &r) < 0 || smtp_read_reply(s, SMTP_ST_MAIL, &r, NULL) < 0 ||
	    s->lost)
		return session_lost(res, &r);
	if (r.code < 200 || r.code > 299) {
		res->tx = r;
		return failed(&r);
	}
	for (size_t i = 0; i < m->nrcpt; i++) {
		struct smtp_reply *rr = &res->rcpt[i];
		if (put_rcpt(s, m, i, rr) < 0 || smtp_flush(s, rr) < 0 ||
		    smtp_read_reply(s, SMTP_ST_RCPT, rr, NULL) < 0 || s->lost)
			return session_lost(res, rr);
	}
	if (count_ok(m, res) == 0)
		return rcpt_failure(m, res);
	if (smtp_command(s, SMTP_ST_DATA, &r, NULL, "DATA") < 0 || s->lost)
		return session_lost(res, &r);
	res->tx = r;
	*go = r.code == 354;
	return failed(&r);
}

/*
 * stream_data - the message from data_fd, dot-stuffed for DATA or raw for
 * BDAT, with a final CRLF added when missing; *total: bytes put on the
 * wire. 0, or -1 with r saying why (the session is lost then: cutting the
 * data short must never look like its end).
 */
static int stream_data(struct smtp_session *s, const struct smtp_message *m, bool stuff,
		       unsigned long long *total, struct smtp_reply *r)
{
	struct smtp_stuffer st = { .at_line_start = true };
	char *in = s->block, *out = s->block + SMTP_READ_BLOCK, tail[2] = { '\r', '\n' };
	off_t off = m->data_off;
	char note[64];
	*total = 0;
	s->state = SMTP_ST_BODY;
	io_set_timeout(s->io, smtp_step_timeout(s, SMTP_ST_BODY));
	for (;;) {
		ssize_t n = pread(m->data_fd, in, SMTP_READ_BLOCK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			smtp_set_text(r, "cannot read the message data: %s", strerror(errno));
			s->lost = true;
			return -1;
		}
		if (n == 0)
			break;
		size_t k = stuff ? smtp_stuff(&st, in, (size_t)n, out) : (size_t)n;
		if (io_write(s->io, stuff ? out : in, k) < 0)
			return smtp_lose(s, r, "sending");
		tail[0] = n >= 2 ? in[n - 2] : tail[1];
		tail[1] = in[n - 1];
		off += n;
		*total += k;
	}
	if (tail[0] != '\r' || tail[1] != '\n') {
		if (io_write(s->io, "\r\n", 2) < 0)
			return smtp_lose(s, r, "sending");
		*total += 2;
	}
	int w = snprintf(note, sizeof note, "<%llu bytes of message data>", *total);
	if (w > 0 && (size_t)w < sizeof note)
		log_trace_call(&s->cfg.trace, LOG_TRACE_SENT, note, (size_t)w);
	return 0;
}

/*
 * quit_along - with the last message, QUIT rides in the same write as the
 * end of its data: one turn less, and the 221 is never waited for. Only
 * with PIPELINING: a server without it may refuse any byte sent before its
 * reply (OpenSMTPD does, and drops the message); then QUIT waits for the
 * reply, sent when the session is freed.
 */
static int quit_along(struct smtp_session *s, const struct smtp_message *m, struct smtp_reply *r)
{
	if (m->then != SMTP_THEN_QUIT || !s->ext.pipelining)
		return 0;
	s->quit_sent = true;
	return smtp_send_line(s, SMTP_ST_QUIT, "QUIT", 4, NULL, r);
}

/* get_end - the reply to the end of data: 250 or why not */
static enum smtp_verdict get_end(struct smtp_session *s, struct smtp_result *res)
{
	if (smtp_read_reply(s, SMTP_ST_END, &res->tx, NULL) < 0)
		return session_lost(res, &res->tx);
	if (s->lost)
		res->state = SMTP_TX_LOST;
	return res->tx.code == 250 ? SMTP_OK : failed(&res->tx);
}

/* put_body - after 354: the stuffed message and its "." (not flushed) */
static int put_body(struct smtp_session *s, const struct smtp_message *m, struct smtp_reply *r)
{
	unsigned long long total;
	if (stream_data(s, m, true, &total, r) < 0)
		return -1;
	return smtp_send_line(s, SMTP_ST_END, ".", 1, NULL, r);
}

/* send_data - after 354: the stuffed message, then "." and its reply */
static enum smtp_verdict send_data(struct smtp_session *s, const struct smtp_message *m,
				   struct smtp_result *res)
{
	if (put_body(s, m, &res->tx) < 0 || quit_along(s, m, &res->tx) < 0 ||
	    smtp_flush(s, &res->tx) < 0)
		return session_lost(res, &res->tx);
	return get_end(s, res);
}

/* wire_length - bytes BDAT will send: the data, plus CRLF when it lacks one */
static int wire_length(const struct smtp_message *m, unsigned long long *len)
{
	struct stat st;
	char tail[2];
	if (fstat(m->data_fd, &st) < 0 || st.st_size < m->data_off)
		return -1;
	*len = (unsigned long long)(st.st_size - m->data_off);
	if (*len == 0)
		return 0;
	off_t at = st.st_size - (*len >= 2 ? 2 : 1);
	ssize_t n = pread(m->data_fd, tail, (size_t)(st.st_size - at), at);
	if (n != st.st_size - at)
		return -1;
	if (n == 1 || tail[0] != '\r' || tail[1] != '\n')
		*len += 2;
	return 0;
}

/* put_bdat - "BDAT n LAST" and the raw data behind it (RFC 3030) */
static int put_bdat(struct smtp_session *s, const struct smtp_message *m, struct smtp_reply *r)
{
	unsigned long long len, total;
	if (wire_length(m, &len) < 0) {
		smtp_set_text(r, "cannot read the message data: %s", strerror(errno));
		s->lost = true;		/* MAIL and RCPT are queued: this transaction cannot go on */
		return -1;
	}
	if (smtp_send_fmt(s, SMTP_ST_DATA, r, "BDAT %llu LAST", len) < 0 ||
	    stream_data(s, m, false, &total, r) < 0)
		return -1;
	if (total != len) {
		s->lost = true;		/* the file changed under us: the chunk is now wrong */
		smtp_set_text(r, "message data changed while it was sent");
		return -1;
	}
	return 0;
}

/* put_envelope - MAIL, every RCPT, then DATA, or "BDAT n LAST" and the data */
static int put_envelope(struct smtp_session *s, const struct smtp_message *m, bool bdat,
			struct smtp_reply *r)
{
	int e = put_mail(s, m, r);
	for (size_t i = 0; e == 0 && i < m->nrcpt; i++)
		e = put_rcpt(s, m, i, r);
	if (e == 0)
		e = bdat ? put_bdat(s, m, r) : smtp_send_line(s, SMTP_ST_DATA, "DATA", 4, NULL, r);
	return e;
}

/*
 * get_envelope - the replies to put_envelope, in order, and what they
 * decide. *go: DATA got its 354 and the data is to follow.
 */
static enum smtp_verdict get_envelope(struct smtp_session *s, const struct smtp_message *m,
				      bool bdat, struct smtp_result *res, bool *go)
{
	struct smtp_reply mail, last;
	if (smtp_read_reply(s, SMTP_ST_MAIL, &mail, NULL) < 0 || s->lost)
		return session_lost(res, &mail);
	for (size_t i = 0; i < m->nrcpt; i++)
		if (smtp_read_reply(s, SMTP_ST_RCPT, &res->rcpt[i], NULL) < 0 || s->lost)
			return session_lost(res, &res->rcpt[i]);
	if (smtp_read_reply(s, bdat ? SMTP_ST_END : SMTP_ST_DATA, &last, NULL) < 0 || s->lost)
		return session_lost(res, &last);
	bool mail_ok = mail.code >= 200 && mail.code <= 299;
	if (!mail_ok || count_ok(m, res) == 0) {
		if (last.code == 354)
			end_empty(s);	/* DATA went out with the rest: close it empty */
		if (mail_ok)
			return rcpt_failure(m, res);
		/* the RCPT replies only echo the MAIL failure: not the recipients' fault */
		for (size_t i = 0; i < m->nrcpt; i++)
			smtp_set_text(&res->rcpt[i], "not attempted: MAIL FROM failed");
		res->tx = mail;
		return failed(&mail);
	}
	res->tx = last;
	if (bdat)
		return last.code == 250 ? SMTP_OK : failed(&last);
	*go = last.code == 354;
	return failed(&last);
}

/* hold - leave m's transaction open: the next one goes in the same write as its data */
static enum smtp_verdict hold(struct smtp_session *s, const struct smtp_message *m,
			      struct smtp_result *res, bool chunked)
{
	s->open = (struct smtp_hold){ .m = m, .res = res, .chunked = chunked, .data_due = !chunked };
	res->state = SMTP_TX_OPEN;
	return SMTP_OK;
}

/* put_tail - what the open transaction still owes the wire: DATA's data and "." */
static int put_tail(struct smtp_session *s, struct smtp_reply *r)
{
	if (s->open.m == NULL || !s->open.data_due)
		return 0;
	s->open.data_due = false;
	return put_body(s, s->open.m, r);
}

/*
 * decide_open - decide the open transaction: read its replies, or, when why is
 * given, the session died before they came. 0, or -1 when the session is
 * lost (nothing behind it will ever be answered).
 */
static int decide_open(struct smtp_session *s, const struct smtp_reply *why)
{
	struct smtp_hold o = s->open;
	bool go = false;
	enum smtp_verdict v;
	s->open.m = NULL;
	o.res->state = SMTP_TX_DECIDED;
	if (why != NULL)
		v = session_lost(o.res, why);
	else if (o.chunked)
		v = get_envelope(s, o.m, true, o.res, &go);
	else
		v = get_end(s, o.res);
	o.res->verdict = v;
	return s->lost ? -1 : 0;
}

/* untried - m went out behind a transaction whose replies never came: never judged */
static enum smtp_verdict untried(struct smtp_session *s, struct smtp_result *res)
{
	smtp_set_text(&res->tx, "not attempted: the session with %s was lost before its turn",
		      io_peer(s->io));
	res->state = SMTP_TX_UNTRIED;
	return SMTP_TEMP;
}

/*
 * pipelined - the open transaction's data (if it still owes it), then
 * MAIL, every RCPT and DATA (or "BDAT n LAST" and the data itself), in one
 * write; then the open transaction's replies and this one's, in order.
 * With SMTP_THEN_PIPELINE, m's transaction is left open at the point where the next
 * one's commands can follow it: after its 354 (DATA), or (BDAT) with all
 * its replies still to read. *go: DATA got its 354 and the data is to
 * follow now.
 */
static enum smtp_verdict pipelined(struct smtp_session *s, const struct smtp_message *m,
				   struct smtp_result *res, bool *go)
{
	struct smtp_reply why;
	bool bdat = s->ext.chunking, behind = s->open.m != NULL;
	int e = put_tail(s, &why);
	if (e == 0 && put_envelope(s, m, bdat, &why) < 0) {
		e = -1;
		s->lost = true;	/* what of m is queued is unknown: no way on */
	}
	bool more = m->then == SMTP_THEN_PIPELINE;
	if (e == 0 && bdat && !more)
		e = quit_along(s, m, &why);
	if (e == 0 && bdat && more && !behind)
		return hold(s, m, res, true);	/* written; flushed behind the next one */
	if (e == 0)
		e = smtp_flush(s, &why);
	if (behind && decide_open(s, e < 0 ? &why : NULL) < 0)
		return untried(s, res);
	if (e < 0)
		return session_lost(res, &why);
	if (bdat && more)
		return hold(s, m, res, true);
	return get_envelope(s, m, bdat, res, go);
}

/* smtp_tx_state_name - the state's name, for traces and test reports */
const char *smtp_tx_state_name(enum smtp_tx_state st)
{
	static const char *const names[] = {
		[SMTP_TX_DECIDED] = "decided", [SMTP_TX_LOST] = "lost",
		[SMTP_TX_OPEN] = "open", [SMTP_TX_UNTRIED] = "untried",
	};
	return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

/* smtp_tx_lost - lost and untried both leave the session unusable */
bool smtp_tx_lost(enum smtp_tx_state st)
{
	return st == SMTP_TX_LOST || st == SMTP_TX_UNTRIED;
}

/* decided - the transaction's verdict, kept in res too */
static enum smtp_verdict decided(struct smtp_result *res, enum smtp_verdict v)
{
	res->verdict = v;
	return v;
}

/* smtp_send - one transaction, maybe behind an open one, maybe left open; see smtp.h */
enum smtp_verdict smtp_send(struct smtp_session *s, const struct smtp_message *m,
			    struct smtp_result *res)
{
	bool go = false;
	memset(&res->tx, 0, sizeof res->tx);
	res->state = SMTP_TX_DECIDED;
	for (size_t i = 0; i < m->nrcpt; i++)
		smtp_set_text(&res->rcpt[i], "not attempted");
	if (s->lost) {
		smtp_set_text(&res->tx, "the session with %s was lost", io_peer(s->io));
		res->state = SMTP_TX_LOST;
		return decided(res, SMTP_TEMP);
	}
	if (check_message(s, m, &res->tx) < 0)
		return decided(res, SMTP_PERM);	/* nothing sent: an open transaction stays open */
	enum smtp_verdict v = s->ext.pipelining ? pipelined(s, m, res, &go)
						: envelope_serial(s, m, res, &go);
	if (res->state == SMTP_TX_OPEN)
		return v;
	if (go && m->then == SMTP_THEN_PIPELINE && s->ext.pipelining)
		return hold(s, m, res, false);	/* the data goes with the next one's envelope */
	if (go)
		v = send_data(s, m, res);
	return decided(res, v);
}

/* smtp_finish - the open transaction's data, if due, then its replies */
enum smtp_verdict smtp_finish(struct smtp_session *s)
{
	struct smtp_reply why;
	struct smtp_result *res = s->open.res;
	if (s->open.m == NULL)
		return SMTP_OK;
	int e = put_tail(s, &why);
	if (e == 0)
		e = smtp_flush(s, &why);
	(void)decide_open(s, e < 0 ? &why : NULL);
	return res->verdict;
}

/* smtp_reset - RSET; a session that cannot even do that is given up */
int smtp_reset(struct smtp_session *s)
{
	struct smtp_reply r;
	if (s->lost)
		return -1;
	if (s->open.m != NULL)
		return 0;	/* the failure sent nothing (check_message): the open one goes on */
	if (smtp_command(s, SMTP_ST_RSET, &r, NULL, "RSET") < 0 || r.code != 250) {
		s->lost = true;
		return -1;
	}
	return 0;
}
