/* SPDX-License-Identifier: ISC */
/*
 * enginebench - figures for the probe engine, its floors and its peers.
 *
 *   enginebench engine   --mode M --port P --ca FILE [common]
 *   enginebench floor    --mode M --port P --ca FILE [--dialogue] [common]
 *   enginebench crypto   [--iters K]
 *   enginebench blackbox --http-port P --module NAME --target HOST:PORT --bb-pid PID [common]
 *   enginebench spawn    [--n N] [--expect-rc RC] -- PROGRAM ARG...
 *   enginebench versions
 *
 *   common: [--n N] [-c C] [--warmup W] [--server-pid PID] [--label TEXT]
 *
 * Modes: imap imap+starttls imaps pop3 pop3+stls pop3s. The target is
 * "mail.bench.test" pinned to 127.0.0.1 (as --resolve does), so SNI and
 * host name verification run as they would against a real server.
 *
 * Every measurement runs in a process of its own, so getrusage(RUSAGE_SELF)
 * and ru_maxrss belong to that measurement alone. Each prints one
 * "RESULT key=value ..." line that bench/run.sh collects; nothing here
 * judges a figure. A benchmark, not a test: it never asserts speed.
 *
 * Traffic goes to 127.0.0.1 only. Every loop is bounded in count (N) and in
 * time (each probe's own deadline; the floor and HTTP clients have one too).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include "engine/probe.h"
#include "core/result.h"
#include "spec/target.h"
#include "engine/tls.h"

#define BENCH_HOST  "mail.bench.test"
#define N_MAX       1000000
#define C_MAX       10000
#define DEADLINE_MS 10000 /* per probe, engine and floor alike */
#define FLOOR_BUF   4096

struct mode_def {
	const char *name;
	enum mp_proto proto;
	int implicit;
	int starttls;
};

static const struct mode_def modes[] = {
    {"imap", MP_IMAP, 0, 0}, {"imap+starttls", MP_IMAP, 0, 1}, {"imaps", MP_IMAP, 1, 0},
    {"pop3", MP_POP3, 0, 0}, {"pop3+stls", MP_POP3, 0, 1},     {"pop3s", MP_POP3, 1, 0},
};

