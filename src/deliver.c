/* deliver - one message or a whole queue run through the smarthost; see deliver.h */
#include "deliver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dsn.h"
#include "log.h"
#include "oauth2.h"
#include "secret.h"
#include "tlscache.h"

/* a secret (password or token) is never longer than this */
#define SECRET_MAX 65536

/* one attempt's bookkeeping, per recipient still to do */
struct attempt {
	size_t n;			/* recipients tried */
	size_t *idx;			/* their index in m->rcpt */
	const char **addr;
	struct smtp_reply *reply;	/* each one's reply (or the deciding one) */
	enum smtp_verdict *verdict;
	bool tx_refused;		/* MAIL, DATA or end of data refused for good */
};

struct run;

/*
 * flight - one message of a queue run on its way. Its transaction may be
 * left open on the session while the next message's goes out behind it;
 * msg and res are what the session reads and fills meanwhile, and
 * res.state says where it stands (smtp.h). A flight lives in the
 * deliverer's hangar, its one owner: at most two are ever in use, the one
 * left open and the one going out behind it.
 */
struct flight {
	bool in_use;
	struct queue_msg m;		/* locked; released when it lands */
	struct attempt a;
	struct smtp_message msg;
	struct smtp_result res;
	struct run *run;		/* where its outcome is counted */
};

struct deliver {
	const struct conf *conf;
	struct queue *queue;
	struct smtp_session *session;	/* NULL until needed, or after it was lost */
	bool session_failed;		/* a connect failed in this run: don't retry per message */
	struct smtp_reply session_error;
	struct buf secret;
	bool have_secret;
	struct tlscache tls;		/* sessions saved in the spool: resumed, not renegotiated */
	bool last;			/* the next message is the session's last */
	struct flight hangar[2];	/* queue runs: the messages on their way (see struct flight) */
	struct flight *open;		/* the one in the hangar whose transaction is open, or NULL */
	char relay[300];		/* host[address]:port of the last session, for the log */
	bool throttled;			/* the smarthost asked us to slow down: the run is over */
	char throttle[SMTP_TEXT_MAX + 64];	/* its reply, for the log and mailq */
	time_t throttle_until;		/* when the messages not tried are due again */
	bool swept;			/* the spool's clean-up ran (deliver_queue, first run) */
};

/* deliver_new - empty deliverer */
struct deliver *deliver_new(const struct conf *c, struct queue *q)
{
	struct deliver *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->conf = c;
	d->queue = q;
	buf_init(&d->secret, SECRET_MAX);
	tlscache_open(&d->tls, queue_private_dir(q, QUEUE_PRIVATE_TLS));
	return d;
}

/* deliver_free - end the session and forget the secret */
void deliver_free(struct deliver *d)
{
	if (d == NULL)
		return;
	if (d->session != NULL)
		smtp_close(d->session);
	buf_wipe(&d->secret);
	tlscache_close(&d->tls);
	free(d);
}

/* set_reply - fill a reply of our own making (code 0: no server reply) */
static void set_reply(struct smtp_reply *r, int code, const char *enhanced, const char *text)
{
	r->code = code;
	if (snprintf(r->enhanced, sizeof r->enhanced, "%s", enhanced) < 0)
		r->enhanced[0] = '\0';
	log_printable(text, strlen(text), r->text, sizeof r->text);
}

/*
 * fetch_secret - the [auth] secret, once per process: the built-in OAuth2
 * exchange's access token (refresh: not the cached one), or secret_fetch's
 */
static int fetch_secret(struct deliver *d, bool refresh, struct smtp_reply *why)
{
	char err[512];
	if (d->have_secret)
		return 0;
	int r;
	if (oauth2_configured(d->conf)) {
		int dirfd = queue_private_dir(d->queue, QUEUE_PRIVATE_OAUTH2);
		r = oauth2_fetch(d->conf, dirfd, refresh, &d->secret, err, sizeof err);
		if (dirfd >= 0)
			close(dirfd);
	} else {
		r = secret_fetch(d->conf, &d->secret, err, sizeof err);
	}
	if (r < 0) {
		set_reply(why, 0, "", err);
		return -1;
	}
	d->have_secret = true;
	return 0;
}

