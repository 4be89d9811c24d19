/* SPDX-License-Identifier: ISC */
/*
 * verdict.h - the state of a check from the states its locations confirmed:
 * pure, no I/O, no clock (now is an argument), so tests give it any case.
 *
 * Each location confirms its own state from its own results (state.h); a
 * location counts only while it is healthy (its probes run) and has
 * reported within the staleness bound. With quorum q:
 *  - down when at least q counted locations confirm down;
 *  - unknown when fewer than q locations count: too few to confirm or deny;
 *  - partial when some, but fewer than q, counted locations see it down;
 *  - else the worst of the counted locations (up, degraded warning or
 *    critical), with the reason and start of the one that is worst;
 *  - pending while no location has confirmed anything yet.
 * One healthy location and quorum 1 give exactly that location's state.
 */
#ifndef MP_VERDICT_H
#define MP_VERDICT_H

#include <stdint.h>

#include "core/result.h"

enum verdict_status {
	VERDICT_PENDING, /* no location has confirmed a state yet */
	VERDICT_UNKNOWN, /* too few healthy locations reported recently */
	VERDICT_UP,
	VERDICT_DEGRADED,
	VERDICT_PARTIAL, /* some locations confirm down, fewer than the quorum */
	VERDICT_DOWN,
};

/* What one location confirmed; plain data, filled by the caller. */
struct verdict_loc {
	int level; /* -1 pending, else 0 up .. 3 down (state_level()) */
	enum mp_reason reason;
	int64_t since_ms;   /* when that level began there */
	unsigned confirmed; /* results that confirmed it there */
	int64_t last_ms;    /* probe time of its last result; 0: none yet */
	int healthy;        /* the location itself works */
};

struct verdict {
	enum verdict_status status;
	int level; /* 0..3 for up, degraded and down; -1 otherwise */
	enum mp_reason reason;
	int64_t since_ms;
	unsigned confirmed;
	int counted; /* locations healthy, reported within the bound, past pending */
	int down;    /* of them, those that confirm down */
};

/*
 * The check's state from n locations at now_ms; a location whose last
 * result is older than stale_ms does not count. quorum 0 is taken as 1.
 * O(n^2) in the number of locations down; fine for the handful there are.
 */
struct verdict verdict(const struct verdict_loc *locs, int n, unsigned quorum, int64_t now_ms,
                       int64_t stale_ms);

const char *verdict_status_name(enum verdict_status s);

#endif
