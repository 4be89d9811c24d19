/* SPDX-License-Identifier: ISC */
/*
 * run.h - `mailpulse run -c FILE`: the daemon.
 */
#ifndef MP_CMD_RUN_H
#define MP_CMD_RUN_H

/* argv[0] is "run". Returns the process exit code. */
int run_main(int argc, char **argv);

#endif