/* deliver_smtp_params - the SMTP session's parameters from the configuration; see deliver.h */
void deliver_smtp_params(const struct conf *c, struct smtp_params *p)
{
	bool auth = c->auth.user != NULL && c->auth.mechanism != CONF_MECH_NONE;
	*p = (struct smtp_params){
		.host = c->smarthost.host,
		.port = c->smarthost.port,
		.helo = c->smarthost.helo,
		.timeout = c->smarthost.timeout,
		.tls = c->smarthost.tls,
		.tls_settings = {
			.verify = c->smarthost.tls_verify,
			.ca_file = c->smarthost.tls_ca_file,
			.fingerprint = c->smarthost.tls_fingerprint,
			.cert_file = c->smarthost.tls_cert_file,
			.key_file = c->smarthost.tls_key_file,
			.min_version = c->smarthost.tls_min_version,
			.ciphers = c->smarthost.tls_ciphers,
			.ciphersuites = c->smarthost.tls_ciphersuites,
		},
		.mechanism = auth ? c->auth.mechanism : CONF_MECH_NONE,
		.user = auth ? c->auth.user : NULL,
		/* the -v transcript only: without it nothing is formatted for it */
		.trace = { log_verbose() ? log_trace_wire : NULL, NULL },
	};
}

/* open_session - connect, greet and authenticate with the secret at hand */
static void open_session(struct deliver *d, struct smtp_reply *why)
{
	struct smtp_params cfg;
	deliver_smtp_params(d->conf, &cfg);
	cfg.secret = cfg.user != NULL ? buf_cstr(&d->secret) : NULL;
	cfg.tls_settings.cache = &d->tls.hooks;
	d->relay[0] = '\0';
	d->session = smtp_open(&cfg, why);
	if (d->session != NULL &&
	    snprintf(d->relay, sizeof d->relay, "%s", smtp_peer(d->session)) < 0)
		d->relay[0] = '\0';
}

/* oauth2_token_refused - the smarthost turned the access token down (535, 334 error) */
static bool oauth2_token_refused(const struct smtp_reply *why)
{
	return why->code == 535 || why->code == 334 ||
	       strcmp(why->enhanced, "5.7.8") == 0 || strcmp(why->enhanced, "5.7.9") == 0;
}

/* session - the open session, opening it when needed; NULL with why */
static struct smtp_session *session(struct deliver *d, struct smtp_reply *why)
{
	if (d->session != NULL)
		return d->session;
	if (d->session_failed) {
		*why = d->session_error;
		return NULL;
	}
	bool oauth2 = oauth2_configured(d->conf);
	int r = fetch_secret(d, false, why);
	if (r == 0)
		open_session(d, why);
	if (r == 0 && d->session == NULL && oauth2 && oauth2_token_refused(why)) {
		/* the cached token was revoked or expired early: one fresh one, once */
		buf_wipe(&d->secret);
		d->have_secret = false;
		r = fetch_secret(d, true, why);
		if (r == 0)
			open_session(d, why);
	}
	if (d->session == NULL && (r == 0 || oauth2)) {
		/* one failed connect (or token request) per run is enough to defer the rest */
		d->session_failed = true;
		d->session_error = *why;
	}
	return d->session;
}

/* deliver_set_last - the next message ends the session (QUIT rides along) */
void deliver_set_last(struct deliver *d)
{
	d->last = true;
}

/* drop_session - forget a session the smarthost no longer serves */
static void drop_session(struct deliver *d)
{
	if (d->session != NULL)
		smtp_close(d->session);
	d->session = NULL;
}

/* deliver_describe - "250 2.0.0 text" for logs, errors and the queue's reason line */
void deliver_describe(const struct smtp_reply *r, char *out, size_t outlen)
{
	int n;
	if (r->code == 0)
		n = snprintf(out, outlen, "%s", r->text);
	else if (r->enhanced[0] != '\0')
		n = snprintf(out, outlen, "%d %s %s", r->code, r->enhanced, r->text);
	else
		n = snprintf(out, outlen, "%d %s", r->code, r->text);
	if (n < 0 && outlen > 0)
		out[0] = '\0';
}

