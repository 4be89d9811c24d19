/* SPDX-License-Identifier: ISC */
/*
 * probe.c - `mailpulse probe`: wiring only. A node's settings from its flags
 * and/or a YAML file (conf/probe.h; a flag given beside -c adds to or
 * overrides the file), the node on one event loop, SIGTERM/SIGINT stop it
 * with the spool written.
 */
#include "cmd/probe.h"

#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/probe.h"
#include "core/log.h"
#include "node/node.h"

#ifndef MAILPULSE_VERSION
#define MAILPULSE_VERSION "unknown"
#endif

static void usage(FILE *f)
{
	fputs("Usage: mailpulse probe --controller URL --name NODE --token-file FILE [OPTION]...\n"
	      "       mailpulse probe -c FILE [OPTION]...\n"
	      "\n"
	      "Run a probing node: pull the checks that name NODE in their locations from the\n"
	      "controller (mailpulse run with nodes: configured), probe them, and push the\n"
	      "results back over HTTPS. Cut off from the controller, the node keeps probing\n"
	      "and keeps its results in the spool until the controller is back.\n"
	      "\n"
	      "Options (each also a key of the -c file, with _ for -):\n"
	      "  -c, --config FILE      the node's settings as YAML\n"
	      "      --controller URL   https://HOST:PORT of a controller; repeat for more,\n"
	      "                         tried in turn when one fails\n"
	      "      --name NODE        this node's name: the location its results are for\n"
	      "      --token-file FILE  this node's bearer token (mode 0600)\n"
	      "      --ca-file FILE     trust for the controller's certificate (a private CA)\n"
	      "      --spool FILE       keep results here until the controller has them\n"
	      "                         (default: in memory, lost when the node stops)\n"
	      "      --spool-max N      results the spool keeps; beyond, the oldest are\n"
	      "                         dropped (default 100000)\n"
	      "      --canary URL       an imap(s):// or pop3(s):// server that should always\n"
	      "                         answer; repeatable (the controller is always one)\n"
	      "      --max-in-flight N  probes at once (default 256)\n"
	      "      --log-format text|json\n"
	      "  -v, --verbose          debug logging\n"
	      "  -h, --help             show this help\n"
	      "\n"
	      "Signals: SIGTERM and SIGINT stop the node; the spool keeps what was not sent.\n"
	      "SIGHUP is logged and ignored.\n"
	      "See mailpulse(1), PROBING NODES, and docs/nodes.md.\n",
	      f);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP) {
		/* Its checks come from the controller, which it asks again on any change. */
		log_msg(LOG_NOTICE, "node: SIGHUP: nothing to reload (settings are read at start)");
		return;
	}
	log_msg(LOG_NOTICE, "node: stopping on signal %d", (int)sig);
	event_base_loopbreak(arg);
}

