/* SPDX-License-Identifier: ISC */
/*
 * api.h - what http.c serves, written by api.c: the JSON API under
 * /api/v1, Prometheus /metrics, the public status page, and the dashboard
 * assets embedded in the binary (the files of web/, turned into web_assets.c at build
 * time by cmake/EmbedWeb.cmake).
 *
 * Every function writes a complete body into out and returns the HTTP
 * status code; on an error the body is {"error": "...", "detail": "..."}.
 * They run on the daemon's loop and never block on anything but SQLite
 * reads of the store (bounded by the limits below; the summaries' uptime
 * figures come from memory, see api_cache_start()).
 */
#ifndef MP_API_H
#define MP_API_H

#include <stddef.h>

struct monitor;
struct evbuffer;
struct evkeyvalq;

/* Rows one results query returns at most, as store_q_history() allows. */
#define API_RESULTS_MAX 10000
/* Recent incidents and deliveries on a check's detail. */
#define API_RECENT 20

int api_error(struct evbuffer *out, int code, const char *error, const char *detail);

/*
 * The caches behind the summaries (uptime figures of every check, kept off
 * the loop by upcache.c; the status page and the checks list, kept whole
 * for a moment): http_start() starts them, http_free() stops them. Without
 * them (MAILPULSE_API_CACHE=off, or the store could not be opened a second
 * time) every request reads the store per check, as before.
 */
void api_cache_start(const char *store_path, const char *store_secret);
void api_cache_stop(void);

int api_checks(struct monitor *d, struct evbuffer *out);
/*
 * A reply a handler gives later, from the loop: what a store read that
 * completes asynchronously needs (store.h). http.c makes one for each
 * request of the handlers that take it and keeps the request meanwhile; a
 * client that closes first is no harm. Such a handler returns API_LATER
 * when it took the reply over (else a status, as the others, and l is
 * http.c's again), and then calls http_later_send() exactly once.
 */
struct http_later;
struct event_base;
#define API_LATER 0
/* Reply code with body's bytes; frees l. */
void http_later_send(struct http_later *l, int code, struct evbuffer *body);
struct event_base *http_later_base(const struct http_later *l);

/* A check's page; its incidents and deliveries come from the store, maybe later. */
int api_check(struct monitor *d, const char *name, struct evbuffer *out, struct http_later *l);

int api_results(struct monitor *d, const char *name, const struct evkeyvalq *q,
                struct evbuffer *out, struct http_later *l);
int api_uptime(struct monitor *d, const char *name, const struct evkeyvalq *q, struct evbuffer *out,
               struct http_later *l);
/* Probes in buckets from raw results and roll-ups: the dashboard's long ranges. */
int api_series(struct monitor *d, const char *name, const struct evkeyvalq *q, struct evbuffer *out,
               struct http_later *l);
int api_incidents(struct monitor *d, const struct evkeyvalq *q, struct evbuffer *out,
                  struct http_later *l);
int api_run(struct monitor *d, const char *name, struct evbuffer *out);
/* GET /api/v1/nodes: every configured node, its health and figures. */
int api_nodes(struct monitor *d, struct evbuffer *out);
int api_health(struct monitor *d, struct evbuffer *out);

/* Prometheus text exposition format 0.0.4. */
int api_metrics(struct monitor *d, struct evbuffer *out);

/* The public status page (HTML): only the checks conf_public_covers() selects. */
int api_status_page(struct monitor *d, struct evbuffer *out);

/* HTML-escape s into out: & < > " ' become entities. */
void api_html_escape(struct evbuffer *out, const char *s);

/* One embedded file of web/, by its name there ("app.js"). */
struct web_asset {
	const char *name;
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Ends with an entry whose name is NULL. Defined in the generated web_assets.c. */
extern const struct web_asset web_assets[];

const struct web_asset *api_asset(const char *name);

#endif
