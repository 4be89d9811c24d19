/* SPDX-License-Identifier: ISC */
/*
 * spool.h - a probing node's outbox: every result it makes waits here, in
 * the order it was made, until the controller has acknowledged it. A
 * bounded SQLite file, so a node cut off from its controller keeps probing
 * and replays later with the original timestamps, and a node restart does
 * not lose what was waiting.
 *
 * The bound: at most max results wait. When a new one would exceed it, the
 * oldest waiting are dropped first (the newest say most about now) and
 * counted in spool_dropped(); the caller logs and reports that.
 *
 * Each result gets an id, strictly increasing over the file's life, even
 * across restarts and drops, and starting no lower than the clock in
 * microseconds when a file is opened: the node sends it as the result's
 * seq, and the controller uses it to tell a result sent twice from a new
 * one.
 * Writes are buffered and made durable by spool_flush() in one
 * transaction, so the loop pays one fsync per flush, not per result.
 */
#ifndef MP_SPOOL_H
#define MP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/*
 * Open (creating) the spool at path, or one in memory when path is NULL.
 * NULL with err filled ("spool PATH: ...") when it cannot be opened or is
 * not a spool.
 */
struct spool *spool_open(const char *path, uint64_t max, char *err, size_t errlen);
/* Flush, close, free. */
void spool_close(struct spool *s);

/*
 * The id the next result will get: the caller puts it in the result's
 * meta.seq before encoding it, then spool_add()s the text with that id.
 */
uint64_t spool_next_id(const struct spool *s);
/*
 * Add one encoded result (probe time probe_ms) under id (from
 * spool_next_id(); ids must increase). Buffered until spool_flush().
 * 0, or -1 when out of memory.
 */
int spool_add(struct spool *s, uint64_t id, int64_t probe_ms, const char *text, size_t len);
/*
 * Write what spool_add() buffered in one transaction, dropping the oldest
 * beyond the bound. 0, or -1 with err (the buffer is kept to try again).
 */
int spool_flush(struct spool *s, char *err, size_t errlen);

/*
 * The oldest waiting results with ids in (after, upto], at most n of them
 * and at most bytes of text (always at least one), in order: cb for each.
 * Includes what is still buffered. Returns how many were passed, or -1
 * with err.
 */
typedef void (*spool_row_cb)(uint64_t id, int64_t probe_ms, const char *text, size_t len,
                             void *arg);
int spool_peek(struct spool *s, uint64_t after, uint64_t upto, size_t n, size_t bytes,
               spool_row_cb cb, void *arg, char *err, size_t errlen);
/*
 * The controller has every result with an id in [lo, hi]: they leave the
 * spool (a node sending two lanes acks each batch's own range). 0, or -1
 * with err, also when hi was never handed out.
 */
int spool_ack_range(struct spool *s, uint64_t lo, uint64_t hi, char *err, size_t errlen);
/* spool_ack_range(s, 0, id, ...): every result up to id. */
int spool_ack(struct spool *s, uint64_t id, char *err, size_t errlen);

/*
 * Beside the results, the node's last assignment list (without passwords:
 * see node.c), so that a node restarted while its controller is away goes
 * on probing what it was given. keep replaces it (one transaction); load
 * passes it to cb (NULL, 0 when none is kept). 0, or -1 with err.
 */
int spool_keep_assignments(struct spool *s, const char *text, size_t len, char *err, size_t errlen);
typedef void (*spool_text_cb)(const char *text, size_t len, void *arg);
int spool_load_assignments(struct spool *s, spool_text_cb cb, void *arg, char *err, size_t errlen);

uint64_t spool_depth(const struct spool *s);    /* waiting, buffered included */
uint64_t spool_dropped(const struct spool *s);  /* dropped to the bound since open */
int64_t spool_oldest_ms(const struct spool *s); /* probe time of the oldest waiting; 0: none */
uint64_t spool_first_id(const struct spool *s); /* id of the oldest waiting; 0: none */
uint64_t spool_max(const struct spool *s);

#endif
