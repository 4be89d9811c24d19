/* SPDX-License-Identifier: ISC */
/*
 * storebench.c - the history store's figures (issue 14), through store.h
 * only, so SQLite and PostgreSQL are measured by the same code:
 *
 *   storebench write --store SPEC [--rate R] [--checks N] [--warmup-s S]
 *                    [--window-s S] [--pgdata DIR] [--label L]
 *       the daemon's writes: an event base, store_attach(), a 10 ms timer
 *       that queues what R results/s make by then (store_add_result(),
 *       check names round robin), store_flush_start() once a second unless
 *       one is in flight, as monitor_tick() does. Over the window after
 *       the warm-up: rows written per second, flush durations, the queue's
 *       high-water mark, how late the 10 ms timer ran (what a flush costs
 *       the loop), the CPU of this process per row written and, with
 *       --pgdata, that of the server (the postmaster and all its children).
 *   storebench seed --store SPEC [--checks N] [--days D] [--batch B]
 *       one result per check per hour over the D days before the current
 *       hour, written through store_add_result() and store_flush() in
 *       batches of B rows (attached to a loop, so PostgreSQL writes in
 *       pipeline mode, as the daemon does).
 *   storebench retain --store SPEC [--raw-days R] [--rollup-days K]
 *       store_retention() until it returns 0, timed: the seeded hours
 *       become roll-ups, as in a store that has run that long.
 *   storebench query --store SPEC [--checks N] [--n N] [--loop N]
 *       N random checks: store_read_uptime() over the last 30 days,
 *       store_read_history() limit 100 and the default limit, each timed
 *       alone, blocking (not attached); then, with --loop N, N more of
 *       each through an attached store and its event loop.
 *   storebench versions
 *
 * Each mode prints what it did and one RESULT line for bench/run.sh.
 * The results are those of an imaps check that works: phases, a TLS 1.3
 * chain of two with its subjects, issuer and fingerprint, as storeseed.c's
 * but with the TLS facts a real imaps result carries.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "benchstat.h"
#include "core/result.h"
#include "store/store.h"

#define HOUR_MS    (3600 * 1000LL)
#define DAY_MS     (24 * HOUR_MS)
#define NAME_FMT   "chk-%05ld"
#define TICK_MS    10
#define MAX_CHECKS 1000000

/* ---- the server's CPU: the postmaster and its children, from /proc ---- */

/*
 * The server's CPU so far, ms: the postmaster's own and that of the
 * children it has reaped (cutime, cstime), and the live children's, so
 * a backend or autovacuum worker that ends between two readings moves
 * from one sum to the other and is counted once. -1: no postmaster.
 */
