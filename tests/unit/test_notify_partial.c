/* SPDX-License-Identifier: ISC */
/*
 * test_notify_partial.c - partial notices (`notify_partial`): what each
 * channel is sent for NOTIFY_PARTIAL and NOTIFY_PARTIAL_END (the text,
 * the webhook's and command's JSON with a degraded alert's fields plus
 * the locations, the chat cards' tones, the e-mail), that PagerDuty takes
 * neither (nothing formatted, nothing queued), and the key itself: read
 * from a check and from defaults, quietly off for a check with one
 * location when inherited, and printed by conf_dump() where it means
 * something. The monitor's side is in test_monitor.c; the error for a
 * check with fewer than two locations in tests/conf/bad/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "conf/conf.h"
#include "notify/format.h"
#include "notify/notify.h"

#include "notify_fixture.h"

#define NOW 1714564800000LL /* 2024-05-01T12:00:00Z */

static const struct notify_loc locs[] = {
    {"eu-west", "down", MP_R_TIMEOUT, "no greeting within 10 s", 1},
    {"us-east", "up", MP_R_OK, "", 1},
    {"ap-south", "up", MP_R_OK, "", 1},
};
#define LOCS_TEXT "down from eu-west (timeout); up from us-east and ap-south"

/* What monitor.c sends: the check's state (up), the worst location's reason and words. */
static struct notify_event partial_ev(enum notify_kind kind)
{
	struct notify_event e = {
	    .kind = kind,
	    .check = "imap-main",
	    .target = "imaps://mail.example.com:993",
	    .location = "controller-1",
	    .status = MP_UP,
	    .severity = MP_SEV_OK,
	    .prev = MP_UP,
	    .reason = MP_R_TIMEOUT,
	    .confirmed = 2,
	    .message = kind == NOTIFY_PARTIAL ? "no greeting within 10 s" : "",
	    .greeting = "",
	    .since_ms = NOW - 250000,
	    .now_ms = NOW,
	    .duration_ms = kind == NOTIFY_PARTIAL_END ? 250000 : 0,
	    .dashboard_url = "https://mon.example.com/",
	    .incident_key = "mailpulse/imap-main/partial/1714564550000",
	    .locations =
	        kind == NOTIFY_PARTIAL ? LOCS_TEXT : "up from eu-west, us-east and ap-south",
	    .locs = locs,
	    .nlocs = 3,
	};
	return e;
}

static void test_names(void **unused)
{
	(void)unused;
	assert_string_equal(notify_kind_name(NOTIFY_PARTIAL), "partial");
	assert_string_equal(notify_kind_name(NOTIFY_PARTIAL_END), "partial_end");
	assert_true(notify_kind_is_partial(NOTIFY_PARTIAL));
	assert_true(notify_kind_is_partial(NOTIFY_PARTIAL_END));
	assert_false(notify_kind_is_partial(NOTIFY_DEGRADED));
	assert_false(notify_kind_is_partial(NOTIFY_RECOVERY));
	assert_false(notify_kind_is_node(NOTIFY_PARTIAL));
}

static void test_text(void **unused)
{
	struct notify_event ev = partial_ev(NOTIFY_PARTIAL);
	char subject[256], body[4096];

	(void)unused;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] PARTIAL imap-main: " LOCS_TEXT);
	assert_contains(body, "Check:    imap-main\n");
	assert_contains(body, "Status:   partial: seen down from fewer locations than its quorum, "
	                      "not an outage (the check stays up)\n");
	assert_contains(body, "Reason:   timeout\n");
	assert_contains(body, "Message:  no greeting within 10 s\n");
	assert_contains(body, "Since:    2024-05-01T11:55:50Z (for 4m 10s)\n");
	assert_contains(body, "Confirmed: 2 consecutive probes since then\n");
	assert_contains(body, "Locations: " LOCS_TEXT "\n");
	assert_contains(body, "Dashboard: https://mon.example.com/check/imap-main\n");
	/* No sentence (never sent so): the reason stands in for it. */
	ev.locations = NULL;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] PARTIAL imap-main: timeout");

	ev = partial_ev(NOTIFY_PARTIAL_END);
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] PARTIAL OVER imap-main after 4m 10s");
	assert_contains(body, "Status:   up (was partial)\n");
	assert_contains(body, "Partial:  4m 10s, from 2024-05-01T11:55:50Z\n");
	assert_contains(body, "Locations: up from eu-west, us-east and ap-south\n");
	assert_null(strstr(body, "Was down:"));
	assert_null(strstr(body, "Since:"));
}

