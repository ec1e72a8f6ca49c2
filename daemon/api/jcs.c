/*
 * jcs.c: RFC 8785 JSON Canonicalization Scheme over jansson values.
 *
 * The output is a pure function of the JSON value: object members sorted
 * by their keys as arrays of UTF-16 code units (RFC 8785 section 3.2.3),
 * strings with the minimal ECMAScript escaping (section 3.2.2.2), numbers
 * as ECMAScript's Number.prototype.toString() (section 3.2.2.3, ES6
 * 7.1.12.1), the literals as themselves, and no whitespace anywhere.
 *
 * Choices where jansson's value model is wider than I-JSON (RFC 7493):
 *  - json_integer: values with magnitude up to 2^53 are exact doubles and
 *    are written in decimal.  Larger ones are converted to the double they
 *    round to (round to nearest, ties to even) and written as that double,
 *    as every I-JSON reader would see them: 9007199254740993 is written
 *    as 9007199254740992.  The header promises this; nothing is refused.
 *  - Strings and keys must be well-formed UTF-8 without encoded
 *    surrogates (jansson checks this unless a *_nocheck constructor was
 *    used); anything else is TG_EINVAL, as RFC 8785 section 3.2.2.2 asks
 *    for lone surrogates.  Embedded NULs are legal and come out as \u0000.
 *  - NaN and the infinities are TG_EINVAL.  jansson refuses to create
 *    them, so this check is a defence for values built some other way.
 *  - Nesting deeper than JCS_MAX_DEPTH (jansson's own parser limit) is
 *    TG_ETOOBIG.  This also turns a reference cycle, which jansson's API
 *    can build, into an error instead of a stack overflow.
 *
 * Numbers are formatted with snprintf("%.*e") and strtod(), which must run
 * in the default round-to-nearest floating-point mode.  The radix
 * character of the current locale is never relied upon: digits are picked
 * out of snprintf's output, and strtod() is fed integer mantissas.
 *
 * Ownership: every function borrows its json_t; jcs_dumps() returns a
 * malloc'd string the caller free()s.  Thread-safe as long as nobody
 * modifies the value meanwhile.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "tiergate/error.h"
#include "tiergate/jcs.h"

#define JCS_DUMPS_CAP	(64u * 1024 * 1024)
#define JCS_MAX_DEPTH	JSON_PARSER_MAX_DEPTH
#define JCS_EXACT_INT	9007199254740992LL	/* 2^53 */
#define JCS_MAX_DIGITS	17	/* always enough to round-trip a double */

/* One object member, for sorting. */
struct jcs_member {
	const char *key;
	size_t len;
	json_t *value;
};

/* Walks a UTF-8 string as UTF-16 code units. */
struct u16_iter {
	const unsigned char *p;
	size_t n;
	unsigned int low;	/* pending low surrogate, 0 if none */
};

static int jcs_value(struct tg_buf *, const json_t *, int);

/*
 * Decodes one code point from s (n > 0 bytes available) into *cp and
 * returns its length in bytes, or 0 if the bytes are not well-formed UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, unsigned long *cp)
{
	unsigned long c, min;
	size_t len, i;

	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Returns 0 if s[0..n) is well-formed UTF-8, TG_EINVAL if not. */
static int
utf8_check(const char *s, size_t n)
{
	return utf8_valid(s, n) ? 0 : TG_EINVAL;
}

/* The next UTF-16 code unit, or -1 at the end.  The input was checked
 * with utf8_check() before. */
static long
u16_next(struct u16_iter *it)
{
	unsigned long cp;
	size_t len;

	if (it->low != 0) {
		cp = it->low;
		it->low = 0;
		return (long)cp;
	}
	if (it->n == 0)
		return -1;
	len = utf8_decode(it->p, it->n, &cp);
	if (len == 0) {
		/* Unreachable after utf8_check(); stay total and ordered. */
		cp = *it->p;
		len = 1;
	}
	it->p += len;
	it->n -= len;
	if (cp >= 0x10000) {
		cp -= 0x10000;
		it->low = 0xdc00 + (unsigned int)(cp & 0x3ff);
		cp = 0xd800 + (cp >> 10);
	}
	return (long)cp;
}

/* RFC 8785 section 3.2.3: compare keys as arrays of UTF-16 code units,
 * a proper prefix sorting first.  UTF-8 byte order would put U+E000 to
 * U+FFFF after the supplementary planes; UTF-16 puts them last. */
