/* SPDX-License-Identifier: ISC */
/*
 * pg_read.c - the PostgreSQL backend's reads (pg_int.h), with the meaning
 * of SQLite's (sqlite.c, sq_history() to sq_each_check()): the same rows,
 * orders, bounds and errors, in PostgreSQL's dialect.
 *
 * Each read is one job: the check's lookup (for ENOENT) and the queries
 * that answer it go out together, so a read costs one round trip and,
 * with a loop attached, completes from it without blocking. The rows
 * handed to a callback point into the job's results, which live until the
 * job's end returns. store_load_states(), store_each_check() and the
 * batched counts answer before returning: they wait for their job.
 *
 * What SQLite does per check (status) is one set-based query here: the
 * PostgreSQL store is meant for 10,000 checks. Names are ordered by bytes
 * (COLLATE "C"), as SQLite's BINARY collation orders them, whatever the
 * database's collation. Raw results below raw_from_ms are counted in the
 * roll-ups already: every read of results leaves them out (PG_RAW_FROM).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/pg_int.h"
#include "store/rollup.h"

#define HOUR_MS   ROLLUP_HOUR_MS
#define DAY_MS    (24 * HOUR_MS)
#define LIMIT_MAX STORE_LIMIT_MAX

/* "Up" for uptime means the server answered: degraded counts, unknown does not. */
_Static_assert(MP_UP == 0 && MP_DEGRADED == 1, "the SQL below tests status IN (0, 1)");
_Static_assert(MP_PH__COUNT == 9, "results has one column per phase");

/*
 * results.counts_as (pg.c writes it as sqlite.c does): NULL by status, 1
 * up, 0 down, -1 not counted. Over a row of results: whether it counts,
 * and whether as up; rollup_uptime_of() is the rule.
 */
#define PG_COUNTED "coalesce(counts_as IN (0, 1), true)"
#define PG_UP      "coalesce(counts_as = 1, status IN (0, 1))"

/* Raw results as the reads see them: those not folded into roll-ups yet. */
#define PG_RAW " AND ts_ms >= " PG_RAW_FROM

/* The id of a check by name, as the first statement of a read that names one. */
static const char sql_lookup[] = "SELECT id FROM checks WHERE name = $1::text";
#define SQL_CHECK_ID "(SELECT id FROM checks WHERE name = $1::text)"

/* What a read keeps until its job ends: the query's values, copied, and where to answer. */
struct rctx {
	union {
		store_results_cb results;
		store_uptime_cb uptime;
		store_series_cb series;
		store_incidents_cb incidents;
		store_deliveries_cb deliveries;
		store_status_cb status;
	} cb;
	void *arg;
	char *check; /* NULL: every check */
	int64_t since, until, bucket, now;
	int64_t nb; /* series: buckets */
};

static const char oom[] = "store: out of memory";

static int64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int clamp_limit(int limit)
{
	return limit <= 0 || limit > LIMIT_MAX ? LIMIT_MAX : limit;
}

static int64_t until_of(int64_t until_ms)
{
	return until_ms <= 0 ? INT64_MAX : until_ms;
}

/* t - HOUR_MS, not below INT64_MIN. */
static int64_t hour_before(int64_t t)
{
	return t < INT64_MIN + HOUR_MS ? INT64_MIN : t - HOUR_MS;
}

/* A context for one read, with check copied; NULL when out of memory. */
static struct rctx *rctx_new(const char *check, void *arg)
{
	struct rctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->arg = arg;
	if (check && !(c->check = strdup(check))) {
		free(c);
		return NULL;
	}
	return c;
}

static void rctx_free(struct rctx *c)
{
	free(c->check);
	free(c);
}

/* A number column; 0 for NULL, as SQLite's sqlite3_column_int() reads one. */
static int64_t col_i64_0(const PGresult *r, int row, int col)
{
	int64_t v = pg_col_i64(r, row, col);

	return v == STORE_NONE ? 0 : v;
}

static int col_int(const PGresult *r, int row, int col)
{
	return (int)col_i64_0(r, row, col);
}

/* A severity column; NULL (a row of a writer that left it out) follows the status. */
static int col_severity(const PGresult *r, int row, int col, int status)
{
	if (PQgetisnull(r, row, col))
		return (int)result_default_severity((enum mp_status)status);
	return col_int(r, row, col);
}

/* enum store_counts_as of a counts_as column; a value this build never writes counts not. */
static int col_counts_as(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return STORE_COUNTS_BY_STATUS;
	switch (col_int(r, row, col)) {
	case 1:
		return STORE_COUNTS_UP;
	case 0:
		return STORE_COUNTS_DOWN;
	default:
		return STORE_COUNTS_NOT;
	}
}

/*
 * Whether a job's answer is usable: 0, or an errno with err filled (the
 * job's error; n statements that do not all return rows; the check
 * named, when lookup is its first result, not in the store).
 */
