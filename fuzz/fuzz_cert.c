/*
 * fuzz_cert.c - libFuzzer harness for what we read out of a server's
 * certificate: subject, issuer, dates, fingerprint and subjectAltNames.
 * Input: DER bytes. The strings must stay NUL-terminated inside their
 * fields and the SAN list printable.
 */
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

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
	X509_free(x);
	return 0;
}
