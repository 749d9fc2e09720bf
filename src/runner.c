/* runner - one coalescing queue runner per user; see runner.h */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"

/* the wake-up count is looked at this often while a runner lingers */
#define RUNNER_POLL_MS 10

/* woken - did the count move from seen within ms milliseconds? */
static bool woken(const struct queue_runner *r, unsigned long long seen, unsigned ms)
{
	const struct timespec step = { 0, RUNNER_POLL_MS * 1000 * 1000 };
	for (unsigned waited = 0; waited < ms; waited += RUNNER_POLL_MS) {
		if (queue_runner_wakes(r) != seen)
			return true;
		nanosleep(&step, NULL);
	}
	return queue_runner_wakes(r) != seen;
}

/*
 * work - with r's lock held: deliver what is due, over one deliverer (so
 * one session), looking again while submissions keep coming; ends with
 * the lock let go. 0, or -1 when the queue could not be read.
 */
static int work(const struct conf *c, struct queue *q, struct queue_runner *r)
{
	const struct deliver_select due = { 0 };
	struct deliver *d = deliver_new(c, q);
	int ret = 0;
	if (d == NULL) {
		queue_runner_unlock(r);
		return -1;
	}
	for (;;) {
		(void)queue_runner_trim(q, r);
		unsigned long long seen = queue_runner_wakes(r);
		if (deliver_queue(d, &due) < 0) {
			ret = -1;
			break;
		}
		if (queue_runner_wakes(r) != seen)
			continue;
		/* a throttled run opens no session: nothing to keep warm */
		if (!deliver_throttled(d) && woken(r, seen, RUNNER_LINGER_MS))
			continue;
		queue_runner_unlock(r);
		/*
		 * A submission that found the lock taken counted itself before it
		 * tried; we let go after that, so its count is visible now.
		 */
		if (queue_runner_wakes(r) == seen || !queue_runner_relock(r))
			break;
	}
	queue_runner_unlock(r);
	deliver_free(d);
	return ret;
}

/* detach - a background process: own session, no terminal, stdio on /dev/null */
static void detach(void)
{
	(void)setsid();
	int null = open("/dev/null", O_RDWR);
	if (null < 0)
		return;
	(void)dup2(null, 0);
	(void)dup2(null, 1);
	(void)dup2(null, 2);
	if (null > 2)
		close(null);
}

/* runner_hand_off - release m, wake this user's runner or start one */
int runner_hand_off(const struct conf *c, struct queue *q, struct queue_msg *m)
{
	char id[QUEUE_ID_LEN + 1], err[512];
	struct queue_runner r;
	memcpy(id, m->id, sizeof id);
	/* unlocked before the wake-up: the runner that sees it must be able to take it */
	queue_release(m);
	if (queue_wake(q, err, sizeof err) < 0) {
		log_info("message queued as %s (cannot wake the queue runner: %s)", id, err);
		return -1;
	}
	switch (queue_runner_take(q, &r, err, sizeof err)) {
	case QUEUE_LOCKED:
		break;
	case QUEUE_BUSY:
		return 0;	/* the runner at work takes it */
	default:
		log_info("message queued as %s (cannot start the queue runner: %s)", id, err);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_info("message queued as %s (cannot start the queue runner: %s)", id,
			 strerror(errno));
		queue_runner_close(&r);
		return -1;
	}
	if (pid > 0) {
		queue_runner_close(&r);	/* the child's copy keeps the lock */
		return 0;
	}
	detach();
	(void)work(c, q, &r);
	queue_runner_close(&r);
	_exit(0);
}

/* runner_run - the runner in the foreground */
int runner_run(const struct conf *c, struct queue *q)
{
	char err[512];
	struct queue_runner r;
	switch (queue_runner_take(q, &r, err, sizeof err)) {
	case QUEUE_LOCKED:
		break;
	case QUEUE_BUSY:
		return 0;
	default:
		log_error("%s", err);
		return -1;
	}
	int ret = work(c, q, &r);
	queue_runner_close(&r);
	if (ret < 0)
		log_error("%s: cannot read the queue", c->queue.dir);
	return ret;
}
