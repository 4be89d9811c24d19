/* SPDX-License-Identifier: ISC */
/* benchstat.c - see benchstat.h. */
#include "benchstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			fputs("bench: out of memory\n", stderr);
			exit(1);
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

void samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the p-th (0..1) of n sorted samples. */
static double rank(const struct samples *s, double p)
{
	size_t i = (size_t)(p * (double)s->n + 0.999999);

	return s->v[i == 0 ? 0 : i > s->n ? s->n - 1 : i - 1];
}

struct pcts samples_pcts(struct samples *s)
{
	struct pcts p = {0};
	double sum = 0;

	if (!s->n)
		return p;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	p.p50 = rank(s, 0.50);
	p.p99 = rank(s, 0.99);
	p.max = s->v[s->n - 1];
	p.mean = sum / (double)s->n;
	return p;
}

double bench_self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

long long bench_proc_ticks(long pid, int kids, long *ppid)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	long long cut, cst;
	long parent;
	FILE *f;
	char *p;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: the fields follow the last ')'. */
	if (!(p = strrchr(buf, ')')))
		return -1;
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
	 * cutime cstime */
	if (sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld",
	           &parent, &ut, &st, &cut, &cst) != 5)
		return -1;
	if (ppid)
		*ppid = parent;
	return (long long)(ut + st) + (kids ? cut + cst : 0);
}

double bench_proc_cpu_ms(long pid)
{
	long long t = bench_proc_ticks(pid, 0, NULL);

	return t < 0 ? -1 : (double)t * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}
