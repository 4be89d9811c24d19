/* SPDX-License-Identifier: ISC */
/*
 * test_result.c - the rules of the result vocabulary and of the run that
 * builds it: a result only gets worse, the first cause stands, final
 * freezes it, phases accumulate, the path is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/result.h"
#include "core/run.h"

static void test_init(void **state)
{
	struct result r;

	(void)state;
	memset(&r, 0x5a, sizeof(r));
	result_init(&r, 1234);
	assert_int_equal(r.status, MP_UP);
	assert_int_equal(r.reason, MP_R_OK);
	assert_string_equal(r.message, "");
	assert_string_equal(r.path, "");
	for (int i = 0; i < MP_PH__COUNT; i++)
		assert_int_equal(r.phase_us[i], -1);
	assert_int_equal(r.ttg_us, -1);
	assert_int_equal(r.messages, -1);
	assert_int_equal(r.nwarnings, 0);
	assert_int_equal(r.tls.used, 0);
	assert_int_equal(r.tls.verify_depth, -1);
	assert_string_equal(r.greeting, "");
	assert_string_equal(r.capabilities, "");

	struct run u;
	memset(&u, 0x5a, sizeof(u));
	run_init(&u, &r, 1234);
	assert_ptr_equal(u.r, &r);
	assert_int_equal(u.final, 0);
	assert_int_equal(u.start_us, 1234);
	assert_int_equal(u.mark_us, 1234);
	assert_string_equal(u.at, "start");
	assert_null(u.trace);
}

static void test_worsen_only_down(void **state)
{
	struct result r;

	(void)state;
	result_init(&r, 0);
	result_worsen(&r, MP_DEGRADED, MP_R_SLOW, "slow: %d ms", 900);
	assert_int_equal(r.status, MP_DEGRADED);
	assert_int_equal(r.reason, MP_R_SLOW);
	assert_string_equal(r.message, "slow: 900 ms");

	/* Same severity: the first cause stands. */
	result_worsen(&r, MP_DEGRADED, MP_R_CERT_EXPIRING, "expiring");
	assert_int_equal(r.reason, MP_R_SLOW);
	assert_string_equal(r.message, "slow: 900 ms");

	/* Better: ignored. */
	result_worsen(&r, MP_UP, MP_R_OK, "fine");
	assert_int_equal(r.status, MP_DEGRADED);

	result_fail(&r, MP_R_AUTH_FAILED, "login failed: %s", "no");
	assert_int_equal(r.status, MP_DOWN);
	assert_int_equal(r.reason, MP_R_AUTH_FAILED);
	assert_string_equal(r.message, "login failed: no");

	result_fail(&r, MP_R_MAILBOX_ERROR, "second failure");
	assert_int_equal(r.reason, MP_R_AUTH_FAILED);

	/* Our side failing is worse still: we cannot judge the server. */
	result_worsen(&r, MP_UNKNOWN, MP_R_INTERNAL, "oom");
	assert_int_equal(r.status, MP_UNKNOWN);
	assert_int_equal(r.reason, MP_R_INTERNAL);
}

static void test_final_freezes(void **state)
{
	struct result r;
	struct run u;

	(void)state;
	result_init(&r, 0);
	run_init(&u, &r, 0);
	run_fail(&u, MP_R_AUTH_FAILED, "login failed");
	u.final = 1;
	run_fail(&u, MP_R_CLOSED, "closed after the verdict");
	run_worsen(&u, MP_UNKNOWN, MP_R_INTERNAL, "out of memory after the verdict");
	assert_int_equal(r.status, MP_DOWN);
	assert_int_equal(r.reason, MP_R_AUTH_FAILED);
	assert_string_equal(r.message, "login failed");

	/* Before the verdict is final, the run's rules are the result's. */
	result_init(&r, 0);
	run_init(&u, &r, 0);
	run_worsen(&u, MP_DEGRADED, MP_R_SLOW, "slow");
	run_fail(&u, MP_R_CLOSED, "closed");
	assert_int_equal(r.reason, MP_R_CLOSED);
	u.final = 1;
	run_worsen(&u, MP_DEGRADED, MP_R_SLOW, "slow again");
	assert_string_equal(r.message, "closed");
}

static void test_message_truncated(void **state)
{
	struct result r;
	char big[RESULT_MSG_MAX * 2];

	(void)state;
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	result_init(&r, 0);
	result_fail(&r, MP_R_PROTOCOL_ERROR, "%s", big);
	assert_int_equal(strlen(r.message), RESULT_MSG_MAX - 1);
}

