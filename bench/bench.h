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
#define BENCH_MAX_PEERS 8 /* forked processes of one measurement (fan-out, producers) */

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

/*
 * Which CPUs the processes run on; pinned is false when only one CPU is allowed. With more
 * than one peer, process i (0: the parent, 1..: the peers) runs on order[i % norder]: a, b,
 * then the other allowed CPUs, round-robin.
 */
struct cpu_pair {
	int a; /* initiator / consumer (the parent) */
	int b; /* echo / producer (the first child) */
	bool pinned;
	int order[BENCH_MAX_PEERS + 1];
	int norder;
	int nallowed; /* CPUs this process may use (before it pinned itself) */
};

int cpus_parse(const char *arg, struct cpu_pair *ret);
int cpus_resolve(struct cpu_pair *cp, bool given);
int cpu_pin(int cpu);
/* The CPU of process @proc (0: the parent), or -1 when unpinned. */
int cpu_of(const struct cpu_pair *cp, unsigned proc);
/* More processes than allowed CPUs: spinning then has to yield. */
static inline bool cpus_oversubscribed(const struct cpu_pair *cp, unsigned nprocs)
{
	return nprocs > (unsigned)cp->nallowed;
}

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
 * @n peers, peer i on cpu_of(@cp, i + 1) (unpinned when @cp is); *@idx is set to i before
 * the i-th fork, so that @fn(@arg) in the child knows which one it is. On failure the peers
 * already started are killed. peers_wait() reaps them all and fails if any failed.
 */
int peers_start(struct peer *p, unsigned n, const struct cpu_pair *cp, int (*fn)(void *arg),
		void *arg, unsigned *idx);
int peers_wait(struct peer *p, unsigned n);
void peers_kill(struct peer *p, unsigned n);

/*
 * Spinning on shared memory must notice a peer that died: every 64 Ki empty polls,
 * spin_check() asks the kernel. The parent checks its children, a child its parent.
 * With several children, "gone" means one failed or all exited (one that finished its
 * share is not an error). Unpinned (one CPU for both) or oversubscribed, every empty poll
 * yields, or each hop would wait for a tick.
 */
struct spin {
	uint32_t n;
	bool yield; /* processes share a CPU: give it up at every empty poll */
	struct peer *child; /* in the parent: nchild peers (0 counts as 1) */
	unsigned nchild;
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

/*
 * Names and paths this run created; removed on exit and on a fatal signal (directories
 * after the files, so a directory's entries must be registered too).
 */
enum cleanup_kind { CLEANUP_SHM, CLEANUP_MQ, CLEANUP_FILE, CLEANUP_DIR };

void cleanup_install(void);
void cleanup_add(enum cleanup_kind kind, const char *path);
void cleanup_del(enum cleanup_kind kind, const char *path);
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

/* A transport's wait mode: "block" (the kernel or a library waits) or "poll" (busy-polls). */
static inline const char *wait_name(bool block)
{
	return block ? "block" : "poll";
}

/* ---- subcommands ---- */

enum pp_mode { PP_MODE_PINGPONG, PP_MODE_QUICK, PP_MODE_FANOUT };

int pingpong_main(int argc, char **argv, enum pp_mode mode);
int throughput_main(int argc, char **argv);
int compare_main(int argc, char **argv);
int idle_main(int argc, char **argv);
int queue_main(int argc, char **argv);
int failover_main(int argc, char **argv);
/* bench/bench_hist.c, when present (the histogram benchmark). */
int bench_hist_main(int argc, char **argv);

#endif /* SHMQ_BENCH_H */
