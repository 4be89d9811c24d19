/* SPDX-License-Identifier: ISC */
/*
 * report.c - `mailpulse status`, `history NAME`, `uptime NAME` and
 * `incidents [NAME]`: read the store, print an aligned table or, with
 * --json, the same rows as JSON (store/rows_json.c, as the API prints them).
 *
 * Times are shown in UTC ISO 8601 so that two people reading the same
 * output never disagree on when something happened. Text that came from a
 * server (messages) is escaped again before it reaches the terminal.
 *
 * Exit status: 0 when the report was printed; 3 for usage errors, a
 * missing or unreadable store, an unknown check.
 */
#include "cmd/report.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conf/conf.h"
#include "core/line.h"
#include "store/rows_json.h"
#include "store/store.h"
#include "spec/duration.h"
#include "spec/isotime.h"

#define DEFAULT_STORE "/var/lib/mailpulse/mailpulse.db"
#define SEC_MS        1000LL
#define MIN_MS        (60 * SEC_MS)
#define HOUR_MS       (60 * MIN_MS)
#define DAY_MS        (24 * HOUR_MS)
#define LIMIT_MAX     10000

enum report_cmd { R_STATUS, R_HISTORY, R_UPTIME, R_INCIDENTS };

static const char *const cmd_names[] = {
    [R_STATUS] = "status",
    [R_HISTORY] = "history",
    [R_UPTIME] = "uptime",
    [R_INCIDENTS] = "incidents",
};

/* Parsed arguments; the strings point into argv. */
struct report_opts {
	enum report_cmd cmd;
	const char *store;
	const char *config;
	const char *name;
	const char *since_arg;
	int64_t since_ms;
	int limit;
	int json;
	int help;
};

/* ---- usage ---- */

static const char common_opts[] =
    "      --store PATH     the store (SQLite file) to read\n"
    "  -c, --config FILE    read the store path from the daemon's configuration\n"
    "                       (default store: " DEFAULT_STORE ")\n"
    "      --json           print the result as one JSON document\n"
    "  -h, --help           show this help and exit\n";

static const char since_help[] =
    "SPEC is a duration back from now (90s, 30m, 24h, 7d, 2w) or a UTC time\n"
    "in ISO 8601 (2024-05-01, 2024-05-01T12:00Z, 2024-05-01T14:00:00+02:00;\n"
    "no zone means UTC).\n";

static void usage(FILE *f, enum report_cmd cmd)
{
	switch (cmd) {
	case R_STATUS:
		fputs("Usage: mailpulse status [--store PATH | -c FILE] [--json]\n"
		      "\n"
		      "The current state of every check in the store: its state and for how\n"
		      "long, its last result, its open incident. Checks removed from the\n"
		      "configuration are listed apart; their history stays readable.\n"
		      "\n"
		      "Options:\n",
		      f);
		fputs(common_opts, f);
		break;
	case R_HISTORY:
		fputs("Usage: mailpulse history NAME [--since SPEC] [--limit N] [--json]\n"
		      "                         [--store PATH | -c FILE]\n"
		      "\n"
		      "The results of check NAME, newest first. Results older than the raw\n"
		      "retention (raw_days) survive only as hourly roll-ups: see uptime.\n"
		      "\n"
		      "Options:\n"
		      "      --since SPEC     from this time on (default 24h)\n"
		      "      --limit N        at most N results (1 to 10000, default 100)\n",
		      f);
		fputs(common_opts, f);
		fputs("\n", f);
		fputs(since_help, f);
		break;
	case R_UPTIME:
		fputs("Usage: mailpulse uptime NAME [--since SPEC] [--json] [--store PATH | -c "
		      "FILE]\n"
		      "\n"
		      "The share of probes of check NAME that found the server answering (up\n"
		      "or degraded) from SPEC until now. Periods older than the raw retention\n"
		      "are counted from hourly roll-ups, whole hours at a time. Probes taken\n"
		      "inside a maintenance window are left out and counted apart.\n"
		      "\n"
		      "Options:\n"
		      "      --since SPEC     from this time on (default 30d)\n",
		      f);
		fputs(common_opts, f);
		fputs("\n", f);
		fputs(since_help, f);
		break;
	case R_INCIDENTS:
		fputs("Usage: mailpulse incidents [NAME] [--since SPEC] [--limit N] [--json]\n"
		      "                           [--store PATH | -c FILE]\n"
		      "\n"
		      "Incidents (a check down until it recovered) of every check, or of check\n"
		      "NAME, that were open at some time since SPEC, newest first.\n"
		      "\n"
		      "Options:\n"
		      "      --since SPEC     from this time on (default 30d)\n"
		      "      --limit N        at most N incidents (1 to 10000, default 100)\n",
		      f);
		fputs(common_opts, f);
		fputs("\n", f);
		fputs(since_help, f);
		break;
	}
	fputs("\nExit status: 0 printed, 3 usage error, store missing or unreadable, unknown "
	      "check.\n",
	      f);
}