static double server_cpu_ms(long postmaster)
{
	long long sum;
	long ppid;
	DIR *d;
	struct dirent *e;

	if (postmaster <= 0 || (sum = bench_proc_ticks(postmaster, 1, &ppid)) < 0)
		return -1;
	if (!(d = opendir("/proc")))
		return -1;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		long long t;

		if (*end || pid <= 0 || pid == postmaster)
			continue;
		if ((t = bench_proc_ticks(pid, 0, &ppid)) >= 0 && ppid == postmaster)
			sum += t;
	}
	closedir(d);
	return (double)sum * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static long postmaster_pid(const char *pgdata)
{
	char path[4096];
	long pid = -1;
	FILE *f;

	if (!pgdata)
		return -1;
	snprintf(path, sizeof(path), "%s/postmaster.pid", pgdata);
	if (!(f = fopen(path, "r")))
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

/* ---- the results written ---- */

static struct result r_up, r_down;

/* An imaps result that went well, and one refused. */
static void results_init(void)
{
	struct tls_facts *t = &r_up.tls;
	int64_t now_s = mp_wall_ms() / 1000;

	result_init(&r_up, 0);
	r_up.status = MP_UP;
	r_up.reason = MP_R_OK;
	snprintf(r_up.address, sizeof(r_up.address), "192.0.2.10:993");
	snprintf(r_up.path, sizeof(r_up.path), "dns>connect>tls>greeting>capability>logout");
	r_up.phase_us[MP_PH_DNS] = 310;
	r_up.phase_us[MP_PH_CONNECT] = 820;
	r_up.phase_us[MP_PH_TLS] = 6400;
	r_up.phase_us[MP_PH_GREETING] = 1150;
	r_up.phase_us[MP_PH_CAPABILITY] = 640;
	r_up.phase_us[MP_PH_TOTAL] = 9800;
	r_up.ttg_us = 8680;
	t->used = 1;
	snprintf(t->version, sizeof(t->version), "TLSv1.3");
	snprintf(t->cipher, sizeof(t->cipher), "TLS_AES_256_GCM_SHA384");
	t->verified = 1;
	t->verify_depth = -1;
	t->chain_len = 2;
	snprintf(t->chain[0].subject, sizeof(t->chain[0].subject), "CN=mail.example.org");
	snprintf(t->chain[0].issuer, sizeof(t->chain[0].issuer), "C=US, O=Let's Encrypt, CN=R11");
	snprintf(t->chain[0].sha256, sizeof(t->chain[0].sha256),
	         "5f1a9c3e0b7d46a2c8e1f09b3d5a7c2e4f6081a3b5c7d9e0f1a2b3c4d5e6f708");
	t->chain[0].not_before = now_s - 30 * 86400;
	t->chain[0].not_after = now_s + 60 * 86400;
	snprintf(t->chain[1].subject, sizeof(t->chain[1].subject), "C=US, O=Let's Encrypt, CN=R11");
	snprintf(t->chain[1].issuer, sizeof(t->chain[1].issuer),
	         "C=US, O=Internet Security Research Group, CN=ISRG Root X1");
	snprintf(t->chain[1].sha256, sizeof(t->chain[1].sha256),
	         "591e9ce6c863d3a079e9fabe1478c7339a26b21269dde795211361024ae31a44");
	t->chain[1].not_before = now_s - 300 * 86400;
	t->chain[1].not_after = now_s + 800 * 86400;
	t->earliest = 0;
	t->days_left = 60;
	r_up.messages = -1;

	result_init(&r_down, 0);
	r_down.status = MP_DOWN;
	r_down.severity = MP_SEV_CRITICAL;
	r_down.reason = MP_R_REFUSED;
	snprintf(r_down.message, sizeof(r_down.message),
	         "connect to 192.0.2.10:993: connection refused");
	snprintf(r_down.address, sizeof(r_down.address), "192.0.2.10:993");
	snprintf(r_down.path, sizeof(r_down.path), "dns>connect");
	r_down.phase_us[MP_PH_DNS] = 300;
	r_down.phase_us[MP_PH_TOTAL] = 700;
}

static char (*names)[16];

static int names_init(long n)
{
	names = calloc((size_t)n, sizeof(*names));
	if (!names)
		return -1;
	for (long i = 0; i < n; i++)
		snprintf(names[i], sizeof(names[i]), NAME_FMT, i);
	return 0;
}

/* ---- options ---- */

struct opts {
	const char *store, *pgdata, *label;
	long rate, checks, warmup_s, window_s, days, batch, n, loop;
	long raw_days, rollup_days;
	unsigned seed;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"store", required_argument, NULL, 's'},
	    {"pgdata", required_argument, NULL, 'P'},
	    {"label", required_argument, NULL, 'l'},
	    {"rate", required_argument, NULL, 'r'},
	    {"checks", required_argument, NULL, 'c'},
	    {"warmup-s", required_argument, NULL, 'w'},
	    {"window-s", required_argument, NULL, 'W'},
	    {"days", required_argument, NULL, 'd'},
	    {"batch", required_argument, NULL, 'b'},
	    {"n", required_argument, NULL, 'n'},
	    {"loop", required_argument, NULL, 'L'},
	    {"raw-days", required_argument, NULL, 'R'},
	    {"rollup-days", required_argument, NULL, 'K'},
	    {"seed", required_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	*o = (struct opts){.label = "-",
	                   .rate = 3333,
	                   .checks = 10000,
	                   .warmup_s = 10,
	                   .window_s = 60,
	                   .days = 30,
	                   .batch = 20000,
	                   .n = 500,
	                   .loop = 0,
	                   .raw_days = 1,
	                   .rollup_days = 400,
	                   .seed = 14};
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->store = optarg;
			break;
		case 'P':
			o->pgdata = optarg;
			break;
		case 'l':
			o->label = optarg;
			break;
		case 'r':
			o->rate = strtol(optarg, NULL, 10);
			break;
		case 'c':
			o->checks = strtol(optarg, NULL, 10);
			break;
		case 'w':
			o->warmup_s = strtol(optarg, NULL, 10);
			break;
		case 'W':
			o->window_s = strtol(optarg, NULL, 10);
			break;
		case 'd':
			o->days = strtol(optarg, NULL, 10);
			break;
		case 'b':
			o->batch = strtol(optarg, NULL, 10);
			break;
		case 'n':
			o->n = strtol(optarg, NULL, 10);
			break;
		case 'L':
			o->loop = strtol(optarg, NULL, 10);
			break;
		case 'R':
			o->raw_days = strtol(optarg, NULL, 10);
			break;
		case 'K':
			o->rollup_days = strtol(optarg, NULL, 10);
			break;
		case 'S':
			o->seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return -1;
		}
	}
	if (!o->store || o->rate < 1 || o->checks < 1 || o->checks > MAX_CHECKS ||
	    o->warmup_s < 0 || o->window_s < 1 || o->days < 1 || o->batch < 1 ||
	    o->batch > STORE_QUEUE_MAX || o->n < 1 || o->loop < 0 || o->raw_days < 0 ||
	    o->rollup_days < 1)
		return -1;
	return 0;
}

