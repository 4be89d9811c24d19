/* SPDX-License-Identifier: ISC */
/*
 * monitor.c - the registry of checks: their state per location and as a
 * whole, the summary of their last result, the store's bookkeeping and the
 * alerts. monitor_ingest() is the one door for results; a node's come
 * through monitor_ingest_remote(), which refuses, counts as late or
 * duplicate, or passes them on. The nodes themselves (their health, which
 * decides whether their locations count) live in nodes.c.
 *
 * Nothing on the result path blocks: the store queues rows and writes them
 * once a second (monitor_tick()), notifications are queued and delivered
 * by libcurl on the same loop.
 */
#include "monitor/monitor.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "conf/conf.h"
#include "core/result.h"
#include "core/log.h"
#include "engine/probe.h"
#include "monitor/nodes_int.h"
#include "monitor/sched.h"
#include "monitor/state.h"
#include "monitor/verdict.h"
#include "notify/notify.h"
#include "store/store.h"
#include "wire/result_json.h"

/* At stop, tries at writing what is queued, 200 ms apart (a writer may hold the file). */
#define STOP_FLUSH_TRIES 3
/* A store that keeps failing is reported once a minute (times MAILPULSE_TIME_SCALE). */
#define STORE_REPORT_EVERY_S 60
/* The message of a state written again into a new store file that has no history. */
#define CARRIED_OVER "state carried over into a new store file"
/*
 * The staleness sweep (monitor_tick()) looks at every check once in this
 * many ticks: a slice of the buckets each second, never all at once.
 */
#define SWEEP_TICKS 5
/* The locations of a check as alerts name them; longer is cut. */
#define LOCATIONS_TEXT_MAX 1024

/* ---- the checks ---------------------------------------------------------- */

static unsigned bucket_of(const char *name)
{
	unsigned h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	return h % MON_BUCKETS;
}

static struct mon *mon_find(struct monitor *mo, const char *name)
{
	for (struct mon *m = mo->buckets[bucket_of(name)]; m; m = m->hnext)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

int64_t mon_now(const struct monitor *mo)
{
	return mo->test_now_ms > 0 ? mo->test_now_ms : mp_wall_ms();
}

void monitor_test_now(struct monitor *mo, int64_t now_ms)
{
	mo->test_now_ms = now_ms;
}

int64_t mon_stale_ms(const struct monitor *mo, const struct conf_check *cc)
{
	/* Faster under test (scale < 1); a harness that stretches the schedule keeps the bound. */
	double f = mo->scale < 1.0 ? mo->scale : 1.0;

	return (int64_t)((double)cc->interval_ms * STALE_INTERVALS * f);
}

struct mon *mon_lookup(struct monitor *mo, const char *name)
{
	struct mon *m = mon_find(mo, name);

	return m && m->active ? m : NULL;
}

static void loc_release(struct mon_loc *l)
{
	free(l->last_message);
	l->last_message = NULL;
}

/* What a struct mon owns, and itself. */
static void mon_release(struct mon *m)
{
	for (size_t i = 0; i < sizeof(m->last_strs) / sizeof(m->last_strs[0]); i++)
		free(m->last_strs[i]);
	for (int i = 0; i < m->nlocs; i++)
		loc_release(&m->locs[i]);
	free(m->locs);
	free(m->linfo);
	free(m);
}

static void mon_free(struct monitor *mo, struct mon *m)
{
	struct mon **pp = &mo->buckets[bucket_of(m->name)];

	while (*pp && *pp != m)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = m->hnext;
	if (m->item)
		sched_remove(m->item);
	mo->nmons--;
	mo->nheld -= m->held;
	mon_release(m);
}

/*
 * Give the scheduler a copy of cc to probe: a new item (it NULL) or the
 * next probes of it. Returns the item; NULL when out of memory (it is
 * then left as it was).
 */
static struct sched_item *mon_schedule(struct monitor *mo, struct mon *m, struct sched_item *it,
                                       const struct conf_check *cc)
{
	struct check_spec *sp = checkspec_copy(&cc->chk, cc->name, cc->interval_ms, cc->retry_ms);

	if (!sp)
		return NULL;
	if (it)
		sched_update(it, sp);
	else
		it = sched_add(mo->sched, sp, m);
	checkspec_unref(sp);
	return it;
}

/* What location l is, under the configuration now. */
static void loc_resolve(struct monitor *mo, struct mon_loc *l)
{
	l->node = -1;
	if (strcmp(l->name, mo->conf->location) == 0) {
		l->kind = LOC_LOCAL;
	} else if ((l->node = nodes_index(mo, l->name)) >= 0) {
		l->kind = LOC_NODE;
	} else {
		l->kind = LOC_OTHER;
	}
}

static void loc_init(struct monitor *mo, struct mon_loc *l, const char *name)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	state_init(&l->st, mp_wall_ms());
	l->last_reason = MP_R_OK;
	l->last_ttg_us = -1;
	loc_resolve(mo, l);
}

/*
 * The locations of m after its check became cc: one for each location cc
 * names (conf.location when it names none), in its order, each keeping
 * the state it had; the ones it no longer names are let go, but for those
 * that came through monitor_ingest() alone (tests, tools), kept after the
 * named. Every location's kind is resolved again (node indexes move on a
 * reload). 0, or -1 when out of memory (m then keeps its locations).
 */
static int mon_sync_locs(struct monitor *mo, struct mon *m, const struct conf_check *cc)
{
	const char *local[1] = {mo->conf->location};
	const char *const *names = cc->nlocations > 0 ? (const char *const *)cc->locations : local;
	int nnames = cc->nlocations > 0 ? cc->nlocations : 1, n = 0;
	struct mon_loc *nl = calloc((size_t)(nnames + m->nlocs), sizeof(*nl));

	if (!nl)
		return -1;
	for (int i = 0; i < nnames; i++) {
		int j = 0;

		while (j < m->nlocs && strcmp(m->locs[j].name, names[i]) != 0)
			j++;
		if (j < m->nlocs) {
			nl[n] = m->locs[j];
			m->locs[j].name[0] = '\0'; /* moved */
		} else {
			loc_init(mo, &nl[n], names[i]);
		}
		nl[n].named = 1;
		n++;
	}
	for (int j = 0; j < m->nlocs; j++) {
		struct mon_loc *l = &m->locs[j];

		if (!l->name[0])
			continue;
		/* Named once, and no longer: a node taken off this check, a location renamed. */
		if (l->named || nodes_index(mo, l->name) >= 0) {
			loc_release(l);
			continue;
		}
		nl[n] = *l;
		nl[n].named = 0;
		n++;
	}
	for (int i = 0; i < n; i++)
		loc_resolve(mo, &nl[i]);
	free(m->locs);
	m->locs = nl;
	m->nlocs = n;
	return 0;
}

static struct mon *mon_add(struct monitor *mo, const struct conf_check *cc)
{
	struct mon *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->mo = mo;
	snprintf(m->name, sizeof(m->name), "%s", cc->name);
	state_init(&m->st, mp_wall_ms());
	m->told = MP_UP;
	m->cc = cc;
	m->verdict.status = VERDICT_PENDING;
	m->verdict.level = -1;
	if (mon_sync_locs(mo, m, cc) != 0) {
		mon_release(m);
		return NULL;
	}
	/* Scheduled here only when this daemon's location probes it, and it is active. */
	if (mo->sched && conf_check_at(mo->conf, cc, mo->conf->location) &&
	    !(m->item = mon_schedule(mo, m, NULL, cc))) {
		mon_release(m);
		return NULL;
	}
	m->active = 1;
	unsigned b = bucket_of(m->name);
	m->hnext = mo->buckets[b];
	mo->buckets[b] = m;
	mo->nmons++;
	return m;
}

/* The state of m at location, created (pending) at its first result; NULL when out of memory. */
static struct mon_loc *mon_loc(struct mon *m, const char *location)
{
	struct mon_loc *l;

	for (int i = 0; i < m->nlocs; i++)
		if (strcmp(m->locs[i].name, location) == 0)
			return &m->locs[i];
	l = realloc(m->locs, (size_t)(m->nlocs + 1) * sizeof(*l));
	if (!l)
		return NULL;
	m->locs = l;
	l = &m->locs[m->nlocs++];
	loc_init(m->mo, l, location);
	return l;
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

/* The key that pairs trigger and resolve at PagerDuty (dedup_key) for the alert at key_ms. */
static void alert_key(const struct mon *m, int64_t key_ms, char *buf, size_t len)
{
	snprintf(buf, len, "mailpulse/%s/%lld", m->name, (long long)key_ms);
}

/* The same PagerDuty service: a channel renamed or given another key is another one. */
static int pd_same(const struct conf_channel *a, const struct conf_channel *b)
{
	return a->type == CH_PAGERDUTY && b->type == CH_PAGERDUTY &&
	       strcmp(a->name, b->name) == 0 &&
	       strcmp(a->url ? a->url : "", b->url ? b->url : "") == 0 &&
	       strcmp(a->routing_key ? a->routing_key : "", b->routing_key ? b->routing_key : "") ==
	           0;
}

/* 1 when cc in conf resolves an alert routed by reason at ch: the route a recovery takes. */
static int pd_reaches(const struct conf *conf, const struct conf_check *cc, enum mp_reason reason,
                      const struct conf_channel *ch)
{
	for (int i = 0; cc && i < cc->nroutes; i++) {
		const struct conf_route *rt = &cc->routes[i];
		if (rt->recovery && route_matches(rt, reason) &&
		    pd_same(&conf->channels[rt->channel], ch))
			return 1;
	}
	return 0;
}

/* Queue the resolve of the key of the alert at key_ms of check name at ch. */
static void resolve_at(struct monitor *mo, const char *name, const char *target,
                       const struct conf *conf, const struct conf_channel *ch, int64_t key_ms,
                       enum mp_reason reason, enum mp_status status, enum mp_severity sev,
                       const char *why, int64_t now_ms)
{
	char key[128];

	snprintf(key, sizeof(key), "mailpulse/%s/%lld", name, (long long)key_ms);
	struct notify_event ev = {
	    .kind = NOTIFY_RECOVERY,
	    .check = name,
	    .target = target,
	    .location = conf->location,
	    .status = status,
	    .severity = sev,
	    .prev = status,
	    .reason = reason,
	    .message = why,
	    .greeting = "",
	    .since_ms = key_ms,
	    .now_ms = now_ms,
	    .duration_ms = now_ms - key_ms,
	    .dashboard_url = conf->dashboard_url,
	    .incident_key = key,
	};
	if (mon_notify_send(mo, ch, &ev) != 0)
		log_msg(LOG_ERR, "check %s: cannot queue a notification to %s (queue full)", name,
		        ch->name);
	else
		log_msg(LOG_INFO, "check %s: PagerDuty alert %s resolved at %s: %s", name, key,
		        ch->name, why);
}

/*
 * Resolve the alert at key_ms (routed by reason) at the PagerDuty channels
 * of cc in conf, and only there: a superseded or orphaned incident must be
 * closed where it stays open, while people on the other channels need no
 * message. why says what ended it. Returns the resolves queued.
 */
static int resolve_key(struct monitor *mo, struct mon *m, const struct conf *conf,
                       const struct conf_check *cc, int64_t key_ms, enum mp_reason reason,
                       const char *why, int64_t now_ms)
{
	int sent = 0;

	for (int i = 0; i < cc->nroutes; i++) {
		const struct conf_route *rt = &cc->routes[i];
		const struct conf_channel *ch = &conf->channels[rt->channel];
		if (ch->type != CH_PAGERDUTY || !rt->recovery || !route_matches(rt, reason))
			continue;
		resolve_at(mo, m->name, cc->chk.target.url, conf, ch, key_ms, reason, m->st.status,
		           m->st.severity, why, now_ms);
		sent++;
	}
	return sent;
}

static void store_or_flush(struct monitor *mo, int rc, const char *check);

/* The open alert's keys as the store keeps them, for a restart (resume_told()). */
static void keys_save(struct monitor *mo, struct mon *m)
{
	store_or_flush(
	    mo,
	    store_set_alert(mo->store, m->name, m->key_ms, m->key_reason, m->sup_ms, m->sup_reason),
	    m->name);
}

/* 1 when a route of cc sends an alert of reason to PagerDuty. */
static int pd_routed(const struct conf *conf, const struct conf_check *cc, enum mp_reason reason)
{
	for (int i = 0; i < cc->nroutes; i++)
		if (conf->channels[cc->routes[i].channel].type == CH_PAGERDUTY &&
		    route_matches(&cc->routes[i], reason))
			return 1;
	return 0;
}

/* ---- locations -------------------------------------------------------- */

int mon_loc_healthy(const struct monitor *mo, const struct mon_loc *l)
{
	if (l->kind != LOC_NODE)
		return 1;
	return l->node >= 0 && l->node < mo->nnodes && mo->nodes[l->node].state == MON_NODE_OK;
}

int mon_loc_level(const struct mon_loc *l)
{
	return l->last_ms > 0 ? state_level(&l->st) : -1;
}

int mon_loc_counts(const struct monitor *mo, const struct mon *m, const struct mon_loc *l,
                   int64_t now)
{
	return mon_loc_healthy(mo, l) && mon_loc_level(l) >= 0 &&
	       now - l->last_ms <= mon_stale_ms(mo, m->cc);
}

/* Why location l does not count now, in a few words for people. */
static const char *loc_uncounted(const struct monitor *mo, const struct mon_loc *l)
{
	if (!mon_loc_healthy(mo, l) && l->node >= 0 && l->node < mo->nnodes) {
		switch (mo->nodes[l->node].state) {
		case MON_NODE_LOST:
			return "node lost";
		case MON_NODE_IMPAIRED:
			return "node impaired";
		case MON_NODE_PENDING:
		case MON_NODE_OK:
		default:
			return "node not heard from";
		}
	}
	return mon_loc_level(l) < 0 ? "no result yet" : "no recent result";
}

/* Appends to a bounded buffer: what does not fit is cut, never overrun. */
struct sbuf {
	char *p;
	size_t len, off;
};

static void __attribute__((format(printf, 2, 3))) sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (b->off >= b->len)
		return;
	va_start(ap, fmt);
	w = vsnprintf(b->p + b->off, b->len - b->off, fmt, ap);
	va_end(ap);
	b->off = w < 0 ? b->len : b->off + (size_t)w;
}

