/* SPDX-License-Identifier: ISC */
/*
 * result.c - status, severity, reason and phase names; the rules for worsening
 * a result.
 */
#include "core/result.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/line.h"

static const char *const status_names[] = {
    [MP_UP] = "up",
    [MP_DEGRADED] = "degraded",
    [MP_DOWN] = "down",
    [MP_UNKNOWN] = "unknown",
};

static const char *const severity_names[] = {
    [MP_SEV_OK] = "ok",
    [MP_SEV_WARNING] = "warning",
    [MP_SEV_CRITICAL] = "critical",
    [MP_SEV_UNKNOWN] = "unknown",
};

static const char *const reason_names[MP_R__COUNT] = {
    [MP_R_OK] = "ok",
    [MP_R_INTERNAL] = "internal",
    [MP_R_DNS] = "dns",
    [MP_R_REFUSED] = "refused",
    [MP_R_UNREACHABLE] = "unreachable",
    [MP_R_TIMEOUT] = "timeout",
    [MP_R_RESET] = "reset",
    [MP_R_CLOSED] = "closed",
    [MP_R_TLS_HANDSHAKE] = "tls_handshake",
    [MP_R_TLS_VERSION] = "tls_version",
    [MP_R_CERT_EXPIRED] = "cert_expired",
    [MP_R_CERT_NOT_YET_VALID] = "cert_not_yet_valid",
    [MP_R_CERT_UNTRUSTED] = "cert_untrusted",
    [MP_R_CERT_HOSTNAME] = "cert_hostname",
    [MP_R_CERT_INCOMPLETE_CHAIN] = "cert_incomplete_chain",
    [MP_R_NO_TLS] = "no_tls",
    [MP_R_GREETING_MISMATCH] = "greeting_mismatch",
    [MP_R_REFUSED_BY_SERVER] = "refused_by_server",
    [MP_R_LINE_TOO_LONG] = "line_too_long",
    [MP_R_PROTOCOL_ERROR] = "protocol_error",
    [MP_R_STARTTLS_UNAVAILABLE] = "starttls_unavailable",
    [MP_R_STARTTLS_REFUSED] = "starttls_refused",
    [MP_R_STARTTLS_INJECTION] = "starttls_injection",
    [MP_R_CAPABILITY_MISSING] = "capability_missing",
    [MP_R_PLAINTEXT_AUTH] = "plaintext_auth",
    [MP_R_LOGIN_DISABLED] = "login_disabled",
    [MP_R_LOGIN_DELAY] = "login_delay",
    [MP_R_AUTH_FAILED] = "auth_failed",
    [MP_R_MAILBOX_ERROR] = "mailbox_error",
    [MP_R_MAILBOX_IN_USE] = "mailbox_in_use",
    [MP_R_SLOW] = "slow",
    [MP_R_CERT_EXPIRING] = "cert_expiring",
};

static const char *const phase_names[MP_PH__COUNT] = {
    [MP_PH_DNS] = "dns",           [MP_PH_CONNECT] = "connect",       [MP_PH_TLS] = "tls",
    [MP_PH_GREETING] = "greeting", [MP_PH_CAPABILITY] = "capability", [MP_PH_STARTTLS] = "starttls",
    [MP_PH_LOGIN] = "login",       [MP_PH_MAILBOX] = "mailbox",       [MP_PH_TOTAL] = "total",
};

void result_init(struct result *r, int64_t now_us)
{
	memset(r, 0, sizeof(*r));
	r->status = MP_UP;
	r->severity = MP_SEV_OK;
	r->reason = MP_R_OK;
	for (int i = 0; i < MP_PH__COUNT; i++)
		r->phase_us[i] = -1;
	(void)now_us;
	r->ttg_us = -1;
	r->messages = -1;
	r->tls.verify_depth = -1;
	r->tls.days_left = 0;
}

enum mp_severity result_default_severity(enum mp_status st)
{
	switch (st) {
	case MP_UP:
		return MP_SEV_OK;
	case MP_DEGRADED:
		return MP_SEV_WARNING;
	case MP_DOWN:
		return MP_SEV_CRITICAL;
	case MP_UNKNOWN:
		break;
	}
	return MP_SEV_UNKNOWN;
}

int result_rank(enum mp_status st, enum mp_severity sev)
{
	switch (st) {
	case MP_UP:
		return 0;
	case MP_DEGRADED:
		return sev == MP_SEV_CRITICAL ? 2 : 1;
	case MP_DOWN:
		return 3;
	case MP_UNKNOWN:
		break;
	}
	return 4;
}

