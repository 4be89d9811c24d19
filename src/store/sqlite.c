/* SPDX-License-Identifier: ISC */
/*
 * sqlite.c - the SQLite backend of the store (backend.h): schema and
 * migrations, a batch of queued rows written in one transaction with
 * statements prepared once at open, hourly roll-ups for retention, and the
 * read queries, answered as typed rows before the read returns. The SQLite
 * dialect (rowid, two-argument min()/max(), BEGIN IMMEDIATE,
 * last_insert_rowid) stays in this file.
 *
 * A flush that fails rolls back, so the queue (store.c) keeps every row.
 *
 * A writer holds flock() on PATH.lock for as long as the store is open, so
 * two daemons never write one store; the lock dies with its process. The
 * writer also remembers which file it opened, so a file deleted or
 * replaced under it is noticed (store_file_check()) and can be swapped
 * for the one now at the path (store_reopen()) without losing the queue.
 *
 * Only what struct result holds is written, and a result holds no
 * credentials: the check's password never reaches this file.
 */
#include "store/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/line.h"
#include "store/rollup.h"

#define HOUR_MS      ROLLUP_HOUR_MS
#define DAY_MS       (24 * HOUR_MS)
#define NAME_MAX_LEN STORE_NAME_MAX
#define LIMIT_MAX    STORE_LIMIT_MAX
/*
 * Raw rows folded per store_retention() call. Whole hours are folded, so
 * one call may go past this by one check-hour (~120 rows at 30 s).
 * ~20 ms of work on a laptop: the event loop does not notice.
 */
#define RETENTION_ROWS 20000
/* Old roll-ups and deliveries deleted per call, for the same reason. */
#define RETENTION_DELETES 20000
/*
 * How long SQLite waits for a lock. Opening (and migrating) happens before
 * the event loop runs: wait. Writes then run on the loop, where in WAL mode
 * readers never block the writer, only another writer does, and waiting
 * for one blocks every probe: fail fast, rows stay queued, the next flush
 * tries again.
 */
#define BUSY_OPEN_MS  2000
#define BUSY_WRITE_MS 100

/* "Up" for uptime means the server answered: degraded counts, unknown does not. */
_Static_assert(MP_UP == 0 && MP_DEGRADED == 1, "the SQL below tests status IN (0, 1)");
_Static_assert(MP_PH__COUNT == 9, "results has one column per phase");
_Static_assert(MP_UNKNOWN == 3 && MP_SEV_UNKNOWN == 3, "a removed check's transition is to 3, 3");

/* ---- schema ---- */

