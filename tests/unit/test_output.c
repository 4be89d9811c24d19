/* SPDX-License-Identifier: ISC */
/*
 * test_output.c - the JSON schema, the Nagios line and the human line,
 * from hand-filled results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/output.h"

/* Run fn into a memory buffer; the caller frees the returned string. */
#define CAPTURE(buf, call)                                                                         \
	do {                                                                                       \
		size_t len_;                                                                       \
		FILE *f = open_memstream(&(buf), &len_);                                           \
		assert_non_null(f);                                                                \
		call;                                                                              \
		fclose(f);                                                                         \
	} while (0)

static struct check chk;
static struct result res;

static void make_check(const char *url)
{
	char err[128];

	check_defaults(&chk);
	assert_int_equal(target_parse(&chk.target, url, err, sizeof(err)), 0);
}

/* 2024-01-01T00:00:00Z and 2024-04-01T00:00:00Z */
#define T_2024_01_01 1704067200
#define T_2024_04_01 1711929600

static void make_up(void)
{
	struct tls_facts *t = &res.tls;

	make_check("imaps://mail.example.com");
	chk.warn_ms = 500;
	chk.crit_ms = 2000;
	result_init(&res, 0);
	snprintf(res.address, sizeof(res.address), "192.0.2.10:993");
	res.phase_us[MP_PH_DNS] = 1234;
	res.phase_us[MP_PH_CONNECT] = 500;
	res.phase_us[MP_PH_TLS] = 9000;
	res.phase_us[MP_PH_GREETING] = 1611;
	res.phase_us[MP_PH_CAPABILITY] = 700;
	res.phase_us[MP_PH_TOTAL] = 14000;
	res.ttg_us = 12345;
	snprintf(res.greeting, sizeof(res.greeting), "* OK [CAPABILITY IMAP4rev1] Dovecot ready.");
	snprintf(res.capabilities, sizeof(res.capabilities), "IMAP4rev1\nIDLE\n\nAUTH=PLAIN");
	result_warn(&res, "server offers AUTH=PLAIN in the clear (before TLS)");
	res.messages = 42;

	t->used = 1;
	snprintf(t->version, sizeof(t->version), "TLSv1.3");
	snprintf(t->cipher, sizeof(t->cipher), "TLS_AES_256_GCM_SHA384");
	t->verified = 1;
	snprintf(t->sans, sizeof(t->sans), "mail.example.com, imap.example.com");
	t->chain_len = 2;
	snprintf(t->chain[0].subject, RESULT_NAME_MAX, "CN=mail.example.com");
	snprintf(t->chain[0].issuer, RESULT_NAME_MAX, "CN=Example CA");
	t->chain[0].not_before = T_2024_01_01;
	t->chain[0].not_after = T_2024_04_01;
	snprintf(t->chain[0].sha256, 65, "%064d", 1);
	snprintf(t->chain[1].subject, RESULT_NAME_MAX, "CN=Example CA");
	snprintf(t->chain[1].issuer, RESULT_NAME_MAX, "CN=Example Root");
	t->chain[1].not_before = T_2024_01_01;
	t->chain[1].not_after = T_2024_01_01 + 86400;
	snprintf(t->chain[1].sha256, 65, "%064d", 2);
	t->earliest = 1;
	t->days_left = 63;
}

static void make_down(void)
{
	make_check("imap://h");
	result_init(&res, 0);
	res.phase_us[MP_PH_DNS] = 100;
	res.phase_us[MP_PH_CONNECT] = 200;
	res.phase_us[MP_PH_TOTAL] = 30000000;
	snprintf(res.address, sizeof(res.address), "[2001:db8::1]:143");
	result_fail(&res, MP_R_TIMEOUT, "no greeting within 30.0 s (waiting for greeting)");
	res.naddrs = 2;
	snprintf(res.addrs[0].address, RESULT_ADDRSTR, "[2001:db8::1]:143");
	res.addrs[0].status = MP_DOWN;
	res.addrs[0].severity = MP_SEV_CRITICAL;
	res.addrs[0].reason = MP_R_TIMEOUT;
	snprintf(res.addrs[0].message, sizeof(res.addrs[0].message), "no greeting within 30.0 s");
	res.addrs[0].greeting_us = -1;
	res.addrs[0].total_us = 30000000;
	snprintf(res.addrs[1].address, RESULT_ADDRSTR, "192.0.2.1:143");
	res.addrs[1].status = MP_UP;
	res.addrs[1].reason = MP_R_OK;
	res.addrs[1].greeting_us = 2500;
	res.addrs[1].total_us = 3000;
}

