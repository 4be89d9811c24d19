/* SPDX-License-Identifier: ISC */
/*
 * probe.c - the I/O driver: resolve -> connect -> TLS -> protocol core,
 * under one absolute deadline, ending in exactly one callback.
 *
 * A probe (struct probe) owns one or more sessions (struct session), one
 * per address tried: by default the addresses in the resolver's order,
 * moving to the next only when a connection cannot be made; with
 * --all-addresses every address at once, each with its own verdict.
 *
 * Nothing here blocks: DNS is evdns, connects are non-blocking, TLS is a
 * bufferevent_openssl filter over the socket bufferevent (so STARTTLS and
 * implicit TLS share one path, and the raw bytes under TLS can be seen).
 */
#include "engine/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/net_tstamp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/line.h"
#include "core/log.h"
#include "core/probe_imap.h"
#include "core/probe_pop3.h"
#include "core/redact.h"
#include "engine/tls.h"

/* After the verdict, how long LOGOUT/QUIT may take before we just close. */
#define CLOSE_GRACE_MS 2000
/* With several addresses to try, the least time one connect attempt gets. */
#define CONNECT_MIN_MS 1000
/* How many bytes under TLS we keep to explain a failed handshake. */
#define RAWHEAD_MAX 64

enum sess_state {
	SS_CONNECTING,
	SS_TLS,   /* handshake in progress (implicit or after STARTTLS) */
	SS_PROTO, /* the protocol core drives */
	SS_CLOSING,
	SS_DONE,
};

static const char *const sess_state_names[] = {
    [SS_CONNECTING] = "connect", [SS_TLS] = "TLS handshake", [SS_PROTO] = "protocol",
    [SS_CLOSING] = "closing",    [SS_DONE] = "done",
};

/*
 * One connection to one address. Created by session_new() from the probe,
 * freed by session_free() when the probe collects it.
 */
struct session {
	struct probe *p;
	struct session *next;
	enum sess_state st;
	struct result res;
	struct run run; /* builds res */
	struct sockaddr_storage ss;
	socklen_t sslen;
	char addrstr[RESULT_ADDRSTR];
	evutil_socket_t fd;       /* until the bufferevent owns it */
	struct event *connev;     /* connect completion and its step timeout */
	struct event *closetimer; /* bounds the polite close */
	struct bufferevent *raw;  /* socket bufferevent; owned by bev once TLS wraps it */
	struct bufferevent *bev;  /* what we read and write: raw, or the TLS filter */
	SSL *ssl;                 /* owned by the filter */
	int tls_done;             /* handshake completed */
	int connect_failed;       /* never connected: another address may be tried */
	const struct proto_ops *ops;
	void *core;
	int in_literal;     /* the core asked for a literal (PROTO_LITERAL): octets, not lines */
	size_t literal_len; /* its size, at most LINE_MAX_LEN */
	char rawhead[RAWHEAD_MAX];
	size_t rawlen;
	struct evbuffer_cb_entry *rawcb;
	int stamping;         /* the kernel stamps arrivals on this socket (SO_TIMESTAMPING) */
	struct event *peekev; /* reads the arrival time of the greeting's line ending */
	int64_t rx_us;        /* that time, on the monotonic clock; 0 when unknown */
	int peek_errno;       /* a socket error the peek consumed, reported in its place */
	int64_t connect_at;   /* monotonic time of the connect() call */
	int reading;          /* inside sess_read_cb(): an EOF then waits for it */
	int eof_late;         /* an EOF that came while reading, handled after */
};

/* One run of one check. Created by probe_start(), freed by probe_free(). */
struct probe {
	struct probe_env *env;
	const struct check *c;
	struct proto_params pp; /* what the protocol cores take of c */
	probe_done_cb cb;
	void *arg;
	struct result res;
	struct run run; /* builds res until the sessions take over */
	struct event *deadline;
	struct event *fin; /* runs the callback from the loop, never from probe_start */
	struct evdns_getaddrinfo_request *dnsreq;
	struct evutil_addrinfo *ai;
	int ai_ours;                     /* ai was built by fixed_addresses(), not the resolver */
	char zone_err[160];              /* fixed_addresses(): a zone naming no interface here */
	struct evutil_addrinfo *next_ai; /* default mode: the next address to try */
	int naddrs_left;
	struct session *sessions;
	int running; /* sessions not yet SS_DONE */
	int expired;
	int finishing;
	int64_t wall_ms; /* wall clock at probe_start(): the result's probe_ms */
};

static void session_start(struct probe *p, struct evutil_addrinfo *ai);
static void session_end(struct session *s);
static void sess_read_cb(struct bufferevent *bev, void *arg);
static void sess_event_cb(struct bufferevent *bev, short what, void *arg);
static void sess_write_cb(struct bufferevent *bev, void *arg);
static void rearm_peek(struct session *s);

/*
 * libevent's own messages go to stderr by default, where they would land
 * in the middle of `check` output ("Nameserver ... has failed"): what they
 * say is already in the probe's result. Only its errors, which are ours,
 * are shown.
 */
static void libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		fprintf(stderr, "mailpulse: libevent: %s\n", msg);
}

/*
 * Why a lookup failed, in words an admin can act on. libevent folds
 * SERVFAIL, refusals, malformed answers and its own give-up after its
 * retries into one code, so the time the lookup took goes with it: 0.0 s
 * is an answer that said no, seconds are silence.
 */
static void dns_error_text(int err, int64_t took_us, char *dst, size_t dstsz)
{
	switch (err) {
	case EVUTIL_EAI_NONAME:
		snprintf(dst, dstsz, "no such name (NXDOMAIN)");
		break;
	case EVUTIL_EAI_FAIL:
	case EVUTIL_EAI_AGAIN:
		snprintf(dst, dstsz,
		         "no usable answer from the resolver in %.1f s (SERVFAIL, a refusal, a "
		         "malformed answer, or none)",
		         (double)took_us / 1e6);
		break;
	case EVUTIL_EAI_MEMORY:
		snprintf(dst, dstsz, "out of memory");
		break;
	default:
		snprintf(dst, dstsz, "%s", evutil_gai_strerror(err));
		break;
	}
}