struct opts {
	const struct mode_def *mode;
	int port;
	const char *ca;
	long n;
	long conc;
	long warmup;
	long server_pid;
	int dialogue;
	int no_chain;   /* floor: skip X509_verify_cert (what a chain-verdict cache would save) */
	int changelist; /* engine: EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST on the loop */
	int no_reuse;   /* engine: verify every chain in full (no verdict reuse) */
	long iters;
	const char *label;
	/* blackbox */
	int http_port;
	const char *module;
	const char *target;
	long bb_pid;
	/* spawn */
	int expect_rc;
	char **argv;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("enginebench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* ---- measuring ---------------------------------------------------------- */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_ms(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000.0 +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000.0;
}

static double tv_ms(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1000.0 + (double)tv->tv_usec / 1000.0;
}

/* Resident set now, in KiB (statm counts pages). */
static long rss_now_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* utime+stime of another process in ms, from /proc/PID/stat; -1 if unknown. */
static double proc_cpu_ms(long pid)
{
	char path[64], buf[2048];
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long ut = 0, st = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Percentile q (0..1) of v[0..n), in ms; sorts v. -1 when empty. */
static double pct_ms(int64_t *v, size_t n, double q)
{
	if (n == 0)
		return -1;
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/* Latencies of one run: total, time to greeting, and as the driver saw them. */
struct lat {
	int64_t *tot, *ttg, *e2e;
	size_t ntot, nttg, ne2e;
};

static void lat_alloc(struct lat *l, long n)
{
	memset(l, 0, sizeof(*l));
	l->tot = calloc((size_t)n, sizeof(int64_t));
	l->ttg = calloc((size_t)n, sizeof(int64_t));
	l->e2e = calloc((size_t)n, sizeof(int64_t));
	if (!l->tot || !l->ttg || !l->e2e)
		die("out of memory");
}

static void lat_print(struct lat *l)
{
	printf(" tot_p50_ms=%.3f tot_p99_ms=%.3f tot_max_ms=%.3f", pct_ms(l->tot, l->ntot, 0.5),
	       pct_ms(l->tot, l->ntot, 0.99), pct_ms(l->tot, l->ntot, 1.0));
	printf(" ttg_p50_ms=%.3f ttg_p99_ms=%.3f ttg_max_ms=%.3f", pct_ms(l->ttg, l->nttg, 0.5),
	       pct_ms(l->ttg, l->nttg, 0.99), pct_ms(l->ttg, l->nttg, 1.0));
	printf(" e2e_p50_ms=%.3f e2e_p99_ms=%.3f e2e_max_ms=%.3f", pct_ms(l->e2e, l->ne2e, 0.5),
	       pct_ms(l->e2e, l->ne2e, 0.99), pct_ms(l->e2e, l->ne2e, 1.0));
}

/* A measured span: CPU and wall of this process, CPU of the server process. */
struct span {
	struct rusage ru0;
	int64_t t0;
	double srv0;
	long rss0;
};

static void span_begin(struct span *s, long server_pid)
{
	s->rss0 = rss_now_kb();
	s->srv0 = proc_cpu_ms(server_pid);
	getrusage(RUSAGE_SELF, &s->ru0);
	s->t0 = now_us();
}

/* Prints the common part of a RESULT line. */
static void span_end(const struct span *s, const struct opts *o, const char *bench, long ok,
                     long fail)
{
	struct rusage ru;
	int64_t t1 = now_us();

	getrusage(RUSAGE_SELF, &ru);
	double srv1 = proc_cpu_ms(o->server_pid);
	double wall_s = (double)(t1 - s->t0) / 1e6;
	double cpu = cpu_ms(&ru) - cpu_ms(&s->ru0);
	double user = tv_ms(&ru.ru_utime) - tv_ms(&s->ru0.ru_utime);
	double sys = tv_ms(&ru.ru_stime) - tv_ms(&s->ru0.ru_stime);
	long conc = o->conc < o->n ? o->conc : o->n;

	printf("RESULT bench=%s mode=%s label=%s n=%ld c=%ld ok=%ld fail=%ld wall_s=%.3f "
	       "rate=%.1f cpu_ms=%.4f user_ms=%.4f sys_ms=%.4f rss_peak_kb=%ld rss_base_kb=%ld "
	       "rss_per_inflight_kb=%.1f srv_cpu_pct=%.1f",
	       bench, o->mode ? o->mode->name : "-", o->label ? o->label : "-", o->n, conc, ok,
	       fail, wall_s, (double)o->n / wall_s, cpu / (double)o->n, user / (double)o->n,
	       sys / (double)o->n, ru.ru_maxrss, s->rss0,
	       (double)(ru.ru_maxrss - s->rss0) / (double)conc,
	       (s->srv0 >= 0 && srv1 >= 0) ? 100.0 * (srv1 - s->srv0) / ((double)(t1 - s->t0) / 1e3)
	                                   : -1.0);
}

/* ---- the engine ---------------------------------------------------------- */

struct eng_run;

struct eng_slot {
	struct eng_run *run;
	int64_t t0;
};

struct eng_run {
	struct probe_env env;
	const struct check *c;
	long n, started, done, ok, fail;
	struct eng_slot *slots;
	struct lat lat;
	int measure;
	char tls_version[16], tls_cipher[64];
	char first_fail[RESULT_MSG_MAX + 64];
	int warned;
};

static void eng_start_next(struct eng_run *r);

static void eng_done(const struct result *res, void *arg)
{
	struct eng_slot *s = arg;
	struct eng_run *r = s->run;
	int64_t t = now_us();

	r->done++;
	if (res->status == MP_UP) {
		r->ok++;
	} else {
		r->fail++;
		if (!r->first_fail[0])
			snprintf(r->first_fail, sizeof(r->first_fail), "%s %s: %s",
			         result_status_name(res->status), result_reason_name(res->reason),
			         res->message);
	}
	if (res->nwarnings > 0 && !r->warned) {
		r->warned = 1;
		fprintf(stderr, "enginebench: note: probe warning: %s\n", res->warnings[0]);
	}
	if (r->measure) {
		if (res->phase_us[MP_PH_TOTAL] >= 0)
			r->lat.tot[r->lat.ntot++] = res->phase_us[MP_PH_TOTAL];
		if (res->ttg_us >= 0)
			r->lat.ttg[r->lat.nttg++] = res->ttg_us;
		r->lat.e2e[r->lat.ne2e++] = t - s->t0;
	}
	if (res->tls.used && !r->tls_version[0]) {
		snprintf(r->tls_version, sizeof(r->tls_version), "%s", res->tls.version);
		snprintf(r->tls_cipher, sizeof(r->tls_cipher), "%s", res->tls.cipher);
	}
	eng_start_next(r);
}

static void eng_start_next(struct eng_run *r)
{
	if (r->started >= r->n)
		return;
	struct eng_slot *s = &r->slots[r->started++];
	s->run = r;
	s->t0 = now_us();
	if (!probe_start(&r->env, r->c, eng_done, s))
		die("probe_start: out of memory");
}

/* Run n probes with at most conc in flight; returns when all have reported. */
static void eng_run_batch(struct eng_run *r, struct event_base *base, long n, long conc)
{
	r->n = n;
	r->started = r->done = r->ok = r->fail = 0;
	for (long i = 0; i < conc && i < n; i++)
		eng_start_next(r);
	/* The resolver keeps events registered: loop until every probe has reported. */
	while (r->done < n) {
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			die("event loop failed");
	}
}

static void make_check(struct check *c, const struct opts *o)
{
	char url[TARGET_URL_MAX], err[256];
	const struct mode_def *m = o->mode;
	const char *scheme = m->proto == MP_IMAP ? (m->implicit ? "imaps" : "imap")
	                                         : (m->implicit ? "pop3s" : "pop3");

	check_defaults(c);
	snprintf(url, sizeof(url), "%s://%s:%d", scheme, BENCH_HOST, o->port);
	if (target_parse(&c->target, url, err, sizeof(err)) != 0)
		die("%s: %s", url, err);
	c->resolve[0] = "127.0.0.1";
	c->n_resolve = 1;
	c->ca_file = o->ca;
	c->timeout_ms = DEADLINE_MS;
	c->starttls = m->starttls ? STARTTLS_REQUIRE : STARTTLS_AUTO;
}

static int cmd_engine(const struct opts *o)
{
	struct event_config *cfg = event_config_new();
	struct eng_run r;
	struct check c;
	char err[256];

	/* The loop is the caller's (check.c, the daemon): --changelist tries a flag they could set.
	 */
	if (!cfg || (o->changelist &&
	             event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) != 0))
		die("event_config");
	struct event_base *base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!base)
		die("event_base_new");
	memset(&r, 0, sizeof(r));
	make_check(&c, o);
	r.c = &c;
	if (probe_env_init(&r.env, base, err, sizeof(err)) != 0)
		die("probe_env_init: %s", err);
	tls_cache_set_reuse(r.env.tls, !o->no_reuse);
	r.slots = calloc((size_t)(o->n > o->warmup ? o->n : o->warmup) + 1, sizeof(*r.slots));
	if (!r.slots)
		die("out of memory");
	lat_alloc(&r.lat, o->n);

	/* Warm-up: the shared SSL_CTX and trust store load, first allocations. Not counted. */
	if (o->warmup > 0) {
		eng_run_batch(&r, base, o->warmup, 2);
		if (r.fail)
			die("warm-up failed (%ld of %ld): %s", r.fail, o->warmup, r.first_fail);
	}
	r.measure = 1;
	struct span sp;
	span_begin(&sp, o->server_pid);
	eng_run_batch(&r, base, o->n, o->conc);
	span_end(&sp, o, "engine", r.ok, r.fail);
	lat_print(&r.lat);
	printf(" tls=%s cipher=%s\n", r.tls_version[0] ? r.tls_version : "-",
	       r.tls_cipher[0] ? r.tls_cipher : "-");
	if (r.fail)
		fprintf(stderr, "enginebench: %ld probe(s) not up; first: %s\n", r.fail,
		        r.first_fail);
	probe_env_free(&r.env);
	event_base_free(base);
	free(r.slots);
	return r.fail ? 1 : 0;
}

/* ---- the floors: bare epoll clients ------------------------------------- */

enum fop {
	F_TLS,  /* client handshake */
	F_RECV, /* read lines until one starts with arg ("." matches only ".") */
	F_SEND, /* send arg */
	F_END,
};

struct fstep {
	enum fop op;
	const char *arg;
};

/* The exact exchanges the engine has, for --dialogue; else greeting only. */
static const struct fstep fs_imap[] = {{F_RECV, "* OK"}, {F_SEND, "A1 CAPABILITY\r\n"},
                                       {F_RECV, "A1 "},  {F_SEND, "A2 LOGOUT\r\n"},
                                       {F_RECV, "A2 "},  {F_END, NULL}};
static const struct fstep fs_imap_starttls[] = {{F_RECV, "* OK"},
                                                {F_SEND, "A1 CAPABILITY\r\n"},
                                                {F_RECV, "A1 "},
                                                {F_SEND, "A2 STARTTLS\r\n"},
                                                {F_RECV, "A2 "},
                                                {F_TLS, NULL},
                                                {F_SEND, "A3 CAPABILITY\r\n"},
                                                {F_RECV, "A3 "},
                                                {F_SEND, "A4 LOGOUT\r\n"},
                                                {F_RECV, "A4 "},
                                                {F_END, NULL}};
static const struct fstep fs_imaps[] = {
    {F_TLS, NULL},   {F_RECV, "* OK"},          {F_SEND, "A1 CAPABILITY\r\n"},
    {F_RECV, "A1 "}, {F_SEND, "A2 LOGOUT\r\n"}, {F_RECV, "A2 "},
    {F_END, NULL}};
static const struct fstep fs_pop3[] = {{F_RECV, "+OK"},      {F_SEND, "CAPA\r\n"}, {F_RECV, "."},
                                       {F_SEND, "QUIT\r\n"}, {F_RECV, "+OK"},      {F_END, NULL}};
static const struct fstep fs_pop3_stls[] = {
    {F_RECV, "+OK"},      {F_SEND, "CAPA\r\n"}, {F_RECV, "."},        {F_SEND, "STLS\r\n"},
    {F_RECV, "+OK"},      {F_TLS, NULL},        {F_SEND, "CAPA\r\n"}, {F_RECV, "."},
    {F_SEND, "QUIT\r\n"}, {F_RECV, "+OK"},      {F_END, NULL}};
static const struct fstep fs_pop3s[] = {{F_TLS, NULL}, {F_RECV, "+OK"},      {F_SEND, "CAPA\r\n"},
                                        {F_RECV, "."}, {F_SEND, "QUIT\r\n"}, {F_RECV, "+OK"},
                                        {F_END, NULL}};
static const struct fstep fs_greet_imap[] = {{F_RECV, "* OK"}, {F_END, NULL}};
static const struct fstep fs_greet_pop3[] = {{F_RECV, "+OK"}, {F_END, NULL}};
static const struct fstep fs_greet_imaps[] = {{F_TLS, NULL}, {F_RECV, "* OK"}, {F_END, NULL}};
static const struct fstep fs_greet_pop3s[] = {{F_TLS, NULL}, {F_RECV, "+OK"}, {F_END, NULL}};

struct fconn {
	int fd;
	SSL *ssl;
	const struct fstep *step;
	uint32_t events; /* epoll interest now */
	int connected;
	int64_t t0, tgreet;
	size_t len;
	char buf[FLOOR_BUF];
};

struct floor_run {
	int ep;
	SSL_CTX *ctx;
	const struct fstep *script;
	struct sockaddr_in sin;
	long n, started, done, ok, fail;
	struct lat lat;
	int measure;
	char first_fail[160];
	char tls_version[16], tls_cipher[64], tls_group[32];
};

static void fl_fail(struct floor_run *r, struct fconn *fc, const char *why)
{
	r->fail++;
	if (!r->first_fail[0])
		snprintf(r->first_fail, sizeof(r->first_fail), "%s (step %d)", why,
		         (int)(fc->step - r->script));
}

static void fl_close(struct floor_run *r, struct fconn *fc)
{
	if (fc->ssl) {
		if (SSL_is_init_finished(fc->ssl))
			(void)SSL_shutdown(fc->ssl);
		SSL_free(fc->ssl);
	}
	close(fc->fd);
	r->done++;
	free(fc);
}

static int fl_want(struct floor_run *r, struct fconn *fc, uint32_t ev)
{
	if (fc->events == ev)
		return 0;
	struct epoll_event e = {.events = ev, .data.ptr = fc};
	fc->events = ev;
	return epoll_ctl(r->ep, EPOLL_CTL_MOD, fc->fd, &e);
}

static void fl_start(struct floor_run *r)
{
	struct fconn *fc = calloc(1, sizeof(*fc));

	if (!fc)
		die("out of memory");
	r->started++;
	fc->step = r->script;
	fc->t0 = now_us();
	fc->tgreet = -1;
	fc->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fc->fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(fc->fd, (struct sockaddr *)&r->sin, sizeof(r->sin)) != 0 &&
	    errno != EINPROGRESS)
		die("connect: %s", strerror(errno));
	struct epoll_event e = {.events = EPOLLOUT, .data.ptr = fc};
	fc->events = EPOLLOUT;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fc->fd, &e) != 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* One line ending in buf that starts with want (or is exactly "." for "."). */
