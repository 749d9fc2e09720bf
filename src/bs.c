/* bs - the -bs SMTP server dialogue on stdin/stdout; see bs.h */
#include "bs.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "deliver.h"
#include "envelope.h"
#include "log.h"
#include "runner.h"
#include "submit.h"

#define BS_CMD_MAX 2048		/* a command line (RFC 5321: 512) */
#define BS_CHUNK 65536		/* data is read in lines of at most this */
#define BS_RCPT_MAX 1000
#define BS_ERRORS_MAX 20	/* then the client is shown the door */
#define BS_IDLE_SECONDS 300	/* RFC 5321 4.5.3.2.7: server timeout */

/* what one command did to the session */
enum bs_step { BS_GO_ON, BS_ERROR, BS_END };

struct bs_in {
	char buf[BS_CHUNK];
	size_t pos, len;
	bool eof;
};

struct bs {
	const struct conf *conf;
	struct queue *queue;
	enum bs_delivery how;
	struct deliver *deliver;	/* kept across messages: one smarthost session */
	struct bs_in *in;		/* 64 KiB, on the heap */
	struct buf out;
	char *sender;			/* NULL: no MAIL yet */
	char **rcpt;
	size_t nrcpt;
	bool body8;
	unsigned errors;
};

/* flush - write what was answered so far (before the next blocking read) */
static int flush(struct bs *s)
{
	if (buf_write_all(1, s->out.data, s->out.len) < 0)
		return -1;
	buf_reset(&s->out);
	return 0;
}

/* reply - queue one reply line; pipelined replies go out together */
static void reply(struct bs *s, const char *line)
{
	if (buf_puts(&s->out, line) < 0 || buf_puts(&s->out, "\r\n") < 0)
		(void)flush(s);
}

/* fill - more input, waiting at most BS_IDLE_SECONDS; 0, or -1 at end/timeout */
static int fill(struct bs *s)
{
	if (flush(s) < 0)
		return -1;
	struct pollfd p = { .fd = 0, .events = POLLIN };
	for (;;) {
		int r = poll(&p, 1, BS_IDLE_SECONDS * 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			reply(s, "421 4.4.2 timeout, closing the session");
			(void)flush(s);
			return -1;
		}
		ssize_t n = read(0, s->in->buf, sizeof s->in->buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			s->in->eof = true;
			return -1;
		}
		s->in->pos = 0;
		s->in->len = (size_t)n;
		return 0;
	}
}

/*
 * get_line - the next piece of input up to and including LF, at most max
 * bytes; *eol says whether it ended with LF. 1, or 0 at end of input.
 */
static int get_line(struct bs *s, struct buf *line, size_t max, bool *eol)
{
	buf_reset(line);
	*eol = false;
	while (line->len < max) {
		if (s->in->pos == s->in->len && fill(s) < 0)
			return line->len > 0;
		const char *p = s->in->buf + s->in->pos;
		size_t avail = s->in->len - s->in->pos;
		size_t want = max - line->len < avail ? max - line->len : avail;
		const char *lf = memchr(p, '\n', want);
		size_t take = lf != NULL ? (size_t)(lf - p) + 1 : want;
		if (buf_append(line, p, take) < 0)
			return 0;
		s->in->pos += take;
		if (lf != NULL) {
			*eol = true;
			return 1;
		}
	}
	return 1;
}

/* reset - forget the transaction (RSET, HELO, after DATA) */
static void reset(struct bs *s)
{
	free(s->sender);
	s->sender = NULL;
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpt[i]);
	s->nrcpt = 0;
	s->body8 = false;
}

/* cmd_ehlo - HELO / EHLO: greet back and announce what we take */
static void cmd_ehlo(struct bs *s, bool extended)
{
	char line[600];
	reset(s);
	if (snprintf(line, sizeof line, "250%s%s", extended ? "-" : " ", s->conf->smarthost.helo) < 0)
		line[0] = '\0';
	reply(s, line);
	if (!extended)
		return;
	reply(s, "250-PIPELINING");
	if (snprintf(line, sizeof line, "250-SIZE %llu", bs_size_max(s->conf)) < 0)
		line[0] = '\0';
	reply(s, line);
	reply(s, "250-8BITMIME");
	reply(s, "250 ENHANCEDSTATUSCODES");
}

