/* SPDX-License-Identifier: ISC */
/*
 * pg_conn.c - the PostgreSQL store's connection and schema (pg_conn.h).
 *
 * The schema has the meaning of SQLite's (sqlite.c) at its version 5, in
 * PostgreSQL's types, with results partitioned by day (issue 14: dropping
 * a day is O(1)); migrations are numbered on their own, since the two
 * stores never share a file. Each runs in one transaction with the version
 * bump, under an advisory lock, so that two controllers started at once
 * do not both migrate.
 */
#include "store/pg_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

/* pg_advisory_xact_lock key of migrations: "mailpulse" in ASCII, as a number. */
#define PG_MIGRATE_LOCK 0x6d61696c70756c73LL

static const char schema_v1[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "INSERT INTO meta (key, value) VALUES ('kind', 'mailpulse-store');\n"
    "CREATE TABLE checks (\n"
    "  id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE,\n"
    "  removed_ms BIGINT  -- left the configuration; NULL: in it\n"
    ");\n"
    "CREATE TABLE results (\n"
    "  check_id BIGINT NOT NULL, ts_ms BIGINT NOT NULL, location TEXT NOT NULL,\n"
    "  status SMALLINT NOT NULL, severity SMALLINT, reason TEXT NOT NULL,\n"
    "  message TEXT NOT NULL, address TEXT, ttg_us BIGINT,\n"
    "  dns_us BIGINT, connect_us BIGINT, tls_us BIGINT, greeting_us BIGINT,\n"
    "  capability_us BIGINT, starttls_us BIGINT, login_us BIGINT, mailbox_us BIGINT,\n"
    "  total_us BIGINT, tls_version TEXT, cert_days_left BIGINT, cert_not_after BIGINT,\n"
    "  first_not_after BIGINT, cert_subject TEXT, cert_issuer TEXT, cert_sha256 TEXT,\n"
    "  messages BIGINT, warnings TEXT, maintenance SMALLINT NOT NULL DEFAULT 0,\n"
    "  path TEXT, counts_as SMALLINT\n"
    ") PARTITION BY RANGE (ts_ms);\n"
    "CREATE INDEX results_check_ts ON results (check_id, ts_ms);\n"
    "CREATE TABLE transitions (\n"
    "  check_id BIGINT NOT NULL REFERENCES checks(id), ts_ms BIGINT NOT NULL,\n"
    "  from_status SMALLINT NOT NULL, to_status SMALLINT NOT NULL, to_severity SMALLINT,\n"
    "  reason TEXT NOT NULL, message TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX transitions_check_ts ON transitions (check_id, ts_ms);\n"
    "CREATE TABLE incidents (\n"
    "  id BIGSERIAL PRIMARY KEY, check_id BIGINT NOT NULL REFERENCES checks(id),\n"
    "  start_ms BIGINT NOT NULL, end_ms BIGINT, reason TEXT NOT NULL, message TEXT NOT NULL,\n"
    "  duration_ms BIGINT, close_reason TEXT\n"
    ");\n"
    "CREATE INDEX incidents_check_start ON incidents (check_id, start_ms);\n"
    "CREATE INDEX incidents_open ON incidents (check_id) WHERE end_ms IS NULL;\n"
    "CREATE TABLE deliveries (\n"
    "  check_id BIGINT REFERENCES checks(id), ts_ms BIGINT NOT NULL, channel TEXT NOT NULL,\n"
    "  event TEXT NOT NULL, attempt INTEGER NOT NULL, ok SMALLINT NOT NULL,\n"
    "  detail TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX deliveries_check_ts ON deliveries (check_id, ts_ms);\n"
    "CREATE INDEX deliveries_ts ON deliveries (ts_ms);\n"
    "CREATE TABLE rollups (\n"
    "  check_id BIGINT NOT NULL REFERENCES checks(id), hour_ms BIGINT NOT NULL,\n"
    "  location TEXT NOT NULL, count BIGINT NOT NULL, up_count BIGINT NOT NULL,\n"
    "  min_ttg_us BIGINT, avg_ttg_us BIGINT, p95_ttg_us BIGINT, max_ttg_us BIGINT,\n"
    "  maint_count BIGINT NOT NULL DEFAULT 0, maint_up_count BIGINT NOT NULL DEFAULT 0,\n"
    "  uptime_count BIGINT NOT NULL DEFAULT 0, uptime_up BIGINT NOT NULL DEFAULT 0,\n"
    "  uptime_maint BIGINT NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY (check_id, hour_ms, location)\n"
    ");\n"
    "CREATE INDEX rollups_hour ON rollups (hour_ms);\n";

/*
 * Version 2: the order of rows written in the same millisecond, which
 * SQLite's rowid gives (the last transition of a check, the newest
 * delivery); and where raw results begin (retention folds whole hours into
 * roll-ups, then drops a day's partition once every hour of it is folded:
 * raw rows below raw_from_ms are already counted in the roll-ups, and
 * reads leave them out until their partition goes).
 */
static const char schema_v2[] =
    "ALTER TABLE transitions ADD COLUMN id BIGSERIAL;\n"
    "CREATE INDEX transitions_check_last ON transitions (check_id, ts_ms DESC, id DESC);\n"
    "ALTER TABLE deliveries ADD COLUMN id BIGSERIAL;\n"
    "INSERT INTO meta (key, value) VALUES ('raw_from_ms', '0');\n";

/*
 * Version 3: notifications claimed before they are sent (store_claim()),
 * one row per notification, so that a controller taking over sends what
 * the one before did not deliver, and nothing it did.
 */
static const char schema_v3[] =
    "CREATE TABLE claims (\n"
    "  key TEXT PRIMARY KEY, controller TEXT NOT NULL, claimed_ms BIGINT NOT NULL,\n"
    "  done_ms BIGINT, ok SMALLINT  -- done_ms NULL: claimed, its end not known\n"
    ");\n"
    "CREATE INDEX claims_claimed ON claims (claimed_ms);\n";

/* Applied in order; append, never edit a published entry. */
static const struct {
	int version;
	const char *sql;
} migrations[] = {
    {1, schema_v1},
    {2, schema_v2},
    {3, schema_v3},
};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == PG_SCHEMA_VERSION,
               "one migration per schema version");

