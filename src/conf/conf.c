/* SPDX-License-Identifier: ISC */
/*
 * conf.c - the daemon's YAML configuration -> struct conf: the key tables'
 * walker, file:line:col errors, and the load that runs the sections.
 *
 * The file is loaded with libyaml's document API and walked by a table per
 * section ({key, type, offset, min, max}): one generic walker refuses
 * unknown and duplicate keys and converts values, so adding a key is adding
 * a row. Every problem is collected with its position, then the
 * cross-checks run (they need the whole file: channel names, defaults,
 * timeout against interval), and everything is printed sorted by position.
 *
 * Sections are processed in dependency order, not file order: channels
 * (channels.c), then nodes and node_notify (nodes.c: it names channels),
 * then defaults, then checks (checks.c: they name channels and locations,
 * and inherit defaults), then maintenance windows (maint.c: they name
 * checks). Sorting the messages hides that order from the user.
 *
 * Memory: every string of a conf lives in one arena (struct conf_mem), so
 * checks can share what they inherit from the defaults block without
 * reference counting; conf_unref() wipes the arena with OPENSSL_cleanse,
 * which covers every secret, and frees it.
 */
#include "conf/conf_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/line.h"
#include "spec/checkspec.h"
#include "spec/duration.h"
#include "spec/isotime.h"
#include "spec/secret.h"

/* A configuration is hand-written: anything bigger is a mistake or an attack. */
#define CONF_FILE_MAX (64 * 1024 * 1024) /* 100,000 checks take about 12 MB */
/*
 * Aliases share nodes, so a small file can describe a huge tree ("billion
 * laughs"); the walk is bounded in depth by the tables, and in breadth by this.
 */
#define CONF_VISITS_MAX                                                                            \
	5000000 /* 100,000 checks of ~20 values each, with room; stops alias bombs */
#define CONF_ERRORS_MAX 1000

/* ---- arena ---------------------------------------------------------- */

void *conf_alloc(struct conf *c, size_t n)
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

char *conf_strdup(struct conf *c, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = conf_alloc(c, n);

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

void conf_err_pos(struct ld *l, struct pos p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(l, l->phase, p.line, p.col, fmt, ap);
	va_end(ap);
}

struct pos conf_pos_of(const yaml_node_t *n)
{
	struct pos p = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};

	return p;
}

void conf_err_at(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	struct pos p = conf_pos_of(n);

	va_start(ap, fmt);
	verr(l, l->phase, p.line, p.col, fmt, ap);
	va_end(ap);
}

/* A cross-check: printed after everything found while reading the file. */
void conf_xerr(struct ld *l, struct pos p, const char *fmt, ...)
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

struct shown conf_show(const char *v)
{
	struct shown b;

	line_escape(b.s, sizeof(b.s), v, strlen(v));
	return b;
}

/* ---- YAML node helpers ---------------------------------------------- */

yaml_node_t *conf_node(struct ld *l, int i)
{
	return yaml_document_get_node(l->doc, i);
}

const char *conf_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* "", "~" and "null" written plainly are YAML's nothing. */
int conf_is_null(const yaml_node_t *n)
{
	const char *s = conf_scalar(n);

	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*s || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0;
}

const char *conf_kind(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (conf_is_null(n))
		return "nothing";
	return "a single value";
}

/* Counts every node the walk touches; 0 once the budget is spent. */
int conf_visit(struct ld *l, const yaml_node_t *n)
{
	if (l->too_complex)
		return 0;
	if (++l->visits > CONF_VISITS_MAX) {
		l->too_complex = 1;
		conf_err_at(l, n, "the file expands to more than %d values (aliases?)",
		            CONF_VISITS_MAX);
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
		const char *k = conf_scalar(conf_node(l, p->key));

		if (k && strcmp(k, key) == 0)
			return conf_node(l, p->value);
	}
	/* Then what merge keys bring in, as walk_merges() sees it. */
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = conf_scalar(conf_node(l, p->key));
		yaml_node_t *v = conf_node(l, p->value), *f;

		if (!k || strcmp(k, "<<") != 0)
			continue;
		if (v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++)
				if ((f = map_get_depth(l, conf_node(l, *it), key, depth + 1)))
					found = f;
		} else if ((f = map_get_depth(l, v, key, depth + 1))) {
			found = f;
		}
	}
	return found;
}