int probe_env_init(struct probe_env *env, struct event_base *base, char *err, size_t errlen)
{
	event_set_log_callback(libevent_log);
	memset(env, 0, sizeof(*env));
	env->base = base;
	/*
	 * Two priorities: the greeting's arrival-time reader (priority 0) must
	 * run before the bufferevent reads the bytes away. If the base already
	 * has active events this fails, and probes simply time greetings in
	 * user space.
	 */
	(void)event_base_priority_init(base, 2);
	/*
	 * libevent 2.1 adds the nameserver sockets' events before it applies
	 * DISABLE_WHEN_INACTIVE if asked to read resolv.conf in
	 * evdns_base_new(); a loop would then never run out of events. So
	 * create it idle first, then read the configuration.
	 */
	env->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (!env->dns) {
		snprintf(err, errlen, "cannot create the DNS resolver");
		return -1;
	}
	/*
	 * MAILPULSE_RESOLV_CONF names another resolv.conf (a monitor-only
	 * resolver; the tests' fake one). Named on purpose, it must be read:
	 * libevent would otherwise fall back to a nameserver on 127.0.0.1.
	 */
	const char *rc = getenv("MAILPULSE_RESOLV_CONF");
	if (rc && *rc) {
		int e = evdns_base_resolv_conf_parse(env->dns, DNS_OPTIONS_ALL, rc);
		if (e != 0 && e != 6) { /* 6: no nameserver in it, localhost is used */
			snprintf(err, errlen,
			         "MAILPULSE_RESOLV_CONF=%s: cannot be read (evdns error %d)", rc,
			         e);
			evdns_base_free(env->dns, 0);
			env->dns = NULL;
			return -1;
		}
	} else if (evdns_base_resolv_conf_parse(env->dns, DNS_OPTIONS_ALL, "/etc/resolv.conf") !=
	           0) {
		/* No resolv.conf is no reason to refuse IP literals and /etc/hosts. */
		evdns_base_load_hosts(env->dns, NULL);
	}
	/* The probe deadline bounds DNS too; these keep one lookup from eating it all. */
	evdns_base_set_option(env->dns, "timeout:", "3");
	evdns_base_set_option(env->dns, "attempts:", "2");
	env->tls = tls_cache_new();
	if (!env->tls) {
		evdns_base_free(env->dns, 0);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int probe_env_renew_tls(struct probe_env *env)
{
	struct tls_cache *tc = tls_cache_new();

	if (!tc)
		return -1;
	/* Open connections hold references to their contexts: freeing is safe. */
	tls_cache_free(env->tls);
	env->tls = tc;
	return 0;
}

void probe_env_free(struct probe_env *env)
{
	if (env->dns)
		evdns_base_free(env->dns, 0);
	tls_cache_free(env->tls);
	memset(env, 0, sizeof(*env));
}

static void sess_set_state(struct session *s, enum sess_state st)
{
	s->st = st;
}

/* State changes go to the daemon's debug log (dropped unless it runs with -v). */
static void probe_trace(void *arg, const char *proto, const char *from, const char *to)
{
	const struct probe *p = arg;

	log_msg(LOG_DEBUG, "probe %s: %s: %s -> %s", p->c->target.url, proto, from, to);
}

static void sess_trace(void *arg, const char *proto, const char *from, const char *to)
{
	const struct session *s = arg;

	log_msg(LOG_DEBUG, "probe %s (%s): %s: %s -> %s", s->p ? s->p->c->target.url : "?",
	        s->addrstr, proto, from, to);
}

/* What the session is waiting for, for timeout and EOF messages. */
static const char *sess_pending(const struct session *s)
{
	if (s->st == SS_PROTO && s->core)
		return s->ops->pending(s->core);
	return sess_state_names[s->st];
}

static void addr_to_str(const struct sockaddr *sa, char *dst, size_t dstsz)
{
	char ip[64];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		char zone[IF_NAMESIZE + 1] = "";
		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		/* A link-local address is only an address together with its interface. */
		if (s6->sin6_scope_id && if_indextoname(s6->sin6_scope_id, zone + 1))
			zone[0] = '%';
		snprintf(dst, dstsz, "[%s%s]:%u", ip, zone, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		evutil_inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(dst, dstsz, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* The reason for a socket error while connecting or talking. */
static enum mp_reason errno_reason(int e, enum mp_status *st)
{
	*st = MP_DOWN;
	switch (e) {
	case ECONNREFUSED:
		return MP_R_REFUSED;
	case ETIMEDOUT:
		return MP_R_TIMEOUT;
	case ECONNRESET:
	case EPIPE:
		return MP_R_RESET;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		*st = MP_UNKNOWN; /* our side, not the server's */
		return MP_R_INTERNAL;
	default:
		return MP_R_UNREACHABLE;
	}
}

/* ---- finishing ---------------------------------------------------------- */

static void probe_free(struct probe *p)
{
	if (p->dnsreq) {
		/* Runs the DNS callback synchronously with EVUTIL_EAI_CANCEL. */
		struct evdns_getaddrinfo_request *req = p->dnsreq;
		p->dnsreq = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	for (struct session *s = p->sessions, *n; s; s = n) {
		n = s->next;
		if (s->st != SS_DONE) {
			s->p = NULL; /* session_end must not report back */
			session_end(s);
		}
		free(s);
	}
	if (p->ai && p->ai_ours) {
		for (struct evutil_addrinfo *a = p->ai, *n; a; a = n) {
			n = a->ai_next;
			free(a);
		}
	} else if (p->ai) {
		evutil_freeaddrinfo(p->ai);
	}
	if (p->deadline)
		event_free(p->deadline);
	if (p->fin)
		event_free(p->fin);
	free(p);
}

static void fin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	(void)fd;
	(void)what;
	/*
	 * The one door every result leaves by: a server that echoed the login
	 * command must not get the password into any output, store or alert.
	 */
	redact_result(&p->res, p->c->login, p->c->password);
	p->res.probe_ms = p->wall_ms; /* the session results that replaced p->res lack it */
	p->cb(&p->res, p->arg);
	probe_free(p);
}

/* Report from the next loop iteration; everything else stops now. */
static void probe_finish(struct probe *p)
{
	if (p->finishing)
		return;
	p->finishing = 1;
	event_del(p->deadline);
	if (p->res.phase_us[MP_PH_TOTAL] < 0)
		p->res.phase_us[MP_PH_TOTAL] = mp_now_us() - p->run.start_us;
	event_active(p->fin, 0, 0);
}

/* Judge time to greeting against the thresholds: the driver's verdict, after the core's. */
static void apply_thresholds(const struct check *c, struct result *r)
{
	const int64_t *ph = r->phase_us;

	if (ph[MP_PH_GREETING] < 0)
		return;
	r->ttg_us = (ph[MP_PH_CONNECT] > 0 ? ph[MP_PH_CONNECT] : 0) + ph[MP_PH_GREETING];
	if (c->target.implicit_tls && ph[MP_PH_TLS] > 0)
		r->ttg_us += ph[MP_PH_TLS];
	if (r->status != MP_UP && r->status != MP_DEGRADED)
		return;

	/* Past the core's final verdict on purpose: a slow greeting is judged last. */
	double ms = (double)r->ttg_us / 1000.0;
	if (c->crit_ms && ms > c->crit_ms)
		result_critical(r, MP_R_SLOW, "greeting took %.0f ms (critical above %u ms)", ms,
		                c->crit_ms);
	else if (c->warn_ms && ms > c->warn_ms && r->status == MP_UP)
		result_worsen(r, MP_DEGRADED, MP_R_SLOW,
		              "greeting took %.0f ms (warning above %u ms)", ms, c->warn_ms);
}

/* Unknown (our side) ranks between degraded and down when picking the worst address. */
static int status_rank(const struct result *r)
{
	return r->status == MP_UNKNOWN ? 3
	       : r->status == MP_DOWN  ? 4
	                               : result_rank(r->status, r->severity);
}

/* The certificate facts of one address, from its session's TLS facts. */
static void addr_cert(struct addr_result *a, const struct tls_facts *t)
{
	if (!t->used || t->chain_len <= 0 || t->earliest < 0 || t->earliest >= t->chain_len)
		return;
	memcpy(a->cert_sha256, t->chain[0].sha256, sizeof(a->cert_sha256));
	a->cert_not_after = t->chain[t->earliest].not_after;
	a->cert_days_left = t->days_left;
	a->leaf_not_after = t->chain[0].not_after;
}

/*
 * Backends behind one name that serve different certificates are a
 * finding (one was renewed, the other not): a warning naming the first
 * address that served each.
 */
static void addrs_certs_differ(struct result *r)
{
	char list[RESULT_WARN_LEN];
	size_t o = 0;
	int distinct = 0;

	list[0] = '\0';
	for (int i = 0; i < r->naddrs; i++) {
		const struct addr_result *a = &r->addrs[i];
		int seen = 0;
		if (!a->cert_sha256[0])
			continue;
		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(r->addrs[j].cert_sha256, a->cert_sha256) == 0;
		if (seen)
			continue;
		distinct++;
		int k = snprintf(list + o, sizeof(list) - o, "%s%s sha256 %.8s..", o ? ", " : "",
		                 a->address, a->cert_sha256);
		if (k > 0)
			o = (size_t)k < sizeof(list) - o ? o + (size_t)k : sizeof(list) - 1;
	}
	if (distinct > 1)
		result_warn(r, "addresses serve different certificates: %s", list);
}

/* Every session ended: pick the probe's result. */
static void probe_collect(struct probe *p)
{
	const struct check *c = p->c;

	if (!p->sessions) {
		/* no session could even be created; p->res says why */
	} else if (c->all_addresses) {
		struct session *worst = NULL;
		int i = 0, up = 0;
		for (struct session *s = p->sessions; s; s = s->next) {
			if (i < RESULT_ADDR_MAX) {
				struct addr_result *a = &p->res.addrs[i++];
				snprintf(a->address, sizeof(a->address), "%s", s->addrstr);
				a->status = s->res.status;
				a->severity = s->res.severity;
				a->reason = s->res.reason;
				snprintf(a->message, sizeof(a->message), "%s", s->res.message);
				a->greeting_us = s->res.ttg_us;
				a->total_us = s->res.phase_us[MP_PH_TOTAL];
				addr_cert(a, &s->res.tls);
			}
			up += s->res.status == MP_UP;
			if (!worst || status_rank(&s->res) > status_rank(&worst->res))
				worst = s;
		}
		struct addr_result addrs[RESULT_ADDR_MAX];
		char warns[RESULT_WARN_MAX][RESULT_WARN_LEN];
		int n = i, nw = p->res.nwarnings;
		memcpy(addrs, p->res.addrs, sizeof(addrs));
		memcpy(warns, p->res.warnings, sizeof(warns));
		p->res = worst->res;
		memcpy(p->res.addrs, addrs, sizeof(addrs));
		p->res.naddrs = n;
		/* The probe's own findings (addresses left out) stay, before the address's. */
		for (int k = 0; k < worst->res.nwarnings && nw < RESULT_WARN_MAX; k++)
			memcpy(warns[nw++], worst->res.warnings[k], RESULT_WARN_LEN);
		memcpy(p->res.warnings, warns, sizeof(warns));
		p->res.nwarnings = nw;
		addrs_certs_differ(&p->res);
		if (worst->res.status != MP_UP) {
			char msg[RESULT_MSG_MAX];
			snprintf(msg, sizeof(msg), "%d of %d addresses up; %s: %s", up, n,
			         worst->addrstr, worst->res.message);
			memcpy(p->res.message, msg, sizeof(msg));
		}
	} else {
		struct session *last = NULL;
		for (struct session *s = p->sessions; s; s = s->next)
			last = s;
		if (last) {
			char warns[RESULT_WARN_MAX][RESULT_WARN_LEN];
			int nw = p->res.nwarnings;
			memcpy(warns, p->res.warnings, sizeof(warns));
			p->res = last->res;
			/* Earlier addresses that refused come first among the warnings. */
			for (int i = 0; i < last->res.nwarnings && nw < RESULT_WARN_MAX; i++)
				memcpy(warns[nw++], last->res.warnings[i], RESULT_WARN_LEN);
			memcpy(p->res.warnings, warns, sizeof(warns));
			p->res.nwarnings = nw;
		}
	}
	probe_finish(p);
}

/* A session is over (its verdict is in s->res). Decide what comes next. */
static void session_over(struct session *s)
{
	struct probe *p = s->p;

	if (!p)
		return;
	p->running--;
	if (!p->c->all_addresses && s->connect_failed && p->next_ai && !p->expired) {
		/* As mail clients do: an address that cannot be reached is not the verdict. */
		result_warn(&p->res, "%s: %s; tried the next address", s->addrstr, s->res.message);
		struct evutil_addrinfo *ai = p->next_ai;
		p->next_ai = ai->ai_next;
		p->naddrs_left--;
		session_start(p, ai);
		return;
	}
	if (p->running == 0)
		probe_collect(p);
}

/*
 * Tear the connection down politely (TLS close_notify, queued bytes
 * flushed without waiting) and report the session over. The one place a
 * session's resources are released.
 */
static void session_end(struct session *s)
{
	int64_t now = mp_now_us();

	if (s->st == SS_DONE)
		return;
	if (s->res.phase_us[MP_PH_TOTAL] < 0)
		s->res.phase_us[MP_PH_TOTAL] = now - s->run.start_us;
	if (s->p)
		apply_thresholds(s->p->c, &s->res);
	if (s->res.status == MP_UP && !s->res.message[0])
		snprintf(s->res.message, sizeof(s->res.message), "greeting OK");
	s->run.final = 1;
	snprintf(s->res.address, sizeof(s->res.address), "%s", s->addrstr);

	if (s->connev) {
		event_free(s->connev);
		s->connev = NULL;
	}
	if (s->closetimer) {
		event_free(s->closetimer);
		s->closetimer = NULL;
	}
	if (s->peekev) {
		event_free(s->peekev);
		s->peekev = NULL;
	}
	if (s->core) {
		s->ops->free(s->core);
		s->core = NULL;
	}
	if (s->bev) {
		if (s->ssl && s->tls_done) {
			/* close_notify goes into raw's output; push it out now, non-blocking. */
			SSL_shutdown(s->ssl);
		}
		if (s->raw) {
			evutil_socket_t fd = bufferevent_getfd(s->raw);
			struct evbuffer *out = bufferevent_get_output(s->raw);
			if (fd >= 0 && evbuffer_get_length(out) > 0)
				(void)evbuffer_write(out, fd);
		}
		if (s->rawcb && s->raw) {
			evbuffer_remove_cb_entry(bufferevent_get_input(s->raw), s->rawcb);
			s->rawcb = NULL;
		}
		bufferevent_free(s->bev); /* frees raw and the SSL when it is the filter */
		s->bev = s->raw = NULL;
		s->ssl = NULL;
	} else if (s->fd >= 0) {
		evutil_closesocket(s->fd);
	}
	s->fd = -1;
	sess_set_state(s, SS_DONE);
	session_over(s);
}

/* ---- protocol ----------------------------------------------------------- */

static void sess_fail(struct session *s, enum mp_reason why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sess_fail(struct session *s, enum mp_reason why, const char *fmt, ...)
{
	char msg[RESULT_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	run_fail(&s->run, why, "%s", msg);
	session_end(s);
}

static void close_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_end(arg);
}

/* The verdict is in: give LOGOUT/QUIT a bounded moment, then close. */
static void arm_close_timer(struct session *s)
{
	if (s->closetimer)
		return;
	s->closetimer = evtimer_new(s->p->env->base, close_cb, s);
	if (!s->closetimer) {
		session_end(s);
		return;
	}
	struct timeval tv = {CLOSE_GRACE_MS / 1000, (CLOSE_GRACE_MS % 1000) * 1000};
	evtimer_add(s->closetimer, &tv);
}

static void start_tls(struct session *s);

/* Send what the core queued, then act on what it asked for. Returns 0 while the session lives. */
static int sess_apply(struct session *s, enum proto_next next, int64_t now)
{
	struct proto_out *out = s->ops->out(s->core);

	if (s->run.final && s->res.phase_us[MP_PH_TOTAL] < 0)
		s->res.phase_us[MP_PH_TOTAL] = now - s->run.start_us;

	if (next == PROTO_TLS) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		size_t left = evbuffer_get_length(in);
		if (left > 0) {
			/*
			 * Bytes after the server's "go ahead" cannot be the TLS
			 * handshake we have not started: an injection, or a
			 * broken server. Never feed them to TLS or the parser.
			 */
			char shown[160];
			size_t n = left < 120 ? left : 120;
			const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
			line_escape(shown, sizeof(shown), data, n);
			proto_out_clear(out);
			sess_fail(
			    s, MP_R_STARTTLS_INJECTION,
			    "%zu byte(s) arrived after the server accepted STARTTLS and before "
			    "TLS began: '%s'",
			    left, shown);
			return -1;
		}
		proto_out_clear(out);
		start_tls(s);
		return s->st == SS_DONE ? -1 : 0;
	}
	if (next == PROTO_LITERAL) {
		/* The core bounds it; so do we: a literal is held whole, like a line. */
		size_t n = s->ops->literal_len ? s->ops->literal_len(s->core) : LINE_MAX_LEN + 1;
		if (n > LINE_MAX_LEN) {
			proto_out_clear(out);
			sess_fail(s, MP_R_LINE_TOO_LONG,
			          "a literal of %zu octets while waiting for %s: more than %d", n,
			          sess_pending(s), LINE_MAX_LEN);
			return -1;
		}
		s->in_literal = 1;
		s->literal_len = n;
	}
	if (out->len > 0) {
		if (bufferevent_write(s->bev, out->buf, out->len) != 0) {
			proto_out_clear(out);
			run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
			session_end(s);
			return -1;
		}
		proto_out_clear(out);
	}
	if (next == PROTO_CLOSE) {
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
			session_end(s);
			return -1;
		}
		/* Let the queued QUIT/LOGOUT leave first; the write callback closes. */
		sess_set_state(s, SS_CLOSING);
		bufferevent_setcb(s->bev, sess_read_cb, sess_write_cb, sess_event_cb, s);
		arm_close_timer(s);
		return s->st == SS_DONE ? -1 : 0;
	}
	if (s->run.final)
		arm_close_timer(s);
	return s->st == SS_DONE ? -1 : 0;
}

static void sess_write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (s->st == SS_CLOSING)
		session_end(s);
}

/*
 * Hand each complete line to the core, and each literal it asks for (in
 * one piece: its bytes may hold CR and LF). Every byte here is the server's.
 */
static void sess_read_lines(struct session *s, struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	while (s->st == SS_PROTO || s->st == SS_CLOSING) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			return;
		if (s->st == SS_CLOSING) {
			evbuffer_drain(in, avail); /* the verdict is in; nothing more to learn */
			return;
		}
		if (s->in_literal) {
			/* The read watermark leaves room for a whole one: wait for it. */
			if (avail < s->literal_len)
				return;
			size_t n = s->literal_len;
			const char *lit = n ? (const char *)evbuffer_pullup(in, (ev_ssize_t)n) : "";
			if (!lit) {
				run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
				session_end(s);
				return;
			}
			int64_t now = mp_now_us();
			s->in_literal = 0;
			enum proto_next next = s->ops->on_literal(s->core, lit, n, now);
			evbuffer_drain(in, n);
			if (sess_apply(s, next, now) != 0)
				return;
			continue;
		}
		size_t take = avail < LINE_MAX_LEN + 2 ? avail : LINE_MAX_LEN + 2;
		const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
		size_t len = 0, eol = 0;
		if (!data) {
			run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
			session_end(s);
			return;
		}
		enum line_scan sc = line_scan(data, take, &len, &eol);
		if (sc == LINE_INCOMPLETE) {
			rearm_peek(s);
			return;
		}
		if (sc == LINE_TOO_LONG) {
			char shown[120];
			line_escape(shown, sizeof(shown), data, 80);
			sess_fail(s, MP_R_LINE_TOO_LONG,
			          "server sent more than %d bytes without a line ending while "
			          "waiting for %s: '%s'",
			          LINE_MAX_LEN, sess_pending(s), shown);
			return;
		}
		long nul = line_find_nul(data, len);
		if (nul >= 0) {
			char shown[160];
			line_escape(shown, sizeof(shown), data, len);
			int greeting = s->res.phase_us[MP_PH_GREETING] < 0;
			sess_fail(s, greeting ? MP_R_GREETING_MISMATCH : MP_R_PROTOCOL_ERROR,
			          "NUL byte at offset %ld of the server's line while waiting for "
			          "%s: '%s'",
			          nul, sess_pending(s), shown);
			return;
		}
		int64_t now = mp_now_us();
		/* The greeting is timed by its line ending's arrival, when the kernel told us. */
		int64_t at = now;
		if (s->rx_us && s->res.phase_us[MP_PH_GREETING] < 0 && s->rx_us <= now)
			at = s->rx_us;
		s->rx_us = 0;
		if (s->peekev)
			event_del(s->peekev); /* one line, the greeting, is timed this way */
		enum proto_next next = s->ops->on_line(s->core, data, len, at);
		/*
		 * What follows a greeting timed by the kernel starts when we
		 * answer it: the loop's lag in between is nobody's phase.
		 */
		if (at != now)
			run_mark(&s->run, now);
		evbuffer_drain(in, len + eol);
		if (sess_apply(s, next, now) != 0)
			return;
	}
}

/*
 * libevent's TLS filter may report the server's close from inside a read
 * (draining the input reads more), and before the read callback has seen
 * the lines that came with it: such an EOF is handled once the lines are.
 */
static void sess_read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	s->reading++;
	sess_read_lines(s, bev);
	s->reading--;
	if (!s->reading && s->eof_late && s->st != SS_DONE) {
		s->eof_late = 0;
		sess_event_cb(s->bev, BEV_EVENT_EOF | BEV_EVENT_READING, s);
	}
}

static void rawcap_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct session *s = arg;

	if (info->n_added == 0 || s->rawlen > 0)
		return;
	s->rawlen = (size_t)evbuffer_copyout(buf, s->rawhead, sizeof(s->rawhead));
	if ((ev_ssize_t)s->rawlen < 0)
		s->rawlen = 0;
}

