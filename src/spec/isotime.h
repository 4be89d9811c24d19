/* SPDX-License-Identifier: ISC */
/*
 * isotime.h - ISO 8601 / RFC 3339 times -> unix milliseconds.
 *
 * One reader of times for the configuration (maintenance windows), the
 * report commands' --since and the API's from/to:
 *   YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)fff]]][Z|z|+HH[[:]MM]|-HH[[:]MM]]
 * Digits are exact in number, dates must exist (no February 30th), a
 * leap second (:60) is accepted as the next second, fractions beyond
 * milliseconds are dropped, and no zone means UTC unless one is required.
 */
#ifndef MP_ISOTIME_H
#define MP_ISOTIME_H

#include <stdint.h>

/* The caller needs an explicit time of day and zone (a config file is read later, anywhere). */
#define ISOTIME_NEED_ZONE 1

/* Returns 0 with *ms set, or -1 when s is not such a time. */
int isotime_parse(const char *s, int flags, int64_t *ms);

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d 1-31, not checked). */
int64_t isotime_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
