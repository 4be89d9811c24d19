/* SPDX-License-Identifier: ISC */
/*
 * nodes.c - the endpoints a probing node talks to: its assignments, its
 * batches of results and its heartbeats (nodes.h, docs/nodes.md). The
 * decoding is wire/node_json.c's, the judging monitor/'s: here are the
 * token, the rate, and the mapping of both onto HTTP.
 */
#include "http/nodes.h"

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf/conf.h"
#include "core/result.h"
#include "core/line.h"
#include "core/log.h"
#include "http/api.h"
#include "monitor/monitor.h"
#include "wire/node_json.h"

/* A refused token is logged once per this many seconds per client address at most. */
#define NODES_LOG_EVERY_S 10

/* One token bucket per node name; names are bounded by CONF_NODES_MAX. */
struct rate {
	char name[RESULT_META_NAME_MAX];
	double tokens;
	int64_t at_us;
};
static struct rate rates[CONF_NODES_MAX];
static int nrates;
/* The last refused-token line, to keep a client that guesses from flooding the log. */
static int64_t refused_logged_us;
static unsigned long refused_quiet;

int http_nodes_rate_take(const char *node, int64_t now)
{
	struct rate *r = NULL;

	for (int i = 0; i < nrates; i++)
		if (strcmp(rates[i].name, node) == 0)
			r = &rates[i];
	if (!r) {
		/*
		 * A slot per node that asked, and as many as nodes may be
		 * configured; reloads may leave the slots of nodes removed since,
		 * so the one idle longest goes to the newcomer (a full table used
		 * to let it through unlimited).
		 */
		if (nrates < CONF_NODES_MAX) {
			r = &rates[nrates++];
		} else {
			r = &rates[0];
			for (int i = 1; i < nrates; i++)
				if (rates[i].at_us < r->at_us)
					r = &rates[i];
		}
		snprintf(r->name, sizeof(r->name), "%s", node);
		r->tokens = HTTP_NODES_BURST;
		r->at_us = now;
	}
	r->tokens += (double)(now - r->at_us) / 1e6 * HTTP_NODES_RATE;
	if (r->tokens > HTTP_NODES_BURST)
		r->tokens = HTTP_NODES_BURST;
	r->at_us = now;
	if (r->tokens < 1.0)
		return 0;
	r->tokens -= 1.0;
	return 1;
}

