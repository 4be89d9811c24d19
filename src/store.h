/*
 * store.h - the history store: SQLite in WAL mode, the embedded default.
 *
 * Writers queue rows in memory (never touching the disk on the caller's
 * path); store_flush() writes everything queued in one transaction. The
 * daemon flushes once a second and on a clean stop, so after kill -9 at
 * most the last second of rows is missing, and the database always opens
 * clean (SQLite's journal). Readers (the CLI, the API) use the store_q_*
 * functions, which return jansson values.
 *
 * A struct store is created by store_open() and freed by store_close(),
 * which flushes first. Not thread-safe: one event loop uses it.
 */
#ifndef MP_STORE_H
#define MP_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "result.h"

struct store;

/* Open (creating when absent) and migrate to the current schema. */
int store_open(struct store **out, const char *path, char *err, size_t errlen);
/*
 * Open an existing store for reading only (the report commands): nothing
 * is created, migrated or switched to WAL, so a user who may read the file
 * but not write it can still run `mailpulse status`. Writes fail (EROFS).
 */
int store_open_readonly(struct store **out, const char *path, char *err, size_t errlen);
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
int store_add_result(struct store *s, const char *check, const char *location, int64_t wall_ms,
                     const struct result *r);

/* A state change of a check (up/degraded/down), with the reason and message that caused it. */
int store_add_transition(struct store *s, const char *check, int64_t wall_ms, enum mp_status from,
                         enum mp_status to, enum mp_reason why, const char *message);

/* Open an incident for check (it went down); closed by store_incident_close(). */
int store_incident_open(struct store *s, const char *check, int64_t wall_ms, enum mp_reason why,
                        const char *message);
int store_incident_close(struct store *s, const char *check, int64_t wall_ms);

/* One notification attempt and its outcome. */
int store_add_delivery(struct store *s, const char *check, const char *channel, const char *event,
                       int attempt, int ok, const char *detail, int64_t wall_ms);

/* Write everything queued in one transaction. Returns rows written, or -1 (rows stay queued). */
int store_flush(struct store *s);
/* Rows waiting to be written. */
int store_queued(const struct store *s);
/* What the last failed store_flush(), store_retention() or store_load_states() met, for logs. */
const char *store_errmsg(const struct store *s);

/*
 * Fold raw results older than raw_days into hourly roll-ups (count, up
 * count, min/avg/p95/max time to greeting), then delete raw results older
 * than raw_days and roll-ups older than rollup_days. Bounded work per call:
 * returns the raw rows folded (call again soon while that is positive),
 * or -1.
 */
int store_retention(struct store *s, int64_t now_ms, unsigned raw_days, unsigned rollup_days);

/* The last known state of every check, for a restart to resume from. */
struct store_state {
	char check[65];
	enum mp_status status;
	enum mp_reason reason;
	int64_t since_ms;
	int incident_open;
};
typedef void (*store_state_cb)(const struct store_state *st, void *arg);
/* Flushes first, then calls cb once per check that has a transition. Returns 0 or -1. */
int store_load_states(struct store *s, store_state_cb cb, void *arg);

/*
 * Reads. Each returns a new reference (the caller decrefs) or NULL with
 * err filled (errno ENOENT when the named check is not in the store).
 * since_ms/until_ms bound time as [since, until), until_ms <= 0 meaning
 * no bound; limit bounds rows (<= 10000; <= 0 means 10000). check NULL
 * in incidents and deliveries means every check. Rows written but still
 * queued are not seen.
 */
/*
 * Times are given twice, "time": ISO 8601 UTC and "ts_ms": unix ms; greeting
 * and phase times in ms as output_json() prints them; null for absent.
 * status: {"time", "checks": [{"check", "state", "state_since(_ms)",
 *   "state_reason", "state_message", "last": {time, ts_ms, location,
 *   status, reason, message, time_to_greeting_ms} | null, "incident":
 *   {as in incidents} | null}]}, state null when no transition was recorded.
 * history: {"check", "since", "until", "results": [{time, ts_ms, location,
 *   status, reason, message, address, time_to_greeting_ms, timings_ms{},
 *   tls: {version, days_left, not_after, subject, issuer, sha256} | null,
 *   messages}]}, newest first.
 * incidents: {"check", "since", "incidents": [{id, check, open, start(_ms),
 *   end(_ms), duration_ms (so far, when open), reason, message}]}, newest first.
 * deliveries: {"check", "deliveries": [{time, ts_ms, check, channel, event,
 *   attempt, ok, detail}]}, newest first.
 */
json_t *store_q_status(struct store *s, char *err, size_t errlen);
json_t *store_q_history(struct store *s, const char *check, int64_t since_ms, int64_t until_ms,
                        int limit, char *err, size_t errlen);
/* {"check", "since", "until", "probes", "up", "uptime_pct", "from_rollups"} */
json_t *store_q_uptime(struct store *s, const char *check, int64_t since_ms, int64_t until_ms,
                       char *err, size_t errlen);
json_t *store_q_incidents(struct store *s, const char *check, int64_t since_ms, int limit,
                          char *err, size_t errlen);
json_t *store_q_deliveries(struct store *s, const char *check, int limit, char *err, size_t errlen);

#endif
