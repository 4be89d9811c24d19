/* SPDX-License-Identifier: ISC */
/*
 * tlsfloor - the TLS handshake floor of enginebench (floor --mode imaps),
 * with another TLS library: GnuTLS (built with -DTLSFLOOR_GNUTLS) or
 * wolfSSL (-DTLSFLOOR_WOLFSSL). One source, two binaries.
 *
 *   tlsfloor-gnutls  --port P --ca FILE [--n N] [-c C] [--warmup W]
 *                    [--server-pid PID] [--label TEXT]
 *   tlsfloor-wolfssl (the same)
 *   tlsfloor-*       --version
 *
 * The same minimal loop as the OpenSSL floor: bare epoll clients, C in
 * flight, N in all; each connects to 127.0.0.1:P (implicit-TLS IMAP),
 * does a client handshake with SNI "mail.bench.test", verifies the served
 * chain against --ca and the host name, reads the "* OK" greeting, sends
 * close_notify and closes. Credentials/context are loaded once and shared
 * (as the OpenSSL floor's SSL_CTX); no session resumption. TLS 1.2 minimum;
 * X25519 preferred (the group the OpenSSL floor negotiates), P-256 second.
 *
 * One process per measurement: getrusage(RUSAGE_SELF) after a warm-up
 * belongs to the N measured handshakes. Prints one "RESULT ..." line.
 * A benchmark, not a test. Traffic goes to 127.0.0.1 only; the loop is
 * bounded in count (N) and time (a deadline per run).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(TLSFLOOR_GNUTLS)
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#define LIBNAME "gnutls"
#elif defined(TLSFLOOR_WOLFSSL)
#include <wolfssl/options.h> /* first: the library's build configuration */
#include <wolfssl/ssl.h>
#include <wolfssl/version.h>
#define LIBNAME "wolfssl"
#else
#error "define TLSFLOOR_GNUTLS or TLSFLOOR_WOLFSSL"
#endif

#define BENCH_HOST  "mail.bench.test"
#define GREETING    "* OK"
#define N_MAX       1000000
#define C_MAX       10000
#define DEADLINE_MS 10000 /* per probe, as enginebench */
#define BUF         4096

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("tlsfloor-" LIBNAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double tv_ms(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1000.0 + (double)tv->tv_usec / 1000.0;
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
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long ut = 0, st = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the TLS library, behind four calls ----------------------------------- */

enum io { IO_DONE, IO_WANT_READ, IO_WANT_WRITE, IO_ERR };

struct tls_info {
	char version[32], cipher[64], group[32];
};

#if defined(TLSFLOOR_GNUTLS)

typedef gnutls_session_t tls_t;
static gnutls_certificate_credentials_t g_cred;
static gnutls_priority_t g_prio;

/* TLS 1.2 minimum (as the engine), X25519 first, then P-256, as OpenSSL offers. */
#define PRIORITY                                                                                   \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1"

static const char *lib_version(void)
{
	return gnutls_check_version(NULL);
}

static void lib_init(const char *ca)
{
	int rc;

	if (gnutls_global_init() < 0)
		die("gnutls_global_init");
	if (gnutls_certificate_allocate_credentials(&g_cred) < 0)
		die("gnutls_certificate_allocate_credentials");
	rc = gnutls_certificate_set_x509_trust_file(g_cred, ca, GNUTLS_X509_FMT_PEM);
	if (rc <= 0)
		die("cannot load %s: %s", ca, rc < 0 ? gnutls_strerror(rc) : "no certificates");
	if ((rc = gnutls_priority_init(&g_prio, PRIORITY, NULL)) < 0)
		die("gnutls_priority_init: %s", gnutls_strerror(rc));
}

static tls_t tls_new(int fd)
{
	gnutls_session_t s;

	if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0 ||
	    gnutls_priority_set(s, g_prio) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, g_cred) < 0 ||
	    gnutls_server_name_set(s, GNUTLS_NAME_DNS, BENCH_HOST, strlen(BENCH_HOST)) < 0)
		die("session setup");
	/* Chain against the trust file and the host name, inside the handshake. */
	gnutls_session_set_verify_cert(s, BENCH_HOST, 0);
	gnutls_transport_set_int(s, fd);
	return s;
}

static enum io gn_io(gnutls_session_t s, int rc)
{
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
		return gnutls_record_get_direction(s) ? IO_WANT_WRITE : IO_WANT_READ;
	return IO_ERR;
}

static enum io tls_handshake(tls_t s, char *err, size_t errlen)
{
	int rc = gnutls_handshake(s);

