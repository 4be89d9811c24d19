/*
 * api.c - the JSON API under /api/v1, Prometheus /metrics and the public
 * status page, from what the daemon lends (monitor.h) and what the store
 * remembers (store_q_*). docs/api.md is the contract.
 *
 * Every string that came from a server or a certificate (greeting,
 * capabilities, messages, subjects) is hostile: JSON strings are built
 * with jansson (which refuses invalid UTF-8; we fall back to \xNN), label
 * values of /metrics are escaped per the exposition format, and HTML is
 * entity-escaped here. Nothing is ever written into a page raw.
 *
 * Costs: /api/v1/checks runs three uptime queries per check (24h, 7d,
 * 30d), each an indexed range count: fine below a few hundred checks.
 */
#include "api.h"

#include <errno.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "line.h"
#include "log.h"
#include "monitor.h"
#include "store.h"
#include "output.h"
#include "duration.h"
#include "isotime.h"

#define DAY_MS  (86400LL * 1000)
#define HOUR_MS (3600LL * 1000)
/* Longest uptime window asked for; roll-ups are kept about this long by default. */
#define API_WINDOW_MAX_MS (400 * DAY_MS)
/* Per-day bars of uptime at most this many days. */
#define API_DAYS_MAX 90

static int64_t now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- JSON helpers ------------------------------------------------------------ */

static json_t *jstr(const char *s)
{
	return output_json_str(s);
}

static json_t *jtime(int64_t ms)
{
	return output_json_time_ms(ms);
}

/* Microseconds -> milliseconds as output_json() prints them; null for -1. */
static json_t *jms(int64_t us)
{
	return us < 0 ? json_null() : json_real((double)us / 1000.0);
}

static void set(json_t *o, const char *key, json_t *v)
{
	/* Out of memory shows as a missing key, never as a crash. */
	if (v)
		json_object_set_new(o, key, v);
}

static int send_json(struct evbuffer *out, int code, json_t *j)
{
	char *s;

	if (!j)
		return api_error(out, 500, "internal", "out of memory");
	s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(j);
	if (!s)
		return api_error(out, 500, "internal", "out of memory");
	evbuffer_add(out, s, strlen(s));
	evbuffer_add(out, "\n", 1);
	free(s);
	return code;
}

int api_error(struct evbuffer *out, int code, const char *error, const char *detail)
{
	json_t *o = json_object();
	char *s = NULL;

	evbuffer_drain(out, evbuffer_get_length(out));
	if (o) {
		set(o, "error", jstr(error));
		set(o, "detail", jstr(detail ? detail : ""));
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	if (s) {
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
		free(s);
	} else {
		evbuffer_add_printf(out, "{\"error\":\"internal\",\"detail\":\"out of memory\"}\n");
	}
	return code;
}

/* ---- parameters -------------------------------------------------------------- */

/*
 * A time: unix milliseconds (digits only), or ISO 8601 as isotime.h reads
 * it (UTC when no zone is given). -1 when it is neither.
 */
static int parse_time(const char *s, int64_t *ms)
{
	if (*s && strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 15)
			return -1;
		*ms = strtoll(s, NULL, 10);
		return 0;
	}
	return isotime_parse(s, 0, ms);
}

/* "24h", "7d", "30m", "2w", "1d12h" -> ms; -1 when not a window. */
static int parse_window(const char *s, int64_t *ms)
{
	return duration_parse(s, API_WINDOW_MAX_MS, ms) == 0 && *ms > 0 ? 0 : -1;
}

/* Refuse parameters we do not know: a typo should not silently mean "no filter". */
/*
 * A query parameter not in known (NULL-terminated): 1 with msg saying
 * which, escaped, and what is known; 0 when every parameter is known.
 */
static int unknown_param(const struct evkeyvalq *q, const char *const *known, char *msg,
                         size_t msglen)
{
	const struct evkeyval *kv;

	TAILQ_FOREACH(kv, q, next)
	{
		char bad[64];
		size_t o;
		int ok = 0;

		for (const char *const *k = known; *k; k++)
			if (strcmp(kv->key, *k) == 0)
				ok = 1;
		if (ok)
			continue;
		line_escape(bad, sizeof(bad), kv->key, strlen(kv->key));
		o = (size_t)snprintf(msg, msglen, "unknown parameter \"%s\"; known:", bad);
		for (const char *const *k = known; *k && o < msglen; k++)
			o += (size_t)snprintf(msg + o, msglen - o, "%s %s", k == known ? "" : ",",
			                      *k);
		return 1;
	}
	return 0;
}

/* ---- one check --------------------------------------------------------------- */

struct get_ctx {
	struct daemon *d;
	json_t *out;
	int detail;
};

static json_t *labels_json(const struct conf_check *cc)
{
	json_t *a = json_array();

	for (int i = 0; a && i < cc->nlabels; i++)
		json_array_append_new(a, jstr(cc->labels[i]));
	return a;
}