static json_t *json_roundtrip(void)
{
	char *buf = NULL;
	json_error_t e;
	json_t *j;

	CAPTURE(buf, assert_int_equal(output_json_line(f, &chk, &res), 0));
	/* One line: exactly one newline, at the end. */
	assert_non_null(strchr(buf, '\n'));
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
	j = json_loads(buf, 0, &e);
	if (!j)
		fail_msg("invalid JSON (%s): %s", e.text, buf);
	free(buf);
	return j;
}

static void assert_real(json_t *o, const char *key, double want)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		fail_msg("%s is not a number", key);
	if (json_number_value(v) < want - 1e-9 || json_number_value(v) > want + 1e-9)
		fail_msg("%s = %f, want %f", key, json_number_value(v), want);
}

static void assert_null_key(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_null(v))
		fail_msg("%s is not null", key);
}

static void assert_str(json_t *o, const char *key, const char *want)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("%s is not a string", key);
	assert_string_equal(json_string_value(v), want);
}

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(output_exit_code(MP_SEV_OK), 0);
	assert_int_equal(output_exit_code(MP_SEV_WARNING), 1);
	assert_int_equal(output_exit_code(MP_SEV_CRITICAL), 2);
	assert_int_equal(output_exit_code(MP_SEV_UNKNOWN), 3);
	/* critical > warning > unknown > ok */
	assert_int_equal(output_worse(MP_SEV_OK, MP_SEV_UNKNOWN), MP_SEV_UNKNOWN);
	assert_int_equal(output_worse(MP_SEV_UNKNOWN, MP_SEV_WARNING), MP_SEV_WARNING);
	assert_int_equal(output_worse(MP_SEV_WARNING, MP_SEV_UNKNOWN), MP_SEV_WARNING);
	assert_int_equal(output_worse(MP_SEV_CRITICAL, MP_SEV_WARNING), MP_SEV_CRITICAL);
	assert_int_equal(output_worse(MP_SEV_UNKNOWN, MP_SEV_CRITICAL), MP_SEV_CRITICAL);
	assert_int_equal(output_worse(MP_SEV_OK, MP_SEV_OK), MP_SEV_OK);
}

