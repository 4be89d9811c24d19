/* SPDX-License-Identifier: ISC */
/*
 * api.c - the JSON API under /api/v1, Prometheus /metrics and the public
 * status page, from what the daemon lends (monitor.h) and what the store
 * remembers (store.h's reads, which may answer later: struct http_later).
 * docs/api.md is the contract.
 *
 * Every string that came from a server or a certificate (greeting,
 * capabilities, messages, subjects) is hostile: JSON strings are built
 * with jansson (which refuses invalid UTF-8; we fall back to \xNN), label
 * values of /metrics are escaped per the exposition format, and HTML is
 * entity-escaped here. Nothing is ever written into a page raw.
 *
 * Costs: everything here runs on the probes' event loop, so what a request
 * costs is what a probe may be judged late by. The uptime figures of the
 * summaries (/api/v1/checks, a check's detail, /status) come from memory:
 * upcache.c keeps them for every check, refreshed off the loop at most
 * every UPCACHE_TTL_MS while someone reads them. The status page and the
 * checks list are kept whole for API_BODY_TTL_MS as well, so a poll costs
 * a copy, not a pass over N checks. Without the cache (it could not start,
 * or MAILPULSE_API_CACHE=off) each request builds the figures of every
 * check at once in a few batched reads of the store (upcache_build()):
 * seconds per request on a store of months, whatever the number of
 * checks. The other store queries here are for one check, bounded by
 * their limits.
 */
#include "http/api.h"

#include <errno.h>
#include <math.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/line.h"
#include "core/log.h"
#include "monitor/monitor.h"
#include "store/rows_json.h"
#include "store/store.h"
#include "wire/output.h"
#include "spec/duration.h"
#include "http/http.h"
#include "spec/isotime.h"
#include "http/upcache.h"

#define DAY_MS  (86400LL * 1000)
#define HOUR_MS (3600LL * 1000)
/* Longest uptime window asked for; roll-ups are kept about this long by default. */
#define API_WINDOW_MAX_MS (400 * DAY_MS)
/* Per-day bars of uptime at most this many days. */
#define API_DAYS_MAX 90

/*
 * The status page and the checks list are kept whole this long: a state
 * change shows within it. Building them is O(checks) (~3 ms for the list of
 * 200 checks, 0.6 ms for the page); sending a kept one is a copy.
 */
#define API_BODY_TTL_MS 2000

/* A reply kept whole: its body, and when it was made (monotonic ms). */
struct api_body {
	char *data;
	size_t len;
	int64_t at_ms;
};

/*
 * What the API keeps between requests, on the loop's thread only: the
 * uptime cache of the running server, from api_cache_start() (http_start())
 * to api_cache_stop() (http_free()), NULL without one, and the replies
 * kept whole while it runs. Counters for /api/v1/health: store queries the
 * handlers ran on the loop, requests answered from the caches (hits) and
 * requests answered while the cache had no figures yet (misses).
 */
static struct {
	struct upcache *uc;
	struct api_body checks, status;
	uint64_t loop_queries, hits, misses;
} api_cache;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when b was fresh and is now in out. */
static int body_serve(struct api_body *b, struct evbuffer *out)
{
	if (!api_cache.uc || !b->data || mono_ms() - b->at_ms >= API_BODY_TTL_MS ||
	    evbuffer_add(out, b->data, b->len) != 0)
		return 0;
	api_cache.hits++;
	return 1;
}

/* Keep what out holds as b, made at at_ms; only replies made with the cache's figures. */
static void body_keep(struct api_body *b, struct evbuffer *out, int64_t at_ms, int figures)
{
	size_t len = evbuffer_get_length(out);
	char *p;

	if (!api_cache.uc || !figures)
		return;
	p = malloc(len ? len : 1);
	if (!p || evbuffer_copyout(out, p, len) != (ev_ssize_t)len) {
		free(p);
		return;
	}
	free(b->data);
	b->data = p;
	b->len = len;
	b->at_ms = at_ms;
}

