/* SPDX-License-Identifier: ISC */
/*
 * certgen - make test certificates with the OpenSSL 3 API.
 *
 * certgen --out PREFIX --cn CN [--issuer PREFIX] [--san LIST] [--ca]
 *         [--from SECONDS] [--to SECONDS] [--key p256|rsa2048] [--aia URL]
 *
 * Writes PREFIX.crt and PREFIX.key (PEM, key unencrypted, mode 0600). The
 * validity window is given as offsets from now so that tests can ask for
 * "expired yesterday" or "expires in 10 days and an hour" and get the same
 * verdict on every run; only the key and the serial are random.
 *
 * A test tool: it exits on the first error with a message on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define PATH_LEN     4096
#define DEFAULT_FROM (-3600L)
#define DEFAULT_TO   (90L * 86400L)
/* Far enough for any test, near enough that X509_gmtime_adj cannot overflow. */
#define OFFSET_LIMIT (100L * 366L * 86400L)

struct opts {
	const char *out;
	const char *cn;
	const char *issuer;
	const char *san;
	const char *aia;
	const char *key;
	int ca;
	long from;
	long to;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("certgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* The OpenSSL queue often names the exact field that was refused. */
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void usage(void)
{
	fputs("usage: certgen --out PREFIX --cn CN [--issuer PREFIX]\n"
	      "               [--san DNS:name,IP:addr,...] [--ca]\n"
	      "               [--from SECONDS] [--to SECONDS] [--key p256|rsa2048]\n"
	      "               [--aia URL]\n"
	      "Writes PREFIX.crt and PREFIX.key. --from/--to are offsets from now\n"
	      "(default -3600 and +7776000, i.e. 90 days); negative values are allowed.\n",
	      stderr);
	exit(1);
}

static long parse_offset(const char *name, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < -OFFSET_LIMIT || v > OFFSET_LIMIT)
		die("%s: not a number of seconds within +-100 years: '%s'", name, s);
	return v;
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->from = DEFAULT_FROM;
	o->to = DEFAULT_TO;
	o->key = "p256";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--ca") == 0) {
			o->ca = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage();
		if (i + 1 >= argc)
			die("%s needs a value (or is not an option; try --help)", a);
		const char *v = argv[++i];
		if (strcmp(a, "--out") == 0)
			o->out = v;
		else if (strcmp(a, "--cn") == 0)
			o->cn = v;
		else if (strcmp(a, "--issuer") == 0)
			o->issuer = v;
		else if (strcmp(a, "--san") == 0)
			o->san = v;
		else if (strcmp(a, "--aia") == 0)
			o->aia = v;
		else if (strcmp(a, "--key") == 0)
			o->key = v;
		else if (strcmp(a, "--from") == 0)
			o->from = parse_offset(a, v);
		else if (strcmp(a, "--to") == 0)
			o->to = parse_offset(a, v);
		else
			die("unknown option '%s' (try --help)", a);
	}
	if (o->out == NULL || o->out[0] == '\0')
		die("--out PREFIX is required");
	if (o->cn == NULL || o->cn[0] == '\0')
		die("--cn CN is required");
	if (strcmp(o->key, "p256") != 0 && strcmp(o->key, "rsa2048") != 0)
		die("--key: expected p256 or rsa2048, got '%s'", o->key);
	if (o->from >= o->to)
		die("--from (%ld) must be before --to (%ld)", o->from, o->to);
}

static void path_of(char *buf, const char *prefix, const char *suffix)
{
	int n = snprintf(buf, PATH_LEN, "%s%s", prefix, suffix);

	if (n < 0 || n >= PATH_LEN)
		die("path too long: '%s%s'", prefix, suffix);
}

