/* SPDX-License-Identifier: ISC */
/*
 * test_format.c - `mailpulse check --format`: every field over a filled
 * result, the escapes, hostile server bytes, values that do not apply, and
 * the usage errors of a bad format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/format.h"

static struct check chk;
static struct result res;

/* 2024-04-01T00:00:00Z */
#define T_2024_04_01 1711929600

static void make_up(void)
{
	struct tls_facts *t = &res.tls;
	char err[128];

	check_defaults(&chk);
	assert_int_equal(target_parse(&chk.target, "imaps://mail.example.com", err, sizeof(err)),
	                 0);
	result_init(&res, 0);
	snprintf(res.address, sizeof(res.address), "192.0.2.10:993");
	res.phase_us[MP_PH_DNS] = 1234;
	res.phase_us[MP_PH_CONNECT] = 500;
	res.phase_us[MP_PH_TLS] = 9000;
	res.phase_us[MP_PH_GREETING] = 1611;
	res.phase_us[MP_PH_TOTAL] = 14000;
	res.ttg_us = 12345;
	snprintf(res.greeting, sizeof(res.greeting), "* OK Dovecot ready.");
	res.messages = 3;
	t->used = 1;
	snprintf(t->version, sizeof(t->version), "TLSv1.3");
	snprintf(t->cipher, sizeof(t->cipher), "TLS_AES_256_GCM_SHA384");
	t->verified = 1;
	t->chain_len = 1;
	snprintf(t->chain[0].subject, sizeof(t->chain[0].subject), "CN=mail.example.com");
	snprintf(t->chain[0].issuer, sizeof(t->chain[0].issuer), "CN=Example CA");
	t->chain[0].not_after = T_2024_04_01;
	t->days_left = 63;
}

