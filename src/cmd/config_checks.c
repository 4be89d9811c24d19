/* SPDX-License-Identifier: ISC */
/*
 * config_checks.c - `mailpulse config checks FILE`: every check name of a
 * valid configuration, one per line, in file order.
 *
 * The names come from conf_load(), the one reader of the file, so what is
 * listed is exactly what `mailpulse run` would monitor; an invalid file
 * lists nothing and prints its errors as `config check` does. Names are
 * [A-Za-z0-9._-] (conf.c refuses others), so a line needs no escaping.
 */
#include "cmd/config_checks.h"

#include <stdio.h>
#include <string.h>

#include "conf/conf.h"

static void config_checks_usage(FILE *f)
{
	fputs("Usage: mailpulse config checks FILE\n"
	      "\n"
	      "Print the name of every check of a valid configuration file, one per\n"
	      "line, in file order (for scripts and shell completion). An invalid file\n"
	      "prints its errors as 'mailpulse config check' does.\n"
	      "\n"
	      "  -h, --help     show this help and exit\n"
	      "\n"
	      "Exit status: 0 listed, 1 invalid file, 3 usage error.\n",
	      f);
}

int config_checks_main(int argc, char **argv)
{
	const char *file = NULL;
	struct conf *c;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			config_checks_usage(stdout);
			return 0;
		}
		if (strcmp(a, "--") == 0 && i + 1 < argc && !file) {
			file = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "mailpulse config checks: unknown option '%.64s'\n", a);
			return 3;
		} else if (file) {
			fputs("mailpulse config checks: one FILE at a time\n", stderr);
			return 3;
		} else {
			file = a;
		}
	}
	if (!file) {
		fputs("mailpulse config checks: no FILE given: mailpulse config checks "
		      "/etc/mailpulse/mailpulse.yaml\n",
		      stderr);
		return 3;
	}
	if (conf_load(file, &c, stderr) < 0)
		return 1;
	for (int i = 0; i < c->nchecks; i++)
		printf("%s\n", c->checks[i].name);
	conf_unref(c);
	return fflush(stdout) == 0 ? 0 : 1;
}
