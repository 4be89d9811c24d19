/* SPDX-License-Identifier: ISC */
/*
 * fuzz_url.c - the URL parser and `check`'s command line around it. The
 * input is split at NUL bytes into arguments: the first is parsed as a URL
 * alone, then all are given to check_parse_args() after "check" (URLs,
 * --resolve HOST:ADDR[,ADDR], -4/-6, thresholds...). Options that read
 * files are left out: the harness must not open what the input names.
 */
#include <string.h>

#include "cmd/check.h"
#include "fuzz.h"
#include "spec/target.h"

#define ARGS_MAX 8

static int reads_a_file(const char *a)
{
	static const char *const opts[] = {"--password-file", "--ca-file", NULL};

	for (int i = 0; opts[i]; i++)
		if (strncmp(a, opts[i], strlen(opts[i])) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[4096], err[512], *argv[ARGS_MAX + 2];
	struct target t;
	struct check_opts o;
	int argc = 1;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	if (target_parse(&t, buf, err, sizeof(err)) == 0) {
		/* What parses prints back canonically, and parses again the same. */
		struct target t2;
		CHECK(target_parse(&t2, t.url, err, sizeof(err)) == 0);
		CHECK(strcmp(t.url, t2.url) == 0);
		CHECK(t.port == t2.port);
	} else {
		CHECK(err[0] != '\0');
	}

	argv[0] = "check";
	for (char *p = buf; p < buf + size && argc <= ARGS_MAX; p += strlen(p) + 1) {
		if (reads_a_file(p))
			return 0;
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	if (check_parse_args(argc, argv, &o, err, sizeof(err)) < 0)
		CHECK(err[0] != '\0');
	check_opts_free(&o);
	return 0;
}
