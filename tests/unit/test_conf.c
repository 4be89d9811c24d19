/* SPDX-License-Identifier: ISC */
/*
 * test_conf.c - the configuration loader against the files in tests/conf/.
 *
 * good/ holds valid files whose values are asserted here. bad/ holds one
 * file per class of error; its first lines say what conf_load() must print,
 * "# expect: LINE:COL: message", one per line in order, so adding a case is
 * adding a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/tls1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/config.h"
#include "conf/conf.h"

#ifndef MP_TEST_CONF_DIR
#define MP_TEST_CONF_DIR "tests/conf"
#endif

static struct conf *load(const char *rel)
{
	char path[1024], *out = NULL;
	size_t outlen = 0;
	FILE *errs = open_memstream(&out, &outlen);
	struct conf *c = NULL;

	assert_non_null(errs);
	snprintf(path, sizeof(path), "%s/%s", MP_TEST_CONF_DIR, rel);
	if (conf_load(path, &c, errs) < 0) {
		fclose(errs);
		fail_msg("%s refused:\n%s", rel, out);
	}
	fclose(errs);
	assert_string_equal(out, "");
	free(out);
	return c;
}

static void set_env(void)
{
	setenv("MP_TEST_TG_TOKEN", "tg-token-from-env", 1);
	setenv("MP_TEST_POP_PASSWORD", "pop-password-from-env", 1);
	/* Nodes' bearer tokens (tests/conf/good/nodes.yaml and bad/node_*.yaml). */
	setenv("MP_TEST_NODE_EU", "eu-west-token-0123456789", 1);
	setenv("MP_TEST_NODE_US", "us-east-token-0123456789", 1);
	setenv("MP_TEST_NODE_AP", "ap-south-token-0123456789", 1);
	setenv("MP_TEST_NODE_SHORT", "short", 1);
}

static const struct conf_check *check(const struct conf *c, const char *name)
{
	const struct conf_check *cc = conf_find_check(c, name);

	if (!cc)
		fail_msg("no check %s", name);
	return cc;
}

