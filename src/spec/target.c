/* SPDX-License-Identifier: ISC */
/*
 * target.c - imap[s]:// and pop3[s]:// URLs -> struct target; check defaults.
 *
 * Error messages never quote the URL or any part of it after the scheme:
 * a user who pastes "imaps://bob:secret@host" must not find the secret in
 * a terminal, a log or a CI transcript. Positions are 1-based characters.
 */
#include "spec/target.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* DNS names are at most 253 characters in text form (RFC 1035 2.3.4). */
#define HOST_NAME_MAX_LEN 253
#define LABEL_MAX_LEN     63

static const struct scheme {
	const char *name;
	enum mp_proto proto;
	int implicit_tls;
	uint16_t port;
} schemes[] = {
    {"imap", MP_IMAP, 0, 143},
    {"imaps", MP_IMAP, 1, 993},
    {"pop3", MP_POP3, 0, 110},
    {"pop3s", MP_POP3, 1, 995},
};

#define SCHEME_HINT "use imap://, imaps://, pop3:// or pop3s://"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int is_scheme_char(int ch)
{
	return isalnum(ch) || ch == '+' || ch == '-' || ch == '.';
}

static int is_host_char(int ch)
{
	/* Underscores are not valid in host names but common in internal DNS. */
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

/* Describe one byte for an error message without echoing anything unprintable. */
static void describe_char(char *dst, size_t dstsz, unsigned char ch)
{
	if (ch > 0x20 && ch < 0x7f && ch != '\'')
		snprintf(dst, dstsz, "'%c'", ch);
	else if (ch == ' ')
		snprintf(dst, dstsz, "a space");
	else
		snprintf(dst, dstsz, "byte 0x%02x", ch);
}

/* A reg-name or IPv4 address: allowed characters, no empty label, bounded lengths. */
static int check_host_name(const char *h, size_t n, size_t pos0, char *err, size_t errlen)
{
	size_t label = 0;
	char what[16];

	if (n > HOST_NAME_MAX_LEN)
		return fail(err, errlen,
		            "host name too long: %zu characters, at most %d (position %zu)", n,
		            HOST_NAME_MAX_LEN, pos0 + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];

		if (!is_host_char(ch)) {
			describe_char(what, sizeof(what), ch);
			return fail(err, errlen, "%s is not allowed in a host name (position %zu)",
			            what, pos0 + i + 1);
		}
		if (ch == '.') {
			/* A single trailing dot is a fully qualified name. */
			if (label == 0)
				return fail(err, errlen, "empty label in host name (position %zu)",
				            pos0 + i + 1);
			label = 0;
			continue;
		}
		if (++label > LABEL_MAX_LEN)
			return fail(err, errlen,
			            "host name label longer than %d characters (position %zu)",
			            LABEL_MAX_LEN, pos0 + i + 1);
	}
	return 0;
}

static int parse_port(const char *p, size_t n, size_t pos0, uint16_t *port, char *err,
                      size_t errlen)
{
	unsigned long v = 0;

	if (n == 0)
		return fail(err, errlen, "empty port after ':' (position %zu)", pos0);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return fail(err, errlen, "port is not a number (position %zu)",
			            pos0 + i + 1);
		if (v <= 65535)
			v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return fail(err, errlen, "port out of range: must be 1..65535 (position %zu)",
		            pos0 + 1);
	*port = (uint16_t)v;
	return 0;
}

static int is_zone_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

/*
 * s[0..n) is an IPv6 address, with an optional zone after '%' ("%eth0").
 * With url set, RFC 6874's percent-encoded "%25eth0" too: a '%' followed
 * by "25" is that form, so there a zone that itself begins with "25" must
 * be written "%2525..."; without it (an address as the system writes it)
 * a '%' is only ever the delimiter, so what this writes parses back the
 * same. Writes "addr%zone" to out: the address in lower case, the zone as given
 * (interface names are case-sensitive). Zones are interface names: letters,
 * digits, '-', '.', '_', 1 to TARGET_ZONE_MAX of them (no percent-encoding
 * in them), and only on link-local addresses (fe80::/10), where a zone is
 * what picks the link. Returns 0, or -1 with why (no position) and *at,
 * the offset in s the complaint is about.
 */
