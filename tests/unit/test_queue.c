/* test_queue - the spool: commit, lock, state, fail, walk, clean, parser */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue.h"
#include "row_label.h"
#include "spool_fixture.h"

struct fixture {
	char dir[64];
	struct queue *q;
};

/* setup - a fresh spool in a temp dir */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	spool_make(f->dir, sizeof(f->dir), &f->q, "test_queue");
	*state = f;
	return 0;
}

/* teardown - remove the spool */
static int teardown(void **state)
{
	struct fixture *f = *state;
	spool_remove(f->dir, f->q);
	free(f);
	return 0;
}

/* count_entries - names in dir/sub other than . and .. */
static int count_entries(struct fixture *f, const char *sub)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/%s", f->dir, sub);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	DIR *d = opendir(path);
	assert_non_null(d);
	int c = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			c++;
	closedir(d);
	return c;
}

/* exists - dir/sub/name exists */
static bool exists(struct fixture *f, const char *sub, const char *name)
{
	char path[512];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s/%s", f->dir, sub, name);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	return lstat(path, &st) == 0;
}

static char *two_rcpt[] = { "bob@example.org", "carol@example.net" };

/* make_env - an envelope filled by hand */
static void make_env(struct envelope *e, const char *sender)
{
	memset(e, 0, sizeof(*e));
	e->sender = (char *)sender;
	e->rcpt = two_rcpt;
	e->nrcpt = 2;
}

static const char data[] = "Subject: hi\r\nFrom: a@example.com\r\n\r\nbody line\r\n.dot\r\n";

/* commit_one - queue a message and return it locked in m */
static void commit_one(struct fixture *f, const struct envelope *e, time_t arrival,
		       bool eightbit, struct queue_msg *m)
{
	struct queue_new n;
	char err[256];
	assert_int_equal(queue_new_begin(f->q, e, arrival, &n, err, sizeof(err)), 0);
	assert_int_equal(queue_new_write(&n, data, 20), 0);
	assert_int_equal(queue_new_write(&n, data + 20, sizeof(data) - 1 - 20), 0);
	assert_int_equal(queue_new_commit(f->q, &n, eightbit, m, err, sizeof(err)), 0);
}

/* read_data - the message data of m from its fd */
static void read_data(const struct queue_msg *m, char *out, size_t outlen)
{
	ssize_t r = pread(m->fd, out, outlen - 1, m->data_off);
	assert_true(r >= 0);
	out[r] = '\0';
}

/* test_commit_roundtrip - every field comes back as written */
static void test_commit_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_msg m, r;
	char err[256], got[256];
	make_env(&e, "alice@example.com");
	e.notify = "SUCCESS,FAILURE";
	e.ret = "HDRS";
	e.envid = "env-42";
	commit_one(f, &e, 1795748638, true, &m);
	assert_true(queue_valid_id(m.id));
	assert_true(m.locked);
	assert_memory_equal(m.id, "6B08F31E", 8);	/* the arrival second in hex */
	assert_int_equal(m.arrival, 1795748638);
	assert_string_equal(m.sender, "alice@example.com");
	assert_int_equal(m.nrcpt, 2);
	assert_string_equal(m.rcpt[0], "bob@example.org");
	assert_string_equal(m.rcpt[1], "carol@example.net");
	assert_string_equal(m.notify, "SUCCESS,FAILURE");
	assert_string_equal(m.ret, "HDRS");
	assert_string_equal(m.envid, "env-42");
	assert_true(m.eightbit);
	assert_int_equal(m.size, sizeof(data) - 1);
	assert_int_equal(m.attempts, 0);
	assert_null(m.last_error);
	read_data(&m, got, sizeof(got));
	assert_string_equal(got, data);
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_true(exists(f, "q", m.id));

	/* read back from disk by a second reader: busy while m holds it */
	assert_int_equal(queue_read(f->q, m.id, &r, err, sizeof(err)), 0);
	assert_true(r.busy);
	assert_false(r.locked);
	assert_string_equal(r.envid, "env-42");
	assert_true(r.eightbit);
	read_data(&r, got, sizeof(got));
	assert_string_equal(got, data);
	queue_release(&r);
	queue_release(&m);
	assert_int_equal(m.fd, -1);
}

