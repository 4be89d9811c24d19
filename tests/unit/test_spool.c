/* SPDX-License-Identifier: ISC */
/*
 * test_spool.c - the node's outbox: order across flushes and restarts,
 * ids that never go back (acks, drops, reopen, a crash after a peek), the
 * bound and what it drops, peek's row and byte bounds, acks, files that
 * are not spools or are newer, a directory we cannot write, a flush that
 * fails and keeps its buffer, one writer per file, the memory spool.
 * Every test works in a fresh directory under /tmp.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/spool.h"

/* 2024-05-01T00:00:00Z */
#define T0 1714521600000LL

struct fixture {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mp-spool-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/spool.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const files[] = {"spool.db", "other.db", "junk"};
	static const char *const sides[] = {"", "-wal", "-shm", "-journal", ".lock"};
	char p[160];

	chmod(f->dir, 0700);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		for (size_t j = 0; j < sizeof(sides) / sizeof(sides[0]); j++) {
			snprintf(p, sizeof(p), "%s/%s%s", f->dir, files[i], sides[j]);
			unlink(p);
		}
	snprintf(p, sizeof(p), "%s/sub", f->dir);
	rmdir(p);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

/* ---- helpers ---- */

/* What peek passed: up to 64 rows, texts copied. */
struct seen {
	int n;
	uint64_t id[64];
	int64_t probe_ms[64];
	char text[64][2048];
	size_t len[64];
};

static void collect(uint64_t id, int64_t probe_ms, const char *text, size_t len, void *arg)
{
	struct seen *sn = arg;

	assert_true(sn->n < 64);
	assert_true(len < sizeof(sn->text[0]));
	sn->id[sn->n] = id;
	sn->probe_ms[sn->n] = probe_ms;
	memcpy(sn->text[sn->n], text, len);
	sn->text[sn->n][len] = '\0';
	sn->len[sn->n] = len;
	sn->n++;
}

static int peek(struct spool *s, uint64_t after, size_t n, size_t bytes, struct seen *sn)
{
	char err[256];
	int got;

	memset(sn, 0, sizeof(*sn));
	got = spool_peek(s, after, UINT64_MAX, n, bytes, collect, sn, err, sizeof(err));
	assert_int_equal(got, sn->n);
	return got;
}

/* Add one result "r<k>" at T0 + k s under the next id; returns the id. */
static uint64_t add(struct spool *s, int k)
{
	char text[64];
	uint64_t id = spool_next_id(s);
	int n = snprintf(text, sizeof(text), "{\"r\":%d}", k);

	assert_int_equal(spool_add(s, id, T0 + k * 1000LL, text, (size_t)n), 0);
	assert_int_equal(spool_next_id(s), id + 1);
	return id;
}

static void flush_ok(struct spool *s)
{
	char err[256] = "";

	if (spool_flush(s, err, sizeof(err)) != 0)
		fail_msg("flush: %s", err);
}

/* ids[0 .. infile) written to the file, then ids[infile .. infile + inbuf) buffered. */
static void fill(struct spool *s, uint64_t *ids, int infile, int inbuf)
{
	for (int k = 0; k < infile + inbuf; k++) {
		ids[k] = add(s, k);
		if (k == infile - 1)
			flush_ok(s);
	}
}

static struct spool *open_ok(const char *path, uint64_t max)
{
	char err[256] = "";
	struct spool *s = spool_open(path, max, err, sizeof(err));

	if (!s)
		fail_msg("open: %s", err);
	return s;
}

static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The open must fail with a message that names path and contains want. */
static void open_refused(const char *path, const char *want)
{
	char err[512] = "";

	assert_null(spool_open(path, 100, err, sizeof(err)));
	if (!strstr(err, path) || !strstr(err, want))
		fail_msg("message \"%s\" should name %s and say \"%s\"", err, path, want);
}

/* ---- tests ---- */

/* Results come back in the order added: from the buffer, the file, both, after a reopen. */
static void test_order_kept(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100);
	struct seen sn;
	uint64_t ids[8];

