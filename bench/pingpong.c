// SPDX-License-Identifier: MIT
/* pingpong.c - round-trip latency of shmq-spsc against raw-cacheline, pipe and uds. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pingpong.h"

enum { P50, P90, P99, P999, PMAX, NPCT };

static const double pct_q[NPCT] = { 50, 90, 99, 99.9, 100 };

struct pp_opts {
	unsigned sizes[BENCH_MAX_SIZES];
	int nsizes;
	uint64_t iters;
	uint64_t warmup;
	uint64_t reps;
	uint64_t capacity;
	bool use[PP_NTRANSPORTS];
	struct cpu_pair cpus;
	bool cpus_given;
	bool json;
	bool quick;
	const char *hlog; /* --hlog FILE: every measurement as a tagged interval */
	FILE *hlog_f;
	uint64_t hlog_base_ns; /* CLOCK_REALTIME of the log's BaseTime */
};

/* Per-rep percentiles, [rep][size][transport][pct]. */
struct pp_results {
	const struct pp_opts *o;
	uint64_t *v;
};

static uint64_t *res_at(const struct pp_results *res, uint64_t rep, int si, int ti)
{
	size_t idx = ((rep * (size_t)res->o->nsizes + (size_t)si) * PP_NTRANSPORTS + (size_t)ti);

	return res->v + idx * NPCT;
}

/* ---- one measurement ---- */

static int pp_loop(const struct pp_transport *t, const struct pp_opts *o, struct pp_run *r,
		   struct lat *lat)
{
	uint64_t seq, t0, t1;

	for (seq = 1; seq <= r->total; seq++) {
		if (t->payload)
			pattern_fill(r->buf, r->size, seq);
		t0 = now_ns();
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
	}
	return 0;
}

static int pp_once(const struct pp_transport *t, const struct pp_opts *o, struct pp_run *r,
		   struct lat *lat)
{
	struct peer child = { 0 };
	int e;

	r->tx = r->rx = NULL;
	r->ab[0] = r->ba[0] = '\0';
	r->raw = NULL;
	r->recs = NULL;
	r->rec_off[0] = r->rec_off[1] = 0;
	r->fd[0] = r->fd[1] = r->fd[2] = r->fd[3] = -1;
	r->total = o->warmup + o->iters;
	r->yield = !o->cpus.pinned;
	lat_reset(lat);
	e = t->setup(r);
	if (e == 0) {
		e = peer_start(&child, o->cpus.pinned ? o->cpus.b : -1, t->echo, r);
		if (e < 0)
			e = fail("fork", e);
	}
	if (e == 0) {
		r->spin = (struct spin){ .child = &child, .yield = r->yield };
		e = t->attached(r);
	}
	if (e == 0)
		e = pp_loop(t, o, r, lat);
	if (e == 0)
		e = peer_wait(&child);
	if (e < 0)
		peer_kill(&child);
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
				if (!o->use[ti])
					continue;
				uint64_t start = wall_ns();

