/* SPDX-License-Identifier: ISC */
/*
 * result.h - the one vocabulary of statuses, reasons and phases.
 *
 * Everything that prints or stores an outcome (human line, JSON, Nagios,
 * later the store, dashboard, metrics and alerts) prints from here.
 * A struct result is plain data with fixed-size fields and no pointers,
 * so it can be copied, stored or shipped to another machine unchanged.
 */
#ifndef MP_RESULT_H
#define MP_RESULT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Availability: what the server's users get. A result only ever moves down
 * this list.
 *  - up: it works.
 *  - degraded: it works, with a finding (slow, certificate expiring soon,
 *    a posture finding, logins refused for now...). Counts as available
 *    in uptime.
 *  - down: users cannot use it (refused, timeout, TLS failure, greeting
 *    mismatch, login refused...).
 */
enum mp_status {
	MP_UP = 0,
	MP_DEGRADED = 1,
	MP_DOWN = 2,
	MP_UNKNOWN = 3, /* our side failed: we could not judge the server */
};

/*
 * Severity: what the admin is told. The values are the Nagios plugin exit
 * codes. Down is always critical and up is always ok; a degraded result is
 * a warning, or critical when a critical threshold was crossed (--crit-ms,
 * --cert-crit) while the service still works. Severity drives the Nagios
 * state and alerts; status drives uptime.
 */
enum mp_severity {
	MP_SEV_OK = 0,
	MP_SEV_WARNING = 1,
	MP_SEV_CRITICAL = 2,
	MP_SEV_UNKNOWN = 3,
};

/*
 * Reasons, ordered by layer: ours, dns, tcp, tls, protocol, auth, mailbox,
 * timing. The names (result_reason_name) are the contract: the JSON, the
 * store (rows hold the name), alert routes and the API all use the name,
 * never the number. A name is never renamed or reused; a new reason goes
 * into its layer, and the numbers may change between versions.
 */
enum mp_reason {
	MP_R_OK = 0,
	/* our side */
	MP_R_INTERNAL, /* out of memory, out of fds, a local bug: not the server */
	/* dns */
	MP_R_DNS,
	/* tcp */
	MP_R_REFUSED,
	MP_R_UNREACHABLE,
	MP_R_TIMEOUT,
	MP_R_RESET,
	MP_R_CLOSED,
	/* tls */
	MP_R_TLS_HANDSHAKE,
	MP_R_TLS_VERSION,
	MP_R_CERT_EXPIRED,
	MP_R_CERT_NOT_YET_VALID,
	MP_R_CERT_UNTRUSTED,
	MP_R_CERT_HOSTNAME,
	MP_R_CERT_INCOMPLETE_CHAIN,
	MP_R_NO_TLS, /* posture: a plain port that offers no STARTTLS/STLS at all */
	/* protocol */
	MP_R_GREETING_MISMATCH,
	MP_R_REFUSED_BY_SERVER,
	MP_R_LINE_TOO_LONG,
	MP_R_PROTOCOL_ERROR,
	MP_R_STARTTLS_UNAVAILABLE,
	MP_R_STARTTLS_REFUSED,
	MP_R_STARTTLS_INJECTION,
	MP_R_CAPABILITY_MISSING,
	/* auth */
	MP_R_PLAINTEXT_AUTH,
	MP_R_LOGIN_DISABLED, /* no login the probe may use on this connection; nothing sent */
	MP_R_LOGIN_DELAY,    /* RFC 2449 [LOGIN-DELAY]: logins refused for now (rate limit) */
	MP_R_AUTH_FAILED,
	/* mailbox */
	MP_R_MAILBOX_ERROR,
	MP_R_MAILBOX_IN_USE, /* RFC 2449 [IN-USE]: the maildrop is locked by another session */
	/* timing and expiry: the server works, but not well enough */
	MP_R_SLOW,
	MP_R_CERT_EXPIRING,
	MP_R__COUNT
};

