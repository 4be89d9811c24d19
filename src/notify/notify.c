/*
 * notify.c - deliveries of alerts over libcurl's multi interface, driven by
 * the daemon's libevent base (curl docs/examples/multi-event.c), and child
 * processes for command channels. Nothing here blocks the loop.
 *
 * A delivery is one event for one channel. It owns deep copies of both, so
 * the conf may be reloaded while it waits. Its life: READY (waiting for a
 * slot) -> RUNNING (one attempt) -> freed, or BACKOFF -> READY again.
 * Every attempt's outcome is reported once through the attempt callback,
 * with a detail that never holds a token, password, secret or webhook path.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/line.h"
#include "notify/notify.h"
#include "wire/output.h"

/* Attempts running at once (HTTP, SMTP and commands together); the rest wait. */
#define NOTIFY_INFLIGHT_MAX   32
#define NOTIFY_BACKOFF_MS     2000 /* before the first retry; doubles */
#define NOTIFY_BACKOFF_MAX_MS (5 * 60 * 1000)
#define NOTIFY_TIMEOUT_MS     10000 /* per attempt when the channel says 0 */
#define NOTIFY_DETAIL_MAX     512
#define NOTIFY_RESPONSE_MAX   256  /* response body kept for the detail */
#define NOTIFY_OUTPUT_MAX     1024 /* command stdout+stderr kept for the detail */
#define NOTIFY_POLL_MS        20   /* how often a running child is checked for exit */
#define NOTIFY_SUBJECT_MAX    256
#define NOTIFY_BODY_MAX       4096
#define NOTIFY_LINK_MAX       1024 /* the dashboard link; a longer one is left out */
#define DISCORD_CONTENT_MAX   2000 /* Discord refuses longer content */
#define TELEGRAM_TEXT_MAX     4096

/* Channel names counted apart; attempts of any further name share NOTIFY_OTHER. */
#define NOTIFY_CHANNELS_MAX 256
#define NOTIFY_OTHER        "(other)" /* no configured name has parentheses */

#define PAGERDUTY_API "https://events.pagerduty.com"
#define TELEGRAM_API  "https://api.telegram.org"

enum dstate {
	D_READY,   /* in n->ready, waiting for a slot */
	D_RUNNING, /* one attempt in flight */
	D_BACKOFF, /* d->timer armed for the next attempt */
};

/*
 * One event for one channel. Created by notify_send(), freed by
 * delivery_free() after its last attempt or by notify_free().
 */
struct delivery {
	TAILQ_ENTRY(delivery) all;
	TAILQ_ENTRY(delivery) ready;
	struct notify *n;
	enum dstate state;
	struct conf_channel ch; /* deep copy: every string is ours */
	enum notify_kind kind;
	char *check;
	char *endpoint; /* the URL the attempts go to; may hold a token */
	char *payload;  /* request body, mail message, or the command's stdin */
	size_t len;
	size_t off; /* bytes of payload already handed over in this attempt */
	int attempt;
	struct event *timer; /* backoff */

	/* HTTP and SMTP */
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *rcpt;
	char errbuf[CURL_ERROR_SIZE];
	char resp[NOTIFY_RESPONSE_MAX];
	size_t resplen;

	/* command */
	pid_t pid;
	int in_fd;
	int out_fd;
	struct event *in_ev;
	struct event *out_ev;
	struct event *deadline;
	struct event *poll;
	char out[NOTIFY_OUTPUT_MAX];
	size_t outlen;
	int timed_out;
};

/* One socket libcurl asked us to watch; freed on CURL_POLL_REMOVE or by notify_free(). */
struct sock {
	LIST_ENTRY(sock) link;
	struct notify *n;
	curl_socket_t fd;
	struct event *ev;
};

/* Attempts of one channel name since notify_new(); kept across reloads. */
struct chan_count {
	char *name;
	uint64_t attempts, failures;
};

/* Created by notify_new() before the loop runs, freed by notify_free() after. */
struct notify {
	struct event_base *base;
	notify_attempt_cb cb;
	void *arg;
	CURLM *multi;
	struct event *curl_timer;
	struct event *kick; /* starts ready deliveries from the loop, never from a caller */
	TAILQ_HEAD(, delivery) all;
	TAILQ_HEAD(, delivery) ready;
	LIST_HEAD(, sock) socks;
	int npending;
	int nrunning;
	int closing;
	struct chan_count *counts; /* O(N) lookups: a handful of channels */
	size_t ncounts, capcounts;
};

static void pump(struct notify *n);
static void check_multi_info(struct notify *n);

/* ---- small helpers ---- */

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static void iso8601(int64_t ms, char *buf, size_t sz)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, sz, "unknown");
}

/* "45s", "12m 5s", "3h 2m", "2d 4h": two units at most, enough for a person. */
static void human_duration(int64_t ms, char *buf, size_t sz)
{
	int64_t s = ms > 0 ? ms / 1000 : 0;

	if (s < 60)
		snprintf(buf, sz, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, sz, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, sz, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, sz, "%lldd %lldh", (long long)(s / 86400),
		         (long long)(s % 86400 / 3600));
}

/*
 * The check's page on the dashboard: the base URL, "/check/" (the route in
 * http.c) and the name percent-encoded, every byte outside RFC 3986's
 * unreserved set, and the dots of a name made only of dots, which a client
 * would otherwise resolve as "." or "..". The one place that builds the
 * link, for every channel. 0 with no base URL, or when the link does not
 * fit in buf: no link is better than a cut one.
 */
static int dashboard_link(const struct notify_event *ev, char *buf, size_t sz)
{
	static const char digits[] = "0123456789ABCDEF";
	const char *base = ev->dashboard_url, *name = ev->check;
	int dots, n;
	size_t blen, off;

	if (!base || !*base || !name || !*name || sz == 0)
		return 0;
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	n = snprintf(buf, sz, "%.*s/check/", (int)blen, base);
	if (n < 0 || (size_t)n >= sz)
		return 0;
	off = (size_t)n;
	dots = strspn(name, ".") == strlen(name);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		           (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '~' ||
		           (*p == '.' && !dots);

		if (off + (keep ? 1 : 3) >= sz)
			return 0;
		if (keep) {
			buf[off++] = (char)*p;
		} else {
			buf[off++] = '%';
			buf[off++] = digits[*p >> 4];
			buf[off++] = digits[*p & 15];
		}
	}
	buf[off] = '\0';
	return 1;
}

const char *notify_kind_name(enum notify_kind k)
{
	switch (k) {
	case NOTIFY_DOWN:
		return "down";
	case NOTIFY_DEGRADED:
		return "degraded";
	case NOTIFY_RECOVERY:
		return "recovery";
	case NOTIFY_REMINDER:
		return "reminder";
	case NOTIFY_TEST:
		return "test";
	}
	return "unknown";
}

