/* SPDX-License-Identifier: ISC */
/*
 * store_crash.c - both halves of the store's durability test (crash.sh).
 *
 *   store_crash write DB PROGRESS
 *       Queue results without pause and flush every 100 ms, as the daemon
 *       does once a second. After each flush, PROGRESS holds the total of
 *       rows committed so far (replaced by rename, so never half written).
 *       On SIGTERM: flush what is queued, write the final total, close,
 *       exit 0.
 *   store_crash verify DB
 *       Open DB with the plain sqlite3 API, require PRAGMA integrity_check
 *       to say "ok", print the number of results, then open it as a store
 *       to show that it migrates and closes cleanly.
 *   store_crash hold DB
 *       Take SQLite's write lock on DB (BEGIN IMMEDIATE), print "held", and
 *       keep it until SIGTERM: a store whose every write fails with
 *       SQLITE_BUSY, as when another program keeps a transaction open.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/result.h"
#include "store/store.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int progress(const char *path, long long n)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%lld\n", n);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static int do_write(const char *db, const char *prog)
{
	struct sigaction sa;
	struct store *s;
	struct result r;
	char err[512];
	long long total = 0, seq = 0;
	int64_t last = mono_ms();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	if (store_open(&s, db, err, sizeof(err)) < 0) {
		fprintf(stderr, "store_crash: %s\n", err);
		return 1;
	}
	result_init(&r, 0);
	r.messages = -1;
	while (!stop) {
		struct timespec pause = {0, 2 * 1000 * 1000};

		/* ~50 rows per 2 ms: a few thousand per flush, so kill -9 often lands inside one.
		 */
		for (int i = 0; i < 50; i++) {
			r.status = seq % 7 ? MP_UP : MP_DOWN;
			r.severity = result_default_severity(r.status);
			r.reason = seq % 7 ? MP_R_OK : MP_R_TIMEOUT;
			r.ttg_us = 1000 + seq % 5000;
			snprintf(r.message, sizeof(r.message), "row %lld", seq);
			if (store_add_result(s, seq % 2 ? "imap-a" : "pop-b", "local",
			                     1714521600000LL + seq, &r) < 0)
				break;
			seq++;
		}
		if (mono_ms() - last >= 100) {
			int n = store_flush(s);

			if (n < 0) {
				fprintf(stderr, "store_crash: flush: %s\n", store_errmsg(s));
				return 1;
			}
			total += n;
			last = mono_ms();
			if (progress(prog, total) < 0) {
				perror("store_crash: progress");
				return 1;
			}
		}
		nanosleep(&pause, NULL);
	}
	{
		int n = store_flush(s);

		if (n < 0) {
			fprintf(stderr, "store_crash: final flush: %s\n", store_errmsg(s));
			return 1;
		}
		total += n;
	}
	store_close(s);
	return progress(prog, total) < 0 ? 1 : 0;
}

static int do_verify(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	struct store *s;
	char err[512];
	long long n = -1;
	int ok = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "store_crash: %s: %s\n", path, sqlite3_errmsg(db));
		return 1;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *v = (const char *)sqlite3_column_text(st, 0);

			ok = v && strcmp(v, "ok") == 0;
			if (!ok)
				fprintf(stderr, "store_crash: integrity_check: %s\n",
				        v ? v : "(null)");
		}
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM results", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	if (!ok || n < 0) {
		fprintf(stderr, "store_crash: %s does not open clean\n", path);
		return 1;
	}
	if (store_open(&s, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "store_crash: %s\n", err);
		return 1;
	}
	store_close(s);
	printf("%lld\n", n);
	return 0;
}

static int do_hold(const char *path)
{
	struct sigaction sa;
	sqlite3 *db;
	char *msg = NULL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "store_crash: %s: %s\n", path, sqlite3_errmsg(db));
		return 1;
	}
	/* The writer may be inside a flush: wait for it rather than fail. */
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "store_crash: %s: BEGIN IMMEDIATE: %s\n", path, msg ? msg : "");
		sqlite3_free(msg);
		sqlite3_close(db);
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	while (!stop)
		sleep(1); /* not pause(): a signal before it would be missed */
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2]);
	if (argc == 3 && strcmp(argv[1], "hold") == 0)
		return do_hold(argv[2]);
	fprintf(stderr, "usage: store_crash write DB PROGRESS | store_crash verify DB | "
	                "store_crash hold DB\n");
	return 2;
}
