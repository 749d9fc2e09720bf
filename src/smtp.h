/*
 * smtp - the SMTP client: one session with the smarthost over an io.
 * Knows no OpenSSL (TLS is io's job) and no queue (deliver's job).
 *
 * A session: connect, greeting, EHLO (HELO only when EHLO is refused and
 * neither TLS nor AUTH is needed), STARTTLS when configured (never a
 * fallback to clear text; data pipelined ahead of the handshake aborts the
 * session), EHLO again, AUTH. Then any number of transactions (RSET
 * after a failed one), then QUIT. With PIPELINING, a queue run pipelines
 * one transaction into the next (RFC 2920): the next MAIL, RCPT and DATA
 * (or BDAT) go in the same write as the previous message's data, before
 * its end-of-data reply is read (SMTP_THEN_PIPELINE, smtp_finish). Every
 * reply is parsed into a struct smtp_reply and judged by
 * smtp_reply_verdict alone.
 *
 * The pure functions (reply parsing and assembly, EHLO keywords,
 * dot-stuffing, wire-safety checks) are implemented in reply.c; the
 * session (set-up, the wire, replies) in smtp.c; transactions in smtp_tx.c.
 */
#ifndef RELAYMAIL_SMTP_H
#define RELAYMAIL_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "log.h"
#include "tls.h"

struct buf;		/* buf.h */

#define SMTP_TEXT_MAX 512	/* reply text kept (printable, lines joined by "; ") */

enum smtp_verdict { SMTP_OK, SMTP_TEMP, SMTP_PERM };

struct smtp_reply {
	int code;		/* 200..599; 0 when no reply (connection trouble) */
	char enhanced[16];	/* "5.1.1" when present and agreeing with code, else "" */
	char text[SMTP_TEXT_MAX];	/* printable */
};

/* smtp_reply_verdict - 2xx/3xx ok, 4xx temporary, 5xx permanent, 0 temporary */
enum smtp_verdict smtp_reply_verdict(const struct smtp_reply *r);

/*
 * smtp_reply_line - parse one reply line (pure; a fuzz target):
 * "250-text" or "250 text" or "250". Sets *code, *last (space or end
 * rather than '-'), *text (points into line). 0, or -1 when malformed
 * (not three digits 2..5 + 0..9 + 0..9, or another separator).
 */
int smtp_reply_line(const char *line, size_t len, int *code, bool *last, const char **text);

/*
 * smtp_enhanced - the enhanced status code at the start of text
 * ("5.1.1 ..."), copied to out when its class agrees with code's first
 * digit; *rest past it. 0 when found, -1 otherwise (pure).
 */
int smtp_enhanced(const char *text, int code, char out[16], const char **rest);

#define SMTP_REPLY_LINES_MAX 200		/* lines in one reply, else malformed */
#define SMTP_REPLY_BYTES_MAX (64 * 1024)	/* bytes in one reply, else malformed */

/* smtp_assembly - a (multi-line) reply being put together line by line */
struct smtp_assembly {
	struct smtp_reply *r;
	size_t lines, bytes, textlen;
	bool done;
};

/* smtp_reply_begin - start assembling into r (cleared) */
void smtp_reply_begin(struct smtp_assembly *a, struct smtp_reply *r);

/*
 * smtp_reply_feed - add one line (without CRLF; need not be NUL-terminated).
 * 1: the reply is complete in a->r; 0: more lines follow; -1: malformed
 * (a bad line, a code that differs from the first line's, more than
 * SMTP_REPLY_LINES_MAX lines or SMTP_REPLY_BYTES_MAX bytes), with a->r->code
 * 0 and a->r->text saying why. Pure (a fuzz target).
 */
int smtp_reply_feed(struct smtp_assembly *a, const char *line, size_t len);

/* smtp_stuffer - dot-stuffing state across chunks; start with at_line_start = true */
struct smtp_stuffer {
	bool at_line_start;
};

