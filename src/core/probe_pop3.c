/* SPDX-License-Identifier: ISC */
/*
 * probe_pop3.c - the POP3 core (RFC 1939; CAPA and response codes per
 * RFC 2449 and RFC 3206; STLS per RFC 2595; AUTH PLAIN per RFC 5034).
 *
 * One explicit state machine: pop3_set_state() is the only writer of
 * ->state, pop3_enter() sends the command that opens a state, and
 * pop3_on_line() handles one server line with a switch on the state.
 * No I/O: commands are queued in p->out, which the driver sends and clears.
 *
 * The password only ever goes into p->out (and into stack buffers that are
 * wiped before returning); it is never formatted into a message.
 */
#include "core/probe_pop3.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/line.h"

/* Lines accepted in answer to one command before we call it a flood. */
#define POP3_LINES_MAX 10000
/* CAPA lines kept; real servers send ~10. */
#define POP3_CAPS_MAX 128
/* pending() with the server's last -ERR quoted. */
#define POP3_PEND (PROTO_SHOW + 64)
/* Longest SASL PLAIN message ("\0user\0pass") whose base64 fits PROTO_OUT_MAX. */
/* RFC 5034 section 4: an AUTH command with its initial response fits 255 octets. */
#define POP3_AUTH_LINE_MAX 255

enum pop3_state {
	POP3_GREETING,
	POP3_CAPA,
	POP3_STLS,
	POP3_TLS, /* STLS accepted: the driver runs the handshake */
	POP3_USER,
	POP3_PASS,
	POP3_SASL,       /* "AUTH PLAIN" sent without a response: awaiting the "+" */
	POP3_SASL_REPLY, /* the PLAIN response sent: awaiting +OK or -ERR */
	POP3_STAT,
	POP3_QUIT,
	POP3_DONE,
	POP3__NSTATES
};

static const char *const pop3_state_names[POP3__NSTATES] = {
    [POP3_GREETING] = "greeting", [POP3_CAPA] = "capa",
    [POP3_STLS] = "stls",         [POP3_TLS] = "tls",
    [POP3_USER] = "user",         [POP3_PASS] = "pass",
    [POP3_SASL] = "sasl",         [POP3_SASL_REPLY] = "sasl_reply",
    [POP3_STAT] = "stat",         [POP3_QUIT] = "quit",
    [POP3_DONE] = "done",
};

static const char *const pop3_pending_names[POP3__NSTATES] = {
    [POP3_GREETING] = "greeting",      [POP3_CAPA] = "CAPA reply",       [POP3_STLS] = "STLS reply",
    [POP3_TLS] = "TLS handshake",      [POP3_USER] = "USER reply",       [POP3_PASS] = "PASS reply",
    [POP3_SASL] = "AUTH continuation", [POP3_SASL_REPLY] = "AUTH reply", [POP3_STAT] = "STAT reply",
    [POP3_QUIT] = "QUIT reply",        [POP3_DONE] = "nothing",
};

/* How we log in; chosen from the capabilities and the credentials. */
enum pop3_auth {
	POP3_AUTH_USER,     /* USER and PASS */
	POP3_AUTH_PLAIN_IR, /* AUTH PLAIN with the initial response on the command line */
	POP3_AUTH_PLAIN,    /* AUTH PLAIN, the response after the "+" continuation */
};

/*
 * RFC 2449 section 8 response codes at the start of an -ERR's text, those
 * of RFC 2449 and RFC 3206 that change the verdict. Hierarchical: a code
 * we do not know below one we do ("SYS/TEMP/DISK") counts as that one.
 */
enum pop3_code {
	POP3_CODE_NONE,
	POP3_CODE_SYS_TEMP,    /* a temporary problem on the server's side */
	POP3_CODE_SYS_PERM,    /* a lasting problem on the server's side */
	POP3_CODE_AUTH,        /* the credentials (RFC 3206 section 5) */
	POP3_CODE_LOGIN_DELAY, /* logged in too recently (RFC 2449 section 8.1.2) */
	POP3_CODE_IN_USE,      /* the maildrop is locked (RFC 2449 section 8.1.1) */
};

