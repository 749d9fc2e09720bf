/* submit - caller's message into the queue; see submit.h */
#include "submit.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "message.h"
#include "rfc5322.h"

/* say - fill err, return r */
static enum submit_result say(enum submit_result r, char *err, size_t errlen, const char *what,
			      const char *why)
{
	if (snprintf(err, errlen, "%s%s%s", what, *why ? ": " : "", why) < 0 && errlen > 0)
		err[0] = '\0';
	return r;
}

/* set_sender - -f/-r when allowed, else [sender] from, else the login name */
static enum submit_result set_sender(const struct conf *c, const struct submit_request *req,
				     struct envelope *env, char *err, size_t errlen)
{
	char why[256];
	const char *s = c->sender.from;
	bool from_caller = false;
	if (req->sender != NULL && (c->sender.allow_from_override || s == NULL)) {
		s = req->sender;
		from_caller = true;
	}
	if (s == NULL) {
		struct passwd *pw = getpwuid(getuid());
		if (pw == NULL)
			return say(SUBMIT_USAGE, err, errlen, "cannot find the login name of the caller", "");
		s = pw->pw_name;
	}
	if (envelope_set_sender(env, s, why, sizeof why) < 0)
		return say(from_caller ? SUBMIT_USAGE : SUBMIT_BAD_MESSAGE, err, errlen,
			   "bad sender address", why);
	return SUBMIT_OK;
}

struct header_rcpt {
	struct envelope *env;
	char why[256];
};

/* add_header_rcpt - rfc5322 callback: one address of a To/Cc/Bcc field */
static int add_header_rcpt(void *ctx, const char *addr)
{
	struct header_rcpt *hr = ctx;
	return envelope_add_rcpt(hr->env, addr, hr->why, sizeof hr->why) < 0 ? -1 : 0;
}

/* rcpts_from_headers - -t: To/Cc/Bcc, or only the Resent- ones when present */
static enum submit_result rcpts_from_headers(const struct message_headers *h, struct envelope *env,
					     char *err, size_t errlen)
{
	static const char *const plain[] = { "To", "Cc", "Bcc" };
	static const char *const resent[] = { "Resent-To", "Resent-Cc", "Resent-Bcc" };
	const char *const *names = plain;
	for (size_t k = 0; k < 3; k++)
		if (message_find(h, resent[k], 0) >= 0)
			names = resent;
	for (size_t k = 0; k < 3; k++) {
		for (long i = message_find(h, names[k], 0); i >= 0;
		     i = message_find(h, names[k], (size_t)i + 1)) {
			struct header_rcpt hr = { .env = env, .why = "" };
			const char *why = "";
			size_t len;
			const char *v = message_field_value(h, (size_t)i, &len);
			int r = rfc5322_parse_addresses(v, len, add_header_rcpt, &hr, &why);
			char what[64];
			if (snprintf(what, sizeof what, "bad address in the %s: header", names[k]) < 0)
				what[0] = '\0';
			if (r == -1)
				return say(SUBMIT_BAD_MESSAGE, err, errlen, what, why);
			if (r == -2)
				return say(SUBMIT_BAD_MESSAGE, err, errlen, what, hr.why);
		}
	}
	return SUBMIT_OK;
}

/* the address fields whose bare local names get the domain, as Postfix's cleanup does */
static const char *const address_fields[] = {
	"From", "Sender", "Reply-To", "To", "Cc",
	"Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc",
};

struct completion {
	size_t off[64];
	size_t n;
};

/* note_bare - rfc5322 callback: one place where "@domain" belongs */
static int note_bare(void *ctx, size_t offset)
{
	struct completion *c = ctx;
	if (c->n == sizeof c->off / sizeof c->off[0])
		return -1;
	c->off[c->n++] = offset;
	return 0;
}

