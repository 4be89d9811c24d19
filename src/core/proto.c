/*
 * proto.c - the command queue shared by the protocol cores.
 */
#include "core/proto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

int proto_out_add_plain(struct proto_out *o, const char *prefix, const char *login,
                        const char *password)
{
	unsigned char raw[PROTO_PLAIN_MAX];
	unsigned char b64[(PROTO_PLAIN_MAX + 2) / 3 * 4 + 1];
	const char *pass = password ? password : "";
	size_t ul = strlen(login), pl = strlen(pass);
	int rc = -1;

	if (ul + pl + 2 <= sizeof(raw)) {
		raw[0] = '\0';
		memcpy(raw + 1, login, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, pass, pl);
		EVP_EncodeBlock(b64, raw, (int)(ul + pl + 2));
		rc = proto_out_add(o, "%s%s\r\n", prefix, (const char *)b64);
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(b64, sizeof(b64));
	return rc;
}
