// SPDX-License-Identifier: MIT
/* cmd_hz.c - shmq hz: per topic, rates, inter-arrival times and exact sequence gaps. */
#include "cli.h"

int hz_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 1;
}