/* ---- what a person reads ---- */

void notify_format_text(const struct notify_event *ev, char *subject, size_t subjectsz, char *body,
                        size_t bodysz)
{
	char since[32], now[32], dur[32], link[NOTIFY_LINK_MAX];
	const char *check = nz(ev->check);
	const char *reason = result_reason_name(ev->reason);
	size_t off = 0;

	iso8601(ev->since_ms, since, sizeof(since));
	iso8601(ev->now_ms, now, sizeof(now));
	switch (ev->kind) {
	case NOTIFY_DOWN:
		snprintf(subject, subjectsz, "[mailpulse] DOWN %s: %s", check, reason);
		break;
	case NOTIFY_DEGRADED:
		/* Critical while users still connect (a certificate about to expire). */
		snprintf(subject, subjectsz, "[mailpulse] %s %s: %s",
		         ev->severity == MP_SEV_CRITICAL ? "CRITICAL" : "DEGRADED", check, reason);
		break;
	case NOTIFY_RECOVERY:
		human_duration(ev->duration_ms, dur, sizeof(dur));
		snprintf(subject, subjectsz, "[mailpulse] RECOVERED %s after %s", check, dur);
		break;
	case NOTIFY_REMINDER:
		human_duration(ev->now_ms - ev->since_ms, dur, sizeof(dur));
		snprintf(subject, subjectsz, "[mailpulse] STILL %s %s: %s (for %s)",
		         ev->status == MP_DOWN             ? "DOWN"
		         : ev->severity == MP_SEV_CRITICAL ? "CRITICAL"
		                                           : "DEGRADED",
		         check, reason, dur);
		break;
	case NOTIFY_TEST:
	default:
		snprintf(subject, subjectsz, "[mailpulse] TEST notification for %s", check);
		break;
	}

	if (bodysz == 0)
		return;
	body[0] = '\0';
#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (off < bodysz) {                                                                \
			int w_ = snprintf(body + off, bodysz - off, __VA_ARGS__);                  \
			off = w_ < 0 ? bodysz : off + (size_t)w_;                                  \
		}                                                                                  \
	} while (0)
	ADD("Check:    %s\n", check);
	ADD("Target:   %s\n", nz(ev->target));
	ADD("Status:   %s (was %s)\n", result_status_name(ev->status),
	    result_status_name(ev->prev));
	if (ev->kind != NOTIFY_TEST)
		ADD("Severity: %s%s\n", result_severity_name(ev->severity),
		    ev->status == MP_DEGRADED ? " (the service still answers)" : "");
	if (ev->kind != NOTIFY_RECOVERY || ev->reason != MP_R_OK)
		ADD("Reason:   %s\n", reason);
	if (ev->message && *ev->message)
		ADD("Message:  %s\n", ev->message);
	if (ev->greeting && *ev->greeting)
		ADD("Server:   %s\n", ev->greeting);
	if (ev->kind == NOTIFY_RECOVERY) {
		human_duration(ev->duration_ms, dur, sizeof(dur));
		ADD("Was down: %s\n", dur);
		ADD("Up since: %s\n", since);
	} else {
		human_duration(ev->now_ms - ev->since_ms, dur, sizeof(dur));
		ADD("Since:    %s (for %s)\n", since, dur);
		if (ev->confirmed > 1)
			ADD("Confirmed: %u consecutive probes since then\n", ev->confirmed);
	}
	ADD("Now:      %s\n", now);
	if (ev->location && *ev->location)
		ADD("Location: %s\n", ev->location);
	if (dashboard_link(ev, link, sizeof(link)))
		ADD("Dashboard: %s\n", link);
#undef ADD
}

/* ---- payloads ---- */

static json_t *jstr(const char *s)
{
	return output_json_str(s);
}

/* Unset times (0) are null. */
static json_t *jtime(int64_t ms)
{
	return ms > 0 ? output_json_time_ms(ms) : json_null();
}

/* The event as the webhook and command channels see it: the documented schema. */
static json_t *event_json(const struct notify_event *ev)
{
	char link[NOTIFY_LINK_MAX];
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "kind", json_string(notify_kind_name(ev->kind)));
	json_object_set_new(o, "check", jstr(ev->check));
	json_object_set_new(o, "target", jstr(ev->target));
	json_object_set_new(o, "location", jstr(ev->location));
	json_object_set_new(o, "status", json_string(result_status_name(ev->status)));
	json_object_set_new(o, "severity", json_string(result_severity_name(ev->severity)));
	json_object_set_new(o, "previous", json_string(result_status_name(ev->prev)));
	json_object_set_new(o, "confirmed_by", json_integer(ev->confirmed));
	json_object_set_new(o, "reason", json_string(result_reason_name(ev->reason)));
	json_object_set_new(o, "message", jstr(nz(ev->message)));
	json_object_set_new(o, "greeting", jstr(nz(ev->greeting)));
	json_object_set_new(o, "since", jtime(ev->since_ms));
	json_object_set_new(o, "since_ms", json_integer(ev->since_ms));
	json_object_set_new(o, "now", jtime(ev->now_ms));
	json_object_set_new(o, "now_ms", json_integer(ev->now_ms));
	json_object_set_new(o, "duration_ms", json_integer(ev->duration_ms));
	json_object_set_new(o, "dashboard_url",
	                    dashboard_link(ev, link, sizeof(link)) ? jstr(link) : json_null());
	json_object_set_new(o, "incident_key", jstr(ev->incident_key));
	return o;
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}

