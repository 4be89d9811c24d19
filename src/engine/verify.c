/* SPDX-License-Identifier: ISC */
/*
 * verify.c - trust store, first-error record and verdict cache for the
 * shared TLS contexts (see verify.h).
 *
 * libssl calls verify_chain() in place of X509_verify_cert() for every
 * handshake of a verifier's context. Contexts run with SSL_VERIFY_NONE:
 * the verdict is recorded, never enforced by libssl, and tls_judge()
 * decides from it.
 */
#include "engine/verify.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/result.h"

/* What verification found for one connection, kept per SSL as app data. */
struct verify_note {
	int code;  /* first X509_V_* error, 0 when none */
	int depth; /* chain depth of that error, -1 when none */
	int reused;
	int64_t spent_us; /* wall time inside verify_chain(), trust store reads included */
};

struct verdict {
	unsigned char key[32];
	int64_t valid_from;  /* latest notBefore in the verified chain */
	int64_t valid_until; /* earliest notAfter in the verified chain */
	int64_t stored;      /* wall clock of the verification */
	int used;
};

/*
 * Direct-mapped by the key's first bytes: a collision evicts, which costs
 * one full verification and never a wrong verdict, since the whole key is
 * compared. Allocated on the first success with VERDICT_SLOTS_MIN slots
 * and grown fourfold while over half full, up to VERDICT_SLOTS (~230 KB):
 * a context per CA file, and most see a handful of servers.
 */
struct verdicts {
	struct verdict *slot;
	size_t cap;  /* slots allocated: 0 or a power of two */
	size_t used; /* slots holding a verdict */
};

/*
 * One per shared SSL_CTX, kept in the context's ex_data and freed by
 * OpenSSL with the context's last reference (ctx_free_cb).
 * lazy_file: the system store's bundle has not been read yet.
 */
struct verifier {
	struct verdicts *verdicts;
	EVP_MD *sha256;
	int reuse;
	int lazy_file;
};

static int note_idx = -1;
static int ctx_idx = -1;

static void note_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static struct verify_note *note_of(X509_STORE_CTX *xs, SSL **sslp)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());

	if (sslp)
		*sslp = ssl;
	return ssl ? SSL_get_ex_data(ssl, note_idx) : NULL;
}

/* Per certificate, called by X509_verify_cert(). */
static int note_cb(int ok, X509_STORE_CTX *xs)
{
	struct verify_note *vn = note_of(xs, NULL);

	if (!ok && vn && vn->code == 0) {
		vn->code = X509_STORE_CTX_get_error(xs);
		vn->depth = X509_STORE_CTX_get_error_depth(xs);
	}
	/* Stop at the first error, as OpenSSL would: that one is the cause. */
	return ok;
}

int64_t verify_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

struct verdicts *verdicts_new(void)
{
	return calloc(1, sizeof(struct verdicts));
}

void verdicts_free(struct verdicts *vs)
{
	if (!vs)
		return;
	free(vs->slot);
	free(vs);
}

static size_t slot_of(const unsigned char key[32], size_t cap)
{
	return ((size_t)key[0] | (size_t)key[1] << 8) & (cap - 1);
}

size_t verdicts_capacity(const struct verdicts *vs)
{
	return vs ? vs->cap : 0;
}

/* Rehash into cap slots (a power of two); keeps the old table when out of memory. */
static void verdicts_resize(struct verdicts *vs, size_t cap)
{
	struct verdict *n = calloc(cap, sizeof(*n));

	if (!n)
		return;
	vs->used = 0;
	for (size_t i = 0; i < vs->cap; i++) {
		struct verdict *v = &vs->slot[i], *d;
		if (!v->used)
			continue;
		d = &n[slot_of(v->key, cap)];
		vs->used += !d->used;
		*d = *v;
	}
	free(vs->slot);
	vs->slot = n;
	vs->cap = cap;
}

