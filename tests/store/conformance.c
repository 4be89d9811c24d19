/* SPDX-License-Identifier: ISC */
/*
 * conformance.c - what every store backend must do, written against
 * store.h only (no SQL, no file): the write queue and its bound, flushes,
 * the typed reads of results, states, incidents and deliveries, uptime
 * counts with maintenance and as each result counts (the verdict of a
 * check with several locations), retention into roll-ups and series over them,
 * retired checks, and the store: value.
 *
 * The backend is chosen by a spec template: argv[1], else the environment
 * variable MP_STORE_SPEC, else "sqlite:{dir}/store.db". "{dir}" becomes a
 * fresh directory and "{n}" the test's number, so a backend on a server
 * can give every test an empty database of its own (the PostgreSQL
 * backend's runner will pass its URL here). CTest runs it for SQLite.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "core/result.h"
#include "store/store.h"

#define HOUR_MS (3600LL * 1000)
#define DAY_MS  (24 * HOUR_MS)
/* 2024-05-01T00:00:00Z: a whole UTC day, so hours line up in the assertions. */
#define T0 1714521600000LL

static const char *spec_template = "sqlite:{dir}/store.db";
static int test_no;

struct fixture {
	char dir[64];
	char spec[1024];
	struct store *s;
};

/* template with {dir} and {n} filled in. */
static void spec_fill(char *out, size_t len, const char *dir, int n)
{
	size_t o = 0;

	for (const char *p = spec_template; *p && o + 1 < len; p++) {
		if (strncmp(p, "{dir}", 5) == 0) {
			o += (size_t)snprintf(out + o, len - o, "%s", dir);
			p += 4;
		} else if (strncmp(p, "{n}", 3) == 0) {
			o += (size_t)snprintf(out + o, len - o, "%d", n);
			p += 2;
		} else {
			out[o++] = *p;
		}
		if (o >= len)
			o = len - 1;
	}
	out[o] = '\0';
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mp-conform-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	spec_fill(f->spec, sizeof(f->spec), f->dir, ++test_no);
	if (store_open(&f->s, f->spec, err, sizeof(err)) != 0)
		fail_msg("store_open(%s): %s", f->spec, err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_close(f->s);
	/* What a file backend left in the directory (the file, its WAL, its lock). */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "conformance: could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mkresult(struct result *r, enum mp_status st, enum mp_reason why, int64_t ttg_us)
{
	memset(r, 0, sizeof(*r));
	result_init(r, 0);
	r->status = st;
	r->severity = result_default_severity(st);
	r->reason = why;
	snprintf(r->message, sizeof(r->message), "%s", st == MP_UP ? "" : "connection refused");
	snprintf(r->address, sizeof(r->address), "192.0.2.1:993");
	r->ttg_us = ttg_us;
	r->phase_us[MP_PH_CONNECT] = 1000;
	r->phase_us[MP_PH_TOTAL] = ttg_us > 0 ? ttg_us + 500 : 2000;
	r->messages = -1;
}

static void mktls(struct result *r)
{
	r->tls.used = 1;
	snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.3");
	r->tls.chain_len = 1;
	snprintf(r->tls.chain[0].subject, sizeof(r->tls.chain[0].subject), "CN=mail.example.org");
	snprintf(r->tls.chain[0].issuer, sizeof(r->tls.chain[0].issuer), "CN=Test CA");
	snprintf(r->tls.chain[0].sha256, sizeof(r->tls.chain[0].sha256), "%064d", 7);
	r->tls.chain[0].not_after = 1735689600; /* 2025-01-01 */
	r->tls.days_left = 42;
}

static void add_result(struct store *s, const char *check, const char *loc, int64_t t,
                       enum mp_status st, int64_t ttg_us, unsigned flags)
{
	struct result r;

	mkresult(&r, st, st == MP_UP ? MP_R_OK : MP_R_REFUSED, ttg_us);
	assert_int_equal(store_add_result_flags(s, check, loc, t, &r, flags), 0);
}

static void flush(struct store *s)
{
	int n = store_flush(s);

	if (n < 0)
		fail_msg("store_flush: %s", store_errmsg(s));
}

/* ---- what the callbacks got: copies, since the rows die when they return ---- */

struct got {
	int calls, error;
	char err[512];
	size_t n;
	struct store_result_row r[16];
	char loc[16][65], msg[16][128], why[16][64], tlsv[16][32], subj[16][128], warn[16][256];
	struct store_incident_row inc[16];
	char inc_check[16][65], inc_close[16][128];
	int64_t now;
	struct store_delivery_row d[16];
	char d_check[16][65], d_chan[16][65];
	struct store_uptime_row u;
	struct store_series_rows sr;
	struct store_bucket_row b[64];
	char breason[64][64];
	int64_t breason_n[64];
};

static void got_error(struct got *g, int error, const char *err)
{
	g->calls++;
	g->error = error;
	snprintf(g->err, sizeof(g->err), "%s", err ? err : "");
}

static void cp(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "(null)");
}

static void on_results(const struct store_result_row *rows, size_t n, int error, const char *err,
                       void *arg)
{
	struct got *g = arg;

	got_error(g, error, err);
	if (error)
		return;
	g->n = n;
	for (size_t i = 0; i < n && i < 16; i++) {
		g->r[i] = rows[i];
		cp(g->loc[i], sizeof(g->loc[i]), rows[i].location);
		cp(g->msg[i], sizeof(g->msg[i]), rows[i].message);
		cp(g->why[i], sizeof(g->why[i]), rows[i].reason);
		cp(g->tlsv[i], sizeof(g->tlsv[i]), rows[i].tls_version);
		cp(g->subj[i], sizeof(g->subj[i]), rows[i].cert_subject);
		cp(g->warn[i], sizeof(g->warn[i]), rows[i].warnings);
	}
}

static void on_incidents(const struct store_incident_row *rows, size_t n, int64_t now, int error,
                         const char *err, void *arg)
{
	struct got *g = arg;

	got_error(g, error, err);
	g->now = now;
	if (error)
		return;
	g->n = n;
	for (size_t i = 0; i < n && i < 16; i++) {
		g->inc[i] = rows[i];
		cp(g->inc_check[i], sizeof(g->inc_check[i]), rows[i].check);
		cp(g->inc_close[i], sizeof(g->inc_close[i]), rows[i].close_reason);
	}
}

static void on_deliveries(const struct store_delivery_row *rows, size_t n, int error,
                          const char *err, void *arg)
{
	struct got *g = arg;

	got_error(g, error, err);
	if (error)
		return;
	g->n = n;
	for (size_t i = 0; i < n && i < 16; i++) {
		g->d[i] = rows[i];
		cp(g->d_check[i], sizeof(g->d_check[i]), rows[i].check);
		cp(g->d_chan[i], sizeof(g->d_chan[i]), rows[i].channel);
	}
}

static void on_uptime(const struct store_uptime_row *row, int error, const char *err, void *arg)
{
	struct got *g = arg;

	got_error(g, error, err);
	if (!error)
		g->u = *row;
}

static void on_series(const struct store_series_rows *rows, int error, const char *err, void *arg)
{
	struct got *g = arg;
	size_t k = 0;

	got_error(g, error, err);
	if (error)
		return;
	g->sr = *rows;
	g->n = rows->n;
	for (size_t i = 0; i < rows->n && i < 64; i++) {
		g->b[i] = rows->buckets[i];
		/* The first reason of each bucket is enough for the assertions. */
		if (rows->buckets[i].nreasons && k < 64) {
			cp(g->breason[i], sizeof(g->breason[i]),
			   rows->buckets[i].reasons[0].reason);
			g->breason_n[i] = rows->buckets[i].reasons[0].n;
			k++;
		}
	}
}

static struct got *history(struct store *s, const char *check, int64_t since, int64_t until,
                           int limit)
{
	static struct got g;
	struct store_query q = {
	    .check = check, .since_ms = since, .until_ms = until, .limit = limit};

	memset(&g, 0, sizeof(g));
	store_read_history(s, &q, on_results, &g);
	assert_int_equal(g.calls, 1);
	return &g;
}

static struct got *uptime(struct store *s, const char *check, int64_t since, int64_t until)
{
	static struct got g;
	struct store_query q = {.check = check, .since_ms = since, .until_ms = until};

	memset(&g, 0, sizeof(g));
	store_read_uptime(s, &q, on_uptime, &g);
	assert_int_equal(g.calls, 1);
	return &g;
}

static struct got *incidents(struct store *s, const char *check, int64_t since)
{
	static struct got g;
	struct store_query q = {.check = check, .since_ms = since};

	memset(&g, 0, sizeof(g));
	store_read_incidents(s, &q, on_incidents, &g);
	assert_int_equal(g.calls, 1);
	return &g;
}

/* ---- the tests ---- */

/* Rows queue in memory up to STORE_QUEUE_MAX, are refused past it, and a flush empties it. */
static void test_queue_bound(void **state)
{
	struct fixture *f = *state;
	struct result r;
	int i;

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	for (i = 0; i < STORE_QUEUE_MAX; i++)
		assert_int_equal(store_add_result(f->s, "imap-a", "local", T0 + i, &r), 0);
	assert_int_equal(store_queued(f->s), STORE_QUEUE_MAX);
	errno = 0;
	assert_int_equal(store_add_result(f->s, "imap-a", "local", T0 + i, &r), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(store_incident_open(f->s, "imap-a", T0, MP_R_REFUSED, "x"), -1);
	assert_int_equal(errno, ENOBUFS);
	/* Nothing is read before it is written. */
	assert_int_equal(history(f->s, "imap-a", 0, 0, 0)->error, ENOENT);
	assert_int_equal(store_flush(f->s), STORE_QUEUE_MAX);
	assert_int_equal(store_queued(f->s), 0);
	assert_int_equal(store_flush(f->s), 0);
	assert_int_equal(store_add_result(f->s, "imap-a", "local", T0 + i, &r), 0);
	flush(f->s);
	{
		struct got *u = uptime(f->s, "imap-a", 0, 0);

		assert_int_equal(u->error, 0);
		assert_int_equal(u->u.probes, STORE_QUEUE_MAX + 1);
	}
}

/* Names are checked before anything is queued; a discarded queue writes nothing. */
static void test_names_and_discard(void **state)
{
	struct fixture *f = *state;
	struct result r;
	char longname[80];

	mkresult(&r, MP_UP, MP_R_OK, 1000);
	memset(longname, 'a', 65);
	longname[65] = '\0';
	errno = 0;
	assert_int_equal(store_add_result(f->s, "", "local", T0, &r), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_add_result(f->s, longname, "local", T0, &r), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(
	    store_add_transition(f->s, NULL, T0, MP_UP, MP_DOWN, MP_SEV_CRITICAL, MP_R_REFUSED, ""),
	    -1);
	longname[64] = '\0';
	assert_int_equal(store_add_result(f->s, longname, "local", T0, &r), 0);
	assert_int_equal(store_discard(f->s), 1);
	assert_int_equal(store_queued(f->s), 0);
	flush(f->s);
	assert_int_equal(history(f->s, longname, 0, 0, 0)->error, ENOENT);
}

/* Every field of a result comes back as it went in, newest first, bounded by range and limit. */
static void test_results_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct result r;
	struct got *g;

	mkresult(&r, MP_UP, MP_R_OK, 23456);
	mktls(&r);
	r.messages = 12;
	r.nwarnings = 2;
	snprintf(r.warnings[0], sizeof(r.warnings[0]), "certificate expires in 42 days");
	snprintf(r.warnings[1], sizeof(r.warnings[1]), "slow greeting");
	assert_int_equal(store_add_result(f->s, "imap-a", "remote", T0 + 1000, &r), 0);
	mkresult(&r, MP_DOWN, MP_R_REFUSED, -1);
	assert_int_equal(
	    store_add_result_flags(f->s, "imap-a", NULL, T0 + 2000, &r, STORE_R_MAINTENANCE), 0);
	add_result(f->s, "imap-a", "local", T0 + 3000, MP_DEGRADED, 500, 0);
	add_result(f->s, "other", "local", T0 + 2500, MP_UP, 500, 0);
	flush(f->s);

	g = history(f->s, "imap-a", 0, 0, 0);
	assert_int_equal(g->error, 0);
	assert_int_equal(g->n, 3);
	/* Newest first. */
	assert_int_equal(g->r[0].ts_ms, T0 + 3000);
	assert_int_equal(g->r[0].status, MP_DEGRADED);
	assert_int_equal(g->r[0].severity, MP_SEV_WARNING);
	assert_int_equal(g->r[1].ts_ms, T0 + 2000);
	assert_int_equal(g->r[1].status, MP_DOWN);
	assert_int_equal(g->r[1].severity, MP_SEV_CRITICAL);
	assert_string_equal(g->why[1], "refused");
	assert_string_equal(g->msg[1], "connection refused");
	assert_string_equal(g->loc[1], "local"); /* no location: the local one */
	assert_int_equal(g->r[1].maintenance, 1);
	assert_true(g->r[1].ttg_us == STORE_NONE);
	assert_string_equal(g->tlsv[1], "(null)");
	/* The full one. */
	assert_int_equal(g->r[2].ts_ms, T0 + 1000);
	assert_string_equal(g->loc[2], "remote");
	assert_int_equal(g->r[2].status, MP_UP);
	assert_string_equal(g->why[2], "ok");
	assert_int_equal(g->r[2].maintenance, 0);
	assert_int_equal(g->r[2].ttg_us, 23456);
	assert_int_equal(g->r[2].phase_us[MP_PH_CONNECT], 1000);
	assert_int_equal(g->r[2].phase_us[MP_PH_TOTAL], 23956);
	assert_true(g->r[2].phase_us[MP_PH_LOGIN] == STORE_NONE);
	assert_string_equal(g->tlsv[2], "TLSv1.3");
	assert_string_equal(g->subj[2], "CN=mail.example.org");
	assert_int_equal(g->r[2].cert_days_left, 42);
	assert_int_equal(g->r[2].cert_not_after, 1735689600);
	assert_int_equal(g->r[2].messages, 12);
	assert_string_equal(g->warn[2], "certificate expires in 42 days\nslow greeting");

	/* [since, until) and the limit. */
	g = history(f->s, "imap-a", T0 + 2000, T0 + 3000, 0);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->r[0].ts_ms, T0 + 2000);
	g = history(f->s, "imap-a", 0, 0, 2);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->r[1].ts_ms, T0 + 2000);
	/* A check the store never saw. */
	g = history(f->s, "nope", 0, 0, 0);
	assert_int_equal(g->error, ENOENT);
	assert_non_null(strstr(g->err, "nope"));
}

