/* SPDX-License-Identifier: ISC */
/*
 * store.h - the history store: an interface with typed rows, and the
 * backends behind it (SQLite in WAL mode, the embedded default; PostgreSQL
 * for installations beyond one machine). The store: value names the
 * backend (store_open()).
 *
 * Writers queue rows in memory (never touching the disk on the caller's
 * path); store_flush() writes everything queued in one transaction. The
 * daemon flushes once a second and on a clean stop, so after kill -9 at
 * most the last second of rows is missing, and the store always opens
 * clean. Readers (the CLI, the API) use the store_read_*() functions,
 * which hand typed rows to a completion callback; store/rows_json.h turns
 * those rows into the JSON of the API and the report commands, and the
 * store_q_*() functions below do both for a caller that wants JSON now.
 *
 * A struct store is created by store_open() and freed by store_close(),
 * which flushes first. Not thread-safe: one thread uses a struct store;
 * another thread opens its own (store_open_readonly()), which WAL lets
 * read while the daemon writes.
 *
 * SQLite: one writer per store: store_open() holds flock() on PATH.lock
 * (which holds the writer's PID) until store_close() or the process dies.
 * Readers (store_open_readonly()) take no lock and work beside it.
 */
#ifndef MP_STORE_H
#define MP_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

struct store;

#define STORE_MUST_USE __attribute__((warn_unused_result))

/*
 * spec is the store: value: "sqlite:PATH" or a plain PATH is SQLite;
 * "postgresql://..." and "postgres://..." (or libpq's URI with any of its
 * parameters) is PostgreSQL; any other "scheme://" is refused (-1, errno
 * ENOTSUP, err "store: unknown backend ...").
 *
 * Open (creating when absent) and migrate to the current schema. SQLite
 * takes the writer's lock first: -1 with errno EBUSY and err "store PATH
 * is in use by mailpulse run (pid N): ..." while another process writes
 * it (the daemon is the only writer mailpulse has, hence the wording).
 * PostgreSQL connects, bounded by connect_timeout (10 s unless the URI
 * says), and refuses a server older than 13 or a schema newer than this
 * build, each by name; the URI is shown as user@host:port/db, never with
 * its password.
 */
STORE_MUST_USE int store_open(struct store **out, const char *spec, char *err, size_t errlen);
/*
 * The file a store: value names (SQLite: the path, "sqlite:" left out),
 * pointing into spec; NULL when it names no file (a server).
 */
const char *store_spec_file(const char *spec);
/*
 * Open an existing store for reading only (the report commands): nothing
 * is created, migrated or switched to WAL, so a user who may read the file
 * but not write it can still run `mailpulse status`. Writes fail (EROFS).
 */
STORE_MUST_USE int store_open_readonly(struct store **out, const char *spec, char *err,
                                       size_t errlen);
/*
 * store_open() or store_open_readonly() with the password in secret_file
 * (its first line; the store: map's password_file), so that it is in no
 * URI, no process list and no configuration dump. NULL: none.
 */
STORE_MUST_USE int store_open_secret(struct store **out, const char *spec, const char *secret_file,
                                     int readonly, char *err, size_t errlen);
/*
 * From now on the store runs on base and never blocks it: a backend on a
 * server (PostgreSQL) sends its statements from the loop, reads answer
 * from the loop, a lost server is connected again from the loop. SQLite
 * has nothing to do. Before this, and without it, every call completes
 * before it returns. -1 when out of memory.
 */
struct event_base;
STORE_MUST_USE int store_attach(struct store *s, struct event_base *base);
/*
 * Several controllers may share a store on a server (PostgreSQL); one at a
 * time is active: it probes, judges and notifies; the others stand by.
 * store_lead() asks for the lead, and fn(role, why, arg) tells when this
 * controller becomes active, and when it stops being so (why: in words,
 * for the log): at once when it can be (a controller alone starts
 * active), then on each change, from the loop. The active one holds a
 * lock in its database session. STORE_LOST: that session failed, or
 * answered nothing for a few seconds, so the lock may be free for another
 * controller now or soon (the server frees it later than this is said);
 * whether this one gets it back or another has it is said once connected
 * again (STORE_ACTIVE, STORE_STANDBY). A store of one writer (SQLite) is
 * active at once, for good. After store_attach(); -1 when out of memory.
 */
