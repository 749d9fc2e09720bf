/*
 * buf - one growable byte buffer with a hard maximum fixed when it is made.
 *
 * Appending past the maximum fails (returns -1) and leaves the buffer as it
 * was: nothing is ever truncated silently. The data is always followed by a
 * NUL byte (not counted in len), so buf_cstr() is usable when the content
 * holds no NUL of its own. Beside it, the small helpers every module
 * shares: buf_error, buf_write_all, open_regular, wipe_memory.
 */
#ifndef RELAYMAIL_BUF_H
#define RELAYMAIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;	/* NULL until the first append */
	size_t len;	/* bytes in use */
	size_t cap;	/* bytes allocated (including the NUL) */
	size_t max;	/* hard limit on len */
};

/* buf_init - an empty buffer that may grow up to max bytes */
void buf_init(struct buf *b, size_t max);

/* buf_append - add n bytes; -1 (errno E2BIG or ENOMEM) leaves b unchanged */
int buf_append(struct buf *b, const void *p, size_t n);

/* buf_puts - add a C string */
int buf_puts(struct buf *b, const char *s);

/* buf_putc - add one byte */
int buf_putc(struct buf *b, char c);

/* buf_printf - add formatted text; -1 when it does not fit */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* buf_cstr - the content as a C string ("" when empty); never NULL */
const char *buf_cstr(const struct buf *b);

/* buf_reset - forget the content, keep the memory */
void buf_reset(struct buf *b);

/* buf_free - release the memory; b is empty afterwards */
void buf_free(struct buf *b);

/* buf_wipe - overwrite the whole allocation, then release it (secrets) */
void buf_wipe(struct buf *b);

/*
 * buf_error - format a one-line error into err (errlen bytes; nothing when
 * err is NULL or errlen 0) and return -1, so that "return buf_error(...)"
 * reports and fails in one step
 */
int buf_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* buf_write_all - write(2) all n bytes to fd, through EINTR and short writes; 0/-1 */
int buf_write_all(int fd, const void *p, size_t n);

/*
 * open_regular - path opened read-only for reading a small file: never
 * blocking on a FIFO, never taking a controlling terminal. The fd; -1 with
 * errno when it cannot be opened; -2 when it is not a regular file (*st, if
 * st is not NULL, says what it is).
 */
struct stat;
int open_regular(const char *path, struct stat *st);

/* wipe_memory - overwrite n bytes so that the compiler cannot skip it */
void wipe_memory(void *p, size_t n);

#endif