static const char schema_v1[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE checks (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n"
    "CREATE TABLE results (\n"
    "  check_id INTEGER NOT NULL REFERENCES checks(id),\n"
    "  ts_ms INTEGER NOT NULL,          -- unix ms\n"
    "  location TEXT NOT NULL,\n"
    "  status INTEGER NOT NULL,         -- enum mp_status\n"
    "  reason TEXT NOT NULL,            -- result_reason_name()\n"
    "  message TEXT NOT NULL,\n"
    "  address TEXT,\n"
    "  ttg_us INTEGER,                  -- NULL: phase not reached\n"
    "  dns_us INTEGER, connect_us INTEGER, tls_us INTEGER, greeting_us INTEGER,\n"
    "  capability_us INTEGER, starttls_us INTEGER, login_us INTEGER,\n"
    "  mailbox_us INTEGER, total_us INTEGER,\n"
    "  tls_version TEXT,                -- NULL: no TLS\n"
    "  cert_days_left INTEGER,          -- of the certificate that expires first\n"
    "  cert_not_after INTEGER,          -- leaf, unix seconds\n"
    "  cert_subject TEXT, cert_issuer TEXT, cert_sha256 TEXT,\n"
    "  messages INTEGER\n"
    ");\n"
    "CREATE INDEX results_check_ts ON results (check_id, ts_ms);\n"
    "CREATE TABLE transitions (\n"
    "  check_id INTEGER NOT NULL REFERENCES checks(id),\n"
    "  ts_ms INTEGER NOT NULL,\n"
    "  from_status INTEGER NOT NULL,\n"
    "  to_status INTEGER NOT NULL,\n"
    "  reason TEXT NOT NULL,\n"
    "  message TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX transitions_check_ts ON transitions (check_id, ts_ms);\n"
    "CREATE TABLE incidents (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  check_id INTEGER NOT NULL REFERENCES checks(id),\n"
    "  start_ms INTEGER NOT NULL,\n"
    "  end_ms INTEGER,                  -- NULL while open\n"
    "  reason TEXT NOT NULL,\n"
    "  message TEXT NOT NULL,\n"
    "  duration_ms INTEGER              -- set when closed\n"
    ");\n"
    "CREATE INDEX incidents_check_start ON incidents (check_id, start_ms);\n"
    "CREATE INDEX incidents_open ON incidents (check_id) WHERE end_ms IS NULL;\n"
    "CREATE TABLE deliveries (\n"
    "  check_id INTEGER REFERENCES checks(id),  -- NULL: not about one check\n"
    "  ts_ms INTEGER NOT NULL,\n"
    "  channel TEXT NOT NULL,\n"
    "  event TEXT NOT NULL,\n"
    "  attempt INTEGER NOT NULL,\n"
    "  ok INTEGER NOT NULL,\n"
    "  detail TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX deliveries_check_ts ON deliveries (check_id, ts_ms);\n"
    "CREATE INDEX deliveries_ts ON deliveries (ts_ms);\n"
    "CREATE TABLE rollups (\n"
    "  check_id INTEGER NOT NULL REFERENCES checks(id),\n"
    "  hour_ms INTEGER NOT NULL,        -- start of the UTC hour, unix ms\n"
    "  location TEXT NOT NULL,\n"
    "  count INTEGER NOT NULL,\n"
    "  up_count INTEGER NOT NULL,       -- up or degraded\n"
    "  min_ttg_us INTEGER, avg_ttg_us INTEGER, p95_ttg_us INTEGER, max_ttg_us INTEGER,\n"
    "  PRIMARY KEY (check_id, hour_ms, location)\n"
    ");\n"
    "CREATE INDEX rollups_hour ON rollups (hour_ms);\n";

/*
 * Severity beside status (issue: availability apart from what the admin is
 * told), and the findings of each result. Rows written before it: severity
 * follows status, except that a critical threshold (slow, cert_expiring)
 * used to make a result down although users could connect; those become
 * degraded and critical, so uptime no longer counts them as downtime, and
 * incidents they left open are closed now (they were never outages).
 */
static const char schema_v2[] =
    "ALTER TABLE results ADD COLUMN severity INTEGER;  -- enum mp_severity\n"
    "ALTER TABLE results ADD COLUMN warnings TEXT;     -- findings, one per line; NULL: none\n"
    "UPDATE results SET severity = CASE WHEN status = 2 AND reason IN ('slow', 'cert_expiring')"
    " THEN 2 ELSE status END;\n"
    "UPDATE results SET status = 1 WHERE status = 2 AND reason IN ('slow', 'cert_expiring');\n"
    "ALTER TABLE transitions ADD COLUMN to_severity INTEGER;\n"
    "UPDATE transitions SET to_severity = CASE WHEN to_status = 2 AND reason IN ('slow',"
    " 'cert_expiring') THEN 2 ELSE to_status END;\n"
    "UPDATE transitions SET to_status = 1 WHERE to_status = 2 AND reason IN ('slow',"
    " 'cert_expiring');\n"
    "UPDATE incidents SET end_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000,"
    " duration_ms = max(0, CAST(strftime('%s', 'now') AS INTEGER) * 1000 - start_ms)"
    " WHERE end_ms IS NULL AND reason IN ('slow', 'cert_expiring');\n";

/*
 * Maintenance and removed checks (issue 9, items 5 and 7). A result taken
 * inside a maintenance window of its check is flagged, and roll-ups count
 * those apart, so uptime leaves maintenance out even after the window is
 * deleted from the configuration. An incident says why it closed. A check
 * that left the configuration is marked, so `mailpulse status` no longer
 * shows it as current while its history stays readable.
 */
static const char schema_v3[] =
    "ALTER TABLE results ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;  -- 1: in a window\n"
    "ALTER TABLE rollups ADD COLUMN maint_count INTEGER NOT NULL DEFAULT 0;  -- of count\n"
    "ALTER TABLE rollups ADD COLUMN maint_up_count INTEGER NOT NULL DEFAULT 0;  -- of up_count\n"
    "ALTER TABLE incidents ADD COLUMN close_reason TEXT;  -- NULL: open, or closed before v3\n"
    "ALTER TABLE checks ADD COLUMN removed_ms INTEGER;  -- left the configuration; NULL: in it\n";

/*
 * One result format (issue 11): the history follows the wire's meanings
 * (docs/json.md, "cert_not_after and friends"). results.cert_not_after
 * has always held the leaf's date and keeps doing so (history's
 * tls.not_after and tls.leaf_not_after); first_not_after is the date of
 * the chain's certificate that expires first (tls.cert_not_after), the one
 * cert_days_left counts to; path is how far the probe got. Rows written
 * before have NULL in both: what was not kept is not made up.
 */
static const char schema_v4[] =
    "ALTER TABLE results ADD COLUMN path TEXT;  -- states entered, '>'-joined; NULL: none\n"
    "ALTER TABLE results ADD COLUMN first_not_after INTEGER;  -- first to expire, unix s\n";

/*
 * Uptime from the overall state (issue 12). A check probed from several
 * locations counts each result by the check's verdict when it came in,
 * not by its own status, so one location's trouble (partial, an impaired
 * node) is not downtime: counts_as is 1 (up, degraded or partial), 0
 * (down) or -1 (not counted: no verdict, a late result, a node that did
 * not count); NULL counts by status as before, which is what every
 * single-location result and every row written before keeps. Roll-ups
 * keep count and up_count by each result's own status (the series, each
 * location's view) and gain what uptime reads; an hour rolled up before
 * has those from its count and maintenance counts, as uptime read them.
 */
static const char schema_v5[] =
    "ALTER TABLE results ADD COLUMN counts_as INTEGER;  -- NULL: by status; 1, 0, -1\n"
    "ALTER TABLE rollups ADD COLUMN uptime_count INTEGER NOT NULL DEFAULT 0;"
    "  -- counted, outside maintenance\n"
    "ALTER TABLE rollups ADD COLUMN uptime_up INTEGER NOT NULL DEFAULT 0;  -- of uptime_count\n"
    "ALTER TABLE rollups ADD COLUMN uptime_maint INTEGER NOT NULL DEFAULT 0;"
    "  -- counted, inside maintenance\n"
    "UPDATE rollups SET uptime_count = count - maint_count,"
    " uptime_up = up_count - maint_up_count, uptime_maint = maint_count;\n";

/*
 * Applied in order, each inside the one transaction that also sets
 * meta.schema_version. Append; never edit a published entry.
 */
static const struct migration {
	int version;
	const char *sql;
} migrations[] = {
    {1, schema_v1}, /* the tables */
    {2, schema_v2}, /* severity beside status */
    {3, schema_v3}, /* maintenance, removed checks */
    {4, schema_v4}, /* the wire's certificate dates, path */
    {5, schema_v5}, /* uptime from the overall state */
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int store_schema_version(void)
{
	return migrations[NMIGRATIONS - 1].version;
}

/* Write statements, prepared once at open and reused by every flush. */
enum wstmt {
	W_BEGIN,
	W_COMMIT,
	W_ROLLBACK,
	W_CHECK_GET,
	W_CHECK_ADD,
	W_RESULT,
	W_TRANSITION,
	W_INCIDENT_OPEN,
	W_INCIDENT_CLOSE,
	W_DELIVERY,
	W_CHECK_IDS,
	W_OLDEST,
	W_HOUR_ROWS,
	W_ROLLUP,
	W_HOUR_DELETE,
	W_ROLLUP_EXPIRE,
	W_DELIVERY_EXPIRE,
	W_RETIRE_TRANSITION,
	W_RETIRE_CLOSE,
	W_RETIRE_MARK,
	W_PRESENT,
	W_ALERT,
	W__COUNT
};

static const char *const wsql[W__COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_CHECK_GET] = "SELECT id FROM checks WHERE name = ?1",
    [W_CHECK_ADD] = "INSERT INTO checks (name) VALUES (?1)",
    [W_RESULT] = "INSERT INTO results (check_id, ts_ms, location, status, reason, message,"
                 " address, ttg_us, dns_us, connect_us, tls_us, greeting_us, capability_us,"
                 " starttls_us, login_us, mailbox_us, total_us, tls_version, cert_days_left,"
                 " cert_not_after, cert_subject, cert_issuer, cert_sha256, messages, severity,"
                 " warnings, maintenance, path, first_not_after, counts_as)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                 " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)",
    [W_TRANSITION] = "INSERT INTO transitions (check_id, ts_ms, from_status, to_status, reason,"
                     " message, to_severity) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* A second open while one is open keeps the first: its cause is the one that counts. */
    [W_INCIDENT_OPEN] = "INSERT INTO incidents (check_id, start_ms, reason, message)"
                        " SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM incidents"
                        " WHERE check_id = ?1 AND end_ms IS NULL)",
    [W_INCIDENT_CLOSE] = "UPDATE incidents SET end_ms = ?2, duration_ms = max(0, ?2 - start_ms),"
                         " close_reason = ?3 WHERE check_id = ?1 AND end_ms IS NULL",
    [W_DELIVERY] = "INSERT INTO deliveries (check_id, ts_ms, channel, event, attempt, ok, detail)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [W_CHECK_IDS] = "SELECT id FROM checks ORDER BY id",
    [W_OLDEST] = "SELECT min(ts_ms) FROM results WHERE check_id = ?1 AND ts_ms < ?2",
    /* NULLs sort first, so each location's non-NULL times come out ascending for p95. */
    [W_HOUR_ROWS] = "SELECT location, status, ttg_us, maintenance, counts_as FROM results"
                    " WHERE check_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3"
                    " ORDER BY location, ttg_us",
    /*
     * Merge rather than replace: a late result (a remote node, a clock
     * step) for an hour already folded must add to it, not erase it. The
     * merged p95 is the larger one, an upper bound.
     */
    [W_ROLLUP] = "INSERT INTO rollups (check_id, hour_ms, location, count, up_count, min_ttg_us,"
                 " avg_ttg_us, p95_ttg_us, max_ttg_us, maint_count, maint_up_count,"
                 " uptime_count, uptime_up, uptime_maint)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                 " ON CONFLICT (check_id, hour_ms, location) DO UPDATE SET"
                 " count = count + excluded.count,"
                 " up_count = up_count + excluded.up_count,"
                 " maint_count = maint_count + excluded.maint_count,"
                 " maint_up_count = maint_up_count + excluded.maint_up_count,"
                 " uptime_count = uptime_count + excluded.uptime_count,"
                 " uptime_up = uptime_up + excluded.uptime_up,"
                 " uptime_maint = uptime_maint + excluded.uptime_maint,"
                 " min_ttg_us = coalesce(min(min_ttg_us, excluded.min_ttg_us), min_ttg_us,"
                 " excluded.min_ttg_us),"
                 " avg_ttg_us = CASE WHEN avg_ttg_us IS NULL THEN excluded.avg_ttg_us"
                 " WHEN excluded.avg_ttg_us IS NULL THEN avg_ttg_us"
                 " ELSE (avg_ttg_us * count + excluded.avg_ttg_us * excluded.count)"
                 " / (count + excluded.count) END,"
                 " p95_ttg_us = coalesce(max(p95_ttg_us, excluded.p95_ttg_us), p95_ttg_us,"
                 " excluded.p95_ttg_us),"
                 " max_ttg_us = coalesce(max(max_ttg_us, excluded.max_ttg_us), max_ttg_us,"
                 " excluded.max_ttg_us)",
    [W_HOUR_DELETE] = "DELETE FROM results WHERE check_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3",
    [W_ROLLUP_EXPIRE] = "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups"
                        " WHERE hour_ms < ?1 LIMIT ?2)",
    [W_DELIVERY_EXPIRE] = "DELETE FROM deliveries WHERE rowid IN (SELECT rowid FROM deliveries"
                          " WHERE ts_ms < ?1 LIMIT ?2)",
    /*
     * A removed check goes back to pending (MP_UNKNOWN, MP_SEV_UNKNOWN), so
     * a restart or a later check of the same name does not resume its last
     * state.
     */
    [W_RETIRE_TRANSITION] = "INSERT INTO transitions (check_id, ts_ms, from_status, to_status,"
                            " to_severity, reason, message) SELECT c.id, ?2, t.to_status, 3, 3,"
                            " 'ok', ?3 FROM checks c JOIN transitions t ON t.rowid = (SELECT"
                            " rowid FROM transitions WHERE check_id = c.id ORDER BY ts_ms DESC,"
                            " rowid DESC LIMIT 1) WHERE c.name = ?1 AND t.to_status != 3",
    /* By name: retiring or restoring a check the store never saw creates nothing. */
    [W_RETIRE_CLOSE] = "UPDATE incidents SET end_ms = ?2, duration_ms = max(0, ?2 - start_ms),"
                       " close_reason = ?3 WHERE check_id = (SELECT id FROM checks"
                       " WHERE name = ?1) AND end_ms IS NULL",
    [W_RETIRE_MARK] = "UPDATE checks SET removed_ms = ?2 WHERE name = ?1",
    [W_PRESENT] = "UPDATE checks SET removed_ms = NULL WHERE name = ?1 AND removed_ms IS NOT NULL",
    /* In meta, so that no schema version is needed: "KEY_MS REASON SUP_MS SUP_REASON". */
    [W_ALERT] = "INSERT OR REPLACE INTO meta (key, value) VALUES ('alert/' || ?1, ?2)",
};

/* What each write statement does, for error messages (its SQL is too long to log). */
static const char *const wwhat[W__COUNT] = {
    [W_BEGIN] = "beginning a write",
    [W_COMMIT] = "committing",
    [W_ROLLBACK] = "rolling back",
    [W_CHECK_GET] = "looking up a check",
    [W_CHECK_ADD] = "adding a check",
    [W_RESULT] = "writing a result",
    [W_TRANSITION] = "writing a state change",
    [W_INCIDENT_OPEN] = "opening an incident",
    [W_INCIDENT_CLOSE] = "closing an incident",
    [W_DELIVERY] = "writing a notification attempt",
    [W_CHECK_IDS] = "listing checks",
    [W_OLDEST] = "finding the oldest result",
    [W_HOUR_ROWS] = "reading an hour of results",
    [W_ROLLUP] = "writing a roll-up",
    [W_HOUR_DELETE] = "deleting a folded hour",
    [W_ROLLUP_EXPIRE] = "expiring roll-ups",
    [W_DELIVERY_EXPIRE] = "expiring notification attempts",
    [W_RETIRE_TRANSITION] = "retiring a check",
    [W_RETIRE_CLOSE] = "closing a retired check's incident",
    [W_RETIRE_MARK] = "marking a check removed",
    [W_PRESENT] = "marking a check configured",
    [W_ALERT] = "writing a check's open alert",
};

/* Check name -> id, so a flush does not look every name up again. */
struct idslot {
	char *name; /* NULL: free slot */
	int64_t id;
};

/* The backend's db: created by sq_open(), freed by sq_close(). */
struct sq {
	sqlite3 *db; /* NULL after a store_reopen() that failed: nothing is open */
	sqlite3_stmt *w[W__COUNT];
	struct idslot *ids;
	size_t idcap, nids;
	int readonly; /* store_open_readonly(): no write statements */
	char *path, *lockpath;
	int lockfd; /* flock()ed PATH.lock of a writer; -1 for a reader */
	dev_t dev;  /* the file db has open: it cannot be reused while open, so */
	ino_t ino;  /* another file at path has another (dev, ino) */
	char err[512];
	char closed_why[512]; /* while db is NULL: why */
};

/*
 * The names of SQLite's result codes, which its messages leave out:
 * "disk I/O error" says less than SQLITE_IOERR_FSYNC. The primary codes
 * and the extended ones a store meets on a sick disk or a busy file.
 */
const char *store_sqlite_rc_name(int rc)
{
#define RC(x)                                                                                      \
	{                                                                                          \
		x, #x                                                                              \
	}
	static const struct {
		int rc;
		const char *name;
	} names[] = {
	    RC(SQLITE_ERROR),
	    RC(SQLITE_INTERNAL),
	    RC(SQLITE_PERM),
	    RC(SQLITE_ABORT),
	    RC(SQLITE_BUSY),
	    RC(SQLITE_LOCKED),
	    RC(SQLITE_NOMEM),
	    RC(SQLITE_READONLY),
	    RC(SQLITE_INTERRUPT),
	    RC(SQLITE_IOERR),
	    RC(SQLITE_CORRUPT),
	    RC(SQLITE_NOTFOUND),
	    RC(SQLITE_FULL),
	    RC(SQLITE_CANTOPEN),
	    RC(SQLITE_PROTOCOL),
	    RC(SQLITE_SCHEMA),
	    RC(SQLITE_TOOBIG),
	    RC(SQLITE_CONSTRAINT),
	    RC(SQLITE_MISMATCH),
	    RC(SQLITE_MISUSE),
	    RC(SQLITE_NOLFS),
	    RC(SQLITE_AUTH),
	    RC(SQLITE_RANGE),
	    RC(SQLITE_NOTADB),
	    RC(SQLITE_BUSY_RECOVERY),
	    RC(SQLITE_BUSY_SNAPSHOT),
	    RC(SQLITE_LOCKED_SHAREDCACHE),
	    RC(SQLITE_READONLY_RECOVERY),
	    RC(SQLITE_READONLY_CANTLOCK),
	    RC(SQLITE_READONLY_ROLLBACK),
	    RC(SQLITE_READONLY_DBMOVED),
	    RC(SQLITE_IOERR_READ),
	    RC(SQLITE_IOERR_SHORT_READ),
	    RC(SQLITE_IOERR_WRITE),
	    RC(SQLITE_IOERR_FSYNC),
	    RC(SQLITE_IOERR_DIR_FSYNC),
	    RC(SQLITE_IOERR_TRUNCATE),
	    RC(SQLITE_IOERR_FSTAT),
	    RC(SQLITE_IOERR_UNLOCK),
	    RC(SQLITE_IOERR_RDLOCK),
	    RC(SQLITE_IOERR_DELETE),
	    RC(SQLITE_IOERR_NOMEM),
	    RC(SQLITE_IOERR_ACCESS),
	    RC(SQLITE_IOERR_CHECKRESERVEDLOCK),
	    RC(SQLITE_IOERR_LOCK),
	    RC(SQLITE_IOERR_CLOSE),
	    RC(SQLITE_IOERR_SHMOPEN),
	    RC(SQLITE_IOERR_SHMSIZE),
	    RC(SQLITE_IOERR_SHMLOCK),
	    RC(SQLITE_IOERR_SHMMAP),
	    RC(SQLITE_IOERR_SEEK),
	    RC(SQLITE_IOERR_DELETE_NOENT),
	    RC(SQLITE_IOERR_MMAP),
	    RC(SQLITE_CANTOPEN_NOTEMPDIR),
	    RC(SQLITE_CANTOPEN_ISDIR),
	    RC(SQLITE_CANTOPEN_FULLPATH),
	    RC(SQLITE_CORRUPT_VTAB),
	};
#undef RC
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rc == rc)
			return names[i].name;
	/* An extended code without a name of its own: its primary code's. */
	for (size_t i = 0; rc > 0xff && i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rc == (rc & 0xff))
			return names[i].name;
	return NULL;
}