static int fl_match(struct fconn *fc, const char *want)
{
	for (;;) {
		char *nl = memchr(fc->buf, '\n', fc->len);
		if (!nl)
			return 0;
		size_t ll = (size_t)(nl - fc->buf) + 1;
		size_t wl = strlen(want);
		int hit = strcmp(want, ".") == 0 ? (ll == 3 && fc->buf[0] == '.')
		                                 : (ll > wl && memcmp(fc->buf, want, wl) == 0);
		memmove(fc->buf, fc->buf + ll, fc->len - ll);
		fc->len -= ll;
		if (hit)
			return 1;
	}
}

/* Advance one connection as far as it goes. Returns 1 when it is over (closed). */
static int fl_drive(struct floor_run *r, struct fconn *fc)
{
	if (!fc->connected) {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(fc->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e) {
			fl_fail(r, fc, "connect failed");
			fl_close(r, fc);
			return 1;
		}
		fc->connected = 1;
	}
	for (;;) {
		const struct fstep *st = fc->step;
		switch (st->op) {
		case F_TLS: {
			if (!fc->ssl) {
				fc->ssl = SSL_new(r->ctx);
				if (!fc->ssl || SSL_set_fd(fc->ssl, fc->fd) != 1 ||
				    SSL_set_tlsext_host_name(fc->ssl, BENCH_HOST) != 1 ||
				    SSL_set1_host(fc->ssl, BENCH_HOST) != 1)
					die("SSL setup");
				SSL_set_connect_state(fc->ssl);
			}
			int rc = SSL_do_handshake(fc->ssl);
			if (rc != 1) {
				int e = SSL_get_error(fc->ssl, rc);
				if (e == SSL_ERROR_WANT_READ)
					return fl_want(r, fc, EPOLLIN), 0;
				if (e == SSL_ERROR_WANT_WRITE)
					return fl_want(r, fc, EPOLLOUT), 0;
				ERR_clear_error();
				fl_fail(r, fc, "TLS handshake failed");
				fl_close(r, fc);
				return 1;
			}
			if (!r->tls_version[0]) {
				int g = SSL_get_negotiated_group(fc->ssl);
				snprintf(r->tls_version, sizeof(r->tls_version), "%s",
				         SSL_get_version(fc->ssl));
				snprintf(r->tls_cipher, sizeof(r->tls_cipher), "%s",
				         SSL_get_cipher_name(fc->ssl));
				snprintf(r->tls_group, sizeof(r->tls_group), "%s",
				         g ? OBJ_nid2sn(g) : "-");
			}
			fc->step++;
			break;
		}
		case F_SEND: {
			size_t n = strlen(st->arg);
			if (fc->ssl ? SSL_write(fc->ssl, st->arg, (int)n) != (int)n
			            : send(fc->fd, st->arg, n, MSG_NOSIGNAL) != (ssize_t)n) {
				fl_fail(r, fc, "short write");
				fl_close(r, fc);
				return 1;
			}
			fc->step++;
			break;
		}
		case F_RECV: {
			if (fl_match(fc, st->arg)) {
				if (fc->tgreet < 0)
					fc->tgreet = now_us();
				fc->step++;
				break;
			}
			if (fc->len == sizeof(fc->buf)) {
				fl_fail(r, fc, "line too long");
				fl_close(r, fc);
				return 1;
			}
			ssize_t got;
			if (fc->ssl) {
				int rc = SSL_read(fc->ssl, fc->buf + fc->len,
				                  (int)(sizeof(fc->buf) - fc->len));
				if (rc <= 0) {
					int e = SSL_get_error(fc->ssl, rc);
					if (e == SSL_ERROR_WANT_READ)
						return fl_want(r, fc, EPOLLIN), 0;
					if (e == SSL_ERROR_WANT_WRITE)
						return fl_want(r, fc, EPOLLOUT), 0;
					ERR_clear_error();
					got = 0;
				} else {
					got = rc;
				}
			} else {
				got = recv(fc->fd, fc->buf + fc->len, sizeof(fc->buf) - fc->len, 0);
				if (got < 0 && (errno == EAGAIN || errno == EINTR))
					return fl_want(r, fc, EPOLLIN), 0;
			}
			if (got <= 0) {
				fl_fail(r, fc, "closed early");
				fl_close(r, fc);
				return 1;
			}
			fc->len += (size_t)got;
			break;
		}
		case F_END: {
			int64_t t = now_us();
			r->ok++;
			if (r->measure) {
				r->lat.tot[r->lat.ntot++] = t - fc->t0;
				r->lat.e2e[r->lat.ne2e++] = t - fc->t0;
				if (fc->tgreet >= 0)
					r->lat.ttg[r->lat.nttg++] = fc->tgreet - fc->t0;
			}
			fl_close(r, fc);
			return 1;
		}
		}
	}
}

