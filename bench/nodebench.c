/* SPDX-License-Identifier: ISC */
/*
 * nodebench.c - issue 12's performance figures for probing nodes, taken
 * against the real binaries (bench/run.sh nodes, ingest, node, replay):
 *
 *   nodebench load   plays NODES probing nodes to a controller (`mailpulse
 *       run`). It pulls each node's assignments, then sends result batches
 *       and heartbeats the way src/node/node.c does: results wait in a queue,
 *       a batch goes every TICK ms per node when results wait (one in flight
 *       per node, at most NODE_BATCH_MAX results and NODE_BODY_MAX bytes),
 *       and a heartbeat every NODE_HEARTBEAT_MS. Each node makes one result
 *       per assigned check per interval, spread evenly over the interval.
 *       Each result is a real `mailpulse check --json` result (the template),
 *       decoded and encoded again by result_json_dumps() with its own check,
 *       location, digest, seq and probe time, as the node encodes what it
 *       spools. Figures: the controller's CPU per ingested result
 *       (/proc/PID/stat over the measured window), the lag from a result's
 *       probe time to the reply that took it (the controller ingests a batch
 *       before it replies), and the lag to its row in the controller's store
 *       (the store polled every STORE_POLL_MS: the first poll that sees the
 *       row's rowid).
 *   nodebench fill   puts N results into a node's spool file
 *       (src/store/spool.c) as a node cut off from its controller leaves
 *       them: the node's checks (from its assignments) in turn, probe times
 *       spread over the time they would have taken before now, and the
 *       assignments kept beside them, so the node restarted on that file
 *       goes on probing before the controller answers.
 *   nodebench watch  while a node replays its spool: the spool's depth (the
 *       file, read only, every SPOOL_POLL_MS) and the depth the node's
 *       heartbeats report (GET /api/v1/nodes, every second); then, from the
 *       controller's store, how late the results probed meanwhile arrived.
 *   nodebench rows   results in a store probed between two times, and their
 *       total_us (CPU per probe: bench/run.sh node).
 *   nodebench versions
 *
 * Prints figures and one RESULT line per measurement for bench/run.sh. A
 * benchmark, not a test: it never fails on a speed, only when the
 * controller refuses what a node would send.
 */
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchstat.h"
#include "core/result.h"
#include "store/spool.h"
#include "wire/node_json.h"
#include "wire/result_json.h"

#ifndef MAILPULSE_VERSION
#define MAILPULSE_VERSION "unknown"
#endif

/* As src/node/node.c: a batch stays this far under NODE_BODY_MAX. */
#define BATCH_SLACK 4096
/* As src/node/node.h: a heartbeat every 10 s (times the time scale there). */
#define HEARTBEAT_MS       10000
#define REQUEST_TIMEOUT_MS 15000
#define REPLY_MAX          (64 * 1024)
#define STORE_POLL_MS      50
#define SPOOL_POLL_MS      100
#define NODES_MAX          64

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("nodebench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Time pid's main thread (the loop) spent runnable but waiting for a CPU,
 * in ms (/proc/PID/schedstat, second field): on a shared machine, what
 * other processes took from it. -1 when unknown.
 */
static double proc_wait_ms(long pid)
{
	char path[64];
	unsigned long long run = 0, wait = 0;
	FILE *f;
	int n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? (double)wait / 1e6 : -1;
}

/* VmRSS of pid in kB; 0 when unknown. */
static long proc_rss_kb(long pid)
{
	char path[64], line[256];
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		die("%s: %s", path, strerror(errno));
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (!(b = realloc(b, cap)))
				die("out of memory");
		}
		size_t got = fread(b + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	b[n] = '\0';
	*len = n;
	return b;
}

/* The token file's first line. */
static void read_token(const char *path, char *out, size_t outlen)
{
	size_t len;
	char *t = slurp(path, &len);

	t[strcspn(t, "\r\n")] = '\0';
	if (!*t || strlen(t) >= outlen)
		die("%s: no token, or too long", path);
	snprintf(out, outlen, "%s", t);
	OPENSSL_cleanse(t, len);
	free(t);
}

/* p50, p99, max of s (nearest rank, benchstat.h; sorts it); zeros when empty. */
static void pcts(struct samples *s, double *p50, double *p99, double *max)
{
	struct pcts p = samples_pcts(s);

	*p50 = p.p50;
	*p99 = p.p99;
	*max = p.max;
}

/* ---- HTTP, blocking (outside the measured loop) --------------------------- */

struct body {
	char *b;
	size_t n, cap, max;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
	struct body *b = arg;
	size_t n = sz * nm;

	if (b->n + n + 1 > b->max)
		return 0; /* over the bound: the transfer fails */
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		if (!(b->b = realloc(b->b, cap)))
			return 0;
		b->cap = cap;
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
	b->b[b->n] = '\0';
	return n;
}

static long http_get(const char *url, const char *token, const char *ca, struct body *out)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	char auth[400];
	long status = 0;
	CURLcode rc;

	if (!e)
		die("curl_easy_init");
	out->n = 0;
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
		OPENSSL_cleanse(auth, sizeof(auth));
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
	if (ca)
		curl_easy_setopt(e, CURLOPT_CAINFO, ca);
	rc = curl_easy_perform(e);
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return rc == CURLE_OK ? status : -1;
}

/* ---- a node's checks, from its assignments ---------------------------------- */

struct achk {
	char name[RESULT_META_NAME_MAX];
	char digest[65];
	char url[TARGET_URL_MAX];
};

struct assigned {
	struct achk *c;
	size_t n;
	unsigned interval_ms; /* the first check's; every check of a bench has the same */
	char etag[NODE_ID_MAX];
	char *doc; /* the document as sent */
	size_t doclen;
};

static void fetch_assignments(const char *base, const char *node, const char *token, const char *ca,
                              struct assigned *a)
{
	char url[1024];
	struct body b = {.max = NODE_ASSIGN_MAX + 1};
	json_t *doc, *checks, *c;
	json_error_t je;
	size_t i;
	long st;