static json_t *timings_json(const struct mon_last *l)
{
	json_t *o = json_object();

	for (int p = 0; o && p < MP_PH__COUNT; p++)
		set(o, result_phase_name((enum mp_phase)p), jms(l->phase_us[p]));
	return o;
}

/* Split on sep, dropping empty pieces: "A B" -> ["A", "B"]. */
static json_t *split_json(const char *s, const char *sep)
{
	json_t *a = json_array();
	char buf[RESULT_CAPS_MAX + RESULT_SANS_MAX];
	char *save = NULL;

	if (!a || !s)
		return a;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok_r(buf, sep, &save); t; t = strtok_r(NULL, sep, &save))
		json_array_append_new(a, jstr(t));
	return a;
}

static json_t *last_json(const struct mon_last *l, int detail)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set(o, "time", jtime(l->ts_ms));
	set(o, "ts_ms", json_integer(l->ts_ms));
	set(o, "status", jstr(result_status_name(l->status)));
	set(o, "severity", jstr(result_severity_name(l->severity)));
	set(o, "reason", jstr(result_reason_name(l->reason)));
	set(o, "message", jstr(l->message));
	/* Findings that leave the status as it is (posture: report) are still findings. */
	set(o, "warnings", split_json(l->warnings, "\n"));
	set(o, "address", l->address && *l->address ? jstr(l->address) : json_null());
	set(o, "time_to_greeting_ms", jms(l->ttg_us));
	set(o, "timings_ms", timings_json(l));
	set(o, "tls_version", l->tls_used && l->tls_version ? jstr(l->tls_version) : json_null());
	set(o, "cert_days_left",
	    l->tls_used && l->cert_not_after > 0 ? json_integer(l->cert_days_left) : json_null());
	set(o, "cert_not_after",
	    l->tls_used && l->cert_not_after > 0 ? jtime(l->cert_not_after * 1000) : json_null());
	set(o, "cert_subject",
	    l->tls_used && l->cert_subject && *l->cert_subject ? jstr(l->cert_subject)
	                                                       : json_null());
	/* The TLS fields above outlive an outage: when they were seen. */
	set(o, "cert_seen",
	    l->tls_used && l->tls_seen_ms > 0 ? jtime(l->tls_seen_ms) : json_null());
	set(o, "cert_seen_ms",
	    l->tls_used && l->tls_seen_ms > 0 ? json_integer(l->tls_seen_ms) : json_null());
	if (!detail)
		return o;
	set(o, "greeting", l->greeting && *l->greeting ? jstr(l->greeting) : json_null());
	set(o, "capabilities", split_json(l->capabilities, " "));
	set(o, "messages", l->messages >= 0 ? json_integer(l->messages) : json_null());
	return o;
}

static json_t *tls_json(const struct mon_last *l)
{
	json_t *o;

	if (!l->tls_used)
		return json_null();
	o = json_object();
	if (!o)
		return NULL;
	set(o, "version", jstr(l->tls_version));
	set(o, "cipher", jstr(l->tls_cipher));
	set(o, "verified", json_boolean(l->tls_verified));
	set(o, "subject",
	    l->cert_subject && *l->cert_subject ? jstr(l->cert_subject) : json_null());
	set(o, "issuer", l->cert_issuer && *l->cert_issuer ? jstr(l->cert_issuer) : json_null());
	set(o, "sans", split_json(l->cert_sans, ", "));
	set(o, "not_after", l->cert_not_after > 0 ? jtime(l->cert_not_after * 1000) : json_null());
	set(o, "days_left", l->cert_not_after > 0 ? json_integer(l->cert_days_left) : json_null());
	set(o, "seen", jtime(l->tls_seen_ms));
	set(o, "seen_ms", json_integer(l->tls_seen_ms));
	set(o, "current", json_boolean(l->tls_seen_ms == l->ts_ms));
	return o;
}

/*
 * The maintenance window cc is in at now (unix ms): {"window", "until",
 * "until_ms"}, or null. Notifications are held back until then and results
 * are left out of uptime.
 */
static json_t *maint_json(const struct conf *c, const struct conf_check *cc, int64_t now)
{
	int64_t until;
	const struct conf_window *w = conf_maintenance(c, cc, now / 1000, &until);

	if (!w)
		return json_null();
	return json_pack("{s:o, s:o, s:I}", "window", jstr(w->name), "until", jtime(until * 1000),
	                 "until_ms", (json_int_t)(until * 1000));
}

/* Uptime percentage over [now - window, now); null when nothing was recorded. */
static json_t *uptime_pct(struct store *s, const char *check, int64_t window, int64_t now)
{
	char err[256];
	json_t *u, *pct;

	if (!s)
		return json_null();
	u = store_q_uptime(s, check, now - window, 0, err, sizeof(err));
	if (!u) {
		if (errno != ENOENT)
			log_msg(LOG_WARNING, "http: uptime of %s: %s", check, err);
		return json_null();
	}
	pct = json_object_get(u, "uptime_pct");
	pct = pct ? json_incref(pct) : json_null();
	json_decref(u);
	return pct;
}