int verdict_find(const struct verdicts *vs, const unsigned char key[32], int64_t now)
{
	const struct verdict *v;

	if (!vs || !vs->slot)
		return 0;
	v = &vs->slot[slot_of(key, vs->cap)];
	if (!v->used || memcmp(v->key, key, 32) != 0)
		return 0;
	/* A clock that went back is not trusted to say the verdict is young. */
	if (now < v->stored || now - v->stored >= VERDICT_TTL_S)
		return 0;
	return now >= v->valid_from && now < v->valid_until;
}

void verdict_put(struct verdicts *vs, const unsigned char key[32], int64_t valid_from,
                 int64_t valid_until, int64_t now)
{
	struct verdict *v;

	if (!vs)
		return;
	if (!vs->slot)
		verdicts_resize(vs, VERDICT_SLOTS_MIN);
	else if (vs->used * 2 > vs->cap && vs->cap < VERDICT_SLOTS)
		verdicts_resize(vs, vs->cap * 4 < VERDICT_SLOTS ? vs->cap * 4 : VERDICT_SLOTS);
	if (!vs->slot)
		return; /* out of memory: verify in full next time */
	v = &vs->slot[slot_of(key, vs->cap)];
	vs->used += !v->used;
	memcpy(v->key, key, 32);
	v->valid_from = valid_from;
	v->valid_until = valid_until;
	v->stored = now;
	v->used = 1;
}

static int digest_str(EVP_MD_CTX *md, const char *s)
{
	/* The terminating NUL separates fields: "ab"+"c" differs from "a"+"bc". */
	return EVP_DigestUpdate(md, s ? s : "", s ? strlen(s) + 1 : 1);
}

static int digest_u32(EVP_MD_CTX *md, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};

	return EVP_DigestUpdate(md, b, sizeof(b));
}

/*
 * Everything X509_verify_cert() decides from besides the trust store and
 * the clock: the served certificates in order and the parameters of this
 * connection. The store is the verifier's own; the clock is checked on
 * every reuse.
 */
