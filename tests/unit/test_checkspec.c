/* SPDX-License-Identifier: ISC */
/*
 * test_checkspec.c - the one check builder: each validator's accepted and
 * refused values with their exact messages, in both spellings (flags and
 * keys), the cross-checks, and the key/value adapter a node will use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/tls1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/checkspec.h"

/* Strings the builder saved, freed after each test. */
#define SAVED_MAX 64
static char *saved[SAVED_MAX];
static int nsaved;
static char password[600];

static char *save(void *arg, const char *s, int secret)
{
	(void)arg;
	if (secret) {
		snprintf(password, sizeof(password), "%s", s);
		return password;
	}
	if (nsaved == SAVED_MAX)
		return NULL;
	saved[nsaved] = strdup(s);
	return saved[nsaved++];
}

static struct check chk;
static struct checkspec b;
static char err[1024];

static void start(enum checkspec_src src)
{
	for (int i = 0; i < nsaved; i++)
		free(saved[i]);
	nsaved = 0;
	memset(password, 0, sizeof(password));
	check_defaults(&chk);
	checkspec_init(&b, &chk, src, save, NULL);
	err[0] = '\0';
}

static int teardown(void **state)
{
	(void)state;
	start(CHECKSPEC_KEYS);
	return 0;
}

/* key=value must be accepted. */
static void ok(const char *key, const char *value)
{
	err[0] = '\0';
	if (checkspec_set(&b, key, value, err, sizeof(err)) != 0)
		fail_msg("%s=\"%s\" refused: %s", key, value, err);
}

/* key=value must be refused with exactly want. */
static void no(const char *key, const char *value, const char *want)
{
	err[0] = '\0';
	if (checkspec_set(&b, key, value, err, sizeof(err)) != -1)
		fail_msg("%s=\"%s\" accepted; expected \"%s\"", key, value, want);
	assert_string_equal(err, want);
}

static void test_keys_and_names(void **state)
{
	(void)state;
	assert_true(checkspec_key("timeout") >= 0);
	assert_int_equal(checkspec_key("interval"), -1);
	assert_int_equal(checkspec_key("--timeout"), -1);
	assert_string_equal(checkspec_key_name(checkspec_key("cert_warn_days"), CHECKSPEC_FLAGS),
	                    "--cert-warn");
	assert_string_equal(checkspec_key_name(checkspec_key("cert_warn_days"), CHECKSPEC_KEYS),
	                    "cert_warn_days");
	assert_null(checkspec_key_name(checkspec_key("password_env"), CHECKSPEC_FLAGS));
	assert_true(checkspec_key_is_list(checkspec_key("resolve")));
	assert_true(checkspec_key_is_list(checkspec_key("expect_capabilities")));
	assert_false(checkspec_key_is_list(checkspec_key("expect")));
	assert_string_equal(checkspec_value_name("min_tls", TLS1_3_VERSION), "1.3");
	assert_string_equal(checkspec_value_name("starttls", STARTTLS_REQUIRE), "require");
	assert_string_equal(checkspec_value_name("family", AF_INET6), "ipv6");
	assert_string_equal(checkspec_value_name("posture", 99), "?");
	start(CHECKSPEC_KEYS);
	no("interval", "60", "unknown check key \"interval\"");
}

static void test_timeout(void **state)
{
	(void)state;
	start(CHECKSPEC_FLAGS);
	ok("timeout", "0.5");
	assert_int_equal(chk.timeout_ms, 500);
	ok("timeout", "3600");
	assert_int_equal(chk.timeout_ms, 3600000);
	no("timeout", "30s", "--timeout: \"30s\" is not a number of seconds (such as 30 or 0.5)");
	no("timeout", "0.05", "--timeout: 0.05 s is out of range: 0.1 to 3600 seconds");
	no("timeout", "1.2.3",
	   "--timeout: \"1.2.3\" is not a number of seconds (such as 30 or 0.5)");

	start(CHECKSPEC_KEYS);
	ok("timeout", "90");
	assert_int_equal(chk.timeout_ms, 90000);
	ok("timeout", "1m30s");
	assert_int_equal(chk.timeout_ms, 90000);
	no("timeout", "0.5",
	   "timeout: \"0.5\" is not a duration (such as 90, 30s, 5m or 1h30m; a plain number is "
	   "seconds)");
	no("timeout", "500ms", "timeout 500ms is below the minimum 1s");
	no("timeout", "16m", "timeout 16m is above the maximum 15m");
}

