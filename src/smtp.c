/* smtp - the SMTP client over an io; see smtp.h */
#include "smtp.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "io.h"
#include "log.h"

#define SMTP_READ_BLOCK (64 * 1024)	/* message data read per pread */
#define SMTP_QUIT_TIMEOUT 5		/* QUIT is a courtesy: never wait long */

/* where the session is, for timeouts and error texts */
enum smtp_state {
	SMTP_ST_CONNECT,
	SMTP_ST_GREETING,
	SMTP_ST_EHLO,
	SMTP_ST_HELO,
	SMTP_ST_STARTTLS,
	SMTP_ST_AUTH,
	SMTP_ST_MAIL,
	SMTP_ST_RCPT,
	SMTP_ST_DATA,
	SMTP_ST_BODY,
	SMTP_ST_END,
	SMTP_ST_RSET,
	SMTP_ST_QUIT,
};

/*
 * Each state's name (-v traces, errors) and its RFC 5321 4.5.3.2 wait, used
 * when [smarthost] timeout is 0. Connecting has no RFC value; a minute per
 * address keeps a dead smarthost from holding the caller for long.
 */
static const struct {
	const char *name;
	unsigned timeout;
} smtp_states[] = {
	[SMTP_ST_CONNECT] = { "connect", 60 },
	[SMTP_ST_GREETING] = { "greeting", 300 },
	[SMTP_ST_EHLO] = { "EHLO", 300 },
	[SMTP_ST_HELO] = { "HELO", 300 },
	[SMTP_ST_STARTTLS] = { "STARTTLS", 300 },
	[SMTP_ST_AUTH] = { "AUTH", 300 },
	[SMTP_ST_MAIL] = { "MAIL FROM", 300 },
	[SMTP_ST_RCPT] = { "RCPT TO", 300 },
	[SMTP_ST_DATA] = { "DATA", 120 },
	[SMTP_ST_BODY] = { "message data", 180 },
	[SMTP_ST_END] = { "end of data", 600 },
	[SMTP_ST_RSET] = { "RSET", 300 },
	[SMTP_ST_QUIT] = { "QUIT", SMTP_QUIT_TIMEOUT },
};

struct smtp_session {
	struct io *io;
	struct smtp_config cfg;	/* secret set to NULL once AUTH is over */
	struct smtp_ext ext;
	enum smtp_state state;
	bool lost;		/* connection broken, 421 seen, or data cut short */
	bool quit_sent;		/* QUIT went out with the last message's data */
	bool hide_auth;		/* SCRAM: server data proves the password, keep it out of -v */
	struct buf line;	/* the reply line being read */
	struct buf cmd;		/* the command being sent (wiped after secret lines) */
	struct buf first;	/* raw text of the last reply's first line (AUTH) */
	char *block;		/* SMTP_READ_BLOCK in, 2 * SMTP_READ_BLOCK stuffed out */
};

/* set_text - our own words into r (code 0: no server reply decided it) */
__attribute__((format(printf, 2, 3)))
static void set_text(struct smtp_reply *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
	if (n < 0)
		r->text[0] = '\0';
	r->code = 0;
	r->enhanced[0] = '\0';
}

/* step_timeout - seconds allowed for a step; the end of data never under 10 min */
static unsigned step_timeout(const struct smtp_session *s, enum smtp_state st)
{
	unsigned t = s->cfg.conf != NULL ? s->cfg.conf->smarthost.timeout : 0;
	if (st == SMTP_ST_END)
		return t > 600 ? t : 600;
	if (st == SMTP_ST_QUIT)
		return SMTP_QUIT_TIMEOUT;
	return t != 0 ? t : smtp_states[st].timeout;
}

/* lose - the connection is unusable: say why in r */
static int lose(struct smtp_session *s, struct smtp_reply *r, const char *doing)
{
	s->lost = true;
	set_text(r, "error with %s while %s %s: %s", io_peer(s->io), doing,
		 smtp_states[s->state].name, io_error(s->io));
	return -1;
}

/* send_line - queue one command; shown replaces it in the transcript (secrets) */
static int send_line(struct smtp_session *s, enum smtp_state st, const char *line, size_t n,
		     const char *shown, struct smtp_reply *r)
{
	s->state = st;
	if (shown != NULL)
		log_transcript('>', shown, strlen(shown));
	else
		log_transcript('>', line, n);
	if (io_write(s->io, line, n) < 0 || io_write(s->io, "\r\n", 2) < 0)
		return lose(s, r, "sending");
	return 0;
}

