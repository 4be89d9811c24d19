/* SPDX-License-Identifier: ISC */
/*
 * format.c - the text a person reads and the payload of every channel.
 *
 * Event strings (the check's name, the target, the probe's message, the
 * server's greeting) are shown, never interpreted: where a service reads
 * markup, they are put where it reads none (Adaptive Card TextRuns) or
 * escaped for it (MessageCard markdown). The dashboard link is built here
 * only, once for every channel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "notify/format.h"
#include "wire/output.h"

#define FORMAT_SUBJECT_MAX  256
#define FORMAT_BODY_MAX     4096
#define FORMAT_LINK_MAX     1024 /* the dashboard link; a longer one is left out */
#define FORMAT_FIELD_MAX    2048 /* one event string after escaping; cut beyond */
#define DISCORD_CONTENT_MAX 2000 /* Discord refuses longer content */
#define TELEGRAM_TEXT_MAX   4096
/* PagerDuty cuts a summary at 1024 bytes; ours is cut first, whole characters. */
#define PAGERDUTY_SUMMARY_MAX 1024
#define LOCATIONS_SHOWN_MAX   1024 /* the locations sentence beside a subject */

/* Rewrites one event string for a channel's markup into dst (always NUL-terminated). */
typedef void (*format_escape_fn)(char *dst, size_t sz, const char *s);

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
	case NOTIFY_NODE_LOST:
		return "node_lost";
	case NOTIFY_NODE_IMPAIRED:
		return "node_impaired";
	case NOTIFY_NODE_BACK:
		return "node_back";
	case NOTIFY_PARTIAL:
		return "partial";
	case NOTIFY_PARTIAL_END:
		return "partial_end";
	}
	return "unknown";
}

int notify_kind_is_node(enum notify_kind k)
{
	return k == NOTIFY_NODE_LOST || k == NOTIFY_NODE_IMPAIRED || k == NOTIFY_NODE_BACK;
}

int notify_kind_is_partial(enum notify_kind k)
{
	return k == NOTIFY_PARTIAL || k == NOTIFY_PARTIAL_END;
}

int notify_channel_takes(enum channel_type t, enum notify_kind k)
{
	/* A page is for an outage; partial is not one (mailpulse.conf(5), pagerduty). */
	return !(t == CH_PAGERDUTY && notify_kind_is_partial(k));
}

/* A node's state as its alert names it. */
static const char *node_state_word(enum notify_kind k)
{
	return k == NOTIFY_NODE_LOST ? "lost" : k == NOTIFY_NODE_IMPAIRED ? "impaired" : "back";
}

/* ---- what a person reads ---- */

/*
 * For MessageCard markdown, which reads every text field: a backslash
 * before each byte that can open emphasis, code, a link, an autolink, an
 * HTML tag or a table, so that a greeting such as "[x](https://evil)"
 * shows as written. The documented way (the legacy card reference says
 * to escape markdown's special characters).
 */
static void md_escape(char *dst, size_t sz, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < sz; s++) {
		if (strchr("\\`*_{}[]<>#~|", *s))
			dst[o++] = '\\';
		dst[o++] = *s;
	}
	dst[o] = '\0';
}

/*
 * For Adaptive Cards: TextRuns read no markdown, but renderers expand
 * {{DATE(...)}} and {{TIME(...)}}; a zero-width space (U+200B) between two
 * braces keeps the text as written.
 */
static void ac_escape(char *dst, size_t sz, const char *s)
{
	size_t o = 0;

	for (; *s && o + 5 < sz; s++) {
		dst[o++] = *s;
		if (s[0] == '{' && s[1] == '{') {
			memcpy(dst + o, "\xe2\x80\x8b", 3);
			o += 3;
		}
	}
	dst[o] = '\0';
}

/*
 * The subject and body, with every event string passed through esc (NULL:
 * as they are). The dashboard link is ours and never escaped: it holds
 * only the base URL and RFC 3986 unreserved bytes or %XX.
 */
#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (off < bodysz) {                                                                \
			int w_ = snprintf(body + off, bodysz - off, __VA_ARGS__);                  \
			off = w_ < 0 ? bodysz : off + (size_t)w_;                                  \
		}                                                                                  \
	} while (0)

/*
 * A node's alert: what became of it and why, never a check's words. The
 * node's name and why pass through esc like every event string (why may
 * quote a canary's message, which a server wrote).
 */
