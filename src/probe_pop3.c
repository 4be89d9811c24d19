/*
 * probe_pop3.c - the POP3 core (RFC 1939; CAPA per RFC 2449, STLS per RFC 2595).
 *
 * One explicit state machine: pop3_set_state() is the only writer of
 * ->state, pop3_enter() sends the command that opens a state, and
 * pop3_on_line() handles one server line with a switch on the state.
 * No I/O: commands are queued in p->out, which the driver sends and clears.
 *
 * The password only ever goes into p->out; it is never formatted into a
 * message.
 */
#include "probe_pop3.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"

/* Lines accepted in answer to one command before we call it a flood. */
#define POP3_LINES_MAX 10000
/* CAPA lines kept, and the bytes they are kept in; real servers send ~10. */
#define POP3_CAPS_MAX 128
#define POP3_CAPBUF   8192
/* Room for a server line quoted in a message: about 120 characters. */
#define POP3_SHOW 124

enum pop3_state {
	POP3_GREETING,
	POP3_CAPA,
	POP3_STLS,
	POP3_TLS, /* STLS accepted: the driver runs the handshake */
	POP3_USER,
	POP3_PASS,
	POP3_STAT,
	POP3_QUIT,
	POP3_DONE,
	POP3__NSTATES
};

static const char *const pop3_state_names[POP3__NSTATES] = {
    [POP3_GREETING] = "greeting", [POP3_CAPA] = "capa", [POP3_STLS] = "stls",
    [POP3_TLS] = "tls",           [POP3_USER] = "user", [POP3_PASS] = "pass",
    [POP3_STAT] = "stat",         [POP3_QUIT] = "quit", [POP3_DONE] = "done",
};

static const char *const pop3_pending_names[POP3__NSTATES] = {
    [POP3_GREETING] = "greeting", [POP3_CAPA] = "CAPA reply", [POP3_STLS] = "STLS reply",
    [POP3_TLS] = "TLS handshake", [POP3_USER] = "USER reply", [POP3_PASS] = "PASS reply",
    [POP3_STAT] = "STAT reply",   [POP3_QUIT] = "QUIT reply", [POP3_DONE] = "nothing",
};

/* Created by pop3_new(), freed by pop3_free(); c and r belong to the driver. */
struct pop3 {
	const struct check *c;
	struct result *r;
	struct proto_out out;
	enum pop3_state state;
	unsigned nlines; /* lines received since the last command */
	int capa_list;   /* the "+OK" to CAPA came: reading lines up to "." */
	int plain;       /* plain scheme on a plain connection: STLS applies */
	int tls;         /* the session is protected (implicit TLS or STLS done) */
	int stls;        /* STLS was done */
	int64_t now;     /* of the event being handled, for result_mark() */
	int ncaps;
	size_t capused;
	size_t capoff[POP3_CAPS_MAX];
	char caps[POP3_CAPBUF]; /* NUL-terminated CAPA lines, back to back */
};

static void pop3_set_state(struct pop3 *p, enum pop3_state st)
{
	p->state = st;
}

/* "+OK" or "-ERR" as a whole word; *text gets what follows the space. */
static int pop3_status(const char *s, size_t n, const char *st, const char **text, size_t *tl)
{
	size_t k = strlen(st);

	if (!line_has_prefix(s, n, st) || (n > k && s[k] != ' '))
		return 0;
	*text = n > k ? s + k + 1 : s + n;
	*tl = n > k ? n - k - 1 : 0;
	return 1;
}

/* ---- capabilities ---- */

static void pop3_caps_clear(struct pop3 *p)
{
	p->ncaps = 0;
	p->capused = 0;
}

/* Keep one CAPA line; lines past the caps are dropped (the server may be hostile). */
static void pop3_caps_add(struct pop3 *p, const char *s, size_t n)
{
	if (n == 0 || p->ncaps >= POP3_CAPS_MAX || p->capused + n + 1 > sizeof(p->caps))
		return;
	p->capoff[p->ncaps++] = p->capused;
	memcpy(p->caps + p->capused, s, n);
	p->capused += n;
	p->caps[p->capused++] = '\0';
}

static int pop3_word_eq(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && line_has_prefix(s, n, w);
}

