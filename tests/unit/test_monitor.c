/* SPDX-License-Identifier: ISC */
/*
 * test_monitor.c - monitor_ingest(), the one door for results, driven
 * directly: a real monitor (real store in a temporary directory, real
 * event base, no HTTP and no daemon), its schedule stretched so that no
 * probe of its own comes during the test. Results of this node's location
 * confirm the check's state as the daemon's probes would; a location with
 * a name the configuration could not hold is refused; results are stamped
 * with their probe time.
 *
 * Then the locations of probing nodes: results a node sends
 * (monitor_ingest_remote()) are accepted, refused, late or duplicates; a
 * check weighed over three nodes with a quorum of two is partial with one
 * down and down with two, and its alerts (to a command channel that
 * writes each to a file) name every location; a lost node stops counting
 * and is alerted apart; a location that stops reporting leaves the
 * verdict unknown; a reload moves a check's locations. The monitor's clock
 * is the test's (monitor_test_now()).
 *
 * Uptime of a check with several locations counts the check's verdict:
 * one location down (partial) is not downtime, a quorum down is, a late
 * result and an impaired node's results do not count; a single-location
 * check counts each result's status as before.
 *
 * Partial notices (notify_partial): one when the verdict becomes partial,
 * naming the locations, with no incident and nothing to PagerDuty; one
 * partial_end when it is up again; none for a check without the key, or
 * with it from defaults but one location; partial then down is the down
 * alert alone; routes by reason and recovery; dropped inside maintenance
 * windows with a log line.
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
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "conf/conf.h"
#include "core/log.h"
#include "monitor/monitor.h"
#include "monitor/nodes_int.h"
#include "store/store.h"
#include "wire/result_json.h"

#include "monitor_fixture.h"

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

/* One check, web, that this daemon alone probes. */
static int setup(void **state)
{
	struct fix *f = fix_new("/tmp/mp-test-monitor-XXXXXX");

	fix_write_conf(f->dir, "mp.yaml",
	               "checks:\n"
	               "  - {name: web, url: \"pop3://127.0.0.1:9\", fail_after: 2}\n");
	fix_start(f, "mp.yaml");
	*state = f;
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

/* ---- probing nodes ---------------------------------------------------------- */

/*
 * Three nodes; "multi" is probed by all three and needs two to say down;
 * "pair" by this daemon and n1; "web" by this daemon only. Alerts, node
 * alerts too, go to a command that writes each (its JSON) to a file of its
 * own, alert.PID.json (alerts()). The schedule is stretched as above: no
 * probe of this daemon's own runs during a test.
 */
static void write_nodes_yaml(const char *dir, const char *name, const char *pair_locs,
                             const char *multi_locs)
{
	fix_write_conf(
	    dir, name,
	    "nodes:\n"
	    "  - {name: n1, token_env: MP_TEST_TOKEN_N1}\n"
	    "  - {name: n2, token_env: MP_TEST_TOKEN_N2}\n"
	    "  - {name: n3, token_env: MP_TEST_TOKEN_N3}\n"
	    "channels:\n" FIX_LOG_CHANNEL "node_notify: [log]\n"
	    "checks:\n"
	    "  - {name: web, url: \"pop3://127.0.0.1:9\", notify: [log]}\n"
	    "  - {name: multi, url: \"pop3://127.0.0.1:9\", fail_after: 1, locations: %s,\n"
	    "     quorum: 2, notify: [log]}\n"
	    "  - {name: pair, url: \"pop3://127.0.0.1:9\", locations: %s, notify: [log]}\n",
	    dir, multi_locs, pair_locs);
}

static int setup_nodes(void **state)
{
	struct fix *f;

	fix_node_tokens();
	f = fix_new("/tmp/mp-test-monitor-XXXXXX");
	write_nodes_yaml(f->dir, "mp.yaml", "[here, n1]", "[n1, n2, n3]");
	fix_start(f, "mp.yaml");
	at(f, T0);
	*state = f;
	return 0;
}

static enum mon_remote remote_as(struct fix *f, const char *node, const char *check,
                                 const char *location, uint64_t seq, int64_t t, enum mp_status st,
                                 enum mp_reason why)
{
	struct result *r = calloc(1, sizeof(*r));
	struct result_meta m;
	enum mon_remote rc;

	assert_non_null(r);
	result_init(r, 0);
	r->status = st;
	r->severity = result_default_severity(st);
	r->reason = why;
	r->probe_ms = t;
	r->ttg_us = st == MP_UP ? 4000 : -1;
	snprintf(r->message, sizeof(r->message), "%s from %s", result_reason_name(why), node);
	memset(&m, 0, sizeof(m));
	snprintf(m.check, sizeof(m.check), "%s", check);
	snprintf(m.location, sizeof(m.location), "%s", location);
	m.seq = seq;
	rc = monitor_ingest_remote(f->mo, node, r, &m, f->now);
	free(r);
	return rc;
}

static enum mon_remote remote(struct fix *f, const char *node, const char *check, uint64_t seq,
                              enum mp_status st, enum mp_reason why)
{
	return remote_as(f, node, check, node, seq, f->now, st, why);
}

static void beat(struct fix *f, const char *node)
{
	struct node_heartbeat hb;
	struct node_heartbeat_reply rep;

	memset(&hb, 0, sizeof(hb));
	snprintf(hb.node, sizeof(hb.node), "%s", node);
	hb.sent_ms = f->now;
	assert_int_equal(monitor_node_heartbeat(f->mo, node, &hb, f->now, &rep), 0);
	assert_int_equal(strlen(rep.etag), 32);
}

#define LOCS 8
struct cinfo {
	enum verdict_status verdict;
	int counted, down;
	enum mp_status status;
	int pending;
	int nlocs;
	struct {
		char name[65];
		enum mp_status status;
		int64_t last_ms;
		enum mp_reason reason;
		char message[128];
		int64_t ttg_us;
		int counts, healthy;
	} l[LOCS];
};

static void cinfo_cb(const struct mon_info *mi, void *arg)
{
	struct cinfo *c = arg;

	c->verdict = mi->verdict.status;
	c->counted = mi->verdict.counted;
	c->down = mi->verdict.down;
	c->status = mi->st->status;
	c->pending = mi->st->pending;
	c->nlocs = mi->nlocs;
	assert_true(mi->nlocs <= LOCS);
	for (int i = 0; i < mi->nlocs; i++) {
		snprintf(c->l[i].name, sizeof(c->l[i].name), "%s", mi->locs[i].name);
		c->l[i].status = mi->locs[i].st->status;
		c->l[i].last_ms = mi->locs[i].last_ms;
		c->l[i].reason = mi->locs[i].last_reason;
		snprintf(c->l[i].message, sizeof(c->l[i].message), "%s", mi->locs[i].last_message);
		c->l[i].ttg_us = mi->locs[i].last_ttg_us;
		c->l[i].counts = mi->locs[i].counts;
		c->l[i].healthy = mi->locs[i].healthy;
	}
}

static struct cinfo info(struct fix *f, const char *check)
{
	struct cinfo c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(monitor_get_check(f->mo, check, cinfo_cb, &c), 0);
	return c;
}

/* Index of location name in c; fails when absent. */
static int loc_of(const struct cinfo *c, const char *name)
{
	for (int i = 0; i < c->nlocs; i++)
		if (strcmp(c->l[i].name, name) == 0)
			return i;
	fail_msg("no location %s", name);
	return -1;
}

struct ninfo {
	enum mon_node_state state;
	char why[256];
	uint64_t accepted, late, duplicate, refused;
	int found;
};

static void ninfo_cb(const struct mon_node_info *ni, void *arg)
{
	struct ninfo *n = arg;

	if (strcmp(ni->name, n->why) != 0)
		return;
	n->found = 1;
	n->state = ni->state;
	n->accepted = ni->results_accepted;
	n->late = ni->results_late;
	n->duplicate = ni->results_duplicate;
	n->refused = ni->results_refused;
	snprintf(n->why, sizeof(n->why), "%s", ni->why);
}

static struct ninfo node_info(struct fix *f, const char *node)
{
	struct ninfo n;

	memset(&n, 0, sizeof(n));
	snprintf(n.why, sizeof(n.why), "%s", node); /* the name sought, until found */
	monitor_each_node(f->mo, ninfo_cb, &n);
	assert_true(n.found);
	return n;
}

/* The alerts sent since the last call (fix_alerts()), as an array sorted by kind. */
static json_t *alerts(struct fix *f)
{
	json_t *got[32], *arr = json_array();
	size_t n = fix_alerts(f, got, sizeof(got) / sizeof(got[0]));

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, got[i]);
	return arr;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		fail_msg("no string %s", key);
	return s;
}