void pg_shown(const char *uri, char *out, size_t outlen)
{
	PQconninfoOption *opts = PQconninfoParse(uri ? uri : "", NULL);
	const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;

	if (!outlen)
		return;
	if (!opts) {
		/* Not parseable: nothing of it is shown, since it may hold a password. */
		snprintf(out, outlen, "postgresql://(a URI libpq cannot read)");
		return;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	snprintf(out, outlen, "postgresql://%s%s%s%s%s/%s", user ? user : "", user ? "@" : "",
	         host ? host : "", port ? ":" : "", port ? port : "", db ? db : "");
	PQconninfoFree(opts);
}

static void conn_err(char *err, size_t errlen, const char *shown, const char *what, PGconn *c)
{
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	size_t n = strcspn(m, "\n");

	store_set_err(err, errlen, "store %s: %s: %.*s", shown, what, (int)n, m);
}

/* The first line of path, without its newline, into pw; -1 with err. */
static int read_password(const char *path, char *pw, size_t pwlen, const char *shown, char *err,
                         size_t errlen)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		store_set_err(err, errlen, "store %s: password_file %s: %s", shown, path,
		              strerror(errno));
		return -1;
	}
	if (!fgets(pw, (int)pwlen, f))
		pw[0] = '\0';
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	if (!pw[0]) {
		store_set_err(err, errlen, "store %s: password_file %s is empty", shown, path);
		return -1;
	}
	return 0;
}

