/* SPDX-License-Identifier: ISC */
/*
 * proto.h - the contract between the I/O driver (probe.c) and a protocol
 * core (probe_imap.c, probe_pop3.c).
 *
 * A core does no I/O. The driver hands it complete server lines (without
 * the line ending, never containing NUL, at most LINE_MAX_LEN bytes) and
 * the current monotonic time; the core records its findings in the struct
 * result through the struct run (run.h) that builds it, queues commands in
 * its struct proto_out, and answers with what it wants next. This lets
 * unit tests and fuzzers drive a core directly.
 *
 * A core whose protocol has literals (IMAP: "{n}" ends a line, n octets of
 * any bytes follow, then the rest of the response) answers PROTO_LITERAL
 * after such a line: the driver then reads exactly literal_len() octets,
 * CR and LF included, hands them to on_literal() in one piece, and goes
 * back to lines. The core bounds n by its own cap before asking, so the
 * driver can hold a literal whole, as it holds a line.
 */
#ifndef MP_PROTO_H
#define MP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "core/run.h"

enum starttls_mode {
	STARTTLS_NO,      /* greeting only on plain schemes */
	STARTTLS_AUTO,    /* upgrade when advertised */
	STARTTLS_REQUIRE, /* not advertised is starttls_unavailable */
};

enum posture_mode {
	POSTURE_REPORT, /* posture findings (plaintext login offered, no TLS) are warnings only */
	POSTURE_WARN,   /* ... and make the check degraded (plaintext_auth, no_tls) */
};

/*
 * What a protocol core needs of a check, and nothing else: the cores sit
 * below src/spec, so they take this, filled from a struct check by
 * check_proto_params() (spec/target.h). Owned by the caller, which keeps
 * it (and the strings it points to) alive as long as the core.
 */
/* Capabilities a check may require; spec/target.h's CHECK_CAPS_MAX is this. */
#define PROTO_EXPECT_CAPS_MAX 16

struct proto_params {
	int implicit_tls; /* imaps/pop3s: TLS before the greeting */
	enum starttls_mode starttls;
	const char *expect;             /* greeting substring, or NULL */
	const char *const *expect_caps; /* n_expect_caps <= PROTO_EXPECT_CAPS_MAX */
	int n_expect_caps;
	const char *login;    /* NULL: no mailbox check */
	const char *password; /* never printed, logged or stored */
	int allow_plaintext_auth;
	enum posture_mode posture;
	unsigned login_interval_s; /* 0: unknown (a one-shot check) */
};

enum proto_next {
	PROTO_READ,    /* send what is queued, then wait for the next line */
	PROTO_LITERAL, /* send what is queued, then read literal_len() octets for on_literal() */
	PROTO_TLS,     /* start TLS now; no queued output; pending input is an injection */
	PROTO_CLOSE,   /* send what is queued (LOGOUT/QUIT was answered or not needed); close */
};

/* Room for the longest command we send: LOGIN with a quoted user and password. */
#define PROTO_OUT_MAX 2048

/*
 * Commands waiting to be sent. May hold credentials: cleared with
 * OPENSSL_cleanse semantics (proto_out_clear) once sent.
 */
struct proto_out {
	char buf[PROTO_OUT_MAX];
	size_t len;
};

