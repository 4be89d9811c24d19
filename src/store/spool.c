/* SPDX-License-Identifier: ISC */
/*
 * spool.c - the probing node's outbox (spool.h) on SQLite: one table of
 * waiting results keyed by their id, a meta table that marks the file as
 * a spool and holds its format version and the id lease, and an in-memory
 * buffer in front of it so that spool_add() never touches the disk.
 *
 * Ownership: spool_open() creates a struct spool; spool_close() flushes
 * and frees it, with everything still buffered.
 *
 * Durability. The file runs in WAL mode with synchronous=FULL, so each
 * spool_flush() ends in one fsync of the WAL: a flush that returned 0 is
 * on the disk. What a crash or a power cut can lose is what was added
 * since the last successful flush (the buffer), and nothing else. An ack
 * is a commit with synchronous=NORMAL, without an fsync of its own: it is
 * on the disk with the next flush. A power cut before that undoes it, and
 * the node sends those results again, which the controller takes as
 * duplicates; an fsync per batch stalled the node's loop, and with it
 * its probes' timings, while it replayed a backlog (bench/RESULTS.md).
 * (With synchronous=NORMAL for flushes, a power cut could also undo the
 * last flushes that were not checkpointed yet, up to ~1000 WAL pages of
 * results.)
 *
 * Ids. A result's id is its seq on the wire, and the controller takes a
 * seq it has seen as a duplicate, so an id must never be given twice,
 * even when the process dies after spool_peek() handed out buffered
 * results that never reached the disk. The file holds a lease, meta
 * id_limit: every id handed out is below it. Opening starts at the lease
 * and moves it ID_LEASE further, durably, before any id is given; a flush
 * moves it on when half of it is used. So ids jump by up to ID_LEASE at a
 * restart (seqs are increasing, not consecutive), and stay unique as long
 * as fewer than ID_LEASE / 2 results are added between two flushes.
 * Opening also starts no lower than the clock in microseconds: a spool
 * made anew (deleted by an admin, a node rebuilt) then goes on above the
 * ids of the one it replaces, which the controller has seen, instead of
 * starting at 1 again where its results would all look like duplicates.
 *
 * The bound is applied at each flush: the oldest waiting (in the file,
 * then in the buffer) go until max wait. Between flushes the buffer may
 * take the depth past max by what was added since. The buffer itself
 * holds at most min(max, BUF_MAX) results: when flushes keep failing
 * (disk full, file locked), the oldest buffered are dropped and counted,
 * so memory stays bounded (BUF_MAX results of ~1.5 KB is ~15 MB).
 *
 * One process per spool file: the writer holds flock() on PATH.lock, as
 * the store does (store/sqlite.c, lock_open()), since two nodes on one
 * file would give the same ids.
 */
#include "store/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/backend.h"

#define SPOOL_KIND    "mailpulse-spool"
#define SPOOL_VERSION 1
/* Ids handed out per lease; see "Ids" above. */
#define ID_LEASE 65536
/* Results buffered at most between flushes, whatever max is. */
#define BUF_MAX 10000
/*
 * Opening happens before the event loop runs: wait for a reader (the
 * sqlite3 shell of an admin). Afterwards every write runs on the loop;
 * another writer can only be a foreign process: fail fast, keep the
 * buffer, the next flush tries again.
 */
#define BUSY_OPEN_MS  2000
#define BUSY_WRITE_MS 100
/* ids and probe times go into SQLite's signed 64-bit integers. */
#define ID_MAX ((uint64_t)INT64_MAX)

static const char schema_v1[] = "CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL);\n"
                                "CREATE TABLE spool (\n"
                                "  id INTEGER PRIMARY KEY,   -- the result's seq\n"
                                "  probe_ms INTEGER NOT NULL, -- the probe's start, unix ms\n"
                                "  body TEXT NOT NULL         -- the encoded result\n"
                                ");\n"
                                "INSERT INTO meta (key, value) VALUES ('kind', '" SPOOL_KIND "');\n"
                                "INSERT INTO meta (key, value) VALUES ('id_limit', 1);\n";

