/*
 * http.c - the daemon's HTTP server: libevent evhttp on the daemon's own
 * loop; routing, limits, access control. What is served is written by
 * api.c.
 *
 * Limits: request headers HTTP_HEADERS_MAX bytes, bodies HTTP_BODY_MAX
 * (nothing we serve takes a body), paths HTTP_PATH_MAX, and an idle
 * timeout of HTTP_TIMEOUT_S seconds per connection; evhttp answers 400,
 * 413 or closes the connection on its own when one is exceeded.
 *
 * Access: with a token configured (http.token_file / token_env), the API,
 * /metrics and POST run need "Authorization: Bearer TOKEN", compared in
 * constant time (SHA-256 of both sides, then CRYPTO_memcmp, so not even the
 * length leaks). The dashboard's pages and assets hold no data and are
 * served to anyone; their script asks for the token and sends it with each
 * API call. /healthz and the public /status page (when enabled) are always
 * open. Without a token, POST run is refused (403) unless the listener is
 * on a loopback address, and, in any case, a POST whose Origin is not this
 * server is refused: a web page elsewhere cannot make a browser run probes.
 *
 * A struct http is created by http_start() and freed by http_free(); it
 * holds a reference on the conf it was configured from.
 */
#include "http.h"

#include <arpa/inet.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api.h"
#include "conf.h"
#include "log.h"
#include "monitor.h"

#define HTTP_HEADERS_MAX (16 * 1024)
#define HTTP_BODY_MAX    4096
#define HTTP_PATH_MAX    1024
#define HTTP_TIMEOUT_S   15
#define HTTP_SEGS_MAX    8

struct http {
	struct event_base *base;
	struct daemon *d;
	struct evhttp *ev;
	struct evhttp_bound_socket *sock;
	struct conf *conf; /* our reference: listen address, token, public page */
	char listen[300];  /* what sock is bound to, as configured */
	int loopback;      /* sock is on 127.0.0.0/8 or ::1 */
};

/* Split "host:port" / "[v6]:port" as conf.c validated it. */
static int split_listen(const char *a, char *host, size_t hostlen, unsigned short *port)
{
	const char *colon = strrchr(a, ':');
	long p;
	char *end;

	if (!colon || colon == a)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	if (a[0] == '[') {
		if (colon[-1] != ']' || (size_t)(colon - a - 2) >= hostlen)
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(colon - a - 2), a + 1);
	} else {
		if ((size_t)(colon - a) >= hostlen)
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(colon - a), a);
	}
	*port = (unsigned short)p;
	return 0;
}

static int sock_is_loopback(struct evhttp_bound_socket *bs)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127);
	}
	return 0;
}

static struct evhttp_bound_socket *bind_listen(struct http *h, const char *listen, char *err,
                                               size_t errlen)
{
	char host[300];
	unsigned short port;
	struct evhttp_bound_socket *bs;

	if (split_listen(listen, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "http: listen \"%.64s\" is not HOST:PORT", listen);
		return NULL;
	}
	/* Runs getaddrinfo for a host name: only at start and on reload, never per request. */
	bs = evhttp_bind_socket_with_handle(h->ev, host, port);
	if (!bs)
		snprintf(err, errlen, "http: cannot listen on %.300s: %s", listen,
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	return bs;
}

/* ---- replies -------------------------------------------------------------- */

static void common_headers(struct evhttp_request *req, const char *ctype)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);

	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "Cache-Control", "no-store");
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(oh, "X-Frame-Options", "DENY");
	evhttp_add_header(oh, "Referrer-Policy", "no-referrer");
	/* No inline script or style anywhere: what the server sends cannot run. */
	evhttp_add_header(oh, "Content-Security-Policy",
	                  "default-src 'none'; script-src 'self'; style-src 'self'; "
	                  "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
	                  "base-uri 'none'; form-action 'none'");
}

static const char *reason_phrase(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	}
	return "Error";
}

static void reply(struct evhttp_request *req, int code, const char *ctype, struct evbuffer *body)
{
	common_headers(req, ctype);
	evhttp_send_reply(req, code, reason_phrase(code), body);
}

static void reply_error(struct evhttp_request *req, int code, const char *error, const char *detail)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	api_error(b, code, error, detail);
	reply(req, code, "application/json", b);
	evbuffer_free(b);
}

/* ---- access ---------------------------------------------------------------- */