/* Append formatted text; returns -1 (and appends nothing) when it does not fit. */
int proto_out_add(struct proto_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget what was queued, wiping the bytes (they may be a password). */
void proto_out_clear(struct proto_out *o);

/* The longest "\0login\0password" a SASL PLAIN response carries (RFC 4616). */
#define PROTO_PLAIN_MAX 1500

/*
 * Queue prefix + base64("\0login\0password") + CRLF, the SASL PLAIN
 * response both cores send. Returns what proto_out_add() returns, or -1
 * when login and password exceed PROTO_PLAIN_MAX. Its buffers are wiped.
 */
int proto_out_add_plain(struct proto_out *o, const char *prefix, const char *login,
                        const char *password);

/* ---- what the cores share: capability storage and the common findings ---- */

/* Room for a server line quoted in a message: about 120 characters. */
#define PROTO_SHOW 124
/* Capability entries a core may keep, and the bytes they are kept in. */
#define PROTO_CAPS_MAX 256
#define PROTO_CAPBUF   8192

/*
 * The capabilities a core learned: NUL-terminated entries (IMAP atoms,
 * POP3 CAPA lines) back to back. Entries past max or past the buffer are
 * dropped: a hostile server may send megabytes. Embedded in the core.
 */
struct proto_caps {
	int n;
	int max; /* at most PROTO_CAPS_MAX */
	size_t used;
	size_t off[PROTO_CAPS_MAX];
	char buf[PROTO_CAPBUF];
};

/* Empty, keeping at most max entries. */
void proto_caps_init(struct proto_caps *k, int max);
/* Forget every entry (what was learned before TLS). */
void proto_caps_clear(struct proto_caps *k);
/* Keep s[0..n) as one entry; nothing when empty or when it does not fit. */
void proto_caps_add(struct proto_caps *k, const char *s, size_t n);
/* The entries, escaped, into r->capabilities (see result_caps_set). */
void proto_caps_result(const struct proto_caps *k, struct result *r);

/* A posture finding: a warning always, degraded with --posture=warn. */
void proto_finding(struct run *u, const struct proto_params *c, enum mp_reason why,
                   const char *what);
/*
 * The posture finding for logins advertised before TLS: "<mechs> is (are,
 * when n > 1) advertised in the clear, before <tls_cmd>".
 */
void proto_finding_clear(struct run *u, const struct proto_params *c, const char *mechs, int n,
                         const char *tls_cmd);
/* The success message, unless a finding already wrote a worse one or the verdict stands. */
void proto_up_message(struct run *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A line that has no place in state state_name: a protocol_error quoting
 * it. what says which kind ("unexpected line"); pending names what was awaited.
 */
void proto_violation(struct run *u, const char *what, const char *pending, const char *state_name,
                     const char *s, size_t n);
/* More than max lines in answer to one command: a protocol_error. */
void proto_flood(struct run *u, int max, const char *pending);
/* --expect: returns 0 when the greeting s[0..n) holds it, else -1 with the verdict recorded. */
int proto_greeting_expect(struct run *u, const struct proto_params *c, const char *s, size_t n);
/*
 * Does an entry satisfy want? Each core says what a match is: an IMAP atom
 * equal to it, a POP3 CAPA line with those arguments.
 */
typedef int (*proto_cap_match)(const char *entry, const char *want);
/* 1 when an entry matches want. */
int proto_caps_has(const struct proto_caps *k, const char *want, proto_cap_match match);
/*
 * --expect-capability: the first expected capability no entry matches,
 * recorded as capability_missing; 0 when all are there, -1 when one is not.
 */
int proto_expect_caps(struct run *u, const struct proto_params *c, const struct proto_caps *k,
                      proto_cap_match match);
/* Credentials were about to go out without TLS: plaintext_auth, nothing sent. */
void proto_refuse_plaintext(struct run *u);
/* The driver reported a TLS handshake the core did not ask for: our bug, unknown. */
void proto_tls_unexpected(struct run *u, const char *pending);

/*
 * One protocol core. A core's state is created by new() and freed by free();
 * it keeps pointers to the check and the run (and through it the result),
 * which outlive it. Every state it enters goes through run_step(): traced,
 * and added to the result's path.
 *
 * start(): the connection is ready (plain TCP, or implicit TLS done);
 *          tls_active tells which. The first thing expected is the greeting.
 * on_line(): one server line.
 * literal_len(), on_literal(): after PROTO_LITERAL, how many octets the
 *          literal has (at most LINE_MAX_LEN), and those octets. NULL in a
 *          core that never answers PROTO_LITERAL.
 * on_tls(): the TLS handshake after STARTTLS/STLS completed and the
 *          certificate was accepted; the core must forget what it learned
 *          before TLS and ask for capabilities again.
 * pending(): what the core is waiting for, for timeout and EOF messages
 *          ("greeting", "CAPABILITY reply", ...). When the last thing the
 *          server said may explain a close (an -ERR, a BYE), it is named
 *          here too, so the driver's message keeps the server's words.
 * on_close(): the server ended the connection (EOF, or a reset) while the
 *          core still awaited pending() and before run->final was set.
 *          The core may record the verdict the close completes ("-ERR to
 *          CAPA, then the close" is a refusal: refused_by_server, with the
 *          server's text); the driver then reports the close as usual,
 *          which changes nothing once the core has. NULL when a core has
 *          nothing to add. Optional for a driver: without it, the close
 *          is "closed" and pending() still carries the server's text.
 *
 * Once run->final is set, the verdict stands; the core may still queue
 * LOGOUT/QUIT and read its answer before answering PROTO_CLOSE.
 */
struct proto_ops {
	const char *name; /* "imap", "pop3" */
	void *(*new)(const struct proto_params *c, struct run *u);
	enum proto_next (*start)(void *p, int tls_active, int64_t now_us);
	enum proto_next (*on_line)(void *p, const char *line, size_t len, int64_t now_us);
	size_t (*literal_len)(const void *p);
	enum proto_next (*on_literal)(void *p, const char *data, size_t len, int64_t now_us);
	enum proto_next (*on_tls)(void *p, int64_t now_us);
	void (*on_close)(void *p, int64_t now_us);
	const char *(*pending)(const void *p);
	struct proto_out *(*out)(void *p);
	void (*free)(void *p);
};

#endif