static int answer_ok(struct pg *p, PGresult *const *res, int n, int want, int error,
                     const char *err, int lookup, const char *check, char *out, size_t outlen)
{
	if (error) {
		store_set_err(out, outlen, "%s", err ? err : "store: read failed");
		return error;
	}
	if (n != want) {
		store_set_err(out, outlen, "store %s: unexpected answer (%d results for %d)",
		              pg_name(p), n, want);
		return EIO;
	}
	for (int i = 0; i < n; i++)
		if (PQresultStatus(res[i]) != PGRES_TUPLES_OK) {
			store_set_err(out, outlen, "store %s: unexpected answer (no rows)",
			              pg_name(p));
			return EIO;
		}
	if (lookup && PQntuples(res[0]) == 0) {
		store_set_err(out, outlen, "store %s: no check named \"%.64s\" in the store",
		              pg_name(p), check);
		return ENOENT;
	}
	return 0;
}

/* ---- history ---- */

/* One row of STORE_RESULT_COLS; strings point into r. */
static void result_row(const PGresult *r, int i, struct store_result_row *o)
{
	memset(o, 0, sizeof(*o));
	o->ts_ms = col_i64_0(r, i, 0);
	o->location = pg_col_text(r, i, 1);
	o->status = col_int(r, i, 2);
	o->reason = pg_col_text(r, i, 3);
	o->message = pg_col_text(r, i, 4);
	o->address = pg_col_text(r, i, 5);
	o->ttg_us = pg_col_i64(r, i, 6);
	for (int k = 0; k < MP_PH__COUNT; k++)
		o->phase_us[k] = pg_col_i64(r, i, 7 + k);
	o->tls_version = pg_col_text(r, i, 16);
	o->cert_days_left = pg_col_i64(r, i, 17);
	o->cert_not_after = pg_col_i64(r, i, 18);
	o->cert_subject = pg_col_text(r, i, 19);
	o->cert_issuer = pg_col_text(r, i, 20);
	o->cert_sha256 = pg_col_text(r, i, 21);
	o->messages = pg_col_i64(r, i, 22);
	o->maintenance = col_int(r, i, 23) != 0;
	o->severity = col_severity(r, i, 24, o->status);
	o->warnings = pg_col_text(r, i, 25);
	o->path = pg_col_text(r, i, 26);
	o->first_not_after = pg_col_i64(r, i, 27);
	o->counts_as = col_counts_as(r, i, 28);
}

static void history_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                         void *ctx)
{
	struct rctx *c = ctx;
	struct store_result_row *rows = NULL;
	char msg[768];
	int e = answer_ok(p, res, n, 2, error, err, 1, c->check, msg, sizeof(msg)), nr = 0;

	if (!e) {
		nr = PQntuples(res[1]);
		rows = calloc(nr ? (size_t)nr : 1, sizeof(*rows));
		if (!rows) {
			store_set_err(msg, sizeof(msg), "%s", oom);
			e = ENOMEM;
		}
	}
	if (e) {
		c->cb.results(NULL, 0, e, msg, c->arg);
	} else {
		for (int i = 0; i < nr; i++)
			result_row(res[1], i, &rows[i]);
		c->cb.results(rows, (size_t)nr, 0, NULL, c->arg);
	}
	free(rows);
	rctx_free(c);
}

void pg_history(void *db, const struct store_query *q, store_results_cb cb, void *arg)
{
	struct pg *p = db;
	struct rctx *c = rctx_new(q->check, arg);
	struct pg_job *j = c ? pg_job_new("reading a check's history", history_done, c) : NULL;
	char b[3][24];
	const char *v[4];

	if (!j) {
		if (c)
			rctx_free(c);
		cb(NULL, 0, ENOMEM, oom, arg);
		return;
	}
	c->cb.results = cb;
	v[0] = q->check;
	v[1] = pg_i64(b[0], q->since_ms);
	v[2] = pg_i64(b[1], until_of(q->until_ms));
	v[3] = pg_i64(b[2], clamp_limit(q->limit));
	pg_job_add(j, sql_lookup, 1, v);
	pg_job_add(j,
	           "SELECT " STORE_RESULT_COLS " FROM results WHERE check_id = " SQL_CHECK_ID
	           " AND ts_ms >= $2::bigint AND ts_ms < $3::bigint" PG_RAW
	           " ORDER BY ts_ms DESC, location DESC LIMIT $4::int",
	           4, v);
	pg_job_run(p, j);
}

/* ---- uptime ---- */

static void uptime_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                        void *ctx)
{
	struct rctx *c = ctx;
	struct store_uptime_row u = {.check = c->check, .since_ms = c->since};
	char msg[768];
	int e = answer_ok(p, res, n, 3, error, err, 1, c->check, msg, sizeof(msg));

	if (!e && (PQntuples(res[1]) != 1 || PQntuples(res[2]) != 1)) {
		store_set_err(msg, sizeof(msg), "store %s: unexpected answer (no counts)",
		              pg_name(p));
		e = EIO;
	}
	if (e) {
		c->cb.uptime(NULL, e, msg, c->arg);
		rctx_free(c);
		return;
	}
	u.until_ms = c->until == INT64_MAX ? STORE_NONE : c->until;
	u.probes = col_i64_0(res[1], 0, 0) + col_i64_0(res[2], 0, 1);
	u.up = col_i64_0(res[1], 0, 1) + col_i64_0(res[2], 0, 2);
	u.maint = col_i64_0(res[1], 0, 2) + col_i64_0(res[2], 0, 3);
	u.from_rollups = col_i64_0(res[2], 0, 0) > 0;
	c->cb.uptime(&u, 0, NULL, c->arg);
	rctx_free(c);
}

