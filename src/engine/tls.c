/* SPDX-License-Identifier: ISC */
/*
 * tls.c - shared SSL_CTXs, per-connection setup, certificate facts and the
 * verdicts drawn from them.
 *
 * Verification (verify.c) runs with SSL_VERIFY_NONE and records the first
 * error: the handshake always completes, so we can report what the
 * server served (version, chain, dates) even when it is not trusted, and
 * then judge it ourselves. --insecure only skips that judgement.
 */
#include "engine/tls.h"

#include "core/line.h"
#include "engine/verify.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * One context per distinct (CA file, minimum version). A linear list: a
 * run has one or a handful of combinations, so O(N) lookups are fine.
 */
struct tls_entry {
	struct tls_entry *next;
	char *ca_file; /* NULL: the system store */
	int min_tls;
	SSL_CTX *ctx; /* one reference; connections still open hold their own */
};

struct tls_cache {
	struct tls_entry *head;
	int no_reuse;
};

struct tls_cache *tls_cache_new(void)
{
	return calloc(1, sizeof(struct tls_cache));
}

void tls_cache_free(struct tls_cache *tc)
{
	if (!tc)
		return;
	for (struct tls_entry *e = tc->head, *n; e; e = n) {
		n = e->next;
		SSL_CTX_free(e->ctx);
		free(e->ca_file);
		free(e);
	}
	free(tc);
}

void tls_cache_set_reuse(struct tls_cache *tc, int on)
{
	tc->no_reuse = !on;
	for (struct tls_entry *e = tc->head; e; e = e->next)
		verify_set_reuse(e->ctx, on);
}

static void ssl_errstr(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "unknown error");
	ERR_clear_error();
}

SSL_CTX *tls_ctx_get(struct tls_cache *tc, const struct check *c, char *err, size_t errlen)
{
	for (struct tls_entry *e = tc->head; e; e = e->next) {
		if (e->min_tls != c->min_tls)
			continue;
		if ((e->ca_file == NULL) != (c->ca_file == NULL))
			continue;
		if (e->ca_file && strcmp(e->ca_file, c->ca_file) != 0)
			continue;
		return e->ctx;
	}

	/*
	 * No clean-up at exit: the process is ending and freeing OpenSSL's
	 * tables costs a one-shot check a few percent of its CPU. Only the
	 * first initialisation decides, and TLS is the first use here.
	 */
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_errstr(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, c->min_tls);
	/* A probe never resumes: no session cache to grow. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (verify_setup(ctx, c->ca_file, err, errlen) != 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	verify_set_reuse(ctx, !tc->no_reuse);

	struct tls_entry *e = calloc(1, sizeof(*e));
	if (!e || (c->ca_file && !(e->ca_file = strdup(c->ca_file)))) {
		free(e);
		SSL_CTX_free(ctx);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->min_tls = c->min_tls;
	e->ctx = ctx;
	e->next = tc->head;
	tc->head = e;
	return ctx;
}

static int is_ip_literal(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

SSL *tls_ssl_new(SSL_CTX *ctx, const struct check *c, char *err, size_t errlen)
{
	const char *name = c->sni ? c->sni : c->target.host;
	SSL *ssl = SSL_new(ctx);

	if (!ssl || verify_ssl_init(ssl) < 0) {
		SSL_free(ssl);
		snprintf(err, errlen, "out of memory creating a TLS session");
		return NULL;
	}

	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	char ip[TARGET_HOST_MAX];
	int ok;
	/* A link-local address's zone ("%eth0") names our interface; certificates hold no zone. */
	snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(name, "%"), name);
	if (is_ip_literal(ip)) {
		/* RFC 6066: no IP literals in SNI; verify the address as an iPAddress SAN. */
		ok = X509_VERIFY_PARAM_set1_ip_asc(param, ip);
	} else {
		/* The SNI macro casts away const; hand it a copy of its own. */
		char sni[TARGET_HOST_MAX];
		snprintf(sni, sizeof(sni), "%s", name);
		ok = SSL_set_tlsext_host_name(ssl, sni) == 1 && SSL_set1_host(ssl, name) == 1;
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	if (ok != 1) {
		ssl_errstr(err, errlen, "setting the TLS server name");
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

int64_t tls_own_us(SSL *ssl)
{
	return verify_spent_us(ssl);
}

static void name_str(X509_NAME *n, char *dst, size_t dstsz)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	dst[0] = '\0';
	if (!b)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(b, &p);
		if (len > 0) {
			size_t l = (size_t)len < dstsz - 1 ? (size_t)len : dstsz - 1;
			memcpy(dst, p, l);
			dst[l] = '\0';
		}
	}
	BIO_free(b);
}

void tls_cert_facts(X509 *x, struct cert_facts *cf)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	name_str(X509_get_subject_name(x), cf->subject, sizeof(cf->subject));
	name_str(X509_get_issuer_name(x), cf->issuer, sizeof(cf->issuer));
	cf->not_before = verify_time(X509_get0_notBefore(x));
	cf->not_after = verify_time(X509_get0_notAfter(x));
	cf->sha256[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
		for (unsigned int i = 0; i < mdlen && i < 32; i++)
			snprintf(cf->sha256 + 2 * i, 3, "%02x", md[i]);
	}
}

