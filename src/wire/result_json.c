/* SPDX-License-Identifier: ISC */
/*
 * result_json.c - the result as JSON (docs/json.md): the one encoder and
 * its bounded, strict decoder.
 *
 * The encoder never writes a string the decoder would refuse: every string
 * is cut to its fixed field and shown escaped when it holds a control byte
 * or is not UTF-8, lists are cut to what fits when joined again, and what
 * is derived (the leaf's fields, days_left, expires_first) is derived here
 * from the chain. So a result the encoder wrote always decodes, and
 * encodes again to the same text.
 *
 * The decoder reads bytes from another machine: it refuses rather than
 * repairs, and names the field in every error (the reading it shares with
 * node_json.c is in jsonrd.c).
 */
#include "wire/result_json.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/line.h"
#include "spec/isotime.h"
#include "wire/jsonrd.h"

/* Phase times above a day are no probe's: the longest deadline is an hour. */
#define WIRE_MS_MAX 86400000.0
/* Whole days between year 0 and year 9999, either way. */
#define WIRE_DAYS_MAX 3700000
/* Unix seconds of 9999-12-31T23:59:59Z and of 0000-01-01T00:00:00Z. */
#define WIRE_SEC_MAX 253402300799LL
#define WIRE_SEC_MIN (-62167219200LL)

/* Check and location names are read into fields that hold the longest jsonrd_name_ok() takes. */
_Static_assert(RESULT_META_NAME_MAX == JSONRD_NAME_MAX + 1, "RESULT_META_NAME_MAX");

/* ---- encoder ---- */

/*
 * s as a JSON string that fits a field of sz bytes (with its NUL): cut to
 * sz - 1 bytes; a string with a control byte, or not UTF-8 (a cut may
 * split a character), is shown escaped instead, itself cut to fit.
 */
static json_t *jfield(const char *s, size_t sz)
{
	size_t n = strnlen(s, sz - 1);
	char buf[RESULT_CAPS_MAX];
	json_t *j;

	if (jsonrd_control_at(s, n) == n && (j = json_stringn(s, n)))
		return j;
	if (sz > sizeof(buf))
		sz = sizeof(buf);
	line_escape(buf, sz, s, strnlen(s, sz));
	return json_string(buf);
}

static json_t *jfield_or_null(const char *s, size_t sz)
{
	return *s ? jfield(s, sz) : json_null();
}

/*
 * Numbers are clamped to what the decoder takes, so that the encoder never
 * writes what it refuses; the engine's values are far inside (a phase ends
 * at the deadline, an hour at most; certificate dates are years 0 to 9999).
 */
static json_t *jms(int64_t us)
{
	if (us < 0)
		return json_null();
	return json_real(us > (int64_t)WIRE_MS_MAX * 1000 ? WIRE_MS_MAX : (double)us / 1000.0);
}

static json_t *jdays(int64_t days)
{
	return json_integer(days < -WIRE_DAYS_MAX  ? -WIRE_DAYS_MAX
	                    : days > WIRE_DAYS_MAX ? WIRE_DAYS_MAX
	                                           : days);
}

/* "YYYY-MM-DDTHH:MM:SSZ" of unix seconds; 0 when outside years 0 to 9999. */
static int fmt_date(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < WIRE_SEC_MIN || t > WIRE_SEC_MAX || !gmtime_r(&tt, &tm))
		return 0;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 1;
}

static int64_t clamp_sec(int64_t t)
{
	return t < WIRE_SEC_MIN ? WIRE_SEC_MIN : t > WIRE_SEC_MAX ? WIRE_SEC_MAX : t;
}

static json_t *jdate(int64_t t)
{
	char buf[32];

	return fmt_date(buf, sizeof(buf), clamp_sec(t)) ? json_string(buf) : json_null();
}