	if (rc == GNUTLS_E_SUCCESS)
		return IO_DONE;
	enum io r = gn_io(s, rc);
	if (r == IO_ERR) {
		if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			gnutls_datum_t out = {NULL, 0};
			unsigned st = gnutls_session_get_verify_cert_status(s);
			gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &out, 0);
			snprintf(err, errlen, "verify: %s", out.data ? (char *)out.data : "?");
			gnutls_free(out.data);
		} else {
			snprintf(err, errlen, "handshake: %s", gnutls_strerror(rc));
		}
	}
	return r;
}

/* > 0 bytes read; 0 closed or error; -1 want read; -2 want write. */
static long tls_read(tls_t s, char *buf, size_t len)
{
	for (;;) {
		ssize_t rc = gnutls_record_recv(s, buf, len);
		if (rc > 0)
			return (long)rc;
		if (rc == 0)
			return 0;
		/* A TLS 1.3 NewSessionTicket processed, or a warning alert: go on. */
		if (rc == GNUTLS_E_WARNING_ALERT_RECEIVED || rc == GNUTLS_E_REHANDSHAKE)
			continue;
		enum io r = gn_io(s, (int)rc);
		return r == IO_WANT_READ ? -1 : r == IO_WANT_WRITE ? -2 : 0;
	}
}

static void tls_info(tls_t s, struct tls_info *ti)
{
	const char *g = gnutls_group_get_name(gnutls_group_get(s));
	snprintf(ti->version, sizeof(ti->version), "%s",
	         gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
	snprintf(ti->cipher, sizeof(ti->cipher), "%s",
	         gnutls_cipher_get_name(gnutls_cipher_get(s)));
	snprintf(ti->group, sizeof(ti->group), "%s", g ? g : "-");
}

static void tls_free(tls_t s, int established)
{
	if (established)
		(void)gnutls_bye(s, GNUTLS_SHUT_WR); /* close_notify, as SSL_shutdown */
	gnutls_deinit(s);
}

static void lib_done(void)
{
	gnutls_priority_deinit(g_prio);
	gnutls_certificate_free_credentials(g_cred);
	gnutls_global_deinit();
}

#else /* wolfSSL */

typedef WOLFSSL *tls_t;
static WOLFSSL_CTX *g_ctx;

#define CIPHERS                                                                                    \
	"TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"          \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256"

static const char *lib_version(void)
{
	return wolfSSL_lib_version();
}

static void lib_init(const char *ca)
{
	int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};

	if (wolfSSL_Init() != WOLFSSL_SUCCESS)
		die("wolfSSL_Init");
	g_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (!g_ctx)
		die("wolfSSL_CTX_new");
	if (wolfSSL_CTX_SetMinVersion(g_ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS)
		die("wolfSSL_CTX_SetMinVersion");
	if (wolfSSL_CTX_load_verify_locations(g_ctx, ca, NULL) != WOLFSSL_SUCCESS)
		die("cannot load %s", ca);
	wolfSSL_CTX_set_verify(g_ctx, WOLFSSL_VERIFY_PEER, NULL);
	if (wolfSSL_CTX_set_groups(g_ctx, groups, 2) != WOLFSSL_SUCCESS)
		die("wolfSSL_CTX_set_groups");
	/* AES-256-GCM first, as OpenSSL's and GnuTLS's defaults (wolfSSL's puts AES-128 first). */
	if (wolfSSL_CTX_set_cipher_list(g_ctx, CIPHERS) != WOLFSSL_SUCCESS)
		die("wolfSSL_CTX_set_cipher_list");
}

static tls_t tls_new(int fd)
{
	WOLFSSL *s = wolfSSL_new(g_ctx);

	if (!s || wolfSSL_set_fd(s, fd) != WOLFSSL_SUCCESS ||
	    wolfSSL_UseSNI(s, WOLFSSL_SNI_HOST_NAME, BENCH_HOST,
	                   (unsigned short)strlen(BENCH_HOST)) != WOLFSSL_SUCCESS ||
	    wolfSSL_check_domain_name(s, BENCH_HOST) != WOLFSSL_SUCCESS)
		die("session setup");
	return s;
}

static enum io wo_io(WOLFSSL *s, int rc)
{
	int e = wolfSSL_get_error(s, rc);
	if (e == WOLFSSL_ERROR_WANT_READ)
		return IO_WANT_READ;
	if (e == WOLFSSL_ERROR_WANT_WRITE)
		return IO_WANT_WRITE;
	return IO_ERR;
}

static enum io tls_handshake(tls_t s, char *err, size_t errlen)
{
	int rc = wolfSSL_connect(s);

	if (rc == WOLFSSL_SUCCESS)
		return IO_DONE;
	enum io r = wo_io(s, rc);
	if (r == IO_ERR) {
		char msg[WOLFSSL_MAX_ERROR_SZ];
		int e = wolfSSL_get_error(s, rc);
		snprintf(err, errlen, "handshake: %d %s", e,
		         wolfSSL_ERR_error_string((unsigned long)e, msg));
	}
	return r;
}

static long tls_read(tls_t s, char *buf, size_t len)
{
	int rc = wolfSSL_read(s, buf, (int)len);
	if (rc > 0)
		return rc;
	enum io r = wo_io(s, rc);
	return r == IO_WANT_READ ? -1 : r == IO_WANT_WRITE ? -2 : 0;
}

static void tls_info(tls_t s, struct tls_info *ti)
{
	const char *g = wolfSSL_get_curve_name(s);
	snprintf(ti->version, sizeof(ti->version), "%s", wolfSSL_get_version(s));
	snprintf(ti->cipher, sizeof(ti->cipher), "%s", wolfSSL_get_cipher_name(s));
	snprintf(ti->group, sizeof(ti->group), "%s", g ? g : "-");
}

static void tls_free(tls_t s, int established)
{
	if (established)
		(void)wolfSSL_shutdown(s); /* close_notify, as SSL_shutdown */
	wolfSSL_free(s);
}

static void lib_done(void)
{
	wolfSSL_CTX_free(g_ctx);
	wolfSSL_Cleanup();
}

#endif

/* ---- the loop: as enginebench's floor, greeting only ---------------------- */

struct conn {
	int fd;
	tls_t tls;
	int connected, established;
	uint32_t events;
	size_t len;
	char buf[BUF];
};

struct run {
	int ep;
	struct sockaddr_in sin;
	long started, done, ok, fail;
	char first_fail[200];
	struct tls_info info;
};

static void c_fail(struct run *r, const char *why)
{
	r->fail++;
	if (!r->first_fail[0])
		snprintf(r->first_fail, sizeof(r->first_fail), "%s", why);
}

static void c_close(struct run *r, struct conn *c)
{
	if (c->tls)
		tls_free(c->tls, c->established);
	close(c->fd);
	r->done++;
	free(c);
}

static void c_want(struct run *r, struct conn *c, uint32_t ev)
{
	if (c->events == ev)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = c};
	c->events = ev;
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &e) != 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void c_start(struct run *r)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("out of memory");
	r->started++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
