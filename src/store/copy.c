/* SPDX-License-Identifier: ISC */
/*
 * copy.c - `mailpulse store copy` (copy.h): an SQLite store read with
 * sqlite3 directly, written through the PostgreSQL backend's own writes
 * (pg_int.h), so that a copied row is the row the daemon would have
 * written: day partitions, check names, the order of transitions and
 * deliveries.
 *
 * Results, transitions and deliveries become struct store_row, as
 * store_add_*() make them, and go through pg_write_rows() with the
 * chunk's progress in the same transaction. Checks, incidents and
 * roll-ups are written by statements of this file: incidents keep their
 * ids (the JSON shows them) and everything they hold as stored, roll-ups
 * every column, which no struct store_row carries.
 *
 * Resuming relies on rowids: rows are copied in rowid order and a chunk
 * records the last one, so rows the source gains later (a daemon still
 * writing it) are taken by the next run. What the source changes in place
 * is brought up to date each run instead (incidents closed since, open
 * alerts, removed marks). A source whose retention folded results that
 * were copied already is refused: its roll-ups would count them twice.
 */
#include "store/copy.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "core/line.h"
#include "store/pg_int.h"

/* pg_advisory_lock key of a copy running: "mp-copy!" in ASCII. */
#define COPY_LOCK 0x6d702d636f707921LL
/* How long a lock is asked for again: a copy just killed frees it once its server sees. */
#define COPY_LOCK_WAIT_MS 5000
#define BAR_WIDTH         30

static const char *const part_names[STORE_COPY__COUNT] = {
    [STORE_COPY_CHECKS] = "checks",
    [STORE_COPY_RESULTS] = "results",
    [STORE_COPY_TRANSITIONS] = "transitions",
    [STORE_COPY_INCIDENTS] = "incidents",
    [STORE_COPY_DELIVERIES] = "deliveries",
    [STORE_COPY_ROLLUPS] = "roll-ups",
    [STORE_COPY_CLOSED] = "incidents closed since",
    [STORE_COPY_ALERTS] = "open alerts",
    [STORE_COPY_REMOVED] = "removed marks",
};

const char *store_copy_part_name(enum store_copy_part part)
{
	return part >= 0 && part < STORE_COPY__COUNT ? part_names[part] : "?";
}

/* One copy: created and freed by store_copy(). */
struct cp {
	const struct store_copy_opts *o;
	struct store_copy_stats *st;
	const char *path; /* the source file */
	char real[PATH_MAX];
	sqlite3 *db;
	struct event_base *base;
	void *pdb; /* the backend's db, a struct pg */
	struct pg *p;
	int chunk;
	int64_t last[STORE_COPY__COUNT]; /* the last rowid copied, per table */
	/* strings of the row being read that had to be escaped (not UTF-8): a row has 10 */
	char *tmp[16];
	int ntmp;
	char *err;
	size_t errlen;
};

static void fail(struct cp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct cp *c, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	store_set_err(c->err, c->errlen, "store copy: %s", msg);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *sqlite_why(sqlite3 *db)
{
	static char buf[256];
	int rc = sqlite3_extended_errcode(db);
	const char *name = store_sqlite_rc_name(rc);

	if (name)
		snprintf(buf, sizeof(buf), "%s (%s)", sqlite3_errmsg(db), name);
	else
		snprintf(buf, sizeof(buf), "%s (SQLite code %d)", sqlite3_errmsg(db), rc);
	return buf;
}

/* ---- text ---- */

/*
 * Whether s is UTF-8 as PostgreSQL takes it (and jansson): no overlong
 * form, no surrogate, nothing past U+10FFFF.
 */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], cp, min;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* A copy of s kept until the row is built (tmp_free()); NULL when out of memory. */
static char *tmp_keep(struct cp *c, char *s)
{
	if (!s || c->ntmp == (int)(sizeof(c->tmp) / sizeof(c->tmp[0]))) {
		free(s);
		return NULL;
	}
	c->tmp[c->ntmp++] = s;
	return s;
}

static void tmp_free(struct cp *c)
{
	while (c->ntmp > 0)
		free(c->tmp[--c->ntmp]);
}

/* s[0 .. n) as line_escape() writes it, in a new string. */
static char *escaped(const char *s, size_t n)
{
	char *e = malloc(4 * n + 4);

	if (e)
		line_escape(e, 4 * n + 4, s, n);
	return e;
}

/*
 * Column i as text, valid until the next step or tmp_free(); NULL when
 * NULL. SQLite keeps any bytes; PostgreSQL takes UTF-8 only. Text that is
 * not is stored as line_escape() writes it, which is what the JSON of
 * either store shows for it (output_json_str()) and what the tables show.
 * Sets *bad when out of memory.
 */
static const char *col_text(struct cp *c, sqlite3_stmt *st, int i, int *bad)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	if (utf8_ok((const unsigned char *)s, n))
		return s;
	if (!(s = tmp_keep(c, escaped(s, n))))
		*bad = 1;
	return s;
}

/*
 * The warnings column, one per line: a line that is not UTF-8 escaped on
 * its own, so that the lines stay lines.
 */
static const char *col_lines(struct cp *c, sqlite3_stmt *st, int i, int *bad)
{
	const char *s = (const char *)sqlite3_column_text(st, i), *p;
	size_t n, cap;
	char *out, *o;

	if (!s)
		return NULL;
	n = strlen(s);
	if (utf8_ok((const unsigned char *)s, n))
		return s;
	cap = 4 * n + 4;
	if (!(out = tmp_keep(c, malloc(cap)))) {
		*bad = 1;
		return NULL;
	}
	o = out;
	for (p = s;;) {
		size_t k = strcspn(p, "\n");

		if (utf8_ok((const unsigned char *)p, k)) {
			memcpy(o, p, k);
			o += k;
		} else {
			o += line_escape(o, cap - (size_t)(o - out), p, k);
		}
		if (!p[k])
			break;
		*o++ = '\n';
		p += k + 1;
	}
	*o = '\0';
	return out;
}

