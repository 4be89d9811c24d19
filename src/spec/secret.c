/* SPDX-License-Identifier: ISC */
/*
 * secret.c - the first line of a secret file (see secret.h).
 */
#include "spec/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/line.h"

int secret_read_file(const char *path, char *dst, size_t dstsz, int *world_readable, char *why,
                     size_t whylen)
{
	char buf[SECRET_MAX + 3];
	size_t len = 0, line;
	struct stat st;
	int fd, rc = -1;
	char *nl;

	if (world_readable)
		*world_readable = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s",
		         S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
		goto out;
	}
	if (world_readable)
		*world_readable = S_ISREG(st.st_mode) && (st.st_mode & S_IROTH);
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break; /* nothing written yet: read what there is */
		if (n < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n))
			break;
	}
	nl = memchr(buf, '\n', len);
	line = nl ? (size_t)(nl - buf) : len;
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	if (line > SECRET_MAX || line >= dstsz) {
		snprintf(why, whylen, "the first line is longer than %zu bytes",
		         dstsz - 1 < SECRET_MAX ? dstsz - 1 : (size_t)SECRET_MAX);
		goto out;
	}
	if (line == 0) {
		snprintf(why, whylen, "the first line is empty");
		goto out;
	}
	if (memchr(buf, '\0', line) || memchr(buf, '\r', line)) {
		snprintf(why, whylen, "the first line contains a CR or NUL byte");
		goto out;
	}
	memcpy(dst, buf, line);
	dst[line] = '\0';
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

static int secret_is_env_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

int secret_read_env(const char *name, char *dst, size_t dstsz, char *why, size_t whylen)
{
	const char *e;
	size_t n;

	if (!secret_is_env_name(name)) {
		char shown[96];

		line_escape(shown, sizeof(shown), name, strlen(name));
		snprintf(why, whylen, "\"%s\" is not an environment variable name", shown);
		return -1;
	}
	e = getenv(name);
	if (!e) {
		snprintf(why, whylen, "%s is not set", name);
		return -1;
	}
	n = strlen(e);
	if (n == 0) {
		snprintf(why, whylen, "%s is empty", name);
		return -1;
	}
	if (n > SECRET_MAX || n >= dstsz) {
		snprintf(why, whylen, "%s is longer than %d bytes", name, SECRET_MAX);
		return -1;
	}
	if (strpbrk(e, "\r\n")) {
		snprintf(why, whylen, "%s contains a CR or LF byte", name);
		return -1;
	}
	memcpy(dst, e, n + 1);
	return 0;
}
