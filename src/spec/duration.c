/*
 * duration.c - the one duration parser.
 */
#include "spec/duration.h"

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