void pg_uptime(void *db, const struct store_query *q, store_uptime_cb cb, void *arg)
{
	struct pg *p = db;
	struct rctx *c = rctx_new(q->check, arg);
	struct pg_job *j = c ? pg_job_new("reading a check's uptime", uptime_done, c) : NULL;
	char b[3][24];
	const char *v[3];

	if (!j) {
		if (c)
			rctx_free(c);
		cb(NULL, ENOMEM, oom, arg);
		return;
	}
	c->cb.uptime = cb;
	c->since = q->since_ms;
	c->until = until_of(q->until_ms);
	v[0] = q->check;
	v[1] = pg_i64(b[0], q->since_ms);
	v[2] = pg_i64(b[1], c->until);
	pg_job_add(j, sql_lookup, 1, v);
	/*
	 * Probes inside a maintenance window count apart, in neither probes nor
	 * up; a result that does not count (counts_as) is in none.
	 */
	pg_job_add(j,
	           "SELECT count(*) FILTER (WHERE maintenance = 0 AND " PG_COUNTED "),"
	           " count(*) FILTER (WHERE maintenance = 0 AND " PG_UP "),"
	           " count(*) FILTER (WHERE maintenance <> 0 AND " PG_COUNTED ") FROM results"
	           " WHERE check_id = " SQL_CHECK_ID
	           " AND ts_ms >= $2::bigint AND ts_ms < $3::bigint" PG_RAW,
	           3, v);
	/* Every hour that overlaps the range counts whole: roll-ups cannot be cut finer. */
	v[1] = pg_i64(b[2], hour_before(q->since_ms));
	pg_job_add(j,
	           "SELECT count(*), coalesce(sum(uptime_count), 0)::bigint,"
	           " coalesce(sum(uptime_up), 0)::bigint, coalesce(sum(uptime_maint), 0)::bigint"
	           " FROM rollups WHERE check_id = " SQL_CHECK_ID
	           " AND hour_ms > $2::bigint AND hour_ms < $3::bigint",
	           3, v);
	pg_job_run(p, j);
}

/* ---- counts of every check at once (the API's uptime cache) ---- */

struct counts_ctx {
	store_counts_cb cb;
	void *arg;
	int nseg;
	int rc, error;
	char *err;
	size_t errlen;
};

/* Rows come by check, then range: each check's ranges are summed, then told. */
static void counts_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                        void *ctx)
{
	struct counts_ctx *c = ctx;
	struct store_counts k[STORE_COUNTS_MAX];
	int e = answer_ok(p, res, n, 1, error, err, 0, NULL, c->err, c->errlen), nr, first = 0;

	if (e) {
		c->error = e;
		return;
	}
	nr = PQntuples(res[0]);
	for (int i = 0; i < nr; i++) {
		int64_t id = col_i64_0(res[0], i, 0), seg = col_i64_0(res[0], i, 2);
		int any = 0;

		if (i == first)
			memset(k, 0, sizeof(k));
		if (seg >= 0 && seg < c->nseg) {
			k[seg].probes += col_i64_0(res[0], i, 3);
			k[seg].up += col_i64_0(res[0], i, 4);
			k[seg].maint += col_i64_0(res[0], i, 5);
		}
		if (i + 1 < nr && col_i64_0(res[0], i + 1, 0) == id)
			continue;
		for (int s = 0; s < c->nseg; s++)
			any |= k[s].probes || k[s].maint;
		if (any)
			c->cb(id, pg_col_text(res[0], first, 1), k, c->nseg, c->arg);
		first = i + 1;
	}
	c->rc = 0;
}

/*
 * Raw results by their time, roll-ups whole in the range their hour
 * starts in (the first when before it), summed by check and range in the
 * server: width_bucket() over the ranges' starts is sqlite.c's
 * counts_seg(). The planner picks the index or one pass, where SQLite is
 * told.
 */
