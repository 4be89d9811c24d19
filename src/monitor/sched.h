/* SPDX-License-Identifier: ISC */
/*
 * sched.h - when each check probes: first runs within seconds, spread out;
 * then every interval on a fixed grid whose phase is the check's own (so
 * the steady load is even over the interval), retries sooner while a change is being
 * confirmed, never two probes of one check at once, and a cap on probes in
 * flight over all checks.
 *
 * Timers live on libevent's min-heap, one per check. Due checks beyond the
 * cap wait in a FIFO and start as others finish; how late each probe
 * started (lag) is counted, so an overloaded monitor is visible.
 *
 * A struct sched is created by sched_new() before the loop runs and freed
 * by sched_free() (which cancels probes in flight: their results are
 * dropped). Items are created by sched_add() and freed by sched_remove().
 */
#ifndef MP_SCHED_H
#define MP_SCHED_H

#include <stdint.h>

#include "engine/probe.h"
#include "spec/checkspec.h"

struct sched;
struct sched_item;

/*
 * A probe of it finished. r is valid during the call only. The callback
 * may call sched_retry_soon() or sched_remove() on the item.
 */
typedef void (*sched_result_cb)(struct sched_item *it, const struct result *r, void *arg);

struct sched_stats {
	uint64_t started;
	uint64_t finished;
	uint64_t skipped; /* a slot came while the previous probe still ran */
	int in_flight;
	int waiting;        /* due but held back by the cap */
	int64_t lag_max_us; /* worst start lag since the last sched_stats_reset() */
	int64_t lag_sum_us;
	uint64_t lag_n;
};

/*
 * time_scale multiplies every scheduling duration (interval, retry,
 * spread): 1.0 in production; tests run the real scheduler faster with a
 * smaller scale (MAILPULSE_TIME_SCALE). Probe timeouts are never scaled.
 */
struct sched *sched_new(struct probe_env *env, unsigned max_in_flight, double time_scale,
                        sched_result_cb cb, void *arg);
void sched_free(struct sched *s);

/*
 * The window over which a batch of n new checks gets its first probes, in
 * ms (before time_scale): 10 ms per check up to 10 s, and wider for more
 * than 20 000 checks so that at most 2 000 first probes start per second.
 */
unsigned sched_first_spread_ms(unsigned n);

/*
 * Schedule spec (the item takes a reference; each probe takes its own
 * while it runs) with its first probe within the spread. user is the
 * caller's, returned by sched_user(). The scheduler knows nothing of the
 * configuration: the spec is all it probes.
 */
struct sched_item *sched_add(struct sched *s, struct check_spec *spec, void *user);

/*
 * The check changed: the next probe runs spec (referenced), a probe in
 * flight finishes with the spec it started with. Keeps the grid when the
 * interval is the same, else restarts it within the spread.
 */
void sched_update(struct sched_item *it, struct check_spec *spec);

/* Stop and free the item; a probe in flight is cancelled. */
void sched_remove(struct sched_item *it);

/* Probe again after the check's retry delay instead of the next grid slot. */
void sched_retry_soon(struct sched_item *it);

/* Probe now (unless one is in flight). */
void sched_run_now(struct sched_item *it);

/* 1 while a probe of it is in flight. */
int sched_running(const struct sched_item *it);

/*
 * The wall clock (unix ms) at which its probe started: in the result
 * callback, that of the result; the time that stamps it.
 */
int64_t sched_started_ms(const struct sched_item *it);

void *sched_user(const struct sched_item *it);
/* What the next probe runs; the item's reference (take one to keep it). */
struct check_spec *sched_spec(const struct sched_item *it);

void sched_stats(const struct sched *s, struct sched_stats *out);
void sched_stats_reset(struct sched *s);

/*
 * Measurement hook for bench/schedbench.c: when set, called at every probe
 * start with the slot's due time and the start time (mp_now_us()), so lag
 * percentiles can be taken outside. NULL (the default) costs one branch
 * per start; the daemon never sets it.
 */
typedef void (*sched_start_hook)(struct sched_item *it, int64_t due_us, int64_t now_us, void *arg);
void sched_set_start_hook(struct sched *s, sched_start_hook fn, void *arg);

#endif