/*
 * How the locations of m stand, for an alert and the log: "down from
 * eu-west (timeout) and us-east (refused); up from ap-south; not counted:
 * fra1 (node lost)", the locations it names in four groups (down,
 * degraded, up, not counted) in the order of the configuration; into buf,
 * cut to len. When nl is not NULL, it gets one entry per named location
 * (room for CONF_LOCATIONS_MAX); its strings point into m. Returns the
 * entries.
 */
static int locations_describe(const struct monitor *mo, const struct mon *m, int64_t now, char *buf,
                              size_t len, struct notify_loc *nl)
{
	static const char *const heads[] = {"down from ", "degraded from ", "up from ",
	                                    "not counted: "};
	struct sbuf b = {buf, len, 0};
	int n = 0;

	if (len)
		buf[0] = '\0';
	for (int g = 0; g < 4; g++) {
		int total = 0, k = 0;

		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < m->nlocs; i++) {
				const struct mon_loc *l = &m->locs[i];
				int lv = mon_loc_level(l), counts = mon_loc_counts(mo, m, l, now);
				int grp = !counts ? 3 : lv == 3 ? 0 : lv > 0 ? 1 : 2;

				if (!l->named || grp != g)
					continue;
				if (pass == 0) {
					total++;
					continue;
				}
				if (k == 0)
					sb_add(&b, "%s%s", b.off ? "; " : "", heads[g]);
				else
					sb_add(&b, "%s", k == total - 1 ? " and " : ", ");
				k++;
				if (g == 0 || g == 1)
					sb_add(&b, "%s (%s)", l->name,
					       result_reason_name(l->st.reason));
				else if (g == 2)
					sb_add(&b, "%s", l->name);
				else
					sb_add(&b, "%s (%s)", l->name, loc_uncounted(mo, l));
			}
	}
	for (int i = 0; nl && i < m->nlocs && n < CONF_LOCATIONS_MAX; i++) {
		const struct mon_loc *l = &m->locs[i];

		if (!l->named)
			continue;
		nl[n].location = l->name;
		nl[n].state = l->last_ms > 0 ? state_name(&l->st) : "pending";
		nl[n].reason = l->last_ms > 0 ? l->st.reason : MP_R_OK;
		nl[n].message = l->last_message ? l->last_message : "";
		nl[n].counts = mon_loc_counts(mo, m, l, now);
		n++;
	}
	return n;
}

/*
 * Tell the routes of m what changed. The alert episode at the receivers:
 * each down or degraded notification opens an alert whose key is the
 * start of the state it tells (key_ms); a recovery resolves it. When a
 * worse state follows (warning -> critical -> down) before any recovery,
 * the new state gets its own key and the open one is resolved at
 * PagerDuty, which is the receiver that keeps alerts open, once the new
 * trigger is delivered there (sup_ms, on_attempt()). Keeping the one
 * key instead would have PagerDuty fold the new trigger into the open
 * alert at the open alert's severity: a down would stay the low-urgency
 * warning it followed, a page not sent. So at most one alert of a check
 * is open at any time, but for the moment a worse one takes to arrive;
 * its key is the start of the state last told, which the store keeps
 * (store_set_alert()): a restart finds it again (resume_told()), also
 * after a critical state eased to warning, which tells nobody.
 *
 * Down -> degraded is a recovery (state.c): it resolves the down alert,
 * and then the degraded state is told as one of its own (a new key), so
 * the people it concerns are not left with nothing open while it lasts.
 */
