/* SPDX-License-Identifier: ISC */
/*
 * test_node_json.c - what a probing node and its controller say to each
 * other (src/wire/node_json.c) and the check serialiser under it
 * (src/spec/pairs.c): a check built, spelled as pairs and built again is
 * the same check; every document decodes to what was encoded; every
 * decoder refuses a wrong version, a missing, unknown, mistyped, duplicate
 * or over-long key, too many items, a body too large or too deep and every
 * truncation of a valid body, naming the field; one bad result of a batch
 * is refused alone; a password never shows in an error.
 *
 * test_node_json --seeds DIR writes the fuzzer's seeds (fuzz/fuzz_node.c):
 * the documents these tests encode, each after its decoder's selector byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/tls1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/checkspec.h"
#include "spec/secret.h"
#include "wire/node_json.h"

/* The inline password of the tests: no error message may hold any piece of it. */
#define PW_INLINE "Zq7-inline-secret"
#define PW_MARK   "Zq7"
#define PW_FILE   "Fv9-file-secret"
#define PW_ENV    "Kx4-env-secret"
#define PW_VAR    "MP_TEST_NODE_PW"
#define DIGEST    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmpdir[64], ca_path[128], pw_path[128];
static char err[1024];

/* ---- building source checks ---- */

#define POOL_MAX 512
static char *pool[POOL_MAX];
static int npool;

static char *pool_save(void *arg, const char *s, int secret)
{
	(void)arg;
	(void)secret;
	if (npool == POOL_MAX)
		return NULL;
	pool[npool] = strdup(s);
	return pool[npool++];
}

static void pool_free(void)
{
	for (int i = 0; i < npool; i++)
		free(pool[i]);
	npool = 0;
}

static void report_fail(void *arg, const char *key, const char *key2, const char *msg)
{
	(void)arg;
	(void)key2;
	fail_msg("%s: %s", key, msg);
}

/* "@CA" and "@PW" in a value stand for the test's files. */
static const char *subst(const char *v)
{
	if (strcmp(v, "@CA") == 0)
		return ca_path;
	if (strcmp(v, "@PW") == 0)
		return pw_path;
	return v;
}

/* Build c from a NULL-terminated list of key, value, key, value... (KEYS spelling). */
static void build_kv(struct check *c, const char *const *kv)
{
	const char *keys[64], *values[64];
	struct checkspec b;
	size_t n = 0;

	for (; kv[0]; kv += 2, n++) {
		assert_true(n < 64);
		keys[n] = kv[0];
		values[n] = subst(kv[1]);
	}
	check_defaults(c);
	checkspec_init(&b, c, CHECKSPEC_KEYS, pool_save, NULL);
	assert_int_equal(checkspec_build(&b, keys, values, n, report_fail, NULL), 0);
}

/* ---- pairs ---- */

#define PAIRS_MAX 64
struct pairs {
	char *key[PAIRS_MAX];
	char *value[PAIRS_MAX];
	size_t n;
	int stop_after; /* return 7 after this many; 0: never */
};

static int collect(void *arg, const char *key, const char *value)
{
	struct pairs *p = arg;

	assert_true(p->n < PAIRS_MAX);
	p->key[p->n] = strdup(key);
	p->value[p->n] = strdup(value);
	p->n++;
	return p->stop_after && (int)p->n >= p->stop_after ? 7 : 0;
}

static void pairs_free(struct pairs *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->key[i]);
		free(p->value[i]);
	}
	p->n = 0;
}

static const char *pair_value(const struct pairs *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->key[i], key) == 0)
			return p->value[i];
	return NULL;
}

static void str_eq(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* Every field that decides how the check probes; the password only when asked. */
static void check_eq(const struct check *a, const struct check *b, int password)
{
	assert_int_equal(a->target.proto, b->target.proto);
	assert_int_equal(a->target.implicit_tls, b->target.implicit_tls);
	assert_string_equal(a->target.host, b->target.host);
	assert_int_equal(a->target.port, b->target.port);
	assert_string_equal(a->target.url, b->target.url);
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->all_addresses, b->all_addresses);
	assert_int_equal(a->n_resolve, b->n_resolve);
	for (int i = 0; i < a->n_resolve; i++)
		assert_string_equal(a->resolve[i], b->resolve[i]);
	assert_int_equal(a->starttls, b->starttls);
	str_eq(a->expect, b->expect);
	assert_int_equal(a->n_expect_caps, b->n_expect_caps);
	for (int i = 0; i < a->n_expect_caps; i++)
		assert_string_equal(a->expect_caps[i], b->expect_caps[i]);
	assert_int_equal(a->timeout_ms, b->timeout_ms);
	assert_int_equal(a->warn_ms, b->warn_ms);
	assert_int_equal(a->crit_ms, b->crit_ms);
	str_eq(a->sni, b->sni);
	str_eq(a->ca_file, b->ca_file);
	assert_int_equal(a->min_tls, b->min_tls);
	assert_int_equal(a->insecure, b->insecure);
	assert_int_equal(a->cert_warn_days, b->cert_warn_days);
	assert_int_equal(a->cert_crit_days, b->cert_crit_days);
	assert_int_equal(a->cert_life_rule, b->cert_life_rule);
	str_eq(a->login, b->login);
	if (password)
		str_eq(a->password, b->password);
	assert_int_equal(a->allow_plaintext_auth, b->allow_plaintext_auth);
	assert_int_equal(a->posture, b->posture);
}

static const char *const k_plain[] = {"url", "imap://mail.example.com", NULL};
static const char *const k_tls[] = {"url",      "imaps://mail.example.com:10993",
                                    "ca_file",  "@CA",
                                    "sni",      "imap.example.net",
                                    "min_tls",  "1.3",
                                    "insecure", "yes",
                                    "timeout",  "1m30s",
                                    NULL};
static const char *const k_pop3[] = {"url",
                                     "pop3://pop.example.com",
                                     "starttls",
                                     "require",
                                     "expect",
                                     "+OK Dovecot ready",
                                     "expect_capabilities",
                                     "SASL PLAIN",
                                     "expect_capabilities",
                                     "USER",
                                     "expect_capabilities",
                                     "TOP",
                                     "posture",
                                     "warn",
                                     NULL};
static const char *const k_login[] = {
    "url", "imap://mail.example.com:143", "login", "probe@example.com", "password_file",
    "@PW", "allow_plaintext_auth",        "true",  "timeout",           "1500ms",
    NULL};
static const char *const k_resolve[] = {"url",
                                        "imaps://mail.example.com",
                                        "resolve",
                                        "192.0.2.10",
                                        "resolve",
                                        "[2001:db8::1]",
                                        "resolve",
                                        "fe80::1%lo",
                                        "family",
                                        "ipv6",
                                        "all_addresses",
                                        "on",
                                        NULL};
static const char *const k_thresholds[] = {"url",
                                           "imaps://[2001:db8::25]:993",
                                           "cert_warn_days",
                                           "30",
                                           "cert_crit_days",
                                           "10",
                                           "warn_ms",
                                           "200",
                                           "crit_ms",
                                           "800",
                                           NULL};
static const char *const k_crit_only[] = {"url", "pop3s://pop.example.com", "cert_crit_days", "20",
                                          NULL};
static const char *const k_misc[] = {
    "url",  "imap://mail.example.com", "starttls", "no",      "family",
    "ipv4", "cert_lifetime_rule",      "false",    "min_tls", "TLSv1.0",
    NULL};
static const char *const k_rule[] = {"url",
                                     "pop3s://pop.example.com:1995",
                                     "cert_warn_days",
                                     "21",
                                     "cert_lifetime_rule",
                                     "true",
                                     "timeout",
                                     "15m",
                                     NULL};
static const char *const *const all_kv[] = {k_plain,      k_tls,       k_pop3, k_login, k_resolve,
                                            k_thresholds, k_crit_only, k_misc, k_rule};
#define N_KV (sizeof(all_kv) / sizeof(all_kv[0]))