/* test_null_sender_7bit - <> and 7BIT survive, no DSN fields */
static void test_null_sender_7bit(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_msg m;
	char err[256];
	make_env(&e, "");
	commit_one(f, &e, 1000, false, &m);
	char id[QUEUE_ID_LEN + 1];
	memcpy(id, m.id, sizeof(id));
	queue_release(&m);
	assert_int_equal(queue_read(f->q, id, &m, err, sizeof(err)), 0);
	assert_false(m.busy);
	assert_string_equal(m.sender, "");
	assert_false(m.eightbit);
	assert_null(m.notify);
	assert_null(m.ret);
	assert_null(m.envid);
	queue_release(&m);
}

/* test_refuse_line_breaks - a value with CR or LF is never written */
static void test_refuse_line_breaks(void **state)
{
	struct fixture *f = *state;
	static char *bad_rcpt[] = { "bob@example.org\r\nrcpt evil@x" };
	struct envelope e;
	struct queue_new n;
	char err[256];
	make_env(&e, "alice@example.com");
	e.rcpt = bad_rcpt;
	e.nrcpt = 1;
	assert_int_equal(queue_new_begin(f->q, &e, 1000, &n, err, sizeof(err)), -1);
	make_env(&e, "alice@example.com\nrcpt evil@x");
	assert_int_equal(queue_new_begin(f->q, &e, 1000, &n, err, sizeof(err)), -1);
	make_env(&e, "a@b");
	e.nrcpt = 0;
	assert_int_equal(queue_new_begin(f->q, &e, 1000, &n, err, sizeof(err)), -1);
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_int_equal(count_entries(f, "q"), 0);
}

/* collect - queue_walk callback gathering ids */
static int collect(void *ctx, const char *id)
{
	char (*ids)[QUEUE_ID_LEN + 1] = ctx;
	for (int i = 0; i < 8; i++)
		if (ids[i][0] == '\0') {
			memcpy(ids[i], id, QUEUE_ID_LEN + 1);
			return 0;
		}
	return -1;
}

/* test_tmp_invisible_and_abort - nothing shows before commit; abort leaves nothing */
static void test_tmp_invisible_and_abort(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_new n;
	char err[256];
	char ids[8][QUEUE_ID_LEN + 1];
	make_env(&e, "alice@example.com");
	assert_int_equal(queue_new_begin(f->q, &e, 1000, &n, err, sizeof(err)), 0);
	assert_int_equal(queue_new_write(&n, data, sizeof(data) - 1), 0);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(queue_walk(f->q, collect, ids), 0);
	assert_int_equal(ids[0][0], '\0');
	assert_int_equal(count_entries(f, "tmp"), 1);
	queue_new_abort(f->q, &n);
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_int_equal(count_entries(f, "q"), 0);
}

/* test_walk_order - oldest first whatever the directory order, foreign names ignored */
static void test_walk_order(void **state)
{
	struct fixture *f = *state;
	static const time_t arrivals[] = { 3000, 1000, 5000, 2000, 4000 };
	struct envelope e;
	struct queue_msg m;
	char ids[8][QUEUE_ID_LEN + 1], byage[5][QUEUE_ID_LEN + 1];
	make_env(&e, "alice@example.com");
	for (size_t i = 0; i < 5; i++) {
		commit_one(f, &e, arrivals[i], false, &m);
		memcpy(byage[arrivals[i] / 1000 - 1], m.id, QUEUE_ID_LEN + 1);
		queue_release(&m);
	}
	int qd = spool_subdir(f->dir, "q");
	int fd = openat(qd, "junk.tmp", O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	fd = openat(qd, "0000000000000abc", O_CREAT | O_WRONLY, 0600);	/* lower case */
	assert_true(fd >= 0);
	close(fd);
	close(qd);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(queue_walk(f->q, collect, ids), 0);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(ids[i], byage[i]);
	assert_int_equal(ids[5][0], '\0');
}

/* test_lock_busy_gone - one holder at a time; a finished message is GONE */
static void test_lock_busy_gone(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_msg m, m2;
	char err[256], id[QUEUE_ID_LEN + 1];
	make_env(&e, "alice@example.com");
	commit_one(f, &e, 1000, false, &m);
	memcpy(id, m.id, sizeof(id));
	/* a second open file description conflicts, even in this process */
	assert_int_equal(queue_lock(f->q, id, &m2, err, sizeof(err)), QUEUE_BUSY);
	queue_release(&m);
	assert_int_equal(queue_lock(f->q, id, &m, err, sizeof(err)), QUEUE_LOCKED);
	assert_true(m.locked);
	assert_int_equal(queue_lock(f->q, id, &m2, err, sizeof(err)), QUEUE_BUSY);
	assert_int_equal(queue_done(f->q, &m), 0);
	assert_false(exists(f, "q", id));
	assert_int_equal(queue_lock(f->q, id, &m2, err, sizeof(err)), QUEUE_GONE);
	assert_int_equal(queue_read(f->q, id, &m2, err, sizeof(err)), -1);
}

/* in_child - run fn(f, id) in a child process; its result (the child's exit status) */
static int in_child(int (*fn)(struct fixture *f, const char *id), struct fixture *f, const char *id)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(f, id));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* try_lock_id - queue_lock's result for id (the lock is let go again) */
static int try_lock_id(struct fixture *f, const char *id)
{
	struct queue_msg m;
	char err[256];
	enum queue_lock_result r = queue_lock(f->q, id, &m, err, sizeof(err));
	if (r == QUEUE_LOCKED)
		queue_release(&m);
	return (int)r;
}