static void test_full(void **state)
{
	const struct conf_check *a, *b, *q;
	const struct conf_channel *ch;
	struct conf *c;

	(void)state;
	set_env();
	c = load("good/full.yaml");
	assert_int_equal(c->refs, 1);
	assert_string_equal(c->location, "fra1");
	assert_string_equal(c->store_path, "/var/lib/mailpulse/test.db");
	assert_int_equal(c->raw_days, 14);
	assert_int_equal(c->rollup_days, 365);
	assert_string_equal(c->listen, "127.0.0.1:9090");
	assert_string_equal(c->dashboard_url, "https://mon.example.com");
	assert_int_equal(c->max_in_flight, 64);
	assert_int_equal(c->nchecks, 4);
	assert_int_equal(c->nchannels, 6);
	assert_int_equal(c->nwindows, 3);

	/* Every key of the check, overriding the defaults. */
	a = check(c, "imap-main");
	assert_string_equal(a->url, "imaps://Mail.Example.com");
	assert_string_equal(a->chk.target.url, "imaps://mail.example.com:993");
	assert_int_equal(a->chk.target.implicit_tls, 1);
	assert_int_equal(a->interval_ms, 60000);
	assert_int_equal(a->chk.timeout_ms, 20000);
	assert_int_equal(a->retry_ms, 15000);
	assert_int_equal(a->fail_after, 3);
	assert_int_equal(a->recover_after, 2);
	assert_int_equal(a->reminder_ms, 3600000);
	assert_int_equal(a->chk.starttls, STARTTLS_REQUIRE);
	assert_string_equal(a->chk.expect, "Dovecot");
	assert_int_equal(a->chk.n_expect_caps, 2);
	assert_string_equal(a->chk.expect_caps[0], "IDLE");
	assert_string_equal(a->chk.expect_caps[1], "AUTH=PLAIN");
	assert_int_equal(a->chk.warn_ms, 500);
	assert_int_equal(a->chk.crit_ms, 2000);
	assert_string_equal(a->chk.sni, "mail.example.com");
	assert_non_null(strstr(a->chk.ca_file, "secrets/hook.key"));
	assert_int_equal(a->chk.min_tls, TLS1_3_VERSION);
	assert_int_equal(a->chk.insecure, 0);
	assert_int_equal(a->chk.all_addresses, 1);
	assert_int_equal(a->chk.family, AF_INET6);
	assert_int_equal(a->chk.n_resolve, 2);
	assert_string_equal(a->chk.resolve[0], "192.0.2.10");
	assert_string_equal(a->chk.resolve[1], "2001:db8::10");
	assert_string_equal(a->chk.login, "monitor");
	/* First line only, CR stripped. */
	assert_string_equal(a->chk.password, "imap-secret");
	/* Where from, as written: a node resolves the name on its own machine. */
	assert_string_equal(a->password_from, "file:../secrets/imap.pw");
	assert_int_equal(a->chk.allow_plaintext_auth, 0);
	assert_int_equal(a->chk.posture, POSTURE_WARN);
	assert_int_equal(a->chk.cert_warn_days, 21);
	assert_int_equal(a->chk.cert_crit_days, 10);
	assert_int_equal(a->nlabels, 2);
	assert_string_equal(a->labels[0], "env=prod");
	assert_string_equal(a->labels[1], "team=mail");
	assert_int_equal(a->nroutes, 2);
	assert_string_equal(c->channels[a->routes[0].channel].name, "ops-mail");
	assert_int_equal(a->routes[0].nreasons, 0);
	assert_int_equal(a->routes[0].recovery, 1);
	assert_int_equal(a->routes[1].channel, conf_find_channel(c, "pd"));
	assert_int_equal(a->routes[1].nreasons, 3);
	assert_int_equal(a->routes[1].reasons[0], MP_R_TIMEOUT);
	assert_int_equal(a->routes[1].reasons[1], MP_R_REFUSED);
	assert_int_equal(a->routes[1].reasons[2], MP_R_CERT_EXPIRED);
	assert_int_equal(a->routes[1].recovery, 0);
	assert_int_equal(strlen(a->digest), 64);

	/* Inherited from defaults, password from the environment. */
	b = check(c, "pop-backup");
	assert_int_equal(b->chk.target.proto, MP_POP3);
	assert_int_equal(b->chk.target.port, 1110);
	assert_int_equal(b->interval_ms, 120000);
	assert_int_equal(b->chk.timeout_ms, 20000);
	assert_int_equal(b->chk.starttls, STARTTLS_AUTO);
	assert_int_equal(b->chk.min_tls, TLS1_2_VERSION);
	assert_int_equal(b->chk.family, AF_UNSPEC);
	assert_int_equal(b->reminder_ms, 0);
	assert_string_equal(b->chk.password, "pop-password-from-env");
	assert_int_equal(b->nlabels, 2);
	assert_string_equal(b->labels[0], "env=staging");
	assert_string_equal(b->labels[1], "canary");
	assert_int_equal(b->nroutes, 1);
	assert_int_equal(b->routes[0].channel, conf_find_channel(c, "ops-mail"));
	assert_null(b->chk.expect);
	assert_null(b->chk.sni);

	/* notify: [] silences; one cert threshold given moves the other. */
	q = check(c, "imap-quiet");
	assert_int_equal(q->nroutes, 0);
	assert_int_equal(q->chk.cert_warn_days, 5);
	assert_int_equal(q->chk.cert_crit_days, 5);
	assert_null(q->chk.login);
	assert_null(q->chk.password);

	ch = &c->channels[conf_find_channel(c, "ops-mail")];
	assert_int_equal(ch->type, CH_EMAIL);
	assert_string_equal(ch->smtp_url, "smtp://smtp.example.com:587");
	assert_int_equal(ch->smtp_starttls, 1);
	assert_string_equal(ch->smtp_user, "alerts");
	assert_string_equal(ch->smtp_password, "smtp-secret");
	assert_string_equal(ch->from, "mailpulse@example.com");
	assert_int_equal(ch->nto, 2);
	assert_string_equal(ch->to[1], "oncall@example.com");
	assert_int_equal(ch->timeout_ms, 10000);
	assert_int_equal(ch->retries, 5);
	ch = &c->channels[conf_find_channel(c, "hook")];
	assert_int_equal(ch->type, CH_WEBHOOK);
	assert_string_equal(ch->secret, "hook-key");
	ch = &c->channels[conf_find_channel(c, "pd")];
	assert_int_equal(ch->type, CH_PAGERDUTY);
	assert_string_equal(ch->routing_key, "pd-routing-key"); /* no newline at all */
	assert_string_equal(ch->url, "http://127.0.0.1:9999");
	ch = &c->channels[conf_find_channel(c, "tg")];
	assert_string_equal(ch->bot_token, "tg-token-from-env");
	assert_string_equal(ch->chat_id, "-100123");
	ch = &c->channels[conf_find_channel(c, "run")];
	assert_int_equal(ch->type, CH_COMMAND);
	assert_string_equal(ch->argv[0], "/usr/local/bin/page-me");
	assert_string_equal(ch->argv[1], "--urgent");
	assert_null(ch->argv[2]);
	assert_int_equal(ch->timeout_ms, 30000);
	assert_int_equal(ch->retries, 0);
	assert_int_equal(conf_find_channel(c, "nope"), -1);
	assert_null(conf_find_check(c, "nope"));

	assert_string_equal(c->windows[0].name, "patch-tuesday");
	assert_int_equal(c->windows[0].weekly, 1);
	assert_int_equal(c->windows[0].days_mask, 1u << 2);
	assert_int_equal(c->windows[0].start_min, 120);
	assert_int_equal(c->windows[0].end_min, 240);
	assert_int_equal(c->windows[0].nchecks, 2);
	assert_int_equal(c->windows[1].days_mask, 0x3e); /* mon-fri */
	assert_int_equal(c->windows[2].weekly, 0);
	assert_int_equal(c->windows[2].start, 1796162400);
	assert_int_equal(c->windows[2].end, 1796176800);

	conf_ref(c);
	conf_unref(c);
	assert_int_equal(c->refs, 1);
	conf_unref(c);
}

