/*
 * queue_file - the format of the spool's files: the writer of the
 * envelope block and of the state file, and the pure parser of both
 * (queue_parse, a fuzz target). Text only: queue.c reads and writes the files.
 *
 * Spool file q/ID (version 1). A text envelope, one "key value" line per
 * item, ending with an empty line; then the message data exactly as the
 * submitter wrote it (canonical CRLF):
 *
 *   relaymail-queue 1
 *   id 6743A1B2C0FFEE01         the file's own name
 *   arrival 1795748638          seconds since the epoch
 *   sender alice@example.com    nothing after the space for <>
 *   rcpt bob@example.org        one line per recipient, in order
 *   notify SUCCESS,FAILURE      DSN parameters, only when set
 *   ret HDRS
 *   envid abc123
 *   body 7BIT                   7BIT or 8BIT (BODY=8BITMIME), patched at commit
 *   (empty line)
 *   message data ...
 *
 * State file s/ID, replaced as a whole (temp file, fsync, rename):
 *
 *   relaymail-state 1
 *   attempts 3
 *   next 1795750438             earliest next try, 0: now
 *   error TEXT                  last attempt's error, printable, one line
 *   done 0                      recipient index (0-based) already handled
 *
 * Values never hold control characters: they are refused when written and
 * when read. Unknown keys are an error (a new key means a new version).
 */
#include "queue_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* queue_valid_id - exactly QUEUE_ID_LEN upper-case hex digits */
bool queue_valid_id(const char *id)
{
	if (id == NULL)
		return false;
	for (size_t i = 0; i < QUEUE_ID_LEN; i++)
		if (!isdigit((unsigned char)id[i]) && (id[i] < 'A' || id[i] > 'F'))
			return false;
	return id[QUEUE_ID_LEN] == '\0';
}

/* the largest time stamp read from a file: whatever time_t can hold */
#define TIME_LIMIT (sizeof(time_t) >= 8 ? (unsigned long long)INT64_MAX : (unsigned long long)INT32_MAX)

/* parse_error - put what went wrong in err and return -1 */
static int parse_error(char *err, size_t errlen, const char *what)
{
	if (err != NULL && errlen > 0) {
		int n = snprintf(err, errlen, "%s", what);
		if (n < 0)
			err[0] = '\0';
	}
	return -1;
}

/* has_control - s (n bytes) holds a control character: never a spool value */
static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* put_field - append "key value\n", refusing a value that could break lines */
static int put_field(struct buf *b, const char *key, const char *value)
{
	if (has_control(value, strlen(value))) {
		errno = EINVAL;
		return -1;
	}
	return buf_printf(b, "%s %s\n", key, value);
}

/* queue_file_envelope - the spool file's envelope block for env */
int queue_file_envelope(struct buf *b, const char *id, time_t arrival,
			  const struct envelope *env, size_t *body_off)
{
	if (buf_printf(b, "%s\nid %s\narrival %lld\n", ENV_MAGIC, id, (long long)arrival) < 0 ||
	    put_field(b, "sender", env->sender != NULL ? env->sender : "") < 0)
		return -1;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (put_field(b, "rcpt", env->rcpt[i]) < 0)
			return -1;
	if ((env->notify != NULL && put_field(b, "notify", env->notify) < 0) ||
	    (env->ret != NULL && put_field(b, "ret", env->ret) < 0) ||
	    (env->envid != NULL && put_field(b, "envid", env->envid) < 0))
		return -1;
	*body_off = b->len + strlen("body ");
	return buf_puts(b, "body 7BIT\n\n");
}

