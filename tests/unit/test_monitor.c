/* SPDX-License-Identifier: ISC */
/*
 * test_monitor.c - monitor_ingest(), the one door for results, driven
 * directly: a real monitor (real store in a temporary directory, real
 * event base, no HTTP and no daemon), its schedule stretched so that no
 * probe of its own comes during the test. Results of this node's location
 * confirm the check's state as the daemon's probes would; a location with
 * a name the configuration could not hold is refused; results are stamped
 * with their probe time.
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

#include "conf/conf.h"
#include "core/log.h"
#include "monitor/monitor.h"
#include "wire/result_json.h"

struct fix {
	char dir[64];
	struct event_base *base;
	struct monitor *mo;
};

struct seen {
	int n;
	enum mp_status status;
	int pending;
	int64_t since_ms;
	int incident_open;
	int64_t incident_start_ms;
	int64_t last_ts_ms; /* -1: no last result */
	enum mp_reason last_reason;
};

static void seen_cb(const struct mon_info *mi, void *arg)
{
	struct seen *s = arg;

	s->n++;
	s->status = mi->st->status;
	s->pending = mi->st->pending;
	s->since_ms = mi->st->since_ms;
	s->incident_open = mi->st->incident_open;
	s->incident_start_ms = mi->st->incident_start_ms;
	s->last_ts_ms = mi->last ? mi->last->ts_ms : -1;
	s->last_reason = mi->last ? mi->last->reason : MP_R_OK;
}

static struct seen look(struct fix *f)
{
	struct seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(monitor_get_check(f->mo, "web", seen_cb, &s), 0);
	assert_int_equal(s.n, 1);
	return s;
}

static int ingest(struct fix *f, const char *check, const char *location, int64_t t,
                  enum mp_status st, enum mp_reason why)
{
	struct result *r = calloc(1, sizeof(*r)); /* ~11 KB: not on the stack */
	int rc;

	assert_non_null(r);
	result_init(r, 0);
	r->status = st;
	r->severity = result_default_severity(st);
	r->reason = why;
	snprintf(r->message, sizeof(r->message), "test result at %lld", (long long)t);
	rc = monitor_ingest(f->mo, check, location, t, r);
	free(r);
	return rc;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char path[128], err[256];
	struct conf *c = NULL;
	FILE *y;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mp-test-monitor-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/mp.yaml", f->dir);
	assert_non_null(y = fopen(path, "w"));
	fprintf(y,
	        "location: here\n"
	        "store: %s/mp.db\n"
	        "http: {listen: \"off\"}\n"
	        "checks:\n"
	        "  - {name: web, url: \"pop3://127.0.0.1:9\", fail_after: 2}\n",
	        f->dir);
	assert_int_equal(fclose(y), 0);
	assert_int_equal(conf_load(path, &c, stderr), 0);
	assert_non_null(f->base = event_base_new());
	/* A schedule a million times slower: the first probe is hours away. */
	f->mo = monitor_new(f->base, c, 1e6, err, sizeof(err));
	if (!f->mo)
		fprintf(stderr, "monitor_new: %s\n", err);
	assert_non_null(f->mo);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char path[128];

	assert_int_equal(monitor_free(f->mo, 1), 0);
	event_base_free(f->base);
	for (const char *const *s = (const char *const[]){"mp.yaml", "mp.db", "mp.db-wal",
	                                                  "mp.db-shm", "mp.db.lock", NULL};
	     *s; s++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, *s);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_confirmed_by_the_local_location(void **state)
{
	struct fix *f = *state;
	struct seen s;

	s = look(f);
	assert_true(s.pending);
	assert_int_equal(s.last_ts_ms, -1);

	/* A first up makes it up at once, stamped with the probe's time. */
	assert_int_equal(ingest(f, "web", "here", 1000, MP_UP, MP_R_OK), 0);
	s = look(f);
	assert_false(s.pending);
	assert_int_equal(s.status, MP_UP);
	assert_int_equal(s.since_ms, 1000);
	assert_int_equal(s.last_ts_ms, 1000);

	/* Down after two, from the first failing probe. */
	assert_int_equal(ingest(f, "web", "here", 2000, MP_DOWN, MP_R_REFUSED), 0);
	assert_int_equal(look(f).status, MP_UP);
	/* Our side failing is no evidence either way. */
	assert_int_equal(ingest(f, "web", "here", 2500, MP_UNKNOWN, MP_R_INTERNAL), 0);
	assert_int_equal(look(f).status, MP_UP);
	assert_int_equal(ingest(f, "web", "here", 3000, MP_DOWN, MP_R_REFUSED), 0);
	s = look(f);
	assert_int_equal(s.status, MP_DOWN);
	assert_int_equal(s.since_ms, 2000);
	assert_true(s.incident_open);
	assert_int_equal(s.incident_start_ms, 2000);
	assert_int_equal(s.last_ts_ms, 3000);
	assert_int_equal(s.last_reason, MP_R_REFUSED);

	/* One up recovers (recover_after 1). */
	assert_int_equal(ingest(f, "web", "here", 4000, MP_UP, MP_R_OK), 0);
	s = look(f);
	assert_int_equal(s.status, MP_UP);
	assert_false(s.incident_open);
	assert_int_equal(s.since_ms, 4000);
}

static void test_refuses_what_it_cannot_place(void **state)
{
	struct fix *f = *state;
	char longname[80];

	assert_int_equal(ingest(f, "nosuch", "here", 1000, MP_DOWN, MP_R_REFUSED), -1);
	memset(longname, 'a', 65);
	longname[65] = '\0';
	const char *bad[] = {"", "two words", "caf\xc3\xa9", "a/b", longname};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ingest(f, "web", bad[i], 1000, MP_DOWN, MP_R_REFUSED), -1);
	/* Nothing of them entered. */
	struct seen s = look(f);
	assert_true(s.pending);
	assert_int_equal(s.last_ts_ms, -1);
	/* 64 bytes is a name. */
	longname[64] = '\0';
	assert_int_equal(ingest(f, "web", longname, 1000, MP_UP, MP_R_OK), 0);
	assert_int_equal(look(f).status, MP_UP);
}