static int parse_v6(const char *s, size_t n, int url, char *out, size_t outsz, char *why,
                    size_t whylen, size_t *at)
{
	const char *pct = memchr(s, '%', n);
	size_t al = pct ? (size_t)(pct - s) : n, zl = 0;
	const char *z = NULL;
	char buf[INET6_ADDRSTRLEN + 1], what[16];
	unsigned char bin[16];

	*at = 0;
	if (al >= sizeof(buf))
		return fail(why, whylen, "IPv6 address too long");
	memcpy(buf, s, al);
	buf[al] = '\0';
	if (inet_pton(AF_INET6, buf, bin) != 1)
		return fail(why, whylen, "not a valid IPv6 address");
	if (pct) {
		z = pct + 1;
		zl = n - al - 1;
		if (url && zl >= 2 && z[0] == '2' && z[1] == '5') {
			z += 2;
			zl -= 2;
		}
		*at = (size_t)(z - s);
		if (zl == 0)
			return fail(why, whylen,
			            "empty zone after '%%': name an interface, as in "
			            "fe80::1%%25eth0");
		if (zl > TARGET_ZONE_MAX)
			return fail(
			    why, whylen,
			    "zone too long: %zu characters, an interface name has at most %d", zl,
			    TARGET_ZONE_MAX);
		for (size_t i = 0; i < zl; i++) {
			if (!is_zone_char((unsigned char)z[i])) {
				*at = (size_t)(z - s) + i;
				describe_char(what, sizeof(what), (unsigned char)z[i]);
				return fail(
				    why, whylen,
				    "%s is not allowed in a zone (an interface name: letters, "
				    "digits, '-', '.', '_')",
				    what);
			}
		}
		if (bin[0] != 0xfe || (bin[1] & 0xc0) != 0x80) {
			*at = al;
			return fail(why, whylen,
			            "a zone is only for link-local addresses (fe80::/10)");
		}
	}
	if (al + (pct ? 1 + zl : 0) >= outsz)
		return fail(why, whylen, "IPv6 address too long");
	for (size_t i = 0; i < al; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[al] = '\0';
	if (pct) {
		out[al] = '%';
		memcpy(out + al + 1, z, zl);
		out[al + 1 + zl] = '\0';
	}
	return 0;
}

int target_parse(struct target *t, const char *url, char *err, size_t errlen)
{
	const struct scheme *sc = NULL;
	const char *auth, *end, *host, *port = NULL;
	size_t slen = 0, hlen, plen = 0, i;
	int v6 = 0;
	char lower[TARGET_HOST_MAX];

	memset(t, 0, sizeof(*t));
	if (!url || !*url)
		return fail(err, errlen, "empty URL: " SCHEME_HINT);

	while (is_scheme_char((unsigned char)url[slen]))
		slen++;
	if (slen == 0 || strncmp(url + slen, "://", 3) != 0) {
		/* Without "://" we cannot tell a scheme from "user:password@": say nothing more. */
		return fail(err, errlen,
		            "missing scheme: the URL must start with imap://, imaps://, "
		            "pop3:// or pop3s://");
	}
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].name) == slen &&
		    strncasecmp(url, schemes[i].name, slen) == 0) {
			sc = &schemes[i];
			break;
		}
	}
	if (!sc) {
		if (slen > 16)
			return fail(err, errlen, "unknown scheme (position 1): " SCHEME_HINT);
		return fail(err, errlen, "unknown scheme \"%.*s\" (position 1): " SCHEME_HINT,
		            (int)slen, url);
	}

	auth = url + slen + 3;
	/* No '@' can appear in a host or port: any '@' means user info was given. */
	if (strchr(auth, '@'))
		return fail(err, errlen,
		            "credentials in URLs are not accepted: use --login and --password-file "
		            "(position %zu)",
		            (size_t)(auth - url) + 1);
	end = auth + strcspn(auth, "/?#");
	if (*end == '?')
		return fail(err, errlen, "a query (\"?...\") is not accepted (position %zu)",
		            (size_t)(end - url) + 1);
	if (*end == '#')
		return fail(err, errlen, "a fragment (\"#...\") is not accepted (position %zu)",
		            (size_t)(end - url) + 1);
	if (*end == '/' && end[1] != '\0')
		return fail(
		    err, errlen,
		    "a path is not accepted: only a trailing \"/\" may follow host and port "
		    "(position %zu)",
		    (size_t)(end - url) + 2);

	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(end - auth));

		if (!close)
			return fail(err, errlen, "unclosed '[' in IPv6 address (position %zu)",
			            (size_t)(auth - url) + 1);
		v6 = 1;
		host = auth + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < end) {
			if (close[1] != ':')
				return fail(err, errlen,
				            "expected ':' or the end after ']' (position %zu)",
				            (size_t)(close - url) + 2);
			port = close + 2;
			plen = (size_t)(end - port);
		}
	} else {
		const char *colon = memchr(auth, ':', (size_t)(end - auth));

		host = auth;
		hlen = colon ? (size_t)(colon - auth) : (size_t)(end - auth);
		if (colon) {
			if (memchr(colon + 1, ':', (size_t)(end - colon - 1)))
				return fail(err, errlen,
				            "IPv6 addresses must be in brackets, as in "
				            "imaps://[2001:db8::1]:993 (position %zu)",
				            (size_t)(auth - url) + 1);
			port = colon + 1;
			plen = (size_t)(end - port);
		}
	}

	if (hlen == 0)
		return fail(err, errlen, "empty host (position %zu)", (size_t)(host - url) + 1);
	if (v6) {
		char why[128];
		size_t at;

		if (parse_v6(host, hlen, 1, lower, sizeof(lower), why, sizeof(why), &at) < 0)
			return fail(err, errlen, "%s%s (position %zu)", why,
			            strcmp(why, "not a valid IPv6 address") == 0 ? " in brackets"
			                                                         : "",
			            (size_t)(host - url) + at + 1);
	} else if (check_host_name(host, hlen, (size_t)(host - url), err, errlen) < 0) {
		return -1;
	} else {
		/* Host names are case-insensitive; a canonical form makes URLs comparable. */
		for (i = 0; i < hlen; i++)
			lower[i] = (char)tolower((unsigned char)host[i]);
		lower[hlen] = '\0';
	}

	t->port = sc->port;
	if (port && parse_port(port, plen, (size_t)(port - url), &t->port, err, errlen) < 0)
		return -1;

	t->proto = sc->proto;
	t->implicit_tls = sc->implicit_tls;
	snprintf(t->host, sizeof(t->host), "%s", lower);
	const char *zone = v6 ? strchr(lower, '%') : NULL;
	if (zone) /* in a URL the zone's '%' is written "%25" (RFC 6874) */
		snprintf(t->url, sizeof(t->url), "%s://[%.*s%%25%s]:%u", sc->name,
		         (int)(zone - lower), lower, zone + 1, (unsigned)t->port);
	else
		snprintf(t->url, sizeof(t->url), v6 ? "%s://[%s]:%u" : "%s://%s:%u", sc->name,
		         t->host, (unsigned)t->port);
	return 0;
}

