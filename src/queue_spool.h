/*
 * queue_spool - private to the queue module (queue.c, queue_run.c): the
 * open spool's structure, every mode choice of the spool, and the helpers
 * both files use. Nothing outside the queue module includes it.
 */
#ifndef RELAYMAIL_QUEUE_SPOOL_H
#define RELAYMAIL_QUEUE_SPOOL_H

#include <dirent.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * Every mode choice of the spool, in one place (see INSTALL, "Privileges").
 * The installed spool is root:relaymail 0770 and the program runs with the
 * relaymail group, so a queue file is 0660: any process of the group can
 * open it (the program itself takes only its own user's messages, or any
 * as root: queue_ours), while users without the group cannot reach the
 * spool at all. The program runs
 * under umask 077, hence the explicit fchmod. A spool the program creates
 * itself is private (0700); a subdirectory it creates shares its parent's
 * group permissions.
 */
#define QUEUE_DIR_MODE 0700
#define QUEUE_FILE_MODE 0660
/* run/UID is only ever used by that user's own processes */
#define RUNNER_FILE_MODE 0600
/* -bs's scratch file lives only unlinked, in its creator's process */
#define SCRATCH_FILE_MODE 0600
/*
 * The private directories of the caches (queue_private_dir) are created
 * like the spool's own subdirectories: QUEUE_DIR_MODE plus the spool's
 * group permissions, so every user of the spool shares them; what the
 * caches put in them is their own (0600 files, see tlscache.c, oauth2.c).
 */

/* the spool, open */
struct queue {
	char *dir;
	int dirfd;
	int tmpfd;	/* tmp/ */
	int qfd;	/* q/ */
	int sfd;	/* s/ */
	int failfd;	/* failed/ */
	int runfd;	/* run/ */
};

/* queue_ours - may this process take a file owned by uid (its own user's, or any as root)? */
bool queue_ours(uid_t uid);

/* queue_open_dir - a DIR stream of its own over the directory dirfd; NULL on error */
DIR *queue_open_dir(int dirfd);

#endif