/* Created by pop3_new(), freed by pop3_free(); c, u and r belong to the driver. */
struct pop3 {
	const struct proto_params *c;
	struct run *u;
	struct result *r; /* u->r */
	struct proto_out out;
	enum pop3_state state;
	int entered; /* a state was entered: ->state holds it */
	enum pop3_auth auth;
	unsigned nlines; /* lines received since the last command */
	int capa_list;   /* the "+OK" to CAPA came: reading lines up to "." */
	int have_capa;   /* the current capabilities came from a CAPA list, not an -ERR */
	int plain;       /* plain scheme on a plain connection: STLS applies */
	int tls;         /* the session is protected (implicit TLS or STLS done) */
	int stls;        /* STLS was done */
	/*
	 * CAPA was answered with a bare -ERR and the server has said nothing
	 * since. A server without CAPA stays open and answers what comes next;
	 * one that refuses service closes. Until it answers, the verdict is
	 * not final and a close is a refusal (pop3_on_close).
	 */
	int unconfirmed;
	char err_show[PROTO_SHOW]; /* that -ERR's text, escaped */
	char pend[POP3_PEND];      /* pending() while unconfirmed */
	int64_t now;               /* of the event being handled, for run_mark() */
	struct proto_caps caps;    /* CAPA lines */
};

/*
 * The one writer of ->state: each change is traced and named in the
 * result's path ("done" takes no step on the wire and is left out).
 */
static void pop3_set_state(struct pop3 *p, enum pop3_state st)
{
	if (p->entered && st == p->state)
		return;
	run_step(p->u, "pop3", pop3_state_names[st], st != POP3_DONE);
	p->state = st;
	p->entered = 1;
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

/* The response code that opens an -ERR's text: "[SYS/TEMP] ...". */
static enum pop3_code pop3_code_of(const char *t, size_t tl)
{
	static const struct {
		const char *name;
		enum pop3_code code;
	} codes[] = {
	    {"SYS/TEMP", POP3_CODE_SYS_TEMP}, {"SYS/PERM", POP3_CODE_SYS_PERM},
	    {"AUTH", POP3_CODE_AUTH},         {"LOGIN-DELAY", POP3_CODE_LOGIN_DELAY},
	    {"IN-USE", POP3_CODE_IN_USE},
	};
	const char *e;

	if (tl < 2 || t[0] != '[' || !(e = memchr(t, ']', tl)))
		return POP3_CODE_NONE;
	size_t cl = (size_t)(e - t) - 1;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		size_t k = strlen(codes[i].name);
		if (cl >= k && line_has_prefix(t + 1, cl, codes[i].name) &&
		    (cl == k || t[1 + k] == '/'))
			return codes[i].code;
	}
	return POP3_CODE_NONE;
}

/* ---- capabilities ---- */

static void pop3_caps_clear(struct pop3 *p)
{
	proto_caps_clear(&p->caps);
	p->have_capa = 0;
}

/* Two words equal, ASCII case-insensitively (locale-free, as protocol keywords are). */
static int pop3_word_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++) {
		int x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
		int y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i];
		if (x != y)
			return 0;
	}
	return 1;
}

/* The next space separated word of *s: its start in *b, its length returned (0: none). */
static size_t pop3_next_word(const char **s, const char **b)
{
	while (**s == ' ')
		(*s)++;
	*b = *s;
	while (**s && **s != ' ')
		(*s)++;
	return (size_t)(*s - *b);
}

/* Is w one of the words of s after its first (the keyword), case-insensitively? */
static int pop3_has_arg(const char *s, const char *w)
{
	const char *b;
	size_t n = pop3_next_word(&s, &b);

	while (n && (n = pop3_next_word(&s, &b)) > 0)
		if (pop3_word_eq(b, n, w, strlen(w)))
			return 1;
	return 0;
}

/* The CAPA line whose keyword is kw, or NULL. */
static const char *pop3_cap_line(const struct pop3 *p, const char *kw)
{
	for (int i = 0; i < p->caps.n; i++) {
		const char *c = p->caps.buf + p->caps.off[i], *b;
		size_t n = pop3_next_word(&c, &b);
		if (n && pop3_word_eq(b, n, kw, strlen(kw)))
			return p->caps.buf + p->caps.off[i];
	}
	return NULL;
}

/*
 * Does one CAPA line carry want? The first word of want is the line's
 * keyword; the others must be among its arguments, in the order given,
 * not necessarily adjacent: "SASL PLAIN" matches "SASL PLAIN LOGIN",
 * "SASL LOGIN" does too, "PLAIN" alone matches nothing. Case-insensitive.
 */
