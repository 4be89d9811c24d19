/*
 * daemon.c - `mailpulse run -c FILE`: wires the scheduler's results to the
 * alert states, the store and the notifications; reloads on SIGHUP; stops
 * cleanly on SIGTERM/SIGINT.
 *
 * Everything runs on one event loop. Nothing on the result path blocks:
 * the store queues rows and writes them once a second, notifications are
 * queued and delivered by libcurl on the same loop.
 */
#include "monitor/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "http/http.h"
#include "core/log.h"
#include "monitor/monitor.h"
#include "notify/notify.h"
#include "engine/probe.h"
#include "monitor/sched.h"
#include "monitor/state.h"
#include "store/store.h"

#define DEFAULT_CONF "/etc/mailpulse/mailpulse.yaml"
#define MON_BUCKETS  4096
/* On SIGTERM, how long deliveries in flight may take before they are abandoned. */
#define STOP_GRACE_MS     5000
#define RETENTION_EVERY_S 3600
/* At stop, tries at writing what is queued, 200 ms apart (a writer may hold the file). */
#define STOP_FLUSH_TRIES 3
/* A store that keeps failing is reported once a minute (times MAILPULSE_TIME_SCALE). */
#define STORE_REPORT_EVERY_S 60
/* The message of a state written again into a new store file that has no history. */
#define CARRIED_OVER "state carried over into a new store file"

/*
 * One monitored check in the running daemon: its alert state and a small
 * summary of the last result (the full results live in the store). Created
 * when a check appears in the configuration, freed when it leaves it.
 */
struct mon {
	struct mon *hnext;
	struct daemon *d;
	struct sched_item *item;
	char name[65];
	struct check_state st;
	enum mp_reason alert_reason; /* of the alert that recoveries answer */
	unsigned alert_confirmed;    /* results that confirmed the change being alerted */
	int seen;                    /* marks checks still present during a reload */
	/*
	 * What the people on its routes were last told: MP_UP when nothing is
	 * outstanding, MP_DOWN or MP_DEGRADED after such a notification. A
	 * maintenance window holds notifications back (held), so it may lag
	 * behind st.status until maint_catch_up() runs at the window's end.
	 */
	enum mp_status told;
	enum mp_severity told_sev; /* with told: a degraded check told at warning or critical */
	int held;                  /* a notification was held back by a window */
	int64_t held_duration_ms;  /* of a held-back recovery */
	int has_last;
	struct mon_last last; /* its strings are owned (strdup), see last_update() */
	char *last_strs[10];
	uint64_t probes;
	uint64_t by_reason[MP_R__COUNT];
};

struct daemon {
	struct event_base *base;
	struct probe_env env;
	struct conf *conf;
	const char *conf_path;
	struct store *store;
	struct notify *notify;
	struct sched *sched;
	struct mon *buckets[MON_BUCKETS];
	int nmons;
	int nheld; /* checks with held-back notifications; the one-second tick looks at them */
	struct event *ev_hup, *ev_term, *ev_int, *ev_flush, *ev_retention, *ev_stop;
	int64_t stop_deadline_us;
	double scale;
	struct http *http;
	int64_t started_ms;
	double flush_last_ms, flush_max_ms;
	uint64_t flush_failures;
	/*
	 * A run of ticks that could not write (a failed flush, or no file to
	 * write to): 0 while writing works. The first failure is logged at
	 * once, then one summary per STORE_REPORT_EVERY_S (store_trouble()).
	 */
	uint64_t store_fail_run;
	int64_t store_fail_first_us, store_fail_logged_us;
	uint64_t store_dropped;     /* rows the full queue refused, since start: lost */
	uint64_t store_dropped_run; /* of them, since writing last worked */
	char store_error[512];      /* why the store cannot be written; "" when it can */
	int store_moved_told;       /* the file at the path changed: logged, not yet reopened */
	unsigned flush_ticks;
	uint64_t notify_attempts, notify_failures;
};

/* libevent's own messages (a nameserver that stopped answering...) at debug level: probes report
 * them. */
static void libevent_log(int severity, const char *msg)
{
	log_msg(severity >= EVENT_LOG_ERR ? LOG_ERR : LOG_DEBUG, "libevent: %s", msg);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* systemd readiness (Type=notify): one datagram to $NOTIFY_SOCKET, if any. */
static void sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
	close(fd);
}

/* ---- the checks ---------------------------------------------------------- */

static unsigned bucket_of(const char *name)
{
	unsigned h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	return h % MON_BUCKETS;
}

