/* SPDX-License-Identifier: ISC */
/*
 * schedbench - figures for the daemon's scheduler, its memory and its timing.
 *
 *   schedbench sched    --port P --ca FILE --dir D [--n N] [--interval S] [--timeout S]
 *                       [--duration S] [--mode M] [--cap C] [--scale F] [--interval-ms MS]
 *                       [--window A,B] [--no-cache-time] [--precise-timer]
 *                       [--label TEXT]
 *   schedbench memory   --port P --ca FILE --dir D [--n N] [--interval S]
 *   schedbench inflight --port P --warm-port P --ca FILE [--mode M] [-c C] [--park-ms MS]
 *   schedbench timing   --port P --load-port P --ca FILE [--mode M] [--delay-ms D] [--n N]
 *                       [--rate R] [--load-mode M] [--load-cpu F] [--no-cache-time]
 * [--precise-timer]
 *                       [--label TEXT]
 *
 * P is the first port of a bench/targetsrv; the mode picks the port in it
 * (imap +0, imap+starttls +1, imaps +2, pop3 +3, pop3+stls +4, pop3s +5).
 *
 * sched: writes a YAML configuration of N checks into D, loads it with
 * conf_load() and runs it through the real scheduler (sched_new/sched_add)
 * on one loop for --duration seconds. Every probe start is observed through
 * sched_set_start_hook(): lag = start - due. --scale is sched_new()'s
 * time_scale (intervals and spreads shorter, probe timeouts unchanged);
 * --interval-ms overrides every check's interval after loading (below the
 * 30 s the configuration allows: the scale runs need a steady rate within
 * seconds). Lag, rates and CPU are taken inside --window (seconds after
 * the checks were added; the whole run by default).
 *
 * memory: RSS and heap after conf_load() of N checks and sched_add() of all
 * of them, before any probe starts.
 *
 * inflight: C probes started at once against a target that holds the
 * greeting back for --park-ms, so all of them sit in flight (after the TLS
 * handshake) while RSS and heap are sampled.
 *
 * timing: probes against a target that delays its greeting by --delay-ms;
 * the error of result.ttg_us against that delay. Next to every probe a bare
 * connection to the same port reads the greeting with a kernel receive
 * timestamp (SO_TIMESTAMPING), which tells the server's and the kernel's
 * share of the error from the engine's. With --load-cpu F, background
 * probes (--load-mode, on --load-port) keep this process's CPU near F.
 * The measured probes' connect and greeting phases are reported too (the
 * monitor's load must land in neither), with the bare socket's kernel RTT
 * (tcpi_rtt) beside them and how many plain probes' connect + greeting
 * differ from their ttg (sum_off, 0 by construction).
 *
 * One "RESULT key=value ..." line per run for bench/run.sh. A benchmark,
 * not a test: it never asserts a speed. Traffic goes to 127.0.0.1 only;
 * every run is bounded in time (--duration, the probes' own deadlines).
 */
#include <errno.h>
#include <linux/net_tstamp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "engine/probe.h"
#include "core/result.h"
#include "monitor/sched.h"
#include "spec/target.h"
#include "engine/tls.h"

#define BENCH_HOST "mail.bench.test"
#define N_MAX      1000000
#define LAG_MAX    (8L * 1000 * 1000) /* starts recorded per run */
#define SEC_MAX    900                /* one-second buckets of starts */

struct mode_def {
	const char *name;
	const char *scheme;
	int offset; /* port in targetsrv */
	int starttls;
};

static const struct mode_def modes[] = {
    {"imap", "imap", 0, 0}, {"imap+starttls", "imap", 1, 1}, {"imaps", "imaps", 2, 0},
    {"pop3", "pop3", 3, 0}, {"pop3+stls", "pop3", 4, 1},     {"pop3s", "pop3s", 5, 0},
};

