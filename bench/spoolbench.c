/* SPDX-License-Identifier: ISC */
/*
 * spoolbench.c - the probing node's spool (src/store/spool.c) at the size
 * issue 12 names: N results of about SIZE bytes added and flushed in
 * batches, as a node cut off from its controller spools them, then
 * replayed: peeked and acked in batches, as the uplink does once the
 * controller is back, with LIVE new results added and flushed per replayed
 * batch (a node keeps probing while it replays). Goal of the issue:
 * 100,000 results replayed in under 60 s without stalling live results.
 * The spool's flushes and acks run on the node's loop, so the longest one
 * is what a probe's timing could suffer: it is printed too.
 *
 *   spoolbench [--dir DIR] [--n N] [--size BYTES] [--flush N] [--batch N]
 *              [--live N] [--max N]
 *
 * The file is made in DIR (default: the current directory; a disk, not
 * tmpfs, or fsync costs nothing) and removed at the end. Prints figures
 * and one RESULT line for bench/run.sh.
 */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/spool.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* p50/p99/max of n samples (sorted in place), in ms. */
static void pct(double *v, size_t n, double *p50, double *p99, double *max)
{
	*p50 = *p99 = *max = 0;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	*p50 = v[n / 2] * 1000;
	*p99 = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] * 1000;
	*max = v[n - 1] * 1000;
}

/* A result's JSON as the node would spool it, about size bytes, distinct per id. */
static size_t body(char *buf, size_t size, uint64_t id, int64_t probe_ms)
{
	int n =
	    snprintf(buf, size,
	             "{\"check\":\"imap-%05llu\",\"location\":\"eu-west\",\"seq\":%llu,"
	             "\"probe_ms\":%lld,\"status\":\"up\",\"reason\":\"ok\",\"message\":\"\","
	             "\"greeting\":\"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID "
	             "ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\",\"pad\":\"",
	             (unsigned long long)(id % 10000), (unsigned long long)id, (long long)probe_ms);
	size_t len = (size_t)n;

	for (; len + 2 < size - 1; len++)
		buf[len] = (char)('a' + (id + len) % 26);
	buf[len++] = '"';
	buf[len++] = '}';
	buf[len] = '\0';
	return len;
}

struct replay {
	uint64_t last;
	size_t rows, bytes;
};

static void on_row(uint64_t id, int64_t probe_ms, const char *text, size_t len, void *arg)
{
	struct replay *r = arg;

	(void)probe_ms;
	(void)text;
	if (id <= r->last) {
		fprintf(stderr, "spoolbench: out of order: %llu after %llu\n",
		        (unsigned long long)id, (unsigned long long)r->last);
		exit(1);
	}
	r->last = id;
	r->rows++;
	r->bytes += len;
}

