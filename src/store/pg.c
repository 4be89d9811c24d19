/* SPDX-License-Identifier: ISC */
/*
 * pg.c - the PostgreSQL backend (issue 14): its one connection and the
 * jobs that run on it (pg_int.h), the writes and retention. The reads are
 * in pg_read.c; connecting and the schema in pg_conn.c.
 *
 * Two ways to run a job, one way to build it:
 *   - before a loop is attached (the report commands, the daemon until
 *     its loop runs, the API's worker thread), statement after statement
 *     with PQexecParams() between BEGIN and COMMIT, blocking;
 *   - after store_attach(), in pipeline mode on a non-blocking socket
 *     watched by the loop: a job's statements go out together, ended by a
 *     Sync, so they run as one implicit transaction and the loop never
 *     waits on the network. Jobs run one after the other, in order.
 *
 * A connection that fails, or a job with no answer in PG_JOB_TIMEOUT_S,
 * fails every job waiting (writes stay queued in store.c, reads answer
 * EIO) and the loop connects again, backing off to PG_RETRY_MAX_MS; the
 * password file is read again each time, so a rotated password is taken.
 *
 * Results are written into day partitions (results_dN, N the day since
 * the epoch) made when a day's first row comes; retention folds raw hours
 * into roll-ups in SQL, records how far it has folded (meta raw_from_ms,
 * PG_RAW_FROM) and drops a day's partition once it is all below that:
 * O(1), where deleting rows would rewrite the table. A result older than
 * raw_from_ms (a node's late spool) goes straight into its hour's roll-up.
 */
#include "store/pg_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "store/pg_conn.h"
#include "store/rollup.h"

#define PG_JOB_TIMEOUT_S 60
#define PG_RETRY_MIN_MS  250
#define PG_RETRY_MAX_MS  5000
/* Hours one retention step folds at most, and steps one store_retention() runs. */
#define PG_FOLD_HOURS 6
#define PG_FOLD_STEPS 16
#define DAY_MS        (24 * ROLLUP_HOUR_MS)
/* pg_advisory_xact_lock key of making partitions: "mp-parts" in ASCII. */
#define PG_PART_LOCK 0x6d702d7061727473LL
/*
 * The active controller stops acting when its session has answered
 * nothing for PG_LEAD_GRACE_S; the server ends a session whose peer is
 * silent after PG_KEEPALIVE_IDLE_S + PG_KEEPALIVE_COUNT probes a second
 * apart (set on the session), later, so that the lock is free only once
 * the controller that held it has stopped.
 */
#define PG_LEAD_GRACE_S     4
#define PG_KEEPALIVE_IDLE_S 4
#define PG_KEEPALIVE_COUNT  4

struct pg_stmt {
	const char *sql; /* own, or a statement's static text (name) */
	char *own;
	const char *name; /* a statement prepared once a connection (PG_PREPARED); NULL: none */
	int prepare;      /* this is its PQsendPrepare() (session_setup()) */
	int n;
	char **v;
};

/*
 * Statements the server parses and plans once a connection: a result's
 * INSERT, sent for every row at 3 333 rows/s, where planning it again each
 * time cost two thirds of the server's CPU (bench/RESULTS.md, eleventh
 * slice). Prepared by session_setup() on the loop, or at first use when
 * blocking; until then (or if preparing failed) sent as plain text.
 */
#define PG_RESULT_STMT "mp_result"

struct pg_job {
	struct pg_job *next;
	char what[96];
	pg_done_fn done;
	void *ctx;
	int nomem, failed;
	struct pg_stmt *st;
	int n, cap;
	PGresult **res;
	int nres;
	int *finished; /* pg_job_wait()'s flag */
	int hold;      /* while not connected: waits for the connection instead of failing */
	char err[768];
};

enum pg_state { PG_DOWN, PG_CONNECTING, PG_UP };

struct pg {
	PGconn *c;
	enum pg_state state;
	char *uri, *pwfile;
	int readonly;
	char shown[512];
	char err[1024];     /* what errmsg() says: the last failed write, retention or load */
	char down_why[768]; /* while not connected: why */
	struct event_base *base;
	struct event *io, *retry, *tmo;
	short io_what;
	int retry_ms;
	struct pg_job *head, *tail; /* head is on the wire when sent */
	int sent;
	int closing;
	/* check names known to be in checks (never deleted: a cache that stays true) */
	char **names;
	size_t ncap, nnames;
	/* day partitions known to exist */
	int64_t *days;
	size_t ndays, dcap;
	int64_t raw_from; /* meta raw_from_ms, as last read or written here */
	pthread_mutex_t cmu;
	PGcancel *cancel; /* under cmu: store_interrupt() may come from another thread */
	/* the retention run in flight (loop mode) */
	int prepared; /* PG_RESULT_STMT exists on c; 0 again whenever c changes */
	int ret_running, ret_last;
	/* the lead (store_lead()): asked, held, and how fresh the session is */
	store_role_fn lead_fn;
	void *lead_arg;
	int leading, lead_asking;
	int lead_told; /* the role last told: -1 none yet */
	/* Claims asked while not connected: sent first once connected (store_claim()). */
	struct pg_job *held, *held_tail;
	struct event *lead_tick;
	int64_t last_answer_us; /* monotonic: the last Sync the server answered */
};

static void conn_lost(struct pg *p, const char *why);
static void lead_lost(struct pg *p, const char *why);
static void pump(struct pg *p);
static void send_head(struct pg *p);