/* log_outcome - one log line for the recipients of m that share an outcome */
static void log_outcome(const struct deliver *d, const struct queue_msg *m, unsigned attempts,
			const bool *pick, const char *status, const struct smtp_reply *r)
{
	struct buf to;
	char why[SMTP_TEXT_MAX + 32];
	buf_init(&to, 8192);
	for (size_t i = 0; i < m->nrcpt; i++) {
		if (!pick[i])
			continue;
		if (buf_printf(&to, "%s<%s>", to.len ? "," : "", m->rcpt[i]) < 0) {
			buf_puts(&to, ",...");
			break;
		}
	}
	if (to.len == 0) {
		buf_free(&to);
		return;
	}
	deliver_describe(r, why, sizeof why);
	const char *relay = d->relay[0] != '\0' ? d->relay : d->conf->smarthost.host;
	log_event("%s: from=<%s>, to=%s, size=%llu, relay=%s, delay=%lld, attempts=%u, status=%s (%s)",
		  m->id, m->sender, buf_cstr(&to), m->size, relay,
		  (long long)(time(NULL) - m->arrival), attempts, status, why);
	buf_free(&to);
}

/* attempt_alloc - arrays for m's recipients not done yet; -1 on ENOMEM */
static int attempt_alloc(struct attempt *a, const struct queue_msg *m)
{
	size_t n = m->nrcpt ? m->nrcpt : 1;
	a->n = 0;
	a->tx_refused = false;
	a->idx = calloc(n, sizeof *a->idx);
	a->addr = calloc(n, sizeof *a->addr);
	a->reply = calloc(n, sizeof *a->reply);
	a->verdict = calloc(n, sizeof *a->verdict);
	if (a->idx == NULL || a->addr == NULL || a->reply == NULL || a->verdict == NULL)
		return -1;
	for (size_t i = 0; i < m->nrcpt; i++) {
		if (m->rcpt_done[i])
			continue;
		a->idx[a->n] = i;
		a->addr[a->n] = m->rcpt[i];
		a->n++;
	}
	return 0;
}

/* attempt_free - release the arrays */
static void attempt_free(struct attempt *a)
{
	free(a->idx);
	free(a->addr);
	free(a->reply);
	free(a->verdict);
}

/* message_of - the SMTP transaction for m's recipients still to do (a) */
static struct smtp_message message_of(const struct queue_msg *m, const struct attempt *a)
{
	return (struct smtp_message){
		.sender = m->sender, .rcpt = a->addr, .nrcpt = a->n,
		.size = m->size, .eightbit = m->eightbit,
		.notify = m->notify, .ret = m->ret, .envid = m->envid,
		.data_fd = m->fd, .data_off = m->data_off,
	};
}

/*
 * judge - each recipient's verdict: its own reply when the transaction
 * went through, else the transaction's (v, tx), except for those already
 * refused for good one by one
 */
static void judge(struct attempt *a, enum smtp_verdict v, const struct smtp_reply *tx)
{
	for (size_t j = 0; j < a->n; j++) {
		enum smtp_verdict own = smtp_reply_verdict(&a->reply[j]);
		if (v == SMTP_OK) {
			a->verdict[j] = own;
		} else if (own == SMTP_PERM && a->reply[j].code != 503) {
			a->verdict[j] = SMTP_PERM;	/* refused on its own, before the failure */
		} else {
			a->verdict[j] = v;
			a->reply[j] = *tx;
			a->tx_refused = a->tx_refused || v == SMTP_PERM;
		}
	}
}

/*
 * transact - one SMTP transaction for the recipients in a, to its end;
 * fills each recipient's verdict and reply (see judge).
 */
static void transact(struct deliver *d, const struct queue_msg *m, struct attempt *a,
		     struct smtp_reply *tx)
{
	struct smtp_result res = { .rcpt = a->reply };
	enum smtp_verdict v;
	struct smtp_session *s = session(d, tx);
	if (s == NULL) {
		v = SMTP_TEMP;
	} else {
		struct smtp_message msg = message_of(m, a);
		msg.then = d->last ? SMTP_THEN_QUIT : SMTP_THEN_DECIDE;
		v = smtp_send(s, &msg, &res);
		*tx = res.tx;
		if (smtp_tx_lost(res.state) || d->last || (v != SMTP_OK && smtp_reset(s) < 0))
			drop_session(d);
	}
	judge(a, v, tx);
}