/* A field of a store answer, or [] when the store has nothing for the check. */
static json_t *store_list(json_t *res, const char *key, const char *check, const char *err)
{
	json_t *a;

	if (!res) {
		if (errno != ENOENT)
			log_msg(LOG_WARNING, "http: %s of %s: %s", key, check, err);
		return json_array();
	}
	a = json_object_get(res, key);
	a = a ? json_incref(a) : json_array();
	json_decref(res);
	return a;
}

static json_t *check_json(struct daemon *d, const struct mon_info *mi, int detail)
{
	const struct conf *c = daemon_conf(d);
	const struct conf_check *cc = mi->cc;
	struct store *s = daemon_store(d);
	int64_t now = now_ms();
	json_t *o = json_object(), *u, *loc, *locs;

	if (!o)
		return NULL;
	set(o, "name", jstr(mi->name));
	set(o, "url", jstr(cc->url ? cc->url : cc->chk.target.url));
	set(o, "labels", labels_json(cc));
	set(o, "location", jstr(c->location));
	set(o, "state", jstr(state_status_name(mi->st->status)));
	set(o, "severity",
	    jstr(mi->st->status == MP_UNKNOWN ? "unknown"
	                                      : result_severity_name(mi->st->severity)));
	set(o, "since", mi->st->since_ms > 0 ? jtime(mi->st->since_ms) : json_null());
	set(o, "since_ms", mi->st->since_ms > 0 ? json_integer(mi->st->since_ms) : json_null());
	set(o, "reason", jstr(result_reason_name(mi->st->reason)));
	set(o, "message", mi->last ? jstr(mi->last->message) : json_null());
	set(o, "incident_open", json_boolean(mi->st->incident_open));
	set(o, "maintenance", maint_json(c, cc, now));
	set(o, "running", json_boolean(mi->running));
	set(o, "probes", json_integer((json_int_t)mi->probes));
	set(o, "interval_ms", json_integer(cc->interval_ms));
	set(o, "last", mi->last ? last_json(mi->last, detail) : json_null());
	u = json_object();
	if (u) {
		set(u, "24h", uptime_pct(s, mi->name, DAY_MS, now));
		set(u, "7d", uptime_pct(s, mi->name, 7 * DAY_MS, now));
		set(u, "30d", uptime_pct(s, mi->name, 30 * DAY_MS, now));
	}
	set(o, "uptime_pct", u);
	/* One location today; remote probing nodes will add theirs here. */
	locs = json_array();
	loc = json_object();
	if (locs && loc) {
		set(loc, "location", jstr(c->location));
		set(loc, "state", jstr(state_status_name(mi->st->status)));
		set(loc, "last_status",
		    mi->last ? jstr(result_status_name(mi->last->status)) : json_null());
		set(loc, "last_time", mi->last ? jtime(mi->last->ts_ms) : json_null());
		json_array_append_new(locs, loc);
		loc = NULL;
	}
	json_decref(loc);
	set(o, "locations", locs);
	if (detail) {
		char err[256];

		set(o, "tls", mi->last ? tls_json(mi->last) : json_null());
		set(o, "fail_after", json_integer(cc->fail_after));
		set(o, "recover_after", json_integer(cc->recover_after));
		if (s) {
			json_t *r = store_q_incidents(s, mi->name, 0, API_RECENT, err, sizeof(err));

			set(o, "incidents", store_list(r, "incidents", mi->name, err));
			r = store_q_deliveries(s, mi->name, API_RECENT, err, sizeof(err));
			set(o, "deliveries", store_list(r, "deliveries", mi->name, err));
		}
	}
	return o;
}

static void each_cb(const struct mon_info *mi, void *arg)
{
	struct get_ctx *g = arg;
	json_t *o = check_json(g->d, mi, g->detail);

	if (!o)
		return;
	if (json_is_array(g->out))
		json_array_append_new(g->out, o);
	else
		g->out = o;
}

int api_checks(struct daemon *d, struct evbuffer *out)
{
	struct get_ctx g = {d, json_array(), 0};
	json_t *o = json_object();

	if (!o || !g.out) {
		json_decref(o);
		json_decref(g.out);
		return api_error(out, 500, "internal", "out of memory");
	}
	daemon_each_check(d, each_cb, &g);
	set(o, "time", jtime(now_ms()));
	set(o, "location", jstr(daemon_conf(d)->location));
	set(o, "checks", g.out);
	return send_json(out, 200, o);
}

int api_check(struct daemon *d, const char *name, struct evbuffer *out)
{
	struct get_ctx g = {d, NULL, 1};

	if (daemon_get_check(d, name, each_cb, &g) < 0)
		return api_error(out, 404, "not_found", "no check by that name");
	if (!g.out)
		return api_error(out, 500, "internal", "out of memory");
	return send_json(out, 200, g.out);
}

static void exists_cb(const struct mon_info *mi, void *arg)
{
	(void)mi;
	*(int *)arg = 1;
}

static int check_exists(struct daemon *d, const char *name)
{
	int found = 0;

	return daemon_get_check(d, name, exists_cb, &found) == 0 && found;
}