void pg_set_err(struct pg *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

const char *pg_name(const struct pg *p)
{
	return p->shown;
}

const char *pg_i64(char buf[24], int64_t v)
{
	if (v == STORE_NONE)
		return NULL;
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

int64_t pg_col_i64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return STORE_NONE;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *pg_col_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The first line of a libpq message, which ends in a newline. */
static int first_line(const char *m)
{
	return (int)strcspn(m ? m : "", "\n");
}

/* ---- jobs ---- */

struct pg_job *pg_job_new(const char *what, pg_done_fn done, void *ctx)
{
	struct pg_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	snprintf(j->what, sizeof(j->what), "%s", what);
	j->done = done;
	j->ctx = ctx;
	return j;
}

/* The length of the valid UTF-8 sequence at s, or 0 when the byte at s begins none. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * A copy of s that PostgreSQL takes: a database in UTF-8 refuses a byte
 * that is not, and the flush holding it would fail for ever, with every
 * row queued behind it. Such bytes become \xNN, as line_escape() shows
 * them; the rest, newlines included, is kept as it is.
 */
static char *pg_text(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), bad = 0, o = 0;
	char *out;

	for (size_t i = 0, k; i < len; i += k ? k : 1)
		if (!(k = utf8_len(u + i)))
			bad++;
	if (!bad)
		return strdup(s);
	if (!(out = malloc(len + bad * 3 + 1)))
		return NULL;
	for (size_t i = 0, k; i < len; i += k ? k : 1) {
		if ((k = utf8_len(u + i))) {
			memcpy(out + o, s + i, k);
			o += k;
		} else {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", u[i]);
		}
	}
	out[o] = '\0';
	return out;
}

static int job_add(struct pg_job *j, const char *sql, const char *name, int prepare, int nparams,
                   const char *const *params)
{
	struct pg_stmt *s;

	if (j->nomem)
		return -1;
	if (j->n == j->cap) {
		int cap = j->cap ? j->cap * 2 : 8;
		struct pg_stmt *v = realloc(j->st, (size_t)cap * sizeof(*v));

		if (!v)
			goto nomem;
		j->st = v;
		j->cap = cap;
	}
	s = &j->st[j->n];
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->prepare = prepare;
	if (name)
		s->sql = sql; /* static: named statements' texts are */
	else
		s->sql = s->own = strdup(sql);
	s->v = nparams > 0 && !prepare ? calloc((size_t)nparams, sizeof(*s->v)) : NULL;
	if (!s->sql || (nparams > 0 && !prepare && !s->v))
		goto nomem_stmt;
	s->n = nparams;
	for (int i = 0; i < nparams && !prepare; i++)
		if (params[i] && !(s->v[i] = pg_text(params[i]))) {
			j->n++;
			goto nomem;
		}
	j->n++;
	return 0;
nomem_stmt:
	free(s->own);
	free(s->v);
nomem:
	j->nomem = 1;
	errno = ENOMEM;
	return -1;
}

int pg_job_add(struct pg_job *j, const char *sql, int nparams, const char *const *params)
{
	return job_add(j, sql, NULL, 0, nparams, params);
}

static void job_free(struct pg_job *j)
{
	for (int i = 0; i < j->n; i++) {
		for (int k = 0; k < j->st[i].n && j->st[i].v; k++)
			free(j->st[i].v[k]);
		free(j->st[i].v);
		free(j->st[i].own);
	}
	for (int i = 0; i < j->nres; i++)
		PQclear(j->res[i]);
	free(j->res);
	free(j->st);
	free(j);
}

/* Call j's end and free it; j is off the queue already. */
static void job_end(struct pg *p, struct pg_job *j, int error, const char *err)
{
	if (j->finished)
		*j->finished = 1;
	if (error)
		j->done(p, NULL, 0, error, err, j->ctx);
	else
		j->done(p, j->res, j->nres, 0, NULL, j->ctx);
	job_free(j);
}

static void job_fail(struct pg *p, struct pg_job *j, int error, const char *err)
{
	job_end(p, j, error, err);
}

/* Keep one result of j; -1 when out of memory (the job then fails). */
static int job_keep(struct pg_job *j, PGresult *r)
{
	PGresult **v = realloc(j->res, (size_t)(j->nres + 1) * sizeof(*v));

	if (!v) {
		PQclear(r);
		return -1;
	}
	j->res = v;
	j->res[j->nres++] = r;
	return 0;
}

static void job_error(struct pg *p, struct pg_job *j, const char *m)
{
	if (j->failed)
		return;
	j->failed = 1;
	snprintf(j->err, sizeof(j->err), "store %s: %s: %.*s", p->shown, j->what, first_line(m), m);
}

/* ---- blocking: no loop ---- */

static void run_blocking(struct pg *p, struct pg_job *j)
{
	PGresult *r;
	char err[768];

	if (!p->c || PQstatus(p->c) != CONNECTION_OK) {
		PQfinish(p->c);
		p->prepared = 0;
		p->c = pg_open(p->uri, p->pwfile, 1, err, sizeof(err));
		if (!p->c) {
			job_fail(p, j, EIO, err);
			return;
		}
	}
	if (j->n > 1) {
		/* The savepoint lets a prepare that failed leave the transaction usable. */
		r = PQexec(p->c, "BEGIN; SAVEPOINT mp_prepare");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			job_error(p, j, PQresultErrorMessage(r));
		PQclear(r);
	}
	for (int i = 0; i < j->n && !j->failed; i++) {
		const struct pg_stmt *s = &j->st[i];
		ExecStatusType st;

		if (s->name && !p->prepared) {
			/* Prepared at first use; a failure to is told by the statement itself. */
			PGresult *pr = PQprepare(p->c, s->name, s->sql, s->n, NULL);

			p->prepared = PQresultStatus(pr) == PGRES_COMMAND_OK;
			PQclear(pr);
			if (!p->prepared && j->n > 1)
				PQclear(PQexec(p->c, "ROLLBACK TO SAVEPOINT mp_prepare"));
		}
		if (s->name && p->prepared)
			r = PQexecPrepared(p->c, s->name, s->n, (const char *const *)s->v, NULL,
			                   NULL, 0);
		else
			r = PQexecParams(p->c, s->sql, s->n, NULL, (const char *const *)s->v, NULL,
			                 NULL, 0);
		st = PQresultStatus(r);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			job_error(p, j, r ? PQresultErrorMessage(r) : PQerrorMessage(p->c));
			PQclear(r);
		} else if (job_keep(j, r) < 0) {
			job_error(p, j, "out of memory");
		}
	}
	if (j->n > 1) {
		r = PQexec(p->c, j->failed ? "ROLLBACK" : "COMMIT");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			job_error(p, j, PQresultErrorMessage(r));
		PQclear(r);
	}
	job_end(p, j, j->failed ? EIO : 0, j->err);
}

/* ---- the loop: pipeline mode ---- */

static void io_cb(evutil_socket_t fd, short what, void *arg);

/* Watch the socket for what (EV_READ, and EV_WRITE while output waits). */
static void watch(struct pg *p, short what)
{
	int fd = PQsocket(p->c);

	if (p->io && (p->io_what != what || event_get_fd(p->io) != fd)) {
		event_free(p->io);
		p->io = NULL;
	}
	if (!p->io && fd >= 0) {
		p->io = event_new(p->base, fd, what | EV_PERSIST, io_cb, p);
		if (!p->io || event_add(p->io, NULL) < 0) {
			if (p->io)
				event_free(p->io);
			p->io = NULL;
			return;
		}
		p->io_what = what;
	}
}

static void tmo_arm(struct pg *p, int seconds)
{
	struct timeval tv = {seconds, 0};

	if (p->tmo)
		event_add(p->tmo, &tv);
}

static void tmo_disarm(struct pg *p)
{
	if (p->tmo)
		event_del(p->tmo);
}

static void head_done(struct pg *p)
{
	struct pg_job *j = p->head;

	p->head = j->next;
	if (!p->head)
		p->tail = NULL;
	p->sent = 0;
	tmo_disarm(p);
	job_end(p, j, j->failed ? EIO : 0, j->err);
}

/* Read what the server sent; complete the head job at its Sync. */
static void take_input(struct pg *p)
{
	int nulls = 0;

	if (!PQconsumeInput(p->c)) {
		conn_lost(p, PQerrorMessage(p->c));
		return;
	}
	while (p->state == PG_UP && p->head && p->sent && !PQisBusy(p->c)) {
		struct pg_job *j = p->head;
		PGresult *r = PQgetResult(p->c);

		if (!r) {
			/* One statement's end; two in a row: nothing more to read now. */
			if (++nulls > 1)
				break;
			continue;
		}
		nulls = 0;
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(r);
			p->last_answer_us = mono_us();
			head_done(p);
			send_head(p);
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (j->failed)
				PQclear(r);
			else if (job_keep(j, r) < 0)
				job_error(p, j, "out of memory");
			break;
		case PGRES_PIPELINE_ABORTED:
			PQclear(r);
			break;
		default:
			job_error(p, j, PQresultErrorMessage(r));
			PQclear(r);
			break;
		}
	}
}

/* Send what waits; watch for writing while libpq holds output. */
static void pump(struct pg *p)
{
	int rc;

	if (p->state != PG_UP)
		return;
	rc = PQflush(p->c);
	if (rc < 0) {
		conn_lost(p, PQerrorMessage(p->c));
		return;
	}
	watch(p, rc == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void send_head(struct pg *p)
{
	struct pg_job *j = p->head;

	if (!j || p->sent || p->state != PG_UP)
		return;
	if (j->nomem) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		job_fail(p, j, ENOMEM, "store: out of memory");
		send_head(p);
		return;
	}
	for (int i = 0; i < j->n; i++) {
		const struct pg_stmt *s = &j->st[i];
		int ok;

		if (s->prepare)
			ok = PQsendPrepare(p->c, s->name, s->sql, s->n, NULL);
		else if (s->name && p->prepared)
			ok = PQsendQueryPrepared(p->c, s->name, s->n, (const char *const *)s->v,
			                         NULL, NULL, 0);
		else
			ok = PQsendQueryParams(p->c, s->sql, s->n, NULL, (const char *const *)s->v,
			                       NULL, NULL, 0);
		if (!ok) {
			conn_lost(p, PQerrorMessage(p->c));
			return;
		}
	}
	if (!PQpipelineSync(p->c)) {
		conn_lost(p, PQerrorMessage(p->c));
		return;
	}
	p->sent = 1;
	tmo_arm(p, PG_JOB_TIMEOUT_S);
	pump(p);
}

static void connect_step(struct pg *p);

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg *p = arg;

	(void)fd;
	if (p->state == PG_CONNECTING) {
		connect_step(p);
		return;
	}
	if (what & EV_WRITE)
		pump(p);
	if (p->state == PG_UP && (what & EV_READ))
		take_input(p);
	if (p->state == PG_UP)
		pump(p);
}