static void body_forget(struct api_body *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

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

static json_t *labels_json(const struct conf_check *cc)
{
	json_t *a = json_array();

	for (int i = 0; a && i < cc->nlabels; i++)
		json_array_append_new(a, jstr(cc->labels[i]));
	return a;
}

/*
 * The last result as the one encoder wrote it (struct mon_last's wire): a
 * new reference, NULL when there is none or out of memory.
 */
static json_t *wire_load(const char *text)
{
	return text && *text ? json_loads(text, 0, NULL) : NULL;
}

/*
 * The TLS facts shown beside the last result: its own "tls" (borrowed
 * from res), or those of an earlier result kept through an outage (a new
 * reference in *own). NULL when none.
 */
static json_t *last_tls(const struct mon_last *l, json_t *res, json_t **own)
{
	json_t *t;

	*own = NULL;
	if (!l->tls_used)
		return NULL;
	if (l->tls_wire)
		return *own = json_loads(l->tls_wire, 0, NULL);
	t = json_object_get(res, "tls");
	return json_is_object(t) ? t : NULL;
}

/* o[key] = from[fkey] as the encoder wrote it; null when absent. */
static void take(json_t *o, const char *key, json_t *from, const char *fkey)
{
	json_t *v = from ? json_object_get(from, fkey) : NULL;

	set(o, key, v ? json_incref(v) : json_null());
}

/*
 * Every key is the encoder's (docs/json.md), under the same name, so it
 * means what `mailpulse check --json` means by it; the TLS ones are named
 * after the encoder's tls object's keys with the cert_ prefix of
 * docs/json.md, "cert_not_after and friends".
 */
static json_t *last_json(const struct mon_last *l, int detail)
{
	static const char *const keys[] = {"time",       "ts_ms",        "status",
	                                   "severity",   "reason",       "message",
	                                   "warnings",   "address",      "time_to_greeting_ms",
	                                   "timings_ms", "path",         "check",
	                                   "location",   "check_digest", "seq"};
	static const char *const detail_keys[] = {"greeting", "capabilities", "messages"};
	json_t *o = json_object(), *res = wire_load(l->wire), *own, *t;

	if (!o) {
		json_decref(res);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		take(o, keys[i], res, keys[i]);
	if (!res) {
		/* Out of memory when it was encoded: what the monitor keeps beside it. */
		set(o, "time", jtime(l->ts_ms));
		set(o, "ts_ms", json_integer(l->ts_ms));
		set(o, "status", jstr(result_status_name(l->status)));
		set(o, "severity", jstr(result_severity_name(l->severity)));
		set(o, "reason", jstr(result_reason_name(l->reason)));
		set(o, "message", jstr(l->message));
	}
	t = last_tls(l, res, &own);
	take(o, "tls_version", t, "version");
	take(o, "cert_days_left", t, "days_left");
	take(o, "cert_not_after", t, "cert_not_after");
	take(o, "leaf_not_after", t, "leaf_not_after");
	take(o, "cert_subject", t, "subject");
	/* The TLS fields above outlive an outage: when they were seen. */
	set(o, "cert_seen",
	    l->tls_used && l->tls_seen_ms > 0 ? jtime(l->tls_seen_ms) : json_null());
	set(o, "cert_seen_ms",
	    l->tls_used && l->tls_seen_ms > 0 ? json_integer(l->tls_seen_ms) : json_null());
	json_decref(own);
	for (size_t i = 0; detail && i < sizeof(detail_keys) / sizeof(detail_keys[0]); i++)
		take(o, detail_keys[i], res, detail_keys[i]);
	json_decref(res);
	return o;
}

/*
 * The encoder's tls object, kept through outages. not_after is the
 * exception to the encoder's meanings: here it has always been the first
 * to expire (tls.not_after of docs/json.md is the leaf's), and a reader
 * alerting on it must not start missing an intermediate that expires
 * first; cert_not_after says the same under the one name, leaf_not_after
 * gives the leaf's (docs/api.md).
 */
static json_t *tls_json(const struct mon_last *l)
{
	static const char *const keys[] = {
	    "version",   "cipher", "verified",      "subject",        "issuer",        "sans",
	    "days_left", "sha256", "expires_first", "cert_not_after", "leaf_not_after"};
	json_t *o, *res = l->tls_wire ? NULL : wire_load(l->wire), *own, *t;

	t = last_tls(l, res, &own);
	if (!t) {
		json_decref(res);
		return json_null();
	}
	o = json_object();
	for (size_t i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++)
		take(o, keys[i], t, keys[i]);
	take(o, "not_after", t, "cert_not_after");
	set(o, "seen", jtime(l->tls_seen_ms));
	set(o, "seen_ms", json_integer(l->tls_seen_ms));
	set(o, "current", json_boolean(l->tls_seen_ms == l->ts_ms));
	json_decref(own);
	json_decref(res);
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

/* The windows of the summaries, in upcache.h's order (24 h, 7 d, 30 d). */
static const char *const up_window_name[UPCACHE_NWIN] = {"24h", "7d", "30d"};

/*
 * The uptime figures one request reads: the cache's when it runs (none,
 * so null, only while its first build runs: seconds after a start on a
 * large store), else figures built for this request from the store, for
 * every check at once in a handful of batched reads (upcache_build()),
 * never one query per check.
 */
struct upview {
	struct store *s;
	const struct upcache_snap *snap;
};

static void upview_open(struct upview *v, struct monitor *d)
{
	v->s = monitor_store(d);
	v->snap = NULL;
	if (!api_cache.uc) {
		int64_t queries = 0;

		if (v->s)
			v->snap = upcache_build(v->s, &queries);
		api_cache.loop_queries += (uint64_t)queries;
		return;
	}
	v->snap = upcache_acquire(api_cache.uc);
	if (v->snap)
		api_cache.hits++;
	else
		api_cache.misses++;
}

static void upview_close(struct upview *v)
{
	if (api_cache.uc)
		upcache_release(api_cache.uc, v->snap);
	else
		upcache_snap_free(v->snap);
	v->snap = NULL;
}

/* Window w of check: a percentage, or null when nothing was recorded there. */
static json_t *upview_pct(const struct upview *v, const char *check, int w, int64_t now)
{
	double pct[UPCACHE_NWIN];

	(void)now; /* the figures are of when the view was opened */
	upcache_find(v->snap, check, pct);
	return isnan(pct[w]) ? json_null() : json_real(pct[w]);
}

void api_cache_start(const char *store_path, const char *store_secret)
{
	const char *env = getenv("MAILPULSE_API_CACHE");
	char err[256];

	api_cache_stop();
	/* For comparisons (bench/run.sh http): the per-check queries of the code before. */
	if (env && strcmp(env, "off") == 0) {
		log_msg(LOG_WARNING, "MAILPULSE_API_CACHE=off: uptime figures are read from the "
		                     "store per check and request, on the probes' loop");
		return;
	}
	api_cache.uc = upcache_start(store_path, store_secret, err, sizeof(err));
	if (!api_cache.uc)
		log_msg(LOG_WARNING,
		        "http: no uptime cache (%s): figures are read from the store per request",
		        err);
}

void api_cache_stop(void)
{
	upcache_stop(api_cache.uc);
	api_cache.uc = NULL;
	body_forget(&api_cache.checks);
	body_forget(&api_cache.status);
}

/*
 * The list under key of a store answer (taken), or [] when the store has
 * nothing for the check or failed (logged: the rest of the answer stands).
 */
static json_t *store_list(json_t *res, const char *key, const char *check, int error,
                          const char *err)
{
	json_t *a;

	if (error || !res) {
		if (error && error != ENOENT)
			log_msg(LOG_WARNING, "http: %s of %s: %s", key, check, err ? err : "");
		json_decref(res);
		return json_array();
	}
	a = json_object_get(res, key);
	a = a ? json_incref(a) : json_array();
	json_decref(res);
	return a;
}

/*
 * The state of every configured node, copied at most once per request, by
 * their index in conf.nodes (monitor_each_node()'s order): what a location
 * that does not count is told by. O(nodes) to build; ~0 without nodes.
 */
struct node_view {
	int built, n;
	enum mon_node_state *st; /* NULL: not built, none, or out of memory */
};

static void node_view_cb(const struct mon_node_info *ni, void *arg)
{
	struct node_view *nv = arg;

	if (nv->st && nv->n < nv->built)
		nv->st[nv->n++] = ni->state;
}

/* The state of node name, or -1 when it is not a configured node or out of memory. */
static int node_view_state(struct node_view *nv, struct monitor *d, const char *name)
{
	const struct conf *c = monitor_conf(d);
	const struct conf_node *cn = conf_find_node(c, name);
	int i;

	if (!cn)
		return -1;
	if (!nv->built && c->nnodes > 0) {
		/* built holds the room while filling, then stays as "done" */
		nv->st = calloc((size_t)c->nnodes, sizeof(*nv->st));
		nv->built = c->nnodes;
		monitor_each_node(d, node_view_cb, nv);
	}
	i = (int)(cn - c->nodes);
	return nv->st && i >= 0 && i < nv->n ? (int)nv->st[i] : -1;
}

static void node_view_free(struct node_view *nv)
{
	free(nv->st);
	memset(nv, 0, sizeof(*nv));
}

/*
 * Why location li of a check does not count in its verdict, in a few words
 * for people (the grid's cells say it), or NULL when it counts. The
 * monitor decides (mon_info.locs[].counts); this only names the cause from
 * what it lends: the node's health, then no result, then no confirmed
 * state, else a last result too old.
 */
static const char *loc_not_counted(struct monitor *d, struct node_view *nv,
                                   const struct mon_loc_info *li)
{
	if (li->counts)
		return NULL;
	if (!li->healthy && !conf_find_node(monitor_conf(d), li->name))
		return "not a configured node";
	if (!li->healthy) {
		switch (node_view_state(nv, d, li->name)) {
		case MON_NODE_LOST:
			return "node lost";
		case MON_NODE_IMPAIRED:
			return "node impaired";
		case MON_NODE_PENDING:
			return "node not heard from";
		case MON_NODE_OK:
			break;
		default: /* out of memory */
			return "node not healthy";
		}
	}
	if (li->last_ms <= 0)
		return "no result yet";
	if (li->st->pending)
		return "not confirmed yet";
	return "no recent result";
}

/* "local" (this daemon), "node" (a configured node), or "other" (a node removed since). */
static const char *loc_kind(const struct conf *c, const char *location)
{
	if (strcmp(location, c->location) == 0)
		return "local";
	return conf_find_node(c, location) ? "node" : "other";
}

struct get_ctx {
	struct monitor *d;
	json_t *out;
	int detail;
	struct upview uv;
	struct node_view nv;
};

static json_t *check_json(struct monitor *d, const struct mon_info *mi, int detail,
                          const struct upview *uv, struct node_view *nv)
{
	const struct conf *c = monitor_conf(d);
	const struct conf_check *cc = mi->cc;
	int64_t now = now_ms();
	json_t *o = json_object(), *u, *loc, *locs;
	const char *why;

	if (!o)
		return NULL;
	set(o, "name", jstr(mi->name));
	set(o, "url", jstr(cc->url ? cc->url : cc->chk.target.url));
	set(o, "labels", labels_json(cc));
	set(o, "location", jstr(c->location));
	set(o, "state", jstr(state_name(mi->st)));
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
		for (int w = 0; w < UPCACHE_NWIN; w++)
			set(u, up_window_name[w], upview_pct(uv, mi->name, w, now));
	}
	set(o, "uptime_pct", u);
	/*
	 * The verdict over its locations: the state above is the last one
	 * confirmed, the verdict says partial or unknown when that is where
	 * the locations stand now.
	 */
	set(o, "verdict",
	    jstr(mi->nlocs ? verdict_status_name(mi->verdict.status) : state_name(mi->st)));
	set(o, "quorum", json_integer(cc->quorum ? cc->quorum : 1));
	locs = json_array();
	for (int i = 0; locs && i < mi->nlocs; i++) {
		const struct mon_loc_info *li = &mi->locs[i];

		if (!(loc = json_object()))
			break;
		set(loc, "location", jstr(li->name));
		set(loc, "state", jstr(state_name(li->st)));
		set(loc, "reason", jstr(result_reason_name(li->st->reason)));
		set(loc, "since", li->st->since_ms > 0 ? jtime(li->st->since_ms) : json_null());
		set(loc, "last_reason",
		    li->last_ms ? jstr(result_reason_name(li->last_reason)) : json_null());
		set(loc, "last_time", li->last_ms ? jtime(li->last_ms) : json_null());
		set(loc, "last_time_ms", li->last_ms ? json_integer(li->last_ms) : json_null());
		set(loc, "message", li->last_ms ? jstr(li->last_message) : json_null());
		set(loc, "time_to_greeting_ms",
		    li->last_ms && li->last_ttg_us >= 0
		        ? json_real((double)li->last_ttg_us / 1000.0)
		        : json_null());
		set(loc, "healthy", json_boolean(li->healthy));
		set(loc, "counts", json_boolean(li->counts));
		why = loc_not_counted(d, nv, li);
		set(loc, "not_counted", why ? jstr(why) : json_null());
		set(loc, "kind", jstr(loc_kind(c, li->name)));
		json_array_append_new(locs, loc);
	}
	loc = NULL;
	if (locs && mi->nlocs == 0 && (loc = json_object())) {
		/* No location has reported since the start: this daemon's, pending. */
		set(loc, "location", jstr(c->location));
		set(loc, "state", jstr(state_name(mi->st)));
		set(loc, "last_status",
		    mi->last ? jstr(result_status_name(mi->last->status)) : json_null());
		set(loc, "last_time", mi->last ? jtime(mi->last->ts_ms) : json_null());
		json_array_append_new(locs, loc);
		loc = NULL;
	}
	json_decref(loc);
	set(o, "locations", locs);
	if (detail) {
		set(o, "tls", mi->last ? tls_json(mi->last) : json_null());
		set(o, "fail_after", json_integer(cc->fail_after));
		set(o, "recover_after", json_integer(cc->recover_after));
		/* incidents and deliveries: the store's, added by api_check() as they come */
	}
	return o;
}

static void each_cb(const struct mon_info *mi, void *arg)
{
	struct get_ctx *g = arg;
	json_t *o = check_json(g->d, mi, g->detail, &g->uv, &g->nv);

	if (!o)
		return;
	if (json_is_array(g->out))
		json_array_append_new(g->out, o);
	else
		g->out = o;
}

int api_checks(struct monitor *d, struct evbuffer *out)
{
	struct get_ctx g = {d, NULL, 0, {NULL, NULL}, {0, 0, NULL}};
	int64_t at = mono_ms();
	json_t *o;
	int code, figures;

	if (body_serve(&api_cache.checks, out))
		return 200;
	o = json_object();
	g.out = json_array();
	if (!o || !g.out) {
		json_decref(o);
		json_decref(g.out);
		return api_error(out, 500, "internal", "out of memory");
	}
	upview_open(&g.uv, d);
	monitor_each_check(d, each_cb, &g);
	figures = g.uv.snap != NULL;
	upview_close(&g.uv);
	node_view_free(&g.nv);
	set(o, "time", jtime(now_ms()));
	set(o, "location", jstr(monitor_conf(d)->location));
	set(o, "checks", g.out);
	code = send_json(out, 200, o);
	if (code == 200)
		body_keep(&api_cache.checks, out, at, figures);
	return code;
}

static void exists_cb(const struct mon_info *mi, void *arg)
{
	(void)mi;
	*(int *)arg = 1;
}

static int check_exists(struct monitor *d, const char *name)
{
	int found = 0;

	return monitor_get_check(d, name, exists_cb, &found) == 0 && found;
}

/* ?limit=: a whole number from 1 to API_RESULTS_MAX into *limit; -1 otherwise. */
static int parse_limit(const char *lim, long *limit)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(lim, &end, 10);
	if (!*lim || *end || errno || v < 1 || v > API_RESULTS_MAX)
		return -1;
	*limit = v;
	return 0;
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

/* ---- store reads that may answer later ---- */

/*
 * One store read behind a request. The store calls back exactly once:
 * before store_read_*() returns (SQLite), and the handler's out is still
 * there, or later from the loop, and the reply goes through the request's
 * http_later. Made by the handler; freed by it when the answer came at
 * once, else by the callback.
 */
struct api_read {
	struct evbuffer *out; /* the handler's, while it runs; NULL: answer later */
	struct http_later *later;
	int answered, code;
	struct store_query q;
	char name[65]; /* q.check points here, or is NULL */
	int64_t until; /* as asked, for the answer of a check with nothing recorded */
};

/*
 * For tests (tests/http/later.sh): MAILPULSE_TEST_API_LATER_MS holds every
 * store-backed answer that long before sending it, as a store on a server
 * would, so the deferred replies run with SQLite too. Never set in service.
 */
static long api_test_later_ms(void)
{
	static long ms = -1;

	if (ms < 0) {
		const char *v = getenv("MAILPULSE_TEST_API_LATER_MS");

		ms = v ? strtol(v, NULL, 10) : 0;
		if (ms < 0 || ms > 60000)
			ms = 0;
	}
	return ms;
}

struct api_held {
	struct http_later *later;
	struct evbuffer *body;
	int code;
};

static void api_held_send(evutil_socket_t fd, short what, void *arg)
{
	struct api_held *h = arg;

	(void)fd;
	(void)what;
	http_later_send(h->later, h->code, h->body);
	evbuffer_free(h->body);
	free(h);
}

static struct api_read *api_read_new(struct evbuffer *out, struct http_later *l, const char *check)
{
	struct api_read *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->out = out;
	r->later = l;
	if (check) {
		snprintf(r->name, sizeof(r->name), "%s", check);
		r->q.check = r->name;
	}
	return r;
}

/* The answer o (taken) with status code: into out now, or to the client later. */
static void api_read_done(struct api_read *r, int code, json_t *o)
{
	struct evbuffer *b = r->out && !api_test_later_ms() ? r->out : evbuffer_new();
	struct api_held *h;

	r->answered = 1;
	if (!b) {
		json_decref(o);
		code = 500;
		b = r->out;
		if (b)
			r->code = api_error(b, 500, "internal", "out of memory");
		else
			http_later_send(r->later, 500, NULL);
		if (!r->out)
			free(r);
		return;
	}
	code = send_json(b, code, o);
	if (b == r->out) {
		r->code = code;
		return;
	}
	if (r->out) {
		/* The test knob: the handler returns API_LATER; a timer sends it. */
		struct timeval tv = {api_test_later_ms() / 1000, api_test_later_ms() % 1000 * 1000};

		h = malloc(sizeof(*h));
		if (h) {
			h->later = r->later;
			h->body = b;
			h->code = code;
		}
		if (!h || event_base_once(http_later_base(r->later), -1, EV_TIMEOUT, api_held_send,
		                          h, &tv) < 0) {
			free(h);
			evbuffer_add_buffer(r->out, b);
			evbuffer_free(b);
			r->code = code;
			return;
		}
		r->code = API_LATER;
		return;
	}
	http_later_send(r->later, code, b);
	evbuffer_free(b);
	free(r);
}

/* After store_read_*() returned: the status to return, and r freed when it is done with. */
static int api_read_end(struct api_read *r)
{
	int code;

	if (!r->answered) {
		r->out = NULL; /* the callback answers, and frees r */
		return API_LATER;
	}
	code = r->code;
	free(r);
	return code;
}

/* The check's page: its live state, then its recent incidents and deliveries, read in turn. */
struct api_check_read {
	struct api_read r; /* first: the callbacks get this struct through it */
	struct store *s;
	json_t *o;
};

static void check_deliveries_cb(const struct store_delivery_row *rows, size_t n, int error,
                                const char *err, void *arg)
{
	struct api_check_read *c = arg;

	set(c->o, "deliveries",
	    store_list(error ? NULL : rows_json_deliveries(&c->r.q, rows, n), "deliveries",
	               c->r.name, error, err));
	api_read_done(&c->r, 200, c->o);
}

static void check_incidents_cb(const struct store_incident_row *rows, size_t n, int64_t now,
                               int error, const char *err, void *arg)
{
	struct api_check_read *c = arg;

	set(c->o, "incidents",
	    store_list(error ? NULL : rows_json_incidents(&c->r.q, rows, n, now), "incidents",
	               c->r.name, error, err));
	api_cache.loop_queries++;
	store_read_deliveries(c->s, &c->r.q, check_deliveries_cb, c);
}

int api_check(struct monitor *d, const char *name, struct evbuffer *out, struct http_later *l)
{
	struct get_ctx g = {d, NULL, 1, {NULL, NULL}, {0, 0, NULL}};
	struct store *s = monitor_store(d);
	struct api_check_read *c;
	int rc;

	upview_open(&g.uv, d);
	rc = monitor_get_check(d, name, each_cb, &g);
	upview_close(&g.uv);
	node_view_free(&g.nv);
	if (rc < 0)
		return api_error(out, 404, "not_found", "no check by that name");
	if (!g.out)
		return api_error(out, 500, "internal", "out of memory");
	if (!s)
		return send_json(out, 200, g.out);
	if (!(c = calloc(1, sizeof(*c)))) {
		json_decref(g.out);
		return api_error(out, 500, "internal", "out of memory");
	}
	c->r.out = out;
	c->r.later = l;
	snprintf(c->r.name, sizeof(c->r.name), "%s", name);
	c->r.q.check = c->r.name;
	c->r.q.limit = API_RECENT;
	c->s = s;
	c->o = g.out;
	api_cache.loop_queries++;
	store_read_incidents(s, &c->r.q, check_incidents_cb, c);
	return api_read_end(&c->r);
}

static void results_cb(const struct store_result_row *rows, size_t n, int error, const char *err,
                       void *arg)
{
	struct api_read *r = arg;

	if (error == ENOENT) {
		/* Configured but nothing recorded yet. */
		api_read_done(r, 200,
		              json_pack("{s:s, s:o, s:o, s:[]}", "check", r->name, "since",
		                        jtime(r->q.since_ms), "until",
		                        r->until > 0 ? jtime(r->until) : json_null(), "results"));
	} else if (error) {
		log_msg(LOG_WARNING, "http: results of %s: %s", r->name, err);
		api_read_done(r, 500,
		              json_pack("{s:s, s:o}", "error", "store", "detail", jstr(err)));
	} else {
		api_read_done(r, 200, rows_json_history(&r->q, rows, n));
	}
}

int api_results(struct monitor *d, const char *name, const struct evkeyvalq *q,
                struct evbuffer *out, struct http_later *l)
{
	static const char *const known[] = {"from", "to", "limit", NULL};
	const char *why;
	const char *lim = evhttp_find_header(q, "limit");
	int64_t since = 0, until = 0;
	long limit = 1000;
	char err[256];
	struct store *s = monitor_store(d);
	struct api_read *r;

	if (!check_exists(d, name))
		return api_error(out, 404, "not_found", "no check by that name");
	if (unknown_param(q, known, err, sizeof(err)))
		return api_error(out, 400, "bad_parameter", err);
	if ((why = parse_range(q, &since, &until)))
		return api_error(out, 400, "bad_parameter", why);
	if (lim && parse_limit(lim, &limit) < 0)
		return api_error(out, 400, "bad_parameter",
		                 "limit: expected a whole number from 1 to 10000");
	if (!s)
		return api_error(out, 503, "unavailable", "the store is not open");
	if (!(r = api_read_new(out, l, name)))
		return api_error(out, 500, "internal", "out of memory");
	r->q.since_ms = since;
	r->q.until_ms = until;
	r->q.limit = (int)limit;
	r->until = until;
	api_cache.loop_queries++;
	store_read_history(s, &r->q, results_cb, r);
	return api_read_end(r);
}

/* An uptime read: the window, then (by=day) each day, one read after the other. */
struct api_uptime_read {
	struct api_read r; /* first: the callbacks get this struct through it */
	struct store *s;
	json_t *o, *days;
	int64_t now, window, today;
	int day; /* the next day to read, counted back from today; -1: done */
	int by_day;
};

static void uptime_day_cb(const struct store_uptime_row *row, int error, const char *err,
                          void *arg);

/* Read the next day, or answer when there is none left. */
static void uptime_next(struct api_uptime_read *u)
{
	if (u->day < 0 || !u->days) {
		json_t *o = u->o;

		if (u->days)
			set(o, "days", u->days);
		api_read_done(&u->r, 200, o);
		return;
	}
	u->r.q.since_ms = u->today - (int64_t)u->day * DAY_MS;
	u->r.q.until_ms = u->r.q.since_ms + DAY_MS;
	api_cache.loop_queries++;
	store_read_uptime(u->s, &u->r.q, uptime_day_cb, u);
}

/* Whole UTC days, the oldest first, today (so far) last; a day the store cannot give is 0. */
static void uptime_day_cb(const struct store_uptime_row *row, int error, const char *err, void *arg)
{
	struct api_uptime_read *u = arg;
	int64_t start = u->r.q.since_ms;
	json_t *day = json_object();

	(void)err;
	if (error)
		row = NULL;
	if (day) {
		set(day, "date", jtime(start));
		set(day, "since_ms", json_integer(start));
		set(day, "probes", json_integer(row ? row->probes : 0));
		set(day, "up", json_integer(row ? row->up : 0));
		set(day, "uptime_pct",
		    row && row->probes ? json_real(100.0 * (double)row->up / (double)row->probes)
		                       : json_null());
		set(day, "maintenance_probes", json_integer(row ? row->maint : 0));
		json_array_append_new(u->days, day);
	} else {
		json_decref(u->days);
		u->days = NULL;
	}
	u->day--;
	uptime_next(u);
}

static void uptime_cb(const struct store_uptime_row *row, int error, const char *err, void *arg)
{
	struct api_uptime_read *u = arg;
	int64_t since = u->now - u->window;
	json_t *o;

	if (error == ENOENT) {
		o = json_pack("{s:s, s:o, s:I, s:i, s:i, s:n, s:b, s:i, s:n}", "check", u->r.name,
		              "since", jtime(since), "since_ms", (json_int_t)since, "probes", 0,
		              "up", 0, "uptime_pct", "from_rollups", 0, "maintenance_probes", 0,
		              "maintenance_pct");
	} else if (error) {
		log_msg(LOG_WARNING, "http: uptime of %s: %s", u->r.name, err);
		api_read_done(&u->r, 500,
		              json_pack("{s:s, s:o}", "error", "store", "detail", jstr(err)));
		return;
	} else {
		o = rows_json_uptime(row);
	}
	if (!o) {
		api_read_done(&u->r, 500, NULL);
		return;
	}
	set(o, "window_ms", json_integer(u->window));
	u->o = o;
	if (u->by_day) {
		u->days = json_array();
		u->day = (int)(u->window / DAY_MS) - 1;
	} else {
		u->day = -1;
	}
	uptime_next(u);
}

int api_uptime(struct monitor *d, const char *name, const struct evkeyvalq *q, struct evbuffer *out,
               struct http_later *l)
{
	static const char *const known[] = {"window", "by", NULL};
	const char *w = evhttp_find_header(q, "window"), *by = evhttp_find_header(q, "by");
	int64_t window = DAY_MS, now = now_ms();
	struct store *s = monitor_store(d);
	struct api_uptime_read *u;
	char err[256];

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
	u = calloc(1, sizeof(*u));
	if (!u)
		return api_error(out, 500, "internal", "out of memory");
	u->r.out = out;
	u->r.later = l;
	snprintf(u->r.name, sizeof(u->r.name), "%s", name);
	u->r.q.check = u->r.name;
	u->r.q.since_ms = now - window;
	u->s = s;
	u->now = now;
	u->window = window;
	u->today = now - now % DAY_MS;
	u->by_day = by != NULL;
	api_cache.loop_queries++;
	store_read_uptime(s, &u->r.q, uptime_cb, u);
	return api_read_end(&u->r);
}

static void series_cb(const struct store_series_rows *rows, int error, const char *err, void *arg)
{
	struct api_read *r = arg;

	if (error == ENOENT) {
		/* Configured but nothing recorded yet. */
		api_read_done(r, 200,
		              json_pack("{s:s, s:o, s:I, s:o, s:I, s:I, s:[]}", "check", r->name,
		                        "since", jtime(r->q.since_ms), "since_ms",
		                        (json_int_t)r->q.since_ms, "until", jtime(r->q.until_ms),
		                        "until_ms", (json_int_t)r->q.until_ms, "bucket_ms",
		                        (json_int_t)r->q.bucket_ms, "buckets"));
	} else if (error) {
		log_msg(LOG_WARNING, "http: series of %s: %s", r->name, err);
		api_read_done(r, 500,
		              json_pack("{s:s, s:o}", "error", "store", "detail", jstr(err)));
	} else {
		api_read_done(r, 200, rows_json_series(rows));
	}
}

int api_series(struct monitor *d, const char *name, const struct evkeyvalq *q, struct evbuffer *out,
               struct http_later *l)
{
	static const char *const known[] = {"from", "to", "bucket", NULL};
	const char *why;
	const char *bk = evhttp_find_header(q, "bucket");
	int64_t now = now_ms(), since = now - 7 * DAY_MS, until = now, bucket = HOUR_MS;
	struct store *s = monitor_store(d);
	struct api_read *r;
	char err[256];

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
	if (!(r = api_read_new(out, l, name)))
		return api_error(out, 500, "internal", "out of memory");
	r->q.since_ms = since;
	r->q.until_ms = until;
	r->q.bucket_ms = bucket;
	api_cache.loop_queries++;
	store_read_series(s, &r->q, series_cb, r);
	return api_read_end(r);
}

static void incidents_cb(const struct store_incident_row *rows, size_t n, int64_t now, int error,
                         const char *err, void *arg)
{
	struct api_read *r = arg;

	if (error == ENOENT) {
		api_read_done(r, 200,
		              json_pack("{s:s, s:o, s:[]}", "check", r->name, "since",
		                        jtime(r->q.since_ms), "incidents"));
	} else if (error) {
		log_msg(LOG_WARNING, "http: incidents: %s", err);
		api_read_done(r, 500,
		              json_pack("{s:s, s:o}", "error", "store", "detail", jstr(err)));
	} else {
		api_read_done(r, 200, rows_json_incidents(&r->q, rows, n, now));
	}
}

int api_incidents(struct monitor *d, const struct evkeyvalq *q, struct evbuffer *out,
                  struct http_later *l)
{
	static const char *const known[] = {"check", "since", "limit", NULL};
	const char *check = evhttp_find_header(q, "check"), *sn = evhttp_find_header(q, "since");
	const char *lim = evhttp_find_header(q, "limit");
	int64_t since = now_ms() - 30 * DAY_MS;
	long limit = 100;
	struct store *s = monitor_store(d);
	struct api_read *r;
	char err[256];

	if (unknown_param(q, known, err, sizeof(err)))
		return api_error(out, 400, "bad_parameter", err);
	if (check && (!*check || strlen(check) > 64 ||
	              strspn(check, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "0123456789._-") != strlen(check)))
		return api_error(out, 400, "bad_parameter", "check: not a check name");
	if (sn && parse_time(sn, &since) < 0)
		return api_error(out, 400, "bad_parameter",
		                 "since: expected ISO 8601 (2025-03-01T12:00:00Z) or unix ms");
	if (lim && parse_limit(lim, &limit) < 0)
		return api_error(out, 400, "bad_parameter",
		                 "limit: expected a whole number from 1 to 10000");
	if (!s)
		return api_error(out, 503, "unavailable", "the store is not open");
	if (!(r = api_read_new(out, l, check)))
		return api_error(out, 500, "internal", "out of memory");
	r->q.since_ms = since;
	r->q.limit = (int)limit;
	api_cache.loop_queries++;
	store_read_incidents(s, &r->q, incidents_cb, r);
	return api_read_end(r);
}

/* ---- probing nodes ------------------------------------------------------------ */

static void node_cb(const struct mon_node_info *ni, void *arg)
{
	json_t *arr = arg, *o = json_object(), *sp, *cs;
	const struct node_heartbeat *hb = ni->hb;

	if (!o)
		return;
	set(o, "name", jstr(ni->name));
	set(o, "region", ni->region ? jstr(ni->region) : json_null());
	set(o, "state", jstr(mon_node_state_name(ni->state)));
	set(o, "why", jstr(ni->why ? ni->why : ""));
	set(o, "since", ni->state_since_ms ? jtime(ni->state_since_ms) : json_null());
	set(o, "last_heartbeat",
	    ni->last_heartbeat_ms ? jtime(ni->last_heartbeat_ms) : json_null());
	set(o, "last_heartbeat_ms",
	    ni->last_heartbeat_ms ? json_integer(ni->last_heartbeat_ms) : json_null());
	set(o, "version", hb ? jstr(hb->version) : json_null());
	set(o, "started", hb && hb->started_ms ? jtime(hb->started_ms) : json_null());
	set(o, "clock_skew_ms", ni->last_heartbeat_ms ? json_integer(ni->skew_ms) : json_null());
	set(o, "clock_skew_flagged", json_boolean(ni->skew_flagged));
	set(o, "checks_assigned", json_integer(ni->checks_assigned));
	set(o, "checks_running", hb ? json_integer(hb->checks) : json_null());
	set(o, "assignments_etag", hb ? jstr(hb->etag) : json_null());
	if ((sp = json_object())) {
		set(sp, "depth", hb ? json_integer((json_int_t)hb->spool_depth) : json_null());
		set(sp, "max", hb ? json_integer((json_int_t)hb->spool_max) : json_null());
		set(sp, "dropped", hb ? json_integer((json_int_t)hb->spool_dropped) : json_null());
		set(sp, "oldest",
		    hb && hb->spool_oldest_ms ? jtime(hb->spool_oldest_ms) : json_null());
	}
	set(o, "spool", sp);
	cs = json_array();
	for (int i = 0; cs && hb && i < hb->ncanaries; i++) {
		const struct node_canary *k = &hb->canaries[i];
		json_t *c = json_object();

		if (!c)
			break;
		set(c, "target", jstr(k->target));
		set(c, "status", jstr(result_status_name(k->status)));
		set(c, "reason", jstr(result_reason_name(k->reason)));
		set(c, "message", jstr(k->message));
		set(c, "time", k->probe_ms ? jtime(k->probe_ms) : json_null());
		set(c, "failing", json_integer(k->failing));
		json_array_append_new(cs, c);
	}
	set(o, "canaries", cs);
	if ((sp = json_object())) {
		set(sp, "batches", json_integer((json_int_t)ni->batches));
		set(sp, "accepted", json_integer((json_int_t)ni->results_accepted));
		set(sp, "late", json_integer((json_int_t)ni->results_late));
		set(sp, "duplicate", json_integer((json_int_t)ni->results_duplicate));
		set(sp, "refused", json_integer((json_int_t)ni->results_refused));
		set(sp, "last_batch", ni->last_batch_ms ? jtime(ni->last_batch_ms) : json_null());
	}
	set(o, "results", sp);
	json_array_append_new(arr, o);
}

int api_nodes(struct monitor *d, struct evbuffer *out)
{
	json_t *o = json_object(), *arr = json_array();

	if (!o || !arr) {
		json_decref(o);
		json_decref(arr);
		return api_error(out, 500, "internal", "out of memory");
	}
	monitor_each_node(d, node_cb, arr);
	set(o, "time", jtime(now_ms()));
	set(o, "clock_skew_max_ms", json_integer(MON_SKEW_MAX_MS));
	set(o, "nodes", arr);
	return send_json(out, 200, o);
}

int api_run(struct monitor *d, const char *name, struct evbuffer *out)
{
	if (monitor_run_now(d, name) < 0)
		return api_error(out, 404, "not_found", "no check by that name");
	return send_json(out, 202, json_pack("{s:s, s:b}", "check", name, "started", 1));
}

/*
 * {"enabled", "age_ms", "checks", "builds", "refreshes", "failures",
 *  "worker_queries", "last_ms", "build_max_ms", "refresh_max_ms", "hits",
 *  "misses", "loop_store_queries"}: what the cache did and what the
 * handlers still asked the store on the loop.
 */
static json_t *cache_json(void)
{
	struct upcache_stats st;
	json_t *o;

	memset(&st, 0, sizeof(st));
	st.age_ms = -1;
	if (api_cache.uc)
		upcache_stats(api_cache.uc, &st);
	o = json_pack(
	    "{s:b, s:o, s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I}", "enabled",
	    api_cache.uc != NULL, "age_ms", st.age_ms < 0 ? json_null() : json_integer(st.age_ms),
	    "checks", st.checks, "builds", (json_int_t)st.builds, "refreshes",
	    (json_int_t)st.refreshes, "failures", (json_int_t)st.failures, "worker_queries",
	    (json_int_t)st.queries, "last_ms", st.last_ms, "build_max_ms", st.build_max_ms,
	    "refresh_max_ms", st.refresh_max_ms, "hits", (json_int_t)api_cache.hits, "misses",
	    (json_int_t)api_cache.misses, "loop_store_queries", (json_int_t)api_cache.loop_queries);
	return o;
}

int api_health(struct monitor *d, struct evbuffer *out)
{
	struct monitor_health h;
	json_t *o;

	memset(&h, 0, sizeof(h));
	monitor_health(d, &h);
	o = json_pack("{s:s, s:o, s:i, s:i, s:i, s:I, s:I, s:I, s:f, s:f, s:i, s:I, s:i, s:I}",
	              "version", MAILPULSE_VERSION, "started", jtime(h.started_ms), "checks",
	              h.checks, "in_flight", h.in_flight, "waiting", h.waiting, "probes_started",
	              (json_int_t)h.probes_started, "probes_finished",
	              (json_int_t)h.probes_finished, "slots_skipped", (json_int_t)h.slots_skipped,
	              "store_flush_last_ms", h.store_flush_last_ms, "store_flush_max_ms",
	              h.store_flush_max_ms, "store_queued", h.store_queued, "store_flush_failures",
	              (json_int_t)h.store_flush_failures, "notify_pending", h.notify_pending,
	              "notify_failures", (json_int_t)h.notify_failures);
	if (o) /* several controllers on one store: whether this one acts */
		json_object_update_new(o, json_pack("{s:s, s:o, s:s}", "role",
		                                    h.lead_lost ? "lost"
		                                    : h.active  ? "active"
		                                                : "standby",
		                                    "role_since", jtime(h.active_since_ms),
		                                    "role_why", h.active_why ? h.active_why : ""));
	if (o) { /* the queue's bound, and how near it came: rows past it are lost */
		set(o, "store_queued_high", json_integer(h.store_queued_high));
		set(o, "store_queue_max", json_integer(STORE_QUEUE_MAX));
		set(o, "store_rows_dropped", json_integer((json_int_t)h.store_rows_dropped));
	}
	if (o)
		set(o, "api_cache", cache_json());
	if (o) /* whether results reach the store now, and SQLite's reason when not */
		json_object_update_new(o, json_pack("{s:b, s:s?}", "store_ok", h.store_ok,
		                                    "store_error", h.store_error));
	return send_json(out, 200, o);
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

/* name{k0="v0",k1="v1",...} value: n label pairs; the keys are ours, the values escaped. */
static void prom_sample(struct evbuffer *out, const char *name, const char *const *kv, int n,
                        double v)
{
	evbuffer_add_printf(out, "%s{", name);
	for (int i = 0; i < n; i++) {
		evbuffer_add_printf(out, "%s%s=\"", i ? "," : "", kv[2 * i]);
		prom_value(out, kv[2 * i + 1]);
		evbuffer_add(out, "\"", 1);
	}
	evbuffer_add_printf(out, "} %.15g\n", v);
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
	/* Over a check's locations (issue 12): the verdict, and each location's own. */
	F_VERDICT,
	F_QUORUM,
	F_COUNTED,
	F_LOC_UP,
	F_LOC_COUNTED,
	F_LOC_TTG,
	F_LOC_LAST,
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
    [F_VERDICT] = {"mailpulse_check_verdict", "gauge",
                   "How the check stands over all its locations now: 1 for the current "
                   "verdict (pending, unknown, up, degraded, partial, down), 0 for the others."},
    [F_QUORUM] = {"mailpulse_check_quorum", "gauge",
                  "Healthy locations that must confirm the check down for an outage."},
    [F_COUNTED] = {"mailpulse_check_locations_counted", "gauge",
                   "Locations of the check that count in its verdict now (healthy, recent, "
                   "confirmed)."},
    [F_LOC_UP] = {"mailpulse_check_location_up", "gauge",
                  "1 when the state the location confirmed for the check is up or degraded, "
                  "0 when down; absent while pending or unknown."},
    [F_LOC_COUNTED] = {"mailpulse_check_location_counted", "gauge",
                       "1 when the location counts in the check's verdict now, else 0 (node "
                       "impaired or lost, no recent result)."},
    [F_LOC_TTG] = {"mailpulse_check_location_time_to_greeting_seconds", "gauge",
                   "Time to greeting of the location's last result."},
    [F_LOC_LAST] = {"mailpulse_check_location_last_result_timestamp_seconds", "gauge",
                    "Probe time of the location's last result (unix time; a node's clock)."},
};

struct prom_ctx {
	struct evbuffer *out;
	const char *location;
	enum fam fam;
};

/* One location's sample of family f (one of F_LOC_*), labelled check and location. */
static void prom_loc(struct evbuffer *o, enum fam f, const char *check,
                     const struct mon_loc_info *li)
{
	const char *kv[] = {"check", check, "location", li->name};

	switch (f) {
	case F_LOC_UP:
		if (!li->st->pending && li->st->status != MP_UNKNOWN)
			prom_sample(o, fams[f].name, kv, 2,
			            li->st->status == MP_UP || li->st->status == MP_DEGRADED);
		break;
	case F_LOC_COUNTED:
		prom_sample(o, fams[f].name, kv, 2, li->counts != 0);
		break;
	case F_LOC_TTG:
		if (li->last_ms > 0 && li->last_ttg_us >= 0)
			prom_sample(o, fams[f].name, kv, 2, (double)li->last_ttg_us / 1e6);
		break;
	case F_LOC_LAST:
		if (li->last_ms > 0)
			prom_sample(o, fams[f].name, kv, 2, (double)li->last_ms / 1000.0);
		break;
	default:
		break;
	}
}

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
		if (l)
			prom_check(o, fams[F_WARNINGS].name, mi->name, p->location, NULL, NULL,
			           l->nwarnings);
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
		if (l && l->tls_used && *l->tls_version)
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
	case F_VERDICT:
		for (int v = VERDICT_PENDING; v <= VERDICT_DOWN; v++) {
			const char *kv[] = {"check", mi->name, "verdict",
			                    verdict_status_name((enum verdict_status)v)};
			/* No locations (out of memory): the state stands in, as in the API. */
			int cur = mi->nlocs ? mi->verdict.status == (enum verdict_status)v
			                    : strcmp(kv[3], state_name(mi->st)) == 0;
			prom_sample(o, fams[F_VERDICT].name, kv, 2, cur);
		}
		break;
	case F_QUORUM: {
		const char *kv[] = {"check", mi->name};
		prom_sample(o, fams[F_QUORUM].name, kv, 1, mi->cc->quorum ? mi->cc->quorum : 1);
		break;
	}
	case F_COUNTED: {
		const char *kv[] = {"check", mi->name};
		prom_sample(o, fams[F_COUNTED].name, kv, 1, mi->nlocs ? mi->verdict.counted : 0);
		break;
	}
	case F_LOC_UP:
	case F_LOC_COUNTED:
	case F_LOC_TTG:
	case F_LOC_LAST:
		for (int i = 0; i < mi->nlocs; i++)
			prom_loc(o, p->fam, mi->name, &mi->locs[i]);
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

/* The per-channel notification counters, copied out of monitor_each_channel(). */
struct chan_row {
	char *name;
	uint64_t n[2]; /* attempts, failures */
	int shown;
};

struct chan_rows {
	struct chan_row *v;
	size_t n, cap;
};

static void chan_collect(const char *channel, uint64_t attempts, uint64_t failures, void *arg)
{
	struct chan_rows *r = arg;
	struct chan_row *row;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct chan_row *v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return; /* out of memory: this scrape lacks that channel */
		r->v = v;
		r->cap = cap;
	}
	row = &r->v[r->n];
	if (!(row->name = strdup(channel)))
		return;
	row->n[0] = attempts;
	row->n[1] = failures;
	row->shown = 0;
	r->n++;
}

static void prom_channel(struct evbuffer *out, const char *metric, const char *channel, uint64_t v)
{
	evbuffer_add_printf(out, "%s{channel=\"", metric);
	prom_value(out, channel);
	evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)v);
}

