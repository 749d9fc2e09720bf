/*
 * queue - the spool directory; see queue.h. The format of the files it
 * holds, with its writer and its parser, is in queue_file.c.
 *
 * Ids are 8 hex digits of the arrival second and 8 of getrandom(2). The
 * temp file tmp/ID is created with O_EXCL and the commit uses
 * renameat2(RENAME_NOREPLACE) (link(2) where the file system lacks it), so
 * a collision can never replace a committed message: it fails the commit.
 */
#include "queue.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "queue_file.h"
#include "queue_spool.h"


/* share_group - give the new directory fd its parent's group permissions */
static int share_group(int parent, int fd)
{
	struct stat st;
	if (fstat(parent, &st) < 0)
		return -1;
	if ((st.st_mode & 0070) == 0)
		return 0;
	return fchmod(fd, QUEUE_DIR_MODE | (st.st_mode & 0070));
}

/* open_subdir - create (when asked) and open one spool directory */
static int open_subdir(int parent, const char *name, bool create)
{
	bool made = create && mkdirat(parent, name, QUEUE_DIR_MODE) == 0;
	if (create && !made && errno != EEXIST)
		return -1;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && made && share_group(parent, fd) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* the write buffer of a message being written */
struct queue_wbuf {
	char b[65536];
};

/* queue_open - open the spool and its five directories */
struct queue *queue_open(const char *dir, bool create, char *err, size_t errlen)
{
	static const char *const names[] = { "tmp", "q", "s", "failed", "run" };
	struct queue *q = calloc(1, sizeof *q);
	if (q == NULL || (q->dir = strdup(dir)) == NULL) {
		free(q);
		buf_error(err, errlen, "%s: out of memory", dir);
		return NULL;
	}
	int *fds[] = { &q->tmpfd, &q->qfd, &q->sfd, &q->failfd, &q->runfd };
	q->dirfd = q->tmpfd = q->qfd = q->sfd = q->failfd = q->runfd = -1;
	if (create && mkdir(dir, QUEUE_DIR_MODE) < 0 && errno != EEXIST)
		goto bad;
	q->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (q->dirfd < 0)
		goto bad;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		*fds[i] = open_subdir(q->dirfd, names[i], create);
		/* a spool never written to (mailq on a fresh install): nothing queued */
		if (*fds[i] < 0 && !create && errno == ENOENT)
			continue;
		if (*fds[i] < 0) {
			int e = errno;
			buf_error(err, errlen, "%s/%s: %s", dir, names[i], strerror(e));
			queue_close(q);
			return NULL;
		}
	}
	return q;
bad:
	buf_error(err, errlen, "%s: %s", dir, strerror(errno));
	queue_close(q);
	return NULL;
}

/* queue_close - close the directories and free q */
void queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	int fds[] = { q->dirfd, q->tmpfd, q->qfd, q->sfd, q->failfd, q->runfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(q->dir);
	free(q);
}

/* queue_path - the spool directory's path, for messages */
const char *queue_path(const struct queue *q)
{
	return q->dir;
}

/* queue_scratch - an anonymous file in tmp/ */
int queue_scratch(struct queue *q)
{
	char name[64];
	unsigned char r[8];
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 8; tries++) {
		if (getentropy(r, sizeof r) < 0)
			return -1;
		if (snprintf(name, sizeof name, "bs.%d.%02x%02x%02x%02x%02x%02x%02x%02x", (int)getpid(),
			     r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) < 0)
			return -1;
		fd = openat(q->tmpfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    SCRATCH_FILE_MODE);
		if (fd < 0 && errno != EEXIST)
			return -1;
	}
	/* unlinked at once: nothing is left if we die while it is in use */
	if (fd >= 0)
		(void)unlinkat(q->tmpfd, name, 0);
	return fd;
}

/* queue_private_dir - a cache's own directory under the spool, created when missing */
int queue_private_dir(struct queue *q, enum queue_private which)
{
	static const char *const names[] = { [QUEUE_PRIVATE_TLS] = "tls",
					     [QUEUE_PRIVATE_OAUTH2] = "oauth2" };
	if (q->dirfd < 0)
		return -1;
	return open_subdir(q->dirfd, names[which], true);
}