/* child_lock - in a child process, try to lock id; its queue_lock result */
static int child_lock(struct fixture *f, const char *id)
{
	return in_child(try_lock_id, f, id);
}

/* test_lock_other_process - the submitter's lock holds against another runner */
static void test_lock_other_process(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_msg m;
	char id[QUEUE_ID_LEN + 1];
	make_env(&e, "alice@example.com");
	commit_one(f, &e, 1000, false, &m);
	memcpy(id, m.id, sizeof(id));
	assert_int_equal(child_lock(f, id), QUEUE_BUSY);
	queue_release(&m);
	assert_int_equal(child_lock(f, id), QUEUE_LOCKED);
}

/* as_nobody - in a child: become an unprivileged user (not the owner of anything here) */
static void as_nobody(void)
{
	if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
		_exit(100);
}

/* foreign_view - as nobody: 0 when id cannot be locked but reads fine, unprobed */
static int foreign_view(struct fixture *f, const char *id)
{
	struct queue_msg c;
	char err[256];
	as_nobody();
	if (queue_lock(f->q, id, &c, err, sizeof(err)) != QUEUE_FOREIGN)
		return 1;
	if (queue_read(f->q, id, &c, err, sizeof(err)) != 0)
		return 2;
	int r = c.busy || strcmp(c.sender, "alice@example.com") != 0 ? 3 : 0;
	queue_release(&c);
	return r;
}

