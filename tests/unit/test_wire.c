/* SPDX-License-Identifier: ISC */
/*
 * test_wire.c - the one result encoder and its strict decoder: encoding
 * what was decoded gives the same text (hand-made results and thousands of
 * random ones), every refusal names its field, and what `mailpulse check
 * --json` prints against a fake server decodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wire/result_json.h"

#ifndef FAKESRV
#error "MAILPULSE, FAKESRV and CERTGEN come from tests/unit/CMakeLists.txt"
#endif

/* 2024-01-01T00:00:00Z and 2024-04-01T00:00:00Z */
#define T_2024_01_01 1704067200
#define T_2024_04_01 1711929600

static struct result res, back;
static struct result_meta meta, meta_back;

static void base(void)
{
	result_init(&res, 0);
	memset(&meta, 0, sizeof(meta));
	snprintf(meta.target, sizeof(meta.target), "imaps://mail.example.com:993");
}

static void cert(struct cert_facts *cf, const char *subject, const char *issuer, int64_t nb,
                 int64_t na, int fp)
{
	snprintf(cf->subject, sizeof(cf->subject), "%s", subject);
	snprintf(cf->issuer, sizeof(cf->issuer), "%s", issuer);
	cf->not_before = nb;
	cf->not_after = na;
	for (int i = 0; i < 64; i++)
		cf->sha256[i] = "0123456789abcdef"[(fp + i * 7) & 15];
	cf->sha256[64] = '\0';
}

/* Up over TLS with a three-certificate chain whose intermediate expires first. */
static void make_tls(void)
{
	struct tls_facts *t = &res.tls;

	base();
	snprintf(meta.check, sizeof(meta.check), "imap-main");
	snprintf(meta.location, sizeof(meta.location), "fra1");
	snprintf(meta.digest, sizeof(meta.digest), "%064x", 0xabc);
	meta.seq = 4711;
	res.probe_ms = 1764763200123LL;
	snprintf(res.address, sizeof(res.address), "192.0.2.10:993");
	snprintf(res.path, sizeof(res.path), "dns>connect>tls>greeting>capability>logout");
	for (int i = 0; i < MP_PH__COUNT; i++)
		res.phase_us[i] = i == MP_PH_STARTTLS ? -1 : 1000 * i + 7;
	res.phase_us[MP_PH_TOTAL] = 3599999999LL;
	res.ttg_us = 12345;
	snprintf(res.greeting, sizeof(res.greeting),
	         "* OK [CAPABILITY IMAP4rev1] \"Dovecot\" ready.");
	snprintf(res.capabilities, sizeof(res.capabilities),
	         "IMAP4rev1\nX-QUOTE=\"a\\\\b\"\n  IDLE  \n\ncaf\xc3\xa9\nAUTH=PLAIN");
	result_warn(&res, "server offers AUTH=PLAIN in the clear (before TLS)");
	result_warn(&res, "tab\there");
	result_warn(&res, "quote \" and backslash \\");
	result_warn(&res, "fourth");
	res.messages = 42;
	t->used = 1;
	snprintf(t->version, sizeof(t->version), "TLSv1.3");
	snprintf(t->cipher, sizeof(t->cipher), "TLS_AES_256_GCM_SHA384");
	t->verified = 1;
	t->verify_reused = 1;
	snprintf(t->sans, sizeof(t->sans), "DNS:mail.example.com, DNS:a,b, IP:192.0.2.10");
	t->chain_len = 3;
	cert(&t->chain[0], "CN=mail.example.com", "CN=Example CA", T_2024_01_01, T_2024_04_01, 1);
	cert(&t->chain[1], "CN=Example CA", "CN=Example Root", T_2024_01_01, T_2024_01_01 + 86400,
	     2);
	cert(&t->chain[2], "CN=Example Root", "CN=Example Root", -62167219200LL, 253402300799LL, 3);
	t->earliest = 1;
	t->days_left = -700;
	res.naddrs = 3;
	for (int i = 0; i < 3; i++) {
		struct addr_result *a = &res.addrs[i];

		snprintf(a->address, sizeof(a->address),
		         i == 2 ? "[2001:db8::%d]:993" : "192.0.2.%d:993", 10 + i);
		a->status = i == 1 ? MP_DOWN : MP_UP;
		a->severity = i == 1 ? MP_SEV_CRITICAL : MP_SEV_OK;
		a->reason = i == 1 ? MP_R_REFUSED : MP_R_OK;
		snprintf(a->message, sizeof(a->message), i == 1 ? "connection refused" : "");
		a->greeting_us = i == 1 ? -1 : 500 + i;
		a->total_us = 9000 + i;
		if (i != 1) {
			snprintf(a->cert_sha256, sizeof(a->cert_sha256), "%s", t->chain[0].sha256);
			a->cert_sha256[0] = i == 2 ? 'f' : a->cert_sha256[0];
			a->cert_not_after = T_2024_01_01 + 86400;
			a->cert_days_left = 12 - i;
			a->leaf_not_after = T_2024_04_01;
		}
	}
}

