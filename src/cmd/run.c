/* SPDX-License-Identifier: ISC */
/*
 * run.c - `mailpulse run -c FILE`: wiring only. The monitor (checks, their
 * state, the store, alerts) and the HTTP server on one event loop; SIGHUP
 * reloads both, SIGTERM/SIGINT stop cleanly; the one-second and hourly
 * timers drive the monitor's upkeep; systemd hears of readiness.
 */
#include "cmd/run.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/log.h"
#include "engine/probe.h"
#include "http/http.h"
#include "monitor/monitor.h"

#define DEFAULT_CONF "/etc/mailpulse/mailpulse.yaml"
/* On SIGTERM, how long deliveries in flight may take before they are abandoned. */
#define STOP_GRACE_MS     5000
#define RETENTION_EVERY_S 3600

/* The daemon's parts, made and freed by run_main(). */
struct run_daemon {
	struct event_base *base;
	struct monitor *mo;
	struct http *http;
	const char *conf_path;
	struct event *ev_hup, *ev_term, *ev_int, *ev_flush, *ev_retention, *ev_stop;
	int64_t stop_deadline_us;
};

/* libevent's own messages (a nameserver that stopped answering...) at debug level: probes report
 * them. */
static void libevent_log(int severity, const char *msg)
{
	log_msg(severity >= EVENT_LOG_ERR ? LOG_ERR : LOG_DEBUG, "libevent: %s", msg);
}

/* systemd readiness (Type=notify): one datagram to $NOTIFY_SOCKET, if any. */
static void sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
	close(fd);
}

/* Load path, logging every error line. NULL when invalid. */
static struct conf *load_conf(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *errs = open_memstream(&buf, &len);
	struct conf *c = NULL;

	if (!errs)
		return NULL;
	int rc = conf_load(path, &c, errs);
	fclose(errs);
	if (rc != 0) {
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
			log_msg(LOG_ERR, "%s", line);
		c = NULL;
	}
	free(buf);
	return c;
}

static void reload(struct run_daemon *rn)
{
	sd_notify_msg("RELOADING=1");
	log_msg(LOG_NOTICE, "reloading %s", rn->conf_path);
	struct conf *nc = load_conf(rn->conf_path);
	if (!nc) {
		log_msg(LOG_ERR, "reload refused: the running configuration stays");
		sd_notify_msg("READY=1");
		return;
	}
	/*
	 * The HTTP part first: it is the one that can fail (the new address is
	 * taken), and a reload applies all of the file or none of it, so a
	 * token added in the same edit never waits behind the old listener.
	 */
	int want_http = nc->listen && strcmp(nc->listen, "off") != 0;
	char herr[256];
	int hrc = 0;
	if (want_http && rn->http)
		hrc = http_reconfigure(rn->http, nc, herr, sizeof(herr));
	else if (want_http && !(rn->http = http_start(rn->base, rn->mo, nc, herr, sizeof(herr))))
		hrc = -1;
	if (hrc != 0) {
		log_msg(LOG_ERR,
		        "reload refused: %s; the running configuration stays, all of it (checks, "
		        "listener, token, limits)",
		        herr);
		conf_unref(nc);
		sd_notify_msg("READY=1");
		return;
	}
	monitor_reload(rn->mo, nc);
	if (rn->http && !want_http) {
		http_free(rn->http);
		rn->http = NULL;
		log_msg(LOG_NOTICE, "http: stopped (listen: off)");
	}
	sd_notify_msg("READY=1");
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct run_daemon *rn = arg;

	(void)fd;
	(void)what;
	monitor_tick(rn->mo);
}

static void on_retention(evutil_socket_t fd, short what, void *arg)
{
	struct run_daemon *rn = arg;

	(void)fd;
	(void)what;
	monitor_retention(rn->mo);
}