int pg_counts(void *db, const int64_t *bounds, int nb, store_counts_cb cb, void *arg, char *err,
              size_t errlen)
{
	static const char sql[] =
	    "SELECT c.id, c.name, x.seg, sum(x.p)::bigint, sum(x.u)::bigint, sum(x.m)::bigint"
	    " FROM (SELECT check_id, greatest(width_bucket(ts_ms, $3::bigint[]) - 1, 0) AS seg,"
	    " count(*) FILTER (WHERE maintenance = 0 AND " PG_COUNTED ") AS p,"
	    " count(*) FILTER (WHERE maintenance = 0 AND " PG_UP ") AS u,"
	    " count(*) FILTER (WHERE maintenance <> 0 AND " PG_COUNTED ") AS m"
	    " FROM results WHERE ts_ms >= $1::bigint AND ts_ms < $2::bigint" PG_RAW " GROUP BY 1, 2"
	    " UNION ALL SELECT check_id, greatest(width_bucket(hour_ms, $3::bigint[]) - 1, 0),"
	    " sum(uptime_count), sum(uptime_up), sum(uptime_maint) FROM rollups"
	    " WHERE hour_ms > $4::bigint AND hour_ms < $2::bigint GROUP BY 1, 2) x"
	    " JOIN checks c ON c.id = x.check_id GROUP BY c.id, c.name, x.seg"
	    " ORDER BY c.id, x.seg";
	struct pg *p = db;
	struct counts_ctx c = {.cb = cb,
	                       .arg = arg,
	                       .nseg = nb - 1,
	                       .rc = -1,
	                       .error = EIO,
	                       .err = err,
	                       .errlen = errlen};
	char b[3][24], starts[STORE_COUNTS_MAX * 24 + 4];
	const char *v[4];
	struct pg_job *j;
	size_t o = 0;

	/* store.c refuses these already; starts[] is sized by it. */
	if (nb < 2 || nb > STORE_COUNTS_MAX + 1) {
		store_set_err(err, errlen, "store: %d bounds for counts", nb);
		errno = EINVAL;
		return -1;
	}
	/* The ranges' starts, as an array literal: "{b0,b1,...}". */
	starts[o++] = '{';
	for (int i = 0; i < nb - 1; i++)
		o += (size_t)snprintf(starts + o, sizeof(starts) - o, "%s%lld", i ? "," : "",
		                      (long long)bounds[i]);
	snprintf(starts + o, sizeof(starts) - o, "}");
	v[0] = pg_i64(b[0], bounds[0]);
	v[1] = pg_i64(b[1], bounds[nb - 1]);
	v[2] = starts;
	v[3] = pg_i64(b[2], hour_before(bounds[0]));
	j = pg_job_new("reading uptime counts", counts_done, &c);
	if (!j) {
		store_set_err(err, errlen, "%s", oom);
		errno = ENOMEM;
		return -1;
	}
	pg_job_add(j, sql, 4, v);
	pg_job_wait(p, j);
	if (c.rc < 0)
		errno = c.error;
	return c.rc;
}

/* ---- series: raw results and roll-ups, bucketed (the maths in rollup.c) ---- */

/* Raw results in time order into their buckets: one buffer holds one bucket's times. */
static int series_raw(const PGresult *r, int64_t since, int64_t bucket, struct rollup_bucket *b)
{
	int64_t *v = NULL, cur = -1;
	size_t nv = 0, cap = 0;
	int bad = 0;

	for (int k = 0; k < PQntuples(r) && !bad; k++) {
		int64_t i = (col_i64_0(r, k, 0) - since) / bucket;

		if (i != cur) {
			if (cur >= 0)
				rollup_bucket_times(&b[cur], v, nv);
			nv = 0;
			cur = i;
		}
		if (rollup_bucket_raw(&b[i], col_int(r, k, 1), pg_col_text(r, k, 2)) < 0)
			bad = 1;
		if (PQgetisnull(r, k, 3))
			continue;
		if (nv == cap) {
			size_t nc = cap ? cap * 2 : 64;
			int64_t *nvp = realloc(v, nc * sizeof(*v));

			if (!nvp) {
				bad = 1;
				break;
			}
			v = nvp;
			cap = nc;
		}
		v[nv++] = col_i64_0(r, k, 3);
	}
	if (!bad && cur >= 0)
		rollup_bucket_times(&b[cur], v, nv);
	free(v);
	return bad ? -1 : 0;
}

/* Roll-ups of the hours that start in [since, until) into their buckets. */
static void series_rollups(const PGresult *r, int64_t since, int64_t bucket,
                           struct rollup_bucket *b)
{
	for (int k = 0; k < PQntuples(r); k++) {
		struct rollup_times t = {
		    .min = col_i64_0(r, k, 3),
		    .avg = col_i64_0(r, k, 4),
		    .p95 = col_i64_0(r, k, 5),
		    .max = col_i64_0(r, k, 6),
		};

		rollup_bucket_rollup(&b[(col_i64_0(r, k, 0) - since) / bucket], col_i64_0(r, k, 1),
		                     col_i64_0(r, k, 2), PQgetisnull(r, k, 4) ? NULL : &t);
	}
}

static void series_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                        void *ctx)
{
	struct rctx *c = ctx;
	struct store_series_rows sr = {.check = c->check};
	struct rollup_bucket *b = NULL;
	struct store_bucket_row *rows = NULL;
	int64_t nb = c->nb;
	char msg[768];
	int e = answer_ok(p, res, n, 3, error, err, 1, c->check, msg, sizeof(msg));

	if (!e) {
		b = calloc((size_t)nb, sizeof(*b));
		rows = calloc((size_t)nb, sizeof(*rows));
		if (!b || !rows) {
			free(b);
			b = NULL;
			store_set_err(msg, sizeof(msg), "%s", oom);
			e = ENOMEM;
		}
	}
	for (int64_t i = 0; b && i < nb; i++)
		rollup_bucket_init(&b[i]);
	if (!e && series_raw(res[1], c->since, c->bucket, b) < 0) {
		store_set_err(msg, sizeof(msg), "%s", oom);
		e = ENOMEM;
	}
	if (!e) {
		series_rollups(res[2], c->since, c->bucket, b);
		for (int64_t i = 0; i < nb; i++)
			if (b[i].count)
				rollup_bucket_row(&b[i], c->since + i * c->bucket, &rows[sr.n++]);
		sr.since_ms = c->since;
		sr.until_ms = c->until;
		sr.bucket_ms = c->bucket;
		sr.buckets = rows;
		c->cb.series(&sr, 0, NULL, c->arg);
	} else {
		c->cb.series(NULL, e, msg, c->arg);
	}
	for (int64_t i = 0; b && i < nb; i++)
		rollup_bucket_free(&b[i]);
	free(b);
	free(rows);
	rctx_free(c);
}

