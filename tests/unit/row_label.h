/*
 * row_label - which row of a table-driven test failed. A test names each
 * row with row_label before checking it and calls row_label_done after the
 * table; row_label_report, the test's teardown (or called from it), prints
 * the label a failed test stopped at. Include after cmocka.h; header-only.
 */
#ifndef RELAYMAIL_ROW_LABEL_H
#define RELAYMAIL_ROW_LABEL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char row_label_now[512];

/* row_label - the row now being checked (printf-like) */
__attribute__((format(printf, 1, 2), unused))
static void row_label(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(row_label_now, sizeof row_label_now, fmt, ap) < 0)
		row_label_now[0] = '\0';
	va_end(ap);
}

/* row_label_bytes - row_label of "table[i]: input", the input's control bytes escaped */
__attribute__((unused))
static void row_label_bytes(const char *table, size_t i, const char *in, size_t n)
{
	char shown[4 * 48 + 1];
	size_t k = 0;
	for (size_t j = 0; j < n && j < 48; j++) {
		unsigned char c = (unsigned char)in[j];
		int w = c >= 0x20 && c < 0x7f ? snprintf(shown + k, sizeof shown - k, "%c", c) :
			snprintf(shown + k, sizeof shown - k, "\\x%02x", c);
		k += w > 0 ? (size_t)w : 0;
	}
	shown[k] = '\0';
	row_label("%s[%zu]: \"%s\"%s", table, i, shown, n > 48 ? "..." : "");
}

/* row_label_str - row_label_bytes of a C string (NULL shows as "(null)") */
__attribute__((unused))
static void row_label_str(const char *table, size_t i, const char *in)
{
	if (in == NULL)
		in = "(null)";
	row_label_bytes(table, i, in, strlen(in));
}

/* row_label_done - every row of the table passed */
__attribute__((unused))
static void row_label_done(void)
{
	row_label_now[0] = '\0';
}

/* row_label_report - a teardown: print the row a failed test stopped at */
__attribute__((unused))
static int row_label_report(void **state)
{
	(void)state;
	if (row_label_now[0] != '\0')
		print_error("failing row: %s\n", row_label_now);
	row_label_now[0] = '\0';
	return 0;
}

#endif