/* cmd_mail - MAIL FROM:<addr> [params] */
static void cmd_mail(struct bs *s, const struct bs_command *cmd)
{
	const char *bad;
	char why[256];
	bool body8 = false;
	if (s->sender != NULL) {
		reply(s, "503 5.5.1 nested MAIL command");
		return;
	}
	if (!cmd->path_ok) {
		reply(s, "501 5.5.4 syntax: MAIL FROM:<address>");
		return;
	}
	if (envelope_check_bytes(cmd->addr, cmd->addrlen, true, why, sizeof why) < 0) {
		reply(s, "553 5.1.7 bad sender address");
		return;
	}
	if ((bad = bs_parse_mail_params(cmd->params, cmd->paramslen, bs_size_max(s->conf), &body8)) != NULL) {
		reply(s, bad);
		return;
	}
	if ((s->sender = strndup(cmd->addr, cmd->addrlen)) == NULL) {
		reply(s, "451 4.3.0 out of memory");
		return;
	}
	s->body8 = body8;
	reply(s, "250 2.1.0 Ok");
}

/* cmd_rcpt - RCPT TO:<addr> */
static void cmd_rcpt(struct bs *s, const struct bs_command *cmd)
{
	char why[256];
	if (s->sender == NULL) {
		reply(s, "503 5.5.1 need MAIL before RCPT");
		return;
	}
	if (!cmd->path_ok || cmd->paramslen != 0) {
		reply(s, !cmd->path_ok ? "501 5.5.4 syntax: RCPT TO:<address>" :
		      "555 5.5.4 unsupported RCPT parameter");
		return;
	}
	if (envelope_check_bytes(cmd->addr, cmd->addrlen, false, why, sizeof why) < 0) {
		reply(s, "553 5.1.3 bad recipient address");
		return;
	}
	if (s->nrcpt == BS_RCPT_MAX) {
		reply(s, "452 4.5.3 too many recipients");
		return;
	}
	if ((s->rcpt[s->nrcpt] = strndup(cmd->addr, cmd->addrlen)) == NULL) {
		reply(s, "451 4.3.0 out of memory");
		return;
	}
	s->nrcpt++;
	reply(s, "250 2.1.5 Ok");
}

/* how the data of one DATA command ended */
enum bs_received {
	BS_RECEIVED,		/* at the end marker, all of it in the file */
	BS_TOO_BIG,		/* over the size limit (read to the end marker anyway) */
	BS_CLIENT_LOST,		/* the input ended before the end marker */
	BS_SPOOL_FAILED,	/* the file could not be written */
};

/*
 * receive - the data after 354, dot-unstuffed, into fd. Only CRLF "." CRLF
 * ends it: a "." line after a bare LF is ordinary data.
 */
static enum bs_received receive(struct bs *s, int fd)
{
	struct buf line, pend;
	bool eol, line_start = true, after_crlf = true, too_big = false;
	unsigned long long size = 0, max = bs_size_max(s->conf);
	enum bs_received result = BS_CLIENT_LOST;
	buf_init(&line, BS_CHUNK);
	buf_init(&pend, BS_CHUNK * 2);
	while (get_line(s, &line, BS_CHUNK, &eol) == 1) {
		const char *p = line.data;
		size_t n = line.len;
		if (line_start && after_crlf && n == 3 && memcmp(p, ".\r\n", 3) == 0) {
			result = too_big ? BS_TOO_BIG : BS_RECEIVED;
			break;
		}
		if (line_start && after_crlf && n > 1 && p[0] == '.') {
			p++;	/* unstuff; after a bare LF there is no line start to stuff */
			n--;
		}
		size += n;
		too_big = too_big || size > max;
		if (!too_big && buf_append(&pend, p, n) < 0)
			break;	/* cannot happen: pend holds two chunks */
		if (!too_big && pend.len >= BS_CHUNK) {
			if (buf_write_all(fd, pend.data, pend.len) < 0) {
				result = BS_SPOOL_FAILED;
				break;
			}
			buf_reset(&pend);
		}
		line_start = eol;
		if (eol)
			after_crlf = n >= 2 && p[n - 2] == '\r';
	}
	if ((result == BS_RECEIVED || result == BS_TOO_BIG) && pend.len > 0 &&
	    buf_write_all(fd, pend.data, pend.len) < 0)
		result = BS_SPOOL_FAILED;
	buf_free(&line);
	buf_free(&pend);
	return result;
}

