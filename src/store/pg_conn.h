/* SPDX-License-Identifier: ISC */
/*
 * pg_conn.h - the PostgreSQL store's connection (issue 14): connect with
 * libpq, check the server, bring the schema to this build's version.
 * Private to src/store/. Runs before the event loop does (at start, and
 * for the report commands), so it may block, bounded by connect_timeout.
 *
 * A URI is shown to people only through pg_shown(): user, host, port and
 * database, never a password, whatever the spelling of the URI.
 *
 * libpq is not linked: pq_lazy.c loads it when a PostgreSQL store is
 * first opened, so that `mailpulse check` and a daemon on SQLite never
 * load its ~24 libraries.
 */
#ifndef MP_STORE_PG_CONN_H
#define MP_STORE_PG_CONN_H

#include <stddef.h>

#include <libpq-fe.h>

/* The oldest server the schema works on: declarative partitions with their own indexes. */
#define PG_SERVER_MIN 130000
/* The schema this build writes; a store with a higher one was written by a newer build. */
#define PG_SCHEMA_VERSION 3
/* Seconds to wait for a server that does not answer, unless the URI says otherwise. */
#define PG_CONNECT_TIMEOUT_S 10

/*
 * Connect to uri (a postgresql:// URI or libpq's key=value form), with the
 * password read from password_file when it is not NULL (its first line),
 * check the server's version and apply the migrations this build has,
 * unless readonly. NULL with err filled ("store SHOWN: ...") when anything
 * fails; nothing is left half-done (each migration is one transaction).
 */
PGconn *pg_open(const char *uri, const char *password_file, int readonly, char *err, size_t errlen);

/*
 * Begin connecting to uri as pg_open() would, without waiting (the
 * caller drives PQconnectPoll() from its loop); NULL with err when it
 * cannot even begin. No migration: a store reconnecting has its schema.
 */
PGconn *pg_connect_start(const char *uri, const char *password_file, char *err, size_t errlen);
/* 0 when c's server is new enough for the schema, else -1 with err. */
int pg_server_ok(PGconn *c, const char *shown, char *err, size_t errlen);

/* uri as shown to people: "postgresql://user@host:port/db", never a password. */
void pg_shown(const char *uri, char *out, size_t outlen);

/*
 * NULL when libpq is loaded (pq_lazy.c opens it at first use), else why
 * it could not be, for the store's message.
 */
const char *pq_lazy_missing(void);

#endif