/* test_foreign_message - another user's message: never locked, listed without a probe */
static void test_foreign_message(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_msg m;
	char id[QUEUE_ID_LEN + 1], path[600];
	if (geteuid() != 0)
		skip();		/* it needs chown and setresuid */
	make_env(&e, "alice@example.com");
	commit_one(f, &e, 1000, false, &m);	/* root's, and locked by us */
	memcpy(id, m.id, sizeof(id));
	/* let the child reach and read it, as the spool's group would */
	assert_int_equal(chmod(f->dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/q", f->dir);
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/s", f->dir);
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/q/%s", f->dir, id);
	assert_int_equal(chown(path, 0, 65534), 0);	/* the spool's group: the child's */
	assert_int_equal(in_child(foreign_view, f, id), 0);
	/* our own (root: any) message is probed: busy while we hold it */
	struct queue_msg r;
	char err[256];
	assert_int_equal(queue_read(f->q, id, &r, err, sizeof(err)), 0);
	assert_true(r.busy);
	queue_release(&r);
	queue_release(&m);
}

/* try_take - queue_runner_take's result (the lock is let go again) */
static int try_take(struct fixture *f, const char *unused)
{
	struct queue_runner r;
	char err[256];
	(void)unused;
	enum queue_lock_result res = queue_runner_take(f->q, &r, err, sizeof(err));
	queue_runner_close(&r);
	return (int)res;
}

/* child_take - in a child process, try the runner lock; its result */
static int child_take(struct fixture *f)
{
	return in_child(try_take, f, NULL);
}

/* test_runner_lock - one runner per user; wake-ups counted; let go and taken back */
static void test_runner_lock(void **state)
{
	struct fixture *f = *state;
	struct queue_runner r;
	char err[256], path[600];
	assert_int_equal(queue_runner_take(f->q, &r, err, sizeof(err)), QUEUE_LOCKED);
	assert_int_equal(child_take(f), QUEUE_BUSY);
	unsigned long long w = queue_runner_wakes(&r);
	assert_int_equal(queue_wake(f->q, err, sizeof(err)), 0);
	assert_int_equal(queue_wake(f->q, err, sizeof(err)), 0);
	assert_int_equal(queue_runner_wakes(&r), w + 2);
	queue_runner_unlock(&r);
	assert_int_equal(queue_runner_wakes(&r), w + 2);	/* still readable */
	assert_int_equal(child_take(f), QUEUE_LOCKED);
	assert_true(queue_runner_relock(&r));
	assert_int_equal(child_take(f), QUEUE_BUSY);
	/* a long count is emptied; a short one is kept */
	assert_int_equal(queue_runner_trim(f->q, &r), 0);
	assert_int_equal(queue_runner_wakes(&r), w + 2);
	snprintf(path, sizeof(path), "%s/run/%lu", f->dir, (unsigned long)getuid());
	assert_int_equal(truncate(path, 70000), 0);
	assert_int_equal(queue_runner_trim(f->q, &r), 0);
	assert_int_equal(queue_runner_wakes(&r), 0);
	queue_runner_close(&r);
	assert_int_equal(child_take(f), QUEUE_LOCKED);
	/* run/UID must be a plain file of ours: a second name (hard link) is refused ... */
	char other[600];
	snprintf(other, sizeof(other), "%s/run/extra", f->dir);
	assert_int_equal(link(path, other), 0);
	assert_int_equal(queue_runner_take(f->q, &r, err, sizeof(err)), QUEUE_ERROR);
	assert_non_null(strstr(err, "not a regular file of this user"));
	assert_int_equal(queue_wake(f->q, err, sizeof(err)), -1);
	assert_int_equal(unlink(other), 0);
	/* ... and so is a symlink */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(queue_runner_take(f->q, &r, err, sizeof(err)), QUEUE_ERROR);
	assert_non_null(strstr(err, "/run/"));
	assert_int_equal(queue_wake(f->q, err, sizeof(err)), -1);
	assert_int_equal(unlink(path), 0);
}

/* test_large_message - data past the write buffer arrives intact, 8BIT patched */
static void test_large_message(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_new n;
	struct queue_msg m;
	char err[256], chunk[7001];
	size_t total = 0;
	make_env(&e, "alice@example.com");
	assert_int_equal(queue_new_begin(f->q, &e, 1000, &n, err, sizeof(err)), 0);
	for (int i = 0; i < 40; i++) {
		for (size_t k = 0; k < sizeof(chunk); k++)
			chunk[k] = (char)('a' + (total + k) % 26);
		assert_int_equal(queue_new_write(&n, chunk, sizeof(chunk)), 0);
		total += sizeof(chunk);
	}
	assert_int_equal(queue_new_commit(f->q, &n, true, &m, err, sizeof(err)), 0);
	assert_int_equal(m.size, total);
	assert_true(m.eightbit);
	char *got = malloc(total);
	assert_non_null(got);
	assert_int_equal(pread(m.fd, got, total, m.data_off), (ssize_t)total);
	for (size_t k = 0; k < total; k++)
		if (got[k] != (char)('a' + k % 26))
			fail_msg("byte %zu differs", k);
	free(got);
	queue_release(&m);
}

/* test_lock_checks_file - extra links and bad ids are refused */
static void test_lock_checks_file(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_msg m;
	char err[256], id[QUEUE_ID_LEN + 1];
	make_env(&e, "alice@example.com");
	commit_one(f, &e, 1000, false, &m);
	memcpy(id, m.id, sizeof(id));
	queue_release(&m);
	int qd = spool_subdir(f->dir, "q"), top = spool_subdir(f->dir, ".");
	assert_int_equal(linkat(qd, id, top, "extra", 0), 0);
	assert_int_equal(queue_lock(f->q, id, &m, err, sizeof(err)), QUEUE_ERROR);
	assert_int_equal(unlinkat(top, "extra", 0), 0);
	close(qd);
	close(top);
	assert_int_equal(queue_lock(f->q, id, &m, err, sizeof(err)), QUEUE_LOCKED);
	queue_release(&m);
	assert_int_equal(queue_lock(f->q, "../q/0123456789A", &m, err, sizeof(err)),
			 QUEUE_ERROR);
	assert_int_equal(queue_lock(f->q, "0123456789ABCDEF", &m, err, sizeof(err)),
			 QUEUE_GONE);
}

/* test_defer_state - attempts, next, error and done flags persist */
static void test_defer_state(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_msg m;
	char err[256], id[QUEUE_ID_LEN + 1], path[512], text[512];
	make_env(&e, "alice@example.com");
	commit_one(f, &e, 1000, false, &m);
	memcpy(id, m.id, sizeof(id));
	m.rcpt_done[1] = true;
	assert_int_equal(queue_defer(f->q, &m, "451 4.3.0 try\tlater\x01", 5000), 0);
	assert_int_equal(m.fd, -1);
	int n = snprintf(path, sizeof(path), "%s/s/%s", f->dir, id);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t len = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[len] = '\0';
	assert_string_equal(text, "relaymail-state 1\nattempts 1\nnext 5000\n"
				  "error 451 4.3.0 try?later?\ndone 1\n");
	assert_int_equal(queue_lock(f->q, id, &m, err, sizeof(err)), QUEUE_LOCKED);
	assert_int_equal(m.attempts, 1);
	assert_int_equal(m.next_try, 5000);
	assert_string_equal(m.last_error, "451 4.3.0 try?later?");
	assert_false(m.rcpt_done[0]);
	assert_true(m.rcpt_done[1]);
	assert_int_equal(queue_defer(f->q, &m, "421 gone", 9000), 0);
	assert_int_equal(queue_read(f->q, id, &m, err, sizeof(err)), 0);
	assert_int_equal(m.attempts, 2);
	assert_string_equal(m.last_error, "421 gone");
	assert_int_equal(count_entries(f, "s"), 1);	/* no temp state left over */
	assert_int_equal(queue_done(f->q, &m), 0);
	assert_int_equal(count_entries(f, "s"), 0);
	assert_int_equal(count_entries(f, "q"), 0);
}

/* test_fail_moves - both files go to failed/ */
static void test_fail_moves(void **state)
{
	struct fixture *f = *state;
	struct envelope e;
	struct queue_msg m;
	char id[QUEUE_ID_LEN + 1], statename[64];
	make_env(&e, "alice@example.com");
	commit_one(f, &e, 1000, false, &m);
	memcpy(id, m.id, sizeof(id));
	assert_int_equal(queue_fail(f->q, &m, "550 5.1.1 no such user"), 0);
	int n = snprintf(statename, sizeof(statename), "%s.state", id);
	assert_true(n > 0 && (size_t)n < sizeof(statename));
	assert_true(exists(f, "failed", id));
	assert_true(exists(f, "failed", statename));
	assert_false(exists(f, "q", id));
	assert_false(exists(f, "s", id));
	assert_int_equal(count_entries(f, "failed"), 2);
}

/* finish_one - write a message and leave it pending in tmp/ (queue_new_finish) */
static void finish_one(struct fixture *f, struct queue_msg *m)
{
	struct envelope e;
	struct queue_new n;
	char err[256];
	make_env(&e, "alice@example.com");
	assert_int_equal(queue_new_begin(f->q, &e, 1000, &n, err, sizeof(err)), 0);
	assert_int_equal(queue_new_write(&n, data, sizeof(data) - 1), 0);
	assert_int_equal(queue_new_finish(f->q, &n, true, m, err, sizeof(err)), 0);
	assert_true(m->pending);
	assert_true(m->locked);
	assert_true(m->eightbit);
	assert_int_equal(m->nrcpt, 2);
}

/* test_pending_invisible_then_done - a pending message is in tmp/ only; done removes it */
static void test_pending_invisible_then_done(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m;
	char ids[8][QUEUE_ID_LEN + 1], id[QUEUE_ID_LEN + 1], body[256];
	finish_one(f, &m);
	memcpy(id, m.id, sizeof(id));
	read_data(&m, body, sizeof(body));
	assert_string_equal(body, data);
	assert_true(exists(f, "tmp", id));
	assert_int_equal(count_entries(f, "q"), 0);
	assert_false(queue_holds(f->q, id));
	memset(ids, 0, sizeof(ids));
	assert_int_equal(queue_walk(f->q, collect, ids), 0);
	assert_int_equal(ids[0][0], '\0');	/* no runner can see it */
	/* its writer is alive and holds the lock: the sweep leaves it */
	queue_sweep(f->q, 0);
	assert_true(exists(f, "tmp", id));
	assert_int_equal(queue_done(f->q, &m), 0);
	assert_int_equal(m.fd, -1);
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_int_equal(count_entries(f, "q"), 0);
	assert_false(queue_holds(f->q, id));
}

/* test_pending_defer_commits - a deferred pending message becomes an ordinary queued one */
static void test_pending_defer_commits(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m;
	char err[256], id[QUEUE_ID_LEN + 1];
	finish_one(f, &m);
	memcpy(id, m.id, sizeof(id));
	assert_int_equal(queue_defer(f->q, &m, "421 4.3.2 busy", 5000), 0);
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_true(exists(f, "q", id));
	assert_true(exists(f, "s", id));
	assert_true(queue_holds(f->q, id));
	assert_int_equal(queue_lock(f->q, id, &m, err, sizeof(err)), QUEUE_LOCKED);
	assert_false(m.pending);
	assert_true(m.eightbit);
	assert_int_equal(m.attempts, 1);
	assert_string_equal(m.last_error, "421 4.3.2 busy");
	assert_int_equal(queue_done(f->q, &m), 0);
	assert_int_equal(count_entries(f, "q"), 0);
	assert_int_equal(count_entries(f, "s"), 0);
}

/* test_pending_fail_commits - a refused pending message is kept in failed/ */
static void test_pending_fail_commits(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m;
	char id[QUEUE_ID_LEN + 1];
	finish_one(f, &m);
	memcpy(id, m.id, sizeof(id));
	assert_int_equal(queue_fail(f->q, &m, "554 5.7.1 no"), 0);
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_int_equal(count_entries(f, "q"), 0);
	assert_true(exists(f, "failed", id));
	assert_true(queue_holds(f->q, id));
}

/* test_pending_keep_failure - a commit that fails removes the temp file and says which step */
static void test_pending_keep_failure(void **state)
{
	struct fixture *f = *state;
	struct queue_msg m;
	char err[256], id[QUEUE_ID_LEN + 1];
	finish_one(f, &m);
	memcpy(id, m.id, sizeof(id));
	/* the message already under that name in q/: the no-replace rename refuses */
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/q/%s", f->dir, id);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(queue_keep(f->q, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot queue the message (rename into q/)"));
	assert_int_equal(m.fd, -1);
	assert_false(m.pending);
	assert_int_equal(count_entries(f, "tmp"), 0);
	/* a committed message needs nothing */
	struct envelope e;
	make_env(&e, "alice@example.com");
	commit_one(f, &e, 1000, false, &m);
	assert_false(m.pending);
	assert_int_equal(queue_keep(f->q, &m, err, sizeof(err)), 0);
	assert_int_equal(m.fd >= 0, 1);
	queue_release(&m);
}

