/* SPDX-License-Identifier: ISC */
/*
 * test_secret.c - the first line of a secret file, for --password-file and
 * the configuration's *_file keys: what is taken, what is refused, and
 * that hostile paths (a directory, /dev/zero, a FIFO nobody writes) end
 * at once with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/secret.h"

static char dir[] = "/tmp/mp-secret-XXXXXX";

static const char *put(const char *name, const char *content, size_t n, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void refused(const char *path, size_t dstsz, const char *want)
{
	char dst[SECRET_MAX + 1], why[128];

	assert_true(dstsz <= sizeof(dst));
	assert_int_equal(secret_read_file(path, dst, dstsz, NULL, why, sizeof(why)), -1);
	if (!strstr(why, want))
		fail_msg("%s: want \"%s\", got \"%s\"", path, want, why);
}

static void test_first_line_only(void **unused)
{
	(void)unused;
	char dst[SECRET_MAX + 1], why[128];
	int world = -1;

	assert_int_equal(secret_read_file(put("a", "s3cret\r\nsecond\n", 15, 0600), dst,
	                                  sizeof(dst), &world, why, sizeof(why)),
	                 0);
	assert_string_equal(dst, "s3cret");
	assert_int_equal(world, 0);
	assert_int_equal(secret_read_file(put("b", "no newline", 10, 0644), dst, sizeof(dst),
	                                  &world, why, sizeof(why)),
	                 0);
	assert_string_equal(dst, "no newline");
	assert_int_equal(world, 1);
}

static void test_lengths(void **unused)
{
	(void)unused;
	char big[SECRET_MAX + 2], dst[SECRET_MAX + 1], why[128];

	memset(big, 'x', sizeof(big));
	assert_int_equal(secret_read_file(put("max", big, SECRET_MAX, 0600), dst, sizeof(dst), NULL,
	                                  why, sizeof(why)),
	                 0);
	assert_int_equal(strlen(dst), SECRET_MAX);
	refused(put("over", big, SECRET_MAX + 1, 0600), sizeof(dst), "longer than 512 bytes");
	/* The caller's buffer bounds it too. */
	refused(put("small", big, 20, 0600), 10, "longer than 9 bytes");
}

static void test_refusals(void **unused)
{
	(void)unused;
	char path[256];

	refused(put("empty", "", 0, 0600), SECRET_MAX + 1, "the first line is empty");
	refused(put("blank", "\r\nlater\n", 8, 0600), SECRET_MAX + 1, "the first line is empty");
	refused(put("nul", "ab\0cd\n", 6, 0600), SECRET_MAX + 1, "contains a CR or NUL byte");
	refused(put("cr", "ab\rcd\n", 6, 0600), SECRET_MAX + 1, "contains a CR or NUL byte");
	refused(dir, SECRET_MAX + 1, "is a directory");
	snprintf(path, sizeof(path), "%s/missing", dir);
	refused(path, SECRET_MAX + 1, "No such file or directory");
	/* Endless input is read no further than a line can be. */
	refused("/dev/zero", SECRET_MAX + 1, "longer than 512 bytes");
}

static void test_fifo_without_writer(void **unused)
{
	(void)unused;
	char path[256];

	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* Must not wait for a writer that never comes. */
	refused(path, SECRET_MAX + 1, "the first line is empty");
}

static int setup(void **unused)
{
	(void)unused;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **unused)
{
	char cmd[300];

	(void)unused;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_line_only),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_fifo_without_writer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
