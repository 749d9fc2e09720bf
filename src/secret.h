/*
 * secret - fetch the authentication secret named by [auth]: the password
 * itself, the first line of password_file, or the first line printed by
 * password_command, run by /bin/sh -p -c in a child with the caller's real
 * uid and gid but the relaymail group kept as its effective gid (so it can
 * read a root:relaymail 0640 secret, and, not dumpable, its output is not
 * the caller's to read) with a clean environment: PATH, and HOME, USER,
 * LOGNAME from the password database.
 *
 * The secret lands in a struct buf that the caller wipes with buf_wipe() as
 * soon as it has been encoded. Errors never quote the secret.
 */
#ifndef RELAYMAIL_SECRET_H
#define RELAYMAIL_SECRET_H

#include <stddef.h>

#include "buf.h"
#include "conf.h"

/*
 * secret_fetch - fill out (an empty buffer) with the secret.
 * Result: 0; 1 when the configuration names no secret (no AUTH);
 * -1 with a one-line reason in err (file unreadable, command failed or
 * printed nothing). The oauth2_* set is not handled here: the caller asks
 * oauth2_fetch (oauth2.h) for such a configuration.
 */
int secret_fetch(const struct conf *c, struct buf *out, char *err, size_t errlen);

/*
 * secret_read_file - the first line of the file at path into out (an empty
 * buffer); key names the [auth] key in errors ("password_file").
 * Result: 0, or -1 with a one-line reason in err.
 */
int secret_read_file(const char *path, const char *key, struct buf *out, char *err,
		     size_t errlen);

#endif