	assert_int_equal(spool_max(s), 100);
	assert_int_equal(spool_depth(s), 0);
	assert_int_equal(spool_oldest_ms(s), 0);
	for (int k = 0; k < 5; k++)
		ids[k] = add(s, k);
	/* Buffered only: peek sees them already. */
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 5);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 0);
	flush_ok(s);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 5);
	for (int k = 5; k < 8; k++)
		ids[k] = add(s, k);
	assert_int_equal(spool_depth(s), 8);
	assert_int_equal(spool_oldest_ms(s), T0);
	/* Five from the file, three from the buffer, one sequence. */
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 8);
	for (int k = 0; k < 8; k++) {
		char want[32];

		snprintf(want, sizeof(want), "{\"r\":%d}", k);
		assert_int_equal(sn.id[k], ids[k]);
		assert_int_equal(sn.probe_ms[k], T0 + k * 1000LL);
		assert_string_equal(sn.text[k], want);
		assert_int_equal(sn.len[k], strlen(want));
		if (k > 0)
			assert_true(sn.id[k] > sn.id[k - 1]);
	}
	/* Close flushes the buffer: a restart loses nothing that was added. */
	spool_close(s);
	s = open_ok(f->path, 100);
	assert_int_equal(spool_depth(s), 8);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 8);
	for (int k = 0; k < 8; k++) {
		assert_int_equal(sn.id[k], ids[k]);
		assert_int_equal(sn.probe_ms[k], T0 + k * 1000LL);
	}
	spool_close(s);
}

/* Ids only go up: after every row was acked, across reopens, and after drops. */
static void test_ids_increase(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 3);
	char err[256];
	uint64_t last = 0, id;

	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < 5; k++) {
			id = add(s, k);
			assert_true(id > last);
			last = id;
		}
		flush_ok(s);
		/* Two of the five went to the bound; the rest are acked: the file is empty. */
		assert_int_equal(spool_dropped(s), 2);
		assert_int_equal(spool_ack(s, last, err, sizeof(err)), 0);
		assert_int_equal(spool_depth(s), 0);
		assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 0);
		spool_close(s);
		s = open_ok(f->path, 3);
		assert_true(spool_next_id(s) > last);
		assert_int_equal(spool_dropped(s), 0); /* counted since open */
	}
	spool_close(s);
}

/*
 * A node that peeked buffered results (and may have sent them) and then
 * died before a flush: the ids it handed out are never given again.
 */
static void test_ids_after_crash(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	int fds[2], status;
	uint64_t handed = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct spool *c = spool_open(f->path, 100, NULL, 0);
		struct seen sn;
		uint64_t id = 0;

		if (!c)
			_exit(2);
		for (int k = 0; k < 3; k++) {
			id = spool_next_id(c);
			if (spool_add(c, id, T0 + k, "x", 1) != 0)
				_exit(3);
		}
		memset(&sn, 0, sizeof(sn));
		if (spool_peek(c, 0, UINT64_MAX, 10, 1 << 20, collect, &sn, NULL, 0) != 3 ||
		    sn.id[2] != id)
			_exit(4);
		if (write(fds[1], &id, sizeof(id)) != (ssize_t)sizeof(id))
			_exit(5);
		_exit(0); /* no flush, no close: a crash */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &handed, sizeof(handed)), (ssize_t)sizeof(handed));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(handed > 0);

	s = open_ok(f->path, 100);
	/* The crash lost the buffered results, but not the ids they had. */
	assert_int_equal(spool_depth(s), 0);
	assert_true(spool_next_id(s) > handed);
	spool_close(s);
}

