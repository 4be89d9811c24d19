/* SPDX-License-Identifier: ISC */
/*
 * test_notify_teams.c - the Microsoft Teams channel end to end: the
 * configuration's `format:` read by conf_load(), the delivery through
 * notify to tests/sinks/http_sink (a child process on 127.0.0.1), and the
 * card the sink received. The default is the Adaptive Card that Teams
 * Workflows webhooks take; `format: messagecard` keeps the legacy card.
 * In both, what the mail server sent is shown as written, never read as
 * markup.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "notify/notify.h"

#include "notify_fixture.h"

#ifndef HTTP_SINK
#error "HTTP_SINK comes from tests/unit/CMakeLists.txt"
#endif

/* A greeting that would be a link, bold text and a date in markdown or a card. */
#define HOSTILE                                                                                    \
	"* OK [click](https://evil.example/x) **now** <b>hi</b> {{DATE(2017-02-14T06:00:00Z)}}"

struct tc {
	struct event_base *base;
	struct notify *n;
	char dir[64];
	char out[128];
	char yaml[128];
	pid_t sink;
	int port;
	int calls, oks;
	int timed_out;
};

static void on_attempt(const char *check, const char *channel, const char *event, int attempt,
                       int ok, const char *detail, void *arg)
{
	struct tc *t = arg;

	(void)check;
	(void)event;
	(void)attempt;
	t->calls++;
	t->oks += ok;
	if (!ok)
		print_error("%s: %s\n", channel, detail);
}

static void run(struct tc *t, int want)
{
	struct timeval tv = {10, 0};
	struct event *to = evtimer_new(t->base, fix_on_timeout, &t->timed_out);

	evtimer_add(to, &tv);
	while (!t->timed_out && t->calls < want)
		event_base_loop(t->base, EVLOOP_ONCE);
	event_free(to);
	if (t->timed_out)
		fail_msg("timed out with %d of %d attempts", t->calls, want);
}

static int setup(void **state)
{
	struct tc *t = calloc(1, sizeof(*t));
	char portfile[128];

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/mp-teams-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->out, sizeof(t->out), "%s/http.jsonl", t->dir);
	snprintf(t->yaml, sizeof(t->yaml), "%s/mailpulse.yaml", t->dir);
	snprintf(portfile, sizeof(portfile), "%s/port", t->dir);
	t->sink = fork();
	assert_true(t->sink >= 0);
	if (t->sink == 0) {
		char *argv[] = {HTTP_SINK,  "--out", t->out,       "--port-file", portfile,
		                "--status", "200",   "--lifetime", "60",          NULL};
		execv(argv[0], argv);
		_exit(127);
	}
	t->port = fix_sink_port(portfile);
	unlink(portfile);
	assert_non_null(t->base = event_base_new());
	assert_non_null(t->n = notify_new(t->base, on_attempt, t));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tc *t = *state;

	notify_free(t->n);
	kill(t->sink, SIGTERM);
	waitpid(t->sink, NULL, 0);
	unlink(t->out);
	unlink(t->yaml);
	rmdir(t->dir);
	event_base_free(t->base);
	free(t);
	return 0;
}

static struct notify_event ev_down(void)
{
	return fix_ev_down(HOSTILE, 1714564800000LL, 1714564800000LL + 725000,
	                   "https://status.example.com/", "mailpulse/imap-main/1714564800000");
}

/*
 * Load a configuration with one teams channel (format: fmt, or none when
 * NULL), send ev through it, and return the body the sink received.
 */
