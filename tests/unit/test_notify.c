/* SPDX-License-Identifier: ISC */
/*
 * test_notify.c - deliveries end to end against local sinks on 127.0.0.1:
 * tests/sinks/http_sink and smtp_sink run as child processes, certgen makes
 * the SMTP sink's certificates. Each test runs the event loop until the
 * attempt callbacks it expects have arrived, bounded by a timer, so a bug
 * fails the test instead of hanging it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "notify/notify.h"

#include "notify_fixture.h"

#ifndef HTTP_SINK
#error "HTTP_SINK, SMTP_SINK and CERTGEN come from tests/unit/CMakeLists.txt"
#endif

#define RECS_MAX 64
#define SINK_MAX 4

struct rec {
	char check[64];
	char channel[64];
	char event[32];
	int attempt;
	int ok;
	char detail[512];
	int64_t at_ms;
};

struct tc {
	struct event_base *base;
	struct notify *n;
	struct rec recs[RECS_MAX];
	int nrecs;  /* stored, at most RECS_MAX */
	int ncalls; /* all callbacks */
	char dir[64];
	pid_t sinks[SINK_MAX];
	int nsinks;
	int timed_out;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_attempt(const char *check, const char *channel, const char *event, int attempt,
                       int ok, const char *detail, void *arg)
{
	struct tc *t = arg;
	struct rec *r;

	t->ncalls++;
	if (getenv("MP_TEST_VERBOSE") && t->ncalls <= RECS_MAX)
		fprintf(stderr, "  attempt %s/%s/%s #%d ok=%d: %s\n", check, channel, event,
		        attempt, ok, detail);
	if (t->nrecs >= RECS_MAX)
		return;
	r = &t->recs[t->nrecs++];
	snprintf(r->check, sizeof(r->check), "%s", check);
	snprintf(r->channel, sizeof(r->channel), "%s", channel);
	snprintf(r->event, sizeof(r->event), "%s", event);
	r->attempt = attempt;
	r->ok = ok;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
	r->at_ms = now_ms();
}

static int setup(void **state)
{
	struct tc *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/mp-notify-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_non_null(t->base = event_base_new());
	assert_non_null(t->n = notify_new(t->base, on_attempt, t));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tc *t = *state;
	DIR *dh;
	struct dirent *de;
	char path[512];

	notify_free(t->n);
	for (int i = 0; i < t->nsinks; i++) {
		kill(t->sinks[i], SIGTERM);
		waitpid(t->sinks[i], NULL, 0);
	}
	if ((dh = opendir(t->dir))) {
		while ((de = readdir(dh))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", t->dir, de->d_name);
			if (unlink(path) < 0 && errno == EISDIR) {
				/* one level: the SMTP sink's message directory */
				DIR *sub = opendir(path);
				struct dirent *se;
				char p2[1024];
				while (sub && (se = readdir(sub)))
					if (se->d_name[0] != '.') {
						snprintf(p2, sizeof(p2), "%s/%s", path, se->d_name);
						unlink(p2);
					}
				if (sub)
					closedir(sub);
				rmdir(path);
			}
		}
		closedir(dh);
	}
	rmdir(t->dir);
	event_base_free(t->base);
	free(t);
	return 0;
}

/* Run the loop until want callbacks arrived (want < 0: until nothing is pending). */
static void run(struct tc *t, int want, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct event *to = evtimer_new(t->base, fix_on_timeout, &t->timed_out);

	t->timed_out = 0;
	evtimer_add(to, &tv);
	while (!t->timed_out && (want < 0 ? notify_pending(t->n) > 0 : t->ncalls < want))
		event_base_loop(t->base, EVLOOP_ONCE);
	event_free(to);
	if (t->timed_out)
		fail_msg("timed out after %d ms with %d callbacks, %d pending", timeout_ms,
		         t->ncalls, notify_pending(t->n));
}

static void spawn(struct tc *t, char *const argv[], int wait_exit)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (wait_exit) {
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		return;
	}
	assert_true(t->nsinks < SINK_MAX);
	t->sinks[t->nsinks++] = pid;
}

/* Start a sink with argv (port file added here) and return its port. */
static int start_sink(struct tc *t, const char *const *args)
{
	char *argv[24], portfile[128];
	int n = 0;

	snprintf(portfile, sizeof(portfile), "%s/port-%d", t->dir, t->nsinks);
	for (; args[n]; n++)
		argv[n] = (char *)(uintptr_t)args[n];
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--lifetime";
	argv[n++] = "60";
	argv[n] = NULL;
	spawn(t, argv, 0);
	return fix_sink_port(portfile);
}

static int start_http_sink(struct tc *t, const char *statuses, const char *out)
{
	const char *args[] = {HTTP_SINK, "--out", out, "--statuses", statuses, NULL};

	return start_sink(t, args);
}

/* Each line of an http_sink --out file, parsed. */
static json_t *read_lines(const char *path)
{
	json_t *arr = json_array();
	char line[65536];
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err);
		if (!j)
			fail_msg("bad JSON line in %s: %s", path, err.text);
		json_array_append_new(arr, j);
	}
	fclose(f);
	return arr;
}

