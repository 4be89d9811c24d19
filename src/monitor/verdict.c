/* SPDX-License-Identifier: ISC */
/*
 * verdict.c - per-location states -> the check's state.
 */
#include "monitor/verdict.h"

#include <string.h>

static int counts(const struct verdict_loc *l, int64_t now_ms, int64_t stale_ms)
{
	return l->healthy && l->level >= 0 && l->last_ms > 0 && now_ms - l->last_ms <= stale_ms;
}

static void take(struct verdict *v, const struct verdict_loc *l, enum verdict_status st)
{
	v->status = st;
	v->level = l->level;
	v->reason = l->reason;
	v->since_ms = l->since_ms;
	v->confirmed = l->confirmed;
}

struct verdict verdict(const struct verdict_loc *locs, int n, unsigned quorum, int64_t now_ms,
                       int64_t stale_ms)
{
	struct verdict v;
	int any = 0, worst = -1;

	memset(&v, 0, sizeof(v));
	v.status = VERDICT_PENDING;
	v.level = -1;
	if (quorum < 1)
		quorum = 1;
	for (int i = 0; i < n; i++) {
		any |= locs[i].level >= 0;
		if (!counts(&locs[i], now_ms, stale_ms))
			continue;
		v.counted++;
		v.down += locs[i].level == 3;
		if (worst < 0 || locs[i].level > locs[worst].level)
			worst = i;
	}
	if (!any)
		return v;
	if ((unsigned)v.down >= quorum) {
		/*
		 * Down since the quorum was reached: the quorum-th earliest
		 * start among the locations that see it down, whose reason it
		 * takes (the location that made it a quorum).
		 */
		int pick = -1;
		for (int i = 0; i < n; i++) {
			unsigned earlier = 0;
			if (!counts(&locs[i], now_ms, stale_ms) || locs[i].level != 3)
				continue;
			for (int j = 0; j < n; j++)
				if (j != i && counts(&locs[j], now_ms, stale_ms) &&
				    locs[j].level == 3 &&
				    (locs[j].since_ms < locs[i].since_ms ||
				     (locs[j].since_ms == locs[i].since_ms && j < i)))
					earlier++;
			if (earlier == quorum - 1) {
				pick = i;
				break;
			}
		}
		take(&v, &locs[pick], VERDICT_DOWN);
		return v;
	}
	if ((unsigned)v.counted < quorum) {
		v.status = VERDICT_UNKNOWN;
		return v;
	}
	if (v.down > 0) {
		v.status = VERDICT_PARTIAL;
		return v;
	}
	take(&v, &locs[worst], locs[worst].level == 0 ? VERDICT_UP : VERDICT_DEGRADED);
	return v;
}

const char *verdict_status_name(enum verdict_status s)
{
	static const char *const names[] = {"pending",  "unknown", "up",
	                                    "degraded", "partial", "down"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