static struct mon *mon_find(struct daemon *d, const char *name)
{
	for (struct mon *m = d->buckets[bucket_of(name)]; m; m = m->hnext)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static void mon_free(struct daemon *d, struct mon *m)
{
	struct mon **pp = &d->buckets[bucket_of(m->name)];

	while (*pp && *pp != m)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = m->hnext;
	if (m->item)
		sched_remove(m->item);
	d->nmons--;
	d->nheld -= m->held;
	for (size_t i = 0; i < sizeof(m->last_strs) / sizeof(m->last_strs[0]); i++)
		free(m->last_strs[i]);
	free(m);
}

static struct mon *mon_add(struct daemon *d, const struct conf_check *cc)
{
	struct mon *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->d = d;
	snprintf(m->name, sizeof(m->name), "%s", cc->name);
	state_init(&m->st, wall_ms());
	m->told = MP_UP;
	m->item = sched_add(d->sched, d->conf, cc, m);
	if (!m->item) {
		free(m);
		return NULL;
	}
	unsigned b = bucket_of(m->name);
	m->hnext = d->buckets[b];
	d->buckets[b] = m;
	d->nmons++;
	return m;
}

/* ---- notifications -------------------------------------------------------- */

static int route_matches(const struct conf_route *rt, enum mp_reason why)
{
	if (rt->nreasons == 0)
		return 1;
	for (int i = 0; i < rt->nreasons; i++)
		if ((enum mp_reason)rt->reasons[i] == why)
			return 1;
	return 0;
}

static void alert(struct daemon *d, struct mon *m, const struct conf_check *cc,
                  enum notify_kind kind, enum mp_status prev, const struct result *r,
                  int64_t now_ms, int64_t duration_ms)
{
	struct conf *conf = d->conf;
	char key[128];

	if (conf_in_maintenance(conf, cc, now_ms / 1000)) {
		log_msg(LOG_NOTICE, "check %s: %s notification suppressed (maintenance window)",
		        m->name, notify_kind_name(kind));
		/* What is still true when the window ends is told then: maint_catch_up(). */
		if (kind != NOTIFY_TEST && !m->held) {
			m->held = 1;
			d->nheld++;
		}
		if (kind == NOTIFY_RECOVERY)
			m->held_duration_ms = duration_ms;
		return;
	}
	if (kind == NOTIFY_RECOVERY && m->told == MP_UP) {
		/* Its down or degraded notification was held back, and it is over. */
		log_msg(LOG_NOTICE,
		        "check %s: recovery notification not sent: nobody was told of the outage",
		        m->name);
		return;
	}
	if (kind != NOTIFY_REMINDER && kind != NOTIFY_TEST) {
		m->told = m->st.status == MP_UNKNOWN ? MP_UP : m->st.status;
		m->told_sev = m->told == MP_UP ? MP_SEV_OK : m->st.severity;
	}
	/* Stable across restarts (the start is stored): PagerDuty pairs trigger and resolve by it.
	 */
	snprintf(key, sizeof(key), "mailpulse/%s/%lld", m->name,
	         (long long)m->st.incident_start_ms);

	struct notify_event ev = {
	    .kind = kind,
	    .check = m->name,
	    .target = cc->chk.target.url,
	    .location = conf->location,
	    .status = m->st.status,
	    .severity = m->st.severity,
	    .confirmed = kind == NOTIFY_REMINDER ? 0 : m->alert_confirmed,
	    .prev = prev,
	    .reason = r->reason,
	    .message = r->message,
	    .greeting = r->greeting,
	    .since_ms = m->st.since_ms,
	    .now_ms = now_ms,
	    .duration_ms = duration_ms,
	    .dashboard_url = conf->dashboard_url, /* notify adds the check's page */
	    .incident_key = key,
	};
	for (int i = 0; i < cc->nroutes; i++) {
		const struct conf_route *rt = &cc->routes[i];
		if (kind == NOTIFY_RECOVERY) {
			if (!rt->recovery || !route_matches(rt, m->alert_reason))
				continue;
		} else if (!route_matches(rt, r->reason)) {
			continue;
		}
		const struct conf_channel *ch = &conf->channels[rt->channel];
		if (notify_send(d->notify, ch, &ev) != 0)
			log_msg(LOG_ERR, "check %s: cannot queue a notification to %s (queue full)",
			        m->name, ch->name);
	}
}

/*
 * A maintenance window held back notifications of m; once it has ended,
 * tell what is true now. Still down (or degraded): that notification, its
 * since the start of the outage inside the window, duration_ms how long it
 * has lasted so far. Over inside the window and nobody told: nothing, no
 * recovery either. Over, and told before the window: the recovery.
 *
 * Called by the one-second tick (on_flush) and before each result of m,
 * whichever comes first: the window's end is acted on within a second,
 * whatever the check's interval, and before any result taken after it.
 */
static void maint_catch_up(struct daemon *d, struct mon *m, int64_t now)
{
	const struct conf_check *cc;
	enum mp_status st = m->st.status;
	enum notify_kind kind;
	struct result *r;

	if (!m->held || !m->item)
		return;
	cc = sched_check(m->item);
	if (conf_in_maintenance(d->conf, cc, now / 1000))
		return;
	m->held = 0;
	d->nheld--;
	/* Same state, or a degraded check that eased from critical: nothing new to tell. */
	if (st == MP_UNKNOWN ||
	    (st == m->told && (st != MP_DEGRADED || m->st.severity <= m->told_sev))) {
		log_msg(LOG_NOTICE,
		        "check %s: maintenance over, %s as last notified: nothing to send", m->name,
		        state_status_name(st));
		return;
	}
	if (st == MP_DOWN)
		kind = NOTIFY_DOWN;
	else if (st == MP_DEGRADED && m->told != MP_DOWN)
		kind = NOTIFY_DEGRADED;
	else
		kind = NOTIFY_RECOVERY; /* down -> degraded counts as one, as in state.c */
	/* The state is what is told; the last result gives the words. ~11 KB: not on the stack. */
	r = calloc(1, sizeof(*r));
	if (!r) {
		log_msg(LOG_ERR, "check %s: out of memory sending a held-back notification",
		        m->name);
		return;
	}
	r->status = st;
	r->severity = m->st.severity;
	r->reason = m->st.reason;
	if (m->has_last) {
		snprintf(r->message, sizeof(r->message), "%s", m->last.message);
		snprintf(r->greeting, sizeof(r->greeting), "%s", m->last.greeting);
	}
	log_msg(LOG_NOTICE, "check %s: maintenance over, %s since %lld: %s notification sent now",
	        m->name, state_status_name(st), (long long)m->st.since_ms, notify_kind_name(kind));
	if (kind == NOTIFY_RECOVERY) {
		alert(d, m, cc, kind, m->told, r, now, m->held_duration_ms);
	} else {
		m->alert_reason = r->reason;
		alert(d, m, cc, kind, m->told, r, now, now - m->st.since_ms);
		state_reminded(&m->st, now);
	}
	free(r);
}

static void maint_tick(struct daemon *d)
{
	int64_t now = wall_ms();

	for (int b = 0; d->nheld > 0 && b < MON_BUCKETS; b++)
		for (struct mon *m = d->buckets[b]; m; m = m->hnext)
			maint_catch_up(d, m, now);
}

static void store_dropped(struct daemon *d, const char *check);

static void on_attempt(const char *check, const char *channel, const char *event, int attempt,
                       int ok, const char *detail, void *arg)
{
	struct daemon *d = arg;

	d->notify_attempts++;
	d->notify_failures += !ok;
	if (ok)
		log_msg(LOG_INFO, "notify %s: %s for %s delivered (attempt %d)", channel, event,
		        check, attempt);
	else
		log_msg(LOG_WARNING, "notify %s: %s for %s failed (attempt %d): %s", channel, event,
		        check, attempt, detail ? detail : "");
	if (d->store && store_add_delivery(d->store, check, channel, event, attempt, ok, detail,
	                                   wall_ms()) != 0)
		store_dropped(d, check);
}

/* ---- results -------------------------------------------------------------- */

static int64_t store_report_every_us(const struct daemon *d)
{
	double us = STORE_REPORT_EVERY_S * 1e6 * d->scale;

	return us < 1e6 ? 1000000 : (int64_t)us;
}

/*
 * A tick could not write to the store, for the reason msg (SQLite's own
 * words, from store_errmsg()). Rows stay queued and the next tick tries
 * again, so a broken store would log a line a second: the first failure
 * of a run is logged at once, then one summary per period with a count.
 */
static void store_trouble(struct daemon *d, const char *msg)
{
	int64_t now = mp_now_us();
	char dropped[96] = "";

	d->flush_failures++;
	snprintf(d->store_error, sizeof(d->store_error), "%s", msg);
	if (d->store_fail_run++ == 0) {
		d->store_fail_first_us = d->store_fail_logged_us = now;
		log_msg(LOG_ERR,
		        "store: writing failed: %s; %d rows stay queued (at most %d), retried "
		        "every second",
		        msg, store_queued(d->store), STORE_QUEUE_MAX);
		return;
	}
	if (now - d->store_fail_logged_us < store_report_every_us(d))
		return;
	d->store_fail_logged_us = now;
	if (d->store_dropped_run)
		snprintf(dropped, sizeof(dropped), ", %llu rows lost to a full queue",
		         (unsigned long long)d->store_dropped_run);
	log_msg(LOG_ERR,
	        "store: writing still failing after %lld s, %llu failed flushes in all, %d rows "
	        "queued%s: %s",
	        (long long)((now - d->store_fail_first_us) / 1000000),
	        (unsigned long long)d->store_fail_run, store_queued(d->store), dropped, msg);
}

/* A flush wrote n rows: the end of a run of failures, if there was one. */
static void store_works(struct daemon *d, int n)
{
	if (d->store_fail_run > 0) {
		char dropped[96] = "";

		if (d->store_dropped_run)
			snprintf(dropped, sizeof(dropped), "; %llu rows were lost to a full queue",
			         (unsigned long long)d->store_dropped_run);
		int64_t secs = (mp_now_us() - d->store_fail_first_us) / 1000000;

		log_msg(LOG_NOTICE,
		        "store: writing works again after %llu failed flushes over %lld s; %d "
		        "queued rows written%s",
		        (unsigned long long)d->store_fail_run, (long long)secs, n, dropped);
	}
	d->store_fail_run = 0;
	d->store_dropped_run = 0;
	d->store_error[0] = '\0';
}

/* Write what is queued now; the outcome is reported as by the tick. */
static int store_flush_now(struct daemon *d)
{
	int64_t t0 = mp_now_us();
	int rc = store_flush(d->store);

	d->flush_last_ms = (double)(mp_now_us() - t0) / 1000.0;
	if (d->flush_last_ms > d->flush_max_ms)
		d->flush_max_ms = d->flush_last_ms;
	if (rc < 0)
		store_trouble(d, store_errmsg(d->store));
	else
		store_works(d, rc);
	return rc;
}

/* The queue is full: write now, unless writing fails already (each try may block 2 s). */
static void store_make_room(struct daemon *d)
{
	if (d->store_fail_run == 0)
		store_flush_now(d);
}

/* A row the queue refused is lost: counted, reported with the store's trouble. */
static void store_dropped(struct daemon *d, const char *check)
{
	d->store_dropped++;
	if (d->store_dropped_run++ == 0)
		log_msg(LOG_ERR,
		        "store: queue full (%d rows): a row of check %s is lost, and every further "
		        "one until writing works again (counted in the store's reports)",
		        store_queued(d->store), check ? check : "-");
}

/* After store_add_*() returned rc: a refused row is lost, and room is made for the next. */
static void store_or_flush(struct daemon *d, int rc, const char *check)
{
	if (rc == 0)
		return;
	store_dropped(d, check);
	store_make_room(d);
}

/* Keep a copy of s in *slot, reallocating only when it changed. */
static const char *keep_str(char **slot, const char *s)
{
	if (*slot && strcmp(*slot, s) == 0)
		return *slot;
	char *n = strdup(s);
	if (!n)
		return *slot ? *slot : "";
	free(*slot);
	*slot = n;
	return n;
}

/* The short summary of the last result that readers (API, metrics) see. */
/* The result's warnings, one per line (each is escaped: no newline inside). */
static const char *join_warnings(const struct result *r, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < r->nwarnings && i < RESULT_WARN_MAX; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? "\n" : "", r->warnings[i]);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return buf;
}