static int pop3_cap_matches(const char *line, const char *want)
{
	const char *lb, *wb;
	size_t ln = pop3_next_word(&line, &lb), wn = pop3_next_word(&want, &wb);

	if (!wn || !pop3_word_eq(lb, ln, wb, wn))
		return 0;
	while ((wn = pop3_next_word(&want, &wb)) > 0) {
		do
			ln = pop3_next_word(&line, &lb);
		while (ln && !pop3_word_eq(lb, ln, wb, wn));
		if (!ln)
			return 0;
	}
	return 1;
}

/* "LOGIN-DELAY n [USER]" (RFC 2449 section 6.5): n seconds, 0 when absent or unreadable. */
static unsigned pop3_login_delay(const struct pop3 *p, int *per_user)
{
	const char *l = pop3_cap_line(p, "LOGIN-DELAY"), *b;
	unsigned v = 0;
	size_t n;

	*per_user = 0;
	if (!l || !pop3_next_word(&l, &b) || (n = pop3_next_word(&l, &b)) == 0 || n > 9)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (b[i] < '0' || b[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(b[i] - '0');
	}
	n = pop3_next_word(&l, &b);
	*per_user = n && pop3_word_eq(b, n, "USER", 4);
	return v;
}

/* ---- findings ---- */

/*
 * What a client sees in the clear before STLS: what is advertised, never
 * a claim that a password would be taken (nothing is tried). With STLS on
 * offer, each login advertised in the clear is a finding (plaintext_auth);
 * without it, the one finding is that no TLS is offered at all (no_tls),
 * naming the logins advertised. Under --starttls require the failure says
 * it already.
 */
static void pop3_posture(struct pop3 *p)
{
	const char *sasl = pop3_cap_line(p, "SASL");
	int user = pop3_cap_line(p, "USER") != NULL;
	int plain = sasl && pop3_has_arg(sasl, "PLAIN");
	int login = sasl && pop3_has_arg(sasl, "LOGIN");
	int nsasl = plain + login;
	char mech[32], adv[96], msg[RESULT_WARN_LEN];

	snprintf(mech, sizeof(mech), "SASL %s%s%s", plain ? "PLAIN" : "", nsasl == 2 ? " and " : "",
	         login ? "LOGIN" : "");
	if (pop3_cap_line(p, "STLS")) {
		if (user)
			proto_finding(p->u, p->c, MP_R_PLAINTEXT_AUTH,
			              "USER is advertised in the clear, before STLS");
		if (nsasl)
			proto_finding_clear(p->u, p->c, mech, nsasl, "STLS");
		return;
	}
	if (p->c->starttls == STARTTLS_REQUIRE)
		return;
	if (!p->have_capa) {
		proto_finding(p->u, p->c, MP_R_NO_TLS,
		              "no TLS offered: the server has no CAPA, so no STLS; any login would "
		              "go in the clear");
		return;
	}
	adv[0] = '\0';
	if (user || nsasl)
		snprintf(adv, sizeof(adv), "; %s%s%s %s advertised in the clear",
		         user ? "USER" : "", user && nsasl ? " and " : "", nsasl ? mech : "",
		         user + nsasl > 1 ? "are" : "is");
	snprintf(msg, sizeof(msg), "no TLS offered: no STLS in CAPA%s", adv);
	proto_finding(p->u, p->c, MP_R_NO_TLS, msg);
}

static enum proto_next pop3_enter(struct pop3 *p, enum pop3_state st);

static enum proto_next pop3_violation(struct pop3 *p, const char *s, size_t n)
{
	proto_violation(p->u, "unexpected line", pop3_pending_names[p->state],
	                pop3_state_names[p->state], s, n);
	return pop3_enter(p, POP3_DONE);
}

/*
 * An -ERR read for what its response code says. what names the command
 * answered ("CAPA"); login: it carried credentials (USER, PASS, AUTH).
 * Returns 1 when the code decided the verdict, 0 when there is none (or
 * one that does not change it): the caller decides then.
 */
static int pop3_coded_err(struct pop3 *p, const char *what, int login, const char *text, size_t tl)
{
	char show[PROTO_SHOW];
	int per_user = 0;
	unsigned delay = pop3_login_delay(p, &per_user);

	line_escape(show, sizeof(show), text, tl);
	switch (pop3_code_of(text, tl)) {
	case POP3_CODE_NONE:
		return 0;
	case POP3_CODE_SYS_TEMP:
		run_fail(p->u, MP_R_REFUSED_BY_SERVER,
		         "server refused service, a temporary problem on its side (-ERR to %s): %s",
		         what, show);
		return 1;
	case POP3_CODE_SYS_PERM:
		run_fail(p->u, MP_R_REFUSED_BY_SERVER,
		         "server refused service, a lasting problem on its side (-ERR to %s): %s",
		         what, show);
		return 1;
	case POP3_CODE_AUTH:
		if (login)
			run_fail(p->u, MP_R_AUTH_FAILED, "login failed: %s", show);
		else
			run_fail(
			    p->u, MP_R_REFUSED_BY_SERVER,
			    "server refused service with an authentication code (-ERR to %s): %s",
			    what, show);
		return 1;
	case POP3_CODE_LOGIN_DELAY:
		if (delay)
			run_worsen(p->u, MP_DEGRADED, MP_R_LOGIN_DELAY,
			           "server refuses logins this soon after the last one (it asks "
			           "for %u s between logins): %s; check less often",
			           delay, show);
		else
			run_worsen(p->u, MP_DEGRADED, MP_R_LOGIN_DELAY,
			           "server refuses logins this soon after the last one: %s; check "
			           "less often",
			           show);
		return 1;
	case POP3_CODE_IN_USE:
		run_worsen(p->u, MP_DEGRADED, MP_R_MAILBOX_IN_USE,
		           "the maildrop is locked by another session: %s", show);
		return 1;
	}
	return 0;
}

/* ---- commands ---- */

/* What pending() says while a bare -ERR to CAPA is the server's last word. */
static void pop3_pend_update(struct pop3 *p)
{
	snprintf(p->pend, sizeof(p->pend), "%s (the server had answered CAPA with -ERR%s%s)",
	         pop3_pending_names[p->state], p->err_show[0] ? ": " : "", p->err_show);
}

/*
 * Enter st: send the command that opens it. Returns what the driver should
 * do next. This and pop3_set_state() are the only ways to change state.
 */
static enum proto_next pop3_enter(struct pop3 *p, enum pop3_state st)
{
	int rc = 0;

	pop3_set_state(p, st);
	p->nlines = 0;
	if (p->unconfirmed)
		pop3_pend_update(p);
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
	case POP3_SASL:
		rc = proto_out_add(&p->out, "AUTH PLAIN\r\n");
		break;
	case POP3_SASL_REPLY:
		rc =
		    proto_out_add_plain(&p->out, p->auth == POP3_AUTH_PLAIN_IR ? "AUTH PLAIN " : "",
		                        p->c->login, p->c->password);
		break;
	case POP3_STAT:
		rc = proto_out_add(&p->out, "STAT\r\n");
		break;
	case POP3_QUIT:
		/*
		 * The verdict is in; the polite goodbye is not the server's time.
		 * Unless a working verdict rests on a server whose last word was
		 * -ERR to CAPA: its answer to QUIT shows it still serves.
		 */
		p->u->final = !(p->unconfirmed && p->r->status <= MP_DEGRADED);
		run_mark(p->u, p->now);
		rc = proto_out_add(&p->out, "QUIT\r\n");
		break;
	case POP3_DONE:
	case POP3__NSTATES:
		pop3_set_state(p, POP3_DONE);
		return PROTO_CLOSE;
	}
	if (rc < 0) {
		run_worsen(p->u, MP_UNKNOWN, MP_R_INTERNAL, "%s command too long",
		           st == POP3_PASS   ? "PASS"
		           : st == POP3_USER ? "USER"
		                             : "AUTH");
		return pop3_enter(p, POP3_QUIT);
	}
	return PROTO_READ;
}

