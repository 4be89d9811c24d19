/* SPDX-License-Identifier: ISC */
/*
 * format.c - `mailpulse check --format FMT`: %{field}, %%, \n, \t, \\.
 *
 * One walker serves both the check done at option time (no output) and
 * the printing, so a format that passed the check cannot fail later. An
 * unknown field is a usage error rather than text printed as written: a
 * typo in a monitoring script must fail loudly, not print an empty column
 * that looks like "no value".
 */
#include "wire/format.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "core/line.h"
#include "wire/output.h"

/* The longest field name we accept between "%{" and "}"; longer is unknown. */
#define FORMAT_NAME_MAX 32

enum format_field {
	FF_STATUS,
	FF_SEVERITY,
	FF_REASON,
	FF_MESSAGE,
	FF_EXIT_CODE,
	FF_URL,
	FF_HOST,
	FF_PORT,
	FF_ADDRESS,
	FF_GREETING,
	FF_WARNINGS,
	FF_MESSAGES,
	FF_TIME_TO_GREETING,
	FF_TLS_VERSION,
	FF_TLS_CIPHER,
	FF_CERT_DAYS_LEFT,
	FF_CERT_NOT_AFTER,
	FF_LEAF_NOT_AFTER,
	FF_CERT_SUBJECT,
	FF_CERT_ISSUER,
	/* time_<phase>_ms for every phase of result.h, in its order */
	FF_PHASE,
};

static const char *const format_names[FF_PHASE] = {
    [FF_STATUS] = "status",
    [FF_SEVERITY] = "severity",
    [FF_REASON] = "reason",
    [FF_MESSAGE] = "message",
    [FF_EXIT_CODE] = "exit_code",
    [FF_URL] = "url",
    [FF_HOST] = "host",
    [FF_PORT] = "port",
    [FF_ADDRESS] = "address",
    [FF_GREETING] = "greeting",
    [FF_WARNINGS] = "warnings",
    [FF_MESSAGES] = "messages",
    [FF_TIME_TO_GREETING] = "time_to_greeting_ms",
    [FF_TLS_VERSION] = "tls_version",
    [FF_TLS_CIPHER] = "tls_cipher",
    [FF_CERT_DAYS_LEFT] = "cert_days_left",
    [FF_CERT_NOT_AFTER] = "cert_not_after",
    [FF_LEAF_NOT_AFTER] = "leaf_not_after",
    [FF_CERT_SUBJECT] = "cert_subject",
    [FF_CERT_ISSUER] = "cert_issuer",
};

/* The field named by name[0..n), FF_PHASE + phase for the timings, or -1. */
static int format_lookup(const char *name, size_t n)
{
	char buf[FORMAT_NAME_MAX + 1];

	if (n > FORMAT_NAME_MAX)
		return -1;
	memcpy(buf, name, n);
	buf[n] = '\0';
	for (int i = 0; i < FF_PHASE; i++)
		if (strcmp(buf, format_names[i]) == 0)
			return i;
	if (n > 8 && strncmp(buf, "time_", 5) == 0 && strcmp(buf + n - 3, "_ms") == 0) {
		buf[n - 3] = '\0';
		for (int ph = 0; ph < MP_PH__COUNT; ph++)
			if (strcmp(buf + 5, result_phase_name((enum mp_phase)ph)) == 0)
				return FF_PHASE + ph;
	}
	return -1;
}

/* Milliseconds with three decimals, as the JSON's timings_ms; nothing when not reached. */
static void format_ms(FILE *f, int64_t us)
{
	if (us >= 0)
		fprintf(f, "%" PRId64 ".%03" PRId64, us / 1000, us % 1000);
}

