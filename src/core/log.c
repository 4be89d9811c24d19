/* SPDX-License-Identifier: ISC */
/*
 * log.c - level prefixes for the journal, timestamps for terminals, JSON
 * for log shippers.
 */
#include "core/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static enum log_format log_fmt = LOG_TEXT;
static int log_verbose;
static int log_journal;

static const char *const level_names[] = {
    [LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
    [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_init(enum log_format fmt, int verbose)
{
	log_fmt = fmt;
	log_verbose = verbose;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[1024], ts[32];
	va_list ap;
	time_t now = time(NULL);
	struct tm tm;

	if (lvl == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (log_fmt == LOG_JSON) {
		json_t *j =
		    json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level_names[lvl], "msg", msg);
		char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		if (s)
			fprintf(stderr, "%s\n", s);
		free(s);
		json_decref(j);
	} else if (log_journal) {
		fprintf(stderr, "<%d>%s\n", (int)lvl, msg);
	} else {
		fprintf(stderr, "%s %s: %s\n", ts, level_names[lvl], msg);
	}
	fflush(stderr);
}
