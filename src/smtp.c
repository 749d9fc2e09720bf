/* smtp - the SMTP client over an io; see smtp.h */
#include "smtp.h"
#include "smtp_session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "io.h"
#include "log.h"

#define SMTP_QUIT_TIMEOUT 5		/* QUIT is a courtesy: never wait long */

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

/* smtp_set_text - our own words into r (code 0: no server reply decided it) */
__attribute__((format(printf, 2, 3)))
void smtp_set_text(struct smtp_reply *r, const char *fmt, ...)
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

/* smtp_step_timeout - seconds allowed for a step; the end of data never under 10 min */
unsigned smtp_step_timeout(const struct smtp_session *s, enum smtp_state st)
{
	unsigned t = s->cfg.timeout;
	if (st == SMTP_ST_END)
		return t > 600 ? t : 600;
	if (st == SMTP_ST_QUIT)
		return SMTP_QUIT_TIMEOUT;
	return t != 0 ? t : smtp_states[st].timeout;
}

/* smtp_lose - the connection is unusable: say why in r */
int smtp_lose(struct smtp_session *s, struct smtp_reply *r, const char *doing)
{
	s->lost = true;
	smtp_set_text(r, "error with %s while %s %s: %s", io_peer(s->io), doing,
		      smtp_states[s->state].name, io_error(s->io));
	return -1;
}

/* smtp_send_line - queue one command; shown replaces it in the transcript (secrets) */
int smtp_send_line(struct smtp_session *s, enum smtp_state st, const char *line, size_t n,
		   const char *shown, struct smtp_reply *r)
{
	s->state = st;
	if (shown != NULL)
		log_trace_call(&s->cfg.trace, LOG_TRACE_SENT, shown, strlen(shown));
	else
		log_trace_call(&s->cfg.trace, LOG_TRACE_SENT, line, n);
	if (io_write(s->io, line, n) < 0 || io_write(s->io, "\r\n", 2) < 0)
		return smtp_lose(s, r, "sending");
	return 0;
}

/* vformat - queue one formatted command (never a secret) */
__attribute__((format(printf, 4, 0)))
static int vformat(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		   const char *fmt, va_list ap)
{
	buf_reset(&s->cmd);
	if (buf_vprintf(&s->cmd, fmt, ap) < 0) {
		smtp_set_text(r, "%s command too long", smtp_states[st].name);
		return -1;
	}
	return smtp_send_line(s, st, s->cmd.data, s->cmd.len, NULL, r);
}

/* smtp_send_fmt - vformat with arguments */
__attribute__((format(printf, 4, 5)))
int smtp_send_fmt(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vformat(s, st, r, fmt, ap);
	va_end(ap);
	return n;
}