/* ISO 8601 UTC of unix seconds, as the JSON's dates. */
static void format_date(FILE *f, int64_t sec)
{
	time_t tt = (time_t)sec;
	struct tm tm;
	char buf[40];

	if (gmtime_r(&tt, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		fputs(buf, f);
}

/* The index of the first certificate to expire; a value out of the chain means the leaf. */
static int format_earliest(const struct tls_facts *t)
{
	return t->earliest >= 0 && t->earliest < t->chain_len && t->earliest < RESULT_CHAIN_MAX
	           ? t->earliest
	           : 0;
}

static void format_field(FILE *f, int id, const struct check *c, const struct result *r)
{
	const struct tls_facts *t = &r->tls;
	int cert = t->used && t->chain_len > 0;

	if (id >= FF_PHASE) {
		format_ms(f, r->phase_us[id - FF_PHASE]);
		return;
	}
	switch ((enum format_field)id) {
	case FF_STATUS:
		fputs(result_status_name(r->status), f);
		break;
	case FF_SEVERITY:
		fputs(result_severity_name(r->severity), f);
		break;
	case FF_REASON:
		fputs(result_reason_name(r->reason), f);
		break;
	case FF_MESSAGE:
		output_put_safe(f, r->message, 0);
		break;
	case FF_EXIT_CODE:
		fprintf(f, "%d", output_exit_code(r->severity));
		break;
	case FF_URL:
		output_put_safe(f, c->target.url, 0);
		break;
	case FF_HOST:
		output_put_safe(f, c->target.host, 0);
		break;
	case FF_PORT:
		fprintf(f, "%u", (unsigned)c->target.port);
		break;
	case FF_ADDRESS:
		output_put_safe(f, r->address, 0);
		break;
	case FF_GREETING:
		output_put_safe(f, r->greeting, 0);
		break;
	case FF_WARNINGS:
		for (int i = 0; i < r->nwarnings && i < RESULT_WARN_MAX; i++) {
			if (i)
				fputs("; ", f);
			output_put_safe(f, r->warnings[i], 0);
		}
		break;
	case FF_MESSAGES:
		if (r->messages >= 0)
			fprintf(f, "%" PRId64, r->messages);
		break;
	case FF_TIME_TO_GREETING:
		format_ms(f, r->ttg_us);
		break;
	case FF_TLS_VERSION:
		if (t->used)
			output_put_safe(f, t->version, 0);
		break;
	case FF_TLS_CIPHER:
		if (t->used)
			output_put_safe(f, t->cipher, 0);
		break;
	case FF_CERT_DAYS_LEFT:
		if (cert)
			fprintf(f, "%" PRId64, t->days_left);
		break;
	case FF_CERT_NOT_AFTER:
		/* The first to expire, as days_left counts (docs/json.md, cert_not_after and
		 * friends). */
		if (cert)
			format_date(f, t->chain[format_earliest(t)].not_after);
		break;
	case FF_LEAF_NOT_AFTER:
		if (cert)
			format_date(f, t->chain[0].not_after);
		break;
	case FF_CERT_SUBJECT:
		if (cert)
			output_put_safe(f, t->chain[0].subject, 0);
		break;
	case FF_CERT_ISSUER:
		if (cert)
			output_put_safe(f, t->chain[0].issuer, 0);
		break;
	case FF_PHASE:
		break;
	}
}

/*
 * Walk fmt: with f NULL only check it (err gets the first problem), else
 * print it for (c, r). Returns 0 or -1.
 */
static int format_walk(const char *fmt, FILE *f, const struct check *c, const struct result *r,
                       char *err, size_t errlen)
{
	char sh[FORMAT_NAME_MAX * 4 + 8];

	for (const char *p = fmt; *p; p++) {
		size_t at = (size_t)(p - fmt) + 1; /* 1-based offset for messages */

		if (*p == '\\') {
			char out;

			switch (p[1]) {
			case 'n':
				out = '\n';
				break;
			case 't':
				out = '\t';
				break;
			case '\\':
				out = '\\';
				break;
			default:
				if (!f) {
					line_escape(sh, sizeof(sh), p, p[1] ? 2 : 1);
					snprintf(err, errlen,
					         "--format: unknown escape \"%s\" at character %zu "
					         "(\\n, \\t and \\\\ are known)",
					         sh, at);
				}
				return -1;
			}
			if (f)
				fputc(out, f);
			p++;
		} else if (*p == '%') {
			const char *name, *end;
			int id;

			if (p[1] == '%') {
				if (f)
					fputc('%', f);
				p++;
				continue;
			}
			if (p[1] != '{') {
				if (!f)
					snprintf(err, errlen,
					         "--format: a '%%' at character %zu starts neither "
					         "%%{field} nor %%%% (a literal '%%')",
					         at);
				return -1;
			}
			name = p + 2;
			end = strchr(name, '}');
			if (!end) {
				if (!f) {
					line_escape(sh, sizeof(sh), p, strnlen(p, FORMAT_NAME_MAX));
					snprintf(
					    err, errlen,
					    "--format: \"%s\" at character %zu has no closing '}'",
					    sh, at);
				}
				return -1;
			}
			id = format_lookup(name, (size_t)(end - name));
			if (id < 0) {
				if (!f) {
					size_t n = (size_t)(end - name);

					line_escape(sh, sizeof(sh), name,
					            n > FORMAT_NAME_MAX ? FORMAT_NAME_MAX : n);
					snprintf(
					    err, errlen,
					    "--format: unknown field %%{%s}%s at character %zu "
					    "(the fields are listed in mailpulse check --help)",
					    sh, n > FORMAT_NAME_MAX ? "..." : "", at);
				}
				return -1;
			}
			if (f)
				format_field(f, id, c, r);
			p = end;
		} else if (f) {
			fputc(*p, f);
		}
	}
	return 0;
}

int format_check(const char *fmt, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	return format_walk(fmt, NULL, NULL, NULL, err, errlen);
}

void format_print(FILE *f, const char *fmt, const struct check *c, const struct result *r)
{
	(void)format_walk(fmt, f, c, r, NULL, 0);
}
