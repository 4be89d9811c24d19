/* SPDX-License-Identifier: ISC */
/*
 * test_pop3.c - the POP3 core driven by scripted server lines: what it
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

#include "core/probe_pop3.h"

#define CORE_OPS   pop3_ops
#define CORE_PROTO MP_POP3
#define CORE_PORT  110
#include "core_session.h"

/* Feed a CAPA answer: "+OK", the lines, ".". Returns what the final "." gave. */
static enum proto_next capa(struct sess *s, const char *const *caps)
{
	assert_string_equal(pop3_ops.pending(s->p), "CAPA reply");
	assert_int_equal(line(s, "+OK Capability list follows"), PROTO_READ);
	for (; *caps; caps++)
		assert_int_equal(line(s, *caps), PROTO_READ);
	return line(s, ".");
}

/*
 * QUIT, its +OK, the close. The verdict is final once QUIT is answered
 * (before, too, unless it waits on a server whose CAPA was a bare -ERR).
 */
static void expect_quit_close(struct sess *s)
{
	assert_string_equal(s->last, "QUIT\r\n");
	assert_true(strncmp(pop3_ops.pending(s->p), "QUIT reply", 10) == 0);
	assert_int_equal(line(s, "+OK Logging out."), PROTO_CLOSE);
	assert_int_equal(s->u.final, 1);
	assert_string_equal(s->last, "");
}

/* What probe.c does when the server closes before the core answered PROTO_CLOSE. */
static void server_closed(struct sess *s)
{
	s->now += 1000;
	pop3_ops.on_close(s->p, s->now);
	run_fail(&s->u, MP_R_CLOSED, "server closed the connection while waiting for %s",
	         pop3_ops.pending(s->p));
}

/* Dovecot 2.3's CAPA before and after STLS. */
static const char *const capa_plain[] = {
    "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS", "SASL", NULL};
static const char *const capa_tls[] = {
    "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN",
    NULL};

static void test_happy_stls_login(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	assert_int_equal(start(s, 0), PROTO_READ);
	assert_string_equal(pop3_ops.pending(s->p), "greeting");
	assert_int_equal(line(s, "+OK Dovecot (Debian) ready."), PROTO_READ);
	assert_string_equal(s->r.greeting, "+OK Dovecot (Debian) ready.");
	assert_int_equal(s->r.phase_us[MP_PH_GREETING], 1000);
	assert_string_equal(s->last, "CAPA\r\n");
	assert_int_equal(capa(s, capa_plain), PROTO_READ);
	assert_int_equal(s->r.phase_us[MP_PH_CAPABILITY], 10000);
	assert_int_equal(s->r.nwarnings, 0);
	assert_string_equal(s->last, "STLS\r\n");
	assert_string_equal(pop3_ops.pending(s->p), "STLS reply");
	assert_int_equal(line(s, "+OK Begin TLS negotiation now."), PROTO_TLS);
	assert_int_equal(s->r.phase_us[MP_PH_STARTTLS], 1000);

	assert_int_equal(tls_done(s), PROTO_READ);
	assert_string_equal(s->last, "CAPA\r\n");
	assert_string_equal(s->r.capabilities, "");
	assert_int_equal(capa(s, capa_tls), PROTO_READ);
	/* Before and after TLS accumulate. */
	assert_int_equal(s->r.phase_us[MP_PH_CAPABILITY], 20000);
	assert_string_equal(
	    s->r.capabilities,
	    "CAPA\nTOP\nUIDL\nRESP-CODES\nPIPELINING\nAUTH-RESP-CODE\nUSER\nSASL PLAIN LOGIN");
	assert_int_equal(s->r.nwarnings, 0); /* findings are about the clear only */

	assert_string_equal(s->last, "USER " USER "\r\n");
	assert_string_equal(pop3_ops.pending(s->p), "USER reply");
	assert_int_equal(line(s, "+OK"), PROTO_READ);
	assert_string_equal(s->last, "PASS " PASS "\r\n");
	assert_string_equal(pop3_ops.pending(s->p), "PASS reply");
	assert_int_equal(line(s, "+OK Logged in."), PROTO_READ);
	assert_int_equal(s->r.phase_us[MP_PH_LOGIN], 2000);
	assert_string_equal(s->last, "STAT\r\n");
	assert_string_equal(pop3_ops.pending(s->p), "STAT reply");
	assert_int_equal(line(s, "+OK 3 4567"), PROTO_READ);
	assert_int_equal(s->r.phase_us[MP_PH_MAILBOX], 1000);
	assert_int_equal(s->r.messages, 3);
	assert_int_equal(s->r.status, MP_UP);
	assert_string_equal(s->r.message, "logged in, maildrop has 3 messages");
	expect_quit_close(s);
	assert_int_equal(s->r.phase_us[MP_PH_MAILBOX], 1000);
	assert_string_equal(s->r.path, "greeting>capa>stls>tls>capa>user>pass>stat>quit");
	const char *pw = strstr(s->sent, PASS);
	assert_non_null(pw);
	assert_null(strstr(pw + 1, PASS));
	sess_free(s);
}

static void test_no_login(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK ready");
	assert_int_equal(capa(s, capa_tls), PROTO_READ);
	assert_string_equal(s->r.message, "POP3 greeting OK, 8 capabilities");
	assert_int_equal(s->r.nwarnings, 0);
	expect_quit_close(s);
	sess_free(s);
}

static void test_err_greeting(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	assert_int_equal(line(s, "-ERR [SYS/TEMP] Too many connections"), PROTO_CLOSE);
	assert_string_equal(s->last, "");
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(s->r.message,
	                    "server refused the connection: [SYS/TEMP] Too many connections");
	assert_int_equal(line(s, "+OK late"), PROTO_CLOSE);
	sess_free(s);
}