static const char *backend_of(const char *spec)
{
	return store_spec_file(spec) ? "sqlite" : "postgresql";
}

static struct store *open_store(const char *spec)
{
	struct store *s;
	char err[512];

	if (store_open(&s, spec, err, sizeof(err)) < 0) {
		fprintf(stderr, "storebench: %s\n", err);
		return NULL;
	}
	return s;
}

/* ---- write: the daemon's writes at a rate, from the loop ---- */

struct wr {
	struct store *s;
	struct event_base *base;
	const struct opts *o;
	struct event *tick, *flush_tick;
	int64_t t0_us, last_tick_us;
	long long added, refused;
	long next_check;
	/* the window: before it, warming up; after it, ending */
	int phase; /* 0 warm-up, 1 window, 2 done */
	int64_t w0_us, w1_us;
	double w0_cpu, w1_cpu, w0_srv, w1_srv;
	long postmaster;
	long long written, failed_flushes, busy_ticks;
	int high;
	int64_t fl_t0_us;
	struct samples flush_ms, late_ms, call_ms;
};

static void wr_flushed(int rc, void *arg)
{
	struct wr *w = arg;
	double ms = (double)(mp_now_us() - w->fl_t0_us) / 1000.0;

	if (w->phase != 1)
		return;
	samples_add(&w->flush_ms, ms);
	if (rc < 0) {
		w->failed_flushes++;
		fprintf(stderr, "storebench: flush: %s\n", store_errmsg(w->s));
	} else {
		w->written += rc;
	}
}

static void wr_window(struct wr *w, int64_t now)
{
	if (w->phase == 0 && now - w->t0_us >= w->o->warmup_s * 1000000) {
		w->phase = 1;
		w->w0_us = now;
		w->w0_cpu = bench_self_cpu_ms();
		w->w0_srv = server_cpu_ms(w->postmaster);
		w->high = store_queued(w->s);
	} else if (w->phase == 1 && now - w->w0_us >= w->o->window_s * 1000000) {
		w->phase = 2;
		w->w1_us = now;
		w->w1_cpu = bench_self_cpu_ms();
		w->w1_srv = server_cpu_ms(w->postmaster);
		event_base_loopbreak(w->base);
	}
}