/* max + k added: the oldest k go, are counted, and peek starts after them. */
static void test_bound(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 10);
	struct seen sn;
	uint64_t ids[14];

	/* All in the buffer: dropped as they come. */
	for (int k = 0; k < 13; k++)
		ids[k] = add(s, k);
	assert_int_equal(spool_dropped(s), 3);
	assert_int_equal(spool_depth(s), 10);
	assert_int_equal(spool_oldest_ms(s), T0 + 3000);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 10);
	assert_int_equal(sn.id[0], ids[3]);
	assert_int_equal(sn.id[9], ids[12]);
	flush_ok(s);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 10);
	assert_int_equal(spool_dropped(s), 3);

	/* The file full, one more: the file's oldest goes at the flush. */
	ids[13] = add(s, 13);
	assert_int_equal(spool_depth(s), 11); /* until the flush applies the bound */
	flush_ok(s);
	assert_int_equal(spool_dropped(s), 4);
	assert_int_equal(spool_depth(s), 10);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 10);
	assert_int_equal(sql_int(f->path, "SELECT min(id) FROM spool"), (int64_t)ids[4]);
	assert_int_equal(spool_oldest_ms(s), T0 + 4000);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 10);
	assert_int_equal(sn.id[0], ids[4]);
	assert_int_equal(sn.id[9], ids[13]);
	spool_close(s);

	/* Reopened with a smaller bound: the next flush cuts down to it. */
	s = open_ok(f->path, 4);
	assert_int_equal(spool_depth(s), 10);
	add(s, 14);
	flush_ok(s);
	assert_int_equal(spool_dropped(s), 7);
	assert_int_equal(spool_depth(s), 4);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 4);
	assert_int_equal(sn.id[0], ids[11]);
	spool_close(s);
}

/* At most n rows, at most bytes of text but at least one row, after a given id. */
static void test_peek_bounds(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100);
	struct seen sn;
	char text[100];
	uint64_t ids[6];

	memset(text, 'a', sizeof(text));
	for (int k = 0; k < 6; k++) {
		ids[k] = spool_next_id(s);
		assert_int_equal(spool_add(s, ids[k], T0 + k, text, sizeof(text)), 0);
		if (k == 2)
			flush_ok(s); /* three in the file, three buffered */
	}
	assert_int_equal(peek(s, 0, 4, 1 << 20, &sn), 4);
	assert_int_equal(sn.id[3], ids[3]);
	assert_int_equal(peek(s, 0, 100, 250, &sn), 2);
	assert_int_equal(peek(s, 0, 100, 300, &sn), 3);
	assert_int_equal(sn.id[2], ids[2]);
	/* Across the file/buffer seam. */
	assert_int_equal(peek(s, ids[1], 100, 300, &sn), 3);
	assert_int_equal(sn.id[0], ids[2]);
	assert_int_equal(sn.id[2], ids[4]);
	/* One row even when it alone is over the byte bound. */
	assert_int_equal(peek(s, 0, 100, 10, &sn), 1);
	assert_int_equal(sn.id[0], ids[0]);
	assert_int_equal(sn.len[0], sizeof(text));
	assert_int_equal(peek(s, ids[4], 100, 10, &sn), 1);
	assert_int_equal(sn.id[0], ids[5]);
	/* Nothing after the newest; nothing asked. */
	assert_int_equal(peek(s, ids[5], 100, 1 << 20, &sn), 0);
	assert_int_equal(peek(s, 0, 0, 1 << 20, &sn), 0);
	/* after within the buffer only. */
	assert_int_equal(peek(s, ids[3], 1, 1 << 20, &sn), 1);
	assert_int_equal(sn.id[0], ids[4]);
	spool_close(s);
}

/* An ack in the middle of the file, one in the buffer, one of an id never given. */
static void test_ack(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100);
	struct seen sn;
	char err[256] = "";
	uint64_t ids[6];

	fill(s, ids, 4, 2);

	assert_int_equal(spool_ack(s, ids[1], err, sizeof(err)), 0);
	assert_int_equal(spool_depth(s), 4);
	assert_int_equal(spool_oldest_ms(s), T0 + 2000);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 2);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 4);
	assert_int_equal(sn.id[0], ids[2]);

	/* Into the buffer: the file empties, the buffer keeps what is newer. */
	assert_int_equal(spool_ack(s, ids[4], err, sizeof(err)), 0);
	assert_int_equal(spool_depth(s), 1);
	assert_int_equal(spool_oldest_ms(s), T0 + 5000);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 0);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 1);
	assert_int_equal(sn.id[0], ids[5]);

	/* Again, or an older one: nothing changes. */
	assert_int_equal(spool_ack(s, ids[2], err, sizeof(err)), 0);
	assert_int_equal(spool_depth(s), 1);

	/* From a confused or hostile controller: refused, nothing lost. */
	assert_int_equal(spool_ack(s, ids[5] + 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "ack of ids"));
	assert_int_equal(spool_depth(s), 1);

	flush_ok(s);
	assert_int_equal(spool_ack(s, ids[5], err, sizeof(err)), 0);
	assert_int_equal(spool_depth(s), 0);
	assert_int_equal(spool_oldest_ms(s), 0);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 0);
	spool_close(s);
}

