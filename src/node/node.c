/* SPDX-License-Identifier: ISC */
/*
 * node.c - a probing node's runtime (node.h): its checks in the daemon's
 * scheduler, every result into the spool, and the three conversations
 * with the controller, one request of each kind in flight at a time:
 *
 *  - pull: GET assignments with If-None-Match; at start, and whenever a
 *    reply names an etag other than the one the node runs;
 *  - push: the spool's oldest results, in order, as one batch; the next
 *    batch goes at the next 100 ms tick after the reply acknowledges this
 *    one, so a backlog is replayed at about 6 000 results/s while the
 *    probes keep their loop. A batch's id is made of
 * its first and last result ids, so a batch sent again after a lost reply has the same id and is
 * not counted twice; a batch also says the lowest id the spool still holds (its floor), below which
 * the controller may forget;
 *  - live: while a backlog of more than a batch is replayed, the results
 *    made since it began (ids from live_from) go in a lane of their own,
 *    oldest first, each tick, so that they reach the controller in a tick
 *    or two instead of queueing behind the backlog; the push lane then
 *    stops below live_from. The controller keeps states from the newest
 *    and stores the replayed ones as history. When the backlog is
 *    through, one lane again;
 *  - heartbeat: every NODE_HEARTBEAT_MS, with the spool's figures and
 *    the canaries; its success or failure is the default canary (the
 *    controller itself).
 *
 * A failed request moves to the next controller URL and waits (doubling
 * from NODE_BACKOFF_MIN_MS up to NODE_BACKOFF_MAX_MS) before that kind is
 * tried again. Nothing waits on the network: probes go on, results queue
 * in the spool up to its bound.
 */
#include "node/node.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/probe.h"
#include "core/result.h"
#include "core/line.h"
#include "core/log.h"
#include "engine/probe.h"
#include "monitor/sched.h"
#include "net/curl_loop.h"
#include "spec/checkspec.h"
#include "store/spool.h"
#include "wire/node_json.h"
#include "wire/result_json.h"

#ifndef MAILPULSE_VERSION
#define MAILPULSE_VERSION "unknown"
#endif

#define NODE_BUCKETS 4096
/*
 * A request to the controller that takes longer than this failed (times
 * the time scale, never below the floor). A heartbeat has its interval:
 * one that hangs on a dead path must not keep the next from going, or a
 * node that is back would look lost (the controller's bound is three
 * heartbeats).
 */
#define NODE_REQUEST_TIMEOUT_MS 15000
#define NODE_REQUEST_FLOOR_MS   1000
#define NODE_BACKOFF_MIN_MS     500
#define NODE_BACKOFF_MAX_MS     10000
/* Spool writes this often at most: one transaction per flush. */
#define NODE_FLUSH_MS 200
/* A batch stays this far under NODE_BODY_MAX: its head and separators. */
#define NODE_BATCH_SLACK 4096
/* Controller replies are small; assignment lists are bounded like every body. */
#define NODE_REPLY_MAX 65536
/* A failing spool or controller is logged at once, then once per this. */
#define NODE_LOG_EVERY_MS 60000

/* One assigned check: its name, its digest and its place in the scheduler. */
struct nchk {
	struct nchk *hnext;
	char name[RESULT_META_NAME_MAX];
	char digest[65];
	struct sched_item *item;
	enum mp_status last; /* its last result's status: a change is confirmed soon */
	int seen;            /* in the assignment being applied */
	int canary;          /* index + 1 into n->canaries: a canary, not a check */
};

enum req_kind { REQ_PULL, REQ_PUSH, REQ_LIVE, REQ_BEAT, REQ__COUNT };

/* One request in flight: what curl needs kept alive until its callback. */
struct req {
	struct node *n;
	enum req_kind kind;
	struct curl_loop_xfer *x;
	struct curl_slist *headers;
	char *body;
	size_t bodylen;
	uint64_t first_id, last_id; /* a push: the ids of its first and last results */
	unsigned count;             /* a push: results in it */
	int64_t sent_us;
};

