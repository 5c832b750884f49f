// SPDX-License-Identifier: MIT
/* pingpong.c - round-trip latency of shmq-spsc and topics against the hardware and the kernel. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pingpong.h"

static const double pct_q[NPCT] = { 50, 90, 99, 99.9, 100 };

static uint64_t *res_at(const struct pp_results *res, uint64_t rep, int si, int ti)
{
	size_t idx = ((rep * (size_t)res->o->nsizes + (size_t)si) * PP_NTRANSPORTS + (size_t)ti);

	return res->v + idx * NPCT;
}

/* ---- one measurement ---- */

/*
 * With --rate, the timed round trips are due one period apart from the first one on; each
 * starts at its time (spinning until then) or at once when it is late, and its time counts
 * from when it was due. A round trip that runs long so delays the next ones, and their
 * wait is counted (the coordinated-omission correction): one request is in flight at a
 * time, as a client that sends at a fixed rate into a single-threaded server would see.
 */
static uint64_t pp_due(const struct pp_opts *o, const struct pp_run *r, uint64_t seq, uint64_t *due)
{
	uint64_t t = now_ns();

	if (!o->rate || seq <= o->warmup)
		return t;
	if (seq == o->warmup + 1)
		*due = t;
	while (t < *due) {
		if (r->yield)
			sched_yield();
		t = now_ns();
	}
	t = *due;
	*due += 1000000000ull / o->rate;
	return t;
}

static int pp_loop(const struct pp_transport *t, const struct pp_opts *o, struct pp_run *r,
		   struct lat *lat)
{
	uint64_t seq, t0, t1, due = 0;

	for (seq = 1; seq <= r->total; seq++) {
		if (t->payload)
			pattern_fill(r->buf, r->size, seq);
		t0 = pp_due(o, r, seq, &due);
		if (t->rt(r, seq) < 0)
			return -1;
		t1 = now_ns();
		if (seq > o->warmup)
			lat_record(lat, t1 - t0);
		if (t->payload && memcmp(r->rbuf, r->buf, r->size) != 0) {
			fprintf(stderr, "%s: %s: echoed payload %llu differs from the one sent\n",
				BENCH_PROG, t->name, (unsigned long long)seq);
			return -1;
		}
		if (t->check && t->check(r, seq) < 0)
			return -1;
	}
	return 0;
}

static unsigned echoes_of(const struct pp_transport *t)
{
	return t->nechoes ? t->nechoes : 1;
}

static void run_reset(const struct pp_transport *t, const struct pp_opts *o, struct pp_run *r)
{
	r->tx = r->rx = NULL;
	r->ab[0] = r->ba[0] = '\0';
	r->park = t->park;
	r->park_spin_ns = t->park_spin_ns;
	r->raw = NULL;
	r->futex = NULL;
	r->recs = NULL;
	r->rec_off[0] = r->rec_off[1] = 0;
	r->fd[0] = r->fd[1] = r->fd[2] = r->fd[3] = -1;
	r->pub = NULL;
	r->sub = NULL;
	r->treq[0] = r->trep[0] = '\0';
	r->gtopic[0] = '\0';
	r->req = NULL;
	r->hdrs = NULL;
	r->hdrs_len = 0;
	r->pub_flags = t->pub_flags;
	r->fan = NULL;
	if (t->link)
		link_init(&r->lk, t->link, r->size, false);
	r->total = o->warmup + o->iters;
	r->nechoes = echoes_of(t);
	r->rstride = ((size_t)r->size + 63) & ~(size_t)63;
	/* Sharing a CPU, a spinning process would hold it until the tick: yield instead. */
	r->yield = !o->cpus.pinned || cpus_oversubscribed(&o->cpus, r->nechoes + 1);
}

static int pp_once(const struct pp_transport *t, const struct pp_opts *o, struct pp_run *r,
		   struct lat *lat)
{
	struct peer kids[BENCH_MAX_PEERS] = { 0 };
	int e;