/*
 * Two lanes: a node sends the newest results while it replays the oldest,
 * and each batch is acked by its own range. Ranges in the file, in the
 * buffer and across both leave the rest, in order; peek's upper bound
 * keeps the replay lane below the live one.
 */
static void test_ack_range_and_upto(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100);
	struct seen sn;
	char err[256] = "";
	uint64_t ids[10];

	fill(s, ids, 6, 4);

	/* The replay lane stops below the live lane's first id (ids[4]). */
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(spool_peek(s, 0, ids[4] - 1, 100, 1 << 20, collect, &sn, err, sizeof(err)),
	                 4);
	assert_int_equal(sn.id[3], ids[3]);
	/* From the buffer too: (ids[6], ids[8]]. */
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(
	    spool_peek(s, ids[6], ids[8], 100, 1 << 20, collect, &sn, err, sizeof(err)), 2);
	assert_int_equal(sn.id[0], ids[7]);
	assert_int_equal(sn.id[1], ids[8]);
	/* An empty range. */
	assert_int_equal(
	    spool_peek(s, ids[5], ids[5], 100, 1 << 20, collect, &sn, err, sizeof(err)), 0);

	/* The live lane's batch, ids[4..7]: half in the file, half in the buffer. */
	assert_int_equal(spool_ack_range(s, ids[4], ids[7], err, sizeof(err)), 0);
	assert_int_equal(spool_depth(s), 6);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 4);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 6);
	assert_int_equal(sn.id[3], ids[3]);
	assert_int_equal(sn.id[4], ids[8]);
	assert_int_equal(sn.id[5], ids[9]);
	assert_int_equal(spool_oldest_ms(s), T0);

	/* The replay lane's batch, ids[0..1]: the oldest moves on, and the first id with it. */
	assert_int_equal(spool_first_id(s), ids[0]);
	assert_int_equal(spool_ack_range(s, ids[0], ids[1], err, sizeof(err)), 0);
	assert_int_equal(spool_oldest_ms(s), T0 + 2000);
	assert_int_equal(spool_first_id(s), ids[2]);

	/* Within the buffer only, then a flush writes what is left of it. */
	assert_int_equal(spool_ack_range(s, ids[9], ids[9], err, sizeof(err)), 0);
	flush_ok(s);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 3);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 3);
	assert_int_equal(sn.id[2], ids[8]);
	/* The backlog through: the node's lanes read that nothing waits below ids[4]. */
	assert_int_equal(spool_ack_range(s, ids[2], ids[3], err, sizeof(err)), 0);
	assert_int_equal(spool_first_id(s), ids[8]);
	assert_true(spool_first_id(s) >= ids[4]);

	/* A range the wrong way round, or past the newest: refused, nothing lost. */
	assert_int_equal(spool_ack_range(s, ids[3], ids[2], err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ack of ids"));
	assert_int_equal(spool_ack_range(s, ids[8], ids[9] + 1, err, sizeof(err)), -1);
	assert_int_equal(spool_depth(s), 1);
	spool_close(s);
}

/*
 * A spool deleted and made anew goes on above the old one's ids: the
 * controller takes a seq it has had as a duplicate, and would refuse every
 * result of a spool that started at 1 again.
 */
static void test_new_file_starts_above(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100);
	char lock[600];
	uint64_t last = 0;

	for (int k = 0; k < 3; k++)
		last = add(s, k);
	flush_ok(s);
	spool_close(s);
	assert_int_equal(unlink(f->path), 0);
	snprintf(lock, sizeof(lock), "%s-wal", f->path);
	(void)unlink(lock);
	snprintf(lock, sizeof(lock), "%s-shm", f->path);
	(void)unlink(lock);

	s = open_ok(f->path, 100);
	assert_int_equal(spool_depth(s), 0);
	assert_true(spool_next_id(s) > last);
	spool_close(s);
}

