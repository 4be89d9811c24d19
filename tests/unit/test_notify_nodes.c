/* SPDX-License-Identifier: ISC */
/*
 * test_notify_nodes.c - what the channels are sent for a probing node's
 * alerts (lost, impaired, back) and for a check seen from several
 * locations (the sentence naming them, and the webhook's
 * location_states); a check seen from one location is sent exactly what
 * it was before locations existed. Pure: format_payload() and
 * notify_format_text(), no delivery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "notify/format.h"
#include "notify/notify.h"

#include "notify_fixture.h"

#define NOW 1714564800000LL /* 2024-05-01T12:00:00Z */

static struct notify_event node_ev(enum notify_kind kind, const char *why)
{
	struct notify_event e = {
	    .kind = kind,
	    .location = "controller-1",
	    .status = MP_UNKNOWN,
	    .severity = MP_SEV_UNKNOWN,
	    .prev = MP_UNKNOWN,
	    .since_ms = NOW - 34000,
	    .now_ms = NOW,
	    .duration_ms = kind == NOTIFY_NODE_BACK ? 125000 : 0,
	    .dashboard_url = "https://mon.example.com/",
	    .node = "eu-west",
	    .why = why,
	};
	return e;
}

static void test_node_text(void **unused)
{
	struct notify_event ev = node_ev(NOTIFY_NODE_LOST, "no heartbeat for 34 s");
	char subject[256], body[4096];

	(void)unused;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] node eu-west lost (no heartbeat for 34 s)");
	assert_contains(body, "Node:     eu-west\n");
	assert_contains(body, "State:    lost\n");
	assert_contains(body, "Why:      no heartbeat for 34 s\n");
	assert_contains(body, "Since:    2024-05-01T11:59:26Z (for 34s)\n");
	assert_contains(body, "no check alert comes of this");
	assert_contains(body, "Controller: controller-1\n");
	/* Not a check: no check's fields, no link to a check's page. */
	assert_null(strstr(body, "Check:"));
	assert_null(strstr(body, "Dashboard:"));

	ev = node_ev(NOTIFY_NODE_IMPAIRED, "canary controller: timeout: no greeting");
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] node eu-west impaired (canary controller: "
	                             "timeout: no greeting)");
	assert_contains(body, "State:    impaired\n");
	ev = node_ev(NOTIFY_NODE_BACK, "heartbeats again after 125 s lost");
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject,
	                    "[mailpulse] node eu-west back (heartbeats again after 125 s lost)");
	assert_contains(body, "State:    ok\n");
	assert_contains(body, "count in check verdicts again");
	ev.why = NULL;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] node eu-west back");
	assert_null(strstr(body, "Why:"));

	assert_string_equal(notify_kind_name(NOTIFY_NODE_LOST), "node_lost");
	assert_string_equal(notify_kind_name(NOTIFY_NODE_IMPAIRED), "node_impaired");
	assert_string_equal(notify_kind_name(NOTIFY_NODE_BACK), "node_back");
	assert_true(notify_kind_is_node(NOTIFY_NODE_BACK));
	assert_false(notify_kind_is_node(NOTIFY_DOWN));
	assert_false(notify_kind_is_node(NOTIFY_TEST));
}

