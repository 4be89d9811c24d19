/* SPDX-License-Identifier: ISC */
/*
 * test_imap.c - the IMAP core driven by scripted server lines: what it
 * sends, what it answers the driver, and what it records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/line.h"
#include "core/probe_imap.h"

#define CORE_OPS   imap_ops
#define CORE_PROTO MP_IMAP
#define CORE_PORT  143
#include "core_session.h"

/* Dovecot 2.3's greetings and replies, as seen on the wire. */
#define GREET_PLAIN                                                                                \
	"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "     \
	"LOGINDISABLED] Dovecot (Debian) ready."
#define CAPS_TLS "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN"

/* A greeting without capabilities, then the usual CAPABILITY exchange in the clear. */
static void plain_caps(struct sess *s, const char *caps)
{
	assert_int_equal(start(s, 0), PROTO_READ);
	assert_string_equal(s->last, "");
	assert_string_equal(imap_ops.pending(s->p), "greeting");
	assert_int_equal(line(s, "* OK IMAP ready"), PROTO_READ);
	assert_string_equal(s->last, "A1 CAPABILITY\r\n");
	assert_string_equal(imap_ops.pending(s->p), "CAPABILITY reply");
	assert_int_equal(line(s, caps), PROTO_READ);
	assert_string_equal(s->last, "");
}

/*
 * LOGOUT, its BYE and tagged OK, the close. The verdict is final once
 * LOGOUT is answered (before, too, unless it rests on the greeting alone).
 */
static void expect_logout_close(struct sess *s, const char *tag)
{
	char want[32];

	snprintf(want, sizeof(want), "%s LOGOUT\r\n", tag);
	assert_string_equal(s->last, want);
	assert_string_equal(imap_ops.pending(s->p), "LOGOUT reply");
	assert_int_equal(line(s, "* BYE Logging out"), PROTO_READ);
	snprintf(want, sizeof(want), "%s OK Logout completed.", tag);
	assert_int_equal(line(s, want), PROTO_CLOSE);
	assert_int_equal(s->u.final, 1);
	assert_string_equal(s->last, "");
}

/* What probe.c does when the server closes before the core answered PROTO_CLOSE. */
static void server_closed(struct sess *s)
{
	s->now += 1000;
	imap_ops.on_close(s->p, s->now);
	run_fail(&s->u, MP_R_CLOSED, "server closed the connection while waiting for %s",
	         imap_ops.pending(s->p));
}

static void test_happy_starttls_login(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	assert_int_equal(start(s, 0), PROTO_READ);
	/* The greeting's capabilities save a CAPABILITY round trip. */
	assert_int_equal(line(s, GREET_PLAIN), PROTO_READ);
	assert_string_equal(s->last, "A1 STARTTLS\r\n");
	assert_string_equal(s->r.greeting, GREET_PLAIN);
	assert_int_equal(s->r.phase_us[MP_PH_GREETING], 1000);
	assert_int_equal(s->r.nwarnings, 0); /* LOGINDISABLED, no AUTH=PLAIN in the clear */
	assert_string_equal(imap_ops.pending(s->p), "STARTTLS reply");

	assert_int_equal(line(s, "A1 OK Begin TLS negotiation now."), PROTO_TLS);
	assert_int_equal(s->r.phase_us[MP_PH_STARTTLS], 1000);
	assert_int_equal(tls_done(s), PROTO_READ);
	assert_string_equal(s->last, "A2 CAPABILITY\r\n");
	/* What was learned in the clear is forgotten. */
	assert_string_equal(s->r.capabilities, "");

	assert_int_equal(line(s, CAPS_TLS), PROTO_READ);
	assert_int_equal(line(s, "A2 OK Pre-login capabilities listed, post-login capabilities "
	                         "have more."),
	                 PROTO_READ);
	assert_int_equal(s->r.phase_us[MP_PH_CAPABILITY], 2000);
	assert_string_equal(
	    s->r.capabilities,
	    "IMAP4rev1\nSASL-IR\nLOGIN-REFERRALS\nID\nENABLE\nIDLE\nLITERAL+\nAUTH=PLAIN");
	assert_string_equal(s->last, "A3 LOGIN \"" USER "\" \"" PASS "\"\r\n");
	assert_string_equal(imap_ops.pending(s->p), "LOGIN reply");

	assert_int_equal(line(s, "A3 OK [CAPABILITY IMAP4rev1 IDLE] Logged in"), PROTO_READ);
	assert_int_equal(s->r.phase_us[MP_PH_LOGIN], 1000);
	assert_string_equal(s->last, "A4 EXAMINE INBOX\r\n");
	assert_string_equal(imap_ops.pending(s->p), "EXAMINE reply");
	assert_int_equal(line(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"),
	                 PROTO_READ);
	assert_int_equal(line(s, "* OK [PERMANENTFLAGS ()] Read-only mailbox."), PROTO_READ);
	assert_int_equal(line(s, "* 3 EXISTS"), PROTO_READ);
	assert_int_equal(line(s, "* 0 RECENT"), PROTO_READ);
	assert_int_equal(line(s, "* OK [UIDVALIDITY 1700000000] UIDs valid"), PROTO_READ);
	assert_int_equal(line(s, "A4 OK [READ-ONLY] Examine completed (0.001 + 0.000 secs)."),
	                 PROTO_READ);
	assert_int_equal(s->r.phase_us[MP_PH_MAILBOX], 6000);
	assert_int_equal(s->r.messages, 3);
	assert_int_equal(s->r.status, MP_UP);
	assert_int_equal(s->r.reason, MP_R_OK);
	assert_string_equal(s->r.message, "logged in, INBOX has 3 messages");
	expect_logout_close(s, "A5");
	/* The goodbye is not charged to any phase. */
	assert_int_equal(s->r.phase_us[MP_PH_MAILBOX], 6000);
	assert_int_equal(s->r.status, MP_UP);
	/* Every state entered, in order; "done" takes no step on the wire. */
	assert_string_equal(s->r.path, "greeting>starttls>tls>capability>login>examine>logout");
	/* The password went out exactly once, inside the LOGIN. */
	const char *pw = strstr(s->sent, PASS);
	assert_non_null(pw);
	assert_null(strstr(pw + 1, PASS));
	sess_free(s);
}

static void test_no_login_message(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	line(s, GREET_PLAIN);
	assert_int_equal(line(s, "A1 ok begin tls"), PROTO_TLS); /* keywords: any case */
	tls_done(s);
	line(s, CAPS_TLS);
	assert_int_equal(line(s, "A2 OK done"), PROTO_READ);
	assert_string_equal(s->r.message, "IMAP greeting OK, STARTTLS, 8 capabilities");
	assert_int_equal(s->r.messages, -1);
	expect_logout_close(s, "A3");
	assert_null(strstr(s->sent, "LOGIN"));
	sess_free(s);
}

static void test_capability_command(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.starttls = STARTTLS_NO;
	plain_caps(s, "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED");
	/* Unknown untagged lines before the tagged reply are legal. */
	assert_int_equal(line(s, "* ID NIL"), PROTO_READ);
	assert_int_equal(line(s, "* CAPABILITY IDLE"), PROTO_READ); /* accumulates */
	assert_int_equal(line(s, "A1 OK done"), PROTO_READ);
	assert_string_equal(s->r.capabilities, "IMAP4rev1\nSTARTTLS\nLOGINDISABLED\nIDLE");
	assert_true(s->r.phase_us[MP_PH_CAPABILITY] > 0);
	/* starttls=no: no STARTTLS even though advertised. */
	assert_string_equal(s->r.message, "IMAP greeting OK, 4 capabilities");
	expect_logout_close(s, "A2");
	assert_null(strstr(s->sent, "STARTTLS"));
	sess_free(s);
}

static void test_preauth_require(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.starttls = STARTTLS_REQUIRE;
	start(s, 0);
	assert_int_equal(line(s, "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in as bob"),
	                 PROTO_READ);
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.reason, MP_R_STARTTLS_UNAVAILABLE);
	assert_non_null(strstr(s->r.message, "PREAUTH"));
	assert_non_null(strstr(s->r.message, "stripping"));
	expect_logout_close(s, "A1");
	assert_null(strstr(s->sent, "STARTTLS"));
	sess_free(s);
}