/* What a restart finds: the depth and the oldest probe time of what waits. */
static void test_reopen_state(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100);
	char err[256];
	uint64_t ids[5];

	for (int k = 0; k < 5; k++)
		ids[k] = add(s, k);
	flush_ok(s);
	assert_int_equal(spool_ack(s, ids[1], err, sizeof(err)), 0);
	spool_close(s);

	s = open_ok(f->path, 100);
	assert_int_equal(spool_depth(s), 3);
	assert_int_equal(spool_oldest_ms(s), T0 + 2000);
	assert_int_equal(spool_dropped(s), 0);
	spool_close(s);
}

/* Files that are not spools are refused, named, and left as they were. */
static void test_not_a_spool(void **state)
{
	struct fixture *f = *state;
	static const char junk[] = "this is not an SQLite file, but a file all the same\n";
	char p[128], lock[140], back[sizeof(junk)];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/junk", f->dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(junk, 1, sizeof(junk) - 1, fp), sizeof(junk) - 1);
	fclose(fp);
	open_refused(p, "not an SQLite database");
	fp = fopen(p, "r");
	assert_non_null(fp);
	assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(junk) - 1);
	fclose(fp);
	assert_memory_equal(back, junk, sizeof(junk) - 1);
	/* Not even a lock file beside it. */
	snprintf(lock, sizeof(lock), "%s.lock", p);
	assert_int_equal(access(lock, F_OK), -1);

	/* Another application's database. */
	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	sql_exec(p, "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('keep me')");
	open_refused(p, "not a mailpulse spool");
	assert_int_equal(sql_int(p, "SELECT count(*) FROM notes"), 1);
	assert_int_equal(sql_int(p, "SELECT count(*) FROM sqlite_master"), 1);
	unlink(p);

	/* The controller's store, given as a spool by mistake. */
	sql_exec(p, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	            "INSERT INTO meta VALUES ('schema_version', '4')");
	open_refused(p, "a mailpulse store");
	unlink(p);

	/* A spool whose version was lost. */
	sql_exec(f->path, "CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL);"
	                  "INSERT INTO meta VALUES ('kind', 'mailpulse-spool')");
	open_refused(f->path, "meta.version is missing");
}

/* A spool written by a newer mailpulse is not touched. */
static void test_newer_version(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100);

	add(s, 0);
	spool_close(s);
	assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key = 'version'"), 1);
	sql_exec(f->path, "UPDATE meta SET value = 2 WHERE key = 'version'");
	open_refused(f->path, "format version 2, newer than version 1");
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 1);
}

/* Where the file cannot be made: an error naming the path and why. */
static void test_unwritable_dir(void **state)
{
	struct fixture *f = *state;
	char p[160];

	snprintf(p, sizeof(p), "%s/missing/spool.db", f->dir);
	open_refused(p, "No such file or directory");
	/* A file where a directory should be. */
	snprintf(p, sizeof(p), "%s/junk", f->dir);
	sql_exec(p, "PRAGMA user_version = 1");
	snprintf(p, sizeof(p), "%s/junk/spool.db", f->dir);
	open_refused(p, "Not a directory");
	/* A bound of nothing is no spool. */
	assert_null(spool_open(f->path, 0, p, sizeof(p)));
	assert_non_null(strstr(p, f->path));
	assert_non_null(strstr(p, "at least 1"));
	assert_int_equal(access(f->path, F_OK), -1);
	/* Permissions hold only for a user other than root (the suite may run as root). */
	if (geteuid() != 0) {
		snprintf(p, sizeof(p), "%s/sub", f->dir);
		assert_int_equal(mkdir(p, 0500), 0);
		snprintf(p, sizeof(p), "%s/sub/spool.db", f->dir);
		open_refused(p, "Permission denied");
		/* A spool file we may read but not write. */
		spool_close(open_ok(f->path, 100));
		assert_int_equal(chmod(f->path, 0400), 0);
		open_refused(f->path, "cannot write it: Permission denied");
	}
}

