/* SPDX-License-Identifier: ISC */
/*
 * test_nodes.c - the probing nodes as the controller sees them
 * (src/monitor/nodes.c): the impaired rule as a pure function, then a real
 * monitor (store in a temporary directory, schedule stretched so that it
 * probes nothing itself) fed heartbeats and batches: clock skew flagged
 * and cleared, batch ids sent again known, assignments and their etag
 * (which follows the checks, and a password only where it travels), a
 * failing canary or a lone dissenting node impaired and back, with the
 * node alerts a command channel writes to files. The monitor's clock is
 * the test's (monitor_test_now()).
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
#include <jansson.h>
#include <sqlite3.h>

#include "conf/conf.h"
#include "core/log.h"
#include "monitor/monitor.h"
#include "monitor/nodes_int.h"

#include "monitor_fixture.h"

#define PW_A "secret-of-check-a-Zq81"
#define PW_B "secret-of-check-b-Kx22"

/* ---- the rule --------------------------------------------------------------- */

static struct node_canary canary(const char *target, unsigned failing, const char *msg)
{
	struct node_canary c;

	memset(&c, 0, sizeof(c));
	snprintf(c.target, sizeof(c.target), "%s", target);
	c.status = failing ? MP_DOWN : MP_UP;
	c.reason = failing ? MP_R_TIMEOUT : MP_R_OK;
	snprintf(c.message, sizeof(c.message), "%s", msg);
	c.failing = failing;
	return c;
}

