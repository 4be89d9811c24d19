/* SPDX-License-Identifier: ISC */
/*
 * test_target.c - every accepted and refused URL form, and check defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/tls1.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "spec/target.h"

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
    /* Link-local with a zone: RFC 6874's "%25", or a plain '%'; one canonical URL. */
    {"imaps://[fe80::1%25eth0]", MP_IMAP, 1, "fe80::1%eth0", 993, "imaps://[fe80::1%25eth0]:993"},
    {"imap://[FE80::1%eth0]:1143/", MP_IMAP, 0, "fe80::1%eth0", 1143,
     "imap://[fe80::1%25eth0]:1143"},
    /* Interface names are case-sensitive: the zone keeps its case. */
    {"pop3://[fe80::a:B%25Wlan_0.x-1]", MP_POP3, 0, "fe80::a:b%Wlan_0.x-1", 110,
     "pop3://[fe80::a:b%25Wlan_0.x-1]:110"},
    {"pop3s://[fe80::ffff:ffff:ffff:ffff%abcdefghijklmno]", MP_POP3, 1,
     "fe80::ffff:ffff:ffff:ffff%abcdefghijklmno", 995,
     "pop3s://[fe80::ffff:ffff:ffff:ffff%25abcdefghijklmno]:995"},
    {"imap://[fe80::1%252]", MP_IMAP, 0, "fe80::1%2", 143, "imap://[fe80::1%252]:143"},
    {"imap://[fe80::1%2525]", MP_IMAP, 0, "fe80::1%25", 143, "imap://[fe80::1%2525]:143"},
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
    {"imaps://[fe80::1%]",
     "empty zone after '%': name an interface, as in fe80::1%25eth0 (position 18)"},
    {"imaps://[fe80::1%25]", "empty zone after '%'"},
    {"imaps://[%25eth0]", "not a valid IPv6 address in brackets (position 10)"},
    {"imaps://[fe80::1%25eth 0]", "'.', '_') (position 23)"},
    {"imaps://[fe80::1%25eth/0]", "a path is not accepted"}, /* '/' ends the authority */
    {"imaps://[fe80::1%25%65th0]", "'%' is not allowed in a zone"},
    {"imaps://[fe80::1%25eth0:1]", "':' is not allowed in a zone"},
    {"imaps://[fe80::1%25abcdefghijklmnop]", "zone too long: 16 characters, an interface "
                                             "name has at most 15"},
    {"imaps://[2001:db8::1%25eth0]", "a zone is only for link-local addresses (fe80::/10)"},
    {"imaps://[::1%25lo]", "a zone is only for link-local addresses"},
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

/* Numeric addresses for --resolve and the configuration's resolve. */
static void test_addr_parse(void **state)
{
	static const char *const ok[][2] = {
	    {"192.0.2.1", "192.0.2.1"},
	    {"[2001:db8::1]", "2001:db8::1"},
	    {"2001:DB8::1", "2001:db8::1"},
	    {"fe80::1%eth0", "fe80::1%eth0"},
	    {"[fe80::1%25eth0]", "fe80::1%eth0"},
	    {"[FE80::1%ETH0]", "fe80::1%ETH0"},
	    /* Bare, as the system writes it: every '%' is the delimiter, "25" is a name. */
	    {"fe80::1%25", "fe80::1%25"},
	    {"fe80::1%25eth0", "fe80::1%25eth0"},
	    {"[fe80::1%2525]", "fe80::1%25"},
	};
	static const char *const bad[][2] = {
	    {"", "empty address"},
	    {"host.example", "not a numeric IPv4 or IPv6 address"},
	    {"192.0.2.1%eth0", "not a numeric IPv4 or IPv6 address"},
	    {"fe80::1%", "empty zone"},
	    {"[fe80::1%25]", "empty zone"},
	    {"fe80::1%eth/0", "'/' is not allowed in a zone"},
	    {"fe80::1%eth 0", "a space is not allowed in a zone"},
	    {"fe80::1%abcdefghijklmnop", "zone too long: 16 characters"},
	    {"2001:db8::1%eth0", "a zone is only for link-local addresses"},
	    {"fe80::1%eth0]", "']' is not allowed in a zone"},
	};
	char canon[TARGET_ADDR_MAX], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (target_addr_parse(ok[i][0], canon, sizeof(canon), err, sizeof(err)) != 0)
			fail_msg("\"%s\" refused: %s", ok[i][0], err);
		assert_string_equal(canon, ok[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (target_addr_parse(bad[i][0], canon, sizeof(canon), err, sizeof(err)) == 0)
			fail_msg("\"%s\" accepted as %s", bad[i][0], canon);
		if (!strstr(err, bad[i][1]))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", bad[i][0], err, bad[i][1]);
	}
}

/* The zone becomes sin6_scope_id; an interface this host lacks is its own error. */
static void test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char err[256];
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)&ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)&ss;
	unsigned lo = if_nametoindex("lo");

	(void)state;
	assert_int_equal(target_sockaddr("fe80::1%lo", 993, &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(s6->sin6_port), 993);
	assert_true(lo > 0);
	assert_int_equal(s6->sin6_scope_id, lo);
	/* An interface index in digits. */
	char byindex[32];
	snprintf(byindex, sizeof(byindex), "fe80::1%%%u", lo);
	assert_int_equal(target_sockaddr(byindex, 1, &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(s6->sin6_scope_id, lo);
	assert_int_equal(target_sockaddr("2001:db8::1", 1, &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(s6->sin6_scope_id, 0);
	assert_int_equal(target_sockaddr("192.0.2.1", 143, &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(s4->sin_port), 143);

	assert_int_equal(target_sockaddr("fe80::1%nosuchif0", 1, &ss, &len, err, sizeof(err)), -2);
	assert_string_equal(err, "no network interface \"nosuchif0\" on this host (the zone of "
	                         "fe80::1%nosuchif0)");
	assert_int_equal(target_sockaddr("fe80::1%999999", 1, &ss, &len, err, sizeof(err)), -2);
	assert_int_equal(target_sockaddr("mail.example.com", 1, &ss, &len, err, sizeof(err)), -1);
	assert_int_equal(target_sockaddr("192.0.2.1%lo", 1, &ss, &len, err, sizeof(err)), -1);
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
	    cmocka_unit_test(test_defaults),        cmocka_unit_test(test_addr_parse),
	    cmocka_unit_test(test_sockaddr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