/* "store PATH: what: SQLite's message (SQLITE_CODE)", as logs and health show it. */
static void db_err(struct sq *s, char *err, size_t errlen, const char *what)
{
	int rc = s->db ? sqlite3_extended_errcode(s->db) : SQLITE_MISUSE;
	const char *name = store_sqlite_rc_name(rc);

	if (!s->db)
		store_set_err(err, errlen, "%s", s->closed_why);
	else if (name)
		store_set_err(err, errlen, "store %s: %s: %s (%s)", s->path ? s->path : "", what,
		              sqlite3_errmsg(s->db), name);
	else
		store_set_err(err, errlen, "store %s: %s: %s (SQLite code %d)",
		              s->path ? s->path : "", what, sqlite3_errmsg(s->db), rc);
}

static const char *sq_errmsg(const void *db)
{
	const struct sq *s = db;

	return s->err;
}

static int64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t floor_hour(int64_t ms)
{
	return rollup_floor_hour(ms);
}

/* ---- the id cache: open addressing, O(1); grows at half full ---- */

static size_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void idcache_clear(struct sq *s)
{
	for (size_t i = 0; i < s->idcap; i++)
		free(s->ids[i].name);
	free(s->ids);
	s->ids = NULL;
	s->idcap = s->nids = 0;
}

static int64_t idcache_get(const struct sq *s, const char *name)
{
	if (!s->idcap)
		return -1;
	for (size_t i = name_hash(name) & (s->idcap - 1);; i = (i + 1) & (s->idcap - 1)) {
		if (!s->ids[i].name)
			return -1;
		if (strcmp(s->ids[i].name, name) == 0)
			return s->ids[i].id;
	}
}

static void idcache_insert(struct idslot *ids, size_t cap, char *name, int64_t id)
{
	size_t i = name_hash(name) & (cap - 1);

	while (ids[i].name)
		i = (i + 1) & (cap - 1);
	ids[i].name = name;
	ids[i].id = id;
}

/* Out of memory only means a lookup next time. */
static void idcache_put(struct sq *s, const char *name, int64_t id)
{
	char *copy;

	if ((s->nids + 1) * 2 > s->idcap) {
		size_t cap = s->idcap ? s->idcap * 2 : 64;
		struct idslot *ids = calloc(cap, sizeof(*ids));

		if (!ids)
			return;
		for (size_t i = 0; i < s->idcap; i++)
			if (s->ids[i].name)
				idcache_insert(ids, cap, s->ids[i].name, s->ids[i].id);
		free(s->ids);
		s->ids = ids;
		s->idcap = cap;
	}
	copy = strdup(name);
	if (!copy)
		return;
	idcache_insert(s->ids, s->idcap, copy, id);
	s->nids++;
}

/* ---- statements ---- */

/* Step a write statement to its end; the error is kept in s->err. */
static int step_done(struct sq *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		const char *what = "writing";

		for (int i = 0; i < W__COUNT; i++)
			if (s->w[i] == st)
				what = wwhat[i];
		db_err(s, s->err, sizeof(s->err), what);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Negative means "not measured" everywhere in struct result. */
static void bind_us(sqlite3_stmt *st, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/*
 * results.counts_as of a result's STORE_R_COUNT_* flags: NULL (by its own
 * status), 1 up, 0 down, -1 not counted. SQL_COUNTED and SQL_UP below, and
 * col_counts_as(), read them back; rollup_uptime_of() is the rule.
 */
static void bind_counts_as(sqlite3_stmt *st, int i, unsigned flags)
{
	if (flags & STORE_R_COUNT_UP)
		sqlite3_bind_int(st, i, 1);
	else if (flags & STORE_R_COUNT_DOWN)
		sqlite3_bind_int(st, i, 0);
	else if (flags & STORE_R_UNCOUNTED)
		sqlite3_bind_int(st, i, -1);
	else
		sqlite3_bind_null(st, i);
}

/* enum store_counts_as of a counts_as column; a value this build never writes counts not. */
static int col_counts_as(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return STORE_COUNTS_BY_STATUS;
	switch (sqlite3_column_int(st, i)) {
	case 1:
		return STORE_COUNTS_UP;
	case 0:
		return STORE_COUNTS_DOWN;
	default:
		return STORE_COUNTS_NOT;
	}
}

/* The same in SQL, over a row of results: whether it counts, and whether as up. */
#define SQL_COUNTED "coalesce(counts_as IN (0, 1), 1)"
#define SQL_UP      "coalesce(counts_as = 1, status IN (0, 1))"

static void rollback(struct sq *s)
{
	if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_step(s->w[W_ROLLBACK]);
		sqlite3_reset(s->w[W_ROLLBACK]);
	}
}

/* Inside a write transaction: the id of check, created when new. */
static int check_id(struct sq *s, const char *name, int64_t *id)
{
	sqlite3_stmt *st = s->w[W_CHECK_GET];
	int rc;

	if ((*id = idcache_get(s, name)) >= 0)
		return 0;
	bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		db_err(s, s->err, sizeof(s->err), "looking up a check");
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (rc == SQLITE_DONE) {
		bind_text(s->w[W_CHECK_ADD], 1, name);
		if (step_done(s, s->w[W_CHECK_ADD]) < 0)
			return -1;
		*id = sqlite3_last_insert_rowid(s->db);
	}
	idcache_put(s, name, *id);
	return 0;
}

static int write_row(struct sq *s, const struct store_row *r)
{
	int64_t id = 0;
	sqlite3_stmt *st;

	if (r->kind != STORE_ROW_CHECK_RETIRE && r->kind != STORE_ROW_CHECK_PRESENT &&
	    r->s[STORE_S_CHECK] && check_id(s, r->s[STORE_S_CHECK], &id) < 0)
		return -1;
	switch (r->kind) {
	case STORE_ROW_RESULT:
		st = s->w[W_RESULT];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, r->ts_ms);
		bind_text(st, 3, r->s[STORE_S_LOCATION]);
		sqlite3_bind_int(st, 4, r->status);
		bind_text(st, 5, result_reason_name(r->reason));
		bind_text(st, 6, r->s[STORE_S_MESSAGE]);
		bind_text(st, 7, r->s[STORE_S_ADDRESS]);
		bind_us(st, 8, r->ttg_us);
		for (int i = 0; i < MP_PH__COUNT; i++)
			bind_us(st, 9 + i, r->phase_us[i]);
		bind_text(st, 18, r->s[STORE_S_TLS_VERSION]);
		if (r->tls) {
			sqlite3_bind_int64(st, 19, r->days_left);
			sqlite3_bind_int64(st, 20, r->not_after);
			sqlite3_bind_int64(st, 29, r->first_not_after);
		}
		bind_text(st, 21, r->s[STORE_S_SUBJECT]);
		bind_text(st, 22, r->s[STORE_S_ISSUER]);
		bind_text(st, 23, r->s[STORE_S_SHA256]);
		bind_us(st, 24, r->messages);
		sqlite3_bind_int(st, 25, r->severity);
		bind_text(st, 26, r->s[STORE_S_WARNINGS]);
		sqlite3_bind_int(st, 27, r->flags & STORE_R_MAINTENANCE ? 1 : 0);
		bind_text(st, 28, r->s[STORE_S_PATH]);
		bind_counts_as(st, 30, r->flags);
		return step_done(s, st);
	case STORE_ROW_TRANSITION:
		st = s->w[W_TRANSITION];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, r->ts_ms);
		sqlite3_bind_int(st, 3, r->from);
		sqlite3_bind_int(st, 4, r->status);
		bind_text(st, 5, result_reason_name(r->reason));
		bind_text(st, 6, r->s[STORE_S_MESSAGE]);
		sqlite3_bind_int(st, 7, r->severity);
		return step_done(s, st);
	case STORE_ROW_INCIDENT_OPEN:
		st = s->w[W_INCIDENT_OPEN];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, r->ts_ms);
		bind_text(st, 3, result_reason_name(r->reason));
		bind_text(st, 4, r->s[STORE_S_MESSAGE]);
		return step_done(s, st);
	case STORE_ROW_INCIDENT_CLOSE:
		st = s->w[W_INCIDENT_CLOSE];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, r->ts_ms);
		bind_text(st, 3, r->s[STORE_S_MESSAGE]);
		return step_done(s, st);
	case STORE_ROW_CHECK_RETIRE:
		/* Its open incident closed with the reason, back to pending, marked removed. */
		for (enum wstmt w = W_RETIRE_TRANSITION; w <= W_RETIRE_MARK; w++) {
			st = s->w[w];
			bind_text(st, 1, r->s[STORE_S_CHECK]);
			sqlite3_bind_int64(st, 2, r->ts_ms);
			if (w != W_RETIRE_MARK)
				bind_text(st, 3, r->s[STORE_S_MESSAGE]);
			if (step_done(s, st) < 0)
				return -1;
		}
		return 0;
	case STORE_ROW_ALERT:
		st = s->w[W_ALERT];
		bind_text(st, 1, r->s[STORE_S_CHECK]);
		bind_text(st, 2, r->s[STORE_S_MESSAGE]);
		return step_done(s, st);
	case STORE_ROW_CHECK_PRESENT:
		st = s->w[W_PRESENT];
		bind_text(st, 1, r->s[STORE_S_CHECK]);
		return step_done(s, st);
	case STORE_ROW_DELIVERY:
		st = s->w[W_DELIVERY];
		if (r->s[STORE_S_CHECK])
			sqlite3_bind_int64(st, 1, id);
		else
			sqlite3_bind_null(st, 1);
		sqlite3_bind_int64(st, 2, r->ts_ms);
		bind_text(st, 3, r->s[STORE_S_CHANNEL]);
		bind_text(st, 4, r->s[STORE_S_EVENT]);
		sqlite3_bind_int(st, 5, r->attempt);
		sqlite3_bind_int(st, 6, r->ok);
		bind_text(st, 7, r->s[STORE_S_MESSAGE]);
		return step_done(s, st);
	}
	return -1;
}

