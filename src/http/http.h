/* SPDX-License-Identifier: ISC */
/*
 * http.h - the daemon's HTTP server (libevent evhttp on the daemon's own
 * loop): the dashboard, the public status page, the JSON API under
 * /api/v1, Prometheus /metrics and /healthz.
 *
 * Created by http_start() after the daemon is set up, freed by http_free()
 * before it stops; http_reconfigure() applies a reloaded configuration
 * completely or not at all (a changed listen address restarts the
 * listener; when the new address cannot be had, nothing changes). With
 * http.tls_cert and tls_key the listener speaks HTTPS only (https.h); a
 * reload makes a new TLS context from them, or changes nothing.
 */
#ifndef MP_HTTP_H
#define MP_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct monitor;
struct conf;
struct http;

/* Listen on conf->listen. NULL with err filled when it cannot. */
struct http *http_start(struct event_base *base, struct monitor *d, const struct conf *conf,
                        char *err, size_t errlen);
/* 0, or -1 with err filled and the running settings all kept. */
int http_reconfigure(struct http *h, const struct conf *conf, char *err, size_t errlen);
void http_free(struct http *h);

/* The limits that refuse or close connections, as /metrics labels them. */
enum http_limit {
	HTTP_LIMIT_ADDRESS,  /* refused: its address had max_connections_per_address open */
	HTTP_LIMIT_TOTAL,    /* the oldest closed (or the new one refused) at max_connections */
	HTTP_LIMIT_DEADLINE, /* closed: a request begun but not complete in time */
	HTTP_LIMIT_FDS,      /* accept() failed (out of descriptors): listener paused */
	HTTP_LIMIT__COUNT
};

/*
 * Counters since the daemon started (across listeners that reloads stop
 * and start: counters never go back), and the connections open now.
 */
struct http_stats {
	unsigned open;            /* connections open now */
	unsigned max;             /* the cap in force; 0 without a server */
	unsigned max_per_address; /* ditto, per client address */
	uint64_t limited[HTTP_LIMIT__COUNT];
};

void http_stats(struct http_stats *st);
/* "per_address", "total", "deadline", "descriptors". */
const char *http_limit_name(enum http_limit l);

/*
 * 1 when a Host header value names this machine literally: "localhost",
 * an IPv4 address in 127.0.0.0/8 as four decimal numbers 0-255 (no
 * leading zeros), or "[::1]", each with an optional ":PORT". Anything else
 * ("127.evil.com", "localhost.evil.com", "[::1].evil.com") is 0.
 */
int http_host_is_local(const char *host);

#endif
