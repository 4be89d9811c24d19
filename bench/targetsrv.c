/* SPDX-License-Identifier: ISC */
/*
 * targetsrv - a fast local IMAP/POP3 target for the benchmarks.
 *
 * targetsrv --port-base P --ec-chain FILE --ec-key FILE --rsa-chain FILE --rsa-key FILE
 *           [--delay-ms MS] [--tickets N] [--ready FILE] [--spin 0|1]
 *
 * Listens on 127.0.0.1 only, one port per mode (P + offset, see ports[]):
 *
 *   +0 imap           plain IMAP, no STARTTLS advertised
 *   +1 imap+starttls  IMAP advertising STARTTLS (ECDSA P-256 chain)
 *   +2 imaps          implicit TLS IMAP (ECDSA)
 *   +3 pop3           plain POP3, no STLS advertised
 *   +4 pop3+stls      POP3 advertising STLS (ECDSA)
 *   +5 pop3s          implicit TLS POP3 (ECDSA)
 *   +6..+9            the four TLS modes again with the RSA-2048 chain
 *
 * It answers like a real server (Dovecot's wording): CAPABILITY/CAPA,
 * STARTTLS/STLS, NOOP, LOGOUT/QUIT, replying with the client's tag, and
 * closes after the goodbye. One thread, one libevent loop, no bufferevents:
 * raw non-blocking sockets and SSL_read/SSL_write, so that the server costs
 * as little as possible per connection and never limits a measurement.
 * Replies are a few dozen bytes and always fit the socket buffer: a short
 * write is counted and the connection dropped, never queued.
 *
 * A benchmark tool: it exits on the first setup error; per-connection
 * errors only close that connection and are counted (printed on exit).
 * SIGINT/SIGTERM stop it cleanly.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define NPORTS    10
#define INBUF_MAX 1024 /* a client line longer than this is an error */

enum tls_mode {
	T_PLAIN,    /* never TLS */
	T_STARTTLS, /* plain, STARTTLS/STLS advertised */
	T_IMPLICIT, /* TLS from the first byte */
};

enum srv_proto {
	S_IMAP,
	S_POP3,
};

struct port_def {
	const char *name;
	enum srv_proto proto;
	enum tls_mode tls;
	int rsa; /* use the RSA chain */
};

static const struct port_def ports[NPORTS] = {
    {"imap", S_IMAP, T_PLAIN, 0},
    {"imap+starttls", S_IMAP, T_STARTTLS, 0},
    {"imaps", S_IMAP, T_IMPLICIT, 0},
    {"pop3", S_POP3, T_PLAIN, 0},
    {"pop3+stls", S_POP3, T_STARTTLS, 0},
    {"pop3s", S_POP3, T_IMPLICIT, 0},
    {"imap+starttls/rsa", S_IMAP, T_STARTTLS, 1},
    {"imaps/rsa", S_IMAP, T_IMPLICIT, 1},
    {"pop3+stls/rsa", S_POP3, T_STARTTLS, 1},
    {"pop3s/rsa", S_POP3, T_IMPLICIT, 1},
};

struct srv {
	struct event_base *base;
	SSL_CTX *ctx_ec;
	SSL_CTX *ctx_rsa;
	unsigned delay_ms;
	struct evconnlistener *lis[NPORTS];
	/* counters, printed on exit */
	unsigned long accepted, handshakes, goodbyes, errors, short_writes;
};

struct listener_arg {
	struct srv *srv;
	const struct port_def *def;
};

enum conn_state {
	C_HANDSHAKE, /* TLS accept in progress */
	C_DELAY,     /* greeting held back by --delay-ms */
	C_CMD,       /* reading commands */
};

/* One client connection. Created on accept, freed by conn_close(): the one teardown. */
struct conn {
	struct srv *srv;
	const struct port_def *def;
	int fd;
	SSL *ssl;            /* NULL while plain */
	struct event *ev;    /* read or write readiness, persistent */
	short evwhat;        /* EV_READ or EV_WRITE: what ev waits for */
	struct event *timer; /* greeting delay; only with --delay-ms */
	enum conn_state st;
	size_t inlen;
	char in[INBUF_MAX];
};

static void conn_cb(evutil_socket_t fd, short what, void *arg);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("targetsrv: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		/* close_notify, as a polite server sends; we do not wait for the peer's. */
		if (SSL_is_init_finished(c->ssl))
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ev)
		event_free(c->ev);
	if (c->timer)
		event_free(c->timer);
	close(c->fd);
	free(c);
}

