/* SPDX-License-Identifier: ISC */
/*
 * test_line.c - line_scan, line_escape and the small matchers, with the
 * hostile inputs a server can send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/line.h"

static enum line_scan scan(const char *s, size_t n, size_t *len, size_t *eol)
{
	*len = (size_t)-1;
	*eol = (size_t)-1;
	return line_scan(s, n, len, eol);
}

static void test_scan_crlf(void **state)
{
	size_t len, eol;

	(void)state;
	assert_int_equal(scan("* OK ready\r\nA1 OK", 17, &len, &eol), LINE_FOUND);
	assert_int_equal(len, 10);
	assert_int_equal(eol, 2);
}

static void test_scan_bare_lf(void **state)
{
	size_t len, eol;

	(void)state;
	assert_int_equal(scan("+OK hi\nmore", 11, &len, &eol), LINE_FOUND);
	assert_int_equal(len, 6);
	assert_int_equal(eol, 1);
	/* An empty line is a line. */
	assert_int_equal(scan("\r\n", 2, &len, &eol), LINE_FOUND);
	assert_int_equal(len, 0);
	assert_int_equal(eol, 2);
	assert_int_equal(scan("\n", 1, &len, &eol), LINE_FOUND);
	assert_int_equal(len, 0);
	assert_int_equal(eol, 1);
}

static void test_scan_lone_cr_stays(void **state)
{
	size_t len, eol;

	(void)state;
	/* A CR not followed by LF is part of the line. */
	assert_int_equal(scan("a\rb\r\n", 5, &len, &eol), LINE_FOUND);
	assert_int_equal(len, 3);
	assert_int_equal(eol, 2);
}

static void test_scan_incomplete(void **state)
{
	size_t len = 77, eol = 77;

	(void)state;
	assert_int_equal(line_scan("* OK no end", 11, &len, &eol), LINE_INCOMPLETE);
	/* Outputs untouched when nothing was found. */
	assert_int_equal(len, 77);
	assert_int_equal(eol, 77);
	assert_int_equal(line_scan("* OK\r", 5, &len, &eol), LINE_INCOMPLETE);
	assert_int_equal(line_scan(NULL, 0, &len, &eol), LINE_INCOMPLETE);
	/* The LF is beyond n: must not be seen. */
	assert_int_equal(line_scan("abc\n", 3, &len, &eol), LINE_INCOMPLETE);
}

static void test_scan_too_long(void **state)
{
	size_t len, eol;
	size_t big = LINE_MAX_LEN + 10;
	char *b = malloc(big);

	(void)state;
	assert_non_null(b);
	memset(b, 'x', big);
	assert_int_equal(scan(b, big, &len, &eol), LINE_TOO_LONG);
	assert_int_equal(scan(b, LINE_MAX_LEN, &len, &eol), LINE_INCOMPLETE);
	assert_int_equal(scan(b, LINE_MAX_LEN + 1, &len, &eol), LINE_TOO_LONG);

	/* Exactly LINE_MAX_LEN bytes, then CRLF: accepted. */
	b[LINE_MAX_LEN] = '\r';
	b[LINE_MAX_LEN + 1] = '\n';
	assert_int_equal(scan(b, LINE_MAX_LEN + 2, &len, &eol), LINE_FOUND);
	assert_int_equal(len, LINE_MAX_LEN);
	assert_int_equal(eol, 2);
	/* ... and when only its CR has arrived, still incomplete, not too long. */
	assert_int_equal(scan(b, LINE_MAX_LEN + 1, &len, &eol), LINE_INCOMPLETE);

	/* Exactly LINE_MAX_LEN bytes and a bare LF: accepted. */
	b[LINE_MAX_LEN] = '\n';
	assert_int_equal(scan(b, LINE_MAX_LEN + 1, &len, &eol), LINE_FOUND);
	assert_int_equal(len, LINE_MAX_LEN);
	assert_int_equal(eol, 1);

	/* One byte more before the ending: too long, even though the LF is there. */
	b[LINE_MAX_LEN] = 'x';
	b[LINE_MAX_LEN + 1] = '\n';
	assert_int_equal(scan(b, LINE_MAX_LEN + 2, &len, &eol), LINE_TOO_LONG);
	b[LINE_MAX_LEN + 1] = '\r';
	b[LINE_MAX_LEN + 2] = '\n';
	assert_int_equal(scan(b, LINE_MAX_LEN + 3, &len, &eol), LINE_TOO_LONG);
	free(b);
}

static void test_find_nul(void **state)
{
	(void)state;
	assert_int_equal(line_find_nul("ab\0cd", 5), 2);
	assert_int_equal(line_find_nul("abcd", 4), -1);
	assert_int_equal(line_find_nul("\0", 1), 0);
	assert_int_equal(line_find_nul(NULL, 0), -1);
	/* Past n does not count. */
	assert_int_equal(line_find_nul("ab\0", 2), -1);
}

