/* SPDX-License-Identifier: ISC */
/*
 * format.h - `mailpulse check --format FMT`: one result as a line the
 * admin designs, like `curl -w`. %{field} is a value of the result, "%%"
 * a '%', "\n", "\t" and "\\" the usual bytes; the rest is printed as
 * written. The fields are listed in mailpulse(1).
 *
 * Pure over (check, result), as output.h: a value that came from the
 * server or a certificate is printed escaped (output_put_safe), so no
 * control byte of theirs reaches the terminal or the script.
 */
#ifndef MP_FORMAT_H
#define MP_FORMAT_H

#include <stddef.h>
#include <stdio.h>

#include "core/result.h"
#include "spec/target.h"

/*
 * Check a format before any probe runs. Returns 0, or -1 with a message in
 * err naming the unknown field or the bad escape and its offset.
 */
int format_check(const char *fmt, char *err, size_t errlen);

/*
 * Print fmt for one result. No newline is added: "\n" in fmt says where
 * lines end. A value that does not exist for this result (no TLS, no
 * greeting) prints as nothing. fmt must have passed format_check().
 */
void format_print(FILE *f, const char *fmt, const struct check *c, const struct result *r);

#endif
