/*
 * conf.c - the daemon's YAML configuration -> struct conf; key tables;
 * file:line:col errors.
 *
 * The file is loaded with libyaml's document API and walked by a table per
 * section ({key, type, offset, min, max}): one generic walker refuses
 * unknown and duplicate keys and converts values, so adding a key is adding
 * a row. Every problem is collected with its position, then the
 * cross-checks run (they need the whole file: channel names, defaults,
 * timeout against interval), and everything is printed sorted by position.
 *
 * Sections are processed in dependency order, not file order: channels,
 * then defaults, then checks (which name channels and inherit defaults),
 * then maintenance windows (which name checks). Sorting the messages hides
 * that order from the user.
 *
 * Memory: every string of a conf lives in one arena (struct conf_mem), so
 * checks can share what they inherit from the defaults block without
 * reference counting; conf_unref() wipes the arena with OPENSSL_cleanse,
 * which covers every secret, and frees it.
 */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/line.h"
#include "spec/duration.h"
#include "spec/isotime.h"
#include "spec/secret.h"

/* A configuration is hand-written: anything bigger is a mistake or an attack. */
#define CONF_FILE_MAX  (64 * 1024 * 1024) /* 100,000 checks take about 12 MB */
#define CONF_NAME_MAX  64
#define CONF_LABEL_MAX 64
/*
 * Aliases share nodes, so a small file can describe a huge tree ("billion
 * laughs"); the walk is bounded in depth by the tables, and in breadth by this.
 */
#define CONF_VISITS_MAX                                                                            \
	5000000 /* 100,000 checks of ~20 values each, with room; stops alias bombs */
#define CONF_ERRORS_MAX 1000

/* ---- arena ---------------------------------------------------------- */

struct conf_mem {
	struct conf_mem *next;
	size_t size, used;
	char data[];
};

static void *mem_alloc(struct conf *c, size_t n)
{
	struct conf_mem *m = c->mem;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!m || m->size - m->used < n) {
		size_t sz = n > 16384 ? n : 16384;

		m = calloc(1, sizeof(*m) + sz);
		if (!m)
			return NULL;
		m->size = sz;
		m->next = c->mem;
		c->mem = m;
	}
	p = m->data + m->used;
	m->used += n;
	return p;
}

static char *mem_strdup(struct conf *c, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = mem_alloc(c, n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static void mem_free(struct conf_mem *m)
{
	while (m) {
		struct conf_mem *next = m->next;

		/* Secrets live here among the rest: wipe it all rather than track them. */
		OPENSSL_cleanse(m, sizeof(*m) + m->size);
		free(m);
		m = next;
	}
}

/* ---- loader state and messages -------------------------------------- */

struct pos {
	int line, col; /* 1-based; line 0: not set */
};

struct cerr {
	int phase; /* 0: the file as written, 1: cross-checks */
	int line, col;
	unsigned seq;
	char *msg;
};

#define KEYS_MAX 64

/* What we know about one check (or the defaults block) while loading. */
struct ckx {
	struct pos at[KEYS_MAX]; /* where each key was set in this very mapping */
	uint64_t set;            /* keys set here or inherited from defaults */
	struct pos start;
	struct pos name_at;
	const char *pw_src; /* "file:PATH" or "env:NAME": in the digest, not the password */
};

struct ld {
	struct conf *c;
	const char *path;
	char *dir; /* of the file, for relative paths */
	yaml_document_t *doc;
	struct cerr *errs;
	size_t nerr, caperr;
	unsigned long visits;
	int too_complex;
	int phase;
	int oom;
	unsigned long dropped; /* errors past CONF_ERRORS_MAX */
	/* top-level sections, processed after the walk in dependency order */
	yaml_node_t *n_channels, *n_defaults, *n_checks, *n_maintenance;
	struct conf_check tmpl;
	struct ckx tmpl_x;
	struct ckx *ckx; /* one per check */
	struct pos *ch_at, *win_at;
	/* http.public_status.checks names, checked once the checks are loaded */
	struct pos pub_at[CONF_LABELS_MAX];
	struct pos token_at;
	struct pos store_at; /* the store: value, for conf_store_path() */
};

static void verr(struct ld *l, int phase, int line, int col, const char *fmt, va_list ap)
{
	char buf[1024];
	struct cerr *e;

	/* Past this, more messages help nobody and cost memory on a hostile file. */
	if (l->nerr >= CONF_ERRORS_MAX) {
		l->dropped++;
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (l->nerr == l->caperr) {
		size_t cap = l->caperr ? l->caperr * 2 : 16;
		struct cerr *v = realloc(l->errs, cap * sizeof(*v));

		if (!v) {
			l->oom = 1;
			return;
		}
		l->errs = v;
		l->caperr = cap;
	}
	e = &l->errs[l->nerr];
	e->msg = strdup(buf);
	if (!e->msg) {
		l->oom = 1;
		return;
	}
	e->phase = phase;
	e->line = line;
	e->col = col;
	e->seq = (unsigned)l->nerr;
	l->nerr++;
}

static void err_pos(struct ld *l, struct pos p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_pos(struct ld *l, struct pos p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(l, l->phase, p.line, p.col, fmt, ap);
	va_end(ap);
}

static struct pos pos_of(const yaml_node_t *n)
{
	struct pos p = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};

	return p;
}

static void err_at(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_at(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	struct pos p = pos_of(n);

	va_start(ap, fmt);
	verr(l, l->phase, p.line, p.col, fmt, ap);
	va_end(ap);
}

/* A cross-check: printed after everything found while reading the file. */
static void xerr(struct ld *l, struct pos p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xerr(struct ld *l, struct pos p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(l, 1, p.line, p.col, fmt, ap);
	va_end(ap);
}

static int cerr_cmp(const void *a, const void *b)
{
	const struct cerr *x = a, *y = b;

	if (x->phase != y->phase)
		return x->phase - y->phase;
	if (x->line != y->line)
		return x->line - y->line;
	if (x->col != y->col)
		return x->col - y->col;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Values go into messages escaped and cut: they may be anything. */
struct shown {
	char s[96];
};

static struct shown show(const char *v)
{
	struct shown b;

	line_escape(b.s, sizeof(b.s), v, strlen(v));
	return b;
}

/* ---- YAML node helpers ---------------------------------------------- */

static yaml_node_t *node(struct ld *l, int i)
{
	return yaml_document_get_node(l->doc, i);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* "", "~" and "null" written plainly are YAML's nothing. */
static int is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*s || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0;
}

static const char *kind(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (is_null(n))
		return "nothing";
	return "a single value";
}

/* Counts every node the walk touches; 0 once the budget is spent. */
static int visit(struct ld *l, const yaml_node_t *n)
{
	if (l->too_complex)
		return 0;
	if (++l->visits > CONF_VISITS_MAX) {
		l->too_complex = 1;
		err_at(l, n, "the file expands to more than %d values (aliases?)", CONF_VISITS_MAX);
		return 0;
	}
	return 1;
}

static yaml_node_t *map_get_depth(struct ld *l, const yaml_node_t *map, const char *key, int depth)
{
	yaml_node_t *found = NULL;

	if (!map || map->type != YAML_MAPPING_NODE || depth > 4)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(node(l, p->key));

		if (k && strcmp(k, key) == 0)
			return node(l, p->value);
	}
	/* Then what merge keys bring in, as walk_merges() sees it. */
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(node(l, p->key));
		yaml_node_t *v = node(l, p->value), *f;

		if (!k || strcmp(k, "<<") != 0)
			continue;
		if (v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++)
				if ((f = map_get_depth(l, node(l, *it), key, depth + 1)))
					found = f;
		} else if ((f = map_get_depth(l, v, key, depth + 1))) {
			found = f;
		}
	}
	return found;
}

/* The value of key in a mapping, with merge keys; NULL when absent. */
static yaml_node_t *map_get(struct ld *l, const yaml_node_t *map, const char *key)
{
	return map_get_depth(l, map, key, 0);
}

/*
 * The items of a list; a single value counts as a list of one, since
 * "notify: ops" is what anyone would write for one channel.
 */
static int items(struct ld *l, yaml_node_t *v, yaml_node_t **out, int max, const char *key)
{
	int n = 0;

	if (v->type == YAML_SCALAR_NODE) {
		if (is_null(v))
			return 0;
		out[0] = v;
		return 1;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		err_at(l, v, "%s: expected a list, found %s", key, kind(v));
		return -1;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = node(l, *it);

		if (!visit(l, e))
			return -1;
		if (n == max) {
			err_at(l, e, "%s: at most %d entries", key, max);
			return -1;
		}
		out[n++] = e;
	}
	return n;
}

/* ---- value checks ---------------------------------------------------- */

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int is_name_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

static void describe_char(char *dst, size_t n, unsigned char ch)
{
	if (ch > 0x20 && ch < 0x7f)
		snprintf(dst, n, "'%c'", ch);
	else if (ch == ' ')
		snprintf(dst, n, "a space");
	else
		snprintf(dst, n, "byte 0x%02x", ch);
}

/* Names of checks, channels, windows, label keys: they end up in URLs and logs. */
static int check_name(struct ld *l, const yaml_node_t *v, const char *what, const char *s)
{
	char d[16];

	if (strlen(s) > CONF_NAME_MAX) {
		err_at(l, v, "%s \"%s\" is longer than %d characters", what, show(s).s,
		       CONF_NAME_MAX);
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if (!is_name_char((unsigned char)*p)) {
			describe_char(d, sizeof(d), (unsigned char)*p);
			err_at(l, v,
			       "%s \"%s\": %s is not allowed; use letters, digits, '.', '_' and "
			       "'-'",
			       what, show(s).s, d);
			return -1;
		}
	}
	return 0;
}

static int is_host_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (; *s; s++)
		if (!is_name_char((unsigned char)*s))
			return 0;
	return 1;
}

static int is_env_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* Digits only, at most max. */
static int parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
		if (v > max)
			return -2;
	}
	*out = v;
	return 0;
}

/* "90" (seconds, the one spelling the config adds), or what duration_parse() reads. */
static int parse_duration(const char *s, unsigned long long *ms)
{
	unsigned long long v;
	int64_t d;

	if (parse_ull(s, 1000000000ULL, &v) == 0) {
		*ms = v * 1000;
		return 0;
	}
	if (duration_parse(s, 1000LL * 86400000LL, &d) < 0)
		return -1;
	*ms = (unsigned long long)d;
	return 0;
}

/* The shortest exact spelling: 90000 -> "1m30s", 0 -> "0". */
static const char *fmt_duration(char *buf, size_t n, unsigned long long ms)
{
	static const struct {
		const char *unit;
		unsigned long long ms;
	} units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
	size_t len = 0;

	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, n, "0");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && len < n; i++) {
		if (ms >= units[i].ms) {
			len += (size_t)snprintf(buf + len, n - len, "%llu%s", ms / units[i].ms,
			                        units[i].unit);
			ms %= units[i].ms;
		}
	}
	return buf;
}

struct dur {
	char s[32];
};

static struct dur dur(unsigned long long ms)
{
	struct dur d;

	fmt_duration(d.s, sizeof(d.s), ms);
	return d;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
	                                                                       "off"};

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Levenshtein distance, for "did you mean"; both strings are short keys. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* The closest of names to s when it is close enough to be a typo, else NULL. */
static const char *nearest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bd = (size_t)-1, limit = strlen(s) <= 4 ? 1 : 2;

	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (!names[i])
			continue;
		d = distance(s, names[i]);
		if (d < bd) {
			bd = d;
			best = names[i];
		}
	}
	return bd <= limit ? best : NULL;
}

/* ---- key tables ------------------------------------------------------- */

enum ktype {
	K_STR,         /* printable text, at most max bytes */
	K_NAME,        /* a name: letters, digits, . _ - */
	K_PATH,        /* a file; relative to the configuration file's directory */
	K_FILE,        /* ... that must be readable now (CA files) */
	K_UINT,        /* whole number min..max, stored in size bytes */
	K_DUR,         /* duration in ms min..max (0 also allowed with KF_ZERO) */
	K_BOOL,        /* true/false/yes/no/on/off */
	K_ENUM,        /* one of enums[] */
	K_SECRET_FILE, /* first line of a file, into the arena */
	K_SECRET_ENV,  /* an environment variable's value */
	K_INLINE,      /* a secret written inline: always an error */
	K_DEFER,       /* a top-level section, processed later in dependency order */
	K_FN,          /* fn does it all */
};

#define KF_CHECK_ONLY 1u /* not in defaults: it names one server */
#define KF_HIDDEN     2u /* not offered in "allowed keys" lists */
#define KF_ZERO       4u /* 0 is allowed besides min..max: "off" */
#define KF_PWSRC      8u /* a check's password: its source goes into the digest */

struct section;
struct key;
typedef void (*key_fn)(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v);

struct enumv {
	const char *name;
	int value;
};

struct key {
	const char *name;
	enum ktype type;
	size_t off, size;
	unsigned long long min, max;
	const struct enumv *enums;
	key_fn fn;
	unsigned flags;
	unsigned types; /* channels: the types it applies to (bit per type); 0 = all */
};