/* The value of key in a mapping, with merge keys; NULL when absent. */
yaml_node_t *conf_map_get(struct ld *l, const yaml_node_t *map, const char *key)
{
	return map_get_depth(l, map, key, 0);
}

/*
 * The items of a list; a single value counts as a list of one, since
 * "notify: ops" is what anyone would write for one channel.
 */
int conf_items(struct ld *l, yaml_node_t *v, yaml_node_t **out, int max, const char *key)
{
	int n = 0;

	if (v->type == YAML_SCALAR_NODE) {
		if (conf_is_null(v))
			return 0;
		out[0] = v;
		return 1;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		conf_err_at(l, v, "%s: expected a list, found %s", key, conf_kind(v));
		return -1;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = conf_node(l, *it);

		if (!conf_visit(l, e))
			return -1;
		if (n == max) {
			conf_err_at(l, e, "%s: at most %d entries", key, max);
			return -1;
		}
		out[n++] = e;
	}
	return n;
}

/* ---- value checks ---------------------------------------------------- */

int conf_is_name_char(int ch)
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
int conf_check_name(struct ld *l, const yaml_node_t *v, const char *what, const char *s)
{
	char d[16];

	if (strlen(s) > CONF_NAME_MAX) {
		conf_err_at(l, v, "%s \"%s\" is longer than %d characters", what, conf_show(s).s,
		            CONF_NAME_MAX);
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if (!conf_is_name_char((unsigned char)*p)) {
			describe_char(d, sizeof(d), (unsigned char)*p);
			conf_err_at(
			    l, v,
			    "%s \"%s\": %s is not allowed; use letters, digits, '.', '_' and "
			    "'-'",
			    what, conf_show(s).s, d);
			return -1;
		}
	}
	/* The dashboard's /check/NAME: "." and ".." would be path segments a browser folds. */
	if (*s && strspn(s, ".") == strlen(s)) {
		conf_err_at(
		    l, v,
		    "%s \"%s\" is only dots; it names a page /check/NAME, so use a letter or digit",
		    what, conf_show(s).s);
		return -1;
	}
	return 0;
}

struct dur conf_dur(unsigned long long ms)
{
	struct dur d;

	duration_format(d.s, sizeof(d.s), ms);
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
const char *conf_nearest(const char *s, const char *const *names, size_t n)
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

int conf_label_value_ok(const char *s)
{
	if (!*s || strlen(s) > CONF_LABEL_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '=')
			return 0;
	return 1;
}

/* "key=value" with a valid label key and value. */
int conf_is_label_selector(const char *a)
{
	const char *eq = strchr(a, '=');

	if (!eq || eq == a || (size_t)(eq - a) > CONF_NAME_MAX || !conf_label_value_ok(eq + 1))
		return 0;
	for (const char *p = a; p < eq; p++)
		if (!conf_is_name_char((unsigned char)*p))
			return 0;
	return 1;
}

/* ---- key tables ------------------------------------------------------- */

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

void conf_put_ptr(void *base, size_t off, const void *v)
{
	/* memcpy: the field may be char * or const char *. */
	memcpy((char *)base + off, &v, sizeof(v));
}

static int key_index(const struct section *s, const struct key *k)
{
	return (int)(k - s->tbl);
}

const struct key *conf_find_key(const struct key *tbl, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tbl[i].name, name) == 0)
			return &tbl[i];
	return NULL;
}

int conf_has(const struct section *s, const char *name)
{
	const struct key *k = conf_find_key(s->tbl, s->n, name);

	return k && (s->here >> key_index(s, k) & 1);
}

