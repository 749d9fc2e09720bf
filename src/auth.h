/*
 * auth - the SASL client mechanisms of SMTP AUTH (RFC 4954) as one table:
 * PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195), SCRAM-SHA-256 (RFC 7677),
 * XOAUTH2 and OAUTHBEARER (RFC 7628).
 *
 * No I/O here: smtp.c carries the lines, auth turns each decoded server
 * challenge into the raw bytes of the next response; the caller base64-
 * encodes them and wipes the buffer at once. Nothing in this module ever
 * writes the secret anywhere but into the caller's out buffer.
 */
#ifndef RELAYMAIL_AUTH_H
#define RELAYMAIL_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "conf.h"

#define AUTH_NONCE_LEN 32	/* SCRAM client nonce, printable base64 */
#define AUTH_ERROR_MAX 160

struct auth_client;

/*
 * auth_mech - one mechanism. rank: "auto" takes the highest offered one;
 * 0 means "only when configured by name".
 * initial: the first response goes on the AUTH line (step called with
 * in == NULL before any challenge). step: the response to the challenge
 * in (decoded), appended raw to out; 0, or -1 with c->error set.
 */
struct auth_mech {
	const char *name;
	enum conf_mech mech;
	int rank;
	bool initial;
	int (*step)(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out);
};

/*
 * auth_client - one authentication exchange. user and secret are
 * borrowed (the caller owns and wipes the secret); host and port feed
 * OAUTHBEARER's host= and port=. nonce may be overwritten after
 * auth_client_init (RFC 7677 test vector).
 */
struct auth_client {
	const struct auth_mech *mech;
	const char *user, *secret, *host;
	unsigned port;
	unsigned round;			/* responses produced so far */
	bool verified;			/* SCRAM: server signature checked */
	char nonce[AUTH_NONCE_LEN + 1];
	struct buf auth_message;	/* SCRAM AuthMessage (no secret in it) */
	unsigned char server_sig[32];	/* SCRAM: expected ServerSignature */
	char error[AUTH_ERROR_MAX];	/* why a step failed; never quotes the secret */
};

/* auth_mech_by_name - the mechanism called name (n bytes, any case), or NULL */
const struct auth_mech *auth_mech_by_name(const char *name, size_t n);

/* auth_mech_by_conf - the mechanism for a configured value, or NULL (auto, none) */
const struct auth_mech *auth_mech_by_conf(enum conf_mech m);

/*
 * auth_parse_offer - the mechanisms we implement among the space-separated
 * names in list (n bytes): a mask of (1u << enum conf_mech) bits.
 */
unsigned auth_parse_offer(const char *list, size_t n);

/*
 * auth_choose - the mechanism to use: wanted itself when it is offered,
 * or for CONF_MECH_AUTO the highest-ranked offered one. NULL with err
 * saying why. The caller has already made sure the channel is private:
 * TLS, or (tls = none) a loopback port below 1024, where only root listens.
 */
const struct auth_mech *auth_choose(enum conf_mech wanted, unsigned offered, char *err,
				    size_t errlen);

/* auth_client_init - start an exchange with m; 0, or -1 (no random bytes) */
int auth_client_init(struct auth_client *c, const struct auth_mech *m, const char *user,
		     const char *secret, const char *host, unsigned port);

/*
 * auth_client_step - the next response (raw bytes appended to out) to the
 * decoded challenge in; in == NULL for the initial response. 0, or -1 with
 * c->error (the caller then cancels the exchange with "*").
 */
int auth_client_step(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out);

/*
 * auth_client_success - judge the server's 235: SCRAM requires the server
 * signature, checked in a 334 earlier or carried base64-encoded as the
 * 235's text (b64, n bytes, may be empty). 0, or -1 with c->error.
 */
int auth_client_success(struct auth_client *c, const char *b64, size_t n);

/*
 * auth_wire - how auth_run talks to the server, provided by the SMTP
 * client. send: queue and flush one line; shown is what the transcript
 * prints instead (NULL: the line itself). reply: read the next reply, its
 * code and the raw text of its first line (after "334 "). Both return 0,
 * or -1 when the connection failed (the caller keeps the reason).
 */
struct auth_wire {
	void *ctx;
	int (*send)(void *ctx, const char *line, size_t n, const char *shown);
	int (*reply)(void *ctx, int *code, const char **text, size_t *n);
};

enum auth_outcome {
	AUTH_OK,	/* 235, and the server proved itself where the mechanism can */
	AUTH_REFUSED,	/* the server's reply (535, 421, ...) ended it: the caller has it */
	AUTH_FAILED,	/* our side gave up (bad challenge, SCRAM proof): c->error */
	AUTH_LOST,	/* wire->send or wire->reply failed */
};

/*
 * auth_run - the whole exchange (RFC 4954): "AUTH mech [initial]",
 * then each 334 challenge answered until 235 or another reply; a failure
 * of ours is cancelled with "*". Every response line is shown as
 * "<redacted>" (the AUTH line as "AUTH PLAIN <redacted>"), and every
 * buffer that held one is wiped.
 */
enum auth_outcome auth_run(struct auth_client *c, const struct auth_wire *w);

/* auth_client_wipe - forget everything the exchange held */
void auth_client_wipe(struct auth_client *c);

#endif