/* Is w one of the space separated words of s (case-insensitive)? from: words to skip. */
static int pop3_has_word(const char *s, const char *w, int from)
{
	int idx = 0;

	while (*s) {
		while (*s == ' ')
			s++;
		const char *b = s;
		while (*s && *s != ' ')
			s++;
		if (s > b && idx++ >= from && pop3_word_eq(b, (size_t)(s - b), w))
			return 1;
	}
	return 0;
}

/* The CAPA line whose first word is kw, or NULL. */
static const char *pop3_cap_line(const struct pop3 *p, const char *kw)
{
	for (int i = 0; i < p->ncaps; i++) {
		const char *c = p->caps + p->capoff[i];
		const char *sp = strchr(c, ' ');
		if (pop3_word_eq(c, sp ? (size_t)(sp - c) : strlen(c), kw))
			return c;
	}
	return NULL;
}

/* Expected capabilities match a whole CAPA line ("SASL PLAIN") or its first word ("SASL"). */
static int pop3_has_cap(const struct pop3 *p, const char *want)
{
	if (pop3_cap_line(p, want))
		return 1;
	for (int i = 0; i < p->ncaps; i++) {
		const char *c = p->caps + p->capoff[i];
		if (pop3_word_eq(c, strlen(c), want))
			return 1;
	}
	return 0;
}

/* r->capabilities: the current CAPA lines, escaped and space separated. */
static void pop3_caps_publish(struct pop3 *p)
{
	char joined[POP3_CAPBUF];
	size_t o = 0;

	for (int i = 0; i < p->ncaps; i++) {
		const char *a = p->caps + p->capoff[i];
		size_t al = strlen(a);
		/* joined has the size of caps, which holds each line plus one NUL. */
		if (o)
			joined[o++] = ' ';
		memcpy(joined + o, a, al);
		o += al;
	}
	line_escape(p->r->capabilities, sizeof(p->r->capabilities), joined, o);
}

/* ---- findings ---- */

/* A plaintext-auth finding: a warning always, degraded with --posture=warn. */
static void pop3_finding(struct pop3 *p, const char *what)
{
	result_warn(p->r, "%s", what);
	if (p->c->posture == POSTURE_WARN)
		result_worsen(p->r, MP_DEGRADED, MP_R_PLAINTEXT_AUTH, "%s", what);
}

/*
 * What a client sees in the clear before STLS. A server without CAPA tells
 * us nothing, so it gets no findings.
 */
static void pop3_posture(struct pop3 *p)
{
	if (pop3_cap_line(p, "USER"))
		pop3_finding(p, "server accepts USER/PASS in the clear (USER before STLS)");
	const char *sasl = pop3_cap_line(p, "SASL");
	if (sasl) {
		int plain = pop3_has_word(sasl, "PLAIN", 1);
		int login = pop3_has_word(sasl, "LOGIN", 1);
		if (plain || login) {
			char msg[RESULT_WARN_LEN];
			snprintf(msg, sizeof(msg),
			         "server offers SASL %s%s%s in the clear (before STLS)",
			         plain ? "PLAIN" : "", plain && login ? " and " : "",
			         login ? "LOGIN" : "");
			pop3_finding(p, msg);
		}
	}
}

static enum proto_next pop3_enter(struct pop3 *p, enum pop3_state st);

static enum proto_next pop3_violation(struct pop3 *p, const char *s, size_t n)
{
	char show[POP3_SHOW];

	line_escape(show, sizeof(show), s, n);
	result_fail(p->r, MP_R_PROTOCOL_ERROR, "unexpected line while awaiting %s (state %s): %s",
	            pop3_pending_names[p->state], pop3_state_names[p->state], show);
	return pop3_enter(p, POP3_DONE);
}

/* ---- commands ---- */

/*
 * Enter st: send the command that opens it. Returns what the driver should
 * do next. This and pop3_set_state() are the only ways to change state.
 */
static enum proto_next pop3_enter(struct pop3 *p, enum pop3_state st)
{
	int rc = 0;