/* encode -> decode -> encode: the same text, and the decoder takes it. */
static char *round_trip(void)
{
	char err[256];
	char *s1 = result_json_dumps(&res, &meta), *s2;
	int rc;

	assert_non_null(s1);
	rc = result_json_decode(s1, strlen(s1), &back, &meta_back, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode of our own encoding failed: %s\n%s", err, s1);
	s2 = result_json_dumps(&back, &meta_back);
	assert_non_null(s2);
	assert_string_equal(s1, s2);
	free(s2);
	return s1;
}

static void test_round_trip_tls(void **state)
{
	(void)state;
	make_tls();
	char *s = round_trip();

	/* What travels came back as facts, not only as text. */
	assert_int_equal(back.status, MP_UP);
	assert_int_equal(back.probe_ms, 1764763200123LL);
	assert_string_equal(meta_back.check, "imap-main");
	assert_string_equal(meta_back.location, "fra1");
	assert_string_equal(meta_back.digest, meta.digest);
	assert_int_equal(meta_back.seq, 4711);
	assert_int_equal(back.tls.chain_len, 3);
	assert_int_equal(back.tls.earliest, 1);
	assert_int_equal(back.tls.days_left, -700);
	assert_int_equal(back.tls.chain[2].not_before, -62167219200LL);
	assert_int_equal(back.tls.chain[2].not_after, 253402300799LL);
	assert_int_equal(back.phase_us[MP_PH_TOTAL], 3599999999LL);
	assert_int_equal(back.phase_us[MP_PH_STARTTLS], -1);
	assert_int_equal(back.naddrs, 3);
	assert_string_equal(back.addrs[2].cert_sha256, res.addrs[2].cert_sha256);
	assert_int_equal(back.addrs[0].cert_not_after, T_2024_01_01 + 86400);
	assert_int_equal(back.addrs[0].leaf_not_after, T_2024_04_01);
	assert_int_equal(back.addrs[2].cert_days_left, 10);
	assert_string_equal(back.addrs[1].cert_sha256, "");
	assert_string_equal(back.capabilities,
	                    "IMAP4rev1\nX-QUOTE=\"a\\\\b\"\nIDLE\ncaf\xc3\xa9\nAUTH=PLAIN");
	assert_string_equal(back.warnings[2], "quote \" and backslash \\");
	/* The tab the encoder met is shown escaped, never raw. */
	assert_string_equal(back.warnings[1], "tab\\there");
	assert_string_equal(back.path, "dns>connect>tls>greeting>capability>logout");

	/* cert_not_after is the first to expire, leaf_not_after and not_after the leaf's. */
	json_t *o = json_loads(s, 0, NULL), *t = json_object_get(o, "tls");
	assert_string_equal(json_string_value(json_object_get(t, "cert_not_after")),
	                    "2024-01-02T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(t, "leaf_not_after")),
	                    "2024-04-01T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(t, "not_after")),
	                    "2024-04-01T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(t, "expires_first")),
	                    "CN=Example CA");
	assert_string_equal(json_string_value(json_object_get(o, "time")), "2025-12-03T12:00:00Z");
	json_t *sans = json_object_get(t, "sans");
	assert_int_equal(json_array_size(sans), 4);
	assert_string_equal(json_string_value(json_array_get(sans, 2)), "b");
	json_decref(o);
	free(s);
}

static void test_round_trip_failures(void **state)
{
	(void)state;
	/* A DNS failure: nothing reached, no TLS, no metadata at all. */
	base();
	result_fail(&res, MP_R_DNS, "cannot resolve mail.example.com: no such name");
	res.phase_us[MP_PH_DNS] = 20;
	res.phase_us[MP_PH_TOTAL] = 21;
	free(round_trip());
	assert_int_equal(back.status, MP_DOWN);
	assert_int_equal(back.reason, MP_R_DNS);
	assert_int_equal(back.probe_ms, 0);
	assert_int_equal(meta_back.seq, 0);
	assert_int_equal(back.tls.used, 0);
	assert_int_equal(back.naddrs, 0);
	assert_int_equal(back.messages, -1);

	/* Degraded and critical (a certificate inside --cert-crit). */
	make_tls();
	result_critical(&res, MP_R_CERT_EXPIRING, "certificate expires in 5 days");
	free(round_trip());
	assert_int_equal(back.status, MP_DEGRADED);
	assert_int_equal(back.severity, MP_SEV_CRITICAL);

	/* TLS without a readable certificate, and a failed verification. */
	base();
	res.probe_ms = 1;
	res.tls.used = 1;
	res.tls.verify_code = 20;
	res.tls.verify_depth = 1;
	snprintf(res.tls.verify_msg, sizeof(res.tls.verify_msg), "unable to get local issuer");
	result_fail(&res, MP_R_CERT_UNTRUSTED, "server sent no certificate");
	free(round_trip());
	assert_int_equal(back.tls.used, 1);
	assert_int_equal(back.tls.chain_len, 0);
	assert_int_equal(back.tls.verify_code, 20);
	assert_int_equal(back.tls.verify_depth, 1);

	/* Our side failed. */
	base();
	result_worsen(&res, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
	free(round_trip());
	assert_int_equal(back.severity, MP_SEV_UNKNOWN);
}

/* Strings the engine would have escaped, given raw to the encoder: it must still decode. */
static void test_round_trip_hostile_fields(void **state)
{
	(void)state;
	make_tls();
	snprintf(res.message, sizeof(res.message), "bell\a, esc\x1b, del\x7f, bad utf-8 \xff\xfe");
	memset(res.greeting, '"', sizeof(res.greeting) - 1);
	res.greeting[sizeof(res.greeting) - 1] = '\0';
	/* A long UTF-8 subject cut in the middle of a character. */
	memset(res.tls.chain[0].subject, 0, sizeof(res.tls.chain[0].subject));
	for (size_t i = 0; i + 2 < sizeof(res.tls.chain[0].subject); i += 2)
		memcpy(res.tls.chain[0].subject + i, "\xc3\xa9", 2);
	res.tls.chain[0].subject[sizeof(res.tls.chain[0].subject) - 2] = '\xc3';
	/* One capability far over an entry's size, and a list cut at the end. */
	memset(res.capabilities, 'A', sizeof(res.capabilities) - 1);
	res.capabilities[sizeof(res.capabilities) - 1] = '\0';
	res.capabilities[300] = '\n';
	res.capabilities[158] = ' '; /* where the entry is cut: no blank may end it */
	/* SANs whose commas (inside DNS names) make the list longer when joined again. */
	memset(res.tls.sans, ',', sizeof(res.tls.sans) - 1);
	for (size_t i = 0; i + 1 < sizeof(res.tls.sans); i += 2)
		res.tls.sans[i] = 'x';
	res.tls.sans[sizeof(res.tls.sans) - 1] = '\0';
	char *s = round_trip();
	assert_null(strchr(back.message, '\x1b'));
	assert_true(strlen(back.tls.chain[0].subject) < RESULT_NAME_MAX);
	free(s);
}

/* Every field at its longest, with bytes JSON must escape: the size cap leaves room. */
static void test_worst_case_size(void **state)
{
	(void)state;
	make_tls();
#define FILL(f) (memset((f), '\\', sizeof(f) - 1), (f)[sizeof(f) - 1] = '\0')
	FILL(res.message);
	FILL(res.greeting);
	FILL(res.address);
	FILL(meta.target);
	for (int i = 0; i < RESULT_WARN_MAX; i++)
		FILL(res.warnings[i]);
	FILL(res.tls.version);
	FILL(res.tls.cipher);
	FILL(res.tls.verify_msg);
	res.tls.verify_code = 1;
	/* Capabilities of one byte each: the most entries, the most quotes. */
	for (size_t i = 0; i + 1 < sizeof(res.capabilities); i += 2) {
		res.capabilities[i] = '\\';
		res.capabilities[i + 1] = '\n';
	}
	res.capabilities[sizeof(res.capabilities) - 1] = '\0';
	for (size_t i = 0; i + 1 < sizeof(res.tls.sans); i += 2) {
		res.tls.sans[i] = '\\';
		res.tls.sans[i + 1] = ',';
	}
	res.tls.sans[sizeof(res.tls.sans) - 1] = '\0';
	res.tls.chain_len = RESULT_CHAIN_MAX;
	for (int i = 0; i < RESULT_CHAIN_MAX; i++) {
		cert(&res.tls.chain[i], "", "", 0, 0, i);
		FILL(res.tls.chain[i].subject);
		FILL(res.tls.chain[i].issuer);
	}
	res.naddrs = RESULT_ADDR_MAX;
	for (int i = 0; i < RESULT_ADDR_MAX; i++) {
		res.addrs[i] = res.addrs[0];
		FILL(res.addrs[i].address);
		FILL(res.addrs[i].message);
	}
#undef FILL
	char *s1 = result_json_dumps(&res, &meta);
	assert_non_null(s1);
	/* The target is no URL here: only the size is in question. */
	assert_true(strlen(s1) < RESULT_JSON_MAX / 2);
	free(s1);
}

/* A small PRNG with a fixed seed: the same thousands of results on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void rnd_str(char *dst, size_t sz)
{
	static const char alpha[] = "abc XYZ,\n\t\"\\\x01\x7f\xc3\xa9\xff:=.-";
	size_t n = rnd() % 4 == 0 ? sz - 1 : rnd() % (sz < 40 ? sz : 40);

	for (size_t i = 0; i < n; i++)
		dst[i] = alpha[rnd() % (sizeof(alpha) - 1)];
	dst[n] = '\0';
}

/* Anywhere in years 0 to 9999, as a certificate may say. */
static int64_t rnd_date(void)
{
	uint64_t x = (uint64_t)rnd() << 32 | rnd();

	return (int64_t)(x % (253402300799ULL + 62167219200ULL + 1)) - 62167219200LL;
}

static int64_t rnd_us(void)
{
	return rnd() % 5 == 0 ? -1 : (int64_t)(rnd() % 4000000) * 1000 + rnd() % 1000;
}

static void test_round_trip_random(void **state)
{
	(void)state;
	for (int k = 0; k < 3000; k++) {
		base();
		res.status = (enum mp_status)(rnd() % 4);
		res.severity = result_default_severity(res.status);
		if (res.status == MP_DEGRADED && rnd() % 2)
			res.severity = MP_SEV_CRITICAL;
		res.reason =
		    res.status == MP_UP ? MP_R_OK : (enum mp_reason)(1 + rnd() % (MP_R__COUNT - 1));
		rnd_str(res.message, sizeof(res.message));
		rnd_str(res.greeting, sizeof(res.greeting));
		rnd_str(res.address, sizeof(res.address));
		rnd_str(res.capabilities, sizeof(res.capabilities));
		for (int i = 0; i < MP_PH__COUNT; i++)
			res.phase_us[i] = rnd_us();
		res.ttg_us = rnd_us();
		res.nwarnings = (int)(rnd() % (RESULT_WARN_MAX + 1));
		for (int i = 0; i < res.nwarnings; i++)
			rnd_str(res.warnings[i], RESULT_WARN_LEN);
		res.messages = rnd() % 3 ? (int64_t)rnd() : -1;
		res.probe_ms = rnd() % 3 ? (int64_t)rnd() * 1000 + rnd() % 1000 : 0;
		meta.seq = rnd() % 3 ? rnd() : 0;
		if (rnd() % 2)
			snprintf(meta.check, sizeof(meta.check), "check-%u", rnd());
		if (rnd() % 2)
			snprintf(meta.digest, sizeof(meta.digest), "%064x", rnd());
		res.tls.used = rnd() % 2;
		if (res.tls.used) {
			rnd_str(res.tls.version, sizeof(res.tls.version));
			rnd_str(res.tls.cipher, sizeof(res.tls.cipher));
			rnd_str(res.tls.sans, sizeof(res.tls.sans));
			res.tls.verify_code = rnd() % 2 ? (int)(rnd() % 80) : 0;
			res.tls.verify_depth = (int)(rnd() % 5) - 1;
			rnd_str(res.tls.verify_msg, sizeof(res.tls.verify_msg));
			res.tls.chain_len = (int)(rnd() % (RESULT_CHAIN_MAX + 1));
			for (int i = 0; i < res.tls.chain_len; i++) {
				struct cert_facts *cf = &res.tls.chain[i];

				cert(cf, "", "", rnd_date(), rnd_date(), (int)rnd());
				rnd_str(cf->subject, sizeof(cf->subject));
				rnd_str(cf->issuer, sizeof(cf->issuer));
			}
			res.tls.days_left = (int64_t)(rnd() % 20000) - 10000;
		}
		res.naddrs = (int)(rnd() % (RESULT_ADDR_MAX + 1));
		for (int i = 0; i < res.naddrs; i++) {
			struct addr_result *a = &res.addrs[i];

			a->status = (enum mp_status)(rnd() % 4);
			a->severity = result_default_severity(a->status);
			a->reason = a->status == MP_UP ? MP_R_OK : MP_R_TIMEOUT;
			rnd_str(a->address, sizeof(a->address));
			rnd_str(a->message, sizeof(a->message));
			a->greeting_us = rnd_us();
			a->total_us = rnd_us();
			if (rnd() % 2) {
				snprintf(a->cert_sha256, sizeof(a->cert_sha256), "%064x", rnd());
				a->cert_not_after = (int64_t)rnd();
				a->leaf_not_after = (int64_t)rnd();
				a->cert_days_left = (int64_t)(rnd() % 1000) - 500;
			}
		}
		free(round_trip());
	}
}

/* ---- refusals -------------------------------------------------------------- */

static json_t *good_json(void)
{
	make_tls();
	char *s = result_json_dumps(&res, &meta);
	json_t *o;

	assert_non_null(s);
	o = json_loads(s, 0, NULL);
	assert_non_null(o);
	free(s);
	return o;
}

static void expect_text(const char *buf, size_t len, const char *want)
{
	char err[256];

	assert_int_equal(result_json_decode(buf, len, &back, &meta_back, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

/* o dumped and decoded must be refused with an error containing want; takes o. */
static void expect_error(json_t *o, const char *want)
{
	char *s = json_dumps(o, JSON_COMPACT);

	assert_non_null(s);
	expect_text(s, strlen(s), want);
	free(s);
	json_decref(o);
}

static json_t *at(json_t *o, const char *path)
{
	char buf[64], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, ".", &save); p; p = strtok_r(NULL, ".", &save)) {
		char *br = strchr(p, '[');
		if (br) {
			*br = '\0';
			o = json_array_get(json_object_get(o, p), (size_t)atoi(br + 1));
		} else {
			o = json_object_get(o, p);
		}
		assert_non_null(o);
	}
	return o;
}

/* Set key (in the object at path, "" for the top) to v and expect want. */
static void set_expect(const char *path, const char *key, json_t *v, const char *want)
{
	json_t *o = good_json();

	assert_int_equal(json_object_set_new(*path ? at(o, path) : o, key, v), 0);
	expect_error(o, want);
}

static void test_refuse_text(void **state)
{
	(void)state;
	make_tls();
	char *s = result_json_dumps(&res, &meta);
	size_t n = strlen(s);

	/* Truncated anywhere: never a result. */
	for (size_t cut = 0; cut < n; cut += 97)
		expect_text(s, cut, "result: not JSON at byte");
	expect_text(s, n - 1, "not JSON");
	/* Trailing bytes after the object. */
	char *t = malloc(n + 3);
	assert_non_null(t);
	memcpy(t, s, n);
	memcpy(t + n, "{}", 3);
	expect_text(t, n + 2, "not JSON");
	free(t);
	free(s);

	char deep[64] = "{\"a\":[[[[1]]]]}";
	expect_text(deep, strlen(deep), "result: nested deeper than 4 levels at byte 8");
	/* Brackets inside strings are no nesting. */
	const char *str = "{\"x\":\"[[[[[[[[\"}";
	expect_text(str, strlen(str), "target: missing");

	size_t big = RESULT_JSON_MAX + 1;
	char *huge = malloc(big);
	assert_non_null(huge);
	memset(huge, ' ', big);
	expect_text(huge, big, "result: 65537 bytes, more than the 65536 allowed");
	free(huge);

	expect_text("[]", 2, "result: expected an object, got an array");
	const char *dup = "{\"status\":\"up\",\"status\":\"up\"}";
	expect_text(dup, strlen(dup), "duplicate object key");
	const char *nul = "{\"a\":\"\\u0000\"}";
	expect_text(nul, strlen(nul), "not JSON");
}

static void test_refuse_fields(void **state)
{
	(void)state;
	json_t *o;

	o = good_json();
	json_object_del(o, "status");
	expect_error(o, "status: missing");
	o = good_json();
	json_object_del(at(o, "tls.chain[1]"), "not_after");
	expect_error(o, "tls.chain[1].not_after: missing");

	/* Types, field by field. */
	set_expect("", "message", json_integer(5), "message: expected a string, got an integer");
	set_expect("", "timings_ms", json_array(), "timings_ms: expected an object, got an array");
	set_expect("timings_ms", "dns", json_string("1"),
	           "timings_ms.dns: expected a number of milliseconds or null, got a string");
	set_expect("tls", "verified", json_string("yes"),
	           "tls.verified: expected a boolean, got a string");
	set_expect("", "capabilities", json_string("IMAP4rev1"),
	           "capabilities: expected an array of strings, got a string");
	set_expect("", "tls", json_true(), "tls: expected an object or null, got a boolean");
	set_expect("", "messages", json_real(1.5),
	           "messages: expected an integer or null, got a number");
	set_expect("tls.chain[0]", "subject", json_null(),
	           "tls.chain[0].subject: expected a string, got null");
	set_expect("", "addresses", json_object(), "addresses: expected an array or null");

	/* Unknown names. */
	set_expect("", "status", json_string("upp"), "status: not a status name: \"upp\"");
	set_expect("", "severity", json_string("fatal"),
	           "severity: not a severity name: \"fatal\"");
	set_expect("", "reason", json_string("gremlins"),
	           "reason: not a reason name: \"gremlins\"");
	set_expect("addresses[2]", "status", json_string("upp"),
	           "addresses[2].status: not a status name: \"upp\"");
	set_expect("timings_ms", "dnss", json_real(1), "timings_ms: not a phase name: \"dnss\"");
	set_expect("", "colour", json_string("red"), "result: unknown key \"colour\"");
	set_expect("tls", "ocsp", json_null(), "tls: unknown key \"ocsp\"");
	set_expect("addresses[0]", "x", json_null(), "addresses[0]: unknown key \"x\"");
	set_expect("", "status", json_string("up\x1b[31m"),
	           "status: not a status name: \"up\\x1b[31m\"");

	/* Pairs that cannot be. */
	set_expect("", "severity", json_string("critical"),
	           "severity: \"critical\" does not go with status \"up\"");
	o = good_json();
	json_object_set_new(o, "status", json_string("down"));
	json_object_set_new(o, "severity", json_string("critical"));
	expect_error(o, "reason: \"ok\" does not go with status \"down\"");
	set_expect("tls", "subject", json_string("CN=evil"), "tls.subject: differs from chain[0]");
	set_expect("tls", "expires_first", json_string("CN=mail.example.com"),
	           "tls.expires_first: differs from chain[1], the first to expire");
	set_expect("tls", "cert_not_after", json_string("2024-04-01T00:00:00Z"),
	           "tls.cert_not_after: differs from chain[1]");
	set_expect("tls", "sha256",
	           json_string("0000000000000000000000000000000000000000000000000000000000000000"),
	           "tls.sha256: differs from chain[0]");
	set_expect("tls", "verify_code", json_integer(20),
	           "tls.verify_code: a non-zero integer with verify_error, null without");
	set_expect("", "time", json_string("2025-12-03T12:00:01Z"),
	           "time: does not say the time of ts_ms");
	set_expect("addresses[1]", "cert_days_left", json_integer(3),
	           "addresses[1]: cert_sha256, cert_not_after, cert_days_left and leaf_not_after "
	           "are null together");

	/* Counts over their caps. */
	o = good_json();
	for (int i = 0; i < 6; i++)
		json_array_append(json_object_get(o, "addresses"), at(o, "addresses[0]"));
	expect_error(o, "addresses: more than 8 entries");
	o = good_json();
	for (int i = 0; i < 6; i++)
		json_array_append(at(o, "tls.chain"), at(o, "tls.chain[2]"));
	expect_error(o, "tls.chain: more than 8 certificates");
	o = good_json();
	json_array_append_new(json_object_get(o, "warnings"), json_string("fifth"));
	expect_error(o, "warnings: more than 4 entries");
	set_expect("", "addresses", json_array(), "addresses: empty");

	/* Strings over their fields, control bytes, values out of range. */
	char long_s[600];
	memset(long_s, 'x', sizeof(long_s) - 1);
	long_s[sizeof(long_s) - 1] = '\0';
	set_expect("", "message", json_string(long_s), "message: longer than 511 bytes");
	long_s[300] = '\0';
	set_expect("tls.chain[1]", "subject", json_string(long_s),
	           "tls.chain[1].subject: longer than 255 bytes");
	set_expect("", "message", json_string("a\x01z"), "message: control byte 0x01 at offset 1");
	o = good_json();
	json_array_set_new(json_object_get(o, "capabilities"), 1, json_string("IDLE "));
	expect_error(o, "capabilities[1]: blank at an end");
	o = good_json();
	json_array_set_new(json_object_get(o, "capabilities"), 0, json_string(""));
	expect_error(o, "capabilities[0]: empty");
	o = good_json();
	json_array_set_new(at(o, "tls.sans"), 0, json_string("DNS:a,b"));
	expect_error(o, "tls.sans[0]: holds a separator");
	set_expect("", "messages", json_integer(-1), "messages: -1 is out of range");
	set_expect("", "seq", json_integer(0), "seq: 0 is out of range");
	set_expect("", "ts_ms", json_integer(-5), "ts_ms: -5 is out of range");
	set_expect("tls", "days_left", json_integer(99999999),
	           "tls.days_left: 99999999 is out of range");
	set_expect("timings_ms", "total", json_real(-0.5),
	           "timings_ms.total: -0.500 ms is out of range");
	set_expect("", "time_to_greeting_ms", json_real(1e12),
	           "time_to_greeting_ms: 1000000000000.000 ms is out of range");
	set_expect(
	    "tls.chain[0]", "not_before", json_string("2024-02-30T00:00:00Z"),
	    "tls.chain[0].not_before: not a date (YYYY-MM-DDTHH:MM:SSZ): \"2024-02-30T00:00:00Z\"");
	set_expect("tls.chain[0]", "not_before", json_string("2023-02-29T00:00:00Z"), "not a date");
	set_expect("tls.chain[0]", "sha256", json_string("ABCD"),
	           "tls.chain[0].sha256: not a SHA-256 in lower-case hex");
	set_expect("addresses[0]", "cert_sha256", json_string(""),
	           "addresses[0].cert_sha256: not a SHA-256");
	set_expect("", "check_digest", json_string("xyz"), "check_digest: not a SHA-256");
	set_expect("", "path", json_string("dns>connect>\\x00"), "path: not a path of state names");
	set_expect("", "check", json_string("a b"), "check: not a check name");
	set_expect("", "check", json_string(""), "check: not a check name");
	set_expect("", "location", json_string("fra/1"), "location: not a location name");
	set_expect("", "target", json_string("http://mail.example.com"), "target: ");
	set_expect("", "target", json_string("imaps://Mail.Example.com"),
	           "target: not canonical: \"imaps://Mail.Example.com\" (expected "
	           "\"imaps://mail.example.com:993\")");
}

/* ---- what the CLI prints -------------------------------------------------- */

static char dir[64];

static void run_quiet(char *const argv[])
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static pid_t fakesrv(const char *script, int *port)
{
	char scn[128], portfile[128];
	FILE *f;
	pid_t pid;

	snprintf(scn, sizeof(scn), "%s/s.scn", dir);
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	assert_non_null(f = fopen(scn, "w"));
	fputs(script, f);
	fclose(f);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(127);
		execl(FAKESRV, FAKESRV, "--port-file", portfile, "--certs", dir, "--lifetime", "20",
		      scn, (char *)NULL);
		_exit(127);
	}
	*port = 0;
	for (int i = 0; i < 500 && *port == 0; i++) {
		f = fopen(portfile, "r");
		if (f) {
			if (fscanf(f, "%d", port) != 1)
				*port = 0;
			fclose(f);
		}
		if (!*port)
			usleep(10000);
	}
	assert_true(*port > 0);
	return pid;
}

static void test_cli_json_decodes(void **state)
{
	char ca[128], leaf[128], issuer[128], cmd[512], line[RESULT_JSON_MAX], err[256];
	struct timespec t0, t1;
	int port;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mp-wire-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(ca, sizeof(ca), "%s/ca", dir);
	snprintf(leaf, sizeof(leaf), "%s/good", dir);
	snprintf(issuer, sizeof(issuer), "%s/ca", dir);
	run_quiet((char *[]){CERTGEN, "--out", ca, "--cn", "wire test CA", "--ca", NULL});
	run_quiet((char *[]){CERTGEN, "--out", leaf, "--cn", "localhost", "--san",
	                     "DNS:localhost,IP:127.0.0.1", "--issuer", issuer, NULL});
	pid_t srv = fakesrv("implicit_tls\n"
	                    "cert good.crt\n"
	                    "send \"* OK fakesrv \\\"quoted\\\" ready\\r\\n\"\n"
	                    "expect \"CAPABILITY\"\n"
	                    "send \"* CAPABILITY IMAP4rev1 AUTH=PLAIN\\r\\n\"\n"
	                    "reply \"OK CAPABILITY completed\"\n"
	                    "expect \"LOGOUT\"\n"
	                    "send \"* BYE logging out\\r\\n\"\n"
	                    "reply \"OK LOGOUT completed\"\n"
	                    "close\n",
	                    &port);
	snprintf(cmd, sizeof(cmd),
	         "%s check --json --timeout 5 --ca-file %s/ca.crt imaps://127.0.0.1:%d", MAILPULSE,
	         dir, port);
	clock_gettime(CLOCK_REALTIME, &t0);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *got = fgets(line, sizeof(line), p);
	int rc = pclose(p);
	clock_gettime(CLOCK_REALTIME, &t1);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);

	assert_non_null(got);
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	size_t n = strlen(line);
	assert_true(n > 0 && line[n - 1] == '\n');
	if (result_json_decode(line, n, &back, &meta_back, err, sizeof(err)) != 0)
		fail_msg("mailpulse check --json did not decode: %s\n%s", err, line);
	assert_int_equal(back.status, MP_UP);
	assert_true(back.tls.used && back.tls.verified && back.tls.chain_len == 1);
	assert_string_equal(back.tls.chain[0].subject, "CN=localhost");
	assert_non_null(strstr(back.greeting, "\"quoted\""));
	assert_string_equal(back.capabilities, "IMAP4rev1\nAUTH=PLAIN");
	/* Stamped by the prober at the start of the probe, on the wall clock. */
	int64_t ms0 = (int64_t)t0.tv_sec * 1000 + t0.tv_nsec / 1000000;
	int64_t ms1 = (int64_t)t1.tv_sec * 1000 + t1.tv_nsec / 1000000;
	assert_true(back.probe_ms >= ms0 && back.probe_ms <= ms1);
	assert_int_equal(meta_back.seq, 0);
	assert_string_equal(meta_back.check, "");
	/* And the one encoder writes it back byte for byte. */
	char *again = result_json_dumps(&back, &meta_back);
	assert_non_null(again);
	line[n - 1] = '\0';
	assert_string_equal(again, line);
	free(again);
}

/* One seed file: what the encoder writes of res and meta. */
static void seed(const char *dir_, int n)
{
	char path[512];
	char *s = result_json_dumps(&res, &meta);
	FILE *f;

	snprintf(path, sizeof(path), "%s/result-%03d.json", dir_, n);
	if (!s || !(f = fopen(path, "w"))) {
		perror(path);
		exit(1);
	}
	fputs(s, f);
	if (fclose(f) != 0)
		exit(1);
	free(s);
}

/*
 * test_wire --seeds DIR: the fuzzer's seeds (fuzz/CMakeLists.txt) are the
 * results these tests encode, written by the encoder itself.
 */
static int write_seeds(const char *dir_)
{
	int n = 0;

	make_tls();
	seed(dir_, n++);
	res.naddrs = 0;
	seed(dir_, n++);
	result_critical(&res, MP_R_CERT_EXPIRING, "certificate expires in 5 days");
	seed(dir_, n++);
	base();
	result_fail(&res, MP_R_DNS, "cannot resolve mail.example.com: no such name");
	seed(dir_, n++);
	base();
	res.tls.used = 1;
	res.tls.verify_code = 20;
	snprintf(res.tls.verify_msg, sizeof(res.tls.verify_msg), "unable to get local issuer");
	result_fail(&res, MP_R_CERT_UNTRUSTED, "server sent no certificate");
	seed(dir_, n++);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
		return write_seeds(argv[2]);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_tls),
	    cmocka_unit_test(test_round_trip_failures),
	    cmocka_unit_test(test_round_trip_hostile_fields),
	    cmocka_unit_test(test_worst_case_size),
	    cmocka_unit_test(test_round_trip_random),
	    cmocka_unit_test(test_refuse_text),
	    cmocka_unit_test(test_refuse_fields),
	    cmocka_unit_test(test_cli_json_decodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