static int sq_flush(void *db, struct store_row *const *rows, int n)
{
	struct sq *s = db;

	if (!s->db) {
		store_set_err(s->err, sizeof(s->err), "%s", s->closed_why);
		return -1;
	}
	if (step_done(s, s->w[W_BEGIN]) < 0)
		return -1;
	if (s->readonly) {
		store_set_err(s->err, sizeof(s->err), "store %s: opened read-only", s->path);
		errno = EROFS;
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (write_row(s, rows[i]) < 0)
			goto fail;
	if (step_done(s, s->w[W_COMMIT]) < 0)
		goto fail;
	return 0;
fail:
	rollback(s);
	/* Ids created inside the rolled-back transaction are gone with it. */
	idcache_clear(s);
	return -1;
}

/* ---- open, migrate, close ---- */

static int exec(struct sq *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		store_set_err(err, errlen, "store: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* "store PATH: SQLite's message (SQLITE_CODE)", while opening. */
static void open_err(struct sq *s, const char *path, char *err, size_t errlen)
{
	int rc = sqlite3_extended_errcode(s->db);
	const char *name = store_sqlite_rc_name(rc);

	if (name)
		store_set_err(err, errlen, "store %s: %s (%s)", path, sqlite3_errmsg(s->db), name);
	else
		store_set_err(err, errlen, "store %s: %s (SQLite code %d)", path,
		              sqlite3_errmsg(s->db), rc);
}

/* One integer from a query without parameters; *found is 0 when no row. */
static int query_int(struct sq *s, const char *path, const char *sql, int64_t *v, int *found,
                     char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		open_err(s, path, err, errlen);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*v = sqlite3_column_int64(st, 0);
		*found = 1;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		open_err(s, path, err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* 0 for an empty file; -1 for a database that is not ours. */
static int schema_version_get(struct sq *s, const char *path, int *version, char *err,
                              size_t errlen)
{
	int64_t n = 0, v = 0;
	int found;

	if (query_int(s, path,
	              "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
	              &n, &found, err, errlen) < 0)
		return -1;
	if (n == 0) {
		if (query_int(s, path, "SELECT count(*) FROM sqlite_master", &n, &found, err,
		              errlen) < 0)
			return -1;
		if (n > 0) {
			store_set_err(
			    err, errlen,
			    "store %s: an SQLite database, but not a mailpulse store (no meta "
			    "table); refusing to touch it",
			    path);
			return -1;
		}
		*version = 0;
		return 0;
	}
	if (query_int(s, path,
	              "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'", &v,
	              &found, err, errlen) < 0)
		return -1;
	if (!found || v < 1 || v > 1000000) {
		store_set_err(err, errlen,
		              "store %s: meta.schema_version is missing or not a version", path);
		return -1;
	}
	*version = (int)v;
	return 0;
}

static int newer(const char *path, int v, char *err, size_t errlen)
{
	store_set_err(err, errlen,
	              "store %s has schema version %d, newer than version %d that this mailpulse "
	              "knows; use a newer mailpulse",
	              path, v, store_schema_version());
	return -1;
}

/* Bring a file at version v up to the current schema. */
static int migrate(struct sq *s, const char *path, int v, char *err, size_t errlen)
{
	int cur = store_schema_version();
	char sql[128];

	if (v == cur)
		return 0;
	if (exec(s, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	/* Read again under the write lock: another process may have migrated meanwhile. */
	if (schema_version_get(s, path, &v, err, errlen) < 0)
		goto fail;
	if (v > cur) {
		exec(s, "ROLLBACK", NULL, 0);
		return newer(path, v, err, errlen);
	}
	for (int i = 0; i < NMIGRATIONS; i++) {
		if (migrations[i].version <= v)
			continue;
		if (exec(s, migrations[i].sql, err, errlen) < 0)
			goto fail;
	}
	snprintf(sql, sizeof(sql),
	         "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '%d')", cur);
	if (exec(s, sql, err, errlen) < 0 || exec(s, "COMMIT", err, errlen) < 0)
		goto fail;
	return 0;
fail:
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK", NULL, 0);
	return -1;
}

/* journal_mode answers with the mode it ended up in, which may not be the one asked for. */
static int set_wal(struct sq *s, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char mode[16] = "";

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK) {
		store_set_err(err, errlen, "store %s: %s", path, sqlite3_errmsg(s->db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
	else
		store_set_err(err, errlen, "store %s: %s", path, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	if (!*mode)
		return -1;
	if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
		store_set_err(err, errlen, "store %s: cannot use WAL mode (journal mode is %s)",
		              path, mode);
		return -1;
	}
	return 0;
}

/* Finalize, close and forget the file; the queue stays. */
static void db_close(struct sq *s)
{
	for (int i = 0; i < W__COUNT; i++) {
		sqlite3_finalize(s->w[i]);
		s->w[i] = NULL;
	}
	sqlite3_close_v2(s->db);
	s->db = NULL;
	/* Ids belong to the file: another one numbers its checks its own way. */
	idcache_clear(s);
}

/*
 * Open s->path for writing: create it when absent, refuse a file that is
 * not ours or is newer, switch to WAL, migrate, prepare the writes, and
 * remember which file it is. Returns the schema version found (0: a new,
 * empty file), or -1 with err filled and nothing open.
 */
static int db_open(struct sq *s, char *err, size_t errlen)
{
	const char *path = s->path;
	struct stat sb;
	int version;

	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		store_set_err(err, errlen, "store %s: %s", path,
		              s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* Readers (the CLI, the API) may hold the file briefly; wait rather than fail. */
	sqlite3_busy_timeout(s->db, BUSY_OPEN_MS);
	/* Before anything writes: a file that is not ours, or is newer, stays untouched. */
	if (schema_version_get(s, path, &version, err, errlen) < 0)
		goto fail;
	if (version > store_schema_version()) {
		newer(path, version, err, errlen);
		goto fail;
	}
	if (set_wal(s, path, err, errlen) < 0)
		goto fail;
	/* NORMAL in WAL: a crash of the process loses nothing committed; power loss may lose
	 * the last transactions, never the file. */
	if (exec(s, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", err, errlen) < 0)
		goto fail;
	if (migrate(s, path, version, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < W__COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->w[i],
		                       NULL) != SQLITE_OK) {
			store_set_err(err, errlen, "store %s: preparing statements: %s", path,
			              sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	sqlite3_busy_timeout(s->db, BUSY_WRITE_MS);
	/* SQLite opened the file above; the same inode cannot be another file while it is open. */
	if (stat(path, &sb) != 0) {
		store_set_err(err, errlen, "store %s: %s", path, strerror(errno));
		goto fail;
	}
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->closed_why[0] = '\0';
	return version;
fail:
	db_close(s);
	store_set_err(s->closed_why, sizeof(s->closed_why), "%s", err && errlen ? err : "not open");
	return -1;
}

/*
 * Take the writer's lock: flock() on PATH.lock, which then holds our PID.
 * flock() and not fcntl(): SQLite uses POSIX locks on the store itself, and
 * POSIX locks of one process are lost when any of its descriptors of the
 * file is closed. The kernel drops the lock when the process dies, kill -9
 * included, so a stale file never blocks a start; the PID is only for the
 * message. The file is never unlinked: a second writer may have it open,
 * and would then lock a file nobody else can find. Returns the descriptor
 * or -1 (errno EBUSY when another process holds the lock).
 */
static int lock_open(const char *lockpath, const char *path, char *err, size_t errlen)
{
	char pid[32];
	int fd, n;

	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		int e = errno;

		store_set_err(err, errlen, "store %s: cannot open its lock file %s: %s", path,
		              lockpath, strerror(e));
		errno = e;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		if (e == EWOULDBLOCK) {
			ssize_t got = pread(fd, pid, sizeof(pid) - 1, 0);
			long holder = 0;

			if (got > 0) {
				pid[got] = '\0';
				holder = strtol(pid, NULL, 10);
			}
			if (holder > 0)
				store_set_err(
				    err, errlen,
				    "store %s is in use by mailpulse run (pid %ld): one daemon "
				    "per store",
				    path, holder);
			else
				store_set_err(
				    err, errlen,
				    "store %s is in use by mailpulse run (%s is locked): one "
				    "daemon per store",
				    path, lockpath);
			e = EBUSY;
		} else {
			store_set_err(err, errlen, "store %s: cannot lock %s: %s", path, lockpath,
			              strerror(e));
		}
		close(fd);
		errno = e;
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* Only the message of a refused second writer would miss the PID. */
	}
	return fd;
}

/* Our lock file, taken again if the one we hold is no longer at lockpath (rm STORE*). */
static int lock_renew(struct sq *s, char *err, size_t errlen)
{
	struct stat a, b;
	int fd;

	if (stat(s->lockpath, &a) == 0 && fstat(s->lockfd, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return 0;
	fd = lock_open(s->lockpath, s->path, err, errlen);
	if (fd < 0)
		return -1;
	close(s->lockfd);
	s->lockfd = fd;
	return 0;
}

static void sq_free(struct sq *s)
{
	db_close(s);
	if (s->lockfd >= 0) {
		/* A clean exit leaves no PID behind; the file stays (see lock_open()). */
		if (ftruncate(s->lockfd, 0) != 0) {
			/* Only informative. */
		}
		close(s->lockfd);
	}
	free(s->path);
	free(s->lockpath);
	free(s);
}

static struct sq *sq_new(const char *path, char *err, size_t errlen)
{
	struct sq *s = calloc(1, sizeof(*s));
	size_t n = strlen(path);

	if (err && errlen)
		err[0] = '\0';
	if (s) {
		s->lockfd = -1;
		s->path = strdup(path);
		s->lockpath = malloc(n + sizeof(".lock"));
	}
	if (!s || !s->path || !s->lockpath) {
		store_set_err(err, errlen, "store %s: out of memory", path);
		if (s)
			sq_free(s);
		return NULL;
	}
	memcpy(s->lockpath, path, n);
	memcpy(s->lockpath + n, ".lock", sizeof(".lock"));
	return s;
}

static int sq_open_rw(struct sq **out, const char *path, char *err, size_t errlen)
{
	struct sq *s;

	*out = NULL;
	s = sq_new(path, err, errlen);
	if (!s)
		return -1;
	/* First: a second daemon must not migrate, nor even open, the file of the first. */
	s->lockfd = lock_open(s->lockpath, path, err, errlen);
	if (s->lockfd < 0 || db_open(s, err, errlen) < 0) {
		int e = errno;

		sq_free(s);
		errno = e;
		return -1;
	}
	*out = s;
	return 0;
}

static enum store_file sq_file_check(void *db)
{
	struct sq *s = db;

	struct stat sb;

	if (s->readonly)
		return STORE_FILE_OK;
	if (!s->db)
		return STORE_FILE_CLOSED;
	if (stat(s->path, &sb) != 0)
		/* Any other error (EACCES...) does not say the file changed. */
		return errno == ENOENT || errno == ENOTDIR ? STORE_FILE_DELETED : STORE_FILE_OK;
	return sb.st_dev == s->dev && sb.st_ino == s->ino ? STORE_FILE_OK : STORE_FILE_REPLACED;
}

/*
 * The order matters because SQLite finds the WAL and its index by name,
 * PATH-wal and PATH-shm, not by the file they belong to: what it finds
 * there when it opens PATH, it applies to PATH. So the old file's WAL is
 * emptied into the old file first (which also makes a file that was moved
 * away complete on its own), the old connection is closed, and orphans
 * left beside a path that names no file are removed, before anything is
 * opened at the path.
 */
static int sq_reopen(void *db, char *err, size_t errlen)
{
	struct sq *s = db;
	enum store_file was = sq_file_check(s);
	struct stat sb;
	int version;

	if (err && errlen)
		err[0] = '\0';
	if (s->readonly) {
		store_set_err(err, errlen, "store %s: opened read-only", s->path);
		errno = EROFS;
		return -1;
	}
	if (lock_renew(s, err, errlen) < 0)
		goto fail;
	if (s->db) {
		int rc =
		    sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

		/* Our WAL, if not emptied, would be applied to the file now at the path. */
		if (rc != SQLITE_OK && was == STORE_FILE_REPLACED) {
			db_err(s, err, errlen, "emptying the old file's write-ahead log");
			goto fail;
		}
		db_close(s);
	}
	if (stat(s->path, &sb) != 0 && errno == ENOENT) {
		char side[4200];

		snprintf(side, sizeof(side), "%s-wal", s->path);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", s->path);
		unlink(side);
	}
	version = db_open(s, err, errlen);
	if (version < 0)
		return -1;
	return version == 0 ? 1 : 0;
fail:
	if (!s->db)
		store_set_err(s->closed_why, sizeof(s->closed_why), "%s", err && errlen ? err : "");
	return -1;
}

/*
 * "file:PATH?immutable=1": SQLite then neither locks nor looks for a WAL
 * index, which is what lets a reader without write access to the directory
 * open a WAL-mode file at all. Only right while no writer has the file
 * open, so only used when there is no -wal file.
 */
static int open_immutable(struct sq *s, const char *path)
{
	char uri[4200], wal[4100];
	size_t o = 0;
	struct stat sb;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &sb) == 0 || errno != ENOENT)
		return -1;
	o = (size_t)snprintf(uri, sizeof(uri), "file:");
	for (const char *p = path; *p && o + 16 < sizeof(uri); p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			o +=
			    (size_t)snprintf(uri + o, sizeof(uri) - o, "%%%02X", (unsigned char)*p);
		else
			uri[o++] = *p;
	}
	if (o + 16 >= sizeof(uri))
		return -1;
	snprintf(uri + o, sizeof(uri) - o, "?immutable=1");
	sqlite3_close_v2(s->db);
	s->db = NULL;
	return sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) ==
	               SQLITE_OK
	           ? 0
	           : -1;
}

static int sq_open_ro(struct sq **out, const char *path, char *err, size_t errlen)
{
	struct sq *s;
	int version, cur = store_schema_version();

	*out = NULL;
	s = sq_new(path, err, errlen);
	if (!s)
		return -1;
	s->readonly = 1;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		store_set_err(err, errlen, "store %s: %s", path,
		              s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 2000);
	if (schema_version_get(s, path, &version, err, errlen) < 0) {
		/* A WAL file whose directory we cannot write: read it as it stands on disk. */
		if (open_immutable(s, path) < 0 ||
		    schema_version_get(s, path, &version, err, errlen) < 0)
			goto fail;
		if (err && errlen)
			err[0] = '\0';
	}
	if (version > cur) {
		newer(path, version, err, errlen);
		goto fail;
	}
	if (version == 0) {
		store_set_err(err, errlen,
		              "store %s is empty: the daemon has not written to it yet", path);
		goto fail;
	}
	if (version < cur) {
		store_set_err(
		    err, errlen,
		    "store %s has schema version %d, older than %d: the daemon migrates it "
		    "when it next opens it",
		    path, version, cur);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	sq_free(s);
	return -1;
}

static int sq_open(void **db, const char *where, const char *secret_file, int readonly, char *err,
                   size_t errlen)
{
	struct sq *s = NULL;
	int rc = readonly ? sq_open_ro(&s, where, err, errlen) : sq_open_rw(&s, where, err, errlen);

	(void)secret_file; /* a file store has no password */

	*db = s;
	return rc;
}

static void sq_close(void *db)
{
	if (db)
		sq_free(db);
}

/* ---- retention ---- */

static int fold_emit(struct sq *s, int64_t id, int64_t hour, const char *location,
                     struct rollup_fold *f)
{
	sqlite3_stmt *st = s->w[W_ROLLUP];
	struct rollup_times t;

	if (f->count == 0)
		return 0;
	rollup_fold_times(f, &t);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, hour);
	bind_text(st, 3, location);
	sqlite3_bind_int64(st, 4, f->count);
	sqlite3_bind_int64(st, 5, f->up);
	sqlite3_bind_int64(st, 10, f->maint);
	sqlite3_bind_int64(st, 11, f->maint_up);
	sqlite3_bind_int64(st, 12, f->uptime_count);
	sqlite3_bind_int64(st, 13, f->uptime_up);
	sqlite3_bind_int64(st, 14, f->uptime_maint);
	if (f->nttg) {
		sqlite3_bind_int64(st, 6, t.min);
		sqlite3_bind_int64(st, 7, t.avg);
		sqlite3_bind_int64(st, 8, t.p95);
		sqlite3_bind_int64(st, 9, t.max);
	}
	rollup_fold_reset(f);
	return step_done(s, st);
}

/* Fold one check-hour into roll-ups and delete its raw rows. Returns rows folded. */
static int64_t fold_hour(struct sq *s, int64_t id, int64_t hour, int keep)
{
	sqlite3_stmt *st = s->w[W_HOUR_ROWS];
	struct rollup_fold f = {0};
	char location[NAME_MAX_LEN + 1] = "";
	int64_t rows = 0;
	int rc = SQLITE_DONE;

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, hour);
	sqlite3_bind_int64(st, 3, hour + HOUR_MS);
	while (keep && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *loc = (const char *)sqlite3_column_text(st, 0);

		if (!loc)
			loc = "";
		if (f.count && strncmp(loc, location, NAME_MAX_LEN) != 0 &&
		    fold_emit(s, id, hour, location, &f) < 0)
			goto fail;
		snprintf(location, sizeof(location), "%s", loc);
		rows++;
		if (rollup_fold_add(&f, sqlite3_column_int(st, 1), sqlite3_column_int(st, 3),
		                    col_counts_as(st, 4),
		                    sqlite3_column_type(st, 2) == SQLITE_NULL
		                        ? -1
		                        : sqlite3_column_int64(st, 2)) < 0) {
			store_set_err(s->err, sizeof(s->err), "store: retention: out of memory");
			goto fail;
		}
	}
	if (keep && rc != SQLITE_DONE) {
		db_err(s, s->err, sizeof(s->err), "retention");
		goto fail;
	}
	sqlite3_reset(st);
	if (keep && fold_emit(s, id, hour, location, &f) < 0)
		goto fail;
	rollup_fold_free(&f);
	st = s->w[W_HOUR_DELETE];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, hour);
	sqlite3_bind_int64(st, 3, hour + HOUR_MS);
	if (step_done(s, st) < 0)
		return -1;
	return keep ? rows : sqlite3_changes(s->db);
fail:
	sqlite3_reset(st);
	rollup_fold_free(&f);
	return -1;
}

static int expire(struct sq *s, enum wstmt w, int64_t before)
{
	sqlite3_stmt *st = s->w[w];

	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, RETENTION_DELETES);
	return step_done(s, st);
}

static int sq_retention(void *db, int64_t now_ms, unsigned raw_days, unsigned rollup_days)
{
	struct sq *s = db;
	/* Whole hours only: folding part of an hour would split it over two roll-ups. */
	int64_t raw_cut = floor_hour(now_ms - (int64_t)raw_days * DAY_MS);
	int64_t roll_cut = floor_hour(now_ms - (int64_t)rollup_days * DAY_MS);
	int64_t folded = 0, *ids = NULL;
	size_t nids = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	if (s->readonly) {
		store_set_err(s->err, sizeof(s->err), "store: opened read-only");
		errno = EROFS;
		return -1;
	}
	if (!s->db) {
		store_set_err(s->err, sizeof(s->err), "%s", s->closed_why);
		return -1;
	}
	if (step_done(s, s->w[W_BEGIN]) < 0)
		return -1;
	st = s->w[W_CHECK_IDS];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (nids == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			int64_t *v = realloc(ids, ncap * sizeof(*v));

			if (!v) {
				store_set_err(s->err, sizeof(s->err),
				              "store: retention: out of memory");
				sqlite3_reset(st);
				goto fail;
			}
			ids = v;
			cap = ncap;
		}
		ids[nids++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_err(s, s->err, sizeof(s->err), "retention");
		goto fail;
	}
	for (size_t i = 0; i < nids && folded < RETENTION_ROWS; i++) {
		for (;;) {
			int64_t oldest, n;

			st = s->w[W_OLDEST];
			sqlite3_bind_int64(st, 1, ids[i]);
			sqlite3_bind_int64(st, 2, raw_cut);
			rc = sqlite3_step(st);
			if (rc != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL) {
				if (rc != SQLITE_ROW)
					db_err(s, s->err, sizeof(s->err), "retention");
				sqlite3_reset(st);
				if (rc != SQLITE_ROW)
					goto fail;
				break;
			}
			oldest = floor_hour(sqlite3_column_int64(st, 0));
			sqlite3_reset(st);
			/* Hours past roll-up retention would be deleted at once: just drop them. */
			n = fold_hour(s, ids[i], oldest, oldest + HOUR_MS > roll_cut);
			if (n < 0)
				goto fail;
			folded += n;
			if (folded >= RETENTION_ROWS)
				break;
		}
	}
	/* Deliveries are an operations log: they go with the roll-ups, not the raw rows. */
	if (expire(s, W_ROLLUP_EXPIRE, roll_cut) < 0 || expire(s, W_DELIVERY_EXPIRE, roll_cut) < 0)
		goto fail;
	if (step_done(s, s->w[W_COMMIT]) < 0)
		goto fail;
	free(ids);
	return folded > INT32_MAX ? INT32_MAX : (int)folded;
fail:
	free(ids);
	rollback(s);
	return -1;
}

/* ---- reads ---- */

static sqlite3_stmt *prep(struct sq *s, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (!s->db) {
		store_set_err(err, errlen, "%s", s->closed_why);
		errno = EIO;
		return NULL;
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_err(s, err, errlen, "query");
		errno = EIO;
		return NULL;
	}
	return st;
}

/*
 * The strings of one answer, copied out of SQLite's rows (which change at
 * the next step) into blocks freed together after the callback.
 */
struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	char data[];
};

struct arena {
	struct arena_blk *head;
	int bad; /* out of memory: the answer is incomplete */
};

static const char *arena_copy(struct arena *a, const char *v, size_t n)
{
	struct arena_blk *b = a->head;
	char *p;

	if (!b || b->cap - b->used < n + 1) {
		size_t cap = n + 1 > 65536 ? n + 1 : 65536;

		b = malloc(sizeof(*b) + cap);
		if (!b) {
			a->bad = 1;
			return NULL;
		}
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	p = b->data + b->used;
	memcpy(p, v, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_blk *b = a->head;

		a->head = b->next;
		free(b);
	}
}

/* A text column; NULL for SQL NULL. */
static const char *col_text(sqlite3_stmt *st, int i, struct arena *a)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? arena_copy(a, v, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

/* An integer column; STORE_NONE for SQL NULL. */
static int64_t col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? STORE_NONE : sqlite3_column_int64(st, i);
}

/* A severity column; NULL (a row of a newer writer that left it out) follows the status. */
static int col_severity(sqlite3_stmt *st, int i, int status_col)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return (int)result_default_severity(
		    (enum mp_status)sqlite3_column_int(st, status_col));
	return sqlite3_column_int(st, i);
}

/* rows with room for one more at n (grown by doubling); NULL when out of memory. */
static void *grow(void *rows, size_t *cap, size_t n, size_t sz)
{
	size_t nc;
	void *v;

	if (n < *cap)
		return rows;
	nc = *cap ? *cap * 2 : 64;
	v = realloc(rows, nc * sz);
	if (v)
		*cap = nc;
	return v;
}

static int clamp_limit(int limit)
{
	return limit <= 0 || limit > LIMIT_MAX ? LIMIT_MAX : limit;
}

static int64_t until_of(int64_t until_ms)
{
	return until_ms <= 0 ? INT64_MAX : until_ms;
}

/* The id of an existing check; -1 with errno ENOENT and err filled when there is none. */
static int lookup_check(struct sq *s, const char *name, int64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *st = prep(s, "SELECT id FROM checks WHERE name = ?1", err, errlen);
	int rc;

	if (!st)
		return -1;
	bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		store_set_err(err, errlen, "no check named \"%.64s\" in the store", name);
	else
		db_err(s, err, errlen, "query");
	sqlite3_finalize(st);
	errno = rc == SQLITE_DONE ? ENOENT : EIO;
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * How a read that stepped to rc ended: 0, or an errno with err filled
 * (SQLite's failure, or ours: out of memory).
 */
static int read_end(struct sq *s, int rc, int bad, char *err, size_t errlen)
{
	if (bad) {
		store_set_err(err, errlen, "store: out of memory");
		return ENOMEM;
	}
	if (rc != SQLITE_DONE) {
		db_err(s, err, errlen, "query");
		return EIO;
	}
	return 0;
}

/* One row of STORE_RESULT_COLS. */
static void result_row(sqlite3_stmt *st, struct arena *a, struct store_result_row *r)
{
	memset(r, 0, sizeof(*r));
	r->ts_ms = sqlite3_column_int64(st, 0);
	r->location = col_text(st, 1, a);
	r->status = sqlite3_column_int(st, 2);
	r->reason = col_text(st, 3, a);
	r->message = col_text(st, 4, a);
	r->address = col_text(st, 5, a);
	r->ttg_us = col_i64(st, 6);
	for (int i = 0; i < MP_PH__COUNT; i++)
		r->phase_us[i] = col_i64(st, 7 + i);
	r->tls_version = col_text(st, 16, a);
	r->cert_days_left = col_i64(st, 17);
	r->cert_not_after = col_i64(st, 18);
	r->cert_subject = col_text(st, 19, a);
	r->cert_issuer = col_text(st, 20, a);
	r->cert_sha256 = col_text(st, 21, a);
	r->messages = col_i64(st, 22);
	r->maintenance = sqlite3_column_int(st, 23) != 0;
	r->severity = col_severity(st, 24, 2);
	r->warnings = col_text(st, 25, a);
	r->path = col_text(st, 26, a);
	r->first_not_after = col_i64(st, 27);
	r->counts_as = col_counts_as(st, 28);
}

static void sq_history(void *db, const struct store_query *q, store_results_cb cb, void *arg)
{
	struct sq *s = db;
	struct store_result_row *rows = NULL, *r;
	struct arena a = {0};
	sqlite3_stmt *st;
	char err[512] = "";
	size_t n = 0, cap = 0;
	int64_t id;
	int rc = SQLITE_DONE, bad = 0, e;

	if (lookup_check(s, q->check, &id, err, sizeof(err)) < 0 ||
	    !(st = prep(s,
	                "SELECT " STORE_RESULT_COLS
	                " FROM results WHERE check_id = ?1 AND ts_ms >= ?2"
	                " AND ts_ms < ?3 ORDER BY ts_ms DESC, location DESC LIMIT ?4",
	                err, sizeof(err)))) {
		cb(NULL, 0, errno, err, arg);
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, q->since_ms);
	sqlite3_bind_int64(st, 3, until_of(q->until_ms));
	sqlite3_bind_int(st, 4, clamp_limit(q->limit));
	while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(r = grow(rows, &cap, n, sizeof(*rows))))
			bad = 1;
		else
			result_row(st, &a, &(rows = r)[n++]);
	}
	e = read_end(s, rc, bad || a.bad, err, sizeof(err));
	sqlite3_finalize(st);
	if (e)
		cb(NULL, 0, e, err, arg);
	else
		cb(rows, n, 0, NULL, arg);
	free(rows);
	arena_free(&a);
}

static void sq_uptime(void *db, const struct store_query *q, store_uptime_cb cb, void *arg)
{
	struct sq *s = db;
	sqlite3_stmt *raw = NULL, *roll = NULL;
	struct store_uptime_row u = {.check = q->check, .since_ms = q->since_ms};
	int64_t id, until = until_of(q->until_ms), rollups = 0;
	char err[512] = "";
	int rc = SQLITE_DONE, e = 0;

	if (lookup_check(s, q->check, &id, err, sizeof(err)) < 0) {
		cb(NULL, errno, err, arg);
		return;
	}
	u.until_ms = until == INT64_MAX ? STORE_NONE : until;
	/*
	 * Probes inside a maintenance window count apart, in neither probes nor
	 * up; a result that does not count (counts_as) is in none.
	 */
	raw = prep(s,
	           "SELECT coalesce(sum(maintenance = 0 AND " SQL_COUNTED "), 0),"
	           " coalesce(sum(maintenance = 0 AND " SQL_UP "), 0),"
	           " coalesce(sum(maintenance != 0 AND " SQL_COUNTED "), 0) FROM results"
	           " WHERE check_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3",
	           err, sizeof(err));
	/* Every hour that overlaps the range counts whole: roll-ups cannot be cut finer. */
	if (raw)
		roll = prep(
		    s,
		    "SELECT count(*), coalesce(sum(uptime_count), 0), coalesce(sum(uptime_up), 0),"
		    " coalesce(sum(uptime_maint), 0)"
		    " FROM rollups WHERE check_id = ?1 AND hour_ms > ?2 AND hour_ms < ?3",
		    err, sizeof(err));
	if (!raw || !roll) {
		e = EIO;
		goto out;
	}
	sqlite3_bind_int64(raw, 1, id);
	sqlite3_bind_int64(raw, 2, q->since_ms);
	sqlite3_bind_int64(raw, 3, until);
	sqlite3_bind_int64(roll, 1, id);
	sqlite3_bind_int64(roll, 2, q->since_ms - HOUR_MS);
	sqlite3_bind_int64(roll, 3, until);
	if ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
		u.probes = sqlite3_column_int64(raw, 0);
		u.up = sqlite3_column_int64(raw, 1);
		u.maint = sqlite3_column_int64(raw, 2);
		if ((rc = sqlite3_step(roll)) == SQLITE_ROW) {
			rollups = sqlite3_column_int64(roll, 0);
			u.probes += sqlite3_column_int64(roll, 1);
			u.up += sqlite3_column_int64(roll, 2);
			u.maint += sqlite3_column_int64(roll, 3);
			rc = SQLITE_DONE;
		}
	}
	u.from_rollups = rollups > 0;
	e = read_end(s, rc, 0, err, sizeof(err));
out:
	sqlite3_finalize(raw);
	sqlite3_finalize(roll);
	if (e)
		cb(NULL, e, err, arg);
	else
		cb(&u, 0, NULL, arg);
}

/* ---- counts of every check at once (the API's uptime cache) ---- */

/*
 * Ranges that span less than this (up to now) are read through the index,
 * per check; longer ones in one pass over the table. On a store of 30
 * days at 200 checks every 30 s (17 M rows) an hour of every check takes
 * ~12 ms through the index, where rows of one check lie one to a page;
 * the whole table ~3 s in one pass, against ~18 s check by check.
 */
#define COUNTS_INDEX_SPAN_MS (6 * HOUR_MS)

struct counts_acc {
	int64_t *ids; /* sorted */
	char **names;
	int n;
	struct store_counts *c; /* n x nseg */
	int nseg;
	const int64_t *bounds;
};

static int counts_seg(const struct counts_acc *a, int64_t t)
{
	int i = 0;

	while (i < a->nseg - 1 && t >= a->bounds[i + 1])
		i++;
	return i;
}

static struct store_counts *counts_of(const struct counts_acc *a, int64_t id, int64_t t)
{
	int lo = 0, hi = a->n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		if (a->ids[mid] == id)
			return &a->c[(size_t)mid * (size_t)a->nseg + (size_t)counts_seg(a, t)];
		if (a->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL; /* a check added since the names were read: next time */
}

static void counts_free(struct counts_acc *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->names[i]);
	free(a->ids);
	free(a->names);
	free(a->c);
}

static int counts_names(struct sq *s, struct counts_acc *a, char *err, size_t errlen)
{
	sqlite3_stmt *st = prep(s, "SELECT id, name FROM checks ORDER BY id", err, errlen);
	int rc, cap = 0;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (a->n == cap) {
			int nc = cap ? 2 * cap : 64;
			int64_t *ids = realloc(a->ids, (size_t)nc * sizeof(*ids));
			if (ids)
				a->ids = ids;
			char **names = ids ? realloc(a->names, (size_t)nc * sizeof(*names)) : NULL;
			if (names)
				a->names = names;
			if (!ids || !names)
				break;
			cap = nc;
		}
		const char *nm = (const char *)sqlite3_column_text(st, 1);
		a->names[a->n] = strdup(nm ? nm : "");
		if (!a->names[a->n])
			break;
		a->ids[a->n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		a->c = calloc((size_t)(a->n ? a->n : 1) * (size_t)a->nseg, sizeof(*a->c));
	if (rc != SQLITE_DONE || !a->c) {
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			db_err(s, err, errlen, "query");
		else
			store_set_err(err, errlen, "store: out of memory");
		return -1;
	}
	return 0;
}

static int sq_counts(void *db, const int64_t *bounds, int nb, store_counts_cb cb, void *arg,
                     char *err, size_t errlen)
{
	struct sq *s = db;
	struct counts_acc a = {.nseg = nb - 1, .bounds = bounds};
	int64_t lo = bounds[0], hi = bounds[nb - 1];
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_DONE;

	if (counts_names(s, &a, err, errlen) < 0)
		goto fail;
	/* Raw results: status, maintenance and counts_as are in the table, not the index. */
	if ((hi < wall_now_ms() ? hi : wall_now_ms()) - lo <= COUNTS_INDEX_SPAN_MS)
		st = prep(
		    s,
		    "SELECT r.check_id, r.ts_ms, r.status, r.maintenance, r.counts_as FROM checks c"
		    " CROSS JOIN results r ON r.check_id = c.id AND r.ts_ms >= ?1"
		    " AND r.ts_ms < ?2",
		    err, errlen);
	else
		st = prep(s,
		          "SELECT check_id, ts_ms, status, maintenance, counts_as"
		          " FROM results NOT INDEXED WHERE ts_ms >= ?1 AND ts_ms < ?2",
		          err, errlen);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_counts *k =
		    counts_of(&a, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
		int u = rollup_uptime_of(sqlite3_column_int(st, 2), col_counts_as(st, 4));

		if (!k || u < 0)
			continue;
		if (sqlite3_column_int(st, 3)) {
			k->maint++;
		} else {
			k->probes++;
			k->up += u;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		db_err(s, err, errlen, "query");
		goto fail;
	}
	/* Roll-ups count whole, in the range their hour starts in (the first when before it). */
	st = prep(s,
	          "SELECT check_id, hour_ms, uptime_count, uptime_up, uptime_maint FROM rollups"
	          " WHERE hour_ms > ?1 AND hour_ms < ?2",
	          err, errlen);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, lo - HOUR_MS);
	sqlite3_bind_int64(st, 2, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_counts *k =
		    counts_of(&a, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
		if (!k)
			continue;
		k->probes += sqlite3_column_int64(st, 2);
		k->up += sqlite3_column_int64(st, 3);
		k->maint += sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		db_err(s, err, errlen, "query");
		goto fail;
	}
	for (int i = 0; i < a.n; i++) {
		const struct store_counts *k = &a.c[(size_t)i * (size_t)a.nseg];
		int any = 0;

		for (int j = 0; j < a.nseg; j++)
			any |= k[j].probes || k[j].maint;
		if (any)
			cb(a.ids[i], a.names[i], k, a.nseg, arg);
	}
	counts_free(&a);
	return 0;
fail:
	sqlite3_finalize(st);
	counts_free(&a);
	return -1;
}

static void sq_interrupt(void *db)
{
	struct sq *s = db;

	if (s && s->db)
		sqlite3_interrupt(s->db);
}

/* ---- series: raw results and roll-ups, bucketed (the maths in rollup.c) ---- */

/*
 * Raw results of [since, until) into their buckets. Rows come in time
 * order, so one buffer holds the times of one bucket at a time.
 */
static int series_raw(struct sq *s, int64_t id, int64_t since, int64_t until, int64_t bucket,
                      struct rollup_bucket *b, char *err, size_t errlen)
{
	sqlite3_stmt *st = prep(s,
	                        "SELECT ts_ms, status, reason, ttg_us FROM results WHERE"
	                        " check_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms",
	                        err, errlen);
	int64_t *v = NULL, cur = -1;
	size_t nv = 0, cap = 0;
	int rc = SQLITE_DONE, bad = 0, e;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, until);
	while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t i = (sqlite3_column_int64(st, 0) - since) / bucket;
		int64_t *nvp;

		if (i != cur) {
			if (cur >= 0)
				rollup_bucket_times(&b[cur], v, nv);
			nv = 0;
			cur = i;
		}
		if (rollup_bucket_raw(&b[i], sqlite3_column_int(st, 1),
		                      (const char *)sqlite3_column_text(st, 2)) < 0)
			bad = 1;
		if (sqlite3_column_type(st, 3) == SQLITE_NULL)
			continue;
		if (!(nvp = grow(v, &cap, nv, sizeof(*v)))) {
			bad = 1;
			break;
		}
		v = nvp;
		v[nv++] = sqlite3_column_int64(st, 3);
	}
	if (!bad && cur >= 0)
		rollup_bucket_times(&b[cur], v, nv);
	free(v);
	e = read_end(s, rc, bad, err, errlen);
	sqlite3_finalize(st);
	errno = e;
	return e ? -1 : 0;
}

/* Roll-ups of the hours that start in [since, until) into their buckets. */
static int series_rollups(struct sq *s, int64_t id, int64_t since, int64_t until, int64_t bucket,
                          struct rollup_bucket *b, char *err, size_t errlen)
{
	sqlite3_stmt *st = prep(s,
	                        "SELECT hour_ms, count, up_count, min_ttg_us, avg_ttg_us,"
	                        " p95_ttg_us, max_ttg_us FROM rollups"
	                        " WHERE check_id = ?1 AND hour_ms >= ?2 AND hour_ms < ?3",
	                        err, errlen);
	int rc, e;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rollup_times t = {
		    .min = sqlite3_column_int64(st, 3),
		    .avg = sqlite3_column_int64(st, 4),
		    .p95 = sqlite3_column_int64(st, 5),
		    .max = sqlite3_column_int64(st, 6),
		};

		rollup_bucket_rollup(&b[(sqlite3_column_int64(st, 0) - since) / bucket],
		                     sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
		                     sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : &t);
	}
	e = read_end(s, rc, 0, err, errlen);
	sqlite3_finalize(st);
	errno = e;
	return e ? -1 : 0;
}

static void sq_series(void *db, const struct store_query *q, store_series_cb cb, void *arg)
{
	struct sq *s = db;
	struct rollup_bucket *b = NULL;
	struct store_bucket_row *rows = NULL;
	struct store_series_rows sr = {.check = q->check};
	int64_t id, nb = 0, since, bucket = q->bucket_ms, until = q->until_ms;
	char err[512] = "";
	int e = 0;

	if (bucket <= 0 || bucket % HOUR_MS || until <= q->since_ms) {
		cb(NULL, EINVAL, "store: series: bad bucket or range", arg);
		return;
	}
	/* Buckets start at whole multiples of their size: UTC hours, 6 h, days. */
	since = q->since_ms - (q->since_ms % bucket + bucket) % bucket;
	nb = (until - since + bucket - 1) / bucket;
	if (nb > STORE_SERIES_MAX) {
		store_set_err(err, sizeof(err), "store: series: more than %d buckets",
		              STORE_SERIES_MAX);
		cb(NULL, EINVAL, err, arg);
		return;
	}
	if (lookup_check(s, q->check, &id, err, sizeof(err)) < 0) {
		cb(NULL, errno, err, arg);
		return;
	}
	b = calloc((size_t)nb, sizeof(*b));
	rows = calloc((size_t)nb, sizeof(*rows));
	if (!b || !rows) {
		free(b);
		free(rows);
		cb(NULL, ENOMEM, "store: out of memory", arg);
		return;
	}
	for (int64_t i = 0; i < nb; i++)
		rollup_bucket_init(&b[i]);
	if (series_raw(s, id, since, until, bucket, b, err, sizeof(err)) < 0 ||
	    series_rollups(s, id, since, until, bucket, b, err, sizeof(err)) < 0) {
		e = errno ? errno : EIO;
	} else {
		for (int64_t i = 0; i < nb; i++)
			if (b[i].count)
				rollup_bucket_row(&b[i], since + i * bucket, &rows[sr.n++]);
		sr.since_ms = since;
		sr.until_ms = until;
		sr.bucket_ms = bucket;
		sr.buckets = rows;
	}
	if (e)
		cb(NULL, e, err, arg);
	else
		cb(&sr, 0, NULL, arg);
	for (int64_t i = 0; i < nb; i++)
		rollup_bucket_free(&b[i]);
	free(b);
	free(rows);
}

/* Columns: id, start_ms, end_ms, reason, message, duration_ms, name, close_reason. */
static void incident_row(sqlite3_stmt *st, struct arena *a, struct store_incident_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->start_ms = sqlite3_column_int64(st, 1);
	r->end_ms = col_i64(st, 2);
	r->reason = col_text(st, 3, a);
	r->message = col_text(st, 4, a);
	r->duration_ms = col_i64(st, 5);
	r->check = col_text(st, 6, a);
	r->close_reason = col_text(st, 7, a);
}

static void sq_incidents(void *db, const struct store_query *q, store_incidents_cb cb, void *arg)
{
	struct sq *s = db;
	struct store_incident_row *rows = NULL, *r;
	struct arena a = {0};
	int64_t id = 0, now = wall_now_ms();
	sqlite3_stmt *st;
	char err[512] = "";
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, bad = 0, e;

	if ((q->check && lookup_check(s, q->check, &id, err, sizeof(err)) < 0) ||
	    /* Every incident that was open at some point in [since, now]. */
	    !(st = prep(s,
	                "SELECT i.id, i.start_ms, i.end_ms, i.reason, i.message, i.duration_ms,"
	                " c.name, i.close_reason FROM incidents i JOIN checks c ON c.id ="
	                " i.check_id WHERE (?1 IS NULL OR i.check_id = ?1) AND (i.end_ms IS NULL"
	                " OR i.end_ms >= ?2) ORDER BY i.start_ms DESC, i.id DESC LIMIT ?3",
	                err, sizeof(err)))) {
		cb(NULL, 0, now, errno, err, arg);
		return;
	}
	if (q->check)
		sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, q->since_ms);
	sqlite3_bind_int(st, 3, clamp_limit(q->limit));
	while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(r = grow(rows, &cap, n, sizeof(*rows))))
			bad = 1;
		else
			incident_row(st, &a, &(rows = r)[n++]);
	}
	e = read_end(s, rc, bad || a.bad, err, sizeof(err));
	sqlite3_finalize(st);
	if (e)
		cb(NULL, 0, now, e, err, arg);
	else
		cb(rows, n, now, 0, NULL, arg);
	free(rows);
	arena_free(&a);
}

static void sq_deliveries(void *db, const struct store_query *q, store_deliveries_cb cb, void *arg)
{
	struct sq *s = db;
	struct store_delivery_row *rows = NULL, *r;
	struct arena a = {0};
	sqlite3_stmt *st;
	char err[512] = "";
	size_t n = 0, cap = 0;
	int64_t id = 0;
	int rc = SQLITE_DONE, bad = 0, e;

	if ((q->check && lookup_check(s, q->check, &id, err, sizeof(err)) < 0) ||
	    !(st = prep(s,
	                "SELECT d.ts_ms, c.name, d.channel, d.event, d.attempt, d.ok, d.detail"
	                " FROM deliveries d LEFT JOIN checks c ON c.id = d.check_id"
	                " WHERE ?1 IS NULL OR d.check_id = ?1 ORDER BY d.ts_ms DESC,"
	                " d.rowid DESC LIMIT ?2",
	                err, sizeof(err)))) {
		cb(NULL, 0, errno, err, arg);
		return;
	}
	if (q->check)
		sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, clamp_limit(q->limit));
	while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(r = grow(rows, &cap, n, sizeof(*rows)))) {
			bad = 1;
			break;
		}
		rows = r;
		r = &rows[n++];
		r->ts_ms = sqlite3_column_int64(st, 0);
		r->check = col_text(st, 1, &a);
		r->channel = col_text(st, 2, &a);
		r->event = col_text(st, 3, &a);
		r->attempt = col_i64(st, 4);
		r->ok = sqlite3_column_int(st, 5) != 0;
		r->detail = col_text(st, 6, &a);
	}
	e = read_end(s, rc, bad || a.bad, err, sizeof(err));
	sqlite3_finalize(st);
	if (e)
		cb(NULL, 0, e, err, arg);
	else
		cb(rows, n, 0, NULL, arg);
	free(rows);
	arena_free(&a);
}