static void test_each_location_confirms_apart(void **state)
{
	struct fix *f = *state;

	/* Each location confirms on its own: two downs from two places are not two in a row. */
	assert_int_equal(ingest(f, "web", "here", 1000, MP_UP, MP_R_OK), 0);
	assert_int_equal(ingest(f, "web", "here", 2000, MP_DOWN, MP_R_TIMEOUT), 0);
	assert_int_equal(ingest(f, "web", "there", 2100, MP_DOWN, MP_R_TIMEOUT), 0);
	assert_int_equal(look(f).status, MP_UP);
	assert_int_equal(ingest(f, "web", "here", 3000, MP_DOWN, MP_R_TIMEOUT), 0);
	struct seen s = look(f);
	assert_int_equal(s.status, MP_DOWN);
	assert_int_equal(s.since_ms, 2000);
}

struct wire_seen {
	int64_t ts_ms;
	uint64_t seq;
	char wire[4096];
};

static void wire_cb(const struct mon_info *mi, void *arg)
{
	struct wire_seen *w = arg;

	assert_non_null(mi->last);
	w->ts_ms = mi->last->ts_ms;
	w->seq = mi->last->seq;
	snprintf(w->wire, sizeof(w->wire), "%s", mi->last->wire);
}

/*
 * The last result is the one encoder's text, stamped with the probe's own
 * start (r->probe_ms wins over the caller's fallback), with the check, the
 * location, the check's configuration digest and a seq that grows with
 * each result and starts at the probe's time in ms; it decodes strictly.
 */
static void test_last_is_the_wire(void **state)
{
	struct fix *f = *state;
	struct result *r = calloc(1, sizeof(*r)), *back = calloc(1, sizeof(*back));
	struct result_meta m;
	struct wire_seen w;
	char err[256];
	uint64_t seq1;

	assert_non_null(r);
	assert_non_null(back);
	result_init(r, 0);
	snprintf(r->message, sizeof(r->message), "stamped by the engine");
	r->probe_ms = 1700000000123LL;
	assert_int_equal(monitor_ingest(f->mo, "web", "here", 1700000009999LL, r), 0);
	assert_int_equal(monitor_get_check(f->mo, "web", wire_cb, &w), 0);
	assert_int_equal(w.ts_ms, 1700000000123LL);
	assert_int_equal(w.seq, 1700000000123ULL);
	assert_int_equal(result_json_decode(w.wire, strlen(w.wire), back, &m, err, sizeof(err)), 0);
	assert_int_equal(back->probe_ms, 1700000000123LL);
	assert_string_equal(back->message, "stamped by the engine");
	assert_string_equal(m.check, "web");
	assert_string_equal(m.location, "here");
	assert_string_equal(m.target, "pop3://127.0.0.1:9");
	assert_int_equal(strlen(m.digest), 64);
	assert_int_equal(m.seq, w.seq);
	seq1 = w.seq;

	/* Not stamped (0): the caller's time stands in, in the wire too; seq still grows. */
	r->probe_ms = 0;
	assert_int_equal(monitor_ingest(f->mo, "web", "here", 1700000000100LL, r), 0);
	assert_int_equal(monitor_get_check(f->mo, "web", wire_cb, &w), 0);
	assert_int_equal(w.ts_ms, 1700000000100LL);
	assert_true(w.seq > seq1);
	assert_int_equal(result_json_decode(w.wire, strlen(w.wire), back, &m, err, sizeof(err)), 0);
	assert_int_equal(back->probe_ms, 1700000000100LL);
	assert_int_equal(m.seq, seq1 + 1);
	free(r);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_confirmed_by_the_local_location, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_what_it_cannot_place, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_each_location_confirms_apart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_is_the_wire, setup, teardown),
	};
	log_init(LOG_TEXT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