static void retry_later(struct pg *p)
{
	struct timeval tv = {p->retry_ms / 1000, (p->retry_ms % 1000) * 1000};

	if (p->retry)
		event_add(p->retry, &tv);
	p->retry_ms = p->retry_ms * 2 > PG_RETRY_MAX_MS ? PG_RETRY_MAX_MS : p->retry_ms * 2;
}

static void cancel_set(struct pg *p, PGcancel *k)
{
	pthread_mutex_lock(&p->cmu);
	if (p->cancel)
		PQfreeCancel(p->cancel);
	p->cancel = k;
	pthread_mutex_unlock(&p->cmu);
}

/* Every waiting job fails with why; the connection is closed and tried again later. */
static void conn_lost(struct pg *p, const char *why)
{
	struct pg_job *j;

	/* The lock went with the session: said before anything else runs. */
	if (p->leading)
		lead_lost(p, why);
	snprintf(p->down_why, sizeof(p->down_why), "store %s: connection lost: %.*s", p->shown,
	         first_line(why), why);
	if (p->io)
		event_free(p->io);
	p->io = NULL;
	tmo_disarm(p);
	cancel_set(p, NULL);
	PQfinish(p->c);
	p->c = NULL;
	p->prepared = 0;
	p->state = PG_DOWN;
	p->sent = 0;
	/*
	 * Callbacks may add jobs: they fail at once, the state being down.
	 * Claims wait for the connection instead, the one on the wire too
	 * (asked again as it was: claim_answer() knows its own claim).
	 */
	while ((j = p->head)) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		if (j->hold && !p->closing) {
			for (int i = 0; i < j->nres; i++)
				PQclear(j->res[i]);
			j->nres = 0;
			j->failed = 0;
			j->next = NULL;
			if (p->held_tail)
				p->held_tail->next = j;
			else
				p->held = j;
			p->held_tail = j;
			continue;
		}
		job_fail(p, j, EIO, p->down_why);
	}
	if (!p->closing)
		retry_later(p);
}

static const char sql_result[] =
    "INSERT INTO results (check_id, ts_ms, location, status, reason, message, address, ttg_us,"
    " dns_us, connect_us, tls_us, greeting_us, capability_us, starttls_us, login_us,"
    " mailbox_us, total_us, tls_version, cert_days_left, cert_not_after, cert_subject,"
    " cert_issuer, cert_sha256, messages, severity, warnings, maintenance, path,"
    " first_not_after, counts_as)"
    " VALUES ((SELECT id FROM checks WHERE name = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10,"
    " $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27,"
    " $28, $29, $30)";

static void setup_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                       void *ctx)
{
	(void)res, (void)ctx;
	if (error)
		pg_set_err(p, "%s", err);
	else if (n == 2)
		p->prepared = 1;
}

/*
 * First on every connection made on the loop, ahead of the jobs waiting:
 * the server probes a silent peer (a controller cut off, a host gone)
 * and ends its session, which frees its lock, in about
 * PG_KEEPALIVE_IDLE_S + PG_KEEPALIVE_COUNT seconds, not hours.
 */
static void session_setup(struct pg *p)
{
	struct pg_job *j = pg_job_new("setting up the session", setup_done, NULL);
	char sql[320];

	if (!j)
		return;
	/* Notices ("already exists, skipping") are not for an admin's log: libpq prints them. */
	snprintf(sql, sizeof(sql),
	         "SELECT set_config('client_min_messages', 'warning', false),"
	         " set_config('tcp_keepalives_idle', '%d', false),"
	         " set_config('tcp_keepalives_interval', '1', false),"
	         " set_config('tcp_keepalives_count', '%d', false),"
	         " set_config('tcp_user_timeout', '%d', false)",
	         PG_KEEPALIVE_IDLE_S, PG_KEEPALIVE_COUNT,
	         (PG_KEEPALIVE_IDLE_S + PG_KEEPALIVE_COUNT) * 1000);
	pg_job_add(j, sql, 0, NULL);
	if (!p->prepared)
		job_add(j, sql_result, PG_RESULT_STMT, 1, 30, NULL);
	/* Ahead of the queue: a job sent already stays first. */
	if (p->sent && p->head) {
		j->next = p->head->next;
		p->head->next = j;
		if (p->tail == p->head)
			p->tail = j;
	} else {
		j->next = p->head;
		p->head = j;
		if (!p->tail)
			p->tail = j;
	}
}

static void connected(struct pg *p)
{
	char err[768];

	if (pg_server_ok(p->c, p->shown, err, sizeof(err)) < 0 || PQsetnonblocking(p->c, 1) != 0 ||
	    !PQenterPipelineMode(p->c)) {
		conn_lost(p, err[0] ? err : PQerrorMessage(p->c));
		return;
	}
	cancel_set(p, PQgetCancel(p->c));
	p->state = PG_UP;
	p->retry_ms = PG_RETRY_MIN_MS;
	p->down_why[0] = '\0';
	p->last_answer_us = mono_us();
	tmo_disarm(p);
	watch(p, EV_READ);
	session_setup(p);
	send_head(p);
}

/*
 * Claims held while the session was away (store_claim()): asked now,
 * first, when this controller leads again; dropped when another does (its
 * owner stood by first and sends nothing of them).
 */
static void held_release(struct pg *p, int send)
{
	struct pg_job *j;

	if (!p->held)
		return;
	if (!send) {
		while ((j = p->held)) {
			p->held = j->next;
			job_fail(p, j, ECANCELED, "store: this controller stands by");
		}
		p->held_tail = NULL;
		return;
	}
	if (!p->head) {
		p->head = p->held;
		p->tail = p->held_tail;
	} else if (p->sent) {
		p->held_tail->next = p->head->next;
		p->head->next = p->held;
		if (p->tail == p->head)
			p->tail = p->held_tail;
	} else {
		p->held_tail->next = p->head;
		p->head = p->held;
	}
	p->held = p->held_tail = NULL;
	send_head(p);
}

