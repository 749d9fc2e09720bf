/*
 * conf - the INI configuration file (SPEC "Configuration") read with
 * iniparser into one struct conf that the rest of the program only reads.
 *
 * Every key of every section is known to a table in conf.c; an unknown
 * section or key, a bad value or a missing required value is an error that
 * names the file and the key. Nothing is silently ignored.
 *
 * Also refused: a key given twice, a key outside any section, tls_cert_file
 * without tls_key_file (and the reverse), AUTH with tls = none to a host
 * that is not a loopback address or to a port from 1024 up, tls_verify = no
 * without tls_fingerprint, a secret without user, user without
 * exactly one of password / password_file / password_command (or the
 * complete oauth2_* set with mechanism xoauth2 or oauthbearer), a
 * tls_min_version other than 1.2 or 1.3, a tls_ciphers or tls_ciphersuites
 * that OpenSSL does not accept. "key =" with an empty value keeps the default, except
 * aliases_file ("" turns it off) and [aliases] default.
 */
#ifndef RELAYMAIL_CONF_H
#define RELAYMAIL_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_DEFAULT_PATH "/etc/relaymail.conf"

enum conf_tls { CONF_TLS_STARTTLS, CONF_TLS_IMPLICIT, CONF_TLS_NONE };

/* SASL mechanisms, weakest first: "auto" picks the highest offered one */
enum conf_mech {
	CONF_MECH_AUTO,
	CONF_MECH_NONE,
	CONF_MECH_LOGIN,
	CONF_MECH_PLAIN,
	CONF_MECH_CRAM_MD5,
	CONF_MECH_SCRAM_SHA_256,
	CONF_MECH_XOAUTH2,
	CONF_MECH_OAUTHBEARER,
};

enum conf_queue_mode { CONF_MODE_SYNC, CONF_MODE_BACKGROUND, CONF_MODE_QUEUE };

struct conf_alias {
	char *name;	/* local name, lower case */
	char *targets;	/* comma-separated addresses, as written */
};

struct conf {
	char *path;			/* the file this came from */

	struct {
		char *host;		/* required */
		unsigned port;		/* default from tls: 587, 465, 25 */
		enum conf_tls tls;	/* default starttls */
		bool tls_verify;	/* default yes */
		char *tls_ca_file;	/* NULL: system trust store */
		char *tls_fingerprint;	/* NULL or 64 lower-case hex digits (colons removed) */
		char *tls_cert_file;	/* NULL or a file; key file required with it */
		char *tls_key_file;
		char *tls_min_version;	/* NULL (1.2) or "1.2" or "1.3" */
		char *tls_ciphers;	/* NULL or an OpenSSL cipher list (TLS 1.2), checked by OpenSSL */
		char *tls_ciphersuites;	/* NULL or TLS 1.3 suites ("TLS_AES_256_GCM_SHA384:..."), checked */
		char *helo;		/* never NULL: default this host's FQDN */
		unsigned timeout;	/* seconds per network step; 0: RFC 5321 4.5.3.2 values */
	} smarthost;

	struct {
		enum conf_mech mechanism;	/* default auto */
		char *user;			/* NULL: no AUTH */
		char *password;			/* exactly one of these three when user is set */
		char *password_file;		/* (or the oauth2_* set) */
		char *password_command;
		char *oauth2_token_url;
		char *oauth2_client_id;
		char *oauth2_client_secret;
		char *oauth2_client_secret_file;
		char *oauth2_refresh_token;
		char *oauth2_refresh_token_file;
	} auth;

	struct {
		char *domain;			/* never NULL: default this host's FQDN */
		char *from;			/* NULL: login name @ domain */
		bool allow_from_override;	/* default yes */
		bool rewrite_from;		/* default no */
		char *aliases_file;		/* default /etc/aliases; "" disables */
	} sender;

	struct {
		struct conf_alias *v;		/* [aliases] entries but "default" */
		size_t n;
		char *default_target;		/* NULL or "": name@domain */
	} aliases;

	struct {
		char *dir;			/* default /var/spool/relaymail */
		enum conf_queue_mode mode;	/* default sync */
		unsigned retry_min;		/* seconds, default 300 */
		unsigned retry_max;		/* seconds, default 3600 */
		unsigned max_age;		/* seconds, default 5 days */
		unsigned long long max_message_size;	/* bytes, default 50M; 0: no limit */
		unsigned long long min_free;	/* bytes free in the spool's file system
						 * below which only root submits; default 100M */
		unsigned keep_failed;		/* seconds in failed/, default 30 days; 0: for ever */
	} queue;

	struct {
		bool syslog;			/* default yes */
		char *file;			/* NULL: none */
	} log;
};

/*
 * conf_load - read and check path into *c.
 * Result: 0, or -1 with one line in err ("FILE: [section] key: problem").
 * On -1, *c holds nothing to free. The caller frees a loaded conf with
 * conf_free().
 */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen);

/* conf_free - release everything conf_load allocated */
void conf_free(struct conf *c);

/*
 * conf_parse_duration - "90", "90s", "10m", "1h", "5d", "2w" into seconds.
 * conf_parse_size - "1000", "10k", "20M", "1G" (powers of 1024) into bytes.
 * Result 0, or -1 for an empty, negative, malformed or overflowing value.
 */
int conf_parse_duration(const char *s, unsigned *seconds);
int conf_parse_size(const char *s, unsigned long long *bytes);

/*
 * conf_clear_auth_allowed - may a password (or anything derived from it)
 * go to host:port without TLS? Only to a loopback address (127.0.0.0/8,
 * ::1, "localhost") on a port below 1024, where only root can listen;
 * port 0 judges the host alone.
 */
bool conf_clear_auth_allowed(const char *host, unsigned port);

/* conf_mech_name - "plain", "cram-md5", ... for traces and errors */
const char *conf_mech_name(enum conf_mech m);

#endif
