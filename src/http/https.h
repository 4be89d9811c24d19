/* SPDX-License-Identifier: ISC */
/*
 * https.h - TLS for the daemon's HTTP listener: the server context made
 * from the certificate chain and key a conf holds (http.tls_cert and
 * tls_key, read and checked by the loader), and one OpenSSL bufferevent
 * per accepted connection, handed to evhttp by http.c.
 *
 * A context is made by https_ctx_new() and freed with SSL_CTX_free(); each
 * connection's SSL holds its own reference, so a reload can replace the
 * context while connections made with the old one go on.
 */
#ifndef MP_HTTPS_H
#define MP_HTTPS_H

#include <openssl/types.h>
#include <stddef.h>

struct bufferevent;
struct conf;
struct event_base;

/*
 * TLS 1.2 and 1.3 only, forward-secret AEAD suites, no compression, no
 * renegotiation, ALPN http/1.1. NULL with err filled ("http.tls_cert FILE:
 * ...") when the conf's certificate or key cannot be used.
 */
SSL_CTX *https_ctx_new(const struct conf *conf, char *err, size_t errlen);
/* "CN=..., SHA-256 AB:CD:..., valid until 2027-01-31": what a log line says of it. */
void https_describe(SSL_CTX *ctx, char *buf, size_t len);
/* An accepting SSL bufferevent with no socket yet (evhttp gives it one). NULL: out of memory. */
struct bufferevent *https_bev_new(struct event_base *base, SSL_CTX *ctx);
/* 1 while the TLS handshake of bev is not complete. */
int https_handshaking(struct bufferevent *bev);
/* Why TLS failed on bev (the errors libevent kept for it, taken), or NULL when it did not. */
const char *https_failure(struct bufferevent *bev, char *buf, size_t len);

#endif