/*
 * smtp_stuff - copy in to out doubling a '.' at the start of each line
 * (the data is already CRLF canonical). out must hold 2 * n bytes. Returns
 * the bytes written. Pure.
 */
size_t smtp_stuff(struct smtp_stuffer *st, const char *in, size_t n, char *out);

/*
 * smtp_wire_safe - p (NULL counts as safe) holds no control character and
 * no DEL, nor a space when param (an ESMTP parameter value): nothing that
 * could end or split a command line. Pure.
 */
bool smtp_wire_safe(const char *p, bool param);

/*
 * smtp_xtext - append p to out as RFC 3461 xtext (ENVID=, ORCPT=): bytes
 * from '!' to '~' as they are, except '+' and '=', everything else as "+XX"
 * (upper-case hex): "a=b+c" becomes "a+3Db+2Bc". 0, or -1 when out is full.
 */
int smtp_xtext(struct buf *out, const char *p);

/* smtp_is_8bit - p holds a byte >= 0x80 (the address needs SMTPUTF8). Pure. */
bool smtp_is_8bit(const char *p);

/*
 * smtp_params - everything a session needs, prepared from the
 * configuration in one place (deliver_smtp_params): the session reads no
 * configuration of its own
 */
struct smtp_params {
	const char *host;
	unsigned port;
	const char *helo;		/* the EHLO name; NULL: "localhost" */
	unsigned timeout;		/* seconds per step; 0: RFC 5321's wait for each */
	enum conf_tls tls;
	struct tls_settings tls_settings;	/* servername (NULL: host), trust, report trace */
	enum conf_mech mechanism;	/* CONF_MECH_NONE: no AUTH */
	const char *user;
	const char *secret;		/* password or OAuth2 token; owned and wiped by the caller */
	struct log_trace trace;	/* the -v transcript and the --check report (greeting, EHLO) */
};

struct smtp_session;

struct smtp_ext {
	bool pipelining, starttls, eightbitmime, dsn, chunking, smtputf8, size;
	unsigned long long size_max;	/* 0: no limit announced */
	unsigned auth;			/* bit (1u << enum conf_mech) per offered mechanism */
};

/*
 * smtp_ehlo_keyword - one line of an EHLO reply after the greeting line
 * (text without the code, e.g. "SIZE 10240000", "AUTH PLAIN LOGIN"):
 * sets what it announces in e; unknown keywords are ignored. Pure.
 */
void smtp_ehlo_keyword(struct smtp_ext *e, const char *t, size_t n);

/*
 * smtp_open - connect and make the session ready for MAIL (greeting,
 * EHLO, STARTTLS, AUTH as configured). NULL with *why filled when the
 * session could not be set up: why->code is the server's reply when one
 * decided it (e.g. 535, 554 greeting), 0 for connection, TLS or protocol
 * trouble, with why->text saying what happened.
 */
struct smtp_session *smtp_open(const struct smtp_params *cfg, struct smtp_reply *why);

/* smtp_extensions - what the (last) EHLO announced */
const struct smtp_ext *smtp_extensions(const struct smtp_session *s);

/* smtp_peer - "host[address]:port" */
const char *smtp_peer(const struct smtp_session *s);

/* what follows a transaction on its session */
enum smtp_then {
	SMTP_THEN_DECIDE,	/* decide it now; whatever follows waits for its outcome */
	SMTP_THEN_PIPELINE,	/* another may follow: leave it open (PIPELINING only; see smtp_send) */
	SMTP_THEN_QUIT,		/* no transaction follows: QUIT goes with the data (PIPELINING only) */
};

/*
 * The state of a transaction after smtp_send (or after the smtp_send or
 * smtp_finish that decided it, when it was left open):
 *
 *   state             verdict    session
 *   SMTP_TX_DECIDED   holds      usable
 *   SMTP_TX_LOST      holds      lost: close it
 *   SMTP_TX_OPEN      nothing    holds the transaction, undecided
 *   SMTP_TX_UNTRIED   SMTP_TEMP  lost before the transaction's turn
 */