struct pos conf_at(const struct section *s, const char *name)
{
	const struct key *k = conf_find_key(s->tbl, s->n, name);
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
char *conf_resolve_path(struct ld *l, const char *p)
{
	char *r;
	size_t n;

	if (p[0] == '/' || !l->dir)
		return conf_strdup(l->c, p);
	n = strlen(l->dir) + strlen(p) + 2;
	r = conf_alloc(l->c, n);
	if (r)
		snprintf(r, n, "%s/%s", l->dir, p);
	return r;
}

static char *read_secret_file(struct ld *l, const yaml_node_t *v, const struct key *k,
                              const char *shownp, const char *path)
{
	char buf[SECRET_MAX + 1], why[128], *out = NULL;
	int world = 0;

	if (secret_read_file(path, buf, sizeof(buf), &world, why, sizeof(why)) < 0) {
		conf_err_at(l, v, "%s %s: %s", k->name, shownp, why);
		return NULL;
	}
	/*
	 * A credential that lets its holder speak as someone else (a node's
	 * token) must not be readable by every local user. Refused, not
	 * warned about: a warning in a log goes unread, and the fix is one
	 * chmod.
	 */
	if (world && (k->flags & KF_PRIVATE)) {
		explicit_bzero(buf, sizeof(buf));
		conf_err_at(l, v,
		            "%s %s: readable by every user, who could then pose as its holder: "
		            "chmod 600 it",
		            k->name, shownp);
		return NULL;
	}
	out = conf_alloc(l->c, strlen(buf) + 1);
	if (out)
		memcpy(out, buf, strlen(buf) + 1);
	explicit_bzero(buf, sizeof(buf));
	return out;
}

static char *read_secret_env(struct ld *l, const yaml_node_t *v, const char *key, const char *name)
{
	char buf[SECRET_MAX + 1], why[160], *out;

	if (secret_read_env(name, buf, sizeof(buf), why, sizeof(why)) < 0) {
		conf_err_at(l, v, "%s: %s", key, why);
		return NULL;
	}
	out = conf_strdup(l->c, buf);
	explicit_bzero(buf, sizeof(buf));
	return out;
}

/* Convert and store one scalar value by its table row. */
void conf_set_value(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v)
{
	const char *str;
	unsigned long long u;
	char *p;
	int r, b;

	if (k->type == K_FN) {
		k->fn(l, s, k, v);
		return;
	}
	if (k->type == K_SPEC) {
		checks_spec_value(l, s, k, v);
		return;
	}
	if (k->type == K_DEFER) {
		yaml_node_t **slot = (yaml_node_t **)(void *)((char *)l + k->off);
		*slot = v;
		return;
	}
	if (k->type == K_INLINE) {
		conf_err_at(
		    l, v,
		    "%s: secrets are never written in the configuration; use %s_file (a file "
		    "holding it) or %s_env (an environment variable)",
		    k->name, k->name, k->name);
		return;
	}
	str = conf_scalar(v);
	if (!str) {
		conf_err_at(l, v, "%s: expected a single value, found %s", k->name, conf_kind(v));
		return;
	}
	if (conf_is_null(v)) {
		conf_err_at(l, v, "%s: a value is required", k->name);
		return;
	}
	switch (k->type) {
	case K_STR:
		if (checkspec_has_control(str)) {
			conf_err_at(l, v, "%s: control characters are not allowed", k->name);
			return;
		}
		if (k->max && strlen(str) > k->max) {
			conf_err_at(l, v, "%s: longer than %llu characters", k->name, k->max);
			return;
		}
		conf_put_ptr(s->base, k->off, conf_strdup(l->c, str));
		return;
	case K_NAME:
		if (conf_check_name(l, v, k->name, str) == 0)
			conf_put_ptr(s->base, k->off, conf_strdup(l->c, str));
		return;
	case K_PATH:
	case K_FILE: {
		struct stat st;

		/* store: may name its backend (top_store()): "sqlite:PATH" or a plain path. */
		if (k->type == K_PATH && strncmp(str, "sqlite:", 7) == 0 && !*(str += 7)) {
			conf_err_at(l, v, "%s: sqlite: names no file", k->name);
			return;
		}
		if (checkspec_has_control(str) || strlen(str) > 4000) {
			conf_err_at(l, v, "%s: not a usable file name", k->name);
			return;
		}
		p = conf_resolve_path(l, str);
		if (!p)
			return;
		if (k->type == K_FILE) {
			if (access(p, R_OK) < 0) {
				conf_err_at(l, v, "%s %s: %s", k->name, conf_show(str).s,
				            strerror(errno));
				return;
			}
			if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
				conf_err_at(l, v, "%s %s: is a directory, not a PEM file", k->name,
				            conf_show(str).s);
				return;
			}
		}
		conf_put_ptr(s->base, k->off, p);
		return;
	}
	case K_UINT:
		r = checkspec_uint(str, 0xffffffffULL, &u);
		if (r == -1) {
			conf_err_at(l, v, "%s: \"%s\" is not a whole number", k->name,
			            conf_show(str).s);
			return;
		}
		if (r == -2 || u > k->max) {
			conf_err_at(l, v, "%s %s is above the maximum %llu", k->name,
			            conf_show(str).s, k->max);
			return;
		}
		if (u < k->min && !(u == 0 && (k->flags & KF_ZERO))) {
			conf_err_at(l, v, "%s %llu is below the minimum %llu", k->name, u, k->min);
			return;
		}
		put_int(s->base, k, u);
		return;
	case K_DUR: {
		uint64_t ms;

		if (duration_parse_config(str, &ms) < 0) {
			conf_err_at(
			    l, v,
			    "%s: \"%s\" is not a duration (such as 90, 30s, 5m or 1h30m; a plain "
			    "number is seconds)",
			    k->name, conf_show(str).s);
			return;
		}
		u = ms;
		if (u == 0 && (k->flags & KF_ZERO)) {
			put_int(s->base, k, 0);
			return;
		}
		if (u < k->min) {
			conf_err_at(l, v, "%s %s is below the minimum %s", k->name, conf_dur(u).s,
			            conf_dur(k->min).s);
			return;
		}
		if (u > k->max) {
			conf_err_at(l, v, "%s %s is above the maximum %s", k->name, conf_dur(u).s,
			            conf_dur(k->max).s);
			return;
		}
		put_int(s->base, k, u);
		return;
	}
	case K_BOOL:
		if (parse_bool(str, &b) < 0) {
			conf_err_at(l, v, "%s: \"%s\" is not true or false", k->name,
			            conf_show(str).s);
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
		conf_err_at(l, v, "%s: \"%s\" is not one of %s", k->name, conf_show(str).s, list);
		return;
	}
	case K_SECRET_FILE:
	case K_SECRET_ENV: {
		if (k->type == K_SECRET_FILE) {
			char *path = conf_resolve_path(l, str);

			p = path ? read_secret_file(l, v, k, conf_show(str).s, path) : NULL;
		} else {
			p = read_secret_env(l, v, k->name, str);
		}
		if (!p)
			return;
		conf_put_ptr(s->base, k->off, p);
		return;
	}
	case K_INLINE:
	case K_DEFER:
	case K_FN:
	case K_SPEC:
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
	best = conf_nearest(key, names, n);
	if (best) {
		conf_err_at(l, kn, "unknown key \"%s\" in %s; did you mean \"%s\"?",
		            conf_show(key).s, s->what, best);
		return;
	}
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
		                        names[i]);
	conf_err_at(l, kn, "unknown key \"%s\" in %s; allowed keys: %s", conf_show(key).s, s->what,
	            list);
}