static const char *header(json_t *req, const char *name)
{
	return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static struct notify_event ev_down(void)
{
	/* Down since 2024-05-01T12:00:00Z, for 12m 5s. */
	return fix_ev_down("* OK Dovecot ready.", 1714564800000LL, 1714564800000LL + 725000,
	                   "https://status.example.com/", "imap-main/1714564800000");
}

static struct notify_event ev_recovery(void)
{
	struct notify_event e = ev_down();

	e.kind = NOTIFY_RECOVERY;
	e.status = MP_UP;
	e.prev = MP_DOWN;
	e.reason = MP_R_OK;
	e.message = "greeting in 40 ms";
	e.since_ms = e.now_ms;
	e.duration_ms = 725000;
	return e;
}

static struct conf_channel channel(const char *name, enum channel_type type, const char *url)
{
	struct conf_channel ch;

	memset(&ch, 0, sizeof(ch));
	ch.name = (char *)(uintptr_t)name;
	ch.type = type;
	ch.url = (char *)(uintptr_t)url;
	ch.timeout_ms = 5000;
	ch.retries = 0;
	return ch;
}

static int free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* ---- the text a person reads ---- */

static void test_format_text(void **state)
{
	struct notify_event ev = ev_down();
	char subject[256], body[4096];

	(void)state;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] DOWN imap-main: timeout");
	assert_contains(body, "imap-main");
	assert_contains(body, "imaps://mail.example.com:993");
	assert_contains(body, "down (was up)");
	assert_contains(body, "timeout");
	assert_contains(body, "no greeting within 10 s");
	assert_contains(body, "* OK Dovecot ready.");
	assert_contains(body, "2024-05-01T12:00:00Z (for 12m 5s)");
	assert_contains(body, "Location: local");
	assert_contains(body, "Dashboard: https://status.example.com/check/imap-main\n");

	assert_contains(body, "Severity: critical\n");
	assert_null(strstr(body, "Confirmed:")); /* not said: confirmed is 0 */
	ev.confirmed = 3;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_contains(body, "Confirmed: 3 consecutive probes since then\n");

	/* Critical while users still connect: said as such, never as DOWN. */
	ev.kind = NOTIFY_DEGRADED;
	ev.status = MP_DEGRADED;
	ev.reason = MP_R_CERT_EXPIRING;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] CRITICAL imap-main: cert_expiring");
	assert_contains(body, "Status:   degraded (was up)\n");
	assert_contains(body, "Severity: critical (the service still answers)\n");
	ev.kind = NOTIFY_REMINDER;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject,
	                    "[mailpulse] STILL CRITICAL imap-main: cert_expiring (for 12m 5s)");
	ev.severity = MP_SEV_WARNING;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject,
	                    "[mailpulse] STILL DEGRADED imap-main: cert_expiring (for 12m 5s)");

	ev = ev_recovery();
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] RECOVERED imap-main after 12m 5s");

	/* The dashboard's route is /check/NAME; the name is percent-encoded. */
	ev.dashboard_url = "http://mon.example.com:8080/mp//";
	ev.check = "imap main/ü?#%";
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_contains(
	    body,
	    "Dashboard: http://mon.example.com:8080/mp/check/imap%20main%2F%C3%BC%3F%23%25\n");
	ev.check = "imap.main_1~x";
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_contains(body, "Dashboard: http://mon.example.com:8080/mp/check/imap.main_1~x\n");
	/* A name of dots would be read as "." or "..": its dots are encoded. */
	ev.check = "..";
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_contains(body, "Dashboard: http://mon.example.com:8080/mp/check/%2E%2E\n");
	/* No base URL, or one too long for a whole link: no link, never a cut one. */
	ev.dashboard_url = NULL;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_null(strstr(body, "Dashboard:"));
	{
		char longurl[2048];
		memset(longurl, 'a', sizeof(longurl) - 1);
		memcpy(longurl, "https://", 8);
		longurl[sizeof(longurl) - 1] = '\0';
		ev.dashboard_url = longurl;
		notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
		assert_null(strstr(body, "Dashboard:"));
	}
	ev = ev_recovery();

	/* Tiny buffers are cut, not overrun. */
	notify_format_text(&ev, subject, 8, body, 16);
	assert_int_equal(strlen(subject), 7);
	assert_int_equal(strlen(body), 15);

	assert_string_equal(notify_kind_name(NOTIFY_DOWN), "down");
	assert_string_equal(notify_kind_name(NOTIFY_RECOVERY), "recovery");
	assert_string_equal(notify_kind_name(NOTIFY_REMINDER), "reminder");
}

/* ---- HTTP channels ---- */

