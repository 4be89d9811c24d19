/* SPDX-License-Identifier: ISC */
/*
 * test_store.c - the SQLite store: migrations, batched writes, the queue's
 * bound, incidents, retention into hourly roll-ups, states and queries;
 * the writer's lock, and a file deleted or replaced under the writer.
 * Every test works in a fresh directory under /tmp.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/result.h"
#include "store/store.h"

#define HOUR_MS (3600LL * 1000)
#define DAY_MS  (24 * HOUR_MS)
/* 2024-05-01T00:00:00Z: a whole UTC day, so hours line up in the assertions. */
#define T0 1714521600000LL

struct fixture {
	char dir[64];
	char path[96];
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mp-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	assert_int_equal(store_open(&f->s, f->path, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const files[] = {"store.db", "other.db", "moved.db", "junk"};
	static const char *const sides[] = {"", "-wal", "-shm", ".lock"};
	char p[160];

	store_close(f->s);
	/* The WAL side files and the lock may or may not be there. */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		for (size_t j = 0; j < sizeof(sides) / sizeof(sides[0]); j++) {
			snprintf(p, sizeof(p), "%s/%s%s", f->dir, files[i], sides[j]);
			unlink(p);
		}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A result as the probe would leave it: up, with a greeting time and TLS facts. */
static void mkresult(struct result *r, enum mp_status st, enum mp_reason why, int64_t ttg_us)
{
	memset(r, 0, sizeof(*r));
	result_init(r, 0);
	r->status = st;
	r->severity = result_default_severity(st);
	r->reason = why;
	snprintf(r->message, sizeof(r->message), "%s", st == MP_UP ? "" : "connection refused");
	snprintf(r->address, sizeof(r->address), "192.0.2.1:993");
	r->ttg_us = ttg_us;
	r->phase_us[MP_PH_CONNECT] = 1000;
	r->phase_us[MP_PH_TOTAL] = ttg_us > 0 ? ttg_us + 500 : 2000;
	r->messages = -1;
	r->tls.used = 1;
	snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.3");
	r->tls.chain_len = 1;
	snprintf(r->tls.chain[0].subject, sizeof(r->tls.chain[0].subject), "CN=mail.example.org");
	snprintf(r->tls.chain[0].issuer, sizeof(r->tls.chain[0].issuer), "CN=Test CA");
	snprintf(r->tls.chain[0].sha256, sizeof(r->tls.chain[0].sha256), "%064d", 7);
	r->tls.chain[0].not_after = 1735689600; /* 2025-01-01 */
	r->tls.days_left = 42;
}

static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_migrate_empty(void **state)
{
	struct fixture *f = *state;
	char err[256];

	assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key = 'schema_version'"),
	                 store_schema_version());
	/* Reopening changes nothing. */
	int64_t objects = sql_int(f->path, "SELECT count(*) FROM sqlite_master");
	assert_true(objects >= 7);
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->path, err, sizeof(err)), 0);
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->path, err, sizeof(err)), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master"), objects);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM meta"), 1);
}

static void test_wal_mode(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store *s = (struct store *)1;
	char p[128], err[256], want[64];

	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	sql_exec(p, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	            "INSERT INTO meta VALUES ('schema_version', '99');");
	assert_int_equal(store_open(&s, p, err, sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "99"));
	snprintf(want, sizeof(want), "version %d", store_schema_version());
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, p));
	/* Refused means untouched: no new tables, still not in WAL mode. */
	assert_int_equal(sql_int(p, "SELECT count(*) FROM sqlite_master"), 2);
	assert_int_equal(sql_int(p, "SELECT journal_mode = 'delete' FROM pragma_journal_mode"), 1);
	unlink(p);
}

static void test_foreign_database_refused(void **state)
{
	struct fixture *f = *state;
	struct store *s;
	char p[128], err[256];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	sql_exec(p, "CREATE TABLE accounts (name TEXT);");
	assert_int_equal(store_open(&s, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a mailpulse store"));
	unlink(p);

	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("this is not a database, just text long enough to have a header of sorts......"
	      "...............................................................................",
	      fp);
	fclose(fp);
	assert_int_equal(store_open(&s, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, p));
	unlink(p);
}

static void test_batched_writes(void **state)
{
	struct fixture *f = *state;
	struct result r;

	for (int i = 0; i < 1000; i++) {
		mkresult(&r, i % 10 ? MP_UP : MP_DOWN, i % 10 ? MP_R_OK : MP_R_REFUSED, 1000 + i);
		assert_int_equal(
		    store_add_result(f->s, i % 2 ? "imap-a" : "pop-b", "local", T0 + i * 1000, &r),
		    0);
	}
	assert_int_equal(store_queued(f->s), 1000);
	/* Queued rows are in memory only. */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 0);
	assert_int_equal(store_flush(f->s), 1000);
	assert_int_equal(store_queued(f->s), 0);
	assert_int_equal(store_flush(f->s), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 1000);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM checks"), 2);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results WHERE status = 2"), 100);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results WHERE reason = 'refused'"),
	                 100);
	/* Unreached phases are NULL, not -1. */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results WHERE dns_us IS NULL"),
	                 1000);
	assert_int_equal(sql_int(f->path, "SELECT max(ttg_us) FROM results"), 1999);
	assert_int_equal(sql_int(f->path, "SELECT cert_not_after FROM results LIMIT 1"),
	                 1735689600);
	assert_int_equal(sql_int(f->path, "SELECT cert_days_left FROM results LIMIT 1"), 42);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results WHERE messages IS NULL"),
	                 1000);
}

static void test_history_query(void **state)
{
	struct fixture *f = *state;
	struct result r;
	char err[256];
	json_t *h, *a, *first;

	for (int i = 0; i < 20; i++) {
		mkresult(&r, MP_UP, MP_R_OK, 5000 + i);
		assert_int_equal(store_add_result(f->s, "imap-a", "local", T0 + i * 60000, &r), 0);
	}
	assert_int_equal(store_flush(f->s), 20);
	h = store_q_history(f->s, "imap-a", T0 + 5 * 60000, T0 + 15 * 60000, 3, err, sizeof(err));
	assert_non_null(h);
	a = json_object_get(h, "results");
	assert_int_equal(json_array_size(a), 3);
	first = json_array_get(a, 0);
	/* Newest first, within [since, until). */
	assert_int_equal(json_integer_value(json_object_get(first, "ts_ms")), T0 + 14 * 60000);
	assert_string_equal(json_string_value(json_object_get(first, "status")), "up");
	assert_true(json_real_value(json_object_get(first, "time_to_greeting_ms")) == 5.014);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(first, "tls"), "version")),
	    "TLSv1.3");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(first, "tls"), "not_after")),
	    "2025-01-01T00:00:00Z");
	assert_true(json_is_null(json_object_get(json_object_get(first, "timings_ms"), "dns")));
	json_decref(h);

	errno = 0;
	assert_null(store_q_history(f->s, "nope", 0, 0, 10, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "nope"));
}

