/* SPDX-License-Identifier: ISC */
/*
 * notify.h - notifications: webhooks, e-mail, chat services, PagerDuty and
 * commands, delivered through net/curl_loop on the daemon's own event
 * loop (and a child process for commands). Never blocks a probe.
 *
 * A struct notify is created by notify_new() before the loop runs and
 * freed by notify_free() after it (which abandons what is still pending,
 * reporting each as failed). Each notify_send() copies the event and the
 * channel settings it needs, so the conf may be reloaded meanwhile.
 */
#ifndef MP_NOTIFY_H
#define MP_NOTIFY_H

#include <stdint.h>

#include "conf/conf.h"
#include "core/result.h"

struct event_base;

enum notify_kind {
	NOTIFY_DOWN,     /* the check went down (an incident opened) */
	NOTIFY_DEGRADED, /* the check went degraded */
	NOTIFY_RECOVERY, /* back up; duration_ms says how long it was not */
	NOTIFY_REMINDER, /* still down */
	NOTIFY_TEST,     /* a channel test, kind "test"; nothing sends one yet */
	/*
	 * A probing node's health (node, why): never a check's alert, never
	 * an incident; sent to conf.node_channels. Lost: no heartbeat for a
	 * while; impaired: its canary fails or it alone sees most checks
	 * down; back: neither any more.
	 */
	NOTIFY_NODE_LOST,
	NOTIFY_NODE_IMPAIRED,
	NOTIFY_NODE_BACK,
	/*
	 * A check seen down from some of its locations, fewer than its
	 * quorum (`notify_partial`): not an outage, no incident, and no
	 * PagerDuty alert (notify_channel_takes()). Partial end: that is
	 * over, the check up or degraded again; duration_ms says how long it
	 * lasted. Both carry locations and locs.
	 */
	NOTIFY_PARTIAL,
	NOTIFY_PARTIAL_END,
};

/* What one location of a check saw, for the webhook's "location_states". */
struct notify_loc {
	const char *location;
	const char *state; /* its confirmed state: "up", "degraded", "down", "pending" */
	enum mp_reason reason;
	const char *message; /* of its last result; may be empty */
	int counts;          /* it counted in the check's verdict */
};

/* What happened, in plain data; strings are copied by notify_send(). */
struct notify_event {
	enum notify_kind kind;
	const char *check;
	const char *target; /* the URL */
	const char *location;
	enum mp_status status;
	enum mp_severity severity; /* of the check now; critical may come with degraded */
	enum mp_status prev;
	enum mp_reason reason;
	unsigned confirmed;   /* consecutive results that confirmed the change; 0: not said */
	const char *message;  /* the probe's message */
	const char *greeting; /* escaped; may be empty */
	int64_t since_ms;     /* when the current state began: its first result (unix ms) */
	int64_t now_ms;
	int64_t duration_ms;       /* recovery: how long it was down; partial end: partial */
	const char *dashboard_url; /* the dashboard's base URL, or NULL; format.c links */
	const char *incident_key;  /* stable per incident: PagerDuty dedup_key */
	/*
	 * The result that caused it (the last one for a reminder or a notice
	 * held by a maintenance window) as src/wire's encoder wrote it, or
	 * NULL (a resolve at a removed check): the webhook's and command's
	 * "result", so they carry the one result format, not a copy of it.
	 */
	const char *result_json;
	/*
	 * A check probed from more than one location: what each saw, as a
	 * sentence for people ("down from eu-west (timeout) and us-east
	 * (refused); up from ap-south") and as data (nlocs entries). NULL
	 * and 0 for a check probed from one location, whose messages stay as
	 * they were before locations existed.
	 */
	const char *locations;
	const struct notify_loc *locs;
	int nlocs;
	/* NOTIFY_NODE_*: the node, and why it is lost, impaired or back; else NULL. */
	const char *node;
	const char *why;
};

/*
 * Called once per attempt with its outcome (ok, or why not), so the
 * daemon can store it and show failing channels. check is the node's
 * name for a node event (event "node_lost", "node_impaired", "node_back").
 */
typedef void (*notify_attempt_cb)(const char *check, const char *channel, const char *event,
                                  int attempt, int ok, const char *detail, void *arg);

struct notify;

