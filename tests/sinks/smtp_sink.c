/* SPDX-License-Identifier: ISC */
/*
 * smtp_sink - a minimal SMTP server for the notification tests.
 *
 * smtp_sink --port-file FILE --out DIR [--cert FILE --key FILE]
 *           [--require-tls] [--auth USER:PASS] [--lifetime SECONDS]
 *
 * Listens on 127.0.0.1, an ephemeral port written to --port-file (renamed
 * into place). With a certificate it advertises STARTTLS and AUTH PLAIN
 * LOGIN; --require-tls refuses AUTH and MAIL before STARTTLS; --auth makes
 * other credentials fail with 535. Each message accepted becomes one file
 * DIR/msg-PID-N.json (renamed into place): {"helo", "mail_from", "rcpt_to",
 * "data" (dot-unstuffed, CRLF kept), "tls", "auth_user"}.
 *
 * Blocking code, one forked child per connection: simple, and a client
 * holding one connection open cannot stall the next. Exits after
 * --lifetime seconds (default 60); each connection gets 30 s at most.
 * A test tool: exits on the first setup error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define LINE_CAP     4096
#define DATA_CAP     (1024 * 1024)
#define CONN_SECONDS 30

struct conn {
	int fd;
	SSL *ssl;
	char buf[LINE_CAP * 2];
	size_t len;
	char helo[256];
	char user[256];
	int authed;
	char *mail_from;
	json_t *rcpt;
};

static SSL_CTX *ctx;
static int require_tls;
static const char *want_auth; /* "USER:PASS" or NULL */
static const char *outdir;
static int nmsg;

static void die(const char *msg) __attribute__((noreturn));
static void usage(void) __attribute__((noreturn));

static void die(const char *msg)
{
	fprintf(stderr, "smtp_sink: %s\n", msg);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void usage(void)
{
	fputs("usage: smtp_sink --port-file FILE --out DIR [--cert FILE --key FILE]\n"
	      "                 [--require-tls] [--auth USER:PASS] [--lifetime SECONDS]\n",
	      stderr);
	exit(1);
}

static void say(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct conn *c, const char *fmt, ...)
{
	char line[LINE_CAP];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || n > (int)sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	if (c->ssl ? SSL_write(c->ssl, line, n) != n
	           : send(c->fd, line, (size_t)n, MSG_NOSIGNAL) != n)
		exit(0);
}

/* One line without its CRLF (or LF); -1 at EOF or on a line over LINE_CAP. */
static int get_line(struct conn *c, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			size_t n = (size_t)(nl - c->buf), rest = c->len - n - 1;
			size_t k = n > 0 && c->buf[n - 1] == '\r' ? n - 1 : n;
			if (k >= cap)
				return -1;
			memcpy(line, c->buf, k);
			line[k] = '\0';
			memmove(c->buf, nl + 1, rest);
			c->len = rest;
			return (int)k;
		}
		if (c->len >= sizeof(c->buf))
			return -1;
		ssize_t r;
		if (c->ssl)
			r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
		else
			r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r <= 0) {
			if (r < 0 && !c->ssl && errno == EINTR)
				continue;
			return -1;
		}
		c->len += (size_t)r;
	}
}

static size_t b64_decode(const char *in, unsigned char *out, size_t cap)
{
	size_t n = strlen(in), pad = 0;
	int r;

	if (n == 0 || n % 4 || (n / 4) * 3 > cap)
		return 0;
	r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (r < 0)
		return 0;
	while (n > 0 && in[n - 1] == '=') {
		pad++;
		n--;
	}
	return (size_t)r - pad;
}