/* One mapping being walked. */
struct section {
	char what[128]; /* "check \"imap-main\"", for messages */
	const struct key *tbl;
	size_t n;
	void *base;
	unsigned types; /* channels: 1 << type, or 0 while the type is unknown */
	int defaults;
	struct pos at[KEYS_MAX]; /* where each key was found */
	uint64_t here;           /* keys found */
	const char *pw_src;      /* KF_PWSRC: "file:PATH" or "env:NAME" */
};

#define FIELD(type, m) offsetof(type, m), sizeof(((type *)0)->m)

static void put_int(void *base, const struct key *k, unsigned long long v)
{
	char *p = (char *)base + k->off;

	/* Fields are unsigned, int or enum; the table gives the width. */
	if (k->size == sizeof(uint64_t)) {
		uint64_t x = v;
		memcpy(p, &x, sizeof(x));
	} else if (k->size == sizeof(uint32_t)) {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, sizeof(x));
	} else if (k->size == sizeof(uint16_t)) {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, sizeof(x));
	} else {
		unsigned char x = (unsigned char)v;
		memcpy(p, &x, sizeof(x));
	}
}

static void put_ptr(void *base, size_t off, const void *v)
{
	/* memcpy: the field may be char * or const char *. */
	memcpy((char *)base + off, &v, sizeof(v));
}

static int key_index(const struct section *s, const struct key *k)
{
	return (int)(k - s->tbl);
}

static const struct key *find_key(const struct key *tbl, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tbl[i].name, name) == 0)
			return &tbl[i];
	return NULL;
}

static int has(const struct section *s, const char *name)
{
	const struct key *k = find_key(s->tbl, s->n, name);

	return k && (s->here >> key_index(s, k) & 1);
}

static struct pos at(const struct section *s, const char *name)
{
	const struct key *k = find_key(s->tbl, s->n, name);
	struct pos none = {0, 0};

	return k ? s->at[key_index(s, k)] : none;
}

static int key_applies(const struct section *s, const struct key *k)
{
	if (s->defaults && (k->flags & KF_CHECK_ONLY))
		return 0;
	return !k->types || (k->types & s->types);
}

/* A path as the program will open it. */
static char *resolve_path(struct ld *l, const char *p)
{
	char *r;
	size_t n;

	if (p[0] == '/' || !l->dir)
		return mem_strdup(l->c, p);
	n = strlen(l->dir) + strlen(p) + 2;
	r = mem_alloc(l->c, n);
	if (r)
		snprintf(r, n, "%s/%s", l->dir, p);
	return r;
}

static char *read_secret_file(struct ld *l, const yaml_node_t *v, const char *key,
                              const char *shownp, const char *path)
{
	char buf[SECRET_MAX + 1], why[128], *out = NULL;

	if (secret_read_file(path, buf, sizeof(buf), NULL, why, sizeof(why)) < 0) {
		err_at(l, v, "%s %s: %s", key, shownp, why);
		return NULL;
	}
	out = mem_alloc(l->c, strlen(buf) + 1);
	if (out)
		memcpy(out, buf, strlen(buf) + 1);
	explicit_bzero(buf, sizeof(buf));
	return out;
}

static char *read_secret_env(struct ld *l, const yaml_node_t *v, const char *key, const char *name)
{
	const char *e;
	size_t n;

	if (!is_env_name(name)) {
		err_at(l, v, "%s: \"%s\" is not an environment variable name", key, show(name).s);
		return NULL;
	}
	e = getenv(name);
	if (!e) {
		err_at(l, v, "%s: %s is not set", key, name);
		return NULL;
	}
	n = strlen(e);
	if (n == 0) {
		err_at(l, v, "%s: %s is empty", key, name);
		return NULL;
	}
	if (n > SECRET_MAX) {
		err_at(l, v, "%s: %s is longer than %d bytes", key, name, SECRET_MAX);
		return NULL;
	}
	if (strpbrk(e, "\r\n")) {
		err_at(l, v, "%s: %s contains a CR or LF byte", key, name);
		return NULL;
	}
	return mem_strdup(l->c, e);
}

/* Convert and store one scalar value by its table row. */
static void set_value(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *str;
	unsigned long long u;
	char *p;
	int r, b;

	if (k->type == K_FN) {
		k->fn(l, s, k, v);
		return;
	}
	if (k->type == K_DEFER) {
		yaml_node_t **slot = (yaml_node_t **)(void *)((char *)l + k->off);
		*slot = v;
		return;
	}
	if (k->type == K_INLINE) {
		err_at(l, v,
		       "%s: secrets are never written in the configuration; use %s_file (a file "
		       "holding it) or %s_env (an environment variable)",
		       k->name, k->name, k->name);
		return;
	}
	str = scalar(v);
	if (!str) {
		err_at(l, v, "%s: expected a single value, found %s", k->name, kind(v));
		return;
	}
	if (is_null(v)) {
		err_at(l, v, "%s: a value is required", k->name);
		return;
	}
	switch (k->type) {
	case K_STR:
		if (has_control(str)) {
			err_at(l, v, "%s: control characters are not allowed", k->name);
			return;
		}
		if (k->max && strlen(str) > k->max) {
			err_at(l, v, "%s: longer than %llu characters", k->name, k->max);
			return;
		}
		put_ptr(s->base, k->off, mem_strdup(l->c, str));
		return;
	case K_NAME:
		if (check_name(l, v, k->name, str) == 0)
			put_ptr(s->base, k->off, mem_strdup(l->c, str));
		return;
	case K_PATH:
	case K_FILE: {
		struct stat st;

		if (has_control(str) || strlen(str) > 4000) {
			err_at(l, v, "%s: not a usable file name", k->name);
			return;
		}
		p = resolve_path(l, str);
		if (!p)
			return;
		if (k->type == K_FILE) {
			if (access(p, R_OK) < 0) {
				err_at(l, v, "%s %s: %s", k->name, show(str).s, strerror(errno));
				return;
			}
			if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
				err_at(l, v, "%s %s: is a directory, not a PEM file", k->name,
				       show(str).s);
				return;
			}
		}
		put_ptr(s->base, k->off, p);
		return;
	}
	case K_UINT:
		r = parse_ull(str, 0xffffffffULL, &u);
		if (r == -1) {
			err_at(l, v, "%s: \"%s\" is not a whole number", k->name, show(str).s);
			return;
		}
		if (r == -2 || u > k->max) {
			err_at(l, v, "%s %s is above the maximum %llu", k->name, show(str).s,
			       k->max);
			return;
		}
		if (u < k->min && !(u == 0 && (k->flags & KF_ZERO))) {
			err_at(l, v, "%s %llu is below the minimum %llu", k->name, u, k->min);
			return;
		}
		put_int(s->base, k, u);
		return;
	case K_DUR:
		if (parse_duration(str, &u) < 0) {
			err_at(
			    l, v,
			    "%s: \"%s\" is not a duration (such as 90, 30s, 5m or 1h30m; a plain "
			    "number is seconds)",
			    k->name, show(str).s);
			return;
		}
		if (u == 0 && (k->flags & KF_ZERO)) {
			put_int(s->base, k, 0);
			return;
		}
		if (u < k->min) {
			err_at(l, v, "%s %s is below the minimum %s", k->name, dur(u).s,
			       dur(k->min).s);
			return;
		}
		if (u > k->max) {
			err_at(l, v, "%s %s is above the maximum %s", k->name, dur(u).s,
			       dur(k->max).s);
			return;
		}
		put_int(s->base, k, u);
		return;
	case K_BOOL:
		if (parse_bool(str, &b) < 0) {
			err_at(l, v, "%s: \"%s\" is not true or false", k->name, show(str).s);
			return;
		}
		put_int(s->base, k, (unsigned long long)b);
		return;
	case K_ENUM: {
		char list[256] = "";
		size_t len = 0;

		for (const struct enumv *e = k->enums; e->name; e++) {
			if (strcmp(str, e->name) == 0) {
				put_int(s->base, k, (unsigned long long)(unsigned)e->value);
				return;
			}
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
			                        len ? ", " : "", e->name);
			if (len >= sizeof(list))
				len = sizeof(list) - 1;
		}
		err_at(l, v, "%s: \"%s\" is not one of %s", k->name, show(str).s, list);
		return;
	}
	case K_SECRET_FILE:
	case K_SECRET_ENV: {
		if (k->type == K_SECRET_FILE) {
			char *path = resolve_path(l, str);

			p = path ? read_secret_file(l, v, k->name, show(str).s, path) : NULL;
		} else {
			p = read_secret_env(l, v, k->name, str);
		}
		if (!p)
			return;
		put_ptr(s->base, k->off, p);
		if (k->flags & KF_PWSRC) {
			size_t n = strlen(str) + 8;
			char *src = mem_alloc(l->c, n);

			if (src)
				snprintf(src, n, "%s:%s", k->type == K_SECRET_FILE ? "file" : "env",
				         str);
			s->pw_src = src;
		}
		return;
	}
	case K_INLINE:
	case K_DEFER:
	case K_FN:
		break;
	}
}

static void unknown_key(struct ld *l, const struct section *s, const yaml_node_t *kn,
                        const char *key)
{
	const char *names[KEYS_MAX];
	char list[600];
	size_t n = 0, len = 0;
	const char *best;

	for (size_t i = 0; i < s->n && n < KEYS_MAX; i++)
		if (!(s->tbl[i].flags & KF_HIDDEN) && key_applies(s, &s->tbl[i]))
			names[n++] = s->tbl[i].name;
	best = nearest(key, names, n);
	if (best) {
		err_at(l, kn, "unknown key \"%s\" in %s; did you mean \"%s\"?", show(key).s,
		       s->what, best);
		return;
	}
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
		                        names[i]);
	err_at(l, kn, "unknown key \"%s\" in %s; allowed keys: %s", show(key).s, s->what, list);
}

static const struct key top_keys[9];

/* Walk one mapping against its table. */
static void walk_map(struct ld *l, struct section *s, yaml_node_t *map, int depth);

/*
 * YAML merge keys ("<<: *common"), which libyaml leaves to us. Merged
 * mappings are walked before the explicit keys so that those override.
 */
static void walk_merges(struct ld *l, struct section *s, yaml_node_t *map, int depth)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(l, p->key), *vn = node(l, p->value);
		const char *key = scalar(kn);

		if (!key || strcmp(key, "<<") != 0)
			continue;
		if (depth >= 4) {
			err_at(l, kn, "merge keys (<<) nested more than 4 deep");
			continue;
		}
		if (vn->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = vn->data.sequence.items.start;
			     it < vn->data.sequence.items.top; it++)
				if (visit(l, node(l, *it)))
					walk_map(l, s, node(l, *it), depth + 1);
		} else {
			walk_map(l, s, vn, depth + 1);
		}
	}
}

static void walk_map(struct ld *l, struct section *s, yaml_node_t *map, int depth)
{
	if (map->type != YAML_MAPPING_NODE) {
		err_at(l, map, "%s: expected a mapping of keys, found %s", s->what, kind(map));
		return;
	}
	uint64_t seen = 0;
	int seen_line[KEYS_MAX];

	walk_merges(l, s, map, depth);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(l, p->key), *vn = node(l, p->value);
		const char *key = scalar(kn);
		const struct key *k;

		if (!visit(l, kn))
			return;
		if (!key) {
			err_at(l, kn, "keys in %s must be plain words, found %s", s->what,
			       kind(kn));
			continue;
		}
		if (strcmp(key, "<<") == 0)
			continue;
		/* Room for anchors to share ("x-tls: &tls {...}"), as in compose files. */
		if (s->tbl == top_keys && strncmp(key, "x-", 2) == 0)
			continue;
		k = find_key(s->tbl, s->n, key);
		if (!k) {
			unknown_key(l, s, kn, key);
			continue;
		}
		/* Per table row rather than pairwise: a hostile file may have many keys. */
		if (seen >> key_index(s, k) & 1) {
			err_at(l, kn, "duplicate key \"%s\" in %s (first on line %d)", show(key).s,
			       s->what, seen_line[key_index(s, k)]);
			continue;
		}
		seen |= (uint64_t)1 << key_index(s, k);
		seen_line[key_index(s, k)] = pos_of(kn).line;
		if (s->defaults && (k->flags & KF_CHECK_ONLY)) {
			err_at(l, kn, "key \"%s\" is not allowed in defaults: set it in each check",
			       key);
			continue;
		}
		if (k->types && !(k->types & s->types)) {
			/* With the type itself wrong, that one message is enough. */
			if (s->types)
				err_at(l, kn, "key \"%s\" does not apply to %s", key, s->what);
			continue;
		}
		s->here |= (uint64_t)1 << key_index(s, k);
		s->at[key_index(s, k)] = pos_of(vn);
		set_value(l, s, k, vn);
	}
}

