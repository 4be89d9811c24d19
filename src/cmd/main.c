/* SPDX-License-Identifier: ISC */
/*
 * main.c - argv -> a subcommand; nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/check.h"
#include "cmd/config.h"
#include "conf/conf.h"
#include "cmd/probe.h"
#include "cmd/run.h"
#include "cmd/report.h"
#include "cmd/store.h"

#ifndef MAILPULSE_VERSION
#define MAILPULSE_VERSION "unknown"
#endif

static void usage(FILE *f)
{
	fputs("Usage: mailpulse COMMAND [OPTION]... [ARG]...\n"
	      "\n"
	      "An uptime monitor for IMAP and POP3 servers.\n"
	      "\n"
	      "Commands:\n"
	      "  check URL...     probe servers once and report (mailpulse check --help)\n"
	      "  run -c FILE      run the monitoring daemon (mailpulse run --help)\n"
	      "  probe            run a probing node for a controller (mailpulse probe --help)\n"
	      "  config check FILE\n"
	      "                   validate a configuration file\n"
	      "  config checks FILE\n"
	      "                   list its check names, one per line\n"
	      "  status           current state of every check, from the store\n"
	      "  history NAME     recent results of one check\n"
	      "  uptime NAME      uptime of one check over a period\n"
	      "  incidents        incidents, open and closed\n"
	      "  store copy       copy an SQLite store's history into PostgreSQL\n"
	      "  help [COMMAND]   show this help, or a command's help\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help       show this help and exit\n"
	      "      --version    show the version and exit\n"
	      "\n"
	      "Exit status: 0 up, 1 degraded, 2 down, 3 unknown or usage error.\n"
	      "See mailpulse(1).\n",
	      f);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		usage(stderr);
		return 3;
	}
	if (strcmp(cmd, "check") == 0)
		return check_main(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return run_main(argc - 1, argv + 1);
	if (strcmp(cmd, "probe") == 0)
		return probe_main(argc - 1, argv + 1);
	if (strcmp(cmd, "config") == 0)
		return config_main(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "history") == 0 ||
	    strcmp(cmd, "uptime") == 0 || strcmp(cmd, "incidents") == 0)
		return report_main(argc - 1, argv + 1);
	if (strcmp(cmd, "store") == 0)
		return store_main(argc - 1, argv + 1);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("mailpulse %s\n", MAILPULSE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		/* "help X" is "X --help", so each command keeps its help in one place. */
		char help[] = "--help";
		char *sub[] = {argv[0], argv[2], help, NULL};
		if (strcmp(argv[2], "help") != 0)
			return main(3, sub);
		usage(stdout);
		return 0;
	}
	fprintf(stderr,
	        "mailpulse: unknown command '%.64s'\n"
	        "Commands: check, run, probe, config, store, status, history, uptime, incidents, "
	        "help. Try "
	        "'mailpulse --help'.\n",
	        cmd);
	return 3;
}
