/* SPDX-License-Identifier: ISC */
/*
 * probe.c - a probing node's own settings (see probe.h): one setter that
 * validates each key, a small YAML loader over it, and the last checks
 * once every setting is in (the token read from its file).
 *
 * The node's file is small and flat (a mapping of scalars and two lists),
 * so it has its own loader here rather than the daemon's section tables;
 * messages read alike: "file:line:col: message".
 *
 * Memory: every string of a probe_conf is one block on a list kept in
 * pc->mem; probe_conf_free() wipes each block with OPENSSL_cleanse (the
 * token among them) and frees it. A value set twice leaves the old block
 * on the list until then: settings are set a handful of times.
 */
#include "conf/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "conf/conf_int.h"
#include "spec/checkspec.h"
#include "spec/secret.h"
#include "spec/target.h"

/* A node's file is a dozen lines: anything bigger is the wrong file. */
#define PROBE_FILE_MAX (1024 * 1024)
/* Longest file name accepted, as the daemon's configuration has it. */
#define PROBE_PATH_MAX 4000
/* Longest controller URL: scheme, a host name of 253, a port. */
#define PROBE_URL_MAX       300
#define PROBE_SPOOL_MIN     1000ull
#define PROBE_SPOOL_TOP     10000000ull
#define PROBE_IN_FLIGHT_MAX 10000ull

struct pstr {
	struct pstr *next;
	size_t size;
	char s[];
};

/* What pc->mem points to: the strings, and where token_file came from. */
struct pmem {
	struct pstr *strs;
	char *file;            /* the YAML file token_file was set in (malloc'ed), or NULL */
	int tok_line, tok_col; /* its position there */
	char *loaded;          /* the last YAML file loaded (malloc'ed), for finish's messages */
};

static char *pc_strdup(struct probe_conf *pc, const char *s)
{
	struct pmem *m = pc->mem;
	size_t n = strlen(s) + 1;
	struct pstr *p = malloc(sizeof(*p) + n);

	if (!p)
		return NULL;
	p->size = n;
	memcpy(p->s, s, n);
	p->next = m->strs;
	m->strs = p;
	return p->s;
}

struct probe_conf *probe_conf_new(void)
{
	struct probe_conf *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return NULL;
	pc->mem = calloc(1, sizeof(struct pmem));
	if (!pc->mem) {
		free(pc);
		return NULL;
	}
	pc->spool_max = PROBE_SPOOL_MAX_DEFAULT;
	pc->max_in_flight = 256;
	return pc;
}

void probe_conf_free(struct probe_conf *pc)
{
	struct pmem *m;

	if (!pc)
		return;
	m = pc->mem;
	while (m && m->strs) {
		struct pstr *next = m->strs->next;

		/* The token is among them: wipe every one rather than track it. */
		OPENSSL_cleanse(m->strs, sizeof(*m->strs) + m->strs->size);
		free(m->strs);
		m->strs = next;
	}
	if (m) {
		free(m->file);
		free(m->loaded);
	}
	free(m);
	OPENSSL_cleanse(pc, sizeof(*pc));
	free(pc);
}

/* ---- values --------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The node's name: the location its results are for, as the controller's nodes: names it. */
static int check_name(const char *v, char *err, size_t errlen)
{
	if (strlen(v) > CONF_NAME_MAX)
		return fail(err, errlen, "name \"%s\" is longer than %d characters", conf_show(v).s,
		            CONF_NAME_MAX);
	for (const char *p = v; *p; p++)
		if (!conf_is_name_char((unsigned char)*p))
			return fail(
			    err, errlen,
			    "name \"%s\": use letters, digits, '.', '_' and '-' (it names the "
			    "node's location in URLs and logs)",
			    conf_show(v).s);
	if (strspn(v, ".") == strlen(v))
		return fail(err, errlen, "name \"%s\" is only dots: use a letter or digit",
		            conf_show(v).s);
	return 0;
}

static int check_path(const char *key, const char *v, char *err, size_t errlen)
{
	if (checkspec_has_control(v) || strlen(v) > PROBE_PATH_MAX)
		return fail(err, errlen, "%s: not a usable file name", key);
	return 0;
}

