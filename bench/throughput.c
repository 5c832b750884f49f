// SPDX-License-Identifier: MIT
/* throughput.c - one-way streaming rate of shmq-spsc and topics against raw-stream. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "throughput.h"

/* Messages per second of each rep, [rep][size][transport]. */
static double *rate_at(double *rates, const struct tp_opts *o, uint64_t rep, int si, int ti)
{
	return rates + (rep * (size_t)o->nsizes + (size_t)si) * TP_NTRANSPORTS + (size_t)ti;
}

/* ---- one measurement ---- */

/* Lay the batch buffers out one cache-line-rounded message apart (not 64 KiB: no aliasing). */
static void tp_buffers(struct tp_run *r)
{
	size_t stride = ((size_t)r->size + 63) & ~(size_t)63;
	unsigned i;

	for (i = 0; i < TP_MAX_BATCH; i++) {
		r->iov[i].iov_base = r->pbuf + i * stride;
		r->iov[i].iov_len = r->size;
		r->rmsg[i].buf = r->cbuf + i * stride;
		r->rmsg[i].cap = r->size;
	}
}

static unsigned producers_of(const struct tp_transport *t)
{
	return t->nprod ? t->nprod : 1;
}

/* With P producers each sends an equal share of warm-up + msgs, rounded up. */
static void run_reset(const struct tp_transport *t, const struct tp_opts *o, struct tp_run *r)
{
	r->name[0] = r->tname[0] = '\0';
	r->rx = NULL;
	r->sub = NULL;
	r->grp = NULL;
	r->gtopic[0] = '\0';
	r->keep_name = false;
	r->pub_flags = t->pub_flags;
	r->ring = NULL;
	r->t0 = r->t1 = 0;
	if (t->link)
		link_init(&r->lk, t->link, r->size, true);
	r->batch = (unsigned)o->batch;
	r->nprod = producers_of(t);
	r->warmup = o->warmup;
	r->per_prod = (o->warmup + o->msgs + r->nprod - 1) / r->nprod;
	r->total = r->per_prod * r->nprod;
	/* Sharing a CPU, a spinning process would hold it until the tick: yield instead. */
	r->yield = !o->cpus.pinned || cpus_oversubscribed(&o->cpus, r->nprod + 1);
	tp_buffers(r);
}

static int tp_once(const struct tp_transport *t, const struct tp_opts *o, struct tp_run *r)
{
	struct peer kids[BENCH_MAX_PEERS] = { 0 };
	int e;

	run_reset(t, o, r);
	e = t->setup(r);
	if (e == 0) {
		e = peers_start(kids, r->nprod, &o->cpus, t->produce, r, &r->idx);
		if (e < 0)
			e = fail("fork", e);
	}
	if (e == 0) {
		r->spin = (struct spin){ .child = kids, .nchild = r->nprod, .yield = r->yield };
		e = t->consume(r);
	}
	if (e == 0)
		e = peers_wait(kids, r->nprod);
	if (e == 0)
		e = t->finish(r);
	if (e < 0)
		peers_kill(kids, r->nprod);
	t->teardown(r);
	return e < 0 ? -1 : 0;
}

static int tp_all(const struct tp_opts *o, double *rates, struct tp_run *r)
{
	uint64_t rep;
	int si, ti;

	for (rep = 0; rep < o->reps; rep++) {
		if (!o->json && isatty(STDERR_FILENO))
			fprintf(stderr, "\rrep %llu/%llu ", (unsigned long long)rep + 1,
				(unsigned long long)o->reps);
		for (si = 0; si < o->nsizes; si++) {
			r->size = o->sizes[si];
			for (ti = 0; ti < TP_NTRANSPORTS; ti++) {
				if (!o->use[ti] || !tp_fits(tp_transports[ti], r->size))
					continue;
				if (tp_once(tp_transports[ti], o, r) < 0)
					return -1;
				*rate_at(rates, o, rep, si, ti) = (double)(r->total - r->warmup) *
								  1e9 / (double)(r->t1 - r->t0);
			}
		}
	}
	if (!o->json && isatty(STDERR_FILENO))
		fprintf(stderr, "\r%20s\r", "");
	return 0;
}

/* ---- reporting ---- */