static int64_t col_i64(sqlite3_stmt *st, int i, int64_t none)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? none : sqlite3_column_int64(st, i);
}

/* ---- PostgreSQL ---- */

/* What a job answers, read by fn while its results live. */
typedef void (*answer_fn)(const PGresult *const *res, int n, void *arg);

struct ask {
	answer_fn fn;
	void *arg;
	int error;
	char err[1024];
};

static void asked(struct pg *p, PGresult *const *res, int n, int error, const char *err, void *ctx)
{
	struct ask *a = ctx;

	(void)p;
	a->error = error;
	if (error)
		snprintf(a->err, sizeof(a->err), "%s", err ? err : "failed");
	else if (a->fn)
		a->fn((const PGresult *const *)res, n, a->arg);
}

/* j (made with asked and a) run and waited for: 0, or -1 with the server's word. */
static int job_wait(struct cp *c, struct pg_job *j, struct ask *a)
{
	if (!j) {
		fail(c, "%s: out of memory", pg_name(c->p));
		return -1;
	}
	pg_job_wait(c->p, j);
	if (a->error) {
		fail(c, "%s", a->err);
		return -1;
	}
	return 0;
}

/* RETURNING 1 of each statement: how many rows they touched. */
static void count_rows(const PGresult *const *res, int n, void *arg)
{
	int64_t *k = arg;

	for (int i = 0; i < n; i++)
		if (PQnfields(res[i]) == 1)
			*k += PQntuples(res[i]);
}

static const char sql_progress[] = "INSERT INTO meta (key, value) VALUES ($1, $2)"
                                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/* The meta key of a table's progress. */
static void progress_key(const struct cp *c, enum store_copy_part part, char *buf, size_t len)
{
	snprintf(buf, len, "copy/%s/%s", c->real, part_names[part]);
}

/* ---- progress for people ---- */

static void draw(struct cp *c, enum store_copy_part part, int64_t done, int64_t total, int end)
{
	FILE *f = c->o->progress;
	char bar[BAR_WIDTH + 1];
	int pct, fill;

	if (!f || (!c->o->tty && !end))
		return;
	if (!c->o->tty) {
		if (done == 0 && c->st->before[part] > 0)
			fprintf(f, "%s: nothing new (%lld copied before)\n", part_names[part],
			        (long long)c->st->before[part]);
		else if (c->st->before[part] > 0)
			fprintf(f, "%s: %lld copied (%lld before)\n", part_names[part],
			        (long long)done, (long long)c->st->before[part]);
		else
			fprintf(f, "%s: %lld copied\n", part_names[part], (long long)done);
		fflush(f);
		return;
	}
	pct = total > 0 ? (int)(done * 100 / total) : 100;
	fill = total > 0 ? (int)(done * BAR_WIDTH / total) : BAR_WIDTH;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
	bar[BAR_WIDTH] = '\0';
	fprintf(f, "\r%-22s [%s] %lld/%lld %3d%%", part_names[part], bar, (long long)done,
	        (long long)total, pct);
	if (end)
		fputc('\n', f);
	fflush(f);
}

/* ---- the source ---- */

/* One integer of a query on the source; -1 with err (what: for the message). */
static int src_int(struct cp *c, const char *sql, int64_t a, int64_t b, int64_t *v,
                   const char *what)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fail(c, "%s: %s: %s", c->path, what, sqlite_why(c->db));
		return -1;
	}
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? col_i64(st, 0, 0) : 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail(c, "%s: %s: %s", c->path, what, sqlite_why(c->db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Open the source read-only and read its schema version: -1 with err for
 * a file that is no mailpulse store, else the version (0: none).
 */
static int src_version(struct cp *c)
{
	int64_t n, v;
	sqlite3_stmt *st;
	int rc, has;

	sqlite3_close_v2(c->db);
	c->db = NULL;
	if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fail(c, "%s: %s", c->path, c->db ? sqlite_why(c->db) : "out of memory");
		return -1;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, 5000);
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT count(*), count(*) FILTER (WHERE type = 'table' AND"
	                       " name = 'meta') FROM sqlite_master",
	                       -1, &st, NULL) != SQLITE_OK) {
		fail(c, "%s is not a mailpulse store: %s", c->path, sqlite_why(c->db));
		return -1;
	}
	rc = sqlite3_step(st);
	n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	has = rc == SQLITE_ROW && sqlite3_column_int64(st, 1) > 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		fail(c, "%s is not a mailpulse store: %s", c->path, sqlite_why(c->db));
		return -1;
	}
	if (n == 0) {
		fail(c, "%s is empty, not a mailpulse store", c->path);
		return -1;
	}
	if (!has) {
		fail(c, "%s is an SQLite database but not a mailpulse store (no meta table)",
		     c->path);
		return -1;
	}
	if (src_int(c, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'", 0, 0,
	            &v, "reading its schema version") < 0)
		return -1;
	if (v < 1 || v > 1000000) {
		fail(c, "%s is not a mailpulse store (its meta table has no schema version)",
		     c->path);
		return -1;
	}
	return (int)v;
}