/* Wait for what (EV_READ or EV_WRITE). Returns -1 when out of memory. */
static int conn_want(struct conn *c, short what)
{
	if (c->ev && c->evwhat == what)
		return 0;
	if (c->ev)
		event_free(c->ev);
	c->ev = event_new(c->srv->base, c->fd, what | EV_PERSIST, conn_cb, c);
	c->evwhat = what;
	if (!c->ev || event_add(c->ev, NULL) != 0)
		return -1;
	return 0;
}

/* Send a whole reply now. Returns -1 when it could not all go out. */
static int conn_send(struct conn *c, const char *s, size_t n)
{
	if (c->ssl) {
		int w = SSL_write(c->ssl, s, (int)n);
		if (w == (int)n)
			return 0;
	} else {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w == (ssize_t)n)
			return 0;
		if (w >= 0 || errno == EAGAIN)
			c->srv->short_writes++;
	}
	c->srv->errors++;
	return -1;
}

static int conn_sendf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int conn_sendf(struct conn *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return conn_send(c, buf, (size_t)n);
}

static int greet(struct conn *c)
{
	c->st = C_CMD;
	if (c->def->proto == S_IMAP)
		return conn_sendf(c, "* OK mailpulse-bench ready.\r\n");
	return conn_sendf(c, "+OK mailpulse-bench ready.\r\n");
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (greet(c) != 0)
		conn_close(c);
}

/* The TLS channel (or the plain connection) is ready: greet now or after --delay-ms. */
static int greet_soon(struct conn *c)
{
	if (c->srv->delay_ms == 0)
		return greet(c);
	c->st = C_DELAY;
	c->timer = evtimer_new(c->srv->base, delay_cb, c);
	struct timeval tv = {c->srv->delay_ms / 1000, (c->srv->delay_ms % 1000) * 1000};
	if (!c->timer || evtimer_add(c->timer, &tv) != 0)
		return -1;
	return 0;
}

/* Start TLS on the connection (accept side). Bytes come when the client sends them. */
static int tls_begin(struct conn *c)
{
	SSL_CTX *ctx = c->def->rsa ? c->srv->ctx_rsa : c->srv->ctx_ec;

	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	SSL_set_accept_state(c->ssl);
	c->st = C_HANDSHAKE;
	return 0;
}

/* Drive the handshake. Returns 1 when done, 0 to wait, -1 on failure. */
static int tls_step(struct conn *c)
{
	int r = SSL_do_handshake(c->ssl);

	if (r == 1) {
		c->srv->handshakes++;
		return conn_want(c, EV_READ) == 0 ? 1 : -1;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return conn_want(c, EV_READ);
	case SSL_ERROR_WANT_WRITE:
		return conn_want(c, EV_WRITE);
	default:
		ERR_clear_error();
		c->srv->errors++;
		return -1;
	}
}

static const char *imap_caps(const struct conn *c)
{
	if (c->ssl)
		return "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN";
	if (c->def->tls == T_STARTTLS)
		return "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
		       "LOGINDISABLED";
	return "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ LOGINDISABLED";
}

/* Lines start after "<tag> "; verbs are case-insensitive. Returns 1 to close, 2 for TLS. */
static int imap_line(struct conn *c, char *line)
{
	char *sp = strchr(line, ' ');

	if (!sp)
		return conn_sendf(c, "* BAD Error in IMAP command received by server.\r\n") ? -1
		                                                                            : 0;
	*sp = '\0';
	const char *tag = line, *cmd = sp + 1;
	if (strcasecmp(cmd, "CAPABILITY") == 0)
		return conn_sendf(c,
		                  "* CAPABILITY %s\r\n%s OK Pre-login capabilities listed, "
		                  "post-login capabilities have more.\r\n",
		                  imap_caps(c), tag)
		           ? -1
		           : 0;
	if (strcasecmp(cmd, "NOOP") == 0)
		return conn_sendf(c, "%s OK NOOP completed.\r\n", tag) ? -1 : 0;
	if (strcasecmp(cmd, "LOGOUT") == 0) {
		c->srv->goodbyes++;
		(void)conn_sendf(c, "* BYE Logging out\r\n%s OK Logout completed.\r\n", tag);
		return 1;
	}
	if (strcasecmp(cmd, "STARTTLS") == 0 && c->def->tls == T_STARTTLS && !c->ssl) {
		if (conn_sendf(c, "%s OK Begin TLS negotiation now.\r\n", tag) != 0)
			return -1;
		return 2;
	}
	return conn_sendf(c, "%s BAD Error in IMAP command %s: Unknown command.\r\n", tag, cmd) ? -1
	                                                                                        : 0;
}