static void last_update(struct mon *m, const struct result *r, int64_t now)
{
	char warns[RESULT_WARN_MAX * (RESULT_WARN_LEN + 1)];
	struct mon_last *l = &m->last;
	const struct tls_facts *t = &r->tls;

	m->has_last = 1;
	m->probes++;
	if ((unsigned)r->reason < MP_R__COUNT)
		m->by_reason[r->reason]++;
	l->ts_ms = now;
	l->status = r->status;
	l->severity = r->severity;
	l->reason = r->reason;
	memcpy(l->phase_us, r->phase_us, sizeof(l->phase_us));
	l->ttg_us = r->ttg_us;
	l->messages = r->messages;
	l->message = keep_str(&m->last_strs[0], r->message);
	l->address = keep_str(&m->last_strs[1], r->address);
	l->greeting = keep_str(&m->last_strs[2], r->greeting);
	l->capabilities = keep_str(&m->last_strs[3], r->capabilities);
	l->warnings = keep_str(&m->last_strs[9], join_warnings(r, warns, sizeof(warns)));
	/*
	 * A failure that got no certificate (refused, timed out) keeps the last
	 * one seen and when: an outage must not hide which certificate was
	 * served. An answer without TLS means the check no longer uses it.
	 */
	if ((t->used && t->chain_len) || l->tls_seen_ms == 0 || r->status == MP_UP ||
	    r->status == MP_DEGRADED) {
		l->tls_seen_ms = t->used ? now : 0;
		l->tls_used = t->used;
		l->tls_verified = t->verified;
		l->tls_version = keep_str(&m->last_strs[4], t->used ? t->version : "");
		l->tls_cipher = keep_str(&m->last_strs[5], t->used ? t->cipher : "");
		l->cert_subject =
		    keep_str(&m->last_strs[6], t->used && t->chain_len ? t->chain[0].subject : "");
		l->cert_issuer =
		    keep_str(&m->last_strs[7], t->used && t->chain_len ? t->chain[0].issuer : "");
		l->cert_sans = keep_str(&m->last_strs[8], t->used ? t->sans : "");
		l->cert_not_after = t->used && t->chain_len ? t->chain[t->earliest].not_after : 0;
		l->cert_days_left = t->used && t->chain_len ? t->days_left : 0;
	}
}