static json_t *chat_json(const struct notify_event *ev, const struct conf_channel *ch)
{
	char subject[NOTIFY_SUBJECT_MAX], body[NOTIFY_BODY_MAX],
	    text[NOTIFY_SUBJECT_MAX + NOTIFY_BODY_MAX + 8];
	const char *color;

	notify_format_text(ev, subject, sizeof(subject), body, sizeof(body));
	switch (ch->type) {
	case CH_DISCORD:
		snprintf(text, sizeof(text), "%s\n```\n%s```", subject, body);
		utf8_cut(text, DISCORD_CONTENT_MAX);
		return json_pack("{s:o}", "content", jstr(text));
	case CH_TEAMS: {
		/* MessageCard markdown joins single newlines; a blank line keeps them apart. */
		char md[2 * NOTIFY_BODY_MAX];
		size_t o = 0;
		for (const char *p = body; *p && o + 3 < sizeof(md); p++) {
			if (*p == '\n') {
				md[o++] = '\n';
				md[o++] = '\n';
			} else {
				md[o++] = *p;
			}
		}
		md[o] = '\0';
		if (ev->kind == NOTIFY_RECOVERY)
			color = "2EB886";
		else if ((ev->kind == NOTIFY_DEGRADED || ev->kind == NOTIFY_REMINDER) &&
		         ev->status == MP_DEGRADED && ev->severity != MP_SEV_CRITICAL)
			color = "FFA500";
		else if (ev->kind == NOTIFY_TEST)
			color = "0078D7";
		else
			color = "D50000";
		return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "@type", "MessageCard",
		                 "@context", "https://schema.org/extensions", "summary",
		                 jstr(subject), "title", jstr(subject), "text", jstr(md),
		                 "themeColor", color);
	}
	case CH_TELEGRAM:
		snprintf(text, sizeof(text), "%s\n\n%s", subject, body);
		utf8_cut(text, TELEGRAM_TEXT_MAX);
		return json_pack("{s:o, s:o, s:b}", "chat_id", jstr(nz(ch->chat_id)), "text",
		                 jstr(text), "disable_web_page_preview", 1);
	case CH_SLACK:
	case CH_MATTERMOST:
	default:
		snprintf(text, sizeof(text), "%s\n```\n%s```", subject, body);
		return json_pack("{s:o}", "text", jstr(text));
	}
}

static json_t *pagerduty_json(const struct notify_event *ev, const struct conf_channel *ch)
{
	char subject[NOTIFY_SUBJECT_MAX], key[300], link[NOTIFY_LINK_MAX];
	const char *action = ev->kind == NOTIFY_RECOVERY ? "resolve" : "trigger";
	const char *severity;
	json_t *details, *payload, *o;

	notify_format_text(ev, subject, sizeof(subject), NULL, 0);
	if (ev->kind == NOTIFY_RECOVERY || ev->kind == NOTIFY_TEST)
		severity = "info";
	else if (ev->severity == MP_SEV_CRITICAL || ev->status == MP_DOWN)
		severity = "critical";
	else
		severity = "warning";
	/* Without an incident key, one alert per check still pairs trigger and resolve. */
	if (ev->incident_key && *ev->incident_key)
		snprintf(key, sizeof(key), "%s", ev->incident_key);
	else
		snprintf(key, sizeof(key), "mailpulse/%s", nz(ev->check));
	details = event_json(ev);
	payload = json_pack("{s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "summary", jstr(subject),
	                    "source", jstr(nz(ev->target)), "severity", severity, "component",
	                    jstr(nz(ev->check)), "group", jstr(nz(ev->location)), "timestamp",
	                    jtime(ev->now_ms), "custom_details", details);
	o = json_pack("{s:o, s:s, s:o, s:s, s:o}", "routing_key", jstr(nz(ch->routing_key)),
	              "event_action", action, "dedup_key", jstr(key), "client", "mailpulse",
	              "payload", payload);
	if (o && dashboard_link(ev, link, sizeof(link)))
		json_object_set_new(o, "client_url", jstr(link));
	return o;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The address inside "Name <addr>", or the whole string. */
static void mail_addr(const char *s, char *out, size_t sz)
{
	const char *lt = strrchr(s, '<'), *gt;

	if (lt && (gt = strchr(lt, '>')))
		snprintf(out, sz, "<%.*s>", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, sz, "<%s>", s);
}

/* Header values from the config must not smuggle in more header lines. */
static void header_clean(char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			*s = ' ';
}

/* RFC 2047 for a subject that is not plain ASCII. */
static void encode_subject(const char *s, char *out, size_t sz)
{
	int ascii = 1;
	unsigned char b64[4 * ((NOTIFY_SUBJECT_MAX + 2) / 3) + 1];

	for (const char *p = s; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = 0;
	if (ascii) {
		snprintf(out, sz, "%s", s);
		return;
	}
	EVP_EncodeBlock(b64, (const unsigned char *)s, (int)strlen(s));
	snprintf(out, sz, "=?UTF-8?B?%s?=", (const char *)b64);
}

/* The RFC 5322 message for an e-mail channel, with CRLF line endings. */
static char *mail_message(const struct notify_event *ev, const struct conf_channel *ch)
{
	static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	char subject[NOTIFY_SUBJECT_MAX], encoded[NOTIFY_SUBJECT_MAX * 2], body[NOTIFY_BODY_MAX];
	char date[64], from[512], to[CONF_TO_MAX * 260], msgid[400], rnd[17];
	unsigned char r[8] = {0};
	const char *domain;
	int64_t now_ms = ev->now_ms > 0 ? ev->now_ms : (int64_t)time(NULL) * 1000;
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	size_t cap, o = 0;
	char *msg;

	notify_format_text(ev, subject, sizeof(subject), body, sizeof(body));
	header_clean(subject);
	encode_subject(subject, encoded, sizeof(encoded));
	gmtime_r(&t, &tm);
	snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d +0000", wday[tm.tm_wday % 7],
	         tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	         tm.tm_sec);
	snprintf(from, sizeof(from), "%s", nz(ch->from));
	header_clean(from);
	to[0] = '\0';
	for (int i = 0; i < ch->nto; i++) {
		size_t l = strlen(to);
		snprintf(to + l, sizeof(to) - l, "%s%s", i ? ", " : "", ch->to[i]);
	}
	header_clean(to);
	/* A Message-ID in the sender's domain, unique by time and chance. */
	domain = strrchr(from, '@');
	domain = domain ? domain + 1 : "mailpulse.invalid";
	RAND_bytes(r, sizeof(r));
	hex(r, sizeof(r), rnd);
	snprintf(msgid, sizeof(msgid), "<%lld.%s@%.*s>", (long long)now_ms, rnd,
	         (int)strcspn(domain, "> \t"), domain);

	cap = 2048 + strlen(encoded) + strlen(from) + strlen(to) + 2 * strlen(body);
	if (!(msg = malloc(cap)))
		return NULL;
	o +=
	    (size_t)snprintf(msg + o, cap - o,
	                     "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
	                     "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                     "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
	                     "X-Mailpulse-Event: %s\r\n\r\n",
	                     date, from, to, encoded, msgid, notify_kind_name(ev->kind));
	for (const char *p = body; *p && o + 3 < cap; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			msg[o++] = '\r';
		msg[o++] = *p;
	}
	msg[o] = '\0';
	return msg;
}

/* ---- redaction ---- */

/* Replace every needle in s (capacity cap) with repl; the result is cut to fit. */
static void replace_all(char *s, size_t cap, const char *needle, const char *repl)
{
	char tmp[NOTIFY_DETAIL_MAX * 2];
	size_t nl, o = 0;
	const char *p = s, *hit;

	if (!needle || !(nl = strlen(needle)) || !strstr(s, needle))
		return;
	while ((hit = strstr(p, needle)) && o < sizeof(tmp) - 1) {
		o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%.*s%s", (int)(hit - p), p, repl);
		if (o >= sizeof(tmp))
			o = sizeof(tmp) - 1;
		p = hit + nl;
	}
	if (o < sizeof(tmp) - 1)
		snprintf(tmp + o, sizeof(tmp) - o, "%s", p);
	snprintf(s, cap, "%s", tmp);
}

/* "https://host:port/..." : what may be shown of a URL whose path can be a credential. */
static void url_shown(const char *url, char *out, size_t sz)
{
	const char *p = strstr(url, "://");
	const char *start = p ? p + 3 : url;
	size_t auth = strcspn(start, "/?#");
	const char *at = memchr(start, '@', auth);

	if (at) {
		auth -= (size_t)(at + 1 - start);
		start = at + 1;
	}
	snprintf(out, sz, "%.*s%.*s/...", p ? (int)(p + 3 - url) : 0, url, (int)auth, start);
}

/* The path and query of a URL, which webhook services use as the credential. */
static const char *url_path(const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL;

	if (!p)
		return NULL;
	p = strchr(p + 3, '/');
	return p && strlen(p) > 1 ? p : NULL;
}

static void redact(const struct delivery *d, char *s, size_t cap)
{
	char shown[300];
	const char *urls[] = {d->endpoint, d->ch.url, d->ch.smtp_url};
	const char *secrets[] = {d->ch.secret, d->ch.smtp_password, d->ch.bot_token,
	                         d->ch.routing_key};

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		if (!urls[i])
			continue;
		url_shown(urls[i], shown, sizeof(shown));
		replace_all(s, cap, urls[i], shown);
		replace_all(s, cap, url_path(urls[i]), "/...");
	}
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		replace_all(s, cap, secrets[i], "(redacted)");
}

