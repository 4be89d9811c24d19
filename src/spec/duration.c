/* SPDX-License-Identifier: ISC */
/*
 * duration.c - the one duration parser.
 */
#include "spec/duration.h"

#include <stdio.h>
#include <string.h>

int duration_parse(const char *s, int64_t max_ms, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
	             {"h", 3600000}, {"d", 86400000}, {"w", 7 * 86400000LL}};
	int64_t total = 0;

	if (!s || !*s)
		return -1;
	while (*s) {
		int64_t v = 0;
		size_t nd = 0, best = 0;
		int64_t mul = 0;

		while (s[nd] >= '0' && s[nd] <= '9') {
			if (nd >= 9) /* bounds v before any multiplication */
				return -1;
			v = v * 10 + (s[nd] - '0');
			nd++;
		}
		if (nd == 0)
			return -1;
		s += nd;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t ul = strlen(units[i].unit);

			if (ul > best && strncmp(s, units[i].unit, ul) == 0 &&
			    !(s[ul] >= 'a' && s[ul] <= 'z')) {
				best = ul;
				mul = units[i].ms;
			}
		}
		if (!best)
			return -1;
		s += best;
		/* v < 1e9 and mul <= 6.05e8: the product fits; check before adding up. */
		if (v * mul > max_ms - total)
			return -1;
		total += v * mul;
	}
	*ms = total;
	return 0;
}

int duration_parse_config(const char *s, uint64_t *ms)
{
	uint64_t v = 0;
	int64_t d;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > 1000000000ULL)
			break;
	}
	if (p != s && !*p) {
		*ms = v * 1000;
		return 0;
	}
	if (duration_parse(s, 1000LL * 86400000LL, &d) < 0)
		return -1;
	*ms = (uint64_t)d;
	return 0;
}

const char *duration_format(char *buf, size_t n, uint64_t ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
	size_t len = 0;

	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, n, "0");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && len < n; i++) {
		if (ms >= units[i].ms) {
			len +=
			    (size_t)snprintf(buf + len, n - len, "%llu%s",
			                     (unsigned long long)(ms / units[i].ms), units[i].unit);
			ms %= units[i].ms;
		}
	}
	return buf;
}