/* vformat - queue one formatted command (never a secret) */
__attribute__((format(printf, 4, 0)))
static int vformat(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		   const char *fmt, va_list ap)
{
	buf_reset(&s->cmd);
	if (buf_vprintf(&s->cmd, fmt, ap) < 0) {
		set_text(r, "%s command too long", smtp_states[st].name);
		return -1;
	}
	return send_line(s, st, s->cmd.data, s->cmd.len, NULL, r);
}

/* send_fmt - vformat with arguments */
__attribute__((format(printf, 4, 5)))
static int send_fmt(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vformat(s, st, r, fmt, ap);
	va_end(ap);
	return n;
}

/* flush - send what is queued, under the step's deadline */
static int flush(struct smtp_session *s, struct smtp_reply *r)
{
	io_set_timeout(s->io, step_timeout(s, s->state));
	if (io_flush(s->io) < 0)
		return lose(s, r, "sending");
	return 0;
}

/* keep_first - remember the raw text of a reply's first line (AUTH data) */
static void keep_first(struct smtp_session *s, size_t index, const char *text, size_t n)
{
	if (index != 0)
		return;
	buf_reset(&s->first);
	if (buf_append(&s->first, text, n) < 0)
		buf_reset(&s->first);
}

/*
 * read_reply - the whole reply to the step st into r; each (optional)
 * sees every line's raw text. 0 when a reply came (421 marks the session
 * lost), -1 when none did (r says why).
 */
static int read_reply(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		      void (*each)(struct smtp_session *, size_t, const char *, size_t))
{
	struct smtp_assembly a;
	s->state = st;
	io_set_timeout(s->io, step_timeout(s, st));
	smtp_reply_begin(&a, r);
	for (;;) {
		int got = io_read_line(s->io, &s->line);
		if (got == 0) {
			s->lost = true;
			set_text(r, "lost connection with %s while waiting for the %s reply",
				 io_peer(s->io), smtp_states[st].name);
			return -1;
		}
		if (got < 0)
			return lose(s, r, "waiting for the reply to");
		if (s->hide_auth && s->line.len > 4 && (s->line.data[0] == '2' || s->line.data[0] == '3')) {
			char shown[16] = "334 <redacted>";	/* SCRAM data is an offline attack's oracle */
			memcpy(shown, s->line.data, 4);
			log_transcript('<', shown, strlen(shown));
		} else {
			log_transcript('<', s->line.data, s->line.len);
		}
		int k = smtp_reply_feed(&a, s->line.data, s->line.len);
		if (k < 0) {
			s->lost = true;		/* out of step with the server: no way back */
			return -1;
		}
		if (each != NULL) {
			int code;
			bool last;
			const char *text;
			if (smtp_reply_line(s->line.data, s->line.len, &code, &last, &text) == 0)
				each(s, a.lines - 1, text, s->line.len - (size_t)(text - s->line.data));
		}
		if (k == 1)
			break;
	}
	if (r->code == 421)
		s->lost = true;
	return 0;
}

/* command - send one command and read its reply (each: see read_reply) */
__attribute__((format(printf, 5, 6)))
static int command(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		   void (*each)(struct smtp_session *, size_t, const char *, size_t),
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vformat(s, st, r, fmt, ap);
	va_end(ap);
	if (n < 0 || flush(s, r) < 0)
		return -1;
	return read_reply(s, st, r, each);
}

/* note_line - a greeting or EHLO line for the sendmail --check report, printable */
static void note_line(struct smtp_session *s, size_t index, const char *t, size_t n)
{
	char shown[IO_LINE_MAX + 1];
	(void)index;
	if (s->cfg.report != NULL)
		(void)buf_printf(s->cfg.report, "%s: %s\n", smtp_states[s->state].name,
				 log_printable(t, n, shown, sizeof shown));
}

/* ehlo_line - one EHLO keyword line (the first line is the greeting) */
static void ehlo_line(struct smtp_session *s, size_t index, const char *t, size_t n)
{
	note_line(s, index, t, n);
	if (index > 0)
		smtp_ehlo_keyword(&s->ext, t, n);
}

