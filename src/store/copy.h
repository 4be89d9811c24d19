/* SPDX-License-Identifier: ISC */
/*
 * copy.h - `mailpulse store copy` (issue 14): the history of an SQLite
 * store moved into a PostgreSQL store, inside the store layer, so that the
 * SQL of both stays here.
 *
 * The copy goes table by table in chunks; each chunk is one transaction on
 * PostgreSQL that also records how far the copy got (meta key
 * "copy/SOURCE/TABLE", SOURCE the file's real path). A copy stopped
 * anywhere (kill -9, a lost server) continues after its last chunk when
 * run again; a copy run again after it finished copies nothing. The
 * source is read in one read transaction, a consistent picture as of the
 * start even while a daemon writes it.
 */
#ifndef MP_STORE_COPY_H
#define MP_STORE_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Rows one chunk (one transaction) holds. */
#define STORE_COPY_CHUNK 2000

/*
 * What is copied, in this order: the tables by chunks (checks first, so
 * that ids follow the source's), then what is brought up to date whole
 * each time (incidents the source closed since they were copied open,
 * the alerts open at the receivers, checks' removed marks).
 */
enum store_copy_part {
	STORE_COPY_CHECKS,
	STORE_COPY_RESULTS,
	STORE_COPY_TRANSITIONS,
	STORE_COPY_INCIDENTS,
	STORE_COPY_DELIVERIES,
	STORE_COPY_ROLLUPS,
	STORE_COPY_CLOSED,
	STORE_COPY_ALERTS,
	STORE_COPY_REMOVED,
	STORE_COPY__COUNT
};

struct store_copy_opts {
	const char *from;          /* the SQLite store: PATH or sqlite:PATH */
	const char *to;            /* a postgresql:// (or postgres://) URI */
	const char *password_file; /* its first line is the password; NULL: none */
	FILE *progress;            /* where progress goes; NULL: nowhere */
	int tty;                   /* progress is a terminal: one bar per table, redrawn */
	int chunk;                 /* rows per transaction; <= 0: STORE_COPY_CHUNK */
};

struct store_copy_stats {
	int64_t copied[STORE_COPY__COUNT]; /* rows written by this run */
	int64_t before[STORE_COPY__COUNT]; /* rows copied by runs before it (tables only) */
	int64_t ms;                        /* how long this run took */
	char to[512];                      /* the destination as shown: never its password */
};

/* "results", "roll-ups", ...: a part's name for people. */
const char *store_copy_part_name(enum store_copy_part part);

/*
 * Copy o->from into o->to (created and migrated when new, as the daemon
 * would), with progress on o->progress. 0 with st filled; -1 with err
 * ("store copy: WHAT: ...", naming the file or the store as shown, never
 * a password): nothing half-written stays behind but whole chunks, which
 * the next run continues from. Refused: a source that is not a mailpulse
 * store, or whose schema needs migrating while a daemon holds it (errno
 * EBUSY: stop the daemon); a destination that holds a history of its own
 * or another file's copy, or on which a controller is active. Blocks.
 */
int store_copy(const struct store_copy_opts *o, struct store_copy_stats *st, char *err,
               size_t errlen);

#endif
