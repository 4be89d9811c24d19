/* SPDX-License-Identifier: ISC */
/*
 * probe_pop3.h - the POP3 protocol core: an explicit state machine that turns
 * server lines into a result and commands. No I/O; see proto.h.
 */
#ifndef MP_PROBE_POP3_H
#define MP_PROBE_POP3_H

#include "core/proto.h"

extern const struct proto_ops pop3_ops;

#endif
