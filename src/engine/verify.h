/* SPDX-License-Identifier: ISC */
/*
 * verify.h - certificate chain verification for the shared TLS contexts.
 *
 * Three things live here because they all sit where libssl hands us a
 * served chain to verify:
 *   - the trust store: a CA file, loaded at once, or the system store,
 *     looked up lazily in its hashed directory and read whole from its
 *     bundle file only when the directory had no anchor for a chain;
 *   - the record of the first verification error of each connection, so
 *     the handshake completes and the probe can report what was served;
 *   - a cache of successful verdicts: a chain verified before, byte for
 *     byte, for the same host name, is not verified again until its
 *     earliest notAfter (checked against the clock on every reuse) or an
 *     hour has passed. Failures are never cached.
 */
#ifndef MP_VERIFY_H
#define MP_VERIFY_H

#include <openssl/ssl.h>
#include <stdint.h>

/*
 * Set ctx up to verify against ca_file (NULL: the system store). What this
 * needs (store state, verdicts) belongs to ctx and is freed with its last
 * reference, so connections still open keep it alive after the caller has
 * dropped ctx (a reload). -1 with err when the CA file cannot be loaded.
 */
int verify_setup(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen);

/* Turn the verdict cache off or on (on by default). For benchmarks and tests. */
void verify_set_reuse(SSL_CTX *ctx, int on);

/* Prepare ssl, made from a context set up above, for verification. -1 when out of memory. */
int verify_ssl_init(SSL *ssl);

/*
 * How ssl's chain fared: the X509_V_* code (0: verified), the chain depth of
 * the first error (-1 when none), and whether the verdict was reused.
 */
void verify_outcome(SSL *ssl, int *code, int *depth, int *reused);

/*
 * Wall time (microseconds) ssl's handshakes spent in our own chain
 * verification: trust store lookups, the bundle read when the system
 * store's directory had no anchor, and the signature checks. The
 * monitor's cost, not the server's: the probe leaves it out of `tls`.
 */
int64_t verify_spent_us(SSL *ssl);

/* Unix seconds of a certificate time; 0 when unparsable. */
int64_t verify_time(const ASN1_TIME *t);

/*
 * The verdict cache itself, exposed for its unit tests. A key is the
 * SHA-256 of the host name, IP address and flags being verified and of
 * every served certificate in order.
 */
#define VERDICT_SLOTS_MIN 64   /* first allocation */
#define VERDICT_SLOTS     4096 /* most; both powers of two */
#define VERDICT_TTL_S     3600

struct verdicts;

struct verdicts *verdicts_new(void);
void verdicts_free(struct verdicts *vs);
size_t verdicts_capacity(const struct verdicts *vs);
int verdict_key(STACK_OF(X509) * served, X509_VERIFY_PARAM *param, unsigned char key[32]);
/* 1 when key was stored, is younger than the TTL and every certificate is valid at now. */
int verdict_find(const struct verdicts *vs, const unsigned char key[32], int64_t now);
/* Remember a success at now for a chain valid from valid_from to valid_until (unix s). */
void verdict_put(struct verdicts *vs, const unsigned char key[32], int64_t valid_from,
                 int64_t valid_until, int64_t now);

#endif