/* Another writer holds the file: the flush fails, keeps every result, and works later. */
static void test_flush_error_keeps_buffer(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100);
	struct seen sn;
	char err[256] = "";
	sqlite3 *db;

	for (int k = 0; k < 5; k++)
		add(s, k);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(spool_flush(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "database is locked"));
	assert_non_null(strstr(err, "(SQLITE_BUSY)"));
	assert_int_equal(spool_depth(s), 5);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 5);
	/* More while the file is locked. */
	add(s, 5);
	assert_int_equal(spool_flush(s, err, sizeof(err)), -1);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	flush_ok(s);
	assert_int_equal(spool_depth(s), 6);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 6);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 6);
	assert_string_equal(sn.text[5], "{\"r\":5}");
	spool_close(s);
}

/* While flushes fail, the buffer stays bounded: its oldest go, counted. */
static void test_buffer_bounded(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 1000000);
	struct seen sn;
	char err[256] = "";
	sqlite3 *db;
	uint64_t first = 0;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	for (int k = 0; k < 10005; k++) {
		uint64_t id = add(s, k);

		if (k == 5)
			first = id;
	}
	assert_int_equal(spool_flush(s, err, sizeof(err)), -1);
	assert_int_equal(spool_dropped(s), 5);
	assert_int_equal(spool_depth(s), 10000);
	assert_int_equal(peek(s, 0, 1, 1 << 20, &sn), 1);
	assert_int_equal(sn.id[0], first);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	flush_ok(s);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM spool"), 10000);
	spool_close(s);
}

/* One node per spool file. */
static void test_one_writer(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_ok(f->path, 100), *s2;
	char want[64];

	snprintf(want, sizeof(want), "in use by another process (pid %ld)", (long)getpid());
	open_refused(f->path, want);
	spool_close(s);
	s2 = open_ok(f->path, 100);
	spool_close(s2);
}

/* ids must increase; a memory spool behaves as a file does, and is gone at close. */
static void test_memory_and_bad_ids(void **state)
{
	struct spool *s = open_ok(NULL, 3);
	struct seen sn;
	char err[256] = "";
	uint64_t id, a, b;

	(void)state;
	id = spool_next_id(s);
	assert_true(id >= 1);
	assert_int_equal(spool_add(s, id - 1, T0, "x", 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(spool_add(s, id + 5, T0, "x", 1), 0); /* gaps are allowed */
	assert_int_equal(spool_next_id(s), id + 6);
	assert_int_equal(spool_add(s, id + 5, T0, "x", 1), -1);
	assert_int_equal(spool_add(s, id + 6, T0, NULL, 5), -1);
	a = add(s, 1);
	flush_ok(s);
	b = add(s, 2);
	add(s, 3);
	flush_ok(s);
	assert_int_equal(spool_dropped(s), 1);
	assert_int_equal(spool_depth(s), 3);
	assert_int_equal(peek(s, 0, 100, 1 << 20, &sn), 3);
	assert_int_equal(sn.id[0], a);
	assert_int_equal(spool_ack(s, b, err, sizeof(err)), 0);
	assert_int_equal(spool_depth(s), 1);
	assert_int_equal(spool_oldest_ms(s), T0 + 3000);
	/* An empty result text is still a row. */
	id = spool_next_id(s);
	assert_int_equal(spool_add(s, id, T0, "", 0), 0);
	flush_ok(s);
	assert_int_equal(peek(s, id - 1, 100, 1 << 20, &sn), 1);
	assert_int_equal(sn.len[0], 0);
	spool_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ids_increase, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ids_after_crash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peek_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_a_spool, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_error_keeps_buffer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_buffer_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_writer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack_range_and_upto, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_file_starts_above, setup, teardown),
	    cmocka_unit_test(test_memory_and_bad_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