/*
 * ?from=&to= into [*since, *until); each keeps its value when not given,
 * and with both given, to must be after from. Returns NULL, or what was
 * wrong.
 */
static const char *parse_range(const struct evkeyvalq *q, int64_t *since, int64_t *until)
{
	const char *from = evhttp_find_header(q, "from"), *to = evhttp_find_header(q, "to");

	if (from && parse_time(from, since) < 0)
		return "from: expected ISO 8601 (2025-03-01T12:00:00Z) or unix ms";
	if (to && parse_time(to, until) < 0)
		return "to: expected ISO 8601 (2025-03-01T12:00:00Z) or unix ms";
	if ((to || *until > 0) && *until <= *since)
		return "to must be after from";
	return NULL;
}

int api_results(struct daemon *d, const char *name, const struct evkeyvalq *q, struct evbuffer *out)
{
	static const char *const known[] = {"from", "to", "limit", NULL};
	const char *why;
	const char *lim = evhttp_find_header(q, "limit");
	int64_t since = 0, until = 0;
	long limit = 1000;
	char err[256];
	struct store *s = daemon_store(d);
	json_t *r;

	if (!check_exists(d, name))
		return api_error(out, 404, "not_found", "no check by that name");
	if (unknown_param(q, known, err, sizeof(err)))
		return api_error(out, 400, "bad_parameter", err);
	if ((why = parse_range(q, &since, &until)))
		return api_error(out, 400, "bad_parameter", why);
	if (lim) {
		char *end;

		errno = 0;
		limit = strtol(lim, &end, 10);
		if (!*lim || *end || errno || limit < 1 || limit > API_RESULTS_MAX)
			return api_error(out, 400, "bad_parameter",
			                 "limit: expected a whole number from 1 to 10000");
	}
	if (!s)
		return api_error(out, 503, "unavailable", "the store is not open");
	r = store_q_history(s, name, since, until, (int)limit, err, sizeof(err));
	if (!r && errno == ENOENT) {
		/* Configured but nothing recorded yet. */
		r = json_pack("{s:s, s:o, s:o, s:[]}", "check", name, "since", jtime(since),
		              "until", until > 0 ? jtime(until) : json_null(), "results");
	} else if (!r) {
		log_msg(LOG_WARNING, "http: results of %s: %s", name, err);
		return api_error(out, 500, "store", err);
	}
	return send_json(out, 200, r);
}

int api_uptime(struct daemon *d, const char *name, const struct evkeyvalq *q, struct evbuffer *out)
{
	static const char *const known[] = {"window", "by", NULL};
	const char *w = evhttp_find_header(q, "window"), *by = evhttp_find_header(q, "by");
	int64_t window = DAY_MS, now = now_ms();
	struct store *s = daemon_store(d);
	char err[256];
	json_t *o;

	if (!check_exists(d, name))
		return api_error(out, 404, "not_found", "no check by that name");
	if (unknown_param(q, known, err, sizeof(err)))
		return api_error(out, 400, "bad_parameter", err);
	if (w && parse_window(w, &window) < 0)
		return api_error(out, 400, "bad_parameter",
		                 "window: expected a duration such as 24h, 7d, 30d (at most 400d)");
	if (by && strcmp(by, "day") != 0)
		return api_error(out, 400, "bad_parameter", "by: only \"day\" is known");
	if (by && (window % DAY_MS || window / DAY_MS > API_DAYS_MAX))
		return api_error(out, 400, "bad_parameter",
		                 "by=day needs a window of whole days, at most 90d");
	if (!s)
		return api_error(out, 503, "unavailable", "the store is not open");
	o = store_q_uptime(s, name, now - window, 0, err, sizeof(err));
	if (!o && errno == ENOENT) {
		o = json_pack("{s:s, s:o, s:I, s:i, s:i, s:n, s:b, s:i, s:n}", "check", name,
		              "since", jtime(now - window), "since_ms", (json_int_t)(now - window),
		              "probes", 0, "up", 0, "uptime_pct", "from_rollups", 0,
		              "maintenance_probes", 0, "maintenance_pct");
	} else if (!o) {
		log_msg(LOG_WARNING, "http: uptime of %s: %s", name, err);
		return api_error(out, 500, "store", err);
	}
	if (!o)
		return api_error(out, 500, "internal", "out of memory");
	set(o, "window_ms", json_integer(window));
	if (by) {
		/* Whole UTC days, the oldest first, today (so far) last. */
		int64_t today = now - now % DAY_MS;
		int ndays = (int)(window / DAY_MS);
		json_t *days = json_array();

		for (int i = ndays - 1; days && i >= 0; i--) {
			int64_t start = today - (int64_t)i * DAY_MS;
			json_t *u =
			    store_q_uptime(s, name, start, start + DAY_MS, err, sizeof(err));
			json_t *day = json_object();

			if (!day) {
				json_decref(u);
				break;
			}
			set(day, "date", jtime(start));
			set(day, "since_ms", json_integer(start));
			set(day, "probes",
			    u ? json_incref(json_object_get(u, "probes")) : json_integer(0));
			set(day, "up", u ? json_incref(json_object_get(u, "up")) : json_integer(0));
			set(day, "uptime_pct",
			    u ? json_incref(json_object_get(u, "uptime_pct")) : json_null());
			set(day, "maintenance_probes",
			    u ? json_incref(json_object_get(u, "maintenance_probes"))
			      : json_integer(0));
			json_decref(u);
			json_array_append_new(days, day);
		}
		set(o, "days", days);
	}
	return send_json(out, 200, o);
}