/* ---- status ---- */

/* What one status read collects; the row pointers are set once every array stops moving. */
struct status_acc {
	struct arena a;
	struct store_state_row *checks;
	struct store_result_row *last; /* parallel to checks */
	struct store_incident_row *inc;
	int *has_last, *has_inc;
	size_t n, cap;
	struct store_channel_row *ch;
	size_t nch, capch;
	struct store_removed_row *rm;
	size_t nrm, caprm;
	int bad;
};

static void status_acc_free(struct status_acc *c)
{
	arena_free(&c->a);
	free(c->checks);
	free(c->last);
	free(c->inc);
	free(c->has_last);
	free(c->has_inc);
	free(c->ch);
	free(c->rm);
}

/* Grow one of the parallel arrays of c to the capacity the first one takes. */
#define STATUS_GROW(c, f, cap)                                                                     \
	do {                                                                                       \
		size_t cap2_ = (c)->cap;                                                           \
		void *v_ = grow((c)->f, &cap2_, (c)->n, sizeof(*(c)->f));                          \
		if (!v_)                                                                           \
			return -1; /* grown arrays keep their rows; c->cap is unchanged */         \
		(c)->f = v_;                                                                       \
		(cap) = cap2_;                                                                     \
	} while (0)

static int status_room(struct status_acc *c)
{
	size_t cap = c->cap;

	if (c->n < c->cap)
		return 0;
	STATUS_GROW(c, checks, cap);
	STATUS_GROW(c, last, cap);
	STATUS_GROW(c, inc, cap);
	STATUS_GROW(c, has_last, cap);
	STATUS_GROW(c, has_inc, cap);
	c->cap = cap;
	return 0;
}
#undef STATUS_GROW