void pg_series(void *db, const struct store_query *q, store_series_cb cb, void *arg)
{
	struct pg *p = db;
	int64_t since, span, nb, bucket = q->bucket_ms, until = q->until_ms;
	struct rctx *c;
	struct pg_job *j;
	char b[2][24], msg[128];
	const char *v[3];

	if (bucket <= 0 || bucket % HOUR_MS || until <= q->since_ms) {
		cb(NULL, EINVAL, "store: series: bad bucket or range", arg);
		return;
	}
	/* Buckets start at whole multiples of their size: UTC hours, 6 h, days. */
	since = q->since_ms % bucket;
	since = q->since_ms - (since < 0 ? since + bucket : since);
	/* (until - since) / bucket rounded up, as sqlite.c counts them, without overflowing. */
	nb = __builtin_sub_overflow(until, since, &span) ? INT64_MAX
	                                                 : span / bucket + (span % bucket != 0);
	if (nb > STORE_SERIES_MAX) {
		store_set_err(msg, sizeof(msg), "store: series: more than %d buckets",
		              STORE_SERIES_MAX);
		cb(NULL, EINVAL, msg, arg);
		return;
	}
	c = rctx_new(q->check, arg);
	j = c ? pg_job_new("reading a check's series", series_done, c) : NULL;
	if (!j) {
		if (c)
			rctx_free(c);
		cb(NULL, ENOMEM, oom, arg);
		return;
	}
	c->cb.series = cb;
	c->since = since;
	c->until = until;
	c->bucket = bucket;
	c->nb = nb;
	v[0] = q->check;
	v[1] = pg_i64(b[0], since);
	v[2] = pg_i64(b[1], until);
	pg_job_add(j, sql_lookup, 1, v);
	pg_job_add(
	    j,
	    "SELECT ts_ms, status, reason, ttg_us FROM results WHERE check_id = " SQL_CHECK_ID
	    " AND ts_ms >= $2::bigint AND ts_ms < $3::bigint" PG_RAW " ORDER BY ts_ms",
	    3, v);
	pg_job_add(j,
	           "SELECT hour_ms, count, up_count, min_ttg_us, avg_ttg_us, p95_ttg_us,"
	           " max_ttg_us FROM rollups WHERE check_id = " SQL_CHECK_ID
	           " AND hour_ms >= $2::bigint AND hour_ms < $3::bigint",
	           3, v);
	pg_job_run(p, j);
}

/* ---- incidents and deliveries ---- */

/* Columns from col: id, start_ms, end_ms, reason, message, duration_ms, name, close_reason. */
static void incident_row(const PGresult *r, int i, int col, struct store_incident_row *o)
{
	o->id = col_i64_0(r, i, col);
	o->start_ms = col_i64_0(r, i, col + 1);
	o->end_ms = pg_col_i64(r, i, col + 2);
	o->reason = pg_col_text(r, i, col + 3);
	o->message = pg_col_text(r, i, col + 4);
	o->duration_ms = pg_col_i64(r, i, col + 5);
	o->check = pg_col_text(r, i, col + 6);
	o->close_reason = pg_col_text(r, i, col + 7);
}

/* The statements of a read by check or of every check: the lookup comes first when named. */
static void incidents_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                           void *ctx)
{
	struct rctx *c = ctx;
	struct store_incident_row *rows = NULL;
	int lookup = c->check != NULL, nr = 0;
	char msg[768];
	int e = answer_ok(p, res, n, 1 + lookup, error, err, lookup, c->check, msg, sizeof(msg));

	if (!e) {
		nr = PQntuples(res[lookup]);
		rows = calloc(nr ? (size_t)nr : 1, sizeof(*rows));
		if (!rows) {
			store_set_err(msg, sizeof(msg), "%s", oom);
			e = ENOMEM;
		}
	}
	if (e) {
		c->cb.incidents(NULL, 0, c->now, e, msg, c->arg);
	} else {
		for (int i = 0; i < nr; i++)
			incident_row(res[lookup], i, 0, &rows[i]);
		c->cb.incidents(rows, (size_t)nr, c->now, 0, NULL, c->arg);
	}
	free(rows);
	rctx_free(c);
}