/* Milliseconds round down to the second they fall in. */
static int64_t ms_to_sec(int64_t ms)
{
	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

static void append(json_t *a, json_t *v, int *bad)
{
	if (!v || json_array_append_new(a, v) < 0)
		*bad = 1;
}

/*
 * The pieces of s between separators (any byte of seps), blanks around
 * them dropped, empty ones left out; each cut to piece_sz. The pieces are
 * joined again with join by the decoder: no more are written than fit
 * joined in total_sz, and a list that did not fit ends in "...".
 */
static json_t *jsplit(const char *s, const char *seps, size_t piece_sz, const char *join,
                      size_t total_sz, int *bad)
{
	json_t *a = json_array();
	size_t used = 0, jl = strlen(join);

	if (!a) {
		*bad = 1;
		return NULL;
	}
	while (*s) {
		size_t n = strcspn(s, seps);
		const char *p = s;
		size_t m = n;

		while (m && *p == ' ') {
			p++;
			m--;
		}
		/* Cut first, then trim: a cut must not leave a blank at the end. */
		if (m >= piece_sz)
			m = piece_sz - 1;
		while (m && p[m - 1] == ' ')
			m--;
		if (m) {
			char piece[RESULT_CAPS_MAX];
			json_t *j;

			memcpy(piece, p, m);
			piece[m] = '\0';
			j = jfield(piece, piece_sz);
			if (!j) {
				*bad = 1;
				break;
			}
			size_t k = (used ? jl : 0) + json_string_length(j);
			if (used + k > total_sz - 1) {
				json_decref(j);
				if (used + (used ? jl : 0) + 3 <= total_sz - 1)
					append(a, json_string("..."), bad);
				break;
			}
			used += k;
			append(a, j, bad);
		}
		s += n;
		if (*s)
			s++;
	}
	return a;
}

static json_t *enc_cert(const struct cert_facts *cf, int *bad)
{
	json_t *o = json_object();

	if (!o) {
		*bad = 1;
		return NULL;
	}
	jsonrd_put(o, "subject", jfield(cf->subject, sizeof(cf->subject)), bad);
	jsonrd_put(o, "issuer", jfield(cf->issuer, sizeof(cf->issuer)), bad);
	jsonrd_put(o, "not_before", jdate(cf->not_before), bad);
	jsonrd_put(o, "not_after", jdate(cf->not_after), bad);
	jsonrd_put(o, "sha256", json_string(jsonrd_hex64(cf->sha256) ? cf->sha256 : ""), bad);
	return o;
}

/*
 * The certificate of the chain that expires first (the first of equals),
 * over the dates as written, so the decoder finds the same one.
 */
static int earliest_of(const struct cert_facts *chain, int n)
{
	int e = 0;

	for (int i = 1; i < n; i++)
		if (clamp_sec(chain[i].not_after) < clamp_sec(chain[e].not_after))
			e = i;
	return e;
}

static json_t *enc_tls(const struct tls_facts *t, int *bad)
{
	int n = t->chain_len < 0                  ? 0
	        : t->chain_len > RESULT_CHAIN_MAX ? RESULT_CHAIN_MAX
	                                          : t->chain_len;
	int have = n > 0, e = have ? earliest_of(t->chain, n) : 0;
	const struct cert_facts *leaf = &t->chain[0], *first = &t->chain[e];
	json_t *o, *chain;

	if (!t->used)
		return json_null();
	o = json_object();
	if (!o) {
		*bad = 1;
		return NULL;
	}
	jsonrd_put(o, "version", jfield_or_null(t->version, sizeof(t->version)), bad);
	jsonrd_put(o, "cipher", jfield_or_null(t->cipher, sizeof(t->cipher)), bad);
	jsonrd_put(o, "verified", json_boolean(t->verified), bad);
	jsonrd_put(o, "verify_reused", json_boolean(t->verify_reused), bad);
	jsonrd_put(o, "verify_error",
	           t->verify_code ? jfield(t->verify_msg, sizeof(t->verify_msg)) : json_null(),
	           bad);
	jsonrd_put(o, "subject", have ? jfield(leaf->subject, sizeof(leaf->subject)) : json_null(),
	           bad);
	jsonrd_put(o, "issuer", have ? jfield(leaf->issuer, sizeof(leaf->issuer)) : json_null(),
	           bad);
	jsonrd_put(o, "sans", jsplit(t->sans, ",", RESULT_SANS_MAX, ", ", RESULT_SANS_MAX, bad),
	           bad);
	jsonrd_put(o, "not_before", have ? jdate(leaf->not_before) : json_null(), bad);
	jsonrd_put(o, "not_after", have ? jdate(leaf->not_after) : json_null(), bad);
	jsonrd_put(o, "days_left", have ? jdays(t->days_left) : json_null(), bad);
	jsonrd_put(o, "sha256",
	           have ? json_string(jsonrd_hex64(leaf->sha256) ? leaf->sha256 : "") : json_null(),
	           bad);
	jsonrd_put(o, "expires_first",
	           have ? jfield(first->subject, sizeof(first->subject)) : json_null(), bad);
	chain = json_array();
	if (!chain)
		*bad = 1;
	for (int i = 0; chain && i < n; i++)
		append(chain, enc_cert(&t->chain[i], bad), bad);
	jsonrd_put(o, "chain", chain, bad);
	/* Added in version 0.2: the names of "cert_not_after and friends" (docs/json.md). */
	jsonrd_put(o, "cert_not_after", have ? jdate(first->not_after) : json_null(), bad);
	jsonrd_put(o, "leaf_not_after", have ? jdate(leaf->not_after) : json_null(), bad);
	jsonrd_put(o, "verify_code", t->verify_code ? json_integer(t->verify_code) : json_null(),
	           bad);
	jsonrd_put(o, "verify_depth",
	           t->verify_code ? json_integer(t->verify_depth < -1 ? -1 : t->verify_depth)
	                          : json_null(),
	           bad);
	return o;
}

static json_t *enc_addrs(const struct result *r, int *bad)
{
	int n = r->naddrs > RESULT_ADDR_MAX ? RESULT_ADDR_MAX : r->naddrs;
	json_t *a;

	if (n <= 0)
		return json_null();
	a = json_array();
	if (!a) {
		*bad = 1;
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		const struct addr_result *ar = &r->addrs[i];
		int cert = jsonrd_hex64(ar->cert_sha256);
		json_t *o = json_object();

		if (!o || json_array_append_new(a, o) < 0) {
			*bad = 1;
			break;
		}
		jsonrd_put(o, "address", jfield(ar->address, sizeof(ar->address)), bad);
		jsonrd_put(o, "status", json_string(result_status_name(ar->status)), bad);
		jsonrd_put(o, "severity", json_string(result_severity_name(ar->severity)), bad);
		jsonrd_put(o, "reason", json_string(result_reason_name(ar->reason)), bad);
		jsonrd_put(o, "message", jfield(ar->message, sizeof(ar->message)), bad);
		jsonrd_put(o, "time_to_greeting_ms", jms(ar->greeting_us), bad);
		jsonrd_put(o, "total_ms", jms(ar->total_us), bad);
		jsonrd_put(o, "cert_sha256", cert ? json_string(ar->cert_sha256) : json_null(),
		           bad);
		jsonrd_put(o, "cert_not_after", cert ? jdate(ar->cert_not_after) : json_null(),
		           bad);
		jsonrd_put(o, "cert_days_left", cert ? jdays(ar->cert_days_left) : json_null(),
		           bad);
		jsonrd_put(o, "leaf_not_after", cert ? jdate(ar->leaf_not_after) : json_null(),
		           bad);
	}
	return a;
}

json_t *result_json_encode(const struct result *r, const struct result_meta *m)
{
	json_t *o = json_object(), *tm = json_object(), *warn = json_array();
	int bad = 0;

	if (!o || !tm || !warn) {
		json_decref(o);
		json_decref(tm);
		json_decref(warn);
		return NULL;
	}
	jsonrd_put(o, "target", jfield(m->target, sizeof(m->target)), &bad);
	jsonrd_put(o, "status", json_string(result_status_name(r->status)), &bad);
	jsonrd_put(o, "severity", json_string(result_severity_name(r->severity)), &bad);
	jsonrd_put(o, "reason", json_string(result_reason_name(r->reason)), &bad);
	jsonrd_put(o, "message", jfield(r->message, sizeof(r->message)), &bad);
	for (int i = 0; i < MP_PH__COUNT; i++)
		jsonrd_put(tm, result_phase_name((enum mp_phase)i), jms(r->phase_us[i]), &bad);
	jsonrd_put(o, "timings_ms", tm, &bad);
	jsonrd_put(o, "time_to_greeting_ms", jms(r->ttg_us), &bad);
	jsonrd_put(o, "address", jfield_or_null(r->address, sizeof(r->address)), &bad);
	jsonrd_put(o, "path", jfield_or_null(r->path, sizeof(r->path)), &bad);
	jsonrd_put(o, "greeting", jfield_or_null(r->greeting, sizeof(r->greeting)), &bad);
	/* One entry per line: an IMAP atom, or a POP3 CAPA line with its arguments. */
	jsonrd_put(o, "capabilities",
	           jsplit(r->capabilities, "\n", RESULT_CAP_SHOW, "\n", RESULT_CAPS_MAX, &bad),
	           &bad);
	for (int i = 0; i < r->nwarnings && i < RESULT_WARN_MAX; i++)
		append(warn, jfield(r->warnings[i], sizeof(r->warnings[i])), &bad);
	jsonrd_put(o, "warnings", warn, &bad);
	jsonrd_put(o, "messages", r->messages < 0 ? json_null() : json_integer(r->messages), &bad);
	jsonrd_put(o, "tls", enc_tls(&r->tls, &bad), &bad);
	jsonrd_put(o, "addresses", enc_addrs(r, &bad), &bad);
	/* Added in version 0.2: what a result needs to travel (docs/json.md). */
	int64_t ms = r->probe_ms > 0 && ms_to_sec(r->probe_ms) <= WIRE_SEC_MAX ? r->probe_ms : 0;
	jsonrd_put(o, "time", ms ? jdate(ms_to_sec(ms)) : json_null(), &bad);
	jsonrd_put(o, "ts_ms", ms ? json_integer(ms) : json_null(), &bad);
	jsonrd_put(o, "check", jfield_or_null(m->check, sizeof(m->check)), &bad);
	jsonrd_put(o, "location", jfield_or_null(m->location, sizeof(m->location)), &bad);
	jsonrd_put(o, "check_digest", jfield_or_null(m->digest, sizeof(m->digest)), &bad);
	jsonrd_put(o, "seq",
	           m->seq > 0 && m->seq <= INT64_MAX ? json_integer((json_int_t)m->seq)
	                                             : json_null(),
	           &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *result_json_dumps(const struct result *r, const struct result_meta *m)
{
	json_t *o = result_json_encode(r, m);
	/* Ten significant digits: microseconds up to an hour, without binary noise. */
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;

	json_decref(o);
	return s;
}

/* ---- decoder ---- */

/* Milliseconds (a number or null) into microseconds, -1 for null. */
static int ms_key(struct jsonrd *d, json_t *o, const char *at, const char *key, int64_t *us)
{
	json_t *v = jsonrd_get(d, o, at, key);
	double ms;

	if (!v)
		return -1;
	if (json_is_null(v)) {
		*us = -1;
		return 0;
	}
	if (!json_is_number(v))
		return jsonrd_wrong_type(d, at, key, "a number of milliseconds or null", v);
	ms = json_number_value(v);
	if (!(ms >= 0.0 && ms <= WIRE_MS_MAX))
		return jsonrd_fail(d, at, key, "%.3f ms is out of range (0 to %.0f)", ms,
		                   WIRE_MS_MAX);
	*us = (int64_t)(ms * 1000.0 + 0.5);
	return 0;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ", a date that exists, as the encoder writes it. */
static int parse_date(const char *s, int64_t *t)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, da, h, mi, se;

	if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &da) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || da < 1 || da > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
		return -1;
	if (mo == 2 && da == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*t = isotime_days_from_civil(y, (unsigned)mo, (unsigned)da) * 86400 + h * 3600 + mi * 60 +
	     se;
	return 0;
}

/* A date string into unix seconds; null gives *isnull = 1 when isnull is given. */
static int date_key(struct jsonrd *d, json_t *o, const char *at, const char *key, int64_t *t,
                    int *isnull)
{
	json_t *v = jsonrd_get(d, o, at, key);
	char s[JSONRD_SHOW_MAX];

	if (!v)
		return -1;
	if (isnull)
		*isnull = json_is_null(v);
	if (isnull && *isnull)
		return 0;
	if (!json_is_string(v))
		return jsonrd_wrong_type(d, at, key, isnull ? "a date or null" : "a date", v);
	if (parse_date(json_string_value(v), t) != 0)
		return jsonrd_fail(
		    d, at, key, "not a date (YYYY-MM-DDTHH:MM:SSZ): \"%s\"",
		    jsonrd_show(s, sizeof(s), json_string_value(v), json_string_length(v)));
	return 0;
}

static int status_key(struct jsonrd *d, json_t *o, const char *at, enum mp_status *st,
                      enum mp_severity *sev, enum mp_reason *why)
{
	int a, b, c;

	if (jsonrd_enum_key(d, o, at, "status", "status", result_status_parse, &a) ||
	    jsonrd_enum_key(d, o, at, "severity", "severity", result_severity_parse, &b) ||
	    jsonrd_enum_key(d, o, at, "reason", "reason", result_reason_parse, &c))
		return -1;
	/* The pairs result.c can make: a hostile "up" that is critical is no up. */
	int fits = a == MP_DEGRADED ? b == MP_SEV_WARNING || b == MP_SEV_CRITICAL
	                            : b == (int)result_default_severity((enum mp_status)a);
	if (!fits)
		return jsonrd_fail(d, at, "severity", "\"%s\" does not go with status \"%s\"",
		                   result_severity_name((enum mp_severity)b),
		                   result_status_name((enum mp_status)a));
	if (c == MP_R_OK && a != MP_UP)
		return jsonrd_fail(d, at, "reason", "\"ok\" does not go with status \"%s\"",
		                   result_status_name((enum mp_status)a));
	*st = (enum mp_status)a;
	*sev = (enum mp_severity)b;
	*why = (enum mp_reason)c;
	return 0;
}

/*
 * An array of strings joined into dst with join: each a non-empty piece
 * the encoder could have split (no separator byte, no blank at either
 * end), shorter than piece_sz, at most max_n of them, the whole fitting sz.
 */
static int list_key(struct jsonrd *d, json_t *o, const char *at, const char *key, const char *join,
                    const char *seps, size_t piece_sz, size_t max_n, char *dst, size_t sz)
{
	json_t *a = jsonrd_array_key(d, o, at, key, "an array of strings", max_n, "entries"), *v;
	size_t used = 0, jl = strlen(join), i;
	char name[64];

	if (!a)
		return -1;
	dst[0] = '\0';
	json_array_foreach(a, i, v)
	{
		char piece[RESULT_CAPS_MAX];
		size_t n;

		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (jsonrd_str_val(d, v, at, name, piece, piece_sz, 0) < 0)
			return -1;
		n = strlen(piece);
		if (n == 0)
			return jsonrd_fail(d, at, name, "empty");
		if (piece[0] == ' ' || piece[n - 1] == ' ')
			return jsonrd_fail(d, at, name, "blank at an end");
		if (strpbrk(piece, seps))
			return jsonrd_fail(d, at, name, "holds a separator");
		if (used + (used ? jl : 0) + n > sz - 1)
			return jsonrd_fail(d, at, key, "longer than %zu bytes joined", sz - 1);
		if (used) {
			memcpy(dst + used, join, jl);
			used += jl;
		}
		memcpy(dst + used, piece, n);
		used += n;
		dst[used] = '\0';
	}
	return 0;
}

/* 64 lower-case hex digits; "" only when empty_ok (no digest could be made), null only when
 * nullable. */
static int sha_key(struct jsonrd *d, json_t *o, const char *at, const char *key, char *dst,
                   int empty_ok, int nullable)
{
	json_t *v = jsonrd_get(d, o, at, key);

	if (!v || jsonrd_str_val(d, v, at, key, dst, 65, nullable ? JSONRD_NULLABLE : 0) < 0)
		return -1;
	if (dst[0] ? jsonrd_hex64(dst) : empty_ok || json_is_null(v))
		return 0;
	return jsonrd_fail(d, at, key, "not a SHA-256 in lower-case hex");
}

static int dec_cert(struct jsonrd *d, json_t *c, const char *at, struct cert_facts *cf)
{
	static const char *const keys[] = {"subject", "issuer", "not_before", "not_after",
	                                   "sha256"};

	if (!json_is_object(c))
		return jsonrd_wrong_type(d, at, NULL, "an object", c);
	if (jsonrd_str_key(d, c, at, "subject", cf->subject, sizeof(cf->subject), 0) ||
	    jsonrd_str_key(d, c, at, "issuer", cf->issuer, sizeof(cf->issuer), 0) ||
	    date_key(d, c, at, "not_before", &cf->not_before, NULL) ||
	    date_key(d, c, at, "not_after", &cf->not_after, NULL) ||
	    sha_key(d, c, at, "sha256", cf->sha256, 1, 0))
		return -1;
	return jsonrd_only_keys(d, c, at, keys, JSONRD_NKEYS(keys));
}

/* A field derived from the chain must say what the chain says. */
static int same_str(struct jsonrd *d, json_t *o, const char *key, const char *want,
                    const char *from)
{
	char got[RESULT_NAME_MAX];

	if (jsonrd_str_key(d, o, "tls", key, got, sizeof(got), 0) < 0)
		return -1;
	if (strcmp(got, want) != 0)
		return jsonrd_fail(d, "tls", key, "differs from %s", from);
	return 0;
}

static int same_date(struct jsonrd *d, json_t *o, const char *key, int64_t want, const char *from)
{
	int64_t got = 0;

	if (date_key(d, o, "tls", key, &got, NULL) < 0)
		return -1;
	if (got != want)
		return jsonrd_fail(d, "tls", key, "differs from %s", from);
	return 0;
}

static int is_null_key(struct jsonrd *d, json_t *o, const char *key)
{
	json_t *v = jsonrd_get(d, o, "tls", key);

	if (!v)
		return -1;
	if (!json_is_null(v))
		return jsonrd_fail(d, "tls", key, "must be null when the chain is empty");
	return 0;
}

static int dec_tls(struct jsonrd *d, json_t *o, struct tls_facts *t)
{
	static const char *const keys[] = {
	    "version",        "cipher",      "verified",      "verify_reused", "verify_error",
	    "subject",        "issuer",      "sans",          "not_before",    "not_after",
	    "days_left",      "sha256",      "expires_first", "chain",         "cert_not_after",
	    "leaf_not_after", "verify_code", "verify_depth"};
	static const char *const derived[] = {"subject",        "issuer",        "not_before",
	                                      "not_after",      "sha256",        "expires_first",
	                                      "cert_not_after", "leaf_not_after"};
	json_t *chain, *v;
	int64_t x = 0;
	int isnull, nonull;
	size_t i;
	char at[32], from[48];

	if (json_is_null(o))
		return 0;
	if (!json_is_object(o))
		return jsonrd_wrong_type(d, "", "tls", "an object or null", o);
	t->used = 1;
	if (jsonrd_str_key(d, o, "tls", "version", t->version, sizeof(t->version),
	                   JSONRD_NULLABLE) ||
	    jsonrd_str_key(d, o, "tls", "cipher", t->cipher, sizeof(t->cipher), JSONRD_NULLABLE) ||
	    jsonrd_bool_key(d, o, "tls", "verified", &t->verified) ||
	    jsonrd_bool_key(d, o, "tls", "verify_reused", &t->verify_reused))
		return -1;
	if (!(v = jsonrd_get(d, o, "tls", "verify_error")))
		return -1;
	nonull = !json_is_null(v);
	if (jsonrd_str_val(d, v, "tls", "verify_error", t->verify_msg, sizeof(t->verify_msg),
	                   JSONRD_NULLABLE) ||
	    jsonrd_int_key(d, o, "tls", "verify_code", INT_MIN, INT_MAX, &x, &isnull))
		return -1;
	if (isnull == nonull || (nonull && x == 0))
		return jsonrd_fail(d, "tls", "verify_code",
		                   "a non-zero integer with verify_error, null without");
	t->verify_code = nonull ? (int)x : 0;
	if (jsonrd_int_key(d, o, "tls", "verify_depth", -1, INT_MAX, &x, &isnull))
		return -1;
	if (isnull == nonull)
		return jsonrd_fail(d, "tls", "verify_depth",
		                   "an integer with verify_error, null without");
	t->verify_depth = nonull ? (int)x : -1;
	if (list_key(d, o, "tls", "sans", ", ", ",", RESULT_SANS_MAX, RESULT_SANS_MAX / 2, t->sans,
	             sizeof(t->sans)))
		return -1;

	if (!(chain = jsonrd_array_key(d, o, "tls", "chain", "an array", RESULT_CHAIN_MAX,
	                               "certificates")))
		return -1;
	json_array_foreach(chain, i, v)
	{
		snprintf(at, sizeof(at), "tls.chain[%zu]", i);
		if (dec_cert(d, v, at, &t->chain[i]) < 0)
			return -1;
	}
	t->chain_len = (int)json_array_size(chain);
	if (t->chain_len == 0) {
		for (i = 0; i < JSONRD_NKEYS(derived); i++)
			if (is_null_key(d, o, derived[i]) < 0)
				return -1;
		if (is_null_key(d, o, "days_left") < 0)
			return -1;
	} else {
		const struct cert_facts *leaf = &t->chain[0];
		char sha[65];

		t->earliest = earliest_of(t->chain, t->chain_len);
		snprintf(from, sizeof(from), "chain[%d], the first to expire", t->earliest);
		if (same_str(d, o, "subject", leaf->subject, "chain[0]") ||
		    same_str(d, o, "issuer", leaf->issuer, "chain[0]") ||
		    same_date(d, o, "not_before", leaf->not_before, "chain[0]") ||
		    same_date(d, o, "not_after", leaf->not_after, "chain[0]") ||
		    same_date(d, o, "leaf_not_after", leaf->not_after, "chain[0]") ||
		    same_str(d, o, "expires_first", t->chain[t->earliest].subject, from) ||
		    same_date(d, o, "cert_not_after", t->chain[t->earliest].not_after, from) ||
		    sha_key(d, o, "tls", "sha256", sha, 1, 0))
			return -1;
		if (strcmp(sha, leaf->sha256) != 0)
			return jsonrd_fail(d, "tls", "sha256", "differs from chain[0]");
		if (jsonrd_int_key(d, o, "tls", "days_left", -WIRE_DAYS_MAX, WIRE_DAYS_MAX,
		                   &t->days_left, NULL))
			return -1;
	}
	return jsonrd_only_keys(d, o, "tls", keys, JSONRD_NKEYS(keys));
}

static int dec_addr(struct jsonrd *d, json_t *o, const char *at, struct addr_result *a)
{
	static const char *const keys[] = {"address",        "status",        "severity",
	                                   "reason",         "message",       "time_to_greeting_ms",
	                                   "total_ms",       "cert_sha256",   "cert_not_after",
	                                   "cert_days_left", "leaf_not_after"};
	int n1, n2, n3;

	if (!json_is_object(o))
		return jsonrd_wrong_type(d, at, NULL, "an object", o);
	if (jsonrd_str_key(d, o, at, "address", a->address, sizeof(a->address), 0) ||
	    status_key(d, o, at, &a->status, &a->severity, &a->reason) ||
	    jsonrd_str_key(d, o, at, "message", a->message, sizeof(a->message), 0) ||
	    ms_key(d, o, at, "time_to_greeting_ms", &a->greeting_us) ||
	    ms_key(d, o, at, "total_ms", &a->total_us) ||
	    sha_key(d, o, at, "cert_sha256", a->cert_sha256, 0, 1) ||
	    date_key(d, o, at, "cert_not_after", &a->cert_not_after, &n1) ||
	    jsonrd_int_key(d, o, at, "cert_days_left", -WIRE_DAYS_MAX, WIRE_DAYS_MAX,
	                   &a->cert_days_left, &n2) ||
	    date_key(d, o, at, "leaf_not_after", &a->leaf_not_after, &n3))
		return -1;
	int none = !a->cert_sha256[0];
	if (n1 != none || n2 != none || n3 != none)
		return jsonrd_fail(
		    d, at, NULL,
		    "cert_sha256, cert_not_after, cert_days_left and leaf_not_after are "
		    "null together or not at all");
	if (none)
		a->cert_not_after = a->cert_days_left = a->leaf_not_after = 0;
	return jsonrd_only_keys(d, o, at, keys, JSONRD_NKEYS(keys));
}

static int dec_meta(struct jsonrd *d, json_t *o, struct result *r, struct result_meta *m)
{
	struct target t;
	char terr[160], s[JSONRD_SHOW_MAX], date[32];
	int64_t x = 0;
	int isnull;
	json_t *v;

	if (jsonrd_str_key(d, o, "", "target", m->target, sizeof(m->target), 0))
		return -1;
	if (target_parse(&t, m->target, terr, sizeof(terr)) != 0)
		return jsonrd_fail(d, "", "target", "%s", terr);
	if (strcmp(t.url, m->target) != 0)
		return jsonrd_fail(d, "", "target", "not canonical: \"%s\" (expected \"%s\")",
		                   jsonrd_show(s, sizeof(s), m->target, strlen(m->target)), t.url);
	if (jsonrd_int_key(d, o, "", "ts_ms", 1, WIRE_SEC_MAX * 1000 + 999, &x, &isnull))
		return -1;
	r->probe_ms = isnull ? 0 : x;
	if (!(v = jsonrd_get(d, o, "", "time")) ||
	    jsonrd_str_val(d, v, "", "time", date, sizeof(date), JSONRD_NULLABLE))
		return -1;
	if (isnull ? !json_is_null(v)
	           : !fmt_date(s, sizeof(s), ms_to_sec(r->probe_ms)) || strcmp(s, date) != 0)
		return jsonrd_fail(d, "", "time", "does not say the time of ts_ms");
	if (jsonrd_str_key(d, o, "", "check", m->check, sizeof(m->check), JSONRD_NULLABLE) ||
	    jsonrd_str_key(d, o, "", "location", m->location, sizeof(m->location), JSONRD_NULLABLE))
		return -1;
	/* null reads as "": a name, or null, but never "" itself. */
	if (m->check[0] ? !jsonrd_name_ok(m->check) : !json_is_null(json_object_get(o, "check")))
		return jsonrd_fail(d, "", "check",
		                   "not a check name (1 to 64 of A-Z a-z 0-9 . _ -)");
	if (m->location[0] ? !jsonrd_name_ok(m->location)
	                   : !json_is_null(json_object_get(o, "location")))
		return jsonrd_fail(d, "", "location",
		                   "not a location name (1 to 64 of A-Z a-z 0-9 . _ -)");
	if (sha_key(d, o, "", "check_digest", m->digest, 0, 1) ||
	    jsonrd_int_key(d, o, "", "seq", 1, INT64_MAX, &x, &isnull))
		return -1;
	m->seq = isnull ? 0 : (uint64_t)x;
	return 0;
}

static int dec_result(struct jsonrd *d, json_t *o, struct result *r, struct result_meta *m)
{
	static const char *const keys[] = {"target",
	                                   "status",
	                                   "severity",
	                                   "reason",
	                                   "message",
	                                   "timings_ms",
	                                   "time_to_greeting_ms",
	                                   "address",
	                                   "path",
	                                   "greeting",
	                                   "capabilities",
	                                   "warnings",
	                                   "messages",
	                                   "tls",
	                                   "addresses",
	                                   "time",
	                                   "ts_ms",
	                                   "check",
	                                   "location",
	                                   "check_digest",
	                                   "seq"};
	const char *phases[MP_PH__COUNT];
	json_t *tm, *v;
	int64_t x = 0;
	int isnull;
	size_t i;

	if (!json_is_object(o))
		return jsonrd_wrong_type(d, "", "result", "an object", o);
	if (dec_meta(d, o, r, m) || status_key(d, o, "", &r->status, &r->severity, &r->reason) ||
	    jsonrd_str_key(d, o, "", "message", r->message, sizeof(r->message), 0))
		return -1;

	if (!(tm = jsonrd_get(d, o, "", "timings_ms")))
		return -1;
	if (!json_is_object(tm))
		return jsonrd_wrong_type(d, "", "timings_ms", "an object", tm);
	for (int p = 0; p < MP_PH__COUNT; p++) {
		phases[p] = result_phase_name((enum mp_phase)p);
		if (ms_key(d, tm, "timings_ms", phases[p], &r->phase_us[p]) < 0)
			return -1;
	}
	if (jsonrd_only_names(d, tm, "timings_ms", phases, MP_PH__COUNT, "not a phase name:"))
		return -1;

	if (ms_key(d, o, "", "time_to_greeting_ms", &r->ttg_us) ||
	    jsonrd_str_key(d, o, "", "address", r->address, sizeof(r->address), JSONRD_NULLABLE) ||
	    jsonrd_str_key(d, o, "", "path", r->path, sizeof(r->path), JSONRD_NULLABLE) ||
	    jsonrd_str_key(d, o, "", "greeting", r->greeting, sizeof(r->greeting),
	                   JSONRD_NULLABLE) ||
	    list_key(d, o, "", "capabilities", "\n", "\n", RESULT_CAP_SHOW, RESULT_CAPS_MAX / 2,
	             r->capabilities, sizeof(r->capabilities)))
		return -1;
	/* Our own state names only: a server byte here would be a forgery. */
	if (r->path[strspn(r->path, "abcdefghijklmnopqrstuvwxyz_>.")] != '\0')
		return jsonrd_fail(d, "", "path", "not a path of state names");

	if (!(v = jsonrd_array_key(d, o, "", "warnings", "an array of strings", RESULT_WARN_MAX,
	                           "entries")))
		return -1;
	for (i = 0; i < json_array_size(v); i++) {
		char name[32];

		snprintf(name, sizeof(name), "warnings[%zu]", i);
		if (jsonrd_str_val(d, json_array_get(v, i), "", name, r->warnings[i],
		                   RESULT_WARN_LEN, 0))
			return -1;
	}
	r->nwarnings = (int)json_array_size(v);

	if (jsonrd_int_key(d, o, "", "messages", 0, INT64_MAX, &x, &isnull))
		return -1;
	r->messages = isnull ? -1 : x;
	if (!(v = jsonrd_get(d, o, "", "tls")) || dec_tls(d, v, &r->tls) < 0)
		return -1;

	if (!(v = jsonrd_get(d, o, "", "addresses")))
		return -1;
	if (!json_is_null(v)) {
		if (!json_is_array(v))
			return jsonrd_wrong_type(d, "", "addresses", "an array or null", v);
		if (json_array_size(v) == 0)
			return jsonrd_fail(d, "", "addresses", "empty (null when not probed)");
		if (json_array_size(v) > RESULT_ADDR_MAX)
			return jsonrd_fail(d, "", "addresses", "more than %d entries",
			                   RESULT_ADDR_MAX);
		json_t *a;
		json_array_foreach(v, i, a)
		{
			char at[32];

			snprintf(at, sizeof(at), "addresses[%zu]", i);
			if (dec_addr(d, a, at, &r->addrs[i]) < 0)
				return -1;
		}
		r->naddrs = (int)json_array_size(v);
	}
	return jsonrd_only_keys(d, o, "", keys, JSONRD_NKEYS(keys));
}

int result_json_decode(const char *buf, size_t len, struct result *r, struct result_meta *m,
                       char *err, size_t errlen)
{
	struct jsonrd d = {err, errlen, "result", JSONRD_CUT_255};
	json_error_t jerr;
	json_t *o;
	int rc;

	if (errlen)
		err[0] = '\0';
	result_init(r, 0);
	memset(m, 0, sizeof(*m));
	if (len > RESULT_JSON_MAX) {
		snprintf(err, errlen, "result: %zu bytes, more than the %d allowed", len,
		         RESULT_JSON_MAX);
		return -1;
	}
	if (jsonrd_depth_check(&d, buf, len, RESULT_JSON_DEPTH_MAX) < 0)
		return -1;
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		char s[160];

		jsonrd_show(s, sizeof(s), jerr.text, strnlen(jerr.text, sizeof(jerr.text)));
		snprintf(err, errlen, "result: not JSON at byte %d: %s", jerr.position, s);
		return -1;
	}
	rc = dec_result(&d, o, r, m);
	json_decref(o);
	return rc;
}

int result_json_decode_obj(json_t *o, struct result *r, struct result_meta *m, char *err,
                           size_t errlen)
{
	struct jsonrd d = {err, errlen, "result", JSONRD_CUT_255};

	if (errlen)
		err[0] = '\0';
	result_init(r, 0);
	memset(m, 0, sizeof(*m));
	return dec_result(&d, o, r, m);
}
