/* buf - growable byte buffer with a hard maximum; see buf.h */
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* buf_init - empty buffer limited to max bytes */
void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/* reserve - make room for extra bytes plus the trailing NUL */
static int reserve(struct buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra) {
		errno = E2BIG;
		return -1;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *p = malloc(cap);
	if (p == NULL)
		return -1;
	/* copy instead of realloc so that a secret never lingers in freed memory */
	if (b->data != NULL) {
		memcpy(p, b->data, b->len + 1);
		wipe_memory(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

/* buf_append - add bytes, all or nothing */
int buf_append(struct buf *b, const void *p, size_t n)
{
	if (reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* buf_puts - add a C string */
int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* buf_putc - add one byte */
int buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

/* buf_vprintf - add formatted text, all or nothing */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || reserve(b, (size_t)n) < 0)
		return -1;
	if (vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap) != n)
		return -1;
	b->len += (size_t)n;
	return 0;
}

/* buf_printf - add formatted text */
int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* buf_cstr - content as a C string */
const char *buf_cstr(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

/* buf_reset - empty the buffer, keep its memory */
void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* buf_free - release the buffer */
void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* buf_wipe - overwrite, then release */
void buf_wipe(struct buf *b)
{
	if (b->data != NULL)
		wipe_memory(b->data, b->cap);
	buf_free(b);
}

/* buf_error - one-line error into the caller's array, -1 */
int buf_error(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		if (vsnprintf(err, errlen, fmt, ap) < 0)
			err[0] = '\0';
		va_end(ap);
	}
	return -1;
}

/* buf_write_all - the whole of p to fd */
int buf_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* open_regular - open, then refuse what is not a regular file; see buf.h */
int open_regular(const char *path, struct stat *st)
{
	struct stat own;
	if (st == NULL)
		st = &own;
	/* O_NONBLOCK: a FIFO planted there must not hang the open (nor a later reader) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -2;
	}
	return fd;
}

/* wipe_memory - libc's explicit_bzero: a memset the compiler may not drop */
void wipe_memory(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}
