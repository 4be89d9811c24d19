/* SPDX-License-Identifier: ISC */
/*
 * test_check.c - option and URL validation of `mailpulse check`, without
 * running probes (one end-to-end case uses a closed local port).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <openssl/tls1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/check.h"

#define MAXARGS 64

static struct check_opts opts;
static char err[512];

/* Parse a NULL-terminated list of arguments after "check". */
static int parse_list(const char *first, va_list ap)
{
	static char *argv[MAXARGS];
	int argc = 0;
	const char *a;

	argv[argc++] = (char *)(uintptr_t) "check";
	for (a = first; a && argc < MAXARGS - 1; a = va_arg(ap, const char *))
		argv[argc++] = (char *)(uintptr_t)a;
	argv[argc] = NULL;
	check_opts_free(&opts);
	return check_parse_args(argc, argv, &opts, err, sizeof(err));
}

static int parse(const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = parse_list(first, ap);
	va_end(ap);
	return rc;
}

/* The parse must fail with an error containing want. */
static void refused(const char *want, const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = parse_list(first, ap);
	va_end(ap);
	if (rc != -1)
		fail_msg("accepted; expected an error with \"%s\"", want);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static int setup(void **state)
{
	(void)state;
	memset(&opts, 0, sizeof(opts));
	unsetenv("MAILPULSE_PASSWORD");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	check_opts_free(&opts);
	return 0;
}

static void test_minimal(void **state)
{
	(void)state;
	assert_int_equal(parse("imaps://mail.example.com", NULL), 0);
	assert_int_equal(opts.ntargets, 1);
	assert_string_equal(opts.targets[0].url, "imaps://mail.example.com:993");
	assert_int_equal(opts.format, CHECK_OUT_HUMAN);
	assert_int_equal(opts.verbose, 0);
	assert_int_equal(opts.base.timeout_ms, 30000);
	assert_int_equal(opts.base.starttls, STARTTLS_AUTO);
	assert_null(opts.base.login);
	assert_null(opts.base.password);
}

static void test_every_option(void **state)
{
	(void)state;
	setenv("MAILPULSE_PASSWORD", "pw-from-env", 1);
	assert_int_equal(parse("imap://a", "-4", "--all-addresses", "--starttls", "require",
	                       "--expect", "Dovecot", "--expect-capability", "IMAP4rev1",
	                       "--expect-capability", "IDLE", "--timeout", "2.5", "--warn-ms",
	                       "200", "--crit-ms", "900", "--sni", "mail.example.com", "--ca-file",
	                       "/dev/null", "--min-tls", "1.3", "--insecure", "--cert-warn", "30",
	                       "--cert-crit", "10", "--login", "probe", "--allow-plaintext-auth",
	                       "--posture", "warn", "--json", "-v", "pop3s://b:1995", NULL),
	                 0);
	assert_int_equal(opts.ntargets, 2);
	assert_string_equal(opts.targets[0].url, "imap://a:143");
	assert_string_equal(opts.targets[1].url, "pop3s://b:1995");
	assert_int_equal(opts.base.family, AF_INET);
	assert_int_equal(opts.base.all_addresses, 1);
	assert_int_equal(opts.base.starttls, STARTTLS_REQUIRE);
	assert_string_equal(opts.base.expect, "Dovecot");
	assert_int_equal(opts.base.n_expect_caps, 2);
	assert_string_equal(opts.base.expect_caps[0], "IMAP4rev1");
	assert_string_equal(opts.base.expect_caps[1], "IDLE");
	assert_int_equal(opts.base.timeout_ms, 2500);
	assert_int_equal(opts.base.warn_ms, 200);
	assert_int_equal(opts.base.crit_ms, 900);
	assert_string_equal(opts.base.sni, "mail.example.com");
	assert_string_equal(opts.base.ca_file, "/dev/null");
	assert_int_equal(opts.base.min_tls, TLS1_3_VERSION);
	assert_int_equal(opts.base.insecure, 1);
	assert_int_equal(opts.base.cert_warn_days, 30);
	assert_int_equal(opts.base.cert_crit_days, 10);
	assert_string_equal(opts.base.login, "probe");
	assert_string_equal(opts.base.password, "pw-from-env");
	assert_int_equal(opts.base.allow_plaintext_auth, 1);
	assert_int_equal(opts.base.posture, POSTURE_WARN);
	assert_int_equal(opts.format, CHECK_OUT_JSON);
	assert_int_equal(opts.verbose, 1);

	assert_int_equal(
	    parse("-6", "--nagios", "--starttls", "no", "--posture", "report", "imap://a", NULL),
	    0);
	assert_int_equal(opts.base.family, AF_INET6);
	assert_int_equal(opts.base.starttls, STARTTLS_NO);
	assert_int_equal(opts.format, CHECK_OUT_NAGIOS);
}

static void test_help_and_version(void **state)
{
	(void)state;
	assert_int_equal(parse("--help", NULL), 0);
	assert_int_equal(opts.help, 1);
	/* --help wins over errors anywhere on the line. */
	assert_int_equal(parse("--timeout", "abc", "-h", NULL), 0);
	assert_int_equal(opts.help, 1);
	assert_int_equal(parse("--version", NULL), 0);
	assert_int_equal(opts.version, 1);
}

static void test_timeout(void **state)
{
	(void)state;
	assert_int_equal(parse("--timeout", "0.5", "imap://a", NULL), 0);
	assert_int_equal(opts.base.timeout_ms, 500);
	assert_int_equal(parse("--timeout", "0.1", "imap://a", NULL), 0);
	assert_int_equal(opts.base.timeout_ms, 100);
	assert_int_equal(parse("--timeout", "3600", "imap://a", NULL), 0);
	assert_int_equal(opts.base.timeout_ms, 3600000);
	assert_int_equal(parse("--timeout", "7.", "imap://a", NULL), 0);
	assert_int_equal(opts.base.timeout_ms, 7000);
	assert_int_equal(parse("--timeout", ".25", "imap://a", NULL), 0);
	assert_int_equal(opts.base.timeout_ms, 250);
	refused("--timeout: \"abc\" is not a number of seconds", "--timeout", "abc", "imap://a",
	        NULL);
	refused("--timeout: \"1e3\" is not a number", "--timeout", "1e3", "imap://a", NULL);
	refused("--timeout: \"-1\" is not a number", "--timeout", "-1", "imap://a", NULL);
	refused("--timeout: \"\" is not a number", "--timeout", "", "imap://a", NULL);
	refused("--timeout: \".\" is not a number", "--timeout", ".", "imap://a", NULL);
	refused("--timeout: \"1.2.3\" is not a number", "--timeout", "1.2.3", "imap://a", NULL);
	refused("--timeout: 0.05 s is out of range: 0.1 to 3600", "--timeout", "0.05", "imap://a",
	        NULL);
	refused("--timeout: 0 s is out of range", "--timeout", "0", "imap://a", NULL);
	refused("--timeout: 3600.5 s is out of range", "--timeout", "3600.5", "imap://a", NULL);
	refused("option --timeout needs a value", "imap://a", "--timeout", NULL);
}

static void test_thresholds(void **state)
{
	(void)state;
	refused("--warn-ms: \"x\" is not a number of milliseconds", "--warn-ms", "x", "imap://a",
	        NULL);
	refused("--warn-ms: \"0\" is not a number", "--warn-ms", "0", "imap://a", NULL);
	refused("--crit-ms: \"-5\" is not a number", "--crit-ms", "-5", "imap://a", NULL);
	refused("--crit-ms: \"3600001\"", "--crit-ms", "3600001", "imap://a", NULL);
	refused("--crit-ms 100 is below --warn-ms 200", "--warn-ms", "200", "--crit-ms", "100",
	        "imap://a", NULL);
	assert_int_equal(parse("--warn-ms", "200", "--crit-ms", "200", "imap://a", NULL), 0);
	refused("--warn-ms 30000 is not below the timeout (30000 ms)", "--warn-ms", "30000",
	        "imap://a", NULL);
	refused("--crit-ms 1000 is not below the timeout (1000 ms)", "--timeout", "1", "--crit-ms",
	        "1000", "imap://a", NULL);

	refused("--cert-warn: \"soon\" is not a number of days", "--cert-warn", "soon", "imap://a",
	        NULL);
	refused("--cert-crit: \"3651\"", "--cert-crit", "3651", "imap://a", NULL);
	refused("--cert-crit 20 is above --cert-warn 10", "--cert-warn", "10", "--cert-crit", "20",
	        "imap://a", NULL);
	/* One threshold given: the other's default moves to keep them ordered. */
	assert_int_equal(parse("--cert-warn", "5", "imap://a", NULL), 0);
	assert_int_equal(opts.base.cert_warn_days, 5);
	assert_int_equal(opts.base.cert_crit_days, 5);
	assert_int_equal(parse("--cert-crit", "20", "imap://a", NULL), 0);
	assert_int_equal(opts.base.cert_warn_days, 20);
	assert_int_equal(opts.base.cert_crit_days, 20);
	assert_int_equal(parse("--cert-warn", "0", "--cert-crit", "0", "imap://a", NULL), 0);
}

static void test_enums(void **state)
{
	(void)state;
	refused("--starttls: \"yes\" is not one of no, auto, require", "--starttls", "yes",
	        "imap://a", NULL);
	refused("--posture: \"strict\" is not one of report, warn", "--posture", "strict",
	        "imap://a", NULL);
	refused("--min-tls: \"1.4\" is not one of 1.0, 1.1, 1.2, 1.3", "--min-tls", "1.4",
	        "imap://a", NULL);
	refused("--min-tls: \"\" is not one of", "--min-tls", "", "imap://a", NULL);
	assert_int_equal(parse("--min-tls", "1.0", "imap://a", NULL), 0);
	assert_int_equal(opts.base.min_tls, TLS1_VERSION);
	assert_int_equal(parse("--min-tls", "1.1", "imap://a", NULL), 0);
	assert_int_equal(opts.base.min_tls, TLS1_1_VERSION);
	assert_int_equal(parse("--min-tls", "TLSv1.2", "imap://a", NULL), 0);
	assert_int_equal(opts.base.min_tls, TLS1_2_VERSION);
}

static void test_strings(void **state)
{
	(void)state;
	refused("--expect: the text must be non-empty", "--expect", "", "imap://a", NULL);
	refused("--expect: the text must be non-empty printable", "--expect", "a\r\nb", "imap://a",
	        NULL);
	refused("--expect-capability: \"\" is not a capability name", "--expect-capability", "",
	        "imap://a", NULL);
	refused("--expect-capability: \"AUTH PLAIN\" is not a capability name",
	        "--expect-capability", "AUTH PLAIN", "imap://a", NULL);
	/* POP3: a CAPA line's keyword and arguments; not with an IMAP URL beside it. */
	assert_int_equal(parse("--expect-capability", "SASL PLAIN", "pop3://a", NULL), 0);
	assert_string_equal(opts.base.expect_caps[0], "SASL PLAIN");
	refused("--expect-capability: \"SASL PLAIN\" is not a capability name for IMAP",
	        "--expect-capability", "SASL PLAIN", "pop3://a", "imap://b", NULL);
	refused("--expect-capability: \" SASL\" is not a capability name", "--expect-capability",
	        " SASL", "pop3://a", NULL);
	refused("--expect-capability: \"a\\r\\nb\"", "--expect-capability", "a\r\nb", "imap://a",
	        NULL);
	refused("--expect-capability: at most 16 may be given", "--expect-capability", "C1",
	        "--expect-capability", "C2", "--expect-capability", "C3", "--expect-capability",
	        "C4", "--expect-capability", "C5", "--expect-capability", "C6",
	        "--expect-capability", "C7", "--expect-capability", "C8", "--expect-capability",
	        "C9", "--expect-capability", "C10", "--expect-capability", "C11",
	        "--expect-capability", "C12", "--expect-capability", "C13", "--expect-capability",
	        "C14", "--expect-capability", "C15", "--expect-capability", "C16",
	        "--expect-capability", "C17", "imap://a", NULL);
	refused("--sni: \"bad name\" is not a host name", "--sni", "bad name", "imap://a", NULL);
	refused("--sni: \"\" is not a host name", "--sni", "", "imap://a", NULL);
	refused("--login: the user name must be non-empty", "--login", "", "imap://a", NULL);
	refused("--login: the user name must be non-empty printable", "--login", "a\r\nA1 LOGOUT",
	        "imap://a", NULL);
}

static void test_ca_file(void **state)
{
	(void)state;
	refused("--ca-file /nonexistent/ca.pem: No such file or directory", "--ca-file",
	        "/nonexistent/ca.pem", "imap://a", NULL);
	refused("--ca-file /tmp: is a directory", "--ca-file", "/tmp", "imap://a", NULL);
}

static void test_exclusive(void **state)
{
	(void)state;
	refused("-4 and -6 exclude each other", "-4", "-6", "imap://a", NULL);
	refused("--json and --nagios exclude each other", "--json", "--nagios", "imap://a", NULL);
}

static void test_getopt_errors(void **state)
{
	(void)state;
	refused("unknown or ambiguous option --frobnicate", "--frobnicate", "imap://a", NULL);
	refused("unknown option -x", "-x", "imap://a", NULL);
	refused("option --json=1 does not take a value", "--json=1", "imap://a", NULL);
	refused("option --login needs a value", "imap://a", "--login", NULL);
}

static void test_urls(void **state)
{
	(void)state;
	refused("no URL given", NULL);
	refused("no URL given", "--json", NULL);
	refused("URL \"imap://a:0\": port out of range", "imap://a:0", NULL);
	refused("URL \"ftp://a\": unknown scheme \"ftp\"", "imaps://ok", "ftp://a", NULL);
	/* A URL with user info is never quoted back. */
	refused("URL number 2: credentials in URLs are not accepted", "imaps://ok",
	        "imaps://bob:hunter2@mail.example.com", NULL);
	assert_null(strstr(err, "hunter2"));
	refused("URL number 1: a query", "imap://a?password=hunter2", NULL);
	assert_null(strstr(err, "hunter2"));

	/* Options may follow URLs; order of URLs is kept. */
	assert_int_equal(parse("pop3://z", "--json", "imap://y", "imaps://x", NULL), 0);
	assert_int_equal(opts.ntargets, 3);
	assert_string_equal(opts.targets[0].url, "pop3://z:110");
	assert_string_equal(opts.targets[1].url, "imap://y:143");
	assert_string_equal(opts.targets[2].url, "imaps://x:993");
}

/* --resolve takes link-local IPv6 addresses with a zone, and refuses near misses. */
static void test_resolve_zones(void **state)
{
	(void)state;
	assert_int_equal(parse("--resolve", "mx.example:192.0.2.1,[2001:db8::1],fe80::1%eth0",
	                       "--resolve", "pop.example:[fe80::2%25Wlan_0.x-1],[FE80::3%eth1]",
	                       "imaps://mx.example", "pop3s://pop.example", NULL),
	                 0);
	assert_int_equal(opts.nresolves, 2);
	assert_int_equal(opts.resolves[0].naddr, 3);
	assert_string_equal(opts.resolves[0].addr[0], "192.0.2.1");
	assert_string_equal(opts.resolves[0].addr[1], "2001:db8::1");
	assert_string_equal(opts.resolves[0].addr[2], "fe80::1%eth0");
	assert_int_equal(opts.resolves[1].naddr, 2);
	/* RFC 6874's "%25" is the '%' itself; the zone keeps its case. */
	assert_string_equal(opts.resolves[1].addr[0], "fe80::2%Wlan_0.x-1");
	assert_string_equal(opts.resolves[1].addr[1], "fe80::3%eth1");
	/* The longest: a full link-local address and a 15-character interface name. */
	assert_int_equal(
	    parse("--resolve", "a:[fe80::ffff:ffff:ffff:ffff%25abcdefghijklmno]", "imap://a", NULL),
	    0);
	assert_string_equal(opts.resolves[0].addr[0], "fe80::ffff:ffff:ffff:ffff%abcdefghijklmno");

	refused("--resolve a: \"fe80::1%\": empty zone", "--resolve", "a:fe80::1%", "imap://a",
	        NULL);
	refused("empty zone", "--resolve", "a:[fe80::1%25]", "imap://a", NULL);
	refused("'/' is not allowed in a zone", "--resolve", "a:fe80::1%eth/0", "imap://a", NULL);
	refused("a space is not allowed in a zone", "--resolve", "a:[fe80::1%eth 0]", "imap://a",
	        NULL);
	refused("'%' is not allowed in a zone", "--resolve", "a:fe80::1%25%65th0", "imap://a",
	        NULL);
	refused("zone too long: 16 characters", "--resolve", "a:fe80::1%abcdefghijklmnop",
	        "imap://a", NULL);
	refused("a zone is only for link-local addresses", "--resolve", "a:2001:db8::1%eth0",
	        "imap://a", NULL);
	refused("\"192.0.2.1%eth0\" is not a numeric IPv4 or IPv6 address", "--resolve",
	        "a:192.0.2.1%eth0", "imap://a", NULL);
	refused("is not a numeric IPv4 or IPv6 address", "--resolve", "a:[fe80::1%eth0", "imap://a",
	        NULL);

	/* In URLs: both spellings, one canonical form. */
	assert_int_equal(parse("imap://[fe80::1%eth0]", "imaps://[FE80::1%25eth0]:10993/", NULL),
	                 0);
	assert_string_equal(opts.targets[0].host, "fe80::1%eth0");
	assert_string_equal(opts.targets[0].url, "imap://[fe80::1%25eth0]:143");
	assert_string_equal(opts.targets[1].url, "imaps://[fe80::1%25eth0]:10993");
	refused("empty zone", "imap://[fe80::1%25]", NULL);
}

static void write_file(const char *path, const char *content, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(path, mode);
}

static void test_password_sources(void **state)
{
	char path[] = "/tmp/mp-test-pw-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);

	refused("--login needs a password: use --password-file FILE or set MAILPULSE_PASSWORD",
	        "--login", "probe", "imap://a", NULL);
	setenv("MAILPULSE_PASSWORD", "", 1);
	refused("--login needs a password", "--login", "probe", "imap://a", NULL);
	setenv("MAILPULSE_PASSWORD", "a\nb", 1);
	refused("MAILPULSE_PASSWORD contains a CR or LF byte", "--login", "probe", "imap://a",
	        NULL);
	assert_null(strstr(err, "a\nb"));
	unsetenv("MAILPULSE_PASSWORD");

	refused("--password-file given without --login", "--password-file", path, "imap://a", NULL);

	write_file(path, "s3cret\r\nsecond line\n", 0600);
	assert_int_equal(parse("--login", "probe", "--password-file", path, "imap://a", NULL), 0);
	assert_string_equal(opts.base.password, "s3cret");
	assert_ptr_equal(opts.base.password, opts.password);

	/* The file wins over the environment. */
	setenv("MAILPULSE_PASSWORD", "from-env", 1);
	assert_int_equal(parse("--login", "probe", "--password-file", path, "imap://a", NULL), 0);
	assert_string_equal(opts.base.password, "s3cret");
	unsetenv("MAILPULSE_PASSWORD");

	write_file(path, "no-newline", 0600);
	assert_int_equal(parse("--login", "probe", "--password-file", path, "imap://a", NULL), 0);
	assert_string_equal(opts.base.password, "no-newline");

	/* World-readable: a warning on stderr, not an error. */
	write_file(path, "readable\n", 0644);
	assert_int_equal(parse("--login", "probe", "--password-file", path, "imap://a", NULL), 0);
	assert_string_equal(opts.base.password, "readable");

	write_file(path, "\nsecond\n", 0600);
	refused("the first line is empty", "--login", "probe", "--password-file", path, "imap://a",
	        NULL);
	write_file(path, "", 0600);
	refused("the first line is empty", "--login", "probe", "--password-file", path, "imap://a",
	        NULL);
	write_file(path, "a\rb\n", 0600);
	refused("the first line contains a CR or NUL byte", "--login", "probe", "--password-file",
	        path, "imap://a", NULL);
	assert_null(strstr(err, "a\rb"));

	{
		char big[CHECK_PASSWORD_MAX + 10];

		memset(big, 'x', sizeof(big) - 2);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\0';
		write_file(path, big, 0600);
		refused("the first line is longer than 512 bytes", "--login", "probe",
		        "--password-file", path, "imap://a", NULL);
		assert_null(strstr(err, "xxxx"));
		big[CHECK_PASSWORD_MAX] = '\n';
		big[CHECK_PASSWORD_MAX + 1] = '\0';
		write_file(path, big, 0600);
		assert_int_equal(
		    parse("--login", "probe", "--password-file", path, "imap://a", NULL), 0);
		assert_int_equal(strlen(opts.base.password), CHECK_PASSWORD_MAX);
	}

	unlink(path);
	refused("No such file or directory", "--login", "probe", "--password-file", path,
	        "imap://a", NULL);
	refused("is a directory", "--login", "probe", "--password-file", "/tmp", "imap://a", NULL);
}

static void test_free_wipes_password(void **state)
{
	(void)state;
	setenv("MAILPULSE_PASSWORD", "wipe-me", 1);
	assert_int_equal(parse("--login", "probe", "imap://a", NULL), 0);
	assert_string_equal(opts.password, "wipe-me");
	check_opts_free(&opts);
	for (size_t i = 0; i < sizeof(opts.password); i++)
		assert_int_equal(opts.password[i], 0);
	assert_null(opts.base.password);
	assert_null(opts.targets);
	unsetenv("MAILPULSE_PASSWORD");
}

static void test_main_usage_errors(void **state)
{
	char *argv_bad[] = {"check", "--timeout", "zero", "imap://a", NULL};
	char *argv_none[] = {"check", NULL};
	char *argv_help[] = {"check", "--help", NULL};

	(void)state;
	assert_int_equal(check_main(4, argv_bad), 3);
	assert_int_equal(check_main(1, argv_none), 3);
	assert_int_equal(check_main(2, argv_help), 0);
}

/* End to end on a port that was just closed: refused, exit 2, and the loop ends. */
static void test_main_refused(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *argv[] = {"check", "--timeout", "5", url, NULL};

	(void)state;
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%u", ntohs(sin.sin_port));
	assert_int_equal(check_main(4, argv), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_minimal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_option, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_help_and_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thresholds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enums, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ca_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exclusive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_getopt_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_zones, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_password_sources, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_wipes_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_main_usage_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_main_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
