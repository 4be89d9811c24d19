/* SPDX-License-Identifier: ISC */
/*
 * monitor.h - the registry of checks and their live state: every result,
 * local or from a remote location, enters through monitor_ingest(), which
 * keeps the state per location, turns it into the check's state
 * (verdict.h), writes the store and sends the alerts. Readers (the HTTP
 * API, the dashboard, /metrics) see the live state through the rest.
 *
 * A struct monitor is created by monitor_new() before the loop runs and
 * freed by monitor_free() after it; whoever runs the loop (src/cmd/run.c)
 * calls monitor_tick() every second. Nothing here knows of HTTP.
 * Everything is called on the loop's thread; pointers passed to a
 * callback are valid during that call only.
 */
#ifndef MP_MONITOR_H
#define MP_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "core/result.h"
#include "monitor/state.h"
#include "monitor/verdict.h"
#include "wire/node_json.h"
#include "wire/result_json.h"

struct event_base;
struct monitor;
struct store;

/*
 * The monitor of conf on base: the store (conf->store_path, with the
 * writer's lock), notifications, the scheduler and one check each, the
 * first probes spread as usual. time_scale stretches the schedule
 * (MAILPULSE_TIME_SCALE, or a large factor for harnesses that probe only
 * on demand). Takes conf's reference, also on failure; NULL with err
 * filled ("store PATH: ..." when the store is the trouble). base stays
 * the caller's.
 */
struct monitor *monitor_new(struct event_base *base, struct conf *conf, double time_scale,
                            char *err, size_t errlen);
/*
 * Stop probing, write what is queued and free. Returns 0, or -1 when
 * queued rows could not be written (lost); clean says the stop was asked
 * for (the last line then says all went well).
 */
int monitor_free(struct monitor *mo, int clean);

/*
 * At a daemon's start: resume each check's state from the store (a
 * restart must not alert again), and retire the checks the store has but
 * the configuration no longer names.
 */
void monitor_resume(struct monitor *mo);
/* Once a second: writes the store, acts on maintenance windows that ended. */
void monitor_tick(struct monitor *mo);
/* Hourly: the store's retention. */
void monitor_retention(struct monitor *mo);
/*
 * Apply a new configuration: checks added, changed and removed, TLS trust
 * read again. Takes nc's reference; the old conf is let go.
 */
void monitor_reload(struct monitor *mo, struct conf *nc);
/* Stopping: cancel probes in flight and schedule none; results stop. */
void monitor_stop_probes(struct monitor *mo);
/* Notifications queued or in flight (a stop waits a little for them). */
int monitor_notify_pending(const struct monitor *mo);

/*
 * The one way a probe result enters: the state of check at location, the
 * check's state, the store and the alerts. The result is stamped
 * everywhere with the probe's own wall-clock start, r->probe_ms (unix ms),
 * which the engine sets when the probe starts; probe_ms stands in only
 * when r->probe_ms is 0: a result not made by this build's engine (one
 * decoded from a wire that said null, a test's). r is read during the
 * call only. -1 when no such check is configured.
 */
int monitor_ingest(struct monitor *mo, const char *check, const char *location, int64_t probe_ms,
                   const struct result *r);

/*
 * The last result of a check. wire is that result as the one encoder wrote
 * it (result_json_dumps(), docs/json.md), with the check, the location,
 * the check's digest and the result's seq: readers take the keys they show
 * from it, so their names and meanings are those of `mailpulse check
 * --json` and cannot drift. The numbers beside it are copies of the same
 * result for readers that run on every scrape (/metrics) and should not
 * parse JSON. Strings are escaped already; all are owned by the monitor.
 */
struct mon_last {
	int64_t ts_ms; /* the probe's start */
	uint64_t seq;  /* wire's seq: strictly increasing per check, across restarts */
	enum mp_status status;
	enum mp_severity severity;
	enum mp_reason reason;
	const char *message;
	const char *greeting;
	int nwarnings;                  /* findings that leave the status as it is */
	int64_t phase_us[MP_PH__COUNT]; /* -1: not reached */
	int64_t ttg_us;                 /* -1: no greeting */
	const char *wire;               /* the result's JSON; "" when it could not be encoded */
	/*
	 * The TLS facts of the last handshake that showed a certificate, seen
	 * at tls_seen_ms: a failed probe that got no certificate (refused,
	 * timed out) keeps the last one seen, so an outage still shows it.
	 * tls_seen_ms == ts_ms when it is this result's: then the facts are
	 * wire's "tls" and tls_wire is NULL; else tls_wire is the "tls"
	 * object of the earlier result's wire. tls_seen_ms is 0 when none was
	 * seen (tls_used is 0 then).
	 */
	int tls_used;
	int64_t tls_seen_ms;
	const char *tls_wire;
	char tls_version[16];
	int64_t cert_not_after; /* of the certificate that expires first; unix seconds; 0: none */
};