/* 1 when the request carries the configured bearer token. Constant time. */
static int token_ok(const struct http *h, struct evhttp_request *req)
{
	const char *a = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
	const char *tok = h->conf->http_token;

	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return 0;
	a += 7;
	while (*a == ' ')
		a++;
	SHA256((const unsigned char *)tok, strlen(tok), want);
	SHA256((const unsigned char *)a, strlen(a), got);
	return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

/* 0 when the request may read data; otherwise the reply is sent. */
static int need_token(struct http *h, struct evhttp_request *req)
{
	if (!h->conf->http_token || token_ok(h, req))
		return 0;
	evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
	                  "Bearer realm=\"mailpulse\"");
	reply_error(req, 401, "unauthorized",
	            "this server needs a bearer token: Authorization: Bearer TOKEN");
	return -1;
}

/*
 * A browser sends Origin with a cross-site POST; our own dashboard sends
 * its own origin, which must name the Host it talks to.
 */
static int origin_ok(struct evhttp_request *req)
{
	const struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(ih, "Origin");
	const char *host = evhttp_find_header(ih, "Host");
	const char *o;

	if (!origin)
		return 1;
	if (!host)
		return 0;
	if (strncmp(origin, "http://", 7) == 0)
		o = origin + 7;
	else if (strncmp(origin, "https://", 8) == 0)
		o = origin + 8;
	else
		return 0;
	return strcmp(o, host) == 0;
}

/* 0 when the request may start a probe; otherwise the reply is sent. */
static int may_run(struct http *h, struct evhttp_request *req)
{
	if (!origin_ok(req)) {
		reply_error(req, 403, "forbidden", "the request's Origin is not this server");
		return -1;
	}
	if (h->conf->http_token)
		return need_token(h, req);
	if (!h->loopback) {
		reply_error(req, 403, "forbidden",
		            "running a probe needs http.token_file or token_env when the "
		            "listener is not on a loopback address");
		return -1;
	}
	return 0;
}

/* ---- routing --------------------------------------------------------------- */

struct route_ctx {
	struct http *h;
	struct evhttp_request *req;
	enum evhttp_cmd_type cmd;
	char *seg[HTTP_SEGS_MAX]; /* decoded path segments */
	int nseg;
	struct evkeyvalq query;
	int has_query;
};

static void free_segs(struct route_ctx *c)
{
	for (int i = 0; i < c->nseg; i++)
		free(c->seg[i]);
	c->nseg = 0;
}

/*
 * "/api/v1/checks/x" -> {"api", "v1", "checks", "x"}. Each segment is
 * percent-decoded on its own, so "%2F" cannot make a separator, and one
 * that decodes to a NUL or a control byte is refused. -1 on a bad path.
 */
static int split_path(struct route_ctx *c, const char *path)
{
	const char *p = path;

	if (!path || *path != '/' || strlen(path) > HTTP_PATH_MAX)
		return -1;
	while (*p) {
		const char *s = p + 1, *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		char raw[HTTP_PATH_MAX + 1], *dec;
		size_t dlen = 0;

		p = s + n;
		if (n == 0 && !*p)
			break; /* a trailing slash */
		if (c->nseg == HTTP_SEGS_MAX)
			return -1;
		memcpy(raw, s, n);
		raw[n] = '\0';
		dec = evhttp_uridecode(raw, 0, &dlen);
		if (!dec)
			return -1;
		c->seg[c->nseg++] = dec;
		if (strlen(dec) != dlen)
			return -1;
		for (size_t i = 0; i < dlen; i++)
			if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f)
				return -1;
	}
	return 0;
}

static int seg_is(const struct route_ctx *c, int i, const char *s)
{
	return i < c->nseg && strcmp(c->seg[i], s) == 0;
}

static int method_allowed(struct route_ctx *c, int post_ok, int get_ok)
{
	const char *allow = post_ok && get_ok ? "GET, HEAD, POST" : post_ok ? "POST" : "GET, HEAD";

	if ((get_ok && (c->cmd == EVHTTP_REQ_GET || c->cmd == EVHTTP_REQ_HEAD)) ||
	    (post_ok && c->cmd == EVHTTP_REQ_POST))
		return 1;
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Allow", allow);
	reply_error(c->req, 405, "method_not_allowed", allow);
	return 0;
}

static void send_buffer(struct route_ctx *c, int code, const char *ctype, struct evbuffer *b)
{
	reply(c->req, code, ctype, b);
}

static void serve_asset(struct route_ctx *c, const char *name)
{
	const struct web_asset *a = api_asset(name);
	struct evbuffer *b;

	if (!a) {
		reply_error(c->req, 404, "not_found", "no such file");
		return;
	}
	if (!method_allowed(c, 0, 1))
		return;
	b = evbuffer_new();
	if (!b) {
		reply_error(c->req, 500, "internal", "out of memory");
		return;
	}
	/* Static data of the binary: no copy. */
	evbuffer_add_reference(b, a->data, a->len, NULL, NULL);
	send_buffer(c, 200, a->type, b);
	evbuffer_free(b);
}

typedef int (*api_fn)(struct route_ctx *c, struct evbuffer *out);