int target_addr_parse(const char *s, char *canon, size_t canonsz, char *err, size_t errlen)
{
	unsigned char bin[16];
	char why[128];
	size_t n, at;
	int url = 0;

	if (!s || !*s)
		return fail(err, errlen, "empty address");
	n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		/* In brackets, as in a URL: RFC 6874's "%25" is the delimiter too. */
		url = 1;
		s++;
		n -= 2;
	}
	if (n >= TARGET_ADDR_MAX + 8)
		return fail(err, errlen, "not a numeric IPv4 or IPv6 address (too long)");
	if (!memchr(s, ':', n)) {
		char buf[INET_ADDRSTRLEN];

		if (n >= sizeof(buf))
			return fail(err, errlen, "not a numeric IPv4 or IPv6 address");
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET, buf, bin) != 1)
			return fail(err, errlen, "not a numeric IPv4 or IPv6 address");
		if (n >= canonsz)
			return fail(err, errlen, "address too long");
		memcpy(canon, buf, n + 1);
		return 0;
	}
	if (parse_v6(s, n, url, canon, canonsz, why, sizeof(why), &at) < 0)
		return fail(err, errlen, "%s",
		            strcmp(why, "not a valid IPv6 address") == 0
		                ? "not a numeric IPv4 or IPv6 address"
		                : why);
	return 0;
}

