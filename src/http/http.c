/* SPDX-License-Identifier: ISC */
/*
 * http.c - the daemon's HTTP server: libevent evhttp on the daemon's own
 * loop; routing, limits, access control. What is served is written by
 * api.c.
 *
 * Limits: request headers HTTP_HEADERS_MAX bytes, bodies HTTP_BODY_MAX
 * (nothing we serve takes a body), paths HTTP_PATH_MAX; evhttp answers
 * 400, 413 or closes the connection on its own when one is exceeded.
 *
 * Connections (the HTTP port must never blind the monitor): at most
 * max_conns open, at most max_per_addr from one client address (an IPv6
 * client counts by its /64). max_conns is http.max_connections, lowered
 * to what the open files limit leaves once HTTP_FD_SPARE and one
 * descriptor per probe in flight are kept back: probes, notifications and
 * the store always have theirs. A connection over its address's cap is
 * refused (503, closed); at max_conns the connection that has waited
 * longest since its last request is closed to make room, so a crowd of
 * stalled clients cannot keep /healthz from answering. Each connection
 * must deliver a complete request within HTTP_DEADLINE_S of its opening
 * or of the end of the previous reply, however it trickles bytes (libevent
 * restarts its own timeout on every byte: no deadline); while a reply is
 * written, evhttp's timeout bounds the pauses instead. When accept() runs
 * out of descriptors the listener pauses for HTTP_PAUSE_MS instead of
 * spinning on a socket that stays readable. Each limit hit is counted
 * (http_stats(), in /metrics) and logged, once per HTTP_LOG_EVERY_S.
 *
 * libevent 2.1's evhttp neither caps connections nor tells us of a new
 * one, so we learn of each through the bufferevent we make for it
 * (evhttp_set_bevcb) and admit it once evhttp has set it up: see
 * on_new_bev() and admit().
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
 * A request with two Host headers is refused (400) in every case.
 *
 * TLS (http.tls_cert and tls_key): each connection's bufferevent is an
 * accepting OpenSSL one (https.c) instead of a socket one, and every
 * limit above holds as it is: the deadline runs from the TCP accept, so a
 * client that never sends a ClientHello, or stops mid-handshake, is
 * closed by it, and holds a place under the caps meanwhile; the caps'
 * 503 is not sent on a TLS connection (plaintext inside a handshake helps
 * no one): it is closed. A plain HTTP request on the TLS port fails the
 * handshake and is closed (a debug line says so). A reload makes the new
 * context before anything else and keeps the old one when it cannot.
 *
 * A struct http is created by http_start() and freed by http_free(); it
 * holds a reference on the conf it was configured from, and owns its
 * struct http_conn records (each freed when evhttp closes its connection).
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h> /* the request's version: version_ok() */
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "http/api.h"
#include "http/https.h"
#include "http/nodes.h"
#include "conf/conf.h"
#include "core/result.h"
#include "core/log.h"
#include "monitor/monitor.h"
#include "wire/node_json.h"

#define HTTP_HEADERS_MAX (16 * 1024)
#define HTTP_BODY_MAX    4096
#define HTTP_PATH_MAX    1024
#define HTTP_SEGS_MAX    8
/* A complete request within this (and evhttp's own timeout on pauses: the same). */
#define HTTP_DEADLINE_S 10
/*
 * Descriptors kept back from HTTP besides one per probe in flight:
 * notifications in flight (32, each a socket and maybe a pipe or two), the
 * store's files, DNS, the loop's own, the listener, a batch of accepts.
 */
#define HTTP_FD_SPARE 128
/* Never fewer connections than this, whatever the limit says (with a warning). */
#define HTTP_CONNS_FLOOR 8
/* Accepts taken in one go before the new connections are looked at. */
#define HTTP_ACCEPT_BATCH 16
#define HTTP_PAUSE_MS     1000
#define HTTP_LOG_EVERY_S  10
#define HTTP_CONN_BUCKETS 1024
#define HTTP_ADDR_BUCKETS 1024
#define HTTP_ADDR_KEY     9 /* family, then 4 bytes of IPv4 or the /64 of IPv6 */

/* A client address (IPv6: its /64) and how many connections it has open. */
struct http_addr {
	struct http_addr *next;
	unsigned char key[HTTP_ADDR_KEY];
	unsigned n;
};

/*
 * One client connection. Made by on_new_bev() when evhttp accepts it,
 * pending until admit() links it to its evhttp_connection; freed by
 * on_close() when evhttp closes that connection, whoever decided it.
 */
struct http_conn {
	TAILQ_ENTRY(http_conn) link; /* pending, or conns: least recent request first */
	struct http_conn *hnext;     /* by_evcon chain */
	struct http *h;
	struct bufferevent *bev; /* pending: with our reference; then evhttp's */
	struct evhttp_connection *evcon;
	struct evbuffer_cb_entry *incb; /* notes bytes that arrive */
	struct http_addr *addr;
	struct event *deadline;
	int got_bytes;            /* since the last reply: a request is under way */
	int tls;                  /* bev is an OpenSSL one (https.c) */
	int drop;                 /* to close once admitted: TLS could not be set up */
	struct http_later *later; /* replies a handler gives later (api.h) */
};