/*
 * Notification attempts and failures by channel: every configured channel
 * (0 before its first attempt, so rate() has a start), then the channels
 * that had attempts but have left the configuration since. sum() over the
 * channel label is every attempt since the daemon started.
 */
static void prom_channels(struct evbuffer *out, struct monitor *d)
{
	static const struct {
		const char *name, *help;
	} fam[2] = {
	    {"mailpulse_notification_attempts_total",
	     "Notification delivery attempts since the daemon started, by channel."},
	    {"mailpulse_notification_failures_total",
	     "Notification delivery attempts that failed, by channel."},
	};
	const struct conf *c = monitor_conf(d);
	struct chan_rows rows = {NULL, 0, 0};

	monitor_each_channel(d, chan_collect, &rows);
	for (int f = 0; f < 2; f++) {
		prom_head(out, fam[f].name, "counter", fam[f].help);
		for (int i = 0; i < c->nchannels; i++) {
			uint64_t v = 0;
			if (!c->channels[i].name)
				continue;
			for (size_t k = 0; k < rows.n; k++)
				if (strcmp(rows.v[k].name, c->channels[i].name) == 0) {
					v = rows.v[k].n[f];
					rows.v[k].shown = 1;
				}
			prom_channel(out, fam[f].name, c->channels[i].name, v);
		}
		for (size_t k = 0; k < rows.n; k++) {
			if (!rows.v[k].shown)
				prom_channel(out, fam[f].name, rows.v[k].name, rows.v[k].n[f]);
			rows.v[k].shown = 0;
		}
	}
	for (size_t k = 0; k < rows.n; k++)
		free(rows.v[k].name);
	free(rows.v);
}