static void test_minimal_defaults(void **state)
{
	struct conf *c = load("good/minimal.yaml");
	const struct conf_check *cc = check(c, "one");

	(void)state;
	assert_string_equal(c->location, "local");
	assert_string_equal(c->store_path, "/var/lib/mailpulse/mailpulse.db");
	assert_string_equal(c->listen, "127.0.0.1:8080");
	assert_null(c->dashboard_url);
	assert_int_equal(c->max_in_flight, 256);
	assert_int_equal(c->raw_days, 30);
	assert_int_equal(c->rollup_days, 400);
	assert_int_equal(cc->interval_ms, 60000);
	assert_int_equal(cc->retry_ms, 10000);
	assert_int_equal(cc->fail_after, 2);
	assert_int_equal(cc->recover_after, 1);
	assert_int_equal(cc->chk.timeout_ms, 30000);
	assert_int_equal(cc->chk.cert_warn_days, 14);
	assert_int_equal(cc->chk.cert_crit_days, 7);
	assert_int_equal(cc->nroutes, 0);
	conf_unref(c);
}

/* Link-local servers: zones in URLs and in resolve, kept in their canonical forms. */
static void test_link_local(void **state)
{
	struct conf *c = load("good/link_local.yaml");
	const struct conf_check *a = check(c, "ll-url");
	const struct conf_check *b = check(c, "ll-plain");
	const struct conf_check *r = check(c, "ll-resolve");

	(void)state;
	assert_string_equal(a->chk.target.host, "fe80::1%eth0");
	assert_string_equal(a->chk.target.url, "imaps://[fe80::1%25eth0]:993");
	assert_string_equal(b->chk.target.host, "fe80::2%eth1");
	assert_string_equal(b->chk.target.url, "imap://[fe80::2%25eth1]:143");
	assert_int_equal(r->chk.n_resolve, 3);
	assert_string_equal(r->chk.resolve[0], "fe80::3%eth0");
	assert_string_equal(r->chk.resolve[1], "fe80::4%Wlan_0");
	assert_string_equal(r->chk.resolve[2], "192.0.2.10");
	conf_unref(c);
}

static void test_anchors(void **state)
{
	struct conf *c = load("good/anchors.yaml");
	const struct conf_channel *m1, *m2;
	const struct conf_check *b;

	(void)state;
	m1 = &c->channels[conf_find_channel(c, "m1")];
	m2 = &c->channels[conf_find_channel(c, "m2")];
	assert_int_equal(m1->type, CH_EMAIL);
	assert_int_equal(m2->type, CH_EMAIL);
	assert_int_equal(m1->nto, 1);
	assert_int_equal(m2->nto, 2); /* the explicit list replaces the merged one */
	assert_string_equal(m2->to[1], "d@example.com");
	b = check(c, "b");
	assert_int_equal(b->interval_ms, 300000);
	assert_int_equal(b->chk.timeout_ms, 5000);
	assert_int_equal(b->chk.min_tls, TLS1_3_VERSION);
	assert_int_equal(check(c, "a")->chk.min_tls, TLS1_2_VERSION);
	conf_unref(c);
}

