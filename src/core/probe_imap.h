/* SPDX-License-Identifier: ISC */
/*
 * probe_imap.h - the IMAP protocol core: an explicit state machine that turns
 * server lines into a result and commands. No I/O; see proto.h.
 */
#ifndef MP_PROBE_IMAP_H
#define MP_PROBE_IMAP_H

#include "core/proto.h"

extern const struct proto_ops imap_ops;

#endif