static void test_numbers(void **state)
{
	(void)state;
	start(CHECKSPEC_FLAGS);
	ok("warn_ms", "500");
	assert_int_equal(chk.warn_ms, 500);
	no("warn_ms", "0", "--warn-ms: \"0\" is not a number of milliseconds from 1 to 3600000");
	no("crit_ms", "-5", "--crit-ms: \"-5\" is not a number of milliseconds from 1 to 3600000");
	no("crit_ms", "3600001",
	   "--crit-ms: \"3600001\" is not a number of milliseconds from 1 to 3600000");
	ok("cert_warn_days", "0");
	assert_int_equal(chk.cert_warn_days, 0);
	no("cert_crit_days", "3651",
	   "--cert-crit: \"3651\" is not a number of days from 0 to 3650");

	start(CHECKSPEC_KEYS);
	/* 0 turns a threshold the defaults set off again. */
	ok("warn_ms", "0");
	assert_int_equal(chk.warn_ms, 0);
	ok("crit_ms", "3600000");
	no("warn_ms", "x", "warn_ms: \"x\" is not a whole number");
	no("warn_ms", "3600001", "warn_ms 3600001 is above the maximum 3600000");
	no("cert_warn_days", "99999999999", "cert_warn_days 99999999999 is above the maximum 3650");
	ok("cert_crit_days", "30");
	assert_int_equal(chk.cert_crit_days, 30);
}

static void test_enums_and_bools(void **state)
{
	(void)state;
	start(CHECKSPEC_FLAGS);
	ok("starttls", "require");
	assert_int_equal(chk.starttls, STARTTLS_REQUIRE);
	no("starttls", "yes", "--starttls: \"yes\" is not one of no, auto, require");
	no("posture", "strict", "--posture: \"strict\" is not one of report, warn");
	ok("min_tls", "TLSv1.3");
	assert_int_equal(chk.min_tls, TLS1_3_VERSION);
	no("min_tls", "1.4", "--min-tls: \"1.4\" is not one of 1.0, 1.1, 1.2, 1.3");
	ok("family", "ipv6");
	assert_int_equal(chk.family, AF_INET6);
	ok("insecure", "true");
	assert_int_equal(chk.insecure, 1);

	start(CHECKSPEC_KEYS);
	ok("min_tls", "1.0");
	assert_int_equal(chk.min_tls, TLS1_VERSION);
	no("min_tls", "1.20",
	   "min_tls: \"1.20\" is not one of 1.0, 1.1, 1.2, 1.3 (quote it: \"1.2\")");
	no("family", "ip6", "family: \"ip6\" is not one of any, ipv4, ipv6");
	ok("all_addresses", "Yes");
	assert_int_equal(chk.all_addresses, 1);
	ok("all_addresses", "off");
	assert_int_equal(chk.all_addresses, 0);
	no("insecure", "maybe", "insecure: \"maybe\" is not true or false");
}

static void test_texts(void **state)
{
	char big[300];

	(void)state;
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	start(CHECKSPEC_FLAGS);
	ok("expect", "Dovecot ready");
	assert_string_equal(chk.expect, "Dovecot ready");
	no("expect", "", "--expect: the text must be non-empty printable text");
	no("expect", "a\r\nb", "--expect: the text must be non-empty printable text");
	ok("login", "probe@example.com");
	assert_string_equal(chk.login, "probe@example.com");
	no("login", "a\nA1 LOGOUT", "--login: the user name must be non-empty printable text");
	/* Longer than any server takes: the command line now refuses it as the file did. */
	no("login", big, "--login: the user name must be non-empty printable text");
	ok("sni", "mail.example.com");
	no("sni", "bad name",
	   "--sni: \"bad name\" is not a host name (letters, digits, '-', '.', at most 253)");

	start(CHECKSPEC_KEYS);
	/* A quoted "" was accepted by the file before: empty is refused everywhere now. */
	no("expect", "", "expect: the text must be non-empty printable text");
	no("login", "", "login: the user name must be non-empty printable text");
	no("sni", "", "sni: \"\" is not a host name (letters, digits, '-', '.', at most 253)");
	no("sni", "a\x01",
	   "sni: \"a\\x01\" is not a host name (letters, digits, '-', '.', at most "
	   "253)");
}