struct opts {
	const struct mode_def *mode, *load_mode;
	int port, warm_port, load_port;
	const char *ca, *dir, *label;
	long n, conc, cap;
	int no_cache_time; /* EVENT_BASE_FLAG_NO_CACHE_TIME on the loop */
	int precise_timer; /* EVENT_BASE_FLAG_PRECISE_TIMER on the loop */
	int no_reuse;      /* verify every chain in full (no verdict reuse) */
	double interval_s, timeout_s, duration_s, scale, win_a, win_b, rate, load_cpu;
	long interval_ms, park_ms, delay_ms;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("schedbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- measuring ----------------------------------------------------------- */

static double cpu_ms_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static long maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Resident set now, in KiB (statm counts pages). */
static long rss_now_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Bytes the program holds from malloc now (glibc). */
static long heap_now(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (long)(mi.uordblks + mi.hblkhd);
}

static int64_t real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A bounded growable list of microsecond values. */
struct vec {
	int64_t *v;
	size_t n, cap;
};

static void vec_push(struct vec *x, int64_t v)
{
	if (x->n == x->cap) {
		if (x->cap >= (size_t)LAG_MAX)
			return;
		size_t nc = x->cap ? x->cap * 2 : 4096;
		int64_t *p = realloc(x->v, nc * sizeof(*p));
		if (!p)
			die("out of memory");
		x->v = p;
		x->cap = nc;
	}
	x->v[x->n++] = v;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Percentile q (0..1) of x in ms; x must be sorted. -1 when empty. */
static double pct(const struct vec *x, double q)
{
	if (x->n == 0)
		return -1;
	size_t i = (size_t)(q * (double)(x->n - 1) + 0.5);
	return (double)x->v[i] / 1000.0;
}

static void vec_sort(struct vec *x)
{
	if (x->n)
		qsort(x->v, x->n, sizeof(*x->v), cmp_i64);
}

/* " name_p50_ms=.. name_p99_ms=.. name_p999_ms=.. name_max_ms=.. name_min_ms=.." */
static void print_dist(const char *name, struct vec *x)
{
	vec_sort(x);
	printf(" %s_n=%zu %s_p50_ms=%.3f %s_p99_ms=%.3f %s_p999_ms=%.3f %s_max_ms=%.3f "
	       "%s_min_ms=%.3f",
	       name, x->n, name, pct(x, 0.5), name, pct(x, 0.99), name, pct(x, 0.999), name,
	       pct(x, 1.0), name, pct(x, 0.0));
}

/* ---- checks ---------------------------------------------------------------- */

static void make_check(struct check *c, const struct mode_def *m, int port, const char *ca,
                       unsigned timeout_ms)
{
	char url[TARGET_URL_MAX], err[256];

	check_defaults(c);
	snprintf(url, sizeof(url), "%s://%s:%d", m->scheme, BENCH_HOST, port + m->offset);
	if (target_parse(&c->target, url, err, sizeof(err)) != 0)
		die("%s: %s", url, err);
	c->resolve[0] = "127.0.0.1";
	c->n_resolve = 1;
	c->ca_file = ca;
	c->timeout_ms = timeout_ms;
	c->starttls = m->starttls ? STARTTLS_REQUIRE : STARTTLS_AUTO;
}

/*
 * conf_load() takes files up to 4 MiB (CONF_FILE_MAX in conf.c), about
 * 30 000 checks written as below; larger sets are split into parts of
 * PART_MAX checks, each loaded by its own conf_load(), as if the daemon
 * read several files. Per-check memory is the same either way.
 */
#define PART_MAX  25000
#define PARTS_MAX (N_MAX / PART_MAX)

/* The daemon's configuration for checks [from, to) of one mode, as a user would write it. */
static void write_conf(const char *path, const struct opts *o, long from, long to)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f,
	        "store: %s/bench.db\nhttp:\n  listen: \"off\"\nmax_in_flight: %ld\n"
	        "defaults:\n  interval: %.0fs\n  timeout: %.0fs\nchecks:\n",
	        o->dir, o->cap, o->interval_s, o->timeout_s);
	for (long i = from; i < to; i++) {
		fprintf(f,
		        "  - name: chk-%07ld\n    url: %s://%s:%d\n    resolve: [127.0.0.1]\n"
		        "    ca_file: %s\n",
		        i, o->mode->scheme, BENCH_HOST, o->port + o->mode->offset, o->ca);
		if (o->mode->starttls)
			fputs("    starttls: require\n", f);
	}
	if (fclose(f) != 0)
		die("%s: write failed", path);
}

struct confs {
	struct conf *c[PARTS_MAX];
	int n;
};

/* Loads o->n checks in parts; returns the summed conf_load() time in *load_ms. */
static void load_confs(struct confs *cs, const struct opts *o, double *load_ms)
{
	char path[4096];

	memset(cs, 0, sizeof(*cs));
	*load_ms = 0;
	for (long from = 0; from < o->n; from += PART_MAX) {
		long to = from + PART_MAX < o->n ? from + PART_MAX : o->n;
		struct conf *c = NULL;
		snprintf(path, sizeof(path), "%s/bench-%d.yaml", o->dir, cs->n);
		write_conf(path, o, from, to);
		int64_t t0 = mp_now_us();
		if (conf_load(path, &c, stderr) != 0)
			die("%s: conf_load failed", path);
		*load_ms += (double)(mp_now_us() - t0) / 1000.0;
		if (c->nchecks != to - from)
			die("conf_load: %d checks, expected %ld", c->nchecks, to - from);
		cs->c[cs->n++] = c;
	}
}

static void unref_confs(struct confs *cs)
{
	for (int i = 0; i < cs->n; i++)
		conf_unref(cs->c[i]);
}

/* ---- sched: lag, spread, rate ------------------------------------------- */

struct item {
	int64_t first_us; /* first start, 0 before it */
	int64_t last_due; /* due time of the last start */
};

struct srun {
	const struct opts *o;
	struct event_base *base;
	int64_t t0, wa, wb; /* t0: checks added; [wa, wb): the window */
	struct item *items;
	long nfirst;
	int64_t first_min, first_max;
	long per_sec[SEC_MAX];
	struct vec lag, tot;
	long starts_win, ok, fail, late;
	long dup; /* a second start for a slot that already had one */
	long dup_win;
	long early; /* starts before their due time */
	int inflight_max, waiting_max;
	struct sched *s;
	double cpu_a, cpu_b;
	char first_fail[RESULT_MSG_MAX + 64];
};

static void on_start(struct sched_item *it, int64_t due_us, int64_t now_us, void *arg)
{
	struct srun *r = arg;
	struct item *k = sched_user(it);
	struct sched_stats st;

	if (!k->first_us) {
		k->first_us = now_us;
		if (r->nfirst == 0 || now_us < r->first_min)
			r->first_min = now_us;
		if (now_us > r->first_max)
			r->first_max = now_us;
		r->nfirst++;
	}
	/* A start for a slot that already had one (the timer fired early, the
	 * probe ended before the slot's time and was put on the same slot):
	 * counted apart, kept out of the lag figures. */
	int dup = due_us == k->last_due;
	r->dup += dup;
	k->last_due = due_us;
	if (now_us < due_us)
		r->early++;
	int64_t sec = (now_us - r->t0) / 1000000;
	if (sec >= 0 && sec < SEC_MAX)
		r->per_sec[sec]++;
	if (now_us >= r->wa && now_us < r->wb) {
		if (!dup)
			vec_push(&r->lag, now_us - due_us);
		r->starts_win++;
		r->dup_win += dup;
	}
	sched_stats(r->s, &st);
	if (st.in_flight + 1 > r->inflight_max)
		r->inflight_max = st.in_flight + 1;
	if (st.waiting > r->waiting_max)
		r->waiting_max = st.waiting;
}

/* As the monitor schedules a check: a copy of it (check_spec) the item holds. */
static struct sched_item *bench_add(struct sched *s, const struct conf_check *cc, void *user)
{
	struct check_spec *sp = checkspec_copy(&cc->chk, cc->name, cc->interval_ms, cc->retry_ms);
	struct sched_item *it = sp ? sched_add(s, sp, user) : NULL;

