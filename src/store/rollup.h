/* SPDX-License-Identifier: ISC */
/*
 * rollup.h - the roll-up maths, the same for every backend: one hour of
 * one check at one location folded into count, up, maintenance and
 * min/avg/p95/max time to greeting (rollup_fold), and the buckets of a
 * series built from raw results and roll-ups alike (rollup_bucket).
 * Pure: no I/O. Private to src/store/.
 */
#ifndef MP_STORE_ROLLUP_H
#define MP_STORE_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define ROLLUP_HOUR_MS (3600LL * 1000)

/* The start of the UTC hour ms is in (negative times too). */
int64_t rollup_floor_hour(int64_t ms);
/* "Up" for uptime means the server answered: degraded counts, unknown does not. */
int rollup_is_up(int status);
/*
 * How one result counts for uptime: 1 up, 0 down, -1 not at all. counts_as
 * (enum store_counts_as) is the check's verdict when its check has several
 * locations; STORE_COUNTS_BY_STATUS leaves it to status (rollup_is_up()).
 */
int rollup_uptime_of(int status, int counts_as);

/* Min, average (rounded), nearest-rank p95 and max in us; -1 when no time was measured. */
struct rollup_times {
	int64_t min, avg, p95, max;
};

/*
 * One location-hour being folded. Zeroed to start; rollup_fold_free() at
 * the end. count and up are by each result's own status (the series, the
 * location's own view); the uptime_* counts are what uptime reads
 * (rollup_uptime_of()): counted results outside maintenance, up among
 * them, and counted results inside maintenance.
 */
struct rollup_fold {
	int64_t count, up;
	int64_t maint, maint_up; /* of count and up: inside a maintenance window */
	int64_t uptime_count, uptime_up, uptime_maint;
	int64_t *ttg;
	size_t nttg, cap;
};
/* One raw result; ttg_us < 0: not measured. -1 (ENOMEM) when out of memory. */
int rollup_fold_add(struct rollup_fold *f, int status, int maintenance, int counts_as,
                    int64_t ttg_us);
/* The times of what was added (sorts the times). */
void rollup_fold_times(struct rollup_fold *f, struct rollup_times *t);
/* Empty again, for the next location; keeps the buffer. */
void rollup_fold_reset(struct rollup_fold *f);
void rollup_fold_free(struct rollup_fold *f);

/* One bucket of a series being built; rollup_bucket_init() first. */
struct rollup_bucket {
	int64_t count, up;
	int64_t nttg, sum; /* times counted in the average and their sum */
	int64_t min, p95, max;
	int rolled;                         /* holds roll-ups */
	struct store_reason_count *reasons; /* raw failures, first seen first; strings owned */
	size_t nreasons, cap;
};
void rollup_bucket_init(struct rollup_bucket *b);
/* The n raw times v (any order; sorted here) of results in b. */
void rollup_bucket_times(struct rollup_bucket *b, int64_t *v, size_t n);
/* One raw result's status and reason (reason counted when not up). -1: out of memory. */
int rollup_bucket_raw(struct rollup_bucket *b, int status, const char *reason);
/* One stored roll-up; t NULL when it holds no time. */
void rollup_bucket_rollup(struct rollup_bucket *b, int64_t count, int64_t up,
                          const struct rollup_times *t);
/* The bucket as a row; points into b. */
void rollup_bucket_row(const struct rollup_bucket *b, int64_t start_ms, struct store_bucket_row *r);
void rollup_bucket_free(struct rollup_bucket *b);

#endif
