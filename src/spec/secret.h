/*
 * secret.h - reading a secret (a password, a token, a webhook key) from the
 * first line of a file, for `check --password-file` and the configuration's
 * *_file keys alike.
 */
#ifndef MP_SECRET_H
#define MP_SECRET_H

#include <stddef.h>

/* The longest secret accepted, in bytes. */
#define SECRET_MAX 512

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

#endif
