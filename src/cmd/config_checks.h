/* SPDX-License-Identifier: ISC */
/*
 * config_checks.h - `mailpulse config checks FILE`: the check names of a
 * configuration, one per line (shell completion, scripts).
 */
#ifndef MP_CONFIG_CHECKS_H
#define MP_CONFIG_CHECKS_H

/* argv[0] is "checks". Returns 0, 1 when the file is invalid, 3 on a usage error. */
int config_checks_main(int argc, char **argv);

#endif
