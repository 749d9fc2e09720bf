/*
 * queue - the only code that touches the spool directory (queue.c, and
 * queue_run.c for the runner lock, the clean-up and the free space).
 *
 * Layout under [queue] dir:
 *   tmp/      messages being written (locked by their writer; invisible)
 *   q/ID      committed messages: envelope block, empty line, message data
 *   s/ID      delivery state of q/ID (attempts, next try, last error, which
 *             recipients are done), replaced atomically
 *   failed/   messages given up on: ID and ID.state
 *   run/UID   one per user: the lock of that user's queue runner, and a
 *             wake-up count (one byte per background submission)
 *   tls/ oauth2/  the TLS session and OAuth2 token caches' own directories
 *             (queue_private_dir; created on first use)
 * tmp/ also holds -bs's scratch files (queue_scratch), unlinked at birth.
 * A message is committed by: write to tmp/, fsync, rename into q/, fsync
 * q/. A synchronous send may try the smarthost first and commit only when
 * that attempt does not deliver (queue_new_finish, queue_keep): a message
 * sent at once never costs an fsync. Exclusive flock(2) on the message
 * file says "being delivered"; a dead process's lock vanishes with it.
 * Files are opened with O_NOFOLLOW and checked with fstat (regular, one
 * link, the spool's group: see INSTALL, "Privileges").
 *
 * A message belongs to the user who submitted it (the owner of q/ID). A
 * process of any other user but root never locks it, not even for a
 * moment: queue_lock answers QUEUE_FOREIGN, and queue_read shows it
 * without probing its lock. A user can stop or slow down their own
 * process; it must never hold up anyone else's mail.
 *
 * Queue ids: QUEUE_ID_LEN upper-case hex digits (time + random), unique
 * across processes and reboots; queue_valid_id() is checked before any id
 * from outside becomes a path.
 */
#ifndef RELAYMAIL_QUEUE_H
#define RELAYMAIL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "envelope.h"

#define QUEUE_ID_LEN 16

/* the spool, open (queue_open .. queue_close); its fields are queue.c's */
struct queue;

struct queue_wbuf;

/* a message being written */
struct queue_new {
	int fd;
	char id[QUEUE_ID_LEN + 1];
	char tmpname[64];
	off_t body_flag_off;	/* private: where the BODY line is patched */
	struct queue_wbuf *w;	/* private: 64 KiB write buffer on the heap, from
				 * queue_new_begin to queue_new_finish or _abort */
	size_t wlen;
	unsigned long long data_bytes;
};

/* a committed message, read back (and locked, when for delivery) */
struct queue_msg {
	char id[QUEUE_ID_LEN + 1];
	int fd;			/* -1 when not open */
	bool locked;		/* we hold its delivery lock */
	bool busy;		/* (queue_read) someone else holds it */
	bool pending;		/* still in tmp/, not durable: see queue_new_finish */
	time_t arrival;
	char *sender;		/* "" for <> */
	char **rcpt;
	size_t nrcpt;
	bool eightbit;
	char *notify;
	char *ret;
	char *envid;
	off_t data_off;		/* where the message data starts in fd */
	unsigned long long size;	/* bytes of message data */
	/* delivery state */
	unsigned attempts;
	time_t next_try;	/* 0: due now */
	char *last_error;	/* NULL or printable one line */
	bool *rcpt_done;	/* nrcpt flags: delivered or bounced already */
};

enum queue_lock_result {
	QUEUE_LOCKED,
	QUEUE_BUSY,	/* another process holds it */
	QUEUE_GONE,	/* no longer in q/ */
	QUEUE_FOREIGN,	/* another user's message, and we are not root: not ours to take */
	QUEUE_ERROR,
};

/*
 * queue_open - open (creating when create and allowed) the spool at dir.
 * The spool, or NULL with err naming the path and the problem. Without
 * create, a missing subdirectory is a spool never written to: queue_walk
 * finds nothing there (mailq on a fresh install says it is empty).
 */
struct queue *queue_open(const char *dir, bool create, char *err, size_t errlen);

/* queue_close - close the spool's directories and free q (NULL: nothing) */
void queue_close(struct queue *q);