/* ---- time ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso8601(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* "45s", "5m 3s", "2h 13m", "3d 2h": the two largest units are enough to read. */
static void fmt_duration(char *buf, size_t len, int64_t ms)
{
	long long s = (long long)(ms < 0 ? 0 : ms / 1000);

	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd %lldh", s / 86400, s % 86400 / 3600);
}

/* A duration back from now ("24h", "7d", "1h30m") or an ISO 8601 time. */
static int parse_since(const char *s, int64_t now, int64_t *out)
{
	int64_t d;

	if (isotime_parse(s, 0, out) == 0)
		return 0;
	/* A hundred years back is further than any store goes. */
	if (duration_parse(s, 100 * 366 * DAY_MS, &d) < 0 || d == 0)
		return -1;
	*out = now - d;
	return 0;
}

/* ---- arguments ---- */

enum { OPT_STORE = 256, OPT_JSON, OPT_SINCE, OPT_LIMIT };

static const struct option long_opts[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, OPT_JSON},
    {"since", required_argument, NULL, OPT_SINCE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int usage_error(const struct report_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const struct report_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mailpulse %s: ", cmd_names[o->cmd]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mailpulse %s --help'.\n", cmd_names[o->cmd]);
	return -1;
}

/* An argument shown in a message: escaped and cut. */
static const char *shown(char *buf, size_t len, const char *s)
{
	line_escape(buf, len, s, strlen(s));
	return buf;
}

static int parse_args(int argc, char **argv, struct report_opts *o)
{
	int ch, since_ok = o->cmd != R_STATUS,
	        limit_ok = o->cmd == R_HISTORY || o->cmd == R_INCIDENTS;
	const char *limit_arg = NULL;
	char sh[96];

	o->limit = 100;
	o->since_arg = o->cmd == R_HISTORY ? "24h" : "30d";
	/* 0 makes glibc start over: report_main may run more than once in one process. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hc:", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			o->help = 1;
			return 0;
		case 'c':
			o->config = optarg;
			break;
		case OPT_STORE:
			o->store = optarg;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_SINCE:
			if (!since_ok)
				return usage_error(o, "--since does not apply here");
			o->since_arg = optarg;
			break;
		case OPT_LIMIT:
			if (!limit_ok)
				return usage_error(o, "--limit does not apply here");
			limit_arg = optarg;
			break;
		case ':':
			return usage_error(o, "%s needs a value",
			                   shown(sh, sizeof(sh), argv[optind - 1]));
		default:
			return usage_error(o, "unknown option %s",
			                   shown(sh, sizeof(sh), argv[optind - 1]));
		}
	}
	if (o->store && o->config)
		return usage_error(o, "give --store or -c, not both");
	if (o->store && !*o->store)
		return usage_error(o, "--store needs a path");
	if (limit_arg) {
		char *end;
		long v;

		errno = 0;
		v = strtol(limit_arg, &end, 10);
		if (errno || end == limit_arg || *end || v < 1 || v > LIMIT_MAX)
			return usage_error(o, "--limit: \"%s\" is not a number from 1 to %d",
			                   shown(sh, sizeof(sh), limit_arg), LIMIT_MAX);
		o->limit = (int)v;
	}
	if (since_ok && parse_since(o->since_arg, now_ms(), &o->since_ms) < 0)
		return usage_error(
		    o,
		    "--since: \"%s\" is neither a duration (24h, 7d) nor an ISO 8601 "
		    "time (2024-05-01T12:00:00Z)",
		    shown(sh, sizeof(sh), o->since_arg));
	switch (o->cmd) {
	case R_STATUS:
		if (optind < argc)
			return usage_error(o, "unexpected argument %s",
			                   shown(sh, sizeof(sh), argv[optind]));
		break;
	case R_HISTORY:
	case R_UPTIME:
		if (optind >= argc)
			return usage_error(o, "which check? Give its NAME");
		/* fallthrough */
	case R_INCIDENTS:
		if (optind < argc)
			o->name = argv[optind++];
		if (optind < argc)
			return usage_error(o, "unexpected argument %s",
			                   shown(sh, sizeof(sh), argv[optind]));
		break;
	}
	return 0;
}