/*
 * A reply given later (api.h): made for a request by later_new(), freed by
 * http_later_send() or later_drop(). While pending it is on its
 * connection's list; when the connection goes first, on_close() unlinks it
 * and says whether the request went with it.
 */
struct http_later {
	struct http_later *next;
	struct http_conn *c;        /* NULL once the connection closed */
	struct evhttp_request *req; /* NULL when evhttp freed it with the connection */
	struct event_base *base;
	const char *ctype;
};

TAILQ_HEAD(http_connq, http_conn);

/* Log a limit once per HTTP_LOG_EVERY_S; count the lines kept quiet. */
struct http_ratelog {
	int64_t last_us;
	unsigned long quiet;
};

enum { HTTP_PAUSED_BATCH = 1, HTTP_PAUSED_FDS = 2 };

struct http {
	struct event_base *base;
	struct monitor *d;
	struct evhttp *ev;
	struct evhttp_bound_socket *sock;
	struct conf *conf; /* our reference: listen address, token, public page */
	char listen[300];  /* what sock is bound to, as configured */
	SSL_CTX *tls; /* ours; NULL: plain HTTP. Each connection's SSL holds its own reference */
	char tls_desc[400]; /* https_describe() of tls, as last logged */
	int loopback;       /* sock is on 127.0.0.0/8 or ::1 */
	unsigned max_conns, max_per_addr;
	unsigned long long nofile, kept; /* open files limit; kept back from HTTP */
	unsigned nconns, npending;
	int paused;              /* HTTP_PAUSED_* */
	struct event *ev_admit;  /* made active by on_new_bev(): runs admit() */
	struct event *ev_resume; /* ends an HTTP_PAUSED_FDS pause */
	struct http_connq pending, conns;
	struct http_conn *by_evcon[HTTP_CONN_BUCKETS];
	struct http_addr *addrs[HTTP_ADDR_BUCKETS];
	struct http_ratelog rl[HTTP_LIMIT__COUNT];
};

/*
 * Process-wide: the counters outlive a listener that a reload turns off
 * and on again. running is the server whose listener reports accept
 * errors: libevent hands that callback evhttp's pointer, not ours.
 */
static struct http_stats stats;
static struct http *running;

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

static void on_accept_error(struct evconnlistener *lev, void *arg);

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
	if (!bs) {
		snprintf(err, errlen, "http.listen %.300s: cannot listen: %s", listen,
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return NULL;
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bs), on_accept_error);
	if (h->paused)
		evconnlistener_disable(evhttp_bound_socket_get_listener(bs));
	return bs;
}

/* ---- connections: caps, deadline, accept errors ---------------------------- */

const char *http_limit_name(enum http_limit l)
{
	static const char *const names[HTTP_LIMIT__COUNT] = {
	    [HTTP_LIMIT_ADDRESS] = "per_address",
	    [HTTP_LIMIT_TOTAL] = "total",
	    [HTTP_LIMIT_DEADLINE] = "deadline",
	    [HTTP_LIMIT_FDS] = "descriptors",
	};

	return (unsigned)l < HTTP_LIMIT__COUNT ? names[l] : "?";
}

void http_stats(struct http_stats *st)
{
	*st = stats;
}

/* Counts a limit hit; 1 when a line may be logged now, with *quiet the ones not logged. */
static int limit_hit(struct http *h, enum http_limit l, unsigned long *quiet)
{
	struct http_ratelog *r = &h->rl[l];
	int64_t now = mp_now_us();

	stats.limited[l]++;
	if (r->last_us && now - r->last_us < (int64_t)HTTP_LOG_EVERY_S * 1000000) {
		r->quiet++;
		return 0;
	}
	*quiet = r->quiet;
	r->quiet = 0;
	r->last_us = now;
	return 1;
}

/* "; N more like this since ..." for a rate-limited line. */
static const char *quiet_note(unsigned long quiet, char *buf, size_t len)
{
	if (!quiet)
		return "";
	snprintf(buf, len, "; %lu more like this since the last such line", quiet);
	return buf;
}

static struct evconnlistener *listener_of(const struct http *h)
{
	return h->sock ? evhttp_bound_socket_get_listener(h->sock) : NULL;
}

static void pause_accepts(struct http *h, int why)
{
	if (!h->paused && listener_of(h))
		evconnlistener_disable(listener_of(h));
	h->paused |= why;
}

static void resume_accepts(struct http *h, int why)
{
	if (!(h->paused & why))
		return;
	h->paused &= ~why;
	if (!h->paused && listener_of(h))
		evconnlistener_enable(listener_of(h));
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	resume_accepts(arg, HTTP_PAUSED_FDS);
}

/*
 * accept() failed with something libevent does not retry: out of
 * descriptors (EMFILE, ENFILE) or memory. The socket stays readable, so
 * libevent would call accept() again at once, forever: pause instead.
 */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();
	struct http *h = running;
	struct timeval tv = {HTTP_PAUSE_MS / 1000, (HTTP_PAUSE_MS % 1000) * 1000};
	unsigned long quiet;
	char note[80];

	if (!h || arg != h->ev || lev != listener_of(h)) {
		evconnlistener_disable(lev); /* not ours to resume: a listener being replaced */
		return;
	}
	pause_accepts(h, HTTP_PAUSED_FDS);
	if (evtimer_add(h->ev_resume, &tv) != 0)
		resume_accepts(h, HTTP_PAUSED_FDS);
	if (limit_hit(h, HTTP_LIMIT_FDS, &quiet))
		log_msg(LOG_ERR,
		        "http: accept failed: %s; no new connections for %d ms (%u open, open "
		        "files limit %llu)%s",
		        evutil_socket_error_to_string(e), HTTP_PAUSE_MS, h->nconns, h->nofile,
		        quiet_note(quiet, note, sizeof(note)));
}

