/*
 * import - sendmail --import=FORMAT[:ACCOUNT] [FILE]: read the
 * configuration of msmtp, ssmtp, nullmailer, dma or Postfix and print an
 * equivalent relaymail.conf. Reads the files (import_parse.h parses them),
 * writes the configuration and one note per setting that does not carry
 * over; never copies a password (password_file names IMPORT_SECRET_FILE,
 * for the admin to fill in, and a note says so).
 */
#ifndef RELAYMAIL_IMPORT_H
#define RELAYMAIL_IMPORT_H

#include <stddef.h>
#include <stdio.h>

enum import_outcome {
	IMPORT_DONE,		/* the configuration is on out */
	IMPORT_BAD_FORMAT,	/* no such format name */
	IMPORT_NO_INPUT,	/* a file to read is missing or unreadable */
	IMPORT_UNUSABLE,	/* the file makes no sense, or has no relaymail equivalent */
	IMPORT_WRITE_ERROR,	/* out could not be written */
};

/*
 * import_run - format is "msmtp", "msmtp:ACCOUNT", "ssmtp", "nullmailer",
 * "dma" or "postfix"; file is NULL for the format's usual place (a
 * directory for nullmailer). The configuration goes to out, the notes to
 * notes; a failure leaves one line in err.
 */
enum import_outcome import_run(const char *format, const char *file, FILE *out, FILE *notes,
			       char *err, size_t errlen);

#endif
