/* SPDX-License-Identifier: ISC */
/*
 * http_sink - an HTTP receiver for the notification tests.
 *
 * http_sink --port-file FILE --out FILE [--status CODE | --statuses A,B,C]
 *           [--delay-ms MS] [--body-bytes N] [--lifetime SECONDS]
 *
 * Listens on 127.0.0.1, an ephemeral port written to --port-file (renamed
 * into place, so a reader never sees half a number). Each request becomes
 * one JSON line in --out, written and flushed before the answer goes out:
 * {"method","path","headers":{lower-case name: value},"body"}. The n-th
 * request is answered with the n-th code of --statuses (the last one
 * repeats), with a body that echoes the path, so tests can check that a
 * client keeps the path out of what it logs, or with --body-bytes N, a
 * body of N bytes ("0123456789" repeated), for clients' bounds on what
 * they read. Exits after --lifetime
 * seconds (default 60). A test tool: exits on the first setup error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define STATUSES_MAX 32

struct sink {
	struct event_base *base;
	FILE *out;
	int statuses[STATUSES_MAX];
	int nstatuses;
	int nreq;
	long delay_ms;
};

/* A reply that waits for --delay-ms, to let tests run into client timeouts. */
struct pending {
	struct evhttp_request *req;
	struct event *ev;
	int code;
};

static void die(const char *msg) __attribute__((noreturn));
static void usage(void) __attribute__((noreturn));

static void die(const char *msg)
{
	fprintf(stderr, "http_sink: %s\n", msg);
	exit(1);
}

static void usage(void)
{
	fputs("usage: http_sink --port-file FILE --out FILE [--status CODE | --statuses A,B,C]\n"
	      "                 [--delay-ms MS] [--body-bytes N] [--lifetime SECONDS]\n",
	      stderr);
	exit(1);
}

static long body_bytes; /* --body-bytes: > 0, the reply body is this long instead of the echo */

static void reply(struct evhttp_request *req, int code)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		die("out of memory");
	if (body_bytes > 0) {
		for (long i = 0; i < body_bytes; i += 10)
			evbuffer_add(b, "0123456789",
			             (size_t)(body_bytes - i < 10 ? body_bytes - i : 10));
	} else {
		evbuffer_add_printf(b, "status %d for %s\n", code, evhttp_request_get_uri(req));
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

static void on_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	reply(p->req, p->code);
	event_free(p->ev);
	free(p);
}

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	default:
		return "OTHER";
	}
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct sink *s = arg;
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = (const char *)evbuffer_pullup(in, -1);
	json_t *o = json_object(), *h = json_object(), *jb;
	struct evkeyval *kv;
	char *line;
	int code;

	for (kv = TAILQ_FIRST(hdrs); kv; kv = TAILQ_NEXT(kv, next)) {
		char name[256];
		size_t i;
		for (i = 0; kv->key[i] && i < sizeof(name) - 1; i++)
			name[i] = (char)tolower((unsigned char)kv->key[i]);
		name[i] = '\0';
		json_object_set_new(h, name, json_string(kv->value));
	}
	jb = json_stringn(body ? body : "", len);
	json_object_set_new(o, "method", json_string(method_name(evhttp_request_get_command(req))));
	json_object_set_new(o, "path", json_string(evhttp_request_get_uri(req)));
	json_object_set_new(o, "headers", h);
	json_object_set_new(o, "body", jb ? jb : json_string("(not UTF-8)"));
	if (!(line = json_dumps(o, JSON_COMPACT)))
		die("cannot encode a request");
	fprintf(s->out, "%s\n", line);
	fflush(s->out);
	free(line);
	json_decref(o);

	code = s->statuses[s->nreq < s->nstatuses ? s->nreq : s->nstatuses - 1];
	s->nreq++;
	if (s->delay_ms > 0) {
		struct pending *p = calloc(1, sizeof(*p));
		struct timeval tv = {s->delay_ms / 1000, (s->delay_ms % 1000) * 1000};
		if (!p)
			die("out of memory");
		p->req = req;
		p->code = code;
		p->ev = evtimer_new(s->base, on_delayed, p);
		evtimer_add(p->ev, &tv);
		return;
	}
	reply(req, code);
}

static void on_lifetime(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static void parse_statuses(struct sink *s, const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;

	if (!copy)
		die("out of memory");
	s->nstatuses = 0;
	for (tok = strtok_r(copy, ",", &save); tok && s->nstatuses < STATUSES_MAX;
	     tok = strtok_r(NULL, ",", &save)) {
		int c = atoi(tok);
		if (c < 100 || c > 599)
			die("a status must be 100..599");
		s->statuses[s->nstatuses++] = c;
	}
	free(copy);
	if (s->nstatuses == 0)
		usage();
}

int main(int argc, char **argv)
{
	struct sink s = {.statuses = {200}, .nstatuses = 1};
	const char *port_file = NULL, *out = NULL;
	long lifetime = 60;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct event *life;
	struct timeval tv;
	char tmp[4096];
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--port-file"))
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--out"))
			out = argv[++i];
		else if (!strcmp(argv[i], "--status") || !strcmp(argv[i], "--statuses"))
			parse_statuses(&s, argv[++i]);
		else if (!strcmp(argv[i], "--delay-ms"))
			s.delay_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--body-bytes"))
			body_bytes = atol(argv[++i]);
		else if (!strcmp(argv[i], "--lifetime"))
			lifetime = atol(argv[++i]);
		else
			usage();
	}
	if (!port_file || !out)
		usage();
	if (!(s.out = fopen(out, "a")))
		die("cannot open --out");
	if (!(s.base = event_base_new()) || !(http = evhttp_new(s.base)))
		die("cannot set up libevent");
	evhttp_set_gencb(http, on_request, &s);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                     EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	if (!(bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)))
		die("cannot listen on 127.0.0.1");
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &slen) < 0)
		die("getsockname failed");
	snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
	if (!(f = fopen(tmp, "w")))
		die("cannot write --port-file");
	fprintf(f, "%d\n", ntohs(sin.sin_port));
	if (fclose(f) != 0 || rename(tmp, port_file) != 0)
		die("cannot write --port-file");

	life = evtimer_new(s.base, on_lifetime, s.base);
	tv.tv_sec = lifetime;
	tv.tv_usec = 0;
	evtimer_add(life, &tv);
	event_base_dispatch(s.base);
	event_free(life);
	evhttp_free(http);
	event_base_free(s.base);
	fclose(s.out);
	return 0;
}