struct states {
	int n;
	struct store_state st[8];
};

static void on_state(const struct store_state *st, void *arg)
{
	struct states *ss = arg;

	if (ss->n < 8)
		ss->st[ss->n] = *st;
	ss->n++;
}

struct checks {
	int n;
	char name[8][65];
	int removed[8];
};

static void on_check(const char *check, int removed, void *arg)
{
	struct checks *c = arg;

	if (c->n < 8) {
		cp(c->name[c->n], sizeof(c->name[c->n]), check);
		c->removed[c->n] = removed;
	}
	c->n++;
}

/* What a status read gave, copied. */
struct status {
	int calls, error;
	int64_t now;
	size_t nchecks, nchannels, nremoved;
	char check[8][65];
	int has_state[8], state[8], sev[8], has_last[8], last_status[8], has_inc[8];
	int64_t inc_start[8];
	char chan[8][65];
	int64_t fail24[8], att24[8];
	int last_ok[8];
	char removed[8][65];
};

static void on_status(const struct store_status_rows *rows, int error, const char *err, void *arg)
{
	struct status *st = arg;

	(void)err;
	st->calls++;
	st->error = error;
	if (error)
		return;
	st->now = rows->now_ms;
	st->nchecks = rows->nchecks;
	st->nchannels = rows->nchannels;
	st->nremoved = rows->nremoved;
	for (size_t i = 0; i < rows->nchecks && i < 8; i++) {
		const struct store_state_row *c = &rows->checks[i];

		cp(st->check[i], sizeof(st->check[i]), c->check);
		st->has_state[i] = c->has_state;
		st->state[i] = c->state;
		st->sev[i] = c->state_severity;
		st->has_last[i] = c->last != NULL;
		st->last_status[i] = c->last ? c->last->status : -1;
		st->has_inc[i] = c->incident != NULL;
		st->inc_start[i] = c->incident ? c->incident->start_ms : -1;
	}
	for (size_t i = 0; i < rows->nchannels && i < 8; i++) {
		cp(st->chan[i], sizeof(st->chan[i]), rows->channels[i].channel);
		st->fail24[i] = rows->channels[i].failures_24h;
		st->att24[i] = rows->channels[i].attempts_24h;
		st->last_ok[i] = rows->channels[i].last_ok;
	}
	for (size_t i = 0; i < rows->nremoved && i < 8; i++)
		cp(st->removed[i], sizeof(st->removed[i]), rows->removed[i].check);
}

