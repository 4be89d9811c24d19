/* SPDX-License-Identifier: ISC */
/*
 * log.h - the daemon's log: one line per event on stderr.
 *
 * Text lines carry a syslog level prefix ("<4>") when stderr goes to the
 * journal (systemd sets JOURNAL_STREAM), so journald keeps the level; on a
 * terminal they read "2026-11-23T14:00:00Z warning: ...". With
 * log_init(LOG_JSON) each line is a JSON object {"ts","level","msg"}.
 *
 * Callers never pass credentials; messages from servers are already
 * escaped by the probe. Not thread-safe (one loop).
 */
#ifndef MP_LOG_H
#define MP_LOG_H

enum log_format { LOG_TEXT, LOG_JSON };
enum log_level { LOG_ERR = 3, LOG_WARNING = 4, LOG_NOTICE = 5, LOG_INFO = 6, LOG_DEBUG = 7 };

void log_init(enum log_format fmt, int verbose);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