/* The cap on connections: http.max_connections, or what the open files limit leaves. */
static void set_caps(struct http *h, const struct conf *conf)
{
	struct rlimit rl;
	unsigned long long room, max = conf->http_max_conns;

	h->nofile = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		h->nofile =
		    rl.rlim_cur == RLIM_INFINITY ? (1ULL << 20) : (unsigned long long)rl.rlim_cur;
	h->kept = (unsigned long long)conf->max_in_flight + HTTP_FD_SPARE;
	room =
	    h->nofile > h->kept + HTTP_ACCEPT_BATCH ? h->nofile - h->kept - HTTP_ACCEPT_BATCH : 0;
	if (room < max)
		max = room;
	if (max < HTTP_CONNS_FLOOR) {
		log_msg(
		    LOG_WARNING,
		    "http: the open files limit (%llu) leaves only %llu descriptors for HTTP "
		    "connections once %llu are kept for probes (max_in_flight), notifications and "
		    "the store; allowing %d: raise LimitNOFILE (ulimit -n)",
		    h->nofile, room, h->kept, HTTP_CONNS_FLOOR);
		max = HTTP_CONNS_FLOOR;
	}
	h->max_conns = (unsigned)max;
	h->max_per_addr = conf->http_max_conns_per_addr;
	stats.max = h->max_conns;
	stats.max_per_address = h->max_per_addr;
}

/* key: family, then the IPv4 address or the /64 of an IPv6 one; zeros when unknown. */
static void addr_key(evutil_socket_t fd, unsigned char key[HTTP_ADDR_KEY])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(key, 0, HTTP_ADDR_KEY);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
	} else if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 8);
		}
	}
}

static const char *addr_text(const struct http_addr *a, char *buf, size_t len)
{
	unsigned char v6[16] = {0};

	if (a->key[0] == 4 && inet_ntop(AF_INET, a->key + 1, buf, (socklen_t)len))
		return buf;
	if (a->key[0] == 6) {
		memcpy(v6, a->key + 1, 8);
		if (inet_ntop(AF_INET6, v6, buf, (socklen_t)len) && strlen(buf) + 4 < len) {
			strcat(buf, "/64");
			return buf;
		}
	}
	return "an unknown address";
}

static unsigned addr_bucket(const unsigned char key[HTTP_ADDR_KEY])
{
	uint32_t x = 2166136261u;

	for (int i = 0; i < HTTP_ADDR_KEY; i++)
		x = (x ^ key[i]) * 16777619u;
	return x % HTTP_ADDR_BUCKETS;
}

/* The entry for key, made on first use. NULL when out of memory. */
static struct http_addr *addr_get(struct http *h, const unsigned char key[HTTP_ADDR_KEY])
{
	unsigned b = addr_bucket(key);
	struct http_addr *a;

	for (a = h->addrs[b]; a; a = a->next)
		if (memcmp(a->key, key, HTTP_ADDR_KEY) == 0)
			return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	memcpy(a->key, key, HTTP_ADDR_KEY);
	a->next = h->addrs[b];
	h->addrs[b] = a;
	return a;
}

static void addr_put(struct http *h, struct http_addr *a)
{
	struct http_addr **pp = &h->addrs[addr_bucket(a->key)];

	if (--a->n > 0)
		return;
	while (*pp && *pp != a)
		pp = &(*pp)->next;
	if (*pp)
		*pp = a->next;
	free(a);
}

static unsigned conn_bucket(const struct evhttp_connection *evcon)
{
	return (unsigned)(((uintptr_t)evcon >> 4) % HTTP_CONN_BUCKETS);
}

static struct http_conn *conn_find(struct http *h, const struct evhttp_connection *evcon)
{
	struct http_conn *c = h->by_evcon[conn_bucket(evcon)];

	while (c && c->evcon != evcon)
		c = c->hnext;
	return c;
}

/* evhttp closes the connection (on its own, or because we asked): forget it. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn *c = arg, **pp;
	struct http *h = c->h;

	pp = &h->by_evcon[conn_bucket(evcon)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	/*
	 * evhttp frees the requests still on the connection after this; one
	 * whose client left before its reply it detached instead (no
	 * connection), and the reply sent later frees it.
	 */
	for (struct http_later *l = c->later; l; l = l->next) {
		if (l->req && evhttp_request_get_connection(l->req) != NULL)
			l->req = NULL;
		l->c = NULL;
	}
	if (c->tls) {
		char why[160], a[INET6_ADDRSTRLEN + 4];

		/* Scanners and plain-HTTP clients are common: debug, not notice. */
		if (https_failure(c->bev, why, sizeof(why)))
			log_msg(LOG_DEBUG, "http: TLS connection from %s closed: %s",
			        addr_text(c->addr, a, sizeof(a)), why);
	}
	TAILQ_REMOVE(&h->conns, c, link);
	/* evhttp drains the input buffer next: our callback must be gone by then. */
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->incb);
	event_free(c->deadline);
	addr_put(h, c->addr);
	h->nconns--;
	stats.open--;
	free(c);
}