static struct status *status(struct store *s)
{
	static struct status st;

	memset(&st, 0, sizeof(st));
	store_read_status(s, on_status, &st);
	assert_int_equal(st.calls, 1);
	assert_int_equal(st.error, 0);
	return &st;
}

/* Transitions and incidents: the states a restart resumes from, and the incidents read back. */
static void test_states_and_incidents(void **state)
{
	struct fixture *f = *state;
	int64_t now = now_ms(), t = now - 2 * HOUR_MS;
	struct states ss = {0};
	struct status *st;
	struct got *g;

	assert_int_equal(
	    store_add_transition(f->s, "imap-a", t, MP_UNKNOWN, MP_UP, MP_SEV_OK, MP_R_OK, ""), 0);
	assert_int_equal(store_add_transition(f->s, "imap-a", t + 1000, MP_UP, MP_DOWN,
	                                      MP_SEV_CRITICAL, MP_R_TIMEOUT, "no greeting"),
	                 0);
	assert_int_equal(store_incident_open(f->s, "imap-a", t + 1000, MP_R_TIMEOUT, "no greeting"),
	                 0);
	/* A second open while one is open keeps the first: its cause is the one that counts. */
	assert_int_equal(store_incident_open(f->s, "imap-a", t + 2000, MP_R_REFUSED, "later"), 0);
	add_result(f->s, "imap-a", "local", t + 1000, MP_DOWN, -1, 0);
	assert_int_equal(store_add_transition(f->s, "pop-b", t, MP_UNKNOWN, MP_DEGRADED,
	                                      MP_SEV_WARNING, MP_R_SLOW, "slow"),
	                 0);
	assert_int_equal(store_incident_open(f->s, "pop-b", t, MP_R_REFUSED, "refused"), 0);
	assert_int_equal(store_incident_close(f->s, "pop-b", t + 5000), 0);
	add_result(f->s, "quiet", "local", t, MP_UP, 100, 0);

	/* Queued, not flushed: store_load_states() flushes first, or it would miss them. */
	assert_int_equal(store_load_states(f->s, on_state, &ss), 0);
	assert_int_equal(store_queued(f->s), 0);
	assert_int_equal(ss.n, 2); /* "quiet" has no transition */
	assert_string_equal(ss.st[0].check, "imap-a");
	assert_int_equal(ss.st[0].status, MP_DOWN);
	assert_int_equal(ss.st[0].severity, MP_SEV_CRITICAL);
	assert_int_equal(ss.st[0].reason, MP_R_TIMEOUT);
	assert_int_equal(ss.st[0].since_ms, t + 1000);
	assert_int_equal(ss.st[0].incident_open, 1);
	assert_int_equal(ss.st[0].incident_start_ms, t + 1000);
	assert_string_equal(ss.st[1].check, "pop-b");
	assert_int_equal(ss.st[1].status, MP_DEGRADED);
	assert_int_equal(ss.st[1].severity, MP_SEV_WARNING);
	assert_int_equal(ss.st[1].reason, MP_R_SLOW);
	assert_int_equal(ss.st[1].incident_open, 0);

	g = incidents(f->s, NULL, 0);
	assert_int_equal(g->error, 0);
	assert_int_equal(g->n, 2);
	/* Newest first: imap-a's (t + 1000) before pop-b's (t). */
	assert_string_equal(g->inc_check[0], "imap-a");
	assert_int_equal(g->inc[0].start_ms, t + 1000);
	assert_true(g->inc[0].end_ms == STORE_NONE);
	assert_string_equal(g->inc_close[0], "(null)");
	assert_true(g->now >= now);
	assert_string_equal(g->inc_check[1], "pop-b");
	assert_int_equal(g->inc[1].end_ms, t + 5000);
	assert_int_equal(g->inc[1].duration_ms, 5000);
	assert_string_equal(g->inc_close[1], STORE_CLOSED_RECOVERED);
	/* By check, and since: an incident that ended before since is left out. */
	g = incidents(f->s, "pop-b", 0);
	assert_int_equal(g->n, 1);
	g = incidents(f->s, "pop-b", t + 6000);
	assert_int_equal(g->n, 0);
	g = incidents(f->s, "nope", 0);
	assert_int_equal(g->error, ENOENT);

	st = status(f->s);
	assert_int_equal(st->nchecks, 3);
	assert_string_equal(st->check[0], "imap-a");
	assert_int_equal(st->has_state[0], 1);
	assert_int_equal(st->state[0], MP_DOWN);
	assert_int_equal(st->sev[0], MP_SEV_CRITICAL);
	assert_int_equal(st->has_last[0], 1);
	assert_int_equal(st->last_status[0], MP_DOWN);
	assert_int_equal(st->has_inc[0], 1);
	assert_int_equal(st->inc_start[0], t + 1000);
	assert_string_equal(st->check[1], "pop-b");
	assert_int_equal(st->has_inc[1], 0);
	assert_int_equal(st->has_last[1], 0);
	assert_string_equal(st->check[2], "quiet");
	assert_int_equal(st->has_state[2], 0);
	assert_int_equal(st->has_last[2], 1);
	assert_true(st->now >= now);
}