/* The top level; its sections are read later, in dependency order (conf_load()). */
static const struct key top_keys[] = {
    {"location", K_NAME, FIELD(struct conf, location), 0, 0, NULL, NULL, 0, 0},
    {"store", K_FN, 0, 0, 0, 0, NULL, top_store, 0, 0},
    {"retention", K_FN, 0, 0, 0, 0, NULL, top_retention, 0, 0},
    {"http", K_FN, 0, 0, 0, 0, NULL, top_http, 0, 0},
    {"max_in_flight", K_UINT, FIELD(struct conf, max_in_flight), 1, 10000, NULL, NULL, 0, 0},
    {"defaults", K_DEFER, FIELD(struct ld, n_defaults), 0, 0, NULL, NULL, 0, 0},
    {"channels", K_DEFER, FIELD(struct ld, n_channels), 0, 0, NULL, NULL, 0, 0},
    {"maintenance", K_DEFER, FIELD(struct ld, n_maintenance), 0, 0, NULL, NULL, 0, 0},
    {"checks", K_DEFER, FIELD(struct ld, n_checks), 0, 0, NULL, NULL, 0, 0},
    {"nodes", K_DEFER, FIELD(struct ld, n_nodes), 0, 0, NULL, NULL, 0, 0},
    {"node_notify", K_DEFER, FIELD(struct ld, n_node_notify), 0, 0, NULL, NULL, 0, 0},
};

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
		yaml_node_t *kn = conf_node(l, p->key), *vn = conf_node(l, p->value);
		const char *key = conf_scalar(kn);

		if (!key || strcmp(key, "<<") != 0)
			continue;
		if (depth >= 4) {
			conf_err_at(l, kn, "merge keys (<<) nested more than 4 deep");
			continue;
		}
		if (vn->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = vn->data.sequence.items.start;
			     it < vn->data.sequence.items.top; it++)
				if (conf_visit(l, conf_node(l, *it)))
					walk_map(l, s, conf_node(l, *it), depth + 1);
		} else {
			walk_map(l, s, vn, depth + 1);
		}
	}
}