/* The state, last result and open incident of one check; -1 on SQLite's failure. */
static int status_check(sqlite3_stmt *const q[3], int64_t id, const char *name,
                        struct status_acc *c)
{
	struct store_state_row *o;
	struct store_result_row *l;
	int rc, dberr = 0;

	if (status_room(c) < 0) {
		c->bad = 1;
		return 0;
	}
	o = &c->checks[c->n];
	l = &c->last[c->n];
	memset(o, 0, sizeof(*o));
	memset(l, 0, sizeof(*l));
	c->has_last[c->n] = c->has_inc[c->n] = 0;
	o->check = arena_copy(&c->a, name, strlen(name));
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(q[i], 1, id);
	/* The state: the last transition, if there was one. */
	rc = sqlite3_step(q[0]);
	if (rc == SQLITE_ROW) {
		o->has_state = 1;
		o->state = sqlite3_column_int(q[0], 0);
		o->state_since_ms = sqlite3_column_int64(q[0], 1);
		o->state_reason = col_text(q[0], 2, &c->a);
		o->state_message = col_text(q[0], 3, &c->a);
		o->state_severity = col_severity(q[0], 4, 0);
	} else if (rc != SQLITE_DONE) {
		dberr = 1;
	}
	/* The last result. */
	rc = sqlite3_step(q[1]);
	if (rc == SQLITE_ROW) {
		c->has_last[c->n] = 1;
		l->ts_ms = sqlite3_column_int64(q[1], 0);
		l->location = col_text(q[1], 1, &c->a);
		l->status = sqlite3_column_int(q[1], 2);
		l->reason = col_text(q[1], 3, &c->a);
		l->message = col_text(q[1], 4, &c->a);
		l->ttg_us = col_i64(q[1], 5);
		l->severity = col_severity(q[1], 6, 2);
		l->warnings = col_text(q[1], 7, &c->a);
	} else if (rc != SQLITE_DONE) {
		dberr = 1;
	}
	/* The open incident. */
	rc = sqlite3_step(q[2]);
	if (rc == SQLITE_ROW) {
		c->has_inc[c->n] = 1;
		incident_row(q[2], &c->a, &c->inc[c->n]);
	} else if (rc != SQLITE_DONE) {
		dberr = 1;
	}
	for (int i = 0; i < 3; i++)
		sqlite3_reset(q[i]);
	c->n++;
	return dberr ? -1 : 0;
}

