/* SPDX-License-Identifier: ISC */
/*
 * top.c - the top level's sections: retention, http (listen address,
 * dashboard URL, access token, connection caps, TLS certificate and key)
 * and the public status page.
 */
#include "conf/conf_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/secret.h"

static const struct key retention_keys[] = {
    {"raw_days", K_UINT, FIELD(struct conf, raw_days), 1, 3650, NULL, NULL, 0, 0},
    {"rollup_days", K_UINT, FIELD(struct conf, rollup_days), 1, 36500, NULL, NULL, 0, 0},
};

static void fn_listen(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *a = conf_scalar(v), *colon;
	unsigned long long port;
	char host[300];
	unsigned char bin[16];

	(void)s;
	if (!a || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected HOST:PORT, found %s", k->name, conf_kind(v));
		return;
	}
	if (strcmp(a, "off") == 0) {
		/* No HTTP server at all: no dashboard, API or metrics. */
		l->c->listen = conf_strdup(l->c, "off");
		return;
	}
	colon = strrchr(a, ':');
	if (!colon || colon == a || strlen(a) >= sizeof(host) ||
	    checkspec_uint(colon + 1, 65535, &port) < 0 || port == 0) {
		conf_err_at(l, v,
		            "%s: \"%s\" is not HOST:PORT (such as 127.0.0.1:8080 or [::1]:8080)",
		            k->name, conf_show(a).s);
		return;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - a), a);
	if (host[0] == '[') {
		size_t hl = strlen(host);

		if (hl < 3 || host[hl - 1] != ']') {
			conf_err_at(l, v, "%s: \"%s\" is not HOST:PORT", k->name, conf_show(a).s);
			return;
		}
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, bin) != 1) {
			conf_err_at(l, v, "%s: \"%s\" is not an IPv6 address", k->name,
			            conf_show(host + 1).s);
			return;
		}
	} else if (strchr(host, ':')) {
		conf_err_at(l, v, "%s: IPv6 addresses need brackets, as in [::1]:8080", k->name);
		return;
	} else if (!checkspec_is_host_name(host)) {
		conf_err_at(l, v, "%s: \"%s\" is not a host name or address", k->name,
		            conf_show(host).s);
		return;
	}
	l->c->listen = conf_strdup(l->c, a);
}

/* http:// or https:// with a host, no spaces or controls. */
static int check_http_url(struct ld *l, const yaml_node_t *v, const char *key, const char *u)
{
	const char *h;

	if (strncasecmp(u, "https://", 8) == 0)
		h = u + 8;
	else if (strncasecmp(u, "http://", 7) == 0)
		h = u + 7;
	else {
		conf_err_at(l, v, "%s: \"%s\" is not an http:// or https:// URL", key,
		            conf_show(u).s);
		return -1;
	}
	if (!*h || *h == '/' || *h == ':' || checkspec_has_control(u) || strchr(u, ' ')) {
		conf_err_at(l, v, "%s: \"%s\" is not a usable URL (a host is needed; no spaces)",
		            key, conf_show(u).s);
		return -1;
	}
	return 0;
}

void top_http_url(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *u = conf_scalar(v);

	if (!u || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected a URL, found %s", k->name, conf_kind(v));
		return;
	}
	if (check_http_url(l, v, k->name, u) == 0)
		conf_put_ptr(s->base, k->off, conf_strdup(l->c, u));
}

/*
 * public_status.checks: check names or key=value label selectors. The
 * names are checked against the checks list in top_public_cross(), since the
 * http section is read before the checks.
 */
static void fn_public_checks(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	yaml_node_t *it[CONF_LABELS_MAX];
	int n = conf_items(l, v, it, CONF_LABELS_MAX, k->name);
	struct conf *c = l->c;

	(void)s;
	c->npublic_checks = 0;
	for (int i = 0; i < n; i++) {
		const char *a = conf_scalar(it[i]);

		if (!a || conf_is_null(it[i])) {
			conf_err_at(l, it[i],
			            "checks: expected a check name or key=value, found %s",
			            conf_kind(it[i]));
			continue;
		}
		if (strchr(a, '=')) {
			if (!conf_is_label_selector(a)) {
				conf_err_at(l, it[i],
				            "checks: \"%s\" is not a label selector key=value",
				            conf_show(a).s);
				continue;
			}
		} else if (conf_check_name(l, it[i], "check name", a) < 0) {
			continue;
		}
		l->pub_at[c->npublic_checks] = conf_pos_of(it[i]);
		c->public_checks[c->npublic_checks++] = conf_strdup(c, a);
	}
}

static const struct key public_keys[] = {
    {"enabled", K_BOOL, FIELD(struct conf, public_enabled), 0, 0, NULL, NULL, 0, 0},
    {"title", K_STR, FIELD(struct conf, public_title), 0, 100, NULL, NULL, 0, 0},
    {"checks", K_FN, 0, 0, 0, 0, NULL, fn_public_checks, 0, 0},
};