int http_bearer_ok(const char *authorization, const char *token)
{
	unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
	const char *a = authorization;

	if (!token || !a || strncasecmp(a, "Bearer ", 7) != 0)
		return 0;
	a += 7;
	while (*a == ' ')
		a++;
	SHA256((const unsigned char *)token, strlen(token), want);
	SHA256((const unsigned char *)a, strlen(a), got);
	return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

static void refused_token(const struct http_nodes_req *rq)
{
	char name[80];
	int64_t now = mp_now_us();

	if (refused_logged_us && now - refused_logged_us < (int64_t)NODES_LOG_EVERY_S * 1000000) {
		refused_quiet++;
		return;
	}
	line_escape(name, sizeof(name), rq->node, strlen(rq->node));
	log_msg(LOG_WARNING,
	        "nodes: %s %s for node \"%s\" from %s refused: %s (%lu more refusals since the "
	        "last such line)",
	        rq->post ? "POST" : "GET", rq->op, name, rq->peer ? rq->peer : "?",
	        rq->authorization ? "wrong token or no such node" : "no bearer token",
	        refused_quiet);
	refused_quiet = 0;
	refused_logged_us = now;
}

static void put(struct evbuffer *out, char *s)
{
	if (s) {
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
		free(s);
	}
}

static void assignments(struct monitor *mo, const struct http_nodes_req *rq, struct evbuffer *out,
                        struct http_nodes_reply *rp)
{
	char etag[NODE_ID_MAX];
	char *doc = NULL;

	if (monitor_node_assignments(mo, rq->node, etag, NULL) < 0) {
		rp->code = api_error(out, 404, "not_found", "no such node");
		return;
	}
	snprintf(rp->etag, sizeof(rp->etag), "\"%s\"", etag);
	if (rq->if_none_match && strcmp(rq->if_none_match, rp->etag) == 0) {
		rp->code = 304;
		return;
	}
	if (monitor_node_assignments(mo, rq->node, etag, &doc) < 0 || !doc) {
		rp->code = api_error(out, 500, "internal", "out of memory");
		return;
	}
	/* It may carry passwords (password_to_nodes): the copy in out is libevent's. */
	evbuffer_add(out, doc, strlen(doc));
	evbuffer_add(out, "\n", 1);
	OPENSSL_cleanse(doc, strlen(doc));
	free(doc);
	rp->code = 200;
}

static void heartbeat(struct monitor *mo, const struct http_nodes_req *rq, struct evbuffer *out,
                      struct http_nodes_reply *rp)
{
	struct node_heartbeat *hb = calloc(1, sizeof(*hb));
	struct node_heartbeat_reply reply;
	char err[300], msg[400];

	if (!hb) {
		rp->code = api_error(out, 500, "internal", "out of memory");
		return;
	}
	if (node_heartbeat_decode(rq->body, rq->bodylen, hb, err, sizeof(err)) != 0) {
		snprintf(msg, sizeof(msg), "%s", err);
		log_msg(LOG_WARNING, "nodes: %s: %s", rq->node, msg);
		rp->code = api_error(out, 400, "bad_request", msg);
	} else if (strcmp(hb->node, rq->node) != 0) {
		rp->code =
		    api_error(out, 400, "bad_request", "heartbeat: node: not the node of the path");
	} else {
		memset(&reply, 0, sizeof(reply));
		if (monitor_node_heartbeat(mo, rq->node, hb, mp_wall_ms(), &reply) < 0) {
			rp->code = api_error(out, 404, "not_found", "no such node");
		} else {
			put(out, node_heartbeat_reply_encode(&reply));
			rp->code = 200;
		}
	}
	free(hb);
}

/* What one batch did, item by item. */
struct batch_ctx {
	struct monitor *mo;
	const char *node;
	struct node_batch_head *h;
	struct node_batch_reply *reply;
	int64_t recv_ms;
	int started; /* monitor_node_batch() ran, and said start_rc */
	int start_rc;
	int dup;   /* the whole batch was had already */
	int other; /* the batch says another node sent it: nothing of it is taken */
	unsigned refused;
};

static void refuse(struct batch_ctx *b, size_t i, const char *check, const char *why)
{
	struct node_batch_reply *r = b->reply;

	b->refused++;
	if (r->nrefused < NODE_REFUSED_MAX) {
		r->refused[r->nrefused].index = (unsigned)i;
		snprintf(r->refused[r->nrefused].check, sizeof(r->refused[0].check), "%s",
		         check ? check : "");
		snprintf(r->refused[r->nrefused].error, sizeof(r->refused[0].error), "%s", why);
		r->nrefused++;
	}
}

static int batch_start(struct batch_ctx *b)
{
	int rc;

	if (b->started)
		return b->start_rc;
	b->started = 1;
	if (strcmp(b->h->node, b->node) != 0) {
		b->other = 1;
		return 0;
	}
	rc = monitor_node_batch(b->mo, b->node, b->h, b->recv_ms, b->reply);
	b->dup = rc == 1;
	b->start_rc = rc < 0 ? -1 : 0;
	return b->start_rc;
}

static int batch_item(size_t i, const struct result *r, const struct result_meta *m,
                      const char *err, void *arg)
{
	struct batch_ctx *b = arg;

	if (batch_start(b) < 0)
		return -1;
	if (b->other)
		return 0;
	if (b->dup) {
		b->reply->duplicates++;
		return 0;
	}
	if (!r) {
		refuse(b, i, m ? m->check : NULL, err ? err : "not a result");
		return 0;
	}
	enum mon_remote rc = monitor_ingest_remote(b->mo, b->node, r, m, b->recv_ms);

	switch (rc) {
	case MON_REMOTE_ACCEPTED:
		b->reply->accepted++;
		break;
	case MON_REMOTE_LATE:
		b->reply->accepted++;
		b->reply->late++;
		break;
	case MON_REMOTE_DUPLICATE:
		b->reply->duplicates++;
		break;
	case MON_REMOTE_NO_CHECK:
		refuse(b, i, m->check, "no_check: no check by that name");
		break;
	case MON_REMOTE_NOT_ASSIGNED:
		refuse(b, i, m->check, "not_assigned: the check's locations do not name this node");
		break;
	default:
		refuse(b, i, m->check,
		       "bad_meta: the location is not this node's, or seq is not above 0");
		break;
	}
	return 0;
}

/* A batch's answer, waiting for its rows to be stored. */
struct stored {
	struct http_later *later;
	char *doc; /* the reply, encoded */
	int now;   /* told before monitor_node_batch_end() returned */
};

static void stored_cb(void *arg)
{
	struct stored *st = arg;
	struct evbuffer *b;

	if (st->now) {
		st->now = 2;
		return;
	}
	b = evbuffer_new();
	if (b)
		put(b, st->doc);
	else
		free(st->doc);
	http_later_send(st->later, b ? 200 : 500, b);
	if (b)
		evbuffer_free(b);
	free(st);
}

/*
 * Answer doc (taken) once what the batch queued is stored: at once when
 * the store answers at once (SQLite) or is failing already, else later.
 */
static void stored_later(struct monitor *mo, const struct http_nodes_req *rq, char *doc,
                         struct evbuffer *out, struct http_nodes_reply *rp)
{
	struct stored *st = calloc(1, sizeof(*st));

	if (!st) {
		free(doc);
		rp->code = api_error(out, 500, "internal", "out of memory");
		return;
	}
	st->later = rq->later;
	st->doc = doc;
	st->now = 1;
	monitor_node_batch_end(mo, rq->node, stored_cb, st);
	if (st->now == 2) {
		put(out, doc);
		rp->code = 200;
		free(st);
		return;
	}
	st->now = 0;
	rp->code = API_LATER;
}

static void results(struct monitor *mo, const struct http_nodes_req *rq, struct evbuffer *out,
                    struct http_nodes_reply *rp)
{
	struct node_batch_head h;
	struct node_batch_reply *reply = calloc(1, sizeof(*reply));
	struct batch_ctx b;
	char err[300], msg[400];

	if (!reply) {
		rp->code = api_error(out, 500, "internal", "out of memory");
		return;
	}
	memset(&h, 0, sizeof(h));
	memset(&b, 0, sizeof(b));
	b.mo = mo;
	b.node = rq->node;
	b.h = &h;
	b.reply = reply;
	b.recv_ms = mp_wall_ms();
	if (node_batch_decode(rq->body, rq->bodylen, &h, batch_item, &b, err, sizeof(err)) != 0) {
		if (b.started && b.start_rc < 0) {
			rp->code = api_error(out, 404, "not_found", "no such node");
			free(reply);
			return;
		}
		snprintf(msg, sizeof(msg), "%s", err);
		log_msg(LOG_WARNING, "nodes: %s: %s", rq->node, msg);
		rp->code = api_error(out, 400, "bad_request", msg);
		free(reply);
		return;
	}
	if (batch_start(&b) == 0 && b.other) {
		rp->code =
		    api_error(out, 400, "bad_request", "batch: node: not the node of the path");
		free(reply);
		return;
	}
	if (batch_start(&b) < 0) {
		rp->code = api_error(out, 404, "not_found", "no such node");
		free(reply);
		return;
	}
	if (b.refused)
		log_msg(LOG_WARNING,
		        "nodes: %s batch %s: %u of %zu results refused, the first: %s%s%s",
		        rq->node, h.id, b.refused, h.n, reply->refused[0].check,
		        reply->refused[0].check[0] ? ": " : "", reply->refused[0].error);
	/* Stored before it is acknowledged: the node then forgets these results. */
	stored_later(mo, rq, node_batch_reply_encode(reply), out, rp);
	free(reply);
}

void http_nodes_serve(struct monitor *mo, const struct conf *conf, const struct http_nodes_req *rq,
                      struct evbuffer *out, struct http_nodes_reply *rp)
{
	const struct conf_node *n = conf_find_node(conf, rq->node);

	memset(rp, 0, sizeof(*rp));
	if (!http_bearer_ok(rq->authorization, n ? n->token : NULL)) {
		refused_token(rq);
		rp->www_authenticate = 1;
		rp->code =
		    api_error(out, 401, "unauthorized",
		              "a node needs its own bearer token: Authorization: Bearer TOKEN");
		return;
	}
	/* One controller takes results: a node that asks here moves on to the next it knows. */
	if (!monitor_active(mo)) {
		rp->retry_after_s = 1;
		rp->code = api_error(out, 503, "standby",
		                     "this controller stands by: the active one takes nodes");
		return;
	}
	if (!http_nodes_rate_take(rq->node, mp_now_us())) {
		rp->retry_after_s = 1;
		rp->code = api_error(out, 429, "too_many_requests",
		                     "this node sends faster than the controller takes");
		return;
	}
	if (strcmp(rq->op, "assignments") == 0 && rq->get)
		assignments(mo, rq, out, rp);
	else if (strcmp(rq->op, "heartbeat") == 0 && rq->post)
		heartbeat(mo, rq, out, rp);
	else if (strcmp(rq->op, "results") == 0 && rq->post)
		results(mo, rq, out, rp);
	else
		rp->code = api_error(out, 404, "not_found", "no such node endpoint");
}