				if (pp_once(&pp_transports[ti], o, r, lat) < 0 ||
				    hlog_interval(o, pp_transports[ti].name, r->size, start, lat) <
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

struct pp_summary {
	uint64_t med[NPCT]; /* median over reps of each percentile */
	uint64_t p50_min;
	uint64_t p50_max;
};

static void summarize(const struct pp_results *res, int si, int ti, struct pp_summary *s)
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

static void print_row(const struct pp_opts *o, int si, int ti, const struct pp_summary *s)
{
	const char *name = pp_transports[ti].name;

	if (o->json) {
		printf("{\"bench\":\"pingpong\",\"transport\":\"%s\",\"size\":%u,\"iters\":%llu,"
		       "\"reps\":%llu,\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,"
		       "\"p999_ns\":%llu,\"max_ns\":%llu,\"p50_min_ns\":%llu,\"p50_max_ns\":%llu}"
		       "\n",
		       name, o->sizes[si], (unsigned long long)o->iters,
		       (unsigned long long)o->reps, (unsigned long long)s->med[P50],
		       (unsigned long long)s->med[P90], (unsigned long long)s->med[P99],
		       (unsigned long long)s->med[P999], (unsigned long long)s->med[PMAX],
		       (unsigned long long)s->p50_min, (unsigned long long)s->p50_max);
		return;
	}
	printf("%6u  %-14s %8llu %8llu %8llu %8llu %9llu   %llu-%llu\n", o->sizes[si], name,
	       (unsigned long long)s->med[P50], (unsigned long long)s->med[P90],
	       (unsigned long long)s->med[P99], (unsigned long long)s->med[P999],
	       (unsigned long long)s->med[PMAX], (unsigned long long)s->p50_min,
	       (unsigned long long)s->p50_max);
}

static void print_ratios(const struct pp_opts *o, int si, const struct pp_summary *s)
{
	double spsc = (double)s[PP_SHMQ].med[P50];
	double raw = (double)s[PP_RAW].med[P50];
	double uds = (double)s[PP_UDS].med[P50];
	bool have_raw = o->use[PP_SHMQ] && o->use[PP_RAW] && raw > 0;
	bool have_uds = o->use[PP_SHMQ] && o->use[PP_UDS] && spsc > 0;

	if (o->json) {
		printf("{\"bench\":\"pingpong-ratio\",\"size\":%u", o->sizes[si]);
		if (have_raw)
			printf(",\"spsc_over_raw_p50\":%.3f", spsc / raw);
		if (have_uds)
			printf(",\"uds_over_spsc_p50\":%.2f", uds / spsc);
		printf("}\n");
		return;
	}
	printf("%6u  ratio p50:", o->sizes[si]);
	if (have_raw)
		printf("  shmq-spsc / raw-cacheline = %.2f", spsc / raw);
	if (have_uds)
		printf("  uds / shmq-spsc = %.1f", uds / spsc);
	printf("\n");
}

static void print_target(const struct pp_opts *o, const char *name, bool have, double value,
			 const char *op, double limit)
{
	bool pass = op[0] == '<' ? value <= limit : value >= limit;
	const char *verdict = !have ? "SKIP" : pass ? "PASS" : "MISS";

	if (o->json) {
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

/* The targets, at 64 bytes: p50 within 1.25x the hardware, 20x under a socket. */
static void print_targets(const struct pp_opts *o, const struct pp_summary *s)
{
	double spsc = (double)s[PP_SHMQ].med[P50];
	bool raw = o->use[PP_SHMQ] && o->use[PP_RAW] && s[PP_RAW].med[P50];
	bool uds = o->use[PP_SHMQ] && o->use[PP_UDS] && spsc > 0;

	if (!o->json)
		printf("\ntargets (64 bytes, p50 of the same run%s):\n",
		       o->cpus.pinned ? "" : "; UNPINNED, one CPU: the targets assume two");
	print_target(o, "shmq-spsc/raw-cacheline p50 RTT", raw,
		     raw ? spsc / (double)s[PP_RAW].med[P50] : 0, "<=", 1.25);
	print_target(o, "uds/shmq-spsc p50 RTT", uds, uds ? (double)s[PP_UDS].med[P50] / spsc : 0,
		     ">=", 20);
}

static void report(const struct pp_opts *o, const struct pp_results *res)
{
	struct pp_summary s[PP_NTRANSPORTS], s64[PP_NTRANSPORTS];
	bool have64 = false;
	int si, ti;

	if (!o->json)
		printf("pingpong: round-trip time in ns; median over %llu reps of %llu round trips "
		       "each (after %llu warm-up)\n"
		       "  size  transport           p50      p90      p99    p99.9       max   "
		       "p50 min-max over reps\n",
		       (unsigned long long)o->reps, (unsigned long long)o->iters,
		       (unsigned long long)o->warmup);
	memset(s64, 0, sizeof(s64));
	for (si = 0; si < o->nsizes; si++) {
		memset(s, 0, sizeof(s));
		for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
			if (!o->use[ti])
				continue;
			summarize(res, si, ti, &s[ti]);
			print_row(o, si, ti, &s[ti]);
		}
		print_ratios(o, si, s);
		if (o->sizes[si] == 64 && !have64) {
			memcpy(s64, s, sizeof(s));
			have64 = true;
		}
	}
	if (have64)
		print_targets(o, s64);
	else if (!o->json)
		printf("\ntargets: not checked (they are defined at 64 bytes; add 64 to "
		       "--sizes)\n");
}

/* ---- options ---- */

static void usage(FILE *f, bool quick)
{
	fprintf(f,
		"usage: %s %s [OPTIONS]\n"
		"Round-trip latency between two processes pinned to different CPUs.\n"
		"  -s, --sizes LIST       payload bytes, comma-separated (default %s)\n"
		"  -n, --iters N          timed round trips per measurement (default %s)\n"
		"  -w, --warmup N         untimed round trips first (default %s)\n"
		"  -r, --reps R           interleaved repetitions; medians are reported (default "
		"5)\n"
		"  -c, --cpus A,B         CPUs of the initiator and the echo process (default "
		"0,1)\n"
		"  -t, --transports LIST  of shmq-spsc,raw-cacheline,pipe,uds (the default), and\n"
		"                         raw-record (a channel's record layout and nothing else)\n"
		"  -C, --capacity BYTES   ring bytes of the shmq channels, a power of two "
		"(default\n"
		"                         the library's, 1 MiB)\n"
		"  -j, --json             one JSON object per line\n"
		"  -H, --hlog FILE        also write every measurement's histogram to FILE\n"
		"                         (HdrHistogram .hlog, tags TRANSPORT-SIZE)\n"
		"  -h, --help             this text\n",
		BENCH_PROG, quick ? "quick" : "pingpong", quick ? "64" : "8,64,512,4096",
		quick ? "20000" : "50000", quick ? "2000" : "5000");
}

static int transports_parse(const char *arg, bool *use)
{
	const char *names[PP_NTRANSPORTS];
	int ti;

	for (ti = 0; ti < PP_NTRANSPORTS; ti++)
		names[ti] = pp_transports[ti].name;
	return list_parse(arg, names, PP_NTRANSPORTS, use);
}

static void opts_default(struct pp_opts *o, bool quick)
{
	static const unsigned sizes[] = { 8, 64, 512, 4096 };
	int ti;

	memset(o, 0, sizeof(*o));
	o->quick = quick;
	if (quick) {
		o->sizes[0] = 64;
		o->nsizes = 1;
	} else {
		memcpy(o->sizes, sizes, sizeof(sizes));
		o->nsizes = 4;
	}
	o->iters = quick ? 20000 : 50000;
	o->warmup = quick ? 2000 : 5000;
	o->reps = 5;
	for (ti = 0; ti < PP_NTRANSPORTS; ti++)
		o->use[ti] = ti != PP_RAWREC;
}

static int usage_error(const char *what, const char *arg, bool quick)
{
	if (what)
		fprintf(stderr, "%s %s: invalid %s '%s'\n", BENCH_PROG,
			quick ? "quick" : "pingpong", what, arg);
	fprintf(stderr, "Try '%s %s --help'.\n", BENCH_PROG, quick ? "quick" : "pingpong");
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
		bad = transports_parse(optarg, o->use) ? "transport list" : NULL;
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
		usage(stdout, o->quick);
		return 0;
	default:
		return usage_error(NULL, NULL, o->quick);
	}
	return bad ? usage_error(bad, optarg, o->quick) : -1;
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
		{ "capacity", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "hlog", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, e;

	while ((c = getopt_long(argc, argv, "s:n:w:r:c:t:C:H:jh", lopts, NULL)) != -1) {
		e = opt_one(c, o);
		if (e >= 0)
			return e;
	}
	if (optind < argc)
		return usage_error("argument", argv[optind], o->quick);
	return -1;
}

/* ---- entry ---- */

static int pp_setup(struct pp_opts *o, struct pp_run *r, struct lat *lat, struct pp_results *res)
{
	size_t n = (size_t)o->reps * (size_t)o->nsizes * PP_NTRANSPORTS * NPCT;

	r->buf = aligned_alloc(64, BENCH_MAX_SIZE);
	r->rbuf = aligned_alloc(64, BENCH_MAX_SIZE);
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
	memset(r->rbuf, 0, BENCH_MAX_SIZE);
	memset(r->ebuf, 0, BENCH_MAX_SIZE);
	return 0;
}

int pingpong_main(int argc, char **argv, bool quick)
{
	struct pp_opts o;
	struct pp_run run = { 0 };
	struct pp_results res = { 0 };
	struct lat lat = { 0 };
	int e;

	opts_default(&o, quick);
	e = opts_parse(argc, argv, &o);
	if (e >= 0)
		return e;
	e = bench_start(&o.cpus, o.cpus_given, o.json);
	if (e >= 0)
		return e;
	chan_set_capacity(o.capacity);
	e = pp_setup(&o, &run, &lat, &res);
	if (e == 0)
		e = pp_all(&o, &res, &run, &lat);
	if (e == 0)
		report(&o, &res);
	free(run.buf);
	free(run.rbuf);
	free(run.ebuf);
	free(res.v);
	lat_free(&lat);
	if (o.hlog_f && fclose(o.hlog_f) != 0 && e == 0)
		e = fail(o.hlog, -errno);
	return e < 0 ? 1 : 0;
}
