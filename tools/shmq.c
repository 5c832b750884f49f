// SPDX-License-Identifier: MIT
/* shmq.c - the shmq command-line tool: for now `info` (version, wake backend) and `stat`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmq.h"

#define PROG "shmq"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-h] [-V] COMMAND [ARGS]\n"
		"commands:\n"
		"  info               library version, how parked waiters sleep, the clock\n"
		"  stat [-n NS] TOPIC a topic's configuration, positions and subscribers\n"
		"options:\n"
		"  -h, --help         this text\n"
		"  -V, --version      the version\n",
		PROG);
}

static int cmd_info(void)
{
	printf("libshmq:      %s\n", shmq_version());
	printf("wake backend: %s%s\n", shmq_wake_backend(),
	       getenv(SHMQ_WAKE_BACKEND_ENV) ? " ($" SHMQ_WAKE_BACKEND_ENV " is set)" : "");
	printf("timestamps:   %s%s\n", shmq_clock_source(),
	       getenv(SHMQ_CLOCK_ENV) ? " ($" SHMQ_CLOCK_ENV " is set)" : "");
	return 0;
}

static void print_subs(const struct shmq_topic_sub_info *subs, int n, uint64_t tail)
{
	int i;

	for (i = 0; i < n; i++)
		printf("  subscriber pid %d: cursor %llu, lag %llu, received %llu, lost %llu, "
		       "skipped %llu\n",
		       (int)subs[i].pid, (unsigned long long)subs[i].cursor,
		       (unsigned long long)(tail > subs[i].cursor ? tail - subs[i].cursor : 0),
		       (unsigned long long)subs[i].received, (unsigned long long)subs[i].lost,
		       (unsigned long long)subs[i].skipped);
}

static int cmd_stat(const char *ns, const char *name)
{
	struct shmq_topic_sub_info subs[SHMQ_TOPIC_MAX_SUBSCRIBERS];
	struct shmq_topic_stats st;
	shmq_bus *bus;
	int n;

	n = shmq_bus_open(ns, 0, &bus);
	if (n == 0)
		n = shmq_topic_stat(bus, name, &st, subs, SHMQ_TOPIC_MAX_SUBSCRIBERS);
	shmq_bus_close(bus);
	if (n < 0) {
		fprintf(stderr, "%s: stat topic '%s': %s\n", PROG, name, shmq_strerror(n));
		return 1;
	}
	printf("topic %s: %s, %u slots, max_msg %u, tail %llu, oldest %llu, producers %u, "
	       "subscribers %u, skipped %llu\n",
	       name, st.policy == SHMQ_TOPIC_LOSSY ? "lossy" : "reliable", st.slots, st.max_msg,
	       (unsigned long long)st.tail, (unsigned long long)st.oldest, st.producers,
	       st.subscribers, (unsigned long long)st.skipped);
	print_subs(subs, n < (int)SHMQ_TOPIC_MAX_SUBSCRIBERS ? n : (int)SHMQ_TOPIC_MAX_SUBSCRIBERS,
		   st.tail);
	return 0;
}

static int stat_main(int argc, char **argv)
{
	const char *ns = NULL;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n') {
			usage(stderr);
			return 2;
		}
		ns = optarg;
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	return cmd_stat(ns, argv[optind]);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'V') {
			printf("%s %s\n", PROG, shmq_version());
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if (optind < argc && strcmp(argv[optind], "info") == 0 && optind == argc - 1)
		return cmd_info();
	if (optind < argc && strcmp(argv[optind], "stat") == 0)
		return stat_main(argc - optind, argv + optind);
	usage(stderr);
	return 2;
}
