/* SPDX-License-Identifier: ISC */
/*
 * store.c - `mailpulse store copy`: arguments, the progress's terminal
 * and the summary; the copy itself is store_copy() (store/copy.h).
 *
 * MAILPULSE_COPY_CHUNK (rows per transaction) is for the tests only, which
 * interrupt a copy between small chunks; nobody else has a reason to set it.
 */
#include "cmd/store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/line.h"
#include "store/copy.h"

static void usage(FILE *f)
{
	fputs("Usage: mailpulse store copy --from FILE --to URI [--password-file FILE]\n"
	      "\n"
	      "Copy the history of an SQLite store (FILE, or sqlite:FILE) into a\n"
	      "PostgreSQL store (a postgresql:// URI; the database is given the store's\n"
	      "schema when it has none). The copy goes in chunks, each one transaction\n"
	      "that also records how far it got: a copy that was stopped continues\n"
	      "where it stopped when run again, and a copy run again after it finished\n"
	      "copies nothing. The destination must be empty or hold this copy; no\n"
	      "controller may be active on it. A daemon may go on writing FILE: the\n"
	      "copy takes the history as of its start, and a second run what came\n"
	      "since; stop the daemon before the last run.\n"
	      "\n"
	      "Options:\n"
	      "      --from FILE           the SQLite store to read\n"
	      "      --to URI              the PostgreSQL store to write\n"
	      "      --password-file FILE  the database password: the file's first line\n"
	      "  -h, --help                show this help and exit\n"
	      "\n"
	      "Exit status: 0 copied (or nothing left to copy), 1 the copy failed,\n"
	      "3 usage error.\n",
	      f);
}

static void store_usage(FILE *f)
{
	fputs("Usage: mailpulse store copy --from FILE --to URI [--password-file FILE]\n"
	      "\n"
	      "Commands:\n"
	      "  copy   copy an SQLite store's history into PostgreSQL\n"
	      "         (mailpulse store copy --help)\n",
	      f);
}

static int usage_error(const char *msg, const char *arg)
{
	char shown[96];

	if (arg) {
		line_escape(shown, sizeof(shown), arg, strlen(arg));
		fprintf(stderr, "mailpulse store copy: %s %s\n", msg, shown);
	} else {
		fprintf(stderr, "mailpulse store copy: %s\n", msg);
	}
	fputs("Try 'mailpulse store copy --help'.\n", stderr);
	return 3;
}

enum { OPT_FROM = 256, OPT_TO, OPT_PWFILE };

static const struct option long_opts[] = {
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"password-file", required_argument, NULL, OPT_PWFILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int is_pg(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* "2 checks, 590 results, ...": the tables of counts, as people read them. */
static void counts(FILE *f, const int64_t *n, int from, int to)
{
	for (int p = from; p < to; p++)
		fprintf(f, "%s%lld %s", p > from ? ", " : "", (long long)n[p],
		        store_copy_part_name((enum store_copy_part)p));
}

static void summary(const struct store_copy_opts *o, const struct store_copy_stats *st)
{
	int64_t any = 0;

	for (int p = 0; p < STORE_COPY__COUNT; p++)
		any += st->copied[p];
	if (!any) {
		printf("nothing to copy: %s is in %s already (", o->from, st->to);
		counts(stdout, st->before, 0, STORE_COPY_CLOSED);
		printf(")\n");
		return;
	}
	if (st->ms < 10000)
		printf("copied %s into %s in %lld ms: ", o->from, st->to, (long long)st->ms);
	else
		printf("copied %s into %s in %lld s: ", o->from, st->to,
		       (long long)(st->ms / 1000));
	counts(stdout, st->copied, 0, STORE_COPY__COUNT);
	printf("\n");
}

static int copy_main(int argc, char **argv)
{
	struct store_copy_opts o = {0};
	struct store_copy_stats st;
	const char *env = getenv("MAILPULSE_COPY_CHUNK");
	char err[2048];
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case OPT_FROM:
			o.from = optarg;
			break;
		case OPT_TO:
			o.to = optarg;
			break;
		case OPT_PWFILE:
			o.password_file = optarg;
			break;
		case ':':
			return usage_error("a value is needed for", argv[optind - 1]);
		default: {
			/* Only the option's name: what follows '=' may be a URI with its password.
			 */
			const char *a = argv[optind - 1];
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)strcspn(a, "="), a);
			return usage_error("unknown option", name);
		}
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (!o.from || !*o.from)
		return usage_error("--from FILE is needed: the SQLite store to copy", NULL);
	if (!o.to || !*o.to)
		return usage_error("--to URI is needed: the PostgreSQL store to copy into", NULL);
	if (is_pg(o.from))
		return usage_error("--from is the SQLite store (a file), not a URI", NULL);
	if (!is_pg(o.to))
		return usage_error("--to must be a postgresql:// URI", NULL);
	if (env) {
		char *end;
		long v;

		errno = 0;
		v = strtol(env, &end, 10);
		if (errno || end == env || *end || v < 1 || v > 1000000)
			return usage_error(
			    "MAILPULSE_COPY_CHUNK is not a number from 1 to 1000000:", env);
		o.chunk = (int)v;
	}
	o.progress = stderr;
	o.tty = isatty(fileno(stderr));
	if (store_copy(&o, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailpulse %s\n", err);
		return 1;
	}
	summary(&o, &st);
	return fflush(stdout) == 0 ? 0 : 1;
}

int store_main(int argc, char **argv)
{
	if (argc < 2) {
		store_usage(stderr);
		return 3;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		store_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "copy") == 0)
		return copy_main(argc - 1, argv + 1);
	fprintf(stderr, "mailpulse store: unknown subcommand '%.64s'; try: copy\n", argv[1]);
	return 3;
}