static void serve_api(struct route_ctx *c, api_fn fn, const char *ctype)
{
	struct evbuffer *b = evbuffer_new();
	int code;

	if (!b) {
		reply_error(c->req, 500, "internal", "out of memory");
		return;
	}
	code = fn(c, b);
	send_buffer(c, code, code >= 400 ? "application/json" : ctype, b);
	evbuffer_free(b);
}

static int do_checks(struct route_ctx *c, struct evbuffer *out)
{
	return api_checks(c->h->d, out);
}

static int do_check(struct route_ctx *c, struct evbuffer *out)
{
	return api_check(c->h->d, c->seg[3], out);
}

static int do_results(struct route_ctx *c, struct evbuffer *out)
{
	return api_results(c->h->d, c->seg[3], &c->query, out);
}

static int do_uptime(struct route_ctx *c, struct evbuffer *out)
{
	return api_uptime(c->h->d, c->seg[3], &c->query, out);
}

static int do_series(struct route_ctx *c, struct evbuffer *out)
{
	return api_series(c->h->d, c->seg[3], &c->query, out);
}

static int do_run(struct route_ctx *c, struct evbuffer *out)
{
	return api_run(c->h->d, c->seg[3], out);
}

static int do_incidents(struct route_ctx *c, struct evbuffer *out)
{
	return api_incidents(c->h->d, &c->query, out);
}

static int do_health(struct route_ctx *c, struct evbuffer *out)
{
	return api_health(c->h->d, out);
}

static int do_metrics(struct route_ctx *c, struct evbuffer *out)
{
	return api_metrics(c->h->d, out);
}

static int do_status(struct route_ctx *c, struct evbuffer *out)
{
	return api_status_page(c->h->d, out);
}

static void route_api(struct route_ctx *c)
{
	int n = c->nseg;

	/* /api/v1/... from here; seg[2] is the collection. */
	if (n == 3 && seg_is(c, 2, "checks")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_checks, "application/json");
	} else if (n == 4 && seg_is(c, 2, "checks")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_check, "application/json");
	} else if (n == 5 && seg_is(c, 2, "checks") && seg_is(c, 4, "results")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_results, "application/json");
	} else if (n == 5 && seg_is(c, 2, "checks") && seg_is(c, 4, "uptime")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_uptime, "application/json");
	} else if (n == 5 && seg_is(c, 2, "checks") && seg_is(c, 4, "series")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_series, "application/json");
	} else if (n == 5 && seg_is(c, 2, "checks") && seg_is(c, 4, "run")) {
		if (method_allowed(c, 1, 0) && may_run(c->h, c->req) == 0)
			serve_api(c, do_run, "application/json");
	} else if (n == 3 && seg_is(c, 2, "incidents")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_incidents, "application/json");
	} else if (n == 3 && seg_is(c, 2, "health")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_health, "application/json");
	} else {
		reply_error(c->req, 404, "not_found", "no such API endpoint");
	}
}

/* The dashboard's pages: shells without data, filled by app.js from the API. */
static void route(struct route_ctx *c)
{
	struct http *h = c->h;
	int n = c->nseg;

	if (n == 0) {
		serve_asset(c, "overview.html");
	} else if (n == 1 && seg_is(c, 0, "healthz")) {
		struct evbuffer *b = evbuffer_new();

		if (!method_allowed(c, 0, 1))
			return;
		if (!b) {
			reply_error(c->req, 500, "internal", "out of memory");
			return;
		}
		evbuffer_add(b, "ok\n", 3);
		send_buffer(c, 200, "text/plain; charset=utf-8", b);
		evbuffer_free(b);
	} else if (n == 1 && seg_is(c, 0, "metrics")) {
		if (method_allowed(c, 0, 1) && need_token(h, c->req) == 0)
			serve_api(c, do_metrics, "text/plain; version=0.0.4; charset=utf-8");
	} else if (n == 1 && seg_is(c, 0, "status")) {
		if (!h->conf->public_enabled)
			reply_error(c->req, 404, "not_found",
			            "the public status page is not enabled");
		else if (method_allowed(c, 0, 1))
			serve_api(c, do_status, "text/html; charset=utf-8");
	} else if (n == 1 && seg_is(c, 0, "incidents")) {
		serve_asset(c, "incidents.html");
	} else if (n == 1 && seg_is(c, 0, "certificates")) {
		serve_asset(c, "certificates.html");
	} else if (n == 2 && seg_is(c, 0, "check")) {
		serve_asset(c, "check.html");
	} else if (n == 2 && seg_is(c, 0, "static") && strstr(c->seg[1], ".html") == NULL) {
		serve_asset(c, c->seg[1]);
	} else if (n >= 2 && seg_is(c, 0, "api") && seg_is(c, 1, "v1")) {
		route_api(c);
	} else {
		reply_error(c->req, 404, "not_found", "no such page");
	}
}

