/* SPDX-License-Identifier: ISC */
/*
 * test_duration.c - the one duration parser: units, compounds, bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "spec/duration.h"

#define DAY 86400000LL

static int64_t ok(const char *s)
{
	int64_t ms = -1;

	assert_int_equal(duration_parse(s, 1000 * DAY, &ms), 0);
	return ms;
}

static void test_units(void **unused)
{
	(void)unused;
	assert_int_equal(ok("500ms"), 500);
	assert_int_equal(ok("30s"), 30000);
	assert_int_equal(ok("5m"), 300000);
	assert_int_equal(ok("1h"), 3600000);
	assert_int_equal(ok("2d"), 2 * DAY);
	assert_int_equal(ok("1w"), 7 * DAY);
	assert_int_equal(ok("0s"), 0);
}

static void test_compounds(void **unused)
{
	(void)unused;
	assert_int_equal(ok("1m30s"), 90000);
	assert_int_equal(ok("1h30m"), 5400000);
	/* "ms" is milliseconds, never minutes then "s". */
	assert_int_equal(ok("1m500ms"), 60500);
	assert_int_equal(ok("1s1ms"), 1001);
}

static void test_refused(void **unused)
{
	static const char *const bad[] = {
	    "", "30", "1.5m", "m", "5x", "5 m", "-5m", "5mins", "1h30", "30s ", "9999999999s",
	};
	int64_t ms = 42;

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(duration_parse(bad[i], 1000 * DAY, &ms), -1);
		assert_int_equal(ms, 42); /* untouched on failure */
	}
	assert_int_equal(duration_parse(NULL, DAY, &ms), -1);
}

static void test_bounds(void **unused)
{
	int64_t ms = 0;

	(void)unused;
	assert_int_equal(duration_parse("24h", DAY, &ms), 0);
	assert_int_equal(ms, DAY);
	assert_int_equal(duration_parse("24h1ms", DAY, &ms), -1);
	assert_int_equal(duration_parse("999999999w", 1000 * DAY, &ms), -1);
	/* Many parts may not add up past the bound either. */
	assert_int_equal(duration_parse("500d500d1ms", 1000 * DAY, &ms), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_compounds),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
