/* SPDX-License-Identifier: ISC */
/*
 * fuzz_line.c - libFuzzer harness for line_scan, line_escape and the
 * matchers. Input: one byte choosing the escape buffer size, then bytes as
 * they would arrive from a server.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/line.h"

#define GUARD 16

static void check_escape(const char *s, size_t n, size_t dstsz)
{
	char buf[96 + GUARD];

	memset(buf, 0xA5, sizeof(buf));
	size_t o = line_escape(buf, dstsz, s, n);
	if (dstsz == 0) {
		CHECK(o == 0 && (unsigned char)buf[0] == 0xA5);
		return;
	}
	CHECK(o < dstsz);
	CHECK(buf[o] == '\0' && strlen(buf) == o);
	for (size_t i = 0; i < o; i++)
		CHECK(buf[i] >= 0x20 && buf[i] < 0x7f);
	for (size_t i = dstsz; i < sizeof(buf); i++)
		CHECK((unsigned char)buf[i] == 0xA5);
	/* Cut output ends in "..."; whole output has exactly n source bytes' worth. */
	if (dstsz >= 4 && (o < 3 || memcmp(buf + o - 3, "...", 3) != 0)) {
		size_t want = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			want += (c == '\\' || c == '\r' || c == '\n' || c == '\t') ? 2
			        : (c >= 0x20 && c < 0x7f)                          ? 1
			                                                           : 4;
		}
		CHECK(want == o);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t dstsz = data[0] % 97;
	size_t n = size - 1;
	/* An exact-size copy, so ASan sees any read past n. */
	char *buf = malloc(n ? n : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, n);

	const char *s = buf;
	size_t left = n;
	for (;;) {
		size_t len = 0, eol = 0;
		enum line_scan ls = line_scan(s, left, &len, &eol);
		if (ls == LINE_INCOMPLETE) {
			CHECK(left == 0 || !memchr(s, '\n', left));
			CHECK(left <= LINE_MAX_LEN + 1);
			check_escape(s, left, dstsz);
			break;
		}
		if (ls == LINE_TOO_LONG) {
			CHECK(left > LINE_MAX_LEN);
			break;
		}
		CHECK(ls == LINE_FOUND);
		CHECK(eol == 1 || eol == 2);
		CHECK(len <= LINE_MAX_LEN && len + eol <= left);
		CHECK(s[len + eol - 1] == '\n');
		CHECK(eol == 1 || s[len] == '\r');
		CHECK(!memchr(s, '\n', len));
		check_escape(s, len, dstsz);

		long z = line_find_nul(s, len);
		CHECK(z == -1 || (z >= 0 && (size_t)z < len && s[z] == '\0'));
		CHECK(z != -1 || !memchr(s, '\0', len));
		/* A prefix of the line, as a C string, is found in it and prefixes it. */
		size_t k = len < 8 ? len : 8;
		char needle[9];
		memcpy(needle, s, k);
		needle[k] = '\0';
		if (strlen(needle) == k) {
			CHECK(line_has_prefix(s, len, needle));
			CHECK(line_contains(s, len, needle, 0));
			CHECK(line_contains(s, len, needle, 1));
		}
		/* A needle longer than the line is never found. */
		char longer[10];
		memset(longer, 'a', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		if (len < sizeof(longer) - 1)
			CHECK(!line_contains(s, len, longer, 1));
		s += len + eol;
		left -= len + eol;
	}
	free(buf);
	return 0;
}
