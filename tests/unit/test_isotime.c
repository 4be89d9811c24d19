/* SPDX-License-Identifier: ISC */
/*
 * test_isotime.c - the one ISO 8601 reader (config windows, --since, API
 * from/to): forms, zones, real dates, and what is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "spec/isotime.h"

#define T_DEC1 1796162400000LL /* 2026-12-01T22:00:00Z */

static int64_t ok(const char *s, int flags)
{
	int64_t ms = -1;

	if (isotime_parse(s, flags, &ms) != 0)
		fail_msg("refused: %s", s);
	return ms;
}

static void bad(const char *s, int flags)
{
	int64_t ms = 42;

	if (isotime_parse(s, flags, &ms) == 0)
		fail_msg("accepted: %s", s);
	assert_int_equal(ms, 42); /* untouched on refusal */
}

static void test_forms(void **unused)
{
	(void)unused;
	assert_int_equal(ok("2026-12-01T22:00:00Z", 0), T_DEC1);
	assert_int_equal(ok("2026-12-01t22:00z", 0), T_DEC1);
	assert_int_equal(ok("2026-12-01 22:00:00", 0), T_DEC1); /* no zone: UTC */
	assert_int_equal(ok("2026-12-01", 0), T_DEC1 - 22 * 3600000LL);
	assert_int_equal(ok("2026-12-01T22:00:00.5Z", 0), T_DEC1 + 500);
	assert_int_equal(ok("2026-12-01T22:00:00,123456Z", 0), T_DEC1 + 123);
	assert_int_equal(ok("2026-12-01T22:00:60Z", 0), T_DEC1 + 60000); /* leap second */
	assert_int_equal(ok("1970-01-01T00:00:00Z", 0), 0);
	assert_int_equal(ok("1969-12-31T23:59:59Z", 0), -1000);
}

static void test_zones(void **unused)
{
	(void)unused;
	assert_int_equal(ok("2026-12-01T23:00:00+01:00", 0), T_DEC1);
	assert_int_equal(ok("2026-12-01T23:00:00+0100", 0), T_DEC1);
	assert_int_equal(ok("2026-12-01T23:00:00+01", 0), T_DEC1);
	assert_int_equal(ok("2026-12-01T16:30:00-05:30", 0), T_DEC1);
	bad("2026-12-01T22:00:00+01:", 0);
	bad("2026-12-01T22:00:00+1", 0);
	bad("2026-12-01T22:00:00+24:00", 0);
	bad("2026-12-01T22:00:00+01:60", 0);
	bad("2026-12-01T22:00:00UTC", 0);
}

static void test_real_dates_only(void **unused)
{
	(void)unused;
	assert_int_equal(ok("2024-02-29", 0), 1709164800000LL);
	assert_int_equal(ok("2000-02-29", 0), 951782400000LL);
	bad("2026-02-29", 0);
	bad("1900-02-29", 0);
	bad("2026-04-31", 0);
	bad("2026-13-01", 0);
	bad("2026-00-10", 0);
	bad("2026-12-00", 0);
	bad("2026-12-01T24:00Z", 0);
	bad("2026-12-01T22:60Z", 0);
	bad("2026-12-01T22:00:61Z", 0);
}

static void test_malformed(void **unused)
{
	(void)unused;
	bad("", 0);
	bad("2026", 0);
	bad("26-12-01", 0);
	bad("2026-1-01", 0);
	bad("2026-12-01T22", 0);
	bad("2026-12-01T22:00:0", 0);
	bad("2026-12-01T22:00:00.Z", 0);
	bad("2026-12-01T22:00:00Z ", 0);
	bad("2026-12-01x", 0);
	bad("+2026-12-01", 0);
	bad("１９７０-01-01", 0); /* digits are ASCII only */
}

static void test_zone_required(void **unused)
{
	(void)unused;
	assert_int_equal(ok("2026-12-01T22:00Z", ISOTIME_NEED_ZONE), T_DEC1);
	assert_int_equal(ok("2026-12-01T23:00+01:00", ISOTIME_NEED_ZONE), T_DEC1);
	bad("2026-12-01T22:00:00", ISOTIME_NEED_ZONE);
	bad("2026-12-01", ISOTIME_NEED_ZONE);
}

static void test_days_from_civil(void **unused)
{
	(void)unused;
	assert_int_equal(isotime_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(isotime_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(isotime_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(isotime_days_from_civil(9999, 12, 31), 2932896);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),           cmocka_unit_test(test_zones),
	    cmocka_unit_test(test_real_dates_only), cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_zone_required),   cmocka_unit_test(test_days_from_civil),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