static void format_node_text(const struct notify_event *ev, format_escape_fn esc, char *subject,
                             size_t subjectsz, char *body, size_t bodysz)
{
	char since[32], now[32], dur[32], buf[3][FORMAT_FIELD_MAX];
	const char *node = nz(ev->node), *why = nz(ev->why), *location = nz(ev->location);
	const char *word = node_state_word(ev->kind);
	size_t off = 0;

	if (esc) {
		const char **f[] = {&node, &why, &location};
		for (size_t i = 0; i < 3; i++) {
			esc(buf[i], sizeof(buf[i]), *f[i]);
			*f[i] = buf[i];
		}
	}
	iso8601(ev->since_ms, since, sizeof(since));
	iso8601(ev->now_ms, now, sizeof(now));
	if (*why)
		snprintf(subject, subjectsz, "[mailpulse] node %s %s (%s)", node, word, why);
	else
		snprintf(subject, subjectsz, "[mailpulse] node %s %s", node, word);
	if (bodysz == 0)
		return;
	body[0] = '\0';
	ADD("Node:     %s\n", node);
	ADD("State:    %s\n", ev->kind == NOTIFY_NODE_BACK ? "ok" : word);
	if (*why)
		ADD("Why:      %s\n", why);
	human_duration(ev->now_ms - ev->since_ms, dur, sizeof(dur));
	ADD("Since:    %s (for %s)\n", since, dur);
	ADD("Now:      %s\n", now);
	if (ev->kind == NOTIFY_NODE_BACK)
		ADD("Effect:   its results count in check verdicts again\n");
	else
		ADD("Effect:   its results do not count in check verdicts until it is back; no "
		    "check alert comes of this\n");
	if (*location)
		ADD("Controller: %s\n", location);
}

static void format_text(const struct notify_event *ev, format_escape_fn esc, char *subject,
                        size_t subjectsz, char *body, size_t bodysz)
{
	char since[32], now[32], dur[32], link[FORMAT_LINK_MAX];
	char buf[6][FORMAT_FIELD_MAX];
	const char *check = nz(ev->check), *target = nz(ev->target), *message = nz(ev->message),
	           *greeting = nz(ev->greeting), *location = nz(ev->location),
	           *locations = nz(ev->locations);
	const char *reason = result_reason_name(ev->reason);
	size_t off = 0;

	if (notify_kind_is_node(ev->kind)) {
		format_node_text(ev, esc, subject, subjectsz, body, bodysz);
		return;
	}
	if (esc) {
		const char **f[] = {&check, &target, &message, &greeting, &location, &locations};
		for (size_t i = 0; i < 6; i++) {
			esc(buf[i], sizeof(buf[i]), *f[i]);
			*f[i] = buf[i];
		}
	}

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
	case NOTIFY_PARTIAL:
		/* Where it fails is the news: the sentence, or the reason without one. */
		snprintf(subject, subjectsz, "[mailpulse] PARTIAL %s: %s", check,
		         *locations ? locations : reason);
		break;
	case NOTIFY_PARTIAL_END:
		human_duration(ev->duration_ms, dur, sizeof(dur));
		snprintf(subject, subjectsz, "[mailpulse] PARTIAL OVER %s after %s", check, dur);
		break;
	case NOTIFY_TEST:
	default:
		snprintf(subject, subjectsz, "[mailpulse] TEST notification for %s", check);
		break;
	}

	if (bodysz == 0)
		return;
	body[0] = '\0';
	ADD("Check:    %s\n", check);
	ADD("Target:   %s\n", target);
	if (ev->kind == NOTIFY_PARTIAL)
		ADD("Status:   partial: seen down from fewer locations than its quorum, not an "
		    "outage (the check stays %s)\n",
		    result_status_name(ev->status));
	else if (ev->kind == NOTIFY_PARTIAL_END)
		ADD("Status:   %s (was partial)\n", result_status_name(ev->status));
	else
		ADD("Status:   %s (was %s)\n", result_status_name(ev->status),
		    result_status_name(ev->prev));
	if (ev->kind != NOTIFY_TEST)
		ADD("Severity: %s%s\n", result_severity_name(ev->severity),
		    ev->status == MP_DEGRADED ? " (the service still answers)" : "");
	if ((ev->kind != NOTIFY_RECOVERY && ev->kind != NOTIFY_PARTIAL_END) ||
	    ev->reason != MP_R_OK)
		ADD("Reason:   %s\n", reason);
	if (*message)
		ADD("Message:  %s\n", message);
	if (*greeting)
		ADD("Server:   %s\n", greeting);
	if (ev->kind == NOTIFY_RECOVERY) {
		human_duration(ev->duration_ms, dur, sizeof(dur));
		ADD("Was down: %s\n", dur);
		ADD("Up since: %s\n", since);
	} else if (ev->kind == NOTIFY_PARTIAL_END) {
		human_duration(ev->duration_ms, dur, sizeof(dur));
		ADD("Partial:  %s, from %s\n", dur, since);
	} else {
		human_duration(ev->now_ms - ev->since_ms, dur, sizeof(dur));
		ADD("Since:    %s (for %s)\n", since, dur);
		if (ev->confirmed > 1)
			ADD("Confirmed: %u consecutive probes since then\n", ev->confirmed);
	}
	ADD("Now:      %s\n", now);
	if (*location)
		ADD("Location: %s\n", location);
	if (*locations)
		ADD("Locations: %s\n", locations);
	if (dashboard_link(ev, link, sizeof(link)))
		ADD("Dashboard: %s\n", link);
}
#undef ADD

