/* SPDX-License-Identifier: ISC */
/*
 * node_json.h - what a probing node and its controller say to each other
 * (docs/nodes.md), over HTTPS with the node's bearer token:
 *
 *   GET  /api/v1/nodes/NAME/assignments   the checks NAME probes (ETag)
 *   POST /api/v1/nodes/NAME/results       a batch of results, in order
 *   POST /api/v1/nodes/NAME/heartbeat     the node's own health
 *
 * Each side treats the other's bytes as hostile: every decoder here is
 * bounded (NODE_BODY_MAX, depth, every string within its field) and
 * strict (each key known and typed), and names the field that is wrong
 * ("results[3].status: not a status name: \"upp\""). Every document
 * carries "v": NODE_PROTO_VERSION; another version is refused by name.
 */
#ifndef MP_NODE_JSON_H
#define MP_NODE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "spec/checkspec.h"
#include "wire/result_json.h"

#define NODE_PROTO_VERSION 1
/* The largest body either side reads: a batch of results, or an assignment list. */
#define NODE_BODY_MAX (2 * 1024 * 1024)
/*
 * An assignment list, which a node reads from its controller: up to
 * NODE_CHECKS_MAX checks of some 600 bytes each.
 */
#define NODE_ASSIGN_MAX (64 * 1024 * 1024)
/* Results in one batch at most; a node packs fewer when they are large. */
#define NODE_BATCH_MAX 1000
/* A batch id: 1..64 of [A-Za-z0-9._-]. */
#define NODE_ID_MAX 65
/* Checks assigned to one node at most. */
#define NODE_CHECKS_MAX 100000
/* Canaries a heartbeat reports at most. */
#define NODE_CANARIES_MAX 9

/* ---- assignments (controller -> node) ------------------------------------ */

/* One check as the controller hands it to a node. */
struct node_check_out {
	const char *name;
	const char *digest; /* the check's configuration digest */
	unsigned interval_ms;
	unsigned retry_ms;
	const struct check *chk; /* its probe options: sent as KEYS-spelled pairs */
	/* password_file / password_env of the check, resolved on the node: "file:P" or "env:N" */
	const char *pw_src;
	/* password_to_nodes: the password itself travels (else NULL) */
	const char *password;
};

/*
 * The assignment document for node: {"v", "node", "etag", "checks": [...]}
 * in one malloc'ed string (NULL when out of memory). etag is the caller's
 * (a digest of what is assigned).
 */
char *node_assign_encode(const char *node, const char *etag, const struct node_check_out *checks,
                         size_t n);

/* One check as a node built it: the check_spec the scheduler runs, and its digest. */
struct node_check_in {
	struct check_spec *spec; /* one reference, owned by the node_assign */
	char digest[65];
};

/*
 * A check the node could not build for a reason of its own machine, not of
 * the document: its password file or CA file is missing or unreadable
 * there, its password variable unset. The rest still run.
 */
struct node_check_skip {
	char name[RESULT_META_NAME_MAX];
	char error[320];
};

struct node_assign {
	char node[RESULT_META_NAME_MAX];
	char etag[NODE_ID_MAX];
	struct node_check_in *checks;
	size_t n;
	struct node_check_skip *skipped;
	size_t nskipped;
};

/*
 * Read an assignment document: every check rebuilt through the one check
 * builder (checkspec_build()), so a node validates what it is sent as the
 * controller validated what it was configured with; relative file names
 * (a password_file) are the node's own. A check whose files or variable
 * this machine lacks (ca_file, password_from) is left out and listed in
 * skipped with why, so one node's missing file does not stop every update
 * of its checks. Returns 0 with *out filled (free with
 * node_assign_clear()), or -1 with err naming the check and key when the
 * document itself is wrong.
 */
int node_assign_decode(const char *buf, size_t len, struct node_assign *out, char *err,
                       size_t errlen) __attribute__((warn_unused_result));
/* Drop the references and wipe what held a password. */
void node_assign_clear(struct node_assign *a);

/* ---- results (node -> controller) ------------------------------------- */

/*
 * A batch is built from results already encoded by result_json_dumps()
 * (a node's spool keeps them as text): node_batch_open() starts it,
 * node_batch_add() appends one (the text is copied as is), and
 * node_batch_close() ends it and returns the body (malloc'ed, *len set),
 * or NULL when out of memory. The builder frees itself at close.
 */
