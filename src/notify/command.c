/* SPDX-License-Identifier: ISC */
/*
 * command.c - command channels: the program runs with no shell, its stdin
 * a socket fed the input, stdout and stderr one pipe, in a process group of
 * its own so a timeout kills what it started too. Nothing here blocks the
 * loop but the reap after SIGKILL, which returns at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/line.h"
#include "notify/command.h"

#define COMMAND_OUTPUT_MAX 1024 /* stdout+stderr kept for the detail */
#define COMMAND_DETAIL_MAX 512
#define COMMAND_POLL_MS    20 /* how often a running child is checked for exit */

/* Made by command_start(); freed by command_exited() before its callback, or command_kill(). */
struct command {
	struct event_base *base;
	command_done_cb cb;
	void *arg;
	const char *input; /* the caller's, until the callback or command_kill() */
	size_t len;
	size_t off; /* bytes of input written */
	unsigned timeout_ms;
	pid_t pid;
	int in_fd;
	int out_fd;
	struct event *in_ev;
	struct event *out_ev;
	struct event *deadline;
	struct event *poll;
	char out[COMMAND_OUTPUT_MAX];
	size_t outlen;
	int timed_out;
};

/* event_free() refuses NULL; most of our events exist only part of the time. */
static void ev_clear(struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
}

static void command_close(struct command *c)
{
	ev_clear(&c->in_ev);
	ev_clear(&c->out_ev);
	ev_clear(&c->deadline);
	ev_clear(&c->poll);
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	c->in_fd = c->out_fd = -1;
}

static void command_drain(struct command *c)
{
	char scratch[4096];
	ssize_t k;

	if (c->out_fd < 0)
		return;
	for (;;) {
		size_t room = sizeof(c->out) - 1 - c->outlen;
		if (room > 0)
			k = read(c->out_fd, c->out + c->outlen, room);
		else
			k = read(c->out_fd, scratch, sizeof(scratch));
		if (k > 0) {
			if (room > 0)
				c->outlen += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 || errno != EAGAIN) {
			ev_clear(&c->out_ev);
			close(c->out_fd);
			c->out_fd = -1;
		}
		return;
	}
}

static void command_exited(struct command *c, int status, int lost)
{
	char detail[COMMAND_DETAIL_MAX], out[COMMAND_DETAIL_MAX / 2];
	int ok = 0, retryable = 1;
	size_t n;

	command_drain(c);
	/* Trailing newlines say nothing in a one-line detail. */
	n = c->outlen;
	while (n > 0 && (c->out[n - 1] == '\n' || c->out[n - 1] == '\r'))
		n--;
	if (n)
		line_escape(out, sizeof(out), c->out, n);
	else
		out[0] = '\0';
	command_close(c);
	c->pid = 0;

	if (c->timed_out) {
		snprintf(detail, sizeof(detail), "timed out after %u ms, killed%s%s", c->timeout_ms,
		         n ? ": " : "", out);
	} else if (lost) {
		snprintf(detail, sizeof(detail), "exit status lost (SIGCHLD ignored?)");
	} else if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);
		ok = code == 0;
		/* 126/127: the shell's "cannot execute" and "not found" do not heal. */
		retryable = code != 126 && code != 127;
		snprintf(detail, sizeof(detail), "exit %d%s%s", code, n ? ": " : "", out);
	} else if (WIFSIGNALED(status)) {
		snprintf(detail, sizeof(detail), "killed by signal %d%s%s", WTERMSIG(status),
		         n ? ": " : "", out);
	} else {
		snprintf(detail, sizeof(detail), "ended with status %d", status);
	}
	{
		command_done_cb cb = c->cb;
		void *arg = c->arg;

		free(c);
		cb(ok, retryable, detail, arg);
	}
}