/* Queue what the rate makes by now: the timer's lateness does not change the rate. */
static void wr_tick(evutil_socket_t fd, short what, void *arg)
{
	struct wr *w = arg;
	int64_t now = mp_now_us();
	long long due = (long long)((double)(now - w->t0_us) * (double)w->o->rate / 1e6);
	int64_t wall = mp_wall_ms();

	(void)fd, (void)what;
	/* Late: the gap since the last tick past its 10 ms (libevent rearms from now). */
	if (w->phase == 1)
		samples_add(&w->late_ms, (double)(now - w->last_tick_us - TICK_MS * 1000) / 1000.0);
	w->last_tick_us = now;
	while (w->added + w->refused < due) {
		const char *c = names[w->next_check];
		/* One check in 200 is down, a different one each minute. */
		int down = (w->next_check + wall / 60000) % 200 == 0;

		w->next_check = (w->next_check + 1) % w->o->checks;
		if (store_add_result(w->s, c, "ctl", wall, down ? &r_down : &r_up) == 0)
			w->added++;
		else
			w->refused++;
	}
	if (store_queued(w->s) > w->high)
		w->high = store_queued(w->s);
	wr_window(w, now);
}

static void wr_flush_tick(evutil_socket_t fd, short what, void *arg)
{
	struct wr *w = arg;

	(void)fd, (void)what;
	if (store_flushing(w->s)) {
		if (w->phase == 1)
			w->busy_ticks++;
		return;
	}
	if (store_queued(w->s) == 0)
		return;
	w->fl_t0_us = mp_now_us();
	if (store_flush_start(w->s, wr_flushed, w) < 0 && w->phase == 1)
		w->busy_ticks++;
	/* The call's own time is what the flush holds the loop (SQLite: all of it). */
	if (w->phase == 1)
		samples_add(&w->call_ms, (double)(mp_now_us() - w->fl_t0_us) / 1000.0);
}

static int cmd_write(const struct opts *o)
{
	struct wr w = {.o = o};
	struct timeval tv = {0, TICK_MS * 1000}, one = {1, 0};
	double win_s, cpu, srv;
	struct pcts fl, late, call;
	int rc = 1;

	if (names_init(o->checks) < 0 || !(w.base = event_base_new()) ||
	    !(w.s = open_store(o->store)))
		goto out;
	if (store_attach(w.s, w.base) < 0) {
		fputs("storebench: store_attach: out of memory\n", stderr);
		goto out;
	}
	w.postmaster = postmaster_pid(o->pgdata);
	if (o->pgdata && w.postmaster <= 0)
		fprintf(stderr, "storebench: no postmaster.pid in %s: server CPU not measured\n",
		        o->pgdata);
	w.tick = event_new(w.base, -1, EV_PERSIST, wr_tick, &w);
	w.flush_tick = event_new(w.base, -1, EV_PERSIST, wr_flush_tick, &w);
	if (!w.tick || !w.flush_tick)
		goto out;
	w.t0_us = mp_now_us();
	w.last_tick_us = w.t0_us;
	event_add(w.tick, &tv);
	event_add(w.flush_tick, &one);
	event_base_dispatch(w.base);
	event_del(w.tick);
	event_del(w.flush_tick);
	/* What is left (the last second and a flush in flight) is written before closing. */
	while (store_flushing(w.s))
		event_base_loop(w.base, EVLOOP_ONCE);
	if (store_flush(w.s) < 0)
		fprintf(stderr, "storebench: the last flush: %s\n", store_errmsg(w.s));
	win_s = (double)(w.w1_us - w.w0_us) / 1e6;
	cpu = w.w1_cpu - w.w0_cpu;
	srv = w.postmaster > 0 && w.w0_srv >= 0 && w.w1_srv >= 0 ? w.w1_srv - w.w0_srv : -1;
	fl = samples_pcts(&w.flush_ms);
	late = samples_pcts(&w.late_ms);
	call = samples_pcts(&w.call_ms);
	printf("store-write %s: offered %ld results/s over %ld checks, %.1f s after %ld s\n",
	       backend_of(o->store), o->rate, o->checks, win_s, o->warmup_s);
	printf("  written %lld rows (%.0f/s), refused %lld (queue full), flushes %zu (%lld failed,"
	       " %lld ticks found one in flight)\n",
	       w.written, (double)w.written / win_s, w.refused, w.flush_ms.n, w.failed_flushes,
	       w.busy_ticks);
	printf("  flush p50/p99/max %.1f/%.1f/%.1f ms; queue high-water %d rows; 10 ms timer late"
	       " p50/p99/max %.2f/%.2f/%.2f ms\n",
	       fl.p50, fl.p99, fl.max, w.high, late.p50, late.p99, late.max);
	printf("  store_flush_start() itself (the loop held) p50/p99/max %.1f/%.1f/%.1f ms\n",
	       call.p50, call.p99, call.max);
	printf("  writer CPU %.0f ms (%.1f %% of a core), %.4f ms per row", cpu, cpu / win_s / 10.0,
	       w.written ? cpu / (double)w.written : 0);
	if (srv >= 0)
		printf("; server CPU %.0f ms (%.1f %%), %.4f ms per row; together %.4f ms per row",
		       srv, srv / win_s / 10.0, w.written ? srv / (double)w.written : 0,
		       w.written ? (cpu + srv) / (double)w.written : 0);
	printf("\n");
	printf("RESULT bench=store-write backend=%s label=%s offered=%ld checks=%ld window_s=%.1f"
	       " rows=%lld rate=%.0f refused=%lld flushes=%zu flush_failed=%lld flush_busy=%lld"
	       " flush_p50_ms=%.1f flush_p99_ms=%.1f flush_max_ms=%.1f call_p50_ms=%.1f"
	       " call_max_ms=%.1f queue_high=%d"
	       " late_p50_ms=%.2f late_p99_ms=%.2f late_max_ms=%.2f cpu_ms=%.0f cpu_pct=%.1f"
	       " cpu_per_row_ms=%.4f srv_cpu_ms=%.0f srv_cpu_pct=%.1f srv_per_row_ms=%.4f\n",
	       backend_of(o->store), o->label, o->rate, o->checks, win_s, w.written,
	       (double)w.written / win_s, w.refused, w.flush_ms.n, w.failed_flushes, w.busy_ticks,
	       fl.p50, fl.p99, fl.max, call.p50, call.max, w.high, late.p50, late.p99, late.max,
	       cpu, cpu / win_s / 10.0, w.written ? cpu / (double)w.written : 0, srv,
	       srv >= 0 ? srv / win_s / 10.0 : -1,
	       srv >= 0 && w.written ? srv / (double)w.written : -1);
	rc = w.failed_flushes ? 1 : 0;
out:
	if (w.tick)
		event_free(w.tick);
	if (w.flush_tick)
		event_free(w.flush_tick);
	if (w.s)
		store_close(w.s);
	if (w.base)
		event_base_free(w.base);
	samples_free(&w.flush_ms);
	samples_free(&w.late_ms);
	samples_free(&w.call_ms);
	free(names);
	return rc;
}

