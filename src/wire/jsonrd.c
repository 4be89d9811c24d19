/* SPDX-License-Identifier: ISC */
/*
 * jsonrd.c - the strict, bounded JSON reading both wire formats share
 * (see jsonrd.h).
 */
#include "wire/jsonrd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/line.h"

/* "at.key", "key" at the top, "at" alone when key is NULL (the document at the top). */
static void field_name(const struct jsonrd *d, char *buf, size_t len, const char *at,
                       const char *key)
{
	if (!key)
		snprintf(buf, len, "%s", *at ? at : d->doc);
	else if (*at)
		snprintf(buf, len, "%s.%s", at, key);
	else
		snprintf(buf, len, "%s", key);
}

int jsonrd_fail(struct jsonrd *d, const char *at, const char *key, const char *fmt, ...)
{
	char name[192], msg[512];
	va_list ap;

	field_name(d, name, sizeof(name), at, key);
	va_start(ap, fmt);
	vsnprintf(msg, d->flags & JSONRD_CUT_255 ? 256 : sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(d->err, d->errlen, "%s: %s", name, msg);
	return -1;
}

const char *jsonrd_show(char *buf, size_t len, const char *s, size_t n)
{
	line_escape(buf, len, s, n);
	return buf;
}

const char *jsonrd_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

int jsonrd_wrong_type(struct jsonrd *d, const char *at, const char *key, const char *want,
                      const json_t *v)
{
	return jsonrd_fail(d, at, key, "expected %s, got %s", want, jsonrd_type_name(v));
}

json_t *jsonrd_get(struct jsonrd *d, json_t *o, const char *at, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		jsonrd_fail(d, at, key, "missing");
	return v;
}

int jsonrd_only_names(struct jsonrd *d, json_t *o, const char *at, const char *const *names,
                      size_t n, const char *what)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		size_t i;
		char s[JSONRD_SHOW_MAX];

		for (i = 0; i < n && strcmp(k, names[i]) != 0; i++)
			;
		if (i == n)
			return jsonrd_fail(d, at, NULL, "%s \"%s\"", what,
			                   jsonrd_show(s, sizeof(s), k, strlen(k)));
	}
	return 0;
}

int jsonrd_only_keys(struct jsonrd *d, json_t *o, const char *at, const char *const *keys, size_t n)
{
	return jsonrd_only_names(d, o, at, keys, n, "unknown key");
}

int jsonrd_str_val(struct jsonrd *d, json_t *v, const char *at, const char *key, char *dst,
                   size_t sz, int flags)
{
	const char *s;
	size_t n, bad;

	if ((flags & JSONRD_NULLABLE) && json_is_null(v)) {
		dst[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		return jsonrd_wrong_type(
		    d, at, key, flags & JSONRD_NULLABLE ? "a string or null" : "a string", v);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= sz)
		return jsonrd_fail(d, at, key, "longer than %zu bytes", sz - 1);
	if (strlen(s) != n)
		return jsonrd_fail(d, at, key, "holds a NUL byte");
	if ((bad = jsonrd_control_at(s, n)) < n)
		return jsonrd_fail(d, at, key, "control byte 0x%02x at offset %zu",
		                   (unsigned char)s[bad], bad);
	if ((flags & JSONRD_NONEMPTY) && n == 0)
		return jsonrd_fail(d, at, key, "empty");
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int jsonrd_str_key(struct jsonrd *d, json_t *o, const char *at, const char *key, char *dst,
                   size_t sz, int flags)
{
	json_t *v = jsonrd_get(d, o, at, key);

	return v ? jsonrd_str_val(d, v, at, key, dst, sz, flags) : -1;
}

json_t *jsonrd_array_key(struct jsonrd *d, json_t *o, const char *at, const char *key,
                         const char *want, size_t max, const char *what)
{
	json_t *a = jsonrd_get(d, o, at, key);

	if (!a)
		return NULL;
	if (!json_is_array(a)) {
		jsonrd_wrong_type(d, at, key, want, a);
		return NULL;
	}
	if (json_array_size(a) > max) {
		jsonrd_fail(d, at, key, "more than %zu %s", max, what);
		return NULL;
	}
	return a;
}

int jsonrd_int_key(struct jsonrd *d, json_t *o, const char *at, const char *key, int64_t lo,
                   int64_t hi, int64_t *dst, int *isnull)
{
	json_t *v = jsonrd_get(d, o, at, key);
	json_int_t x;

	if (!v)
		return -1;
	if (isnull)
		*isnull = json_is_null(v);
	if (isnull && *isnull)
		return 0;
	if (!json_is_integer(v))
		return jsonrd_wrong_type(d, at, key, isnull ? "an integer or null" : "an integer",
		                         v);
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return jsonrd_fail(d, at, key, "%lld is out of range (%lld to %lld)", (long long)x,
		                   (long long)lo, (long long)hi);
	*dst = (int64_t)x;
	return 0;
}

int jsonrd_bool_key(struct jsonrd *d, json_t *o, const char *at, const char *key, int *dst)
{
	json_t *v = jsonrd_get(d, o, at, key);

	if (!v)
		return -1;
	if (!json_is_boolean(v))
		return jsonrd_wrong_type(d, at, key, "a boolean", v);
	*dst = json_is_true(v);
	return 0;
}

int jsonrd_enum_key(struct jsonrd *d, json_t *o, const char *at, const char *key, const char *what,
                    int (*parse)(const char *), int *dst)
{
	json_t *v = jsonrd_get(d, o, at, key);
	char s[JSONRD_SHOW_MAX];
	int x;

	if (!v)
		return -1;
	if (!json_is_string(v))
		return jsonrd_wrong_type(d, at, key, "a string", v);
	x = parse(json_string_value(v));
	if (x < 0 || strlen(json_string_value(v)) != json_string_length(v))
		return jsonrd_fail(
		    d, at, key, "not a %s name: \"%s\"", what,
		    jsonrd_show(s, sizeof(s), json_string_value(v), json_string_length(v)));
	*dst = x;
	return 0;
}

int jsonrd_depth_check(struct jsonrd *d, const char *buf, size_t len, int max)
{
	int depth = 0, in_str = 0, esc = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (ch == '\\')
				esc = 1;
			else if (ch == '"')
				in_str = 0;
		} else if (ch == '"') {
			in_str = 1;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max) {
				snprintf(d->err, d->errlen,
				         "%s: nested deeper than %d levels at byte %zu", d->doc,
				         max, i);
				return -1;
			}
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	return 0;
}

int jsonrd_hex64(const char *s)
{
	if (strnlen(s, 65) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int jsonrd_name_ok(const char *s)
{
	if (!*s || strnlen(s, JSONRD_NAME_MAX + 1) > JSONRD_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* ---- writing ---- */

size_t jsonrd_control_at(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			break;
	return i;
}

void jsonrd_put(json_t *o, const char *key, json_t *v, int *bad)
{
	/* json_object_set_new() releases v on failure; a NULL v is out of memory. */
	if (!v || json_object_set_new(o, key, v) < 0)
		*bad = 1;
}
