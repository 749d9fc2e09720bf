/* log - stderr, syslog, log file and the -v transcript; see log.h */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* the program's only mutable globals: where its voice goes */
static const char *log_progname = "sendmail";
static bool log_is_verbose;
static bool log_to_syslog;
static FILE *log_file;

/* log_init - program name and -v */
void log_init(const char *progname, bool verbose)
{
	log_progname = progname;
	log_is_verbose = verbose;
}

/* log_open - syslog and log file as configured */
void log_open(bool use_syslog, const char *file)
{
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("relaymail", LOG_PID, LOG_MAIL);
	if (file != NULL && *file != '\0' && log_file == NULL) {
		log_file = fopen(file, "ae");
		if (log_file == NULL)
			log_error("cannot open log file %s: %m", file);
	}
}

/* log_printable - printable copy of untrusted bytes */
char *log_printable(const char *in, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	if (outlen == 0)
		return out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		char tmp[5];
		size_t k;
		if (c >= 0x20 && c < 0x7f) {
			tmp[0] = (char)c;
			k = 1;
		} else {
			k = (size_t)snprintf(tmp, sizeof tmp, "\\x%02X", c);
		}
		if (o + k + 4 > outlen) {	/* room for "..." and NUL */
			if (o + 4 <= outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, tmp, k);
		o += k;
	}
	out[o] = '\0';
	return out;
}

/* vline - format, make printable, print "progname: text" on stderr */
static void vline(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vline(const char *fmt, va_list ap)
{
	char raw[2048], safe[2048];
	int n = vsnprintf(raw, sizeof raw, fmt, ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
	log_printable(raw, len, safe, sizeof safe);
	fprintf(stderr, "%s: %s\n", log_progname, safe);
}

/* log_error - one-line error on stderr */
void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap);
	va_end(ap);
}

/* log_info - one-line notice on stderr */
void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap);
	va_end(ap);
}

/* log_event - one delivery line to syslog and the log file */
void log_event(const char *fmt, ...)
{
	char raw[2048], safe[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
	log_printable(raw, len, safe, sizeof safe);
	if (log_to_syslog)
		syslog(LOG_INFO, "%s", safe);
	if (log_file != NULL) {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		if (localtime_r(&now, &tm) == NULL ||
		    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
			stamp[0] = '\0';
		fprintf(log_file, "%s relaymail: %s\n", stamp, safe);
		fflush(log_file);
	}
}

/* log_verbose - -v given */
bool log_verbose(void)
{
	return log_is_verbose;
}

/* log_transcript - one protocol line on stderr under -v */
void log_transcript(char dir, const char *line, size_t len)
{
	char safe[1100];
	if (!log_is_verbose)
		return;
	log_printable(line, len, safe, sizeof safe);
	fprintf(stderr, "%c %s\n", dir == '<' ? '<' : '>', safe);
}

/* log_trace_call - hand text to t's fn, if any */
void log_trace_call(const struct log_trace *t, enum log_trace_kind kind, const char *text,
		    size_t n)
{
	if (t != NULL && t->fn != NULL)
		t->fn(t->ctx, kind, text, n);
}

/* log_trace_wire - the wire lines to the -v transcript; report text is not its business */
void log_trace_wire(void *ctx, enum log_trace_kind kind, const char *text, size_t n)
{
	(void)ctx;
	if (kind != LOG_TRACE_REPORT)
		log_transcript(kind == LOG_TRACE_RECEIVED ? '<' : '>', text, n);
}