/*
 * Claims: where several controllers share a store, each notification is
 * claimed there before it is sent, under a key that names it the same on
 * every controller (its kind, its incident or state, its channel), so
 * that one taking over never sends what another sent.
 * claim(key, granted, d, arg) asks, and granted(1 send, 0 another
 * controller has, d) answers, maybe before claim returns; done(key, ok,
 * arg) says how a claimed delivery ended. See notify_set_claims().
 */
typedef void (*notify_granted_fn)(int granted, void *d);
typedef void (*notify_claim_fn)(const char *key, notify_granted_fn granted, void *d, void *arg);
typedef void (*notify_claimed_fn)(const char *key, int ok, void *arg);

/*
 * notify_new() calls curl_global_init(): create the first notify before any
 * thread starts. The callback must not call notify_free().
 */
struct notify *notify_new(struct event_base *base, notify_attempt_cb cb, void *arg);
void notify_free(struct notify *n);
/* The same, each delivery reported as abandoned for why (a controller standing by). */
void notify_free_why(struct notify *n, const char *why);

/* Deliveries queued, waiting to retry or in flight at once; beyond it notify_send() refuses. */
#define NOTIFY_QUEUE_MAX 10000

/*
 * Queue one delivery of ev to ch, retried with backoff. Returns 0, or -1
 * (out of memory, or NOTIFY_QUEUE_MAX deliveries already pending). A kind
 * the channel takes none of (notify_channel_takes()) is not queued: 0.
 */
int notify_send(struct notify *n, const struct conf_channel *ch, const struct notify_event *ev);

/* Deliveries queued or in flight. */
int notify_pending(const struct notify *n);
/*
 * From now on every notify_send() is claimed first (claim) and its end
 * told (done); a refused claim is dropped and logged, never attempted.
 * Without it (one controller), nothing is claimed.
 */
void notify_set_claims(struct notify *n, notify_claim_fn claim, notify_claimed_fn done, void *arg);

/*
 * Attempts and failed attempts of each channel name since notify_new(),
 * in the order each was first used (channels removed by a reload stay).
 * Past NOTIFY_CHANNELS_MAX (256) names, further ones are counted together
 * under "(other)", which no configured name can be. The name is valid
 * during the call only.
 */
typedef void (*notify_count_cb)(const char *channel, uint64_t attempts, uint64_t failures,
                                void *arg);
void notify_each_channel(const struct notify *n, notify_count_cb cb, void *arg);

/* The subject and body a person reads (e-mail, chat); shared by the channels. */
void notify_format_text(const struct notify_event *ev, char *subject, size_t subjectsz, char *body,
                        size_t bodysz);

const char *notify_kind_name(enum notify_kind k); /* "down", "degraded", "recovery", ... */
/* 1 for NOTIFY_NODE_LOST, NOTIFY_NODE_IMPAIRED and NOTIFY_NODE_BACK. */
int notify_kind_is_node(enum notify_kind k);
/* 1 for NOTIFY_PARTIAL and NOTIFY_PARTIAL_END. */
int notify_kind_is_partial(enum notify_kind k);
/*
 * 1 when channels of type t take notifications of kind k. PagerDuty takes
 * no partial notices: it pages, and a partial check is not an outage.
 * notify_send() queues nothing for a pair this refuses (and returns 0).
 */
int notify_channel_takes(enum channel_type t, enum notify_kind k);

/*
 * How one HTTP or SMTP attempt ended, as libcurl reported it: what
 * notify_judge() reads. Every byte of errbuf and body may be the server's.
 */
struct notify_reply {
	enum channel_type type;
	int curl_rc;         /* the transfer's CURLcode */
	long code;           /* CURLINFO_RESPONSE_CODE: HTTP status or SMTP reply; 0: none */
	long os_errno;       /* CURLINFO_OS_ERRNO, read for CURLE_COULDNT_CONNECT; else 0 */
	unsigned timeout_ms; /* the channel's, for the detail */
	const char *errbuf;  /* libcurl's error buffer, NUL-terminated; "" or NULL: none */
	const char *body;    /* the start of the response body; not NUL-terminated */
	size_t bodylen;
};

/*
 * The verdict on an attempt: *ok (delivered), *retryable (worth another
 * attempt), and a one-line detail for the store and the log, written to
 * detail (always NUL-terminated, cut to fit; server bytes escaped, so no
 * control byte). Any 2xx on an HTTP channel is delivered, whatever came
 * after the status line. Pure: no I/O, no state.
 */
void notify_judge(const struct notify_reply *r, int *ok, int *retryable, char *detail,
                  size_t detailsz);

#endif