static void on_result(struct sched_item *it, const struct result *r, void *arg)
{
	struct daemon *d = arg;
	struct mon *m = sched_user(it);
	const struct conf_check *cc = sched_check(it);
	int64_t now = wall_ms();
	unsigned flags = conf_in_maintenance(d->conf, cc, now / 1000) ? STORE_R_MAINTENANCE : 0;

	maint_catch_up(d, m, now); /* a window that ended before this result is told first */
	last_update(m, r, now);
	log_msg(LOG_DEBUG, "check %s: %s %s in %.1f ms: %s", m->name, result_status_name(r->status),
	        result_reason_name(r->reason), r->phase_us[MP_PH_TOTAL] / 1000.0, r->message);
	if (store_add_result_flags(d->store, m->name, d->conf->location, now, r, flags) != 0) {
		store_make_room(d);
		if (store_add_result_flags(d->store, m->name, d->conf->location, now, r, flags) !=
		    0)
			store_dropped(d, m->name);
	}

	int64_t prev_since = m->st.since_ms;
	struct state_change ch = state_on_result(&m->st, r->status, r->severity, r->reason,
	                                         cc->fail_after, cc->recover_after, now);
	if (ch.confirming)
		sched_retry_soon(it);
	if (ch.changed) {
		log_msg(ch.to == MP_UP ? LOG_NOTICE : LOG_WARNING,
		        "check %s: %s -> %s, %s (%s, since %lld s ago, %u probes): %s", m->name,
		        state_status_name(ch.from), state_status_name(ch.to),
		        result_severity_name(ch.to_severity), result_reason_name(ch.reason),
		        (long long)((now - ch.since_ms) / 1000), ch.confirmed, r->message);
		/* Stamped with the streak's first result: the outage began there. */
		store_or_flush(d,
		               store_add_transition(d->store, m->name, ch.since_ms, ch.from, ch.to,
		                                    ch.to_severity, ch.reason, r->message),
		               m->name);
		if (ch.incident_opened)
			store_or_flush(d,
			               store_incident_open(d->store, m->name, ch.since_ms,
			                                   ch.reason, r->message),
			               m->name);
		if (ch.incident_closed)
			store_or_flush(d, store_incident_close(d->store, m->name, ch.since_ms),
			               m->name);
	}
	m->alert_confirmed = ch.confirmed;
	switch (ch.alert) {
	case STATE_ALERT_DOWN:
		m->alert_reason = r->reason;
		alert(d, m, cc, NOTIFY_DOWN, ch.from, r, now, 0);
		break;
	case STATE_ALERT_DEGRADED:
		m->alert_reason = r->reason;
		alert(d, m, cc, NOTIFY_DEGRADED, ch.from, r, now, 0);
		break;
	case STATE_ALERT_RECOVERY:
		/* How long it was not up: the incident, or the degraded spell. */
		alert(d, m, cc, NOTIFY_RECOVERY, ch.from, r, now,
		      ch.incident_closed ? ch.incident_ms : ch.since_ms - prev_since);
		break;
	case STATE_ALERT_NONE:
		if (state_reminder_due(&m->st, cc->reminder_ms, now)) {
			state_reminded(&m->st, now);
			alert(d, m, cc, NOTIFY_REMINDER, m->st.status, r, now,
			      now - m->st.since_ms);
		}
		break;
	}
}

/* ---- what readers see (monitor.h) -------------------------------------- */

static void fill_info(struct mon *m, struct mon_info *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->name = m->name;
	mi->cc = m->item ? sched_check(m->item) : NULL;
	mi->st = &m->st;
	mi->last = m->has_last ? &m->last : NULL;
	mi->probes = m->probes;
	memcpy(mi->by_reason, m->by_reason, sizeof(mi->by_reason));
	mi->running = m->item ? sched_running(m->item) : 0;
}

void daemon_each_check(struct daemon *d, mon_each_cb cb, void *arg)
{
	for (int i = 0; i < d->conf->nchecks; i++) {
		struct mon *m = mon_find(d, d->conf->checks[i].name);
		struct mon_info mi;
		if (!m || !m->item)
			continue;
		fill_info(m, &mi);
		cb(&mi, arg);
	}
}

int daemon_get_check(struct daemon *d, const char *name, mon_each_cb cb, void *arg)
{
	struct mon *m = mon_find(d, name);
	struct mon_info mi;

	if (!m || !m->item)
		return -1;
	fill_info(m, &mi);
	cb(&mi, arg);
	return 0;
}

int daemon_run_now(struct daemon *d, const char *name)
{
	struct mon *m = mon_find(d, name);

	if (!m || !m->item)
		return -1;
	sched_run_now(m->item);
	return 0;
}