static void fl_batch(struct floor_run *r, long n, long conc)
{
	struct epoll_event evs[256];
	int64_t limit = now_us() + (int64_t)DEADLINE_MS * 1000 * (n / (conc ? conc : 1) + 2);

	r->n = n;
	r->started = r->done = r->ok = r->fail = 0;
	for (long i = 0; i < conc && i < n; i++)
		fl_start(r);
	while (r->done < n) {
		if (now_us() > limit)
			die("floor run over its time bound (%ld of %ld done)", r->done, n);
		int k = epoll_wait(r->ep, evs, 256, 1000);
		if (k < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < k; i++) {
			if (fl_drive(r, evs[i].data.ptr) && r->started < n)
				fl_start(r);
		}
	}
}

static const struct fstep *floor_script(const struct mode_def *m, int dialogue)
{
	if (!dialogue) {
		if (m->proto == MP_IMAP)
			return m->implicit ? fs_greet_imaps : fs_greet_imap;
		return m->implicit ? fs_greet_pop3s : fs_greet_pop3;
	}
	if (m->proto == MP_IMAP)
		return m->implicit ? fs_imaps : m->starttls ? fs_imap_starttls : fs_imap;
	return m->implicit ? fs_pop3s : m->starttls ? fs_pop3_stls : fs_pop3;
}

