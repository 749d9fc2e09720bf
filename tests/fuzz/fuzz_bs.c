/*
 * fuzz_bs - libFuzzer target for the -bs command parser: the input is
 * split at LF into command lines (the LF kept, as get_line hands them
 * over) fed to bs_parse_command; the address of MAIL/RCPT then goes
 * through envelope_check_bytes and the parameters through
 * bs_parse_mail_params. The checks are the wire-safety promises: a line
 * the parser takes holds no CR, LF or NUL but in its ending, every part
 * lies inside the line, and an address that passes the check is safe to
 * put in "MAIL FROM:<...>".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bs_parse.h"
#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* inside - does [p, p + n) lie within [line, line + len)? */
static int inside(const char *p, size_t n, const char *line, size_t len)
{
	return p >= line && p <= line + len && n <= (size_t)(line + len - p);
}

/* check_addr - what the envelope check lets through is wire-safe */
static void check_addr(const char *a, size_t n, int null_ok)
{
	char err[256];
	if (envelope_check_bytes(a, n, null_ok, err, sizeof err) < 0) {
		if (strnlen(err, sizeof err) == 0 || strnlen(err, sizeof err) == sizeof err)
			abort();	/* a refusal always says why */
		return;
	}
	if (n == 0 && !null_ok)
		abort();
	if (n > 0 && (a[0] == '-' || a[0] == '<'))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f || a[i] == '>')
			abort();
}

/* fuzz_line - one command line through the parser, then the invariants */
static void fuzz_line(const char *line, size_t len)
{
	struct bs_command c;
	int r = bs_parse_command(line, len, &c);
	if ((r < 0) != (c.verb == BS_CMD_BAD) || (r < 0) != (c.reply != NULL))
		abort();
	if (r < 0) {
		if (c.reply[0] != '5')
			abort();
		return;
	}
	size_t n = len;
	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (memchr(line, '\0', n) || memchr(line, '\r', n) || memchr(line, '\n', n))
		abort();	/* a second command could hide behind it */
	if (!inside(c.arg, c.arglen, line, n))
		abort();
	if ((c.verb == BS_CMD_HELO || c.verb == BS_CMD_EHLO) && c.arglen == 0)
		abort();
	if (c.verb != BS_CMD_MAIL && c.verb != BS_CMD_RCPT) {
		if (c.path_ok)
			abort();
		return;
	}
	if (!c.path_ok)
		return;
	if (!inside(c.addr, c.addrlen, c.arg, c.arglen) ||
	    !inside(c.params, c.paramslen, c.arg, c.arglen) || c.params < c.addr + c.addrlen)
		abort();
	if (c.paramslen > 0 && c.params[0] == ' ')
		abort();
	check_addr(c.addr, c.addrlen, c.verb == BS_CMD_MAIL);
	bool body8 = false;
	const char *bad = bs_parse_mail_params(c.params, c.paramslen, BS_SIZE_MAX, &body8);
	if (bad != NULL && (bad[0] != '5' || body8))
		abort();
}

/* LLVMFuzzerTestOneInput - every line of the input */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	/* a copy of exactly each line, so that ASan sees any read past it */
	while (size > 0) {
		const char *nl = memchr(p, '\n', size);
		size_t len = nl != NULL ? (size_t)(nl - p) + 1 : size;
		char *line = malloc(len ? len : 1);
		if (line == NULL)
			abort();
		memcpy(line, p, len);
		fuzz_line(line, len);
		free(line);
		p += len;
		size -= len;
	}
	return 0;
}