static void walk_map(struct ld *l, struct section *s, yaml_node_t *map, int depth)
{
	if (map->type != YAML_MAPPING_NODE) {
		conf_err_at(l, map, "%s: expected a mapping of keys, found %s", s->what,
		            conf_kind(map));
		return;
	}
	uint64_t seen = 0;
	int seen_line[KEYS_MAX];

	walk_merges(l, s, map, depth);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = conf_node(l, p->key), *vn = conf_node(l, p->value);
		const char *key = conf_scalar(kn);
		const struct key *k;

		if (!conf_visit(l, kn))
			return;
		if (!key) {
			conf_err_at(l, kn, "keys in %s must be plain words, found %s", s->what,
			            conf_kind(kn));
			continue;
		}
		if (strcmp(key, "<<") == 0)
			continue;
		/* Room for anchors to share ("x-tls: &tls {...}"), as in compose files. */
		if (s->tbl == top_keys && strncmp(key, "x-", 2) == 0)
			continue;
		k = conf_find_key(s->tbl, s->n, key);
		if (!k) {
			unknown_key(l, s, kn, key);
			continue;
		}
		/* Per table row rather than pairwise: a hostile file may have many keys. */
		if (seen >> key_index(s, k) & 1) {
			conf_err_at(l, kn, "duplicate key \"%s\" in %s (first on line %d)",
			            conf_show(key).s, s->what, seen_line[key_index(s, k)]);
			continue;
		}
		seen |= (uint64_t)1 << key_index(s, k);
		seen_line[key_index(s, k)] = conf_pos_of(kn).line;
		if (s->defaults && (k->flags & KF_CHECK_ONLY)) {
			conf_err_at(l, kn,
			            "key \"%s\" is not allowed in defaults: set it in each check",
			            key);
			continue;
		}
		if (k->types && !(k->types & s->types)) {
			/* With the type itself wrong, that one message is enough. */
			if (s->types)
				conf_err_at(l, kn, "key \"%s\" does not apply to %s", key, s->what);
			continue;
		}
		s->here |= (uint64_t)1 << key_index(s, k);
		s->at[key_index(s, k)] = conf_pos_of(vn);
		conf_set_value(l, s, k, vn);
	}
}

void conf_walk(struct ld *l, struct section *s, yaml_node_t *map)
{
	walk_map(l, s, map, 0);
	/* NAME_file and NAME_env follow each other in every table. */
	for (size_t i = 0; i + 1 < s->n; i++) {
		int pair =
		    (s->tbl[i].type == K_SECRET_FILE && s->tbl[i + 1].type == K_SECRET_ENV) ||
		    (s->tbl[i].flags & s->tbl[i + 1].flags & KF_PWSRC);

		if (pair && (s->here >> i & 1) && (s->here >> (i + 1) & 1)) {
			struct pos a = s->at[i], b = s->at[i + 1];
			int env_later = b.line > a.line || (b.line == a.line && b.col > a.col);

			conf_err_pos(l, env_later ? b : a, "%s and %s exclude each other: give one",
			             s->tbl[i].name, s->tbl[i + 1].name);
		}
	}
}

