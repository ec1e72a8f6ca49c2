/*
 * test_util.c: unit tests for daemon/util (error.h, util.h, uuid.h and
 * the enum names of query.h/decision.h).
 *
 * Boundaries first: leap years and calendar limits, unassigned and
 * lower-case country codes, the buffer and arena caps, numbers that
 * strtod() alone would accept.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tiergate/decision.h"
#include "tiergate/error.h"
#include "tiergate/query.h"
#include "tiergate/util.h"
#include "tiergate/uuid.h"

/* ---- dates ----------------------------------------------------------- */

static int
parse(const char *s, tg_date *d)
{
	return date_parse(s, strlen(s), d);
}

static void
test_date_known(void **state)
{
	tg_date d;

	(void)state;
	assert_int_equal(parse("1970-01-01", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(parse("1969-12-31", &d), 0);
	assert_int_equal(d, -1);
	assert_int_equal(parse("2000-03-01", &d), 0);
	assert_int_equal(d, 11017);
	assert_int_equal(parse("1900-01-01", &d), 0);
	assert_int_equal(d, -25567);
	assert_int_equal(parse("9999-12-31", &d), 0);
	assert_int_equal(d, 2932896);
	assert_int_equal(parse("2025-06-02", &d), 0);
	assert_int_equal(d, 20241);
	assert_int_equal(date_year(d), 2025);
	assert_int_equal(date_year(-1), 1969);
}

static void
test_date_leap(void **state)
{
	tg_date d, e;

	(void)state;
	/* Divisible by 400: leap.  By 100 only: not.  By 4: leap. */
	assert_int_equal(parse("2000-02-29", &d), 0);
	assert_int_equal(parse("2000-03-01", &e), 0);
	assert_int_equal(e - d, 1);
	assert_int_equal(parse("2024-02-29", &d), 0);
	assert_int_equal(parse("1904-02-29", &d), 0);
	assert_int_equal(parse("9996-02-29", &d), 0);
	assert_int_equal(parse("1900-02-29", &d), TG_EINVAL);
	assert_int_equal(parse("2100-02-29", &d), TG_EINVAL);
	assert_int_equal(parse("2023-02-29", &d), TG_EINVAL);
	assert_int_equal(parse("2025-02-29", &d), TG_EINVAL);
	assert_int_equal(parse("2024-02-30", &d), TG_EINVAL);
	/* 2024 has 366 days, 2025 has 365. */
	assert_int_equal(parse("2024-01-01", &d), 0);
	assert_int_equal(parse("2025-01-01", &e), 0);
	assert_int_equal(e - d, 366);
	assert_int_equal(parse("2026-01-01", &d), 0);
	assert_int_equal(d - e, 365);
}

static void
test_date_bad(void **state)
{
	static const char *const bad[] = {
		"", "2025", "2025-06", "2025-06-2", "2025-6-02", "25-06-02",
		"2025-06-021", " 2025-06-02", "2025-06-02 ", "2025/06/02",
		"2025-06-0a", "2025-0x-02", "+025-06-02", "-025-06-02",
		"2025-13-01", "2025-00-10", "2025-01-00", "2025-01-32",
		"2025-04-31", "2025-06-31", "2025-09-31", "2025-11-31",
		"1899-12-31", "0000-01-01", "1000-01-01", "10000-01-01",
		"2025-06-02T00:00:00Z", "２０２５-06-02", "2025--6-02",
		"2025-06--2",
	};
	tg_date d = 12345;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &d) != TG_EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(d, 12345);	/* untouched on error */
	}
	/* The length is the length: a valid prefix is not enough, and an
	 * embedded NUL is not an end. */
	assert_int_equal(date_parse("2025-06-02", 9, &d), TG_EINVAL);
	assert_int_equal(date_parse("2025-06-0\0", 10, &d), TG_EINVAL);
	assert_int_equal(date_parse("2025-06-021", 10, &d), 0);
	assert_int_equal(date_parse(NULL, 10, &d), TG_EINVAL);
}