/* One statement's outcome: 0 when it did what was asked, else -1 with err. */
static int ok_result(PGconn *c, PGresult *r, ExecStatusType want, const char *shown,
                     const char *what, char *err, size_t errlen)
{
	int ok = r && PQresultStatus(r) == want;

	if (!ok) {
		const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
		size_t n = strcspn(m, "\n");

		store_set_err(err, errlen, "store %s: %s: %.*s", shown, what, (int)n, m);
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/*
 * The schema's version: 0 when the database holds no mailpulse store
 * (and no meta table), -1 with err when it holds something else.
 */
static int schema_version(PGconn *c, const char *shown, int *version, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, "SELECT to_regclass('meta') IS NOT NULL");
	int has_meta;

	*version = 0;
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
		return ok_result(c, r, PGRES_TUPLES_OK, shown, "reading its tables", err, errlen);
	has_meta = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!has_meta)
		return 0;
	r = PQexec(c, "SELECT (SELECT value FROM meta WHERE key = 'kind'),"
	              " (SELECT value FROM meta WHERE key = 'schema_version')");
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
		return ok_result(c, r, PGRES_TUPLES_OK, shown, "reading meta", err, errlen);
	if (PQgetisnull(r, 0, 0) || strcmp(PQgetvalue(r, 0, 0), "mailpulse-store") != 0) {
		store_set_err(
		    err, errlen,
		    "store %s: this database has a table meta that is not mailpulse's: give "
		    "mailpulse a database of its own",
		    shown);
		PQclear(r);
		return -1;
	}
	*version = PQgetisnull(r, 0, 1) ? 0 : atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

static int migrate(PGconn *c, const char *shown, char *err, size_t errlen)
{
	char sql[160];
	int version;

	if (ok_result(c, PQexec(c, "BEGIN"), PGRES_COMMAND_OK, shown, "migrating", err, errlen) < 0)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
	         (long long)PG_MIGRATE_LOCK);
	if (ok_result(c, PQexec(c, sql), PGRES_TUPLES_OK, shown, "locking for migrations", err,
	              errlen) < 0 ||
	    schema_version(c, shown, &version, err, errlen) < 0)
		goto fail;
	if (version > PG_SCHEMA_VERSION) {
		store_set_err(
		    err, errlen,
		    "store %s: schema version %d is newer than this build's %d: a newer "
		    "mailpulse wrote it; run that one, or a copy of the data for this one",
		    shown, version, PG_SCHEMA_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		if (migrations[i].version <= version)
			continue;
		snprintf(sql, sizeof(sql), "schema version %d", migrations[i].version);
		if (ok_result(c, PQexec(c, migrations[i].sql), PGRES_COMMAND_OK, shown, sql, err,
		              errlen) < 0)
			goto fail;
		snprintf(
		    sql, sizeof(sql),
		    "INSERT INTO meta (key, value) VALUES ('schema_version', '%d') ON CONFLICT "
		    "(key) DO UPDATE SET value = excluded.value",
		    migrations[i].version);
		if (ok_result(c, PQexec(c, sql), PGRES_COMMAND_OK, shown, "recording the version",
		              err, errlen) < 0)
			goto fail;
	}
	return ok_result(c, PQexec(c, "COMMIT"), PGRES_COMMAND_OK, shown, "migrating", err, errlen);
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}

/*
 * The connection's keywords for uri: the URI itself as dbname (expanded),
 * the password from password_file, connect_timeout unless the URI has one.
 * kw and val hold 6; pw must outlive the connect (wiped by the caller).
 */
static int conn_params(const char *uri, const char *password_file, const char *shown,
                       const char **kw, const char **val, char *pw, size_t pwlen, char timeout[16],
                       char *err, size_t errlen)
{
	PQconninfoOption *opts;
	int n = 0, has_timeout = 0;

	if (!(opts = PQconninfoParse(uri, NULL))) {
		store_set_err(err, errlen, "store %s: not a PostgreSQL URI or connection string",
		              shown);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val)
			has_timeout = 1;
	PQconninfoFree(opts);
	pw[0] = '\0';
	if (password_file && read_password(password_file, pw, pwlen, shown, err, errlen) < 0)
		return -1;
	kw[n] = "dbname", val[n++] = uri;
	if (pw[0])
		kw[n] = "password", val[n++] = pw;
	snprintf(timeout, 16, "%d", PG_CONNECT_TIMEOUT_S);
	if (!has_timeout)
		kw[n] = "connect_timeout", val[n++] = timeout;
	kw[n] = "fallback_application_name", val[n++] = "mailpulse";
	kw[n] = NULL, val[n] = NULL;
	return 0;
}

/*
 * Connect to uri, waiting for it (PQconnectdbParams()) or only beginning
 * (PQconnectStartParams(), the loop's way); shown gets the URI as shown.
 * NULL with err when it failed, or could not even begin.
 */
static PGconn *conn_begin(const char *uri, const char *password_file, int wait, char shown[512],
                          char *err, size_t errlen)
{
	const char *kw[6], *val[6];
	char pw[1024], timeout[16];
	PGconn *c;

	if (pq_lazy_missing()) {
		store_set_err(err, errlen, "store postgresql: %s", pq_lazy_missing());
		return NULL;
	}
	pg_shown(uri, shown, 512);
	if (conn_params(uri, password_file, shown, kw, val, pw, sizeof(pw), timeout, err, errlen) <
	    0)
		return NULL;
	c = wait ? PQconnectdbParams(kw, val, 1) : PQconnectStartParams(kw, val, 1);
	memset(pw, 0, sizeof(pw));
	if (!c || (wait ? PQstatus(c) != CONNECTION_OK : PQstatus(c) == CONNECTION_BAD)) {
		conn_err(err, errlen, shown, "cannot connect", c);
		PQfinish(c);
		return NULL;
	}
	/* Notices ("already exists, skipping") are not for a user: libpq would print them. */
	if (wait)
		PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

PGconn *pg_connect_start(const char *uri, const char *password_file, char *err, size_t errlen)
{
	char shown[512];

	return conn_begin(uri, password_file, 0, shown, err, errlen);
}

int pg_server_ok(PGconn *c, const char *shown, char *err, size_t errlen)
{
	if (PQserverVersion(c) >= PG_SERVER_MIN)
		return 0;
	store_set_err(err, errlen,
	              "store %s: the server runs PostgreSQL %d.%d, older than %d, which the "
	              "store's partitioned tables need",
	              shown, PQserverVersion(c) / 10000, PQserverVersion(c) % 10000,
	              PG_SERVER_MIN / 10000);
	return -1;
}

PGconn *pg_open(const char *uri, const char *password_file, int readonly, char *err, size_t errlen)
{
	char shown[512];
	int version;
	PGconn *c = conn_begin(uri, password_file, 1, shown, err, errlen);

	if (!c)
		return NULL;
	if (pg_server_ok(c, shown, err, errlen) < 0) {
		PQfinish(c);
		return NULL;
	}
	if (readonly) {
		if (schema_version(c, shown, &version, err, errlen) < 0) {
			PQfinish(c);
			return NULL;
		}
		if (version == 0)
			store_set_err(err, errlen, "store %s: no mailpulse store in this database",
			              shown);
		else if (version > PG_SCHEMA_VERSION)
			store_set_err(err, errlen,
			              "store %s: schema version %d is newer than this build's %d",
			              shown, version, PG_SCHEMA_VERSION);
		if (version == 0 || version > PG_SCHEMA_VERSION) {
			PQfinish(c);
			return NULL;
		}
		return c;
	}
	if (migrate(c, shown, err, errlen) < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}