static void test_queue_full(void **state)
{
	struct fixture *f = *state;
	struct result r;
	int n = 0;

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	while (store_add_result(f->s, "imap-a", "local", T0 + n, &r) == 0)
		n++;
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(n, STORE_QUEUE_MAX);
	assert_int_equal(store_queued(f->s), STORE_QUEUE_MAX);
	/* Other kinds of row are refused too, not dropped. */
	assert_int_equal(store_add_transition(f->s, "imap-a", T0, MP_UP, MP_DOWN, MP_SEV_CRITICAL,
	                                      MP_R_DNS, "x"),
	                 -1);
	assert_int_equal(store_flush(f->s), STORE_QUEUE_MAX);
	assert_int_equal(store_add_result(f->s, "imap-a", "local", T0, &r), 0);
	assert_int_equal(store_flush(f->s), 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), STORE_QUEUE_MAX + 1);
}

static void test_bad_names(void **state)
{
	struct fixture *f = *state;
	struct result r;
	char longname[80];

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(store_add_result(f->s, "", "local", T0, &r), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_add_result(f->s, longname, "local", T0, &r), -1);
	assert_int_equal(store_incident_open(f->s, NULL, T0, MP_R_DNS, "x"), -1);
	assert_int_equal(store_queued(f->s), 0);
}

static void test_flush_failure_keeps_rows(void **state)
{
	struct fixture *f = *state;
	struct result r;
	sqlite3 *db;

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(store_add_result(f->s, "imap-a", "local", T0 + i, &r), 0);
	/* Another process holds the write lock past the busy timeout. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_flush(f->s), -1);
	/* The path, what was being done, SQLite's own words and the name of its code. */
	assert_non_null(strstr(store_errmsg(f->s), f->path));
	assert_non_null(strstr(store_errmsg(f->s), "beginning a write: database is locked"));
	assert_non_null(strstr(store_errmsg(f->s), "(SQLITE_BUSY)"));
	assert_int_equal(store_queued(f->s), 10);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_flush(f->s), 10);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 10);
}

static void test_incidents(void **state)
{
	struct fixture *f = *state;
	char err[256];
	json_t *j, *inc, *c;

	assert_int_equal(store_add_transition(f->s, "imap-a", T0, MP_UP, MP_DOWN, MP_SEV_CRITICAL,
	                                      MP_R_REFUSED, "refused"),
	                 0);
	assert_int_equal(store_incident_open(f->s, "imap-a", T0, MP_R_REFUSED, "refused"), 0);
	/* A second open while one is open keeps the first cause. */
	assert_int_equal(store_incident_open(f->s, "imap-a", T0 + 1000, MP_R_DNS, "dns"), 0);
	assert_int_equal(store_add_transition(f->s, "imap-a", T0 + 7980000, MP_DOWN, MP_UP,
	                                      MP_SEV_OK, MP_R_OK, "recovered"),
	                 0);
	assert_int_equal(store_incident_close(f->s, "imap-a", T0 + 7980000), 0);
	assert_int_equal(
	    store_incident_open(f->s, "pop-b", T0 + HOUR_MS, MP_R_TIMEOUT, "timed out"), 0);
	assert_int_equal(store_add_transition(f->s, "pop-b", T0 + HOUR_MS, MP_UP, MP_DOWN,
	                                      MP_SEV_CRITICAL, MP_R_TIMEOUT, "timed out"),
	                 0);
	assert_int_equal(store_add_delivery(f->s, "pop-b", "ops", "down", 1, 0, "HTTP 502", T0 + 5),
	                 0);
	assert_int_equal(store_add_delivery(f->s, "pop-b", "ops", "down", 2, 1, "HTTP 200", T0 + 6),
	                 0);
	assert_int_equal(store_add_delivery(f->s, NULL, "ops", "test", 1, 1, "", T0 + 7), 0);
	assert_int_equal(store_flush(f->s), 10);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM incidents"), 2);
	assert_int_equal(
	    sql_int(f->path, "SELECT duration_ms FROM incidents WHERE end_ms IS NOT NULL"),
	    7980000);

	j = store_q_incidents(f->s, NULL, 0, 0, err, sizeof(err));
	assert_non_null(j);
	inc = json_object_get(j, "incidents");
	assert_int_equal(json_array_size(inc), 2);
	/* Newest first: pop-b's open one. */
	c = json_array_get(inc, 0);
	assert_string_equal(json_string_value(json_object_get(c, "check")), "pop-b");
	assert_true(json_is_true(json_object_get(c, "open")));
	assert_true(json_is_null(json_object_get(c, "end")));
	c = json_array_get(inc, 1);
	assert_string_equal(json_string_value(json_object_get(c, "reason")), "refused");
	assert_int_equal(json_integer_value(json_object_get(c, "duration_ms")), 7980000);
	assert_string_equal(json_string_value(json_object_get(c, "start")), "2024-05-01T00:00:00Z");
	json_decref(j);

	/* Since excludes incidents that ended before it. */
	j = store_q_incidents(f->s, "imap-a", T0 + 3 * HOUR_MS, 0, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "incidents")), 0);
	json_decref(j);

	j = store_q_status(f->s, err, sizeof(err));
	assert_non_null(j);
	inc = json_object_get(j, "checks");
	assert_int_equal(json_array_size(inc), 2);
	c = json_array_get(inc, 0);
	assert_string_equal(json_string_value(json_object_get(c, "check")), "imap-a");
	assert_string_equal(json_string_value(json_object_get(c, "state")), "up");
	assert_int_equal(json_integer_value(json_object_get(c, "state_since_ms")), T0 + 7980000);
	assert_true(json_is_null(json_object_get(c, "incident")));
	assert_true(json_is_null(json_object_get(c, "last")));
	c = json_array_get(inc, 1);
	assert_string_equal(json_string_value(json_object_get(c, "state")), "down");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(c, "incident"), "reason")),
	    "timeout");
	json_decref(j);

	j = store_q_deliveries(f->s, "pop-b", 0, err, sizeof(err));
	assert_non_null(j);
	inc = json_object_get(j, "deliveries");
	assert_int_equal(json_array_size(inc), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(inc, 0), "attempt")), 2);
	assert_true(json_is_true(json_object_get(json_array_get(inc, 0), "ok")));
	json_decref(j);
	j = store_q_deliveries(f->s, NULL, 0, err, sizeof(err));
	assert_int_equal(json_array_size(json_object_get(j, "deliveries")), 3);
	assert_true(json_is_null(
	    json_object_get(json_array_get(json_object_get(j, "deliveries"), 0), "check")));
	json_decref(j);
}

