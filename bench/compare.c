// SPDX-License-Identifier: MIT
/* compare.c - shmq-bench compare: every built transport, ping-pong and throughput, in one run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

/*
 * The ping-pong and throughput measurements of their own commands, over the transports a
 * user would pick instead, with shorter defaults (the kernel's transports take ~50 us a
 * round trip here). Tables put busy-polling and blocking transports apart: like is
 * compared with like, and each row is given as a ratio to the hardware's limit.
 */

struct cmp_opts {
	uint64_t iters;
	uint64_t rate; /* the fixed-rate table's round trips per second; 0: none */
	const char *svg;
	uint64_t warmup;
	uint64_t msgs;
	uint64_t reps;
	bool warmup_given;
	struct cpu_pair cpus;
	bool cpus_given;
	bool json;
};

static const unsigned cmp_pp_sizes[] = { 8, 64, 512, 4096, 65536 };
static const unsigned cmp_tp_sizes[] = { 64, 4096 };
/* What the tables run; each row goes to its wait mode's group (poll, then block). */
static const int cmp_pp_use[] = {
	PP_SHMQ,      PP_TOPIC,		PP_TOPIC_EXCL, PP_QUEUE,     PP_REQ,
	PP_FAN4,      PP_RAW,		PP_RAWFAN4,    PP_PIPE,	     PP_UDS,
	PP_SPSC_PARK, PP_SPSC_SPINPARK, PP_REQ_PARK,   PP_RAW_FUTEX,
};
static const int cmp_tp_use[] = {
	TP_SHMQ, TP_BATCH, TP_TOPIC, TP_QUEUE, TP_RAW, TP_RAW_MSG, TP_PIPE, TP_UDS,
};

/* ---- the two measurements ---- */

/* @fixed: the fixed-rate table, at 64 bytes only; else back to back at every size. */
static void pp_from(const struct cmp_opts *c, bool fixed, struct pp_opts *o)
{
	size_t i;

	pp_opts_default(o, PP_MODE_PINGPONG);
	if (fixed) {
		o->sizes[0] = 64;
		o->nsizes = 1;
		o->rate = c->rate;
	} else {
		memcpy(o->sizes, cmp_pp_sizes, sizeof(cmp_pp_sizes));
		o->nsizes = (int)(sizeof(cmp_pp_sizes) / sizeof(cmp_pp_sizes[0]));
	}
	o->iters = c->iters;
	o->warmup = c->warmup;
	/* A fixed-rate p99 turns on a few host stalls: more repetitions, so one burst of them
	 * in one transport's turn does not decide the median. */
	o->reps = fixed ? 2 * c->reps + 1 : c->reps;
	o->cpus = c->cpus;
	o->json = c->json;
	memset(o->use, 0, sizeof(o->use));
	for (i = 0; i < sizeof(cmp_pp_use) / sizeof(cmp_pp_use[0]); i++)
		o->use[cmp_pp_use[i]] = true;
	for (i = 0; i < LINK_N; i++)
		o->use[PP_UDS_DGRAM + i] = pp_available(pp_transports[PP_UDS_DGRAM + i]);
}

static void tp_from(const struct cmp_opts *c, struct tp_opts *o)
{
	size_t i;

	tp_opts_default(o);
	memcpy(o->sizes, cmp_tp_sizes, sizeof(cmp_tp_sizes));
	o->nsizes = (int)(sizeof(cmp_tp_sizes) / sizeof(cmp_tp_sizes[0]));
	o->msgs = c->msgs;
	o->warmup = c->msgs / 10 ? c->msgs / 10 : 1;
	o->reps = c->reps;
	o->cpus = c->cpus;
	o->json = c->json;
	memset(o->use, 0, sizeof(o->use));
	for (i = 0; i < sizeof(cmp_tp_use) / sizeof(cmp_tp_use[0]); i++)
		o->use[cmp_tp_use[i]] = true;
	for (i = 0; i < LINK_N; i++)
		o->use[TP_UDS_DGRAM + i] = tp_available(tp_transports[TP_UDS_DGRAM + i]);
}

/* ---- ping-pong: one table per size, poll rows then block rows ---- */

static const char *pp_bench_name(const struct pp_opts *o)
{
	return o->rate ? "compare-fixed-rate" : "compare-pingpong";
}