#if defined(TLSFLOOR_GNUTLS)
	/* GnuTLS 3.7 writes the client's last TLS 1.3 flight (compat CCS, Finished) in two
	 * sends; with Nagle the second waits for the server's delayed ACK (40 ms a handshake
	 * at C=1). OpenSSL and wolfSSL send a flight in one write, so they need no such flag. */
	int one = 1;
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		die("TCP_NODELAY: %s", strerror(errno));
#endif
	if (connect(c->fd, (struct sockaddr *)&r->sin, sizeof(r->sin)) != 0 && errno != EINPROGRESS)
		die("connect: %s", strerror(errno));
	struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
	c->events = EPOLLOUT;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &e) != 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* A line in buf that starts with the greeting; consumes lines before it. */
static int c_greeted(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			return 0;
		size_t ll = (size_t)(nl - c->buf) + 1;
		int hit = ll > strlen(GREETING) && memcmp(c->buf, GREETING, strlen(GREETING)) == 0;
		memmove(c->buf, c->buf + ll, c->len - ll);
		c->len -= ll;
		if (hit)
			return 1;
	}
}

/* Advance one connection as far as it goes. Returns 1 when it is over (closed). */
static int c_drive(struct run *r, struct conn *c)
{
	char err[160];

	if (!c->connected) {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e) {
			c_fail(r, "connect failed");
			c_close(r, c);
			return 1;
		}
		c->connected = 1;
		c->tls = tls_new(c->fd);
	}
	if (!c->established) {
		err[0] = '\0';
		switch (tls_handshake(c->tls, err, sizeof(err))) {
		case IO_WANT_READ:
			return c_want(r, c, EPOLLIN), 0;
		case IO_WANT_WRITE:
			return c_want(r, c, EPOLLOUT), 0;
		case IO_ERR:
			c_fail(r, err[0] ? err : "TLS handshake failed");
			c_close(r, c);
			return 1;
		case IO_DONE:
			break;
		}
		c->established = 1;
		if (!r->info.version[0])
			tls_info(c->tls, &r->info);
	}
	for (;;) {
		if (c_greeted(c)) {
			r->ok++;
			c_close(r, c);
			return 1;
		}
		if (c->len == sizeof(c->buf)) {
			c_fail(r, "line too long");
			c_close(r, c);
			return 1;
		}
		long got = tls_read(c->tls, c->buf + c->len, sizeof(c->buf) - c->len);
		if (got == -1)
			return c_want(r, c, EPOLLIN), 0;
		if (got == -2)
			return c_want(r, c, EPOLLOUT), 0;
		if (got <= 0) {
			c_fail(r, "closed early");
			c_close(r, c);
			return 1;
		}
		c->len += (size_t)got;
	}
}