static int
member_cmp(const void *a, const void *b)
{
	const struct jcs_member *ma = a, *mb = b;
	struct u16_iter ia, ib;
	long ca, cb;

	ia.p = (const unsigned char *)ma->key;
	ia.n = ma->len;
	ia.low = 0;
	ib.p = (const unsigned char *)mb->key;
	ib.n = mb->len;
	ib.low = 0;
	for (;;) {
		ca = u16_next(&ia);
		cb = u16_next(&ib);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == -1)
			return 0;
	}
}

/* RFC 8785 section 3.2.2.2: escape only '"', '\\' and the C0 controls,
 * with the short forms where JSON has them; copy the rest as is. */
static int
jcs_string(struct tg_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const char *esc;
	char u[7];
	size_t i, run;
	unsigned char c;
	int rc;

	rc = utf8_check(s, n);
	if (rc != 0)
		return rc;
	rc = buf_add(b, "\"", 1);
	if (rc != 0)
		return rc;
	run = 0;
	for (i = 0; i < n; i++) {
		i += json_plain_len(s + i, n - i);
		if (i == n)
			break;
		c = (unsigned char)s[i];
		rc = buf_add(b, s + run, i - run);
		if (rc != 0)
			return rc;
		run = i + 1;
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			u[0] = '\\';
			u[1] = 'u';
			u[2] = '0';
			u[3] = '0';
			u[4] = hex[c >> 4];
			u[5] = hex[c & 0xf];
			u[6] = '\0';
			esc = u;
			break;
		}
		rc = buf_adds(b, esc);
		if (rc != 0)
			return rc;
	}
	rc = buf_add(b, s + run, n - run);
	if (rc != 0)
		return rc;
	return buf_add(b, "\"", 1);
}

/*
 * Formats x > 0 with p significant digits, correctly rounded (ties to
 * even): the digits go to dig (p of them, no NUL) and the decimal
 * exponent to *e10, so that x ~ d1.d2...dp * 10^*e10.  Returns 0 or
 * TG_EINTERNAL.  Whatever radix character snprintf() uses is skipped.
 */
static int
num_digits(double x, int p, char *dig, int *e10)
{
	char tmp[64];
	const char *s;
	int n, k, e, neg;

	n = snprintf(tmp, sizeof(tmp), "%.*e", p - 1, x);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return TG_EINTERNAL;
	k = 0;
	for (s = tmp; *s != '\0' && *s != 'e'; s++) {
		if (*s >= '0' && *s <= '9') {
			if (k == p)
				return TG_EINTERNAL;
			dig[k++] = *s;
		}
	}
	if (k != p || *s != 'e')
		return TG_EINTERNAL;
	s++;
	neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '\0')
		return TG_EINTERNAL;
	for (e = 0; *s >= '0' && *s <= '9'; s++) {
		if (e > 1000)
			return TG_EINTERNAL;
		e = e * 10 + (*s - '0');
	}
	if (*s != '\0')
		return TG_EINTERNAL;
	*e10 = neg ? -e : e;
	return 0;
}

/* Whether the p digits dig with exponent e10 (as num_digits()) read back
 * as x.  The mantissa is given to strtod() as an integer, so the locale's
 * radix character does not matter. */
static int
num_roundtrips(double x, const char *dig, int p, int e10)
{
	char tmp[64];
	double y;
	int n;

	n = snprintf(tmp, sizeof(tmp), "%.*se%d", p, dig, e10 - (p - 1));
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return 0;
	y = strtod(tmp, NULL);	/* errno's ERANGE for subnormals is moot */
	return y == x;
}

/*
 * Moves the p-digit decimal dig * 10^(e10 - p + 1) one step up or down
 * on the grid of p-significant-digit numbers, keeping p digits.
 */
static void
num_step(char *dig, int p, int *e10, int up)
{
	int i;

	if (up) {
		for (i = p - 1; i >= 0 && dig[i] == '9'; i--)
			dig[i] = '0';
		if (i >= 0)
			dig[i]++;
		else {
			/* 9.9..9 + 1 step = 1.0..0 of the next decade. */
			dig[0] = '1';
			(*e10)++;
		}
		return;
	}
	for (i = p - 1; i > 0 && dig[i] == '0'; i--)
		dig[i] = '9';
	if (i > 0 || dig[0] != '1')
		dig[i]--;
	else {
		/* 1.0..0 - 1 step = 9.9..9 of the decade below. */
		for (i = 0; i < p; i++)
			dig[i] = '9';
		(*e10)--;
	}
}

