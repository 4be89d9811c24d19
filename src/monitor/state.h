/* SPDX-License-Identifier: ISC */
/*
 * state.h - the alert state of one check: up / degraded / down with
 * confirmation, severity, incidents, and what to notify. Pure logic, no
 * I/O: the daemon feeds it probe results and acts on the changes it returns.
 *
 * A result has a level: 0 up, 1 degraded (warning), 2 degraded (critical:
 * a critical threshold crossed while the service works), 3 down
 * (result_rank()). Rules (fail_after = N, recover_after = M):
 *  - N consecutive down results make the check down; that opens an incident.
 *  - N consecutive results at level 1 or worse move an up check to the
 *    highest level that N consecutive results reached, but only on a result
 *    that is not down: a streak of downs is confirmed as down or not at all.
 *    A degraded check rises from warning to critical the same way.
 *  - M consecutive results below the current level move the check to the
 *    level of the last one: down recovers (closing the incident), critical
 *    eases to warning or up, warning to up.
 *  - A result of status unknown (our side failed) is no evidence either
 *    way: it changes no counter.
 *  - Before its first verdict a check is pending (->pending; status is
 *    MP_UNKNOWN then): a first up result makes it up at once, without a
 *    notification. Pending is "no verdict yet", never "our side failed".
 *  - A confirmed status starts at the first result of the streak that
 *    confirmed it, not at the result that completed it: an incident starts
 *    at the first failing probe.
 */
#ifndef MP_STATE_H
#define MP_STATE_H

#include <stdint.h>

#include "core/result.h"

#define STATE_LEVELS 4 /* up, degraded warning, degraded critical, down */

/* One streak: how many consecutive results, and the time of the first. */
struct state_streak {
	unsigned n;
	int64_t since_ms;
};

/* Owned by whoever embeds it (the daemon's per-check record); plain data. */
struct check_state {
	int pending;               /* no verdict yet (status MP_UNKNOWN) */
	enum mp_status status;     /* confirmed; MP_UNKNOWN while pending */
	enum mp_severity severity; /* confirmed; MP_SEV_UNKNOWN while pending */
	enum mp_reason reason;     /* of the result that caused the current status */
	int64_t since_ms;          /* first result of the streak that confirmed it */
	/* [k]: consecutive results at level k or worse; below[k]: better than k. */
	struct state_streak atleast[STATE_LEVELS];
	struct state_streak below[STATE_LEVELS];
	int incident_open;
	int64_t incident_start_ms;
	int64_t last_alert_ms; /* last down/degraded/reminder notification, for reminders */
	unsigned incident_seq; /* makes incident keys unique per check */
};

enum state_alert {
	STATE_ALERT_NONE,
	STATE_ALERT_DOWN,
	STATE_ALERT_DEGRADED, /* degraded, or a degraded check now critical */
	STATE_ALERT_RECOVERY,
};

/* What one result changed. */
struct state_change {
	int changed; /* the confirmed status or severity moved */
	enum mp_status from;
	enum mp_status to;
	enum mp_severity from_severity;
	enum mp_severity to_severity;
	enum mp_reason reason;
	int64_t since_ms;    /* when the new state began: the streak's first result */
	unsigned confirmed;  /* results in the streak that confirmed the change */
	int incident_opened; /* starts at since_ms */
	int incident_closed;
	int64_t incident_ms; /* duration of the closed incident, to since_ms */
	enum state_alert alert;
	int confirming; /* counters are mid-way to a change: probe again soon */
};

void state_init(struct check_state *st, int64_t now_ms);

/* Resume from what the store remembered (a restart must not re-alert). */
void state_resume(struct check_state *st, enum mp_status status, enum mp_severity sev,
                  enum mp_reason why, int64_t since_ms, int incident_open,
                  int64_t incident_start_ms);

struct state_change state_on_result(struct check_state *st, enum mp_status result_status,
                                    enum mp_severity result_severity, enum mp_reason result_reason,
                                    unsigned fail_after, unsigned recover_after, int64_t now_ms);

/*
 * The confirmed level: -1 while pending, else 0 up .. 3 down (result_rank()).
 */
int state_level(const struct check_state *st);

/*
 * Move st to level to_level (0..3) as a verdict over several results or
 * locations decided (verdict.h), with the reason, the start and the count
 * of results that confirmed it: the incident, alert and reminder rules of
 * state_on_result(), without its counters. Moving to the level it has
 * changes nothing.
 */
struct state_change state_move(struct check_state *st, int to_level, enum mp_reason why,
                               int64_t since_ms, unsigned confirmed, int64_t now_ms);

/*
 * 1 when a reminder is due: reminders on, reminder_ms since the last alert,
 * and the check down or critical.
 */
int state_reminder_due(const struct check_state *st, unsigned reminder_ms, int64_t now_ms);

/* A reminder was sent at now_ms. */
void state_reminded(struct check_state *st, int64_t now_ms);

/* "pending" for MP_UNKNOWN, else result_status_name(). */
const char *state_status_name(enum mp_status st);
/* The same for a state: "pending" while pending, "unknown" when our side cannot tell. */
const char *state_name(const struct check_state *st);

#endif