/* ---- seed: D days of hourly results, then retention ---- */

static int cmd_seed(const struct opts *o)
{
	struct event_base *base = event_base_new();
	struct store *s = NULL;
	int64_t end = mp_wall_ms() / HOUR_MS * HOUR_MS, start = end - o->days * DAY_MS;
	int64_t t0 = mp_now_us(), rows = 0, flushes = 0;
	double c0 = bench_self_cpu_ms(), secs;
	int rc = 1;

	if (!base || names_init(o->checks) < 0 || !(s = open_store(o->store)))
		goto out;
	/* Attached, store_flush() sends PostgreSQL a batch in pipeline mode: one round trip. */
	if (store_attach(s, base) < 0)
		goto out;
	for (int64_t h = start; h < end; h += HOUR_MS) {
		for (long i = 0; i < o->checks; i++) {
			/* Each check down for one hour in 240 (99.6 % up), not all at once. */
			int down = ((h / HOUR_MS) + i) % 240 == 0;
			int64_t t = h + i * (HOUR_MS / o->checks);

			if (store_add_result(s, names[i], "ctl", t, down ? &r_down : &r_up) < 0) {
				fprintf(stderr, "storebench: store_add_result: %s\n",
				        strerror(errno));
				goto out;
			}
			if (store_queued(s) >= o->batch) {
				if (store_flush(s) < 0)
					goto fail;
				flushes++;
			}
			rows++;
		}
	}
	if (store_flush(s) < 0)
		goto fail;
	flushes++;
	secs = (double)(mp_now_us() - t0) / 1e6;
	printf("store-seed %s: %" PRId64 " rows (%ld checks x %ld days, one an hour) in %.1f s:"
	       " %.0f rows/s, %" PRId64 " flushes of up to %ld rows, seeder CPU %.1f s\n",
	       backend_of(o->store), rows, o->checks, o->days, secs, (double)rows / secs, flushes,
	       o->batch, (bench_self_cpu_ms() - c0) / 1000.0);
	printf("RESULT bench=store-seed backend=%s checks=%ld days=%ld rows=%" PRId64
	       " seconds=%.1f rate=%.0f batch=%ld cpu_s=%.1f\n",
	       backend_of(o->store), o->checks, o->days, rows, secs, (double)rows / secs, o->batch,
	       (bench_self_cpu_ms() - c0) / 1000.0);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "storebench: flush: %s\n", store_errmsg(s));
