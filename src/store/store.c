/* SPDX-License-Identifier: ISC */
/*
 * store.c - the store's interface: the store: value that names a backend,
 * the bounded write queue, and dispatch to the backend (backend.h).
 *
 * Writes never touch the backend on the caller's path: store_add_*() check
 * the names, copy what they need into one heap row and queue it;
 * store_flush() hands the whole queue to the backend, which writes it in
 * one transaction. A flush that fails keeps every row queued, so a full
 * disk or a lost server costs memory up to STORE_QUEUE_MAX rows, then
 * store_add_*() say no (ENOBUFS): rows are refused, never silently lost.
 *
 * Only what struct result holds is queued, and a result holds no
 * credentials: the check's password never reaches a backend.
 */
#include "store/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

struct store {
	const struct store_backend *be;
	void *db;
	struct store_row **q;
	int nq, qcap;
	/* A flush on the loop (store_flush_start()): its rows, apart until it ends. */
	struct store_row **fly;
	int nfly;
	store_flushed_fn fly_done;
	void *fly_arg;
	int attached;
	int readonly; /* store_open_readonly(): nothing is queued */
	char *spec;
};

struct span {
	const char *p; /* NULL: absent */
	size_t n;
};

void store_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- the store: value ---- */

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/*
 * The backend spec names and what follows its scheme. A plain path is
 * SQLite, as before store: named backends; "sqlite:" may prefix one.
 */
static const struct store_backend *store_pick(const char *spec, const char **where, char *err,
                                              size_t errlen)
{
	if (!spec || !*spec) {
		store_set_err(err, errlen, "store: empty; give a file path or sqlite:PATH");
		errno = EINVAL;
		return NULL;
	}
	if (has_prefix(spec, "postgresql://") || has_prefix(spec, "postgres://")) {
		*where = spec;
		return &store_pg;
	}
	if (has_prefix(spec, "sqlite:")) {
		*where = spec + strlen("sqlite:");
		if (!**where) {
			store_set_err(err, errlen, "store: sqlite: names no file");
			errno = EINVAL;
			return NULL;
		}
		return &store_sqlite;
	}
	/* "scheme://" of a backend we do not know: not a file name anyone meant. */
	{
		size_t n = strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789+.-");

		if (n > 0 && strncmp(spec + n, "://", 3) == 0) {
			store_set_err(err, errlen,
			              "store: unknown backend \"%.*s\" (known: sqlite, postgresql)",
			              (int)(n > 32 ? 32 : n), spec);
			errno = ENOTSUP;
			return NULL;
		}
	}
	*where = spec;
	return &store_sqlite;
}

const char *store_spec_file(const char *spec)
{
	const char *where = NULL;

	return store_pick(spec, &where, NULL, 0) == &store_sqlite ? where : NULL;
}

int store_open_secret(struct store **out, const char *spec, const char *secret_file, int readonly,
                      char *err, size_t errlen)
{
	const struct store_backend *be;
	const char *where = NULL;
	struct store *s;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	be = store_pick(spec, &where, err, errlen);
	if (!be)
		return -1;
	s = calloc(1, sizeof(*s));
	if (s)
		s->spec = strdup(spec);
	if (!s || !s->spec) {
		free(s);
		store_set_err(err, errlen, "store %s: out of memory", spec);
		errno = ENOMEM;
		return -1;
	}
	s->be = be;
	s->readonly = readonly;
	if (be->open(&s->db, where, secret_file, readonly, err, errlen) < 0) {
		int e = errno;

		free(s->spec);
		free(s);
		errno = e;
		return -1;
	}
	*out = s;
	return 0;
}

int store_open(struct store **out, const char *spec, char *err, size_t errlen)
{
	return store_open_secret(out, spec, NULL, 0, err, errlen);
}

int store_open_readonly(struct store **out, const char *spec, char *err, size_t errlen)
{
	return store_open_secret(out, spec, NULL, 1, err, errlen);
}

void store_claim(struct store *s, const char *key, const char *controller, int64_t now_ms,
                 store_claim_fn cb, void *arg)
{
	if (!s->be->claim)
		cb(1, arg);
	else
		s->be->claim(s->db, key, controller, now_ms, cb, arg);
}

void store_claim_done(struct store *s, const char *key, int ok, int64_t now_ms)
{
	if (s->be->claim_done)
		s->be->claim_done(s->db, key, ok, now_ms);
}