/* complete_field - field i with "@domain" after each bare name; unchanged on any doubt */
static int complete_field(struct message_headers *h, size_t i, const char *domain)
{
	struct completion comp = { .n = 0 };
	size_t vlen;
	const char *v = message_field_value(h, i, &vlen);
	if (rfc5322_bare_addresses(v, vlen, note_bare, &comp, NULL) <= 0)
		return 0;	/* nothing bare, or too odd to touch */
	const char *field = h->raw.data + h->f[i].off;
	size_t head = (size_t)(v - field), prev = 0;
	struct buf nf;
	buf_init(&nf, MESSAGE_HEADER_MAX);
	int r = buf_append(&nf, field, head);
	for (size_t k = 0; r == 0 && k < comp.n; k++) {
		r = buf_append(&nf, v + prev, comp.off[k] - prev) < 0 ||
		    buf_printf(&nf, "@%s", domain) < 0 ? -1 : 0;
		prev = comp.off[k];
	}
	if (r == 0)
		r = buf_append(&nf, v + prev, h->f[i].len - head - prev);
	/* a completed line that would pass 998 octets stays as it was */
	if (r == 0)
		(void)message_set_field(h, i, nf.data, nf.len);
	buf_free(&nf);
	return r;
}

/* complete_header_addresses - bare local names in address fields get the domain */
static int complete_header_addresses(struct message_headers *h, const char *domain)
{
	for (size_t i = 0; i < h->n; i++) {
		if (h->f[i].removed)
			continue;
		for (size_t k = 0; k < sizeof address_fields / sizeof address_fields[0]; k++) {
			if (rfc5322_name_is(h->raw.data + h->f[i].off, h->f[i].namelen, address_fields[k])) {
				if (complete_field(h, i, domain) < 0)
					return -1;
				break;
			}
		}
	}
	return 0;
}

/* envelope_from_request - sender, argument recipients, DSN parameters */
static enum submit_result envelope_from_request(const struct conf *c, const struct submit_request *req,
						struct envelope *env, char *err, size_t errlen)
{
	char why[256];
	enum submit_result r = set_sender(c, req, env, err, errlen);
	if (r != SUBMIT_OK)
		return r;
	for (int i = 0; i < req->nrcpt; i++)
		if (envelope_add_list(env, req->rcpt[i], why, sizeof why) < 0)
			return say(SUBMIT_USAGE, err, errlen, "bad recipient", why);
	env->notify = req->notify != NULL ? strdup(req->notify) : NULL;
	env->ret = req->ret != NULL ? strdup(req->ret) : NULL;
	env->envid = req->envid != NULL ? strdup(req->envid) : NULL;
	if ((req->notify && !env->notify) || (req->ret && !env->ret) || (req->envid && !env->envid))
		return say(SUBMIT_CANT_QUEUE, err, errlen, "out of memory", "");
	return SUBMIT_OK;
}

/* a queue file being written, and the bytes it may still take */
struct bounded {
	struct queue_new *n;
	unsigned long long left;	/* ULLONG_MAX: no limit */
};

/* bounded_write - queue_new_write, failing with EFBIG past [queue] max_message_size */
static int bounded_write(void *ctx, const void *p, size_t len)
{
	struct bounded *b = ctx;
	if (len > b->left) {
		errno = EFBIG;
		return -1;
	}
	b->left -= len;
	return queue_new_write(b->n, p, len);
}

/* write_failed - why the message could not be written to the queue file */
static enum submit_result write_failed(const struct conf *c, int e, char *err, size_t errlen)
{
	char why[96];
	if (e != EFBIG)
		return say(SUBMIT_CANT_QUEUE, err, errlen, "cannot write to the queue", strerror(e));
	if (snprintf(why, sizeof why, "bigger than [queue] max_message_size (%llu bytes)",
		     c->queue.max_message_size) < 0)
		why[0] = '\0';
	return say(SUBMIT_TOO_BIG, err, errlen, "message too big", why);
}

