// SPDX-License-Identifier: MIT
/* bench_hist.c - shmq-bench hist: what recording a value into an HDR histogram costs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bench.h"
#include "shmq.h"

#define HIST_LOWEST 1
#define HIST_HIGHEST (3600LL * 1000 * 1000 * 1000) /* 1 ns .. 1 h */
#define HIST_SIGFIGS 3
#define VALUES_LEN 4096 /* a power of two: the value table is indexed with a mask */
#define MAX_RUNS 101

struct hist_targets {
	shmq_hist *h;
	shmq_hist_shm *shm;
	shmq_hist_recorder *rec;
	void *mem;
	size_t mem_size;
};

enum variant { V_PLAIN, V_SHM, V_RECORDER, V_COUNT };
static const char *const variant_names[V_COUNT] = { "shmq_hist_record", "shmq_hist_shm_record",
						    "shmq_hist_recorder_record" };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s hist [-n COUNT] [-r RUNS]\n"
		"Nanoseconds per recorded value, for a private histogram, a shared-memory one\n"
		"and the interval recorder (1 ns..1 h, 3 digits, latency-like values).\n"
		"\n"
		"  -n, --count COUNT  values recorded per run (default 20000000)\n"
		"  -r, --runs RUNS    runs per variant, 1-%d; the median is reported (default 7)\n"
		"  -h, --help         this text\n",
		BENCH_PROG, MAX_RUNS);
}

/* Latency-like values: mostly a few microseconds, 1% up to milliseconds. */
static void fill_values(int64_t *v)
{
	uint64_t s = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < VALUES_LEN; i++) {
		s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
		v[i] = 500 + (int64_t)((s * 0x2545f4914f6cdd1dull) % 20000);
		if (i % 100 == 0)
			v[i] *= 1 + i % 500;
	}
}

static double run_once(struct hist_targets *t, enum variant var, const int64_t *v, uint64_t count)
{
	uint64_t t0 = now_ns();

	switch (var) {
	case V_PLAIN:
		for (uint64_t i = 0; i < count; i++)
			shmq_hist_record(t->h, v[i & (VALUES_LEN - 1)]);
		break;
	case V_SHM:
		for (uint64_t i = 0; i < count; i++)
			shmq_hist_shm_record(t->shm, v[i & (VALUES_LEN - 1)]);
		break;
	default:
		for (uint64_t i = 0; i < count; i++)
			shmq_hist_recorder_record(t->rec, v[i & (VALUES_LEN - 1)]);
		break;
	}
	return (double)(now_ns() - t0) / (double)count;
}

static int targets_open(struct hist_targets *t)
{
	int r = shmq_hist_new(HIST_LOWEST, HIST_HIGHEST, HIST_SIGFIGS, &t->h);

	if (r == 0)
		r = shmq_hist_recorder_new(HIST_LOWEST, HIST_HIGHEST, HIST_SIGFIGS, &t->rec);
	if (r == 0)
		r = shmq_hist_shm_size(HIST_LOWEST, HIST_HIGHEST, HIST_SIGFIGS, &t->mem_size);
	if (r < 0)
		return r;
	t->mem = mmap(NULL, t->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->mem == MAP_FAILED) {
		t->mem = NULL;
		return -errno;
	}
	return shmq_hist_shm_init(t->mem, t->mem_size, HIST_LOWEST, HIST_HIGHEST, HIST_SIGFIGS, 0,
				  &t->shm);
}

static void targets_close(struct hist_targets *t)
{
	shmq_hist_free(t->h);
	shmq_hist_shm_close(t->shm);
	shmq_hist_recorder_free(t->rec);
	if (t->mem)
		munmap(t->mem, t->mem_size);
}

static void report(enum variant var, double *ns, unsigned runs, uint64_t count)
{
	double med = median_double(ns, runs); /* sorts: ns[0] is the min */

	printf("%-26s %8.2f %8.2f %8.2f %6u %12llu\n", variant_names[var], med, ns[0], ns[runs - 1],
	       runs, (unsigned long long)count);
}

static int measure(uint64_t count, unsigned runs)
{
	struct hist_targets t = { 0 };
	static int64_t values[VALUES_LEN];
	double ns[MAX_RUNS];
	int r = targets_open(&t);

	if (r < 0) {
		fprintf(stderr, "%s hist: setup: %s\n", BENCH_PROG, shmq_strerror(r));
		targets_close(&t);
		return 1;
	}
	fill_values(values);
	printf("# HDR histogram recording cost, ns per value (1..3.6e12, 3 digits)\n");
	printf("%-26s %8s %8s %8s %6s %12s\n", "variant", "median", "min", "max", "runs",
	       "values/run");
	for (int var = 0; var < V_COUNT; var++) {
		run_once(&t, (enum variant)var, values, count / 10 + 1); /* warm up */
		for (unsigned i = 0; i < runs; i++)
			ns[i] = run_once(&t, (enum variant)var, values, count);
		report((enum variant)var, ns, runs, count);
	}
	/* the figures above only count if nothing was dropped */
	if (shmq_hist_out_of_range(t.h) || shmq_hist_total(t.h) == 0)
		fprintf(stderr, "%s hist: values fell out of range\n", BENCH_PROG);
	targets_close(&t);
	return 0;
}

int bench_hist_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t count = 20000000, runs = 7;
	int c;

	while ((c = getopt_long(argc, argv, "n:r:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (u64_parse(optarg, 1000, UINT64_C(1) << 40, &count) < 0)
				goto err_usage;
			break;
		case 'r':
			if (u64_parse(optarg, 1, MAX_RUNS, &runs) < 0)
				goto err_usage;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto err_usage;
		}
	}
	if (optind != argc)
		goto err_usage;
	return measure(count, (unsigned)runs);
err_usage:
	usage(stderr);
	return 2;
}
