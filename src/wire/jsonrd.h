/* SPDX-License-Identifier: ISC */
/*
 * jsonrd.h - the strict, bounded JSON reading both wire formats share
 * (result_json.c, node_json.c), and the two writing helpers their encoders
 * have in common.
 *
 * A reader refuses rather than repairs, and names the field in every
 * error: each function that reads takes at, where the value sits ("" at
 * the top, "tls.chain[0]", "checks[2]"), and key, and writes
 * "at.key: what is wrong" (`checks[0].interval_ms: 10 is out of range
 * (1000 to 900000)`). Each returns -1 (or NULL) right after writing its
 * message, so the message is that of the first error. What each format
 * makes of the fields (dates, statuses, names, specs, passwords) stays in
 * its own file.
 *
 * Pure: no I/O, no allocation but jansson's own.
 */
#ifndef MP_JSONRD_H
#define MP_JSONRD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The longest name jsonrd_name_ok() takes: check, node and location names, ids, etags. */
#define JSONRD_NAME_MAX 64
/* How much of a refused value a message quotes (with its NUL). */
#define JSONRD_SHOW_MAX 48

/*
 * Where a document's errors go and how it words them: made on the stack
 * by each decoder, for one document. err is never longer than errlen
 * bytes with its NUL.
 */
struct jsonrd {
	char *err;
	size_t errlen;
	const char *doc; /* names the whole document: "result", "assignments", "batch"... */
	unsigned flags;  /* JSONRD_CUT_255 or 0 */
};

/* The message after the field's name is cut at 255 bytes (result_json's always was). */
#define JSONRD_CUT_255 1u

/* How many keys a static array of them holds (not a pointer: sizeof would lie). */
#define JSONRD_NKEYS(keys) (sizeof(keys) / sizeof((keys)[0]))

/* Flags of jsonrd_str_val() and jsonrd_str_key(). */
#define JSONRD_NULLABLE 1 /* null reads as "" */
#define JSONRD_NONEMPTY 2 /* "" is refused */

/*
 * "at.key: " and the message into d->err; key NULL names at itself, or
 * the document when at is "". Returns -1, for `return jsonrd_fail(...)`.
 */
int jsonrd_fail(struct jsonrd *d, const char *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "expected WANT, got an object" (a string, an integer, null...). -1. */
int jsonrd_wrong_type(struct jsonrd *d, const char *at, const char *key, const char *want,
                      const json_t *v);

/* "an object", "a string"...: v's type in a message. */
const char *jsonrd_type_name(const json_t *v);

/* A value from the other side, quoted for a message: escaped and cut to len. Returns buf. */
const char *jsonrd_show(char *buf, size_t len, const char *s, size_t n);

/* The value of key in o; NULL with "missing" when there is none. */
json_t *jsonrd_get(struct jsonrd *d, json_t *o, const char *at, const char *key);

/*
 * Every key of o is one of the n keys: a misspelt key is a mistake, not
 * an extension. Else -1 with `at: unknown key "k"`, or with what in front
 * of the key for jsonrd_only_names() (`timings_ms: not a phase name: "k"`).
 */
int jsonrd_only_keys(struct jsonrd *d, json_t *o, const char *at, const char *const *keys, size_t n)
    __attribute__((warn_unused_result));
int jsonrd_only_names(struct jsonrd *d, json_t *o, const char *at, const char *const *names,
                      size_t n, const char *what) __attribute__((warn_unused_result));

/*
 * A string into a field of sz bytes: shorter than the field, no control
 * byte (the encoders escape them), no NUL; flags JSONRD_NULLABLE and
 * JSONRD_NONEMPTY. jsonrd_str_key() reads o's key, which must be there.
 */
int jsonrd_str_val(struct jsonrd *d, json_t *v, const char *at, const char *key, char *dst,
                   size_t sz, int flags) __attribute__((warn_unused_result));
int jsonrd_str_key(struct jsonrd *d, json_t *o, const char *at, const char *key, char *dst,
                   size_t sz, int flags) __attribute__((warn_unused_result));

/*
 * The array at key, of at most max items: else NULL with "expected WANT"
 * ("an array", "an array of strings") or "more than MAX WHAT".
 */
json_t *jsonrd_array_key(struct jsonrd *d, json_t *o, const char *at, const char *key,
                         const char *want, size_t max, const char *what)
    __attribute__((warn_unused_result));

/*
 * An integer in [lo, hi]. Null sets *isnull to 1 (0 otherwise) when isnull
 * is given, and is refused when it is NULL.
 */
int jsonrd_int_key(struct jsonrd *d, json_t *o, const char *at, const char *key, int64_t lo,
                   int64_t hi, int64_t *dst, int *isnull) __attribute__((warn_unused_result));

/* true or false, as 1 or 0. */
int jsonrd_bool_key(struct jsonrd *d, json_t *o, const char *at, const char *key, int *dst)
    __attribute__((warn_unused_result));

/*
 * A name of result.h's tables (a status, a reason: what), read by parse,
 * which returns the value or -1 for a name it does not know.
 */
int jsonrd_enum_key(struct jsonrd *d, json_t *o, const char *at, const char *key, const char *what,
                    int (*parse)(const char *), int *dst) __attribute__((warn_unused_result));

/*
 * The nesting of the len bytes at buf counted over the raw bytes, before
 * jansson recurses into them: 0, or -1 with "DOC: nested deeper than MAX
 * levels at byte N".
 */
int jsonrd_depth_check(struct jsonrd *d, const char *buf, size_t len, int max)
    __attribute__((warn_unused_result));

/* 1 when s is 64 lower-case hex digits (a SHA-256), else 0. */
int jsonrd_hex64(const char *s);

/* 1 when s is 1 to JSONRD_NAME_MAX of [A-Za-z0-9._-], else 0. */
int jsonrd_name_ok(const char *s);

/* ---- writing ---- */

/*
 * The offset of the first control byte (below 0x20, or 0x7f) of the n
 * bytes at s; n when there is none. The decoder refuses what the
 * encoders escape by this one test.
 */
size_t jsonrd_control_at(const char *s, size_t n);

/* o[key] = v, taking v; a NULL v (out of memory) or a failed set sets *bad. */
void jsonrd_put(json_t *o, const char *key, json_t *v, int *bad);

#endif