	snprintf(url, sizeof(url), "%s/api/v1/nodes/%s/assignments", base, node);
	if ((st = http_get(url, token, ca, &b)) != 200)
		die("GET %s: status %ld%s%.200s", url, st, b.n ? ": " : "", b.n ? b.b : "");
	if (!(doc = json_loadb(b.b, b.n, 0, &je)))
		die("%s: assignments: %s", node, je.text);
	checks = json_object_get(doc, "checks");
	if (!json_is_array(checks) || json_array_size(checks) == 0)
		die("%s: no checks assigned", node);
	memset(a, 0, sizeof(*a));
	snprintf(a->etag, sizeof(a->etag), "%s", json_string_value(json_object_get(doc, "etag")));
	a->n = json_array_size(checks);
	if (!(a->c = calloc(a->n, sizeof(*a->c))))
		die("out of memory");
	json_array_foreach(checks, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *dg = json_string_value(json_object_get(c, "digest"));
		const char *u =
		    json_string_value(json_object_get(json_object_get(c, "spec"), "url"));

		if (!name || !dg || !u)
			die("%s: checks[%zu]: name, digest or spec.url missing", node, i);
		snprintf(a->c[i].name, sizeof(a->c[i].name), "%s", name);
		snprintf(a->c[i].digest, sizeof(a->c[i].digest), "%s", dg);
		snprintf(a->c[i].url, sizeof(a->c[i].url), "%s", u);
		if (i == 0)
			a->interval_ms =
			    (unsigned)json_integer_value(json_object_get(c, "interval_ms"));
	}
	json_decref(doc);
	a->doc = b.b;
	a->doclen = b.n;
}

/* The template: one real result, decoded by the strict decoder the controller uses. */
static struct result *load_template(const char *path)
{
	struct result *r = calloc(1, sizeof(*r));
	struct result_meta m;
	char err[512];
	size_t len;
	char *t = slurp(path, &len);

	if (!r)
		die("out of memory");
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r'))
		len--;
	if (result_json_decode(t, len, r, &m, err, sizeof(err)) != 0)
		die("%s: not a result: %s", path, err);
	free(t);
	return r;
}

/* One result as the node spools it: the template with this check's meta and probe time. */
static char *encode_result(struct result *r, const char *node, const struct achk *c, uint64_t seq,
                           int64_t probe_ms)
{
	struct result_meta m;
	char *text;

	memset(&m, 0, sizeof(m));
	snprintf(m.target, sizeof(m.target), "%s", c->url);
	snprintf(m.check, sizeof(m.check), "%s", c->name);
	snprintf(m.location, sizeof(m.location), "%s", node);
	snprintf(m.digest, sizeof(m.digest), "%s", c->digest);
	m.seq = seq;
	r->probe_ms = probe_ms;
	if (!(text = result_json_dumps(r, &m)))
		die("out of memory encoding a result");
	return text;
}

/* ---- the controller's store, read only ------------------------------------ */

struct poll {
	int64_t at_ms;
	long long maxrow;
};

struct storewatch {
	sqlite3 *db;
	sqlite3_stmt *max;
	struct poll *p;
	size_t n, cap;
	long long base;
	int64_t next_ms;
};

static void store_open(struct storewatch *w, const char *path)
{
	memset(w, 0, sizeof(*w));
	if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("%s: %s", path, sqlite3_errmsg(w->db));
	sqlite3_busy_timeout(w->db, 200);
	if (sqlite3_prepare_v2(w->db, "SELECT coalesce(max(rowid), 0) FROM results", -1, &w->max,
	                       NULL) != SQLITE_OK)
		die("%s: %s", path, sqlite3_errmsg(w->db));
}

static long long store_max(struct storewatch *w)
{
	long long v = -1;

	if (sqlite3_step(w->max) == SQLITE_ROW)
		v = sqlite3_column_int64(w->max, 0);
	sqlite3_reset(w->max);
	return v;
}

static void store_poll(struct storewatch *w, int64_t now)
{
	long long v;

	if (!w->db || now < w->next_ms)
		return;
	w->next_ms = now + STORE_POLL_MS;
	if ((v = store_max(w)) < 0)
		return; /* busy: the next poll */
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 4096;
		if (!(w->p = realloc(w->p, w->cap * sizeof(*w->p))))
			die("out of memory");
	}
	w->p[w->n].at_ms = mp_wall_ms();
	w->p[w->n].maxrow = v;
	w->n++;
}

/* When the store first showed rowid: the first poll whose max reached it; -1 never. */
static int64_t store_seen(const struct storewatch *w, long long rowid)
{
	size_t lo = 0, hi = w->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (w->p[mid].maxrow >= rowid)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < w->n ? w->p[lo].at_ms : -1;
}

/* The controller's /api/v1/health figures of its store's flushes, as "last/max ms". */
static void health_flush(const char *base, const char *ca, char *out, size_t outlen)
{
	char url[1024];
	struct body b = {.max = 1024 * 1024};
	json_t *doc;

	snprintf(out, outlen, "?");
	snprintf(url, sizeof(url), "%s/api/v1/health", base);
	if (http_get(url, NULL, ca, &b) == 200 && (doc = json_loadb(b.b, b.n, 0, NULL))) {
		snprintf(out, outlen, "%.1f/%.1f",
		         json_number_value(json_object_get(doc, "store_flush_last_ms")),
		         json_number_value(json_object_get(doc, "store_flush_max_ms")));
		json_decref(doc);
	}
	free(b.b);
}

/* ---- load: NODES nodes to one controller ----------------------------------- */

struct pend {
	int64_t probe_ms;
	char *text;
	size_t len;
	uint64_t seq;
};

enum { K_PUSH, K_BEAT };

struct lnode;
struct xfer {
	struct lnode *nd;
	int kind;
	CURL *e;
	struct curl_slist *h;
	char *req;
	size_t reqlen;
	struct body rep;
	int64_t sent_us;
	int busy;
	size_t count; /* a push: results in it, from the head of the queue */
};

struct lnode {
	char name[RESULT_META_NAME_MAX];
	char token[256];
	struct assigned a;
	int64_t step_us, offset_us; /* result k is due at t0 + offset + k * step */
	uint64_t k, seq;
	struct pend *q;
	size_t qhead, qlen, qcap, qmax;
	struct xfer push, beat;
	int64_t next_push_ms, next_beat_ms;
	int64_t started_ms;
};

struct load {
	const char *url, *ca, *store, *label;
	int nodes;
	long ctl_pid;
	int warmup_s, duration_s, tick_ms;
	struct result *tmpl;
	struct lnode *nd;
	CURLM *multi;
	int64_t t0_us, w0_ms, w1_ms;
	/* what the window saw */
	struct samples lag_reply, svc, lag_store;
	unsigned long long offered, ingested, batches, accepted, late, dup, refused, failures;
	unsigned long long ingested_all;
	char first_error[400];
	int tls;
	FILE *trace; /* --trace: one line per request */
};

static void q_push(struct lnode *n, struct pend p)
{
	if (n->qhead + n->qlen == n->qcap) {
		if (n->qhead > n->qcap / 2) {
			memmove(n->q, n->q + n->qhead, n->qlen * sizeof(*n->q));
			n->qhead = 0;
		} else {
			n->qcap = n->qcap ? n->qcap * 2 : 4096;
			if (!(n->q = realloc(n->q, n->qcap * sizeof(*n->q))))
				die("out of memory");
		}
	}
	n->q[n->qhead + n->qlen++] = p;
	if (n->qlen > n->qmax)
		n->qmax = n->qlen;
}