/* ---- per node ---- */

enum nfam {
	N_UP,
	N_STATE,
	N_INFO,
	N_HEARTBEAT,
	N_SKEW,
	N_SKEW_FLAGGED,
	N_SPOOL_DEPTH,
	N_SPOOL_MAX,
	N_SPOOL_DROPPED,
	N_SPOOL_OLDEST,
	N_ASSIGNED,
	N_RUNNING,
	N_BATCHES,
	N_RESULTS,
	N_CANARY,
	N__COUNT
};

static const struct {
	const char *name, *type, *help;
} nfams[N__COUNT] = {
    [N_UP] = {"mailpulse_node_up", "gauge",
              "1 when the probing node is ok (its results count in verdicts), else 0."},
    [N_STATE] = {"mailpulse_node_state", "gauge",
                 "The node's state: 1 for the current one (pending, ok, impaired, lost), 0 for "
                 "the others."},
    [N_INFO] = {"mailpulse_node_info", "gauge",
                "1, labelled with the node's region (as configured) and the version its last "
                "heartbeat gave (empty before one)."},
    [N_HEARTBEAT] = {"mailpulse_node_last_heartbeat_seconds", "gauge",
                     "When the node's last heartbeat arrived (unix time, the controller's "
                     "clock); absent before one."},
    [N_SKEW] = {"mailpulse_node_clock_skew_seconds", "gauge",
                "The node's clock less the controller's at its last heartbeat or batch; absent "
                "before a heartbeat."},
    [N_SKEW_FLAGGED] = {"mailpulse_node_clock_skew_flagged", "gauge",
                        "1 while the node's clock skew is over the controller's bound (5 s)."},
    [N_SPOOL_DEPTH] = {"mailpulse_node_spool_depth", "gauge",
                       "Results in the node's spool waiting to be sent, from its last "
                       "heartbeat."},
    [N_SPOOL_MAX] = {"mailpulse_node_spool_max", "gauge",
                     "The bound of the node's spool, from its last heartbeat."},
    [N_SPOOL_DROPPED] = {"mailpulse_node_spool_dropped_total", "counter",
                         "Results the node dropped to its spool's bound (the oldest first) "
                         "since the node started, from its last heartbeat."},
    [N_SPOOL_OLDEST] = {"mailpulse_node_spool_oldest_timestamp_seconds", "gauge",
                        "Probe time of the oldest result waiting in the node's spool (unix "
                        "time, the node's clock); absent when none waits."},
    [N_ASSIGNED] = {"mailpulse_node_checks_assigned", "gauge",
                    "Checks whose locations name the node."},
    [N_RUNNING] = {"mailpulse_node_checks_running", "gauge",
                   "Checks the node runs, from its last heartbeat."},
    [N_BATCHES] = {"mailpulse_node_batches_total", "counter",
                   "Batches of results taken from the node since the controller started (a "
                   "batch sent again is not counted)."},
    [N_RESULTS] = {"mailpulse_node_results_total", "counter",
                   "Results the node sent since the controller started, by outcome: "
                   "accepted, late (stored, too old to move a state), duplicate (had "
                   "already), refused."},
    [N_CANARY] = {"mailpulse_node_canary_up", "gauge",
                  "1 when the node's last probe of the canary target was up or degraded, else "
                  "0, from its last heartbeat."},
};