/* smtp_flush - send what is queued, under the step's deadline */
int smtp_flush(struct smtp_session *s, struct smtp_reply *r)
{
	io_set_timeout(s->io, smtp_step_timeout(s, s->state));
	if (io_flush(s->io) < 0)
		return smtp_lose(s, r, "sending");
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

/* smtp_read_reply - the whole reply to step st into r; see smtp_session.h */
int smtp_read_reply(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		    void (*each)(struct smtp_session *, size_t, const char *, size_t))
{
	struct smtp_assembly a;
	s->state = st;
	io_set_timeout(s->io, smtp_step_timeout(s, st));
	smtp_reply_begin(&a, r);
	for (;;) {
		int got = io_read_line(s->io, &s->line);
		if (got == 0) {
			s->lost = true;
			smtp_set_text(r, "lost connection with %s while waiting for the %s reply",
				 io_peer(s->io), smtp_states[st].name);
			return -1;
		}
		if (got < 0)
			return smtp_lose(s, r, "waiting for the reply to");
		if (s->hide_auth && s->line.len > 4 && (s->line.data[0] == '2' || s->line.data[0] == '3')) {
			char shown[16] = "334 <redacted>";	/* SCRAM data is an offline attack's oracle */
			memcpy(shown, s->line.data, 4);
			log_trace_call(&s->cfg.trace, LOG_TRACE_RECEIVED, shown, strlen(shown));
		} else {
			log_trace_call(&s->cfg.trace, LOG_TRACE_RECEIVED, s->line.data, s->line.len);
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

/* smtp_command - send one command and read its reply (each: see smtp_read_reply) */
__attribute__((format(printf, 5, 6)))
int smtp_command(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		 void (*each)(struct smtp_session *, size_t, const char *, size_t),
		 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vformat(s, st, r, fmt, ap);
	va_end(ap);
	if (n < 0 || smtp_flush(s, r) < 0)
		return -1;
	return smtp_read_reply(s, st, r, each);
}

/* note_line - a greeting or EHLO line for the sendmail --check report, printable */
static void note_line(struct smtp_session *s, size_t index, const char *t, size_t n)
{
	char shown[IO_LINE_MAX + 1], line[IO_LINE_MAX + 64];
	(void)index;
	if (s->cfg.trace.fn == NULL)
		return;
	int k = snprintf(line, sizeof line, "%s: %s\n", smtp_states[s->state].name,
			 log_printable(t, n, shown, sizeof shown));
	if (k > 0)
		log_trace_call(&s->cfg.trace, LOG_TRACE_REPORT, line,
			       (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
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
	const char *helo = s->cfg.helo;
	const char *name = helo != NULL ? helo : "localhost";	/* conf promises one */
	memset(&s->ext, 0, sizeof s->ext);
	if (smtp_command(s, SMTP_ST_EHLO, why, ehlo_line, "EHLO %s", name) < 0)
		return -1;
	if (why->code == 250)
		return 0;
	memset(&s->ext, 0, sizeof s->ext);
	if (why->code < 500 || why->code > 599 || !helo_ok)
		return -1;
	if (smtp_command(s, SMTP_ST_HELO, why, NULL, "HELO %s", name) < 0)
		return -1;
	return why->code == 250 ? 0 : -1;
}

/* start_tls - the TLS handshake, with the prepared TLS settings */
static int start_tls(struct smtp_session *s, struct smtp_reply *why)
{
	struct tls_settings t = s->cfg.tls_settings;
	if (t.servername == NULL)
		t.servername = s->cfg.host;
	io_set_timeout(s->io, smtp_step_timeout(s, SMTP_ST_STARTTLS));
	if (io_start_tls(s->io, &t) < 0) {
		s->lost = true;
		smtp_set_text(why, "TLS with %s failed: %s", io_peer(s->io), io_error(s->io));
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
		smtp_set_text(why, "smarthost does not offer STARTTLS");
		return -1;
	}
	if (smtp_command(s, SMTP_ST_STARTTLS, why, NULL, "STARTTLS") < 0 || why->code != 220)
		return -1;
	if (io_pending(s->io) > 0) {
		/* those bytes would be taken as spoken inside TLS (CVE-2011-0411) */
		s->lost = true;
		smtp_set_text(why, "STARTTLS reply followed by unexpected data (injection attempt)");
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
	if (smtp_send_line(w->s, SMTP_ST_AUTH, line, n, shown, w->why) < 0)
		return -1;
	return smtp_flush(w->s, w->why);
}

/* wire_reply - auth_run's reply in: its code and first line's raw text */
static int wire_reply(void *ctx, int *code, const char **text, size_t *n)
{
	struct smtp_auth_wire *w = ctx;
	if (smtp_read_reply(w->s, SMTP_ST_AUTH, w->why, keep_first) < 0)
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
	/* conf allowed it only to loopback below 1024; a name must have led there too */
	if (!tls && !io_peer_is_loopback(s->io)) {
		smtp_set_text(why, "refusing to authenticate without TLS to a non-loopback host");
		return -1;
	}
	if (s->cfg.secret == NULL) {
		smtp_set_text(why, "no password or token to authenticate with");
		return -1;
	}
	const struct auth_mech *m = auth_choose(s->cfg.mechanism, s->ext.auth, err, sizeof err);
	if (m == NULL) {
		smtp_set_text(why, "%s", err);
		return -1;
	}
	if (auth_client_init(&c, m, s->cfg.user, s->cfg.secret, s->cfg.host, s->cfg.port) < 0) {
		smtp_set_text(why, "%s", c.error);
		auth_client_wipe(&c);
		return -1;
	}
	struct smtp_auth_wire ctx = { s, why };
	s->hide_auth = m->mech == CONF_MECH_SCRAM_SHA_256;
	struct auth_wire w = { &ctx, wire_send, wire_reply };
	enum auth_outcome o = auth_run(&c, &w);
	s->hide_auth = false;
	if (o == AUTH_FAILED)
		smtp_set_text(why, "authentication failed: %s", c.error);
	auth_client_wipe(&c);
	wipe_memory(&c, sizeof c);
	buf_wipe(&s->first);
	return o == AUTH_OK ? 0 : -1;
}

/*
 * session_free - close the connection (QUIT first when it is still sound;
 * never while a transaction is open: after a 354 a QUIT would be data, and
 * a message cut short is one the server must discard)
 */
static void session_free(struct smtp_session *s)
{
	if (s->io != NULL) {
		struct smtp_reply ignored;
		if (!s->lost && !s->quit_sent && s->open.m == NULL &&
		    smtp_send_line(s, SMTP_ST_QUIT, "QUIT", 4, NULL, &ignored) == 0)
			smtp_flush(s, &ignored);	/* no wait for 221: the mail is already safe */
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
	if (smtp_read_reply(s, SMTP_ST_GREETING, why, note_line) < 0 || why->code != 220)
		return -1;
	if (greet(s, s->cfg.tls == CONF_TLS_NONE && !need_auth, why) < 0)
		return -1;
	if (s->cfg.tls == CONF_TLS_STARTTLS && starttls(s, why) < 0)
		return -1;
	if (need_auth && authenticate(s, why) < 0)
		return -1;
	return 0;
}

/*
 * files_readable - every file TLS will need can be opened, checked before
 * the connection (relaymail.conf(5): "before any byte is sent"); OpenSSL
 * itself reads them only in the handshake, after EHLO and STARTTLS
 */
static int files_readable(const struct smtp_params *cfg, struct smtp_reply *why)
{
	const struct tls_settings *c = &cfg->tls_settings;
	const char *const keys[] = { "tls_ca_file", "tls_cert_file", "tls_key_file" };
	const char *const paths[] = { c->ca_file, c->cert_file, c->key_file };
	if (cfg->tls == CONF_TLS_NONE)
		return 0;
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		if (paths[i] == NULL)
			continue;
		/* a FIFO there would hang OpenSSL in the handshake: open_regular refuses it */
		int fd = open_regular(paths[i], NULL);
		if (fd == -2) {
			smtp_set_text(why, "[smarthost] %s %s: not a regular file", keys[i], paths[i]);
			return -1;
		}
		if (fd < 0) {
			smtp_set_text(why, "[smarthost] %s %s: cannot read: %s", keys[i], paths[i],
				      strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* smtp_open - connect and set up the session; see smtp.h */
struct smtp_session *smtp_open(const struct smtp_params *cfg, struct smtp_reply *why)
{
	char err[256];
	struct smtp_session *s = calloc(1, sizeof *s);
	memset(why, 0, sizeof *why);
	if (s == NULL || cfg->host == NULL) {
		smtp_set_text(why, s == NULL ? "out of memory" : "no smarthost configured");
		free(s);
		return NULL;
	}
	if (files_readable(cfg, why) < 0) {
		free(s);
		return NULL;
	}
	s->cfg = *cfg;
	buf_init(&s->line, IO_LINE_MAX + 2);
	buf_init(&s->cmd, 4096);
	buf_init(&s->first, IO_LINE_MAX + 2);
	s->block = malloc(3 * SMTP_READ_BLOCK);
	if (s->block == NULL) {
		smtp_set_text(why, "out of memory");
		session_free(s);
		return NULL;
	}
	s->state = SMTP_ST_CONNECT;
	s->io = io_connect(cfg->host, cfg->port, smtp_step_timeout(s, SMTP_ST_CONNECT), err, sizeof err);
	if (s->io == NULL) {
		smtp_set_text(why, "%s", err);
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

/* smtp_close - QUIT without waiting, then free */
void smtp_close(struct smtp_session *s)
{
	if (s != NULL)
		session_free(s);
}