static void on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct run_daemon *rn = arg;

	(void)fd;
	(void)what;
	if (monitor_notify_pending(rn->mo) == 0 || mp_now_us() >= rn->stop_deadline_us)
		event_base_loopbreak(rn->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run_daemon *rn = arg;

	(void)what;
	if (sig == SIGHUP && rn->ev_stop) {
		/* Stopping: the scheduler is gone, and the next start reads the file anyway. */
		log_msg(LOG_NOTICE, "reload ignored: stopping");
		return;
	}
	if (sig == SIGHUP) {
		reload(rn);
		return;
	}
	if (rn->ev_stop) {
		event_base_loopbreak(rn->base); /* a second signal: stop now */
		return;
	}
	sd_notify_msg("STOPPING=1");
	log_msg(LOG_NOTICE, "stopping on signal %d: no new probes; %d notification(s) pending",
	        (int)sig, monitor_notify_pending(rn->mo));
	/* Probes in flight are cancelled; queued rows are written at the end. */
	http_free(rn->http);
	rn->http = NULL;
	monitor_stop_probes(rn->mo);
	rn->stop_deadline_us = mp_now_us() + (int64_t)STOP_GRACE_MS * 1000;
	rn->ev_stop = event_new(rn->base, -1, EV_PERSIST, on_stop_tick, rn);
	struct timeval tv = {0, 100000};
	if (!rn->ev_stop || event_add(rn->ev_stop, &tv) != 0)
		event_base_loopbreak(rn->base);
}

static void usage(FILE *f)
{
	fputs("Usage: mailpulse run [-c FILE] [--log-format text|json] [-v]\n"
	      "\n"
	      "Run the monitoring daemon: probe every configured check on its interval,\n"
	      "keep history in the store, track up/degraded/down with confirmation, open\n"
	      "and close incidents, and send notifications.\n"
	      "\n"
	      "  -c, --config FILE      configuration (default " DEFAULT_CONF ")\n"
	      "      --log-format FMT   text (default; level prefixes under systemd) or json\n"
	      "  -v, --verbose          also log every probe result\n"
	      "  -h, --help             show this help\n"
	      "\n"
	      "Signals: SIGHUP reloads the configuration (a bad file is refused and the\n"
	      "running one stays); SIGTERM and SIGINT stop after writing everything queued\n"
	      "(the last line says how many rows were written and lost; exit 1 if any were).\n"
	      "One daemon per store: a second one on the same store refuses to start.\n"
	      "Environment: MAILPULSE_TIME_SCALE=F (0 < F <= 1) runs the scheduler F times\n"
	      "faster, for tests and labs only.\n"
	      "See mailpulse(1) and mailpulse.conf(5).\n",
	      f);
}

/*
 * Probes, the store, notifications and HTTP connections all take
 * descriptors, and the usual soft limit is 1024: raise it to the hard
 * limit once, at start, and say what we have (http.c sizes its caps by it).
 */
static void raise_nofile(void)
{
	struct rlimit rl;
	unsigned long long was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_msg(LOG_WARNING, "open files limit unknown: %s", strerror(errno));
		return;
	}
	was = (unsigned long long)rl.rlim_cur;
	if (rl.rlim_cur == rl.rlim_max) {
		log_msg(LOG_NOTICE, "open files: up to %llu (the hard limit)", was);
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_msg(LOG_WARNING,
		        "open files: up to %llu; raising it to the hard limit failed: %s", was,
		        strerror(errno));
		return;
	}
	log_msg(LOG_NOTICE, "open files: up to %llu (raised from %llu to the hard limit)",
	        (unsigned long long)rl.rlim_cur, was);
}

/* The one teardown, in order. Returns code, or 1 when a clean stop lost rows. */
static int run_teardown(struct run_daemon *rn, int code)
{
	http_free(rn->http);
	rn->http = NULL;
	if (rn->mo && monitor_free(rn->mo, code == 0) != 0 && code == 0)
		code = 1;
	rn->mo = NULL;
	struct event *evs[] = {rn->ev_hup,   rn->ev_term,      rn->ev_int,
	                       rn->ev_flush, rn->ev_retention, rn->ev_stop};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (rn->base)
		event_base_free(rn->base);
	return code;
}