enum store_role { STORE_ACTIVE, STORE_STANDBY, STORE_LOST };
typedef void (*store_role_fn)(enum store_role role, const char *why, void *arg);
STORE_MUST_USE int store_lead(struct store *s, store_role_fn fn, void *arg);
/*
 * Claim the sending of one notification, named by key (the same on every
 * controller: its kind, its incident or state, its channel), for
 * controller (a name for the log and the row): cb(1, arg) when this one
 * sends it; cb(0, arg) when another sent it, or is sending it; a claim
 * whose end never came (its controller died while sending) passes to the
 * one asking now, and so does a store that cannot answer (1): a
 * notification twice is better than none. Maybe before it returns.
 * store_claim_done() records how it ended. A store of one writer claims
 * nothing: cb(1) at once.
 */
typedef void (*store_claim_fn)(int granted, void *arg);
void store_claim(struct store *s, const char *key, const char *controller, int64_t now_ms,
                 store_claim_fn cb, void *arg);
void store_claim_done(struct store *s, const char *key, int ok, int64_t now_ms);
/* Whether the store keeps claims (several controllers may share it). */
int store_has_claims(const struct store *s);
/* Flush what is queued, then close. */
void store_close(struct store *s);

/* The schema version this build writes; migrations bring older files up to it. */
int store_schema_version(void);

/* Rows the queue holds at most; past it store_add_*() return -1 (errno ENOBUFS). */
#define STORE_QUEUE_MAX 50000

/*
 * Queue one probe result of check at wall-clock time wall_ms (unix ms)
 * from location. Copies what it needs. Returns 0, or -1 when the queue is
 * full (the caller should flush; rows are never silently dropped).
 * Every store_add_*() and store_incident_*() also return -1 with errno
 * EINVAL for a check name that is empty or over 64 bytes, ENOMEM when out
 * of memory.
 */
STORE_MUST_USE int store_add_result(struct store *s, const char *check, const char *location,
                                    int64_t wall_ms, const struct result *r);
/*
 * The same with flags: STORE_R_MAINTENANCE marks a result taken inside a
 * maintenance window of its check. Uptime leaves such results out of both
 * probes and up and counts them apart (maintenance_probes); the mark is
 * kept in roll-ups too, so it holds after the window leaves the file.
 */
#define STORE_R_MAINTENANCE 1u
/*
 * How the result counts for uptime when its check has several locations
 * (issue 12: downtime is counted from the check's overall state, not from
 * one location's trouble). The monitor sets one from the check's verdict
 * at the moment the result was ingested:
 *   STORE_R_COUNT_UP    the verdict was up, degraded or partial: users could connect;
 *   STORE_R_COUNT_DOWN  the verdict was down;
 *   STORE_R_UNCOUNTED   no verdict (pending, unknown), a late result, or one from a
 *                       location that did not count (a node impaired or lost): the
 *                       other locations' rows stand for its moment.
 * None of them: the result counts by its own status (up or degraded is up),
 * as every result of a single-location check always has. An uncounted
 * result is in neither probes, up nor maintenance_probes. More than one of
 * them, or a flag this build does not know: -1 with errno EINVAL.
 */
#define STORE_R_COUNT_UP   2u
#define STORE_R_COUNT_DOWN 4u
#define STORE_R_UNCOUNTED  8u
STORE_MUST_USE int store_add_result_flags(struct store *s, const char *check, const char *location,
                                          int64_t wall_ms, const struct result *r, unsigned flags);