/* Every day of the accepted range formats and parses back to itself,
 * and consecutive days are consecutive numbers. */
static void
test_date_roundtrip(void **state)
{
	char buf[11], prev[11];
	tg_date d, first, last, back;

	(void)state;
	assert_int_equal(parse("1900-01-01", &first), 0);
	assert_int_equal(parse("9999-12-31", &last), 0);
	prev[0] = '\0';
	for (d = first; d <= last; d++) {
		date_format(d, buf);
		assert_int_equal(strlen(buf), 10);
		if (date_parse(buf, 10, &back) != 0 || back != d)
			fail_msg("day %d formats as '%s'", (int)d, buf);
		if (strcmp(prev, buf) >= 0)
			fail_msg("'%s' does not follow '%s'", buf, prev);
		memcpy(prev, buf, sizeof(buf));
	}
	date_format(TG_DATE_NONE, buf);
	assert_string_equal(buf, "");
}

static void
test_date_today(void **state)
{
	tg_date d, today;

	(void)state;
	assert_int_equal(parse("2024-01-01", &d), 0);
	today = date_today();
	assert_true(today > d);
	assert_true(date_year(today) < 9999);
}

/* ---- countries --------------------------------------------------------- */

static int
cc(const char *s, tg_cc *out)
{
	return cc_parse(s, strlen(s), out);
}

static void
test_cc_good(void **state)
{
	static const char *const good[] = {
		"US", "DE", "IN", "CN", "HK", "MO", "MY", "BR", "AE", "TW",
		"XK", "AD", "ZW", "SS", "BQ", "CW", "SX", "AX", "AQ", "BV",
		"GB", "KP", "KR", "PS", "EH", "UM",
	};
	char buf[3];
	tg_cc c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (cc(good[i], &c) != 0)
			fail_msg("refused '%s'", good[i]);
		assert_true(cc_assigned(c));
		assert_string_equal(cc_str(c), good[i]);
		cc_format(c, buf);
		assert_string_equal(buf, good[i]);
	}
	assert_int_equal(cc("AA", &c) == 0, 0);
	assert_int_equal(cc("US", &c), 0);
	assert_int_equal(c, ('U' - 'A') * 26 + ('S' - 'A'));
}

static void
test_cc_bad(void **state)
{
	static const char *const bad[] = {
		"us", "Us", "uS", "de", "", "U", "USA", "U1", "1U", " US",
		"US ", "ZZ", "AA", "QM", "XA", "XX", "UK", "EU", "EZ", "UN",
		"AN", "CS", "YU", "SU", "DD", "ZR", "TP", "FX", "AC", "IC",
		"EA", "TA", "DG", "CP", "XI", "@A", "A[", "GQX",
	};
	tg_cc c = TG_CC_NONE;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cc(bad[i], &c) != TG_EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(c, TG_CC_NONE);
	}
	assert_int_equal(cc_parse("USA", 2, &c), 0);	/* length rules */
	assert_int_equal(cc_parse(NULL, 2, &c), TG_EINVAL);
}

/* The 249 assigned codes of ISO 3166-1 plus XK, nothing else. */
static void
test_cc_count(void **state)
{
	unsigned int i, n;

	(void)state;
	n = 0;
	for (i = 0; i < TG_CC_COUNT; i++)
		if (cc_assigned((tg_cc)i))
			n++;
	assert_int_equal(n, 250);
	assert_false(cc_assigned(TG_CC_NONE));
	assert_false(cc_assigned(TG_CC_COUNT));
	assert_string_equal(cc_str(TG_CC_NONE), "");
	assert_string_equal(cc_str(0), "AA");
	assert_string_equal(cc_str(TG_CC_COUNT - 1), "ZZ");
}

/* ---- buffers ----------------------------------------------------------- */