/* build -> pairs -> build: the same check; and the pairs of both builds are the same text. */
static void test_pairs_round_trip(void **state)
{
	(void)state;
	for (size_t t = 0; t < N_KV; t++) {
		struct check a, b2;
		struct checkspec bs;
		struct pairs p = {0}, q = {0};

		build_kv(&a, all_kv[t]);
		assert_int_equal(checkspec_pairs(&a, collect, &p), 0);
		assert_string_equal(p.key[0], "url");
		for (size_t i = 0; i < p.n; i++) {
			/* Never the password, nor where it comes from. */
			assert_string_not_equal(p.key[i], "password_file");
			assert_string_not_equal(p.key[i], "password_env");
			assert_null(strstr(p.value[i], PW_FILE));
		}
		check_defaults(&b2);
		checkspec_init(&bs, &b2, CHECKSPEC_KEYS, pool_save, NULL);
		/* A check that logs in needs a password source to build: the node adds it. */
		if (a.login)
			b2.password = "from elsewhere";
		assert_int_equal(checkspec_build(&bs, (const char *const *)p.key,
		                                 (const char *const *)p.value, p.n, report_fail,
		                                 NULL),
		                 0);
		check_eq(&a, &b2, 0);
		assert_int_equal(checkspec_pairs(&b2, collect, &q), 0);
		assert_int_equal(p.n, q.n);
		for (size_t i = 0; i < p.n; i++) {
			assert_string_equal(p.key[i], q.key[i]);
			assert_string_equal(p.value[i], q.value[i]);
		}
		pairs_free(&p);
		pairs_free(&q);
	}
	pool_free();
}

/* Defaults are spelled out; unset strings are left out; values in their KEYS spelling. */
static void test_pairs_spelling(void **state)
{
	static const char *const want[] = {"url",
	                                   "timeout",
	                                   "starttls",
	                                   "warn_ms",
	                                   "crit_ms",
	                                   "min_tls",
	                                   "insecure",
	                                   "all_addresses",
	                                   "family",
	                                   "cert_warn_days",
	                                   "cert_crit_days",
	                                   "cert_lifetime_rule",
	                                   "allow_plaintext_auth",
	                                   "posture"};
	struct check c;
	struct pairs p = {0};

	(void)state;
	build_kv(&c, k_plain);
	assert_int_equal(checkspec_pairs(&c, collect, &p), 0);
	assert_int_equal(p.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < p.n; i++)
		assert_string_equal(p.key[i], want[i]);
	assert_string_equal(pair_value(&p, "url"), "imap://mail.example.com:143");
	assert_string_equal(pair_value(&p, "timeout"), "30s");
	assert_string_equal(pair_value(&p, "starttls"), "auto");
	assert_string_equal(pair_value(&p, "min_tls"), "1.2");
	assert_string_equal(pair_value(&p, "family"), "any");
	assert_string_equal(pair_value(&p, "insecure"), "false");
	assert_string_equal(pair_value(&p, "cert_warn_days"), "14");
	assert_string_equal(pair_value(&p, "cert_crit_days"), "7");
	assert_string_equal(pair_value(&p, "cert_lifetime_rule"), "true");
	assert_string_equal(pair_value(&p, "posture"), "report");
	assert_string_equal(pair_value(&p, "warn_ms"), "0");
	pairs_free(&p);

	build_kv(&c, k_tls);
	assert_int_equal(checkspec_pairs(&c, collect, &p), 0);
	assert_string_equal(pair_value(&p, "timeout"), "1m30s");
	assert_string_equal(pair_value(&p, "min_tls"), "1.3");
	assert_string_equal(pair_value(&p, "insecure"), "true");
	assert_string_equal(pair_value(&p, "ca_file"), ca_path);
	assert_string_equal(pair_value(&p, "sni"), "imap.example.net");
	pairs_free(&p);

	/* List keys once per item, addresses canonical (no brackets). */
	build_kv(&c, k_resolve);
	assert_int_equal(checkspec_pairs(&c, collect, &p), 0);
	{
		const char *got[3];
		int n = 0;

		for (size_t i = 0; i < p.n; i++)
			if (strcmp(p.key[i], "resolve") == 0 && n < 3)
				got[n++] = p.value[i];
		assert_int_equal(n, 3);
		assert_string_equal(got[0], "192.0.2.10");
		assert_string_equal(got[1], "2001:db8::1");
		assert_string_equal(got[2], "fe80::1%lo");
	}
	assert_string_equal(pair_value(&p, "family"), "ipv6");
	pairs_free(&p);

	/* cert_warn_days given: the lifetime rule went off, and says so, or the node turns it on.
	 */
	build_kv(&c, k_thresholds);
	assert_int_equal(checkspec_pairs(&c, collect, &p), 0);
	assert_string_equal(pair_value(&p, "cert_lifetime_rule"), "false");
	assert_string_equal(pair_value(&p, "warn_ms"), "200");
	assert_string_equal(pair_value(&p, "crit_ms"), "800");
	pairs_free(&p);

	build_kv(&c, k_misc);
	assert_int_equal(checkspec_pairs(&c, collect, &p), 0);
	assert_string_equal(pair_value(&p, "min_tls"), "1.0");
	pairs_free(&p);
	pool_free();
}

static void test_pairs_stop_and_bad(void **state)
{
	struct check c;
	struct pairs p = {0};

	(void)state;
	build_kv(&c, k_pop3);
	p.stop_after = 2;
	assert_int_equal(checkspec_pairs(&c, collect, &p), 7);
	assert_int_equal(p.n, 2);
	pairs_free(&p);
	/* A value out of its table has no spelling: refused, never guessed. */
	p.stop_after = 0;
	c.family = 12345;
	assert_int_equal(checkspec_pairs(&c, collect, &p), -1);
	pairs_free(&p);
	build_kv(&c, k_pop3);
	c.starttls = (enum starttls_mode)99;
	assert_int_equal(checkspec_pairs(&c, collect, &p), -1);
	pairs_free(&p);
	pool_free();
}

/* ---- JSON surgery for the refusal tests ---- */

/*
 * base with the value at path (segments split by '/', numbers index arrays,
 * "+" appends to an array) set to v (taken), or removed when v is NULL.
 */
static char *with(const char *base, const char *path, json_t *v)
{
	json_error_t je;
	json_t *root = json_loads(base, 0, &je), *cur;
	char buf[256], *seg, *save = NULL, *next;
	char *out;

	assert_non_null(root);
	snprintf(buf, sizeof(buf), "%s", path);
	cur = root;
	seg = strtok_r(buf, "/", &save);
	while (seg) {
		next = strtok_r(NULL, "/", &save);
		if (!next) {
			if (json_is_array(cur)) {
				if (strcmp(seg, "+") == 0)
					assert_int_equal(json_array_append_new(cur, v), 0);
				else if (v)
					assert_int_equal(
					    json_array_set_new(cur, (size_t)atoi(seg), v), 0);
				else
					assert_int_equal(json_array_remove(cur, (size_t)atoi(seg)),
					                 0);
			} else if (v) {
				assert_int_equal(json_object_set_new(cur, seg, v), 0);
			} else {
				assert_int_equal(json_object_del(cur, seg), 0);
			}
			break;
		}
		cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(seg))
		                         : json_object_get(cur, seg);
		assert_non_null(cur);
		seg = next;
	}
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	assert_non_null(out);
	return out;
}