struct states {
	int n;
	struct store_state st[4];
};

static void collect(const struct store_state *st, void *arg)
{
	struct states *ss = arg;

	if (ss->n < 4)
		ss->st[ss->n] = *st;
	ss->n++;
}

static void test_load_states(void **state)
{
	struct fixture *f = *state;
	struct states ss = {0};
	char err[256];

	assert_int_equal(store_add_transition(f->s, "imap-a", T0, MP_UP, MP_DOWN, MP_SEV_CRITICAL,
	                                      MP_R_TIMEOUT, "t"),
	                 0);
	assert_int_equal(store_add_transition(f->s, "imap-a", T0 + 10, MP_DOWN, MP_DEGRADED,
	                                      MP_SEV_WARNING, MP_R_SLOW, "slow"),
	                 0);
	assert_int_equal(store_add_transition(f->s, "pop-b", T0 + 5, MP_UP, MP_DOWN,
	                                      MP_SEV_CRITICAL, MP_R_CERT_EXPIRED, "expired"),
	                 0);
	assert_int_equal(store_incident_open(f->s, "pop-b", T0 + 5, MP_R_CERT_EXPIRED, "expired"),
	                 0);
	/* A check with results but no transition has no state to resume. */
	struct result r;
	mkresult(&r, MP_UP, MP_R_OK, 10);
	assert_int_equal(store_add_result(f->s, "never-changed", "local", T0, &r), 0);
	/* Still queued: load_states must see it all the same. */
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->path, err, sizeof(err)), 0);
	assert_int_equal(store_load_states(f->s, collect, &ss), 0);
	assert_int_equal(ss.n, 2);
	assert_string_equal(ss.st[0].check, "imap-a");
	assert_int_equal(ss.st[0].status, MP_DEGRADED);
	assert_int_equal(ss.st[0].reason, MP_R_SLOW);
	assert_int_equal(ss.st[0].since_ms, T0 + 10);
	assert_int_equal(ss.st[0].incident_open, 0);
	assert_string_equal(ss.st[1].check, "pop-b");
	assert_int_equal(ss.st[1].status, MP_DOWN);
	assert_int_equal(ss.st[1].reason, MP_R_CERT_EXPIRED);
	assert_int_equal(ss.st[1].incident_open, 1);

	/* Queued rows are flushed before loading. */
	ss.n = 0;
	assert_int_equal(
	    store_add_transition(f->s, "pop-b", T0 + 99, MP_DOWN, MP_UP, MP_SEV_OK, MP_R_OK, ""),
	    0);
	assert_int_equal(store_load_states(f->s, collect, &ss), 0);
	assert_int_equal(ss.n, 2);
	assert_int_equal(ss.st[1].status, MP_UP);
	assert_int_equal(ss.st[1].since_ms, T0 + 99);
}

/* Schema version 1 as it was published: frozen here, whatever store.c becomes. */
static const char schema_v1_frozen[] =
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
 * A version 1 store: a slow (critical) result and a certificate inside its
 * critical window were stored as down, with a transition and an open
 * incident. After the migration they are degraded and critical, so uptime
 * counts them as up, and the incident they opened is closed; a real outage
 * keeps its status, its severity follows it, and its incident stays open.
 */
static void test_migrate_v1_severity(void **state)
{
	struct fixture *f = *state;
	struct store *s;
	struct states ss = {0};
	char p[128], err[256];
	json_t *u;

	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	sql_exec(p, schema_v1_frozen);
	sql_exec(p,
	         "INSERT INTO meta VALUES ('schema_version', '1');"
	         "INSERT INTO checks (id, name) VALUES (1, 'cert'), (2, 'dead');"
	         "INSERT INTO results (check_id, ts_ms, location, status, reason, message) VALUES"
	         " (1, 1714521600000, 'local', 0, 'ok', ''),"
	         " (1, 1714521660000, 'local', 2, 'cert_expiring', 'expires in 5 days'),"
	         " (1, 1714521720000, 'local', 2, 'slow', 'greeting took 3000 ms'),"
	         " (1, 1714521780000, 'local', 1, 'cert_expiring', 'expires in 10 days'),"
	         " (2, 1714521600000, 'local', 2, 'refused', 'refused');"
	         "INSERT INTO transitions VALUES (1, 1714521660000, 0, 2, 'cert_expiring', 'x'),"
	         " (2, 1714521600000, 0, 2, 'refused', 'refused');"
	         "INSERT INTO incidents (check_id, start_ms, reason, message) VALUES"
	         " (1, 1714521660000, 'cert_expiring', 'x'), (2, 1714521600000, 'refused', 'r');");
	assert_int_equal(store_open(&s, p, err, sizeof(err)), 0);
	assert_int_equal(sql_int(p, "SELECT value FROM meta WHERE key = 'schema_version'"),
	                 store_schema_version());
	assert_int_equal(sql_int(p, "SELECT count(*) FROM results WHERE status = 2"), 1);
	assert_int_equal(sql_int(p, "SELECT count(*) FROM results WHERE check_id = 1 AND status = 1"
	                            " AND severity = 2"),
	                 2);
	assert_int_equal(
	    sql_int(p, "SELECT severity FROM results WHERE message = 'expires in 10 days'"),
	    MP_SEV_WARNING);
	assert_int_equal(sql_int(p, "SELECT severity FROM results WHERE check_id = 2"),
	                 MP_SEV_CRITICAL);
	assert_int_equal(sql_int(p, "SELECT count(*) FROM incidents WHERE check_id = 1"
	                            " AND end_ms IS NOT NULL"),
	                 1);
	assert_int_equal(sql_int(p, "SELECT count(*) FROM incidents WHERE check_id = 2"
	                            " AND end_ms IS NULL"),
	                 1);
	u = store_q_uptime(s, "cert", 0, 0, err, sizeof(err));
	assert_non_null(u);
	assert_int_equal(json_integer_value(json_object_get(u, "up")), 4);
	json_decref(u);
	assert_int_equal(store_load_states(s, collect, &ss), 0);
	assert_int_equal(ss.n, 2);
	assert_string_equal(ss.st[0].check, "cert");
	assert_int_equal(ss.st[0].status, MP_DEGRADED);
	assert_int_equal(ss.st[0].severity, MP_SEV_CRITICAL);
	assert_int_equal(ss.st[0].incident_open, 0);
	assert_int_equal(ss.st[1].status, MP_DOWN);
	assert_int_equal(ss.st[1].severity, MP_SEV_CRITICAL);
	assert_int_equal(ss.st[1].incident_open, 1);
	assert_int_equal(ss.st[1].incident_start_ms, 1714521600000LL);
	store_close(s);
}