static void tls_connected(struct session *s)
{
	int64_t now = mp_now_us();
	int64_t before = s->res.phase_us[MP_PH_TLS] < 0 ? 0 : s->res.phase_us[MP_PH_TLS];

	s->tls_done = 1;
	run_phase(&s->run, MP_PH_TLS, now);
	/*
	 * Our own chain verification (trust store reads included) ran inside
	 * the handshake: the monitor's time, not the server's. Left out of
	 * `tls`, so of time to greeting too; `total` stays the wall clock.
	 */
	int64_t own = tls_own_us(s->ssl);
	int64_t took = s->res.phase_us[MP_PH_TLS] - before;
	s->res.phase_us[MP_PH_TLS] -= own < took ? own : took;
	if (s->rawcb) {
		evbuffer_remove_cb_entry(bufferevent_get_input(s->raw), s->rawcb);
		s->rawcb = NULL;
	}
	if (tls_judge(s->ssl, s->p->c, &s->res, (int64_t)time(NULL)) != 0) {
		session_end(s); /* a client would not go on over this channel either */
		return;
	}
	sess_set_state(s, SS_PROTO);
	enum proto_next next;
	if (s->core) {
		next = s->ops->on_tls(s->core, now); /* after STARTTLS/STLS */
	} else {
		s->core = s->ops->new (&s->p->pp, &s->run); /* implicit TLS */
		if (!s->core) {
			run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
			session_end(s);
			return;
		}
		next = s->ops->start(s->core, 1, now);
	}
	if (sess_apply(s, next, now) == 0)
		sess_read_cb(s->bev, s); /* lines may already be waiting */
}