void pg_incidents(void *db, const struct store_query *q, store_incidents_cb cb, void *arg)
{
	struct pg *p = db;
	struct rctx *c = rctx_new(q->check, arg);
	struct pg_job *j = c ? pg_job_new("reading incidents", incidents_done, c) : NULL;
	char b[2][24];
	const char *v[3];

	if (!j) {
		if (c)
			rctx_free(c);
		cb(NULL, 0, wall_now_ms(), ENOMEM, oom, arg);
		return;
	}
	c->cb.incidents = cb;
	c->now = wall_now_ms();
	v[0] = q->check;
	v[1] = pg_i64(b[0], q->since_ms);
	v[2] = pg_i64(b[1], clamp_limit(q->limit));
	if (q->check)
		pg_job_add(j, sql_lookup, 1, v);
	/* Every incident that was open at some point in [since, now]. */
	pg_job_add(j,
	           "SELECT i.id, i.start_ms, i.end_ms, i.reason, i.message, i.duration_ms, c.name,"
	           " i.close_reason FROM incidents i JOIN checks c ON c.id = i.check_id"
	           " WHERE ($1::text IS NULL OR c.name = $1::text) AND (i.end_ms IS NULL"
	           " OR i.end_ms >= $2::bigint) ORDER BY i.start_ms DESC, i.id DESC"
	           " LIMIT $3::int",
	           3, v);
	pg_job_run(p, j);
}

static void deliveries_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                            void *ctx)
{
	struct rctx *c = ctx;
	struct store_delivery_row *rows = NULL;
	int lookup = c->check != NULL, nr = 0;
	char msg[768];
	int e = answer_ok(p, res, n, 1 + lookup, error, err, lookup, c->check, msg, sizeof(msg));
	const PGresult *r = e ? NULL : res[lookup];

	if (!e) {
		nr = PQntuples(r);
		rows = calloc(nr ? (size_t)nr : 1, sizeof(*rows));
		if (!rows) {
			store_set_err(msg, sizeof(msg), "%s", oom);
			e = ENOMEM;
		}
	}
	if (e) {
		c->cb.deliveries(NULL, 0, e, msg, c->arg);
	} else {
		for (int i = 0; i < nr; i++) {
			rows[i].ts_ms = col_i64_0(r, i, 0);
			rows[i].check = pg_col_text(r, i, 1);
			rows[i].channel = pg_col_text(r, i, 2);
			rows[i].event = pg_col_text(r, i, 3);
			rows[i].attempt = pg_col_i64(r, i, 4);
			rows[i].ok = col_int(r, i, 5) != 0;
			rows[i].detail = pg_col_text(r, i, 6);
		}
		c->cb.deliveries(rows, (size_t)nr, 0, NULL, c->arg);
	}
	free(rows);
	rctx_free(c);
}

void pg_deliveries(void *db, const struct store_query *q, store_deliveries_cb cb, void *arg)
{
	struct pg *p = db;
	struct rctx *c = rctx_new(q->check, arg);
	struct pg_job *j = c ? pg_job_new("reading deliveries", deliveries_done, c) : NULL;
	char b[24];
	const char *v[2];

	if (!j) {
		if (c)
			rctx_free(c);
		cb(NULL, 0, ENOMEM, oom, arg);
		return;
	}
	c->cb.deliveries = cb;
	v[0] = q->check;
	v[1] = pg_i64(b, clamp_limit(q->limit));
	if (q->check)
		pg_job_add(j, sql_lookup, 1, v);
	/* id: the order of attempts written in the same millisecond, as SQLite's rowid. */
	pg_job_add(j,
	           "SELECT d.ts_ms, c.name, d.channel, d.event, d.attempt, d.ok, d.detail"
	           " FROM deliveries d LEFT JOIN checks c ON c.id = d.check_id"
	           " WHERE $1::text IS NULL OR c.name = $1::text ORDER BY d.ts_ms DESC,"
	           " d.id DESC LIMIT $2::int",
	           2, v);
	pg_job_run(p, j);
}

/* ---- status ---- */

/*
 * Every current check with its last transition, last result and open
 * incident, in one pass: a LATERAL probe of each table's index per check
 * where sqlite.c runs three queries per check.
 */
static const char sql_status_checks[] =
    "SELECT c.name, t.to_status, t.ts_ms, t.reason, t.message, t.to_severity,"
    " r.ts_ms, r.location, r.status, r.reason, r.message, r.ttg_us, r.severity, r.warnings,"
    " i.id, i.start_ms, i.end_ms, i.reason, i.message, i.duration_ms, NULL::text,"
    " i.close_reason FROM checks c"
    " LEFT JOIN LATERAL (SELECT to_status, ts_ms, reason, message, to_severity"
    " FROM transitions WHERE check_id = c.id ORDER BY ts_ms DESC, id DESC LIMIT 1) t ON true"
    " LEFT JOIN LATERAL (SELECT ts_ms, location, status, reason, message, ttg_us, severity,"
    " warnings FROM results WHERE check_id = c.id" PG_RAW
    " ORDER BY ts_ms DESC, location DESC LIMIT 1) r"
    " ON true"
    " LEFT JOIN LATERAL (SELECT id, start_ms, end_ms, reason, message, duration_ms,"
    " close_reason FROM incidents WHERE check_id = c.id AND end_ms IS NULL"
    " ORDER BY start_ms DESC LIMIT 1) i ON true"
    " WHERE c.removed_ms IS NULL ORDER BY c.name COLLATE \"C\"";

/*
 * Each notification channel's last attempt and its failures over the last
 * day, so a channel that stopped delivering shows on `mailpulse status`,
 * not only in the log.
 */
