/* report.c: being written */
#include "report.h"

#include <stdio.h>

int report_main(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "mailpulse %s: not built yet\n", argv[0]);
	return 3;
}
