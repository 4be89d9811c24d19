/* SPDX-License-Identifier: ISC */
/*
 * curl_loop.c - libcurl multi on a libevent base, after curl
 * docs/examples/multi-event.c: libcurl says which sockets to watch and
 * when to wake it (on_curl_socket, on_curl_timer); libevent reports
 * readiness back (on_sock_event, on_timer_event); finished transfers are
 * collected after each call into libcurl (check_done).
 *
 * Response bodies are kept up to a bound the caller sets per transfer,
 * growing from a small buffer, so a bound of a megabyte costs nothing for
 * the usual short answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "net/curl_loop.h"

#define CURL_LOOP_BODY_START 256 /* first allocation for a body */

/* One socket libcurl asked us to watch; freed on CURL_POLL_REMOVE or by curl_loop_free(). */
struct sock {
	LIST_ENTRY(sock) link;
	struct curl_loop *l;
	struct event *ev;
};

/* Made by curl_loop_add(), freed after its callback, by curl_loop_cancel() or curl_loop_free(). */
struct curl_loop_xfer {
	LIST_ENTRY(curl_loop_xfer) link;
	struct curl_loop *l;
	CURL *easy;
	curl_loop_done_cb cb;
	void *arg;
	unsigned flags;
	char errbuf[CURL_ERROR_SIZE];
	char *body;
	size_t len, cap, max;
	int cut;  /* bytes were dropped (CURL_LOOP_BODY_CUT) */
	int over; /* the body passed max: the transfer was stopped */
	int oom;  /* no memory for the body: the transfer was stopped */
};

struct curl_loop {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	LIST_HEAD(, sock) socks;
	LIST_HEAD(, curl_loop_xfer) xfers;
	int nxfers;
};

static void sock_free(struct sock *sk)
{
	LIST_REMOVE(sk, link);
	if (sk->ev)
		event_free(sk->ev);
	free(sk);
}

static void xfer_free(struct curl_loop_xfer *x)
{
	LIST_REMOVE(x, link);
	x->l->nxfers--;
	curl_multi_remove_handle(x->l->multi, x->easy);
	curl_easy_cleanup(x->easy);
	free(x->body);
	free(x);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct curl_loop_xfer *x = arg;
	size_t n = size * nmemb, room = x->max - x->len, k = n < room ? n : room;

	if (n > room) {
		if (!(x->flags & CURL_LOOP_BODY_CUT)) {
			x->over = 1;
			return 0; /* libcurl stops the transfer: CURLE_WRITE_ERROR */
		}
		x->cut = 1;
	}
	if (k == 0)
		return n;
	if (x->len + k + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : CURL_LOOP_BODY_START;
		char *b;

		while (cap < x->len + k + 1)
			cap *= 2;
		if (cap > x->max + 1)
			cap = x->max + 1;
		if (!(b = realloc(x->body, cap))) {
			x->oom = 1;
			return 0;
		}
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, ptr, k);
	x->len += k;
	x->body[x->len] = '\0';
	return n;
}

/* Report one finished transfer and free it. */
static void xfer_done(struct curl_loop_xfer *x, CURLcode rc)
{
	struct curl_loop_result r = {
	    .easy = x->easy,
	    .rc = rc,
	    .errbuf = x->errbuf,
	    .body = x->body ? x->body : "",
	    .bodylen = x->len,
	    .body_cut = x->cut,
	};

	/* Our own stops show as what they were, not as libcurl's "write error". */
	if (x->over) {
		r.rc = CURLE_FILESIZE_EXCEEDED;
		snprintf(x->errbuf, sizeof(x->errbuf), "response body over %zu bytes", x->max);
	} else if (x->oom) {
		r.rc = CURLE_OUT_OF_MEMORY;
		snprintf(x->errbuf, sizeof(x->errbuf), "out of memory for the response body");
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
	if (r.rc == CURLE_COULDNT_CONNECT)
		curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &r.os_errno);
	/* Out of the multi first: the callback may add or cancel other transfers. */
	curl_multi_remove_handle(x->l->multi, x->easy);
	x->cb(&r, x->arg);
	xfer_free(x);
}