void tp_summarize(const struct tp_opts *o, double *rates, int si, int ti, struct tp_summary *s)
{
	double *tmp = calloc(o->reps, sizeof(*tmp));
	uint64_t rep;

	if (!tmp)
		abort();
	for (rep = 0; rep < o->reps; rep++)
		tmp[rep] = *rate_at(rates, o, rep, si, ti);
	s->med = median_double(tmp, o->reps);
	s->min = tmp[0];
	s->max = tmp[o->reps - 1];
	free(tmp);
}

static bool oversubscribed(const struct tp_opts *o, int ti)
{
	return cpus_oversubscribed(&o->cpus, producers_of(tp_transports[ti]) + 1);
}

static void print_json_row(const struct tp_opts *o, int si, int ti, const struct tp_summary *s)
{
	const struct tp_transport *t = tp_transports[ti];
	unsigned size = o->sizes[si];

	printf("{\"bench\":\"throughput\",\"transport\":\"%s\",\"wait\":\"%s\",\"size\":%u,"
	       "\"touch\":\"%s\",\"timestamps\":%s,",
	       t->name, wait_name(t->block), size, tp_touch_first8 ? "first8" : "ends",
	       bench_create_flags & SHMQ_OPEN_NO_TIMESTAMPS ? "false" : "true");
	if (t->topic)
		printf("\"producers\":%u,\"subscribers\":1,", producers_of(t));
	if (t->group)
		printf("\"producers\":%u,\"members\":1,", producers_of(t));
	printf("\"processes\":%u,\"oversubscribed\":%s,", producers_of(t) + 1,
	       oversubscribed(o, ti) ? "true" : "false");
	printf("\"msgs\":%llu,\"reps\":%llu,\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,"
	       "\"msgs_per_s_min\":%.0f,\"msgs_per_s_max\":%.0f}\n",
	       (unsigned long long)o->msgs, (unsigned long long)o->reps, s->med,
	       s->med * size / 1e6, s->min, s->max);
}

static void print_row(const struct tp_opts *o, int si, int ti, const struct tp_summary *s)
{
	unsigned size = o->sizes[si];

	if (o->json) {
		print_json_row(o, si, ti, s);
		return;
	}
	printf("%6u  %-21s %-5s %10.2f %10.1f   %.2f-%.2f", size, tp_transports[ti]->name,
	       wait_name(tp_transports[ti]->block), s->med / 1e6, s->med * size / 1e6, s->min / 1e6,
	       s->max / 1e6);
	if (oversubscribed(o, ti))
		printf("   oversubscribed: %u processes on %d CPU%s",
		       producers_of(tp_transports[ti]) + 1, o->cpus.nallowed,
		       o->cpus.nallowed == 1 ? "" : "s");
	printf("\n");
}

/*
 * Ratios of the medians: each shmq variant against the baseline that publishes as often
 * (group 0), the topics against the channel and the work queue against the topic (group 1),
 * and the same with an exclusive producer (group 2).
 */
static const struct tp_pair {
	int num, den;
	const char *key;
	int group;
} tp_pairs[] = {
	{ TP_SHMQ, TP_RAW, "spsc_over_raw", 0 },
	{ TP_BATCH, TP_RAW, "batch_over_raw", 0 },
	{ TP_SHMQ, TP_RAW_MSG, "spsc_over_raw_msg", 0 },
	{ TP_TOPIC, TP_SHMQ, "topic_over_spsc", 1 },
	{ TP_TOPIC_BATCH, TP_BATCH, "topic_batch_over_spsc_batch", 1 },
	{ TP_TOPIC, TP_RAW_MSG, "topic_over_raw_msg", 1 },
	{ TP_QUEUE, TP_TOPIC, "queue_over_topic", 1 },
	{ TP_TOPIC_EXCL, TP_SHMQ, "topic_excl_over_spsc", 2 },
	{ TP_TOPIC_EXCL_BATCH, TP_BATCH, "topic_excl_batch_over_spsc_batch", 2 },
	{ TP_TOPIC_EXCL, TP_RAW_MSG, "topic_excl_over_raw_msg", 2 },
};