/* Statements of the loop's paths, prepared once at open. */
enum stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_INSERT,
	S_DROP,
	S_ACK,
	S_PEEK,
	S_OLDEST,
	S_LEASE,
	S__COUNT
};

static const char *const ssql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_INSERT] = "INSERT INTO spool (id, probe_ms, body) VALUES (?1, ?2, ?3)",
    /* The oldest ?1 rows; rowid order, so a walk of the first ?1 entries. */
    [S_DROP] = "DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT ?1)",
    [S_ACK] = "DELETE FROM spool WHERE id BETWEEN ?1 AND ?2",
    [S_PEEK] =
        "SELECT id, probe_ms, body FROM spool WHERE id > ?1 AND id <= ?3 ORDER BY id LIMIT ?2",
    [S_OLDEST] = "SELECT probe_ms, id FROM spool ORDER BY id LIMIT 1",
    [S_LEASE] = "UPDATE meta SET value = ?1 WHERE key = 'id_limit'",
};

/* One buffered result; text is ours, NUL-terminated. */
struct item {
	uint64_t id;
	int64_t probe_ms;
	char *text;
	size_t len;
};

struct spool {
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
	char *path; /* as given, or "(memory)": for messages */
	int lockfd; /* flock()ed PATH.lock; -1 for a memory spool */
	uint64_t max;
	uint64_t next_id;  /* what spool_next_id() gives */
	uint64_t id_limit; /* on disk: every id handed out is below it */
	uint64_t nfile;    /* rows in the file */
	uint64_t dropped;
	int64_t oldest_ms;
	uint64_t first_id; /* of the oldest waiting; 0: none */
	/* The buffer: items [bstart, bend) of buf, oldest first, ids above the file's. */
	struct item *buf;
	size_t bstart, bend, bcap, bufmax;
};

/* The wall clock in microseconds; 0 when it says something before 1970. */
static uint64_t clock_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* "spool PATH: what: SQLite's message (SQLITE_CODE)"; the OS's words when it had some. */
static void db_err(const struct spool *s, char *err, size_t errlen, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db);
	int sys = sqlite3_system_errno(s->db);
	const char *name = store_sqlite_rc_name(rc);
	char code[32], os[160] = "";

	if (name)
		snprintf(code, sizeof(code), "%s", name);
	else
		snprintf(code, sizeof(code), "SQLite code %d", rc);
	if (sys && ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR ||
	            (rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_PERM))
		snprintf(os, sizeof(os), ": %s", strerror(sys));
	store_set_err(err, errlen, "spool %s: %s: %s%s (%s)", s->path, what, sqlite3_errmsg(s->db),
	              os, code);
}

static int exec(struct spool *s, const char *sql, const char *what, char *err, size_t errlen)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		db_err(s, err, errlen, what);
		return -1;
	}
	return 0;
}

