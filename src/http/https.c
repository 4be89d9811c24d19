/* SPDX-License-Identifier: ISC */
/*
 * https.c - TLS for the daemon's HTTP listener (see https.h).
 *
 * The certificate chain and key come from the conf as PEM text, read and
 * checked once by the loader (src/conf/top.c): the server serves exactly
 * what was checked, and a file replaced between the check and the start
 * cannot slip in unchecked.
 *
 * libevent 2.1 with OpenSSL 3: a client that closes without close_notify
 * makes OpenSSL 3 report SSL_R_UNEXPECTED_EOF_WHILE_READING, which
 * libevent 2.1.12 takes for a protocol error rather than an end of file.
 * HTTP/1.1 frames every request itself (a request cut short is incomplete
 * whatever TLS says), so SSL_OP_IGNORE_UNEXPECTED_EOF and libevent's
 * allow_dirty_shutdown make such a close an ordinary end of file.
 */
#include "http/https.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"

/* Mozilla's "intermediate" TLS 1.2 suites: ECDHE and AEAD only. TLS 1.3's are all fine. */
#define HTTPS_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* OpenSSL's reason for the last error; the queue is emptied. */
static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown error";
}

/* The chain, leaf first, into ctx. 0, or -1 with err filled. */
static int use_chain(SSL_CTX *ctx, const struct conf *conf, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(conf->http_tls_cert_pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int rc = -1;

	if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
		snprintf(err, errlen, "http.tls_cert %.300s: %s", conf->http_tls_cert,
		         ossl_reason());
		goto out;
	}
	X509_free(x);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) { /* takes x when it succeeds */
			X509_free(x);
			snprintf(err, errlen, "http.tls_cert %.300s: %s", conf->http_tls_cert,
			         ossl_reason());
			goto out;
		}
	rc = 0;
out:
	ERR_clear_error(); /* the end of the text is an error too: PEM_R_NO_START_LINE */
	BIO_free(b);
	return rc;
}

static int use_key(SSL_CTX *ctx, const struct conf *conf, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(conf->http_tls_key_pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"") : NULL;
	int rc = -1;

	BIO_free(b);
	if (!k || SSL_CTX_use_PrivateKey(ctx, k) != 1)
		snprintf(err, errlen, "http.tls_key %.300s: %s", conf->http_tls_key, ossl_reason());
	else if (SSL_CTX_check_private_key(ctx) != 1)
		snprintf(err, errlen, "http.tls_key %.300s: not the key of the certificate: %s",
		         conf->http_tls_key, ossl_reason());
	else
		rc = 0;
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}

/* HTTP/1.1 when the client offers it (curl offers h2 first); otherwise no ALPN at all. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *https_ctx_new(const struct conf *conf, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (!conf->http_tls_cert_pem || !conf->http_tls_key_pem) {
		snprintf(err, errlen, "http: TLS needs both tls_cert and tls_key");
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "http: TLS: %s", ossl_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * No server-side session cache: its memory would grow with every
	 * client; TLS 1.3 tickets resume sessions without it. Idle
	 * connections give their 34 kB of buffers back.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	if (SSL_CTX_set_cipher_list(ctx, HTTPS_CIPHERS) != 1) {
		snprintf(err, errlen, "http: TLS: %s", ossl_reason());
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (use_chain(ctx, conf, err, errlen) < 0 || use_key(ctx, conf, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* "CN=mail.example.com,O=Example": RFC 2253, control and non-ASCII bytes escaped. */
static void name_text(const X509_NAME *n, char *buf, size_t len)
{
	BIO *m = BIO_new(BIO_s_mem());
	int got;

	snprintf(buf, len, "?");
	if (!m)
		return;
	if (X509_NAME_print_ex(m, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    (got = BIO_read(m, buf, (int)len - 1)) > 0)
		buf[got] = '\0';
	BIO_free(m);
}

void https_describe(SSL_CTX *ctx, char *buf, size_t len)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char subj[200] = "?", fp[EVP_MAX_MD_SIZE * 3 + 1] = "", until[32] = "?";
	struct tm tm;

	if (!x) {
		snprintf(buf, len, "no certificate");
		return;
	}
	name_text(X509_get_subject_name(x), subj, sizeof(subj));
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(fp + 3 * i, sizeof(fp) - 3 * i, "%02X%s", md[i],
			         i + 1 < mdlen ? ":" : "");
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ERR_clear_error();
	snprintf(buf, len, "%s, SHA-256 %s, valid until %s", subj, fp, until);
}

struct bufferevent *https_bev_new(struct event_base *base, SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);
	struct bufferevent *bev;

	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl); /* libevent frees it only once the bufferevent exists */
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int https_handshaking(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	return ssl && !SSL_is_init_finished(ssl);
}

const char *https_failure(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long e, first = 0;

	while ((e = bufferevent_get_openssl_error(bev)))
		if (!first)
			first = e;
	if (!first)
		return NULL;
	if (ERR_GET_LIB(first) == ERR_LIB_SSL &&
	    (ERR_GET_REASON(first) == SSL_R_HTTP_REQUEST ||
	     ERR_GET_REASON(first) == SSL_R_HTTPS_PROXY_REQUEST))
		snprintf(buf, len, "plain HTTP sent to the TLS port");
	else
		snprintf(buf, len, "TLS failed: %s",
		         ERR_reason_error_string(first) ? ERR_reason_error_string(first)
		                                        : "unknown error");
	return buf;
}