static void pp_row(const struct pp_opts *o, int si, int ti, const struct pp_summary *s, double raw)
{
	const struct pp_transport *t = pp_transports[ti];
	double x = raw > 0 ? (double)s->med[P50] / raw : 0;
	unsigned procs = (t->nechoes ? t->nechoes : 1) + 1;
	bool over = cpus_oversubscribed(&o->cpus, procs);

	if (o->json) {
		printf("{\"bench\":\"%s\",\"transport\":\"%s\",\"wait\":\"%s\","
		       "\"size\":%u,\"rate_per_s\":%llu,\"processes\":%u,\"oversubscribed\":%s,"
		       "\"p50_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%llu,"
		       "\"p50_over_raw\":%.3f}\n",
		       pp_bench_name(o), t->name, wait_name(t->block), o->sizes[si],
		       (unsigned long long)o->rate, procs, over ? "true" : "false",
		       (unsigned long long)s->med[P50], (unsigned long long)s->med[P99],
		       (unsigned long long)s->med[P999], (unsigned long long)s->med[PMAX], x);
		return;
	}
	printf("%6u  %-18s %-5s %9llu %9llu %9llu %10llu %9.2fx%s\n", o->sizes[si], t->name,
	       wait_name(t->block), (unsigned long long)s->med[P50],
	       (unsigned long long)s->med[P99], (unsigned long long)s->med[P999],
	       (unsigned long long)s->med[PMAX], x, over ? "  oversubscribed" : "");
}

static void pp_group(const struct pp_opts *o, int si, const struct pp_summary *s, bool block)
{
	double raw = (double)s[PP_RAW].med[P50];
	int ti;

	for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
		const struct pp_transport *t = pp_transports[ti];

		if (!o->use[ti] || t->block != block)
			continue;
		if (!pp_fits(t, o->sizes[si]))
			link_skip_print(o->json, pp_bench_name(o), t->link, o->sizes[si], 18);
		else
			pp_row(o, si, ti, &s[ti], raw);
	}
}

static void pp_title(const struct pp_opts *o)
{
	if (o->rate)
		printf("fixed-rate ping-pong, ns: %llu round trips/s, each timed from when it was "
		       "due,\nso that the wait of one behind a slow one counts "
		       "(coordinated-omission "
		       "correction);\nmedian over %llu reps of %llu round trips\n",
		       (unsigned long long)o->rate, (unsigned long long)o->reps,
		       (unsigned long long)o->iters);
	else
		printf("ping-pong round-trip time, ns: median over %llu reps of %llu round trips "
		       "(after %llu warm-up)\n",
		       (unsigned long long)o->reps, (unsigned long long)o->iters,
		       (unsigned long long)o->warmup);
	printf("x raw: p50 / raw-cacheline's p50; shmq-queue: the echo is a consumer-group member "
	       "that\nreceives, acks and replies; shmq-topic-fan4: one request to 4 subscribers "
	       "that\nall reply (raw-cacheline-fan4: the same with bare cache lines); "
	       "oversubscribed:\nmore processes than CPUs, so spinning ones yield\n"
	       "  size  transport          wait        p50       p99     p99.9        max"
	       "     x raw\n");
}

/* Every size's summaries go to @s64 too when the size is 64 (the targets' size). */
static void pp_report(const struct pp_opts *o, const struct pp_results *res, struct pp_summary *s64)
{
	struct pp_summary s[PP_NTRANSPORTS];
	int si, ti;

	if (!o->json)
		pp_title(o);
	for (si = 0; si < o->nsizes; si++) {
		memset(s, 0, sizeof(s));
		for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
			if (o->use[ti] && pp_fits(pp_transports[ti], o->sizes[si]))
				pp_summarize(res, si, ti, &s[ti]);
		}
		pp_group(o, si, s, false);
		pp_group(o, si, s, true);
		if (!o->json)
			printf("\n");
		if (o->sizes[si] == 64)
			memcpy(s64, s, sizeof(s));
	}
}

/* ---- throughput: the same shape ---- */