static void test_webhook_hmac(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char out[128], url[128], hex[65];
	unsigned char md[32];
	unsigned int mdlen = 0;
	int port;
	json_t *reqs, *req, *body;
	const char *raw;

	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	port = start_http_sink(t, "200", out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	struct conf_channel ch = channel("hook", CH_WEBHOOK, url);
	ch.secret = "s3cret-hmac-key";
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	assert_int_equal(notify_pending(t->n), 1);
	run(t, -1, 10000);

	assert_int_equal(t->nrecs, 1);
	assert_string_equal(t->recs[0].check, "imap-main");
	assert_string_equal(t->recs[0].channel, "hook");
	assert_string_equal(t->recs[0].event, "down");
	assert_int_equal(t->recs[0].attempt, 1);
	assert_true(t->recs[0].ok);
	assert_string_equal(t->recs[0].detail, "HTTP 200");

	reqs = read_lines(out);
	assert_int_equal(json_array_size(reqs), 1);
	req = json_array_get(reqs, 0);
	assert_string_equal(jget(req, "method"), "POST");
	assert_string_equal(jget(req, "path"), "/hook");
	assert_string_equal(header(req, "content-type"), "application/json");
	assert_string_equal(header(req, "x-mailpulse-event"), "down");
	raw = jget(req, "body");
	assert_non_null(HMAC(EVP_sha256(), "s3cret-hmac-key", 15, (const unsigned char *)raw,
	                     strlen(raw), md, &mdlen));
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_non_null(header(req, "x-mailpulse-signature"));
	assert_true(strncmp(header(req, "x-mailpulse-signature"), "sha256=", 7) == 0);
	assert_string_equal(header(req, "x-mailpulse-signature") + 7, hex);
	assert_null(strstr(raw, "s3cret"));

	assert_non_null(body = json_loads(raw, 0, NULL));
	assert_string_equal(jget(body, "kind"), "down");
	assert_string_equal(jget(body, "check"), "imap-main");
	assert_string_equal(jget(body, "target"), "imaps://mail.example.com:993");
	assert_string_equal(jget(body, "location"), "local");
	assert_string_equal(jget(body, "status"), "down");
	assert_string_equal(jget(body, "previous"), "up");
	assert_string_equal(jget(body, "reason"), "timeout");
	assert_string_equal(jget(body, "message"), "no greeting within 10 s");
	assert_string_equal(jget(body, "greeting"), "* OK Dovecot ready.");
	assert_string_equal(jget(body, "since"), "2024-05-01T12:00:00Z");
	assert_string_equal(jget(body, "now"), "2024-05-01T12:12:05Z");
	assert_int_equal(json_integer_value(json_object_get(body, "duration_ms")), 0);
	assert_string_equal(jget(body, "dashboard_url"),
	                    "https://status.example.com/check/imap-main");
	assert_string_equal(jget(body, "incident_key"), "imap-main/1714564800000");
	json_decref(body);
	json_decref(reqs);

	/* Without a secret there is no signature header. */
	ch.secret = NULL;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 10000);
	reqs = read_lines(out);
	assert_int_equal(json_array_size(reqs), 2);
	assert_null(header(json_array_get(reqs, 1), "x-mailpulse-signature"));
	json_decref(reqs);
}

static json_t *by_path(json_t *reqs, const char *path, int nth)
{
	size_t i;
	json_t *req;

	json_array_foreach(reqs, i, req)
	{
		if (!strcmp(jget(req, "path"), path) && nth-- == 0)
			return json_loads(jget(req, "body"), 0, NULL);
	}
	fail_msg("no request %d to %s", nth, path);
	return NULL;
}

