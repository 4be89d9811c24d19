/* SPDX-License-Identifier: ISC */
/*
 * command.h - one run of a command channel's program: no shell, the input
 * on stdin, stdout and stderr kept (bounded) for the detail, a deadline
 * that kills its whole process group. Internal to src/notify.
 *
 * A struct command is made by command_start() and freed by command.c
 * itself just before its callback runs, or by command_kill().
 */
#ifndef MP_NOTIFY_COMMAND_H
#define MP_NOTIFY_COMMAND_H

#include <stddef.h>

struct event_base;
struct command;

/*
 * How the run ended: ok (exit 0), retryable (worth another attempt), and a
 * one-line detail, escaped. Called once, from the loop; the command is
 * already freed.
 */
typedef void (*command_done_cb)(int ok, int retryable, const char *detail, void *arg);

/*
 * Run argv (argv[0] an absolute path) with input[0..len) on stdin. input
 * must stay valid until the callback or command_kill(). Returns the run,
 * or NULL with the reason in err (no fork happened, or the child was
 * stopped again); the callback is then never called.
 */
struct command *command_start(struct event_base *base, char *const argv[], const char *input,
                              size_t len, unsigned timeout_ms, command_done_cb cb, void *arg,
                              char *err, size_t errlen);

/* Kill the child's group and reap it now (it returns at once after SIGKILL); no callback. */
void command_kill(struct command *c);

#endif