/*
 * The store path from the configuration, which is all a report needs: a
 * mistake elsewhere in the file (a check the daemon would refuse) does not
 * stop it. That mistake is named in a warning, the first with its
 * file:line:col; every one when the store path itself cannot be known.
 * Returns 0 or -1, *p to free.
 */
static int conf_store(const struct report_opts *o, char **p, char **secret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *errs = open_memstream(&buf, &len);
	int rc = conf_store_path(o->config, p, secret, errs ? errs : stderr);

	if (errs)
		fclose(errs);
	if (rc < 0 && buf)
		fputs(buf, stderr);
	if (rc == 1) {
		size_t first = buf ? strcspn(buf, "\n") : 0;
		int more = -1;
		for (size_t i = 0; buf && i < len; i++)
			more += buf[i] == '\n';
		char also[48] = "";
		if (more > 0)
			snprintf(also, sizeof(also), " (and %d more)", more);
		fprintf(stderr,
		        "mailpulse %s: warning: %.*s%s; the configuration is not valid (see "
		        "mailpulse config check %s): only its store path is used\n",
		        cmd_names[o->cmd], (int)first, buf ? buf : "", also, o->config);
	}
	free(buf);
	return rc < 0 ? -1 : 0;
}

/*
 * The store path: --store, else the configuration's store:, else the
 * default. Returns a string to free, or NULL after printing why; *secret
 * the store's password_file from the configuration (to free), or NULL.
 */
static char *store_path(const struct report_opts *o, char **secret)
{
	char *p = NULL;

	*secret = NULL;
	if (o->store)
		p = strdup(o->store);
	else if (!o->config)
		p = strdup(DEFAULT_STORE);
	else if (conf_store(o, &p, secret) < 0)
		return NULL; /* every problem was printed */
	if (!p)
		fprintf(stderr, "mailpulse %s: out of memory\n", cmd_names[o->cmd]);
	return p;
}

/* ---- tables ---- */

#define TABLE_COLS 8
#define CELL_MAX   600

/* Rows of escaped cells; owned by the caller's stack, freed by table_free(). */
struct table {
	int ncols;
	size_t nrows, cap;
	char *(*rows)[TABLE_COLS];
	int bad;
};

/*
 * Copy s to dst with every byte outside printable ASCII as \xNN, cut with
 * "..." to fit. Backslashes stay as they are: stored text was escaped once
 * by the engine, and escaping it again would show "\\r" for "\r".
 */
static void cell_escape(char *dst, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		size_t need = ch < 0x20 || ch >= 0x7f ? 4 : 1;

		if (o + need + 4 > len) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 4)
			o += (size_t)snprintf(dst + o, len - o, "\\x%02x", ch);
		else
			dst[o++] = (char)ch;
	}
	dst[o] = '\0';
}

