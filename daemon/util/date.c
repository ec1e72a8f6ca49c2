/*
 * date.c: calendar dates as days since 1970-01-01 (proleptic Gregorian,
 * UTC), the unit rules and quotas are keyed by.
 *
 * The conversions are Howard Hinnant's days_from_civil/civil_from_days
 * ("chrono-Compatible Low-Level Date Algorithms"): exact integer
 * arithmetic over 400-year eras, no time zones, no timegm(), no TZ
 * environment.  Intermediates are 64-bit so every tg_date converts.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "tiergate/error.h"
#include "tiergate/util.h"

#define DATE_YEAR_MIN 1900
#define DATE_YEAR_MAX 9999

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && is_leap(y))
		return 29;
	return mdays[m - 1];
}

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;				/* [0, 399] */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;	/* [0, 146096] */
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;				/* [0, 146096] */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* [0, 365] */
	mp = (5 * doy + 2) / 153;			/* [0, 11] */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);	/* [1, 31] */
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);		/* [1, 12] */
	*y = yoe + era * 400 + (*m <= 2);
}

/* Reads n ASCII digits; -1 if any is not a digit. */
static int
digits(const char *s, int n)
{
	int i, v;

	v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
date_parse(const char *s, size_t len, tg_date *out)
{
	int y, m, d;

	if (s == NULL || len != 10 || s[4] != '-' || s[7] != '-')
		return TG_EINVAL;
	y = digits(s, 4);
	m = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (y < DATE_YEAR_MIN || y > DATE_YEAR_MAX)
		return TG_EINVAL;
	if (m < 1 || m > 12)
		return TG_EINVAL;
	if (d < 1 || d > days_in_month(y, m))
		return TG_EINVAL;
	*out = (tg_date)days_from_civil(y, m, d);
	return 0;
}

void
date_format(tg_date d, char *buf)
{
	int64_t y;
	int m, day;

	if (d == TG_DATE_NONE) {
		buf[0] = '\0';
		return;
	}
	civil_from_days(d, &y, &m, &day);
	/* Years beyond 9999 cannot be parsed back; they are cut at 10. */
	if (snprintf(buf, 11, "%04lld-%02d-%02d", (long long)y, m, day) < 0)
		buf[0] = '\0';
}

tg_date
date_today(void)
{
	struct timespec ts;
	int64_t days;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return TG_DATE_NONE;
	days = (int64_t)ts.tv_sec / 86400;
	if (ts.tv_sec < 0 && (int64_t)ts.tv_sec % 86400 != 0)
		days--;
	return (tg_date)days;
}

int
date_year(tg_date d)
{
	int64_t y;
	int m, day;

	civil_from_days(d, &y, &m, &day);
	return (int)y;
}

uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