int probe_main(int argc, char **argv)
{
	enum {
		O_CONTROLLER = 256,
		O_NAME,
		O_TOKEN,
		O_CA,
		O_SPOOL,
		O_SPOOL_MAX,
		O_CANARY,
		O_MIF,
		O_LOG
	};
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"controller", required_argument, NULL, O_CONTROLLER},
	    {"name", required_argument, NULL, O_NAME},
	    {"token-file", required_argument, NULL, O_TOKEN},
	    {"ca-file", required_argument, NULL, O_CA},
	    {"spool", required_argument, NULL, O_SPOOL},
	    {"spool-max", required_argument, NULL, O_SPOOL_MAX},
	    {"canary", required_argument, NULL, O_CANARY},
	    {"max-in-flight", required_argument, NULL, O_MIF},
	    {"log-format", required_argument, NULL, O_LOG},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const keys[] = {
	    [O_CONTROLLER - O_CONTROLLER] = "controller",
	    [O_NAME - O_CONTROLLER] = "name",
	    [O_TOKEN - O_CONTROLLER] = "token_file",
	    [O_CA - O_CONTROLLER] = "ca_file",
	    [O_SPOOL - O_CONTROLLER] = "spool",
	    [O_SPOOL_MAX - O_CONTROLLER] = "spool_max",
	    [O_CANARY - O_CONTROLLER] = "canary",
	    [O_MIF - O_CONTROLLER] = "max_in_flight",
	};
	struct probe_conf *pc = probe_conf_new();
	const char *file = NULL;
	enum log_format lf = LOG_TEXT;
	int verbose = 0, ch, bad = 0, rc = 0;
	double scale = 1.0;
	char err[1024];

	if (!pc) {
		fprintf(stderr, "mailpulse probe: out of memory\n");
		return 1;
	}
	/* The file first, so flags beside it override or add to it. */
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		if (ch == 'c')
			file = optarg;
		else if (ch == 'h') {
			usage(stdout);
			probe_conf_free(pc);
			return 0;
		} else if (ch == '?') {
			usage(stderr);
			probe_conf_free(pc);
			return 3;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mailpulse probe: unexpected argument '%.64s'\n", argv[optind]);
		probe_conf_free(pc);
		return 3;
	}
	if (file && probe_conf_load(pc, file, stderr) != 0) {
		probe_conf_free(pc);
		return 3;
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		if (ch == 'v') {
			verbose = 1;
		} else if (ch == O_LOG) {
			if (strcmp(optarg, "json") == 0)
				lf = LOG_JSON;
			else if (strcmp(optarg, "text") == 0)
				lf = LOG_TEXT;
			else {
				fprintf(
				    stderr,
				    "mailpulse probe: --log-format: '%.32s' is not text or json\n",
				    optarg);
				bad = 1;
			}
		} else if (ch >= O_CONTROLLER && ch <= O_MIF) {
			if (probe_conf_set(pc, keys[ch - O_CONTROLLER], optarg, err, sizeof(err)) !=
			    0) {
				fprintf(stderr, "mailpulse probe: %s\n", err);
				bad = 1;
			}
		}
	}
	if (bad || probe_conf_finish(pc, stderr) != 0) {
		probe_conf_free(pc);
		return 3;
	}
	log_init(lf, verbose);
	signal(SIGPIPE, SIG_IGN);
	const char *ts = getenv("MAILPULSE_TIME_SCALE");
	if (ts && *ts) {
		char *end;
		double v = strtod(ts, &end);
		if (*end || !(v > 0 && v <= 1)) {
			log_msg(LOG_ERR, "MAILPULSE_TIME_SCALE=%.32s: expected 0 < F <= 1", ts);
			probe_conf_free(pc);
			return 3;
		}
		scale = v;
		log_msg(LOG_WARNING,
		        "MAILPULSE_TIME_SCALE=%g: schedule runs %g times faster (tests only)", v,
		        1 / v);
	}
	struct event_base *base = event_base_new();
	struct event *ev_term = base ? evsignal_new(base, SIGTERM, on_signal, base) : NULL;
	struct event *ev_int = base ? evsignal_new(base, SIGINT, on_signal, base) : NULL;
	struct event *ev_hup = base ? evsignal_new(base, SIGHUP, on_signal, base) : NULL;
	struct node *n = NULL;

	if (!base || !ev_term || !ev_int || !ev_hup || event_add(ev_term, NULL) ||
	    event_add(ev_int, NULL) || event_add(ev_hup, NULL)) {
		log_msg(LOG_ERR, "cannot create the event loop");
		rc = 1;
	} else if (!(n = node_new(base, pc, scale, err, sizeof(err)))) {
		log_msg(LOG_ERR, "%s", err);
		rc = 1;
	} else {
		log_msg(LOG_NOTICE, "mailpulse %s probing as node %s for %s%s, spool %s",
		        MAILPULSE_VERSION, pc->name, pc->controller[0],
		        pc->ncontrollers > 1 ? " (and more)" : "",
		        pc->spool ? pc->spool : "(memory)");
		event_base_dispatch(base);
		if (node_free(n) != 0)
			rc = 1;
		log_msg(LOG_NOTICE, "node: stopped");
	}
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (ev_hup)
		event_free(ev_hup);
	if (base)
		event_base_free(base);
	probe_conf_free(pc);
	return rc;
}
