/* SPDX-License-Identifier: ISC */
/*
 * core_session.h - a scripted driver for a protocol core, shared by
 * test_imap.c and test_pop3.c: it does what probe.c does (hands lines in,
 * takes the queued commands out, clears them) and keeps everything sent.
 *
 * Include after <cmocka.h>, with CORE_OPS (imap_ops or pop3_ops),
 * CORE_PROTO and CORE_PORT defined; USER and PASS are the credentials.
 */
#ifndef MP_TEST_CORE_SESSION_H
#define MP_TEST_CORE_SESSION_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/proto.h"
#include "spec/target.h"

#define USER "bob"
#define PASS "s3cr3t-Pa55"

/* One scripted session: the check, the result, the core and all it sent. */
struct sess {
	struct check c;
	struct proto_params pp; /* of c, taken when the core starts */
	struct result r;
	struct run u; /* builds r */
	void *p;
	int64_t now;
	char last[PROTO_OUT_MAX + 1]; /* queued by the last call */
	char sent[65536];             /* everything queued so far */
	size_t sentlen;
};

static inline struct sess *sess_new(void)
{
	struct sess *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	/* Set by hand: these tests must not depend on target.c's defaults. */
	s->c.target.proto = CORE_PROTO;
	snprintf(s->c.target.host, sizeof(s->c.target.host), "127.0.0.1");
	s->c.target.port = CORE_PORT;
	s->c.starttls = STARTTLS_AUTO;
	s->c.posture = POSTURE_REPORT;
	s->now = 1000000;
	result_init(&s->r, s->now);
	run_init(&s->u, &s->r, s->now);
	return s;
}

static inline void sess_login(struct sess *s)
{
	s->c.login = USER;
	s->c.password = PASS;
}

/* What the driver does after each call: take the queue and clear it. */
static inline enum proto_next drain(struct sess *s, enum proto_next nx)
{
	struct proto_out *o = CORE_OPS.out(s->p);

	assert_true(o->len <= sizeof(o->buf));
	memcpy(s->last, o->buf, o->len);
	s->last[o->len] = '\0';
	assert_true(s->sentlen + o->len < sizeof(s->sent));
	memcpy(s->sent + s->sentlen, o->buf, o->len);
	s->sentlen += o->len;
	s->sent[s->sentlen] = '\0';
	proto_out_clear(o);
	assert_int_equal(o->len, 0);
	/* PROTO_TLS means: start TLS now, with nothing queued. */
	if (nx == PROTO_TLS)
		assert_string_equal(s->last, "");
	return nx;
}

static inline enum proto_next start(struct sess *s, int tls)
{
	check_proto_params(&s->c, &s->pp);
	s->p = CORE_OPS.new(&s->pp, &s->u);
	assert_non_null(s->p);
	return drain(s, CORE_OPS.start(s->p, tls, s->now));
}

static inline enum proto_next line(struct sess *s, const char *l)
{
	s->now += 1000;
	return drain(s, CORE_OPS.on_line(s->p, l, strlen(l), s->now));
}

static inline enum proto_next tls_done(struct sess *s)
{
	s->now += 5000;
	run_phase(&s->u, MP_PH_TLS, s->now);
	return drain(s, CORE_OPS.on_tls(s->p, s->now));
}

/* The password goes out only inside a login command, never into the result. */
static inline void assert_no_secret(struct sess *s)
{
	assert_null(strstr(s->r.message, PASS));
	assert_null(strstr(s->r.greeting, PASS));
	assert_null(strstr(s->r.capabilities, PASS));
	for (int i = 0; i < s->r.nwarnings; i++)
		assert_null(strstr(s->r.warnings[i], PASS));
	assert_null(strstr(CORE_OPS.pending(s->p), PASS));
}

static inline void sess_free(struct sess *s)
{
	if (s->p) {
		assert_no_secret(s);
		CORE_OPS.free(s->p);
	}
	free(s);
}

#endif