static EVP_PKEY *make_key(const char *kind)
{
	EVP_PKEY *k;

	if (strcmp(kind, "rsa2048") == 0)
		k = EVP_RSA_gen(2048);
	else
		k = EVP_EC_gen("P-256");
	if (k == NULL)
		die("cannot generate a %s key", kind);
	return k;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		die("%s: not a PEM private key", path);
	return k;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		die("%s: not a PEM certificate", path);
	return x;
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	if (ext == NULL)
		die("bad %s extension value '%s'", OBJ_nid2sn(nid), value);
	if (!X509_add_ext(x, ext, -1))
		die("cannot add the %s extension", OBJ_nid2sn(nid));
	X509_EXTENSION_free(ext);
}

static void set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();

	/* 127 bits: positive, unique in practice, well under the 20-octet limit. */
	if (bn == NULL || !BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		die("cannot make a serial number");
	BN_free(bn);
}

/*
 * Write to a temporary file, then rename: a reader (a fake server started
 * in parallel) never sees half a PEM file.
 */
static void write_pem(const char *path, mode_t mode, X509 *x, EVP_PKEY *k)
{
	char tmp[PATH_LEN];
	FILE *f;
	int fd, ok;

	path_of(tmp, path, ".tmp");
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		die("%s: %s", tmp, strerror(errno));
	/* The umask may have removed bits we want, and must not add any. */
	if (fchmod(fd, mode) != 0)
		die("%s: %s", tmp, strerror(errno));
	f = fdopen(fd, "w");
	if (f == NULL)
		die("%s: %s", tmp, strerror(errno));
	if (x != NULL)
		ok = PEM_write_X509(f, x);
	else
		ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	if (!ok || fflush(f) != 0 || fclose(f) != 0) {
		unlink(tmp);
		die("%s: cannot write", tmp);
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		die("%s: %s", path, strerror(e));
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	char crt_path[PATH_LEN], key_path[PATH_LEN];
	EVP_PKEY *key, *signkey;
	X509 *x, *issuer = NULL;
	X509_NAME *name;
	X509V3_CTX ctx;

	parse_args(&o, argc, argv);
	path_of(crt_path, o.out, ".crt");
	path_of(key_path, o.out, ".key");

	key = make_key(o.key);
	signkey = key;
	if (o.issuer != NULL) {
		char ipath[PATH_LEN];

		path_of(ipath, o.issuer, ".crt");
		issuer = read_cert(ipath);
		path_of(ipath, o.issuer, ".key");
		signkey = read_key(ipath);
		if (!X509_check_private_key(issuer, signkey))
			die("%s.key does not match %s.crt", o.issuer, o.issuer);
	}

	x = X509_new();
	if (x == NULL || !X509_set_version(x, X509_VERSION_3))
		die("out of memory");
	set_serial(x);
	if (X509_gmtime_adj(X509_getm_notBefore(x), o.from) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), o.to) == NULL)
		die("cannot set the validity window");
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)o.cn, -1,
	                                -1, 0))
		die("bad --cn '%s'", o.cn);
	if (!X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name))
		die("cannot set the issuer name");
	if (!X509_set_pubkey(x, key))
		die("cannot set the public key");

	/*
	 * The subject key identifier must exist before the authority key
	 * identifier is derived: for a self-signed certificate it is the same.
	 */
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	X509V3_set_ctx_nodb(&ctx);
	if (o.ca) {
		add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
		add_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
	}
	add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	if (o.san != NULL && o.san[0] != '\0')
		add_ext(x, &ctx, NID_subject_alt_name, o.san);
	if (o.aia != NULL && o.aia[0] != '\0') {
		char aia[PATH_LEN];
		int n = snprintf(aia, sizeof(aia), "caIssuers;URI:%s", o.aia);

		if (n < 0 || (size_t)n >= sizeof(aia))
			die("--aia URL too long");
		add_ext(x, &ctx, NID_info_access, aia);
	}

	if (X509_sign(x, signkey, EVP_sha256()) == 0)
		die("cannot sign the certificate");

	/* Key first: a .crt on disk always has its .key next to it. */
	write_pem(key_path, 0600, NULL, key);
	write_pem(crt_path, 0644, x, NULL);

	X509_free(x);
	X509_free(issuer);
	if (signkey != key)
		EVP_PKEY_free(signkey);
	EVP_PKEY_free(key);
	return 0;
}
