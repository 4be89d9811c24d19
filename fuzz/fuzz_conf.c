/* SPDX-License-Identifier: ISC */
/*
 * fuzz_conf.c - the YAML configuration: any bytes as a configuration file.
 * conf_load() must either load it or print file:line:col errors and return
 * -1 with nothing loaded; a loaded one must dump without harm. Files it
 * names (ca_file, *_file) are looked up relative to the temporary file's
 * folder, where they do not exist: those paths are errors too.
 */
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct conf *c = (struct conf *)1;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	CHECK(devnull);
	/* The loader refuses files over its cap anyway; keep runs fast. */
	if (size > 64 * 1024)
		return 0;
	const char *path = fuzz_file(data, size, ".yaml");
	int rc = conf_load(path, &c, devnull);
	CHECK(rc == 0 || rc == -1);
	CHECK((rc == 0) == (c != NULL));
	if (c) {
		conf_dump(c, devnull);
		for (int i = 0; i < c->nchecks; i++)
			CHECK(conf_find_check(c, c->checks[i].name) != NULL);
		conf_unref(c);
	}
	return 0;
}
