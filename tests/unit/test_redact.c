/* SPDX-License-Identifier: ISC */
/*
 * test_redact.c - the password's forms are taken out of server text, and
 * nothing else is: plain, quoted and escaped, base64 for SASL, cut by
 * line_escape() or by a full buffer, very short passwords, every string
 * of a result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/line.h"
#include "core/redact.h"
#include "core/result.h"

#define PW "s3cret-Pa55"

/* Redact a copy of in, in a buffer of cap bytes; returns the hit count, text in out. */
static int red(char *out, size_t cap, const char *in, const char *login, const char *pw)
{
	snprintf(out, cap, "%s", in);
	return redact_text(out, cap, login, pw);
}

static void b64(char *dst, const void *src, size_t n)
{
	EVP_EncodeBlock((unsigned char *)dst, src, (int)n);
}

/* memmem() without _GNU_SOURCE. */
static int holds(const void *hay, size_t n, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= n; i++)
		if (memcmp((const char *)hay + i, needle, nl) == 0)
			return 1;
	return 0;
}

static void test_plain_forms(void **state)
{
	char s[512];

	(void)state;
	/* The IMAP LOGIN echo and the POP3 PASS echo. */
	assert_int_equal(
	    red(s, sizeof(s), "login failed: NO LOGIN monitor " PW " failed", "monitor", PW), 1);
	assert_string_equal(s, "login failed: NO LOGIN monitor (password) failed");
	assert_int_equal(red(s, sizeof(s), "login failed: PASS " PW " rejected", "monitor", PW), 1);
	assert_string_equal(s, "login failed: PASS (password) rejected");
	/* Quoted as the core sends it, twice, and in another case. */
	assert_int_equal(red(s, sizeof(s), "\"" PW "\" and S3CRET-PA55", "monitor", PW), 2);
	assert_string_equal(s, "\"(password)\" and (password)");
	/* Glued to a word: a leaked password is one whatever surrounds it. */
	assert_int_equal(red(s, sizeof(s), "user=monitor;pass=" PW "x", "monitor", PW), 1);
	assert_string_equal(s, "user=monitor;pass=(password)x");
	/* Nothing to do: text unchanged, the login stays. */
	assert_int_equal(red(s, sizeof(s), "* OK Dovecot ready, monitor", "monitor", PW), 0);
	assert_string_equal(s, "* OK Dovecot ready, monitor");
	assert_int_equal(red(s, sizeof(s), PW, "monitor", NULL), 0);
	assert_int_equal(red(s, sizeof(s), PW, "monitor", ""), 0);
	assert_string_equal(s, PW);
}

static void test_base64_forms(void **state)
{
	char s[512], in[512], sasl[128], alone[64];
	static const char raw[] = "\0monitor\0" PW;

	(void)state;
	b64(sasl, raw, sizeof(raw) - 1);
	b64(alone, PW, strlen(PW));
	assert_string_equal(sasl, "AG1vbml0b3IAczNjcmV0LVBhNTU=");

	snprintf(in, sizeof(in), "NO AUTHENTICATE PLAIN %s failed", sasl);
	assert_int_equal(red(s, sizeof(s), in, "monitor", PW), 1);
	assert_string_equal(s, "NO AUTHENTICATE PLAIN (password) failed");
	/* SASL LOGIN sends the password alone in base64. */
	snprintf(in, sizeof(in), "NO bad response %s", alone);
	assert_int_equal(red(s, sizeof(s), in, "monitor", PW), 1);
	assert_string_equal(s, "NO bad response (password)");
	/* No login: the PLAIN form is not built, the others still are. */
	snprintf(in, sizeof(in), "%s %s", PW, alone);
	assert_int_equal(red(s, sizeof(s), in, NULL, PW), 2);
	assert_string_equal(s, "(password) (password)");
}