struct prom_node_ctx {
	struct evbuffer *out;
	enum nfam fam;
};

static void prom_node_cb(const struct mon_node_info *ni, void *arg)
{
	struct prom_node_ctx *p = arg;
	struct evbuffer *o = p->out;
	const struct node_heartbeat *hb = ni->hb;
	enum nfam f = p->fam;
	const char *kv[] = {"node", ni->name, NULL, NULL, NULL, NULL};
	const char *name = nfams[f].name;

	switch (f) {
	case N_UP:
		prom_sample(o, name, kv, 1, ni->state == MON_NODE_OK);
		break;
	case N_STATE:
		for (int s = MON_NODE_PENDING; s <= MON_NODE_LOST; s++) {
			kv[2] = "state";
			kv[3] = mon_node_state_name((enum mon_node_state)s);
			prom_sample(o, name, kv, 2, ni->state == (enum mon_node_state)s);
		}
		break;
	case N_INFO:
		kv[2] = "region";
		kv[3] = ni->region ? ni->region : "";
		kv[4] = "version";
		kv[5] = hb ? hb->version : "";
		prom_sample(o, name, kv, 3, 1);
		break;
	case N_HEARTBEAT:
		if (ni->last_heartbeat_ms > 0)
			prom_sample(o, name, kv, 1, (double)ni->last_heartbeat_ms / 1000.0);
		break;
	case N_SKEW:
		if (ni->last_heartbeat_ms > 0)
			prom_sample(o, name, kv, 1, (double)ni->skew_ms / 1000.0);
		break;
	case N_SKEW_FLAGGED:
		prom_sample(o, name, kv, 1, ni->skew_flagged != 0);
		break;
	case N_SPOOL_DEPTH:
		if (hb)
			prom_sample(o, name, kv, 1, (double)hb->spool_depth);
		break;
	case N_SPOOL_MAX:
		if (hb)
			prom_sample(o, name, kv, 1, (double)hb->spool_max);
		break;
	case N_SPOOL_DROPPED:
		if (hb)
			prom_sample(o, name, kv, 1, (double)hb->spool_dropped);
		break;
	case N_SPOOL_OLDEST:
		if (hb && hb->spool_oldest_ms > 0)
			prom_sample(o, name, kv, 1, (double)hb->spool_oldest_ms / 1000.0);
		break;
	case N_ASSIGNED:
		prom_sample(o, name, kv, 1, ni->checks_assigned);
		break;
	case N_RUNNING:
		if (hb)
			prom_sample(o, name, kv, 1, hb->checks);
		break;
	case N_BATCHES:
		prom_sample(o, name, kv, 1, (double)ni->batches);
		break;
	case N_RESULTS: {
		static const char *const outcome[] = {"accepted", "late", "duplicate", "refused"};
		const uint64_t n[] = {ni->results_accepted, ni->results_late, ni->results_duplicate,
		                      ni->results_refused};

		kv[2] = "outcome";
		for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
			kv[3] = outcome[i];
			prom_sample(o, name, kv, 2, (double)n[i]);
		}
		break;
	}
	case N_CANARY:
		kv[2] = "target";
		for (int i = 0; hb && i < hb->ncanaries && i < NODE_CANARIES_MAX; i++) {
			int again = 0;

			/* A target named twice (the node's words) would be a duplicate series. */
			for (int j = 0; j < i; j++)
				again |=
				    strcmp(hb->canaries[j].target, hb->canaries[i].target) == 0;
			if (again)
				continue;
			kv[3] = hb->canaries[i].target;
			prom_sample(o, name, kv, 2,
			            hb->canaries[i].status == MP_UP ||
			                hb->canaries[i].status == MP_DEGRADED);
		}
		break;
	case N__COUNT:
		break;
	}
}

