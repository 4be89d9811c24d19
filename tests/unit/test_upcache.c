/* SPDX-License-Identifier: ISC */
/*
 * test_upcache.c - the API's uptime cache gives exactly what
 * store_q_uptime() gives: store_q_counts() over one range or several
 * against it, then the worker's figures for 24 h, 7 d and 30 d at a first
 * build and after each step of a test clock (minutes, an hour, hours, a gap
 * that makes it rebuild), on a store with raw results and hourly roll-ups,
 * results in maintenance windows, a check only ever in maintenance and one
 * that appears late. The store is written by a writer handle that stays
 * open, as in the daemon; the cache reads through its own.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/result.h"
#include "store/store.h"
#include "http/upcache.h"

#define MIN_MS  (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)
#define NCHECKS 6

static const int64_t win_ms[UPCACHE_NWIN] = {DAY_MS, 7 * DAY_MS, 30 * DAY_MS};

struct fixture {
	char dir[64];
	char path[96];
	struct store *s;
	int64_t base; /* the test clock starts here; results run to base + 2 d */
};

static _Atomic int64_t test_now;

static int64_t test_clock(void)
{
	return atomic_load(&test_now);
}

static void name_of(char *buf, size_t len, int k)
{
	snprintf(buf, len, "c%d", k);
}

/*
 * Every 10 minutes (check k offset by 37 s x k) from base - 35 d to
 * base + 2 d: c0 up; c1 down one in 7; c2 degraded one in 5 (counts as up)
 * and down one in 11; c3 in a maintenance window for base - 2 d .. base - 1 d
 * (down inside it half the time, which uptime must not see); c4 always in
 * maintenance; c5 only from base - 3 h. Then retention at base with
 * raw_days 3: older results live on as hourly roll-ups.
 */
