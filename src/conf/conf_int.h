/* SPDX-License-Identifier: ISC */
/*
 * conf_int.h - what the files of the configuration loader share: the
 * arena, the loader's state, file:line:col messages, the YAML helpers and
 * the key tables' walker (conf.c), and each section's entry point.
 *
 * Private to src/conf/; conf.h is the one public header. Every function
 * here is called while one file loads, on one thread, and reports through
 * struct ld; none of them prints.
 */
#ifndef MP_CONF_INT_H
#define MP_CONF_INT_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "conf/conf.h"
#include "spec/checkspec.h"

#define CONF_NAME_MAX  64
#define CONF_LABEL_MAX 64

/* ---- arena (conf.c) -------------------------------------------------------- */

struct conf_mem {
	struct conf_mem *next;
	size_t size, used;
	char data[];
};

/* A block of the conf's arena, 16-byte aligned; freed with the conf. NULL: out of memory. */
void *conf_alloc(struct conf *c, size_t n);
char *conf_strdup(struct conf *c, const char *s);

/* ---- loader state and messages (conf.c) ------------------------------------ */

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
	uint64_t spec_set;  /* the check builder's keys given in this very mapping */
};

/*
 * quorum: majority, as written: resolved by checks_cross() once the
 * check's locations are known (they may come from defaults).
 */
#define CONF_QUORUM_MAJORITY 0xffffffffu

/* Where each node's name and token were written, for cross-check messages. */
struct nodex {
	struct pos name_at, token_at;
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
	yaml_node_t *n_nodes, *n_node_notify; /* n_node_notify NULL: the key is absent */
	struct conf_check tmpl;
	struct ckx tmpl_x;
	struct ckx *ckx; /* one per check */
	struct pos *ch_at, *win_at;
	struct nodex *nodex; /* one per node */
	/* http.public_status.checks names, checked once the checks are loaded */
	struct pos pub_at[CONF_LABELS_MAX];
	struct pos token_at;
	struct pos store_at; /* the store: value, for conf_store_path() */
};

/* A problem at p, in the phase under way (the file as written, or the cross-checks). */
void conf_err_pos(struct ld *l, struct pos p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A problem at node n. */
void conf_err_at(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A cross-check's problem: printed after everything found while reading the file. */
void conf_xerr(struct ld *l, struct pos p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct pos conf_pos_of(const yaml_node_t *n);

/* Values go into messages escaped and cut: they may be anything. */
struct shown {
	char s[96];
};

struct shown conf_show(const char *v);

/* ---- YAML node helpers (conf.c) -------------------------------------------- */

yaml_node_t *conf_node(struct ld *l, int i);
/* The text of a scalar node; NULL for anything else. */
const char *conf_scalar(const yaml_node_t *n);
/* "", "~" and "null" written plainly are YAML's nothing. */
int conf_is_null(const yaml_node_t *n);
/* "a mapping", "a list", "nothing", "a single value": for messages. */
const char *conf_kind(const yaml_node_t *n);
/* Counts every node the walk touches; 0 once the budget is spent (alias bombs). */
int conf_visit(struct ld *l, const yaml_node_t *n);
/* The value of key in a mapping, with merge keys; NULL when absent. */
yaml_node_t *conf_map_get(struct ld *l, const yaml_node_t *map, const char *key);
/* The items of a list, a single value counting as a list of one; -1 (reported) when not a list. */
int conf_items(struct ld *l, yaml_node_t *v, yaml_node_t **out, int max, const char *key);

/* ---- value checks (conf.c) -------------------------------------------------- */

int conf_is_name_char(int ch);
/* Names of checks, channels, windows, label keys: 0, or -1 reported at v. */
int conf_check_name(struct ld *l, const yaml_node_t *v, const char *what, const char *s);
struct dur {
	char s[32];
};

/* The shortest exact spelling of a duration: 90000 -> "1m30s". */
struct dur conf_dur(unsigned long long ms);
/* The closest of names to s when it is close enough to be a typo, else NULL. */
const char *conf_nearest(const char *s, const char *const *names, size_t n);
int conf_label_value_ok(const char *s);
/* "key=value" with a valid label key and value. */
int conf_is_label_selector(const char *a);

/* ---- key tables (conf.c) ---------------------------------------------------- */

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
	K_SPEC,        /* a check's setting: the check builder (spec/checkspec.h) */
};

#define KF_CHECK_ONLY 1u  /* not in defaults: it names one server */
#define KF_HIDDEN     2u  /* not offered in "allowed keys" lists */
#define KF_ZERO       4u  /* 0 is allowed besides min..max: "off" */
#define KF_PWSRC      8u  /* a check's password source: with its pair, one of them */
#define KF_PRIVATE    16u /* K_SECRET_FILE: refused when every user may read the file */

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
	struct checkspec *spec;  /* K_SPEC: the check being built */
};

#define FIELD(type, m) offsetof(type, m), sizeof(((type *)0)->m)

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

void conf_put_ptr(void *base, size_t off, const void *v);
const struct key *conf_find_key(const struct key *tbl, size_t n, const char *name);
/* Whether the walk of s found key name, and where. */
int conf_has(const struct section *s, const char *name);
struct pos conf_at(const struct section *s, const char *name);
/* A path as the program will open it: relative ones from the file's directory. */
char *conf_resolve_path(struct ld *l, const char *p);
/* Walk one mapping against its table: unknown and duplicate keys, every value. */
void conf_walk(struct ld *l, struct section *s, yaml_node_t *map);
void conf_section_init(struct section *s, const struct key *tbl, size_t n, void *base,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- the sections, in the order the loader runs them ------------------------ */

/* One value by its table row (what conf_walk() does for each key). */
void conf_set_value(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v);

/* top.c: the top level's store, retention and http values. */
void top_store(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v);
void top_retention(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v);
void top_http(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v);
/* An http:// or https:// URL key (dashboard_url, a channel's url). */
void top_http_url(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v);
/* After the checks: every name the public page lists exists. */
void top_public_cross(struct ld *l);
/*
 * Why a bearer token (http's, a node's) is unfit, as a phrase ("is shorter
 * than 16 characters"); NULL when it is fine. Used by probe.c as well.
 */
const char *conf_token_problem(const char *t);

/* nodes.c: the probing nodes the controller accepts, and where node alerts go. */
void conf_nodes_load(struct ld *l, yaml_node_t *v);
/* After the channels: node_notify's names, or every channel when it is absent. */
void conf_nodes_notify(struct ld *l, yaml_node_t *v);
/* A check's locations: every name is this daemon's location or a node's. */
void conf_nodes_locations(struct ld *l, struct conf_check *cc, yaml_node_t *const *items, int n);

/* channels.c */
void channels_load(struct ld *l, yaml_node_t *v);

/* checks.c: the defaults block and the checks, through the one check builder. */
void checks_load_defaults(struct ld *l, yaml_node_t *v);
void checks_load(struct ld *l, yaml_node_t *v, struct pos root);
void checks_cross(struct ld *l, struct conf_check *cc, struct ckx *x);
/* A K_SPEC row: the check builder validates and stores the value. */
void checks_spec_value(struct ld *l, struct section *s, const struct key *k, yaml_node_t *v);
/* What tells a changed check from an unchanged one on reload. */
void checks_digest(const struct conf *c, struct conf_check *cc, const struct ckx *x);

/* maint.c: maintenance windows (they name checks). */
void maint_load(struct ld *l, yaml_node_t *v);

#endif