static void test_chat_shapes(void **state)
{
	struct tc *t = *state;
	struct notify_event down = ev_down(), rec = ev_recovery(), deg = ev_down();
	char out[128], u[4][128];
	const char *paths[] = {"/slack", "/mattermost", "/discord", "/teams"};
	const enum channel_type types[] = {CH_SLACK, CH_MATTERMOST, CH_DISCORD, CH_TEAMS};
	json_t *reqs, *j;
	int port;

	deg.kind = NOTIFY_DEGRADED;
	deg.status = MP_DEGRADED;
	deg.severity = MP_SEV_WARNING;
	deg.reason = MP_R_SLOW;
	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	port = start_http_sink(t, "200", out);
	for (int i = 0; i < 4; i++) {
		snprintf(u[i], sizeof(u[i]), "http://127.0.0.1:%d%s", port, paths[i]);
		struct conf_channel ch = channel(paths[i] + 1, types[i], u[i]);
		/* The legacy card here; test_notify_teams.c has the Adaptive Card. */
		ch.teams_format = TEAMS_MESSAGECARD;
		assert_int_equal(notify_send(t->n, &ch, &down), 0);
		if (types[i] == CH_TEAMS) {
			assert_int_equal(notify_send(t->n, &ch, &rec), 0);
			assert_int_equal(notify_send(t->n, &ch, &deg), 0);
		}
	}
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 6);
	for (int i = 0; i < t->nrecs; i++) {
		assert_true(t->recs[i].ok);
		assert_string_equal(t->recs[i].detail, "HTTP 200");
	}
	reqs = read_lines(out);
	assert_int_equal(json_array_size(reqs), 6);

	for (int i = 0; i < 2; i++) {
		j = by_path(reqs, paths[i], 0);
		assert_int_equal(json_object_size(j), 1);
		assert_contains(jget(j, "text"), "[mailpulse] DOWN imap-main: timeout");
		assert_contains(jget(j, "text"), "no greeting within 10 s");
		json_decref(j);
	}
	j = by_path(reqs, "/discord", 0);
	assert_int_equal(json_object_size(j), 1);
	assert_contains(jget(j, "content"), "[mailpulse] DOWN imap-main: timeout");
	assert_true(strlen(jget(j, "content")) <= 2000);
	json_decref(j);

	const char *colors[] = {"D50000", "2EB886", "FFA500"};
	const char *subjects[] = {"[mailpulse] DOWN imap-main: timeout",
	                          "[mailpulse] RECOVERED imap-main after 12m 5s",
	                          "[mailpulse] DEGRADED imap-main: slow"};
	/* Three deliveries to one URL run in parallel: their order of arrival is free. */
	for (int k = 0; k < 3; k++) {
		j = NULL;
		for (int n = 0; n < 3 && !j; n++) {
			j = by_path(reqs, "/teams", n);
			if (strcmp(jget(j, "summary"), subjects[k]) != 0) {
				json_decref(j);
				j = NULL;
			}
		}
		if (!j)
			fail_msg("no Teams card titled %s", subjects[k]);
		assert_string_equal(jget(j, "@type"), "MessageCard");
		assert_string_equal(jget(j, "summary"), subjects[k]);
		assert_string_equal(jget(j, "title"), subjects[k]);
		assert_contains(jget(j, "text"), "imaps://mail.example.com:993");
		assert_string_equal(jget(j, "themeColor"), colors[k]);
		json_decref(j);
	}
	json_decref(reqs);
}

static void test_telegram_token_redacted(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char out[128], base[128];
	json_t *reqs, *j;
	int port;

	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	port = start_http_sink(t, "500,200", out);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	struct conf_channel ch = channel("tg", CH_TELEGRAM, base);
	ch.bot_token = "123456:SECRET-TOKEN-abc";
	ch.chat_id = "-10042";
	ch.retries = 1;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 15000);

	assert_int_equal(t->nrecs, 2);
	assert_false(t->recs[0].ok);
	assert_true(t->recs[1].ok);
	/* The sink echoes the path, token included, in its 500 answer. */
	assert_contains(t->recs[0].detail, "HTTP 500");
	for (int i = 0; i < t->nrecs; i++) {
		assert_null(strstr(t->recs[i].detail, "SECRET-TOKEN"));
		assert_null(strstr(t->recs[i].detail, "123456:"));
	}
	reqs = read_lines(out);
	assert_int_equal(json_array_size(reqs), 2);
	assert_string_equal(jget(json_array_get(reqs, 1), "path"),
	                    "/bot123456:SECRET-TOKEN-abc/sendMessage");
	j = json_loads(jget(json_array_get(reqs, 1), "body"), 0, NULL);
	assert_string_equal(jget(j, "chat_id"), "-10042");
	assert_contains(jget(j, "text"), "[mailpulse] DOWN imap-main: timeout");
	json_decref(j);
	json_decref(reqs);
}

static void test_pagerduty_trigger_resolve(void **state)
{
	struct tc *t = *state;
	struct notify_event down = ev_down(), rec = ev_recovery();
	char out[128], base[128];
	json_t *reqs, *j, *p;
	int port;

	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	port = start_http_sink(t, "202", out);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", port);
	struct conf_channel ch = channel("pd", CH_PAGERDUTY, base);
	ch.routing_key = "R0UTING-KEY-0123456789";
	assert_int_equal(notify_send(t->n, &ch, &down), 0);
	run(t, -1, 10000);
	assert_int_equal(notify_send(t->n, &ch, &rec), 0);
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 2);
	assert_string_equal(t->recs[0].event, "down");
	assert_string_equal(t->recs[1].event, "recovery");
	assert_true(t->recs[0].ok && t->recs[1].ok);
	assert_string_equal(t->recs[0].detail, "HTTP 202");

	reqs = read_lines(out);
	assert_int_equal(json_array_size(reqs), 2);
	for (int i = 0; i < 2; i++)
		assert_string_equal(jget(json_array_get(reqs, (size_t)i), "path"), "/v2/enqueue");
	j = json_loads(jget(json_array_get(reqs, 0), "body"), 0, NULL);
	assert_string_equal(jget(j, "routing_key"), "R0UTING-KEY-0123456789");
	assert_string_equal(jget(j, "event_action"), "trigger");
	assert_string_equal(jget(j, "dedup_key"), "imap-main/1714564800000");
	p = json_object_get(j, "payload");
	assert_string_equal(jget(p, "summary"), "[mailpulse] DOWN imap-main: timeout");
	assert_string_equal(jget(p, "source"), "imaps://mail.example.com:993");
	assert_string_equal(jget(p, "severity"), "critical");
	assert_string_equal(jget(p, "component"), "imap-main");
	assert_string_equal(jget(json_object_get(p, "custom_details"), "reason"), "timeout");
	json_decref(j);
	j = json_loads(jget(json_array_get(reqs, 1), "body"), 0, NULL);
	assert_string_equal(jget(j, "event_action"), "resolve");
	assert_string_equal(jget(j, "dedup_key"), "imap-main/1714564800000");
	json_decref(j);
	json_decref(reqs);
}

