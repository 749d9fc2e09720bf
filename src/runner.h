/*
 * runner - background delivery: one queue runner per user at a time,
 * shared by every background submission of that user.
 *
 * A background submission (-odb, [queue] mode = background, -bs in that
 * mode) commits its message, adds one to the user's wake-up count
 * (queue_wake) and tries the user's runner lock. If it gets the lock it
 * starts a detached runner; if not, the runner that holds it will deliver
 * the message: a runner looks at q/ again whenever the count grew during a
 * look, waits RUNNER_LINGER_MS for more before it lets go, and after
 * letting go reads the count once more (taking the lock back when it
 * grew). So a burst of submissions goes out over one session, pipelined,
 * and none is left behind by a race.
 *
 * A runner only takes messages of its own user (queue_lock): a user can
 * stop or slow their runner, never anyone else's mail. Root's runner
 * (sendmail --runner, started by the relaymail-queue.path unit when
 * anything is submitted) takes every user's.
 */
#ifndef RELAYMAIL_RUNNER_H
#define RELAYMAIL_RUNNER_H

#include "conf.h"
#include "queue.h"

/* how long an idle runner waits for another submission before it ends */
#define RUNNER_LINGER_MS 500

/*
 * runner_hand_off - m was just committed (and is locked): release it and
 * make sure a runner of this user delivers it, starting a detached one
 * when none runs. 0, or -1 when no runner could be woken or started (a
 * notice on stderr; m stays queued for a later queue run either way).
 */
int runner_hand_off(const struct conf *c, struct queue *q, struct queue_msg *m);

/*
 * runner_run - sendmail --runner: be this user's runner in the foreground
 * (root: for every user's messages) until nothing more is due; at once 0
 * when another runner of the user is at work. 0, or -1 when the queue
 * could not be read (error on stderr).
 */
int runner_run(const struct conf *c, struct queue *q);

#endif