/* refused - a total refusal by the smarthost, passed on as its own 5xx */
static void refused(struct bs *s, const struct smtp_reply *r)
{
	char line[SMTP_TEXT_MAX + 64];
	int code = r->code >= 500 && r->code <= 599 ? r->code : 554;
	if (snprintf(line, sizeof line, "%d %s %s", code, r->enhanced[0] ? r->enhanced : "5.0.0",
		     r->text) < 0)
		line[0] = '\0';
	reply(s, line);
}

/* finish - relay or queue the committed message m as configured, then answer */
static void finish(struct bs *s, struct queue_msg *m)
{
	char line[128];
	struct deliver_report rep;
	if (snprintf(line, sizeof line, "250 2.0.0 Ok: queued as %s", m->id) < 0)
		line[0] = '\0';
	if (s->how == BS_DELIVER_QUEUE) {
		queue_release(m);
	} else if (s->how == BS_DELIVER_BACKGROUND) {
		(void)runner_hand_off(s->conf, s->queue, m);
	} else {
		if (s->deliver == NULL)
			s->deliver = deliver_new(s->conf, s->queue);
		if (s->deliver == NULL) {
			queue_release(m);	/* queued; a queue run delivers it */
		} else {
			(void)deliver_message(s->deliver, m, DELIVER_BOUNCE_PARTIAL, &rep);
			if (rep.sent == 0 && rep.deferred == 0 && rep.rejected > 0) {
				refused(s, &rep.reason);
				return;
			}
		}
	}
	reply(s, line);
}

/* submit_failed - the reply for a message submit_message refused */
static void submit_failed(struct bs *s, enum submit_result r, const char *err)
{
	char line[600], safe[512];
	log_printable(err, strlen(err), safe, sizeof safe);
	const char *code = r == SUBMIT_BAD_MESSAGE ? "554 5.6.0" :
			   r == SUBMIT_USAGE ? "550 5.1.0" : r == SUBMIT_TOO_BIG ? "552 5.3.4" : "451 4.3.0";
	if (snprintf(line, sizeof line, "%s %s", code, safe) < 0)
		line[0] = '\0';
	reply(s, line);
}

