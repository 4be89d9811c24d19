/* SPDX-License-Identifier: ISC */
/*
 * sched.c - per-check timers on libevent's min-heap, a FIFO for probes held
 * back by the in-flight cap, and spreading of first runs.
 */
#include "monitor/sched.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/result.h"

/* The window over which a batch of new checks gets its first probes. */
#define SPREAD_MAX_MS 10000
/* Per new check in a batch: 10 ms each, so small setups start at once. */
#define SPREAD_PER_CHECK_MS 10
/*
 * ...but never more first probes per second than this: a large batch (a
 * restart with 100 000 checks) is spread wider than SPREAD_MAX_MS, so
 * neither the monitor nor the servers it watches take a burst of 10 000
 * connections a second. A batch under 20 000 checks is not affected.
 */
#define FIRST_RUNS_PER_S 2000

struct sched_item {
	struct sched *s;
	struct sched_item *prev, *next; /* all items */
	struct sched_item *qnext;       /* FIFO of items held back by the cap */
	int queued;
	int placing;             /* waiting for its first slot to be chosen */
	struct check_spec *spec; /* a reference; what the next probe runs */
	void *user;
	struct event *timer;
	int64_t grid0_us; /* the interval grid is grid0 + k * interval */
	int64_t due_us;   /* when the pending run is due */
	struct probe *probe;
	struct check_spec *probe_spec; /* a reference: what the running probe started with */
	int64_t started_ms; /* wall clock at the start of the probe running or last run */
};

struct sched {
	struct probe_env *env;
	unsigned cap;
	double scale;
	sched_result_cb cb;
	void *arg;
	struct sched_item *items;
	struct sched_item *qhead, *qtail;
	struct event *place_ev; /* chooses first slots for the items added since it last ran */
	int nplacing;
	struct sched_stats st;
	int64_t t0_us;               /* every check's grid is anchored here, at its own phase */
	sched_start_hook start_hook; /* bench only; NULL in the daemon */
	void *start_hook_arg;
};

static void item_arm(struct sched_item *it, int64_t due_us);

static int64_t scaled_us(const struct sched *s, unsigned ms)
{
	double us = (double)ms * 1000.0 * s->scale;
	return us < 1000.0 ? 1000 : (int64_t)us;
}

/* FNV-1a: a stable offset per check name, so restarts keep the same spread. */
static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

static void start_probe(struct sched_item *it);

static void pump_queue(struct sched *s)
{
	while (s->qhead && s->st.in_flight < (int)s->cap) {
		struct sched_item *it = s->qhead;
		s->qhead = it->qnext;
		if (!s->qhead)
			s->qtail = NULL;
		it->qnext = NULL;
		it->queued = 0;
		s->st.waiting--;
		start_probe(it);
	}
}

static void unqueue(struct sched_item *it)
{
	struct sched *s = it->s;
	struct sched_item **pp = &s->qhead, *last = NULL;

	if (!it->queued)
		return;
	while (*pp && *pp != it) {
		last = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp) {
		*pp = it->qnext;
		if (s->qtail == it)
			s->qtail = last;
	}
	it->queued = 0;
	it->qnext = NULL;
	s->st.waiting--;
}