	run_reset(t, o, r);
	lat_reset(lat);
	e = t->setup(r);
	if (e == 0) {
		e = peers_start(kids, r->nechoes, &o->cpus, t->echo, r, &r->idx);
		if (e < 0)
			e = fail("fork", e);
	}
	if (e == 0) {
		r->spin = (struct spin){ .child = kids, .nchild = r->nechoes, .yield = r->yield };
		e = t->attached(r);
	}
	if (e == 0)
		e = pp_loop(t, o, r, lat);
	if (e == 0)
		e = peers_wait(kids, r->nechoes);
	if (e < 0)
		peers_kill(kids, r->nechoes);
	t->teardown(r);
	return e < 0 ? -1 : 0;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One interval per measurement, tagged TRANSPORT-SIZE, in HdrHistogram's .hlog format. */
static int hlog_interval(const struct pp_opts *o, const char *transport, unsigned size,
			 uint64_t start_ns, const struct lat *lat)
{
	char tag[64];
	int e;

	if (!o->hlog_f)
		return 0;
	snprintf(tag, sizeof(tag), "%s-%u", transport, size);
	e = shmq_hist_log_write(o->hlog_f, tag, (double)(start_ns - o->hlog_base_ns) / 1e9,
				(double)(wall_ns() - start_ns) / 1e9, lat->h);
	return e < 0 ? fail("write --hlog", e) : 0;
}

/* Interleaved: rep 1 of every size and transport, then rep 2, ... so noise hits all alike. */
static int pp_all(const struct pp_opts *o, struct pp_results *res, struct pp_run *r,
		  struct lat *lat)
{
	uint64_t rep;
	int si, ti, q;

	for (rep = 0; rep < o->reps; rep++) {
		if (!o->json && isatty(STDERR_FILENO))
			fprintf(stderr, "\rrep %llu/%llu ", (unsigned long long)rep + 1,
				(unsigned long long)o->reps);
		for (si = 0; si < o->nsizes; si++) {
			r->size = o->sizes[si];
			for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
				if (!o->use[ti] || !pp_fits(pp_transports[ti], r->size))
					continue;
				uint64_t start = wall_ns();

				if (pp_once(pp_transports[ti], o, r, lat) < 0 ||
				    hlog_interval(o, pp_transports[ti]->name, r->size, start, lat) <
					    0)
					return -1;
				for (q = 0; q < NPCT; q++)
					res_at(res, rep, si, ti)[q] = lat_percentile(lat, pct_q[q]);
			}
		}
	}
	if (!o->json && isatty(STDERR_FILENO))
		fprintf(stderr, "\r%20s\r", "");
	return 0;
}

/* ---- reporting ---- */

void pp_summarize(const struct pp_results *res, int si, int ti, struct pp_summary *s)
{
	uint64_t reps = res->o->reps, rep, *tmp = calloc(reps, sizeof(*tmp));
	int q;

	if (!tmp)
		abort();
	for (q = 0; q < NPCT; q++) {
		for (rep = 0; rep < reps; rep++)
			tmp[rep] = res_at(res, rep, si, ti)[q];
		s->med[q] = median_u64(tmp, reps);
		if (q == P50) {
			s->p50_min = tmp[0];
			s->p50_max = tmp[reps - 1];
		}
	}
	free(tmp);
}

static bool oversubscribed(const struct pp_opts *o, int ti)
{
	return cpus_oversubscribed(&o->cpus, echoes_of(pp_transports[ti]) + 1);
}

static void print_json_row(const struct pp_opts *o, int si, int ti, const struct pp_summary *s)
{
	const struct pp_transport *t = pp_transports[ti];

	printf("{\"bench\":\"pingpong\",\"transport\":\"%s\",\"wait\":\"%s\",\"size\":%u,", t->name,
	       wait_name(t->block), o->sizes[si]);
	if (t->topic)
		printf("\"subscribers\":%u,", echoes_of(t));
	if (t->group)
		printf("\"members\":%u,", echoes_of(t));
	printf("\"processes\":%u,\"oversubscribed\":%s,", echoes_of(t) + 1,
	       oversubscribed(o, ti) ? "true" : "false");
	if (o->rate)
		printf("\"rate_per_s\":%llu,", (unsigned long long)o->rate);
	printf("\"iters\":%llu,\"reps\":%llu,\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,"
	       "\"p999_ns\":%llu,\"max_ns\":%llu,\"p50_min_ns\":%llu,\"p50_max_ns\":%llu}\n",
	       (unsigned long long)o->iters, (unsigned long long)o->reps,
	       (unsigned long long)s->med[P50], (unsigned long long)s->med[P90],
	       (unsigned long long)s->med[P99], (unsigned long long)s->med[P999],
	       (unsigned long long)s->med[PMAX], (unsigned long long)s->p50_min,
	       (unsigned long long)s->p50_max);
}