static json_t *long_string(size_t n, char ch)
{
	char *s = malloc(n + 1);
	json_t *j;

	memset(s, ch, n);
	s[n] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

/* ---- assignments ---- */

/* Four checks: plain; a password file; a password that travels; a variable. */
static char *assign_doc(struct check chk[4])
{
	static const char *const k_env[] = {
	    "url", "pop3s://pop.example.com", "login", "probe", "password_env", PW_VAR, NULL};
	struct node_check_out out[4] = {
	    {"a", DIGEST, 120000, 10000, &chk[0], NULL, NULL},
	    {"b", DIGEST, 30000, 5000, &chk[1], NULL, NULL},
	    {"imap-eu", DIGEST, 300000, 1000, &chk[2], NULL, PW_INLINE},
	    {"d", DIGEST, 900000, 900000, &chk[3], "env:" PW_VAR, NULL},
	};
	static char src_b[160], src_c[160];

	build_kv(&chk[0], k_tls);
	build_kv(&chk[1], k_login);
	build_kv(&chk[2], k_login);
	build_kv(&chk[3], k_env);
	snprintf(src_b, sizeof(src_b), "file:%s", pw_path);
	out[1].pw_src = src_b;
	/* The password travels: the node need not have the file. */
	snprintf(src_c, sizeof(src_c), "file:/nonexistent/on/the/node");
	out[2].pw_src = src_c;
	return node_assign_encode("eu-west", "etag-42", out, 4);
}

static void test_assign_round_trip(void **state)
{
	struct check chk[4];
	struct node_assign a;
	char *doc;

	(void)state;
	doc = assign_doc(chk);
	assert_non_null(doc);
	/* The travelling password is there once; the others are not. */
	assert_non_null(strstr(doc, "\"password\":\"" PW_INLINE "\""));
	assert_null(strstr(strstr(doc, PW_INLINE) + 1, PW_INLINE));
	assert_null(strstr(doc, PW_FILE));
	assert_null(strstr(doc, PW_ENV));
	assert_int_equal(node_assign_decode(doc, strlen(doc), &a, err, sizeof(err)), 0);
	assert_string_equal(a.node, "eu-west");
	assert_string_equal(a.etag, "etag-42");
	assert_int_equal(a.n, 4);
	assert_string_equal(a.checks[0].spec->name, "a");
	assert_string_equal(a.checks[2].spec->name, "imap-eu");
	assert_string_equal(a.checks[3].digest, DIGEST);
	assert_int_equal(a.checks[0].spec->interval_ms, 120000);
	assert_int_equal(a.checks[0].spec->retry_ms, 10000);
	assert_int_equal(a.checks[3].spec->interval_ms, 900000);
	assert_int_equal(a.checks[2].spec->retry_ms, 1000);
	assert_int_equal(a.checks[0].spec->refs, 1);
	for (int i = 0; i < 4; i++)
		check_eq(&chk[i], &a.checks[i].spec->chk, 0);
	/* Read on the node from its file, taken as sent, read from its environment. */
	assert_null(a.checks[0].spec->chk.password);
	assert_string_equal(a.checks[1].spec->chk.password, PW_FILE);
	assert_string_equal(a.checks[2].spec->chk.password, PW_INLINE);
	assert_string_equal(a.checks[3].spec->chk.password, PW_ENV);
	assert_int_equal(a.checks[1].spec->chk.login_interval_s, 30);
	node_assign_clear(&a);
	assert_int_equal(a.n, 0);
	assert_null(a.checks);
	free(doc);

	/*
	 * A check without login carries no password, whatever the caller
	 * passed; a check that cannot be spelled is no document at all.
	 */
	{
		struct node_check_out o = {"a",     DIGEST,        120000,   10000,
		                           &chk[0], "env:" PW_VAR, PW_INLINE};

		doc = node_assign_encode("n1", "e0", &o, 1);
		assert_non_null(doc);
		assert_non_null(strstr(doc, "\"password_from\":null}"));
		assert_null(strstr(doc, PW_MARK));
		free(doc);
		chk[0].family = 12345;
		assert_null(node_assign_encode("n1", "e0", &o, 1));
	}

	/* No checks at all is an assignment too. */
	doc = node_assign_encode("n1", "e0", NULL, 0);
	assert_string_equal(doc, "{\"v\":1,\"node\":\"n1\",\"etag\":\"e0\",\"checks\":[]}");
	assert_int_equal(node_assign_decode(doc, strlen(doc), &a, err, sizeof(err)), 0);
	assert_int_equal(a.n, 0);
	node_assign_clear(&a);
	free(doc);
	pool_free();
}

/* doc must be refused with an error holding want (and no piece of the password). */
static void assign_no(char *doc, const char *want)
{
	struct node_assign a;

	memset(&a, 0x5a, sizeof(a));
	err[0] = '\0';
	if (node_assign_decode(doc, strlen(doc), &a, err, sizeof(err)) != -1)
		fail_msg("accepted; expected \"%s\"\n%s", want, doc);
	if (!strstr(err, want))
		fail_msg("error \"%s\"; expected it to hold \"%s\"", err, want);
	assert_null(strstr(err, PW_MARK));
	assert_int_equal(a.n, 0);
	assert_null(a.checks);
	free(doc);
}

/* doc decodes, without the check named skip, which is listed with want in its error. */
static void assign_skips(char *doc, const char *skip, const char *want)
{
	struct node_assign a;

	err[0] = '\0';
	if (node_assign_decode(doc, strlen(doc), &a, err, sizeof(err)) != 0)
		fail_msg("refused: %s\n%s", err, doc);
	assert_int_equal(a.nskipped, 1);
	assert_string_equal(a.skipped[0].name, skip);
	if (!strstr(a.skipped[0].error, want))
		fail_msg("skipped for \"%s\"; expected it to hold \"%s\"", a.skipped[0].error,
		         want);
	assert_null(strstr(a.skipped[0].error, PW_MARK));
	for (size_t i = 0; i < a.n; i++)
		assert_string_not_equal(a.checks[i].spec->name, skip);
	assert_true(a.n >= 1);
	node_assign_clear(&a);
	free(doc);
}

static void test_assign_refusals(void **state)
{
	struct check chk[4];
	char *doc, *many;
	json_t *arr;

	(void)state;
	doc = assign_doc(chk);
	assert_non_null(doc);

	assign_no(with(doc, "v", json_integer(2)),
	          "v: version 2 is not spoken here (this side speaks 1)");
	assign_no(with(doc, "v", json_string("1")), "v: expected an integer, got a string");
	assign_no(with(doc, "v", NULL), "v: missing");
	assign_no(with(doc, "etag", NULL), "etag: missing");
	assign_no(with(doc, "extra", json_integer(1)), "assignments: unknown key \"extra\"");
	assign_no(with(doc, "node", json_string("eu west")),
	          "node: not a node name (1 to 64 of A-Z a-z 0-9 . _ -): \"eu west\"");
	assign_no(with(doc, "checks", json_object()), "checks: expected an array, got an object");
	assign_no(with(doc, "checks/1", json_integer(3)),
	          "checks[1]: expected an object, got an integer");
	assign_no(with(doc, "checks/0/name", long_string(65, 'x')),
	          "checks[0].name: not a check name");
	assign_no(with(doc, "checks/0/name", json_string("")), "checks[0].name: not a check name");
	assign_no(with(doc, "checks/0/name", NULL), "checks[0].name: missing");
	assign_no(with(doc, "checks/3/color", json_string("red")),
	          "checks[3] (\"d\"): unknown key \"color\"");
	assign_no(with(doc, "checks/1/digest", json_string("ABCDEF")),
	          "checks[1] (\"b\").digest: not a SHA-256 in lower-case hex");
	assign_no(with(doc, "checks/0/interval_ms", json_integer(999)),
	          "checks[0] (\"a\").interval_ms: 999 is out of range (1000 to 900000)");
	assign_no(with(doc, "checks/0/interval_ms", json_integer(900001)),
	          "checks[0] (\"a\").interval_ms: 900001 is out of range");
	assign_no(with(doc, "checks/0/interval_ms", json_real(60000.5)),
	          "checks[0] (\"a\").interval_ms: expected an integer, got a number");
	assign_no(with(doc, "checks/0/retry_ms", json_integer(0)),
	          "checks[0] (\"a\").retry_ms: 0 is out of range");
	assign_no(with(doc, "checks/0/spec", json_array()),
	          "checks[0] (\"a\").spec: expected an object, got an array");
	/* The builder's own message, placed under the check and key. */
	assign_no(with(doc, "checks/2/spec/timeout", json_string("soon")),
	          "checks[2] (\"imap-eu\").spec.timeout: \"soon\" is not a duration (such as 90, "
	          "30s, 5m or 1h30m; a plain number is seconds)");
	assign_no(with(doc, "checks/0/spec/timeout", json_integer(30)),
	          "checks[0] (\"a\").spec.timeout: expected a string, got an integer");
	assign_no(with(doc, "checks/0/spec/frobnicate", json_string("1")),
	          "checks[0] (\"a\").spec: unknown key \"frobnicate\"");
	assign_no(with(doc, "checks/1/spec/password_file", json_string(pw_path)),
	          "checks[1] (\"b\").spec.password_file: not a spec key here");
	assign_no(with(doc, "checks/0/spec/expect_capabilities", json_string("IDLE")),
	          "checks[0] (\"a\").spec.expect_capabilities: expected an array of strings, got "
	          "a string");
	assign_no(
	    with(doc, "checks/0/spec/expect_capabilities", json_pack("[si]", "IDLE", 3)),
	    "checks[0] (\"a\").spec.expect_capabilities[1]: expected a string, got an integer");
	assign_no(with(doc, "checks/0/spec/resolve", json_pack("[s]", "mail.example.com")),
	          "checks[0] (\"a\").spec.resolve: \"mail.example.com\"");
	assign_no(with(doc, "checks/0/spec/url", NULL), "checks[0] (\"a\").spec.url: missing");
	assign_no(with(doc, "checks/0/spec/url", json_string("http://x")),
	          "checks[0] (\"a\").spec.url");
	assign_no(with(doc, "checks/0/spec/insecure", json_string("maybe")),
	          "checks[0] (\"a\").spec.insecure: \"maybe\" is not true or false");
	/* The cross-checks: against the interval, and between keys. */
	assign_no(with(doc, "checks/1/spec/timeout", json_string("30s")),
	          "checks[1] (\"b\").spec.timeout: 30s is not shorter than the interval 30s");
	{
		char *d2 = with(doc, "checks/0/spec/warn_ms", json_string("900"));

		assign_no(with(d2, "checks/0/spec/crit_ms", json_string("500")),
		          "checks[0] (\"a\").spec.crit_ms: crit_ms 500 is below warn_ms 900");
		free(d2);
	}
	/* Where the password comes from. */
	assign_no(with(doc, "checks/1/password_from", json_string("ftp:x")),
	          "checks[1] (\"b\").password_from: neither \"file:PATH\" nor \"env:NAME\"");
	assign_no(with(doc, "checks/1/password_from", json_string("file:")),
	          "checks[1] (\"b\").password_from: neither");
	assign_no(with(doc, "checks/1/password_from", json_null()),
	          "checks[1] (\"b\").password_from: null, and no password: spec.login needs one "
	          "or the other");
	assign_no(with(doc, "checks/1/password_from", NULL),
	          "checks[1] (\"b\").password_from: missing");
	/* What the node's machine lacks leaves that check out, not the document. */
	assign_skips(with(doc, "checks/1/password_from", json_string("file:/nonexistent/pw")), "b",
	             "checks[1] (\"b\").password_from: password_file /nonexistent/pw:");
	assign_skips(with(doc, "checks/3/password_from", json_string("env:MP_TEST_UNSET_VAR")), "d",
	             "checks[3] (\"d\").password_from: password_env: MP_TEST_UNSET_VAR is not set");
	assign_skips(with(doc, "checks/0/spec/ca_file", json_string("/nonexistent/ca.pem")), "a",
	             "checks[0] (\"a\").spec.ca_file:");
	/* A check left out must still be right in every other way. */
	{
		char *t = with(doc, "checks/0/spec/ca_file", json_string("/nonexistent/ca.pem"));

		assign_no(with(t, "checks/0/spec/timeout", json_string("soon")),
		          "checks[0] (\"a\").spec.timeout:");
		free(t);
	}
	assign_no(with(doc, "checks/0/password_from", json_string("env:" PW_VAR)),
	          "checks[0] (\"a\").password_from: given without spec.login");
	assign_no(with(doc, "checks/0/password", json_string("x")),
	          "checks[0] (\"a\").password: given without spec.login");
	/* The password: refused without being shown. */
	assign_no(with(doc, "checks/2/password", json_string(PW_MARK "-with\r\nLOGOUT")),
	          "checks[2] (\"imap-eu\").password: holds a CR, LF or NUL byte");
	assign_no(with(doc, "checks/2/password", long_string(SECRET_MAX + 1, 'Z')),
	          "checks[2] (\"imap-eu\").password: longer than");
	assign_no(with(doc, "checks/2/password", json_string("")),
	          "checks[2] (\"imap-eu\").password: empty");
	assign_no(with(doc, "checks/2/password", json_integer(7)),
	          "checks[2] (\"imap-eu\").password: expected a string, got an integer");
	/* A check with a travelling password, wrong elsewhere: the message holds no piece of it. */
	assign_no(with(doc, "checks/2/spec/expect", json_string("")),
	          "checks[2] (\"imap-eu\").spec.expect: the text must be non-empty printable text");
	/* Two checks of one name. */
	assign_no(with(doc, "checks/3/name", json_string("a")),
	          "checks: checks[0] and checks[3] are both named \"a\"");

	/* Too many checks: refused before any is built. */
	arr = json_array();
	for (int i = 0; i <= NODE_CHECKS_MAX; i++)
		json_array_append_new(arr, json_object());
	many = with(doc, "checks", arr);
	assign_no(many, "checks: more than 100000 checks");

	/* Bounds of the body: size, nesting, not JSON, not an object, duplicate keys. */
	{
		/* An assignment list has its own, larger bound (NODE_ASSIGN_MAX). */
		char *big = malloc((size_t)NODE_ASSIGN_MAX + 2);

		memset(big, ' ', (size_t)NODE_ASSIGN_MAX + 1);
		big[NODE_ASSIGN_MAX + 1] = '\0';
		{
			char want[96];

			snprintf(want, sizeof(want), "%s: %zu bytes, more than the %zu allowed",
			         "assignments", (size_t)NODE_ASSIGN_MAX + 1,
			         (size_t)NODE_ASSIGN_MAX);
			assign_no(big, want);
		}
	}
	assign_no(strdup("{\"v\":1,\"checks\":[{\"spec\":{\"resolve\":[[]]}}]}"),
	          "assignments: nested deeper than 5 levels at byte 37");
	assign_no(strdup("[1]"), "assignments: expected an object, got an array");
	assign_no(strdup("{\"v\":1,\"v\":1}"), "assignments: not JSON at byte");
	assign_no(strdup("{\"v\":1,\"v\":1}"), "duplicate object key");
	assign_no(strdup(""), "assignments: not JSON at byte 0");
	free(doc);
	pool_free();
}

/* Every prefix of a valid body fails cleanly: no crash, no password in the message. */
static void test_assign_truncated(void **state)
{
	struct check chk[4];
	struct node_assign a;
	char *doc;
	size_t len;

	(void)state;
	doc = assign_doc(chk);
	len = strlen(doc);
	for (size_t n = 0; n < len; n++) {
		err[0] = '\0';
		if (node_assign_decode(doc, n, &a, err, sizeof(err)) != -1)
			fail_msg("the first %zu bytes were accepted", n);
		assert_non_null(strstr(err, "assignments: not JSON at byte"));
		assert_null(strstr(err, PW_MARK));
		assert_int_equal(a.n, 0);
	}
	free(doc);
	pool_free();
}

/* ---- batches ---- */

#define NRES 3
static char *texts[NRES];

static void make_texts(void)
{
	static struct result r;
	struct result_meta m;

	for (int i = 0; i < NRES; i++) {
		result_init(&r, 0);
		memset(&m, 0, sizeof(m));
		snprintf(m.target, sizeof(m.target), "imaps://mail.example.com:993");
		snprintf(m.check, sizeof(m.check), "imap-eu");
		snprintf(m.location, sizeof(m.location), "eu-west");
		snprintf(m.digest, sizeof(m.digest), DIGEST);
		m.seq = (uint64_t)i + 1;
		r.probe_ms = 1700000000000LL + i * 30000;
		r.phase_us[MP_PH_TOTAL] = 12345 + i;
		if (i == 1)
			result_fail(&r, MP_R_TIMEOUT, "no greeting within 30s");
		texts[i] = result_json_dumps(&r, &m);
		assert_non_null(texts[i]);
	}
}

static void free_texts(void)
{
	for (int i = 0; i < NRES; i++)
		free(texts[i]);
}

struct seen {
	size_t calls;
	size_t good;
	size_t bad_index;
	char bad_err[512];
	char *got[NODE_BATCH_MAX];
	int stop_at; /* return 1 at this call; -1: never */
};

static int on_item(size_t i, const struct result *r, const struct result_meta *m, const char *e,
                   void *arg)
{
	struct seen *s = arg;

	assert_int_equal(i, s->calls);
	s->calls++;
	if (!r) {
		assert_null(m);
		assert_non_null(e);
		s->bad_index = i;
		snprintf(s->bad_err, sizeof(s->bad_err), "%s", e);
	} else {
		assert_null(e);
		assert_true(s->good < NODE_BATCH_MAX);
		s->got[s->good++] = result_json_dumps(r, m);
	}
	return s->stop_at >= 0 && (int)i == s->stop_at;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->good; i++)
		free(s->got[i]);
	memset(s, 0, sizeof(*s));
	s->stop_at = -1;
}

