/* SPDX-License-Identifier: ISC */
/*
 * config.h - `mailpulse config check [-v] FILE`.
 */
#ifndef MP_CMD_CONFIG_H
#define MP_CMD_CONFIG_H

/* argv[0] is "config": 0 valid, 1 invalid, 3 usage. */
int config_main(int argc, char **argv);

#endif
