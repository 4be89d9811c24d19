/* SPDX-License-Identifier: ISC */
/*
 * nodes.h - the controller's endpoints for probing nodes (docs/nodes.md):
 *
 *   GET  /api/v1/nodes/NAME/assignments   ETag / If-None-Match: 304
 *   POST /api/v1/nodes/NAME/results       a batch; each result to monitor_ingest_remote()
 *   POST /api/v1/nodes/NAME/heartbeat
 *
 * Each needs NAME's own bearer token (conf.nodes), compared in constant
 * time; a wrong or missing token, or a NAME that is not configured, is
 * 401 alike (the reply does not tell which) and logged with the client's
 * address, never with what was sent as a token. A node has its own rate:
 * over HTTP_NODES_RATE requests a second (burst HTTP_NODES_BURST) it gets
 * 429 with Retry-After. Bodies are bounded by NODE_BODY_MAX (413 beyond,
 * by evhttp).
 */
#ifndef MP_HTTP_NODES_H
#define MP_HTTP_NODES_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct monitor;
struct conf;
struct http_later;

#define HTTP_NODES_RATE  20
#define HTTP_NODES_BURST 60

/*
 * Node's token bucket at now (monotonic us): 1 when a request may go on,
 * 0 when it is over its rate. One bucket per node name, CONF_NODES_MAX of
 * them; a new name takes the one idle longest when all are used.
 */
int http_nodes_rate_take(const char *node, int64_t now);

struct http_nodes_req {
	const char *node;          /* the path's NAME, decoded */
	const char *op;            /* "assignments", "results", "heartbeat" */
	int get, post;             /* the method */
	const char *authorization; /* header, or NULL */
	const char *if_none_match; /* header, or NULL */
	const char *peer;          /* the client's address, for logs */
	const char *body;          /* the request body (not NUL-terminated) */
	size_t bodylen;
	/*
	 * The reply to a batch of results is sent once they are stored: code
	 * API_LATER then says it went, or will go, through later (api.h).
	 */
	struct http_later *later;
};

struct http_nodes_reply {
	int code;
	char etag[72];        /* an ETag header to send ("\"...\""), or "" */
	int retry_after_s;    /* a Retry-After header to send, or 0 */
	int www_authenticate; /* send WWW-Authenticate: Bearer */
};

/*
 * 1 when authorization ("Bearer TOKEN") carries token; 0 when either is
 * missing. Constant time in the token's content and length: SHA-256 of
 * both sides, then CRYPTO_memcmp. The one comparison of the API's token
 * and the nodes' own.
 */
int http_bearer_ok(const char *authorization, const char *token);

/*
 * Serve one node request: the body (JSON) is written to out, the status
 * and headers to *rp. Never blocks.
 */
void http_nodes_serve(struct monitor *mo, const struct conf *conf, const struct http_nodes_req *rq,
                      struct evbuffer *out, struct http_nodes_reply *rp);

#endif