static int64_t later(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* The next grid slot strictly after now. */
static int64_t next_slot(const struct sched_item *it, int64_t now)
{
	int64_t iv = scaled_us(it->s, it->spec->interval_ms);
	int64_t k = now >= it->grid0_us ? (now - it->grid0_us) / iv + 1 : 0;

	return it->grid0_us + k * iv;
}

static void probe_done(const struct result *r, void *arg)
{
	struct sched_item *it = arg;
	struct sched *s = it->s;
	struct check_spec *ps = it->probe_spec;

	it->probe = NULL;
	it->probe_spec = NULL;
	s->st.in_flight--;
	s->st.finished++;
	/* Back on the grid unless the callback asks for a retry. */
	/*
	 * From the due time, not only from now: libevent's cached clock can
	 * fire a timer a little early, and a fast probe may end before its own
	 * due time; the slot it just used must not be chosen again.
	 */
	item_arm(it, next_slot(it, later(mp_now_us(), it->due_us)));
	s->cb(it, r, s->arg); /* may remove it */
	checkspec_unref(ps);
	pump_queue(s);
}

static void start_probe(struct sched_item *it)
{
	struct sched *s = it->s;
	int64_t now = mp_now_us();
	int64_t lag = now - it->due_us;

	if (lag < 0)
		lag = 0;
	s->st.lag_sum_us += lag;
	s->st.lag_n++;
	if (lag > s->st.lag_max_us)
		s->st.lag_max_us = lag;
	if (s->start_hook)
		s->start_hook(it, it->due_us, now, s->start_hook_arg);
	it->probe_spec = checkspec_ref(it->spec);
	it->started_ms = mp_wall_ms();
	it->probe = probe_start(s->env, &it->probe_spec->chk, probe_done, it);
	if (!it->probe) {
		/* Out of memory: skip this slot rather than spin. */
		checkspec_unref(it->probe_spec);
		it->probe_spec = NULL;
		s->st.skipped++;
		item_arm(it, next_slot(it, later(now, it->due_us)));
		return;
	}
	s->st.started++;
	s->st.in_flight++;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched_item *it = arg;
	struct sched *s = it->s;

	(void)fd;
	(void)what;
	if (it->probe) {
		/* The previous probe still runs: never overlap, take the next slot. */
		s->st.skipped++;
		item_arm(it, next_slot(it, mp_now_us()));
		return;
	}
	if (s->st.in_flight >= (int)s->cap) {
		if (!it->queued) {
			it->queued = 1;
			if (s->qtail)
				s->qtail->qnext = it;
			else
				s->qhead = it;
			s->qtail = it;
			s->st.waiting++;
		}
		return;
	}
	start_probe(it);
}

static void item_arm(struct sched_item *it, int64_t due_us)
{
	int64_t d = due_us - mp_now_us();
	struct timeval tv;

	if (d < 0)
		d = 0;
	it->due_us = due_us;
	tv.tv_sec = (time_t)(d / 1000000);
	tv.tv_usec = (suseconds_t)(d % 1000000);
	evtimer_add(it->timer, &tv);
}

/* The check's grid: every interval, at a phase within it that its name decides. */
static void set_phase(struct sched_item *it)
{
	int64_t iv = scaled_us(it->s, it->spec->interval_ms);
	/* A second, independent mix of the name: the first-run offset uses the first. */
	uint64_t h2 = (uint64_t)name_hash(it->spec->name) * 0x9E3779B97F4A7C15ull;

	it->grid0_us = it->s->t0_us + (int64_t)((h2 >> 17) % (uint64_t)iv);
}

/*
 * Choose first runs for every item added since the last call: within the
 * spread (sched_first_spread_ms()), so new checks are probed
 * within seconds but never all at once. After that first run a check
 * follows its own grid, whose phase within the interval comes from its
 * name: the second run comes at most one interval after the first, and
 * in steady state the probes of many checks are spread over the whole
 * interval instead of repeating the first runs' 10 s burst.
 */
unsigned sched_first_spread_ms(unsigned n)
{
	uint64_t per = (uint64_t)n * SPREAD_PER_CHECK_MS;
	uint64_t ms = per > SPREAD_MAX_MS ? SPREAD_MAX_MS : per;
	uint64_t by_rate = ((uint64_t)n * 1000 + FIRST_RUNS_PER_S - 1) / FIRST_RUNS_PER_S;

	if (by_rate > ms)
		ms = by_rate;
	return ms > UINT32_MAX ? UINT32_MAX : (unsigned)(ms ? ms : 1);
}

static void place_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	int64_t now = mp_now_us();
	int64_t spread_us = scaled_us(s, sched_first_spread_ms((unsigned)s->nplacing));

	(void)fd;
	(void)what;
	for (struct sched_item *it = s->items; it; it = it->next) {
		if (!it->placing)
			continue;
		it->placing = 0;
		set_phase(it);
		item_arm(it, now + (int64_t)(name_hash(it->spec->name) % (uint64_t)spread_us));
	}
	s->nplacing = 0;
}

