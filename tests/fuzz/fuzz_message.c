/* fuzz_message - libFuzzer target: arbitrary bytes through the message reader */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* what the output looked like so far, across callback calls */
struct check {
	size_t col;		/* octets in the current line */
	bool cr;		/* last byte was CR */
	bool in_header;		/* still writing the header block */
	unsigned long empty;	/* empty lines seen in the header block */
};

/* check_out - only CRLF line endings, no line over 998 octets, no blank header line */
static int check_out(void *ctx, const void *p, size_t n)
{
	struct check *c = ctx;
	const unsigned char *s = p;
	if (n == 0)
		abort();	/* a call for nothing is wasted on a syscall */
	for (size_t i = 0; i < n; i++) {
		if (c->cr) {
			if (s[i] != '\n')
				abort();
			if (c->col == 0 && c->in_header)
				c->empty++;
			c->cr = false;
			c->col = 0;
		} else if (s[i] == '\r') {
			c->cr = true;
		} else if (s[i] == '\n' || ++c->col > MESSAGE_LINE_MAX) {
			abort();
		}
	}
	return 0;
}

/* check_fields - every field's value lies inside its field */
static void check_fields(const struct message_headers *h)
{
	for (size_t i = 0; i < h->n; i++) {
		size_t len;
		const char *v = message_field_value(h, i, &len);
		const char *f = h->raw.data + h->f[i].off;
		if (v < f || v + len > f + h->f[i].len || h->f[i].namelen == 0)
			abort();
		if (message_find(h, "to", i) < -1)
			abort();
	}
}

/* one_pass - the whole intake over fd with one setting of -i */
static void one_pass(int fd, bool dot_ends, bool rewrite)
{
	struct message_reader *r = malloc(sizeof *r);
	if (r == NULL || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	message_reader_init(r, fd, dot_ends);
	struct message_headers h;
	char err[128];
	struct check c = { .in_header = true };
	if (message_read_headers(r, &h, err, sizeof err) == 0) {
		check_fields(&h);
		message_remove(&h, "Bcc");
		struct message_completion mc = {
			.sender = rewrite ? "" : "s@example.org", .full_name = "Fu\xc3\x9f \"zz\"",
			.domain = "example.org", .rewrite_from = rewrite, .now = 1795748518,
		};
		if (message_complete_headers(&h, &mc) != 0)
			abort();
		check_fields(&h);
		if (message_write_headers(&h, check_out, &c) != 0)
			abort();
		/* the header block ends with the one empty line, and only there */
		if (c.empty != 1 || c.col != 0 || c.cr)
			abort();
		c.in_header = false;
		if (message_copy_body(r, check_out, &c) != 0)
			abort();
		if (c.col != 0 || c.cr)
			abort();	/* the last line got its CRLF */
		message_headers_free(&h);
	}
	message_reader_free(r);
	free(r);
}

/* LLVMFuzzerTestOneInput - the input as stdin, with and without -i */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_message", 0);
	if (fd < 0)
		abort();
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	one_pass(fd, true, false);
	one_pass(fd, false, true);
	close(fd);
	return 0;
}