/* Closes c now; on_close() frees it. Never from inside one of evhttp's callbacks for c. */
static void conn_close(struct http_conn *c)
{
	evhttp_connection_free(c->evcon);
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;

	(void)buf;
	if (info->n_added > 0)
		c->got_bytes = 1;
}

static void arm_deadline(struct http_conn *c)
{
	struct timeval tv = {HTTP_DEADLINE_S, 0};

	c->got_bytes = 0;
	evtimer_add(c->deadline, &tv);
}

/*
 * A connection that began no request since its last reply is merely idle.
 * A TLS client starts its handshake as soon as it connects: one not done
 * by now is stalled, not idle.
 */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	unsigned long quiet;
	char note[80], a[INET6_ADDRSTRLEN + 4];
	int handshaking = c->tls && https_handshaking(c->bev);

	(void)fd;
	(void)what;
	if ((c->got_bytes || handshaking) && limit_hit(c->h, HTTP_LIMIT_DEADLINE, &quiet))
		log_msg(LOG_NOTICE, "http: connection from %s closed: no %s within %d s%s",
		        addr_text(c->addr, a, sizeof(a)),
		        handshaking ? "TLS handshake completed" : "complete request",
		        HTTP_DEADLINE_S, quiet_note(quiet, note, sizeof(note)));
	conn_close(c);
}

/* Refuse c with a 503 it may or may not read, then close it. */
static void conn_refuse(struct http_conn *c)
{
	static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
	                           "Connection: close\r\nRetry-After: 10\r\n\r\n";
	evutil_socket_t fd = c->tls ? -1 : bufferevent_getfd(c->bev);

	if (fd >= 0)
		(void)send(fd, r503, sizeof(r503) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	conn_close(c);
}

/*
 * evhttp accepts a connection and asks for its bufferevent: we make it,
 * keep a reference, and note it as pending. Nothing else can be done
 * here: evhttp has not yet made the connection object, nor given the
 * bufferevent its socket. admit() follows on the same loop pass, before
 * any event of the new connection can run.
 */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL; /* evhttp makes its own: that connection goes uncounted */
	c->tls = h->tls != NULL;
	c->bev = c->tls ? https_bev_new(base, h->tls) : NULL;
	if (c->tls && !c->bev) {
		/*
		 * Out of memory for TLS: evhttp would make a plain bufferevent
		 * and serve plaintext on the TLS port. A plain one of ours
		 * instead, closed as soon as admit() sees it.
		 */
		c->tls = 0;
		c->drop = 1;
	}
	if (!c->bev)
		c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		free(c);
		return NULL;
	}
	bufferevent_incref(c->bev);
	c->h = h;
	TAILQ_INSERT_TAIL(&h->pending, c, link);
	h->npending++;
	event_active(h->ev_admit, EV_TIMEOUT, 0);
	/* Bounds the descriptors one burst takes before the caps are applied. */
	if (h->npending >= HTTP_ACCEPT_BATCH)
		pause_accepts(h, HTTP_PAUSED_BATCH);
	return c->bev;
}

/* Apply the caps to c, just admitted: 0 when it stays. */
static int apply_caps(struct http *h, struct http_conn *c)
{
	unsigned long quiet;
	char note[80], a[INET6_ADDRSTRLEN + 4], b[INET6_ADDRSTRLEN + 4];

	if (c->addr->n > h->max_per_addr) {
		if (limit_hit(h, HTTP_LIMIT_ADDRESS, &quiet))
			log_msg(LOG_WARNING,
			        "http: connection limit: %s already has %u connections open, the "
			        "most one address may (http.max_connections_per_address): a new "
			        "one refused%s",
			        addr_text(c->addr, a, sizeof(a)), h->max_per_addr,
			        quiet_note(quiet, note, sizeof(note)));
		conn_refuse(c);
		return -1;
	}
	if (h->nconns > h->max_conns) {
		/* The one that has waited longest since its last request: a stalled client. */
		struct http_conn *old = TAILQ_FIRST(&h->conns);

		if (limit_hit(h, HTTP_LIMIT_TOTAL, &quiet))
			log_msg(LOG_WARNING,
			        "http: connection limit: %u connections open, the most allowed "
			        "(http.max_connections, or what the open files limit leaves): the "
			        "longest waiting, from %s, closed for a new one from %s%s",
			        h->max_conns, addr_text(old->addr, a, sizeof(a)),
			        addr_text(c->addr, b, sizeof(b)),
			        quiet_note(quiet, note, sizeof(note)));
		if (old == c) {
			conn_refuse(c);
			return -1;
		}
		conn_close(old);
	}
	return 0;
}

/*
 * The connection is set up now: find evhttp's connection object (the
 * bufferevent's callback argument, as evhttp_connection_base_bufferevent_new()
 * sets it, checked against the connection's own bufferevent), watch for its
 * close, count it under its address, start its deadline, apply the caps.
 */