static void sess_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	int e = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->st == SS_TLS)
			tls_connected(s);
		return;
	}
	if (s->st == SS_TLS) {
		unsigned long ssl_err = bufferevent_get_openssl_error(s->bev);
		unsigned long more;
		while ((more = bufferevent_get_openssl_error(s->bev)) != 0)
			; /* the first error is the cause; drop the rest */
		if (!ssl_err && (what & BEV_EVENT_ERROR) && e == ECONNRESET) {
			sess_fail(s, MP_R_TLS_HANDSHAKE,
			          "connection reset by the server during the TLS handshake");
			return;
		}
		tls_handshake_failed(&s->res, s->p->c->target.implicit_tls, ssl_err, s->rawhead,
		                     s->rawlen, (what & BEV_EVENT_ERROR) ? e : 0);
		session_end(s);
		return;
	}
	if ((what & BEV_EVENT_EOF) && s->reading) {
		s->eof_late = 1;
		return;
	}
	if ((what & BEV_EVENT_EOF) && s->st == SS_PROTO && !s->run.final &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		/* The server's last lines (a reply, then the close) are read first. */
		sess_read_cb(s->bev, s);
		if (s->st == SS_DONE)
			return;
	}
	if (s->st == SS_CLOSING || s->run.final) {
		session_end(s);
		return;
	}
	/* The close may complete what the server said last (-ERR to CAPA, then EOF). */
	if (s->st == SS_PROTO && s->core && s->ops->on_close)
		s->ops->on_close(s->core, mp_now_us());
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t partial = evbuffer_get_length(in);
	char shown[120] = "";
	if (partial) {
		size_t n = partial < 80 ? partial : 80;
		line_escape(shown, sizeof(shown), (const char *)evbuffer_pullup(in, (ev_ssize_t)n),
		            n);
	}
	if ((what & BEV_EVENT_EOF) && s->peek_errno) {
		/* The peek took the socket's error; the bufferevent then saw only EOF. */
		what = BEV_EVENT_ERROR;
		e = s->peek_errno;
	}
	if (what & BEV_EVENT_EOF) {
		if (partial)
			sess_fail(s, MP_R_CLOSED,
			          "server closed the connection mid-line while waiting for %s "
			          "(got '%s')",
			          sess_pending(s), shown);
		else
			sess_fail(s, MP_R_CLOSED,
			          "server closed the connection while waiting for %s",
			          sess_pending(s));
		return;
	}
	unsigned long ssl_err = s->ssl ? bufferevent_get_openssl_error(s->bev) : 0;
	if (ssl_err) {
		char buf[200];
		ERR_error_string_n(ssl_err, buf, sizeof(buf));
		sess_fail(s, MP_R_PROTOCOL_ERROR, "TLS error while waiting for %s: %s",
		          sess_pending(s), buf);
		return;
	}
	enum mp_status st;
	enum mp_reason why = errno_reason(e, &st);
	run_worsen(&s->run, st, why, "%s while waiting for %s", evutil_socket_error_to_string(e),
	           sess_pending(s));
	session_end(s);
}

