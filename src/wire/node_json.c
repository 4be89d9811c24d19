/* SPDX-License-Identifier: ISC */
/*
 * node_json.c - the documents a probing node and its controller exchange
 * (see node_json.h and docs/nodes.md): one encoder and one bounded, strict
 * decoder per document.
 *
 * Every decoder reads bytes from another machine. It bounds the body
 * (NODE_BODY_MAX) and its nesting before jansson recurses into it, parses
 * once with duplicate keys refused, refuses any key it does not know and
 * any value out of its field, and names the field in every error. A check
 * assigned to a node is rebuilt through the one check builder
 * (checkspec_set() and checkspec_finish(), KEYS spelling), so the node
 * validates what it is sent with the validators the controller used. The
 * reading these decoders share with result_json.c is in jsonrd.c.
 *
 * Passwords: an assignment may carry one (password_to_nodes). No error
 * message quotes it (jansson's "near '...'" context is cut off, since it
 * may be a piece of it), the strings that held it here are wiped before
 * they are freed, and the encoder writes the body in one piece
 * (json_dumpb()) so no growing buffer leaves copies behind. What jansson's
 * parser keeps in its own buffers while it reads is freed unwiped: only a
 * wiping allocator (json_set_alloc_funcs()) reaches that.
 */
#include "wire/node_json.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/line.h"
#include "spec/duration.h"
#include "spec/secret.h"
#include "wire/jsonrd.h"

/* Nesting of each document: document, checks, a check, its spec, a list key. */
#define NODE_DEPTH_ASSIGN 5
/* The document, its results, then each result's own levels. */
#define NODE_DEPTH_BATCH (RESULT_JSON_DEPTH_MAX + 2)
/* The document, canaries or refusals, one of them. */
#define NODE_DEPTH_SMALL 3
/* The bounds of an assigned check's interval and retry; the controller enforces 30 s. */
#define NODE_INTERVAL_MIN_MS 1000
#define NODE_INTERVAL_MAX_MS (15 * 60 * 1000)
/* Unix milliseconds of 9999-12-31T23:59:59.999Z: every clock value is within. */
#define NODE_MS_MAX 253402300799999LL
/* Strings one check's builder saves: expect, sni, ca_file, login, pw_src, password, lists. */
#define NODE_SAVED_MAX (8 + CHECK_CAPS_MAX + CHECK_RESOLVE_MAX)
/* "file:" or "env:" and a file name as checkspec takes it (CHECKSPEC_PATH_MAX). */
#define NODE_PWSRC_MAX 4100

/* ---- encoding helpers ---- */

/*
 * s as a JSON string the decoder takes into a field of sz bytes: cut to
 * sz - 1 bytes, not inside a UTF-8 sequence; a string with a control byte,
 * or not UTF-8, is written escaped instead (printable ASCII), itself cut.
 */