static void walk(struct ld *l, struct section *s, yaml_node_t *map)
{
	walk_map(l, s, map, 0);
	/* NAME_file and NAME_env follow each other in every table. */
	for (size_t i = 0; i + 1 < s->n; i++) {
		if (s->tbl[i].type == K_SECRET_FILE && s->tbl[i + 1].type == K_SECRET_ENV &&
		    (s->here >> i & 1) && (s->here >> (i + 1) & 1)) {
			struct pos a = s->at[i], b = s->at[i + 1];
			int env_later = b.line > a.line || (b.line == a.line && b.col > a.col);

			err_pos(l, env_later ? b : a, "%s and %s exclude each other: give one",
			        s->tbl[i].name, s->tbl[i + 1].name);
		}
	}
}

static void section_init(struct section *s, const struct key *tbl, size_t n, void *base,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void section_init(struct section *s, const struct key *tbl, size_t n, void *base,
                         const char *fmt, ...)
{
	va_list ap;

	memset(s, 0, sizeof(*s));
	s->tbl = tbl;
	s->n = n;
	s->base = base;
	s->types = ~0u;
	va_start(ap, fmt);
	vsnprintf(s->what, sizeof(s->what), fmt, ap);
	va_end(ap);
}

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- top level, retention, http -------------------------------------- */

static const struct key retention_keys[] = {
    {"raw_days", K_UINT, FIELD(struct conf, raw_days), 1, 3650, NULL, NULL, 0, 0},
    {"rollup_days", K_UINT, FIELD(struct conf, rollup_days), 1, 36500, NULL, NULL, 0, 0},
};

static void fn_listen(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *a = scalar(v), *colon;
	unsigned long long port;
	char host[300];
	unsigned char bin[16];

	(void)s;
	if (!a || is_null(v)) {
		err_at(l, v, "%s: expected HOST:PORT, found %s", k->name, kind(v));
		return;
	}
	if (strcmp(a, "off") == 0) {
		/* No HTTP server at all: no dashboard, API or metrics. */
		l->c->listen = mem_strdup(l->c, "off");
		return;
	}
	colon = strrchr(a, ':');
	if (!colon || colon == a || strlen(a) >= sizeof(host) ||
	    parse_ull(colon + 1, 65535, &port) < 0 || port == 0) {
		err_at(l, v, "%s: \"%s\" is not HOST:PORT (such as 127.0.0.1:8080 or [::1]:8080)",
		       k->name, show(a).s);
		return;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - a), a);
	if (host[0] == '[') {
		size_t hl = strlen(host);

		if (hl < 3 || host[hl - 1] != ']') {
			err_at(l, v, "%s: \"%s\" is not HOST:PORT", k->name, show(a).s);
			return;
		}
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, bin) != 1) {
			err_at(l, v, "%s: \"%s\" is not an IPv6 address", k->name,
			       show(host + 1).s);
			return;
		}
	} else if (strchr(host, ':')) {
		err_at(l, v, "%s: IPv6 addresses need brackets, as in [::1]:8080", k->name);
		return;
	} else if (!is_host_name(host)) {
		err_at(l, v, "%s: \"%s\" is not a host name or address", k->name, show(host).s);
		return;
	}
	l->c->listen = mem_strdup(l->c, a);
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
		err_at(l, v, "%s: \"%s\" is not an http:// or https:// URL", key, show(u).s);
		return -1;
	}
	if (!*h || *h == '/' || *h == ':' || has_control(u) || strchr(u, ' ')) {
		err_at(l, v, "%s: \"%s\" is not a usable URL (a host is needed; no spaces)", key,
		       show(u).s);
		return -1;
	}
	return 0;
}

static void fn_http_url(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *u = scalar(v);

	if (!u || is_null(v)) {
		err_at(l, v, "%s: expected a URL, found %s", k->name, kind(v));
		return;
	}
	if (check_http_url(l, v, k->name, u) == 0)
		put_ptr(s->base, k->off, mem_strdup(l->c, u));
}

static int is_label_selector(const char *a);

/*
 * public_status.checks: check names or key=value label selectors. The
 * names are checked against the checks list in public_cross(), since the
 * http section is read before the checks.
 */
static void fn_public_checks(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	yaml_node_t *it[CONF_LABELS_MAX];
	int n = items(l, v, it, CONF_LABELS_MAX, k->name);
	struct conf *c = l->c;

	(void)s;
	c->npublic_checks = 0;
	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]);

		if (!a || is_null(it[i])) {
			err_at(l, it[i], "checks: expected a check name or key=value, found %s",
			       kind(it[i]));
			continue;
		}
		if (strchr(a, '=')) {
			if (!is_label_selector(a)) {
				err_at(l, it[i], "checks: \"%s\" is not a label selector key=value",
				       show(a).s);
				continue;
			}
		} else if (check_name(l, it[i], "check name", a) < 0) {
			continue;
		}
		l->pub_at[c->npublic_checks] = pos_of(it[i]);
		c->public_checks[c->npublic_checks++] = mem_strdup(c, a);
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
	section_init(&sub, public_keys, NKEYS(public_keys), l->c, "http.public_status");
	walk(l, &sub, v);
	if (l->c->public_enabled && !has(&sub, "checks"))
		err_at(l, v,
		       "http.public_status: enabled needs checks (the check names or key=value "
		       "labels to show)");
}

/* Bearer tokens (RFC 6750 b64token): no spaces, long enough not to be guessed. */
#define CONF_TOKEN_MIN 16

static void http_cross(struct ld *l)
{
	const char *t = l->c->http_token;

	if (!t)
		return;
	if (strlen(t) < CONF_TOKEN_MIN)
		err_pos(l, l->token_at, "http: the token is shorter than %d characters",
		        CONF_TOKEN_MIN);
	else if (strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	                   "-._~+/=") != strlen(t))
		err_pos(l, l->token_at,
		        "http: the token may hold only letters, digits and -._~+/= (RFC 6750)");
}

static const struct key http_keys[] = {
    {"listen", K_FN, 0, 0, 0, 0, NULL, fn_listen, 0, 0},
    {"dashboard_url", K_FN, FIELD(struct conf, dashboard_url), 0, 0, NULL, fn_http_url, 0, 0},
    {"token_file", K_SECRET_FILE, FIELD(struct conf, http_token), 0, 0, NULL, NULL, 0, 0},
    {"token_env", K_SECRET_ENV, FIELD(struct conf, http_token), 0, 0, NULL, NULL, 0, 0},
    {"token", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"public_status", K_FN, 0, 0, 0, 0, NULL, fn_public, 0, 0},
    {"max_connections", K_UINT, FIELD(struct conf, http_max_conns), 1, 100000, NULL, NULL, 0, 0},
    {"max_connections_per_address", K_UINT, FIELD(struct conf, http_max_conns_per_addr), 1, 100000,
     NULL, NULL, 0, 0},
};

static void fn_retention(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct section sub;

	(void)s;
	(void)k;
	section_init(&sub, retention_keys, NKEYS(retention_keys), l->c, "retention");
	walk(l, &sub, v);
}

static void fn_http(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct section sub;

	(void)s;
	(void)k;
	section_init(&sub, http_keys, NKEYS(http_keys), l->c, "http");
	walk(l, &sub, v);
	l->token_at = has(&sub, "token_file") ? at(&sub, "token_file") : at(&sub, "token_env");
	if (l->c->http_token)
		http_cross(l);
	if (l->c->http_max_conns_per_addr > l->c->http_max_conns)
		err_pos(l,
		        at(&sub, has(&sub, "max_connections_per_address")
		                     ? "max_connections_per_address"
		                     : "max_connections"),
		        "http: max_connections_per_address (%u) is more than max_connections (%u)",
		        l->c->http_max_conns_per_addr, l->c->http_max_conns);
}

/* After the checks are loaded: every name the public page lists exists. */
static void public_cross(struct ld *l)
{
	const struct conf *c = l->c;

	for (int i = 0; i < c->npublic_checks; i++)
		if (!strchr(c->public_checks[i], '=') && !conf_find_check(c, c->public_checks[i]))
			xerr(l, l->pub_at[i], "http.public_status: no check is named \"%s\"",
			     show(c->public_checks[i]).s);
}

static const struct key top_keys[] = {
    {"location", K_NAME, FIELD(struct conf, location), 0, 0, NULL, NULL, 0, 0},
    {"store", K_PATH, FIELD(struct conf, store_path), 0, 0, NULL, NULL, 0, 0},
    {"retention", K_FN, 0, 0, 0, 0, NULL, fn_retention, 0, 0},
    {"http", K_FN, 0, 0, 0, 0, NULL, fn_http, 0, 0},
    {"max_in_flight", K_UINT, FIELD(struct conf, max_in_flight), 1, 10000, NULL, NULL, 0, 0},
    {"defaults", K_DEFER, FIELD(struct ld, n_defaults), 0, 0, NULL, NULL, 0, 0},
    {"channels", K_DEFER, FIELD(struct ld, n_channels), 0, 0, NULL, NULL, 0, 0},
    {"maintenance", K_DEFER, FIELD(struct ld, n_maintenance), 0, 0, NULL, NULL, 0, 0},
    {"checks", K_DEFER, FIELD(struct ld, n_checks), 0, 0, NULL, NULL, 0, 0},
};

/* ---- channels ---------------------------------------------------------- */

static const struct enumv channel_types[] = {
    {"webhook", CH_WEBHOOK},   {"email", CH_EMAIL},
    {"slack", CH_SLACK},       {"mattermost", CH_MATTERMOST},
    {"discord", CH_DISCORD},   {"teams", CH_TEAMS},
    {"telegram", CH_TELEGRAM}, {"pagerduty", CH_PAGERDUTY},
    {"command", CH_COMMAND},   {NULL, 0},
};

const char *conf_channel_type_name(enum channel_type t)
{
	for (const struct enumv *e = channel_types; e->name; e++)
		if (e->value == (int)t)
			return e->name;
	return "unknown";
}

#define T(x) (1u << (x))
#define T_HOOKS                                                                                    \
	(T(CH_WEBHOOK) | T(CH_SLACK) | T(CH_MATTERMOST) | T(CH_DISCORD) | T(CH_TEAMS) |            \
	 T(CH_TELEGRAM) | T(CH_PAGERDUTY))

static void fn_noop(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	(void)l;
	(void)s;
	(void)k;
	(void)v;
}

static void fn_smtp(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	const char *u = scalar(v), *h;

	if (!u || is_null(v)) {
		err_at(l, v, "%s: expected an smtp:// or smtps:// URL, found %s", k->name, kind(v));
		return;
	}
	if (strncasecmp(u, "smtps://", 8) == 0)
		h = u + 8;
	else if (strncasecmp(u, "smtp://", 7) == 0)
		h = u + 7;
	else {
		err_at(l, v, "%s: \"%s\" is not an smtp:// or smtps:// URL", k->name, show(u).s);
		return;
	}
	if (strchr(u, '@')) {
		err_at(l, v, "%s: credentials in URLs are not accepted: use user and password_file",
		       k->name);
		return;
	}
	if (!*h || *h == '/' || *h == ':' || has_control(u) || strchr(u, ' ')) {
		err_at(l, v, "%s: \"%s\" has no host", k->name, show(u).s);
		return;
	}
	ch->smtp_url = mem_strdup(l->c, u);
}

static int is_mail_address(const char *s)
{
	const char *at = strchr(s, '@');

	return at && at != s && at[1] && !strchr(at + 1, '@') && !has_control(s) &&
	       !strpbrk(s, " <>,;\"");
}

static void fn_from(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	const char *a = scalar(v);

	if (!a || is_null(v)) {
		err_at(l, v, "%s: expected a mail address, found %s", k->name, kind(v));
		return;
	}
	if (!is_mail_address(a)) {
		err_at(l, v, "%s: \"%s\" is not a mail address (user@domain)", k->name, show(a).s);
		return;
	}
	ch->from = mem_strdup(l->c, a);
}

static void fn_to(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	yaml_node_t *it[CONF_TO_MAX];
	int n = items(l, v, it, CONF_TO_MAX, k->name);

	ch->nto = 0;

	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]);

		if (!a || !is_mail_address(a)) {
			err_at(l, it[i], "%s: \"%s\" is not a mail address (user@domain)", k->name,
			       a ? show(a).s : kind(it[i]));
			continue;
		}
		ch->to[ch->nto++] = mem_strdup(l->c, a);
	}
}

static void fn_command(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	yaml_node_t *it[CONF_ARGV_MAX];
	int n = items(l, v, it, CONF_ARGV_MAX, k->name), argc = 0;

	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]);

		if (!a || is_null(it[i])) {
			err_at(l, it[i], "%s: each argument must be a single value, found %s",
			       k->name, kind(it[i]));
			continue;
		}
		if (i == 0 && a[0] != '/') {
			/* No PATH search: what runs must not depend on the daemon's environment. */
			err_at(l, it[i], "%s: \"%s\" is not an absolute path", k->name, show(a).s);
			continue;
		}
		ch->argv[argc++] = mem_strdup(l->c, a);
	}
	ch->argv[argc] = NULL;
	if (n == 0)
		err_at(l, v, "%s: the list is empty: give the program and its arguments", k->name);
}