static void test_json_up(void **state)
{
	json_t *j, *tm, *caps, *tls, *chain, *c1;

	(void)state;
	make_up();
	j = json_roundtrip();
	assert_int_equal(json_object_size(j), 21); /* 14, "path", and the six of version 0.2 */
	assert_str(j, "target", "imaps://mail.example.com:993");
	assert_str(j, "status", "up");
	assert_str(j, "severity", "ok");
	assert_str(j, "reason", "ok");
	assert_str(j, "message", "");
	tm = json_object_get(j, "timings_ms");
	assert_true(json_is_object(tm));
	assert_int_equal(json_object_size(tm), 9);
	assert_real(tm, "dns", 1.234);
	assert_real(tm, "connect", 0.5);
	assert_real(tm, "tls", 9.0);
	assert_real(tm, "greeting", 1.611);
	assert_real(tm, "capability", 0.7);
	assert_null_key(tm, "starttls");
	assert_null_key(tm, "login");
	assert_null_key(tm, "mailbox");
	assert_real(tm, "total", 14.0);
	assert_real(j, "time_to_greeting_ms", 12.345);
	assert_str(j, "address", "192.0.2.10:993");
	assert_str(j, "greeting", "* OK [CAPABILITY IMAP4rev1] Dovecot ready.");
	caps = json_object_get(j, "capabilities");
	assert_true(json_is_array(caps));
	assert_int_equal(json_array_size(caps), 3);
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "IMAP4rev1");
	assert_string_equal(json_string_value(json_array_get(caps, 1)), "IDLE");
	assert_string_equal(json_string_value(json_array_get(caps, 2)), "AUTH=PLAIN");
	assert_int_equal(json_array_size(json_object_get(j, "warnings")), 1);
	assert_true(json_is_integer(json_object_get(j, "messages")));
	assert_int_equal(json_integer_value(json_object_get(j, "messages")), 42);
	assert_null_key(j, "addresses");

	tls = json_object_get(j, "tls");
	assert_true(json_is_object(tls));
	assert_int_equal(json_object_size(tls), 18); /* 14 and the four of version 0.2 */
	assert_str(tls, "version", "TLSv1.3");
	assert_str(tls, "cipher", "TLS_AES_256_GCM_SHA384");
	assert_true(json_is_true(json_object_get(tls, "verified")));
	assert_true(json_is_false(json_object_get(tls, "verify_reused")));
	assert_null_key(tls, "verify_error");
	assert_str(tls, "subject", "CN=mail.example.com");
	assert_str(tls, "issuer", "CN=Example CA");
	assert_int_equal(json_array_size(json_object_get(tls, "sans")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(tls, "sans"), 1)),
	                    "imap.example.com");
	assert_str(tls, "not_before", "2024-01-01T00:00:00Z");
	assert_str(tls, "not_after", "2024-04-01T00:00:00Z");
	assert_true(json_is_integer(json_object_get(tls, "days_left")));
	assert_int_equal(json_integer_value(json_object_get(tls, "days_left")), 63);
	assert_str(tls, "sha256",
	           "0000000000000000000000000000000000000000000000000000000000000001");
	assert_str(tls, "expires_first", "CN=Example CA");
	chain = json_object_get(tls, "chain");
	assert_int_equal(json_array_size(chain), 2);
	c1 = json_array_get(chain, 1);
	assert_int_equal(json_object_size(c1), 5);
	assert_str(c1, "subject", "CN=Example CA");
	assert_str(c1, "issuer", "CN=Example Root");
	assert_str(c1, "not_before", "2024-01-01T00:00:00Z");
	assert_str(c1, "not_after", "2024-01-02T00:00:00Z");
	assert_str(c1, "sha256",
	           "0000000000000000000000000000000000000000000000000000000000000002");
	json_decref(j);
}

static void test_json_down(void **state)
{
	json_t *j, *tm, *addrs, *a0, *a1;

	(void)state;
	make_down();
	j = json_roundtrip();
	assert_int_equal(json_object_size(j), 21); /* 14, "path", and the six of version 0.2 */
	assert_str(j, "target", "imap://h:143");
	assert_str(j, "status", "down");
	assert_str(j, "severity", "critical");
	assert_str(j, "reason", "timeout");
	assert_str(j, "message", "no greeting within 30.0 s (waiting for greeting)");
	tm = json_object_get(j, "timings_ms");
	assert_real(tm, "dns", 0.1);
	assert_real(tm, "connect", 0.2);
	assert_null_key(tm, "tls");
	assert_null_key(tm, "greeting");
	assert_real(tm, "total", 30000.0);
	assert_null_key(j, "time_to_greeting_ms");
	assert_null_key(j, "greeting");
	assert_true(json_is_array(json_object_get(j, "capabilities")));
	assert_int_equal(json_array_size(json_object_get(j, "capabilities")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "warnings")), 0);
	assert_null_key(j, "messages");
	assert_null_key(j, "tls");
	addrs = json_object_get(j, "addresses");
	assert_int_equal(json_array_size(addrs), 2);
	a0 = json_array_get(addrs, 0);
	a1 = json_array_get(addrs, 1);
	assert_int_equal(json_object_size(a0), 11); /* 7 and the four certificate facts */
	assert_str(a0, "address", "[2001:db8::1]:143");
	assert_str(a0, "status", "down");
	assert_str(a0, "severity", "critical");
	assert_str(a0, "reason", "timeout");
	assert_null_key(a0, "time_to_greeting_ms");
	assert_real(a0, "total_ms", 30000.0);
	assert_str(a1, "status", "up");
	assert_str(a1, "reason", "ok");
	assert_real(a1, "time_to_greeting_ms", 2.5);
	json_decref(j);

	/* No address reached: null, not "". */
	res.address[0] = '\0';
	j = output_json(&chk, &res);
	assert_null_key(j, "address");
	json_decref(j);
}

