/* SPDX-License-Identifier: ISC */
/*
 * probe.h - one run of one check: resolve -> connect -> TLS -> protocol,
 * under one absolute deadline, ending in one struct result.
 *
 * Never blocks. Thousands of probes may run at once on one event base.
 * The probe never touches the store, HTTP or notifications: it hands its
 * result to a callback. Every state change (its own steps, then the
 * protocol core's) goes to the log at debug level and into the result's
 * path.
 */
#ifndef MP_PROBE_H
#define MP_PROBE_H

#include "core/result.h"
#include "spec/target.h"

struct event_base;
struct evdns_base;
struct tls_cache;

/*
 * What probes share: the loop, the resolver and the TLS contexts. Created
 * once before the loop runs by whoever runs probes (check.c, later the
 * daemon), freed after every probe has finished.
 */
struct probe_env {
	struct event_base *base;
	struct evdns_base *dns;
	struct tls_cache *tls;
};

/* Returns 0, or -1 with err filled (the caller treats it as fatal: before the loop). */
int probe_env_init(struct probe_env *env, struct event_base *base, char *err, size_t errlen);
void probe_env_free(struct probe_env *env);
/*
 * Forget the TLS contexts (CA files and system store read again, verdicts
 * dropped) for probes started from now on; probes in flight finish with
 * what they have. -1 when out of memory, and then nothing changed.
 */
int probe_env_renew_tls(struct probe_env *env);

/*
 * Called exactly once per started probe, from the event loop, never from
 * inside probe_start(). The result is valid only during the call: copy it.
 */
typedef void (*probe_done_cb)(const struct result *r, void *arg);

struct probe;

/*
 * Start one probe of c. c must stay valid until the callback has run.
 * Returns NULL only when out of memory, and then the callback never runs.
 */
struct probe *probe_start(struct probe_env *env, const struct check *c, probe_done_cb cb,
                          void *arg);

/* Abandon a running probe: everything is freed, the callback does not run. */
void probe_cancel(struct probe *p);

#endif