void notify_format_text(const struct notify_event *ev, char *subject, size_t subjectsz, char *body,
                        size_t bodysz)
{
	format_text(ev, NULL, subject, subjectsz, body, bodysz);
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

/* PagerDuty's dedup_key of a node's alerts: lost and impaired trigger it, back resolves it. */
static void node_key(const struct notify_event *ev, char *buf, size_t sz)
{
	snprintf(buf, sz, "mailpulse-node-%s", nz(ev->node));
}

/* A node's alert as the webhook and command channels see it. */
static json_t *node_event_json(const struct notify_event *ev)
{
	char key[300];
	json_t *o = json_object();

	if (!o)
		return NULL;
	node_key(ev, key, sizeof(key));
	json_object_set_new(o, "kind", json_string(notify_kind_name(ev->kind)));
	json_object_set_new(o, "node", jstr(nz(ev->node)));
	json_object_set_new(
	    o, "state",
	    json_string(ev->kind == NOTIFY_NODE_BACK ? "ok" : node_state_word(ev->kind)));
	json_object_set_new(o, "why", jstr(nz(ev->why)));
	json_object_set_new(o, "location", jstr(nz(ev->location)));
	json_object_set_new(o, "since", jtime(ev->since_ms));
	json_object_set_new(o, "since_ms", json_integer(ev->since_ms));
	json_object_set_new(o, "now", jtime(ev->now_ms));
	json_object_set_new(o, "now_ms", json_integer(ev->now_ms));
	json_object_set_new(o, "duration_ms", json_integer(ev->duration_ms));
	json_object_set_new(o, "incident_key", jstr(key));
	return o;
}

/* What each location of a check saw; only for a check probed from several. */
static void locations_json(json_t *o, const struct notify_event *ev)
{
	json_t *a;

	if (!ev->locations)
		return;
	json_object_set_new(o, "locations", jstr(ev->locations));
	if (!(a = json_array()))
		return;
	for (int i = 0; i < ev->nlocs; i++) {
		const struct notify_loc *l = &ev->locs[i];
		json_array_append_new(a, json_pack("{s:o, s:s, s:s, s:o, s:b}", "location",
		                                   jstr(nz(l->location)), "state",
		                                   l->state ? l->state : "pending", "reason",
		                                   result_reason_name(l->reason), "message",
		                                   jstr(nz(l->message)), "counts", l->counts));
	}
	json_object_set_new(o, "location_states", a);
}

/* The event as the webhook and command channels see it: the documented schema. */
static json_t *event_json(const struct notify_event *ev)
{
	char link[FORMAT_LINK_MAX];
	json_t *o;

	if (notify_kind_is_node(ev->kind))
		return node_event_json(ev);
	if (!(o = json_object()))
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
	/* Our own encoder's output; should it not parse, null rather than a made-up shape. */
	json_t *res =
	    ev->result_json ? json_loads(ev->result_json, JSON_REJECT_DUPLICATES, NULL) : NULL;
	json_object_set_new(o, "result", res && json_is_object(res) ? res : json_null());
	if (res && !json_is_object(res))
		json_decref(res);
	locations_json(o, ev);
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

/*
 * How bad it is, for the cards' colours: 0 recovery (a partial's end too),
 * 1 warning (partial: not an outage), 2 test, 3 down or critical.
 */
static int teams_tone(const struct notify_event *ev)
{
	if (ev->kind == NOTIFY_RECOVERY || ev->kind == NOTIFY_NODE_BACK ||
	    ev->kind == NOTIFY_PARTIAL_END)
		return 0;
	if (ev->kind == NOTIFY_NODE_IMPAIRED || ev->kind == NOTIFY_PARTIAL)
		return 1;
	if ((ev->kind == NOTIFY_DEGRADED || ev->kind == NOTIFY_REMINDER) &&
	    ev->status == MP_DEGRADED && ev->severity != MP_SEV_CRITICAL)
		return 1;
	if (ev->kind == NOTIFY_TEST)
		return 2;
	return 3;
}

/* The retired Office 365 connectors' card, for `format: messagecard`. */
static json_t *teams_messagecard(const struct notify_event *ev)
{
	static const char *const colors[] = {"2EB886", "FFA500", "0078D7", "D50000"};
	char subject[FORMAT_SUBJECT_MAX], body[FORMAT_BODY_MAX], md[2 * FORMAT_BODY_MAX];
	size_t o = 0;

	format_text(ev, md_escape, subject, sizeof(subject), body, sizeof(body));
	/* MessageCard markdown joins single newlines; a blank line keeps them apart. */
	for (const char *p = body; *p && o + 3 < sizeof(md); p++) {
		if (*p == '\n') {
			md[o++] = '\n';
			md[o++] = '\n';
		} else {
			md[o++] = *p;
		}
	}
	md[o] = '\0';
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "@type", "MessageCard", "@context",
	                 "https://schema.org/extensions", "summary", jstr(subject), "title",
	                 jstr(subject), "text", jstr(md), "themeColor", colors[teams_tone(ev)]);
}

/* A RichTextBlock of TextRuns: text that no renderer reads as markdown. */
static json_t *ac_runs(json_t *runs, const char *spacing)
{
	json_t *b = json_pack("{s:s, s:o}", "type", "RichTextBlock", "inlines", runs);

	if (b && spacing)
		json_object_set_new(b, "spacing", json_string(spacing));
	return b;
}

static json_t *ac_run(const char *text, int bold)
{
	json_t *r = json_pack("{s:s, s:o}", "type", "TextRun", "text", jstr(text));

	if (r && bold)
		json_object_set_new(r, "weight", json_string("Bolder"));
	return r;
}

/*
 * The Adaptive Card that Teams Workflows webhooks take ("Post to a channel
 * when a webhook request is received"), in the message envelope they
 * expect. The subject, then one block per line of the text ("Label:" in
 * bold, then the value), and a button to the check's dashboard page.
 */
static json_t *teams_adaptive(const struct notify_event *ev)
{
	static const char *const colors[] = {"Good", "Warning", "Accent", "Attention"};
	char subject[FORMAT_SUBJECT_MAX], body[FORMAT_BODY_MAX], link[FORMAT_LINK_MAX];
	json_t *blocks = json_array(), *title, *card;
	char *line, *save = NULL;

	if (!blocks)
		return NULL;
	format_text(ev, ac_escape, subject, sizeof(subject), body, sizeof(body));
	title = ac_run(subject, 1);
	if (title) {
		json_object_set_new(title, "size", json_string("Medium"));
		json_object_set_new(title, "color", json_string(colors[teams_tone(ev)]));
	}
	json_array_append_new(blocks, ac_runs(json_pack("[o]", title), NULL));
	for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *colon = strchr(line, ':');
		char label[64];

		if (!colon || colon - line > 32) {
			json_array_append_new(blocks,
			                      ac_runs(json_pack("[o]", ac_run(line, 0)), "None"));
			continue;
		}
		/* Runs join as they are: the label carries the space before its value. */
		snprintf(label, sizeof(label), "%.*s ", (int)(colon - line + 1), line);
		json_array_append_new(
		    blocks, ac_runs(json_pack("[o, o]", ac_run(label, 1),
		                              ac_run(colon + 1 + strspn(colon + 1, " "), 0)),
		                    "None"));
	}
	card = json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:s}}", "type", "AdaptiveCard", "$schema",
	                 "http://adaptivecards.io/schemas/adaptive-card.json", "version", "1.4",
	                 "fallbackText", jstr(subject), "body", blocks, "msteams", "width", "Full");
	if (card && dashboard_link(ev, link, sizeof(link)))
		json_object_set_new(card, "actions",
		                    json_pack("[{s:s, s:s, s:o}]", "type", "Action.OpenUrl",
		                              "title", "Open in the dashboard", "url", jstr(link)));
	return json_pack("{s:s, s:[{s:s, s:o}]}", "type", "message", "attachments", "contentType",
	                 "application/vnd.microsoft.card.adaptive", "content", card);
}

