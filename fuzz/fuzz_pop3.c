/* SPDX-License-Identifier: ISC */
/*
 * fuzz_pop3.c - libFuzzer harness for the POP3 core: the same driver and
 * input format as fuzz_imap.c, with the other core.
 */
#define FUZZ_OPS pop3_ops
#include "fuzz_imap.c"
