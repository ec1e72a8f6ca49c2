/*
 * buf.c: capped growable byte buffers, after curl's dynbuf.
 *
 * Invariants: len <= cap; once memory is allocated, p[len] == '\0' and
 * alloc > len.  A buffer that was only initialized has p == NULL; any
 * successful add (even of zero bytes) or read gives it memory, so p is a
 * string from then on.  Nothing grows past cap: input larger than the
 * cap is refused with TG_ETOOBIG, never silently truncated.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tiergate/error.h"
#include "tiergate/util.h"

#define BUF_MIN_ALLOC 64
#define BUF_READ_CHUNK 16384

void
buf_init(struct tg_buf *b, size_t cap)
{
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

/* Makes room for extra more bytes plus the NUL. */
static int
buf_grow(struct tg_buf *b, size_t extra)
{
	size_t need, nalloc;
	char *np;

	if (extra > b->cap || b->len > b->cap - extra)
		return TG_ETOOBIG;
	need = b->len + extra + 1;	/* cannot overflow: len+extra <= cap */
	if (need <= b->alloc)
		return 0;
	nalloc = b->alloc < BUF_MIN_ALLOC ? BUF_MIN_ALLOC : b->alloc;
	while (nalloc < need && nalloc <= SIZE_MAX / 2)
		nalloc *= 2;
	if (nalloc < need)
		nalloc = need;
	/* Never hold more than the cap allows. */
	if (b->cap < SIZE_MAX && nalloc > b->cap + 1)
		nalloc = b->cap + 1;
	np = realloc(b->p, nalloc);
	if (np == NULL)
		return -ENOMEM;
	if (b->p == NULL)
		np[0] = '\0';
	b->p = np;
	b->alloc = nalloc;
	return 0;
}

int
buf_add(struct tg_buf *b, const void *data, size_t len)
{
	int rc;

	/* Room already (alloc never exceeds cap + 1, so the cap holds too):
	 * the writers of decision_text.c append a few bytes at a time. */
	if (len < b->alloc - b->len) {
		memcpy(b->p + b->len, data, len);
		b->len += len;
		b->p[b->len] = '\0';
		return 0;
	}
	rc = buf_grow(b, len);
	if (rc != 0)
		return rc;
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int
buf_adds(struct tg_buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_printf(struct tg_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n, rc;

	rc = buf_grow(b, 0);
	if (rc != 0)
		return rc;
	room = b->alloc - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = '\0';
		return -EINVAL;
	}
	if ((size_t)n >= room) {
		/* Did not fit: undo the partial write, grow, print again. */
		b->p[b->len] = '\0';
		rc = buf_grow(b, (size_t)n);
		if (rc != 0)
			return rc;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->alloc - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->p[b->len] = '\0';
			return -EINVAL;
		}
	}
	b->len += (size_t)n;
	return 0;
}

void
buf_reset(struct tg_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
buf_release(struct tg_buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
	/* cap is kept so a released buffer can be filled again. */
}

int
buf_read_file(struct tg_buf *b, const char *path)
{
	struct stat st;
	char chunk[BUF_READ_CHUNK];
	ssize_t n;
	int fd, rc;
	bool is_stdin;

	is_stdin = strcmp(path, "-") == 0;
	buf_reset(b);
	if (is_stdin)
		fd = STDIN_FILENO;
	else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1)
			return -errno;
	}
	/* A regular file that is already too large is refused unread. */
	if (fstat(fd, &st) == -1) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > b->cap) {
		rc = TG_ETOOBIG;
		goto out;
	}
	rc = buf_add(b, "", 0);
	if (rc != 0)
		goto out;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		rc = buf_add(b, chunk, (size_t)n);
		if (rc != 0)
			goto out;
	}
	rc = 0;
out:
	if (!is_stdin)
		close(fd);
	return rc;
}