static void print_row(const struct pp_opts *o, int si, int ti, const struct pp_summary *s)
{
	if (o->json) {
		print_json_row(o, si, ti, s);
		return;
	}
	printf("%6u  %-18s %-5s %8llu %8llu %8llu %8llu %9llu   %llu-%llu", o->sizes[si],
	       pp_transports[ti]->name, wait_name(pp_transports[ti]->block),
	       (unsigned long long)s->med[P50], (unsigned long long)s->med[P90],
	       (unsigned long long)s->med[P99], (unsigned long long)s->med[P999],
	       (unsigned long long)s->med[PMAX], (unsigned long long)s->p50_min,
	       (unsigned long long)s->p50_max);
	if (oversubscribed(o, ti))
		printf("   oversubscribed: %u processes on %d CPU%s",
		       echoes_of(pp_transports[ti]) + 1, o->cpus.nallowed,
		       o->cpus.nallowed == 1 ? "" : "s");
	printf("\n");
}

/*
 * p50 ratios of the same run: group 0 on one line, the fan-out ones (group 1, of width
 * @fan) on another.
 */
static const struct pp_pair {
	int num, den;
	const char *key;
	int group;
	int prec; /* digits in the text; JSON gets one more */
	unsigned fan;
} pp_pairs[] = {
	{ PP_SHMQ, PP_RAW, "spsc_over_raw_p50", 0, 2, 0 },
	{ PP_UDS, PP_SHMQ, "uds_over_spsc_p50", 0, 1, 0 },
	{ PP_TOPIC, PP_RAW, "topic_over_raw_p50", 0, 2, 0 },
	{ PP_TOPIC, PP_SHMQ, "topic_over_spsc_p50", 0, 2, 0 },
	{ PP_TOPIC_EXCL, PP_RAW, "topic_excl_over_raw_p50", 0, 2, 0 },
	{ PP_TOPIC_EXCL, PP_SHMQ, "topic_excl_over_spsc_p50", 0, 2, 0 },
	{ PP_QUEUE, PP_TOPIC, "queue_over_topic_p50", 0, 2, 0 },
	{ PP_REQ, PP_TOPIC, "req_over_topic_p50", 0, 2, 0 },
	{ PP_REQ_PARK, PP_SPSC_PARK, "req_park_over_spsc_park_p50", 0, 2, 0 },
	{ PP_TOPIC_HDRS, PP_TOPIC, "topic_hdrs_over_topic_p50", 0, 2, 0 },
	{ PP_SPSC_PARK, PP_RAW_FUTEX, "park_over_futex_p50", 0, 2, 0 },
	{ PP_SPSC_SPINPARK, PP_SHMQ, "spinpark_over_spsc_p50", 0, 2, 0 },
	{ PP_FAN1, PP_RAWFAN1, "fan1_over_rawfan1_p50", 1, 2, 1 },
	{ PP_FAN2, PP_RAWFAN2, "fan2_over_rawfan2_p50", 1, 2, 2 },
	{ PP_FAN4, PP_RAWFAN4, "fan4_over_rawfan4_p50", 1, 2, 4 },
	{ PP_FAN8, PP_RAWFAN8, "fan8_over_rawfan8_p50", 1, 2, 8 },
};

static void print_ratio_text(const char *head, const struct pp_pair *p, double v)
{
	if (p->fan)
		printf("%s  N=%u %.*f", head, p->fan, p->prec, v);
	else
		printf("%s  %s / %s = %.*f", head, pp_transports[p->num]->name,
		       pp_transports[p->den]->name, p->prec, v);
}

