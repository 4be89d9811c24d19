/* SPDX-License-Identifier: ISC */
/*
 * test_state.c - confirmation, incidents and alerts of struct check_state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "monitor/state.h"

/* Feed one result at time t (ms) with fail_after 2, recover_after 1 unless told. */
static struct state_change feed(struct check_state *st, enum mp_status s, int64_t t)
{
	return state_on_result(st, s, result_default_severity(s),
	                       s == MP_UP ? MP_R_OK : MP_R_TIMEOUT, 2, 1, t);
}

static void test_pending_then_up_without_alert(void **unused)
{
	struct check_state st;
	(void)unused;

	state_init(&st, 0);
	assert_int_equal(st.status, MP_UNKNOWN);
	assert_string_equal(state_status_name(st.status), "pending");
	struct state_change ch = feed(&st, MP_UP, 10);
	assert_true(ch.changed);
	assert_int_equal(ch.to, MP_UP);
	assert_int_equal(ch.alert, STATE_ALERT_NONE);
	assert_int_equal(st.since_ms, 10);
}

static void test_down_needs_confirmation_and_opens_incident(void **unused)
{
	struct check_state st;
	(void)unused;

	state_init(&st, 0);
	feed(&st, MP_UP, 0);
	struct state_change ch = feed(&st, MP_DOWN, 1000);
	assert_false(ch.changed);
	assert_true(ch.confirming);
	ch = feed(&st, MP_DOWN, 2000);
	assert_true(ch.changed);
	/* The outage began at the first failing probe, confirmed by the second. */
	assert_int_equal(ch.since_ms, 1000);
	assert_int_equal(ch.confirmed, 2);
	assert_int_equal(st.incident_start_ms, 1000);
	assert_int_equal(st.since_ms, 1000);
	assert_int_equal(ch.from, MP_UP);
	assert_int_equal(ch.to, MP_DOWN);
	assert_int_equal(ch.reason, MP_R_TIMEOUT);
	assert_true(ch.incident_opened);
	assert_int_equal(ch.alert, STATE_ALERT_DOWN);
	assert_false(ch.confirming);
	/* Staying down changes nothing and alerts nobody again. */
	ch = feed(&st, MP_DOWN, 3000);
	assert_false(ch.changed);
	assert_int_equal(ch.alert, STATE_ALERT_NONE);
	/* Recovery closes the incident with its duration. */
	ch = feed(&st, MP_UP, 62000);
	assert_true(ch.changed);
	assert_true(ch.incident_closed);
	assert_int_equal(ch.incident_ms, 61000);
	assert_int_equal(ch.alert, STATE_ALERT_RECOVERY);
	assert_int_equal(st.status, MP_UP);
}

static void test_flap_does_not_alert(void **unused)
{
	struct check_state st;
	(void)unused;

	state_init(&st, 0);
	feed(&st, MP_UP, 0);
	for (int i = 0; i < 10; i++) {
		struct state_change a = feed(&st, MP_DOWN, 1000 * i);
		struct state_change b = feed(&st, MP_UP, 1000 * i + 500);
		assert_false(a.changed);
		assert_false(b.changed);
	}
	assert_int_equal(st.status, MP_UP);
}

static void test_recover_after_m(void **unused)
{
	struct check_state st;
	(void)unused;

	state_init(&st, 0);
	state_on_result(&st, MP_DOWN, result_default_severity(MP_DOWN), MP_R_REFUSED, 1, 3, 0);
	assert_int_equal(st.status, MP_DOWN);
	struct state_change ch =
	    state_on_result(&st, MP_UP, result_default_severity(MP_UP), MP_R_OK, 1, 3, 1);
	assert_false(ch.changed);
	assert_true(ch.confirming);
	state_on_result(&st, MP_UP, result_default_severity(MP_UP), MP_R_OK, 1, 3, 2);
	ch = state_on_result(&st, MP_UP, result_default_severity(MP_UP), MP_R_OK, 1, 3, 3);
	assert_true(ch.changed);
	assert_int_equal(st.status, MP_UP);
}

static void test_degraded_and_back(void **unused)
{
	struct check_state st;
	(void)unused;

	state_init(&st, 0);
	feed(&st, MP_UP, 0);
	struct state_change ch = state_on_result(
	    &st, MP_DEGRADED, result_default_severity(MP_DEGRADED), MP_R_SLOW, 2, 1, 1);
	assert_false(ch.changed);
	ch = state_on_result(&st, MP_DEGRADED, result_default_severity(MP_DEGRADED), MP_R_SLOW, 2,
	                     1, 2);
	assert_true(ch.changed);
	assert_int_equal(ch.to, MP_DEGRADED);
	assert_int_equal(ch.alert, STATE_ALERT_DEGRADED);
	assert_false(ch.incident_opened);
	/* Degraded then down: the down is confirmed on its own count. */
	ch = feed(&st, MP_DOWN, 3);
	assert_false(ch.changed);
	ch = feed(&st, MP_DOWN, 4);
	assert_int_equal(ch.to, MP_DOWN);
	assert_true(ch.incident_opened);
	/* Down -> degraded: a recovery of the incident, still degraded. */
	ch = state_on_result(&st, MP_DEGRADED, result_default_severity(MP_DEGRADED), MP_R_SLOW, 2,
	                     1, 5);
	assert_int_equal(ch.to, MP_DEGRADED);
	assert_true(ch.incident_closed);
	assert_int_equal(ch.alert, STATE_ALERT_RECOVERY);
	ch = feed(&st, MP_UP, 6);
	assert_int_equal(ch.to, MP_UP);
	assert_int_equal(ch.alert, STATE_ALERT_RECOVERY);
}