/* ---- retries ---- */

static void test_retry_then_ok(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char out[128], url[128];
	json_t *reqs;
	int port;

	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	port = start_http_sink(t, "500,500,200", out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	struct conf_channel ch = channel("hook", CH_WEBHOOK, url);
	ch.retries = 5;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 20000);

	assert_int_equal(t->nrecs, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t->recs[i].attempt, i + 1);
	assert_false(t->recs[0].ok);
	assert_false(t->recs[1].ok);
	assert_true(t->recs[2].ok);
	assert_contains(t->recs[0].detail, "HTTP 500");
	assert_contains(t->recs[1].detail, "HTTP 500");
	assert_string_equal(t->recs[2].detail, "HTTP 200");
	/* Backoff: 2 s, then 4 s. */
	assert_true(t->recs[1].at_ms - t->recs[0].at_ms >= 1900);
	assert_true(t->recs[2].at_ms - t->recs[1].at_ms >= 3900);
	reqs = read_lines(out);
	assert_int_equal(json_array_size(reqs), 3);
	json_decref(reqs);
}

static void test_404_not_retried(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char out[128], url[128];
	json_t *reqs;
	int port;

	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	port = start_http_sink(t, "404", out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/secret-path-xyz", port);
	struct conf_channel ch = channel("hook", CH_WEBHOOK, url);
	ch.retries = 5;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 1);
	assert_false(t->recs[0].ok);
	assert_contains(t->recs[0].detail, "HTTP 404");
	/* The webhook path is its credential at many services: not in the detail. */
	assert_null(strstr(t->recs[0].detail, "secret-path-xyz"));
	reqs = read_lines(out);
	assert_int_equal(json_array_size(reqs), 1);
	json_decref(reqs);
}

static void test_refused_retried_then_failed(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", free_port());
	struct conf_channel ch = channel("hook", CH_WEBHOOK, url);
	ch.retries = 1;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 15000);
	assert_int_equal(t->nrecs, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(t->recs[i].attempt, i + 1);
		assert_false(t->recs[i].ok);
		assert_contains(t->recs[i].detail, "connect refused");
	}
	assert_int_equal(notify_pending(t->n), 0);
}

static void test_http_timeout(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char out[128], url[128];
	const char *args[] = {HTTP_SINK, "--out", out, "--delay-ms", "5000", NULL};
	int64_t start = now_ms();
	int port;

	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	port = start_sink(t, args);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	struct conf_channel ch = channel("hook", CH_WEBHOOK, url);
	ch.timeout_ms = 300;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 1);
	assert_false(t->recs[0].ok);
	assert_contains(t->recs[0].detail, "timed out after 300 ms");
	assert_true(now_ms() - start < 3000);
}

/* ---- e-mail ---- */

static void make_certs(struct tc *t, char *ca, char *leaf, size_t sz)
{
	char cap[128], leafp[128];

	snprintf(cap, sizeof(cap), "%s/ca", t->dir);
	snprintf(leafp, sizeof(leafp), "%s/leaf", t->dir);
	char *const a1[] = {CERTGEN, "--out", cap, "--cn", "mailpulse test CA", "--ca", NULL};
	char *const a2[] = {CERTGEN, "--out",     leafp,
	                    "--cn",  "localhost", "--issuer",
	                    cap,     "--san",     "DNS:localhost,IP:127.0.0.1",
	                    NULL};
	spawn(t, a1, 1);
	spawn(t, a2, 1);
	snprintf(ca, sz, "%s.crt", cap);
	snprintf(leaf, sz, "%s", leafp);
}

static json_t *read_one_message(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char path[512];
	json_t *j = NULL;
	int n = 0;

	assert_non_null(dh);
	while ((de = readdir(dh))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		json_decref(j);
		j = json_load_file(path, 0, NULL);
		n++;
	}
	closedir(dh);
	assert_int_equal(n, 1);
	assert_non_null(j);
	return j;
}

