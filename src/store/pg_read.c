/* SPDX-License-Identifier: ISC */
/*
 * pg_read.c - the PostgreSQL backend's reads. IN PROGRESS: every read
 * answers ENOSYS until the reads land (this file is being written).
 */
#include <errno.h>

#include "store/pg_int.h"

static const char notyet[] = "store: PostgreSQL reads are not written yet";

void pg_history(void *db, const struct store_query *q, store_results_cb cb, void *arg)
{
	(void)db, (void)q;
	cb(NULL, 0, ENOSYS, notyet, arg);
}
void pg_uptime(void *db, const struct store_query *q, store_uptime_cb cb, void *arg)
{
	(void)db, (void)q;
	cb(NULL, ENOSYS, notyet, arg);
}
int pg_counts(void *db, const int64_t *bounds, int nb, store_counts_cb cb, void *arg, char *err,
              size_t errlen)
{
	(void)db, (void)bounds, (void)nb, (void)cb, (void)arg;
	store_set_err(err, errlen, "%s", notyet);
	errno = ENOSYS;
	return -1;
}
void pg_series(void *db, const struct store_query *q, store_series_cb cb, void *arg)
{
	(void)db, (void)q;
	cb(NULL, ENOSYS, notyet, arg);
}
void pg_incidents(void *db, const struct store_query *q, store_incidents_cb cb, void *arg)
{
	(void)db, (void)q;
	cb(NULL, 0, 0, ENOSYS, notyet, arg);
}
void pg_deliveries(void *db, const struct store_query *q, store_deliveries_cb cb, void *arg)
{
	(void)db, (void)q;
	cb(NULL, 0, ENOSYS, notyet, arg);
}
void pg_status(void *db, store_status_cb cb, void *arg)
{
	(void)db;
	cb(NULL, ENOSYS, notyet, arg);
}
int pg_load_states(void *db, store_state_cb cb, void *arg)
{
	(void)cb, (void)arg;
	pg_set_err(db, "%s", notyet);
	return -1;
}
int pg_each_check(void *db, store_check_cb cb, void *arg)
{
	(void)cb, (void)arg;
	pg_set_err(db, "%s", notyet);
	return -1;
}
