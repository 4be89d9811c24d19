/* SPDX-License-Identifier: ISC */
/*
 * pg_int.h - inside the PostgreSQL backend (pg.c: the connection's jobs,
 * the writes, retention; pg_read.c: the reads). Private to src/store/.
 *
 * Everything the backend sends is a job: a list of statements with their
 * parameters, run in order on the backend's one connection, whose results
 * come back together to one completion function. Before a loop is
 * attached (store_attach(): the report commands, the daemon's start) a job
 * runs at once and completes before pg_job_run() returns; after, it is
 * sent in pipeline mode and completes from the loop, so nothing waits on
 * the network. The code that builds a job and reads its results is the
 * same either way.
 *
 * Parameters are text (NULL an SQL NULL); numbers through pg_i64().
 * Statements of one job run in one implicit transaction unless they say
 * BEGIN/COMMIT themselves: one that fails ends the job with its error.
 */
#ifndef MP_STORE_PG_INT_H
#define MP_STORE_PG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/backend.h"

struct pg;
struct pg_job;

/*
 * The pg_try_advisory_lock key the active controller holds ("mp-lead!" in
 * ASCII); store copy holds it too, so that no controller acts mid-copy.
 */
#define PG_LEAD_LOCK 0x6d702d6c65616421LL

/*
 * A job's end, called exactly once: error 0 and res[0 .. n) the result of
 * every statement in the order added (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK); or error (EIO: the server said no or the connection
 * failed, err "store SHOWN: WHAT: the server's first line"; ECANCELED: the
 * store is closing; ENOMEM) with res NULL. The results are cleared when it
 * returns: copy what you keep.
 */
typedef void (*pg_done_fn)(struct pg *p, PGresult *const *res, int n, int error, const char *err,
                           void *ctx);

/*
 * A new job whose failures are told as "WHAT: ..." (what says what it
 * does, "reading a check's history"). NULL when out of memory.
 */
struct pg_job *pg_job_new(const char *what, pg_done_fn done, void *ctx);
/*
 * Append sql with params[0 .. nparams) (copied). On ENOMEM the job is
 * marked failed and returns -1; pg_job_run() then completes it with ENOMEM,
 * so a caller may add without checking and run once.
 */
int pg_job_add(struct pg_job *j, const char *sql, int nparams, const char *const *params);
/* Run j, which belongs to p from here (NULL j: done is not called; out of memory is the caller's).
 */
void pg_job_run(struct pg *p, struct pg_job *j);
/*
 * Run j and wait for it, even with a loop attached (the jobs ahead of it
 * first): for what has to answer before returning (store_load_states(),
 * store_each_check(), the counts of the API's worker). Blocks, bounded by
 * the statement timeout; never from a hot path.
 */
void pg_job_wait(struct pg *p, struct pg_job *j);

/* v as a parameter, in buf; NULL (SQL NULL) for STORE_NONE. */
const char *pg_i64(char buf[24], int64_t v);
/* A column as a number; STORE_NONE when NULL. */
int64_t pg_col_i64(const PGresult *r, int row, int col);
/* A column as text, pointing into r; NULL when NULL. */
const char *pg_col_text(const PGresult *r, int row, int col);

/*
 * rows[0 .. n) written as a flush writes them, then sql with params, in
 * the same transaction; waits (pg_job_wait()). 0, or -1 with the error for
 * pg_errmsg(). For store copy (copy.c): a chunk and its progress at once.
 */
int pg_write_rows(struct pg *p, struct store_row *const *rows, int n, const char *sql, int nparams,
                  const char *const *params);
/* What errmsg() says now. */
const char *pg_errmsg_of(const struct pg *p);

/* The URI as shown to people (pg_shown()), for messages. */
const char *pg_name(const struct pg *p);

/* The reads (pg_read.c), as struct store_backend names them. */
void pg_history(void *db, const struct store_query *q, store_results_cb cb, void *arg);
void pg_uptime(void *db, const struct store_query *q, store_uptime_cb cb, void *arg);
int pg_counts(void *db, const int64_t *bounds, int nb, store_counts_cb cb, void *arg, char *err,
              size_t errlen);
void pg_series(void *db, const struct store_query *q, store_series_cb cb, void *arg);
void pg_incidents(void *db, const struct store_query *q, store_incidents_cb cb, void *arg);
void pg_deliveries(void *db, const struct store_query *q, store_deliveries_cb cb, void *arg);
void pg_status(void *db, store_status_cb cb, void *arg);
/* Blocking (pg_job_wait()); errors through pg_set_err() for errmsg(). */
int pg_load_states(void *db, store_state_cb cb, void *arg);
int pg_each_check(void *db, store_check_cb cb, void *arg);

/* The error text errmsg() returns, as store_set_err() writes it. */
void pg_set_err(struct pg *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Raw results below this time are counted in the roll-ups already and
 * wait for their day's partition to be dropped: every read of raw
 * results leaves them out with "ts_ms >= " PG_RAW_FROM.
 */
#define PG_RAW_FROM "(SELECT value::bigint FROM meta WHERE key = 'raw_from_ms')"

#endif
