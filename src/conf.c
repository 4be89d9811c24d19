/* conf.c: being written */
#include "conf.h"

#include <stdio.h>

int config_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "mailpulse config: not built yet\n");
	return 3;
}