/* What one location of a check confirmed, for readers. */
struct mon_loc_info {
	const char *name;             /* conf.location or a node's name */
	const struct check_state *st; /* its own confirmed state */
	int64_t last_ms;              /* probe time of its last result; 0: none since start */
	enum mp_reason last_reason;   /* of its last result */
	const char *last_message;     /* of its last result; "" when none */
	int64_t last_ttg_us;          /* time to greeting of its last result; -1: none */
	int counts;                   /* it counted in the verdict (healthy, recent, confirmed) */
	int healthy;                  /* this daemon, or a node neither lost nor impaired */
};

struct mon_info {
	const char *name;
	const struct conf_check *cc;
	const struct check_state *st;
	/* The verdict over its locations: partial and unknown show here, st keeps the last state.
	 */
	struct verdict verdict;
	const struct mon_loc_info *locs; /* every location it names or has results from */
	int nlocs;
	const struct mon_last *last;     /* NULL until the first result */
	uint64_t probes;                 /* since the daemon started */
	uint64_t by_reason[MP_R__COUNT]; /* results by reason (ok included) */
	int running;                     /* a probe is in flight */
};

typedef void (*mon_each_cb)(const struct mon_info *mi, void *arg);

/* Every check, in the order of the configuration file. */
void monitor_each_check(struct monitor *mo, mon_each_cb cb, void *arg);
/* One check; returns -1 (cb not called) when there is no such check. */
int monitor_get_check(struct monitor *mo, const char *name, mon_each_cb cb, void *arg);
/* Probe now; -1 when there is no such check, 0 when started or already running. */
int monitor_run_now(struct monitor *mo, const char *name);

struct monitor_health {
	int64_t started_ms; /* wall clock */
	int checks;
	int in_flight;
	int waiting; /* due, held back by max_in_flight */
	uint64_t probes_started;
	uint64_t probes_finished;
	uint64_t slots_skipped; /* a probe outlasted its interval */
	double lag_max_ms;      /* worst start lag over the last minute or so */
	double lag_avg_ms;
	double store_flush_last_ms; /* duration of the last store write */
	double store_flush_max_ms;
	/* This controller probes, judges and notifies (monitor_active()); since when, why. */
	int active;
	int lead_lost; /* active, without its database session: it notifies nothing meanwhile */
	int64_t active_since_ms;
	const char *active_why;
	int store_queued;
	int store_queued_high; /* the most rows queued at once since start */
	uint64_t store_flush_failures;
	int store_ok;                /* the last write worked; 0 while failing or no file is open */
	const char *store_error;     /* why not, with SQLite's message; NULL while store_ok */
	uint64_t store_rows_dropped; /* rows refused by the full queue since start: lost */
	int notify_pending;
	uint64_t notify_attempts;
	uint64_t notify_failures;
};

void monitor_health(struct monitor *mo, struct monitor_health *h);

/*
 * Notification attempts and failed attempts per channel name since the
 * daemon started (notify_each_channel()): the channels that had any, in
 * the order of their first; one removed by a reload stays.
 */
typedef void (*mon_channel_cb)(const char *channel, uint64_t attempts, uint64_t failures,
                               void *arg);
void monitor_each_channel(struct monitor *mo, mon_channel_cb cb, void *arg);

/* ---- probing nodes (monitor/nodes.c) --------------------------------- */

/* What became of one result a node sent. */
enum mon_remote {
	MON_REMOTE_ACCEPTED,
	/*
	 * History, not state: older than its check's staleness bound, or than
	 * a result of the same check the node sent before (its backlog,
	 * replayed beside its newest results)
	 */
	MON_REMOTE_LATE,
	MON_REMOTE_DUPLICATE,    /* its seq was had already: a batch sent again; not counted */
	MON_REMOTE_NO_CHECK,     /* no such check */
	MON_REMOTE_NOT_ASSIGNED, /* the check does not name this node: refused and logged */
	MON_REMOTE_BAD_META,     /* its location is another node's, or its seq is 0 */
};
const char *mon_remote_name(enum mon_remote rc);