static void auth_result(struct conn *c, const char *user, const char *pass)
{
	char both[600];

	snprintf(both, sizeof(both), "%s:%s", user, pass);
	if (want_auth && strcmp(both, want_auth) != 0) {
		say(c, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	snprintf(c->user, sizeof(c->user), "%s", user);
	c->authed = 1;
	say(c, "235 2.7.0 Authentication successful");
}

static void auth_plain(struct conn *c, const char *ir)
{
	char line[LINE_CAP];
	unsigned char dec[LINE_CAP];
	size_t n;
	const char *user, *pass;

	if (!ir || !*ir) {
		say(c, "334 ");
		if (get_line(c, line, sizeof(line)) < 0)
			exit(0);
		ir = line;
	}
	n = b64_decode(ir, dec, sizeof(dec) - 1);
	dec[n] = '\0';
	/* authzid NUL authcid NUL passwd */
	user = memchr(dec, '\0', n);
	if (!n || !user || (size_t)(user - (const char *)dec) >= n) {
		say(c, "501 5.5.2 Cannot decode AUTH PLAIN");
		return;
	}
	user++;
	pass = user + strlen(user) + 1;
	if (pass > (const char *)dec + n) {
		say(c, "501 5.5.2 Cannot decode AUTH PLAIN");
		return;
	}
	auth_result(c, user, pass);
}

static void auth_login(struct conn *c)
{
	char line[LINE_CAP], user[300];
	unsigned char dec[LINE_CAP];
	size_t n;

	say(c, "334 VXNlcm5hbWU6");
	if (get_line(c, line, sizeof(line)) < 0)
		exit(0);
	n = b64_decode(line, dec, sizeof(dec) - 1);
	dec[n] = '\0';
	snprintf(user, sizeof(user), "%s", (const char *)dec);
	say(c, "334 UGFzc3dvcmQ6");
	if (get_line(c, line, sizeof(line)) < 0)
		exit(0);
	n = b64_decode(line, dec, sizeof(dec) - 1);
	dec[n] = '\0';
	auth_result(c, user, (const char *)dec);
}

static void save(struct conn *c, const char *data)
{
	char path[4096], tmp[4200], *text;
	json_t *o = json_object();
	FILE *f;

	json_object_set_new(o, "helo", json_string(c->helo));
	json_object_set_new(o, "mail_from", json_string(c->mail_from ? c->mail_from : ""));
	json_object_set(o, "rcpt_to", c->rcpt);
	json_object_set_new(o, "data", json_string(data));
	json_object_set_new(o, "tls", json_boolean(c->ssl != NULL));
	json_object_set_new(o, "auth_user", c->authed ? json_string(c->user) : json_null());
	if (!(text = json_dumps(o, JSON_COMPACT)))
		die("cannot encode a message (not UTF-8?)");
	snprintf(path, sizeof(path), "%s/msg-%d-%d.json", outdir, (int)getpid(), ++nmsg);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0)
		die("cannot write a message file");
	free(text);
	json_decref(o);
}

static void reset_tx(struct conn *c)
{
	free(c->mail_from);
	c->mail_from = NULL;
	json_array_clear(c->rcpt);
}

static void data(struct conn *c)
{
	char line[LINE_CAP];
	char *buf = malloc(DATA_CAP + 1);
	size_t len = 0;
	int n;

	if (!buf)
		die("out of memory");
	say(c, "354 End data with <CR><LF>.<CR><LF>");
	while ((n = get_line(c, line, sizeof(line))) >= 0) {
		const char *p = line;
		if (!strcmp(line, "."))
			break;
		if (*p == '.') /* RFC 5321 4.5.2 */
			p++, n--;
		if (len + (size_t)n + 2 <= DATA_CAP) {
			memcpy(buf + len, p, (size_t)n);
			len += (size_t)n;
			buf[len++] = '\r';
			buf[len++] = '\n';
		}
	}
	if (n < 0)
		exit(0);
	buf[len] = '\0';
	save(c, buf);
	free(buf);
	reset_tx(c);
	say(c, "250 2.0.0 Ok: queued");
}

static void serve(int fd)
{
	struct conn c = {.fd = fd};
	char line[LINE_CAP];

	c.rcpt = json_array();
	say(&c, "220 localhost ESMTP mailpulse smtp_sink");
	while (get_line(&c, line, sizeof(line)) >= 0) {
		char *arg = strchr(line, ' ');
		if (arg)
			*arg++ = '\0';
		if (!strcasecmp(line, "EHLO") || !strcasecmp(line, "HELO")) {
			snprintf(c.helo, sizeof(c.helo), "%s", arg ? arg : "");
			if (!strcasecmp(line, "HELO")) {
				say(&c, "250 localhost");
				continue;
			}
			say(&c, "250-localhost");
			if (ctx && !c.ssl)
				say(&c, "250-STARTTLS");
			if (ctx)
				say(&c, "250-AUTH PLAIN LOGIN");
			say(&c, "250-8BITMIME");
			say(&c, "250 SIZE 1048576");
		} else if (!strcasecmp(line, "STARTTLS") && ctx && !c.ssl) {
			say(&c, "220 2.0.0 Ready to start TLS");
			/* Anything sent before the handshake was injected in plaintext. */
			if (c.len)
				exit(0);
			if (!(c.ssl = SSL_new(ctx)) || !SSL_set_fd(c.ssl, fd) ||
			    SSL_accept(c.ssl) != 1)
				exit(0);
			/* RFC 3207: forget everything learned before TLS. */
			c.helo[0] = '\0';
			c.authed = 0;
			reset_tx(&c);
		} else if (!strcasecmp(line, "AUTH") && ctx) {
			char *mech = arg ? strtok(arg, " ") : NULL,
			     *ir = mech ? strtok(NULL, " ") : NULL;
			if (require_tls && !c.ssl)
				say(&c, "530 5.7.0 Must issue a STARTTLS command first");
			else if (c.authed)
				say(&c, "503 5.5.1 Already authenticated");
			else if (mech && !strcasecmp(mech, "PLAIN"))
				auth_plain(&c, ir);
			else if (mech && !strcasecmp(mech, "LOGIN"))
				auth_login(&c);
			else
				say(&c, "504 5.5.4 Unrecognized authentication type");
		} else if (!strcasecmp(line, "MAIL") && arg && !strncasecmp(arg, "FROM:", 5)) {
			if (require_tls && !c.ssl) {
				say(&c, "530 5.7.0 Must issue a STARTTLS command first");
				continue;
			}
			reset_tx(&c);
			c.mail_from = strndup(arg + 5, strcspn(arg + 5, " "));
			say(&c, "250 2.1.0 Ok");
		} else if (!strcasecmp(line, "RCPT") && arg && !strncasecmp(arg, "TO:", 3)) {
			if (!c.mail_from) {
				say(&c, "503 5.5.1 Need MAIL first");
				continue;
			}
			arg[3 + strcspn(arg + 3, " ")] = '\0';
			json_array_append_new(c.rcpt, json_string(arg + 3));
			say(&c, "250 2.1.5 Ok");
		} else if (!strcasecmp(line, "DATA")) {
			if (!c.mail_from || json_array_size(c.rcpt) == 0)
				say(&c, "503 5.5.1 Need RCPT first");
			else
				data(&c);
		} else if (!strcasecmp(line, "RSET")) {
			reset_tx(&c);
			say(&c, "250 2.0.0 Ok");
		} else if (!strcasecmp(line, "NOOP")) {
			say(&c, "250 2.0.0 Ok");
		} else if (!strcasecmp(line, "QUIT")) {
			say(&c, "221 2.0.0 Bye");
			break;
		} else {
			say(&c, "502 5.5.2 Command not recognized");
		}
	}
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	reset_tx(&c);
	json_decref(c.rcpt);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *cert = NULL, *key = NULL;
	long lifetime = 60;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char tmp[4096];
	FILE *f;
	int lfd, one = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--require-tls")) {
			require_tls = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--port-file"))
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--out"))
			outdir = argv[++i];
		else if (!strcmp(argv[i], "--cert"))
			cert = argv[++i];
		else if (!strcmp(argv[i], "--key"))
			key = argv[++i];
		else if (!strcmp(argv[i], "--auth"))
			want_auth = argv[++i];
		else if (!strcmp(argv[i], "--lifetime"))
			lifetime = atol(argv[++i]);
		else
			usage();
	}
	if (!port_file || !outdir || !cert != !key)
		usage();
	if (cert) {
		if (!(ctx = SSL_CTX_new(TLS_server_method())) ||
		    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
			die("cannot load --cert/--key");
	}

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket failed");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) < 0)
		die("cannot listen on 127.0.0.1");
	snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
	if (!(f = fopen(tmp, "w")))
		die("cannot write --port-file");
	fprintf(f, "%d\n", ntohs(sin.sin_port));
	if (fclose(f) != 0 || rename(tmp, port_file) != 0)
		die("cannot write --port-file");

	/* Children are never waited for; the default SIGALRM action is the lifetime. */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)lifetime);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pid_t pid;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept failed");
		}
		if ((pid = fork()) == 0) {
			close(lfd);
			alarm(CONN_SECONDS);
			serve(fd);
			_exit(0);
		}
		close(fd);
	}
}