/*
 * A state change of a check (up/degraded/down, and its severity), with the
 * reason and message that caused it. wall_ms is when the new state began.
 */
STORE_MUST_USE int store_add_transition(struct store *s, const char *check, int64_t wall_ms,
                                        enum mp_status from, enum mp_status to,
                                        enum mp_severity to_sev, enum mp_reason why,
                                        const char *message);

/* Open an incident for check (it went down); closed by store_incident_close(). */
STORE_MUST_USE int store_incident_open(struct store *s, const char *check, int64_t wall_ms,
                                       enum mp_reason why, const char *message);
STORE_MUST_USE int store_incident_close(struct store *s, const char *check, int64_t wall_ms);
/* The same with why it closed, kept as close_reason; store_incident_close() says this: */
#define STORE_CLOSED_RECOVERED "recovered"
STORE_MUST_USE int store_incident_close_why(struct store *s, const char *check, int64_t wall_ms,
                                            const char *why);

/*
 * check left the configuration at wall_ms: its open incident is closed
 * with the reason why, its state goes back to pending (a transition to
 * unknown, so nothing resumes it), and it is marked removed: status no
 * longer lists it as current. Its history stays. A check the store never
 * saw is left alone. store_check_present() clears the mark when a check
 * of that name is configured again.
 */
#define STORE_REMOVED_REASON "check removed from the configuration"
STORE_MUST_USE int store_check_retire(struct store *s, const char *check, int64_t wall_ms,
                                      const char *why);
STORE_MUST_USE int store_check_present(struct store *s, const char *check);

/*
 * The alert of check open at the receivers (PagerDuty keeps it until a
 * resolve names its key), as the monitor last told it: key_ms names its
 * key (0: none open), sup_ms one it superseded that stays open until the
 * new alert is delivered (0: none), each with the reason that routed it.
 * Kept in the meta table (no schema change), read by store_load_states(),
 * so that a restart resolves what is open, not what it guesses.
 */
STORE_MUST_USE int store_set_alert(struct store *s, const char *check, int64_t key_ms,
                                   enum mp_reason key_reason, int64_t sup_ms,
                                   enum mp_reason sup_reason);

/* One notification attempt and its outcome. */
STORE_MUST_USE int store_add_delivery(struct store *s, const char *check, const char *channel,
                                      const char *event, int attempt, int ok, const char *detail,
                                      int64_t wall_ms);

/*
 * Write everything queued in one transaction, waiting for it (after a
 * flush in flight, which ends first). Returns rows written, or -1 (rows
 * stay queued). On a store attached to a loop this blocks it: for the
 * start, the stop and the tests; the daemon's loop uses store_flush_start().
 */
STORE_MUST_USE int store_flush(struct store *s);
/*
 * Write everything queued from the loop, and call done(rows written, or
 * -1, arg) when it is written or not (store_errmsg() then says why): maybe
 * before this returns (SQLite, or a store not attached, writes at once).
 * Rows queued meanwhile wait for the next flush; rows of a failed one go
 * back to the head of the queue. -1 (EBUSY) while one is in flight.
 */
typedef void (*store_flushed_fn)(int rc, void *arg);
STORE_MUST_USE int store_flush_start(struct store *s, store_flushed_fn done, void *arg);
/* Reads answer from the loop, after store_read_*() returned (PostgreSQL, attached). */
int store_answers_later(const struct store *s);
/* A store_flush_start() has not ended yet. */
int store_flushing(const struct store *s);
/* Rows waiting to be written, those of a flush in flight included. */
int store_queued(const struct store *s);
/* What it was opened with: the store: value as given. */
const char *store_pathname(const struct store *s);
/* Drop every queued row (a writer giving up at exit). Returns how many. */
int store_discard(struct store *s);
/*
 * What the last failed store_flush(), store_retention() or store_load_states() met, for logs:
 * "store PATH: what it did: SQLite's message (SQLITE_EXTENDED_CODE)".
 */