/* Returns 1 when the child was reaped (and c freed, its callback called). */
static int command_reap(struct command *c)
{
	int status = 0;
	pid_t r;

	do
		r = waitpid(c->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	command_exited(c, status, r < 0);
	return 1;
}

static void on_command_out(evutil_socket_t fd, short what, void *arg)
{
	struct command *c = arg;

	(void)fd;
	(void)what;
	command_drain(c);
	/* EOF usually means the child is gone: look now rather than at the next poll. */
	if (c->out_fd < 0)
		command_reap(c);
}

static void on_command_in(evutil_socket_t fd, short what, void *arg)
{
	struct command *c = arg;
	ssize_t k;

	(void)what;
	while (c->off < c->len) {
		/* A socket, not a pipe: MSG_NOSIGNAL spares us SIGPIPE when the child ignores
		 * stdin. */
		k = send(fd, c->input + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			c->off += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		break; /* the child closed its stdin: not our failure to judge */
	}
	ev_clear(&c->in_ev);
	close(c->in_fd);
	c->in_fd = -1;
}

static void on_command_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct command *c = arg;

	(void)fd;
	(void)what;
	c->timed_out = 1;
	/* The whole process group: a shell's children must not outlive the budget. */
	kill(-c->pid, SIGKILL);
	kill(c->pid, SIGKILL);
}

static void on_command_poll(evutil_socket_t fd, short what, void *arg)
{
	struct command *c = arg;
	struct timeval tv = {0, COMMAND_POLL_MS * 1000};

	(void)fd;
	(void)what;
	if (!command_reap(c))
		evtimer_add(c->poll, &tv);
}

/* Keep our ends away from 0..2 so that the dup2s in the child cannot collide with them. */
static int fd_high(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* In the child after fork: async-signal-safe calls only, then exec or _exit. */
static void command_child(char *const argv[], int in, int out)
{
	static const char msg[] = "mailpulse: cannot execute ";
	const int reset[] = {SIGPIPE, SIGCHLD, SIGINT,  SIGQUIT, SIGTERM,
	                     SIGHUP,  SIGUSR1, SIGUSR2, SIGALRM};
	struct sigaction sa;
	sigset_t none;
	long maxfd;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (size_t k = 0; k < sizeof(reset) / sizeof(reset[0]); k++)
		sigaction(reset[k], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
		/* The daemon's sockets and database must not leak into the command. */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
	{
		maxfd = sysconf(_SC_OPEN_MAX);
		if (maxfd < 0 || maxfd > 65536)
			maxfd = 65536;
		for (int fd = 3; fd < maxfd; fd++)
			close(fd);
	}
	execvp(argv[0], argv);
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, argv[0], strlen(argv[0]));
	(void)!write(2, "\n", 1);
	_exit(127);
}

/*
 * Run argv with no shell: stdin a socket fed the event JSON, stdout and
 * stderr one pipe, in a process group of its own so a timeout kills what it
 * started too. The child is reaped by polling waitpid on a timer, not by a
 * SIGCHLD event: libevent lets only one base own signals, and the daemon's
 * base may want SIGCHLD for itself.
 */
struct command *command_start(struct event_base *base, char *const argv[], const char *input,
                              size_t len, unsigned timeout_ms, command_done_cb cb, void *arg,
                              char *err, size_t errlen)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, i;
	struct timeval tv;
	struct command *c;
	pid_t pid;

	if (!argv[0]) {
		snprintf(err, errlen, "no command configured");
		return NULL;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = base;
	c->cb = cb;
	c->arg = arg;
	c->input = input;
	c->len = len;
	c->timeout_ms = timeout_ms;
	c->in_fd = c->out_fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 || pipe(out) < 0) {
		snprintf(err, errlen, "cannot create pipes: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		in[i] = fd_high(in[i]);
		out[i] = fd_high(out[i]);
		if (out[i] >= 0)
			fcntl(out[i], F_SETFD, FD_CLOEXEC);
	}
	if (in[0] < 0 || in[1] < 0 || out[0] < 0 || out[1] < 0) {
		snprintf(err, errlen, "cannot create pipes: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		command_child(argv, in[1], out[1]);
	/* Both sides set the group, so a kill(-pid) right after fork cannot miss. */
	setpgid(pid, pid);
	c->pid = pid;
	close(in[1]);
	close(out[1]);
	c->in_fd = in[0];
	c->out_fd = out[0];
	evutil_make_socket_nonblocking(c->in_fd);
	evutil_make_socket_nonblocking(c->out_fd);
	c->in_ev = event_new(c->base, c->in_fd, EV_WRITE | EV_PERSIST, on_command_in, c);
	c->out_ev = event_new(c->base, c->out_fd, EV_READ | EV_PERSIST, on_command_out, c);
	c->deadline = evtimer_new(c->base, on_command_deadline, c);
	c->poll = evtimer_new(c->base, on_command_poll, c);
	if (!c->in_ev || !c->out_ev || !c->deadline || !c->poll) {
		/* The child runs already: stop it, then fail like any other attempt. */
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
		command_close(c);
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	event_add(c->in_ev, NULL);
	event_add(c->out_ev, NULL);
	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(c->timeout_ms % 1000) * 1000;
	evtimer_add(c->deadline, &tv);
	tv.tv_sec = 0;
	tv.tv_usec = COMMAND_POLL_MS * 1000;
	evtimer_add(c->poll, &tv);
	return c;
fail:
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	free(c);
	return NULL;
}

void command_kill(struct command *c)
{
	if (!c)
		return;
	if (c->pid > 0) {
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	command_close(c);
	free(c);
}