/* Accept the served chain unchecked: the handshake still checks CertificateVerify. */
static int chain_ok(X509_STORE_CTX *xs, void *arg)
{
	(void)xs;
	(void)arg;
	return 1;
}

static int cmd_floor(const struct opts *o)
{
	struct floor_run r;

	memset(&r, 0, sizeof(r));
	r.script = floor_script(o->mode, o->dialogue);
	r.sin.sin_family = AF_INET;
	r.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.sin.sin_port = htons((uint16_t)o->port);
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	/* The engine's TLS settings: TLS 1.2 minimum, defaults otherwise, verification on. */
	r.ctx = SSL_CTX_new(TLS_client_method());
	if (!r.ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(r.ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(r.ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(r.ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(r.ctx, o->ca, NULL) != 1)
		die("cannot load %s", o->ca);
	if (o->no_chain)
		SSL_CTX_set_cert_verify_callback(r.ctx, chain_ok, NULL);
	lat_alloc(&r.lat, o->n);
	if (o->warmup > 0) {
		fl_batch(&r, o->warmup, 2);
		if (r.fail)
			die("warm-up failed: %s", r.first_fail);
	}
	r.measure = 1;
	struct span sp;
	span_begin(&sp, o->server_pid);
	fl_batch(&r, o->n, o->conc);
	span_end(&sp, o,
	         o->dialogue   ? "floor-dialogue"
	         : o->no_chain ? "floor-nochain"
	                       : "floor",
	         r.ok, r.fail);
	lat_print(&r.lat);
	printf(" tls=%s cipher=%s group=%s\n", r.tls_version[0] ? r.tls_version : "-",
	       r.tls_cipher[0] ? r.tls_cipher : "-", r.tls_group[0] ? r.tls_group : "-");
	if (r.fail)
		fprintf(stderr, "enginebench: floor: %ld failed; first: %s\n", r.fail,
		        r.first_fail);
	SSL_CTX_free(r.ctx);
	close(r.ep);
	return r.fail ? 1 : 0;
}

/* ---- raw crypto of one handshake ---------------------------------------- */

static double cpu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A client's share of the key exchange: make a key, derive with the server's. */
static void x25519_once(EVP_PKEY *peer)
{
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	EVP_PKEY *key = NULL;
	unsigned char secret[64];
	size_t slen = sizeof(secret);

	if (!kctx || EVP_PKEY_keygen_init(kctx) != 1 || EVP_PKEY_keygen(kctx, &key) != 1)
		die("X25519 keygen");
	EVP_PKEY_CTX *dctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!dctx || EVP_PKEY_derive_init(dctx) != 1 || EVP_PKEY_derive_set_peer(dctx, peer) != 1 ||
	    EVP_PKEY_derive(dctx, secret, &slen) != 1)
		die("X25519 derive");
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_free(key);
}

/* One signature check as TLS does it: a fresh digest context per verification. */
static void verify_once(EVP_PKEY *pub, const unsigned char *msg, size_t mlen,
                        const unsigned char *sig, size_t slen, int pss)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	if (!md || EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, pub, NULL) != 1)
		die("DigestVerifyInit");
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		die("PSS setup");
	if (EVP_DigestVerify(md, sig, slen, msg, mlen) != 1)
		die("verification failed");
	EVP_MD_CTX_free(md);
}

