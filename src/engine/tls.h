/* SPDX-License-Identifier: ISC */
/*
 * tls.h - TLS contexts, per-connection setup and certificate facts.
 *
 * One SSL_CTX per distinct (CA file, minimum version) is shared by every
 * probe: loading trust stores and fetching algorithms once is most of what
 * makes a TLS probe cheap.
 */
#ifndef MP_TLS_H
#define MP_TLS_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "core/result.h"
#include "spec/target.h"

struct tls_cache;

struct tls_cache *tls_cache_new(void);
void tls_cache_free(struct tls_cache *tc);
/*
 * Reuse verdicts of chains verified before (on by default; see verify.h).
 * Off only for benchmarks and tests that compare with full verification.
 */
void tls_cache_set_reuse(struct tls_cache *tc, int on);

/* The shared context for c's CA file and minimum version; NULL with err on failure. */
SSL_CTX *tls_ctx_get(struct tls_cache *tc, const struct check *c, char *err, size_t errlen);

/* A client SSL with SNI and host name verification set for c. NULL with err on failure. */
SSL *tls_ssl_new(SSL_CTX *ctx, const struct check *c, char *err, size_t errlen);

/*
 * After a completed handshake: fill r->tls (version, cipher, chain as
 * served, SANs, fingerprints, verification), then judge it: verification
 * failures are down with their cert_* reason (unless c->insecure), expiry
 * within c->cert_crit_days is down and within c->cert_warn_days (or under
 * a third of a leaf's life left) is degraded, cert_expiring. now is wall
 * clock time (unix seconds). Returns 0 when the connection may be used.
 */
int tls_judge(SSL *ssl, const struct check *c, struct result *r, int64_t now);

/*
 * The part of ssl's handshake time that was the monitor's own work: the
 * chain verification with its trust store lookups (the system store's
 * bundle is read there on a directory miss). Microseconds; the probe
 * subtracts it from the `tls` phase, so a slow trust store never makes a
 * healthy server look slow.
 */
int64_t tls_own_us(SSL *ssl);

/*
 * Facts of one certificate, and its subjectAltNames ("DNS:a, IP:b"). The
 * certificate is the server's: names are printed escaped, SANs with
 * unprintable bytes replaced. Exposed for the fuzzers.
 */
void tls_cert_facts(X509 *x, struct cert_facts *cf);
void tls_cert_sans(X509 *x, char *dst, size_t dstsz);

/*
 * A handshake failed: name why. implicit: TLS from the first byte, not STARTTLS. err is the first
 * OpenSSL error code (or 0), raw the first bytes the server sent (may be a plaintext greeting on a
 * TLS port), sys_errno the socket error if any.
 */
void tls_handshake_failed(struct result *r, int implicit, unsigned long err, const char *raw,
                          size_t rawlen, int sys_errno);

#endif