static void alert(struct monitor *mo, struct mon *m, const struct conf_check *cc,
                  enum notify_kind kind, enum mp_status prev, const struct result *r,
                  int64_t now_ms, int64_t duration_ms)
{
	struct conf *conf = mo->conf;
	char key[128];
	int64_t key_ms = m->key_ms;

	if (conf_in_maintenance(conf, cc, now_ms / 1000)) {
		log_msg(LOG_NOTICE, "check %s: %s notification suppressed (maintenance window)",
		        m->name, notify_kind_name(kind));
		/* What is still true when the window ends is told then: maint_catch_up(). */
		if (kind != NOTIFY_TEST && !m->held) {
			m->held = 1;
			mo->nheld++;
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
	if (kind == NOTIFY_DOWN || kind == NOTIFY_DEGRADED) {
		const char *why = kind == NOTIFY_DOWN ? "superseded: the check is down"
		                                      : "superseded: the check is critical";
		if (m->key_ms && m->key_ms != m->st.since_ms) {
			/* One step older still waiting: the one it waits for is superseded too. */
			if (m->sup_ms)
				resolve_key(mo, m, conf, cc, m->sup_ms, m->sup_reason, why, now_ms);
			m->sup_ms = 0;
			/* No PagerDuty route takes the new alert: nothing will replace the old. */
			if (pd_routed(conf, cc, r->reason)) {
				m->sup_ms = m->key_ms;
				m->sup_reason = m->key_reason;
			} else {
				resolve_key(mo, m, conf, cc, m->key_ms, m->key_reason, why, now_ms);
			}
		}
		key_ms = m->key_ms = m->st.since_ms;
		m->key_reason = r->reason;
		keys_save(mo, m);
	} else if (kind == NOTIFY_RECOVERY) {
		/* A superseded alert whose successor never arrived is still open. */
		if (m->sup_ms)
			resolve_key(mo, m, conf, cc, m->sup_ms, m->sup_reason, "recovered", now_ms);
		m->sup_ms = 0;
		m->key_ms = 0;
		keys_save(mo, m);
	}
	if (kind != NOTIFY_REMINDER && kind != NOTIFY_TEST) {
		m->told = m->st.pending || m->st.status == MP_UNKNOWN ? MP_UP : m->st.status;
		m->told_sev = m->told == MP_UP ? MP_SEV_OK : m->st.severity;
	}
	/* A recovery when no alert is open (down -> degraded -> up): the state it ends. */
	alert_key(m, key_ms ? key_ms : m->st.since_ms, key, sizeof(key));

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
	    .result_json = m->has_last && m->last.wire && *m->last.wire ? m->last.wire : NULL,
	};
	/* Seen from several places: alerts say from where, and what each saw. */
	char locations[LOCATIONS_TEXT_MAX];
	struct notify_loc nl[CONF_LOCATIONS_MAX];
	if (cc->nlocations > 1) {
		ev.nlocs = locations_describe(mo, m, now_ms, locations, sizeof(locations), nl);
		ev.locations = locations;
		ev.locs = nl;
	}
	for (int i = 0; i < cc->nroutes; i++) {
		const struct conf_route *rt = &cc->routes[i];
		if (kind == NOTIFY_RECOVERY) {
			if (!rt->recovery || !route_matches(rt, m->alert_reason))
				continue;
		} else if (!route_matches(rt, r->reason)) {
			continue;
		}
		const struct conf_channel *ch = &conf->channels[rt->channel];
		if (mon_notify_send(mo, ch, &ev) != 0)
			log_msg(LOG_ERR, "check %s: cannot queue a notification to %s (queue full)",
			        m->name, ch->name);
	}
	if (kind == NOTIFY_RECOVERY && m->st.status == MP_DEGRADED && prev == MP_DOWN) {
		m->alert_reason = r->reason;
		alert(mo, m, cc, NOTIFY_DEGRADED, prev, r, now_ms, 0);
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
static void maint_catch_up(struct monitor *mo, struct mon *m, int64_t now)
{
	const struct conf_check *cc;
	enum mp_status st = m->st.status;
	enum notify_kind kind;
	struct result *r;

	if (!m->held || !m->active)
		return;
	cc = m->cc;
	if (conf_in_maintenance(mo->conf, cc, now / 1000))
		return;
	m->held = 0;
	mo->nheld--;
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
	if (m->taken_over)
		log_msg(LOG_NOTICE,
		        "check %s: taken over, %s since %lld: %s notification sent now to every "
		        "channel the controller before did not (the store's claims say which)",
		        m->name, state_status_name(st), (long long)m->st.since_ms,
		        notify_kind_name(kind));
	else
		log_msg(LOG_NOTICE,
		        "check %s: maintenance over, %s since %lld: %s notification sent now",
		        m->name, state_status_name(st), (long long)m->st.since_ms,
		        notify_kind_name(kind));
	m->taken_over = 0;
	if (kind == NOTIFY_RECOVERY) {
		alert(mo, m, cc, kind, m->told, r, now, m->held_duration_ms);
	} else {
		m->alert_reason = r->reason;
		alert(mo, m, cc, kind, m->told, r, now, now - m->st.since_ms);
		state_reminded(&m->st, now);
	}
	free(r);
}

static void maint_tick(struct monitor *mo)
{
	int64_t now = mp_wall_ms();

	for (int b = 0; mo->nheld > 0 && b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext)
			maint_catch_up(mo, m, now);
}

static void store_dropped(struct monitor *mo, const char *check);

/*
 * A trigger of check reached PagerDuty channel: the alert it superseded
 * (alert()) can be resolved now. Matched by check and event, not by key:
 * the one trigger in flight is, but for a race with a retry of the old
 * one, the new one.
 */
static void sup_delivered(struct monitor *mo, const char *check, const char *channel)
{
	struct mon *m = mon_find(mo, check);
	int c;

	if (!m || !m->sup_ms || !m->active)
		return;
	c = conf_find_channel(mo->conf, channel);
	if (c < 0 || mo->conf->channels[c].type != CH_PAGERDUTY)
		return;
	resolve_key(mo, m, mo->conf, m->cc, m->sup_ms, m->sup_reason,
	            "superseded by a worse alert, delivered", mp_wall_ms());
	m->sup_ms = 0;
	keys_save(mo, m);
}

static void on_attempt(const char *check, const char *channel, const char *event, int attempt,
                       int ok, const char *detail, void *arg)
{
	struct monitor *mo = arg;

	mo->notify_attempts++;
	mo->notify_failures += !ok;
	/*
	 * A node's alert: logged, not stored (the store keeps deliveries by
	 * check, and a node is none: a row would make one up).
	 */
	if (strncmp(event, "node_", 5) == 0) {
		if (ok)
			log_msg(LOG_INFO, "notify %s: %s for node %s delivered (attempt %d)",
			        channel, event, check, attempt);
		else
			log_msg(LOG_WARNING, "notify %s: %s for node %s failed (attempt %d): %s",
			        channel, event, check, attempt, detail ? detail : "");
		return;
	}
	if (ok)
		log_msg(LOG_INFO, "notify %s: %s for %s delivered (attempt %d)", channel, event,
		        check, attempt);
	else
		log_msg(LOG_WARNING, "notify %s: %s for %s failed (attempt %d): %s", channel, event,
		        check, attempt, detail ? detail : "");
	if (mo->store && store_add_delivery(mo->store, check, channel, event, attempt, ok, detail,
	                                    mp_wall_ms()) != 0)
		store_dropped(mo, check);
	if (ok && check && (strcmp(event, "down") == 0 || strcmp(event, "degraded") == 0))
		sup_delivered(mo, check, channel);
}

/* ---- results -------------------------------------------------------------- */

static int64_t store_report_every_us(const struct monitor *mo)
{
	double us = STORE_REPORT_EVERY_S * 1e6 * mo->scale;

	return us < 1e6 ? 1000000 : (int64_t)us;
}

/*
 * A tick could not write to the store, for the reason msg (SQLite's own
 * words, from store_errmsg()). Rows stay queued and the next tick tries
 * again, so a broken store would log a line a second: the first failure
 * of a run is logged at once, then one summary per period with a count.
 */
static void waiters_run(struct monitor *mo, uint64_t gen);

static void store_trouble(struct monitor *mo, const char *msg)
{
	int64_t now = mp_now_us();
	char dropped[96] = "";

	/* Those waiting for rows to be stored are answered: waiting would not store them. */
	waiters_run(mo, UINT64_MAX);
	mo->flush_failures++;
	snprintf(mo->store_error, sizeof(mo->store_error), "%s", msg);
	if (mo->store_fail_run++ == 0) {
		mo->store_fail_first_us = mo->store_fail_logged_us = now;
		log_msg(LOG_ERR,
		        "store: writing failed: %s; %d rows stay queued (at most %d), retried "
		        "every second",
		        msg, store_queued(mo->store), STORE_QUEUE_MAX);
		return;
	}
	if (now - mo->store_fail_logged_us < store_report_every_us(mo))
		return;
	mo->store_fail_logged_us = now;
	if (mo->store_dropped_run)
		snprintf(dropped, sizeof(dropped), ", %llu rows lost to a full queue",
		         (unsigned long long)mo->store_dropped_run);
	log_msg(LOG_ERR,
	        "store: writing still failing after %lld s, %llu failed flushes in all, %d rows "
	        "queued%s: %s",
	        (long long)((now - mo->store_fail_first_us) / 1000000),
	        (unsigned long long)mo->store_fail_run, store_queued(mo->store), dropped, msg);
}

/* A flush wrote n rows: the end of a run of failures, if there was one. */
static void store_works(struct monitor *mo, int n)
{
	if (mo->store_fail_run > 0) {
		char dropped[96] = "";

		if (mo->store_dropped_run)
			snprintf(dropped, sizeof(dropped), "; %llu rows were lost to a full queue",
			         (unsigned long long)mo->store_dropped_run);
		int64_t secs = (mp_now_us() - mo->store_fail_first_us) / 1000000;

		log_msg(LOG_NOTICE,
		        "store: writing works again after %llu failed flushes over %lld s; %d "
		        "queued rows written%s",
		        (unsigned long long)mo->store_fail_run, (long long)secs, n, dropped);
	}
	mo->store_fail_run = 0;
	mo->store_dropped_run = 0;
	mo->store_error[0] = '\0';
}

static int store_watch(struct monitor *mo);

static int store_flush_now(struct monitor *mo);

/* Those waiting for flushes up to number gen: told, in the order they came. */
static void waiters_run(struct monitor *mo, uint64_t gen)
{
	int k = 0, n = mo->nwaiters;

	/* By index: a waiter told may add one (the array may move); those stay, after. */
	for (int i = 0; i < n; i++) {
		struct mon_waiter w = mo->waiters[i];

		if (w.gen <= gen)
			w.fn(w.arg);
		else
			mo->waiters[k++] = w;
	}
	for (int i = n; i < mo->nwaiters; i++)
		mo->waiters[k++] = mo->waiters[i];
	mo->nwaiters = k;
}

/*
 * A flush ended (rc rows written, or -1): reported as the tick reports,
 * and those waiting for it told. A failed flush tells them too: their
 * rows stay queued, and an answer held back would not make them safer.
 */
static void flushed(int rc, void *arg)
{
	struct monitor *mo = arg;

	mo->flush_last_ms = (double)(mp_now_us() - mo->flush_t0_us) / 1000.0;
	if (mo->flush_last_ms > mo->flush_max_ms)
		mo->flush_max_ms = mo->flush_last_ms;
	mo->flush_ended = mo->flush_started;
	if (rc < 0)
		store_trouble(mo, store_errmsg(mo->store));
	else
		store_works(mo, rc);
	waiters_run(mo, rc < 0 ? UINT64_MAX : mo->flush_ended);
	/* Rows that came during this flush and someone waits for: at once, not at the tick. */
	if (mo->nwaiters > 0 && !store_flushing(mo->store) && store_queued(mo->store) > 0)
		store_flush_now(mo);
}

/*
 * Write what is queued now, from the loop (SQLite: at once); the outcome is
 * reported by flushed(). 0 when begun or done; -1 when one is in flight
 * already (what is queued goes with the next).
 */
static int store_flush_now(struct monitor *mo)
{
	if (store_flushing(mo->store))
		return -1;
	mo->flush_t0_us = mp_now_us();
	mo->flush_started++;
	if (store_flush_start(mo->store, flushed, mo) < 0) {
		mo->flush_started--;
		return -1;
	}
	return 0;
}

void monitor_store_now(struct monitor *mo)
{
	/* A failing store is retried by the tick: each try may block 2 s. */
	if (mo->store_fail_run == 0 && store_queued(mo->store) > 0 && store_watch(mo) == 0)
		store_flush_now(mo);
}

void monitor_store_then(struct monitor *mo, void (*fn)(void *arg), void *arg)
{
	int queued = store_queued(mo->store);

	if (queued > mo->store_queued_high)
		mo->store_queued_high = queued;
	if (mo->store_fail_run > 0 || queued == 0) {
		fn(arg);
		return;
	}
	if (mo->nwaiters == mo->waiters_cap) {
		int cap = mo->waiters_cap ? mo->waiters_cap * 2 : 16;
		struct mon_waiter *v = realloc(mo->waiters, (size_t)cap * sizeof(*v));

		if (!v) {
			fn(arg);
			return;
		}
		mo->waiters = v;
		mo->waiters_cap = cap;
	}
	/* Rows queued now are in the next flush when one is in flight, else in the one begun here.
	 */
	mo->waiters[mo->nwaiters++] = (struct mon_waiter){mo->flush_started + 1, fn, arg};
	monitor_store_now(mo);
}

/* The queue is full: write now, unless writing fails already (each try may block 2 s). */
static void store_make_room(struct monitor *mo)
{
	if (mo->store_fail_run == 0)
		store_flush_now(mo);
}

/* A row the queue refused is lost: counted, reported with the store's trouble. */
static void store_dropped(struct monitor *mo, const char *check)
{
	mo->store_dropped++;
	if (mo->store_dropped_run++ == 0)
		log_msg(LOG_ERR,
		        "store: queue full (%d rows): a row of check %s is lost, and every further "
		        "one until writing works again (counted in the store's reports)",
		        store_queued(mo->store), check ? check : "-");
}

/* After store_add_*() returned rc: a refused row is lost, and room is made for the next. */
static void store_or_flush(struct monitor *mo, int rc, const char *check)
{
	if (rc == 0)
		return;
	store_dropped(mo, check);
	store_make_room(mo);
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

/* Take ownership of s (NULL: out of memory, keep what was there) into *slot. */
static const char *own_str(char **slot, char *s)
{
	if (!s)
		return *slot ? *slot : "";
	free(*slot);
	*slot = s;
	return s;
}

/* The "tls" object of an encoded result, as compact text; NULL when none or out of memory. */
static char *wire_tls(const char *wire)
{
	json_t *o = json_loads(wire, 0, NULL), *t = json_object_get(o, "tls");
	char *s = json_is_object(t) ? json_dumps(t, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;

	json_decref(o);
	return s;
}

/*
 * The last result that readers (API, metrics) see: the one encoder's text
 * of it with its meta (check, location, digest, seq), and the few numbers
 * /metrics reads on every scrape. ~1-2 KB per check with a result; none
 * for a check that has none.
 */
static void last_update(struct mon *m, const struct conf_check *cc, const char *location,
                        const struct result *r, int64_t now)
{
	struct mon_last *l = &m->last;
	const struct tls_facts *t = &r->tls;
	struct result_meta meta;
	struct result *stamped = NULL;

	m->has_last = 1;
	m->probes++;
	if ((unsigned)r->reason < MP_R__COUNT)
		m->by_reason[r->reason]++;
	/*
	 * Seeded from the probe's time in ms: strictly increasing per check
	 * (and so per check and location) within a run and across restarts
	 * without reading the store, as long as the wall clock does not step
	 * back across a restart. A run's seq stays within a few of its last
	 * probe's ms (one probe of a check at a time), so the next run's first
	 * probe, started later, is numbered above it.
	 */
	l->seq = now > 0 && (uint64_t)now > l->seq ? (uint64_t)now : l->seq + 1;
	l->ts_ms = now;
	l->status = r->status;
	l->severity = r->severity;
	l->reason = r->reason;
	memcpy(l->phase_us, r->phase_us, sizeof(l->phase_us));
	l->ttg_us = r->ttg_us;
	l->nwarnings = r->nwarnings < RESULT_WARN_MAX ? r->nwarnings : RESULT_WARN_MAX;
	l->message = keep_str(&m->last_strs[0], r->message);
	l->greeting = keep_str(&m->last_strs[1], r->greeting);

	memset(&meta, 0, sizeof(meta));
	snprintf(meta.target, sizeof(meta.target), "%s", cc->chk.target.url);
	snprintf(meta.check, sizeof(meta.check), "%s", m->name);
	snprintf(meta.location, sizeof(meta.location), "%s", location);
	snprintf(meta.digest, sizeof(meta.digest), "%s", cc->digest);
	meta.seq = l->seq;
	/* Stamped as ingested: a copy (~11 KB) only for a result the engine did not stamp. */
	if (r->probe_ms != now && (stamped = malloc(sizeof(*stamped)))) {
		memcpy(stamped, r, sizeof(*stamped));
		stamped->probe_ms = now;
	}
	char *wire = result_json_dumps(stamped ? stamped : r, &meta);
	free(stamped);
	/*
	 * A failure that got no certificate (refused, timed out) keeps the last
	 * one seen and when: an outage must not hide which certificate was
	 * served. An answer without TLS means the check no longer uses it.
	 */
	if ((t->used && t->chain_len) || l->tls_seen_ms == 0 || r->status == MP_UP ||
	    r->status == MP_DEGRADED) {
		free(m->last_strs[3]);
		m->last_strs[3] = NULL;
		l->tls_wire = NULL;
		l->tls_seen_ms = t->used ? now : 0;
		l->tls_used = t->used;
		snprintf(l->tls_version, sizeof(l->tls_version), "%s", t->used ? t->version : "");
		l->cert_not_after = t->used && t->chain_len ? t->chain[t->earliest].not_after : 0;
	} else if (!l->tls_wire && l->tls_used && l->wire) {
		/* The facts were the previous result's: keep its "tls" before wire is replaced. */
		l->tls_wire = own_str(&m->last_strs[3], wire_tls(l->wire));
	}
	if (!wire)
		log_msg(LOG_ERR, "check %s: out of memory encoding its last result", m->name);
	l->wire = wire ? own_str(&m->last_strs[2], wire) : keep_str(&m->last_strs[2], "");
}

/* Down or critical for reminder_ms since the last alert: say so again. */
static void check_reminder(struct monitor *mo, struct mon *m, const struct conf_check *cc,
                           const struct result *r, int64_t now)
{
	if (!state_reminder_due(&m->st, cc->reminder_ms, now))
		return;
	state_reminded(&m->st, now);
	alert(mo, m, cc, NOTIFY_REMINDER, m->st.status, r, now, now - m->st.since_ms);
}

/* The inputs of verdict() for m's locations, in v (room for m->nlocs). */
static void verdict_inputs(const struct monitor *mo, const struct mon *m, struct verdict_loc *v)
{
	for (int i = 0; i < m->nlocs; i++) {
		const struct mon_loc *l = &m->locs[i];
		/*
		 * Confirmed since the daemon started: a state resumed from the
		 * store stands for the check until results confirm it again.
		 */
		v[i].level = mon_loc_level(l);
		v[i].reason = l->st.reason;
		v[i].since_ms = l->st.since_ms;
		v[i].confirmed = l->last_confirmed;
		v[i].last_ms = l->last_ms;
		v[i].healthy = mon_loc_healthy(mo, l);
	}
}

static int verdict_odd(enum verdict_status s)
{
	return s == VERDICT_PARTIAL || s == VERDICT_UNKNOWN;
}

/*
 * Partial and unknown leave the check's state as it is, so nothing else
 * says them: logged here, once each time the verdict becomes or stops
 * being one of them. Unknown before any verdict (the locations reporting
 * in after a start) is not news.
 */
static void verdict_log(struct monitor *mo, struct mon *m, const struct verdict *was,
                        const struct verdict *v, unsigned quorum, int64_t now)
{
	char text[LOCATIONS_TEXT_MAX];

	if (!verdict_odd(was->status) && !verdict_odd(v->status))
		return;
	if (!m->verdict_seen && (was->status == VERDICT_UNKNOWN || v->status == VERDICT_UNKNOWN))
		return;
	locations_describe(mo, m, now, text, sizeof(text), NULL);
	if (v->status == VERDICT_PARTIAL)
		log_msg(LOG_WARNING,
		        "check %s: partial: %d of %d counted locations see it down, fewer than its "
		        "quorum of %u; stays %s: %s",
		        m->name, v->down, v->counted, quorum, state_name(&m->st), text);
	else if (v->status == VERDICT_UNKNOWN)
		log_msg(
		    LOG_WARNING,
		    "check %s: unknown: %d of its locations count, fewer than its quorum of %u; "
		    "stays %s: %s",
		    m->name, v->counted, quorum, state_name(&m->st), text);
	else
		log_msg(LOG_NOTICE, "check %s: verdict %s, no longer %s: %s", m->name,
		        verdict_status_name(v->status), verdict_status_name(was->status), text);
}

/*
 * Weigh m's locations at now: the verdict, kept for readers. Returns what
 * changed for the check: its state follows up, degraded and down; pending,
 * unknown and partial leave it as it was.
 */
static struct state_change check_verdict(struct monitor *mo, struct mon *m,
                                         const struct conf_check *cc, int64_t now)
{
	struct verdict_loc small[4] = {{0}}, *in = small;
	unsigned quorum = cc->quorum ? cc->quorum : 1;
	struct state_change ch;
	struct verdict v, was = m->verdict;

	memset(&ch, 0, sizeof(ch));
	ch.from = ch.to = m->st.status;
	ch.from_severity = ch.to_severity = m->st.severity;
	if (m->nlocs > (int)(sizeof(small) / sizeof(small[0])) &&
	    !(in = calloc((size_t)m->nlocs, sizeof(*in)))) {
		log_msg(LOG_ERR, "check %s: out of memory weighing its locations", m->name);
		return ch;
	}
	verdict_inputs(mo, m, in);
	v = verdict(in, m->nlocs, quorum, now, mon_stale_ms(mo, cc));
	if (in != small)
		free(in);
	m->verdict = v;
	if (v.status != was.status)
		verdict_log(mo, m, &was, &v, quorum, now);
	if (v.status != VERDICT_PENDING && v.status != VERDICT_UNKNOWN)
		m->verdict_seen = 1;
	if (v.status == VERDICT_UP || v.status == VERDICT_DEGRADED || v.status == VERDICT_DOWN)
		return state_move(&m->st, v.level, v.reason, v.since_ms, v.confirmed, now);
	return ch;
}

/* ---- partial notices (`notify_partial`) ---------------------------------- */

/*
 * The location a partial notice is about: of the counted locations that
 * confirm down, the first to go down (its reason routes the notice);
 * NULL when none does.
 */
static const struct mon_loc *partial_worst(const struct monitor *mo, const struct mon *m,
                                           int64_t at)
{
	const struct mon_loc *w = NULL;

	for (int i = 0; i < m->nlocs; i++) {
		const struct mon_loc *l = &m->locs[i];

		if (mon_loc_level(l) != 3 || !mon_loc_counts(mo, m, l, at))
			continue;
		if (!w || l->st.since_ms < w->st.since_ms)
			w = l;
	}
	return w;
}

/*
 * Tell m's routes that its verdict became partial (NOTIFY_PARTIAL) or that
 * the partial episode is over (NOTIFY_PARTIAL_END), with how each location
 * stands. Routed as a degraded alert would be, by partial_reason; an end
 * goes where the notice went, but for routes that take no recoveries.
 * Not an outage: m->told, the incident and the PagerDuty keys stay as
 * they are, and PagerDuty channels are skipped. Inside a maintenance
 * window the notice is dropped, not held: a partial episode is not told
 * after the window. Returns the notifications queued.
 */
static int partial_notify(struct monitor *mo, struct mon *m, const struct conf_check *cc,
                          enum notify_kind kind, const struct mon_loc *worst, int64_t now)
{
	struct conf *conf = mo->conf;
	char key[160], locations[LOCATIONS_TEXT_MAX];
	struct notify_loc nl[CONF_LOCATIONS_MAX];
	int sent = 0;

	if (conf_in_maintenance(conf, cc, now / 1000)) {
		log_msg(LOG_NOTICE,
		        "check %s: %s notification dropped (maintenance window): partial notices "
		        "are not held for the window's end",
		        m->name, notify_kind_name(kind));
		return 0;
	}
	/* Its own key: receivers pair a partial with its end; no outage's key moves. */
	snprintf(key, sizeof(key), "mailpulse/%s/partial/%lld", m->name, (long long)m->partial_ms);
	struct notify_event ev = {
	    .kind = kind,
	    .check = m->name,
	    .target = cc->chk.target.url,
	    .location = conf->location,
	    .status = m->st.status,
	    .severity = m->st.severity,
	    .prev = m->st.status, /* the check's state does not change */
	    .reason = m->partial_reason,
	    .confirmed = worst ? worst->last_confirmed : 0,
	    .message = worst && worst->last_message ? worst->last_message : "",
	    .greeting = "",
	    .since_ms = m->partial_ms,
	    .now_ms = now,
	    /* A node's clock may run ahead of ours: never a negative length. */
	    .duration_ms =
	        kind == NOTIFY_PARTIAL_END && now > m->partial_ms ? now - m->partial_ms : 0,
	    .dashboard_url = conf->dashboard_url,
	    .incident_key = key,
	    .result_json = m->has_last && m->last.wire && *m->last.wire ? m->last.wire : NULL,
	};
	ev.nlocs = locations_describe(mo, m, now, locations, sizeof(locations), nl);
	ev.locations = locations;
	ev.locs = nl;
	for (int i = 0; i < cc->nroutes; i++) {
		const struct conf_route *rt = &cc->routes[i];
		const struct conf_channel *ch = &conf->channels[rt->channel];

		if (!route_matches(rt, m->partial_reason) ||
		    (kind == NOTIFY_PARTIAL_END && !rt->recovery))
			continue;
		if (!notify_channel_takes(ch->type, kind)) {
			log_msg(LOG_DEBUG,
			        "check %s: %s not sent to %s: PagerDuty takes no partial notices",
			        m->name, notify_kind_name(kind), ch->name);
			continue;
		}
		if (mon_notify_send(mo, ch, &ev) != 0)
			log_msg(LOG_ERR, "check %s: cannot queue a notification to %s (queue full)",
			        m->name, ch->name);
		else
			sent++;
	}
	return sent;
}

/*
 * The partial episode of m after its verdict went from was to m->verdict
 * (at: the time it was taken at, now: the clock). An episode starts when
 * the verdict becomes partial while the check is not down: a down check
 * that loses one location's confirmation is the outage's business, as
 * before. It lasts through unknown and pending (too few locations to
 * say), ends when the verdict is up or degraded (told, when its start
 * was), and ends silently when it is down: the down alert says more. One
 * notice per episode at most, whatever the locations do within it.
 */
static void partial_follow(struct monitor *mo, struct mon *m, const struct conf_check *cc,
                           enum verdict_status was, int64_t at, int64_t now)
{
	enum verdict_status v = m->verdict.status;
	const struct mon_loc *worst;

	if (v == VERDICT_PARTIAL && was != VERDICT_PARTIAL && !m->partial_ms &&
	    m->st.status != MP_DOWN) {
		worst = partial_worst(mo, m, at);
		m->partial_ms = worst && worst->st.since_ms > 0 ? worst->st.since_ms : at;
		m->partial_reason = worst ? worst->st.reason : MP_R_OK;
		m->partial_told =
		    cc->notify_partial && partial_notify(mo, m, cc, NOTIFY_PARTIAL, worst, now) > 0;
		return;
	}
	if (!m->partial_ms || (v != VERDICT_UP && v != VERDICT_DEGRADED && v != VERDICT_DOWN))
		return;
	if (v == VERDICT_DOWN && m->partial_told)
		log_msg(LOG_NOTICE,
		        "check %s: partial since %lld is now down: no partial_end, the down alert "
		        "supersedes it",
		        m->name, (long long)m->partial_ms);
	else if (m->partial_told)
		partial_notify(mo, m, cc, NOTIFY_PARTIAL_END, NULL, now);
	m->partial_ms = 0;
	m->partial_told = 0;
}

/*
 * The check's state follows the verdict over its locations, with the
 * store's rows and the alerts: after a result of one of its locations (r,
 * whose words are told), or when a location's health or recency changed
 * (r NULL: the words are the locations' own). at_ms is the time the
 * verdict is taken at (the result's probe time, or now), now the clock.
 */
static void judge(struct monitor *mo, struct mon *m, const struct result *r, int64_t at_ms,
                  int64_t now)
{
	const struct conf_check *cc = m->cc;
	int64_t prev_since = m->st.since_ms;
	enum verdict_status was = m->verdict.status;
	struct state_change ch = check_verdict(mo, m, cc, at_ms);
	struct result *made = NULL;

	/* Partial leaves the state as it is; its notices are told apart from it. */
	partial_follow(mo, m, cc, was, at_ms, now);
	m->alert_confirmed = ch.confirmed;
	if (!ch.changed && ch.alert == STATE_ALERT_NONE) {
		if (r)
			check_reminder(mo, m, cc, r, now);
		return;
	}
	if (!r) {
		char text[LOCATIONS_TEXT_MAX];

		/* ~11 KB: not on the stack; seldom (a node's health, a location gone quiet). */
		if (!(made = calloc(1, sizeof(*made)))) {
			log_msg(LOG_ERR, "check %s: out of memory telling a change of its verdict",
			        m->name);
			return;
		}
		made->status = m->st.status;
		made->severity = m->st.severity;
		made->reason = ch.reason;
		made->ttg_us = -1;
		locations_describe(mo, m, now, text, sizeof(text), NULL);
		snprintf(made->message, sizeof(made->message), "weighed again: %s", text);
		if (m->has_last)
			snprintf(made->greeting, sizeof(made->greeting), "%s", m->last.greeting);
		r = made;
	}
	if (ch.changed) {
		log_msg(ch.to == MP_UP ? LOG_NOTICE : LOG_WARNING,
		        "check %s: %s -> %s, %s (%s, since %lld s ago, %u probes): %s", m->name,
		        state_status_name(ch.from), state_status_name(ch.to),
		        result_severity_name(ch.to_severity), result_reason_name(ch.reason),
		        (long long)((now - ch.since_ms) / 1000), ch.confirmed, r->message);
		/* Stamped with the streak's first result: the outage began there. */
		store_or_flush(mo,
		               store_add_transition(mo->store, m->name, ch.since_ms, ch.from, ch.to,
		                                    ch.to_severity, ch.reason, r->message),
		               m->name);
		if (ch.incident_opened)
			store_or_flush(mo,
			               store_incident_open(mo->store, m->name, ch.since_ms,
			                                   ch.reason, r->message),
			               m->name);
		if (ch.incident_closed)
			store_or_flush(mo, store_incident_close(mo->store, m->name, ch.since_ms),
			               m->name);
	}
	switch (ch.alert) {
	case STATE_ALERT_DOWN:
		m->alert_reason = r->reason;
		alert(mo, m, cc, NOTIFY_DOWN, ch.from, r, now, 0);
		break;
	case STATE_ALERT_DEGRADED:
		m->alert_reason = r->reason;
		alert(mo, m, cc, NOTIFY_DEGRADED, ch.from, r, now, 0);
		break;
	case STATE_ALERT_RECOVERY:
		/* How long it was not up: the incident, or the degraded spell. */
		alert(mo, m, cc, NOTIFY_RECOVERY, ch.from, r, now,
		      ch.incident_closed ? ch.incident_ms : ch.since_ms - prev_since);
		break;
	case STATE_ALERT_NONE:
		if (!made)
			check_reminder(mo, m, cc, r, now);
		break;
	}
	free(made);
}

/* Weigh m again at now, without a new result: a location's health or recency changed. */
static void mon_reweigh(struct monitor *mo, struct mon *m, int64_t now)
{
	if (m->active)
		judge(mo, m, NULL, now, now);
}

void mon_node_changed(struct monitor *mo, int node, int64_t now, int fresh)
{
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext)
			for (int i = 0; i < m->nlocs; i++) {
				struct mon_loc *l = &m->locs[i];

				if (l->kind != LOC_NODE || l->node != node)
					continue;
				if (fresh) {
					/*
					 * What it confirmed while impaired or lost (down,
					 * from its own broken path) must not count the
					 * moment it is back: it confirms again from new
					 * results. Its last result stays shown.
					 */
					state_init(&l->st, now);
					l->last_confirmed = 0;
				}
				mon_reweigh(mo, m, now);
				break;
			}
}

/*
 * A slice of the checks is weighed again each tick, so that a location
 * that stopped reporting stops counting (a check it kept down or up goes
 * unknown, or follows the others): every check once in SWEEP_TICKS ticks.
 * A pending verdict cannot change without a result: skipped.
 */
static void stale_sweep(struct monitor *mo, int64_t now)
{
	int per = (MON_BUCKETS + SWEEP_TICKS - 1) / SWEEP_TICKS;

	for (int k = 0; k < per; k++) {
		for (struct mon *m = mo->buckets[mo->sweep]; m; m = m->hnext)
			if (m->verdict.status != VERDICT_PENDING)
				mon_reweigh(mo, m, now);
		mo->sweep = (mo->sweep + 1) % MON_BUCKETS;
	}
}

/* A location's name as the configuration allows it: 1 to 64 of [A-Za-z0-9._-]. */
static int location_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/*
 * How a result of m from location l counts for uptime (issue 12: downtime
 * is counted from the overall state), once the verdict it produced is in
 * m->verdict. A check probed from one location counts each result by its
 * own status, as always: no flag. One with several counts each by the
 * check's verdict: up, degraded and partial are up (users can connect; one
 * location's trouble is not an outage), down is down. Pending and unknown
 * say nothing, and a result from a location that does not count (a node
 * impaired, lost or not heard from; l NULL: not placed) was not weighed:
 * the other locations' rows stand for its moment.
 */
static unsigned uptime_flag(const struct monitor *mo, const struct mon *m, const struct mon_loc *l)
{
	if (m->cc->nlocations <= 1)
		return 0;
	if (!l || !mon_loc_healthy(mo, l))
		return STORE_R_UNCOUNTED;
	switch (m->verdict.status) {
	case VERDICT_UP:
	case VERDICT_DEGRADED:
	case VERDICT_PARTIAL:
		return STORE_R_COUNT_UP;
	case VERDICT_DOWN:
		return STORE_R_COUNT_DOWN;
	case VERDICT_PENDING:
	case VERDICT_UNKNOWN:
	default:
		return STORE_R_UNCOUNTED;
	}
}

/*
 * A result's row in the store, flagged when its probe ran inside a
 * maintenance window, with how it counts for uptime (counts: a
 * STORE_R_COUNT_* flag, or 0).
 */
static void store_result(struct monitor *mo, struct mon *m, const char *location, int64_t probe_ms,
                         const struct result *r, unsigned counts)
{
	unsigned flags =
	    (conf_in_maintenance(mo->conf, m->cc, probe_ms / 1000) ? STORE_R_MAINTENANCE : 0) |
	    counts;

	if (store_add_result_flags(mo->store, m->name, location, probe_ms, r, flags) != 0) {
		store_make_room(mo);
		if (store_add_result_flags(mo->store, m->name, location, probe_ms, r, flags) != 0)
			store_dropped(mo, m->name);
	}
}

int monitor_ingest(struct monitor *mo, const char *check, const char *location, int64_t probe_ms,
                   const struct result *r)
{
	struct mon *m = mon_find(mo, check);
	const struct conf_check *cc;
	struct mon_loc *loc;
	int64_t now = mon_now(mo);

	if (!m || !m->active)
		return -1;
	if (!location_ok(location)) {
		/* Shown cut and escaped by nobody else: only its length is safe to say. */
		log_msg(
		    LOG_ERR,
		    "check %s: a result from a location named with %zu bytes refused: a location "
		    "is 1 to 64 of A-Z a-z 0-9 . _ -",
		    m->name, strlen(location));
		return -1;
	}
	/* The probe's own start, wherever it ran; probe_ms only for a result without one. */
	if (r->probe_ms > 0)
		probe_ms = r->probe_ms;
	cc = m->cc;

	maint_catch_up(mo, m, now); /* a window that ended before this result is told first */
	last_update(m, cc, location, r, probe_ms);
	log_msg(LOG_DEBUG, "check %s: %s %s in %.1f ms: %s", m->name, result_status_name(r->status),
	        result_reason_name(r->reason), r->phase_us[MP_PH_TOTAL] / 1000.0, r->message);

	loc = mon_loc(m, location);
	if (!loc) {
		log_msg(LOG_ERR, "check %s: out of memory keeping the state at %s", m->name,
		        location);
		/* History keeps it all the same; not weighed, it does not count. */
		store_result(mo, m, location, probe_ms, r, uptime_flag(mo, m, NULL));
		return 0;
	}
	struct state_change lch = state_on_result(&loc->st, r->status, r->severity, r->reason,
	                                          cc->fail_after, cc->recover_after, probe_ms);
	if (r->status != MP_UNKNOWN)
		loc->last_ms = probe_ms;
	loc->last_reason = r->reason;
	loc->last_ttg_us = r->ttg_us;
	keep_str(&loc->last_message, r->message);
	if (lch.changed) {
		loc->last_confirmed = lch.confirmed;
		log_msg(LOG_DEBUG, "check %s at %s: %s -> %s, %s (%s), confirmed by %u probes",
		        m->name, loc->name, state_status_name(lch.from), state_status_name(lch.to),
		        result_severity_name(lch.to_severity), result_reason_name(lch.reason),
		        lch.confirmed);
	}
	/* This node's scheduler probes again soon; a remote location confirms on its own. */
	if (lch.confirming && loc->kind == LOC_LOCAL && m->item)
		sched_retry_soon(m->item);

	judge(mo, m, r, probe_ms, now);
	/*
	 * Written after the verdict, so that the row counts for uptime as the
	 * check stood once this result was weighed. Inside a window is a
	 * matter of when the probe ran, not of when its result came.
	 */
	store_result(mo, m, location, probe_ms, r, uptime_flag(mo, m, loc));
	return 0;
}

const char *mon_remote_name(enum mon_remote rc)
{
	static const char *const names[] = {"accepted", "late",         "duplicate",
	                                    "no_check", "not_assigned", "bad_meta"};

	return (unsigned)rc < sizeof(names) / sizeof(names[0]) ? names[rc] : "?";
}

enum mon_remote monitor_ingest_remote(struct monitor *mo, const char *node, const struct result *r,
                                      const struct result_meta *meta, int64_t recv_ms)
{
	int ni = nodes_index(mo, node);
	struct mon *m = mon_lookup(mo, meta->check);
	struct mon_loc *loc;
	enum mon_remote rc;

	if (!m) {
		rc = MON_REMOTE_NO_CHECK;
	} else if (ni < 0 || !conf_check_at(mo->conf, m->cc, node)) {
		/* A node probing what it was not given: a stale assignment, or worse. */
		if (ni >= 0)
			nodes_log_refusal(mo, ni, m->name, mon_now(mo));
		rc = MON_REMOTE_NOT_ASSIGNED;
	} else if ((meta->location[0] && strcmp(meta->location, node) != 0) || meta->seq == 0) {
		rc = MON_REMOTE_BAD_META;
	} else if (nodes_had(mo, ni, meta->seq)) {
		rc = MON_REMOTE_DUPLICATE;
	} else {
		int64_t at = r->probe_ms > 0 ? r->probe_ms : recv_ms;

		nodes_took(mo, ni, meta->seq);
		loc = mon_loc(m, node);
		if ((loc && meta->seq <= loc->last_seq) || recv_ms - at > mon_stale_ms(mo, m->cc)) {
			/*
			 * Its moment has passed (or a newer result of the check came
			 * first, on the node's live lane while it replays its
			 * backlog): history has it, states, alerts and (with other
			 * locations to stand for that moment) uptime do not.
			 */
			store_result(mo, m, node, at, r,
			             m->cc->nlocations > 1 ? STORE_R_UNCOUNTED : 0);
			rc = MON_REMOTE_LATE;
		} else {
			(void)monitor_ingest(mo, m->name, node, at, r);
			rc = MON_REMOTE_ACCEPTED;
		}
		/* Found again: monitor_ingest() may have moved the array. */
		if ((loc = mon_loc(m, node)) && meta->seq > loc->last_seq)
			loc->last_seq = meta->seq;
	}
	if (ni >= 0)
		nodes_count(mo, ni, rc);
	return rc;
}

/* The local scheduler's door: its results are this node's location. */
static void on_result(struct sched_item *it, const struct result *r, void *arg)
{
	struct monitor *mo = arg;
	struct mon *m = sched_user(it);

	/* The engine stamps r->probe_ms; the scheduler's start stands in if it did not. */
	(void)monitor_ingest(mo, m->name, mo->conf->location, sched_started_ms(it), r);
}

/* ---- what readers see (monitor.h) -------------------------------------- */

/* The locations of m for readers, in m->linfo; their number (0 when out of memory). */
static int fill_locs(struct mon *m, int64_t now)
{
	struct monitor *mo = m->mo;

	if (m->linfo_cap < m->nlocs) {
		struct mon_loc_info *li = realloc(m->linfo, (size_t)m->nlocs * sizeof(*li));
		if (!li)
			return 0;
		m->linfo = li;
		m->linfo_cap = m->nlocs;
	}
	for (int i = 0; i < m->nlocs; i++) {
		const struct mon_loc *l = &m->locs[i];
		struct mon_loc_info *li = &m->linfo[i];

		li->name = l->name;
		li->st = &l->st;
		li->last_ms = l->last_ms;
		li->last_reason = l->last_reason;
		li->last_message = l->last_message ? l->last_message : "";
		li->last_ttg_us = l->last_ttg_us;
		li->counts = mon_loc_counts(mo, m, l, now);
		li->healthy = mon_loc_healthy(mo, l);
	}
	return m->nlocs;
}

static void fill_info(struct mon *m, struct mon_info *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->name = m->name;
	mi->cc = m->active ? m->cc : NULL;
	mi->st = &m->st;
	mi->verdict = m->verdict;
	mi->nlocs = fill_locs(m, mon_now(m->mo));
	mi->locs = mi->nlocs ? m->linfo : NULL;
	mi->last = m->has_last ? &m->last : NULL;
	mi->probes = m->probes;
	memcpy(mi->by_reason, m->by_reason, sizeof(mi->by_reason));
	mi->running = m->item ? sched_running(m->item) : 0;
}

void monitor_each_check(struct monitor *mo, mon_each_cb cb, void *arg)
{
	for (int i = 0; i < mo->conf->nchecks; i++) {
		struct mon *m = mon_find(mo, mo->conf->checks[i].name);
		struct mon_info mi;
		if (!m || !m->active)
			continue;
		fill_info(m, &mi);
		cb(&mi, arg);
	}
}

int monitor_get_check(struct monitor *mo, const char *name, mon_each_cb cb, void *arg)
{
	struct mon *m = mon_find(mo, name);
	struct mon_info mi;

	if (!m || !m->active)
		return -1;
	fill_info(m, &mi);
	cb(&mi, arg);
	return 0;
}

/* A check probed by nodes only has no probe here to run: -1 as for no check. */
int monitor_run_now(struct monitor *mo, const char *name)
{
	struct mon *m = mon_find(mo, name);

	if (!m || !m->active || !m->item)
		return -1;
	sched_run_now(m->item);
	return 0;
}

void monitor_health(struct monitor *mo, struct monitor_health *h)
{
	struct sched_stats st;

	memset(h, 0, sizeof(*h));
	memset(&st, 0, sizeof(st));
	if (mo->sched)
		sched_stats(mo->sched, &st); /* lag: over the last minute (on_flush resets it) */
	h->started_ms = mo->started_ms;
	h->checks = mo->nmons;
	h->in_flight = st.in_flight;
	h->waiting = st.waiting;
	h->probes_started = st.started;
	h->probes_finished = st.finished;
	h->slots_skipped = st.skipped;
	h->lag_max_ms = (double)st.lag_max_us / 1000.0;
	h->lag_avg_ms = st.lag_n ? (double)st.lag_sum_us / (double)st.lag_n / 1000.0 : 0;
	h->store_flush_last_ms = mo->flush_last_ms;
	h->store_flush_max_ms = mo->flush_max_ms;
	h->active = mo->lead_active;
	h->lead_lost = mo->lead_lost;
	h->active_since_ms = mo->lead_since_ms;
	h->active_why = mo->lead_why;
	h->store_queued = store_queued(mo->store);
	if (h->store_queued > mo->store_queued_high)
		mo->store_queued_high = h->store_queued;
	h->store_queued_high = mo->store_queued_high;
	h->store_flush_failures = mo->flush_failures;
	h->store_ok = mo->store_fail_run == 0;
	h->store_error = mo->store_error[0] ? mo->store_error : NULL;
	h->store_rows_dropped = mo->store_dropped;
	h->notify_pending = mo->notify ? notify_pending(mo->notify) : 0;
	h->notify_attempts = mo->notify_attempts;
	h->notify_failures = mo->notify_failures;
}

void monitor_each_channel(struct monitor *mo, mon_channel_cb cb, void *arg)
{
	notify_each_channel(mo->notify, cb, arg);
}

struct conf *monitor_conf(struct monitor *mo)
{
	return mo->conf;
}

struct store *monitor_store(struct monitor *mo)
{
	return mo->store;
}

/*
 * A check that left the configuration stops existing: its open incident is
 * closed with the reason, and it goes back to pending in the store (status
 * no longer lists it; a check of that name added later starts fresh). No
 * notification: it did not recover, and an edit of the file pages nobody.
 */
static void retire(struct monitor *mo, const char *name, enum mp_status st, int incident_open,
                   int64_t now)
{
	if (incident_open || st == MP_DOWN || st == MP_DEGRADED)
		log_msg(LOG_NOTICE, "check %s: removed while %s%s; no notification is sent", name,
		        state_status_name(st),
		        incident_open ? ", its incident closed as removed" : "");
	store_or_flush(mo, store_check_retire(mo->store, name, now, STORE_REMOVED_REASON), name);
}

/*
 * A check removed by a reload. Its alert open at PagerDuty would stay open
 * forever (nothing will ever resolve that key), so it is resolved there;
 * the other channels are not told, as above. The routes and channels are
 * those of conf, the configuration the check was last in (m->cc points
 * into it), which the reload keeps until the removed checks are retired.
 */
static void mon_retire(struct monitor *mo, struct mon *m, const struct conf *conf, int64_t now)
{
	int resolved = 0;

	if (m->key_ms && m->active)
		resolved = resolve_key(mo, m, conf, m->cc, m->key_ms, m->key_reason,
		                       STORE_REMOVED_REASON, now);
	if (m->sup_ms && m->active)
		resolved += resolve_key(mo, m, conf, m->cc, m->sup_ms, m->sup_reason,
		                        STORE_REMOVED_REASON, now);
	if (m->key_ms || m->sup_ms) {
		m->key_ms = m->sup_ms = 0;
		keys_save(mo, m);
	}
	if (!resolved) {
		retire(mo, m->name, m->st.status, m->st.incident_open, now);
		return;
	}
	log_msg(LOG_NOTICE,
	        "check %s: removed while %s%s; its PagerDuty alert resolved, no other "
	        "notification is sent",
	        m->name, state_name(&m->st),
	        m->st.incident_open ? ", its incident closed as removed" : "");
	store_or_flush(mo, store_check_retire(mo->store, m->name, now, STORE_REMOVED_REASON),
	               m->name);
}

/*
 * A check removed while the daemon was stopped: its routes went with it,
 * so its open alert (as the store keeps it, or the state's start for a
 * file written before that was kept) is resolved at every PagerDuty
 * channel of the configuration. A resolve of a key a service never had is
 * ignored there; an alert left open pages for ever.
 */
static void orphan_resolve(struct monitor *mo, const char *name)
{
	const struct store_state *o = NULL;
	int64_t now = mp_wall_ms();
	int sent = 0;

	for (int i = 0; i < mo->norphans && !o; i++)
		if (strcmp(mo->orphans[i].check, name) == 0)
			o = &mo->orphans[i];
	if (!o)
		return;
	int64_t keys[2] = {o->alert_key_ms, o->alert_sup_ms};
	enum mp_reason why[2] = {o->alert_reason, o->alert_sup_reason};
	if (!o->alert_known) {
		keys[0] = o->status == MP_DOWN || o->status == MP_DEGRADED ? o->since_ms : 0;
		why[0] = o->reason;
		keys[1] = 0;
	}
	for (int k = 0; k < 2; k++)
		for (int i = 0; keys[k] && i < mo->conf->nchannels; i++)
			if (mo->conf->channels[i].type == CH_PAGERDUTY) {
				resolve_at(mo, name, "", mo->conf, &mo->conf->channels[i], keys[k],
				           why[k], MP_UNKNOWN, MP_SEV_UNKNOWN, STORE_REMOVED_REASON,
				           now);
				sent++;
			}
	if (o->alert_known && (keys[0] || keys[1]))
		store_or_flush(mo, store_set_alert(mo->store, name, 0, MP_R_OK, 0, MP_R_OK), name);
	if (sent)
		log_msg(LOG_NOTICE,
		        "check %s: removed while stopped; its PagerDuty alert resolved at every "
		        "PagerDuty channel (%d resolves)",
		        name, sent);
}

/* At start: the store's checks against the file (see retire()). */
static void sync_check(const char *name, int removed, void *arg)
{
	struct monitor *mo = arg;
	int configured = mon_find(mo, name) != NULL;

	if (configured && removed) {
		store_or_flush(mo, store_check_present(mo->store, name), name);
	} else if (!configured && !removed) {
		log_msg(LOG_NOTICE, "check %s: in the store but no longer configured: retired",
		        name);
		orphan_resolve(mo, name);
		retire(mo, name, MP_UNKNOWN, 0, mp_wall_ms());
	}
}

/*
 * After a restart, what was told is not stored: a check found down or
 * degraded was told so, unless its state began inside a maintenance window
 * (held back then, so told when the window is over, at once if it is).
 */
static void resume_told(struct monitor *mo, struct mon *m, const struct store_state *ss)
{
	enum mp_status st = m->st.status;

	m->told = st == MP_DOWN || st == MP_DEGRADED ? st : MP_UP;
	m->told_sev = m->told == MP_UP ? MP_SEV_OK : m->st.severity;
	if (m->told != MP_UP && m->active && !m->held &&
	    conf_in_maintenance(mo->conf, m->cc, m->st.since_ms / 1000)) {
		m->told = MP_UP;
		m->told_sev = MP_SEV_OK;
		m->held = 1;
		mo->nheld++;
	}
	/*
	 * The alert told is that of the state resumed: its key is the state's
	 * start (alert()), and a recovery is routed as its alert was.
	 */
	m->key_ms = m->told != MP_UP ? m->st.since_ms : 0;
	m->key_reason = m->alert_reason = m->st.reason;
	/*
	 * What the store kept of it wins: a critical state that eased to
	 * warning keeps the critical key open, and a superseded one may wait.
	 */
	if (ss->alert_known && m->told != MP_UP) {
		if (ss->alert_key_ms) {
			m->key_ms = ss->alert_key_ms;
			m->key_reason = m->alert_reason = ss->alert_reason;
		}
		m->sup_ms = ss->alert_sup_ms;
		m->sup_reason = ss->alert_sup_reason;
	}
	/*
	 * Up now, but the store says an alert is still open: its recovery was
	 * held by a maintenance window (or queued when the daemon died) and
	 * lives only in memory. Hold it again: maint_catch_up() sends it when
	 * no window covers the check, at once when none does now.
	 */
	if (ss->alert_known && ss->alert_key_ms && m->told == MP_UP && m->active && !m->held &&
	    !m->st.pending && m->st.status == MP_UP) {
		m->told = MP_DOWN;
		m->told_sev = MP_SEV_CRITICAL;
		m->key_ms = ss->alert_key_ms;
		m->key_reason = m->alert_reason = ss->alert_reason;
		m->sup_ms = ss->alert_sup_ms;
		m->sup_reason = ss->alert_sup_reason;
		m->held_duration_ms = m->st.since_ms > m->key_ms ? m->st.since_ms - m->key_ms : 0;
		m->held = 1;
		mo->nheld++;
		log_msg(LOG_NOTICE,
		        "check %s: up since %lld, but its alert of %lld was never resolved: the "
		        "recovery is sent when no maintenance window covers it",
		        m->name, (long long)m->st.since_ms, (long long)m->key_ms);
	}
}

static void restore_state(const struct store_state *ss, void *arg)
{
	struct monitor *mo = arg;
	struct mon *m = mon_find(mo, ss->check);

	struct mon_loc *l;

	if (!m) {
		/* Not configured: sync_check() retires it and resolves what it left open. */
		struct store_state *o =
		    realloc(mo->orphans, (size_t)(mo->norphans + 1) * sizeof(*o));
		if (o) {
			mo->orphans = o;
			mo->orphans[mo->norphans++] = *ss;
		}
		return;
	}
	state_resume(&m->st, ss->status, ss->severity, ss->reason, ss->since_ms, ss->incident_open,
	             ss->incident_start_ms);
	/*
	 * The store keeps the check's state, not each location's: this node's
	 * location takes it up (when it probes the check), so that one
	 * location goes on as before the restart; a remote one starts pending
	 * and catches up by its results. Until results come, the check keeps
	 * the state resumed (a location confirms only by results since start).
	 */
	if (conf_check_at(mo->conf, m->cc, mo->conf->location) &&
	    (l = mon_loc(m, mo->conf->location)))
		state_resume(&l->st, ss->status, ss->severity, ss->reason, ss->since_ms, 0, 0);
	resume_told(mo, m, ss);
}

/*
 * A reload that takes the route of m's open alert away (the channel gone,
 * renamed or given another key, the route gone or no longer taking its
 * reason or its recovery) would leave the alert open at the old PagerDuty
 * service for ever: resolve it there, with the old settings, before the
 * swap. Where the new configuration still reaches it, the recovery will.
 */
static void resolve_unrouted(struct monitor *mo, struct mon *m, const struct conf *oc,
                             const struct conf *nc, const struct conf_check *ncc)
{
	const struct conf_check *occ = m->cc;
	int64_t keys[2] = {m->key_ms, m->sup_ms};
	enum mp_reason why[2] = {m->key_reason, m->sup_reason};
	int64_t now = mp_wall_ms();

	for (int k = 0; k < 2; k++)
		for (int i = 0; keys[k] && i < occ->nroutes; i++) {
			const struct conf_route *rt = &occ->routes[i];
			const struct conf_channel *ch = &oc->channels[rt->channel];
			int dup = 0;
			if (ch->type != CH_PAGERDUTY || !rt->recovery ||
			    !route_matches(rt, why[k]) || pd_reaches(nc, ncc, why[k], ch))
				continue;
			for (int j = 0; j < i; j++) /* two routes to one channel: one resolve */
				dup |= occ->routes[j].channel == rt->channel &&
				       occ->routes[j].recovery &&
				       route_matches(&occ->routes[j], why[k]);
			if (!dup)
				resolve_at(mo, m->name, occ->chk.target.url, oc, ch, keys[k],
				           why[k], m->st.status, m->st.severity,
				           "no longer routed to this channel by the configuration",
				           now);
		}
}

/*
 * A check that stays through a reload as cc: its probes here follow it
 * (started when it now names this daemon's location, stopped when it no
 * longer does, else updated), and its locations become those cc names.
 */
static void mon_relocate(struct monitor *mo, struct mon *m, const struct conf_check *cc)
{
	const char *here = mo->conf->location;

	if (!mo->sched)
		return; /* standing by: monitor_activate() schedules what the configuration says */
	if (conf_check_at(mo->conf, cc, here)) {
		/*
		 * A new copy even when the digest is the same: it names the
		 * password's source, not its value, which a reload reads
		 * again. The grid stays when the interval does.
		 */
		struct sched_item *it = mon_schedule(mo, m, m->item, cc);

		if (!it)
			log_msg(LOG_ERR, "check %s: out of memory; %s", cc->name,
			        m->item ? "it probes as before the reload"
			                : "it is not probed here until the next reload");
		else if (!m->item)
			log_msg(LOG_NOTICE, "check %s: probed at %s from now on", cc->name, here);
		if (it)
			m->item = it;
	} else if (m->item) {
		log_msg(LOG_NOTICE, "check %s: no longer probed at %s", cc->name, here);
		sched_remove(m->item);
		m->item = NULL;
	}
	if (mon_sync_locs(mo, m, cc) != 0)
		log_msg(LOG_ERR, "check %s: out of memory; its locations stay as they were",
		        cc->name);
}

void monitor_reload(struct monitor *mo, struct conf *nc)
{
	struct conf *old = mo->conf;
	int added = 0, changed = 0, removed = 0;

	if (strcmp(nc->store_path, old->store_path) != 0)
		log_msg(LOG_WARNING, "store path changed to %s: takes effect at the next start",
		        nc->store_path);
	else if ((nc->store_secret == NULL) != (old->store_secret == NULL) ||
	         (nc->store_secret && strcmp(nc->store_secret, old->store_secret) != 0))
		/* The file's content is read at each reconnection; its name only at start. */
		log_msg(LOG_WARNING,
		        "store password_file changed to %s: takes effect at the next start",
		        nc->store_secret ? nc->store_secret : "(none)");
	mo->conf = nc;
	/* A reload is how an admin says "I fixed the CA file": read it again. */
	if (probe_env_renew_tls(&mo->env) != 0)
		log_msg(LOG_ERR, "reload: out of memory renewing TLS contexts; the old ones stay");
	/* Before the checks: their locations are resolved against the new nodes. */
	if (nodes_reload(mo, old, nc) != 0)
		log_msg(LOG_ERR, "reload: out of memory; the nodes known before stay, nodes added "
		                 "are not known until the next reload");
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext) {
			m->seen = 0;
			/* This node renamed: its probes go on, so does their state. */
			for (int i = 0; i < m->nlocs; i++)
				if (strcmp(m->locs[i].name, old->location) == 0)
					snprintf(m->locs[i].name, sizeof(m->locs[i].name), "%s",
					         nc->location);
		}
	for (int i = 0; i < nc->nchecks; i++) {
		const struct conf_check *cc = &nc->checks[i];
		struct mon *m = mon_find(mo, cc->name);
		if (m) {
			if (strcmp(m->cc->digest, cc->digest) != 0)
				changed++;
			resolve_unrouted(mo, m, old, nc, cc);
			mon_relocate(mo, m, cc);
			m->cc = cc; /* the old conf goes below */
			m->seen = 1;
		} else if ((m = mon_add(mo, cc))) {
			m->seen = 1;
			added++;
			/* Back under a name once removed: it starts fresh, as pending. */
			store_or_flush(mo, store_check_present(mo->store, cc->name), cc->name);
		} else {
			log_msg(LOG_ERR, "check %s: out of memory", cc->name);
		}
	}
	for (int b = 0; b < MON_BUCKETS; b++) {
		struct mon *m = mo->buckets[b], *n;
		for (; m; m = n) {
			n = m->hnext;
			if (!m->seen) {
				mon_retire(mo, m, old, mp_wall_ms());
				mon_free(mo, m);
				removed++;
			}
		}
	}
	conf_unref(old);
	/* Locations, quorums and nodes may have changed: every verdict is weighed again. */
	int64_t now = mon_now(mo);
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext)
			if (m->verdict.status != VERDICT_PENDING)
				mon_reweigh(mo, m, now);
	log_msg(LOG_NOTICE, "reloaded: %d checks (%d added, %d changed, %d removed)", mo->nmons,
	        added, changed, removed);
}

/*
 * A new store file knows nothing of the current states and open incidents:
 * write them into it again, so that status and the incident list stay
 * right, each state stamped with when it began. Incidents that a restored
 * older file holds open, but that are over, are closed. Then the file's
 * checks are matched against the configuration, as at start. Rows queued
 * before go in first, the carried states after them: the last word.
 */
static void carry_over(struct monitor *mo)
{
	int64_t now = mp_wall_ms();

	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext) {
			const char *msg = m->has_last ? m->last.message : CARRIED_OVER;

			if (m->st.status == MP_UNKNOWN)
				continue; /* pending: nothing to carry */
			if (store_queued(mo->store) > STORE_QUEUE_MAX - 2)
				store_make_room(mo);
			store_or_flush(mo,
			               store_add_transition(mo->store, m->name, m->st.since_ms,
			                                    MP_UNKNOWN, m->st.status,
			                                    m->st.severity, m->st.reason, msg),
			               m->name);
			if (m->key_ms || m->sup_ms)
				keys_save(mo, m);
			if (m->st.incident_open)
				store_or_flush(mo,
				               store_incident_open(mo->store, m->name,
				                                   m->st.incident_start_ms,
				                                   m->st.reason, msg),
				               m->name);
			else
				store_or_flush(
				    mo,
				    store_incident_close_why(mo->store, m->name, now, CARRIED_OVER),
				    m->name);
		}
	/* Written here, so that the end of a run of failures is told with its count. */
	if (store_flush_now(mo) >= 0 && store_each_check(mo->store, sync_check, mo) != 0)
		log_msg(LOG_WARNING, "store: could not list the checks of the new file: %s",
		        store_errmsg(mo->store));
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
static int store_watch(struct monitor *mo)
{
	enum store_file f = store_file_check(mo->store);
	const char *path = store_pathname(mo->store);
	char err[512];
	int rc;

	if (f == STORE_FILE_OK)
		return 0;
	/* Said once; a reopen that fails is told by store_trouble(), rate-limited. */
	if (!mo->store_moved_told && f == STORE_FILE_DELETED)
		log_msg(LOG_ERR,
		        "store %s was deleted or moved away while in use: what was written to it "
		        "until now went with it; %d queued rows go to a new store there",
		        path, store_queued(mo->store));
	else if (!mo->store_moved_told && f == STORE_FILE_REPLACED)
		log_msg(LOG_ERR,
		        "store %s was replaced by another file while in use: the file it replaced "
		        "keeps what was written until now; %d queued rows go to the new file",
		        path, store_queued(mo->store));
	mo->store_moved_told = 1;
	rc = store_reopen(mo->store, err, sizeof(err));
	if (rc < 0) {
		store_trouble(mo, err);
		return -1;
	}
	mo->store_moved_told = 0;
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
	carry_over(mo);
	return 0;
}

/*
 * At stop: write what is queued, into the file the path names now, trying
 * a few times (a reader or a backup may hold the file for a moment). What
 * still cannot be written is lost, and the last line says exactly how
 * much was written and how much was lost, with SQLite's reason (the line
 * that all went well only after a clean stop). Closes the store. Returns
 * 0, or -1 when rows were lost (the exit status says it).
 */
static int stop_store(struct monitor *mo, int clean)
{
	int ok = store_watch(mo) == 0, queued = store_queued(mo->store), written = 0, lost;
	const char *why = mo->store_error;

	for (int i = 0; ok && i < STOP_FLUSH_TRIES && store_queued(mo->store) > 0; i++) {
		struct timespec pause = {0, 200 * 1000 * 1000};
		int n = store_flush(mo->store);

		if (n >= 0) {
			written += n;
			break;
		}
		why = store_errmsg(mo->store);
		if (i + 1 < STOP_FLUSH_TRIES)
			nanosleep(&pause, NULL);
	}
	lost = store_discard(mo->store);
	waiters_run(mo, UINT64_MAX);
	if (lost > 0)
		log_msg(LOG_ERR,
		        "stopped; %d of %d queued rows written, %d lost (results, state changes, "
		        "incidents and notification attempts missing from the store): %s",
		        written, queued, lost, why);
	else if (clean)
		log_msg(LOG_NOTICE, "stopped; %d queued rows written, 0 lost", written);
	if (mo->store_dropped > 0)
		log_msg(LOG_ERR, "store: %llu rows were lost earlier to a full queue",
		        (unsigned long long)mo->store_dropped);
	store_close(mo->store);
	mo->store = NULL;
	return lost > 0 ? -1 : 0;
}

/*
 * The one teardown of what daemon_main() or daemon_idle_new() set up, in
 * order, the event base excepted (its owner frees it). Returns code, or 1
 * when a clean stop lost rows.
 */

/* ---- life ----------------------------------------------------------------- */

/* A standby reads the states the active controller stores this often, in ticks. */
#define STANDBY_READ_TICKS 2
static void standby_read(struct monitor *mo);

void monitor_tick(struct monitor *mo)
{
	/* The scheduler's lag figures cover the last minute. */
	if (++mo->flush_ticks % 60 == 0 && mo->sched)
		sched_stats_reset(mo->sched);
	/* The same tick acts on maintenance windows that ended (maint_catch_up()). */
	if (mo->nheld > 0 && mo->lead_active)
		maint_tick(mo);
	if (!mo->lead_active && mo->flush_ticks % STANDBY_READ_TICKS == 0)
		standby_read(mo);
	/* Nodes gone quiet, and locations whose results grew old: while probing goes on. */
	if (mo->sched) {
		int64_t now = mon_now(mo);

		nodes_tick(mo, now);
		stale_sweep(mo, now);
	}
	if (store_watch(mo) < 0 || store_queued(mo->store) == 0)
		return;
	store_flush_now(mo);
}

void monitor_retention(struct monitor *mo)
{
	/* One controller folds and drops: the active one. */
	if (!mo->lead_active)
		return;
	if (store_retention(mo->store, mp_wall_ms(), mo->conf->raw_days, mo->conf->rollup_days) < 0)
		log_msg(LOG_ERR, "store: retention failed: %s", store_errmsg(mo->store));
}

void monitor_resume(struct monitor *mo)
{
	if (store_load_states(mo->store, restore_state, mo) != 0)
		log_msg(LOG_WARNING, "store: could not read the last states; starting as pending");
	if (store_each_check(mo->store, sync_check, mo) != 0)
		log_msg(LOG_WARNING, "store: could not list its checks: %s",
		        store_errmsg(mo->store));
	free(mo->orphans);
	mo->orphans = NULL;
	mo->norphans = 0;
}

/* ---- the lead: one active controller among those sharing a store ---- */

int mon_notify_send(struct monitor *mo, const struct conf_channel *ch,
                    const struct notify_event *ev)
{
	if (!mo->lead_active) {
		log_msg(LOG_DEBUG, "notify %s: not sent: this controller stands by", ch->name);
		return 0;
	}
	return notify_send(mo->notify, ch, ev);
}

int monitor_active(const struct monitor *mo)
{
	return mo->lead_active && !mo->lead_lost;
}

static void mon_claim(const char *key, notify_granted_fn granted, void *d, void *arg)
{
	struct monitor *mo = arg;

	store_claim(mo->store, key, mo->controller, mp_wall_ms(), granted, d);
}

static void mon_claimed(const char *key, int ok, void *arg)
{
	struct monitor *mo = arg;

	store_claim_done(mo->store, key, ok, mp_wall_ms());
}

/* A notify for this monitor: its claims in the store when several controllers may share it. */
static struct notify *mon_notify_new(struct monitor *mo)
{
	struct notify *n = notify_new(mo->base, on_attempt, mo);

	if (n && store_has_claims(mo->store))
		notify_set_claims(n, mon_claim, mon_claimed, mo);
	return n;
}

/* Probes of every check this location has, on a new scheduler. -1 when out of memory. */
static int lead_schedule(struct monitor *mo)
{
	mo->sched = sched_new(&mo->env, mo->conf->max_in_flight, mo->scale, on_result, mo);
	if (!mo->sched)
		return -1;
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext)
			if (m->active && conf_check_at(mo->conf, m->cc, mo->conf->location) &&
			    !(m->item = mon_schedule(mo, m, NULL, m->cc)))
				return -1;
	return 0;
}

static void lead_unschedule(struct monitor *mo)
{
	sched_free(mo->sched);
	mo->sched = NULL;
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext)
			m->item = NULL;
}

