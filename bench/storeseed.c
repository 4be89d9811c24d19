/* SPDX-License-Identifier: ISC */
/*
 * storeseed.c - a store with history for N checks, as a daemon that ran
 * them for D days leaves it: one result per check every interval, up,
 * with a short outage per check and day, written through store_add_result()
 * so the rows, indexes and check ids are the daemon's own. For
 * `bench/run.sh http`: what the API's uptime figures cost depends on how
 * many results the store holds, not on how long the bench runs.
 *
 *   storeseed --db PATH --n N --days D [--interval-s S] [--prefix P]
 *
 * Checks are named P%07d (P "chk-": the names schedbench and run.sh write
 * into the daemon's configuration). Results end a minute before now; a
 * check's times are offset by its index so that rows of one second do not
 * all belong to one check. Prints the rows written and the time taken.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/result.h"
#include "store/store.h"

#define MIN_MS (60 * 1000LL)
#define DAY_MS (24 * 60 * MIN_MS)

static int64_t now_ms(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int add(struct store *s, const char *check, int64_t t, const struct result *r)
{
	if (store_add_result(s, check, "local", t, r) == 0)
		return 0;
	if (store_flush(s) < 0)
		return -1;
	return store_add_result(s, check, "local", t, r);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},     {"n", required_argument, NULL, 'n'},
	    {"days", required_argument, NULL, 'D'},   {"interval-s", required_argument, NULL, 'i'},
	    {"prefix", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0},
	};
	const char *db = NULL, *prefix = "chk-";
	long n = 200, days = 30, iv_s = 30;
	struct store *s;
	struct result up, down;
	char err[512], name[80];
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'D':
			days = strtol(optarg, NULL, 10);
			break;
		case 'i':
			iv_s = strtol(optarg, NULL, 10);
			break;
		case 'p':
			prefix = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!db || n < 1 || days < 1 || iv_s < 1) {
		fprintf(stderr, "usage: storeseed --db PATH --n N --days D [--interval-s S] "
		                "[--prefix P]\n");
		return 2;
	}
	result_init(&up, 0);
	up.status = MP_UP;
	up.reason = MP_R_OK;
	snprintf(up.address, sizeof(up.address), "127.0.0.1:993");
	up.phase_us[MP_PH_CONNECT] = 150;
	up.phase_us[MP_PH_TLS] = 1200;
	up.phase_us[MP_PH_GREETING] = 80;
	up.phase_us[MP_PH_TOTAL] = 2000;
	up.ttg_us = 1430;
	result_init(&down, 0);
	down.status = MP_DOWN;
	down.severity = MP_SEV_CRITICAL;
	down.reason = MP_R_REFUSED;
	snprintf(down.message, sizeof(down.message), "connection refused");
	down.phase_us[MP_PH_TOTAL] = 300;

	int64_t t0 = now_ms(CLOCK_MONOTONIC), end = now_ms(CLOCK_REALTIME) - MIN_MS;
	int64_t start = end - days * DAY_MS, step = iv_s * 1000, rows = 0;
	if (store_open(&s, db, err, sizeof(err)) < 0) {
		fprintf(stderr, "storeseed: %s\n", err);
		return 1;
	}
	/* Time outer, checks inner: rows reach the file in time order, as a daemon writes them. */
	for (int64_t t = start; t < end; t += step) {
		/* Down for the first 2 probes of the hour at 03:00 UTC, every day: 99.93 % up. */
		int out = (t % DAY_MS) / (60 * MIN_MS) == 3 && (t % (60 * MIN_MS)) < 2 * step;

		for (long i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "%s%07ld", prefix, i);
			if (add(s, name, t + i * step / n, out ? &down : &up) < 0)
				goto fail;
			rows++;
		}
	}
	if (store_flush(s) < 0)
		goto fail;
	store_close(s);
	printf("storeseed: %lld rows, %ld checks x %ld days every %ld s, in %.1f s\n",
	       (long long)rows, n, days, iv_s, (double)(now_ms(CLOCK_MONOTONIC) - t0) / 1000.0);
	return 0;
fail:
	fprintf(stderr, "storeseed: %s\n", store_errmsg(s));
	store_close(s);
	return 1;
}
