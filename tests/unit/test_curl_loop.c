/* SPDX-License-Identifier: ISC */
/*
 * test_curl_loop.c - net/curl_loop alone, against tests/sinks/http_sink on
 * 127.0.0.1 (a child process): a request completes with its status and
 * body, a body over the bound is refused (or cut when asked), a refused
 * connection says so, a cancelled transfer never calls back, and freeing
 * the loop with transfers running calls nothing back either. The loop
 * runs until the callbacks expected have come, bounded by a timer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "net/curl_loop.h"

#ifndef HTTP_SINK
#error "HTTP_SINK comes from tests/unit/CMakeLists.txt"
#endif

struct got {
	int calls;
	CURLcode rc;
	long status;
	long os_errno;
	char errbuf[CURL_ERROR_SIZE];
	char *body;
	size_t bodylen;
	int body_cut;
};

struct tc {
	struct event_base *base;
	struct curl_loop *l;
	char dir[64];
	char out[128];
	pid_t sink;
	int port;
	int timed_out;
};

static void on_done(const struct curl_loop_result *r, void *arg)
{
	struct got *g = arg;

	g->calls++;
	g->rc = r->rc;
	g->status = r->status;
	g->os_errno = r->os_errno;
	snprintf(g->errbuf, sizeof(g->errbuf), "%s", r->errbuf);
	free(g->body);
	g->body = malloc(r->bodylen + 1);
	assert_non_null(g->body);
	memcpy(g->body, r->body, r->bodylen + 1); /* with its NUL */
	g->bodylen = r->bodylen;
	g->body_cut = r->body_cut;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Run the loop until *calls reaches want, or for ms when want < 0. */
static void run(struct tc *t, const int *calls, int want, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *to = evtimer_new(t->base, on_timeout, &t->timed_out);

	t->timed_out = 0;
	evtimer_add(to, &tv);
	while (!t->timed_out && (want < 0 || *calls < want))
		event_base_loop(t->base, EVLOOP_ONCE);
	event_free(to);
	if (want >= 0 && t->timed_out)
		fail_msg("timed out after %d ms with %d of %d callbacks", ms, *calls, want);
}

/* Start http_sink with extra args; its port comes back through a file. */
static void start_sink(struct tc *t, const char *a1, const char *a2)
{
	char portfile[128];
	FILE *f;

	snprintf(portfile, sizeof(portfile), "%s/port", t->dir);
	snprintf(t->out, sizeof(t->out), "%s/http.jsonl", t->dir);
	t->sink = fork();
	assert_true(t->sink >= 0);
	if (t->sink == 0) {
		char *argv[] = {HTTP_SINK,
		                "--out",
		                t->out,
		                "--port-file",
		                portfile,
		                "--lifetime",
		                "60",
		                (char *)(uintptr_t)a1,
		                (char *)(uintptr_t)a2,
		                NULL};
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 500 && t->port == 0; i++) {
		if ((f = fopen(portfile, "r"))) {
			if (fscanf(f, "%d", &t->port) != 1)
				t->port = 0;
			fclose(f);
		}
		if (!t->port)
			usleep(10000);
	}
	assert_true(t->port > 0);
}

static int setup(void **state)
{
	struct tc *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/mp-curl-loop-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_non_null(t->base = event_base_new());
	assert_non_null(t->l = curl_loop_new(t->base));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tc *t = *state;
	char path[256];

	curl_loop_free(t->l);
	if (t->sink > 0) {
		kill(t->sink, SIGTERM);
		waitpid(t->sink, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/port", t->dir);
	unlink(path);
	unlink(t->out);
	rmdir(t->dir);
	event_base_free(t->base);
	free(t);
	return 0;
}

static CURL *easy_get(struct tc *t, const char *path)
{
	char url[256];
	CURL *e = curl_easy_init();

	assert_non_null(e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", t->port, path);
	assert_int_equal(curl_easy_setopt(e, CURLOPT_URL, url), CURLE_OK);
	assert_int_equal(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L), CURLE_OK);
	return e;
}

/*
 * What the node's uplink will do: POST a JSON batch with a bearer token
 * and read the status and the body back.
 */
static void test_post_status_and_body(void **state)
{
	struct tc *t = *state;
	struct got g = {0};
	struct curl_slist *h = NULL;
	const char *batch = "{\"results\":[1,2,3]}";
	CURL *e;
	json_t *req;
	FILE *f;
	char line[4096];

	start_sink(t, "--statuses", "202");
	e = easy_get(t, "/v1/results");
	h = curl_slist_append(h, "Authorization: Bearer t0ken-abc");
	h = curl_slist_append(h, "Content-Type: application/json");
	assert_non_null(h);
	assert_int_equal(curl_easy_setopt(e, CURLOPT_HTTPHEADER, h), CURLE_OK);
	assert_int_equal(curl_easy_setopt(e, CURLOPT_POSTFIELDS, batch), CURLE_OK);
	assert_non_null(curl_loop_add(t->l, e, 4096, 0, on_done, &g));
	/* Never from inside curl_loop_add(): the caller's state is not half-made. */
	assert_int_equal(g.calls, 0);
	assert_int_equal(curl_loop_running(t->l), 1);
	run(t, &g.calls, 1, 10000);

	assert_int_equal(g.calls, 1);
	assert_int_equal(g.rc, CURLE_OK);
	assert_int_equal(g.status, 202);
	assert_string_equal(g.body, "status 202 for /v1/results\n");
	assert_int_equal(g.bodylen, strlen("status 202 for /v1/results\n"));
	assert_false(g.body_cut);
	assert_int_equal(curl_loop_running(t->l), 0);

	assert_non_null(f = fopen(t->out, "r"));
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_non_null(req = json_loads(line, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(req, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(req, "body")), batch);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(req, "headers"), "authorization")),
	    "Bearer t0ken-abc");
	json_decref(req);
	curl_slist_free_all(h);
	free(g.body);
}