static void test_unknown_is_no_evidence(void **unused)
{
	struct check_state st;
	(void)unused;

	state_init(&st, 0);
	feed(&st, MP_UP, 0);
	feed(&st, MP_DOWN, 1);
	struct state_change ch = state_on_result(
	    &st, MP_UNKNOWN, result_default_severity(MP_UNKNOWN), MP_R_INTERNAL, 2, 1, 2);
	assert_false(ch.changed);
	ch = feed(&st, MP_DOWN, 3);
	assert_true(ch.changed); /* the two downs around the unknown still count */
}

/* Pending is "no verdict yet", apart from unknown; a first verdict ends it. */
static void test_pending_is_explicit(void **unused)
{
	struct check_state st;
	(void)unused;

	state_init(&st, 0);
	assert_true(st.pending);
	assert_int_equal(state_level(&st), -1);
	assert_string_equal(state_name(&st), "pending");
	/* Our side failing is no verdict: still pending. */
	state_on_result(&st, MP_UNKNOWN, MP_SEV_UNKNOWN, MP_R_INTERNAL, 1, 1, 5);
	assert_true(st.pending);
	feed(&st, MP_UP, 10);
	assert_false(st.pending);
	assert_int_equal(state_level(&st), 0);
	assert_string_equal(state_name(&st), "up");
	/* Resumed from the store: pending only when the store had no verdict. */
	state_resume(&st, MP_UNKNOWN, MP_SEV_UNKNOWN, MP_R_OK, 20, 0, 0);
	assert_true(st.pending);
	state_resume(&st, MP_DOWN, MP_SEV_CRITICAL, MP_R_REFUSED, 30, 1, 30);
	assert_false(st.pending);
	assert_int_equal(state_level(&st), 3);
	/* Not pending, yet nothing confirmed: unknown, and said so. */
	st.status = MP_UNKNOWN;
	assert_int_equal(state_level(&st), -1);
	assert_string_equal(state_name(&st), "unknown");
}

/* A verdict over locations moves the state with the same incident and alert rules. */
static void test_move_by_verdict(void **unused)
{
	struct check_state st;
	struct state_change ch;
	(void)unused;

	state_init(&st, 0);
	ch = state_move(&st, 0, MP_R_OK, 10, 1, 10);
	assert_true(ch.changed);
	assert_int_equal(ch.alert, STATE_ALERT_NONE); /* pending -> up pages nobody */
	ch = state_move(&st, 0, MP_R_OK, 20, 1, 20);
	assert_false(ch.changed); /* the level it has */
	ch = state_move(&st, 2, MP_R_SLOW, 30, 2, 40);
	assert_int_equal(ch.alert, STATE_ALERT_DEGRADED);
	assert_int_equal(st.severity, MP_SEV_CRITICAL);
	assert_int_equal(ch.since_ms, 30);
	assert_int_equal(ch.confirmed, 2);
	ch = state_move(&st, 3, MP_R_TIMEOUT, 50, 3, 60);
	assert_int_equal(ch.alert, STATE_ALERT_DOWN);
	assert_true(ch.incident_opened);
	assert_int_equal(st.incident_start_ms, 50);
	ch = state_move(&st, 0, MP_R_OK, 80, 1, 80);
	assert_int_equal(ch.alert, STATE_ALERT_RECOVERY);
	assert_true(ch.incident_closed);
	assert_int_equal(ch.incident_ms, 30);
	ch = state_move(&st, 7, MP_R_OK, 90, 1, 90);
	assert_false(ch.changed); /* no such level */
}

static void test_reminders_and_resume(void **unused)
{
	struct check_state st;
	(void)unused;

	state_init(&st, 0);
	state_on_result(&st, MP_DOWN, result_default_severity(MP_DOWN), MP_R_REFUSED, 1, 1, 1000);
	assert_false(state_reminder_due(&st, 0, 999999));
	assert_false(state_reminder_due(&st, 60000, 60999));
	assert_true(state_reminder_due(&st, 60000, 61000));
	state_reminded(&st, 61000);
	assert_false(state_reminder_due(&st, 60000, 62000));

	/* A restart resumes down with its incident: the next down is no new alert. */
	struct check_state r;
	state_init(&r, 0);
	state_resume(&r, MP_DOWN, MP_SEV_CRITICAL, MP_R_REFUSED, 5000, 1, 4000);
	struct state_change ch = state_on_result(&r, MP_DOWN, result_default_severity(MP_DOWN),
	                                         MP_R_REFUSED, 2, 1, 6000);
	assert_false(ch.changed);
	assert_int_equal(ch.alert, STATE_ALERT_NONE);
	ch = state_on_result(&r, MP_UP, result_default_severity(MP_UP), MP_R_OK, 2, 1, 9000);
	assert_true(ch.incident_closed);
	assert_int_equal(ch.incident_ms, 5000); /* from the stored start of the incident */
}

