/* SPDX-License-Identifier: ISC */
/*
 * test_notify_judge.c - notify_judge(): the verdict and the detail of one
 * HTTP or SMTP attempt, from what libcurl reported (fuzz/fuzz_notify.c
 * feeds it arbitrary replies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "notify/notify.h"

/* libcurl's codes used here (curl/curl.h), kept out of the test's includes. */
#define RC_OK              0
#define RC_COULDNT_CONNECT 7
#define RC_PARTIAL_FILE    18
#define RC_OPERATION_TIMEO 28
#define RC_SSL_PEER_CERT   60
#define RC_SEND_ERROR_SMTP 55
#define DETAIL_MAX         512

static void judge(enum channel_type t, int rc, long code, long oserr, const char *errbuf,
                  const char *body, int *ok, int *retry, char *detail)
{
	struct notify_reply r = {
	    .type = t,
	    .curl_rc = rc,
	    .code = code,
	    .os_errno = oserr,
	    .timeout_ms = 5000,
	    .errbuf = errbuf,
	    .body = body,
	    .bodylen = body ? strlen(body) : 0,
	};

	notify_judge(&r, ok, retry, detail, DETAIL_MAX);
}

static void test_2xx_is_delivered(void **state)
{
	char d[DETAIL_MAX];
	int ok, retry;

	(void)state;
	judge(CH_WEBHOOK, RC_OK, 200, 0, "", "{}", &ok, &retry, d);
	assert_int_equal(ok, 1);
	assert_string_equal(d, "HTTP 200");
	judge(CH_SLACK, RC_PARTIAL_FILE, 200, 0, "transfer closed", "", &ok, &retry, d);
	assert_int_equal(ok, 1);
	assert_string_equal(d, "HTTP 200 (then: transfer closed)");
}

static void test_http_errors(void **state)
{
	char d[DETAIL_MAX];
	int ok, retry;

	(void)state;
	judge(CH_WEBHOOK, RC_OK, 500, 0, "", "oops\r\n", &ok, &retry, d);
	assert_int_equal(ok, 0);
	assert_int_equal(retry, 1);
	assert_string_equal(d, "HTTP 500: oops");
	judge(CH_WEBHOOK, RC_OK, 404, 0, "", "no\x1b[31m", &ok, &retry, d);
	assert_int_equal(retry, 0);
	assert_string_equal(d, "HTTP 404: no\\x1b[31m");
	judge(CH_WEBHOOK, RC_COULDNT_CONNECT, 0, ECONNREFUSED, "Failed to connect", NULL, &ok,
	      &retry, d);
	assert_int_equal(ok, 0);
	assert_int_equal(retry, 1);
	assert_string_equal(d, "connect refused: Failed to connect");
	judge(CH_WEBHOOK, RC_OPERATION_TIMEO, 0, 0, "timed out", NULL, &ok, &retry, d);
	assert_string_equal(d, "timed out after 5000 ms: timed out");
}

static void test_smtp(void **state)
{
	char d[DETAIL_MAX];
	int ok, retry;

	(void)state;
	judge(CH_EMAIL, RC_OK, 250, 0, "", NULL, &ok, &retry, d);
	assert_int_equal(ok, 1);
	assert_string_equal(d, "SMTP 250");
	judge(CH_EMAIL, RC_SEND_ERROR_SMTP, 550, 0, "RCPT failed: 550", NULL, &ok, &retry, d);
	assert_int_equal(ok, 0);
	assert_int_equal(retry, 0);
	assert_string_equal(d, "SMTP 550: RCPT failed: 550");
	judge(CH_EMAIL, RC_SEND_ERROR_SMTP, 451, 0, "RCPT failed: 451", NULL, &ok, &retry, d);
	assert_int_equal(retry, 1);
}

/*
 * libcurl's error buffer may quote the server: the subject name of a
 * certificate that does not match (curl's OpenSSL backend says so), a
 * status line. It reached the detail raw, control bytes and all (terminal
 * escapes into the log, the store and the dashboard); now escaped.
 */
static void test_errbuf_escaped(void **state)
{
	char d[DETAIL_MAX];
	int ok, retry;

	(void)state;
	judge(CH_WEBHOOK, RC_SSL_PEER_CERT, 0, 0,
	      "SSL: certificate subject name 'x\x1b]0;pwned\x07\r\n' does not match", NULL, &ok,
	      &retry, d);
	assert_int_equal(ok, 0);
	assert_string_equal(
	    d, "SSL: certificate subject name 'x\\x1b]0;pwned\\x07\\r\\n' does not match");
	judge(CH_TEAMS, RC_PARTIAL_FILE, 204, 0, "bad\tchunk", NULL, &ok, &retry, d);
	assert_int_equal(ok, 1);
	assert_string_equal(d, "HTTP 204 (then: bad\\tchunk)");
	for (const char *p = d; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_2xx_is_delivered),
	    cmocka_unit_test(test_http_errors),
	    cmocka_unit_test(test_smtp),
	    cmocka_unit_test(test_errbuf_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
