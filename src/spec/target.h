/* SPDX-License-Identifier: ISC */
/*
 * target.h - what to probe and how: a parsed URL (struct target) and the
 * options of one check (struct check).
 *
 * Both are long-lived configuration, apart from per-run state (struct probe)
 * and history. Whoever creates a struct check owns the strings it points to
 * and keeps them alive while any probe of it runs.
 */
#ifndef MP_TARGET_H
#define MP_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/proto.h" /* enum starttls_mode, posture_mode; struct proto_params */

enum mp_proto {
	MP_IMAP,
	MP_POP3,
};

#define TARGET_HOST_MAX 256
#define TARGET_URL_MAX  300
/* A zone is a Linux interface name: at most IFNAMSIZ - 1 bytes. */
#define TARGET_ZONE_MAX 15
/* A numeric address as text, "fe80::1%eth0" at its longest, with the NUL. */
#define TARGET_ADDR_MAX 64

struct target {
	enum mp_proto proto;
	int implicit_tls; /* imaps://, pop3s:// */
	/*
	 * Without brackets for IPv6 literals; a link-local one keeps its zone
	 * after a plain '%' ("fe80::1%eth0"), the zone in its own case.
	 */
	char host[TARGET_HOST_MAX];
	uint16_t port;
	/*
	 * Canonical: scheme://host:port, brackets for IPv6, the zone as
	 * RFC 6874 writes it in a URL ("imaps://[fe80::1%25eth0]:993").
	 */
	char url[TARGET_URL_MAX];
};

/*
 * Parse "imap://host[:port]", "imaps://", "pop3://", "pop3s://"; IPv6
 * literals in brackets, a link-local one with a zone ("[fe80::1%25eth0]"
 * as RFC 6874 has it, or "[fe80::1%eth0]"); an optional trailing "/" is
 * accepted. A path, query, user info or anything else is refused. Returns
 * 0, or -1 with a message in err naming what was wrong and where.
 */
int target_parse(struct target *t, const char *url, char *err, size_t errlen);

/*
 * Parse one numeric address (--resolve, the configuration's resolve):
 * IPv4, or IPv6 bare or in brackets, a link-local IPv6 one with a zone:
 * bare as the system writes it ("fe80::1%eth0", every '%' a delimiter),
 * in brackets as a URL has it ("[fe80::1%25eth0]" or "[fe80::1%eth0]").
 * Writes its canonical text to canon (no brackets, a plain '%' before the
 * zone), which parses back to itself. Only the form is checked here:
 * whether the interface exists is a fact of the moment a probe connects
 * (target_sockaddr). Returns 0, or -1 with a message in err.
 */
int target_addr_parse(const char *s, char *canon, size_t canonsz, char *err, size_t errlen);

/*
 * A canonical numeric address (target.host of an IP literal, or what
 * target_addr_parse() wrote) and a port as a socket address. A zone names
 * an interface, or is an interface index in digits; it becomes
 * sin6_scope_id. Returns 0; -1 when addr is not a numeric address; -2 when
 * its zone names no interface of this host. err says which. Never blocks
 * (if_nametoindex is one local ioctl).
 */
int target_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *sslen,
                    char *err, size_t errlen);

/* "IMAP", "IMAPS", "POP3", "POP3S": the service name in Nagios output. */
const char *target_service(const struct target *t);

#define CHECK_CAPS_MAX    PROTO_EXPECT_CAPS_MAX
#define CHECK_RESOLVE_MAX 8

/* One check's options. Defaults come from check_defaults(). */
struct check {
	struct target target;
	int family; /* AF_UNSPEC, AF_INET, AF_INET6 */
	int all_addresses;
	/*
	 * Numeric addresses to use instead of resolving target.host, which
	 * still names the server for SNI and certificate checks (a new server
	 * before DNS points to it, a backend behind a balancer).
	 */
	const char *resolve[CHECK_RESOLVE_MAX];
	int n_resolve;
	enum starttls_mode starttls;
	const char *expect; /* greeting substring, or NULL */
	const char *expect_caps[CHECK_CAPS_MAX];
	int n_expect_caps;
	unsigned timeout_ms; /* the one deadline for the whole probe */
	unsigned warn_ms;    /* time to greeting over this: degraded, warning (0 = off) */
	unsigned crit_ms;    /* ... over this: degraded, critical (0 = off) */
	const char *sni;     /* overrides the host name for SNI and verification */
	const char *ca_file; /* NULL: the system store */
	int min_tls;         /* TLS1_2_VERSION etc. */
	int insecure;        /* verify nothing, still report what was seen */
	int cert_warn_days;
	int cert_crit_days;
	/*
	 * Under a third of the leaf's life left is a warning (failed ACME
	 * renewal). On by default; an explicit warning horizon turns it off.
	 */
	int cert_life_rule;
	const char *login;    /* NULL: no mailbox check */
	const char *password; /* never printed, logged or stored */
	int allow_plaintext_auth;
	enum posture_mode posture;
	/*
	 * How often this check logs in, in seconds: the daemon sets it from
	 * the check's interval; 0 = unknown (a one-shot check). Compared with
	 * a POP3 server's LOGIN-DELAY (RFC 2449).
	 */
	unsigned login_interval_s;
};

void check_defaults(struct check *c);
/* What the protocol cores take of c; pp points into c, which must outlive it. */
void check_proto_params(const struct check *c, struct proto_params *pp);

#endif