static int key_of(const EVP_MD *sha256, STACK_OF(X509) * served, X509_VERIFY_PARAM *param,
                  unsigned char key[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *ip = X509_VERIFY_PARAM_get1_ip_asc(param);
	unsigned int len = 0;
	int ok = md && EVP_DigestInit_ex(md, sha256 ? sha256 : EVP_sha256(), NULL) == 1 &&
	         digest_str(md, "mailpulse verdict 1") == 1 &&
	         digest_str(md, X509_VERIFY_PARAM_get0_host(param, 0)) == 1 &&
	         digest_str(md, ip) == 1 &&
	         digest_u32(md, X509_VERIFY_PARAM_get_hostflags(param)) == 1 &&
	         digest_u32(md, (uint32_t)X509_VERIFY_PARAM_get_flags(param)) == 1 &&
	         digest_u32(md, (uint32_t)X509_VERIFY_PARAM_get_auth_level(param)) == 1 &&
	         digest_u32(md, (uint32_t)X509_VERIFY_PARAM_get_depth(param)) == 1 &&
	         digest_u32(md, (uint32_t)sk_X509_num(served)) == 1;

	for (int i = 0; ok && i < sk_X509_num(served); i++) {
		unsigned char *der = NULL;
		int n = i2d_X509(sk_X509_value(served, i), &der);
		ok = n > 0 && digest_u32(md, (uint32_t)n) == 1 &&
		     EVP_DigestUpdate(md, der, (size_t)n) == 1;
		OPENSSL_free(der);
	}
	ok = ok && EVP_DigestFinal_ex(md, key, &len) == 1 && len == 32;
	OPENSSL_free(ip);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

int verdict_key(STACK_OF(X509) * served, X509_VERIFY_PARAM *param, unsigned char key[32])
{
	return key_of(NULL, served, param, key);
}

/* The errors that mean "no trust anchor for this chain in what was searched". */
static int anchor_missing(int code)
{
	return code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
	       code == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
	       code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
}

/*
 * The system store's directory had no anchor: read its bundle file into
 * the store (once per context) and verify again in a fresh X509_STORE_CTX,
 * set up as libssl set up xs, then hand the outcome back to xs, which is
 * what libssl reads.
 */
static int verify_with_bundle(struct verifier *v, X509_STORE_CTX *xs)
{
	X509_STORE *st = X509_STORE_CTX_get0_store(xs);
	X509_LOOKUP *lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());
	SSL *ssl;
	struct verify_note *vn = note_of(xs, &ssl);
	X509_STORE_CTX *x2;
	int ok;

	v->lazy_file = 0;
	/* Reads SSL_CERT_FILE or the default bundle, as SSL_CTX_set_default_verify_paths() would.
	 */
	if (!lu || X509_LOOKUP_load_file(lu, NULL, X509_FILETYPE_DEFAULT) != 1) {
		ERR_clear_error();
		return 0; /* no bundle to read: the first verdict stands */
	}
	x2 = X509_STORE_CTX_new();
	if (!x2 || X509_STORE_CTX_init(x2, st, X509_STORE_CTX_get0_cert(xs),
	                               X509_STORE_CTX_get0_untrusted(xs)) != 1) {
		X509_STORE_CTX_free(x2);
		ERR_clear_error();
		return 0;
	}
	X509_STORE_CTX_set_default(x2, "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(x2), X509_STORE_CTX_get0_param(xs));
	X509_STORE_CTX_set_verify_cb(x2, X509_STORE_CTX_get_verify_cb(xs));
	X509_STORE_CTX_set_ex_data(x2, SSL_get_ex_data_X509_STORE_CTX_idx(), ssl);
	if (vn) {
		vn->code = 0;
		vn->depth = -1;
	}
	ok = X509_verify_cert(x2);
	X509_STORE_CTX_set_error(xs, X509_STORE_CTX_get_error(x2));
	X509_STORE_CTX_set_error_depth(xs, X509_STORE_CTX_get_error_depth(x2));
	X509_STORE_CTX_set_current_cert(xs, X509_STORE_CTX_get_current_cert(x2));
	X509_STORE_CTX_set0_verified_chain(xs, X509_STORE_CTX_get1_chain(x2));
	X509_STORE_CTX_free(x2);
	return ok == 1;
}

/* The window in which every certificate of a verified chain is valid. */
static int chain_window(STACK_OF(X509) * chain, int64_t *from, int64_t *until)
{
	*from = INT64_MIN;
	*until = INT64_MAX;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		int64_t nb = verify_time(X509_get0_notBefore(x));
		int64_t na = verify_time(X509_get0_notAfter(x));
		if (nb == 0 || na == 0)
			return -1; /* dates we cannot read: do not remember this one */
		if (nb > *from)
			*from = nb;
		if (na < *until)
			*until = na;
	}
	return sk_X509_num(chain) > 0 ? 0 : -1;
}

static int chain_verdict(X509_STORE_CTX *xs, struct verifier *v, struct verify_note *vn)
{
	unsigned char key[32];
	int64_t now = (int64_t)time(NULL);
	int keyed = v->reuse && v->verdicts &&
	            key_of(v->sha256, X509_STORE_CTX_get0_untrusted(xs),
	                   X509_STORE_CTX_get0_param(xs), key) == 0;
	int64_t from, until;
	int ok;

	if (keyed && verdict_find(v->verdicts, key, now)) {
		if (vn)
			vn->reused = 1;
		X509_STORE_CTX_set_error(xs, X509_V_OK);
		return 1;
	}
	ok = X509_verify_cert(xs) == 1;
	if (!ok && v->lazy_file && anchor_missing(X509_STORE_CTX_get_error(xs)))
		ok = verify_with_bundle(v, xs);
	if (ok && keyed && chain_window(X509_STORE_CTX_get0_chain(xs), &from, &until) == 0)
		verdict_put(v->verdicts, key, from, until, now);
	ERR_clear_error();
	return ok;
}

/*
 * What libssl calls. The time spent here is the monitor's, not the
 * server's: hashed-directory lookups, the bundle read on a miss and the
 * signature checks. It is recorded so the probe can leave it out of the
 * handshake's time (verify_spent_us()).
 */
static int verify_chain(X509_STORE_CTX *xs, void *arg)
{
	struct verify_note *vn = note_of(xs, NULL);
	int64_t t0 = mp_now_us();
	int ok = chain_verdict(xs, arg, vn);

	if (vn)
		vn->spent_us += mp_now_us() - t0;
	return ok;
}

static void verifier_free(struct verifier *v)
{
	if (!v)
		return;
	verdicts_free(v->verdicts);
	EVP_MD_free(v->sha256);
	free(v);
}

static void ctx_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	verifier_free(ptr);
}