static void connect_step(struct pg *p)
{
	switch (PQconnectPoll(p->c)) {
	case PGRES_POLLING_READING:
		watch(p, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		watch(p, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		connected(p);
		return;
	default:
		conn_lost(p, PQerrorMessage(p->c));
		return;
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg *p = arg;
	char err[768];

	(void)fd;
	(void)what;
	if (p->state != PG_DOWN)
		return;
	p->c = pg_connect_start(p->uri, p->pwfile, err, sizeof(err));
	if (!p->c) {
		snprintf(p->down_why, sizeof(p->down_why), "%s", err);
		retry_later(p);
		return;
	}
	p->state = PG_CONNECTING;
	/* PQconnectPoll() leaves connect_timeout to its caller. */
	tmo_arm(p, PG_CONNECT_TIMEOUT_S);
	watch(p, EV_WRITE);
}

static void tmo_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg *p = arg;
	char why[64];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no answer in %d s",
	         p->state == PG_CONNECTING ? PG_CONNECT_TIMEOUT_S : PG_JOB_TIMEOUT_S);
	conn_lost(p, why);
}

void pg_job_run(struct pg *p, struct pg_job *j)
{
	if (!j)
		return;
	if (p->closing) {
		job_fail(p, j, ECANCELED, "store: closing");
		return;
	}
	if (j->nomem) {
		job_fail(p, j, ENOMEM, "store: out of memory");
		return;
	}
	if (!p->base) {
		run_blocking(p, j);
		return;
	}
	if (p->state == PG_DOWN && j->hold) {
		if (p->held_tail)
			p->held_tail->next = j;
		else
			p->held = j;
		p->held_tail = j;
		return;
	}
	if (p->state == PG_DOWN) {
		job_fail(p, j, EIO,
		         p->down_why[0] ? p->down_why : "store: PostgreSQL is not connected");
		return;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	send_head(p);
}

void pg_job_wait(struct pg *p, struct pg_job *j)
{
	int finished = 0;
	int64_t deadline;
	struct timespec ts;

	if (!j)
		return;
	if (!p->base) {
		pg_job_run(p, j);
		return;
	}
	if (p->state != PG_UP) {
		job_fail(p, j, EIO,
		         p->down_why[0] ? p->down_why : "store: connecting to PostgreSQL");
		return;
	}
	j->finished = &finished;
	pg_job_run(p, j);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = ts.tv_sec + PG_JOB_TIMEOUT_S;
	while (!finished) {
		struct pollfd fd = {PQsocket(p->c), POLLIN, 0};

		if (p->state != PG_UP)
			break; /* conn_lost() ended every job, this one too */
		if (PQflush(p->c) == 1)
			fd.events |= POLLOUT;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ts.tv_sec >= deadline) {
			conn_lost(p, "no answer in time");
			break;
		}
		if (poll(&fd, 1, 1000) < 0 && errno != EINTR) {
			conn_lost(p, strerror(errno));
			break;
		}
		if (fd.revents & POLLOUT)
			pump(p);
		if (p->state == PG_UP && (fd.revents & (POLLIN | POLLHUP | POLLERR)))
			take_input(p);
	}
	if (p->state == PG_UP)
		pump(p);
}

/* ---- attaching to the loop ---- */

static int pg_attach(void *db, struct event_base *base)
{
	struct pg *p = db;

	if (p->base)
		return 0;
	p->base = base;
	p->retry = evtimer_new(base, retry_cb, p);
	p->tmo = evtimer_new(base, tmo_cb, p);
	if (!p->retry || !p->tmo)
		return -1;
	p->retry_ms = PG_RETRY_MIN_MS;
	if (!p->c || PQstatus(p->c) != CONNECTION_OK) {
		conn_lost(p, p->c ? PQerrorMessage(p->c) : "not connected");
		return 0;
	}
	connected(p);
	return 0;
}

/* ---- the lead among controllers ---- */

static void lead_tell(struct pg *p, enum store_role role, const char *why)
{
	char msg[800];

	if (p->lead_told == (int)role)
		return;
	p->lead_told = (int)role;
	snprintf(msg, sizeof(msg), "%.*s", first_line(why), why);
	if (p->lead_fn)
		p->lead_fn(role, msg, p->lead_arg);
}

static void lead_lost(struct pg *p, const char *why)
{
	p->leading = 0;
	lead_tell(p, STORE_LOST, why);
}

static void lead_answer(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                        void *ctx)
{
	int held;

	(void)err, (void)ctx;
	p->lead_asking = 0;
	/* A failed question is asked again next second; a lost connection fenced already. */
	if (error || n != 1 || PQntuples(res[0]) != 1)
		return;
	held = strcmp(PQgetvalue(res[0], 0, 0), "t") == 0;
	if (held && !p->leading) {
		p->leading = 1;
		held_release(p, 1);
		lead_tell(p, STORE_ACTIVE, "this controller holds the store's lock");
	} else if (!held && p->leading) {
		p->leading = 0;
		lead_tell(p, STORE_STANDBY,
		          "the store's lock is no longer held by this controller's session");
		held_release(p, 0);
	} else if (!held) {
		lead_tell(p, STORE_STANDBY, "another controller holds the store's lock");
		held_release(p, 0);
	}
}

/* The question of the second: may I lead (standby), do I still (active)? */
static struct pg_job *lead_job(struct pg *p)
{
	struct pg_job *j = pg_job_new("asking for the lead", lead_answer, NULL);
	char b[3][24];
	const char *v[2];

	if (!j)
		return NULL;
	if (!p->leading) {
		v[0] = pg_i64(b[0], PG_LEAD_LOCK);
		pg_job_add(j, "SELECT pg_try_advisory_lock($1::bigint)", 1, v);
	} else {
		/* A bigint key is kept as classid (its high half) and objid (its low half). */
		v[0] = pg_i64(b[1], (int64_t)((uint64_t)PG_LEAD_LOCK >> 32));
		v[1] = pg_i64(b[2], (int64_t)((uint64_t)PG_LEAD_LOCK & 0xffffffffu));
		pg_job_add(j,
		           "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
		           " AND pid = pg_backend_pid() AND granted AND classid = $1::bigint::oid"
		           " AND objid = $2::bigint::oid AND objsubid = 1)",
		           2, v);
	}
	p->lead_asking = 1;
	return j;
}

static void lead_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg *p = arg;
	char why[96];

	(void)fd, (void)what;
	if (p->state != PG_UP)
		return; /* conn_lost() fenced; the lead is asked for again once connected */
	if (p->leading && mono_us() - p->last_answer_us > (int64_t)PG_LEAD_GRACE_S * 1000000) {
		/*
		 * A session that may be gone: stop acting now, before the
		 * server frees the lock for another controller, and drop the
		 * session so that it does.
		 */
		snprintf(why, sizeof(why), "the database answered nothing for %d s",
		         PG_LEAD_GRACE_S);
		conn_lost(p, why);
		return;
	}
	if (!p->lead_asking)
		pg_job_run(p, lead_job(p));
}

static int pg_lead(void *db, store_role_fn fn, void *arg)
{
	struct pg *p = db;
	struct timeval one_s = {1, 0};

	p->lead_fn = fn;
	p->lead_arg = arg;
	p->lead_told = -1;
	if (!p->base)
		return -1;
	if (!p->lead_tick) {
		p->lead_tick = event_new(p->base, -1, EV_PERSIST, lead_tick_cb, p);
		if (!p->lead_tick || event_add(p->lead_tick, &one_s) < 0)
			return -1;
	}
	/* At once, so that a controller alone starts active without a second's wait. */
	if (p->state == PG_UP && !p->lead_asking)
		pg_job_wait(p, lead_job(p));
	return 0;
}

/* ---- notification claims ---- */

struct claim {
	store_claim_fn cb;
	void *arg;
};

static void claim_answer(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                         void *ctx)
{
	struct claim *c = ctx;

	/* No answer: send. A notification twice is better than one lost. */
	if (error)
		pg_set_err(p, "%s", err);
	c->cb(error || n != 1 || PQntuples(res[0]) == 1, c->arg);
	free(c);
}

static void pg_claim(void *db, const char *key, const char *controller, int64_t now_ms,
                     store_claim_fn cb, void *arg)
{
	struct pg *p = db;
	struct claim *c = calloc(1, sizeof(*c));
	struct pg_job *j = c ? pg_job_new("claiming a notification", claim_answer, c) : NULL;
	char b[24];
	const char *v[3] = {key, controller, pg_i64(b, now_ms)};

	if (!j) {
		free(c);
		cb(1, arg);
		return;
	}
	c->cb = cb;
	c->arg = arg;
	j->hold = 1;
	/*
	 * Granted when new; when its controller, another, never said how it
	 * ended (it died sending); or when it is this very claim asked again
	 * after the connection failed under it (same controller, same time).
	 */
	pg_job_add(j,
	           "INSERT INTO claims (key, controller, claimed_ms) VALUES ($1, $2, $3)"
	           " ON CONFLICT (key) DO UPDATE SET controller = excluded.controller,"
	           " claimed_ms = excluded.claimed_ms WHERE claims.done_ms IS NULL"
	           " AND (claims.controller <> excluded.controller"
	           " OR claims.claimed_ms = excluded.claimed_ms) RETURNING 1",
	           3, v);
	/* Not leading (its session was lost): asked once it leads again, or dropped. */
	if (p->lead_fn && !p->leading && !p->closing) {
		if (p->held_tail)
			p->held_tail->next = j;
		else
			p->held = j;
		p->held_tail = j;
		return;
	}
	pg_job_run(p, j);
}

static void claim_noted(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                        void *ctx)
{
	(void)res, (void)n, (void)ctx;
	if (error)
		pg_set_err(p, "%s", err);
}

static void pg_claim_done(void *db, const char *key, int ok, int64_t now_ms)
{
	struct pg *p = db;
	struct pg_job *j = pg_job_new("recording a notification's end", claim_noted, NULL);
	char b[24];
	const char *v[3] = {key, pg_i64(b, now_ms), ok ? "1" : "0"};

	if (!j)
		return;
	pg_job_add(j, "UPDATE claims SET done_ms = $2, ok = $3 WHERE key = $1", 3, v);
	pg_job_run(p, j);
}

/* ---- the name and partition caches ---- */

