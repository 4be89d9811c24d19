/*
 * state.c - confirmation counters and the transitions they cause.
 */
#include "state.h"

#include <string.h>

void state_init(struct check_state *st, int64_t now_ms)
{
	memset(st, 0, sizeof(*st));
	st->status = MP_UNKNOWN;
	st->reason = MP_R_OK;
	st->since_ms = now_ms;
}

void state_resume(struct check_state *st, enum mp_status status, enum mp_reason why,
                  int64_t since_ms, int incident_open)
{
	st->status = status;
	st->reason = why;
	st->since_ms = since_ms;
	st->incident_open = incident_open && status == MP_DOWN;
	st->incident_start_ms = st->incident_open ? since_ms : 0;
	/* Already alerted before the restart; a reminder is due from there. */
	st->last_alert_ms = status == MP_UP ? 0 : since_ms;
}

static void move(struct check_state *st, struct state_change *ch, enum mp_status to,
                 enum mp_reason why, int64_t now_ms)
{
	ch->changed = 1;
	ch->from = st->status;
	ch->to = to;
	ch->reason = why;
	if (to == MP_DOWN && !st->incident_open) {
		st->incident_open = 1;
		st->incident_start_ms = now_ms;
		st->incident_seq++;
		ch->incident_opened = 1;
	} else if (to != MP_DOWN && st->incident_open) {
		st->incident_open = 0;
		ch->incident_closed = 1;
		ch->incident_ms = now_ms - st->incident_start_ms;
	}
	if (to == MP_DOWN)
		ch->alert = STATE_ALERT_DOWN;
	else if (to == MP_DEGRADED && st->status != MP_DOWN)
		ch->alert = STATE_ALERT_DEGRADED;
	else if (st->status == MP_DOWN || st->status == MP_DEGRADED)
		ch->alert = STATE_ALERT_RECOVERY; /* down -> degraded counts as a recovery too */
	/* A first verdict from pending that is up needs nobody's attention. */
	if (st->status == MP_UNKNOWN && to == MP_UP)
		ch->alert = STATE_ALERT_NONE;
	if (ch->alert == STATE_ALERT_DOWN || ch->alert == STATE_ALERT_DEGRADED)
		st->last_alert_ms = now_ms;
	st->status = to;
	st->reason = why;
	st->since_ms = now_ms;
}

struct state_change state_on_result(struct check_state *st, enum mp_status rs, enum mp_reason why,
                                    unsigned fail_after, unsigned recover_after, int64_t now_ms)
{
	struct state_change ch;

	memset(&ch, 0, sizeof(ch));
	ch.from = ch.to = st->status;
	if (fail_after < 1)
		fail_after = 1;
	if (recover_after < 1)
		recover_after = 1;
	if (rs == MP_UNKNOWN)
		return ch;

	st->downs = rs == MP_DOWN ? st->downs + 1 : 0;
	st->notdowns = rs != MP_DOWN ? st->notdowns + 1 : 0;
	st->bads = rs != MP_UP ? st->bads + 1 : 0;
	st->ups = rs == MP_UP ? st->ups + 1 : 0;

	switch (st->status) {
	case MP_DOWN:
		if (st->notdowns >= recover_after)
			move(st, &ch, rs, why, now_ms);
		break;
	case MP_DEGRADED:
		if (st->downs >= fail_after)
			move(st, &ch, MP_DOWN, why, now_ms);
		else if (st->ups >= recover_after)
			move(st, &ch, MP_UP, why, now_ms);
		break;
	case MP_UP:
		if (st->downs >= fail_after)
			move(st, &ch, MP_DOWN, why, now_ms);
		else if (st->bads >= fail_after && rs == MP_DEGRADED)
			move(st, &ch, MP_DEGRADED, why, now_ms);
		break;
	case MP_UNKNOWN:
		if (rs == MP_UP)
			move(st, &ch, MP_UP, why, now_ms);
		else if (st->downs >= fail_after)
			move(st, &ch, MP_DOWN, why, now_ms);
		else if (st->bads >= fail_after && rs == MP_DEGRADED)
			move(st, &ch, MP_DEGRADED, why, now_ms);
		break;
	}

	/* Evidence is accumulating toward a change that has not happened yet. */
	switch (st->status) {
	case MP_DOWN:
		ch.confirming = st->notdowns > 0 && st->notdowns < recover_after;
		break;
	case MP_DEGRADED:
		ch.confirming = (st->downs > 0 && st->downs < fail_after) ||
		                (st->ups > 0 && st->ups < recover_after);
		break;
	default:
		ch.confirming = st->bads > 0 && st->bads < fail_after;
		break;
	}
	return ch;
}

int state_reminder_due(const struct check_state *st, unsigned reminder_ms, int64_t now_ms)
{
	return st->status == MP_DOWN && reminder_ms > 0 &&
	       now_ms - st->last_alert_ms >= (int64_t)reminder_ms;
}

void state_reminded(struct check_state *st, int64_t now_ms)
{
	st->last_alert_ms = now_ms;
}

const char *state_status_name(enum mp_status st)
{
	return st == MP_UNKNOWN ? "pending" : result_status_name(st);
}