static void table_add(struct table *t, const char *const cells[])
{
	char buf[CELL_MAX];

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char *(*rows)[TABLE_COLS] = realloc(t->rows, cap * sizeof(*rows));

		if (!rows) {
			t->bad = 1;
			return;
		}
		t->rows = rows;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		/* Empty cells show as "-": columns stay readable and lines end without blanks. */
		const char *c = cells[i] && *cells[i] ? cells[i] : "-";

		cell_escape(buf, sizeof(buf), c);
		t->rows[t->nrows][i] = strdup(buf);
		if (!t->rows[t->nrows][i])
			t->bad = 1;
	}
	t->nrows++;
}

static void table_print(FILE *f, const struct table *t)
{
	size_t w[TABLE_COLS] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++)
			if (t->rows[r][i] && strlen(t->rows[r][i]) > w[i])
				w[i] = strlen(t->rows[r][i]);
	for (size_t r = 0; r < t->nrows; r++) {
		/* The last column is not padded: no trailing blanks. */
		for (int i = 0; i < t->ncols; i++) {
			const char *c = t->rows[r][i] ? t->rows[r][i] : "?";

			if (i == t->ncols - 1)
				fprintf(f, "%s\n", c);
			else
				fprintf(f, "%-*s  ", (int)w[i], c);
		}
	}
}

static void table_free(struct table *t)
{
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++)
			free(t->rows[r][i]);
	free(t->rows);
}

/* ---- fields for the tables ---- */

/* A status name as the tables show it: "DOWN"; "-" when there is none. */
static void upper(char *buf, size_t len, const char *s)
{
	size_t i = 0;

	if (!s)
		s = "-";
	for (; s[i] && i + 1 < len; i++)
		buf[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
	buf[i] = '\0';
}

static void fmt_time(char *buf, size_t len, int64_t ms)
{
	if (ms == STORE_NONE)
		snprintf(buf, len, "-");
	else
		iso8601(buf, len, ms);
}

/* Microseconds as the tables show them, in ms. */
static void fmt_us(char *buf, size_t len, int64_t us)
{
	double ms = (double)us / 1000.0;

	if (us == STORE_NONE)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, ms < 100.0 ? "%.1f ms" : "%.0f ms", ms);
}

static const char *status_name(int status)
{
	return result_status_name((enum mp_status)status);
}

/* ---- the reports ---- */

/* Notification channels with their last attempt; failing ones stand out. */
static int print_channels(const struct store_status_rows *s)
{
	static const char *const head[] = {"CHANNEL", "LAST ATTEMPT", "RESULT", "FAILED (24h)",
	                                   "DETAIL"};
	struct table t = {.ncols = 5};

	if (s->nchannels == 0)
		return 0;
	putchar('\n');
	table_add(&t, head);
	for (size_t i = 0; i < s->nchannels; i++) {
		const struct store_channel_row *c = &s->channels[i];
		char when[40], failed[48];
		const char *cells[5];

		fmt_time(when, sizeof(when), c->last_ms);
		snprintf(failed, sizeof(failed), "%lld of %lld", (long long)c->failures_24h,
		         (long long)c->attempts_24h);
		cells[0] = c->channel;
		cells[1] = when;
		cells[2] = c->last_ok ? "delivered" : "FAILING";
		cells[3] = failed;
		cells[4] = c->last_detail;
		table_add(&t, cells);
	}
	table_print(stdout, &t);
	table_free(&t);
	return t.bad ? -1 : 0;
}

/* Checks that left the configuration: not current, but their history is there. */
static int print_removed(const struct store_status_rows *s)
{
	static const char *const head[] = {"REMOVED CHECK", "REMOVED AT"};
	struct table t = {.ncols = 2};

	if (s->nremoved == 0)
		return 0;
	putchar('\n');
	table_add(&t, head);
	for (size_t i = 0; i < s->nremoved; i++) {
		char when[40];
		const char *cells[2];

		fmt_time(when, sizeof(when), s->removed[i].removed_ms);
		cells[0] = s->removed[i].check;
		cells[1] = when;
		table_add(&t, cells);
	}
	table_print(stdout, &t);
	table_free(&t);
	printf("(no longer configured; see mailpulse history NAME, mailpulse incidents NAME)\n");
	return t.bad ? -1 : 0;
}

