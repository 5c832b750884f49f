// SPDX-License-Identifier: MIT
/* cmd_hz.c - shmq hz: per topic, rates, inter-arrival times and exact sequence gaps. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void hz_usage(FILE *f)
{
	fprintf(f,
		"usage: %s hz [-h] [-n NS] [-o table|json] [-w D] [-c N] TOPIC|PATTERN\n"
		"Over each window, per topic: the rate, the mean, min, max and standard deviation\n"
		"of the time between records (from their publish times), and the sequence gaps\n"
		"(records this reader never saw), with the records lost (lapped) and skipped "
		"(dead\n"
		"producers, aborts) among them. Reads as a subscriber from the newest record on.\n"
		"options:\n"
		"  -w, --window D      the window (default 1s)\n"
		"  -c, --count N       stop after N windows (default: never)\n" CLI_COMMON_HELP,
		PROG);
}

/* One topic's window; @last_seq and @last_ts carry over from window to window. */
struct hz_topic {
	char name[SHMQ_NAME_MAX + 1];
	uint64_t n, gaps, lost, skipped, last_seq, last_ts;
	double sum, sumsq, min, max; /* inter-arrival times, ns */
	uint64_t intervals;
};

struct hz {
	struct hz_topic *t;
	size_t n, cap;
};

static struct hz_topic *hz_find(struct hz *h, const char *name)
{
	struct hz_topic *nt;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->t[i].name, name) == 0)
			return &h->t[i];
	if (h->n == h->cap) {
		nt = realloc(h->t, (h->cap * 2 + 4) * sizeof(*nt));
		if (!nt)
			return NULL;
		h->t = nt;
		h->cap = h->cap * 2 + 4;
	}
	memset(&h->t[h->n], 0, sizeof(h->t[0]));
	snprintf(h->t[h->n].name, sizeof(h->t[0].name), "%s", name);
	return &h->t[h->n++];
}

static void hz_count(struct hz_topic *t, const struct cli_record *r)
{
	double d;

	if (t->last_seq && r->seq > t->last_seq + 1)
		t->gaps += r->seq - t->last_seq - 1;
	t->lost += r->lost;
	t->skipped += r->skipped;
	if (t->last_ts && r->ts_ns >= t->last_ts) {
		d = (double)(r->ts_ns - t->last_ts);
		t->min = t->intervals && t->min < d ? t->min : d;
		t->max = t->max > d ? t->max : d;
		t->sum += d;
		t->sumsq += d * d;
		t->intervals++;
	}
	t->last_seq = r->seq;
	t->last_ts = r->ts_ns;
	t->n++;
}

static void hz_print(struct hz_topic *t, double window_s, bool json)
{
	double k = t->intervals ? (double)t->intervals : 1, mean = t->sum / k;
	double sd = sqrt(fmax(t->sumsq / k - mean * mean, 0));

	if (json)
		cli_json_line(json_pack("{s:s, s:f, s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:I}",
					"topic", t->name, "rate", (double)t->n / window_s, "n",
					(json_int_t)t->n, "mean_ns", mean, "min_ns", t->min,
					"max_ns", t->max, "stddev_ns", sd, "gaps",
					(json_int_t)t->gaps, "lost", (json_int_t)t->lost, "skipped",
					(json_int_t)t->skipped));
	else
		printf("%s  rate %.1f/s, n %llu, interval mean %.3f ms, min %.3f ms, max %.3f ms, "
		       "stddev %.3f ms, gaps %llu (lost %llu, skipped %llu)\n",
		       t->name, (double)t->n / window_s, (unsigned long long)t->n, mean / 1e6,
		       t->min / 1e6, t->max / 1e6, sd / 1e6, (unsigned long long)t->gaps,
		       (unsigned long long)t->lost, (unsigned long long)t->skipped);
	t->n = t->gaps = t->lost = t->skipped = t->intervals = 0;
	t->sum = t->sumsq = t->min = t->max = 0;
}

static void hz_window(struct hz *h, uint64_t window_ns, bool json)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		hz_print(&h->t[i], (double)window_ns / 1e9, json);
	if (!h->n && !json)
		printf("no records\n");
	fflush(stdout);
}

/* Count records until each window's end, print it, until @windows are done. */
static int hz_run(struct cli_source *src, uint64_t window_ns, uint64_t windows, bool json)
{
	uint64_t done = 0, end = cli_mono_ns() + window_ns;
	struct cli_record rec;
	struct hz h = { 0 };
	struct hz_topic *t;
	size_t cap = 65536;
	char *buf = malloc(cap);
	int r = buf ? 0 : -ENOMEM;

	if (src->sub) /* one topic: shown from the first window, records or not */
		hz_find(&h, src->name);
	while (r >= 0 && (!windows || done < windows)) {
		r = cli_source_recv(src, &buf, &cap, &rec);
		if (r >= 0) {
			t = hz_find(&h, rec.topic);
			if (t)
				hz_count(t, &rec);
			if (src->member)
				shmq_group_ack(src->member, rec.lease);
			continue;
		}
		if (r == -EAGAIN || r == -EBADMSG)
			r = cli_left(end) ? cli_source_wait(src, cli_left(end)) : -ETIMEDOUT;
		if (r == -ETIMEDOUT || r == -EPIPE) {
			hz_window(&h, window_ns, json);
			done++;
			end += window_ns;
			r = r == -EPIPE ? -EPIPE : 0;
		}
	}
	free(h.t);
	free(buf);
	return r >= 0 || r == -EPIPE ? 0 : cli_fail("receive", r);
}

int hz_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "window", required_argument, NULL, 'w' },
					      { "count", required_argument, NULL, 'c' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "hz", .show = hz_usage, .rc = -1 };
	uint64_t window_ns = 1000000000u, windows = 0;
	struct cli_source src;
	shmq_bus *bus;
	int ch, rc = EXIT_ERROR;

	while ((ch = cli_getopt(&c, argc, argv, "w:c:", opts)) != -1)
		if ((ch == 'w' ? cli_duration(&c, "--window", optarg, &window_ns)
			       : cli_number(&c, "--count", optarg, &windows)) < 0)
			break;
	if (c.rc >= 0 || cli_operands(&c, argc, argv, 1, 1, "TOPIC or PATTERN") >= 0)
		return c.rc;
	if (!window_ns)
		return cli_usage_error(&c, "--window: not a positive duration:", "0");
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	if (cli_source_open(&src, bus, argv[optind], NULL, SHMQ_SUB_LATEST, 0, &rc) == 0) {
		rc = hz_run(&src, window_ns, windows, c.json);
		cli_source_close(&src);
	}
	shmq_bus_close(bus);
	return rc;
}