static void check_done(struct curl_loop *l)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(l->multi, &left))) {
		if (msg->msg == CURLMSG_DONE) {
			/* msg dies with the handle: take what is needed first. */
			CURL *e = msg->easy_handle;
			CURLcode rc = msg->data.result;
			struct curl_loop_xfer *x = NULL;

			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
			if (x)
				xfer_done(x, rc);
		}
	}
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct sock *sk = arg;
	struct curl_loop *l = sk->l; /* sk may be freed inside socket_action */
	int flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(l->multi, fd, flags, &running);
	check_done(l);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curl_loop *l = userp;
	struct sock *sk = socketp;
	short kind = EV_PERSIST;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sk)
			sock_free(sk);
		return 0;
	}
	if (!sk) {
		if (!(sk = calloc(1, sizeof(*sk))))
			return -1;
		sk->l = l;
		LIST_INSERT_HEAD(&l->socks, sk, link);
		curl_multi_assign(l->multi, s, sk);
	} else if (sk->ev) {
		event_free(sk->ev);
		sk->ev = NULL;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (!(sk->ev = event_new(l->base, s, kind, on_sock_event, sk)) || event_add(sk->ev, NULL))
		return -1;
	return 0;
}

static void on_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct curl_loop *l = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(l);
}

/* libcurl asks for one timer; acting on it must wait for the loop (multi-event.c). */
static int on_curl_timer(CURLM *m, long timeout_ms, void *arg)
{
	struct curl_loop *l = arg;
	struct timeval tv;

	(void)m;
	if (timeout_ms < 0)
		return evtimer_del(l->timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(l->timer, &tv);
}

/*
 * curl_global_init is not thread-safe in every libcurl and must run before
 * any thread exists; the daemon is single-threaded and makes its loops
 * before the event loop runs, so doing it here is safe.
 */
struct curl_loop *curl_loop_new(struct event_base *base)
{
	struct curl_loop *l;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	if (!(l = calloc(1, sizeof(*l)))) {
		curl_global_cleanup();
		return NULL;
	}
	l->base = base;
	LIST_INIT(&l->socks);
	LIST_INIT(&l->xfers);
	l->multi = curl_multi_init();
	l->timer = evtimer_new(base, on_timer_event, l);
	if (!l->multi || !l->timer) {
		curl_loop_free(l);
		return NULL;
	}
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	return l;
}

void curl_loop_free(struct curl_loop *l)
{
	struct sock *sk;

	if (!l)
		return;
	while (!LIST_EMPTY(&l->xfers))
		xfer_free(LIST_FIRST(&l->xfers));
	if (l->multi)
		curl_multi_cleanup(l->multi);
	/* Sockets libcurl never told us to forget (closed by the cleanup above). */
	while ((sk = LIST_FIRST(&l->socks)))
		sock_free(sk);
	if (l->timer)
		event_free(l->timer);
	free(l);
	curl_global_cleanup();
}

struct curl_loop_xfer *curl_loop_add(struct curl_loop *l, CURL *easy, size_t body_max,
                                     unsigned flags, curl_loop_done_cb cb, void *arg)
{
	struct curl_loop_xfer *x;
	CURLcode rc = CURLE_OK;

	if (!l || !easy || !cb || !(x = calloc(1, sizeof(*x)))) {
		if (easy)
			curl_easy_cleanup(easy);
		return NULL;
	}
	x->l = l;
	x->easy = easy;
	x->cb = cb;
	x->arg = arg;
	x->flags = flags;
	x->max = body_max;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(easy, opt, val);                                     \
	} while (0)
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, x);
	/* No alarm()-based DNS timeouts in a process with signal handlers. */
	SET(CURLOPT_NOSIGNAL, 1L);
#undef SET
	if (rc != CURLE_OK || curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
		curl_easy_cleanup(easy);
		free(x);
		return NULL;
	}
	LIST_INSERT_HEAD(&l->xfers, x, link);
	l->nxfers++;
	return x;
}

void curl_loop_cancel(struct curl_loop_xfer *x)
{
	if (x)
		xfer_free(x);
}

int curl_loop_running(const struct curl_loop *l)
{
	return l ? l->nxfers : 0;
}
