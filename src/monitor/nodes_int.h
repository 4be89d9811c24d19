/* SPDX-License-Identifier: ISC */
/*
 * nodes_int.h - the monitor's insides that monitor.c and nodes.c share:
 * the records of checks and of their locations, the registry of probing
 * nodes, and the pure rule that says a node is impaired. Private to
 * src/monitor and its unit tests; the rest of the program sees monitor.h.
 *
 * Everything here runs on the loop's thread.
 */
#ifndef MP_MONITOR_NODES_INT_H
#define MP_MONITOR_NODES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/probe.h"
#include "monitor/monitor.h"
#include "monitor/state.h"
#include "monitor/verdict.h"
#include "wire/node_json.h"

struct notify_event;

/*
 * A node that sent no heartbeat for this long is lost: three heartbeats of
 * 10 s missed. Multiplied by the monitor's time scale, as every timer of
 * the monitor is.
 */
#ifndef MON_NODE_LOST_MS
#define MON_NODE_LOST_MS 30000
#endif
/*
 * A canary that failed this many probes in a row impairs its node. One:
 * a node holds a failed check's results until its canaries have been
 * probed and a heartbeat has said what they found (node/node.c), so the
 * first failure of a canary arrives before the failures it explains;
 * waiting for a second would let those count. A canary that blips costs
 * its node one canary interval of not counting.
 */
#define MON_NODE_CANARY_FAILS 1
/* Disagreement impairs a node only over at least this many shared checks. */
#define MON_NODE_DISAGREE_MIN 3
/* Batch ids remembered per node, to know a batch sent again. */
#define MON_NODE_BATCH_RING 64
/*
 * Ranges of seqs taken from a node and above its floor, remembered to know
 * a result sent again. A node sends at most two lanes (its backlog oldest
 * first, its newest results beside it), so two or three are in use; when
 * they run out, the lowest is forgotten (a result then sent again would be
 * stored twice, never lost).
 */
#define MON_NODE_SEEN_MAX 16
/* Refusals of unassigned checks remembered per node, for the log's rate limit. */
#define MON_NODE_REFUSAL_SLOTS 16
/* One log line per node and check at most this often (not scaled: it is for people). */
#define MON_NODE_REFUSAL_EVERY_MS 60000
/* Why a node is impaired or lost, as shown and alerted. */
#define MON_WHY_MAX 256
/*
 * A location whose last result is older than this many intervals of the
 * check no longer counts in its verdict, and a node's result older than
 * that when it arrives is late (history, not state). Times the time
 * scale, like the intervals themselves.
 */
#define STALE_INTERVALS 3

#define MON_BUCKETS 4096

/* What a location of a check is. */
enum mon_loc_kind {
	LOC_LOCAL, /* this daemon (conf.location): always healthy */
	LOC_NODE,  /* a configured node: healthy while MON_NODE_OK */
	LOC_OTHER, /* neither (a direct monitor_ingest()): taken as healthy, as before nodes */
};

/*
 * What one location confirmed of one check, from its own results alone.
 * Owned by its struct mon, in its locs array.
 */
struct mon_loc {
	char name[65];
	enum mon_loc_kind kind;
	int node;                /* index into monitor.nodes for LOC_NODE, else -1 */
	int named;               /* the check's locations name it */
	struct check_state st;   /* its own counters and confirmed level */
	int64_t last_ms;         /* probe time of its last result; 0: none since start */
	unsigned last_confirmed; /* results that confirmed its current state */
	uint64_t last_seq;       /* the highest seq its node sent for it; 0: none */
	enum mp_reason last_reason;
	char *last_message; /* owned; NULL: none */
	int64_t last_ttg_us;
};

/*
 * One monitored check: its state per location, its state as a whole, and
 * a small summary of the last result (the full results live in the
 * store). Created when a check appears in the configuration, freed when
 * it leaves it.
 */