int target_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *sslen,
                    char *err, size_t errlen)
{
	char buf[TARGET_ADDR_MAX];
	char *zone;

	memset(ss, 0, sizeof(*ss));
	if (!addr || strlen(addr) >= sizeof(buf))
		return fail(err, errlen, "not a numeric address");
	snprintf(buf, sizeof(buf), "%s", addr);
	if ((zone = strchr(buf, '%')))
		*zone++ = '\0';
	if (!zone) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
		if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons(port);
			*sslen = sizeof(*s4);
			return 0;
		}
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;
	if (inet_pton(AF_INET6, buf, &s6->sin6_addr) != 1) {
		memset(ss, 0, sizeof(*ss));
		return fail(err, errlen, "not a numeric address");
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	*sslen = sizeof(*s6);
	if (zone) {
		unsigned idx = if_nametoindex(zone);
		char name[IF_NAMESIZE];

		/* A zone in digits is an interface index, when no interface is named so. */
		if (!idx && *zone && strspn(zone, "0123456789") == strlen(zone) &&
		    strlen(zone) < 10 && if_indextoname((unsigned)strtoul(zone, NULL, 10), name))
			idx = (unsigned)strtoul(zone, NULL, 10);
		if (!idx) {
			memset(ss, 0, sizeof(*ss));
			fail(err, errlen,
			     "no network interface \"%s\" on this host (the zone of %s)", zone,
			     addr);
			return -2;
		}
		s6->sin6_scope_id = idx;
	}
	return 0;
}

const char *target_service(const struct target *t)
{
	if (t->proto == MP_POP3)
		return t->implicit_tls ? "POP3S" : "POP3";
	return t->implicit_tls ? "IMAPS" : "IMAP";
}

void check_defaults(struct check *c)
{
	memset(c, 0, sizeof(*c));
	c->family = AF_UNSPEC;
	c->starttls = STARTTLS_AUTO;
	c->timeout_ms = 30000;
	c->warn_ms = 0;
	c->crit_ms = 0;
	c->min_tls = TLS1_2_VERSION;
	c->cert_warn_days = 14;
	c->cert_crit_days = 7;
	c->cert_life_rule = 1;
	c->posture = POSTURE_REPORT;
}

void check_proto_params(const struct check *c, struct proto_params *pp)
{
	*pp = (struct proto_params){
	    .implicit_tls = c->target.implicit_tls,
	    .starttls = c->starttls,
	    .expect = c->expect,
	    .expect_caps = c->expect_caps,
	    .n_expect_caps = c->n_expect_caps,
	    .login = c->login,
	    .password = c->password,
	    .allow_plaintext_auth = c->allow_plaintext_auth,
	    .posture = c->posture,
	    .login_interval_s = c->login_interval_s,
	};
}