/* Run a prepared statement that returns no row, and make it reusable. */
static int step_done(struct spool *s, enum stmt i)
{
	int rc = sqlite3_step(s->st[i]);

	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One integer from a query without parameters, while opening; *found is 0 when no row. */
static int query_int(struct spool *s, const char *sql, int64_t *v, int *found, char *err,
                     size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_err(s, err, errlen, "reading");
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
		*v = sqlite3_column_int64(st, 0);
		*found = 1;
	} else if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*found = -1; /* a row, but not an integer */
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_err(s, err, errlen, "reading");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Is the file a spool we can use? 0 and *empty = 1 for a file without
 * tables (new); 0 and *empty = 0 for a spool of a version we know; -1 with
 * err for anything else. Reads only: a file that is not ours stays as it is.
 */
static int check_kind(struct spool *s, int *empty, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t n = 0, v = 0;
	int found, rc;
	char kind[64] = "";

	*empty = 0;
	rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK && rc != SQLITE_ROW) {
		if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_NOTADB)
			store_set_err(
			    err, errlen,
			    "spool %s: not an SQLite database, so not a spool; refusing to "
			    "touch it",
			    s->path);
		else
			db_err(s, err, errlen, "reading");
		return -1;
	}
	if (n == 0) {
		*empty = 1;
		return 0;
	}
	if (query_int(s,
	              "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
	              &n, &found, err, errlen) < 0)
		return -1;
	if (n == 1) {
		rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'kind'", -1, &st,
		                        NULL);
		if (rc != SQLITE_OK) {
			db_err(s, err, errlen, "reading meta");
			return -1;
		}
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
			snprintf(kind, sizeof(kind), "%s",
			         (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	if (strcmp(kind, SPOOL_KIND) != 0) {
		/* The daemon's history is the likeliest mix-up: say so. */
		if (n == 1 &&
		    query_int(s, "SELECT 1 FROM meta WHERE key = 'schema_version'", &v, &found,
		              NULL, 0) == 0 &&
		    found)
			store_set_err(
			    err, errlen,
			    "spool %s: a mailpulse store (the controller's history), not a "
			    "spool; refusing to touch it",
			    s->path);
		else
			store_set_err(
			    err, errlen,
			    "spool %s: an SQLite database, but not a mailpulse spool; refusing to "
			    "touch it",
			    s->path);
		return -1;
	}
	if (query_int(s, "SELECT value FROM meta WHERE key = 'version'", &v, &found, err, errlen) <
	    0)
		return -1;
	if (found != 1 || v < 1) {
		store_set_err(err, errlen, "spool %s: meta.version is missing or not a version",
		              s->path);
		return -1;
	}
	if (v > SPOOL_VERSION) {
		store_set_err(err, errlen,
		              "spool %s has format version %lld, newer than version %d that this "
		              "mailpulse knows; use a newer mailpulse",
		              s->path, (long long)v, SPOOL_VERSION);
		return -1;
	}
	return 0;
}

/* A new spool, in one transaction; an empty file only (another process may be quicker). */
static int create(struct spool *s, char *err, size_t errlen)
{
	int empty;
	char sql[sizeof(schema_v1) + 96];

	if (exec(s, "BEGIN IMMEDIATE", "creating", err, errlen) < 0)
		return -1;
	if (check_kind(s, &empty, err, errlen) < 0)
		goto fail;
	if (empty) {
		snprintf(sql, sizeof(sql),
		         "%sINSERT INTO meta (key, value) VALUES ('version', %d);\n", schema_v1,
		         SPOOL_VERSION);
		if (exec(s, sql, "creating", err, errlen) < 0)
			goto fail;
	}
	if (exec(s, "COMMIT", "creating", err, errlen) < 0)
		goto fail;
	return 0;
fail:
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* journal_mode answers with the mode it ended up in, which may not be the one asked for. */
static int set_wal(struct spool *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char mode[16] = "";

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK) {
		db_err(s, err, errlen, "WAL mode");
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
	else
		db_err(s, err, errlen, "WAL mode");
	sqlite3_finalize(st);
	if (!*mode)
		return -1;
	if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
		store_set_err(err, errlen, "spool %s: cannot use WAL mode (journal mode is %s)",
		              s->path, mode);
		return -1;
	}
	return 0;
}

/*
 * flush() on PATH.lock, holding our PID for the message of a refused
 * second writer. Released by the kernel when the process dies. The file is
 * never unlinked: another process may be waiting on it.
 */
static int lock_take(struct spool *s, char *err, size_t errlen)
{
	size_t n = strlen(s->path);
	char *lockpath = malloc(n + sizeof(".lock"));
	char pid[32];
	int fd, len;

	if (!lockpath) {
		store_set_err(err, errlen, "spool %s: out of memory", s->path);
		return -1;
	}
	memcpy(lockpath, s->path, n);
	memcpy(lockpath + n, ".lock", sizeof(".lock"));
	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		store_set_err(err, errlen, "spool %s: cannot open its lock file %s: %s", s->path,
		              lockpath, strerror(errno));
		free(lockpath);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			ssize_t got = pread(fd, pid, sizeof(pid) - 1, 0);
			long holder = 0;

			if (got > 0) {
				pid[got] = '\0';
				holder = strtol(pid, NULL, 10);
			}
			if (holder > 0)
				store_set_err(
				    err, errlen,
				    "spool %s is in use by another process (pid %ld): one node "
				    "per spool",
				    s->path, holder);
			else
				store_set_err(
				    err, errlen,
				    "spool %s is in use by another process (%s is locked): one "
				    "node per spool",
				    s->path, lockpath);
		} else {
			store_set_err(err, errlen, "spool %s: cannot lock %s: %s", s->path,
			              lockpath, strerror(errno));
		}
		close(fd);
		free(lockpath);
		return -1;
	}
	free(lockpath);
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		/* Only the message of a refused second writer would miss the PID. */
	}
	s->lockfd = fd;
	return 0;
}