/*
 * This controller becomes the active one: it takes the states up from the
 * store as a restart does (monitor_resume()), then holds back every alert
 * of a check found down or degraded, so that maint_catch_up() sends it on
 * the next tick; the store's claims let through only what the controller
 * before did not deliver (notify.h, store_claim()): nothing twice, nothing
 * lost when it died between a state change and its notification.
 */
static void monitor_activate(struct monitor *mo, const char *why)
{
	int held = 0;

	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext) {
			m->held = m->taken_over = 0;
			m->told = MP_UP;
			m->told_sev = MP_SEV_OK;
			m->key_ms = m->sup_ms = 0;
		}
	mo->nheld = 0;
	monitor_resume(mo);
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext)
			if (m->active && !m->held && m->told != MP_UP) {
				m->told = MP_UP;
				m->told_sev = MP_SEV_OK;
				m->held = m->taken_over = 1;
				mo->nheld++;
				held++;
			}
	mo->lead_active = 1;
	mo->lead_lost = 0;
	mo->lead_since_ms = mp_wall_ms();
	snprintf(mo->lead_why, sizeof(mo->lead_why), "%s", why);
	if (!mo->sched && lead_schedule(mo) < 0) {
		log_msg(LOG_ERR, "store: out of memory scheduling the checks after taking over");
		return;
	}
	log_msg(LOG_NOTICE,
	        "store: this controller is the active one now (%s): it probes, judges and "
	        "notifies; %d check(s) found down or degraded have their alerts checked against "
	        "what was sent before",
	        why, held);
}

