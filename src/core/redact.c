/* SPDX-License-Identifier: ISC */
/*
 * redact.c - the password's forms, found and replaced in server text.
 *
 * O(length x forms x form length) per string, with an early exit on the
 * first differing byte: a few microseconds for the dozen strings of one
 * result, and only for probes that log in.
 */
#include "core/redact.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/line.h"
#include "core/proto.h"

/* Longest password whose derived forms are built; longer ones are redacted raw only. */
#define REDACT_PW_MAX REDACT_SECRET_MAX
#define REDACT_FORMS  6
/* Strings up to this size are rewritten on the stack; larger ones on the heap. */
#define REDACT_STACK 2048

/*
 * The forms of one password. Lives on the caller's stack for one call of
 * redact_result() or redact_text(); forms_wipe() wipes it.
 */
struct forms {
	const char *f[REDACT_FORMS]; /* longest first */
	size_t n[REDACT_FORMS];
	int count;
	char quoted[2 * REDACT_PW_MAX + 1];
	char esc[4 * REDACT_PW_MAX + 1];
	char esc_quoted[4 * REDACT_PW_MAX + 1];
	char b64_pw[(REDACT_PW_MAX + 2) / 3 * 4 + 1];
	unsigned char plain[PROTO_PLAIN_MAX];
	char b64_plain[(PROTO_PLAIN_MAX + 2) / 3 * 4 + 1];
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int same(const char *a, const char *b, size_t n, int nocase)
{
	for (size_t i = 0; i < n; i++) {
		int x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (nocase ? lower(x) != lower(y) : x != y)
			return 0;
	}
	return 1;
}

/* Add a form unless it is empty or already there; keeps the list longest first. */
static void forms_add(struct forms *fs, const char *f, size_t n)
{
	int at;

	if (n == 0 || fs->count >= REDACT_FORMS)
		return;
	for (int i = 0; i < fs->count; i++)
		if (fs->n[i] == n && same(fs->f[i], f, n, 0))
			return;
	for (at = fs->count; at > 0 && fs->n[at - 1] < n; at--) {
		fs->f[at] = fs->f[at - 1];
		fs->n[at] = fs->n[at - 1];
	}
	fs->f[at] = f;
	fs->n[at] = n;
	fs->count++;
}

/* IMAP quoted-string content, as the core writes it: \ and " get a backslash. */
static size_t quote(char *dst, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '"')
			dst[o++] = '\\';
		dst[o++] = s[i];
	}
	dst[o] = '\0';
	return o;
}

static void forms_init(struct forms *fs, const char *login, const char *pw)
{
	size_t pl = strlen(pw), ul = login ? strlen(login) : 0;

	memset(fs, 0, sizeof(*fs));
	forms_add(fs, pw, pl);
	if (pl > REDACT_PW_MAX)
		return;
	size_t ql = quote(fs->quoted, pw, pl);
	forms_add(fs, fs->quoted, ql);
	/* Sized for 4 bytes out per byte in: line_escape never cuts these. */
	forms_add(fs, fs->esc, line_escape(fs->esc, sizeof(fs->esc), pw, pl));
	forms_add(fs, fs->esc_quoted,
	          line_escape(fs->esc_quoted, sizeof(fs->esc_quoted), fs->quoted, ql));
	forms_add(fs, fs->b64_pw,
	          (size_t)EVP_EncodeBlock((unsigned char *)fs->b64_pw, (const unsigned char *)pw,
	                                  (int)pl));
	if (login && ul + pl + 2 <= sizeof(fs->plain)) {
		fs->plain[0] = '\0';
		memcpy(fs->plain + 1, login, ul);
		fs->plain[1 + ul] = '\0';
		memcpy(fs->plain + 2 + ul, pw, pl);
		forms_add(fs, fs->b64_plain,
		          (size_t)EVP_EncodeBlock((unsigned char *)fs->b64_plain, fs->plain,
		                                  (int)(ul + pl + 2)));
	}
}

static void forms_wipe(struct forms *fs)
{
	OPENSSL_cleanse(fs, sizeof(*fs));
}

/* Length of the form that starts at s[i], or 0 (see the rules in redact.h). */
static size_t match_at(const struct forms *fs, const char *s, size_t len, size_t i)
{
	for (int k = 0; k < fs->count; k++) {
		size_t n = fs->n[k];

		if (n > len - i)
			continue;
		if (n >= REDACT_MIN) {
			if (same(s + i, fs->f[k], n, 1))
				return n;
		} else if (same(s + i, fs->f[k], n, 0) &&
		           (i == 0 || !is_word((unsigned char)s[i - 1])) &&
		           (i + n == len || !is_word((unsigned char)s[i + n]))) {
			return n;
		}
	}
	return 0;
}