	checkspec_unref(sp);
	return it;
}

static void on_result(struct sched_item *it, const struct result *res, void *arg)
{
	struct srun *r = arg;
	const struct check_spec *sp = sched_spec(it);
	int64_t now = mp_now_us();

	if (res->status == MP_UP) {
		r->ok++;
	} else {
		r->fail++;
		if (!r->first_fail[0])
			snprintf(r->first_fail, sizeof(r->first_fail), "%s %s: %s",
			         result_status_name(res->status), result_reason_name(res->reason),
			         res->message);
	}
	if (res->phase_us[MP_PH_TOTAL] > (int64_t)sp->chk.timeout_ms * 1000)
		r->late++;
	if (now >= r->wa && now < r->wb)
		vec_push(&r->tot, res->phase_us[MP_PH_TOTAL]);
}

static void win_a_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srun *r = arg;

	(void)fd;
	(void)what;
	r->cpu_a = cpu_ms_now();
}

static void win_b_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srun *r = arg;

	(void)fd;
	(void)what;
	r->cpu_b = cpu_ms_now();
	event_base_loopbreak(r->base);
}

static struct timeval tv_of(double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

/*
 * The loop as the daemon makes it (event_base_new()), or with
 * EVENT_BASE_FLAG_NO_CACHE_TIME (timers count from the clock, not from the
 * time cached when the loop last woke up) and/or
 * EVENT_BASE_FLAG_PRECISE_TIMER (CLOCK_MONOTONIC and a timerfd instead of
 * CLOCK_MONOTONIC_COARSE and epoll_wait's millisecond timeout).
 */
static struct event_base *new_base(const struct opts *o)
{
	struct event_config *cfg = event_config_new();

	if (!cfg ||
	    (o->no_cache_time && event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME) != 0) ||
	    (o->precise_timer && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0))
		die("event_config");
	struct event_base *b = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return b;
}