static int print_status(const struct store_status_rows *s, int64_t now)
{
	static const char *const head[] = {"CHECK",  "STATE", "FOR",    "LAST PROBE",
	                                   "RESULT", "TTG",   "REASON", "MESSAGE"};
	struct table t = {.ncols = 8};

	if (s->nchecks == 0) {
		puts("No checks in the store yet.");
		return print_removed(s);
	}
	table_add(&t, head);
	for (size_t i = 0; i < s->nchecks; i++) {
		const struct store_state_row *c = &s->checks[i];
		const struct store_result_row *last = c->last;
		char state[32], dur[32], when[40], status[16], ttg[32], msg[1024];
		const char *cells[8], *w;
		size_t off;

		upper(state, sizeof(state), c->has_state ? status_name(c->state) : NULL);
		/* Critical while it still serves: the one case the state alone does not say. */
		if (c->has_state && c->state == MP_DEGRADED && c->state_severity == MP_SEV_CRITICAL)
			snprintf(state, sizeof(state), "DEGRADED/CRITICAL");
		/* Findings that leave the status as it is are shown after the message. */
		off = (size_t)snprintf(msg, sizeof(msg), "%s",
		                       last && last->message ? last->message : "");
		for (w = last ? last->warnings : NULL; w && *w && off < sizeof(msg);) {
			size_t n = strcspn(w, "\n");

			off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%swarning: %.*s",
			                        off ? "; " : "", (int)n, w);
			w += n;
			if (*w)
				w++;
		}
		if (c->has_state)
			fmt_duration(dur, sizeof(dur), now - c->state_since_ms);
		else
			snprintf(dur, sizeof(dur), "-");
		fmt_time(when, sizeof(when), last ? last->ts_ms : STORE_NONE);
		upper(status, sizeof(status), last ? status_name(last->status) : NULL);
		fmt_us(ttg, sizeof(ttg), last ? last->ttg_us : STORE_NONE);
		cells[0] = c->check;
		cells[1] = state;
		cells[2] = dur;
		cells[3] = when;
		cells[4] = status;
		cells[5] = ttg;
		cells[6] = last ? last->reason : NULL;
		cells[7] = msg;
		table_add(&t, cells);
	}
	table_print(stdout, &t);
	table_free(&t);
	if (t.bad)
		return -1;
	if (print_channels(s) < 0)
		return -1;
	return print_removed(s);
}

static int print_history(const struct store_result_row *rows, size_t n, const char *name,
                         int64_t since_ms)
{
	static const char *const head[] = {"TIME",  "LOCATION", "STATUS", "TTG",
	                                   "TOTAL", "REASON",   "MESSAGE"};
	struct table t = {.ncols = 7};

	if (n == 0) {
		char sh[96], since[40];

		fmt_time(since, sizeof(since), since_ms);
		printf("No results for %s since %s.\n", shown(sh, sizeof(sh), name), since);
		return 0;
	}
	table_add(&t, head);
	for (size_t i = 0; i < n; i++) {
		const struct store_result_row *r = &rows[i];
		char when[40], status[32], ttg[32], total[32];
		const char *cells[7];

		fmt_time(when, sizeof(when), r->ts_ms);
		upper(status, sizeof(status), status_name(r->status));
		/* Taken inside a maintenance window: left out of uptime. */
		if (r->maintenance)
			strncat(status, " (maint)", sizeof(status) - strlen(status) - 1);
		fmt_us(ttg, sizeof(ttg), r->ttg_us);
		fmt_us(total, sizeof(total), r->phase_us[MP_PH_TOTAL]);
		cells[0] = when;
		cells[1] = r->location;
		cells[2] = status;
		cells[3] = ttg;
		cells[4] = total;
		cells[5] = r->reason;
		cells[6] = r->message;
		table_add(&t, cells);
	}
	table_print(stdout, &t);
	table_free(&t);
	return t.bad ? -1 : 0;
}