static void start_tls(struct session *s)
{
	struct probe *p = s->p;
	char err[256];

	SSL_CTX *ctx = tls_ctx_get(p->env->tls, p->c, err, sizeof(err));
	SSL *ssl = ctx ? tls_ssl_new(ctx, p->c, err, sizeof(err)) : NULL;
	if (!ssl) {
		run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "%s", err);
		session_end(s);
		return;
	}
	run_mark(&s->run, mp_now_us());
	if (!s->core)
		run_step(&s->run, "probe", "tls", 1); /* implicit; STARTTLS is the core's step */
	s->rawlen = 0;
	s->rawcb = evbuffer_add_cb(bufferevent_get_input(s->raw), rawcap_cb, s);
	struct bufferevent *f = bufferevent_openssl_filter_new(
	    p->env->base, s->raw, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!f) {
		SSL_free(ssl);
		run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "cannot start TLS");
		session_end(s);
		return;
	}
	/* A server that closes without close_notify after QUIT is common and harmless. */
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	s->bev = f;
	s->ssl = ssl;
	sess_set_state(s, SS_TLS);
	bufferevent_setcb(f, sess_read_cb, NULL, sess_event_cb, s);
	bufferevent_setwatermark(f, EV_READ, 0, LINE_MAX_LEN + 4096);
	bufferevent_enable(f, EV_READ | EV_WRITE);
}