static size_t name_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static int name_known(const struct pg *p, const char *name)
{
	if (!p->ncap)
		return 0;
	for (size_t i = name_hash(name) & (p->ncap - 1);; i = (i + 1) & (p->ncap - 1)) {
		if (!p->names[i])
			return 0;
		if (strcmp(p->names[i], name) == 0)
			return 1;
	}
}

static void name_put(struct pg *p, const char *name)
{
	if (name_known(p, name))
		return;
	if ((p->nnames + 1) * 2 > p->ncap) {
		size_t cap = p->ncap ? p->ncap * 2 : 256;
		char **v = calloc(cap, sizeof(*v));

		if (!v)
			return; /* a cache: the name is upserted again next time */
		for (size_t i = 0; i < p->ncap; i++) {
			if (!p->names[i])
				continue;
			size_t k = name_hash(p->names[i]) & (cap - 1);

			while (v[k])
				k = (k + 1) & (cap - 1);
			v[k] = p->names[i];
		}
		free(p->names);
		p->names = v;
		p->ncap = cap;
	}
	size_t i = name_hash(name) & (p->ncap - 1);

	while (p->names[i])
		i = (i + 1) & (p->ncap - 1);
	if ((p->names[i] = strdup(name)))
		p->nnames++;
}

static int day_known(const struct pg *p, int64_t day)
{
	for (size_t i = 0; i < p->ndays; i++)
		if (p->days[i] == day)
			return 1;
	return 0;
}

static void day_put(struct pg *p, int64_t day)
{
	if (day_known(p, day))
		return;
	if (p->ndays == p->dcap) {
		size_t cap = p->dcap ? p->dcap * 2 : 16;
		int64_t *v = realloc(p->days, cap * sizeof(*v));

		if (!v)
			return;
		p->days = v;
		p->dcap = cap;
	}
	p->days[p->ndays++] = day;
}

static void day_forget(struct pg *p, int64_t day)
{
	for (size_t i = 0; i < p->ndays; i++)
		if (p->days[i] == day) {
			p->days[i] = p->days[--p->ndays];
			return;
		}
}

