/* SPDX-License-Identifier: ISC */
/*
 * redact.h - keep the probe's password out of what the server said.
 *
 * A server that echoes the login command in its refusal ("A2 NO LOGIN bob
 * s3cret failed", "-ERR PASS s3cret rejected", the base64 of AUTHENTICATE
 * PLAIN) would put the password into every output: check's human, JSON and
 * Nagios lines, the daemon's store, the API and alerts. The driver calls
 * redact_result() once, on the final result, before anyone sees it; every
 * output prints from that result.
 *
 * What is redacted, wherever it is found in a server-derived string, each
 * also as line_escape() shows it: the password, its IMAP quoted-string
 * content (\" and \\ escapes), base64 of the password alone (SASL LOGIN)
 * and base64("\0login\0password") (SASL PLAIN with no authzid, which is
 * what the IMAP core sends).
 *
 * Rules: a form of REDACT_MIN bytes or more is redacted anywhere, inside a
 * word too, ignoring ASCII case; a shorter one only as a whole token (no
 * letter or digit on either side) and exactly, so that a password "a"
 * does not turn every "a" of a greeting into the mark. A string that was
 * cut, by line_escape() ("...") or by filling its buffer, loses a tail of
 * REDACT_MIN bytes or more that begins a form: a cut password is still a
 * password.
 */
#ifndef MP_REDACT_H
#define MP_REDACT_H

#include <stddef.h>

#include "core/result.h"

#define REDACT_MARK "(password)"
#define REDACT_MIN  4
/* The longest secret there is to hide: spec/secret.h reads none longer (SECRET_MAX). */
#define REDACT_SECRET_MAX 512

/*
 * Redact password (and its forms, which use login) from every
 * server-derived string of r: message, greeting, capabilities, warnings,
 * addrs[].message, the certificates' names and the verification message.
 * Does nothing when password is NULL or empty. The copies it makes are
 * wiped before it returns.
 */
void redact_result(struct result *r, const char *login, const char *password);

/*
 * The same on one NUL-terminated string in a buffer of cap bytes; the
 * result is cut to fit. Returns how many redactions were made.
 */
int redact_text(char *s, size_t cap, const char *login, const char *password);

#endif
