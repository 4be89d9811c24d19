/* SPDX-License-Identifier: ISC */
/*
 * upcache.c - the uptime of every check over 24 h, 7 d and 30 d, kept by a
 * worker thread with a read-only store handle (see upcache.h).
 *
 * Why a thread. On a store that holds 30 days of 200 checks every 30 s
 * (17 M rows, 1.6 GB), one check's 30-day uptime is ~90-160 ms of SQLite
 * work: its rows lie one to a page among the other checks'. Any pass that
 * covers all checks' 30 days costs seconds, however it is cached, and on
 * the event loop that is seconds of probes judged late. SQLite in WAL
 * mode lets a second connection read while the daemon writes, without
 * either waiting for the other; the worker runs at SCHED_IDLE, so on a busy
 * machine it yields the CPU to the loop at once. Serving stays on the loop,
 * from memory: the loop and the worker share one pointer under a mutex.
 *
 * What the worker keeps. Per check and window, the counts of the complete
 * hours inside the window ("middle", [lo[w], hi)) as running sums. A
 * refresh adds the hours that completed since the last one and takes off
 * those that left each window (one hour of every check is ~12 ms on the
 * store above), then reads the edges exactly: the partial hour at the start
 * of each window, [now - window, lo[w]), and what came after hi. So the
 * figures are those store_q_uptime() gives, at ~50 ms per refresh on that
 * store, whatever the number of readers. hi stays UC_GRACE_MS behind now, so
 * rows still in the daemon's write queue (flushed every second) are not
 * missed when an hour is added. The first build reads the 30 days in one
 * pass over the table (~3 s there); a rebuild every UC_REBUILD_MS, or after
 * a gap of more than 6 h between refreshes, takes in rows that reached the
 * store later still (a flush that failed for a while).
 *
 * Readers ask for a refresh when the figures are older than UPCACHE_TTL_MS,
 * never more often: figures nobody reads cost nothing after the first build.
 *
 * Memory: ~200 bytes per check in the store, twice while a refresh runs.
 */
#define _GNU_SOURCE /* SCHED_IDLE */
#include "http/upcache.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "store/store.h"

#define HOUR_MS       (3600LL * 1000)
#define UC_GRACE_MS   (2 * 60 * 1000LL)
#define UC_REBUILD_MS (6 * HOUR_MS)
#define UC_GAP_MS     (6 * HOUR_MS)

static const int64_t uc_window_ms[UPCACHE_NWIN] = {24 * HOUR_MS, 7 * 24 * HOUR_MS,
                                                   30 * 24 * HOUR_MS};

/* upcache_test_hooks(); the real clock and UPCACHE_TTL_MS otherwise. */
static int64_t (*uc_test_wall)(void);
static int64_t uc_ttl_ms = UPCACHE_TTL_MS;

void upcache_test_hooks(int64_t (*wall_ms)(void), int64_t ttl_ms)
{
	uc_test_wall = wall_ms;
	uc_ttl_ms = ttl_ms;
}

struct upcache_entry {
	char name[65];
	double pct[UPCACHE_NWIN];
};

/* Immutable once published; freed when the last of the cache and the readers lets go. */
struct upcache_snap {
	int refs;      /* under the cache's mutex */
	int64_t at_ms; /* monotonic: when the refresh that made it started */
	int n;
	struct upcache_entry e[]; /* sorted by name */
};

/* A check as the worker keeps it. Worker thread only. */
struct uc_check {
	int64_t id;
	char name[65];
	struct store_counts mid[UPCACHE_NWIN]; /* complete hours [lo[w], hi) */
	struct store_counts
	    edge[UPCACHE_NWIN]; /* this refresh: [now - window, lo[w]) + [hi, now) */
};

struct upcache {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* to the worker: want or stop */
	pthread_cond_t cv_done; /* from the worker: exited */
	/* Under mu. */
	int want, busy, stop, exited;
	struct upcache_snap *snap;
	int64_t fail_ms; /* monotonic time of the last failure, 0: none */
	struct upcache_stats st;
	/* The worker's own; db is opened before the thread starts and closed after it ended. */
	struct store *db;
	char path[4096];  /* the store: value db was opened with */
	const char *file; /* in path: the file it names; NULL: a server, nothing to follow */
	dev_t dev;
	ino_t ino;
	struct uc_check *ck; /* sorted by id */
	int nck, capck;
	int built;
	int64_t built_ms; /* monotonic */
	int64_t hi, lo[UPCACHE_NWIN];
	int64_t queries;
};

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t floor_hour(int64_t ms)
{
	return ms - ((ms % HOUR_MS) + HOUR_MS) % HOUR_MS;
}