static char *batch_of(char **t, int n, size_t *len)
{
	struct node_batch_out *b = node_batch_open("eu-west", "b-0001", 1700000000123LL, 42);

	assert_non_null(b);
	for (int i = 0; i < n; i++)
		assert_int_equal(node_batch_add(b, t[i], strlen(t[i])), 0);
	return node_batch_close(b, len);
}

static struct seen seen;

static void test_batch_round_trip(void **state)
{
	struct node_batch_head h;
	size_t len;
	char *body;

	(void)state;
	make_texts();
	seen_free(&seen);
	body = batch_of(texts, NRES, &len);
	assert_non_null(body);
	assert_int_equal(len, strlen(body));
	assert_int_equal(node_batch_decode(body, len, &h, on_item, &seen, err, sizeof(err)), 0);
	assert_string_equal(h.node, "eu-west");
	assert_string_equal(h.id, "b-0001");
	assert_int_equal(h.sent_ms, 1700000000123LL);
	assert_int_equal(h.floor, 42);
	assert_int_equal(h.n, NRES);
	assert_int_equal(seen.calls, NRES);
	assert_int_equal(seen.good, NRES);
	/* Each result comes out as it went in, to the byte. */
	for (int i = 0; i < NRES; i++)
		assert_string_equal(seen.got[i], texts[i]);
	seen_free(&seen);
	free(body);

	/* An empty batch is one too. */
	body = batch_of(texts, 0, &len);
	assert_string_equal(body, "{\"v\":1,\"node\":\"eu-west\",\"batch\":\"b-0001\",\"sent_ms\":"
	                          "1700000000123,\"floor\":42,\"results\":[]}");
	assert_int_equal(node_batch_decode(body, len, &h, on_item, &seen, err, sizeof(err)), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(seen.calls, 0);
	free(body);

	/* The reader may stop the walk. */
	body = batch_of(texts, NRES, &len);
	seen.stop_at = 1;
	assert_int_equal(node_batch_decode(body, len, &h, on_item, &seen, err, sizeof(err)), 1);
	assert_int_equal(seen.calls, 2);
	assert_string_equal(err, "results[1]: the reader stopped here");
	seen_free(&seen);
	free(body);
	free_texts();
}

/* One bad result among good ones: the good ones pass, the bad one is named alone. */
static void test_batch_one_bad(void **state)
{
	struct node_batch_head h;
	char *t[NRES], *bad, *p, *body;
	size_t len;

	(void)state;
	make_texts();
	seen_free(&seen);
	bad = strdup(texts[1]);
	p = strstr(bad, "\"status\":\"down\"");
	assert_non_null(p);
	memcpy(p, "\"status\":\"upp\" ", 15);
	t[0] = texts[0];
	t[1] = bad;
	t[2] = texts[2];
	body = batch_of(t, NRES, &len);
	assert_int_equal(node_batch_decode(body, len, &h, on_item, &seen, err, sizeof(err)), 0);
	assert_int_equal(seen.calls, 3);
	assert_int_equal(seen.good, 2);
	assert_int_equal(seen.bad_index, 1);
	assert_string_equal(seen.bad_err, "results[1].status: not a status name: \"upp\"");
	assert_string_equal(seen.got[0], texts[0]);
	assert_string_equal(seen.got[1], texts[2]);
	seen_free(&seen);
	free(body);
	free(bad);

	/* Not an object at all, and an unknown key. */
	body = batch_of(texts, NRES, &len);
	{
		char *b2 = with(body, "results/0", json_integer(5));
		char *b3 = with(b2, "results/2/colour", json_string("red"));

		assert_int_equal(
		    node_batch_decode(b3, strlen(b3), &h, on_item, &seen, err, sizeof(err)), 0);
		assert_int_equal(seen.calls, 3);
		assert_int_equal(seen.good, 1);
		assert_int_equal(seen.bad_index, 2);
		assert_string_equal(seen.bad_err, "results[2]: unknown key \"colour\"");
		seen_free(&seen);
		assert_int_equal(
		    node_batch_decode(b2, strlen(b2), &h, on_item, &seen, err, sizeof(err)), 0);
		assert_int_equal(seen.bad_index, 0);
		assert_string_equal(seen.bad_err, "results[0]: expected an object, got an integer");
		seen_free(&seen);
		free(b2);
		free(b3);
	}
	free(body);
	free_texts();
}

/* A batch that is wrong itself: refused, with nothing passed to the reader. */
static void batch_no(char *body, const char *want)
{
	struct node_batch_head h;

	seen_free(&seen);
	err[0] = '\0';
	if (node_batch_decode(body, strlen(body), &h, on_item, &seen, err, sizeof(err)) != -1)
		fail_msg("accepted; expected \"%s\"", want);
	if (!strstr(err, want))
		fail_msg("error \"%s\"; expected it to hold \"%s\"", err, want);
	assert_int_equal(seen.calls, 0);
	free(body);
}

static void test_batch_refusals(void **state)
{
	struct node_batch_out *b;
	char *body, *full;
	size_t len;

	(void)state;
	make_texts();
	body = batch_of(texts, NRES, &len);
	batch_no(with(body, "v", json_integer(0)), "v: version 0 is not spoken here");
	batch_no(with(body, "node", json_string("eu/west")), "node: not a node name");
	batch_no(with(body, "batch", NULL), "batch: missing");
	batch_no(with(body, "batch", long_string(65, 'b')), "batch: not a batch id");
	batch_no(with(body, "sent_ms", json_integer(-1)), "sent_ms: -1 is out of range");
	batch_no(with(body, "sent_ms", json_string("now")), "sent_ms: expected an integer");
	batch_no(with(body, "floor", NULL), "floor: missing");
	batch_no(with(body, "floor", json_integer(-1)), "floor: -1 is out of range");
	batch_no(with(body, "floor", json_real(1.5)), "floor: expected an integer");
	batch_no(with(body, "results", json_object()), "results: expected an array, got an object");
	batch_no(with(body, "results", NULL), "results: missing");
	batch_no(with(body, "extra", json_true()), "batch: unknown key \"extra\"");
	batch_no(strdup("{\"v\":1,\"node\":\"a\",\"node\":\"b\"}"), "duplicate object key");
	/* A duplicate key inside a result makes the whole body not JSON. */
	{
		char *dup = strdup(body), *p = strstr(dup, "\"seq\":1");

		assert_non_null(p);
		memcpy(p, "\"ts_ms\"", 7);
		batch_no(dup, "batch: not JSON at byte");
	}
	batch_no(strdup("{\"v\":1,\"results\":[{\"tls\":{\"chain\":[{\"x\":[[]]}]}}]}"),
	         "batch: nested deeper than 6 levels at byte 40");
	{
		char *big = malloc(NODE_BODY_MAX + 2);

		memset(big, ' ', NODE_BODY_MAX + 1);
		big[NODE_BODY_MAX + 1] = '\0';
		{
			char want[96];

			snprintf(want, sizeof(want), "%s: %zu bytes, more than the %zu allowed",
			         "batch", (size_t)NODE_BODY_MAX + 1, (size_t)NODE_BODY_MAX);
			batch_no(big, want);
		}
	}

	/* The builder stops at NODE_BATCH_MAX; a body with more is refused before any result. */
	b = node_batch_open("eu-west", "b-full", 1, 0);
	for (int i = 0; i < NODE_BATCH_MAX; i++)
		assert_int_equal(node_batch_add(b, texts[i % NRES], strlen(texts[i % NRES])), 0);
	assert_int_equal(node_batch_add(b, texts[0], strlen(texts[0])), 1);
	full = node_batch_close(b, &len);
	{
		struct node_batch_head h;

		seen_free(&seen);
		assert_int_equal(node_batch_decode(full, len, &h, on_item, &seen, err, sizeof(err)),
		                 0);
		assert_int_equal(seen.good, NODE_BATCH_MAX);
		seen_free(&seen);
	}
	batch_no(with(full, "results/+", json_integer(1)), "results: more than 1000 results");
	free(full);

	/*
	 * Named after its results went in (a node names a batch by their ids):
	 * longer, shorter, the head and every result intact; a name that is
	 * not UTF-8 is refused and the batch stays as it was.
	 */
	{
		const char *names[] = {"1764780000123456-1764780000123999", "7", NULL};
		struct node_batch_head h;

		for (int k = 0; names[k]; k++) {
			b = node_batch_open("eu-west", "-", 1700000000123LL, 9);
			for (int i = 0; i < NRES; i++)
				assert_int_equal(node_batch_add(b, texts[i], strlen(texts[i])), 0);
			assert_int_equal(node_batch_set_id(b, "\xff\xfe"), -1);
			assert_int_equal(node_batch_set_id(b, names[k]), 0);
			full = node_batch_close(b, &len);
			assert_int_equal(len, strlen(full));
			seen_free(&seen);
			assert_int_equal(
			    node_batch_decode(full, len, &h, on_item, &seen, err, sizeof(err)), 0);
			assert_string_equal(h.id, names[k]);
			assert_string_equal(h.node, "eu-west");
			assert_int_equal(h.sent_ms, 1700000000123LL);
			assert_int_equal(h.floor, 9);
			assert_int_equal(seen.good, NRES);
			for (int i = 0; i < NRES; i++)
				assert_string_equal(seen.got[i], texts[i]);
			seen_free(&seen);
			free(full);
		}
	}
	/* A name that would take a full body past NODE_BODY_MAX is refused. */
	{
		size_t big = RESULT_JSON_MAX < 100000 ? RESULT_JSON_MAX : 100000;
		char *one = malloc(big + 1);
		int added = 0;

		assert_non_null(one);
		memset(one, ' ', big);
		one[0] = '{';
		one[big - 1] = '}';
		one[big] = '\0';
		b = node_batch_open("eu-west", "", 1, 0);
		while (node_batch_add(b, one, big) == 0)
			added++;
		assert_true(added > 0);
		/* Fill what is left to within a few bytes of the bound. */
		{
			size_t left;
			char *tail;

			full = node_batch_close(b, &len);
			left = NODE_BODY_MAX - len - 3;
			free(full);
			b = node_batch_open("eu-west", "", 1, 0);
			for (int i = 0; i < added; i++)
				assert_int_equal(node_batch_add(b, one, big), 0);
			if (left >= 2) {
				tail = malloc(left + 1);
				assert_non_null(tail);
				memset(tail, ' ', left);
				tail[0] = '{';
				tail[left - 1] = '}';
				tail[left] = '\0';
				assert_int_equal(node_batch_add(b, tail, left), 0);
				free(tail);
			}
		}
		assert_int_equal(node_batch_set_id(b, "a-long-batch-id-of-forty-bytes-0123456789"),
		                 -1);
		assert_int_equal(node_batch_set_id(b, ""), 0);
		full = node_batch_close(b, &len);
		assert_true(len <= NODE_BODY_MAX);
		free(full);
		free(one);
	}

	/* What the builder refuses to append. */
	b = node_batch_open("eu-west", "b-x", 1, 0);
	assert_int_equal(node_batch_add(b, "", 0), -1);
	assert_int_equal(node_batch_add(b, "[1]", 3), -1);
	assert_int_equal(node_batch_add(b, "{\"a\":\0}", 7), -1);
	assert_int_equal(node_batch_add(b, texts[0], strlen(texts[0])), 0);
	full = node_batch_close(b, &len);
	{
		struct node_batch_head h;

		seen_free(&seen);
		assert_int_equal(node_batch_decode(full, len, &h, on_item, &seen, err, sizeof(err)),
		                 0);
		assert_int_equal(seen.good, 1);
		seen_free(&seen);
	}
	free(full);
	free(body);
	free_texts();
}

static void test_batch_truncated(void **state)
{
	struct node_batch_head h;
	size_t len;
	char *body;

	(void)state;
	make_texts();
	body = batch_of(texts, NRES, &len);
	for (size_t n = 0; n < len; n++) {
		seen_free(&seen);
		if (node_batch_decode(body, n, &h, on_item, &seen, err, sizeof(err)) != -1)
			fail_msg("the first %zu bytes were accepted", n);
		assert_int_equal(seen.calls, 0);
		assert_non_null(strstr(err, "batch: not JSON at byte"));
	}
	free(body);
	free_texts();
}

/* ---- the batch's reply ---- */

static void fill_reply(struct node_batch_reply *r, unsigned nrefused)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "b-0001");
	r->accepted = 997;
	r->duplicates = 2;
	r->late = 1;
	r->nrefused = nrefused;
	for (unsigned i = 0; i < nrefused && i < NODE_REFUSED_MAX; i++) {
		r->refused[i].index = i * 3;
		if (i % 2 == 0)
			snprintf(r->refused[i].check, sizeof(r->refused[i].check), "imap-%u", i);
		snprintf(r->refused[i].error, sizeof(r->refused[i].error),
		         "results[%u].check: not assigned to this node", i * 3);
	}
	snprintf(r->etag, sizeof(r->etag), "etag-43");
	r->skew_ms = -1234;
}