/* What versions 2 and 3 added, as published: with schema_v1_frozen, a version 3 store. */
static const char schema_v3_frozen[] =
    "ALTER TABLE results ADD COLUMN severity INTEGER;\n"
    "ALTER TABLE results ADD COLUMN warnings TEXT;\n"
    "ALTER TABLE transitions ADD COLUMN to_severity INTEGER;\n"
    "ALTER TABLE results ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE rollups ADD COLUMN maint_count INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE rollups ADD COLUMN maint_up_count INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE incidents ADD COLUMN close_reason TEXT;\n"
    "ALTER TABLE checks ADD COLUMN removed_ms INTEGER;\n";

/* The string at key of o, or "(null)" when it is JSON null: one assertion covers both. */
static const char *jget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	return json_is_null(v) ? "(null)" : json_string_value(v);
}

/*
 * A version 3 store, whose cert_not_after column holds the leaf's date:
 * migrated, its row keeps every value, shows that date as tls.not_after
 * and tls.leaf_not_after, and has no first-to-expire date nor path (never
 * kept, so null, not guessed). A result written after the migration, whose
 * intermediate expires before its leaf, has the wire's meanings: cert_not_after
 * the intermediate's, leaf_not_after and not_after the leaf's, and its path.
 */
static void test_migrate_v3_wire_names(void **state)
{
	struct fixture *f = *state;
	struct store *s;
	struct result r;
	char p[128], err[256];
	json_t *h, *old, *nw;

	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	sql_exec(p, schema_v1_frozen);
	sql_exec(p, schema_v3_frozen);
	sql_exec(p, "INSERT INTO meta VALUES ('schema_version', '3');"
	            "INSERT INTO checks (id, name) VALUES (1, 'imap-a');"
	            "INSERT INTO results (check_id, ts_ms, location, status, reason, message,"
	            " tls_version, cert_days_left, cert_not_after, cert_subject, severity)"
	            " VALUES (1, 1714521600000, 'local', 0, 'ok', 'old', 'TLSv1.3', 42,"
	            " 1735689600, 'CN=old', 0);");
	assert_int_equal(store_open(&s, p, err, sizeof(err)), 0);
	assert_int_equal(sql_int(p, "SELECT value FROM meta WHERE key = 'schema_version'"),
	                 store_schema_version());
	assert_true(store_schema_version() >= 4);
	assert_int_equal(sql_int(p, "SELECT cert_not_after FROM results"), 1735689600);

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	snprintf(r.path, sizeof(r.path), "dns>connect>tls>greeting>capability>logout");
	r.tls.chain_len = 2;
	snprintf(r.tls.chain[1].subject, sizeof(r.tls.chain[1].subject), "CN=Test CA");
	snprintf(r.tls.chain[1].issuer, sizeof(r.tls.chain[1].issuer), "CN=Root");
	r.tls.chain[1].not_after = 1733011200; /* 2024-12-01, before the leaf's 2025-01-01 */
	r.tls.earliest = 1;
	r.tls.days_left = 11;
	assert_int_equal(store_add_result(s, "imap-a", "local", 1714521660000LL, &r), 0);
	assert_int_equal(store_flush(s), 1);

	h = store_q_history(s, "imap-a", 0, 0, 0, err, sizeof(err));
	assert_non_null(h);
	assert_int_equal(json_array_size(json_object_get(h, "results")), 2);
	nw = json_array_get(json_object_get(h, "results"), 0);
	old = json_array_get(json_object_get(h, "results"), 1);
	assert_string_equal(jget(old, "message"), "old");
	assert_string_equal(jget(old, "path"), "(null)");
	old = json_object_get(old, "tls");
	assert_string_equal(jget(old, "not_after"), "2025-01-01T00:00:00Z");
	assert_string_equal(jget(old, "leaf_not_after"), "2025-01-01T00:00:00Z");
	assert_string_equal(jget(old, "cert_not_after"), "(null)");
	assert_string_equal(jget(old, "subject"), "CN=old");
	assert_int_equal(json_integer_value(json_object_get(old, "days_left")), 42);

	assert_string_equal(jget(nw, "path"), "dns>connect>tls>greeting>capability>logout");
	nw = json_object_get(nw, "tls");
	assert_string_equal(jget(nw, "cert_not_after"), "2024-12-01T00:00:00Z");
	assert_string_equal(jget(nw, "leaf_not_after"), "2025-01-01T00:00:00Z");
	assert_string_equal(jget(nw, "not_after"), "2025-01-01T00:00:00Z");
	assert_string_equal(jget(nw, "subject"), "CN=mail.example.org");
	assert_int_equal(json_integer_value(json_object_get(nw, "days_left")), 11);
	json_decref(h);
	store_close(s);
}

/* What version 4 added, as published: with the two above, a version 4 store. */
static const char schema_v4_frozen[] = "ALTER TABLE results ADD COLUMN path TEXT;\n"
                                       "ALTER TABLE results ADD COLUMN first_not_after INTEGER;\n";

/* An integer of o at key; fails when absent. */
static int64_t jint_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/*
 * A version 4 store, with raw results (one in maintenance) and a roll-up:
 * a reader refuses it until the daemon migrates it; the daemon migrates it
 * to the current version, keeping every row and the uptime version 4 gave
 * (every row counts by its status, counts_as NULL; the roll-up's uptime
 * counts from its count and maintenance counts). A result written after
 * counts as it was flagged, the old ones as before, through retention too.
 * A file of a version after this build's is refused, untouched.
 */
