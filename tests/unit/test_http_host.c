/* SPDX-License-Identifier: ISC */
/*
 * test_http_host.c - the DNS-rebinding guard's Host parser: exactly
 * localhost, 127.0.0.0/8 as a dotted quad, or [::1], each with an optional
 * port; every near miss refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

static void test_local_names(void **unused)
{
	static const char *const ok[] = {
	    "localhost",      "LocalHost",       "localhost:8080", "127.0.0.1",
	    "127.0.0.1:8080", "127.255.255.255", "127.1.2.3:1",    "127.0.0.0:65535",
	    "[::1]",          "[::1]:8080",      "127.10.0.200",   "localhost:80",
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!http_host_is_local(ok[i]))
			fail_msg("\"%s\" refused", ok[i]);
	}
}

static void test_near_misses(void **unused)
{
	static const char *const bad[] = {
	    /* names that only begin like a loopback one */
	    "127.evil.com",
	    "127.0.0.1.evil.com",
	    "127.0.0.1evil",
	    "localhost.evil.com",
	    "localhost.",
	    "localhostx",
	    "xlocalhost",
	    "evil-localhost",
	    "[::1].evil.com",
	    "[::1]x",
	    "[::1]evil.com",
	    "[::1]:80x",
	    "[::2]",
	    "[0:0:0:0:0:0:0:1]",
	    "[::ffff:127.0.0.1]",
	    /* not a dotted quad of 0-255 */
	    "127.0.0.256",
	    "127.0.0",
	    "127.0.0.1.",
	    "127.0.0.1.1",
	    "127..0.1",
	    ".127.0.0.1",
	    "0x7f.0.0.1",
	    "0177.0.0.1",
	    "127.0.0.01",
	    "127.000.0.1",
	    "2130706433",
	    "127.1",
	    " 127.0.0.1",
	    "127.0.0.1 ",
	    "+127.0.0.1",
	    "127.0.0.-1",
	    "127.0.0.1\t",
	    /* other addresses */
	    "128.0.0.1",
	    "10.0.0.1",
	    "0.0.0.0",
	    "evil.com",
	    /* ports */
	    "localhost:",
	    "127.0.0.1:",
	    "127.0.0.1:0",
	    "127.0.0.1:65536",
	    "127.0.0.1:123456",
	    "127.0.0.1:80:80",
	    "127.0.0.1:-1",
	    "127.0.0.1:8o",
	    "[::1]:",
	    "localhost:80.evil.com",
	    /* empty and odd */
	    "",
	    ":",
	    ":8080",
	    "[",
	    "[]",
	    "[::1",
	    "::1",
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (http_host_is_local(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	}
	assert_int_equal(http_host_is_local(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_local_names),
	    cmocka_unit_test(test_near_misses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