static void test_json_tls_failed(void **state)
{
	json_t *j, *tls;

	(void)state;
	make_up();
	result_fail(&res, MP_R_CERT_EXPIRED, "certificate has expired");
	res.tls.verified = 0;
	res.tls.verify_code = 10;
	snprintf(res.tls.verify_msg, sizeof(res.tls.verify_msg), "certificate has expired");
	j = output_json(&chk, &res);
	tls = json_object_get(j, "tls");
	assert_false(json_boolean_value(json_object_get(tls, "verified")));
	assert_true(json_is_false(json_object_get(tls, "verified")));
	assert_str(tls, "verify_error", "certificate has expired");
	json_decref(j);

	/* Handshake done, nothing served that we could read: no certificate fields. */
	res.tls.chain_len = 0;
	res.tls.sans[0] = '\0';
	j = output_json(&chk, &res);
	tls = json_object_get(j, "tls");
	assert_null_key(tls, "subject");
	assert_null_key(tls, "not_after");
	assert_null_key(tls, "days_left");
	assert_null_key(tls, "expires_first");
	assert_int_equal(json_array_size(json_object_get(tls, "chain")), 0);
	assert_int_equal(json_array_size(json_object_get(tls, "sans")), 0);
	json_decref(j);
}

/* Hostile bytes in certificate fields still give valid JSON and a clean terminal. */
static void test_hostile_strings(void **state)
{
	char *buf = NULL;
	json_t *j;

	(void)state;
	make_up();
	snprintf(res.tls.chain[0].subject, RESULT_NAME_MAX, "CN=evil\xff\x1b[31m");
	snprintf(res.greeting, sizeof(res.greeting), "* OK caf\xc3\xa9 | x");
	j = json_roundtrip();
	assert_str(json_object_get(j, "tls"), "subject", "CN=evil\\xff\\x1b[31m");
	/* Valid UTF-8 passes through JSON unchanged. */
	assert_str(j, "greeting", "* OK caf\xc3\xa9 | x");
	json_decref(j);

	CAPTURE(buf, output_human(f, &chk, &res, 1));
	assert_null(strchr(buf, '\x1b'));
	assert_null(strchr(buf, '\xff'));
	assert_non_null(strstr(buf, "CN=evil\\xff\\x1b[31m"));
	free(buf);

	/* A '|' from the server must not start Nagios perfdata early. */
	result_fail(&res, MP_R_GREETING_MISMATCH, "greeting lacks \"x\": * OK a|b=1");
	CAPTURE(buf, output_nagios(f, &chk, &res));
	assert_int_equal(strchr(buf, '|') - buf, strstr(buf, "|time=") - buf);
	assert_non_null(strstr(buf, "* OK a/b=1"));
	free(buf);
}

static void test_nagios_up(void **state)
{
	char *buf = NULL;

	(void)state;
	make_up();
	CAPTURE(buf, output_nagios(f, &chk, &res));
	assert_string_equal(buf, "IMAPS OK - mail.example.com:993 greeting in 0.012s, TLSv1.3, "
	                         "cert 63 days, 42 messages; warning: server offers AUTH=PLAIN "
	                         "in the clear (before TLS)"
	                         "|time=0.012345s;0.500;2.000;0 dns=0.001234s;;;0 "
	                         "connect=0.000500s;;;0 tls=0.009000s;;;0 greeting=0.001611s;;;0 "
	                         "capability=0.000700s;;;0 total=0.014000s;;;0 "
	                         "cert_days=63;14:;7:\n");
	free(buf);

	/* No thresholds: empty warn and crit fields. */
	chk.warn_ms = chk.crit_ms = 0;
	CAPTURE(buf, output_nagios_perf(f, &chk, &res, NULL));
	assert_true(strncmp(buf, "time=0.012345s;;;0 dns=", 23) == 0);
	free(buf);

	/* Several targets: labels quoted with the URL. */
	CAPTURE(buf, output_nagios_perf(f, &chk, &res, chk.target.url));
	assert_true(strncmp(buf, "'imaps://mail.example.com:993 time'=0.012345s;;;0 ", 50) == 0);
	assert_non_null(strstr(buf, " 'imaps://mail.example.com:993 cert_days'=63;14:;7:"));
	free(buf);
}