static json_t *send_via_conf(struct tc *t, const char *fmt, const struct notify_event *ev)
{
	char line[65536];
	struct conf *c = NULL;
	json_t *req, *body;
	FILE *f;
	int idx, before = t->calls;

	assert_non_null(f = fopen(t->yaml, "w"));
	fprintf(f,
	        "channels:\n"
	        "  - name: ops\n"
	        "    type: teams\n"
	        "    url: http://127.0.0.1:%d/workflows/abc\n"
	        "%s%s%s"
	        "checks:\n"
	        "  - {name: imap-main, url: \"imaps://mail.example.com\"}\n",
	        t->port, fmt ? "    format: " : "", fmt ? fmt : "", fmt ? "\n" : "");
	fclose(f);
	if (conf_load(t->yaml, &c, stderr) != 0)
		fail_msg("conf_load refused format %s", fmt ? fmt : "(none)");
	assert_true((idx = conf_find_channel(c, "ops")) >= 0);
	assert_int_equal(notify_send(t->n, &c->channels[idx], ev), 0);
	conf_unref(c); /* notify keeps its own copy */
	run(t, before + 1);
	assert_int_equal(t->oks, t->calls);

	/* The last line is this request. */
	assert_non_null(f = fopen(t->out, "r"));
	line[0] = '\0';
	while (fgets(line, sizeof(line), f))
		;
	fclose(f);
	assert_non_null(req = json_loads(line, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(req, "path")), "/workflows/abc");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(req, "headers"), "content-type")),
	    "application/json");
	assert_non_null(body =
	                    json_loads(json_string_value(json_object_get(req, "body")), 0, NULL));
	json_decref(req);
	return body;
}

/* Every TextRun of a RichTextBlock joined; fails on a TextBlock (markdown) anywhere. */
static void card_text(json_t *body, char *buf, size_t sz, int line_per_block)
{
	size_t i, k, o = 0;
	json_t *b, *run;

	buf[0] = '\0';
	json_array_foreach(body, i, b)
	{
		if (strcmp(jget(b, "type"), "RichTextBlock") != 0)
			fail_msg(
			    "card element %zu is a %s: only RichTextBlocks, which read no markdown",
			    i, jget(b, "type"));
		json_array_foreach(json_object_get(b, "inlines"), k, run)
		{
			assert_string_equal(jget(run, "type"), "TextRun");
			o += (size_t)snprintf(buf + o, sz - o, "%s", jget(run, "text"));
			assert_true(o < sz);
		}
		if (line_per_block)
			o += (size_t)snprintf(buf + o, sz - o, "\n");
	}
}