static void test_capabilities(void **state)
{
	(void)state;
	start(CHECKSPEC_FLAGS);
	ok("expect_capabilities", "IMAP4rev1");
	ok("expect_capabilities", "SASL PLAIN");
	assert_int_equal(chk.n_expect_caps, 2);
	assert_string_equal(chk.expect_caps[1], "SASL PLAIN");
	no("expect_capabilities", "", "--expect-capability: \"\" is not a capability name");
	no("expect_capabilities", " SASL",
	   "--expect-capability: \" SASL\" is not a capability name");
	/* The flag was laxer than the key: trailing and double spaces are refused by both now. */
	no("expect_capabilities", "SASL ",
	   "--expect-capability: \"SASL \" is not a capability name");
	no("expect_capabilities", "SASL  PLAIN",
	   "--expect-capability: \"SASL  PLAIN\" is not a capability name");
	for (int i = 2; i < CHECK_CAPS_MAX; i++)
		ok("expect_capabilities", "X");
	no("expect_capabilities", "Y", "--expect-capability: at most 16 may be given");

	start(CHECKSPEC_KEYS);
	no("expect_capabilities", "SASL  PLAIN",
	   "expect_capabilities: \"SASL  PLAIN\" is not a capability (a name, or for POP3 a CAPA "
	   "line's keyword and arguments separated by single spaces)");
	ok("expect_capabilities", "IDLE");
	checkspec_clear(&b, "expect_capabilities");
	assert_int_equal(chk.n_expect_caps, 0);
}

static void test_caps_fit(void **state)
{
	char msg[512];

	(void)state;
	start(CHECKSPEC_FLAGS);
	ok("expect_capabilities", "IDLE");
	ok("expect_capabilities", "SASL PLAIN");
	assert_int_equal(target_parse(&chk.target, "pop3://a", msg, sizeof(msg)), 0);
	assert_int_equal(checkspec_caps_fit(&b, &chk, err, sizeof(err)), 0);
	assert_int_equal(target_parse(&chk.target, "imap://a", msg, sizeof(msg)), 0);
	assert_int_equal(checkspec_caps_fit(&b, &chk, err, sizeof(err)), -1);
	assert_string_equal(err, "--expect-capability: \"SASL PLAIN\" is not a capability name for "
	                         "IMAP (one atom, no spaces; \"SASL PLAIN\" is for POP3 CAPA)");
}

