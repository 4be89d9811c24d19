/* SPDX-License-Identifier: ISC */
/*
 * fuzz_node.c - libFuzzer harness for the node protocol's decoders
 * (src/wire/node_json.c), each fed what the other side could send.
 *
 * The first byte picks the document ('A' assignments, 'B' a batch, 'R' a
 * batch's reply, 'H' a heartbeat, 'K' a heartbeat's reply; any other byte
 * by its value modulo 5), the rest is the body. A decoder must never
 * crash, a refusal must say why in printable text, and what it accepts
 * must encode to a body that decodes again and encodes to the same text
 * (for a batch: the results that decoded, rebuilt into a batch). The seeds
 * are the encoders' own documents (test_node_json --seeds, at build time).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/node_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The variable the seeds' "env:" password source names. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("MP_FUZZ_NODE_PW", "fuzz-pw", 1);
	return 0;
}

static void check_err(const char *err)
{
	CHECK(err[0] != '\0');
	for (const char *p = err; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f);
}

static void same(char *a, char *b)
{
	CHECK(a != NULL && b != NULL);
	if (strcmp(a, b) != 0) {
		fprintf(stderr, "fuzz_node: not a fixed point:\n%s\n%s\n", a, b);
		abort();
	}
	free(a);
	free(b);
}

/* An assignment as the controller would send the checks just built. */
static char *assign_again(const struct node_assign *a)
{
	struct node_check_out *out = calloc(a->n + 1, sizeof(*out));
	char *s;

	CHECK(out != NULL);
	for (size_t i = 0; i < a->n; i++) {
		const struct check_spec *sp = a->checks[i].spec;

		out[i] = (struct node_check_out){
		    sp->name, a->checks[i].digest, sp->interval_ms, sp->retry_ms, &sp->chk,
		    NULL,     sp->chk.password};
	}
	s = node_assign_encode(a->node, a->etag, out, a->n);
	free(out);
	return s;
}

static void fuzz_assign(const char *buf, size_t len)
{
	struct node_assign a, b;
	char err[512], *s1, *s2;

	if (node_assign_decode(buf, len, &a, err, sizeof(err)) != 0) {
		check_err(err);
		return;
	}
	s1 = assign_again(&a);
	CHECK(s1 != NULL);
	if (node_assign_decode(s1, strlen(s1), &b, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_node: the encoder's assignment was refused: %s\n%s\n", err,
		        s1);
		abort();
	}
	CHECK(a.n == b.n);
	s2 = assign_again(&b);
	node_assign_clear(&a);
	node_assign_clear(&b);
	same(s1, s2);
}

struct texts {
	char *t[NODE_BATCH_MAX];
	size_t n, bad;
};

static int keep(size_t i, const struct result *r, const struct result_meta *m, const char *err,
                void *arg)
{
	struct texts *x = arg;

	(void)i;
	if (!r) {
		CHECK(err != NULL && m == NULL);
		check_err(err);
		x->bad++;
		return 0;
	}
	CHECK(err == NULL && x->n < NODE_BATCH_MAX);
	x->t[x->n] = result_json_dumps(r, m);
	CHECK(x->t[x->n] != NULL);
	x->n++;
	return 0;
}

static char *batch_again(const struct node_batch_head *h, const struct texts *x)
{
	/* Named after its results, as a node names its batches. */
	struct node_batch_out *b = node_batch_open(h->node, "-", h->sent_ms, h->floor);
	size_t len;

	CHECK(b != NULL);
	for (size_t i = 0; i < x->n; i++)
		CHECK(node_batch_add(b, x->t[i], strlen(x->t[i])) == 0);
	CHECK(node_batch_set_id(b, h->id) == 0);
	return node_batch_close(b, &len);
}

static void texts_free(struct texts *x)
{
	for (size_t i = 0; i < x->n; i++)
		free(x->t[i]);
	x->n = x->bad = 0;
}

static void fuzz_batch(const char *buf, size_t len)
{
	static struct texts x, y;
	struct node_batch_head h, h2;
	char err[512], *s1, *s2;

	if (node_batch_decode(buf, len, &h, keep, &x, err, sizeof(err)) != 0) {
		check_err(err);
		CHECK(x.n == 0 && x.bad == 0);
		return;
	}
	CHECK(x.n + x.bad == h.n);
	s1 = batch_again(&h, &x);
	CHECK(s1 != NULL);
	if (node_batch_decode(s1, strlen(s1), &h2, keep, &y, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_node: the encoder's batch was refused: %s\n", err);
		abort();
	}
	CHECK(y.bad == 0 && y.n == x.n && h2.n == x.n && h2.sent_ms == h.sent_ms);
	CHECK(strcmp(h2.id, h.id) == 0 && h2.floor == h.floor);
	for (size_t i = 0; i < x.n; i++)
		CHECK(strcmp(x.t[i], y.t[i]) == 0);
	s2 = batch_again(&h2, &y);
	texts_free(&x);
	texts_free(&y);
	same(s1, s2);
}

static void fuzz_batch_reply(const char *buf, size_t len)
{
	static struct node_batch_reply r, r2;
	char err[512], *s1, *s2;

	if (node_batch_reply_decode(buf, len, &r, err, sizeof(err)) != 0) {
		check_err(err);
		return;
	}
	s1 = node_batch_reply_encode(&r);
	CHECK(s1 != NULL);
	if (node_batch_reply_decode(s1, strlen(s1), &r2, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_node: the encoder's reply was refused: %s\n%s\n", err, s1);
		abort();
	}
	s2 = node_batch_reply_encode(&r2);
	same(s1, s2);
}

static void fuzz_heartbeat(const char *buf, size_t len)
{
	static struct node_heartbeat hb, hb2;
	char err[512], *s1, *s2;

	if (node_heartbeat_decode(buf, len, &hb, err, sizeof(err)) != 0) {
		check_err(err);
		return;
	}
	s1 = node_heartbeat_encode(&hb);
	CHECK(s1 != NULL);
	if (node_heartbeat_decode(s1, strlen(s1), &hb2, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_node: the encoder's heartbeat was refused: %s\n%s\n", err,
		        s1);
		abort();
	}
	s2 = node_heartbeat_encode(&hb2);
	same(s1, s2);
}

static void fuzz_heartbeat_reply(const char *buf, size_t len)
{
	struct node_heartbeat_reply r, r2;
	char err[512], *s1, *s2;

	if (node_heartbeat_reply_decode(buf, len, &r, err, sizeof(err)) != 0) {
		check_err(err);
		return;
	}
	s1 = node_heartbeat_reply_encode(&r);
	CHECK(s1 != NULL);
	if (node_heartbeat_reply_decode(s1, strlen(s1), &r2, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_node: the encoder's reply was refused: %s\n%s\n", err, s1);
		abort();
	}
	s2 = node_heartbeat_reply_encode(&r2);
	same(s1, s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	int which;

	if (size == 0)
		return 0;
	switch (data[0]) {
	case 'A':
		which = 0;
		break;
	case 'B':
		which = 1;
		break;
	case 'R':
		which = 2;
		break;
	case 'H':
		which = 3;
		break;
	case 'K':
		which = 4;
		break;
	default:
		which = data[0] % 5;
	}
	switch (which) {
	case 0:
		fuzz_assign(buf, len);
		break;
	case 1:
		fuzz_batch(buf, len);
		break;
	case 2:
		fuzz_batch_reply(buf, len);
		break;
	case 3:
		fuzz_heartbeat(buf, len);
		break;
	default:
		fuzz_heartbeat_reply(buf, len);
	}
	return 0;
}