/*
 * The shortest digit string that reads back as x > 0 (ES6 7.1.12.1 step
 * 5: k as small as possible, then closest to x, ties to even).
 *
 * At each length p the correctly rounded string c is the closest p-digit
 * number to x (ties to even), so if any p-digit string reads back, c
 * does, or else x's rounding interval is lopsided and only c's neighbour
 * on the far side of x lies inside it.  That happens just at powers of
 * two, whose gap below is half the gap above: 2^-44 is
 * 5.684341886080802e-14, while the closest 16-digit string,
 * 5.684341886080801e-14, reads back as another double.  So both are
 * tried, c first.  Seventeen digits always read back.
 *
 * Returns the digit count, or TG_EINTERNAL.
 */
static int
num_shortest(double x, char dig[JCS_MAX_DIGITS], int *e10)
{
	char tmp[64];
	int p, rc, n;

	for (p = 1; p <= JCS_MAX_DIGITS; p++) {
		rc = num_digits(x, p, dig, e10);
		if (rc != 0)
			return rc;
		if (num_roundtrips(x, dig, p, *e10))
			break;
		/* Which side of x did c land on? */
		n = snprintf(tmp, sizeof(tmp), "%.*se%d", p, dig,
		    *e10 - (p - 1));
		if (n < 0 || (size_t)n >= sizeof(tmp))
			return TG_EINTERNAL;
		num_step(dig, p, e10, strtod(tmp, NULL) < x);
		if (num_roundtrips(x, dig, p, *e10))
			break;
	}
	if (p > JCS_MAX_DIGITS)
		return TG_EINTERNAL;
	/* A shortest string cannot end in 0; be sure all the same. */
	while (p > 1 && dig[p - 1] == '0')
		p--;
	return p;
}

/* ECMAScript Number.prototype.toString() (ES6 7.1.12.1, RFC 8785
 * section 3.2.2.3) for a finite double. */
static int
jcs_double(struct tg_buf *b, double x)
{
	char dig[JCS_MAX_DIGITS];
	int k, n, e10, rc;

	if (!isfinite(x))
		return TG_EINVAL;
	if (x == 0)
		return buf_add(b, "0", 1);	/* -0 too */
	if (x < 0) {
		rc = buf_add(b, "-", 1);
		if (rc != 0)
			return rc;
		x = -x;
	}
	k = num_shortest(x, dig, &e10);
	if (k < 0)
		return k;
	/* In ES6's terms x = 0.dig * 10^n, with k digits. */
	n = e10 + 1;
	if (k <= n && n <= 21) {
		/* 1e20 -> 100000000000000000000 */
		rc = buf_add(b, dig, (size_t)k);
		while (rc == 0 && n-- > k)
			rc = buf_add(b, "0", 1);
		return rc;
	}
	if (0 < n && n <= 21) {
		/* 1.5 */
		rc = buf_add(b, dig, (size_t)n);
		if (rc == 0)
			rc = buf_add(b, ".", 1);
		if (rc == 0)
			rc = buf_add(b, dig + n, (size_t)(k - n));
		return rc;
	}
	if (-6 < n && n <= 0) {
		/* 0.000001 */
		rc = buf_add(b, "0.", 2);
		while (rc == 0 && n++ < 0)
			rc = buf_add(b, "0", 1);
		if (rc == 0)
			rc = buf_add(b, dig, (size_t)k);
		return rc;
	}
	/* 1e+21, 1.5e-7: the sign of the exponent is always written. */
	rc = buf_add(b, dig, 1);
	if (rc == 0 && k > 1)
		rc = buf_add(b, ".", 1);
	if (rc == 0)
		rc = buf_add(b, dig + 1, (size_t)(k - 1));
	if (rc == 0)
		rc = buf_printf(b, "e%c%d", n - 1 < 0 ? '-' : '+',
		    abs(n - 1));
	return rc;
}

int
jcs_put_string(struct tg_buf *b, const char *s, size_t n)
{
	return jcs_string(b, s, n);
}

/* Whole numbers within 2^53 take the integer path without formatting
 * digits through snprintf: decisions are full of them (TPP, quantities,
 * quota balances), and every one of them is canonicalized on the write
 * path. */