static void test_node_webhook_and_command(void **unused)
{
	struct notify_event ev = node_ev(NOTIFY_NODE_LOST, "no heartbeat for 34 s");
	enum channel_type types[] = {CH_WEBHOOK, CH_COMMAND};

	(void)unused;
	for (size_t i = 0; i < 2; i++) {
		json_t *j = payload_of(&ev, types[i]);

		assert_string_equal(jget(j, "kind"), "node_lost");
		assert_string_equal(jget(j, "node"), "eu-west");
		assert_string_equal(jget(j, "state"), "lost");
		assert_string_equal(jget(j, "why"), "no heartbeat for 34 s");
		assert_string_equal(jget(j, "location"), "controller-1");
		assert_string_equal(jget(j, "since"), "2024-05-01T11:59:26Z");
		assert_int_equal(json_integer_value(json_object_get(j, "now_ms")), NOW);
		assert_string_equal(jget(j, "incident_key"), "mailpulse-node-eu-west");
		/* Not a check's event: none of its keys. */
		assert_null(json_object_get(j, "check"));
		assert_null(json_object_get(j, "result"));
		json_decref(j);
	}
	ev = node_ev(NOTIFY_NODE_BACK, "no longer impaired after 30 s");
	json_t *j = payload_of(&ev, CH_WEBHOOK);
	assert_string_equal(jget(j, "kind"), "node_back");
	assert_string_equal(jget(j, "state"), "ok");
	assert_int_equal(json_integer_value(json_object_get(j, "duration_ms")), 125000);
	json_decref(j);
}

static void test_node_pagerduty(void **unused)
{
	struct {
		enum notify_kind kind;
		const char *action, *severity;
	} cases[] = {
	    {NOTIFY_NODE_LOST, "trigger", "error"},
	    {NOTIFY_NODE_IMPAIRED, "trigger", "warning"},
	    {NOTIFY_NODE_BACK, "resolve", "info"},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct notify_event ev = node_ev(cases[i].kind, "why not");
		json_t *j = payload_of(&ev, CH_PAGERDUTY), *p;

		/* One alert per node: lost and impaired trigger it, back resolves it. */
		assert_string_equal(jget(j, "event_action"), cases[i].action);
		assert_string_equal(jget(j, "dedup_key"), "mailpulse-node-eu-west");
		assert_string_equal(jget(j, "routing_key"), "R0UT1NGKEY0123456789abcdef012345");
		p = json_object_get(j, "payload");
		assert_string_equal(jget(p, "severity"), cases[i].severity);
		assert_string_equal(jget(p, "source"), "eu-west");
		assert_non_null(strstr(jget(p, "summary"), "[mailpulse] node eu-west "));
		assert_string_equal(jget(json_object_get(p, "custom_details"), "node"), "eu-west");
		json_decref(j);
	}
}

static void test_node_chat_and_mail(void **unused)
{
	struct notify_event ev = node_ev(NOTIFY_NODE_IMPAIRED, "canary [x](https://evil): refused");
	struct conf_channel mail = fix_channel(CH_EMAIL);
	json_t *j;
	char *m;

	(void)unused;
	j = payload_of(&ev, CH_SLACK);
	assert_contains(jget(j, "text"), "[mailpulse] node eu-west impaired");
	assert_contains(jget(j, "text"), "Node:     eu-west");
	json_decref(j);
	j = payload_of(&ev, CH_TELEGRAM);
	assert_contains(jget(j, "text"), "Why:      canary [x](https://evil): refused");
	json_decref(j);
	j = payload_of(&ev, CH_DISCORD);
	assert_contains(jget(j, "content"), "node eu-west impaired");
	json_decref(j);
	/* MessageCard reads markdown: the node's words are escaped for it. */
	{
		struct conf_channel ch = fix_channel(CH_TEAMS);
		char *p;
		ch.teams_format = TEAMS_MESSAGECARD;
		assert_non_null(p = format_payload(&ev, &ch));
		assert_non_null(j = json_loads(p, 0, NULL));
		free(p);
		assert_contains(jget(j, "text"), "\\[x\\](https://evil)");
		assert_string_equal(jget(j, "themeColor"), "FFA500"); /* impaired: a warning */
		json_decref(j);
	}
	j = payload_of(&ev, CH_TEAMS);
	assert_string_equal(jget(j, "type"), "message");
	json_decref(j);
	assert_non_null(m = format_payload(&ev, &mail));
	assert_contains(m, "Subject: [mailpulse] node eu-west impaired (canary [x](https://evil): "
	                   "refused)\r\n");
	assert_contains(m, "X-Mailpulse-Event: node_impaired\r\n");
	assert_contains(m, "\r\nNode:     eu-west\r\n");
	free(m);
}

