/* SPDX-License-Identifier: ISC */
/*
 * proto.c - what the protocol cores share: the command queue, the
 * capability storage and the findings both word alike.
 */
#include "core/proto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/line.h"

int proto_out_add(struct proto_out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(o->buf) - o->len;

	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		/* Wipe the partial write: it may hold part of a password. */
		OPENSSL_cleanse(o->buf + o->len, room);
		return -1;
	}
	o->len += (size_t)n;
	return 0;
}

void proto_out_clear(struct proto_out *o)
{
	OPENSSL_cleanse(o->buf, o->len);
	o->len = 0;
}

int proto_out_add_plain(struct proto_out *o, const char *prefix, const char *login,
                        const char *password)
{
	unsigned char raw[PROTO_PLAIN_MAX];
	unsigned char b64[(PROTO_PLAIN_MAX + 2) / 3 * 4 + 1];
	const char *pass = password ? password : "";
	size_t ul = strlen(login), pl = strlen(pass);
	int rc = -1;

	if (ul + pl + 2 <= sizeof(raw)) {
		raw[0] = '\0';
		memcpy(raw + 1, login, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, pass, pl);
		EVP_EncodeBlock(b64, raw, (int)(ul + pl + 2));
		rc = proto_out_add(o, "%s%s\r\n", prefix, (const char *)b64);
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(b64, sizeof(b64));
	return rc;
}

void proto_caps_init(struct proto_caps *k, int max)
{
	k->max = max < PROTO_CAPS_MAX ? max : PROTO_CAPS_MAX;
	proto_caps_clear(k);
}

void proto_caps_clear(struct proto_caps *k)
{
	k->n = 0;
	k->used = 0;
}

void proto_caps_add(struct proto_caps *k, const char *s, size_t n)
{
	if (n == 0 || k->n >= k->max || k->used + n + 1 > sizeof(k->buf))
		return;
	k->off[k->n++] = k->used;
	memcpy(k->buf + k->used, s, n);
	k->used += n;
	k->buf[k->used++] = '\0';
}

void proto_caps_result(const struct proto_caps *k, struct result *r)
{
	result_caps_set(r, k->buf, k->off, k->n);
}

void proto_finding(struct run *u, const struct proto_params *c, enum mp_reason why,
                   const char *what)
{
	result_warn(u->r, "%s", what);
	if (c->posture == POSTURE_WARN)
		run_worsen(u, MP_DEGRADED, why, "%s", what);
}

void proto_finding_clear(struct run *u, const struct proto_params *c, const char *mechs, int n,
                         const char *tls_cmd)
{
	char msg[RESULT_WARN_LEN];

	snprintf(msg, sizeof(msg), "%s %s advertised in the clear, before %s", mechs,
	         n > 1 ? "are" : "is", tls_cmd);
	proto_finding(u, c, MP_R_PLAINTEXT_AUTH, msg);
}

void proto_up_message(struct run *u, const char *fmt, ...)
{
	va_list ap;

	if (u->r->status != MP_UP || u->final)
		return;
	va_start(ap, fmt);
	vsnprintf(u->r->message, sizeof(u->r->message), fmt, ap);
	va_end(ap);
}

void proto_violation(struct run *u, const char *what, const char *pending, const char *state_name,
                     const char *s, size_t n)
{
	char show[PROTO_SHOW];

	line_escape(show, sizeof(show), s, n);
	run_fail(u, MP_R_PROTOCOL_ERROR, "%s while awaiting %s (state %s): %s", what, pending,
	         state_name, show);
}

void proto_flood(struct run *u, int max, const char *pending)
{
	run_fail(u, MP_R_PROTOCOL_ERROR,
	         "server flooded us with more than %d lines while we awaited %s", max, pending);
}

int proto_greeting_expect(struct run *u, const struct proto_params *c, const char *s, size_t n)
{
	char want[PROTO_SHOW], show[PROTO_SHOW];

	if (!c->expect || line_contains(s, n, c->expect, 0))
		return 0;
	line_escape(want, sizeof(want), c->expect, strlen(c->expect));
	line_escape(show, sizeof(show), s, n);
	run_fail(u, MP_R_GREETING_MISMATCH, "greeting does not contain \"%s\": %s", want, show);
	return -1;
}

int proto_caps_has(const struct proto_caps *k, const char *want, proto_cap_match match)
{
	for (int i = 0; i < k->n; i++)
		if (match(k->buf + k->off[i], want))
			return 1;
	return 0;
}

int proto_expect_caps(struct run *u, const struct proto_params *c, const struct proto_caps *k,
                      proto_cap_match match)
{
	for (int i = 0; i < c->n_expect_caps && i < PROTO_EXPECT_CAPS_MAX; i++) {
		if (c->expect_caps[i] && !proto_caps_has(k, c->expect_caps[i], match)) {
			char show[PROTO_SHOW];
			line_escape(show, sizeof(show), c->expect_caps[i],
			            strlen(c->expect_caps[i]));
			run_fail(u, MP_R_CAPABILITY_MISSING,
			         "server does not advertise capability %s", show);
			return -1;
		}
	}
	return 0;
}

void proto_refuse_plaintext(struct run *u)
{
	run_fail(u, MP_R_PLAINTEXT_AUTH,
	         "refusing to send credentials without TLS (use --allow-plaintext-auth)");
}

void proto_tls_unexpected(struct run *u, const char *pending)
{
	run_worsen(u, MP_UNKNOWN, MP_R_INTERNAL, "TLS handshake reported while awaiting %s",
	           pending);
}