/* ---- deliveries ---- */

/* Secrets are wiped before free, so a later heap dump or reuse cannot show them. */
static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void channel_free(struct conf_channel *c)
{
	free(c->name);
	free(c->url);
	wipe_free(c->secret);
	free(c->ca_file);
	free(c->smtp_url);
	free(c->smtp_user);
	wipe_free(c->smtp_password);
	free(c->from);
	for (int i = 0; i < CONF_TO_MAX; i++)
		free(c->to[i]);
	wipe_free(c->bot_token);
	free(c->chat_id);
	wipe_free(c->routing_key);
	for (int i = 0; i < CONF_ARGV_MAX; i++)
		free(c->argv[i]);
	memset(c, 0, sizeof(*c));
}

static int channel_copy(struct conf_channel *dst, const struct conf_channel *src)
{
	int bad = 0;

	memset(dst, 0, sizeof(*dst));
	dst->type = src->type;
	dst->line = src->line;
	dst->smtp_starttls = src->smtp_starttls;
	dst->timeout_ms = src->timeout_ms ? src->timeout_ms : NOTIFY_TIMEOUT_MS;
	dst->retries = src->retries;
#define DUP(f)                                                                                     \
	do {                                                                                       \
		if (src->f && !(dst->f = strdup(src->f)))                                          \
			bad = 1;                                                                   \
	} while (0)
	DUP(name);
	DUP(url);
	DUP(secret);
	DUP(ca_file);
	DUP(smtp_url);
	DUP(smtp_user);
	DUP(smtp_password);
	DUP(from);
	DUP(bot_token);
	DUP(chat_id);
	DUP(routing_key);
	dst->nto = src->nto < 0 ? 0 : src->nto > CONF_TO_MAX ? CONF_TO_MAX : src->nto;
	for (int i = 0; i < dst->nto; i++)
		DUP(to[i]);
	for (int i = 0; i < CONF_ARGV_MAX && src->argv[i]; i++)
		DUP(argv[i]);
#undef DUP
	return bad ? -1 : 0;
}

/* event_free() refuses NULL; most of our events exist only part of the time. */
static void ev_clear(struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
}

static void cmd_close(struct delivery *d)
{
	ev_clear(&d->in_ev);
	ev_clear(&d->out_ev);
	ev_clear(&d->deadline);
	ev_clear(&d->poll);
	if (d->in_fd >= 0)
		close(d->in_fd);
	if (d->out_fd >= 0)
		close(d->out_fd);
	d->in_fd = d->out_fd = -1;
}

static void delivery_free(struct delivery *d)
{
	if (d->easy) {
		curl_multi_remove_handle(d->n->multi, d->easy);
		curl_easy_cleanup(d->easy);
	}
	curl_slist_free_all(d->headers);
	curl_slist_free_all(d->rcpt);
	cmd_close(d);
	ev_clear(&d->timer);
	channel_free(&d->ch);
	free(d->check);
	wipe_free(d->endpoint); /* telegram: holds the bot token */
	wipe_free(d->payload);  /* pagerduty: holds the routing key */
	free(d);
}

/* The counters of channel name, made on first use; NULL only when out of memory. */
static struct chan_count *chan_count(struct notify *n, const char *name)
{
	struct chan_count *c;

	for (size_t i = 0; i < n->ncounts; i++)
		if (strcmp(n->counts[i].name, name) == 0)
			return &n->counts[i];
	if (n->ncounts >= NOTIFY_CHANNELS_MAX && strcmp(name, NOTIFY_OTHER) != 0)
		return chan_count(n, NOTIFY_OTHER);
	if (n->ncounts == n->capcounts) {
		size_t cap = n->capcounts ? n->capcounts * 2 : 8;
		c = realloc(n->counts, cap * sizeof(*c));
		if (!c)
			return NULL;
		n->counts = c;
		n->capcounts = cap;
	}
	c = &n->counts[n->ncounts];
	if (!(c->name = strdup(name)))
		return NULL;
	c->attempts = c->failures = 0;
	n->ncounts++;
	return c;
}

static void report(struct delivery *d, int ok, const char *detail)
{
	char buf[NOTIFY_DETAIL_MAX];
	struct chan_count *c = chan_count(d->n, d->ch.name ? d->ch.name : "");

	if (c) {
		c->attempts++;
		c->failures += !ok;
	}
	snprintf(buf, sizeof(buf), "%s", detail);
	redact(d, buf, sizeof(buf));
	if (d->n->cb)
		d->n->cb(d->check, d->ch.name, notify_kind_name(d->kind), d->attempt, ok, buf,
		         d->n->arg);
}