static void test_migrate_v4_uptime(void **state)
{
	struct fixture *f = *state;
	/* Version 4's uptime, in version 4's SQL: the figures the migration must keep. */
	static const char v4_raw_probes[] =
	    "SELECT (SELECT coalesce(sum(maintenance = 0), 0) FROM results)"
	    " + (SELECT coalesce(sum(count - maint_count), 0) FROM rollups)";
	static const char v4_raw_up[] =
	    "SELECT (SELECT coalesce(sum(status IN (0, 1) AND maintenance = 0), 0) FROM results)"
	    " + (SELECT coalesce(sum(up_count - maint_up_count), 0) FROM rollups)";
	static const char v4_raw_maint[] =
	    "SELECT (SELECT coalesce(sum(maintenance != 0), 0) FROM results)"
	    " + (SELECT coalesce(sum(maint_count), 0) FROM rollups)";
	struct store *s = (struct store *)1;
	struct result r;
	char p[128], err[256], want[96];
	int64_t probes, up, maint;
	json_t *u, *h;
	int n;

	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	sql_exec(p, schema_v1_frozen);
	sql_exec(p, schema_v3_frozen);
	sql_exec(p, schema_v4_frozen);
	sql_exec(
	    p, "INSERT INTO meta VALUES ('schema_version', '4');"
	       "INSERT INTO checks (id, name) VALUES (1, 'imap-a');"
	       "INSERT INTO results (check_id, ts_ms, location, status, reason, message, severity,"
	       " maintenance, path) VALUES"
	       " (1, 1714608000000, 'local', 0, 'ok', '', 0, 0, 'dns>connect'),"
	       " (1, 1714608060000, 'eu', 2, 'refused', 'refused', 2, 0, 'dns>connect'),"
	       " (1, 1714608120000, 'local', 1, 'slow', 'slow', 1, 0, NULL),"
	       " (1, 1714608180000, 'local', 2, 'refused', 'refused', 2, 1, NULL);"
	       "INSERT INTO rollups (check_id, hour_ms, location, count, up_count, min_ttg_us,"
	       " avg_ttg_us, p95_ttg_us, max_ttg_us, maint_count, maint_up_count) VALUES"
	       " (1, 1714521600000, 'local', 10, 8, 100, 200, 300, 400, 2, 1);");
	probes = sql_int(p, v4_raw_probes);
	up = sql_int(p, v4_raw_up);
	maint = sql_int(p, v4_raw_maint);
	assert_int_equal(probes, 3 + 8);
	assert_int_equal(up, 2 + 7);
	assert_int_equal(maint, 1 + 2);

	/* A reader does not migrate: it says so. */
	assert_int_equal(store_open_readonly(&s, p, err, sizeof(err)), -1);
	assert_null(s);
	snprintf(want, sizeof(want), "schema version 4, older than %d", store_schema_version());
	assert_non_null(strstr(err, want));

	assert_int_equal(store_open(&s, p, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version(), 5);
	assert_int_equal(sql_int(p, "SELECT value FROM meta WHERE key = 'schema_version'"), 5);
	assert_int_equal(sql_int(p, "SELECT count(*) FROM results"), 4);
	assert_int_equal(sql_int(p, "SELECT count(*) FROM results WHERE counts_as IS NULL"), 4);
	assert_int_equal(sql_int(p, "SELECT count(*) FROM rollups WHERE count = 10 AND up_count = 8"
	                            " AND uptime_count = 8 AND uptime_up = 7 AND uptime_maint = 2"),
	                 1);
	u = store_q_uptime(s, "imap-a", 0, 0, err, sizeof(err));
	assert_non_null(u);
	assert_int_equal(jint_of(u, "probes"), probes);
	assert_int_equal(jint_of(u, "up"), up);
	assert_int_equal(jint_of(u, "maintenance_probes"), maint);
	assert_true(json_is_true(json_object_get(u, "from_rollups")));
	json_decref(u);
	h = store_q_history(s, "imap-a", 0, 0, 0, err, sizeof(err));
	assert_non_null(h);
	assert_int_equal(json_array_size(json_object_get(h, "results")), 4);
	assert_true(json_is_null(
	    json_object_get(json_array_get(json_object_get(h, "results"), 0), "counts_as")));
	assert_string_equal(jget(json_array_get(json_object_get(h, "results"), 3), "path"),
	                    "dns>connect");
	json_decref(h);

	/* Written after: as flagged. Down by its verdict though this location saw it up. */
	mkresult(&r, MP_UP, MP_R_OK, 1000);
	assert_int_equal(
	    store_add_result_flags(s, "imap-a", "eu", 1714608240000LL, &r, STORE_R_COUNT_DOWN), 0);
	assert_int_equal(store_flush(s), 1);
	assert_int_equal(sql_int(p, "SELECT counts_as FROM results WHERE ts_ms = 1714608240000"),
	                 0);
	h = store_q_history(s, "imap-a", 0, 0, 1, err, sizeof(err));
	assert_non_null(h);
	assert_string_equal(jget(json_array_get(json_object_get(h, "results"), 0), "counts_as"),
	                    "down");
	json_decref(h);
	u = store_q_uptime(s, "imap-a", 0, 0, err, sizeof(err));
	assert_int_equal(jint_of(u, "probes"), probes + 1);
	assert_int_equal(jint_of(u, "up"), up);
	json_decref(u);
	/* Old and new rows rolled up together: the same figures. */
	while ((n = store_retention(s, 1714608000000LL + 3 * DAY_MS, 1, 400)) > 0)
		;
	assert_int_equal(n, 0);
	assert_int_equal(sql_int(p, "SELECT count(*) FROM results"), 0);
	u = store_q_uptime(s, "imap-a", 0, 0, err, sizeof(err));
	assert_int_equal(jint_of(u, "probes"), probes + 1);
	assert_int_equal(jint_of(u, "up"), up);
	assert_int_equal(jint_of(u, "maintenance_probes"), maint);
	json_decref(u);
	store_close(s);

	/* A file of the next version is refused, and left as it was. */
	sql_exec(p, "UPDATE meta SET value = '6' WHERE key = 'schema_version'");
	s = (struct store *)1;
	assert_int_equal(store_open(&s, p, err, sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "schema version 6, newer than version 5"));
	assert_int_equal(sql_int(p, "SELECT value FROM meta WHERE key = 'schema_version'"), 6);
}

/*
 * Four days, a result every 10 s: 360 per hour. In each hour the k-th
 * result (k = 0..359) has ttg (k + 1) * 100 us and every tenth one is down:
 * count 360, up 324, min 100, avg 18050, p95 34200 (rank 342), max 36000.
 */
static void fill_days(struct store *s)
{
	struct result r;

	for (int64_t t = T0; t < T0 + 4 * DAY_MS; t += 10000) {
		int k = (int)((t % HOUR_MS) / 10000);

		mkresult(&r, k % 10 == 9 ? MP_DOWN : MP_UP, k % 10 == 9 ? MP_R_REFUSED : MP_R_OK,
		         (k + 1) * 100);
		if (store_add_result(s, "imap-a", "local", t, &r) < 0) {
			assert_true(store_flush(s) > 0);
			assert_int_equal(store_add_result(s, "imap-a", "local", t, &r), 0);
		}
	}
	/* A second location in the first hour, with one unmeasured greeting. */
	mkresult(&r, MP_UP, MP_R_OK, 777);
	assert_int_equal(store_add_result(s, "imap-a", "remote", T0 + 5000, &r), 0);
	mkresult(&r, MP_DOWN, MP_R_TIMEOUT, -1);
	assert_int_equal(store_add_result(s, "imap-a", "remote", T0 + 6000, &r), 0);
	assert_true(store_flush(s) > 0);
}

static void test_retention(void **state)
{
	struct fixture *f = *state;
	int64_t now = T0 + 4 * DAY_MS + 30 * 60000; /* day 4, 00:30 */
	int64_t total = 4 * 24 * 360 + 2, folded = 0;
	char err[256];
	json_t *u;
	int n, calls = 0;

	fill_days(f->s);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), total);
	/* Bounded: three days of rows (25922) take two calls. */
	while ((n = store_retention(f->s, now, 1, 400)) > 0) {
		folded += n;
		calls++;
		assert_true(n < 20000 + 400);
	}
	assert_int_equal(n, 0);
	assert_int_equal(calls, 2);
	assert_int_equal(folded, 3 * 24 * 360 + 2);
	/* Raw rows older than one day (cut at the hour) are gone; the rest stay. */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 24 * 360);
	assert_int_equal(sql_int(f->path, "SELECT min(ts_ms) FROM results"), T0 + 3 * DAY_MS);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM rollups"), 72 + 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM rollups WHERE location = 'local'"
	                                  " AND count = 360 AND up_count = 324 AND min_ttg_us = 100"
	                                  " AND avg_ttg_us = 18050 AND p95_ttg_us = 34200"
	                                  " AND max_ttg_us = 36000"),
	                 72);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM rollups WHERE location = 'remote'"
	                                  " AND count = 2 AND up_count = 1 AND min_ttg_us = 777"
	                                  " AND p95_ttg_us = 777 AND max_ttg_us = 777"),
	                 1);

	/* Uptime over all four days: rolled up and raw combined. */
	u = store_q_uptime(f->s, "imap-a", T0, T0 + 4 * DAY_MS, err, sizeof(err));
	assert_non_null(u);
	assert_int_equal(json_integer_value(json_object_get(u, "probes")), total);
	assert_int_equal(json_integer_value(json_object_get(u, "up")), 4 * 24 * 324 + 1);
	assert_true(json_is_true(json_object_get(u, "from_rollups")));
	json_decref(u);
	/* The last day only: raw rows, no roll-ups. */
	u = store_q_uptime(f->s, "imap-a", T0 + 3 * DAY_MS, 0, err, sizeof(err));
	assert_non_null(u);
	assert_int_equal(json_integer_value(json_object_get(u, "probes")), 24 * 360);
	assert_true(json_real_value(json_object_get(u, "uptime_pct")) == 90.0);
	assert_true(json_is_false(json_object_get(u, "from_rollups")));
	json_decref(u);

	/* A late result for a folded hour adds to its roll-up instead of replacing it. */
	struct result r;
	mkresult(&r, MP_UP, MP_R_OK, 50);
	assert_int_equal(store_add_result(f->s, "imap-a", "local", T0 + 1000, &r), 0);
	assert_true(store_flush(f->s) >= 0);
	assert_int_equal(store_retention(f->s, now, 1, 400), 1);
	assert_int_equal(sql_int(f->path, "SELECT count FROM rollups WHERE hour_ms ="
	                                  " 1714521600000 AND location = 'local'"),
	                 361);
	assert_int_equal(sql_int(f->path, "SELECT up_count FROM rollups WHERE hour_ms ="
	                                  " 1714521600000 AND location = 'local'"),
	                 325);
	assert_int_equal(sql_int(f->path, "SELECT min_ttg_us FROM rollups WHERE hour_ms ="
	                                  " 1714521600000 AND location = 'local'"),
	                 50);

	/* Roll-ups past rollup_days go; raw rows past raw_days with them. */
	assert_int_equal(store_retention(f->s, T0 + 4 * DAY_MS + 12 * HOUR_MS, 1, 2), 12 * 360);
	assert_int_equal(sql_int(f->path, "SELECT min(hour_ms) FROM rollups"),
	                 T0 + 2 * DAY_MS + 12 * HOUR_MS);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM rollups"), 24);
	assert_int_equal(sql_int(f->path, "SELECT min(ts_ms) FROM results"),
	                 T0 + 3 * DAY_MS + 12 * HOUR_MS);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	struct store *ro;
	struct result r;
	char p[128], err[256];
	json_t *j;

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	assert_int_equal(store_add_result(f->s, "imap-a", "local", T0, &r), 0);
	assert_int_equal(store_flush(f->s), 1);
	/* Alongside the writer, as the CLI runs next to the daemon. */
	assert_int_equal(store_open_readonly(&ro, f->path, err, sizeof(err)), 0);
	j = store_q_status(ro, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "checks")), 1);
	json_decref(j);
	assert_int_equal(store_add_result(ro, "imap-a", "local", T0, &r), -1);
	assert_int_equal(errno, EROFS);
	assert_int_equal(store_retention(ro, T0, 1, 1), -1);
	assert_int_equal(store_flush(ro), 0);
	store_close(ro);

	/* Never creates a file. */
	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	assert_int_equal(store_open_readonly(&ro, p, err, sizeof(err)), -1);
	assert_int_equal(access(p, F_OK), -1);
	/* An empty SQLite file is not a store yet. */
	sql_exec(p, "PRAGMA user_version = 0");
	assert_int_equal(store_open_readonly(&ro, p, err, sizeof(err)), -1);
	unlink(p);
}