static void fn_chat_id(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_channel *ch = s->base;
	const char *a = scalar(v);

	if (!a || is_null(v)) {
		err_at(l, v, "%s: expected a chat id, found %s", k->name, kind(v));
		return;
	}
	/* A numeric id (negative for groups) or @channelname. */
	if (!(a[0] == '@' ? a[1] && is_host_name(a + 1)
	                  : (a[a[0] == '-'] && strspn(a + (a[0] == '-'), "0123456789") ==
	                                           strlen(a + (a[0] == '-'))))) {
		err_at(l, v, "%s: \"%s\" is not a chat id (a number, or @channel)", k->name,
		       show(a).s);
		return;
	}
	ch->chat_id = mem_strdup(l->c, a);
}

#define CH(m) FIELD(struct conf_channel, m)
static const struct key channel_keys[] = {
    {"name", K_FN, 0, 0, 0, 0, NULL, fn_noop, 0, 0},
    {"type", K_FN, 0, 0, 0, 0, NULL, fn_noop, 0, 0},
    {"url", K_FN, CH(url), 0, 0, NULL, fn_http_url, 0, T_HOOKS},
    {"ca_file", K_FILE, CH(ca_file), 0, 0, NULL, NULL, 0, T_HOOKS | T(CH_EMAIL)},
    {"secret_file", K_SECRET_FILE, CH(secret), 0, 0, NULL, NULL, 0, T(CH_WEBHOOK)},
    {"secret_env", K_SECRET_ENV, CH(secret), 0, 0, NULL, NULL, 0, T(CH_WEBHOOK)},
    {"secret", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"smtp", K_FN, 0, 0, 0, 0, NULL, fn_smtp, 0, T(CH_EMAIL)},
    {"starttls", K_BOOL, CH(smtp_starttls), 0, 0, NULL, NULL, 0, T(CH_EMAIL)},
    {"user", K_STR, CH(smtp_user), 0, 256, NULL, NULL, 0, T(CH_EMAIL)},
    {"password_file", K_SECRET_FILE, CH(smtp_password), 0, 0, NULL, NULL, 0, T(CH_EMAIL)},
    {"password_env", K_SECRET_ENV, CH(smtp_password), 0, 0, NULL, NULL, 0, T(CH_EMAIL)},
    {"password", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"from", K_FN, 0, 0, 0, 0, NULL, fn_from, 0, T(CH_EMAIL)},
    {"to", K_FN, 0, 0, 0, 0, NULL, fn_to, 0, T(CH_EMAIL)},
    {"token_file", K_SECRET_FILE, CH(bot_token), 0, 0, NULL, NULL, 0, T(CH_TELEGRAM)},
    {"token_env", K_SECRET_ENV, CH(bot_token), 0, 0, NULL, NULL, 0, T(CH_TELEGRAM)},
    {"token", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"chat_id", K_FN, 0, 0, 0, 0, NULL, fn_chat_id, 0, T(CH_TELEGRAM)},
    {"routing_key_file", K_SECRET_FILE, CH(routing_key), 0, 0, NULL, NULL, 0, T(CH_PAGERDUTY)},
    {"routing_key_env", K_SECRET_ENV, CH(routing_key), 0, 0, NULL, NULL, 0, T(CH_PAGERDUTY)},
    {"routing_key", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"command", K_FN, 0, 0, 0, 0, NULL, fn_command, 0, T(CH_COMMAND)},
    {"timeout", K_DUR, CH(timeout_ms), 1000, 300000, NULL, NULL, 0, 0},
    {"retries", K_UINT, CH(retries), 0, 20, NULL, NULL, 0, 0},
};

/* What each type cannot work without. */
static void channel_required(struct ld *l, struct section *s, struct conf_channel *ch,
                             struct pos start)
{
	static const struct {
		unsigned types;
		const char *keys;
		const char *what;
	} req[] = {
	    {T(CH_WEBHOOK) | T(CH_SLACK) | T(CH_MATTERMOST) | T(CH_DISCORD) | T(CH_TEAMS), "url",
	     "url"},
	    /* A webhook's secret is optional: without it, requests go unsigned. */
	    {T(CH_EMAIL), "smtp", "smtp"},
	    {T(CH_EMAIL), "from", "from"},
	    {T(CH_EMAIL), "to", "to"},
	    {T(CH_TELEGRAM), "token_file token_env token", "token_file or token_env"},
	    {T(CH_TELEGRAM), "chat_id", "chat_id"},
	    {T(CH_PAGERDUTY), "routing_key_file routing_key_env routing_key",
	     "routing_key_file or routing_key_env"},
	    {T(CH_COMMAND), "command", "command"},
	};

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		char keys[64], *save = NULL;
		int found = 0;

		if (!(req[i].types & s->types))
			continue;
		snprintf(keys, sizeof(keys), "%s", req[i].keys);
		for (char *t = strtok_r(keys, " ", &save); t; t = strtok_r(NULL, " ", &save))
			found |= has(s, t);
		if (!found)
			err_pos(l, start, "%s (%s) needs %s", s->what,
			        conf_channel_type_name(ch->type), req[i].what);
	}
	if (ch->type == CH_EMAIL &&
	    has(s, "user") !=
	        (has(s, "password_file") || has(s, "password_env") || has(s, "password")))
		err_pos(l, start, "%s: user and password_file (or password_env) go together",
		        s->what);
}

static void load_channels(struct ld *l, yaml_node_t *v)
{
	yaml_node_item_t *it;
	int n;

	if (v->type != YAML_SEQUENCE_NODE) {
		if (!is_null(v))
			err_at(l, v, "channels: expected a list of channels, found %s", kind(v));
		return;
	}
	n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	l->c->channels = calloc((size_t)n + 1, sizeof(*l->c->channels));
	l->ch_at = calloc((size_t)n + 1, sizeof(*l->ch_at));
	if (!l->c->channels || !l->ch_at) {
		l->oom = 1;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = node(l, *it), *nn, *tn;
		struct conf_channel *ch = &l->c->channels[l->c->nchannels];
		struct section s;
		const char *name, *type;

		if (!visit(l, e))
			return;
		if (e->type != YAML_MAPPING_NODE) {
			err_at(l, e,
			       "channels: each channel is a mapping (name, type, ...), found %s",
			       kind(e));
			continue;
		}
		ch->type = CH_WEBHOOK;
		ch->smtp_starttls = 1;
		ch->timeout_ms = 10000;
		ch->retries = 5;
		ch->line = pos_of(e).line;
		nn = map_get(l, e, "name");
		tn = map_get(l, e, "type");
		name = scalar(nn);
		if (name && !is_null(nn)) {
			if (check_name(l, nn, "channel name", name) < 0)
				name = NULL;
			/* Kept even when invalid, so notify lists do not add noise. */
			ch->name = mem_strdup(l->c, scalar(nn));
			l->ch_at[l->c->nchannels] = pos_of(nn);
		} else {
			err_at(l, nn ? nn : e, "channel without a name");
		}
		if (name)
			section_init(&s, channel_keys, NKEYS(channel_keys), ch, "channel \"%s\"",
			             name);
		else
			section_init(&s, channel_keys, NKEYS(channel_keys), ch, "channel number %d",
			             l->c->nchannels + 1);
		s.types = 0;
		type = scalar(tn);
		if (!tn) {
			err_at(l, e,
			       "%s needs a type: webhook, email, slack, mattermost, discord, "
			       "teams, telegram, pagerduty or command",
			       s.what);
		} else {
			const struct enumv *ty;

			for (ty = channel_types; ty->name; ty++)
				if (type && strcmp(type, ty->name) == 0)
					break;
			if (ty->name) {
				ch->type = (enum channel_type)ty->value;
				s.types = T(ty->value);
			} else {
				err_at(
				    l, tn,
				    "type: \"%s\" is not one of webhook, email, slack, mattermost, "
				    "discord, teams, telegram, pagerduty, command",
				    type ? show(type).s : kind(tn));
			}
		}
		walk(l, &s, e);
		if (s.types)
			channel_required(l, &s, ch, pos_of(e));
		l->c->nchannels++;
	}
}

/* ---- checks: values ------------------------------------------------------ */

static void fn_check_name(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	const char *a = scalar(v);

	if (!a || is_null(v)) {
		err_at(l, v, "%s: expected a check name, found %s", k->name, kind(v));
		return;
	}
	check_name(l, v, "check name", a);
	cc->name = mem_strdup(l->c, a);
}

/* A URL may be quoted in a message only when it cannot carry a secret. */
static int url_is_showable(const char *u)
{
	return strlen(u) < TARGET_URL_MAX && !strpbrk(u, "@?#") && !has_control(u);
}

static void fn_url(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	const char *u = scalar(v);
	char msg[256];

	if (!u || is_null(v)) {
		err_at(l, v, "%s: expected an imap://, imaps://, pop3:// or pop3s:// URL, found %s",
		       k->name, kind(v));
		return;
	}
	if (target_parse(&cc->chk.target, u, msg, sizeof(msg)) < 0) {
		static const char cli[] = "use --login and --password-file";
		char *p = strstr(msg, cli), rest[256];

		/* The shared message speaks of the command line; here the keys are meant. */
		if (p) {
			snprintf(rest, sizeof(rest), "%s", p + strlen(cli));
			snprintf(p, sizeof(msg) - (size_t)(p - msg),
			         "use login and password_file%s", rest);
		}
		if (url_is_showable(u))
			err_at(l, v, "url \"%s\": %s", show(u).s, msg);
		else
			err_at(l, v, "url: %s", msg);
		return;
	}
	cc->url = mem_strdup(l->c, u);
}

static void fn_expect(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	const char *a = scalar(v);

	if (!a || is_null(v) || has_control(a)) {
		err_at(l, v, "%s: the text must be non-empty printable text", k->name);
		return;
	}
	cc->chk.expect = mem_strdup(l->c, a);
}

static void fn_caps(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	yaml_node_t *it[CHECK_CAPS_MAX];
	int n = items(l, v, it, CHECK_CAPS_MAX, k->name);

	if (n < 0)
		return;
	cc->chk.n_expect_caps = 0;
	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]);

		/* Words are for POP3 CAPA lines ("SASL PLAIN"); check_cross() refuses them for
		 * IMAP. */
		if (!a || is_null(it[i]) || !*a || has_control(a) || a[0] == ' ' ||
		    a[strlen(a) - 1] == ' ' || strstr(a, "  ")) {
			err_at(l, it[i],
			       "%s: \"%s\" is not a capability (a name, or for POP3 a CAPA line's "
			       "keyword and arguments separated by single spaces)",
			       k->name, a ? show(a).s : kind(it[i]));
			continue;
		}
		cc->chk.expect_caps[cc->chk.n_expect_caps++] = mem_strdup(l->c, a);
	}
}

static void fn_sni(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	const char *a = scalar(v);

	if (!a || is_null(v) || !is_host_name(a)) {
		err_at(l, v,
		       "%s: \"%s\" is not a host name (letters, digits, '-', '.', at most 253)",
		       k->name, a ? show(a).s : kind(v));
		return;
	}
	cc->chk.sni = mem_strdup(l->c, a);
}

static void fn_min_tls(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	static const struct enumv versions[] = {
	    {"1.0", TLS1_VERSION},
	    {"1.1", TLS1_1_VERSION},
	    {"1.2", TLS1_2_VERSION},
	    {"1.3", TLS1_3_VERSION},
	};
	struct conf_check *cc = s->base;
	const char *a = scalar(v);

	if (a && strncasecmp(a, "tlsv", 4) == 0)
		a += 4;
	for (size_t i = 0; a && i < sizeof(versions) / sizeof(versions[0]); i++) {
		if (strcmp(a, versions[i].name) == 0) {
			cc->chk.min_tls = versions[i].value;
			return;
		}
	}
	err_at(l, v, "%s: \"%s\" is not one of 1.0, 1.1, 1.2, 1.3 (quote it: \"1.2\")", k->name,
	       scalar(v) ? show(scalar(v)).s : kind(v));
}

static void fn_resolve(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	yaml_node_t *it[CHECK_RESOLVE_MAX];
	int n = items(l, v, it, CHECK_RESOLVE_MAX, k->name);

	if (n < 0)
		return;
	cc->chk.n_resolve = 0;
	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]);
		char buf[TARGET_ADDR_MAX], why[160];

		if (!a || strlen(a) >= sizeof(buf) + 8) {
			err_at(l, it[i], "%s: expected a numeric address, found %s", k->name,
			       a ? "a long value" : kind(it[i]));
			continue;
		}
		/* IPv4, IPv6, link-local IPv6 with a zone ("fe80::1%eth0"); brackets optional. */
		if (target_addr_parse(a, buf, sizeof(buf), why, sizeof(why)) < 0) {
			err_at(l, it[i], "%s: \"%s\"%s%s", k->name, show(a).s,
			       strncmp(why, "not ", 4) == 0 ? " is " : ": ", why);
			continue;
		}
		cc->chk.resolve[cc->chk.n_resolve++] = mem_strdup(l->c, buf);
	}
}

static void fn_login(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	const char *a = scalar(v);

	if (!a || is_null(v) || has_control(a) || strlen(a) > 256) {
		err_at(l, v, "%s: the user name must be non-empty printable text", k->name);
		return;
	}
	cc->chk.login = mem_strdup(l->c, a);
}