static struct state_change feed_sev(struct check_state *st, enum mp_status s, enum mp_severity sev,
                                    int64_t t)
{
	return state_on_result(st, s, sev, MP_R_CERT_EXPIRING, 2, 2, t);
}

/*
 * A certificate inside its critical window: the admin is alerted at
 * critical, but users still connect, so no incident and the status is not
 * down. Warning to critical alerts again; critical easing to warning does not.
 */
static void test_critical_while_working(void **unused)
{
	struct check_state st;
	struct state_change ch;
	(void)unused;

	state_init(&st, 0);
	feed_sev(&st, MP_UP, MP_SEV_OK, 0);
	ch = feed_sev(&st, MP_DEGRADED, MP_SEV_WARNING, 10);
	assert_false(ch.changed);
	assert_true(ch.confirming);
	ch = feed_sev(&st, MP_DEGRADED, MP_SEV_WARNING, 20);
	assert_true(ch.changed);
	assert_int_equal(ch.alert, STATE_ALERT_DEGRADED);
	assert_int_equal(ch.to_severity, MP_SEV_WARNING);
	assert_int_equal(ch.since_ms, 10);
	assert_false(state_reminder_due(&st, 60000, 1000000)); /* warnings do not nag */

	ch = feed_sev(&st, MP_DEGRADED, MP_SEV_CRITICAL, 30);
	assert_false(ch.changed);
	ch = feed_sev(&st, MP_DEGRADED, MP_SEV_CRITICAL, 40);
	assert_true(ch.changed);
	assert_int_equal(ch.to, MP_DEGRADED);
	assert_int_equal(ch.to_severity, MP_SEV_CRITICAL);
	assert_int_equal(ch.alert, STATE_ALERT_DEGRADED);
	assert_int_equal(ch.since_ms, 30);
	assert_false(ch.incident_opened);
	assert_false(st.incident_open);
	assert_true(state_reminder_due(&st, 60000, 40 + 60000));

	/* Eases to warning after recover_after results: no page for that. */
	feed_sev(&st, MP_DEGRADED, MP_SEV_WARNING, 50);
	ch = feed_sev(&st, MP_DEGRADED, MP_SEV_WARNING, 60);
	assert_true(ch.changed);
	assert_int_equal(ch.to_severity, MP_SEV_WARNING);
	assert_int_equal(ch.alert, STATE_ALERT_NONE);

	/* Up from pending straight to critical: one alert, at critical. */
	state_init(&st, 0);
	feed_sev(&st, MP_DEGRADED, MP_SEV_CRITICAL, 0);
	ch = feed_sev(&st, MP_DEGRADED, MP_SEV_CRITICAL, 10);
	assert_int_equal(ch.to_severity, MP_SEV_CRITICAL);
	assert_int_equal(ch.alert, STATE_ALERT_DEGRADED);
	/* Back to up: a recovery, with no incident to close. */
	feed_sev(&st, MP_UP, MP_SEV_OK, 20);
	ch = feed_sev(&st, MP_UP, MP_SEV_OK, 30);
	assert_int_equal(ch.to, MP_UP);
	assert_int_equal(ch.alert, STATE_ALERT_RECOVERY);
	assert_false(ch.incident_closed);
	assert_int_equal(ch.since_ms, 20);
}

/* A warning then a critical result reach warning together (fail_after 2); the critical waits. */
static void test_mixed_streak_takes_the_level_all_reached(void **unused)
{
	struct check_state st;
	struct state_change ch;
	(void)unused;

	state_init(&st, 0);
	feed_sev(&st, MP_UP, MP_SEV_OK, 0);
	feed_sev(&st, MP_DEGRADED, MP_SEV_WARNING, 10);
	ch = feed_sev(&st, MP_DEGRADED, MP_SEV_CRITICAL, 20);
	assert_true(ch.changed);
	assert_int_equal(ch.to_severity, MP_SEV_WARNING);
	assert_true(ch.confirming); /* one critical of two */
	ch = feed_sev(&st, MP_DEGRADED, MP_SEV_CRITICAL, 30);
	assert_int_equal(ch.to_severity, MP_SEV_CRITICAL);
	assert_int_equal(ch.since_ms, 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pending_then_up_without_alert),
	    cmocka_unit_test(test_down_needs_confirmation_and_opens_incident),
	    cmocka_unit_test(test_flap_does_not_alert),
	    cmocka_unit_test(test_recover_after_m),
	    cmocka_unit_test(test_degraded_and_back),
	    cmocka_unit_test(test_unknown_is_no_evidence),
	    cmocka_unit_test(test_pending_is_explicit),
	    cmocka_unit_test(test_move_by_verdict),
	    cmocka_unit_test(test_reminders_and_resume),
	    cmocka_unit_test(test_critical_while_working),
	    cmocka_unit_test(test_mixed_streak_takes_the_level_all_reached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