struct node {
	struct event_base *base;
	const struct probe_conf *pc;
	double scale;
	struct probe_env env;
	struct sched *sched;
	struct spool *spool;
	struct curl_loop *curl;
	struct nchk *buckets[NODE_BUCKETS];
	unsigned nchecks;
	char etag[NODE_ID_MAX];      /* of the assignments it runs; "" before the first */
	char want_etag[NODE_ID_MAX]; /* the controller's latest */
	int ctl;                     /* the controller URL in use */
	struct req *inflight[REQ__COUNT];
	int64_t retry_at_us[REQ__COUNT]; /* not before this (backoff) */
	unsigned backoff_ms[REQ__COUNT];
	struct event *ev_tick; /* flush, heartbeat, push and pull when due */
	int64_t next_beat_us, next_flush_us;
	int64_t started_ms;
	uint64_t batch_max; /* results per batch; halved on 413 */
	uint64_t live_from; /* the live lane's first id while a backlog is replayed; 0: one lane */
	int64_t replay_from_us;
	/* The canaries: the controller (index 0), then the configured ones. */
	struct node_canary canaries[NODE_CANARIES_MAX];
	int ncanaries;
	uint64_t dropped_told; /* spool drops already logged */
	int64_t spool_fail_logged_ms;
	/*
	 * Requests of each kind failing in a row, and when that was last
	 * logged: per kind, so heartbeats that go through while batches are
	 * refused do not make the log say "answers again" between each refusal.
	 */
	int failing[REQ__COUNT];
	int64_t fail_logged_ms[REQ__COUNT];
	/*
	 * A check failed: is the fault ours? Its results wait in the spool
	 * until every configured canary has been probed since (verify_from_ms),
	 * and then a heartbeat has told the controller what they said, so the
	 * controller knows the node is impaired before it sees the failures.
	 */
	int verify; /* canaries asked, not all answered */
	int64_t verify_from_ms;
	int beat_first; /* a heartbeat must go (and be answered) before the next push */
	int stopping;
};

static int64_t scaled_us(const struct node *n, unsigned ms)
{
	return (int64_t)((double)ms * 1000.0 * n->scale);
}

/* ---- checks ------------------------------------------------------------- */

static unsigned bucket_of(const char *name)
{
	unsigned h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	return h % NODE_BUCKETS;
}

