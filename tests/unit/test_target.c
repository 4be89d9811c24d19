/*
 * test_target.c - every accepted and refused URL form, and check defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/tls1.h>
#include <string.h>
#include <sys/socket.h>

#include "target.h"

struct ok_case {
	const char *in;
	enum mp_proto proto;
	int tls;
	const char *host;
	unsigned port;
	const char *url;
};

static const struct ok_case ok_cases[] = {
    {"imap://mail.example.com", MP_IMAP, 0, "mail.example.com", 143, "imap://mail.example.com:143"},
    {"imaps://mail.example.com", MP_IMAP, 1, "mail.example.com", 993,
     "imaps://mail.example.com:993"},
    {"pop3://mail.example.com", MP_POP3, 0, "mail.example.com", 110, "pop3://mail.example.com:110"},
    {"pop3s://mail.example.com", MP_POP3, 1, "mail.example.com", 995,
     "pop3s://mail.example.com:995"},
    {"IMAPS://Mail.Example.COM:10993/", MP_IMAP, 1, "mail.example.com", 10993,
     "imaps://mail.example.com:10993"},
    {"PoP3s://h", MP_POP3, 1, "h", 995, "pop3s://h:995"},
    {"imap://127.0.0.1:1143", MP_IMAP, 0, "127.0.0.1", 1143, "imap://127.0.0.1:1143"},
    {"imaps://[::1]:10993", MP_IMAP, 1, "::1", 10993, "imaps://[::1]:10993"},
    {"imaps://[2001:DB8::1]", MP_IMAP, 1, "2001:db8::1", 993, "imaps://[2001:db8::1]:993"},
    {"pop3://[::ffff:192.0.2.1]:110/", MP_POP3, 0, "::ffff:192.0.2.1", 110,
     "pop3://[::ffff:192.0.2.1]:110"},
    {"imap://host:1", MP_IMAP, 0, "host", 1, "imap://host:1"},
    {"imap://host:65535", MP_IMAP, 0, "host", 65535, "imap://host:65535"},
    {"imap://host:00143", MP_IMAP, 0, "host", 143, "imap://host:143"},
    {"imap://mail.example.com.", MP_IMAP, 0, "mail.example.com.", 143,
     "imap://mail.example.com.:143"},
    {"imap://my_host-1.internal", MP_IMAP, 0, "my_host-1.internal", 143,
     "imap://my_host-1.internal:143"},
};

static void test_accepted(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *k = &ok_cases[i];
		struct target t;
		char err[256] = "";

		if (target_parse(&t, k->in, err, sizeof(err)) != 0)
			fail_msg("%s refused: %s", k->in, err);
		assert_int_equal(t.proto, k->proto);
		assert_int_equal(t.implicit_tls, k->tls);
		assert_string_equal(t.host, k->host);
		assert_int_equal(t.port, k->port);
		assert_string_equal(t.url, k->url);
	}
}

struct bad_case {
	const char *in;
	const char *msg; /* substring of the error */
};

static const struct bad_case bad_cases[] = {
    {"", "empty URL"},
    {"mail.example.com", "missing scheme"},
    {"mail.example.com:993", "missing scheme"},
    {"imap:/host", "missing scheme"},
    {"://host", "missing scheme"},
    {"http://host", "unknown scheme \"http\" (position 1): use imap://, imaps://, pop3:// or "
                    "pop3s://"},
    {"smtps://host", "unknown scheme \"smtps\""},
    {"imap4://host", "unknown scheme \"imap4\""},
    {"averyveryverylongscheme://host", "unknown scheme (position 1)"},
    {"imap://", "empty host (position 8)"},
    {"imap:///", "empty host (position 8)"},
    {"imap://:143", "empty host (position 8)"},
    {"imaps://[]:993", "empty host (position 10)"},
    {"imap://host/INBOX", "a path is not accepted"},
    {"imap://host//", "only a trailing \"/\" may follow host and port (position 13)"},
    {"imap://host?x=1", "a query (\"?...\") is not accepted (position 12)"},
    {"imap://host/?x=1", "a path is not accepted"},
    {"imap://host#frag", "a fragment (\"#...\") is not accepted (position 12)"},
    {"imap://host:0", "port out of range: must be 1..65535 (position 13)"},
    {"imap://host:65536", "port out of range"},
    {"imap://host:99999999999999999999", "port out of range"},
    {"imap://host:", "empty port after ':' (position 12)"},
    {"imap://host:14x", "port is not a number (position 15)"},
    {"imap://host:-1", "port is not a number (position 13)"},
    {"imap://host: 143", "port is not a number (position 13)"},
    {"imaps://[::1", "unclosed '[' in IPv6 address (position 9)"},
    {"imaps://[::1:993", "unclosed '['"},
    {"imaps://[::1]993", "expected ':' or the end after ']' (position 14)"},
    {"imaps://[::1]:", "empty port"},
    {"imaps://[::1]:0", "port out of range"},
    {"imaps://[not:an:addr]", "not a valid IPv6 address"},
    {"imaps://[fe80::1%25eth0]", "not a valid IPv6 address"},
    {"imaps://[127.0.0.1]", "not a valid IPv6 address"},
    {"imaps://::1:993", "IPv6 addresses must be in brackets"},
    {"imap://exa mple.com", "a space is not allowed in a host name (position 11)"},
    {"imap://exa%2emple.com", "'%' is not allowed in a host name (position 11)"},
    {"imap://ex\x01mple", "byte 0x01 is not allowed in a host name (position 10)"},
    {"imap://caf\xc3\xa9.example", "byte 0xc3 is not allowed in a host name (position 11)"},
    {"imap://a..b", "empty label in host name (position 10)"},
    {"imap://.a", "empty label in host name (position 8)"},
};

