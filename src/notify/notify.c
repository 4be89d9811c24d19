/* SPDX-License-Identifier: ISC */
/*
 * notify.c - the delivery queue: each event for each channel is one
 * delivery, retried with backoff, its attempts bounded in number and in
 * flight at once, each attempt's outcome judged and reported. HTTP and
 * SMTP go through net/curl_loop on the daemon's event base, commands
 * through notify/command; what is sent comes from notify/format. Nothing
 * here blocks the loop.
 *
 * A delivery owns deep copies of the event's payload and of the channel,
 * so the conf may be reloaded while it waits. Its life: READY (waiting for
 * a slot) -> RUNNING (one attempt) -> freed, or BACKOFF -> READY again.
 * Every attempt's outcome is reported once through the attempt callback,
 * with a detail that never holds a token, password, secret or webhook path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/line.h"
#include "core/log.h"
#include "net/curl_loop.h"
#include "notify/command.h"
#include "notify/format.h"
#include "notify/notify.h"

/* Attempts running at once (HTTP, SMTP and commands together); the rest wait. */
#define NOTIFY_INFLIGHT_MAX   32
#define NOTIFY_BACKOFF_MS     2000 /* before the first retry; doubles */
#define NOTIFY_BACKOFF_MAX_MS (5 * 60 * 1000)
#define NOTIFY_TIMEOUT_MS     10000 /* per attempt when the channel says 0 */
#define NOTIFY_DETAIL_MAX     512
#define NOTIFY_RESPONSE_MAX   256 /* response body kept for the detail */

/* Channel names counted apart; attempts of any further name share NOTIFY_OTHER. */
#define NOTIFY_CHANNELS_MAX 256
#define NOTIFY_OTHER        "(other)" /* no configured name has parentheses */

#define PAGERDUTY_API "https://events.pagerduty.com"
#define TELEGRAM_API  "https://api.telegram.org"

enum dstate {
	D_CLAIMING, /* its claim asked (notify_set_claims()); in neither list until granted */
	D_READY,    /* in n->ready, waiting for a slot */
	D_RUNNING,  /* one attempt in flight */
	D_BACKOFF,  /* d->timer armed for the next attempt */
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
	size_t off; /* bytes of payload already handed to libcurl in this attempt */
	int attempt;
	struct event *timer; /* backoff */
	struct curl_slist *headers;
	struct curl_slist *rcpt;
	struct curl_loop_xfer *xfer; /* the HTTP or SMTP attempt running */
	struct command *cmd;         /* the command attempt running */
	char *claim;                 /* its claim's key, or NULL: not claimed */
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
	struct curl_loop *curl;
	struct event *kick; /* starts ready deliveries from the loop, never from a caller */
	TAILQ_HEAD(, delivery) all;
	TAILQ_HEAD(, delivery) ready;
	int npending;
	int nrunning;
	int closing;
	struct chan_count *counts; /* O(N) lookups: a handful of channels */
	size_t ncounts, capcounts;
	notify_claim_fn claim;
	notify_claimed_fn claimed;
	void *claim_arg;
};

static void pump(struct notify *n);

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* The address inside "Name <addr>", or the whole string: an SMTP envelope address. */
static void mail_addr(const char *s, char *out, size_t sz)
{
	const char *lt = strrchr(s, '<'), *gt;

	if (lt && (gt = strchr(lt, '>')))
		snprintf(out, sz, "<%.*s>", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, sz, "<%s>", s);
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
	dst->teams_format = src->teams_format;
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

static void delivery_free(struct delivery *d)
{
	curl_loop_cancel(d->xfer);
	command_kill(d->cmd);
	curl_slist_free_all(d->headers);
	curl_slist_free_all(d->rcpt);
	if (d->timer)
		event_free(d->timer);
	channel_free(&d->ch);
	free(d->check);
	free(d->claim);
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
	if (!again && d->claim && n->claimed)
		n->claimed(d->claim, ok, n->claim_arg);
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

static size_t on_curl_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct delivery *d = arg;
	size_t room = size * nitems, left = d->len - d->off;
	size_t k = left < room ? left : room;

	memcpy(buf, d->payload + d->off, k);
	d->off += k;
	return k;
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

static void on_curl_done(const struct curl_loop_result *res, void *arg)
{
	struct delivery *d = arg;
	char detail[NOTIFY_DETAIL_MAX];
	struct notify_reply r = {
	    .type = d->ch.type,
	    .curl_rc = (int)res->rc,
	    .code = res->status,
	    .os_errno = res->os_errno,
	    .timeout_ms = d->ch.timeout_ms,
	    .errbuf = res->errbuf,
	    .body = res->body,
	    .bodylen = res->bodylen,
	};
	int ok, retryable;

	d->xfer = NULL; /* the loop frees it after this callback */
	notify_judge(&r, &ok, &retryable, detail, sizeof(detail));
	attempt_end(d, ok, retryable, detail);
}

static int curl_start(struct delivery *d, char *err, size_t errlen)
{
	CURL *e = curl_easy_init();
	CURLcode rc = CURLE_OK;

	if (!e) {
		snprintf(err, errlen, "out of memory (curl_easy_init)");
		return -1;
	}
	d->off = 0;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, d->endpoint);
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
	}
#undef SET
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "curl: %s", curl_easy_strerror(rc));
		curl_easy_cleanup(e);
		return -1;
	}
	/*
	 * The start of the body is enough for the detail; the rest is read and
	 * dropped, since a 2xx with a long body is still a delivery.
	 */
	if (!(d->xfer = curl_loop_add(d->n->curl, e, NOTIFY_RESPONSE_MAX, CURL_LOOP_BODY_CUT,
	                              on_curl_done, d))) {
		snprintf(err, errlen, "cannot start the transfer (out of memory?)");
		return -1;
	}
	return 0;
}