int run_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"log-format", required_argument, NULL, 'L'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct run_daemon rn;
	enum log_format lf = LOG_TEXT;
	int verbose = 0, ch;
	double scale = 1.0;
	char err[256];

	memset(&rn, 0, sizeof(rn));
	rn.conf_path = DEFAULT_CONF;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			rn.conf_path = optarg;
			break;
		case 'L':
			if (strcmp(optarg, "json") == 0)
				lf = LOG_JSON;
			else if (strcmp(optarg, "text") == 0)
				lf = LOG_TEXT;
			else {
				fprintf(
				    stderr,
				    "mailpulse run: --log-format: '%.32s' is not text or json\n",
				    optarg);
				return 3;
			}
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 3;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mailpulse run: unexpected argument '%.64s'\n", argv[optind]);
		return 3;
	}
	log_init(lf, verbose);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	const char *ts = getenv("MAILPULSE_TIME_SCALE");
	if (ts && *ts) {
		char *end;
		double v = strtod(ts, &end);
		if (*end || !(v > 0 && v <= 1)) {
			log_msg(LOG_ERR, "MAILPULSE_TIME_SCALE=%.32s: expected 0 < F <= 1", ts);
			return 3;
		}
		scale = v;
		log_msg(LOG_WARNING,
		        "MAILPULSE_TIME_SCALE=%g: schedule runs %g times faster (tests only)", v,
		        1 / v);
	}

	struct conf *conf = load_conf(rn.conf_path);
	if (!conf)
		return 1;
	rn.base = event_base_new();
	if (!rn.base) {
		log_msg(LOG_ERR, "cannot create the event loop");
		conf_unref(conf);
		return 1;
	}
	/* Takes conf; says "store PATH: ..." or names the daemon that has the store. */
	rn.mo = monitor_new(rn.base, conf, scale, err, sizeof(err));
	if (!rn.mo) {
		log_msg(LOG_ERR, "%s", err);
		return run_teardown(&rn, 1);
	}
	event_set_log_callback(libevent_log); /* after the probe engine's, which sets its own */
	monitor_resume(rn.mo);
	conf = monitor_conf(rn.mo);

	rn.ev_hup = evsignal_new(rn.base, SIGHUP, on_signal, &rn);
	rn.ev_term = evsignal_new(rn.base, SIGTERM, on_signal, &rn);
	rn.ev_int = evsignal_new(rn.base, SIGINT, on_signal, &rn);
	rn.ev_flush = event_new(rn.base, -1, EV_PERSIST, on_flush, &rn);
	rn.ev_retention = event_new(rn.base, -1, EV_PERSIST, on_retention, &rn);
	struct timeval one_s = {1, 0}, hourly = {RETENTION_EVERY_S, 0};
	if (!rn.ev_hup || !rn.ev_term || !rn.ev_int || !rn.ev_flush || !rn.ev_retention ||
	    event_add(rn.ev_hup, NULL) || event_add(rn.ev_term, NULL) ||
	    event_add(rn.ev_int, NULL) || event_add(rn.ev_flush, &one_s) ||
	    event_add(rn.ev_retention, &hourly)) {
		log_msg(LOG_ERR, "cannot set up signals and timers");
		return run_teardown(&rn, 1);
	}
	event_active(rn.ev_retention, 0, 0); /* once at start, then hourly */
	if (conf->listen && strcmp(conf->listen, "off") != 0) {
		rn.http = http_start(rn.base, rn.mo, conf, err, sizeof(err));
		if (!rn.http) {
			log_msg(LOG_ERR, "%s", err);
			return run_teardown(&rn, 1);
		}
	}

	struct monitor_health h;
	monitor_health(rn.mo, &h);
	log_msg(LOG_NOTICE, "mailpulse %s running: %d checks, %d channels, store %s, location %s",
	        MAILPULSE_VERSION, h.checks, conf->nchannels, conf->store_path, conf->location);
	sd_notify_msg("READY=1");
	event_base_dispatch(rn.base);
	return run_teardown(&rn, 0);
}
