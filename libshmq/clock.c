// SPDX-License-Identifier: MIT
/*
 * clock.c - CLOCK_MONOTONIC nanoseconds for record timestamps and deadlines, read from the
 * TSC through one conversion that every process on the host shares.
 *
 * clock_gettime() through the vDSO costs 20-30 ns, and a round trip takes two timestamps
 * (one per send): a fifth of an SPSC round trip between two cores. Where the kernel's
 * clocksource is "tsc" (so the TSC is invariant and synchronised across CPUs, as the
 * kernel checked), the library reads the TSC and converts it with a piecewise-linear
 * function whose pieces every process on the host reads from one page:
 *
 *   ns = start_ns + ((tsc - start_tsc) * mult >> 32)     for start_tsc <= tsc < end_tsc
 *
 * The page. "/shmq-clock.<header layout>.<clock layout>" (struct shmqi_clock), a segment of
 * kind SHMQI_KIND_CLOCK made O_EXCL by the first process that needs it, which measures a
 * first rate over about 2 ms before it publishes the header (R0 in segment.c); mode 0666, so that
 * every user's processes read and renew the same clock. Each thread keeps a copy of the
 * piece it converts with (initial-exec TLS): the fast path is a TSC read, a compare and a
 * multiply, as with the per-thread anchors this replaced, and touches no shared line.
 *
 * Renewal. A piece lasts CLOCK_SPAN_NS. A thread whose TSC is past its piece reads the
 * page's; if that one has ended too, the thread takes @lock by CAS (L1) and writes the next
 * piece under the seqlock (C1):
 *   - start_tsc is the midpoint of a clock_gettime() between two ordered TSC reads taken
 *     after the old piece was seen ended, so start_tsc >= the old end_tsc;
 *   - start_ns is that clock_gettime(), but never below the old piece's value at its end:
 *     if the old rate ran fast, the new piece starts where the old one left off and runs
 *     slower by the lead (at most half its span), so that it meets CLOCK_MONOTONIC again at
 *     its end; a lead over a whole span is taken for garbage and dropped;
 *   - the rate (ns per tick, 32.32) is measured against CLOCK_MONOTONIC from a pair one to
 *     two seconds old, so it follows the kernel's NTP adjustment.
 *
 * Why no reading is below one that happened before it, in any process. Every value lies on
 * one function f of the TSC made of the published pieces in order: a piece never changes
 * once published, each starts at or after the end of the one before, and its values are at
 * least that one's largest. A copy of a piece is used only for a TSC inside it, so it gives
 * f, however old the copy. f does not decrease, so if process A's reading happens before
 * process B's (A stores a stamp, B loads it), t_b >= t_a gives f(t_b) >= f(t_a): A's TSC is
 * read before its store becomes visible (the store retires after the read), and B's is read
 * after its load completes: shmq_now_ns() reads it with RDTSCP, which waits for earlier
 * loads (a plain RDTSC may run ahead of the load that found the message). shmqi_now_ns()
 * uses RDTSC: its stamps are taken before the store that publishes them.
 *
 * While a renewal is under way, a thread whose piece ended and that did not get the lock
 * returns the old piece's value at its end, which nothing later is below. A lock held over
 * CLOCK_STEAL_NS (a renewer stopped or killed) is taken over; a renewer that so lost it
 * finds @seq moved on and fails its CAS, and a field it stored meanwhile breaks @sum, so
 * readers see a torn page and the next renewer starts over from a fresh pair.
 *
 * Within a thread no value is below the thread's previous one, whatever happens (those
 * recoveries, a TSC that went back, a page scribbled on). Elsewhere (another clocksource,
 * not x86-64, no RDTSCP, $SHMQ_CLOCK=monotonic, or a page that cannot be made or attached)
 * every call is a clock_gettime(); shmq_clock_source() says which, shmqi_clock_mode() why.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"
#include "shm_layout.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

#define CLOCK_SPAN_NS 1000000ull /* a piece lasts this long */
#define CLOCK_BASE_NS 1000000000ull /* the rate is measured over one to two of these */
#define CLOCK_CAL_NS 2000000ull /* a fresh page's first rate is measured over this */
#define CLOCK_STEAL_NS 1000000ull /* a renewal lock held this long is taken over */
#define CLOCK_SHIFT 32
#define CLOCK_DECIDING (-1)