static int cmd_sched(const struct opts *o)
{
	struct srun r;
	struct probe_env env;
	char err[256];
	double load_ms;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.base = new_base(o);
	if (!r.base || probe_env_init(&env, r.base, err, sizeof(err)) != 0)
		die("probe_env_init: %s", err);
	tls_cache_set_reuse(env.tls, !o->no_reuse);
	struct confs cs;
	load_confs(&cs, o, &load_ms);
	struct conf *c = cs.c[0];
	if (o->interval_ms > 0) {
		/* Bench only: below the configuration's 30 s minimum, for a steady rate. */
		for (int p = 0; p < cs.n; p++)
			for (int i = 0; i < cs.c[p]->nchecks; i++)
				cs.c[p]->checks[i].interval_ms = (unsigned)o->interval_ms;
	}
	r.items = calloc((size_t)o->n, sizeof(*r.items));
	r.s = sched_new(&env, c->max_in_flight, o->scale, on_result, &r);
	if (!r.items || !r.s)
		die("out of memory");
	sched_set_start_hook(r.s, on_start, &r);
	long rss0 = rss_now_kb();
	long k = 0;
	for (int p = 0; p < cs.n; p++)
		for (int i = 0; i < cs.c[p]->nchecks; i++)
			if (!bench_add(r.s, &cs.c[p]->checks[i], &r.items[k++]))
				die("sched_add: out of memory");
	r.t0 = mp_now_us();
	double wb = o->win_b > 0 ? o->win_b : o->duration_s;
	r.wa = r.t0 + (int64_t)(o->win_a * 1e6);
	r.wb = r.t0 + (int64_t)(wb * 1e6);
	r.cpu_a = cpu_ms_now();
	struct event *ea = evtimer_new(r.base, win_a_cb, &r);
	struct event *eb = evtimer_new(r.base, win_b_cb, &r);
	struct timeval ta = tv_of(o->win_a), tb = tv_of(wb);
	if (!ea || !eb)
		die("out of memory");
	if (o->win_a > 0)
		evtimer_add(ea, &ta);
	evtimer_add(eb, &tb);
	event_base_dispatch(r.base);
	int64_t t_end = mp_now_us();

	struct sched_stats st;
	sched_stats(r.s, &st);
	double win_s = (double)(r.wb - r.wa) / 1e6;
	long burst = 0;
	for (int i = 0; i < SEC_MAX; i++)
		if (r.per_sec[i] > burst)
			burst = r.per_sec[i];
	printf(
	    "RESULT bench=sched mode=%s label=%s n=%ld interval_ms=%u scale=%g cap=%u "
	    "timeout_ms=%u parts=%d dur_s=%.1f win_s=%.1f load_ms=%.0f started=%llu finished=%llu "
	    "ok=%ld fail=%ld late=%ld skipped=%llu inflight_end=%d waiting_end=%d "
	    "inflight_max=%d waiting_max=%d first_n=%ld first_min_s=%.3f first_max_s=%.3f "
	    "burst_per_s=%ld starts_win=%ld rate_win=%.1f target_rate=%.1f cpu_pct_win=%.1f "
	    "rss_sched_kb=%ld rss_peak_kb=%ld dup=%ld early=%ld no_cache_time=%d "
	    "precise_timer=%d",
	    o->mode->name, o->label ? o->label : "-", o->n, c->checks[0].interval_ms, o->scale,
	    c->max_in_flight, c->checks[0].chk.timeout_ms, cs.n, (double)(t_end - r.t0) / 1e6,
	    win_s, load_ms, (unsigned long long)st.started, (unsigned long long)st.finished, r.ok,
	    r.fail, r.late, (unsigned long long)st.skipped, st.in_flight, st.waiting,
	    r.inflight_max, r.waiting_max, r.nfirst,
	    r.nfirst ? (double)(r.first_min - r.t0) / 1e6 : -1.0,
	    r.nfirst ? (double)(r.first_max - r.t0) / 1e6 : -1.0, burst, r.starts_win,
	    (double)(r.starts_win - r.dup_win) / win_s,
	    (double)o->n / ((double)c->checks[0].interval_ms / 1000.0 * o->scale),
	    100.0 * (r.cpu_b - r.cpu_a) / (win_s * 1000.0), rss0, maxrss_kb(), r.dup, r.early,
	    o->no_cache_time, o->precise_timer);
	print_dist("lag", &r.lag);
	print_dist("tot", &r.tot);
	printf(" per_sec=");
	int last = (int)((t_end - r.t0) / 1000000);
	for (int i = 0; i <= last && i < SEC_MAX; i++)
		printf("%s%ld", i ? "," : "", r.per_sec[i]);
	printf("\n");
	if (r.fail)
		fprintf(stderr, "schedbench: %ld probe(s) not up; first: %s\n", r.fail,
		        r.first_fail);
	fflush(stdout);
	sched_free(r.s);
	event_free(ea);
	event_free(eb);
	unref_confs(&cs);
	probe_env_free(&env);
	event_base_free(r.base);
	free(r.items);
	free(r.lag.v);
	free(r.tot.v);
	return 0;
}

/* ---- memory: idle checks -------------------------------------------------- */

static void nop_result(struct sched_item *it, const struct result *r, void *arg)
{
	(void)it;
	(void)r;
	(void)arg;
}

static int cmd_memory(const struct opts *o)
{
	struct probe_env env;
	char err[256];
	double load_ms;
	struct event_base *base = event_base_new();

	if (!base || probe_env_init(&env, base, err, sizeof(err)) != 0)
		die("probe_env_init: %s", err);
	malloc_trim(0);
	long rss0 = rss_now_kb(), heap0 = heap_now();
	struct confs cs;
	load_confs(&cs, o, &load_ms);
	struct conf *c = cs.c[0];
	long rss1 = rss_now_kb(), heap1 = heap_now(), peak1 = maxrss_kb();
	malloc_trim(0); /* what the parser left behind, returned */
	long rss1t = rss_now_kb();
	struct sched *s = sched_new(&env, c->max_in_flight, 1.0, nop_result, NULL);
	if (!s)
		die("out of memory");
	int64_t t0 = mp_now_us();
	for (int p = 0; p < cs.n; p++)
		for (int i = 0; i < cs.c[p]->nchecks; i++)
			if (!bench_add(s, &cs.c[p]->checks[i], NULL))
				die("sched_add: out of memory");
	double add_ms = (double)(mp_now_us() - t0) / 1000.0;
	/* One turn of the loop: first slots chosen and every timer armed; none is due yet. */
	t0 = mp_now_us();
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	double place_ms = (double)(mp_now_us() - t0) / 1000.0;
	long rss2 = rss_now_kb(), heap2 = heap_now();
	struct sched_stats st;
	sched_stats(s, &st);
	double n = (double)o->n;
	printf("RESULT bench=memory mode=%s n=%ld parts=%d load_ms=%.0f add_ms=%.1f place_ms=%.1f "
	       "started=%llu rss_base_kb=%ld rss_conf_kb=%ld rss_conf_trim_kb=%ld rss_all_kb=%ld "
	       "rss_peak_kb=%ld per_check_b=%.0f conf_per_check_b=%.0f conf_trim_per_check_b=%.0f "
	       "sched_per_check_b=%.0f heap_per_check_b=%.0f heap_conf_per_check_b=%.0f "
	       "heap_sched_per_check_b=%.0f peak_per_check_b=%.0f sizeof_conf_check=%zu "
	       "sizeof_check=%zu sizeof_conf_route=%zu\n",
	       o->mode->name, o->n, cs.n, load_ms, add_ms, place_ms, (unsigned long long)st.started,
	       rss0, rss1, rss1t, rss2, maxrss_kb(), (double)(rss2 - rss0) * 1024.0 / n,
	       (double)(rss1 - rss0) * 1024.0 / n, (double)(rss1t - rss0) * 1024.0 / n,
	       (double)(rss2 - rss1t) * 1024.0 / n, (double)(heap2 - heap0) / n,
	       (double)(heap1 - heap0) / n, (double)(heap2 - heap1) / n,
	       (double)(peak1 - rss0) * 1024.0 / n, sizeof(struct conf_check), sizeof(struct check),
	       sizeof(struct conf_route));
	fflush(stdout);
	sched_free(s);
	unref_confs(&cs);
	probe_env_free(&env);
	event_base_free(base);
	return 0;
}