static struct nchk *chk_find(struct node *n, const char *name)
{
	for (struct nchk *c = n->buckets[bucket_of(name)]; c; c = c->hnext)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void chk_remove(struct node *n, struct nchk *c)
{
	struct nchk **pp = &n->buckets[bucket_of(c->name)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	if (c->item)
		sched_remove(c->item);
	if (!c->canary)
		n->nchecks--;
	free(c);
}

static struct nchk *chk_add(struct node *n, const char *name, struct check_spec *sp, int canary)
{
	struct nchk *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->canary = canary;
	c->last = MP_UNKNOWN;
	c->item = sched_add(n->sched, sp, c);
	if (!c->item) {
		free(c);
		return NULL;
	}
	unsigned b = bucket_of(c->name);
	c->hnext = n->buckets[b];
	n->buckets[b] = c;
	if (!canary)
		n->nchecks++;
	return c;
}

/* Run what the controller assigned: new checks added, changed ones updated, the rest removed. */
static void apply(struct node *n, struct node_assign *a)
{
	unsigned added = 0, changed = 0, removed = 0;

	for (size_t i = 0; i < a->n; i++) {
		struct node_check_in *in = &a->checks[i];
		struct nchk *c = chk_find(n, in->spec->name);

		if (c && !c->canary) {
			if (strcmp(c->digest, in->digest) != 0 ||
			    sched_spec(c->item)->interval_ms != in->spec->interval_ms ||
			    sched_spec(c->item)->retry_ms != in->spec->retry_ms) {
				sched_update(c->item, in->spec);
				changed++;
			}
		} else if (!c) {
			c = chk_add(n, in->spec->name, in->spec, 0);
			if (!c) {
				log_msg(LOG_ERR, "node: out of memory adding check %s",
				        in->spec->name);
				continue;
			}
			added++;
		} else {
			continue; /* a check named like a canary: the canary stays */
		}
		snprintf(c->digest, sizeof(c->digest), "%s", in->digest);
		c->seen = 1;
	}
	for (int b = 0; b < NODE_BUCKETS; b++) {
		struct nchk *c = n->buckets[b], *next;

		for (; c; c = next) {
			next = c->hnext;
			if (c->canary)
				continue;
			if (!c->seen) {
				chk_remove(n, c);
				removed++;
			} else {
				c->seen = 0;
			}
		}
	}
	snprintf(n->etag, sizeof(n->etag), "%s", a->etag);
	log_msg(LOG_NOTICE, "node: assignments %s: %u checks (%u added, %u changed, %u removed)",
	        n->etag, n->nchecks, added, changed, removed);
	/* What this machine lacks for a check is its admin's to fix: said at each pull. */
	for (size_t i = 0; i < a->nskipped; i++)
		log_msg(LOG_ERR, "node: check %s not run here: %s", a->skipped[i].name,
		        a->skipped[i].error);
}

/* ---- results into the spool ------------------------------------------------ */

static void canary_result(struct node *n, struct nchk *c, const struct result *r)
{
	struct node_canary *k = &n->canaries[c->canary - 1];

	k->status = r->status;
	k->reason = r->reason;
	k->probe_ms = r->probe_ms;
	snprintf(k->message, sizeof(k->message), "%s", r->message);
	if (r->status == MP_DOWN || r->status == MP_UNKNOWN)
		k->failing++;
	else
		k->failing = 0;
	if (k->failing == 1)
		log_msg(LOG_WARNING, "node: canary %s failing: %s: %s", k->target,
		        result_reason_name(r->reason), r->message);
	if (n->verify) {
		/* It was under way when the check failed: one more, started after. */
		if (r->probe_ms < n->verify_from_ms)
			sched_run_now(c->item);
		for (int i = 1; i < n->ncanaries; i++)
			if (n->canaries[i].probe_ms < n->verify_from_ms)
				return; /* one has not answered since */
		n->verify = 0;
		n->beat_first = 1;
		n->next_beat_us = 0; /* now */
	}
}

/* A check failed: probe the canaries now, and hold results until they answered. */
static void verify_start(struct node *n, int64_t probe_ms)
{
	if (n->ncanaries < 2 || n->verify)
		return;
	n->verify = 1;
	n->verify_from_ms = probe_ms;
	for (int b = 0; b < NODE_BUCKETS; b++)
		for (struct nchk *c = n->buckets[b]; c; c = c->hnext)
			if (c->canary)
				sched_run_now(c->item);
}

static void on_result(struct sched_item *it, const struct result *r, void *arg)
{
	struct node *n = arg;
	struct nchk *c = sched_user(it);
	struct check_spec *sp = sched_spec(it);
	struct result_meta meta;
	char *text;

	if (c->canary) {
		canary_result(n, c, r);
		return;
	}
	/* A change is confirmed by the next probes, as the daemon does for its own. */
	if (c->last != MP_UNKNOWN && r->status != c->last)
		sched_retry_soon(it);
	if (r->status == MP_DOWN && c->last != MP_DOWN)
		verify_start(n, r->probe_ms);
	c->last = r->status;
	memset(&meta, 0, sizeof(meta));
	snprintf(meta.target, sizeof(meta.target), "%s", sp->chk.target.url);
	snprintf(meta.check, sizeof(meta.check), "%s", c->name);
	snprintf(meta.location, sizeof(meta.location), "%s", n->pc->name);
	snprintf(meta.digest, sizeof(meta.digest), "%s", c->digest);
	meta.seq = spool_next_id(n->spool);
	text = result_json_dumps(r, &meta);
	if (!text || spool_add(n->spool, meta.seq, r->probe_ms, text, strlen(text)) != 0)
		log_msg(LOG_ERR, "node: check %s: out of memory keeping a result: lost", c->name);
	free(text);
}

/* ---- requests to the controller ------------------------------------------------ */

static void req_free(struct req *q)
{
	if (!q)
		return;
	curl_slist_free_all(q->headers);
	if (q->body)
		OPENSSL_cleanse(q->body, q->bodylen);
	free(q->body);
	free(q);
}

static const char *kind_name(enum req_kind k)
{
	return k == REQ_PULL   ? "assignments"
	       : k == REQ_PUSH ? "results"
	       : k == REQ_LIVE ? "results (live lane)"
	                       : "heartbeat";
}

/* The request failed: the next controller, and a longer wait for this kind. */
static void req_failed(struct node *n, enum req_kind k, const char *why)
{
	int64_t now = mp_wall_ms();
	unsigned b = n->backoff_ms[k] ? n->backoff_ms[k] * 2 : NODE_BACKOFF_MIN_MS;

	if (b > NODE_BACKOFF_MAX_MS)
		b = NODE_BACKOFF_MAX_MS;
	n->backoff_ms[k] = b;
	n->retry_at_us[k] = mp_now_us() + scaled_us(n, b);
	/*
	 * A heartbeat goes again as soon as the wait allows, not a whole
	 * interval later: a short cut must not add up to the lost bound.
	 */
	if (k == REQ_BEAT)
		n->next_beat_us = n->retry_at_us[k];
	n->failing[k]++;
	if (n->failing[k] == 1 || now - n->fail_logged_ms[k] >= NODE_LOG_EVERY_MS) {
		log_msg(LOG_WARNING, "node: controller %s: %s: %s (%d failures in a row%s)",
		        n->pc->controller[n->ctl], kind_name(k), why, n->failing[k],
		        n->pc->ncontrollers > 1 ? "; trying the next controller" : "");
		n->fail_logged_ms[k] = now;
	}
	if (n->pc->ncontrollers > 1)
		n->ctl = (n->ctl + 1) % n->pc->ncontrollers;
}

static void req_worked(struct node *n, enum req_kind k)
{
	if (n->failing[k])
		log_msg(LOG_NOTICE, "node: controller %s: %s: answered again (after %d failures)",
		        n->pc->controller[n->ctl], kind_name(k), n->failing[k]);
	n->failing[k] = 0;
	n->backoff_ms[k] = 0;
	n->retry_at_us[k] = 0;
}

static void on_done(const struct curl_loop_result *r, void *arg);

static int req_start(struct node *n, enum req_kind k, struct req *q, const char *etag)
{
	char url[1024], auth[1100], inm[NODE_ID_MAX + 32];
	CURL *e = curl_easy_init();
	CURLcode rc = CURLE_OK;
	const char *base = n->pc->controller[n->ctl];
	size_t bl = strlen(base);
	long timeout_ms =
	    (long)(scaled_us(n, k == REQ_BEAT ? NODE_HEARTBEAT_MS : NODE_REQUEST_TIMEOUT_MS) /
	           1000);

	if (timeout_ms < NODE_REQUEST_FLOOR_MS)
		timeout_ms = NODE_REQUEST_FLOOR_MS;

	q->n = n;
	q->kind = k;
	if (!e)
		goto fail;
	snprintf(url, sizeof(url), "%.*s/api/v1/nodes/%s/%s",
	         (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base, n->pc->name,
	         k == REQ_LIVE ? kind_name(REQ_PUSH) : kind_name(k));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", n->pc->token);
	q->headers = curl_slist_append(q->headers, auth);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (q->headers)
		q->headers = curl_slist_append(q->headers, "Content-Type: application/json");
	if (q->headers && etag && *etag) {
		snprintf(inm, sizeof(inm), "If-None-Match: \"%s\"", etag);
		q->headers = curl_slist_append(q->headers, inm);
	}
	if (!q->headers)
		goto fail;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https,http");
	SET(CURLOPT_USERAGENT, "mailpulse-probe/" MAILPULSE_VERSION);
	SET(CURLOPT_HTTPHEADER, q->headers);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms / 2);
	if (n->pc->ca_file)
		SET(CURLOPT_CAINFO, n->pc->ca_file);
	if (k != REQ_PULL) {
		SET(CURLOPT_POSTFIELDS, q->body);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->bodylen);
	}
#undef SET
	if (rc != CURLE_OK) {
		log_msg(LOG_ERR, "node: curl: %s", curl_easy_strerror(rc));
		curl_easy_cleanup(e);
		req_free(q);
		return -1;
	}
	q->sent_us = mp_now_us();
	q->x = curl_loop_add(n->curl, e, k == REQ_PULL ? NODE_ASSIGN_MAX : NODE_REPLY_MAX, 0,
	                     on_done, q);
	if (!q->x) {
		req_free(q);
		return -1;
	}
	n->inflight[k] = q;
	return 0;
fail:
	if (e)
		curl_easy_cleanup(e);
	log_msg(LOG_ERR, "node: out of memory starting a request");
	req_free(q);
	return -1;
}

/* An etag from a reply: when it is not the one we run, pull. */
static void note_etag(struct node *n, const char *etag)
{
	if (etag && *etag)
		snprintf(n->want_etag, sizeof(n->want_etag), "%s", etag);
}

/*
 * Keep what was assigned in the spool file, for a restart while the
 * controller is away: without the checks whose password travelled (a
 * password is kept in memory only), which wait for the controller.
 */
static void keep_assignments(struct node *n, const char *body, size_t len)
{
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *checks = doc ? json_object_get(doc, "checks") : NULL, *kept = json_array();
	char err[512], *text = NULL;
	size_t i, dropped = 0;
	json_t *c;

	if (!doc || !json_is_array(checks) || !kept)
		goto out;
	json_array_foreach(checks, i, c)
	{
		json_t *pw = json_object_get(c, "password");

		if (pw && !json_is_null(pw))
			dropped++;
		else
			json_array_append(kept, c);
	}
	json_object_set(doc, "checks", kept);
	text = json_dumps(doc, JSON_COMPACT);
	if (text && spool_keep_assignments(n->spool, text, strlen(text), err, sizeof(err)) != 0)
		log_msg(LOG_ERR, "node: %s", err);
	if (dropped)
		log_msg(
		    LOG_INFO,
		    "node: %zu checks whose password the controller sends are not kept on disk: "
		    "after a restart they wait for the controller",
		    dropped);
out:
	free(text);
	json_decref(kept);
	json_decref(doc);
}

/* At start: what was assigned before, so probing goes on while the controller is away. */
static void restore_cb(const char *text, size_t len, void *arg)
{
	struct node *n = arg;
	struct node_assign a;
	char err[512];

	if (!text)
		return;
	memset(&a, 0, sizeof(a));
	if (node_assign_decode(text, len, &a, err, sizeof(err)) != 0) {
		log_msg(LOG_WARNING, "node: the assignments kept in the spool are not usable: %s",
		        err);
	} else if (strcmp(a.node, n->pc->name) != 0) {
		log_msg(LOG_WARNING,
		        "node: the spool holds assignments of node %s, not of this one: ignored",
		        a.node);
	} else {
		apply(n, &a);
		/* Asked for in full at the first pull: checks with a password were left out. */
		n->etag[0] = '\0';
	}
	node_assign_clear(&a);
}

static void pull_done(struct node *n, const struct curl_loop_result *r)
{
	struct node_assign a;
	char err[512];

	if (r->status == 304) {
		snprintf(n->etag, sizeof(n->etag), "%s", n->want_etag);
		return;
	}
	memset(&a, 0, sizeof(a));
	if (node_assign_decode(r->body, r->bodylen, &a, err, sizeof(err)) != 0) {
		/* The controller's word is still hostile input: keep running what we have. */
		log_msg(LOG_ERR, "node: assignments from %s refused: %s", n->pc->controller[n->ctl],
		        err);
		req_failed(n, REQ_PULL, "assignments did not decode");
		node_assign_clear(&a);
		return;
	}
	if (strcmp(a.node, n->pc->name) != 0) {
		log_msg(LOG_ERR, "node: assignments for another node (%s) refused", a.node);
		req_failed(n, REQ_PULL, "assignments for another node");
	} else {
		apply(n, &a);
		snprintf(n->want_etag, sizeof(n->want_etag), "%s", a.etag);
		keep_assignments(n, r->body, r->bodylen);
	}
	node_assign_clear(&a);
}

static void push_done(struct node *n, struct req *q, const struct curl_loop_result *r)
{
	struct node_batch_reply *rep = calloc(1, sizeof(*rep));
	char err[512];

	if (!rep)
		return;
	if (node_batch_reply_decode(r->body, r->bodylen, rep, err, sizeof(err)) != 0) {
		req_failed(n, q->kind, "the reply to a batch did not decode");
		log_msg(LOG_ERR, "node: reply to a batch: %s", err);
		free(rep);
		return;
	}
	if (spool_ack_range(n->spool, q->first_id, q->last_id, err, sizeof(err)) != 0)
		log_msg(LOG_ERR, "node: %s", err);
	if (rep->nrefused)
		log_msg(LOG_WARNING,
		        "node: the controller refused %u of %u results, the first: %s: %s",
		        rep->nrefused, q->count, rep->refused[0].check, rep->refused[0].error);
	note_etag(n, rep->etag);
	free(rep);
	/*
	 * The next batch waits for the next tick (100 ms), not the reply, so a
	 * backlog never has the loop (and the CPU) to itself while probes run:
	 * ~6 000 results/s is enough. (The slow greetings first blamed on
	 * batches sent back to back came from the benchmark's layout, its
	 * controller beside the target: bench/RESULTS.md, tenth slice.)
	 */
}

static void beat_done(struct node *n, const struct curl_loop_result *r)
{
	struct node_heartbeat_reply rep;
	char err[512];

	if (node_heartbeat_reply_decode(r->body, r->bodylen, &rep, err, sizeof(err)) != 0) {
		log_msg(LOG_ERR, "node: reply to a heartbeat: %s", err);
		return;
	}
	note_etag(n, rep.etag);
	n->beat_first = 0;
	if (rep.skew_flagged)
		log_msg(LOG_WARNING,
		        "node: the controller says this clock is %lld ms off its own: results "
		        "are stamped with it",
		        (long long)rep.skew_ms);
}

/* The default canary: can the controller be reached at all. */
static void controller_canary(struct node *n, int ok, enum mp_reason reason, const char *msg)
{
	struct node_canary *k = &n->canaries[0];

	k->status = ok ? MP_UP : MP_DOWN;
	k->reason = reason;
	k->probe_ms = mp_wall_ms();
	snprintf(k->message, sizeof(k->message), "%s", msg);
	k->failing = ok ? 0 : k->failing + 1;
}

static void on_done(const struct curl_loop_result *r, void *arg)
{
	struct req *q = arg;
	struct node *n = q->n;
	enum req_kind k = q->kind;
	char why[300], body[120];

	n->inflight[k] = NULL;
	if (r->rc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
		         r->errbuf && *r->errbuf ? r->errbuf : curl_easy_strerror(r->rc));
		controller_canary(
		    n, 0, r->rc == CURLE_OPERATION_TIMEDOUT ? MP_R_TIMEOUT : MP_R_REFUSED, why);
		req_failed(n, k, why);
	} else if (r->status == 200 || (k == REQ_PULL && r->status == 304)) {
		controller_canary(n, 1, MP_R_OK, "the controller answers");
		req_worked(n, k);
		if (k == REQ_PULL)
			pull_done(n, r);
		else if (k == REQ_PUSH || k == REQ_LIVE)
			push_done(n, q, r);
		else
			beat_done(n, r);
	} else {
		line_escape(body, sizeof(body), r->body ? r->body : "", r->bodylen);
		snprintf(why, sizeof(why), "HTTP %ld: %s", r->status, body);
		if (r->status == 413 && (k == REQ_PUSH || k == REQ_LIVE) && q->count > 1) {
			/* The controller's bound is lower than ours. */
			n->batch_max = q->count / 2;
			log_msg(LOG_WARNING,
			        "node: the controller refused a batch of %u results as too large: "
			        "at most %llu a batch from now on",
			        q->count, (unsigned long long)n->batch_max);
		}
		if ((k == REQ_PUSH || k == REQ_LIVE) &&
		    (r->status == 400 || (r->status == 413 && q->count <= 1))) {
			/*
			 * A batch the controller cannot read never will be, nor one
			 * result too large for it alone: dropped, or it would hold
			 * every result behind it forever.
			 */
			char err[300];

			log_msg(LOG_ERR, "node: batch of %u results refused as %s, dropped: %s",
			        q->count, r->status == 400 ? "malformed" : "too large", why);
			if (spool_ack_range(n->spool, q->first_id, q->last_id, err, sizeof(err)) !=
			    0)
				log_msg(LOG_ERR, "node: %s", err);
		}
		controller_canary(n, r->status < 500, MP_R_PROTOCOL_ERROR, why);
		req_failed(n, k, why);
	}
	req_free(q);
}