/*
 * The longest tail of s[from..end) of at least REDACT_MIN bytes that begins
 * some form (and is not all of it: whole forms were replaced already), or 0.
 */
static size_t cut_tail(const struct forms *fs, const char *s, size_t from, size_t end)
{
	size_t best = 0;

	for (int k = 0; k < fs->count; k++) {
		size_t max = fs->n[k] - 1;
		if (max > end - from)
			max = end - from;
		for (size_t t = max; t >= REDACT_MIN && t > best; t--) {
			if (same(s + end - t, fs->f[k], t, 1)) {
				best = t;
				break;
			}
		}
	}
	return best;
}

/* Append n bytes to out (cap bytes with its NUL); -1 when they did not all fit. */
static int put(char *out, size_t cap, size_t *o, const char *b, size_t n)
{
	size_t room = cap - 1 - *o;
	size_t k = n < room ? n : room;

	memcpy(out + *o, b, k);
	*o += k;
	return k == n ? 0 : -1;
}

static int redact_with(const struct forms *fs, char *s, size_t cap)
{
	char stackbuf[REDACT_STACK], *out = stackbuf;
	size_t len, o = 0, i = 0, plain_from = 0;
	const size_t markl = strlen(REDACT_MARK);
	int hits = 0, full;

	if (cap == 0 || fs->count == 0)
		return 0;
	len = strnlen(s, cap - 1);
	/* Filled to the last byte: it was (or may have been) cut there. */
	full = len == cap - 1;
	if (cap > sizeof(stackbuf) && !(out = malloc(cap))) {
		/* Cannot rewrite it safely: show nothing of it rather than the secret. */
		OPENSSL_cleanse(s, cap);
		snprintf(s, cap, "%s", REDACT_MARK);
		return 1;
	}
	while (i < len) {
		size_t m = match_at(fs, s, len, i);
		if (m) {
			hits++;
			i += m;
			plain_from = i;
			if (put(out, cap, &o, REDACT_MARK, markl) < 0)
				goto done;
			continue;
		}
		if (len - i >= 3 && memcmp(s + i, "...", 3) == 0) {
			/* line_escape() may have cut here: what precedes may be a cut password. */
			size_t t = cut_tail(fs, s, plain_from, i);
			if (t) {
				hits++;
				o -= t; /* plain bytes since plain_from were copied one for one */
				plain_from = i;
				if (put(out, cap, &o, REDACT_MARK, markl) < 0)
					goto done;
			}
			/* The dots themselves are plain bytes: a form may begin at any of them. */
		}
		if (put(out, cap, &o, s + i, 1) < 0)
			goto done;
		i++;
	}
	if (full) {
		size_t t = cut_tail(fs, s, plain_from, len);
		if (t) {
			hits++;
			o -= t;
			(void)put(out, cap, &o, REDACT_MARK, markl);
		}
	}
done:
	if (hits) {
		memcpy(s, out, o);
		/* No stale byte of the old text stays behind the new end. */
		memset(s + o, 0, cap - o);
	}
	OPENSSL_cleanse(out, o);
	if (out != stackbuf)
		free(out);
	return hits;
}

int redact_text(char *s, size_t cap, const char *login, const char *password)
{
	struct forms fs;
	int hits;

	if (!password || !*password)
		return 0;
	forms_init(&fs, login, password);
	hits = redact_with(&fs, s, cap);
	forms_wipe(&fs);
	return hits;
}

void redact_result(struct result *r, const char *login, const char *password)
{
	struct forms fs;

	if (!password || !*password)
		return;
	forms_init(&fs, login, password);
	redact_with(&fs, r->message, sizeof(r->message));
	redact_with(&fs, r->greeting, sizeof(r->greeting));
	redact_with(&fs, r->capabilities, sizeof(r->capabilities));
	for (int i = 0; i < RESULT_WARN_MAX; i++)
		redact_with(&fs, r->warnings[i], sizeof(r->warnings[i]));
	for (int i = 0; i < RESULT_ADDR_MAX; i++)
		redact_with(&fs, r->addrs[i].message, sizeof(r->addrs[i].message));
	redact_with(&fs, r->tls.verify_msg, sizeof(r->tls.verify_msg));
	redact_with(&fs, r->tls.sans, sizeof(r->tls.sans));
	for (int i = 0; i < RESULT_CHAIN_MAX; i++) {
		redact_with(&fs, r->tls.chain[i].subject, sizeof(r->tls.chain[i].subject));
		redact_with(&fs, r->tls.chain[i].issuer, sizeof(r->tls.chain[i].issuer));
	}
	forms_wipe(&fs);
}