/* Lines of "# expect: " at the top of a file. */
static int read_expect(const char *path, char lines[][512], int max)
{
	FILE *f = fopen(path, "r");
	char buf[1024];
	int n = 0;

	assert_non_null(f);
	while (n < max && fgets(buf, sizeof(buf), f) && strncmp(buf, "# expect: ", 10) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(lines[n++], sizeof(lines[0]), "%s", buf + 10);
	}
	fclose(f);
	return n;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_bad_files(void **state)
{
	char *names[256];
	int nnames = 0, failures = 0;
	struct dirent *de;
	DIR *d = opendir(MP_TEST_CONF_DIR "/bad");

	(void)state;
	set_env();
	assert_non_null(d);
	while ((de = readdir(d)) && nnames < 256) {
		size_t n = strlen(de->d_name);

		if (n > 5 && strcmp(de->d_name + n - 5, ".yaml") == 0)
			names[nnames++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)nnames, sizeof(names[0]), by_name);
	assert_true(nnames >= 40);
	for (int i = 0; i < nnames; i++) {
		char path[1024], want[16][512], expected[16 * 600] = "", *out = NULL;
		size_t outlen = 0, len = 0;
		static struct conf sentinel;
		struct conf *c = &sentinel; /* conf_load() must reset it */
		FILE *errs = open_memstream(&out, &outlen);
		int n, rc;

		snprintf(path, sizeof(path), "%s/bad/%s", MP_TEST_CONF_DIR, names[i]);
		n = read_expect(path, want, 16);
		if (n == 0) {
			print_error("%s: no \"# expect: \" line\n", names[i]);
			failures++;
		}
		for (int k = 0; k < n; k++)
			len += (size_t)snprintf(expected + len, sizeof(expected) - len, "%s:%s\n",
			                        path, want[k]);
		rc = conf_load(path, &c, errs);
		fclose(errs);
		if (rc != -1 || c != NULL) {
			print_error("%s: accepted\n", names[i]);
			failures++;
			if (rc == 0)
				conf_unref(c);
		} else if (strcmp(out, expected) != 0) {
			print_error("%s:\n--- expected\n%s--- got\n%s", names[i], expected, out);
			failures++;
		}
		free(out);
		free(names[i]);
	}
	assert_int_equal(failures, 0);
}

static void test_missing_file(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *errs = open_memstream(&out, &len);
	struct conf *c;

	(void)state;
	assert_int_equal(conf_load(MP_TEST_CONF_DIR "/nope.yaml", &c, errs), -1);
	fclose(errs);
	assert_null(c);
	assert_string_equal(out, MP_TEST_CONF_DIR "/nope.yaml: No such file or directory\n");
	free(out);
}

static void test_maintenance(void **state)
{
	struct conf *c;
	const struct conf_check *main_, *second, *pop, *quiet;

	(void)state;
	set_env();
	c = load("good/full.yaml");
	main_ = check(c, "imap-main");
	second = check(c, "imap-second"); /* env=prod, selected by label only */
	pop = check(c, "pop-backup");
	quiet = check(c, "imap-quiet");

	/* patch-tuesday: tue 02:00-04:00 for imap-main and env=prod */
	assert_true(conf_in_maintenance(c, main_, 1780369200));  /* Tue 03:00 */
	assert_true(conf_in_maintenance(c, second, 1780369200)); /* by label */
	assert_false(conf_in_maintenance(c, quiet, 1780369200)); /* not selected */
	assert_false(conf_in_maintenance(c, pop, 1780369200));   /* env=staging */
	assert_false(conf_in_maintenance(c, main_, 1780372800)); /* Tue 04:00: end excluded */
	assert_true(conf_in_maintenance(c, main_, 1780372800 - 1));
	assert_false(conf_in_maintenance(c, main_, 1780365540)); /* Tue 01:59 */
	assert_true(conf_in_maintenance(c, main_, 1780365600));  /* Tue 02:00: start included */
	assert_false(conf_in_maintenance(c, main_, 1780455600)); /* Wed 03:00 */

	/* nightly: mon-fri 23:30-00:30, across midnight, for pop-backup */
	assert_true(conf_in_maintenance(c, pop, 1780703100));  /* Fri 23:45 */
	assert_true(conf_in_maintenance(c, pop, 1780704900));  /* Sat 00:15, from Fri */
	assert_false(conf_in_maintenance(c, pop, 1780789500)); /* Sat 23:45 */
	assert_false(conf_in_maintenance(c, pop, 1780877700)); /* Mon 00:15: Sun not listed */
	assert_true(conf_in_maintenance(c, pop, 1780964100));  /* Tue 00:15, from Mon */
	assert_false(conf_in_maintenance(c, pop, 1780965000)); /* Tue 00:30 */
	assert_false(conf_in_maintenance(c, main_, 1780703100));

	/* migration: one-off [start, end) for every check */
	assert_false(conf_in_maintenance(c, quiet, 1796162399));
	assert_true(conf_in_maintenance(c, quiet, 1796162400));
	assert_true(conf_in_maintenance(c, pop, 1796170000));
	assert_true(conf_in_maintenance(c, main_, 1796176799));
	assert_false(conf_in_maintenance(c, main_, 1796176800));

	/* Which window, and when the occurrence under way ends. */
	int64_t until = -1;
	const struct conf_window *w = conf_maintenance(c, main_, 1780369200, &until);
	assert_non_null(w);
	assert_string_equal(w->name, "patch-tuesday");
	assert_int_equal(until, 1780372800); /* Tue 04:00 */
	assert_non_null(conf_maintenance(c, pop, 1780703100, &until));
	assert_int_equal(until, 1780705800); /* Fri 23:45: Sat 00:30 */
	assert_non_null(conf_maintenance(c, pop, 1780704900, &until));
	assert_int_equal(until, 1780705800); /* Sat 00:15, from Fri: the same end */
	assert_non_null(conf_maintenance(c, quiet, 1796162400, &until));
	assert_int_equal(until, 1796176800);
	assert_null(conf_maintenance(c, main_, 1780455600, &until));
	assert_int_equal(until, 0);
	conf_unref(c);
}

static void test_digest(void **state)
{
	struct conf *a = load("good/digest_a.yaml"), *a2 = load("good/digest_a.yaml");
	struct conf *b = load("good/digest_b.yaml"), *cc = load("good/digest_c.yaml");

	(void)state;
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 64; k++)
			assert_true(strchr("0123456789abcdef", a->checks[i].digest[k]) != NULL);
		assert_string_equal(a->checks[i].digest, a2->checks[i].digest);
	}
	/* The changed interval changes that check only. */
	assert_string_not_equal(check(a, "one")->digest, check(b, "one")->digest);
	assert_string_equal(check(a, "two")->digest, check(b, "two")->digest);
	/* Order, comments, spelling of the same values: no change. */
	assert_string_equal(check(a, "one")->digest, check(cc, "one")->digest);
	assert_string_equal(check(a, "two")->digest, check(cc, "two")->digest);
	assert_string_not_equal(check(a, "one")->digest, check(a, "two")->digest);
	conf_unref(a);
	conf_unref(a2);
	conf_unref(b);
	conf_unref(cc);
}

