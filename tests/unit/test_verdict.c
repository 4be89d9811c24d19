/* SPDX-License-Identifier: ISC */
/*
 * test_verdict.c - per-location states -> the check's state: one location
 * is that location's state; several need a quorum to be down, are partial
 * below it and unknown when too few healthy locations reported recently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "monitor/verdict.h"

#define NOW   1000000
#define STALE 90000

/* A healthy location that reported at now - ago, at level since since. */
static struct verdict_loc loc(int level, int64_t since, int64_t ago)
{
	struct verdict_loc l = {
	    .level = level,
	    .reason = level == 3  ? MP_R_TIMEOUT
	              : level > 0 ? MP_R_SLOW
	                          : MP_R_OK,
	    .since_ms = since,
	    .confirmed = 2,
	    .last_ms = NOW - ago,
	    .healthy = 1,
	};
	return l;
}

static void test_one_location_is_its_state(void **unused)
{
	(void)unused;
	for (int level = 0; level <= 3; level++) {
		struct verdict_loc l = loc(level, 500 + level, 0);
		struct verdict v = verdict(&l, 1, 1, NOW, STALE);
		assert_int_equal(v.level, level);
		assert_int_equal(v.status, level == 3   ? VERDICT_DOWN
		                           : level == 0 ? VERDICT_UP
		                                        : VERDICT_DEGRADED);
		assert_int_equal(v.since_ms, 500 + level);
		assert_int_equal(v.reason, l.reason);
		assert_int_equal(v.confirmed, 2);
	}
	/* Quorum 0 is taken as 1. */
	struct verdict_loc d = loc(3, 7, 0);
	assert_int_equal(verdict(&d, 1, 0, NOW, STALE).status, VERDICT_DOWN);
}

static void test_pending_until_a_location_confirms(void **unused)
{
	struct verdict_loc l[2] = {loc(-1, 0, 0), loc(-1, 0, 0)};
	(void)unused;

	l[1].last_ms = 0; /* never reported */
	assert_int_equal(verdict(l, 2, 1, NOW, STALE).status, VERDICT_PENDING);
	assert_int_equal(verdict(l, 0, 1, NOW, STALE).status, VERDICT_PENDING);
	assert_int_equal(verdict(l, 2, 1, NOW, STALE).level, -1);
	/* Pending is not unknown: once one confirmed, a stale one is unknown. */
	l[0] = loc(0, 1, STALE + 1);
	assert_int_equal(verdict(l, 2, 1, NOW, STALE).status, VERDICT_UNKNOWN);
}

static void test_down_needs_the_quorum(void **unused)
{
	struct verdict_loc l[3] = {loc(3, 300, 0), loc(0, 10, 0), loc(0, 10, 0)};
	struct verdict v;
	(void)unused;

	v = verdict(l, 3, 2, NOW, STALE);
	assert_int_equal(v.status, VERDICT_PARTIAL);
	assert_int_equal(v.down, 1);
	assert_int_equal(v.counted, 3);
	assert_int_equal(v.level, -1);

	l[2] = loc(3, 200, 0);
	l[2].reason = MP_R_REFUSED;
	v = verdict(l, 3, 2, NOW, STALE);
	assert_int_equal(v.status, VERDICT_DOWN);
	assert_int_equal(v.level, 3);
	/* Down since the second location saw it: the quorum was reached then. */
	assert_int_equal(v.since_ms, 300);
	assert_int_equal(v.reason, MP_R_TIMEOUT);
	assert_int_equal(v.down, 2);

	/* The same start at both: a stable pick, still the quorum's start. */
	l[0].since_ms = 200;
	v = verdict(l, 3, 2, NOW, STALE);
	assert_int_equal(v.status, VERDICT_DOWN);
	assert_int_equal(v.since_ms, 200);
	assert_int_equal(verdict(l, 3, 1, NOW, STALE).since_ms, 200);
}

static void test_unhealthy_and_stale_locations_do_not_count(void **unused)
{
	struct verdict_loc l[3] = {loc(3, 100, 0), loc(3, 100, 0), loc(0, 10, 0)};
	struct verdict v;
	(void)unused;

	l[1].healthy = 0; /* its node is broken: its "down" is no evidence */
	v = verdict(l, 3, 2, NOW, STALE);
	assert_int_equal(v.status, VERDICT_PARTIAL);
	assert_int_equal(v.counted, 2);

	l[2].last_ms = NOW - STALE - 1; /* silent too long */
	v = verdict(l, 3, 2, NOW, STALE);
	assert_int_equal(v.status, VERDICT_UNKNOWN);
	assert_int_equal(v.counted, 1);
	assert_int_equal(v.level, -1);

	/* Exactly at the bound still counts. */
	l[2].last_ms = NOW - STALE;
	assert_int_equal(verdict(l, 3, 2, NOW, STALE).status, VERDICT_PARTIAL);

	/* Too few to confirm, even when all that count say up. */
	struct verdict_loc up[2] = {loc(0, 1, 0), loc(0, 1, STALE * 2)};
	assert_int_equal(verdict(up, 2, 2, NOW, STALE).status, VERDICT_UNKNOWN);
	assert_int_equal(verdict(up, 2, 1, NOW, STALE).status, VERDICT_UP);
}

static void test_worst_of_the_working_locations(void **unused)
{
	struct verdict_loc l[3] = {loc(0, 10, 0), loc(2, 400, 0), loc(1, 300, 0)};
	struct verdict v;
	(void)unused;

	v = verdict(l, 3, 2, NOW, STALE);
	assert_int_equal(v.status, VERDICT_DEGRADED);
	assert_int_equal(v.level, 2);
	assert_int_equal(v.since_ms, 400);
	l[1] = loc(0, 10, 0);
	l[2] = loc(0, 20, 0);
	v = verdict(l, 3, 2, NOW, STALE);
	assert_int_equal(v.status, VERDICT_UP);
	assert_int_equal(v.level, 0);
	assert_string_equal(verdict_status_name(VERDICT_PARTIAL), "partial");
	assert_string_equal(verdict_status_name(VERDICT_PENDING), "pending");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_location_is_its_state),
	    cmocka_unit_test(test_pending_until_a_location_confirms),
	    cmocka_unit_test(test_down_needs_the_quorum),
	    cmocka_unit_test(test_unhealthy_and_stale_locations_do_not_count),
	    cmocka_unit_test(test_worst_of_the_working_locations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
