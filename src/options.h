/*
 * options - the classic sendmail command line (SPEC "Command line") parsed
 * into one struct options. Pure: no I/O; values point into argv.
 *
 * Options are parsed wherever they stand until "--" (as Postfix's sendmail
 * does with GNU getopt); single-letter flags may be grouped ("-ti"); an
 * option's value may be glued ("-fuser@x") or the next argument.
 */
#ifndef RELAYMAIL_OPTIONS_H
#define RELAYMAIL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

enum options_mode {
	OPTIONS_DELIVER,	/* -bm, the default */
	OPTIONS_LIST,		/* -bp, mailq */
	OPTIONS_SMTP,		/* -bs */
	OPTIONS_NEWALIASES,	/* -bi, newaliases */
	OPTIONS_VERIFY,		/* -bv */
	OPTIONS_QUEUE_RUN,	/* -q, -qINTERVAL, -qI, -qR */
	OPTIONS_VERSION,	/* --version */
	OPTIONS_HELP,		/* --help */
	OPTIONS_CHECK,		/* --check: look at the smarthost, send nothing */
	OPTIONS_IMPORT,		/* --import=FORMAT [FILE]: print another program's settings as relaymail.conf */
	OPTIONS_RUNNER,		/* --runner: the user's (root: everyone's) background queue runner */
};

enum options_delivery {
	OPTIONS_DELIVERY_CONFIG,	/* as [queue] mode says */
	OPTIONS_DELIVERY_SYNC,		/* -odi */
	OPTIONS_DELIVERY_BACKGROUND,	/* -odb */
	OPTIONS_DELIVERY_QUEUE,		/* -odq, -odd */
};

struct options {
	enum options_mode mode;
	enum options_delivery delivery;
	bool from_headers;	/* -t */
	bool dot_ends;		/* false with -i / -oi */
	bool verbose;		/* -v */
	bool json;		/* --json (mailq) */
	const char *sender;	/* -f / -r, the last one; NULL when not given */
	const char *full_name;	/* -F */
	const char *config;	/* -C */
	const char *import;	/* --import=FORMAT: the format */
	const char *body;	/* -B: NULL, "7BIT" or "8BITMIME" */
	char notify[32];	/* -N: "" or "NEVER" or e.g. "SUCCESS,FAILURE" */
	const char *ret;	/* -R: NULL, "FULL" or "HDRS" */
	const char *envid;	/* -V */
	unsigned queue_interval;	/* -qINTERVAL in seconds; 0 for one run */
	const char *queue_id;	/* -qIprefix */
	const char *queue_domain;	/* -qRdomain */
	char **rcpt;		/* the recipient arguments, in argv */
	int nrcpt;
};

/*
 * options_parse - parse argv[1..argc-1] into o, starting from mode
 * (OPTIONS_LIST when called as mailq, OPTIONS_NEWALIASES as newaliases).
 * rcpt must have room for argc pointers. 0, or -1 with a one-line usage
 * error in err naming the option ("unknown option -Z").
 */
int options_parse(int argc, char **argv, enum options_mode mode, char **rcpt,
		  struct options *o, char *err, size_t errlen);

#endif
