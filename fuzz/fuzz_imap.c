/* SPDX-License-Identifier: ISC */
/*
 * fuzz_imap.c - libFuzzer harness for the IMAP core, and the shared driver
 * that fuzz_pop3.c reuses with the POP3 core (it defines FUZZ_OPS and
 * includes this file).
 *
 * Input: two option bytes, an optional LF (so seeds can be text files),
 * then server lines. The option bits sit in the low five bits of each byte,
 * so '@'..'_' spell every combination in printable text:
 *   byte 0: bits 0-1 starttls mode (0 no, 1 auto, 2 require; 3 is auto),
 *           bit 2 login, bit 3 allow plaintext auth, bit 4 posture warn
 *   byte 1: bit 0 implicit TLS, bit 1 expect greeting text "Dovecot",
 *           bit 2 expect capabilities, bits 3-4 password variant
 * Lines are cut with line_scan, as the driver does; a NUL or an overlong
 * line ends the session there, as it would for the driver. After
 * PROTO_LITERAL the announced octets are taken whole, CR and LF included,
 * as the driver takes them; input that ends first ends the session. When
 * the input ends while the core still reads, the server "closed": on_close
 * is called, as a driver that has it calls it. The check logs in every 60 s
 * (against a POP3 server's LOGIN-DELAY).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/line.h"
#include "core/probe_imap.h"
#include "core/probe_pop3.h"
#include "spec/target.h"
#include "core/proto.h"
#include "core/result.h"

#ifndef FUZZ_OPS
#define FUZZ_OPS imap_ops
#endif

/* Quotable, needs escaping, 8-bit (AUTHENTICATE PLAIN), CRLF (never sendable in POP3). */
static const char *const passwords[4] = {
    "secret-pw-1",
    "se\"cr\\et-pw-2",
    "s\xc3\xa9\x63ret-pw-3",
    "secret-pw-4\r\nA9 DELETE INBOX",
};

/* memmem is a GNU extension; this is the portable, quadratic one (inputs are small). */
static int contains(const void *hay, size_t n, const void *needle, size_t k)
{
	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (memcmp((const char *)hay + i, needle, k) == 0)
			return 1;
	return 0;
}

/* The password may only reach the result if the server itself sent it back. */
static void check_no_secret(const struct result *r, const char *pw, const uint8_t *in, size_t n)
{
	char esc[256];
	size_t el = line_escape(esc, sizeof(esc), pw, strlen(pw));

	if (contains(in, n, pw, strlen(pw)) || contains(in, n, esc, el))
		return;
	CHECK(!strstr(r->message, pw) && !strstr(r->message, esc));
	for (int i = 0; i < r->nwarnings; i++)
		CHECK(!strstr(r->warnings[i], pw) && !strstr(r->warnings[i], esc));
	CHECK(!strstr(r->greeting, esc) && !strstr(r->capabilities, esc));
}

static void check_result(const struct result *r)
{
	CHECK(r->status >= MP_UP && r->status <= MP_UNKNOWN);
	CHECK((unsigned)r->reason < MP_R__COUNT);
	CHECK((r->status == MP_UP) == (r->reason == MP_R_OK));
	CHECK(memchr(r->message, '\0', sizeof(r->message)));
	CHECK(memchr(r->greeting, '\0', sizeof(r->greeting)));
	CHECK(memchr(r->capabilities, '\0', sizeof(r->capabilities)));
	CHECK(memchr(r->path, '\0', sizeof(r->path)));
	/* Our state names only, never a server byte. */
	for (const char *c = r->path; *c; c++)
		CHECK((*c >= 'a' && *c <= 'z') || *c == '_' || *c == '>' || *c == '.');
	CHECK(r->nwarnings >= 0 && r->nwarnings <= RESULT_WARN_MAX);
	CHECK(r->messages >= -1);
	for (int i = 0; i < MP_PH__COUNT; i++)
		CHECK(r->phase_us[i] >= -1);
}

static enum proto_next drain(const struct proto_ops *ops, void *p, enum proto_next nx)
{
	struct proto_out *o = ops->out(p);

