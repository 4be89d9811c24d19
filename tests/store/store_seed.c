/* SPDX-License-Identifier: ISC */
/*
 * store_seed.c - fill a store with a known story, relative to now, for
 * report.sh to read back through `mailpulse status|history|uptime|incidents`.
 *
 *   imap-main   a result every 5 min for 3 days (each 1 s before the
 *               5-minute mark), ttg 20 ms; down (refused) from 5 h ago to
 *               3 h ago: one closed incident of exactly 2 h.
 *   pop-backup  a result every 5 min for 1 day; down (timeout) for the
 *               last 30 min with an incident still open. Its last message
 *               holds a byte that is not UTF-8, to be shown escaped.
 *
 * Retention then runs with raw_days = 1, so imap-main's first two days
 * live on as hourly roll-ups only.
 *
 *   store_seed DB
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/result.h"
#include "store/store.h"

#define MIN_MS  (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)

static void mk(struct result *r, enum mp_status st, enum mp_reason why, const char *msg,
               int64_t ttg_us)
{
	result_init(r, 0);
	r->status = st;
	r->severity = result_default_severity(st);
	r->reason = why;
	snprintf(r->message, sizeof(r->message), "%s", msg);
	snprintf(r->address, sizeof(r->address), "192.0.2.7:993");
	r->ttg_us = ttg_us;
	r->phase_us[MP_PH_TOTAL] = ttg_us > 0 ? ttg_us + 3000 : 10000000;
	r->messages = -1;
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
	struct timespec ts;
	struct store *s;
	struct result r;
	char err[512];
	int64_t now;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: store_seed DB\n");
		return 2;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (store_open(&s, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "store_seed: %s\n", err);
		return 1;
	}
	for (int k = 3 * 24 * 12 - 1; k >= 0; k--) {
		int64_t t = now - k * 5 * MIN_MS - 1000;
		int down = t >= now - 5 * HOUR_MS && t < now - 3 * HOUR_MS;

		if (down)
			mk(&r, MP_DOWN, MP_R_REFUSED, "connection refused", -1);
		else
			mk(&r, MP_UP, MP_R_OK, "", 20000 + k % 7 * 100);
		if (add(s, "imap-main", t, &r) < 0)
			goto fail;
	}
	if (store_add_transition(s, "imap-main", now - 3 * DAY_MS, MP_UNKNOWN, MP_UP, MP_SEV_OK,
	                         MP_R_OK, "") < 0)
		goto fail;
	if (store_add_transition(s, "imap-main", now - 5 * HOUR_MS, MP_UP, MP_DOWN, MP_SEV_CRITICAL,
	                         MP_R_REFUSED, "connection refused") < 0)
		goto fail;
	if (store_incident_open(s, "imap-main", now - 5 * HOUR_MS, MP_R_REFUSED,
	                        "connection refused") < 0)
		goto fail;
	if (store_add_transition(s, "imap-main", now - 3 * HOUR_MS, MP_DOWN, MP_UP, MP_SEV_OK,
	                         MP_R_OK, "") < 0)
		goto fail;
	if (store_incident_close(s, "imap-main", now - 3 * HOUR_MS) < 0)
		goto fail;

	for (int k = 24 * 12 - 1; k >= 0; k--) {
		int64_t t = now - k * 5 * MIN_MS - 1000;

		if (t >= now - 30 * MIN_MS)
			mk(&r, MP_DOWN, MP_R_TIMEOUT,
			   k ? "no greeting within 10 s" : "no greeting within 10 s \xff\x01", -1);
		else
			mk(&r, MP_UP, MP_R_OK, "", 35000);
		if (add(s, "pop-backup", t, &r) < 0)
			goto fail;
	}
	if (store_add_transition(s, "pop-backup", now - DAY_MS, MP_UNKNOWN, MP_UP, MP_SEV_OK,
	                         MP_R_OK, "") < 0)
		goto fail;
	if (store_add_transition(s, "pop-backup", now - 30 * MIN_MS, MP_UP, MP_DOWN,
	                         MP_SEV_CRITICAL, MP_R_TIMEOUT, "no greeting within 10 s") < 0)
		goto fail;
	if (store_incident_open(s, "pop-backup", now - 30 * MIN_MS, MP_R_TIMEOUT,
	                        "no greeting within 10 s") < 0)
		goto fail;
	if (store_add_delivery(s, "pop-backup", "ops-webhook", "down", 1, 1, "HTTP 200",
	                       now - 29 * MIN_MS) < 0)
		goto fail;
	if (store_flush(s) < 0)
		goto fail;
	while ((n = store_retention(s, now, 1, 400)) > 0)
		;
	if (n < 0)
		goto fail;
	store_close(s);
	return 0;
fail:
	fprintf(stderr, "store_seed: %s\n", store_errmsg(s));
	store_close(s);
	return 1;
}