static const char sql_status_channels[] =
    "WITH last AS (SELECT DISTINCT ON (channel) channel, ts_ms, ok, detail, event, check_id"
    " FROM deliveries ORDER BY channel, ts_ms DESC, id DESC),"
    " day AS (SELECT channel, count(*) FILTER (WHERE ok = 0) AS f, count(*) AS a"
    " FROM deliveries WHERE ts_ms >= $1::bigint GROUP BY channel)"
    " SELECT l.channel, l.ts_ms, l.ok, l.detail, l.event, c.name, coalesce(day.f, 0),"
    " coalesce(day.a, 0) FROM last l LEFT JOIN day ON day.channel = l.channel"
    " LEFT JOIN checks c ON c.id = l.check_id ORDER BY l.channel COLLATE \"C\"";

/* Checks that left the configuration, newest first: not current, history still readable. */
static const char sql_status_removed[] =
    "SELECT name, removed_ms FROM checks WHERE removed_ms IS NOT NULL"
    " ORDER BY removed_ms DESC, name COLLATE \"C\" LIMIT $1::int";

/* What one status answer holds; strings point into the job's results. */
struct status_rows {
	struct store_state_row *checks;
	struct store_result_row *last;
	struct store_incident_row *inc;
	struct store_channel_row *ch;
	struct store_removed_row *rm;
};

static void status_rows_free(struct status_rows *s)
{
	free(s->checks);
	free(s->last);
	free(s->inc);
	free(s->ch);
	free(s->rm);
}

static void status_check(const PGresult *r, int i, struct store_state_row *o,
                         struct store_result_row *l, struct store_incident_row *inc)
{
	o->check = pg_col_text(r, i, 0);
	/* The state: the last transition, if there was one. */
	if (!PQgetisnull(r, i, 2)) {
		o->has_state = 1;
		o->state = col_int(r, i, 1);
		o->state_since_ms = col_i64_0(r, i, 2);
		o->state_reason = pg_col_text(r, i, 3);
		o->state_message = pg_col_text(r, i, 4);
		o->state_severity = col_severity(r, i, 5, o->state);
	}
	/* The last result. */
	if (!PQgetisnull(r, i, 6)) {
		l->ts_ms = col_i64_0(r, i, 6);
		l->location = pg_col_text(r, i, 7);
		l->status = col_int(r, i, 8);
		l->reason = pg_col_text(r, i, 9);
		l->message = pg_col_text(r, i, 10);
		l->ttg_us = pg_col_i64(r, i, 11);
		l->severity = col_severity(r, i, 12, l->status);
		l->warnings = pg_col_text(r, i, 13);
		o->last = l;
	}
	/* The open incident. */
	if (!PQgetisnull(r, i, 14)) {
		incident_row(r, i, 14, inc);
		o->incident = inc;
	}
}

static void status_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                        void *ctx)
{
	struct rctx *c = ctx;
	struct store_status_rows sr = {.now_ms = c->now};
	struct status_rows s = {0};
	char msg[768];
	int e = answer_ok(p, res, n, 3, error, err, 0, NULL, msg, sizeof(msg));
	size_t nc = 0, nch = 0, nrm = 0;

	if (!e) {
		nc = (size_t)PQntuples(res[0]);
		nch = (size_t)PQntuples(res[1]);
		nrm = (size_t)PQntuples(res[2]);
		s.checks = calloc(nc ? nc : 1, sizeof(*s.checks));
		s.last = calloc(nc ? nc : 1, sizeof(*s.last));
		s.inc = calloc(nc ? nc : 1, sizeof(*s.inc));
		s.ch = calloc(nch ? nch : 1, sizeof(*s.ch));
		s.rm = calloc(nrm ? nrm : 1, sizeof(*s.rm));
		if (!s.checks || !s.last || !s.inc || !s.ch || !s.rm) {
			store_set_err(msg, sizeof(msg), "%s", oom);
			e = ENOMEM;
		}
	}
	if (e) {
		c->cb.status(NULL, e, msg, c->arg);
		status_rows_free(&s);
		rctx_free(c);
		return;
	}
	for (size_t i = 0; i < nc; i++)
		status_check(res[0], (int)i, &s.checks[i], &s.last[i], &s.inc[i]);
	for (size_t i = 0; i < nch; i++) {
		struct store_channel_row *o = &s.ch[i];
		int k = (int)i;

		o->channel = pg_col_text(res[1], k, 0);
		o->last_ms = col_i64_0(res[1], k, 1);
		o->last_ok = col_int(res[1], k, 2) != 0;
		o->last_detail = pg_col_text(res[1], k, 3);
		o->last_event = pg_col_text(res[1], k, 4);
		o->last_check = pg_col_text(res[1], k, 5);
		o->failures_24h = col_i64_0(res[1], k, 6);
		o->attempts_24h = col_i64_0(res[1], k, 7);
	}
	for (size_t i = 0; i < nrm; i++) {
		s.rm[i].check = pg_col_text(res[2], (int)i, 0);
		s.rm[i].removed_ms = col_i64_0(res[2], (int)i, 1);
	}
	sr.checks = s.checks;
	sr.nchecks = nc;
	sr.channels = s.ch;
	sr.nchannels = nch;
	sr.removed = s.rm;
	sr.nremoved = nrm;
	c->cb.status(&sr, 0, NULL, c->arg);
	status_rows_free(&s);
	rctx_free(c);
}