static void print_ratio_group(const struct pp_opts *o, int si, const struct pp_summary *s,
			      int group)
{
	char head[64];
	size_t i;
	int n = 0;

	snprintf(head, sizeof(head), "%6u  ratio p50%s:", o->sizes[si],
		 group ? " shmq-topic-fanN / raw-cacheline-fanN" : "");
	for (i = 0; i < sizeof(pp_pairs) / sizeof(pp_pairs[0]); i++) {
		const struct pp_pair *p = &pp_pairs[i];
		double num = (double)s[p->num].med[P50], den = (double)s[p->den].med[P50];

		if (p->group != group || !o->use[p->num] || !o->use[p->den] || den <= 0)
			continue;
		if (o->json)
			printf(",\"%s\":%.*f", p->key, p->prec + 1, num / den);
		else
			print_ratio_text(n ? "" : head, p, num / den);
		n++;
	}
	if (!o->json && n)
		printf("\n");
}

static void print_ratios(const struct pp_opts *o, int si, const struct pp_summary *s)
{
	if (o->json)
		printf("{\"bench\":\"pingpong-ratio\",\"size\":%u", o->sizes[si]);
	print_ratio_group(o, si, s, 0);
	print_ratio_group(o, si, s, 1);
	if (o->json)
		printf("}\n");
}

void target_print(bool json, const char *name, bool have, double value, const char *op,
		  double limit)
{
	bool pass = op[0] == '<' ? value <= limit : value >= limit;
	const char *verdict = !have ? "SKIP" : pass ? "PASS" : "MISS";

	if (json) {
		printf("{\"bench\":\"target\",\"name\":\"%s\",\"value\":%.3f,\"op\":\"%s\","
		       "\"limit\":%.2f,\"result\":\"%s\"}\n",
		       name, have ? value : 0.0, op, limit, verdict);
		return;
	}
	if (have)
		printf("%s %s: %.2f (target %s %.2f)\n", verdict, name, value, op, limit);
	else
		printf("SKIP %s: a transport it needs was not run\n", name);
}

/* @num's percentile @q over @den's against @limit, or SKIP when either was not run. */
static void print_ratio_target(const struct pp_opts *o, const struct pp_summary *s, int num,
			       int den, int q, const char *what, const char *op, double limit)
{
	double d = (double)s[den].med[q];
	bool have = o->use[num] && o->use[den] && d > 0;
	char name[96];

	snprintf(name, sizeof(name), "%s/%s %s RTT", pp_transports[num]->name,
		 pp_transports[den]->name, what);
	target_print(o->json, name, have, have ? (double)s[num].med[q] / d : 0, op, limit);
}

/*
 * The issues' targets, at 64 bytes: shmq-spsc p50 within 1.25x the hardware and 20x under a
 * socket; a single-subscriber topic within 1.5x the hardware, its producers shared-capable
 * (shmq-topic) or exclusive (shmq-topic-excl), each on its own line; a request/reply round
 * trip (shmq-req, both sides polling) within 1.5x the shared-capable topic's; parked shmq-spsc within
 * 1.15x a plain futex ping-pong (wake backend in the banner); against iceoryx, the topic
 * polling with its polling, the parked channel with its WaitSet. At a fixed rate (--rate)
 * only the iceoryx comparisons apply, as in compare.
 */