/* ---- transitions ---- */

/* CR or LF in a credential would end the command and start another one. */
static int pop3_sendable(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

/* A server's LOGIN-DELAY that this check's interval does not respect: a warning. */
static void pop3_check_delay(struct pop3 *p)
{
	int per_user = 0;
	unsigned delay = pop3_login_delay(p, &per_user);
	unsigned every = p->c->login_interval_s;

	if (delay && every && every < delay)
		result_warn(p->r,
		            "server asks for at least %u s between logins (LOGIN-DELAY %u%s); this "
		            "check logs in every %u s",
		            delay, delay, per_user ? ", may differ per user" : "", every);
}

/* Capabilities are final: log in, or finish. */
static enum proto_next pop3_login(struct pop3 *p)
{
	const struct proto_params *c = p->c;
	const char *pass = c->password ? c->password : "";

	if (!c->login) {
		if (p->have_capa)
			proto_up_message(p->u, "POP3 greeting OK%s, %d capabilit%s",
			                 p->stls ? ", STLS" : "", p->caps.n,
			                 p->caps.n == 1 ? "y" : "ies");
		else
			proto_up_message(p->u, "POP3 greeting OK%s, no CAPA support",
			                 p->stls ? ", STLS" : "");
		return pop3_enter(p, POP3_QUIT);
	}
	if (!p->tls && !c->allow_plaintext_auth) {
		proto_refuse_plaintext(p->u);
		return pop3_enter(p, POP3_QUIT);
	}
	/* Without CAPA, USER and PASS are what RFC 1939 gives; with it, what it lists. */
	const char *sasl = pop3_cap_line(p, "SASL");
	int user = !p->have_capa || pop3_cap_line(p, "USER");
	int plain = sasl && pop3_has_arg(sasl, "PLAIN");
	int sendable = pop3_sendable(c->login) && pop3_sendable(pass);
	if (user && (sendable || !plain)) {
		if (!sendable) {
			run_worsen(
			    p->u, MP_UNKNOWN, MP_R_INTERNAL,
			    "user name or password contains CR or LF, which POP3 cannot carry");
			return pop3_enter(p, POP3_QUIT);
		}
		pop3_check_delay(p);
		p->auth = POP3_AUTH_USER;
		return pop3_enter(p, POP3_USER);
	}
	if (!plain) {
		run_fail(p->u, MP_R_LOGIN_DISABLED,
		         "server offers no login this probe can use: no USER and no SASL PLAIN in "
		         "CAPA%s; nothing was sent",
		         p->tls ? "" : " before TLS");
		return pop3_enter(p, POP3_QUIT);
	}
	/* Checked before AUTH goes out: the server would take QUIT for the response. */
	size_t raw = strlen(c->login) + strlen(pass) + 2;
	if (raw > PROTO_PLAIN_MAX) {
		run_worsen(p->u, MP_UNKNOWN, MP_R_INTERNAL,
		           "user name and password too long for one command");
		return pop3_enter(p, POP3_QUIT);
	}
	pop3_check_delay(p);
	if (strlen("AUTH PLAIN ") + (raw + 2) / 3 * 4 + 2 <= POP3_AUTH_LINE_MAX) {
		p->auth = POP3_AUTH_PLAIN_IR;
		return pop3_enter(p, POP3_SASL_REPLY);
	}
	p->auth = POP3_AUTH_PLAIN;
	return pop3_enter(p, POP3_SASL);
}

/* A CAPA answer is complete (possibly empty: servers without CAPA). */
static enum proto_next pop3_caps_done(struct pop3 *p)
{
	const struct proto_params *c = p->c;

	proto_caps_result(&p->caps, p->r);
	if (p->plain && !p->tls) {
		pop3_posture(p);
		int offered = pop3_cap_line(p, "STLS") != NULL;
		if (offered && c->starttls != STARTTLS_NO)
			return pop3_enter(p, POP3_STLS);
		if (!offered && c->starttls == STARTTLS_REQUIRE) {
			run_fail(p->u, MP_R_STARTTLS_UNAVAILABLE,
			         p->have_capa ? "server does not advertise STLS"
			                      : "server does not advertise STLS (it has no CAPA)");
			return pop3_enter(p, POP3_QUIT);
		}
	}
	if (proto_expect_caps(p->u, c, &p->caps, pop3_cap_matches) != 0)
		return pop3_enter(p, POP3_QUIT);
	return pop3_login(p);
}

/* ---- replies ---- */

static enum proto_next pop3_on_greeting(struct pop3 *p, const char *s, size_t n, int64_t now)
{
	const struct proto_params *c = p->c;
	char show[PROTO_SHOW];
	const char *text;
	size_t tl;

	line_escape(p->r->greeting, sizeof(p->r->greeting), s, n);
	run_phase(p->u, MP_PH_GREETING, now);
	if (pop3_status(s, n, "-ERR", &text, &tl)) {
		enum pop3_code code = pop3_code_of(text, tl);
		/* The connection itself refused: no login was tried, whatever the code. */
		if (code == POP3_CODE_LOGIN_DELAY || code == POP3_CODE_IN_USE) {
			pop3_coded_err(p, "the connection", 0, text, tl);
		} else {
			line_escape(show, sizeof(show), text, tl);
			run_fail(p->u, MP_R_REFUSED_BY_SERVER, "server refused the connection: %s",
			         show);
		}
		return pop3_enter(p, POP3_DONE);
	}
	if (!pop3_status(s, n, "+OK", &text, &tl)) {
		line_escape(show, sizeof(show), s, n);
		run_fail(p->u, MP_R_GREETING_MISMATCH, "not a POP3 greeting: %s", show);
		return pop3_enter(p, POP3_DONE);
	}
	if (proto_greeting_expect(p->u, c, s, n) != 0)
		return pop3_enter(p, POP3_DONE);
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
		if (pop3_status(s, n, "-ERR", &text, &tl)) {
			run_phase(p->u, MP_PH_CAPABILITY, now);
			/* "-ERR [SYS/TEMP] Down for maintenance": a refusal, said outright. */
			if (pop3_coded_err(p, "CAPA", 0, text, tl))
				return pop3_enter(p, POP3_QUIT);
			/*
			 * An RFC 1939 server without CAPA (nothing advertised), or
			 * one refusing service that closes next: what it does with
			 * the next command tells them apart.
			 */
			p->unconfirmed = 1;
			line_escape(p->err_show, sizeof(p->err_show), text, tl);
			return pop3_caps_done(p);
		}
		return pop3_violation(p, s, n);
	}
	if (n == 1 && s[0] == '.') {
		run_phase(p->u, MP_PH_CAPABILITY, now);
		p->have_capa = 1;
		return pop3_caps_done(p);
	}
	/* Dot-stuffing (RFC 1939 section 3): "..x" stands for ".x". */
	if (n > 0 && s[0] == '.')
		proto_caps_add(&p->caps, s + 1, n - 1);
	else
		proto_caps_add(&p->caps, s, n);
	return PROTO_READ;
}