out:
	if (s)
		store_close(s);
	if (base)
		event_base_free(base);
	free(names);
	return rc;
}

static int cmd_retain(const struct opts *o)
{
	struct store *s = open_store(o->store);
	int64_t t0 = mp_now_us(), folded = 0, now = mp_wall_ms();
	long calls = 0;
	int n;

	if (!s)
		return 1;
	/* Not attached: each call's steps run before it returns. */
	while ((n = store_retention(s, now, (unsigned)o->raw_days, (unsigned)o->rollup_days)) > 0) {
		folded += n;
		calls++;
	}
	if (n < 0) {
		fprintf(stderr, "storebench: retention: %s\n", store_errmsg(s));
		store_close(s);
		return 1;
	}
	double secs = (double)(mp_now_us() - t0) / 1e6;

	printf("store-retain %s: %" PRId64 " raw rows folded into roll-ups in %.1f s (%ld calls,"
	       " raw_days %ld, rollup_days %ld)\n",
	       backend_of(o->store), folded, secs, calls + 1, o->raw_days, o->rollup_days);
	printf("RESULT bench=store-retain backend=%s folded=%" PRId64
	       " seconds=%.1f calls=%ld raw_days=%ld\n",
	       backend_of(o->store), folded, secs, calls + 1, o->raw_days);
	store_close(s);
	return 0;
}

/* ---- query: uptime and history of random checks ---- */

struct qa {
	int done, error;
	int64_t probes, rollups;
	size_t rows;
};

static void on_uptime(const struct store_uptime_row *row, int error, const char *err, void *arg)
{
	struct qa *a = arg;

	a->done = 1;
	a->error = error;
	if (error) {
		fprintf(stderr, "storebench: uptime: %s\n", err);
		return;
	}
	a->probes = row->probes;
	a->rollups = row->from_rollups;
}

static void on_history(const struct store_result_row *rows, size_t n, int error, const char *err,
                       void *arg)
{
	struct qa *a = arg;

	(void)rows;
	a->done = 1;
	a->error = error;
	if (error)
		fprintf(stderr, "storebench: history: %s\n", err);
	a->rows = n;
}

enum qkind { Q_UPTIME, Q_HIST100, Q_HISTDEF, Q__N };
static const char *const qname[Q__N] = {"uptime", "history100", "history"};

/* One read of kind k on check c, timed until its callback (through base when attached). */
static double one_query(struct store *s, struct event_base *base, enum qkind k, const char *c,
                        int64_t now, struct qa *a)
{
	struct store_query q = {.check = c, .since_ms = now - 30 * DAY_MS, .until_ms = now};
	int64_t t0 = mp_now_us();

	memset(a, 0, sizeof(*a));
	if (k == Q_HIST100)
		q.limit = 100;
	if (k == Q_UPTIME)
		store_read_uptime(s, &q, on_uptime, a);
	else
		store_read_history(s, &q, on_history, a);
	while (!a->done && base)
		event_base_loop(base, EVLOOP_ONCE);
	return (double)(mp_now_us() - t0) / 1000.0;
}

