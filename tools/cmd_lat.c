// SPDX-License-Identifier: MIT
/* cmd_lat.c - shmq lat: publish-to-receive latency at a fixed rate, timed from the schedule. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "cli.h"

/* Long options without a short letter. */
enum {
	OPT_LOSSY = 256,
};

static void lat_usage(FILE *f)
{
	fprintf(f,
		"usage: %s lat [-h] [-n NS] [-o table|json|FILE.hlog] [options] TOPIC\n"
		"Publish to TOPIC (created if absent) at a fixed rate from one thread and receive\n"
		"with a subscriber of its own in another, timing each record from when it was due\n"
		"to be sent (so a stalled sender does not hide its stall: no coordinated "
		"omission).\n"
		"Prints p50, p90, p99, p99.9 and max; -o FILE.hlog also writes each second's\n"
		"histogram as an HdrHistogram interval log (values in ns).\n"
		"options:\n"
		"  -r, --rate R        records a second (default 1000)\n"
		"  -c, --count N       send N records (default 1000)\n"
		"  -d, --duration D    send for D instead (R x D records)\n"
		"  -s, --size N        bytes a record (default 64)\n"
		"      --lossy         create TOPIC lossy (default reliable)\n" CLI_COMMON_HELP,
		PROG);
}

struct lat_args {
	const char *topic, *hlog;
	uint64_t rate, count, duration_ns, size;
	bool lossy, json;
};

/* What the receiving thread shares with the sending one. */
struct lat_run {
	const struct lat_args *a;
	shmq_sub *sub;
	FILE *log;
	uint64_t start_ns; /* the schedule's origin, shmq_now_ns() */
	double base_s; /* the same instant on the wall clock, for the .hlog */
	atomic_bool sent; /* the sender is done: stop once nothing more comes */
	/* Written by the receiver only, read after pthread_join(). */
	shmq_hist *all, *service, *iv;
	uint64_t received, lost;
	int err;
};

static int lat_option(struct cli *c, int ch, struct lat_args *a)
{
	switch (ch) {
	case 'r':
		return cli_number(c, "--rate", optarg, &a->rate);
	case 'c':
		return cli_number(c, "--count", optarg, &a->count);
	case 'd':
		return cli_duration(c, "--duration", optarg, &a->duration_ns);
	case 's':
		return cli_number(c, "--size", optarg, &a->size);
	case OPT_LOSSY:
		a->lossy = true;
		return 0;
	}
	return -1;
}

static int lat_parse(struct cli *c, int argc, char **argv, struct lat_args *a)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "rate", required_argument, NULL, 'r' },
					      { "count", required_argument, NULL, 'c' },
					      { "duration", required_argument, NULL, 'd' },
					      { "size", required_argument, NULL, 's' },
					      { "lossy", no_argument, NULL, OPT_LOSSY },
					      { NULL, 0, NULL, 0 } };
	bool count = false, duration = false;
	int ch;

	a->rate = 1000;
	a->count = 1000;
	a->size = 64;
	while ((ch = cli_getopt(c, argc, argv, "r:c:d:s:", opts)) != -1) {
		count |= ch == 'c';
		duration |= ch == 'd';
		if (lat_option(c, ch, a) < 0)
			break;
	}
	if (c->rc >= 0 || cli_operands(c, argc, argv, 1, 1, "TOPIC") >= 0)
		return c->rc;
	if (count && duration)
		return cli_usage_error(c, "--count and --duration: give one", NULL);
	if (a->rate == 0 || a->rate > 10000000)
		return cli_usage_error(c, "--rate: 1 to 10000000 a second", NULL);
	if (duration)
		a->count = (uint64_t)((double)a->duration_ns / 1e9 * (double)a->rate);
	if (a->count == 0)
		return cli_usage_error(c, "nothing to send: --count or --duration is 0", NULL);
	a->topic = argv[optind];
	a->json = c->json;
	a->hlog = c->hlog;
	return -1;
}

static double wall_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The .hlog's interval of the second that ends at @now_ns, if one has ended; @force: always. */
static void lat_interval(struct lat_run *run, uint64_t now_ns, uint64_t *iv_start, bool force)
{
	double start_s = (double)(*iv_start - run->start_ns) / 1e9;

	assert(*iv_start >= run->start_ns);
	if (now_ns < *iv_start) /* the schedule starts a moment after the receiver does */
		now_ns = *iv_start;
	if (!run->log || (!force && now_ns - *iv_start < 1000000000u))
		return;
	if (shmq_hist_log_write(run->log, NULL, start_s, (double)(now_ns - *iv_start) / 1e9,
				run->iv) < 0 &&
	    !run->err)
		run->err = -EIO;
	shmq_hist_reset(run->iv);
	*iv_start = now_ns;
}