static int64_t day_of(int64_t ms)
{
	return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

/* ---- writes ---- */

/*
 * Merge rather than replace, as SQLite's store does: a late result for an
 * hour already folded adds to it. The merged p95 is the larger, an upper
 * bound; least() and greatest() leave NULLs out.
 */
#define SQL_ROLLUP_MERGE                                                                           \
	" ON CONFLICT (check_id, hour_ms, location) DO UPDATE SET"                                 \
	" count = rollups.count + excluded.count,"                                                 \
	" up_count = rollups.up_count + excluded.up_count,"                                        \
	" maint_count = rollups.maint_count + excluded.maint_count,"                               \
	" maint_up_count = rollups.maint_up_count + excluded.maint_up_count,"                      \
	" uptime_count = rollups.uptime_count + excluded.uptime_count,"                            \
	" uptime_up = rollups.uptime_up + excluded.uptime_up,"                                     \
	" uptime_maint = rollups.uptime_maint + excluded.uptime_maint,"                            \
	" min_ttg_us = least(rollups.min_ttg_us, excluded.min_ttg_us),"                            \
	" avg_ttg_us = CASE WHEN rollups.avg_ttg_us IS NULL THEN excluded.avg_ttg_us"              \
	" WHEN excluded.avg_ttg_us IS NULL THEN rollups.avg_ttg_us"                                \
	" ELSE (rollups.avg_ttg_us * rollups.count + excluded.avg_ttg_us * excluded.count)"        \
	" / (rollups.count + excluded.count) END,"                                                 \
	" p95_ttg_us = greatest(rollups.p95_ttg_us, excluded.p95_ttg_us),"                         \
	" max_ttg_us = greatest(rollups.max_ttg_us, excluded.max_ttg_us)"

#define SQL_ROLLUP_COLS                                                                            \
	"INSERT INTO rollups (check_id, hour_ms, location, count, up_count, min_ttg_us,"           \
	" avg_ttg_us, p95_ttg_us, max_ttg_us, maint_count, maint_up_count, uptime_count,"          \
	" uptime_up, uptime_maint)"

static const char sql_rollup_one[] =
    SQL_ROLLUP_COLS " VALUES ((SELECT id FROM checks WHERE name = $1), $2, $3, $4, $5, $6, $7,"
                    " $8, $9, $10, $11, $12, $13, $14)" SQL_ROLLUP_MERGE;

/* A removed check goes back to pending, as in SQLite's store (W_RETIRE_TRANSITION). */
static const char *const sql_retire[] = {
    "INSERT INTO transitions (check_id, ts_ms, from_status, to_status, to_severity, reason,"
    " message) SELECT c.id, $2, t.to_status, 3, 3, 'ok', $3 FROM checks c"
    " JOIN LATERAL (SELECT to_status FROM transitions WHERE check_id = c.id"
    " ORDER BY ts_ms DESC, id DESC LIMIT 1) t ON true WHERE c.name = $1 AND t.to_status <> 3",
    "UPDATE incidents SET end_ms = $2, duration_ms = greatest(0, $2 - start_ms),"
    " close_reason = $3 WHERE check_id = (SELECT id FROM checks WHERE name = $1)"
    " AND end_ms IS NULL",
    "UPDATE checks SET removed_ms = $2 WHERE name = $1",
};

/* Negative means "not measured" in struct result: NULL. */
static const char *us(char buf[24], int64_t v)
{
	return v >= 0 ? pg_i64(buf, v) : NULL;
}

static const char *counts_as(unsigned flags)
{
	if (flags & STORE_R_COUNT_UP)
		return "1";
	if (flags & STORE_R_COUNT_DOWN)
		return "0";
	if (flags & STORE_R_UNCOUNTED)
		return "-1";
	return NULL;
}

static int counts_as_enum(unsigned flags)
{
	if (flags & STORE_R_COUNT_UP)
		return STORE_COUNTS_UP;
	if (flags & STORE_R_COUNT_DOWN)
		return STORE_COUNTS_DOWN;
	if (flags & STORE_R_UNCOUNTED)
		return STORE_COUNTS_NOT;
	return STORE_COUNTS_BY_STATUS;
}

/* A result below raw_from_ms: its hour is folded already, so it joins the roll-up. */
static void add_late_result(struct pg_job *j, const struct store_row *r)
{
	struct rollup_fold f = {0};
	struct rollup_times t;
	char b[13][24];
	const char *v[14];
	int has_t;

	if (rollup_fold_add(&f, r->status, r->flags & STORE_R_MAINTENANCE ? 1 : 0,
	                    counts_as_enum(r->flags), r->ttg_us >= 0 ? r->ttg_us : -1) < 0) {
		j->nomem = 1;
		return;
	}
	rollup_fold_times(&f, &t);
	has_t = f.nttg > 0;
	v[0] = r->s[STORE_S_CHECK];
	v[1] = pg_i64(b[0], rollup_floor_hour(r->ts_ms));
	v[2] = r->s[STORE_S_LOCATION];
	v[3] = pg_i64(b[1], f.count);
	v[4] = pg_i64(b[2], f.up);
	v[5] = has_t ? pg_i64(b[3], t.min) : NULL;
	v[6] = has_t ? pg_i64(b[4], t.avg) : NULL;
	v[7] = has_t ? pg_i64(b[5], t.p95) : NULL;
	v[8] = has_t ? pg_i64(b[6], t.max) : NULL;
	v[9] = pg_i64(b[7], f.maint);
	v[10] = pg_i64(b[8], f.maint_up);
	v[11] = pg_i64(b[9], f.uptime_count);
	v[12] = pg_i64(b[10], f.uptime_up);
	v[13] = pg_i64(b[11], f.uptime_maint);
	rollup_fold_free(&f);
	pg_job_add(j, sql_rollup_one, 14, v);
}

static void add_result(struct pg_job *j, const struct store_row *r)
{
	char b[30][24];
	const char *v[30];

	v[0] = r->s[STORE_S_CHECK];
	v[1] = pg_i64(b[1], r->ts_ms);
	v[2] = r->s[STORE_S_LOCATION];
	v[3] = pg_i64(b[3], r->status);
	v[4] = result_reason_name(r->reason);
	v[5] = r->s[STORE_S_MESSAGE];
	v[6] = r->s[STORE_S_ADDRESS];
	v[7] = us(b[7], r->ttg_us);
	for (int i = 0; i < MP_PH__COUNT; i++)
		v[8 + i] = us(b[8 + i], r->phase_us[i]);
	v[17] = r->s[STORE_S_TLS_VERSION];
	v[18] = r->tls ? pg_i64(b[18], r->days_left) : NULL;
	v[19] = r->tls ? pg_i64(b[19], r->not_after) : NULL;
	v[20] = r->s[STORE_S_SUBJECT];
	v[21] = r->s[STORE_S_ISSUER];
	v[22] = r->s[STORE_S_SHA256];
	v[23] = us(b[23], r->messages);
	v[24] = pg_i64(b[24], r->severity);
	v[25] = r->s[STORE_S_WARNINGS];
	v[26] = r->flags & STORE_R_MAINTENANCE ? "1" : "0";
	v[27] = r->s[STORE_S_PATH];
	v[28] = r->tls ? pg_i64(b[28], r->first_not_after) : NULL;
	v[29] = counts_as(r->flags);
	job_add(j, sql_result, PG_RESULT_STMT, 0, 30, v);
}

static void add_row(struct pg *p, struct pg_job *j, const struct store_row *r)
{
	char b[4][24];
	const char *v[8];

	switch (r->kind) {
	case STORE_ROW_RESULT:
		if (r->ts_ms < p->raw_from)
			add_late_result(j, r);
		else
			add_result(j, r);
		return;
	case STORE_ROW_TRANSITION:
		v[0] = r->s[STORE_S_CHECK];
		v[1] = pg_i64(b[0], r->ts_ms);
		v[2] = pg_i64(b[1], r->from);
		v[3] = pg_i64(b[2], r->status);
		v[4] = result_reason_name(r->reason);
		v[5] = r->s[STORE_S_MESSAGE];
		v[6] = pg_i64(b[3], r->severity);
		pg_job_add(
		    j,
		    "INSERT INTO transitions (check_id, ts_ms, from_status, to_status, reason,"
		    " message, to_severity) VALUES ((SELECT id FROM checks WHERE name = $1),"
		    " $2, $3, $4, $5, $6, $7)",
		    7, v);
		return;
	case STORE_ROW_INCIDENT_OPEN:
		/* A second open while one is open keeps the first: its cause is the one that
		 * counts. */
		v[0] = r->s[STORE_S_CHECK];
		v[1] = pg_i64(b[0], r->ts_ms);
		v[2] = result_reason_name(r->reason);
		v[3] = r->s[STORE_S_MESSAGE];
		pg_job_add(j,
		           "INSERT INTO incidents (check_id, start_ms, reason, message)"
		           " SELECT c.id, $2, $3, $4 FROM checks c WHERE c.name = $1 AND NOT EXISTS"
		           " (SELECT 1 FROM incidents WHERE check_id = c.id AND end_ms IS NULL)",
		           4, v);
		return;
	case STORE_ROW_INCIDENT_CLOSE:
		v[0] = r->s[STORE_S_CHECK];
		v[1] = pg_i64(b[0], r->ts_ms);
		v[2] = r->s[STORE_S_MESSAGE];
		pg_job_add(
		    j,
		    "UPDATE incidents SET end_ms = $2, duration_ms = greatest(0, $2 - start_ms),"
		    " close_reason = $3 WHERE check_id = (SELECT id FROM checks WHERE name ="
		    " $1) AND end_ms IS NULL",
		    3, v);
		return;
	case STORE_ROW_CHECK_RETIRE:
		v[0] = r->s[STORE_S_CHECK];
		v[1] = pg_i64(b[0], r->ts_ms);
		v[2] = r->s[STORE_S_MESSAGE];
		for (size_t i = 0; i < sizeof(sql_retire) / sizeof(sql_retire[0]); i++)
			pg_job_add(j, sql_retire[i], i == 2 ? 2 : 3, v);
		return;
	case STORE_ROW_CHECK_PRESENT:
		v[0] = r->s[STORE_S_CHECK];
		pg_job_add(j,
		           "UPDATE checks SET removed_ms = NULL WHERE name = $1 AND removed_ms IS"
		           " NOT NULL",
		           1, v);
		return;
	case STORE_ROW_ALERT:
		/* In meta, as in SQLite's store: "KEY_MS REASON SUP_MS SUP_REASON". */
		v[0] = r->s[STORE_S_CHECK];
		v[1] = r->s[STORE_S_MESSAGE];
		pg_job_add(j,
		           "INSERT INTO meta (key, value) VALUES ('alert/' || $1, $2)"
		           " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		           2, v);
		return;
	case STORE_ROW_DELIVERY:
		v[0] = r->s[STORE_S_CHECK];
		v[1] = pg_i64(b[0], r->ts_ms);
		v[2] = r->s[STORE_S_CHANNEL];
		v[3] = r->s[STORE_S_EVENT];
		v[4] = pg_i64(b[1], r->attempt);
		v[5] = r->ok ? "1" : "0";
		v[6] = r->s[STORE_S_MESSAGE];
		pg_job_add(j,
		           "INSERT INTO deliveries (check_id, ts_ms, channel, event, attempt, ok,"
		           " detail) VALUES ((SELECT id FROM checks WHERE name = $1), $2, $3, $4,"
		           " $5, $6, $7)",
		           7, v);
		return;
	}
}

/* What a flush learned for the caches once it committed. */
struct flush_ctx {
	void (*done)(int rc, void *arg);
	void *arg;
	char **names; /* added by this flush */
	int nnames;
	int64_t *days;
	int ndays;
	int rc;
};

static void flush_ctx_free(struct flush_ctx *f)
{
	for (int i = 0; i < f->nnames; i++)
		free(f->names[i]);
	free(f->names);
	free(f->days);
	free(f);
}

static void flush_done(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                       void *ctx)
{
	struct flush_ctx *f = ctx;

	(void)res;
	(void)n;
	if (error) {
		pg_set_err(p, "%s", err ? err : "store: write failed");
		f->rc = -1;
	} else {
		for (int i = 0; i < f->nnames; i++)
			name_put(p, f->names[i]);
		for (int i = 0; i < f->ndays; i++)
			day_put(p, f->days[i]);
		f->rc = 0;
	}
	/* A flush from the loop is told and ends here; pg_flush() reads rc and frees f. */
	if (f->done) {
		f->done(f->rc, f->arg);
		flush_ctx_free(f);
	}
}

/* The job writing rows[0 .. n): new names and days first, then every row. */
static struct pg_job *flush_job(struct pg *p, struct store_row *const *rows, int n,
                                struct flush_ctx *f)
{
	struct pg_job *j = pg_job_new("writing", flush_done, f);
	char b[3][24], name[40];
	const char *v[3];

	if (!j)
		return NULL;
	f->names = calloc((size_t)n + 1, sizeof(*f->names));
	f->days = calloc((size_t)n + 1, sizeof(*f->days));
	if (!f->names || !f->days)
		j->nomem = 1;
	for (int i = 0; i < n && !j->nomem; i++) {
		const char *c = rows[i]->s[STORE_S_CHECK];
		int seen = 0;

		/* Retiring or restoring a check the store never saw creates nothing. */
		if (!c || rows[i]->kind == STORE_ROW_CHECK_RETIRE ||
		    rows[i]->kind == STORE_ROW_CHECK_PRESENT || rows[i]->kind == STORE_ROW_ALERT ||
		    name_known(p, c))
			continue;
		for (int k = 0; k < f->nnames && !seen; k++)
			seen = strcmp(f->names[k], c) == 0;
		if (seen)
			continue;
		if (!(f->names[f->nnames] = strdup(c))) {
			j->nomem = 1;
			break;
		}
		f->nnames++;
		v[0] = c;
		pg_job_add(j, "INSERT INTO checks (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
		           1, v);
	}
	for (int i = 0; i < n && !j->nomem; i++) {
		int64_t day = day_of(rows[i]->ts_ms);
		int seen = 0;

		if (rows[i]->kind != STORE_ROW_RESULT || rows[i]->ts_ms < p->raw_from ||
		    day_known(p, day))
			continue;
		for (int k = 0; k < f->ndays && !seen; k++)
			seen = f->days[k] == day;
		if (seen)
			continue;
		if (f->ndays == 0) {
			/* Two controllers making the same day wait for each other. */
			v[0] = pg_i64(b[0], PG_PART_LOCK);
			pg_job_add(j, "SELECT pg_advisory_xact_lock($1)", 1, v);
		}
		f->days[f->ndays++] = day;
		snprintf(name, sizeof(name), "results_d%lld", (long long)day);
		v[0] = name;
		v[1] = pg_i64(b[1], day * DAY_MS);
		v[2] = pg_i64(b[2], (day + 1) * DAY_MS);
		/* A statement, not a parameter, takes the bounds: made here from numbers. */
		char sql[256];

		snprintf(sql, sizeof(sql),
		         "CREATE TABLE IF NOT EXISTS \"%s\" PARTITION OF results FOR VALUES FROM"
		         " (%s) TO (%s)",
		         name, v[1], v[2]);
		pg_job_add(j, sql, 0, NULL);
	}
	for (int i = 0; i < n && !j->nomem; i++)
		add_row(p, j, rows[i]);
	return j;
}

int pg_write_rows(struct pg *p, struct store_row *const *rows, int n, const char *sql, int nparams,
                  const char *const *params)
{
	struct flush_ctx *f = calloc(1, sizeof(*f));
	struct pg_job *j = f ? flush_job(p, rows, n, f) : NULL;
	int rc;

	if (!j) {
		free(f);
		pg_set_err(p, "store %s: writing: out of memory", p->shown);
		return -1;
	}
	f->rc = -1;
	if (sql)
		pg_job_add(j, sql, nparams, params);
	pg_job_wait(p, j);
	rc = f->rc;
	flush_ctx_free(f);
	return rc;
}

static int pg_flush(void *db, struct store_row *const *rows, int n)
{
	struct pg *p = db;
	struct flush_ctx *f;
	struct pg_job *j;
	int rc;

	if (p->readonly) {
		pg_set_err(p, "store %s: opened read-only", p->shown);
		errno = EROFS;
		return -1;
	}
	f = calloc(1, sizeof(*f));
	j = f ? flush_job(p, rows, n, f) : NULL;
	if (!j) {
		free(f);
		pg_set_err(p, "store %s: writing: out of memory", p->shown);
		return -1;
	}
	f->rc = -1;
	pg_job_wait(p, j);
	rc = f->rc;
	flush_ctx_free(f);
	return rc;
}

/*
 * rows[0 .. n) written from the loop; done(0 or -1, arg) once they are
 * (errmsg() then says why), maybe before this returns. The rows must stay
 * until then: store.c holds them apart from its queue.
 */
static void pg_flush_start(void *db, struct store_row *const *rows, int n,
                           void (*done)(int rc, void *arg), void *arg)
{
	struct pg *p = db;
	struct flush_ctx *f;
	struct pg_job *j;

	if (p->readonly) {
		pg_set_err(p, "store %s: opened read-only", p->shown);
		done(-1, arg);
		return;
	}
	f = calloc(1, sizeof(*f));
	j = f ? flush_job(p, rows, n, f) : NULL;
	if (!j) {
		free(f);
		pg_set_err(p, "store %s: writing: out of memory", p->shown);
		done(-1, arg);
		return;
	}
	f->done = done;
	f->arg = arg;
	pg_job_run(p, j);
}

/* ---- retention ---- */

/*
 * One run: steps of at most PG_FOLD_HOURS folded, each its own
 * transaction, so that writes and reads go on between them. A step reads
 * where raw results begin and which days have partitions, then folds,
 * moves raw_from_ms, drops the days wholly below it and expires old
 * claims (store_claim()) with the
 * roll-ups and notification attempts.
 */
struct ret {
	int64_t raw_cut, roll_cut;
	int64_t start, end; /* the hours this step folds */
	int64_t *drop;      /* days this step drops */
	int ndrop;
	int steps;
	int64_t folded;
	int more; /* stopped by the budget with work left */
	int failed;
	int blocking; /* no loop: the run ends before pg_retention() returns */
};

static void ret_step(struct pg *p, struct ret *r);

static void ret_end(struct pg *p, struct ret *r)
{
	p->ret_running = 0;
	p->ret_last = r->failed ? -1 : r->folded > INT32_MAX ? INT32_MAX : (int)r->folded;
	if (!r->failed && r->more && p->ret_last == 0)
		p->ret_last = 1; /* call again: empty hours were passed, more are left */
	free(r->drop);
	if (!r->blocking)
		free(r);
}

static const char sql_fold[] =
    "WITH src AS (SELECT check_id, ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000 AS hour_ms,"
    " location, status, maintenance, ttg_us,"
    " CASE WHEN counts_as IS NULL THEN CASE WHEN status IN (0, 1) THEN 1 ELSE 0 END"
    " WHEN counts_as = 1 THEN 1 WHEN counts_as = 0 THEN 0 ELSE -1 END AS u"
    " FROM results WHERE ts_ms >= $1 AND ts_ms < $2),"
    " agg AS (SELECT check_id, hour_ms, location, count(*) AS n,"
    " count(*) FILTER (WHERE status IN (0, 1)) AS up, min(ttg_us) AS mn,"
    " floor((sum(ttg_us) + count(ttg_us) / 2) / nullif(count(ttg_us), 0))::bigint AS av,"
    " percentile_disc(0.95) WITHIN GROUP (ORDER BY ttg_us) AS p95, max(ttg_us) AS mx,"
    " count(*) FILTER (WHERE maintenance <> 0) AS mc,"
    " count(*) FILTER (WHERE maintenance <> 0 AND status IN (0, 1)) AS mu,"
    " count(*) FILTER (WHERE u >= 0 AND maintenance = 0) AS uc,"
    " coalesce(sum(u) FILTER (WHERE u >= 0 AND maintenance = 0), 0) AS uu,"
    " count(*) FILTER (WHERE u >= 0 AND maintenance <> 0) AS um"
    " FROM src GROUP BY check_id, hour_ms, location),"
    " ins AS (" SQL_ROLLUP_COLS " SELECT check_id, hour_ms, location, n, up, mn, av, p95, mx,"
    " mc, mu, uc, uu, um FROM agg" SQL_ROLLUP_MERGE " RETURNING 1)"
    " SELECT coalesce(sum(n), 0), (SELECT count(*) FROM ins) FROM agg";

static void ret_folded(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                       void *ctx)
{
	struct ret *r = ctx;

	if (error) {
		pg_set_err(p, "%s", err);
		r->failed = 1;
		ret_end(p, r);
		return;
	}
	/* The fold's answer is the first result with rows, when it folded. */
	for (int i = 0; i < n; i++)
		if (PQntuples(res[i]) == 1 && PQnfields(res[i]) == 2) {
			r->folded += pg_col_i64(res[i], 0, 0);
			break;
		}
	if (r->end > p->raw_from)
		p->raw_from = r->end;
	for (int i = 0; i < r->ndrop; i++)
		day_forget(p, r->drop[i]);
	r->ndrop = 0;
	if (r->end > r->start && ++r->steps < PG_FOLD_STEPS) {
		ret_step(p, r);
		return;
	}
	r->more = r->end > r->start;
	ret_end(p, r);
}

static int cmp_day(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void ret_read(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                     void *ctx)
{
	struct ret *r = ctx;
	int64_t raw_from = 0, first = INT64_MAX, *days = NULL;
	char b[6][24], name[40], sql[96];
	const char *v[2];
	int nd = 0;
	struct pg_job *j;

	if (error || n != 2) {
		pg_set_err(p, "%s", err ? err : "store: retention: unexpected answer");
		r->failed = 1;
		ret_end(p, r);
		return;
	}
	if (PQntuples(res[0]) == 1 && !PQgetisnull(res[0], 0, 0))
		raw_from = pg_col_i64(res[0], 0, 0);
	p->raw_from = raw_from;
	days = calloc((size_t)PQntuples(res[1]) + 1, sizeof(*days));
	if (!days) {
		pg_set_err(p, "store %s: retention: out of memory", p->shown);
		r->failed = 1;
		ret_end(p, r);
		return;
	}
	for (int i = 0; i < PQntuples(res[1]); i++) {
		long long d;

		if (sscanf(PQgetvalue(res[1], i, 0), "results_d%lld", &d) == 1)
			days[nd++] = d;
	}
	qsort(days, (size_t)nd, sizeof(*days), cmp_day);
	for (int i = 0; i < nd; i++)
		if ((days[i] + 1) * DAY_MS > raw_from) {
			first = days[i];
			break;
		}
	/* Empty days have no partition: the fold starts at the first day that holds rows. */
	r->start = first == INT64_MAX          ? raw_from
	           : raw_from > first * DAY_MS ? raw_from
	                                       : first * DAY_MS;
	r->end = r->start;
	if (first != INT64_MAX && r->start < r->raw_cut)
		r->end = r->start + PG_FOLD_HOURS * ROLLUP_HOUR_MS < r->raw_cut
		             ? r->start + PG_FOLD_HOURS * ROLLUP_HOUR_MS
		             : r->raw_cut;
	j = pg_job_new("retention", ret_folded, r);
	if (!j) {
		free(days);
		pg_set_err(p, "store %s: retention: out of memory", p->shown);
		r->failed = 1;
		ret_end(p, r);
		return;
	}
	if (r->end > r->start) {
		v[0] = pg_i64(b[0], r->start);
		v[1] = pg_i64(b[1], r->end);
		/* Hours past roll-up retention would be deleted at once: not folded. */
		if (r->end > r->roll_cut)
			pg_job_add(j, sql_fold, 2, v);
		v[0] = pg_i64(b[2], r->end);
		pg_job_add(j, "UPDATE meta SET value = $1 WHERE key = 'raw_from_ms'", 1, v);
	}
	free(r->drop);
	r->drop = calloc((size_t)nd + 1, sizeof(*r->drop));
	r->ndrop = 0;
	if (!r->drop)
		j->nomem = 1;
	for (int i = 0; i < nd && r->drop; i++) {
		if ((days[i] + 1) * DAY_MS > (r->end > raw_from ? r->end : raw_from))
			break;
		snprintf(name, sizeof(name), "results_d%lld", (long long)days[i]);
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s\"", name);
		pg_job_add(j, sql, 0, NULL);
		r->drop[r->ndrop++] = days[i];
	}
	free(days);
	/* Deliveries are an operations log: they go with the roll-ups, not the raw rows. */
	v[0] = pg_i64(b[3], r->roll_cut);
	pg_job_add(j, "DELETE FROM rollups WHERE hour_ms < $1", 1, v);
	pg_job_add(j, "DELETE FROM deliveries WHERE ts_ms < $1", 1, v);
	/* Claims of notifications long ended: their incidents' roll-ups are gone too. */
	pg_job_add(j, "DELETE FROM claims WHERE claimed_ms < $1 AND done_ms IS NOT NULL", 1, v);
	pg_job_run(p, j);
}

static void ret_step(struct pg *p, struct ret *r)
{
	struct pg_job *j = pg_job_new("retention", ret_read, r);

	if (!j) {
		pg_set_err(p, "store %s: retention: out of memory", p->shown);
		r->failed = 1;
		ret_end(p, r);
		return;
	}
	pg_job_add(j, "SELECT value::bigint FROM meta WHERE key = 'raw_from_ms'", 0, NULL);
	pg_job_add(j,
	           "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
	           " WHERE i.inhparent = 'results'::regclass",
	           0, NULL);
	pg_job_run(p, j);
}

/*
 * Without a loop, the run ends before this returns and its rows folded are
 * returned; on the loop it runs on, and this returns what the last run
 * folded (-1 when it failed), so the caller's "again while positive" holds.
 */
static int pg_retention(void *db, int64_t now_ms, unsigned raw_days, unsigned rollup_days)
{
	struct pg *p = db;
	struct ret rb = {0}, *r;

	if (p->readonly) {
		pg_set_err(p, "store %s: opened read-only", p->shown);
		errno = EROFS;
		return -1;
	}
	if (p->ret_running)
		return p->ret_last < 0 ? 0 : p->ret_last;
	r = p->base ? calloc(1, sizeof(*r)) : &rb;
	if (!r) {
		pg_set_err(p, "store %s: retention: out of memory", p->shown);
		return -1;
	}
	r->blocking = !p->base;
	r->raw_cut = rollup_floor_hour(now_ms - (int64_t)raw_days * DAY_MS);
	r->roll_cut = rollup_floor_hour(now_ms - (int64_t)rollup_days * DAY_MS);
	p->ret_running = 1;
	if (p->base) {
		int last = p->ret_last;

		ret_step(p, r);
		return last;
	}
	ret_step(p, r);
	return p->ret_last;
}

/* ---- open, close, and the rest ---- */

static void pg_free(struct pg *p)
{
	struct pg_job *j;

	p->closing = 1;
	p->lead_fn = NULL; /* the owner is going: no word of the lead to it */
	while ((j = p->held)) {
		p->held = j->next;
		job_fail(p, j, ECANCELED, "store: closing");
	}
	p->held_tail = NULL;
	while ((j = p->head)) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		job_fail(p, j, ECANCELED, "store: closing");
	}
	if (p->lead_tick)
		event_free(p->lead_tick);
	if (p->io)
		event_free(p->io);
	if (p->retry)
		event_free(p->retry);
	if (p->tmo)
		event_free(p->tmo);
	cancel_set(p, NULL);
	PQfinish(p->c);
	for (size_t i = 0; i < p->ncap; i++)
		free(p->names[i]);
	free(p->names);
	free(p->days);
	free(p->uri);
	free(p->pwfile);
	pthread_mutex_destroy(&p->cmu);
	free(p);
}

static int pg_open_be(void **db, const char *where, const char *secret_file, int readonly,
                      char *err, size_t errlen)
{
	struct pg *p = calloc(1, sizeof(*p));

	*db = NULL;
	if (!p || !(p->uri = strdup(where)) ||
	    (secret_file && !(p->pwfile = strdup(secret_file)))) {
		if (p) {
			free(p->uri);
			free(p);
		}
		store_set_err(err, errlen, "store: out of memory");
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_init(&p->cmu, NULL);
	p->readonly = readonly;
	pg_shown(where, p->shown, sizeof(p->shown));
	p->c = pg_open(where, secret_file, readonly, err, errlen);
	if (!p->c) {
		pg_free(p);
		errno = EIO;
		return -1;
	}
	cancel_set(p, PQgetCancel(p->c));
	*db = p;
	return 0;
}

static void pg_close(void *db)
{
	if (db)
		pg_free(db);
}

/* There is no file: a lost connection is the loop's to mend, and says so in errors. */
static enum store_file pg_file_check(void *db)
{
	(void)db;
	return STORE_FILE_OK;
}

static int pg_reopen(void *db, char *err, size_t errlen)
{
	(void)db;
	(void)err;
	(void)errlen;
	return 0;
}

static void pg_interrupt(void *db)
{
	struct pg *p = db;
	char buf[256];

	pthread_mutex_lock(&p->cmu);
	if (p->cancel && !PQcancel(p->cancel, buf, sizeof(buf))) {
		/* Too late or unreachable: the query ends by itself. */
	}
	pthread_mutex_unlock(&p->cmu);
}

static const char *pg_errmsg(const void *db)
{
	const struct pg *p = db;

	return p->err[0] ? p->err : p->down_why;
}

const char *pg_errmsg_of(const struct pg *p)
{
	return pg_errmsg(p);
}

const struct store_backend store_pg = {
    .name = "postgresql",
    .open = pg_open_be,
    .close = pg_close,
    .flush = pg_flush,
    .flush_start = pg_flush_start,
    .attach = pg_attach,
    .lead = pg_lead,
    .claim = pg_claim,
    .claim_done = pg_claim_done,
    .retention = pg_retention,
    .load_states = pg_load_states,
    .each_check = pg_each_check,
    .file_check = pg_file_check,
    .reopen = pg_reopen,
    .interrupt = pg_interrupt,
    .errmsg = pg_errmsg,
    .history = pg_history,
    .uptime = pg_uptime,
    .counts = pg_counts,
    .series = pg_series,
    .incidents = pg_incidents,
    .deliveries = pg_deliveries,
    .status = pg_status,
};