void daemon_health(struct daemon *d, struct daemon_health *h)
{
	struct sched_stats st;

	memset(h, 0, sizeof(*h));
	memset(&st, 0, sizeof(st));
	if (d->sched)
		sched_stats(d->sched, &st); /* lag: over the last minute (on_flush resets it) */
	h->started_ms = d->started_ms;
	h->checks = d->nmons;
	h->in_flight = st.in_flight;
	h->waiting = st.waiting;
	h->probes_started = st.started;
	h->probes_finished = st.finished;
	h->slots_skipped = st.skipped;
	h->lag_max_ms = (double)st.lag_max_us / 1000.0;
	h->lag_avg_ms = st.lag_n ? (double)st.lag_sum_us / (double)st.lag_n / 1000.0 : 0;
	h->store_flush_last_ms = d->flush_last_ms;
	h->store_flush_max_ms = d->flush_max_ms;
	h->store_queued = store_queued(d->store);
	h->store_flush_failures = d->flush_failures;
	h->store_ok = d->store_fail_run == 0;
	h->store_error = d->store_error[0] ? d->store_error : NULL;
	h->store_rows_dropped = d->store_dropped;
	h->notify_pending = d->notify ? notify_pending(d->notify) : 0;
	h->notify_attempts = d->notify_attempts;
	h->notify_failures = d->notify_failures;
}

void daemon_each_channel(struct daemon *d, mon_channel_cb cb, void *arg)
{
	notify_each_channel(d->notify, cb, arg);
}

struct conf *daemon_conf(struct daemon *d)
{
	return d->conf;
}

struct store *daemon_store(struct daemon *d)
{
	return d->store;
}

/* ---- configuration -------------------------------------------------------- */

/* Load path, logging every error line. NULL when invalid. */
static struct conf *load_conf(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *errs = open_memstream(&buf, &len);
	struct conf *c = NULL;

	if (!errs)
		return NULL;
	int rc = conf_load(path, &c, errs);
	fclose(errs);
	if (rc != 0) {
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
			log_msg(LOG_ERR, "%s", line);
		c = NULL;
	}
	free(buf);
	return c;
}

/*
 * A check that left the configuration stops existing: its open incident is
 * closed with the reason, and it goes back to pending in the store (status
 * no longer lists it; a check of that name added later starts fresh). No
 * notification: it did not recover, and an edit of the file pages nobody.
 */
static void retire(struct daemon *d, const char *name, enum mp_status st, int incident_open,
                   int64_t now)
{
	if (incident_open || st == MP_DOWN || st == MP_DEGRADED)
		log_msg(LOG_NOTICE, "check %s: removed while %s%s; no notification is sent", name,
		        state_status_name(st),
		        incident_open ? ", its incident closed as removed" : "");
	store_or_flush(d, store_check_retire(d->store, name, now, STORE_REMOVED_REASON), name);
}

static void mon_retire(struct daemon *d, struct mon *m, int64_t now)
{
	retire(d, m->name, m->st.status, m->st.incident_open, now);
}

/* At start: the store's checks against the file (see retire()). */
static void sync_check(const char *name, int removed, void *arg)
{
	struct daemon *d = arg;
	int configured = mon_find(d, name) != NULL;

	if (configured && removed) {
		store_or_flush(d, store_check_present(d->store, name), name);
	} else if (!configured && !removed) {
		log_msg(LOG_NOTICE, "check %s: in the store but no longer configured: retired",
		        name);
		retire(d, name, MP_UNKNOWN, 0, wall_ms());
	}
}

/*
 * After a restart, what was told is not stored: a check found down or
 * degraded was told so, unless its state began inside a maintenance window
 * (held back then, so told when the window is over, at once if it is).
 */
static void resume_told(struct daemon *d, struct mon *m)
{
	enum mp_status st = m->st.status;

	m->told = st == MP_DOWN || st == MP_DEGRADED ? st : MP_UP;
	m->told_sev = m->told == MP_UP ? MP_SEV_OK : m->st.severity;
	if (m->told != MP_UP && m->item && !m->held &&
	    conf_in_maintenance(d->conf, sched_check(m->item), m->st.since_ms / 1000)) {
		m->told = MP_UP;
		m->told_sev = MP_SEV_OK;
		m->held = 1;
		d->nheld++;
	}
}

static void restore_state(const struct store_state *ss, void *arg)
{
	struct daemon *d = arg;
	struct mon *m = mon_find(d, ss->check);

	if (m)
		state_resume(&m->st, ss->status, ss->severity, ss->reason, ss->since_ms,
		             ss->incident_open, ss->incident_start_ms);
	if (m)
		resume_told(d, m);
}