/* Every key of a JSON object is in the other. */
static void assert_same_keys(json_t *a, json_t *b)
{
	const char *k;
	json_t *v;

	json_object_foreach(a, k, v)
	{
		if (!json_object_get(b, k))
			fail_msg("key \"%s\" missing", k);
	}
	json_object_foreach(b, k, v)
	{
		if (!json_object_get(a, k))
			fail_msg("key \"%s\" extra", k);
	}
}

/* The webhook's and command's JSON: a degraded alert's fields, kind partial or partial_end. */
static void test_webhook_and_command(void **unused)
{
	struct notify_event ev = partial_ev(NOTIFY_PARTIAL), deg = partial_ev(NOTIFY_PARTIAL);
	json_t *j, *d, *ls;
	char *w, *c;

	(void)unused;
	deg.kind = NOTIFY_DEGRADED;
	deg.status = MP_DEGRADED;
	deg.severity = MP_SEV_WARNING;
	j = payload_of(&ev, CH_WEBHOOK);
	d = payload_of(&deg, CH_WEBHOOK);
	assert_same_keys(j, d);
	json_decref(d);
	assert_string_equal(jget(j, "kind"), "partial");
	assert_string_equal(jget(j, "check"), "imap-main");
	assert_string_equal(jget(j, "status"), "up");
	assert_string_equal(jget(j, "previous"), "up");
	assert_string_equal(jget(j, "reason"), "timeout");
	assert_string_equal(jget(j, "since"), "2024-05-01T11:55:50Z");
	assert_string_equal(jget(j, "incident_key"), "mailpulse/imap-main/partial/1714564550000");
	assert_string_equal(jget(j, "dashboard_url"), "https://mon.example.com/check/imap-main");
	assert_string_equal(jget(j, "locations"), LOCS_TEXT);
	ls = json_object_get(j, "location_states");
	assert_int_equal(json_array_size(ls), 3);
	assert_string_equal(jget(json_array_get(ls, 0), "location"), "eu-west");
	assert_string_equal(jget(json_array_get(ls, 0), "state"), "down");
	assert_string_equal(jget(json_array_get(ls, 0), "reason"), "timeout");
	assert_string_equal(jget(json_array_get(ls, 2), "state"), "up");
	json_decref(j);

	ev = partial_ev(NOTIFY_PARTIAL_END);
	j = payload_of(&ev, CH_WEBHOOK);
	assert_string_equal(jget(j, "kind"), "partial_end");
	assert_int_equal(json_integer_value(json_object_get(j, "duration_ms")), 250000);
	assert_string_equal(jget(j, "incident_key"), "mailpulse/imap-main/partial/1714564550000");
	assert_string_equal(jget(j, "locations"), "up from eu-west, us-east and ap-south");
	json_decref(j);

	/* The command reads the webhook's very body. */
	struct conf_channel wh = fix_channel(CH_WEBHOOK), cmd = fix_channel(CH_COMMAND);
	assert_non_null(w = format_payload(&ev, &wh));
	assert_non_null(c = format_payload(&ev, &cmd));
	assert_string_equal(w, c);
	free(w);
	free(c);
}

/* Teams: a warning's colour for partial, a recovery's for its end; both formats. */
static void test_teams(void **unused)
{
	struct {
		enum notify_kind kind;
		const char *adaptive, *messagecard;
	} cases[] = {
	    {NOTIFY_PARTIAL, "Warning", "FFA500"},
	    {NOTIFY_PARTIAL_END, "Good", "2EB886"},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct notify_event ev = partial_ev(cases[i].kind);
		struct conf_channel ch = fix_channel(CH_TEAMS);
		json_t *j, *card, *title;

		j = payload_json(&ev, &ch);
		card = json_object_get(json_array_get(json_object_get(j, "attachments"), 0),
		                       "content");
		title = json_array_get(
		    json_object_get(json_array_get(json_object_get(card, "body"), 0), "inlines"),
		    0);
		assert_string_equal(jget(title, "color"), cases[i].adaptive);
		assert_contains(jget(title, "text"), i == 0 ? "[mailpulse] PARTIAL imap-main: "
		                                            : "[mailpulse] PARTIAL OVER imap-main");
		json_decref(j);

		ch.teams_format = TEAMS_MESSAGECARD;
		j = payload_json(&ev, &ch);
		assert_string_equal(jget(j, "themeColor"), cases[i].messagecard);
		json_decref(j);
	}
}