/* Every outcome of a node's result, and the node's counters. */
static void test_remote_outcomes(void **state)
{
	struct fix *f = *state;
	struct cinfo c;
	struct ninfo n;

	beat(f, "n1");
	beat(f, "n2");
	beat(f, "n3");
	assert_int_equal(remote_as(f, "n1", "multi", "n1", 1, T0 - 1000, MP_UP, MP_R_OK),
	                 MON_REMOTE_ACCEPTED);
	/* Sent again (a batch whose reply was lost): had already. */
	assert_int_equal(remote_as(f, "n1", "multi", "n1", 1, T0 - 1000, MP_UP, MP_R_OK),
	                 MON_REMOTE_DUPLICATE);
	/* An empty location is the node's own. */
	assert_int_equal(remote_as(f, "n1", "multi", "", 2, T0 - 900, MP_UP, MP_R_OK),
	                 MON_REMOTE_ACCEPTED);
	assert_int_equal(remote_as(f, "n1", "multi", "n1", 0, T0 - 800, MP_UP, MP_R_OK),
	                 MON_REMOTE_BAD_META);
	assert_int_equal(remote_as(f, "n1", "multi", "n2", 3, T0 - 800, MP_UP, MP_R_OK),
	                 MON_REMOTE_BAD_META);
	assert_int_equal(remote(f, "n1", "nosuch", 3, MP_UP, MP_R_OK), MON_REMOTE_NO_CHECK);
	/* Checks that do not name the node: this daemon's alone, or another node's. */
	assert_int_equal(remote(f, "n1", "web", 3, MP_UP, MP_R_OK), MON_REMOTE_NOT_ASSIGNED);
	assert_int_equal(remote(f, "n2", "pair", 3, MP_UP, MP_R_OK), MON_REMOTE_NOT_ASSIGNED);
	assert_int_equal(info(f, "web").nlocs, 1);
	/* Older than 3 intervals (3 min): history, not state; its seq is had. */
	assert_int_equal(remote_as(f, "n1", "multi", "n1", 5, T0 - 181000, MP_DOWN, MP_R_TIMEOUT),
	                 MON_REMOTE_LATE);
	assert_int_equal(remote(f, "n1", "multi", 5, MP_UP, MP_R_OK), MON_REMOTE_DUPLICATE);
	assert_int_equal(remote(f, "n1", "multi", 4, MP_UP, MP_R_OK), MON_REMOTE_DUPLICATE);
	assert_int_equal(remote(f, "n1", "multi", 6, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);

	c = info(f, "multi");
	int i = loc_of(&c, "n1");
	assert_int_equal(c.l[i].last_ms, T0); /* not the late one's */
	assert_int_equal(c.l[i].status, MP_UP);
	assert_int_equal(c.l[i].reason, MP_R_OK);
	assert_string_equal(c.l[i].message, "ok from n1");
	assert_int_equal(c.l[i].ttg_us, 4000);
	assert_true(c.l[i].healthy);
	assert_true(c.l[i].counts);

	n = node_info(f, "n1");
	assert_int_equal(n.accepted, 3);
	assert_int_equal(n.late, 1);
	assert_int_equal(n.duplicate, 3);
	assert_int_equal(n.refused, 4);
	assert_int_equal(node_info(f, "n2").refused, 1);
	assert_string_equal(mon_remote_name(MON_REMOTE_LATE), "late");
	assert_string_equal(mon_remote_name(MON_REMOTE_NOT_ASSIGNED), "not_assigned");

	/* The late result is in the store: history has no gap. */
	monitor_tick(f->mo);
	{
		char path[128];
		sqlite3 *db;
		sqlite3_stmt *st;

		snprintf(path, sizeof(path), "%s/mp.db", f->dir);
		assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db,
		                                    "SELECT count(*), sum(ts_ms = ?1) FROM results "
		                                    "WHERE location = 'n1'",
		                                    -1, &st, NULL),
		                 SQLITE_OK);
		sqlite3_bind_int64(st, 1, T0 - 181000);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 4); /* 3 accepted, 1 late */
		assert_int_equal(sqlite3_column_int(st, 1), 1);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* A node sending what it was not given is logged, once a minute per node and check. */