/* ---- connecting --------------------------------------------------------- */

/*
 * The greeting is timed by the arrival of its line ending, as the kernel
 * stamped it (SO_TIMESTAMPING): a busy loop may reach a readable socket
 * milliseconds late, the kernel's timestamp does not move with it.
 *
 * The stamp must be the one of the bytes that COMPLETE the line: a server
 * may send its greeting in several segments, and the first one's stamp
 * would make a slow greeting look fast. So before each read of the
 * bufferevent (this event has the higher priority) the socket's queue is
 * read with MSG_PEEK up to the first LF; TCP reports the stamp of the last
 * buffer a read touched, which is then the one holding the LF. (Segments
 * the kernel merges in its queue keep the later stamp: when more bytes
 * came behind the LF before we looked, the time is late, never early.)
 * Without an LF in the queue nothing is recorded, and sess_read_cb arms the
 * peek again once the bufferevent has read what was there. When the LF
 * arrives between the peek and the read, no stamp is taken and the line is
 * timed when it is handled: later than the truth, never earlier. Any
 * failure does the same.
 *
 * Plain connections only (and STARTTLS, whose greeting is in the clear).
 * Under implicit TLS the greeting comes inside TLS records: the kernel
 * stamps segments of ciphertext, and which segment completes the record
 * that holds the LF is only known once the record is decrypted, after the
 * bufferevent has read it. There the greeting is timed when its line is
 * complete in sess_read_cb, late by the loop's lag and never early, as the
 * TLS handshake before it is.
 */

/*
 * Peek at up to len bytes of the socket's queue. Returns what recvmsg()
 * returns; *at is the arrival time of the last segment the peek touched,
 * on the monotonic clock, or 0 when the kernel gave none.
 */
static ssize_t peek_stamped(const struct session *s, evutil_socket_t fd, char *buf, size_t len,
                            int64_t *at)
{
	char ctl[CMSG_SPACE(sizeof(struct timespec) * 3)];
	struct iovec iov = {buf, len};
	struct msghdr msg;
	struct timespec real, mono;

	*at = 0;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl;
	msg.msg_controllen = sizeof(ctl);
	ssize_t n = recvmsg(fd, &msg, MSG_PEEK | MSG_DONTWAIT);
	if (n <= 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPING)
			continue;
		struct timespec ts[3];
		memcpy(ts, CMSG_DATA(cm), sizeof(ts));
		if (ts[0].tv_sec == 0 && ts[0].tv_nsec == 0)
			break;
		/* Software timestamps are wall-clock time; bring them to the monotonic clock. */
		clock_gettime(CLOCK_REALTIME, &real);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		int64_t age = ((int64_t)real.tv_sec - ts[0].tv_sec) * 1000000 +
		              (real.tv_nsec - ts[0].tv_nsec) / 1000;
		int64_t t = (int64_t)mono.tv_sec * 1000000 + mono.tv_nsec / 1000 - age;
		if (age >= 0 && t >= s->run.start_us)
			*at = t;
		break;
	}
	return n;
}

static void peek_cb(evutil_socket_t fd, short what, void *arg)
{
	/* One loop on one thread, and the callback never re-enters: one buffer will do. */
	static char buf[LINE_MAX_LEN + 2];
	struct session *s = arg;
	size_t have = evbuffer_get_length(bufferevent_get_input(s->raw));
	int64_t at;

	(void)what;
	if (have >= sizeof(buf))
		return; /* too long a line already: the reader says so */
	ssize_t n = peek_stamped(s, fd, buf, sizeof(buf) - have, &at);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		/* Reading a pending error (a reset) clears it: keep it for the driver. */
		s->peek_errno = errno;
		return;
	}
	const char *lf = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
	if (!lf)
		return;
	/* Again, up to the LF only, for the stamp of the segment that holds it. */
	size_t upto = (size_t)(lf - buf) + 1;
	if (upto < (size_t)n && peek_stamped(s, fd, buf, upto, &at) != (ssize_t)upto)
		return;
	s->rx_us = at;
}

/* Ask the kernel to stamp arrivals from the start, so no segment goes unstamped. */
static void stamp_enable(struct session *s)
{
	int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

	s->stamping = setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)) == 0;
}

static void arm_peek(struct session *s, evutil_socket_t fd)
{
	if (!s->stamping)
		return;
	s->peekev = event_new(s->p->env->base, fd, EV_READ, peek_cb, s);
	if (!s->peekev)
		return;
	if (event_priority_set(s->peekev, 0) != 0 || event_add(s->peekev, NULL) != 0) {
		event_free(s->peekev);
		s->peekev = NULL;
	}
}

/* The greeting's line is not complete yet: peek again before the next read. */
static void rearm_peek(struct session *s)
{
	if (s->peekev && s->res.phase_us[MP_PH_GREETING] < 0 &&
	    !event_pending(s->peekev, EV_READ, NULL))
		event_add(s->peekev, NULL);
}

