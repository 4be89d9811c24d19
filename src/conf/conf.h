/* SPDX-License-Identifier: ISC */
/*
 * conf.h - the daemon's configuration: YAML (libyaml) -> struct conf.
 *
 * A struct conf is immutable once loaded and reference counted: the running
 * daemon holds one, every probe in flight holds one on the conf its check
 * came from, so a reload (SIGHUP) can swap in a new conf while old probes
 * finish against the old one. conf_load() creates it with one reference;
 * conf_unref() frees it with the last.
 *
 * Every string in it is owned by it. Secrets (passwords, webhook secrets,
 * tokens) are read from files or environment variables named in the file,
 * never written inline in it, and never printed by conf_dump().
 */
#ifndef MP_CONF_H
#define MP_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/result.h"
#include "spec/target.h"

struct conf_mem;

#define CONF_INTERVAL_MIN_MS (30 * 1000)
#define CONF_INTERVAL_MAX_MS (15 * 60 * 1000)

enum channel_type {
	CH_WEBHOOK,    /* POST JSON, X-Mailpulse-Signature: sha256=HMAC(secret, body) */
	CH_EMAIL,      /* SMTP via libcurl: smtp:// (+STARTTLS) or smtps:// */
	CH_SLACK,      /* incoming webhook, {"text": ...} */
	CH_MATTERMOST, /* incoming webhook, {"text": ...} */
	CH_DISCORD,    /* webhook, {"content": ...} */
	CH_TEAMS,      /* Workflows webhook, Adaptive Card (or a legacy connector's MessageCard) */
	CH_TELEGRAM,   /* bot API sendMessage */
	CH_PAGERDUTY,  /* Events API v2, trigger/resolve with dedup_key */
	CH_COMMAND,    /* argv run with the event as JSON on stdin */
};

/* What a teams channel sends. */
enum teams_format {
	TEAMS_ADAPTIVE,    /* an Adaptive Card in a message: what Workflows webhooks take */
	TEAMS_MESSAGECARD, /* the retired Office 365 connectors' MessageCard */
};

#define CONF_TO_MAX   16
#define CONF_ARGV_MAX 32

/* One notification channel. */
struct conf_channel {
	char *name;
	enum channel_type type;
	int line;      /* where it was defined, for messages */
	char *url;     /* webhook, slack, mattermost, discord, teams; pagerduty/telegram API base */
	char *secret;  /* webhook HMAC key; from secret_file / secret_env */
	char *ca_file; /* trust for https:// endpoints; NULL: the system store */
	/* email */
	char *smtp_url;    /* smtp://host:587 or smtps://host:465 */
	int smtp_starttls; /* require STARTTLS on smtp:// (default 1) */
	char *smtp_user;
	char *smtp_password; /* from password_file / password_env */
	char *from;
	char *to[CONF_TO_MAX];
	int nto;
	/* telegram */
	char *bot_token; /* from token_file / token_env */
	char *chat_id;
	/* teams */
	enum teams_format teams_format; /* `format:` (default adaptive) */
	/* pagerduty */
	char *routing_key; /* from routing_key_file / routing_key_env */
	/* command */
	char *argv[CONF_ARGV_MAX + 1]; /* NULL-terminated */
	/* delivery */
	unsigned timeout_ms; /* per attempt (default 10 s) */
	unsigned retries;    /* attempts after the first (default 5), with backoff */
};

/* Which reasons an alert route carries; all when nreasons == 0. */
struct conf_route {
	int channel; /* index into conf.channels */
	int nreasons;
	/* enum mp_reason values, a byte each: 100,000 checks' routes stay small. */
	unsigned char reasons[MP_R__COUNT];
	int recovery; /* also send recoveries (default 1) */
};

#define CONF_LABELS_MAX 16
#define CONF_ROUTES_MAX 16
/* Locations one check may name (this daemon's and nodes'); nodes one controller accepts. */
#define CONF_LOCATIONS_MAX 16
#define CONF_NODES_MAX     256

