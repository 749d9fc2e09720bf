/*
 * tlscache - TLS sessions saved in the spool (tls/KEY, mode 0600), so that
 * a later sendmail skips the full handshake and the certificate chain
 * check. The key (from tls.c) names the host, port and every verification
 * setting, so a session is only offered back under the same settings.
 * A missing, unreadable or corrupt entry is just a full handshake. Each
 * entry is its writer's own (0600): under the set-group-id model, users
 * do not resume each other's sessions.
 */
#ifndef RELAYMAIL_TLSCACHE_H
#define RELAYMAIL_TLSCACHE_H

#include "tls.h"

#define TLSCACHE_MAX 16384	/* a saved session is a few KiB at most */

struct tlscache {
	int dirfd;		/* <spool>/tls, or -1: no cache */
	struct tls_cache hooks;
};

/*
 * tlscache_open - the cache in the directory dirfd (the spool's tls/, from
 * queue_private_dir), which it now owns. Never fails: with dirfd -1 the
 * hooks simply find and keep nothing.
 */
void tlscache_open(struct tlscache *c, int dirfd);

/* tlscache_close - close the directory */
void tlscache_close(struct tlscache *c);

#endif