static void snap_unref(struct upcache_snap *s)
{
	if (s && --s->refs == 0)
		free(s);
}

/* ---- the worker ---------------------------------------------------------------- */

/* The check with id, added (name copied) when new; NULL when out of memory. */
static struct uc_check *uc_check_get(struct upcache *c, int64_t id, const char *name)
{
	int lo = 0, hi = c->nck;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (c->ck[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->nck && c->ck[lo].id == id)
		return &c->ck[lo];
	if (c->nck == c->capck) {
		int nc = c->capck ? 2 * c->capck : 256;
		struct uc_check *n = realloc(c->ck, (size_t)nc * sizeof(*n));
		if (!n)
			return NULL;
		c->ck = n;
		c->capck = nc;
	}
	memmove(&c->ck[lo + 1], &c->ck[lo], (size_t)(c->nck - lo) * sizeof(*c->ck));
	c->nck++;
	memset(&c->ck[lo], 0, sizeof(c->ck[lo]));
	c->ck[lo].id = id;
	snprintf(c->ck[lo].name, sizeof(c->ck[lo].name), "%s", name);
	return &c->ck[lo];
}

static void add_counts(struct store_counts *to, const struct store_counts *k, int sign)
{
	to->probes += sign * k->probes;
	to->up += sign * k->up;
	to->maint += sign * k->maint;
}

/* What a store_q_counts() answer goes into. */
enum uc_into { UC_BUILD, UC_MID_ADD, UC_MID_SUB, UC_EDGE };

struct uc_pass {
	struct upcache *c;
	enum uc_into into;
	int win; /* one window, or -1: all of them */
	int oom;
};

static void uc_counts_cb(int64_t id, const char *check, const struct store_counts *k, int n,
                         void *arg)
{
	struct uc_pass *p = arg;
	struct uc_check *ck = uc_check_get(p->c, id, check);

	if (!ck) {
		p->oom = 1;
		return;
	}
	for (int w = 0; w < UPCACHE_NWIN; w++) {
		if (p->win >= 0 && w != p->win)
			continue;
		switch (p->into) {
		case UC_BUILD:
			/* Ranges 30 d, 7 d, 24 h, oldest first: window w takes ranges 2 - w to 2.
			 */
			for (int i = UPCACHE_NWIN - 1 - w; i < n; i++)
				add_counts(&ck->mid[w], &k[i], 1);
			break;
		case UC_MID_ADD:
			add_counts(&ck->mid[w], &k[0], 1);
			break;
		case UC_MID_SUB:
			add_counts(&ck->mid[w], &k[0], -1);
			break;
		case UC_EDGE:
			add_counts(&ck->edge[w], &k[0], 1);
			break;
		}
	}
}

static int uc_query(struct upcache *c, const int64_t *bounds, int nb, enum uc_into into, int win)
{
	struct uc_pass p = {c, into, win, 0};
	char err[256];

	c->queries++;
	if (store_q_counts(c->db, bounds, nb, uc_counts_cb, &p, err, sizeof(err)) < 0) {
		pthread_mutex_lock(&c->mu);
		int stopping = c->stop;
		pthread_mutex_unlock(&c->mu);
		if (!stopping)
			log_msg(LOG_WARNING, "http: uptime figures: %s", err);
		return -1;
	}
	if (p.oom)
		log_msg(LOG_WARNING, "http: uptime figures: out of memory");
	return p.oom ? -1 : 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct upcache_entry *)a)->name,
	              ((const struct upcache_entry *)b)->name);
}

/*
 * Bring the running sums to now and read the edges; the new figures, or
 * NULL (the old ones stay; the next refresh rebuilds). *build says whether
 * it was a full pass.
 */
static struct upcache_snap *uc_refresh(struct upcache *c, int64_t started, int *build)
{
	int64_t now = uc_test_wall ? uc_test_wall() : clock_ms(CLOCK_REALTIME);
	int64_t hi = floor_hour(now - UC_GRACE_MS);
	int64_t lo[UPCACHE_NWIN];
	int rebuild = !c->built || started - c->built_ms >= UC_REBUILD_MS || hi < c->hi ||
	              hi - c->hi > UC_GAP_MS;