/* A path as the node will open it: relative ones from the file's directory (dir NULL: as is). */
static char *resolve_path(struct probe_conf *pc, const char *dir, const char *p)
{
	char *buf, *r;
	size_t n;

	if (p[0] == '/' || !dir)
		return pc_strdup(pc, p);
	n = strlen(dir) + strlen(p) + 2;
	buf = malloc(n);
	if (!buf)
		return NULL;
	snprintf(buf, n, "%s/%s", dir, p);
	r = pc_strdup(pc, buf);
	free(buf);
	return r;
}

static int is_loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
	       strcasecmp(host, "localhost") == 0;
}

/*
 * https://HOST[:PORT][/], or http:// to this machine only: the token and
 * every result cross the network, so they go in clear only where no
 * network is crossed. The URL is quoted in messages only when it cannot
 * hold a secret (no '@'). out gets it without the trailing '/'.
 */
static int controller_parse(const char *u, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *auth, *end, *port = NULL;
	char host[TARGET_HOST_MAX];
	unsigned char bin[16];
	unsigned long long pn;
	size_t hlen;
	int tls;

	if (strchr(u, '@'))
		return fail(err, errlen,
		            "controller: a user or password in the URL is not accepted (URLs are "
		            "logged): the node authenticates with its token_file");
	if (strlen(u) > PROBE_URL_MAX || checkspec_has_control(u) || strchr(u, ' '))
		return fail(err, errlen,
		            "controller: not a usable URL (at most %d characters, no "
		            "spaces or control characters)",
		            PROBE_URL_MAX);
	if (strncasecmp(u, "https://", 8) == 0) {
		tls = 1;
		auth = u + 8;
	} else if (strncasecmp(u, "http://", 7) == 0) {
		tls = 0;
		auth = u + 7;
	} else {
		return fail(err, errlen, "controller: \"%s\" is not an https:// URL",
		            conf_show(u).s);
	}
	end = auth + strcspn(auth, "/?#");
	if (*end && strcmp(end, "/") != 0)
		return fail(err, errlen,
		            "controller: \"%s\": only https://HOST[:PORT] is accepted (no path, "
		            "query or fragment: the node adds /api/v1/nodes/...)",
		            conf_show(u).s);
	if (auth[0] == '[') {
		const char *rb = memchr(auth, ']', (size_t)(end - auth));

		hlen = rb ? (size_t)(rb - auth - 1) : 0;
		if (!rb || hlen == 0 || hlen >= sizeof(host))
			return fail(err, errlen, "controller: \"%s\" has no host", conf_show(u).s);
		memcpy(host, auth + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, bin) != 1)
			return fail(err, errlen, "controller: \"%s\" is not an IPv6 address",
			            conf_show(host).s);
		if (rb + 1 < end && rb[1] != ':')
			return fail(err, errlen, "controller: \"%s\" is not HOST:PORT",
			            conf_show(u).s);
		if (rb + 1 < end)
			port = rb + 2;
	} else {
		const char *colon = memchr(auth, ':', (size_t)(end - auth));

		hlen = (size_t)((colon ? colon : end) - auth);
		if (hlen == 0 || hlen >= sizeof(host))
			return fail(err, errlen, "controller: \"%s\" has no host", conf_show(u).s);
		memcpy(host, auth, hlen);
		host[hlen] = '\0';
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return fail(
			    err, errlen,
			    "controller: IPv6 addresses need brackets, as in https://[::1]:8443");
		if (!checkspec_is_host_name(host))
			return fail(err, errlen, "controller: \"%s\" is not a host name or address",
			            conf_show(host).s);
		if (colon)
			port = colon + 1;
	}
	if (port) {
		char pbuf[8];
		size_t plen = (size_t)(end - port);

		if (plen == 0 || plen >= sizeof(pbuf))
			return fail(err, errlen,
			            "controller: \"%s\" has no valid port (1 to 65535)",
			            conf_show(u).s);
		memcpy(pbuf, port, plen);
		pbuf[plen] = '\0';
		if (checkspec_uint(pbuf, 65535, &pn) != 0 || pn == 0)
			return fail(err, errlen,
			            "controller: \"%s\" has no valid port (1 to 65535)",
			            conf_show(u).s);
	}
	if (!tls && !is_loopback(host))
		return fail(
		    err, errlen,
		    "controller: http:// is accepted only to 127.0.0.1, [::1] or localhost: "
		    "elsewhere the token and the results would cross the network in clear "
		    "(use https://)");
	snprintf(out, outlen, "%s%.*s", tls ? "https://" : "http://", (int)(end - auth), auth);
	return 0;
}

