// SPDX-License-Identifier: MIT
/* metrics_cmd.c - "shmq metrics": a namespace's metrics once, read without the daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static void metrics_usage(FILE *f)
{
	fprintf(f,
		"usage: shmq metrics [-h] [-n NS]\n"
		"The namespace's topics, subscribers, consumer groups and channels in the "
		"Prometheus\n"
		"text format (0.0.4), once, read from the segments without the daemon: for\n"
		"node_exporter's textfile collector (write to a temporary file, then rename it).\n"
		"shmqd --metrics serves the same text over HTTP, with the daemon's own counters.\n"
		"options:\n"
		"  -n, --namespace NS  the bus namespace (default: $%s, else \"default\")\n"
		"  -h, --help          this text\n",
		SHMQ_NAMESPACE_ENV);
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "shmq metrics: %s '%s'\n", what, arg);
	metrics_usage(stderr);
	return 2;
}

static int write_ns(const char *ns)
{
	shmq_bus *bus;
	int r = shmq_bus_open(ns, 0, &bus);

	if (r < 0) {
		if (!ns)
			ns = getenv(SHMQ_NAMESPACE_ENV);
		fprintf(stderr, "shmq: namespace '%s': %s\n", ns ? ns : "", shmq_strerror(r));
		return 1;
	}
	r = metrics_write(bus, stdout, NULL);
	if (r < 0)
		fprintf(stderr, "shmq: metrics of namespace '%s': %s\n", shmq_bus_namespace(bus),
			shmq_strerror(r));
	shmq_bus_close(bus);
	return r < 0 ? 1 : 0;
}

int metrics_main(int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	char opt[3] = "-?";
	const char *ns = NULL;
	int c;

	opterr = 0;
	optind = 0; /* GNU: start over on the command's own arguments */
	while ((c = getopt_long(argc, argv, "+:n:h", opts, NULL)) != -1) {
		if (c == 'h') {
			metrics_usage(stdout);
			return 0;
		}
		if (c == 'n') {
			ns = optarg;
			continue;
		}
		opt[1] = (char)optopt;
		return usage_error(c == ':' ? "missing the argument of" : "unknown option",
				   optopt && c != ':' ? opt : argv[optind - 1]);
	}
	if (optind != argc)
		return usage_error("unexpected argument", argv[optind]);
	return write_ns(ns);
}