static void test_refusals_logged_once_a_minute(void **state)
{
	struct fix *f = *state;
	char path[128], buf[8192];
	int saved, fd;
	ssize_t got;

	snprintf(path, sizeof(path), "%s/log.txt", f->dir);
	fflush(stderr);
	saved = dup(2);
	assert_true((fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600)) >= 0);
	dup2(fd, 2);
	close(fd);
	for (uint64_t s = 1; s <= 3; s++)
		assert_int_equal(remote(f, "n1", "web", s, MP_UP, MP_R_OK),
		                 MON_REMOTE_NOT_ASSIGNED);
	assert_int_equal(remote(f, "n2", "web", 1, MP_UP, MP_R_OK), MON_REMOTE_NOT_ASSIGNED);
	assert_int_equal(remote(f, "n1", "pair", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	at(f, T0 + 61000);
	assert_int_equal(remote(f, "n1", "web", 4, MP_UP, MP_R_OK), MON_REMOTE_NOT_ASSIGNED);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(got > 0);
	buf[got] = '\0';
	assert_int_equal(count_of(buf, "node n1: a result for check web refused"), 2);
	assert_int_equal(count_of(buf, "node n2: a result for check web refused"), 1);
	assert_int_equal(count_of(buf, "(and 2 more since the last such line)"), 1);
	assert_int_equal(count_of(buf, "refused: the check does not name this node"), 3);
	assert_int_equal(count_of(buf, "check pair"), 0);
}

/*
 * Quorum 2 of 3: one location down is partial (shown, no alert), two are
 * down with one alert naming every location and its reason; recovery
 * names them again.
 */
static void test_quorum_two_of_three(void **state)
{
	struct fix *f = *state;
	struct cinfo c;
	json_t *a, *ls;

	beat(f, "n1");
	beat(f, "n2");
	beat(f, "n3");
	at(f, T0 + 1000);
	assert_int_equal(remote(f, "n1", "multi", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_UNKNOWN); /* one of the two it needs */
	assert_true(c.pending);
	assert_int_equal(remote(f, "n2", "multi", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	assert_int_equal(remote(f, "n3", "multi", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_UP);
	assert_int_equal(c.status, MP_UP);
	assert_int_equal(c.counted, 3);

	at(f, T0 + 2000);
	assert_int_equal(remote(f, "n1", "multi", 2, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_PARTIAL);
	assert_int_equal(c.down, 1);
	assert_int_equal(c.status, MP_UP);
	assert_int_equal(c.l[loc_of(&c, "n1")].status, MP_DOWN);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	at(f, T0 + 3000);
	assert_int_equal(remote(f, "n2", "multi", 2, MP_DOWN, MP_R_REFUSED), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_DOWN);
	assert_int_equal(c.status, MP_DOWN);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	json_t *e = json_array_get(a, 0);
	assert_string_equal(jstr(e, "kind"), "down");
	assert_string_equal(jstr(e, "check"), "multi");
	assert_string_equal(jstr(e, "locations"),
	                    "down from n1 (timeout) and n2 (refused); up from n3");
	ls = json_object_get(e, "location_states");
	assert_int_equal(json_array_size(ls), 3);
	assert_string_equal(jstr(json_array_get(ls, 0), "location"), "n1");
	assert_string_equal(jstr(json_array_get(ls, 0), "state"), "down");
	assert_string_equal(jstr(json_array_get(ls, 0), "reason"), "timeout");
	assert_string_equal(jstr(json_array_get(ls, 0), "message"), "timeout from n1");
	assert_true(json_is_true(json_object_get(json_array_get(ls, 0), "counts")));
	assert_string_equal(jstr(json_array_get(ls, 2), "state"), "up");
	json_decref(a);

	/* One back is partial again: still down, nothing sent; both back is the recovery. */
	at(f, T0 + 4000);
	assert_int_equal(remote(f, "n1", "multi", 3, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_PARTIAL);
	assert_int_equal(c.status, MP_DOWN);
	assert_int_equal(remote(f, "n2", "multi", 3, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	assert_int_equal(info(f, "multi").status, MP_UP);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(jstr(json_array_get(a, 0), "kind"), "recovery");
	assert_string_equal(jstr(json_array_get(a, 0), "locations"), "up from n1, n2 and n3");
	json_decref(a);
}

/*
 * A node that misses its heartbeats is lost: alerted apart, never as a
 * check; its results stop counting, the other two judge. When it is back,
 * what it says counts again, and the check follows.
 */
static void test_lost_node(void **state)
{
	struct fix *f = *state;
	/* The monitor runs a million times slower: so does the time to lose a node. */
	int64_t t1 = T0 + (int64_t)(MON_NODE_LOST_MS * 1e6) + 5000;
	struct cinfo c;
	struct ninfo n;
	json_t *a;

	beat(f, "n1");
	beat(f, "n2");
	beat(f, "n3");
	assert_int_equal(node_info(f, "n1").state, MON_NODE_OK);
	for (int i = 1; i <= 3; i++) {
		char node[8];
		snprintf(node, sizeof(node), "n%d", i);
		assert_int_equal(remote(f, node, "multi", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	}
	at(f, t1 - 10000);
	monitor_tick(f->mo);
	assert_int_equal(node_info(f, "n1").state, MON_NODE_OK); /* not yet */
	at(f, t1);
	beat(f, "n2");
	beat(f, "n3");
	assert_int_equal(remote(f, "n2", "multi", 2, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	assert_int_equal(remote(f, "n3", "multi", 2, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	monitor_tick(f->mo);
	n = node_info(f, "n1");
	assert_int_equal(n.state, MON_NODE_LOST);
	assert_non_null(strstr(n.why, "no heartbeat for "));
	assert_int_equal(node_info(f, "n2").state, MON_NODE_OK);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(jstr(json_array_get(a, 0), "kind"), "node_lost");
	assert_string_equal(jstr(json_array_get(a, 0), "node"), "n1");
	assert_non_null(strstr(jstr(json_array_get(a, 0), "why"), "no heartbeat for "));
	assert_null(json_object_get(json_array_get(a, 0), "check"));
	json_decref(a);

	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_UP);
	assert_int_equal(c.counted, 2);
	assert_false(c.l[loc_of(&c, "n1")].healthy);
	assert_false(c.l[loc_of(&c, "n1")].counts);
	/* What a lost node says is kept, and does not count. */
	assert_int_equal(remote(f, "n1", "multi", 2, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_UP);
	assert_int_equal(c.l[loc_of(&c, "n1")].status, MP_DOWN);
	/* The other two judge: one of them down is partial. */
	assert_int_equal(remote(f, "n2", "multi", 3, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_PARTIAL);
	assert_int_equal(c.status, MP_UP);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	/*
	 * Back: what it confirmed while lost does not count at once (it was
	 * seen through its own trouble); it confirms again from new results.
	 */
	beat(f, "n1");
	assert_int_equal(node_info(f, "n1").state, MON_NODE_OK);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_PARTIAL);
	assert_int_equal(c.status, MP_UP);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(jstr(json_array_get(a, 0), "kind"), "node_back");
	assert_string_equal(jstr(json_array_get(a, 0), "node"), "n1");
	json_decref(a);
	/* A new down from it makes two. */
	assert_int_equal(remote(f, "n1", "multi", 4, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_DOWN);
	assert_int_equal(c.status, MP_DOWN);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(jstr(json_array_get(a, 0), "kind"), "down");
	assert_string_equal(jstr(json_array_get(a, 0), "locations"),
	                    "down from n1 (timeout) and n2 (timeout); up from n3");
	json_decref(a);
}

/* A location that stops reporting stops counting: too few left is unknown, not up or down. */
static void test_stale_locations(void **state)
{
	struct fix *f = *state;
	struct cinfo c;

	beat(f, "n1");
	beat(f, "n2");
	beat(f, "n3");
	assert_int_equal(remote(f, "n1", "multi", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	assert_int_equal(remote(f, "n2", "multi", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	assert_int_equal(info(f, "multi").verdict, VERDICT_UP);
	/* 3 intervals of 1 min pass without a result: the ticks weigh it again. */
	at(f, T0 + 181000);
	for (int i = 0; i < 5; i++)
		monitor_tick(f->mo);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_UNKNOWN);
	assert_int_equal(c.counted, 0);
	assert_int_equal(c.status, MP_UP); /* unknown leaves the state */

	/* Down by two, then those two go quiet: unknown again, never down for ever. */
	assert_int_equal(remote(f, "n1", "multi", 2, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	assert_int_equal(remote(f, "n2", "multi", 2, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	assert_int_equal(remote(f, "n3", "multi", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_DOWN);
	assert_int_equal(c.status, MP_DOWN);
	at(f, T0 + 400000);
	assert_int_equal(remote(f, "n3", "multi", 2, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	for (int i = 0; i < 5; i++)
		monitor_tick(f->mo);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_UNKNOWN);
	assert_int_equal(c.counted, 1);
	assert_false(c.l[loc_of(&c, "n1")].counts);
	assert_true(c.l[loc_of(&c, "n3")].counts);
}

/*
 * Every location a check names shows, pending until it reports; a reload
 * that changes a check's locations moves them (the ones that stay keep
 * their state), and this daemon probes only what names it.
 */
static void test_locations_and_reload(void **state)
{
	struct fix *f = *state;
	struct conf *nc = NULL;
	char path[128];
	struct cinfo c;

	c = info(f, "multi");
	assert_int_equal(c.nlocs, 3);
	assert_string_equal(c.l[0].name, "n1");
	assert_string_equal(c.l[2].name, "n3");
	assert_int_equal(c.l[1].last_ms, 0);
	assert_false(c.l[1].counts);
	assert_int_equal(c.l[1].ttg_us, -1);
	assert_false(c.l[1].healthy); /* never heard from */
	assert_true(c.pending);
	assert_int_equal(c.verdict, VERDICT_PENDING);
	c = info(f, "pair");
	assert_int_equal(c.nlocs, 2);
	assert_string_equal(c.l[0].name, "here");
	assert_true(c.l[0].healthy);
	assert_string_equal(c.l[1].name, "n1");
	/* Probed by nodes only: nothing to run here. */
	assert_int_equal(monitor_run_now(f->mo, "multi"), -1);

	beat(f, "n1");
	assert_int_equal(remote(f, "n1", "multi", 1, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	write_nodes_yaml(f->dir, "mp2.yaml", "[n1, n2]", "[here, n1, n3]");
	snprintf(path, sizeof(path), "%s/mp2.yaml", f->dir);
	assert_int_equal(conf_load(path, &nc, stderr), 0);
	monitor_reload(f->mo, nc);
	c = info(f, "multi");
	assert_int_equal(c.nlocs, 3);
	assert_string_equal(c.l[0].name, "here");
	assert_string_equal(c.l[1].name, "n1");
	assert_int_equal(c.l[1].status, MP_DOWN); /* kept */
	assert_int_equal(c.l[1].last_ms, T0);
	assert_string_equal(c.l[2].name, "n3");
	c = info(f, "pair");
	assert_int_equal(c.nlocs, 2);
	assert_string_equal(c.l[0].name, "n1");
	assert_string_equal(c.l[1].name, "n2");
	assert_int_equal(monitor_run_now(f->mo, "pair"), -1);
	/* Now n2 may send pair, and n3 no longer may. */
	beat(f, "n2");
	assert_int_equal(remote(f, "n2", "pair", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	assert_int_equal(remote(f, "n2", "multi", 1, MP_UP, MP_R_OK), MON_REMOTE_NOT_ASSIGNED);
}

/* The check's uptime over everything stored, after writing what is queued. */
static json_t *uptime_of(struct fix *f, const char *check)
{
	char err[256];
	json_t *u;

	monitor_tick(f->mo);
	assert_int_equal(store_queued(monitor_store(f->mo)), 0);
	u = store_q_uptime(monitor_store(f->mo), check, 0, 0, err, sizeof(err));
	if (!u)
		fail_msg("store_q_uptime(%s): %s", check, err);
	return u;
}

static int64_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("no integer %s", key);
	return json_integer_value(v);
}

/* probes and up of check's uptime, and its percentage when there were probes. */
static void uptime_is(struct fix *f, const char *check, int64_t probes, int64_t up)
{
	json_t *u = uptime_of(f, check);

	assert_int_equal(jint(u, "probes"), probes);
	assert_int_equal(jint(u, "up"), up);
	if (probes)
		assert_true(json_real_value(json_object_get(u, "uptime_pct")) ==
		            100.0 * (double)up / (double)probes);
	json_decref(u);
}

/* Rows of check in the store that count as counts_as (SQL: 1, 0, -1; 2 for NULL). */
static int rows_counted(struct fix *f, const char *check, int counts_as)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *st;
	int n;

	monitor_tick(f->mo);
	snprintf(path, sizeof(path), "%s/mp.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT count(*) FROM results r JOIN checks c"
	                                    " ON c.id = r.check_id WHERE c.name = ?1"
	                                    " AND coalesce(r.counts_as, 2) = ?2",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(st, 1, check, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, counts_as);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* The check's incidents as the store has them: {"incidents": [...]}. */
static json_t *incidents_of(struct fix *f, const char *check)
{
	char err[256];
	json_t *j;

	monitor_tick(f->mo);
	j = store_q_incidents(monitor_store(f->mo), check, 0, 10, err, sizeof(err));
	if (!j)
		fail_msg("store_q_incidents(%s): %s", check, err);
	return j;
}

/* Each node's results of multi are numbered, in order, as a node numbers them. */
static uint64_t seq_of[4];

static enum mon_remote multi_at(struct fix *f, int node, enum mp_status st)
{
	char name[8];

	snprintf(name, sizeof(name), "n%d", node);
	return remote(f, name, "multi", ++seq_of[node], st, st == MP_UP ? MP_R_OK : MP_R_TIMEOUT);
}

/*
 * Three locations, quorum two: downtime is counted from the check's
 * verdict, row by row as each result was weighed. One node down for five
 * intervals is partial: uptime stays 100 %, and no incident opens. All
 * three down: the rows from the moment the quorum is reached count down,
 * and the one incident (from the overall state) opens there. A late result
 * (replayed from a spool past its moment) and the results of an impaired
 * node are kept but do not count. A single-location check counts each
 * result's status, as before.
 */
static void test_uptime_from_the_verdict(void **state)
{
	struct fix *f = *state;
	struct node_heartbeat hb;
	struct node_heartbeat_reply rep;
	int64_t t = T0 + 1000;
	json_t *j, *a;

	memset(seq_of, 0, sizeof(seq_of));
	beat(f, "n1");
	beat(f, "n2");
	beat(f, "n3");
	/* The first result alone is no verdict (one location of the two it needs). */
	at(f, t);
	assert_int_equal(multi_at(f, 1, MP_UP), MON_REMOTE_ACCEPTED);
	assert_int_equal(info(f, "multi").verdict, VERDICT_UNKNOWN);
	assert_int_equal(multi_at(f, 2, MP_UP), MON_REMOTE_ACCEPTED);
	assert_int_equal(multi_at(f, 3, MP_UP), MON_REMOTE_ACCEPTED);
	uptime_is(f, "multi", 2, 2);
	assert_int_equal(rows_counted(f, "multi", -1), 1);

	/* n1's path is cut for five intervals: partial, users still connect. */
	for (int k = 1; k <= 5; k++) {
		at(f, t + k * 60000);
		assert_int_equal(multi_at(f, 1, MP_DOWN), MON_REMOTE_ACCEPTED);
		assert_int_equal(info(f, "multi").verdict, VERDICT_PARTIAL);
		assert_int_equal(multi_at(f, 2, MP_UP), MON_REMOTE_ACCEPTED);
		assert_int_equal(multi_at(f, 3, MP_UP), MON_REMOTE_ACCEPTED);
	}
	assert_int_equal(info(f, "multi").status, MP_UP);
	uptime_is(f, "multi", 17, 17);
	j = incidents_of(f, "multi");
	assert_int_equal(json_array_size(json_object_get(j, "incidents")), 0);
	json_decref(j);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	/*
	 * The server stops: n1's down is still partial (counts up), n2's makes
	 * the quorum (down), n3's too; the next round is down throughout.
	 */
	at(f, t + 6 * 60000);
	assert_int_equal(multi_at(f, 1, MP_DOWN), MON_REMOTE_ACCEPTED);
	assert_int_equal(multi_at(f, 2, MP_DOWN), MON_REMOTE_ACCEPTED);
	assert_int_equal(info(f, "multi").verdict, VERDICT_DOWN);
	assert_int_equal(multi_at(f, 3, MP_DOWN), MON_REMOTE_ACCEPTED);
	at(f, t + 7 * 60000);
	for (int n = 1; n <= 3; n++)
		assert_int_equal(multi_at(f, n, MP_DOWN), MON_REMOTE_ACCEPTED);
	uptime_is(f, "multi", 23, 18);
	assert_int_equal(rows_counted(f, "multi", 0), 5);
	/* One incident, from the check's state, since the quorum was reached. */
	j = incidents_of(f, "multi");
	assert_int_equal(json_array_size(json_object_get(j, "incidents")), 1);
	assert_true(json_is_true(
	    json_object_get(json_array_get(json_object_get(j, "incidents"), 0), "open")));
	assert_int_equal(jint(json_array_get(json_object_get(j, "incidents"), 0), "start_ms"),
	                 t + 6 * 60000);
	json_decref(j);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(jstr(json_array_get(a, 0), "kind"), "down");
	json_decref(a);

	/* A result older than its moment (3 intervals): stored, not counted. */
	assert_int_equal(
	    remote_as(f, "n1", "multi", "n1", ++seq_of[1], f->now - 181000, MP_UP, MP_R_OK),
	    MON_REMOTE_LATE);
	uptime_is(f, "multi", 23, 18);
	assert_int_equal(rows_counted(f, "multi", -1), 2);

	/*
	 * Back: n1's up is weighed while n2 and n3 still confirm down (down),
	 * n2's makes it partial, n3's up.
	 */
	at(f, t + 8 * 60000);
	for (int n = 1; n <= 3; n++)
		assert_int_equal(multi_at(f, n, MP_UP), MON_REMOTE_ACCEPTED);
	assert_int_equal(info(f, "multi").verdict, VERDICT_UP);
	uptime_is(f, "multi", 26, 20);
	j = incidents_of(f, "multi");
	assert_false(json_is_true(
	    json_object_get(json_array_get(json_object_get(j, "incidents"), 0), "open")));
	json_decref(j);

	/* n3's canary fails: impaired; what it says then is kept and does not count. */
	memset(&hb, 0, sizeof(hb));
	snprintf(hb.node, sizeof(hb.node), "n3");
	hb.sent_ms = f->now;
	hb.ncanaries = 1;
	snprintf(hb.canaries[0].target, sizeof(hb.canaries[0].target), "imaps://canary.test:993");
	hb.canaries[0].status = MP_DOWN;
	hb.canaries[0].reason = MP_R_TIMEOUT;
	hb.canaries[0].probe_ms = f->now;
	hb.canaries[0].failing = MON_NODE_CANARY_FAILS;
	assert_int_equal(monitor_node_heartbeat(f->mo, "n3", &hb, f->now, &rep), 0);
	assert_int_equal(node_info(f, "n3").state, MON_NODE_IMPAIRED);
	for (int k = 9; k <= 10; k++) {
		at(f, t + k * 60000);
		assert_int_equal(multi_at(f, 3, MP_DOWN), MON_REMOTE_ACCEPTED);
		assert_int_equal(multi_at(f, 1, MP_UP), MON_REMOTE_ACCEPTED);
		assert_int_equal(multi_at(f, 2, MP_UP), MON_REMOTE_ACCEPTED);
		assert_int_equal(info(f, "multi").verdict, VERDICT_UP);
	}
	uptime_is(f, "multi", 30, 24);
	assert_int_equal(rows_counted(f, "multi", -1), 4);
	assert_int_equal(rows_counted(f, "multi", 0), 6);
	assert_int_equal(rows_counted(f, "multi", 1), 24);
	assert_int_equal(rows_counted(f, "multi", 2), 0);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(jstr(json_array_get(a, 0), "kind"), "node_impaired");
	assert_string_equal(jstr(json_array_get(a, 1), "kind"), "recovery");
	json_decref(a);

	/* One location: each result by its own status, no mark (NULL), as always. */
	assert_int_equal(ingest(f, "web", "here", t, MP_UP, MP_R_OK), 0);
	assert_int_equal(ingest(f, "web", "here", t + 60000, MP_DOWN, MP_R_REFUSED), 0);
	assert_int_equal(ingest(f, "web", "here", t + 120000, MP_DEGRADED, MP_R_SLOW), 0);
	uptime_is(f, "web", 3, 2);
	assert_int_equal(rows_counted(f, "web", 2), 3);
	a = alerts(f);
	json_decref(a);
}

/* ---- partial notices (notify_partial) ------------------------------------ */

/*
 * Three nodes; defaults say notify_partial. "multi" (n1..n3, quorum 2)
 * takes it, "quiet" (the same) turns it off, "solo" (one location) and
 * "web" (this daemon alone) inherit it and are quietly without it. Every
 * check notifies the command channel "log" (as above) and a PagerDuty
 * channel "pd" at a port nothing listens on (its attempts fail at once
 * and are counted). A maintenance window covers multi from 00:02 to 00:05
 * of T0's day.
 */
static int setup_partial(void **state)
{
	struct fix *f;

	fix_node_tokens();
	setenv("MP_TEST_PD_KEY", "R0UT1NGKEY0123456789abcdef012345", 1);
	f = fix_new("/tmp/mp-test-monitor-XXXXXX");
	fix_write_conf(
	    f->dir, "mp.yaml",
	    "nodes:\n"
	    "  - {name: n1, token_env: MP_TEST_TOKEN_N1}\n"
	    "  - {name: n2, token_env: MP_TEST_TOKEN_N2}\n"
	    "  - {name: n3, token_env: MP_TEST_TOKEN_N3}\n"
	    "channels:\n" FIX_LOG_CHANNEL
	    "  - {name: pd, type: pagerduty, url: \"http://127.0.0.1:9\", retries: 0,\n"
	    "     timeout: 2s, routing_key_env: MP_TEST_PD_KEY}\n"
	    "node_notify: []\n"
	    "maintenance:\n"
	    "  - {name: w, start: \"2026-01-01T00:02:00Z\", end: \"2026-01-01T00:05:00Z\",\n"
	    "     checks: [multi]}\n"
	    "defaults:\n"
	    "  notify_partial: true\n"
	    "  notify: [log, pd]\n"
	    "checks:\n"
	    "  - {name: multi, url: \"pop3://127.0.0.1:9\", fail_after: 1,\n"
	    "     locations: [n1, n2, n3], quorum: 2}\n"
	    "  - {name: quiet, url: \"pop3://127.0.0.1:9\", fail_after: 1,\n"
	    "     locations: [n1, n2, n3], quorum: 2, notify_partial: false}\n"
	    "  - {name: solo, url: \"pop3://127.0.0.1:9\", fail_after: 1, locations: [n1]}\n"
	    "  - {name: web, url: \"pop3://127.0.0.1:9\", fail_after: 1}\n"
	    "  - {name: picky, url: \"pop3://127.0.0.1:9\", fail_after: 1,\n"
	    "     locations: [n1, n2, n3], quorum: 2,\n"
	    "     notify: [{channel: log, reasons: [refused], recovery: false}]}\n",
	    f->dir);
	fix_start(f, "mp.yaml");
	at(f, T0);
	beat(f, "n1");
	beat(f, "n2");
	beat(f, "n3");
	*state = f;
	return 0;
}

/* Each node numbers its results in order, across its checks, as a node's spool does. */
static uint64_t pseq[4];

/* A result of check from node n (1..3) at the test's clock, for why. */
static void from_why(struct fix *f, const char *check, int n, enum mp_status st, enum mp_reason why)
{
	char name[8];

	snprintf(name, sizeof(name), "n%d", n);
	assert_int_equal(remote(f, name, check, ++pseq[n], st, why), MON_REMOTE_ACCEPTED);
}

/* The same, down being a timeout. */
static void from(struct fix *f, const char *check, int n, enum mp_status st)
{
	from_why(f, check, n, st, st == MP_UP ? MP_R_OK : MP_R_TIMEOUT);
}

/* The same result of multi and quiet, which differ in notify_partial only. */
static void both(struct fix *f, int n, enum mp_status st)
{
	from(f, "multi", n, st);
	from(f, "quiet", n, st);
}

/* Alerts in a of kind for check. */
static int count_alerts(json_t *a, const char *kind, const char *check)
{
	int n = 0;

	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *e = json_array_get(a, i);
		const char *k = json_string_value(json_object_get(e, "kind"));
		const char *c = json_string_value(json_object_get(e, "check"));

		n += k && c && strcmp(k, kind) == 0 && strcmp(c, check) == 0;
	}
	return n;
}

struct chan_attempts {
	const char *name;
	uint64_t attempts;
};

static void chan_cb(const char *channel, uint64_t attempts, uint64_t failures, void *arg)
{
	struct chan_attempts *ca = arg;

	(void)failures;
	if (strcmp(channel, ca->name) == 0)
		ca->attempts = attempts;
}

/* Attempts made at channel name since the start. */
static uint64_t attempts_at(struct fix *f, const char *name)
{
	struct chan_attempts ca = {name, 0};

	monitor_each_channel(f->mo, chan_cb, &ca);
	return ca.attempts;
}

static void incident_cb(const struct mon_info *mi, void *arg)
{
	*(int *)arg = mi->st->incident_open;
}

static int incident_open(struct fix *f, const char *check)
{
	int open = -1;

	assert_int_equal(monitor_get_check(f->mo, check, incident_cb, &open), 0);
	return open;
}

/* stderr into a file of the test's directory, until log_end(); debug lines included. */
static int log_start(struct fix *f)
{
	char path[128];
	int saved, fd;

	snprintf(path, sizeof(path), "%s/log.txt", f->dir);
	fflush(stderr);
	saved = dup(2);
	assert_true((fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600)) >= 0);
	dup2(fd, 2);
	close(fd);
	log_init(LOG_TEXT, 1);
	return saved;
}

/* What was logged since log_start(), malloc'ed. */
static char *log_end(struct fix *f, int saved)
{
	char path[128], *buf = malloc(65536);
	ssize_t got;
	int fd;

	assert_non_null(buf);
	log_init(LOG_TEXT, 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	snprintf(path, sizeof(path), "%s/log.txt", f->dir);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	got = read(fd, buf, 65535);
	close(fd);
	assert_true(got >= 0);
	buf[got] = '\0';
	return buf;
}

/*
 * One node of three sees multi down (quorum 2): one partial notice naming
 * the locations, no incident, no down alert, nothing to PagerDuty; more
 * of the same within the episode says nothing more; back up is one
 * partial_end with how long it lasted. quiet, fed the same results but
 * without notify_partial, sends nothing at all.
 */
static void test_partial_notified(void **state)
{
	struct fix *f = *state;
	struct cinfo c;
	json_t *a, *e, *ls;
	char *log;
	int saved;

	memset(pseq, 0, sizeof(pseq));
	at(f, T0 + 1000);
	for (int n = 1; n <= 3; n++)
		both(f, n, MP_UP);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	/* 00:06, past the window. */
	int64_t t = T0 + 360000;
	at(f, t);
	for (int n = 1; n <= 3; n++)
		both(f, n, MP_UP);
	saved = log_start(f);
	at(f, t + 2000);
	both(f, 1, MP_DOWN);
	c = info(f, "multi");
	assert_int_equal(c.verdict, VERDICT_PARTIAL);
	assert_int_equal(c.status, MP_UP);
	assert_int_equal(info(f, "quiet").verdict, VERDICT_PARTIAL);
	a = alerts(f);
	log = log_end(f, saved);
	assert_int_equal(json_array_size(a), 1);
	e = json_array_get(a, 0);
	assert_string_equal(jstr(e, "kind"), "partial");
	assert_string_equal(jstr(e, "check"), "multi");
	assert_string_equal(jstr(e, "status"), "up");
	assert_string_equal(jstr(e, "reason"), "timeout");
	assert_string_equal(jstr(e, "message"), "timeout from n1");
	assert_int_equal(jint(e, "since_ms"), t + 2000);
	assert_string_equal(jstr(e, "locations"), "down from n1 (timeout); up from n2 and n3");
	ls = json_object_get(e, "location_states");
	assert_int_equal(json_array_size(ls), 3);
	assert_string_equal(jstr(json_array_get(ls, 0), "state"), "down");
	assert_string_equal(jstr(json_array_get(ls, 1), "state"), "up");
	/* Its own key: no outage's. */
	{
		char key[96];
		snprintf(key, sizeof(key), "mailpulse/multi/partial/%lld", (long long)(t + 2000));
		assert_string_equal(jstr(e, "incident_key"), key);
	}
	json_decref(a);
	assert_int_equal(incident_open(f, "multi"), 0);
	assert_int_equal(attempts_at(f, "pd"), 0);
	assert_int_equal(count_of(log, "partial not sent to pd: PagerDuty takes no partial "
	                               "notices"),
	                 1);
	free(log);

	/* More of the same, and another location joining it: the same episode, no more notices. */
	for (int k = 1; k <= 2; k++) {
		at(f, t + k * 100000);
		both(f, 1, MP_DOWN);
		both(f, 2, MP_UP);
		both(f, 3, MP_UP);
	}
	at(f, t + 210000);
	both(f, 2, MP_UP);
	both(f, 3, MP_UP);
	assert_int_equal(info(f, "multi").verdict, VERDICT_PARTIAL);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	/* n1 is back 4m 10s after its first failure: the end, with how long it lasted. */
	at(f, t + 252000);
	both(f, 1, MP_UP);
	assert_int_equal(info(f, "multi").verdict, VERDICT_UP);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	e = json_array_get(a, 0);
	assert_string_equal(jstr(e, "kind"), "partial_end");
	assert_string_equal(jstr(e, "check"), "multi");
	assert_int_equal(jint(e, "duration_ms"), 250000);
	assert_string_equal(jstr(e, "locations"), "up from n1, n2 and n3");
	json_decref(a);
	assert_int_equal(attempts_at(f, "pd"), 0);
	assert_int_equal(incident_open(f, "multi"), 0);

	/* Up stays up: nothing more. */
	at(f, t + 300000);
	both(f, 2, MP_UP);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
}

/*
 * Partial, then down: the down alert only, no partial_end; down losing
 * one location's confirmation is partial without a notice, and the
 * recovery is the only word on its end. A new episode after that is told
 * again.
 */
static void test_partial_then_down(void **state)
{
	struct fix *f = *state;
	json_t *a;

	memset(pseq, 0, sizeof(pseq));
	int64_t t = T0 + 360000; /* past the window */
	at(f, t);
	for (int n = 1; n <= 3; n++)
		both(f, n, MP_UP);
	at(f, t + 1000);
	both(f, 1, MP_DOWN);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(count_alerts(a, "partial", "multi"), 1);
	json_decref(a);

	at(f, t + 2000);
	both(f, 2, MP_DOWN);
	assert_int_equal(info(f, "multi").verdict, VERDICT_DOWN);
	assert_int_equal(incident_open(f, "multi"), 1);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(count_alerts(a, "down", "multi"), 1);
	assert_int_equal(count_alerts(a, "down", "quiet"), 1);
	assert_string_equal(jstr(json_array_get(a, 0), "locations"),
	                    "down from n1 (timeout) and n2 (timeout); up from n3");
	json_decref(a);
	/* The down alerts went to PagerDuty as ever (and failed there: nothing listens). */
	assert_int_equal(attempts_at(f, "pd"), 2);

	/* One back: partial while down, no notice; both back: the recovery alone. */
	at(f, t + 3000);
	both(f, 1, MP_UP);
	assert_int_equal(info(f, "multi").verdict, VERDICT_PARTIAL);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	at(f, t + 4000);
	both(f, 2, MP_UP);
	assert_int_equal(info(f, "multi").verdict, VERDICT_UP);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(count_alerts(a, "recovery", "multi"), 1);
	assert_int_equal(count_alerts(a, "recovery", "quiet"), 1);
	json_decref(a);
	assert_int_equal(attempts_at(f, "pd"), 4);

	/* A new episode is told again. */
	at(f, t + 5000);
	both(f, 3, MP_DOWN);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(count_alerts(a, "partial", "multi"), 1);
	assert_string_equal(jstr(json_array_get(a, 0), "locations"),
	                    "down from n3 (timeout); up from n1 and n2");
	json_decref(a);
	assert_int_equal(attempts_at(f, "pd"), 4);
}

/*
 * notify_partial from defaults on a check with one location is off, and
 * its outages are told as ever, with no partial notice.
 */
static void test_partial_inherited_one_location(void **state)
{
	struct fix *f = *state;
	const struct conf *c = monitor_conf(f->mo);
	json_t *a;

	assert_int_equal(conf_find_check(c, "multi")->notify_partial, 1);
	assert_int_equal(conf_find_check(c, "quiet")->notify_partial, 0);
	assert_int_equal(conf_find_check(c, "solo")->notify_partial, 0);
	assert_int_equal(conf_find_check(c, "web")->notify_partial, 0);

	memset(pseq, 0, sizeof(pseq));
	at(f, T0 + 360000);
	from(f, "solo", 1, MP_UP);
	assert_int_equal(ingest(f, "web", "here", f->now, MP_UP, MP_R_OK), 0);
	at(f, T0 + 361000);
	from(f, "solo", 1, MP_DOWN);
	assert_int_equal(ingest(f, "web", "here", f->now, MP_DOWN, MP_R_REFUSED), 0);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(count_alerts(a, "down", "solo"), 1);
	assert_int_equal(count_alerts(a, "down", "web"), 1);
	json_decref(a);
	at(f, T0 + 362000);
	from(f, "solo", 1, MP_UP);
	assert_int_equal(ingest(f, "web", "here", f->now, MP_UP, MP_R_OK), 0);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(count_alerts(a, "recovery", "solo"), 1);
	assert_int_equal(count_alerts(a, "recovery", "web"), 1);
	json_decref(a);
}

/*
 * Routes take partial notices by the reason of the location down, as a
 * degraded alert; one without recoveries gets no partial_end.
 */
static void test_partial_routes(void **state)
{
	struct fix *f = *state;
	json_t *a;

	memset(pseq, 0, sizeof(pseq));
	at(f, T0 + 360000);
	for (int n = 1; n <= 3; n++)
		from(f, "picky", n, MP_UP);
	/* A timeout: not a reason its route takes. */
	at(f, T0 + 361000);
	from_why(f, "picky", 1, MP_DOWN, MP_R_TIMEOUT);
	assert_int_equal(info(f, "picky").verdict, VERDICT_PARTIAL);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	at(f, T0 + 362000);
	from(f, "picky", 1, MP_UP);
	assert_int_equal(info(f, "picky").verdict, VERDICT_UP);
	/* Refused: told; its end is a recovery of sorts, which the route does not take. */
	at(f, T0 + 363000);
	from_why(f, "picky", 2, MP_DOWN, MP_R_REFUSED);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(count_alerts(a, "partial", "picky"), 1);
	assert_string_equal(jstr(json_array_get(a, 0), "reason"), "refused");
	json_decref(a);
	at(f, T0 + 364000);
	from(f, "picky", 2, MP_UP);
	assert_int_equal(info(f, "picky").verdict, VERDICT_UP);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
}

/*
 * A maintenance window drops partial notices, with a log line: an end
 * inside it is not told, nor is an episode that began inside it, then or
 * after the window.
 */
static void test_partial_maintenance(void **state)
{
	struct fix *f = *state;
	json_t *a;
	char *log;
	int saved;

	memset(pseq, 0, sizeof(pseq));
	at(f, T0 + 1000);
	for (int n = 1; n <= 3; n++)
		from(f, "multi", n, MP_UP);
	/* 00:01, before the window: told. */
	at(f, T0 + 60000);
	from(f, "multi", 1, MP_DOWN);
	a = alerts(f);
	assert_int_equal(count_alerts(a, "partial", "multi"), 1);
	json_decref(a);

	saved = log_start(f);
	/* 00:02:10, inside: over, not told; another episode, not told either. */
	at(f, T0 + 130000);
	for (int n = 1; n <= 3; n++)
		from(f, "multi", n, MP_UP);
	assert_int_equal(info(f, "multi").verdict, VERDICT_UP);
	at(f, T0 + 140000);
	from(f, "multi", 2, MP_DOWN);
	assert_int_equal(info(f, "multi").verdict, VERDICT_PARTIAL);
	a = alerts(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	/* 00:05:10, after: the window's end tells nothing, nor does this episode's end. */
	at(f, T0 + 310000);
	monitor_tick(f->mo);
	for (int n = 1; n <= 3; n++)
		from(f, "multi", n, MP_UP);
	assert_int_equal(info(f, "multi").verdict, VERDICT_UP);
	a = alerts(f);
	log = log_end(f, saved);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	assert_int_equal(count_of(log, "partial_end notification dropped (maintenance window)"), 1);
	assert_int_equal(count_of(log, "partial notification dropped (maintenance window)"), 1);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_confirmed_by_the_local_location, setup,
	                                    fix_teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_what_it_cannot_place, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_each_location_confirms_apart, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_last_is_the_wire, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_remote_outcomes, setup_nodes, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_refusals_logged_once_a_minute, setup_nodes,
	                                    fix_teardown),
	    cmocka_unit_test_setup_teardown(test_quorum_two_of_three, setup_nodes, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_lost_node, setup_nodes, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_stale_locations, setup_nodes, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_locations_and_reload, setup_nodes, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_uptime_from_the_verdict, setup_nodes,
	                                    fix_teardown),
	    cmocka_unit_test_setup_teardown(test_partial_notified, setup_partial, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_partial_then_down, setup_partial, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_partial_inherited_one_location, setup_partial,
	                                    fix_teardown),
	    cmocka_unit_test_setup_teardown(test_partial_routes, setup_partial, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_partial_maintenance, setup_partial, fix_teardown),
	};
	log_init(LOG_TEXT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
