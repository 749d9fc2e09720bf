/*
 * fuzz_reply - libFuzzer target for the SMTP reply parser: the input is
 * split at LF into lines fed to smtp_reply_line, smtp_enhanced and the
 * multi-line assembly; the whole input also goes through smtp_stuff in
 * two chunks, whose output is checked against a one-pass stuffing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_reply - the invariants of an assembled reply */
static void check_reply(const struct smtp_reply *r, int rc)
{
	size_t n = strnlen(r->text, sizeof r->text);
	if (n >= sizeof r->text || strnlen(r->enhanced, sizeof r->enhanced) >= sizeof r->enhanced)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r->text[i] < 0x20 || (unsigned char)r->text[i] >= 0x7f)
			abort();	/* the text must be printable */
	if (rc == 1 && (r->code < 200 || r->code > 599))
		abort();
	if (rc < 0 && r->code != 0)
		abort();
	if (r->enhanced[0] != '\0' && r->enhanced[0] - '0' != r->code / 100)
		abort();	/* an enhanced code never disagrees with the reply */
}

/* fuzz_lines - every line through the pure parsers and the assembly */
static void fuzz_lines(const char *p, size_t size)
{
	struct smtp_assembly a;
	struct smtp_reply r;
	int rc = 0;
	smtp_reply_begin(&a, &r);
	while (size > 0) {
		const char *nl = memchr(p, '\n', size);
		size_t len = nl != NULL ? (size_t)(nl - p) : size;
		int code;
		bool last;
		const char *text;
		if (smtp_reply_line(p, len, &code, &last, &text) == 0) {
			char *copy = strndup(text, len - (size_t)(text - p));
			char enh[16];
			const char *rest;
			if (copy == NULL)
				abort();
			if (smtp_enhanced(copy, code, enh, &rest) == 0 &&
			    (rest < copy || rest > copy + strlen(copy) || enh[0] - '0' != code / 100))
				abort();
			free(copy);
		}
		if (rc == 0) {
			rc = smtp_reply_feed(&a, p, len);
			check_reply(&r, rc);
		}
		size_t step = nl != NULL ? len + 1 : len;
		p += step;
		size -= step;
	}
}

/* fuzz_stuff - chunked stuffing equals one-pass stuffing */
static void fuzz_stuff(const char *p, size_t size)
{
	char *one = malloc(2 * size + 1), *two = malloc(2 * size + 1);
	struct smtp_stuffer s1 = { .at_line_start = true }, s2 = { .at_line_start = true };
	if (one == NULL || two == NULL)
		abort();
	size_t cut = size > 0 ? (unsigned char)p[0] % size : 0;
	size_t n1 = smtp_stuff(&s1, p, size, one);
	size_t n2 = smtp_stuff(&s2, p, cut, two);
	n2 += smtp_stuff(&s2, p + cut, size - cut, two + n2);
	if (n1 != n2 || memcmp(one, two, n1) != 0 || n1 > 2 * size)
		abort();
	free(one);
	free(two);
}

/* LLVMFuzzerTestOneInput - one input */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_lines((const char *)data, size);
	fuzz_stuff((const char *)data, size);
	return 0;
}
