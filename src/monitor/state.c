/* SPDX-License-Identifier: ISC */
/*
 * state.c - confirmation counters and the transitions they cause.
 */
#include "monitor/state.h"

#include <string.h>

void state_init(struct check_state *st, int64_t now_ms)
{
	memset(st, 0, sizeof(*st));
	st->pending = 1;
	st->status = MP_UNKNOWN;
	st->severity = MP_SEV_UNKNOWN;
	st->reason = MP_R_OK;
	st->since_ms = now_ms;
}

void state_resume(struct check_state *st, enum mp_status status, enum mp_severity sev,
                  enum mp_reason why, int64_t since_ms, int incident_open,
                  int64_t incident_start_ms)
{
	/* The store keeps pending and unknown alike: neither is a verdict to resume. */
	st->pending = status == MP_UNKNOWN;
	st->status = status;
	st->severity = sev;
	st->reason = why;
	st->since_ms = since_ms;
	st->incident_open = incident_open && status == MP_DOWN;
	st->incident_start_ms =
	    st->incident_open ? (incident_start_ms > 0 ? incident_start_ms : since_ms) : 0;
	/* Already alerted before the restart; a reminder is due from there. */
	st->last_alert_ms = status == MP_UP ? 0 : since_ms;
}

/* Pending ranks below up, so that any verdict is a change. */
int state_level(const struct check_state *st)
{
	return st->pending || st->status == MP_UNKNOWN ? -1 : result_rank(st->status, st->severity);
}

static void level_status(int level, enum mp_status *s, enum mp_severity *sev)
{
	static const enum mp_status st[STATE_LEVELS] = {MP_UP, MP_DEGRADED, MP_DEGRADED, MP_DOWN};
	static const enum mp_severity sv[STATE_LEVELS] = {MP_SEV_OK, MP_SEV_WARNING,
	                                                  MP_SEV_CRITICAL, MP_SEV_CRITICAL};
	*s = st[level];
	*sev = sv[level];
}

static void move(struct check_state *st, struct state_change *ch, int to_level, int64_t since_ms,
                 unsigned confirmed, enum mp_reason why, int64_t now_ms)
{
	int from_level = state_level(st), was_pending = st->pending;
	enum mp_status to;
	enum mp_severity to_sev;

	level_status(to_level, &to, &to_sev);
	ch->changed = 1;
	ch->from = st->status;
	ch->from_severity = st->severity;
	ch->to = to;
	ch->to_severity = to_sev;
	ch->reason = why;
	ch->since_ms = since_ms ? since_ms : now_ms;
	ch->confirmed = confirmed;
	if (to == MP_DOWN && !st->incident_open) {
		st->incident_open = 1;
		st->incident_start_ms = ch->since_ms;
		st->incident_seq++;
		ch->incident_opened = 1;
	} else if (to != MP_DOWN && st->incident_open) {
		st->incident_open = 0;
		ch->incident_closed = 1;
		ch->incident_ms = ch->since_ms - st->incident_start_ms;
		if (ch->incident_ms < 0)
			ch->incident_ms = 0;
	}
	if (to == MP_DOWN)
		ch->alert = STATE_ALERT_DOWN;
	else if (st->status == MP_DOWN)
		ch->alert = STATE_ALERT_RECOVERY; /* down -> degraded counts as a recovery too */
	else if (to_level > from_level && to_level > 0)
		ch->alert = STATE_ALERT_DEGRADED; /* includes warning -> critical */
	else if (to == MP_UP && st->status == MP_DEGRADED)
		ch->alert = STATE_ALERT_RECOVERY;
	/* Critical easing to warning: still degraded; said at the next change or reminder. */
	/* A first verdict from pending that is up needs nobody's attention. */
	if (was_pending && to == MP_UP)
		ch->alert = STATE_ALERT_NONE;
	if (ch->alert == STATE_ALERT_DOWN || ch->alert == STATE_ALERT_DEGRADED)
		st->last_alert_ms = now_ms;
	st->pending = 0;
	st->status = to;
	st->severity = to_sev;
	st->reason = why;
	st->since_ms = ch->since_ms;
}

struct state_change state_move(struct check_state *st, int to_level, enum mp_reason why,
                               int64_t since_ms, unsigned confirmed, int64_t now_ms)
{
	struct state_change ch;

	memset(&ch, 0, sizeof(ch));
	ch.from = ch.to = st->status;
	ch.from_severity = ch.to_severity = st->severity;
	if (to_level >= 0 && to_level < STATE_LEVELS && to_level != state_level(st))
		move(st, &ch, to_level, since_ms, confirmed, why, now_ms);
	return ch;
}

static void count(struct state_streak *s, int hit, int64_t now_ms)
{
	if (!hit) {
		s->n = 0;
		return;
	}
	if (s->n++ == 0)
		s->since_ms = now_ms;
}

struct state_change state_on_result(struct check_state *st, enum mp_status rs,
                                    enum mp_severity rsev, enum mp_reason why, unsigned fail_after,
                                    unsigned recover_after, int64_t now_ms)
{
	struct state_change ch;

	memset(&ch, 0, sizeof(ch));
	ch.from = ch.to = st->status;
	ch.from_severity = ch.to_severity = st->severity;
	if (fail_after < 1)
		fail_after = 1;
	if (recover_after < 1)
		recover_after = 1;
	if (rs == MP_UNKNOWN)
		return ch;

	int l = result_rank(rs, rsev), cur = state_level(st);
	for (int k = 1; k < STATE_LEVELS; k++) {
		count(&st->atleast[k], l >= k, now_ms);
		count(&st->below[k], l < k, now_ms);
	}

	if (cur < 3 && st->atleast[3].n >= fail_after) {
		move(st, &ch, 3, st->atleast[3].since_ms, st->atleast[3].n, why, now_ms);
	} else if (cur == -1 && l == 0) {
		move(st, &ch, 0, st->below[1].since_ms, st->below[1].n, why, now_ms);
	} else if (l > cur && l < 3) {
		/* The highest level that fail_after results in a row reached. */
		for (int k = l; k > cur && k > 0; k--) {
			if (st->atleast[k].n >= fail_after) {
				move(st, &ch, k, st->atleast[k].since_ms, st->atleast[k].n, why,
				     now_ms);
				break;
			}
		}
	} else if (l < cur && cur > 0 && st->below[cur].n >= recover_after) {
		move(st, &ch, l, st->below[cur].since_ms, st->below[cur].n, why, now_ms);
	}

	/* Evidence is accumulating toward a change that has not happened yet. */
	cur = state_level(st);
	if (cur > 0 && st->below[cur].n > 0 && st->below[cur].n < recover_after)
		ch.confirming = 1;
	for (int k = cur < 0 ? 1 : cur + 1; k < STATE_LEVELS; k++)
		if (st->atleast[k].n > 0 && st->atleast[k].n < fail_after)
			ch.confirming = 1;
	return ch;
}

int state_reminder_due(const struct check_state *st, unsigned reminder_ms, int64_t now_ms)
{
	int serious =
	    st->status == MP_DOWN || (st->status == MP_DEGRADED && st->severity == MP_SEV_CRITICAL);

	return serious && reminder_ms > 0 && now_ms - st->last_alert_ms >= (int64_t)reminder_ms;
}

void state_reminded(struct check_state *st, int64_t now_ms)
{
	st->last_alert_ms = now_ms;
}

const char *state_status_name(enum mp_status st)
{
	return st == MP_UNKNOWN ? "pending" : result_status_name(st);
}

const char *state_name(const struct check_state *st)
{
	return st->pending ? "pending" : result_status_name(st->status);
}