static int pop3_line(struct conn *c, const char *cmd)
{
	if (strcasecmp(cmd, "CAPA") == 0) {
		const char *extra = c->ssl                      ? "USER\r\nSASL PLAIN\r\n"
		                    : c->def->tls == T_STARTTLS ? "STLS\r\n"
		                                                : "";
		return conn_sendf(c,
		                  "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
		                  "AUTH-RESP-CODE\r\n%s.\r\n",
		                  extra)
		           ? -1
		           : 0;
	}
	if (strcasecmp(cmd, "NOOP") == 0)
		return conn_sendf(c, "+OK\r\n") ? -1 : 0;
	if (strcasecmp(cmd, "QUIT") == 0) {
		c->srv->goodbyes++;
		(void)conn_sendf(c, "+OK Logging out.\r\n");
		return 1;
	}
	if (strcasecmp(cmd, "STLS") == 0 && c->def->tls == T_STARTTLS && !c->ssl) {
		if (conn_sendf(c, "+OK Begin TLS negotiation now.\r\n") != 0)
			return -1;
		return 2;
	}
	return conn_sendf(c, "-ERR Unknown command.\r\n") ? -1 : 0;
}

/* Answer every complete line in c->in. Returns -1 to close the connection. */
static int conn_lines(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->inlen);
		if (!nl) {
			if (c->inlen >= sizeof(c->in)) {
				c->srv->errors++;
				return -1;
			}
			return 0;
		}
		size_t used = (size_t)(nl - c->in) + 1;
		*nl = '\0';
		if (nl > c->in && nl[-1] == '\r')
			nl[-1] = '\0';
		int r = c->def->proto == S_IMAP ? imap_line(c, c->in) : pop3_line(c, c->in);
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		if (r != 0 && r != 2)
			return -1; /* error, or goodbye sent: close */
		if (r == 2) {
			if (c->inlen > 0) {
				/* Pipelined bytes after STARTTLS: a real server must refuse them.
				 */
				c->srv->errors++;
				return -1;
			}
			return tls_begin(c);
		}
	}
}

/* Read what is there. Returns bytes added, 0 to wait, -1 on EOF or error. */
static int conn_read(struct conn *c)
{
	size_t room = sizeof(c->in) - c->inlen;
	int total = 0;

	while (room > 0) {
		if (c->ssl) {
			int r = SSL_read(c->ssl, c->in + c->inlen, (int)room);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return total;
				if (e == SSL_ERROR_WANT_WRITE)
					return conn_want(c, EV_WRITE) == 0 ? total : -1;
				ERR_clear_error();
				return -1; /* close_notify or EOF: the client left */
			}
			c->inlen += (size_t)r;
			room -= (size_t)r;
			total += r;
		} else {
			ssize_t r = recv(c->fd, c->in + c->inlen, room, 0);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				return total;
			if (r <= 0)
				return -1;
			c->inlen += (size_t)r;
			room -= (size_t)r;
			total += (int)r;
		}
	}
	return total;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->st == C_HANDSHAKE) {
		int r = tls_step(c);
		if (r < 0) {
			conn_close(c);
			return;
		}
		if (r == 0)
			return;
		if (c->def->tls == T_IMPLICIT) {
			if (greet_soon(c) != 0) {
				conn_close(c);
				return;
			}
		} else {
			c->st = C_CMD; /* after STARTTLS the client speaks first */
		}
	}
	if (c->ssl && c->evwhat == EV_WRITE && conn_want(c, EV_READ) != 0) {
		conn_close(c);
		return;
	}
	/* While the greeting is held back, still read: a client that speaks first is seen. */
	if (conn_read(c) < 0) {
		conn_close(c);
		return;
	}
	if (c->st == C_CMD && conn_lines(c) != 0) {
		conn_close(c);
		return;
	}
	if (c->st == C_HANDSHAKE && tls_step(c) < 0)
		conn_close(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct listener_arg *la = arg;
	struct srv *srv = la->srv;
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	(void)l;
	(void)sa;
	(void)salen;
	srv->accepted++;
	if (!c) {
		close(fd);
		srv->errors++;
		return;
	}
	c->srv = srv;
	c->def = la->def;
	c->fd = fd;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (conn_want(c, EV_READ) != 0) {
		conn_close(c);
		return;
	}
	if (c->def->tls == T_IMPLICIT) {
		if (tls_begin(c) != 0)
			conn_close(c);
		return; /* the ClientHello wakes us */
	}
	if (greet_soon(c) != 0)
		conn_close(c);
}

