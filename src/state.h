/*
 * state.h - the alert state of one check: up / degraded / down with
 * confirmation, incidents, and what to notify. Pure logic, no I/O: the
 * daemon feeds it probe results and acts on the changes it returns.
 *
 * Rules (fail_after = N, recover_after = M):
 *  - N consecutive down results make the check down; that opens an incident.
 *  - While down, M consecutive results that are not down recover it (to up
 *    or degraded, as the last result says); that closes the incident.
 *  - N consecutive results worse than up (but not N downs) make it degraded;
 *    M consecutive up results make a degraded check up again.
 *  - A result of status unknown (our side failed) is no evidence either
 *    way: it changes no counter.
 *  - Before its first verdict a check is "pending" (MP_UNKNOWN): a first up
 *    result makes it up at once, without a notification.
 */
#ifndef MP_STATE_H
#define MP_STATE_H

#include <stdint.h>

#include "result.h"

struct check_state {
	enum mp_status status; /* confirmed; MP_UNKNOWN while pending */
	enum mp_reason reason; /* of the result that caused the current status */
	int64_t since_ms;
	unsigned downs;    /* consecutive down results */
	unsigned bads;     /* consecutive results worse than up */
	unsigned notdowns; /* consecutive results not down */
	unsigned ups;      /* consecutive up results */
	int incident_open;
	int64_t incident_start_ms;
	int64_t last_alert_ms; /* last down/degraded/reminder notification, for reminders */
	unsigned incident_seq; /* makes incident keys unique per check */
};

enum state_alert {
	STATE_ALERT_NONE,
	STATE_ALERT_DOWN,
	STATE_ALERT_DEGRADED,
	STATE_ALERT_RECOVERY,
};

/* What one result changed. */
struct state_change {
	int changed; /* the confirmed status moved */
	enum mp_status from;
	enum mp_status to;
	enum mp_reason reason;
	int incident_opened;
	int incident_closed;
	int64_t incident_ms; /* duration of the closed incident */
	enum state_alert alert;
	int confirming; /* counters are mid-way to a change: probe again soon */
};

void state_init(struct check_state *st, int64_t now_ms);

/* Resume from what the store remembered (a restart must not re-alert). */
void state_resume(struct check_state *st, enum mp_status status, enum mp_reason why,
                  int64_t since_ms, int incident_open);

struct state_change state_on_result(struct check_state *st, enum mp_status result_status,
                                    enum mp_reason result_reason, unsigned fail_after,
                                    unsigned recover_after, int64_t now_ms);

/* 1 when a reminder is due: down, reminders on, and reminder_ms since the last alert. */
int state_reminder_due(const struct check_state *st, unsigned reminder_ms, int64_t now_ms);

/* A reminder was sent at now_ms. */
void state_reminded(struct check_state *st, int64_t now_ms);

/* "pending" for MP_UNKNOWN, else result_status_name(). */
const char *state_status_name(enum mp_status st);

#endif