static void test_warnings_capped(void **state)
{
	struct result r;

	(void)state;
	result_init(&r, 0);
	for (int i = 0; i < RESULT_WARN_MAX + 3; i++)
		result_warn(&r, "warning %d", i);
	assert_int_equal(r.nwarnings, RESULT_WARN_MAX);
	assert_string_equal(r.warnings[0], "warning 0");
	assert_string_equal(r.warnings[RESULT_WARN_MAX - 1], "warning 3");
	/* Warnings never change the status. */
	assert_int_equal(r.status, MP_UP);

	char big[RESULT_WARN_LEN * 2];
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	result_init(&r, 0);
	result_warn(&r, "%s", big);
	assert_int_equal(strlen(r.warnings[0]), RESULT_WARN_LEN - 1);
}

static void test_phases(void **state)
{
	struct result r;
	struct run u;

	(void)state;
	result_init(&r, 0);
	run_init(&u, &r, 1000);
	run_phase(&u, MP_PH_CONNECT, 1500);
	assert_int_equal(r.phase_us[MP_PH_CONNECT], 500);
	assert_int_equal(u.mark_us, 1500);
	run_phase(&u, MP_PH_CAPABILITY, 1700);
	run_mark(&u, 5000); /* an idle gap: charged to nothing */
	run_phase(&u, MP_PH_CAPABILITY, 5300);
	assert_int_equal(r.phase_us[MP_PH_CAPABILITY], 500);
	assert_int_equal(r.phase_us[MP_PH_GREETING], -1);
	/* A clock that goes backwards charges nothing rather than a negative time. */
	run_phase(&u, MP_PH_LOGIN, 100);
	assert_int_equal(r.phase_us[MP_PH_LOGIN], 0);
	assert_int_equal(u.mark_us, 100);
	assert_int_equal(u.start_us, 1000);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(result_status_name(MP_UP), "up");
	assert_string_equal(result_status_name(MP_DEGRADED), "degraded");
	assert_string_equal(result_status_name(MP_DOWN), "down");
	assert_string_equal(result_status_name(MP_UNKNOWN), "unknown");
	assert_string_equal(result_status_name((enum mp_status)42), "unknown");
	assert_string_equal(result_reason_name(MP_R_OK), "ok");
	assert_string_equal(result_reason_name(MP_R_STARTTLS_INJECTION), "starttls_injection");
	assert_string_equal(result_reason_name(MP_R__COUNT), "internal");
	assert_string_equal(result_phase_name(MP_PH_GREETING), "greeting");
	assert_string_equal(result_phase_name(MP_PH_TOTAL), "total");
	assert_string_equal(result_phase_name(MP_PH__COUNT), "?");
}

/* Every reason has its own name and parses back to itself: the JSON schema relies on it. */
static void test_reason_roundtrip(void **state)
{
	(void)state;
	for (int i = 0; i < MP_R__COUNT; i++) {
		const char *n = result_reason_name((enum mp_reason)i);
		assert_non_null(n);
		assert_true(strlen(n) > 0);
		assert_int_equal(result_reason_parse(n), i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, result_reason_name((enum mp_reason)j));
	}
	assert_int_equal(result_reason_parse("no_such_reason"), -1);
	assert_int_equal(result_reason_parse(""), -1);
	for (int i = 0; i < MP_PH__COUNT; i++)
		assert_string_not_equal(result_phase_name((enum mp_phase)i), "?");
}

/*
 * The names are the contract (JSON, store rows, alert routes): every one,
 * in layer order. A rename fails here; a new reason is added here too.
 */
static void test_reason_names_contract(void **state)
{
	static const char *const names[] = {
	    "ok",
	    "internal",
	    "dns",
	    "refused",
	    "unreachable",
	    "timeout",
	    "reset",
	    "closed",
	    "tls_handshake",
	    "tls_version",
	    "cert_expired",
	    "cert_not_yet_valid",
	    "cert_untrusted",
	    "cert_hostname",
	    "cert_incomplete_chain",
	    "no_tls",
	    "greeting_mismatch",
	    "refused_by_server",
	    "line_too_long",
	    "protocol_error",
	    "starttls_unavailable",
	    "starttls_refused",
	    "starttls_injection",
	    "capability_missing",
	    "plaintext_auth",
	    "login_disabled",
	    "login_delay",
	    "auth_failed",
	    "mailbox_error",
	    "mailbox_in_use",
	    "slow",
	    "cert_expiring",
	};

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), MP_R__COUNT);
	for (int i = 0; i < MP_R__COUNT; i++)
		assert_string_equal(result_reason_name((enum mp_reason)i), names[i]);
	assert_int_equal(result_reason_parse("login_delay"), MP_R_LOGIN_DELAY);
	assert_int_equal(result_reason_parse("mailbox_in_use"), MP_R_MAILBOX_IN_USE);
	assert_int_equal(result_reason_parse("login_disabled"), MP_R_LOGIN_DISABLED);
	assert_int_equal(result_reason_parse("no_tls"), MP_R_NO_TLS);
}