static void tp_row(const struct tp_opts *o, int si, int ti, const struct tp_summary *s, double raw)
{
	const struct tp_transport *t = tp_transports[ti];
	double x = raw > 0 ? s->med / raw : 0;
	unsigned size = o->sizes[si];

	if (o->json) {
		printf("{\"bench\":\"compare-throughput\",\"transport\":\"%s\",\"wait\":\"%s\","
		       "\"size\":%u,\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,\"over_raw\":%.4f}\n",
		       t->name, wait_name(t->block), size, s->med, s->med * size / 1e6, x);
		return;
	}
	printf("%6u  %-16s %-5s %10.3f %10.1f %9.3fx\n", size, t->name, wait_name(t->block),
	       s->med / 1e6, s->med * size / 1e6, x);
}

static void tp_group(const struct tp_opts *o, int si, const struct tp_summary *s, bool block)
{
	int ti;

	for (ti = 0; ti < TP_NTRANSPORTS; ti++) {
		const struct tp_transport *t = tp_transports[ti];

		if (!o->use[ti] || t->block != block)
			continue;
		if (!tp_fits(t, o->sizes[si]))
			link_skip_print(o->json, "compare-throughput", t->link, o->sizes[si], 16);
		else
			tp_row(o, si, ti, &s[ti], s[TP_RAW].med);
	}
}

static void tp_report(const struct tp_opts *o, double *rates, struct tp_summary *s64)
{
	struct tp_summary s[TP_NTRANSPORTS];
	int si, ti;

	if (!o->json)
		printf("one-way throughput: median over %llu reps of %llu messages (after %llu "
		       "warm-up); x raw: rate / raw-stream's\n"
		       "  size  transport        wait      Mmsg/s       MB/s     x raw\n",
		       (unsigned long long)o->reps, (unsigned long long)o->msgs,
		       (unsigned long long)o->warmup);
	for (si = 0; si < o->nsizes; si++) {
		memset(s, 0, sizeof(s));
		for (ti = 0; ti < TP_NTRANSPORTS; ti++) {
			if (o->use[ti] && tp_fits(tp_transports[ti], o->sizes[si]))
				tp_summarize(o, rates, si, ti, &s[ti]);
		}
		tp_group(o, si, s, false);
		tp_group(o, si, s, true);
		if (!o->json)
			printf("\n");
		if (o->sizes[si] == 64)
			memcpy(s64, s, sizeof(s));
	}
}

/* ---- the targets that exist today, all at 64 bytes ---- */

/* @num's percentile @q over @den's, or SKIP when either was not run. */
static void pp_target(bool json, const struct pp_summary *s, int num, int den, int q,
		      const char *what, const char *op, double limit)
{
	double n = (double)s[num].med[q], d = (double)s[den].med[q];
	char name[128];

	snprintf(name, sizeof(name), "%s/%s 64-byte %s", pp_transports[num]->name,
		 pp_transports[den]->name, what);
	target_print(json, name, n > 0 && d > 0, d > 0 ? n / d : 0, op, limit);
}

/* The fastest kernel-based transport at 64 bytes (the blocking ones but iceoryx-ws), or -1. */
static int tp_best_block(const struct tp_opts *o, const struct tp_summary *s)
{
	int ti, best = -1;

	for (ti = 0; ti < TP_NTRANSPORTS; ti++) {
		if (o->use[ti] && tp_transports[ti]->block && ti != TP_IOX_WS && s[ti].med > 0 &&
		    (best < 0 || s[ti].med > s[best].med))
			best = ti;
	}
	return best;
}

/* @num's rate at least 10x the fastest kernel-based transport's (@best, -1 when none ran). */
static void tp_kernel_target(const struct tp_opts *o, const struct tp_summary *s, int num, int best)
{
	char name[96];

	/* A stable name for --json; the text says which transport was the fastest. */
	snprintf(name, sizeof(name),
		 o->json ? "%s/fastest-kernel 64-byte throughput"
			 : "%s/%s (the fastest kernel-based) 64-byte throughput",
		 tp_transports[num]->name, best < 0 ? "none" : tp_transports[best]->name);
	target_print(o->json, name, s[num].med > 0 && best >= 0,
		     best >= 0 ? s[num].med / s[best].med : 0, ">=", 10);
}

/*
 * Issue 15's: the work queue with an ack per record at least 10x the better of posix-mq and
 * uds (both per message).
 */
