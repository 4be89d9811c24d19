/* SPDX-License-Identifier: ISC */
/*
 * checkspec.h - the one builder and validator of a struct check, whatever
 * the source: the check command's flags, the configuration's keys, and the
 * check specs a controller sends to a node.
 *
 * A source hands settings over one key at a time, by name, as text (or
 * says it had something that is not text); the builder validates each with
 * the one set of validators and stores it, then checkspec_finish() runs the
 * checks that need the whole check. Errors come back as text naming the
 * key the way the source spells it ("--cert-warn" or "cert_warn_days");
 * the caller places them (its own prefix, file:line:col, a JSON pointer).
 *
 * Ownership: the builder writes into a struct check it does not own, and
 * every string it stores is a copy made by the caller's save callback, so
 * the check's owner decides where strings live and when they die.
 */
#ifndef MP_CHECKSPEC_H
#define MP_CHECKSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "spec/target.h"

/*
 * The longest timeout the keys accept: the longest interval a daemon runs
 * a check at, since a timeout must end before the next probe starts.
 */
#define CHECKSPEC_TIMEOUT_MAX_MS (15 * 60 * 1000)

/* How a source spells keys and values; messages follow it. */
enum checkspec_src {
	CHECKSPEC_FLAGS, /* `mailpulse check`: --cert-warn 21, --timeout 0.5 (seconds) */
	CHECKSPEC_KEYS,  /* the configuration and the wire: cert_warn_days, timeout: 30s */
};

/*
 * Copies s (NUL-terminated) to where the check's strings live; secret is 1
 * for the password, which the owner must wipe. NULL when out of memory.
 */
typedef char *(*checkspec_save_fn)(void *arg, const char *s, int secret);

/* Builder state for one check; on the stack of whoever builds. */
struct checkspec {
	struct check *chk;
	enum checkspec_src src;
	const char *dir; /* relative file names are taken from here; NULL: as given */
	checkspec_save_fn save;
	void *save_arg;
	/*
	 * Keys given to this builder, accepted or not (set), and where the check inherits
	 * from (inherited: a configuration's defaults block): bit = key index.
	 * The cross-checks read both, as an explicit setting beats an inherited one.
	 */
	uint64_t set;
	uint64_t inherited;
	const char *pw_src; /* "file:PATH" or "env:NAME": what the digest keeps, never the value */
	int pw_world;       /* the password file is readable by every user */
	int pw_refused;     /* the caller refused a password key of its own (written inline) */
};

void checkspec_init(struct checkspec *b, struct check *chk, enum checkspec_src src,
                    checkspec_save_fn save, void *arg);

/* The index of a key (its KEYS spelling), or -1: not a check key. */
/*
 * Digits only, no sign, at most max: 0 with *out, -1 not a number, -2 above
 * max. The one number reader of settings (the config's other keys too).
 */
int checkspec_uint(const char *s, unsigned long long max, unsigned long long *out);
int checkspec_key(const char *name);
/* The key's name as src spells it; NULL when src has no such key. */
const char *checkspec_key_name(int key, enum checkspec_src src);
/* 1 for keys whose value is a list, given one item per checkspec_set(). */
int checkspec_key_is_list(int key);

/*
 * Set key (its KEYS spelling) to value. A list key adds one item. Returns
 * 0, or -1 with a message in err (which names the key). Out of memory is
 * reported as such.
 */
int checkspec_set(struct checkspec *b, const char *key, const char *value, char *err,
                  size_t errlen);
/*
 * The source had something else than text for key: null (raw is its
 * spelling, "~" or "") or another kind (raw NULL; found says what: "a
 * mapping", "a number"). Always -1 with a message in err, as each key
 * words it.
 */
int checkspec_set_other(struct checkspec *b, const char *key, const char *raw, const char *found,
                        char *err, size_t errlen);
/* Empty a list key: a list given replaces the inherited one. */
void checkspec_clear(struct checkspec *b, const char *key);

