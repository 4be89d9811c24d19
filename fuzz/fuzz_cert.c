/* SPDX-License-Identifier: ISC */
/*
 * fuzz_cert.c - libFuzzer harness for what we read out of a server's
 * certificate: subject, issuer, dates, fingerprint and subjectAltNames,
 * and the verdict cache's key over it (verify.c re-encodes every served
 * certificate). Input: DER bytes. The strings must stay NUL-terminated
 * inside their fields and the SAN list printable; the key must be the same
 * for the same chain and host, and change with the host.
 */
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "engine/tls.h"
#include "engine/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)size);
	struct cert_facts cf;
	char sans[RESULT_SANS_MAX];

	if (!x)
		return 0;
	memset(&cf, 0xA5, sizeof(cf));
	tls_cert_facts(x, &cf);
	CHECK(memchr(cf.subject, '\0', sizeof(cf.subject)) != NULL);
	CHECK(memchr(cf.issuer, '\0', sizeof(cf.issuer)) != NULL);
	CHECK(memchr(cf.sha256, '\0', sizeof(cf.sha256)) != NULL);
	tls_cert_sans(x, sans, sizeof(sans));
	CHECK(memchr(sans, '\0', sizeof(sans)) != NULL);
	for (const char *s = sans; *s; s++)
		CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);

	STACK_OF(X509) *sk = sk_X509_new_null();
	X509_VERIFY_PARAM *pa = X509_VERIFY_PARAM_new(), *pb = X509_VERIFY_PARAM_new();
	unsigned char k1[32], k2[32], k3[32];
	CHECK(sk && pa && pb && sk_X509_push(sk, x) > 0 && sk_X509_push(sk, x) > 0);
	CHECK(X509_VERIFY_PARAM_set1_host(pa, "mail.example.com", 0) == 1);
	CHECK(X509_VERIFY_PARAM_set1_host(pb, "mail.example.org", 0) == 1);
	/* A certificate OpenSSL parsed but cannot encode again has no key: never reused. */
	if (verdict_key(sk, pa, k1) == 0) {
		CHECK(verdict_key(sk, pa, k2) == 0 && memcmp(k1, k2, 32) == 0);
		CHECK(verdict_key(sk, pb, k3) == 0 && memcmp(k1, k3, 32) != 0);
	}
	sk_X509_free(sk);
	X509_VERIFY_PARAM_free(pa);
	X509_VERIFY_PARAM_free(pb);
	X509_free(x);
	return 0;
}