static void admit(struct http *h, struct http_conn *c)
{
	struct bufferevent *bev = c->bev;
	unsigned char key[HTTP_ADDR_KEY];
	char a[INET6_ADDRSTRLEN + 4];
	void *arg = NULL;

	bufferevent_getcb(bev, NULL, NULL, NULL, &arg);
	if (!arg || evhttp_connection_get_bufferevent(arg) != bev) {
		/* evhttp gave it up already (out of memory): bufferevent_free() cleared it. */
		bufferevent_decref(bev);
		free(c);
		return;
	}
	c->evcon = arg;
	addr_key(bufferevent_getfd(bev), key);
	/*
	 * A reply goes out whole, and at once: over TLS it leaves in two
	 * writes, and Nagle held the second for the client's delayed ACK
	 * (some 40 ms per request, which a node pushing batches pays each time).
	 */
	{
		int one = 1;

		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof(one));
	}
	c->deadline = evtimer_new(h->base, on_deadline, c);
	c->incb = c->deadline ? evbuffer_add_cb(bufferevent_get_input(bev), on_input, c) : NULL;
	c->addr = c->incb ? addr_get(h, key) : NULL;
	if (!c->addr) {
		log_msg(LOG_ERR, "http: out of memory accepting a connection");
		if (c->incb)
			evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->incb);
		if (c->deadline)
			event_free(c->deadline);
		evhttp_connection_free(c->evcon);
		bufferevent_decref(bev);
		free(c);
		return;
	}
	c->addr->n++;
	h->nconns++;
	stats.open++;
	c->hnext = h->by_evcon[conn_bucket(c->evcon)];
	h->by_evcon[conn_bucket(c->evcon)] = c;
	TAILQ_INSERT_TAIL(&h->conns, c, link);
	evhttp_connection_set_closecb(c->evcon, on_close, c);
	bufferevent_decref(bev); /* evhttp's from now on; on_close() comes before its end */
	arm_deadline(c);
	if (c->drop) {
		log_msg(LOG_ERR, "http: out of memory for TLS: a connection from %s closed",
		        addr_text(c->addr, a, sizeof(a)));
		conn_close(c);
		return;
	}
	(void)apply_caps(h, c);
}

static void on_admit(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	struct http_conn *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&h->pending))) {
		TAILQ_REMOVE(&h->pending, c, link);
		h->npending--;
		admit(h, c);
	}
	resume_accepts(h, HTTP_PAUSED_BATCH);
}

/* A request is complete: its deadline is met; the reply is bounded by evhttp's timeout. */
static void on_reply_sent(struct evhttp_request *req, void *arg)
{
	struct http_conn *c = arg;

	(void)req;
	TAILQ_REMOVE(&c->h->conns, c, link);
	TAILQ_INSERT_TAIL(&c->h->conns, c, link);
	arm_deadline(c);
}

static void conn_on_request(struct http *h, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct http_conn *c = evcon ? conn_find(h, evcon) : NULL;

	if (!c)
		return;
	evtimer_del(c->deadline);
	TAILQ_REMOVE(&h->conns, c, link);
	TAILQ_INSERT_TAIL(&h->conns, c, link);
	evhttp_request_set_on_complete_cb(req, on_reply_sent, c);
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
	case 304:
		return "Not Modified";
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
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
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
	return http_bearer_ok(
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"),
	    h->conf->http_token);
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

static struct http_later *later_new(struct route_ctx *c, const char *ctype)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
	struct http_conn *conn = evcon ? conn_find(c->h, evcon) : NULL;
	struct http_later *l;

	if (!conn || !(l = calloc(1, sizeof(*l))))
		return NULL;
	l->c = conn;
	l->req = c->req;
	l->base = c->h->base;
	l->ctype = ctype;
	l->next = conn->later;
	conn->later = l;
	return l;
}