/* ---- the queue ---- */

static void on_command_done(int ok, int retryable, const char *detail, void *arg)
{
	struct delivery *d = arg;

	d->cmd = NULL; /* freed already */
	attempt_end(d, ok, retryable, detail);
}

static void attempt_start(struct delivery *d)
{
	char err[NOTIFY_DETAIL_MAX];
	int rc;

	d->attempt++;
	d->state = D_RUNNING;
	d->n->nrunning++;
	if (d->ch.type == CH_COMMAND) {
		d->cmd = command_start(d->n->base, d->ch.argv, d->payload, d->len, d->ch.timeout_ms,
		                       on_command_done, d, err, sizeof(err));
		rc = d->cmd ? 0 : -1;
	} else {
		rc = curl_start(d, err, sizeof(err));
	}
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
	char hdr[256];

	if (!(d->payload = format_payload(ev, ch)))
		return -1;
	d->len = strlen(d->payload);
	switch (ch->type) {
	case CH_COMMAND:
		return 0;
	case CH_EMAIL:
		for (int i = 0; i < ch->nto; i++) {
			char rcpt[520];
			struct curl_slist *l;
			mail_addr(ch->to[i], rcpt, sizeof(rcpt));
			if (!(l = curl_slist_append(d->rcpt, rcpt)))
				return -1;
			d->rcpt = l;
		}
		return (d->endpoint = xstrdup(nz(ch->smtp_url))) ? 0 : -1;
	case CH_PAGERDUTY: {
		const char *base = ch->url && *ch->url ? ch->url : PAGERDUTY_API;
		size_t bl = strlen(base);
		while (bl > 0 && base[bl - 1] == '/')
			bl--;
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
		if ((d->endpoint = malloc(sz)))
			snprintf(d->endpoint, sz, "%.*s/bot%s/sendMessage", (int)bl, base,
			         nz(ch->bot_token));
		break;
	}
	case CH_WEBHOOK:
	case CH_SLACK:
	case CH_MATTERMOST:
	case CH_DISCORD:
	case CH_TEAMS:
	default:
		d->endpoint = xstrdup(nz(ch->url));
		break;
	}
	if (!d->endpoint)
		return -1;

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
			format_hex(md, mdlen, mdhex);
			snprintf(hdr, sizeof(hdr), "X-Mailpulse-Signature: sha256=%s", mdhex);
			if (!(l = curl_slist_append(d->headers, hdr)))
				return -1;
			d->headers = l;
		}
	}
	return 0;
}

/*
 * The claim answered. A delivery whose notify went meanwhile (n NULL:
 * notify_free() left it to this answer) is only freed.
 */
static void on_granted(int granted, void *arg)
{
	struct delivery *d = arg;
	struct notify *n = d->n;

	if (!n) {
		delivery_free(d);
		return;
	}
	if (!granted) {
		TAILQ_REMOVE(&n->all, d, all);
		n->npending--;
		log_msg(LOG_NOTICE,
		        "notify %s: %s for %s not sent: another controller sent it, or is sending "
		        "it (claim %s)",
		        nz(d->ch.name), notify_kind_name(d->kind), d->check, d->claim);
		delivery_free(d);
		return;
	}
	d->state = D_READY;
	TAILQ_INSERT_TAIL(&n->ready, d, ready);
	pump(n);
}

