/* SPDX-License-Identifier: ISC */
/*
 * benchstat.h - what the benches measure with, one copy: samples and their
 * nearest-rank percentiles, this process's CPU, another's from /proc.
 */
#ifndef MP_BENCH_BENCHSTAT_H
#define MP_BENCH_BENCHSTAT_H

#include <stddef.h>

struct samples {
	double *v;
	size_t n, cap;
};

/* Keep x; exits the bench when out of memory. */
void samples_add(struct samples *s, double x);
void samples_free(struct samples *s);

/* p50, p99 (nearest rank), max and mean; sorts s; zeros when empty. */
struct pcts {
	double p50, p99, max, mean;
};
struct pcts samples_pcts(struct samples *s);

/* This process's user + sys, ms. */
double bench_self_cpu_ms(void);
/*
 * utime + stime of pid in clock ticks (with its reaped children's when
 * kids), its parent in *ppid (NULL: not wanted); -1 when it is gone.
 */
long long bench_proc_ticks(long pid, int kids, long *ppid);
/* utime + stime of pid in ms; -1 when it is gone. */
double bench_proc_cpu_ms(long pid);

#endif