/* spool - write the headers and stream the body into a new queue file */
static enum submit_result spool(const struct conf *c, struct queue *q,
				const struct envelope *env, const struct message_headers *h,
				struct message_reader *rd, const struct submit_request *req,
				struct queue_msg *m, char *err, size_t errlen)
{
	struct queue_new n;
	struct bounded b = { &n, c->queue.max_message_size ? c->queue.max_message_size : ULLONG_MAX };
	char why[512];
	if (queue_new_begin(q, env, time(NULL), &n, why, sizeof why) < 0)
		return say(SUBMIT_CANT_QUEUE, err, errlen, "cannot queue the message", why);
	if (message_write_headers(h, bounded_write, &b) != 0) {
		int e = errno;
		queue_new_abort(q, &n);
		return write_failed(c, e, err, errlen);
	}
	int r = message_copy_body(rd, bounded_write, &b);
	if (r != 0) {
		int e = errno;
		queue_new_abort(q, &n);
		if (r == -2)
			return say(SUBMIT_READ_ERROR, err, errlen, "cannot read the message", strerror(e));
		return write_failed(c, e, err, errlen);
	}
	bool eightbit = rd->eightbit || req->body_8bit;
	if ((req->commit_later ? queue_new_finish(q, &n, eightbit, m, why, sizeof why)
			       : queue_new_commit(q, &n, eightbit, m, why, sizeof why)) < 0)
		return say(SUBMIT_CANT_QUEUE, err, errlen, "cannot queue the message", why);
	return SUBMIT_OK;
}

/*
 * check_room - below [queue] min_free, only root may still queue: a user
 * filling the spool's file system must not stop everyone else's mail
 */
static enum submit_result check_room(const struct conf *c, const struct queue *q, char *err,
				     size_t errlen)
{
	unsigned long long avail;
	char why[128];
	if (c->queue.min_free == 0 || getuid() == 0)
		return SUBMIT_OK;
	if (queue_free_bytes(q, &avail) < 0)
		return say(SUBMIT_CANT_QUEUE, err, errlen, "cannot see the spool's free space",
			   strerror(errno));
	if (avail >= c->queue.min_free)
		return SUBMIT_OK;
	if (snprintf(why, sizeof why, "%llu bytes free, [queue] min_free is %llu", avail,
		     c->queue.min_free) < 0)
		why[0] = '\0';
	return say(SUBMIT_CANT_QUEUE, err, errlen, "the spool is nearly full", why);
}

/* submit_message - the whole intake */
enum submit_result submit_message(const struct conf *c, struct queue *q,
				  const struct submit_request *req, struct queue_msg *m,
				  char *err, size_t errlen)
{
	struct envelope env;
	struct message_reader rd;
	struct message_headers h;
	char why[256];
	bool have_headers = false;
	enum submit_result r = check_room(c, q, err, errlen);
	if (r != SUBMIT_OK)
		return r;
	envelope_init(&env, c);
	message_reader_init(&rd, req->fd, req->dot_ends);
	r = envelope_from_request(c, req, &env, err, errlen);
	if (r == SUBMIT_OK) {
		int hr = message_read_headers(&rd, &h, why, sizeof why);
		have_headers = hr == 0;
		if (hr == -1)
			r = say(SUBMIT_BAD_MESSAGE, err, errlen, "bad message", why);
		else if (hr == -2)
			r = say(SUBMIT_READ_ERROR, err, errlen, "cannot read the message", strerror(errno));
	}
	if (r == SUBMIT_OK && req->from_headers)
		r = rcpts_from_headers(&h, &env, err, errlen);
	if (r == SUBMIT_OK && env.nrcpt == 0)
		r = say(SUBMIT_USAGE, err, errlen, "no recipients", req->from_headers ?
			"none given and none found in To:, Cc: or Bcc:" : "give one or use -t");
	if (r == SUBMIT_OK) {
		message_remove(&h, "Bcc");
		message_remove(&h, "Resent-Bcc");
		struct message_completion mc = {
			.sender = env.sender, .full_name = req->full_name,
			.domain = c->sender.domain, .rewrite_from = c->sender.rewrite_from,
			.now = time(NULL),
		};
		if (complete_header_addresses(&h, c->sender.domain) < 0 ||
		    message_complete_headers(&h, &mc) < 0)
			r = say(SUBMIT_BAD_MESSAGE, err, errlen, "cannot complete the header",
				"a line too long or a control character in the sender or -F name");
	}
	if (r == SUBMIT_OK)
		r = spool(c, q, &env, &h, &rd, req, m, err, errlen);
	if (have_headers)
		message_headers_free(&h);
	message_reader_free(&rd);
	envelope_free(&env);
	return r;
}
