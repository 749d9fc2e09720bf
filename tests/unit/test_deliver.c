/* test_deliver - the delivery policy against a scripted smarthost and a throw-away spool */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deliver.h"
#include "queue.h"
#include "smtp_script.h"
#include "spool_fixture.h"
#include "row_label.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* every test message: the same envelope and data, so a script fits any of them */
#define SENDER "me@example.com"
#define DATA "Subject: t\r\n\r\nx\r\n"
#define MAIL "C:MAIL FROM:<me@example.com> SIZE=17"
#define GREET "S:220 mx.example ESMTP", "C:EHLO client.example", "S:250-mx.example", \
	      "S:250 SIZE"
#define BODY "S:354 go", "C:Subject: t", "C:", "C:x", "C:."

struct fixture {
	char dir[64];
	struct queue *q;
	struct conf conf;
};

/* setup - a fresh spool and a configuration for a plain smarthost on 127.0.0.1 */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	spool_make(f->dir, sizeof(f->dir), &f->q, "test_deliver");
	f->conf.smarthost.host = "127.0.0.1";
	f->conf.smarthost.helo = "client.example";
	f->conf.smarthost.timeout = 5;
	f->conf.smarthost.tls = CONF_TLS_NONE;
	f->conf.auth.mechanism = CONF_MECH_NONE;
	f->conf.sender.domain = "example.com";
	f->conf.queue.retry_min = 300;
	f->conf.queue.retry_max = 3600;
	*state = f;
	return 0;
}

/* teardown - remove the spool */
static int teardown(void **state)
{
	struct fixture *f = *state;
	(void)row_label_report(state);
	spool_remove(f->dir, f->q);
	free(f);
	return 0;
}

/* queue_one - commit one test message to rcpt (nrcpt of them); m gets it locked, or NULL */
static void queue_one(struct fixture *f, char **rcpt, size_t nrcpt, struct queue_msg *m)
{
	struct queue_new n;
	struct queue_msg own;
	struct envelope e;
	char err[256];
	memset(&e, 0, sizeof(e));
	e.sender = (char *)SENDER;
	e.rcpt = rcpt;
	e.nrcpt = nrcpt;
	assert_int_equal(queue_new_begin(f->q, &e, time(NULL), &n, err, sizeof(err)), 0);
	assert_int_equal(queue_new_write(&n, DATA, strlen(DATA)), 0);
	assert_int_equal(queue_new_commit(f->q, &n, false, m != NULL ? m : &own, err,
					  sizeof(err)), 0);
	if (m == NULL)
		queue_release(&own);
}

/* end_server - the scripted server followed its script to the end */
static void end_server(pid_t pid, const char *label)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s: the client left the script (status %d)", label, status);
}

/* one attempt at one message: what judge and tally make of the replies, and settle's choice */
struct attempt_case {
	const char *name;
	const char *script[SCRIPT_MAX];
	unsigned sent, deferred, rejected;
	bool tx_rejected;
	int reason_code;		/* rep.reason.code */
	const char *refused;		/* rep.refused */
	const char *where;		/* where settle put it: "q", "failed" or NULL (gone) */
};

static const struct attempt_case attempt_cases[] = {
	{ "both accepted: done", .script = { GREET, MAIL, "S:250 ok", "C:RCPT TO:<a@x>",
		"S:250 ok", "C:RCPT TO:<b@x>", "S:250 ok", "C:DATA", BODY, "S:250 queued" },
	  .sent = 2, .reason_code = 250, .refused = "" },
	{ "one 550, one sent: failed/, the refusal the reason", .script = { GREET, MAIL,
		"S:250 ok", "C:RCPT TO:<a@x>", "S:550 5.1.1 no such user", "C:RCPT TO:<b@x>",
		"S:250 ok", "C:DATA", BODY, "S:250 queued" },
	  .sent = 1, .rejected = 1, .reason_code = 550, .refused = "a@x", .where = "failed" },
	{ "one 450, one sent: deferred", .script = { GREET, MAIL, "S:250 ok",
		"C:RCPT TO:<a@x>", "S:450 4.2.1 mailbox busy", "C:RCPT TO:<b@x>", "S:250 ok",
		"C:DATA", BODY, "S:250 queued" },
	  .sent = 1, .deferred = 1, .reason_code = 450, .refused = "", .where = "q" },
	{ "end of data 554: both refused with the transaction", .script = { GREET, MAIL,
		"S:250 ok", "C:RCPT TO:<a@x>", "S:250 ok", "C:RCPT TO:<b@x>", "S:250 ok",
		"C:DATA", BODY, "S:554 5.7.1 spam", "C:RSET", "S:250 ok" },
	  .rejected = 2, .tx_rejected = true, .reason_code = 554, .refused = "a@x",
	  .where = "failed" },
	{ "550 to one, 451 at the end: the 550 stands, the other waits", .script = { GREET,
		MAIL, "S:250 ok", "C:RCPT TO:<a@x>", "S:550 5.1.1 no such user",
		"C:RCPT TO:<b@x>", "S:250 ok", "C:DATA", BODY, "S:451 4.3.0 try later",
		"C:RSET", "S:250 ok" },
	  .deferred = 1, .rejected = 1, .reason_code = 550, .refused = "a@x", .where = "q" },
	{ "MAIL 421: both wait, the session is gone", .script = { GREET, MAIL,
		"S:421 4.3.2 busy" },
	  .deferred = 2, .reason_code = 421, .refused = "", .where = "q" },
};