int api_series(struct daemon *d, const char *name, const struct evkeyvalq *q, struct evbuffer *out)
{
	static const char *const known[] = {"from", "to", "bucket", NULL};
	const char *why;
	const char *bk = evhttp_find_header(q, "bucket");
	int64_t now = now_ms(), since = now - 7 * DAY_MS, until = now, bucket = HOUR_MS;
	struct store *s = daemon_store(d);
	char err[256];
	json_t *r;

	if (!check_exists(d, name))
		return api_error(out, 404, "not_found", "no check by that name");
	if (unknown_param(q, known, err, sizeof(err)))
		return api_error(out, 400, "bad_parameter", err);
	if ((why = parse_range(q, &since, &until)))
		return api_error(out, 400, "bad_parameter", why);
	if (bk && (parse_window(bk, &bucket) < 0 || bucket % HOUR_MS))
		return api_error(out, 400, "bad_parameter",
		                 "bucket: expected whole hours such as 1h, 6h, 1d");
	/* Buckets start at multiples of their size, as the store counts them. */
	since -= (since % bucket + bucket) % bucket;
	if ((until - since + bucket - 1) / bucket > STORE_SERIES_MAX)
		return api_error(out, 400, "bad_parameter",
		                 "from and to span more than 2000 buckets: use a larger bucket");
	if (!s)
		return api_error(out, 503, "unavailable", "the store is not open");
	r = store_q_series(s, name, since, until, bucket, err, sizeof(err));
	if (!r && errno == ENOENT) {
		/* Configured but nothing recorded yet. */
		r = json_pack("{s:s, s:o, s:I, s:o, s:I, s:I, s:[]}", "check", name, "since",
		              jtime(since), "since_ms", (json_int_t)since, "until", jtime(until),
		              "until_ms", (json_int_t)until, "bucket_ms", (json_int_t)bucket,
		              "buckets");
	} else if (!r) {
		log_msg(LOG_WARNING, "http: series of %s: %s", name, err);
		return api_error(out, 500, "store", err);
	}
	return send_json(out, 200, r);
}

int api_incidents(struct daemon *d, const struct evkeyvalq *q, struct evbuffer *out)
{
	static const char *const known[] = {"check", "since", "limit", NULL};
	const char *check = evhttp_find_header(q, "check"), *sn = evhttp_find_header(q, "since");
	const char *lim = evhttp_find_header(q, "limit");
	int64_t since = now_ms() - 30 * DAY_MS;
	long limit = 100;
	struct store *s = daemon_store(d);
	char err[256];
	json_t *r;

	if (unknown_param(q, known, err, sizeof(err)))
		return api_error(out, 400, "bad_parameter", err);
	if (check && (!*check || strlen(check) > 64 ||
	              strspn(check, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "0123456789._-") != strlen(check)))
		return api_error(out, 400, "bad_parameter", "check: not a check name");
	if (sn && parse_time(sn, &since) < 0)
		return api_error(out, 400, "bad_parameter",
		                 "since: expected ISO 8601 (2025-03-01T12:00:00Z) or unix ms");
	if (lim) {
		char *end;

		errno = 0;
		limit = strtol(lim, &end, 10);
		if (!*lim || *end || errno || limit < 1 || limit > API_RESULTS_MAX)
			return api_error(out, 400, "bad_parameter",
			                 "limit: expected a whole number from 1 to 10000");
	}
	if (!s)
		return api_error(out, 503, "unavailable", "the store is not open");
	r = store_q_incidents(s, check, since, (int)limit, err, sizeof(err));
	if (!r && errno == ENOENT) {
		r = json_pack("{s:s, s:o, s:[]}", "check", check, "since", jtime(since),
		              "incidents");
	} else if (!r) {
		log_msg(LOG_WARNING, "http: incidents: %s", err);
		return api_error(out, 500, "store", err);
	}
	return send_json(out, 200, r);
}

int api_run(struct daemon *d, const char *name, struct evbuffer *out)
{
	if (daemon_run_now(d, name) < 0)
		return api_error(out, 404, "not_found", "no check by that name");
	return send_json(out, 202, json_pack("{s:s, s:b}", "check", name, "started", 1));
}

