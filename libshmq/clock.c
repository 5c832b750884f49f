// SPDX-License-Identifier: MIT
/*
 * clock.c - CLOCK_MONOTONIC nanoseconds for record timestamps and deadlines, read from the
 * TSC where the kernel itself keeps time with it.
 *
 * clock_gettime() through the vDSO costs 20-30 ns, and a round trip takes two timestamps
 * (one per send): a fifth of an SPSC round trip between two cores. Where the kernel's
 * clocksource is "tsc" (so the TSC is invariant and synchronised across CPUs, as the
 * kernel checked), each thread reads the TSC and converts with its own anchor:
 *
 *   ns = anchor_ns + (tsc - anchor_tsc) * rate
 *
 * The anchor is a clock_gettime() taken between two TSC reads, renewed every
 * CLOCK_SPAN_NS; the rate is measured against CLOCK_MONOTONIC over the last second or so
 * (so it follows the kernel's NTP adjustment). Until a thread has a rate (its first
 * CLOCK_SPAN_NS), every call is a clock_gettime(). Between anchors the error is the span
 * times the rate's error, well under a microsecond; values never go back within a thread.
 * Elsewhere (another clocksource, not x86-64, $SHMQ_CLOCK=monotonic) every call is a
 * clock_gettime().
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

#define CLOCK_SPAN_NS 1000000ull /* anchors are renewed this often */
#define CLOCK_BASE_NS 1000000000ull /* the rate is measured over about this long */
#define CLOCK_SHIFT 32 /* the rate: ns per tick in 32.32 fixed point */

static uint64_t clock_gettime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum { SRC_UNKNOWN, SRC_TSC, SRC_SYSCALL };
static _Atomic int clock_src; /* decided once per process; a race decides the same */

static int clock_decide(void)
{
	int src = SRC_SYSCALL;
#ifdef HAVE_TSC
	const char *env = getenv(SHMQ_CLOCK_ENV);
	char cs[32] = "";
	FILE *f;

	if (!env || strcmp(env, "monotonic") != 0) {
		f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
		if (f) {
			if (!fgets(cs, sizeof(cs), f))
				cs[0] = '\0';
			fclose(f);
		}
		if (strcmp(cs, "tsc\n") == 0)
			src = SRC_TSC;
	}
#endif
	atomic_store_explicit(&clock_src, src, memory_order_relaxed);
	return src;
}

static inline int clock_source_now(void)
{
	int src = atomic_load_explicit(&clock_src, memory_order_relaxed);

	return src != SRC_UNKNOWN ? src : clock_decide();
}

const char *shmq_clock_source(void)
{
	return clock_source_now() == SRC_TSC ? "tsc" : "clock_gettime";
}

#ifdef HAVE_TSC
__extension__ typedef unsigned __int128 u128;

/* One thread's conversion; fork() copies it, which stays right (the same TSC and clock). */
struct tsc_clock {
	uint64_t tsc0, ns0; /* the anchor */
	uint64_t span; /* ticks an anchor is used for; 0 until the rate is known */
	uint64_t rate; /* ns per tick, 32.32 */
	uint64_t base_tsc, base_ns; /* where the rate is measured from */
	uint64_t last; /* the last value returned */
};

static _Thread_local struct tsc_clock tclock __attribute__((tls_model("initial-exec")));

/*
 * A clock_gettime() between two TSC reads, their midpoint as its tick. The pair is tight
 * when the reads are at most PAIR_TICKS apart (a clock_gettime() takes ~100 here); one the
 * thread was preempted in is tried again, and if none is tight the rate is left alone.
 */
#define PAIR_TICKS 500
#define PAIR_TRIES 8

static uint64_t tsc_pair(uint64_t *tsc, bool *tight)
{
	uint64_t a, b, ns;
	int i = 0;

	do {
		a = __rdtsc();
		ns = clock_gettime_ns();
		b = __rdtsc();
	} while (b - a > PAIR_TICKS && ++i < PAIR_TRIES);
	*tsc = a + (b - a) / 2;
	*tight = b - a <= PAIR_TICKS;
	return ns;
}

static uint64_t tsc_anchor(struct tsc_clock *c)
{
	uint64_t tsc, ns, dt, dn;
	bool tight;

	ns = tsc_pair(&tsc, &tight);
	if (c->base_ns == 0 || tsc <= c->base_tsc || ns <= c->base_ns) {
		/* The first pair, or the TSC went back: start over, extrapolating nothing. */
		c->base_tsc = tight ? tsc : 0;
		c->base_ns = tight ? ns : 0;
		c->span = 0;
	} else if (tight && (dn = ns - c->base_ns) >= CLOCK_SPAN_NS) {
		dt = tsc - c->base_tsc;
		c->rate = (uint64_t)(((u128)dn << CLOCK_SHIFT) / dt);
		/* The span in ticks: small enough that (tsc - tsc0) * rate fits 64 bits. */
		c->span =
			(uint64_t)(((u128)CLOCK_SPAN_NS << CLOCK_SHIFT) / (c->rate ? c->rate : 1));
		if (dn >= CLOCK_BASE_NS) {
			c->base_tsc = tsc; /* the next rate comes from the next second */
			c->base_ns = ns;
		}
	}
	c->tsc0 = tsc;
	c->ns0 = ns;
	return ns;
}

static uint64_t tsc_now(void)
{
	struct tsc_clock *c = &tclock;
	uint64_t t = __rdtsc(), d = t - c->tsc0, ns;

	if (__builtin_expect(c->span != 0 && t >= c->tsc0 && d < c->span, 1))
		ns = c->ns0 + ((d * c->rate) >> CLOCK_SHIFT);
	else
		ns = tsc_anchor(c);
	if (ns < c->last)
		ns = c->last; /* an anchor behind what was extrapolated: wait for it */
	c->last = ns;
	return ns;
}
#endif

uint64_t shmqi_now_ns(void)
{
#ifdef HAVE_TSC
	if (__builtin_expect(clock_source_now() == SRC_TSC, 1))
		return tsc_now();
#endif
	return clock_gettime_ns();
}

uint64_t shmq_now_ns(void)
{
	return shmqi_now_ns();
}