static int set_uint(const char *key, const char *v, unsigned long long min, unsigned long long max,
                    unsigned *out, char *err, size_t errlen)
{
	unsigned long long u;
	int r = checkspec_uint(v, max, &u);

	if (r == -1)
		return fail(err, errlen, "%s: \"%s\" is not a whole number", key, conf_show(v).s);
	if (r == -2)
		return fail(err, errlen, "%s %s is above the maximum %llu", key, conf_show(v).s,
		            max);
	if (u < min)
		return fail(err, errlen, "%s %llu is below the minimum %llu", key, u, min);
	*out = (unsigned)u;
	return 0;
}

enum pkey {
	PK_CONTROLLER,
	PK_NAME,
	PK_TOKEN_FILE,
	PK_CA_FILE,
	PK_SPOOL,
	PK_SPOOL_MAX,
	PK_CANARY,
	PK_MAX_IN_FLIGHT,
	PK__COUNT
};

/* The keys; canaries is how the file spells the list of canary. */
static const char *const pkey_names[PK__COUNT] = {
    "controller", "name", "token_file", "ca_file", "spool", "spool_max", "canary", "max_in_flight",
};

static int pkey_find(const char *key)
{
	char k[32];
	size_t n = strlen(key);

	/* Flags spell them with '-' (--token-file), the file with '_'. */
	if (n >= sizeof(k))
		return -1;
	for (size_t i = 0; i <= n; i++)
		k[i] = key[i] == '-' ? '_' : key[i];
	for (int i = 0; i < PK__COUNT; i++)
		if (strcmp(k, pkey_names[i]) == 0)
			return i;
	return -1;
}

/*
 * One setting; dir: the YAML file's directory for relative paths (NULL
 * for flags: as given, from the working directory).
 */
