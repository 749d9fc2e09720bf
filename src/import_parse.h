/*
 * import_parse - what sendmail --import learns from another mail program's
 * configuration: one struct import (relaymail's settings, as text) filled
 * by a parser per format, plus one note per setting that does not carry
 * over. Pure: the parsers read text handed to them and never open a file;
 * import.c does the file I/O and prints the result.
 *
 * A password written in the old configuration is never copied: the parser
 * records where it was (secret_from) and import.c points password_file at
 * IMPORT_SECRET_FILE for the admin to fill in.
 */
#ifndef RELAYMAIL_IMPORT_PARSE_H
#define RELAYMAIL_IMPORT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define IMPORT_SECRET_FILE "/etc/relaymail.secret"
#define IMPORT_VALUE_MAX 1024
#define IMPORT_ALIASES_MAX 64
#define IMPORT_TEXT_MAX (1024 * 1024)	/* a configuration file bigger than this is refused */
#define IMPORT_NOTES_MAX (64 * 1024)

enum import_tls { IMPORT_TLS_UNSET, IMPORT_TLS_STARTTLS, IMPORT_TLS_IMPLICIT, IMPORT_TLS_NONE };

struct import_alias {
	char name[64];
	char value[IMPORT_VALUE_MAX];
};

/* relaymail settings as text; "" (or -1, IMPORT_TLS_UNSET, 0 for port) = not set */
struct import {
	const char *home;		/* expands "~/" in file names; may be NULL */
	const char *select;		/* msmtp: the account (NULL: default); nullmailer: the file read */
	char host[256];
	unsigned port;
	enum import_tls tls;
	int tls_verify;
	char tls_ca_file[IMPORT_VALUE_MAX];
	char tls_cert_file[IMPORT_VALUE_MAX];
	char tls_key_file[IMPORT_VALUE_MAX];
	char tls_fingerprint[IMPORT_VALUE_MAX];
	char helo[256];
	char timeout[32];
	char mechanism[32];
	char user[256];
	char password_command[IMPORT_VALUE_MAX];
	char secret_from[IMPORT_VALUE_MAX];	/* where an inline password was, e.g. "remotes (--pass)" */
	char domain[256];
	char domain_file[IMPORT_VALUE_MAX];	/* domain is the first line of this file (/etc/mailname) */
	char from[256];
	int allow_from_override;
	char aliases_file[IMPORT_VALUE_MAX];
	char log_file[IMPORT_VALUE_MAX];
	int syslog;
	char mode[16];
	struct import_alias alias[IMPORT_ALIASES_MAX];
	size_t nalias;
	char aux_path[IMPORT_VALUE_MAX];	/* a second file the format names (dma's auth.conf ...) */
	struct buf notes;		/* one line per setting that does not carry over */
	char source[IMPORT_VALUE_MAX];	/* the file (or nullmailer's directory) read first */
	char error[256];		/* why the text made no sense (parsers return -1) */
};

/* import_init - an empty result; home may be NULL. Free with import_free. */
void import_init(struct import *im, const char *home);

/* import_free - release the notes */
void import_free(struct import *im);

/* import_set - copy value into dst (size n), "~/" expanded; -1 with im->error when it does not fit */
int import_set(struct import *im, char *dst, size_t n, const char *key, const char *value);

/* import_note - add one note line: "SOURCE: KEY does not carry over: WHY" style, formatted */
void import_note(struct import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* import_fail - set im->error, return -1 */
int import_fail(struct import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* import_add_alias - one [aliases] entry; -1 when the table is full or a value too long */
int import_add_alias(struct import *im, const char *name, const char *value);

/* import_port - a decimal port 1..65535 into im->port; -1 with im->error otherwise */
int import_port(struct import *im, const char *what, const char *value);

/* import_yes - a boolean word (on/off, yes/no, true/false, 1/0, any case): 1, 0, or -1 */
int import_yes(const char *value);

/*
 * import_line - the next line of *text (advanced past it) into line (size
 * n), blanks at both ends removed; 0, 1 at the end of text, -1 with
 * im->error when a line is longer than n - 1
 */
int import_line(struct import *im, const char **text, char *line, size_t n);

/*
 * import_split - "KEY<sep>VALUE" in place: key and value without blanks
 * around them; sep 0 means any run of blanks. 0, or -1 when sep is missing.
 */
int import_split(char *line, char sep, char **key, char **value);

/* a key of a format that maps to one text field of base: its offset and size */
struct import_field {
	const char *key;
	size_t off;
	size_t size;
};
#define IMPORT_FIELD(key, type, field) { key, offsetof(type, field), sizeof(((type *)0)->field) }

/* import_field_set - key found in table t (n entries): value copied into base's field, 0/-1; 1 when not found */
int import_field_set(struct import *im, void *base, const struct import_field *t, size_t n,
		     const char *key, const char *value);

/*
 * import_each - fn(im, flags, key, value) for each line of text that is
 * not blank or a '#' comment, split at sep (0: blanks); a line without sep
 * is an error naming format. flags: two ints the format's fn may set
 * (ssmtp's and dma's TLS switches). fn returns 0 to go on, 1 to stop
 * (found what it looked for), -1 on an error. The line buffer is wiped
 * at the end (a line may hold a password), and an error names the line by
 * its number, never its text. 0, or -1 with im->error.
 */
int import_each(struct import *im, const char *text, char sep, const char *format, int flags[2],
		int (*fn)(struct import *im, int flags[2], const char *key, const char *value));

/* import_domain - a domain, or a file naming it ("/etc/mailname") into domain or domain_file */
int import_domain(struct import *im, const char *key, const char *value);

/* import_host_port - "host", "host:port", "[host]" or "[host]:port" into host and port */
int import_host_port(struct import *im, const char *what, const char *value);

/* the parsers: 0, or -1 with im->error when the text makes no sense */

/* import_msmtp - an msmtprc; account NULL means msmtp's default account */
int import_msmtp(struct import *im, const char *text, const char *account);

/* import_ssmtp - ssmtp.conf; import_ssmtp_revaliases - its revaliases file */
int import_ssmtp(struct import *im, const char *text);
int import_ssmtp_revaliases(struct import *im, const char *text);

/* nullmailer's files, by name ("remotes", "defaultdomain", "defaulthost", "me", "adminaddr", ...) */
int import_nullmailer(struct import *im, const char *name, const char *text);

/* import_dma - dma.conf (sets aux_path to its AUTHPATH); import_dma_auth - that auth.conf */
int import_dma(struct import *im, const char *text);
int import_dma_auth(struct import *im, const char *text);

/* import_postfix - main.cf (aux_path: the smtp_sasl_password_maps source); import_postfix_sasl - that file */
int import_postfix(struct import *im, const char *text);
int import_postfix_sasl(struct import *im, const char *text);

#endif