static int src_open(struct cp *c)
{
	int cur = store_schema_version(), v;
	struct stat sb;

	if (stat(c->path, &sb) < 0) {
		fail(c, "%s: %s", c->path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		fail(c, "%s is not a file, so not a mailpulse store", c->path);
		return -1;
	}
	if (!realpath(c->path, c->real)) {
		fail(c, "%s: %s", c->path, strerror(errno));
		return -1;
	}
	if ((v = src_version(c)) < 0)
		return -1;
	if (v > cur) {
		fail(c,
		     "%s has schema version %d, newer than this build's %d: copy it with the "
		     "mailpulse that wrote it",
		     c->path, v, cur);
		return -1;
	}
	if (v < cur) {
		/* Brought up to date as the daemon would, once: the copy reads one schema. */
		struct store *s;
		char err[512];
		int e;

		sqlite3_close_v2(c->db);
		c->db = NULL;
		if (store_open(&s, c->o->from, err, sizeof(err)) < 0) {
			e = errno;
			if (e == EBUSY)
				fail(c,
				     "%s; its schema (version %d) must be brought up to date "
				     "before it is copied: stop the daemon, then copy",
				     err, v);
			else
				fail(c, "%s", err);
			errno = e;
			return -1;
		}
		store_close(s);
		if ((v = src_version(c)) < 0)
			return -1;
		if (v != cur) {
			fail(c, "%s: schema version %d after migrating, not %d", c->path, v, cur);
			return -1;
		}
	}
	return 0;
}

/* ---- the destination ---- */

static int dst_open(struct cp *c)
{
	char err[1024];

	if (store_pg.open(&c->pdb, c->o->to, c->o->password_file, 0, err, sizeof(err)) < 0) {
		fail(c, "%s", err);
		return -1;
	}
	c->p = c->pdb;
	snprintf(c->st->to, sizeof(c->st->to), "%s", pg_name(c->p));
	/* On a loop, a job's statements go out together: one round trip per chunk. */
	c->base = event_base_new();
	if (!c->base || store_pg.attach(c->pdb, c->base) < 0) {
		fail(c, "%s: out of memory", pg_name(c->p));
		return -1;
	}
	return 0;
}

static void locks_read(const PGresult *const *res, int n, void *arg)
{
	int *held = arg;

	if (n == 2 && PQntuples(res[1]) == 1) {
		held[0] = strcmp(PQgetvalue(res[1], 0, 0), "t") == 0;
		held[1] = strcmp(PQgetvalue(res[1], 0, 1), "t") == 0;
	}
}

/*
 * The copy's lock and the active controller's, in this session until it
 * ends: one copy at a time, and no controller writing beside it. A lock
 * held by a process just killed is freed once its server notices: asked
 * again for a few seconds.
 */
static int dst_lock(struct cp *c)
{
	int64_t until = mono_ms() + COPY_LOCK_WAIT_MS;
	int held[2] = {0, 0};

	for (;;) {
		struct ask a = {locks_read, held, 0, ""};
		struct pg_job *j = pg_job_new("locking the store for the copy", asked, &a);
		char b[2][24];
		const char *v[2];
		struct timespec quarter = {0, 250 * 1000 * 1000};

		if (j) {
			v[0] = held[0] ? NULL : pg_i64(b[0], COPY_LOCK);
			v[1] = held[1] ? NULL : pg_i64(b[1], PG_LEAD_LOCK);
			/*
			 * The server's notices ("relation ... already exists, skipping"
			 * of a partition made before) would reach the terminal through
			 * libpq: the session keeps warnings and errors only.
			 */
			pg_job_add(j, "SET client_min_messages = warning", 0, NULL);
			/* A lock held already is not asked again: it would be held twice. */
			pg_job_add(j,
			           "SELECT coalesce(pg_try_advisory_lock($1::bigint), true),"
			           " coalesce(pg_try_advisory_lock($2::bigint), true)",
			           2, v);
		}
		if (job_wait(c, j, &a) < 0)
			return -1;
		if ((held[0] && held[1]) || mono_ms() >= until)
			break;
		nanosleep(&quarter, NULL);
	}
	if (!held[0]) {
		fail(c, "%s: another store copy into it is running", pg_name(c->p));
		return -1;
	}
	if (!held[1]) {
		fail(c,
		     "%s: a controller (mailpulse run) is active on this store; stop it before "
		     "copying into it, or it writes beside the copy",
		     pg_name(c->p));
		return -1;
	}
	return 0;
}

/* What the destination holds, read before anything is written. */
struct dst_state {
	int ours;        /* progress keys of this source */
	char other[512]; /* a source copied before, not this one */
	int64_t checks;
	char first[72]; /* one of its checks */
	int data;       /* a row in a table of history */
	int64_t raw_from;
};

static void state_read(const PGresult *const *res, int n, void *arg)
{
	struct cp *c = ((void **)arg)[0];
	struct dst_state *d = ((void **)arg)[1];
	char mine[PATH_MAX + 8];
	size_t ml;

	if (n != 2)
		return;
	ml = (size_t)snprintf(mine, sizeof(mine), "copy/%s/", c->real);
	for (int i = 0; i < PQntuples(res[0]); i++) {
		const char *k = PQgetvalue(res[0], i, 0), *v = PQgetvalue(res[0], i, 1);
		long long last = 0, rows = 0;

		if (strncmp(k, mine, ml) != 0 || strchr(k + ml, '/')) {
			/* "copy/PATH/TABLE": PATH is the rest but its last part. */
			const char *slash = strrchr(k, '/');

			if (!d->other[0] && slash && slash > k + 5)
				snprintf(d->other, sizeof(d->other), "%.*s", (int)(slash - (k + 5)),
				         k + 5);
			continue;
		}
		for (int p = 0; p < STORE_COPY__COUNT; p++)
			if (strcmp(k + ml, part_names[p]) == 0 &&
			    sscanf(v, "%lld %lld", &last, &rows) == 2) {
				c->last[p] = last;
				c->st->before[p] = rows;
				d->ours = 1;
			}
	}
	if (PQntuples(res[1]) == 1) {
		d->checks = pg_col_i64(res[1], 0, 0);
		snprintf(d->first, sizeof(d->first), "%s",
		         pg_col_text(res[1], 0, 1) ? pg_col_text(res[1], 0, 1) : "");
		for (int i = 2; i < 7; i++)
			d->data |= strcmp(PQgetvalue(res[1], 0, i), "t") == 0;
		d->raw_from = pg_col_i64(res[1], 0, 7);
	}
}

/*
 * Whether this copy may write here: a new store, or one that holds this
 * very copy (to continue it). Anything else would be two histories in one,
 * with incident ids and states that collide: refused, said how.
 */
static int dst_check(struct cp *c)
{
	struct dst_state d = {0};
	void *both[2] = {c, &d};
	struct ask a = {state_read, both, 0, ""};
	struct pg_job *j = pg_job_new("reading what the store holds", asked, &a);

	if (j) {
		pg_job_add(j, "SELECT key, value FROM meta WHERE key LIKE 'copy/%' ORDER BY key", 0,
		           NULL);
		pg_job_add(j,
		           "SELECT (SELECT count(*) FROM checks),"
		           " (SELECT name FROM checks ORDER BY id LIMIT 1),"
		           " EXISTS (SELECT 1 FROM results), EXISTS (SELECT 1 FROM transitions),"
		           " EXISTS (SELECT 1 FROM incidents), EXISTS (SELECT 1 FROM deliveries),"
		           " EXISTS (SELECT 1 FROM rollups),"
		           " (SELECT value::bigint FROM meta WHERE key = 'raw_from_ms')",
		           0, NULL);
	}
	if (job_wait(c, j, &a) < 0)
		return -1;
	if (!d.ours && d.other[0]) {
		fail(c,
		     "%s holds a copy of %s, not of %s: store copy fills an empty store, or "
		     "continues its own copy",
		     pg_name(c->p), d.other, c->real);
		return -1;
	}
	if (!d.ours && (d.checks > 0 || d.data)) {
		fail(c,
		     "%s already holds a history (%lld checks, such as \"%s\") that is not a copy "
		     "of %s: store copy fills an empty store, or continues its own copy",
		     pg_name(c->p), (long long)d.checks, d.first, c->real);
		return -1;
	}
	/* Results copied now would sit below where reads begin (PG_RAW_FROM). */
	if (d.raw_from > 0) {
		fail(c,
		     "%s: retention has run on it (raw_from_ms %lld): a controller has used it "
		     "since the copy began; copy into an empty store",
		     pg_name(c->p), (long long)d.raw_from);
		return -1;
	}
	return 0;
}

/* ---- the tables ---- */

/* A chunk in the making: rows for pg_write_rows(), or a job of statements. */
struct chunk {
	struct store_row **rows;
	int n;
	struct pg_job *j;
	struct ask a;
};

struct part {
	enum store_copy_part part;
	const char *table;
	const char *sql; /* rowid first; rows after ?1 up to ?2, by rowid */
	/* Row of st into ch: 0, or -1 with err. */
	int (*take)(struct cp *c, sqlite3_stmt *st, struct chunk *ch);
	int rows; /* through pg_write_rows(); else statements of a job */
};

/* The row of kind with the strings str, into ch; NULL with err when out of memory. */
static struct store_row *row_add(struct cp *c, struct chunk *ch, enum store_rkind kind,
                                 const char *const str[STORE_S__COUNT], int bad)
{
	struct store_row *r = bad ? NULL : store_row_new(kind, str);

	tmp_free(c);
	if (!r) {
		fail(c, "out of memory");
		return NULL;
	}
	ch->rows[ch->n++] = r;
	return r;
}

static int take_check(struct cp *c, sqlite3_stmt *st, struct chunk *ch)
{
	int bad = 0;
	const char *v[1] = {col_text(c, st, 1, &bad)};

	if (bad) {
		tmp_free(c);
		fail(c, "out of memory");
		return -1;
	}
	pg_job_add(ch->j, "INSERT INTO checks (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", 1,
	           v);
	tmp_free(c);
	return 0;
}

/* The name of the row's check; NULL with err when its check_id names none (a damaged file). */
static const char *check_of(struct cp *c, sqlite3_stmt *st, int col, const char *table, int *bad)
{
	const char *name = col_text(c, st, col, bad);

	if (!name && !*bad)
		fail(c, "%s: %s row %lld names a check that is not in its checks table", c->path,
		     table, (long long)sqlite3_column_int64(st, 0));
	return name;
}

/* A reason name this build knows; -1 with err. */
static int reason_of(struct cp *c, sqlite3_stmt *st, int col, const char *table)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	int r = s ? result_reason_parse(s) : -1;

	if (r < 0) {
		char shown[96];

		line_escape(shown, sizeof(shown), s ? s : "(null)", s ? strlen(s) : 6);
		fail(c,
		     "%s: %s row %lld has reason \"%s\", which this build does not know: copy it "
		     "with the mailpulse that wrote it",
		     c->path, table, (long long)sqlite3_column_int64(st, 0), shown);
	}
	return r;
}

