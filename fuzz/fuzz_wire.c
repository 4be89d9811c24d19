/* SPDX-License-Identifier: ISC */
/*
 * fuzz_wire.c - libFuzzer harness for the result's JSON (src/wire/result_json.c).
 *
 * Input starting with '{' goes to the decoder, as bytes from another node
 * would: it must never crash, a refusal must say why in printable text,
 * and what it accepts must encode, decode again and encode to the same
 * text. Other input fills a result's fields with arbitrary bytes, as a
 * hostile server could, and what the encoder writes of it must decode.
 * The seeds are the encoder's own output (test_wire --seeds, at build time).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/result_json.h"

static void check_err(const char *err)
{
	CHECK(err[0] != '\0');
	for (const char *p = err; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f);
}

/* Encode, decode, encode: the decoder takes the encoder's text, and it is a fixed point. */
static void round_trip(const struct result *r, const struct result_meta *m)
{
	static struct result r2;
	static struct result_meta m2;
	char err[256];
	char *s1 = result_json_dumps(r, m), *s2;

	CHECK(s1 != NULL);
	if (result_json_decode(s1, strlen(s1), &r2, &m2, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_wire: the decoder refused the encoder's text: %s\n%s\n", err,
		        s1);
		abort();
	}
	s2 = result_json_dumps(&r2, &m2);
	CHECK(s2 != NULL);
	CHECK(strcmp(s1, s2) == 0);
	free(s1);
	free(s2);
}

/* Take the next piece of input (up to a 0xff byte) into a fixed field. */
static void take(const uint8_t **d, size_t *n, char *dst, size_t dstsz)
{
	size_t k = 0;

	while (*n > 0 && **d != 0xff && k + 1 < dstsz) {
		dst[k++] = (char)**d;
		(*d)++;
		(*n)--;
	}
	if (*n > 0 && **d == 0xff) {
		(*d)++;
		(*n)--;
	}
	dst[k] = '\0';
}

/* The next nbytes bytes (fewer at the end) as a big-endian number, as 64 bits signed. */
static int64_t take_int(const uint8_t **d, size_t *n, int nbytes)
{
	uint64_t v = 0;

	for (int i = 0; i<nbytes && * n> 0; i++) {
		v = v << 8 | **d;
		(*d)++;
		(*n)--;
	}
	return (int64_t)v;
}

static void encode_hostile(const uint8_t *d, size_t n)
{
	static struct result r;
	static struct result_meta m;

	result_init(&r, 0);
	memset(&m, 0, sizeof(m));
	snprintf(m.target, sizeof(m.target), "imaps://mail.example.com:993");
	r.status = (enum mp_status)(d[0] % 4);
	r.severity = result_default_severity(r.status);
	r.reason = r.status == MP_UP ? MP_R_OK : (enum mp_reason)(1 + d[0] % (MP_R__COUNT - 1));
	d++;
	n--;
	take(&d, &n, r.message, sizeof(r.message));
	take(&d, &n, r.greeting, sizeof(r.greeting));
	take(&d, &n, r.capabilities, sizeof(r.capabilities));
	take(&d, &n, r.address, sizeof(r.address));
	take(&d, &n, r.warnings[0], sizeof(r.warnings[0]));
	r.nwarnings = 1;
	r.phase_us[MP_PH_TOTAL] = take_int(&d, &n, 8);
	r.probe_ms = take_int(&d, &n, 6);
	r.messages = take_int(&d, &n, 8);
	r.tls.days_left = take_int(&d, &n, 8);
	r.tls.verify_depth = (int)take_int(&d, &n, 4);
	r.tls.used = n > 0 && (d[0] & 1);
	r.tls.verify_code = n > 0 && (d[0] & 2) ? 20 : 0;
	take(&d, &n, r.tls.verify_msg, sizeof(r.tls.verify_msg));
	take(&d, &n, r.tls.version, sizeof(r.tls.version));
	take(&d, &n, r.tls.sans, sizeof(r.tls.sans));
	r.tls.chain_len = 2;
	for (int i = 0; i < 2; i++) {
		take(&d, &n, r.tls.chain[i].subject, sizeof(r.tls.chain[i].subject));
		take(&d, &n, r.tls.chain[i].issuer, sizeof(r.tls.chain[i].issuer));
		r.tls.chain[i].not_after = take_int(&d, &n, 8);
	}
	r.naddrs = 1;
	take(&d, &n, r.addrs[0].address, sizeof(r.addrs[0].address));
	take(&d, &n, r.addrs[0].message, sizeof(r.addrs[0].message));
	round_trip(&r, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct result r;
	static struct result_meta m;
	char err[256];

	if (size == 0)
		return 0;
	if (data[0] != '{') {
		encode_hostile(data, size);
		return 0;
	}
	if (result_json_decode((const char *)data, size, &r, &m, err, sizeof(err)) != 0) {
		check_err(err);
		return 0;
	}
	round_trip(&r, &m);
	return 0;
}
