/* SPDX-License-Identifier: ISC */
/*
 * fuzz_notify.c - notify_judge(): how a webhook, chat, PagerDuty or SMTP
 * reply becomes a verdict and the one-line detail that the store, the log
 * and the dashboard show.
 *
 * Input: 16 bytes of header, then the errbuf and the body.
 *   [0]      channel type (mod the number of types)
 *   [1..2]   CURLcode (big-endian, mod 128: libcurl's codes and beyond)
 *   [3..6]   response code (big-endian, signed: curl's long)
 *   [7..8]   OS errno
 *   [9..12]  timeout in ms
 *   [13]     errbuf length (cut to CURL_ERROR_SIZE - 1)
 *   [14..15] unused
 *   then errbuf bytes, then the body (cut to 256, as notify.c keeps it).
 *
 * CHECKs: the detail is NUL-terminated within its buffer, holds no control
 * byte nor DEL, and any 2xx on an HTTP channel is delivered.
 */
#include <string.h>

#include "fuzz.h"
#include "notify/notify.h"

#define ERRBUF_SIZE 256 /* CURL_ERROR_SIZE */
#define BODY_MAX    256 /* NOTIFY_RESPONSE_MAX */
#define DETAIL_MAX  512 /* NOTIFY_DETAIL_MAX */
#define CH_TYPES    (CH_COMMAND + 1)

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errbuf[ERRBUF_SIZE], body[BODY_MAX], detail[DETAIL_MAX + 1];
	struct notify_reply r;
	size_t elen, blen;
	int ok = -1, retryable = -1;

	if (size < 16)
		return 0;
	memset(&r, 0, sizeof(r));
	r.type = (enum channel_type)(data[0] % CH_TYPES);
	r.curl_rc = (int)(be(data + 1, 2) % 128);
	r.code = (long)(int32_t)be(data + 3, 4);
	r.os_errno = (long)be(data + 7, 2);
	r.timeout_ms = be(data + 9, 4);
	elen = data[13];
	data += 16;
	size -= 16;
	if (elen > size)
		elen = size;
	if (elen > ERRBUF_SIZE - 1)
		elen = ERRBUF_SIZE - 1;
	memcpy(errbuf, data, elen);
	errbuf[elen] = '\0'; /* libcurl's: a C string, maybe shorter than elen */
	data += elen;
	size -= elen;
	blen = size < BODY_MAX ? size : BODY_MAX;
	memcpy(body, data, blen);
	r.errbuf = errbuf;
	r.body = body;
	r.bodylen = blen;

	/* A canary past the bound the function is given. */
	memset(detail, 'Z', sizeof(detail));
	notify_judge(&r, &ok, &retryable, detail, DETAIL_MAX);
	CHECK(detail[DETAIL_MAX] == 'Z');
	CHECK(memchr(detail, '\0', DETAIL_MAX) != NULL);
	CHECK(ok == 0 || ok == 1);
	CHECK(retryable == 0 || retryable == 1);
	for (const char *p = detail; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	if (r.type != CH_EMAIL && r.code >= 200 && r.code < 300)
		CHECK(ok == 1);
	if (ok)
		CHECK(strlen(detail) > 0);
	return 0;
}
