/* SPDX-License-Identifier: ISC */
/*
 * test_probe.c - what the probe's phases add up to: the server's time, not
 * the monitor's. Probes run through probe_start() on a loop of this test
 * against tests/fakesrv (a child process) on 127.0.0.1; certgen makes the
 * certificates.
 *
 * Facts are structural, never a speed: a greeting the server held back
 * 50 ms (fakesrv sleeps after accept) cannot take less; the monitor's own
 * work is made long on purpose (the loop blocked, verification or the
 * trust store read slowed by 300 ms through the two OpenSSL functions
 * interposed below) and must then be found in no phase: the wall-clock
 * total exceeds the sum of the phases by at least that much.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/x509_vfy.h>

#include "engine/probe.h"

#ifndef FAKESRV
#error "FAKESRV and CERTGEN come from tests/unit/CMakeLists.txt"
#endif

#define SLOW_US  300000 /* the monitor's own work, made this long on purpose */
#define HOLD_MS  50     /* fakesrv's pause between accept and greeting */
#define LIFETIME "20"

/* ---- the monitor's own work, slowed on purpose ---------------------------- */

/*
 * verify.c calls these two; defined here, the test's own definitions are
 * the ones it links to, and they hand over to libcrypto's (RTLD_NEXT).
 * X509_verify_cert is the chain verification, X509_LOOKUP_ctrl with
 * X509_L_FILE_LOAD the read of a CA bundle (the system store's fallback).
 */
static int slow_verify, slow_load;

static void pause_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

int X509_verify_cert(X509_STORE_CTX *ctx)
{
	static int (*real)(X509_STORE_CTX *);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "X509_verify_cert");
	if (slow_verify)
		pause_us(SLOW_US);
	return real(ctx);
}

int X509_LOOKUP_ctrl(X509_LOOKUP *ctx, int cmd, const char *argc, long argl, char **ret)
{
	static int (*real)(X509_LOOKUP *, int, const char *, long, char **);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "X509_LOOKUP_ctrl");
	if (slow_load && cmd == X509_L_FILE_LOAD)
		pause_us(SLOW_US);
	return real(ctx, cmd, argc, argl, ret);
}

/* ---- fixtures ------------------------------------------------------------- */

struct tc {
	char dir[64];
	pid_t srv;
	int port;
	struct result r;
	int done;
};

static void run_quiet(char *const argv[])
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void certgen(struct tc *t, const char *name, const char *extra)
{
	char out[128], issuer[128];
	char *argv[16] = {CERTGEN, "--out", out, "--cn", NULL};
	int n = 4;

	snprintf(out, sizeof(out), "%s/%s", t->dir, name);
	if (strcmp(name, "ca") == 0) {
		argv[n++] = "mailpulse test CA";
		argv[n++] = "--ca";
	} else {
		snprintf(issuer, sizeof(issuer), "%s/%s", t->dir, extra);
		argv[n++] = "localhost";
		argv[n++] = "--san";
		argv[n++] = "DNS:localhost,IP:127.0.0.1";
		argv[n++] = "--issuer";
		argv[n++] = issuer;
	}
	argv[n++] = "--from";
	argv[n++] = "-86400";
	argv[n] = NULL;
	run_quiet(argv);
}