static int print_ratio_group(const struct tp_opts *o, const struct tp_summary *s, int group, int n)
{
	size_t i;
	int first = n;

	for (i = 0; i < sizeof(tp_pairs) / sizeof(tp_pairs[0]); i++) {
		const struct tp_pair *p = &tp_pairs[i];
		const struct tp_summary *num = &s[p->num], *den = &s[p->den];

		if (p->group != group || !o->use[p->num] || !o->use[p->den] || den->med <= 0)
			continue;
		if (o->json)
			printf("%s\"%s\":%.3f", n ? "," : "{\"bench\":\"throughput-ratio\",",
			       p->key, num->med / den->med);
		else
			printf("%s  %s / %s = %.2f", n == first ? "        ratio:" : "",
			       tp_transports[p->num]->name, tp_transports[p->den]->name,
			       num->med / den->med);
		n++;
	}
	if (!o->json && n > first)
		printf("\n");
	return n;
}

static void print_ratio(const struct tp_opts *o, int si, const struct tp_summary *s)
{
	int n = print_ratio_group(o, s, 0, 0);

	n = print_ratio_group(o, s, 1, n);
	n = print_ratio_group(o, s, 2, n);
	if (n && o->json)
		printf(",\"size\":%u}\n", o->sizes[si]);
}

static void print_check(const struct tp_opts *o, const struct tp_summary *s, int num, int den,
			const char *what)
{
	bool have = o->use[num] && o->use[den] && s[den].med > 0;
	double v = have ? s[num].med / s[den].med : 0;
	const char *verdict = !have ? "SKIP" : v >= 0.5 ? "PASS" : "MISS";

	if (o->json)
		printf("{\"bench\":\"target\",\"name\":\"%s/%s 64-byte "
		       "throughput\",\"kind\":\"%s\","
		       "\"value\":%.3f,\"op\":\">=\",\"limit\":0.50,\"result\":\"%s\"}\n",
		       tp_transports[num]->name, tp_transports[den]->name, what, v, verdict);
	else if (have)
		printf("%s %s/%s 64-byte throughput: %.2f (>= 0.50; %s)\n", verdict,
		       tp_transports[num]->name, tp_transports[den]->name, v, what);
	else
		printf("SKIP %s/%s: a transport it needs was not run\n", tp_transports[num]->name,
		       tp_transports[den]->name);
}

/*
 * The target: 64-byte shmq-spsc at least half the raw streaming rate (raw-stream,
 * whose indices move once per batch). The two like-for-like comparisons follow, marked so.
 */
static void print_targets(const struct tp_opts *o, const struct tp_summary *s)
{
	if (!o->json)
		printf("\ntargets (64 bytes, medians of the same run%s):\n",
		       o->cpus.pinned ? "" : "; UNPINNED, one CPU: the targets assume two");
	print_check(o, s, TP_SHMQ, TP_RAW, "target");
	print_check(o, s, TP_SHMQ, TP_RAW_MSG, "info: both publish per message");
	print_check(o, s, TP_BATCH, TP_RAW, "info: both publish per batch");
	if (!o->json)
		printf("\n");
}

