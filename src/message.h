/*
 * message - the message as the caller hands it over on stdin, turned into
 * the canonical form kept in the spool: CRLF line endings, no line longer
 * than 998 octets, not dot-stuffed (stuffing is the SMTP client's job).
 *
 * Input: LF, CRLF or mixed line endings; a bare CR (not followed by LF) is
 * read as a line ending too, so no lone CR or LF ever reaches the spool. A
 * leading mbox "From " line is dropped. Without -i a line holding a single
 * "." ends the input. NUL bytes in the body are kept (never truncate);
 * a NUL in the header block is an error.
 *
 * The header block is held in memory (at most MESSAGE_HEADER_MAX bytes) so
 * that -t can read it and Bcc can be removed; the body is streamed.
 * If the first line is not a header field, the whole input is body.
 * Header lines over 998 octets are folded at white space (CRLF SP inserted
 * where there is none); body lines over 998 octets are split with CRLF.
 */
#ifndef RELAYMAIL_MESSAGE_H
#define RELAYMAIL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

#define MESSAGE_HEADER_MAX (1024 * 1024)
#define MESSAGE_LINE_MAX 998	/* octets before CRLF on the wire */
#define MESSAGE_ADDED_MAX 65536	/* room for the fields relaymail adds */
#define MESSAGE_FIELD_MAX 32768	/* header fields kept, so the index stays small too */

struct message_inbuf;

struct message_reader {
	int fd;			/* input, read with read(2) */
	bool dot_ends;		/* no -i: a lone "." line ends the input */
	bool eof;		/* input ended (EOF or lone dot) */
	bool eightbit;		/* a byte >= 0x80 was seen (headers or body) */
	unsigned long long lines;	/* lines read so far, for error messages */
	/* private: input buffer (bytes as read, before normalization), 64 KiB
	 * on the heap from the first read to message_reader_free */
	struct message_inbuf *in;
	size_t in_pos;
	size_t in_len;
	bool last_cr;		/* previous chunk ended in CR (CRLF split) */
	bool at_line_start;
	bool first_line_done;
	struct buf pending;	/* a line read ahead while parsing headers */
};

struct message_field {
	size_t off;		/* into message_headers.raw */
	size_t len;		/* whole field, continuation lines and final CRLF included */
	size_t namelen;		/* name at raw.data + off */
	bool removed;		/* dropped when the headers are written */
};

struct message_headers {
	struct buf raw;		/* the header block, CRLF line endings */
	struct message_field *f;
	size_t n;
	size_t cap;
	struct buf added;	/* fields added by message_complete_headers */
};

/* message_reader_init - reader over fd; dot_ends is !(-i) */
void message_reader_init(struct message_reader *r, int fd, bool dot_ends);
/* message_reader_free - release what the reader holds (not fd) */
void message_reader_free(struct message_reader *r);

/*
 * message_read_headers - read the header block (up to and excluding the
 * empty line, which is consumed) into h (initialised by this call).
 * Result: 0; -1 bad message (err: "header block larger than 1 MiB",
 * "NUL byte in header line 3", "more than 32768 header fields"); -2 read
 * error (errno kept). Line numbers count input lines, a dropped mbox
 * "From " line included. When the block ends at a line that is not a
 * field, that line is kept for message_copy_body (the empty line between
 * headers and body is written by message_write_headers in any case).
 * On failure h is released and left empty (freeing it again is harmless).
 */
int message_read_headers(struct message_reader *r, struct message_headers *h,
			 char *err, size_t errlen);

/* message_headers_free - release h */
void message_headers_free(struct message_headers *h);

/*
 * message_field_value - the unfolded-as-written value of field i (after
 * the colon, leading white space skipped, final CRLF excluded); *len set.
 */
const char *message_field_value(const struct message_headers *h, size_t i, size_t *len);

/*
 * message_find - index of the first field named name (any case) at or
 * after start, or -1. Fields marked removed are found too (so that -t can
 * read Bcc: after it was removed); check h->f[i].removed when it matters.
 */
long message_find(const struct message_headers *h, const char *name, size_t start);

/*
 * message_set_field - replace field i by text (the whole field: name,
 * colon, value, continuation lines, final CRLF), keeping its place.
 * Refused (-1, field unchanged) unless text is one well-formed field: a
 * name, every line ending in CRLF, none over 998 octets, no other CR or
 * LF, no NUL.
 */
int message_set_field(struct message_headers *h, size_t i, const char *text, size_t len);

/* message_remove - mark every field named name removed (Bcc, Resent-Bcc) */
void message_remove(struct message_headers *h, const char *name);

struct message_completion {
	const char *sender;	/* envelope sender, "" for null */
	const char *full_name;	/* -F, or NULL */
	const char *domain;	/* right-hand side of added Message-IDs */
	bool rewrite_from;	/* From: becomes the sender (display name kept), Sender: dropped */
	time_t now;
};

/* message_date - "Fri, 27 Nov 2026 01:03:58 +0000" (local time, any locale); 0/-1 */
int message_date(time_t t, char *out, size_t outlen);

/*
 * message_complete_headers - add Date:, Message-ID: and From: when
 * missing (From: "full name <sender>" using -F), and apply rewrite_from.
 * The null sender ("") becomes MAILER-DAEMON@domain. The full name is
 * written as an RFC 5322 phrase: as it is when it is all atoms, else a
 * quoted string, or RFC 2047 "=?UTF-8?B?...?=" words when it holds 8-bit
 * or control bytes. rewrite_from gives the field's text a new place at the
 * end of h->raw (its index f[i] and the field order stay).
 * 0, or -1: no memory, no random bytes, or a sender, name or domain that
 * holds CR or LF or is too long for a header line.
 */
int message_complete_headers(struct message_headers *h, const struct message_completion *mc);

/*
 * message_write_headers - hand every kept field, then the added ones, then
 * the empty line that ends the header block, to out(ctx, p, n).
 * Result: 0, or the first non-zero value out returned.
 */
int message_write_headers(const struct message_headers *h,
			  int (*out)(void *ctx, const void *p, size_t n), void *ctx);

/*
 * message_copy_body - stream the rest of the input to out(), in
 * canonical form (lines over 998 octets split with CRLF), in chunks of up
 * to 32 KiB. Usable without message_read_headers (then all is body).
 * Result: 0; -2 read error; or the first non-zero value out returned.
 */
int message_copy_body(struct message_reader *r,
		      int (*out)(void *ctx, const void *p, size_t n), void *ctx);

#endif