static size_t sign_once(EVP_PKEY *key, const unsigned char *msg, size_t mlen, unsigned char *sig,
                        size_t cap, int pss)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t slen = cap;

	if (!md || EVP_DigestSignInit_ex(md, &pctx, "SHA256", NULL, NULL, key, NULL) != 1)
		die("DigestSignInit");
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		die("PSS setup");
	if (EVP_DigestSign(md, sig, &slen, msg, mlen) != 1)
		die("sign");
	EVP_MD_CTX_free(md);
	return slen;
}

static int cmd_crypto(const struct opts *o)
{
	/* A TLS 1.3 CertificateVerify input is 64 spaces, a context string and a hash: ~130 bytes.
	 */
	unsigned char msg[130], sig_ec[128], sig_pss[256], sig_v15[256];
	EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	long k = o->iters;

	if (!peer || !ec || !rsa)
		die("keygen");
	memset(msg, ' ', sizeof(msg));
	size_t lec = sign_once(ec, msg, sizeof(msg), sig_ec, sizeof(sig_ec), 0);
	size_t lpss = sign_once(rsa, msg, sizeof(msg), sig_pss, sizeof(sig_pss), 1);
	size_t lv15 = sign_once(rsa, msg, sizeof(msg), sig_v15, sizeof(sig_v15), 0);

	double t0 = cpu_now_us();
	for (long i = 0; i < k; i++)
		x25519_once(peer);
	double t1 = cpu_now_us();
	for (long i = 0; i < k; i++)
		verify_once(ec, msg, sizeof(msg), sig_ec, lec, 0);
	double t2 = cpu_now_us();
	for (long i = 0; i < k; i++)
		verify_once(rsa, msg, sizeof(msg), sig_pss, lpss, 1);
	double t3 = cpu_now_us();
	for (long i = 0; i < k; i++)
		verify_once(rsa, msg, sizeof(msg), sig_v15, lv15, 0);
	double t4 = cpu_now_us();

	double x = (t1 - t0) / (double)k, ecv = (t2 - t1) / (double)k;
	double pss = (t3 - t2) / (double)k, v15 = (t4 - t3) / (double)k;
	/*
	 * A client's handshake with a served leaf+intermediate chain under a
	 * trusted root: the key exchange, the CertificateVerify signature and
	 * two certificate signatures (leaf by intermediate, intermediate by root).
	 */
	printf("RESULT bench=crypto iters=%ld x25519_us=%.2f ecdsa_p256_verify_us=%.2f "
	       "rsa2048_pss_verify_us=%.2f rsa2048_pkcs1_verify_us=%.2f hs_ec_us=%.2f "
	       "hs_rsa_us=%.2f\n",
	       k, x, ecv, pss, v15, x + 3 * ecv, x + pss + 2 * v15);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	return 0;
}

/* ---- blackbox_exporter over its /probe endpoint ------------------------- */

struct bb_run;

struct bb_conn {
	struct bb_run *r;
	struct evhttp_connection *conn;
	int64_t t0;
};

struct bb_run {
	struct event_base *base;
	const struct opts *o;
	char uri[512];
	long started, done, ok, fail;
	struct lat lat;
	int measure;
	char first_fail[200];
};

static void bb_next(struct bb_conn *bc);

static double body_metric(const char *body, const char *name)
{
	const char *p = body;
	size_t nl = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == body || p[-1] == '\n') && p[nl] == ' ')
			return strtod(p + nl + 1, NULL);
		p += nl;
	}
	return -1;
}

static void bb_done(struct evhttp_request *req, void *arg)
{
	struct bb_conn *bc = arg;
	struct bb_run *r = bc->r;
	int64_t t = now_us();
	char body[16384];
	int good = 0;
	double dur = -1;

	r->done++;
	if (req && evhttp_request_get_response_code(req) == 200) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		if (n >= sizeof(body))
			n = sizeof(body) - 1;
		evbuffer_copyout(in, body, n);
		body[n] = '\0';
		good = body_metric(body, "probe_success") == 1.0;
		dur = body_metric(body, "probe_duration_seconds");
		if (!good && !r->first_fail[0])
			snprintf(r->first_fail, sizeof(r->first_fail), "probe_success is not 1");
	} else if (!r->first_fail[0]) {
		snprintf(r->first_fail, sizeof(r->first_fail), "HTTP %d",
		         req ? evhttp_request_get_response_code(req) : -1);
	}
	if (good)
		r->ok++;
	else
		r->fail++;
	if (r->measure) {
		r->lat.e2e[r->lat.ne2e++] = t - bc->t0;
		if (dur >= 0)
			r->lat.tot[r->lat.ntot++] = (int64_t)(dur * 1e6);
	}
	bb_next(bc);
}