/*
 * QUIT's answer. Normally any answer ends the session and cannot change
 * the verdict. When the verdict waited for it (CAPA was a bare -ERR), +OK
 * shows a server without CAPA that still serves; another -ERR, a refusal.
 */
static enum proto_next pop3_on_quit(struct pop3 *p, const char *s, size_t n)
{
	const char *text;
	size_t tl;

	if (p->u->final)
		return pop3_enter(p, POP3_DONE);
	p->unconfirmed = 0;
	if (pop3_status(s, n, "-ERR", &text, &tl)) {
		if (!pop3_coded_err(p, "QUIT", 0, text, tl))
			run_fail(p->u, MP_R_REFUSED_BY_SERVER,
			         "server answered CAPA and QUIT with -ERR%s%s",
			         p->err_show[0] ? ": " : "", p->err_show);
	} else if (!pop3_status(s, n, "+OK", &text, &tl)) {
		return pop3_violation(p, s, n);
	}
	p->u->final = 1;
	return pop3_enter(p, POP3_DONE);
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
	char show[PROTO_SHOW];
	const char *text = NULL;
	size_t tl = 0;

	p->now = now;
	if (p->state == POP3_DONE)
		return PROTO_CLOSE;
	if (p->state == POP3_GREETING)
		return pop3_on_greeting(p, s, n, now);
	if (++p->nlines > POP3_LINES_MAX) {
		proto_flood(p->u, POP3_LINES_MAX, pop3_pending_names[p->state]);
		return pop3_enter(p, POP3_DONE);
	}
	if (p->state == POP3_CAPA)
		return pop3_on_capa(p, s, n, now);
	if (p->state == POP3_QUIT)
		return pop3_on_quit(p, s, n);
	/* The server answered after its -ERR to CAPA: it has no CAPA and still serves. */
	p->unconfirmed = 0;
	/* RFC 5034: "+" and a (for PLAIN, empty) challenge; "+OK" is not one. */
	if (p->state == POP3_SASL && n >= 1 && s[0] == '+' && (n == 1 || s[1] == ' '))
		return pop3_enter(p, POP3_SASL_REPLY);

