/*
 * monitor.h - what the running daemon lends to its readers (the HTTP API,
 * the dashboard, /metrics): the live state of each check, a summary of its
 * last result, counters, and the daemon's own health.
 *
 * Everything here is called on the daemon's event loop; pointers passed to
 * a callback are valid during that call only.
 */
#ifndef MP_MONITOR_H
#define MP_MONITOR_H

#include <stdint.h>

#include "conf/conf.h"
#include "core/result.h"
#include "monitor/state.h"

struct daemon;
struct store;

/* The last result of a check, in short. Strings are escaped already. */
struct mon_last {
	int64_t ts_ms;
	enum mp_status status;
	enum mp_severity severity;
	enum mp_reason reason;
	const char *message;
	const char *warnings; /* findings that leave the status as it is, one per line; "" */
	const char *address;
	int64_t phase_us[MP_PH__COUNT]; /* -1: not reached */
	int64_t ttg_us;                 /* -1: no greeting */
	const char *greeting;
	const char *capabilities; /* one per line, as in struct result */
	int64_t messages;         /* -1: no mailbox check */
	/*
	 * The TLS facts below are those of the last handshake that showed a
	 * certificate, seen at tls_seen_ms: a failed probe that got no
	 * certificate (refused, timed out) keeps the last one seen, so an
	 * outage still shows it. tls_seen_ms == ts_ms when it is this
	 * result's; 0 when none was seen (tls_used is 0 then).
	 */
	int tls_used;
	int64_t tls_seen_ms;
	const char *tls_version;
	const char *tls_cipher;
	int tls_verified;
	const char *cert_subject; /* of the leaf */
	const char *cert_issuer;
	const char *cert_sans;
	int64_t cert_not_after; /* of the certificate that expires first; unix seconds */
	int64_t cert_days_left;
};

struct mon_info {
	const char *name;
	const struct conf_check *cc;
	const struct check_state *st;
	const struct mon_last *last;     /* NULL until the first result */
	uint64_t probes;                 /* since the daemon started */
	uint64_t by_reason[MP_R__COUNT]; /* results by reason (ok included) */
	int running;                     /* a probe is in flight */
};

typedef void (*mon_each_cb)(const struct mon_info *mi, void *arg);

/* Every check, in the order of the configuration file. */
void daemon_each_check(struct daemon *d, mon_each_cb cb, void *arg);
/* One check; returns -1 (cb not called) when there is no such check. */
int daemon_get_check(struct daemon *d, const char *name, mon_each_cb cb, void *arg);
/* Probe now; -1 when there is no such check, 0 when started or already running. */
int daemon_run_now(struct daemon *d, const char *name);

struct daemon_health {
	int64_t started_ms; /* wall clock */
	int checks;
	int in_flight;
	int waiting; /* due, held back by max_in_flight */
	uint64_t probes_started;
	uint64_t probes_finished;
	uint64_t slots_skipped; /* a probe outlasted its interval */
	double lag_max_ms;      /* worst start lag over the last minute or so */
	double lag_avg_ms;
	double store_flush_last_ms; /* duration of the last store write */
	double store_flush_max_ms;
	int store_queued;
	uint64_t store_flush_failures;
	int store_ok;                /* the last write worked; 0 while failing or no file is open */
	const char *store_error;     /* why not, with SQLite's message; NULL while store_ok */
	uint64_t store_rows_dropped; /* rows refused by the full queue since start: lost */
	int notify_pending;
	uint64_t notify_attempts;
	uint64_t notify_failures;
};

void daemon_health(struct daemon *d, struct daemon_health *h);

/*
 * Notification attempts and failed attempts per channel name since the
 * daemon started (notify_each_channel()): the channels that had any, in
 * the order of their first; one removed by a reload stays.
 */
typedef void (*mon_channel_cb)(const char *channel, uint64_t attempts, uint64_t failures,
                               void *arg);
void daemon_each_channel(struct daemon *d, mon_channel_cb cb, void *arg);

struct conf *daemon_conf(struct daemon *d);
struct store *daemon_store(struct daemon *d);

#endif