static json_t *enc_field(const char *s, size_t sz)
{
	size_t n = strnlen(s, sz - 1), all = strlen(s);
	char buf[512];
	json_t *j;

	while (n > 0 && n < all && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	if (jsonrd_control_at(s, n) == n && (j = json_stringn(s, n)))
		return j;
	if (sz > sizeof(buf))
		sz = sizeof(buf);
	line_escape(buf, sz, s, strnlen(s, sz));
	return json_string(buf);
}

/* An empty string as null: "none" (no etag yet, no check name). */
static json_t *enc_field_or_null(const char *s, size_t sz)
{
	return *s ? enc_field(s, sz) : json_null();
}

static json_t *enc_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* o as one compact line, malloc'ed; o is released. NULL when out of memory. */
static char *dump(json_t *o, int bad)
{
	char *s = NULL;

	if (o && !bad)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Wipe a string value in place (a password) before jansson frees it. */
static void wipe_string(json_t *v)
{
	if (json_is_string(v))
		OPENSSL_cleanse((void *)(uintptr_t)json_string_value(v), json_string_length(v));
}

/* Every "password" of an assignment's checks. */
static void wipe_passwords(json_t *checks)
{
	size_t i;
	json_t *c;

	if (!json_is_array(checks))
		return;
	json_array_foreach(checks, i, c)
	{
		if (json_is_object(c))
			wipe_string(json_object_get(c, "password"));
	}
}

/* ---- decoding helpers ---- */

/* A name or id (what: "a node name"); null reads as "" when nullable. */
static int name_key(struct jsonrd *d, json_t *o, const char *at, const char *key, char *dst,
                    size_t sz, const char *what, int nullable)
{
	json_t *v = jsonrd_get(d, o, at, key);
	char s[JSONRD_SHOW_MAX];

	if (!v)
		return -1;
	if (nullable && json_is_null(v)) {
		dst[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		return jsonrd_wrong_type(d, at, key, nullable ? "a string or null" : "a string", v);
	if (json_string_length(v) >= sz || !jsonrd_name_ok(json_string_value(v)) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return jsonrd_fail(
		    d, at, key, "not %s (1 to 64 of A-Z a-z 0-9 . _ -): \"%s\"", what,
		    jsonrd_show(s, sizeof(s), json_string_value(v), json_string_length(v)));
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int uint_key(struct jsonrd *d, json_t *o, const char *at, const char *key, unsigned hi,
                    unsigned *dst)
{
	int64_t x;

	if (jsonrd_int_key(d, o, at, key, 0, hi, &x, NULL) < 0)
		return -1;
	*dst = (unsigned)x;
	return 0;
}

/* A clock's reading: unix milliseconds, up to the end of year 9999. */
static int clock_key(struct jsonrd *d, json_t *o, const char *at, const char *key, int64_t *dst)
{
	return jsonrd_int_key(d, o, at, key, 0, NODE_MS_MAX, dst, NULL);
}

/* Every document is released here: an assignment's passwords are wiped first. */
static void doc_free(json_t *o)
{
	wipe_passwords(json_object_get(o, "checks"));
	json_decref(o);
}

/* The top of a document: an object that speaks our version, with no key but keys. */
static int doc_head(struct jsonrd *d, json_t *o, const char *const *keys, size_t n)
{
	json_t *v;

	if (!json_is_object(o))
		return jsonrd_wrong_type(d, "", NULL, "an object", o);
	if (!(v = jsonrd_get(d, o, "", "v")))
		return -1;
	if (!json_is_integer(v))
		return jsonrd_wrong_type(d, "", "v", "an integer", v);
	if (json_integer_value(v) != NODE_PROTO_VERSION)
		return jsonrd_fail(d, "", "v",
		                   "version %lld is not spoken here (this side speaks %d)",
		                   (long long)json_integer_value(v), NODE_PROTO_VERSION);
	return jsonrd_only_keys(d, o, "", keys, n);
}

/*
 * The document: bounded, parsed once, duplicate keys refused, its top as
 * doc_head() wants it. NULL with err set otherwise. jansson's message
 * loses its "near '...'" part: that is a piece of the input, maybe of a
 * password; the byte offset says where.
 */
static json_t *open_doc(struct jsonrd *d, const char *buf, size_t len, int depth, size_t max,
                        const char *const *keys, size_t n)
{
	json_error_t jerr;
	json_t *o;
	char text[160], *near;

	if (d->errlen)
		d->err[0] = '\0';
	if (len > max) {
		snprintf(d->err, d->errlen, "%s: %zu bytes, more than the %zu allowed", d->doc, len,
		         max);
		return NULL;
	}
	if (!buf) {
		snprintf(d->err, d->errlen, "%s: no body", d->doc);
		return NULL;
	}
	if (jsonrd_depth_check(d, buf, len, depth) < 0)
		return NULL;
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		line_escape(text, sizeof(text), jerr.text, strnlen(jerr.text, sizeof(jerr.text)));
		if ((near = strstr(text, " near ")) != NULL)
			*near = '\0';
		snprintf(d->err, d->errlen, "%s: not JSON at byte %d: %s", d->doc, jerr.position,
		         text);
		return NULL;
	}
	if (doc_head(d, o, keys, n) < 0) {
		doc_free(o);
		return NULL;
	}
	return o;
}

/* ---- assignments ---- */

struct pairs_out {
	json_t *spec;
};

/* One KEYS pair into the spec object: a string, or one item of a list key's array. */
static int spec_pair(void *arg, const char *key, const char *value)
{
	struct pairs_out *p = arg;
	json_t *v = json_string(value), *a;

	if (!v)
		return -1;
	if (!checkspec_key_is_list(checkspec_key(key)))
		return json_object_set_new(p->spec, key, v);
	a = json_object_get(p->spec, key);
	if (!a) {
		a = json_array();
		if (!a || json_object_set_new(p->spec, key, a) < 0) {
			json_decref(v);
			return -1;
		}
	}
	return json_array_append_new(a, v);
}

static json_t *enc_check(const struct node_check_out *c)
{
	json_t *o = json_object(), *spec = json_object();
	struct pairs_out p = {spec};
	int bad = !o || !spec;
	const char *pw_src = c->chk && c->chk->login ? c->pw_src : NULL;

	if (bad || !c->chk || checkspec_pairs(c->chk, spec_pair, &p) != 0) {
		json_decref(o);
		json_decref(spec);
		return NULL;
	}
	jsonrd_put(o, "name", json_string(c->name ? c->name : ""), &bad);
	jsonrd_put(o, "digest", json_string(c->digest ? c->digest : ""), &bad);
	jsonrd_put(o, "interval_ms", json_integer(c->interval_ms), &bad);
	jsonrd_put(o, "retry_ms", json_integer(c->retry_ms), &bad);
	jsonrd_put(o, "spec", spec, &bad);
	jsonrd_put(o, "password_from", pw_src ? json_string(pw_src) : json_null(), &bad);
	/* The password travels only where the check logs in and the admin allowed it. */
	if (c->chk->login && c->password)
		jsonrd_put(o, "password", json_string(c->password), &bad);
	if (bad) {
		wipe_string(json_object_get(o, "password"));
		json_decref(o);
		return NULL;
	}
	return o;
}

char *node_assign_encode(const char *node, const char *etag, const struct node_check_out *checks,
                         size_t n)
{
	json_t *o = json_object(), *arr = json_array();
	size_t len;
	char *s = NULL;
	int bad = !o || !arr;

	if (bad) {
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	jsonrd_put(o, "v", json_integer(NODE_PROTO_VERSION), &bad);
	jsonrd_put(o, "node", json_string(node ? node : ""), &bad);
	jsonrd_put(o, "etag", json_string(etag ? etag : ""), &bad);
	jsonrd_put(o, "checks", arr, &bad);
	for (size_t i = 0; i < n && !bad; i++) {
		json_t *c = enc_check(&checks[i]);

		if (!c || json_array_append_new(arr, c) < 0)
			bad = 1;
	}
	/*
	 * Measured, then written in one piece: json_dumps() grows a buffer by
	 * copying, which would leave copies of a password in freed memory.
	 */
	if (!bad && (len = json_dumpb(o, NULL, 0, JSON_COMPACT)) > 0 && (s = malloc(len + 1))) {
		if (json_dumpb(o, s, len, JSON_COMPACT) != len) {
			OPENSSL_cleanse(s, len);
			free(s);
			s = NULL;
		} else {
			s[len] = '\0';
		}
	}
	if (!bad)
		wipe_passwords(arr);
	json_decref(o);
	return s;
}

/* The strings one check's builder saved; freed, and wiped, once the check_spec is made. */
struct saved {
	char *s[NODE_SAVED_MAX];
	int n;
};

static char *save_str(void *arg, const char *s, int secret)
{
	struct saved *sv = arg;
	size_t n = strlen(s) + 1;
	char *p;

	(void)secret; /* every one is wiped: cheap, and the password is among them */
	if (sv->n == NODE_SAVED_MAX || !(p = malloc(n)))
		return NULL;
	memcpy(p, s, n);
	sv->s[sv->n++] = p;
	return p;
}

static void saved_clear(struct saved *sv)
{
	for (int i = 0; i < sv->n; i++) {
		OPENSSL_cleanse(sv->s[i], strlen(sv->s[i]));
		free(sv->s[i]);
	}
	sv->n = 0;
}

/* The first problem checkspec_finish() reports, with its key. */
struct first {
	int n;
	char key[32];
	char msg[512];
};

static void first_report(void *arg, const char *key, const char *key2, const char *msg)
{
	struct first *f = arg;

	(void)key2;
	if (f->n++ == 0) {
		snprintf(f->key, sizeof(f->key), "%s", key ? key : "");
		snprintf(f->msg, sizeof(f->msg), "%s", msg);
	}
}

/* A checkspec message about key under at.spec.key, without its own "key: " in front. */
static int spec_fail(struct jsonrd *d, const char *at, const char *key, const char *msg)
{
	char where[192];
	size_t kl = strlen(key);

	snprintf(where, sizeof(where), "%s.spec", at);
	if (strncmp(msg, key, kl) == 0 && msg[kl] == ':' && msg[kl + 1] == ' ')
		msg += kl + 2;
	return jsonrd_fail(d, where, key, "%s", msg);
}

/* One value of the spec, given to the builder as text. */
static int spec_set(struct jsonrd *d, struct checkspec *b, json_t *v, const char *at,
                    const char *key, const char *name)
{
	char err[512], where[192];

	snprintf(where, sizeof(where), "%s.spec", at);
	if (!json_is_string(v))
		return jsonrd_wrong_type(d, where, name, "a string", v);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return jsonrd_fail(d, where, name, "holds a NUL byte");
	if (checkspec_set(b, key, json_string_value(v), err, sizeof(err)) < 0) {
		spec_fail(d, at, key, err);
		/* A CA file is read on the node: missing there leaves the check out, not all. */
		return strcmp(key, "ca_file") == 0 && !checkspec_has_control(json_string_value(v))
		           ? 1
		           : -1;
	}
	return 0;
}

/*
 * The spec object: every key a check key of the table, each value as its
 * type wants. A value this machine cannot use (a CA file it lacks) puts
 * the first such message in skip and goes on: the rest must still be right.
 */
static int dec_spec(struct jsonrd *d, json_t *spec, const char *at, struct checkspec *b, char *skip,
                    size_t skiplen)
{
	char where[192], s[JSONRD_SHOW_MAX], item[64];
	const char *k;
	json_t *v, *x;
	size_t j;

	snprintf(where, sizeof(where), "%s.spec", at);
	json_object_foreach(spec, k, v)
	{
		int key = checkspec_key(k);

		if (key < 0)
			return jsonrd_fail(d, where, NULL, "unknown key \"%s\"",
			                   jsonrd_show(s, sizeof(s), k, strlen(k)));
		if (strcmp(k, "password_file") == 0 || strcmp(k, "password_env") == 0)
			return jsonrd_fail(
			    d, where, k,
			    "not a spec key here: where the password comes from travels "
			    "as password_from");
		if (!checkspec_key_is_list(key)) {
			int rc = spec_set(d, b, v, at, k, k);

			if (rc < 0)
				return -1;
			if (rc > 0 && !skip[0])
				snprintf(skip, skiplen, "%s", d->err);
			continue;
		}
		if (!json_is_array(v))
			return jsonrd_wrong_type(d, where, k, "an array of strings", v);
		json_array_foreach(v, j, x)
		{
			snprintf(item, sizeof(item), "%s[%zu]", k, j);
			if (spec_set(d, b, x, at, k, item) < 0)
				return -1;
		}
	}
	if (!json_object_get(spec, "url"))
		return jsonrd_fail(d, where, "url", "missing");
	return 0;
}

/*
 * The password that travelled: 1 to SECRET_MAX bytes, no CR, LF or NUL
 * (it goes into a LOGIN or PASS line). Messages never quote it.
 */
static int password_ok(struct jsonrd *d, json_t *v, const char *at)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return jsonrd_wrong_type(d, at, "password", "a string", v);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0)
		return jsonrd_fail(d, at, "password", "empty");
	if (n > SECRET_MAX)
		return jsonrd_fail(d, at, "password", "longer than %d bytes", SECRET_MAX);
	if (strlen(s) != n || strpbrk(s, "\r\n"))
		return jsonrd_fail(d, at, "password", "holds a CR, LF or NUL byte");
	return 0;
}

/* "file:P" or "env:N" into the key that reads it and its value; -1 when neither. */
static int pw_source(const char *src, const char **key, const char **value)
{
	if (strncmp(src, "file:", 5) == 0 && src[5]) {
		*key = "password_file";
		*value = src + 5;
		return 0;
	}
	if (strncmp(src, "env:", 4) == 0 && src[4]) {
		*key = "password_env";
		*value = src + 4;
		return 0;
	}
	return -1;
}

static int dec_check(struct jsonrd *d, json_t *o, size_t i, struct node_check_in *in)
{
	static const char *const keys[] = {"name", "digest",        "interval_ms", "retry_ms",
	                                   "spec", "password_from", "password"};
	char at[128], name[RESULT_META_NAME_MAX], pwsrc[NODE_PWSRC_MAX], err[512], d1[32], d2[32];
	const char *pwkey = NULL, *pwval = NULL;
	struct saved sv = {0};
	struct first first = {0};
	struct checkspec b;
	struct check chk;
	int64_t interval, retry;
	json_t *spec, *pw, *v;
	char skip[320] = "";
	int rc = -1;

	snprintf(at, sizeof(at), "checks[%zu]", i);
	if (!json_is_object(o))
		return jsonrd_wrong_type(d, at, NULL, "an object", o);
	if (name_key(d, o, at, "name", name, sizeof(name), "a check name", 0) < 0)
		return -1;
	snprintf(at, sizeof(at), "checks[%zu] (\"%s\")", i, name);
	if (jsonrd_only_keys(d, o, at, keys, JSONRD_NKEYS(keys)) < 0 ||
	    jsonrd_str_key(d, o, at, "digest", in->digest, sizeof(in->digest), 0) < 0)
		return -1;
	if (!jsonrd_hex64(in->digest))
		return jsonrd_fail(d, at, "digest", "not a SHA-256 in lower-case hex");
	if (jsonrd_int_key(d, o, at, "interval_ms", NODE_INTERVAL_MIN_MS, NODE_INTERVAL_MAX_MS,
	                   &interval, NULL) < 0 ||
	    jsonrd_int_key(d, o, at, "retry_ms", NODE_INTERVAL_MIN_MS, NODE_INTERVAL_MAX_MS, &retry,
	                   NULL) < 0)
		return -1;
	if (!(spec = jsonrd_get(d, o, at, "spec")))
		return -1;
	if (!json_is_object(spec))
		return jsonrd_wrong_type(d, at, "spec", "an object", spec);
	if (!(v = jsonrd_get(d, o, at, "password_from")) ||
	    jsonrd_str_val(d, v, at, "password_from", pwsrc, sizeof(pwsrc), JSONRD_NULLABLE) < 0)
		return -1;
	if (pwsrc[0] && pw_source(pwsrc, &pwkey, &pwval) < 0)
		return jsonrd_fail(d, at, "password_from",
		                   "neither \"file:PATH\" nor \"env:NAME\"");
	pw = json_object_get(o, "password");
	if (pw && password_ok(d, pw, at) < 0)
		return -1;

	check_defaults(&chk);
	/* Relative file names (ca_file, a password_file) are the node's own: from its cwd. */
	checkspec_init(&b, &chk, CHECKSPEC_KEYS, save_str, &sv);
	if (dec_spec(d, spec, at, &b, skip, sizeof(skip)) < 0)
		goto out;
	if (!chk.login && (pw || pwkey)) {
		jsonrd_fail(d, at, pw ? "password" : "password_from", "given without spec.login");
		goto out;
	}
	if (pw) {
		/* What travelled wins: the node needs no file or variable of its own then. */
		if (!(chk.password = save_str(&sv, json_string_value(pw), 1))) {
			jsonrd_fail(d, at, "password", "out of memory");
			goto out;
		}
	} else if (pwkey && checkspec_set(&b, pwkey, pwval, err, sizeof(err)) < 0) {
		/* This machine's file or variable: the check is left out, not the document. */
		jsonrd_fail(d, at, "password_from", "%s", err);
		if (!skip[0])
			snprintf(skip, sizeof(skip), "%s", d->err);
		/* Stands in for the password, so the cross-checks below see a source. */
		chk.password = "";
	}
	if (chk.timeout_ms >= interval) {
		jsonrd_fail(d, at, "spec.timeout", "%s is not shorter than the interval %s",
		            duration_format(d1, sizeof(d1), chk.timeout_ms),
		            duration_format(d2, sizeof(d2), (uint64_t)interval));
		goto out;
	}
	if (checkspec_finish(&b, first_report, &first) > 0) {
		/* The builder words it for a configuration; on the wire the source is
		 * password_from. */
		if (strcmp(first.key, "login") == 0 && !chk.password)
			jsonrd_fail(d, at, "password_from",
			            "null, and no password: spec.login needs one or the other");
		else
			spec_fail(d, at, first.key[0] ? first.key : "url", first.msg);
		goto out;
	}
	if (skip[0]) {
		snprintf(d->err, d->errlen, "%s", skip);
		rc = 1;
		goto out;
	}
	/* As the daemon sets it from the interval: compared with a POP3 LOGIN-DELAY. */
	chk.login_interval_s = (unsigned)interval / 1000;
	in->spec = checkspec_copy(&chk, name, (unsigned)interval, (unsigned)retry);
	if (!in->spec) {
		jsonrd_fail(d, at, NULL, "out of memory");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(&chk, sizeof(chk));
	saved_clear(&sv);
	return rc;
}

/* A check left out (dec_check() said 1): its name and why, as err holds it. */
static int skip_add(struct node_assign *a, json_t *c, const char *why)
{
	struct node_check_skip *k;
	const char *name = json_string_value(json_object_get(c, "name"));

	k = realloc(a->skipped, (a->nskipped + 1) * sizeof(*k));
	if (!k)
		return -1;
	a->skipped = k;
	k = &a->skipped[a->nskipped++];
	snprintf(k->name, sizeof(k->name), "%s", name ? name : "");
	snprintf(k->error, sizeof(k->error), "%s", why);
	return 0;
}

struct name_at {
	const char *name;
	size_t i;
};

static int name_at_cmp(const void *a, const void *b)
{
	const struct name_at *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Two checks of one name: the later one (in document order, the first such) is refused. */
static int no_duplicates(struct jsonrd *d, const struct node_assign *a)
{
	struct name_at *v;
	size_t dup = SIZE_MAX, orig = 0;

	if (a->n < 2)
		return 0;
	if (!(v = malloc(a->n * sizeof(*v))))
		return jsonrd_fail(d, "", "checks", "out of memory");
	for (size_t i = 0; i < a->n; i++)
		v[i] = (struct name_at){a->checks[i].spec->name, i};
	qsort(v, a->n, sizeof(*v), name_at_cmp);
	for (size_t i = 1, g = 0; i < a->n; i++) {
		if (strcmp(v[i].name, v[g].name) != 0) {
			g = i;
			continue;
		}
		if (v[i].i < dup) {
			dup = v[i].i;
			orig = v[g].i;
		}
	}
	free(v);
	if (dup == SIZE_MAX)
		return 0;
	return jsonrd_fail(d, "", "checks", "checks[%zu] and checks[%zu] are both named \"%s\"",
	                   orig, dup, a->checks[dup].spec->name);
}

void node_assign_clear(struct node_assign *a)
{
	if (!a)
		return;
	for (size_t i = 0; a->checks && i < a->n; i++)
		checkspec_unref(a->checks[i].spec);
	free(a->checks);
	free(a->skipped);
	memset(a, 0, sizeof(*a));
}

int node_assign_decode(const char *buf, size_t len, struct node_assign *out, char *err,
                       size_t errlen)
{
	static const char *const keys[] = {"v", "node", "etag", "checks"};
	struct jsonrd d = {err, errlen, "assignments", 0};
	json_t *o, *checks = NULL, *c;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!(o = open_doc(&d, buf, len, NODE_DEPTH_ASSIGN, NODE_ASSIGN_MAX, keys,
	                   JSONRD_NKEYS(keys))))
		return -1;
	if (name_key(&d, o, "", "node", out->node, sizeof(out->node), "a node name", 0) < 0 ||
	    name_key(&d, o, "", "etag", out->etag, sizeof(out->etag), "an etag", 0) < 0 ||
	    !(checks =
	          jsonrd_array_key(&d, o, "", "checks", "an array", NODE_CHECKS_MAX, "checks")))
		goto out;
	out->checks = calloc(json_array_size(checks) + 1, sizeof(*out->checks));
	if (!out->checks) {
		jsonrd_fail(&d, "", "checks", "out of memory");
		goto out;
	}
	json_array_foreach(checks, i, c)
	{
		int r = dec_check(&d, c, i, &out->checks[out->n]);

		if (r < 0)
			goto out;
		if (r == 0) {
			out->n++;
			continue;
		}
		if (skip_add(out, c, err) < 0) {
			jsonrd_fail(&d, "", "checks", "out of memory");
			goto out;
		}
		err[0] = '\0';
	}
	rc = no_duplicates(&d, out);
out:
	doc_free(o);
	if (rc < 0) {
		/* node and etag may be right: the caller must not mistake them for an assignment.
		 */
		node_assign_clear(out);
	}
	return rc;
}

/* ---- results ---- */

struct node_batch_out {
	char *buf;
	size_t len, cap;
	size_t n;
	size_t id_off, id_len; /* the batch id's JSON string in buf */
};

/* Room for n more bytes and a NUL. */
static int bo_reserve(struct node_batch_out *b, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->buf, cap)))
			return -1;
		b->buf = p;
		b->cap = cap;
	}
	return 0;
}

static int bo_append(struct node_batch_out *b, const char *s, size_t n)
{
	if (bo_reserve(b, n) < 0)
		return -1;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

/* s as a JSON string, appended; -1 when out of memory or s is not UTF-8. */
static int bo_string(struct node_batch_out *b, const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	int rc = t ? bo_append(b, t, strlen(t)) : -1;

	free(t);
	json_decref(j);
	return rc;
}

struct node_batch_out *node_batch_open(const char *node, const char *batch_id, int64_t sent_ms,
                                       uint64_t floor)
{
	struct node_batch_out *b = calloc(1, sizeof(*b));
	char num[32], fl[32];

	if (!b)
		return NULL;
	snprintf(num, sizeof(num), "%lld", (long long)sent_ms);
	snprintf(fl, sizeof(fl), "%llu", (unsigned long long)(floor <= INT64_MAX ? floor : 0));
	if (bo_append(b, "{\"v\":1,\"node\":", 14) < 0 || bo_string(b, node) < 0 ||
	    bo_append(b, ",\"batch\":", 9) < 0)
		goto fail;
	b->id_off = b->len;
	if (bo_string(b, batch_id) < 0)
		goto fail;
	b->id_len = b->len - b->id_off;
	if (bo_append(b, ",\"sent_ms\":", 11) < 0 || bo_append(b, num, strlen(num)) < 0 ||
	    bo_append(b, ",\"floor\":", 9) < 0 || bo_append(b, fl, strlen(fl)) < 0 ||
	    bo_append(b, ",\"results\":[", 12) < 0)
		goto fail;
	return b;
fail:
	free(b->buf);
	free(b);
	return NULL;
}

/*
 * 0: added. 1: the batch is full (NODE_BATCH_MAX results, or the body
 * would pass NODE_BODY_MAX): nothing added; send this one, add it to the
 * next. -1: not an encoded result (empty, not an object, a NUL byte, over
 * RESULT_JSON_MAX) or out of memory: nothing added, the batch still good.
 */
int node_batch_add(struct node_batch_out *b, const char *result_json, size_t len)
{
	if (!b || !result_json || len < 2 || len > RESULT_JSON_MAX || result_json[0] != '{' ||
	    result_json[len - 1] != '}' || memchr(result_json, '\0', len))
		return -1;
	/* The comma before it and the "]}" that closes the body. */
	if (b->n >= NODE_BATCH_MAX || b->len + len + 3 > NODE_BODY_MAX)
		return 1;
	if ((b->n && bo_append(b, ",", 1) < 0) || bo_append(b, result_json, len) < 0) {
		/* A comma without its result would break the body: take it back. */
		if (b->n && b->len && b->buf[b->len - 1] == ',')
			b->buf[--b->len] = '\0';
		return -1;
	}
	b->n++;
	return 0;
}

int node_batch_set_id(struct node_batch_out *b, const char *batch_id)
{
	json_t *j = json_string(batch_id ? batch_id : "");
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	size_t tl = t ? strlen(t) : 0;
	int rc = -1;

	json_decref(j);
	if (!b || !t)
		goto out;
	/* In place: what follows the id moves by the difference. */
	if (tl > b->id_len &&
	    (b->len + (tl - b->id_len) + 3 > NODE_BODY_MAX || bo_reserve(b, tl - b->id_len) < 0))
		goto out;
	memmove(b->buf + b->id_off + tl, b->buf + b->id_off + b->id_len,
	        b->len - b->id_off - b->id_len + 1);
	memcpy(b->buf + b->id_off, t, tl);
	b->len = b->len - b->id_len + tl;
	b->id_len = tl;
	rc = 0;
out:
	free(t);
	return rc;
}

char *node_batch_close(struct node_batch_out *b, size_t *len)
{
	char *s;

	if (!b)
		return NULL;
	if (bo_append(b, "]}", 2) < 0) {
		free(b->buf);
		free(b);
		return NULL;
	}
	s = b->buf;
	if (len)
		*len = b->len;
	free(b);
	return s;
}

int node_batch_decode(const char *buf, size_t len, struct node_batch_head *h, node_batch_item_cb cb,
                      void *arg, char *err, size_t errlen)
{
	static const char *const keys[] = {"v", "node", "batch", "sent_ms", "floor", "results"};
	struct jsonrd d = {err, errlen, "batch", 0};
	struct result *r = NULL;
	struct result_meta m;
	json_t *o, *results = NULL, *item;
	char e[384], ie[512];
	int64_t floor = 0;
	size_t i;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (!(o = open_doc(&d, buf, len, NODE_DEPTH_BATCH, NODE_BODY_MAX, keys,
	                   JSONRD_NKEYS(keys))))
		return -1;
	if (name_key(&d, o, "", "node", h->node, sizeof(h->node), "a node name", 0) < 0 ||
	    name_key(&d, o, "", "batch", h->id, sizeof(h->id), "a batch id", 0) < 0 ||
	    clock_key(&d, o, "", "sent_ms", &h->sent_ms) < 0 ||
	    jsonrd_int_key(&d, o, "", "floor", 0, INT64_MAX, &floor, NULL) < 0 ||
	    !(results =
	          jsonrd_array_key(&d, o, "", "results", "an array", NODE_BATCH_MAX, "results")))
		goto out;
	h->floor = (uint64_t)floor;
	h->n = json_array_size(results);
	/* Large (certificate chains, addresses): one, reused for every result. */
	if (!(r = malloc(sizeof(*r)))) {
		jsonrd_fail(&d, "", "results", "out of memory");
		goto out;
	}
	rc = 0;
	json_array_foreach(results, i, item)
	{
		int bad = result_json_decode_obj(item, r, &m, e, sizeof(e)) != 0;

		if (bad) {
			/* "result: expected an object" is about the element itself. */
			if (strncmp(e, "result: ", 8) == 0)
				snprintf(ie, sizeof(ie), "results[%zu]: %s", i, e + 8);
			else
				snprintf(ie, sizeof(ie), "results[%zu].%s", i, e);
		}
		if (cb(i, bad ? NULL : r, bad ? NULL : &m, bad ? ie : NULL, arg) != 0) {
			snprintf(err, errlen, "results[%zu]: the reader stopped here", i);
			rc = 1;
			break;
		}
	}
out:
	free(r);
	json_decref(o);
	return rc;
}

/* ---- the controller's answer to a batch ---- */

char *node_batch_reply_encode(const struct node_batch_reply *r)
{
	json_t *o = json_object(), *a = json_array();
	unsigned n = r->nrefused < NODE_REFUSED_MAX ? r->nrefused : NODE_REFUSED_MAX;
	int bad = !o || !a;

	if (bad) {
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	jsonrd_put(o, "v", json_integer(NODE_PROTO_VERSION), &bad);
	jsonrd_put(o, "batch", json_string(r->id), &bad);
	jsonrd_put(o, "accepted", json_integer(r->accepted), &bad);
	jsonrd_put(o, "duplicates", json_integer(r->duplicates), &bad);
	jsonrd_put(o, "late", json_integer(r->late), &bad);
	jsonrd_put(o, "refused", json_integer(r->nrefused), &bad);
	jsonrd_put(o, "refusals", a, &bad);
	for (unsigned i = 0; i < n && !bad; i++) {
		json_t *x = json_object();

		if (!x || json_array_append_new(a, x) < 0) {
			bad = 1;
			break;
		}
		jsonrd_put(x, "index", json_integer(r->refused[i].index), &bad);
		jsonrd_put(x, "check",
		           enc_field_or_null(r->refused[i].check, sizeof(r->refused[i].check)),
		           &bad);
		jsonrd_put(x, "error", enc_field(r->refused[i].error, sizeof(r->refused[i].error)),
		           &bad);
	}
	jsonrd_put(o, "etag", json_string(r->etag), &bad);
	jsonrd_put(o, "skew_ms", json_integer(r->skew_ms), &bad);
	return dump(o, bad);
}

static int dec_refusal(struct jsonrd *d, json_t *x, size_t i, struct node_batch_reply *r)
{
	static const char *const keys[] = {"index", "check", "error"};
	char at[32], *error = r->refused[i].error;

	snprintf(at, sizeof(at), "refusals[%zu]", i);
	if (!json_is_object(x))
		return jsonrd_wrong_type(d, at, NULL, "an object", x);
	if (uint_key(d, x, at, "index", NODE_BATCH_MAX - 1, &r->refused[i].index) < 0 ||
	    name_key(d, x, at, "check", r->refused[i].check, sizeof(r->refused[i].check),
	             "a check name", 1) < 0 ||
	    jsonrd_str_key(d, x, at, "error", error, sizeof(r->refused[i].error), 0) < 0)
		return -1;
	return jsonrd_only_keys(d, x, at, keys, JSONRD_NKEYS(keys));
}

int node_batch_reply_decode(const char *buf, size_t len, struct node_batch_reply *r, char *err,
                            size_t errlen)
{
	static const char *const keys[] = {"v",       "batch",    "accepted", "duplicates", "late",
	                                   "refused", "refusals", "etag",     "skew_ms"};
	struct jsonrd d = {err, errlen, "batch reply", 0};
	json_t *o, *a = NULL;
	size_t i, want;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!(o = open_doc(&d, buf, len, NODE_DEPTH_SMALL, NODE_BODY_MAX, keys,
	                   JSONRD_NKEYS(keys))))
		return -1;
	if (name_key(&d, o, "", "batch", r->id, sizeof(r->id), "a batch id", 0) < 0 ||
	    uint_key(&d, o, "", "accepted", UINT_MAX, &r->accepted) < 0 ||
	    uint_key(&d, o, "", "duplicates", UINT_MAX, &r->duplicates) < 0 ||
	    uint_key(&d, o, "", "late", UINT_MAX, &r->late) < 0 ||
	    uint_key(&d, o, "", "refused", UINT_MAX, &r->nrefused) < 0 ||
	    name_key(&d, o, "", "etag", r->etag, sizeof(r->etag), "an etag", 0) < 0 ||
	    jsonrd_int_key(&d, o, "", "skew_ms", INT64_MIN, INT64_MAX, &r->skew_ms, NULL) < 0 ||
	    !(a = jsonrd_get(&d, o, "", "refusals")))
		goto out;
	if (!json_is_array(a)) {
		jsonrd_wrong_type(&d, "", "refusals", "an array", a);
		goto out;
	}
	/* The first NODE_REFUSED_MAX are listed; "refused" counts them all. */
	want = r->nrefused < NODE_REFUSED_MAX ? r->nrefused : NODE_REFUSED_MAX;
	if (json_array_size(a) != want) {
		jsonrd_fail(&d, "", "refusals",
		            "%zu listed, %zu expected (refused %u, at most %d listed)",
		            json_array_size(a), want, r->nrefused, NODE_REFUSED_MAX);
		goto out;
	}
	for (i = 0; i < want; i++)
		if (dec_refusal(&d, json_array_get(a, i), i, r) < 0)
			goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* ---- heartbeat ---- */

char *node_heartbeat_encode(const struct node_heartbeat *hb)
{
	json_t *o = json_object(), *a = json_array();
	int n = hb->ncanaries < 0                   ? 0
	        : hb->ncanaries > NODE_CANARIES_MAX ? NODE_CANARIES_MAX
	                                            : hb->ncanaries;
	int bad = !o || !a;

	if (bad) {
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	jsonrd_put(o, "v", json_integer(NODE_PROTO_VERSION), &bad);
	jsonrd_put(o, "node", json_string(hb->node), &bad);
	jsonrd_put(o, "version", enc_field(hb->version, sizeof(hb->version)), &bad);
	jsonrd_put(o, "started_ms", json_integer(hb->started_ms), &bad);
	jsonrd_put(o, "sent_ms", json_integer(hb->sent_ms), &bad);
	jsonrd_put(o, "etag", enc_field_or_null(hb->etag, sizeof(hb->etag)), &bad);
	jsonrd_put(o, "checks", json_integer(hb->checks), &bad);
	jsonrd_put(o, "in_flight", json_integer(hb->in_flight), &bad);
	jsonrd_put(o, "spool_depth", enc_u64(hb->spool_depth), &bad);
	jsonrd_put(o, "spool_max", enc_u64(hb->spool_max), &bad);
	jsonrd_put(o, "spool_dropped", enc_u64(hb->spool_dropped), &bad);
	jsonrd_put(o, "spool_oldest_ms", json_integer(hb->spool_oldest_ms), &bad);
	jsonrd_put(o, "canaries", a, &bad);
	for (int i = 0; i < n && !bad; i++) {
		const struct node_canary *c = &hb->canaries[i];
		json_t *x = json_object();

		if (!x || json_array_append_new(a, x) < 0) {
			bad = 1;
			break;
		}
		jsonrd_put(x, "target", enc_field(c->target, sizeof(c->target)), &bad);
		jsonrd_put(x, "status", json_string(result_status_name(c->status)), &bad);
		jsonrd_put(x, "reason", json_string(result_reason_name(c->reason)), &bad);
		jsonrd_put(x, "message", enc_field(c->message, sizeof(c->message)), &bad);
		jsonrd_put(x, "probe_ms", json_integer(c->probe_ms), &bad);
		jsonrd_put(x, "failing", json_integer(c->failing), &bad);
	}
	return dump(o, bad);
}

static int dec_canary(struct jsonrd *d, json_t *x, size_t i, struct node_canary *c)
{
	static const char *const keys[] = {"target",  "status",   "reason",
	                                   "message", "probe_ms", "failing"};
	char at[32];
	int st, why;

	snprintf(at, sizeof(at), "canaries[%zu]", i);
	if (!json_is_object(x))
		return jsonrd_wrong_type(d, at, NULL, "an object", x);
	if (jsonrd_str_key(d, x, at, "target", c->target, sizeof(c->target), JSONRD_NONEMPTY) < 0 ||
	    jsonrd_enum_key(d, x, at, "status", "status", result_status_parse, &st) < 0 ||
	    jsonrd_enum_key(d, x, at, "reason", "reason", result_reason_parse, &why) < 0 ||
	    jsonrd_str_key(d, x, at, "message", c->message, sizeof(c->message), 0) < 0 ||
	    clock_key(d, x, at, "probe_ms", &c->probe_ms) < 0 ||
	    uint_key(d, x, at, "failing", UINT_MAX, &c->failing) < 0)
		return -1;
	/* As for a result: "ok" is the reason of up alone. */
	if (why == MP_R_OK && st != MP_UP)
		return jsonrd_fail(d, at, "reason", "\"ok\" does not go with status \"%s\"",
		                   result_status_name((enum mp_status)st));
	c->status = (enum mp_status)st;
	c->reason = (enum mp_reason)why;
	return jsonrd_only_keys(d, x, at, keys, JSONRD_NKEYS(keys));
}

int node_heartbeat_decode(const char *buf, size_t len, struct node_heartbeat *hb, char *err,
                          size_t errlen)
{
	static const char *const keys[] = {
	    "v",       "node",      "version",     "started_ms", "sent_ms",       "etag",
	    "checks",  "in_flight", "spool_depth", "spool_max",  "spool_dropped", "spool_oldest_ms",
	    "canaries"};
	struct jsonrd d = {err, errlen, "heartbeat", 0};
	json_t *o, *a = NULL;
	int64_t x;
	size_t i;
	int rc = -1;

	memset(hb, 0, sizeof(*hb));
	if (!(o = open_doc(&d, buf, len, NODE_DEPTH_SMALL, NODE_BODY_MAX, keys,
	                   JSONRD_NKEYS(keys))))
		return -1;
	if (name_key(&d, o, "", "node", hb->node, sizeof(hb->node), "a node name", 0) < 0 ||
	    jsonrd_str_key(&d, o, "", "version", hb->version, sizeof(hb->version),
	                   JSONRD_NONEMPTY) < 0 ||
	    clock_key(&d, o, "", "started_ms", &hb->started_ms) < 0 ||
	    clock_key(&d, o, "", "sent_ms", &hb->sent_ms) < 0 ||
	    name_key(&d, o, "", "etag", hb->etag, sizeof(hb->etag), "an etag", 1) < 0 ||
	    uint_key(&d, o, "", "checks", NODE_CHECKS_MAX, &hb->checks) < 0 ||
	    uint_key(&d, o, "", "in_flight", UINT_MAX, &hb->in_flight) < 0)
		goto out;
	if (jsonrd_int_key(&d, o, "", "spool_depth", 0, INT64_MAX, &x, NULL) < 0)
		goto out;
	hb->spool_depth = (uint64_t)x;
	if (jsonrd_int_key(&d, o, "", "spool_max", 0, INT64_MAX, &x, NULL) < 0)
		goto out;
	hb->spool_max = (uint64_t)x;
	if (jsonrd_int_key(&d, o, "", "spool_dropped", 0, INT64_MAX, &x, NULL) < 0)
		goto out;
	hb->spool_dropped = (uint64_t)x;
	if (clock_key(&d, o, "", "spool_oldest_ms", &hb->spool_oldest_ms) < 0 ||
	    !(a = jsonrd_array_key(&d, o, "", "canaries", "an array", NODE_CANARIES_MAX,
	                           "canaries")))
		goto out;
	for (i = 0; i < json_array_size(a); i++)
		if (dec_canary(&d, json_array_get(a, i), i, &hb->canaries[i]) < 0)
			goto out;
	hb->ncanaries = (int)json_array_size(a);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

char *node_heartbeat_reply_encode(const struct node_heartbeat_reply *r)
{
	json_t *o = json_object();
	int bad = !o;

	if (bad)
		return NULL;
	jsonrd_put(o, "v", json_integer(NODE_PROTO_VERSION), &bad);
	jsonrd_put(o, "etag", json_string(r->etag), &bad);
	jsonrd_put(o, "controller_ms", json_integer(r->controller_ms), &bad);
	jsonrd_put(o, "skew_ms", json_integer(r->skew_ms), &bad);
	jsonrd_put(o, "skew_flagged", json_boolean(r->skew_flagged), &bad);
	return dump(o, bad);
}

int node_heartbeat_reply_decode(const char *buf, size_t len, struct node_heartbeat_reply *r,
                                char *err, size_t errlen)
{
	static const char *const keys[] = {"v", "etag", "controller_ms", "skew_ms", "skew_flagged"};
	struct jsonrd d = {err, errlen, "heartbeat reply", 0};
	json_t *o;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!(o = open_doc(&d, buf, len, 1, NODE_BODY_MAX, keys, JSONRD_NKEYS(keys))))
		return -1;
	if (name_key(&d, o, "", "etag", r->etag, sizeof(r->etag), "an etag", 0) < 0 ||
	    clock_key(&d, o, "", "controller_ms", &r->controller_ms) < 0 ||
	    jsonrd_int_key(&d, o, "", "skew_ms", INT64_MIN, INT64_MAX, &r->skew_ms, NULL) < 0 ||
	    jsonrd_bool_key(&d, o, "", "skew_flagged", &r->skew_flagged) < 0)
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}