#define RESULT_SQL                                                                                 \
	"SELECT r.rowid, c.name, r.ts_ms, r.location, r.status, r.reason, r.message, r.address,"   \
	" r.ttg_us, r.dns_us, r.connect_us, r.tls_us, r.greeting_us, r.capability_us,"             \
	" r.starttls_us, r.login_us, r.mailbox_us, r.total_us, r.tls_version, r.cert_days_left,"   \
	" r.cert_not_after, r.cert_subject, r.cert_issuer, r.cert_sha256, r.messages,"             \
	" r.maintenance, r.severity, r.warnings, r.path, r.first_not_after, r.counts_as"           \
	" FROM results r LEFT JOIN checks c ON c.id = r.check_id"                                  \
	" WHERE r.rowid > ?1 AND r.rowid <= ?2 ORDER BY r.rowid"

_Static_assert(MP_PH__COUNT == 9, "results has one column per phase, dns_us to total_us");

/* As store_add_result_flags() fills a row, from what it wrote. */
static int take_result(struct cp *c, sqlite3_stmt *st, struct chunk *ch)
{
	const char *str[STORE_S__COUNT] = {0};
	struct store_row *r;
	int bad = 0, reason;

	if (!(str[STORE_S_CHECK] = check_of(c, st, 1, "results", &bad)) && !bad)
		return -1;
	if ((reason = reason_of(c, st, 5, "results")) < 0) {
		tmp_free(c);
		return -1;
	}
	str[STORE_S_LOCATION] = col_text(c, st, 3, &bad);
	str[STORE_S_MESSAGE] = col_text(c, st, 6, &bad);
	str[STORE_S_ADDRESS] = col_text(c, st, 7, &bad);
	str[STORE_S_TLS_VERSION] = col_text(c, st, 18, &bad);
	str[STORE_S_SUBJECT] = col_text(c, st, 21, &bad);
	str[STORE_S_ISSUER] = col_text(c, st, 22, &bad);
	str[STORE_S_SHA256] = col_text(c, st, 23, &bad);
	str[STORE_S_WARNINGS] = col_lines(c, st, 27, &bad);
	str[STORE_S_PATH] = col_text(c, st, 28, &bad);
	if (!(r = row_add(c, ch, STORE_ROW_RESULT, str, bad)))
		return -1;
	r->ts_ms = sqlite3_column_int64(st, 2);
	r->status = sqlite3_column_int(st, 4);
	r->reason = (enum mp_reason)reason;
	/* NULL (not measured) is negative in a row, and negative is written as NULL. */
	r->ttg_us = col_i64(st, 8, -1);
	for (int i = 0; i < MP_PH__COUNT; i++)
		r->phase_us[i] = col_i64(st, 9 + i, -1);
	/* Each certificate column as it is: STORE_NONE is written as NULL. */
	r->tls = 1;
	r->days_left = col_i64(st, 19, STORE_NONE);
	r->not_after = col_i64(st, 20, STORE_NONE);
	r->first_not_after = col_i64(st, 29, STORE_NONE);
	r->messages = col_i64(st, 24, -1);
	r->flags = sqlite3_column_int64(st, 25) != 0 ? STORE_R_MAINTENANCE : 0;
	/* NULL follows the status, as SQLite's reads have it. */
	r->severity = sqlite3_column_type(st, 26) == SQLITE_NULL
	                  ? (int)result_default_severity((enum mp_status)r->status)
	                  : sqlite3_column_int(st, 26);
	if (sqlite3_column_type(st, 30) != SQLITE_NULL) {
		int64_t k = sqlite3_column_int64(st, 30);

		/* As SQLite's reads take it: any other value does not count. */
		r->flags |= k == 1   ? STORE_R_COUNT_UP
		            : k == 0 ? STORE_R_COUNT_DOWN
		                     : STORE_R_UNCOUNTED;
	}
	return 0;
}

