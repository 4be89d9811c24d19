/* SPDX-License-Identifier: ISC */
/*
 * test_notify_2xx.c - a 2xx status is a delivered alert, whatever happens
 * to the body after it.
 *
 * A receiver that answers "HTTP/1.1 200 OK" with "Content-Length: 100" and
 * closes after 10 bytes makes libcurl report a partial transfer after the
 * status. Counting that as a failure and retrying sent one alert six
 * times. The receiver here runs in the test's own event loop (a listener
 * on 127.0.0.1), so it counts every request it gets, per channel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "notify/notify.h"

#define KINDS 7

struct tc {
	struct event_base *base;
	struct notify *n;
	struct evconnlistener *lis;
	int port;
	int requests[KINDS]; /* by the path's first letter's channel */
	int attempts[KINDS];
	int ok[KINDS];
	char detail[KINDS][256];
	int ncalls;
};

static const char *const names[KINDS] = {"webhook", "slack",    "mattermost", "discord",
                                         "teams",   "telegram", "pagerduty"};
static const enum channel_type types[KINDS] = {CH_WEBHOOK, CH_SLACK,    CH_MATTERMOST, CH_DISCORD,
                                               CH_TEAMS,   CH_TELEGRAM, CH_PAGERDUTY};

static int kind_of(const char *name)
{
	for (int i = 0; i < KINDS; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* ---- the receiver: reads one request whole, answers a cut 200, closes ---- */

static void on_flushed(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_free(bev); /* closes: 10 of the 100 promised bytes were sent */
}

static void on_request(struct bufferevent *bev, void *arg)
{
	struct tc *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	char head[4096], path[256];
	size_t hl, clen = 0;

	if (end.pos < 0)
		return;
	hl = (size_t)end.pos + 4;
	if (hl >= sizeof(head))
		fail_msg("request head too long");
	evbuffer_copyout(in, head, hl);
	head[hl] = '\0';
	for (char *p = head; (p = strchr(p, '\n')); p++)
		if (strncasecmp(p + 1, "content-length:", 15) == 0)
			clen = strtoul(p + 16, NULL, 10);
	if (evbuffer_get_length(in) < hl + clen)
		return; /* the body is still coming */
	evbuffer_drain(in, hl + clen);
	/* "POST /NAME/... HTTP/1.1": NAME is the channel. */
	if (sscanf(head, "POST /%255[a-z]", path) != 1 || kind_of(path) < 0)
		fail_msg("unexpected request: %.80s", head);
	t->requests[kind_of(path)]++;
	bufferevent_setcb(bev, NULL, on_flushed, NULL, t);
	bufferevent_write(
	    bev,
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
	    "0123456789",
	    strlen("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
	           "100\r\n\r\n0123456789"));
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
	struct tc *t = arg;
	struct bufferevent *bev =
	    bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);

	(void)sa;
	(void)len;
	assert_non_null(bev);
	bufferevent_setcb(bev, on_request, NULL, on_conn_event, t);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ---- the client side ---- */

static void on_attempt(const char *check, const char *channel, const char *event, int attempt,
                       int ok, const char *detail, void *arg)
{
	struct tc *t = arg;
	int k = kind_of(channel);

	(void)check;
	(void)event;
	(void)attempt;
	t->ncalls++;
	assert_true(k >= 0);
	t->attempts[k]++;
	t->ok[k] = ok;
	snprintf(t->detail[k], sizeof(t->detail[k]), "%s", detail);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

static void test_cut_200_is_delivered(void **state)
{
	struct tc t;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct conf_channel ch[KINDS];
	char urls[KINDS][128];
	struct notify_event ev;
	int timed_out = 0;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_non_null(t.base = event_base_new());
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t.lis = evconnlistener_new_bind(t.base, on_accept, &t,
	                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	                                (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(t.lis);
	assert_int_equal(getsockname(evconnlistener_get_fd(t.lis), (struct sockaddr *)&sin, &sl),
	                 0);
	t.port = ntohs(sin.sin_port);
	assert_non_null(t.n = notify_new(t.base, on_attempt, &t));

	memset(&ev, 0, sizeof(ev));
	ev.kind = NOTIFY_DOWN;
	ev.check = "imap-main";
	ev.target = "imaps://mail.example.com:993";
	ev.location = "local";
	ev.status = MP_DOWN;
	ev.severity = MP_SEV_CRITICAL;
	ev.prev = MP_UP;
	ev.reason = MP_R_TIMEOUT;
	ev.message = "no greeting within 10 s";
	ev.since_ms = ev.now_ms = 1714564800000LL;
	ev.incident_key = "imap-main/1714564800000";

	for (int i = 0; i < KINDS; i++) {
		memset(&ch[i], 0, sizeof(ch[i]));
		/* Telegram and PagerDuty take an API base and add their own path. */
		snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d/%s%s", t.port, names[i],
		         types[i] == CH_TELEGRAM || types[i] == CH_PAGERDUTY ? "" : "/hook");
		ch[i].name = (char *)(uintptr_t)names[i];
		ch[i].type = types[i];
		ch[i].url = urls[i];
		ch[i].timeout_ms = 5000;
		/* One retry is enough to tell: the old rule would send each alert twice. */
		ch[i].retries = 1;
		ch[i].bot_token = "123456:TOKEN";
		ch[i].chat_id = "-10042";
		ch[i].routing_key = "R0UTING-KEY-0123456789";
		assert_int_equal(notify_send(t.n, &ch[i], &ev), 0);
	}

	struct timeval tv = {15, 0};
	struct event *to = evtimer_new(t.base, on_timeout, &timed_out);
	evtimer_add(to, &tv);
	while (!timed_out && notify_pending(t.n) > 0)
		event_base_loop(t.base, EVLOOP_ONCE);
	event_free(to);
	assert_false(timed_out);

	for (int i = 0; i < KINDS; i++) {
		if (t.attempts[i] != 1 || !t.ok[i] || t.requests[i] != 1)
			fail_msg("%s: %d attempt(s), %d request(s), last ok=%d: %s", names[i],
			         t.attempts[i], t.requests[i], t.ok[i], t.detail[i]);
		/* Said as it was: the status, and what went wrong after it. */
		assert_non_null(strstr(t.detail[i], "HTTP 200 (then: "));
	}
	notify_free(t.n);
	evconnlistener_free(t.lis);
	event_base_free(t.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cut_200_is_delivered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