static void test_dump_hides_secrets(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct conf *c;

	(void)state;
	set_env();
	c = load("good/full.yaml");
	conf_dump(c, f);
	fclose(f);
	assert_non_null(strstr(out, "password: (set)"));
	assert_non_null(strstr(out, "interval: 2m"));
	assert_non_null(strstr(out, "reasons: [timeout, refused, cert_expired]"));
	assert_null(strstr(out, "imap-secret"));
	assert_null(strstr(out, "smtp-secret"));
	assert_null(strstr(out, "hook-key"));
	assert_null(strstr(out, "pd-routing-key"));
	assert_null(strstr(out, "tg-token-from-env"));
	assert_null(strstr(out, "pop-password-from-env"));
	assert_null(strstr(out, "XYZ")); /* the Slack webhook's token */
	free(out);
	conf_unref(c);
}

static void test_config_main(void **state)
{
	char ok[] = MP_TEST_CONF_DIR "/good/minimal.yaml";
	char bad[] = MP_TEST_CONF_DIR "/bad/interval_too_short.yaml";
	char config[] = "config", chk[] = "check", v[] = "-v", x[] = "-x", other[] = "lint";
	char *a1[] = {config, chk, ok, NULL};
	char *a2[] = {config, chk, bad, NULL};
	char *a3[] = {config, chk, NULL};
	char *a4[] = {config, chk, x, ok, NULL};
	char *a5[] = {config, other, ok, NULL};
	char *a6[] = {config, chk, ok, bad, NULL};
	char *a7[] = {config, NULL};
	char *a8[] = {config, chk, v, ok, NULL};

	int rc[8], out, err, null;

	(void)state;
	/* Keep the test's output readable: the texts are covered above. */
	fflush(stdout);
	fflush(stderr);
	out = dup(1);
	err = dup(2);
	null = open("/dev/null", O_WRONLY);
	assert_true(out >= 0 && err >= 0 && null >= 0);
	dup2(null, 1);
	dup2(null, 2);
	rc[0] = config_main(3, a1);
	rc[1] = config_main(3, a2);
	rc[2] = config_main(2, a3);
	rc[3] = config_main(4, a4);
	rc[4] = config_main(3, a5);
	rc[5] = config_main(4, a6);
	rc[6] = config_main(1, a7);
	rc[7] = config_main(4, a8);
	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);
	close(null);
	assert_int_equal(rc[0], 0);
	assert_int_equal(rc[1], 1);
	assert_int_equal(rc[2], 3);
	assert_int_equal(rc[3], 3);
	assert_int_equal(rc[4], 3);
	assert_int_equal(rc[5], 3);
	assert_int_equal(rc[6], 3);
	assert_int_equal(rc[7], 0);
}