static void print_targets(const struct pp_opts *o, const struct pp_summary *s)
{
	if (!o->json)
		printf("\ntargets (64 bytes, p50 of the same run%s%s):\n",
		       o->rate ? "; fixed rate: only the comparisons with iceoryx are defined" : "",
		       o->cpus.pinned ? "" : "; UNPINNED, one CPU: the targets assume two");
	if (o->rate) {
		/* The ratios to the hardware and the sockets are back-to-back targets. */
		print_ratio_target(o, s, PP_TOPIC, PP_IOX, P50, "fixed-rate p50", "<=", 1);
		print_ratio_target(o, s, PP_TOPIC, PP_IOX, P99, "fixed-rate p99", "<=", 1);
		print_ratio_target(o, s, PP_SPSC_PARK, PP_IOX_WS, P50, "fixed-rate p50", "<=", 1);
		return;
	}
	print_ratio_target(o, s, PP_SHMQ, PP_RAW, P50, "p50", "<=", 1.25);
	print_ratio_target(o, s, PP_UDS, PP_SHMQ, P50, "p50", ">=", 20);
	print_ratio_target(o, s, PP_TOPIC, PP_RAW, P50, "p50", "<=", 1.5);
	print_ratio_target(o, s, PP_TOPIC_EXCL, PP_RAW, P50, "p50", "<=", 1.5);
	print_ratio_target(o, s, PP_REQ, PP_TOPIC, P50, "p50", "<=", 1.5);
	print_ratio_target(o, s, PP_SPSC_PARK, PP_RAW_FUTEX, P50, "p50", "<=", 1.15);
	print_ratio_target(o, s, PP_TOPIC, PP_IOX, P50, "p50", "<=", 1);
	print_ratio_target(o, s, PP_TOPIC, PP_IOX, P99, "p99", "<=", 1);
	print_ratio_target(o, s, PP_SPSC_PARK, PP_IOX_WS, P50, "p50", "<=", 1);
}

static bool any_fanout(const struct pp_opts *o)
{
	int i;

	for (i = 0; i < PP_NFAN; i++) {
		if (o->use[PP_FAN1 + i] || o->use[PP_RAWFAN1 + i])
			return true;
	}
	return false;
}

static void report_header(const struct pp_opts *o)
{
	if (o->json)
		return;
	printf("%s: round-trip time in ns; median over %llu reps of %llu round trips each "
	       "(after %llu warm-up)\n",
	       o->mode == PP_MODE_FANOUT ? "fanout" : "pingpong", (unsigned long long)o->reps,
	       (unsigned long long)o->iters, (unsigned long long)o->warmup);
	if (o->rate)
		printf("fixed rate: %llu round trips/s, each timed from when it was due "
		       "(coordinated-omission correction)\n",
		       (unsigned long long)o->rate);
	if (any_fanout(o))
		printf("fan-out: one request to N echo processes (shmq-topic-fanN: N subscribers "
		       "that reply\non one shared topic); a round trip ends when all N replied\n");
	printf("  size  transport          wait       p50      p90      p99    p99.9       max   "
	       "p50 min-max over reps\n");
}

static void report(const struct pp_opts *o, const struct pp_results *res)
{
	struct pp_summary s[PP_NTRANSPORTS], s64[PP_NTRANSPORTS];
	bool have64 = false;
	int si, ti;

	report_header(o);
	memset(s64, 0, sizeof(s64));
	for (si = 0; si < o->nsizes; si++) {
		memset(s, 0, sizeof(s));
		for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
			if (!o->use[ti])
				continue;
			if (!pp_fits(pp_transports[ti], o->sizes[si])) {
				link_skip_print(o->json, "pingpong", pp_transports[ti]->link,
						o->sizes[si], 18);
				continue;
			}
			pp_summarize(res, si, ti, &s[ti]);
			print_row(o, si, ti, &s[ti]);
		}
		print_ratios(o, si, s);
		if (o->sizes[si] == 64 && !have64) {
			memcpy(s64, s, sizeof(s));
			have64 = true;
		}
	}
	if (o->mode == PP_MODE_FANOUT)
		return; /* no target is defined for fan-out: the ratios are information */
	if (have64)
		print_targets(o, s64);
	else if (!o->json)
		printf("\ntargets: not checked (they are defined at 64 bytes; add 64 to "
		       "--sizes)\n");
}

/* ---- options ---- */

static const char *const mode_name[] = { "pingpong", "quick", "fanout" };