static int take_transition(struct cp *c, sqlite3_stmt *st, struct chunk *ch)
{
	const char *str[STORE_S__COUNT] = {0};
	struct store_row *r;
	int bad = 0, reason;

	if (!(str[STORE_S_CHECK] = check_of(c, st, 1, "transitions", &bad)) && !bad)
		return -1;
	if ((reason = reason_of(c, st, 5, "transitions")) < 0) {
		tmp_free(c);
		return -1;
	}
	str[STORE_S_MESSAGE] = col_text(c, st, 6, &bad);
	if (!(r = row_add(c, ch, STORE_ROW_TRANSITION, str, bad)))
		return -1;
	r->ts_ms = sqlite3_column_int64(st, 2);
	r->from = sqlite3_column_int(st, 3);
	r->status = sqlite3_column_int(st, 4);
	r->reason = (enum mp_reason)reason;
	r->severity = sqlite3_column_type(st, 7) == SQLITE_NULL
	                  ? (int)result_default_severity((enum mp_status)r->status)
	                  : sqlite3_column_int(st, 7);
	return 0;
}

static int take_delivery(struct cp *c, sqlite3_stmt *st, struct chunk *ch)
{
	const char *str[STORE_S__COUNT] = {0};
	struct store_row *r;
	int bad = 0;

	/* No check_id: a notification about no one check. */
	if (sqlite3_column_type(st, 2) != SQLITE_NULL &&
	    !(str[STORE_S_CHECK] = check_of(c, st, 1, "deliveries", &bad)) && !bad)
		return -1;
	str[STORE_S_CHANNEL] = col_text(c, st, 4, &bad);
	str[STORE_S_EVENT] = col_text(c, st, 5, &bad);
	str[STORE_S_MESSAGE] = col_text(c, st, 8, &bad);
	if (!(r = row_add(c, ch, STORE_ROW_DELIVERY, str, bad)))
		return -1;
	r->ts_ms = sqlite3_column_int64(st, 3);
	r->attempt = sqlite3_column_int(st, 6);
	r->ok = sqlite3_column_int64(st, 7) != 0;
	return 0;
}

/* Columns 2.. of st as the job's parameters $2.., after $1 the check's name. */
static int take_stmt(struct cp *c, sqlite3_stmt *st, struct chunk *ch, const char *table,
                     const char *sql, const int *text_cols)
{
	const char *v[16];
	int n = sqlite3_column_count(st) - 1, bad = 0;

	if (n > 16) {
		fail(c, "%s: too many columns", table);
		return -1;
	}
	if (!(v[0] = check_of(c, st, 1, table, &bad)) && !bad)
		return -1;
	for (int i = 1; i < n; i++) {
		int text = 0;

		for (const int *t = text_cols; *t; t++)
			text |= *t == i + 1;
		/* Numbers as SQLite gives them in text: exact, any size. */
		v[i] = text ? col_text(c, st, i + 1, &bad)
		            : (const char *)sqlite3_column_text(st, i + 1);
	}
	if (bad) {
		tmp_free(c);
		fail(c, "out of memory");
		return -1;
	}
	pg_job_add(ch->j, sql, n, v);
	tmp_free(c);
	return 0;
}

/* Incidents keep their ids, their times and durations as the source has them. */
static int take_incident(struct cp *c, sqlite3_stmt *st, struct chunk *ch)
{
	/* id, name, start_ms, end_ms, reason, message, duration_ms, close_reason */
	static const int text[] = {4, 5, 7, 0};
	const char *v[8];
	int bad = 0;

	if (!(v[1] = check_of(c, st, 1, "incidents", &bad)) && !bad)
		return -1;
	v[0] = (const char *)sqlite3_column_text(st, 0);
	for (int i = 2; i < 8; i++) {
		int t = 0;

		for (const int *k = text; *k; k++)
			t |= *k == i;
		v[i] = t ? col_text(c, st, i, &bad) : (const char *)sqlite3_column_text(st, i);
	}
	if (bad) {
		tmp_free(c);
		fail(c, "out of memory");
		return -1;
	}
	pg_job_add(ch->j,
	           "INSERT INTO incidents (id, check_id, start_ms, end_ms, reason, message,"
	           " duration_ms, close_reason) VALUES ($1, (SELECT id FROM checks WHERE name"
	           " = $2), $3, $4, $5, $6, $7, $8)",
	           8, v);
	tmp_free(c);
	return 0;
}