static void
test_buf_cap(void **state)
{
	struct tg_buf b;

	(void)state;
	buf_init(&b, 10);
	assert_null(b.p);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	assert_int_equal(buf_adds(&b, "01234"), 0);
	assert_int_equal(buf_adds(&b, "56789"), 0);	/* exactly cap */
	assert_int_equal(b.len, 10);
	assert_string_equal(b.p, "0123456789");
	assert_int_equal(buf_adds(&b, "x"), TG_ETOOBIG);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.p, "0123456789");
	assert_true(b.alloc <= 11);
	assert_int_equal(buf_add(&b, "x", SIZE_MAX), TG_ETOOBIG);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	assert_int_equal(buf_printf(&b, "%d-%s", 12345, "abcd"), 0);
	assert_string_equal(b.p, "12345-abcd");
	assert_int_equal(buf_printf(&b, "%s", "y"), TG_ETOOBIG);
	assert_string_equal(b.p, "12345-abcd");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s", "0123456789a"), TG_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	buf_release(&b);
	assert_null(b.p);
	buf_release(&b);	/* twice is fine */

	buf_init(&b, 0);	/* a zero cap holds only the empty string */
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(buf_adds(&b, "a"), TG_ETOOBIG);
	buf_release(&b);
}

static void
test_buf_grow(void **state)
{
	struct tg_buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < 10000; i++)
		assert_int_equal(buf_printf(&b, "%05zu,", i), 0);
	assert_int_equal(b.len, 60000);
	assert_int_equal(strncmp(b.p + 59994, "09999,", 6), 0);
	assert_int_equal(b.p[b.len], '\0');
	buf_release(&b);
}

static void
write_file(const char *path, size_t n)
{
	FILE *fp;
	size_t i;

	fp = fopen(path, "w");
	assert_non_null(fp);
	for (i = 0; i < n; i++)
		assert_int_not_equal(fputc('a' + (int)(i % 26), fp), EOF);
	assert_int_equal(fclose(fp), 0);
}

static void
test_buf_read_file(void **state)
{
	char dir[] = "/tmp/test_util.XXXXXX", path[64];
	struct tg_buf b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_true(snprintf(path, sizeof(path), "%s/f", dir) > 0);

	buf_init(&b, 100000);
	write_file(path, 0);
	assert_int_equal(buf_read_file(&b, path), 0);
	assert_non_null(b.p);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");

	write_file(path, 100000);	/* exactly the cap */
	assert_int_equal(buf_read_file(&b, path), 0);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.p[99999], 'a' + 99999 % 26);
	assert_int_equal(b.p[100000], '\0');

	write_file(path, 100001);
	assert_int_equal(buf_read_file(&b, path), TG_ETOOBIG);
	/* Reading again replaces, it does not append. */
	write_file(path, 3);
	assert_int_equal(buf_read_file(&b, path), 0);
	assert_string_equal(b.p, "abc");

	assert_int_equal(unlink(path), 0);
	assert_int_equal(buf_read_file(&b, path), -ENOENT);
	assert_int_equal(buf_read_file(&b, dir), -EISDIR);
	assert_int_equal(rmdir(dir), 0);
	buf_release(&b);
}

/* ---- arena ------------------------------------------------------------- */

static void
test_arena_align(void **state)
{
	struct tg_arena *a;
	unsigned char *p;
	size_t i;

	(void)state;
	a = arena_new(0);
	assert_non_null(a);
	for (i = 0; i < 5000; i++) {
		p = arena_alloc(a, i % 37);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0xa5, i % 37);
	}
	p = arena_alloc(a, 300000);	/* a block of its own */
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 16, 0);
	memset(p, 0, 300000);
	p = arena_alloc(a, 3);		/* and small ones go on */
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 16, 0);
	p = arena_zalloc(a, 100);
	assert_non_null(p);
	for (i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	arena_free(a);
	arena_free(NULL);
}

