/* SPDX-License-Identifier: ISC */
/*
 * rows_json.c - the JSON of the store's typed rows (rows_json.h), and the
 * synchronous store_q_*() readers built on store_read_*().
 */
#include "store/rows_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wire/output.h"

static void put(json_t *o, const char *key, json_t *v, int *bad)
{
	/* json_object_set_new() releases v on failure; a NULL v is out of memory. */
	if (!o || !v || json_object_set_new(o, key, v) < 0) {
		json_decref(o ? NULL : v);
		*bad = 1;
	}
}

static void append(json_t *a, json_t *v, int *bad)
{
	if (!a || !v || json_array_append_new(a, v) < 0) {
		json_decref(a ? NULL : v);
		*bad = 1;
	}
}

/* NULL when bad: the caller's answer is then "out of memory". */
static json_t *done(json_t *o, int bad)
{
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *jstr(const char *s)
{
	return s ? output_json_str(s) : json_null();
}

static json_t *jint(int64_t v)
{
	return v == STORE_NONE ? json_null() : json_integer(v);
}

static json_t *jtime(int64_t ms)
{
	return ms == STORE_NONE ? json_null() : output_json_time_ms(ms);
}

/* Microseconds in the store, milliseconds in JSON, as output_json() prints them. */
static json_t *jms(int64_t us)
{
	return us == STORE_NONE ? json_null() : json_real((double)us / 1000.0);
}

static json_t *jstatus(int status)
{
	return json_string(result_status_name((enum mp_status)status));
}

static json_t *jseverity(int sev)
{
	return json_string(result_severity_name((enum mp_severity)sev));
}

/* How a result counted for uptime; null: by its own status (store.h, STORE_R_COUNT_*). */
static json_t *jcounts_as(int counts_as)
{
	switch (counts_as) {
	case STORE_COUNTS_UP:
		return json_string("up");
	case STORE_COUNTS_DOWN:
		return json_string("down");
	case STORE_COUNTS_NOT:
		return json_string("not_counted");
	case STORE_COUNTS_BY_STATUS:
	default:
		return json_null();
	}
}

/* Lines as an array of strings; NULL is []. */
static json_t *jlines(const char *t, int *bad)
{
	json_t *a = json_array();

	if (!a) {
		*bad = 1;
		return NULL;
	}
	while (t && *t) {
		size_t n = strcspn(t, "\n");
		json_t *v = json_stringn(t, n);

		if (!v) /* not UTF-8: they were escaped on the way in, so a damaged row */
			v = json_string("?");
		if (json_array_append_new(a, v) < 0)
			*bad = 1;
		t += n;
		if (*t)
			t++;
	}
	return a;
}

static json_t *result_tls(const struct store_result_row *r, int *bad)
{
	json_t *tls;

	if (!r->tls_version)
		return json_null();
	tls = json_object();
	put(tls, "version", jstr(r->tls_version), bad);
	put(tls, "days_left", jint(r->cert_days_left), bad);
	put(tls, "not_after",
	    r->cert_not_after == STORE_NONE ? json_null() : jtime(r->cert_not_after * 1000), bad);
	put(tls, "subject", jstr(r->cert_subject), bad);
	put(tls, "issuer", jstr(r->cert_issuer), bad);
	put(tls, "sha256", jstr(r->cert_sha256), bad);
	/* The wire's names (docs/json.md): not_after above stays the leaf's, as it always was. */
	put(tls, "cert_not_after",
	    r->first_not_after == STORE_NONE ? json_null() : jtime(r->first_not_after * 1000), bad);
	put(tls, "leaf_not_after",
	    r->cert_not_after == STORE_NONE ? json_null() : jtime(r->cert_not_after * 1000), bad);
	return tls;
}

json_t *rows_json_result(const struct store_result_row *r)
{
	json_t *o = json_object(), *tm = json_object();
	int bad = 0;

	put(o, "time", jtime(r->ts_ms), &bad);
	put(o, "ts_ms", json_integer(r->ts_ms), &bad);
	put(o, "location", jstr(r->location), &bad);
	put(o, "status", jstatus(r->status), &bad);
	put(o, "reason", jstr(r->reason), &bad);
	put(o, "message", jstr(r->message), &bad);
	put(o, "address", jstr(r->address), &bad);
	put(o, "time_to_greeting_ms", jms(r->ttg_us), &bad);
	for (int i = 0; i < MP_PH__COUNT; i++)
		put(tm, result_phase_name((enum mp_phase)i), jms(r->phase_us[i]), &bad);
	put(o, "timings_ms", tm, &bad);
	put(o, "tls", result_tls(r, &bad), &bad);
	put(o, "messages", jint(r->messages), &bad);
	put(o, "maintenance", json_boolean(r->maintenance), &bad);
	put(o, "severity", jseverity(r->severity), &bad);
	put(o, "warnings", jlines(r->warnings, &bad), &bad);
	put(o, "path", jstr(r->path), &bad);
	put(o, "counts_as", jcounts_as(r->counts_as), &bad);
	return done(o, bad);
}

/* The last result as a status shows it: fewer keys than a history row. */
static json_t *last_json(const struct store_result_row *r, int *bad)
{
	json_t *v = json_object();

	put(v, "time", jtime(r->ts_ms), bad);
	put(v, "ts_ms", json_integer(r->ts_ms), bad);
	put(v, "location", jstr(r->location), bad);
	put(v, "status", jstatus(r->status), bad);
	put(v, "reason", jstr(r->reason), bad);
	put(v, "message", jstr(r->message), bad);
	put(v, "time_to_greeting_ms", jms(r->ttg_us), bad);
	put(v, "severity", jseverity(r->severity), bad);
	put(v, "warnings", jlines(r->warnings, bad), bad);
	return v;
}

json_t *rows_json_incident(const struct store_incident_row *r, int64_t now_ms, int with_check)
{
	json_t *o = json_object();
	int open = r->end_ms == STORE_NONE, bad = 0;

	put(o, "id", json_integer(r->id), &bad);
	if (with_check)
		put(o, "check", jstr(r->check), &bad);
	put(o, "open", json_boolean(open), &bad);
	put(o, "start", jtime(r->start_ms), &bad);
	put(o, "start_ms", json_integer(r->start_ms), &bad);
	put(o, "end", jtime(r->end_ms), &bad);
	put(o, "end_ms", jint(r->end_ms), &bad);
	/* An open incident has lasted until now so far. */
	put(o, "duration_ms",
	    open ? json_integer(now_ms > r->start_ms ? now_ms - r->start_ms : 0)
	         : jint(r->duration_ms),
	    &bad);
	put(o, "reason", jstr(r->reason), &bad);
	put(o, "message", jstr(r->message), &bad);
	put(o, "close_reason", jstr(r->close_reason), &bad);
	return done(o, bad);
}

json_t *rows_json_delivery(const struct store_delivery_row *r)
{
	json_t *d = json_object();
	int bad = 0;

	put(d, "time", jtime(r->ts_ms), &bad);
	put(d, "ts_ms", json_integer(r->ts_ms), &bad);
	put(d, "check", jstr(r->check), &bad);
	put(d, "channel", jstr(r->channel), &bad);
	put(d, "event", jstr(r->event), &bad);
	put(d, "attempt", jint(r->attempt), &bad);
	put(d, "ok", json_boolean(r->ok), &bad);
	put(d, "detail", jstr(r->detail), &bad);
	return done(d, bad);
}

json_t *rows_json_history(const struct store_query *q, const struct store_result_row *rows,
                          size_t n)
{
	json_t *o = json_object(), *a = json_array();
	int bad = 0;

	put(o, "check", jstr(q->check), &bad);
	put(o, "since", jtime(q->since_ms), &bad);
	put(o, "until", q->until_ms <= 0 ? json_null() : jtime(q->until_ms), &bad);
	for (size_t i = 0; !bad && i < n; i++)
		append(a, rows_json_result(&rows[i]), &bad);
	put(o, "results", a, &bad);
	return done(o, bad);
}

json_t *rows_json_uptime(const struct store_uptime_row *u)
{
	json_t *o = json_object();
	int64_t probes = u->probes, up = u->up, maint = u->maint;
	int bad = 0;

	put(o, "check", jstr(u->check), &bad);
	put(o, "since", jtime(u->since_ms), &bad);
	put(o, "until", jtime(u->until_ms), &bad);
	put(o, "since_ms", json_integer(u->since_ms), &bad);
	put(o, "until_ms", jint(u->until_ms), &bad);
	put(o, "probes", json_integer(probes), &bad);
	put(o, "up", json_integer(up), &bad);
	put(o, "uptime_pct", probes ? json_real(100.0 * (double)up / (double)probes) : json_null(),
	    &bad);
	put(o, "maintenance_probes", json_integer(maint), &bad);
	put(o, "maintenance_pct",
	    probes + maint ? json_real(100.0 * (double)maint / (double)(probes + maint))
	                   : json_null(),
	    &bad);
	put(o, "from_rollups", json_boolean(u->from_rollups), &bad);
	return done(o, bad);
}

static json_t *bucket_json(const struct store_bucket_row *k, int *bad)
{
	json_t *o = json_object(), *why = json_object();

	put(o, "time", jtime(k->start_ms), bad);
	put(o, "ts_ms", json_integer(k->start_ms), bad);
	put(o, "count", json_integer(k->count), bad);
	put(o, "up_count", json_integer(k->up), bad);
	put(o, "min_ttg_ms", jms(k->min_us), bad);
	put(o, "avg_ttg_ms", jms(k->avg_us), bad);
	put(o, "p95_ttg_ms", jms(k->p95_us), bad);
	put(o, "max_ttg_ms", jms(k->max_us), bad);
	put(o, "from_rollups", json_boolean(k->from_rollups), bad);
	for (size_t i = 0; why && i < k->nreasons; i++)
		put(why, k->reasons[i].reason, json_integer(k->reasons[i].n), bad);
	put(o, "reasons", why, bad);
	return o;
}

json_t *rows_json_series(const struct store_series_rows *s)
{
	json_t *o = json_object(), *a = json_array();
	int bad = 0;

	put(o, "check", jstr(s->check), &bad);
	put(o, "since", jtime(s->since_ms), &bad);
	put(o, "since_ms", json_integer(s->since_ms), &bad);
	put(o, "until", jtime(s->until_ms), &bad);
	put(o, "until_ms", json_integer(s->until_ms), &bad);
	put(o, "bucket_ms", json_integer(s->bucket_ms), &bad);
	for (size_t i = 0; !bad && i < s->n; i++)
		append(a, bucket_json(&s->buckets[i], &bad), &bad);
	put(o, "buckets", a, &bad);
	return done(o, bad);
}

json_t *rows_json_incidents(const struct store_query *q, const struct store_incident_row *rows,
                            size_t n, int64_t now_ms)
{
	json_t *o = json_object(), *a = json_array();
	int bad = 0;

	put(o, "check", jstr(q->check), &bad);
	put(o, "since", jtime(q->since_ms), &bad);
	for (size_t i = 0; !bad && i < n; i++)
		append(a, rows_json_incident(&rows[i], now_ms, 1), &bad);
	put(o, "incidents", a, &bad);
	return done(o, bad);
}

json_t *rows_json_deliveries(const struct store_query *q, const struct store_delivery_row *rows,
                             size_t n)
{
	json_t *o = json_object(), *a = json_array();
	int bad = 0;

	put(o, "check", jstr(q->check), &bad);
	for (size_t i = 0; !bad && i < n; i++)
		append(a, rows_json_delivery(&rows[i]), &bad);
	put(o, "deliveries", a, &bad);
	return done(o, bad);
}

static json_t *state_json(const struct store_state_row *c, int64_t now, int *bad)
{
	json_t *o = json_object();
	int has = c->has_state;

	put(o, "check", jstr(c->check), bad);
	put(o, "state", has ? jstatus(c->state) : json_null(), bad);
	put(o, "state_severity", has ? jseverity(c->state_severity) : json_null(), bad);
	put(o, "state_since", has ? jtime(c->state_since_ms) : json_null(), bad);
	put(o, "state_since_ms", has ? json_integer(c->state_since_ms) : json_null(), bad);
	put(o, "state_reason", has ? jstr(c->state_reason) : json_null(), bad);
	put(o, "state_message", has ? jstr(c->state_message) : json_null(), bad);
	put(o, "last", c->last ? last_json(c->last, bad) : json_null(), bad);
	put(o, "incident", c->incident ? rows_json_incident(c->incident, now, 0) : json_null(),
	    bad);
	return o;
}

json_t *rows_json_status(const struct store_status_rows *s)
{
	json_t *o = json_object(), *a = json_array(), *ch = json_array(), *rm = json_array();
	int bad = 0;

	put(o, "time", jtime(s->now_ms), &bad);
	for (size_t i = 0; !bad && i < s->nchecks; i++)
		append(a, state_json(&s->checks[i], s->now_ms, &bad), &bad);
	put(o, "checks", a, &bad);
	for (size_t i = 0; !bad && i < s->nchannels; i++) {
		const struct store_channel_row *r = &s->channels[i];
		json_t *c = json_object();

		put(c, "channel", jstr(r->channel), &bad);
		put(c, "last_time", jtime(r->last_ms), &bad);
		put(c, "last_ok", json_boolean(r->last_ok), &bad);
		put(c, "last_detail", jstr(r->last_detail), &bad);
		put(c, "last_event", jstr(r->last_event), &bad);
		put(c, "last_check", jstr(r->last_check), &bad);
		put(c, "failures_24h", json_integer(r->failures_24h), &bad);
		put(c, "attempts_24h", json_integer(r->attempts_24h), &bad);
		append(ch, c, &bad);
	}
	put(o, "channels", ch, &bad);
	for (size_t i = 0; !bad && i < s->nremoved; i++) {
		json_t *c = json_object();

		put(c, "check", jstr(s->removed[i].check), &bad);
		put(c, "removed", jtime(s->removed[i].removed_ms), &bad);
		put(c, "removed_ms", json_integer(s->removed[i].removed_ms), &bad);
		append(rm, c, &bad);
	}
	put(o, "removed", rm, &bad);
	return done(o, bad);
}

/* ---- the synchronous readers: a read whose callback builds the JSON ---- */

struct sync {
	const struct store_query *q;
	json_t *o;
	int error;
	char *err;
	size_t errlen;
};

static void sync_fail(struct sync *y, int error, const char *err)
{
	y->error = error;
	if (y->err && y->errlen)
		snprintf(y->err, y->errlen, "%s", err ? err : "store: failed");
}

/* 1 when the answer is an error (already kept); 0 to build it. */
static int sync_begin(struct sync *y, int error, const char *err)
{
	if (!error)
		return 0;
	sync_fail(y, error, err);
	return 1;
}

static void sync_built(struct sync *y, json_t *o)
{
	if (!o)
		sync_fail(y, ENOMEM, "store: out of memory");
	y->o = o;
}

/*
 * 0 when s answers from the loop: the answer would come after y, on this
 * stack, is gone, so nothing is asked (EWOULDBLOCK).
 */
static int sync_can(struct sync *y, const struct store *s)
{
	if (!store_answers_later(s))
		return 1;
	sync_fail(y, EWOULDBLOCK,
	          "store: this backend answers from the loop: read it with store_read_*()");
	errno = EWOULDBLOCK;
	return 0;
}

static json_t *sync_end(struct sync *y)
{
	if (!y->o)
		errno = y->error ? y->error : EIO;
	return y->o;
}

static void on_history(const struct store_result_row *rows, size_t n, int error, const char *err,
                       void *arg)
{
	struct sync *y = arg;

	if (!sync_begin(y, error, err))
		sync_built(y, rows_json_history(y->q, rows, n));
}

json_t *store_q_history(struct store *s, const char *check, int64_t since_ms, int64_t until_ms,
                        int limit, char *err, size_t errlen)
{
	struct store_query q = {
	    .check = check, .since_ms = since_ms, .until_ms = until_ms, .limit = limit};
	struct sync y = {.q = &q, .err = err, .errlen = errlen};

	if (!sync_can(&y, s))
		return NULL;
	store_read_history(s, &q, on_history, &y);
	return sync_end(&y);
}

static void on_uptime(const struct store_uptime_row *row, int error, const char *err, void *arg)
{
	struct sync *y = arg;

	if (!sync_begin(y, error, err))
		sync_built(y, rows_json_uptime(row));
}

json_t *store_q_uptime(struct store *s, const char *check, int64_t since_ms, int64_t until_ms,
                       char *err, size_t errlen)
{
	struct store_query q = {.check = check, .since_ms = since_ms, .until_ms = until_ms};
	struct sync y = {.q = &q, .err = err, .errlen = errlen};

	if (!sync_can(&y, s))
		return NULL;
	store_read_uptime(s, &q, on_uptime, &y);
	return sync_end(&y);
}

static void on_series(const struct store_series_rows *rows, int error, const char *err, void *arg)
{
	struct sync *y = arg;

	if (!sync_begin(y, error, err))
		sync_built(y, rows_json_series(rows));
}

json_t *store_q_series(struct store *s, const char *check, int64_t since_ms, int64_t until_ms,
                       int64_t bucket_ms, char *err, size_t errlen)
{
	struct store_query q = {
	    .check = check, .since_ms = since_ms, .until_ms = until_ms, .bucket_ms = bucket_ms};
	struct sync y = {.q = &q, .err = err, .errlen = errlen};

	if (!sync_can(&y, s))
		return NULL;
	store_read_series(s, &q, on_series, &y);
	return sync_end(&y);
}

static void on_incidents(const struct store_incident_row *rows, size_t n, int64_t now_ms, int error,
                         const char *err, void *arg)
{
	struct sync *y = arg;

	if (!sync_begin(y, error, err))
		sync_built(y, rows_json_incidents(y->q, rows, n, now_ms));
}

json_t *store_q_incidents(struct store *s, const char *check, int64_t since_ms, int limit,
                          char *err, size_t errlen)
{
	struct store_query q = {.check = check, .since_ms = since_ms, .limit = limit};
	struct sync y = {.q = &q, .err = err, .errlen = errlen};

	if (!sync_can(&y, s))
		return NULL;
	store_read_incidents(s, &q, on_incidents, &y);
	return sync_end(&y);
}

static void on_deliveries(const struct store_delivery_row *rows, size_t n, int error,
                          const char *err, void *arg)
{
	struct sync *y = arg;

	if (!sync_begin(y, error, err))
		sync_built(y, rows_json_deliveries(y->q, rows, n));
}

json_t *store_q_deliveries(struct store *s, const char *check, int limit, char *err, size_t errlen)
{
	struct store_query q = {.check = check, .limit = limit};
	struct sync y = {.q = &q, .err = err, .errlen = errlen};

	if (!sync_can(&y, s))
		return NULL;
	store_read_deliveries(s, &q, on_deliveries, &y);
	return sync_end(&y);
}

static void on_status(const struct store_status_rows *rows, int error, const char *err, void *arg)
{
	struct sync *y = arg;

	if (!sync_begin(y, error, err))
		sync_built(y, rows_json_status(rows));
}

json_t *store_q_status(struct store *s, char *err, size_t errlen)
{
	struct sync y = {.err = err, .errlen = errlen};

	if (!sync_can(&y, s))
		return NULL;
	store_read_status(s, on_status, &y);
	return sync_end(&y);
}