static int64_t backoff_ms(int attempt)
{
	int64_t ms = NOTIFY_BACKOFF_MS;

	for (int i = 1; i < attempt && ms < NOTIFY_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < NOTIFY_BACKOFF_MAX_MS ? ms : NOTIFY_BACKOFF_MAX_MS;
}

/*
 * The attempt that ran is over: report it, then wait and retry, or free the
 * delivery. Only ever called from the loop, so the callback never runs inside
 * notify_send() or a libcurl callback.
 */
static void attempt_end(struct delivery *d, int ok, int retryable, const char *detail)
{
	struct notify *n = d->n;
	int again = !ok && retryable && (unsigned)d->attempt <= d->ch.retries;

	if (d->state == D_RUNNING)
		n->nrunning--;
	if (again) {
		int64_t ms = backoff_ms(d->attempt);
		struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
		d->state = D_BACKOFF;
		evtimer_add(d->timer, &tv);
	} else {
		TAILQ_REMOVE(&n->all, d, all);
		n->npending--;
	}
	report(d, ok, detail);
	if (!again)
		delivery_free(d);
	pump(n);
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;

	(void)fd;
	(void)what;
	d->state = D_READY;
	TAILQ_INSERT_TAIL(&d->n->ready, d, ready);
	pump(d->n);
}

/* ---- HTTP and SMTP through libcurl ---- */

static size_t on_curl_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct delivery *d = arg;
	size_t n = size * nmemb, room = sizeof(d->resp) - d->resplen;

	/* Keep the start for the detail; swallow the rest rather than fail the transfer. */
	if (room > 0) {
		size_t k = n < room ? n : room;
		memcpy(d->resp + d->resplen, ptr, k);
		d->resplen += k;
	}
	return n;
}

static size_t on_curl_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct delivery *d = arg;
	size_t room = size * nitems, left = d->len - d->off;
	size_t k = left < room ? left : room;

	memcpy(buf, d->payload + d->off, k);
	d->off += k;
	return k;
}

static int curl_start(struct delivery *d, char *err, size_t errlen)
{
	CURL *e = curl_easy_init();
	CURLcode rc = CURLE_OK;

	if (!e) {
		snprintf(err, errlen, "out of memory (curl_easy_init)");
		return -1;
	}
	d->errbuf[0] = '\0';
	d->resplen = 0;
	d->off = 0;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, d->endpoint);
	SET(CURLOPT_PRIVATE, d);
	SET(CURLOPT_ERRORBUFFER, d->errbuf);
	/* No alarm()-based DNS timeouts in a process with signal handlers. */
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, (long)d->ch.timeout_ms);
	if (d->ch.ca_file)
		SET(CURLOPT_CAINFO, d->ch.ca_file);
	if (d->ch.type == CH_EMAIL) {
		int smtps = strncmp(d->endpoint, "smtps://", 8) == 0;
		char from[520];
		mail_addr(nz(d->ch.from), from, sizeof(from));
		SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
		SET(CURLOPT_USE_SSL,
		    (long)(smtps || d->ch.smtp_starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
		SET(CURLOPT_MAIL_FROM, from);
		SET(CURLOPT_MAIL_RCPT, d->rcpt);
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_READFUNCTION, on_curl_read);
		SET(CURLOPT_READDATA, d);
		SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)d->len);
		if (d->ch.smtp_user)
			SET(CURLOPT_USERNAME, d->ch.smtp_user);
		if (d->ch.smtp_password)
			SET(CURLOPT_PASSWORD, d->ch.smtp_password);
	} else {
		/* Never follow a redirect: it would carry a signed body somewhere else. */
		SET(CURLOPT_PROTOCOLS_STR, "http,https");
		SET(CURLOPT_USERAGENT, "mailpulse/" MAILPULSE_VERSION);
		SET(CURLOPT_HTTPHEADER, d->headers);
		SET(CURLOPT_POSTFIELDS, d->payload);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->len);
		SET(CURLOPT_WRITEFUNCTION, on_curl_write);
		SET(CURLOPT_WRITEDATA, d);
	}
#undef SET
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "curl: %s", curl_easy_strerror(rc));
		curl_easy_cleanup(e);
		return -1;
	}
	d->easy = e;
	if (curl_multi_add_handle(d->n->multi, e) != CURLM_OK) {
		snprintf(err, errlen, "curl_multi_add_handle failed");
		curl_easy_cleanup(e);
		d->easy = NULL;
		return -1;
	}
	return 0;
}

/* Errors that the same request cannot fix by being sent again. */
static int curl_permanent(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_LOGIN_DENIED:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
		return 1;
	default:
		return 0;
	}
}

void notify_judge(const struct notify_reply *r, int *ok, int *retryable, char *detail,
                  size_t detailsz)
{
	char why[CURL_ERROR_SIZE + 64], what[CURL_ERROR_SIZE], resp[NOTIFY_RESPONSE_MAX];
	CURLcode rc = (CURLcode)r->curl_rc;
	long code = r->code;

	*ok = 0;
	*retryable = 1;
	if (detailsz == 0)
		return;
	/*
	 * libcurl's message may quote the server (a certificate's name, a
	 * status line): escaped like every server byte.
	 */
	if (r->errbuf && r->errbuf[0])
		line_escape(what, sizeof(what), r->errbuf, strnlen(r->errbuf, CURL_ERROR_SIZE));
	else
		snprintf(what, sizeof(what), "%s", curl_easy_strerror(rc));
	if (r->type != CH_EMAIL && code >= 200 && code < 300) {
		/*
		 * Every HTTP channel: a 2xx status is the receiver saying it has
		 * the alert. What goes wrong after the status line (a body cut
		 * short, a reset, a timeout while reading it) does not take that
		 * back, and sending again would deliver it twice.
		 */
		*ok = 1;
		if (rc != CURLE_OK)
			snprintf(detail, detailsz, "HTTP %ld (then: %s)", code, what);
		else
			snprintf(detail, detailsz, "HTTP %ld", code);
	} else if (rc != CURLE_OK) {
		switch (rc) {
		case CURLE_COULDNT_CONNECT:
			if (r->os_errno == ECONNREFUSED)
				snprintf(why, sizeof(why), "connect refused: %s", what);
			else if (r->os_errno)
				snprintf(why, sizeof(why), "connect failed: %s: %s",
				         strerror((int)r->os_errno), what);
			else
				snprintf(why, sizeof(why), "connect failed: %s", what);
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			snprintf(why, sizeof(why), "dns: %s", what);
			break;
		case CURLE_OPERATION_TIMEDOUT:
			snprintf(why, sizeof(why), "timed out after %u ms: %s", r->timeout_ms,
			         what);
			break;
		default:
			snprintf(why, sizeof(why), "%s", what);
			break;
		}
		*retryable = !curl_permanent(rc);
		if (r->type == CH_EMAIL && code > 0) {
			snprintf(detail, detailsz, "SMTP %ld: %s", code, why);
			/* A 5xx reply is the server's final word (RFC 5321 4.2.1). */
			if (code >= 500 && code < 600)
				*retryable = 0;
		} else {
			snprintf(detail, detailsz, "%s", why);
		}
	} else if (r->type == CH_EMAIL) {
		*ok = 1;
		snprintf(detail, detailsz, "SMTP %ld", code);
	} else {
		size_t n = r->bodylen;
		/* 408, 429 and 5xx may pass later; other codes will not change by resending. */
		*retryable = code == 408 || code == 429 || code >= 500;
		while (n > 0 &&
		       (r->body[n - 1] == '\n' || r->body[n - 1] == '\r' || r->body[n - 1] == ' '))
			n--;
		if (n) {
			line_escape(resp, sizeof(resp), r->body, n);
			snprintf(detail, detailsz, "HTTP %ld: %s", code, resp);
		} else {
			snprintf(detail, detailsz, "HTTP %ld", code);
		}
	}
}