void tls_cert_sans(X509 *x, char *dst, size_t dstsz)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t o = 0;

	dst[0] = '\0';
	if (!gens)
		return;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char item[300];

		item[0] = '\0';
		if (g->type == GEN_DNS) {
			const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
			int l = ASN1_STRING_length(g->d.dNSName);
			/* A SAN is attacker-controlled too: keep it printable. */
			snprintf(item, sizeof(item), "DNS:");
			size_t k = 4;
			for (int j = 0; j < l && k < sizeof(item) - 1; j++)
				item[k++] = (s[j] >= 0x21 && s[j] < 0x7f) ? (char)s[j] : '?';
			item[k] = '\0';
		} else if (g->type == GEN_IPADD) {
			const unsigned char *s = ASN1_STRING_get0_data(g->d.iPAddress);
			int l = ASN1_STRING_length(g->d.iPAddress);
			char ip[INET6_ADDRSTRLEN];
			if ((l == 4 && inet_ntop(AF_INET, s, ip, sizeof(ip))) ||
			    (l == 16 && inet_ntop(AF_INET6, s, ip, sizeof(ip))))
				snprintf(item, sizeof(item), "IP:%s", ip);
		}
		if (!item[0])
			continue;
		int n = snprintf(dst + o, dstsz - o, "%s%s", o ? ", " : "", item);
		if (n < 0 || (size_t)n >= dstsz - o) {
			dst[o] = '\0';
			break;
		}
		o += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void fmt_date(int64_t t, char *dst, size_t dstsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(dst, dstsz, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(dst, dstsz, "?");
}

static int is_self_issued(X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

/* Whether x names a URL for its issuer's certificate (AIA caIssuers). */
static int has_ca_issuers(X509 *x)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	int found = 0;

	for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++)
		if (OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, i)->method) == NID_ad_ca_issuers)
			found = 1;
	AUTHORITY_INFO_ACCESS_free(aia);
	return found;
}

/* Map a verification error to a reason and a sentence. */
static void judge_verify(const struct tls_facts *t, STACK_OF(X509) * chain, int code, int depth,
                         struct result *r)
{
	const struct cert_facts *cf =
	    (depth >= 0 && depth < t->chain_len) ? &t->chain[depth] : &t->chain[0];
	char date[40];

	switch (code) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		fmt_date(cf->not_after, date, sizeof(date));
		result_fail(r, MP_R_CERT_EXPIRED, "certificate '%s' expired on %s", cf->subject,
		            date);
		return;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		fmt_date(cf->not_before, date, sizeof(date));
		result_fail(r, MP_R_CERT_NOT_YET_VALID, "certificate '%s' is not valid before %s",
		            cf->subject, date);
		return;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		result_fail(r, MP_R_CERT_HOSTNAME,
		            "certificate '%s' does not match the host name (it names: %s)",
		            t->chain[0].subject, t->sans[0] ? t->sans : "no subjectAltName");
		return;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: {
		/*
		 * The top of the served chain names an issuer we neither got nor
		 * trust. When that top certificate is a leaf that publishes
		 * where its issuer can be fetched (AIA caIssuers, as public CAs
		 * do), the issuer is an intermediate the server forgot to send.
		 * A leaf without AIA is most often from a private CA we were
		 * not told to trust: that is untrusted, and the message says
		 * both possibilities.
		 */
		int top = sk_X509_num(chain) - 1;
		X509 *x = top >= 0 ? sk_X509_value(chain, top) : NULL;
		int ti = top >= 0 && top < RESULT_CHAIN_MAX ? top : 0;
		if (x && !is_self_issued(x) && X509_check_ca(x) == 0) {
			if (has_ca_issuers(x)) {
				result_fail(r, MP_R_CERT_INCOMPLETE_CHAIN,
				            "server sent %d certificate(s); the intermediate '%s' "
				            "that issued '%s' is missing from the server's chain",
				            t->chain_len, t->chain[ti].issuer,
				            t->chain[ti].subject);
				return;
			}
			result_fail(r, MP_R_CERT_UNTRUSTED,
			            "certificate '%s' not trusted: its issuer '%s' is unknown (a "
			            "private CA needs --ca-file; an intermediate would be missing "
			            "from the server's chain)",
			            t->chain[ti].subject, t->chain[ti].issuer);
			return;
		}
		break;
	}
	default:
		break;
	}
	result_fail(r, MP_R_CERT_UNTRUSTED, "certificate '%s' not trusted: %s (depth %d)",
	            cf->subject, X509_verify_cert_error_string(code), depth);
}