/* greet - EHLO (HELO only when allowed); what was known before is forgotten */
static int greet(struct smtp_session *s, bool helo_ok, struct smtp_reply *why)
{
	const char *helo = s->cfg.conf->smarthost.helo;
	const char *name = helo != NULL ? helo : "localhost";	/* conf promises one */
	memset(&s->ext, 0, sizeof s->ext);
	if (command(s, SMTP_ST_EHLO, why, ehlo_line, "EHLO %s", name) < 0)
		return -1;
	if (why->code == 250)
		return 0;
	memset(&s->ext, 0, sizeof s->ext);
	if (why->code < 500 || why->code > 599 || !helo_ok)
		return -1;
	if (command(s, SMTP_ST_HELO, why, NULL, "HELO %s", name) < 0)
		return -1;
	return why->code == 250 ? 0 : -1;
}

/* start_tls - the TLS handshake, with the [smarthost] tls_* settings */
static int start_tls(struct smtp_session *s, struct smtp_reply *why)
{
	const struct conf *c = s->cfg.conf;
	struct io_tls t = {
		.servername = s->cfg.host,
		.verify = c->smarthost.tls_verify,
		.ca_file = c->smarthost.tls_ca_file,
		.fingerprint = c->smarthost.tls_fingerprint,
		.cert_file = c->smarthost.tls_cert_file,
		.key_file = c->smarthost.tls_key_file,
		.cache = s->cfg.tls_cache,
		.min_version = c->smarthost.tls_min_version,
		.ciphers = c->smarthost.tls_ciphers,
		.ciphersuites = c->smarthost.tls_ciphersuites,
		.report = s->cfg.report,
	};
	io_set_timeout(s->io, step_timeout(s, SMTP_ST_STARTTLS));
	if (io_start_tls(s->io, &t) < 0) {
		s->lost = true;
		set_text(why, "TLS with %s failed: %s", io_peer(s->io), io_error(s->io));
		return -1;
	}
	if (log_verbose())
		log_info("TLS with %s: %s", io_peer(s->io), io_tls_describe(s->io));
	return 0;
}

/* starttls - STARTTLS, refusing clear text and anything sent ahead of TLS */
static int starttls(struct smtp_session *s, struct smtp_reply *why)
{
	if (!s->ext.starttls) {
		set_text(why, "smarthost does not offer STARTTLS");
		return -1;
	}
	if (command(s, SMTP_ST_STARTTLS, why, NULL, "STARTTLS") < 0 || why->code != 220)
		return -1;
	if (io_pending(s->io) > 0) {
		/* those bytes would be taken as spoken inside TLS (CVE-2011-0411) */
		s->lost = true;
		set_text(why, "STARTTLS reply followed by unexpected data (injection attempt)");
		return -1;
	}
	if (start_tls(s, why) < 0)
		return -1;
	return greet(s, false, why);
}

/* the SMTP side of an AUTH exchange, for auth_run's wire */
struct smtp_auth_wire {
	struct smtp_session *s;
	struct smtp_reply *why;
};

/* wire_send - auth_run's line out: queue, flush */
static int wire_send(void *ctx, const char *line, size_t n, const char *shown)
{
	struct smtp_auth_wire *w = ctx;
	if (send_line(w->s, SMTP_ST_AUTH, line, n, shown, w->why) < 0)
		return -1;
	return flush(w->s, w->why);
}

/* wire_reply - auth_run's reply in: its code and first line's raw text */
static int wire_reply(void *ctx, int *code, const char **text, size_t *n)
{
	struct smtp_auth_wire *w = ctx;
	if (read_reply(w->s, SMTP_ST_AUTH, w->why, keep_first) < 0)
		return -1;
	*code = w->why->code;
	*text = buf_cstr(&w->s->first);
	*n = w->s->first.len;
	return 0;
}

/* authenticate - pick a mechanism fit for this connection and run it */
static int authenticate(struct smtp_session *s, struct smtp_reply *why)
{
	char err[AUTH_ERROR_MAX];
	struct auth_client c;
	bool tls = io_is_tls(s->io);
	if (!tls && !io_peer_is_loopback(s->io)) {
		set_text(why, "refusing to authenticate without TLS to a non-loopback host");
		return -1;
	}
	if (s->cfg.secret == NULL) {
		set_text(why, "no password or token to authenticate with");
		return -1;
	}
	const struct auth_mech *m = auth_choose(s->cfg.mechanism, s->ext.auth, tls, err, sizeof err);
	if (m == NULL) {
		set_text(why, "%s", err);
		return -1;
	}
	if (auth_client_init(&c, m, s->cfg.user, s->cfg.secret, s->cfg.host, s->cfg.port) < 0) {
		set_text(why, "%s", c.error);
		auth_client_wipe(&c);
		return -1;
	}
	struct smtp_auth_wire ctx = { s, why };
	s->hide_auth = m->mech == CONF_MECH_SCRAM_SHA_256;
	struct auth_wire w = { &ctx, wire_send, wire_reply };
	enum auth_outcome o = auth_run(&c, &w);
	s->hide_auth = false;
	if (o == AUTH_FAILED)
		set_text(why, "authentication failed: %s", c.error);
	auth_client_wipe(&c);
	wipe_memory(&c, sizeof c);
	buf_wipe(&s->first);
	return o == AUTH_OK ? 0 : -1;
}

