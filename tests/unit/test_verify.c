/* SPDX-License-Identifier: ISC */
/*
 * test_verify.c - the verdict cache: what makes two verifications the same
 * (the key) and when a stored verdict may be reused (time, TTL, slots).
 * The reuse through real handshakes is tested against Dovecot
 * (tests/dovecot, dovecot_verdict_*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "engine/verify.h"

#define T0 1800000000LL /* 2027-01-15, a fixed "now" */

static X509 *make_cert(const char *cn, EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(x);
	assert_non_null(n);
	assert_int_equal(
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
	    1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)T0 - 86400));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)T0 + 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

struct fixture {
	EVP_PKEY *key;
	X509 *a, *b;
	STACK_OF(X509) * ab, *ba, *a_only;
	X509_VERIFY_PARAM *param;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->key = EVP_EC_gen("P-256");
	assert_non_null(f->key);
	f->a = make_cert("leaf.example", f->key);
	f->b = make_cert("intermediate.example", f->key);
	f->ab = sk_X509_new_null();
	f->ba = sk_X509_new_null();
	f->a_only = sk_X509_new_null();
	sk_X509_push(f->ab, f->a);
	sk_X509_push(f->ab, f->b);
	sk_X509_push(f->ba, f->b);
	sk_X509_push(f->ba, f->a);
	sk_X509_push(f->a_only, f->a);
	f->param = X509_VERIFY_PARAM_new();
	assert_int_equal(X509_VERIFY_PARAM_set1_host(f->param, "mail.example.com", 0), 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sk_X509_free(f->ab);
	sk_X509_free(f->ba);
	sk_X509_free(f->a_only);
	X509_free(f->a);
	X509_free(f->b);
	EVP_PKEY_free(f->key);
	X509_VERIFY_PARAM_free(f->param);
	free(f);
	return 0;
}

static void key_or_fail(STACK_OF(X509) * sk, X509_VERIFY_PARAM *p, unsigned char k[32])
{
	assert_int_equal(verdict_key(sk, p, k), 0);
}

static void test_key_same_input_same_key(void **state)
{
	struct fixture *f = *state;
	unsigned char k1[32], k2[32];

	key_or_fail(f->ab, f->param, k1);
	key_or_fail(f->ab, f->param, k2);
	assert_memory_equal(k1, k2, 32);
}

static void test_key_depends_on_chain(void **state)
{
	struct fixture *f = *state;
	unsigned char ab[32], ba[32], a[32];

	key_or_fail(f->ab, f->param, ab);
	key_or_fail(f->ba, f->param, ba);
	key_or_fail(f->a_only, f->param, a);
	/* Order matters: a server that reorders its chain is verified anew. */
	assert_memory_not_equal(ab, ba, 32);
	assert_memory_not_equal(ab, a, 32);
}

static void test_key_depends_on_name_and_flags(void **state)
{
	struct fixture *f = *state;
	unsigned char base[32], other[32], ip[32], flags[32];
	X509_VERIFY_PARAM *p = X509_VERIFY_PARAM_new();

	key_or_fail(f->ab, f->param, base);

	assert_int_equal(X509_VERIFY_PARAM_set1_host(p, "other.example.com", 0), 1);
	key_or_fail(f->ab, p, other);
	assert_memory_not_equal(base, other, 32);

	/* The same host and an IP address: a different question. */
	assert_int_equal(X509_VERIFY_PARAM_set1_host(p, "mail.example.com", 0), 1);
	assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(p, "192.0.2.1"), 1);
	key_or_fail(f->ab, p, ip);
	assert_memory_not_equal(base, ip, 32);

	X509_VERIFY_PARAM_free(p);
	p = X509_VERIFY_PARAM_new();
	assert_int_equal(X509_VERIFY_PARAM_set1_host(p, "mail.example.com", 0), 1);
	X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	key_or_fail(f->ab, p, flags);
	assert_memory_not_equal(base, flags, 32);
	X509_VERIFY_PARAM_free(p);
}

static void fill_key(unsigned char k[32], unsigned char seed)
{
	for (int i = 0; i < 32; i++)
		k[i] = (unsigned char)(seed + i * 7);
}

/* Key i of a series: its slot is i modulo the table size. */
static void numbered_key(unsigned char k[32], unsigned char seed, int i)
{
	fill_key(k, seed);
	k[0] = (unsigned char)(i & 0xff);
	k[1] = (unsigned char)(i >> 8);
	k[2] = (unsigned char)(i >> 16);
}

static void test_find_empty(void **state)
{
	(void)state;
	struct verdicts *vs = verdicts_new();
	unsigned char k[32];

	fill_key(k, 1);
	assert_false(verdict_find(NULL, k, T0));
	assert_false(verdict_find(vs, k, T0));
	verdicts_free(vs);
}