static void test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *k = &bad_cases[i];
		struct target t;
		char err[256] = "";

		if (target_parse(&t, k->in, err, sizeof(err)) == 0)
			fail_msg("\"%s\" accepted as %s", k->in, t.url);
		if (!strstr(err, k->msg))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", k->in, err, k->msg);
	}
}

static void test_host_lengths(void **state)
{
	char url[400], err[256];
	struct target t;
	char label[64];

	(void)state;
	/* 63-character labels are the most DNS allows; 64 is refused. */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(url, sizeof(url), "imap://%s.%s.%s.com", label, label, label);
	assert_int_equal(target_parse(&t, url, err, sizeof(err)), 0);
	snprintf(url, sizeof(url), "imap://%sa.com", label);
	assert_int_equal(target_parse(&t, url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "label longer than 63"));

	/* 253 characters in all is the limit. */
	snprintf(url, sizeof(url), "imap://%s.%s.%s.%.61s", label, label, label, label);
	assert_int_equal(strlen(url) - 7, 253);
	assert_int_equal(target_parse(&t, url, err, sizeof(err)), 0);
	snprintf(url, sizeof(url), "imap://%s.%s.%s.%.62s", label, label, label, label);
	assert_int_equal(target_parse(&t, url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host name too long: 254 characters"));
}

/* User info must be refused, and no byte of it may appear in the message. */
static void test_userinfo_never_echoed(void **state)
{
	static const char *const urls[] = {
	    "imaps://bob:hunter2@mail.example.com", "imaps://bob@mail.example.com:993",
	    "IMAP://bob:hunter2@[::1]:143/",        "pop3://bob:pa/ss@host",
	    "pop3s://bob:hunter2:x@host?y",         "http://bob:hunter2@host",
	};
	char err[256];
	struct target t;

	(void)state;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		assert_int_equal(target_parse(&t, urls[i], err, sizeof(err)), -1);
		if (strncmp(urls[i], "http:", 5) != 0)
			assert_non_null(strstr(err, "credentials in URLs are not accepted: use "
			                            "--login and --password-file"));
		assert_null(strstr(err, "hunter2"));
		assert_null(strstr(err, "bob"));
		assert_null(strstr(err, "pa/ss"));
	}
}

static void test_null_err_buffer(void **state)
{
	struct target t;

	(void)state;
	assert_int_equal(target_parse(&t, "imap://host:0", NULL, 0), -1);
	assert_int_equal(target_parse(&t, NULL, NULL, 0), -1);
}

static void test_service(void **state)
{
	struct target t;
	char err[128];

	(void)state;
	assert_int_equal(target_parse(&t, "imap://h", err, sizeof(err)), 0);
	assert_string_equal(target_service(&t), "IMAP");
	assert_int_equal(target_parse(&t, "imaps://h", err, sizeof(err)), 0);
	assert_string_equal(target_service(&t), "IMAPS");
	assert_int_equal(target_parse(&t, "pop3://h", err, sizeof(err)), 0);
	assert_string_equal(target_service(&t), "POP3");
	assert_int_equal(target_parse(&t, "pop3s://h", err, sizeof(err)), 0);
	assert_string_equal(target_service(&t), "POP3S");
}

static void test_defaults(void **state)
{
	struct check c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	check_defaults(&c);
	assert_int_equal(c.family, AF_UNSPEC);
	assert_int_equal(c.all_addresses, 0);
	assert_int_equal(c.starttls, STARTTLS_AUTO);
	assert_null(c.expect);
	assert_int_equal(c.n_expect_caps, 0);
	assert_int_equal(c.timeout_ms, 30000);
	assert_int_equal(c.warn_ms, 0);
	assert_int_equal(c.crit_ms, 0);
	assert_null(c.sni);
	assert_null(c.ca_file);
	assert_int_equal(c.min_tls, TLS1_2_VERSION);
	assert_int_equal(c.min_tls, 0x0303);
	assert_int_equal(c.insecure, 0);
	assert_int_equal(c.cert_warn_days, 14);
	assert_int_equal(c.cert_crit_days, 7);
	assert_null(c.login);
	assert_null(c.password);
	assert_int_equal(c.allow_plaintext_auth, 0);
	assert_int_equal(c.posture, POSTURE_REPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),        cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_host_lengths),    cmocka_unit_test(test_userinfo_never_echoed),
	    cmocka_unit_test(test_null_err_buffer), cmocka_unit_test(test_service),
	    cmocka_unit_test(test_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
