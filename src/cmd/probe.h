/* SPDX-License-Identifier: ISC */
/*
 * probe.h - `mailpulse probe`: a probing node (node/node.h).
 */
#ifndef MP_CMD_PROBE_H
#define MP_CMD_PROBE_H

/* argv[0] is "probe". Returns the process exit code. */
int probe_main(int argc, char **argv);

#endif
