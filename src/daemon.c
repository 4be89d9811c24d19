/* daemon.c: being written */
#include "daemon.h"

#include <stdio.h>

int daemon_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "mailpulse run: not built yet\n");
	return 3;
}
