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

#include "probe_pop3.h"

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

static void expect_quit_close(struct sess *s)
{
	assert_string_equal(s->last, "QUIT\r\n");
	assert_int_equal(s->r.final, 1);
	assert_string_equal(pop3_ops.pending(s->p), "QUIT reply");
	assert_int_equal(line(s, "+OK Logging out."), PROTO_CLOSE);
	assert_string_equal(s->last, "");
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
	    "CAPA TOP UIDL RESP-CODES PIPELINING AUTH-RESP-CODE USER SASL PLAIN LOGIN");
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
	assert_string_equal(s->r.message, "POP3 greeting OK, 0 capabilities");
	expect_quit_close(s);
	sess_free(s);

	/* ... which with require means no STLS. */
	s = sess_new();
	s->c.starttls = STARTTLS_REQUIRE;
	start(s, 0);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_int_equal(s->r.reason, MP_R_STARTTLS_UNAVAILABLE);
	assert_string_equal(s->r.message, "server does not advertise STLS");
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
	assert_string_equal(s->r.capabilities, ".X-DOT .. TOP");
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);
}

static void test_expect_caps(void **state)
{
	static const char *const caps[] = {"TOP", "sasl plain login", "STLS", "USER", NULL};
	struct sess *s;

	(void)state;
	/* Whole lines and first words both match, in any case. */
	s = sess_new();
	s->c.starttls = STARTTLS_NO;
	s->c.expect_caps[0] = "SASL PLAIN LOGIN";
	s->c.expect_caps[1] = "sasl";
	s->c.expect_caps[2] = "stls";
	s->c.n_expect_caps = 3;
	start(s, 0);
	line(s, "+OK ready");
	capa(s, caps);
	assert_int_equal(s->r.status, MP_UP);
	sess_free(s);

	/* A later word alone is not a capability; neither is a missing one. */
	static const char *const missing[] = {"PLAIN", "IMPLEMENTATION", "SASL PLAIN", NULL};
	static const char *const named[] = {"PLAIN", "IMPLEMENTATION", "SASL PLAIN", NULL};
	for (int i = 0; missing[i]; i++) {
		s = sess_new();
		s->c.starttls = STARTTLS_NO;
		s->c.expect_caps[0] = missing[i];
		s->c.n_expect_caps = 1;
		start(s, 0);
		line(s, "+OK ready");
		capa(s, caps);
		assert_int_equal(s->r.reason, MP_R_CAPABILITY_MISSING);
		assert_non_null(strstr(s->r.message, named[i]));
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
	assert_int_equal(s->r.nwarnings, 2);
	assert_string_equal(s->r.warnings[0],
	                    "server accepts USER/PASS in the clear (USER before STLS)");
	assert_string_equal(s->r.warnings[1],
	                    "server offers SASL PLAIN and LOGIN in the clear (before STLS)");
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
	assert_string_equal(s->r.message, "server offers SASL LOGIN in the clear (before STLS)");
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
	assert_int_equal(line(s, "-ERR [SYS/PERM] no such user"), PROTO_READ);
	assert_int_equal(s->r.reason, MP_R_AUTH_FAILED);
	assert_string_equal(s->r.message, "USER refused: [SYS/PERM] no such user");
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
	    {"-ERR [IN-USE] Mailbox is locked", -1},
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
	line(s, "-ERR [IN-USE] Mailbox is locked");
	assert_string_equal(s->r.message, "STAT failed: [IN-USE] Mailbox is locked");
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
	struct sess *s = sess_new();

	(void)state;
	s->c.target.implicit_tls = 1;
	start(s, 1);
	line(s, "+OK ready");
	line(s, "-ERR");
	assert_string_equal(s->last, "QUIT\r\n");
	/* Any answer to QUIT ends it, and cannot change the verdict. */
	assert_int_equal(line(s, "garbage"), PROTO_CLOSE);
	assert_int_equal(s->r.status, MP_UP);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