static void xfer_init(struct load *L, struct lnode *n, struct xfer *x, int kind)
{
	char auth[400];
	char url[1024];

	x->nd = n;
	x->kind = kind;
	x->rep.max = REPLY_MAX;
	if (!(x->e = curl_easy_init()))
		die("curl_easy_init");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", n->token);
	x->h = curl_slist_append(NULL, auth);
	OPENSSL_cleanse(auth, sizeof(auth));
	x->h = curl_slist_append(x->h, "Content-Type: application/json");
	snprintf(url, sizeof(url), "%s/api/v1/nodes/%s/%s", L->url, n->name,
	         kind == K_PUSH ? "results" : "heartbeat");
	/* What src/node/node.c sets, so the controller sees what a node sends. */
	curl_easy_setopt(x->e, CURLOPT_URL, url);
	curl_easy_setopt(x->e, CURLOPT_USERAGENT, "mailpulse-probe/" MAILPULSE_VERSION);
	curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->h);
	curl_easy_setopt(x->e, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	curl_easy_setopt(x->e, CURLOPT_CONNECTTIMEOUT_MS, (long)REQUEST_TIMEOUT_MS / 3);
	curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->e, CURLOPT_WRITEDATA, &x->rep);
	curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
	if (L->ca)
		curl_easy_setopt(x->e, CURLOPT_CAINFO, L->ca);
}

static void xfer_send(struct load *L, struct xfer *x, char *body, size_t len)
{
	free(x->req);
	x->req = body;
	x->reqlen = len;
	x->rep.n = 0;
	curl_easy_setopt(x->e, CURLOPT_POSTFIELDS, x->req);
	curl_easy_setopt(x->e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	x->sent_us = wall_us();
	x->busy = 1;
	if (curl_multi_add_handle(L->multi, x->e) != CURLM_OK)
		die("curl_multi_add_handle");
}

/* The results due by now, encoded into each node's queue. */
static void generate(struct load *L, int64_t now_us)
{
	for (int j = 0; j < L->nodes; j++) {
		struct lnode *n = &L->nd[j];

		for (;;) {
			int64_t due_us = L->t0_us + n->offset_us + (int64_t)n->k * n->step_us;
			const struct achk *c = &n->a.c[n->k % n->a.n];
			struct pend p;

			if (due_us > now_us)
				break;
			p.probe_ms = due_us / 1000;
			p.seq = ++n->seq;
			p.text = encode_result(L->tmpl, n->name, c, p.seq, p.probe_ms);
			p.len = strlen(p.text);
			q_push(n, p);
			n->k++;
			if (p.probe_ms >= L->w0_ms && p.probe_ms < L->w1_ms)
				L->offered++;
		}
	}
}

static void push(struct load *L, struct lnode *n)
{
	struct node_batch_out *b;
	size_t cnt = 0, bytes = 0, len;
	char id[NODE_ID_MAX];
	char *body;

	while (cnt < n->qlen && cnt < NODE_BATCH_MAX) {
		const struct pend *p = &n->q[n->qhead + cnt];
		if (cnt && bytes + p->len + 1 > NODE_BODY_MAX - BATCH_SLACK)
			break;
		bytes += p->len + 1;
		cnt++;
	}
	snprintf(id, sizeof(id), "%llu-%llu", (unsigned long long)n->q[n->qhead].seq,
	         (unsigned long long)n->q[n->qhead + cnt - 1].seq);
	if (!(b = node_batch_open(n->name, id, mp_wall_ms(), n->q[n->qhead].seq)))
		die("out of memory");
	for (size_t i = 0; i < cnt; i++)
		if (node_batch_add(b, n->q[n->qhead + i].text, n->q[n->qhead + i].len) != 0)
			die("out of memory");
	if (!(body = node_batch_close(b, &len)))
		die("out of memory");
	n->push.count = cnt;
	xfer_send(L, &n->push, body, len);
}

static void beat(struct load *L, struct lnode *n)
{
	struct node_heartbeat *hb = calloc(1, sizeof(*hb));
	char *body;

	if (!hb)
		die("out of memory");
	snprintf(hb->node, sizeof(hb->node), "%s", n->name);
	snprintf(hb->version, sizeof(hb->version), "%s", MAILPULSE_VERSION);
	hb->started_ms = n->started_ms;
	hb->sent_ms = mp_wall_ms();
	snprintf(hb->etag, sizeof(hb->etag), "%s", n->a.etag);
	hb->checks = (unsigned)n->a.n;
	hb->spool_depth = n->qlen;
	hb->spool_max = 100000;
	hb->spool_oldest_ms = n->qlen ? n->q[n->qhead].probe_ms : 0;
	snprintf(hb->canaries[0].target, sizeof(hb->canaries[0].target), "controller");
	hb->canaries[0].status = MP_UP;
	hb->canaries[0].reason = MP_R_OK;
	snprintf(hb->canaries[0].message, sizeof(hb->canaries[0].message),
	         "the controller answers");
	hb->canaries[0].probe_ms = mp_wall_ms();
	hb->ncanaries = 1;
	if (!(body = node_heartbeat_encode(hb)))
		die("out of memory");
	free(hb);
	xfer_send(L, &n->beat, body, strlen(body));
}

static void note_error(struct load *L, const char *what)
{
	L->failures++;
	if (!L->first_error[0])
		snprintf(L->first_error, sizeof(L->first_error), "%s", what);
}

static void on_done(struct load *L, CURL *e, CURLcode rc)
{
	struct xfer *x = NULL;
	struct lnode *n;
	long status = 0;
	int64_t now_ms = mp_wall_ms();
	char why[400];

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	curl_multi_remove_handle(L->multi, e);
	x->busy = 0;
	n = x->nd;
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200) {
		snprintf(why, sizeof(why), "%s %s: %s %ld %.200s", n->name,
		         x->kind == K_PUSH ? "results" : "heartbeat",
		         rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP", status,
		         x->rep.n ? x->rep.b : "");
		note_error(L, why);
		return; /* a push: the same results go again at the next tick */
	}
	if (x->kind == K_BEAT)
		return;

	struct node_batch_reply *rep = calloc(1, sizeof(*rep));
	char err[300];

	if (!rep)
		die("out of memory");
	if (node_batch_reply_decode(x->rep.b, x->rep.n, rep, err, sizeof(err)) != 0)
		die("%s: batch reply: %s", n->name, err);
	if (rep->accepted + rep->duplicates + rep->nrefused != x->count &&
	    rep->nrefused < NODE_REFUSED_MAX)
		die("%s: batch of %zu: accepted %u, duplicates %u, refused %u", n->name, x->count,
		    rep->accepted, rep->duplicates, rep->nrefused);
	if (rep->nrefused) {
		snprintf(why, sizeof(why), "%s: refused %u, the first: %s: %s", n->name,
		         rep->nrefused, rep->refused[0].check, rep->refused[0].error);
		note_error(L, why);
	}
	L->ingested_all += x->count;
	if (now_ms >= L->w0_ms && now_ms < L->w1_ms) {
		L->ingested += x->count;
		L->batches++;
		L->accepted += rep->accepted;
		L->late += rep->late;
		L->dup += rep->duplicates;
		L->refused += rep->nrefused;
		samples_add(&L->svc, (double)(wall_us() - x->sent_us) / 1000.0);
	}
	if (L->trace)
		fprintf(L->trace, "%.1f %s %zu %.2f\n", (double)(x->sent_us - L->t0_us) / 1000.0,
		        n->name, x->count, (double)(wall_us() - x->sent_us) / 1000.0);
	for (size_t i = 0; i < x->count; i++) {
		struct pend *p = &n->q[n->qhead + i];

		if (p->probe_ms >= L->w0_ms && p->probe_ms < L->w1_ms)
			samples_add(&L->lag_reply, (double)(now_ms - p->probe_ms));
		free(p->text);
	}
	n->qhead += x->count;
	n->qlen -= x->count;
	if (n->qlen == 0)
		n->qhead = 0;
	free(rep);
}

