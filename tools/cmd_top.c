// SPDX-License-Identifier: MIT
/* cmd_top.c - shmq top: a refreshing view of a namespace's topics and groups, rates and lag. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void top_usage(FILE *f)
{
	fprintf(f,
		"usage: %s top [-h] [-n NS] [-o table|json] [-d D] [-c N] [--once] [-s KEY]\n"
		"A view of the namespace's topics and their groups, refreshed every D: records a\n"
		"second, tail, producers, subscribers, the largest subscriber lag, records lost\n"
		"and skipped; per group acks a second, lag, pending and in flight, members; and\n"
		"the last frame's delivery latency p50 and p99 where subscribers or members "
		"record\n"
		"it (shmq sub --latency).\n"
		"options:\n"
		"  -d, --interval D    between frames (default 1s)\n"
		"  -c, --count N       stop after N frames\n"
		"      --once          one frame (-c 1), without clearing the screen\n"
		"  -s, --sort KEY      name (the default), rate or lag\n" CLI_COMMON_HELP,
		PROG);
}

/* One topic or group, as one sample saw it; @rate from the sample before. */
struct top_row {
	char name[SHMQ_OBJECT_NAME_MAX + 1];
	bool group;
	uint64_t count; /* a topic's tail, a group's acks */
	uint64_t lag, lost, skipped, pending, in_flight;
	uint32_t producers, subscribers, members;
	double rate;
	shmq_hist *lat; /* the live delivery latency (subscribers' or members'), or NULL */
	uint64_t lat_n; /* records in the last interval's latency; its p50 and p99 */
	int64_t p50, p99;
};

struct top_sample {
	struct top_row *rows;
	size_t n;
};

static void top_topic(shmq_bus *bus, struct top_row *r)
{
	struct shmq_topic_sub_info subs[SHMQ_TOPIC_MAX_SUBSCRIBERS];
	struct shmq_topic_stats st;
	int i, n = shmq_topic_stat(bus, r->name, &st, subs, SHMQ_TOPIC_MAX_SUBSCRIBERS);

	if (n < 0)
		return;
	(void)shmq_latency_read(bus, r->name, NULL, SHMQ_LATENCY_ALL, SHMQ_LATENCY_DELIVERY, NULL,
				&r->lat); /* none when no subscriber records it */
	r->count = st.tail - 1;
	r->producers = st.producers;
	r->subscribers = st.subscribers;
	r->skipped = st.skipped;
	for (i = 0; i < n && i < (int)SHMQ_TOPIC_MAX_SUBSCRIBERS; i++) {
		if (st.tail > subs[i].cursor && st.tail - subs[i].cursor > r->lag)
			r->lag = st.tail - subs[i].cursor;
		r->lost += subs[i].lost;
	}
}

static void top_group(shmq_bus *bus, struct top_row *r)
{
	char topic[SHMQ_OBJECT_NAME_MAX + 1], *at;
	struct shmq_group_stats g;

	snprintf(topic, sizeof(topic), "%s", r->name);
	at = strchr(topic, '@');
	if (!at)
		return;
	*at = '\0';
	if (shmq_group_stat(bus, topic, at + 1, &g, NULL, 0) < 0)
		return;
	(void)shmq_latency_read(bus, topic, at + 1, SHMQ_LATENCY_ALL, SHMQ_LATENCY_DELIVERY, NULL,
				&r->lat);
	r->count = g.acked;
	r->lag = g.tail - g.floor;
	r->pending = g.pending;
	r->in_flight = g.in_flight;
	r->members = g.members;
	r->lost = g.lost;
	r->skipped = g.skipped;
}

static void top_free(struct top_sample *s)
{
	for (size_t i = 0; s->rows && i < s->n; i++)
		shmq_hist_free(s->rows[i].lat);
	free(s->rows);
	s->rows = NULL;
	s->n = 0;
}

static int top_take(shmq_bus *bus, struct top_sample *s)
{
	struct shmq_object_info *v;
	int n = shmq_bus_list(bus, NULL, 0), i;

	s->n = 0;
	if (n < 0)
		return n;
	v = calloc((size_t)n + 1, sizeof(*v));
	s->rows = calloc((size_t)n + 1, sizeof(*s->rows));
	if (!v || !s->rows) {
		free(v);
		return -ENOMEM;
	}
	n = shmq_bus_list(bus, v, (size_t)n);
	for (i = 0; i < n; i++) {
		if (v[i].error || (v[i].kind != SHMQ_KIND_TOPIC && v[i].kind != SHMQ_KIND_GROUP))
			continue;
		struct top_row *r = &s->rows[s->n++];

		snprintf(r->name, sizeof(r->name), "%s", v[i].name);
		r->group = v[i].kind == SHMQ_KIND_GROUP;
		if (r->group)
			top_group(bus, r);
		else
			top_topic(bus, r);
	}
	free(v);
	return 0;
}

/* The last interval's latency percentiles of @r, from its snapshot and the one before. */
static void top_latency(struct top_row *r, const struct top_row *b)
{
	shmq_hist *d;

	if (!r->lat || cli_lat_interval(r->lat, b->lat, &d) < 0)
		return;
	r->lat_n = shmq_hist_total(d);
	r->p50 = shmq_hist_value_at_percentile(d, 50);
	r->p99 = shmq_hist_value_at_percentile(d, 99);
	shmq_hist_free(d);
}

