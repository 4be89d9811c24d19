/* SPDX-License-Identifier: ISC */
/*
 * fakesrv - a hostile mail server that plays a scenario file.
 *
 * fakesrv [--port-file FILE] [--port N] [--bind ADDR] [--certs DIR] [--max-conns N]
 *         [--lifetime SEC] SCENARIO
 *
 * Listens on 127.0.0.1 on an ephemeral port (written to --port-file, so
 * parallel tests never collide), accepts up to --max-conns connections one
 * after another and plays the scenario on each. It exits after the last
 * connection or when --lifetime runs out, whichever comes first, so it never
 * outlives a test. The scenario language is described in README.md.
 *
 * Exit status: 0 done, 1 usage or setup error, 2 the client did not do what
 * the scenario expected (a line starting "fakesrv: FAIL:" says what),
 * 3 the lifetime ran out.
 *
 * Blocking sockets and one connection at a time: this is a test tool, and
 * simple sequential code makes "one send() call" and "never answer" exact.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

/* What we print of one client line or payload in the log. */
#define LOG_SHOW_MAX 160
/* The log stays readable when a client floods us. */
#define LOG_LINES_MAX 400
/* Client lines longer than this are cut (the rest is read and dropped). */
#define CLIENT_LINE_MAX 4096
/* Bytes of one line scenario file; arguments may be long escaped strings. */
#define SCN_LINE_MAX 8192
/* A clean close waits this long for the client's FIN. */
#define CLOSE_DRAIN_MS 1000

enum op {
	OP_SEND,
	OP_REPLY,
	OP_EXPECT,
	OP_MAYBE_EXPECT,
	OP_READLINE,
	OP_SLEEP,
	OP_TRICKLE,
	OP_PIECES,
	OP_FLOOD,
	OP_GARBAGE,
	OP_TLS,
	OP_TLS_STALL,
	OP_CLOSE,
	OP_RESET,
	OP_WAIT_CLOSE,
};

struct directive {
	enum op op;
	int lineno;
	long n;
	long n2;   /* a second number: pieces' pause */
	char *arg; /* unescaped, may hold NUL bytes: use arglen */
	size_t arglen;
};

/* The parsed scenario: read once at start, freed at exit by the OS. */
struct scenario {
	const char *path;
	char *cert, *key, *chain; /* resolved paths, or NULL */
	int tls_min, tls_max;     /* 0: OpenSSL's default */
	int implicit_tls;
	struct directive *d;
	size_t nd;
};

/* One accepted connection. ssl is NULL until a handshake. */
struct conn {
	int fd;
	SSL *ssl;
	int num;
	char last[CLIENT_LINE_MAX]; /* the last line read, for reply's tag */
	size_t last_len;
	int have_last;
	uint32_t rng;
};

/* How a directive ended: go on, stop this connection quietly, or fail. */
enum step {
	STEP_NEXT,
	STEP_END,
};

