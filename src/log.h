/*
 * log - the program's voice: one-line errors and notices on stderr, one
 * line per delivery attempt to syslog (facility mail) and/or [log] file,
 * and the -v transcript on stderr. The only mutable globals of the program
 * are the settings kept here.
 */
#ifndef RELAYMAIL_LOG_H
#define RELAYMAIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* log_init - program name for stderr ("sendmail"), and the -v switch */
void log_init(const char *progname, bool verbose);

/* log_open - syslog on/off and an optional log file, from [log] */
void log_open(bool use_syslog, const char *file);

/* log_error - "progname: message" on stderr (made printable) */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_info - same as log_error; for notices such as "queued as ..." */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_event - one delivery-attempt line to syslog and the log file */
void log_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_verbose - -v is on */
bool log_verbose(void);

/*
 * log_transcript - with -v, one protocol line on stderr: dir '<' for what
 * the server said, '>' for what we sent. The caller passes "<redacted>"
 * instead of any line that carries a secret.
 */
void log_transcript(char dir, const char *line, size_t len);

/*
 * log_printable - copy in (n bytes) to out (size outlen, always
 * NUL-terminated) with every byte outside printable ASCII shown as \xHH;
 * the result is cut with "..." when it does not fit. Returns out.
 */
char *log_printable(const char *in, size_t n, char *out, size_t outlen);

/* what a trace is handed: a line sent, a line received, or report text */
enum log_trace_kind { LOG_TRACE_SENT, LOG_TRACE_RECEIVED, LOG_TRACE_REPORT };

/*
 * struct log_trace - where a session's words go (the -v transcript, the
 * --check report): fn gets each line sent or received (without CRLF,
 * "<redacted>" in place of a secret) and each piece of report text (whole
 * printable lines, each ending in a newline). fn NULL: nowhere.
 */
struct log_trace {
	void (*fn)(void *ctx, enum log_trace_kind kind, const char *text, size_t n);
	void *ctx;
};

/* log_trace_call - hand text to t's fn, if any */
void log_trace_call(const struct log_trace *t, enum log_trace_kind kind, const char *text,
		    size_t n);

/* log_trace_wire - a log_trace fn: the lines to log_transcript, the report dropped */
void log_trace_wire(void *ctx, enum log_trace_kind kind, const char *text, size_t n);

#endif