/* queue_path - the spool directory's path, for messages naming it */
const char *queue_path(const struct queue *q);

/*
 * queue_scratch - a new file in tmp/, 0600, unlinked at once (nothing is
 * left when its process dies), for data not yet a message (-bs's DATA).
 * An fd open for reading and writing, or -1 (errno).
 */
int queue_scratch(struct queue *q);

/* the caches that keep files of their own under the spool */
enum queue_private {
	QUEUE_PRIVATE_TLS,	/* tls/: TLS sessions (tlscache.c) */
	QUEUE_PRIVATE_OAUTH2,	/* oauth2/: OAuth2 access tokens (oauth2.c) */
};

/*
 * queue_private_dir - the cache's directory, created when missing with the
 * spool's group permissions (the modes are chosen in queue.c). An open
 * directory fd for the caller to close, or -1 (errno): no cache then.
 */
int queue_private_dir(struct queue *q, enum queue_private which);

/* queue_valid_id - true for exactly QUEUE_ID_LEN upper-case hex digits */
bool queue_valid_id(const char *id);

/*
 * queue_new_begin - create a locked temp file and write env's sender,
 * recipients and DSN parameters to it. 0, or -1 with err.
 */
int queue_new_begin(struct queue *q, const struct envelope *env, time_t arrival,
		    struct queue_new *n, char *err, size_t errlen);

/* queue_new_write - append message data; 0 or -1 (errno). Usable as a
 * message_write_headers/message_copy_body callback with ctx = n. */
int queue_new_write(void *n, const void *p, size_t len);

/*
 * queue_new_commit - record eightbit, flush, fsync, rename into q/,
 * fsync q/; the message stays locked and is returned in m (ready for
 * delivery; release with queue_release). 0, or -1 with err (the temp file
 * is then removed: nothing half-written is ever visible).
 */
int queue_new_commit(struct queue *q, struct queue_new *n, bool eightbit,
		     struct queue_msg *m, char *err, size_t errlen);

/*
 * queue_new_finish - like queue_new_commit, but the message stays in tmp/,
 * not yet durable nor visible (m->pending): queue_done then just removes
 * it, while queue_defer, queue_fail and queue_keep commit it first. For a
 * sender that reports to its caller either the smarthost's 250 or a
 * durable queue entry; killed before either, it accepted nothing.
 */
int queue_new_finish(struct queue *q, struct queue_new *n, bool eightbit,
		     struct queue_msg *m, char *err, size_t errlen);

/*
 * queue_keep - commit a pending message (fsync, rename into q/, fsync q/);
 * nothing to do for a committed one. m stays open and locked. 0, or -1
 * with err (the temp file is then removed and m released).
 */
int queue_keep(struct queue *q, struct queue_msg *m, char *err, size_t errlen);

/* queue_holds - is message id durably in q/ or failed/? */
bool queue_holds(struct queue *q, const char *id);

/* queue_new_abort - remove the temp file (input failed, nothing queued) */
void queue_new_abort(struct queue *q, struct queue_new *n);

/*
 * queue_lock - open q/ID for delivery: unless we are root, only a message
 * of our own user (QUEUE_FOREIGN otherwise, before any lock); then a
 * non-blocking exclusive lock, a check that the file is still linked, and
 * envelope and state read into m.
 */
enum queue_lock_result queue_lock(struct queue *q, const char *id, struct queue_msg *m,
				  char *err, size_t errlen);

/* queue_read - read envelope and state without locking (mailq); sets busy
 * (probed only on a message of our own user, or any as root) */
int queue_read(struct queue *q, const char *id, struct queue_msg *m, char *err, size_t errlen);

/*
 * queue_done - all recipients handled: remove s/ID then q/ID (tmp/ID when
 * pending), release m. 0 or -1. No fsync: should a crash undo the removal,
 * the message is sent again (at least once, never lost).
 */
int queue_done(struct queue *q, struct queue_msg *m);

/*
 * queue_defer - commit m when pending, save the state (attempts + 1,
 * next_try, reason, rcpt_done as set by the caller) atomically, then
 * release m. 0, or -1 after logging what failed (path and reason).
 */
int queue_defer(struct queue *q, struct queue_msg *m, const char *reason, time_t next_try);