int api_health(struct daemon *d, struct evbuffer *out)
{
	struct daemon_health h;

	memset(&h, 0, sizeof(h));
	daemon_health(d, &h);
	return send_json(
	    out, 200,
	    json_pack("{s:s, s:o, s:i, s:i, s:i, s:I, s:I, s:I, s:f, s:f, s:i, s:I, s:i, s:I}",
	              "version", MAILPULSE_VERSION, "started", jtime(h.started_ms), "checks",
	              h.checks, "in_flight", h.in_flight, "waiting", h.waiting, "probes_started",
	              (json_int_t)h.probes_started, "probes_finished",
	              (json_int_t)h.probes_finished, "slots_skipped", (json_int_t)h.slots_skipped,
	              "store_flush_last_ms", h.store_flush_last_ms, "store_flush_max_ms",
	              h.store_flush_max_ms, "store_queued", h.store_queued, "store_flush_failures",
	              (json_int_t)h.store_flush_failures, "notify_pending", h.notify_pending,
	              "notify_failures", (json_int_t)h.notify_failures));
}

/* ---- /metrics ------------------------------------------------------------------ */

/* A label value per the exposition format: \ " and newline escaped. */
static void prom_value(struct evbuffer *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '"')
			evbuffer_add(out, "\\\"", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

static void prom_head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{check="..",location=".." (, key="value")} value */
static void prom_check(struct evbuffer *out, const char *name, const char *check,
                       const char *location, const char *key, const char *val, double v)
{
	evbuffer_add_printf(out, "%s{check=\"", name);
	prom_value(out, check);
	evbuffer_add(out, "\",location=\"", 12);
	prom_value(out, location);
	if (key) {
		evbuffer_add_printf(out, "\",%s=\"", key);
		prom_value(out, val);
	}
	evbuffer_add_printf(out, "\"} %.15g\n", v);
}

enum fam {
	F_SUCCESS,
	F_STATE,
	F_DURATION,
	F_TTG,
	F_CERT,
	F_TLS,
	F_PROBES,
	F_FAILURES,
	F_RUNNING,
	F_SEVERITY,
	F_WARNINGS,
	F__COUNT
};

static const struct {
	const char *name, *type, *help;
} fams[F__COUNT] = {
    [F_SUCCESS] = {"mailpulse_probe_success", "gauge",
                   "1 when the last probe of the check was up or degraded, else 0."},
    [F_STATE] = {"mailpulse_check_state", "gauge",
                 "The confirmed alert state of the check: 1 for the current state, 0 for the "
                 "others."},
    [F_DURATION] = {"mailpulse_probe_duration_seconds", "gauge",
                    "Time spent in each phase of the last probe."},
    [F_TTG] = {"mailpulse_time_to_greeting_seconds", "gauge",
               "From the TCP connect to the complete greeting line, last probe."},
    [F_CERT] = {"mailpulse_cert_expiry_timestamp_seconds", "gauge",
                "When the first certificate of the served chain expires (unix time)."},
    [F_TLS] = {"mailpulse_tls_version_info", "gauge",
               "The TLS version negotiated by the last probe that was shown a certificate."},
    [F_PROBES] = {"mailpulse_probes_total", "counter", "Probes finished since the daemon started."},
    [F_FAILURES] = {"mailpulse_probe_failures_total", "counter",
                    "Probes that were not up since the daemon started, by reason."},
    [F_RUNNING] = {"mailpulse_probe_running", "gauge", "1 while a probe of the check runs."},
    [F_SEVERITY] = {"mailpulse_check_severity", "gauge",
                    "The confirmed severity of the check (what the admin is told): 1 for the "
                    "current one, 0 for the others. Critical may come with a degraded state."},
    [F_WARNINGS] = {"mailpulse_probe_warnings", "gauge",
                    "Findings of the last probe that leave its status as it is (plaintext "
                    "login offered before TLS, another address tried)."},
};

struct prom_ctx {
	struct evbuffer *out;
	const char *location;
	enum fam fam;
};

static void prom_cb(const struct mon_info *mi, void *arg)
{
	struct prom_ctx *p = arg;
	const struct mon_last *l = mi->last;
	struct evbuffer *o = p->out;
	static const enum mp_status states[] = {MP_UP, MP_DEGRADED, MP_DOWN, MP_UNKNOWN};

	switch (p->fam) {
	case F_SUCCESS:
		if (l)
			prom_check(o, fams[F_SUCCESS].name, mi->name, p->location, NULL, NULL,
			           l->status == MP_UP || l->status == MP_DEGRADED);
		break;
	case F_STATE:
		for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			prom_check(o, fams[F_STATE].name, mi->name, p->location, "state",
			           state_status_name(states[i]), mi->st->status == states[i]);
		break;
	case F_SEVERITY:
		for (int i = MP_SEV_OK; i <= MP_SEV_UNKNOWN; i++) {
			enum mp_severity cur =
			    mi->st->status == MP_UNKNOWN ? MP_SEV_UNKNOWN : mi->st->severity;
			prom_check(o, fams[F_SEVERITY].name, mi->name, p->location, "severity",
			           result_severity_name((enum mp_severity)i),
			           cur == (enum mp_severity)i);
		}
		break;
	case F_WARNINGS:
		if (l) {
			/* One per line: none, or one more than the newlines. */
			int n = l->warnings && *l->warnings;
			for (const char *w = n ? l->warnings : ""; (w = strchr(w, '\n')); w++)
				n++;
			prom_check(o, fams[F_WARNINGS].name, mi->name, p->location, NULL, NULL, n);
		}
		break;
	case F_DURATION:
		for (int ph = 0; l && ph < MP_PH__COUNT; ph++)
			if (l->phase_us[ph] >= 0)
				prom_check(o, fams[F_DURATION].name, mi->name, p->location, "phase",
				           result_phase_name((enum mp_phase)ph),
				           (double)l->phase_us[ph] / 1e6);
		break;
	case F_TTG:
		if (l && l->ttg_us >= 0)
			prom_check(o, fams[F_TTG].name, mi->name, p->location, NULL, NULL,
			           (double)l->ttg_us / 1e6);
		break;
	case F_CERT:
		if (l && l->tls_used && l->cert_not_after > 0)
			prom_check(o, fams[F_CERT].name, mi->name, p->location, NULL, NULL,
			           (double)l->cert_not_after);
		break;
	case F_TLS:
		if (l && l->tls_used && l->tls_version && *l->tls_version)
			prom_check(o, fams[F_TLS].name, mi->name, p->location, "version",
			           l->tls_version, 1);
		break;
	case F_PROBES:
		prom_check(o, fams[F_PROBES].name, mi->name, p->location, NULL, NULL,
		           (double)mi->probes);
		break;
	case F_FAILURES:
		/* Reasons seen so far; a series appears with its first failure. */
		for (int r = 1; r < MP_R__COUNT; r++)
			if (mi->by_reason[r])
				prom_check(o, fams[F_FAILURES].name, mi->name, p->location,
				           "reason", result_reason_name((enum mp_reason)r),
				           (double)mi->by_reason[r]);
		break;
	case F_RUNNING:
		prom_check(o, fams[F_RUNNING].name, mi->name, p->location, NULL, NULL, mi->running);
		break;
	case F__COUNT:
		break;
	}
}

static void prom_one(struct evbuffer *out, const char *name, const char *type, const char *help,
                     double v)
{
	prom_head(out, name, type, help);
	evbuffer_add_printf(out, "%s %.15g\n", name, v);
}

int api_metrics(struct daemon *d, struct evbuffer *out)
{
	struct prom_ctx p = {out, daemon_conf(d)->location, F_SUCCESS};
	struct daemon_health h;

	/* One pass per family: the format wants each family's samples together. */
	for (int f = 0; f < F__COUNT; f++) {
		p.fam = (enum fam)f;
		prom_head(out, fams[f].name, fams[f].type, fams[f].help);
		daemon_each_check(d, prom_cb, &p);
	}
	memset(&h, 0, sizeof(h));
	daemon_health(d, &h);
	prom_one(out, "mailpulse_checks", "gauge", "Checks configured.", h.checks);
	prom_one(out, "mailpulse_probes_in_flight", "gauge", "Probes running now.", h.in_flight);
	prom_one(out, "mailpulse_probes_waiting", "gauge",
	         "Probes due but held back by max_in_flight.", h.waiting);
	prom_one(out, "mailpulse_probe_slots_skipped_total", "counter",
	         "Scheduled probes skipped because the previous one outlasted its interval.",
	         (double)h.slots_skipped);
	prom_head(out, "mailpulse_scheduler_lag_seconds", "gauge",
	          "Delay of probe starts behind their schedule over the last minute.");
	evbuffer_add_printf(out, "mailpulse_scheduler_lag_seconds{stat=\"max\"} %.15g\n",
	                    h.lag_max_ms / 1000.0);
	evbuffer_add_printf(out, "mailpulse_scheduler_lag_seconds{stat=\"avg\"} %.15g\n",
	                    h.lag_avg_ms / 1000.0);
	prom_head(out, "mailpulse_store_write_duration_seconds", "gauge",
	          "Duration of store writes (one transaction each): the last and the longest.");
	evbuffer_add_printf(out, "mailpulse_store_write_duration_seconds{stat=\"last\"} %.15g\n",
	                    h.store_flush_last_ms / 1000.0);
	evbuffer_add_printf(out, "mailpulse_store_write_duration_seconds{stat=\"max\"} %.15g\n",
	                    h.store_flush_max_ms / 1000.0);
	prom_one(out, "mailpulse_store_queued_rows", "gauge", "Rows waiting to be written.",
	         h.store_queued);
	prom_one(out, "mailpulse_store_write_failures_total", "counter",
	         "Store writes that failed.", (double)h.store_flush_failures);
	prom_one(out, "mailpulse_notifications_pending", "gauge",
	         "Notifications queued or being delivered.", h.notify_pending);
	prom_one(out, "mailpulse_notification_attempts_total", "counter",
	         "Notification delivery attempts.", (double)h.notify_attempts);
	prom_one(out, "mailpulse_notification_failures_total", "counter",
	         "Notification delivery attempts that failed.", (double)h.notify_failures);
	prom_one(out, "mailpulse_start_time_seconds", "gauge",
	         "When the daemon started (unix time).", (double)h.started_ms / 1000.0);
	prom_head(out, "mailpulse_build_info", "gauge", "The running version of mailpulse.");
	evbuffer_add_printf(out, "mailpulse_build_info{version=\"%s\"} 1\n", MAILPULSE_VERSION);
	return 200;
}

/* ---- public status page ----------------------------------------------------------- */

void api_html_escape(struct evbuffer *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			evbuffer_add(out, "&amp;", 5);
			break;
		case '<':
			evbuffer_add(out, "&lt;", 4);
			break;
		case '>':
			evbuffer_add(out, "&gt;", 4);
			break;
		case '"':
			evbuffer_add(out, "&quot;", 6);
			break;
		case '\'':
			evbuffer_add(out, "&#39;", 5);
			break;
		default:
			evbuffer_add(out, s, 1);
		}
	}
}