static void test_email_starttls_auth(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char ca[160], leaf[160], crt[170], key[170], msgs[128], url[64];
	json_t *m, *rcpt;
	const char *data;
	int port;

	make_certs(t, ca, leaf, sizeof(ca));
	snprintf(crt, sizeof(crt), "%s.crt", leaf);
	snprintf(key, sizeof(key), "%s.key", leaf);
	snprintf(msgs, sizeof(msgs), "%s/msgs", t->dir);
	assert_int_equal(mkdir(msgs, 0700), 0);
	const char *args[] = {SMTP_SINK, "--out",
	                      msgs,      "--cert",
	                      crt,       "--key",
	                      key,       "--require-tls",
	                      "--auth",  "mailpulse:pa55-w0rd",
	                      NULL};
	port = start_sink(t, args);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);

	struct conf_channel ch = channel("mail", CH_EMAIL, NULL);
	ch.smtp_url = url;
	ch.smtp_starttls = 1;
	ch.smtp_user = "mailpulse";
	ch.smtp_password = "pa55-w0rd";
	ch.from = "Mailpulse <alerts@example.org>";
	ch.to[0] = "ops@example.org";
	ch.to[1] = "On call <oncall@example.org>";
	ch.nto = 2;
	ch.ca_file = ca;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 15000);
	assert_int_equal(t->nrecs, 1);
	if (!t->recs[0].ok)
		fail_msg("e-mail failed: %s", t->recs[0].detail);
	assert_contains(t->recs[0].detail, "SMTP 250");

	m = read_one_message(msgs);
	assert_true(json_is_true(json_object_get(m, "tls")));
	assert_string_equal(jget(m, "auth_user"), "mailpulse");
	assert_string_equal(jget(m, "mail_from"), "<alerts@example.org>");
	rcpt = json_object_get(m, "rcpt_to");
	assert_int_equal(json_array_size(rcpt), 2);
	assert_string_equal(json_string_value(json_array_get(rcpt, 0)), "<ops@example.org>");
	assert_string_equal(json_string_value(json_array_get(rcpt, 1)), "<oncall@example.org>");
	data = jget(m, "data");
	assert_contains(data, "From: Mailpulse <alerts@example.org>\r\n");
	assert_contains(data, "To: ops@example.org, On call <oncall@example.org>\r\n");
	assert_contains(data, "Subject: [mailpulse] DOWN imap-main: timeout\r\n");
	assert_contains(data, "Message-ID: <");
	assert_contains(data, "@example.org>\r\n");
	assert_contains(data, "Date: Wed, 01 May 2024 12:12:05 +0000\r\n");
	assert_contains(data, "MIME-Version: 1.0\r\n");
	assert_contains(data, "Content-Type: text/plain; charset=utf-8\r\n");
	assert_contains(data, "\r\n\r\nCheck:    imap-main\r\n");
	assert_contains(data, "Dashboard: https://status.example.com/check/imap-main\r\n");
	assert_null(strstr(data, "pa55-w0rd"));
	json_decref(m);

	/* A wrong password is the server's final answer: one attempt, no password shown. */
	ch.smtp_password = "wrong-pa55";
	ch.retries = 3;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 15000);
	assert_int_equal(t->nrecs, 2);
	assert_false(t->recs[1].ok);
	assert_null(strstr(t->recs[1].detail, "wrong-pa55"));
}

/* ---- commands ---- */

static void test_command_stdin(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char path[128];
	json_t *j;

	snprintf(path, sizeof(path), "%s/cmd.json", t->dir);
	struct conf_channel ch = channel("cmd", CH_COMMAND, NULL);
	ch.argv[0] = "/bin/sh";
	ch.argv[1] = "-c";
	ch.argv[2] = "cat > \"$0\"";
	ch.argv[3] = path;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 1);
	assert_true(t->recs[0].ok);
	assert_string_equal(t->recs[0].detail, "exit 0");
	assert_non_null(j = json_load_file(path, 0, NULL));
	assert_string_equal(jget(j, "kind"), "down");
	assert_string_equal(jget(j, "check"), "imap-main");
	assert_string_equal(jget(j, "since"), "2024-05-01T12:00:00Z");
	json_decref(j);
}

static void test_command_exit3(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();

	struct conf_channel ch = channel("cmd", CH_COMMAND, NULL);
	ch.argv[0] = "/bin/sh";
	ch.argv[1] = "-c";
	ch.argv[2] = "echo 'relay said no' >&2; exit 3";
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 1);
	assert_false(t->recs[0].ok);
	assert_string_equal(t->recs[0].detail, "exit 3: relay said no");

	/* A program that does not exist is not retried. */
	ch.argv[0] = "/nonexistent/mailpulse-hook";
	ch.argv[1] = NULL;
	ch.retries = 3;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 2);
	assert_false(t->recs[1].ok);
	assert_contains(t->recs[1].detail, "exit 127");
}

static void test_command_timeout(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	int64_t start = now_ms();

	struct conf_channel ch = channel("cmd", CH_COMMAND, NULL);
	ch.argv[0] = "/bin/sh";
	ch.argv[1] = "-c";
	ch.argv[2] = "echo started; sleep 30";
	ch.timeout_ms = 300;
	assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 1);
	assert_false(t->recs[0].ok);
	assert_string_equal(t->recs[0].detail, "timed out after 300 ms, killed: started");
	assert_true(now_ms() - start < 5000);
}

/*
 * Two deliveries at once whose commands write in pieces, with pauses, to
 * stdout and stderr: each attempt's detail holds its own output, whole and
 * in order, never a piece of the other's.
 */
