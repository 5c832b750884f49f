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
		"  -h, --help         this text (COMMAND --help: the command's)\n"
		"  -V, --version      the version\n",
		PROG);
}

static void stat_usage(FILE *f)
{
	fprintf(f,
		"usage: %s stat [-h] [-n NS] TOPIC\n"
		"A topic's configuration, positions and subscribers, read without joining it.\n"
		"options:\n"
		"  -n, --namespace NS  the bus namespace (default: $%s, else \"default\")\n"
		"  -h, --help          this text\n",
		PROG, SHMQ_NAMESPACE_ENV);
}

static void info_usage(FILE *f)
{
	fprintf(f,
		"usage: %s info [-h]\n"
		"The library's version, how parked waiters sleep (the wake backend) and where\n"
		"timestamps come from.\n",
		PROG);
}

/* A usage error, "shmq stat: WHAT 'ARG'", then the usage, on stderr; exit status 2. */
static int usage_error(const char *cmd, void (*show)(FILE *), const char *what, const char *arg)
{
	fprintf(stderr, "%s%s%s: %s", PROG, cmd ? " " : "", cmd ? cmd : "", what);
	if (arg)
		fprintf(stderr, " '%s'", arg);
	fputc('\n', stderr);
	show(stderr);
	return 2;
}

/* getopt_long()'s complaint as a usage error (opterr is 0; the optstring starts with ':'). */
static int bad_option(const char *cmd, void (*show)(FILE *), int c, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	/* A missing argument's option is named as it was written, long or short. */
	const char *name = optopt && c != ':' ? opt : argv[optind - 1];

	return usage_error(cmd, show, c == ':' ? "missing the argument of" : "unknown option",
			   name);
}

/* "shmq: WHAT: text: detail", the detail only when the library gave one. */
static void report(const char *what, int err)
{
	const char *detail = shmq_last_detail();

	fprintf(stderr, "%s: %s: %s%s%s\n", PROG, what, shmq_strerror(err), detail[0] ? ": " : "",
		detail);
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
	char what[512];
	shmq_bus *bus;
	int n;

	n = shmq_bus_open(ns, 0, &bus);
	if (n < 0) {
		if (!ns)
			ns = getenv(SHMQ_NAMESPACE_ENV);
		snprintf(what, sizeof(what), "namespace '%s'", ns ? ns : "");
		report(what, n);
		return 1;
	}
	snprintf(what, sizeof(what), "stat topic '%s' in namespace '%s'", name,
		 shmq_bus_namespace(bus));
	n = shmq_topic_stat(bus, name, &st, subs, SHMQ_TOPIC_MAX_SUBSCRIBERS);
	shmq_bus_close(bus);
	if (n < 0) {
		report(what, n);
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
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *ns = NULL;
	int c;

	optind = 0; /* GNU: start over on the command's own arguments */
	while ((c = getopt_long(argc, argv, "+:n:h", opts, NULL)) != -1) {
		if (c == 'h') {
			stat_usage(stdout);
			return 0;
		}
		if (c != 'n')
			return bad_option("stat", stat_usage, c, argv);
		ns = optarg;
	}
	if (optind == argc)
		return usage_error("stat", stat_usage, "no TOPIC given", NULL);
	if (optind != argc - 1)
		return usage_error("stat", stat_usage, "unexpected argument", argv[optind + 1]);
	return cmd_stat(ns, argv[optind]);
}

static int info_main(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (c != 'h')
			return bad_option("info", info_usage, c, argv);
		info_usage(stdout);
		return 0;
	}
	if (optind != argc)
		return usage_error("info", info_usage, "unexpected argument", argv[optind]);
	return cmd_info();
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { NULL, 0, NULL, 0 } };
	int c;

	opterr = 0; /* bad_option() says what was wrong, as "shmq stat: ..." */
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'V') {
			printf("%s %s\n", PROG, shmq_version());
			return 0;
		}
		return bad_option(NULL, usage, c, argv);
	}
	if (optind == argc)
		return usage_error(NULL, usage, "no COMMAND given", NULL);
	if (strcmp(argv[optind], "info") == 0)
		return info_main(argc - optind, argv + optind);
	if (strcmp(argv[optind], "stat") == 0)
		return stat_main(argc - optind, argv + optind);
	return usage_error(NULL, usage, "unknown command", argv[optind]);
}