/*
 * Each notification channel's last attempt and its failures over the last
 * day, so a channel that stopped delivering shows on `mailpulse status`,
 * not only in the log.
 */
static int status_channels(struct sq *s, struct status_acc *c, int64_t now, char *err,
                           size_t errlen)
{
	static const char sql[] =
	    "SELECT d.channel, d.ts_ms, d.ok, d.detail, d.event, c.name,"
	    " (SELECT COUNT(*) FROM deliveries f WHERE f.channel = d.channel AND f.ok = 0"
	    "  AND f.ts_ms >= ?1),"
	    " (SELECT COUNT(*) FROM deliveries f WHERE f.channel = d.channel AND f.ts_ms >= ?1)"
	    " FROM deliveries d LEFT JOIN checks c ON c.id = d.check_id"
	    " WHERE d.rowid = (SELECT rowid FROM deliveries x WHERE x.channel = d.channel"
	    "  ORDER BY ts_ms DESC, rowid DESC LIMIT 1)"
	    " ORDER BY d.channel";
	sqlite3_stmt *st = prep(s, sql, err, errlen);
	int rc = SQLITE_DONE;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, now - 86400000);
	while (!c->bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_channel_row *r = grow(c->ch, &c->capch, c->nch, sizeof(*c->ch));

		if (!r) {
			c->bad = 1;
			break;
		}
		c->ch = r;
		r = &c->ch[c->nch++];
		r->channel = col_text(st, 0, &c->a);
		r->last_ms = sqlite3_column_int64(st, 1);
		r->last_ok = sqlite3_column_int(st, 2) != 0;
		r->last_detail = col_text(st, 3, &c->a);
		r->last_event = col_text(st, 4, &c->a);
		r->last_check = col_text(st, 5, &c->a);
		r->failures_24h = sqlite3_column_int64(st, 6);
		r->attempts_24h = sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	return c->bad || rc == SQLITE_DONE ? 0 : -1;
}