/* ---- inflight: RSS per parked probe --------------------------------------- */

struct irun {
	long done, ok, fail;
	char first_fail[RESULT_MSG_MAX + 64];
};

static void in_done(const struct result *res, void *arg)
{
	struct irun *r = arg;

	r->done++;
	if (res->status == MP_UP) {
		r->ok++;
	} else {
		r->fail++;
		if (!r->first_fail[0])
			snprintf(r->first_fail, sizeof(r->first_fail), "%s %s: %s",
			         result_status_name(res->status), result_reason_name(res->reason),
			         res->message);
	}
}

static void run_until(struct event_base *base, struct irun *r, long n, int64_t until_us)
{
	while (r->done < n && mp_now_us() < until_us) {
		struct timeval tv = {0, 20000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static int cmd_inflight(const struct opts *o)
{
	struct probe_env env;
	struct check warm, parked;
	struct irun r;
	char err[256];
	struct event_base *base = event_base_new();

	if (!base || probe_env_init(&env, base, err, sizeof(err)) != 0)
		die("probe_env_init: %s", err);
	make_check(&warm, o->mode, o->warm_port, o->ca, 10000);
	make_check(&parked, o->mode, o->port, o->ca, (unsigned)o->park_ms + 10000);
	memset(&r, 0, sizeof(r));
	/* Warm-up against the target that does not wait: SSL_CTX, trust store, first buffers. */
	for (int i = 0; i < 20; i++)
		if (!probe_start(&env, &warm, in_done, &r))
			die("out of memory");
	run_until(base, &r, 20, mp_now_us() + 10000000);
	if (r.fail)
		die("warm-up failed: %s", r.first_fail);
	malloc_trim(0);
	long rss0 = rss_now_kb(), heap0 = heap_now(), peak0 = maxrss_kb();
	memset(&r, 0, sizeof(r));
	int64_t t0 = mp_now_us();
	for (long i = 0; i < o->conc; i++)
		if (!probe_start(&env, &parked, in_done, &r))
			die("out of memory");
	/* Two thirds of the wait: every handshake is long done, no greeting has come. */
	run_until(base, &r, o->conc, t0 + o->park_ms * 1000 * 2 / 3);
	long rss1 = rss_now_kb(), heap1 = heap_now(), done1 = r.done;
	run_until(base, &r, o->conc, t0 + (o->park_ms + 15000) * 1000);
	long peak = maxrss_kb();
	double c = (double)o->conc;
	printf("RESULT bench=inflight mode=%s c=%ld park_ms=%ld done_while_parked=%ld ok=%ld "
	       "fail=%ld rss_base_kb=%ld rss_parked_kb=%ld rss_peak_kb=%ld rss_peak_before_kb=%ld "
	       "rss_per_probe_kb=%.1f heap_per_probe_kb=%.1f peak_per_probe_kb=%.1f "
	       "sizeof_result=%zu\n",
	       o->mode->name, o->conc, o->park_ms, done1, r.ok, r.fail, rss0, rss1, peak, peak0,
	       (double)(rss1 - rss0) / c, (double)(heap1 - heap0) / 1024.0 / c,
	       (double)(peak - rss0) / c, sizeof(struct result));
	if (r.fail)
		fprintf(stderr, "schedbench: %ld probe(s) not up; first: %s\n", r.fail,
		        r.first_fail);
	probe_env_free(&env);
	event_base_free(base);
	return 0;
}

/* ---- timing: time to greeting against a known delay ----------------------- */

/*
 * The reference: a bare non-blocking connection whose greeting is read
 * with the kernel's software receive timestamp. truth = that timestamp
 * minus the moment connect() was called (both CLOCK_REALTIME).
 */
struct ref {
	struct trun *run;
	evutil_socket_t fd;
	struct event *ev;
	int64_t t_conn; /* CLOCK_REALTIME us */
	int64_t *pair;  /* where the engine probe of the same instant puts its ttg */
};

struct pair {
	int64_t ttg, truth; /* -1 until known */
};

struct tslot {
	struct trun *run;
	struct pair *pair;
	int load;
};

struct trun {
	const struct opts *o;
	struct probe_env env;
	struct event_base *base;
	struct check meas, load;
	long started, done, ok, fail;
	long load_started, load_done, load_fail, load_inflight;
	double load_rate; /* per second; 0: none */
	int64_t load_t0;
	long load_base;
	struct pair *pairs;
	struct vec err, ref_err, ref_user_err, diff;
	struct vec conn, greet, ref_conn; /* the phases of measured probes; the bare kernel RTT */
	long sum_off;                     /* probes whose connect + greeting != ttg (plain) */
	long ref_fail;
	char first_fail[RESULT_MSG_MAX + 64];
};

static void t_done(const struct result *res, void *arg)
{
	struct tslot *sl = arg;
	struct trun *r = sl->run;

	if (sl->load) {
		r->load_done++;
		r->load_inflight--;
		if (res->status != MP_UP)
			r->load_fail++;
	} else {
		r->done++;
		if (res->status == MP_UP && res->ttg_us >= 0) {
			const int64_t *ph = res->phase_us;
			r->ok++;
			sl->pair->ttg = res->ttg_us;
			vec_push(&r->conn, ph[MP_PH_CONNECT]);
			vec_push(&r->greet, ph[MP_PH_GREETING]);
			if (ph[MP_PH_TLS] < 0 &&
			    ph[MP_PH_CONNECT] + ph[MP_PH_GREETING] != res->ttg_us)
				r->sum_off++;
		} else {
			r->fail++;
		}
	}
	if (res->status != MP_UP && !r->first_fail[0])
		snprintf(r->first_fail, sizeof(r->first_fail), "%s %s: %s",
		         result_status_name(res->status), result_reason_name(res->reason),
		         res->message);
	free(sl);
}

static void ref_read(evutil_socket_t fd, short what, void *arg)
{
	struct ref *f = arg;
	char buf[1024], cbuf[512];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh;
	int64_t t_user = real_us();

	(void)what;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	ssize_t n = recvmsg(fd, &mh, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	int64_t ts = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n > 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPING) {
			struct timespec t[3];
			memcpy(t, CMSG_DATA(cm), sizeof(t));
			ts = (int64_t)t[0].tv_sec * 1000000 + t[0].tv_nsec / 1000;
		}
	}
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	/* Nothing sent on it: the kernel's first RTT sample, the SYN round trip. */
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_rtt > 0)
		vec_push(&f->run->ref_conn, (int64_t)ti.tcpi_rtt);
	if (ts > 0) {
		*f->pair = ts - f->t_conn;
		/* How long after the kernel had the greeting this loop got to read it. */
		vec_push(&f->run->ref_user_err, t_user - ts);
	} else {
		f->run->ref_fail++;
	}
	event_free(f->ev);
	evutil_closesocket(fd);
	free(f);
}

static void ref_start(struct trun *r, struct pair *p)
{
	struct ref *f = calloc(1, sizeof(*f));
	struct sockaddr_in sin;
	int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

	if (!f)
		die("out of memory");
	f->run = r;
	f->pair = &p->truth;
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->fd < 0 || evutil_make_socket_nonblocking(f->fd) != 0 ||
	    setsockopt(f->fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)) != 0)
		die("reference socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)(r->o->port + r->o->mode->offset));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->ev = event_new(r->base, f->fd, EV_READ | EV_PERSIST, ref_read, f);
	if (!f->ev)
		die("out of memory");
	f->t_conn = real_us();
	if (connect(f->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 && errno != EINPROGRESS)
		die("reference connect: %s", strerror(errno));
	struct timeval tv = {(time_t)(r->o->delay_ms / 1000 + 10), 0};
	event_add(f->ev, &tv);
}

static void start_one(struct trun *r, int load, struct pair *p)
{
	struct tslot *sl = calloc(1, sizeof(*sl));

	if (!sl)
		die("out of memory");
	sl->run = r;
	sl->load = load;
	sl->pair = p;
	if (!probe_start(&r->env, load ? &r->load : &r->meas, t_done, sl))
		die("probe_start: out of memory");
}

/* Background load: keep the started count on rate * elapsed, at most 1000 in flight. */
static void load_tick(evutil_socket_t fd, short what, void *arg)
{
	struct trun *r = arg;

	(void)fd;
	(void)what;
	if (r->load_rate <= 0)
		return;
	long want = r->load_base + (long)(r->load_rate * (double)(mp_now_us() - r->load_t0) / 1e6);
	while (r->load_started < want && r->load_inflight < 1000) {
		r->load_started++;
		r->load_inflight++;
		start_one(r, 1, NULL);
	}
}

static void meas_tick(evutil_socket_t fd, short what, void *arg)
{
	struct trun *r = arg;

	(void)fd;
	(void)what;
	if (r->started >= r->o->n)
		return;
	struct pair *p = &r->pairs[r->started++];
	p->ttg = p->truth = -1;
	/* The same instant, the same port: the reference and the engine's probe. */
	ref_start(r, p);
	start_one(r, 0, p);
}

static void loop_for(struct event_base *base, double s)
{
	struct timeval tv = tv_of(s);

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static int cmd_timing(const struct opts *o)
{
	struct trun r;
	char err[256];

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.base = new_base(o);
	if (!r.base || probe_env_init(&r.env, r.base, err, sizeof(err)) != 0)
		die("probe_env_init: %s", err);
	make_check(&r.meas, o->mode, o->port, o->ca, (unsigned)o->delay_ms + 10000);
	make_check(&r.load, o->load_mode, o->load_port, o->ca, 10000);
	r.pairs = calloc((size_t)o->n, sizeof(*r.pairs));
	if (!r.pairs)
		die("out of memory");
	struct event *lt = event_new(r.base, -1, EV_PERSIST, load_tick, &r);
	struct event *mt = event_new(r.base, -1, EV_PERSIST, meas_tick, &r);
	if (!lt || !mt)
		die("out of memory");

	/* Warm-up and, when loaded, calibration: CPU per load probe at 50 in flight for ~2 s. */
	double cpu_per = 0;
	if (o->load_cpu > 0) {
		double c0 = cpu_ms_now();
		int64_t t0 = mp_now_us();
		long d0 = r.load_done;
		r.load_rate = 1e6; /* unpaced: as fast as 50 in flight allow */
		r.load_t0 = t0;
		while (mp_now_us() - t0 < 2000000) {
			while (r.load_inflight < 50) {
				r.load_started++;
				r.load_inflight++;
				start_one(&r, 1, NULL);
			}
			event_base_loop(r.base, EVLOOP_ONCE);
		}
		cpu_per =
		    (cpu_ms_now() - c0) / (double)(r.load_done - d0 > 0 ? r.load_done - d0 : 1);
		r.load_rate = o->load_cpu * 1000.0 / cpu_per;
		/* Drain, then pace. */
		while (r.load_inflight > 0 && mp_now_us() - t0 < 15000000)
			event_base_loop(r.base, EVLOOP_ONCE);
		r.load_t0 = mp_now_us();
		r.load_base = r.load_started;
		struct timeval tick = {0, 2000};
		event_add(lt, &tick);
		loop_for(r.base, 1.0); /* settle */
	} else {
		/* Warm-up of the measured path (SSL_CTX, first allocations). */
		for (int i = 0; i < 5; i++) {
			r.load_inflight++;
			r.load_started++;
			start_one(&r, 1, NULL);
		}
		while (r.load_inflight > 0)
			event_base_loop(r.base, EVLOOP_ONCE);
	}
	long ld0 = r.load_done;
	double c0 = cpu_ms_now();
	int64_t t0 = mp_now_us();
	struct timeval mtv = tv_of(1.0 / o->rate);
	event_add(mt, &mtv);
	/* Bounded: n / rate seconds, the delay, and at most 15 s of slack. */
	int64_t limit =
	    t0 + (int64_t)(((double)o->n / o->rate + (double)o->delay_ms / 1000.0 + 15) * 1e6);
	while ((r.started < o->n || r.done < r.started) && mp_now_us() < limit)
		loop_for(r.base, 0.05);
	double wall_s = (double)(mp_now_us() - t0) / 1e6;
	double cpu_pct = 100.0 * (cpu_ms_now() - c0) / (wall_s * 1000.0);
	long load_n = r.load_done - ld0;
	event_del(lt);
	event_del(mt);
	/* Let the last references read their greetings (bounded). */
	for (int i = 0; i < 40 && r.ref_err.n + (size_t)r.ref_fail < (size_t)r.started; i++)
		loop_for(r.base, 0.05);
	while (r.load_inflight > 0 && mp_now_us() < limit + 15000000)
		event_base_loop(r.base, EVLOOP_ONCE);

	int64_t d = o->delay_ms * 1000;
	long npairs = 0;
	for (long i = 0; i < r.started; i++) {
		struct pair *p = &r.pairs[i];
		if (p->ttg >= 0)
			vec_push(&r.err, p->ttg - d);
		if (p->truth >= 0)
			vec_push(&r.ref_err, p->truth - d);
		if (p->ttg >= 0 && p->truth >= 0) {
			vec_push(&r.diff, p->ttg - p->truth);
			npairs++;
		}
	}
	printf("RESULT bench=timing mode=%s label=%s delay_ms=%ld n=%ld ok=%ld fail=%ld "
	       "ref_fail=%ld pairs=%ld load_mode=%s load_cpu_goal=%.2f load_rate=%.0f "
	       "load_cpu_per_probe_ms=%.4f load_probes=%ld load_fail=%ld cpu_pct=%.1f wall_s=%.1f "
	       "sum_off=%ld",
	       o->mode->name, o->label ? o->label : "-", o->delay_ms, o->n, r.ok, r.fail,
	       r.ref_fail, npairs, o->load_cpu > 0 ? o->load_mode->name : "-", o->load_cpu,
	       r.load_rate, cpu_per, load_n, r.load_fail, cpu_pct, wall_s, r.sum_off);
	/* err: ttg - delay. ref: kernel receive time - connect call - delay. diff: ttg - ref,
	 * paired. loopdelay: user-space read time - kernel receive time of the reference. */
	print_dist("err", &r.err);
	print_dist("ref", &r.ref_err);
	print_dist("loopdelay", &r.ref_user_err);
	print_dist("diff", &r.diff);
	/* The measured probes' connect and greeting phases; refconn: the bare socket's tcpi_rtt. */
	print_dist("connect", &r.conn);
	print_dist("greeting", &r.greet);
	print_dist("refconn", &r.ref_conn);
	printf("\n");
	if (r.fail || r.load_fail)
		fprintf(stderr,
		        "schedbench: timing: %ld measured and %ld load probes not up; first: %s\n",
		        r.fail, r.load_fail, r.first_fail);
	fflush(stdout);
	event_free(lt);
	event_free(mt);
	probe_env_free(&r.env);
	event_base_free(r.base);
	free(r.pairs);
	return 0;
}

/* ---- options --------------------------------------------------------------- */

static const struct mode_def *mode_of(const char *s)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(modes[i].name, s) == 0)
			return &modes[i];
	die("unknown mode %s", s);
}

