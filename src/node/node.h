/* SPDX-License-Identifier: ISC */
/*
 * node.h - a probing node (`mailpulse probe`): pulls its checks from the
 * controller, runs them with the daemon's scheduler and engine, keeps every
 * result in its spool until the controller has it, pushes them in batches,
 * sends heartbeats and probes its canaries (docs/nodes.md).
 *
 * Everything runs on the caller's libevent loop: probes, the spool's
 * writes (one transaction per flush), and the HTTPS requests (libcurl
 * multi, net/curl_loop.h). A controller that cannot be reached only makes
 * the spool grow; probing goes on.
 */
#ifndef MP_NODE_H
#define MP_NODE_H

#include <stddef.h>

struct event_base;
struct probe_conf;
struct node;

/*
 * Heartbeats this often (times the time scale): six within the controller's
 * lost bound (30 s), so a cut of a few seconds, with the heartbeat that hung
 * on it, never adds up to a lost node.
 */
#define NODE_HEARTBEAT_MS 5000
/* Canaries of the node's own are probed this often (divided by the time scale). */
#define NODE_CANARY_INTERVAL_MS 30000

/*
 * A node on base for pc (kept by reference: pc must outlive the node);
 * time_scale as the daemon's (MAILPULSE_TIME_SCALE). Opens the spool and
 * starts: the first pull and heartbeat go out at once. NULL with err.
 */
struct node *node_new(struct event_base *base, const struct probe_conf *pc, double time_scale,
                      char *err, size_t errlen);
/*
 * Stop probing and write what is buffered to the spool (what the
 * controller did not acknowledge stays there for the next start), then
 * free. Returns 0, or -1 when the spool could not be written.
 */
int node_free(struct node *n);

#endif
