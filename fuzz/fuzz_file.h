/* SPDX-License-Identifier: ISC */
/*
 * fuzz_file.h - for harnesses of readers that take a path: the input
 * written to one private file per process, rewritten for every run.
 */
#ifndef MP_FUZZ_FILE_H
#define MP_FUZZ_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

/* The file's path; created on first use in $TMPDIR (or /tmp) and removed at exit. */
static char fuzz_path[256];

static void fuzz_file_remove(void)
{
	if (fuzz_path[0])
		unlink(fuzz_path);
}

static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
	FILE *f;

	if (!fuzz_path[0]) {
		const char *dir = getenv("TMPDIR");
		snprintf(fuzz_path, sizeof(fuzz_path), "%s/mp-fuzz-%ld%s", dir ? dir : "/tmp",
		         (long)getpid(), suffix);
		atexit(fuzz_file_remove);
	}
	f = fopen(fuzz_path, "wb");
	CHECK(f);
	CHECK(size == 0 || fwrite(data, 1, size, f) == size);
	CHECK(fclose(f) == 0);
	return fuzz_path;
}

#endif