static int take_rollup(struct cp *c, sqlite3_stmt *st, struct chunk *ch)
{
	static const int text[] = {3, 0};

	return take_stmt(c, st, ch, "roll-ups",
	                 "INSERT INTO rollups (check_id, hour_ms, location, count, up_count,"
	                 " min_ttg_us, avg_ttg_us, p95_ttg_us, max_ttg_us, maint_count,"
	                 " maint_up_count, uptime_count, uptime_up, uptime_maint) VALUES ((SELECT"
	                 " id FROM checks WHERE name = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10,"
	                 " $11, $12, $13, $14) ON CONFLICT (check_id, hour_ms, location) DO"
	                 " NOTHING",
	                 text);
}

static const struct part parts[] = {
    {STORE_COPY_CHECKS, "checks",
     "SELECT id, name FROM checks WHERE id > ?1 AND id <= ?2 ORDER BY id", take_check, 0},
    {STORE_COPY_RESULTS, "results", RESULT_SQL, take_result, 1},
    {STORE_COPY_TRANSITIONS, "transitions",
     "SELECT t.rowid, c.name, t.ts_ms, t.from_status, t.to_status, t.reason, t.message,"
     " t.to_severity FROM transitions t LEFT JOIN checks c ON c.id = t.check_id"
     " WHERE t.rowid > ?1 AND t.rowid <= ?2 ORDER BY t.rowid",
     take_transition, 1},
    {STORE_COPY_INCIDENTS, "incidents",
     "SELECT i.id, c.name, i.start_ms, i.end_ms, i.reason, i.message, i.duration_ms,"
     " i.close_reason FROM incidents i LEFT JOIN checks c ON c.id = i.check_id"
     " WHERE i.id > ?1 AND i.id <= ?2 ORDER BY i.id",
     take_incident, 0},
    {STORE_COPY_DELIVERIES, "deliveries",
     "SELECT d.rowid, c.name, d.check_id, d.ts_ms, d.channel, d.event, d.attempt, d.ok,"
     " d.detail FROM deliveries d LEFT JOIN checks c ON c.id = d.check_id"
     " WHERE d.rowid > ?1 AND d.rowid <= ?2 ORDER BY d.rowid",
     take_delivery, 1},
    {STORE_COPY_ROLLUPS, "rollups",
     "SELECT r.rowid, c.name, r.hour_ms, r.location, r.count, r.up_count, r.min_ttg_us,"
     " r.avg_ttg_us, r.p95_ttg_us, r.max_ttg_us, r.maint_count, r.maint_up_count,"
     " r.uptime_count, r.uptime_up, r.uptime_maint FROM rollups r"
     " LEFT JOIN checks c ON c.id = r.check_id WHERE r.rowid > ?1 AND r.rowid <= ?2"
     " ORDER BY r.rowid",
     take_rollup, 0},
};

static void chunk_free(struct chunk *ch)
{
	for (int i = 0; i < ch->n; i++)
		free(ch->rows[i]);
	ch->n = 0;
}

static int chunk_start(struct cp *c, const struct part *pt, struct chunk *ch)
{
	char what[64];

	if (pt->rows)
		return 0;
	snprintf(what, sizeof(what), "copying %s", part_names[pt->part]);
	memset(&ch->a, 0, sizeof(ch->a));
	if (!(ch->j = pg_job_new(what, asked, &ch->a))) {
		fail(c, "out of memory");
		return -1;
	}
	return 0;
}

/* The chunk and its progress (last rowid, rows copied in all) in one transaction. */
static int chunk_write(struct cp *c, const struct part *pt, struct chunk *ch, int64_t last,
                       int64_t rows)
{
	char key[PATH_MAX + 32], val[64];
	const char *v[2] = {key, val};

	progress_key(c, pt->part, key, sizeof(key));
	snprintf(val, sizeof(val), "%lld %lld", (long long)last, (long long)rows);
	if (pt->rows) {
		int rc = pg_write_rows(c->p, ch->rows, ch->n, sql_progress, 2, v);

		chunk_free(ch);
		if (rc < 0) {
			fail(c, "copying %s after row %lld of %s: %s", part_names[pt->part],
			     (long long)c->last[pt->part], c->path, pg_errmsg_of(c->p));
			return -1;
		}
		return 0;
	}
	pg_job_add(ch->j, sql_progress, 2, v);
	/* Ids given here: the next one the store makes comes after them. */
	if (pt->part == STORE_COPY_INCIDENTS)
		pg_job_add(ch->j,
		           "SELECT setval(pg_get_serial_sequence('incidents', 'id'),"
		           " (SELECT max(id) FROM incidents))",
		           0, NULL);
	pg_job_wait(c->p, ch->j);
	ch->j = NULL;
	if (ch->a.error) {
		fail(c, "copying %s after row %lld of %s: %s", part_names[pt->part],
		     (long long)c->last[pt->part], c->path, ch->a.err);
		return -1;
	}
	return 0;
}

/*
 * Whether the source still holds what was copied from it: rowids only
 * grow, and results leave only by retention, which folds them into
 * roll-ups that would then be copied too.
 */