/* session_free - close the connection (QUIT first when it is still sound) */
static void session_free(struct smtp_session *s)
{
	if (s->io != NULL) {
		struct smtp_reply ignored;
		if (!s->lost && !s->quit_sent &&
		    send_line(s, SMTP_ST_QUIT, "QUIT", 4, NULL, &ignored) == 0)
			flush(s, &ignored);	/* no wait for 221: the mail is already safe */
		io_close(s->io);
	}
	buf_free(&s->line);
	buf_wipe(&s->cmd);
	buf_wipe(&s->first);
	free(s->block);
	wipe_memory(s, sizeof *s);
	free(s);
}

/* open_session - greeting, EHLO, STARTTLS and AUTH as configured */
static int open_session(struct smtp_session *s, struct smtp_reply *why)
{
	bool need_auth = s->cfg.user != NULL && s->cfg.mechanism != CONF_MECH_NONE;
	if (s->cfg.tls == CONF_TLS_IMPLICIT && start_tls(s, why) < 0)
		return -1;
	if (read_reply(s, SMTP_ST_GREETING, why, note_line) < 0 || why->code != 220)
		return -1;
	if (greet(s, s->cfg.tls == CONF_TLS_NONE && !need_auth, why) < 0)
		return -1;
	if (s->cfg.tls == CONF_TLS_STARTTLS && starttls(s, why) < 0)
		return -1;
	if (need_auth && authenticate(s, why) < 0)
		return -1;
	return 0;
}

/* smtp_open - a session ready for MAIL, or NULL and why */
struct smtp_session *smtp_open(const struct smtp_config *cfg, struct smtp_reply *why)
{
	char err[256];
	struct smtp_session *s = calloc(1, sizeof *s);
	memset(why, 0, sizeof *why);
	if (s == NULL || cfg->conf == NULL || cfg->host == NULL) {
		set_text(why, s == NULL ? "out of memory" : "no smarthost configured");
		free(s);
		return NULL;
	}
	s->cfg = *cfg;
	buf_init(&s->line, IO_LINE_MAX + 2);
	buf_init(&s->cmd, 4096);
	buf_init(&s->first, IO_LINE_MAX + 2);
	s->block = malloc(3 * SMTP_READ_BLOCK);
	if (s->block == NULL) {
		set_text(why, "out of memory");
		session_free(s);
		return NULL;
	}
	s->state = SMTP_ST_CONNECT;
	s->io = io_connect(cfg->host, cfg->port, step_timeout(s, SMTP_ST_CONNECT), err, sizeof err);
	if (s->io == NULL) {
		set_text(why, "%s", err);
		session_free(s);
		return NULL;
	}
	int r = open_session(s, why);
	s->cfg.secret = NULL;	/* never needed again; the caller wipes it */
	if (r < 0) {
		session_free(s);
		return NULL;
	}
	return s;
}

/* smtp_extensions - what the last EHLO announced */
const struct smtp_ext *smtp_extensions(const struct smtp_session *s)
{
	return &s->ext;
}

/* smtp_peer - "host[address]:port" */
const char *smtp_peer(const struct smtp_session *s)
{
	return io_peer(s->io);
}

