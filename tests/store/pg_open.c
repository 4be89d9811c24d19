/* SPDX-License-Identifier: ISC */
/*
 * pg_open.c - drives pg_open() (src/store/pg_conn.c) for pg_open.sh:
 *   pg_open URI [PASSWORD_FILE|-] [ro]
 * prints "ok: schema N as SHOWN" and exits 0, or the error and exits 1.
 */
#include <stdio.h>
#include <string.h>

#include "store/pg_conn.h"

int main(int argc, char **argv)
{
	char err[1024], shown[512];
	const char *pwf = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
	int ro = argc > 3 && strcmp(argv[3], "ro") == 0;
	PGconn *c;

	if (argc < 2) {
		fprintf(stderr, "usage: pg_open URI [PASSWORD_FILE|-] [ro]\n");
		return 2;
	}
	c = pg_open(argv[1], pwf, ro, err, sizeof(err));
	if (!c) {
		printf("%s\n", err);
		return 1;
	}
	pg_shown(argv[1], shown, sizeof(shown));
	printf("ok: schema %d as %s\n", PG_SCHEMA_VERSION, shown);
	PQfinish(c);
	return 0;
}