static void test_resolve(void **state)
{
	struct checkspec_resolve r;

	(void)state;
	assert_int_equal(checkspec_parse_resolve("mx.example:192.0.2.1,[2001:db8::1],fe80::1%eth0",
	                                         &r, err, sizeof(err)),
	                 0);
	assert_string_equal(r.host, "mx.example");
	assert_int_equal(r.naddr, 3);
	assert_string_equal(r.addr[1], "2001:db8::1");
	assert_string_equal(r.addr[2], "fe80::1%eth0");
	assert_int_equal(checkspec_parse_resolve("bad host:192.0.2.1", &r, err, sizeof(err)), -1);
	assert_string_equal(err, "--resolve: \"bad host\" is not a host name");
	assert_int_equal(checkspec_parse_resolve("a", &r, err, sizeof(err)), -1);
	assert_string_equal(err, "--resolve \"a\": expected HOST:ADDR[,ADDR...]");
	assert_int_equal(checkspec_parse_resolve("a:fe80::1%", &r, err, sizeof(err)), -1);
	assert_string_equal(err, "--resolve a: \"fe80::1%\": empty zone after '%': name an "
	                         "interface, as in fe80::1%25eth0");
	assert_int_equal(checkspec_parse_resolve("a:1,2,3,4,5,6,7,8,9", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"1\" is not a numeric"));
	assert_int_equal(checkspec_parse_resolve("a:1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5,"
	                                         "1.1.1.6,1.1.1.7,1.1.1.8,1.1.1.9",
	                                         &r, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "--resolve a: more than 8 addresses");

	start(CHECKSPEC_KEYS);
	ok("resolve", "[fe80::1%25eth0]");
	assert_string_equal(chk.resolve[0], "fe80::1%eth0");
	no("resolve", "2001:db8::1%eth0",
	   "resolve: \"2001:db8::1%eth0\": a zone is only for link-local addresses (fe80::/10)");
	assert_int_equal(checkspec_set_other(&b, "resolve", NULL, "a mapping", err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "resolve: expected a numeric address, found a mapping");
}

static void test_files(void **state)
{
	char dir[] = "/tmp/checkspec.XXXXXX", path[300];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("s3cret\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);

	start(CHECKSPEC_KEYS);
	b.dir = dir;
	ok("password_file", "pw");
	assert_string_equal(chk.password, "s3cret");
	assert_ptr_equal(chk.password, password);
	assert_string_equal(b.pw_src, "file:pw");
	assert_int_equal(b.pw_world, 1);
	/* ca_file: any readable file; relative names from the configuration's directory. */
	ok("ca_file", "pw");
	assert_string_equal(chk.ca_file, path);
	no("ca_file", "missing.pem", "ca_file missing.pem: No such file or directory");
	no("ca_file", "/tmp", "ca_file /tmp: is a directory, not a PEM file");
	no("ca_file", "a\tb", "ca_file: not a usable file name");
	no("password_file", "nope", "password_file nope: No such file or directory");

	setenv("CHECKSPEC_PW", "from-env", 1);
	ok("password_env", "CHECKSPEC_PW");
	assert_string_equal(chk.password, "from-env");
	assert_string_equal(b.pw_src, "env:CHECKSPEC_PW");
	no("password_env", "1BAD", "password_env: \"1BAD\" is not an environment variable name");
	unsetenv("CHECKSPEC_UNSET");
	no("password_env", "CHECKSPEC_UNSET", "password_env: CHECKSPEC_UNSET is not set");
	setenv("CHECKSPEC_PW", "a\nb", 1);
	no("password_env", "CHECKSPEC_PW", "password_env: CHECKSPEC_PW contains a CR or LF byte");
	assert_null(strstr(err, "a\nb"));
	unsetenv("CHECKSPEC_PW");

	start(CHECKSPEC_FLAGS);
	no("ca_file", "a\tb", "--ca-file: not a usable file name");
	no("password_file", "/nonexistent/pw",
	   "--password-file /nonexistent/pw: No such file or directory");
	setenv("MAILPULSE_PASSWORD", "a\rb", 1);
	no("password_env", "MAILPULSE_PASSWORD", "MAILPULSE_PASSWORD contains a CR or LF byte");
	unsetenv("MAILPULSE_PASSWORD");

	unlink(path);
	rmdir(dir);
}

static void test_url(void **state)
{
	(void)state;
	start(CHECKSPEC_KEYS);
	ok("url", "imaps://mail.example.com");
	assert_string_equal(chk.target.url, "imaps://mail.example.com:993");
	no("url", "ftp://a",
	   "url \"ftp://a\": unknown scheme \"ftp\" (position 1): use imap://, imaps://, pop3:// "
	   "or "
	   "pop3s://");
	/* The URL could carry a password: not quoted, and the hint names the keys. */
	no("url", "imap://u:pw@a",
	   "url: credentials in URLs are not accepted: use login and password_file (position 8)");
	assert_null(strstr(err, "pw@"));
	assert_int_equal(checkspec_set_other(&b, "url", "~", "nothing", err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "url: expected an imap://, imaps://, pop3:// or pop3s:// URL, found "
	                    "nothing");
	assert_false(checkspec_url_showable("imap://a?password=x"));
	assert_true(checkspec_url_showable("imap://a"));
}

static void test_other_values(void **state)
{
	(void)state;
	start(CHECKSPEC_KEYS);
	assert_int_equal(checkspec_set_other(&b, "timeout", "~", "nothing", err, sizeof(err)), -1);
	assert_string_equal(err, "timeout: a value is required");
	assert_int_equal(checkspec_set_other(&b, "timeout", NULL, "a list", err, sizeof(err)), -1);
	assert_string_equal(err, "timeout: expected a single value, found a list");
	assert_int_equal(checkspec_set_other(&b, "sni", "~", "nothing", err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "sni: \"~\" is not a host name (letters, digits, '-', '.', at most "
	                    "253)");
	assert_int_equal(
	    checkspec_set_other(&b, "expect_capabilities", NULL, "a mapping", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "expect_capabilities: \"a mapping\" is not a capability (a name, "
	                         "or for POP3 a CAPA line's keyword and arguments separated by "
	                         "single spaces)");
}

/* Collects the cross-checks' problems. */
struct problems {
	int n;
	char key[8][32];
	char msg[8][256];
};

static void collect(void *arg, const char *key, const char *key2, const char *msg)
{
	struct problems *p = arg;

	(void)key2;
	if (p->n < 8) {
		snprintf(p->key[p->n], sizeof(p->key[0]), "%s", key);
		snprintf(p->msg[p->n], sizeof(p->msg[0]), "%s", msg);
	}
	p->n++;
}

static void test_cross_thresholds(void **state)
{
	struct problems p;

	(void)state;
	start(CHECKSPEC_FLAGS);
	ok("timeout", "1");
	ok("warn_ms", "2000");
	ok("crit_ms", "1000");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 3);
	/* The command line reports the order first, and only its first problem. */
	assert_string_equal(p.msg[0], "--crit-ms 1000 is below --warn-ms 2000");
	assert_string_equal(p.msg[1],
	                    "--warn-ms 2000 is not below the timeout (1000 ms): it could never "
	                    "trigger");
	assert_string_equal(p.key[2], "crit_ms");

	start(CHECKSPEC_KEYS);
	ok("timeout", "1s");
	ok("warn_ms", "2000");
	ok("crit_ms", "500");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 2);
	assert_string_equal(p.msg[0],
	                    "warn_ms 2000 is not below the timeout (1s): it could never trigger");
	assert_string_equal(p.msg[1], "crit_ms 500 is below warn_ms 2000");
}

static void test_cross_cert(void **state)
{
	struct problems p;

	(void)state;
	/* Both at one level contradict each other. */
	start(CHECKSPEC_FLAGS);
	ok("cert_warn_days", "10");
	ok("cert_crit_days", "20");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 1);
	assert_string_equal(p.msg[0], "--cert-crit 20 is above --cert-warn 10");

	/* One alone moves the default of the other; an explicit horizon ends the lifetime rule. */
	start(CHECKSPEC_FLAGS);
	ok("cert_warn_days", "3");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 0);
	assert_int_equal(chk.cert_crit_days, 3);
	assert_int_equal(chk.cert_life_rule, 0);
	start(CHECKSPEC_FLAGS);
	ok("cert_crit_days", "30");
	ok("cert_lifetime_rule", "true");
	assert_int_equal(checkspec_finish(&b, collect, &p), 0);
	assert_int_equal(chk.cert_warn_days, 30);
	assert_int_equal(chk.cert_life_rule, 1);

	/* Inherited against set here: the check's own setting wins. */
	start(CHECKSPEC_KEYS);
	chk.cert_crit_days = 20;
	b.inherited = (uint64_t)1 << checkspec_key("cert_crit_days");
	ok("cert_warn_days", "10");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 0);
	assert_int_equal(chk.cert_crit_days, 10);
}

static void test_cross_login(void **state)
{
	struct problems p;

	(void)state;
	start(CHECKSPEC_KEYS);
	ok("login", "probe");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 1);
	assert_string_equal(p.key[0], "login");
	assert_string_equal(p.msg[0], "login needs password_file or password_env");

	/* A password source that failed was already reported: nothing more. */
	start(CHECKSPEC_KEYS);
	ok("login", "probe");
	no("password_file", "/nonexistent",
	   "password_file /nonexistent: No such file or directory");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 0);

	start(CHECKSPEC_KEYS);
	setenv("CHECKSPEC_PW", "x", 1);
	ok("password_env", "CHECKSPEC_PW");
	unsetenv("CHECKSPEC_PW");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 1);
	assert_string_equal(p.key[0], "password_file");
	assert_string_equal(p.msg[0], "a password is given without login");
}