/* cmd_data - DATA: receive, commit, relay or queue; BS_END when the client vanished */
static enum bs_step cmd_data(struct bs *s)
{
	struct queue_msg m;
	char err[512];
	if (s->sender == NULL || s->nrcpt == 0) {
		reply(s, s->sender == NULL ? "503 5.5.1 need MAIL first" : "554 5.5.1 no valid recipients");
		return BS_GO_ON;
	}
	int fd = queue_scratch(s->queue);
	if (fd < 0) {
		reply(s, "451 4.3.0 cannot create a spool file");
		return BS_GO_ON;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	enum bs_received r = receive(s, fd);
	if (r != BS_RECEIVED || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		reset(s);
		if (r == BS_CLIENT_LOST)
			return BS_END;	/* nothing was committed: nothing is left */
		reply(s, r == BS_TOO_BIG ? "552 5.3.4 message too big" :
		      "451 4.3.0 cannot write the spool file");
		return BS_GO_ON;
	}
	struct submit_request req = {
		.fd = fd, .sender = s->sender, .rcpt = s->rcpt, .nrcpt = (int)s->nrcpt,
		.from_headers = false, .dot_ends = false, .body_8bit = s->body8,
	};
	enum submit_result sr = submit_message(s->conf, s->queue, &req, &m, err, sizeof err);
	close(fd);
	reset(s);
	if (sr != SUBMIT_OK)
		submit_failed(s, sr, err);
	else
		finish(s, &m);
	return BS_GO_ON;
}

/* bs_size_max - BS_SIZE_MAX, or [queue] max_message_size when that is smaller */
unsigned long long bs_size_max(const struct conf *c)
{
	unsigned long long m = c->queue.max_message_size;
	return m != 0 && m < BS_SIZE_MAX ? m : BS_SIZE_MAX;
}

/* dispatch - one parsed command */
static enum bs_step dispatch(struct bs *s, const struct bs_command *cmd)
{
	switch (cmd->verb) {
	case BS_CMD_BAD:
		reply(s, cmd->reply);
		return BS_ERROR;
	case BS_CMD_HELO:
	case BS_CMD_EHLO:
		cmd_ehlo(s, cmd->verb == BS_CMD_EHLO);
		break;
	case BS_CMD_MAIL:
		cmd_mail(s, cmd);
		break;
	case BS_CMD_RCPT:
		cmd_rcpt(s, cmd);
		break;
	case BS_CMD_DATA:
		return cmd_data(s);
	case BS_CMD_RSET:
		reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case BS_CMD_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case BS_CMD_VRFY:
		reply(s, "252 2.0.0 cannot verify, but will relay");
		break;
	case BS_CMD_QUIT:
		reply(s, "221 2.0.0 Bye");
		return BS_END;
	}
	return BS_GO_ON;
}

/* skip_rest - discard the rest of an over-long command line */
static void skip_rest(struct bs *s, struct buf *line)
{
	bool eol = false;
	while (!eol && get_line(s, line, BS_CMD_MAX, &eol) == 1)
		;
}

/* command - the next command line, parsed into cmd; 1, 0 at end, -1 too long */
static int command(struct bs *s, struct buf *line, struct bs_command *cmd)
{
	bool eol;
	if (get_line(s, line, BS_CMD_MAX, &eol) == 0)
		return 0;
	if (!eol) {
		skip_rest(s, line);
		reply(s, "500 5.5.2 line too long");
		return -1;
	}
	(void)bs_parse_command(line->data, line->len, cmd);
	return 1;
}

/* bs_serve - the whole dialogue */
int bs_serve(const struct conf *c, struct queue *q, enum bs_delivery how)
{
	struct bs s = { .conf = c, .queue = q, .how = how };
	struct buf line;
	char greeting[600];
	s.rcpt = calloc(BS_RCPT_MAX, sizeof *s.rcpt);
	s.in = calloc(1, sizeof *s.in);
	if (s.rcpt == NULL || s.in == NULL) {
		free(s.rcpt);
		free(s.in);
		return -1;
	}
	buf_init(&s.out, 1024 * 1024);
	buf_init(&line, BS_CMD_MAX);
	if (snprintf(greeting, sizeof greeting, "220 %s ESMTP relaymail", c->smarthost.helo) < 0)
		greeting[0] = '\0';
	reply(&s, greeting);
	for (;;) {
		struct bs_command cmd;
		int r = command(&s, &line, &cmd);
		if (r == 0)
			break;
		enum bs_step step = r < 0 ? BS_ERROR : dispatch(&s, &cmd);
		if (step == BS_END)
			break;
		if (step == BS_ERROR && ++s.errors > BS_ERRORS_MAX) {
			reply(&s, "421 4.7.0 too many errors, closing the session");
			break;
		}
	}
	(void)flush(&s);
	reset(&s);
	free(s.rcpt);
	free(s.in);
	buf_free(&s.out);
	buf_free(&line);
	deliver_free(s.deliver);
	return 0;
}