/* It is not any more: nothing more is probed, judged or sent from here. */
static void monitor_standby(struct monitor *mo, const char *why)
{
	mo->lead_active = 0;
	mo->lead_lost = 0;
	mo->lead_since_ms = mp_wall_ms();
	snprintf(mo->lead_why, sizeof(mo->lead_why), "%s", why);
	lead_unschedule(mo);
	/* Deliveries still pending are the active controller's to make (its claims). */
	notify_free_why(mo->notify, "abandoned: this controller stands by; the active one sends "
	                            "what was not delivered");
	mo->notify = mon_notify_new(mo);
	if (!mo->notify)
		log_msg(LOG_ERR, "notify: out of memory after standing by");
	log_msg(LOG_ERR,
	        "store: this controller stands by from now on (%s): no probes, no notifications "
	        "from here; another controller takes over",
	        why);
}

/*
 * A standby's dashboard and API show what the active controller judges:
 * every state, and each check's last result, as the store has them.
 * Read from the loop (store_read_status()), every STANDBY_READ_TICKS.
 */
static void standby_read_cb(const struct store_status_rows *rows, int error, const char *err,
                            void *arg)
{
	struct monitor *mo = arg;

	mo->standby_reading = 0;
	if (error) {
		if (error != ECANCELED)
			log_msg(LOG_DEBUG, "store: a standby's read of the states failed: %s", err);
		return;
	}
	if (mo->lead_active)
		return; /* became active meanwhile: its own judgement stands */
	for (size_t i = 0; i < rows->nchecks; i++) {
		const struct store_state_row *c = &rows->checks[i];
		struct mon *m = mon_find(mo, c->check);
		int reason;

		if (!m)
			continue;
		if (c->has_state) {
			reason = result_reason_parse(c->state_reason);
			state_resume(&m->st, c->state, c->state_severity,
			             reason >= 0 ? (enum mp_reason)reason : MP_R_OK,
			             c->state_since_ms, c->incident != NULL,
			             c->incident ? c->incident->start_ms : 0);
		}
		if (c->last) {
			struct mon_last *l = &m->last;

			reason = result_reason_parse(c->last->reason);
			m->has_last = 1;
			l->ts_ms = c->last->ts_ms;
			l->status = c->last->status;
			l->severity = c->last->severity;
			l->reason = reason >= 0 ? (enum mp_reason)reason : MP_R_OK;
			l->message =
			    keep_str(&m->last_strs[0], c->last->message ? c->last->message : "");
			l->ttg_us = c->last->ttg_us == STORE_NONE ? -1 : c->last->ttg_us;
		}
	}
}

