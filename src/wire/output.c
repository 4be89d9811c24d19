/* SPDX-License-Identifier: ISC */
/*
 * output.c - human, JSON and Nagios renderings of one struct result. The
 * JSON is result_json.c's, the one encoder; this file only names the target.
 *
 * The result holds bytes a server or a certificate chose (greeting,
 * capabilities, subjects, SANs). They were escaped by the engine, but this
 * is the last point before a terminal, a JSON parser or a Nagios core, so
 * every such string is checked again here: control bytes never get out,
 * and JSON strings are always valid UTF-8.
 */
#include "wire/output.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/line.h"
#include "wire/result_json.h"

static const char em_dash[] = "\xe2\x80\x94";

int output_exit_code(enum mp_severity sev)
{
	return (unsigned)sev <= MP_SEV_UNKNOWN ? (int)sev : 3;
}

/* critical > warning > unknown > ok: a server seen failing outranks one we could not judge. */
static int severity_rank(enum mp_severity sev)
{
	static const int rank[] = {
	    [MP_SEV_OK] = 0, [MP_SEV_WARNING] = 2, [MP_SEV_CRITICAL] = 3, [MP_SEV_UNKNOWN] = 1};

	return (unsigned)sev <= MP_SEV_UNKNOWN ? rank[sev] : rank[MP_SEV_UNKNOWN];
}

enum mp_severity output_worse(enum mp_severity a, enum mp_severity b)
{
	if ((unsigned)a > MP_SEV_UNKNOWN)
		a = MP_SEV_UNKNOWN;
	if ((unsigned)b > MP_SEV_UNKNOWN)
		b = MP_SEV_UNKNOWN;
	return severity_rank(b) > severity_rank(a) ? b : a;
}

/*
 * Print s with every byte outside printable ASCII as \xNN. nagios also
 * replaces '|', which would start performance data.
 */
void output_put_safe(FILE *f, const char *s, int nagios)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\x%02x", ch);
		else if (nagios && ch == '|')
			fputc('/', f);
		else
			fputc(ch, f);
	}
}

json_t *output_json_str(const char *s)
{
	json_t *j;
	char buf[2048];

	if (!s)
		return json_null();
	if ((j = json_string(s)))
		return j;
	/* Not valid UTF-8: show the bytes escaped rather than drop the text. */
	line_escape(buf, sizeof(buf), s, strlen(s));
	return json_string(buf);
}

json_t *output_json_time_ms(int64_t ms)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	char buf[40];

	if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(buf);
}

static void iso8601(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* The CLI's --json: the one encoder, with nothing but the target beside the result. */
static void output_meta(struct result_meta *m, const struct check *c)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->target, sizeof(m->target), "%s", c->target.url);
}

json_t *output_json(const struct check *c, const struct result *r)
{
	struct result_meta m;

	output_meta(&m, c);
	return result_json_encode(r, &m);
}

int output_json_line(FILE *f, const struct check *c, const struct result *r)
{
	struct result_meta m;
	char *s;

	output_meta(&m, c);
	s = result_json_dumps(r, &m);
	if (!s)
		return -1;
	fputs(s, f);
	fputc('\n', f);
	free(s);
	return 0;
}

/* ---- human ---- */

static const char *status_upper(enum mp_status st)
{
	switch (st) {
	case MP_UP:
		return "UP";
	case MP_DEGRADED:
		return "DEGRADED";
	case MP_DOWN:
		return "DOWN";
	case MP_UNKNOWN:
		break;
	}
	return "UNKNOWN";
}

static void fmt_ms(char *buf, size_t len, int64_t us)
{
	double ms = (double)us / 1000.0;

	snprintf(buf, len, ms < 100.0 ? "%.1f ms" : "%.0f ms", ms);
}

static void human_cert_days(FILE *f, int64_t days)
{
	if (days < 0)
		fprintf(f, "cert expired %lld day%s ago", (long long)-days, days == -1 ? "" : "s");
	else
		fprintf(f, "cert %lld day%s left", (long long)days, days == 1 ? "" : "s");
}

static void human_detail(FILE *f, const char *label, const char *value)
{
	if (!*value)
		return;
	fprintf(f, "  %-18s ", label);
	output_put_safe(f, value, 0);
	fputc('\n', f);
}