static void fn_public(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct section sub;

	(void)s;
	(void)k;
	conf_section_init(&sub, public_keys, NKEYS(public_keys), l->c, "http.public_status");
	conf_walk(l, &sub, v);
	if (l->c->public_enabled && !conf_has(&sub, "checks"))
		conf_err_at(
		    l, v,
		    "http.public_status: enabled needs checks (the check names or key=value "
		    "labels to show)");
}

/* Bearer tokens (RFC 6750 b64token): no spaces, long enough not to be guessed. */
#define CONF_TOKEN_MIN 16

const char *conf_token_problem(const char *t)
{
	_Static_assert(CONF_TOKEN_MIN == 16, "the message below says 16");
	if (strlen(t) < CONF_TOKEN_MIN)
		return "is shorter than 16 characters";
	if (strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	              "-._~+/=") != strlen(t))
		return "may hold only letters, digits and -._~+/= (RFC 6750)";
	return NULL;
}

static void http_cross(struct ld *l)
{
	const char *t = l->c->http_token, *why;

	if (t && (why = conf_token_problem(t)))
		conf_err_pos(l, l->token_at, "http: the token %s", why);
}

/* ---- http.tls_cert / tls_key -------------------------------------------------- */

/* A certificate chain or a key is a few kB: anything bigger is the wrong file. */
#define CONF_PEM_MAX (1024 * 1024)

/*
 * The whole of a small regular file, NUL-terminated, into the arena (which
 * conf_unref() wipes: the key is a secret). Never blocks: a FIFO or a
 * device is refused by its type before anything is read. NULL with why set.
 */
static char *read_pem(struct ld *l, const char *path, mode_t *mode, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;

	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto out;
	}
	*mode = st.st_mode;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s",
		         S_ISDIR(st.st_mode) ? "is a directory, not a PEM file"
		                             : "is not a regular file");
		goto out;
	}
	if (st.st_size > CONF_PEM_MAX) {
		snprintf(why, whylen, "is larger than %d kB: not a certificate or a key",
		         CONF_PEM_MAX / 1024);
		goto out;
	}
	buf = conf_alloc(l->c, (size_t)st.st_size + 1);
	if (!buf) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	/* The file may grow while we read: no more than its size at fstat(). */
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			buf = NULL;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (memchr(buf, '\0', got)) {
		snprintf(why, whylen, "holds NUL bytes: not a PEM file");
		buf = NULL;
	}
out:
	close(fd);
	return buf;
}

/* The value of a tls_* key as a file to read: NULL (reported) when it cannot be one. */
static const char *tls_path_value(struct ld *l, const struct key *k, const yaml_node_t *v)
{
	const char *a = conf_scalar(v);

	if (!a || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected a file name, found %s", k->name, conf_kind(v));
		return NULL;
	}
	if (checkspec_has_control(a) || strlen(a) > 4000) {
		conf_err_at(l, v, "%s: not a usable file name", k->name);
		return NULL;
	}
	return a;
}

/* OpenSSL's reason for the last error, for a message; the queue is emptied. */
static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown error";
}

/* The chain's certificates, leaf first; NULL when the text holds none or a broken one. */
static STACK_OF(X509) * pem_chain(const char *pem, int *broken)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;

	*broken = 0;
	while (b && sk && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	/* The end of the text is "no start line"; anything else is a block that does not parse. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		*broken = 1;
	ERR_clear_error();
	BIO_free(b);
	if (sk && (*broken || sk_X509_num(sk) == 0)) {
		sk_X509_pop_free(sk, X509_free);
		sk = NULL;
	}
	return sk;
}

/* No passphrase can be typed to a daemon: note that one was asked for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)u = 1;
	return -1;
}

static EVP_PKEY *pem_key(const char *pem, int *encrypted)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, encrypted) : NULL;

	BIO_free(b);
	ERR_clear_error();
	return k;
}

static void fn_tls_cert(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *a = tls_path_value(l, k, v);
	char why[128], *path, *pem;
	mode_t mode;
	STACK_OF(X509) * chain;
	SSL_CTX *ctx;
	int broken;

	(void)s;
	if (!a || !(path = conf_resolve_path(l, a)))
		return;
	if (!(pem = read_pem(l, path, &mode, why, sizeof(why)))) {
		conf_err_at(l, v, "%s %s: %s", k->name, conf_show(a).s, why);
		return;
	}
	chain = pem_chain(pem, &broken);
	if (!chain) {
		conf_err_at(l, v,
		            broken ? "%s %s: a certificate in it is not valid PEM"
		                   : "%s %s: not a PEM certificate (no -----BEGIN CERTIFICATE----- "
		                     "block)",
		            k->name, conf_show(a).s);
		return;
	}
	/* What a TLS server will refuse to use (a 1024-bit key, an MD5 signature) is refused now.
	 */
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx && SSL_CTX_use_certificate(ctx, sk_X509_value(chain, 0)) != 1)
		conf_err_at(l, v, "%s %s: OpenSSL will not serve this certificate: %s", k->name,
		            conf_show(a).s, ossl_reason());
	else {
		l->c->http_tls_cert = path;
		l->c->http_tls_cert_pem = pem;
	}
	SSL_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
}