static void usage(FILE *f, enum pp_mode m)
{
	static const char *const sizes[] = { "8,64,512,4096", "64", "64" };
	static const char *const iters[] = { "50000", "20000", "50000" };
	static const char *const warmup[] = { "5000", "2000", "5000" };
	static const char *const fans[] = { "none", "none", "1,2,4,8" };

	fprintf(f,
		"usage: %s %s [OPTIONS]\n"
		"Round-trip latency between processes pinned to different CPUs.\n"
		"  -s, --sizes LIST       payload bytes, comma-separated (default %s)\n"
		"  -n, --iters N          timed round trips per measurement (default %s)\n"
		"  -w, --warmup N         untimed round trips first (default %s)\n"
		"  -r, --reps R           interleaved repetitions; medians are reported (default "
		"5)\n"
		"  -c, --cpus A,B         CPUs of the initiator and the (first) echo process;\n"
		"                         more echo processes go round-robin over the allowed\n"
		"                         CPUs (default 0,1)\n"
		"  -W, --wait park        the parked transports and their baselines:\n"
		"                         "
		"shmq-spsc-park,shmq-spsc-spinpark,shmq-req-park,raw-futex,\n"
		"                         eventfd,pipe\n"
		"  -t, --transports LIST  of shmq-spsc,shmq-topic,shmq-topic-excl,shmq-queue (the\n"
		"                         echo a consumer-group member: recv, ack, reply),\n"
		"                         shmq-req (request/reply: shmq_req_send() and\n"
		"                         shmq_req_recv() polling against a polling responder),\n"
		"                         shmq-req-park (shmq_request() against a responder\n"
		"                         parked in shmq_rep_wait()),\n"
		"                         raw-cacheline,\n"
		"                         pipe,uds,uds-dgram,eventfd,posix-mq,zmq-ipc,nng-ipc,\n"
		"                         iceoryx,iceoryx-ws (polling; WaitSet: both start\n"
		"                         RouDi for the run unless it runs),\n"
		"                         shmq-spsc-park,shmq-spsc-spinpark,raw-futex (the\n"
		"                         pingpong and quick default, those built; -excl: the\n"
		"                         topics' producers open with SHMQ_PUB_EXCLUSIVE;\n"
		"                         -park: shmq_channel_wait() parks at once, -spinpark:\n"
		"                         spins 20 us first; raw-futex: FUTEX_WAIT/FUTEX_WAKE on\n"
		"                         two shared words; backend: the banner's 'wake' line),\n"
		"                         shmq-topic-lat (shmq-topic, its subscribers record\n"
		"                         delivery latency: SHMQ_SUB_LATENCY), shmq-topic-hdrs\n"
		"                         (shmq-topic, each record with a traceparent header),\n"
		"                         raw-record (a channel's record layout and nothing\n"
		"                         else), shmq-topic-fanN and raw-cacheline-fanN for N of\n"
		"                         1,2,4,8\n"
		"%s"
		"  -S, --subscribers LIST fan-out widths to run, of 1,2,4,8: shmq-topic-fanN and\n"
		"                         raw-cacheline-fanN each (default %s)\n"
		"  -R, --rate N           fixed rate: N round trips per second, each timed from\n"
		"                         when it was due, so that a late one's wait counts\n"
		"                         (default 0: back to back)\n"
		"  -C, --capacity BYTES   ring bytes of the shmq channels, a power of two "
		"(default\n"
		"                         the library's, 1 MiB)\n"
		"  -j, --json             one JSON object per line\n"
		"  -H, --hlog FILE        also write every measurement's histogram to FILE\n"
		"                         (HdrHistogram .hlog, tags TRANSPORT-SIZE)\n"
		"  -h, --help             this text\n",
		BENCH_PROG, mode_name[m], sizes[m], iters[m], warmup[m], link_missing_text(),
		fans[m]);
}

static int transports_parse(const char *arg, bool *use)
{
	const char *names[PP_NTRANSPORTS];
	int ti;

	for (ti = 0; ti < PP_NTRANSPORTS; ti++)
		names[ti] = pp_transports[ti]->name;
	if (list_parse(arg, names, PP_NTRANSPORTS, use) < 0)
		return -1;
	for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
		if (use[ti] && !pp_available(pp_transports[ti]))
			return link_missing_error(pp_transports[ti]->link);
	}
	return 0;
}

/* --subscribers: the fan-out pairs to run; the other transports stay as they are. */
static int fanout_parse(const char *arg, bool *use)
{
	static const char *const widths[PP_NFAN] = { "1", "2", "4", "8" };
	bool w[PP_NFAN];
	int i;

	if (list_parse(arg, widths, PP_NFAN, w) < 0)
		return -1;
	for (i = 0; i < PP_NFAN; i++)
		use[PP_FAN1 + i] = use[PP_RAWFAN1 + i] = w[i];
	return 0;
}

