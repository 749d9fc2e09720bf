/*
 * row_label - name the row of a table-driven unit test whose assertions
 * follow, so that a failure shows which row failed: the last label printed
 * before cmocka's failure report. Include after cmocka.h; header-only.
 */
#ifndef RELAYMAIL_ROW_LABEL_H
#define RELAYMAIL_ROW_LABEL_H

#include <stdio.h>
#include <string.h>

#define ROW_LABEL_SHOWN 48	/* bytes of the row's input shown */

/* row_label - print "table[i]: what" with what's control bytes escaped (n: its length) */
static inline void row_label(const char *table, size_t i, const char *what, size_t n)
{
	char shown[4 * ROW_LABEL_SHOWN + 4];
	size_t k = 0;
	for (size_t j = 0; j < n && j < ROW_LABEL_SHOWN; j++) {
		unsigned char c = (unsigned char)what[j];
		int w = c >= 0x20 && c < 0x7f ? snprintf(shown + k, sizeof shown - k, "%c", c) :
			snprintf(shown + k, sizeof shown - k, "\\x%02x", c);
		k += w > 0 ? (size_t)w : 0;
	}
	shown[k] = '\0';
	print_message("%s[%zu]: \"%s\"%s\n", table, i, shown, n > ROW_LABEL_SHOWN ? "..." : "");
}

/* row_label_str - row_label of a C string (NULL shows as "(null)") */
static inline void row_label_str(const char *table, size_t i, const char *what)
{
	if (what == NULL)
		what = "(null)";
	row_label(table, i, what, strlen(what));
}

#endif