static void test_batch_reply(void **state)
{
	struct node_batch_reply r, back;
	char *s, *s2;

	(void)state;
	for (unsigned n = 0; n <= 40; n += 20) {
		fill_reply(&r, n);
		s = node_batch_reply_encode(&r);
		assert_non_null(s);
		assert_int_equal(node_batch_reply_decode(s, strlen(s), &back, err, sizeof(err)), 0);
		assert_string_equal(back.id, "b-0001");
		assert_int_equal(back.accepted, 997);
		assert_int_equal(back.duplicates, 2);
		assert_int_equal(back.late, 1);
		assert_int_equal(back.nrefused, n);
		for (unsigned i = 0; i < n && i < NODE_REFUSED_MAX; i++) {
			assert_int_equal(back.refused[i].index, r.refused[i].index);
			assert_string_equal(back.refused[i].check, r.refused[i].check);
			assert_string_equal(back.refused[i].error, r.refused[i].error);
		}
		assert_string_equal(back.etag, "etag-43");
		assert_int_equal(back.skew_ms, -1234);
		s2 = node_batch_reply_encode(&back);
		assert_string_equal(s, s2);
		free(s2);
		free(s);
	}
	/* 40 refused, 32 listed. */
	fill_reply(&r, 40);
	s = node_batch_reply_encode(&r);
	assert_non_null(strstr(s, "\"refused\":40,"));
	{
		json_t *o = json_loads(s, 0, NULL);

		assert_int_equal(json_array_size(json_object_get(o, "refusals")), NODE_REFUSED_MAX);
		json_decref(o);
	}
	free(s);

	/* Control bytes and over-long text in an error are written so they decode. */
	fill_reply(&r, 1);
	snprintf(r.refused[0].error, sizeof(r.refused[0].error), "bad\r\nline\x01");
	s = node_batch_reply_encode(&r);
	assert_int_equal(node_batch_reply_decode(s, strlen(s), &back, err, sizeof(err)), 0);
	assert_string_equal(back.refused[0].error, "bad\\r\\nline\\x01");
	free(s);
	fill_reply(&r, 1);
	memset(r.refused[0].error, 'e', sizeof(r.refused[0].error) - 1);
	r.refused[0].error[sizeof(r.refused[0].error) - 1] = '\0';
	s = node_batch_reply_encode(&r);
	assert_int_equal(node_batch_reply_decode(s, strlen(s), &back, err, sizeof(err)), 0);
	assert_string_equal(back.refused[0].error, r.refused[0].error);
	free(s);
}