static void curl_done(struct delivery *d, CURLcode rc)
{
	char detail[NOTIFY_DETAIL_MAX];
	struct notify_reply r = {
	    .type = d->ch.type,
	    .curl_rc = (int)rc,
	    .timeout_ms = d->ch.timeout_ms,
	    .errbuf = d->errbuf,
	    .body = d->resp,
	    .bodylen = d->resplen,
	};
	int ok, retryable;

	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &r.code);
	if (rc == CURLE_COULDNT_CONNECT)
		curl_easy_getinfo(d->easy, CURLINFO_OS_ERRNO, &r.os_errno);
	notify_judge(&r, &ok, &retryable, detail, sizeof(detail));
	curl_multi_remove_handle(d->n->multi, d->easy);
	curl_easy_cleanup(d->easy);
	d->easy = NULL;
	attempt_end(d, ok, retryable, detail);
}

static void check_multi_info(struct notify *n)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(n->multi, &left))) {
		if (msg->msg == CURLMSG_DONE) {
			/* msg dies with the handle: take what is needed first. */
			CURL *e = msg->easy_handle;
			CURLcode rc = msg->data.result;
			struct delivery *d = NULL;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&d);
			if (d)
				curl_done(d, rc);
		}
	}
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct sock *sk = arg;
	struct notify *n = sk->n; /* sk may be freed inside socket_action */
	int flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(n->multi, fd, flags, &running);
	check_multi_info(n);
}

static void sock_free(struct sock *sk)
{
	LIST_REMOVE(sk, link);
	ev_clear(&sk->ev);
	free(sk);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct notify *n = userp;
	struct sock *sk = socketp;
	short kind = EV_PERSIST;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sk)
			sock_free(sk);
		return 0;
	}
	if (!sk) {
		if (!(sk = calloc(1, sizeof(*sk))))
			return -1;
		sk->n = n;
		sk->fd = s;
		LIST_INSERT_HEAD(&n->socks, sk, link);
		curl_multi_assign(n->multi, s, sk);
	} else {
		ev_clear(&sk->ev);
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (!(sk->ev = event_new(n->base, s, kind, on_sock_event, sk)) || event_add(sk->ev, NULL))
		return -1;
	return 0;
}

static void on_curl_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(n);
}

/* libcurl asks for one timer; acting on it must wait for the loop (multi-event.c). */
static int on_curl_timer(CURLM *m, long timeout_ms, void *arg)
{
	struct notify *n = arg;
	struct timeval tv;

	(void)m;
	if (timeout_ms < 0)
		return evtimer_del(n->curl_timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(n->curl_timer, &tv);
}

/* ---- commands ---- */

static void cmd_drain(struct delivery *d)
{
	char scratch[4096];
	ssize_t k;

	if (d->out_fd < 0)
		return;
	for (;;) {
		size_t room = sizeof(d->out) - 1 - d->outlen;
		if (room > 0)
			k = read(d->out_fd, d->out + d->outlen, room);
		else
			k = read(d->out_fd, scratch, sizeof(scratch));
		if (k > 0) {
			if (room > 0)
				d->outlen += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 || errno != EAGAIN) {
			ev_clear(&d->out_ev);
			close(d->out_fd);
			d->out_fd = -1;
		}
		return;
	}
}

static void cmd_exited(struct delivery *d, int status, int lost)
{
	char detail[NOTIFY_DETAIL_MAX], out[NOTIFY_DETAIL_MAX / 2];
	int ok = 0, retryable = 1;
	size_t n;

	cmd_drain(d);
	/* Trailing newlines say nothing in a one-line detail. */
	n = d->outlen;
	while (n > 0 && (d->out[n - 1] == '\n' || d->out[n - 1] == '\r'))
		n--;
	if (n)
		line_escape(out, sizeof(out), d->out, n);
	else
		out[0] = '\0';
	cmd_close(d);
	d->pid = 0;

	if (d->timed_out) {
		snprintf(detail, sizeof(detail), "timed out after %u ms, killed%s%s",
		         d->ch.timeout_ms, n ? ": " : "", out);
	} else if (lost) {
		snprintf(detail, sizeof(detail), "exit status lost (SIGCHLD ignored?)");
	} else if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);
		ok = code == 0;
		/* 126/127: the shell's "cannot execute" and "not found" do not heal. */
		retryable = code != 126 && code != 127;
		snprintf(detail, sizeof(detail), "exit %d%s%s", code, n ? ": " : "", out);
	} else if (WIFSIGNALED(status)) {
		snprintf(detail, sizeof(detail), "killed by signal %d%s%s", WTERMSIG(status),
		         n ? ": " : "", out);
	} else {
		snprintf(detail, sizeof(detail), "ended with status %d", status);
	}
	attempt_end(d, ok, retryable, detail);
}