/* Checks that left the configuration, newest first: not current, history still readable. */
static int status_removed(struct sq *s, struct status_acc *c, char *err, size_t errlen)
{
	sqlite3_stmt *st = prep(s,
	                        "SELECT name, removed_ms FROM checks WHERE removed_ms IS NOT NULL"
	                        " ORDER BY removed_ms DESC, name LIMIT ?1",
	                        err, errlen);
	int rc = SQLITE_DONE;

	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, LIMIT_MAX);
	while (!c->bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_removed_row *r = grow(c->rm, &c->caprm, c->nrm, sizeof(*c->rm));

		if (!r) {
			c->bad = 1;
			break;
		}
		c->rm = r;
		r = &c->rm[c->nrm++];
		r->check = col_text(st, 0, &c->a);
		r->removed_ms = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return c->bad || rc == SQLITE_DONE ? 0 : -1;
}

static void sq_status(void *db, store_status_cb cb, void *arg)
{
	static const char *const sql[3] = {
	    "SELECT to_status, ts_ms, reason, message, to_severity FROM transitions"
	    " WHERE check_id = ?1 ORDER BY ts_ms DESC, rowid DESC LIMIT 1",
	    "SELECT ts_ms, location, status, reason, message, ttg_us, severity, warnings"
	    " FROM results WHERE check_id = ?1 ORDER BY ts_ms DESC, location DESC LIMIT 1",
	    "SELECT id, start_ms, end_ms, reason, message, duration_ms, NULL, close_reason"
	    " FROM incidents WHERE check_id = ?1 AND end_ms IS NULL ORDER BY start_ms DESC LIMIT 1",
	};
	struct sq *s = db;
	struct status_acc c = {0};
	struct store_status_rows sr = {.now_ms = wall_now_ms()};
	sqlite3_stmt *checks, *q[3] = {NULL, NULL, NULL};
	char err[512] = "";
	int rc = SQLITE_DONE, e = EIO;

	checks = prep(s, "SELECT id, name FROM checks WHERE removed_ms IS NULL ORDER BY name", err,
	              sizeof(err));
	for (int i = 0; checks && i < 3; i++)
		if (!(q[i] = prep(s, sql[i], err, sizeof(err))))
			goto out;
	if (!checks)
		goto out;
	while (!c.bad && (rc = sqlite3_step(checks)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(checks, 1);

		if (status_check(q, sqlite3_column_int64(checks, 0), name ? name : "", &c) < 0) {
			rc = SQLITE_ERROR;
			break;
		}
	}
	if (rc == SQLITE_ERROR || (rc != SQLITE_DONE && !c.bad)) {
		db_err(s, err, sizeof(err), "query");
		goto out;
	}
	if (!c.bad && (status_channels(s, &c, sr.now_ms, err, sizeof(err)) < 0 ||
	               status_removed(s, &c, err, sizeof(err)) < 0)) {
		db_err(s, err, sizeof(err), "query");
		goto out;
	}
	e = read_end(s, SQLITE_DONE, c.bad || c.a.bad, err, sizeof(err));
out:
	sqlite3_finalize(checks);
	for (int i = 0; i < 3; i++)
		sqlite3_finalize(q[i]);
	if (e) {
		cb(NULL, e, err, arg);
	} else {
		for (size_t i = 0; i < c.n; i++) {
			c.checks[i].last = c.has_last[i] ? &c.last[i] : NULL;
			c.checks[i].incident = c.has_inc[i] ? &c.inc[i] : NULL;
		}
		sr.checks = c.checks;
		sr.nchecks = c.n;
		sr.channels = c.ch;
		sr.nchannels = c.nch;
		sr.removed = c.rm;
		sr.nremoved = c.nrm;
		cb(&sr, 0, NULL, arg);
	}
	status_acc_free(&c);
}

static int sq_load_states(void *db, store_state_cb cb, void *arg)
{
	struct sq *s = db;
	/* The last transition of every check that has one. */
	static const char sql[] =
	    "SELECT c.name, t.to_status, t.reason, t.ts_ms,"
	    " EXISTS (SELECT 1 FROM incidents i WHERE i.check_id = c.id AND i.end_ms IS NULL),"
	    " t.to_severity, (SELECT max(start_ms) FROM incidents i WHERE i.check_id = c.id"
	    " AND i.end_ms IS NULL), (SELECT value FROM meta WHERE key = 'alert/' || c.name)"
	    " FROM checks c JOIN transitions t ON t.rowid = (SELECT rowid FROM transitions"
	    " WHERE check_id = c.id ORDER BY ts_ms DESC, rowid DESC LIMIT 1)"
	    " ORDER BY c.name";
	sqlite3_stmt *st;
	int rc;

	st = prep(s, sql, s->err, sizeof(s->err));
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_state ss;
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *why = (const char *)sqlite3_column_text(st, 2);
		int status = sqlite3_column_int(st, 1),
		    reason = why ? result_reason_parse(why) : -1;

		memset(&ss, 0, sizeof(ss));
		snprintf(ss.check, sizeof(ss.check), "%s", name ? name : "");
		ss.status =
		    status >= MP_UP && status <= MP_UNKNOWN ? (enum mp_status)status : MP_UNKNOWN;
		/* A reason this build does not know came from a newer one: call it ours. */
		ss.reason = reason >= 0 ? (enum mp_reason)reason : MP_R_INTERNAL;
		ss.since_ms = sqlite3_column_int64(st, 3);
		ss.incident_open = sqlite3_column_int(st, 4);
		int sev =
		    sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5);
		ss.severity = sev >= MP_SEV_OK && sev <= MP_SEV_UNKNOWN
		                  ? (enum mp_severity)sev
		                  : result_default_severity(ss.status);
		ss.incident_start_ms = sqlite3_column_int64(st, 6);
		store_alert_parse(&ss, (const char *)sqlite3_column_text(st, 7));
		cb(&ss, arg);
	}
	if (rc != SQLITE_DONE)
		db_err(s, s->err, sizeof(s->err), "loading states");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_each_check(void *db, store_check_cb cb, void *arg)
{
	struct sq *s = db;
	sqlite3_stmt *st;
	int rc;

	st = prep(s, "SELECT name, removed_ms IS NOT NULL FROM checks ORDER BY name", s->err,
	          sizeof(s->err));
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (name)
			cb(name, sqlite3_column_int(st, 1), arg);
	}
	if (rc != SQLITE_DONE)
		db_err(s, s->err, sizeof(s->err), "listing checks");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

const struct store_backend store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .flush = sq_flush,
    .retention = sq_retention,
    .load_states = sq_load_states,
    .each_check = sq_each_check,
    .file_check = sq_file_check,
    .reopen = sq_reopen,
    .interrupt = sq_interrupt,
    .errmsg = sq_errmsg,
    .history = sq_history,
    .uptime = sq_uptime,
    .counts = sq_counts,
    .series = sq_series,
    .incidents = sq_incidents,
    .deliveries = sq_deliveries,
    .status = sq_status,
};