/* One writer per store; readers beside it; the lock goes with the writer. */
static void test_lock(void **state)
{
	struct fixture *f = *state;
	struct store *s2, *ro;
	char err[256], want[200], p[128];
	long pid = 0;
	FILE *lf;

	assert_int_equal(store_open(&s2, f->path, err, sizeof(err)), -1);
	assert_int_equal(errno, EBUSY);
	snprintf(want, sizeof(want), "store %s is in use by mailpulse run (pid %ld)", f->path,
	         (long)getpid());
	assert_non_null(strstr(err, want));
	snprintf(p, sizeof(p), "%s.lock", f->path);
	lf = fopen(p, "r");
	assert_non_null(lf);
	assert_int_equal(fscanf(lf, "%ld", &pid), 1);
	fclose(lf);
	assert_int_equal(pid, (long)getpid());
	/* Readers take no lock. */
	assert_int_equal(store_open_readonly(&ro, f->path, err, sizeof(err)), 0);
	store_close(ro);
	/* Closed: free again, and a clean close leaves no PID behind. */
	store_close(f->s);
	f->s = NULL;
	lf = fopen(p, "r");
	assert_non_null(lf);
	assert_int_equal(fgetc(lf), EOF);
	fclose(lf);
	assert_int_equal(store_open(&f->s, f->path, err, sizeof(err)), 0);
}

