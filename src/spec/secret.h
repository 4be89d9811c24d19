/* SPDX-License-Identifier: ISC */
/*
 * secret.h - reading a secret (a password, a token, a webhook key) from the
 * first line of a file or from an environment variable, for `check
 * --password-file` and the configuration's *_file and *_env keys alike.
 */
#ifndef MP_SECRET_H
#define MP_SECRET_H

#include <stddef.h>

#include "core/redact.h"

/* The longest secret accepted, in bytes: all the redactor hides. */
#define SECRET_MAX REDACT_SECRET_MAX

/*
 * The first line of path, without its CR/LF, into dst (NUL-terminated).
 * Reads no further than SECRET_MAX + 2 bytes, so a wrong path (a log,
 * /dev/zero) cannot make us read forever, and never blocks (a FIFO with no
 * writer reads as empty). Refuses an empty first line, one longer than
 * SECRET_MAX or dstsz - 1, and one holding a CR or NUL byte, which could
 * break out of a protocol command. Returns 0, or -1 with why set to a
 * phrase to put after the file's name ("is a directory", "the first line
 * is empty"...). *world_readable (may be NULL) tells whether every user
 * may read the file. The bytes read are wiped before returning.
 */
int secret_read_file(const char *path, char *dst, size_t dstsz, int *world_readable, char *why,
                     size_t whylen);

/*
 * The value of the environment variable name into dst. Refuses a name that
 * is not one ([A-Za-z_][A-Za-z0-9_]*), a variable unset, empty, longer than
 * SECRET_MAX or dstsz - 1, or holding a CR or LF byte. Returns 0, or -1
 * with why set to a phrase naming the variable ("MAILPULSE_PASSWORD is
 * not set"); the value never appears in it.
 */
int secret_read_env(const char *name, char *dst, size_t dstsz, char *why, size_t whylen);

#endif