	pop3_set_state(p, st);
	p->nlines = 0;
	switch (st) {
	case POP3_GREETING:
		return PROTO_READ;
	case POP3_CAPA:
		p->capa_list = 0;
		rc = proto_out_add(&p->out, "CAPA\r\n");
		break;
	case POP3_STLS:
		rc = proto_out_add(&p->out, "STLS\r\n");
		break;
	case POP3_TLS:
		return PROTO_TLS;
	case POP3_USER:
		rc = proto_out_add(&p->out, "USER %s\r\n", p->c->login);
		break;
	case POP3_PASS:
		rc = proto_out_add(&p->out, "PASS %s\r\n", p->c->password ? p->c->password : "");
		break;
	case POP3_STAT:
		rc = proto_out_add(&p->out, "STAT\r\n");
		break;
	case POP3_QUIT:
		/* The verdict is in; the polite goodbye is not the server's time. */
		p->r->final = 1;
		result_mark(p->r, p->now);
		rc = proto_out_add(&p->out, "QUIT\r\n");
		break;
	case POP3_DONE:
	case POP3__NSTATES:
		pop3_set_state(p, POP3_DONE);
		return PROTO_CLOSE;
	}
	if (rc < 0) {
		result_worsen(p->r, MP_UNKNOWN, MP_R_INTERNAL, "%s command too long",
		              st == POP3_PASS ? "PASS" : "USER");
		return pop3_enter(p, POP3_QUIT);
	}
	return PROTO_READ;
}

/* ---- transitions ---- */