/* The entries, one per line in the result, shown on one line with ", " between them. */
static void human_caps(FILE *f, const char *caps)
{
	if (!*caps)
		return;
	int first = 1;

	fprintf(f, "  %-18s ", "capabilities:");
	for (const char *s = caps; *s;) {
		size_t n = strcspn(s, "\n");
		char one[RESULT_CAP_SHOW];

		if (n >= sizeof(one))
			n = sizeof(one) - 1;
		memcpy(one, s, n);
		one[n] = '\0';
		if (n) {
			if (first)
				first = 0;
			else
				fputs(", ", f);
			output_put_safe(f, one, 0);
		}
		s += strcspn(s, "\n");
		if (*s)
			s++;
	}
	fputc('\n', f);
}

static void human_verbose(FILE *f, const struct check *c, const struct result *r)
{
	const struct tls_facts *t = &r->tls;
	char buf[64];

	(void)c;
	human_detail(f, "address:", r->address);
	human_detail(f, "path:", r->path);
	for (int i = 0; i < MP_PH__COUNT; i++) {
		if (r->phase_us[i] < 0)
			continue;
		fmt_ms(buf, sizeof(buf), r->phase_us[i]);
		fprintf(f, "  %-18s %s\n", result_phase_name((enum mp_phase)i), buf);
	}
	if (r->ttg_us >= 0) {
		fmt_ms(buf, sizeof(buf), r->ttg_us);
		fprintf(f, "  %-18s %s\n", "time to greeting:", buf);
	}
	human_detail(f, "greeting:", r->greeting);
	human_caps(f, r->capabilities);
	if (r->messages >= 0)
		fprintf(f, "  %-18s %lld\n", "messages:", (long long)r->messages);
	for (int i = 0; i < r->nwarnings && i < RESULT_WARN_MAX; i++)
		human_detail(f, "warning:", r->warnings[i]);
	if (t->used) {
		human_detail(f, "tls version:", t->version);
		human_detail(f, "tls cipher:", t->cipher);
		if (t->verified)
			fprintf(f, "  %-18s ok%s\n", "verification:",
			        t->verify_reused ? " (same chain verified earlier)" : "");
		else if (t->verify_code) {
			fprintf(f,
			        "  %-18s failed at depth %d: ", "verification:", t->verify_depth);
			output_put_safe(f, t->verify_msg, 0);
			fprintf(f, " (%d)\n", t->verify_code);
		} else
			fprintf(f, "  %-18s not done or not passed\n", "verification:");
		if (t->chain_len > 0) {
			human_detail(f, "subject:", t->chain[0].subject);
			human_detail(f, "issuer:", t->chain[0].issuer);
		}
		human_detail(f, "sans:", t->sans);
		if (t->chain_len > 0) {
			iso8601(buf, sizeof(buf), t->chain[0].not_before);
			fprintf(f, "  %-18s %s\n", "not before:", buf);
			iso8601(buf, sizeof(buf), t->chain[0].not_after);
			fprintf(f, "  %-18s %s\n", "not after:", buf);
			fprintf(f, "  %-18s %lld", "days left:", (long long)t->days_left);
			if (t->earliest > 0 && t->earliest < t->chain_len &&
			    t->earliest < RESULT_CHAIN_MAX) {
				fputs(" (first to expire: ", f);
				output_put_safe(f, t->chain[t->earliest].subject, 0);
				fputc(')', f);
			}
			fputc('\n', f);
			human_detail(f, "sha256:", t->chain[0].sha256);
			fprintf(f, "  chain as served (%d):\n", t->chain_len);
			for (int i = 0; i < t->chain_len && i < RESULT_CHAIN_MAX; i++) {
				const struct cert_facts *cf = &t->chain[i];

				fprintf(f, "    [%d] subject: ", i);
				output_put_safe(f, cf->subject, 0);
				fputs("\n        issuer:  ", f);
				output_put_safe(f, cf->issuer, 0);
				iso8601(buf, sizeof(buf), cf->not_before);
				fprintf(f, "\n        valid:   %s .. ", buf);
				iso8601(buf, sizeof(buf), cf->not_after);
				fprintf(f, "%s\n        sha256:  ", buf);
				output_put_safe(f, cf->sha256, 0);
				fputc('\n', f);
			}
		}
	}
	if (r->naddrs > 0) {
		fprintf(f, "  addresses:\n");
		for (int i = 0; i < r->naddrs && i < RESULT_ADDR_MAX; i++) {
			const struct addr_result *ar = &r->addrs[i];
			fputs("    ", f);
			output_put_safe(f, ar->address, 0);
			fprintf(f, " %s", status_upper(ar->status));
			if (ar->greeting_us >= 0) {
				fmt_ms(buf, sizeof(buf), ar->greeting_us);
				fprintf(f, " %s", buf);
			}
			if (ar->status != MP_UP || ar->reason != MP_R_OK) {
				fprintf(f, " %s", result_reason_name(ar->reason));
				if (ar->message[0]) {
					fprintf(f, " %s ", em_dash);
					output_put_safe(f, ar->message, 0);
				}
			}
			fputc('\n', f);
		}
	}
}