	for (int w = 0; w < UPCACHE_NWIN; w++)
		lo[w] = floor_hour(now - uc_window_ms[w]) + HOUR_MS;
	*build = rebuild;
	c->built = 0; /* until this refresh is through */
	if (rebuild) {
		int64_t b[UPCACHE_NWIN + 1] = {lo[2], lo[1], lo[0], hi};

		for (int i = 0; i < c->nck; i++)
			memset(c->ck[i].mid, 0, sizeof(c->ck[i].mid));
		if (uc_query(c, b, UPCACHE_NWIN + 1, UC_BUILD, -1) < 0)
			return NULL;
		c->built_ms = started;
	} else {
		if (hi > c->hi) {
			int64_t b[2] = {c->hi, hi};
			if (uc_query(c, b, 2, UC_MID_ADD, -1) < 0)
				return NULL;
		}
		for (int w = 0; w < UPCACHE_NWIN; w++) {
			int64_t b[2] = {c->lo[w], lo[w]};
			if (lo[w] > c->lo[w] && uc_query(c, b, 2, UC_MID_SUB, w) < 0)
				return NULL;
		}
	}
	c->hi = hi;
	memcpy(c->lo, lo, sizeof(lo));
	c->built = 1;
	for (int i = 0; i < c->nck; i++)
		memset(c->ck[i].edge, 0, sizeof(c->ck[i].edge));
	int64_t head[2] = {hi, INT64_MAX};
	if (uc_query(c, head, 2, UC_EDGE, -1) < 0)
		return NULL;
	for (int w = 0; w < UPCACHE_NWIN; w++) {
		int64_t tail[2] = {now - uc_window_ms[w], lo[w]};
		if (uc_query(c, tail, 2, UC_EDGE, w) < 0)
			return NULL;
	}
	struct upcache_snap *s = malloc(sizeof(*s) + (size_t)c->nck * sizeof(s->e[0]));
	if (!s)
		return NULL;
	s->refs = 1;
	s->at_ms = started;
	s->n = c->nck;
	for (int i = 0; i < c->nck; i++) {
		const struct uc_check *k = &c->ck[i];

		memcpy(s->e[i].name, k->name, sizeof(s->e[i].name));
		for (int w = 0; w < UPCACHE_NWIN; w++) {
			struct store_counts t = k->mid[w];
			add_counts(&t, &k->edge[w], 1);
			s->e[i].pct[w] =
			    t.probes > 0 ? 100.0 * (double)t.up / (double)t.probes : (double)NAN;
		}
	}
	qsort(s->e, (size_t)s->n, sizeof(s->e[0]), cmp_entry);
	return s;
}

/*
 * The daemon reopens its store when the file at the path is deleted or
 * replaced (store_file_check()); so does the worker, or it would go on
 * counting the old file's history. A rebuild follows the reopen. Returns 0
 * when db is the file at the path (or nothing could be checked).
 */
static int uc_follow_path(struct upcache *c)
{
	struct stat st;
	char err[256];
	struct store *db;

	if (!c->file || stat(c->file, &st) != 0 || (st.st_dev == c->dev && st.st_ino == c->ino))
		return 0;
	if (store_open_readonly(&db, c->path, err, sizeof(err)) < 0) {
		log_msg(LOG_WARNING, "api cache: cannot reopen %s: %s", c->path, err);
		return -1;
	}
	store_close(c->db);
	c->db = db;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->built = 0;
	c->nck = 0; /* ids belong to the old file */
	log_msg(LOG_NOTICE, "api cache: %s is another file now: uptime figures rebuilt from it",
	        c->path);
	return 0;
}