static void bb_next(struct bb_conn *bc)
{
	struct bb_run *r = bc->r;

	if (r->started >= r->o->n)
		return;
	r->started++;
	struct evhttp_request *req = evhttp_request_new(bb_done, bc);
	if (!req)
		die("out of memory");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	bc->t0 = now_us();
	if (evhttp_make_request(bc->conn, req, EVHTTP_REQ_GET, r->uri) != 0)
		die("evhttp_make_request");
}

/* Idle keep-alive connections keep events registered: loop until n requests answered. */
static void bb_wait(struct bb_run *r, long n)
{
	while (r->done < n) {
		if (event_base_loop(r->base, EVLOOP_ONCE) < 0)
			die("event loop failed");
	}
}

static int cmd_blackbox(const struct opts *o)
{
	struct bb_run r;
	long conc = o->conc < o->n ? o->conc : o->n;
	struct bb_conn *bcs = calloc((size_t)conc, sizeof(*bcs));

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.base = event_base_new();
	if (!r.base || !bcs)
		die("setup");
	snprintf(r.uri, sizeof(r.uri), "/probe?module=%s&target=%s", o->module, o->target);
	lat_alloc(&r.lat, o->n);
	for (long i = 0; i < conc; i++) {
		bcs[i].r = &r;
		bcs[i].conn = evhttp_connection_base_new(r.base, NULL, "127.0.0.1",
		                                         (ev_uint16_t)o->http_port);
		if (!bcs[i].conn)
			die("evhttp_connection_base_new");
		evhttp_connection_set_timeout(bcs[i].conn, DEADLINE_MS / 1000);
	}
	/* Warm-up on one connection: the exporter's first TLS config load is not counted. */
	struct opts wo = *o;
	wo.n = o->warmup;
	r.o = &wo;
	if (wo.n > 0) {
		bb_next(&bcs[0]);
		bb_wait(&r, wo.n);
		if (r.fail)
			die("blackbox warm-up failed: %s", r.first_fail);
	}
	r.o = o;
	r.started = r.done = r.ok = r.fail = 0;
	r.measure = 1;
	struct opts mo = *o;
	mo.server_pid = o->bb_pid; /* the peer's CPU is what we measure */
	struct span sp;
	span_begin(&sp, o->bb_pid);
	double tsrv0 = proc_cpu_ms(o->server_pid);
	for (long i = 0; i < conc; i++)
		bb_next(&bcs[i]);
	bb_wait(&r, o->n);
	double tsrv1 = proc_cpu_ms(o->server_pid);
	int64_t t1 = now_us();
	double bb1 = proc_cpu_ms(o->bb_pid);
	span_end(&sp, &mo, "blackbox", r.ok, r.fail);
	/* peer_cpu_ms: the exporter's utime+stime per probe, from /proc/PID/stat. */
	printf(" peer_cpu_ms=%.4f target_cpu_pct=%.1f", (bb1 - sp.srv0) / (double)o->n,
	       (tsrv0 >= 0 ? 100.0 * (tsrv1 - tsrv0) / ((double)(t1 - sp.t0) / 1e3) : -1.0));
	lat_print(&r.lat);
	printf(" module=%s\n", o->module);
	if (r.fail)
		fprintf(stderr, "enginebench: blackbox: %ld failed; first: %s\n", r.fail,
		        r.first_fail);
	for (long i = 0; i < conc; i++)
		evhttp_connection_free(bcs[i].conn);
	free(bcs);
	event_base_free(r.base);
	return r.fail ? 1 : 0;
}

/* ---- one-shot processes -------------------------------------------------- */

static int cmd_spawn(const struct opts *o)
{
	int64_t *wall = calloc((size_t)o->n, sizeof(int64_t));
	double cpu = 0, user = 0, sys = 0;
	long maxrss = 0, ok = 0, fail = 0, first_rc = -1;

	if (!wall)
		die("out of memory");
	int64_t tall = now_us();
	for (long i = 0; i < o->n; i++) {
		int64_t t0 = now_us();
		pid_t pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				dup2(nul, 2);
			}
			execv(o->argv[0], o->argv);
			_exit(127);
		}
		int status;
		struct rusage ru;
		if (wait4(pid, &status, 0, &ru) != pid)
			die("wait4: %s", strerror(errno));
		wall[i] = now_us() - t0;
		cpu += cpu_ms(&ru);
		user += tv_ms(&ru.ru_utime);
		sys += tv_ms(&ru.ru_stime);
		if (ru.ru_maxrss > maxrss)
			maxrss = ru.ru_maxrss;
		int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (rc == o->expect_rc) {
			ok++;
		} else {
			fail++;
			if (first_rc < 0)
				first_rc = rc;
		}
	}
	double wall_s = (double)(now_us() - tall) / 1e6;
	printf("RESULT bench=spawn mode=- label=%s n=%ld c=1 ok=%ld fail=%ld wall_s=%.3f rate=%.1f "
	       "cpu_ms=%.4f user_ms=%.4f sys_ms=%.4f rss_peak_kb=%ld wall_p50_ms=%.3f "
	       "wall_p99_ms=%.3f wall_max_ms=%.3f\n",
	       o->label ? o->label : "-", o->n, ok, fail, wall_s, (double)o->n / wall_s,
	       cpu / (double)o->n, user / (double)o->n, sys / (double)o->n, maxrss,
	       pct_ms(wall, (size_t)o->n, 0.5), pct_ms(wall, (size_t)o->n, 0.99),
	       pct_ms(wall, (size_t)o->n, 1.0));
	if (fail)
		fprintf(stderr, "enginebench: spawn %s: %ld exit(s) other than %d; first %ld\n",
		        o->argv[0], fail, o->expect_rc, first_rc);
	free(wall);
	return fail ? 1 : 0;
}