static json_t *chat_json(const struct notify_event *ev, const struct conf_channel *ch)
{
	char subject[FORMAT_SUBJECT_MAX], body[FORMAT_BODY_MAX],
	    text[FORMAT_SUBJECT_MAX + FORMAT_BODY_MAX + 8];

	notify_format_text(ev, subject, sizeof(subject), body, sizeof(body));
	switch (ch->type) {
	case CH_DISCORD:
		snprintf(text, sizeof(text), "%s\n```\n%s```", subject, body);
		utf8_cut(text, DISCORD_CONTENT_MAX);
		return json_pack("{s:o}", "content", jstr(text));
	case CH_TEAMS:
		return ch->teams_format == TEAMS_MESSAGECARD ? teams_messagecard(ev)
		                                             : teams_adaptive(ev);
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

/*
 * A node's alert at PagerDuty: lost and impaired trigger one alert per
 * node (a lost node found impaired updates it), back resolves it.
 */
static json_t *pagerduty_node_json(const struct notify_event *ev, const struct conf_channel *ch)
{
	char subject[FORMAT_SUBJECT_MAX], key[300];
	const char *action = ev->kind == NOTIFY_NODE_BACK ? "resolve" : "trigger";
	const char *severity = ev->kind == NOTIFY_NODE_LOST       ? "error"
	                       : ev->kind == NOTIFY_NODE_IMPAIRED ? "warning"
	                                                          : "info";
	json_t *payload;

	notify_format_text(ev, subject, sizeof(subject), NULL, 0);
	node_key(ev, key, sizeof(key));
	payload = json_pack("{s:o, s:o, s:s, s:s, s:o, s:o, s:o}", "summary", jstr(subject),
	                    "source", jstr(nz(ev->node)), "severity", severity, "component",
	                    "mailpulse-node", "group", jstr(nz(ev->location)), "timestamp",
	                    jtime(ev->now_ms), "custom_details", node_event_json(ev));
	return json_pack("{s:o, s:s, s:o, s:s, s:o}", "routing_key", jstr(nz(ch->routing_key)),
	                 "event_action", action, "dedup_key", jstr(key), "client", "mailpulse",
	                 "payload", payload);
}

static json_t *pagerduty_json(const struct notify_event *ev, const struct conf_channel *ch)
{
	char subject[FORMAT_SUBJECT_MAX], key[300], link[FORMAT_LINK_MAX];
	char summary[FORMAT_SUBJECT_MAX + LOCATIONS_SHOWN_MAX];
	const char *action = ev->kind == NOTIFY_RECOVERY ? "resolve" : "trigger";
	const char *severity;
	json_t *details, *payload, *o;

	if (notify_kind_is_node(ev->kind))
		return pagerduty_node_json(ev, ch);
	if (!notify_channel_takes(ch->type, ev->kind))
		return NULL; /* a partial notice: PagerDuty pages for none */
	notify_format_text(ev, subject, sizeof(subject), NULL, 0);
	/* PagerDuty shows the summary: a check seen from several places says from where. */
	if (ev->locations && *ev->locations)
		snprintf(summary, sizeof(summary), "%s; %s", subject, ev->locations);
	else
		snprintf(summary, sizeof(summary), "%s", subject);
	utf8_cut(summary, PAGERDUTY_SUMMARY_MAX);
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
	payload = json_pack("{s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "summary", jstr(summary),
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

void format_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
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
	unsigned char b64[4 * ((FORMAT_SUBJECT_MAX + 2) / 3) + 1];

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
	char subject[FORMAT_SUBJECT_MAX], encoded[FORMAT_SUBJECT_MAX * 2], body[FORMAT_BODY_MAX];
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
	format_hex(r, sizeof(r), rnd);
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

char *format_payload(const struct notify_event *ev, const struct conf_channel *ch)
{
	json_t *j;
	char *out;

	switch (ch->type) {
	case CH_EMAIL:
		return mail_message(ev, ch);
	case CH_WEBHOOK:
	case CH_COMMAND:
		j = event_json(ev);
		break;
	case CH_PAGERDUTY:
		j = pagerduty_json(ev, ch);
		break;
	case CH_SLACK:
	case CH_MATTERMOST:
	case CH_DISCORD:
	case CH_TEAMS:
	case CH_TELEGRAM:
	default:
		j = chat_json(ev, ch);
		break;
	}
	if (!j)
		return NULL;
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return out;
}