/*
 * queue_postpone - not tried in this run (the smarthost throttled): save
 * next_try and reason without counting an attempt, then release m. 0, or
 * -1 after logging what failed (as queue_defer).
 */
int queue_postpone(struct queue *q, struct queue_msg *m, const char *reason, time_t next_try);

/*
 * queue_fail - give up: state with reason saved, both files moved to
 * failed/, release m. 0, or -1 after logging what failed (path and reason).
 */
int queue_fail(struct queue *q, struct queue_msg *m, const char *reason);

/* queue_release - close (dropping the lock) and free m's contents */
void queue_release(struct queue_msg *m);

/*
 * queue_walk - call fn(ctx, id) for every committed message, oldest
 * first; fn returning -1 stops the walk. 0 or -1.
 */
int queue_walk(struct queue *q, int (*fn)(void *ctx, const char *id), void *ctx);


/*
 * The queue runner's lock and wake-up count: run/UID of the calling user
 * (root: run/0), a regular file of that user, mode 0600. A background
 * submission adds one byte to it (queue_wake) and then tries the lock: when
 * a runner holds it, that runner sees the count grow and looks at q/ again
 * before it exits (see runner.c).
 */
struct queue_runner {
	int fd;		/* -1 when not open */
};

/* queue_wake - add one to the calling user's wake-up count. 0, or -1 with err. */
int queue_wake(struct queue *q, char *err, size_t errlen);

/*
 * queue_runner_take - open run/UID and try its lock without waiting:
 * QUEUE_LOCKED (r->fd holds it; it is inherited by a forked child),
 * QUEUE_BUSY (another runner of this user holds it; r->fd is -1) or
 * QUEUE_ERROR with err.
 */
enum queue_lock_result queue_runner_take(struct queue *q, struct queue_runner *r,
					 char *err, size_t errlen);

/* queue_runner_wakes - the wake-up count now (grows with every queue_wake) */
unsigned long long queue_runner_wakes(const struct queue_runner *r);

/*
 * queue_runner_trim - empty a count grown past a limit, so the file stays
 * small; only with the lock held, right before a look at q/. 0 or -1.
 */
int queue_runner_trim(struct queue *q, struct queue_runner *r);

/* queue_runner_unlock - let another runner take over; r->fd stays open for queue_runner_wakes */
void queue_runner_unlock(struct queue_runner *r);

/* queue_runner_relock - try the lock again after queue_runner_unlock; true when held */
bool queue_runner_relock(struct queue_runner *r);

/* queue_runner_close - close (dropping the lock) */
void queue_runner_close(struct queue_runner *r);

/* queue_retry_delay - retry_min doubled per attempt, capped at retry_max */
time_t queue_retry_delay(unsigned attempts, unsigned retry_min, unsigned retry_max);

/*
 * queue_parse - the pure parser behind queue_lock and queue_read (a fuzz
 * target): env is a spool file's envelope block, from its first byte up
 * to and including the empty line that ends it ("...\n\n"); state is the
 * content of its state file, or NULL when there is none. Fills m (fd -1,
 * data_off = envlen, size 0: the caller knows the file) and allocates
 * rcpt_done for nrcpt. 0, or -1 with err; m is always safe to pass to
 * queue_release afterwards.
 */
int queue_parse(const char *env, size_t envlen, const char *state, size_t statelen,
		struct queue_msg *m, char *err, size_t errlen);

/* queue_msg_init - an empty m (fd -1), safe to pass to queue_release */
void queue_msg_init(struct queue_msg *m);

/*
 * queue_sweep - the spool's clean-up at the start of a queue run: remove
 * tmp/ files whose writer is gone (no lock), and, when keep_failed is not
 * 0, failed/ messages moved there more than keep_failed seconds ago. A
 * process not run by root removes only files of its own user (st_uid ==
 * getuid()): no user's process touches another user's mail.
 */
void queue_sweep(struct queue *q, unsigned keep_failed);

/*
 * queue_free_bytes - the bytes an unprivileged writer may still use in the
 * spool's file system (statvfs f_bavail), for [queue] min_free. 0 or -1.
 */
int queue_free_bytes(const struct queue *q, unsigned long long *bytes);

#endif