static void test_cross_imap_caps(void **state)
{
	struct problems p;

	(void)state;
	start(CHECKSPEC_KEYS);
	ok("url", "imap://a");
	ok("expect_capabilities", "AUTH PLAIN");
	ok("expect_capabilities", "IDLE");
	ok("expect_capabilities", "X Y");
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_finish(&b, collect, &p), 2);
	assert_string_equal(p.msg[0],
	                    "expect_capabilities \"AUTH PLAIN\" is not an IMAP capability "
	                    "(one atom, no spaces; \"SASL PLAIN\" is for POP3 CAPA)");
	assert_string_equal(p.key[1], "expect_capabilities");
}

/* The adapter a node uses for a check spec from its controller: keys and values as text. */
static void test_adapter(void **state)
{
	static const char *const keys[] = {"url",     "timeout", "starttls", "expect_capabilities",
	                                   "resolve", "resolve", "warn_ms",  "crit_ms",
	                                   "min_tls", "posture"};
	static const char *const values[] = {
	    "pop3://mx.example:1995", "10s", "require", "SASL PLAIN", "192.0.2.7",
	    "[2001:db8::7]",          "200", "900",     "1.3",        "warn"};
	static const char *const bad_keys[] = {"url", "timeout", "warn_ms", "colour"};
	static const char *const bad_values[] = {"imap://a", "5s", "9000", "red"};
	static const char *const cross_keys[] = {"url", "timeout", "warn_ms"};
	static const char *const cross_values[] = {"imap://a", "5s", "5000"};
	static const char *const nourl_keys[] = {"timeout"};
	static const char *const nourl_values[] = {"5s"};
	struct problems p;

	(void)state;
	start(CHECKSPEC_KEYS);
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_build(&b, keys, values, 10, collect, &p), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(chk.target.proto, MP_POP3);
	assert_int_equal(chk.target.port, 1995);
	assert_int_equal(chk.timeout_ms, 10000);
	assert_int_equal(chk.starttls, STARTTLS_REQUIRE);
	assert_int_equal(chk.n_expect_caps, 1);
	assert_int_equal(chk.n_resolve, 2);
	assert_string_equal(chk.resolve[1], "2001:db8::7");
	assert_int_equal(chk.warn_ms, 200);
	assert_int_equal(chk.crit_ms, 900);
	assert_int_equal(chk.min_tls, TLS1_3_VERSION);
	assert_int_equal(chk.posture, POSTURE_WARN);
	/* Untouched keys keep check_defaults(). */
	assert_int_equal(chk.cert_warn_days, 14);

	/* Every bad value is reported with its key; the cross-checks wait for a whole check. */
	start(CHECKSPEC_KEYS);
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_build(&b, bad_keys, bad_values, 4, collect, &p), 1);
	assert_string_equal(p.key[0], "colour");
	assert_string_equal(p.msg[0], "unknown check key \"colour\"");

	start(CHECKSPEC_KEYS);
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_build(&b, cross_keys, cross_values, 3, collect, &p), 1);
	assert_string_equal(p.key[0], "warn_ms");
	assert_string_equal(p.msg[0],
	                    "warn_ms 5000 is not below the timeout (5s): it could never trigger");

	start(CHECKSPEC_KEYS);
	memset(&p, 0, sizeof(p));
	assert_int_equal(checkspec_build(&b, nourl_keys, nourl_values, 1, collect, &p), 1);
	assert_string_equal(p.msg[0], "a url is needed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_keys_and_names, teardown),
	    cmocka_unit_test_teardown(test_timeout, teardown),
	    cmocka_unit_test_teardown(test_numbers, teardown),
	    cmocka_unit_test_teardown(test_enums_and_bools, teardown),
	    cmocka_unit_test_teardown(test_texts, teardown),
	    cmocka_unit_test_teardown(test_capabilities, teardown),
	    cmocka_unit_test_teardown(test_caps_fit, teardown),
	    cmocka_unit_test_teardown(test_resolve, teardown),
	    cmocka_unit_test_teardown(test_files, teardown),
	    cmocka_unit_test_teardown(test_url, teardown),
	    cmocka_unit_test_teardown(test_other_values, teardown),
	    cmocka_unit_test_teardown(test_cross_thresholds, teardown),
	    cmocka_unit_test_teardown(test_cross_cert, teardown),
	    cmocka_unit_test_teardown(test_cross_login, teardown),
	    cmocka_unit_test_teardown(test_cross_imap_caps, teardown),
	    cmocka_unit_test_teardown(test_adapter, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
