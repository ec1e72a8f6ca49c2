/*
 * error.c: the error convention of error.h: code texts, filling a
 * struct tg_error, formatting it, and the capped error list that loaders
 * use to report every mistake in one run.
 *
 * Messages that do not fit the fixed-size fields are truncated: an error
 * report must never fail for lack of memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/error.h"

#define ERRLIST_FIRST 16

struct code_text {
	int code;
	const char *text;
};

/*
 * errno texts are listed here rather than taken from strerror(), which is
 * not guaranteed to be thread-safe or to return a static string.
 */
static const struct code_text code_texts[] = {
	{ TG_ESYNTAX, "syntax error" },
	{ TG_EINVAL, "invalid value" },
	{ TG_ETOOBIG, "input too large" },
	{ TG_ENOTFOUND, "not found" },
	{ TG_ERULES, "rule pack failed to load" },
	{ TG_EIO, "input/output error" },
	{ TG_ECRYPTO, "cryptographic library error" },
	{ TG_EINTERNAL, "internal error" },
	{ TG_ECORRUPT, "damaged database file" },
	{ -ENOMEM, "Cannot allocate memory" },
	{ -EINVAL, "Invalid argument" },
	{ -ENOENT, "No such file or directory" },
	{ -EACCES, "Permission denied" },
	{ -EPERM, "Operation not permitted" },
	{ -EIO, "Input/output error" },
	{ -EEXIST, "File exists" },
	{ -EISDIR, "Is a directory" },
	{ -ENOTDIR, "Not a directory" },
	{ -ENOSPC, "No space left on device" },
	{ -EROFS, "Read-only file system" },
	{ -EMFILE, "Too many open files" },
	{ -ENFILE, "Too many open files in system" },
	{ -EAGAIN, "Resource temporarily unavailable" },
	{ -EINTR, "Interrupted system call" },
	{ -EBUSY, "Device or resource busy" },
	{ -EFBIG, "File too large" },
	{ -ENAMETOOLONG, "File name too long" },
	{ -ELOOP, "Too many levels of symbolic links" },
	{ -ERANGE, "Numerical result out of range" },
	{ -EOVERFLOW, "Value too large for defined data type" },
	{ -EBADF, "Bad file descriptor" },
	{ -EPIPE, "Broken pipe" },
	{ -ETIMEDOUT, "Connection timed out" },
	{ -ENOTEMPTY, "Directory not empty" },
	{ -EXDEV, "Invalid cross-device link" },
	{ -ENOSYS, "Function not implemented" },
	{ -ENOTSUP, "Operation not supported" },
};

const char *
tg_strerror(int code)
{
	size_t i;

	if (code == 0)
		return "success";
	for (i = 0; i < sizeof(code_texts) / sizeof(code_texts[0]); i++)
		if (code_texts[i].code == code)
			return code_texts[i].text;
	return "unknown error";
}

void
tg_error_clear(struct tg_error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

/* Copies s into a fixed field, truncating: the field is a report. */
static void
copy_field(char *dst, size_t size, const char *s)
{
	size_t n;

	if (s == NULL) {
		dst[0] = '\0';
		return;
	}
	n = strlen(s);
	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void set_msg(struct tg_error *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
set_msg(struct tg_error *err, const char *fmt, va_list ap)
{
	if (vsnprintf(err->msg, sizeof(err->msg), fmt, ap) < 0)
		copy_field(err->msg, sizeof(err->msg), tg_strerror(err->code));
}

int
tg_error_set(struct tg_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	tg_error_clear(err);
	err->code = code;
	va_start(ap, fmt);
	set_msg(err, fmt, ap);
	va_end(ap);
	return code;
}

int
tg_error_ptr(struct tg_error *err, int code, const char *pointer,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	tg_error_clear(err);
	err->code = code;
	copy_field(err->pointer, sizeof(err->pointer), pointer);
	va_start(ap, fmt);
	set_msg(err, fmt, ap);
	va_end(ap);
	return code;
}

int
tg_error_pos(struct tg_error *err, int code, const char *file, int line,
    int col, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	tg_error_clear(err);
	err->code = code;
	copy_field(err->file, sizeof(err->file), file);
	err->line = line > 0 ? line : 0;
	err->col = col > 0 ? col : 0;
	va_start(ap, fmt);
	set_msg(err, fmt, ap);
	va_end(ap);
	return code;
}

/*
 * "file:line:col: msg" (col left out when 0, line too when 0), then
 * "pointer: msg", then "msg".  A file and a pointer together give
 * "file: pointer: msg".  An empty message falls back to the code's text.
 */
void
tg_error_format(const struct tg_error *err, char *buf, size_t size)
{
	const char *msg;
	char pos[TG_ERR_FILE_MAX + 32];
	int n;

	if (buf == NULL || size == 0)
		return;
	if (err == NULL) {
		buf[0] = '\0';
		return;
	}
	msg = err->msg[0] != '\0' ? err->msg : tg_strerror(err->code);

	pos[0] = '\0';
	if (err->file[0] != '\0') {
		if (err->line > 0 && err->col > 0)
			n = snprintf(pos, sizeof(pos), "%s:%d:%d: ", err->file,
			    err->line, err->col);
		else if (err->line > 0)
			n = snprintf(pos, sizeof(pos), "%s:%d: ", err->file,
			    err->line);
		else
			n = snprintf(pos, sizeof(pos), "%s: ", err->file);
		if (n < 0)
			pos[0] = '\0';
	}
	if (err->pointer[0] != '\0')
		n = snprintf(buf, size, "%s%s: %s", pos, err->pointer, msg);
	else
		n = snprintf(buf, size, "%s%s", pos, msg);
	if (n < 0)
		buf[0] = '\0';
}

void
errlist_init(struct tg_errlist *l)
{
	memset(l, 0, sizeof(*l));
}

int
errlist_add(struct tg_errlist *l, const struct tg_error *e)
{
	struct tg_error *v;
	size_t ncap;

	if (l->n >= TG_ERRLIST_MAX) {
		l->dropped++;
		return 0;
	}
	if (l->n == l->cap) {
		ncap = l->cap == 0 ? ERRLIST_FIRST : l->cap * 2;
		if (ncap > TG_ERRLIST_MAX)
			ncap = TG_ERRLIST_MAX;
		v = realloc(l->v, ncap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = ncap;
	}
	l->v[l->n++] = *e;
	return 0;
}

void
errlist_release(struct tg_errlist *l)
{
	if (l == NULL)
		return;
	free(l->v);
	memset(l, 0, sizeof(*l));
}