int tls_judge(SSL *ssl, const struct check *c, struct result *r, int64_t now)
{
	struct tls_facts *t = &r->tls;
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	const SSL_CIPHER *ciph = SSL_get_current_cipher(ssl);

	t->used = 1;
	snprintf(t->version, sizeof(t->version), "%s", SSL_get_version(ssl));
	snprintf(t->cipher, sizeof(t->cipher), "%s", ciph ? SSL_CIPHER_get_name(ciph) : "");

	int n = chain ? sk_X509_num(chain) : 0;
	t->chain_len = n < RESULT_CHAIN_MAX ? n : RESULT_CHAIN_MAX;
	t->earliest = 0;
	for (int i = 0; i < t->chain_len; i++) {
		tls_cert_facts(sk_X509_value(chain, i), &t->chain[i]);
		if (t->chain[i].not_after < t->chain[t->earliest].not_after)
			t->earliest = i;
	}
	if (n == 0) {
		result_fail(r, MP_R_CERT_UNTRUSTED, "server sent no certificate");
		return -1;
	}
	tls_cert_sans(sk_X509_value(chain, 0), t->sans, sizeof(t->sans));
	t->days_left = floor_div(t->chain[t->earliest].not_after - now, 86400);

	int code, depth, reused;
	verify_outcome(ssl, &code, &depth, &reused);
	t->verify_code = code;
	t->verify_depth = depth;
	t->verify_reused = reused;
	t->verified = code == X509_V_OK;
	snprintf(t->verify_msg, sizeof(t->verify_msg), "%s", X509_verify_cert_error_string(code));

	if (!t->verified) {
		if (!c->insecure) {
			judge_verify(t, chain, code, t->verify_depth, r);
			return -1;
		}
		result_warn(r, "certificate not verified (--insecure): %s", t->verify_msg);
	}

	const struct cert_facts *e = &t->chain[t->earliest];
	if (t->days_left < 0)
		return 0; /* verification already named it, or --insecure said to go on */
	if (c->cert_crit_days > 0 && t->days_left < c->cert_crit_days) {
		/* Critical for the admin, but users still connect: not down. */
		result_critical(r, MP_R_CERT_EXPIRING,
		                "certificate '%s' expires in %lld days (< %d)", e->subject,
		                (long long)t->days_left, c->cert_crit_days);
	} else if (c->cert_warn_days > 0 && t->days_left < c->cert_warn_days) {
		result_worsen(r, MP_DEGRADED, MP_R_CERT_EXPIRING,
		              "certificate '%s' expires in %lld days (< %d)", e->subject,
		              (long long)t->days_left, c->cert_warn_days);
	} else if (c->cert_life_rule) {
		/*
		 * Short-lived certificates (ACME) renew at two thirds of their
		 * life; less than a third left means renewal has failed. Off when
		 * the admin set a warning horizon of their own (check_defaults).
		 */
		const struct cert_facts *leaf = &t->chain[0];
		int64_t life = leaf->not_after - leaf->not_before;
		if (life > 0 && (leaf->not_after - now) * 3 < life)
			result_worsen(r, MP_DEGRADED, MP_R_CERT_EXPIRING,
			              "certificate '%s' has under a third of its %lld-day life "
			              "left (%lld days): renewal has likely failed",
			              leaf->subject, (long long)(life / 86400),
			              (long long)floor_div(leaf->not_after - now, 86400));
	}
	return 0;
}

/* True when the server's first bytes read like a plaintext mail greeting. */
static int looks_like_text(const char *raw, size_t n)
{
	if (n < 3)
		return 0;
	for (size_t i = 0; i < n && i < 16; i++) {
		unsigned char ch = (unsigned char)raw[i];
		if (ch != '\r' && ch != '\n' && (ch < 0x20 || ch > 0x7e))
			return 0;
	}
	return 1;
}

void tls_handshake_failed(struct result *r, int implicit, unsigned long err, const char *raw,
                          size_t rawlen, int sys_errno)
{
	char shown[160];
	char estr[256];
	int reason = ERR_GET_REASON(err);

	if (looks_like_text(raw, rawlen)) {
		line_escape(shown, sizeof(shown), raw, rawlen);
		if (implicit)
			result_fail(r, MP_R_TLS_HANDSHAKE,
			            "server answered in plaintext on a TLS port: '%s' (is this the "
			            "plain port? try the plain scheme with STARTTLS)",
			            shown);
		else
			result_fail(r, MP_R_TLS_HANDSHAKE,
			            "server kept talking plaintext after accepting STARTTLS: '%s'",
			            shown);
		return;
	}

	if (err) {
		ERR_error_string_n(err, estr, sizeof(estr));
	} else if (sys_errno) {
		snprintf(estr, sizeof(estr), "%s", strerror(sys_errno));
	} else {
		snprintf(estr, sizeof(estr), "connection closed by the server");
	}

	switch (reason) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_VERSION_TOO_LOW:
		result_fail(r, MP_R_TLS_VERSION,
		            "no common TLS version: the server offers only versions below our "
		            "minimum (%s)",
		            estr);
		return;
	default:
		result_fail(r, MP_R_TLS_HANDSHAKE, "TLS handshake failed: %s", estr);
	}
}
