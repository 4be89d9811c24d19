/* SPDX-License-Identifier: ISC */
/*
 * backend.h - the seam between the store's interface (store.c: the write
 * queue, the store: value, dispatch) and a backend that keeps the rows
 * (sqlite.c; PostgreSQL next). Private to src/store/.
 *
 * A backend never sees a caller: store.c validates names, copies rows into
 * the queue and hands them over in batches; the backend writes a batch in
 * one transaction or not at all. What a backend reads it returns as the
 * typed rows of store.h, through the read callbacks.
 */
#ifndef MP_STORE_BACKEND_H
#define MP_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct event_base;

/* printf into err (errlen bytes) when err is not NULL: the error text of every backend. */
void store_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The results table's columns as the reads take them, in this order: the
 * same names in both backends' schemas (sqlite.c, pg_conn.c).
 */
#define STORE_RESULT_COLS                                                                          \
	"ts_ms, location, status, reason, message, address, ttg_us, dns_us, connect_us, tls_us,"   \
	" greeting_us, capability_us, starttls_us, login_us, mailbox_us, total_us, tls_version,"   \
	" cert_days_left, cert_not_after, cert_subject, cert_issuer, cert_sha256, messages,"       \
	" maintenance, severity, warnings, path, first_not_after, counts_as"

/* check and location names, as conf.c enforces */
#define STORE_NAME_MAX 64
/* Rows one read returns at most. */
#define STORE_LIMIT_MAX 10000

enum store_rkind {
	STORE_ROW_RESULT,
	STORE_ROW_TRANSITION,
	STORE_ROW_INCIDENT_OPEN,
	STORE_ROW_INCIDENT_CLOSE,
	STORE_ROW_DELIVERY,
	STORE_ROW_CHECK_RETIRE,
	STORE_ROW_CHECK_PRESENT,
	STORE_ROW_ALERT /* the alert open at the receivers (store_set_alert()) */
};

/* String slots of a queued row; NULL is absent (SQL NULL). */
enum store_rstr {
	STORE_S_CHECK,
	STORE_S_LOCATION,
	STORE_S_MESSAGE, /* a delivery's detail, a close's or a retire's reason too */
	STORE_S_ADDRESS,
	STORE_S_TLS_VERSION,
	STORE_S_SUBJECT,
	STORE_S_ISSUER,
	STORE_S_SHA256,
	STORE_S_WARNINGS, /* one per line */
	STORE_S_CHANNEL,
	STORE_S_EVENT,
	STORE_S_PATH, /* a result's path */
	STORE_S__COUNT
};

/*
 * One queued write. Allocated with its strings in one block by store.c,
 * freed by store.c after the flush that wrote it; a backend only reads it.
 * Times in unix ms; durations in us, negative meaning not measured.
 */
struct store_row {
	enum store_rkind kind;
	int64_t ts_ms;
	int status; /* a result's status; a transition's new status */
	int severity;
	int from;       /* a transition's old status */
	unsigned flags; /* a result's STORE_R_* */
	enum mp_reason reason;
	int attempt, ok;
	int64_t phase_us[MP_PH__COUNT];
	int64_t ttg_us, messages;
	int tls; /* certificate columns present */
	/* unix seconds: not_after the leaf's, first_not_after the chain's first to expire */
	int64_t days_left, not_after, first_not_after;
	const char *s[STORE_S__COUNT];
	char text[];
};

/*
 * A row of kind with the strings str[] (NULL: absent), its numbers zero,
 * in one block to free(); NULL when out of memory. For a backend's own
 * tools (copy.c), which build rows as store_add_*() would.
 */
struct store_row *store_row_new(enum store_rkind kind, const char *const str[STORE_S__COUNT]);

/*
 * store_set_alert()'s value ("KEY_MS REASON SUP_MS SUP_REASON", kept in
 * meta by every backend) into ss's alert_*; anything else leaves ss as it
 * is (alert_known 0).
 */
void store_alert_parse(struct store_state *ss, const char *v);

/*
 * The operations. `db` is what open() made; every call but interrupt()
 * comes from the one thread that owns the store. Errors of flush,
 * retention, load_states and each_check are kept for errmsg(); the reads
 * call their callback exactly once, with the rows or the error (never
 * touching errmsg(), which tells of writes): SQLite before returning, a
 * network backend maybe later, from the loop; its close() then calls the
 * callbacks of reads still pending, with ECANCELED, before it returns.
 */
struct store_backend {
	const char *name;
	/*
	 * where: the store: value past its scheme (a path for SQLite, the
	 * whole URI for PostgreSQL); secret_file: a file whose first line is
	 * the password (store_open_secret()), NULL for none.
	 */
	int (*open)(void **db, const char *where, const char *secret_file, int readonly, char *err,
	            size_t errlen);
	void (*close)(void *db);
	/* rows[0 .. n) in one transaction: 0, or -1 with nothing written. Blocking. */
	int (*flush)(void *db, struct store_row *const *rows, int n);
	/*
	 * The same from the loop (NULL: flush() is quick enough to run there):
	 * done(0 or -1, arg) when written or not, maybe before it returns;
	 * rows stay untouched until then.
	 */
	void (*flush_start)(void *db, struct store_row *const *rows, int n,
	                    void (*done)(int rc, void *arg), void *arg);
	/* From now on run on base, never blocking it (NULL: nothing to do). */
	int (*attach)(void *db, struct event_base *base);
	/* Ask for the lead among controllers (NULL: always the active one). */
	int (*lead)(void *db, store_role_fn fn, void *arg);
	/* store_claim(), store_claim_done() (NULL: one controller, nothing to claim). */
	void (*claim)(void *db, const char *key, const char *controller, int64_t now_ms,
	              store_claim_fn cb, void *arg);
	void (*claim_done)(void *db, const char *key, int ok, int64_t now_ms);
	int (*retention)(void *db, int64_t now_ms, unsigned raw_days, unsigned rollup_days);
	int (*load_states)(void *db, store_state_cb cb, void *arg);
	int (*each_check)(void *db, store_check_cb cb, void *arg);
	enum store_file (*file_check)(void *db);
	int (*reopen)(void *db, char *err, size_t errlen);
	void (*interrupt)(void *db);
	const char *(*errmsg)(const void *db);

	void (*history)(void *db, const struct store_query *q, store_results_cb cb, void *arg);
	void (*uptime)(void *db, const struct store_query *q, store_uptime_cb cb, void *arg);
	int (*counts)(void *db, const int64_t *bounds, int nb, store_counts_cb cb, void *arg,
	              char *err, size_t errlen);
	void (*series)(void *db, const struct store_query *q, store_series_cb cb, void *arg);
	void (*incidents)(void *db, const struct store_query *q, store_incidents_cb cb, void *arg);
	void (*deliveries)(void *db, const struct store_query *q, store_deliveries_cb cb,
	                   void *arg);
	void (*status)(void *db, store_status_cb cb, void *arg);
};

extern const struct store_backend store_sqlite;
extern const struct store_backend store_pg;

/*
 * The name of SQLite's primary result code ("SQLITE_FULL"), for messages an
 * admin may search for; NULL for a code without one. The spool's messages
 * (spool.c) use it too.
 */
const char *store_sqlite_rc_name(int rc);

#endif