static int src_unchanged(struct cp *c, const struct part *pt, int64_t max)
{
	char sql[128];
	int64_t n;

	if (c->last[pt->part] == 0)
		return 0;
	if (max < c->last[pt->part]) {
		fail(c,
		     "%s: its %s end at %lld, before row %lld that was copied from it: the file "
		     "changed since the copy began; copy it into an empty store",
		     c->path, pt->table, (long long)max, (long long)c->last[pt->part]);
		return -1;
	}
	if (pt->part != STORE_COPY_RESULTS)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE rowid <= ?1", pt->table);
	if (src_int(c, sql, c->last[pt->part], 0, &n, "counting results") < 0)
		return -1;
	if (n < c->st->before[pt->part]) {
		fail(c,
		     "%s: retention folded %lld results that were copied already into its "
		     "roll-ups since the copy began, which would count them twice; copy it into "
		     "an empty store",
		     c->path, (long long)(c->st->before[pt->part] - n));
		return -1;
	}
	return 0;
}

/*
 * The rows of a chunk taken so far written with their progress, when the
 * copy stops on a row it cannot take: the next run starts at that row,
 * and says the same. err keeps the first failure.
 */
static void chunk_partial(struct cp *c, const struct part *pt, struct chunk *ch, int k,
                          int64_t last, int64_t rows)
{
	char keep[1536];

	snprintf(keep, sizeof(keep), "%s", c->err && c->errlen ? c->err : "");
	if (k > 0) {
		if (chunk_write(c, pt, ch, last, rows) == 0)
			c->last[pt->part] = last;
	} else if (ch->j) {
		/* Nothing taken: an empty job, which has no other way to be freed. */
		pg_job_wait(c->p, ch->j);
		ch->j = NULL;
	}
	store_set_err(c->err, c->errlen, "%s", keep);
}

static int copy_part(struct cp *c, const struct part *pt)
{
	struct chunk ch = {0};
	sqlite3_stmt *st = NULL;
	char sql[160];
	int64_t max, total, done = 0, good = 0;
	int rc, k = 0, ret = -1;

	snprintf(sql, sizeof(sql), "SELECT max(rowid) FROM %s", pt->table);
	if (src_int(c, sql, 0, 0, &max, "reading its size") < 0 || src_unchanged(c, pt, max) < 0)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE rowid > ?1 AND rowid <= ?2",
	         pt->table);
	if (src_int(c, sql, c->last[pt->part], max, &total, "counting rows") < 0)
		return -1;
	draw(c, pt->part, 0, total, total == 0);
	if (total == 0)
		return 0;
	if (pt->rows && !(ch.rows = calloc((size_t)c->chunk, sizeof(*ch.rows)))) {
		fail(c, "out of memory");
		return -1;
	}
	if (sqlite3_prepare_v2(c->db, pt->sql, -1, &st, NULL) != SQLITE_OK) {
		fail(c, "%s: reading %s: %s", c->path, part_names[pt->part], sqlite_why(c->db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, c->last[pt->part]);
	sqlite3_bind_int64(st, 2, max);
	if (chunk_start(c, pt, &ch) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t rowid = sqlite3_column_int64(st, 0);

		if (pt->take(c, st, &ch) < 0)
			goto partial;
		good = rowid;
		if (++k < c->chunk)
			continue;
		if (chunk_write(c, pt, &ch, rowid, c->st->before[pt->part] + done + k) < 0)
			goto out;
		c->last[pt->part] = rowid;
		done += k;
		k = 0;
		c->st->copied[pt->part] = done;
		draw(c, pt->part, done, total, 0);
		if (chunk_start(c, pt, &ch) < 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		fail(c, "%s: reading %s: %s", c->path, part_names[pt->part], sqlite_why(c->db));
		goto partial;
	}
	/* The last chunk records max, even when it holds no row: the end of the picture. */
	if (chunk_write(c, pt, &ch, max, c->st->before[pt->part] + done + k) < 0)
		goto out;
	c->last[pt->part] = max;
	done += k;
	c->st->copied[pt->part] = done;
	draw(c, pt->part, done, total, 1);
	ret = 0;
	goto out;
partial:
	chunk_partial(c, pt, &ch, k, good, c->st->before[pt->part] + done + k);
	if (c->last[pt->part] == good)
		c->st->copied[pt->part] = done + k;
out:
	if (ret < 0 && c->o->tty && c->o->progress)
		fputc('\n', c->o->progress);
	sqlite3_finalize(st);
	chunk_free(&ch);
	free(ch.rows);
	return ret;
}

/* ---- what is brought up to date each run ---- */

/* A step's job run, its count what RETURNING said; shown as a part's line. */
static int sync_run(struct cp *c, enum store_copy_part part, struct pg_job *j, struct ask *a,
                    int64_t *touched, int failed)
{
	char keep[1536];

	if (failed) {
		/* What was added is true of the source: written all the same, the failure kept. */
		snprintf(keep, sizeof(keep), "%s", c->err && c->errlen ? c->err : "");
		job_wait(c, j, a);
		store_set_err(c->err, c->errlen, "%s", keep);
		return -1;
	}
	if (job_wait(c, j, a) < 0)
		return -1;
	c->st->copied[part] = *touched;
	draw(c, part, *touched, *touched, 1);
	return 0;
}

/* Each row of st, its columns $1.., a statement of one job. */
static int sync_step(struct cp *c, enum store_copy_part part, sqlite3_stmt *st, const char *sql,
                     int nparams)
{
	int64_t touched = 0;
	struct ask a = {count_rows, &touched, 0, ""};
	char what[64];
	struct pg_job *j;
	int rc, bad = 0;

	snprintf(what, sizeof(what), "copying %s", part_names[part]);
	if (!(j = pg_job_new(what, asked, &a))) {
		fail(c, "out of memory");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !bad) {
		const char *v[4];

		for (int i = 0; i < nparams && i < 4; i++)
			v[i] = sqlite3_column_type(st, i) == SQLITE_TEXT
			           ? col_text(c, st, i, &bad)
			           : (const char *)sqlite3_column_text(st, i);
		if (!bad)
			pg_job_add(j, sql, nparams, v);
		tmp_free(c);
	}
	if (bad || (rc != SQLITE_ROW && rc != SQLITE_DONE))
		fail(c, "%s: reading %s: %s", c->path, part_names[part],
		     bad ? "out of memory" : sqlite_why(c->db));
	return sync_run(c, part, j, &a, &touched, bad || (rc != SQLITE_ROW && rc != SQLITE_DONE));
}

struct ids {
	int64_t *v;
	int n;
};

static void ids_read(const PGresult *const *res, int n, void *arg)
{
	struct ids *ids = arg;

	if (n != 1 || !(ids->v = calloc((size_t)PQntuples(res[0]) + 1, sizeof(*ids->v))))
		return;
	for (int i = 0; i < PQntuples(res[0]); i++)
		ids->v[ids->n++] = pg_col_i64(res[0], i, 0);
}

/* Incidents copied open that the source has closed since: closed as it closed them. */
static int sync_closed(struct cp *c)
{
	struct ids open = {0};
	struct ask a = {ids_read, &open, 0, ""};
	struct pg_job *j = pg_job_new("reading open incidents", asked, &a);
	int64_t touched = 0;
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_DONE, bad = 0;

	if (j)
		pg_job_add(j, "SELECT id FROM incidents WHERE end_ms IS NULL ORDER BY id", 0, NULL);
	if (job_wait(c, j, &a) < 0)
		return -1;
	a = (struct ask){count_rows, &touched, 0, ""};
	if (!(j = pg_job_new("copying incidents closed since", asked, &a))) {
		free(open.v);
		fail(c, "out of memory");
		return -1;
	}
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT id, end_ms, duration_ms, close_reason FROM incidents"
	                       " WHERE id = ?1 AND end_ms IS NOT NULL",
	                       -1, &st, NULL) != SQLITE_OK)
		rc = SQLITE_ERROR;
	for (int i = 0; i < open.n && rc == SQLITE_DONE && !bad; i++) {
		sqlite3_bind_int64(st, 1, open.v[i]);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *v[4] = {(const char *)sqlite3_column_text(st, 0),
			                    (const char *)sqlite3_column_text(st, 1),
			                    (const char *)sqlite3_column_text(st, 2),
			                    col_text(c, st, 3, &bad)};

			if (!bad)
				pg_job_add(j,
				           "UPDATE incidents SET end_ms = $2, duration_ms = $3,"
				           " close_reason = $4 WHERE id = $1 AND end_ms IS NULL"
				           " RETURNING 1",
				           4, v);
			tmp_free(c);
			rc = SQLITE_DONE;
		}
		sqlite3_reset(st);
	}
	free(open.v);
	if (bad || rc != SQLITE_DONE)
		fail(c, "%s: reading incidents: %s", c->path,
		     bad ? "out of memory" : sqlite_why(c->db));
	sqlite3_finalize(st);
	return sync_run(c, STORE_COPY_CLOSED, j, &a, &touched, bad || rc != SQLITE_DONE);
}