void output_human(FILE *f, const struct check *c, const struct result *r, int verbose)
{
	int64_t us = r->ttg_us >= 0 ? r->ttg_us : r->phase_us[MP_PH_TOTAL];
	char buf[64];

	output_put_safe(f, c->target.url, 0);
	fprintf(f, " %s", status_upper(r->status));
	/* Only the one combination that status alone does not say: works, but critical. */
	if (r->status == MP_DEGRADED && r->severity == MP_SEV_CRITICAL)
		fputs(" (CRITICAL)", f);
	if (r->status == MP_UP && r->reason == MP_R_OK) {
		const char *sep = " ";

		if (us >= 0) {
			fmt_ms(buf, sizeof(buf), us);
			fprintf(f, " %s", buf);
		}
		fprintf(f, " %s", em_dash);
		if (r->tls.used) {
			fprintf(f, "%s", sep);
			output_put_safe(f, r->tls.version[0] ? r->tls.version : "TLS", 0);
			sep = ", ";
			if (r->tls.chain_len > 0) {
				fputs(sep, f);
				human_cert_days(f, r->tls.days_left);
			}
		} else {
			fprintf(f, "%sno TLS", sep);
			sep = ", ";
		}
		if (r->messages >= 0)
			fprintf(f, ", %lld message%s", (long long)r->messages,
			        r->messages == 1 ? "" : "s");
		for (int i = 0; i < r->nwarnings && i < RESULT_WARN_MAX; i++) {
			fputs(i == 0 ? "; warning: " : "; ", f);
			output_put_safe(f, r->warnings[i], 0);
		}
		if (r->greeting[0]) {
			fputs(" (greeting: ", f);
			output_put_safe(f, r->greeting, 0);
			fputc(')', f);
		}
	} else {
		fprintf(f, " %s", result_reason_name(r->reason));
		if (r->message[0]) {
			fprintf(f, " %s ", em_dash);
			output_put_safe(f, r->message, 0);
		}
		for (int i = 0; i < r->nwarnings && i < RESULT_WARN_MAX; i++) {
			fputs(i == 0 ? "; warning: " : "; ", f);
			output_put_safe(f, r->warnings[i], 0);
		}
	}
	fputc('\n', f);
	if (verbose)
		human_verbose(f, c, r);
}

/* ---- Nagios ---- */

static const char *nagios_state(enum mp_severity sev)
{
	switch (sev) {
	case MP_SEV_OK:
		return "OK";
	case MP_SEV_WARNING:
		return "WARNING";
	case MP_SEV_CRITICAL:
		return "CRITICAL";
	case MP_SEV_UNKNOWN:
		break;
	}
	return "UNKNOWN";
}

/* "host:port" (brackets kept for IPv6): the canonical URL without its scheme. */
static const char *host_port(const struct check *c)
{
	const char *p = strstr(c->target.url, "://");

	return p ? p + 3 : c->target.url;
}

void output_nagios_text(FILE *f, const struct check *c, const struct result *r)
{
	fprintf(f, "%s %s - ", target_service(&c->target), nagios_state(r->severity));
	output_put_safe(f, host_port(c), 1);
	if (r->status == MP_UP && r->reason == MP_R_OK) {
		if (r->ttg_us >= 0)
			fprintf(f, " greeting in %.3fs", (double)r->ttg_us / 1e6);
		if (r->tls.used) {
			fputs(", ", f);
			output_put_safe(f, r->tls.version[0] ? r->tls.version : "TLS", 1);
			if (r->tls.chain_len > 0)
				fprintf(f, ", cert %lld day%s", (long long)r->tls.days_left,
				        r->tls.days_left == 1 ? "" : "s");
		}
		if (r->messages >= 0)
			fprintf(f, ", %lld message%s", (long long)r->messages,
			        r->messages == 1 ? "" : "s");
	} else {
		fprintf(f, " %s", result_reason_name(r->reason));
		if (r->message[0]) {
			fputs(": ", f);
			output_put_safe(f, r->message, 1);
		}
	}
	for (int i = 0; i < r->nwarnings && i < RESULT_WARN_MAX; i++) {
		fputs(i == 0 ? "; warning: " : "; ", f);
		output_put_safe(f, r->warnings[i], 1);
	}
}