static int set_one(struct probe_conf *pc, int key, const char *v, const char *dir, char *err,
                   size_t errlen)
{
	const char *name = pkey_names[key];
	char buf[PROBE_URL_MAX + 1];
	struct target t;
	struct stat st;
	char *p;

	if (!*v)
		return fail(err, errlen, "%s: a value is required", name);
	switch ((enum pkey)key) {
	case PK_CONTROLLER:
		if (controller_parse(v, buf, sizeof(buf), err, errlen) < 0)
			return -1;
		for (int i = 0; i < pc->ncontrollers; i++)
			if (strcasecmp(pc->controller[i], buf) == 0)
				return fail(err, errlen, "controller: \"%s\" is given twice",
				            conf_show(buf).s);
		if (pc->ncontrollers == PROBE_CONTROLLERS_MAX)
			return fail(err, errlen, "controller: at most %d", PROBE_CONTROLLERS_MAX);
		if (!(p = pc_strdup(pc, buf)))
			return fail(err, errlen, "out of memory");
		pc->controller[pc->ncontrollers++] = p;
		return 0;
	case PK_NAME:
		if (check_name(v, err, errlen) < 0)
			return -1;
		if (!(pc->name = pc_strdup(pc, v)))
			return fail(err, errlen, "out of memory");
		return 0;
	case PK_TOKEN_FILE:
	case PK_CA_FILE:
	case PK_SPOOL:
		if (check_path(name, v, err, errlen) < 0)
			return -1;
		if (!(p = resolve_path(pc, dir, v)))
			return fail(err, errlen, "out of memory");
		if (key == PK_CA_FILE) {
			/* Read when the node connects, but a typo is better told now. */
			if (access(p, R_OK) < 0)
				return fail(err, errlen, "ca_file %s: %s", conf_show(v).s,
				            strerror(errno));
			if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
				return fail(err, errlen,
				            "ca_file %s: is a directory, not a PEM file",
				            conf_show(v).s);
			pc->ca_file = p;
		} else if (key == PK_SPOOL) {
			if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
				return fail(err, errlen,
				            "spool %s: is a directory: name the SQLite file in it",
				            conf_show(v).s);
			pc->spool = p;
		} else {
			/* Read by probe_conf_finish(), once flags and file are both in. */
			pc->token_file = p;
		}
		return 0;
	case PK_SPOOL_MAX:
		return set_uint(name, v, PROBE_SPOOL_MIN, PROBE_SPOOL_TOP, &pc->spool_max, err,
		                errlen);
	case PK_MAX_IN_FLIGHT:
		return set_uint(name, v, 1, PROBE_IN_FLIGHT_MAX, &pc->max_in_flight, err, errlen);
	case PK_CANARY: {
		char why[256];

		/* A canary probes without a login: there is nothing to put before the host. */
		if (strchr(v, '@'))
			return fail(
			    err, errlen,
			    "canary: a user or password in the URL is not accepted (URLs are "
			    "logged; a canary probes without a login)");
		if (target_parse(&t, v, why, sizeof(why)) < 0) {
			if (checkspec_url_showable(v))
				return fail(err, errlen, "canary \"%s\": %s", conf_show(v).s, why);
			return fail(err, errlen, "canary: %s", why);
		}
		for (int i = 0; i < pc->ncanaries; i++)
			if (strcmp(pc->canaries[i], t.url) == 0)
				return fail(err, errlen, "canary: \"%s\" is given twice",
				            conf_show(t.url).s);
		if (pc->ncanaries == PROBE_CANARIES_MAX)
			return fail(err, errlen, "canary: at most %d", PROBE_CANARIES_MAX);
		if (!(p = pc_strdup(pc, t.url)))
			return fail(err, errlen, "out of memory");
		pc->canaries[pc->ncanaries++] = p;
		return 0;
	}
	case PK__COUNT:
		break;
	}
	return fail(err, errlen, "%s: not a setting", name);
}

int probe_conf_set(struct probe_conf *pc, const char *key, const char *value, char *err,
                   size_t errlen)
{
	int k = pkey_find(key);
	struct pmem *m = pc->mem;

	if (!value)
		value = ""; /* a flag without its value: "a value is required" */
	if (k < 0) {
		const char *near = conf_nearest(key, pkey_names, PK__COUNT);

		if (near)
			return fail(err, errlen, "unknown setting \"%s\"; did you mean \"%s\"?",
			            conf_show(key).s, near);
		return fail(err, errlen,
		            "unknown setting \"%s\"; the settings are controller, name, "
		            "token_file, ca_file, spool, spool_max, canary and max_in_flight",
		            conf_show(key).s);
	}
	if (set_one(pc, k, value, NULL, err, errlen) < 0)
		return -1;
	/* A flag overrides the file: messages about the token no longer point into it. */
	if (k == PK_TOKEN_FILE) {
		free(m->file);
		m->file = NULL;
	}
	return 0;
}

/* ---- YAML ----------------------------------------------------------------- */

struct pld {
	struct probe_conf *pc;
	const char *path;
	char *dir;
	yaml_document_t *doc;
	FILE *errs;
	int nerr;
};

static void perr(struct pld *l, const yaml_mark_t *mk, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct pld *l, const yaml_mark_t *mk, const char *fmt, ...)
{
	va_list ap;

	fprintf(l->errs, "%s:%d:%d: ", l->path, (int)mk->line + 1, (int)mk->column + 1);
	va_start(ap, fmt);
	vfprintf(l->errs, fmt, ap);
	va_end(ap);
	fputc('\n', l->errs);
	l->nerr++;
}

/* Keys of the file, in enum pkey's order: the settings, with canaries for canary (a list). */
static const char *const file_keys[] = {
    "controller", "name",      "token_file", "ca_file",
    "spool",      "spool_max", "canaries",   "max_in_flight",
};

_Static_assert(sizeof(file_keys) / sizeof(file_keys[0]) == PK__COUNT, "a name per key");