static void
test_arena_cap(void **state)
{
	struct tg_arena *a;
	size_t got, i;
	void *p;

	(void)state;
	a = arena_new(65536);
	assert_non_null(a);
	got = 0;
	for (i = 0; i < 100000; i++) {
		p = arena_alloc(a, 100);
		if (p == NULL)
			break;
		got += 100;
	}
	assert_true(i < 100000);	/* the cap was hit */
	assert_true(got <= 65536);
	assert_true(got >= 65536 / 2);	/* and not too early */
	assert_null(arena_alloc(a, 100));
	assert_null(arena_alloc(a, SIZE_MAX));
	assert_null(arena_alloc(a, SIZE_MAX - 8));
	assert_null(arena_alloc(a, 65536));

	/* After clearing, the whole cap is available again. */
	arena_clear(a);
	for (i = 0; i < 100; i++)
		assert_non_null(arena_alloc(a, 100));
	assert_non_null(arena_alloc(a, 40000));
	assert_null(arena_alloc(a, 40000));
	arena_free(a);

	/* A huge request on a fresh arena fails without allocating. */
	a = arena_new(1 << 20);
	assert_non_null(a);
	assert_null(arena_alloc(a, (size_t)2 << 20));
	assert_non_null(arena_alloc(a, 16));
	arena_free(a);
}

static void
test_arena_strings(void **state)
{
	struct tg_arena *a;
	char *s;

	(void)state;
	a = arena_new(0);
	assert_non_null(a);
	s = arena_strdup(a, "nvidia-h100-sxm");
	assert_string_equal(s, "nvidia-h100-sxm");
	s = arena_strndup(a, "abcdef", 3);
	assert_string_equal(s, "abc");
	s = arena_strndup(a, "ab", 10);
	assert_string_equal(s, "ab");
	s = arena_strdup(a, "");
	assert_string_equal(s, "");
	assert_null(arena_strdup(a, NULL));
	s = arena_printf(a, "/items/%zu/%s", (size_t)7, "tpp");
	assert_string_equal(s, "/items/7/tpp");
	arena_clear(a);
	s = arena_printf(a, "%s", "");
	assert_string_equal(s, "");
	arena_free(a);
}

/* ---- numbers ----------------------------------------------------------- */

