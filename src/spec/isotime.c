/* SPDX-License-Identifier: ISC */
/*
 * isotime.c - the one reader of ISO 8601 times (see isotime.h). Pure
 * arithmetic: no timegm(), no locale, no time zone database.
 */
#include "spec/isotime.h"

int64_t isotime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm, exact for every year. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

/* Exactly n ASCII digits at *p; advances past them. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : mdays[m - 1];
}

int isotime_parse(const char *s, int flags, int64_t *ms)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, tzh = 0, tzm = 0, sign = 0;
	int have_time = 0, have_zone = 0;

	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		have_time = 1;
		if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec) < 0)
				return -1;
			if (*p == '.' || *p == ',') {
				int n = 0;

				for (p++; *p >= '0' && *p <= '9'; p++, n++)
					if (n < 3)
						frac = frac * 10 + (*p - '0');
				if (n == 0)
					return -1;
				for (; n < 3; n++)
					frac *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
			have_zone = 1;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			have_zone = 1;
			if (digits(&p, 2, &tzh) < 0)
				return -1;
			/* +HH, +HHMM or +HH:MM; a colon must be followed by minutes. */
			if (*p == ':' ? (p++, digits(&p, 2, &tzm) < 0)
			              : (*p && digits(&p, 2, &tzm) < 0))
				return -1;
		}
	}
	if (*p || ((flags & ISOTIME_NEED_ZONE) && !(have_time && have_zone)))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60 || tzh > 23 || tzm > 59)
		return -1;
	*ms = (isotime_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
	       sec - sign * (tzh * 3600 + tzm * 60)) *
	          1000 +
	      frac;
	return 0;
}