const char *store_errmsg(const struct store *s);

/*
 * Whether the store's path still names the file it has open: one stat(),
 * cheap enough for every flush. SQLite goes on writing to a file that was
 * deleted or replaced, where nobody will read it; this is how to notice.
 */
enum store_file {
	STORE_FILE_OK,
	STORE_FILE_DELETED,  /* nothing at the path: deleted, or moved away */
	STORE_FILE_REPLACED, /* another file at the path */
	STORE_FILE_CLOSED    /* no file open: a store_reopen() failed; store_errmsg() says why */
};
enum store_file store_file_check(struct store *s);
/*
 * Let go of the file open now and open the one at the path, as
 * store_open() would: created when absent, refused when not a store or
 * newer. The old file's WAL is emptied into it first (a file moved away is
 * complete on its own), and WAL files left beside an empty path are
 * removed, so nothing of the old file is applied to the new one. Queued
 * rows stay queued. Returns 1 when a new, empty store was created, 0 when
 * an existing store was opened, -1 with err when none could be: then
 * either the old file stays open (its WAL could not be emptied; try
 * again) or nothing is (STORE_FILE_CLOSED: flushes and reads fail, rows
 * stay queued; try again).
 */
STORE_MUST_USE int store_reopen(struct store *s, char *err, size_t errlen);

/*
 * Fold raw results older than raw_days into hourly roll-ups (count, up
 * count and min/avg/p95/max time to greeting, each result by its own
 * status; apart from them the counts uptime reads, STORE_R_COUNT_*
 * applied), then delete raw results older than raw_days and roll-ups
 * older than rollup_days. Bounded work per call: returns the raw rows
 * folded (call again soon while that is positive), or -1.
 */
STORE_MUST_USE int store_retention(struct store *s, int64_t now_ms, unsigned raw_days,
                                   unsigned rollup_days);

/* The last known state of every check, for a restart to resume from. */
struct store_state {
	char check[65];
	enum mp_status status;
	enum mp_severity severity;
	enum mp_reason reason;
	int64_t since_ms;
	int incident_open;
	int64_t incident_start_ms; /* of the open incident */
	/* store_set_alert()'s last word; alert_known 0: none (a file written before it). */
	int alert_known;
	int64_t alert_key_ms, alert_sup_ms;
	enum mp_reason alert_reason, alert_sup_reason;
};
typedef void (*store_state_cb)(const struct store_state *st, void *arg);
/* Flushes first, then calls cb once per check that has a transition. Returns 0 or -1. */
STORE_MUST_USE int store_load_states(struct store *s, store_state_cb cb, void *arg);

/* Flushes first, then calls cb once per check in the store, removed (1) or not. 0 or -1. */
typedef void (*store_check_cb)(const char *check, int removed, void *arg);
STORE_MUST_USE int store_each_check(struct store *s, store_check_cb cb, void *arg);

/*
 * Typed reads. Each takes a query and a completion callback, and calls the
 * callback exactly once: with the rows (error 0), or with no rows, error
 * an errno value and err a message (ENOENT when the named check is not in
 * the store, EINVAL for a query out of bounds, EIO for the backend's
 * failure, ENOMEM). The rows and their strings belong to the store and
 * live until the callback returns: copy what you keep. SQLite calls the
 * callback before store_read_*() returns; a network backend calls it
 * later, from the event loop, so a caller must not assume either.
 *
 * Times are unix ms, durations us; STORE_NONE is an absent number. Rows
 * written but still queued are not seen.
 */
#define STORE_NONE INT64_MIN

struct store_query {
	const char *check;          /* NULL in incidents and deliveries: every check */
	int64_t since_ms, until_ms; /* [since, until); until_ms <= 0: no bound */
	int limit;                  /* rows, <= 10000; <= 0 means 10000 */
	int64_t bucket_ms;          /* series only */
};