static void top_rates(struct top_sample *now, const struct top_sample *before, double secs)
{
	size_t i, j;

	for (i = 0; i < now->n; i++)
		for (j = 0; j < before->n; j++)
			if (strcmp(now->rows[i].name, before->rows[j].name) == 0) {
				if (now->rows[i].count >= before->rows[j].count)
					now->rows[i].rate = (double)(now->rows[i].count -
								     before->rows[j].count) /
							    secs;
				top_latency(&now->rows[i], &before->rows[j]);
			}
}

/* " p50 X p99 Y" of the last interval, or "" when nothing recorded in it. */
static const char *lat_text(const struct top_row *r, char *buf, size_t len)
{
	char a[32], b[32];

	if (!r->lat_n)
		return "";
	snprintf(buf, len, "%sp50 %s p99 %s", r->group ? ", " : " ",
		 cli_fmt_ns(r->p50, a, sizeof(a)), cli_fmt_ns(r->p99, b, sizeof(b)));
	return buf;
}

static int sort_key; /* 0 name, 1 rate, 2 lag: for qsort()'s comparison */

/* Groups stay under their topic ("t" < "t@g" by name); rate and lag sort whole rows. */
static int top_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (sort_key == 1 && x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	if (sort_key == 2 && x->lag != y->lag)
		return x->lag < y->lag ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void top_print(shmq_bus *bus, const struct top_sample *s, bool json, bool clear)
{
	const struct top_row *r;
	char lat[80];
	size_t i;
	json_t *o;

	if (clear)
		fputs("\033[H\033[2J", stdout);
	if (!json)
		printf("%-32s %10s %10s %5s %5s %8s %8s %8s\n", "TOPIC / @GROUP", "MSG/S", "TAIL",
		       "PROD", "SUBS", "LAG", "LOST", "SKIPPED");
	for (i = 0; i < s->n; i++) {
		r = &s->rows[i];
		if (json) {
			o = json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:i}",
				      "namespace", shmq_bus_namespace(bus), "name", r->name, "kind",
				      r->group ? "group" : "topic",
				      r->group ? "acked_per_s" : "rate", r->rate,
				      r->group ? "acked" : "records", (json_int_t)r->count, "lag",
				      (json_int_t)r->lag, "lost", (json_int_t)r->lost, "skipped",
				      (json_int_t)r->skipped, r->group ? "pending" : "producers",
				      (json_int_t)(r->group ? r->pending : r->producers),
				      r->group ? "members" : "subscribers",
				      (int)(r->group ? r->members : r->subscribers));
			if (r->lat_n)
				json_object_set_new(o, "latency",
						    json_pack("{s:I, s:I, s:I}", "count",
							      (json_int_t)r->lat_n, "p50_ns",
							      (json_int_t)r->p50, "p99_ns",
							      (json_int_t)r->p99));
			cli_json_line(o);
		} else if (r->group) {
			printf("  %-30s %10.1f acked/s, lag %llu, pending %llu, in flight %llu, "
			       "members %u%s\n",
			       strchr(r->name, '@'), r->rate, (unsigned long long)r->lag,
			       (unsigned long long)r->pending, (unsigned long long)r->in_flight,
			       r->members, lat_text(r, lat, sizeof(lat)));
		} else {
			printf("%-32s %10.1f %10llu %5u %5u %8llu %8llu %8llu%s\n", r->name,
			       r->rate, (unsigned long long)r->count, r->producers, r->subscribers,
			       (unsigned long long)r->lag, (unsigned long long)r->lost,
			       (unsigned long long)r->skipped, lat_text(r, lat, sizeof(lat)));
		}
	}
	fflush(stdout);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int top_run(shmq_bus *bus, uint64_t interval, uint64_t frames, bool json, bool clear)
{
	struct top_sample before = { 0 }, now = { 0 };
	uint64_t i, t0 = cli_mono_ns(), t1;
	int r = top_take(bus, &before);

	for (i = 0; r == 0 && (!frames || i < frames); i++) {
		sleep_ns(interval);
		r = top_take(bus, &now);
		if (r < 0)
			break;
		t1 = cli_mono_ns();
		top_rates(&now, &before, (double)(t1 - t0) / 1e9);
		qsort(now.rows, now.n, sizeof(now.rows[0]), top_cmp);
		top_print(bus, &now, json, clear);
		top_free(&before);
		before = now;
		now.rows = NULL;
		now.n = 0;
		t0 = t1;
	}
	top_free(&before);
	top_free(&now);
	return r < 0 ? cli_fail("list namespace", r) : 0;
}

int top_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "interval", required_argument, NULL, 'd' },
					      { "count", required_argument, NULL, 'c' },
					      { "sort", required_argument, NULL, 's' },
					      { "once", no_argument, NULL, '1' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "top", .show = top_usage, .rc = -1 };
	uint64_t interval = 1000000000u, frames = 0;
	bool once = false;
	shmq_bus *bus;
	int ch, r;

	while ((ch = cli_getopt(&c, argc, argv, "d:c:s:", opts)) != -1) {
		if (ch == '1') {
			once = true;
		} else if (ch == 's') {
			sort_key = !strcmp(optarg, "rate") ? 1 : !strcmp(optarg, "lag") ? 2 : 0;
			if (!sort_key && strcmp(optarg, "name")) {
				cli_usage_error(&c, "--sort: not name, rate or lag:", optarg);
				break;
			}
		} else if ((ch == 'd' ? cli_duration(&c, "--interval", optarg, &interval)
				      : cli_number(&c, "--count", optarg, &frames)) < 0) {
			break;
		}
	}
	if (c.rc >= 0 || cli_operands(&c, argc, argv, 0, 0, "") >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	r = top_run(bus, interval, once ? 1 : frames, c.json, !once && !c.json && isatty(1));
	shmq_bus_close(bus);
	return r;
}