/* new_id - a fresh id: arrival second, then random bits */
static int new_id(time_t now, char id[QUEUE_ID_LEN + 1])
{
	uint32_t r;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	int n = snprintf(id, QUEUE_ID_LEN + 1, "%08X%08X", (unsigned)((uint64_t)now & 0xffffffffu),
			 (unsigned)r);
	return n == QUEUE_ID_LEN ? 0 : -1;
}

/* create_tmp - create and lock tmp/ID under a fresh id not used in q/ or failed/ */
static int create_tmp(struct queue *q, time_t now, struct queue_new *n)
{
	for (int tries = 0; tries < 100; tries++) {
		if (new_id(now, n->id) < 0)
			return -1;
		/* cheap pre-check; RENAME_NOREPLACE at commit is the real guard */
		if (faccessat(q->qfd, n->id, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
		    faccessat(q->failfd, n->id, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		int fd = openat(q->tmpfd, n->id,
				O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, QUEUE_FILE_MODE);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -1;
		/* locked from birth: the lock follows the inode into q/ */
		struct stat st;
		if (fchmod(fd, QUEUE_FILE_MODE) < 0 || flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
			unlinkat(q->tmpfd, n->id, 0);
			close(fd);
			return -1;
		}
		if (st.st_nlink == 0) {
			/* a queue_sweep took it between open and flock: take another */
			close(fd);
			continue;
		}
		memcpy(n->tmpname, n->id, QUEUE_ID_LEN + 1);
		n->fd = fd;
		return 0;
	}
	errno = EEXIST;
	return -1;
}

/* queue_new_begin - locked temp file holding the envelope */
int queue_new_begin(struct queue *q, const struct envelope *env, time_t arrival,
		    struct queue_new *n, char *err, size_t errlen)
{
	n->fd = -1;
	n->w = NULL;
	n->wlen = 0;
	n->data_bytes = 0;
	if (env->nrcpt == 0)
		return buf_error(err, errlen, "no recipients");
	if ((n->w = malloc(sizeof *n->w)) == NULL || create_tmp(q, arrival, n) < 0) {
		int e = errno;
		queue_new_abort(q, n);
		return buf_error(err, errlen, "%s/tmp: cannot create a queue file: %s", q->dir,
			    strerror(e));
	}
	struct buf b;
	size_t body_off = 0;
	buf_init(&b, ENV_MAX);
	if (queue_file_envelope(&b, n->id, arrival, env, &body_off) < 0 ||
	    buf_write_all(n->fd, b.data, b.len) < 0) {
		int e = errno;
		buf_free(&b);
		queue_new_abort(q, n);
		return buf_error(err, errlen, "%s/tmp: cannot write the envelope: %s", q->dir,
			    e == EINVAL ? "control character in an address or parameter" : strerror(e));
	}
	n->body_flag_off = (off_t)body_off;
	buf_free(&b);
	return 0;
}

/* flush_new - empty the write buffer to the file */
static int flush_new(struct queue_new *n)
{
	if (n->wlen > 0 && buf_write_all(n->fd, n->w->b, n->wlen) < 0)
		return -1;
	n->wlen = 0;
	return 0;
}

/* queue_new_write - buffered append of message data */
int queue_new_write(void *ctx, const void *p, size_t len)
{
	struct queue_new *n = ctx;
	const char *c = p;
	n->data_bytes += len;
	while (len > 0) {
		if (n->wlen == sizeof(n->w->b) && flush_new(n) < 0)
			return -1;
		size_t room = sizeof(n->w->b) - n->wlen;
		size_t k = len < room ? len : room;
		memcpy(n->w->b + n->wlen, c, k);
		n->wlen += k;
		c += k;
		len -= k;
	}
	return 0;
}

/* new_release - free the write buffer: the message is written or dropped */
static void new_release(struct queue_new *n)
{
	free(n->w);
	n->w = NULL;
	n->wlen = 0;
}

/* queue_new_abort - drop the temp file */
void queue_new_abort(struct queue *q, struct queue_new *n)
{
	new_release(n);
	if (n->fd < 0)
		return;
	/* unlink before close: nobody may ever lock a half-written file */
	unlinkat(q->tmpfd, n->tmpname, 0);
	close(n->fd);
	n->fd = -1;
	n->wlen = 0;
}

/* move_noreplace - rename that never replaces an existing target */
static int move_noreplace(int fromdir, const char *from, int todir, const char *to)
{
	if (renameat2(fromdir, from, todir, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* file systems without RENAME_NOREPLACE: link(2) never replaces either */
	if (linkat(fromdir, from, todir, to, 0) < 0)
		return -1;
	unlinkat(fromdir, from, 0);
	return 0;
}

static int load(struct queue *q, int fd, const char *id, struct queue_msg *m,
		char *err, size_t errlen);

/* queue_new_finish - the whole message written and read back, still in tmp/ */
int queue_new_finish(struct queue *q, struct queue_new *n, bool eightbit,
		     struct queue_msg *m, char *err, size_t errlen)
{
	queue_msg_init(m);
	const char *what = "write";
	if (flush_new(n) < 0 || (eightbit && pwrite(n->fd, "8", 1, n->body_flag_off) != 1))
		goto bad;
	what = "read back";
	if (load(q, n->fd, n->id, m, err, errlen) < 0)
		goto bad;
	m->fd = n->fd;
	m->locked = true;
	m->pending = true;
	n->fd = -1;
	new_release(n);
	return 0;
bad:;
	int e = errno;
	queue_new_abort(q, n);
	queue_release(m);
	return buf_error(err, errlen, "%s: cannot queue the message (%s): %s", q->dir, what,
		    strerror(e));
}

/* queue_keep - make a pending message (tmp/ID) durable and visible, keep it locked */
int queue_keep(struct queue *q, struct queue_msg *m, char *err, size_t errlen)
{
	if (!m->pending)
		return 0;
	const char *what = "fsync";
	if (fsync(m->fd) < 0)
		goto bad;
	what = "rename into q/";
	if (move_noreplace(q->tmpfd, m->id, q->qfd, m->id) < 0)
		goto bad;
	what = "fsync q/";
	if (fsync(q->qfd) < 0) {
		/* not known durable, so not committed: take it back out */
		int e = errno;
		unlinkat(q->qfd, m->id, 0);
		errno = e;
		goto bad;
	}
	m->pending = false;
	return 0;
bad:;
	int e = errno;
	/* unlink before close: nobody may ever lock a half-kept file */
	unlinkat(q->tmpfd, m->id, 0);
	queue_release(m);
	return buf_error(err, errlen, "%s: cannot queue the message (%s): %s", q->dir, what,
		    strerror(e));
}

/* queue_new_commit - make the message durable and visible, keep it locked */
int queue_new_commit(struct queue *q, struct queue_new *n, bool eightbit,
		     struct queue_msg *m, char *err, size_t errlen)
{
	if (queue_new_finish(q, n, eightbit, m, err, errlen) < 0)
		return -1;
	return queue_keep(q, m, err, errlen);
}

/* queue_holds - a committed copy of id exists */
bool queue_holds(struct queue *q, const char *id)
{
	struct stat st;
	if (!queue_valid_id(id))
		return false;
	return (q->qfd >= 0 && fstatat(q->qfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0) ||
	       (q->failfd >= 0 && fstatat(q->failfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0);
}

/* read_envelope - read fd from the start up to the envelope's empty line */
static int read_envelope(int fd, struct buf *b, size_t *envlen)
{
	char chunk[8192];
	for (;;) {
		ssize_t r = pread(fd, chunk, sizeof(chunk), (off_t)b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EINVAL;	/* truncated envelope */
			return -1;
		}
		size_t from = b->len > 0 ? b->len - 1 : 0;
		if (buf_append(b, chunk, (size_t)r) < 0)
			return -1;
		for (size_t i = from; i + 1 < b->len; i++)
			if (b->data[i] == '\n' && b->data[i + 1] == '\n') {
				*envlen = i + 2;
				return 0;
			}
	}
}

/*
 * trusted_file - a spool file we may act on: regular, one link, and
 * in the spool's group (our effective group: every writer of the spool
 * runs with it). Root also accepts a file of another group (a spool
 * written before it was shared); nothing else is trusted.
 */
static bool trusted_file(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 1 &&
	       (st->st_gid == getegid() || geteuid() == 0);
}

/* read_state - the whole s/ID file into b; *found false when there is none */
static int read_state(struct queue *q, const char *id, struct buf *b, bool *found)
{
	*found = false;
	if (q->sfd < 0)
		return 0;
	int fd = openat(q->sfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	char chunk[8192];
	ssize_t r = -1;
	if (fstat(fd, &st) == 0 && trusted_file(&st)) {
		/* ends with r == 0 at EOF; r > 0 when the buffer is full */
		while ((r = read(fd, chunk, sizeof(chunk))) > 0 || (r < 0 && errno == EINTR))
			if (r > 0 && buf_append(b, chunk, (size_t)r) < 0)
				break;
	}
	*found = r == 0;
	close(fd);
	return r == 0 ? 0 : -1;
}

/* load - read and parse envelope and state of the open message fd */
static int load(struct queue *q, int fd, const char *id, struct queue_msg *m,
		char *err, size_t errlen)
{
	struct buf env, state;
	size_t envlen = 0;
	bool found = false;
	struct stat st;
	int ret = -1;
	buf_init(&env, ENV_MAX);
	buf_init(&state, STATE_MAX);
	if (fstat(fd, &st) < 0 || read_envelope(fd, &env, &envlen) < 0) {
		buf_error(err, errlen, "q/%s: %s", id, errno == EINVAL ? "truncated envelope" : strerror(errno));
		goto out;
	}
	if (read_state(q, id, &state, &found) < 0) {
		buf_error(err, errlen, "s/%s: %s", id, strerror(errno));
		goto out;
	}
	if (queue_parse(env.data, envlen, found ? buf_cstr(&state) : NULL, state.len, m,
			err, errlen) < 0)
		goto out;
	if (strcmp(m->id, id) != 0) {
		queue_release(m);
		buf_error(err, errlen, "q/%s: the file names another id", id);
		goto out;
	}
	m->size = (unsigned long long)(st.st_size - (off_t)envlen);
	ret = 0;
out:
	buf_free(&env);
	buf_free(&state);
	return ret;
}

/* queue_ours - may this process take a message (or runner file) owned by uid? */
bool queue_ours(uid_t uid)
{
	return getuid() == 0 || uid == getuid();
}

/* check_file - fd is still q/ID, and a file we trust (trusted_file) */
static enum queue_lock_result check_file(struct queue *q, int fd, const char *id,
					 char *err, size_t errlen)
{
	struct stat fst, pst;
	if (fstat(fd, &fst) < 0) {
		buf_error(err, errlen, "q/%s: %s", id, strerror(errno));
		return QUEUE_ERROR;
	}
	/* another runner finished it between our readdir and our lock */
	if (fstatat(q->qfd, id, &pst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return QUEUE_GONE;
		buf_error(err, errlen, "q/%s: %s", id, strerror(errno));
		return QUEUE_ERROR;
	}
	if (fst.st_ino != pst.st_ino || fst.st_dev != pst.st_dev || fst.st_nlink == 0)
		return QUEUE_GONE;
	if (!trusted_file(&fst)) {
		buf_error(err, errlen, "q/%s: not a regular file with one link and the spool's group", id);
		return QUEUE_ERROR;
	}
	return QUEUE_LOCKED;
}

/*
 * try_lock - non-blocking flock; an exclusive attempt is retried briefly,
 * because mailq's shared-lock probe may hold the file for a few
 * microseconds and must not make a runner skip a message.
 */
static int try_lock(int fd, bool exclusive)
{
	for (int tries = 0;; tries++) {
		if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || !exclusive || tries == 2)
			return -1;
		struct timespec wait = { 0, 10 * 1000 * 1000 };
		nanosleep(&wait, NULL);
	}
}

/* open_msg - open q/ID, lock it as asked, check and load it */
static enum queue_lock_result open_msg(struct queue *q, const char *id, bool exclusive,
				       struct queue_msg *m, char *err, size_t errlen)
{
	queue_msg_init(m);
	if (!queue_valid_id(id)) {
		buf_error(err, errlen, "invalid queue id");
		return QUEUE_ERROR;
	}
	/* O_NONBLOCK: a planted FIFO must not hang us before fstat sees it */
	int fd = openat(q->qfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return QUEUE_GONE;
		buf_error(err, errlen, "q/%s: %s", id, strerror(errno));
		return QUEUE_ERROR;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		buf_error(err, errlen, "q/%s: %s", id, strerror(errno));
		close(fd);
		return QUEUE_ERROR;
	}
	bool mine = queue_ours(st.st_uid);
	if (exclusive && !mine) {
		close(fd);
		return QUEUE_FOREIGN;
	}
	bool busy = false;
	if (!mine) {
		/* not even a shared probe: a stopped mailq must not hold another user's message */
	} else if (try_lock(fd, exclusive) < 0) {
		if (errno != EWOULDBLOCK) {
			buf_error(err, errlen, "q/%s: lock: %s", id, strerror(errno));
			close(fd);
			return QUEUE_ERROR;
		}
		if (exclusive) {
			close(fd);
			return QUEUE_BUSY;
		}
		busy = true;
	} else if (!exclusive) {
		/* only a probe: holding it would stall a runner's exclusive lock */
		flock(fd, LOCK_UN);
	}
	enum queue_lock_result r = check_file(q, fd, id, err, errlen);
	if (r == QUEUE_LOCKED && load(q, fd, id, m, err, errlen) < 0)
		r = QUEUE_ERROR;
	if (r != QUEUE_LOCKED) {
		close(fd);
		return r;
	}
	m->fd = fd;
	m->locked = exclusive;
	m->busy = busy;
	return QUEUE_LOCKED;
}

/* queue_lock - take a message for delivery */
enum queue_lock_result queue_lock(struct queue *q, const char *id, struct queue_msg *m,
				  char *err, size_t errlen)
{
	return open_msg(q, id, true, m, err, errlen);
}

/* queue_read - look at a message without taking it (mailq) */
int queue_read(struct queue *q, const char *id, struct queue_msg *m, char *err, size_t errlen)
{
	enum queue_lock_result r = open_msg(q, id, false, m, err, errlen);
	if (r == QUEUE_GONE) {
		errno = ENOENT;
		return buf_error(err, errlen, "q/%s: no such message", id);
	}
	return r == QUEUE_LOCKED ? 0 : -1;
}

/* write_state - m's delivery state into s/ID, atomically and durably */
static int write_state(struct queue *q, const struct queue_msg *m)
{
	struct buf b;
	char tmp[QUEUE_ID_LEN + 8];
	int ret = -1;
	buf_init(&b, STATE_MAX);
	if (queue_file_state(&b, m) < 0)
		goto out;
	int n = snprintf(tmp, sizeof(tmp), "%s.new", m->id);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		goto out;
	/*
	 * We hold the message lock, so no other writer uses this name; a
	 * leftover of a crashed writer (perhaps another user's) goes first.
	 */
	if (unlinkat(q->sfd, tmp, 0) < 0 && errno != ENOENT)
		goto out;
	int fd = openat(q->sfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			QUEUE_FILE_MODE);
	if (fd < 0)
		goto out;
	if (fchmod(fd, QUEUE_FILE_MODE) < 0 || buf_write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		close(fd);
		unlinkat(q->sfd, tmp, 0);
		goto out;
	}
	close(fd);
	if (renameat(q->sfd, tmp, q->sfd, m->id) < 0 || fsync(q->sfd) < 0)
		goto out;
	ret = 0;
out:
	buf_free(&b);
	return ret;
}

/* set_error - replace m's last error */
static int set_error(struct queue_msg *m, const char *reason)
{
	char *e = strdup(reason != NULL ? reason : "");
	if (e == NULL)
		return -1;
	free(m->last_error);
	m->last_error = e;
	return 0;
}

/* queue_done - the message has left: state first, then the message */
int queue_done(struct queue *q, struct queue_msg *m)
{
	int ret = -1;
	if (queue_valid_id(m->id)) {
		if (m->pending)
			ret = unlinkat(q->tmpfd, m->id, 0);
		else if ((unlinkat(q->sfd, m->id, 0) == 0 || errno == ENOENT) &&
			 unlinkat(q->qfd, m->id, 0) == 0)
			ret = 0;
	}
	queue_release(m);
	return ret;
}

/* keep_failed - log queue_keep's error, or what failed on m's state with errno: -1 */
static int keep_failed(const struct queue *q, const struct queue_msg *m, const char *err,
		       const char *what)
{
	if (err != NULL)
		log_error("%s", err);
	else
		log_error("%s: %s: cannot %s: %s", q->dir, m->id, what, strerror(errno));
	return -1;
}

/* reschedule - commit m if pending, save reason and next_try (one more attempt when counted), let go */
static int reschedule(struct queue *q, struct queue_msg *m, const char *reason, time_t next_try,
		      bool counted)
{
	char err[256];
	int ret = -1;
	if (queue_keep(q, m, err, sizeof err) < 0)
		return keep_failed(q, m, err, NULL);	/* m released */
	if (queue_valid_id(m->id) && set_error(m, reason) == 0) {
		m->attempts += counted;
		m->next_try = next_try;
		ret = write_state(q, m);
	}
	if (ret < 0)
		keep_failed(q, m, NULL, "save the delivery state");
	queue_release(m);
	return ret;
}

/* queue_defer - record a failed attempt and let go */
int queue_defer(struct queue *q, struct queue_msg *m, const char *reason, time_t next_try)
{
	return reschedule(q, m, reason, next_try, true);
}

/* queue_postpone - not tried: new next_try and reason, no attempt counted */
int queue_postpone(struct queue *q, struct queue_msg *m, const char *reason, time_t next_try)
{
	return reschedule(q, m, reason, next_try, false);
}

/* queue_fail - give up: state saved, both files moved to failed/ */
int queue_fail(struct queue *q, struct queue_msg *m, const char *reason)
{
	char statename[QUEUE_ID_LEN + 8], err[256];
	if (queue_keep(q, m, err, sizeof err) < 0)
		return keep_failed(q, m, err, NULL);	/* m released */
	const char *what = "save the delivery state";
	int n = snprintf(statename, sizeof(statename), "%s.state", m->id);
	if (!queue_valid_id(m->id) || n < 0 || (size_t)n >= sizeof(statename) ||
	    set_error(m, reason) < 0)
		goto bad;
	m->attempts++;
	m->next_try = 0;
	if (write_state(q, m) < 0)
		goto bad;
	what = "move the message to failed/";
	/* the message first: once it is out of q/ no runner takes it again */
	if (renameat(q->qfd, m->id, q->failfd, m->id) < 0 ||
	    renameat(q->sfd, m->id, q->failfd, statename) < 0)
		goto bad;
	if (fsync(q->failfd) < 0 || fsync(q->qfd) < 0 || fsync(q->sfd) < 0)
		goto bad;
	queue_release(m);
	return 0;
bad:
	keep_failed(q, m, NULL, what);
	queue_release(m);
	return -1;
}

/* queue_open_dir - a DIR stream of our own over the directory dirfd */
DIR *queue_open_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL && fd >= 0)
		close(fd);
	return d;
}

/* cmp_id - qsort order of ids: time-prefixed, so oldest first */
static int cmp_id(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* queue_walk - every committed message, oldest first */
int queue_walk(struct queue *q, int (*fn)(void *ctx, const char *id), void *ctx)
{
	if (q->qfd < 0)
		return 0;	/* no q/ yet: see queue_open */
	DIR *d = queue_open_dir(q->qfd);
	if (d == NULL)
		return -1;
	char (*ids)[QUEUE_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!queue_valid_id(de->d_name))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(ids, ncap * sizeof(*ids));
			if (p == NULL) {
				ret = -1;
				goto out;
			}
			ids = p;
			cap = ncap;
		}
		memcpy(ids[n++], de->d_name, QUEUE_ID_LEN + 1);
	}
	if (n > 0)
		qsort(ids, n, sizeof(*ids), cmp_id);
	for (size_t i = 0; i < n; i++)
		if (fn(ctx, ids[i]) < 0)
			break;
out:
	free(ids);
	closedir(d);
	return ret;
}

/* queue_retry_delay - min * 2^(attempts-1), at most max, without overflow */
time_t queue_retry_delay(unsigned attempts, unsigned retry_min, unsigned retry_max)
{
	unsigned long long d = retry_min;
	if (d >= retry_max)
		return (time_t)retry_max;
	for (unsigned i = 1; i < attempts && d < retry_max; i++)
		d *= 2;		/* d < retry_max <= UINT_MAX: never overflows */
	return (time_t)(d < retry_max ? d : retry_max);
}