static void load_value(struct pld *l, int k, const char *keyname, yaml_node_t *v)
{
	const char *a = conf_scalar(v);
	char err[512];

	if (!a || conf_is_null(v)) {
		perr(l, &v->start_mark, "%s: expected a single value, found %s", keyname,
		     conf_kind(v));
		return;
	}
	if (set_one(l->pc, k, a, l->dir, err, sizeof(err)) < 0) {
		perr(l, &v->start_mark, "%s", err);
		return;
	}
	if (k == PK_TOKEN_FILE) {
		struct pmem *m = l->pc->mem;

		free(m->file);
		m->file = strdup(l->path);
		m->tok_line = (int)v->start_mark.line + 1;
		m->tok_col = (int)v->start_mark.column + 1;
	}
}

/* controller and canaries: a list, or one value. */
static void load_list(struct pld *l, int k, const char *keyname, yaml_node_t *v, int max)
{
	int n = 0;

	if (v->type != YAML_SEQUENCE_NODE) {
		load_value(l, k, keyname, v);
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(l->doc, *it);

		if (n++ == max) {
			perr(l, &e->start_mark, "%s: at most %d", keyname, max);
			return;
		}
		load_value(l, k, keyname, e);
	}
	if (n == 0)
		perr(l, &v->start_mark, "%s: the list is empty", keyname);
}

static void load_root(struct pld *l, yaml_node_t *root)
{
	int seen_line[PK__COUNT] = {0};

	if (root->type != YAML_MAPPING_NODE) {
		perr(l, &root->start_mark,
		     "the top level must be a mapping (controller:, name:, ...), found %s",
		     conf_kind(root));
		return;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(l->doc, p->value);
		const char *key = conf_scalar(kn), *near;
		int k = -1;

		if (!key) {
			perr(l, &kn->start_mark, "keys must be plain words, found %s",
			     conf_kind(kn));
			continue;
		}
		for (int i = 0; i < PK__COUNT; i++)
			if (strcmp(key, file_keys[i]) == 0)
				k = i;
		/* The setting's own name, as probe.h lists it, reads as well. */
		if (strcmp(key, "canary") == 0)
			k = PK_CANARY;
		if (k < 0 && strcmp(key, "token") == 0) {
			perr(l, &kn->start_mark,
			     "token: secrets are never written in the file; use token_file (a file "
			     "holding it, readable by the node only)");
			continue;
		}
		if (k < 0) {
			near = conf_nearest(key, file_keys, PK__COUNT);
			if (near)
				perr(l, &kn->start_mark, "unknown key \"%s\"; did you mean \"%s\"?",
				     conf_show(key).s, near);
			else
				perr(l, &kn->start_mark,
				     "unknown key \"%s\"; allowed keys: controller, name, "
				     "token_file, "
				     "ca_file, spool, spool_max, canaries, max_in_flight",
				     conf_show(key).s);
			continue;
		}
		if (seen_line[k]) {
			perr(l, &kn->start_mark, "duplicate key \"%s\" (first on line %d)", key,
			     seen_line[k]);
			continue;
		}
		seen_line[k] = (int)kn->start_mark.line + 1;
		if (k == PK_CONTROLLER)
			load_list(l, k, key, vn, PROBE_CONTROLLERS_MAX);
		else if (k == PK_CANARY)
			load_list(l, k, key, vn, PROBE_CANARIES_MAX);
		else
			load_value(l, k, key, vn);
	}
}