static void test_find_within_dates_and_ttl(void **state)
{
	(void)state;
	struct verdicts *vs = verdicts_new();
	unsigned char k[32];

	fill_key(k, 2);
	verdict_put(vs, k, T0 - 100, T0 + 5000, T0);
	assert_true(verdict_find(vs, k, T0));
	assert_true(verdict_find(vs, k, T0 + VERDICT_TTL_S - 1));
	/* Old verdicts are verified anew, whatever the dates. */
	assert_false(verdict_find(vs, k, T0 + VERDICT_TTL_S));
	/* A clock that went back cannot vouch for the verdict's age. */
	assert_false(verdict_find(vs, k, T0 - 1));
	verdicts_free(vs);
}

static void test_find_checks_the_chain_dates(void **state)
{
	(void)state;
	struct verdicts *vs = verdicts_new();
	unsigned char k[32];

	fill_key(k, 3);
	/* The earliest notAfter in the chain falls inside the TTL. */
	verdict_put(vs, k, T0 - 100, T0 + 60, T0);
	assert_true(verdict_find(vs, k, T0 + 59));
	assert_false(verdict_find(vs, k, T0 + 60)); /* expired: full verification names it */
	assert_false(verdict_find(vs, k, T0 + 61));

	/* Stored before the latest notBefore (a clock moved): not valid yet. */
	verdict_put(vs, k, T0 + 10, T0 + 5000, T0);
	assert_false(verdict_find(vs, k, T0 + 9));
	assert_true(verdict_find(vs, k, T0 + 10));
	verdicts_free(vs);
}

static void test_slot_collision_evicts_never_confuses(void **state)
{
	(void)state;
	struct verdicts *vs = verdicts_new();
	unsigned char k1[32], k2[32];

	fill_key(k1, 4);
	memcpy(k2, k1, 32);
	k2[31] ^= 0x55; /* same slot (the slot is taken from the first bytes) */
	verdict_put(vs, k1, T0 - 1, T0 + 5000, T0);
	assert_true(verdict_find(vs, k1, T0));
	assert_false(verdict_find(vs, k2, T0));
	verdict_put(vs, k2, T0 - 1, T0 + 5000, T0);
	assert_true(verdict_find(vs, k2, T0));
	assert_false(verdict_find(vs, k1, T0));
	verdicts_free(vs);
}

static void test_table_grows_and_keeps_verdicts(void **state)
{
	(void)state;
	struct verdicts *vs = verdicts_new();
	unsigned char k[32];
	int n = 1000; /* more than the first table holds, fewer than the last */

	assert_int_equal(verdicts_capacity(vs), 0); /* nothing until a verdict is stored */
	for (int i = 0; i < n; i++) {
		numbered_key(k, 9, i); /* distinct slots at every size >= 1024 */
		verdict_put(vs, k, T0 - 1, T0 + 5000, T0);
		if (i == 0)
			assert_int_equal(verdicts_capacity(vs), VERDICT_SLOTS_MIN);
	}
	assert_true(verdicts_capacity(vs) >= 1024);
	assert_true(verdicts_capacity(vs) <= VERDICT_SLOTS);
	for (int i = 0; i < n; i++) {
		numbered_key(k, 9, i);
		assert_true(verdict_find(vs, k, T0));
	}
	/* Never past the bound, however many chains are seen. */
	for (int i = 0; i < 20000; i++) {
		numbered_key(k, 10, i);
		verdict_put(vs, k, T0 - 1, T0 + 5000, T0);
	}
	assert_int_equal(verdicts_capacity(vs), VERDICT_SLOTS);
	verdicts_free(vs);
}

static void test_verify_time(void **state)
{
	(void)state;
	ASN1_TIME *t = ASN1_TIME_new();

	assert_int_equal(ASN1_TIME_set_string(t, "20270115080000Z"), 1);
	assert_int_equal(verify_time(t), 1800000000);
	/* Past 2038 and in GeneralizedTime: no 32-bit overflow. */
	assert_int_equal(ASN1_TIME_set_string(t, "20991231235959Z"), 1);
	assert_int_equal(verify_time(t), 4102444799LL);
	assert_int_equal(verify_time(NULL), 0);
	ASN1_TIME_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_key_same_input_same_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_depends_on_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_depends_on_name_and_flags, setup, teardown),
	    cmocka_unit_test(test_find_empty),
	    cmocka_unit_test(test_find_within_dates_and_ttl),
	    cmocka_unit_test(test_find_checks_the_chain_dates),
	    cmocka_unit_test(test_slot_collision_evicts_never_confuses),
	    cmocka_unit_test(test_table_grows_and_keeps_verdicts),
	    cmocka_unit_test(test_verify_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