static int label_value_ok(const char *s)
{
	if (!*s || strlen(s) > CONF_LABEL_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '=')
			return 0;
	return 1;
}

static void add_label(struct ld *l, struct conf_check *cc, const yaml_node_t *at_node,
                      const char *key, const char *val)
{
	size_t n;
	char *p;

	if (check_name(l, at_node, "label", key) < 0)
		return;
	if (val && !label_value_ok(val)) {
		err_at(l, at_node,
		       "label %s: \"%s\" is not a label value (no spaces or '=', at most %d)", key,
		       show(val).s, CONF_LABEL_MAX);
		return;
	}
	if (cc->nlabels == CONF_LABELS_MAX) {
		err_at(l, at_node, "labels: at most %d", CONF_LABELS_MAX);
		return;
	}
	n = strlen(key) + (val ? strlen(val) + 1 : 0) + 1;
	p = mem_alloc(l->c, n);
	if (!p)
		return;
	snprintf(p, n, val ? "%s=%s" : "%s", key, val ? val : "");
	cc->labels[cc->nlabels++] = p;
}

/* labels: {env: prod} or [env=prod, canary]. */
static void fn_labels(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;

	cc->nlabels = 0;
	if (v->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = node(l, p->key), *vn = node(l, p->value);

			if (!visit(l, kn))
				return;
			if (!scalar(kn) || !scalar(vn) || is_null(vn)) {
				err_at(l, scalar(kn) ? vn : kn,
				       "labels: each label is key: value, found %s",
				       kind(scalar(kn) ? vn : kn));
				continue;
			}
			add_label(l, cc, scalar(kn) ? vn : kn, scalar(kn), scalar(vn));
		}
		return;
	}
	yaml_node_t *it[CONF_LABELS_MAX];
	int n = items(l, v, it, CONF_LABELS_MAX, k->name);

	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]);
		char key[CONF_NAME_MAX + 2];
		const char *eq;

		if (!a) {
			err_at(l, it[i], "labels: expected key=value or a word, found %s",
			       kind(it[i]));
			continue;
		}
		eq = strchr(a, '=');
		if (eq && (size_t)(eq - a) <= CONF_NAME_MAX) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - a), a);
			add_label(l, cc, it[i], key, eq + 1);
		} else {
			add_label(l, cc, it[i], a, NULL);
		}
	}
}

/* ---- notify routes --------------------------------------------------- */

static const char *const *reason_names(void)
{
	static const char *names[MP_R__COUNT];

	for (int i = 1; i < MP_R__COUNT; i++)
		names[i] = result_reason_name((enum mp_reason)i);
	return names;
}

static void fn_route_channel(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	(void)l;
	(void)s;
	(void)k;
	(void)v; /* resolved by add_route(), which needs the name before anything else */
}

static void fn_reasons(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_route *r = s->base;
	yaml_node_t *it[MP_R__COUNT];
	int n = items(l, v, it, MP_R__COUNT, k->name);

	r->nreasons = 0;
	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]);
		int why = a ? result_reason_parse(a) : -1, dup = 0;
		const char *near;

		if (why <= 0) {
			near = a ? nearest(a, reason_names(), MP_R__COUNT) : NULL;
			if (near)
				err_at(l, it[i],
				       "reasons: unknown reason \"%s\"; did you mean \"%s\"?",
				       show(a).s, near);
			else
				err_at(l, it[i],
				       "reasons: \"%s\" is not a failure reason (see "
				       "mailpulse.conf(5) "
				       "for the list)",
				       a ? show(a).s : kind(it[i]));
			continue;
		}
		for (int j = 0; j < r->nreasons; j++)
			dup |= r->reasons[j] == (unsigned char)why;
		if (!dup)
			r->reasons[r->nreasons++] = (unsigned char)why;
	}
}

#define RT(m) FIELD(struct conf_route, m)
static const struct key route_keys[] = {
    {"channel", K_FN, 0, 0, 0, 0, NULL, fn_route_channel, 0, 0},
    {"reasons", K_FN, 0, 0, 0, 0, NULL, fn_reasons, 0, 0},
    {"recovery", K_BOOL, RT(recovery), 0, 0, NULL, NULL, 0, 0},
};

static void add_route(struct ld *l, struct conf_check *cc, yaml_node_t *e)
{
	struct conf_route r;
	yaml_node_t *cn = e;
	const char *name;
	const char *names[64] = {NULL};
	int idx = -1, nn = 0;

	memset(&r, 0, sizeof(r));
	r.recovery = 1;
	if (e->type == YAML_MAPPING_NODE) {
		struct section s;

		section_init(&s, route_keys, NKEYS(route_keys), &r, "a notify entry");
		walk(l, &s, e);
		cn = map_get(l, e, "channel");
		if (!cn) {
			err_at(l, e, "notify: an entry needs a channel");
			return;
		}
	}
	name = scalar(cn);
	if (!name || is_null(cn)) {
		err_at(l, cn,
		       "notify: expected a channel name or {channel: NAME, reasons: [...]}, "
		       "found %s",
		       kind(cn));
		return;
	}
	for (int i = 0; i < l->c->nchannels; i++) {
		if (l->c->channels[i].name && strcmp(l->c->channels[i].name, name) == 0) {
			idx = i;
			break;
		}
		if (nn < 64)
			names[nn++] = l->c->channels[i].name;
	}
	if (idx < 0) {
		const char *near = nearest(name, names, (size_t)nn);

		if (near)
			xerr(l, pos_of(cn), "notify: unknown channel \"%s\"; did you mean \"%s\"?",
			     show(name).s, near);
		else
			xerr(l, pos_of(cn), "notify: unknown channel \"%s\"%s", show(name).s,
			     l->c->nchannels ? "" : " (no channels are defined)");
		return;
	}
	for (int i = 0; i < cc->nroutes; i++) {
		if (cc->routes[i].channel == idx) {
			err_at(l, cn, "notify: channel \"%s\" is listed twice", show(name).s);
			return;
		}
	}
	if (cc->nroutes == CONF_ROUTES_MAX) {
		err_at(l, cn, "notify: at most %d channels", CONF_ROUTES_MAX);
		return;
	}
	r.channel = idx;
	cc->routes[cc->nroutes++] = r;
}

static void fn_notify(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_check *cc = s->base;
	yaml_node_t *it[CONF_ROUTES_MAX + 1];
	int n;

	/* A check's notify replaces the defaults' list: say "notify: []" for silence. */
	cc->nroutes = 0;
	if (v->type == YAML_MAPPING_NODE) {
		add_route(l, cc, v);
		return;
	}
	n = items(l, v, it, CONF_ROUTES_MAX + 1, k->name);
	for (int i = 0; i < n; i++)
		add_route(l, cc, it[i]);
}

/* ---- checks: table --------------------------------------------------- */

static const struct enumv starttls_modes[] = {
    {"no", STARTTLS_NO}, {"auto", STARTTLS_AUTO}, {"require", STARTTLS_REQUIRE}, {NULL, 0}};
static const struct enumv postures[] = {
    {"report", POSTURE_REPORT}, {"warn", POSTURE_WARN}, {NULL, 0}};
static const struct enumv families[] = {
    {"any", AF_UNSPEC}, {"ipv4", AF_INET}, {"ipv6", AF_INET6}, {NULL, 0}};

#define CC(m) FIELD(struct conf_check, m)
/* The check keys, which are also the defaults block's. */
static const struct key check_keys[] = {
    {"name", K_FN, 0, 0, 0, 0, NULL, fn_check_name, KF_CHECK_ONLY, 0},
    {"url", K_FN, 0, 0, 0, 0, NULL, fn_url, KF_CHECK_ONLY, 0},
    {"interval", K_DUR, CC(interval_ms), CONF_INTERVAL_MIN_MS, CONF_INTERVAL_MAX_MS, NULL, NULL, 0,
     0},
    {"timeout", K_DUR, CC(chk.timeout_ms), 1000, CONF_INTERVAL_MAX_MS, NULL, NULL, 0, 0},
    {"retry", K_DUR, CC(retry_ms), 1000, CONF_INTERVAL_MAX_MS, NULL, NULL, 0, 0},
    {"fail_after", K_UINT, CC(fail_after), 1, 100, NULL, NULL, 0, 0},
    {"recover_after", K_UINT, CC(recover_after), 1, 100, NULL, NULL, 0, 0},
    {"reminder", K_DUR, CC(reminder_ms), 60000, 7 * 86400000ULL, NULL, NULL, KF_ZERO, 0},
    {"starttls", K_ENUM, CC(chk.starttls), 0, 0, starttls_modes, NULL, 0, 0},
    {"expect", K_FN, 0, 0, 0, 0, NULL, fn_expect, 0, 0},
    {"expect_capabilities", K_FN, 0, 0, 0, 0, NULL, fn_caps, 0, 0},
    {"warn_ms", K_UINT, CC(chk.warn_ms), 1, 3600000, NULL, NULL, KF_ZERO, 0},
    {"crit_ms", K_UINT, CC(chk.crit_ms), 1, 3600000, NULL, NULL, KF_ZERO, 0},
    {"sni", K_FN, 0, 0, 0, 0, NULL, fn_sni, KF_CHECK_ONLY, 0},
    {"ca_file", K_FILE, CC(chk.ca_file), 0, 0, NULL, NULL, 0, 0},
    {"min_tls", K_FN, 0, 0, 0, 0, NULL, fn_min_tls, 0, 0},
    {"insecure", K_BOOL, CC(chk.insecure), 0, 0, NULL, NULL, 0, 0},
    {"all_addresses", K_BOOL, CC(chk.all_addresses), 0, 0, NULL, NULL, 0, 0},
    {"family", K_ENUM, CC(chk.family), 0, 0, families, NULL, 0, 0},
    {"resolve", K_FN, 0, 0, 0, 0, NULL, fn_resolve, KF_CHECK_ONLY, 0},
    {"cert_warn_days", K_UINT, CC(chk.cert_warn_days), 0, 3650, NULL, NULL, 0, 0},
    {"cert_crit_days", K_UINT, CC(chk.cert_crit_days), 0, 3650, NULL, NULL, 0, 0},
    {"cert_lifetime_rule", K_BOOL, CC(chk.cert_life_rule), 0, 0, NULL, NULL, 0, 0},
    {"login", K_FN, 0, 0, 0, 0, NULL, fn_login, 0, 0},
    {"password_file", K_SECRET_FILE, CC(chk.password), 0, 0, NULL, NULL, KF_PWSRC, 0},
    {"password_env", K_SECRET_ENV, CC(chk.password), 0, 0, NULL, NULL, KF_PWSRC, 0},
    {"password", K_INLINE, 0, 0, 0, 0, NULL, NULL, KF_HIDDEN, 0},
    {"allow_plaintext_auth", K_BOOL, CC(chk.allow_plaintext_auth), 0, 0, NULL, NULL, 0, 0},
    {"posture", K_ENUM, CC(chk.posture), 0, 0, postures, NULL, 0, 0},
    {"labels", K_FN, 0, 0, 0, 0, NULL, fn_labels, KF_CHECK_ONLY, 0},
    {"notify", K_FN, 0, 0, 0, 0, NULL, fn_notify, 0, 0},
};

_Static_assert(NKEYS(check_keys) <= KEYS_MAX, "set masks are 64 bits");
_Static_assert(NKEYS(channel_keys) <= KEYS_MAX, "set masks are 64 bits");

static int ck(const char *name)
{
	const struct key *k = find_key(check_keys, NKEYS(check_keys), name);

	return k ? (int)(k - check_keys) : 0;
}

/* Walk a check (or the defaults block) and note what was set where. */
static void walk_check(struct ld *l, struct section *s, struct ckx *x, yaml_node_t *map)
{
	walk(l, s, map);
	memcpy(x->at, s->at, sizeof(x->at));
	x->set |= s->here;
	if (s->pw_src)
		x->pw_src = s->pw_src;
}

static void load_defaults(struct ld *l, yaml_node_t *v)
{
	struct section s;

	if (is_null(v))
		return;
	section_init(&s, check_keys, NKEYS(check_keys), &l->tmpl, "defaults");
	s.defaults = 1;
	walk_check(l, &s, &l->tmpl_x, v);
}