/* ---- probing nodes, locations, quorum -------------------------------------- */

/* A scratch directory for files the tests write (modes git cannot keep). */
static char scratch[64];

static void scratch_file(const char *name, const char *text, mode_t mode, char *path, size_t len)
{
	FILE *f;

	if (!scratch[0]) {
		snprintf(scratch, sizeof(scratch), "/tmp/mp-test-conf-XXXXXX");
		assert_non_null(mkdtemp(scratch));
	}
	snprintf(path, len, "%s/%s", scratch, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Load text as a configuration: the conf, or NULL with *errs the messages (to free). */
static struct conf *load_text(const char *text, char **errs)
{
	char path[256];
	size_t len = 0;
	FILE *e;
	struct conf *c = NULL;

	scratch_file("conf.yaml", text, 0600, path, sizeof(path));
	*errs = NULL;
	e = open_memstream(errs, &len);
	assert_non_null(e);
	if (conf_load(path, &c, e) < 0)
		c = NULL;
	fclose(e);
	unlink(path);
	return c;
}

static void test_nodes(void **state)
{
	struct conf *c;
	const struct conf_check *three, *two, *four, *all, *here, *nologin;
	const struct conf_node *nd;

	(void)state;
	set_env();
	c = load("good/nodes.yaml");
	assert_string_equal(c->location, "fra1");
	assert_int_equal(c->nnodes, 3);
	nd = conf_find_node(c, "eu-west");
	assert_non_null(nd);
	assert_ptr_equal(nd, &c->nodes[0]);
	assert_string_equal(nd->token, "eu-west-token-0123456789");
	assert_string_equal(nd->region, "Europe (Frankfurt)");
	assert_int_equal(nd->line, 24);
	assert_null(conf_find_node(c, "us-east")->region);
	assert_string_equal(conf_find_node(c, "ap-south")->token, "ap-south-token-0123456789");
	assert_null(conf_find_node(c, "fra1")); /* this daemon is a location, not a node */
	assert_null(conf_find_node(c, "eu-wes"));
	/* node_notify: pager (a single name) */
	assert_int_equal(c->nnode_channels, 1);
	assert_int_equal(c->node_channels[0], conf_find_channel(c, "pager"));

	three = check(c, "three");
	assert_int_equal(three->nlocations, 3); /* from defaults */
	assert_string_equal(three->locations[0], "fra1");
	assert_string_equal(three->locations[2], "us-east");
	assert_int_equal(three->quorum, 2); /* three locations: 2 by default */
	assert_int_equal(three->password_to_nodes, 1);
	assert_string_equal(three->password_from, "env:MP_TEST_POP_PASSWORD");
	two = check(c, "two");
	assert_int_equal(two->nlocations, 2);
	assert_int_equal(two->quorum, 1); /* fewer than three: 1 */
	four = check(c, "four");
	assert_int_equal(four->nlocations, 4);
	assert_int_equal(four->quorum, 3); /* majority of 4 */
	all = check(c, "all-nodes");
	assert_int_equal(all->quorum, 3);
	here = check(c, "here");
	assert_int_equal(here->nlocations, 0); /* [] : this daemon only */
	assert_int_equal(here->quorum, 1);
	nologin = check(c, "no-login");
	assert_int_equal(nologin->nlocations, 3);
	assert_int_equal(nologin->quorum, 1);
	/* Inherited from defaults, it means nothing without a login: cleared, not refused. */
	assert_int_equal(nologin->password_to_nodes, 0);
	assert_null(nologin->password_from);
	assert_int_equal(here->password_to_nodes, 0);

	/* Where each is probed. */
	assert_true(conf_check_at(c, three, "fra1"));
	assert_true(conf_check_at(c, three, "eu-west"));
	assert_true(conf_check_at(c, three, "us-east"));
	assert_false(conf_check_at(c, three, "ap-south"));
	assert_false(conf_check_at(c, two, "fra1"));
	assert_true(conf_check_at(c, two, "us-east"));
	assert_true(conf_check_at(c, here, "fra1"));
	assert_false(conf_check_at(c, here, "eu-west"));
	assert_false(conf_check_at(c, here, "local"));
	assert_false(conf_check_at(c, all, "fra1"));
	assert_true(conf_check_at(c, all, "ap-south"));
	assert_false(conf_check_at(c, all, "nowhere"));
	conf_unref(c);
}

/* A check without locations: this daemon's, by its name. */
static void test_check_at_default(void **state)
{
	struct conf *c = load("good/minimal.yaml");
	const struct conf_check *one = check(c, "one");

	(void)state;
	assert_int_equal(one->nlocations, 0);
	assert_int_equal(one->quorum, 1);
	assert_int_equal(one->password_to_nodes, 0);
	assert_true(conf_check_at(c, one, "local"));
	assert_false(conf_check_at(c, one, "fra1"));
	assert_int_equal(c->nnodes, 0);
	assert_null(conf_find_node(c, "local"));
	conf_unref(c);
}

/* quorum's default and majority for 1 to 5 locations. */
static void test_quorum(void **state)
{
	static const char *const locs[] = {"[fra1]", "[fra1, n1]", "[fra1, n1, n2]",
	                                   "[fra1, n1, n2, n3]", "[fra1, n1, n2, n3, n4]"};
	static const unsigned dflt[] = {1, 1, 2, 2, 2}, major[] = {1, 2, 2, 3, 3};
	const char *head = "location: fra1\n"
	                   "nodes:\n"
	                   "  - {name: n1, token_env: MP_TEST_NODE_EU}\n"
	                   "  - {name: n2, token_env: MP_TEST_NODE_US}\n"
	                   "  - {name: n3, token_env: MP_TEST_NODE_AP}\n"
	                   "  - {name: n4, token_env: MP_TEST_NODE_4}\n";
	char text[2048], *errs;
	struct conf *c;

	(void)state;
	set_env();
	setenv("MP_TEST_NODE_4", "fourth-node-token-0123456789", 1);
	for (int i = 0; i < 5; i++) {
		snprintf(
		    text, sizeof(text),
		    "%schecks:\n"
		    "  - {name: d, url: \"imaps://m.example.com\", locations: %s}\n"
		    "  - {name: m, url: \"imaps://m.example.com\", locations: %s, "
		    "quorum: majority}\n"
		    "  - {name: n, url: \"imaps://m.example.com\", locations: %s, quorum: %d}\n",
		    head, locs[i], locs[i], locs[i], i + 1);
		c = load_text(text, &errs);
		if (!c)
			fail_msg("%d locations refused:\n%s", i + 1, errs);
		assert_int_equal(check(c, "d")->nlocations, i + 1);
		assert_int_equal(check(c, "d")->quorum, dflt[i]);
		assert_int_equal(check(c, "m")->quorum, major[i]);
		assert_int_equal(check(c, "n")->quorum, i + 1); /* all of them, at most */
		conf_unref(c);
		free(errs);
	}
	/* majority without locations: of the one, this daemon. */
	c = load_text("checks: [{name: a, url: \"imaps://m.example.com\", quorum: majority}]\n",
	              &errs);
	assert_non_null(c);
	assert_int_equal(check(c, "a")->quorum, 1);
	conf_unref(c);
	free(errs);
}

/* node_notify absent: every channel; [] none. */
static void test_node_channels(void **state)
{
	struct conf *c;
	char *errs;

	(void)state;
	set_env();
	c = load("good/full.yaml");
	assert_int_equal(c->nchannels, 6);
	assert_int_equal(c->nnode_channels, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(c->node_channels[i], i);
	conf_unref(c);
	c = load("good/minimal.yaml");
	assert_int_equal(c->nnode_channels, 0);
	conf_unref(c);
	c = load_text("channels: [{name: a, type: webhook, url: \"https://h.example.com\"}]\n"
	              "node_notify: []\n"
	              "checks: [{name: a, url: \"imaps://m.example.com\"}]\n",
	              &errs);
	assert_non_null(c);
	assert_int_equal(c->nchannels, 1);
	assert_int_equal(c->nnode_channels, 0);
	conf_unref(c);
	free(errs);
}

/* A node's token_file: read, refused when every user may read it. */
static void test_node_token_file(void **state)
{
	char tok[256], text[1024], *errs, *out = NULL, want[512];
	size_t len = 0;
	struct conf *c;
	FILE *f;

	(void)state;
	scratch_file("eu.token", "file-token-abcdefghijklmnop\n", 0600, tok, sizeof(tok));
	snprintf(text, sizeof(text),
	         "nodes: [{name: eu, token_file: %s}]\n"
	         "checks: [{name: a, url: \"imaps://m.example.com\", locations: [local, eu]}]\n",
	         tok);
	c = load_text(text, &errs);
	if (!c)
		fail_msg("refused:\n%s", errs);
	free(errs);
	assert_string_equal(c->nodes[0].token, "file-token-abcdefghijklmnop");
	f = open_memstream(&out, &len);
	conf_dump(c, f);
	fclose(f);
	assert_non_null(strstr(out, "nodes:\n  - name: eu\n    token: (set)\n"));
	assert_non_null(strstr(out, "    locations: [local, eu]\n    quorum: 1\n"));
	assert_null(strstr(out, "file-token"));
	free(out);
	conf_unref(c);

	assert_int_equal(chmod(tok, 0644), 0);
	c = load_text(text, &errs);
	assert_null(c);
	snprintf(want, sizeof(want),
	         "1:32: token_file %s: readable by every user, who could then pose as its "
	         "holder: chmod 600 it\n",
	         tok);
	if (!strstr(errs, want))
		fail_msg("expected %s in:\n%s", want, errs);
	free(errs);
	unlink(tok);
}

/* More nodes than a controller takes. */
static void test_nodes_max(void **state)
{
	size_t cap = 64 * 1024, n = 0;
	char *text = malloc(cap), *errs;
	struct conf *c;

	(void)state;
	assert_non_null(text);
	n += (size_t)snprintf(text + n, cap - n, "nodes:\n");
	for (int i = 0; i <= CONF_NODES_MAX; i++)
		n += (size_t)snprintf(text + n, cap - n, "  - {name: n%d}\n", i);
	snprintf(text + n, cap - n, "checks: [{name: a, url: \"imaps://m.example.com\"}]\n");
	c = load_text(text, &errs);
	assert_null(c);
	if (!strstr(errs, ":258:5: nodes: at most 256\n"))
		fail_msg("got:\n%.2000s", errs);
	free(errs);
	free(text);
}

static void test_dump_nodes(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct conf *c;

	(void)state;
	set_env();
	c = load("good/nodes.yaml");
	conf_dump(c, f);
	fclose(f);
	assert_non_null(strstr(out, "nodes:\n"
	                            "  - name: eu-west\n"
	                            "    token: (set)\n"
	                            "    region: \"Europe (Frankfurt)\"\n"
	                            "  - name: us-east\n"
	                            "    token: (set)\n"
	                            "  - name: ap-south\n"
	                            "    token: (set)\n"
	                            "    region: ap\n"
	                            "node_notify: [pager]\n"));
	assert_non_null(strstr(out, "    locations: [fra1, eu-west, us-east]\n"
	                            "    quorum: 2\n"
	                            "    password_to_nodes: true\n"));
	assert_non_null(strstr(out, "  - name: here\n"));
	assert_null(strstr(out, "token-0123456789"));
	free(out);
	conf_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_minimal_defaults),
	    cmocka_unit_test(test_link_local),
	    cmocka_unit_test(test_anchors),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_maintenance),
	    cmocka_unit_test(test_digest),
	    cmocka_unit_test(test_dump_hides_secrets),
	    cmocka_unit_test(test_config_main),
	    cmocka_unit_test(test_nodes),
	    cmocka_unit_test(test_check_at_default),
	    cmocka_unit_test(test_quorum),
	    cmocka_unit_test(test_node_channels),
	    cmocka_unit_test(test_node_token_file),
	    cmocka_unit_test(test_nodes_max),
	    cmocka_unit_test(test_dump_nodes),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (scratch[0])
		rmdir(scratch);
	return rc;
}