void pg_status(void *db, store_status_cb cb, void *arg)
{
	struct pg *p = db;
	struct rctx *c = rctx_new(NULL, arg);
	struct pg_job *j = c ? pg_job_new("reading the status", status_done, c) : NULL;
	char b[2][24];
	const char *v[1];

	if (!j) {
		if (c)
			rctx_free(c);
		cb(NULL, ENOMEM, oom, arg);
		return;
	}
	c->cb.status = cb;
	c->now = wall_now_ms();
	pg_job_add(j, sql_status_checks, 0, NULL);
	v[0] = pg_i64(b[0], c->now - DAY_MS);
	pg_job_add(j, sql_status_channels, 1, v);
	v[0] = pg_i64(b[1], LIMIT_MAX);
	pg_job_add(j, sql_status_removed, 1, v);
	pg_job_run(p, j);
}

/* ---- what a restart resumes from; the checks ---- */

struct wait_ctx {
	union {
		store_state_cb state;
		store_check_cb check;
	} cb;
	void *arg;
	int rc;
};

static void states_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                        void *ctx)
{
	struct wait_ctx *c = ctx;
	char msg[768];
	const PGresult *r;

	if (answer_ok(p, res, n, 1, error, err, 0, NULL, msg, sizeof(msg))) {
		pg_set_err(p, "%s", msg);
		return;
	}
	r = res[0];
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_state ss;
		const char *name = pg_col_text(r, i, 0), *why = pg_col_text(r, i, 2);
		int status = col_int(r, i, 1), reason = why ? result_reason_parse(why) : -1;
		int sev = PQgetisnull(r, i, 5) ? -1 : col_int(r, i, 5);

		memset(&ss, 0, sizeof(ss));
		snprintf(ss.check, sizeof(ss.check), "%s", name ? name : "");
		ss.status =
		    status >= MP_UP && status <= MP_UNKNOWN ? (enum mp_status)status : MP_UNKNOWN;
		/* A reason this build does not know came from a newer one: call it ours. */
		ss.reason = reason >= 0 ? (enum mp_reason)reason : MP_R_INTERNAL;
		ss.since_ms = col_i64_0(r, i, 3);
		ss.incident_open = col_int(r, i, 4);
		ss.severity = sev >= MP_SEV_OK && sev <= MP_SEV_UNKNOWN
		                  ? (enum mp_severity)sev
		                  : result_default_severity(ss.status);
		ss.incident_start_ms = col_i64_0(r, i, 6);
		store_alert_parse(&ss, pg_col_text(r, i, 7));
		c->cb.state(&ss, c->arg);
	}
	c->rc = 0;
}

int pg_load_states(void *db, store_state_cb cb, void *arg)
{
	/* The last transition of every check that has one. */
	static const char sql[] =
	    "SELECT c.name, t.to_status, t.reason, t.ts_ms, (i.n > 0)::int, t.to_severity,"
	    " i.start_ms, (SELECT value FROM meta WHERE key = 'alert/' || c.name) FROM checks c"
	    " JOIN LATERAL (SELECT to_status, reason, ts_ms, to_severity FROM transitions"
	    " WHERE check_id = c.id ORDER BY ts_ms DESC, id DESC LIMIT 1) t ON true"
	    " CROSS JOIN LATERAL (SELECT count(*) AS n, max(start_ms) AS start_ms FROM incidents"
	    " WHERE check_id = c.id AND end_ms IS NULL) i"
	    " ORDER BY c.name COLLATE \"C\"";
	struct pg *p = db;
	struct wait_ctx c = {.cb.state = cb, .arg = arg, .rc = -1};
	struct pg_job *j = pg_job_new("loading states", states_done, &c);

	if (!j) {
		pg_set_err(p, "store %s: loading states: out of memory", pg_name(p));
		return -1;
	}
	pg_job_add(j, sql, 0, NULL);
	pg_job_wait(p, j);
	return c.rc;
}

static void checks_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                        void *ctx)
{
	struct wait_ctx *c = ctx;
	char msg[768];

	if (answer_ok(p, res, n, 1, error, err, 0, NULL, msg, sizeof(msg))) {
		pg_set_err(p, "%s", msg);
		return;
	}
	for (int i = 0; i < PQntuples(res[0]); i++) {
		const char *name = pg_col_text(res[0], i, 0);

		if (name)
			c->cb.check(name, col_int(res[0], i, 1), c->arg);
	}
	c->rc = 0;
}

int pg_each_check(void *db, store_check_cb cb, void *arg)
{
	struct pg *p = db;
	struct wait_ctx c = {.cb.check = cb, .arg = arg, .rc = -1};
	struct pg_job *j = pg_job_new("listing checks", checks_done, &c);

	if (!j) {
		pg_set_err(p, "store %s: listing checks: out of memory", pg_name(p));
		return -1;
	}
	pg_job_add(j,
	           "SELECT name, (removed_ms IS NOT NULL)::int FROM checks"
	           " ORDER BY name COLLATE \"C\"",
	           0, NULL);
	pg_job_wait(p, j);
	return c.rc;
}