static void tp_queue_target(const struct tp_opts *o, const struct tp_summary *s)
{
	double q = s[TP_QUEUE].med, mq = s[TP_POSIX_MQ].med, uds = s[TP_UDS].med;
	double best = mq > uds ? mq : uds;

	target_print(o->json, "shmq-queue/best of posix-mq and uds 64-byte throughput",
		     q > 0 && best > 0, best > 0 ? q / best : 0, ">=", 10);
}

static void tp_targets(const struct tp_opts *o, const struct tp_summary *s)
{
	double spsc = s[TP_SHMQ].med, raw = s[TP_RAW].med;
	int best = tp_best_block(o, s);

	target_print(o->json, "shmq-spsc/raw-stream 64-byte throughput", spsc > 0 && raw > 0,
		     raw > 0 ? spsc / raw : 0, ">=", 0.5);
	tp_kernel_target(o, s, TP_SHMQ, best);
	/* The same with send_many: zmq-ipc, the usual fastest, batches inside its I/O thread. */
	tp_kernel_target(o, s, TP_BATCH, best);
	tp_queue_target(o, s);
}

static void targets(const struct pp_opts *po, const struct pp_summary *ps,
		    const struct pp_summary *fs, const struct tp_opts *to,
		    const struct tp_summary *ts)
{
	if (!po->json)
		printf("targets (64 bytes, medians of this run%s):\n",
		       po->cpus.pinned ? "" : "; UNPINNED, one CPU: the targets assume two");
	pp_target(po->json, ps, PP_SHMQ, PP_RAW, P50, "p50 RTT", "<=", 1.25);
	pp_target(po->json, ps, PP_UDS, PP_SHMQ, P50, "p50 RTT", ">=", 20);
	pp_target(po->json, ps, PP_ZMQ, PP_SHMQ, P50, "p50 RTT", ">=", 20);
	pp_target(po->json, ps, PP_SPSC_PARK, PP_RAW_FUTEX, P50, "p50 RTT", "<=", 1.15);
	/* Issue 18's: a request/reply round trip within 1.5x the topic's, both polling. */
	pp_target(po->json, ps, PP_REQ, PP_TOPIC, P50, "p50 RTT", "<=", 1.5);
	/* Against iceoryx: polling with polling, parked with its WaitSet. */
	pp_target(po->json, ps, PP_TOPIC, PP_IOX, P50, "p50 RTT", "<=", 1);
	pp_target(po->json, ps, PP_TOPIC, PP_IOX, P99, "p99 RTT", "<=", 1);
	pp_target(po->json, ps, PP_SPSC_PARK, PP_IOX_WS, P50, "p50 RTT", "<=", 1);
	if (fs) {
		pp_target(po->json, fs, PP_TOPIC, PP_IOX, P50, "fixed-rate p50", "<=", 1);
		pp_target(po->json, fs, PP_TOPIC, PP_IOX, P99, "fixed-rate p99", "<=", 1);
		pp_target(po->json, fs, PP_SPSC_PARK, PP_IOX_WS, P50, "fixed-rate p50", "<=", 1);
	}
	tp_targets(to, ts);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s compare [OPTIONS]\n"
		"Ping-pong at 8,64,512,4096,65536 bytes, the same at a fixed rate at 64 bytes,\n"
		"and throughput at 64,4096 bytes over every transport built: shmq-spsc,\n"
		"shmq-topic(-excl), shmq-queue (a work queue: a consumer-group member's recv +\n"
		"ack), shmq-topic-fan4 (4 subscribers), raw-cacheline(-fan4),\n"
		"raw-stream, iceoryx (poll); pipe, uds, uds-dgram, eventfd, posix-mq, zmq-ipc,\n"
		"nng-ipc, iceoryx-ws, shmq-spsc-park, shmq-spsc-spinpark, raw-futex (block).\n"
		"iceoryx needs its RouDi daemon: one is started for the run (iox-roudi, or\n"
		"$SHMQ_BENCH_ROUDI) unless one already runs.\n"
		"%s"
		"  -n, --iters N     timed round trips per ping-pong measurement (default 5000)\n"
		"  -w, --warmup N    untimed round trips first (default iters/10)\n"
		"  -m, --msgs N      timed messages per throughput measurement (default 50000)\n"
		"  -R, --rate N      the fixed-rate table's round trips per second, 0 for none\n"
		"                    (default 10000; iters of them, at 64 bytes)\n"
		"      --svg FILE    also draw the 64-byte results as an SVG chart into FILE\n"
		"  -r, --reps R      interleaved repetitions; medians are reported (default 3;\n"
		"                    the fixed-rate table runs 2R+1)\n"
		"  -c, --cpus A,B    CPUs of the two processes (default 0,1)\n"
		"  -j, --json        one JSON object per line\n"
		"  -h, --help        this text\n",
		BENCH_PROG, link_missing_text());
}