static void *uc_main(void *arg)
{
	struct upcache *c = arg;
	struct sched_param sp;

	/* Behind the event loop on a busy CPU; figures only get older meanwhile. */
	memset(&sp, 0, sizeof(sp));
	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->want && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->want = 0;
		pthread_mutex_unlock(&c->mu);

		int64_t t0 = clock_ms(CLOCK_MONOTONIC);
		int build = 0;
		struct upcache_snap *s = uc_follow_path(c) == 0 ? uc_refresh(c, t0, &build) : NULL;
		double ms = (double)(clock_ms(CLOCK_MONOTONIC) - t0);

		pthread_mutex_lock(&c->mu);
		c->st.queries = (uint64_t)c->queries;
		c->st.last_ms = ms;
		if (!s) {
			c->st.failures++;
			c->fail_ms = clock_ms(CLOCK_MONOTONIC);
		} else if (build) {
			c->st.builds++;
			if (ms > c->st.build_max_ms)
				c->st.build_max_ms = ms;
		} else {
			c->st.refreshes++;
			if (ms > c->st.refresh_max_ms)
				c->st.refresh_max_ms = ms;
		}
		if (s) {
			snap_unref(c->snap);
			c->snap = s;
		}
		c->busy = 0;
	}
	c->exited = 1;
	pthread_cond_broadcast(&c->cv_done);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- the loop's side --------------------------------------------------------------- */

struct upcache *upcache_start(const char *path, const char *secret, char *err, size_t errlen)
{
	struct upcache *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (store_open_secret(&c->db, path, secret, 1, err, errlen) < 0) {
		free(c);
		return NULL;
	}
	struct stat st;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->file = store_spec_file(c->path);
	if (c->file && stat(c->file, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_cond_init(&c->cv_done, NULL);
	c->st.age_ms = -1;
	/* The first build starts now, before anyone asks. */
	c->want = c->busy = 1;
	rc = pthread_create(&c->th, NULL, uc_main, c);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
		store_close(c->db);
		pthread_cond_destroy(&c->cv_done);
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return NULL;
	}
	return c;
}

void upcache_stop(struct upcache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	/* A query may have started just after an interrupt, which then missed it: again. */
	while (!c->exited) {
		struct timespec ts;

		pthread_mutex_unlock(&c->mu);
		store_interrupt(c->db);
		pthread_mutex_lock(&c->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (!c->exited)
			pthread_cond_timedwait(&c->cv_done, &c->mu, &ts);
	}
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	store_close(c->db);
	snap_unref(c->snap);
	free(c->ck);
	pthread_cond_destroy(&c->cv_done);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const struct upcache_snap *upcache_acquire(struct upcache *c)
{
	int64_t now = clock_ms(CLOCK_MONOTONIC);
	struct upcache_snap *s;

	pthread_mutex_lock(&c->mu);
	s = c->snap;
	if (s)
		s->refs++;
	/* One refresh at a time, and after a failure not before the TTL is over. */
	if (!c->busy && (!s || now - s->at_ms >= uc_ttl_ms) &&
	    (!c->fail_ms || now - c->fail_ms >= uc_ttl_ms)) {
		c->want = c->busy = 1;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return s;
}

void upcache_release(struct upcache *c, const struct upcache_snap *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&c->mu);
	snap_unref((struct upcache_snap *)(uintptr_t)s);
	pthread_mutex_unlock(&c->mu);
}

struct upcache_snap *upcache_build(struct store *db, int64_t *queries)
{
	struct upcache c;
	struct upcache_snap *snap;
	int build;

	/* A cache of one refresh, on the caller's store and thread: the worker's maths. */
	memset(&c, 0, sizeof(c));
	c.db = db;
	pthread_mutex_init(&c.mu, NULL);
	snap = uc_refresh(&c, clock_ms(CLOCK_MONOTONIC), &build);
	pthread_mutex_destroy(&c.mu);
	free(c.ck);
	if (queries)
		*queries = c.queries;
	return snap;
}

void upcache_snap_free(const struct upcache_snap *s)
{
	snap_unref((struct upcache_snap *)(uintptr_t)s);
}

int upcache_find(const struct upcache_snap *s, const char *check, double pct[UPCACHE_NWIN])
{
	int lo = 0, hi = s ? s->n - 1 : -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, d = strcmp(s->e[mid].name, check);

		if (d == 0) {
			memcpy(pct, s->e[mid].pct, sizeof(s->e[mid].pct));
			return 0;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	for (int w = 0; w < UPCACHE_NWIN; w++)
		pct[w] = (double)NAN;
	return -1;
}

void upcache_stats(struct upcache *c, struct upcache_stats *st)
{
	int64_t now = clock_ms(CLOCK_MONOTONIC);

	pthread_mutex_lock(&c->mu);
	*st = c->st;
	st->age_ms = c->snap ? now - c->snap->at_ms : -1;
	st->checks = c->snap ? c->snap->n : 0;
	pthread_mutex_unlock(&c->mu);
}