/*
 * The key file may be readable by its group (Debian's convention is mode
 * 0640, group ssl-cert, for the daemons that need the key), never by every
 * user: whoever reads it can pose as this server to the probing nodes and
 * to admins' browsers. Refused rather than warned about, as a warning in a
 * log goes unread and the fix is one chmod.
 */
static void fn_tls_key(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *a = tls_path_value(l, k, v);
	char why[128], *path, *pem;
	mode_t mode = 0;
	EVP_PKEY *key;
	int encrypted = 0;

	(void)s;
	if (!a || !(path = conf_resolve_path(l, a)))
		return;
	if (!(pem = read_pem(l, path, &mode, why, sizeof(why)))) {
		conf_err_at(l, v, "%s %s: %s", k->name, conf_show(a).s, why);
		return;
	}
	if (mode & S_IROTH) {
		conf_err_at(l, v,
		            "%s %s: readable by every user (mode %04o): a private key must not be "
		            "(chmod o-rwx; group ssl-cert and mode 0640 is fine)",
		            k->name, conf_show(a).s, (unsigned)(mode & 07777));
		return;
	}
	key = pem_key(pem, &encrypted);
	if (!key) {
		if (encrypted)
			conf_err_at(l, v,
			            "%s %s: the key is encrypted and the daemon cannot ask for a "
			            "passphrase: keep it unencrypted, readable by the daemon only",
			            k->name, conf_show(a).s);
		else
			conf_err_at(l, v,
			            "%s %s: not a PEM private key (no -----BEGIN PRIVATE KEY----- "
			            "block)",
			            k->name, conf_show(a).s);
		return;
	}
	EVP_PKEY_free(key);
	l->c->http_tls_key = path;
	l->c->http_tls_key_pem = pem;
}

/* Both or neither, and the key must be the certificate's. */
static void tls_cross(struct ld *l, struct section *sub, yaml_node_t *map)
{
	int has_cert = conf_has(sub, "tls_cert"), has_key = conf_has(sub, "tls_key");
	struct conf *c = l->c;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
	int broken, encrypted = 0;

	if (has_cert != has_key) {
		conf_err_pos(l, conf_at(sub, has_cert ? "tls_cert" : "tls_key"),
		             "http: %s needs %s as well (both or neither)",
		             has_cert ? "tls_cert" : "tls_key", has_cert ? "tls_key" : "tls_cert");
		c->http_tls_cert = c->http_tls_key = NULL;
		c->http_tls_cert_pem = c->http_tls_key_pem = NULL;
		return;
	}
	if (!c->http_tls_cert_pem || !c->http_tls_key_pem)
		return; /* one of them reported already */
	chain = pem_chain(c->http_tls_cert_pem, &broken);
	key = pem_key(c->http_tls_key_pem, &encrypted);
	if (chain && key && X509_check_private_key(sk_X509_value(chain, 0), key) != 1)
		conf_err_pos(l, conf_at(sub, "tls_key"),
		             "tls_key %s: not the key of the certificate in tls_cert %s",
		             conf_show(conf_scalar(conf_map_get(l, map, "tls_key"))).s,
		             conf_show(conf_scalar(conf_map_get(l, map, "tls_cert"))).s);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	ERR_clear_error();
}

static const struct key http_keys[] = {
    {"listen", K_FN, 0, 0, 0, 0, NULL, fn_listen, 0, 0},
    {"dashboard_url", K_FN, FIELD(struct conf, dashboard_url), 0, 0, NULL, top_http_url, 0, 0},
    {"token_file", K_SECRET_FILE, FIELD(struct conf, http_token), 0, 0, NULL, NULL, 0, 0},
    {"token_env", K_SECRET_ENV, FIELD(struct conf, http_token), 0, 0, NULL, NULL, 0, 0},
    {"token", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"public_status", K_FN, 0, 0, 0, 0, NULL, fn_public, 0, 0},
    {"max_connections", K_UINT, FIELD(struct conf, http_max_conns), 1, 100000, NULL, NULL, 0, 0},
    {"max_connections_per_address", K_UINT, FIELD(struct conf, http_max_conns_per_addr), 1, 100000,
     NULL, NULL, 0, 0},
    {"tls_cert", K_FN, 0, 0, 0, 0, NULL, fn_tls_cert, 0, 0},
    {"tls_key", K_FN, 0, 0, 0, 0, NULL, fn_tls_key, 0, 0},
};