static void reload(struct daemon *d)
{
	sd_notify_msg("RELOADING=1");
	log_msg(LOG_NOTICE, "reloading %s", d->conf_path);
	struct conf *nc = load_conf(d->conf_path);
	if (!nc) {
		log_msg(LOG_ERR, "reload refused: the running configuration stays");
		sd_notify_msg("READY=1");
		return;
	}
	/*
	 * The HTTP part first: it is the one that can fail (the new address is
	 * taken), and a reload applies all of the file or none of it, so a
	 * token added in the same edit never waits behind the old listener.
	 */
	int want_http = nc->listen && strcmp(nc->listen, "off") != 0;
	char herr[256];
	int hrc = 0;
	if (want_http && d->http)
		hrc = http_reconfigure(d->http, nc, herr, sizeof(herr));
	else if (want_http && !(d->http = http_start(d->base, d, nc, herr, sizeof(herr))))
		hrc = -1;
	if (hrc != 0) {
		log_msg(LOG_ERR,
		        "reload refused: %s; the running configuration stays, all of it (checks, "
		        "listener, token, limits)",
		        herr);
		conf_unref(nc);
		sd_notify_msg("READY=1");
		return;
	}
	if (strcmp(nc->store_path, d->conf->store_path) != 0)
		log_msg(LOG_WARNING, "store path changed to %s: takes effect at the next start",
		        nc->store_path);
	struct conf *old = d->conf;
	d->conf = nc;
	/* A reload is how an admin says "I fixed the CA file": read it again. */
	if (probe_env_renew_tls(&d->env) != 0)
		log_msg(LOG_ERR, "reload: out of memory renewing TLS contexts; the old ones stay");
	int added = 0, changed = 0, removed = 0;
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = d->buckets[b]; m; m = m->hnext)
			m->seen = 0;
	for (int i = 0; i < nc->nchecks; i++) {
		const struct conf_check *cc = &nc->checks[i];
		struct mon *m = mon_find(d, cc->name);
		if (m) {
			if (strcmp(sched_check(m->item)->digest, cc->digest) != 0)
				changed++;
			sched_update(m->item, nc, cc);
			m->seen = 1;
		} else if ((m = mon_add(d, cc))) {
			m->seen = 1;
			added++;
			/* Back under a name once removed: it starts fresh, as pending. */
			store_or_flush(d, store_check_present(d->store, cc->name), cc->name);
		} else {
			log_msg(LOG_ERR, "check %s: out of memory", cc->name);
		}
	}
	for (int b = 0; b < MON_BUCKETS; b++) {
		struct mon *m = d->buckets[b], *n;
		for (; m; m = n) {
			n = m->hnext;
			if (!m->seen) {
				mon_retire(d, m, wall_ms());
				mon_free(d, m);
				removed++;
			}
		}
	}
	if (d->http && !want_http) {
		http_free(d->http);
		d->http = NULL;
		log_msg(LOG_NOTICE, "http: stopped (listen: off)");
	}
	conf_unref(old);
	log_msg(LOG_NOTICE, "reloaded: %d checks (%d added, %d changed, %d removed)", d->nmons,
	        added, changed, removed);
	sd_notify_msg("READY=1");
}

/* ---- timers and signals --------------------------------------------------- */

/*
 * A new store file knows nothing of the current states and open incidents:
 * write them into it again, so that status and the incident list stay
 * right, each state stamped with when it began. Incidents that a restored
 * older file holds open, but that are over, are closed. Then the file's
 * checks are matched against the configuration, as at start. Rows queued
 * before go in first, the carried states after them: the last word.
 */
static void carry_over(struct daemon *d)
{
	int64_t now = wall_ms();

	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = d->buckets[b]; m; m = m->hnext) {
			const char *msg = m->has_last ? m->last.message : CARRIED_OVER;

			if (m->st.status == MP_UNKNOWN)
				continue; /* pending: nothing to carry */
			if (store_queued(d->store) > STORE_QUEUE_MAX - 2)
				store_make_room(d);
			store_or_flush(d,
			               store_add_transition(d->store, m->name, m->st.since_ms,
			                                    MP_UNKNOWN, m->st.status,
			                                    m->st.severity, m->st.reason, msg),
			               m->name);
			if (m->st.incident_open)
				store_or_flush(d,
				               store_incident_open(d->store, m->name,
				                                   m->st.incident_start_ms,
				                                   m->st.reason, msg),
				               m->name);
			else
				store_or_flush(
				    d,
				    store_incident_close_why(d->store, m->name, now, CARRIED_OVER),
				    m->name);
		}
	/* Written here, so that the end of a run of failures is told with its count. */
	if (store_flush_now(d) >= 0 && store_each_check(d->store, sync_check, d) != 0)
		log_msg(LOG_WARNING, "store: could not list the checks of the new file: %s",
		        store_errmsg(d->store));
}

/*
 * The store's path must still name the file being written: SQLite goes on
 * writing to a file deleted or replaced under it, where nobody will read
 * the results, and nothing would tell. The monitor must keep watching and
 * its results must land where the admin and the reports look: the path.
 * So the file now at the path is opened (a new store created when there is
 * none) and writing goes on there, with the current states carried over;
 * the log says where the earlier history is. A file there that is not a
 * store is never written: rows stay queued, every tick tries again, and the
 * failure is reported as a store that cannot be written (health, logs).
 * Returns 0 when the store can be written, -1 when not. One stat() a tick.
 */
static int store_watch(struct daemon *d)
{
	enum store_file f = store_file_check(d->store);
	const char *path = store_pathname(d->store);
	char err[512];
	int rc;

	if (f == STORE_FILE_OK)
		return 0;
	/* Said once; a reopen that fails is told by store_trouble(), rate-limited. */
	if (!d->store_moved_told && f == STORE_FILE_DELETED)
		log_msg(LOG_ERR,
		        "store %s was deleted or moved away while in use: what was written to it "
		        "until now went with it; %d queued rows go to a new store there",
		        path, store_queued(d->store));
	else if (!d->store_moved_told && f == STORE_FILE_REPLACED)
		log_msg(LOG_ERR,
		        "store %s was replaced by another file while in use: the file it replaced "
		        "keeps what was written until now; %d queued rows go to the new file",
		        path, store_queued(d->store));
	d->store_moved_told = 1;
	rc = store_reopen(d->store, err, sizeof(err));
	if (rc < 0) {
		store_trouble(d, err);
		return -1;
	}
	d->store_moved_told = 0;
	if (rc == 1)
		log_msg(LOG_WARNING,
		        "store %s: created a new, empty store there; results from now on are "
		        "written to it (history before now is not in it: see above)",
		        path);
	else
		log_msg(LOG_WARNING,
		        "store %s: writing to the store found there from now on (history before "
		        "now that is not in it stays in the file it replaced)",
		        path);
	carry_over(d);
	return 0;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	/* The scheduler's lag figures cover the last minute. */
	if (++d->flush_ticks % 60 == 0 && d->sched)
		sched_stats_reset(d->sched);
	/* The same tick acts on maintenance windows that ended (maint_catch_up()). */
	if (d->nheld > 0)
		maint_tick(d);
	if (store_watch(d) < 0 || store_queued(d->store) == 0)
		return;
	store_flush_now(d);
}

static void on_retention(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (store_retention(d->store, wall_ms(), d->conf->raw_days, d->conf->rollup_days) < 0)
		log_msg(LOG_ERR, "store: retention failed: %s", store_errmsg(d->store));
}