static void reply_no(char *doc, const char *want)
{
	struct node_batch_reply r;

	err[0] = '\0';
	if (node_batch_reply_decode(doc, strlen(doc), &r, err, sizeof(err)) != -1)
		fail_msg("accepted; expected \"%s\"", want);
	if (!strstr(err, want))
		fail_msg("error \"%s\"; expected it to hold \"%s\"", err, want);
	free(doc);
}

static void test_batch_reply_refusals(void **state)
{
	struct node_batch_reply r;
	char *s;

	(void)state;
	fill_reply(&r, 3);
	s = node_batch_reply_encode(&r);
	reply_no(with(s, "v", json_integer(2)), "v: version 2 is not spoken here");
	reply_no(with(s, "refused", json_integer(4)),
	         "refusals: 3 listed, 4 expected (refused 4, at most 32 listed)");
	reply_no(with(s, "refusals/0/index", json_integer(1000)),
	         "refusals[0].index: 1000 is out of range (0 to 999)");
	reply_no(with(s, "refusals/1/check", json_string("no such")),
	         "refusals[1].check: not a check name");
	reply_no(with(s, "refusals/2/error", long_string(160, 'e')),
	         "refusals[2].error: longer than 159 bytes");
	reply_no(with(s, "refusals/2/why", json_string("x")), "refusals[2]: unknown key \"why\"");
	reply_no(with(s, "refusals/0", json_string("x")),
	         "refusals[0]: expected an object, got a string");
	reply_no(with(s, "etag", NULL), "etag: missing");
	reply_no(with(s, "skew_ms", json_real(1.5)), "skew_ms: expected an integer, got a number");
	reply_no(with(s, "accepted", json_integer(-1)), "accepted: -1 is out of range");
	reply_no(with(s, "accepted", json_integer(4294967296LL)), "accepted: 4294967296 is out");
	reply_no(with(s, "batch", json_null()), "batch: expected a string, got null");
	reply_no(with(s, "refusals", json_object()), "refusals: expected an array, got an object");
	reply_no(with(s, "more", json_null()), "batch reply: unknown key \"more\"");
	reply_no(strdup("{\"v\":1,\"refusals\":[{\"x\":[]}]}"),
	         "batch reply: nested deeper than 3 levels at byte 24");
	for (size_t n = 0; n < strlen(s); n++) {
		if (node_batch_reply_decode(s, n, &r, err, sizeof(err)) != -1)
			fail_msg("the first %zu bytes were accepted", n);
		assert_non_null(strstr(err, "batch reply: not JSON at byte"));
	}
	free(s);
}