static int print_uptime(const struct store_uptime_row *u, const char *name, const char *since_arg)
{
	char sh[96], since[40];

	fmt_time(since, sizeof(since), u->since_ms);
	printf("check:    %s\n", shown(sh, sizeof(sh), name));
	printf("period:   %s .. now (%s)\n", since, shown(sh, sizeof(sh), since_arg));
	printf("probes:   %lld\n", (long long)u->probes);
	printf("up:       %lld\n", (long long)u->up);
	if (u->probes > 0)
		printf("uptime:   %.3f%%\n", 100.0 * (double)u->up / (double)u->probes);
	else
		printf("uptime:   - (no probes in the period)\n");
	if (u->maint > 0)
		printf("maintenance: %lld probes (%.3f%% of the period), left out of the above\n",
		       (long long)u->maint,
		       100.0 * (double)u->maint / (double)(u->probes + u->maint));
	if (u->from_rollups)
		printf("          (older results counted from hourly roll-ups)\n");
	return 0;
}

static int print_incidents(const struct store_incident_row *rows, size_t n, int64_t now,
                           int64_t since_ms)
{
	static const char *const head[] = {"CHECK",    "START",  "END",
	                                   "DURATION", "REASON", "MESSAGE"};
	struct table t = {.ncols = 6};

	if (n == 0) {
		char since[40];

		fmt_time(since, sizeof(since), since_ms);
		printf("No incidents since %s.\n", since);
		return 0;
	}
	table_add(&t, head);
	for (size_t i = 0; i < n; i++) {
		const struct store_incident_row *in = &rows[i];
		char start[40], end[128], dur[32];
		const char *cells[6];
		int open = in->end_ms == STORE_NONE;
		const char *why = in->close_reason;
		int64_t lasted = open ? (now > in->start_ms ? now - in->start_ms : 0)
		                      : (in->duration_ms == STORE_NONE ? 0 : in->duration_ms);

		fmt_time(start, sizeof(start), in->start_ms);
		if (open)
			snprintf(end, sizeof(end), "(open)");
		else
			fmt_time(end, sizeof(end), in->end_ms);
		/* Recovered is the rule; another close (the check was removed) is said. */
		if (!open && why && strcmp(why, STORE_CLOSED_RECOVERED) != 0)
			snprintf(end + strlen(end), sizeof(end) - strlen(end), " (%s)", why);
		fmt_duration(dur, sizeof(dur), lasted);
		cells[0] = in->check;
		cells[1] = start;
		cells[2] = end;
		cells[3] = dur;
		cells[4] = in->reason;
		cells[5] = in->message;
		table_add(&t, cells);
	}
	table_print(stdout, &t);
	table_free(&t);
	return t.bad ? -1 : 0;
}

/*
 * One report: the store's rows printed as a table, or as JSON by the one
 * layer the API uses too (store/rows_json.h). rc: 0, 3 (the store could
 * not answer: err) or -1 (stdout failed).
 */
struct report {
	const struct report_opts *o;
	struct store_query q;
	int called, rc;
	char err[512];
};

/* A read's failure; ENOENT names the check. */
static int report_failed(struct report *r, int error, const char *err)
{
	r->called = 1;
	if (!error)
		return 0;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "store: failed");
	r->rc = 3;
	return 1;
}

/* Print j (which it takes) as the --json answer. */
static void report_json(struct report *r, json_t *j)
{
	if (!j) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		r->rc = 3;
		return;
	}
	r->rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0 ? 0 : -1;
	if (r->rc == 0)
		fputc('\n', stdout);
	json_decref(j);
}

static void on_status(const struct store_status_rows *rows, int error, const char *err, void *arg)
{
	struct report *r = arg;

	if (report_failed(r, error, err))
		return;
	if (r->o->json)
		report_json(r, rows_json_status(rows));
	else
		r->rc = print_status(rows, now_ms());
}