/*
 * The probing nodes' families, one pass over the nodes each (nodes are at
 * most CONF_NODES_MAX). Announced also without nodes, as the check
 * families are without checks.
 */
static void prom_nodes(struct evbuffer *out, struct monitor *d)
{
	struct prom_node_ctx p = {out, N_UP};

	for (int f = 0; f < N__COUNT; f++) {
		p.fam = (enum nfam)f;
		prom_head(out, nfams[f].name, nfams[f].type, nfams[f].help);
		monitor_each_node(d, prom_node_cb, &p);
	}
}

int api_metrics(struct monitor *d, struct evbuffer *out)
{
	struct prom_ctx p = {out, monitor_conf(d)->location, F_SUCCESS};
	struct monitor_health h;

	/* One pass per family: the format wants each family's samples together. */
	for (int f = 0; f < F__COUNT; f++) {
		p.fam = (enum fam)f;
		prom_head(out, fams[f].name, fams[f].type, fams[f].help);
		monitor_each_check(d, prom_cb, &p);
	}
	prom_nodes(out, d);
	memset(&h, 0, sizeof(h));
	monitor_health(d, &h);
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
	prom_one(out, "mailpulse_controller_active", "gauge",
	         "1 while this controller is the active one (it probes and notifies), 0 while it "
	         "stands by.",
	         h.active && !h.lead_lost);
	prom_one(out, "mailpulse_store_queued_rows_high", "gauge",
	         "The most rows waiting to be written at once since the daemon started.",
	         h.store_queued_high);
	prom_one(out, "mailpulse_store_queue_limit_rows", "gauge",
	         "Rows the write queue holds at most; rows past it are lost.", STORE_QUEUE_MAX);
	prom_one(out, "mailpulse_store_rows_dropped_total", "counter",
	         "Rows lost because the write queue was full (the store could not keep up or was "
	         "down).",
	         (double)h.store_rows_dropped);
	prom_one(out, "mailpulse_store_write_failures_total", "counter",
	         "Store writes that failed.", (double)h.store_flush_failures);
	prom_one(out, "mailpulse_notifications_pending", "gauge",
	         "Notifications queued or being delivered.", h.notify_pending);
	prom_channels(out, d);
	struct http_stats hs;
	http_stats(&hs);
	prom_one(out, "mailpulse_http_connections", "gauge", "HTTP connections open now.", hs.open);
	prom_one(out, "mailpulse_http_connections_max", "gauge",
	         "The cap on HTTP connections in force (http.max_connections, or what the open "
	         "files limit leaves).",
	         hs.max);
	prom_head(out, "mailpulse_http_connections_limited_total", "counter",
	          "HTTP connections refused or closed by a limit, by limit.");
	for (int l = 0; l < HTTP_LIMIT__COUNT; l++)
		evbuffer_add_printf(
		    out, "mailpulse_http_connections_limited_total{limit=\"%s\"} %llu\n",
		    http_limit_name((enum http_limit)l), (unsigned long long)hs.limited[l]);
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
	struct monitor *d;
	struct evbuffer *out;
	int shown;
	struct upview uv;
};

