/* SPDX-License-Identifier: ISC */
/*
 * duration.h - "30s", "5m", "1h30m", "500ms", "7d", "2w" -> milliseconds.
 *
 * One spelling of durations for the configuration, the report commands'
 * --since and the API's windows. Whole numbers only ("1.5m" would be
 * ambiguous between units); units ms, s, m, h, d, w, longest match first,
 * so "ms" is never read as minutes then "s".
 */
#ifndef MP_DURATION_H
#define MP_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 with *ms set, or -1 when s is malformed or more than max_ms. */
int duration_parse(const char *s, int64_t max_ms, int64_t *ms);

/*
 * The configuration's spelling: a plain number is seconds ("90"), the one
 * spelling it adds; else what duration_parse() reads, up to 1000 days.
 */
int duration_parse_config(const char *s, uint64_t *ms);

/* The shortest exact spelling into buf: 90000 -> "1m30s", 0 -> "0". Returns buf. */
const char *duration_format(char *buf, size_t n, uint64_t ms);

#endif