/* bounce_rejected - queue a DSN for the recipients refused in this attempt */
static void bounce_rejected(struct deliver *d, const struct queue_msg *m, const struct attempt *a)
{
	struct dsn_rcpt *f = calloc(a->n ? a->n : 1, sizeof *f);
	size_t nf = 0;
	char id[QUEUE_ID_LEN + 1], err[512];
	if (f == NULL) {
		log_event("%s: cannot bounce: out of memory", m->id);
		return;
	}
	for (size_t j = 0; j < a->n; j++) {
		if (a->verdict[j] != SMTP_PERM)
			continue;
		f[nf].addr = a->addr[j];
		f[nf].reply = a->reply[j];
		f[nf].remote_mta = d->conf->smarthost.host;
		nf++;
	}
	int r = nf ? dsn_bounce(d->queue, d->conf, m, f, nf, time(NULL), id, err, sizeof err) : 1;
	if (r < 0)
		log_event("%s: cannot queue the bounce: %s", m->id, err);
	else if (r == 0)
		log_event("%s: sender non-delivery notification: %s", m->id, id);
	free(f);
}

/* log_attempt - the attempt's log lines: sent, deferred, then each refusal */
static void log_attempt(const struct deliver *d, const struct queue_msg *m,
			const struct attempt *a, const struct smtp_reply *tx)
{
	bool *pick = calloc(m->nrcpt ? m->nrcpt : 1, sizeof *pick);
	if (pick == NULL)
		return;
	const struct smtp_reply *deferred_reason = tx;
	for (int pass = 0; pass < 2; pass++) {
		enum smtp_verdict want = pass == 0 ? SMTP_OK : SMTP_TEMP;
		memset(pick, 0, m->nrcpt * sizeof *pick);
		for (size_t j = 0; j < a->n; j++) {
			if (a->verdict[j] == want) {
				pick[a->idx[j]] = true;
				if (want == SMTP_TEMP)
					deferred_reason = &a->reply[j];
			}
		}
		log_outcome(d, m, m->attempts + 1, pick, pass == 0 ? "sent" : "deferred",
			    pass == 0 ? tx : deferred_reason);
	}
	for (size_t j = 0; j < a->n; j++) {
		if (a->verdict[j] != SMTP_PERM)
			continue;
		memset(pick, 0, m->nrcpt * sizeof *pick);
		pick[a->idx[j]] = true;
		log_outcome(d, m, m->attempts + 1, pick, "bounced", &a->reply[j]);
	}
	free(pick);
}

/* tally - count the outcomes into rep and mark handled recipients done */
static void tally(struct queue_msg *m, const struct attempt *a, const struct smtp_reply *tx,
		  struct deliver_report *rep)
{
	const struct smtp_reply *worst = NULL;
	for (size_t j = 0; j < a->n; j++) {
		switch (a->verdict[j]) {
		case SMTP_OK:
			rep->sent++;
			m->rcpt_done[a->idx[j]] = true;
			break;
		case SMTP_PERM:
			if (rep->rejected++ == 0) {
				worst = &a->reply[j];
				if (snprintf(rep->refused, sizeof rep->refused, "%s", a->addr[j]) < 0)
					rep->refused[0] = '\0';
			}
			m->rcpt_done[a->idx[j]] = true;
			break;
		case SMTP_TEMP:
			if (rep->deferred++ == 0 && worst == NULL)
				worst = &a->reply[j];
			break;
		}
	}
	rep->tx_rejected = a->tx_refused;
	rep->reason = worst != NULL ? *worst : *tx;
}

/* next_retry - when m is due again after one more failed attempt */
static time_t next_retry(const struct deliver *d, const struct queue_msg *m)
{
	return time(NULL) + queue_retry_delay(m->attempts + 1, d->conf->queue.retry_min,
					      d->conf->queue.retry_max);
}

/* settle - record m's fate in the queue after an attempt; m is released */
static int settle(struct deliver *d, struct queue_msg *m, const struct deliver_report *rep)
{
	char why[SMTP_TEXT_MAX + 32];
	deliver_describe(&rep->reason, why, sizeof why);
	if (rep->deferred > 0)
		return queue_defer(d->queue, m, why, next_retry(d, m));
	if (rep->rejected > 0)
		return queue_fail(d->queue, m, why);
	return queue_done(d->queue, m);
}

