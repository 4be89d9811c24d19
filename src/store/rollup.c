/* SPDX-License-Identifier: ISC */
/*
 * rollup.c - the roll-up maths (rollup.h), kept out of the backends so a
 * second backend folds hours and builds series exactly as SQLite's does.
 */
#include "store/rollup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int64_t rollup_floor_hour(int64_t ms)
{
	int64_t h = ms / ROLLUP_HOUR_MS;

	if (ms < 0 && ms % ROLLUP_HOUR_MS)
		h--;
	return h * ROLLUP_HOUR_MS;
}

int rollup_is_up(int status)
{
	return status == MP_UP || status == MP_DEGRADED;
}

int rollup_uptime_of(int status, int counts_as)
{
	switch (counts_as) {
	case STORE_COUNTS_UP:
		return 1;
	case STORE_COUNTS_DOWN:
		return 0;
	case STORE_COUNTS_NOT:
		return -1;
	case STORE_COUNTS_BY_STATUS:
	default:
		return rollup_is_up(status);
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least 95% of values at or below it. */
static int64_t p95_of_sorted(const int64_t *v, size_t n)
{
	return v[(n * 95 + 99) / 100 - 1];
}

int rollup_fold_add(struct rollup_fold *f, int status, int maintenance, int counts_as,
                    int64_t ttg_us)
{
	int up = rollup_is_up(status), u = rollup_uptime_of(status, counts_as);

	f->count++;
	f->up += up;
	if (maintenance) {
		f->maint++;
		f->maint_up += up;
	}
	if (u >= 0 && maintenance) {
		f->uptime_maint++;
	} else if (u >= 0) {
		f->uptime_count++;
		f->uptime_up += u;
	}
	if (ttg_us < 0)
		return 0;
	if (f->nttg == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		int64_t *v = realloc(f->ttg, cap * sizeof(*v));

		if (!v) {
			errno = ENOMEM;
			return -1;
		}
		f->ttg = v;
		f->cap = cap;
	}
	f->ttg[f->nttg++] = ttg_us;
	return 0;
}

void rollup_fold_times(struct rollup_fold *f, struct rollup_times *t)
{
	int64_t sum = 0;

	if (!f->nttg) {
		t->min = t->avg = t->p95 = t->max = -1;
		return;
	}
	qsort(f->ttg, f->nttg, sizeof(*f->ttg), cmp_i64);
	for (size_t i = 0; i < f->nttg; i++)
		sum += f->ttg[i];
	t->min = f->ttg[0];
	t->avg = (sum + (int64_t)f->nttg / 2) / (int64_t)f->nttg;
	t->p95 = p95_of_sorted(f->ttg, f->nttg);
	t->max = f->ttg[f->nttg - 1];
}

void rollup_fold_reset(struct rollup_fold *f)
{
	f->count = f->up = f->maint = f->maint_up = 0;
	f->uptime_count = f->uptime_up = f->uptime_maint = 0;
	f->nttg = 0;
}

void rollup_fold_free(struct rollup_fold *f)
{
	free(f->ttg);
	memset(f, 0, sizeof(*f));
}

void rollup_bucket_init(struct rollup_bucket *b)
{
	memset(b, 0, sizeof(*b));
	b->min = b->p95 = b->max = -1;
}

static void bucket_time(struct rollup_bucket *b, int64_t min, int64_t p95, int64_t max)
{
	if (b->min < 0 || min < b->min)
		b->min = min;
	/* As in a merged roll-up: the larger p95, an upper bound. */
	if (p95 > b->p95)
		b->p95 = p95;
	if (max > b->max)
		b->max = max;
}

void rollup_bucket_times(struct rollup_bucket *b, int64_t *v, size_t n)
{
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_i64);
	for (size_t i = 0; i < n; i++)
		b->sum += v[i];
	b->nttg += (int64_t)n;
	/* Nearest rank, as a roll-up takes it. */
	bucket_time(b, v[0], p95_of_sorted(v, n), v[n - 1]);
}

int rollup_bucket_raw(struct rollup_bucket *b, int status, const char *reason)
{
	char *copy;

	b->count++;
	if (rollup_is_up(status)) {
		b->up++;
		return 0;
	}
	if (!reason)
		reason = "";
	/* O(reasons) per failure; a bucket sees a handful of distinct ones. */
	for (size_t i = 0; i < b->nreasons; i++)
		if (strcmp(b->reasons[i].reason, reason) == 0) {
			b->reasons[i].n++;
			return 0;
		}
	if (b->nreasons == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct store_reason_count *v = realloc(b->reasons, cap * sizeof(*v));

		if (!v)
			goto nomem;
		b->reasons = v;
		b->cap = cap;
	}
	copy = strdup(reason);
	if (!copy)
		goto nomem;
	b->reasons[b->nreasons].reason = copy;
	b->reasons[b->nreasons++].n = 1;
	return 0;
nomem:
	errno = ENOMEM;
	return -1;
}

void rollup_bucket_rollup(struct rollup_bucket *b, int64_t count, int64_t up,
                          const struct rollup_times *t)
{
	b->count += count;
	b->up += up;
	b->rolled = 1;
	if (!t)
		return;
	/* A roll-up's average weighs by its probes, as the roll-ups' own merge does. */
	b->sum += t->avg * count;
	b->nttg += count;
	bucket_time(b, t->min, t->p95, t->max);
}

static int64_t none_if_negative(int64_t us)
{
	return us < 0 ? STORE_NONE : us;
}

void rollup_bucket_row(const struct rollup_bucket *b, int64_t start_ms, struct store_bucket_row *r)
{
	r->start_ms = start_ms;
	r->count = b->count;
	r->up = b->up;
	r->min_us = none_if_negative(b->min);
	r->avg_us = b->nttg ? (b->sum + b->nttg / 2) / b->nttg : STORE_NONE;
	r->p95_us = none_if_negative(b->p95);
	r->max_us = none_if_negative(b->max);
	r->from_rollups = b->rolled;
	r->reasons = b->reasons;
	r->nreasons = b->nreasons;
}

void rollup_bucket_free(struct rollup_bucket *b)
{
	for (size_t i = 0; i < b->nreasons; i++) {
		/* Ours (strdup() in rollup_bucket_raw()), const only for the rows' readers. */
		char *p;

		memcpy(&p, &b->reasons[i].reason, sizeof(p));
		free(p);
	}
	free(b->reasons);
	b->reasons = NULL;
	b->nreasons = b->cap = 0;
}
