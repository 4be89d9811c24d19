/* SPDX-License-Identifier: ISC */
/*
 * test_sched.c - the scheduler's pure arithmetic: how wide a batch of
 * first runs is spread. The timers themselves are tested end to end with
 * the daemon (tests/daemon: schedule, spread) and measured in bench/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "monitor/sched.h"

static void test_small_batches_start_within_seconds(void **state)
{
	(void)state;
	assert_int_equal(sched_first_spread_ms(0), 1); /* never a zero window */
	assert_int_equal(sched_first_spread_ms(1), 10);
	assert_int_equal(sched_first_spread_ms(300), 3000);
	assert_int_equal(sched_first_spread_ms(1000), 10000);
	assert_int_equal(sched_first_spread_ms(20000), 10000);
}

static void test_large_batches_are_rate_limited(void **state)
{
	(void)state;
	/* At most 2 000 first probes per second, whatever the batch. */
	assert_int_equal(sched_first_spread_ms(20001), 10001);
	assert_int_equal(sched_first_spread_ms(30000), 15000);
	assert_int_equal(sched_first_spread_ms(100000), 50000);
	for (unsigned n = 1; n <= 2000000; n = n * 3 + 1) {
		unsigned ms = sched_first_spread_ms(n);
		assert_true((uint64_t)n * 1000 <= (uint64_t)ms * 2000 || ms == 10 * n);
		assert_true(ms >= (n * 10 < 10000 ? n * 10 : 10000));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_batches_start_within_seconds),
	    cmocka_unit_test(test_large_batches_are_rate_limited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
