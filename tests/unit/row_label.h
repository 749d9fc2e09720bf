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