static void drive(struct load *L, int generating)
{
	CURLMsg *m;
	int running, left;
	int64_t now = mp_wall_ms();

	if (generating)
		generate(L, wall_us());
	for (int j = 0; j < L->nodes; j++) {
		struct lnode *n = &L->nd[j];

		/* Each node's own tick, on its own phase, as each node's timer is its own. */
		if (now >= n->next_push_ms) {
			while (n->next_push_ms <= now)
				n->next_push_ms += L->tick_ms;
			if (!n->push.busy && n->qlen)
				push(L, n);
		}
		if (generating && now >= n->next_beat_ms) {
			n->next_beat_ms = now + HEARTBEAT_MS;
			if (!n->beat.busy)
				beat(L, n);
		}
	}
	curl_multi_perform(L->multi, &running);
	while ((m = curl_multi_info_read(L->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			on_done(L, m->easy_handle, m->data.result);
	curl_multi_poll(L->multi, NULL, 0, 2, NULL);
}

static int busy(const struct load *L)
{
	for (int j = 0; j < L->nodes; j++)
		if (L->nd[j].qlen || L->nd[j].push.busy || L->nd[j].beat.busy)
			return 1;
	return 0;
}

static int cmd_load(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"tokens", required_argument, NULL, 't'},
	    {"nodes", required_argument, NULL, 'n'},
	    {"template", required_argument, NULL, 'T'},
	    {"ca", required_argument, NULL, 'c'},
	    {"warmup-s", required_argument, NULL, 'w'},
	    {"duration-s", required_argument, NULL, 'd'},
	    {"ctl-pid", required_argument, NULL, 'p'},
	    {"store", required_argument, NULL, 's'},
	    {"label", required_argument, NULL, 'l'},
	    {"tick-ms", required_argument, NULL, 'k'},
	    {"trace", required_argument, NULL, 'x'},
	    {NULL, 0, NULL, 0},
	};
	struct load L;
	const char *tokens = NULL, *tmpl = NULL;
	struct storewatch sw;
	double c0 = -1, c1 = -1, g0 = 0, g1 = 0, q0 = -1, q1 = -1, s0 = 0, s1 = 0;
	char flush[64] = "?";
	unsigned long long checks = 0;
	double pull_ms = 0, pull_max_ms = 0, pull_bytes = 0;
	int c;

	memset(&L, 0, sizeof(L));
	memset(&sw, 0, sizeof(sw));
	L.nodes = 10;
	L.warmup_s = 10;
	L.duration_s = 60;
	L.tick_ms = 100;
	L.label = "-";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			L.url = optarg;
			break;
		case 't':
			tokens = optarg;
			break;
		case 'n':
			L.nodes = atoi(optarg);
			break;
		case 'T':
			tmpl = optarg;
			break;
		case 'c':
			L.ca = optarg;
			break;
		case 'w':
			L.warmup_s = atoi(optarg);
			break;
		case 'd':
			L.duration_s = atoi(optarg);
			break;
		case 'p':
			L.ctl_pid = atol(optarg);
			break;
		case 's':
			L.store = optarg;
			break;
		case 'l':
			L.label = optarg;
			break;
		case 'k':
			L.tick_ms = atoi(optarg);
			break;
		case 'x':
			if (!(L.trace = fopen(optarg, "w")))
				die("%s: %s", optarg, strerror(errno));
			break;
		default:
			return 2;
		}
	}
	if (!L.url || !tokens || !tmpl || L.nodes < 1 || L.nodes > NODES_MAX || L.duration_s < 1 ||
	    L.warmup_s < 0 || L.tick_ms < 1)
		die("load: --url, --tokens and --template are needed; 1..%d nodes", NODES_MAX);
	L.tls = strncmp(L.url, "https:", 6) == 0;
	L.tmpl = load_template(tmpl);
	if (!(L.nd = calloc((size_t)L.nodes, sizeof(*L.nd))) || !(L.multi = curl_multi_init()))
		die("out of memory");

	/* Each node's assignments, as a node pulls them first (not timed). */
	for (int j = 0; j < L.nodes; j++) {
		struct lnode *n = &L.nd[j];
		char path[4096];

		snprintf(n->name, sizeof(n->name), "n%02d", j);
		snprintf(path, sizeof(path), "%s/%s.token", tokens, n->name);
		read_token(path, n->token, sizeof(n->token));
		int64_t p0 = wall_us();
		fetch_assignments(L.url, n->name, n->token, L.ca, &n->a);
		double p = (double)(wall_us() - p0) / 1000.0;
		pull_ms += p;
		pull_max_ms = p > pull_max_ms ? p : pull_max_ms;
		pull_bytes += (double)n->a.doclen;
		checks += n->a.n;
		if (!n->a.interval_ms)
			die("%s: no interval", n->name);
		n->step_us = (int64_t)n->a.interval_ms * 1000 / (int64_t)n->a.n;
		n->offset_us = n->step_us * j / L.nodes;
		xfer_init(&L, n, &n->push, K_PUSH);
		xfer_init(&L, n, &n->beat, K_BEAT);
		n->started_ms = mp_wall_ms();
		n->next_push_ms = n->started_ms + L.tick_ms * j / L.nodes;
		n->next_beat_ms = n->started_ms;
	}
	fprintf(stderr,
	        "nodebench: %d nodes, %llu assigned checks, interval %u ms: %.0f results/s\n",
	        L.nodes, checks, L.nd[0].a.interval_ms,
	        (double)checks * 1000.0 / L.nd[0].a.interval_ms);
	if (L.store) {
		store_open(&sw, L.store);
		sw.base = store_max(&sw);
	}

	L.t0_us = wall_us();
	L.w0_ms = L.t0_us / 1000 + (int64_t)L.warmup_s * 1000;
	L.w1_ms = L.w0_ms + (int64_t)L.duration_s * 1000;
	for (;;) {
		int64_t now = mp_wall_ms();

		if (c0 < 0 && now >= L.w0_ms) {
			c0 = bench_proc_cpu_ms(L.ctl_pid);
			q0 = proc_wait_ms(L.ctl_pid);
			s0 = proc_wait_ms((long)getpid());
			g0 = bench_self_cpu_ms();
		}
		if (now >= L.w1_ms) {
			c1 = bench_proc_cpu_ms(L.ctl_pid);
			q1 = proc_wait_ms(L.ctl_pid);
			s1 = proc_wait_ms((long)getpid());
			g1 = bench_self_cpu_ms();
			health_flush(L.url, L.ca, flush, sizeof(flush));
			break;
		}
		store_poll(&sw, now);
		drive(&L, 1);
	}
	/* What was made in the window goes out; the store gets its last flush. */
	{
		int64_t until = mp_wall_ms() + 20000, settle = 0;

		while (mp_wall_ms() < until) {
			int64_t now = mp_wall_ms();

			store_poll(&sw, now);
			if (!busy(&L)) {
				if (!settle)
					settle = now + (L.store ? 3000 : 0);
				if (now >= settle)
					break;
			}
			drive(&L, 0);
		}
	}

	/* Each stored row of the window: when the store first showed it. */
	if (sw.db) {
		sqlite3_stmt *st;
		long long missing = 0;

		if (sqlite3_prepare_v2(sw.db, "SELECT rowid, ts_ms FROM results WHERE rowid > ?1",
		                       -1, &st, NULL) != SQLITE_OK)
			die("store: %s", sqlite3_errmsg(sw.db));
		sqlite3_bind_int64(st, 1, sw.base);
		while (sqlite3_step(st) == SQLITE_ROW) {
			long long row = sqlite3_column_int64(st, 0);
			int64_t ts = sqlite3_column_int64(st, 1), seen;

			if (ts < L.w0_ms || ts >= L.w1_ms)
				continue;
			if ((seen = store_seen(&sw, row)) < 0)
				missing++;
			else
				samples_add(&L.lag_store, (double)(seen - ts));
		}
		sqlite3_finalize(st);
		if (missing)
			fprintf(stderr, "nodebench: %lld rows never seen by a poll\n", missing);
	}

	double win_s = (double)(L.w1_ms - L.w0_ms) / 1000.0;
	double cpu = c1 >= 0 && c0 >= 0 ? c1 - c0 : -1;
	double lr50, lr99, lrmax, ls50 = 0, ls99 = 0, lsmax = 0, sv50, sv99, svmax;
	size_t qmax = 0;

	for (int j = 0; j < L.nodes; j++)
		if (L.nd[j].qmax > qmax)
			qmax = L.nd[j].qmax;
	pcts(&L.lag_reply, &lr50, &lr99, &lrmax);
	pcts(&L.lag_store, &ls50, &ls99, &lsmax);
	pcts(&L.svc, &sv50, &sv99, &svmax);
	printf(
	    "ingest %s: %d nodes x %zu checks every %.0f s over %s, %.0f s measured after %d s\n",
	    L.label, L.nodes, L.nd[0].a.n, L.nd[0].a.interval_ms / 1000.0, L.tls ? "HTTPS" : "HTTP",
	    win_s, L.warmup_s);
	printf(
	    "  offered %.0f results/s, ingested %.0f/s (%llu in %llu batches, %.1f per batch); "
	    "accepted %llu, late %llu, duplicates %llu, refused %llu; failed requests %llu%s%s\n",
	    (double)L.offered / win_s, (double)L.ingested / win_s, L.ingested, L.batches,
	    L.batches ? (double)L.ingested / (double)L.batches : 0.0, L.accepted, L.late, L.dup,
	    L.refused, L.failures, L.first_error[0] ? ": first: " : "", L.first_error);
	printf(
	    "  controller CPU %.0f ms = %.1f %% of a core; %.4f ms (%.1f us) per ingested result; "
	    "RSS %ld MB; its loop waited %.0f ms for a CPU (%.1f %% of the window)\n",
	    cpu, cpu / win_s / 10.0, L.ingested ? cpu / (double)L.ingested : 0.0,
	    L.ingested ? cpu * 1000.0 / (double)L.ingested : 0.0, proc_rss_kb(L.ctl_pid) / 1024,
	    q1 - q0, (q1 - q0) / win_s / 10.0);
	printf("  lag probe -> batch reply p50/p99/max %.0f/%.0f/%.0f ms (%zu results); request "
	       "p50/p99/max %.1f/%.1f/%.1f ms; most results waiting at one node %zu\n",
	       lr50, lr99, lrmax, L.lag_reply.n, sv50, sv99, svmax, qmax);
	if (sw.db)
		printf("  lag probe -> row in the store p50/p99/max %.0f/%.0f/%.0f ms (%zu rows, "
		       "polled "
		       "every %d ms)\n",
		       ls50, ls99, lsmax, L.lag_store.n, STORE_POLL_MS);
	printf("  before: each node pulled its assignments once: %.1f MB, %.0f ms each on average "
	       "(max %.0f ms), one after the other\n",
	       pull_bytes / L.nodes / 1e6, pull_ms / L.nodes, pull_max_ms);
	printf("  store flush last/max %s ms (/api/v1/health); load generator CPU %.1f %% of a "
	       "core, waited %.0f ms for a CPU\n",
	       flush, (g1 - g0) / win_s / 10.0, s1 - s0);
	printf(
	    "RESULT bench=nodes-ingest label=%s tls=%d nodes=%d checks=%zu interval_s=%.0f "
	    "window_s=%.0f offered_rate=%.0f ingest_rate=%.0f ingested=%llu batches=%llu "
	    "accepted=%llu late=%llu dup=%llu refused=%llu failures=%llu ctl_cpu_ms=%.0f "
	    "ctl_cpu_pct=%.1f cpu_per_result_ms=%.4f lag_reply_p50_ms=%.0f lag_reply_p99_ms=%.0f "
	    "lag_reply_max_ms=%.0f lag_store_p50_ms=%.0f lag_store_p99_ms=%.0f "
	    "lag_store_max_ms=%.0f req_p50_ms=%.1f req_p99_ms=%.1f queue_max=%zu gen_cpu_pct=%.1f "
	    "ctl_rss_mb=%ld flush_ms=%s ctl_wait_ms=%.0f gen_wait_ms=%.0f pull_mb=%.1f "
	    "pull_ms=%.0f\n",
	    L.label, L.tls, L.nodes, L.nd[0].a.n, L.nd[0].a.interval_ms / 1000.0, win_s,
	    (double)L.offered / win_s, (double)L.ingested / win_s, L.ingested, L.batches,
	    L.accepted, L.late, L.dup, L.refused, L.failures, cpu, cpu / win_s / 10.0,
	    L.ingested ? cpu / (double)L.ingested : 0.0, lr50, lr99, lrmax, ls50, ls99, lsmax, sv50,
	    sv99, qmax, (g1 - g0) / win_s / 10.0, proc_rss_kb(L.ctl_pid) / 1024, flush, q1 - q0,
	    s1 - s0, pull_bytes / L.nodes / 1e6, pull_ms / L.nodes);
	return L.refused || L.ingested == 0 ? 1 : 0;
}