/* Record one record's latency: from when it was due (its corr id) and from when it was sent. */
static void lat_record(struct lat_run *run, const struct shmq_sub_msg *m, uint64_t now)
{
	int64_t due = (int64_t)(now - m->corr_id), sent = (int64_t)(now - m->ts_ns);

	(void)shmq_hist_record(run->all, due > 0 ? due : 1);
	(void)shmq_hist_record(run->iv, due > 0 ? due : 1);
	(void)shmq_hist_record(run->service, sent > 0 ? sent : 1);
	run->received++;
	run->lost += m->lost + m->skipped;
}

/* The receiving thread: park until a record comes, never spin. */
static void *lat_receiver(void *arg)
{
	struct lat_run *run = arg;
	uint64_t iv_start = run->start_ns, now;
	struct shmq_sub_msg m;
	char *buf = malloc(run->a->size ? run->a->size : 1);
	bool done;
	int r;

	while (buf && run->received + run->lost < run->a->count) {
		r = shmq_sub_recv(run->sub, buf, run->a->size, &m);
		now = shmq_now_ns();
		if (r >= 0)
			lat_record(run, &m, now);
		else if (r == -EBADMSG)
			run->lost++;
		lat_interval(run, now, &iv_start, false);
		if (r >= 0 || r == -EBADMSG)
			continue;
		if (r != -EAGAIN) {
			run->err = r;
			break;
		}
		/*
		 * A: pairs with R in lat_send(). Sampled before the wait: once it was true,
		 * every record was out before the wait began, so its timeout means the end.
		 */
		done = atomic_load_explicit(&run->sent, memory_order_acquire);
		r = shmq_sub_wait(run->sub, 0, 100000000u);
		if (r == -ETIMEDOUT && done)
			break;
		if (r < 0 && r != -ETIMEDOUT) {
			run->err = r;
			break;
		}
	}
	lat_interval(run, shmq_now_ns(), &iv_start, true);
	free(buf);
	return NULL;
}

/* Send record @i at its due time (absolute sleep until then), the due time as its corr id. */
static int lat_send(shmq_pub *pub, struct lat_run *run, const char *body)
{
	uint64_t i, due;
	struct timespec ts;
	int r = 0;

	/* Wake on time: the default 50 us of timer slack would count as latency. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	for (i = 0; r == 0 && i < run->a->count; i++) {
		due = run->start_ns + (uint64_t)((double)i * 1e9 / (double)run->a->rate);
		ts.tv_sec = (time_t)(due / 1000000000u);
		ts.tv_nsec = (long)(due % 1000000000u);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		while ((r = shmq_pub_send(pub, body, run->a->size, due)) == -EAGAIN) {
			r = shmq_pub_wait(pub, 0, 1000000000u);
			if (r < 0)
				break;
		}
	}
	/* R: pairs with A in lat_receiver(). */
	atomic_store_explicit(&run->sent, true, memory_order_release);
	return r;
}

static void lat_print(const struct lat_run *run)
{
	static const double p[] = { 50, 90, 99, 99.9 };
	static const char *const pn[] = { "p50", "p90", "p99", "p99.9" };
	const struct lat_args *a = run->a;
	char buf[32];
	json_t *o;
	size_t i;

	if (a->json) {
		o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "topic", a->topic, "rate",
			      (json_int_t)a->rate, "sent", (json_int_t)a->count, "count",
			      (json_int_t)run->received, "lost", (json_int_t)run->lost);
		json_object_set_new(o, "p50_ns",
				    json_integer(shmq_hist_value_at_percentile(run->all, 50)));
		json_object_set_new(o, "p90_ns",
				    json_integer(shmq_hist_value_at_percentile(run->all, 90)));
		json_object_set_new(o, "p99_ns",
				    json_integer(shmq_hist_value_at_percentile(run->all, 99)));
		json_object_set_new(o, "p999_ns",
				    json_integer(shmq_hist_value_at_percentile(run->all, 99.9)));
		json_object_set_new(o, "max_ns", json_integer(shmq_hist_max(run->all)));
		cli_json_line(o);
		return;
	}
	printf("%s: count %llu at %llu/s, %llu bytes, lost %llu\n", a->topic,
	       (unsigned long long)run->received, (unsigned long long)a->rate,
	       (unsigned long long)a->size, (unsigned long long)run->lost);
	printf("latency from when each was due:");
	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		printf(" %s %s", pn[i],
		       cli_fmt_ns(shmq_hist_value_at_percentile(run->all, p[i]), buf, sizeof(buf)));
	printf(" max %s\n", cli_fmt_ns(shmq_hist_max(run->all), buf, sizeof(buf)));
	printf("from when each was sent:       ");
	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		printf(" %s %s", pn[i],
		       cli_fmt_ns(shmq_hist_value_at_percentile(run->service, p[i]), buf,
				  sizeof(buf)));
	printf(" max %s\n", cli_fmt_ns(shmq_hist_max(run->service), buf, sizeof(buf)));
}