static void test_adaptive_default(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	json_t *msg, *att, *card, *actions, *title;
	char text[8192];

	msg = send_via_conf(t, NULL, &ev);
	assert_string_equal(jget(msg, "type"), "message");
	assert_int_equal(json_array_size(json_object_get(msg, "attachments")), 1);
	att = json_array_get(json_object_get(msg, "attachments"), 0);
	assert_string_equal(jget(att, "contentType"), "application/vnd.microsoft.card.adaptive");
	card = json_object_get(att, "content");
	assert_string_equal(jget(card, "type"), "AdaptiveCard");
	assert_string_equal(jget(card, "$schema"),
	                    "http://adaptivecards.io/schemas/adaptive-card.json");
	assert_string_equal(jget(card, "version"), "1.4");
	assert_null(json_object_get(msg, "@type")); /* not a MessageCard */

	/* The title names the check, the state and the reason, in the state's colour. */
	title = json_array_get(
	    json_object_get(json_array_get(json_object_get(card, "body"), 0), "inlines"), 0);
	assert_string_equal(jget(title, "text"), "[mailpulse] DOWN imap-main: timeout");
	assert_string_equal(jget(title, "color"), "Attention");
	assert_string_equal(jget(title, "weight"), "Bolder");

	card_text(json_object_get(card, "body"), text, sizeof(text), 1);
	assert_contains(text, "Check: imap-main\n");
	assert_contains(text, "Target: imaps://mail.example.com:993\n");
	assert_contains(text, "Status: down (was up)\n");
	assert_contains(text, "Reason: timeout\n");
	assert_contains(text, "Message: no greeting within 10 s\n");
	assert_contains(text, "Dashboard: https://status.example.com/check/imap-main\n");
	/* Shown as sent, except that the braces of {{DATE(...)}} are kept apart. */
	assert_contains(text, "Server: * OK [click](https://evil.example/x) **now** <b>hi</b> "
	                      "{\xe2\x80\x8b{DATE(2017-02-14T06:00:00Z)}}\n");
	assert_null(strstr(text, "{{"));

	/* The button to the check's page on the dashboard. */
	actions = json_object_get(card, "actions");
	assert_int_equal(json_array_size(actions), 1);
	assert_string_equal(jget(json_array_get(actions, 0), "type"), "Action.OpenUrl");
	assert_string_equal(jget(json_array_get(actions, 0), "url"),
	                    "https://status.example.com/check/imap-main");
	json_decref(msg);

	/* Recovery: its own title and colour; no dashboard URL, no button. */
	ev.kind = NOTIFY_RECOVERY;
	ev.status = MP_UP;
	ev.prev = MP_DOWN;
	ev.reason = MP_R_OK;
	ev.duration_ms = 725000;
	ev.dashboard_url = NULL;
	msg = send_via_conf(t, "adaptive", &ev);
	card = json_object_get(json_array_get(json_object_get(msg, "attachments"), 0), "content");
	title = json_array_get(
	    json_object_get(json_array_get(json_object_get(card, "body"), 0), "inlines"), 0);
	assert_string_equal(jget(title, "text"), "[mailpulse] RECOVERED imap-main after 12m 5s");
	assert_string_equal(jget(title, "color"), "Good");
	assert_null(json_object_get(card, "actions"));
	card_text(json_object_get(card, "body"), text, sizeof(text), 1);
	assert_contains(text, "Was down: 12m 5s\n");
	assert_null(strstr(text, "Dashboard:"));
	json_decref(msg);

	/* Degraded with a warning: the warning colour. */
	ev = ev_down();
	ev.kind = NOTIFY_DEGRADED;
	ev.status = MP_DEGRADED;
	ev.severity = MP_SEV_WARNING;
	ev.reason = MP_R_SLOW;
	msg = send_via_conf(t, NULL, &ev);
	card = json_object_get(json_array_get(json_object_get(msg, "attachments"), 0), "content");
	title = json_array_get(
	    json_object_get(json_array_get(json_object_get(card, "body"), 0), "inlines"), 0);
	assert_string_equal(jget(title, "text"), "[mailpulse] DEGRADED imap-main: slow");
	assert_string_equal(jget(title, "color"), "Warning");
	json_decref(msg);
}

static void test_messagecard_format(void **state)
{
	struct tc *t = *state;
	struct notify_event ev = ev_down();
	json_t *msg;
	const char *text;

	msg = send_via_conf(t, "messagecard", &ev);
	assert_string_equal(jget(msg, "@type"), "MessageCard");
	assert_string_equal(jget(msg, "@context"), "https://schema.org/extensions");
	assert_string_equal(jget(msg, "title"), "[mailpulse] DOWN imap-main: timeout");
	assert_string_equal(jget(msg, "summary"), "[mailpulse] DOWN imap-main: timeout");
	assert_string_equal(jget(msg, "themeColor"), "D50000");
	assert_null(json_object_get(msg, "attachments"));
	text = jget(msg, "text");
	assert_contains(text, "Check:    imap-main\n\n");
	assert_contains(text, "Status:   down (was up)\n\n");
	assert_contains(text, "Reason:   timeout\n\n");
	assert_contains(text, "Dashboard: https://status.example.com/check/imap-main\n\n");
	/* Markdown's special characters escaped: no link, no bold, no tag. */
	assert_contains(text,
	                "Server:   \\* OK \\[click\\](https://evil.example/x) \\*\\*now\\*\\* "
	                "\\<b\\>hi\\</b\\> \\{\\{DATE(2017-02-14T06:00:00Z)\\}\\}\n\n");
	assert_null(strstr(text, " [click]"));
	json_decref(msg);

	/* A check name with markdown in it is escaped in the title too. */
	ev.check = "imap_*main*";
	msg = send_via_conf(t, "messagecard", &ev);
	assert_string_equal(jget(msg, "title"), "[mailpulse] DOWN imap\\_\\*main\\*: timeout");
	/* The link is ours and percent-encoded: left as it is. */
	assert_contains(jget(msg, "text"),
	                "Dashboard: https://status.example.com/check/imap_%2Amain%2A\n\n");
	json_decref(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_adaptive_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_messagecard_format, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