/* POP3 capabilities: one entry per CAPA line, arguments kept; plurals in the Nagios line. */
static void test_caps_lines(void **state)
{
	static const char lines[] =
	    "SASL PLAIN LOGIN\0EXPIRE NEVER\0IMPLEMENTATION Cyrus POP3 3.6.1";
	static const size_t off[] = {0, 17, 30};
	char *buf = NULL;
	json_t *j, *caps;

	(void)state;
	make_up();
	make_check("pop3s://mail.example.com");
	result_caps_set(&res, lines, off, 3);
	assert_string_equal(res.capabilities,
	                    "SASL PLAIN LOGIN\nEXPIRE NEVER\nIMPLEMENTATION Cyrus POP3 3.6.1");
	j = output_json(&chk, &res);
	assert_non_null(j);
	caps = json_object_get(j, "capabilities");
	assert_int_equal(json_array_size(caps), 3);
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "SASL PLAIN LOGIN");
	assert_string_equal(json_string_value(json_array_get(caps, 2)),
	                    "IMPLEMENTATION Cyrus POP3 3.6.1");
	json_decref(j);
	CAPTURE(buf, output_human(f, &chk, &res, 1));
	assert_non_null(strstr(buf, "\n  capabilities:      SASL PLAIN LOGIN, EXPIRE NEVER, "
	                            "IMPLEMENTATION Cyrus POP3 3.6.1\n"));
	free(buf);

	res.messages = 1;
	res.tls.days_left = 1;
	CAPTURE(buf, output_nagios_text(f, &chk, &res));
	assert_non_null(strstr(buf, ", cert 1 day, 1 message;"));
	free(buf);
}

static void test_nagios_states(void **state)
{
	char *buf = NULL;

	(void)state;
	make_down();
	CAPTURE(buf, output_nagios(f, &chk, &res));
	assert_string_equal(buf, "IMAP CRITICAL - h:143 timeout: no greeting within 30.0 s "
	                         "(waiting for greeting)|dns=0.000100s;;;0 connect=0.000200s;;;0 "
	                         "total=30.000000s;;;0\n");
	free(buf);

	make_check("pop3s://[::1]:995");
	result_init(&res, 0);
	result_worsen(&res, MP_UNKNOWN, MP_R_INTERNAL, "out of file descriptors");
	CAPTURE(buf, output_nagios_text(f, &chk, &res));
	assert_string_equal(buf, "POP3S UNKNOWN - [::1]:995 internal: out of file descriptors");
	free(buf);

	make_up();
	make_check("pop3://h");
	result_worsen(&res, MP_DEGRADED, MP_R_CERT_EXPIRING, "certificate expires in 5 days");
	CAPTURE(buf, output_nagios_text(f, &chk, &res));
	assert_true(strncmp(buf,
	                    "POP3 WARNING - h:110 cert_expiring: certificate expires in 5 days",
	                    62) == 0);
	free(buf);

	/* Critical, yet the service works: CRITICAL for the plugin, degraded for uptime. */
	make_up();
	make_check("pop3://h");
	result_critical(&res, MP_R_CERT_EXPIRING, "certificate expires in 5 days (< 7)");
	assert_int_equal(res.status, MP_DEGRADED);
	assert_int_equal(res.severity, MP_SEV_CRITICAL);
	CAPTURE(buf, output_nagios_text(f, &chk, &res));
	assert_true(
	    strncmp(buf, "POP3 CRITICAL - h:110 cert_expiring: certificate expires in 5", 61) == 0);
	free(buf);
	/* A later warning does not lower it; a later outage raises it to down. */
	result_worsen(&res, MP_DEGRADED, MP_R_PLAINTEXT_AUTH, "USER before TLS");
	assert_int_equal(res.reason, MP_R_CERT_EXPIRING);
	result_fail(&res, MP_R_AUTH_FAILED, "login refused");
	assert_int_equal(res.status, MP_DOWN);
	assert_int_equal(res.severity, MP_SEV_CRITICAL);
}