static void batch(struct run *r, long n, long conc)
{
	struct epoll_event evs[256];
	int64_t limit = now_us() + (int64_t)DEADLINE_MS * 1000 * (n / (conc ? conc : 1) + 2);

	r->started = r->done = r->ok = r->fail = 0;
	for (long i = 0; i < conc && i < n; i++)
		c_start(r);
	while (r->done < n) {
		if (now_us() > limit)
			die("run over its time bound (%ld of %ld done)", r->done, n);
		int k = epoll_wait(r->ep, evs, 256, 1000);
		if (k < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < k; i++) {
			if (c_drive(r, evs[i].data.ptr) && r->started < n)
				c_start(r);
		}
	}
}

static long num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long x;

	if (!v)
		die("%s needs a value", name);
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		die("%s: %s is not in %ld..%ld", name, v, lo, hi);
	return x;
}

int main(int argc, char **argv)
{
	long n = 2000, conc = 100, warmup = 20, server_pid = 0, port = 0;
	const char *ca = NULL, *label = "-";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--version") == 0) {
			printf("%s=%s\n", LIBNAME, lib_version());
			return 0;
		} else if (strcmp(a, "--port") == 0) {
			port = num_arg(a, v, 1, 65535), i++;
		} else if (strcmp(a, "--ca") == 0) {
			if (!v)
				die("--ca needs a file");
			ca = v, i++;
		} else if (strcmp(a, "--n") == 0) {
			n = num_arg(a, v, 1, N_MAX), i++;
		} else if (strcmp(a, "-c") == 0) {
			conc = num_arg(a, v, 1, C_MAX), i++;
		} else if (strcmp(a, "--warmup") == 0) {
			warmup = num_arg(a, v, 0, N_MAX), i++;
		} else if (strcmp(a, "--server-pid") == 0) {
			server_pid = num_arg(a, v, 0, 1L << 30), i++;
		} else if (strcmp(a, "--label") == 0) {
			if (!v)
				die("--label needs a value");
			label = v, i++;
		} else {
			die("usage: tlsfloor-%s --port P --ca FILE [--n N] [-c C] [--warmup W] "
			    "[--server-pid PID] [--label TEXT] | --version",
			    LIBNAME);
		}
	}
	if (!port || !ca)
		die("--port and --ca are required");

	struct run r;
	memset(&r, 0, sizeof(r));
	r.sin.sin_family = AF_INET;
	r.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.sin.sin_port = htons((uint16_t)port);
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	lib_init(ca);
	/* Warm-up as the OpenSSL floor: trust store load and first allocations not counted. */
	if (warmup > 0) {
		batch(&r, warmup, 2);
		if (r.fail)
			die("warm-up failed: %s", r.first_fail);
	}

	struct rusage ru0, ru1;
	double srv0 = proc_cpu_ms(server_pid);
	getrusage(RUSAGE_SELF, &ru0);
	int64_t t0 = now_us();
	batch(&r, n, conc);
	int64_t t1 = now_us();
	getrusage(RUSAGE_SELF, &ru1);
	double srv1 = proc_cpu_ms(server_pid);

	double user = tv_ms(&ru1.ru_utime) - tv_ms(&ru0.ru_utime);
	double sys = tv_ms(&ru1.ru_stime) - tv_ms(&ru0.ru_stime);
	double wall_s = (double)(t1 - t0) / 1e6;
	printf("RESULT bench=tlsfloor-%s lib=%s libver=%s mode=imaps label=%s n=%ld c=%ld ok=%ld "
	       "fail=%ld wall_s=%.3f rate=%.1f cpu_ms=%.4f user_ms=%.4f sys_ms=%.4f "
	       "rss_peak_kb=%ld srv_cpu_pct=%.1f tls=%s cipher=%s group=%s\n",
	       LIBNAME, LIBNAME, lib_version(), label, n, conc < n ? conc : n, r.ok, r.fail, wall_s,
	       (double)n / wall_s, (user + sys) / (double)n, user / (double)n, sys / (double)n,
	       ru1.ru_maxrss,
	       (srv0 >= 0 && srv1 >= 0) ? 100.0 * (srv1 - srv0) / ((double)(t1 - t0) / 1e3) : -1.0,
	       r.info.version[0] ? r.info.version : "-", r.info.cipher[0] ? r.info.cipher : "-",
	       r.info.group[0] ? r.info.group : "-");
	if (r.fail)
		fprintf(stderr, "tlsfloor-%s: %ld failed; first: %s\n", LIBNAME, r.fail,
		        r.first_fail);
	lib_done();
	close(r.ep);
	return r.fail ? 1 : 0;
}
