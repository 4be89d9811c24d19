/* SPDX-License-Identifier: ISC */
/*
 * test_spec.c - struct check_spec (spec/checkspec.h): a deep copy that
 * outlives its source, shared by reference, and wiped when the last
 * reference goes. Linked with -Wl,--wrap=free, so the block can be read
 * in the moment between the wipe and its release.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec/checkspec.h"

void __real_free(void *p);
void __wrap_free(void *p);

/* The block being watched and what the last free found in it. */
static const void *watched;
static size_t watched_size;
static int freed_watched, freed_had_secret, freed_all_zero;
static const char secret[] = "s3cret-Pa55w0rd";

void __wrap_free(void *p)
{
	if (p && p == watched) {
		const unsigned char *b = p;
		size_t n = strlen(secret);

		freed_watched = 1;
		freed_all_zero = 1;
		for (size_t i = 0; i < watched_size; i++)
			freed_all_zero &= b[i] == 0;
		freed_had_secret = 0;
		for (size_t i = 0; i + n <= watched_size; i++)
			freed_had_secret |= memcmp(b + i, secret, n) == 0;
	}
	__real_free(p);
}

static void fill(struct check *c, char *pw, char *host, char *cap)
{
	check_defaults(c);
	strcpy(c->target.host, "mail.example.com");
	c->password = pw;
	c->login = "monitor";
	c->resolve[0] = host;
	c->n_resolve = 1;
	c->expect_caps[0] = cap;
	c->n_expect_caps = 1;
	c->expect = "Dovecot";
}

static void test_deep_copy(void **state)
{
	char pw[32], host[32], cap[16];
	struct check c;
	struct check_spec *sp;

	(void)state;
	strcpy(pw, secret);
	strcpy(host, "192.0.2.7");
	strcpy(cap, "IDLE");
	fill(&c, pw, host, cap);
	sp = checkspec_copy(&c, "imap-main", 60000, 10000);
	assert_non_null(sp);
	assert_int_equal(sp->refs, 1);
	assert_string_equal(sp->name, "imap-main");
	assert_int_equal(sp->interval_ms, 60000);
	assert_int_equal(sp->retry_ms, 10000);
	/* The source may go: the copy owns its strings. */
	memset(pw, 'x', sizeof(pw) - 1);
	memset(host, 'x', sizeof(host) - 1);
	memset(cap, 'x', sizeof(cap) - 1);
	assert_ptr_not_equal(sp->chk.password, pw);
	assert_string_equal(sp->chk.password, secret);
	assert_string_equal(sp->chk.resolve[0], "192.0.2.7");
	assert_int_equal(sp->chk.n_resolve, 1);
	assert_null(sp->chk.resolve[1]);
	assert_string_equal(sp->chk.expect_caps[0], "IDLE");
	assert_string_equal(sp->chk.expect, "Dovecot");
	assert_string_equal(sp->chk.login, "monitor");
	assert_null(sp->chk.sni);
	assert_null(sp->chk.ca_file);
	assert_string_equal(sp->chk.target.host, "mail.example.com");
	checkspec_unref(sp);
}

static void test_ref_unref_wipe(void **state)
{
	char pw[32];
	struct check c;
	struct check_spec *sp;

	(void)state;
	strcpy(pw, secret);
	fill(&c, pw, "192.0.2.7", "IDLE");
	sp = checkspec_copy(&c, "pop-main", 30000, 5000);
	assert_non_null(sp);
	watched = sp;
	watched_size = sp->size;
	freed_watched = 0;
	assert_ptr_equal(checkspec_ref(sp), sp);
	assert_int_equal(sp->refs, 2);
	checkspec_unref(sp); /* a probe done: the item still holds it */
	assert_int_equal(freed_watched, 0);
	assert_int_equal(sp->refs, 1);
	assert_string_equal(sp->chk.password, secret);
	checkspec_unref(sp); /* the last: wiped, then freed */
	assert_int_equal(freed_watched, 1);
	assert_int_equal(freed_had_secret, 0);
	assert_int_equal(freed_all_zero, 1);
	watched = NULL;
	checkspec_unref(NULL); /* allowed, like free(NULL) */
}

static void test_refused(void **state)
{
	char name[80];
	struct check c;

	(void)state;
	check_defaults(&c);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_null(checkspec_copy(&c, name, 1000, 1000)); /* over 64 bytes */
	assert_null(checkspec_copy(&c, NULL, 1000, 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deep_copy),
	    cmocka_unit_test(test_ref_unref_wipe),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
