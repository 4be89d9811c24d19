/* SPDX-License-Identifier: ISC */
/*
 * rows_json.h - the JSON of the store's typed rows: the one layer that
 * both the API (src/http/api.c) and the report commands (src/cmd/report.c)
 * print the store through, so the two never disagree. Key names and order
 * are docs/api.md's; times given twice, ISO 8601 UTC and unix ms; us in
 * the rows become ms as output_json() prints them.
 *
 * Each returns a new reference, or NULL when out of memory.
 */
#ifndef MP_STORE_ROWS_JSON_H
#define MP_STORE_ROWS_JSON_H

#include <jansson.h>

#include "store/store.h"

/* {time, ts_ms, location, status, reason, message, address, ..., warnings}. */
json_t *rows_json_result(const struct store_result_row *r);
/* with_check: with the "check" key (the incidents list; not inside a status). */
json_t *rows_json_incident(const struct store_incident_row *r, int64_t now_ms, int with_check);
json_t *rows_json_delivery(const struct store_delivery_row *r);

/* The answers of store_q_history() and the others, from their rows. */
json_t *rows_json_history(const struct store_query *q, const struct store_result_row *rows,
                          size_t n);
json_t *rows_json_uptime(const struct store_uptime_row *u);
json_t *rows_json_series(const struct store_series_rows *s);
json_t *rows_json_incidents(const struct store_query *q, const struct store_incident_row *rows,
                            size_t n, int64_t now_ms);
json_t *rows_json_deliveries(const struct store_query *q, const struct store_delivery_row *rows,
                             size_t n);
json_t *rows_json_status(const struct store_status_rows *s);

#endif