/* What only makes sense with the whole check at hand. */
static void check_cross(struct ld *l, struct conf_check *cc, struct ckx *x)
{
	struct check *k = &cc->chk;
	const char *nm = cc->name ? cc->name : "?";
#define AT(key)   (x->at[ck(key)].line ? x->at[ck(key)] : x->start)
#define AT2(a, b) (x->at[ck(a)].line ? x->at[ck(a)] : AT(b))

	k->login_interval_s = cc->interval_ms / 1000; /* for a server's LOGIN-DELAY */
	if (k->timeout_ms >= cc->interval_ms)
		xerr(l, AT2("timeout", "interval"),
		     "check \"%s\": timeout %s is not shorter than the interval %s", nm,
		     dur(k->timeout_ms).s, dur(cc->interval_ms).s);
	if (k->warn_ms && k->warn_ms >= k->timeout_ms)
		xerr(l, AT2("warn_ms", "timeout"),
		     "check \"%s\": warn_ms %u is not below the timeout (%s): it could never "
		     "trigger",
		     nm, k->warn_ms, dur(k->timeout_ms).s);
	if (k->crit_ms && k->crit_ms >= k->timeout_ms)
		xerr(l, AT2("crit_ms", "timeout"),
		     "check \"%s\": crit_ms %u is not below the timeout (%s): it could never "
		     "trigger",
		     nm, k->crit_ms, dur(k->timeout_ms).s);
	if (k->warn_ms && k->crit_ms && k->crit_ms < k->warn_ms)
		xerr(l, AT2("crit_ms", "warn_ms"), "check \"%s\": crit_ms %u is below warn_ms %u",
		     nm, k->crit_ms, k->warn_ms);
	if (k->cert_crit_days > k->cert_warn_days) {
		int wset = (int)(x->set >> ck("cert_warn_days") & 1);
		int cset = (int)(x->set >> ck("cert_crit_days") & 1);
		int where = x->at[ck("cert_warn_days")].line != 0;
		int chere = x->at[ck("cert_crit_days")].line != 0;

		/*
		 * Both written at the same level contradict each other. Otherwise
		 * the more specific one wins and the other follows it, as with
		 * `check --cert-warn` alone.
		 */
		if ((where && chere) || (!where && !chere && wset && cset))
			xerr(l, AT2("cert_crit_days", "cert_warn_days"),
			     "check \"%s\": cert_crit_days %d is above cert_warn_days %d", nm,
			     k->cert_crit_days, k->cert_warn_days);
		else if (where || (!chere && wset))
			k->cert_crit_days = k->cert_warn_days;
		else
			k->cert_warn_days = k->cert_crit_days;
	}
	for (int i = 0; i < k->n_expect_caps; i++)
		if (k->target.proto == MP_IMAP && strchr(k->expect_caps[i], ' '))
			xerr(l, AT("expect_capabilities"),
			     "check \"%s\": expect_capabilities \"%s\" is not an IMAP capability "
			     "(one atom, no spaces; \"SASL PLAIN\" is for POP3 CAPA)",
			     nm, show(k->expect_caps[i]).s);
	/* An explicit warning horizon is the admin's rule: the lifetime rule stays out unless
	 * asked. */
	if ((x->set >> ck("cert_warn_days") & 1) && !(x->set >> ck("cert_lifetime_rule") & 1))
		k->cert_life_rule = 0;
	/* A password source that failed was reported where it failed. */
	if (k->login && !k->password && !(x->set >> ck("password_file") & 1) &&
	    !(x->set >> ck("password_env") & 1) && !(x->set >> ck("password") & 1))
		xerr(l, AT("login"), "check \"%s\": login needs password_file or password_env", nm);
	if (!k->login && (x->at[ck("password_file")].line || x->at[ck("password_env")].line))
		xerr(l, AT2("password_file", "password_env"),
		     "check \"%s\": a password is given without login", nm);
#undef AT
#undef AT2
}

static void load_checks(struct ld *l, yaml_node_t *v, struct pos root)
{
	struct conf *c = l->c;
	yaml_node_item_t *it;
	int n;

	if (v && v->type != YAML_SEQUENCE_NODE && !is_null(v)) {
		err_at(l, v, "checks: expected a list of checks, found %s", kind(v));
		return;
	}
	n = v && !is_null(v) ? (int)(v->data.sequence.items.top - v->data.sequence.items.start) : 0;
	if (n == 0) {
		xerr(l, v ? pos_of(v) : root,
		     "no checks: a checks list with at least one is needed");
		return;
	}
	c->checks = calloc((size_t)n, sizeof(*c->checks));
	l->ckx = calloc((size_t)n, sizeof(*l->ckx));
	if (!c->checks || !l->ckx) {
		l->oom = 1;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = node(l, *it), *nn;
		struct conf_check *cc = &c->checks[c->nchecks];
		struct ckx *x = &l->ckx[c->nchecks];
		struct section s;
		const char *name;

		if (!visit(l, e))
			return;
		if (e->type != YAML_MAPPING_NODE) {
			err_at(l, e, "checks: each check is a mapping (name, url, ...), found %s",
			       kind(e));
			continue;
		}
		*cc = l->tmpl;
		x->set = l->tmpl_x.set;
		x->pw_src = l->tmpl_x.pw_src;
		x->start = pos_of(e);
		cc->line = x->start.line;
		nn = map_get(l, e, "name");
		name = scalar(nn);
		if (name && !is_null(nn))
			section_init(&s, check_keys, NKEYS(check_keys), cc, "check \"%s\"",
			             show(name).s);
		else
			section_init(&s, check_keys, NKEYS(check_keys), cc, "check number %d",
			             c->nchecks + 1);
		walk_check(l, &s, x, e);
		x->name_at = s.at[ck("name")];
		if (!has(&s, "name"))
			err_pos(l, x->start, "%s needs a name", s.what);
		if (!has(&s, "url"))
			err_pos(l, x->start, "%s needs a url", s.what);
		c->nchecks++;
	}
}

/* ---- maintenance ------------------------------------------------------ */

static int parse_hhmm(const char *s, int allow_24)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':' || strspn(s, "0123456789:") != 5)
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m || !allow_24)))
		return -1;
	return h * 60 + m;
}

static void fn_weekly(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	struct conf_window *w = s->base;
	yaml_node_t *it[14];
	int n = items(l, v, it, 14, k->name);

	w->weekly = 1;
	w->days_mask = 0;
	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]);
		char lo[8] = "", hi[8] = "";
		int from = -1, to = -1;

		if (a && strlen(a) <= 15 && sscanf(a, "%7[a-zA-Z]-%7[a-zA-Z]", lo, hi) >= 1) {
			for (int d = 0; d < 7; d++) {
				/* "tue" and "tuesday" alike. */
				if (strncasecmp(lo, days[d], 3) == 0)
					from = d;
				if (strncasecmp(hi, days[d], 3) == 0)
					to = d;
			}
			if (!hi[0])
				to = from;
			if (strlen(a) != strlen(lo) + (hi[0] ? strlen(hi) + 1 : 0))
				from = -1;
		}
		if (from < 0 || to < 0) {
			err_at(l, it[i],
			       "weekly: \"%s\" is not a day (sun, mon, ... sat) or a range "
			       "such as mon-fri",
			       a ? show(a).s : kind(it[i]));
			continue;
		}
		for (int d = from;; d = (d + 1) % 7) {
			w->days_mask |= 1u << d;
			if (d == to)
				break;
		}
	}
}

static void fn_hhmm(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_window *w = s->base;
	const char *a = scalar(v);
	int m = a ? parse_hhmm(a, strcmp(k->name, "to") == 0) : -1;

	if (m < 0) {
		err_at(l, v, "%s: \"%s\" is not a time of day as HH:MM (UTC)", k->name,
		       a ? show(a).s : kind(v));
		return;
	}
	if (strcmp(k->name, "from") == 0)
		w->start_min = m;
	else
		w->end_min = m;
}

static void fn_time(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_window *w = s->base;
	const char *a = scalar(v);
	int64_t t;

	/* Seconds, as the windows are kept; a time of day and a zone are required. */
	if (!a || isotime_parse(a, ISOTIME_NEED_ZONE, &t) < 0) {
		err_at(l, v, "%s: \"%s\" is not a time such as 2026-12-01T22:00:00Z", k->name,
		       a ? show(a).s : kind(v));
		return;
	}
	t = t >= 0 ? t / 1000 : -((-t + 999) / 1000);
	if (strcmp(k->name, "start") == 0)
		w->start = t;
	else
		w->end = t;
}

/* "key=value" with a valid label key and value. */
static int is_label_selector(const char *a)
{
	const char *eq = strchr(a, '=');

	if (!eq || eq == a || (size_t)(eq - a) > CONF_NAME_MAX || !label_value_ok(eq + 1))
		return 0;
	for (const char *p = a; p < eq; p++)
		if (!is_name_char((unsigned char)*p))
			return 0;
	return 1;
}

static void fn_selectors(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	struct conf_window *w = s->base;
	yaml_node_t *it[CONF_LABELS_MAX];
	int n = items(l, v, it, CONF_LABELS_MAX, k->name);

	w->nchecks = 0;
	for (int i = 0; i < n; i++) {
		const char *a = scalar(it[i]), *eq;

		if (!a || is_null(it[i])) {
			err_at(l, it[i], "checks: expected a check name or key=value, found %s",
			       kind(it[i]));
			continue;
		}
		eq = strchr(a, '=');
		if (eq) {
			char key[CONF_NAME_MAX + 2];

			if ((size_t)(eq - a) > CONF_NAME_MAX || eq == a ||
			    !label_value_ok(eq + 1)) {
				err_at(l, it[i], "checks: \"%s\" is not a label selector key=value",
				       show(a).s);
				continue;
			}
			snprintf(key, sizeof(key), "%.*s", (int)(eq - a), a);
			if (check_name(l, it[i], "label", key) < 0)
				continue;
		} else if (check_name(l, it[i], "check name", a) < 0) {
			continue;
		} else if (!conf_find_check(l->c, a)) {
			xerr(l, pos_of(it[i]), "maintenance: no check is named \"%s\"", show(a).s);
			continue;
		}
		w->checks[w->nchecks++] = mem_strdup(l->c, a);
	}
}

#define WN(m) FIELD(struct conf_window, m)
static const struct key window_keys[] = {
    {"name", K_NAME, WN(name), 0, 0, NULL, NULL, 0, 0},
    {"weekly", K_FN, 0, 0, 0, 0, NULL, fn_weekly, 0, 0},
    {"from", K_FN, 0, 0, 0, 0, NULL, fn_hhmm, 0, 0},
    {"to", K_FN, 0, 0, 0, 0, NULL, fn_hhmm, 0, 0},
    {"start", K_FN, 0, 0, 0, 0, NULL, fn_time, 0, 0},
    {"end", K_FN, 0, 0, 0, 0, NULL, fn_time, 0, 0},
    {"checks", K_FN, 0, 0, 0, 0, NULL, fn_selectors, 0, 0},
};

static void load_windows(struct ld *l, yaml_node_t *v)
{
	struct conf *c = l->c;
	yaml_node_item_t *it;
	int n;

	if (v->type != YAML_SEQUENCE_NODE) {
		if (!is_null(v))
			err_at(l, v, "maintenance: expected a list of windows, found %s", kind(v));
		return;
	}
	n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	c->windows = calloc((size_t)n + 1, sizeof(*c->windows));
	l->win_at = calloc((size_t)n + 1, sizeof(*l->win_at));
	if (!c->windows || !l->win_at) {
		l->oom = 1;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = node(l, *it), *nn;
		struct conf_window *w = &c->windows[c->nwindows];
		struct section s;
		struct pos p;
		int weekly, oneoff;

		if (!visit(l, e))
			return;
		if (e->type != YAML_MAPPING_NODE) {
			err_at(l, e, "maintenance: each window is a mapping (name, ...), found %s",
			       kind(e));
			continue;
		}
		w->line = pos_of(e).line;
		nn = map_get(l, e, "name");
		if (scalar(nn) && !is_null(nn))
			section_init(&s, window_keys, NKEYS(window_keys), w,
			             "maintenance window \"%s\"", show(scalar(nn)).s);
		else
			section_init(&s, window_keys, NKEYS(window_keys), w,
			             "maintenance window number %d", c->nwindows + 1);
		walk(l, &s, e);
		p = pos_of(e);
		l->win_at[c->nwindows] = s.at[0];
		if (!has(&s, "name"))
			err_pos(l, p, "%s needs a name", s.what);
		weekly = has(&s, "weekly") || has(&s, "from") || has(&s, "to");
		oneoff = has(&s, "start") || has(&s, "end");
		if (weekly && oneoff)
			err_pos(l, p,
			        "%s: give either weekly, from and to, or start and end; not both",
			        s.what);
		else if (weekly && !(has(&s, "weekly") && has(&s, "from") && has(&s, "to")))
			err_pos(l, p, "%s: a weekly window needs weekly, from and to", s.what);
		else if (oneoff && !(has(&s, "start") && has(&s, "end")))
			err_pos(l, p, "%s: a one-off window needs start and end", s.what);
		else if (!weekly && !oneoff)
			err_pos(l, p, "%s: give either weekly, from and to, or start and end",
			        s.what);
		else if (weekly && w->days_mask && w->start_min == w->end_min)
			err_pos(l, at(&s, "to"), "%s: from and to are equal: the window is empty",
			        s.what);
		else if (oneoff && w->end <= w->start && w->start && w->end)
			err_pos(l, at(&s, "end"), "%s: end is not after start", s.what);
		w->weekly = weekly;
		c->nwindows++;
	}
}

/* ---- digest ------------------------------------------------------------- */

static void dg_str(EVP_MD_CTX *m, const char *key, const char *v)
{
	char hdr[96];
	int n;

	/* Length-prefixed, so no value can pass for another field. */
	n = snprintf(hdr, sizeof(hdr), "%s=%zu:", key, v ? strlen(v) : (size_t)0);
	EVP_DigestUpdate(m, hdr, (size_t)n);
	if (v)
		EVP_DigestUpdate(m, v, strlen(v));
	EVP_DigestUpdate(m, v ? "\n" : "-\n", v ? 1 : 2);
}