/*
 * Where ids go on from: past the lease of the last run and past every row,
 * then a new lease, synced before any id is handed out.
 */
static int lease_open(struct spool *s, char *err, size_t errlen)
{
	int64_t limit = 0, maxid = 0, n = 0;
	int found;
	char sql[96];

	if (query_int(s, "SELECT value FROM meta WHERE key = 'id_limit'", &limit, &found, err,
	              errlen) < 0)
		return -1;
	if (found != 1 || limit < 1) {
		store_set_err(err, errlen, "spool %s: meta.id_limit is missing or not an id",
		              s->path);
		return -1;
	}
	if (query_int(s, "SELECT max(id) FROM spool", &maxid, &found, err, errlen) < 0 ||
	    query_int(s, "SELECT count(*) FROM spool", &n, &found, err, errlen) < 0)
		return -1;
	s->next_id = (uint64_t)limit;
	if (maxid > 0 && (uint64_t)maxid >= s->next_id)
		s->next_id = (uint64_t)maxid + 1;
	if (clock_us() > s->next_id)
		s->next_id = clock_us();
	if (s->next_id > ID_MAX - 2 * ID_LEASE) {
		store_set_err(err, errlen, "spool %s: ids are used up (next %llu)", s->path,
		              (unsigned long long)s->next_id);
		return -1;
	}
	s->nfile = (uint64_t)n;
	s->id_limit = s->next_id + ID_LEASE;
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = %llu WHERE key = 'id_limit'",
	         (unsigned long long)s->id_limit);
	return exec(s, sql, "writing the id lease", err, errlen);
}

/* The probe time and id of the oldest waiting; a failed read keeps the last values. */
static void oldest_update(struct spool *s)
{
	if (s->nfile > 0) {
		if (sqlite3_step(s->st[S_OLDEST]) == SQLITE_ROW) {
			s->oldest_ms = sqlite3_column_int64(s->st[S_OLDEST], 0);
			s->first_id = (uint64_t)sqlite3_column_int64(s->st[S_OLDEST], 1);
		}
		sqlite3_reset(s->st[S_OLDEST]);
	} else if (s->bend > s->bstart) {
		s->oldest_ms = s->buf[s->bstart].probe_ms;
		s->first_id = s->buf[s->bstart].id;
	} else {
		s->oldest_ms = 0;
		s->first_id = 0;
	}
}

static void buf_free(struct spool *s)
{
	for (size_t i = s->bstart; i < s->bend; i++)
		free(s->buf[i].text);
	free(s->buf);
	s->buf = NULL;
	s->bstart = s->bend = s->bcap = 0;
}

static void spool_free(struct spool *s)
{
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	if (s->lockfd >= 0) {
		/* A clean exit leaves no PID behind; the file stays (see lock_take()). */
		if (ftruncate(s->lockfd, 0) != 0) {
			/* Only informative. */
		}
		close(s->lockfd);
	}
	buf_free(s);
	free(s->path);
	free(s);
}

/*
 * Why SQLite could not open or create path, in the system's words: its own
 * errno is that of its last attempt, which is not always the one that
 * mattered (EACCES on the directory then ENOENT from a retry). NULL when
 * the file system shows no reason.
 */
static const char *open_why(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	struct stat sb;

	if (stat(path, &sb) == 0)
		return access(path, R_OK | W_OK) == 0 ? NULL : strerror(errno);
	if (errno != ENOENT)
		return strerror(errno);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return NULL;
	return access(dir, W_OK | X_OK) == 0 ? NULL : strerror(errno);
}