/*
 * conclude - after the attempt a at m (judged, tx the deciding reply): log
 * it, count it into rep, bounce what was refused, record m's fate (m is
 * released, a freed)
 */
static int conclude(struct deliver *d, struct queue_msg *m, struct attempt *a,
		    const struct smtp_reply *tx, enum deliver_bounce bounce,
		    struct deliver_report *rep)
{
	memset(rep, 0, sizeof *rep);
	if (a->n > 0)
		log_attempt(d, m, a, tx);
	tally(m, a, tx, rep);
	bool everyone_refused = rep->sent == 0 && rep->deferred == 0;
	if (rep->rejected > 0 && (bounce == DELIVER_BOUNCE_ALWAYS ||
				  (bounce == DELIVER_BOUNCE_PARTIAL && !everyone_refused)))
		bounce_rejected(d, m, a);
	attempt_free(a);
	return settle(d, m, rep);
}

/* deliver_message - one attempt at m, then its fate recorded */
int deliver_message(struct deliver *d, struct queue_msg *m, enum deliver_bounce bounce,
		    struct deliver_report *rep)
{
	struct attempt a;
	struct smtp_reply tx;
	memset(&tx, 0, sizeof tx);
	if (attempt_alloc(&a, m) < 0) {
		attempt_free(&a);
		memset(rep, 0, sizeof *rep);
		set_reply(&rep->reason, 0, "", "out of memory");
		rep->deferred = 1;
		queue_release(m);	/* still queued, untouched */
		return 0;
	}
	if (a.n > 0)
		transact(d, m, &a, &tx);
	return conclude(d, m, &a, &tx, bounce, rep);
}

/* what one queue walk did */
struct run {
	int left;		/* messages that left the queue (sent or bounced) */
	bool bounced;		/* a bounce to a sender was queued */
};

/*
 * throttling - a reply that asks the client to slow down: 421 (the server
 * is closing the session), or a temporary 4.7.x (rate or policy limit) or
 * 4.3.2 (too many connections) to MAIL, RCPT or DATA
 */
static bool throttling(const struct smtp_reply *r)
{
	return r->code == 421 || (r->code >= 400 && r->code < 500 &&
				  (strncmp(r->enhanced, "4.7.", 4) == 0 ||
				   strcmp(r->enhanced, "4.3.2") == 0));
}

/*
 * note_throttle - after the attempt a at m: did the smarthost throttle?
 * Then the run is over; what it has not tried waits as long as m does.
 */
static void note_throttle(struct deliver *d, const struct queue_msg *m, const struct attempt *a,
			  const struct smtp_reply *tx)
{
	const struct smtp_reply *r = throttling(tx) ? tx : NULL;
	for (size_t j = 0; r == NULL && j < a->n; j++)
		if (a->verdict[j] == SMTP_TEMP && throttling(&a->reply[j]))
			r = &a->reply[j];
	if (r == NULL || d->throttled)
		return;
	char why[SMTP_TEXT_MAX + 32];
	deliver_describe(r, why, sizeof why);
	if (snprintf(d->throttle, sizeof d->throttle, "not tried: the smarthost throttled (%s)",
		     why) < 0)
		d->throttle[0] = '\0';
	d->throttled = true;
	d->throttle_until = next_retry(d, m);
	log_event("queue run stopped: the smarthost %s throttled: %s",
		  d->relay[0] != '\0' ? d->relay : d->conf->smarthost.host, why);
}

/* deliver_throttled - did the smarthost throttle this deliverer's run? */
bool deliver_throttled(const struct deliver *d)
{
	return d->throttled;
}

/* postpone - a throttled run leaves m for later: reason and due time, no attempt counted */
static void postpone(struct deliver *d, struct queue_msg *m)
{
	bool *all = calloc(m->nrcpt ? m->nrcpt : 1, sizeof *all);
	struct smtp_reply r;
	set_reply(&r, 0, "", d->throttle);
	for (size_t i = 0; all != NULL && i < m->nrcpt; i++)
		all[i] = !m->rcpt_done[i];
	if (all != NULL)
		log_outcome(d, m, m->attempts, all, "deferred", &r);
	free(all);
	(void)queue_postpone(d->queue, m, d->throttle, d->throttle_until);	/* logs its own error */
}

