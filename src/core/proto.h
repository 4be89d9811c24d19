/*
 * proto.h - the contract between the I/O driver (probe.c) and a protocol
 * core (probe_imap.c, probe_pop3.c).
 *
 * A core does no I/O. The driver hands it complete server lines (without
 * the line ending, never containing NUL, at most LINE_MAX_LEN bytes) and
 * the current monotonic time; the core records its findings in the struct
 * result, queues commands in its struct proto_out, and answers with what it
 * wants next. This lets unit tests and fuzzers drive a core directly.
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
#include "spec/target.h"

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

/*
 * One protocol core. A core's state is created by new() and freed by free();
 * it keeps pointers to the check and the result, which outlive it.
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
 *          core still awaited pending() and before result->final was set.
 *          The core may record the verdict the close completes ("-ERR to
 *          CAPA, then the close" is a refusal: refused_by_server, with the
 *          server's text); the driver then reports the close as usual,
 *          which changes nothing once the core has. NULL when a core has
 *          nothing to add. Optional for a driver: without it, the close
 *          is "closed" and pending() still carries the server's text.
 *
 * Once result->final is set, the verdict stands; the core may still queue
 * LOGOUT/QUIT and read its answer before answering PROTO_CLOSE.
 */
struct proto_ops {
	const char *name; /* "imap", "pop3" */
	void *(*new)(const struct check *c, struct result *r);
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