static SSL_CTX *make_ctx(const char *chain, const char *key, int tickets)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, chain) != 1)
		die("cannot load the certificate chain %s", chain);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("cannot load the key %s", key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		die("%s does not match %s", key, chain);
	/* Servers hand out TLS 1.3 tickets by default (2); --tickets changes that. */
	if (tickets >= 0)
		SSL_CTX_set_num_tickets(ctx, (size_t)tickets);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static void usage(void)
{
	fputs("usage: targetsrv --port-base P --ec-chain FILE --ec-key FILE\n"
	      "                 --rsa-chain FILE --rsa-key FILE\n"
	      "                 [--delay-ms MS] [--tickets N] [--ready FILE] [--spin 0|1]\n"
	      "Ports, from P: imap imap+starttls imaps pop3 pop3+stls pop3s (ECDSA),\n"
	      "then imap+starttls imaps pop3+stls pop3s with the RSA chain.\n",
	      stderr);
	exit(2);
}

static long num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		die("%s: expected a number from %ld to %ld, got '%s'", name, lo, hi, v);
	return n;
}

int main(int argc, char **argv)
{
	const char *ec_chain = NULL, *ec_key = NULL, *rsa_chain = NULL, *rsa_key = NULL;
	const char *ready = NULL;
	long port_base = 0, tickets = -1, spin = 0;
	struct srv srv;
	struct listener_arg la[NPORTS];

	memset(&srv, 0, sizeof(srv));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(a, "--port-base") == 0)
			port_base = num_arg(a, v, 1, 65535 - NPORTS);
		else if (strcmp(a, "--ec-chain") == 0)
			ec_chain = v;
		else if (strcmp(a, "--ec-key") == 0)
			ec_key = v;
		else if (strcmp(a, "--rsa-chain") == 0)
			rsa_chain = v;
		else if (strcmp(a, "--rsa-key") == 0)
			rsa_key = v;
		else if (strcmp(a, "--delay-ms") == 0)
			srv.delay_ms = (unsigned)num_arg(a, v, 0, 60000);
		else if (strcmp(a, "--tickets") == 0)
			tickets = num_arg(a, v, 0, 16);
		else if (strcmp(a, "--ready") == 0)
			ready = v;
		else if (strcmp(a, "--spin") == 0)
			spin = num_arg(a, v, 0, 1);
		else
			usage();
	}
	if (!port_base || !ec_chain || !ec_key || !rsa_chain || !rsa_key)
		usage();

	signal(SIGPIPE, SIG_IGN);
	srv.ctx_ec = make_ctx(ec_chain, ec_key, (int)tickets);
	srv.ctx_rsa = make_ctx(rsa_chain, rsa_key, (int)tickets);
	/*
	 * --spin 1: for timing runs, never sleep. A sleeping server on a VM
	 * wakes up to a few ms late (to accept, and when the delay timer is
	 * due), and that lateness would be charged to the client's time to
	 * greeting. Polling with a precise clock keeps the target's own error
	 * near the clock's resolution, at the price of one busy core.
	 */
	struct event_config *cfg = event_config_new();
	if (!cfg || (spin && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0))
		die("event_config");
	srv.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!srv.base)
		die("event_base_new");

	for (int i = 0; i < NPORTS; i++) {
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)(port_base + i));
		la[i].srv = &srv;
		la[i].def = &ports[i];
		srv.lis[i] = evconnlistener_new_bind(srv.base, accept_cb, &la[i],
		                                     LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
		                                     4096, (struct sockaddr *)&sin, sizeof(sin));
		if (!srv.lis[i])
			die("cannot listen on 127.0.0.1:%ld: %s", port_base + i, strerror(errno));
	}
	struct event *sigint = evsignal_new(srv.base, SIGINT, stop_cb, srv.base);
	struct event *sigterm = evsignal_new(srv.base, SIGTERM, stop_cb, srv.base);
	if (!sigint || !sigterm || event_add(sigint, NULL) || event_add(sigterm, NULL))
		die("cannot catch signals");
	if (ready) {
		FILE *f = fopen(ready, "w");
		if (!f)
			die("%s: %s", ready, strerror(errno));
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
	fprintf(stderr, "targetsrv: pid %ld, 127.0.0.1:%ld-%ld, delay %u ms\n", (long)getpid(),
	        port_base, port_base + NPORTS - 1, srv.delay_ms);

	if (spin) {
		while (!event_base_got_break(srv.base) && !event_base_got_exit(srv.base))
			if (event_base_loop(srv.base, EVLOOP_NONBLOCK) < 0)
				die("event loop failed");
	} else {
		event_base_dispatch(srv.base);
	}

	fprintf(stderr,
	        "targetsrv: %lu accepted, %lu TLS handshakes, %lu goodbyes, %lu errors "
	        "(%lu short writes)\n",
	        srv.accepted, srv.handshakes, srv.goodbyes, srv.errors, srv.short_writes);
	for (int i = 0; i < NPORTS; i++)
		evconnlistener_free(srv.lis[i]);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(srv.base);
	SSL_CTX_free(srv.ctx_ec);
	SSL_CTX_free(srv.ctx_rsa);
	return 0;
}
