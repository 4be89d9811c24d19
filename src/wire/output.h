/* SPDX-License-Identifier: ISC */
/*
 * output.h - one result shown three ways: a human line, a JSON object
 * (docs/json.md), a Nagios plugin line.
 *
 * Every function is pure over (check, result): no global state, nothing
 * kept, so the daemon can reuse them. Strings that came from the server or
 * a certificate are escaped before they reach a terminal or a JSON string.
 */
#ifndef MP_OUTPUT_H
#define MP_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

#include "core/result.h"
#include "spec/target.h"

/* The plugin exit code of a severity: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
int output_exit_code(enum mp_severity sev);

/*
 * The worse of two severities for the exit code of several results:
 * critical > warning > unknown > ok, so a server seen failing outranks one
 * we could not judge. Fold it over the results, then call output_exit_code().
 */
enum mp_severity output_worse(enum mp_severity a, enum mp_severity b);

/* s with every byte outside printable ASCII as \xNN; nagios also turns '|' into '/'. */
void output_put_safe(FILE *f, const char *s, int nagios);

/* One line; verbose adds indented detail lines (timings, TLS, addresses). */
/* A JSON string of s (NULL: null); text that is not UTF-8 is shown escaped. */
json_t *output_json_str(const char *s);
/* ISO 8601 UTC ("2026-11-23T14:00:00Z") of a unix time in milliseconds. */
json_t *output_json_time_ms(int64_t ms);

void output_human(FILE *f, const struct check *c, const struct result *r, int verbose);

/*
 * A new reference to the object documented in docs/json.md, from the one
 * encoder (result_json_encode) with the target and no travelling metadata;
 * NULL only when out of memory.
 */
json_t *output_json(const struct check *c, const struct result *r);

/* output_json() printed compact on one line with a newline. Returns 0, or -1 when out of memory. */
int output_json_line(FILE *f, const struct check *c, const struct result *r);

/* "IMAPS OK - host:993 greeting in 0.012s, TLSv1.3, cert 63 days": no '|', no newline. */
void output_nagios_text(FILE *f, const struct check *c, const struct result *r);

/*
 * Performance data of the phases that were reached, space separated, no
 * newline. prefix, when not NULL, is put before every label and the labels
 * are quoted; it tells several targets apart in one plugin output.
 */
void output_nagios_perf(FILE *f, const struct check *c, const struct result *r, const char *prefix);

/* Text, '|', performance data and a newline: a complete single-target plugin output. */
void output_nagios(FILE *f, const struct check *c, const struct result *r);

/*
 * Several targets as one plugin output: a first line with the worst state
 * and a count per severity, one line per target, every target's perfdata
 * at the end. rs[i] is the result of checks[i].
 */
void output_nagios_multi(FILE *f, const struct check *checks, const struct result *const *rs,
                         size_t n);

#endif