/* How a stored result counts for uptime: the STORE_R_COUNT_* flag it was written with. */
enum store_counts_as {
	STORE_COUNTS_BY_STATUS, /* none: its own status (one location; or before schema 5) */
	STORE_COUNTS_UP,
	STORE_COUNTS_DOWN,
	STORE_COUNTS_NOT,
};

/* One probe result. status and severity as the store holds them (enum values). */
struct store_result_row {
	int64_t ts_ms;
	const char *location, *reason, *message;
	const char *address; /* NULL: none */
	int status, severity;
	int64_t ttg_us;
	int64_t phase_us[MP_PH__COUNT];
	const char *tls_version; /* NULL: no TLS (the rest of tls is absent too) */
	/*
	 * Unix seconds. cert_not_after is the leaf's (the column's name is
	 * older than docs/json.md's meanings); first_not_after the chain's
	 * certificate that expires first, which cert_days_left counts to
	 * (STORE_NONE in rows written before schema version 4).
	 */
	int64_t cert_days_left, cert_not_after, first_not_after;
	const char *cert_subject, *cert_issuer, *cert_sha256;
	int64_t messages;
	int maintenance;
	int counts_as;        /* enum store_counts_as: how it counts for uptime */
	const char *warnings; /* one per line; NULL: none */
	const char *path;     /* how far the probe got; NULL: none, or before schema version 4 */
};

struct store_incident_row {
	int64_t id;
	const char *check;
	int64_t start_ms, end_ms; /* end_ms STORE_NONE: open */
	int64_t duration_ms;      /* as stored; STORE_NONE while open */
	const char *reason, *message;
	const char *close_reason; /* NULL: open, or closed by a version before v3 */
};

struct store_delivery_row {
	int64_t ts_ms;
	const char *check; /* NULL: not about one check */
	const char *channel, *event, *detail;
	int64_t attempt;
	int ok;
};

/*
 * What store_read_uptime() counts; counts leave out maintenance and the
 * results that do not count (see store_q_uptime()).
 */
struct store_uptime_row {
	const char *check;
	int64_t since_ms, until_ms; /* until_ms STORE_NONE: no bound */
	int64_t probes, up, maint;
	int from_rollups;
};

struct store_reason_count {
	const char *reason;
	int64_t n;
};

/* One bucket of a series; times in us, STORE_NONE when it holds none. */
struct store_bucket_row {
	int64_t start_ms;
	int64_t count, up;
	int64_t min_us, avg_us, p95_us, max_us;
	int from_rollups;
	const struct store_reason_count *reasons; /* raw failures, first seen first */
	size_t nreasons;
};

struct store_series_rows {
	const char *check;
	int64_t since_ms, until_ms, bucket_ms;  /* since_ms moved back to its bucket's start */
	const struct store_bucket_row *buckets; /* the oldest first, only those with probes */
	size_t n;
};

/* The current state of one check, from its last transition, result and open incident. */
struct store_state_row {
	const char *check;
	int has_state; /* 0: no transition recorded; the state_* fields are absent */
	int state, state_severity;
	int64_t state_since_ms;
	const char *state_reason, *state_message;
	/* Of last: ts_ms, location, status, reason, message, ttg_us, severity, warnings. */
	const struct store_result_row *last;       /* NULL: none */
	const struct store_incident_row *incident; /* NULL: none open */
};

struct store_channel_row {
	const char *channel;
	int64_t last_ms;
	int last_ok;
	const char *last_detail, *last_event, *last_check;
	int64_t failures_24h, attempts_24h;
};

struct store_removed_row {
	const char *check;
	int64_t removed_ms;
};

struct store_status_rows {
	int64_t now_ms;
	const struct store_state_row *checks; /* by name; removed checks left out */
	size_t nchecks;
	const struct store_channel_row *channels; /* by name */
	size_t nchannels;
	const struct store_removed_row *removed; /* newest first */
	size_t nremoved;
};