static void status_cb(const struct mon_info *mi, void *arg)
{
	struct status_ctx *sc = arg;
	const struct conf *c = monitor_conf(sc->d);
	const char *state = state_status_name(mi->st->status);
	int64_t now = now_ms();
	static const int win[] = {0, 2}; /* 24 h and 30 d, of up_window_ms */

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
		json_t *u = upview_pct(&sc->uv, mi->name, win[i], now);

		if (json_is_number(u))
			evbuffer_add_printf(sc->out, "<td class=\"num\">%.3f%%</td>",
			                    json_number_value(u));
		else
			evbuffer_add_printf(sc->out, "<td class=\"num\">&#8212;</td>");
		json_decref(u);
	}
	evbuffer_add_printf(sc->out, "</tr>\n");
}

int api_status_page(struct monitor *d, struct evbuffer *out)
{
	const struct conf *c = monitor_conf(d);
	struct status_ctx sc = {d, out, 0, {NULL, NULL}};
	char when[40];
	time_t t = time(NULL);
	struct tm tm;
	int64_t at = mono_ms();
	int figures;

	if (body_serve(&api_cache.status, out))
		return 200;
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
	upview_open(&sc.uv, d);
	monitor_each_check(d, status_cb, &sc);
	figures = sc.uv.snap != NULL;
	upview_close(&sc.uv);
	if (!sc.shown)
		evbuffer_add_printf(out, "<tr><td colspan=\"4\">Nothing to show.</td></tr>\n");
	evbuffer_add_printf(out,
	                    "</tbody></table><p class=\"muted\">Uptime leaves out scheduled "
	                    "maintenance. Updated %s</p></main>"
	                    "</body></html>\n",
	                    when);
	body_keep(&api_cache.status, out, at, figures);
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
