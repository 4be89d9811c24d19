/* SPDX-License-Identifier: ISC */
/*
 * line.h - bounded server lines: finding them, checking them, showing them.
 *
 * Every byte here came from the network and is hostile. Nothing in this
 * module allocates; every function is bounded by its arguments.
 */
#ifndef MP_LINE_H
#define MP_LINE_H

#include <stddef.h>

/*
 * The longest server line we accept, without its line ending. RFC 9051
 * recommends clients accept at least 8000 octets; real CAPABILITY lines are
 * under 1 KiB. Anything past this is line_too_long.
 */
#define LINE_MAX_LEN (64 * 1024)

enum line_scan {
	LINE_INCOMPLETE, /* no line ending yet, and under LINE_MAX_LEN */
	LINE_FOUND,      /* *len bytes of line, then *eol bytes of CRLF or LF */
	LINE_TOO_LONG,   /* no line ending within LINE_MAX_LEN bytes */
};

/*
 * Look for one line at the start of buf[0..n). Accepts CRLF and bare LF
 * (servers that send bare LF exist; a lone CR inside a line stays part of
 * it). Never reads past n.
 */
enum line_scan line_scan(const char *buf, size_t n, size_t *len, size_t *eol);

/* Offset of the first NUL byte in s[0..n), or -1 when there is none. */
long line_find_nul(const char *s, size_t n);

/*
 * Write s[0..n) to dst as printable ASCII: \r \n \t \\ and \xNN for every
 * other byte outside 0x20..0x7e, cut with "..." so that the output with
 * its NUL fits dstsz. Returns strlen(dst). dstsz must be at least 4.
 */
size_t line_escape(char *dst, size_t dstsz, const char *s, size_t n);

/* Case-insensitive ASCII prefix test of s[0..n) against the C string p. */
int line_has_prefix(const char *s, size_t n, const char *p);

/* Case-insensitive ASCII substring search; returns 1 when found. */
int line_contains(const char *s, size_t n, const char *needle, int nocase);

#endif