struct spool *spool_open(const char *path, uint64_t max, char *err, size_t errlen)
{
	const char *label = path ? path : "(memory)";
	struct spool *s;
	int empty;

	store_set_err(err, errlen, "%s", "");
	if (path && !*path) {
		store_set_err(err, errlen, "spool: empty path");
		return NULL;
	}
	if (max < 1 || max > ID_MAX) {
		store_set_err(err, errlen, "spool %s: the bound must be at least 1 result", label);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(label))) {
		store_set_err(err, errlen, "spool %s: out of memory", label);
		free(s);
		return NULL;
	}
	s->lockfd = -1;
	s->max = max;
	s->bufmax = max < BUF_MAX ? (size_t)max : BUF_MAX;
	if (sqlite3_open_v2(path ? path : ":memory:", &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		const char *why = path ? open_why(path) : NULL;

		if (why)
			store_set_err(err, errlen, "spool %s: cannot open or create it: %s", label,
			              why);
		else if (s->db)
			db_err(s, err, errlen, "opening");
		else
			store_set_err(err, errlen, "spool %s: out of memory", label);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* SQLite falls back to reading a file it may not write: a spool must be written. */
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		const char *why = open_why(label);

		store_set_err(err, errlen, "spool %s: cannot write it: %s", label,
		              why ? why : "opened read-only");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_OPEN_MS);
	/* Before anything writes, the lock file included: what is not ours stays untouched. */
	if (check_kind(s, &empty, err, errlen) < 0)
		goto fail;
	if (path && lock_take(s, err, errlen) < 0)
		goto fail;
	if (set_wal(s, err, errlen) < 0)
		goto fail;
	/* FULL in WAL: one fsync per commit; see "Durability" above. */
	if (exec(s, "PRAGMA synchronous=FULL", "setting synchronous", err, errlen) < 0)
		goto fail;
	if (empty && create(s, err, errlen) < 0)
		goto fail;
	if (lease_open(s, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, ssql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
		                       NULL) != SQLITE_OK) {
			db_err(s, err, errlen, "preparing statements");
			goto fail;
		}
	}
	sqlite3_busy_timeout(s->db, BUSY_WRITE_MS);
	oldest_update(s);
	return s;
fail:
	spool_free(s);
	return NULL;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	/* Whoever wants to know that this failed flushes first; here it is the last chance. */
	spool_flush(s, NULL, 0);
	spool_free(s);
}

uint64_t spool_next_id(const struct spool *s)
{
	return s->next_id;
}

int spool_add(struct spool *s, uint64_t id, int64_t probe_ms, const char *text, size_t len)
{
	struct item *it;
	char *copy;

	/* ids increase; a length SQLite takes as an int. */
	if (id < s->next_id || id > ID_MAX - 1 || (!text && len) || len > INT_MAX) {
		errno = EINVAL;
		return -1;
	}
	copy = malloc(len + 1);
	if (!copy) {
		errno = ENOMEM;
		return -1;
	}
	if (len)
		memcpy(copy, text, len);
	copy[len] = '\0';
	/* The buffer is full (flushes fail): its oldest goes, as the bound would have it. */
	if (s->bend - s->bstart >= s->bufmax) {
		free(s->buf[s->bstart].text);
		s->bstart++;
		s->dropped++;
	}
	if (s->bend == s->bcap) {
		if (s->bstart > 0) {
			memmove(s->buf, s->buf + s->bstart,
			        (s->bend - s->bstart) * sizeof(*s->buf));
			s->bend -= s->bstart;
			s->bstart = 0;
		} else {
			size_t ncap = s->bcap ? s->bcap * 2 : 64;
			struct item *nb;

			if (ncap > s->bufmax)
				ncap = s->bufmax;
			nb = realloc(s->buf, ncap * sizeof(*nb));
			if (!nb) {
				free(copy);
				errno = ENOMEM;
				return -1;
			}
			s->buf = nb;
			s->bcap = ncap;
		}
	}
	it = &s->buf[s->bend++];
	it->id = id;
	it->probe_ms = probe_ms;
	it->text = copy;
	it->len = len;
	s->next_id = id + 1;
	if (s->nfile == 0) {
		s->oldest_ms = s->buf[s->bstart].probe_ms;
		s->first_id = s->buf[s->bstart].id;
	}
	return 0;
}

