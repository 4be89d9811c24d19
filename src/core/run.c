/* SPDX-License-Identifier: ISC */
/*
 * run.c - a run's working state: the final rule, the phase clock, the
 * state path and its trace.
 */
#include "core/run.h"

#include <stdarg.h>

void run_init(struct run *u, struct result *r, int64_t now_us)
{
	u->r = r;
	u->final = 0;
	u->start_us = now_us;
	u->mark_us = now_us;
	u->at = "start";
	u->trace = NULL;
	u->trace_arg = NULL;
}

void run_set_trace(struct run *u, run_trace_fn fn, void *arg)
{
	u->trace = fn;
	u->trace_arg = arg;
}

void run_step(struct run *u, const char *proto, const char *to, int in_path)
{
	if (u->trace)
		u->trace(u->trace_arg, proto, u->at, to);
	if (in_path)
		result_path_add(u->r, to);
	u->at = to;
}

void run_worsen(struct run *u, enum mp_status st, enum mp_reason why, const char *fmt, ...)
{
	va_list ap;

	if (u->final)
		return;
	va_start(ap, fmt);
	result_vworsen(u->r, st, result_default_severity(st), why, fmt, ap);
	va_end(ap);
}

void run_fail(struct run *u, enum mp_reason why, const char *fmt, ...)
{
	va_list ap;

	if (u->final)
		return;
	va_start(ap, fmt);
	result_vworsen(u->r, MP_DOWN, MP_SEV_CRITICAL, why, fmt, ap);
	va_end(ap);
}

void run_phase(struct run *u, enum mp_phase ph, int64_t now_us)
{
	result_phase_add(u->r, ph, now_us - u->mark_us);
	u->mark_us = now_us;
}

void run_mark(struct run *u, int64_t now_us)
{
	u->mark_us = now_us;
}