static void on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (notify_pending(d->notify) == 0 || mp_now_us() >= d->stop_deadline_us)
		event_base_loopbreak(d->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	if (d->ev_stop) {
		event_base_loopbreak(d->base); /* a second signal: stop now */
		return;
	}
	sd_notify_msg("STOPPING=1");
	log_msg(LOG_NOTICE, "stopping on signal %d: no new probes; %d notification(s) pending",
	        (int)sig, notify_pending(d->notify));
	/* Probes in flight are cancelled; queued rows are written below. */
	http_free(d->http);
	d->http = NULL;
	sched_free(d->sched);
	d->sched = NULL;
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = d->buckets[b]; m; m = m->hnext)
			m->item = NULL;
	d->stop_deadline_us = mp_now_us() + (int64_t)STOP_GRACE_MS * 1000;
	d->ev_stop = event_new(d->base, -1, EV_PERSIST, on_stop_tick, d);
	struct timeval tv = {0, 100000};
	if (!d->ev_stop || event_add(d->ev_stop, &tv) != 0)
		event_base_loopbreak(d->base);
}

/*
 * At stop: write what is queued, into the file the path names now, trying
 * a few times (a reader or a backup may hold the file for a moment). What
 * still cannot be written is lost, and the last line says exactly how
 * much was written and how much was lost, with SQLite's reason (the line
 * that all went well only after a clean stop). Closes the store. Returns
 * 0, or -1 when rows were lost (the exit status says it).
 */
static int stop_store(struct daemon *d, int clean)
{
	int ok = store_watch(d) == 0, queued = store_queued(d->store), written = 0, lost;
	const char *why = d->store_error;

	for (int i = 0; ok && i < STOP_FLUSH_TRIES && store_queued(d->store) > 0; i++) {
		struct timespec pause = {0, 200 * 1000 * 1000};
		int n = store_flush(d->store);

		if (n >= 0) {
			written += n;
			break;
		}
		why = store_errmsg(d->store);
		if (i + 1 < STOP_FLUSH_TRIES)
			nanosleep(&pause, NULL);
	}
	lost = store_discard(d->store);
	if (lost > 0)
		log_msg(LOG_ERR,
		        "stopped; %d of %d queued rows written, %d lost (results, state changes, "
		        "incidents and notification attempts missing from the store): %s",
		        written, queued, lost, why);
	else if (clean)
		log_msg(LOG_NOTICE, "stopped; %d queued rows written, 0 lost", written);
	if (d->store_dropped > 0)
		log_msg(LOG_ERR, "store: %llu rows were lost earlier to a full queue",
		        (unsigned long long)d->store_dropped);
	store_close(d->store);
	d->store = NULL;
	return lost > 0 ? -1 : 0;
}

/*
 * The one teardown of what daemon_main() or daemon_idle_new() set up, in
 * order, the event base excepted (its owner frees it). Returns code, or 1
 * when a clean stop lost rows.
 */
static int daemon_teardown(struct daemon *d, int code)
{
	http_free(d->http);
	d->http = NULL;
	if (d->sched)
		sched_free(d->sched);
	d->sched = NULL;
	notify_free(d->notify); /* reports what is abandoned, into the store */
	d->notify = NULL;
	if (d->store && stop_store(d, code == 0) != 0 && code == 0)
		code = 1;
	for (int b = 0; b < MON_BUCKETS; b++) {
		while (d->buckets[b]) {
			struct mon *m = d->buckets[b];
			d->buckets[b] = m->hnext;
			for (size_t i = 0; i < sizeof(m->last_strs) / sizeof(m->last_strs[0]); i++)
				free(m->last_strs[i]);
			free(m);
		}
	}
	struct event *evs[] = {d->ev_hup,   d->ev_term,      d->ev_int,
	                       d->ev_flush, d->ev_retention, d->ev_stop};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (d->env.base)
		probe_env_free(&d->env);
	conf_unref(d->conf);
	d->conf = NULL;
	return code;
}

struct daemon *daemon_idle_new(struct event_base *base, struct conf *conf, double time_scale,
                               char *err, size_t errlen)
{
	struct daemon *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errlen, "out of memory");
		conf_unref(conf);
		return NULL;
	}
	d->conf = conf;
	d->conf_path = "(in-process)";
	d->scale = time_scale > 0 ? time_scale : 1.0;
	if (store_open(&d->store, conf->store_path, err, errlen) != 0 ||
	    probe_env_init(&d->env, base, err, errlen) != 0)
		goto fail;
	d->base = base;
	d->notify = notify_new(base, on_attempt, d);
	d->sched = sched_new(&d->env, conf->max_in_flight, d->scale, on_result, d);
	if (!d->notify || !d->sched) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < conf->nchecks; i++)
		if (!mon_add(d, &conf->checks[i])) {
			snprintf(err, errlen, "out of memory adding check %s",
			         conf->checks[i].name);
			goto fail;
		}
	d->started_ms = wall_ms();
	return d;
fail:
	daemon_idle_free(d);
	return NULL;
}

void daemon_idle_free(struct daemon *d)
{
	if (!d)
		return;
	(void)daemon_teardown(d, 0);
	free(d);
}

static void usage(FILE *f)
{
	fputs("Usage: mailpulse run [-c FILE] [--log-format text|json] [-v]\n"
	      "\n"
	      "Run the monitoring daemon: probe every configured check on its interval,\n"
	      "keep history in the store, track up/degraded/down with confirmation, open\n"
	      "and close incidents, and send notifications.\n"
	      "\n"
	      "  -c, --config FILE      configuration (default " DEFAULT_CONF ")\n"
	      "      --log-format FMT   text (default; level prefixes under systemd) or json\n"
	      "  -v, --verbose          also log every probe result\n"
	      "  -h, --help             show this help\n"
	      "\n"
	      "Signals: SIGHUP reloads the configuration (a bad file is refused and the\n"
	      "running one stays); SIGTERM and SIGINT stop after writing everything queued\n"
	      "(the last line says how many rows were written and lost; exit 1 if any were).\n"
	      "One daemon per store: a second one on the same store refuses to start.\n"
	      "Environment: MAILPULSE_TIME_SCALE=F (0 < F <= 1) runs the scheduler F times\n"
	      "faster, for tests and labs only.\n"
	      "See mailpulse(1) and mailpulse.conf(5).\n",
	      f);
}

