// SPDX-License-Identifier: MIT
/* cmd_hist.c - shmq hist: live latency percentiles of subscribers and members, .hlog output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* @ns as a short duration: "850ns", "12.3us", "4.56ms", "1.23s". */
const char *cli_fmt_ns(int64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%lldns", (long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.3gus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.3gms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.3gs", (double)ns / 1e9);
	return buf;
}

static void summary(const shmq_hist *h, char *buf, size_t len)
{
	char a[32], b[32], c[32], d[32];

	snprintf(buf, len, "%llu records, p50 %s, p99 %s, p99.9 %s, max %s",
		 (unsigned long long)shmq_hist_total(h),
		 cli_fmt_ns(shmq_hist_value_at_percentile(h, 50), a, sizeof(a)),
		 cli_fmt_ns(shmq_hist_value_at_percentile(h, 99), b, sizeof(b)),
		 cli_fmt_ns(shmq_hist_value_at_percentile(h, 99.9), c, sizeof(c)),
		 cli_fmt_ns(shmq_hist_max(h), d, sizeof(d)));
}

static json_t *hist_json(const shmq_hist *h)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "count", (json_int_t)shmq_hist_total(h),
			 "p50_ns", (json_int_t)shmq_hist_value_at_percentile(h, 50), "p99_ns",
			 (json_int_t)shmq_hist_value_at_percentile(h, 99), "p999_ns",
			 (json_int_t)shmq_hist_value_at_percentile(h, 99.9), "max_ns",
			 (json_int_t)shmq_hist_max(h));
}

void cli_lat_print_topic(shmq_bus *bus, const char *topic)
{
	int i, n = shmq_latency_entries(bus, topic, NULL);
	shmq_hist *h;
	char buf[160];
	pid_t pid;

	for (i = 0; i < n; i++) {
		if (shmq_latency_read(bus, topic, NULL, (uint32_t)i, SHMQ_LATENCY_DELIVERY, &pid,
				      &h) < 0)
			continue;
		summary(h, buf, sizeof(buf));
		printf("  subscriber pid %d delivery latency: %s\n", (int)pid, buf);
		shmq_hist_free(h);
	}
}

json_t *cli_lat_topic_json(shmq_bus *bus, const char *topic)
{
	int i, n = shmq_latency_entries(bus, topic, NULL);
	json_t *a = json_array();
	shmq_hist *h;
	pid_t pid;

	for (i = 0; i < n; i++) {
		if (shmq_latency_read(bus, topic, NULL, (uint32_t)i, SHMQ_LATENCY_DELIVERY, &pid,
				      &h) < 0)
			continue;
		json_array_append_new(a, json_pack("{s:i, s:i, s:o}", "entry", i, "pid", (int)pid,
						   "delivery", hist_json(h)));
		shmq_hist_free(h);
	}
	return a;
}

static const char *const which_name[] = { "delivery latency", "processing time" };

void cli_lat_print_group(shmq_bus *bus, const char *topic, const char *group)
{
	shmq_hist *h;
	char buf[160];
	unsigned w;

	for (w = SHMQ_LATENCY_DELIVERY; w <= SHMQ_LATENCY_PROCESSING; w++) {
		if (shmq_latency_read(bus, topic, group, SHMQ_LATENCY_ALL, w, NULL, &h) < 0)
			continue;
		summary(h, buf, sizeof(buf));
		printf("    %s: %s\n", which_name[w], buf);
		shmq_hist_free(h);
	}
}

void cli_lat_group_json(shmq_bus *bus, const char *topic, const char *group, json_t *obj)
{
	shmq_hist *h;
	unsigned w;

	for (w = SHMQ_LATENCY_DELIVERY; w <= SHMQ_LATENCY_PROCESSING; w++) {
		if (shmq_latency_read(bus, topic, group, SHMQ_LATENCY_ALL, w, NULL, &h) < 0)
			continue;
		json_object_set_new(obj, w ? "processing" : "delivery", hist_json(h));
		shmq_hist_free(h);
	}
}