static void test_preauth_auto(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	start(s, 0);
	assert_int_equal(line(s, "* preauth IMAP4rev1 server logged in as bob"), PROTO_READ);
	assert_string_equal(s->last, "A1 CAPABILITY\r\n");
	line(s, "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN");
	assert_int_equal(line(s, "A1 OK"), PROTO_READ);
	/* No STARTTLS in the authenticated state, no findings, no credentials. */
	assert_string_equal(s->last, "A2 EXAMINE INBOX\r\n");
	assert_int_equal(s->r.nwarnings, 0);
	line(s, "* 0 EXISTS");
	assert_int_equal(line(s, "A2 OK done"), PROTO_READ);
	assert_int_equal(s->r.messages, 0);
	assert_string_equal(s->r.message, "preauthenticated, INBOX has 0 messages");
	expect_logout_close(s, "A3");
	assert_null(strstr(s->sent, PASS));
	assert_null(strstr(s->sent, USER));
	sess_free(s);
}

static void test_bye_greeting(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	assert_int_equal(line(s, "* BYE Too many connections from your IP\x01"), PROTO_CLOSE);
	assert_string_equal(s->last, "");
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(
	    s->r.message, "server refused the connection: Too many connections from your IP\\x01");
	assert_string_equal(s->r.greeting, "* BYE Too many connections from your IP\\x01");
	assert_string_equal(imap_ops.pending(s->p), "nothing");
	/* After close, more lines change nothing. */
	assert_int_equal(line(s, "* OK late"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	sess_free(s);
}

static void test_greeting_mismatch(void **state)
{
	static const char *const bad[] = {
	    "220 mail.example.com ESMTP Postfix",
	    "+OK POP3 ready",
	    "* OKAY",
	    "A1 OK",
	    "",
	    "*",
	    "* NO go away",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sess *s = sess_new();
		start(s, 0);
		assert_int_equal(line(s, bad[i]), PROTO_CLOSE);
		assert_string_equal(s->last, "");
		assert_int_equal(s->r.reason, MP_R_GREETING_MISMATCH);
		assert_non_null(strstr(s->r.message, bad[i]));
		sess_free(s);
	}
}

static void test_greeting_mismatch_shortened(void **state)
{
	struct sess *s = sess_new();
	char big[4000];

	(void)state;
	memset(big, 'H', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[5] = '\x7f';
	start(s, 0);
	assert_int_equal(line(s, big), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_GREETING_MISMATCH);
	assert_non_null(strstr(s->r.message, "HHHHH\\x7fHHH"));
	assert_true(strlen(s->r.message) < 200);
	assert_non_null(strstr(s->r.message, "..."));
	/* The stored greeting is cut too. */
	assert_int_equal(strlen(s->r.greeting), RESULT_GREETING_MAX - 1);
	sess_free(s);
}

static void test_expect_text(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.expect = "Dovecot";
	start(s, 0);
	assert_int_equal(line(s, "* OK Cyrus IMAP ready (dovecot in disguise)"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_GREETING_MISMATCH);
	assert_non_null(strstr(s->r.message, "\"Dovecot\""));
	assert_non_null(strstr(s->r.message, "Cyrus IMAP ready"));
	sess_free(s);

	s = sess_new();
	s->c.expect = "Dovecot";
	start(s, 0);
	assert_int_equal(line(s, GREET_PLAIN), PROTO_READ);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

static void test_expect_caps(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.starttls = STARTTLS_NO;
	s->c.expect_caps[0] = "idle"; /* case-insensitive */
	s->c.expect_caps[1] = "QUOTA";
	s->c.n_expect_caps = 2;
	plain_caps(s, "* CAPABILITY IMAP4rev1 IDLE QUOTAX LOGINDISABLED");
	assert_int_equal(line(s, "A1 OK"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_CAPABILITY_MISSING);
	assert_string_equal(s->r.message, "server does not advertise capability QUOTA");
	expect_logout_close(s, "A2");
	sess_free(s);

	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	s->c.expect_caps[0] = "quota";
	s->c.n_expect_caps = 1;
	plain_caps(s, "* CAPABILITY IMAP4rev1 QUOTA LOGINDISABLED");
	line(s, "A1 OK");
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

/* Expected capabilities are judged on the list after TLS, not the one before. */
static void test_expect_caps_after_tls(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.expect_caps[0] = "AUTH=PLAIN";
	s->c.n_expect_caps = 1;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN LOGINDISABLED] hi");
	assert_int_equal(line(s, "A1 OK"), PROTO_TLS);
	tls_done(s);
	line(s, "* CAPABILITY IMAP4rev1");
	assert_int_equal(line(s, "A2 OK"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_CAPABILITY_MISSING);
	sess_free(s);
}

static void test_starttls_refused(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	line(s, GREET_PLAIN);
	assert_int_equal(line(s, "* OK still here"), PROTO_READ); /* untagged: ignored */
	assert_int_equal(line(s, "A1 NO [UNAVAILABLE] TLS not configured"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_STARTTLS_REFUSED);
	assert_string_equal(s->r.message,
	                    "server refused STARTTLS: [UNAVAILABLE] TLS not configured");
	expect_logout_close(s, "A2");
	sess_free(s);

	s = sess_new();
	start(s, 0);
	line(s, GREET_PLAIN);
	line(s, "A1 BAD unknown command");
	assert_int_equal(s->r.reason, MP_R_STARTTLS_REFUSED);
	sess_free(s);
}

/* A trace callback that writes "proto:from>to;" for each state change. */
static void trace_rec(void *arg, const char *proto, const char *from, const char *to)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s:%s>%s;", proto, from, to);
}

/*
 * The path says how far a failed probe got, after the driver's own steps;
 * the trace sees every change, "done" included, and nothing twice.
 */
static void test_path_failure_and_trace(void **state)
{
	struct sess *s = sess_new();
	char trace[512] = "";

	(void)state;
	run_set_trace(&s->u, trace_rec, trace);
	run_step(&s->u, "probe", "dns", 1);
	run_step(&s->u, "probe", "connect", 1);
	start(s, 0);
	line(s, "* OK IMAP ready");
	line(s, "* CAPABILITY IMAP4rev1 STARTTLS");
	line(s, "A1 OK done");
	assert_int_equal(line(s, "A2 NO [UNAVAILABLE] TLS not configured"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_STARTTLS_REFUSED);
	assert_string_equal(s->r.path, "dns>connect>greeting>capability>starttls>logout");
	expect_logout_close(s, "A3");
	assert_string_equal(s->r.path, "dns>connect>greeting>capability>starttls>logout");
	assert_string_equal(trace, "probe:start>dns;probe:dns>connect;imap:connect>greeting;"
	                           "imap:greeting>capability;imap:capability>starttls;"
	                           "imap:starttls>logout;imap:logout>done;");
	sess_free(s);

	/* A timeout leaves the path at the state that was waiting. */
	s = sess_new();
	start(s, 1);
	line(s, "* OK IMAP ready");
	assert_string_equal(s->r.path, "greeting>capability");
	assert_string_equal(imap_ops.pending(s->p), "CAPABILITY reply");
	sess_free(s);
}

static void test_starttls_not_advertised(void **state)
{
	struct sess *s;

	(void)state;
	/* require: unavailable. */
	s = sess_new();
	s->c.starttls = STARTTLS_REQUIRE;
	start(s, 0);
	assert_int_equal(line(s, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_STARTTLS_UNAVAILABLE);
	assert_string_equal(s->r.message, "server does not advertise STARTTLS");
	expect_logout_close(s, "A1");
	sess_free(s);

	/* auto: carry on in the clear. */
	s = sess_new();
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi");
	assert_int_equal(s->r.status, MP_UP);
	assert_string_equal(s->r.message, "IMAP greeting OK, 2 capabilities");
	expect_logout_close(s, "A1");
	sess_free(s);

	/* no: the same, and no STARTTLS either way. */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi");
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	/* Implicit TLS: STARTTLS does not apply, even with require. */
	s = sess_new();
	s->c.starttls = STARTTLS_REQUIRE;
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi");
	assert_int_equal(s->r.status, MP_UP);
	assert_int_equal(s->r.nwarnings, 0); /* posture is about the clear only */
	sess_free(s);
}

static void test_tag_mismatch(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	line(s, "* OK hi");
	assert_int_equal(line(s, "A9 OK CAPABILITY completed"), PROTO_CLOSE);
	assert_string_equal(s->last, "");
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "tag we did not send"));
	assert_non_null(strstr(s->r.message, "A9 OK CAPABILITY completed"));
	assert_non_null(strstr(s->r.message, "capability"));
	sess_free(s);

	/* A tagged reply that is not OK/NO/BAD. */
	s = sess_new();
	start(s, 0);
	line(s, "* OK hi");
	assert_int_equal(line(s, "A1 MAYBE"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	sess_free(s);

	/* A continuation nobody asked for. */
	s = sess_new();
	start(s, 0);
	line(s, "* OK hi");
	assert_int_equal(line(s, "+ go ahead"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "unexpected line"));
	sess_free(s);
}

static void test_capability_no(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	line(s, "* OK hi");
	assert_int_equal(line(s, "A1 NO not now"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	expect_logout_close(s, "A2");
	sess_free(s);
}

static void test_flood(void **state)
{
	struct sess *s = sess_new();
	enum proto_next nx = PROTO_READ;
	int n = 0;

	(void)state;
	start(s, 0);
	line(s, "* OK hi");
	while (nx == PROTO_READ && n < 20000) {
		nx = line(s, "* OK still going");
		n++;
	}
	assert_int_equal(nx, PROTO_CLOSE);
	assert_int_equal(n, 10001);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "flooded"));
	sess_free(s);
}

/* A hostile capability line: kept bounded, published cut with "...". */
static void test_capability_bomb(void **state)
{
	struct sess *s = sess_new();
	size_t n = 60000;
	char *l = malloc(n + 1);

	(void)state;
	assert_non_null(l);
	memcpy(l, "* CAPABILITY ", 13);
	for (size_t i = 13; i < n; i++)
		l[i] = (i % 11 == 0) ? ' ' : 'X';
	l[n] = '\0';
	s->c.starttls = STARTTLS_NO;
	plain_caps(s, l);
	line(s, "A1 OK");
	assert_int_equal(s->r.status, MP_UP);
	/* As many atoms as fit, then a last entry "...". */
	size_t cl = strlen(s->r.capabilities);
	assert_true(cl <= RESULT_CAPS_MAX - 1 && cl > RESULT_CAPS_MAX - 16);
	assert_string_equal(s->r.capabilities + cl - 4, "\n...");
	assert_string_equal(s->r.message, "IMAP greeting OK, 256 capabilities");
	free(l);
	sess_free(s);
}

static void test_posture(void **state)
{
	struct sess *s;

	(void)state;
	/* report: warnings only. */
	s = sess_new();
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN AUTH=LOGIN] hi");
	/* What is advertised, never that a password would be taken. */
	assert_int_equal(s->r.nwarnings, 2);
	assert_string_equal(
	    s->r.warnings[0],
	    "LOGIN is not disabled in the clear (no LOGINDISABLED before STARTTLS)");
	assert_string_equal(
	    s->r.warnings[1],
	    "AUTH=PLAIN and AUTH=LOGIN are advertised in the clear, before STARTTLS");
	assert_int_equal(s->r.status, MP_UP);
	assert_string_equal(s->last, "A1 STARTTLS\r\n");
	line(s, "A1 OK");
	tls_done(s);
	line(s, "* CAPABILITY IMAP4rev1 AUTH=PLAIN");
	line(s, "A2 OK");
	/* Nothing added after TLS. */
	assert_int_equal(s->r.nwarnings, 2);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	/* warn: degraded, plaintext_auth, and the message stays the finding. */
	s = sess_new();
	s->c.posture = POSTURE_WARN;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED AUTH=PLAIN] hi");
	assert_int_equal(s->r.nwarnings, 1);
	assert_int_equal(s->r.status, MP_DEGRADED);
	assert_int_equal(s->r.reason, MP_R_PLAINTEXT_AUTH);
	assert_string_equal(s->r.message, "AUTH=PLAIN is advertised in the clear, before STARTTLS");
	line(s, "A1 OK");
	tls_done(s);
	line(s, "* CAPABILITY IMAP4rev1 AUTH=PLAIN");
	line(s, "A2 OK");
	assert_int_equal(s->r.status, MP_DEGRADED);
	assert_string_equal(s->r.message, "AUTH=PLAIN is advertised in the clear, before STARTTLS");
	expect_logout_close(s, "A3");
	sess_free(s);
}

static void test_login_refused_in_plaintext(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi");
	assert_int_equal(s->r.reason, MP_R_PLAINTEXT_AUTH);
	assert_string_equal(
	    s->r.message, "refusing to send credentials without TLS (use --allow-plaintext-auth)");
	expect_logout_close(s, "A1");
	assert_null(strstr(s->sent, PASS));
	assert_null(strstr(s->sent, "LOGIN \""));
	assert_null(strstr(s->sent, "AUTHENTICATE"));
	sess_free(s);

	/* auto with STARTTLS not advertised: the same refusal. */
	s = sess_new();
	sess_login(s);
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi");
	assert_int_equal(s->r.reason, MP_R_PLAINTEXT_AUTH);
	assert_null(strstr(s->sent, PASS));
	sess_free(s);
}

static void test_login_allowed_in_plaintext(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	s->c.allow_plaintext_auth = 1;
	s->c.password = "p\"a\\ss";
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	/* Quoted string: \ and " escaped. */
	assert_string_equal(s->last, "A1 LOGIN \"bob\" \"p\\\"a\\\\ss\"\r\n");
	sess_free(s);
}

static void test_auth_failed(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi");
	assert_string_equal(s->last, "A1 LOGIN \"" USER "\" \"" PASS "\"\r\n");
	assert_int_equal(line(s, "* OK untagged noise"), PROTO_READ);
	assert_int_equal(line(s, "A1 NO [AUTHENTICATIONFAILED] Authentication failed."),
	                 PROTO_READ);
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.reason, MP_R_AUTH_FAILED);
	assert_string_equal(s->r.message,
	                    "login failed: [AUTHENTICATIONFAILED] Authentication failed.");
	expect_logout_close(s, "A2");
	sess_free(s);

	/* BAD to LOGIN: a protocol error, then a polite goodbye. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	assert_int_equal(line(s, "A1 BAD syntax"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	expect_logout_close(s, "A2");
	sess_free(s);
}

static void test_mailbox_error(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	line(s, "A1 OK logged in");
	assert_string_equal(s->last, "A2 EXAMINE INBOX\r\n");
	assert_int_equal(line(s, "A2 NO [SERVERBUG] Internal error occurred."), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_MAILBOX_ERROR);
	assert_string_equal(s->r.message,
	                    "EXAMINE INBOX failed: [SERVERBUG] Internal error occurred.");
	assert_true(s->r.phase_us[MP_PH_LOGIN] >= 0);
	expect_logout_close(s, "A3");
	sess_free(s);
}

static void test_exists_garbage(void **state)
{
	static const char *const bad[] = {
	    "* 12x EXISTS",
	    "* 9999999999999999999999 EXISTS",
	    "* -1 EXISTS",
	    "* FOO EXISTS",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sess *s = sess_new();
		sess_login(s);
		start(s, 1);
		line(s, "* OK [CAPABILITY IMAP4rev1] hi");
		line(s, "A1 OK logged in");
		assert_int_equal(line(s, bad[i]), PROTO_CLOSE);
		assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
		assert_non_null(strstr(s->r.message, "examine"));
		assert_int_equal(s->r.messages, -1);
		sess_free(s);
	}
	/* An untagged OK with odd text is not a count. */
	struct sess *s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	line(s, "A1 OK logged in");
	assert_int_equal(line(s, "* OK EXISTS"), PROTO_READ);
	assert_int_equal(line(s, "* 999999999999999 exists"), PROTO_READ);
	line(s, "A2 OK done");
	assert_int_equal(s->r.messages, 999999999999999LL);
	sess_free(s);
}

/* LOGINDISABLED after TLS, no SASL-IR: AUTHENTICATE PLAIN with a continuation. */
static void test_authenticate_plain_continuation(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	s->c.password = "pass";
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED] hi");
	assert_string_equal(s->last, "A1 AUTHENTICATE PLAIN\r\n");
	assert_string_equal(imap_ops.pending(s->p), "AUTHENTICATE continuation");
	assert_int_equal(line(s, "* OK noise"), PROTO_READ);
	assert_int_equal(line(s, "+ "), PROTO_READ);
	/* base64("\0bob\0pass") */
	assert_string_equal(s->last, "AGJvYgBwYXNz\r\n");
	assert_string_equal(imap_ops.pending(s->p), "AUTHENTICATE reply");
	assert_int_equal(line(s, "A1 OK [CAPABILITY IMAP4rev1] Logged in"), PROTO_READ);
	assert_string_equal(s->last, "A2 EXAMINE INBOX\r\n");
	sess_free(s);

	/* A bare "+" is a continuation too; a second one is not expected. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED] hi");
	assert_int_equal(line(s, "+"), PROTO_READ);
	assert_int_equal(line(s, "+ more?"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	sess_free(s);

	/* The server refuses the AUTHENTICATE outright. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED] hi");
	assert_int_equal(line(s, "A1 NO no PLAIN for you"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_AUTH_FAILED);
	expect_logout_close(s, "A2");
	assert_null(strstr(s->sent, "AGJvYg"));
	sess_free(s);
}

/* 8-bit password: cannot be quoted, so AUTHENTICATE PLAIN, with SASL-IR in one go. */
static void test_authenticate_plain_ir(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	s->c.password = "p\xc3\xa4ss";
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi");
	/* base64("\0bob\0p\xc3\xa4ss") */
	assert_string_equal(s->last, "A1 AUTHENTICATE PLAIN AGJvYgBww6Rzcw==\r\n");
	assert_string_equal(imap_ops.pending(s->p), "AUTHENTICATE reply");
	assert_int_equal(line(s, "A1 OK"), PROTO_READ);
	assert_string_equal(s->last, "A2 EXAMINE INBOX\r\n");
	sess_free(s);

	/* No AUTH=PLAIN: nothing we can send. */
	s = sess_new();
	sess_login(s);
	s->c.password = "line\r\nA9 DELETE INBOX";
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	assert_int_equal(s->r.reason, MP_R_LOGIN_DISABLED);
	assert_null(strstr(s->sent, "DELETE"));
	expect_logout_close(s, "A1");
	sess_free(s);

	/* LOGINDISABLED and no AUTH=PLAIN. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=GSSAPI] hi");
	assert_int_equal(s->r.reason, MP_R_LOGIN_DISABLED);
	assert_string_equal(s->r.message, "server disables LOGIN (LOGINDISABLED), and the server "
	                                  "offers no AUTH=PLAIN; nothing was sent");
	assert_string_equal(s->sent, "A1 LOGOUT\r\n");
	assert_null(strstr(s->sent, PASS));
	sess_free(s);
}

static void test_credentials_too_long(void **state)
{
	struct sess *s = sess_new();
	char *pw = malloc(3000);

	(void)state;
	assert_non_null(pw);
	memset(pw, 'p', 2999);
	pw[2999] = '\0';
	s->c.login = USER;
	s->c.password = pw;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	assert_int_equal(s->r.status, MP_UNKNOWN);
	assert_int_equal(s->r.reason, MP_R_INTERNAL);
	assert_null(strstr(s->sent, "LOGIN \""));
	assert_null(strstr(s->sent, "ppppppppp"));
	imap_ops.free(s->p);
	free(s);

	/* The same via AUTHENTICATE without SASL-IR: refused before the command goes out. */
	s = sess_new();
	s->c.login = USER;
	s->c.password = pw;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED] hi");
	assert_int_equal(s->r.reason, MP_R_INTERNAL);
	assert_null(strstr(s->sent, "AUTHENTICATE"));
	assert_string_equal(s->last, "A1 LOGOUT\r\n");
	imap_ops.free(s->p);
	free(s);
	free(pw);
}

static void test_bye_midway(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	line(s, "* OK hi");
	assert_int_equal(line(s, "* BYE Server shutting down."), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_non_null(strstr(s->r.message, "Server shutting down."));
	assert_non_null(strstr(s->r.message, "CAPABILITY reply"));
	sess_free(s);
}

static void test_logout_endings(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	assert_string_equal(s->last, "A1 LOGOUT\r\n");
	/* Untagged lines other than BYE: keep reading; the tagged reply closes. */
	assert_int_equal(line(s, "* OK whatever"), PROTO_READ);
	assert_int_equal(line(s, "A1 NO weird but final"), PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	/* BYE followed by anything closes; the verdict stands. */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	assert_int_equal(line(s, "* BYE"), PROTO_READ);
	assert_int_equal(line(s, "garbage"), PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_UP);
	assert_int_equal(s->u.final, 1);
	sess_free(s);
}

static void test_on_tls_out_of_place(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	assert_int_equal(tls_done(s), PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_UNKNOWN);
	assert_int_equal(s->r.reason, MP_R_INTERNAL);
	sess_free(s);

	/* A line where the handshake was due: the driver normally catches it. */
	s = sess_new();
	start(s, 0);
	line(s, GREET_PLAIN);
	assert_int_equal(line(s, "A1 OK go"), PROTO_TLS);
	assert_string_equal(imap_ops.pending(s->p), "TLS handshake");
	assert_int_equal(line(s, "* CAPABILITY IMAP4rev1 AUTH=PLAIN"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	sess_free(s);
}

/* ---- literals (RFC 9051 section 4.3) ---- */

/* What probe.c does after PROTO_LITERAL: exactly the announced octets, in one piece. */
static enum proto_next literal(struct sess *s, const char *data, size_t len)
{
	assert_int_equal(imap_ops.literal_len(s->p), len);
	s->now += 1000;
	return drain(s, imap_ops.on_literal(s->p, data, len, s->now));
}

/* Untagged ID data with two literals, one holding CRLF and a fake tagged reply. */
static void test_literal_id(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.starttls = STARTTLS_NO;
	plain_caps(s, "* CAPABILITY IMAP4rev1 ID");
	assert_int_equal(line(s, "* ID (\"name\" {7}"), PROTO_LITERAL);
	assert_string_equal(s->last, "");
	assert_string_equal(imap_ops.pending(s->p), "CAPABILITY reply (a literal of 7 octets)");
	assert_int_equal(literal(s, "Dovecot", 7), PROTO_READ);
	assert_string_equal(imap_ops.pending(s->p), "CAPABILITY reply");
	assert_int_equal(line(s, " \"version\" {10}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "2.3\r\nA1 OK", 10), PROTO_READ);
	assert_int_equal(line(s, ")"), PROTO_READ);
	assert_string_equal(s->last, "");
	assert_int_equal(s->r.status, MP_UP);
	assert_int_equal(line(s, "A1 OK CAPABILITY completed"), PROTO_READ);
	assert_string_equal(s->r.capabilities, "IMAP4rev1\nID");
	assert_string_equal(s->r.message, "IMAP greeting OK, 2 capabilities");
	expect_logout_close(s, "A2");
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

/* A CAPABILITY response with literals: they are data, the atoms around them count. */
static void test_literal_capability(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "* OK IMAP ready");
	assert_int_equal(line(s, "* CAPABILITY IMAP4rev1 X-NAME {12}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "A1 OK done\r\n", 12), PROTO_READ);
	/* The non-synchronizing form, and literal8. */
	assert_int_equal(line(s, " AUTH=PLAIN {3+}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "x\ny", 3), PROTO_READ);
	assert_int_equal(line(s, " IDLE ~{2}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "\r\n", 2), PROTO_READ);
	assert_int_equal(line(s, " ENABLE"), PROTO_READ);
	/* The response is over: a line ending in "{n}" starts a new one. */
	assert_int_equal(line(s, "* CAPABILITY MOVE {1}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "*", 1), PROTO_READ);
	assert_int_equal(line(s, ""), PROTO_READ);
	assert_int_equal(line(s, "A1 OK"), PROTO_READ);
	assert_string_equal(s->r.capabilities, "IMAP4rev1\nX-NAME\nAUTH=PLAIN\nIDLE\nENABLE\nMOVE");
	assert_int_equal(s->r.status, MP_UP);
	expect_logout_close(s, "A2");
	sess_free(s);
}

/*
 * Only untagged data responses have literals: status responses, tagged
 * replies and continuations carry text, where "{5}" is text.
 */
static void test_literal_only_in_data(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.starttls = STARTTLS_NO;
	sess_login(s);
	s->c.allow_plaintext_auth = 1;
	start(s, 0);
	assert_int_equal(line(s, "* OK ready {5}"), PROTO_READ);
	assert_string_equal(s->last, "A1 CAPABILITY\r\n");
	assert_int_equal(line(s, "* OK [ALERT] down at {5}"), PROTO_READ);
	assert_int_equal(line(s, "* NO {5}"), PROTO_READ);
	assert_int_equal(line(s, "* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED"), PROTO_READ);
	assert_int_equal(line(s, "A1 OK listed {5}"), PROTO_READ);
	assert_string_equal(s->last, "A2 AUTHENTICATE PLAIN\r\n");
	assert_int_equal(line(s, "+ {5}"), PROTO_READ);
	assert_int_equal(line(s, "A2 OK {3}"), PROTO_READ);
	assert_string_equal(s->last, "A3 EXAMINE INBOX\r\n");
	/* Not literals: no digits, a sign, a space, text after the brace. */
	assert_int_equal(line(s, "* ID {}"), PROTO_READ);
	assert_int_equal(line(s, "* ID {+}"), PROTO_READ);
	assert_int_equal(line(s, "* ID {-1}"), PROTO_READ);
	assert_int_equal(line(s, "* ID { 5}"), PROTO_READ);
	assert_int_equal(line(s, "* ID {5}x"), PROTO_READ);
	assert_int_equal(line(s, "* ID 5}"), PROTO_READ);
	assert_int_equal(line(s, "* ID {5+x}"), PROTO_READ);
	/* An unsolicited FETCH with a body literal while EXAMINE runs; zero octets too. */
	assert_int_equal(line(s, "* 1 FETCH (BODY[] {0}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "", 0), PROTO_READ);
	assert_int_equal(line(s, " FLAGS {6}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "A3 OK\n", 6), PROTO_READ);
	assert_int_equal(line(s, ")"), PROTO_READ);
	assert_int_equal(line(s, "* 4 EXISTS"), PROTO_READ);
	assert_int_equal(line(s, "A3 OK done"), PROTO_READ);
	assert_int_equal(s->r.status, MP_UP);
	assert_int_equal(s->r.messages, 4);
	/* Literals in untagged data while logging out are read too. */
	assert_int_equal(line(s, "* ID {4}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "A4 O", 4), PROTO_READ);
	assert_int_equal(line(s, "K"), PROTO_READ);
	assert_int_equal(line(s, "A4 OK bye"), PROTO_CLOSE);
	sess_free(s);
}

/* A greeting is a status response: a data response there is no greeting, literal or not. */
static void test_literal_greeting(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	assert_int_equal(line(s, "* ID {5}"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_GREETING_MISMATCH);
	sess_free(s);
}

/* The cap: IMAP_LITERAL_MAX (LINE_MAX_LEN) octets pass, one more does not. */
static void test_literal_cap(void **state)
{
	struct sess *s = sess_new();
	char l[64];

	(void)state;
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	snprintf(l, sizeof(l), "* ID {%d}", LINE_MAX_LEN);
	assert_int_equal(line(s, l), PROTO_LITERAL);
	assert_int_equal(imap_ops.literal_len(s->p), LINE_MAX_LEN);
	sess_free(s);

	s = sess_new();
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	snprintf(l, sizeof(l), "* ID {%d}", LINE_MAX_LEN + 1);
	assert_int_equal(line(s, l), PROTO_CLOSE);
	assert_string_equal(s->last, ""); /* the stream is lost: no LOGOUT */
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.reason, MP_R_LINE_TOO_LONG);
	assert_non_null(strstr(s->r.message, "{65537}"));
	sess_free(s);
}

/* Hostile counts: named in the message, never allocated, never waited for. */
static void test_literal_hostile_count(void **state)
{
	struct sess *s = sess_new();
	char *l;

	(void)state;
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	assert_int_equal(line(s, "* ID (\"name\" {99999999999}"), PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.reason, MP_R_LINE_TOO_LONG);
	assert_string_equal(s->r.message,
	                    "server announced a literal {99999999999} of more than the 65536 "
	                    "octets we accept while awaiting CAPABILITY reply");
	assert_int_equal(imap_ops.literal_len(s->p), 0);
	assert_int_equal(line(s, "A1 OK"), PROTO_CLOSE);
	sess_free(s);

	/* Digits by the thousand (past any integer type), with the + form: cut when shown. */
	s = sess_new();
	l = malloc(8000);
	assert_non_null(l);
	memcpy(l, "* ID {", 6);
	memset(l + 6, '9', 7000);
	memcpy(l + 7006, "+}", 3);
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	assert_int_equal(line(s, l), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_LINE_TOO_LONG);
	assert_non_null(strstr(s->r.message, "{9999"));
	assert_non_null(strstr(s->r.message, "..."));
	free(l);
	sess_free(s);

	/* In the rest of a response after a literal, the same cap. */
	s = sess_new();
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	assert_int_equal(line(s, "* ID {1}"), PROTO_LITERAL);
	assert_int_equal(literal(s, "x", 1), PROTO_READ);
	assert_int_equal(line(s, " {18446744073709551617}"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_LINE_TOO_LONG);
	assert_non_null(strstr(s->r.message, "{18446744073709551617}"));
	sess_free(s);
}

/* Literal after literal is still a flood: each rest of line counts as a line. */
static void test_literal_flood(void **state)
{
	struct sess *s = sess_new();
	enum proto_next nx;
	int n = 0;

	(void)state;
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	nx = line(s, "* ID {1}");
	while (nx == PROTO_LITERAL && n < 20000) {
		assert_int_equal(literal(s, "x", 1), PROTO_READ);
		nx = line(s, " {1}");
		n++;
	}
	assert_int_equal(nx, PROTO_CLOSE);
	assert_int_equal(n, 9999); /* the CAPABILITY line and "* ID" counted first */
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "flooded"));
	sess_free(s);
}

/* The driver's side of the contract, checked: octets only when due, and as many as due. */
static void test_literal_out_of_place(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	assert_int_equal(imap_ops.literal_len(s->p), 0);
	s->now += 1000;
	assert_int_equal(drain(s, imap_ops.on_literal(s->p, "x", 1, s->now)), PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_UNKNOWN);
	assert_int_equal(s->r.reason, MP_R_INTERNAL);
	sess_free(s);

	s = sess_new();
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	assert_int_equal(line(s, "* ID {3}"), PROTO_LITERAL);
	assert_int_equal(line(s, "A1 OK"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_INTERNAL);
	sess_free(s);

	s = sess_new();
	plain_caps(s, "* CAPABILITY IMAP4rev1");
	assert_int_equal(line(s, "* ID {3}"), PROTO_LITERAL);
	s->now += 1000;
	assert_int_equal(drain(s, imap_ops.on_literal(s->p, "xy", 2, s->now)), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_INTERNAL);
	sess_free(s);
}

/* ---- BYE before login: the server refuses service (RFC 9051 section 7.1.5) ---- */

static void test_bye_before_login(void **state)
{
	struct sess *s;

	(void)state;
	/* Right after a greeting without capabilities: awaiting CAPABILITY. */
	s = sess_new();
	start(s, 0);
	line(s, "* OK Cyrus IMAP ready");
	assert_int_equal(line(s, "* BYE [ALERT] Down for maintenance until 10:00 UTC"),
	                 PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(s->r.message, "server said BYE while we awaited CAPABILITY reply: "
	                                  "[ALERT] Down for maintenance until 10:00 UTC");
	server_closed(s);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	sess_free(s);

	/* During CAPABILITY: after the untagged list, before the tagged OK. */
	s = sess_new();
	sess_login(s);
	start(s, 0);
	line(s, "* OK ready");
	line(s, "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED");
	assert_int_equal(line(s, "* BYE shutting down\x07"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(
	    s->r.message, "server said BYE while we awaited CAPABILITY reply: shutting down\\x07");
	assert_null(strstr(s->sent, "STARTTLS"));
	sess_free(s);

	/* During STARTTLS. */
	s = sess_new();
	sess_login(s);
	start(s, 0);
	line(s, GREET_PLAIN);
	assert_string_equal(s->last, "A1 STARTTLS\r\n");
	assert_int_equal(line(s, "* BYE Server shutting down"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(
	    s->r.message, "server said BYE while we awaited STARTTLS reply: Server shutting down");
	assert_null(strstr(s->sent, "LOGIN"));
	sess_free(s);

	/* After STARTTLS, awaiting the second CAPABILITY; and awaiting LOGIN's answer. */
	s = sess_new();
	sess_login(s);
	start(s, 0);
	line(s, GREET_PLAIN);
	line(s, "A1 OK");
	tls_done(s);
	assert_int_equal(line(s, "* BYE no"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_non_null(strstr(s->r.message, "CAPABILITY reply"));
	sess_free(s);
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi");
	assert_int_equal(line(s, "* BYE Too many logins"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_non_null(strstr(s->r.message, "LOGIN reply"));
	sess_free(s);
}

/*
 * Cyrus in maintenance on imaps, no login: the greeting (with its
 * capabilities) and at once a BYE. Nothing was answered yet, so LOGOUT's
 * answer decides: BYE and a close is a refusal; BYE and the tagged OK a
 * logout.
 */
static void test_greeting_then_bye(void **state)
{
	struct sess *s;

	(void)state;
	s = sess_new();
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mail Cyrus IMAP 3.6.1 server ready");
	assert_string_equal(s->last, "A1 LOGOUT\r\n");
	assert_int_equal(s->u.final, 0);
	assert_string_equal(s->r.message, "IMAP greeting OK, 2 capabilities");
	assert_int_equal(line(s, "* BYE [ALERT] Down for maintenance until 10:00 UTC"), PROTO_READ);
	assert_string_equal(imap_ops.pending(s->p),
	                    "LOGOUT reply (the server had said BYE: "
	                    "[ALERT] Down for maintenance until 10:00 UTC)");
	server_closed(s);
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(s->r.message, "server said BYE and closed the connection before "
	                                  "answering any command: [ALERT] Down for maintenance "
	                                  "until 10:00 UTC");
	sess_free(s);

	/* A driver without on_close: closed, with the BYE's text. */
	s = sess_new();
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	line(s, "* BYE going away");
	run_fail(&s->u, MP_R_CLOSED, "server closed the connection while waiting for %s",
	         imap_ops.pending(s->p));
	assert_int_equal(s->r.status, MP_DOWN);
	assert_non_null(strstr(s->r.message, "going away"));
	sess_free(s);

	/* The same greeting, then a real logout: up. */
	s = sess_new();
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	expect_logout_close(s, "A1");
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	/* Closed without BYE: the driver's "closed" stands; on_close adds nothing. */
	s = sess_new();
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	server_closed(s);
	assert_int_equal(s->r.reason, MP_R_CLOSED);
	sess_free(s);

	/* Once a command was answered, LOGOUT is a formality: final at once. */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "* OK hi");
	line(s, "* CAPABILITY IMAP4rev1 LOGINDISABLED");
	line(s, "A1 OK");
	assert_string_equal(s->last, "A2 LOGOUT\r\n");
	assert_int_equal(s->u.final, 1);
	line(s, "* BYE bye");
	server_closed(s);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

/* ---- posture: no TLS offered at all ---- */

static void test_no_tls(void **state)
{
	static const struct {
		const char *greeting;
		const char *warning;
	} cases[] = {
	    {"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi",
	     "no TLS offered: no STARTTLS in the capabilities; LOGIN is not disabled and "
	     "AUTH=PLAIN "
	     "is advertised in the clear"},
	    {"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN LOGINDISABLED] hi",
	     "no TLS offered: no STARTTLS in the capabilities; AUTH=PLAIN and AUTH=LOGIN are "
	     "advertised in the clear"},
	    {"* OK [CAPABILITY IMAP4rev1] hi",
	     "no TLS offered: no STARTTLS in the capabilities; LOGIN is not disabled in the clear"},
	    {"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi",
	     "no TLS offered: no STARTTLS in the capabilities"},
	};
	struct sess *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int warn = 0; warn < 2; warn++) {
			s = sess_new();
			s->c.posture = warn ? POSTURE_WARN : POSTURE_REPORT;
			start(s, 0);
			line(s, cases[i].greeting);
			assert_int_equal(s->r.nwarnings, 1);
			assert_string_equal(s->r.warnings[0], cases[i].warning);
			assert_int_equal(s->r.status, warn ? MP_DEGRADED : MP_UP);
			assert_int_equal(s->r.severity, warn ? MP_SEV_WARNING : MP_SEV_OK);
			assert_int_equal(s->r.reason, warn ? MP_R_NO_TLS : MP_R_OK);
			expect_logout_close(s, "A1");
			assert_int_equal(s->r.status, warn ? MP_DEGRADED : MP_UP);
			sess_free(s);
		}
	}

	/* --starttls no: the server still offers no TLS; a finding all the same. */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	s->c.posture = POSTURE_WARN;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi");
	assert_int_equal(s->r.reason, MP_R_NO_TLS);
	sess_free(s);

	/* require: the failure says it. PREAUTH and imaps: no findings. */
	s = sess_new();
	s->c.starttls = STARTTLS_REQUIRE;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi");
	assert_int_equal(s->r.reason, MP_R_STARTTLS_UNAVAILABLE);
	assert_int_equal(s->r.nwarnings, 0);
	sess_free(s);
	s = sess_new();
	s->c.posture = POSTURE_WARN;
	start(s, 0);
	line(s, "* PREAUTH [CAPABILITY IMAP4rev1] hi");
	assert_int_equal(s->r.nwarnings, 0);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
	s = sess_new();
	s->c.posture = POSTURE_WARN;
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi");
	assert_int_equal(s->r.nwarnings, 0);
	sess_free(s);
}

/* LOGINDISABLED and no AUTH=PLAIN, in the clear with plaintext allowed: nothing to send. */
static void test_login_disabled(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	s->c.allow_plaintext_auth = 1;
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi");
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.severity, MP_SEV_CRITICAL);
	assert_int_equal(s->r.reason, MP_R_LOGIN_DISABLED);
	assert_string_equal(s->r.message, "server disables LOGIN (LOGINDISABLED), and the server "
	                                  "offers no AUTH=PLAIN before TLS; nothing was sent");
	expect_logout_close(s, "A1");
	assert_null(strstr(s->sent, USER));
	sess_free(s);
}

/* One message, one capability: singular. */
static void test_plurals(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	line(s, "A1 OK");
	line(s, "* 1 EXISTS");
	line(s, "A2 OK");
	assert_string_equal(s->r.message, "logged in, INBOX has 1 message");
	sess_free(s);

	s = sess_new();
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "* OK [CAPABILITY IMAP4rev1] hi");
	assert_string_equal(s->r.message, "IMAP greeting OK, 1 capability");
	sess_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_happy_starttls_login),
	    cmocka_unit_test(test_no_login_message),
	    cmocka_unit_test(test_capability_command),
	    cmocka_unit_test(test_preauth_require),
	    cmocka_unit_test(test_preauth_auto),
	    cmocka_unit_test(test_bye_greeting),
	    cmocka_unit_test(test_greeting_mismatch),
	    cmocka_unit_test(test_greeting_mismatch_shortened),
	    cmocka_unit_test(test_expect_text),
	    cmocka_unit_test(test_expect_caps),
	    cmocka_unit_test(test_expect_caps_after_tls),
	    cmocka_unit_test(test_starttls_refused),
	    cmocka_unit_test(test_path_failure_and_trace),
	    cmocka_unit_test(test_starttls_not_advertised),
	    cmocka_unit_test(test_tag_mismatch),
	    cmocka_unit_test(test_capability_no),
	    cmocka_unit_test(test_flood),
	    cmocka_unit_test(test_capability_bomb),
	    cmocka_unit_test(test_posture),
	    cmocka_unit_test(test_login_refused_in_plaintext),
	    cmocka_unit_test(test_login_allowed_in_plaintext),
	    cmocka_unit_test(test_auth_failed),
	    cmocka_unit_test(test_mailbox_error),
	    cmocka_unit_test(test_exists_garbage),
	    cmocka_unit_test(test_authenticate_plain_continuation),
	    cmocka_unit_test(test_authenticate_plain_ir),
	    cmocka_unit_test(test_credentials_too_long),
	    cmocka_unit_test(test_bye_midway),
	    cmocka_unit_test(test_logout_endings),
	    cmocka_unit_test(test_on_tls_out_of_place),
	    cmocka_unit_test(test_literal_id),
	    cmocka_unit_test(test_literal_capability),
	    cmocka_unit_test(test_literal_only_in_data),
	    cmocka_unit_test(test_literal_greeting),
	    cmocka_unit_test(test_literal_cap),
	    cmocka_unit_test(test_literal_hostile_count),
	    cmocka_unit_test(test_literal_flood),
	    cmocka_unit_test(test_literal_out_of_place),
	    cmocka_unit_test(test_bye_before_login),
	    cmocka_unit_test(test_greeting_then_bye),
	    cmocka_unit_test(test_no_tls),
	    cmocka_unit_test(test_login_disabled),
	    cmocka_unit_test(test_plurals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