int verify_setup(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen)
{
	struct verifier *v;

	/* Set once before the loop runs; read-only afterwards. */
	if (note_idx < 0)
		note_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, note_free);
	if (ctx_idx < 0)
		ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_free_cb);
	v = calloc(1, sizeof(*v));
	if (!v || note_idx < 0 || ctx_idx < 0 || !(v->verdicts = verdicts_new()) ||
	    SSL_CTX_set_ex_data(ctx, ctx_idx, v) != 1) {
		verifier_free(v);
		snprintf(err, errlen, "out of memory setting up verification");
		return -1;
	}
	/* From here v is the context's: freed with it, on every path. */
	v->reuse = 1;
	/* Fetched once: a digest fetch per handshake is measurable in OpenSSL 3. */
	v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);

	if (ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			unsigned long e = ERR_get_error();
			char buf[256];
			ERR_error_string_n(e, buf, sizeof(buf));
			snprintf(err, errlen, "%s: %s", ca_file, e ? buf : "unknown error");
			ERR_clear_error();
			return -1;
		}
	} else {
		/*
		 * The system store: its hashed directory is searched per
		 * issuer, so only the anchors actually used are read. Reading
		 * the whole bundle up front (what SSL_CTX_set_default_verify_paths
		 * does) costs ~20 ms of CPU, three times a one-shot TLS check.
		 * The bundle is read later if the directory lacks an anchor.
		 */
		X509_LOOKUP *lu =
		    X509_STORE_add_lookup(SSL_CTX_get_cert_store(ctx), X509_LOOKUP_hash_dir());
		if (lu)
			X509_LOOKUP_add_dir(lu, NULL, X509_FILETYPE_DEFAULT);
		ERR_clear_error();
		v->lazy_file = 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, note_cb);
	SSL_CTX_set_cert_verify_callback(ctx, verify_chain, v);
	return 0;
}

void verify_set_reuse(SSL_CTX *ctx, int on)
{
	struct verifier *v = ctx_idx < 0 ? NULL : SSL_CTX_get_ex_data(ctx, ctx_idx);

	if (v)
		v->reuse = on;
}

int verify_ssl_init(SSL *ssl)
{
	struct verify_note *vn = calloc(1, sizeof(*vn));

	if (!vn || SSL_set_ex_data(ssl, note_idx, vn) != 1) {
		free(vn);
		return -1;
	}
	vn->depth = -1;
	return 0;
}

void verify_outcome(SSL *ssl, int *code, int *depth, int *reused)
{
	struct verify_note *vn = SSL_get_ex_data(ssl, note_idx);

	*code = vn && vn->code ? vn->code : (int)SSL_get_verify_result(ssl);
	*depth = vn && vn->code ? vn->depth : -1;
	*reused = vn ? vn->reused : 0;
}

int64_t verify_spent_us(SSL *ssl)
{
	struct verify_note *vn = note_idx < 0 ? NULL : SSL_get_ex_data(ssl, note_idx);

	return vn ? vn->spent_us : 0;
}