/* -t or -S: NULL, or what was invalid. */
/* What the short report (the README's main job) runs: the targets' transports only. */
static bool in_quick(int ti)
{
	return ti == PP_SHMQ || ti == PP_TOPIC || ti == PP_TOPIC_EXCL || ti == PP_RAW ||
	       ti == PP_REQ || ti == PP_UDS || ti == PP_SPSC_PARK || ti == PP_RAW_FUTEX ||
	       ti == PP_IOX || ti == PP_IOX_WS;
}

/* --wait park: the parked transports and the blocking baselines they are compared with. */
#define WAIT_PARK_SET "shmq-spsc-park,shmq-spsc-spinpark,shmq-req-park,raw-futex,eventfd,pipe"

static const char *selection_parse(int c, const char *arg, bool *use)
{
	if (c == 'W') {
		if (strcmp(arg, "park") != 0)
			return "wait mode (only 'park')";
		return transports_parse(WAIT_PARK_SET, use) < 0 ? "wait mode" : NULL;
	}
	if (c == 't')
		return transports_parse(arg, use) < 0 ? "transport list" : NULL;
	return fanout_parse(arg, use) < 0 ? "subscriber list" : NULL;
}

void pp_opts_default(struct pp_opts *o, enum pp_mode m)
{
	static const unsigned sizes[] = { 8, 64, 512, 4096 };
	int ti;

	memset(o, 0, sizeof(*o));
	o->mode = m;
	if (m == PP_MODE_PINGPONG) {
		memcpy(o->sizes, sizes, sizeof(sizes));
		o->nsizes = 4;
	} else {
		o->sizes[0] = 64;
		o->nsizes = 1;
	}
	o->iters = m == PP_MODE_QUICK ? 20000 : 50000;
	o->warmup = o->iters / 10;
	o->reps = 5;
	for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
		bool fan = ti >= PP_FAN1;

		o->use[ti] = (m == PP_MODE_FANOUT ? fan
						  : !fan && ti != PP_RAWREC && ti != PP_TOPIC_LAT &&
							    ti != PP_TOPIC_HDRS) &&
			     pp_available(pp_transports[ti]) &&
			     (m != PP_MODE_QUICK || in_quick(ti));
	}
}

static int usage_error(const char *what, const char *arg, enum pp_mode m)
{
	if (what)
		fprintf(stderr, "%s %s: invalid %s '%s'\n", BENCH_PROG, mode_name[m], what, arg);
	fprintf(stderr, "Try '%s %s --help'.\n", BENCH_PROG, mode_name[m]);
	return 2;
}

static bool capacity_ok(const char *arg, uint64_t *ret)
{
	return u64_parse(arg, SHMQ_MIN_CAPACITY, SHMQ_MAX_CAPACITY, ret) == 0 &&
	       (*ret & (*ret - 1)) == 0;
}

/* One option: -1 to go on, else the exit status. */
static int opt_one(int c, struct pp_opts *o)
{
	const char *bad = NULL;

	switch (c) {
	case 's':
		o->nsizes = sizes_parse(optarg, o->sizes, BENCH_MAX_SIZES);
		bad = o->nsizes > 0 ? NULL : "size list";
		break;
	case 'n':
		bad = u64_parse(optarg, 1, 100000000, &o->iters) ? "iteration count" : NULL;
		break;
	case 'w':
		bad = u64_parse(optarg, 0, 100000000, &o->warmup) ? "warm-up count" : NULL;
		break;
	case 'r':
		bad = u64_parse(optarg, 1, 1000, &o->reps) ? "repetition count" : NULL;
		break;
	case 'c':
		o->cpus_given = true;
		bad = cpus_parse(optarg, &o->cpus) ? "CPU pair" : NULL;
		break;
	case 't':
	case 'S':
	case 'W':
		bad = selection_parse(c, optarg, o->use);
		break;
	case 'R':
		bad = u64_parse(optarg, 0, 100000000, &o->rate) ? "rate" : NULL;
		break;
	case 'C':
		bad = capacity_ok(optarg, &o->capacity) ? NULL : "capacity";
		break;
	case 'H':
		o->hlog = optarg;
		break;
	case 'j':
		o->json = true;
		break;
	case 'h':
		usage(stdout, o->mode);
		return 0;
	default:
		return usage_error(NULL, NULL, o->mode);
	}
	return bad ? usage_error(bad, optarg, o->mode) : -1;
}

