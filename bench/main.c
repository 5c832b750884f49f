// SPDX-License-Identifier: MIT
/* main.c - shmq-bench: dispatch to the latency, throughput, queue, failover and hist commands. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "link.h"
#include "shmq.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-h] [-V] COMMAND [OPTIONS]\n"
		"Latency and throughput of libshmq against the hardware and kernel baselines.\n"
		"\n"
		"commands:\n"
		"  pingpong    round-trip time: shmq-spsc, shmq-topic(-excl), shmq-queue,\n"
		"              raw-cacheline, iceoryx (poll); pipe, uds, uds-dgram, eventfd,\n"
		"              posix-mq,\n"
		"              zmq-ipc, nng-ipc, iceoryx-ws, shmq-spsc-park,\n"
		"              shmq-spsc-spinpark, raw-futex (block); --rate: fixed-rate\n"
		"  fanout      round-trip time of one request to 1, 2, 4, 8 topic subscribers\n"
		"              that all reply, against the same with raw cache lines\n"
		"  throughput  one-way streaming rate: shmq-spsc(-batch),\n"
		"              shmq-topic(-excl)(-batch), shmq-topic-mpP (P producers),\n"
		"              shmq-queue (a consumer-group member: recv + ack),\n"
		"              raw-stream, and the peers of pingpong\n"
		"  compare     pingpong (back to back and fixed-rate) and throughput over\n"
		"              every transport built, poll and block apart, ratios to the\n"
		"              hardware, the targets, --svg chart (a few minutes)\n"
		"  quick       a short pingpong at 64 bytes with the target checks (about 20 s)\n"
		"  idle        CPU use of a consumer and a subscriber parked on nothing (~10 s)\n"
		"  queue       consumer groups (work queues): recv + ack against a subscriber's\n"
		"              recv, throughput with 1, 2, 4 members against posix-mq and uds,\n"
		"              the recv+ack round trip, the targets (about a minute)\n"
		"  failover    a SIGKILLed group member's leases redelivered to another member:\n"
		"              with shmqd (started by the run), with the members' own judgement,\n"
		"              by ack_wait alone (--mode all); p99 against 10 ms (~10 s)\n"
#ifdef SHMQ_BENCH_HIST
		"  hist        the HDR histogram's own costs\n"
#endif
		"\n"
		"  -h, --help     this text\n"
		"  -V, --version  print the library's version\n"
		"\n"
		"Run '%s COMMAND --help' for a command's options. Results go to stdout; a missed\n"
		"target is reported, not an error (exit 0). Errors exit 1, usage errors 2.\n",
		BENCH_PROG, BENCH_PROG);
}

static int run_command(int argc, char **argv)
{
	static char prog[64];
	const char *cmd = argv[0];

	/* getopt's own messages then read "shmq-bench pingpong: ...". */
	snprintf(prog, sizeof(prog), "%s %s", BENCH_PROG, cmd);
	argv[0] = prog;
	optind = 0;
	cleanup_install();
	if (strcmp(cmd, "pingpong") == 0)
		return pingpong_main(argc, argv, PP_MODE_PINGPONG);
	if (strcmp(cmd, "quick") == 0)
		return pingpong_main(argc, argv, PP_MODE_QUICK);
	if (strcmp(cmd, "fanout") == 0)
		return pingpong_main(argc, argv, PP_MODE_FANOUT);
	if (strcmp(cmd, "throughput") == 0)
		return throughput_main(argc, argv);
	if (strcmp(cmd, "compare") == 0)
		return compare_main(argc, argv);
	if (strcmp(cmd, "idle") == 0)
		return idle_main(argc, argv);
	if (strcmp(cmd, "queue") == 0)
		return queue_main(argc, argv);
	if (strcmp(cmd, "failover") == 0)
		return failover_main(argc, argv);
	if (strcmp(cmd, "_link-peer") == 0)
		return link_peer_main(argc, argv); /* a peer in a fresh image: see link_reexec() */
#ifdef SHMQ_BENCH_HIST
	if (strcmp(cmd, "hist") == 0)
		return bench_hist_main(argc, argv);
#endif
	fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", BENCH_PROG, cmd,
		BENCH_PROG);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* "+": stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+hV", lopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", BENCH_PROG, shmq_version());
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", BENCH_PROG);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	return run_command(argc - optind, argv + optind);
}
