/* SPDX-License-Identifier: ISC */
/*
 * series_seed.c - a store with 30 days of one check's results, relative to
 * now, for the series API and the dashboard's chart (series.sh,
 * browser.sh). H is the start of the current UTC hour.
 *
 *   every 5 minutes from H - 30 d + 150 s until a minute ago: up, every
 *   phase measured (dns 1, connect 2, tls 5, greeting 13..17, capability 3,
 *   starttls 4, login 6, mailbox 2 ms), time to greeting 20..24 ms;
 *   except, down:
 *     the first 3 probes of the hour H - 5 d: refused;
 *     the first probe of the hour H - 25 d: timeout;
 *     the first 2 probes of the hour H - 2 h: auth_failed (greeting reached).
 *
 * Retention then runs with raw_days = 2, so everything before
 * floor_hour(now - 2 d) lives on as hourly roll-ups only.
 *
 *   series_seed DB CHECK     prints H (unix ms)
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/result.h"
#include "store/store.h"

#define MIN_MS  (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)

static void mk_up(struct result *r, int64_t jitter_ms)
{
	static const int64_t ms[MP_PH__COUNT] = {
	    [MP_PH_DNS] = 1,        [MP_PH_CONNECT] = 2,  [MP_PH_TLS] = 5,   [MP_PH_GREETING] = 13,
	    [MP_PH_CAPABILITY] = 3, [MP_PH_STARTTLS] = 4, [MP_PH_LOGIN] = 6, [MP_PH_MAILBOX] = 2,
	};

	result_init(r, 0);
	r->status = MP_UP;
	r->reason = MP_R_OK;
	snprintf(r->address, sizeof(r->address), "192.0.2.7:995");
	r->phase_us[MP_PH_TOTAL] = 0;
	for (int p = 0; p < MP_PH_TOTAL; p++) {
		r->phase_us[p] = (ms[p] + (p == MP_PH_GREETING ? jitter_ms : 0)) * 1000;
		r->phase_us[MP_PH_TOTAL] += r->phase_us[p];
	}
	r->ttg_us = (20 + jitter_ms) * 1000;
	r->messages = 3;
}

static void mk_down(struct result *r, enum mp_reason why, const char *msg, int greeted)
{
	result_init(r, 0);
	r->status = MP_DOWN;
	r->severity = MP_SEV_CRITICAL;
	r->reason = why;
	snprintf(r->message, sizeof(r->message), "%s", msg);
	snprintf(r->address, sizeof(r->address), "192.0.2.7:995");
	r->phase_us[MP_PH_DNS] = 1000;
	r->phase_us[MP_PH_CONNECT] = 2000;
	if (greeted) {
		r->phase_us[MP_PH_TLS] = 5000;
		r->phase_us[MP_PH_GREETING] = 13000;
		r->phase_us[MP_PH_LOGIN] = 6000;
		r->ttg_us = 20000;
	}
	r->phase_us[MP_PH_TOTAL] = greeted ? 27000 : 3000;
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
	int64_t now, h;
	int n;

	if (argc != 3) {
		fprintf(stderr, "usage: series_seed DB CHECK\n");
		return 2;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	h = now - now % HOUR_MS;
	if (store_open(&s, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "series_seed: %s\n", err);
		return 1;
	}
	for (int64_t k = 0;; k++) {
		int64_t t = h - 30 * DAY_MS + 150 * 1000 + k * 5 * MIN_MS;
		int64_t in_hour = t % HOUR_MS / (5 * MIN_MS); /* 0..11 */
		int64_t hour = t - t % HOUR_MS;

		if (t >= now - MIN_MS)
			break;
		if (hour == h - 5 * DAY_MS && in_hour < 3)
			mk_down(&r, MP_R_REFUSED, "connection refused", 0);
		else if (hour == h - 25 * DAY_MS && in_hour < 1)
			mk_down(&r, MP_R_TIMEOUT, "timed out waiting for the greeting", 0);
		else if (hour == h - 2 * HOUR_MS && in_hour < 2)
			mk_down(&r, MP_R_AUTH_FAILED, "-ERR [AUTH] invalid credentials", 1);
		else
			mk_up(&r, k % 5);
		if (add(s, argv[2], t, &r) < 0)
			goto fail;
	}
	if (store_flush(s) < 0)
		goto fail;
	while ((n = store_retention(s, now, 2, 400)) > 0)
		;
	if (n < 0)
		goto fail;
	store_close(s);
	printf("%lld\n", (long long)h); /* H, for the tests' arithmetic */
	return 0;
fail:
	fprintf(stderr, "series_seed: %s\n", store_errmsg(s));
	store_close(s);
	return 1;
}
