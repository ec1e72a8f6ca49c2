/*
 * error.h: tiergate's one error convention.
 *
 * Every fallible function returns int: 0 on success, a negative code on
 * failure (-ENOMEM, -EINVAL, ... or a TG_E* code below TG_EBASE).  Detail
 * goes into a caller-supplied struct tg_error: the source position
 * (file:line:col) for rule packs and batch files, or a JSON pointer for
 * queries.  Library code never prints; callers log or answer.
 */
#ifndef TIERGATE_ERROR_H
#define TIERGATE_ERROR_H

#include <stddef.h>

enum {
	TG_EBASE = -1000,
	TG_ESYNTAX = TG_EBASE - 1,	/* malformed input (JSON, YAML, CSV) */
	TG_EINVAL = TG_EBASE - 2,	/* well-formed but invalid value */
	TG_ETOOBIG = TG_EBASE - 3,	/* a cap was hit (HTTP 413) */
	TG_ENOTFOUND = TG_EBASE - 4,	/* unknown id (product, decision) */
	TG_ERULES = TG_EBASE - 5,	/* rule pack failed to load */
	TG_EIO = TG_EBASE - 6,		/* file or database I/O */
	TG_ECRYPTO = TG_EBASE - 7,	/* OpenSSL failure */
	TG_EINTERNAL = TG_EBASE - 8,	/* broken invariant */
	TG_ECORRUPT = TG_EBASE - 9,	/* a database file SQLite finds damaged */
};

#define TG_ERR_FILE_MAX 256
#define TG_ERR_POINTER_MAX 256
#define TG_ERR_MSG_MAX 512

struct tg_error {
	int code;			/* the negative code returned */
	char file[TG_ERR_FILE_MAX];	/* "" when not about a file */
	int line;			/* 1-based; 0 when unknown */
	int col;			/* 1-based; 0 when unknown */
	char pointer[TG_ERR_POINTER_MAX]; /* RFC 6901, "" when none */
	char msg[TG_ERR_MSG_MAX];	/* lower case, no full stop */
};

/* A capped list of errors, for loaders that report every mistake in one
 * run.  Owns its array; errlist_release() frees it. */
struct tg_errlist {
	struct tg_error *v;
	size_t n;
	size_t cap;
	size_t dropped;		/* errors beyond TG_ERRLIST_MAX */
};
#define TG_ERRLIST_MAX 1000

/* Text for a code (static string; never NULL).  Thread-safe. */
const char *tg_strerror(int code);

/* Clear *err. */
void tg_error_clear(struct tg_error *err);

/* Fill *err (may be NULL) and return code.  fmt is printf-style. */
int tg_error_set(struct tg_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, with a JSON pointer. */
int tg_error_ptr(struct tg_error *err, int code, const char *pointer,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Same, with a file position. */
int tg_error_pos(struct tg_error *err, int code, const char *file, int line,
    int col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Format err as "file:line:col: msg", "pointer: msg" or "msg" into buf. */
void tg_error_format(const struct tg_error *err, char *buf, size_t size);

void errlist_init(struct tg_errlist *l);
/* Append a copy of *e; returns -ENOMEM on allocation failure.  Past
 * TG_ERRLIST_MAX entries it counts them in dropped. */
int errlist_add(struct tg_errlist *l, const struct tg_error *e);
void errlist_release(struct tg_errlist *l);

#endif
