// SPDX-License-Identifier: MIT
/* pp_futex.c - ping-pong transport raw-futex: two words in shared memory and the futex syscall. */
#include <errno.h>
#include <linux/futex.h>
#include <stdalign.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pingpong.h"

/*
 * ---- raw-futex: the least a parked ping-pong can do, the baseline of shmq-spsc-park ----
 * Each side stores the sequence number into its own 32-bit word, wakes the other with
 * FUTEX_WAKE, then sleeps in FUTEX_WAIT on the other's word until it holds the number it
 * expects. Not FUTEX_PRIVATE: the words are MAP_SHARED memory of two processes, keyed by
 * their page as shmq's are. No waiter flag: every message costs a wake, parked or not.
 */

/* 128 bytes apart, as raw-cacheline's lines. */
struct raw_futex {
	alignas(128) _Atomic uint32_t ping; /* written by the initiator */
	alignas(128) _Atomic uint32_t pong; /* written by the echo side */
};

#define FUTEX_MAP_SIZE 4096

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

static void futex_post(_Atomic uint32_t *word, uint32_t v)
{
	/* R: pairs with A in futex_await(); the syscall's own locking orders it before the wake. */
	atomic_store_explicit(word, v, memory_order_release);
	futex(word, FUTEX_WAKE, 1, NULL);
}

/*
 * Sleep until *@word holds @want. FUTEX_WAIT sleeps only while the word still holds the
 * value seen, so a store and wake that come first make it return at once (EAGAIN). Each
 * sleep lasts at most CHAN_PARK_SLICE_NS, as shmq-spsc-park's, to notice a dead peer.
 */
static int futex_await(_Atomic uint32_t *word, uint32_t want, struct spin *s)
{
	const struct timespec slice = { .tv_sec = (time_t)(CHAN_PARK_SLICE_NS / 1000000000u),
					.tv_nsec = (long)(CHAN_PARK_SLICE_NS % 1000000000u) };
	uint32_t v;

	/* A: pairs with R in futex_post(). */
	while ((v = atomic_load_explicit(word, memory_order_acquire)) != want) {
		if (futex(word, FUTEX_WAIT, v, &slice) == 0 || errno == EAGAIN || errno == EINTR)
			continue;
		if (errno != ETIMEDOUT)
			return -errno;
		if (spin_peer_gone(s) && atomic_load(word) != want)
			return -EPIPE;
	}
	return 0;
}

static int futex_setup(struct pp_run *r)
{
	r->futex = shared_alloc(FUTEX_MAP_SIZE);
	return r->futex ? 0 : fail("raw-futex: mmap", -ENOMEM);
}

static int futex_echo(void *arg)
{
	struct pp_run *r = arg;
	uint64_t i;
	int e;

	r->spin = (struct spin){ .parent = getppid() };
	for (i = 1; i <= r->total; i++) {
		e = futex_await(&r->futex->ping, (uint32_t)i, &r->spin);
		if (e < 0)
			return fail("raw-futex echo", e);
		futex_post(&r->futex->pong, (uint32_t)i);
	}
	return 0;
}

static int futex_attached(struct pp_run *r)
{
	(void)r;
	return 0;
}

/* The words wrap at 2^32 round trips: harmless, as only the next value is waited for. */
static int futex_rt(struct pp_run *r, uint64_t seq)
{
	int e;

	futex_post(&r->futex->ping, (uint32_t)seq);
	e = futex_await(&r->futex->pong, (uint32_t)seq, &r->spin);
	return e < 0 ? fail("raw-futex", e) : 0;
}

static void futex_teardown(struct pp_run *r)
{
	shared_free(r->futex, FUTEX_MAP_SIZE);
	r->futex = NULL;
}

const struct pp_transport pp_raw_futex = {
	.name = "raw-futex",
	.block = true,
	.setup = futex_setup,
	.echo = futex_echo,
	.attached = futex_attached,
	.rt = futex_rt,
	.teardown = futex_teardown,
};