/* printable_copy - error text as one printable line, cut at ERROR_MAX */
static void printable_copy(const char *in, char *out)
{
	size_t i = 0;
	for (; i < ERROR_MAX && in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
}

/* queue_file_state - the state file's text for m */
int queue_file_state(struct buf *b, const struct queue_msg *m)
{
	char errtext[ERROR_MAX + 1];
	if (buf_printf(b, "%s\nattempts %u\nnext %lld\n", STATE_MAGIC, m->attempts,
		       (long long)(m->next_try > 0 ? m->next_try : 0)) < 0)
		return -1;
	if (m->last_error != NULL && m->last_error[0] != '\0') {
		printable_copy(m->last_error, errtext);
		if (buf_printf(b, "error %s\n", errtext) < 0)
			return -1;
	}
	for (size_t i = 0; i < m->nrcpt; i++)
		if (m->rcpt_done != NULL && m->rcpt_done[i] && buf_printf(b, "done %zu\n", i) < 0)
			return -1;
	return 0;
}

/* queue_msg_init - empty message */
void queue_msg_init(struct queue_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

/* queue_release - close and free */
void queue_release(struct queue_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->sender);
	for (size_t i = 0; i < m->nrcpt; i++)
		free(m->rcpt[i]);
	free(m->rcpt);
	free(m->notify);
	free(m->ret);
	free(m->envid);
	free(m->last_error);
	free(m->rcpt_done);
	queue_msg_init(m);
}

/* parse_number - decimal digits only, at most max */
static int parse_number(const char *s, size_t len, unsigned long long max,
			unsigned long long *out)
{
	unsigned long long v = 0;
	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* dup_value - copy a value, refusing control characters */
static int dup_value(const char *v, size_t len, char **out)
{
	if (*out != NULL || has_control(v, len))
		return -1;	/* given twice, or unsafe */
	*out = strndup(v, len);
	return *out != NULL ? 0 : -1;
}

/* add_rcpt - append one recipient */
static int add_rcpt(struct queue_msg *m, const char *v, size_t len, size_t *cap)
{
	if (m->nrcpt == ENVELOPE_MAX_RCPT || len == 0)
		return -1;
	if (m->nrcpt == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		char **r = realloc(m->rcpt, ncap * sizeof(*r));
		if (r == NULL)
			return -1;
		m->rcpt = r;
		*cap = ncap;
	}
	m->rcpt[m->nrcpt] = NULL;
	if (dup_value(v, len, &m->rcpt[m->nrcpt]) < 0)
		return -1;
	m->nrcpt++;
	return 0;
}

/* key_is - the line's key equals k */
static bool key_is(const char *key, size_t klen, const char *k)
{
	return strlen(k) == klen && memcmp(key, k, klen) == 0;
}

/* env_field - one envelope line; seen counts the once-only keys */
static int env_field(struct queue_msg *m, const char *key, size_t klen, const char *v,
		     size_t vlen, unsigned *seen, size_t *cap)
{
	unsigned long long n;
	if (key_is(key, klen, "id")) {
		if ((*seen & 1) || vlen != QUEUE_ID_LEN)
			return -1;
		memcpy(m->id, v, QUEUE_ID_LEN);
		m->id[QUEUE_ID_LEN] = '\0';
		*seen |= 1;
		return queue_valid_id(m->id) ? 0 : -1;
	}
	if (key_is(key, klen, "arrival")) {
		if ((*seen & 2) || parse_number(v, vlen, TIME_LIMIT, &n) < 0)
			return -1;
		m->arrival = (time_t)n;
		*seen |= 2;
		return 0;
	}
	if (key_is(key, klen, "body")) {
		if (*seen & 4)
			return -1;
		*seen |= 4;
		if (vlen == 4 && memcmp(v, "7BIT", 4) == 0)
			return 0;
		m->eightbit = true;
		return vlen == 4 && memcmp(v, "8BIT", 4) == 0 ? 0 : -1;
	}
	if (key_is(key, klen, "sender"))
		return dup_value(v, vlen, &m->sender);
	if (key_is(key, klen, "rcpt"))
		return add_rcpt(m, v, vlen, cap);
	if (key_is(key, klen, "notify"))
		return dup_value(v, vlen, &m->notify);
	if (key_is(key, klen, "ret"))
		return dup_value(v, vlen, &m->ret);
	if (key_is(key, klen, "envid"))
		return dup_value(v, vlen, &m->envid);
	return -1;
}

/* state_field - one state line */
static int state_field(struct queue_msg *m, const char *key, size_t klen, const char *v,
		       size_t vlen)
{
	unsigned long long n;
	if (key_is(key, klen, "attempts")) {
		if (parse_number(v, vlen, 0xffffffffu, &n) < 0)
			return -1;
		m->attempts = (unsigned)n;
		return 0;
	}
	if (key_is(key, klen, "next")) {
		if (parse_number(v, vlen, TIME_LIMIT, &n) < 0)
			return -1;
		m->next_try = (time_t)n;
		return 0;
	}
	if (key_is(key, klen, "error"))
		return dup_value(v, vlen, &m->last_error);
	if (key_is(key, klen, "done")) {
		if (parse_number(v, vlen, (unsigned long long)m->nrcpt - 1, &n) < 0)
			return -1;
		m->rcpt_done[n] = true;
		return 0;
	}
	return -1;
}

/*
 * parse_lines - split text into "key value" lines after the magic first
 * line; for the envelope (env true) the text must end with an empty line.
 */
static int parse_lines(struct queue_msg *m, const char *p, size_t len, bool env,
		       unsigned *seen)
{
	const char *magic = env ? ENV_MAGIC : STATE_MAGIC;
	const char *end = p + len;
	size_t cap = 0, lineno = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return -1;	/* every line ends with LF */
		size_t llen = (size_t)(nl - p);
		if (lineno++ == 0) {
			if (llen != strlen(magic) || memcmp(p, magic, llen) != 0)
				return -1;
		} else if (llen == 0) {
			/* the envelope's end: must be the last byte */
			return env && nl + 1 == end ? 0 : -1;
		} else {
			const char *sp = memchr(p, ' ', llen);
			if (sp == NULL)
				return -1;
			size_t klen = (size_t)(sp - p), vlen = llen - klen - 1;
			int r = env ? env_field(m, p, klen, sp + 1, vlen, seen, &cap)
				    : state_field(m, p, klen, sp + 1, vlen);
			if (r < 0)
				return -1;
		}
		p = nl + 1;
	}
	return env || lineno == 0 ? -1 : 0;
}

/* queue_parse - envelope block and optional state into m */
int queue_parse(const char *env, size_t envlen, const char *state, size_t statelen,
		struct queue_msg *m, char *err, size_t errlen)
{
	unsigned seen = 0;
	queue_msg_init(m);
	if (parse_lines(m, env, envlen, true, &seen) < 0 || seen != 7 || m->sender == NULL ||
	    m->nrcpt == 0) {
		queue_release(m);
		return parse_error(err, errlen, "malformed queue file envelope");
	}
	m->data_off = (off_t)envlen;
	m->rcpt_done = calloc(m->nrcpt, sizeof(bool));
	if (m->rcpt_done == NULL) {
		queue_release(m);
		return parse_error(err, errlen, "out of memory");
	}
	if (state != NULL && parse_lines(m, state, statelen, false, &seen) < 0) {
		queue_release(m);
		return parse_error(err, errlen, "malformed queue state file");
	}
	return 0;
}