int
jcs_put_number(struct tg_buf *b, double x)
{
	char t[FMT_WHOLE_LEN];

	if (!isfinite(x))
		return TG_EINVAL;
	if (x != floor(x) || fabs(x) > (double)JCS_EXACT_INT)
		return jcs_double(b, x);
	/* ECMAScript writes -0 as 0. */
	return buf_adds(b, fmt_whole(x == 0 ? 0.0 : x, t));
}

static int
jcs_object(struct tg_buf *b, const json_t *o, int depth)
{
	struct jcs_member *m = NULL;
	size_t i, n;
	void *it;
	int rc = 0;

	n = json_object_size(o);
	if (n == 0)
		return buf_add(b, "{}", 2);
	m = calloc(n, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	/* jansson's iterator wants a non-const object; it does not write. */
	it = json_object_iter((json_t *)(uintptr_t)o);
	for (i = 0; i < n && it != NULL; i++) {
		m[i].key = json_object_iter_key(it);
		m[i].len = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
		/* The comparator needs well-formed keys. */
		rc = utf8_check(m[i].key, m[i].len);
		if (rc != 0)
			goto out;
		it = json_object_iter_next((json_t *)(uintptr_t)o, it);
	}
	if (i != n || it != NULL) {
		rc = TG_EINTERNAL;
		goto out;
	}
	qsort(m, n, sizeof(*m), member_cmp);
	rc = buf_add(b, "{", 1);
	for (i = 0; rc == 0 && i < n; i++) {
		if (i > 0)
			rc = buf_add(b, ",", 1);
		if (rc == 0)
			rc = jcs_string(b, m[i].key, m[i].len);
		if (rc == 0)
			rc = buf_add(b, ":", 1);
		if (rc == 0)
			rc = jcs_value(b, m[i].value, depth + 1);
	}
	if (rc == 0)
		rc = buf_add(b, "}", 1);
out:
	free(m);
	return rc;
}

static int
jcs_array(struct tg_buf *b, const json_t *a, int depth)
{
	size_t i, n;
	int rc;

	n = json_array_size(a);
	rc = buf_add(b, "[", 1);
	for (i = 0; rc == 0 && i < n; i++) {
		if (i > 0)
			rc = buf_add(b, ",", 1);
		if (rc == 0)
			rc = jcs_value(b, json_array_get(a, i), depth + 1);
	}
	if (rc == 0)
		rc = buf_add(b, "]", 1);
	return rc;
}

static int
jcs_value(struct tg_buf *b, const json_t *v, int depth)
{
	if (v == NULL)
		return TG_EINVAL;
	/* Only containers count, as in jansson's parser. */
	if ((json_is_object(v) || json_is_array(v)) && depth > JCS_MAX_DEPTH)
		return TG_ETOOBIG;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return jcs_object(b, v, depth);
	case JSON_ARRAY:
		return jcs_array(b, v, depth);
	case JSON_STRING:
		return jcs_string(b, json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		/* Up to 2^53 an integer is an exact double, written as such;
		 * beyond, as the double it rounds to (the file comment). */
		return jcs_put_number(b, (double)json_integer_value(v));
	case JSON_REAL:
		return jcs_double(b, json_real_value(v));
	case JSON_TRUE:
		return buf_add(b, "true", 4);
	case JSON_FALSE:
		return buf_add(b, "false", 5);
	case JSON_NULL:
		return buf_add(b, "null", 4);
	}
	return TG_EINVAL;
}

/* On failure b is put back as it was, so a caller never sees half a
 * value. */
int
jcs_write(struct tg_buf *b, const json_t *v)
{
	size_t len0;
	int rc;

	len0 = b->len;
	rc = jcs_value(b, v, 1);
	if (rc != 0 && b->p != NULL) {
		b->len = len0;
		b->p[len0] = '\0';
	}
	return rc;
}

char *
jcs_dumps(const json_t *v)
{
	struct tg_buf b;

	buf_init(&b, JCS_DUMPS_CAP);
	if (jcs_write(&b, v) != 0) {
		buf_release(&b);
		return NULL;
	}
	return b.p;	/* never NULL: every value writes at least a byte */
}

int
jcs_sha256(const json_t *v, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct tg_buf b;
	int rc;

	out[0] = '\0';
	buf_init(&b, JCS_DUMPS_CAP);
	rc = jcs_write(&b, v);
	if (rc != 0)
		goto out;
	if (EVP_Digest(b.p, b.len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		ERR_clear_error();
		rc = TG_ECRYPTO;
		goto out;
	}
	hex_encode(md, mdlen, out);
out:
	buf_release(&b);
	return rc;
}