void result_vworsen(struct result *r, enum mp_status st, enum mp_severity sev, enum mp_reason why,
                    const char *fmt, va_list ap)
{
	if (result_rank(st, sev) <= result_rank(r->status, r->severity))
		return;
	r->status = st;
	r->severity = sev;
	r->reason = why;
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
}

void result_worsen(struct result *r, enum mp_status st, enum mp_reason why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result_vworsen(r, st, result_default_severity(st), why, fmt, ap);
	va_end(ap);
}

void result_critical(struct result *r, enum mp_reason why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result_vworsen(r, MP_DEGRADED, MP_SEV_CRITICAL, why, fmt, ap);
	va_end(ap);
}

void result_fail(struct result *r, enum mp_reason why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result_vworsen(r, MP_DOWN, MP_SEV_CRITICAL, why, fmt, ap);
	va_end(ap);
}

void result_warn(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nwarnings >= RESULT_WARN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r->warnings[r->nwarnings++], RESULT_WARN_LEN, fmt, ap);
	va_end(ap);
}

void result_caps_set(struct result *r, const char *buf, const size_t *off, int n)
{
	char one[RESULT_CAP_SHOW];
	size_t room = sizeof(r->capabilities) - 1, total = 0, o = 0;
	int i;

	/* Whole when everything fits; else entries while "\n..." still fits after them. */
	for (i = 0; i < n; i++)
		total +=
		    (i ? 1 : 0) + line_escape(one, sizeof(one), buf + off[i], strlen(buf + off[i]));
	for (i = 0; i < n; i++) {
		size_t k = line_escape(one, sizeof(one), buf + off[i], strlen(buf + off[i]));
		size_t need = (o ? 1 : 0) + k;
		if (total > room && o + need + 4 > room)
			break;
		if (o)
			r->capabilities[o++] = '\n';
		memcpy(r->capabilities + o, one, k);
		o += k;
	}
	if (i < n) {
		if (o)
			r->capabilities[o++] = '\n';
		memcpy(r->capabilities + o, "...", 3);
		o += 3;
	}
	r->capabilities[o] = '\0';
}

void result_path_add(struct result *r, const char *name)
{
	static const char cut[] = ">...";
	size_t len = strlen(r->path), nl = strlen(name), sep = len ? 1 : 0;

	if (len >= sizeof(cut) - 1 && strcmp(r->path + len - (sizeof(cut) - 1), cut) == 0)
		return;
	/* Room is kept for the cut mark after every name, so it always fits. */
	if (len + sep + nl + sizeof(cut) <= sizeof(r->path)) {
		if (sep)
			r->path[len++] = '>';
		memcpy(r->path + len, name, nl + 1);
	} else {
		memcpy(r->path + len, len ? cut : cut + 1, len ? sizeof(cut) : sizeof(cut) - 1);
	}
}

void result_phase_add(struct result *r, enum mp_phase ph, int64_t us)
{
	r->phase_us[ph] = (r->phase_us[ph] < 0 ? 0 : r->phase_us[ph]) + (us < 0 ? 0 : us);
}

const char *result_status_name(enum mp_status st)
{
	if ((unsigned)st >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[st];
}

const char *result_severity_name(enum mp_severity sev)
{
	if ((unsigned)sev >= sizeof(severity_names) / sizeof(severity_names[0]))
		return "unknown";
	return severity_names[sev];
}

int result_status_parse(const char *name)
{
	for (int i = 0; i <= MP_UNKNOWN; i++)
		if (strcmp(status_names[i], name) == 0)
			return i;
	return -1;
}

int result_severity_parse(const char *name)
{
	for (int i = 0; i <= MP_SEV_UNKNOWN; i++)
		if (strcmp(severity_names[i], name) == 0)
			return i;
	return -1;
}

const char *result_reason_name(enum mp_reason why)
{
	if ((unsigned)why >= MP_R__COUNT || !reason_names[why])
		return "internal";
	return reason_names[why];
}

const char *result_phase_name(enum mp_phase ph)
{
	if ((unsigned)ph >= MP_PH__COUNT)
		return "?";
	return phase_names[ph];
}

int result_reason_parse(const char *name)
{
	for (int i = 0; i < MP_R__COUNT; i++)
		if (reason_names[i] && strcmp(reason_names[i], name) == 0)
			return i;
	return -1;
}

int64_t mp_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mp_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