static void
test_parse_double(void **state)
{
	static const char *const bad[] = {
		"1e400", "-1e400", "1e-400", "nan", "NaN", "NAN", "-nan",
		"nan(0x1)", "inf", "-inf", "INF", "infinity", "Infinity",
		"12abc", "12 ", " 12", "\t12", "", "-", "+", ".", "e5", "1e",
		"1e+", "1.2.3", "0x10", "0x1p3", "1,5", "1_000", "--1",
		"+-1", "12e3x", "1e5.5",
	};
	double v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (parse_double(bad[i], &v) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(v == 42);
	}
	assert_int_equal(parse_double("1e400", &v), -ERANGE);
	assert_int_equal(parse_double("12abc", &v), TG_EINVAL);
	assert_int_equal(parse_double("nan", &v), TG_EINVAL);
	assert_int_equal(parse_double(NULL, &v), TG_EINVAL);

	assert_int_equal(parse_double("15832", &v), 0);
	assert_true(v == 15832.0);
	assert_int_equal(parse_double("2e26", &v), 0);
	assert_true(v == 2e26);
	assert_int_equal(parse_double("-1.5", &v), 0);
	assert_true(v == -1.5);
	assert_int_equal(parse_double("+.5", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(parse_double("5.", &v), 0);
	assert_true(v == 5.0);
	assert_int_equal(parse_double("0", &v), 0);
	assert_true(v == 0.0);
	assert_int_equal(parse_double("0e-400", &v), 0);
	assert_true(v == 0.0);
	assert_int_equal(parse_double("1.7976931348623157e308", &v), 0);
	assert_true(isfinite(v));
	assert_int_equal(parse_double("19.45E-0", &v), 0);
	assert_true(v == 19.45);
}

static void
test_parse_llong(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(parse_llong("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_llong("-7", &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(parse_llong("+7", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_llong("9223372036854775807", &v), 0);
	assert_true(v == INT64_MAX);
	v = 1;
	assert_int_equal(parse_llong("9223372036854775808", &v), -ERANGE);
	assert_int_equal(parse_llong("-9223372036854775809", &v), -ERANGE);
	assert_int_equal(v, 1);
	assert_int_equal(parse_llong("12abc", &v), TG_EINVAL);
	assert_int_equal(parse_llong("", &v), TG_EINVAL);
	assert_int_equal(parse_llong(" 1", &v), TG_EINVAL);
	assert_int_equal(parse_llong("1 ", &v), TG_EINVAL);
	assert_int_equal(parse_llong("1.0", &v), TG_EINVAL);
	assert_int_equal(parse_llong("1e3", &v), TG_EINVAL);
	assert_int_equal(parse_llong("0x10", &v), TG_EINVAL);
	assert_int_equal(parse_llong("-", &v), TG_EINVAL);
	assert_int_equal(parse_llong("+-1", &v), TG_EINVAL);
	assert_int_equal(parse_llong(NULL, &v), TG_EINVAL);
	assert_int_equal(v, 1);
}

/* ---- errors ------------------------------------------------------------ */

static void
test_error_format(void **state)
{
	struct tg_error e;
	char buf[TG_ERR_FILE_MAX + TG_ERR_POINTER_MAX + TG_ERR_MSG_MAX + 64];
	char small[8];
	int rc;

	(void)state;
	rc = tg_error_pos(&e, TG_ERULES, "rules/x.yaml", 12, 5,
	    "unknown group '%s'", "tier9");
	assert_int_equal(rc, TG_ERULES);
	assert_int_equal(e.code, TG_ERULES);
	tg_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "rules/x.yaml:12:5: unknown group 'tier9'");

	tg_error_pos(&e, TG_ESYNTAX, "q.json", 3, 0, "bad");
	tg_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "q.json:3: bad");

	tg_error_pos(&e, TG_EIO, "q.json", 0, 0, "cannot read");
	tg_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "q.json: cannot read");

	rc = tg_error_ptr(&e, TG_EINVAL, "/items/0/quantity",
	    "must be an integer >= %d", 1);
	assert_int_equal(rc, TG_EINVAL);
	tg_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "/items/0/quantity: must be an integer >= 1");

	tg_error_set(&e, -ENOMEM, "out of memory");
	tg_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "out of memory");
	assert_string_equal(e.file, "");
	assert_string_equal(e.pointer, "");

	tg_error_set(&e, TG_ETOOBIG, "%s", "");
	tg_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, tg_strerror(TG_ETOOBIG));

	/* Small buffers truncate, they do not overflow. */
	tg_error_set(&e, TG_EINVAL, "a long message");
	tg_error_format(&e, small, sizeof(small));
	assert_string_equal(small, "a long ");

	assert_int_equal(tg_error_set(NULL, TG_EINVAL, "x"), TG_EINVAL);
	assert_int_equal(tg_error_ptr(NULL, TG_EINVAL, "/a", "x"), TG_EINVAL);
	tg_error_clear(&e);
	assert_int_equal(e.code, 0);
	assert_string_equal(e.msg, "");
}