/*
 * Phases of one probe, in the order they happen. Each holds the time spent
 * in it; a phase entered twice (capability before and after STARTTLS)
 * accumulates.
 */
enum mp_phase {
	MP_PH_DNS = 0,
	MP_PH_CONNECT,
	MP_PH_TLS,
	MP_PH_GREETING,
	MP_PH_CAPABILITY,
	MP_PH_STARTTLS,
	MP_PH_LOGIN,
	MP_PH_MAILBOX,
	MP_PH_TOTAL,
	MP_PH__COUNT
};

#define RESULT_MSG_MAX      512
#define RESULT_GREETING_MAX 512  /* escaped and shortened */
#define RESULT_CAPS_MAX     1024 /* escaped entries, one per line (see capabilities) */
#define RESULT_CAP_SHOW     160  /* one capability entry as shown, with its NUL */
#define RESULT_WARN_MAX     4
#define RESULT_WARN_LEN     200
#define RESULT_NAME_MAX     256 /* a subject, issuer or host */
#define RESULT_SANS_MAX     512
#define RESULT_CHAIN_MAX    8
#define RESULT_ADDR_MAX     8 /* --all-addresses probes at most this many */
#define RESULT_ADDR_MSG_MAX 200
#define RESULT_ADDRSTR      64 /* "[ipv6]:port" fits */
#define RESULT_PATH_MAX     96 /* the state path, with its NUL */

/* One certificate as the server served it. */
struct cert_facts {
	char subject[RESULT_NAME_MAX];
	char issuer[RESULT_NAME_MAX];
	int64_t not_before; /* unix seconds */
	int64_t not_after;
	char sha256[65]; /* hex */
};

struct tls_facts {
	int used;         /* 0: no TLS on this connection */
	char version[16]; /* "TLSv1.3" */
	char cipher[64];
	int verify_code;  /* X509_V_* as OpenSSL reported it, 0 when valid */
	int verify_depth; /* chain depth of the first verification error, -1 if none */
	char verify_msg[128];
	int verified;               /* 1 when chain and host name verified */
	int verify_reused;          /* 1: this exact chain and name were verified earlier */
	char sans[RESULT_SANS_MAX]; /* leaf subjectAltNames, comma separated */
	int chain_len;              /* as served; chain[0] is the leaf */
	struct cert_facts chain[RESULT_CHAIN_MAX];
	int earliest;      /* index in chain of the certificate that expires first */
	int64_t days_left; /* floor((earliest not_after - now) / 1 day); negative if expired */
};

/* One address's outcome, with --all-addresses. */
struct addr_result {
	char address[RESULT_ADDRSTR];
	enum mp_status status;
	enum mp_severity severity;
	enum mp_reason reason;
	char message[RESULT_ADDR_MSG_MAX];
	int64_t greeting_us; /* time to greeting, -1 if none */
	int64_t total_us;
	/*
	 * The certificate this address served, so that backends behind one
	 * name serving different certificates show: the leaf's SHA-256 (hex;
	 * "" when no certificate was seen, and then the rest means nothing),
	 * the not_after of the chain's certificate that expires first and the
	 * whole days left until then, and the leaf's own not_after.
	 */
	char cert_sha256[65];
	int64_t cert_not_after;
	int64_t cert_days_left;
	int64_t leaf_not_after;
};

/*
 * The outcome of one probe: the verdict only. Filled by the protocol core
 * and the driver through a struct run (run.h), which holds what a run
 * needs while it builds it (the clocks, whether the verdict is final);
 * read by every output. Owned by whoever embeds it; no heap memory inside.
 */
struct result {
	enum mp_status status;
	enum mp_severity severity; /* follows status, except degraded may be critical */
	enum mp_reason reason;
	char message[RESULT_MSG_MAX];

	char address[RESULT_ADDRSTR]; /* the address that was used */
	/*
	 * How far the probe got: the states it entered, in order, joined
	 * with '>' ("dns>connect>greeting>capability>starttls>tls>..."). Our
	 * own state names only, never server bytes. A path that did not fit
	 * ends with ">..."; a name is never cut.
	 */
	char path[RESULT_PATH_MAX];
	int64_t phase_us[MP_PH__COUNT]; /* -1: phase not reached */
	int64_t ttg_us; /* time to greeting: connect start to greeting, -1 if none */