int spool_flush(struct spool *s, char *err, size_t errlen)
{
	uint64_t nbuf = s->bend - s->bstart;
	uint64_t depth = s->nfile + nbuf;
	uint64_t excess = depth > s->max ? depth - s->max : 0;
	uint64_t dfile = excess < s->nfile ? excess : s->nfile;
	uint64_t dbuf = excess - dfile;
	int lease = s->next_id + ID_LEASE / 2 > s->id_limit;
	uint64_t limit = s->next_id + ID_LEASE;

	if (nbuf == 0 && excess == 0 && !lease)
		return 0;
	if (step_done(s, S_BEGIN) < 0) {
		db_err(s, err, errlen, "beginning a write");
		return -1;
	}
	if (dfile > 0) {
		sqlite3_bind_int64(s->st[S_DROP], 1, (int64_t)dfile);
		if (step_done(s, S_DROP) < 0) {
			db_err(s, err, errlen, "dropping the oldest");
			goto fail;
		}
	}
	for (size_t i = s->bstart + (size_t)dbuf; i < s->bend; i++) {
		const struct item *it = &s->buf[i];

		sqlite3_bind_int64(s->st[S_INSERT], 1, (int64_t)it->id);
		sqlite3_bind_int64(s->st[S_INSERT], 2, it->probe_ms);
		sqlite3_bind_text(s->st[S_INSERT], 3, it->text, (int)it->len, SQLITE_STATIC);
		if (step_done(s, S_INSERT) < 0) {
			db_err(s, err, errlen, "writing a result");
			goto fail;
		}
	}
	if (lease) {
		sqlite3_bind_int64(s->st[S_LEASE], 1, (int64_t)limit);
		if (step_done(s, S_LEASE) < 0) {
			db_err(s, err, errlen, "writing the id lease");
			goto fail;
		}
	}
	if (step_done(s, S_COMMIT) < 0) {
		db_err(s, err, errlen, "committing");
		goto fail;
	}
	for (size_t i = s->bstart; i < s->bend; i++)
		free(s->buf[i].text);
	s->bstart = s->bend = 0;
	s->nfile = s->nfile - dfile + (nbuf - dbuf);
	s->dropped += excess;
	if (lease)
		s->id_limit = limit;
	oldest_update(s);
	return 0;
fail:
	/* Nothing of this flush is in the file; the buffer is as it was. */
	if (!sqlite3_get_autocommit(s->db))
		step_done(s, S_ROLLBACK);
	return -1;
}

/*
 * The file's rows first (their ids are below the buffer's), then the
 * buffer's. cb runs while a read of the file is open: it must not call
 * into the spool, and text lives only until it returns.
 */
int spool_peek(struct spool *s, uint64_t after, uint64_t upto, size_t n, size_t bytes,
               spool_row_cb cb, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->st[S_PEEK];
	size_t used = 0;
	int count = 0, rc = SQLITE_DONE;

	if (n > INT_MAX)
		n = INT_MAX;
	if (after > ID_MAX)
		after = ID_MAX;
	if (upto > ID_MAX)
		upto = ID_MAX;
	if (n == 0 || upto <= after)
		return 0;
	if (s->nfile > 0) {
		sqlite3_bind_int64(st, 1, (int64_t)after);
		sqlite3_bind_int64(st, 2, (int64_t)n);
		sqlite3_bind_int64(st, 3, (int64_t)upto);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *text = (const char *)sqlite3_column_text(st, 2);
			size_t len = (size_t)sqlite3_column_bytes(st, 2);

			if (count > 0 && len > bytes - used)
				break;
			cb((uint64_t)sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
			   text ? text : "", len, arg);
			used += len < bytes - used ? len : bytes - used;
			count++;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			db_err(s, err, errlen, "reading");
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return -1;
		if (rc == SQLITE_ROW) /* stopped at the byte bound */
			return count;
	}
	for (size_t i = s->bstart; i < s->bend && (size_t)count < n; i++) {
		const struct item *it = &s->buf[i];

		if (it->id <= after)
			continue;
		if (it->id > upto)
			break;
		if (count > 0 && it->len > bytes - used)
			break;
		cb(it->id, it->probe_ms, it->text, it->len, arg);
		used += it->len < bytes - used ? it->len : bytes - used;
		count++;
	}
	return count;
}