/* count_in - entries of the spool's subdirectory sub (failed/ keeps two per message) */
static int count_in(const struct fixture *f, const char *sub)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/%s", f->dir, sub), c = 0;
	assert_true(n > 0 && (size_t)n < sizeof(path));
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		c += de->d_name[0] != '.';
	closedir(d);
	return c;
}

/* test_attempt - deliver_message: judge, tally and settle, row by row */
static void test_attempt(void **state)
{
	struct fixture *f = *state;
	char *rcpt[] = { "a@x", "b@x" };
	for (size_t i = 0; i < N(attempt_cases); i++) {
		row_label("%s", attempt_cases[i].name);
		const struct attempt_case *c = &attempt_cases[i];
		struct deliver_report rep;
		struct queue_msg m;
		unsigned port;
		int q0 = count_in(f, "q"), failed0 = count_in(f, "failed");
		pid_t pid = start_server(c->script, &port);
		f->conf.smarthost.port = port;
		queue_one(f, rcpt, 2, &m);
		struct deliver *d = deliver_new(&f->conf, f->q);
		assert_non_null(d);
		int r = deliver_message(d, &m, DELIVER_BOUNCE_NEVER, &rep);
		deliver_free(d);
		end_server(pid, c->name);
		if (r != 0 || rep.sent != c->sent || rep.deferred != c->deferred ||
		    rep.rejected != c->rejected || rep.tx_rejected != c->tx_rejected ||
		    rep.reason.code != c->reason_code || strcmp(rep.refused, c->refused) != 0)
			fail_msg("%s: got r %d, sent %u, deferred %u, rejected %u, tx %d, "
				 "reason %d, refused \"%s\"", c->name, r, rep.sent, rep.deferred,
				 rep.rejected, rep.tx_rejected, rep.reason.code, rep.refused);
		int in_q = count_in(f, "q") - q0, in_failed = count_in(f, "failed") - failed0;
		bool want_q = c->where != NULL && strcmp(c->where, "q") == 0;
		bool want_failed = c->where != NULL && strcmp(c->where, "failed") == 0;
		if (in_q != want_q || (in_failed > 0) != want_failed)
			fail_msg("%s: settled in q %d, failed %d; want %s", c->name, in_q,
				 in_failed, c->where != NULL ? c->where : "gone");
	}
	row_label_done();
}

/* a queue run of two messages: which replies throttle, and what waits untried */
struct throttle_case {
	const char *name;
	const char *script[SCRIPT_MAX];
	bool throttled;
	int tried, untried;		/* messages left: with one attempt, and postponed */
	const char *why;		/* the postponed ones' last error begins so */
	size_t nrcpt;			/* recipients of each message (0: one) */
};

#define THROTTLED "not tried: the smarthost throttled ("