enum smtp_tx_state {
	SMTP_TX_DECIDED,
	SMTP_TX_LOST,
	SMTP_TX_OPEN,
	SMTP_TX_UNTRIED,
};

/* smtp_tx_state_name - "decided", "lost", "open", "untried" */
const char *smtp_tx_state_name(enum smtp_tx_state st);

/* smtp_tx_lost - the session is lost after the transaction (lost or untried) */
bool smtp_tx_lost(enum smtp_tx_state st);

struct smtp_message {
	const char *sender;		/* "" for <> */
	const char *const *rcpt;	/* recipients to try now */
	size_t nrcpt;
	unsigned long long size;	/* data bytes, for SIZE= */
	bool eightbit;
	const char *notify, *ret, *envid;	/* DSN, NULL when unset */
	int data_fd;			/* canonical CRLF data from data_off to EOF */
	off_t data_off;
	enum smtp_then then;		/* what follows the transaction */
};

struct smtp_result {
	struct smtp_reply *rcpt;	/* caller-allocated, nrcpt: each RCPT's reply */
	struct smtp_reply tx;		/* MAIL, DATA or end-of-data reply that decided
					 * the transaction; the final 250 on success */
	enum smtp_tx_state state;	/* see the table above */
	enum smtp_verdict verdict;	/* once decided (not open): the transaction's verdict */
};

/*
 * smtp_send - one transaction: MAIL, RCPT for each recipient, DATA (all
 * pipelined in one write when PIPELINING is offered; BDAT with CHUNKING),
 * the data dot-stuffed from data_fd, end of data. A message larger than
 * size_max is refused before MAIL (tx: 552-like, code 552 from us, text
 * says so). Result: the verdict of the transaction as a whole (also kept
 * in res->verdict): SMTP_OK when the end of data got 250 (some recipients
 * may still have got 5xx or 4xx: see res->rcpt), else SMTP_TEMP or
 * SMTP_PERM with res->tx saying why.
 *
 * Pipelining from one transaction into the next (PIPELINING offered, and
 * m->then SMTP_THEN_PIPELINE): the transaction may be left open
 * (res->state SMTP_TX_OPEN; the result
 * returned means nothing then), at the point where the next one's
 * commands can follow it: after the 354 to DATA (its data then goes out
 * in the next write), or with BDAT everything written and every reply
 * still to come. m, its recipients, data_fd and res must then stay as
 * they are until it is decided: by the next smtp_send that reaches the
 * wire (its data, then the new MAIL, RCPT and DATA or BDAT in one write;
 * then the open one's replies are read, then the new one's) or by
 * smtp_finish. When that happens res->state turns SMTP_TX_DECIDED (or
 * SMTP_TX_LOST) and res->verdict holds the outcome. If the session dies
 * before the open one's replies are in, the new transaction gets
 * SMTP_TX_UNTRIED: no reply to it was ever read, so it may be tried again on a new session as
 * if never tried. A message refused before MAIL (check above) leaves the
 * open transaction open.
 */
enum smtp_verdict smtp_send(struct smtp_session *s, const struct smtp_message *m,
			    struct smtp_result *res);

/*
 * smtp_finish - decide the open transaction, if any: its data when it
 * still owes it, then its replies. Result: its verdict (in its res too);
 * SMTP_OK when nothing was open.
 */
enum smtp_verdict smtp_finish(struct smtp_session *s);

/*
 * smtp_reset - RSET after a failed transaction; 0, or -1 if the session
 * is lost. Nothing is sent (0) while a transaction is open: the failure
 * was then a refusal before MAIL, which put nothing on the wire.
 */
int smtp_reset(struct smtp_session *s);

/*
 * smtp_close - QUIT (without waiting long for 221) and free. With a
 * transaction still open, no QUIT: the connection is just closed, and the
 * server discards the unfinished message.
 */
void smtp_close(struct smtp_session *s);

#endif