static void standby_read(struct monitor *mo)
{
	if (mo->standby_reading || mo->stopping)
		return;
	mo->standby_reading = 1;
	store_read_status(mo->store, standby_read_cb, mo);
}

static void on_role(enum store_role role, const char *why, void *arg)
{
	struct monitor *mo = arg;

	if (mo->lead_starting) {
		mo->lead_active = role == STORE_ACTIVE;
		snprintf(mo->lead_why, sizeof(mo->lead_why), "%s", why);
		return;
	}
	if (mo->stopping)
		return;
	if (role == STORE_ACTIVE && (!mo->lead_active || mo->lead_lost)) {
		monitor_activate(mo, why);
	} else if (role == STORE_STANDBY && (mo->lead_active || mo->sched)) {
		monitor_standby(mo, why);
	} else if (role == STORE_LOST && mo->lead_active && !mo->lead_lost) {
		mo->lead_lost = 1;
		mo->lead_since_ms = mp_wall_ms();
		snprintf(mo->lead_why, sizeof(mo->lead_why), "%s", why);
		log_msg(
		    LOG_ERR,
		    "store: this controller lost its database session (%s): it goes on probing, "
		    "but its notifications wait until it holds the lead again (another "
		    "controller may take over meanwhile); nodes are sent to the others",
		    why);
	}
}