static void later_unlink(struct http_later *l)
{
	struct http_later **pp;

	if (!l->c)
		return;
	for (pp = &l->c->later; *pp && *pp != l; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = l->next;
	l->c = NULL;
}

/* Not used: the handler answered at once. */
static void later_drop(struct http_later *l)
{
	later_unlink(l);
	free(l);
}

void http_later_send(struct http_later *l, int code, struct evbuffer *body)
{
	later_unlink(l);
	/* A detached request (its client left) is freed by evhttp_send_reply(). */
	if (l->req)
		reply(l->req, code, code >= 400 ? "application/json" : l->ctype, body);
	free(l);
}

struct event_base *http_later_base(const struct http_later *l)
{
	return l->base;
}

typedef int (*api_later_fn)(struct route_ctx *c, struct evbuffer *out, struct http_later *l);

/* As serve_api(), for a handler that may answer later (API_LATER: it took l over). */
static void serve_api_later(struct route_ctx *c, api_later_fn fn, const char *ctype)
{
	struct evbuffer *b = evbuffer_new();
	struct http_later *l = b ? later_new(c, ctype) : NULL;
	int code;

	if (!l) {
		if (b)
			evbuffer_free(b);
		reply_error(c->req, 500, "internal", "out of memory");
		return;
	}
	code = fn(c, b, l);
	if (code != API_LATER) {
		later_drop(l);
		send_buffer(c, code, code >= 400 ? "application/json" : ctype, b);
	}
	evbuffer_free(b);
}

static int do_checks(struct route_ctx *c, struct evbuffer *out)
{
	return api_checks(c->h->d, out);
}

static int do_check(struct route_ctx *c, struct evbuffer *out, struct http_later *l)
{
	return api_check(c->h->d, c->seg[3], out, l);
}

static int do_results(struct route_ctx *c, struct evbuffer *out, struct http_later *l)
{
	return api_results(c->h->d, c->seg[3], &c->query, out, l);
}

static int do_uptime(struct route_ctx *c, struct evbuffer *out, struct http_later *l)
{
	return api_uptime(c->h->d, c->seg[3], &c->query, out, l);
}

static int do_series(struct route_ctx *c, struct evbuffer *out, struct http_later *l)
{
	return api_series(c->h->d, c->seg[3], &c->query, out, l);
}

static int do_run(struct route_ctx *c, struct evbuffer *out)
{
	return api_run(c->h->d, c->seg[3], out);
}

static int do_incidents(struct route_ctx *c, struct evbuffer *out, struct http_later *l)
{
	return api_incidents(c->h->d, &c->query, out, l);
}

static int do_nodes(struct route_ctx *c, struct evbuffer *out)
{
	return api_nodes(c->h->d, out);
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

/* The client's address as text, for a log line. */
static const char *peer_text(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL; /* libevent's, not ours to free */
	ev_uint16_t port = 0;

	if (evcon)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(buf, len, "%s", addr ? addr : "?");
	return buf;
}

/* /api/v1/nodes/NAME/OP: the node's own token, not the API's (nodes.h). */
static void route_nodes(struct route_ctx *c)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	const struct evkeyvalq *ih = evhttp_request_get_input_headers(c->req);
	struct http_nodes_req rq;
	struct http_nodes_reply rp;
	struct evbuffer *b = evbuffer_new();
	char peer[64];

	if (!b) {
		reply_error(c->req, 500, "internal", "out of memory");
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.node = c->seg[3];
	rq.op = c->seg[4];
	rq.get = c->cmd == EVHTTP_REQ_GET;
	rq.post = c->cmd == EVHTTP_REQ_POST;
	rq.authorization = evhttp_find_header(ih, "Authorization");
	rq.if_none_match = evhttp_find_header(ih, "If-None-Match");
	rq.peer = peer_text(c->req, peer, sizeof(peer));
	rq.bodylen = evbuffer_get_length(in);
	rq.body = rq.bodylen ? (const char *)evbuffer_pullup(in, -1) : "";
	if (!rq.body) {
		evbuffer_free(b);
		reply_error(c->req, 500, "internal", "out of memory");
		return;
	}
	rq.later = later_new(c, "application/json");
	if (!rq.later) {
		evbuffer_free(b);
		reply_error(c->req, 500, "internal", "out of memory");
		return;
	}
	http_nodes_serve(c->h->d, c->h->conf, &rq, b, &rp);
	if (rp.code == API_LATER) {
		evbuffer_free(b);
		return;
	}
	later_drop(rq.later);
	if (rp.www_authenticate)
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "WWW-Authenticate",
		                  "Bearer realm=\"mailpulse nodes\"");
	if (rp.etag[0])
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "ETag", rp.etag);
	if (rp.retry_after_s) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%d", rp.retry_after_s);
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", ra);
	}
	send_buffer(c, rp.code, "application/json", rp.code == 304 ? NULL : b);
	evbuffer_free(b);
}

static void route_api(struct route_ctx *c)
{
	int n = c->nseg;

	if (n == 5 && seg_is(c, 2, "nodes")) {
		route_nodes(c);
		return;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(c->req)) > HTTP_BODY_MAX) {
		reply_error(c->req, 413, "payload_too_large", "this endpoint takes no body");
		return;
	}

	/* /api/v1/... from here; seg[2] is the collection. */
	if (n == 3 && seg_is(c, 2, "checks")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_checks, "application/json");
	} else if (n == 4 && seg_is(c, 2, "checks")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api_later(c, do_check, "application/json");
	} else if (n == 5 && seg_is(c, 2, "checks") && seg_is(c, 4, "results")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api_later(c, do_results, "application/json");
	} else if (n == 5 && seg_is(c, 2, "checks") && seg_is(c, 4, "uptime")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api_later(c, do_uptime, "application/json");
	} else if (n == 5 && seg_is(c, 2, "checks") && seg_is(c, 4, "series")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api_later(c, do_series, "application/json");
	} else if (n == 5 && seg_is(c, 2, "checks") && seg_is(c, 4, "run")) {
		if (method_allowed(c, 1, 0) && may_run(c->h, c->req) == 0)
			serve_api(c, do_run, "application/json");
	} else if (n == 3 && seg_is(c, 2, "incidents")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api_later(c, do_incidents, "application/json");
	} else if (n == 3 && seg_is(c, 2, "nodes")) {
		if (method_allowed(c, 0, 1) && need_token(c->h, c->req) == 0)
			serve_api(c, do_nodes, "application/json");
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

	if (!(n >= 2 && seg_is(c, 0, "api") && seg_is(c, 1, "v1")) &&
	    evbuffer_get_length(evhttp_request_get_input_buffer(c->req)) > HTTP_BODY_MAX) {
		reply_error(c->req, 413, "payload_too_large", "this page takes no body");
		return;
	}
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
	} else if (n == 1 && seg_is(c, 0, "locations")) {
		serve_asset(c, "locations.html");
	} else if (n == 1 && seg_is(c, 0, "nodes")) {
		serve_asset(c, "nodes.html");
	} else if (n == 2 && seg_is(c, 0, "check")) {
		serve_asset(c, "check.html");
	} else if (n == 2 && seg_is(c, 0, "static") && strstr(c->seg[1], ".html") == NULL) {
		serve_asset(c, c->seg[1]);
	} else if (n >= 2 && seg_is(c, 0, "api") && seg_is(c, 1, "v1")) {
		route_api(c);
		return;
	} else {
		reply_error(c->req, 404, "not_found", "no such page");
	}
}