struct status_ctx {
	struct daemon *d;
	struct evbuffer *out;
	int shown;
};

static void status_cb(const struct mon_info *mi, void *arg)
{
	struct status_ctx *sc = arg;
	const struct conf *c = daemon_conf(sc->d);
	struct store *s = daemon_store(sc->d);
	const char *state = state_status_name(mi->st->status);
	int64_t now = now_ms();
	static const struct {
		const char *label;
		int64_t ms;
	} win[] = {{"24 hours", DAY_MS}, {"30 days", 30 * DAY_MS}};

	if (!conf_public_covers(c, mi->cc))
		return;
	sc->shown++;
	evbuffer_add_printf(sc->out, "<tr><td class=\"name\">");
	api_html_escape(sc->out, mi->name);
	/*
	 * The public speaks of what users get. A certificate close to expiry or
	 * a posture finding is the admin's concern, not an outage or a slowdown:
	 * operational, with a notice for the certificate.
	 */
	const char *shown = state, *cls = state, *notice = NULL;
	if (mi->st->status == MP_UP) {
		shown = "operational";
	} else if (mi->st->status == MP_DEGRADED) {
		if (mi->st->reason == MP_R_SLOW) {
			shown = "degraded performance";
		} else {
			shown = "operational";
			cls = "up";
			if (mi->st->reason == MP_R_CERT_EXPIRING)
				notice = "certificate renewal due";
		}
	} else if (mi->st->status == MP_DOWN) {
		shown = "outage";
	}
	evbuffer_add_printf(sc->out, "</td><td><span class=\"badge s-%s\">%s</span>", cls, shown);
	if (notice)
		evbuffer_add_printf(sc->out, " <span class=\"notice\">%s</span>", notice);
	/* A window under way says so, and until when; its name is the admin's, not shown. */
	int64_t until;
	if (conf_maintenance(c, mi->cc, now / 1000, &until)) {
		char when[40];
		time_t t = (time_t)until;
		struct tm tm;

		if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm))
			snprintf(when, sizeof(when), "?");
		evbuffer_add_printf(
		    sc->out, " <span class=\"notice maint\">scheduled maintenance until %s</span>",
		    when);
	}
	evbuffer_add_printf(sc->out, "</td>");
	for (size_t i = 0; i < sizeof(win) / sizeof(win[0]); i++) {
		json_t *u = uptime_pct(s, mi->name, win[i].ms, now);

		if (json_is_number(u))
			evbuffer_add_printf(sc->out, "<td class=\"num\">%.3f%%</td>",
			                    json_number_value(u));
		else
			evbuffer_add_printf(sc->out, "<td class=\"num\">&#8212;</td>");
		json_decref(u);
	}
	evbuffer_add_printf(sc->out, "</tr>\n");
}