static void test_command_parallel_output(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	struct conf_channel a = channel("cmd-a", CH_COMMAND, NULL);
	struct conf_channel b = channel("cmd-b", CH_COMMAND, NULL);
	const char *script = "for i in 1 2 3 4 5; do printf '%s%s ' \"$0\" $i; "
	                     "printf '%s%s! ' \"$0\" $i >&2; sleep 0.03; done; echo end";

	a.argv[0] = b.argv[0] = "/bin/sh";
	a.argv[1] = b.argv[1] = "-c";
	a.argv[2] = b.argv[2] = (char *)(uintptr_t)script;
	a.argv[3] = "A";
	b.argv[3] = "B";
	assert_int_equal(notify_send(t->n, &a, &ev), 0);
	assert_int_equal(notify_send(t->n, &b, &ev), 0);
	run(t, -1, 10000);
	assert_int_equal(t->nrecs, 2);
	for (int i = 0; i < 2; i++) {
		const char *want = strcmp(t->recs[i].channel, "cmd-a") == 0
		                       ? "exit 0: A1 A1! A2 A2! A3 A3! A4 A4! A5 A5! end"
		                       : "exit 0: B1 B1! B2 B2! B3 B3! B4 B4! B5 B5! end";
		assert_true(t->recs[i].ok);
		assert_string_equal(t->recs[i].detail, want);
	}
}

static void count_cb(const char *channel, uint64_t attempts, uint64_t failures, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 256 - n, "%s%s=%llu/%llu", n ? " " : "", channel,
	         (unsigned long long)attempts, (unsigned long long)failures);
}

/* Attempts and failures per channel name, for /metrics: retries count, each once. */
static void test_channel_counts(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	struct conf_channel ok = channel("ok", CH_COMMAND, NULL);
	struct conf_channel bad = channel("bad", CH_COMMAND, NULL);
	char got[256] = "";

	ok.argv[0] = bad.argv[0] = "/bin/sh";
	ok.argv[1] = bad.argv[1] = "-c";
	ok.argv[2] = "exit 0";
	bad.argv[2] = "exit 1";
	bad.retries = 1;
	assert_int_equal(notify_send(t->n, &ok, &ev), 0);
	assert_int_equal(notify_send(t->n, &bad, &ev), 0);
	assert_int_equal(notify_send(t->n, &ok, &ev), 0);
	run(t, -1, 15000);
	assert_int_equal(t->nrecs, 4);
	notify_each_channel(t->n, count_cb, got);
	/* In the order of each channel's first reported attempt: either may finish first. */
	if (strcmp(got, "ok=2/0 bad=2/2") != 0 && strcmp(got, "bad=2/2 ok=2/0") != 0)
		fail_msg("channel counts: %s", got);
}

/* ---- the link to the check's page ---- */

/* True when some string in j, at any depth, holds needle. */
static int json_holds(json_t *j, const char *needle)
{
	const char *k;
	size_t i;
	json_t *v;

	if (json_is_string(j))
		return strstr(json_string_value(j), needle) != NULL;
	json_object_foreach(j, k, v)
	{
		if (json_holds(v, needle))
			return 1;
	}
	json_array_foreach(j, i, v)
	{
		if (json_holds(v, needle))
			return 1;
	}
	return 0;
}

/*
 * All nine kinds of channel carry the same link, to the page the dashboard
 * serves (/check/NAME), with a name that needs escaping.
 */