/*
 * The cross-checks, once every key is in. report is called for each
 * problem with the key to blame (the first of them that was set, in the
 * order given) and the message; returns the number of problems. Also
 * settles the defaults that follow other keys (cert_crit_days following
 * cert_warn_days, the certificate lifetime rule).
 */
typedef void (*checkspec_report_fn)(void *arg, const char *key, const char *key2, const char *msg);
int checkspec_finish(struct checkspec *b, checkspec_report_fn report, void *arg);

/*
 * Capability names the target's protocol cannot have: for IMAP, one atom
 * (words are a POP3 CAPA line's arguments). Returns 0, or -1 with a
 * message for the first one.
 */
int checkspec_caps_fit(const struct checkspec *b, const struct check *c, char *err, size_t errlen);

/* A URL may be quoted in a message only when it cannot carry a secret. */
int checkspec_url_showable(const char *u);

/* 1 when s is a host name: letters, digits, '-', '.', '_', 1 to 253 of them. */
int checkspec_is_host_name(const char *s);

/* 1 when s holds a control byte (below 0x20, or 0x7f). */
int checkspec_has_control(const char *s);

/* The KEYS spelling of an enum key's value ("require", "ipv6", "1.2"), or "?". */
const char *checkspec_value_name(const char *key, int value);

/*
 * --resolve HOST:ADDR[,ADDR...]: where HOST is to be reached instead of
 * DNS. Each address as target_addr_parse() reads it, written canonical.
 */
struct checkspec_resolve {
	char host[TARGET_HOST_MAX];
	char addr[CHECK_RESOLVE_MAX][TARGET_ADDR_MAX];
	int naddr;
};

/* Returns 0, or -1 with a message ("--resolve ..." for the flags source). */
int checkspec_parse_resolve(const char *spec, struct checkspec_resolve *r, char *err,
                            size_t errlen);

/*
 * The thin adapter for sources of key/value pairs (a node's check spec):
 * n keys and their values, in order, then the cross-checks. Every problem
 * is passed to report with its key; returns the number of problems.
 */
int checkspec_build(struct checkspec *b, const char *const *keys, const char *const *values,
                    size_t n, checkspec_report_fn report, void *arg);

/*
 * A built check as the scheduler and its probes hold it: a deep copy in
 * one block, immutable, shared by reference. A reload makes a new one for
 * a changed check; a probe in flight keeps the one it started with. The
 * copy made by checkspec_copy() holds one reference; checkspec_unref()
 * of the last wipes the block (the password is in it) and frees it.
 * Used on the loop's thread only: the count is not atomic.
 */
struct check_spec {
	int refs;
	char name[65];
	unsigned interval_ms; /* the probe grid; 0 for a one-shot check */
	unsigned retry_ms;    /* probe again this soon while a change is confirmed */
	struct check chk;     /* its strings point into this block */
	size_t size;          /* of the block, for the wipe */
};

/* NULL when out of memory (or name too long). */
struct check_spec *checkspec_copy(const struct check *c, const char *name, unsigned interval_ms,
                                  unsigned retry_ms);
struct check_spec *checkspec_ref(struct check_spec *sp);
void checkspec_unref(struct check_spec *sp);

/*
 * The other way (src/spec/pairs.c): a built check as the KEYS-spelled
 * pairs that checkspec_build() turns back into an equal check, the url
 * first, then every key in the table's order with its value, defaults
 * included, so whoever builds it again does not depend on its own
 * defaults. A list key comes once per item; an unset string key (expect,
 * sni, ca_file, login) not at all. The password and where it comes from
 * are never among them: whoever sends a check sends those apart. Returns
 * 0; fn's value when it is not 0 (the walk stops); -1 when a value has no
 * KEYS spelling (an enum out of its table).
 */
typedef int (*checkspec_pair_fn)(void *arg, const char *key, const char *value);
int checkspec_pairs(const struct check *c, checkspec_pair_fn fn, void *arg);

#endif