static int setup(void **state)
{
	struct tc *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/mp-probe-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	slow_verify = slow_load = 0;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tc *t = *state;
	char cmd[128];

	if (t->srv > 0) {
		kill(t->srv, SIGTERM);
		waitpid(t->srv, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
	unsetenv("SSL_CERT_DIR");
	unsetenv("SSL_CERT_FILE");
	free(t);
	return 0;
}

/* fakesrv playing script (one connection), its port in t->port. */
static void serve(struct tc *t, const char *script)
{
	char scn[128], portfile[128];
	FILE *f;

	snprintf(scn, sizeof(scn), "%s/s.scn", t->dir);
	snprintf(portfile, sizeof(portfile), "%s/port", t->dir);
	assert_non_null(f = fopen(scn, "w"));
	fputs(script, f);
	fclose(f);
	t->srv = fork();
	assert_true(t->srv >= 0);
	if (t->srv == 0) {
		freopen("/dev/null", "w", stderr);
		execl(FAKESRV, FAKESRV, "--port-file", portfile, "--certs", t->dir, "--max-conns",
		      "1", "--lifetime", LIFETIME, scn, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && t->port == 0; i++) {
		f = fopen(portfile, "r");
		if (f) {
			if (fscanf(f, "%d", &t->port) != 1)
				t->port = 0;
			fclose(f);
		}
		if (!t->port)
			usleep(10000);
	}
	assert_true(t->port > 0);
}

static void on_done(const struct result *r, void *arg)
{
	struct tc *t = arg;

	t->r = *r;
	t->done = 1;
}

/*
 * One probe of scheme://127.0.0.1:port. With block_us, the loop is kept
 * from running that long right after the connect was issued (probe_start
 * connects at once to an address literal), as a monitor busy with other
 * probes would be.
 */
static void probe(struct tc *t, const char *scheme, const char *ca_file, long block_us)
{
	struct event_base *base = event_base_new();
	struct probe_env env;
	struct check c;
	char url[128], err[256];

	assert_non_null(base);
	assert_int_equal(probe_env_init(&env, base, err, sizeof(err)), 0);
	check_defaults(&c);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", scheme, t->port);
	assert_int_equal(target_parse(&c.target, url, err, sizeof(err)), 0);
	c.timeout_ms = 10000;
	c.starttls = STARTTLS_NO;
	c.ca_file = ca_file;
	t->done = 0;
	assert_non_null(probe_start(&env, &c, on_done, t));
	if (block_us)
		pause_us(block_us);
	while (!t->done)
		event_base_loop(base, EVLOOP_ONCE);
	probe_env_free(&env);
	event_base_free(base);
	if (t->r.status != MP_UP)
		fail_msg("%s: %s %s: %s", url, result_status_name(t->r.status),
		         result_reason_name(t->r.reason), t->r.message);
}

/* Every phase reached is >= 0; the time in none of them, total minus their sum. */
static int64_t unaccounted(const struct result *r)
{
	int64_t sum = 0;

	for (int i = 0; i < MP_PH_TOTAL; i++) {
		assert_true(r->phase_us[i] >= -1);
		if (r->phase_us[i] > 0)
			sum += r->phase_us[i];
	}
	assert_true(r->phase_us[MP_PH_TOTAL] >= 0);
	return r->phase_us[MP_PH_TOTAL] - sum;
}

static void assert_adds_up(const struct result *r)
{
	const int64_t *ph = r->phase_us;
	int64_t tls = ph[MP_PH_TLS] > 0 ? ph[MP_PH_TLS] : 0;

	assert_true(ph[MP_PH_CONNECT] >= 0);
	assert_true(ph[MP_PH_GREETING] >= 0);
	assert_int_equal(ph[MP_PH_CONNECT] + tls + ph[MP_PH_GREETING], r->ttg_us);
	assert_true(r->ttg_us <= ph[MP_PH_TOTAL]);
	assert_true(unaccounted(r) >= 0);
}

static const char imap_plain[] = "sleep 50\n"
                                 "send \"* OK [CAPABILITY IMAP4rev1] fakesrv ready\\r\\n\"\n"
                                 "maybe_expect \"LOGOUT\"\n"
                                 "send \"* BYE logging out\\r\\n\"\n"
                                 "reply \"OK LOGOUT completed\"\n"
                                 "close\n";

static const char pop3_plain[] = "sleep 50\n"
                                 "send \"+OK fakesrv ready\\r\\n\"\n"
                                 "maybe_expect \"CAPA\"\n"
                                 "send \"-ERR no CAPA here\\r\\n\"\n"
                                 "maybe_expect \"QUIT\"\n"
                                 "send \"+OK bye\\r\\n\"\n"
                                 "close\n";

static const char imaps_good[] = "implicit_tls\n"
                                 "cert good.crt\n"
                                 "send \"* OK [CAPABILITY IMAP4rev1] fakesrv ready\\r\\n\"\n"
                                 "maybe_expect \"LOGOUT\"\n"
                                 "send \"* BYE logging out\\r\\n\"\n"
                                 "reply \"OK LOGOUT completed\"\n"
                                 "close\n";

/* ---- plain connections ------------------------------------------------------ */

/* Idle loop: connect + greeting is the time to greeting, every phase >= 0. */
static void test_plain_phases_add_up(void **state)
{
	struct tc *t = *state;

	serve(t, imap_plain);
	probe(t, "imap", NULL, 0);
	assert_adds_up(&t->r);
	assert_true(t->r.phase_us[MP_PH_GREETING] >= (HOLD_MS - 5) * 1000);
}

/*
 * The greeting is in the socket before the loop gets to the connect
 * callback: the 50 ms the server took are the greeting's, and the 300 ms
 * the loop was busy are in no phase (they were in connect, and the
 * greeting showed 0).
 */
static void greeting_before_callback(struct tc *t, const char *scheme, const char *script)
{
	const int64_t *ph = t->r.phase_us;

	serve(t, script);
	probe(t, scheme, NULL, SLOW_US);
	assert_adds_up(&t->r);
	assert_true(ph[MP_PH_GREETING] >= (HOLD_MS - 5) * 1000);
	assert_true(ph[MP_PH_CONNECT] < ph[MP_PH_GREETING]);
	/* The loop was held from the connect on; only the time to greeting fell in it. */
	assert_true(unaccounted(&t->r) >= SLOW_US - t->r.ttg_us);
}

static void test_imap_greeting_before_callback(void **state)
{
	greeting_before_callback(*state, "imap", imap_plain);
}

static void test_pop3_greeting_before_callback(void **state)
{
	greeting_before_callback(*state, "pop3", pop3_plain);
}

/* ---- implicit TLS: our own verification is not the server's time ---------- */

static void test_verification_not_in_tls(void **state)
{
	struct tc *t = *state;
	char ca[128];

	certgen(t, "ca", NULL);
	certgen(t, "good", "ca");
	snprintf(ca, sizeof(ca), "%s/ca.crt", t->dir);
	serve(t, imaps_good);
	slow_verify = 1;
	probe(t, "imaps", ca, 0);
	assert_true(t->r.tls.verified);
	assert_adds_up(&t->r);
	assert_true(unaccounted(&t->r) >= SLOW_US);
}

/*
 * The system store whose directory has no anchor for the chain: the
 * bundle is read in the middle of the handshake, and that read is not in
 * `tls` nor in the time to greeting.
 */
static void test_trust_store_read_not_in_tls(void **state)
{
	struct tc *t = *state;
	char dir[128], bundle[128], cmd[512];

	certgen(t, "ca", NULL);
	certgen(t, "good", "ca");
	snprintf(dir, sizeof(dir), "%s/emptydir", t->dir);
	snprintf(bundle, sizeof(bundle), "%s/bundle.pem", t->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s/ca.crt' '%s'", t->dir, bundle);
	assert_int_equal(system(cmd), 0);
	setenv("SSL_CERT_DIR", dir, 1);
	setenv("SSL_CERT_FILE", bundle, 1);
	serve(t, imaps_good);
	slow_load = 1;
	probe(t, "imaps", NULL, 0);
	assert_true(t->r.tls.verified);
	assert_adds_up(&t->r);
	assert_true(unaccounted(&t->r) >= SLOW_US);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_plain_phases_add_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_imap_greeting_before_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pop3_greeting_before_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verification_not_in_tls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trust_store_read_not_in_tls, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