static void test_escape_plain(void **state)
{
	char d[64];

	(void)state;
	assert_int_equal(line_escape(d, sizeof(d), "* OK ready", 10), 10);
	assert_string_equal(d, "* OK ready");
	assert_int_equal(line_escape(d, sizeof(d), "", 0), 0);
	assert_string_equal(d, "");
}

static void test_escape_control_nul_8bit(void **state)
{
	char d[128];
	const char in[] = "a\r\n\t\\\0\x01\x1b\x7f\x80\xff"
	                  "z";

	(void)state;
	size_t n = line_escape(d, sizeof(d), in, sizeof(in) - 1);
	assert_string_equal(d, "a\\r\\n\\t\\\\\\x00\\x01\\x1b\\x7f\\x80\\xffz");
	assert_int_equal(n, strlen(d));
	/* Everything in the output is printable ASCII. */
	for (size_t i = 0; i < n; i++)
		assert_true(d[i] >= 0x20 && d[i] < 0x7f);
}

static void test_escape_truncates(void **state)
{
	char d[16];

	(void)state;
	size_t n = line_escape(d, sizeof(d), "0123456789abcdefghij", 20);
	assert_int_equal(n, strlen(d));
	assert_true(n <= sizeof(d) - 1);
	assert_string_equal(d, "0123456789ab...");
	/* Exactly fits: no dots. */
	n = line_escape(d, sizeof(d), "0123456789abcde", 15);
	assert_string_equal(d, "0123456789abcde");
	assert_int_equal(n, 15);
	/* One more: cut. */
	n = line_escape(d, sizeof(d), "0123456789abcdef", 16);
	assert_string_equal(d, "0123456789ab...");
	/* An escape sequence is never split. */
	n = line_escape(d, sizeof(d), "0123456789\x01\x02\x03", 13);
	assert_string_equal(d, "0123456789...");
}

/* Every dstsz from 4 up: the output fits, ends in NUL, and nothing past dstsz is written. */
static void test_escape_small_dst(void **state)
{
	char in[300];
	char buf[64 + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)(i * 37 + 5);
	for (size_t dstsz = 4; dstsz <= 64; dstsz++) {
		for (size_t n = 0; n < sizeof(in); n += 7) {
			memset(buf, 'G', sizeof(buf));
			size_t o = line_escape(buf, dstsz, in, n);
			assert_true(o < dstsz);
			assert_int_equal(buf[o], '\0');
			assert_int_equal(strlen(buf), o);
			for (size_t k = dstsz; k < sizeof(buf); k++)
				assert_int_equal(buf[k], 'G');
		}
	}
	/* Too small to say anything: empty, and only dst[0] touched. */
	memset(buf, 'G', sizeof(buf));
	assert_int_equal(line_escape(buf, 3, "abc", 3), 0);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'G');
	assert_int_equal(line_escape(buf, 0, "abc", 3), 0);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'G');
	/* dstsz 4 and a long input: just the dots. */
	assert_int_equal(line_escape(buf, 4, "abcdef", 6), 3);
	assert_string_equal(buf, "...");
	assert_int_equal(line_escape(buf, 4, "abc", 3), 3);
	assert_string_equal(buf, "abc");
}

static void test_has_prefix(void **state)
{
	(void)state;
	assert_true(line_has_prefix("+OK ready", 9, "+ok"));
	assert_true(line_has_prefix("* bye", 5, "* BYE"));
	assert_false(line_has_prefix("+O", 2, "+OK"));
	assert_false(line_has_prefix("-ERR", 4, "+OK"));
	assert_true(line_has_prefix("x", 1, ""));
	/* n bounds the match, not a NUL. */
	assert_false(line_has_prefix("+OK", 2, "+OK"));
}

static void test_contains(void **state)
{
	(void)state;
	assert_true(line_contains("* OK Dovecot ready", 18, "Dovecot", 0));
	assert_false(line_contains("* OK dovecot ready", 18, "Dovecot", 0));
	assert_true(line_contains("* OK dovecot ready", 18, "Dovecot", 1));
	assert_true(line_contains("abc", 3, "", 0));
	assert_false(line_contains("ab", 2, "abc", 1));
	/* Only s[0..n) is searched. */
	assert_false(line_contains("abcdef", 4, "def", 0));
	assert_true(line_contains("abcdef", 6, "def", 0));
	/* Embedded NUL in the haystack does not stop the search. */
	assert_true(line_contains("a\0bc", 4, "bc", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_crlf),
	    cmocka_unit_test(test_scan_bare_lf),
	    cmocka_unit_test(test_scan_lone_cr_stays),
	    cmocka_unit_test(test_scan_incomplete),
	    cmocka_unit_test(test_scan_too_long),
	    cmocka_unit_test(test_find_nul),
	    cmocka_unit_test(test_escape_plain),
	    cmocka_unit_test(test_escape_control_nul_8bit),
	    cmocka_unit_test(test_escape_truncates),
	    cmocka_unit_test(test_escape_small_dst),
	    cmocka_unit_test(test_has_prefix),
	    cmocka_unit_test(test_contains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
