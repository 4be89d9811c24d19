/* SPDX-License-Identifier: ISC */
/*
 * nodes.c - the probing nodes as the controller sees them: one entry per
 * configured node, its health (pending, ok, impaired, lost) and the one
 * function that changes it (node_set()), which tells the node channels
 * and has the checks the node is a location of weighed again. Also the
 * node's batches (ids seen, counters), its clock skew, and its
 * assignments (the checks whose locations name it, and their etag).
 *
 * Everything runs on the loop's thread. Node alerts are never a check's:
 * they open no incident and go to conf.node_channels only.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "core/log.h"
#include "monitor/monitor.h"
#include "monitor/nodes_int.h"
#include "notify/notify.h"
#include "wire/node_json.h"

/* The disagreement rule is weighed every this many ticks (seconds): O(checks x locations). */
#define NODES_EVAL_TICKS 5
/* What of a canary's target and message an impaired node's why shows. */
#define WHY_TARGET_MAX  80
#define WHY_MESSAGE_MAX 120

const char *mon_node_state_name(enum mon_node_state s)
{
	static const char *const names[] = {"pending", "ok", "impaired", "lost"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* ---- the impaired rule (pure) -------------------------------------------- */

/* Copy at most max bytes of a node's string into dst, control bytes shown as '?'. */
static void clean(char *dst, size_t dstsz, const char *s, size_t max)
{
	size_t o = 0;

	for (; s && *s && o < max && o + 1 < dstsz; s++)
		dst[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	if (dstsz)
		dst[o < dstsz ? o : dstsz - 1] = '\0';
}

int nodes_impaired_rule(const struct node_canary *canaries, int ncanaries, unsigned shared,
                        unsigned down_alone, char *why, size_t whylen)
{
	if (whylen)
		why[0] = '\0';
	if (ncanaries > NODE_CANARIES_MAX)
		ncanaries = NODE_CANARIES_MAX;
	for (int i = 0; canaries && i < ncanaries; i++) {
		const struct node_canary *c = &canaries[i];
		char target[WHY_TARGET_MAX + 1], message[WHY_MESSAGE_MAX + 1];

		/*
		 * The default canary is the controller itself: a node that cannot
		 * reach it is lost, not impaired, and the heartbeat that reports
		 * its failures is the proof that it reaches it now.
		 */
		if (c->failing < MON_NODE_CANARY_FAILS || strcmp(c->target, "controller") == 0)
			continue;
		/* The node's words: bounded and stripped of control bytes, they go into alerts. */
		clean(target, sizeof(target), c->target, WHY_TARGET_MAX);
		clean(message, sizeof(message), c->message, WHY_MESSAGE_MAX);
		if (message[0])
			snprintf(why, whylen, "canary %s: %s: %s", target,
			         result_reason_name(c->reason), message);
		else
			snprintf(why, whylen, "canary %s: %s", target,
			         result_reason_name(c->reason));
		return 1;
	}
	if (shared >= MON_NODE_DISAGREE_MIN && down_alone > shared / 2) {
		snprintf(why, whylen,
		         "sees %u of %u shared checks down that other locations see up", down_alone,
		         shared);
		return 1;
	}
	return 0;
}

/* ---- the registry --------------------------------------------------------- */

int nodes_index(const struct monitor *mo, const char *name)
{
	for (int i = 0; i < mo->nnodes; i++)
		if (strcmp(mo->nodes[i].name, name) == 0)
			return i;
	return -1;
}

/* Send a node's alert of kind to the node channels of conf. */
static void node_notify(struct monitor *mo, const struct conf *c, const struct mon_node *n,
                        enum notify_kind kind, const char *why, int64_t since_ms,
                        int64_t duration_ms, int64_t now, int pagerduty_only)
{
	struct notify_event ev = {
	    .kind = kind,
	    .location = c->location,
	    .status = MP_UNKNOWN,
	    .severity = MP_SEV_UNKNOWN,
	    .prev = MP_UNKNOWN,
	    .reason = MP_R_OK,
	    .message = "",
	    .greeting = "",
	    .since_ms = since_ms,
	    .now_ms = now,
	    .duration_ms = duration_ms,
	    .dashboard_url = c->dashboard_url,
	    .node = n->name,
	    .why = why,
	};

	for (int k = 0; k < c->nnode_channels && k < CONF_ROUTES_MAX; k++) {
		int ci = c->node_channels[k];

		if (ci < 0 || ci >= c->nchannels)
			continue;
		if (pagerduty_only && c->channels[ci].type != CH_PAGERDUTY)
			continue;
		if (mon_notify_send(mo, &c->channels[ci], &ev) != 0)
			log_msg(LOG_ERR, "node %s: cannot queue a notification to %s (queue full)",
			        n->name, c->channels[ci].name);
	}
}

/*
 * The one writer of a node's state. A change is logged and told: lost and
 * impaired alert, the way back from them alerts, the first heartbeat of a
 * node does not. When the node starts or stops counting, the checks it is
 * a location of are weighed again (mon_node_changed()).
 */
static void node_set(struct monitor *mo, int i, enum mon_node_state to, const char *why,
                     int64_t now)
{
	struct mon_node *n = &mo->nodes[i];
	enum mon_node_state from = n->state;
	int64_t since = n->state_since_ms;
	char back[96];

	if (from == to) {
		/* Still impaired, maybe for another reason: shown, not told again. */
		snprintf(n->why, sizeof(n->why), "%s", why);
		return;
	}
	n->state = to;
	n->state_since_ms = now;
	snprintf(n->why, sizeof(n->why), "%s", why);
	switch (to) {
	case MON_NODE_LOST:
		log_msg(LOG_WARNING,
		        "node %s: lost (%s); its results do not count until it is back", n->name,
		        why);
		node_notify(mo, mo->conf, n, NOTIFY_NODE_LOST, why, now, 0, now, 0);
		break;
	case MON_NODE_IMPAIRED:
		log_msg(LOG_WARNING,
		        "node %s: impaired (%s); its results are kept but do not count until it "
		        "is well",
		        n->name, why);
		node_notify(mo, mo->conf, n, NOTIFY_NODE_IMPAIRED, why, now, 0, now, 0);
		break;
	case MON_NODE_OK:
		if (from == MON_NODE_PENDING) {
			log_msg(LOG_NOTICE, "node %s: first heartbeat; its results count", n->name);
			break;
		}
		snprintf(back, sizeof(back),
		         from == MON_NODE_LOST ? "heartbeats again after %lld s lost"
		                               : "no longer impaired after %lld s",
		         (long long)((now - since) / 1000));
		log_msg(LOG_NOTICE, "node %s: back (%s); its results count again", n->name, back);
		snprintf(n->why, sizeof(n->why), "%s", "");
		node_notify(mo, mo->conf, n, NOTIFY_NODE_BACK, back, now, now - since, now, 0);
		break;
	case MON_NODE_PENDING:
	default:
		break;
	}
	if ((from == MON_NODE_OK) != (to == MON_NODE_OK))
		mon_node_changed(mo, i, now,
		                 to == MON_NODE_OK &&
		                     (from == MON_NODE_IMPAIRED || from == MON_NODE_LOST));
}

/* Impaired or well, from its last heartbeat's canaries and the last disagreement count. */
static void node_weigh(struct monitor *mo, int i, int64_t now)
{
	struct mon_node *n = &mo->nodes[i];
	char why[MON_WHY_MAX];
	int bad =
	    nodes_impaired_rule(n->has_hb ? n->hb.canaries : NULL, n->has_hb ? n->hb.ncanaries : 0,
	                        n->shared, n->down_alone, why, sizeof(why));

	node_set(mo, i, bad ? MON_NODE_IMPAIRED : MON_NODE_OK, why, now);
}

int nodes_reload(struct monitor *mo, const struct conf *oc, const struct conf *nc)
{
	struct mon_node *nn = NULL;
	int64_t now = mon_now(mo);

	if (nc->nnodes > 0 && !(nn = calloc((size_t)nc->nnodes, sizeof(*nn)))) {
		/* The old entries stay; what they point into the old conf must not. */
		for (int i = 0; i < mo->nnodes; i++) {
			mo->nodes[i].cn = conf_find_node(nc, mo->nodes[i].name);
			mo->nodes[i].assign_valid = 0;
		}
		return -1;
	}
	for (int i = 0; i < nc->nnodes; i++) {
		const struct conf_node *cn = &nc->nodes[i];
		int j = nodes_index(mo, cn->name);

		if (j >= 0) {
			nn[i] = mo->nodes[j];
		} else {
			snprintf(nn[i].name, sizeof(nn[i].name), "%s", cn->name);
			nn[i].state = MON_NODE_PENDING;
			nn[i].state_since_ms = now;
		}
		nn[i].cn = cn;
		nn[i].assign_valid = 0; /* the checks may have changed */
	}
	/*
	 * A node removed while lost or impaired: its alert would stay open at
	 * PagerDuty for ever. Resolved there, with the old channels; nobody
	 * else is told (an edit of the file pages nobody).
	 */
	for (int j = 0; oc && j < mo->nnodes; j++) {
		struct mon_node *o = &mo->nodes[j];

		if (conf_find_node(nc, o->name))
			continue;
		if (o->state == MON_NODE_LOST || o->state == MON_NODE_IMPAIRED) {
			log_msg(LOG_NOTICE,
			        "node %s: removed while %s; its PagerDuty alert resolved", o->name,
			        mon_node_state_name(o->state));
			node_notify(mo, oc, o, NOTIFY_NODE_BACK, "removed from the configuration",
			            now, now - o->state_since_ms, now, 1);
		}
	}
	free(mo->nodes);
	mo->nodes = nn;
	mo->nnodes = nc->nnodes;
	return 0;
}

void nodes_free(struct monitor *mo)
{
	free(mo->nodes);
	mo->nodes = NULL;
	mo->nnodes = 0;
}

/*
 * For each node: of the checks it shares with at least one other counting
 * location (both have confirmed a state recently), how many it sees down
 * while another counting location sees them answer. The node's own health
 * does not enter (it is what is being weighed); the others' does.
 * O(checks x locations^2); locations are a handful.
 */
static void nodes_disagreement(struct monitor *mo, int64_t now)
{
	for (int i = 0; i < mo->nnodes; i++)
		mo->nodes[i].shared = mo->nodes[i].down_alone = 0;
	for (int b = 0; b < MON_BUCKETS; b++)
		for (struct mon *m = mo->buckets[b]; m; m = m->hnext) {
			if (!m->active || m->nlocs < 2)
				continue;
			for (int i = 0; i < m->nlocs; i++) {
				const struct mon_loc *l = &m->locs[i];
				int lv = mon_loc_level(l), shared = 0, up_elsewhere = 0;

				if (l->kind != LOC_NODE || lv < 0 ||
				    now - l->last_ms > mon_stale_ms(mo, m->cc))
					continue;
				for (int j = 0; j < m->nlocs; j++) {
					const struct mon_loc *o = &m->locs[j];

					if (j == i || !mon_loc_counts(mo, m, o, now))
						continue;
					shared = 1;
					up_elsewhere |= mon_loc_level(o) < 3;
				}
				if (!shared)
					continue;
				mo->nodes[l->node].shared++;
				mo->nodes[l->node].down_alone += lv == 3 && up_elsewhere;
			}
		}
}

void nodes_tick(struct monitor *mo, int64_t now)
{
	double lost = MON_NODE_LOST_MS * mo->scale;
	int64_t lost_ms = lost < 1 ? 1 : (int64_t)lost;
	int weigh = ++mo->node_ticks % NODES_EVAL_TICKS == 0;

	if (weigh)
		nodes_disagreement(mo, now);
	for (int i = 0; i < mo->nnodes; i++) {
		struct mon_node *n = &mo->nodes[i];
		char why[MON_WHY_MAX];

		if (n->state == MON_NODE_PENDING) {
			/* Never heard from since start: said once, not alerted (nothing was lost).
			 */
			if (!n->pending_told && now - n->state_since_ms > lost_ms) {
				n->pending_told = 1;
				log_msg(LOG_WARNING,
				        "node %s: no heartbeat in the %lld s since the controller "
				        "started",
				        n->name, (long long)((now - n->state_since_ms) / 1000));
			}
			continue;
		}
		if (n->state == MON_NODE_LOST)
			continue;
		if (now - n->last_heartbeat_ms > lost_ms) {
			snprintf(why, sizeof(why), "no heartbeat for %lld s",
			         (long long)((now - n->last_heartbeat_ms) / 1000));
			node_set(mo, i, MON_NODE_LOST, why, now);
			continue;
		}
		if (weigh)
			node_weigh(mo, i, now);
	}
}

/* A node's clock against ours: flagged over MON_SKEW_MAX_MS, logged when that changes. */
static void skew_update(struct mon_node *n, int64_t skew)
{
	int flag = skew > MON_SKEW_MAX_MS || skew < -MON_SKEW_MAX_MS;

	n->skew_ms = skew;
	if (flag && !n->skew_flagged)
		log_msg(LOG_WARNING,
		        "node %s: clock skew %+lld ms, over the bound of %d ms: the times of its "
		        "results mislead (set its clock with NTP)",
		        n->name, (long long)skew, MON_SKEW_MAX_MS);
	else if (!flag && n->skew_flagged)
		log_msg(LOG_NOTICE, "node %s: clock skew back within %d ms (%+lld ms)", n->name,
		        MON_SKEW_MAX_MS, (long long)skew);
	n->skew_flagged = flag;
}

void nodes_count(struct monitor *mo, int i, enum mon_remote rc)
{
	struct mon_node *n = &mo->nodes[i];

	switch (rc) {
	case MON_REMOTE_ACCEPTED:
		n->results_accepted++;
		break;
	case MON_REMOTE_LATE:
		n->results_late++;
		break;
	case MON_REMOTE_DUPLICATE:
		n->results_duplicate++;
		break;
	case MON_REMOTE_NO_CHECK:
	case MON_REMOTE_NOT_ASSIGNED:
	case MON_REMOTE_BAD_META:
	default:
		n->results_refused++;
		break;
	}
}

int nodes_had(const struct monitor *mo, int i, uint64_t seq)
{
	const struct mon_node *n = &mo->nodes[i];

	/* Within a batch seqs rise: one that does not was in it already. */
	if (seq < n->floor || (n->cur_hi && seq <= n->cur_hi))
		return 1;
	for (int k = 0; k < n->nseen; k++)
		if (seq >= n->seen[k].lo && seq <= n->seen[k].hi)
			return 1;
	return 0;
}

void nodes_took(struct monitor *mo, int i, uint64_t seq)
{
	struct mon_node *n = &mo->nodes[i];

	if (!n->cur_lo)
		n->cur_lo = seq;
	n->cur_hi = seq;
}

/*
 * Everything in [lo, hi] was taken. A batch holds every result its node
 * had waiting between its first and its last, so the ids between them
 * that were not in it had been acknowledged before or were dropped: the
 * whole range counts. Ranges that touch or overlap are merged; ranges
 * wholly below the floor go, since the node never sends those again.
 */
static void seen_add(struct mon_node *n, uint64_t lo, uint64_t hi)
{
	int k = 0, w = 0;

	for (int r = 0; r < n->nseen; r++)
		if (n->seen[r].hi >= n->floor)
			n->seen[w++] = n->seen[r];
	n->nseen = w;
	if (!lo || hi < n->floor)
		return;
	while (k < n->nseen && n->seen[k].hi < lo && n->seen[k].hi + 1 != lo)
		k++;
	if (k < n->nseen && n->seen[k].lo <= hi + 1) {
		/* Overlaps or touches seen[k], and maybe those after it. */
		int j = k;

		if (lo < n->seen[k].lo)
			n->seen[k].lo = lo;
		while (j + 1 < n->nseen && n->seen[j + 1].lo <= hi + 1)
			j++;
		if (n->seen[j].hi > hi)
			hi = n->seen[j].hi;
		n->seen[k].hi = hi > n->seen[k].hi ? hi : n->seen[k].hi;
		memmove(&n->seen[k + 1], &n->seen[j + 1],
		        (size_t)(n->nseen - j - 1) * sizeof(n->seen[0]));
		n->nseen -= j - k;
		return;
	}
	if (n->nseen == MON_NODE_SEEN_MAX) {
		/* Forget the lowest: at worst a result sent again is stored twice. */
		memmove(&n->seen[0], &n->seen[1], (size_t)(n->nseen - 1) * sizeof(n->seen[0]));
		n->nseen--;
		if (k > 0)
			k--;
	}
	memmove(&n->seen[k + 1], &n->seen[k], (size_t)(n->nseen - k) * sizeof(n->seen[0]));
	n->seen[k].lo = lo;
	n->seen[k].hi = hi;
	n->nseen++;
}

void monitor_node_batch_end(struct monitor *mo, const char *node, void (*fn)(void *arg), void *arg)
{
	int i = nodes_index(mo, node);

	if (i >= 0) {
		struct mon_node *n = &mo->nodes[i];

		seen_add(n, n->cur_lo, n->cur_hi);
		n->cur_lo = n->cur_hi = 0;
	}
	monitor_store_then(mo, fn, arg);
}

void nodes_log_refusal(struct monitor *mo, int i, const char *check, int64_t now)
{
	struct mon_node *n = &mo->nodes[i];
	struct mon_refusal *slot = NULL, *oldest = &n->refusals[0];
	char more[64] = "";

	for (int k = 0; k < MON_NODE_REFUSAL_SLOTS; k++) {
		struct mon_refusal *r = &n->refusals[k];

		if (r->at_ms && strcmp(r->check, check) == 0) {
			slot = r;
			break;
		}
		if (r->at_ms < oldest->at_ms)
			oldest = r;
	}
	if (slot && now - slot->at_ms < MON_NODE_REFUSAL_EVERY_MS) {
		slot->suppressed++;
		return;
	}
	if (!slot) {
		slot = oldest;
		memset(slot, 0, sizeof(*slot));
		snprintf(slot->check, sizeof(slot->check), "%s", check);
	}
	if (slot->suppressed)
		snprintf(more, sizeof(more), " (and %u more since the last such line)",
		         slot->suppressed);
	slot->suppressed = 0;
	slot->at_ms = now;
	log_msg(LOG_WARNING,
	        "node %s: a result for check %s refused: the check does not name this node in its "
	        "locations%s",
	        n->name, check, more);
}

/* ---- what the HTTP side asks (monitor.h) ---------------------------------- */

/* A length-prefixed string into the etag's digest (NULL differs from ""). */
static void dg_str(EVP_MD_CTX *c, const char *s)
{
	unsigned char head[5] = {s ? 1 : 0, 0, 0, 0, 0};
	size_t n = s ? strlen(s) : 0;

	head[1] = (unsigned char)(n >> 24);
	head[2] = (unsigned char)(n >> 16);
	head[3] = (unsigned char)(n >> 8);
	head[4] = (unsigned char)n;
	EVP_DigestUpdate(c, head, sizeof(head));
	if (n)
		EVP_DigestUpdate(c, s, n);
}

static void dg_num(EVP_MD_CTX *c, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", v);
	dg_str(c, buf);
}

/*
 * The etag of node n's assignments, and their count: the first 32 hex
 * digits of SHA-256 over each assigned check's name, digest, interval,
 * retry, password_to_nodes and password source, and, when the password
 * travels, an HMAC of it keyed with the node's token: a changed secret
 * changes the etag, while the etag tells nothing of the secret to anyone
 * without the token (and the node, which has the token, gets the secret
 * anyway). Cached until the next reload, since a conf never changes.
 * O(checks).
 */
static void assign_etag(struct monitor *mo, struct mon_node *n)
{
	const struct conf *c = mo->conf;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *x;

	if (n->assign_valid)
		return;
	n->checks_assigned = 0;
	if (!(x = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(x, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(x);
		snprintf(n->etag, sizeof(n->etag), "%s", "unknown");
		log_msg(LOG_ERR, "node %s: out of memory computing its assignments' etag", n->name);
		return;
	}
	dg_str(x, "mailpulse-assignments-1");
	for (int i = 0; i < c->nchecks; i++) {
		const struct conf_check *cc = &c->checks[i];

		if (cc->nlocations == 0 || !conf_check_at(c, cc, n->name))
			continue;
		n->checks_assigned++;
		dg_str(x, cc->name);
		dg_str(x, cc->digest);
		dg_num(x, cc->interval_ms);
		dg_num(x, cc->retry_ms);
		dg_num(x, (unsigned long long)(cc->password_to_nodes != 0));
		dg_str(x, cc->password_from);
		if (cc->password_to_nodes) {
			const char *key = n->cn && n->cn->token ? n->cn->token : "";
			const char *pw = cc->chk.password ? cc->chk.password : "";
			unsigned char mac[EVP_MAX_MD_SIZE];
			unsigned int maclen = 0;

			if (HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)pw,
			         strlen(pw), mac, &maclen))
				EVP_DigestUpdate(x, mac, maclen);
		}
	}
	EVP_DigestFinal_ex(x, md, &mdlen);
	EVP_MD_CTX_free(x);
	for (unsigned i = 0; i < 16 && i < mdlen; i++)
		snprintf(n->etag + 2 * i, 3, "%02x", md[i]);
	n->assign_valid = 1;
}

int monitor_node_heartbeat(struct monitor *mo, const char *node, const struct node_heartbeat *hb,
                           int64_t recv_ms, struct node_heartbeat_reply *reply)
{
	int i = nodes_index(mo, node);
	struct mon_node *n;

	if (i < 0)
		return -1;
	n = &mo->nodes[i];
	n->hb = *hb;
	if (n->hb.ncanaries < 0)
		n->hb.ncanaries = 0;
	if (n->hb.ncanaries > NODE_CANARIES_MAX)
		n->hb.ncanaries = NODE_CANARIES_MAX;
	n->has_hb = 1;
	n->last_heartbeat_ms = recv_ms;
	skew_update(n, hb->sent_ms - recv_ms);
	/* Heard from: pending or lost ends here, impaired is weighed on what it said. */
	node_weigh(mo, i, recv_ms);
	assign_etag(mo, n);
	memset(reply, 0, sizeof(*reply));
	snprintf(reply->etag, sizeof(reply->etag), "%s", n->etag);
	reply->controller_ms = recv_ms;
	reply->skew_ms = n->skew_ms;
	reply->skew_flagged = n->skew_flagged;
	return 0;
}

int monitor_node_batch(struct monitor *mo, const char *node, const struct node_batch_head *h,
                       int64_t recv_ms, struct node_batch_reply *reply)
{
	int i = nodes_index(mo, node);
	struct mon_node *n;

	if (i < 0)
		return -1;
	n = &mo->nodes[i];
	skew_update(n, h->sent_ms - recv_ms);
	n->cur_lo = n->cur_hi = 0;
	if (h->floor && h->floor < n->floor) {
		/*
		 * Its spool went back: a new file (deleted, or the node rebuilt)
		 * or an old copy. What was had from the old one says nothing
		 * about the new ids.
		 */
		log_msg(LOG_NOTICE,
		        "node %s: its spool starts lower than before (id %llu, was %llu): a new "
		        "spool; forgetting which results it sent",
		        n->name, (unsigned long long)h->floor, (unsigned long long)n->floor);
		n->nseen = 0;
		n->floor = h->floor;
		/* Nor do the old seqs say which of the new results are newer. */
		for (int b = 0; b < MON_BUCKETS; b++)
			for (struct mon *m = mo->buckets[b]; m; m = m->hnext)
				for (int k = 0; k < m->nlocs; k++)
					if (m->locs[k].kind == LOC_NODE && m->locs[k].node == i)
						m->locs[k].last_seq = 0;
	} else if (h->floor) {
		n->floor = h->floor;
	}
	assign_etag(mo, n);
	memset(reply, 0, sizeof(*reply));
	snprintf(reply->id, sizeof(reply->id), "%s", h->id);
	snprintf(reply->etag, sizeof(reply->etag), "%s", n->etag);
	reply->skew_ms = n->skew_ms;
	for (int k = 0; h->id[0] && k < MON_NODE_BATCH_RING; k++)
		if (strcmp(n->batch_ids[k], h->id) == 0) {
			n->batches_again++;
			/* Every result of it is had: counted as such, as one by one. */
			n->results_duplicate += h->n;
			return 1;
		}
	if (h->id[0]) {
		snprintf(n->batch_ids[n->batch_next], sizeof(n->batch_ids[0]), "%s", h->id);
		n->batch_next = (n->batch_next + 1) % MON_NODE_BATCH_RING;
	}
	n->batches++;
	n->last_batch_ms = recv_ms;
	return 0;
}

int monitor_node_assignments(struct monitor *mo, const char *node, char etag[NODE_ID_MAX],
                             char **doc)
{
	const struct conf *c = mo->conf;
	int i = nodes_index(mo, node), k = 0;
	struct node_check_out *out;
	struct mon_node *n;

	if (doc)
		*doc = NULL;
	if (i < 0)
		return -1;
	n = &mo->nodes[i];
	assign_etag(mo, n);
	snprintf(etag, NODE_ID_MAX, "%s", n->etag);
	if (!doc)
		return 0;
	if (!(out = calloc(n->checks_assigned ? n->checks_assigned : 1, sizeof(*out))))
		return -1;
	for (int j = 0; j < c->nchecks && (unsigned)k < n->checks_assigned; j++) {
		const struct conf_check *cc = &c->checks[j];

		if (cc->nlocations == 0 || !conf_check_at(c, cc, n->name))
			continue;
		out[k].name = cc->name;
		out[k].digest = cc->digest;
		out[k].interval_ms = cc->interval_ms;
		out[k].retry_ms = cc->retry_ms;
		out[k].chk = &cc->chk;
		out[k].pw_src = cc->password_from;
		/* The password itself only where the admin allowed it, to the nodes named. */
		out[k].password = cc->password_to_nodes ? cc->chk.password : NULL;
		k++;
	}
	*doc = node_assign_encode(n->name, n->etag, out, (size_t)k);
	free(out);
	return *doc ? 0 : -1;
}

void monitor_each_node(struct monitor *mo, mon_node_cb cb, void *arg)
{
	for (int i = 0; i < mo->nnodes; i++) {
		struct mon_node *n = &mo->nodes[i];
		struct mon_node_info ni;

		assign_etag(mo, n);
		memset(&ni, 0, sizeof(ni));
		ni.name = n->name;
		ni.region = n->cn ? n->cn->region : NULL;
		ni.state = n->state;
		ni.why = n->why;
		ni.state_since_ms = n->state_since_ms;
		ni.last_heartbeat_ms = n->last_heartbeat_ms;
		ni.hb = n->has_hb ? &n->hb : NULL;
		ni.skew_ms = n->skew_ms;
		ni.skew_flagged = n->skew_flagged;
		ni.checks_assigned = n->checks_assigned;
		ni.batches = n->batches;
		ni.results_accepted = n->results_accepted;
		ni.results_late = n->results_late;
		ni.results_duplicate = n->results_duplicate;
		ni.results_refused = n->results_refused;
		ni.last_batch_ms = n->last_batch_ms;
		cb(&ni, arg);
	}
}