/* test_open_fresh_spool - without create, an empty spool dir lists nothing */
static void test_open_fresh_spool(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_queue_fresh.XXXXXX", err[256];
	char ids[8][QUEUE_ID_LEN + 1];
	assert_non_null(mkdtemp(dir));
	struct queue *q = queue_open(dir, false, err, sizeof(err));
	assert_non_null(q);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(queue_walk(q, collect, ids), 0);
	assert_int_equal(ids[0][0], '\0');
	queue_sweep(q, 30 * 86400);
	queue_close(q);
	assert_int_equal(rmdir(dir), 0);	/* nothing was created */
	assert_null(queue_open(dir, false, err, sizeof(err)));
}

/* test_valid_id - table of ids */
static void test_valid_id(void **state)
{
	(void)state;
	static const struct {
		const char *id;
		bool ok;
	} cases[] = {
		{ "0123456789ABCDEF", true },
		{ "FFFFFFFFFFFFFFFF", true },
		{ "0123456789abcdef", false },
		{ "0123456789ABCDE", false },
		{ "0123456789ABCDEF0", false },
		{ "0123456789ABCDEG", false },
		{ "../../etc/passwd", false },
		{ "01234567/9ABCDEF", false },
		{ "", false },
		{ "0123456789ABCDE ", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		row_label_str("valid_id", i, cases[i].id);
		assert_int_equal(queue_valid_id(cases[i].id), cases[i].ok);
	}
	assert_false(queue_valid_id(NULL));
	row_label_done();
}

/* test_retry_delay - doubling, capped, overflow-safe */
static void test_retry_delay(void **state)
{
	(void)state;
	static const struct {
		unsigned attempts, min, max;
		time_t want;
	} cases[] = {
		{ 1, 300, 3600, 300 },	{ 2, 300, 3600, 600 },	{ 3, 300, 3600, 1200 },
		{ 4, 300, 3600, 2400 }, { 5, 300, 3600, 3600 }, { 6, 300, 3600, 3600 },
		{ 0, 300, 3600, 300 },	{ 4000000000u, 300, 3600, 3600 },
		{ 40, 1, 4000000000u, 4000000000u }, { 33, 3000000000u, 4000000000u, 4000000000u },
		{ 3, 600, 300, 300 },	{ 1, 0, 60, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char label[64];
		int n = snprintf(label, sizeof label, "attempts %u, min %u, max %u", cases[i].attempts,
				 cases[i].min, cases[i].max);
		assert_true(n > 0 && (size_t)n < sizeof label);
		row_label_str("retry_delay", i, label);
		assert_int_equal(queue_retry_delay(cases[i].attempts, cases[i].min, cases[i].max),
				 cases[i].want);
	}
	row_label_done();
}

/* test_killed_writer - a writer killed mid-message leaves nothing visible */
static void test_killed_writer(void **state)
{
	struct fixture *f = *state;
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct envelope e;
		struct queue_new n;
		char err[256];
		make_env(&e, "alice@example.com");
		if (queue_new_begin(f->q, &e, 1000, &n, err, sizeof(err)) < 0)
			_exit(1);
		for (int i = 0; i < 100; i++)
			if (queue_new_write(&n, data, sizeof(data) - 1) < 0)
				_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(count_entries(f, "tmp"), 1);
	queue_sweep(f->q, 0);	/* still alive: its lock keeps the file */
	assert_int_equal(count_entries(f, "tmp"), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	close(ready[0]);
	close(ready[1]);
	char ids[8][QUEUE_ID_LEN + 1];
	memset(ids, 0, sizeof(ids));
	assert_int_equal(queue_walk(f->q, collect, ids), 0);
	assert_int_equal(ids[0][0], '\0');
	queue_sweep(f->q, 0);	/* the lock died with the writer */
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_int_equal(count_entries(f, "q"), 0);
}

/* test_sweep_tmp - dead writers' files go at once, whatever their age; live ones stay */
static void test_sweep_tmp(void **state)
{
	struct fixture *f = *state;
	int tmp = spool_subdir(f->dir, "tmp");
	int dead = openat(tmp, "DEAD", O_CREAT | O_RDWR, 0600);
	assert_true(dead >= 0);
	close(dead);
	int live = openat(tmp, "LIVE", O_CREAT | O_RDWR, 0600);
	assert_true(live >= 0);
	assert_int_equal(flock(live, LOCK_EX), 0);
	assert_int_equal(symlinkat("/etc/passwd", tmp, "PLANT"), 0);
	close(tmp);
	queue_sweep(f->q, 0);
	assert_false(exists(f, "tmp", "DEAD"));
	assert_false(exists(f, "tmp", "PLANT"));
	assert_true(exists(f, "tmp", "LIVE"));
	close(live);
	queue_sweep(f->q, 0);
	assert_false(exists(f, "tmp", "LIVE"));
}

/* test_sweep_failed_young - failed/ messages younger than keep_failed stay (and with 0) */
static void test_sweep_failed_young(void **state)
{
	struct fixture *f = *state;
	const char *id = "0123456789ABCDEF";
	int failed = spool_subdir(f->dir, "failed");
	int fd = openat(failed, id, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	close(fd);
	close(failed);
	queue_sweep(f->q, 3600);
	assert_true(exists(f, "failed", id));
	queue_sweep(f->q, 0);
	assert_true(exists(f, "failed", id));
}

#define ENV_OK "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender a@b\nrcpt c@d\nbody 7BIT\n\n"

/* test_parse_table - the pure parser on good and broken input */
static void test_parse_table(void **state)
{
	(void)state;
	static const struct {
		const char *label, *env, *st;
		int want;
	} cases[] = {
		{ "good, no state", ENV_OK, NULL, 0 },
		{ "good state", ENV_OK, "relaymail-state 1\nattempts 3\nnext 7\nerror x y\ndone 0\n", 0 },
		{ "state: header only", ENV_OK, "relaymail-state 1\n", 0 },
		{ "state: empty", ENV_OK, "", -1 },
		{ "state: version 2", ENV_OK, "relaymail-state 2\n", -1 },
		{ "state: done beyond the rcpts", ENV_OK, "relaymail-state 1\ndone 1\n", -1 },		/* only one rcpt */
		{ "state: attempts overflow", ENV_OK, "relaymail-state 1\nattempts 4294967296\n", -1 },
		{ "state: attempts negative", ENV_OK, "relaymail-state 1\nattempts -1\n", -1 },
		{ "state: no final LF", ENV_OK, "relaymail-state 1\nnext 1", -1 },
		{ "state: empty line", ENV_OK, "relaymail-state 1\n\n", -1 },
		{ "state: unknown key", ENV_OK, "relaymail-state 1\nbogus 1\n", -1 },
		{ "env: version 2", "relaymail-queue 2\nid 0123456789ABCDEF\narrival 5\nsender a@b\nrcpt c@d\nbody 7BIT\n\n", NULL, -1 },
		{ "env: no rcpt", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender a@b\nbody 7BIT\n\n", NULL, -1 },
		{ "env: no sender", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nrcpt c@d\nbody 7BIT\n\n", NULL, -1 },
		{ "env: no body", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender a@b\nrcpt c@d\n\n", NULL, -1 },
		{ "env: lower-case id", "relaymail-queue 1\nid 0123456789abcdef\narrival 5\nsender a@b\nrcpt c@d\nbody 7BIT\n\n", NULL, -1 },
		{ "env: bad arrival", "relaymail-queue 1\nid 0123456789ABCDEF\narrival x\nsender a@b\nrcpt c@d\nbody 7BIT\n\n", NULL, -1 },
		{ "env: two senders", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender a@b\nsender e@f\nrcpt c@d\nbody 7BIT\n\n", NULL, -1 },
		{ "env: CR in sender", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender a\rb\nrcpt c@d\nbody 7BIT\n\n", NULL, -1 },
		{ "env: body 9BIT", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender a@b\nrcpt c@d\nbody 9BIT\n\n", NULL, -1 },
		{ "env: empty rcpt", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender a@b\nrcpt \nbody 7BIT\n\n", NULL, -1 },
		{ "env: no empty line", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender a@b\nrcpt c@d\nbody 7BIT\n", NULL, -1 },
		{ "env: null sender, two rcpts, envid", "relaymail-queue 1\nid 0123456789ABCDEF\narrival 5\nsender \nrcpt c@d\nrcpt e@f\nbody 8BIT\nenvid q\n\n", NULL, 0 },
		{ "env: empty", "", NULL, -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct queue_msg m;
		char err[128];
		const char *st = cases[i].st;
		row_label_str("parse", i, cases[i].label);
		int r = queue_parse(cases[i].env, strlen(cases[i].env), st, st ? strlen(st) : 0,
				    &m, err, sizeof(err));
		if (r != cases[i].want)
			fail_msg("case %zu (%s): got %d", i, cases[i].label, r);
		if (r == 0)
			assert_int_equal(m.data_off, (off_t)strlen(cases[i].env));
		queue_release(&m);
	}
	row_label_done();
}

/* test_parse_fields - the state fields land where they should */
static void test_parse_fields(void **state)
{
	(void)state;
	struct queue_msg m;
	char err[128];
	const char *st = "relaymail-state 1\nattempts 3\nnext 7\nerror x y\ndone 0\n";
	assert_int_equal(queue_parse(ENV_OK, strlen(ENV_OK), st, strlen(st), &m, err,
				     sizeof(err)), 0);
	assert_string_equal(m.id, "0123456789ABCDEF");
	assert_int_equal(m.arrival, 5);
	assert_int_equal(m.attempts, 3);
	assert_int_equal(m.next_try, 7);
	assert_string_equal(m.last_error, "x y");
	assert_true(m.rcpt_done[0]);
	assert_int_equal(m.fd, -1);
	queue_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_sender_7bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_line_breaks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp_invisible_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_busy_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_other_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_checks_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_invisible_then_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_defer_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_fail_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_keep_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_failed_young, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_writer, setup, teardown),
		cmocka_unit_test(test_open_fresh_spool),
		cmocka_unit_test_teardown(test_valid_id, row_label_report),
		cmocka_unit_test_setup_teardown(test_foreign_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runner_lock, setup, teardown),
		cmocka_unit_test_teardown(test_retry_delay, row_label_report),
		cmocka_unit_test_teardown(test_parse_table, row_label_report),
		cmocka_unit_test(test_parse_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