/* check_message - refuse what must never reach the wire; 0 or -1 with tx set */
static int check_message(const struct smtp_session *s, const struct smtp_message *m,
			 struct smtp_reply *tx)
{
	bool ok = smtp_wire_safe(m->sender, false) && smtp_wire_safe(m->notify, true) &&
		  smtp_wire_safe(m->ret, true) && smtp_wire_safe(m->envid, true);
	for (size_t i = 0; ok && i < m->nrcpt; i++)
		ok = smtp_wire_safe(m->rcpt[i], false);
	if (!ok) {
		set_text(tx, "refusing an envelope with control characters");
		tx->code = 501;
		return -1;
	}
	if (m->nrcpt == 0) {
		set_text(tx, "no recipients");
		tx->code = 554;
		return -1;
	}
	if (s->ext.size && s->ext.size_max != 0 && m->size > s->ext.size_max) {
		set_text(tx, "message size %llu exceeds the smarthost's limit of %llu", m->size,
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
		e = buf_printf(&s->cmd, " ENVID=%s", m->envid);
	if (e < 0) {
		set_text(r, "MAIL FROM command too long");
		return -1;
	}
	return send_line(s, SMTP_ST_MAIL, s->cmd.data, s->cmd.len, NULL, r);
}

/* put_rcpt - queue one RCPT TO */
static int put_rcpt(struct smtp_session *s, const struct smtp_message *m, size_t i,
		    struct smtp_reply *r)
{
	if (s->ext.dsn && m->notify != NULL)
		return send_fmt(s, SMTP_ST_RCPT, r, "RCPT TO:<%s> NOTIFY=%s", m->rcpt[i], m->notify);
	return send_fmt(s, SMTP_ST_RCPT, r, "RCPT TO:<%s>", m->rcpt[i]);
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
	if (send_line(s, SMTP_ST_END, ".", 1, NULL, &ignored) == 0 && flush(s, &ignored) == 0)
		read_reply(s, SMTP_ST_END, &ignored, NULL);
}

/* session_lost - the transaction died with the connection */
static enum smtp_verdict session_lost(struct smtp_result *res, const struct smtp_reply *why)
{
	res->tx = *why;
	res->session_lost = true;
	return SMTP_TEMP;
}

/* envelope_serial - MAIL, each RCPT, DATA, one round trip each */
static enum smtp_verdict envelope_serial(struct smtp_session *s, const struct smtp_message *m,
					 struct smtp_result *res, bool *go)
{
	struct smtp_reply r;
	if (put_mail(s, m, &r) < 0 || flush(s, &r) < 0 || read_reply(s, SMTP_ST_MAIL, &r, NULL) < 0 ||
	    s->lost)
		return session_lost(res, &r);
	if (r.code < 200 || r.code > 299) {
		res->tx = r;
		return failed(&r);
	}
	for (size_t i = 0; i < m->nrcpt; i++) {
		struct smtp_reply *rr = &res->rcpt[i];
		if (put_rcpt(s, m, i, rr) < 0 || flush(s, rr) < 0 ||
		    read_reply(s, SMTP_ST_RCPT, rr, NULL) < 0 || s->lost)
			return session_lost(res, rr);
	}
	if (count_ok(m, res) == 0)
		return rcpt_failure(m, res);
	if (command(s, SMTP_ST_DATA, &r, NULL, "DATA") < 0 || s->lost)
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
	io_set_timeout(s->io, step_timeout(s, SMTP_ST_BODY));
	for (;;) {
		ssize_t n = pread(m->data_fd, in, SMTP_READ_BLOCK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_text(r, "cannot read the message data: %s", strerror(errno));
			s->lost = true;
			return -1;
		}
		if (n == 0)
			break;
		size_t k = stuff ? smtp_stuff(&st, in, (size_t)n, out) : (size_t)n;
		if (io_write(s->io, stuff ? out : in, k) < 0)
			return lose(s, r, "sending");
		tail[0] = n >= 2 ? in[n - 2] : tail[1];
		tail[1] = in[n - 1];
		off += n;
		*total += k;
	}
	if (tail[0] != '\r' || tail[1] != '\n') {
		if (io_write(s->io, "\r\n", 2) < 0)
			return lose(s, r, "sending");
		*total += 2;
	}
	int w = snprintf(note, sizeof note, "<%llu bytes of message data>", *total);
	if (w > 0 && (size_t)w < sizeof note)
		log_transcript('>', note, (size_t)w);
	return 0;
}

/*
 * quit_along - with the last message, QUIT rides in the same write as the
 * end of its data: one turn less, and the 221 is never waited for
 */
static int quit_along(struct smtp_session *s, const struct smtp_message *m, struct smtp_reply *r)
{
	if (!m->last)
		return 0;
	s->quit_sent = true;
	return send_line(s, SMTP_ST_QUIT, "QUIT", 4, NULL, r);
}

/* send_data - after 354: the stuffed message, then "." and its reply */
static enum smtp_verdict send_data(struct smtp_session *s, const struct smtp_message *m,
				   struct smtp_result *res)
{
	unsigned long long total;
	if (stream_data(s, m, true, &total, &res->tx) < 0 ||
	    send_line(s, SMTP_ST_END, ".", 1, NULL, &res->tx) < 0 ||
	    quit_along(s, m, &res->tx) < 0 || flush(s, &res->tx) < 0 ||
	    read_reply(s, SMTP_ST_END, &res->tx, NULL) < 0)
		return session_lost(res, &res->tx);
	res->session_lost = s->lost;
	return res->tx.code == 250 ? SMTP_OK : failed(&res->tx);
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
		set_text(r, "cannot read the message data: %s", strerror(errno));
		s->lost = true;		/* MAIL and RCPT are queued: this transaction cannot go on */
		return -1;
	}
	if (send_fmt(s, SMTP_ST_DATA, r, "BDAT %llu LAST", len) < 0 ||
	    stream_data(s, m, false, &total, r) < 0)
		return -1;
	if (total != len) {
		s->lost = true;		/* the file changed under us: the chunk is now wrong */
		set_text(r, "message data changed while it was sent");
		return -1;
	}
	return 0;
}

/*
 * pipelined - MAIL, every RCPT and DATA in one write (or, with CHUNKING,
 * "BDAT n LAST" and the data itself), then the replies in order. *go: DATA
 * got its 354 and the data is to follow.
 */
static enum smtp_verdict pipelined(struct smtp_session *s, const struct smtp_message *m,
				   struct smtp_result *res, bool *go)
{
	struct smtp_reply mail, last;
	bool bdat = s->ext.chunking;
	int e = put_mail(s, m, &mail);
	for (size_t i = 0; e == 0 && i < m->nrcpt; i++)
		e = put_rcpt(s, m, i, &mail);
	if (e == 0)
		e = bdat ? put_bdat(s, m, &mail) : send_line(s, SMTP_ST_DATA, "DATA", 4, NULL, &mail);
	if (e == 0 && bdat)
		e = quit_along(s, m, &mail);
	if (e < 0 || flush(s, &mail) < 0 || read_reply(s, SMTP_ST_MAIL, &mail, NULL) < 0 ||
	    s->lost)
		return session_lost(res, &mail);
	for (size_t i = 0; i < m->nrcpt; i++)
		if (read_reply(s, SMTP_ST_RCPT, &res->rcpt[i], NULL) < 0 || s->lost)
			return session_lost(res, &res->rcpt[i]);
	if (read_reply(s, bdat ? SMTP_ST_END : SMTP_ST_DATA, &last, NULL) < 0 || s->lost)
		return session_lost(res, &last);
	bool mail_ok = mail.code >= 200 && mail.code <= 299;
	if (!mail_ok || count_ok(m, res) == 0) {
		if (last.code == 354)
			end_empty(s);	/* DATA went out with the rest: close it empty */
		if (mail_ok)
			return rcpt_failure(m, res);
		/* the RCPT replies only echo the MAIL failure: not the recipients' fault */
		for (size_t i = 0; i < m->nrcpt; i++)
			set_text(&res->rcpt[i], "not attempted: MAIL FROM failed");
		res->tx = mail;
		return failed(&mail);
	}
	res->tx = last;
	if (bdat)
		return last.code == 250 ? SMTP_OK : failed(&last);
	*go = last.code == 354;
	return failed(&last);
}

/* smtp_send - one transaction; see smtp.h */
enum smtp_verdict smtp_send(struct smtp_session *s, const struct smtp_message *m,
			    struct smtp_result *res)
{
	bool go = false;
	memset(&res->tx, 0, sizeof res->tx);
	res->session_lost = false;
	for (size_t i = 0; i < m->nrcpt; i++)
		set_text(&res->rcpt[i], "not attempted");
	if (s->lost) {
		set_text(&res->tx, "the session with %s was lost", io_peer(s->io));
		res->session_lost = true;
		return SMTP_TEMP;
	}
	if (check_message(s, m, &res->tx) < 0)
		return SMTP_PERM;
	enum smtp_verdict v = s->ext.pipelining ? pipelined(s, m, res, &go)
						: envelope_serial(s, m, res, &go);
	if (!go)
		return v;
	return send_data(s, m, res);
}

/* smtp_reset - RSET; a session that cannot even do that is given up */
int smtp_reset(struct smtp_session *s)
{
	struct smtp_reply r;
	if (s->lost)
		return -1;
	if (command(s, SMTP_ST_RSET, &r, NULL, "RSET") < 0 || r.code != 250) {
		s->lost = true;
		return -1;
	}
	return 0;
}

/* smtp_close - QUIT without waiting, then free */
void smtp_close(struct smtp_session *s)
{
	if (s != NULL)
		session_free(s);
}