/* One monitored check. */
struct conf_check {
	char *name; /* unique, [A-Za-z0-9._-], at most 64 */
	int line;
	struct check chk;              /* the probe's options; strings owned by the conf */
	char *url;                     /* as written */
	unsigned interval_ms;          /* CONF_INTERVAL_MIN_MS .. CONF_INTERVAL_MAX_MS */
	unsigned retry_ms;             /* after a failure, probe again this soon (default 10 s) */
	unsigned fail_after;           /* consecutive failures to go down (default 2) */
	unsigned recover_after;        /* consecutive successes to recover (default 1) */
	unsigned reminder_ms;          /* repeat the alert while down (0 = never) */
	char *labels[CONF_LABELS_MAX]; /* "key=value" or "word" */
	int nlabels;
	struct conf_route routes[CONF_ROUTES_MAX];
	int nroutes;
	/*
	 * Where it is probed from (`locations:`): conf.location (this daemon
	 * probes it) and node names (those nodes are assigned it). Empty:
	 * conf.location only, as before nodes existed.
	 */
	char *locations[CONF_LOCATIONS_MAX];
	int nlocations;
	/*
	 * Healthy locations that must confirm down (`quorum:` N or majority),
	 * resolved at load: never 0, never above the locations (default 2 with
	 * three or more locations, else 1).
	 */
	unsigned quorum;
	/*
	 * `password_to_nodes: true`: the password itself is sent, over the
	 * authenticated TLS channel, to the nodes this check names and no
	 * other; else a node reads password_file/password_env on its own
	 * machine. Off by default.
	 */
	int password_to_nodes;
	/*
	 * `notify_partial: true`: the check's routes are told when its
	 * verdict becomes partial (some locations see it down, fewer than
	 * the quorum) and when that is over; never an incident, never
	 * PagerDuty. Off by default; only with two or more locations (0 for
	 * any other check, also when set in defaults).
	 */
	int notify_partial;
	/*
	 * Where the password comes from, as written: "file:PATH" (PATH as in
	 * the file, so a node resolves it on its own machine) or "env:NAME";
	 * NULL without a login. Never the value.
	 */
	char *password_from;
	/* A stable digest of everything above that affects probing, to tell
	 * a changed check from an unchanged one on reload. */
	char digest[65];
};

/*
 * A maintenance window: notifications for the matching checks are held
 * back inside it (an outage still on when it ends is alerted then, with its
 * true start); probing and recording go on, results flagged as maintenance
 * and left out of uptime.
 */
struct conf_window {
	char *name;
	int line;
	int64_t start; /* unix seconds; one-off window when weekly == 0 */
	int64_t end;
	int weekly;         /* 1: recurs on the days in days_mask, UTC */
	unsigned days_mask; /* bit 0 = Sunday */
	int start_min;      /* minutes after midnight UTC */
	int end_min;
	char *checks[CONF_LABELS_MAX]; /* check names or label selectors; none = all */
	int nchecks;
};

/*
 * A probing node the controller accepts (`nodes:`): its name is the
 * location its results are for.
 */
struct conf_node {
	char *name; /* 1..64 of [A-Za-z0-9._-]; not conf.location */
	int line;
	char *token;  /* its bearer token, from token_file / token_env; a secret */
	char *region; /* a label shown beside it, or NULL */
};

