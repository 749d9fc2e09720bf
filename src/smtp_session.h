/*
 * smtp_session - the SMTP client's insides, shared by smtp.c (the
 * session: set-up, the wire, replies) and smtp_tx.c (transactions). No
 * other module includes this file: they see smtp.h only.
 */
#ifndef RELAYMAIL_SMTP_SESSION_H
#define RELAYMAIL_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "smtp.h"

struct io;	/* io.h */

/*
 * message data read per pread; the block of three stays under malloc's mmap
 * threshold (128 KiB), so a session does not map and unmap it afresh
 */
#define SMTP_READ_BLOCK (32 * 1024)

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
 * smtp_hold - a transaction left open for the next one to be pipelined
 * behind it (SMTP_THEN_PIPELINE): m and res belong to the caller and live
 * until it is decided. With DATA, its 354 is in and its data and end are
 * still to be written (data_due); with BDAT, everything is written and all
 * its replies are still to be read.
 */
struct smtp_hold {
	const struct smtp_message *m;	/* NULL: nothing open */
	struct smtp_result *res;
	bool chunked;			/* BDAT: MAIL, RCPT and BDAT replies due */
	bool data_due;			/* DATA: the data and "." not written yet */
};

struct smtp_session {
	struct io *io;
	struct smtp_params cfg;	/* secret set to NULL once AUTH is over */
	struct smtp_ext ext;
	enum smtp_state state;
	bool lost;		/* connection broken, 421 seen, or data cut short */
	bool quit_sent;		/* QUIT went out with the last message's data */
	bool hide_auth;		/* SCRAM: server data proves the password, keep it out of -v */
	struct smtp_hold open;	/* the transaction still in flight, if any */
	struct buf line;	/* the reply line being read */
	struct buf cmd;		/* the command being sent (wiped after secret lines) */
	struct buf first;	/* raw text of the last reply's first line (AUTH) */
	char *block;		/* SMTP_READ_BLOCK in, 2 * SMTP_READ_BLOCK stuffed out */
};

/* smtp_set_text - our own words into r (code 0: no server reply decided it) */
__attribute__((format(printf, 2, 3)))
void smtp_set_text(struct smtp_reply *r, const char *fmt, ...);

/* smtp_step_timeout - seconds allowed for step st */
unsigned smtp_step_timeout(const struct smtp_session *s, enum smtp_state st);

/* smtp_lose - mark the connection unusable, say why in r (doing: "sending"...); -1 */
int smtp_lose(struct smtp_session *s, struct smtp_reply *r, const char *doing);

/*
 * smtp_send_line - queue one command line (CRLF added; not flushed);
 * shown, when not NULL, replaces it in the -v transcript. 0, or -1 with r.
 */
int smtp_send_line(struct smtp_session *s, enum smtp_state st, const char *line, size_t n,
		   const char *shown, struct smtp_reply *r);

/* smtp_send_fmt - queue one formatted command (never a secret); 0, or -1 with r */
__attribute__((format(printf, 4, 5)))
int smtp_send_fmt(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		  const char *fmt, ...);

/* smtp_flush - send what is queued under the current step's deadline; 0, or -1 with r */
int smtp_flush(struct smtp_session *s, struct smtp_reply *r);

/*
 * smtp_read_reply - the whole reply to step st into r; each (optional)
 * sees every line's raw text. 0 when a reply came (421 marks the session
 * lost), -1 when none did (r says why; the session is lost).
 */
int smtp_read_reply(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		    void (*each)(struct smtp_session *, size_t, const char *, size_t));

/* smtp_command - send one command and read its reply (each: see smtp_read_reply) */
__attribute__((format(printf, 5, 6)))
int smtp_command(struct smtp_session *s, enum smtp_state st, struct smtp_reply *r,
		 void (*each)(struct smtp_session *, size_t, const char *, size_t),
		 const char *fmt, ...);

#endif
