/*
 * util.h: small helpers with no project dependencies: capped growable
 * buffers (after curl's dynbuf), a bump arena for per-request memory,
 * logging (after OpenBSD's log.c), dates and ISO 3166 country codes.
 */
#ifndef TIERGATE_UTIL_H
#define TIERGATE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- capped buffer ------------------------------------------------- */

/* A growable byte buffer that refuses to grow past cap (TG_ETOOBIG).
 * p is NULL until the first add; after any successful add (and after
 * buf_read_file, even of an empty file) the contents are NUL-terminated.
 * Owns its memory. */
struct tg_buf {
	char *p;
	size_t len;
	size_t alloc;
	size_t cap;
};

void buf_init(struct tg_buf *b, size_t cap);
int buf_add(struct tg_buf *b, const void *data, size_t len);
int buf_adds(struct tg_buf *b, const char *s);
int buf_printf(struct tg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_reset(struct tg_buf *b);	/* len = 0, keeps memory */
void buf_release(struct tg_buf *b);	/* frees; buffer reusable after init */
/* Replaces b's contents with a whole file (or stdin for "-").  Returns 0,
 * -errno, or TG_ETOOBIG. */
int buf_read_file(struct tg_buf *b, const char *path);

/* ---- arena --------------------------------------------------------- */

/* Bump allocator: many small allocations released together.  Memory
 * returned is 16-byte aligned and lives until arena_free/arena_clear.
 * Not thread-safe; one arena per request. */
struct tg_arena;

struct tg_arena *arena_new(size_t cap);	/* cap: total bytes, 0 = 64 MiB */
void *arena_alloc(struct tg_arena *a, size_t size);	/* NULL when full */
void *arena_zalloc(struct tg_arena *a, size_t size);
char *arena_strdup(struct tg_arena *a, const char *s);
char *arena_strndup(struct tg_arena *a, const char *s, size_t n);
char *arena_printf(struct tg_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void arena_clear(struct tg_arena *a);	/* frees all but the first block */
void arena_free(struct tg_arena *a);	/* NULL is a no-op */

/* ---- logging ------------------------------------------------------- */

enum { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
void log_init(const char *progname, int level);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- dates --------------------------------------------------------- */

/* Dates are days since 1970-01-01 (proleptic Gregorian, UTC). */
typedef int32_t tg_date;
#define TG_DATE_NONE INT32_MIN
#define TG_DATE_MAX INT32_MAX

/* Parses exactly "YYYY-MM-DD" (a real calendar date, years 1900..9999).
 * Returns 0 or TG_EINVAL. */
int date_parse(const char *s, size_t len, tg_date *out);
/* Writes "YYYY-MM-DD" into buf (at least 11 bytes). */
void date_format(tg_date d, char *buf);
tg_date date_today(void);		/* UTC */
int date_year(tg_date d);

/* Nanoseconds on the monotonic clock: for durations and deadlines. */
uint64_t mono_ns(void);

/* ---- countries ----------------------------------------------------- */

/* ISO 3166-1 alpha-2 codes packed into 0..675: (c0 - 'A') * 26 + (c1 - 'A').
 * TG_CC_NONE means absent. */
typedef uint16_t tg_cc;
#define TG_CC_NONE 0xffffu
#define TG_CC_COUNT 676u

/* Parses a two-letter upper-case code assigned in ISO 3166-1 (plus XK,
 * Kosovo, in common use).  Returns 0 or TG_EINVAL. */
int cc_parse(const char *s, size_t len, tg_cc *out);
/* Writes the two letters and a NUL into buf (3 bytes); "" for NONE. */
void cc_format(tg_cc cc, char *buf);
/* Returns a pointer to a static "XX" string for cc ("" for NONE). */
const char *cc_str(tg_cc cc);
bool cc_assigned(tg_cc cc);

/* ---- UTF-8 -------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or
 * 0 when it is ill-formed: truncated, overlong, a surrogate, or past
 * U+10FFFF (RFC 3629). */
size_t utf8_seq_len(const unsigned char *s, size_t n);
/* Replaces every byte of s that is not part of a well-formed sequence
 * with '?', in place (the length stays): for text that may quote input
 * and must go into JSON. */
void utf8_clean(char *s);

/* Whether s[0..n) is well-formed UTF-8 throughout. */
bool utf8_valid(const char *s, size_t n);

/* Length of the longest prefix of s[0..n) that JSON strings carry as it
 * is: no C0 control, '"' or '\\' (bytes of 0x80 and up count as plain;
 * validate them with utf8_valid()).  Both JSON writers (jcs.c, and
 * decision_text.c's answer) skip such runs eight bytes at a time. */
size_t json_plain_len(const char *s, size_t n);

/* ---- hex ----------------------------------------------------------- */

/* Writes 2n lower-case hex digits and a NUL into out (2n + 1 bytes). */
void hex_encode(const void *p, size_t n, char *out);
/* Decodes exactly 2n hex digits of s (either case) into out; returns 0
 * or TG_EINVAL (wrong length, bad digit). */
int hex_decode(const char *s, void *out, size_t n);

/* ---- strings and numbers ------------------------------------------- */

/* strtod/strtoll wrappers that accept the whole string or fail. */
int parse_double(const char *s, double *out);
int parse_llong(const char *s, long long *out);

/* x as printf("%.0f") writes it, into out (at least FMT_WHOLE_LEN bytes;
 * NUL-terminated); returns out.  Whole numbers below 2^53 take a short
 * path: reason texts print several per decision, and glibc's float
 * formatting was a fifth of writing one. */
#define FMT_WHOLE_LEN 320
char *fmt_whole(double x, char *out);

#endif
