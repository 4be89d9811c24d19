/*
 * daemon.h - `mailpulse run -c FILE`: config, store, scheduler, notify,
 * signals, clean stop.
 */
#ifndef MP_DAEMON_H
#define MP_DAEMON_H

#include <stddef.h>

/* argv[0] is "run". Returns the process exit code. */
int daemon_main(int argc, char **argv);

struct conf;
struct daemon;
struct event_base;

/*
 * For harnesses that drive the daemon's readers in-process (fuzz/fuzz_http.c):
 * the daemon of conf on base, as daemon_main() makes it (store, notifications,
 * scheduler, one item per check) without signals, timers, reloads or an HTTP
 * listener (the caller starts http_start() on it). time_scale stretches the
 * schedule as MAILPULSE_TIME_SCALE does, but any factor: a large one (1e6)
 * puts the first probes minutes to an hour away, so only what the caller
 * asks for (POST run) probes. Takes conf's reference, also on failure; NULL
 * with err filled. daemon_idle_free() frees it; base stays the caller's.
 */
struct daemon *daemon_idle_new(struct event_base *base, struct conf *conf, double time_scale,
                               char *err, size_t errlen);
void daemon_idle_free(struct daemon *d);

#endif