struct node_batch_out;
struct node_batch_out *node_batch_open(const char *node, const char *batch_id, int64_t sent_ms,
                                       uint64_t floor);
int node_batch_add(struct node_batch_out *b, const char *result_json, size_t len);
/*
 * Name the batch after its results went in (its id is made of their ids):
 * 0, or -1 when out of memory or the body would pass NODE_BODY_MAX, the
 * batch as it was.
 */
int node_batch_set_id(struct node_batch_out *b, const char *batch_id);
char *node_batch_close(struct node_batch_out *b, size_t *len);

struct node_batch_head {
	char node[RESULT_META_NAME_MAX];
	char id[NODE_ID_MAX];
	int64_t sent_ms; /* the node's clock when it sent the batch */
	/*
	 * The lowest id still waiting in the node's spool: every result below
	 * it was acknowledged or dropped, and is never sent again, so the
	 * controller forgets what it kept to spot those sent twice.
	 */
	uint64_t floor;
	size_t n; /* results in it */
};

/*
 * Called for each result of a batch, in order: i its index. A result that
 * does not decode is passed with r NULL and err saying why, so one bad
 * result is refused alone. Return 0 to go on.
 */
typedef int (*node_batch_item_cb)(size_t i, const struct result *r, const struct result_meta *m,
                                  const char *err, void *arg);
/*
 * Read a batch: the head first (into *h), then each result through cb.
 * -1 with err when the batch itself is wrong (not JSON, a key missing,
 * too many results): nothing was passed to cb then.
 */
int node_batch_decode(const char *buf, size_t len, struct node_batch_head *h, node_batch_item_cb cb,
                      void *arg, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The controller's answer to a batch. */
#define NODE_REFUSED_MAX 32 /* refusals listed; the count has them all */
struct node_batch_reply {
	char id[NODE_ID_MAX];
	unsigned accepted;
	unsigned duplicates; /* already had (a batch sent again): not counted twice */
	unsigned late;       /* older than the state's horizon: history only */
	unsigned nrefused;
	struct {
		unsigned index;
		char check[RESULT_META_NAME_MAX];
		char error[160];
	} refused[NODE_REFUSED_MAX];
	char etag[NODE_ID_MAX]; /* the node's assignments now: pull when it differs */
	int64_t skew_ms;        /* node clock minus controller clock, as the controller saw it */
};
char *node_batch_reply_encode(const struct node_batch_reply *r);
int node_batch_reply_decode(const char *buf, size_t len, struct node_batch_reply *r, char *err,
                            size_t errlen) __attribute__((warn_unused_result));

/* ---- heartbeat (node -> controller) ------------------------------------- */

struct node_canary {
	char target[TARGET_URL_MAX]; /* "controller" for the default canary */
	enum mp_status status;
	enum mp_reason reason;
	char message[256];
	int64_t probe_ms;
	unsigned failing; /* consecutive failed probes */
};

struct node_heartbeat {
	char node[RESULT_META_NAME_MAX];
	char version[32];
	int64_t started_ms;
	int64_t sent_ms;
	char etag[NODE_ID_MAX]; /* the assignments it runs */
	unsigned checks;        /* checks it runs */
	unsigned in_flight;
	uint64_t spool_depth; /* results waiting to be sent */
	uint64_t spool_max;
	uint64_t spool_dropped;  /* since it started: lost to the bound */
	int64_t spool_oldest_ms; /* probe time of the oldest waiting; 0: none */
	struct node_canary canaries[NODE_CANARIES_MAX];
	int ncanaries;
};
char *node_heartbeat_encode(const struct node_heartbeat *hb);
int node_heartbeat_decode(const char *buf, size_t len, struct node_heartbeat *hb, char *err,
                          size_t errlen) __attribute__((warn_unused_result));

struct node_heartbeat_reply {
	char etag[NODE_ID_MAX];
	int64_t controller_ms;
	int64_t skew_ms;
	int skew_flagged; /* over the controller's bound */
};
char *node_heartbeat_reply_encode(const struct node_heartbeat_reply *r);
int node_heartbeat_reply_decode(const char *buf, size_t len, struct node_heartbeat_reply *r,
                                char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