static bool any_transport(const struct pp_opts *o)
{
	int ti;

	for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
		if (o->use[ti])
			return true;
	}
	return false;
}

/* Return -1 to go on, else the exit status. */
static int opts_parse(int argc, char **argv, struct pp_opts *o)
{
	static const struct option lopts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "iters", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "reps", required_argument, NULL, 'r' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "transports", required_argument, NULL, 't' },
		{ "subscribers", required_argument, NULL, 'S' },
		{ "wait", required_argument, NULL, 'W' },
		{ "capacity", required_argument, NULL, 'C' },
		{ "rate", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "hlog", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, e;

	while ((c = getopt_long(argc, argv, "s:n:w:r:c:t:S:W:C:R:H:jh", lopts, NULL)) != -1) {
		e = opt_one(c, o);
		if (e >= 0)
			return e;
	}
	if (optind < argc)
		return usage_error("argument", argv[optind], o->mode);
	if (!any_transport(o))
		return usage_error("transport selection", "(none)", o->mode);
	return -1;
}

/* ---- entry ---- */

#define PP_RBUF_SIZE ((size_t)BENCH_MAX_PEERS * BENCH_MAX_SIZE) /* one reply per echo */

static int pp_setup(struct pp_opts *o, struct pp_run *r, struct lat *lat, struct pp_results *res)
{
	size_t n = (size_t)o->reps * (size_t)o->nsizes * PP_NTRANSPORTS * NPCT;

	r->buf = aligned_alloc(64, BENCH_MAX_SIZE);
	r->rbuf = aligned_alloc(64, PP_RBUF_SIZE);
	r->ebuf = aligned_alloc(64, BENCH_MAX_SIZE);
	res->o = o;
	res->v = calloc(n, sizeof(*res->v));
	if (!r->buf || !r->rbuf || !r->ebuf || !res->v || lat_init(lat) < 0)
		return fail("allocate buffers", -ENOMEM);
	if (o->hlog) {
		o->hlog_f = fopen(o->hlog, "w");
		if (!o->hlog_f)
			return fail(o->hlog, -errno);
		o->hlog_base_ns = wall_ns();
		shmq_hist_log_write_header(o->hlog_f, "shmq-bench pingpong round-trip times (ns)",
					   (double)o->hlog_base_ns / 1e9,
					   (double)o->hlog_base_ns / 1e9);
	}
	/* Touch every buffer now: no page fault inside a timed round trip. */
	memset(r->buf, 0, BENCH_MAX_SIZE);
	memset(r->rbuf, 0, PP_RBUF_SIZE);
	memset(r->ebuf, 0, BENCH_MAX_SIZE);
	return 0;
}

int pp_measure(struct pp_opts *o, struct pp_results *res)
{
	struct pp_run run = { 0 };
	struct lat lat = { 0 };
	int e;

	chan_set_capacity(o->capacity);
	e = pp_setup(o, &run, &lat, res);
	if (e == 0)
		e = pp_all(o, res, &run, &lat);
	free(run.buf);
	free(run.rbuf);
	free(run.ebuf);
	lat_free(&lat);
	return e;
}

int pingpong_main(int argc, char **argv, enum pp_mode mode)
{
	struct pp_opts o;
	struct pp_results res = { 0 };
	int e;

	pp_opts_default(&o, mode);
	e = opts_parse(argc, argv, &o);
	if (e >= 0)
		return e;
	e = bench_start(&o.cpus, o.cpus_given, o.json);
	if (e >= 0)
		return e;
	e = pp_measure(&o, &res);
	if (e == 0)
		report(&o, &res);
	free(res.v);
	if (o.hlog_f && fclose(o.hlog_f) != 0 && e == 0)
		e = fail(o.hlog, -errno);
	return e < 0 ? 1 : 0;
}