	int ok = pop3_status(s, n, "+OK", &text, &tl);
	int err = !ok && pop3_status(s, n, "-ERR", &text, &tl);
	if (!ok && !err)
		return pop3_violation(p, s, n);
	if (err)
		line_escape(show, sizeof(show), text, tl);

	switch (p->state) {
	case POP3_STLS:
		if (ok) {
			run_phase(p->u, MP_PH_STARTTLS, now);
			return pop3_enter(p, POP3_TLS);
		}
		if (!pop3_coded_err(p, "STLS", 0, text, tl))
			run_fail(p->u, MP_R_STARTTLS_REFUSED, "server refused STLS: %s", show);
		return pop3_enter(p, POP3_QUIT);
	case POP3_USER:
		if (ok)
			return pop3_enter(p, POP3_PASS);
		if (!pop3_coded_err(p, "USER", 1, text, tl))
			run_fail(p->u, MP_R_AUTH_FAILED, "USER refused: %s", show);
		return pop3_enter(p, POP3_QUIT);
	case POP3_PASS:
	case POP3_SASL:
	case POP3_SASL_REPLY:
		if (ok && p->state != POP3_SASL) {
			run_phase(p->u, MP_PH_LOGIN, now);
			return pop3_enter(p, POP3_STAT);
		}
		if (ok)
			return pop3_violation(p, s, n);
		if (!pop3_coded_err(p, p->state == POP3_PASS ? "PASS" : "AUTH", 1, text, tl))
			run_fail(p->u, MP_R_AUTH_FAILED, "login failed: %s", show);
		return pop3_enter(p, POP3_QUIT);
	case POP3_STAT:
		if (err) {
			if (!pop3_coded_err(p, "STAT", 0, text, tl))
				run_fail(p->u, MP_R_MAILBOX_ERROR, "STAT failed: %s", show);
			return pop3_enter(p, POP3_QUIT);
		}
		int64_t count = pop3_stat_count(text, tl);
		if (count < 0) {
			line_escape(show, sizeof(show), s, n);
			run_fail(p->u, MP_R_MAILBOX_ERROR, "malformed STAT reply: %s", show);
			return pop3_enter(p, POP3_QUIT);
		}
		run_phase(p->u, MP_PH_MAILBOX, now);
		p->r->messages = count;
		proto_up_message(p->u, "logged in, maildrop has %lld message%s", (long long)count,
		                 count == 1 ? "" : "s");
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

static void *pop3_new(const struct proto_params *c, struct run *u)
{
	struct pop3 *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->c = c;
	p->u = u;
	p->r = u->r;
	proto_caps_init(&p->caps, POP3_CAPS_MAX);
	pop3_set_state(p, POP3_GREETING);
	return p;
}

static enum proto_next pop3_start(void *vp, int tls_active, int64_t now)
{
	struct pop3 *p = vp;

	p->now = now;
	p->tls = tls_active != 0;
	p->plain = !tls_active && !p->c->implicit_tls;
	return pop3_enter(p, POP3_GREETING);
}

static enum proto_next pop3_on_tls(void *vp, int64_t now)
{
	struct pop3 *p = vp;

	p->now = now;
	if (p->state != POP3_TLS) {
		proto_tls_unexpected(p->u, pop3_pending_names[p->state]);
		return pop3_enter(p, POP3_DONE);
	}
	/* Nothing learned in the clear can be trusted (RFC 2595 section 4). */
	p->tls = 1;
	p->stls = 1;
	pop3_caps_clear(p);
	p->r->capabilities[0] = '\0';
	return pop3_enter(p, POP3_CAPA);
}

/* -ERR to CAPA, then the close: the server refused service. */
static void pop3_on_close(void *vp, int64_t now)
{
	struct pop3 *p = vp;

	p->now = now;
	if (p->unconfirmed && p->state != POP3_DONE)
		run_fail(p->u, MP_R_REFUSED_BY_SERVER,
		         "server answered CAPA with -ERR and closed the connection%s%s",
		         p->err_show[0] ? ": " : "", p->err_show);
}

static const char *pop3_pending(const void *vp)
{
	const struct pop3 *p = vp;

	/* The -ERR is named while the verdict waits on what follows it. */
	if (p->unconfirmed && !p->u->final && p->state != POP3_DONE)
		return p->pend;
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
    .on_close = pop3_on_close,
    .pending = pop3_pending,
    .out = pop3_out,
    .free = pop3_free,
};
