/* SPDX-License-Identifier: ISC */
/*
 * result_json.h - the one JSON shape of a result (docs/json.md): its one
 * encoder, and a bounded, strict decoder that reads it back, so a result
 * can travel from the node that probed to the one that judges and keeps it.
 *
 * Every other JSON rendering of a result (the CLI's --json, the store, the
 * API, notifications) is meant to derive from result_json_encode().
 */
#ifndef MP_RESULT_JSON_H
#define MP_RESULT_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "spec/target.h"

/* The longest encoded result the decoder reads; the encoder's worst case is far below. */
#define RESULT_JSON_MAX (64 * 1024)
/* Objects and arrays nested: the result, tls, chain, one certificate. */
#define RESULT_JSON_DEPTH_MAX 4
/* Check and location names: at most 64 of [A-Za-z0-9._-], as the configuration allows. */
#define RESULT_META_NAME_MAX 65

/*
 * What travels beside a result: which check of which node it answers, and
 * where it stands in that node's sequence. Plain data, owned by whoever
 * embeds it. An empty string, or seq 0, is "not known" (a one-shot
 * `mailpulse check` has no check name, location, digest or sequence).
 */
struct result_meta {
	char target[TARGET_URL_MAX];         /* canonical URL, as target_parse() writes it */
	char check[RESULT_META_NAME_MAX];    /* the check's name */
	char location[RESULT_META_NAME_MAX]; /* the node's location */
	char digest[65]; /* SHA-256 of the check's configuration, lower-case hex */
	uint64_t seq;    /* per node, from 1; at most INT64_MAX travels */
};

/* The object of docs/json.md; NULL only when out of memory. A new reference. */
json_t *result_json_encode(const struct result *r, const struct result_meta *m);

/*
 * result_json_encode() as one compact line without a newline, numbers in
 * the one precision every copy uses; malloc'ed, NULL when out of memory.
 */
char *result_json_dumps(const struct result *r, const struct result_meta *m);

/*
 * Read one encoded result from the len bytes at buf (no NUL needed).
 * Bounded: at most RESULT_JSON_MAX bytes, RESULT_JSON_DEPTH_MAX levels,
 * every string within its fixed field, every array within its cap.
 * Strict: every key of docs/json.md present with its type, no other key,
 * names (status, severity, reason, phases) known, values in range, the
 * derived fields consistent with what they derive from. Returns 0 with
 * *r and *m filled, or -1 with err naming the field and what is wrong
 * (`addresses[2].status: not a status name: "upp"`); *r and *m are then
 * unspecified. Encoding what it decoded gives the same text back.
 */
int result_json_decode(const char *buf, size_t len, struct result *r, struct result_meta *m,
                       char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * result_json_decode() of a value already parsed: one element of a node's
 * batch (wire/node_json.c), decoded without writing it out again. The same
 * checks, but for the byte bound and the depth, which the caller applies
 * to the whole document it parsed (with JSON_REJECT_DUPLICATES). o is only
 * read.
 */
int result_json_decode_obj(json_t *o, struct result *r, struct result_meta *m, char *err,
                           size_t errlen) __attribute__((warn_unused_result));

#endif