static void fill(struct fixture *f)
{
	struct result r;
	char name[16];

	for (int64_t t = f->base - 35 * DAY_MS; t < f->base + 2 * DAY_MS; t += 10 * MIN_MS) {
		int64_t n = t / (10 * MIN_MS);

		for (int k = 0; k < NCHECKS; k++) {
			int64_t at = t + k * 37 * 1000;
			unsigned flags = 0;

			result_init(&r, 0);
			r.status = MP_UP;
			r.reason = MP_R_OK;
			if (k == 1 && n % 7 == 0)
				r.status = MP_DOWN;
			if (k == 2 && n % 5 == 0)
				r.status = MP_DEGRADED;
			if (k == 2 && n % 11 == 0)
				r.status = MP_DOWN;
			if (k == 3 && at >= f->base - 2 * DAY_MS && at < f->base - DAY_MS) {
				flags = STORE_R_MAINTENANCE;
				r.status = n % 2 ? MP_DOWN : MP_UP;
			}
			if (k == 4)
				flags = STORE_R_MAINTENANCE;
			if (k == 5 && at < f->base - 3 * HOUR_MS)
				continue;
			if (r.status == MP_DOWN)
				r.reason = MP_R_REFUSED;
			name_of(name, sizeof(name), k);
			if (store_add_result_flags(f->s, name, "here", at, &r, flags) != 0) {
				assert_true(store_flush(f->s) >= 0);
				assert_int_equal(
				    store_add_result_flags(f->s, name, "here", at, &r, flags), 0);
			}
		}
	}
	assert_true(store_flush(f->s) >= 0);
	int n;
	while ((n = store_retention(f->s, f->base, 3, 400)) > 0)
		;
	assert_int_equal(n, 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct timespec ts;
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mp-upcache-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	assert_int_equal(store_open(&f->s, f->path, err, sizeof(err)), 0);
	/* Not on an hour, a minute or a second: every edge is a partial one. */
	clock_gettime(CLOCK_REALTIME, &ts);
	f->base = ((int64_t)ts.tv_sec * 1000 / HOUR_MS) * HOUR_MS - 3 * DAY_MS + 7 * MIN_MS + 13417;
	fill(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const sides[] = {"", "-wal", "-shm", ".lock"};
	char p[160];

	store_close(f->s);
	for (size_t j = 0; j < sizeof(sides) / sizeof(sides[0]); j++) {
		snprintf(p, sizeof(p), "%s/store.db%s", f->dir, sides[j]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* What store_q_uptime() says of check over [since, until): probes, up, maint. */
static int uptime_of(struct store *s, const char *check, int64_t since, int64_t until,
                     struct store_counts *c, double *pct)
{
	char err[256];
	json_t *u = store_q_uptime(s, check, since, until, err, sizeof(err));

	memset(c, 0, sizeof(*c));
	*pct = (double)NAN;
	if (!u)
		return -1;
	c->probes = json_integer_value(json_object_get(u, "probes"));
	c->up = json_integer_value(json_object_get(u, "up"));
	c->maint = json_integer_value(json_object_get(u, "maintenance_probes"));
	if (json_is_number(json_object_get(u, "uptime_pct")))
		*pct = json_number_value(json_object_get(u, "uptime_pct"));
	json_decref(u);
	return 0;
}

struct sums {
	struct store_counts c[NCHECKS];
	int calls;
};

static void sum_cb(int64_t id, const char *check, const struct store_counts *k, int n, void *arg)
{
	struct sums *s = arg;
	int i = atoi(check + 1);

	(void)id;
	assert_true(check[0] == 'c' && i >= 0 && i < NCHECKS);
	s->calls++;
	for (int j = 0; j < n; j++) {
		s->c[i].probes += k[j].probes;
		s->c[i].up += k[j].up;
		s->c[i].maint += k[j].maint;
	}
}

static void expect_counts(struct fixture *f, const int64_t *b, int nb)
{
	struct sums got;
	char err[256], name[16];

	memset(&got, 0, sizeof(got));
	assert_int_equal(store_q_counts(f->s, b, nb, sum_cb, &got, err, sizeof(err)), 0);
	for (int k = 0; k < NCHECKS; k++) {
		struct store_counts want;
		double pct;

		name_of(name, sizeof(name), k);
		assert_int_equal(uptime_of(f->s, name, b[0], b[nb - 1] == INT64_MAX ? 0 : b[nb - 1],
		                           &want, &pct),
		                 0);
		if (got.c[k].probes != want.probes || got.c[k].up != want.up ||
		    got.c[k].maint != want.maint)
			fail_msg(
			    "%s over [%lld, %lld) in %d ranges: %lld/%lld/%lld, store_q_uptime "
			    "%lld/%lld/%lld",
			    name, (long long)b[0], (long long)b[nb - 1], nb - 1,
			    (long long)got.c[k].probes, (long long)got.c[k].up,
			    (long long)got.c[k].maint, (long long)want.probes, (long long)want.up,
			    (long long)want.maint);
	}
}

static void test_counts(void **state)
{
	struct fixture *f = *state;
	int64_t B = f->base;
	char err[256];

	/* Raw only, roll-ups only, across the fold, open-ended; one range and several. */
	int64_t r1[] = {B - 5 * HOUR_MS - 123, B + 77};
	int64_t r2[] = {B - 20 * DAY_MS + 5 * MIN_MS, B - 10 * DAY_MS - 31 * MIN_MS};
	int64_t r3[] = {B - 4 * DAY_MS + 17, B - 2 * DAY_MS - 1000};
	int64_t r4[] = {B - 30 * DAY_MS + 999, B - 7 * DAY_MS, B - DAY_MS, B - HOUR_MS, INT64_MAX};
	int64_t r5[] = {B - 7 * DAY_MS - 1, B - 7 * DAY_MS + HOUR_MS, B + 3 * HOUR_MS};
	int64_t r6[] = {B - 40 * DAY_MS, B + 3 * DAY_MS};

	expect_counts(f, r1, 2);
	expect_counts(f, r2, 2);
	expect_counts(f, r3, 2);
	expect_counts(f, r4, 5);
	expect_counts(f, r5, 3);
	expect_counts(f, r6, 2);
	/* Bounds out of order, too few or too many. */
	int64_t bad[] = {B, B - 1};
	assert_int_equal(store_q_counts(f->s, bad, 2, sum_cb, NULL, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_q_counts(f->s, bad, 1, sum_cb, NULL, err, sizeof(err)), -1);
	int64_t many[STORE_COUNTS_MAX + 2] = {0};
	assert_int_equal(
	    store_q_counts(f->s, many, STORE_COUNTS_MAX + 2, sum_cb, NULL, err, sizeof(err)), -1);
}

/* Until the worker has answered past the stats it had: a build or a refresh. */
static void wait_answer(struct upcache *c, uint64_t done_before)
{
	struct upcache_stats st;

	for (int i = 0; i < 3000; i++) {
		const struct upcache_snap *s = upcache_acquire(c);

		upcache_release(c, s);
		upcache_stats(c, &st);
		assert_int_equal(st.failures, 0);
		if (st.builds + st.refreshes > done_before && s)
			return;
		usleep(10000);
	}
	fail_msg("the cache's worker did not answer within 30 s");
}

static void expect_figures(struct fixture *f, struct upcache *c, int64_t now)
{
	const struct upcache_snap *s = upcache_acquire(c);
	char name[16];

	assert_non_null(s);
	for (int k = 0; k < NCHECKS; k++) {
		double pct[UPCACHE_NWIN];

		name_of(name, sizeof(name), k);
		assert_int_equal(upcache_find(s, name, pct), 0);
		for (int w = 0; w < UPCACHE_NWIN; w++) {
			struct store_counts want;
			double wp;

			assert_int_equal(uptime_of(f->s, name, now - win_ms[w], 0, &want, &wp), 0);
			if (isnan(wp) ? !isnan(pct[w]) : pct[w] != wp)
				fail_msg("%s, window %d, at base %+lld ms: cache %.9f, store %.9f "
				         "(%lld/%lld)",
				         name, w, (long long)(now - f->base), pct[w], wp,
				         (long long)want.up, (long long)want.probes);
		}
	}
	/* A name the store never saw: nothing recorded. */
	double pct[UPCACHE_NWIN];
	assert_int_equal(upcache_find(s, "nope", pct), -1);
	assert_true(isnan(pct[0]) && isnan(pct[2]));
	upcache_release(c, s);
}

static void test_figures(void **state)
{
	struct fixture *f = *state;
	static const int64_t steps[] = {17 * MIN_MS, 50 * MIN_MS, 3 * HOUR_MS, 7 * HOUR_MS, 30000};
	struct upcache_stats st;
	struct upcache *c;
	char err[256];
	int64_t now = f->base;

	atomic_store(&test_now, now);
	upcache_test_hooks(test_clock, 0);
	c = upcache_start(f->path, NULL, err, sizeof(err));
	if (!c)
		fail_msg("upcache_start: %s", err);
	wait_answer(c, 0);
	expect_figures(f, c, now);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		upcache_stats(c, &st);
		now += steps[i];
		atomic_store(&test_now, now);
		/* Two answers: the first may come from a refresh begun before the step. */
		wait_answer(c, st.builds + st.refreshes + 1);
		/* The clock does not move while figures are compared; the worker may refresh. */
		expect_figures(f, c, now);
	}
	upcache_stats(c, &st);
	/* The first, and the one after the 7 h gap; the other steps went by the running sums. */
	assert_int_equal(st.builds, 2);
	assert_true(st.refreshes >= 4);
	assert_int_equal(st.checks, NCHECKS);
	upcache_stop(c);
	upcache_test_hooks(NULL, UPCACHE_TTL_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_figures, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