/* The IMAP quoted form escapes \ and "; line_escape() then doubles each \. */
static void test_quoted_and_escaped(void **state)
{
	const char *pw = "pa\"ss\\wd";
	char s[512], in[512], esc[64];

	(void)state;
	/* As the server echoes the LOGIN line, escaped for display by the core. */
	const char *line = "A2 NO LOGIN \"monitor\" \"pa\\\"ss\\\\wd\" failed";
	line_escape(esc, sizeof(esc), line, strlen(line));
	assert_int_equal(red(s, sizeof(s), esc, "monitor", pw), 1);
	assert_null(strstr(s, "ss\\\\"));
	assert_string_equal(s, "A2 NO LOGIN \"monitor\" \"(password)\" failed");
	/* The raw password, escaped for display (its \ doubled). */
	line_escape(esc, sizeof(esc), pw, strlen(pw));
	snprintf(in, sizeof(in), "-ERR PASS %s rejected", esc);
	assert_int_equal(red(s, sizeof(s), in, "monitor", pw), 1);
	assert_string_equal(s, "-ERR PASS (password) rejected");
	/* The quoted form as is (a string that was not escaped). */
	assert_int_equal(red(s, sizeof(s), "x pa\\\"ss\\\\wd y", "monitor", pw), 1);
	assert_string_equal(s, "x (password) y");
}

/* Bytes line_escape() shows as \xNN: the password is found in that form too. */
static void test_escaped_bytes(void **state)
{
	const char *pw = "p\xc3\xa4ss\twd";
	char s[512], esc[512], in[600];

	(void)state;
	snprintf(in, sizeof(in), "-ERR PASS %s rejected", pw);
	line_escape(esc, sizeof(esc), in, strlen(in));
	assert_string_equal(esc, "-ERR PASS p\\xc3\\xa4ss\\twd rejected");
	assert_int_equal(red(s, sizeof(s), esc, "monitor", pw), 1);
	assert_string_equal(s, "-ERR PASS (password) rejected");
	/* And raw, should a string ever hold the bytes themselves. */
	assert_int_equal(red(s, sizeof(s), in, "monitor", pw), 1);
	assert_string_equal(s, "-ERR PASS (password) rejected");
}

/*
 * Short passwords: below REDACT_MIN bytes a form is taken only as a whole
 * token, exactly, so "a" does not eat every "a" of a greeting; base64
 * forms of a short password are long enough to be taken anywhere.
 */
static void test_short_password(void **state)
{
	char s[512], in[512], alone[16];

	(void)state;
	assert_int_equal(red(s, sizeof(s), "* OK a Dovecot ready at alpha", "monitor", "a"), 1);
	assert_string_equal(s, "* OK (password) Dovecot ready at alpha");
	assert_int_equal(red(s, sizeof(s), "NO LOGIN monitor \"ab\" failed", "monitor", "ab"), 1);
	assert_string_equal(s, "NO LOGIN monitor \"(password)\" failed");
	assert_int_equal(red(s, sizeof(s), "NO LOGIN monitor ab failed", "monitor", "ab"), 1);
	assert_int_equal(red(s, sizeof(s), "about absent AB", "monitor", "ab"), 0);
	assert_string_equal(s, "about absent AB");
	assert_int_equal(red(s, sizeof(s), "ab", "monitor", "ab"), 1);
	assert_string_equal(s, "(password)");
	/* Three bytes is still short; four is a substring anywhere. */
	assert_int_equal(red(s, sizeof(s), "secretly", "monitor", "ret"), 0);
	assert_int_equal(red(s, sizeof(s), "secretly", "monitor", "cret"), 1);
	assert_string_equal(s, "se(password)ly");
	b64(alone, "a", 1);
	snprintf(in, sizeof(in), "NO bad response %s.", alone);
	assert_int_equal(red(s, sizeof(s), in, "monitor", "a"), 1);
	assert_string_equal(s, "NO bad response (password).");
}