struct mon {
	struct mon *hnext;
	struct monitor *mo;
	/* Its probes at this daemon's location; NULL when it is probed elsewhere only. */
	struct sched_item *item;
	int active; /* configured, and results are taken (until monitor_stop_probes()) */
	/*
	 * Its routes, thresholds and windows: in mo->conf, or during a reload
	 * in the conf it was last in (which outlives the reload). The probes
	 * run a copy of it (the scheduler's check_spec), never this.
	 */
	const struct conf_check *cc;
	char name[65];
	struct check_state st; /* the check's, from the verdict over its locations */
	struct mon_loc *locs;
	int nlocs;
	/* The last verdict over its locations (readers; partial and unknown show here). */
	struct verdict verdict;
	int verdict_seen; /* a verdict other than pending or unknown was reached */
	/* For readers: one entry per location, refreshed by fill_info(). */
	struct mon_loc_info *linfo;
	int linfo_cap;
	enum mp_reason alert_reason; /* of the alert that recoveries answer */
	unsigned alert_confirmed;    /* results that confirmed the change being alerted */
	int seen;                    /* marks checks still present during a reload */
	/*
	 * What the people on its routes were last told: MP_UP when nothing is
	 * outstanding, MP_DOWN or MP_DEGRADED after such a notification. A
	 * maintenance window holds notifications back (held), so it may lag
	 * behind st.status until maint_catch_up() runs at the window's end.
	 */
	enum mp_status told;
	enum mp_severity told_sev; /* with told: a degraded check told at warning or critical */
	int held;                  /* a notification was held back by a window */
	int taken_over;            /* held because this controller took over (monitor_activate()) */
	int64_t held_duration_ms;  /* of a held-back recovery */
	/*
	 * The alert open at the receivers: the since_ms of the state whose
	 * down or degraded notification was sent last, which names its key
	 * (alert_key()); 0 when none is open. See alert() for the episode.
	 */
	int64_t key_ms;
	enum mp_reason key_reason; /* that the open alert was routed by */
	/*
	 * An alert superseded by a worse one (key_ms), left open until that
	 * one is delivered to PagerDuty (on_attempt()): if the new trigger
	 * never gets there, the old alert still pages. 0: none.
	 */
	int64_t sup_ms;
	enum mp_reason sup_reason;
	/*
	 * The partial episode under way: the verdict became partial while the
	 * check was not down (partial_follow() in monitor.c).
	 * partial_ms is its start (0: none), partial_told says its notice was
	 * sent (`notify_partial`), to the routes taking partial_reason, which
	 * its end is sent to. It never touches told, an incident or the
	 * PagerDuty keys above.
	 */
	int64_t partial_ms;
	int partial_told;
	enum mp_reason partial_reason;
	int has_last;
	struct mon_last last; /* its strings are owned (last_strs), see last_update() */
	char *last_strs[4];   /* message, greeting, wire, tls_wire */
	uint64_t probes;
	uint64_t by_reason[MP_R__COUNT];
};

/* A refusal of an unassigned check, remembered for the log's rate limit. */
struct mon_refusal {
	char check[65];
	int64_t at_ms; /* last logged */
	unsigned suppressed;
};

/*
 * One configured node: its health as the controller sees it. In
 * monitor.nodes, in the order of the configuration; rebuilt by a reload,
 * which keeps the state of the nodes that stay (nodes_reload()).
 */
