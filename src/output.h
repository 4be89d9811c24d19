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

#include "result.h"
#include "target.h"

/* 0 up/OK, 1 degraded/WARNING, 2 down/CRITICAL, 3 unknown/UNKNOWN. */
int output_exit_code(enum mp_status st);

/*
 * The worse of two statuses for the exit code of several results:
 * down > degraded > unknown > up, so a server seen failing outranks one we
 * could not judge. Fold it over the results, then call output_exit_code().
 */
enum mp_status output_worse(enum mp_status a, enum mp_status b);

/* One line; verbose adds indented detail lines (timings, TLS, addresses). */
/* A JSON string of s (NULL: null); text that is not UTF-8 is shown escaped. */
json_t *output_json_str(const char *s);
/* ISO 8601 UTC ("2026-11-23T14:00:00Z") of a unix time in milliseconds. */
json_t *output_json_time_ms(int64_t ms);

void output_human(FILE *f, const struct check *c, const struct result *r, int verbose);

/* A new reference to the object documented in docs/json.md; NULL only when out of memory. */
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

#endif