static void place_later(struct sched_item *it)
{
	struct sched *s = it->s;

	evtimer_del(it->timer);
	unqueue(it);
	if (!it->placing) {
		it->placing = 1;
		s->nplacing++;
	}
	event_active(s->place_ev, 0, 0);
}

struct sched *sched_new(struct probe_env *env, unsigned max_in_flight, double time_scale,
                        sched_result_cb cb, void *arg)
{
	struct sched *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->env = env;
	s->cap = max_in_flight ? max_in_flight : 1;
	s->scale = time_scale > 0 ? time_scale : 1.0;
	s->t0_us = mp_now_us();
	s->cb = cb;
	s->arg = arg;
	s->place_ev = event_new(env->base, -1, 0, place_cb, s);
	if (!s->place_ev) {
		free(s);
		return NULL;
	}
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	while (s->items)
		sched_remove(s->items);
	event_free(s->place_ev);
	free(s);
}

struct sched_item *sched_add(struct sched *s, struct check_spec *spec, void *user)
{
	struct sched_item *it = calloc(1, sizeof(*it));

	if (!it)
		return NULL;
	it->timer = evtimer_new(s->env->base, timer_cb, it);
	if (!it->timer) {
		free(it);
		return NULL;
	}
	it->s = s;
	it->user = user;
	it->spec = checkspec_ref(spec);
	it->next = s->items;
	if (s->items)
		s->items->prev = it;
	s->items = it;
	place_later(it);
	return it;
}

void sched_update(struct sched_item *it, struct check_spec *spec)
{
	int same_interval = it->spec->interval_ms == spec->interval_ms;

	checkspec_ref(spec);
	checkspec_unref(it->spec);
	it->spec = spec;
	if (!same_interval && !it->placing)
		place_later(it);
}

void sched_remove(struct sched_item *it)
{
	struct sched *s = it->s;

	if (it->probe) {
		probe_cancel(it->probe);
		it->probe = NULL;
		checkspec_unref(it->probe_spec);
		s->st.in_flight--;
	}
	if (it->placing)
		s->nplacing--;
	unqueue(it);
	event_free(it->timer);
	if (it->prev)
		it->prev->next = it->next;
	else
		s->items = it->next;
	if (it->next)
		it->next->prev = it->prev;
	checkspec_unref(it->spec);
	free(it);
}

void sched_retry_soon(struct sched_item *it)
{
	int64_t when = mp_now_us() + scaled_us(it->s, it->spec->retry_ms);

	if (it->probe || it->placing || it->queued)
		return;
	/* Sooner only: a retry never pushes a grid slot back. */
	if (when < it->due_us)
		item_arm(it, when);
}

void sched_run_now(struct sched_item *it)
{
	if (it->probe || it->queued)
		return;
	if (it->placing) {
		it->placing = 0;
		it->s->nplacing--;
		set_phase(it);
	}
	item_arm(it, mp_now_us());
}

int sched_running(const struct sched_item *it)
{
	return it->probe != NULL;
}

int64_t sched_started_ms(const struct sched_item *it)
{
	return it->started_ms;
}

void *sched_user(const struct sched_item *it)
{
	return it->user;
}

struct check_spec *sched_spec(const struct sched_item *it)
{
	return it->spec;
}

void sched_stats(const struct sched *s, struct sched_stats *out)
{
	*out = s->st;
}

void sched_set_start_hook(struct sched *s, sched_start_hook fn, void *arg)
{
	s->start_hook = fn;
	s->start_hook_arg = arg;
}

void sched_stats_reset(struct sched *s)
{
	s->st.lag_max_us = 0;
	s->st.lag_sum_us = 0;
	s->st.lag_n = 0;
}
