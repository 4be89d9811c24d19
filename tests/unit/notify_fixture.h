/* SPDX-License-Identifier: ISC */
/*
 * notify_fixture.h - what the notify tests (test_notify.c,
 * test_notify_teams.c, test_notify_nodes.c, test_notify_partial.c) build
 * their alerts from and read them with: a check's down event, a channel
 * of each type with every field its payload reads, a payload parsed as
 * JSON, and the port of a sink started as a child process. Kept in one
 * place so that the tests cannot come to read the same payload in
 * different ways.
 *
 * Include after <cmocka.h>. The functions are static inline: each test
 * binary has its own copy, and one it does not use costs no warning.
 */
#ifndef MP_TEST_NOTIFY_FIXTURE_H
#define MP_TEST_NOTIFY_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "notify/format.h"
#include "notify/notify.h"

/* A string member of o; fails when there is none. */
static inline const char *jget(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		fail_msg("no string \"%s\"", key);
	return s;
}

static inline void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not in \"%s\"", needle, hay);
}

/*
 * imap-main on imaps://mail.example.com:993, seen down from "local" on a
 * timeout after being up; each test says what the server sent, when, the
 * dashboard (or NULL) and the incident key. The fields not named are
 * zero.
 */
static inline struct notify_event fix_ev_down(const char *greeting, int64_t since_ms,
                                              int64_t now_ms, const char *dashboard_url,
                                              const char *incident_key)
{
	struct notify_event e = {
	    .kind = NOTIFY_DOWN,
	    .check = "imap-main",
	    .target = "imaps://mail.example.com:993",
	    .location = "local",
	    .status = MP_DOWN,
	    .severity = MP_SEV_CRITICAL,
	    .prev = MP_UP,
	    .reason = MP_R_TIMEOUT,
	    .message = "no greeting within 10 s",
	    .greeting = greeting,
	    .since_ms = since_ms,
	    .now_ms = now_ms,
	    .dashboard_url = dashboard_url,
	    .incident_key = incident_key,
	};
	return e;
}

/* A channel "ch" of type with what any type reads set (never delivered: format_payload() only). */
static inline struct conf_channel fix_channel(enum channel_type type)
{
	struct conf_channel ch;

	memset(&ch, 0, sizeof(ch));
	ch.name = "ch";
	ch.type = type;
	ch.url = "https://hooks.example.com/T0/secret-path";
	ch.routing_key = "R0UT1NGKEY0123456789abcdef012345";
	ch.chat_id = "42";
	ch.from = "mailpulse@example.com";
	ch.to[0] = "ops@example.com";
	ch.nto = 1;
	ch.retries = 0;
	return ch;
}

/* What ch is sent for ev, parsed; fails when it is not JSON. */
static inline json_t *payload_json(const struct notify_event *ev, const struct conf_channel *ch)
{
	char *p = format_payload(ev, ch);
	json_error_t err;
	json_t *j;

	assert_non_null(p);
	if (!(j = json_loads(p, 0, &err)))
		fail_msg("not JSON: %s: %s", err.text, p);
	free(p);
	return j;
}

/* payload_json() through fix_channel(type). */
static inline json_t *payload_of(const struct notify_event *ev, enum channel_type type)
{
	struct conf_channel ch = fix_channel(type);

	return payload_json(ev, &ch);
}

/* An evtimer's callback that sets the int at arg: the loop's deadline. */
static inline void fix_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/*
 * The port a sink started as a child writes to portfile (its
 * --port-file) once it listens; waits up to 5 s and fails without it.
 */
static inline int fix_sink_port(const char *portfile)
{
	int port = 0;

	for (int i = 0; i < 500 && port == 0; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (!port)
			usleep(10000);
	}
	assert_true(port > 0);
	return port;
}

#endif /* MP_TEST_NOTIFY_FIXTURE_H */