/* n rounds of the three reads on random checks; prints and RESULTs each kind. */
static int query_round(struct store *s, struct event_base *base, const struct opts *o, long n,
                       const char *mode)
{
	struct samples sm[Q__N] = {{0}};
	int64_t now = mp_wall_ms(), probes = 0, rollups = 0, rows[Q__N] = {0};
	long errors = 0;
	struct qa a;
	/* The first few reads open files and warm caches: run, not counted. */
	long warm = n / 50 + 1;

	for (long i = -warm; i < n; i++) {
		const char *c = names[rand() % o->checks];

		for (int k = 0; k < Q__N; k++) {
			double ms = one_query(s, base, (enum qkind)k, c, now, &a);

			if (!a.done || a.error) {
				errors++;
				continue;
			}
			if (i < 0)
				continue;
			samples_add(&sm[k], ms);
			if (k == Q_UPTIME) {
				probes += a.probes;
				rollups += a.rollups;
			} else {
				rows[k] += (int64_t)a.rows;
			}
		}
	}
	for (int k = 0; k < Q__N; k++) {
		struct pcts p = samples_pcts(&sm[k]);

		printf("  %-6s %-10s n=%zu p50/p99/max %.2f/%.2f/%.2f ms, mean %.2f", mode,
		       qname[k], sm[k].n, p.p50, p.p99, p.max, p.mean);
		if (k == Q_UPTIME)
			printf(" (mean probes %.1f, from roll-ups in %.0f %%)",
			       sm[k].n ? (double)probes / (double)sm[k].n : 0,
			       sm[k].n ? 100.0 * (double)rollups / (double)sm[k].n : 0);
		else
			printf(" (mean rows %.1f)",
			       sm[k].n ? (double)rows[k] / (double)sm[k].n : 0);
		printf("\n");
		printf(
		    "RESULT bench=store-query backend=%s label=%s mode=%s query=%s n=%zu"
		    " p50_ms=%.2f p99_ms=%.2f max_ms=%.2f mean_ms=%.2f mean_%s=%.1f errors=%ld\n",
		    backend_of(o->store), o->label, mode, qname[k], sm[k].n, p.p50, p.p99, p.max,
		    p.mean, k == Q_UPTIME ? "probes" : "rows",
		    sm[k].n ? (double)(k == Q_UPTIME ? probes : rows[k]) / (double)sm[k].n : 0,
		    errors);
		samples_free(&sm[k]);
	}
	return errors ? -1 : 0;
}

static int cmd_query(const struct opts *o)
{
	struct store *s = NULL;
	struct event_base *base = NULL;
	int rc = 1;

	srand(o->seed);
	if (names_init(o->checks) < 0 || !(s = open_store(o->store)))
		goto out;
	printf("store-query %s (%s): %ld random checks of %ld, last 30 days; history: limit 100"
	       " and the default limit\n",
	       backend_of(o->store), o->label, o->n, o->checks);
	if (query_round(s, NULL, o, o->n, "block") < 0)
		goto out;
	if (o->loop > 0) {
		if (!(base = event_base_new()) || store_attach(s, base) < 0)
			goto out;
		if (query_round(s, base, o, o->loop, "loop") < 0)
			goto out;
	}
	rc = 0;
out:
	if (s)
		store_close(s);
	if (base)
		event_base_free(base);
	free(names);
	return rc;
}

/* ---- versions ---- */

static int cmd_versions(void)
{
	/* libpq is loaded lazily by the store (pq_lazy.c); asked here the same way. */
	void *pq = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	int (*ver)(void) = pq ? (int (*)(void))dlsym(pq, "PQlibVersion") : NULL;

	printf("sqlite=%s\nlibevent=%s\n", sqlite3_libversion(), event_get_version());
	if (ver) {
		int v = ver();

		printf("libpq=%d.%d\n", v / 10000, v % 10000);
	} else {
		printf("libpq=not found (%s)\n", dlerror());
	}
	if (pq)
		dlclose(pq);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	struct opts o;

	if (strcmp(cmd, "versions") == 0)
		return cmd_versions();
	if (parse(argc - 1, argv + 1, &o) < 0 || (strcmp(cmd, "write") && strcmp(cmd, "seed") &&
	                                          strcmp(cmd, "retain") && strcmp(cmd, "query"))) {
		fputs("usage: storebench write|seed|retain|query|versions --store SPEC [options]"
		      " (see the top of bench/storebench.c)\n",
		      stderr);
		return 2;
	}
	results_init();
	if (strcmp(cmd, "write") == 0)
		return cmd_write(&o);
	if (strcmp(cmd, "seed") == 0)
		return cmd_seed(&o);
	if (strcmp(cmd, "retain") == 0)
		return cmd_retain(&o);
	return cmd_query(&o);
}