int api_status_page(struct daemon *d, struct evbuffer *out)
{
	const struct conf *c = daemon_conf(d);
	struct status_ctx sc = {d, out, 0};
	char when[40];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	evbuffer_add_printf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	                         "<meta name=\"viewport\" content=\"width=device-width\">"
	                         "<meta http-equiv=\"refresh\" content=\"60\"><title>");
	api_html_escape(out, c->public_title);
	evbuffer_add_printf(out, "</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
	                         "</head><body class=\"public\"><main><h1>");
	api_html_escape(out, c->public_title);
	evbuffer_add_printf(out, "</h1><table class=\"grid\"><thead><tr><th>Service</th>"
	                         "<th>State</th><th>Uptime 24 h</th><th>Uptime 30 d</th></tr>"
	                         "</thead><tbody>\n");
	daemon_each_check(d, status_cb, &sc);
	if (!sc.shown)
		evbuffer_add_printf(out, "<tr><td colspan=\"4\">Nothing to show.</td></tr>\n");
	evbuffer_add_printf(out,
	                    "</tbody></table><p class=\"muted\">Uptime leaves out scheduled "
	                    "maintenance. Updated %s</p></main>"
	                    "</body></html>\n",
	                    when);
	return 200;
}

/* ---- assets ------------------------------------------------------------------------- */

const struct web_asset *api_asset(const char *name)
{
	for (const struct web_asset *a = web_assets; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}