/* Returns 1 when the child was reaped (and the attempt ended). */
static int cmd_reap(struct delivery *d)
{
	int status = 0;
	pid_t r;

	do
		r = waitpid(d->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	cmd_exited(d, status, r < 0);
	return 1;
}

static void on_cmd_out(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;

	(void)fd;
	(void)what;
	cmd_drain(d);
	/* EOF usually means the child is gone: look now rather than at the next poll. */
	if (d->out_fd < 0)
		cmd_reap(d);
}

static void on_cmd_in(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;
	ssize_t k;

	(void)what;
	while (d->off < d->len) {
		/* A socket, not a pipe: MSG_NOSIGNAL spares us SIGPIPE when the child ignores
		 * stdin. */
		k = send(fd, d->payload + d->off, d->len - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			d->off += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		break; /* the child closed its stdin: not our failure to judge */
	}
	ev_clear(&d->in_ev);
	close(d->in_fd);
	d->in_fd = -1;
}

static void on_cmd_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;

	(void)fd;
	(void)what;
	d->timed_out = 1;
	/* The whole process group: a shell's children must not outlive the budget. */
	kill(-d->pid, SIGKILL);
	kill(d->pid, SIGKILL);
}

static void on_cmd_poll(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;
	struct timeval tv = {0, NOTIFY_POLL_MS * 1000};

	(void)fd;
	(void)what;
	if (!cmd_reap(d))
		evtimer_add(d->poll, &tv);
}

/* Keep our ends away from 0..2 so that the dup2s in the child cannot collide with them. */
static int fd_high(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* In the child after fork: async-signal-safe calls only, then exec or _exit. */
static void cmd_child(char *const argv[], int in, int out)
{
	static const char msg[] = "mailpulse: cannot execute ";
	const int reset[] = {SIGPIPE, SIGCHLD, SIGINT,  SIGQUIT, SIGTERM,
	                     SIGHUP,  SIGUSR1, SIGUSR2, SIGALRM};
	struct sigaction sa;
	sigset_t none;
	long maxfd;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (size_t k = 0; k < sizeof(reset) / sizeof(reset[0]); k++)
		sigaction(reset[k], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
		/* The daemon's sockets and database must not leak into the command. */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
	{
		maxfd = sysconf(_SC_OPEN_MAX);
		if (maxfd < 0 || maxfd > 65536)
			maxfd = 65536;
		for (int fd = 3; fd < maxfd; fd++)
			close(fd);
	}
	execvp(argv[0], argv);
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, argv[0], strlen(argv[0]));
	(void)!write(2, "\n", 1);
	_exit(127);
}

/*
 * Run argv with no shell: stdin a socket fed the event JSON, stdout and
 * stderr one pipe, in a process group of its own so a timeout kills what it
 * started too. The child is reaped by polling waitpid on a timer, not by a
 * SIGCHLD event: libevent lets only one base own signals, and the daemon's
 * base may want SIGCHLD for itself.
 */
static int cmd_start(struct delivery *d, char *err, size_t errlen)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, i;
	struct timeval tv;
	pid_t pid;

	d->outlen = 0;
	d->off = 0;
	d->timed_out = 0;
	if (!d->ch.argv[0]) {
		snprintf(err, errlen, "no command configured");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 || pipe(out) < 0) {
		snprintf(err, errlen, "cannot create pipes: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		in[i] = fd_high(in[i]);
		out[i] = fd_high(out[i]);
		if (out[i] >= 0)
			fcntl(out[i], F_SETFD, FD_CLOEXEC);
	}
	if (in[0] < 0 || in[1] < 0 || out[0] < 0 || out[1] < 0) {
		snprintf(err, errlen, "cannot create pipes: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		cmd_child(d->ch.argv, in[1], out[1]);
	/* Both sides set the group, so a kill(-pid) right after fork cannot miss. */
	setpgid(pid, pid);
	d->pid = pid;
	close(in[1]);
	close(out[1]);
	d->in_fd = in[0];
	d->out_fd = out[0];
	evutil_make_socket_nonblocking(d->in_fd);
	evutil_make_socket_nonblocking(d->out_fd);
	d->in_ev = event_new(d->n->base, d->in_fd, EV_WRITE | EV_PERSIST, on_cmd_in, d);
	d->out_ev = event_new(d->n->base, d->out_fd, EV_READ | EV_PERSIST, on_cmd_out, d);
	d->deadline = evtimer_new(d->n->base, on_cmd_deadline, d);
	d->poll = evtimer_new(d->n->base, on_cmd_poll, d);
	if (!d->in_ev || !d->out_ev || !d->deadline || !d->poll) {
		/* The child runs already: stop it, then fail like any other attempt. */
		kill(-d->pid, SIGKILL);
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
		cmd_close(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	event_add(d->in_ev, NULL);
	event_add(d->out_ev, NULL);
	tv.tv_sec = d->ch.timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(d->ch.timeout_ms % 1000) * 1000;
	evtimer_add(d->deadline, &tv);
	tv.tv_sec = 0;
	tv.tv_usec = NOTIFY_POLL_MS * 1000;
	evtimer_add(d->poll, &tv);
	return 0;
fail:
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return -1;
}

/* ---- the queue ---- */

static void attempt_start(struct delivery *d)
{
	char err[NOTIFY_DETAIL_MAX];
	int rc;

	d->attempt++;
	d->state = D_RUNNING;
	d->n->nrunning++;
	if (d->ch.type == CH_COMMAND)
		rc = cmd_start(d, err, sizeof(err));
	else
		rc = curl_start(d, err, sizeof(err));
	if (rc < 0)
		attempt_end(d, 0, d->ch.type != CH_COMMAND || d->ch.argv[0] != NULL, err);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;
	struct delivery *d;

	(void)fd;
	(void)what;
	while (n->nrunning < NOTIFY_INFLIGHT_MAX && (d = TAILQ_FIRST(&n->ready))) {
		TAILQ_REMOVE(&n->ready, d, ready);
		attempt_start(d);
	}
}

/* Start what can start, from the loop: callers never see a callback inside their call. */
static void pump(struct notify *n)
{
	if (!TAILQ_EMPTY(&n->ready) && n->nrunning < NOTIFY_INFLIGHT_MAX)
		event_active(n->kick, EV_TIMEOUT, 0);
}

/* The URL, headers and body for ch; 0, or -1 when out of memory. */
static int delivery_prepare(struct delivery *d, const struct notify_event *ev)
{
	const struct conf_channel *ch = &d->ch;
	json_t *j = NULL;
	char hdr[256];

	switch (ch->type) {
	case CH_EMAIL:
		d->endpoint = xstrdup(nz(ch->smtp_url));
		d->payload = mail_message(ev, ch);
		for (int i = 0; i < ch->nto; i++) {
			char rcpt[520];
			struct curl_slist *l;
			mail_addr(ch->to[i], rcpt, sizeof(rcpt));
			if (!(l = curl_slist_append(d->rcpt, rcpt)))
				return -1;
			d->rcpt = l;
		}
		if (!d->endpoint || !d->payload)
			return -1;
		d->len = strlen(d->payload);
		return 0;
	case CH_COMMAND:
		j = event_json(ev);
		break;
	case CH_WEBHOOK:
		j = event_json(ev);
		d->endpoint = xstrdup(nz(ch->url));
		break;
	case CH_PAGERDUTY: {
		const char *base = ch->url && *ch->url ? ch->url : PAGERDUTY_API;
		size_t bl = strlen(base);
		while (bl > 0 && base[bl - 1] == '/')
			bl--;
		j = pagerduty_json(ev, ch);
		if ((d->endpoint = malloc(bl + 32)))
			snprintf(d->endpoint, bl + 32, "%.*s/v2/enqueue", (int)bl, base);
		break;
	}
	case CH_TELEGRAM: {
		const char *base = ch->url && *ch->url ? ch->url : TELEGRAM_API;
		size_t bl = strlen(base), sz;
		while (bl > 0 && base[bl - 1] == '/')
			bl--;
		sz = bl + strlen(nz(ch->bot_token)) + 32;
		j = chat_json(ev, ch);
		if ((d->endpoint = malloc(sz)))
			snprintf(d->endpoint, sz, "%.*s/bot%s/sendMessage", (int)bl, base,
			         nz(ch->bot_token));
		break;
	}
	case CH_SLACK:
	case CH_MATTERMOST:
	case CH_DISCORD:
	case CH_TEAMS:
	default:
		j = chat_json(ev, ch);
		d->endpoint = xstrdup(nz(ch->url));
		break;
	}
	if (!j)
		return -1;
	d->payload = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!d->payload || (ch->type != CH_COMMAND && !d->endpoint))
		return -1;
	d->len = strlen(d->payload);
	if (ch->type == CH_COMMAND)
		return 0;

	/* An empty Expect: keeps curl from waiting a second for "100 Continue" on big bodies. */
	const char *fixed[] = {"Content-Type: application/json", "Expect:"};
	for (size_t i = 0; i < 2; i++) {
		struct curl_slist *l = curl_slist_append(d->headers, fixed[i]);
		if (!l)
			return -1;
		d->headers = l;
	}
	if (ch->type == CH_WEBHOOK) {
		snprintf(hdr, sizeof(hdr), "X-Mailpulse-Event: %s", notify_kind_name(ev->kind));
		struct curl_slist *l = curl_slist_append(d->headers, hdr);
		if (!l)
			return -1;
		d->headers = l;
		if (ch->secret && *ch->secret) {
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned int mdlen = 0;
			char mdhex[2 * EVP_MAX_MD_SIZE + 1];
			if (!HMAC(EVP_sha256(), ch->secret, (int)strlen(ch->secret),
			          (const unsigned char *)d->payload, d->len, md, &mdlen))
				return -1;
			hex(md, mdlen, mdhex);
			snprintf(hdr, sizeof(hdr), "X-Mailpulse-Signature: sha256=%s", mdhex);
			if (!(l = curl_slist_append(d->headers, hdr)))
				return -1;
			d->headers = l;
		}
	}
	return 0;
}

int notify_send(struct notify *n, const struct conf_channel *ch, const struct notify_event *ev)
{
	struct delivery *d;

	if (!n || !ch || !ev || n->closing || n->npending >= NOTIFY_QUEUE_MAX)
		return -1;
	if (!(d = calloc(1, sizeof(*d))))
		return -1;
	d->n = n;
	d->kind = ev->kind;
	d->in_fd = d->out_fd = -1;
	if (channel_copy(&d->ch, ch) < 0 || !(d->check = strdup(nz(ev->check))) ||
	    !(d->timer = evtimer_new(n->base, on_backoff, d)) || delivery_prepare(d, ev) < 0) {
		delivery_free(d);
		return -1;
	}
	d->state = D_READY;
	TAILQ_INSERT_TAIL(&n->all, d, all);
	TAILQ_INSERT_TAIL(&n->ready, d, ready);
	n->npending++;
	pump(n);
	return 0;
}

int notify_pending(const struct notify *n)
{
	return n ? n->npending : 0;
}

void notify_each_channel(const struct notify *n, notify_count_cb cb, void *arg)
{
	for (size_t i = 0; n && i < n->ncounts; i++)
		cb(n->counts[i].name, n->counts[i].attempts, n->counts[i].failures, arg);
}

/*
 * curl_global_init is not thread-safe in every libcurl and must run before
 * any thread exists; the daemon is single-threaded and creates its notify
 * before the loop, so doing it here is safe. libcurl counts init/cleanup pairs.
 */
struct notify *notify_new(struct event_base *base, notify_attempt_cb cb, void *arg)
{
	struct notify *n;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	if (!(n = calloc(1, sizeof(*n)))) {
		curl_global_cleanup();
		return NULL;
	}
	n->base = base;
	n->cb = cb;
	n->arg = arg;
	TAILQ_INIT(&n->all);
	TAILQ_INIT(&n->ready);
	LIST_INIT(&n->socks);
	n->multi = curl_multi_init();
	n->curl_timer = evtimer_new(base, on_curl_timer_event, n);
	n->kick = event_new(base, -1, 0, on_kick, n);
	if (!n->multi || !n->curl_timer || !n->kick) {
		notify_free(n);
		return NULL;
	}
	curl_multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(n->multi, CURLMOPT_SOCKETDATA, n);
	curl_multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(n->multi, CURLMOPT_TIMERDATA, n);
	return n;
}

/*
 * Every delivery still pending is reported once as failed and dropped. A
 * running command is killed and reaped here: waitpid after SIGKILL returns
 * at once, and the loop is no longer running anyway. The callback must not
 * call notify_free(); a notify_send() from it is refused.
 */
void notify_free(struct notify *n)
{
	struct delivery *d;
	struct sock *sk;

	if (!n)
		return;
	n->closing = 1;
	while ((d = TAILQ_FIRST(&n->all))) {
		TAILQ_REMOVE(&n->all, d, all);
		if (d->state == D_READY)
			TAILQ_REMOVE(&n->ready, d, ready);
		if (d->state != D_RUNNING)
			d->attempt++; /* the attempt that will now never run */
		if (d->pid > 0) {
			kill(-d->pid, SIGKILL);
			kill(d->pid, SIGKILL);
			while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
				;
			d->pid = 0;
		}
		n->npending--;
		report(d, 0, "abandoned at shutdown");
		delivery_free(d);
	}
	if (n->multi)
		curl_multi_cleanup(n->multi);
	/* Sockets libcurl never told us to forget (closed in the cleanup above). */
	while ((sk = LIST_FIRST(&n->socks)))
		sock_free(sk);
	ev_clear(&n->curl_timer);
	ev_clear(&n->kick);
	for (size_t i = 0; i < n->ncounts; i++)
		free(n->counts[i].name);
	free(n->counts);
	free(n);
	curl_global_cleanup();
}