typedef void (*store_results_cb)(const struct store_result_row *rows, size_t n, int error,
                                 const char *err, void *arg);
typedef void (*store_uptime_cb)(const struct store_uptime_row *row, int error, const char *err,
                                void *arg);
typedef void (*store_series_cb)(const struct store_series_rows *rows, int error, const char *err,
                                void *arg);
typedef void (*store_incidents_cb)(const struct store_incident_row *rows, size_t n, int64_t now_ms,
                                   int error, const char *err, void *arg);
typedef void (*store_deliveries_cb)(const struct store_delivery_row *rows, size_t n, int error,
                                    const char *err, void *arg);
typedef void (*store_status_cb)(const struct store_status_rows *rows, int error, const char *err,
                                void *arg);

/* check's results of [since, until), newest first, at most limit. */
void store_read_history(struct store *s, const struct store_query *q, store_results_cb cb,
                        void *arg);
/* check's uptime counts over [since, until) (see store_q_uptime()). */
void store_read_uptime(struct store *s, const struct store_query *q, store_uptime_cb cb, void *arg);
/* check's buckets of bucket_ms over [since, until) (see store_q_series()). */
void store_read_series(struct store *s, const struct store_query *q, store_series_cb cb, void *arg);
/* Incidents open at some point in [since, now], newest first; check NULL: all. */
void store_read_incidents(struct store *s, const struct store_query *q, store_incidents_cb cb,
                          void *arg);
/* Notification attempts, newest first; check NULL: all. */
void store_read_deliveries(struct store *s, const struct store_query *q, store_deliveries_cb cb,
                           void *arg);
/* Every current check's state, the channels, the removed checks. */
void store_read_status(struct store *s, store_status_cb cb, void *arg);

/*
 * The same reads as JSON (store/rows_json.c), for a caller that needs the
 * answer now. Each returns a new reference (the caller decrefs) or NULL
 * with err filled (errno as above). They complete only with a backend that
 * answers before returning (SQLite, or PostgreSQL not attached); on one
 * that answers later (store_answers_later()) they fail at once with errno
 * EWOULDBLOCK, reading nothing: use store_read_*() there.
 */
/*
 * Times are given twice, "time": ISO 8601 UTC and "ts_ms": unix ms; greeting
 * and phase times in ms as output_json() prints them; null for absent.
 * status: {"time", "checks": [{"check", "state", "state_since(_ms)",
 *   "state_reason", "state_message", "last": {time, ts_ms, location,
 *   status, reason, message, time_to_greeting_ms} | null, "incident":
 *   {as in incidents} | null}], "channels": [...], "removed": [{"check",
 *   "removed(_ms)"}]}, state null when no transition was recorded; a check
 *   that left the configuration is in "removed", not in "checks".
 * history: {"check", "since", "until", "results": [{time, ts_ms, location,
 *   status, reason, message, address, time_to_greeting_ms, timings_ms{},
 *   tls: {version, days_left, not_after, subject, issuer, sha256,
 *   cert_not_after, leaf_not_after} | null, messages, maintenance, severity,
 *   warnings, path, counts_as}]}, newest first; the names mean what
 *   docs/json.md says; counts_as is "up", "down" or "not_counted" as the
 *   result counted for uptime (STORE_R_COUNT_*), null when by its own status.
 * incidents: {"check", "since", "incidents": [{id, check, open, start(_ms),
 *   end(_ms), duration_ms (so far, when open), reason, message, close_reason
 *   ("recovered", STORE_REMOVED_REASON...; null when open or closed by an
 *   older version)}]}, newest first.
 * deliveries: {"check", "deliveries": [{time, ts_ms, check, channel, event,
 *   attempt, ok, detail}]}, newest first.
 */
json_t *store_q_status(struct store *s, char *err, size_t errlen);
json_t *store_q_history(struct store *s, const char *check, int64_t since_ms, int64_t until_ms,
                        int limit, char *err, size_t errlen);