struct mon_node {
	char name[65];
	const struct conf_node *cn; /* in mo->conf */
	enum mon_node_state state;
	char why[MON_WHY_MAX];
	int64_t state_since_ms;
	int pending_told;          /* a node never heard from was logged as such */
	int64_t last_heartbeat_ms; /* controller's clock; 0: never */
	int has_hb;
	struct node_heartbeat hb;
	int64_t skew_ms;
	int skew_flagged;
	/* The parts of impaired: its canary, and disagreement with the others. */
	int canary_bad;
	char canary_why[MON_WHY_MAX];
	unsigned shared, down_alone; /* the last count (nodes_disagreement()) */
	/* Its assignments, cached until the next reload. */
	int assign_valid;
	char etag[NODE_ID_MAX];
	unsigned checks_assigned;
	/* Batch ids seen last, a ring. */
	char batch_ids[MON_NODE_BATCH_RING][NODE_ID_MAX];
	int batch_next;
	/*
	 * The seqs taken from it (nodes_had()): everything below floor (the
	 * lowest its spool still holds, from its last batch), and the
	 * disjoint, sorted ranges in seen. cur_lo..cur_hi: those taken from
	 * the batch being read, added to seen when it ends.
	 */
	uint64_t floor;
	struct {
		uint64_t lo, hi;
	} seen[MON_NODE_SEEN_MAX];
	int nseen;
	uint64_t cur_lo, cur_hi;
	uint64_t batches, batches_again;
	uint64_t results_accepted, results_late, results_duplicate, results_refused;
	int64_t last_batch_ms;
	struct mon_refusal refusals[MON_NODE_REFUSAL_SLOTS];
};

struct monitor {
	struct event_base *base;
	struct probe_env env;
	struct conf *conf;
	struct store *store;
	struct notify *notify;
	struct sched *sched;
	struct mon *buckets[MON_BUCKETS];
	int nmons;
	int nheld; /* checks with held-back notifications; the one-second tick looks at them */
	double scale;
	int64_t started_ms;
	int64_t test_now_ms; /* monitor_test_now(): the clock of unit tests; 0: the wall clock */
	int sweep;           /* the next bucket the staleness sweep looks at */
	unsigned node_ticks;
	double flush_last_ms, flush_max_ms;
	uint64_t flush_failures;
	/*
	 * Flushes run on the loop (store_flush_start()): the one in flight
	 * began at flush_t0_us and is number flush_started; those that asked
	 * to know when the rows queued at their moment are written wait in
	 * waiters, each for the flush number it needs (monitor_store_then()).
	 */
	int64_t flush_t0_us;
	uint64_t flush_started, flush_ended;
	struct mon_waiter {
		uint64_t gen;
		void (*fn)(void *arg);
		void *arg;
	} * waiters;
	int nwaiters, waiters_cap;
	int store_queued_high; /* the most rows queued at once since start */
	/*
	 * Several controllers on one store (store_lead()): this one probes,
	 * judges and notifies only while active; lead_starting while
	 * monitor_new() asks, stopping once the daemon stops.
	 */
	int lead_active, lead_starting, stopping;
	/*
	 * Active, but its database session failed (STORE_LOST): it goes on
	 * probing and judging; its notifications wait for their claims, so
	 * they go out only if it gets the lead back; nodes are turned away.
	 */
	int lead_lost;
	char controller[128]; /* this controller's name in claims: host:pid */
	int standby_reading;  /* a standby's read of the states the active one stores */
	int64_t lead_since_ms;
	char lead_why[160];
	/*
	 * A run of ticks that could not write (a failed flush, or no file to
	 * write to): 0 while writing works. The first failure is logged at
	 * once, then one summary per STORE_REPORT_EVERY_S (store_trouble()).
	 */
	uint64_t store_fail_run;
	int64_t store_fail_first_us, store_fail_logged_us;
	uint64_t store_dropped;     /* rows the full queue refused, since start: lost */
	uint64_t store_dropped_run; /* of them, since writing last worked */
	char store_error[512];      /* why the store cannot be written; "" when it can */
	int store_moved_told;       /* the file at the path changed: logged, not yet reopened */
	unsigned flush_ticks;
	uint64_t notify_attempts, notify_failures;
	/* At start only: the states of the store's checks the file no longer names. */
	struct store_state *orphans;
	int norphans;
	/* The nodes of conf, in its order (nodes.c). */
	struct mon_node *nodes;
	int nnodes;
};

/* ---- monitor.c, for nodes.c ---------------------------------------------- */