static double num(const char *a, const char *v, double lo, double hi)
{
	char *end;

	if (!v)
		die("%s needs a value", a);
	double x = strtod(v, &end);
	if (*end || x < lo || x > hi)
		die("%s %s: expected %g..%g", a, v, lo, hi);
	return x;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (argc < 2)
		die("usage: schedbench sched|memory|inflight|timing [options] (see the source)");
	memset(&o, 0, sizeof(o));
	o.mode = o.load_mode = &modes[3];
	o.n = 10000;
	o.conc = 200;
	o.cap = 256;
	o.interval_s = 30;
	o.timeout_s = 10;
	o.duration_s = 70;
	o.scale = 1.0;
	o.park_ms = 3000;
	o.delay_ms = 200;
	o.rate = 100;
	o.dir = "/tmp";
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--port") == 0)
			o.port = (int)num(a, v, 1, 65535);
		else if (strcmp(a, "--warm-port") == 0)
			o.warm_port = (int)num(a, v, 1, 65535);
		else if (strcmp(a, "--load-port") == 0)
			o.load_port = (int)num(a, v, 1, 65535);
		else if (strcmp(a, "--ca") == 0)
			o.ca = v;
		else if (strcmp(a, "--dir") == 0)
			o.dir = v;
		else if (strcmp(a, "--label") == 0)
			o.label = v;
		else if (strcmp(a, "--mode") == 0)
			o.mode = mode_of(v ? v : "");
		else if (strcmp(a, "--load-mode") == 0)
			o.load_mode = mode_of(v ? v : "");
		else if (strcmp(a, "--n") == 0)
			o.n = (long)num(a, v, 1, N_MAX);
		else if (strcmp(a, "-c") == 0)
			o.conc = (long)num(a, v, 1, 10000);
		else if (strcmp(a, "--cap") == 0)
			o.cap = (long)num(a, v, 1, 10000);
		else if (strcmp(a, "--interval") == 0)
			o.interval_s = num(a, v, 30, 900);
		else if (strcmp(a, "--timeout") == 0)
			o.timeout_s = num(a, v, 1, 900);
		else if (strcmp(a, "--duration") == 0)
			o.duration_s = num(a, v, 0.1, 600);
		else if (strcmp(a, "--scale") == 0)
			o.scale = num(a, v, 0.001, 1);
		else if (strcmp(a, "--interval-ms") == 0)
			o.interval_ms = (long)num(a, v, 100, 900000);
		else if (strcmp(a, "--no-cache-time") == 0) {
			o.no_cache_time = 1;
			continue;
		} else if (strcmp(a, "--precise-timer") == 0) {
			o.precise_timer = 1;
			continue;
		} else if (strcmp(a, "--no-reuse") == 0) {
			o.no_reuse = 1;
			continue;
		} else if (strcmp(a, "--window") == 0) {
			if (!v || sscanf(v, "%lf,%lf", &o.win_a, &o.win_b) != 2 || o.win_a < 0 ||
			    o.win_b <= o.win_a)
				die("--window A,B: seconds, A < B");
		} else if (strcmp(a, "--park-ms") == 0)
			o.park_ms = (long)num(a, v, 100, 60000);
		else if (strcmp(a, "--delay-ms") == 0)
			o.delay_ms = (long)num(a, v, 0, 60000);
		else if (strcmp(a, "--rate") == 0)
			o.rate = num(a, v, 1, 10000);
		else if (strcmp(a, "--load-cpu") == 0)
			o.load_cpu = num(a, v, 0, 0.99);
		else
			die("unknown option %s", a);
		i++;
	}
	if (o.win_b > o.duration_s)
		o.duration_s = o.win_b;
	if (!o.port || !o.ca)
		die("--port and --ca are needed");
	if (strcmp(argv[1], "sched") == 0)
		return cmd_sched(&o);
	if (strcmp(argv[1], "memory") == 0)
		return cmd_memory(&o);
	if (strcmp(argv[1], "inflight") == 0) {
		if (!o.warm_port)
			die("--warm-port is needed");
		return cmd_inflight(&o);
	}
	if (strcmp(argv[1], "timing") == 0) {
		if (o.load_cpu > 0 && !o.load_port)
			die("--load-port is needed with --load-cpu");
		if (!o.load_port)
			o.load_port = o.port;
		return cmd_timing(&o);
	}
	die("unknown command %s", argv[1]);
}
