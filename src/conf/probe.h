/* SPDX-License-Identifier: ISC */
/*
 * probe.h - a probing node's own settings (`mailpulse probe`), from its
 * flags or a small YAML file, through one setter so both are validated
 * alike: where its controller is, who it is, and where it spools.
 *
 * What it probes is not here: the controller assigns that (wire/node_json.h).
 */
#ifndef MP_CONF_PROBE_H
#define MP_CONF_PROBE_H

#include <stddef.h>
#include <stdio.h>

/* Controller URLs a node tries in turn; canary targets of its own. */
#define PROBE_CONTROLLERS_MAX 8
#define PROBE_CANARIES_MAX    8
/* Results the spool keeps by default when no spool_max is given. */
#define PROBE_SPOOL_MAX_DEFAULT 100000u

struct probe_conf {
	/* https://HOST:PORT (http:// only to a loopback address), first is tried first */
	char *controller[PROBE_CONTROLLERS_MAX];
	int ncontrollers;
	char *name;         /* the node's name: the location its results are for */
	char *token_file;   /* as given */
	char *token;        /* read from token_file (one line, trailing newline cut); secret */
	char *ca_file;      /* trust for the controller's certificate; NULL: the system store */
	char *spool;        /* SQLite file; NULL: in memory only (lost at exit) */
	unsigned spool_max; /* results kept when the controller is away */
	char *canaries[PROBE_CANARIES_MAX]; /* imap(s):// pop3(s):// URLs that should always work */
	int ncanaries;
	unsigned max_in_flight; /* probes at once (default 256) */
	/* Every string above; the token is wiped at free. */
	void *mem;
};

/*
 * One setting by name, as a flag or a YAML key names it: controller
 * (repeatable), name, token_file, ca_file, spool, spool_max, canary
 * (repeatable), max_in_flight. Returns 0, or -1 with a message in err that
 * names the key and what is wrong with the value.
 */
int probe_conf_set(struct probe_conf *pc, const char *key, const char *value, char *err,
                   size_t errlen);
/* An empty conf (defaults set); NULL when out of memory. */
struct probe_conf *probe_conf_new(void);
/*
 * Load path (YAML mapping of the keys above; lists for controller and
 * canaries) into pc: every problem is written to errs as
 * "file:line:col: message". Returns the number of problems.
 */
int probe_conf_load(struct probe_conf *pc, const char *path, FILE *errs);
/*
 * Once every setting is in: name and controller present, the token read
 * from token_file (not empty, not world-readable...). Returns 0, or -1 with
 * each problem written to errs.
 */
int probe_conf_finish(struct probe_conf *pc, FILE *errs);
void probe_conf_free(struct probe_conf *pc);

#endif