/*
 * How long the TCP connect took, as the kernel measured it: right after
 * the handshake, before we have sent a byte, TCP_INFO's tcpi_rtt is its
 * first and only RTT sample, the SYN to SYN-ACK round trip, in
 * microseconds. So a loop that reaches this callback late does not make
 * the connect look slow. When a SYN was retransmitted that sample would
 * leave out the retransmission timeout (with TCP timestamps the kernel
 * measures from the last SYN), and without TCP_INFO there is nothing to
 * read: then it is the user-space time since the connect() call, late
 * by the loop's lag and never early.
 */
static int64_t connect_time(const struct session *s, int64_t now)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int64_t user = now - s->connect_at;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < (socklen_t)(offsetof(struct tcp_info, tcpi_total_retrans) +
	                      sizeof(ti.tcpi_total_retrans)) ||
	    ti.tcpi_rtt == 0 || ti.tcpi_retransmits != 0 || ti.tcpi_total_retrans != 0)
		return user;
	return (int64_t)ti.tcpi_rtt < user ? (int64_t)ti.tcpi_rtt : user;
}

static void connected(struct session *s)
{
	struct probe *p = s->p;
	int64_t now = mp_now_us();
	int64_t took = connect_time(s, now);

	/*
	 * The connect phase is the kernel's; the greeting (or the TLS
	 * handshake) is timed from the moment the connection was made, not
	 * from when this callback ran: what the loop added in between is
	 * nobody's phase, and a greeting that arrived before we got here is
	 * still the greeting's time.
	 */
	s->res.phase_us[MP_PH_CONNECT] = took;
	run_mark(&s->run, s->connect_at + took);
	event_free(s->connev);
	s->connev = NULL;
	s->raw = bufferevent_socket_new(p->env->base, s->fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->raw) {
		run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
		session_end(s);
		return;
	}
	s->fd = -1; /* the bufferevent owns it now */
	s->bev = s->raw;
	/*
	 * Our own cap (LINE_MAX_LEN) decides; the watermark only keeps a
	 * flooding server from growing the buffer far past it.
	 */
	bufferevent_setwatermark(s->raw, EV_READ, 0, LINE_MAX_LEN + 4096);
	bufferevent_setcb(s->raw, sess_read_cb, NULL, sess_event_cb, s);
	if (p->c->target.implicit_tls) {
		start_tls(s);
		return;
	}
	s->core = s->ops->new (&p->pp, &s->run);
	if (!s->core) {
		run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
		session_end(s);
		return;
	}
	sess_set_state(s, SS_PROTO);
	arm_peek(s, bufferevent_getfd(s->raw));
	bufferevent_enable(s->raw, EV_READ);
	sess_apply(s, s->ops->start(s->core, 0, now), now);
}

static void connect_failed(struct session *s, int e)
{
	enum mp_status st;
	enum mp_reason why = errno_reason(e, &st);

	s->connect_failed = st == MP_DOWN;
	run_worsen(&s->run, st, why, "connect to %s failed: %s", s->addrstr,
	           evutil_socket_error_to_string(e));
	session_end(s);
}

static void connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int e = 0;
	socklen_t elen = sizeof(e);

	if (what & EV_TIMEOUT) {
		/* Only when other addresses wait: the step timeout is shorter than the deadline. */
		s->connect_failed = 1;
		run_fail(&s->run, MP_R_TIMEOUT, "connect to %s timed out", s->addrstr);
		session_end(s);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
		e = errno;
	if (e == ECONNRESET) {
		/*
		 * A server that refuses answers the SYN with a RST (ECONNREFUSED);
		 * a reset seen here came after the handshake, before this callback
		 * ran: the server accepted, then aborted. Not a failed connect, so
		 * no other address is tried for it, and said as what it was.
		 */
		run_fail(&s->run, MP_R_RESET,
		         "connection to %s reset by the server right after it was accepted "
		         "(waiting for greeting)",
		         s->addrstr);
		session_end(s);
		return;
	}
	if (e)
		connect_failed(s, e);
	else
		connected(s);
}

static void session_start(struct probe *p, struct evutil_addrinfo *ai)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s) {
		run_worsen(&p->run, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
		if (p->running == 0)
			probe_finish(p);
		return;
	}
	s->p = p;
	s->fd = -1;
	s->ops = p->c->target.proto == MP_IMAP ? &imap_ops : &pop3_ops;
	/* Starts from the probe's result: start time, DNS phase and path carry over. */
	s->res = p->res;
	s->res.nwarnings = 0;
	run_init(&s->run, &s->res, p->run.start_us);
	s->run.mark_us = p->run.mark_us;
	s->run.at = p->run.at;
	s->sslen = (socklen_t)(ai->ai_addrlen < sizeof(s->ss) ? ai->ai_addrlen : sizeof(s->ss));
	memcpy(&s->ss, ai->ai_addr, s->sslen);
	if (s->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)&s->ss)->sin6_port = htons(p->c->target.port);
	else
		((struct sockaddr_in *)(void *)&s->ss)->sin_port = htons(p->c->target.port);
	addr_to_str((struct sockaddr *)&s->ss, s->addrstr, sizeof(s->addrstr));
	/* Append: the order of sessions is the order of addresses. */
	struct session **tail = &p->sessions;
	while (*tail)
		tail = &(*tail)->next;
	*tail = s;
	p->running++;
	run_set_trace(&s->run, sess_trace, s);
	run_step(&s->run, "probe", "connect", 1);
	sess_set_state(s, SS_CONNECTING);

	s->fd = socket(s->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (s->fd < 0) {
		connect_failed(s, errno);
		return;
	}
	if (!p->c->target.implicit_tls)
		stamp_enable(s);
	s->connect_at = mp_now_us();
	run_mark(&s->run, s->connect_at);
	if (connect(s->fd, (struct sockaddr *)&s->ss, s->sslen) != 0 && errno != EINPROGRESS) {
		connect_failed(s, errno);
		return;
	}
	s->connev = event_new(p->env->base, s->fd, EV_WRITE, connect_cb, s);
	if (!s->connev) {
		run_worsen(&s->run, MP_UNKNOWN, MP_R_INTERNAL, "out of memory");
		session_end(s);
		return;
	}
	struct timeval tv, *tvp = NULL;
	if (!p->c->all_addresses && p->naddrs_left > 0) {
		/* Leave the other addresses a fair share of what remains of the deadline. */
		int64_t left_ms =
		    ((int64_t)p->c->timeout_ms * 1000 - (mp_now_us() - p->run.start_us)) / 1000;
		int64_t step = left_ms / (p->naddrs_left + 1);
		if (step < CONNECT_MIN_MS)
			step = CONNECT_MIN_MS;
		tv.tv_sec = (time_t)(step / 1000);
		tv.tv_usec = (suseconds_t)((step % 1000) * 1000);
		tvp = &tv;
	}
	event_add(s->connev, tvp);
}