/* land - f's transaction is decided (v, tx): judge, conclude, count; f's hangar slot freed */
static void land(struct deliver *d, struct flight *f, enum smtp_verdict v,
		 const struct smtp_reply *tx)
{
	struct deliver_report rep;
	judge(&f->a, v, tx);
	note_throttle(d, &f->m, &f->a, tx);
	if (conclude(d, &f->m, &f->a, tx, DELIVER_BOUNCE_ALWAYS, &rep) == 0) {
		f->run->left += rep.deferred == 0;
		f->run->bounced = f->run->bounced || (rep.rejected > 0 && rep.deferred == 0);
	}
	f->in_use = false;
}

/* ground - a throttled run keeps f for later, never tried; f's hangar slot freed */
static void ground(struct deliver *d, struct flight *f)
{
	postpone(d, &f->m);
	attempt_free(&f->a);
	f->in_use = false;
}

/*
 * take_off - start f's transaction over the run's session, behind the one
 * still open (whose data goes out in the same write as f's envelope);
 * then land whatever got decided: the open one, and f unless it is left
 * open in its turn (d->open). When the session died before f's turn
 * (untried), f goes again on a new session, as if never tried: at most
 * once, since nothing is open on a new session.
 */
static void take_off(struct deliver *d, struct flight *f)
{
	for (;;) {
		struct flight *prev = d->open;
		struct smtp_session *s = session(d, &f->res.tx);
		d->open = NULL;
		if (s == NULL) {	/* never with prev: an open transaction keeps its session */
			land(d, f, SMTP_TEMP, &f->res.tx);
			return;
		}
		enum smtp_verdict v = smtp_send(s, &f->msg, &f->res);
		if (prev != NULL && prev->res.state == SMTP_TX_OPEN)
			d->open = prev;		/* f was refused before MAIL: nothing went out */
		else if (prev != NULL)
			land(d, prev, prev->res.verdict, &prev->res.tx);
		switch (f->res.state) {
		case SMTP_TX_OPEN:
			d->open = f;
			return;
		case SMTP_TX_UNTRIED:
			drop_session(d);
			if (!d->throttled)
				continue;	/* f is as it was: a new session tries it */
			ground(d, f);
			return;
		case SMTP_TX_LOST:
			drop_session(d);
			land(d, f, v, &f->res.tx);
			return;
		case SMTP_TX_DECIDED:
			if (v != SMTP_OK && smtp_reset(s) < 0)
				drop_session(d);
			land(d, f, v, &f->res.tx);
			return;
		}
		return;
	}
}

/* land_open - the walk is over: finish the transaction still open and land it */
static void land_open(struct deliver *d)
{
	struct flight *f = d->open;
	if (f == NULL)
		return;
	d->open = NULL;
	enum smtp_verdict v = smtp_finish(d->session);
	if (smtp_tx_lost(f->res.state))
		drop_session(d);
	land(d, f, v, &f->res.tx);
}

/* fly - queue runs: the locked m on its way (pipelined) in a free hangar slot; m is taken over */
static void fly(struct deliver *d, struct queue_msg *m, struct run *run)
{
	struct flight *f = &d->hangar[0];
	if (f->in_use)
		f = &d->hangar[1];	/* the other is the open one: never both in use here */
	memset(f, 0, sizeof *f);
	f->in_use = true;
	f->m = *m;
	f->run = run;
	if (attempt_alloc(&f->a, &f->m) < 0) {
		attempt_free(&f->a);
		queue_release(&f->m);	/* still queued, untouched */
		f->in_use = false;
		return;
	}
	f->msg = message_of(&f->m, &f->a);
	f->msg.then = SMTP_THEN_PIPELINE;
	f->res.rcpt = f->a.reply;
	if (f->a.n == 0)
		land(d, f, SMTP_OK, &f->res.tx);	/* nothing left to send: done */
	else
		take_off(d, f);
}

