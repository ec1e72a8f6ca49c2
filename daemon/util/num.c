/*
 * num.c: number parsing that accepts the whole string or nothing.
 *
 * strtod() alone accepts leading spaces, trailing garbage, "nan",
 * "infinity" and hexadecimal floats, and turns overflow into HUGE_VAL; a
 * quantity or TPP figure read from a batch file must be none of those.
 * So the text is first checked against the decimal grammar, then
 * converted, and out-of-range results are refused (-ERANGE) rather than
 * rounded to infinity or zero.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/error.h"
#include "tiergate/util.h"

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* [+-]? digits [. digits?]? ([eE] [+-]? digits)?, or [+-]? . digits ... */
static bool
is_decimal(const char *s)
{
	size_t ndig;

	if (*s == '+' || *s == '-')
		s++;
	ndig = 0;
	while (is_digit(*s)) {
		s++;
		ndig++;
	}
	if (*s == '.') {
		s++;
		while (is_digit(*s)) {
			s++;
			ndig++;
		}
	}
	if (ndig == 0)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!is_digit(*s))
			return false;
		while (is_digit(*s))
			s++;
	}
	return *s == '\0';
}

int
parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || !is_decimal(s))
		return TG_EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0')
		return TG_EINVAL;
	/* Overflow, and underflow to zero or a denormal, are both refused. */
	if (errno == ERANGE || !isfinite(v))
		return -ERANGE;
	*out = v;
	return 0;
}

int
parse_llong(const char *s, long long *out)
{
	const char *p;
	char *end;
	long long v;

	if (s == NULL)
		return TG_EINVAL;
	/* strtoll would skip leading blanks; the whole string must match. */
	p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!is_digit(*p))
		return TG_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0')
		return TG_EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

char *
fmt_whole(double x, char *out)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u;
	bool neg = signbit(x);

	/* -0 stays "-0", as %.0f has it; 2^53 bounds the integers a double
	 * holds exactly, so the digits are the value's. */
	if (x != floor(x) || fabs(x) >= 9007199254740992.0) {
		snprintf(out, FMT_WHOLE_LEN, "%.0f", x);
		return out;
	}
	u = (unsigned long long)fabs(x);
	*--p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (neg)
		*--p = '-';
	memcpy(out, p, (size_t)(tmp + sizeof(tmp) - p));
	return out;
}