static void dg_num(EVP_MD_CTX *m, const char *key, long long v)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%s=%lld\n", key, v);

	EVP_DigestUpdate(m, buf, (size_t)n);
}

/*
 * Everything that changes how the check is probed or alerted on. The
 * password is represented by where it comes from, never by its value: the
 * digest may be shown, and a hash of a short password can be brute-forced.
 * Channels are named, not indexed, since indexes move between reloads.
 */
static void check_digest(const struct conf *c, struct conf_check *cc, const struct ckx *x)
{
	const struct check *k = &cc->chk;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!m)
		return;
	EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	dg_str(m, "v", "1");
	dg_str(m, "name", cc->name);
	dg_str(m, "target", k->target.url);
	dg_num(m, "interval", cc->interval_ms);
	dg_num(m, "retry", cc->retry_ms);
	dg_num(m, "fail_after", cc->fail_after);
	dg_num(m, "recover_after", cc->recover_after);
	dg_num(m, "reminder", cc->reminder_ms);
	dg_num(m, "family", k->family);
	dg_num(m, "all_addresses", k->all_addresses);
	for (int i = 0; i < k->n_resolve; i++)
		dg_str(m, "resolve", k->resolve[i]);
	dg_num(m, "starttls", k->starttls);
	dg_str(m, "expect", k->expect);
	for (int i = 0; i < k->n_expect_caps; i++)
		dg_str(m, "cap", k->expect_caps[i]);
	dg_num(m, "timeout", k->timeout_ms);
	dg_num(m, "warn_ms", k->warn_ms);
	dg_num(m, "crit_ms", k->crit_ms);
	dg_str(m, "sni", k->sni);
	dg_str(m, "ca_file", k->ca_file);
	dg_num(m, "min_tls", k->min_tls);
	dg_num(m, "insecure", k->insecure);
	dg_num(m, "cert_warn", k->cert_warn_days);
	dg_num(m, "cert_crit", k->cert_crit_days);
	dg_num(m, "cert_life", k->cert_life_rule);
	dg_str(m, "login", k->login);
	dg_str(m, "password_from", k->login ? x->pw_src : NULL);
	dg_num(m, "plaintext", k->allow_plaintext_auth);
	dg_num(m, "posture", k->posture);
	for (int i = 0; i < cc->nlabels; i++)
		dg_str(m, "label", cc->labels[i]);
	for (int i = 0; i < cc->nroutes; i++) {
		const struct conf_route *r = &cc->routes[i];

		dg_str(m, "route", c->channels[r->channel].name);
		dg_num(m, "recovery", r->recovery);
		for (int j = 0; j < r->nreasons; j++)
			dg_num(m, "reason", r->reasons[j]);
	}
	EVP_DigestFinal_ex(m, md, &len);
	EVP_MD_CTX_free(m);
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(cc->digest + 2 * i, 3, "%02x", md[i]);
}

/* ---- loading ------------------------------------------------------------- */

struct name_at {
	const char *name;
	int idx;
};

static int cmp_name_at(const void *a, const void *b)
{
	const struct name_at *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

static void dup_names(struct ld *l)
{
	struct conf *c = l->c;

	/* Checks can be many (100,000): sort (name, position), then compare neighbours. */
	struct name_at *ix = c->nchecks > 0 ? malloc((size_t)c->nchecks * sizeof(*ix)) : NULL;
	int n = 0;
	for (int i = 0; ix && i < c->nchecks; i++)
		if (c->checks[i].name)
			ix[n++] = (struct name_at){c->checks[i].name, i};
	if (ix) {
		qsort(ix, (size_t)n, sizeof(*ix), cmp_name_at);
		for (int k = 1, first = n ? ix[0].idx : 0; k < n; k++) {
			if (strcmp(ix[k - 1].name, ix[k].name) != 0) {
				first = ix[k].idx;
				continue;
			}
			xerr(l, l->ckx[ix[k].idx].name_at,
			     "duplicate check name \"%s\" (first on line %d)", show(ix[k].name).s,
			     l->ckx[first].name_at.line);
		}
		free(ix);
	}
	for (int i = 0; i < c->nchannels; i++)
		for (int j = 0; j < i; j++)
			if (c->channels[i].name && c->channels[j].name &&
			    strcmp(c->channels[i].name, c->channels[j].name) == 0) {
				xerr(l, l->ch_at[i],
				     "duplicate channel name \"%s\" (first on line %d)",
				     show(c->channels[i].name).s, l->ch_at[j].line);
				break;
			}
	for (int i = 0; i < c->nwindows; i++)
		for (int j = 0; j < i; j++)
			if (c->windows[i].name && c->windows[j].name &&
			    strcmp(c->windows[i].name, c->windows[j].name) == 0) {
				xerr(l, l->win_at[i],
				     "duplicate maintenance window name \"%s\" (first on line %d)",
				     show(c->windows[i].name).s, l->win_at[j].line);
				break;
			}
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *b;

	if (!f) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	b = malloc(cap);
	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);

		n += r;
		if (n > CONF_FILE_MAX) {
			snprintf(err, errlen, "larger than %d bytes: not a configuration file",
			         CONF_FILE_MAX);
			goto fail;
		}
		if (r == 0)
			break;
		if (n == cap) {
			char *nb = realloc(b, cap * 2);

			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
	}
	if (!b || ferror(f)) {
		snprintf(err, errlen, "%s", b ? strerror(errno) : "out of memory");
		goto fail;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
fail:
	free(b);
	fclose(f);
	return -1;
}

static void ld_init_defaults(struct ld *l)
{
	struct conf *c = l->c;

	c->refs = 1;
	c->location = mem_strdup(c, "local");
	c->store_path = mem_strdup(c, "/var/lib/mailpulse/mailpulse.db");
	c->raw_days = 30;
	c->rollup_days = 400;
	c->listen = mem_strdup(c, "127.0.0.1:8080");
	c->http_max_conns = 512;
	c->http_max_conns_per_addr = 64;
	c->public_title = mem_strdup(c, "Status");
	c->max_in_flight = 256;
	check_defaults(&l->tmpl.chk);
	l->tmpl.interval_ms = 60000;
	l->tmpl.retry_ms = 10000;
	l->tmpl.fail_after = 2;
	l->tmpl.recover_after = 1;
	l->tmpl.reminder_ms = 0;
}

static void print_errors(struct ld *l, FILE *errs)
{
	qsort(l->errs, l->nerr, sizeof(*l->errs), cerr_cmp);
	for (size_t i = 0; i < l->nerr; i++) {
		const struct cerr *e = &l->errs[i], *p = i ? &l->errs[i - 1] : NULL;

		/* Nodes shared through aliases report the same thing more than once. */
		if (p && p->line == e->line && p->col == e->col && strcmp(p->msg, e->msg) == 0)
			continue;
		fprintf(errs, "%s:%d:%d: %s\n", l->path, e->line, e->col, e->msg);
	}
	if (l->dropped)
		fprintf(errs, "%s: %lu more errors not shown\n", l->path, l->dropped);
	if (l->oom)
		fprintf(errs, "%s: out of memory\n", l->path);
}

static void load_document(struct ld *l, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	struct section s;
	struct pos start = {1, 1};

	l->doc = doc;
	if (!root) {
		xerr(l, start, "the file is empty: a checks list is needed");
		return;
	}
	if (root->type != YAML_MAPPING_NODE) {
		err_at(l, root,
		       "the top level must be a mapping (location:, checks:, ...), found %s",
		       kind(root));
		return;
	}
	section_init(&s, top_keys, NKEYS(top_keys), l->c, "the top level");
	walk(l, &s, root);
	if (has(&s, "store"))
		l->store_at = at(&s, "store");
	if (l->n_channels)
		load_channels(l, l->n_channels);
	if (l->n_defaults)
		load_defaults(l, l->n_defaults);
	load_checks(l, l->n_checks, pos_of(root));
	for (int i = 0; i < l->c->nchecks; i++)
		check_cross(l, &l->c->checks[i], &l->ckx[i]);
	if (l->n_maintenance)
		load_windows(l, l->n_maintenance);
	public_cross(l);
	dup_names(l);
}

/* Whether the store: value (or its absence: the default) came through the load unharmed. */
static int store_sound(const struct ld *l, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);

	if (!root || root->type != YAML_MAPPING_NODE || l->oom)
		return 0;
	for (size_t i = 0; l->store_at.line && i < l->nerr; i++)
		if (l->errs[i].line == l->store_at.line && l->errs[i].col == l->store_at.col)
			return 0;
	return 1;
}

/*
 * conf_load(); with store_only, also the store path of a file that has
 * other problems (1, *store_only set; the problems are written to errs).
 */
static int load(const char *path, struct conf **out, FILE *errs, char **store_only)
{
	struct ld l;
	yaml_parser_t parser;
	yaml_document_t doc;
	char *buf = NULL, err[256];
	size_t len;
	int rc = -1, have_doc = 0;

	*out = NULL;
	memset(&l, 0, sizeof(l));
	l.path = path;
	l.c = calloc(1, sizeof(*l.c));
	if (!l.c) {
		fprintf(errs, "%s: out of memory\n", path);
		return -1;
	}
	l.c->path = mem_strdup(l.c, path);
	ld_init_defaults(&l);
	{
		const char *slash = strrchr(path, '/');

		l.dir = slash ? mem_alloc(l.c, (size_t)(slash - path) + 2) : NULL;
		if (l.dir)
			snprintf(l.dir, (size_t)(slash - path) + 2, "%.*s",
			         slash == path ? 1 : (int)(slash - path), path);
	}
	if (read_file(path, &buf, &len, err, sizeof(err)) < 0) {
		fprintf(errs, "%s: %s\n", path, err);
		conf_unref(l.c);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		fprintf(errs, "%s: out of memory\n", path);
		goto out_buf;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		struct pos p = {(int)parser.problem_mark.line + 1,
		                (int)parser.problem_mark.column + 1};

		/* Encoding errors come with a byte offset and no mark. */
		if (parser.error == YAML_READER_ERROR) {
			p.line = 1;
			p.col = 1;
			for (size_t i = 0; i < parser.problem_offset && i < len; i++) {
				if (buf[i] == '\n') {
					p.line++;
					p.col = 1;
				} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
					p.col++;
				}
			}
		}

		if (parser.context)
			err_pos(&l, p, "YAML syntax error: %s (%s on line %d)",
			        parser.problem ? parser.problem : "unknown", parser.context,
			        (int)parser.context_mark.line + 1);
		else
			err_pos(&l, p, "YAML syntax error: %s",
			        parser.problem ? parser.problem : "unknown");
	} else {
		yaml_document_t more;

		have_doc = 1;
		load_document(&l, &doc);
		/* A second document would be silently ignored: say so instead. */
		if (yaml_parser_load(&parser, &more)) {
			yaml_node_t *r = yaml_document_get_root_node(&more);

			if (r)
				err_at(&l, r,
				       "only one YAML document per file (remove the \"---\")");
			yaml_document_delete(&more);
		}
	}
	yaml_parser_delete(&parser);
	if (l.nerr || l.oom || l.dropped) {
		print_errors(&l, errs);
		if (store_only && have_doc && store_sound(&l, &doc)) {
			*store_only = strdup(l.c->store_path);
			rc = *store_only ? 1 : -1;
		}
	} else {
		for (int i = 0; i < l.c->nchecks; i++)
			check_digest(l.c, &l.c->checks[i], &l.ckx[i]);
		*out = l.c;
		l.c = NULL;
		rc = 0;
	}
	if (have_doc)
		yaml_document_delete(&doc);
out_buf:
	OPENSSL_cleanse(buf, len);
	free(buf);
	for (size_t i = 0; i < l.nerr; i++)
		free(l.errs[i].msg);
	free(l.errs);
	free(l.ckx);
	free(l.ch_at);
	free(l.win_at);
	if (l.c)
		conf_unref(l.c);
	return rc;
}

int conf_load(const char *path, struct conf **out, FILE *errs)
{
	return load(path, out, errs, NULL);
}

int conf_store_path(const char *path, char **store, FILE *errs)
{
	struct conf *c = NULL;
	int rc = load(path, &c, errs, store);

	if (rc == 0) {
		*store = strdup(c->store_path);
		conf_unref(c);
		if (!*store) {
			fprintf(errs, "%s: out of memory\n", path);
			rc = -1;
		}
	}
	return rc;
}

void conf_ref(struct conf *c)
{
	c->refs++;
}

void conf_unref(struct conf *c)
{
	if (!c || --c->refs > 0)
		return;
	free(c->checks);
	free(c->channels);
	free(c->windows);
	mem_free(c->mem);
	free(c);
}

const struct conf_check *conf_find_check(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->nchecks; i++)
		if (c->checks[i].name && strcmp(c->checks[i].name, name) == 0)
			return &c->checks[i];
	return NULL;
}