/* The other chat services and e-mail carry the text. */
static void test_chat_and_mail(void **unused)
{
	struct notify_event ev = partial_ev(NOTIFY_PARTIAL);
	struct conf_channel mail = fix_channel(CH_EMAIL);
	enum channel_type text_types[] = {CH_SLACK, CH_MATTERMOST, CH_TELEGRAM};
	json_t *j;
	char *m;

	(void)unused;
	for (size_t i = 0; i < sizeof(text_types) / sizeof(text_types[0]); i++) {
		j = payload_of(&ev, text_types[i]);
		assert_contains(jget(j, "text"), "[mailpulse] PARTIAL imap-main: " LOCS_TEXT);
		assert_contains(jget(j, "text"), "Locations: " LOCS_TEXT);
		json_decref(j);
	}
	j = payload_of(&ev, CH_DISCORD);
	assert_contains(jget(j, "content"), "[mailpulse] PARTIAL imap-main: " LOCS_TEXT);
	json_decref(j);
	assert_non_null(m = format_payload(&ev, &mail));
	assert_contains(m, "Subject: [mailpulse] PARTIAL imap-main: " LOCS_TEXT "\r\n");
	assert_contains(m, "X-Mailpulse-Event: partial\r\n");
	assert_contains(m, "\r\nLocations: " LOCS_TEXT "\r\n");
	free(m);
	ev = partial_ev(NOTIFY_PARTIAL_END);
	assert_non_null(m = format_payload(&ev, &mail));
	assert_contains(m, "Subject: [mailpulse] PARTIAL OVER imap-main after 4m 10s\r\n");
	assert_contains(m, "X-Mailpulse-Event: partial_end\r\n");
	free(m);
}

static int attempts;

static void on_attempt(const char *check, const char *channel, const char *event, int attempt,
                       int ok, const char *detail, void *arg)
{
	(void)check;
	(void)channel;
	(void)event;
	(void)attempt;
	(void)ok;
	(void)detail;
	(void)arg;
	attempts++;
}

/*
 * PagerDuty pages for outages: it takes no partial notice, so nothing is
 * formatted for it and notify_send() queues nothing; it still takes the
 * rest, and every other channel takes partial notices.
 */
static void test_pagerduty_skipped(void **unused)
{
	struct notify_event ev = partial_ev(NOTIFY_PARTIAL), down = partial_ev(NOTIFY_PARTIAL);
	struct conf_channel pd = fix_channel(CH_PAGERDUTY), wh = fix_channel(CH_WEBHOOK);
	enum channel_type others[] = {CH_WEBHOOK, CH_EMAIL, CH_SLACK,    CH_MATTERMOST,
	                              CH_DISCORD, CH_TEAMS, CH_TELEGRAM, CH_COMMAND};
	struct event_base *base;
	struct notify *n;
	char *p;

	(void)unused;
	assert_false(notify_channel_takes(CH_PAGERDUTY, NOTIFY_PARTIAL));
	assert_false(notify_channel_takes(CH_PAGERDUTY, NOTIFY_PARTIAL_END));
	assert_true(notify_channel_takes(CH_PAGERDUTY, NOTIFY_DOWN));
	assert_true(notify_channel_takes(CH_PAGERDUTY, NOTIFY_DEGRADED));
	assert_true(notify_channel_takes(CH_PAGERDUTY, NOTIFY_RECOVERY));
	assert_true(notify_channel_takes(CH_PAGERDUTY, NOTIFY_NODE_LOST));
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		assert_true(notify_channel_takes(others[i], NOTIFY_PARTIAL));
		assert_true(notify_channel_takes(others[i], NOTIFY_PARTIAL_END));
	}
	assert_null(format_payload(&ev, &pd));
	ev = partial_ev(NOTIFY_PARTIAL_END);
	assert_null(format_payload(&ev, &pd));
	down.kind = NOTIFY_DOWN;
	down.status = MP_DOWN;
	assert_non_null(p = format_payload(&down, &pd));
	free(p);

	/* Queued: nothing for PagerDuty, the webhook's as usual. */
	assert_non_null(base = event_base_new());
	assert_non_null(n = notify_new(base, on_attempt, NULL));
	ev = partial_ev(NOTIFY_PARTIAL);
	assert_int_equal(notify_send(n, &pd, &ev), 0);
	assert_int_equal(notify_pending(n), 0);
	assert_int_equal(notify_send(n, &wh, &ev), 0);
	assert_int_equal(notify_pending(n), 1);
	assert_int_equal(notify_send(n, &pd, &down), 0);
	assert_int_equal(notify_pending(n), 2);
	attempts = 0;
	notify_free(n); /* reports the two pending as abandoned, never ran a PagerDuty partial */
	assert_int_equal(attempts, 2);
	event_base_free(base);
}

