/* SPDX-License-Identifier: ISC */
/*
 * fuzz_http.c - the daemon's HTTP server as a client on the network sees
 * it: method, path, Host, Origin, Authorization, query parameters, body.
 *
 * Once per process: a private directory with a store and two
 * configurations that differ only in http (one open, one with a bearer
 * token), a monitor made by monitor_new() (its scheduled probes come an
 * hour or so later; POST run probes a closed local port at once), and
 * http_start() listening on a free port of 127.0.0.1. The real evhttp,
 * routing, limits and api.c answer every input.
 *
 * Each input: the first byte picks the server ('t': with the token; any
 * other: open), the rest is written raw to a new TCP connection, which is
 * then half-closed; the loop runs until the server closes or
 * HTTP_BUDGET_MS passes. CHECKs: what comes back is empty or starts with
 * a status line "HTTP/1.x NNN " (libevent's own 400, 413, 501 excepted: see
 * status_code()); without the token in the request, a
 * token server never shows a check's name, the location or the token
 * (all hold "fzsecret"); no server ever shows the token to a request
 * that lacks it.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "monitor/monitor.h"
#include "fuzz.h"
#include "http/http.h"
#include "core/log.h"

#define HTTP_BUDGET_MS 200
#define RESP_MAX       (1 << 20) /* kept for the checks; the rest is read and dropped */
#define TOKEN          "fzsecret-token-Q7v2"
#define TOKEN_ENV      "MP_FUZZ_HTTP_TOKEN"
#define MARK           "fzsecret"

static struct {
	struct event_base *base;
	struct monitor *d;
	struct http *h;
	struct conf *open, *token;
	int tokened; /* the server runs the token configuration now */
	unsigned short port;
	char dir[256];
	char *resp;
} fz;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A port of 127.0.0.1 free a moment ago (the configuration refuses port 0). */
static unsigned short free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static struct conf *load(const char *name, const char *http)
{
	char path[512];
	struct conf *c = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.yaml", fz.dir, name);
	f = fopen(path, "w");
	CHECK(f);
	fprintf(f,
	        "location: " MARK "-loc\n"
	        "store: %s/mp.db\n"
	        "http: %s\n"
	        "defaults: {interval: 15m, timeout: 2s, retry: 10m, fail_after: 2, starttls: "
	        "\"no\"}\n"
	        "checks:\n"
	        "  - {name: " MARK "-a, url: \"pop3://127.0.0.1:1\", labels: [env=fuzz]}\n"
	        "  - {name: " MARK "-b, url: \"pop3://127.0.0.1:1\"}\n",
	        fz.dir, http);
	CHECK(fclose(f) == 0);
	CHECK(conf_load(path, &c, stderr) == 0 && c);
	unlink(path);
	return c;
}

static void cleanup(void)
{
	char path[512];

	http_free(fz.h);
	(void)monitor_free(fz.d, 0);
	conf_unref(fz.open);
	conf_unref(fz.token);
	event_base_free(fz.base);
	free(fz.resp);
	for (const char *const *s =
	         (const char *const[]){"", "-wal", "-shm", "-journal", ".lock", NULL};
	     *s; s++) {
		snprintf(path, sizeof(path), "%s/mp.db%s", fz.dir, *s);
		unlink(path);
	}
	rmdir(fz.dir);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char http[128], err[512];

	snprintf(fz.dir, sizeof(fz.dir), "%s/mp-fuzz-http-XXXXXX", tmp ? tmp : "/tmp");
	CHECK(mkdtemp(fz.dir));
	CHECK(setenv(TOKEN_ENV, TOKEN, 1) == 0);
	log_init(LOG_TEXT, 0);
	fz.port = free_port();
	snprintf(http, sizeof(http), "{listen: \"127.0.0.1:%u\"}", fz.port);
	fz.open = load("open", http);
	snprintf(http, sizeof(http), "{listen: \"127.0.0.1:%u\", token_env: " TOKEN_ENV "}",
	         fz.port);
	fz.token = load("token", http);
	CHECK(fz.base = event_base_new());
	conf_ref(fz.open); /* monitor_new() takes one reference */
	fz.d = monitor_new(fz.base, fz.open, 1e6, err, sizeof(err));
	if (!fz.d)
		fprintf(stderr, "fuzz_http: %s\n", err);
	CHECK(fz.d);
	fz.h = http_start(fz.base, fz.d, fz.open, err, sizeof(err));
	if (!fz.h)
		fprintf(stderr, "fuzz_http: %s\n", err);
	CHECK(fz.h);
	CHECK(fz.resp = malloc(RESP_MAX));
	atexit(cleanup);
}

