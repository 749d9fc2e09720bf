/*
 * spool_fixture - a throw-away spool for the unit tests that need one
 * (test_queue, test_mailq, test_dsn). Include after cmocka.h; header-only,
 * since each test binary links its own list of modules.
 */
#ifndef RELAYMAIL_SPOOL_FIXTURE_H
#define RELAYMAIL_SPOOL_FIXTURE_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "queue.h"

/* spool_make - a fresh spool in a new /tmp/<name>.XXXXXX, opened in *q */
static inline void spool_make(char *dir, size_t dirlen, struct queue **q, const char *name)
{
	char err[256];
	int n = snprintf(dir, dirlen, "/tmp/%s.XXXXXX", name);
	assert_true(n > 0 && (size_t)n < dirlen);
	assert_non_null(mkdtemp(dir));
	*q = queue_open(dir, true, err, sizeof(err));
	assert_non_null(*q);
}

/* spool_subdir - an open fd of the spool's directory sub ("." for the spool itself) */
static inline int spool_subdir(const char *dir, const char *sub)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* spool_remove - close q and remove the spool (two levels deep at most) */
static inline void spool_remove(const char *dir, struct queue *q)
{
	static const char *const subs[] = { "tmp", "q", "s", "failed", "run" };
	char path[512];
	queue_close(q);
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		assert_true(n > 0 && (size_t)n < sizeof(path));
		DIR *d = opendir(path);
		if (d == NULL)
			continue;
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
		rmdir(path);
	}
	rmdir(dir);
}

#endif