static void test_greeting_mismatch(void **state)
{
	static const char *const bad[] = {
	    "* OK IMAP4rev1 ready", "+OKAY", "220 smtp ready", "", "-ERRor", "+ok\x1b[2J",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sess *s = sess_new();
		start(s, 0);
		assert_int_equal(line(s, bad[i]), PROTO_CLOSE);
		assert_string_equal(s->last, "");
		assert_int_equal(s->r.reason, MP_R_GREETING_MISMATCH);
		assert_non_null(strstr(s->r.message, "not a POP3 greeting"));
		sess_free(s);
	}
	/* Control bytes are shown escaped. */
	struct sess *s = sess_new();
	start(s, 0);
	line(s, "+ok\x1b[2J");
	assert_non_null(strstr(s->r.message, "+ok\\x1b[2J"));
	sess_free(s);
}

static void test_expect_text(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.expect = "Dovecot";
	start(s, 0);
	assert_int_equal(line(s, "+OK Qpopper ready"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_GREETING_MISMATCH);
	assert_string_equal(s->r.message,
	                    "greeting does not contain \"Dovecot\": +OK Qpopper ready");
	sess_free(s);

	s = sess_new();
	s->c.expect = "Dovecot";
	start(s, 0);
	assert_int_equal(line(s, "+OK Dovecot ready."), PROTO_READ);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

static void test_no_capa(void **state)
{
	struct sess *s;

	(void)state;
	/* An old server: -ERR to CAPA, carry on with nothing advertised. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	assert_int_equal(line(s, "-ERR unknown command"), PROTO_READ);
	assert_int_equal(s->r.status, MP_UP);
	assert_string_equal(s->r.capabilities, "");
	assert_true(s->r.phase_us[MP_PH_CAPABILITY] >= 0);
	assert_string_equal(s->r.message, "POP3 greeting OK, no CAPA support");
	/* The verdict waits on QUIT's answer: a refusing server would close instead. */
	assert_int_equal(s->u.final, 0);
	assert_string_equal(pop3_ops.pending(s->p),
	                    "QUIT reply (the server had answered CAPA with -ERR: unknown command)");
	expect_quit_close(s);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	/* ... which with require means no STLS. */
	s = sess_new();
	s->c.starttls = STARTTLS_REQUIRE;
	start(s, 0);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_int_equal(s->r.reason, MP_R_STARTTLS_UNAVAILABLE);
	assert_string_equal(s->r.message, "server does not advertise STLS (it has no CAPA)");
	assert_int_equal(s->r.nwarnings, 0); /* the failure says it: no no_tls finding */
	expect_quit_close(s);
	sess_free(s);

	/* Neither +OK nor -ERR. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	assert_int_equal(line(s, "* CAPABILITY"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "CAPA reply"));
	assert_non_null(strstr(s->r.message, "* CAPABILITY"));
	sess_free(s);
}

static void test_dot_stuffed_capa(void **state)
{
	static const char *const caps[] = {"..X-DOT", "...", "TOP", NULL};
	struct sess *s = sess_new();

	(void)state;
	s->c.starttls = STARTTLS_NO;
	s->c.expect_caps[0] = ".x-dot";
	s->c.expect_caps[1] = "..";
	s->c.n_expect_caps = 2;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, caps);
	assert_string_equal(s->r.capabilities, ".X-DOT\n..\nTOP");
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

static void test_expect_caps(void **state)
{
	static const char *const caps[] = {
	    "TOP", "sasl plain login", "STLS", "USER", "IMPLEMENTATION Cyrus POP3 3.6.1", NULL};
	static const char *const found[] = {"SASL PLAIN LOGIN",
	                                    "sasl",
	                                    "stls",
	                                    "SASL PLAIN",
	                                    "SASL LOGIN",
	                                    "SASL  PLAIN   LOGIN",
	                                    "IMPLEMENTATION Cyrus",
	                                    "implementation 3.6.1",
	                                    NULL};
	static const char *const missing[] = {"PLAIN",
	                                      "LOGIN",
	                                      "SASL LOGIN PLAIN",
	                                      "SASL CRAM-MD5",
	                                      "SASL PLAIN LOGIN XOAUTH2",
	                                      "SAS",
	                                      "IMPLEMENTATION Dovecot",
	                                      "TOP X",
	                                      NULL};
	struct sess *s;

	(void)state;
	/*
	 * The first word is a line's keyword; the others are among its
	 * arguments, in order, on that one line. Any case.
	 */
	for (int i = 0; found[i]; i++) {
		s = sess_new();
		s->c.starttls = STARTTLS_NO;
		s->c.expect_caps[0] = found[i];
		s->c.n_expect_caps = 1;
		start(s, 0);
		line(s, "+OK ready");
		capa(s, caps);
		if (s->r.reason != MP_R_OK)
			fail_msg("\"%s\" should match: %s", found[i], s->r.message);
		sess_free(s);
	}
	/* A later word alone is not a capability; nor are words out of order or absent. */
	for (int i = 0; missing[i]; i++) {
		s = sess_new();
		s->c.starttls = STARTTLS_NO;
		s->c.expect_caps[0] = "top";
		s->c.expect_caps[1] = missing[i];
		s->c.n_expect_caps = 2;
		start(s, 0);
		line(s, "+OK ready");
		capa(s, caps);
		if (s->r.reason != MP_R_CAPABILITY_MISSING)
			fail_msg("\"%s\" should not match", missing[i]);
		assert_non_null(strstr(s->r.message, missing[i]));
		expect_quit_close(s);
		sess_free(s);
	}
}

static void test_stls_refused(void **state)
{
	static const char *const caps[] = {"STLS", NULL};
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, caps);
	assert_string_equal(s->last, "STLS\r\n");
	assert_int_equal(line(s, "-ERR TLS support isn't enabled."), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_STARTTLS_REFUSED);
	assert_string_equal(s->r.message, "server refused STLS: TLS support isn't enabled.");
	expect_quit_close(s);
	sess_free(s);

	/* Garbage instead of an answer: protocol error, closed at once. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	capa(s, caps);
	assert_int_equal(line(s, "OK go ahead"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "state stls"));
	sess_free(s);
}

static void test_stls_modes(void **state)
{
	static const char *const caps[] = {"STLS", "TOP", NULL};
	static const char *const nostls[] = {"TOP", NULL};
	struct sess *s;

	(void)state;
	/* no: advertised but not used. */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, caps);
	assert_int_equal(s->r.status, MP_UP);
	assert_null(strstr(s->sent, "STLS\r\n"));
	expect_quit_close(s);
	sess_free(s);

	/* auto, not advertised: plaintext. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	capa(s, nostls);
	assert_int_equal(s->r.status, MP_UP);
	expect_quit_close(s);
	sess_free(s);

	/* require, not advertised. */
	s = sess_new();
	s->c.starttls = STARTTLS_REQUIRE;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, nostls);
	assert_int_equal(s->r.reason, MP_R_STARTTLS_UNAVAILABLE);
	sess_free(s);

	/* pop3s with require: STLS does not apply. */
	s = sess_new();
	s->c.starttls = STARTTLS_REQUIRE;
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK ready");
	capa(s, nostls);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