	char greeting[RESULT_GREETING_MAX]; /* escaped */
	/*
	 * The final capability list (after TLS where TLS is used): one entry
	 * per IMAP atom or per POP3 CAPA line with its arguments ("SASL PLAIN
	 * LOGIN"), each escaped, joined with '\n' (an escaped entry never holds
	 * a raw control byte). A last entry "..." means the list was cut.
	 */
	char capabilities[RESULT_CAPS_MAX];
	int nwarnings;
	char warnings[RESULT_WARN_MAX][RESULT_WARN_LEN];
	int64_t messages; /* mailbox message count, -1 when not checked */

	struct tls_facts tls;
	/* Wall clock (unix ms) when the probe began, stamped by the prober; 0 when unknown. */
	int64_t probe_ms;

	int naddrs; /* with --all-addresses: one entry per address */
	struct addr_result addrs[RESULT_ADDR_MAX];
};

/*
 * Empty: up, no phase reached. now_us is not used any more (the clocks are
 * the run's, run_init()); it stays until the callers outside core drop it.
 */
void result_init(struct result *r, int64_t now_us);

/*
 * Move the result to a worse status with its reason and message. Does
 * nothing when the result is already as bad or worse: of two causes as
 * bad, the first is the one reported. During a run, run_worsen() and
 * run_fail() add the other rule: once the verdict is final, nothing
 * changes it.
 */
void result_vworsen(struct result *r, enum mp_status st, enum mp_severity sev, enum mp_reason why,
                    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
void result_worsen(struct result *r, enum mp_status st, enum mp_reason why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * A critical finding on a service that still works: status degraded,
 * severity critical. Ranks above any warning and below down.
 */
void result_critical(struct result *r, enum mp_reason why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Shorthand for result_worsen(r, MP_DOWN, ...). */
void result_fail(struct result *r, enum mp_reason why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add a warning that does not change the status. Extra warnings are dropped. */
void result_warn(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Set r->capabilities from n entries, the NUL-terminated strings at
 * buf + off[i] as the server sent them: each escaped and cut to
 * RESULT_CAP_SHOW, joined with '\n'. When they do not all fit, as many as
 * fit and a last entry "...". The one writer of that field's format.
 */
void result_caps_set(struct result *r, const char *buf, const size_t *off, int n);

/* Append a state name to r->path (see there); once cut, nothing more is added. */
void result_path_add(struct result *r, const char *name);

/* Charge us microseconds (negative: none) to phase ph; a phase entered twice accumulates. */
void result_phase_add(struct result *r, enum mp_phase ph, int64_t us);

const char *result_status_name(enum mp_status st);      /* "up", "degraded", "down", "unknown" */
const char *result_severity_name(enum mp_severity sev); /* "ok", "warning", "critical", "unknown" */
/* The severity a status has unless a critical finding raised it: down is critical. */
enum mp_severity result_default_severity(enum mp_status st);
/*
 * One order for "worse" over (status, severity): up < degraded (warning) <
 * degraded (critical) < down < unknown. What vworsen and the pickers of a
 * worst result use.
 */
int result_rank(enum mp_status st, enum mp_severity sev);
/* Parse a status or severity name; -1 when unknown. */
int result_status_parse(const char *name);
int result_severity_parse(const char *name);
const char *result_reason_name(enum mp_reason why); /* "ok", "dns", "refused", ... */
const char *result_phase_name(enum mp_phase ph);    /* "dns", "connect", ... */
/* Parse a reason name; returns -1 when unknown. */
int result_reason_parse(const char *name);

/* Monotonic clock in microseconds. */
int64_t mp_now_us(void);
/* The wall clock in unix milliseconds: what results and rows are stamped with. */
int64_t mp_wall_ms(void);

#endif