static const struct throttle_case throttle_cases[] = {
	{ "421 to MAIL throttles: the other waits untried", .script = { GREET, MAIL,
		"S:421 4.7.0 slow down" },
	  .throttled = true, .tried = 1, .untried = 1,
	  .why = THROTTLED "421 4.7.0 slow down)" },
	{ "4.7.1 to RCPT throttles", .script = { GREET, MAIL, "S:250 ok", "C:RCPT TO:<a@x>",
		"S:451 4.7.1 rate limited", "C:RSET", "S:250 ok" },
	  .throttled = true, .tried = 1, .untried = 1,
	  .why = THROTTLED "451 4.7.1 rate limited)" },
	{ "4.7.1 to one RCPT of two, the other sent: throttles", .script = { GREET, MAIL,
		"S:250 ok", "C:RCPT TO:<a@x>", "S:451 4.7.1 rate limited", "C:RCPT TO:<b@x>",
		"S:250 ok", "C:DATA", BODY, "S:250 queued" },
	  .throttled = true, .tried = 1, .untried = 1, .nrcpt = 2,
	  .why = THROTTLED "451 4.7.1 rate limited)" },
	{ "4.3.2 to MAIL throttles", .script = { GREET, MAIL, "S:452 4.3.2 too many",
		"C:RSET", "S:250 ok" },
	  .throttled = true, .tried = 1, .untried = 1,
	  .why = THROTTLED "452 4.3.2 too many)" },
	{ "4.3.0 does not throttle: the other goes", .script = { GREET, MAIL,
		"S:451 4.3.0 try later", "C:RSET", "S:250 ok", MAIL, "S:250 ok",
		"C:RCPT TO:<a@x>", "S:250 ok", "C:DATA", BODY, "S:250 queued" },
	  .tried = 1 },
	{ "4.2.1 to RCPT does not throttle", .script = { GREET, MAIL, "S:250 ok",
		"C:RCPT TO:<a@x>", "S:450 4.2.1 busy", "C:RSET", "S:250 ok", MAIL, "S:250 ok",
		"C:RCPT TO:<a@x>", "S:250 ok", "C:DATA", BODY, "S:250 queued" },
	  .tried = 1 },
};

/* the messages a run left in the queue, sorted by their attempts and last error */
struct left {
	struct fixture *f;
	const char *why;
	int tried, untried, other;
};

/* tally_left - queue_walk callback: sort one message left in the queue */
static int tally_left(void *ctx, const char *id)
{
	struct left *l = ctx;
	struct queue_msg m;
	char err[256];
	assert_int_equal(queue_lock(l->f->q, id, &m, err, sizeof(err)), QUEUE_LOCKED);
	if (m.attempts == 1)
		l->tried++;
	else if (m.attempts == 0 && l->why != NULL && m.last_error != NULL &&
		 strncmp(m.last_error, l->why, strlen(l->why)) == 0 && m.next_try > time(NULL))
		l->untried++;
	else
		l->other++;
	queue_release(&m);
	return 0;
}

/* drop_one - queue_walk callback: remove one message a case left */
static int drop_one(void *ctx, const char *id)
{
	struct fixture *f = ctx;
	struct queue_msg m;
	char err[256];
	assert_int_equal(queue_lock(f->q, id, &m, err, sizeof(err)), QUEUE_LOCKED);
	assert_int_equal(queue_done(f->q, &m), 0);
	return 0;
}

/* test_throttle - deliver_queue: which replies stop the run, what is postponed untried */
static void test_throttle(void **state)
{
	struct fixture *f = *state;
	char *rcpt[] = { "a@x", "b@x" };
	for (size_t i = 0; i < N(throttle_cases); i++) {
		row_label("%s", throttle_cases[i].name);
		const struct throttle_case *c = &throttle_cases[i];
		struct deliver_select sel = { 0 };
		struct left l = { .f = f, .why = c->why };
		unsigned port;
		pid_t pid = start_server(c->script, &port);
		f->conf.smarthost.port = port;
		size_t nrcpt = c->nrcpt != 0 ? c->nrcpt : 1;
		queue_one(f, rcpt, nrcpt, NULL);
		queue_one(f, rcpt, nrcpt, NULL);
		struct deliver *d = deliver_new(&f->conf, f->q);
		assert_non_null(d);
		int left = deliver_queue(d, &sel);
		bool throttled = deliver_throttled(d);
		deliver_free(d);
		end_server(pid, c->name);
		assert_int_equal(queue_walk(f->q, tally_left, &l), 0);
		if (throttled != c->throttled || l.tried != c->tried || l.untried != c->untried ||
		    l.other != 0 || left != 2 - c->tried - c->untried)
			fail_msg("%s: throttled %d, left the queue %d, tried %d, untried %d, "
				 "other %d", c->name, throttled, left, l.tried, l.untried, l.other);
		assert_int_equal(queue_walk(f->q, drop_one, f), 0);
	}
	row_label_done();
}

/* main - run everything */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_throttle, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