static void test_posture(void **state)
{
	static const char *const caps[] = {"USER", "SASL LOGIN PLAIN", "STLS", NULL};
	static const char *const sasl_only[] = {"SASL CRAM-MD5 LOGIN", "STLS", NULL};
	static const char *const clean[] = {"SASL GSSAPI PLAINISH", "STLS", NULL};
	struct sess *s;

	(void)state;
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	capa(s, caps);
	/* What is advertised, never that a password would be taken. */
	assert_int_equal(s->r.nwarnings, 2);
	assert_string_equal(s->r.warnings[0], "USER is advertised in the clear, before STLS");
	assert_string_equal(s->r.warnings[1],
	                    "SASL PLAIN and LOGIN are advertised in the clear, before STLS");
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	s = sess_new();
	s->c.posture = POSTURE_WARN;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, sasl_only);
	assert_int_equal(s->r.nwarnings, 1);
	assert_int_equal(s->r.status, MP_DEGRADED);
	assert_int_equal(s->r.reason, MP_R_PLAINTEXT_AUTH);
	assert_string_equal(s->r.message, "SASL LOGIN is advertised in the clear, before STLS");
	/* Still upgrades, and the degraded verdict survives the rest. */
	assert_int_equal(line(s, "+OK"), PROTO_TLS);
	tls_done(s);
	capa(s, caps);
	assert_int_equal(s->r.status, MP_DEGRADED);
	assert_int_equal(s->r.nwarnings, 1);
	expect_quit_close(s);
	sess_free(s);

	/* Whole words only. */
	s = sess_new();
	s->c.posture = POSTURE_WARN;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, clean);
	assert_int_equal(s->r.nwarnings, 0);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

static void test_login_refused_in_plaintext(void **state)
{
	static const char *const caps[] = {"USER", "TOP", NULL};
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	start(s, 0);
	line(s, "+OK ready");
	capa(s, caps);
	assert_int_equal(s->r.reason, MP_R_PLAINTEXT_AUTH);
	assert_string_equal(
	    s->r.message, "refusing to send credentials without TLS (use --allow-plaintext-auth)");
	expect_quit_close(s);
	assert_null(strstr(s->sent, PASS));
	assert_null(strstr(s->sent, "USER"));
	sess_free(s);

	/* Allowed: USER/PASS in the clear. */
	s = sess_new();
	sess_login(s);
	s->c.allow_plaintext_auth = 1;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, caps);
	assert_string_equal(s->last, "USER " USER "\r\n");
	sess_free(s);
}

static void test_auth_failed(void **state)
{
	struct sess *s;

	(void)state;
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_string_equal(s->last, "USER " USER "\r\n");
	line(s, "+OK");
	assert_int_equal(line(s, "-ERR [AUTH] Authentication failed."), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_AUTH_FAILED);
	assert_string_equal(s->r.message, "login failed: [AUTH] Authentication failed.");
	assert_int_equal(s->r.phase_us[MP_PH_LOGIN], -1);
	expect_quit_close(s);
	sess_free(s);

	/* USER refused: the password is never sent. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_int_equal(line(s, "-ERR no such user"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_AUTH_FAILED);
	assert_string_equal(s->r.message, "USER refused: no such user");
	expect_quit_close(s);
	assert_null(strstr(s->sent, PASS));
	sess_free(s);

	/* ... with [SYS/PERM]: the server's own problem, not the credentials. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_int_equal(line(s, "-ERR [SYS/PERM] user database unavailable"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(s->r.message, "server refused service, a lasting problem on its side "
	                                  "(-ERR to USER): [SYS/PERM] user database unavailable");
	expect_quit_close(s);
	assert_null(strstr(s->sent, PASS));
	sess_free(s);

	/* A server echoing the password back: ours to report only as the server said it. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	line(s, "+OK");
	line(s, "-ERR");
	assert_string_equal(s->r.message, "login failed: ");
	sess_free(s);
}

static void test_crlf_in_credentials(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	s->c.login = "bob\r\nDELE 1";
	s->c.password = PASS;
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_int_equal(s->r.status, MP_UNKNOWN);
	assert_int_equal(s->r.reason, MP_R_INTERNAL);
	assert_null(strstr(s->sent, "DELE"));
	assert_null(strstr(s->sent, PASS));
	expect_quit_close(s);
	sess_free(s);
}

static void test_stat(void **state)
{
	static const struct {
		const char *line;
		int64_t messages; /* -1: mailbox_error */
	} cases[] = {
	    {"+OK 0 0", 0},
	    {"+OK 12 34567 extra words", 12},
	    {"+OK 999999999999999 1", 999999999999999LL},
	    {"+OK three 12", -1},
	    {"+OK 3", -1},
	    {"+OK 3 ", -1},
	    {"+OK  3 4", -1},
	    {"+OK 3 4x", -1},
	    {"+OK -3 4", -1},
	    {"+OK 9999999999999999 1", -1},
	    {"+OK", -1},
	    {"-ERR Mailbox is broken", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sess *s = sess_new();
		sess_login(s);
		start(s, 1);
		line(s, "+OK ready");
		line(s, "-ERR");
		line(s, "+OK");
		line(s, "+OK");
		assert_string_equal(s->last, "STAT\r\n");
		assert_int_equal(line(s, cases[i].line), PROTO_READ);
		if (cases[i].messages >= 0) {
			assert_int_equal(s->r.status, MP_UP);
			assert_int_equal(s->r.messages, cases[i].messages);
			assert_true(s->r.phase_us[MP_PH_MAILBOX] >= 0);
		} else {
			assert_int_equal(s->r.reason, MP_R_MAILBOX_ERROR);
			assert_int_equal(s->r.messages, -1);
		}
		expect_quit_close(s);
		sess_free(s);
	}
	struct sess *s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	line(s, "+OK");
	line(s, "+OK");
	line(s, "-ERR Mailbox is broken");
	assert_string_equal(s->r.message, "STAT failed: Mailbox is broken");
	sess_free(s);

	/* One message: singular. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	line(s, "+OK");
	line(s, "+OK");
	line(s, "+OK 1 4711");
	assert_string_equal(s->r.message, "logged in, maildrop has 1 message");
	sess_free(s);
}

static void test_flood(void **state)
{
	struct sess *s = sess_new();
	enum proto_next nx = PROTO_READ;
	int n = 0;

	(void)state;
	start(s, 0);
	line(s, "+OK ready");
	line(s, "+OK here they come");
	while (nx == PROTO_READ && n < 20000) {
		nx = line(s, "X-JUNK");
		n++;
	}
	assert_int_equal(nx, PROTO_CLOSE);
	assert_int_equal(n, 10000); /* with the "+OK", line 10001 is one too many */
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "flooded"));
	sess_free(s);
}