/* ---- shmq hist ---- */

static void hist_usage(FILE *f)
{
	fprintf(f,
		"usage: %s hist [-h] [-n NS] [-o table|json|FILE.hlog] [-g G] [-p] [-i D] [-c N] "
		"TOPIC\n"
		"The live delivery latency (publish to receive) of a topic's subscribers, or of a\n"
		"group's members, merged: those that record it (opened with SHMQ_SUB_LATENCY, or\n"
		"shmq sub --latency). Without --interval, the percentile distribution since each\n"
		"recorder started; with it, each interval's own percentiles. -o FILE.hlog writes\n"
		"the intervals as an HdrHistogram interval log instead (values in ns).\n"
		"options:\n"
		"  -g, --group G       the members of group G\n"
		"  -p, --processing    the members' processing time (receive to ack) instead\n"
		"  -i, --interval D    report every D (default for an .hlog: 1s)\n"
		"  -c, --count N       stop after N intervals (default: never)\n"
		"      --svg FILE      also plot the distribution (latency by percentile) as "
		"SVG\n" CLI_COMMON_HELP,
		PROG);
}

struct hist_opts {
	const char *topic, *group;
	unsigned which;
	uint64_t interval_ns, count;
	bool json;
	const char *hlog, *svg;
};

/* What @cur holds that @prev did not (@cur alone when the recorders started over). */
int cli_lat_interval(const shmq_hist *cur, const shmq_hist *prev, shmq_hist **ret)
{
	struct shmq_hist_iter_step st;
	shmq_hist_iter *it;
	shmq_hist *d;
	uint64_t was;
	int r;

	if (!prev || shmq_hist_total(cur) < shmq_hist_total(prev))
		return shmq_hist_copy(cur, ret);
	r = shmq_hist_new(shmq_hist_lowest(cur), shmq_hist_highest(cur), shmq_hist_sigfigs(cur),
			  &d);
	if (r < 0)
		return r;
	r = shmq_hist_iter_recorded(cur, &it);
	if (r < 0) {
		shmq_hist_free(d);
		return r;
	}
	while (shmq_hist_iter_next(it, &st) == 1) {
		was = shmq_hist_count_at(prev, st.value);
		if (st.count_at_value > was)
			(void)shmq_hist_record_n(d, st.value, st.count_at_value - was);
	}
	shmq_hist_iter_free(it);
	*ret = d;
	return 0;
}

/* The live histogram now; an empty one when nobody records (yet). */
static int read_now(shmq_bus *bus, const struct hist_opts *o, shmq_hist **ret)
{
	int r = shmq_latency_read(bus, o->topic, o->group, SHMQ_LATENCY_ALL, o->which, NULL, ret);

	if (r == -ENOENT)
		return shmq_hist_new(SHMQ_LATENCY_LOWEST_NS, SHMQ_LATENCY_HIGHEST_NS,
				     SHMQ_LATENCY_SIGFIGS, ret);
	return r;
}