/* A megabyte answer against a 64 KiB bound: refused, and said so; or cut when asked. */
static void test_body_bound(void **state)
{
	struct tc *t = *state;
	struct got refused = {0}, cut = {0}, fits = {0};

	start_sink(t, "--body-bytes", "1048576");
	assert_non_null(curl_loop_add(t->l, easy_get(t, "/big"), 65536, 0, on_done, &refused));
	assert_non_null(
	    curl_loop_add(t->l, easy_get(t, "/big"), 65536, CURL_LOOP_BODY_CUT, on_done, &cut));
	assert_non_null(curl_loop_add(t->l, easy_get(t, "/big"), 1048576, 0, on_done, &fits));
	assert_int_equal(curl_loop_running(t->l), 3);
	run(t, &refused.calls, 1, 20000);
	run(t, &cut.calls, 1, 20000);
	run(t, &fits.calls, 1, 20000);

	assert_int_equal(refused.rc, CURLE_FILESIZE_EXCEEDED);
	assert_string_equal(refused.errbuf, "response body over 65536 bytes");
	assert_int_equal(refused.status, 200); /* the status line came; the body was too much */
	assert_true(refused.bodylen <= 65536);

	assert_int_equal(cut.rc, CURLE_OK);
	assert_int_equal(cut.status, 200);
	assert_int_equal(cut.bodylen, 65536);
	assert_true(cut.body_cut);
	assert_int_equal(strlen(cut.body), 65536);
	assert_memory_equal(cut.body, "0123456789012", 13);

	/* Exactly at the bound is not over it. */
	assert_int_equal(fits.rc, CURLE_OK);
	assert_int_equal(fits.bodylen, 1048576);
	assert_false(fits.body_cut);
	assert_int_equal(curl_loop_running(t->l), 0);
	free(refused.body);
	free(cut.body);
	free(fits.body);
}

static int closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void test_refused(void **state)
{
	struct tc *t = *state;
	struct got g = {0};

	t->port = closed_port();
	assert_non_null(curl_loop_add(t->l, easy_get(t, "/"), 1024, 0, on_done, &g));
	run(t, &g.calls, 1, 10000);
	assert_int_equal(g.rc, CURLE_COULDNT_CONNECT);
	assert_int_equal(g.os_errno, ECONNREFUSED);
	assert_int_equal(g.status, 0);
	assert_int_equal(g.bodylen, 0);
	assert_string_equal(g.body, "");
	assert_true(g.errbuf[0] != '\0');
	free(g.body);
}

/*
 * A slow answer, cancelled while in flight: no callback then or later,
 * and the other transfer still completes.
 */
static void test_cancel(void **state)
{
	struct tc *t = *state;
	struct got cancelled = {0}, other = {0};
	struct curl_loop_xfer *x;

	start_sink(t, "--delay-ms", "1500");
	assert_non_null(
	    x = curl_loop_add(t->l, easy_get(t, "/slow"), 1024, 0, on_done, &cancelled));
	assert_non_null(curl_loop_add(t->l, easy_get(t, "/other"), 1024, 0, on_done, &other));
	run(t, NULL, -1, 300); /* both requests sent, no answer yet */
	assert_int_equal(cancelled.calls + other.calls, 0);
	curl_loop_cancel(x);
	assert_int_equal(curl_loop_running(t->l), 1);
	run(t, &other.calls, 1, 10000);
	run(t, NULL, -1, 300);
	assert_int_equal(cancelled.calls, 0);
	assert_int_equal(other.calls, 1);
	assert_int_equal(other.rc, CURLE_OK);
	assert_int_equal(other.status, 200);
	free(other.body);
}

/* Freeing with a transfer in flight: no callback, nothing leaked (ASan). */
static void test_free_running(void **state)
{
	struct tc *t = *state;
	struct got g = {0};

	start_sink(t, "--delay-ms", "3000");
	assert_non_null(curl_loop_add(t->l, easy_get(t, "/slow"), 1024, 0, on_done, &g));
	run(t, NULL, -1, 200);
	curl_loop_free(t->l);
	t->l = NULL;
	assert_int_equal(g.calls, 0);
}

/* A handle libcurl cannot take is cleaned up, and NULL returned. */
static void test_add_refused(void **state)
{
	struct tc *t = *state;
	struct got g = {0};

	assert_null(curl_loop_add(t->l, NULL, 1024, 0, on_done, &g));
	assert_null(curl_loop_add(t->l, curl_easy_init(), 1024, 0, NULL, &g));
	assert_int_equal(curl_loop_running(t->l), 0);
	assert_int_equal(g.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_post_status_and_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_running, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_refused, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