static void
test_error_truncation(void **state)
{
	struct tg_error e;
	char longs[2000];

	(void)state;
	memset(longs, 'p', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	tg_error_ptr(&e, TG_EINVAL, longs, "%s", longs);
	assert_int_equal(strlen(e.pointer), TG_ERR_POINTER_MAX - 1);
	assert_int_equal(strlen(e.msg), TG_ERR_MSG_MAX - 1);
	tg_error_pos(&e, TG_EINVAL, longs, 1, 1, "x");
	assert_int_equal(strlen(e.file), TG_ERR_FILE_MAX - 1);
}

static void
test_strerror(void **state)
{
	static const int codes[] = {
		TG_ESYNTAX, TG_EINVAL, TG_ETOOBIG, TG_ENOTFOUND, TG_ERULES,
		TG_EIO, TG_ECRYPTO, TG_EINTERNAL, -ENOMEM, -ENOENT, -EACCES,
		-ERANGE, 0, -99999, 12345,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_non_null(tg_strerror(codes[i]));
		assert_true(tg_strerror(codes[i])[0] != '\0');
	}
	assert_string_equal(tg_strerror(-ENOENT), "No such file or directory");
	assert_string_not_equal(tg_strerror(TG_EINVAL),
	    tg_strerror(TG_ESYNTAX));
}

static void
test_errlist(void **state)
{
	struct tg_errlist l;
	struct tg_error e;
	size_t i;

	(void)state;
	errlist_init(&l);
	for (i = 0; i < TG_ERRLIST_MAX + 5; i++) {
		tg_error_pos(&e, TG_ERULES, "f.yaml", (int)i + 1, 1, "e%zu",
		    i);
		assert_int_equal(errlist_add(&l, &e), 0);
	}
	assert_int_equal(l.n, TG_ERRLIST_MAX);
	assert_int_equal(l.dropped, 5);
	assert_int_equal(l.v[0].line, 1);
	assert_string_equal(l.v[TG_ERRLIST_MAX - 1].msg, "e999");
	errlist_release(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	errlist_release(&l);
}

/* ---- logging ----------------------------------------------------------- */

/* Runs the log calls with stderr sent to a temporary file; returns what
 * was written. */
static void
capture_log(char *out, size_t size)
{
	char path[] = "/tmp/test_util_log.XXXXXX";
	FILE *fp;
	int fd, saved;
	size_t n;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);

	log_init("tgtest", LOG_LVL_WARN);
	log_debug("hidden %d", 1);
	log_info("hidden %d", 2);
	log_warnx("shown %d", 3);
	errno = ENOENT;
	log_warn("cannot open '%s'", "x.yaml");
	assert_int_equal(errno, ENOENT);	/* logging keeps errno */
	log_init("tgtest", LOG_LVL_DEBUG);
	log_debug("now shown");
	log_init("tgtest", LOG_LVL_ERR);
	log_warnx("hidden at error level");

	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	log_init("test_util", LOG_LVL_INFO);

	fp = fdopen(fd, "r");
	assert_non_null(fp);
	rewind(fp);
	n = fread(out, 1, size - 1, fp);
	out[n] = '\0';
	fclose(fp);
	unlink(path);
}

static void
test_log(void **state)
{
	char out[1024];

	(void)state;
	capture_log(out, sizeof(out));
	assert_string_equal(out,
	    "tgtest: shown 3\n"
	    "tgtest: cannot open 'x.yaml': No such file or directory\n"
	    "tgtest: now shown\n");
}

/* fatal() must exit with status 1; run it in a child. */
static void
test_fatal(void **state)
{
	pid_t pid;
	int status, devnull;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		fatalx("broken invariant %d", 7);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
}

/* ---- uuid --------------------------------------------------------------- */

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void
test_uuid_v7(void **state)
{
	char a[UUID_STR_LEN + 1], b[UUID_STR_LEN + 1];
	int i, k;

	(void)state;
	assert_int_equal(uuid_v7(a), 0);
	for (k = 0; k < 1000; k++) {
		assert_int_equal(uuid_v7(b), 0);
		assert_int_equal(strlen(b), 36);
		for (i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(b[i], '-');
			else
				assert_true(is_hex(b[i]));
		}
		assert_int_equal(b[14], '7');		/* version */
		assert_non_null(strchr("89ab", b[19]));	/* variant 10 */
		assert_string_not_equal(a, b);
		/* The millisecond timestamp never goes backwards (barring a
		 * clock step during the test). */
		assert_true(strncmp(a, b, 13) <= 0);
		memcpy(a, b, sizeof(a));
	}
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* utf8_clean: what a problem+json detail goes through (a fuzz_http find:
 * a percent-decoded path segment quoted in a 404 made jansson refuse the
 * problem, and the answer went out as text/plain). */
static void
test_utf8_clean(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" },
		{ "no decision '0190'", "no decision '0190'" },
		{ "\xc3\x84 \xe2\x82\xac \xf0\x9f\x98\x80",
		    "\xc3\x84 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "id '\xf7'", "id '?'" },			/* not a lead */
		{ "cut \xe2\x82", "cut ??" },			/* truncated */
		{ "\xc0\xaf", "??" },				/* overlong */
		{ "\xed\xa0\x80", "???" },			/* surrogate */
		{ "\xf4\x90\x80\x80", "????" },		/* > U+10FFFF */
		{ "\x80\xc3\x84\xff", "?\xc3\x84?" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		utf8_clean(buf);
		assert_string_equal(buf, cases[i].want);
	}
}

/* The word-at-a-time scans against byte-at-a-time definitions: every
 * byte value at every position of strings of 0..24 bytes (so each lands
 * in a full word, a partial one, and the tail), and bad sequences
 * straddling word boundaries. */
static size_t
plain_ref(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == '"' || c == '\\')
			break;
	}
	return i;
}

static bool
valid_ref(const char *s, size_t n)
{
	size_t i = 0, l;

	while (i < n) {
		l = utf8_seq_len((const unsigned char *)s + i, n - i);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

static void
test_json_plain_len(void **state)
{
	char s[24];

	(void)state;
	for (size_t n = 0; n <= sizeof(s); n++)
		for (size_t at = 0; at < n; at++)
			for (unsigned c = 0; c < 256; c++) {
				memset(s, 'a', sizeof(s));
				s[at] = (char)c;
				assert_int_equal(json_plain_len(s, n),
				    plain_ref(s, n));
				/* A second hit after the first. */
				if (at + 3 < n) {
					s[at + 3] = '"';
					assert_int_equal(json_plain_len(s, n),
					    plain_ref(s, n));
				}
			}
	/* Bytes of 0x80 and up are plain: 0xa2 ^ '"' is 0x80, 0xdc ^ '\\'
	 * is 0x80, and 0xa0 - 0x20 is 0x80: the masks must not take them. */
	memcpy(s, "\xa2\xdc\xa0\x80\xff\xa2\xdc\xa0\xa2", 9);
	assert_int_equal(json_plain_len(s, 9), 9);
}

static void
test_utf8_valid_words(void **state)
{
	/* Each sequence, and whether it is well-formed. */
	static const struct {
		const char *seq;
		bool ok;
	} seqs[] = {
		{ "\xf7", false }, { "\xe2\x82", false }, { "\xc0\xaf", false },
		{ "\xed\xa0\x80", false }, { "\xf4\x90\x80\x80", false },
		{ "\x80", false }, { "\xc3\x84", true }, { "\xe2\x82\xac", true },
		{ "\xf0\x9f\x98\x80", true },
	};
	char s[32];

	(void)state;
	for (size_t n = 0; n <= 24; n++)
		for (size_t at = 0; at < n; at++)
			for (size_t k = 0; k < sizeof(seqs) / sizeof(seqs[0]);
			    k++) {
				size_t l = strlen(seqs[k].seq);

				if (at + l > n)
					continue;
				memset(s, 'a', sizeof(s));
				memcpy(s + at, seqs[k].seq, l);
				assert_int_equal(utf8_valid(s, n), seqs[k].ok);
				assert_int_equal(utf8_valid(s, n),
				    valid_ref(s, n));
				/* Cut one byte short at the end of the range. */
				assert_int_equal(utf8_valid(s, at + l - 1),
				    valid_ref(s, at + l - 1));
			}
}

/* fmt_whole() is printf("%.0f") with a short path for whole numbers. */
static void
test_fmt_whole(void **state)
{
	static const double xs[] = {
		0.0, -0.0, 1.0, -1.0, 9.0, 10.0, 15832000.0, 790000000.0,
		0.5, 1.5, 2.5, -2.5, 0.49999999999999994, 123456.789,
		9007199254740991.0, 9007199254740992.0, 9007199254740993.0,
		-9007199254740991.0, 1e21, 3e26, -1e300, 1.7976931348623157e308,
		5e-324,
	};
	char got[FMT_WHOLE_LEN], want[FMT_WHOLE_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		snprintf(want, sizeof(want), "%.0f", xs[i]);
		assert_string_equal(fmt_whole(xs[i], got), want);
	}
	snprintf(want, sizeof(want), "%.0f", NAN);
	assert_string_equal(fmt_whole(NAN, got), want);
	snprintf(want, sizeof(want), "%.0f", -INFINITY);
	assert_string_equal(fmt_whole(-INFINITY, got), want);
}

/* ---- names -------------------------------------------------------------- */

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(outcome_name(TG_NO_LICENSE_REQUIRED),
	    "no_license_required");
	assert_string_equal(outcome_name(TG_AUTHORIZED), "authorized");
	assert_string_equal(outcome_name(TG_HOLD), "hold");
	assert_string_equal(outcome_name(TG_LICENSE_REQUIRED),
	    "license_required");
	assert_null(review_name(TG_REVIEW_NONE));
	assert_string_equal(review_name(TG_REVIEW_APPROVAL),
	    "presumption_of_approval");
	assert_string_equal(review_name(TG_REVIEW_CASE_BY_CASE),
	    "case_by_case");
	assert_string_equal(review_name(TG_REVIEW_DENIAL),
	    "presumption_of_denial");
	assert_string_equal(item_kind_name(TG_ITEM_CHIP), "chip");
	assert_string_equal(item_kind_name(TG_ITEM_SYSTEM), "system");
	assert_string_equal(item_kind_name(TG_ITEM_MODEL_WEIGHTS),
	    "model_weights");
	assert_string_equal(item_kind_name(TG_ITEM_COMPUTE_SERVICE),
	    "compute_service");
	/* The order of the enums is relied upon. */
	assert_true(TG_NO_LICENSE_REQUIRED < TG_AUTHORIZED);
	assert_true(TG_AUTHORIZED < TG_HOLD);
	assert_true(TG_HOLD < TG_LICENSE_REQUIRED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_known),
		cmocka_unit_test(test_date_leap),
		cmocka_unit_test(test_date_bad),
		cmocka_unit_test(test_date_roundtrip),
		cmocka_unit_test(test_date_today),
		cmocka_unit_test(test_cc_good),
		cmocka_unit_test(test_cc_bad),
		cmocka_unit_test(test_cc_count),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_grow),
		cmocka_unit_test(test_buf_read_file),
		cmocka_unit_test(test_arena_align),
		cmocka_unit_test(test_arena_cap),
		cmocka_unit_test(test_arena_strings),
		cmocka_unit_test(test_parse_double),
		cmocka_unit_test(test_parse_llong),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_error_truncation),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_errlist),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_fatal),
		cmocka_unit_test(test_uuid_v7),
		cmocka_unit_test(test_utf8_clean),
		cmocka_unit_test(test_json_plain_len),
		cmocka_unit_test(test_utf8_valid_words),
		cmocka_unit_test(test_fmt_whole),
		cmocka_unit_test(test_names),
	};

	log_init("test_util", LOG_LVL_INFO);
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
