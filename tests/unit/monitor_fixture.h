/* SPDX-License-Identifier: ISC */
/*
 * monitor_fixture.h - the real monitor that test_monitor.c and
 * test_nodes.c drive (a store in a temporary directory, an event base, no
 * HTTP and no daemon, the schedule stretched so that no probe of its own
 * runs during a test, the monitor's clock the test's), and the reader of
 * the alerts that the command channel FIX_LOG_CHANNEL writes as files in
 * that directory. Kept in one place so that the two files' fixtures
 * cannot drift apart: the channel's file names and their reader above
 * all.
 *
 * Include after <cmocka.h>. The functions are static inline: each test
 * binary has its own copy, and one it does not use costs no warning. Each
 * file still writes its own configuration (fix_write_conf()) and says
 * what it holds.
 */
#ifndef MP_TEST_MONITOR_FIXTURE_H
#define MP_TEST_MONITOR_FIXTURE_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "conf/conf.h"
#include "monitor/monitor.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z: the monitor's clock in these tests */

/*
 * A channel "log" of type command that writes each alert (its JSON) to a
 * file of its own, DIR/alert.PID.json, which fix_alerts() reads. Its one
 * %s is DIR, the fixture's directory.
 */
#define FIX_LOG_CHANNEL                                                                            \
	"  - {name: log, type: command, retries: 0,\n"                                             \
	"     command: [/bin/sh, -c, 'cat > \"$0/alert.$$.json\"', %s]}\n"

/* One test's monitor: made by the test file's setup, freed by fix_teardown(). */
struct fix {
	char dir[64];
	struct event_base *base;
	struct monitor *mo;
	int64_t now; /* the monitor's clock, once at() has set it */
};

/* The fixture with its temporary directory made from tmpl ("/tmp/...-XXXXXX"). */
static inline struct fix *fix_new(const char *tmpl)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s", tmpl);
	assert_non_null(mkdtemp(f->dir));
	return f;
}

/* The tokens of the nodes n1, n2 and n3 that the configurations name by token_env. */
static inline void fix_node_tokens(void)
{
	setenv("MP_TEST_TOKEN_N1", "token-of-node-one-0123456789", 1);
	setenv("MP_TEST_TOKEN_N2", "token-of-node-two-0123456789", 1);
	setenv("MP_TEST_TOKEN_N3", "token-of-node-three-01234567", 1);
}

/*
 * Writes dir/name: this daemon's location "here", its store dir/mp.db and
 * no HTTP, then the rest of the configuration as fmt says.
 */
__attribute__((format(printf, 3, 4))) static inline void
fix_write_conf(const char *dir, const char *name, const char *fmt, ...)
{
	char path[128];
	va_list ap;
	FILE *y;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(y = fopen(path, "w"));
	fprintf(y,
	        "location: here\n"
	        "store: %s/mp.db\n"
	        "http: {listen: \"off\"}\n",
	        dir);
	va_start(ap, fmt);
	vfprintf(y, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(y), 0);
}

/* The configuration in the fixture's directory under name; fails when it does not load. */
static inline struct conf *fix_conf(const struct fix *f, const char *name)
{
	struct conf *c = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(conf_load(path, &c, stderr), 0);
	return c;
}

/* Starts the monitor on the configuration under name. */
static inline void fix_start(struct fix *f, const char *name)
{
	struct conf *c = fix_conf(f, name);
	char err[256];

	assert_non_null(f->base = event_base_new());
	/* A schedule a million times slower: no probe of its own during a test. */
	f->mo = monitor_new(f->base, c, 1e6, err, sizeof(err));
	if (!f->mo)
		fprintf(stderr, "monitor_new: %s\n", err);
	assert_non_null(f->mo);
}

/* Sets the monitor's clock. */
static inline void at(struct fix *f, int64_t t)
{
	f->now = t;
	monitor_test_now(f->mo, t);
}

/* Frees the monitor (its queue written out) and removes the directory's files. */
static inline int fix_teardown(void **state)
{
	struct fix *f = *state;
	char path[512];
	struct dirent *de;
	DIR *d;

	if (f->mo)
		assert_int_equal(monitor_free(f->mo, 1), 0);
	event_base_free(f->base);
	assert_non_null(d = opendir(f->dir));
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static inline void fix_on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static inline int fix_by_kind(const void *a, const void *b)
{
	const char *ka = json_string_value(json_object_get(*(json_t *const *)a, "kind"));
	const char *kb = json_string_value(json_object_get(*(json_t *const *)b, "kind"));

	return strcmp(ka ? ka : "", kb ? kb : "");
}

/*
 * The alerts sent since the last call, at most max of them into got (the
 * caller owns each), sorted by kind: deliveries run at once, so their
 * order is not theirs. Runs the loop until they are delivered, then reads
 * and removes the file each delivery wrote; a file that is not JSON
 * fails the test.
 */
static inline size_t fix_alerts(struct fix *f, json_t **got, size_t max)
{
	struct timeval tick = {0, 20000};
	struct event *ev = evtimer_new(f->base, fix_on_poll, NULL);
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	assert_non_null(ev);
	for (int i = 0; i < 500 && monitor_notify_pending(f->mo) > 0; i++) {
		evtimer_add(ev, &tick);
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	event_free(ev);
	assert_int_equal(monitor_notify_pending(f->mo), 0);
	assert_non_null(d = opendir(f->dir));
	while ((de = readdir(d))) {
		char path[512];
		json_error_t e;

		if (strncmp(de->d_name, "alert.", 6) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
		assert_true(n < max);
		if (!(got[n++] = json_load_file(path, 0, &e)))
			fail_msg("alert %s not JSON: %s", path, e.text);
		unlink(path);
	}
	closedir(d);
	qsort(got, n, sizeof(got[0]), fix_by_kind);
	return n;
}

#endif /* MP_TEST_MONITOR_FIXTURE_H */