/* ---- the three conversations -------------------------------------------------- */

static int may_send(const struct node *n, enum req_kind k)
{
	return !n->stopping && !n->inflight[k] && mp_now_us() >= n->retry_at_us[k];
}

static void pull(struct node *n)
{
	struct req *q;

	if (!may_send(n, REQ_PULL))
		return;
	if (n->etag[0] && strcmp(n->etag, n->want_etag) == 0)
		return;
	if ((q = calloc(1, sizeof(*q))))
		(void)req_start(n, REQ_PULL, q, n->etag);
}

struct batch_fill {
	struct node_batch_out *b;
	uint64_t first, last;
	unsigned count;
	int oom;
};

static void batch_row(uint64_t id, int64_t probe_ms, const char *text, size_t len, void *arg)
{
	struct batch_fill *f = arg;

	(void)probe_ms;
	if (f->oom)
		return;
	if (f->b && node_batch_add(f->b, text, len) != 0) {
		f->oom = 1;
		return;
	}
	if (!f->first)
		f->first = id;
	f->last = id;
	f->count++;
}

/*
 * Where the lanes stand. A backlog of more than a batch starts the live
 * lane at the next id; the push lane then replays what is below it. When
 * nothing is left below it and neither lane is in flight, one lane again.
 */
static void lanes(struct node *n)
{
	uint64_t first;

	if (!n->live_from) {
		if (spool_depth(n->spool) > n->batch_max && !n->inflight[REQ_LIVE]) {
			n->live_from = spool_next_id(n->spool);
			n->replay_from_us = mp_now_us();
			log_msg(LOG_NOTICE,
			        "node: replaying %llu spooled results, oldest first; results from "
			        "now on go beside them",
			        (unsigned long long)spool_depth(n->spool));
		}
		return;
	}
	if (n->inflight[REQ_PUSH] || n->inflight[REQ_LIVE])
		return;
	first = spool_first_id(n->spool);
	if (first == 0 || first >= n->live_from) {
		log_msg(LOG_NOTICE, "node: the spooled results are replayed (%.1f s)",
		        (double)(mp_now_us() - n->replay_from_us) / 1e6);
		n->live_from = 0;
	}
}