static off_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},   {"n", required_argument, NULL, 'n'},
	    {"size", required_argument, NULL, 's'},  {"flush", required_argument, NULL, 'f'},
	    {"batch", required_argument, NULL, 'b'}, {"live", required_argument, NULL, 'l'},
	    {"max", required_argument, NULL, 'm'},   {NULL, 0, NULL, 0},
	};
	const char *dir = ".";
	long n = 100000, size = 1500, fl = 500, batch = 1000, live = 20, max = 0;
	char path[4096], side[4200], err[512], *buf;
	struct spool *s;
	struct replay rp = {0};
	double t0, t1, c0, c1, *fs, *ps, p50, p99, pmax;
	size_t nfs = 0, nps = 0, cap;
	off_t db_bytes, wal_bytes;
	long added = 0, live_added = 0;
	uint64_t backlog;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 's':
			size = atol(optarg);
			break;
		case 'f':
			fl = atol(optarg);
			break;
		case 'b':
			batch = atol(optarg);
			break;
		case 'l':
			live = atol(optarg);
			break;
		case 'm':
			max = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: spoolbench [--dir DIR] [--n N] [--size BYTES] "
			                "[--flush N] [--batch N] [--live N] [--max N]\n");
			return 2;
		}
	}
	if (n < 1 || size < 256 || fl < 1 || batch < 1 || live < 0) {
		fprintf(stderr, "spoolbench: n, flush, batch >= 1; size >= 256; live >= 0\n");
		return 2;
	}
	if (max <= 0)
		max = n + n / 2; /* nothing dropped: the bound is not what this measures */
	snprintf(path, sizeof(path), "%s/spoolbench-%ld.db", dir, (long)getpid());
	buf = malloc((size_t)size + 1);
	cap = (size_t)(n / fl + n / batch + 16) * 2;
	fs = calloc(cap, sizeof(*fs));
	ps = calloc(cap, sizeof(*ps));
	if (!buf || !fs || !ps)
		return 1;
	s = spool_open(path, (uint64_t)max, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "spoolbench: %s\n", err);
		return 1;
	}

	/* ---- spooling: the controller is away ---- */
	t0 = now_s();
	c0 = cpu_s();
	for (long i = 0; i < n; i++) {
		uint64_t id = spool_next_id(s);
		size_t len = body(buf, (size_t)size + 1, id, 1714521600000LL + i * 30);

		if (spool_add(s, id, 1714521600000LL + i * 30, buf, len) != 0) {
			fprintf(stderr, "spoolbench: add failed\n");
			return 1;
		}
		added++;
		if (added % fl == 0 || i == n - 1) {
			double f0 = now_s();

			if (spool_flush(s, err, sizeof(err)) != 0) {
				fprintf(stderr, "spoolbench: %s\n", err);
				return 1;
			}
			if (nfs < cap)
				fs[nfs++] = now_s() - f0;
		}
	}
	t1 = now_s();
	c1 = cpu_s();
	db_bytes = file_size(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	wal_bytes = file_size(side);
	pct(fs, nfs, &p50, &p99, &pmax);
	printf("sqlite=%s\n", sqlite3_libversion());
	printf("spool: %ld results of %ld bytes, flushed every %ld: %.0f rows/s, %.0f ms "
	       "(CPU %.0f ms); flush p50/p99/max %.2f/%.2f/%.2f ms; file %.1f MB + WAL %.1f MB; "
	       "depth %llu\n",
	       n, size, fl, (double)n / (t1 - t0), (t1 - t0) * 1000, (c1 - c0) * 1000, p50, p99,
	       pmax, (double)db_bytes / 1e6, (double)wal_bytes / 1e6,
	       (unsigned long long)spool_depth(s));
	printf("RESULT bench=spool phase=spool n=%ld size=%ld flush=%ld rate=%.0f wall_ms=%.0f "
	       "cpu_ms=%.0f flush_p50_ms=%.2f flush_p99_ms=%.2f flush_max_ms=%.2f db_mb=%.1f "
	       "wal_mb=%.1f\n",
	       n, size, fl, (double)n / (t1 - t0), (t1 - t0) * 1000, (c1 - c0) * 1000, p50, p99,
	       pmax, (double)db_bytes / 1e6, (double)wal_bytes / 1e6);

	/* ---- replay: the controller is back; live results keep coming ---- */
	backlog = spool_next_id(s) - 1;
	nfs = 0;
	t0 = now_s();
	c0 = cpu_s();
	for (;;) {
		double b0 = now_s(), f0;
		int got =
		    spool_peek(s, 0, UINT64_MAX, (size_t)batch, (size_t)batch * (size_t)(size + 64),
		               on_row, &rp, err, sizeof(err));

		if (got < 0) {
			fprintf(stderr, "spoolbench: %s\n", err);
			return 1;
		}
		if (got == 0)
			break;
		if (spool_ack(s, rp.last, err, sizeof(err)) != 0) {
			fprintf(stderr, "spoolbench: %s\n", err);
			return 1;
		}
		if (nps < cap)
			ps[nps++] = now_s() - b0;
		/* The probes did not stop meanwhile (until the backlog is through). */
		for (long i = 0; rp.last < backlog && i < live; i++) {
			uint64_t id = spool_next_id(s);
			size_t len = body(buf, (size_t)size + 1, id, 1714600000000LL + live_added);

			if (spool_add(s, id, 1714600000000LL + live_added, buf, len) != 0)
				return 1;
			live_added++;
		}
		f0 = now_s();
		if (live && spool_flush(s, err, sizeof(err)) != 0) {
			fprintf(stderr, "spoolbench: %s\n", err);
			return 1;
		}
		if (live && nfs < cap)
			fs[nfs++] = now_s() - f0;
	}
	t1 = now_s();
	c1 = cpu_s();
	if (rp.rows != (size_t)(n + live_added) || spool_depth(s) != 0) {
		fprintf(stderr, "spoolbench: replayed %zu of %ld, depth %llu\n", rp.rows,
		        n + live_added, (unsigned long long)spool_depth(s));
		return 1;
	}
	{
		double q50, q99, qmax;

		pct(ps, nps, &p50, &p99, &pmax);
		pct(fs, nfs, &q50, &q99, &qmax);
		printf(
		    "replay: %zu results (%ld spooled + %ld live, %ld live per batch) in batches "
		    "of %ld: %.0f rows/s, %.0f ms (CPU %.0f ms), %.1f MB; peek+ack p50/p99/max "
		    "%.2f/%.2f/%.2f ms; live flush p50/p99/max %.2f/%.2f/%.2f ms\n",
		    rp.rows, n, live_added, live, batch, (double)rp.rows / (t1 - t0),
		    (t1 - t0) * 1000, (c1 - c0) * 1000, (double)rp.bytes / 1e6, p50, p99, pmax, q50,
		    q99, qmax);
		printf("RESULT bench=spool phase=replay rows=%zu live=%ld batch=%ld rate=%.0f "
		       "wall_ms=%.0f cpu_ms=%.0f batch_p50_ms=%.2f batch_p99_ms=%.2f "
		       "batch_max_ms=%.2f live_flush_p99_ms=%.2f live_flush_max_ms=%.2f\n",
		       rp.rows, live_added, batch, (double)rp.rows / (t1 - t0), (t1 - t0) * 1000,
		       (c1 - c0) * 1000, p50, p99, pmax, q99, qmax);
	}
	spool_close(s);
	unlink(path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s.lock", path);
	unlink(side);
	free(buf);
	free(fs);
	free(ps);
	return 0;
}
