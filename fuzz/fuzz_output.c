/* SPDX-License-Identifier: ISC */
/*
 * fuzz_output.c - libFuzzer harness for the outputs: a result whose
 * server-supplied fields (greeting, capabilities, message, warnings,
 * certificate names) hold arbitrary bytes must give valid JSON, and human
 * and Nagios text without control bytes other than newlines.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/output.h"

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
	dst[k] = '\0'; /* fields are C strings: bytes after a NUL are invisible */
}

static void check_text(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];
		CHECK(ch == '\n' || ch >= 0x20);
		CHECK(ch != 0x7f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct result r;
	struct check c;
	char err[128];
	char *buf = NULL;
	size_t len = 0;

	if (size < 2)
		return 0;
	check_defaults(&c);
	if (target_parse(&c.target, "imaps://mail.example.com", err, sizeof(err)) != 0)
		abort();
	result_init(&r, 0);
	r.status = (enum mp_status)(data[0] % 4);
	r.reason = (enum mp_reason)(data[1] % MP_R__COUNT);
	data += 2;
	size -= 2;
	take(&data, &size, r.greeting, sizeof(r.greeting));
	take(&data, &size, r.capabilities, sizeof(r.capabilities));
	take(&data, &size, r.message, sizeof(r.message));
	take(&data, &size, r.warnings[0], sizeof(r.warnings[0]));
	r.nwarnings = 1;
	r.tls.used = size > 0 && data[0] & 1;
	take(&data, &size, r.tls.chain[0].subject, sizeof(r.tls.chain[0].subject));
	take(&data, &size, r.tls.chain[0].issuer, sizeof(r.tls.chain[0].issuer));
	take(&data, &size, r.tls.sans, sizeof(r.tls.sans));
	take(&data, &size, r.address, sizeof(r.address));
	r.tls.chain_len = 1;
	r.phase_us[MP_PH_TOTAL] = 1234;

	json_t *j = output_json(&c, &r);
	CHECK(j != NULL);
	char *s = json_dumps(j, JSON_COMPACT);
	CHECK(s != NULL);
	json_error_t jerr;
	json_t *back = json_loads(s, 0, &jerr);
	CHECK(back != NULL);
	json_decref(back);
	free(s);
	json_decref(j);

	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	output_human(f, &c, &r, 1);
	output_nagios(f, &c, &r);
	CHECK(fclose(f) == 0);
	check_text(buf, len);
	free(buf);
	return 0;
}