static void test_garbage_midway(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_int_equal(line(s, "hello"), PROTO_CLOSE);
	assert_string_equal(s->last, "");
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "USER reply"));
	assert_null(strstr(s->sent, PASS));
	sess_free(s);
}

static void test_quit_endings(void **state)
{
	static const char *const caps[] = {"TOP", NULL};
	struct sess *s = sess_new();

	(void)state;
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK ready");
	capa(s, caps);
	assert_string_equal(s->last, "QUIT\r\n");
	assert_int_equal(s->u.final, 1);
	assert_string_equal(s->r.message, "POP3 greeting OK, 1 capability");
	/* Any answer to QUIT ends it, and cannot change the verdict. */
	assert_int_equal(line(s, "garbage"), PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	/* After a bare -ERR to CAPA the answer counts: garbage is no answer. */
	s = sess_new();
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_int_equal(s->u.final, 0);
	assert_int_equal(line(s, "garbage"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	assert_non_null(strstr(s->r.message, "QUIT reply"));
	sess_free(s);
}

static void test_on_tls_out_of_place(void **state)
{
	struct sess *s = sess_new();

	(void)state;
	start(s, 0);
	line(s, "+OK ready");
	assert_int_equal(tls_done(s), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_INTERNAL);
	sess_free(s);
}

/* ---- response codes (RFC 2449 section 8, RFC 3206) and refusals ---- */

/* An -ERR with a response code to CAPA says what it says, whether the server closes or not. */
static void test_capa_codes(void **state)
{
	static const struct {
		const char *line;
		enum mp_status status;
		enum mp_reason reason;
		const char *msg;
	} cases[] = {
	    {"-ERR [SYS/TEMP] Down for maintenance until 10:00 UTC", MP_DOWN,
	     MP_R_REFUSED_BY_SERVER,
	     "server refused service, a temporary problem on its side (-ERR to CAPA): [SYS/TEMP] "
	     "Down for maintenance until 10:00 UTC"},
	    {"-ERR [SYS/PERM] Service disabled", MP_DOWN, MP_R_REFUSED_BY_SERVER,
	     "server refused service, a lasting problem on its side (-ERR to CAPA): [SYS/PERM] "
	     "Service disabled"},
	    {"-ERR [sys/temp/disk-full] try later", MP_DOWN, MP_R_REFUSED_BY_SERVER,
	     "server refused service, a temporary problem on its side (-ERR to CAPA): "
	     "[sys/temp/disk-full] try later"},
	    {"-ERR [AUTH] go away", MP_DOWN, MP_R_REFUSED_BY_SERVER,
	     "server refused service with an authentication code (-ERR to CAPA): [AUTH] go away"},
	    {"-ERR [LOGIN-DELAY] Too soon", MP_DEGRADED, MP_R_LOGIN_DELAY,
	     "server refuses logins this soon after the last one: [LOGIN-DELAY] Too soon; check "
	     "less often"},
	    {"-ERR [IN-USE] Locked", MP_DEGRADED, MP_R_MAILBOX_IN_USE,
	     "the maildrop is locked by another session: [IN-USE] Locked"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int login = 0; login < 2; login++) {
			struct sess *s = sess_new();
			if (login)
				sess_login(s); /* on a plain port: not plaintext_auth */
			start(s, 0);
			line(s, "+OK Cyrus POP3 server ready");
			assert_int_equal(line(s, cases[i].line), PROTO_READ);
			assert_int_equal(s->r.status, cases[i].status);
			assert_int_equal(s->r.severity, cases[i].status == MP_DOWN
			                                    ? MP_SEV_CRITICAL
			                                    : MP_SEV_WARNING);
			assert_int_equal(s->r.reason, cases[i].reason);
			assert_string_equal(s->r.message, cases[i].msg);
			assert_int_equal(s->r.nwarnings, 0);
			/* Said outright: no waiting on what follows, nothing else sent. */
			assert_int_equal(s->u.final, 1);
			assert_string_equal(s->sent, "CAPA\r\nQUIT\r\n");
			server_closed(s);
			assert_int_equal(s->r.reason, cases[i].reason);
			sess_free(s);
		}
	}
}

/* Codes that are not ones we know are no codes: "[SYS/TEMPORARY]", "[XYZ]", no "]". */
static void test_capa_unknown_codes(void **state)
{
	static const char *const lines[] = {"-ERR [SYS/TEMPORARY] x", "-ERR [XYZ] no CAPA here",
	                                    "-ERR [SYS/TEMP no bracket", "-ERR SYS/TEMP",
	                                    "-ERR []"};

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct sess *s = sess_new();
		start(s, 0);
		line(s, "+OK ready");
		line(s, lines[i]);
		assert_int_equal(s->r.status, MP_UP);
		assert_int_equal(s->u.final, 0);
		expect_quit_close(s);
		assert_int_equal(s->r.status, MP_UP);
		sess_free(s);
	}
}

/* Cyrus with a shutdown file: "+OK", at once "-ERR [SYS/TEMP] ...", then the close. */
static void test_cyrus_maintenance(void **state)
{
	struct sess *s;

	(void)state;
	/* pop3s with --login: refused before any credential goes out. */
	s = sess_new();
	sess_login(s);
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK mail.example.com Cyrus POP3 v3.6.1 server ready <1896.1@mail>");
	line(s, "-ERR [SYS/TEMP] Down for maintenance until 10:00 UTC");
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_non_null(strstr(s->r.message, "Down for maintenance until 10:00 UTC"));
	assert_null(strstr(s->sent, "USER"));
	server_closed(s);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	sess_free(s);
}

/* A bare -ERR to CAPA, then the close: a refusal, with the server's text. */
static void test_capa_err_then_close(void **state)
{
	struct sess *s;

	(void)state;
	/* No login: QUIT is sent, but the verdict waits for its answer. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	assert_int_equal(line(s, "-ERR Server is shutting down"), PROTO_READ);
	assert_string_equal(s->last, "QUIT\r\n");
	assert_int_equal(s->u.final, 0);
	assert_int_equal(s->r.status, MP_UP);
	server_closed(s);
	assert_int_equal(s->r.status, MP_DOWN);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(s->r.message, "server answered CAPA with -ERR and closed the "
	                                  "connection: Server is shutting down");
	sess_free(s);

	/* A driver without on_close: closed, and the message still has the server's text. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	line(s, "-ERR Server is shutting down");
	run_fail(&s->u, MP_R_CLOSED, "server closed the connection while waiting for %s",
	         pop3_ops.pending(s->p));
	assert_int_equal(s->r.status, MP_DOWN);
	assert_non_null(strstr(s->r.message, "Server is shutting down"));
	sess_free(s);

	/* pop3s with --login: USER goes out; the close before its answer is the refusal. */
	s = sess_new();
	sess_login(s);
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_string_equal(s->last, "USER " USER "\r\n");
	assert_string_equal(pop3_ops.pending(s->p),
	                    "USER reply (the server had answered CAPA with -ERR)");
	server_closed(s);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(s->r.message,
	                    "server answered CAPA with -ERR and closed the connection");
	assert_null(strstr(s->sent, PASS));
	sess_free(s);

	/* Hostile text: escaped and shortened. */
	char hostile[400];
	memcpy(hostile, "-ERR \x1b[2J", 9);
	memset(hostile + 9, 'A', sizeof(hostile) - 10);
	hostile[sizeof(hostile) - 1] = '\0';
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	line(s, hostile);
	server_closed(s);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_non_null(strstr(s->r.message, "\\x1b[2JAAAA"));
	assert_non_null(strstr(s->r.message, "..."));
	assert_true(strlen(s->r.message) < 200);
	for (const char *c = s->r.message; *c; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
	sess_free(s);

	/* Once the server answered something after it, a close is just a close. */
	s = sess_new();
	sess_login(s);
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR no CAPA");
	line(s, "+OK send PASS");
	assert_string_equal(pop3_ops.pending(s->p), "PASS reply");
	server_closed(s);
	assert_int_equal(s->r.reason, MP_R_CLOSED);
	sess_free(s);
}

/* A bare -ERR to CAPA on a server that stays open: no CAPA support, not a refusal. */
static void test_capa_err_stays_open(void **state)
{
	struct sess *s;

	(void)state;
	/* QUIT answered -ERR as well: nothing works, a refusal. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	line(s, "-ERR not now");
	assert_int_equal(line(s, "-ERR not now"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_string_equal(s->r.message, "server answered CAPA and QUIT with -ERR: not now");
	assert_int_equal(s->u.final, 1);
	sess_free(s);

	/* ... or with a code: read for what it says. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_int_equal(line(s, "-ERR [SYS/TEMP] shutting down"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_non_null(strstr(s->r.message, "a temporary problem on its side (-ERR to QUIT)"));
	sess_free(s);

	/* A login on a server without CAPA, all the way through. */
	s = sess_new();
	sess_login(s);
	s->c.allow_plaintext_auth = 1;
	start(s, 0);
	line(s, "+OK popa3d ready");
	line(s, "-ERR Unknown command");
	assert_string_equal(s->last, "USER " USER "\r\n");
	line(s, "+OK");
	line(s, "+OK");
	line(s, "+OK 2 320");
	assert_int_equal(s->r.messages, 2);
	assert_int_equal(s->u.final, 1);
	expect_quit_close(s);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

/* Response codes to the login and mailbox commands. */
static void test_login_codes(void **state)
{
	static const char *const delay_caps[] = {"USER", "LOGIN-DELAY 900", NULL};
	static const struct {
		const char *user_reply; /* NULL: USER is accepted, the code answers PASS */
		const char *reply;
		enum mp_status status;
		enum mp_reason reason;
		const char *msg;
	} cases[] = {
	    {NULL, "-ERR [AUTH] Invalid login", MP_DOWN, MP_R_AUTH_FAILED,
	     "login failed: [AUTH] Invalid login"},
	    {"-ERR [AUTH] Unknown user", NULL, MP_DOWN, MP_R_AUTH_FAILED,
	     "login failed: [AUTH] Unknown user"},
	    {NULL, "-ERR [LOGIN-DELAY] Logins must be at least 1 minute apart", MP_DEGRADED,
	     MP_R_LOGIN_DELAY,
	     "server refuses logins this soon after the last one: [LOGIN-DELAY] Logins must be "
	     "at least 1 minute apart; check less often"},
	    {NULL, "-ERR [IN-USE] Unable to lock maildrop", MP_DEGRADED, MP_R_MAILBOX_IN_USE,
	     "the maildrop is locked by another session: [IN-USE] Unable to lock maildrop"},
	    {NULL, "-ERR [SYS/TEMP] Mail store unavailable", MP_DOWN, MP_R_REFUSED_BY_SERVER,
	     "server refused service, a temporary problem on its side (-ERR to PASS): [SYS/TEMP] "
	     "Mail store unavailable"},
	    {NULL, "-ERR Authentication failed.", MP_DOWN, MP_R_AUTH_FAILED,
	     "login failed: Authentication failed."},
	};
	struct sess *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = sess_new();
		sess_login(s);
		start(s, 1);
		line(s, "+OK ready");
		line(s, "-ERR");
		if (cases[i].user_reply) {
			line(s, cases[i].user_reply);
		} else {
			line(s, "+OK");
			assert_string_equal(s->last, "PASS " PASS "\r\n");
			line(s, cases[i].reply);
		}
		assert_int_equal(s->r.status, cases[i].status);
		assert_int_equal(s->r.severity,
		                 cases[i].status == MP_DOWN ? MP_SEV_CRITICAL : MP_SEV_WARNING);
		assert_int_equal(s->r.reason, cases[i].reason);
		assert_string_equal(s->r.message, cases[i].msg);
		assert_int_equal(s->r.phase_us[MP_PH_LOGIN], -1);
		expect_quit_close(s);
		assert_null(strstr(s->sent, "STAT"));
		sess_free(s);
	}

	/* With LOGIN-DELAY advertised, the message says how long the server wants. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	capa(s, delay_caps);
	line(s, "+OK");
	line(s, "-ERR [LOGIN-DELAY] wait");
	assert_int_equal(s->r.reason, MP_R_LOGIN_DELAY);
	assert_string_equal(s->r.message, "server refuses logins this soon after the last one (it "
	                                  "asks for 900 s between logins): [LOGIN-DELAY] wait; "
	                                  "check less often");
	sess_free(s);

	/* [IN-USE] to STAT, [SYS/TEMP] to STLS. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	line(s, "+OK");
	line(s, "+OK");
	line(s, "-ERR [IN-USE] Mailbox is locked");
	assert_int_equal(s->r.status, MP_DEGRADED);
	assert_int_equal(s->r.reason, MP_R_MAILBOX_IN_USE);
	assert_string_equal(
	    s->r.message, "the maildrop is locked by another session: [IN-USE] Mailbox is locked");
	expect_quit_close(s);
	sess_free(s);

	static const char *const stls[] = {"STLS", NULL};
	s = sess_new();
	start(s, 0);
	line(s, "+OK ready");
	capa(s, stls);
	line(s, "-ERR [SYS/TEMP] TLS keys are being rotated");
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	assert_non_null(strstr(s->r.message, "a temporary problem on its side (-ERR to STLS)"));
	sess_free(s);

	/* A greeting -ERR: refused whatever the code, but LOGIN-DELAY and IN-USE say "for now". */
	s = sess_new();
	start(s, 0);
	assert_int_equal(line(s, "-ERR [LOGIN-DELAY] Too many connections, slow down"),
	                 PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_DEGRADED);
	assert_int_equal(s->r.reason, MP_R_LOGIN_DELAY);
	sess_free(s);
	s = sess_new();
	start(s, 0);
	line(s, "-ERR [AUTH] no");
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	sess_free(s);
}

/* ---- capabilities: one entry per CAPA line ---- */

static void test_capa_lines(void **state)
{
	/* Cyrus 3.6's CAPA, as the issue shows it. */
	static const char *const cyrus[] = {"TOP",
	                                    "UIDL",
	                                    "RESP-CODES",
	                                    "AUTH-RESP-CODE",
	                                    "PIPELINING",
	                                    "EXPIRE NEVER",
	                                    "LOGIN-DELAY 60",
	                                    "USER",
	                                    "SASL PLAIN LOGIN",
	                                    "IMPLEMENTATION Cyrus POP3 3.6.1",
	                                    "STLS",
	                                    NULL};
	struct sess *s;

	(void)state;
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, cyrus);
	assert_string_equal(s->r.capabilities,
	                    "TOP\nUIDL\nRESP-CODES\nAUTH-RESP-CODE\nPIPELINING\nEXPIRE NEVER\n"
	                    "LOGIN-DELAY 60\nUSER\nSASL PLAIN LOGIN\nIMPLEMENTATION Cyrus POP3 "
	                    "3.6.1\nSTLS");
	assert_string_equal(s->r.message, "POP3 greeting OK, 11 capabilities");
	sess_free(s);

	/* Hostile lines: control bytes escaped, a long one cut, the list cut with "...". */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "+OK ready");
	line(s, "+OK");
	line(s, "X-CTL a\tb\x1b[2Jc\r\\d");
	char *big = malloc(5001);
	assert_non_null(big);
	memset(big, 'B', 5000);
	big[5000] = '\0';
	line(s, big);
	free(big);
	for (int i = 0; i < 200; i++)
		line(s, "X-FILLER with some arguments");
	line(s, ".");
	const char *c = s->r.capabilities;
	assert_true(strlen(c) <= RESULT_CAPS_MAX - 1);
	assert_true(strncmp(c, "X-CTL a\\tb\\x1b[2Jc\\r\\\\d\nBBBB", 28) == 0);
	/* The long line: RESULT_CAP_SHOW - 1 characters, "..." at its end. */
	const char *b = strchr(c, '\n') + 1;
	assert_int_equal(strcspn(b, "\n"), RESULT_CAP_SHOW - 1);
	assert_true(strncmp(b + RESULT_CAP_SHOW - 4, "...\n", 4) == 0);
	assert_true(strlen(c) >= 4 && strcmp(c + strlen(c) - 4, "\n...") == 0);
	for (; *c; c++)
		assert_true(*c == '\n' || (*c >= 0x20 && *c < 0x7f));
	/* Lines past the core's 8 KiB are dropped too: the 5000-byte one took most. */
	assert_string_equal(s->r.message, "POP3 greeting OK, 111 capabilities");
	sess_free(s);
}

/* ---- LOGIN-DELAY advertised, and how often this check logs in ---- */

static void test_login_delay_advertised(void **state)
{
	static const struct {
		const char *cap;
		unsigned every;
		int login;
		const char *warning; /* NULL: none */
	} cases[] = {
	    {"LOGIN-DELAY 900", 300, 1,
	     "server asks for at least 900 s between logins (LOGIN-DELAY 900); this check logs "
	     "in every 300 s"},
	    {"LOGIN-DELAY 900 USER", 60, 1,
	     "server asks for at least 900 s between logins (LOGIN-DELAY 900, may differ per "
	     "user); this check logs in every 60 s"},
	    {"login-delay 120", 119, 1,
	     "server asks for at least 120 s between logins (LOGIN-DELAY 120); this check logs "
	     "in every 119 s"},
	    {"LOGIN-DELAY 900", 900, 1, NULL}, /* often enough apart */
	    {"LOGIN-DELAY 900", 0, 1, NULL},   /* a one-shot check: unknown */
	    {"LOGIN-DELAY 900", 60, 0, NULL},  /* no login, no delay */
	    {"LOGIN-DELAY soon", 60, 1, NULL}, /* unreadable */
	    {"LOGIN-DELAY 9999999999", 60, 1, NULL},
	    {"LOGIN-DELAY", 60, 1, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *caps[] = {"USER", cases[i].cap, NULL};
		struct sess *s = sess_new();
		if (cases[i].login)
			sess_login(s);
		s->c.login_interval_s = cases[i].every;
		s->c.target.implicit_tls = 1;
		start(s, 1);
		line(s, "+OK ready");
		capa(s, caps);
		if (cases[i].warning) {
			assert_int_equal(s->r.nwarnings, 1);
			assert_string_equal(s->r.warnings[0], cases[i].warning);
		} else {
			assert_int_equal(s->r.nwarnings, 0);
		}
		/* A warning only: the check still logs in. */
		assert_int_equal(s->r.status, MP_UP);
		if (cases[i].login)
			assert_string_equal(s->last, "USER " USER "\r\n");
		sess_free(s);
	}
}

/* ---- which login: USER/PASS, AUTH PLAIN, or none to use ---- */

static void test_login_disabled(void **state)
{
	static const char *const gssapi[] = {"TOP", "SASL GSSAPI", NULL};
	static const char *const none[] = {"TOP", NULL};
	struct sess *s;

	(void)state;
	for (int i = 0; i < 2; i++) {
		s = sess_new();
		sess_login(s);
		s->c.target.implicit_tls = 1;
		start(s, 1);
		line(s, "+OK ready");
		capa(s, i ? none : gssapi);
		assert_int_equal(s->r.status, MP_DOWN);
		assert_int_equal(s->r.severity, MP_SEV_CRITICAL);
		assert_int_equal(s->r.reason, MP_R_LOGIN_DISABLED);
		assert_string_equal(
		    s->r.message, "server offers no login this probe can use: no USER and no SASL "
		                  "PLAIN in CAPA; nothing was sent");
		expect_quit_close(s);
		assert_string_equal(s->sent, "CAPA\r\nQUIT\r\n");
		sess_free(s);
	}

	/* In the clear (allowed), the message says so. */
	s = sess_new();
	sess_login(s);
	s->c.allow_plaintext_auth = 1;
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, gssapi);
	assert_int_equal(s->r.reason, MP_R_LOGIN_DISABLED);
	assert_non_null(strstr(s->r.message, "in CAPA before TLS"));
	sess_free(s);
}

static void test_auth_plain(void **state)
{
	static const char *const sasl[] = {"TOP", "SASL PLAIN", NULL};
	static const char *const both[] = {"USER", "SASL PLAIN", NULL};
	struct sess *s;

	(void)state;
	/* No USER, SASL PLAIN: AUTH PLAIN with the initial response (RFC 5034). */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	capa(s, sasl);
	/* base64("\0bob\0s3cr3t-Pa55") */
	assert_string_equal(s->last, "AUTH PLAIN AGJvYgBzM2NyM3QtUGE1NQ==\r\n");
	assert_string_equal(pop3_ops.pending(s->p), "AUTH reply");
	line(s, "+OK Logged in.");
	assert_true(s->r.phase_us[MP_PH_LOGIN] >= 0);
	assert_string_equal(s->last, "STAT\r\n");
	line(s, "+OK 0 0");
	assert_string_equal(s->r.message, "logged in, maildrop has 0 messages");
	sess_free(s);

	/* Refused, with a code. */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	capa(s, sasl);
	line(s, "-ERR [AUTH] Authentication failed");
	assert_int_equal(s->r.reason, MP_R_AUTH_FAILED);
	assert_string_equal(s->r.message, "login failed: [AUTH] Authentication failed");
	sess_free(s);

	/* Too long for a 255-octet command line: "AUTH PLAIN", "+", then the response. */
	char pw[200];
	memset(pw, 'p', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	s = sess_new();
	s->c.login = USER;
	s->c.password = pw;
	start(s, 1);
	line(s, "+OK ready");
	capa(s, sasl);
	assert_string_equal(s->last, "AUTH PLAIN\r\n");
	assert_string_equal(pop3_ops.pending(s->p), "AUTH continuation");
	assert_int_equal(line(s, "+ "), PROTO_READ);
	assert_true(strlen(s->last) > 255);
	assert_null(strstr(s->last, "AUTH"));
	assert_true(strncmp(s->last, "AGJvYgBwcHBw", 12) == 0);
	assert_string_equal(pop3_ops.pending(s->p), "AUTH reply");
	line(s, "+OK");
	assert_string_equal(s->last, "STAT\r\n");
	pop3_ops.free(s->p);
	free(s);

	/* Anything but "+" or -ERR where the continuation is due: a protocol error. */
	s = sess_new();
	s->c.login = USER;
	s->c.password = pw;
	start(s, 1);
	line(s, "+OK ready");
	capa(s, sasl);
	assert_int_equal(line(s, "+OK go on"), PROTO_CLOSE);
	assert_int_equal(s->r.reason, MP_R_PROTOCOL_ERROR);
	pop3_ops.free(s->p);
	free(s);

	/* Both offered: USER/PASS, unless the credentials hold CR or LF (base64 carries them). */
	s = sess_new();
	sess_login(s);
	start(s, 1);
	line(s, "+OK ready");
	capa(s, both);
	assert_string_equal(s->last, "USER " USER "\r\n");
	sess_free(s);

	s = sess_new();
	s->c.login = USER;
	s->c.password = "pw\r\nDELE 1";
	start(s, 1);
	line(s, "+OK ready");
	capa(s, both);
	assert_true(strncmp(s->last, "AUTH PLAIN ", 11) == 0);
	assert_null(strstr(s->sent, "DELE"));
	pop3_ops.free(s->p);
	free(s);
}

/* ---- posture: no TLS offered at all ---- */

static void test_no_tls(void **state)
{
	static const char *const user_only[] = {"TOP", "USER", NULL};
	static const char *const user_sasl[] = {"USER", "SASL PLAIN", NULL};
	static const char *const bare[] = {"TOP", "UIDL", NULL};
	static const char *const with_stls[] = {"USER", "STLS", NULL};
	struct sess *s;

	(void)state;
	/* popa3d: no CAPA, no TLS. report: a warning, up. */
	s = sess_new();
	start(s, 0);
	line(s, "+OK");
	line(s, "-ERR Invalid or unsupported command");
	assert_int_equal(s->r.nwarnings, 1);
	assert_string_equal(s->r.warnings[0], "no TLS offered: the server has no CAPA, so no "
	                                      "STLS; any login would go in the clear");
	assert_int_equal(s->r.status, MP_UP);
	expect_quit_close(s);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	/* warn: degraded, no_tls; QUIT's +OK keeps it so. */
	s = sess_new();
	s->c.posture = POSTURE_WARN;
	start(s, 0);
	line(s, "+OK");
	line(s, "-ERR Invalid or unsupported command");
	assert_int_equal(s->r.status, MP_DEGRADED);
	assert_int_equal(s->r.severity, MP_SEV_WARNING);
	assert_int_equal(s->r.reason, MP_R_NO_TLS);
	assert_int_equal(s->u.final, 0);
	expect_quit_close(s);
	assert_int_equal(s->r.reason, MP_R_NO_TLS);
	sess_free(s);

	/* ... but a close instead of QUIT's answer is the refusal. */
	s = sess_new();
	s->c.posture = POSTURE_WARN;
	start(s, 0);
	line(s, "+OK");
	line(s, "-ERR bye");
	server_closed(s);
	assert_int_equal(s->r.reason, MP_R_REFUSED_BY_SERVER);
	sess_free(s);

	/* With CAPA: one finding that names what is advertised in the clear. */
	static const struct {
		const char *const *caps;
		const char *warning;
	} cases[] = {
	    {user_only, "no TLS offered: no STLS in CAPA; USER is advertised in the clear"},
	    {user_sasl,
	     "no TLS offered: no STLS in CAPA; USER and SASL PLAIN are advertised in the clear"},
	    {bare, "no TLS offered: no STLS in CAPA"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int warn = 0; warn < 2; warn++) {
			s = sess_new();
			s->c.posture = warn ? POSTURE_WARN : POSTURE_REPORT;
			start(s, 0);
			line(s, "+OK ready");
			capa(s, cases[i].caps);
			assert_int_equal(s->r.nwarnings, 1);
			assert_string_equal(s->r.warnings[0], cases[i].warning);
			assert_int_equal(s->r.status, warn ? MP_DEGRADED : MP_UP);
			if (warn) {
				assert_int_equal(s->r.reason, MP_R_NO_TLS);
				assert_string_equal(s->r.message, cases[i].warning);
			}
			expect_quit_close(s);
			sess_free(s);
		}
	}

	/* --starttls no: still a fact about the server, still a finding. */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, user_only);
	assert_int_equal(s->r.nwarnings, 1);
	assert_non_null(strstr(s->r.warnings[0], "no TLS offered"));
	sess_free(s);

	/* STLS offered (and not used with --starttls no): the plaintext findings, no no_tls. */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	s->c.posture = POSTURE_WARN;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, with_stls);
	assert_int_equal(s->r.nwarnings, 1);
	assert_int_equal(s->r.reason, MP_R_PLAINTEXT_AUTH);
	sess_free(s);

	/* require: the failure says it; pop3s: nothing in the clear to judge. */
	s = sess_new();
	s->c.starttls = STARTTLS_REQUIRE;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, user_only);
	assert_int_equal(s->r.reason, MP_R_STARTTLS_UNAVAILABLE);
	assert_int_equal(s->r.nwarnings, 0);
	sess_free(s);
	s = sess_new();
	s->c.posture = POSTURE_WARN;
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK ready");
	capa(s, user_only);
	assert_int_equal(s->r.nwarnings, 0);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_happy_stls_login),
	    cmocka_unit_test(test_no_login),
	    cmocka_unit_test(test_err_greeting),
	    cmocka_unit_test(test_greeting_mismatch),
	    cmocka_unit_test(test_expect_text),
	    cmocka_unit_test(test_no_capa),
	    cmocka_unit_test(test_dot_stuffed_capa),
	    cmocka_unit_test(test_expect_caps),
	    cmocka_unit_test(test_stls_refused),
	    cmocka_unit_test(test_stls_modes),
	    cmocka_unit_test(test_posture),
	    cmocka_unit_test(test_login_refused_in_plaintext),
	    cmocka_unit_test(test_auth_failed),
	    cmocka_unit_test(test_crlf_in_credentials),
	    cmocka_unit_test(test_stat),
	    cmocka_unit_test(test_flood),
	    cmocka_unit_test(test_garbage_midway),
	    cmocka_unit_test(test_quit_endings),
	    cmocka_unit_test(test_on_tls_out_of_place),
	    cmocka_unit_test(test_capa_codes),
	    cmocka_unit_test(test_capa_unknown_codes),
	    cmocka_unit_test(test_cyrus_maintenance),
	    cmocka_unit_test(test_capa_err_then_close),
	    cmocka_unit_test(test_capa_err_stays_open),
	    cmocka_unit_test(test_login_codes),
	    cmocka_unit_test(test_capa_lines),
	    cmocka_unit_test(test_login_delay_advertised),
	    cmocka_unit_test(test_login_disabled),
	    cmocka_unit_test(test_auth_plain),
	    cmocka_unit_test(test_no_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
