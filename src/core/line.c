/* SPDX-License-Identifier: ISC */
/*
 * line.c - bounded line scanning and escaping of server text.
 */
#include "core/line.h"

#include <string.h>

enum line_scan line_scan(const char *buf, size_t n, size_t *len, size_t *eol)
{
	size_t lim = n < LINE_MAX_LEN + 2 ? n : LINE_MAX_LEN + 2;
	/* memchr on a NULL pointer is undefined even for zero bytes. */
	const char *lf = lim ? memchr(buf, '\n', lim) : NULL;

	if (!lf) {
		/* A full-length line whose CR came without its LF yet is still incomplete. */
		if (n == LINE_MAX_LEN + 1 && buf[LINE_MAX_LEN] == '\r')
			return LINE_INCOMPLETE;
		return n > LINE_MAX_LEN ? LINE_TOO_LONG : LINE_INCOMPLETE;
	}
	size_t l = (size_t)(lf - buf);
	size_t e = 1;
	if (l > 0 && buf[l - 1] == '\r') {
		l--;
		e = 2;
	}
	if (l > LINE_MAX_LEN)
		return LINE_TOO_LONG;
	*len = l;
	*eol = e;
	return LINE_FOUND;
}

long line_find_nul(const char *s, size_t n)
{
	const char *z = n ? memchr(s, '\0', n) : NULL;

	return z ? (long)(z - s) : -1;
}

size_t line_escape(char *dst, size_t dstsz, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, cut = 0;

	if (dstsz < 4) {
		if (dstsz)
			dst[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[4];
		size_t k = 0;

		if (c == '\\') {
			tmp[k++] = '\\';
			tmp[k++] = '\\';
		} else if (c == '\r') {
			tmp[k++] = '\\';
			tmp[k++] = 'r';
		} else if (c == '\n') {
			tmp[k++] = '\\';
			tmp[k++] = 'n';
		} else if (c == '\t') {
			tmp[k++] = '\\';
			tmp[k++] = 't';
		} else if (c >= 0x20 && c < 0x7f) {
			tmp[k++] = (char)c;
		} else {
			tmp[k++] = '\\';
			tmp[k++] = 'x';
			tmp[k++] = hex[c >> 4];
			tmp[k++] = hex[c & 15];
		}
		/*
		 * Fill greedily, remembering the last cut after which "..." still
		 * fits: whether we must cut is only known once the input does
		 * not fit, and input that fits exactly is shown whole.
		 */
		if (o + k > dstsz - 1) {
			memcpy(dst + cut, "...", 3);
			dst[cut + 3] = '\0';
			return cut + 3;
		}
		memcpy(dst + o, tmp, k);
		o += k;
		if (o + 3 <= dstsz - 1)
			cut = o;
	}
	dst[o] = '\0';
	return o;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int line_has_prefix(const char *s, size_t n, const char *p)
{
	size_t pl = strlen(p);

	if (pl > n)
		return 0;
	for (size_t i = 0; i < pl; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)p[i]))
			return 0;
	return 1;
}

int line_contains(const char *s, size_t n, const char *needle, int nocase)
{
	size_t nl = strlen(needle);

	if (nl == 0)
		return 1;
	for (size_t i = 0; i + nl <= n; i++) {
		size_t j = 0;
		while (j < nl &&
		       (nocase ? lower((unsigned char)s[i + j]) == lower((unsigned char)needle[j])
		               : s[i + j] == needle[j]))
			j++;
		if (j == nl)
			return 1;
	}
	return 0;
}