/*
 * A lane's oldest results as one batch: the push lane's below live_from
 * (all of them with one lane), the live lane's from it, within the count
 * and size bounds, in one read of the spool. The batch is named after the
 * range it holds once it is read, so that the same range sent again after
 * a lost reply has the same id.
 */
static void push(struct node *n, enum req_kind k)
{
	struct batch_fill g;
	struct req *q;
	char id[NODE_ID_MAX], err[300];
	uint64_t after = 0, upto = UINT64_MAX;
	size_t len;

	if (k == REQ_LIVE && !n->live_from)
		return;
	if (!may_send(n, k) || spool_depth(n->spool) == 0 || n->verify || n->beat_first ||
	    n->inflight[REQ_BEAT])
		return;
	if (k == REQ_LIVE)
		after = n->live_from - 1;
	else if (n->live_from)
		upto = n->live_from - 1;
	memset(&g, 0, sizeof(g));
	if (!(g.b = node_batch_open(n->pc->name, "-", mp_wall_ms(), spool_first_id(n->spool))))
		return;
	if (spool_peek(n->spool, after, upto, (size_t)n->batch_max,
	               NODE_BODY_MAX - NODE_BATCH_SLACK, batch_row, &g, err, sizeof(err)) < 0 ||
	    g.oom) {
		free(node_batch_close(g.b, &len));
		log_msg(LOG_ERR, "node: a batch could not be made: %s",
		        g.oom ? "out of memory" : err);
		return;
	}
	snprintf(id, sizeof(id), "%llu-%llu", (unsigned long long)g.first,
	         (unsigned long long)g.last);
	if (g.count == 0 || node_batch_set_id(g.b, id) != 0 || !(q = calloc(1, sizeof(*q)))) {
		free(node_batch_close(g.b, &len));
		return;
	}
	q->body = node_batch_close(g.b, &q->bodylen);
	if (!q->body) {
		free(q);
		return;
	}
	q->first_id = g.first;
	q->last_id = g.last;
	q->count = g.count;
	(void)req_start(n, k, q, NULL);
}