static void on_history(const struct store_result_row *rows, size_t n, int error, const char *err,
                       void *arg)
{
	struct report *r = arg;

	if (report_failed(r, error, err))
		return;
	if (r->o->json)
		report_json(r, rows_json_history(&r->q, rows, n));
	else
		r->rc = print_history(rows, n, r->o->name, r->q.since_ms);
}

static void on_uptime(const struct store_uptime_row *u, int error, const char *err, void *arg)
{
	struct report *r = arg;

	if (report_failed(r, error, err))
		return;
	if (r->o->json)
		report_json(r, rows_json_uptime(u));
	else
		r->rc = print_uptime(u, r->o->name, r->o->since_arg);
}

static void on_incidents(const struct store_incident_row *rows, size_t n, int64_t now, int error,
                         const char *err, void *arg)
{
	struct report *r = arg;

	if (report_failed(r, error, err))
		return;
	if (r->o->json)
		report_json(r, rows_json_incidents(&r->q, rows, n, now));
	else
		r->rc = print_incidents(rows, n, now, r->q.since_ms);
}

/*
 * The report of o from s. The command has no event loop: a backend that
 * answers later (none today) would leave called at 0, which is said.
 */
static int report_run(struct store *s, const struct report_opts *o)
{
	struct report r = {.o = o,
	                   .q = {.check = o->name, .since_ms = o->since_ms, .limit = o->limit}};

	switch (o->cmd) {
	case R_STATUS:
		store_read_status(s, on_status, &r);
		break;
	case R_HISTORY:
		store_read_history(s, &r.q, on_history, &r);
		break;
	case R_UPTIME:
		store_read_uptime(s, &r.q, on_uptime, &r);
		break;
	case R_INCIDENTS:
		store_read_incidents(s, &r.q, on_incidents, &r);
		break;
	}
	if (!r.called) {
		fprintf(stderr, "mailpulse %s: the store did not answer\n", cmd_names[o->cmd]);
		return 3;
	}
	if (r.rc == 3) {
		fprintf(stderr, "mailpulse %s: %s\n", cmd_names[o->cmd], r.err);
		return 3;
	}
	if (r.rc < 0 || fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mailpulse %s: writing the report failed\n", cmd_names[o->cmd]);
		return 3;
	}
	return 0;
}

int report_main(int argc, char **argv)
{
	struct report_opts o = {0};
	struct store *s = NULL;
	struct stat sb;
	char err[512], *path, *secret = NULL;
	const char *file;
	int rc;

	if (strcmp(argv[0], "history") == 0)
		o.cmd = R_HISTORY;
	else if (strcmp(argv[0], "uptime") == 0)
		o.cmd = R_UPTIME;
	else if (strcmp(argv[0], "incidents") == 0)
		o.cmd = R_INCIDENTS;
	else
		o.cmd = R_STATUS;
	if (parse_args(argc, argv, &o) < 0)
		return 3;
	if (o.help) {
		usage(stdout, o.cmd);
		return 0;
	}
	path = store_path(&o, &secret);
	if (!path)
		return 3;
	/* A report never creates, migrates or writes the store; stat() first for a clear message.
	 */
	file = store_spec_file(path);
	if (file && stat(file, &sb) < 0) {
		fprintf(stderr, "mailpulse %s: store %s: %s%s\n", cmd_names[o.cmd], path,
		        strerror(errno),
		        o.store || o.config ? "" : " (give --store PATH or -c CONFIG)");
		free(path);
		free(secret);
		return 3;
	}
	rc = store_open_secret(&s, path, secret, 1, err, sizeof(err));
	free(path);
	free(secret);
	if (rc < 0) {
		fprintf(stderr, "mailpulse %s: %s\n", cmd_names[o.cmd], err);
		return 3;
	}
	rc = report_run(s, &o);
	store_close(s);
	return rc;
}