static void sleep_until(uint64_t mono_ns)
{
	uint64_t now = cli_mono_ns();
	struct timespec ts;

	if (now >= mono_ns)
		return;
	ts.tv_sec = (time_t)((mono_ns - now) / 1000000000u);
	ts.tv_nsec = (long)((mono_ns - now) % 1000000000u);
	nanosleep(&ts, NULL);
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int report(const struct hist_opts *o, FILE *log, const shmq_hist *d, double start_s,
		  double len_s)
{
	char buf[160];
	json_t *j;

	if (log)
		return shmq_hist_log_write(log, o->which ? "processing" : "delivery", start_s,
					   len_s, d);
	if (o->json) {
		j = hist_json(d);
		json_object_set_new(j, "start_s", json_real(start_s));
		json_object_set_new(j, "interval_s", json_real(len_s));
		cli_json_line(j);
		return 0;
	}
	summary(d, buf, sizeof(buf));
	printf("%s\n", buf);
	fflush(stdout);
	return 0;
}

static int run_intervals(shmq_bus *bus, const struct hist_opts *o, FILE *log)
{
	shmq_hist *prev = NULL, *cur, *d;
	double base = wall_s(), t0 = base, t1;
	uint64_t next = cli_mono_ns(), i;
	int r;

	if (log && shmq_hist_log_write_header(log, "shmq hist", base, base) < 0)
		return -EIO;
	r = read_now(bus, o, &prev);
	for (i = 0; r >= 0 && (!o->count || i < o->count); i++) {
		next += o->interval_ns;
		sleep_until(next);
		r = read_now(bus, o, &cur);
		if (r < 0)
			break;
		t1 = wall_s();
		r = cli_lat_interval(cur, prev, &d);
		shmq_hist_free(prev);
		prev = cur;
		if (r < 0)
			break;
		r = report(o, log, d, t0 - base, t1 - t0);
		if (log)
			fflush(log);
		shmq_hist_free(d);
		t0 = t1;
	}
	shmq_hist_free(prev);
	return r;
}

static int print_once(shmq_bus *bus, const struct hist_opts *o)
{
	shmq_hist *h;
	json_t *j;
	int r;

	r = shmq_latency_read(bus, o->topic, o->group, SHMQ_LATENCY_ALL, o->which, NULL, &h);
	if (r < 0)
		return r;
	if (o->json) {
		j = hist_json(h);
		json_object_set_new(j, "topic", json_string(o->topic));
		cli_json_line(j);
	} else {
		r = shmq_hist_print_percentiles(h, stdout, 5, 1000.0, 0);
	}
	if (r >= 0 && o->svg)
		r = cli_hist_svg(h, o->svg, o->topic);
	shmq_hist_free(h);
	return r;
}

static int hist_run(shmq_bus *bus, const struct hist_opts *o)
{
	FILE *log = NULL;
	int r;

	if (!o->interval_ns)
		return print_once(bus, o);
	if (o->hlog) {
		log = fopen(o->hlog, "w");
		if (!log)
			return -errno;
	}
	r = run_intervals(bus, o, log);
	if (log && fclose(log) != 0 && r >= 0)
		r = -EIO;
	return r;
}

int hist_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "group", required_argument, NULL, 'g' },
					      { "processing", no_argument, NULL, 'p' },
					      { "interval", required_argument, NULL, 'i' },
					      { "count", required_argument, NULL, 'c' },
					      { "svg", required_argument, NULL, 'S' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "hist", .show = hist_usage, .rc = -1, .hlog_ok = true };
	struct hist_opts o = { 0 };
	char what[512];
	shmq_bus *bus;
	int ch, r = 0;

	while (r >= 0 && (ch = cli_getopt(&c, argc, argv, "g:pi:c:", opts)) != -1) {
		if (ch == 'g')
			o.group = optarg;
		else if (ch == 'p')
			o.which = SHMQ_LATENCY_PROCESSING;
		else if (ch == 'S')
			o.svg = optarg;
		else if (ch == 'i')
			r = cli_duration(&c, "--interval", optarg, &o.interval_ns);
		else
			r = cli_number(&c, "--count", optarg, &o.count);
	}
	if (c.rc >= 0 || cli_operands(&c, argc, argv, 1, 1, "TOPIC") >= 0)
		return c.rc;
	if (o.which && !o.group)
		return cli_usage_error(&c, "--processing: only a group's members have it", NULL);
	o.topic = argv[optind];
	o.json = c.json;
	o.hlog = c.hlog;
	if (o.svg && (o.interval_ns || o.hlog))
		return cli_usage_error(
			&c, "--svg: the distribution since the start, without -i or .hlog", NULL);
	if (o.hlog && !o.interval_ns)
		o.interval_ns = 1000000000u;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	snprintf(what, sizeof(what), "latency of %s%s%s in namespace '%s'", o.topic,
		 o.group ? "@" : "", o.group ? o.group : "", shmq_bus_namespace(bus));
	r = hist_run(bus, &o);
	shmq_bus_close(bus);
	return r < 0 ? cli_fail(what, r) : 0;
}