void monitor_stop_probes(struct monitor *mo)
{
	mo->stopping = 1;
	/* Probes in flight are cancelled; their results never come. */
	sched_free(mo->sched);
	mo->sched = NULL;
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext) {
			m->item = NULL;
			m->active = 0;
		}
}

int monitor_notify_pending(const struct monitor *mo)
{
	return mo->notify ? notify_pending(mo->notify) : 0;
}

struct monitor *monitor_new(struct event_base *base, struct conf *conf, double time_scale,
                            char *err, size_t errlen)
{
	struct monitor *mo = calloc(1, sizeof(*mo));

	if (!mo) {
		snprintf(err, errlen, "out of memory");
		conf_unref(conf);
		return NULL;
	}
	mo->conf = conf;
	mo->scale = time_scale > 0 ? time_scale : 1.0;
	/* The store first: "in use by another daemon" must be the first thing said. */
	if (store_open_secret(&mo->store, conf->store_path, conf->store_secret, 0, err, errlen) !=
	        0 ||
	    store_attach(mo->store, base) != 0 || probe_env_init(&mo->env, base, err, errlen) != 0)
		goto fail;
	mo->base = base;
	{
		char host[64] = "";

		gethostname(host, sizeof(host) - 1);
		snprintf(mo->controller, sizeof(mo->controller), "%s:%ld", host, (long)getpid());
	}
	mo->notify = mon_notify_new(mo);
	mo->sched = sched_new(&mo->env, conf->max_in_flight, mo->scale, on_result, mo);
	if (!mo->notify || !mo->sched || nodes_reload(mo, NULL, conf) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < conf->nchecks; i++)
		if (!mon_add(mo, &conf->checks[i])) {
			snprintf(err, errlen, "out of memory adding check %s",
			         conf->checks[i].name);
			goto fail;
		}
	mo->started_ms = mo->lead_since_ms = mp_wall_ms();
	/* Alone, or first: active at once. Else standing by until the store says otherwise. */
	mo->lead_starting = 1;
	if (store_lead(mo->store, on_role, mo) != 0) {
		snprintf(err, errlen, "store: cannot ask for the lead: out of memory");
		goto fail;
	}
	mo->lead_starting = 0;
	if (!mo->lead_active) {
		lead_unschedule(mo);
		log_msg(LOG_NOTICE,
		        "store: another controller is the active one: this one stands by, serving "
		        "the dashboard and the API, and takes over when that one stops");
	}
	return mo;
fail:
	(void)monitor_free(mo, 0);
	return NULL;
}

int monitor_free(struct monitor *mo, int clean)
{
	int rc = 0;

	if (!mo)
		return 0;
	if (mo->sched)
		sched_free(mo->sched);
	mo->sched = NULL;
	notify_free(mo->notify); /* reports what is abandoned, into the store */
	mo->notify = NULL;
	if (mo->store && stop_store(mo, clean) != 0)
		rc = -1;
	for (int b = 0; b < MON_BUCKETS; b++) {
		while (mo->buckets[b]) {
			struct mon *m = mo->buckets[b];
			mo->buckets[b] = m->hnext;
			mon_release(m);
		}
	}
	if (mo->env.base)
		probe_env_free(&mo->env);
	nodes_free(mo);
	waiters_run(mo, UINT64_MAX);
	free(mo->waiters);
	conf_unref(mo->conf);
	free(mo);
	return rc;
}