static int connect_server(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	CHECK(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(fz.port);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS);
	return fd;
}

/* Run the server's loop and read from fd until EOF or the budget: the bytes kept. */
static size_t exchange(int fd, const uint8_t *req, size_t n)
{
	int64_t end = now_ms() + HTTP_BUDGET_MS;
	size_t off = 0, got = 0;
	int shut = 0;

	while (now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
		char drop[4096];
		ssize_t k;

		event_base_loop(fz.base, EVLOOP_NONBLOCK);
		if (off < n) {
			k = send(fd, req + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0)
				off += (size_t)k;
			else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				off = n; /* reset by the server: read what it said */
		}
		if (off == n && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		if (got < RESP_MAX)
			k = recv(fd, fz.resp + got, RESP_MAX - got, MSG_DONTWAIT);
		else
			k = recv(fd, drop, sizeof(drop), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			break;
		if (k > 0) {
			if (got < RESP_MAX)
				got += (size_t)k;
			continue;
		}
		(void)poll(&p, 1, 1);
	}
	return got;
}

/* Skips "-?[0-9]+" at *i of r[0..n); 0 when there is none. */
static int skip_number(const char *r, size_t n, size_t *i)
{
	size_t d = 0;

	if (*i < n && r[*i] == '-')
		(*i)++;
	while (*i < n && r[*i] >= '0' && r[*i] <= '9')
		(*i)++, d++;
	return d > 0;
}

/*
 * The code of the status line "HTTP/1.0 NNN " or "HTTP/1.1 NNN ", or -1.
 * libevent 2.1 writes its own errors for requests that never reach us
 * (a malformed header, too long) with whatever version the request line
 * had ("HTTP/1.12 400 Bad Request", 501 for an unknown method; version_ok()
 * in src/http/http.c fixes
 * every reply of ours): those pass as 400, 413 or 501 only.
 */
static int status_code(const char *r, size_t n)
{
	size_t i = 5;
	int code;

	if (n < 5 || memcmp(r, "HTTP/", 5) != 0 || !skip_number(r, n, &i) || i >= n ||
	    r[i++] != '.' || !skip_number(r, n, &i) || i + 5 > n || r[i] != ' ' || r[i + 4] != ' ')
		return -1;
	for (size_t k = i + 1; k < i + 4; k++)
		if (r[k] < '0' || r[k] > '9')
			return -1;
	code = (r[i + 1] - '0') * 100 + (r[i + 2] - '0') * 10 + (r[i + 3] - '0');
	if (i == 8 && (memcmp(r, "HTTP/1.1", 8) == 0 || memcmp(r, "HTTP/1.0", 8) == 0))
		return code;
	return code == 400 || code == 413 || code == 501 ? code : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_stats st;
	char err[256];
	size_t got;
	int tokened, fd, code;

	if (!fz.base)
		setup();
	if (size < 1)
		return 0;
	tokened = data[0] == 't';
	data++;
	size--;
	if (tokened != fz.tokened) {
		CHECK(http_reconfigure(fz.h, tokened ? fz.token : fz.open, err, sizeof(err)) == 0);
		fz.tokened = tokened;
	}

	fd = connect_server();
	got = exchange(fd, data, size);
	close(fd);

	if (getenv("MP_FUZZ_HTTP_VERBOSE")) {
		const uint8_t *eol = memchr(data, '\r', size);

		fprintf(stderr, "fuzz_http: %c %.*s -> %.*s (%zu bytes)\n", tokened ? 't' : 'o',
		        eol ? (int)(eol - data) : 0, (const char *)data, got < 12 ? (int)got : 12,
		        fz.resp, got);
	}
	if (got > 0) {
		code = status_code(fz.resp, got);
		if (code < 0)
			fprintf(stderr, "fuzz_http: not a status line: %.*s\n",
			        (int)(got < 80 ? got : 80), fz.resp);
		CHECK(code >= 100 && code <= 599);
	}
	if (!memmem(data, size, TOKEN, strlen(TOKEN)))
		CHECK(!memmem(fz.resp, got, TOKEN, strlen(TOKEN)));
	if (tokened && !memmem(data, size, TOKEN, strlen(TOKEN)) &&
	    !memmem(data, size, MARK, strlen(MARK)))
		CHECK(!memmem(fz.resp, got, MARK, strlen(MARK)));

	/* Let the server see the close and forget the connection before the next input. */
	for (int64_t end = now_ms() + 50; now_ms() < end;) {
		event_base_loop(fz.base, EVLOOP_NONBLOCK);
		http_stats(&st);
		if (st.open == 0)
			break;
		(void)poll(NULL, 0, 1);
	}
	return 0;
}