/* Capabilities: one escaped entry per line, each cut, the list cut with a last "...". */
static void test_caps_set(void **state)
{
	struct result r;
	static char buf[8192];
	size_t off[256], o = 0;
	int n = 0;

	(void)state;
	result_init(&r, 0);
	result_caps_set(&r, buf, off, 0);
	assert_string_equal(r.capabilities, "");

	memcpy(buf, "SASL PLAIN LOGIN\0X-CTL\x01\n\0", 25);
	off[0] = 0;
	off[1] = 17;
	result_caps_set(&r, buf, off, 2);
	assert_string_equal(r.capabilities, "SASL PLAIN LOGIN\nX-CTL\\x01\\n");

	/* One long entry: cut to RESULT_CAP_SHOW - 1 with "...". */
	memset(buf, 'L', 1000);
	buf[1000] = '\0';
	off[0] = 0;
	result_caps_set(&r, buf, off, 1);
	assert_int_equal(strlen(r.capabilities), RESULT_CAP_SHOW - 1);
	assert_string_equal(r.capabilities + RESULT_CAP_SHOW - 4, "...");

	/* 200 entries of 9 characters: 1800 bytes; as many as fit, then "...". */
	for (n = 0; n < 200; n++) {
		off[n] = o;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "CAP-%05d", n) + 1;
	}
	result_caps_set(&r, buf, off, n);
	size_t len = strlen(r.capabilities);
	assert_true(len <= RESULT_CAPS_MAX - 1);
	assert_true(len > RESULT_CAPS_MAX - 1 - 10);
	assert_string_equal(r.capabilities + len - 4, "\n...");
	assert_true(strncmp(r.capabilities, "CAP-00000\nCAP-00001\n", 20) == 0);

	/* All that fits is shown whole, without a marker: 102 entries and 101 newlines. */
	result_caps_set(&r, buf, off, 102);
	assert_int_equal(strlen(r.capabilities), 102 * 9 + 101);
	assert_null(strstr(r.capabilities, "..."));
	result_caps_set(&r, buf, off, 103);
	assert_non_null(strstr(r.capabilities, "\n..."));
}

/* Names joined with '>'; a path that would overflow ends in ">..." and never cuts a name. */
static void test_path(void **state)
{
	struct result r;
	char want[RESULT_PATH_MAX];
	int i;

	(void)state;
	result_init(&r, 0);
	assert_string_equal(r.path, "");
	result_path_add(&r, "dns");
	result_path_add(&r, "connect");
	assert_string_equal(r.path, "dns>connect");
	/* 9 + 10 * 9 = 99 would not fit in 95: names while ">..." still fits after them. */
	result_init(&r, 0);
	result_path_add(&r, "greeting");
	for (i = 0; i < 10; i++)
		result_path_add(&r, "starttls");
	snprintf(want, sizeof(want), "greeting");
	for (i = 0; i < 9; i++)
		strcat(want, ">starttls");
	strcat(want, ">...");
	assert_string_equal(r.path, want);
	assert_true(strlen(r.path) < RESULT_PATH_MAX);
	/* Once cut, it stays cut: a short name does not slip in after the mark. */
	result_path_add(&r, "tls");
	assert_string_equal(r.path, want);
	/* Exactly full: a name fits when ">..." still fits after it. */
	result_init(&r, 0);
	memset(want, 'a', RESULT_PATH_MAX - 5);
	want[RESULT_PATH_MAX - 5] = '\0';
	result_path_add(&r, want);
	assert_string_equal(r.path, want);
	result_path_add(&r, "b");
	assert_int_equal(strlen(r.path), RESULT_PATH_MAX - 1);
	assert_string_equal(r.path + RESULT_PATH_MAX - 5, ">...");
}

static void test_clock_monotonic(void **state)
{
	(void)state;
	int64_t a = mp_now_us();
	int64_t b = mp_now_us();
	assert_true(a > 0);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init),
	    cmocka_unit_test(test_worsen_only_down),
	    cmocka_unit_test(test_final_freezes),
	    cmocka_unit_test(test_message_truncated),
	    cmocka_unit_test(test_warnings_capped),
	    cmocka_unit_test(test_phases),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_reason_roundtrip),
	    cmocka_unit_test(test_reason_names_contract),
	    cmocka_unit_test(test_caps_set),
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_clock_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