int spool_ack_range(struct spool *s, uint64_t lo, uint64_t hi, char *err, size_t errlen)
{
	size_t keep;
	int gone;

	/* From the network: an ack of what was never handed out would empty the spool. */
	if (hi >= s->next_id || lo > hi) {
		store_set_err(err, errlen,
		              "spool %s: ack of ids %llu-%llu, but the newest result has id %llu",
		              s->path, (unsigned long long)lo, (unsigned long long)hi,
		              (unsigned long long)(s->next_id - 1));
		return -1;
	}
	if (s->nfile > 0) {
		int rc;

		/*
		 * Without an fsync of its own (see "Durability"): a lost ack
		 * costs a batch sent again, which the controller knows, and
		 * the fsync stalled the node's probes under a replay.
		 */
		if (exec(s, "PRAGMA synchronous=NORMAL", "acknowledging", err, errlen) < 0)
			return -1;
		sqlite3_bind_int64(s->st[S_ACK], 1, (int64_t)lo);
		sqlite3_bind_int64(s->st[S_ACK], 2, (int64_t)hi);
		rc = step_done(s, S_ACK);
		if (rc < 0)
			db_err(s, err, errlen, "acknowledging");
		gone = rc < 0 ? 0 : sqlite3_changes(s->db);
		s->nfile -= (uint64_t)gone <= s->nfile ? (uint64_t)gone : s->nfile;
		/* Flushes stay durable. */
		if (exec(s, "PRAGMA synchronous=FULL", "acknowledging", rc < 0 ? NULL : err,
		         rc < 0 ? 0 : errlen) < 0 ||
		    rc < 0)
			return -1;
	}
	/* The buffer keeps its order: what is outside [lo, hi] closes up. */
	keep = s->bstart;
	for (size_t i = s->bstart; i < s->bend; i++) {
		if (s->buf[i].id >= lo && s->buf[i].id <= hi)
			free(s->buf[i].text);
		else
			s->buf[keep++] = s->buf[i];
	}
	s->bend = keep;
	if (s->bstart == s->bend)
		s->bstart = s->bend = 0;
	oldest_update(s);
	return 0;
}

int spool_ack(struct spool *s, uint64_t id, char *err, size_t errlen)
{
	return spool_ack_range(s, 0, id, err, errlen);
}

int spool_keep_assignments(struct spool *s, const char *text, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->db,
	                        "INSERT INTO meta (key, value) VALUES ('assignments', ?1) "
	                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	                        -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, text, (int)len, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
	if (rc != SQLITE_OK)
		db_err(s, err, errlen, "keeping the assignments");
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

int spool_load_assignments(struct spool *s, spool_text_cb cb, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'assignments'", -1,
	                            &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(st, 0);

			cb(t ? (const char *)t : NULL, t ? (size_t)sqlite3_column_bytes(st, 0) : 0,
			   arg);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			cb(NULL, 0, arg);
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK)
		db_err(s, err, errlen, "reading the assignments");
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

uint64_t spool_depth(const struct spool *s)
{
	return s->nfile + (s->bend - s->bstart);
}

uint64_t spool_dropped(const struct spool *s)
{
	return s->dropped;
}

int64_t spool_oldest_ms(const struct spool *s)
{
	return s->oldest_ms;
}

uint64_t spool_first_id(const struct spool *s)
{
	return s->first_id;
}

uint64_t spool_max(const struct spool *s)
{
	return s->max;
}
