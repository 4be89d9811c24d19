/* SPDX-License-Identifier: ISC */
/*
 * config.c - `mailpulse config check [-v] FILE`: load the file with
 * conf_load(), print its problems or a summary, and the effective
 * configuration on request.
 */
#include "cmd/config.h"
#include "cmd/config_checks.h"

#include <stdio.h>
#include <string.h>

#include "conf/conf.h"

static void config_usage(FILE *f)
{
	fputs("Usage: mailpulse config check [-v] FILE\n"
	      "       mailpulse config checks FILE\n"
	      "\n"
	      "Validate a configuration file (see mailpulse.conf(5)): every problem is\n"
	      "printed as FILE:LINE:COLUMN: message. `config checks` prints the names of\n"
	      "its checks, one per line (what shell completion offers).\n"
	      "\n"
	      "  -v, --verbose  also print the effective configuration, with every\n"
	      "                 default filled in and secrets shown as (set)\n"
	      "  -h, --help     show this help and exit\n"
	      "\n"
	      "Exit status: 0 valid, 1 invalid, 3 usage error.\n",
	      f);
}

int config_main(int argc, char **argv)
{
	const char *file = NULL;
	struct conf *c;
	int verbose = 0;

	if (argc < 2) {
		fputs("mailpulse config: a subcommand is needed: mailpulse config check FILE\n",
		      stderr);
		return 3;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		config_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "checks") == 0)
		return config_checks_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") != 0) {
		fprintf(stderr,
		        "mailpulse config: unknown subcommand '%.64s'; try: check, checks\n",
		        argv[1]);
		return 3;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			config_usage(stdout);
			return 0;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			verbose = 1;
		} else if (strcmp(a, "--") == 0 && i + 1 < argc && !file) {
			file = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "mailpulse config check: unknown option '%.64s'\n", a);
			return 3;
		} else if (file) {
			fputs("mailpulse config check: one FILE at a time\n", stderr);
			return 3;
		} else {
			file = a;
		}
	}
	if (!file) {
		fputs("mailpulse config check: no FILE given: mailpulse config check "
		      "/etc/mailpulse/mailpulse.yaml\n",
		      stderr);
		return 3;
	}
	if (conf_load(file, &c, stderr) < 0)
		return 1;
	printf("%s: OK, %d checks, %d channels\n", file, c->nchecks, c->nchannels);
	if (verbose)
		conf_dump(c, stdout);
	conf_unref(c);
	return fflush(stdout) == 0 ? 0 : 1;
}