static void report(const struct tp_opts *o, double *rates)
{
	struct tp_summary s[TP_NTRANSPORTS];
	int si, ti;
	bool have64 = false;

	if (!o->json)
		printf("throughput: one way, median over %llu reps of %llu messages each (after "
		       "%llu warm-up);\nthe workload writes and checks %s of each payload%s\n"
		       "  size  transport             wait      Mmsg/s       MB/s"
		       "   Mmsg/s min-max over reps\n",
		       (unsigned long long)o->reps, (unsigned long long)o->msgs,
		       (unsigned long long)o->warmup,
		       tp_touch_first8 ? "the first 8 bytes" : "the first and last 8 bytes",
		       bench_create_flags & SHMQ_OPEN_NO_TIMESTAMPS
			       ? ";\nshmq's channels and topics carry no publish times"
			       : "");
	for (si = 0; si < o->nsizes; si++) {
		memset(s, 0, sizeof(s));
		for (ti = 0; ti < TP_NTRANSPORTS; ti++) {
			if (!o->use[ti])
				continue;
			if (!tp_fits(tp_transports[ti], o->sizes[si])) {
				link_skip_print(o->json, "throughput", tp_transports[ti]->link,
						o->sizes[si], 21);
				continue;
			}
			tp_summarize(o, rates, si, ti, &s[ti]);
			print_row(o, si, ti, &s[ti]);
		}
		print_ratio(o, si, s);
		if (o->sizes[si] == 64 && !have64) {
			print_targets(o, s);
			have64 = true;
		}
	}
	if (!have64 && !o->json)
		printf("\ntarget: not checked (it is defined at 64 bytes; add 64 to --sizes)\n");
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s throughput [OPTIONS]\n"
		"One-way streaming rate from producers to a consumer on different CPUs.\n"
		"  -s, --sizes LIST       payload bytes, comma-separated (default 8,64,512,4096)\n"
		"  -m, --msgs N           timed messages per measurement (default 1000000)\n"
		"  -w, --warmup N         untimed messages first (default msgs/10, at least 1)\n"
		"  -r, --reps R           interleaved repetitions; medians are reported (default "
		"5)\n"
		"  -b, --batch B          messages per send_many/recv_many (the -batch variants),\n"
		"                         and per index update of\n"
		"                         raw-stream (default 32, max %d)\n"
		"  -c, --cpus A,B         CPUs of the consumer and the (first) producer; more\n"
		"                         producers go round-robin over the allowed CPUs\n"
		"                         (default 0,1)\n"
		"  -t, --transports LIST  of shmq-spsc,shmq-spsc-batch,shmq-topic,\n"
		"                         shmq-topic-batch,shmq-topic-excl,shmq-topic-excl-batch,\n"
		"                         shmq-queue (a consumer-group member: recv + ack of\n"
		"                         every record), raw-stream,raw-stream-msg,\n"
		"                         pipe,uds (4-byte length\n"
		"                         frames), uds-dgram,eventfd,posix-mq,zmq-ipc,nng-ipc,\n"
		"                         iceoryx,iceoryx-ws and shmq-topic-mpP for P of 1,2,4,8\n"
		"                         producer processes (default: all that were built);\n"
		"                         -excl: the producer opens with SHMQ_PUB_EXCLUSIVE\n"
		"%s"
		"  -T, --touch ends|8     what the workload writes and checks of each payload:\n"
		"                         its first and last 8 bytes (ends, the default), or\n"
		"                         only its first 8 (as peers whose samples touch 8\n"
		"                         bytes); the transport moves the whole payload either "
		"way\n"
		"  -N, --no-timestamps    shmq's channels and topics made with\n"
		"                         SHMQ_OPEN_NO_TIMESTAMPS: no publish time per record\n"
		"  -j, --json             one JSON object per line\n"
		"  -h, --help             this text\n",
		BENCH_PROG, TP_MAX_BATCH, link_missing_text());
}

static int usage_error(const char *what, const char *arg)
{
	if (what)
		fprintf(stderr, "%s throughput: invalid %s '%s'\n", BENCH_PROG, what, arg);
	fprintf(stderr, "Try '%s throughput --help'.\n", BENCH_PROG);
	return 2;
}

static int transports_parse(const char *arg, bool *use)
{
	const char *names[TP_NTRANSPORTS];
	int ti;

	for (ti = 0; ti < TP_NTRANSPORTS; ti++)
		names[ti] = tp_transports[ti]->name;
	if (list_parse(arg, names, TP_NTRANSPORTS, use) < 0)
		return -1;
	for (ti = 0; ti < TP_NTRANSPORTS; ti++) {
		if (use[ti] && !tp_available(tp_transports[ti]))
			return link_missing_error(tp_transports[ti]->link);
	}
	return 0;
}

bool tp_touch_first8;

void tp_opts_default(struct tp_opts *o)
{
	static const unsigned sizes[] = { 8, 64, 512, 4096 };
	int ti;

	memset(o, 0, sizeof(*o));
	memcpy(o->sizes, sizes, sizeof(sizes));
	o->nsizes = 4;
	o->msgs = 1000000;
	o->reps = 5;
	o->batch = 32;
	for (ti = 0; ti < TP_NTRANSPORTS; ti++)
		o->use[ti] = tp_available(tp_transports[ti]);
}