/* Write what the store has queued now, unless writing fails already (the tick retries). */
void monitor_store_now(struct monitor *mo);
/* notify_send() while this controller is the active one; nothing (0) while it stands by. */
int mon_notify_send(struct monitor *mo, const struct conf_channel *ch,
                    const struct notify_event *ev);
/*
 * fn(arg) once the rows queued now are written, or writing them failed
 * (or failed already: then at once); maybe before this returns.
 */
void monitor_store_then(struct monitor *mo, void (*fn)(void *arg), void *arg);
/* The monitor's clock (unix ms): the wall clock, or a unit test's. */
int64_t mon_now(const struct monitor *mo);
/* The bound past which a location's last result no longer counts, for check cc. */
int64_t mon_stale_ms(const struct monitor *mo, const struct conf_check *cc);
/* The check called name, when configured and taking results; else NULL. */
struct mon *mon_lookup(struct monitor *mo, const char *name);
/* 1 when location l of a check counts in its verdict at now (healthy, confirmed, recent). */
int mon_loc_counts(const struct monitor *mo, const struct mon *m, const struct mon_loc *l,
                   int64_t now);
/* The level location l confirmed since the daemon started (0 up .. 3 down); -1: none yet. */
int mon_loc_level(const struct mon_loc *l);
/* 1 when location l itself works: this daemon, or a node that is MON_NODE_OK. */
int mon_loc_healthy(const struct monitor *mo, const struct mon_loc *l);
/*
 * Node i changed state: weigh again the checks it is a location of, with
 * the alerts that follow. O(checks); node states change seldom.
 */
/* fresh: it is back from impaired or lost: its locations confirm again from pending. */
void mon_node_changed(struct monitor *mo, int node, int64_t now, int fresh);

/* ---- nodes.c, for monitor.c ---------------------------------------------- */

/*
 * The registry for nc's nodes, keeping the state of those already known
 * by name; the caller then resolves every location again (indexes move).
 * A node that leaves while lost or impaired has its PagerDuty alert
 * resolved at oc's node channels (oc: the conf before, NULL at start).
 * 0, or -1 when out of memory (the old registry then stays).
 */
int nodes_reload(struct monitor *mo, const struct conf *oc, const struct conf *nc);
void nodes_free(struct monitor *mo);
/* The index of node name, or -1. O(nodes). */
int nodes_index(const struct monitor *mo, const char *name);
/* Once a second: lost nodes, and every few seconds the disagreement rule. */
void nodes_tick(struct monitor *mo, int64_t now);
/* A result of node i was accepted, late, a duplicate or refused (counters). */
void nodes_count(struct monitor *mo, int i, enum mon_remote rc);
/* Node i sent a result with seq before (below its floor, or in a range taken). */
int nodes_had(const struct monitor *mo, int i, uint64_t seq);
/* Node i's result with seq was taken (stored): it counts as had when its batch ends. */
void nodes_took(struct monitor *mo, int i, uint64_t seq);
/* Log a refused unassigned check of node i, at most once a minute per check. */
void nodes_log_refusal(struct monitor *mo, int i, const char *check, int64_t now);

/*
 * The impaired rule, pure: a canary of the last heartbeat failed
 * MON_NODE_CANARY_FAILS probes in a row or more, or of the shared checks
 * (those it and at least one other counting location have confirmed
 * recently), at least MON_NODE_DISAGREE_MIN exist and more than half are
 * down at this node while another healthy location sees them answer
 * (down_alone). Returns 1 and why ("canary TARGET: REASON: MESSAGE", cut;
 * or "sees N of M shared checks down that other locations see up"), or 0
 * with why "". canaries may be NULL when n is 0.
 */
int nodes_impaired_rule(const struct node_canary *canaries, int ncanaries, unsigned shared,
                        unsigned down_alone, char *why, size_t whylen);

/*
 * Test only: the monitor's clock reads now_ms from here on (0: the wall
 * clock again). For unit tests of lost nodes and stale locations.
 */
void monitor_test_now(struct monitor *mo, int64_t now_ms);

#endif