/* ---- fill: a node's spool, as a long cut-off leaves it ------------------------ */

static int cmd_fill(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"token", required_argument, NULL, 't'},
	    {"node", required_argument, NULL, 'N'},
	    {"template", required_argument, NULL, 'T'},
	    {"spool", required_argument, NULL, 's'},
	    {"n", required_argument, NULL, 'n'},
	    {"max", required_argument, NULL, 'm'},
	    {"ca", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	const char *url = NULL, *tokfile = NULL, *node = NULL, *tmpl = NULL, *path = NULL,
	           *ca = NULL;
	long n = 100000, max = 200000;
	char token[256], err[512];
	struct assigned a;
	struct result *r;
	struct spool *s;
	int64_t t0, now, step_us;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 't':
			tokfile = optarg;
			break;
		case 'N':
			node = optarg;
			break;
		case 'T':
			tmpl = optarg;
			break;
		case 's':
			path = optarg;
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 'm':
			max = atol(optarg);
			break;
		case 'c':
			ca = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!url || !tokfile || !node || !tmpl || !path || n < 1 || max < n)
		die("fill: --url, --token, --node, --template and --spool are needed; --max >= "
		    "--n");
	read_token(tokfile, token, sizeof(token));
	fetch_assignments(url, node, token, ca, &a);
	r = load_template(tmpl);
	if (!(s = spool_open(path, (uint64_t)max, err, sizeof(err))))
		die("%s", err);
	if (spool_keep_assignments(s, a.doc, a.doclen, err, sizeof(err)) != 0)
		die("%s", err);
	/* The node's checks in turn, one interval per round, ending now. */
	step_us = (int64_t)a.interval_ms * 1000 / (int64_t)a.n;
	now = wall_us();
	t0 = mp_wall_ms();
	for (long i = 0; i < n; i++) {
		uint64_t id = spool_next_id(s);
		int64_t probe_ms = (now - (int64_t)(n - i) * step_us) / 1000;
		char *text = encode_result(r, node, &a.c[(size_t)i % a.n], id, probe_ms);

		if (spool_add(s, id, probe_ms, text, strlen(text)) != 0)
			die("spool_add: out of memory");
		free(text);
		if ((i + 1) % 1000 == 0 && spool_flush(s, err, sizeof(err)) != 0)
			die("%s", err);
	}
	if (spool_flush(s, err, sizeof(err)) != 0)
		die("%s", err);
	printf("fill: %ld results of %zu checks (node %s, ids 1..%llu, probe times over the last "
	       "%.0f min) in %.1f s; spool depth %llu\n",
	       n, a.n, node, (unsigned long long)(spool_next_id(s) - 1),
	       (double)n * (double)step_us / 60e6, (double)(mp_wall_ms() - t0) / 1000.0,
	       (unsigned long long)spool_depth(s));
	spool_close(s);
	return 0;
}

