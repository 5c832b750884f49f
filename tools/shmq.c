// SPDX-License-Identifier: MIT
/* shmq.c - the shmq command-line tool: its table of commands, and the dispatch to them. */
#include <string.h>

#include "cli.h"
#include "metrics.h"

/* Each command lives in a cmd_*.c file; its main gets argv from its own name on. */
static const struct cli_command commands[] = {
	{ "info", info_main, "library version, how parked waiters sleep, the clock" },
	{ "ls", ls_main, "the objects of a namespace, with kind, owner, mode and users" },
	{ "stat", stat_main, "a topic's or channel's state, a priority or partitioned topic's" },
	{ "pub", pub_main, "publish records to a topic, a priority level or a partition" },
	{ "sub", sub_main, "print the records of a topic, a pattern's topics, or a group" },
	{ "req", req_main, "send a request to a service and print its reply (or replies)" },
	{ "reply", reply_main, "answer a service's requests: echo them, or run a command" },
	{ "top", top_main, "a refreshing view: records a second and lag per topic and group" },
	{ "hz", hz_main, "rates, inter-arrival times and sequence gaps per topic" },
	{ "hist", hist_main, "live delivery/processing latency percentiles, or an .hlog" },
	{ "lat", lat_main, "publish-to-receive latency at a fixed rate, with an .hlog" },
	{ "rm", rm_main, "remove an object (TOPIC@GROUP: a consumer group)" },
	{ "group", group_main, "consumer groups: ls TOPIC, stat TOPIC GROUP, reset TOPIC GROUP" },
	{ "group-delete", group_delete_main, "remove a consumer group" },
	{ "dlq", dlq_main, "dead-letter topics: ls, peek DLQ, redrive DLQ, purge DLQ" },
	{ "redrive", redrive_main, "move dead letters back to their topic" },
	{ "doctor", doctor_main, "check the host and the namespaces for problems" },
	{ "daemon", daemon_main, "the namespace's shmqd: its status, or one raw request" },
	{ "metrics", metrics_main, "the namespace in Prometheus' text format, once" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [-h] [-V] COMMAND [ARGS]\ncommands:\n", PROG);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "options:\n"
		   "  -h, --help    this text (COMMAND --help: the command's)\n"
		   "  -V, --version the version\n"
		   "exit status: 0 ok, 1 error, 2 usage, 3 daemon required but unreachable,\n"
		   "4 timed out\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .show = usage, .rc = -1 };
	size_t i;
	int ch;

	opterr = 0; /* cli_getopt() says what was wrong, as "shmq stat: ..." */
	while ((ch = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 0;
		}
		if (ch != 'V')
			return cli_bad_option(&c, ch, argv);
		printf("%s %s\n", PROG, shmq_version());
		return 0;
	}
	if (optind == argc)
		return cli_usage_error(&c, "no COMMAND given", NULL);
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int first = optind;

			optind = 0; /* GNU: start over on the command's own arguments */
			return commands[i].main(argc - first, argv + first);
		}
	}
	return cli_usage_error(&c, "unknown command", argv[optind]);
}