static int usage_error(const char *what, const char *arg)
{
	if (what)
		fprintf(stderr, "%s compare: invalid %s '%s'\n", BENCH_PROG, what, arg);
	fprintf(stderr, "Try '%s compare --help'.\n", BENCH_PROG);
	return 2;
}

/* One option: -1 to go on, else the exit status. */
static int opt_one(int c, struct cmp_opts *o)
{
	const char *bad = NULL;

	switch (c) {
	case 'n':
		bad = u64_parse(optarg, 1, 100000000, &o->iters) ? "iteration count" : NULL;
		break;
	case 'w':
		o->warmup_given = true;
		bad = u64_parse(optarg, 0, 100000000, &o->warmup) ? "warm-up count" : NULL;
		break;
	case 'm':
		bad = u64_parse(optarg, 1, 1000000000, &o->msgs) ? "message count" : NULL;
		break;
	case 'r':
		bad = u64_parse(optarg, 1, 1000, &o->reps) ? "repetition count" : NULL;
		break;
	case 'c':
		o->cpus_given = true;
		bad = cpus_parse(optarg, &o->cpus) ? "CPU pair" : NULL;
		break;
	case 'R':
		bad = u64_parse(optarg, 0, 10000000, &o->rate) ? "rate" : NULL;
		break;
	case 'G':
		o->svg = optarg;
		break;
	case 'j':
		o->json = true;
		break;
	case 'h':
		usage(stdout);
		return 0;
	default:
		return usage_error(NULL, NULL);
	}
	return bad ? usage_error(bad, optarg) : -1;
}

static int opts_parse(int argc, char **argv, struct cmp_opts *o)
{
	static const struct option lopts[] = {
		{ "iters", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "msgs", required_argument, NULL, 'm' },
		{ "reps", required_argument, NULL, 'r' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'R' },
		{ "svg", required_argument, NULL, 'G' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, e;

	memset(o, 0, sizeof(*o));
	o->iters = 5000;
	o->msgs = 50000;
	o->reps = 3;
	o->rate = 10000;
	while ((c = getopt_long(argc, argv, "n:w:m:r:c:R:jh", lopts, NULL)) != -1) {
		e = opt_one(c, o);
		if (e >= 0)
			return e;
	}
	if (optind < argc)
		return usage_error("argument", argv[optind]);
	if (!o->warmup_given)
		o->warmup = o->iters / 10;
	return -1;
}

/* ---- entry ---- */

int compare_main(int argc, char **argv)
{
	struct cmp_opts c;
	struct pp_opts po, fo;
	struct tp_opts to;
	struct pp_results res = { 0 }, fres = { 0 };
	struct pp_summary ps[PP_NTRANSPORTS] = { 0 }, fs[PP_NTRANSPORTS] = { 0 };
	struct tp_summary ts[TP_NTRANSPORTS] = { 0 };
	double *rates = NULL;
	int e = opts_parse(argc, argv, &c);

	if (e >= 0)
		return e;
	e = bench_start(&c.cpus, c.cpus_given, c.json);
	if (e >= 0)
		return e;
	pp_from(&c, false, &po);
	pp_from(&c, true, &fo);
	tp_from(&c, &to);
	e = pp_measure(&po, &res);
	if (e == 0 && c.rate)
		e = pp_measure(&fo, &fres);
	if (e == 0)
		e = tp_measure(&to, &rates);
	if (e == 0) {
		pp_report(&po, &res, ps);
		if (c.rate)
			pp_report(&fo, &fres, fs);
		tp_report(&to, rates, ts);
		targets(&po, ps, c.rate ? fs : NULL, &to, ts);
		if (c.svg)
			e = cmp_svg(c.svg, &po, ps, c.rate ? &fo : NULL, fs, &to, ts);
	}
	free(res.v);
	free(fres.v);
	free(rates);
	return e < 0 ? 1 : 0;
}