/* Notification attempts: read back newest first, by check or all, and summed per channel. */
static void test_deliveries(void **state)
{
	struct fixture *f = *state;
	int64_t now = now_ms();
	struct store_query q = {0};
	struct status *st;
	static struct got g;

	assert_int_equal(
	    store_add_delivery(f->s, "imap-a", "ops-webhook", "down", 1, 0, "HTTP 500", now - 3000),
	    0);
	assert_int_equal(
	    store_add_delivery(f->s, "imap-a", "ops-webhook", "down", 2, 1, "HTTP 200", now - 2000),
	    0);
	assert_int_equal(
	    store_add_delivery(f->s, NULL, "mail", "test", 1, 0, "connection refused", now - 1000),
	    0);
	flush(f->s);

	memset(&g, 0, sizeof(g));
	store_read_deliveries(f->s, &q, on_deliveries, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.error, 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.d_chan[0], "mail");
	assert_string_equal(g.d_check[0], "(null)"); /* not about one check */
	assert_int_equal(g.d[0].ok, 0);
	assert_string_equal(g.d_check[1], "imap-a");
	assert_int_equal(g.d[1].attempt, 2);
	assert_int_equal(g.d[1].ok, 1);
	assert_int_equal(g.d[2].ts_ms, now - 3000);

	memset(&g, 0, sizeof(g));
	q.check = "imap-a";
	q.limit = 1;
	store_read_deliveries(f->s, &q, on_deliveries, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.d[0].attempt, 2);

	st = status(f->s);
	assert_int_equal(st->nchannels, 2);
	assert_string_equal(st->chan[0], "mail");
	assert_int_equal(st->fail24[0], 1);
	assert_int_equal(st->att24[0], 1);
	assert_string_equal(st->chan[1], "ops-webhook");
	assert_int_equal(st->last_ok[1], 1);
	assert_int_equal(st->fail24[1], 1);
	assert_int_equal(st->att24[1], 2);
}

/* What the batched read gave: counts per check and range. */
struct counts {
	int n;
	char name[8][65];
	struct store_counts k[8][STORE_COUNTS_MAX];
};

static void on_counts(int64_t id, const char *check, const struct store_counts *k, int n, void *arg)
{
	struct counts *c = arg;

	(void)id;
	if (c->n < 8) {
		cp(c->name[c->n], sizeof(c->name[c->n]), check);
		memcpy(c->k[c->n], k, (size_t)n * sizeof(*k));
	}
	c->n++;
}

static int counts_find(const struct counts *c, const char *name)
{
	for (int i = 0; i < c->n && i < 8; i++)
		if (strcmp(c->name[i], name) == 0)
			return i;
	fail_msg("no counts for %s", name);
	return -1;
}

