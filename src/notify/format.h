/* SPDX-License-Identifier: ISC */
/*
 * format.h - what each kind of channel is sent: the webhook's event JSON,
 * the chat services' payloads, PagerDuty's event, the e-mail message and
 * the command's stdin. Internal to src/notify; pure: no I/O, no state.
 */
#ifndef MP_NOTIFY_FORMAT_H
#define MP_NOTIFY_FORMAT_H

#include <stddef.h>

#include "notify/notify.h"

/*
 * The bytes ev becomes for ch: a JSON body (HTTP channels, and the
 * command's stdin) or an RFC 5322 message with CRLF line endings (e-mail).
 * malloc'ed, NUL-terminated, freed by the caller; NULL when out of memory,
 * or when ch takes no notification of ev's kind (notify_channel_takes():
 * PagerDuty and partial notices). PagerDuty's holds the routing key.
 */
char *format_payload(const struct notify_event *ev, const struct conf_channel *ch);

/* Lower-case hex of in[0..n) into out, which holds 2n+1 bytes. */
void format_hex(const unsigned char *in, size_t n, char *out);

#endif