/* fmt printed for (chk, res), in a heap string the caller frees. */
static char *render(const char *fmt)
{
	char err[256], *buf = NULL;
	size_t len;
	FILE *f;

	assert_int_equal(format_check(fmt, err, sizeof(err)), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	format_print(f, fmt, &chk, &res);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void expect(const char *fmt, const char *want)
{
	char *got = render(fmt);

	assert_string_equal(got, want);
	free(got);
}

static void test_fields_up(void **state)
{
	(void)state;
	make_up();
	expect("%{status} %{severity} %{reason} %{exit_code}", "up ok ok 0");
	expect("%{url}|%{host}|%{port}|%{address}",
	       "imaps://mail.example.com:993|mail.example.com|993|"
	       "192.0.2.10:993");
	expect("%{time_to_greeting_ms} %{time_total_ms}", "12.345 14.000");
	expect("%{time_dns_ms},%{time_connect_ms},%{time_tls_ms},%{time_greeting_ms}",
	       "1.234,0.500,9.000,1.611");
	expect("%{tls_version} %{tls_cipher}", "TLSv1.3 TLS_AES_256_GCM_SHA384");
	expect("%{cert_days_left} %{cert_not_after}", "63 2024-04-01T00:00:00Z");
	expect("%{leaf_not_after}", "2024-04-01T00:00:00Z");
	expect("%{cert_subject} / %{cert_issuer}", "CN=mail.example.com / CN=Example CA");
	expect("%{greeting} (%{messages})", "* OK Dovecot ready. (3)");
	expect("%{message}", "");
}

/*
 * An intermediate that expires before the leaf: the dates and day count
 * are the first to expire's, the names the leaf's (docs/json.md, "cert_not_after
 * and friends"), and %{leaf_not_after} is the leaf's own date.
 */
static void test_first_to_expire(void **state)
{
	struct tls_facts *t = &res.tls;

	(void)state;
	make_up();
	t->chain_len = 2;
	snprintf(t->chain[1].subject, sizeof(t->chain[1].subject), "CN=Example CA");
	snprintf(t->chain[1].issuer, sizeof(t->chain[1].issuer), "CN=Root");
	t->chain[1].not_after = T_2024_04_01 - 86400; /* a day before the leaf */
	t->earliest = 1;
	t->days_left = 62;
	expect("%{cert_days_left} %{cert_not_after}", "62 2024-03-31T00:00:00Z");
	expect("%{leaf_not_after}", "2024-04-01T00:00:00Z");
	expect("%{cert_subject}", "CN=mail.example.com");
	/* An index the chain does not hold is never read: the leaf stands in. */
	t->earliest = 7;
	expect("%{cert_not_after}", "2024-04-01T00:00:00Z");
	t->earliest = 0;
}

static void test_escapes(void **state)
{
	(void)state;
	make_up();
	expect("a\\tb\\nc\\\\d 100%% %{status}\\n", "a\tb\nc\\d 100% up\n");
	expect("", "");
	expect("plain text", "plain text");
	expect("%{status}%{status}", "upup");
}

/* Phases not reached and facts that do not exist print as nothing. */
static void test_absent(void **state)
{
	(void)state;
	check_defaults(&chk);
	char err[128];
	assert_int_equal(target_parse(&chk.target, "pop3://127.0.0.1:1", err, sizeof(err)), 0);
	result_init(&res, 0);
	result_fail(&res, MP_R_REFUSED, "connection refused");
	res.phase_us[MP_PH_TOTAL] = 700;
	expect("[%{status}|%{severity}|%{reason}|%{exit_code}|%{message}]",
	       "[down|critical|refused|2|connection refused]");
	expect("[%{time_to_greeting_ms}|%{time_tls_ms}|%{time_total_ms}]", "[||0.700]");
	expect("[%{tls_version}|%{tls_cipher}|%{cert_days_left}|%{cert_not_after}|%{cert_subject}]",
	       "[||||]");
	expect("[%{leaf_not_after}]", "[]");
	expect("[%{greeting}|%{messages}|%{warnings}]", "[||]");
}

static void test_degraded_critical_and_warnings(void **state)
{
	(void)state;
	make_up();
	res.tls.days_left = -2;
	result_critical(&res, MP_R_CERT_EXPIRING, "certificate expires in 5 days");
	result_warn(&res, "plaintext login offered");
	result_warn(&res, "second finding");
	expect("%{status}/%{severity}/%{exit_code}/%{reason}", "degraded/critical/2/cert_expiring");
	expect("%{cert_days_left}", "-2");
	expect("%{warnings}", "plaintext login offered; second finding");
}

/* Bytes a server chose never reach the output raw. */
static void test_hostile(void **state)
{
	(void)state;
	make_up();
	snprintf(res.greeting, sizeof(res.greeting), "* OK \x1b[31mred\r\nX");
	snprintf(res.message, sizeof(res.message), "bad \x07 bell \xff");
	snprintf(res.tls.chain[0].subject, sizeof(res.tls.chain[0].subject), "CN=a\nb");
	expect("%{greeting}", "* OK \\x1b[31mred\\x0d\\x0aX");
	expect("%{message}", "bad \\x07 bell \\xff");
	expect("%{cert_subject}", "CN=a\\x0ab");
}

static void bad(const char *fmt, const char *want_in_err)
{
	char err[512];

	assert_int_equal(format_check(fmt, err, sizeof(err)), -1);
	if (!strstr(err, want_in_err))
		fail_msg("format \"%s\": error \"%s\" lacks \"%s\"", fmt, err, want_in_err);
	assert_non_null(strstr(err, "--format"));
}

static void test_errors(void **state)
{
	(void)state;
	bad("%{statuss}", "unknown field %{statuss} at character 1");
	bad("x %{time_foo_ms}", "unknown field %{time_foo_ms} at character 3");
	bad("%{time__ms}", "unknown field %{time__ms}");
	bad("%{}", "unknown field %{}");
	bad("%{status", "no closing '}'");
	bad("100%", "a '%' at character 4");
	bad("%d", "a '%' at character 1");
	bad("a\\q", "unknown escape \"\\\\q\" at character 2");
	bad("a\\", "unknown escape");
	/* A hostile field name is shown escaped and cut. */
	bad("%{\x1b[2J}", "unknown field %{\\x1b[2J}");
	bad("%{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}", "...");
	/* Every field in the help text is known. */
	char err[256];
	assert_int_equal(
	    format_check("%{status}%{severity}%{reason}%{message}%{exit_code}%{url}%{host}"
	                 "%{port}%{address}%{greeting}%{warnings}%{messages}"
	                 "%{time_to_greeting_ms}%{time_dns_ms}%{time_connect_ms}%{time_tls_ms}"
	                 "%{time_greeting_ms}%{time_capability_ms}%{time_starttls_ms}"
	                 "%{time_login_ms}%{time_mailbox_ms}%{time_total_ms}%{tls_version}"
	                 "%{tls_cipher}%{cert_days_left}%{cert_not_after}%{cert_subject}"
	                 "%{cert_issuer}%{leaf_not_after}",
	                 err, sizeof(err)),
	    0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields_up),
	    cmocka_unit_test(test_first_to_expire),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_absent),
	    cmocka_unit_test(test_degraded_critical_and_warnings),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