/*
 * Probes, the store, notifications and HTTP connections all take
 * descriptors, and the usual soft limit is 1024: raise it to the hard
 * limit once, at start, and say what we have (http.c sizes its caps by it).
 */
static void raise_nofile(void)
{
	struct rlimit rl;
	unsigned long long was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_msg(LOG_WARNING, "open files limit unknown: %s", strerror(errno));
		return;
	}
	was = (unsigned long long)rl.rlim_cur;
	if (rl.rlim_cur == rl.rlim_max) {
		log_msg(LOG_NOTICE, "open files: up to %llu (the hard limit)", was);
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_msg(LOG_WARNING,
		        "open files: up to %llu; raising it to the hard limit failed: %s", was,
		        strerror(errno));
		return;
	}
	log_msg(LOG_NOTICE, "open files: up to %llu (raised from %llu to the hard limit)",
	        (unsigned long long)rl.rlim_cur, was);
}

int daemon_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"log-format", required_argument, NULL, 'L'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon d;
	enum log_format lf = LOG_TEXT;
	int verbose = 0, ch, code = 1;
	char err[256];

	memset(&d, 0, sizeof(d));
	d.conf_path = DEFAULT_CONF;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.conf_path = optarg;
			break;
		case 'L':
			if (strcmp(optarg, "json") == 0)
				lf = LOG_JSON;
			else if (strcmp(optarg, "text") == 0)
				lf = LOG_TEXT;
			else {
				fprintf(
				    stderr,
				    "mailpulse run: --log-format: '%.32s' is not text or json\n",
				    optarg);
				return 3;
			}
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 3;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mailpulse run: unexpected argument '%.64s'\n", argv[optind]);
		return 3;
	}
	log_init(lf, verbose);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	d.scale = 1.0;
	const char *ts = getenv("MAILPULSE_TIME_SCALE");
	if (ts && *ts) {
		char *end;
		double v = strtod(ts, &end);
		if (*end || !(v > 0 && v <= 1)) {
			log_msg(LOG_ERR, "MAILPULSE_TIME_SCALE=%.32s: expected 0 < F <= 1", ts);
			return 3;
		}
		d.scale = v;
		log_msg(LOG_WARNING,
		        "MAILPULSE_TIME_SCALE=%g: schedule runs %g times faster (tests only)", v,
		        1 / v);
	}

	d.conf = load_conf(d.conf_path);
	if (!d.conf)
		return 1;
	if (store_open(&d.store, d.conf->store_path, err, sizeof(err)) != 0) {
		/* It names the store ("store PATH: ..."), or the daemon that has it. */
		log_msg(LOG_ERR, "%s", err);
		conf_unref(d.conf);
		return 1;
	}
	d.base = event_base_new();
	if (!d.base || probe_env_init(&d.env, d.base, err, sizeof(err)) != 0) {
		log_msg(LOG_ERR, "%s", d.base ? err : "cannot create the event loop");
		goto out;
	}
	event_set_log_callback(libevent_log); /* after probe_env_init(), which sets its own */
	d.notify = notify_new(d.base, on_attempt, &d);
	d.sched = sched_new(&d.env, d.conf->max_in_flight, d.scale, on_result, &d);
	if (!d.notify || !d.sched) {
		log_msg(LOG_ERR, "out of memory");
		goto out;
	}
	for (int i = 0; i < d.conf->nchecks; i++)
		if (!mon_add(&d, &d.conf->checks[i])) {
			log_msg(LOG_ERR, "out of memory adding check %s", d.conf->checks[i].name);
			goto out;
		}
	if (store_load_states(d.store, restore_state, &d) != 0)
		log_msg(LOG_WARNING, "store: could not read the last states; starting as pending");
	if (store_each_check(d.store, sync_check, &d) != 0)
		log_msg(LOG_WARNING, "store: could not list its checks: %s", store_errmsg(d.store));

	d.ev_hup = evsignal_new(d.base, SIGHUP, on_signal, &d);
	d.ev_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
	d.ev_int = evsignal_new(d.base, SIGINT, on_signal, &d);
	d.ev_flush = event_new(d.base, -1, EV_PERSIST, on_flush, &d);
	d.ev_retention = event_new(d.base, -1, EV_PERSIST, on_retention, &d);
	struct timeval one_s = {1, 0}, hourly = {RETENTION_EVERY_S, 0};
	if (!d.ev_hup || !d.ev_term || !d.ev_int || !d.ev_flush || !d.ev_retention ||
	    event_add(d.ev_hup, NULL) || event_add(d.ev_term, NULL) || event_add(d.ev_int, NULL) ||
	    event_add(d.ev_flush, &one_s) || event_add(d.ev_retention, &hourly)) {
		log_msg(LOG_ERR, "cannot set up signals and timers");
		goto out;
	}
	event_active(d.ev_retention, 0, 0); /* once at start, then hourly */
	d.started_ms = wall_ms();
	if (d.conf->listen && strcmp(d.conf->listen, "off") != 0) {
		d.http = http_start(d.base, &d, d.conf, err, sizeof(err));
		if (!d.http) {
			log_msg(LOG_ERR, "%s", err);
			goto out;
		}
	}

	log_msg(LOG_NOTICE, "mailpulse %s running: %d checks, %d channels, store %s, location %s",
	        MAILPULSE_VERSION, d.nmons, d.conf->nchannels, d.conf->store_path,
	        d.conf->location);
	sd_notify_msg("READY=1");
	event_base_dispatch(d.base);
	code = 0;

out:
	code = daemon_teardown(&d, code);
	if (d.base)
		event_base_free(d.base);
	return code;
}