static int log_lines;
static const char *scn_path = "?";

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
	va_list ap;

	if (log_lines++ >= LOG_LINES_MAX) {
		if (log_lines == LOG_LINES_MAX + 1)
			fputs("fakesrv: (log cut)\n", stderr);
		return;
	}
	fputs("fakesrv: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("fakesrv: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The client broke the scenario's expectation: the test must fail. */
static void fail(int lineno, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail(int lineno, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fakesrv: FAIL: %s:%d: ", scn_path, lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Escape s[0..n) for the log, cut to LOG_SHOW_MAX visible bytes. */
static const char *show(const char *s, size_t n)
{
	static char buf[LOG_SHOW_MAX * 4 + 8];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o >= LOG_SHOW_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '\r')
			o += (size_t)sprintf(buf + o, "\\r");
		else if (c == '\n')
			o += (size_t)sprintf(buf + o, "\\n");
		else if (c == '\\')
			o += (size_t)sprintf(buf + o, "\\\\");
		else if (c < 0x20 || c > 0x7e)
			o += (size_t)sprintf(buf + o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static void log_ssl_errors(const char *what)
{
	unsigned long e;
	char buf[256];
	int any = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		logf_("%s: %s", what, buf);
		any = 1;
	}
	if (!any)
		logf_("%s", what);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Case-insensitive search of needle in hay[0..n); client lines may hold NUL. */
static int ci_contains(const char *hay, size_t n, const char *needle, size_t nl)
{
	for (size_t i = 0; i + nl <= n; i++) {
		size_t j = 0;

		while (j < nl &&
		       tolower((unsigned char)hay[i + j]) == tolower((unsigned char)needle[j]))
			j++;
		if (j == nl)
			return 1;
	}
	return 0;
}

/* ---- scenario parsing ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse a C-style quoted string at *pp into a new buffer. Escapes: \r \n
 * \t \0 \\ \" \xNN. Returns NULL with why set on a syntax error.
 */
static char *parse_quoted(const char **pp, size_t *len, const char **why)
{
	const char *p = *pp;
	char *out;
	size_t o = 0;

	if (*p != '"') {
		*why = "expected a quoted string";
		return NULL;
	}
	p++;
	out = malloc(strlen(p) + 1);
	if (!out)
		die("out of memory");
	for (;;) {
		int c = (unsigned char)*p++;

		if (c == '\0') {
			*why = "unterminated string";
			free(out);
			return NULL;
		}
		if (c == '"')
			break;
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		c = (unsigned char)*p++;
		switch (c) {
		case 'r':
			out[o++] = '\r';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case '0':
			out[o++] = '\0';
			break;
		case '\\':
		case '"':
			out[o++] = (char)c;
			break;
		case 'x': {
			int h = hexval((unsigned char)p[0]);
			int l = h < 0 ? -1 : hexval((unsigned char)p[1]);

			if (l < 0) {
				*why = "\\x needs two hex digits";
				free(out);
				return NULL;
			}
			out[o++] = (char)(h * 16 + l);
			p += 2;
			break;
		}
		default:
			*why = "unknown escape";
			free(out);
			return NULL;
		}
	}
	*pp = p;
	*len = o;
	return out;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int parse_tls_version(const char *s)
{
	if (strcmp(s, "1.0") == 0)
		return TLS1_VERSION;
	if (strcmp(s, "1.1") == 0)
		return TLS1_1_VERSION;
	if (strcmp(s, "1.2") == 0)
		return TLS1_2_VERSION;
	if (strcmp(s, "1.3") == 0)
		return TLS1_3_VERSION;
	return -1;
}

static char *join_path(const char *dir, const char *file)
{
	size_t n;
	char *s;

	if (file[0] == '/' || !dir)
		return strdup(file);
	n = strlen(dir) + strlen(file) + 2;
	s = malloc(n);
	if (!s)
		die("out of memory");
	snprintf(s, n, "%s/%s", dir, file);
	return s;
}

/* Directives with their argument shapes: N = number, S = quoted string. */
static const struct {
	const char *name;
	enum op op;
	const char *args;
} ops[] = {
    {"send", OP_SEND, "S"},
    {"reply", OP_REPLY, "S"},
    {"expect", OP_EXPECT, "S"},
    {"maybe_expect", OP_MAYBE_EXPECT, "S"},
    {"readline", OP_READLINE, ""},
    {"sleep", OP_SLEEP, "N"},
    {"trickle", OP_TRICKLE, "NS"},
    {"pieces", OP_PIECES, "NNS"},
    {"flood", OP_FLOOD, "NS"},
    {"garbage", OP_GARBAGE, "N"},
    {"tls", OP_TLS, ""},
    {"tls_stall", OP_TLS_STALL, ""},
    {"close", OP_CLOSE, ""},
    {"reset", OP_RESET, ""},
    {"wait_close", OP_WAIT_CLOSE, ""},
};

static void parse_line(struct scenario *s, const char *certs, char *line, int lineno)
{
	const char *p = skip_ws(line);
	char word[32];
	size_t w = 0;
	struct directive d = {.lineno = lineno};
	const char *why = NULL;

	if (*p == '\0' || *p == '#')
		return;
	while (*p && *p != ' ' && *p != '\t' && w < sizeof(word) - 1)
		word[w++] = *p++;
	word[w] = '\0';
	p = skip_ws(p);

	/* Options: they shape the TLS context, wherever they appear. */
	if (strcmp(word, "cert") == 0 || strcmp(word, "key") == 0 || strcmp(word, "chain") == 0) {
		char **dst = word[0] == 'c' ? (word[1] == 'e' ? &s->cert : &s->chain) : &s->key;

		if (*p == '\0')
			die("%s:%d: %s needs a file name", s->path, lineno, word);
		free(*dst);
		*dst = join_path(certs, p);
		return;
	}
	if (strcmp(word, "tls_min") == 0 || strcmp(word, "tls_max") == 0) {
		int v = parse_tls_version(p);

		if (v < 0)
			die("%s:%d: %s: expected 1.0, 1.1, 1.2 or 1.3", s->path, lineno, word);
		*(word[5] == 'i' ? &s->tls_min : &s->tls_max) = v;
		return;
	}
	if (strcmp(word, "implicit_tls") == 0) {
		s->implicit_tls = 1;
		return;
	}

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(word, ops[i].name) != 0)
			continue;
		d.op = ops[i].op;
		int nums = 0;
		for (const char *a = ops[i].args; *a; a++) {
			p = skip_ws(p);
			if (*a == 'N') {
				char *end;
				long *dst = nums++ == 0 ? &d.n : &d.n2;

				errno = 0;
				*dst = strtol(p, &end, 10);
				if (end == p || errno || *dst < 0)
					die("%s:%d: %s: expected a number", s->path, lineno, word);
				p = end;
			} else {
				d.arg = parse_quoted(&p, &d.arglen, &why);
				if (!d.arg)
					die("%s:%d: %s: %s", s->path, lineno, word, why);
			}
		}
		p = skip_ws(p);
		if (*p != '\0')
			die("%s:%d: %s: unexpected '%s'", s->path, lineno, word, p);
		if ((d.op == OP_FLOOD || d.op == OP_TRICKLE || d.op == OP_PIECES) && d.arglen == 0)
			die("%s:%d: %s: empty pattern", s->path, lineno, word);
		if (d.op == OP_PIECES && (d.n < 1 || (size_t)d.n > d.arglen))
			die("%s:%d: pieces: between 1 and %zu pieces", s->path, lineno, d.arglen);
		s->d = realloc(s->d, (s->nd + 1) * sizeof(*s->d));
		if (!s->d)
			die("out of memory");
		s->d[s->nd++] = d;
		return;
	}
	die("%s:%d: unknown directive '%s'", s->path, lineno, word);
}

static void parse_scenario(struct scenario *s, const char *path, const char *certs)
{
	FILE *f = fopen(path, "r");
	char line[SCN_LINE_MAX];
	int lineno = 0;

	if (!f)
		die("%s: %s", path, strerror(errno));
	s->path = path;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		lineno++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n')
			die("%s:%d: line too long", path, lineno);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		parse_line(s, certs, line, lineno);
	}
	fclose(f);
	if (s->cert && !s->key) {
		/* certgen writes PREFIX.crt and PREFIX.key side by side. */
		size_t n = strlen(s->cert);

		s->key = strdup(s->cert);
		if (n > 4 && strcmp(s->cert + n - 4, ".crt") == 0)
			memcpy(s->key + n - 4, ".key", 4);
	}
}

/* ---- TLS ---- */

static SSL_CTX *make_ctx(const struct scenario *s)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		die("SSL_CTX_new failed");
	/* Send exactly the chain the scenario names, never one built from a store. */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	if ((s->tls_max && s->tls_max < TLS1_2_VERSION) ||
	    (s->tls_min && s->tls_min < TLS1_2_VERSION)) {
		/* OpenSSL 3 refuses TLS 1.0/1.1 at the default security level. */
		SSL_CTX_set_security_level(ctx, 0);
		if (SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") != 1)
			die("cipher list rejected");
	}
	if (s->tls_min && SSL_CTX_set_min_proto_version(ctx, s->tls_min) != 1)
		die("tls_min rejected");
	if (s->tls_max && SSL_CTX_set_max_proto_version(ctx, s->tls_max) != 1)
		die("tls_max rejected");
	if (!s->cert)
		return ctx;
	if (SSL_CTX_use_certificate_file(ctx, s->cert, SSL_FILETYPE_PEM) != 1) {
		log_ssl_errors("certificate");
		die("cannot load certificate %s", s->cert);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, s->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_errors("key");
		die("cannot load key %s", s->key);
	}
	if (s->chain) {
		FILE *f = fopen(s->chain, "r");
		X509 *x;
		int n = 0;

		if (!f)
			die("%s: %s", s->chain, strerror(errno));
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
			if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
				die("cannot add chain certificate from %s", s->chain);
			n++;
		}
		ERR_clear_error(); /* the read that ended the loop */
		fclose(f);
		if (n == 0)
			die("%s: no certificate", s->chain);
	}
	return ctx;
}

/* ---- connection I/O ---- */

/*
 * Write all of buf. A plain write is one send() call as long as it fits the
 * socket buffer, which is what makes pipelining tests exact. Returns -1
 * when the client went away.
 */
static int conn_write(struct conn *c, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (c->ssl) {
			size_t w = 0;

			if (SSL_write_ex(c->ssl, buf, len, &w) != 1) {
				ERR_clear_error();
				return -1;
			}
			n = (ssize_t)w;
		} else {
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One byte; 1 read, 0 end of stream, -1 error (both mean the client is gone). */
static int conn_getc(struct conn *c, char *ch)
{
	if (c->ssl) {
		size_t got = 0;
		int r = SSL_read_ex(c->ssl, ch, 1, &got);

		if (r == 1)
			return 1;
		r = SSL_get_error(c->ssl, r);
		ERR_clear_error();
		return r == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	for (;;) {
		ssize_t n = recv(c->fd, ch, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 ? 1 : (n == 0 ? 0 : -1);
	}
}

/*
 * Read one line (up to LF) into c->last, without its line ending. Byte by
 * byte, so that nothing after the line (a ClientHello after STARTTLS) is
 * consumed. Returns 1, or 0 when the client closed or failed first.
 */
static int conn_readline(struct conn *c)
{
	size_t n = 0;
	int any = 0;
	char ch;

	c->last_len = 0;

	for (;;) {
		int r = conn_getc(c, &ch);

		if (r <= 0) {
			if (any)
				logf_("conn %d: client closed inside a line: < %s", c->num,
				      show(c->last, n));
			return 0;
		}
		any = 1;
		if (ch == '\n')
			break;
		if (n < sizeof(c->last) - 1)
			c->last[n++] = ch;
	}
	if (n > 0 && c->last[n - 1] == '\r')
		n--;
	c->last[n] = '\0';
	c->last_len = n;
	c->have_last = 1;
	logf_("conn %d: < %s", c->num, show(c->last, n));
	return 1;
}

static void conn_free(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Close politely: close_notify, FIN, then give the client a moment to see it. */
static void conn_close(struct conn *c)
{
	int64_t until = now_ms() + CLOSE_DRAIN_MS;
	char buf[4096];

	if (c->fd < 0)
		return;
	if (c->ssl)
		SSL_shutdown(c->ssl);
	shutdown(c->fd, SHUT_WR);
	/*
	 * Closing with unread input would send a RST that can destroy the
	 * data we sent; drain until the client's FIN, briefly.
	 */
	for (;;) {
		struct pollfd pfd = {c->fd, POLLIN, 0};
		int64_t left = until - now_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		if (recv(c->fd, buf, sizeof(buf), 0) <= 0)
			break;
	}
	conn_free(c);
}

static int do_tls(struct conn *c, SSL_CTX *ctx)
{
	int r;

	if (c->ssl) {
		logf_("conn %d: tls: already in TLS", c->num);
		return -1;
	}
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		die("SSL_new failed");
	r = SSL_accept(c->ssl);
	if (r != 1) {
		char what[64];

		snprintf(what, sizeof(what), "conn %d: TLS handshake failed", c->num);
		log_ssl_errors(what);
		return -1;
	}
	logf_("conn %d: TLS up: %s %s", c->num, SSL_get_version(c->ssl),
	      SSL_get_cipher_name(c->ssl));
	return 0;
}

/* Never NUL, CR or LF: the scenario decides where lines end. */
static unsigned char garbage_byte(struct conn *c)
{
	for (;;) {
		unsigned char b;

		c->rng ^= c->rng << 13;
		c->rng ^= c->rng >> 17;
		c->rng ^= c->rng << 5;
		b = (unsigned char)(c->rng >> 7);
		if (b != 0 && b != '\r' && b != '\n')
			return b;
	}
}

/* Send d->n bytes of flood pattern or garbage in large writes; -1 when the client is gone. */
static int send_bulk(struct conn *c, const struct directive *d)
{
	char buf[16384];
	long left = d->n;
	size_t k = 0;

	while (left > 0) {
		size_t chunk = left < (long)sizeof(buf) ? (size_t)left : sizeof(buf);

		for (size_t i = 0; i < chunk; i++) {
			if (d->op == OP_GARBAGE) {
				buf[i] = (char)garbage_byte(c);
			} else {
				buf[i] = d->arg[k];
				k = (k + 1) % d->arglen;
			}
		}
		if (conn_write(c, buf, chunk) < 0) {
			logf_("conn %d: client went away after %ld of %ld bytes", c->num,
			      d->n - left, d->n);
			return -1;
		}
		left -= (long)chunk;
	}
	return 0;
}

static enum step gone(struct conn *c, const struct directive *d, const char *what)
{
	logf_("conn %d: line %d: client went away during %s", c->num, d->lineno, what);
	return STEP_END;
}

static enum step run_directive(struct conn *c, SSL_CTX *ctx, const struct directive *d)
{
	switch (d->op) {
	case OP_SEND:
		logf_("conn %d: > %s", c->num, show(d->arg, d->arglen));
		if (conn_write(c, d->arg, d->arglen) < 0)
			return gone(c, d, "send");
		return STEP_NEXT;
	case OP_REPLY: {
		/* Tag of the last client line, then the text, in one write. */
		char buf[CLIENT_LINE_MAX + SCN_LINE_MAX];
		size_t tl, n;

		if (!c->have_last)
			fail(d->lineno, "reply: no client line read yet");
		tl = strcspn(c->last, " ");
		if (tl + 1 + d->arglen + 2 > sizeof(buf))
			fail(d->lineno, "reply: too long");
		memcpy(buf, c->last, tl);
		buf[tl] = ' ';
		memcpy(buf + tl + 1, d->arg, d->arglen);
		n = tl + 1 + d->arglen;
		if (d->arglen == 0 || d->arg[d->arglen - 1] != '\n') {
			memcpy(buf + n, "\r\n", 2);
			n += 2;
		}
		logf_("conn %d: > %s", c->num, show(buf, n));
		if (conn_write(c, buf, n) < 0)
			return gone(c, d, "reply");
		return STEP_NEXT;
	}
	case OP_EXPECT:
	case OP_MAYBE_EXPECT:

		if (!conn_readline(c)) {
			if (d->op == OP_MAYBE_EXPECT)
				return gone(c, d, "maybe_expect");
			fail(d->lineno, "expected a line containing \"%s\", but the client closed",
			     show(d->arg, d->arglen));
		}
		/* Commands are case-insensitive in both protocols. */
		if (!ci_contains(c->last, c->last_len, d->arg, d->arglen)) {
			char got[LOG_SHOW_MAX * 4 + 8];

			snprintf(got, sizeof(got), "%s", show(c->last, c->last_len));
			fail(d->lineno, "expected a line containing \"%s\", got \"%s\"",
			     show(d->arg, d->arglen), got);
		}
		return STEP_NEXT;
	case OP_READLINE:
		if (!conn_readline(c))
			return gone(c, d, "readline");
		return STEP_NEXT;
	case OP_SLEEP:
		sleep_ms(d->n);
		return STEP_NEXT;
	case OP_TRICKLE:
		logf_("conn %d: trickle %ldms/byte: %s", c->num, d->n, show(d->arg, d->arglen));
		for (size_t i = 0; i < d->arglen; i++) {
			if (conn_write(c, d->arg + i, 1) < 0)
				return gone(c, d, "trickle");
			if (i + 1 < d->arglen)
				sleep_ms(d->n);
		}
		return STEP_NEXT;
	case OP_PIECES: {
		/*
		 * No Nagle: each piece leaves as its own TCP segment (its own
		 * TLS record under TLS), as from a server that writes a line in
		 * several calls over a slow path.
		 */
		int one = 1;
		size_t at = 0;

		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		logf_("conn %d: %ld pieces, %ld ms apart: %s", c->num, d->n, d->n2,
		      show(d->arg, d->arglen));
		for (long i = 0; i < d->n; i++) {
			size_t end = d->arglen * (size_t)(i + 1) / (size_t)d->n;

			if (conn_write(c, d->arg + at, end - at) < 0)
				return gone(c, d, "pieces");
			at = end;
			if (i + 1 < d->n)
				sleep_ms(d->n2);
		}
		return STEP_NEXT;
	}
	case OP_FLOOD:
	case OP_GARBAGE:
		logf_("conn %d: %s %ld bytes", c->num, d->op == OP_FLOOD ? "flood" : "garbage",
		      d->n);
		if (send_bulk(c, d) < 0)
			return STEP_END;
		return STEP_NEXT;
	case OP_TLS:
		logf_("conn %d: TLS handshake", c->num);
		if (do_tls(c, ctx) < 0)
			return STEP_END;
		return STEP_NEXT;
	case OP_TLS_STALL: {
		char buf[4096];
		ssize_t n;
		long total = 0;

		/* Take the ClientHello and every later byte, answer nothing. */
		while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0 || (n < 0 && errno == EINTR)) {
			if (n > 0 && total == 0)
				logf_("conn %d: tls_stall: got %zd bytes (ClientHello%s), not "
				      "answering",
				      c->num, n, buf[0] == 0x16 ? "" : "? not a handshake record");
			total += n > 0 ? n : 0;
		}
		logf_("conn %d: tls_stall: client closed after %ld bytes", c->num, total);
		return STEP_END;
	}
	case OP_CLOSE:
		logf_("conn %d: close", c->num);
		conn_close(c);
		return STEP_END;
	case OP_RESET: {
		struct linger lg = {1, 0};

		logf_("conn %d: reset", c->num);
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		conn_free(c);
		return STEP_END;
	}
	case OP_WAIT_CLOSE: {
		int64_t t0 = now_ms();
		int lines = 0;

		while (conn_readline(c))
			lines++;
		logf_("conn %d: client closed after %d more lines, %lld ms", c->num, lines,
		      (long long)(now_ms() - t0));
		return STEP_END;
	}
	}
	return STEP_NEXT;
}

static void serve(const struct scenario *s, SSL_CTX *ctx, int fd, int num)
{
	struct conn c = {.fd = fd, .num = num, .rng = 0x2545f491u};
	size_t i = 0;

	if (s->implicit_tls) {
		logf_("conn %d: implicit TLS handshake", num);
		if (do_tls(&c, ctx) < 0) {
			conn_close(&c);
			return;
		}
	}
	for (; i < s->nd; i++)
		if (run_directive(&c, ctx, &s->d[i]) == STEP_END)
			break;
	if (i == s->nd)
		logf_("conn %d: end of scenario", num);
	conn_close(&c);
}

static void on_alarm(int sig)
{
	static const char msg[] = "fakesrv: lifetime over, exiting\n";

	(void)sig;
	/* Only async-signal-safe calls here. */
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(3);
}

static void usage(void)
{
	fputs("usage: fakesrv [--port-file FILE] [--port N] [--bind ADDR] [--certs DIR]\n"
	      "               [--max-conns N]\n"
	      "               [--lifetime SECONDS] SCENARIO\n",
	      stderr);
	exit(1);
}

static void write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *f;

	/* Written aside and renamed, so a reader never sees half a number. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		die("%s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *certs = NULL, *path = NULL;
	/* Another loopback address (127.0.0.2) is a second backend behind one name. */
	const char *bind_addr = "127.0.0.1";
	long max_conns = 1, lifetime = 30;
	long port =
	    0; /* 0: ephemeral; a fixed port lets a test stop and restart "the same" server */
	/* static: lives until exit, and LeakSanitizer counts it reachable */
	static struct scenario s;
	struct sockaddr_in sa = {0};
	socklen_t salen = sizeof(sa);
	SSL_CTX *ctx;
	int lfd, one = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-') {
			if (path)
				usage();
			path = a;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(a, "--port-file") == 0)
			port_file = argv[++i];
		else if (strcmp(a, "--port") == 0)
			port = strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--certs") == 0)
			certs = argv[++i];
		else if (strcmp(a, "--bind") == 0)
			bind_addr = argv[++i];
		else if (strcmp(a, "--max-conns") == 0)
			max_conns = strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--lifetime") == 0)
			lifetime = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (!path || max_conns < 1 || lifetime < 1 || port < 0 || port > 65535)
		usage();
	scn_path = path;
	parse_scenario(&s, path, certs);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)lifetime);

	ctx = make_ctx(&s);
	for (size_t i = 0; i < s.nd; i++)
		if (s.d[i].op == OP_TLS && !s.cert)
			die("%s:%d: tls needs a cert", path, s.d[i].lineno);
	if (s.implicit_tls && !s.cert)
		die("%s: implicit_tls needs a cert", path);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_family = AF_INET;
	if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1)
		die("--bind %s: not an IPv4 address", bind_addr);
	sa.sin_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 16) != 0)
		die("bind/listen: %s", strerror(errno));
	if (getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
		die("getsockname: %s", strerror(errno));
	logf_("listening on %s:%u, %s, %ld connection(s), lifetime %lds", bind_addr,
	      ntohs(sa.sin_port), path, max_conns, lifetime);
	if (port_file)
		write_port_file(port_file, ntohs(sa.sin_port));

	for (long n = 1; n <= max_conns; n++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR) {
				n--;
				continue;
			}
			die("accept: %s", strerror(errno));
		}
		logf_("conn %ld: accepted", n);
		serve(&s, ctx, fd, (int)n);
	}
	logf_("done");
	close(lfd);
	SSL_CTX_free(ctx);
	return 0;
}