/* One perfdata item: label=value[UOM];warn;crit;min with the optional tail trimmed. */
static void perf_label(FILE *f, const char *prefix, const char *name, int *first)
{
	if (!*first)
		fputc(' ', f);
	*first = 0;
	if (prefix) {
		/* Quoted labels may hold anything but '=' and '\''; the canonical URL has neither.
		 */
		fputc('\'', f);
		output_put_safe(f, prefix, 1);
		fprintf(f, " %s'=", name);
	} else {
		fprintf(f, "%s=", name);
	}
}

void output_nagios_perf(FILE *f, const struct check *c, const struct result *r, const char *prefix)
{
	int first = 1;

	if (r->ttg_us >= 0) {
		perf_label(f, prefix, "time", &first);
		fprintf(f, "%.6fs;", (double)r->ttg_us / 1e6);
		if (c->warn_ms)
			fprintf(f, "%.3f", c->warn_ms / 1000.0);
		fputc(';', f);
		if (c->crit_ms)
			fprintf(f, "%.3f", c->crit_ms / 1000.0);
		fputs(";0", f);
	}
	for (int i = 0; i < MP_PH__COUNT; i++) {
		if (r->phase_us[i] < 0)
			continue;
		perf_label(f, prefix, result_phase_name((enum mp_phase)i), &first);
		fprintf(f, "%.6fs;;;0", (double)r->phase_us[i] / 1e6);
	}
	if (r->tls.used && r->tls.chain_len > 0) {
		/* "N:" is a Nagios range alerting below N: fewer days left is worse. */
		perf_label(f, prefix, "cert_days", &first);
		fprintf(f, "%lld;%d:;%d:", (long long)r->tls.days_left, c->cert_warn_days,
		        c->cert_crit_days);
	}
}

void output_nagios(FILE *f, const struct check *c, const struct result *r)
{
	output_nagios_text(f, c, r);
	fputc('|', f);
	output_nagios_perf(f, c, r, NULL);
	fputc('\n', f);
}

/* The worse of two results for the summary line: by severity, then by status. */
static int worse_result(const struct result *a, const struct result *b)
{
	int ra = severity_rank(a->severity), rb = severity_rank(b->severity);

	if (ra != rb)
		return ra > rb;
	return result_rank(a->status, a->severity) > result_rank(b->status, b->severity);
}

void output_nagios_multi(FILE *f, const struct check *checks, const struct result *const *rs,
                         size_t n)
{
	size_t worst = 0, count[MP_SEV_UNKNOWN + 1] = {0};
	const char *service = n ? target_service(&checks[0].target) : "MAIL";

	for (size_t i = 0; i < n; i++) {
		unsigned sev =
		    (unsigned)rs[i]->severity <= MP_SEV_UNKNOWN ? rs[i]->severity : MP_SEV_UNKNOWN;
		count[sev]++;
		if (worse_result(rs[i], rs[worst]))
			worst = i;
		if (strcmp(service, target_service(&checks[i].target)) != 0)
			service = "MAIL";
	}
	/*
	 * Plugin output: the first line is the one a core shows and alerts on,
	 * so it states the worst result; one long-text line per target follows,
	 * and the last carries every target's perfdata, labels prefixed with
	 * the URL to stay apart.
	 */
	fprintf(f, "%s %s - %zu checked: ", service, nagios_state(n ? rs[worst]->severity : 3), n);
	static const enum mp_severity order[] = {MP_SEV_CRITICAL, MP_SEV_WARNING, MP_SEV_UNKNOWN,
	                                         MP_SEV_OK};
	int first = 1;
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		if (!count[order[k]])
			continue;
		fprintf(f, "%s%zu %s", first ? "" : ", ", count[order[k]],
		        result_severity_name(order[k]));
		first = 0;
	}
	if (n && rs[worst]->severity != MP_SEV_OK) {
		fputs("; worst: ", f);
		output_nagios_text(f, &checks[worst], rs[worst]);
	}
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		output_nagios_text(f, &checks[i], rs[i]);
		if (i == n - 1) {
			for (size_t k = 0; k < n; k++) {
				fputs(k == 0 ? "|" : " ", f);
				output_nagios_perf(f, &checks[k], rs[k], checks[k].target.url);
			}
		}
		fputc('\n', f);
	}
}