/* ---- store: ---- */

static int is_pg_uri(const char *v)
{
	return strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0;
}

/*
 * A postgresql:// URI for store: or its dsn. A password in it would sit
 * in the configuration, its dumps and the dashboard's settings: refused,
 * with where it goes instead (password_file, or libpq's own ~/.pgpass).
 */
static void store_dsn(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *str = conf_scalar(v), *auth, *end, *at;

	(void)s;
	if (!str || conf_is_null(v)) {
		conf_err_at(l, v, "%s: expected a postgresql:// URI", k->name);
		return;
	}
	if (!is_pg_uri(str)) {
		conf_err_at(l, v, "%s: \"%s\" is not a postgresql:// URI", k->name,
		            conf_show(str).s);
		return;
	}
	if (checkspec_has_control(str) || strlen(str) > 4000) {
		conf_err_at(l, v, "%s: not a usable URI", k->name);
		return;
	}
	auth = strstr(str, "://") + 3;
	end = auth + strcspn(auth, "/?");
	at = memchr(auth, '@', (size_t)(end - auth));
	if ((at && memchr(auth, ':', (size_t)(at - auth))) || strstr(str, "password=")) {
		/* Not one character of the URI: it holds the password. */
		conf_err_at(l, v,
		            "%s: the URI holds a password, which the configuration must not; give "
		            "store: {dsn: URI without it, password_file: FILE}",
		            k->name);
		return;
	}
	l->c->store_path = conf_strdup(l->c, str);
}

static const struct key store_keys[] = {
    {"dsn", K_FN, 0, 0, 0, 0, NULL, store_dsn, 0, 0},
    {"password_file", K_FILE, FIELD(struct conf, store_secret), 0, 0, NULL, NULL, 0, 0},
};

/*
 * store: a SQLite file ("sqlite:PATH" or a plain path), a postgresql://
 * URI, or a map {dsn, password_file} for a PostgreSQL whose password is
 * kept in a file.
 */
void top_store(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	static const struct key path = {
	    "store", K_PATH, FIELD(struct conf, store_path), 0, 0, NULL, NULL, 0, 0};
	const char *str = conf_scalar(v);
	struct section sub;

	if (v->type == YAML_MAPPING_NODE) {
		conf_section_init(&sub, store_keys, NKEYS(store_keys), l->c, "store");
		conf_walk(l, &sub, v);
		if (!conf_has(&sub, "dsn"))
			conf_err_at(l, v, "store: a store: map needs dsn: (a postgresql:// URI)");
		return;
	}
	if (str && is_pg_uri(str)) {
		store_dsn(l, s, k, v);
		return;
	}
	conf_set_value(l, s, &path, v);
}

void top_retention(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct section sub;

	(void)s;
	(void)k;
	conf_section_init(&sub, retention_keys, NKEYS(retention_keys), l->c, "retention");
	conf_walk(l, &sub, v);
}

void top_http(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct section sub;

	(void)s;
	(void)k;
	conf_section_init(&sub, http_keys, NKEYS(http_keys), l->c, "http");
	conf_walk(l, &sub, v);
	l->token_at =
	    conf_has(&sub, "token_file") ? conf_at(&sub, "token_file") : conf_at(&sub, "token_env");
	if (l->c->http_token)
		http_cross(l);
	tls_cross(l, &sub, v);
	if (l->c->http_max_conns_per_addr > l->c->http_max_conns)
		conf_err_pos(
		    l,
		    conf_at(&sub, conf_has(&sub, "max_connections_per_address")
		                      ? "max_connections_per_address"
		                      : "max_connections"),
		    "http: max_connections_per_address (%u) is more than max_connections (%u)",
		    l->c->http_max_conns_per_addr, l->c->http_max_conns);
}

/* After the checks are loaded: every name the public page lists exists. */
void top_public_cross(struct ld *l)
{
	const struct conf *c = l->c;

	for (int i = 0; i < c->npublic_checks; i++)
		if (!strchr(c->public_checks[i], '=') && !conf_find_check(c, c->public_checks[i]))
			conf_xerr(l, l->pub_at[i], "http.public_status: no check is named \"%s\"",
			          conf_show(c->public_checks[i]).s);
}

int conf_public_covers(const struct conf *c, const struct conf_check *cc)
{
	if (!c->public_enabled)
		return 0;
	for (int i = 0; i < c->npublic_checks; i++) {
		if (strchr(c->public_checks[i], '=')) {
			for (int j = 0; j < cc->nlabels; j++)
				if (strcmp(cc->labels[j], c->public_checks[i]) == 0)
					return 1;
		} else if (cc->name && strcmp(cc->name, c->public_checks[i]) == 0) {
			return 1;
		}
	}
	return 0;
}