struct conf {
	int refs;
	char *path;
	char *location;       /* this node's location name (default "local") */
	char *store_path;     /* store: SQLite file (default /var/lib/mailpulse/mailpulse.db), or a
	                         postgresql:// URI, never with a password */
	char *store_secret;   /* store: {password_file}: the file holding its password, or NULL */
	unsigned raw_days;    /* raw results kept (default 30) */
	unsigned rollup_days; /* hourly roll-ups kept (default 400) */
	char *listen;         /* HTTP listen address (default 127.0.0.1:8080); "off": none */
	char *dashboard_url;  /* base URL used in notification links */
	/*
	 * HTTP access control. http_token, when set (token_file/token_env),
	 * guards the dashboard's data, the API and /metrics: "Authorization:
	 * Bearer TOKEN". The public status page is off unless enabled, and
	 * then shows only the checks its selectors name.
	 */
	char *http_token;
	/*
	 * HTTP connections open at once, in all (default 512; the daemon
	 * lowers it to what the open files limit leaves) and from one client
	 * address, an IPv6 client counting by its /64 (default 64).
	 */
	unsigned http_max_conns;
	unsigned http_max_conns_per_addr;
	/*
	 * HTTPS (http.tls_cert and tls_key, both or neither): the files as
	 * configured, and their PEM text as read and checked at load time
	 * (the chain, leaf first; the unencrypted key, a secret wiped with the
	 * arena). The server is built from the text, so what was checked is
	 * what is served. NULL: plain HTTP.
	 */
	char *http_tls_cert, *http_tls_key;
	char *http_tls_cert_pem, *http_tls_key_pem;
	int public_enabled;
	char *public_title;                   /* default "Status" */
	char *public_checks[CONF_LABELS_MAX]; /* check names or key=value selectors */
	int npublic_checks;
	unsigned max_in_flight; /* probes at once (default 256) */
	struct conf_check *checks;
	int nchecks;
	struct conf_channel *channels;
	int nchannels;
	struct conf_window *windows;
	int nwindows;
	struct conf_node *nodes;
	int nnodes;
	/*
	 * Where node alerts (lost, impaired, back) go (`node_notify:`, channel
	 * indexes); every channel when the key is absent, none for [].
	 */
	int node_channels[CONF_ROUTES_MAX];
	int nnode_channels;
	/* Every string above lives here; wiped and freed by conf_unref(). */
	struct conf_mem *mem;
};

/*
 * Load and validate path. On success returns 0 and *out holds a conf with
 * one reference. On failure returns -1 and writes every problem to errs,
 * one per line, as "file:line:col: message" (what was found, what was
 * expected), then the cross-checks (unknown channel names, duplicate
 * names, timeout not shorter than interval).
 */
int conf_load(const char *path, struct conf **out, FILE *errs);

/*
 * Only the store path of the configuration at path, for the commands that
 * read the store and need nothing else (status, history, uptime,
 * incidents). The file is loaded and checked as by conf_load(); problems
 * elsewhere in it do not stop this. Returns 0 with *store (to free: the
 * store: value, relative to the file's directory, or the default); 1 with
 * *store as well when the file has other problems, every one written to
 * errs as conf_load() writes them; -1 when the store path itself cannot be
 * known (the file unreadable, not YAML, not a mapping, or store: itself
 * wrong), with every problem written to errs. secret, when not NULL, gets
 * store: {password_file} (to free; NULL when none).
 */
int conf_store_path(const char *path, char **store, char **secret, FILE *errs);

void conf_ref(struct conf *c);
void conf_unref(struct conf *c);

/* Find a check or a channel by name; NULL when absent. */
const struct conf_check *conf_find_check(const struct conf *c, const char *name);
const struct conf_node *conf_find_node(const struct conf *c, const char *name);
/* 1 when check cc is probed at location (its locations, or conf.location when it names none). */
int conf_check_at(const struct conf *c, const struct conf_check *cc, const char *location);
int conf_find_channel(const struct conf *c, const char *name);

/* 1 when now (unix seconds) is inside a window that covers check cc. */
int conf_in_maintenance(const struct conf *c, const struct conf_check *cc, int64_t now);
/*
 * The window that covers check cc at now (unix seconds), NULL when none;
 * *until (when not NULL) is when the occurrence under way ends, the latest
 * of them when windows overlap. A window that starts when another ends is
 * not followed: conf_in_maintenance() at *until says whether one does.
 */
const struct conf_window *conf_maintenance(const struct conf *c, const struct conf_check *cc,
                                           int64_t now, int64_t *until);

/* 1 when the public status page shows check cc (enabled and selected). */
int conf_public_covers(const struct conf *c, const struct conf_check *cc);

/* Print the effective configuration, secrets as "(set)", for `config check -v`. */
void conf_dump(const struct conf *c, FILE *f);

const char *conf_channel_type_name(enum channel_type t);

#endif