/* expire - m outlived max_age: bounce every recipient left, move to failed/ */
static int expire(struct deliver *d, struct queue_msg *m)
{
	struct attempt a;
	char text[SMTP_TEXT_MAX];
	int r = -1;
	if (attempt_alloc(&a, m) == 0) {
		if (snprintf(text, sizeof text, "message expired after %lld seconds in the queue; last error: %s",
			     (long long)(time(NULL) - m->arrival),
			     m->last_error != NULL ? m->last_error : "none") < 0)
			text[0] = '\0';
		for (size_t j = 0; j < a.n; j++) {
			a.verdict[j] = SMTP_PERM;
			set_reply(&a.reply[j], 0, "4.4.7", text);
		}
		log_attempt(d, m, &a, &a.reply[0]);
		bounce_rejected(d, m, &a);
		r = queue_fail(d->queue, m, text);
	} else {
		queue_release(m);
	}
	attempt_free(&a);
	return r;
}

/* the ids of one queue walk */
struct idlist {
	char (*id)[QUEUE_ID_LEN + 1];
	size_t n, cap;
};

/* collect - queue_walk callback: remember one id */
static int collect(void *ctx, const char *id)
{
	struct idlist *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->id, cap * sizeof *l->id);
		if (p == NULL)
			return -1;
		l->id = p;
		l->cap = cap;
	}
	if (snprintf(l->id[l->n], sizeof l->id[l->n], "%s", id) != QUEUE_ID_LEN)
		return 0;
	l->n++;
	return 0;
}

/* selected - does the run's selection take m? */
static bool selected(const struct deliver_select *sel, const struct queue_msg *m)
{
	if (sel->id != NULL && strncmp(m->id, sel->id, strlen(sel->id)) != 0)
		return false;
	if (sel->domain == NULL)
		return true;
	size_t dl = strlen(sel->domain);
	for (size_t i = 0; i < m->nrcpt; i++) {
		const char *at = strrchr(m->rcpt[i], '@');
		if (!m->rcpt_done[i] && at != NULL && strlen(at + 1) == dl &&
		    strcasecmp(at + 1, sel->domain) == 0)
			return true;
	}
	return false;
}

/* run_one - lock, select, expire or send one message; the outcome counted in run */
static void run_one(struct deliver *d, const struct deliver_select *sel, const char *id,
		    struct run *run)
{
	struct queue_msg m;
	char err[512];
	enum queue_lock_result lr = queue_lock(d->queue, id, &m, err, sizeof err);
	if (lr == QUEUE_ERROR)
		log_event("%s: cannot read queue file: %s", id, err);
	if (lr == QUEUE_FOREIGN && sel->id != NULL)
		log_info("%s: another user's message: root's queue runs deliver it", id);
	if (lr != QUEUE_LOCKED)
		return;
	time_t now = time(NULL);
	if (!selected(sel, &m)) {
		queue_release(&m);
		return;
	}
	if (d->conf->queue.max_age > 0 && now - m.arrival > (time_t)d->conf->queue.max_age) {
		run->bounced = run->bounced || m.sender[0] != '\0';
		run->left += expire(d, &m) == 0;
		return;
	}
	if (!sel->force && m.next_try > now) {
		queue_release(&m);
		return;
	}
	if (d->throttled) {
		postpone(d, &m);
		return;
	}
	fly(d, &m, run);
}

/* seen - was id in the first round's list? */
static bool seen(const struct idlist *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->id[i], id) == 0)
			return true;
	return false;
}

/* deliver_queue - one queue run; bounces it creates go out in the same run */
int deliver_queue(struct deliver *d, const struct deliver_select *sel)
{
	struct idlist first = { 0 }, again = { 0 };
	struct run run = { 0 }, bounces = { 0 };
	if (!d->swept) {	/* once per deliverer: a runner's later looks need not */
		queue_sweep(d->queue, d->conf->queue.keep_failed);
		d->swept = true;
	}
	if (queue_walk(d->queue, collect, &first) < 0) {
		free(first.id);
		return -1;
	}
	for (size_t i = 0; i < first.n; i++)
		run_one(d, sel, first.id[i], &run);
	land_open(d);
	/* a second look for the bounces this run queued, and only for them */
	if (run.bounced && sel->id == NULL && sel->domain == NULL &&
	    queue_walk(d->queue, collect, &again) == 0) {
		for (size_t i = 0; i < again.n; i++)
			if (!seen(&first, again.id[i]))
				run_one(d, sel, again.id[i], &bounces);
		land_open(d);
	}
	free(first.id);
	free(again.id);
	return run.left + bounces.left;
}