int conf_find_channel(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->nchannels; i++)
		if (c->channels[i].name && strcmp(c->channels[i].name, name) == 0)
			return i;
	return -1;
}

static int window_covers(const struct conf_window *w, const struct conf_check *cc)
{
	if (w->nchecks == 0)
		return 1;
	for (int i = 0; i < w->nchecks; i++) {
		if (strchr(w->checks[i], '=')) {
			for (int j = 0; j < cc->nlabels; j++)
				if (strcmp(cc->labels[j], w->checks[i]) == 0)
					return 1;
		} else if (cc->name && strcmp(cc->name, w->checks[i]) == 0) {
			return 1;
		}
	}
	return 0;
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

const struct conf_window *conf_maintenance(const struct conf *c, const struct conf_check *cc,
                                           int64_t now, int64_t *until)
{
	int64_t day = now / 86400, end, best_end = 0;
	const struct conf_window *best = NULL;

	if (now % 86400 < 0)
		day--;
	/* 1970-01-01 was a Thursday (4). */
	int dow = (int)(((day + 4) % 7 + 7) % 7), prev = (dow + 6) % 7;
	int min = (int)((now - day * 86400) / 60);

	for (int i = 0; i < c->nwindows; i++) {
		const struct conf_window *w = &c->windows[i];

		if (!window_covers(w, cc))
			continue;
		if (!w->weekly) {
			if (!(now >= w->start && now < w->end))
				continue;
			end = w->end;
		} else if (w->start_min < w->end_min) {
			if (!((w->days_mask >> dow & 1) && min >= w->start_min && min < w->end_min))
				continue;
			end = day * 86400 + w->end_min * 60;
		} else if ((w->days_mask >> dow & 1) && min >= w->start_min) {
			/* Spans midnight: the day named is the one it starts on. */
			end = (day + 1) * 86400 + w->end_min * 60;
		} else if ((w->days_mask >> prev & 1) && min < w->end_min) {
			end = day * 86400 + w->end_min * 60;
		} else {
			continue;
		}
		if (!best || end > best_end) {
			best = w;
			best_end = end;
		}
	}
	if (until)
		*until = best ? best_end : 0;
	return best;
}

int conf_in_maintenance(const struct conf *c, const struct conf_check *cc, int64_t now)
{
	return conf_maintenance(c, cc, now, NULL) != NULL;
}

/* ---- dump ------------------------------------------------------------------ */

/* A YAML scalar that reads back as the same string. */
static void put_scalar(FILE *f, const char *s)
{
	int plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "0123456789._/@+-=") == strlen(s);
	char buf[1024];

	if (plain && strchr("-.", s[0]) == NULL) {
		fputs(s, f);
		return;
	}
	line_escape(buf, sizeof(buf), s, strlen(s));
	fputc('"', f);
	for (const char *p = buf; *p; p++) {
		if (*p == '"')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void kv(FILE *f, const char *ind, const char *key, const char *v)
{
	if (!v)
		return;
	fprintf(f, "%s%s: ", ind, key);
	put_scalar(f, v);
	fputc('\n', f);
}

/* Whether a secret is there, never what it is. */
static void secret(FILE *f, const char *ind, const char *key, const char *v)
{
	if (v)
		fprintf(f, "%s%s: (set)\n", ind, key);
}

static void list(FILE *f, const char *ind, const char *key, const char *const *v, int n)
{
	if (n <= 0)
		return;
	fprintf(f, "%s%s: [", ind, key);
	for (int i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		put_scalar(f, v[i]);
	}
	fputs("]\n", f);
}

static const char *enum_name(const struct enumv *e, int v)
{
	for (; e->name; e++)
		if (e->value == v)
			return e->name;
	return "?";
}

/* Webhook URLs of chat services are bearer tokens: show the host only. */
static void put_url(FILE *f, const char *ind, const char *key, const char *u, int secret)
{
	char buf[300];
	const char *h;

	if (!u)
		return;
	if (!secret || !(h = strstr(u, "://"))) {
		kv(f, ind, key, u);
		return;
	}
	h += 3;
	snprintf(buf, sizeof(buf), "%.*s/(set)", (int)(strcspn(h, "/") + (size_t)(h - u)), u);
	kv(f, ind, key, buf);
}

static void dump_time(FILE *f, const char *ind, const char *key, int64_t t)
{
	int64_t day = t / 86400 - (t % 86400 < 0), z = day + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
	int64_t sod = t - day * 86400;

	fprintf(f, "%s%s: %04lld-%02u-%02uT%02d:%02d:%02dZ\n", ind, key, (long long)y, m, d,
	        (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

void conf_dump(const struct conf *c, FILE *f)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

	fprintf(f, "# %s, effective configuration; secrets are shown as (set)\n", c->path);
	kv(f, "", "location", c->location);
	kv(f, "", "store", c->store_path);
	fprintf(f, "retention: {raw_days: %u, rollup_days: %u}\n", c->raw_days, c->rollup_days);
	fputs("http:\n", f);
	kv(f, "  ", "listen", c->listen);
	kv(f, "  ", "dashboard_url", c->dashboard_url);
	secret(f, "  ", "token", c->http_token);
	fprintf(f, "  max_connections: %u\n  max_connections_per_address: %u\n", c->http_max_conns,
	        c->http_max_conns_per_addr);
	if (c->public_enabled) {
		fputs("  public_status:\n    enabled: true\n", f);
		kv(f, "    ", "title", c->public_title);
		list(f, "    ", "checks", (const char *const *)c->public_checks, c->npublic_checks);
	}
	fprintf(f, "max_in_flight: %u\n", c->max_in_flight);
	if (c->nchannels)
		fputs("channels:\n", f);
	for (int i = 0; i < c->nchannels; i++) {
		const struct conf_channel *ch = &c->channels[i];
		int chat = ch->type == CH_SLACK || ch->type == CH_MATTERMOST ||
		           ch->type == CH_DISCORD || ch->type == CH_TEAMS;

		kv(f, "  - ", "name", ch->name);
		kv(f, "    ", "type", conf_channel_type_name(ch->type));
		put_url(f, "    ", "url", ch->url, chat);
		secret(f, "    ", "secret", ch->secret);
		kv(f, "    ", "ca_file", ch->ca_file);
		if (ch->type == CH_EMAIL) {
			kv(f, "    ", "smtp", ch->smtp_url);
			fprintf(f, "    starttls: %s\n", ch->smtp_starttls ? "true" : "false");
			kv(f, "    ", "user", ch->smtp_user);
			secret(f, "    ", "password", ch->smtp_password);
			kv(f, "    ", "from", ch->from);
			list(f, "    ", "to", (const char *const *)ch->to, ch->nto);
		}
		secret(f, "    ", "token", ch->bot_token);
		kv(f, "    ", "chat_id", ch->chat_id);
		secret(f, "    ", "routing_key", ch->routing_key);
		if (ch->argv[0]) {
			int n = 0;

			while (ch->argv[n])
				n++;
			list(f, "    ", "command", (const char *const *)ch->argv, n);
		}
		fprintf(f, "    timeout: %s\n    retries: %u\n", dur(ch->timeout_ms).s,
		        ch->retries);
	}
	if (c->nwindows)
		fputs("maintenance:\n", f);
	for (int i = 0; i < c->nwindows; i++) {
		const struct conf_window *w = &c->windows[i];

		kv(f, "  - ", "name", w->name);
		if (w->weekly) {
			const char *d[7];
			int n = 0;

			for (int k = 0; k < 7; k++)
				if (w->days_mask >> k & 1)
					d[n++] = days[k];
			list(f, "    ", "weekly", d, n);
			fprintf(f, "    from: \"%02d:%02d\"\n    to: \"%02d:%02d\"\n",
			        w->start_min / 60, w->start_min % 60, w->end_min / 60,
			        w->end_min % 60);
		} else {
			dump_time(f, "    ", "start", w->start);
			dump_time(f, "    ", "end", w->end);
		}
		list(f, "    ", "checks", (const char *const *)w->checks, w->nchecks);
	}
	fputs("checks:\n", f);
	for (int i = 0; i < c->nchecks; i++) {
		const struct conf_check *cc = &c->checks[i];
		const struct check *k = &cc->chk;
		static const struct enumv tls[] = {{"1.0", TLS1_VERSION},
		                                   {"1.1", TLS1_1_VERSION},
		                                   {"1.2", TLS1_2_VERSION},
		                                   {"1.3", TLS1_3_VERSION},
		                                   {NULL, 0}};

		kv(f, "  - ", "name", cc->name);
		kv(f, "    ", "url", k->target.url);
		fprintf(f, "    interval: %s\n", dur(cc->interval_ms).s);
		fprintf(f, "    timeout: %s\n", dur(k->timeout_ms).s);
		fprintf(f, "    retry: %s\n", dur(cc->retry_ms).s);
		fprintf(f, "    fail_after: %u\n    recover_after: %u\n", cc->fail_after,
		        cc->recover_after);
		fprintf(f, "    reminder: %s\n", dur(cc->reminder_ms).s);
		fprintf(f, "    starttls: %s\n", enum_name(starttls_modes, (int)k->starttls));
		kv(f, "    ", "expect", k->expect);
		list(f, "    ", "expect_capabilities", k->expect_caps, k->n_expect_caps);
		fprintf(f, "    warn_ms: %u\n    crit_ms: %u\n", k->warn_ms, k->crit_ms);
		kv(f, "    ", "sni", k->sni);
		kv(f, "    ", "ca_file", k->ca_file);
		fprintf(f, "    min_tls: \"%s\"\n", enum_name(tls, k->min_tls));
		fprintf(f, "    insecure: %s\n", k->insecure ? "true" : "false");
		fprintf(f, "    all_addresses: %s\n", k->all_addresses ? "true" : "false");
		fprintf(f, "    family: %s\n", enum_name(families, k->family));
		list(f, "    ", "resolve", k->resolve, k->n_resolve);
		fprintf(f, "    cert_warn_days: %d\n    cert_crit_days: %d\n", k->cert_warn_days,
		        k->cert_crit_days);
		fprintf(f, "    cert_lifetime_rule: %s\n", k->cert_life_rule ? "true" : "false");
		kv(f, "    ", "login", k->login);
		secret(f, "    ", "password", k->password);
		fprintf(f, "    allow_plaintext_auth: %s\n",
		        k->allow_plaintext_auth ? "true" : "false");
		fprintf(f, "    posture: %s\n", enum_name(postures, (int)k->posture));
		list(f, "    ", "labels", (const char *const *)cc->labels, cc->nlabels);
		if (cc->nroutes)
			fputs("    notify:\n", f);
		for (int r = 0; r < cc->nroutes; r++) {
			const struct conf_route *rt = &cc->routes[r];

			fputs("      - {channel: ", f);
			put_scalar(f, c->channels[rt->channel].name);
			if (rt->nreasons) {
				fputs(", reasons: [", f);
				for (int j = 0; j < rt->nreasons; j++)
					fprintf(f, "%s%s", j ? ", " : "",
					        result_reason_name((enum mp_reason)rt->reasons[j]));
				fputc(']', f);
			}
			fprintf(f, ", recovery: %s}\n", rt->recovery ? "true" : "false");
		}
		fprintf(f, "    digest: %s\n", cc->digest);
	}
}

/* ---- mailpulse config ---------------------------------------------------- */

static void config_usage(FILE *f)
{
	fputs("Usage: mailpulse config check [-v] FILE\n"
	      "\n"
	      "Validate a configuration file (see mailpulse.conf(5)): every problem is\n"
	      "printed as FILE:LINE:COLUMN: message.\n"
	      "\n"
	      "  -v, --verbose  also print the effective configuration, with every\n"
	      "                 default filled in and secrets shown as (set)\n"
	      "  -h, --help     show this help and exit\n"
	      "\n"
	      "Exit status: 0 valid, 1 invalid, 3 usage error.\n",
	      f);
}

int config_main(int argc, char **argv)
{
	const char *file = NULL;
	struct conf *c;
	int verbose = 0;

	if (argc < 2) {
		fputs("mailpulse config: a subcommand is needed: mailpulse config check FILE\n",
		      stderr);
		return 3;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		config_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "mailpulse config: unknown subcommand '%.64s'; try: check\n",
		        argv[1]);
		return 3;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			config_usage(stdout);
			return 0;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			verbose = 1;
		} else if (strcmp(a, "--") == 0 && i + 1 < argc && !file) {
			file = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "mailpulse config check: unknown option '%.64s'\n", a);
			return 3;
		} else if (file) {
			fputs("mailpulse config check: one FILE at a time\n", stderr);
			return 3;
		} else {
			file = a;
		}
	}
	if (!file) {
		fputs("mailpulse config check: no FILE given: mailpulse config check "
		      "/etc/mailpulse/mailpulse.yaml\n",
		      stderr);
		return 3;
	}
	if (conf_load(file, &c, stderr) < 0)
		return 1;
	printf("%s: OK, %d checks, %d channels\n", file, c->nchecks, c->nchannels);
	if (verbose)
		conf_dump(c, stdout);
	conf_unref(c);
	return fflush(stdout) == 0 ? 0 : 1;
}