static int lat_hists(struct lat_run *run)
{
	int r = shmq_hist_new(1, SHMQ_LATENCY_HIGHEST_NS, 3, &run->all);

	if (r == 0)
		r = shmq_hist_new(1, SHMQ_LATENCY_HIGHEST_NS, 3, &run->service);
	if (r == 0)
		r = shmq_hist_new(1, SHMQ_LATENCY_HIGHEST_NS, 3, &run->iv);
	return r;
}

/* Receive in a thread of our own while this one sends. */
static int lat_go(shmq_pub *pub, struct lat_run *run)
{
	char *body = calloc(1, run->a->size ? run->a->size : 1);
	pthread_t t;
	int r;

	if (!body)
		return -ENOMEM;
	memset(body, 'x', run->a->size);
	run->start_ns = shmq_now_ns() + 1000000u; /* the first due in 1 ms: the thread is up */
	run->base_s = wall_now_s() + 0.001;
	if (run->log &&
	    shmq_hist_log_write_header(run->log, "shmq lat", run->base_s, run->base_s) < 0) {
		free(body);
		return -EIO;
	}
	r = -pthread_create(&t, NULL, lat_receiver, run);
	if (r == 0) {
		r = lat_send(pub, run, body);
		pthread_join(t, NULL);
	}
	free(body);
	return r < 0 ? r : run->err;
}

static int lat_run(shmq_bus *bus, const struct lat_args *a, shmq_pub *pub)
{
	struct lat_run run = { .a = a };
	int r = lat_hists(&run);

	if (r == 0)
		r = shmq_sub_open(bus, a->topic, SHMQ_SUB_LATEST, NULL, 0, &run.sub);
	if (r == 0 && a->hlog) {
		run.log = fopen(a->hlog, "w");
		r = run.log ? 0 : -errno;
	}
	if (r == 0)
		r = lat_go(pub, &run);
	if (run.log && fclose(run.log) != 0 && r == 0)
		r = -EIO;
	if (r == 0)
		lat_print(&run);
	shmq_sub_close(run.sub);
	shmq_hist_free(run.all);
	shmq_hist_free(run.service);
	shmq_hist_free(run.iv);
	return r;
}

int lat_main(int argc, char **argv)
{
	struct cli c = { .cmd = "lat", .show = lat_usage, .rc = -1, .hlog_ok = true };
	struct shmq_topic_config cfg = { 0 };
	struct lat_args a = { 0 };
	char what[512];
	shmq_bus *bus;
	shmq_pub *pub;
	int r;

	if (lat_parse(&c, argc, argv, &a) >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	cfg.policy = a.lossy ? SHMQ_TOPIC_LOSSY : SHMQ_TOPIC_RELIABLE;
	snprintf(what, sizeof(what), "open topic '%s' in namespace '%s'", a.topic,
		 shmq_bus_namespace(bus));
	r = shmq_pub_open(bus, a.topic, SHMQ_OPEN_CREATE, &cfg, &pub);
	if (r == -EBADE && !a.lossy) /* an existing topic: take it as it is */
		r = shmq_pub_open(bus, a.topic, 0, NULL, &pub);
	if (r == 0) {
		snprintf(what, sizeof(what), "measure latency on topic '%s' in namespace '%s'",
			 a.topic, shmq_bus_namespace(bus));
		r = lat_run(bus, &a, pub);
		shmq_pub_close(pub);
	}
	shmq_bus_close(bus);
	return r < 0 ? cli_fail(what, r) : 0;
}