static void pop3_up_message(struct pop3 *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The success message, unless a finding already wrote a worse one. */
static void pop3_up_message(struct pop3 *p, const char *fmt, ...)
{
	va_list ap;

	if (p->r->status != MP_UP || p->r->final)
		return;
	va_start(ap, fmt);
	vsnprintf(p->r->message, sizeof(p->r->message), fmt, ap);
	va_end(ap);
}

/* CR or LF in a credential would end the command and start another one. */
static int pop3_sendable(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

/* Capabilities are final: log in, or finish. */
static enum proto_next pop3_login(struct pop3 *p)
{
	const struct check *c = p->c;

	if (!c->login) {
		pop3_up_message(p, "POP3 greeting OK%s, %d capabilities", p->stls ? ", STLS" : "",
		                p->ncaps);
		return pop3_enter(p, POP3_QUIT);
	}
	if (!p->tls && !c->allow_plaintext_auth) {
		result_fail(
		    p->r, MP_R_PLAINTEXT_AUTH,
		    "refusing to send credentials without TLS (use --allow-plaintext-auth)");
		return pop3_enter(p, POP3_QUIT);
	}
	if (!pop3_sendable(c->login) || !pop3_sendable(c->password ? c->password : "")) {
		result_worsen(p->r, MP_UNKNOWN, MP_R_INTERNAL,
		              "user name or password contains CR or LF, which POP3 cannot carry");
		return pop3_enter(p, POP3_QUIT);
	}
	return pop3_enter(p, POP3_USER);
}

/* A CAPA answer is complete (possibly empty: servers without CAPA). */
static enum proto_next pop3_caps_done(struct pop3 *p)
{
	const struct check *c = p->c;

	pop3_caps_publish(p);
	if (p->plain && !p->tls) {
		pop3_posture(p);
		int offered = pop3_cap_line(p, "STLS") != NULL;
		if (offered && c->starttls != STARTTLS_NO)
			return pop3_enter(p, POP3_STLS);
		if (!offered && c->starttls == STARTTLS_REQUIRE) {
			result_fail(p->r, MP_R_STARTTLS_UNAVAILABLE,
			            "server does not advertise STLS");
			return pop3_enter(p, POP3_QUIT);
		}
	}
	for (int i = 0; i < c->n_expect_caps && i < CHECK_CAPS_MAX; i++) {
		if (c->expect_caps[i] && !pop3_has_cap(p, c->expect_caps[i])) {
			char show[POP3_SHOW];
			line_escape(show, sizeof(show), c->expect_caps[i],
			            strlen(c->expect_caps[i]));
			result_fail(p->r, MP_R_CAPABILITY_MISSING,
			            "server does not advertise capability %s", show);
			return pop3_enter(p, POP3_QUIT);
		}
	}
	return pop3_login(p);
}

/* ---- replies ---- */

static enum proto_next pop3_on_greeting(struct pop3 *p, const char *s, size_t n, int64_t now)
{
	const struct check *c = p->c;
	char show[POP3_SHOW];
	const char *text;
	size_t tl;

	line_escape(p->r->greeting, sizeof(p->r->greeting), s, n);
	result_phase(p->r, MP_PH_GREETING, now);
	if (pop3_status(s, n, "-ERR", &text, &tl)) {
		line_escape(show, sizeof(show), text, tl);
		result_fail(p->r, MP_R_REFUSED_BY_SERVER, "server refused the connection: %s",
		            show);
		return pop3_enter(p, POP3_DONE);
	}
	if (!pop3_status(s, n, "+OK", &text, &tl)) {
		line_escape(show, sizeof(show), s, n);
		result_fail(p->r, MP_R_GREETING_MISMATCH, "not a POP3 greeting: %s", show);
		return pop3_enter(p, POP3_DONE);
	}
	if (c->expect && !line_contains(s, n, c->expect, 0)) {
		char want[POP3_SHOW];
		line_escape(want, sizeof(want), c->expect, strlen(c->expect));
		line_escape(show, sizeof(show), s, n);
		result_fail(p->r, MP_R_GREETING_MISMATCH, "greeting does not contain \"%s\": %s",
		            want, show);
		return pop3_enter(p, POP3_DONE);
	}
	return pop3_enter(p, POP3_CAPA);
}

static enum proto_next pop3_on_capa(struct pop3 *p, const char *s, size_t n, int64_t now)
{
	const char *text;
	size_t tl;

	if (!p->capa_list) {
		if (pop3_status(s, n, "+OK", &text, &tl)) {
			p->capa_list = 1;
			return PROTO_READ;
		}
		/* An RFC 1939 server without CAPA: nothing advertised. */
		if (pop3_status(s, n, "-ERR", &text, &tl)) {
			result_phase(p->r, MP_PH_CAPABILITY, now);
			return pop3_caps_done(p);
		}
		return pop3_violation(p, s, n);
	}
	if (n == 1 && s[0] == '.') {
		result_phase(p->r, MP_PH_CAPABILITY, now);
		return pop3_caps_done(p);
	}
	/* Dot-stuffing (RFC 1939 section 3): "..x" stands for ".x". */
	if (n > 0 && s[0] == '.')
		pop3_caps_add(p, s + 1, n - 1);
	else
		pop3_caps_add(p, s, n);
	return PROTO_READ;
}

/* "+OK nn mm [...]" with two counts of 1 to 15 digits; -1 on anything else. */
static int64_t pop3_stat_count(const char *s, size_t n)
{
	int64_t v[2] = {0, 0};
	size_t i = 0;

	for (int k = 0; k < 2; k++) {
		size_t b = i;
		while (i < n && s[i] >= '0' && s[i] <= '9' && i - b < 16)
			v[k] = v[k] * 10 + (s[i++] - '0');
		if (i == b || i - b > 15)
			return -1;
		if (k == 0) {
			if (i >= n || s[i] != ' ')
				return -1;
			i++;
		} else if (i < n && s[i] != ' ') {
			return -1;
		}
	}
	return v[0];
}

static enum proto_next pop3_on_line(void *vp, const char *s, size_t n, int64_t now)
{
	struct pop3 *p = vp;
	char show[POP3_SHOW];
	const char *text = NULL;
	size_t tl = 0;

	p->now = now;
	if (p->state == POP3_DONE)
		return PROTO_CLOSE;
	if (p->state == POP3_GREETING)
		return pop3_on_greeting(p, s, n, now);
	if (++p->nlines > POP3_LINES_MAX) {
		result_fail(p->r, MP_R_PROTOCOL_ERROR,
		            "server flooded us with more than %d lines while we awaited %s",
		            POP3_LINES_MAX, pop3_pending_names[p->state]);
		return pop3_enter(p, POP3_DONE);
	}
	if (p->state == POP3_CAPA)
		return pop3_on_capa(p, s, n, now);
	if (p->state == POP3_QUIT)
		return pop3_enter(p, POP3_DONE);

	int ok = pop3_status(s, n, "+OK", &text, &tl);
	int err = !ok && pop3_status(s, n, "-ERR", &text, &tl);
	if (!ok && !err)
		return pop3_violation(p, s, n);
	if (err)
		line_escape(show, sizeof(show), text, tl);

	switch (p->state) {
	case POP3_STLS:
		if (ok) {
			result_phase(p->r, MP_PH_STARTTLS, now);
			return pop3_enter(p, POP3_TLS);
		}
		result_fail(p->r, MP_R_STARTTLS_REFUSED, "server refused STLS: %s", show);
		return pop3_enter(p, POP3_QUIT);
	case POP3_USER:
		if (ok)
			return pop3_enter(p, POP3_PASS);
		result_fail(p->r, MP_R_AUTH_FAILED, "USER refused: %s", show);
		return pop3_enter(p, POP3_QUIT);
	case POP3_PASS:
		if (ok) {
			result_phase(p->r, MP_PH_LOGIN, now);
			return pop3_enter(p, POP3_STAT);
		}
		result_fail(p->r, MP_R_AUTH_FAILED, "login failed: %s", show);
		return pop3_enter(p, POP3_QUIT);
	case POP3_STAT:
		if (err) {
			result_fail(p->r, MP_R_MAILBOX_ERROR, "STAT failed: %s", show);
			return pop3_enter(p, POP3_QUIT);
		}
		int64_t count = pop3_stat_count(text, tl);
		if (count < 0) {
			line_escape(show, sizeof(show), s, n);
			result_fail(p->r, MP_R_MAILBOX_ERROR, "malformed STAT reply: %s", show);
			return pop3_enter(p, POP3_QUIT);
		}
		result_phase(p->r, MP_PH_MAILBOX, now);
		p->r->messages = count;
		pop3_up_message(p, "logged in, maildrop has %lld messages", (long long)count);
		return pop3_enter(p, POP3_QUIT);
	case POP3_TLS:
		/* The driver should have caught bytes after the STLS +OK itself. */
		return pop3_violation(p, s, n);
	case POP3_GREETING:
	case POP3_CAPA:
	case POP3_QUIT:
	case POP3_DONE:
	case POP3__NSTATES:
		break;
	}
	return pop3_enter(p, POP3_DONE);
}

/* ---- proto_ops ---- */

static void *pop3_new(const struct check *c, struct result *r)
{
	struct pop3 *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->c = c;
	p->r = r;
	pop3_set_state(p, POP3_GREETING);
	return p;
}

static enum proto_next pop3_start(void *vp, int tls_active, int64_t now)
{
	struct pop3 *p = vp;

	p->now = now;
	p->tls = tls_active != 0;
	p->plain = !tls_active && !p->c->target.implicit_tls;
	return pop3_enter(p, POP3_GREETING);
}

static enum proto_next pop3_on_tls(void *vp, int64_t now)
{
	struct pop3 *p = vp;

	p->now = now;
	if (p->state != POP3_TLS) {
		result_worsen(p->r, MP_UNKNOWN, MP_R_INTERNAL,
		              "TLS handshake reported while awaiting %s",
		              pop3_pending_names[p->state]);
		return pop3_enter(p, POP3_DONE);
	}
	/* Nothing learned in the clear can be trusted (RFC 2595 section 4). */
	p->tls = 1;
	p->stls = 1;
	pop3_caps_clear(p);
	p->r->capabilities[0] = '\0';
	return pop3_enter(p, POP3_CAPA);
}

static const char *pop3_pending(const void *vp)
{
	const struct pop3 *p = vp;

	return pop3_pending_names[p->state];
}

static struct proto_out *pop3_out(void *vp)
{
	struct pop3 *p = vp;

	return &p->out;
}

static void pop3_free(void *vp)
{
	struct pop3 *p = vp;

	if (!p)
		return;
	proto_out_clear(&p->out);
	free(p);
}

const struct proto_ops pop3_ops = {
    .name = "pop3",
    .new = pop3_new,
    .start = pop3_start,
    .on_line = pop3_on_line,
    .on_tls = pop3_on_tls,
    .pending = pop3_pending,
    .out = pop3_out,
    .free = pop3_free,
};
