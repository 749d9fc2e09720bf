/*
 * queue_run - the part of the queue module that queue runs need besides
 * the messages themselves: the per-user runner lock and wake-up count
 * (run/UID), the clean-up of tmp/ and failed/, and the free space left.
 * See queue.h; the spool's structure and modes are in queue_spool.h.
 */
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "queue_spool.h"

/* A wake-up count past this is emptied by the runner that holds the lock. */
#define RUNNER_WAKES_MAX 65536

/* runner_name - "run/UID"'s name for the calling user */
static int runner_name(char name[32])
{
	int n = snprintf(name, 32, "%lu", (unsigned long)getuid());
	return n > 0 && n < 32 ? 0 : -1;
}

/* open_runner - run/UID, created when missing; a regular file of our own user */
static int open_runner(struct queue *q, int flags, char *err, size_t errlen)
{
	char name[32];
	struct stat st;
	if (q->runfd < 0 || runner_name(name) < 0) {
		errno = ENOENT;
		return buf_error(err, errlen, "%s/run: %s", q->dir, strerror(errno));
	}
	int fd = openat(q->runfd, name, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
			RUNNER_FILE_MODE);
	if (fd < 0)
		return buf_error(err, errlen, "%s/run/%s: %s", q->dir, name, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != getuid()) {
		close(fd);
		return buf_error(err, errlen, "%s/run/%s: not a regular file of this user", q->dir,
				 name);
	}
	return fd;
}

/* queue_wake - one more byte in run/UID (its close is what the .path unit sees) */
int queue_wake(struct queue *q, char *err, size_t errlen)
{
	int fd = open_runner(q, O_WRONLY | O_APPEND, err, errlen);
	if (fd < 0)
		return -1;
	int r = buf_write_all(fd, "w", 1);
	int e = errno;
	close(fd);
	if (r < 0)
		return buf_error(err, errlen, "%s/run: %s", q->dir, strerror(e));
	return 0;
}

/* queue_runner_take - the user's runner lock, if nobody holds it */
enum queue_lock_result queue_runner_take(struct queue *q, struct queue_runner *r,
					 char *err, size_t errlen)
{
	/* read-only: the runner's close must not look like a submission to a .path unit */
	r->fd = open_runner(q, O_RDONLY, err, errlen);
	if (r->fd < 0)
		return QUEUE_ERROR;
	if (flock(r->fd, LOCK_EX | LOCK_NB) == 0)
		return QUEUE_LOCKED;
	int e = errno;
	queue_runner_close(r);
	if (e == EWOULDBLOCK)
		return QUEUE_BUSY;
	buf_error(err, errlen, "%s/run: lock: %s", q->dir, strerror(e));
	return QUEUE_ERROR;
}

/* queue_runner_wakes - the file's size is the count */
unsigned long long queue_runner_wakes(const struct queue_runner *r)
{
	struct stat st;
	if (r->fd < 0 || fstat(r->fd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_size;
}

/* queue_runner_trim - empty a long count (rare: once per RUNNER_WAKES_MAX submissions) */
int queue_runner_trim(struct queue *q, struct queue_runner *r)
{
	char err[64];
	if (queue_runner_wakes(r) < RUNNER_WAKES_MAX)
		return 0;
	int fd = open_runner(q, O_WRONLY, err, sizeof err);
	if (fd < 0)
		return -1;
	int ret = ftruncate(fd, 0);
	close(fd);
	return ret;
}

/* queue_runner_unlock - give the lock up, keep the file open */
void queue_runner_unlock(struct queue_runner *r)
{
	if (r->fd >= 0)
		(void)flock(r->fd, LOCK_UN);
}

/* queue_runner_relock - the lock again, without waiting */
bool queue_runner_relock(struct queue_runner *r)
{
	return r->fd >= 0 && flock(r->fd, LOCK_EX | LOCK_NB) == 0;
}

/* queue_runner_close - close the file (and the lock with it) */
void queue_runner_close(struct queue_runner *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/*
 * sweep_tmp_one - remove tmp/NAME when its writer is gone: a live writer
 * holds its lock from creation (create_tmp re-checks the link after
 * locking, so taking a file in the moment between is harmless) to commit
 */
static void sweep_tmp_one(struct queue *q, const char *name)
{
	struct stat st, fst;
	if (fstatat(q->tmpfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !queue_ours(st.st_uid))
		return;
	if (!S_ISREG(st.st_mode)) {
		unlinkat(q->tmpfd, name, 0);	/* nothing we make; a plant */
		return;
	}
	int fd = openat(q->tmpfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &fst) == 0 &&
	    fst.st_ino == st.st_ino && fst.st_dev == st.st_dev)
		unlinkat(q->tmpfd, name, 0);
	close(fd);
}

/*
 * sweep_failed_one - failed/ID (and ID.state) once ID has been there
 * longer than keep seconds: its ctime is when queue_fail renamed it there
 */
static void sweep_failed_one(struct queue *q, const char *name, time_t cutoff)
{
	struct stat st;
	char statename[QUEUE_ID_LEN + 8];
	if (!queue_valid_id(name) || fstatat(q->failfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_ctime > cutoff || !queue_ours(st.st_uid))
		return;
	if (snprintf(statename, sizeof statename, "%s.state", name) < 0)
		return;
	unlinkat(q->failfd, statename, 0);
	unlinkat(q->failfd, name, 0);
}

/* sweep_dir - call one(q, name[, cutoff]) for every entry of dirfd */
static void sweep_dir(struct queue *q, int dirfd, time_t cutoff, bool failed)
{
	DIR *d = dirfd >= 0 ? queue_open_dir(dirfd) : NULL;
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (failed)
			sweep_failed_one(q, de->d_name, cutoff);
		else
			sweep_tmp_one(q, de->d_name);
	}
	closedir(d);
}

/* queue_sweep - dead writers' temp files, and failed/ past keep_failed */
void queue_sweep(struct queue *q, unsigned keep_failed)
{
	sweep_dir(q, q->tmpfd, 0, false);
	if (keep_failed != 0)
		sweep_dir(q, q->failfd, time(NULL) - (time_t)keep_failed, true);
}

/* queue_free_bytes - room left for unprivileged writers in the spool's file system */
int queue_free_bytes(const struct queue *q, unsigned long long *bytes)
{
	struct statvfs sv;
	if (fstatvfs(q->dirfd, &sv) < 0)
		return -1;
	*bytes = (unsigned long long)sv.f_bavail * sv.f_frsize;
	return 0;
}
