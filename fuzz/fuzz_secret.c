/* SPDX-License-Identifier: ISC */
/*
 * fuzz_secret.c - secret files: any bytes as a password, token or key file.
 * secret_read_file() must take a first line that is whole, non-empty, free
 * of CR and NUL and within SECRET_MAX, or refuse with a reason, and never
 * hand back more than fits.
 */
#include <string.h>

#include "fuzz_file.h"
#include "spec/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dst[SECRET_MAX + 1], why[256];
	int world;

	if (size > 4 * SECRET_MAX)
		return 0;
	const char *path = fuzz_file(data, size, ".secret");
	memset(dst, 'x', sizeof(dst));
	why[0] = '\0';
	if (secret_read_file(path, dst, sizeof(dst), &world, why, sizeof(why)) == 0) {
		size_t n = strlen(dst);
		CHECK(n > 0 && n <= SECRET_MAX);
		CHECK(!memchr(dst, '\r', n) && !memchr(dst, '\n', n));
		/* It is the file's first line. */
		CHECK(n <= size && memcmp(dst, data, n) == 0);
	} else {
		CHECK(why[0] != '\0');
	}
	/* A small destination is refused or filled within bounds, never overrun. */
	char small[8];
	if (secret_read_file(path, small, sizeof(small), NULL, why, sizeof(why)) == 0)
		CHECK(strlen(small) < sizeof(small));
	return 0;
}
