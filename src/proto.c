/*
 * proto.c - the command queue shared by the protocol cores.
 */
#include "proto.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>

int proto_out_add(struct proto_out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(o->buf) - o->len;

	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		/* Wipe the partial write: it may hold part of a password. */
		OPENSSL_cleanse(o->buf + o->len, room);
		return -1;
	}
	o->len += (size_t)n;
	return 0;
}

void proto_out_clear(struct proto_out *o)
{
	OPENSSL_cleanse(o->buf, o->len);
	o->len = 0;
}