int store_has_claims(const struct store *s)
{
	return s->be->claim != NULL;
}

int store_lead(struct store *s, store_role_fn fn, void *arg)
{
	if (!s->be->lead) {
		fn(STORE_ACTIVE, "the store has one writer", arg);
		return 0;
	}
	return s->be->lead(s->db, fn, arg);
}

int store_attach(struct store *s, struct event_base *base)
{
	if (!s->be->attach)
		return 0;
	if (s->be->attach(s->db, base) < 0)
		return -1;
	s->attached = 1;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	/*
	 * Rows that cannot be written now are lost: there is no later. A
	 * writer that cares flushes and counts with store_discard() first.
	 */
	if (store_flush(s) < 0) {
		/* Nothing to tell it to: the caller has given the store up. */
	}
	store_discard(s);
	free(s->q);
	s->be->close(s->db);
	free(s->spec);
	free(s);
}

/* ---- the queue ---- */

int store_flush(struct store *s)
{
	int n;

	/* A flush on the loop ends first (its rows come back to the queue if it fails). */
	if (s->nfly > 0 && s->be->flush(s->db, NULL, 0) < 0)
		return -1;
	n = s->nq;
	if (n == 0)
		return 0;
	if (s->be->flush(s->db, s->q, n) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		free(s->q[i]);
	s->nq = 0;
	return n;
}

/*
 * The flush on the loop ended: its rows are freed, or back at the head of
 * the queue, in place: enqueue() keeps room for them (qcap >= nq + nfly),
 * so a failed flush never needs memory to keep its rows.
 */
static void flushed(int rc, void *arg)
{
	struct store *s = arg;
	int n = s->nfly;

	if (rc == 0) {
		for (int i = 0; i < n; i++)
			free(s->fly[i]);
	} else {
		memmove(s->q + n, s->q, (size_t)s->nq * sizeof(*s->q));
		memcpy(s->q, s->fly, (size_t)n * sizeof(*s->q));
		s->nq += n;
	}
	free(s->fly);
	s->fly = NULL;
	s->nfly = 0;
	if (s->fly_done)
		s->fly_done(rc < 0 ? -1 : n, s->fly_arg);
}

int store_flush_start(struct store *s, store_flushed_fn done, void *arg)
{
	struct store_row **fly;

	if (!s->attached || !s->be->flush_start) {
		int n = store_flush(s);

		if (done)
			done(n, arg);
		return 0;
	}
	if (s->nfly > 0) {
		errno = EBUSY;
		return -1;
	}
	if (s->nq == 0) {
		if (done)
			done(0, arg);
		return 0;
	}
	/* The rows in flight move out; the queue keeps room to take them back (flushed()). */
	fly = malloc((size_t)s->nq * sizeof(*fly));
	if (!fly) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(fly, s->q, (size_t)s->nq * sizeof(*fly));
	s->fly = fly;
	s->nfly = s->nq;
	s->nq = 0;
	s->fly_done = done;
	s->fly_arg = arg;
	s->be->flush_start(s->db, s->fly, s->nfly, flushed, s);
	return 0;
}

int store_answers_later(const struct store *s)
{
	return s->attached && s->be->flush_start != NULL;
}

int store_flushing(const struct store *s)
{
	return s->nfly > 0;
}

int store_queued(const struct store *s)
{
	return s->nq + s->nfly;
}

const char *store_pathname(const struct store *s)
{
	return s->spec;
}

int store_discard(struct store *s)
{
	int n = s->nq;

	for (int i = 0; i < n; i++)
		free(s->q[i]);
	s->nq = 0;
	return n;
}

const char *store_errmsg(const struct store *s)
{
	return s->be->errmsg(s->db);
}

static struct span sp(const char *p)
{
	return (struct span){p, p ? strlen(p) : 0};
}

/* A fixed-size field of struct result: it may fill its array with no NUL. */
static struct span spn(const char *p, size_t cap)
{
	return (struct span){p, strnlen(p, cap)};
}

/* An empty fixed-size field is "absent" in struct result. */
static struct span spn_or_null(const char *p, size_t cap)
{
	return *p ? spn(p, cap) : (struct span){NULL, 0};
}

static struct store_row *row_new(enum store_rkind kind, const struct span str[STORE_S__COUNT])
{
	size_t total = 0;
	struct store_row *r;
	char *p;

	for (int i = 0; i < STORE_S__COUNT; i++)
		if (str[i].p)
			total += str[i].n + 1;
	r = calloc(1, sizeof(*r) + total);
	if (!r)
		return NULL;
	r->kind = kind;
	p = r->text;
	for (int i = 0; i < STORE_S__COUNT; i++) {
		if (!str[i].p)
			continue;
		memcpy(p, str[i].p, str[i].n);
		p[str[i].n] = '\0';
		r->s[i] = p;
		p += str[i].n + 1;
	}
	return r;
}

struct store_row *store_row_new(enum store_rkind kind, const char *const str[STORE_S__COUNT])
{
	struct span sp_[STORE_S__COUNT];

	for (int i = 0; i < STORE_S__COUNT; i++)
		sp_[i] = sp(str[i]);
	return row_new(kind, sp_);
}

/* Takes ownership of r. */
static int enqueue(struct store *s, struct store_row *r)
{
	if (!r || s->readonly) {
		free(r);
		errno = r ? EROFS : ENOMEM;
		return -1;
	}
	if (s->nq + s->nfly >= STORE_QUEUE_MAX) {
		free(r);
		errno = ENOBUFS;
		return -1;
	}
	/* Room for the rows of a flush in flight too: a failed one comes back here. */
	if (s->nq + s->nfly >= s->qcap) {
		int cap = s->qcap ? s->qcap * 2 : 256;
		struct store_row **q;

		if (cap < s->nq + s->nfly + 1)
			cap = s->nq + s->nfly + 1;
		if (cap > STORE_QUEUE_MAX)
			cap = STORE_QUEUE_MAX;
		q = realloc(s->q, (size_t)cap * sizeof(*q));
		if (!q) {
			free(r);
			errno = ENOMEM;
			return -1;
		}
		s->q = q;
		s->qcap = cap;
	}
	s->q[s->nq++] = r;
	return 0;
}

static int name_ok(const char *name)
{
	size_t n = name ? strnlen(name, STORE_NAME_MAX + 1) : 0;

	if (n == 0 || n > STORE_NAME_MAX) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

/*
 * The certificate days_left counts to (docs/json.md, "cert_not_after and
 * friends"); an index the chain does not hold stands for the leaf.
 */
static int first_to_expire(const struct tls_facts *t)
{
	return t->earliest >= 0 && t->earliest < t->chain_len && t->earliest < RESULT_CHAIN_MAX
	           ? t->earliest
	           : 0;
}

int store_add_result(struct store *s, const char *check, const char *location, int64_t wall_ms,
                     const struct result *r)
{
	return store_add_result_flags(s, check, location, wall_ms, r, 0);
}

/* One way to count for uptime at most, and no flag this build does not know. */
static int flags_ok(unsigned flags)
{
	unsigned counts = flags & (STORE_R_COUNT_UP | STORE_R_COUNT_DOWN | STORE_R_UNCOUNTED);

	if ((flags & ~(STORE_R_MAINTENANCE | counts)) || (counts & (counts - 1))) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

int store_add_result_flags(struct store *s, const char *check, const char *location,
                           int64_t wall_ms, const struct result *r, unsigned flags)
{
	struct span str[STORE_S__COUNT] = {{0}};
	const struct tls_facts *t = &r->tls;
	int leaf = t->used && t->chain_len > 0;
	struct store_row *q;
	/* Warnings are escaped already: no newline inside one, so one per line. */
	char warns[RESULT_WARN_MAX * (RESULT_WARN_LEN + 1)];
	size_t wn = 0;

	for (int i = 0; i < r->nwarnings && i < RESULT_WARN_MAX; i++) {
		size_t n = strnlen(r->warnings[i], RESULT_WARN_LEN - 1);
		if (wn)
			warns[wn++] = '\n';
		memcpy(warns + wn, r->warnings[i], n);
		wn += n;
	}

	if (!name_ok(check) || !flags_ok(flags))
		return -1;
	if (!location || !*location)
		location = "local";
	str[STORE_S_CHECK] = sp(check);
	str[STORE_S_LOCATION] = spn(location, STORE_NAME_MAX);
	str[STORE_S_MESSAGE] = spn(r->message, sizeof(r->message));
	str[STORE_S_ADDRESS] = spn_or_null(r->address, sizeof(r->address));
	str[STORE_S_PATH] = spn_or_null(r->path, sizeof(r->path));
	if (wn) {
		str[STORE_S_WARNINGS].p = warns;
		str[STORE_S_WARNINGS].n = wn;
	}
	if (t->used) {
		str[STORE_S_TLS_VERSION] = spn(t->version, sizeof(t->version));
		if (leaf) {
			str[STORE_S_SUBJECT] =
			    spn(t->chain[0].subject, sizeof(t->chain[0].subject));
			str[STORE_S_ISSUER] = spn(t->chain[0].issuer, sizeof(t->chain[0].issuer));
			str[STORE_S_SHA256] = spn(t->chain[0].sha256, sizeof(t->chain[0].sha256));
		}
	}
	q = row_new(STORE_ROW_RESULT, str);
	if (q) {
		q->ts_ms = wall_ms;
		q->status = r->status;
		q->severity = r->severity;
		q->reason = r->reason;
		memcpy(q->phase_us, r->phase_us, sizeof(q->phase_us));
		q->ttg_us = r->ttg_us;
		q->messages = r->messages;
		/* Certificate columns only when a certificate was seen. */
		q->tls = leaf;
		q->days_left = t->days_left;
		q->not_after = leaf ? t->chain[0].not_after : 0;
		q->first_not_after = leaf ? t->chain[first_to_expire(t)].not_after : 0;
		q->flags = flags;
	}
	return enqueue(s, q);
}

int store_add_transition(struct store *s, const char *check, int64_t wall_ms, enum mp_status from,
                         enum mp_status to, enum mp_severity to_sev, enum mp_reason why,
                         const char *message)
{
	struct span str[STORE_S__COUNT] = {{0}};
	struct store_row *q;

	if (!name_ok(check))
		return -1;
	str[STORE_S_CHECK] = sp(check);
	str[STORE_S_MESSAGE] = sp(message ? message : "");
	q = row_new(STORE_ROW_TRANSITION, str);
	if (q) {
		q->ts_ms = wall_ms;
		q->from = from;
		q->status = to;
		q->severity = to_sev;
		q->reason = why;
	}
	return enqueue(s, q);
}

int store_incident_open(struct store *s, const char *check, int64_t wall_ms, enum mp_reason why,
                        const char *message)
{
	struct span str[STORE_S__COUNT] = {{0}};
	struct store_row *q;

	if (!name_ok(check))
		return -1;
	str[STORE_S_CHECK] = sp(check);
	str[STORE_S_MESSAGE] = sp(message ? message : "");
	q = row_new(STORE_ROW_INCIDENT_OPEN, str);
	if (q) {
		q->ts_ms = wall_ms;
		q->reason = why;
	}
	return enqueue(s, q);
}

int store_incident_close(struct store *s, const char *check, int64_t wall_ms)
{
	return store_incident_close_why(s, check, wall_ms, STORE_CLOSED_RECOVERED);
}

/* A row of kind about check at wall_ms whose one text is text (NULL: none). */
static int enqueue_named(struct store *s, enum store_rkind kind, const char *check, int64_t wall_ms,
                         const char *text)
{
	struct span str[STORE_S__COUNT] = {{0}};
	struct store_row *q;

	if (!name_ok(check))
		return -1;
	str[STORE_S_CHECK] = sp(check);
	if (text)
		str[STORE_S_MESSAGE] = sp(text);
	q = row_new(kind, str);
	if (q)
		q->ts_ms = wall_ms;
	return enqueue(s, q);
}

int store_incident_close_why(struct store *s, const char *check, int64_t wall_ms, const char *why)
{
	return enqueue_named(s, STORE_ROW_INCIDENT_CLOSE, check, wall_ms, why ? why : "");
}

int store_check_retire(struct store *s, const char *check, int64_t wall_ms, const char *why)
{
	return enqueue_named(s, STORE_ROW_CHECK_RETIRE, check, wall_ms, why ? why : "");
}

int store_check_present(struct store *s, const char *check)
{
	return enqueue_named(s, STORE_ROW_CHECK_PRESENT, check, 0, NULL);
}

void store_alert_parse(struct store_state *ss, const char *v)
{
	char r1[40], r2[40];
	long long k, sup;
	int a, b;

	if (!v || sscanf(v, "%lld %39s %lld %39s", &k, r1, &sup, r2) != 4 || k < 0 || sup < 0)
		return;
	a = result_reason_parse(r1);
	b = result_reason_parse(r2);
	ss->alert_known = 1;
	ss->alert_key_ms = k;
	ss->alert_sup_ms = sup;
	ss->alert_reason = a >= 0 ? (enum mp_reason)a : MP_R_INTERNAL;
	ss->alert_sup_reason = b >= 0 ? (enum mp_reason)b : MP_R_INTERNAL;
}

int store_set_alert(struct store *s, const char *check, int64_t key_ms, enum mp_reason key_reason,
                    int64_t sup_ms, enum mp_reason sup_reason)
{
	char v[96];

	snprintf(v, sizeof(v), "%lld %s %lld %s", (long long)key_ms, result_reason_name(key_reason),
	         (long long)sup_ms, result_reason_name(sup_reason));
	return enqueue_named(s, STORE_ROW_ALERT, check, key_ms, v);
}

int store_add_delivery(struct store *s, const char *check, const char *channel, const char *event,
                       int attempt, int ok, const char *detail, int64_t wall_ms)
{
	struct span str[STORE_S__COUNT] = {{0}};
	struct store_row *q;

	if (check && !name_ok(check))
		return -1;
	str[STORE_S_CHECK] = sp(check);
	str[STORE_S_CHANNEL] = sp(channel ? channel : "");
	str[STORE_S_EVENT] = sp(event ? event : "");
	str[STORE_S_MESSAGE] = sp(detail ? detail : "");
	q = row_new(STORE_ROW_DELIVERY, str);
	if (q) {
		q->ts_ms = wall_ms;
		q->attempt = attempt;
		q->ok = ok ? 1 : 0;
	}
	return enqueue(s, q);
}

/* ---- upkeep ---- */

int store_retention(struct store *s, int64_t now_ms, unsigned raw_days, unsigned rollup_days)
{
	return s->be->retention(s->db, now_ms, raw_days, rollup_days);
}

int store_load_states(struct store *s, store_state_cb cb, void *arg)
{
	/* A state queued but not written would be missed. */
	if (store_flush(s) < 0)
		return -1;
	return s->be->load_states(s->db, cb, arg);
}

int store_each_check(struct store *s, store_check_cb cb, void *arg)
{
	if (store_flush(s) < 0)
		return -1;
	return s->be->each_check(s->db, cb, arg);
}

enum store_file store_file_check(struct store *s)
{
	return s->be->file_check(s->db);
}

int store_reopen(struct store *s, char *err, size_t errlen)
{
	return s->be->reopen(s->db, err, errlen);
}

void store_interrupt(struct store *s)
{
	if (s)
		s->be->interrupt(s->db);
}

/* ---- reads ---- */

int store_q_counts(struct store *s, const int64_t *bounds, int nb, store_counts_cb cb, void *arg,
                   char *err, size_t errlen)
{
	if (nb < 2 || nb > STORE_COUNTS_MAX + 1) {
		store_set_err(err, errlen, "store: %d bounds for counts", nb);
		errno = EINVAL;
		return -1;
	}
	for (int i = 1; i < nb; i++)
		if (bounds[i] < bounds[i - 1]) {
			store_set_err(err, errlen, "store: counts bounds out of order");
			errno = EINVAL;
			return -1;
		}
	return s->be->counts(s->db, bounds, nb, cb, arg, err, errlen);
}

/* check is required by every read but incidents and deliveries. */
static const char nocheck[] = "store: the read names no check";

void store_read_history(struct store *s, const struct store_query *q, store_results_cb cb,
                        void *arg)
{
	if (!q->check)
		cb(NULL, 0, EINVAL, nocheck, arg);
	else
		s->be->history(s->db, q, cb, arg);
}

void store_read_uptime(struct store *s, const struct store_query *q, store_uptime_cb cb, void *arg)
{
	if (!q->check)
		cb(NULL, EINVAL, nocheck, arg);
	else
		s->be->uptime(s->db, q, cb, arg);
}

void store_read_series(struct store *s, const struct store_query *q, store_series_cb cb, void *arg)
{
	if (!q->check)
		cb(NULL, EINVAL, nocheck, arg);
	else
		s->be->series(s->db, q, cb, arg);
}

void store_read_incidents(struct store *s, const struct store_query *q, store_incidents_cb cb,
                          void *arg)
{
	s->be->incidents(s->db, q, cb, arg);
}

void store_read_deliveries(struct store *s, const struct store_query *q, store_deliveries_cb cb,
                           void *arg)
{
	s->be->deliveries(s->db, q, cb, arg);
}

void store_read_status(struct store *s, store_status_cb cb, void *arg)
{
	s->be->status(s->db, cb, arg);
}
