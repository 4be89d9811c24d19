/*
 * daemon.h - `mailpulse run -c FILE`: config, store, scheduler, notify,
 * signals, clean stop.
 */
#ifndef MP_DAEMON_H
#define MP_DAEMON_H

/* argv[0] is "run". Returns the process exit code. */
int daemon_main(int argc, char **argv);

#endif