uint64_t shmqi_clock_span_ns = CLOCK_SPAN_NS;
int32_t shmqi_clock_test_skew_ppm;

uint64_t shmqi_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* 0 undecided, CLOCK_DECIDING, or an enum shmqi_clock_mode; decided once per process. */
static _Atomic int clock_mode_word;
static _Thread_local bool clock_deciding; /* this thread decides: nested reads use syscalls */
static int clock_page_err;
static struct shmqi_clock *clock_page; /* set before the mode is published (R3) */
static const char *clock_page_path; /* NULL: the default; tests change it */

bool shmqi_clock_tsc_usable(void)
{
#ifdef HAVE_TSC
	unsigned a, b, c, d;
	char cs[32] = "";
	FILE *f;

	/* RDTSCP: CPUID 0x80000001, EDX bit 27. */
	if (!__get_cpuid(0x80000001, &a, &b, &c, &d) || !(d & (1u << 27)))
		return false;
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
	if (!f)
		return false;
	if (!fgets(cs, sizeof(cs), f))
		cs[0] = '\0';
	fclose(f);
	return strcmp(cs, "tsc\n") == 0;
#else
	return false;
#endif
}

#ifdef HAVE_TSC
__extension__ typedef unsigned __int128 u128;

/* ns per tick within 1/64 .. 64 (a TSC of 16 MHz to 64 GHz, with room for slewing). */
#define MULT_MIN (1ull << (CLOCK_SHIFT - 6))
#define MULT_MAX (1ull << (CLOCK_SHIFT + 6))
#define LOAD_TRIES 64 /* looks at an odd or moving seq before giving up on a snapshot */
#define SLOW_TRIES 4
/*
 * A clock_gettime() between two TSC reads, their midpoint as its tick. The pair is tight
 * when the reads are at most PAIR_TICKS apart (the three take ~200 here); one the thread
 * was preempted in is tried again, and one never tight is not used to measure the rate.
 */
#define PAIR_TICKS 500
#define PAIR_TRIES 8
#define CAL_TRIES 4

/* A snapshot of the page's fields (struct shmqi_clock). */
struct calib {
	uint64_t seq, start_tsc, end_tsc, start_ns, mult, rate;
	uint64_t base_tsc, base_ns, next_tsc, next_ns, gen, sum;
};

struct tclock {
	struct shmqi_clock_cache c;
	uint64_t last; /* the last value returned */
};
static _Thread_local struct tclock tclock __attribute__((tls_model("initial-exec")));

static inline uint64_t tsc_ordered(void)
{
	unsigned aux;

	return __rdtscp(&aux);
}