/*
 * {"check", "since", "until", "probes", "up", "uptime_pct", "from_rollups",
 *  "maintenance_probes", "maintenance_pct"}: probes and up leave out the
 * results taken inside maintenance windows; maintenance_probes counts
 * those, maintenance_pct is their share of all probes of the period. Each
 * result counts as it was written (STORE_R_COUNT_*): by the check's verdict
 * for a check with several locations, so one location's trouble is not
 * downtime; by its own status otherwise; an uncounted one not at all.
 */
json_t *store_q_uptime(struct store *s, const char *check, int64_t since_ms, int64_t until_ms,
                       char *err, size_t errlen);
/*
 * The batched read: uptime counts of every check in the store over
 * consecutive ranges (all windows at once), in one call, for readers that
 * need the figures of all checks (src/http/upcache.c), never one query per
 * check. bounds holds nb ascending times, range i being [bounds[i],
 * bounds[i + 1]); the last may be INT64_MAX. Counted as store_q_uptime()
 * counts: probes and up leave out results taken in a maintenance window,
 * maint counts those, uncounted results are in none; raw results by their time; a roll-up whole, in
 * the range its hour starts in (the first range when it starts before bounds[0]). cb is called once
 * per check with anything in any range, counts[0 .. nb - 2] in the order of the ranges, before this
 * returns. A span under 6 h is read through the index (O(its rows)), a longer one in one pass over
 * the table (O(rows in the store)): seconds on a large store, so it belongs on a thread of its own
 * (the API's cache); only the API's fallback without that thread runs it on the loop, a lesser evil
 * than a query per check. -1 (errno EINVAL) when nb is not 2 to
 * STORE_COUNTS_MAX + 1 or bounds are out of order.
 */
#define STORE_COUNTS_MAX 8
struct store_counts {
	int64_t probes, up, maint;
};
typedef void (*store_counts_cb)(int64_t id, const char *check, const struct store_counts *counts,
                                int n, void *arg);
STORE_MUST_USE int store_q_counts(struct store *s, const int64_t *bounds, int nb,
                                  store_counts_cb cb, void *arg, char *err, size_t errlen);
/* Make a query running on s in another thread return soon, with an error. Thread-safe. */
void store_interrupt(struct store *s);

/* Buckets one series answer holds at most. */
#define STORE_SERIES_MAX 2000
/*
 * Probes of [since, until) in buckets of bucket_ms (a whole number of
 * hours), from raw results and hourly roll-ups alike, so a range that
 * crosses retention.raw_days has no gap: an hour is in exactly one of the
 * two. since_ms is moved back to the start of its bucket (multiples of
 * bucket_ms since the epoch: UTC hours, 6 h, days); a roll-up counts in
 * the bucket its hour starts in. -1 with errno EINVAL when bucket_ms is
 * not whole hours, until_ms <= since_ms or more than STORE_SERIES_MAX
 * buckets would be needed. O(raw rows in the range), one pass in time order.
 * {"check", "since", "since_ms", "until", "until_ms", "bucket_ms",
 *  "buckets": [{time, ts_ms, count, up_count, min_ttg_ms, avg_ttg_ms,
 *  p95_ttg_ms, max_ttg_ms, from_rollups, reasons: {reason: n}}]}, the
 * oldest first, only buckets that hold probes. Time to greeting only
 * (roll-ups keep no phases); p95 across roll-ups is the largest hourly
 * one (an upper bound); reasons count raw failures (roll-ups keep none).
 */
json_t *store_q_series(struct store *s, const char *check, int64_t since_ms, int64_t until_ms,
                       int64_t bucket_ms, char *err, size_t errlen);
json_t *store_q_incidents(struct store *s, const char *check, int64_t since_ms, int limit,
                          char *err, size_t errlen);
json_t *store_q_deliveries(struct store *s, const char *check, int limit, char *err, size_t errlen);

#endif