/*
 * DNS rebinding: a web page can point its own name at 127.0.0.1 and then
 * read a loopback server as "same origin". Without a token, a loopback
 * listener answers only requests addressed to a loopback name; a page
 * cannot make a browser send such a Host header for its own origin.
 */
static int host_ok(const struct http *h, struct evhttp_request *req)
{
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	char name[300];
	size_t n;

	if (!h->loopback || h->conf->http_token)
		return 1;
	if (!host)
		return 1; /* HTTP/1.0 clients (curl -0, scripts): no browser sends none */
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		n = end ? (size_t)(end - host) + 1 : strlen(host);
	} else {
		const char *colon = strchr(host, ':');
		n = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (n == 0 || n >= sizeof(name))
		return 0;
	memcpy(name, host, n);
	name[n] = '\0';
	return strcasecmp(name, "localhost") == 0 || strncmp(name, "127.", 4) == 0 ||
	       strcmp(name, "[::1]") == 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct route_ctx c;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q;

	memset(&c, 0, sizeof(c));
	c.h = arg;
	c.req = req;
	c.cmd = evhttp_request_get_command(req);
	if (!host_ok(c.h, req)) {
		reply_error(req, 403, "forbidden",
		            "this server answers only requests for localhost or a loopback "
		            "address unless a token is set (DNS rebinding protection)");
		return;
	}
	if (!uri || split_path(&c, evhttp_uri_get_path(uri)) < 0) {
		reply_error(req, 400, "bad_request", "the path is malformed or too long");
		goto out;
	}
	q = evhttp_uri_get_query(uri);
	TAILQ_INIT(&c.query);
	if (q && evhttp_parse_query_str(q, &c.query) < 0) {
		reply_error(req, 400, "bad_request", "the query string is malformed");
		goto out;
	}
	c.has_query = 1;
	route(&c);
out:
	if (c.has_query)
		evhttp_clear_headers(&c.query);
	free_segs(&c);
}

/* ---- lifecycle -------------------------------------------------------------- */

static void note_listener(struct http *h, const char *listen)
{
	snprintf(h->listen, sizeof(h->listen), "%s", listen);
	h->loopback = sock_is_loopback(h->sock);
	log_msg(LOG_INFO, "http: listening on %s%s", listen,
	        h->conf->http_token ? " (bearer token required)" : "");
	if (!h->loopback && !h->conf->http_token)
		log_msg(LOG_WARNING,
		        "http: %s is not a loopback address and no token is set: the API and "
		        "/metrics are open to anyone who can reach it (POST run is refused)",
		        listen);
}

struct http *http_start(struct event_base *base, struct daemon *d, const struct conf *conf,
                        char *err, size_t errlen)
{
	struct http *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, errlen, "http: out of memory");
		return NULL;
	}
	h->base = base;
	h->d = d;
	h->ev = evhttp_new(base);
	if (!h->ev) {
		snprintf(err, errlen, "http: out of memory");
		free(h);
		return NULL;
	}
	evhttp_set_max_headers_size(h->ev, HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(h->ev, HTTP_BODY_MAX);
	evhttp_set_timeout(h->ev, HTTP_TIMEOUT_S);
	/* Every method reaches on_request, which answers 405 with Allow itself. */
	evhttp_set_allowed_methods(h->ev, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                                      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
	                                      EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	evhttp_set_gencb(h->ev, on_request, h);
	/* The conf is immutable and reference counted; we only read it. */
	h->conf = (struct conf *)(uintptr_t)conf;
	conf_ref(h->conf);
	h->sock = bind_listen(h, conf->listen, err, errlen);
	if (!h->sock) {
		http_free(h);
		return NULL;
	}
	note_listener(h, conf->listen);
	return h;
}

int http_reconfigure(struct http *h, const struct conf *conf, char *err, size_t errlen)
{
	struct conf *nc = (struct conf *)(uintptr_t)conf;

	if (strcmp(conf->listen, h->listen) != 0) {
		struct evhttp_bound_socket *bs = bind_listen(h, conf->listen, err, errlen);

		/* Keep serving on the old address when the new one cannot be had. */
		if (!bs)
			return -1;
		evhttp_del_accept_socket(h->ev, h->sock);
		h->sock = bs;
	}
	conf_ref(nc);
	conf_unref(h->conf);
	h->conf = nc;
	if (strcmp(conf->listen, h->listen) != 0)
		note_listener(h, conf->listen);
	return 0;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	/* Frees the listener and every open connection with its pending request. */
	if (h->ev)
		evhttp_free(h->ev);
	if (h->conf)
		conf_unref(h->conf);
	free(h);
}