static uint64_t tsc_pair(uint64_t *tsc, bool *tight)
{
	uint64_t a, b, ns;
	int i = 0;

	do {
		a = tsc_ordered();
		ns = shmqi_mono_ns();
		b = tsc_ordered();
	} while (b - a > PAIR_TICKS && ++i < PAIR_TRIES);
	*tsc = a + (b - a) / 2;
	*tight = b - a <= PAIR_TICKS;
	return ns;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

/* The check word over a snapshot's fields, for the even @seq they are published under. */
static uint64_t calib_sum(const struct calib *k, uint64_t seq)
{
	uint64_t h = mix(0x6b636f6c63ull, seq);

	h = mix(h, k->start_tsc);
	h = mix(h, k->end_tsc);
	h = mix(h, k->start_ns);
	h = mix(h, k->mult);
	h = mix(h, k->rate);
	h = mix(h, k->base_tsc);
	h = mix(h, k->base_ns);
	h = mix(h, k->next_tsc);
	h = mix(h, k->next_ns);
	return mix(h, k->gen);
}

static bool mult_ok(uint64_t m)
{
	return m >= MULT_MIN && m <= MULT_MAX;
}

/* Whole, and safe to compute with: (end - start) * mult fits 64 bits. */
static bool calib_valid(const struct calib *k)
{
	return k->sum == calib_sum(k, k->seq) && mult_ok(k->mult) && mult_ok(k->rate) &&
	       k->end_tsc > k->start_tsc && k->end_tsc - k->start_tsc <= UINT64_MAX / k->mult;
}

static uint64_t calib_end_ns(const struct calib *k)
{
	return k->start_ns + (((k->end_tsc - k->start_tsc) * k->mult) >> CLOCK_SHIFT);
}

/* C1, the reader's side: a snapshot of one writer's fields, or false. */
static bool calib_load(const struct shmqi_clock *pg, struct calib *k)
{
	int i;

	for (i = 0; i < LOAD_TRIES; i++) {
		/* A1: pairs with R2 in calib_store(): the fields of that seq, or newer ones. */
		k->seq = atomic_load_explicit(&pg->seq, memory_order_acquire);
		if (k->seq & 1) {
			_mm_pause();
			continue;
		}
		/* Relaxed: the seq reads around them tell whether they belong together. */
		k->start_tsc = atomic_load_explicit(&pg->start_tsc, memory_order_relaxed);
		k->end_tsc = atomic_load_explicit(&pg->end_tsc, memory_order_relaxed);
		k->start_ns = atomic_load_explicit(&pg->start_ns, memory_order_relaxed);
		k->mult = atomic_load_explicit(&pg->mult, memory_order_relaxed);
		k->rate = atomic_load_explicit(&pg->rate, memory_order_relaxed);
		k->base_tsc = atomic_load_explicit(&pg->base_tsc, memory_order_relaxed);
		k->base_ns = atomic_load_explicit(&pg->base_ns, memory_order_relaxed);
		k->next_tsc = atomic_load_explicit(&pg->next_tsc, memory_order_relaxed);
		k->next_ns = atomic_load_explicit(&pg->next_ns, memory_order_relaxed);
		k->gen = atomic_load_explicit(&pg->gen, memory_order_relaxed);
		k->sum = atomic_load_explicit(&pg->sum, memory_order_relaxed);
		/* A2: pairs with R1 in calib_store(): a field stored after the odd seq shows
		 * as a seq changed. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&pg->seq, memory_order_relaxed) == k->seq)
			return calib_valid(k);
	}
	return false;
}

/* Relaxed: calib_store()'s fences and CASes order these; calibrate publishes by R0. */
static void calib_put(struct shmqi_clock *pg, const struct calib *k, uint64_t seq)
{
	atomic_store_explicit(&pg->start_tsc, k->start_tsc, memory_order_relaxed);
	atomic_store_explicit(&pg->end_tsc, k->end_tsc, memory_order_relaxed);
	atomic_store_explicit(&pg->start_ns, k->start_ns, memory_order_relaxed);
	atomic_store_explicit(&pg->mult, k->mult, memory_order_relaxed);
	atomic_store_explicit(&pg->rate, k->rate, memory_order_relaxed);
	atomic_store_explicit(&pg->base_tsc, k->base_tsc, memory_order_relaxed);
	atomic_store_explicit(&pg->base_ns, k->base_ns, memory_order_relaxed);
	atomic_store_explicit(&pg->next_tsc, k->next_tsc, memory_order_relaxed);
	atomic_store_explicit(&pg->next_ns, k->next_ns, memory_order_relaxed);
	atomic_store_explicit(&pg->gen, k->gen, memory_order_relaxed);
	atomic_store_explicit(&pg->sum, calib_sum(k, seq), memory_order_relaxed);
}

/*
 * C1, the writer's side, under the lock: @seq odd, the fields, @seq even. Both are CASes
 * from the value this writer saw, so a writer the lock was taken from fails at one of them.
 */
static bool calib_store(struct shmqi_clock *pg, const struct calib *k, uint64_t seq)
{
	uint64_t odd = seq & 1 ? seq + 2 : seq + 1;

	if (!atomic_compare_exchange_strong_explicit(&pg->seq, &seq, odd, memory_order_relaxed,
						     memory_order_relaxed))
		return false;
	/* R1: pairs with A2 in calib_load(): the odd seq before any of the fields. */
	atomic_thread_fence(memory_order_release);
	calib_put(pg, k, odd + 1);
	/* R2: pairs with A1 in calib_load(): the fields before the even seq. */
	return atomic_compare_exchange_strong_explicit(&pg->seq, &odd, odd + 1,
						       memory_order_release, memory_order_relaxed);
}

/* The next rate and its bases from a new pair (the snapshot's fields are not trusted). */
static void rate_update(struct calib *k, uint64_t tsc, uint64_t ns, bool tight)
{
	uint64_t rate;

	if (tsc <= k->base_tsc || ns <= k->base_ns || tsc < k->next_tsc || ns < k->next_ns) {
		/* The TSC went back (a resume), or the bases are garbage: measure from here. */
		if (tight) {
			k->base_tsc = k->next_tsc = tsc;
			k->base_ns = k->next_ns = ns;
		}
		return;
	}
	if (!tight)
		return;
	if (ns - k->base_ns >= CLOCK_SPAN_NS) {
		rate = (uint64_t)(((u128)(ns - k->base_ns) << CLOCK_SHIFT) / (tsc - k->base_tsc));
		if (mult_ok(rate))
			k->rate = rate;
	}
	if (ns - k->next_ns >= CLOCK_BASE_NS) {
		k->base_tsc = k->next_tsc; /* the rate now spans one to two seconds */
		k->base_ns = k->next_ns;
		k->next_tsc = tsc;
		k->next_ns = ns;
	}
}

/* The piece from (@tsc, @ns), starting no lower than @floor (the previous piece's end). */
static void piece_set(struct calib *k, uint64_t tsc, uint64_t ns, uint64_t floor)
{
	uint64_t span = shmqi_clock_span_ns, lead = 0, mult = k->rate, d;

	if (floor > ns && floor - ns <= span) {
		lead = floor - ns;
		d = lead < span / 2 ? lead : span / 2;
		mult -= (uint64_t)((u128)mult * d / span);
	}
	k->gen++;
	if (shmqi_clock_test_skew_ppm) {
		d = (uint64_t)((u128)mult * (uint64_t)abs(shmqi_clock_test_skew_ppm) / 1000000u);
		mult = k->gen & 1 ? mult + d : mult - d;
	}
	k->start_tsc = tsc;
	k->start_ns = ns + lead;
	k->mult = mult;
	k->end_tsc = tsc + (uint64_t)(((u128)span << CLOCK_SHIFT) / k->rate);
}

/* A first rate over CLOCK_CAL_NS from two tight pairs, and a first piece. */
static int calib_fresh(struct calib *k)
{
	struct timespec nap = { 0, (long)CLOCK_CAL_NS };
	uint64_t t0, n0, t1, n1, rate;
	bool tight0, tight1;
	int i;

	for (i = 0; i < CAL_TRIES; i++) {
		n0 = tsc_pair(&t0, &tight0);
		nanosleep(&nap, NULL);
		n1 = tsc_pair(&t1, &tight1);
		if (!tight0 || !tight1 || t1 <= t0 || n1 <= n0)
			continue;
		rate = (uint64_t)(((u128)(n1 - n0) << CLOCK_SHIFT) / (t1 - t0));
		if (!mult_ok(rate))
			continue;
		memset(k, 0, sizeof(*k));
		k->rate = rate;
		k->base_tsc = t0;
		k->base_ns = n0;
		k->next_tsc = t1;
		k->next_ns = n1;
		piece_set(k, t1, n1, 0);
		return 0;
	}
	return -EAGAIN;
}

int shmqi_clock_calibrate(struct shmqi_clock *pg)
{
	struct calib k;
	int r = calib_fresh(&k);

	if (r < 0)
		return r;
	calib_put(pg, &k, 0);
	atomic_store_explicit(&pg->seq, 0, memory_order_relaxed);
	atomic_store_explicit(&pg->lock, 0, memory_order_relaxed);
	return 0;
}

static void cache_set(struct shmqi_clock_cache *c, const struct calib *k)
{
	c->start = k->start_tsc;
	c->len = k->end_tsc - k->start_tsc;
	c->ns0 = k->start_ns;
	c->mult = k->mult;
}

static bool covers(const struct calib *k, uint64_t t)
{
	return t - k->start_tsc < k->end_tsc - k->start_tsc;
}

/*
 * Holding the lock: the page's piece again (the last renewer may have finished meanwhile),
 * and if it has ended, the next one. A page that does not read whole starts over.
 */
static int renew_locked(struct shmqi_clock *pg, struct shmqi_clock_cache *c)
{
	struct calib k;
	bool ok = calib_load(pg, &k), tight;
	uint64_t t = tsc_ordered(), floor = 0, tsc, ns, seq;

	if (ok && covers(&k, t)) {
		cache_set(c, &k);
		return 0;
	}
	if (ok) {
		if (t >= k.end_tsc) /* else the TSC went back: no floor to keep */
			floor = calib_end_ns(&k);
		ns = tsc_pair(&tsc, &tight); /* after t, so tsc >= end_tsc */
		rate_update(&k, tsc, ns, tight);
		piece_set(&k, tsc, ns, floor);
	} else {
		seq = atomic_load_explicit(&pg->seq, memory_order_relaxed);
		if (calib_fresh(&k) < 0)
			return -EAGAIN;
		k.seq = seq;
	}
	if (!calib_store(pg, &k, k.seq))
		return -EAGAIN;
	cache_set(c, &k);
	return 0;
}

/* A lock taken CLOCK_STEAL_NS ago, or stamped far ahead of now (the TSC went back). */
static bool lock_stale(uint64_t held, uint64_t t, uint64_t rate)
{
	int64_t steal = (int64_t)(((u128)CLOCK_STEAL_NS << CLOCK_SHIFT) / rate);

	return (int64_t)(t - held) >= steal || (int64_t)(held - t) >= steal;
}

static uint64_t clock_slow(struct shmqi_clock *pg, struct shmqi_clock_cache *c)
{
	struct calib k;
	uint64_t t, held, rate;
	bool ok;
	int i, r;

	for (i = 0; i < SLOW_TRIES; i++) {
		ok = calib_load(pg, &k);
		t = tsc_ordered(); /* after the loads: a piece published before them starts <= t */
		if (ok && covers(&k, t)) {
			cache_set(c, &k);
			return c->ns0 + (((t - c->start) * c->mult) >> CLOCK_SHIFT);
		}
		held = atomic_load_explicit(&pg->lock, memory_order_relaxed);
		rate = ok ? k.rate : c->mult;
		if (held && !lock_stale(held, t, mult_ok(rate) ? rate : MULT_MIN)) {
			/* Being renewed: the next piece starts no lower than this one's end. */
			if (ok && t >= k.end_tsc)
				return calib_end_ns(&k);
			break;
		}
		/* L1: pairs with L2 of the last holder (acquire: what it did came first). */
		if (!atomic_compare_exchange_strong_explicit(
			    &pg->lock, &held, t | 1, memory_order_acq_rel, memory_order_relaxed))
			continue;
		r = renew_locked(pg, c);
		held = t | 1;
		/* L2: pairs with L1 of the next holder; not ours any more if taken over. */
		atomic_compare_exchange_strong_explicit(&pg->lock, &held, 0, memory_order_release,
							memory_order_relaxed);
		if (r < 0)
			break;
	}
	return shmqi_mono_ns(); /* a torn or contended page: this once, the syscall */
}

static inline uint64_t clock_read(struct shmqi_clock *pg, struct shmqi_clock_cache *c, uint64_t t)
{
	uint64_t d = t - c->start;

	if (__builtin_expect(d < c->len, 1))
		return c->ns0 + ((d * c->mult) >> CLOCK_SHIFT);
	return clock_slow(pg, c);
}

uint64_t shmqi_clock_read(struct shmqi_clock *pg, struct shmqi_clock_cache *c, bool ordered)
{
	return clock_read(pg, c, ordered ? tsc_ordered() : __rdtsc());
}

static inline uint64_t tsc_now(uint64_t t)
{
	struct tclock *tc = &tclock;
	uint64_t ns = clock_read(clock_page, &tc->c, t);

	if (ns < tc->last)
		ns = tc->last; /* only after a recovery: the shared function does not go back */
	tc->last = ns;
	return ns;
}

static int page_init(struct shmqi_seg *seg, void *arg)
{
	struct shmqi_seg_hdr *hdr = (struct shmqi_seg_hdr *)seg->base;

	(void)arg;
	hdr->body_off = SHMQI_CLOCK_BODY_OFF;
	return shmqi_clock_calibrate((struct shmqi_clock *)(seg->base + SHMQI_CLOCK_BODY_OFF));
}

/* Make or attach the host's page; it stays mapped for the life of the process. */
static int page_open(struct shmqi_clock **ret_page)
{
	char def[32];
	const char *path = clock_page_path;
	struct shmqi_seg seg = { 0 };
	int r = -EPROTO, i;

	if (!path) {
		snprintf(def, sizeof(def), "/shmq-clock.%u.%u", SHMQI_HDR_LAYOUT,
			 SHMQI_CLOCK_LAYOUT);
		path = def;
	}
	for (i = 0; i < 2 && r == -EPROTO; i++) {
		if (i > 0)
			shm_unlink(path); /* never published (its maker died), or garbage */
		r = shmqi_seg_open(path, SHMQI_KIND_CLOCK, SHMQI_CLOCK_SEG_SIZE, 0666,
				   SHMQI_SEG_CREATE, page_init, NULL, &seg);
		if (r == 0 &&
		    (seg.size != SHMQI_CLOCK_SEG_SIZE ||
		     ((struct shmqi_seg_hdr *)seg.base)->body_off != SHMQI_CLOCK_BODY_OFF)) {
			shmqi_seg_close(&seg);
			r = -EPROTO;
		}
	}
	if (r < 0)
		return r;
	*ret_page = (struct shmqi_clock *)(seg.base + SHMQI_CLOCK_BODY_OFF);
	return 0;
}
#else
int shmqi_clock_calibrate(struct shmqi_clock *pg)
{
	(void)pg;
	return -EOPNOTSUPP;
}

uint64_t shmqi_clock_read(struct shmqi_clock *pg, struct shmqi_clock_cache *c, bool ordered)
{
	(void)pg;
	(void)c;
	(void)ordered;
	return shmqi_mono_ns();
}
#endif

static int clock_decide_once(void)
{
	const char *env = getenv(SHMQ_CLOCK_ENV);

	if (env && strcmp(env, "monotonic") == 0)
		return SHMQI_CLOCK_FORCED;
	if (!shmqi_clock_tsc_usable())
		return SHMQI_CLOCK_NO_TSC;
#ifdef HAVE_TSC
	clock_page_err = page_open(&clock_page);
	if (clock_page_err == 0)
		return SHMQI_CLOCK_TSC;
#endif
	return SHMQI_CLOCK_NO_PAGE;
}

/* One thread decides; others wait for it; its own nested reads (segment.c) use syscalls. */
static int clock_decide(void)
{
	int m = 0;

	if (clock_deciding)
		return SHMQI_CLOCK_NO_PAGE;
	if (atomic_compare_exchange_strong_explicit(&clock_mode_word, &m, CLOCK_DECIDING,
						    memory_order_acquire, memory_order_acquire)) {
		clock_deciding = true;
		m = clock_decide_once();
		clock_deciding = false;
		/* R3: pairs with A3 in clock_mode_now(): clock_page is set before the mode. */
		atomic_store_explicit(&clock_mode_word, m, memory_order_release);
		return m;
	}
	while ((m = atomic_load_explicit(&clock_mode_word, memory_order_acquire)) <= 0)
		sched_yield();
	return m;
}

static inline int clock_mode_now(void)
{
	/* A3: pairs with R3 in clock_decide(). */
	int m = atomic_load_explicit(&clock_mode_word, memory_order_acquire);

	return m > 0 ? m : clock_decide();
}

int shmqi_clock_mode(void)
{
	return clock_mode_now();
}

int shmqi_clock_page_error(void)
{
	return clock_mode_now() == SHMQI_CLOCK_NO_PAGE ? clock_page_err : 0;
}

void shmqi_clock_test_reset(const char *path)
{
	clock_page_path = path;
	clock_page = NULL; /* a page mapped before stays mapped, unused */
	clock_page_err = 0;
#ifdef HAVE_TSC
	memset(&tclock, 0, sizeof(tclock));
#endif
	atomic_store_explicit(&clock_mode_word, 0, memory_order_release);
}

const char *shmq_clock_source(void)
{
	return clock_mode_now() == SHMQI_CLOCK_TSC ? "tsc" : "clock_gettime";
}

uint64_t shmqi_now_ns(void)
{
#ifdef HAVE_TSC
	if (__builtin_expect(clock_mode_now() == SHMQI_CLOCK_TSC, 1))
		return tsc_now(__rdtsc());
#endif
	return shmqi_mono_ns();
}

uint64_t shmq_now_ns(void)
{
#ifdef HAVE_TSC
	if (__builtin_expect(clock_mode_now() == SHMQI_CLOCK_TSC, 1))
		return tsc_now(tsc_ordered());
#endif
	return shmqi_mono_ns();
}
