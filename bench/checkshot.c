/* SPDX-License-Identifier: ISC */
/*
 * checkshot - `mailpulse check` without the daemon's libraries.
 *
 * The same check_main() that `mailpulse check` runs, linked with the engine
 * alone (no SQLite, libyaml, libcurl). bench/run.sh times it beside the
 * real binary, which tells what loading the daemon's shared libraries costs
 * a one-shot process, and stands in for it while the tree's daemon part
 * does not build.
 */
#include "cmd/check.h"

int main(int argc, char **argv)
{
	char name[] = "check";

	argv[0] = name;
	return check_main(argc, argv);
}