/*
 * A result node sent (meta as it came: check, location, seq, digest),
 * inside a batch (monitor_node_batch() ... monitor_node_batch_end()).
 * Accepted results go through monitor_ingest() at location node. A
 * result is late when it is older than its check's staleness bound at
 * recv_ms, or when the node already sent a newer result of that check
 * (its seq is lower): stored, so history has no gap, but it no longer
 * moves a state or sends an alert (its moment has passed). A duplicate
 * is a seq the node sent before: nothing is done with it.
 */
enum mon_remote monitor_ingest_remote(struct monitor *mo, const char *node, const struct result *r,
                                      const struct result_meta *m, int64_t recv_ms);

enum mon_node_state {
	MON_NODE_PENDING, /* configured, never heard from since start */
	MON_NODE_OK,
	MON_NODE_IMPAIRED, /* its canary fails, or it alone sees most checks down: does not count */
	MON_NODE_LOST,     /* missed its heartbeats: does not count */
};
const char *mon_node_state_name(enum mon_node_state s);

struct mon_node_info {
	const char *name;
	const char *region; /* NULL: none */
	enum mon_node_state state;
	const char *why; /* of impaired or lost, "" otherwise */
	int64_t state_since_ms;
	int64_t last_heartbeat_ms; /* controller's clock; 0: never */
	const struct node_heartbeat
	    *hb; /* the last heartbeat (version, spool, canaries); NULL: none */
	int64_t skew_ms;
	int skew_flagged; /* |skew| over MON_SKEW_MAX_MS */
	unsigned checks_assigned;
	uint64_t batches, results_accepted, results_late, results_duplicate, results_refused;
	int64_t last_batch_ms;
};
/* Clock skew over this is flagged: a node's timestamps then mislead history. */
#define MON_SKEW_MAX_MS 5000

/*
 * A heartbeat from node (known to the configuration; the caller checked
 * its token) received at recv_ms: its health, skew and canaries; *reply is
 * filled with the node's assignment etag and the skew. -1 when no such node.
 */
int monitor_node_heartbeat(struct monitor *mo, const char *node, const struct node_heartbeat *hb,
                           int64_t recv_ms, struct node_heartbeat_reply *reply);
/*
 * A batch head from node: counts it, measures skew from h->sent_ms, and
 * returns 1 when this batch id was had already (sent again after a lost
 * reply: the caller answers as before, nothing is ingested), else 0; -1
 * when no such node. *reply gets the id, etag and skew.
 */
int monitor_node_batch(struct monitor *mo, const char *node, const struct node_batch_head *h,
                       int64_t recv_ms, struct node_batch_reply *reply);
/*
 * The batch monitor_node_batch() began was read whole: what it gave
 * counts as had from now on, and what is queued for the store is written
 * before the caller answers, so that an acknowledged result is on disk.
 * When writing fails already, the rows stay queued (the tick retries and
 * reports) and the batch is still acknowledged: its results moved states
 * and alerts, and a node kept waiting would make its locations unknown.
 * fn(arg) says when to answer: maybe before this returns (SQLite writes at
 * once), maybe later from the loop (PostgreSQL).
 */
/*
 * 1 while this controller is the active one among those sharing its store
 * (store_lead()): always with SQLite. A controller standing by probes
 * nothing, sends nothing, and turns nodes away (503) to the active one;
 * its dashboard and API read the store the active one writes.
 */
int monitor_active(const struct monitor *mo);
void monitor_node_batch_end(struct monitor *mo, const char *node, void (*fn)(void *arg), void *arg);
/* The assignments of node now: its etag (into etag) and, when doc, the document (malloc'ed). */
int monitor_node_assignments(struct monitor *mo, const char *node, char etag[NODE_ID_MAX],
                             char **doc);
typedef void (*mon_node_cb)(const struct mon_node_info *ni, void *arg);
/* Every configured node, in the order of the configuration. */
void monitor_each_node(struct monitor *mo, mon_node_cb cb, void *arg);

struct conf *monitor_conf(struct monitor *mo);
struct store *monitor_store(struct monitor *mo);

#endif