/* One step from the rows of sql on the source. */
static int sync_from(struct cp *c, enum store_copy_part part, const char *src_sql, const char *sql,
                     int nparams)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(c->db, src_sql, -1, &st, NULL) != SQLITE_OK) {
		fail(c, "%s: reading %s: %s", c->path, part_names[part], sqlite_why(c->db));
		return -1;
	}
	rc = sync_step(c, part, st, sql, nparams);
	sqlite3_finalize(st);
	return rc;
}

static int sync_all(struct cp *c)
{
	if (sync_closed(c) < 0)
		return -1;
	/* The alerts open at the receivers, as the source last said (store_set_alert()). */
	if (sync_from(c, STORE_COPY_ALERTS,
	              "SELECT key, value FROM meta WHERE substr(key, 1, 6) = 'alert/' ORDER BY key",
	              "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE"
	              " SET value = excluded.value WHERE meta.value IS DISTINCT FROM"
	              " excluded.value RETURNING 1",
	              2) < 0)
		return -1;
	/* Which checks left the configuration, and when; and which came back. */
	return sync_from(c, STORE_COPY_REMOVED, "SELECT name, removed_ms FROM checks ORDER BY id",
	                 "UPDATE checks SET removed_ms = $2::bigint WHERE name = $1 AND removed_ms"
	                 " IS DISTINCT FROM $2::bigint RETURNING 1",
	                 2);
}

/* ---- the whole ---- */

int store_copy(const struct store_copy_opts *o, struct store_copy_stats *st, char *err,
               size_t errlen)
{
	struct cp c = {0};
	int64_t t0 = mono_ms();
	int rc = -1, e = 0;

	memset(st, 0, sizeof(*st));
	c.o = o;
	c.st = st;
	c.err = err;
	c.errlen = errlen;
	c.chunk = o->chunk > 0 ? o->chunk : STORE_COPY_CHUNK;
	if (err && errlen)
		err[0] = '\0';
	if (!o->from || !(c.path = store_spec_file(o->from))) {
		fail(&c, "--from names no SQLite store");
		errno = EINVAL;
		return -1;
	}
	if (!o->to ||
	    (strncmp(o->to, "postgresql://", 13) != 0 && strncmp(o->to, "postgres://", 11) != 0)) {
		fail(&c, "--to is not a postgresql:// URI");
		errno = EINVAL;
		return -1;
	}
	if (src_open(&c) < 0) {
		e = errno;
		goto out;
	}
	if (dst_open(&c) < 0 || dst_lock(&c) < 0 || dst_check(&c) < 0)
		goto out;
	/* One read transaction: every table as of one moment, a daemon writing or not. */
	if (sqlite3_exec(c.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		fail(&c, "%s: %s", c.path, sqlite_why(c.db));
		goto out;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (copy_part(&c, &parts[i]) < 0)
			goto out;
	if (sync_all(&c) < 0)
		goto out;
	rc = 0;
out:
	tmp_free(&c);
	if (c.db) {
		sqlite3_exec(c.db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close_v2(c.db);
	}
	/* The backend first: its events belong to the base. */
	if (c.pdb)
		store_pg.close(c.pdb);
	if (c.base)
		event_base_free(c.base);
	st->ms = mono_ms() - t0;
	errno = rc < 0 ? (e ? e : EIO) : 0;
	return rc;
}
