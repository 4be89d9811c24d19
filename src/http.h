/*
 * http.h - the daemon's HTTP server (libevent evhttp on the daemon's own
 * loop): the dashboard, the public status page, the JSON API under
 * /api/v1, Prometheus /metrics and /healthz.
 *
 * Created by http_start() after the daemon is set up, freed by http_free()
 * before it stops; http_reconfigure() applies a reloaded configuration
 * (a changed listen address restarts the listener).
 */
#ifndef MP_HTTP_H
#define MP_HTTP_H

#include <stddef.h>

struct event_base;
struct daemon;
struct conf;
struct http;

/* Listen on conf->listen. NULL with err filled when it cannot. */
struct http *http_start(struct event_base *base, struct daemon *d, const struct conf *conf,
                        char *err, size_t errlen);
int http_reconfigure(struct http *h, const struct conf *conf, char *err, size_t errlen);
void http_free(struct http *h);

#endif