static void test_discard(void **state)
{
	struct fixture *f = *state;
	struct result r;

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_add_result(f->s, "imap-a", "local", T0 + i, &r), 0);
	assert_int_equal(store_discard(f->s), 5);
	assert_int_equal(store_queued(f->s), 0);
	assert_int_equal(store_flush(f->s), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 0);
}

/* Queue n results of imap-a from T0 + from. */
static void queue_results(struct store *s, int from, int n)
{
	struct result r;

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	for (int i = from; i < from + n; i++)
		assert_int_equal(store_add_result(s, "imap-a", "local", T0 + i, &r), 0);
}

/*
 * Deleted under the writer, -wal and -shm left behind: a new store at the
 * path gets the queued rows and nothing of the old WAL. The lock file,
 * deleted too, is taken again.
 */
static void test_reopen_deleted(void **state)
{
	struct fixture *f = *state;
	struct store *s2;
	char err[256], p[128];

	queue_results(f->s, 0, 3);
	assert_int_equal(store_flush(f->s), 3);
	queue_results(f->s, 3, 2);
	assert_int_equal(store_file_check(f->s), STORE_FILE_OK);
	assert_int_equal(unlink(f->path), 0);
	snprintf(p, sizeof(p), "%s.lock", f->path);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(store_file_check(f->s), STORE_FILE_DELETED);
	assert_int_equal(store_reopen(f->s, err, sizeof(err)), 1);
	assert_int_equal(store_file_check(f->s), STORE_FILE_OK);
	assert_int_equal(store_queued(f->s), 2);
	assert_int_equal(store_flush(f->s), 2);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 2);
	assert_int_equal(sql_int(f->path, "SELECT min(ts_ms) FROM results"), T0 + 3);
	assert_int_equal(store_open(&s2, f->path, err, sizeof(err)), -1);
	assert_int_equal(errno, EBUSY);
}

/*
 * Moved away: the moved file is complete on its own (its WAL was emptied
 * into it before the switch). Moved back over the new one, as a restore:
 * writing goes on in it.
 */
static void test_reopen_moved(void **state)
{
	struct fixture *f = *state;
	char err[256], moved[128];

	snprintf(moved, sizeof(moved), "%s/moved.db", f->dir);
	queue_results(f->s, 0, 3);
	assert_int_equal(store_flush(f->s), 3);
	assert_int_equal(rename(f->path, moved), 0);
	assert_int_equal(store_file_check(f->s), STORE_FILE_DELETED);
	assert_int_equal(store_reopen(f->s, err, sizeof(err)), 1);
	assert_int_equal(sql_int(moved, "SELECT count(*) FROM results"), 3);
	queue_results(f->s, 3, 1);
	assert_int_equal(store_flush(f->s), 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 1);

	assert_int_equal(rename(moved, f->path), 0);
	assert_int_equal(store_file_check(f->s), STORE_FILE_REPLACED);
	assert_int_equal(store_reopen(f->s, err, sizeof(err)), 0);
	queue_results(f->s, 4, 1);
	assert_int_equal(store_flush(f->s), 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 4);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM pragma_integrity_check"
	                                  " WHERE integrity_check != 'ok'"),
	                 0);
}

/* A file that is not a store is never written; rows wait until the path is fixed. */
static void test_reopen_junk(void **state)
{
	struct fixture *f = *state;
	char err[256], junk[128], buf[32] = "";
	FILE *j;

	snprintf(junk, sizeof(junk), "%s/junk", f->dir);
	j = fopen(junk, "w");
	assert_non_null(j);
	fputs("not a store\n", j);
	fclose(j);
	assert_int_equal(rename(junk, f->path), 0);
	assert_int_equal(store_file_check(f->s), STORE_FILE_REPLACED);
	assert_int_equal(store_reopen(f->s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "file is not a database (SQLITE_NOTADB)"));
	assert_int_equal(store_file_check(f->s), STORE_FILE_CLOSED);
	queue_results(f->s, 0, 2);
	assert_int_equal(store_flush(f->s), -1);
	assert_non_null(strstr(store_errmsg(f->s), "not a database"));
	assert_null(store_q_status(f->s, err, sizeof(err)));
	assert_non_null(strstr(err, "not a database"));
	assert_int_equal(store_retention(f->s, T0, 1, 1), -1);
	assert_int_equal(store_queued(f->s), 2);
	j = fopen(f->path, "r");
	assert_non_null(j);
	assert_non_null(fgets(buf, sizeof(buf), j));
	fclose(j);
	assert_string_equal(buf, "not a store\n");
	/* Still junk: still refused. Gone: a new store, with the rows. */
	assert_int_equal(store_reopen(f->s, err, sizeof(err)), -1);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(store_reopen(f->s, err, sizeof(err)), 1);
	assert_int_equal(store_flush(f->s), 2);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM results"), 2);
}