/* A configuration from text, in a temporary file; NULL with the errors in *errs. */
static struct conf *load_text(const char *text, char **errs)
{
	char path[] = "/tmp/mp-test-partial-XXXXXX";
	size_t len = 0;
	FILE *e = open_memstream(errs, &len);
	struct conf *c = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_non_null(e);
	if (conf_load(path, &c, e) != 0)
		c = NULL;
	fclose(e);
	unlink(path);
	return c;
}

/*
 * The key from a check and from defaults; inherited by a check with one
 * location (or none), it is off there, quietly. conf_dump() says it for
 * the checks with several locations only.
 */
static void test_conf_key(void **unused)
{
	static const char text[] = "nodes:\n"
	                           "  - {name: eu-west, token_env: MP_TEST_NODE_EU}\n"
	                           "  - {name: us-east, token_env: MP_TEST_NODE_US}\n"
	                           "defaults:\n"
	                           "  notify_partial: true\n"
	                           "checks:\n"
	                           "  - {name: many, url: \"imaps://mail.example.com\",\n"
	                           "     locations: [local, eu-west, us-east]}\n"
	                           "  - {name: off, url: \"imaps://mail.example.com\",\n"
	                           "     locations: [eu-west, us-east], quorum: 2,\n"
	                           "     notify_partial: false}\n"
	                           "  - {name: one, url: \"imaps://mail.example.com\",\n"
	                           "     locations: [eu-west]}\n"
	                           "  - {name: here, url: \"imaps://mail.example.com\"}\n";
	char *errs = NULL, *out = NULL;
	size_t len = 0;
	struct conf *c;
	FILE *f;

	(void)unused;
	setenv("MP_TEST_NODE_EU", "eu-west-token-0123456789", 1);
	setenv("MP_TEST_NODE_US", "us-east-token-0123456789", 1);
	c = load_text(text, &errs);
	if (!c)
		fail_msg("refused:\n%s", errs);
	assert_string_equal(errs, "");
	free(errs);
	assert_int_equal(conf_find_check(c, "many")->notify_partial, 1);
	assert_int_equal(conf_find_check(c, "off")->notify_partial, 0);
	assert_int_equal(conf_find_check(c, "one")->notify_partial, 0);
	assert_int_equal(conf_find_check(c, "here")->notify_partial, 0);

	assert_non_null(f = open_memstream(&out, &len));
	conf_dump(c, f);
	fclose(f);
	assert_contains(out, "  - name: many\n");
	assert_contains(out, "    locations: [local, eu-west, us-east]\n"
	                     "    quorum: 2\n"
	                     "    notify_partial: true\n");
	assert_contains(out, "    locations: [eu-west, us-east]\n"
	                     "    quorum: 2\n"
	                     "    notify_partial: false\n");
	/* Twice: never for one or here, whose checks cannot be partial. */
	int n = 0;
	for (const char *p = out; (p = strstr(p, "notify_partial:")); p++)
		n++;
	assert_int_equal(n, 2);
	free(out);
	conf_unref(c);

	/* Default: off. */
	c = load_text("nodes: [{name: eu-west, token_env: MP_TEST_NODE_EU}]\n"
	              "checks: [{name: a, url: \"imaps://m.example.com\", locations: [local, "
	              "eu-west]}]\n",
	              &errs);
	if (!c)
		fail_msg("refused:\n%s", errs);
	free(errs);
	assert_int_equal(conf_find_check(c, "a")->notify_partial, 0);
	conf_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_webhook_and_command),
	    cmocka_unit_test(test_teams),
	    cmocka_unit_test(test_chat_and_mail),
	    cmocka_unit_test(test_pagerduty_skipped),
	    cmocka_unit_test(test_conf_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