static void test_link_every_channel(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	const char *link = "https://status.example.com/check/imap%20main%2F%C3%BC";
	const char *paths[] = {"/hook", "/slack", "/mattermost", "/discord", "/teams"};
	const enum channel_type types[] = {CH_WEBHOOK, CH_SLACK, CH_MATTERMOST, CH_DISCORD,
	                                   CH_TEAMS};
	char out[128], msgs[128], cmdout[128], u[5][128], base[128], smtp[64];
	json_t *reqs, *req, *j;
	size_t i;
	int port, sport;

	ev.check = "imap main/ü";
	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	snprintf(msgs, sizeof(msgs), "%s/msgs", t->dir);
	snprintf(cmdout, sizeof(cmdout), "%s/cmd.json", t->dir);
	assert_int_equal(mkdir(msgs, 0700), 0);
	port = start_http_sink(t, "200", out);
	const char *sargs[] = {SMTP_SINK, "--out", msgs, NULL};
	sport = start_sink(t, sargs);

	for (int k = 0; k < 5; k++) {
		snprintf(u[k], sizeof(u[k]), "http://127.0.0.1:%d%s", port, paths[k]);
		struct conf_channel ch = channel(paths[k] + 1, types[k], u[k]);
		assert_int_equal(notify_send(t->n, &ch, &ev), 0);
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	struct conf_channel tg = channel("tg", CH_TELEGRAM, base);
	tg.bot_token = "123456:TOKEN";
	tg.chat_id = "-10042";
	assert_int_equal(notify_send(t->n, &tg, &ev), 0);
	struct conf_channel pd = channel("pd", CH_PAGERDUTY, base);
	pd.routing_key = "R0UTING-KEY-0123456789";
	assert_int_equal(notify_send(t->n, &pd, &ev), 0);
	snprintf(smtp, sizeof(smtp), "smtp://127.0.0.1:%d", sport);
	struct conf_channel mail = channel("mail", CH_EMAIL, NULL);
	mail.smtp_url = smtp;
	mail.from = "alerts@example.org";
	mail.to[0] = "ops@example.org";
	mail.nto = 1;
	assert_int_equal(notify_send(t->n, &mail, &ev), 0);
	struct conf_channel cmd = channel("cmd", CH_COMMAND, NULL);
	cmd.argv[0] = "/bin/sh";
	cmd.argv[1] = "-c";
	cmd.argv[2] = "cat > \"$0\"";
	cmd.argv[3] = cmdout;
	assert_int_equal(notify_send(t->n, &cmd, &ev), 0);
	run(t, -1, 15000);

	assert_int_equal(t->nrecs, 9);
	for (int k = 0; k < t->nrecs; k++)
		if (!t->recs[k].ok)
			fail_msg("%s: %s", t->recs[k].channel, t->recs[k].detail);
	reqs = read_lines(out);
	assert_int_equal(json_array_size(reqs), 7);
	json_array_foreach(reqs, i, req)
	{
		assert_non_null(j = json_loads(jget(req, "body"), 0, NULL));
		if (!json_holds(j, link))
			fail_msg("%s: no %s in %s", jget(req, "path"), link, jget(req, "body"));
		json_decref(j);
	}
	json_decref(reqs);
	/* PagerDuty also shows it as the incident's link. */
	reqs = read_lines(out);
	j = by_path(reqs, "/v2/enqueue", 0);
	assert_string_equal(jget(j, "client_url"), link);
	json_decref(j);
	json_decref(reqs);

	j = read_one_message(msgs);
	assert_contains(jget(j, "data"), link);
	json_decref(j);
	assert_non_null(j = json_load_file(cmdout, 0, NULL));
	assert_string_equal(jget(j, "dashboard_url"), link);
	json_decref(j);
}

/* ---- shutdown and limits ---- */

static void test_free_abandons_pending(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char out[128], url[128];
	int port;

	snprintf(out, sizeof(out), "%s/http.jsonl", t->dir);
	port = start_http_sink(t, "500", out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	struct conf_channel hook = channel("hook", CH_WEBHOOK, url);
	hook.retries = 5;
	struct conf_channel cmd = channel("cmd", CH_COMMAND, NULL);
	cmd.argv[0] = "/bin/sh";
	cmd.argv[1] = "-c";
	cmd.argv[2] = "sleep 30";
	cmd.timeout_ms = 60000;
	struct conf_channel later = channel("later", CH_WEBHOOK, url);

	assert_int_equal(notify_send(t->n, &hook, &ev), 0);
	assert_int_equal(notify_send(t->n, &cmd, &ev), 0);
	run(t, 1, 10000); /* the webhook failed once and waits to retry; the command runs */
	assert_false(t->recs[0].ok);
	assert_int_equal(notify_send(t->n, &later, &ev), 0); /* queued, never started */
	assert_int_equal(notify_pending(t->n), 3);

	notify_free(t->n);
	t->n = NULL;
	assert_int_equal(t->nrecs, 4);
	int seen_hook = 0, seen_cmd = 0, seen_later = 0;
	for (int i = 1; i < 4; i++) {
		struct rec *r = &t->recs[i];
		assert_false(r->ok);
		assert_string_equal(r->detail, "abandoned at shutdown");
		if (!strcmp(r->channel, "hook")) {
			seen_hook++;
			assert_int_equal(r->attempt, 2);
		} else if (!strcmp(r->channel, "cmd")) {
			seen_cmd++;
			assert_int_equal(r->attempt, 1);
		} else if (!strcmp(r->channel, "later")) {
			seen_later++;
			assert_int_equal(r->attempt, 1);
		}
	}
	assert_int_equal(seen_hook + seen_cmd + seen_later, 3);
	assert_true(seen_hook == 1 && seen_cmd == 1 && seen_later == 1);
}

static void test_queue_bounded(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	char url[128];
	int sent = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", free_port());
	struct conf_channel ch = channel("hook", CH_WEBHOOK, url);
	while (sent <= NOTIFY_QUEUE_MAX && notify_send(t->n, &ch, &ev) == 0)
		sent++;
	assert_int_equal(sent, NOTIFY_QUEUE_MAX);
	assert_int_equal(notify_pending(t->n), NOTIFY_QUEUE_MAX);
	notify_free(t->n);
	t->n = NULL;
	assert_int_equal(t->ncalls, NOTIFY_QUEUE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_text),
	    cmocka_unit_test_setup_teardown(test_webhook_hmac, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chat_shapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_telegram_token_redacted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pagerduty_trigger_resolve, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_then_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_404_not_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_retried_then_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_email_starttls_auth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_stdin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_exit3, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_parallel_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_every_channel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_abandons_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_bounded, setup, teardown),
	};

	/* SIGPIPE stays fatal on purpose: notify must never raise it. */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