/* A password cut by line_escape() ("...") or by a full buffer: its start is a secret too. */
static void test_cut(void **state)
{
	char s[512], shown[32], small[24];
	const char *line = "A2 NO LOGIN monitor " PW " failed";

	(void)state;
	line_escape(shown, sizeof(shown), line, strlen(line));
	assert_string_equal(shown, "A2 NO LOGIN monitor s3cret-P...");
	assert_int_equal(red(s, sizeof(s), shown, "monitor", PW), 1);
	assert_string_equal(s, "A2 NO LOGIN monitor (password)...");
	/* ...inside a longer message, as the driver formats it. */
	char msg[128];
	snprintf(msg, sizeof(msg), "server closed mid-line (got '%s')", shown);
	assert_int_equal(red(s, sizeof(s), msg, "monitor", PW), 1);
	assert_string_equal(s, "server closed mid-line (got 'A2 NO LOGIN monitor (password)...')");
	/* Filled to the last byte: the tail may be a password's start. */
	assert_int_equal(red(small, sizeof(small), "PASS " PW " rejected", "monitor", PW), 1);
	assert_string_equal(small, "PASS (password) reject");
	assert_int_equal(red(small, sizeof(small), "-ERR unknown: PASS s3cr", "m", PW), 1);
	assert_string_equal(small, "-ERR unknown: PASS (pas");
	/* Dots are text too: a password that begins with one is found among them. */
	assert_int_equal(red(s, sizeof(s), "b%a...s-Y-b3", "m", ".s-Y"), 1);
	assert_string_equal(s, "b%a..(password)-b3");
	/* Under REDACT_MIN bytes of it, or not at a cut: left alone. */
	assert_int_equal(red(small, sizeof(small), "-ERR unknown:: PASS s3c", "m", PW), 0);
	assert_int_equal(red(s, sizeof(s), "we keep s3cr here", "m", PW), 0);
	assert_string_equal(s, "we keep s3cr here");
	/* A form longer than the mark: the string shrinks, no old byte stays behind. */
	char buf[64];
	memset(buf, 'x', sizeof(buf));
	snprintf(buf, sizeof(buf), "a %s b", "a-much-longer-password-here");
	assert_int_equal(redact_text(buf, sizeof(buf), "m", "a-much-longer-password-here"), 1);
	assert_string_equal(buf, "a (password) b");
	for (size_t i = strlen(buf); i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
}

/* The mark is longer than a short password: the result is cut to the buffer, never overrun. */
static void test_growth_is_bounded(void **state)
{
	char s[16];

	(void)state;
	assert_true(red(s, sizeof(s), "ab ab ab ab ab", "m", "ab") > 0);
	assert_int_equal(strlen(s), sizeof(s) - 1);
	assert_string_equal(s, "(password) (pas");
}

static void test_result_every_string(void **state)
{
	struct result r;
	static const char raw[] = "\0monitor\0" PW;
	char sasl[64];

	(void)state;
	b64(sasl, raw, sizeof(raw) - 1);
	result_init(&r, 0);
	result_fail(&r, MP_R_AUTH_FAILED, "login failed: NO LOGIN monitor %s failed", PW);
	snprintf(r.greeting, sizeof(r.greeting), "* OK hello %s", PW);
	snprintf(r.capabilities, sizeof(r.capabilities), "IMAP4rev1 X-%s", PW);
	result_warn(&r, "warning %s", sasl);
	r.naddrs = 2;
	snprintf(r.addrs[0].message, sizeof(r.addrs[0].message), "PASS %s", PW);
	snprintf(r.addrs[1].message, sizeof(r.addrs[1].message), "fine");
	snprintf(r.tls.chain[0].subject, sizeof(r.tls.chain[0].subject), "CN=%s", PW);
	snprintf(r.tls.sans, sizeof(r.tls.sans), "DNS:%s", PW);
	redact_result(&r, "monitor", PW);

	assert_string_equal(r.message, "login failed: NO LOGIN monitor (password) failed");
	assert_string_equal(r.greeting, "* OK hello (password)");
	assert_string_equal(r.capabilities, "IMAP4rev1 X-(password)");
	assert_string_equal(r.warnings[0], "warning (password)");
	assert_string_equal(r.addrs[0].message, "PASS (password)");
	assert_string_equal(r.addrs[1].message, "fine");
	assert_string_equal(r.tls.chain[0].subject, "CN=(password)");
	assert_string_equal(r.tls.sans, "DNS:(password)");
	/* Not a byte of the password anywhere in the struct, even past the strings' ends. */
	assert_false(holds(&r, sizeof(r), PW));
	assert_false(holds(&r, sizeof(r), sasl));
	/* No password: nothing changes. */
	redact_result(&r, "monitor", NULL);
	assert_string_equal(r.greeting, "* OK hello (password)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_forms),        cmocka_unit_test(test_base64_forms),
	    cmocka_unit_test(test_quoted_and_escaped), cmocka_unit_test(test_escaped_bytes),
	    cmocka_unit_test(test_short_password),     cmocka_unit_test(test_cut),
	    cmocka_unit_test(test_growth_is_bounded),  cmocka_unit_test(test_result_every_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
