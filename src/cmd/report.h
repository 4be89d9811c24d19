/* SPDX-License-Identifier: ISC */
/*
 * report.h - the commands that read the store: `mailpulse status`,
 * `history NAME`, `uptime NAME`, `incidents`, each with --json.
 */
#ifndef MP_REPORT_H
#define MP_REPORT_H

/* argv[0] is "status", "history", "uptime" or "incidents". Returns the exit code. */
int report_main(int argc, char **argv);

#endif