/* "127.x.y.z" in n bytes: four decimal numbers 0-255, no leading zeros, the first 127. */
static int ipv4_loopback(const char *s, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t digits = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[i - digits] == '0'))
			return 0;
		if (part == 0 && v != 127)
			return 0;
	}
	return i == n;
}

/* ":PORT" after the name: 1 to 5 digits, 1 to 65535. */
static int port_ok(const char *p)
{
	unsigned long v = 0;
	size_t digits = 0;

	for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
		v = v * 10 + (unsigned long)(*p - '0');
	return *p == '\0' && digits >= 1 && digits <= 5 && v >= 1 && v <= 65535;
}

int http_host_is_local(const char *host)
{
	size_t n;

	if (!host)
		return 0;
	if (host[0] == '[') {
		if (strncmp(host, "[::1]", 5) != 0)
			return 0;
		n = 5;
	} else {
		const char *colon = strchr(host, ':');

		n = colon ? (size_t)(colon - host) : strlen(host);
		if (!(n == 9 && strncasecmp(host, "localhost", 9) == 0) && !ipv4_loopback(host, n))
			return 0;
	}
	if (host[n] == '\0')
		return 1;
	return host[n] == ':' && port_ok(host + n + 1);
}

static int header_count(const struct evkeyvalq *hs, const char *name)
{
	const struct evkeyval *kv;
	int n = 0;

	TAILQ_FOREACH(kv, hs, next)
	{
		if (strcasecmp(kv->key, name) == 0)
			n++;
	}
	return n;
}

/*
 * DNS rebinding: a web page can point its own name at 127.0.0.1 and then
 * read a loopback server as "same origin". Without a token, a loopback
 * listener answers only requests addressed to this machine by a name no
 * one else can own (http_host_is_local()); a page cannot make a browser
 * send such a Host header for its own origin.
 */
static int host_ok(const struct http *h, struct evhttp_request *req)
{
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");

	if (!h->loopback || h->conf->http_token)
		return 1;
	if (!host)
		return 1; /* HTTP/1.0 clients (curl -0, scripts): no browser sends none */
	return http_host_is_local(host);
}

/*
 * 1 when the request's HTTP version may be answered. libevent 2.1 takes
 * any "HTTP/%d.%d" whose major is at most 1 (negative numbers and "1.12"
 * included), keeps both numbers in chars and writes them back into the
 * reply's status line: "HTTP/1.12 200 OK", "HTTP/1.-5 ...", which no
 * client can read. RFC 9112 2.3 has one digit each: 1.2 to 1.9 are
 * answered as 1.1 (the highest 1.x we conform to); for anything else the
 * version is set to 1.1 for our reply, which is sent here: 505 for a major
 * other than 1, 400 for a malformed minor. 0 then.
 */
static int version_ok(struct evhttp_request *req)
{
	int major = req->major, minor = req->minor;

	if (major == 1 && minor >= 0 && minor <= 9) {
		if (minor > 1)
			req->minor = 1;
		return 1;
	}
	req->major = 1;
	req->minor = 1;
	if (major != 1)
		reply_error(req, 505, "http_version_not_supported", "this server speaks HTTP/1.x");
	else
		reply_error(req, 400, "bad_request", "the HTTP version is malformed");
	return 0;
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
	conn_on_request(c.h, req);
	if (!version_ok(req))
		return;
	/* RFC 9112 3.2: two Host headers are a 400, whatever the first one says. */
	if (header_count(evhttp_request_get_input_headers(req), "Host") > 1) {
		reply_error(req, 400, "bad_request", "more than one Host header");
		return;
	}
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
	log_msg(LOG_INFO, "http: listening on %s%s%s", listen, h->tls ? " (TLS)" : "",
	        h->conf->http_token ? " (bearer token required)" : "");
	if (!h->loopback && !h->conf->http_token)
		log_msg(LOG_WARNING,
		        "http: %s is not a loopback address and no token is set: the API and "
		        "/metrics are open to anyone who can reach it (POST run is refused)",
		        listen);
}

/* The certificate served, when it is new (at start, or changed by a reload). */
static void note_tls(struct http *h)
{
	char d[sizeof(h->tls_desc)];

	if (!h->tls) {
		if (h->tls_desc[0])
			log_msg(LOG_NOTICE, "http: TLS off: plain HTTP on %s", h->listen);
		h->tls_desc[0] = '\0';
		return;
	}
	https_describe(h->tls, d, sizeof(d));
	if (strcmp(d, h->tls_desc) == 0)
		return;
	snprintf(h->tls_desc, sizeof(h->tls_desc), "%s", d);
	log_msg(LOG_NOTICE, "http: TLS certificate %s (%s)", d, h->conf->http_tls_cert);
}