/* One option: -1 to go on, else the exit status. */
static int opt_one(int c, struct tp_opts *o)
{
	const char *bad = NULL;

	switch (c) {
	case 's':
		o->nsizes = sizes_parse(optarg, o->sizes, BENCH_MAX_SIZES);
		bad = o->nsizes > 0 ? NULL : "size list";
		break;
	case 'm':
		bad = u64_parse(optarg, 1, 1000000000, &o->msgs) ? "message count" : NULL;
		break;
	case 'w':
		o->warmup_given = true;
		bad = u64_parse(optarg, 1, 1000000000, &o->warmup) ? "warm-up count" : NULL;
		break;
	case 'r':
		bad = u64_parse(optarg, 1, 1000, &o->reps) ? "repetition count" : NULL;
		break;
	case 'b':
		bad = u64_parse(optarg, 1, TP_MAX_BATCH, &o->batch) ? "batch size" : NULL;
		break;
	case 'c':
		o->cpus_given = true;
		bad = cpus_parse(optarg, &o->cpus) ? "CPU pair" : NULL;
		break;
	case 't':
		bad = transports_parse(optarg, o->use) ? "transport list" : NULL;
		break;
	case 'j':
		o->json = true;
		break;
	case 'N':
		bench_create_flags |= SHMQ_OPEN_NO_TIMESTAMPS;
		break;
	case 'T':
		if (strcmp(optarg, "8") == 0)
			tp_touch_first8 = true;
		else if (strcmp(optarg, "ends") == 0)
			tp_touch_first8 = false;
		else
			bad = "touch mode (8 or ends)";
		break;
	case 'h':
		usage(stdout);
		return 0;
	default:
		return usage_error(NULL, NULL);
	}
	return bad ? usage_error(bad, optarg) : -1;
}

/* Return -1 to go on, else the exit status. */
static int opts_parse(int argc, char **argv, struct tp_opts *o)
{
	static const struct option lopts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "msgs", required_argument, NULL, 'm' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "reps", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "transports", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "touch", required_argument, NULL, 'T' },
		{ "no-timestamps", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, e;

	while ((c = getopt_long(argc, argv, "s:m:w:r:b:c:t:T:Njh", lopts, NULL)) != -1) {
		e = opt_one(c, o);
		if (e >= 0)
			return e;
	}
	if (optind < argc)
		return usage_error("argument", argv[optind]);
	if (!o->warmup_given)
		o->warmup = o->msgs / 10 ? o->msgs / 10 : 1;
	return -1;
}

/* ---- entry ---- */

static struct tp_run *run_alloc(void)
{
	size_t bytes = (size_t)TP_MAX_BATCH * BENCH_MAX_SIZE;
	struct tp_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->pbuf = aligned_alloc(64, bytes);
	r->cbuf = aligned_alloc(64, bytes);
	if (!r->pbuf || !r->cbuf) {
		free(r->pbuf);
		free(r->cbuf);
		free(r);
		return NULL;
	}
	memset(r->pbuf, 0x5a, bytes); /* a pattern, and no page fault while timed */
	memset(r->cbuf, 0, bytes);
	return r;
}

int tp_measure(const struct tp_opts *o, double **ret_rates)
{
	struct tp_run *run = run_alloc();
	double *rates =
		calloc((size_t)o->reps * (size_t)o->nsizes * TP_NTRANSPORTS, sizeof(*rates));
	int e = run && rates ? tp_all(o, rates, run) : fail("allocate buffers", -ENOMEM);

	if (run) {
		free(run->pbuf);
		free(run->cbuf);
	}
	free(run);
	if (e < 0) {
		free(rates);
		return -1;
	}
	*ret_rates = rates;
	return 0;
}

int throughput_main(int argc, char **argv)
{
	struct tp_opts o;
	double *rates = NULL;
	int e;

	tp_opts_default(&o);
	e = opts_parse(argc, argv, &o);
	if (e >= 0)
		return e;
	e = bench_start(&o.cpus, o.cpus_given, o.json);
	if (e >= 0)
		return e;
	e = tp_measure(&o, &rates);
	if (e == 0)
		report(&o, rates);
	free(rates);
	return e < 0 ? 1 : 0;
}
