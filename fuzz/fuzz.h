/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h - what every harness shares: libFuzzer's entry point and CHECK,
 * an assertion that stays on in every build (a failed one is a finding).
 */
#ifndef MP_FUZZ_H
#define MP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

#endif