/*
 * The name of ev's notification to channel, the same on every controller:
 * its kind, its incident's key (a state's start), the channel; a reminder
 * also its minute, being one of many.
 */
static char *claim_key(const struct notify_event *ev, const char *channel)
{
	char buf[512];

	if (ev->incident_key && *ev->incident_key)
		snprintf(buf, sizeof(buf), "%s|%s|%s", notify_kind_name(ev->kind), ev->incident_key,
		         channel);
	else
		snprintf(buf, sizeof(buf), "%s|%s/%lld|%s", notify_kind_name(ev->kind),
		         nz(ev->check ? ev->check : ev->node), (long long)ev->since_ms, channel);
	if (ev->kind == NOTIFY_REMINDER) {
		size_t len = strlen(buf);

		snprintf(buf + len, sizeof(buf) - len, "|%lld", (long long)(ev->now_ms / 60000));
	}
	return strdup(buf);
}

void notify_set_claims(struct notify *n, notify_claim_fn claim, notify_claimed_fn done, void *arg)
{
	n->claim = claim;
	n->claimed = done;
	n->claim_arg = arg;
}

int notify_send(struct notify *n, const struct conf_channel *ch, const struct notify_event *ev)
{
	struct delivery *d;

	if (!n || !ch || !ev || n->closing || n->npending >= NOTIFY_QUEUE_MAX)
		return -1;
	/* Not for this channel (PagerDuty and partial notices): nothing to deliver. */
	if (!notify_channel_takes(ch->type, ev->kind))
		return 0;
	if (!(d = calloc(1, sizeof(*d))))
		return -1;
	d->n = n;
	d->kind = ev->kind;
	if (channel_copy(&d->ch, ch) < 0 ||
	    !(d->check = strdup(nz(ev->check ? ev->check : ev->node))) ||
	    !(d->timer = evtimer_new(n->base, on_backoff, d)) || delivery_prepare(d, ev) < 0) {
		delivery_free(d);
		return -1;
	}
	if (n->claim && !(d->claim = claim_key(ev, nz(ch->name)))) {
		delivery_free(d);
		return -1;
	}
	TAILQ_INSERT_TAIL(&n->all, d, all);
	n->npending++;
	if (d->claim) {
		d->state = D_CLAIMING;
		n->claim(d->claim, on_granted, d, n->claim_arg);
		return 0;
	}
	d->state = D_READY;
	TAILQ_INSERT_TAIL(&n->ready, d, ready);
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

/* libcurl is made ready by curl_loop_new(): before the loop runs, before any thread. */
struct notify *notify_new(struct event_base *base, notify_attempt_cb cb, void *arg)
{
	struct notify *n;

	if (!(n = calloc(1, sizeof(*n))))
		return NULL;
	n->base = base;
	n->cb = cb;
	n->arg = arg;
	TAILQ_INIT(&n->all);
	TAILQ_INIT(&n->ready);
	n->curl = curl_loop_new(base);
	n->kick = event_new(base, -1, 0, on_kick, n);
	if (!n->curl || !n->kick) {
		notify_free(n);
		return NULL;
	}
	return n;
}

/*
 * Every delivery still pending is reported once as failed and dropped. A
 * running command is killed and reaped here: waitpid after SIGKILL returns
 * at once, and the loop is no longer running anyway. The callback must not
 * call notify_free(); a notify_send() from it is refused.
 */
void notify_free_why(struct notify *n, const char *why)
{
	struct delivery *d;

	if (!n)
		return;
	n->closing = 1;
	while ((d = TAILQ_FIRST(&n->all))) {
		TAILQ_REMOVE(&n->all, d, all);
		if (d->state == D_READY)
			TAILQ_REMOVE(&n->ready, d, ready);
		if (d->state != D_RUNNING)
			d->attempt++; /* the attempt that will now never run */
		command_kill(d->cmd);
		d->cmd = NULL;
		n->npending--;
		report(d, 0, why);
		if (d->state == D_CLAIMING) {
			/* Its claim's answer frees it (on_granted()): the store answers at its
			 * close. */
			d->n = NULL;
			continue;
		}
		delivery_free(d);
	}
	curl_loop_free(n->curl);
	if (n->kick)
		event_free(n->kick);
	for (size_t i = 0; i < n->ncounts; i++)
		free(n->counts[i].name);
	free(n->counts);
	free(n);
}

void notify_free(struct notify *n)
{
	notify_free_why(n, "abandoned at shutdown");
}
