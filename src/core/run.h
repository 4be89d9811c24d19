/* SPDX-License-Identifier: ISC */
/*
 * run.h - the working state of one probe run around its verdict: whether
 * the verdict is final, the phase clock, and where the run is (its state
 * path, traced as it moves). struct result is the verdict; struct run is
 * what builds it, and is never output, stored or shipped.
 *
 * Owned by whoever drives a run (probe.c's probe and sessions, a test, a
 * fuzzer), next to the result it points to. No I/O: a trace goes to the
 * callback, when one is set.
 */
#ifndef MP_RUN_H
#define MP_RUN_H

#include <stdint.h>

#include "core/result.h"

/*
 * Told every state change: proto names the machine ("probe", "imap",
 * "pop3"), from and to its states ("greeting", "capability"); from is
 * "start" for the first. The names are static strings.
 */
typedef void (*run_trace_fn)(void *arg, const char *proto, const char *from, const char *to);

struct run {
	struct result *r; /* the verdict being built */
	/*
	 * The verdict is reached: later events do not change it (the first
	 * cause of a failure is the one reported). Set by the core once its
	 * verdict is in, and by the driver when the connection ends.
	 */
	int final;
	int64_t start_us; /* monotonic time at which the probe began */
	int64_t mark_us;  /* monotonic time at which the current phase began */
	const char *at;   /* the current state's name, "start" before the first */
	run_trace_fn trace;
	void *trace_arg;
};

/* A run of r that began at now_us, not final, with no trace; r is not touched. */
void run_init(struct run *u, struct result *r, int64_t now_us);
/* Send state changes to fn(arg, ...) from now on; fn may be NULL. */
void run_set_trace(struct run *u, run_trace_fn fn, void *arg);
/*
 * proto's machine moved to state to: traced, and added to r->path unless
 * in_path is 0 (a state that takes no step on the wire, such as "done").
 */
void run_step(struct run *u, const char *proto, const char *to, int in_path);

/* result_worsen() and result_fail(), unless the verdict is final. */
void run_worsen(struct run *u, enum mp_status st, enum mp_reason why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void run_fail(struct run *u, enum mp_reason why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Close the current phase at now_us and charge its time to ph. */
void run_phase(struct run *u, enum mp_phase ph, int64_t now_us);
/* Start timing anew from now_us without charging anything (idle gaps). */
void run_mark(struct run *u, int64_t now_us);

#endif