/* ---- watch: a node replaying its spool ----------------------------------------- */

/* The spool file's oldest and newest ids (0, 0: empty); -1 when busy. */
static int spool_ids(sqlite3_stmt *st, long long *lo, long long *hi)
{
	int rc = -1;

	if (sqlite3_step(st) == SQLITE_ROW) {
		*lo = sqlite3_column_int64(st, 0);
		*hi = sqlite3_column_int64(st, 1);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

/* What the controller says of a node (GET /api/v1/nodes): its heartbeat's spool depth and its
 * counts. */
struct nodeview {
	long long depth; /* -1 unknown */
	long long accepted, late, duplicate, refused;
};

static void node_view(const char *base, const char *ca, const char *node, struct nodeview *v)
{
	char url[1024];
	struct body b = {.max = 4 * 1024 * 1024};
	json_t *doc, *nodes, *o;
	size_t i;

	memset(v, 0, sizeof(*v));
	v->depth = -1;
	snprintf(url, sizeof(url), "%s/api/v1/nodes", base);
	if (http_get(url, NULL, ca, &b) != 200 || !(doc = json_loadb(b.b, b.n, 0, NULL))) {
		free(b.b);
		return;
	}
	nodes = json_object_get(doc, "nodes");
	json_array_foreach(nodes, i, o)
	{
		const char *nm = json_string_value(json_object_get(o, "name"));
		json_t *dp = json_object_get(json_object_get(o, "spool"), "depth");
		json_t *r = json_object_get(o, "results");

		if (!nm || strcmp(nm, node) != 0)
			continue;
		if (json_is_integer(dp))
			v->depth = json_integer_value(dp);
		v->accepted = json_integer_value(json_object_get(r, "accepted"));
		v->late = json_integer_value(json_object_get(r, "late"));
		v->duplicate = json_integer_value(json_object_get(r, "duplicate"));
		v->refused = json_integer_value(json_object_get(r, "refused"));
	}
	json_decref(doc);
	free(b.b);
}

static int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"store", required_argument, NULL, 's'},     {"spool", required_argument, NULL, 'S'},
	    {"node", required_argument, NULL, 'N'},      {"url", required_argument, NULL, 'u'},
	    {"ca", required_argument, NULL, 'c'},        {"since-ms", required_argument, NULL, 'f'},
	    {"ready-ms", required_argument, NULL, 'r'},  {"backlog", required_argument, NULL, 'b'},
	    {"timeout-s", required_argument, NULL, 'T'}, {"settle-s", required_argument, NULL, 'e'},
	    {"node-pid", required_argument, NULL, 'P'},  {"ctl-pid", required_argument, NULL, 'p'},
	    {"label", required_argument, NULL, 'l'},     {NULL, 0, NULL, 0},
	};
	const char *store = NULL, *spool = NULL, *node = NULL, *url = NULL, *ca = NULL,
	           *label = "-";
	int64_t since = 0, ready = 0, first_ack = 0, acked = 0, hb_empty = 0, end;
	long long backlog = 0, lo, hi, lo0 = 0, hi0 = 0;
	int timeout_s = 180, settle_s = 10, c;
	long node_pid = 0, ctl_pid = 0;
	double n0, c0, n1 = -1, c1 = -1, nw0, cw0, nw1 = -1, cw1 = -1;
	struct storewatch sw;
	sqlite3 *sp;
	sqlite3_stmt *ids;
	int64_t next_spool = 0, next_hb = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			store = optarg;
			break;
		case 'S':
			spool = optarg;
			break;
		case 'N':
			node = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'f':
			since = atoll(optarg);
			break;
		case 'r':
			ready = atoll(optarg);
			break;
		case 'b':
			backlog = atoll(optarg);
			break;
		case 'T':
			timeout_s = atoi(optarg);
			break;
		case 'e':
			settle_s = atoi(optarg);
			break;
		case 'P':
			node_pid = atol(optarg);
			break;
		case 'p':
			ctl_pid = atol(optarg);
			break;
		case 'l':
			label = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!store || !spool || !node || !url || !ready || backlog < 1)
		die("watch: --store, --spool, --node, --url, --ready-ms and --backlog are needed");
	store_open(&sw, store);
	sw.base = store_max(&sw);
	if (sqlite3_open_v2(spool, &sp, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(sp, "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM spool",
	                       -1, &ids, NULL) != SQLITE_OK)
		die("%s: %s", spool, sqlite3_errmsg(sp));
	sqlite3_busy_timeout(sp, 50);
	/*
	 * The backlog's ids: a spool's ids start at the clock in microseconds,
	 * and what the node adds from now on (its live lane) is above them.
	 */
	if (spool_ids(ids, &lo0, &hi0) != 0 || lo0 == 0)
		die("%s: no backlog to watch", spool);
	n0 = bench_proc_cpu_ms(node_pid);
	c0 = bench_proc_cpu_ms(ctl_pid);
	nw0 = proc_wait_ms(node_pid);
	cw0 = proc_wait_ms(ctl_pid);
	end = ready + (int64_t)timeout_s * 1000;
	for (;;) {
		int64_t now = mp_wall_ms();

		if (now >= end)
			break;
		store_poll(&sw, now);
		if (now >= next_spool) {
			next_spool = now + SPOOL_POLL_MS;
			if (spool_ids(ids, &lo, &hi) == 0) {
				if (!first_ack && (lo == 0 || lo > lo0))
					first_ack = now;
				/* Every spooled result of the backlog has been acknowledged. */
				if (!acked && (lo == 0 || lo > hi0)) {
					acked = now;
					n1 = bench_proc_cpu_ms(node_pid);
					c1 = bench_proc_cpu_ms(ctl_pid);
					nw1 = proc_wait_ms(node_pid);
					cw1 = proc_wait_ms(ctl_pid);
					end = now + (int64_t)settle_s * 1000;
				}
			}
		}
		if (now >= next_hb) {
			struct nodeview v;

			node_view(url, ca, node, &v);
			next_hb = now + 1000;
			if (acked && !hb_empty && v.depth >= 0 && v.depth < 100)
				hb_empty = mp_wall_ms();
		}
		usleep(10000);
	}
	/* One more second for the store's flush, then every row this node sent meanwhile. */
	for (int64_t until = mp_wall_ms() + 2500; mp_wall_ms() < until; usleep(20000))
		store_poll(&sw, mp_wall_ms());

	struct samples during = {0}, after = {0}, tot_during = {0}, tot_after = {0};
	struct samples ttg_during = {0}, ttg_after = {0}, before = {0};
	long long replayed = 0, live = 0, unseen = 0;
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(
	        sw.db,
	        "SELECT rowid, ts_ms, total_us, ttg_us FROM results WHERE rowid > ?1 "
	        "AND location = ?2",
	        -1, &st, NULL) != SQLITE_OK)
		die("store: %s", sqlite3_errmsg(sw.db));
	sqlite3_bind_int64(st, 1, sw.base);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long row = sqlite3_column_int64(st, 0);
		int64_t ts = sqlite3_column_int64(st, 1), seen = store_seen(&sw, row);
		double tot = sqlite3_column_double(st, 2) / 1000.0;
		double ttg = sqlite3_column_double(st, 3) / 1000.0;

		if (ts < since) {
			replayed++;
			continue;
		}
		live++;
		if (seen < 0) {
			unseen++;
			continue;
		}
		/*
		 * Probed while the backlog was being replayed, or after it. Those
		 * probed before the node's first batch went through waited for
		 * the controller to be found again (the node's backoff), not
		 * behind the backlog: counted apart.
		 */
		if (ts >= ready && ts < (first_ack ? first_ack : end)) {
			samples_add(&before, (double)(seen - ts));
		} else if (ts < (acked ? acked : end)) {
			if (ts >= ready) {
				samples_add(&during, (double)(seen - ts));
				samples_add(&tot_during, tot);
				samples_add(&ttg_during, ttg);
			}
		} else {
			samples_add(&after, (double)(seen - ts));
			samples_add(&tot_after, tot);
			samples_add(&ttg_after, ttg);
		}
	}
	sqlite3_finalize(st);

	double d50, d99, dmax, a50, a99, amax, t50, t99, tmax, u50, u99, umax;
	double g50, g99, gmax, h50, h99, hmax;
	struct nodeview nv;
	double span = acked ? (double)(acked - ready) / 1000.0 : -1;

	pcts(&during, &d50, &d99, &dmax);
	pcts(&after, &a50, &a99, &amax);
	pcts(&tot_during, &t50, &t99, &tmax);
	pcts(&tot_after, &u50, &u99, &umax);
	pcts(&ttg_during, &g50, &g99, &gmax);
	pcts(&ttg_after, &h50, &h99, &hmax);
	printf("replay %s: %lld spooled results; controller back at 0 s\n", label, backlog);
	printf("  first batch acknowledged at %.1f s, the whole backlog at %s%.1f s%s (spool file "
	       "polled every %d ms); the heartbeat reported a spool under 100 at %.1f s\n",
	       first_ack ? (double)(first_ack - ready) / 1000.0 : -1.0, acked ? "" : "NOT by ",
	       acked ? span : (double)timeout_s, acked ? "" : " (timeout)", SPOOL_POLL_MS,
	       hb_empty ? (double)(hb_empty - ready) / 1000.0 : -1.0);
	if (acked && first_ack)
		printf("  replay rate from the first acknowledgement: %.0f results/s\n",
		       (double)backlog / ((double)(acked - first_ack) / 1000.0));
	printf(
	    "  store: %lld rows from before the node started, %lld probed since (%lld never seen "
	    "by a poll)\n",
	    replayed, live, unseen);
	double b50, b99, bmax;

	pcts(&before, &b50, &b99, &bmax);
	{
		printf("  live results probed before the first batch went through: %zu, lag "
		       "p50/p99/max %.0f/%.0f/%.0f ms (the node's backoff while the controller was "
		       "away)\n",
		       before.n, b50, b99, bmax);
	}
	printf("  live results probed during the replay: %zu, lag probe -> row in the store "
	       "p50/p99/max %.0f/%.0f/%.0f ms; their total p50/p99/max %.1f/%.1f/%.1f ms, time to "
	       "greeting p50/p99/max %.2f/%.2f/%.2f ms\n",
	       during.n, d50, d99, dmax, t50, t99, tmax, g50, g99, gmax);
	printf("  live results probed after it (%d s): %zu, lag p50/p99/max %.0f/%.0f/%.0f ms; "
	       "total p50/p99/max %.1f/%.1f/%.1f ms, time to greeting p50/p99/max %.2f/%.2f/%.2f "
	       "ms\n",
	       settle_s, after.n, a50, a99, amax, u50, u99, umax, h50, h99, hmax);
	if (n1 >= 0 && span > 0)
		printf("  CPU during the replay: node %.0f ms (%.0f %%), controller %.0f ms (%.0f "
		       "%%); "
		       "their loops waited for a CPU %.0f and %.0f ms\n",
		       n1 - n0, (n1 - n0) / span / 10.0, c1 - c0, (c1 - c0) / span / 10.0,
		       nw1 - nw0, cw1 - cw0);
	node_view(url, ca, node, &nv);
	printf("  the controller's counts for %s: accepted %lld (late %lld), duplicates %lld, "
	       "refused %lld\n",
	       node, nv.accepted, nv.late, nv.duplicate, nv.refused);
	printf("RESULT bench=nodes-replay label=%s backlog=%lld first_ack_s=%.2f replay_s=%.2f "
	       "hb_empty_s=%.1f rate=%.0f live_during=%zu lag_during_p50_ms=%.0f "
	       "lag_during_p99_ms=%.0f lag_during_max_ms=%.0f live_after=%zu lag_after_p50_ms=%.0f "
	       "lag_after_p99_ms=%.0f total_during_p99_ms=%.1f total_after_p99_ms=%.1f "
	       "node_cpu_ms=%.0f ctl_cpu_ms=%.0f accepted=%lld late=%lld dup=%lld refused=%lld "
	       "stored_before=%lld ttg_during_p99_ms=%.2f ttg_after_p99_ms=%.2f node_wait_ms=%.0f "
	       "ctl_wait_ms=%.0f live_before=%zu lag_before_p99_ms=%.0f\n",
	       label, backlog, first_ack ? (double)(first_ack - ready) / 1000.0 : -1.0, span,
	       hb_empty ? (double)(hb_empty - ready) / 1000.0 : -1.0,
	       acked && first_ack ? (double)backlog / ((double)(acked - first_ack) / 1000.0) : 0.0,
	       during.n, d50, d99, dmax, after.n, a50, a99, t99, u99, n1 >= 0 ? n1 - n0 : -1.0,
	       c1 >= 0 ? c1 - c0 : -1.0, nv.accepted, nv.late, nv.duplicate, nv.refused, replayed,
	       g99, h99, nw1 - nw0, cw1 - cw0, before.n, b99);
	sqlite3_finalize(ids);
	sqlite3_close(sp);
	return acked ? 0 : 1;
}