static void beat(struct node *n)
{
	struct node_heartbeat *hb;
	struct req *q;

	if (!may_send(n, REQ_BEAT))
		return;
	if (!(hb = calloc(1, sizeof(*hb))))
		return;
	snprintf(hb->node, sizeof(hb->node), "%s", n->pc->name);
	snprintf(hb->version, sizeof(hb->version), "%s", MAILPULSE_VERSION);
	hb->started_ms = n->started_ms;
	hb->sent_ms = mp_wall_ms();
	snprintf(hb->etag, sizeof(hb->etag), "%s", n->etag);
	hb->checks = n->nchecks;
	struct sched_stats st;
	sched_stats(n->sched, &st);
	hb->in_flight = (unsigned)st.in_flight;
	hb->spool_depth = spool_depth(n->spool);
	hb->spool_max = spool_max(n->spool);
	hb->spool_dropped = spool_dropped(n->spool);
	hb->spool_oldest_ms = spool_oldest_ms(n->spool);
	/* Those probed at least once: a canary not yet probed has nothing to say. */
	for (int i = 0; i < n->ncanaries; i++)
		if (n->canaries[i].probe_ms)
			hb->canaries[hb->ncanaries++] = n->canaries[i];
	q = calloc(1, sizeof(*q));
	if (q && (q->body = node_heartbeat_encode(hb))) {
		q->bodylen = strlen(q->body);
		(void)req_start(n, REQ_BEAT, q, NULL);
	} else {
		free(q);
	}
	free(hb);
}

