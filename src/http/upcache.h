/* SPDX-License-Identifier: ISC */
/*
 * upcache.h - the uptime of every check over 24 h, 7 d and 30 d, kept by a
 * thread of its own with a read-only handle on the store, so that the API
 * and the public status page read figures from memory and never run a
 * store query per check on the probes' event loop.
 *
 * The figures are those store_q_uptime() gives for [now - window, now), at
 * most UPCACHE_TTL_MS old (plus the store's one-second write delay) while
 * someone reads them. A struct upcache is created by upcache_start() and
 * freed by upcache_stop(); everything but the worker runs on the caller's
 * thread (the event loop), and nothing here waits for a query.
 */
#ifndef MP_UPCACHE_H
#define MP_UPCACHE_H

#include <stddef.h>
#include <stdint.h>

/* The windows, in this order: 24 h, 7 d, 30 d. */
#define UPCACHE_NWIN 3
/* Figures older than this are refreshed when next read (they are served meanwhile). */
#define UPCACHE_TTL_MS 5000

struct upcache;
struct upcache_snap;
struct store;

/*
 * Open the store at path read-only and start the worker, which builds the
 * figures at once. NULL with err filled when the store cannot be opened or
 * the thread not started; the caller then reads the store itself.
 */
struct upcache *upcache_start(const char *path, const char *secret, char *err, size_t errlen);
/* Stop the worker (a query under way is interrupted), close its handle, free. NULL is fine. */
void upcache_stop(struct upcache *c);

/*
 * The current figures, or NULL while the first build runs; asks the worker
 * for a refresh when they are older than UPCACHE_TTL_MS. Never blocks on a
 * query (a mutex is held for a pointer and a count). Give it back with
 * upcache_release(), on the same thread, before the next loop turn.
 */
const struct upcache_snap *upcache_acquire(struct upcache *c);
void upcache_release(struct upcache *c, const struct upcache_snap *s);
/*
 * pct[i] of check over window i, or NAN when it recorded nothing there (or
 * nothing at all: then -1 is returned, else 0). O(log checks).
 */
int upcache_find(const struct upcache_snap *s, const char *check, double pct[UPCACHE_NWIN]);

/*
 * The figures of every check, built now on the caller's thread from db in
 * a handful of batched reads (store_q_counts(), for all checks at once),
 * exactly as the worker builds them: for a reader without the worker.
 * Seconds on a store of months. NULL when the store could not be read
 * (logged). *queries (may be NULL) gets the reads made. Free with
 * upcache_snap_free().
 */
struct upcache_snap *upcache_build(struct store *db, int64_t *queries);
void upcache_snap_free(const struct upcache_snap *s);

struct upcache_stats {
	uint64_t builds;    /* full passes over the store's last 30 days */
	uint64_t refreshes; /* incremental ones */
	uint64_t failures;
	uint64_t queries;    /* store_q_counts() calls made by the worker */
	int64_t age_ms;      /* of the current figures; -1: none yet */
	double last_ms;      /* the last build or refresh */
	double build_max_ms; /* the longest build */
	double refresh_max_ms;
	int checks; /* in the current figures */
};
void upcache_stats(struct upcache *c, struct upcache_stats *st);

/*
 * For tests (tests/unit/test_upcache.c): the wall clock the worker reads
 * (NULL: the real one) and the age (ms) past which readers ask for a
 * refresh. Before upcache_start(); never set in the daemon.
 */
void upcache_test_hooks(int64_t (*wall_ms)(void), int64_t ttl_ms);

#endif