static int cmd_versions(void)
{
	printf("mailpulse=%s\nopenssl=%s\nlibevent=%s\ncompiler=%s %s\nsizeof_result=%zu\n",
	       MAILPULSE_VERSION, OpenSSL_version(OPENSSL_VERSION), event_get_version(),
#if defined(__clang__)
	       "clang",
#elif defined(__GNUC__)
	       "gcc",
#else
	       "cc",
#endif
	       __VERSION__, sizeof(struct result));
	return 0;
}

/* ---- arguments ----------------------------------------------------------- */

static long num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		die("%s: expected a number from %ld to %ld, got '%s'", name, lo, hi, v);
	return n;
}

static void usage(void)
{
	fputs("usage: enginebench engine|floor|crypto|blackbox|spawn|versions [options]\n"
	      "  engine   --mode M --port P --ca FILE [--n N] [-c C] [--warmup W]\n"
	      "           [--server-pid PID] [--changelist] [--no-reuse]\n"
	      "  floor    --mode M --port P --ca FILE [--dialogue | --no-chain-verify]\n"
	      "           [same as engine]\n"
	      "  crypto   [--iters K]\n"
	      "  blackbox --http-port P --module NAME --target HOST:PORT --bb-pid PID\n"
	      "           [--n N] [-c C] [--warmup W] [--server-pid PID]\n"
	      "  spawn    [--n N] [--expect-rc RC] --label L -- PROGRAM ARG...\n"
	      "modes: imap imap+starttls imaps pop3 pop3+stls pop3s\n",
	      stderr);
	exit(2);
}

static void parse(struct opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->n = 2000;
	o->conc = 100;
	o->warmup = 20;
	o->iters = 2000;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			o->argv = argv + i + 1;
			if (!o->argv[0])
				usage();
			return;
		}
		if (strcmp(a, "--dialogue") == 0) {
			o->dialogue = 1;
			continue;
		}
		if (strcmp(a, "--changelist") == 0) {
			o->changelist = 1;
			continue;
		}
		if (strcmp(a, "--no-reuse") == 0) {
			o->no_reuse = 1;
			continue;
		}
		if (strcmp(a, "--no-chain-verify") == 0) {
			o->no_chain = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(a, "--mode") == 0) {
			for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++)
				if (strcmp(modes[k].name, v) == 0)
					o->mode = &modes[k];
			if (!o->mode)
				die("unknown mode '%s'", v);
		} else if (strcmp(a, "--port") == 0) {
			o->port = (int)num_arg(a, v, 1, 65535);
		} else if (strcmp(a, "--ca") == 0) {
			o->ca = v;
		} else if (strcmp(a, "--n") == 0) {
			o->n = num_arg(a, v, 1, N_MAX);
		} else if (strcmp(a, "-c") == 0) {
			o->conc = num_arg(a, v, 1, C_MAX);
		} else if (strcmp(a, "--warmup") == 0) {
			o->warmup = num_arg(a, v, 0, 10000);
		} else if (strcmp(a, "--server-pid") == 0) {
			o->server_pid = num_arg(a, v, 0, 1L << 30);
		} else if (strcmp(a, "--iters") == 0) {
			o->iters = num_arg(a, v, 1, 10000000);
		} else if (strcmp(a, "--label") == 0) {
			o->label = v;
		} else if (strcmp(a, "--http-port") == 0) {
			o->http_port = (int)num_arg(a, v, 1, 65535);
		} else if (strcmp(a, "--module") == 0) {
			o->module = v;
		} else if (strcmp(a, "--target") == 0) {
			o->target = v;
		} else if (strcmp(a, "--bb-pid") == 0) {
			o->bb_pid = num_arg(a, v, 1, 1L << 30);
		} else if (strcmp(a, "--expect-rc") == 0) {
			o->expect_rc = (int)num_arg(a, v, 0, 255);
		} else {
			usage();
		}
	}
}

int main(int argc, char **argv)
{
	struct opts o;

	if (argc < 2)
		usage();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse(&o, argc, argv);
	const char *cmd = argv[1];
	if (strcmp(cmd, "versions") == 0)
		return cmd_versions();
	if (strcmp(cmd, "crypto") == 0)
		return cmd_crypto(&o);
	if (strcmp(cmd, "spawn") == 0) {
		if (!o.argv)
			usage();
		return cmd_spawn(&o);
	}
	if (strcmp(cmd, "blackbox") == 0) {
		if (!o.http_port || !o.module || !o.target || !o.bb_pid)
			usage();
		return cmd_blackbox(&o);
	}
	if (!o.mode || !o.port || !o.ca)
		usage();
	if (strcmp(cmd, "engine") == 0)
		return cmd_engine(&o);
	if (strcmp(cmd, "floor") == 0)
		return cmd_floor(&o);
	usage();
}
