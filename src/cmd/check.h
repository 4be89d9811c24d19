/* SPDX-License-Identifier: ISC */
/*
 * check.h - `mailpulse check URL...`: options, probes, output, exit code.
 */
#ifndef MP_CHECK_H
#define MP_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "spec/secret.h"
#include "spec/target.h"

/* Longest password we read; LOGIN must still fit in PROTO_OUT_MAX. */
#define CHECK_PASSWORD_MAX SECRET_MAX

enum check_format {
	CHECK_OUT_HUMAN,
	CHECK_OUT_JSON,
	CHECK_OUT_NAGIOS,
	CHECK_OUT_FORMAT, /* --format FMT: wire/format.h */
};

/* --resolve HOST:ADDR[,ADDR...]: where HOST is to be reached, instead of DNS. */
struct check_resolve {
	char host[TARGET_HOST_MAX];
	char addr[CHECK_RESOLVE_MAX][TARGET_ADDR_MAX]; /* numeric, no brackets, "%zone" kept */
	int naddr;
	int used; /* some URL names host */
};

#define CHECK_RESOLVES_MAX 16

/*
 * The parsed command line. Filled by check_parse_args(); released with
 * check_opts_free(), which also wipes the password. base.password points
 * into password[], so the struct must not be copied while in use.
 */
struct check_opts {
	struct check base; /* every option; base.target is unset */
	enum check_format format;
	const char *format_text; /* --format FMT, checked by format_check(); points into argv */
	int verbose;
	int help;               /* --help: print check_usage() and exit 0 */
	int version;            /* --version */
	struct target *targets; /* one per URL, in argument order; heap */
	size_t ntargets;
	char password[CHECK_PASSWORD_MAX + 1];
	struct check_resolve resolves[CHECK_RESOLVES_MAX];
	int nresolves;
	void *strs; /* copies the check builder made; freed by check_opts_free() */
};

/*
 * Parse argv (argv[0] is "check") into o: options, the password source and
 * every URL. Reorders argv (getopt_long). Returns 0, or -1 with a message
 * in err naming the option or URL and what is wrong with it. May print a
 * warning on stderr (a password file others can read). o is always
 * initialised: call check_opts_free() in both cases.
 */
int check_parse_args(int argc, char **argv, struct check_opts *o, char *err, size_t errlen);
void check_opts_free(struct check_opts *o);

/* The full help text of `mailpulse check`. */
void check_usage(FILE *f);

/* Run the command; returns the process exit code (0, 1, 2 or 3). */
int check_main(int argc, char **argv);

#endif