static void test_rule_canary(void **unused)
{
	struct node_canary c[3] = {canary("controller", 5, "connection refused"),
	                           canary("imaps://canary.example:993", 0, "no greeting"),
	                           canary("pop3s://other.example:995", 0, "")};
	char why[MON_WHY_MAX];

	(void)unused;
	/* The controller canary failing says lost, never impaired: it is heard now. */
	assert_int_equal(nodes_impaired_rule(c, 3, 0, 0, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	/* One failed probe of a canary of its own is enough (the node held its results). */
	c[1] = canary("imaps://canary.example:993", 1, "no greeting");
	assert_int_equal(nodes_impaired_rule(c, 3, 0, 0, why, sizeof(why)), 1);
	assert_string_equal(why, "canary imaps://canary.example:993: timeout: no greeting");
	/* No message: no empty tail. */
	c[1].message[0] = '\0';
	assert_int_equal(nodes_impaired_rule(c, 3, 0, 0, why, sizeof(why)), 1);
	assert_string_equal(why, "canary imaps://canary.example:993: timeout");
	/* The node's words are cut and lose their control bytes. */
	memset(c[1].message, 'm', 200);
	c[1].message[200] = '\0';
	c[1].message[3] = '\n';
	assert_int_equal(nodes_impaired_rule(c, 3, 0, 0, why, sizeof(why)), 1);
	assert_null(strchr(why, '\n'));
	assert_non_null(strstr(why, ": timeout: mmm?mmm"));
	assert_int_equal(strlen(why), strlen("canary imaps://canary.example:993: timeout: ") + 120);
	/* A count past the array is not read past it; none at all is fine. */
	assert_int_equal(nodes_impaired_rule(c, 0, 0, 0, why, sizeof(why)), 0);
	assert_int_equal(nodes_impaired_rule(NULL, 5, 0, 0, why, sizeof(why)), 0);
	/* A small buffer is cut, never overrun. */
	assert_int_equal(nodes_impaired_rule(c, 3, 0, 0, why, 8), 1);
	assert_int_equal(strlen(why), 7);
}

static void test_rule_disagreement(void **unused)
{
	char why[MON_WHY_MAX];

	(void)unused;
	/* Too few shared checks to say anything, however many it sees down. */
	assert_int_equal(nodes_impaired_rule(NULL, 0, 2, 2, why, sizeof(why)), 0);
	assert_int_equal(nodes_impaired_rule(NULL, 0, 3, 2, why, sizeof(why)), 1);
	assert_string_equal(why, "sees 2 of 3 shared checks down that other locations see up");
	/* Half is not more than half. */
	assert_int_equal(nodes_impaired_rule(NULL, 0, 4, 2, why, sizeof(why)), 0);
	assert_int_equal(nodes_impaired_rule(NULL, 0, 5, 3, why, sizeof(why)), 1);
	assert_int_equal(nodes_impaired_rule(NULL, 0, 1000, 500, why, sizeof(why)), 0);
	assert_int_equal(nodes_impaired_rule(NULL, 0, 1000, 501, why, sizeof(why)), 1);
	/* The canary is said first. */
	struct node_canary c = canary("pop3://canary.example:110", 3, "refused");
	c.reason = MP_R_REFUSED;
	assert_int_equal(nodes_impaired_rule(&c, 1, 5, 5, why, sizeof(why)), 1);
	assert_string_equal(why, "canary pop3://canary.example:110: refused: refused");
	assert_string_equal(mon_node_state_name(MON_NODE_IMPAIRED), "impaired");
	assert_string_equal(mon_node_state_name(MON_NODE_LOST), "lost");
}

/* ---- a monitor ------------------------------------------------------------- */

/* interval_a: check a's interval ("1m", "2m"): the etag must follow it. */
static void write_yaml(const char *dir, const char *name, const char *interval_a)
{
	fix_write_conf(
	    dir, name,
	    "nodes:\n"
	    "  - {name: n1, token_env: MP_TEST_TOKEN_N1}\n"
	    "  - {name: n2, token_env: MP_TEST_TOKEN_N2, region: eu-west}\n"
	    "  - {name: n3, token_env: MP_TEST_TOKEN_N3}\n"
	    "channels:\n" FIX_LOG_CHANNEL "node_notify: [log]\n"
	    "defaults: {fail_after: 1, notify: [log]}\n"
	    "checks:\n"
	    "  - {name: a, url: \"imaps://127.0.0.1:9\", locations: [n1, n2, n3], quorum: 2,\n"
	    "     interval: %s, login: user, password_env: MP_TEST_PW_A,\n"
	    "     password_to_nodes: true}\n"
	    "  - {name: b, url: \"imaps://127.0.0.1:9\", locations: [n1, n2, n3], quorum: 2,\n"
	    "     login: user, password_env: MP_TEST_PW_B}\n"
	    "  - {name: c, url: \"pop3s://127.0.0.1:9\", locations: [n1, n2, n3], quorum: 2}\n"
	    "  - {name: d, url: \"pop3s://127.0.0.1:9\", locations: [n2, n3]}\n"
	    "  - {name: e, url: \"pop3s://127.0.0.1:9\"}\n",
	    dir, interval_a);
}

static int setup(void **state)
{
	struct fix *f;

	fix_node_tokens();
	setenv("MP_TEST_PW_A", PW_A, 1);
	setenv("MP_TEST_PW_B", PW_B, 1);
	f = fix_new("/tmp/mp-test-nodes-XXXXXX");
	write_yaml(f->dir, "mp.yaml", "1m");
	fix_start(f, "mp.yaml");
	at(f, T0);
	*state = f;
	return 0;
}

static void reload(struct fix *f, const char *interval_a)
{
	write_yaml(f->dir, "mp.yaml", interval_a);
	monitor_reload(f->mo, fix_conf(f, "mp.yaml"));
}

/* A heartbeat sent at sent_ms, with canaries. */
static struct node_heartbeat_reply beat_at(struct fix *f, const char *node, int64_t sent_ms,
                                           const struct node_canary *c, int nc)
{
	struct node_heartbeat hb;
	struct node_heartbeat_reply rep;

	memset(&hb, 0, sizeof(hb));
	snprintf(hb.node, sizeof(hb.node), "%s", node);
	snprintf(hb.version, sizeof(hb.version), "test");
	hb.sent_ms = sent_ms;
	for (int i = 0; i < nc; i++)
		hb.canaries[i] = c[i];
	hb.ncanaries = nc;
	assert_int_equal(monitor_node_heartbeat(f->mo, node, &hb, f->now, &rep), 0);
	return rep;
}

static void beat(struct fix *f, const char *node)
{
	(void)beat_at(f, node, f->now, NULL, 0);
}

static enum mon_remote remote(struct fix *f, const char *node, const char *check, uint64_t seq,
                              enum mp_status st, enum mp_reason why)
{
	struct result *r = calloc(1, sizeof(*r));
	struct result_meta m;
	enum mon_remote rc;

	assert_non_null(r);
	result_init(r, 0);
	r->status = st;
	r->severity = result_default_severity(st);
	r->reason = why;
	r->probe_ms = f->now;
	memset(&m, 0, sizeof(m));
	snprintf(m.check, sizeof(m.check), "%s", check);
	snprintf(m.location, sizeof(m.location), "%s", node);
	m.seq = seq;
	rc = monitor_ingest_remote(f->mo, node, r, &m, f->now);
	free(r);
	return rc;
}

struct ninfo {
	const char *want;
	int found;
	struct mon_node_info ni; /* strings valid during the callback only: copied below */
	char why[MON_WHY_MAX];
	char region[32];
	char version[32];
};

static void ninfo_cb(const struct mon_node_info *ni, void *arg)
{
	struct ninfo *n = arg;

	if (strcmp(ni->name, n->want) != 0)
		return;
	n->found++;
	n->ni = *ni;
	snprintf(n->why, sizeof(n->why), "%s", ni->why);
	snprintf(n->region, sizeof(n->region), "%s", ni->region ? ni->region : "(none)");
	snprintf(n->version, sizeof(n->version), "%s", ni->hb ? ni->hb->version : "(none)");
}

static struct ninfo node_info(struct fix *f, const char *node)
{
	struct ninfo n;

	memset(&n, 0, sizeof(n));
	n.want = node;
	monitor_each_node(f->mo, ninfo_cb, &n);
	assert_int_equal(n.found, 1);
	return n;
}

struct vinfo {
	enum verdict_status verdict;
	enum mp_status status;
	int healthy_n1, counts_n1;
};

static void vinfo_cb(const struct mon_info *mi, void *arg)
{
	struct vinfo *v = arg;

	v->verdict = mi->verdict.status;
	v->status = mi->st->status;
	for (int i = 0; i < mi->nlocs; i++)
		if (strcmp(mi->locs[i].name, "n1") == 0) {
			v->healthy_n1 = mi->locs[i].healthy;
			v->counts_n1 = mi->locs[i].counts;
		}
}

static struct vinfo check_info(struct fix *f, const char *check)
{
	struct vinfo v;

	memset(&v, 0, sizeof(v));
	assert_int_equal(monitor_get_check(f->mo, check, vinfo_cb, &v), 0);
	return v;
}

/*
 * The kinds of the alerts sent since the last call (fix_alerts()), sorted
 * and joined with spaces, and the last of them (when last).
 */
static void alerts(struct fix *f, char *kinds, size_t len, json_t **last)
{
	json_t *got[32];
	size_t n;

	kinds[0] = '\0';
	if (last)
		*last = NULL;
	n = fix_alerts(f, got, sizeof(got) / sizeof(got[0]));
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(kinds);

		snprintf(kinds + l, len - l, "%s%s", l ? " " : "",
		         json_string_value(json_object_get(got[i], "kind")));
		if (last && i + 1 == n)
			*last = got[i];
		else
			json_decref(got[i]);
	}
}

static void test_skew(void **state)
{
	struct fix *f = *state;
	struct node_heartbeat_reply rep;
	struct node_batch_head h;
	struct node_batch_reply br;

	rep = beat_at(f, "n1", T0 + 6000, NULL, 0);
	assert_int_equal(rep.skew_ms, 6000);
	assert_true(rep.skew_flagged);
	assert_int_equal(rep.controller_ms, T0);
	assert_true(node_info(f, "n1").ni.skew_flagged);
	assert_int_equal(node_info(f, "n1").ni.skew_ms, 6000);
	/* Within the bound, either way: cleared. */
	rep = beat_at(f, "n1", T0 - MON_SKEW_MAX_MS, NULL, 0);
	assert_false(rep.skew_flagged);
	assert_false(node_info(f, "n1").ni.skew_flagged);
	/* A batch says the node's clock too. */
	memset(&h, 0, sizeof(h));
	snprintf(h.node, sizeof(h.node), "n1");
	snprintf(h.id, sizeof(h.id), "batch-1");
	h.sent_ms = T0 - 7000;
	assert_int_equal(monitor_node_batch(f->mo, "n1", &h, T0, &br), 0);
	assert_int_equal(br.skew_ms, -7000);
	assert_true(node_info(f, "n1").ni.skew_flagged);
	assert_int_equal(node_info(f, "n1").ni.skew_ms, -7000);
	assert_false(node_info(f, "n2").ni.skew_flagged);
}

static int batch(struct fix *f, const char *node, const char *id)
{
	struct node_batch_head h;
	struct node_batch_reply br;
	int rc;

	memset(&h, 0, sizeof(h));
	snprintf(h.node, sizeof(h.node), "%s", node);
	snprintf(h.id, sizeof(h.id), "%s", id);
	h.sent_ms = f->now;
	h.n = 1;
	rc = monitor_node_batch(f->mo, node, &h, f->now, &br);
	if (rc >= 0) {
		assert_string_equal(br.id, id);
		assert_int_equal(strlen(br.etag), 32);
	}
	return rc;
}

static void test_batch_ids(void **state)
{
	struct fix *f = *state;
	char id[32];

	assert_int_equal(batch(f, "n1", "b1"), 0);
	assert_int_equal(batch(f, "n1", "b2"), 0);
	assert_int_equal(batch(f, "n1", "b1"), 1); /* sent again: the caller answers as before */
	assert_int_equal(batch(f, "n2", "b1"), 0); /* ids are per node */
	assert_int_equal(batch(f, "nosuch", "b1"), -1);
	assert_int_equal(node_info(f, "n1").ni.batches, 2);
	/* The batch sent again holds one result (batch()): one duplicate. */
	assert_int_equal(node_info(f, "n1").ni.results_duplicate, 1);
	assert_int_equal(node_info(f, "n1").ni.last_batch_ms, T0);
	/* The last 64 are remembered: older ones are forgotten. */
	for (int i = 0; i < 63; i++) {
		snprintf(id, sizeof(id), "x%d", i);
		assert_int_equal(batch(f, "n1", id), 0);
	}
	assert_int_equal(batch(f, "n1", "b2"), 1);
	assert_int_equal(batch(f, "n1", "b1"), 0);
	assert_int_equal(node_info(f, "n1").ni.batches, 66);
}

static int has_only_hex(const char *s)
{
	return strspn(s, "0123456789abcdef") == strlen(s);
}

static void test_assignments(void **state)
{
	struct fix *f = *state;
	char e1[NODE_ID_MAX], e1b[NODE_ID_MAX], e2[NODE_ID_MAX], e[NODE_ID_MAX];
	char *doc = NULL;
	json_t *j, *checks;

	assert_int_equal(monitor_node_assignments(f->mo, "n1", e1, &doc), 0);
	assert_int_equal(strlen(e1), 32);
	assert_true(has_only_hex(e1));
	assert_non_null(doc);
	/* The checks that name n1, the password only of the one that sends it. */
	assert_non_null(j = json_loads(doc, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(j, "etag")), e1);
	assert_string_equal(json_string_value(json_object_get(j, "node")), "n1");
	checks = json_object_get(j, "checks");
	assert_int_equal(json_array_size(checks), 3);
	assert_non_null(strstr(doc, PW_A));
	assert_null(strstr(doc, PW_B));
	assert_null(strstr(doc, "\"d\""));
	assert_null(strstr(doc, "\"e\""));
	json_decref(j);
	free(doc);
	assert_int_equal(monitor_node_assignments(f->mo, "n1", e1b, NULL), 0);
	assert_string_equal(e1, e1b);
	assert_int_equal(monitor_node_assignments(f->mo, "n2", e2, NULL), 0);
	assert_string_not_equal(e1, e2);
	assert_int_equal(monitor_node_assignments(f->mo, "nosuch", e, NULL), -1);
	assert_int_equal(node_info(f, "n1").ni.checks_assigned, 3);
	assert_int_equal(node_info(f, "n2").ni.checks_assigned, 4);
	assert_string_equal(node_info(f, "n2").region, "eu-west");
	assert_string_equal(node_info(f, "n1").region, "(none)");
	/* The heartbeat's reply carries it: the node pulls when it differs. */
	{
		struct node_heartbeat_reply rep = beat_at(f, "n1", T0, NULL, 0);
		assert_string_equal(rep.etag, e1);
	}
	/* The same configuration again: the same etag. */
	reload(f, "1m");
	assert_int_equal(monitor_node_assignments(f->mo, "n1", e, NULL), 0);
	assert_string_equal(e, e1);
	/* A password that does not travel is none of the etag's business. */
	setenv("MP_TEST_PW_B", "another-secret-of-b-Qq7", 1);
	reload(f, "1m");
	assert_int_equal(monitor_node_assignments(f->mo, "n1", e, NULL), 0);
	assert_string_equal(e, e1);
	/* One that travels is: the node must pull the new one. */
	setenv("MP_TEST_PW_A", "another-secret-of-a-Ww3", 1);
	reload(f, "1m");
	assert_int_equal(monitor_node_assignments(f->mo, "n1", e, &doc), 0);
	assert_string_not_equal(e, e1);
	assert_non_null(strstr(doc, "another-secret-of-a-Ww3"));
	assert_null(strstr(doc, PW_A));
	free(doc);
	setenv("MP_TEST_PW_A", PW_A, 1);
	reload(f, "1m");
	assert_int_equal(monitor_node_assignments(f->mo, "n1", e, NULL), 0);
	assert_string_equal(e, e1);
	/* A changed check changes the etag of the nodes it names, and only theirs. */
	reload(f, "2m");
	assert_int_equal(monitor_node_assignments(f->mo, "n1", e, NULL), 0);
	assert_string_not_equal(e, e1);
	assert_int_equal(monitor_node_assignments(f->mo, "n2", e, NULL), 0);
	assert_string_not_equal(e, e2);
	assert_true(has_only_hex(e));
}

static void test_impaired_by_canary(void **state)
{
	struct fix *f = *state;
	struct node_canary bad = canary("imap://canary.example:143", 1, "no greeting within 10 s");
	struct ninfo n;
	char kinds[256];
	json_t *last;

	beat(f, "n1");
	beat(f, "n2");
	beat(f, "n3");
	assert_int_equal(node_info(f, "n1").ni.state, MON_NODE_OK);
	assert_true(check_info(f, "a").healthy_n1);
	(void)beat_at(f, "n1", T0, &bad, 1);
	n = node_info(f, "n1");
	assert_int_equal(n.ni.state, MON_NODE_IMPAIRED);
	assert_string_equal(n.why,
	                    "canary imap://canary.example:143: timeout: no greeting within 10 s");
	assert_string_equal(n.version, "test");
	assert_false(check_info(f, "a").healthy_n1);
	alerts(f, kinds, sizeof(kinds), &last);
	assert_string_equal(kinds, "node_impaired");
	assert_string_equal(json_string_value(json_object_get(last, "node")), "n1");
	assert_string_equal(json_string_value(json_object_get(last, "why")),
	                    "canary imap://canary.example:143: timeout: no greeting within 10 s");
	json_decref(last);
	/* Its results are kept and do not count: down from it alone changes nothing. */
	assert_int_equal(remote(f, "n1", "c", 1, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	assert_int_equal(remote(f, "n2", "c", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	assert_int_equal(remote(f, "n3", "c", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	assert_int_equal(check_info(f, "c").verdict, VERDICT_UP);
	/*
	 * Its canary works again: back. What it confirmed while impaired does
	 * not count at once: it confirms again, so the check stays up; a new
	 * down from it makes one of three: partial.
	 */
	at(f, T0 + 10000);
	beat(f, "n1");
	assert_int_equal(node_info(f, "n1").ni.state, MON_NODE_OK);
	assert_string_equal(node_info(f, "n1").why, "");
	assert_int_equal(check_info(f, "c").verdict, VERDICT_UP);
	assert_int_equal(remote(f, "n1", "c", 2, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	assert_int_equal(check_info(f, "c").verdict, VERDICT_PARTIAL);
	alerts(f, kinds, sizeof(kinds), &last);
	assert_string_equal(kinds, "node_back");
	assert_non_null(strstr(json_string_value(json_object_get(last, "why")),
	                       "no longer impaired after 10 s"));
	json_decref(last);
}

static void test_impaired_by_disagreement(void **state)
{
	struct fix *f = *state;
	const char *shared[] = {"a", "b", "c"};
	char kinds[256];

	beat(f, "n1");
	beat(f, "n2");
	beat(f, "n3");
	for (int i = 0; i < 3; i++) {
		/* A node numbers its results across its checks. */
		uint64_t seq = (uint64_t)i + 1;

		assert_int_equal(remote(f, "n1", shared[i], seq, MP_DOWN, MP_R_TIMEOUT),
		                 MON_REMOTE_ACCEPTED);
		assert_int_equal(remote(f, "n2", shared[i], seq, MP_UP, MP_R_OK),
		                 MON_REMOTE_ACCEPTED);
		assert_int_equal(remote(f, "n3", shared[i], seq, MP_UP, MP_R_OK),
		                 MON_REMOTE_ACCEPTED);
		assert_int_equal(check_info(f, shared[i]).verdict, VERDICT_PARTIAL);
	}
	/* Weighed every five ticks. */
	for (int i = 0; i < 4; i++)
		monitor_tick(f->mo);
	assert_int_equal(node_info(f, "n1").ni.state, MON_NODE_OK);
	monitor_tick(f->mo);
	assert_int_equal(node_info(f, "n1").ni.state, MON_NODE_IMPAIRED);
	assert_string_equal(node_info(f, "n1").why,
	                    "sees 3 of 3 shared checks down that other locations see up");
	assert_int_equal(node_info(f, "n2").ni.state, MON_NODE_OK);
	/* It no longer counts: the checks are up, and no check alert ever went out. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(check_info(f, shared[i]).verdict, VERDICT_UP);
	alerts(f, kinds, sizeof(kinds), NULL);
	assert_string_equal(kinds, "node_impaired");

	/* It sees them up again: well at the next weighing. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(remote(f, "n1", shared[i], (uint64_t)i + 4, MP_UP, MP_R_OK),
		                 MON_REMOTE_ACCEPTED);
	for (int i = 0; i < 5; i++)
		monitor_tick(f->mo);
	assert_int_equal(node_info(f, "n1").ni.state, MON_NODE_OK);
	alerts(f, kinds, sizeof(kinds), NULL);
	assert_string_equal(kinds, "node_back");
}

/* A batch's end told: when it may be answered. */
static void count_told(void *arg)
{
	(*(int *)arg)++;
}

/*
 * Results of check c from node, one batch: seqs[i] probed at probe_ms[i]
 * with status st; the batch head says floor. Returns what became of each
 * in rcs. The batch ends as the HTTP handler ends it (stored, then had).
 */
static void lane_batch(struct fix *f, const char *node, const char *id, uint64_t floor,
                       const uint64_t *seqs, const int64_t *probe_ms, int n, enum mp_status st,
                       enum mon_remote *rcs)
{
	struct node_batch_head h;
	struct node_batch_reply br;
	int told;

	memset(&h, 0, sizeof(h));
	snprintf(h.node, sizeof(h.node), "%s", node);
	snprintf(h.id, sizeof(h.id), "%s", id);
	h.sent_ms = f->now;
	h.floor = floor;
	h.n = (size_t)n;
	assert_int_equal(monitor_node_batch(f->mo, node, &h, f->now, &br), 0);
	for (int i = 0; i < n; i++) {
		struct result *r = calloc(1, sizeof(*r));
		struct result_meta m;

		assert_non_null(r);
		result_init(r, 0);
		r->status = st;
		r->severity = result_default_severity(st);
		r->reason = st == MP_UP ? MP_R_OK : MP_R_TIMEOUT;
		r->probe_ms = probe_ms[i];
		memset(&m, 0, sizeof(m));
		snprintf(m.check, sizeof(m.check), "c");
		snprintf(m.location, sizeof(m.location), "%s", node);
		m.seq = seqs[i];
		rcs[i] = monitor_ingest_remote(f->mo, node, r, &m, f->now);
		free(r);
	}
	told = 0;
	monitor_node_batch_end(f->mo, node, count_told, &told);
	/* SQLite writes at once: the answer may go before the batch's end returns. */
	assert_int_equal(told, 1);
}

/* Rows of check c from node in the store (written before a batch is answered). */
static int stored_rows(struct fix *f, const char *node)
{
	char path[300], sql[300];
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	snprintf(path, sizeof(path), "%s/mp.db", f->dir);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM results JOIN checks ON checks.id = results.check_id "
	         "WHERE checks.name = 'c' AND location = '%s'",
	         node);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/*
 * A node back after a cut sends two lanes: its newest results first (the
 * live lane, seqs from 1001), its backlog beside them, oldest first (seqs
 * from 1). The newest move the state; the backlog is history, stored and
 * not counted, never refused as a duplicate. What was taken once is a
 * duplicate when it comes again, in a batch of another id too (a batch
 * made anew after the spool dropped its oldest), and below the floor.
 */
static void test_two_lanes(void **state)
{
	struct fix *f = *state;
	enum mon_remote rc[4];
	const uint64_t live1[] = {1001, 1002}, live2[] = {1003}, old1[] = {1, 2, 3},
	               old2[] = {2, 3, 4}, old3[] = {5};
	const int64_t now2[] = {T0, T0}, now1[] = {T0},
	              past3[] = {T0 - 50000, T0 - 40000, T0 - 30000};

	beat(f, "n1");
	beat(f, "n2");
	/* n2 sees c up; n1's live lane says down, now. */
	assert_int_equal(remote(f, "n2", "c", 1, MP_UP, MP_R_OK), MON_REMOTE_ACCEPTED);
	lane_batch(f, "n1", "1001-1002", 1, live1, now2, 2, MP_DOWN, rc);
	assert_int_equal(rc[0], MON_REMOTE_ACCEPTED);
	assert_int_equal(rc[1], MON_REMOTE_ACCEPTED);
	assert_int_equal(check_info(f, "c").verdict, VERDICT_PARTIAL);
	/* The backlog, older and up: history only; the state stays as the newest say. */
	lane_batch(f, "n1", "1-3", 1, old1, past3, 3, MP_UP, rc);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rc[i], MON_REMOTE_LATE);
	assert_int_equal(check_info(f, "c").verdict, VERDICT_PARTIAL);
	assert_int_equal(stored_rows(f, "n1"), 5);
	/* The backlog batch made anew (another id) after a lost reply: 2 and 3 are had. */
	lane_batch(f, "n1", "2-4", 2, old2, past3, 3, MP_UP, rc);
	assert_int_equal(rc[0], MON_REMOTE_DUPLICATE);
	assert_int_equal(rc[1], MON_REMOTE_DUPLICATE);
	assert_int_equal(rc[2], MON_REMOTE_LATE);
	/* The live lane goes on between them; a live seq sent again is had too. */
	lane_batch(f, "n1", "1003", 5, live2, now1, 1, MP_DOWN, rc);
	assert_int_equal(rc[0], MON_REMOTE_ACCEPTED);
	lane_batch(f, "n1", "1002-1003", 5, live1 + 1, now1, 1, MP_DOWN, rc);
	assert_int_equal(rc[0], MON_REMOTE_DUPLICATE);
	assert_int_equal(stored_rows(f, "n1"), 7);
	/* The backlog is through: the floor passes it, and a stale resend below it is had. */
	lane_batch(f, "n1", "5", 5, old3, past3, 1, MP_UP, rc);
	assert_int_equal(rc[0], MON_REMOTE_LATE);
	lane_batch(f, "n1", "1-3b", 1004, old1, past3, 3, MP_UP, rc);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rc[i], MON_REMOTE_DUPLICATE);
	assert_int_equal(stored_rows(f, "n1"), 8);
	assert_int_equal(node_info(f, "n1").ni.results_accepted, 3);
	assert_int_equal(node_info(f, "n1").ni.results_late, 5);
	assert_int_equal(node_info(f, "n1").ni.results_duplicate, 6);

	/*
	 * A new spool (its floor lower than before): what was had is
	 * forgotten, and its results move the state again, though their seqs
	 * are lower than the old spool's.
	 */
	{
		const uint64_t fresh[] = {7};

		lane_batch(f, "n1", "7", 7, fresh, now1, 1, MP_UP, rc);
		assert_int_equal(rc[0], MON_REMOTE_ACCEPTED);
		assert_int_equal(check_info(f, "c").verdict, VERDICT_UP);
	}
}

/* A node never heard from since start is pending: what it sends is kept, and does not count. */
static void test_pending_node(void **state)
{
	struct fix *f = *state;

	assert_int_equal(node_info(f, "n1").ni.state, MON_NODE_PENDING);
	assert_null(node_info(f, "n1").ni.hb);
	assert_int_equal(node_info(f, "n1").ni.last_heartbeat_ms, 0);
	assert_int_equal(remote(f, "n1", "c", 1, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	assert_int_equal(check_info(f, "c").verdict, VERDICT_UNKNOWN); /* none of the 2 it needs */
	assert_false(check_info(f, "c").healthy_n1);
	assert_false(check_info(f, "c").counts_n1);
	assert_int_equal(node_info(f, "n1").ni.results_accepted, 1);
	/* Its first heartbeat: it counts from then on; no alert for that. */
	beat(f, "n1");
	assert_int_equal(node_info(f, "n1").ni.state, MON_NODE_OK);
	assert_int_equal(node_info(f, "n1").ni.last_heartbeat_ms, T0);
	assert_true(check_info(f, "c").counts_n1);
	assert_int_equal(check_info(f, "c").verdict, VERDICT_UNKNOWN); /* 1 of the 2 it needs */
	beat(f, "n2");
	assert_int_equal(remote(f, "n2", "c", 1, MP_DOWN, MP_R_TIMEOUT), MON_REMOTE_ACCEPTED);
	assert_int_equal(check_info(f, "c").verdict, VERDICT_DOWN);
	{
		char kinds[64];
		alerts(f, kinds, sizeof(kinds), NULL);
		assert_string_equal(kinds, "down"); /* the check's; none for the node */
	}
	assert_int_equal(monitor_node_heartbeat(f->mo, "nosuch", &(struct node_heartbeat){0}, T0,
	                                        &(struct node_heartbeat_reply){0}),
	                 -1);
}

/* A node lost and removed by a reload: the registry follows the file, states of the rest stay. */
static void test_reload_keeps_node_state(void **state)
{
	struct fix *f = *state;
	struct node_canary bad = canary("imap://canary.example:143", 5, "refused");

	beat(f, "n1");
	(void)beat_at(f, "n2", T0, &bad, 1);
	assert_int_equal(node_info(f, "n2").ni.state, MON_NODE_IMPAIRED);
	assert_int_equal(batch(f, "n1", "b1"), 0);
	reload(f, "2m");
	assert_int_equal(node_info(f, "n1").ni.state, MON_NODE_OK);
	assert_int_equal(node_info(f, "n2").ni.state, MON_NODE_IMPAIRED);
	assert_int_equal(node_info(f, "n3").ni.state, MON_NODE_PENDING);
	/* Its batch ids too: a batch sent again across a reload is still known. */
	assert_int_equal(batch(f, "n1", "b1"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rule_canary),
	    cmocka_unit_test(test_rule_disagreement),
	    cmocka_unit_test_setup_teardown(test_skew, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_ids, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_assignments, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_impaired_by_canary, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_impaired_by_disagreement, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_pending_node, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_two_lanes, setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_reload_keeps_node_state, setup, fix_teardown),
	};
	log_init(LOG_TEXT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