	CHECK(o->len < sizeof(o->buf));
	CHECK(nx != PROTO_TLS || o->len == 0);
	/* Only a core with literals asks for one, and never for more than a line's cap. */
	CHECK(nx != PROTO_LITERAL || (ops->on_literal && ops->literal_len(p) <= LINE_MAX_LEN));
	/* Every queued command is whole: it ends in CRLF. */
	CHECK(o->len == 0 ||
	      (o->len >= 2 && o->buf[o->len - 2] == '\r' && o->buf[o->len - 1] == '\n'));
	CHECK(ops->pending(p) != NULL);
	proto_out_clear(o);
	return nx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct proto_ops *ops = &FUZZ_OPS;
	int pop3 = ops == &pop3_ops;
	struct check c;
	struct result r;
	struct run u;
	int64_t now = 1000;

	if (size < 2)
		return 0;
	unsigned o0 = data[0], o1 = data[1];
	const uint8_t *in = data + 2;
	size_t n = size - 2;
	if (n > 0 && in[0] == '\n') {
		in++;
		n--;
	}

	memset(&c, 0, sizeof(c));
	c.target.proto = pop3 ? MP_POP3 : MP_IMAP;
	c.starttls = (o0 & 3) == 2 ? STARTTLS_REQUIRE : (o0 & 3) == 0 ? STARTTLS_NO : STARTTLS_AUTO;
	if (o0 & 4) {
		c.login = "fuzzuser";
		c.password = passwords[(o1 >> 3) & 3];
	}
	c.allow_plaintext_auth = (o0 >> 3) & 1;
	c.posture = (o0 & 16) ? POSTURE_WARN : POSTURE_REPORT;
	c.target.implicit_tls = o1 & 1;
	c.login_interval_s = 60;
	if (o1 & 2)
		c.expect = "Dovecot";
	if (o1 & 4) {
		c.expect_caps[0] = pop3 ? "SASL PLAIN" : "IDLE";
		c.expect_caps[1] = pop3 ? "top" : "auth=plain";
		c.n_expect_caps = 2;
	}
	result_init(&r, now);
	run_init(&u, &r, now);

	struct proto_params pp;

	check_proto_params(&c, &pp);
	void *p = ops->new (&pp, &u);
	if (!p)
		return 0;
	enum proto_next nx = drain(ops, p, ops->start(p, c.target.implicit_tls, now));
	while (nx != PROTO_CLOSE && n > 0) {
		if (nx == PROTO_LITERAL) {
			size_t k = ops->literal_len(p);
			if (k > n)
				break;
			/* Exact size again, so ASan sees any read past the literal. */
			char *b = malloc(k ? k : 1);
			if (!b)
				break;
			memcpy(b, in, k);
			now += 1000;
			nx = drain(ops, p, ops->on_literal(p, b, k, now));
			free(b);
			check_result(&r);
			in += k;
			n -= k;
			continue;
		}
		size_t len, eol;
		if (line_scan((const char *)in, n, &len, &eol) != LINE_FOUND)
			break;
		CHECK(len + eol <= n);
		if (line_find_nul((const char *)in, len) >= 0)
			break;
		/* An exact-size copy, so ASan sees any read past the line. */
		char *l = malloc(len ? len : 1);
		if (!l)
			break;
		memcpy(l, in, len);
		now += 1000;
		nx = drain(ops, p, ops->on_line(p, l, len, now));
		free(l);
		if (nx == PROTO_TLS) {
			now += 1000;
			run_phase(&u, MP_PH_TLS, now);
			nx = drain(ops, p, ops->on_tls(p, now));
		}
		check_result(&r);
		in += len + eol;
		n -= len + eol;
	}
	if (nx != PROTO_CLOSE && ops->on_close) {
		int was_final = u.final;
		enum mp_reason was = r.reason;
		ops->on_close(p, now + 1000);
		/* A verdict reached stands; the close may only explain a working one. */
		CHECK(!was_final || r.reason == was);
		CHECK(ops->pending(p) != NULL);
	}
	check_result(&r);
	if (c.password)
		check_no_secret(&r, c.password, data, size);
	ops->free(p);
	return 0;
}