/* Uptime leaves maintenance out of probes and up; the batched read counts as the single one. */
static void test_uptime_maintenance(void **state)
{
	struct fixture *f = *state;
	int64_t bounds[4] = {T0, T0 + HOUR_MS, T0 + 2 * HOUR_MS, INT64_MAX};
	struct counts c = {0};
	char err[256];
	struct got *u;
	int i;

	/* Hour 0: 3 up, 1 down; hour 1: 1 down, 2 down in maintenance, 1 up in maintenance. */
	add_result(f->s, "imap-a", "local", T0 + 1, MP_UP, 100, 0);
	add_result(f->s, "imap-a", "local", T0 + 2, MP_UP, 100, 0);
	add_result(f->s, "imap-a", "remote", T0 + 3, MP_DEGRADED, 100, 0);
	add_result(f->s, "imap-a", "local", T0 + 4, MP_DOWN, -1, 0);
	add_result(f->s, "imap-a", "local", T0 + HOUR_MS + 1, MP_DOWN, -1, 0);
	add_result(f->s, "imap-a", "local", T0 + HOUR_MS + 2, MP_DOWN, -1, STORE_R_MAINTENANCE);
	add_result(f->s, "imap-a", "local", T0 + HOUR_MS + 3, MP_DOWN, -1, STORE_R_MAINTENANCE);
	add_result(f->s, "imap-a", "local", T0 + HOUR_MS + 4, MP_UP, 100, STORE_R_MAINTENANCE);
	add_result(f->s, "pop-b", "local", T0 + 5, MP_UNKNOWN, -1, 0);
	flush(f->s);

	u = uptime(f->s, "imap-a", T0, 0);
	assert_int_equal(u->error, 0);
	assert_int_equal(u->u.probes, 5);
	assert_int_equal(u->u.up, 3); /* degraded is up: the server answered */
	assert_int_equal(u->u.maint, 3);
	assert_int_equal(u->u.from_rollups, 0);
	assert_true(u->u.until_ms == STORE_NONE);
	u = uptime(f->s, "imap-a", T0, T0 + HOUR_MS);
	assert_int_equal(u->u.probes, 4);
	assert_int_equal(u->u.up, 3);
	assert_int_equal(u->u.maint, 0);
	assert_int_equal(u->u.until_ms, T0 + HOUR_MS);
	u = uptime(f->s, "pop-b", T0, 0);
	assert_int_equal(u->u.probes, 1);
	assert_int_equal(u->u.up, 0); /* unknown is not up */
	assert_int_equal(uptime(f->s, "nope", T0, 0)->error, ENOENT);

	/* Every check and range in one call. */
	assert_int_equal(store_q_counts(f->s, bounds, 4, on_counts, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 2);
	i = counts_find(&c, "imap-a");
	assert_int_equal(c.k[i][0].probes, 4);
	assert_int_equal(c.k[i][0].up, 3);
	assert_int_equal(c.k[i][0].maint, 0);
	assert_int_equal(c.k[i][1].probes, 1);
	assert_int_equal(c.k[i][1].up, 0);
	assert_int_equal(c.k[i][1].maint, 3);
	assert_int_equal(c.k[i][2].probes, 0);
	i = counts_find(&c, "pop-b");
	assert_int_equal(c.k[i][0].probes, 1);
	assert_int_equal(c.k[i][0].up, 0);
	/* Bounds out of order, or too many: refused. */
	bounds[1] = T0 - 1;
	assert_int_equal(store_q_counts(f->s, bounds, 4, on_counts, &c, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_q_counts(f->s, bounds, 1, on_counts, &c, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
}

/*
 * Retention folds raw hours into roll-ups that keep count, up, maintenance
 * and the times; uptime and series read across both without a gap.
 */
static void test_retention_rollups(void **state)
{
	struct fixture *f = *state;
	int64_t now = T0 + 3 * DAY_MS + 30 * 60000; /* day 3, 00:30 */
	struct store_query q = {
	    .check = "imap-a", .since_ms = T0, .until_ms = T0 + 3 * DAY_MS, .bucket_ms = DAY_MS};
	static struct got g;
	struct got *u;
	int n, folded = 0;

	/* Day 0, hour 0: ten probes, 100..1000 us, two down; one in maintenance (up). */
	for (int i = 0; i < 10; i++)
		add_result(f->s, "imap-a", "local", T0 + i * 60000, i < 8 ? MP_UP : MP_DOWN,
		           i < 8 ? (i + 1) * 100 : -1, 0);
	add_result(f->s, "imap-a", "local", T0 + 30 * 60000, MP_UP, 5000, STORE_R_MAINTENANCE);
	/* Day 2, raw: kept. */
	add_result(f->s, "imap-a", "local", T0 + 2 * DAY_MS + 1, MP_UP, 300, 0);
	add_result(f->s, "imap-a", "local", T0 + 2 * DAY_MS + 2, MP_DOWN, -1, 0);
	flush(f->s);

	while ((n = store_retention(f->s, now, 1, 400)) > 0)
		folded += n;
	if (n < 0)
		fail_msg("store_retention: %s", store_errmsg(f->s));
	assert_int_equal(folded, 11);
	/* The folded rows left the raw results; the recent ones stayed. */
	assert_int_equal(history(f->s, "imap-a", T0, T0 + DAY_MS, 0)->n, 0);
	assert_int_equal(history(f->s, "imap-a", T0, 0, 0)->n, 2);

	/* Uptime over both: roll-ups keep maintenance apart too. */
	u = uptime(f->s, "imap-a", T0, 0);
	assert_int_equal(u->u.probes, 12);
	assert_int_equal(u->u.up, 9);
	assert_int_equal(u->u.maint, 1);
	assert_int_equal(u->u.from_rollups, 1);
	u = uptime(f->s, "imap-a", T0 + DAY_MS, 0);
	assert_int_equal(u->u.from_rollups, 0);
	assert_int_equal(u->u.probes, 2);

	/* Series by day: day 0 from the roll-up, day 2 raw; day 1 holds nothing, so is left out. */
	memset(&g, 0, sizeof(g));
	store_read_series(f->s, &q, on_series, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.error, 0);
	assert_int_equal(g.sr.since_ms, T0);
	assert_int_equal(g.sr.bucket_ms, DAY_MS);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.b[0].start_ms, T0);
	assert_int_equal(g.b[0].count, 11);
	assert_int_equal(g.b[0].up, 9);
	assert_int_equal(g.b[0].from_rollups, 1);
	/* min/avg/nearest-rank p95/max of 100..800 and 5000 us. */
	assert_int_equal(g.b[0].min_us, 100);
	assert_int_equal(g.b[0].avg_us, (3600 + 5000 + 4) / 9);
	assert_int_equal(g.b[0].p95_us, 5000);
	assert_int_equal(g.b[0].max_us, 5000);
	assert_int_equal(g.b[0].nreasons, 0); /* roll-ups keep no reasons */
	assert_int_equal(g.b[1].start_ms, T0 + 2 * DAY_MS);
	assert_int_equal(g.b[1].count, 2);
	assert_int_equal(g.b[1].up, 1);
	assert_int_equal(g.b[1].from_rollups, 0);
	assert_int_equal(g.b[1].min_us, 300);
	assert_true(g.b[1].p95_us == 300);
	assert_string_equal(g.breason[1], "refused");
	assert_int_equal(g.breason_n[1], 1);

	/* A bucket that is not whole hours, and a range backwards: refused. */
	memset(&g, 0, sizeof(g));
	q.bucket_ms = HOUR_MS + 1;
	store_read_series(f->s, &q, on_series, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.error, EINVAL);

	/* Roll-ups past rollup_days go too. */
	while ((n = store_retention(f->s, T0 + 10 * DAY_MS, 1, 2)) > 0)
		;
	assert_int_equal(n, 0);
	u = uptime(f->s, "imap-a", T0, 0);
	assert_int_equal(u->u.probes, 0);
	assert_int_equal(u->u.from_rollups, 0);
}

/* A series bucket of check over [since, until) by bucket_ms; the got holds the answer. */
static struct got *series(struct store *s, const char *check, int64_t since, int64_t until,
                          int64_t bucket_ms)
{
	static struct got g;
	struct store_query q = {
	    .check = check, .since_ms = since, .until_ms = until, .bucket_ms = bucket_ms};

	memset(&g, 0, sizeof(g));
	store_read_series(s, &q, on_series, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.error, 0);
	return &g;
}

/* The counts_as of the result of check stored at ts_ms; fails when there is none. */
static int counts_as_at(struct store *s, const char *check, int64_t ts_ms)
{
	struct got *g = history(s, check, ts_ms, ts_ms + 1, 0);

	assert_int_equal(g->error, 0);
	assert_int_equal(g->n, 1);
	return g->r[0].counts_as;
}

/*
 * A check with several locations counts each result as the monitor said
 * (STORE_R_COUNT_*: the check's verdict), not by its own status: a down
 * result counted up (partial) is up, an up one counted down (the verdict
 * was down) is down, an uncounted one is in nothing, maintenance included.
 * A result without a flag counts by its status as before. The single and
 * the batched reads agree, the mark survives retention into roll-ups
 * (a late result merged into a rolled hour too), and the series keeps each
 * result's own status.
 */
static void test_uptime_by_verdict(void **state)
{
	struct fixture *f = *state;
	int64_t bounds[3] = {T0, T0 + HOUR_MS, INT64_MAX};
	int64_t now = T0 + 3 * DAY_MS + 30 * 60000;
	struct counts c = {0};
	struct result r;
	struct got *u, *g;
	char err[256];
	int i, n, folded = 0;

	add_result(f->s, "multi", "a", T0 + 1, MP_UP, 100, STORE_R_COUNT_UP);
	add_result(f->s, "multi", "b", T0 + 2, MP_DOWN, -1, STORE_R_COUNT_UP); /* partial */
	add_result(f->s, "multi", "c", T0 + 3, MP_DOWN, -1, STORE_R_COUNT_DOWN);
	add_result(f->s, "multi", "a", T0 + 4, MP_UP, 100, STORE_R_COUNT_DOWN); /* verdict down */
	add_result(f->s, "multi", "b", T0 + 5, MP_DOWN, -1, STORE_R_UNCOUNTED); /* impaired */
	add_result(f->s, "multi", "c", T0 + 6, MP_UP, 100, STORE_R_UNCOUNTED);  /* late */
	add_result(f->s, "multi", "a", T0 + 7, MP_DOWN, -1, STORE_R_COUNT_UP | STORE_R_MAINTENANCE);
	add_result(f->s, "multi", "b", T0 + 8, MP_DOWN, -1,
	           STORE_R_UNCOUNTED | STORE_R_MAINTENANCE);
	add_result(f->s, "single", "local", T0 + 9, MP_DOWN, -1, 0);
	add_result(f->s, "single", "local", T0 + 10, MP_DEGRADED, 100, 0);
	/* One way to count at most, and no flag this build does not know. */
	mkresult(&r, MP_UP, MP_R_OK, 100);
	errno = 0;
	assert_int_equal(store_add_result_flags(f->s, "multi", "a", T0 + 11, &r,
	                                        STORE_R_COUNT_UP | STORE_R_COUNT_DOWN),
	                 -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(store_add_result_flags(f->s, "multi", "a", T0 + 11, &r,
	                                        STORE_R_UNCOUNTED | STORE_R_COUNT_DOWN),
	                 -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(store_add_result_flags(f->s, "multi", "a", T0 + 11, &r, 0x100u), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_queued(f->s), 10);
	flush(f->s);

	/* Each row keeps how it counts. */
	assert_int_equal(counts_as_at(f->s, "multi", T0 + 1), STORE_COUNTS_UP);
	assert_int_equal(counts_as_at(f->s, "multi", T0 + 3), STORE_COUNTS_DOWN);
	assert_int_equal(counts_as_at(f->s, "multi", T0 + 5), STORE_COUNTS_NOT);
	assert_int_equal(counts_as_at(f->s, "multi", T0 + 8), STORE_COUNTS_NOT);
	assert_int_equal(counts_as_at(f->s, "single", T0 + 9), STORE_COUNTS_BY_STATUS);

	u = uptime(f->s, "multi", T0, 0);
	assert_int_equal(u->error, 0);
	assert_int_equal(u->u.probes, 4);
	assert_int_equal(u->u.up, 2);
	assert_int_equal(u->u.maint, 1); /* the uncounted one in maintenance is not there */
	u = uptime(f->s, "single", T0, 0);
	assert_int_equal(u->u.probes, 2);
	assert_int_equal(u->u.up, 1);

	assert_int_equal(store_q_counts(f->s, bounds, 3, on_counts, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 2);
	i = counts_find(&c, "multi");
	assert_int_equal(c.k[i][0].probes, 4);
	assert_int_equal(c.k[i][0].up, 2);
	assert_int_equal(c.k[i][0].maint, 1);
	i = counts_find(&c, "single");
	assert_int_equal(c.k[i][0].probes, 2);
	assert_int_equal(c.k[i][0].up, 1);

	/* The series is each result's own status: 8 probes, 3 of them up. */
	g = series(f->s, "multi", T0, T0 + DAY_MS, DAY_MS);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->b[0].count, 8);
	assert_int_equal(g->b[0].up, 3);
	assert_int_equal(g->b[0].from_rollups, 0);

	/* Rolled up: the same figures. */
	while ((n = store_retention(f->s, now, 1, 400)) > 0)
		folded += n;
	if (n < 0)
		fail_msg("store_retention: %s", store_errmsg(f->s));
	assert_int_equal(folded, 10);
	assert_int_equal(history(f->s, "multi", T0, 0, 0)->n, 0);
	u = uptime(f->s, "multi", T0, 0);
	assert_int_equal(u->u.from_rollups, 1);
	assert_int_equal(u->u.probes, 4);
	assert_int_equal(u->u.up, 2);
	assert_int_equal(u->u.maint, 1);
	u = uptime(f->s, "single", T0, 0);
	assert_int_equal(u->u.probes, 2);
	assert_int_equal(u->u.up, 1);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_q_counts(f->s, bounds, 3, on_counts, &c, err, sizeof(err)), 0);
	i = counts_find(&c, "multi");
	assert_int_equal(c.k[i][0].probes, 4);
	assert_int_equal(c.k[i][0].up, 2);
	assert_int_equal(c.k[i][0].maint, 1);
	g = series(f->s, "multi", T0, T0 + DAY_MS, DAY_MS);
	assert_int_equal(g->b[0].count, 8);
	assert_int_equal(g->b[0].up, 3);
	assert_int_equal(g->b[0].from_rollups, 1);

	/* Late rows for hours already rolled up merge into them, each as it counts. */
	add_result(f->s, "multi", "a", T0 + 20, MP_DOWN, -1, STORE_R_COUNT_DOWN);
	add_result(f->s, "multi", "b", T0 + 21, MP_UP, 100, STORE_R_COUNT_UP);
	add_result(f->s, "multi", "c", T0 + 22, MP_DOWN, -1, STORE_R_UNCOUNTED);
	flush(f->s);
	while ((n = store_retention(f->s, now, 1, 400)) > 0)
		;
	assert_int_equal(n, 0);
	u = uptime(f->s, "multi", T0, 0);
	assert_int_equal(u->u.from_rollups, 1);
	assert_int_equal(u->u.probes, 6);
	assert_int_equal(u->u.up, 3);
	assert_int_equal(u->u.maint, 1);
	g = series(f->s, "multi", T0, T0 + DAY_MS, DAY_MS);
	assert_int_equal(g->b[0].count, 11);
	assert_int_equal(g->b[0].up, 4);
}

/* A check that left the configuration: incident closed, back to pending, listed as removed. */
static void test_retire_present(void **state)
{
	struct fixture *f = *state;
	int64_t t = now_ms() - HOUR_MS;
	struct states ss = {0};
	struct checks ck = {0};
	struct status *st;
	struct got *g;

	assert_int_equal(store_add_transition(f->s, "gone", t, MP_UP, MP_DOWN, MP_SEV_CRITICAL,
	                                      MP_R_REFUSED, "x"),
	                 0);
	assert_int_equal(store_incident_open(f->s, "gone", t, MP_R_REFUSED, "refused"), 0);
	add_result(f->s, "keep", "local", t, MP_UP, 100, 0);
	assert_int_equal(store_check_retire(f->s, "gone", t + 6000, STORE_REMOVED_REASON), 0);
	/* Retiring a check the store never saw creates nothing. */
	assert_int_equal(store_check_retire(f->s, "never", t + 6000, STORE_REMOVED_REASON), 0);
	flush(f->s);

	g = incidents(f->s, "gone", 0);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->inc[0].end_ms, t + 6000);
	assert_string_equal(g->inc_close[0], STORE_REMOVED_REASON);
	assert_int_equal(store_load_states(f->s, on_state, &ss), 0);
	assert_int_equal(ss.n, 1);
	assert_int_equal(ss.st[0].status, MP_UNKNOWN);
	assert_int_equal(ss.st[0].incident_open, 0);
	st = status(f->s);
	assert_int_equal(st->nchecks, 1);
	assert_string_equal(st->check[0], "keep");
	assert_int_equal(st->nremoved, 1);
	assert_string_equal(st->removed[0], "gone");
	/* Its history stays. */
	assert_int_equal(incidents(f->s, "gone", 0)->error, 0);
	assert_int_equal(store_each_check(f->s, on_check, &ck), 0);
	assert_int_equal(ck.n, 2);
	assert_string_equal(ck.name[0], "gone");
	assert_int_equal(ck.removed[0], 1);
	assert_int_equal(ck.removed[1], 0);

	/* Configured again. */
	assert_int_equal(store_check_present(f->s, "gone"), 0);
	flush(f->s);
	st = status(f->s);
	assert_int_equal(st->nchecks, 2);
	assert_int_equal(st->nremoved, 0);
}

/* ---- notification claims: one sender of each notification among controllers ---- */

static void on_granted(int granted, void *arg)
{
	*(int *)arg = granted;
}

/* What store_claim() said: 1, 0, or -1 when it has not answered. */
static int claim(struct store *s, const char *key, const char *ctl, int64_t at)
{
	int g = -1;

	store_claim(s, key, ctl, at, on_granted, &g);
	return g;
}

/*
 * A store several controllers share grants a notification once: not
 * twice to one controller; to another while the first never said it
 * ended (it died sending); to the same claim asked again (its connection
 * failed under it); to nobody once it ended; and retention forgets claims
 * ended long ago. A store of one writer claims nothing: always granted.
 */
static void test_claims(void **state)
{
	struct fixture *f = *state;
	int64_t n;

	if (!store_has_claims(f->s)) {
		assert_int_equal(claim(f->s, "down|k1|hook", "a:1", T0), 1);
		assert_int_equal(claim(f->s, "down|k1|hook", "a:1", T0 + 1), 1);
		store_claim_done(f->s, "down|k1|hook", 1, T0 + 2);
		return;
	}
	assert_int_equal(claim(f->s, "down|k1|hook", "a:1", T0), 1);
	assert_int_equal(claim(f->s, "down|k1|hook", "a:1", T0 + 1), 0);
	assert_int_equal(claim(f->s, "down|k1|hook", "b:2", T0 + 2), 1);
	assert_int_equal(claim(f->s, "down|k1|hook", "b:2", T0 + 2), 1);
	assert_int_equal(claim(f->s, "down|k1|hook", "b:2", T0 + 3), 0);
	store_claim_done(f->s, "down|k1|hook", 1, T0 + 4);
	assert_int_equal(claim(f->s, "down|k1|hook", "c:3", T0 + 5), 0);
	/* Another channel, another kind: other notifications. */
	assert_int_equal(claim(f->s, "down|k1|mail", "a:1", T0 + 6), 1);
	assert_int_equal(claim(f->s, "recovery|k1|hook", "c:3", T0 + 7), 1);
	/* Ten days on, with roll-ups kept two: the ended claims go, the one not ended stays. */
	store_claim_done(f->s, "recovery|k1|hook", 0, T0 + 8);
	while ((n = store_retention(f->s, T0 + 10 * DAY_MS, 1, 2)) > 0)
		;
	if (n < 0)
		fail_msg("store_retention: %s", store_errmsg(f->s));
	assert_int_equal(claim(f->s, "down|k1|hook", "c:3", T0 + 10 * DAY_MS), 1);
	assert_int_equal(claim(f->s, "recovery|k1|hook", "c:3", T0 + 10 * DAY_MS), 1);
	assert_int_equal(claim(f->s, "down|k1|mail", "c:3", T0 + 10 * DAY_MS), 1);
	assert_int_equal(claim(f->s, "down|k1|mail", "d:4", T0 + 10 * DAY_MS), 1);
}

/*
 * A store attached to a loop: the reads answer there (maybe after they
 * return), and the JSON readers, which cannot wait, refuse at once rather
 * than leave an answer to come to a frame that is gone.
 */
static void on_history_n(const struct store_result_row *rows, size_t n, int error, const char *err,
                         void *arg)
{
	int *got = arg;

	(void)rows;
	if (error)
		fail_msg("history through the loop: %s", err);
	*got = (int)n;
}

static void test_attached(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct store_query q = {.check = "imap-a"};
	char err[512];
	json_t *o;
	int got = -1;

	assert_non_null(base);
	add_result(f->s, "imap-a", "local", T0, MP_UP, 100, 0);
	add_result(f->s, "imap-a", "local", T0 + 1000, MP_UP, 100, 0);
	flush(f->s);
	assert_int_equal(store_attach(f->s, base), 0);
	errno = 0;
	o = store_q_history(f->s, "imap-a", 0, 0, 0, err, sizeof(err));
	if (store_answers_later(f->s)) {
		assert_null(o);
		assert_int_equal(errno, EWOULDBLOCK);
	} else {
		assert_non_null(o);
		assert_int_equal(json_array_size(json_object_get(o, "results")), 2);
		json_decref(o);
	}
	store_read_history(f->s, &q, on_history_n, &got);
	for (int i = 0; i < 500 && got < 0; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(10000);
	assert_int_equal(got, 2);
	/* Closed before its loop: nothing of it may be left on the loop. */
	store_close(f->s);
	f->s = NULL;
	event_base_free(base);
}

/* A reader sees what the writer flushed and may write nothing. */
static void test_readonly(void **state)
{
	struct fixture *f = *state;
	struct store *ro;
	struct result r;
	char err[512];

	add_result(f->s, "imap-a", "local", T0, MP_UP, 100, 0);
	flush(f->s);
	if (store_open_readonly(&ro, f->spec, err, sizeof(err)) != 0)
		fail_msg("store_open_readonly: %s", err);
	assert_int_equal(history(ro, "imap-a", 0, 0, 0)->n, 1);
	mkresult(&r, MP_UP, MP_R_OK, 1);
	errno = 0;
	assert_int_equal(store_add_result(ro, "imap-a", "local", T0 + 1, &r), -1);
	assert_int_equal(errno, EROFS);
	assert_int_equal(store_queued(ro), 0);
	store_close(ro);
}

/*
 * The store: value names the backend; what this version lacks is refused
 * by name, and a PostgreSQL that cannot be reached says so without the
 * URI's password.
 */
static void test_spec(void **state)
{
	static const struct {
		const char *spec;
		int err;
		const char *says;
	} refused[] = {
	    {"postgresql://mp:Secret-Pw-19@/mailpulse?host=/nonexistent/db.example.org", EIO,
	     "store postgresql://mp@/nonexistent/db.example.org/mailpulse: cannot connect"},
	    {"postgres://mp:Secret-Pw-19@/mp?host=/nonexistent/db.example.org&port=1", EIO,
	     "cannot connect"},
	    {"mysql://localhost/mp", ENOTSUP, "unknown backend \"mysql\""},
	    {"sqlite:", EINVAL, "names no file"},
	    {"", EINVAL, "empty"},
	};
	struct store *s = NULL;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		errno = 0;
		assert_int_equal(store_open(&s, refused[i].spec, err, sizeof(err)), -1);
		assert_null(s);
		assert_int_equal(errno, refused[i].err);
		if (!strstr(err, refused[i].says))
			fail_msg("%s: \"%s\" does not say \"%s\"", refused[i].spec, err,
			         refused[i].says);
		/* The URL may hold a password: it is never repeated. */
		assert_null(strstr(err, "Secret-Pw-19"));
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_names_and_discard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_results_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_states_and_incidents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deliveries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uptime_maintenance, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention_rollups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uptime_by_verdict, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retire_present, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_attached, setup, teardown),
	    cmocka_unit_test(test_spec),
	};

	if (argc > 1)
		spec_template = argv[1];
	else if (getenv("MP_STORE_SPEC") && *getenv("MP_STORE_SPEC"))
		spec_template = getenv("MP_STORE_SPEC");
	fprintf(stderr, "store conformance: %s\n", spec_template);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