/* Results inside a maintenance window count apart, raw and rolled up alike. */
static void test_maintenance_uptime(void **state)
{
	struct fixture *f = *state;
	struct result r;
	char err[256];
	json_t *u, *h;
	size_t i;
	int maint = 0;

	/* 4 down in a window, then 5 up and 1 down outside it: uptime 5/6. */
	for (int k = 0; k < 10; k++) {
		mkresult(&r, k < 4 || k == 9 ? MP_DOWN : MP_UP,
		         k < 4 || k == 9 ? MP_R_REFUSED : MP_R_OK, 1000);
		assert_int_equal(store_add_result_flags(f->s, "imap-a", "local", T0 + k * 60000, &r,
		                                        k < 4 ? STORE_R_MAINTENANCE : 0),
		                 0);
	}
	assert_int_equal(store_flush(f->s), 10);
	for (int pass = 0; pass < 2; pass++) {
		u = store_q_uptime(f->s, "imap-a", T0, T0 + DAY_MS, err, sizeof(err));
		assert_non_null(u);
		assert_int_equal(json_integer_value(json_object_get(u, "probes")), 6);
		assert_int_equal(json_integer_value(json_object_get(u, "up")), 5);
		assert_int_equal(json_integer_value(json_object_get(u, "maintenance_probes")), 4);
		assert_true(json_real_value(json_object_get(u, "maintenance_pct")) == 40.0);
		assert_true(json_is_true(json_object_get(u, "from_rollups")) == (pass == 1));
		json_decref(u);
		/* Folded into a roll-up, the hour keeps its maintenance apart. */
		if (pass == 0)
			assert_int_equal(store_retention(f->s, T0 + 3 * DAY_MS, 1, 400), 10);
	}
	assert_int_equal(sql_int(f->path,
	                         "SELECT count(*) FROM rollups WHERE count = 10 AND"
	                         " up_count = 5 AND maint_count = 4 AND maint_up_count = 0"),
	                 1);
	/* History marks them. */
	mkresult(&r, MP_UP, MP_R_OK, 1000);
	assert_int_equal(store_add_result_flags(f->s, "imap-a", "local", T0 + 3 * DAY_MS, &r,
	                                        STORE_R_MAINTENANCE),
	                 0);
	assert_int_equal(store_add_result(f->s, "imap-a", "local", T0 + 3 * DAY_MS + 1, &r), 0);
	assert_true(store_flush(f->s) >= 0);
	h = store_q_history(f->s, "imap-a", T0 + 3 * DAY_MS, 0, 0, err, sizeof(err));
	assert_non_null(h);
	json_array_foreach(json_object_get(h, "results"), i, u)
	{
		maint += json_is_true(json_object_get(u, "maintenance"));
	}
	assert_int_equal(json_array_size(json_object_get(h, "results")), 2);
	assert_int_equal(maint, 1);
	json_decref(h);
}

/* A check removed from the configuration: incident closed with the reason, pending, not current. */
static void test_retire(void **state)
{
	struct fixture *f = *state;
	struct states ss = {0};
	struct result r;
	char err[256];
	json_t *j, *in;

	mkresult(&r, MP_DOWN, MP_R_REFUSED, -1);
	assert_int_equal(store_add_result(f->s, "gone", "local", T0, &r), 0);
	assert_int_equal(store_add_result(f->s, "keep", "local", T0, &r), 0);
	assert_int_equal(store_add_transition(f->s, "gone", T0, MP_UP, MP_DOWN, MP_SEV_CRITICAL,
	                                      MP_R_REFUSED, "x"),
	                 0);
	assert_int_equal(store_incident_open(f->s, "gone", T0, MP_R_REFUSED, "refused"), 0);
	assert_int_equal(store_add_transition(f->s, "keep", T0, MP_UP, MP_DOWN, MP_SEV_CRITICAL,
	                                      MP_R_REFUSED, "x"),
	                 0);
	assert_int_equal(store_incident_open(f->s, "keep", T0, MP_R_REFUSED, "refused"), 0);
	assert_int_equal(store_incident_close(f->s, "keep", T0 + 1000), 0);
	assert_int_equal(store_check_retire(f->s, "gone", T0 + 5000, STORE_REMOVED_REASON), 0);
	/* Never seen: nothing is created. */
	assert_int_equal(store_check_retire(f->s, "never", T0 + 5000, STORE_REMOVED_REASON), 0);
	assert_true(store_flush(f->s) > 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM checks WHERE name = 'never'"), 0);

	j = store_q_incidents(f->s, NULL, 0, 0, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "incidents")), 2);
	json_t *a = json_object_get(j, "incidents");
	for (size_t i = 0; i < 2; i++) {
		in = json_array_get(a, i);
		int gone = strcmp(json_string_value(json_object_get(in, "check")), "gone") == 0;
		assert_true(json_is_false(json_object_get(in, "open")));
		assert_string_equal(json_string_value(json_object_get(in, "close_reason")),
		                    gone ? STORE_REMOVED_REASON : STORE_CLOSED_RECOVERED);
		assert_int_equal(json_integer_value(json_object_get(in, "end_ms")),
		                 gone ? T0 + 5000 : T0 + 1000);
	}
	json_decref(j);

	j = store_q_status(f->s, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "checks")), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(j, "checks"), 0), "check")),
	                    "keep");
	assert_int_equal(json_array_size(json_object_get(j, "removed")), 1);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(json_object_get(j, "removed"), 0), "removed_ms")),
	                 T0 + 5000);
	json_decref(j);
	/* A restart does not resume it: back to pending, no incident. */
	assert_int_equal(store_load_states(f->s, collect, &ss), 0);
	assert_int_equal(ss.n, 2);
	assert_string_equal(ss.st[0].check, "gone");
	assert_int_equal(ss.st[0].status, MP_UNKNOWN);
	assert_int_equal(ss.st[0].incident_open, 0);
	/* Retired twice: one transition to pending only. */
	assert_int_equal(store_check_retire(f->s, "gone", T0 + 6000, STORE_REMOVED_REASON), 0);
	assert_true(store_flush(f->s) >= 0);
	assert_int_equal(sql_int(f->path,
	                         "SELECT count(*) FROM transitions t JOIN checks c ON"
	                         " c.id = t.check_id WHERE c.name = 'gone' AND to_status = 3"),
	                 1);

	/* Configured again: current again, history and the closed incident as they were. */
	assert_int_equal(store_check_present(f->s, "gone"), 0);
	assert_true(store_flush(f->s) >= 0);
	j = store_q_status(f->s, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "checks")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "removed")), 0);
	json_decref(j);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM incidents WHERE end_ms IS NULL"),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_migrate_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v1_severity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v3_wire_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v4_uptime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batched_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_query, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_failure_keeps_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_incidents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_states, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maintenance_uptime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_deleted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_moved, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_junk, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