void conf_section_init(struct section *s, const struct key *tbl, size_t n, void *base,
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
			conf_xerr(l, l->ckx[ix[k].idx].name_at,
			          "duplicate check name \"%s\" (first on line %d)",
			          conf_show(ix[k].name).s, l->ckx[first].name_at.line);
		}
		free(ix);
	}
	for (int i = 0; i < c->nchannels; i++)
		for (int j = 0; j < i; j++)
			if (c->channels[i].name && c->channels[j].name &&
			    strcmp(c->channels[i].name, c->channels[j].name) == 0) {
				conf_xerr(l, l->ch_at[i],
				          "duplicate channel name \"%s\" (first on line %d)",
				          conf_show(c->channels[i].name).s, l->ch_at[j].line);
				break;
			}
	for (int i = 0; i < c->nwindows; i++)
		for (int j = 0; j < i; j++)
			if (c->windows[i].name && c->windows[j].name &&
			    strcmp(c->windows[i].name, c->windows[j].name) == 0) {
				conf_xerr(
				    l, l->win_at[i],
				    "duplicate maintenance window name \"%s\" (first on line %d)",
				    conf_show(c->windows[i].name).s, l->win_at[j].line);
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
	c->location = conf_strdup(c, "local");
	c->store_path = conf_strdup(c, "/var/lib/mailpulse/mailpulse.db");
	c->raw_days = 30;
	c->rollup_days = 400;
	c->listen = conf_strdup(c, "127.0.0.1:8080");
	c->http_max_conns = 512;
	c->http_max_conns_per_addr = 64;
	c->public_title = conf_strdup(c, "Status");
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
		conf_xerr(l, start, "the file is empty: a checks list is needed");
		return;
	}
	if (root->type != YAML_MAPPING_NODE) {
		conf_err_at(l, root,
		            "the top level must be a mapping (location:, checks:, ...), found %s",
		            conf_kind(root));
		return;
	}
	conf_section_init(&s, top_keys, NKEYS(top_keys), l->c, "the top level");
	conf_walk(l, &s, root);
	if (conf_has(&s, "store"))
		l->store_at = conf_at(&s, "store");
	if (l->n_channels)
		channels_load(l, l->n_channels);
	/* Before the checks and their defaults: locations name nodes. */
	if (l->n_nodes)
		conf_nodes_load(l, l->n_nodes);
	conf_nodes_notify(l, l->n_node_notify);
	if (l->n_defaults)
		checks_load_defaults(l, l->n_defaults);
	checks_load(l, l->n_checks, conf_pos_of(root));
	for (int i = 0; i < l->c->nchecks; i++)
		checks_cross(l, &l->c->checks[i], &l->ckx[i]);
	if (l->n_maintenance)
		maint_load(l, l->n_maintenance);
	top_public_cross(l);
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
static int load(const char *path, struct conf **out, FILE *errs, char **store_only,
                char **secret_only)
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
	l.c->path = conf_strdup(l.c, path);
	ld_init_defaults(&l);
	{
		const char *slash = strrchr(path, '/');

		l.dir = slash ? conf_alloc(l.c, (size_t)(slash - path) + 2) : NULL;
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
			conf_err_pos(&l, p, "YAML syntax error: %s (%s on line %d)",
			             parser.problem ? parser.problem : "unknown", parser.context,
			             (int)parser.context_mark.line + 1);
		else
			conf_err_pos(&l, p, "YAML syntax error: %s",
			             parser.problem ? parser.problem : "unknown");
	} else {
		yaml_document_t more;

		have_doc = 1;
		load_document(&l, &doc);
		/* A second document would be silently ignored: say so instead. */
		if (yaml_parser_load(&parser, &more)) {
			yaml_node_t *r = yaml_document_get_root_node(&more);

			if (r)
				conf_err_at(&l, r,
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
			if (rc == 1 && secret_only && l.c->store_secret &&
			    !(*secret_only = strdup(l.c->store_secret)))
				rc = -1;
		}
	} else {
		for (int i = 0; i < l.c->nchecks; i++)
			checks_digest(l.c, &l.c->checks[i], &l.ckx[i]);
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
	free(l.nodex);
	if (l.c)
		conf_unref(l.c);
	return rc;
}

int conf_load(const char *path, struct conf **out, FILE *errs)
{
	return load(path, out, errs, NULL, NULL);
}

int conf_store_path(const char *path, char **store, char **secret, FILE *errs)
{
	struct conf *c = NULL;
	int rc;

	if (secret)
		*secret = NULL;
	rc = load(path, &c, errs, store, secret);
	if (rc == 0) {
		*store = strdup(c->store_path);
		int lost = 0;

		if (secret && c->store_secret && !(*secret = strdup(c->store_secret)))
			lost = 1;
		conf_unref(c);
		if (!*store || lost) {
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
	free(c->nodes);
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

/* O(nodes); they are at most CONF_NODES_MAX. */
const struct conf_node *conf_find_node(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->nnodes; i++)
		if (c->nodes[i].name && strcmp(c->nodes[i].name, name) == 0)
			return &c->nodes[i];
	return NULL;
}

int conf_check_at(const struct conf *c, const struct conf_check *cc, const char *location)
{
	if (cc->nlocations == 0)
		return strcmp(c->location, location) == 0;
	for (int i = 0; i < cc->nlocations; i++)
		if (strcmp(cc->locations[i], location) == 0)
			return 1;
	return 0;
}

int conf_find_channel(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->nchannels; i++)
		if (c->channels[i].name && strcmp(c->channels[i].name, name) == 0)
			return i;
	return -1;
}