static char *read_all(const char *path, size_t *len, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	char *b;
	size_t n;

	if (!f) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	b = malloc(PROBE_FILE_MAX + 1);
	if (!b) {
		fclose(f);
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	n = fread(b, 1, PROBE_FILE_MAX + 1, f);
	if (ferror(f) || n > PROBE_FILE_MAX) {
		snprintf(why, whylen, "%s",
		         ferror(f) ? strerror(errno)
		                   : "larger than 1 MB: not a probe configuration file");
		free(b);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return b;
}

int probe_conf_load(struct probe_conf *pc, const char *path, FILE *errs)
{
	struct pld l = {pc, path, NULL, NULL, errs, 0};
	struct pmem *m = pc->mem;
	const char *slash = strrchr(path, '/');
	yaml_parser_t parser;
	yaml_document_t doc;
	char why[256], *buf;
	size_t len = 0;

	free(m->loaded);
	m->loaded = strdup(path);
	buf = read_all(path, &len, why, sizeof(why));
	if (!buf) {
		fprintf(errs, "%s: %s\n", path, why);
		return 1;
	}
	if (slash) {
		l.dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
		if (!l.dir) {
			free(buf);
			fprintf(errs, "%s: out of memory\n", path);
			return 1;
		}
	}
	if (!yaml_parser_initialize(&parser)) {
		fprintf(errs, "%s: out of memory\n", path);
		l.nerr++;
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_mark_t mk = parser.problem_mark;

		/* Encoding errors come with a byte offset and no mark: say line 1. */
		if (parser.error == YAML_READER_ERROR)
			mk.line = mk.column = 0;
		perr(&l, &mk, "YAML syntax error: %s", parser.problem ? parser.problem : "unknown");
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		yaml_document_t more;

		l.doc = &doc;
		if (root)
			load_root(&l, root);
		if (yaml_parser_load(&parser, &more)) {
			yaml_node_t *r = yaml_document_get_root_node(&more);

			if (r)
				perr(&l, &r->start_mark,
				     "only one YAML document per file (remove the \"---\")");
			yaml_document_delete(&more);
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
out:
	OPENSSL_cleanse(buf, len);
	free(buf);
	free(l.dir);
	return l.nerr;
}

/* ---- finish --------------------------------------------------------------- */

static void ferr(const struct probe_conf *pc, FILE *errs, int at_token, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Where a problem is: "file:line:col: " for a token_file set in a file,
 * the file for a setting missing from it, else the command.
 */
static void ferr(const struct probe_conf *pc, FILE *errs, int at_token, const char *fmt, ...)
{
	const struct pmem *m = pc->mem;
	va_list ap;

	if (at_token && m->file)
		fprintf(errs, "%s:%d:%d: ", m->file, m->tok_line, m->tok_col);
	else if (at_token || !m->loaded)
		fputs("mailpulse probe: ", errs); /* the token_file of a flag */
	else
		fprintf(errs, "%s: ", m->loaded);
	va_start(ap, fmt);
	vfprintf(errs, fmt, ap);
	va_end(ap);
	fputc('\n', errs);
}

static int read_token(struct probe_conf *pc, FILE *errs)
{
	char buf[SECRET_MAX + 1], why[160];
	const char *bad;
	int world = 0, rc = -1;

	if (secret_read_file(pc->token_file, buf, sizeof(buf), &world, why, sizeof(why)) < 0) {
		ferr(pc, errs, 1, "token_file %s: %s", conf_show(pc->token_file).s, why);
		return -1;
	}
	if (world)
		/* Whoever reads it can send results as this node, and make up its history. */
		ferr(pc, errs, 1,
		     "token_file %s: readable by every user: chmod 600 it (whoever reads the "
		     "token can send results as this node)",
		     conf_show(pc->token_file).s);
	else if ((bad = conf_token_problem(buf)))
		ferr(pc, errs, 1, "token_file %s: the token %s", conf_show(pc->token_file).s, bad);
	else if (!(pc->token = pc_strdup(pc, buf)))
		ferr(pc, errs, 0, "out of memory");
	else
		rc = 0;
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int probe_conf_finish(struct probe_conf *pc, FILE *errs)
{
	int bad = 0;

	if (!pc->name) {
		ferr(pc, errs, 0,
		     "no name: give --name NAME or name: (the node's name in the controller's "
		     "nodes:)");
		bad++;
	}
	if (pc->ncontrollers == 0) {
		ferr(pc, errs, 0,
		     "no controller: give --controller https://HOST:PORT or controller: in the "
		     "file");
		bad++;
	}
	pc->token = NULL;
	if (!pc->token_file) {
		ferr(pc, errs, 0,
		     "no token_file: give --token-file FILE or token_file: (the file holding the "
		     "node's bearer token)");
		bad++;
	} else if (read_token(pc, errs) < 0) {
		bad++;
	}
	return bad ? -1 : 0;
}