static void note_caps(const struct http *h)
{
	log_msg(LOG_INFO,
	        "http: up to %u connections, %u per client address (open files limit %llu, %llu "
	        "kept for probes, notifications and the store)",
	        h->max_conns, h->max_per_addr, h->nofile, h->kept);
}

/*
 * Nothing we serve takes a body but a node's batch: the limit is the
 * batch's when nodes are configured, and every other request is then
 * held to HTTP_BODY_MAX by route() (evhttp has one limit for all paths,
 * and reads the body before we see the path). The memory a client can
 * make us hold is then NODE_BODY_MAX per connection, under the caps.
 */
static void body_limit(struct http *h, const struct conf *conf)
{
	evhttp_set_max_body_size(h->ev, conf->nnodes > 0 ? NODE_BODY_MAX : HTTP_BODY_MAX);
}

struct http *http_start(struct event_base *base, struct monitor *d, const struct conf *conf,
                        char *err, size_t errlen)
{
	struct http *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, errlen, "http: out of memory");
		return NULL;
	}
	h->base = base;
	h->d = d;
	TAILQ_INIT(&h->pending);
	TAILQ_INIT(&h->conns);
	h->ev = evhttp_new(base);
	h->ev_admit = event_new(base, -1, 0, on_admit, h);
	h->ev_resume = evtimer_new(base, on_resume, h);
	if (!h->ev || !h->ev_admit || !h->ev_resume) {
		snprintf(err, errlen, "http: out of memory");
		http_free(h);
		return NULL;
	}
	evhttp_set_max_headers_size(h->ev, HTTP_HEADERS_MAX);
	body_limit(h, conf);
	/* No byte for this long, reading or writing: closed (the deadline is admit()'s). */
	evhttp_set_timeout(h->ev, HTTP_DEADLINE_S);
	/* Every method reaches on_request, which answers 405 with Allow itself. */
	evhttp_set_allowed_methods(h->ev, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                                      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
	                                      EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	evhttp_set_gencb(h->ev, on_request, h);
	evhttp_set_bevcb(h->ev, on_new_bev, h);
	/* The conf is immutable and reference counted; we only read it. */
	h->conf = (struct conf *)(uintptr_t)conf;
	conf_ref(h->conf);
	set_caps(h, conf);
	if (conf->http_tls_cert && !(h->tls = https_ctx_new(conf, err, errlen))) {
		http_free(h);
		return NULL;
	}
	h->sock = bind_listen(h, conf->listen, err, errlen);
	if (!h->sock) {
		http_free(h);
		return NULL;
	}
	running = h;
	note_listener(h, conf->listen);
	note_tls(h);
	note_caps(h);
	api_cache_start(conf->store_path, conf->store_secret);
	return h;
}

/*
 * All or nothing: the steps that can fail, making the TLS context and
 * binding a new address, come first; after them nothing can. The TLS
 * context is made anew on every reload: the same file names may hold a
 * renewed certificate. Connections open keep the context they began with.
 */
int http_reconfigure(struct http *h, const struct conf *conf, char *err, size_t errlen)
{
	struct conf *nc = (struct conf *)(uintptr_t)conf;
	int moved = strcmp(conf->listen, h->listen) != 0;
	unsigned was_max = h->max_conns, was_per = h->max_per_addr;
	SSL_CTX *tls = NULL;
	int was_tls = h->tls != NULL;

	if (conf->http_tls_cert && !(tls = https_ctx_new(conf, err, errlen)))
		return -1;
	if (moved) {
		struct evhttp_bound_socket *bs = bind_listen(h, conf->listen, err, errlen);

		if (!bs) {
			SSL_CTX_free(tls);
			return -1;
		}
		/* Connections accepted on the old address stay until they close. */
		evhttp_del_accept_socket(h->ev, h->sock);
		h->sock = bs;
	}
	SSL_CTX_free(h->tls);
	h->tls = tls;
	conf_ref(nc);
	conf_unref(h->conf);
	h->conf = nc;
	set_caps(h, conf);
	body_limit(h, conf);
	if (moved || was_tls != (tls != NULL))
		note_listener(h, conf->listen);
	note_tls(h);
	if (moved || was_max != h->max_conns || was_per != h->max_per_addr)
		note_caps(h);
	return 0;
}

void http_free(struct http *h)
{
	struct http_conn *c;

	if (!h)
		return;
	if (running == h)
		running = NULL;
	api_cache_stop();
	/*
	 * Frees the listener and every open connection with its pending
	 * request; on_close() forgets each admitted one as it goes.
	 */
	if (h->ev)
		evhttp_free(h->ev);
	while ((c = TAILQ_FIRST(&h->pending))) {
		TAILQ_REMOVE(&h->pending, c, link);
		bufferevent_decref(c->bev); /* evhttp freed its connection: the last reference */
		free(c);
	}
	if (h->ev_admit)
		event_free(h->ev_admit);
	if (h->ev_resume)
		event_free(h->ev_resume);
	SSL_CTX_free(h->tls);
	stats.max = 0;
	stats.max_per_address = 0;
	if (h->conf)
		conf_unref(h->conf);
	free(h);
}