/* ---- rows: results probed in a window ------------------------------------------ */

static int cmd_rows(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"store", required_argument, NULL, 's'},
	    {"from-ms", required_argument, NULL, 'f'},
	    {"to-ms", required_argument, NULL, 't'},
	    {"location", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	const char *store = NULL, *loc = NULL;
	long long from = 0, to = 0, n = 0, up = 0;
	struct samples tot = {0};
	double p50, p99, max;
	sqlite3 *db;
	sqlite3_stmt *st;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			store = optarg;
			break;
		case 'f':
			from = atoll(optarg);
			break;
		case 't':
			to = atoll(optarg);
			break;
		case 'l':
			loc = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!store || to <= from)
		die("rows: --store, --from-ms and --to-ms (after from) are needed");
	if (sqlite3_open_v2(store, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("%s: %s", store, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT status, total_us FROM results WHERE ts_ms >= ?1 AND ts_ms < ?2 "
	        "AND (?3 IS NULL OR location = ?3)",
	        -1, &st, NULL) != SQLITE_OK)
		die("%s: %s", store, sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	if (loc)
		sqlite3_bind_text(st, 3, loc, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	while (sqlite3_step(st) == SQLITE_ROW) {
		n++;
		up += sqlite3_column_int(st, 0) == MP_UP;
		samples_add(&tot, sqlite3_column_double(st, 1) / 1000.0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	pcts(&tot, &p50, &p99, &max);
	printf("rows=%lld up=%lld total_p50_ms=%.2f total_p99_ms=%.2f total_max_ms=%.2f\n", n, up,
	       p50, p99, max);
	return 0;
}

static int cmd_versions(void)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	printf("mailpulse=%s\nopenssl=%s\nlibevent=%s\nsqlite=%s\nlibcurl=%s (%s)\njansson=%s\n",
	       MAILPULSE_VERSION, OpenSSL_version(OPENSSL_VERSION), event_get_version(),
	       sqlite3_libversion(), cv->version, cv->ssl_version ? cv->ssl_version : "no TLS",
	       jansson_version_str());
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init");
	if (strcmp(cmd, "load") == 0)
		rc = cmd_load(argc - 1, argv + 1);
	else if (strcmp(cmd, "fill") == 0)
		rc = cmd_fill(argc - 1, argv + 1);
	else if (strcmp(cmd, "watch") == 0)
		rc = cmd_watch(argc - 1, argv + 1);
	else if (strcmp(cmd, "rows") == 0)
		rc = cmd_rows(argc - 1, argv + 1);
	else if (strcmp(cmd, "versions") == 0)
		rc = cmd_versions();
	else {
		fputs("usage: nodebench load|fill|watch|rows|versions [options] (see the top of "
		      "bench/nodebench.c)\n",
		      stderr);
		rc = 2;
	}
	curl_global_cleanup();
	return rc;
}