/* Several targets: the first line names the worst, whatever the order of the URLs. */
static void test_nagios_multi(void **state)
{
	struct check cs[3];
	struct result rr[3];
	const struct result *rs[3] = {&rr[0], &rr[1], &rr[2]};
	char *buf = NULL;

	(void)state;
	make_up();
	cs[0] = chk;
	rr[0] = res;
	make_check("pop3://h");
	cs[1] = chk;
	result_init(&rr[1], 0);
	result_fail(&rr[1], MP_R_REFUSED, "connection refused");
	rr[1].phase_us[MP_PH_TOTAL] = 1000;
	cs[2] = cs[0];
	rr[2] = rr[0];
	result_worsen(&rr[2], MP_DEGRADED, MP_R_SLOW, "greeting took 900 ms");
	CAPTURE(buf, output_nagios_multi(f, cs, rs, 3));
	assert_true(strncmp(buf,
	                    "MAIL CRITICAL - 3 checked: 1 critical, 1 warning, 1 ok; worst: POP3 "
	                    "CRITICAL - h:110 refused: connection refused\n",
	                    107) == 0);
	/* One line per target after it; every target's perfdata after the last one's '|'. */
	char *l2 = strchr(buf, '\n') + 1;
	assert_true(strncmp(l2, "IMAPS OK - ", 11) == 0);
	assert_non_null(strstr(buf, "\nPOP3 CRITICAL - h:110 refused"));
	char *bar = strchr(buf, '|');
	assert_non_null(bar);
	assert_true(bar > strstr(buf, "\nIMAPS WARNING - "));
	assert_non_null(strstr(bar, "'pop3://h:110 total'=0.001000s"));
	assert_non_null(strstr(bar, "'imaps://mail.example.com:993 time'="));
	free(buf);

	/* All fine: OK with counts and no "worst". */
	rs[1] = &rr[0];
	rs[2] = &rr[0];
	CAPTURE(buf, output_nagios_multi(f, cs, rs, 3));
	assert_true(strncmp(buf, "MAIL OK - 3 checked: 3 ok\n", 26) == 0);
	free(buf);
}

static void test_human(void **state)
{
	char *buf = NULL;

	(void)state;
	make_up();
	CAPTURE(buf, output_human(f, &chk, &res, 0));
	assert_string_equal(buf, "imaps://mail.example.com:993 UP 12.3 ms \xe2\x80\x94 TLSv1.3, "
	                         "cert 63 days left, 42 messages; warning: server offers "
	                         "AUTH=PLAIN in the clear (before TLS) (greeting: * OK "
	                         "[CAPABILITY IMAP4rev1] Dovecot ready.)\n");
	free(buf);

	CAPTURE(buf, output_human(f, &chk, &res, 1));
	assert_non_null(strstr(buf, "\n  address:           192.0.2.10:993\n"));
	assert_non_null(strstr(buf, "\n  tls                9.0 ms\n"));
	assert_non_null(strstr(buf, "\n  capabilities:      IMAP4rev1, IDLE, AUTH=PLAIN\n"));
	assert_non_null(strstr(buf, "\n  verification:      ok\n"));
	assert_non_null(strstr(buf, "\n  not after:         2024-04-01T00:00:00Z\n"));
	assert_non_null(strstr(buf, "(first to expire: CN=Example CA)"));
	assert_non_null(strstr(buf, "chain as served (2):"));
	assert_non_null(strstr(buf, "\n  messages:          42\n"));
	free(buf);

	make_down();
	CAPTURE(buf, output_human(f, &chk, &res, 0));
	assert_string_equal(buf, "imap://h:143 DOWN timeout \xe2\x80\x94 no greeting within 30.0 s "
	                         "(waiting for greeting)\n");
	free(buf);
	CAPTURE(buf, output_human(f, &chk, &res, 1));
	assert_non_null(strstr(buf, "  addresses:\n    [2001:db8::1]:143 DOWN timeout"));
	assert_non_null(strstr(buf, "\n    192.0.2.1:143 UP 2.5 ms\n"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_codes),      cmocka_unit_test(test_json_up),
	    cmocka_unit_test(test_json_down),       cmocka_unit_test(test_json_tls_failed),
	    cmocka_unit_test(test_hostile_strings), cmocka_unit_test(test_nagios_up),
	    cmocka_unit_test(test_nagios_states),   cmocka_unit_test(test_nagios_multi),
	    cmocka_unit_test(test_human),           cmocka_unit_test(test_caps_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