/* ---- heartbeats ---- */

static void fill_hb(struct node_heartbeat *hb)
{
	memset(hb, 0, sizeof(*hb));
	snprintf(hb->node, sizeof(hb->node), "eu-west");
	snprintf(hb->version, sizeof(hb->version), "0.1.0");
	hb->started_ms = 1700000000000LL;
	hb->sent_ms = 1700000060000LL;
	snprintf(hb->etag, sizeof(hb->etag), "etag-42");
	hb->checks = 120;
	hb->in_flight = 7;
	hb->spool_depth = 31;
	hb->spool_max = 100000;
	hb->spool_dropped = 5;
	hb->spool_oldest_ms = 1700000001000LL;
	hb->ncanaries = 2;
	snprintf(hb->canaries[0].target, sizeof(hb->canaries[0].target), "controller");
	hb->canaries[0].status = MP_UP;
	hb->canaries[0].reason = MP_R_OK;
	hb->canaries[0].probe_ms = 1700000059000LL;
	snprintf(hb->canaries[1].target, sizeof(hb->canaries[1].target),
	         "imaps://canary.example.com:993");
	hb->canaries[1].status = MP_DOWN;
	hb->canaries[1].reason = MP_R_TIMEOUT;
	snprintf(hb->canaries[1].message, sizeof(hb->canaries[1].message), "no greeting in 5s");
	hb->canaries[1].probe_ms = 1700000058000LL;
	hb->canaries[1].failing = 3;
}

static void test_heartbeat(void **state)
{
	struct node_heartbeat hb, back;
	char *s, *s2;

	(void)state;
	fill_hb(&hb);
	s = node_heartbeat_encode(&hb);
	assert_non_null(s);
	assert_int_equal(node_heartbeat_decode(s, strlen(s), &back, err, sizeof(err)), 0);
	assert_string_equal(back.node, "eu-west");
	assert_string_equal(back.version, "0.1.0");
	assert_int_equal(back.started_ms, hb.started_ms);
	assert_int_equal(back.sent_ms, hb.sent_ms);
	assert_string_equal(back.etag, "etag-42");
	assert_int_equal(back.checks, 120);
	assert_int_equal(back.in_flight, 7);
	assert_int_equal(back.spool_depth, 31);
	assert_int_equal(back.spool_max, 100000);
	assert_int_equal(back.spool_dropped, 5);
	assert_int_equal(back.spool_oldest_ms, hb.spool_oldest_ms);
	assert_int_equal(back.ncanaries, 2);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(back.canaries[i].target, hb.canaries[i].target);
		assert_int_equal(back.canaries[i].status, hb.canaries[i].status);
		assert_int_equal(back.canaries[i].reason, hb.canaries[i].reason);
		assert_string_equal(back.canaries[i].message, hb.canaries[i].message);
		assert_int_equal(back.canaries[i].probe_ms, hb.canaries[i].probe_ms);
		assert_int_equal(back.canaries[i].failing, hb.canaries[i].failing);
	}
	s2 = node_heartbeat_encode(&back);
	assert_string_equal(s, s2);
	free(s2);
	free(s);

	/* No assignment yet: null; more canaries than fit: cut; a hostile message: escaped. */
	hb.etag[0] = '\0';
	hb.ncanaries = 12;
	for (int i = 0; i < NODE_CANARIES_MAX; i++)
		if (!hb.canaries[i].target[0])
			snprintf(hb.canaries[i].target, sizeof(hb.canaries[i].target),
			         "controller");
	snprintf(hb.canaries[1].message, sizeof(hb.canaries[1].message), "* BYE\r\n\x7f");
	hb.spool_depth = UINT64_MAX;
	s = node_heartbeat_encode(&hb);
	assert_non_null(strstr(s, "\"etag\":null"));
	assert_int_equal(node_heartbeat_decode(s, strlen(s), &back, err, sizeof(err)), 0);
	assert_string_equal(back.etag, "");
	assert_int_equal(back.ncanaries, NODE_CANARIES_MAX);
	assert_string_equal(back.canaries[1].message, "* BYE\\r\\n\\x7f");
	assert_int_equal(back.spool_depth, INT64_MAX);
	free(s);
}

static void hb_no(char *doc, const char *want)
{
	struct node_heartbeat hb;

	err[0] = '\0';
	if (node_heartbeat_decode(doc, strlen(doc), &hb, err, sizeof(err)) != -1)
		fail_msg("accepted; expected \"%s\"", want);
	if (!strstr(err, want))
		fail_msg("error \"%s\"; expected it to hold \"%s\"", err, want);
	free(doc);
}

