/* SPDX-License-Identifier: ISC */
/*
 * dnsfake - a resolver for the DNS tests: it answers, refuses, stays
 * silent or lies, on 127.0.0.1 over UDP.
 *
 * dnsfake --port-file FILE --mode MODE [--lifetime SECONDS]
 *
 *   answer    A queries: 127.0.0.1; other types: no data (NOERROR, 0 answers)
 *   servfail  every query: SERVFAIL
 *   nxdomain  every query: NXDOMAIN
 *   silent    reads every query, answers none
 *   garbage   answers with the query's ID and a header that promises an
 *             answer the packet does not hold (a lying, broken resolver)
 *
 * The ephemeral port is written to --port-file (renamed into place). Exits
 * after --lifetime seconds (default 60). A test tool: exits on the first
 * setup error; a query it cannot parse is dropped.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PKT_MAX 512 /* classic DNS over UDP */

enum mode { M_ANSWER, M_SERVFAIL, M_NXDOMAIN, M_SILENT, M_GARBAGE };

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void usage(void)
{
	fputs("usage: dnsfake --port-file FILE --mode answer|servfail|nxdomain|silent|garbage "
	      "[--lifetime SECONDS]\n",
	      stderr);
	exit(2);
}

static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

/* Length of the question section at q (name, type, class); 0 when malformed. */
static size_t question_len(const unsigned char *q, size_t n)
{
	size_t i = 0;

	while (i < n && q[i] != 0) {
		if (q[i] & 0xC0)
			return 0; /* no compression in a question we accept */
		i += (size_t)q[i] + 1;
	}
	if (i >= n || i + 5 > n)
		return 0;
	return i + 5; /* root label, QTYPE, QCLASS */
}

/* Build the reply to query q (n bytes) in r; returns its length, 0 to send nothing. */
static size_t reply(enum mode m, const unsigned char *q, size_t n, unsigned char *r)
{
	size_t ql;
	unsigned qtype;

	if (n < 12 || (q[2] & 0x80) || q[4] != 0 || q[5] != 1)
		return 0; /* not a query with one question */
	ql = question_len(q + 12, n - 12);
	if (ql == 0 || m == M_SILENT)
		return 0;
	qtype = (unsigned)q[12 + ql - 4] << 8 | q[12 + ql - 3];
	memcpy(r, q, 12 + ql);
	r[2] = 0x80 | (q[2] & 0x79); /* QR, the query's opcode and RD */
	r[3] = 0x80;                 /* RA, RCODE 0 */
	memset(r + 6, 0, 6);         /* no answers, authority or additional yet */
	switch (m) {
	case M_SERVFAIL:
		r[3] |= 2;
		return 12 + ql;
	case M_NXDOMAIN:
		r[3] |= 3;
		return 12 + ql;
	case M_GARBAGE:
		r[7] = 3; /* three answers promised, half of one sent */
		r[12 + ql] = 0xC0;
		r[12 + ql + 1] = 0x0C;
		r[12 + ql + 2] = 0x00;
		return 12 + ql + 3;
	case M_ANSWER:
		if (qtype != 1)
			return 12 + ql; /* NOERROR, no data */
		{
			static const unsigned char a[] = {0xC0, 0x0C, 0, 1, 0,   1, 0, 0,
			                                  0,    60,   0, 4, 127, 0, 0, 1};
			r[7] = 1;
			memcpy(r + 12 + ql, a, sizeof(a));
			return 12 + ql + sizeof(a);
		}
	case M_SILENT:
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *mode_s = NULL;
	long lifetime = 60;
	enum mode m;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--mode") == 0)
			mode_s = argv[i + 1];
		else if (strcmp(argv[i], "--lifetime") == 0)
			lifetime = strtol(argv[i + 1], NULL, 10);
		else
			usage();
	}
	if (argc % 2 != 1 || !port_file || !mode_s || lifetime < 1)
		usage();
	if (strcmp(mode_s, "answer") == 0)
		m = M_ANSWER;
	else if (strcmp(mode_s, "servfail") == 0)
		m = M_SERVFAIL;
	else if (strcmp(mode_s, "nxdomain") == 0)
		m = M_NXDOMAIN;
	else if (strcmp(mode_s, "silent") == 0)
		m = M_SILENT;
	else if (strcmp(mode_s, "garbage") == 0)
		m = M_GARBAGE;
	else
		usage();

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		die("bind");
	{
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", ntohs(sin.sin_port)) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) != 0)
			die(port_file);
	}
	signal(SIGALRM, on_alarm);
	alarm((unsigned)lifetime);

	for (;;) {
		unsigned char q[PKT_MAX], r[PKT_MAX + 32];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		size_t rl;

		if (n < 0)
			continue;
		rl = reply(m, q, (size_t)n, r);
		if (rl > 0)
			(void)sendto(fd, r, rl, 0, (struct sockaddr *)&from, fl);
	}
}