/* ---- resolving and the deadline ----------------------------------------- */

static void dns_cb(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct probe *p = arg;

	if (err == EVUTIL_EAI_CANCEL)
		return; /* probe_free() is cancelling us; p is going away */
	p->dnsreq = NULL;
	run_phase(&p->run, MP_PH_DNS, mp_now_us());
	if (err) {
		char why[160];

		if (p->ai_ours && p->zone_err[0]) {
			/* Our host has no such link: the server cannot be reached from here. */
			run_fail(&p->run, MP_R_UNREACHABLE, "%s", p->zone_err);
		} else if (p->ai_ours) {
			run_fail(&p->run, MP_R_DNS, "no usable %saddress for %s%s",
			         p->c->n_resolve > 0 ? "--resolve " : "", p->c->target.host,
			         p->c->family != AF_UNSPEC ? " in the chosen address family" : "");
		} else {
			dns_error_text(err, p->res.phase_us[MP_PH_DNS], why, sizeof(why));
			run_fail(&p->run, MP_R_DNS, "cannot resolve %s: %s", p->c->target.host,
			         why);
		}
		probe_finish(p);
		return;
	}
	p->ai = ai;
	int n = 0;
	for (struct evutil_addrinfo *a = ai; a; a = a->ai_next)
		n++;
	if (n == 0) {
		run_fail(&p->run, MP_R_DNS, "%s has no address", p->c->target.host);
		probe_finish(p);
		return;
	}
	if (p->c->all_addresses) {
		int i = 0;
		for (struct evutil_addrinfo *a = ai; a && i < RESULT_ADDR_MAX; a = a->ai_next, i++)
			session_start(p, a);
		if (n > RESULT_ADDR_MAX)
			result_warn(&p->res, "%d addresses; only the first %d were probed", n,
			            RESULT_ADDR_MAX);
	} else {
		p->next_ai = ai->ai_next;
		p->naddrs_left = n - 1;
		session_start(p, ai);
	}
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	double secs = p->c->timeout_ms / 1000.0;

	(void)fd;
	(void)what;
	p->expired = 1;
	if (p->dnsreq) {
		struct evdns_getaddrinfo_request *req = p->dnsreq;
		p->dnsreq = NULL;
		evdns_getaddrinfo_cancel(req);
		run_phase(&p->run, MP_PH_DNS, mp_now_us());
		run_fail(&p->run, MP_R_TIMEOUT, "no DNS answer for %s within %.1f s",
		         p->c->target.host, secs);
		probe_finish(p);
		return;
	}
	for (struct session *s = p->sessions; s; s = s->next) {
		if (s->st == SS_DONE)
			continue;
		run_fail(&s->run, MP_R_TIMEOUT, "no %s within %.1f s (deadline)", sess_pending(s),
		         secs);
		session_end(s);
	}
	if (!p->finishing)
		probe_finish(p);
}

/*
 * The addresses given with --resolve (or the URL's own link-local address
 * with its zone), in their order, as an addrinfo list of our own (one
 * allocation per node). Addresses of the wrong family for -4/-6 are left
 * out, and so are those whose zone names no interface of this host (the
 * first such is kept in p->zone_err). Returns 0, or an EVUTIL_EAI_* code.
 */
static int fixed_addresses(struct probe *p, const char *const *addrs, int n,
                           struct evutil_addrinfo **out)
{
	const struct check *c = p->c;
	struct evutil_addrinfo *head = NULL, **tail = &head;

	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		char why[sizeof(p->zone_err)];
		int rc = target_sockaddr(addrs[i], 0, &ss, &len, why, sizeof(why));
		if (rc == -2) {
			if (!p->zone_err[0])
				memcpy(p->zone_err, why, sizeof(why));
			if (c->n_resolve > 0)
				result_warn(&p->res, "--resolve: %s; skipped", why);
			continue;
		}
		if (rc != 0) {
			result_warn(&p->res, "--resolve: '%s' is not a numeric address; skipped",
			            addrs[i]);
			continue;
		}
		if (c->family != AF_UNSPEC && ss.ss_family != c->family)
			continue;
		struct evutil_addrinfo *a = calloc(1, sizeof(*a) + sizeof(ss));
		if (!a)
			break;
		a->ai_family = ss.ss_family;
		a->ai_socktype = SOCK_STREAM;
		a->ai_protocol = IPPROTO_TCP;
		a->ai_addrlen = (size_t)len;
		a->ai_addr = (struct sockaddr *)(void *)(a + 1);
		memcpy(a->ai_addr, &ss, (size_t)len);
		*tail = a;
		tail = &a->ai_next;
	}
	*out = head;
	return head ? 0 : EVUTIL_EAI_NONAME;
}

struct probe *probe_start(struct probe_env *env, const struct check *c, probe_done_cb cb, void *arg)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->env = env;
	p->c = c;
	check_proto_params(c, &p->pp);
	p->cb = cb;
	p->arg = arg;
	result_init(&p->res, 0);
	run_init(&p->run, &p->res, mp_now_us());
	run_set_trace(&p->run, probe_trace, p);
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	p->wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	p->deadline = evtimer_new(env->base, deadline_cb, p);
	p->fin = event_new(env->base, -1, 0, fin_cb, p);
	if (!p->deadline || !p->fin) {
		probe_free(p);
		return NULL;
	}
	struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
	evtimer_add(p->deadline, &tv);
	run_step(&p->run, "probe", "dns", 1);

	/* A link-local URL host ("fe80::1%eth0") is no name to look up: its zone is ours. */
	const char *host = c->target.host;
	if (c->n_resolve > 0 || strchr(host, '%')) {
		struct evutil_addrinfo *ai = NULL;
		int err = c->n_resolve > 0 ? fixed_addresses(p, c->resolve, c->n_resolve, &ai)
		                           : fixed_addresses(p, &host, 1, &ai);
		p->ai_ours = 1;
		dns_cb(err, ai, p); /* no lookup: the addresses were given */
		return p;
	}

	struct evutil_addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = c->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* May answer at once (literals, /etc/hosts): dns_cb then runs before this returns. */
	struct evdns_getaddrinfo_request *req =
	    evdns_getaddrinfo(env->dns, c->target.host, NULL, &hints, dns_cb, p);
	p->dnsreq = req; /* NULL when already answered */
	return p;
}

void probe_cancel(struct probe *p)
{
	if (p)
		probe_free(p);
}