static void test_heartbeat_refusals(void **state)
{
	struct node_heartbeat hb;
	char *s;

	(void)state;
	fill_hb(&hb);
	s = node_heartbeat_encode(&hb);
	hb_no(with(s, "v", NULL), "v: missing");
	hb_no(with(s, "version", long_string(32, 'v')), "version: longer than 31 bytes");
	hb_no(with(s, "version", json_string("")), "version: empty");
	hb_no(with(s, "version", json_string("1.0\n")), "version: control byte 0x0a at offset 3");
	hb_no(with(s, "node", json_integer(1)), "node: expected a string, got an integer");
	hb_no(with(s, "etag", json_string("")), "etag: not an etag");
	hb_no(with(s, "checks", json_integer(NODE_CHECKS_MAX + 1)),
	      "checks: 100001 is out of range (0 to 100000)");
	hb_no(with(s, "spool_depth", json_integer(-1)), "spool_depth: -1 is out of range");
	hb_no(with(s, "spool_oldest_ms", json_integer(253402300800000LL)),
	      "spool_oldest_ms: 253402300800000 is out of range");
	hb_no(with(s, "canaries/1/status", json_string("upp")),
	      "canaries[1].status: not a status name: \"upp\"");
	hb_no(with(s, "canaries/1/reason", json_string("ok")),
	      "canaries[1].reason: \"ok\" does not go with status \"down\"");
	hb_no(with(s, "canaries/0/target", json_string("")), "canaries[0].target: empty");
	hb_no(with(s, "canaries/0/target", long_string(TARGET_URL_MAX, 't')),
	      "canaries[0].target: longer than 299 bytes");
	hb_no(with(s, "canaries/0/failing", json_true()),
	      "canaries[0].failing: expected an integer, got a boolean");
	hb_no(with(s, "canaries/0/extra", json_true()), "canaries[0]: unknown key \"extra\"");
	hb_no(with(s, "canaries/0/message", NULL), "canaries[0].message: missing");
	{
		char *t = strdup(s);

		for (int i = 2; i <= NODE_CANARIES_MAX; i++) {
			char *u = with(t, "canaries/+", json_pack("{ss}", "target", "controller"));

			free(t);
			t = u;
		}
		hb_no(t, "canaries: more than 9 canaries");
	}
	hb_no(with(s, "uptime", json_integer(1)), "heartbeat: unknown key \"uptime\"");
	err[0] = '\0';
	assert_int_equal(node_heartbeat_decode(NULL, 0, &hb, err, sizeof(err)), -1);
	assert_string_equal(err, "heartbeat: no body");
	for (size_t n = 0; n < strlen(s); n++) {
		if (node_heartbeat_decode(s, n, &hb, err, sizeof(err)) != -1)
			fail_msg("the first %zu bytes were accepted", n);
		assert_non_null(strstr(err, "heartbeat: not JSON at byte"));
	}
	free(s);
}

static void test_heartbeat_reply(void **state)
{
	struct node_heartbeat_reply r = {"etag-42", 1700000060500LL, -500, 1}, back;
	char *s, *s2;

	(void)state;
	s = node_heartbeat_reply_encode(&r);
	assert_string_equal(s, "{\"v\":1,\"etag\":\"etag-42\",\"controller_ms\":1700000060500,"
	                       "\"skew_ms\":-500,\"skew_flagged\":true}");
	assert_int_equal(node_heartbeat_reply_decode(s, strlen(s), &back, err, sizeof(err)), 0);
	assert_string_equal(back.etag, "etag-42");
	assert_int_equal(back.controller_ms, 1700000060500LL);
	assert_int_equal(back.skew_ms, -500);
	assert_int_equal(back.skew_flagged, 1);
	s2 = node_heartbeat_reply_encode(&back);
	assert_string_equal(s, s2);
	free(s2);

	{
		struct {
			char *doc;
			const char *want;
		} no[] = {
		    {with(s, "skew_flagged", json_string("yes")),
		     "skew_flagged: expected a boolean, got a string"},
		    {with(s, "controller_ms", NULL), "controller_ms: missing"},
		    {with(s, "v", json_integer(3)), "v: version 3 is not spoken here"},
		    {with(s, "etag", json_string("a b")), "etag: not an etag"},
		    {with(s, "x", json_integer(1)), "heartbeat reply: unknown key \"x\""},
		    {strdup("{\"v\":1,\"x\":{}}"), "heartbeat reply: nested deeper than 1 levels"},
		    {strdup("{\"v\":1,\"etag\":\"a\",\"etag\":\"b\"}"), "duplicate object key"},
		};

		for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
			err[0] = '\0';
			if (node_heartbeat_reply_decode(no[i].doc, strlen(no[i].doc), &back, err,
			                                sizeof(err)) != -1)
				fail_msg("accepted; expected \"%s\"", no[i].want);
			if (!strstr(err, no[i].want))
				fail_msg("error \"%s\"; expected \"%s\"", err, no[i].want);
			free(no[i].doc);
		}
	}
	for (size_t n = 0; n < strlen(s); n++) {
		if (node_heartbeat_reply_decode(s, n, &back, err, sizeof(err)) != -1)
			fail_msg("the first %zu bytes were accepted", n);
		assert_non_null(strstr(err, "heartbeat reply: not JSON at byte"));
	}
	free(s);
}

/* ---- setup: the files a node reads ---- */

static int setup(void **state)
{
	FILE *f;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mp-node-json-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
	snprintf(pw_path, sizeof(pw_path), "%s/pw", tmpdir);
	if (!(f = fopen(ca_path, "w")))
		return -1;
	fputs("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	if (!(f = fopen(pw_path, "w")))
		return -1;
	fputs(PW_FILE "\n", f);
	fclose(f);
	chmod(pw_path, 0600);
	setenv(PW_VAR, PW_ENV, 1);
	unsetenv("MP_TEST_UNSET_VAR");
	seen.stop_at = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(ca_path);
	unlink(pw_path);
	rmdir(tmpdir);
	return 0;
}

/* ---- test_node_json --seeds DIR ---- */

static int seed(const char *dir, int n, char sel, const char *doc)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/node-%c-%d", dir, sel, n);
	if (!doc || !(f = fopen(path, "w")))
		return -1;
	fputc(sel, f);
	fputs(doc, f);
	return fclose(f);
}

/*
 * The seeds need no file of this machine: the checks read no ca_file or
 * password_file; one password travels, one comes from MP_FUZZ_NODE_PW,
 * which fuzz_node sets.
 */
static int write_seeds(const char *dir)
{
	static const char *const k_env[] = {"url",          "imap://mail.example.com", "login", "u",
	                                    "password_env", "MP_FUZZ_NODE_PW",         NULL};
	struct check chk[5];
	struct node_check_out out[5] = {
	    {"plain", DIGEST, 60000, 10000, &chk[0], NULL, NULL},
	    {"pop3", DIGEST, 30000, 5000, &chk[1], NULL, NULL},
	    {"resolve", DIGEST, 60000, 10000, &chk[2], NULL, NULL},
	    {"login", DIGEST, 120000, 10000, &chk[3], "env:MP_FUZZ_NODE_PW", NULL},
	    {"inline", DIGEST, 120000, 10000, &chk[4], "file:/nonexistent", "pw"},
	};
	struct node_batch_reply br;
	struct node_heartbeat hb;
	struct node_heartbeat_reply hr = {"etag-1", 1700000000000LL, 12, 0};
	char *s;
	int rc = 0;

	setenv("MP_FUZZ_NODE_PW", "fuzz-pw", 1);
	build_kv(&chk[0], k_plain);
	build_kv(&chk[1], k_pop3);
	build_kv(&chk[2], k_resolve);
	build_kv(&chk[3], k_env);
	build_kv(&chk[4], k_env);
	s = node_assign_encode("eu-west", "etag-1", out, 5);
	rc |= seed(dir, 0, 'A', s);
	free(s);
	s = node_assign_encode("eu-west", "etag-1", out, 1);
	rc |= seed(dir, 1, 'A', s);
	free(s);
	make_texts();
	{
		size_t len;

		s = batch_of(texts, NRES, &len);
		rc |= seed(dir, 0, 'B', s);
		free(s);
		s = batch_of(texts, 1, &len);
		rc |= seed(dir, 1, 'B', s);
		free(s);
	}
	free_texts();
	fill_reply(&br, 3);
	s = node_batch_reply_encode(&br);
	rc |= seed(dir, 0, 'R', s);
	free(s);
	fill_hb(&hb);
	s = node_heartbeat_encode(&hb);
	rc |= seed(dir, 0, 'H', s);
	free(s);
	s = node_heartbeat_reply_encode(&hr);
	rc |= seed(dir, 0, 'K', s);
	free(s);
	pool_free();
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
		return write_seeds(argv[2]);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pairs_round_trip),   cmocka_unit_test(test_pairs_spelling),
	    cmocka_unit_test(test_pairs_stop_and_bad), cmocka_unit_test(test_assign_round_trip),
	    cmocka_unit_test(test_assign_refusals),    cmocka_unit_test(test_assign_truncated),
	    cmocka_unit_test(test_batch_round_trip),   cmocka_unit_test(test_batch_one_bad),
	    cmocka_unit_test(test_batch_refusals),     cmocka_unit_test(test_batch_truncated),
	    cmocka_unit_test(test_batch_reply),        cmocka_unit_test(test_batch_reply_refusals),
	    cmocka_unit_test(test_heartbeat),          cmocka_unit_test(test_heartbeat_refusals),
	    cmocka_unit_test(test_heartbeat_reply),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