static struct notify_event check_ev(void)
{
	return fix_ev_down("", NOW - 60000, NOW, NULL, "mailpulse/imap-main/1");
}

static void test_check_locations(void **unused)
{
	static const struct notify_loc locs[] = {
	    {"eu-west", "down", MP_R_TIMEOUT, "no greeting within 10 s", 1},
	    {"us-east", "down", MP_R_REFUSED, "connection refused", 1},
	    {"ap-south", "up", MP_R_OK, "", 1},
	};
	const char *text = "down from eu-west (timeout) and us-east (refused); up from ap-south";
	struct notify_event ev = check_ev();
	char subject[256], body[4096], plain[4096];
	json_t *j, *ls, *p;

	(void)unused;
	/* One location: as before locations existed. */
	notify_format_text(&ev, subject, sizeof(subject), plain, sizeof(plain));
	assert_null(strstr(plain, "Locations:"));
	j = payload_of(&ev, CH_WEBHOOK);
	assert_null(json_object_get(j, "locations"));
	assert_null(json_object_get(j, "location_states"));
	json_decref(j);
	j = payload_of(&ev, CH_PAGERDUTY);
	assert_string_equal(jget(json_object_get(j, "payload"), "summary"),
	                    "[mailpulse] DOWN imap-main: timeout");
	json_decref(j);

	ev.locations = text;
	ev.locs = locs;
	ev.nlocs = 3;
	notify_format_text(&ev, subject, sizeof(subject), body, sizeof(body));
	assert_string_equal(subject, "[mailpulse] DOWN imap-main: timeout");
	assert_contains(body, "Locations: down from eu-west (timeout) and us-east (refused); up "
	                      "from ap-south\n");
	/* The rest is as it was: the one line added. */
	assert_int_equal(strlen(body), strlen(plain) + strlen("Locations: ") + strlen(text) + 1);

	j = payload_of(&ev, CH_WEBHOOK);
	assert_string_equal(jget(j, "locations"), text);
	ls = json_object_get(j, "location_states");
	assert_int_equal(json_array_size(ls), 3);
	assert_string_equal(jget(json_array_get(ls, 1), "location"), "us-east");
	assert_string_equal(jget(json_array_get(ls, 1), "state"), "down");
	assert_string_equal(jget(json_array_get(ls, 1), "reason"), "refused");
	assert_string_equal(jget(json_array_get(ls, 1), "message"), "connection refused");
	assert_true(json_is_true(json_object_get(json_array_get(ls, 1), "counts")));
	assert_string_equal(jget(json_array_get(ls, 2), "reason"), "ok");
	json_decref(j);

	/* PagerDuty shows the summary: it says from where. */
	j = payload_of(&ev, CH_PAGERDUTY);
	p = json_object_get(j, "payload");
	assert_string_equal(jget(p, "summary"),
	                    "[mailpulse] DOWN imap-main: timeout; down from eu-west (timeout) and "
	                    "us-east (refused); up from ap-south");
	assert_string_equal(jget(json_object_get(p, "custom_details"), "locations"), text);
	json_decref(j);

	/* Chat channels carry the text. */
	j = payload_of(&ev, CH_SLACK);
	assert_contains(jget(j, "text"), "Locations: down from eu-west");
	json_decref(j);
	{
		struct conf_channel ch = fix_channel(CH_TEAMS);
		char *s;
		ch.teams_format = TEAMS_MESSAGECARD;
		ev.locations = "down from eu_west (cert_expired)";
		assert_non_null(s = format_payload(&ev, &ch));
		assert_non_null(j = json_loads(s, 0, NULL));
		free(s);
		assert_contains(jget(j, "text"), "Locations: down from eu\\_west (cert\\_expired)");
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_node_text),       cmocka_unit_test(test_node_webhook_and_command),
	    cmocka_unit_test(test_node_pagerduty),  cmocka_unit_test(test_node_chat_and_mail),
	    cmocka_unit_test(test_check_locations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
