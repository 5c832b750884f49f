/* SPDX-License-Identifier: MIT */
/* bench.h - declarations shared by the files of shmq-bench (latency, processes, reporting). */
#ifndef SHMQ_BENCH_H
#define SHMQ_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sched.h>
#include <time.h>

#include "shmq.h"

#define BENCH_PROG "shmq-bench"
#define BENCH_MAX_SIZES 16
#define BENCH_MAX_SIZE (64u << 10) /* the channel's default max_msg */
#define BENCH_CACHE_LINE 64

/* ---- latency samples (lat.c): the one place that knows how samples are kept ---- */

/*
 * struct lat - recorded round-trip times of one measurement, in nanoseconds, in an HDR
 * histogram (3 significant figures, 1 ns to 1 hour; longer samples are counted as out of
 * range). Percentiles follow HdrHistogram's rules, so they agree with its tools and with
 * the intervals written by --hlog.
 */
struct lat {
	shmq_hist *h;
};

int lat_init(struct lat *l); /* released with lat_free() */
void lat_free(struct lat *l);
void lat_reset(struct lat *l);
/* @q in [0, 100]; 100 is the maximum. 0 when no sample was recorded. */
uint64_t lat_percentile(const struct lat *l, double q);

/* Medians of per-rep results; both sort @v in place (v[0] and v[n - 1] are then min, max). */
uint64_t median_u64(uint64_t *v, size_t n);
double median_double(double *v, size_t n);

static inline void lat_record(struct lat *l, uint64_t ns)
{
	shmq_hist_record(l->h, (int64_t)ns); /* -ERANGE is counted by the histogram */
}

/* ---- clocks, CPUs, processes and cleanup (sys.c) ---- */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Which CPUs the two sides run on; pinned is false when only one CPU is allowed. */
struct cpu_pair {
	int a; /* initiator / consumer (the parent) */
	int b; /* echo / producer (the child) */
	bool pinned;
};

int cpus_parse(const char *arg, struct cpu_pair *ret);
int cpus_resolve(struct cpu_pair *cp, bool given);
int cpu_pin(int cpu);

/* Print what a reader needs to judge the numbers: date, kernel, CPU, load, clock cost. */
void sysinfo_print(const struct cpu_pair *cp, bool json);
/*
 * Resolve the CPU pair, pin the calling (parent) process and print the banner: the start
 * of every measuring command. Return -1 to go on, else the exit status (2: unusable CPUs).
 */
int bench_start(struct cpu_pair *cpus, bool cpus_given, bool json);

/*
 * A forked peer process. peer_start() runs @fn(@arg) in a child pinned to @cpu (or unpinned
 * when @cpu < 0); the child dies with its parent. peer_wait() reaps it and checks that it
 * exited 0; peer_kill() kills and reaps it (both are no-ops when no peer is running).
 */
struct peer {
	pid_t pid;
	int status;
	bool exited;
};

int peer_start(struct peer *p, int cpu, int (*fn)(void *arg), void *arg);
int peer_wait(struct peer *p);
void peer_kill(struct peer *p);

/*
 * Spinning on shared memory must notice a peer that died: every 64 Ki empty polls,
 * spin_check() asks the kernel. The parent checks its child, the child its parent.
 * Unpinned (one CPU for both), every empty poll yields, or each hop would wait for a tick.
 */
struct spin {
	uint32_t n;
	bool yield; /* both processes share one CPU: give it up at every empty poll */
	struct peer *child; /* in the parent */
	pid_t parent; /* in the child */
};

bool spin_peer_gone(struct spin *s);

static inline bool spin_check(struct spin *s)
{
	if (__builtin_expect(s->yield, 0))
		sched_yield();
	if (__builtin_expect((++s->n & 0xffff) != 0, 1))
		return false;
	return spin_peer_gone(s);
}

/* Shared-memory names this run created; unlinked on exit and on a fatal signal. */
void cleanup_install(void);
void cleanup_add_shm(const char *ns, const char *name);
void cleanup_del_shm(const char *ns, const char *name);

/* MAP_SHARED anonymous memory, inherited across fork(); released with shared_free(). */
void *shared_alloc(size_t size);
void shared_free(void *p, size_t size);

/* Parse "8,64,512" into @sizes; 1..BENCH_MAX_SIZE each. Return the count, or -1. */
int sizes_parse(const char *arg, unsigned *sizes, int max);
/* Mark in @use which of @names the comma-separated @arg lists; -1 on an unknown or no name. */
int list_parse(const char *arg, const char *const *names, int n, bool *use);
int u64_parse(const char *arg, uint64_t min, uint64_t max, uint64_t *ret);

/* Fill @buf with a pattern derived from @seq (seq in the first 8 bytes when size >= 8). */
void pattern_fill(void *buf, size_t len, uint64_t seq);

/* ---- subcommands ---- */

int pingpong_main(int argc, char **argv, bool quick);
int throughput_main(int argc, char **argv);
/* bench/bench_hist.c, when present (the histogram benchmark). */
int bench_hist_main(int argc, char **argv);

#endif /* SHMQ_BENCH_H */