static void flush(struct node *n)
{
	char err[512];
	uint64_t d;

	if (spool_flush(n->spool, err, sizeof(err)) != 0) {
		int64_t now = mp_wall_ms();

		if (now - n->spool_fail_logged_ms >= NODE_LOG_EVERY_MS) {
			log_msg(LOG_ERR, "node: %s (results are kept in memory meanwhile)", err);
			n->spool_fail_logged_ms = now;
		}
	}
	d = spool_dropped(n->spool);
	if (d > n->dropped_told) {
		log_msg(LOG_WARNING,
		        "node: spool full (%llu results): the %llu oldest were dropped (%llu since "
		        "start): the controller has been away too long",
		        (unsigned long long)spool_max(n->spool),
		        (unsigned long long)(d - n->dropped_told), (unsigned long long)d);
		n->dropped_told = d;
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	int64_t now = mp_now_us();

	(void)fd;
	(void)what;
	if (now >= n->next_flush_us) {
		flush(n);
		n->next_flush_us = now + NODE_FLUSH_MS * 1000;
	}
	if (now >= n->next_beat_us) {
		beat(n);
		n->next_beat_us = now + scaled_us(n, NODE_HEARTBEAT_MS);
	}
	pull(n);
	lanes(n);
	push(n, REQ_PUSH);
	push(n, REQ_LIVE);
}

/* ---- life -------------------------------------------------------------------- */

/* The builder's strings while a canary is built; checkspec_copy() then copies them. */
struct scratch {
	char *s[16];
	int n;
};

static char *scratch_save(void *arg, const char *s, int secret)
{
	struct scratch *sc = arg;

	(void)secret; /* a canary has no login */
	if (sc->n == (int)(sizeof(sc->s) / sizeof(sc->s[0])))
		return NULL;
	return sc->s[sc->n++] = strdup(s);
}

static void canary_report(void *arg, const char *key, const char *key2, const char *msg)
{
	(void)key2;
	log_msg(LOG_ERR, "node: canary %s: %s: %s", (const char *)arg, key, msg);
}

/*
 * A canary's check: its URL and a short timeout. A canary asks whether
 * this node reaches mail servers at all, not whether one is configured
 * well: a greeting is enough, so STARTTLS is not asked for on a plain
 * port and a certificate is not judged on a TLS one.
 */
static struct check_spec *canary_spec(const char *url, unsigned i)
{
	struct check chk;
	struct checkspec b;
	struct scratch sc = {.n = 0};
	int tls = strncmp(url, "imaps://", 8) == 0 || strncmp(url, "pop3s://", 8) == 0;
	const char *keys[] = {"url", "timeout", tls ? "insecure" : "starttls"};
	const char *vals[] = {url, "5s", tls ? "true" : "no"};
	char name[RESULT_META_NAME_MAX];
	struct check_spec *sp = NULL;

	check_defaults(&chk);
	checkspec_init(&b, &chk, CHECKSPEC_KEYS, scratch_save, &sc);
	snprintf(name, sizeof(name), "canary-%u", i);
	if (checkspec_build(&b, keys, vals, 3, canary_report, (void *)(uintptr_t)url) == 0)
		sp = checkspec_copy(&chk, name, NODE_CANARY_INTERVAL_MS, NODE_CANARY_INTERVAL_MS);
	for (int k = 0; k < sc.n; k++)
		free(sc.s[k]);
	return sp;
}

struct node *node_new(struct event_base *base, const struct probe_conf *pc, double time_scale,
                      char *err, size_t errlen)
{
	struct node *n = calloc(1, sizeof(*n));
	struct timeval tick = {0, 100000};

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->base = base;
	n->pc = pc;
	n->scale = time_scale > 0 ? time_scale : 1.0;
	n->batch_max = NODE_BATCH_MAX;
	n->started_ms = mp_wall_ms();
	if (!(n->spool = spool_open(pc->spool, pc->spool_max, err, errlen)))
		goto fail;
	if (probe_env_init(&n->env, base, err, errlen) != 0)
		goto fail;
	n->sched = sched_new(&n->env, pc->max_in_flight, n->scale, on_result, n);
	n->curl = curl_loop_new(base);
	n->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, n);
	if (!n->sched || !n->curl || !n->ev_tick || event_add(n->ev_tick, &tick) != 0) {
		snprintf(err, errlen, "out of memory (or libcurl could not be loaded)");
		goto fail;
	}
	snprintf(n->canaries[0].target, sizeof(n->canaries[0].target), "controller");
	n->canaries[0].status = MP_UNKNOWN;
	n->ncanaries = 1;
	for (int i = 0; i < pc->ncanaries && n->ncanaries < NODE_CANARIES_MAX; i++) {
		struct check_spec *sp = canary_spec(pc->canaries[i], (unsigned)i);
		struct node_canary *k = &n->canaries[n->ncanaries];

		if (!sp) {
			snprintf(err, errlen, "canary %s: not a check URL", pc->canaries[i]);
			goto fail;
		}
		snprintf(k->target, sizeof(k->target), "%s", sp->chk.target.url);
		k->status = MP_UNKNOWN;
		n->ncanaries++;
		if (!chk_add(n, sp->name, sp, n->ncanaries - 1 + 1)) {
			checkspec_unref(sp);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		checkspec_unref(sp);
	}
	if (spool_load_assignments(n->spool, restore_cb, n, err, errlen) != 0)
		log_msg(LOG_WARNING, "node: %s", err);
	if (spool_depth(n->spool))
		log_msg(LOG_NOTICE, "node: spool %s holds %llu results from before: sent first",
		        pc->spool ? pc->spool : "(memory)",
		        (unsigned long long)spool_depth(n->spool));
	/* Pull and beat at once. */
	event_active(n->ev_tick, 0, 0);
	return n;
fail:
	(void)node_free(n);
	return NULL;
}

int node_free(struct node *n)
{
	char err[512];
	int rc = 0;

	if (!n)
		return 0;
	n->stopping = 1;
	if (n->ev_tick)
		event_free(n->ev_tick);
	/* Transfers first: their callbacks would touch the rest. */
	if (n->curl)
		curl_loop_free(n->curl);
	for (int k = 0; k < REQ__COUNT; k++)
		req_free(n->inflight[k]);
	for (int b = 0; b < NODE_BUCKETS; b++)
		while (n->buckets[b])
			chk_remove(n, n->buckets[b]);
	if (n->sched)
		sched_free(n->sched);
	if (n->spool) {
		if (spool_flush(n->spool, err, sizeof(err)) != 0) {
			log_msg(LOG_ERR, "node: %s: buffered results lost", err);
			rc = -1;
		}
		spool_close(n->spool);
	}
	if (n->env.base)
		probe_env_free(&n->env);
	free(n);
	return rc;
}
