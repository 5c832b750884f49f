/* SPDX-License-Identifier: MIT */
/* wait.h - readers that park until writers publish: the handshake on struct shmqi_wait. */
#ifndef SHMQI_WAIT_H
#define SHMQI_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "shm_layout.h"

/*
 * The handshake (docs/design.md, "Wakeups"), a store-buffer pattern closed with full
 * fences on both sides (FACTS: release/acquire is not enough):
 *   parker: waiters += 1 (seq_cst RMW); s = seq; look for data; park while seq == s
 *   writer: publish; fence(seq_cst); if waiters: seq += 1; wake all
 * Either the parker's look sees the data, or the writer's load sees the parker; and a
 * writer that bumps seq after the parker read it makes the kernel refuse to sleep.
 *
 * Writers skip even the fence until a reader has switched parking on for the segment
 * (park_state), which it does once, with a system-wide barrier (membarrier), so that no
 * writer can still be acting on an old view of park_state when the first reader parks.
 */

/* Writer side, after publishing: wake parked readers, if any. A relaxed load otherwise. */
static inline void shmqi_notify(_Atomic uint32_t *park_state, struct shmqi_wait *w)
{
	if (atomic_load_explicit(park_state, memory_order_relaxed) == SHMQI_PARK_OFF)
		return;
	/* W1: pairs with the parker's seq_cst increment of waiters (P1). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&w->waiters, memory_order_relaxed) == 0)
		return;
	atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
	shmqi_wake(&w->seq, INT32_MAX);
}

/*
 * Wake the readers parked on @w (if any) to look again and plan their park anew: an owner
 * they watch changed (a role was taken). Pairs with the parker's P1 like W1, the caller's
 * own seq_cst store (the role's head CAS) before it.
 */
void shmqi_wait_poke(struct shmqi_wait *w);

/*
 * Tell parked readers that the writing side is gone (or back: @closed 0). The closed word
 * counts the closes above bit 0, so that a reader can tell a close it saw when it joined
 * from a later one (struct shmqi_waitable.ignore_closed).
 */
void shmqi_wait_close(struct shmqi_wait *w, bool closed);

/*
 * Close on behalf of a writer that died (a reaper judged it): as shmqi_wait_close(@w, true),
 * unless the word says closed already. Then its readers were told, and a reader that joined
 * since found that close and must not take this for a later one. Return: the word written,
 * or 0 when nothing was.
 */
uint32_t shmqi_wait_close_dead(struct shmqi_wait *w);

/*
 * Undo the shmqi_wait_close_dead() that wrote @closed, if the word still holds it: a live
 * writer turned up while the reaper closed. Readers that woke to the close meanwhile may
 * have returned -EPIPE, as for a writer that closes and opens again. @closed 0: nothing.
 */
void shmqi_wait_reopen(struct shmqi_wait *w, uint32_t closed);

/*
 * The close a reader finds as it joins (the word while it says closed, else 0): kept as its
 * ignore_closed, so that only a later close is its -EPIPE. Read it before the reader's entry
 * counts (seq_cst, in one order with the CASes of shmqi_wait_close()).
 */
uint32_t shmqi_wait_close_seen(const struct shmqi_wait *w);

/* Closed, other than by the close @ignore names (a reader's view at its join; 0: none)? */
bool shmqi_wait_closed_for(const struct shmqi_wait *w, uint32_t ignore);

/*
 * What a parker looks for: true when the reader has something to do. @thorough: the call
 * comes from the park loop (rare), so slower checks are welcome; false while spinning.
 */
typedef bool (*shmqi_ready_fn)(void *arg, bool thorough);

/*
 * The writing side closed, but does the reader still have something coming (a group's
 * delayed records, or ones leased to another member that may give them back)? Then the
 * close is not yet its -EPIPE, and shmqi_wait_many() goes on waiting for it.
 */
typedef bool (*shmqi_owed_fn)(void *arg);

/*
 * What a parked waiter watches besides its word: the processes whose death ends the wait
 * (a channel's other role, the subscribers a full reliable topic waits for), as pidfds
 * polled in the same io_uring submission as the futex wait. A parked waiter then makes no
 * wakeups of its own, and learns of a death at once. Where a peer cannot be watched (another
 * pid namespace, no pidfds, the futex backend, more peers than fit), the watcher lowers
 * slice_ns instead, and the waiter looks that often, as it did before pidfds.
 */
#define SHMQI_PEERS_MAX 4
struct shmqi_peers {
	int fd[SHMQI_PEERS_MAX]; /* pidfds, the watcher's own (valid until its next watch) */
	/* each pidfd's own number, never reused (struct shmqi_pidfd) */
	uint64_t id[SHMQI_PEERS_MAX];
	unsigned n;
	uint64_t slice_ns; /* wake after this long anyway (0: no need) */
};

/* A peer that cannot be watched: look every @ns (0: never, as tests ask) instead. */
static inline void shmqi_peers_look_every(struct shmqi_peers *p, uint64_t ns)
{
	if (ns && (!p->slice_ns || p->slice_ns > ns))
		p->slice_ns = ns;
}

struct shmqi_peer_ops {
	/*
	 * Before each park: add the pidfds to watch to @p, or lower p->slice_ns. Return: false
	 * when a peer is found dead already (then ended() is called, and the wait looks again
	 * at once).
	 */
	bool (*watch)(void *arg, struct shmqi_peers *p);
	/* A watched process ended (its pidfd polled readable): judge the peers at the next look. */
	void (*ended)(void *arg);
};

/*
 * A pidfd a watcher keeps for one owner entry (struct shmqi_owner): opened once for the head
 * it was opened for, and opened again when the entry changes hands.
 */
struct shmqi_pidfd {
	int fd; /* valid while open */
	bool open;
	uint64_t head;
	uint64_t id; /* unique in the process: a thread's ring keeps its poll armed by it */
};

/*
 * Add the owner of @o to @p: its pidfd (kept in @pf), or a slice when it cannot be watched.
 * A free entry adds nothing (somebody may take it; that is no death). Return: false when
 * the owner is dead already, or the entry changed hands while it was looked at.
 */
bool shmqi_watch_owner(struct shmqi_pidfd *pf, const struct shmqi_owner *o, struct shmqi_peers *p);
void shmqi_pidfd_close(struct shmqi_pidfd *pf);
/*
 * Has the owner of @head ended, by the pidfd @pf keeps for it (one poll, no /proc)?
 * Return: 1 yes, 0 no, -1 when @pf is not that owner's (judge it another way).
 */
int shmqi_pidfd_ended(const struct shmqi_pidfd *pf, uint64_t head);

struct io_uring_sqe;
struct shmqi_fdring;

/* One thing a thread waits for among several (shmq_wait_many()). */
struct shmqi_waitable {
	_Atomic uint32_t *park_state;
	struct shmqi_wait *w;
	bool *enabled;
	shmqi_ready_fn ready;
	void *arg;
	struct shmqi_fdring **fdring; /* the handle's pollable fd, made on first use (or NULL) */
	uint32_t ignore_closed; /* a close the reader found at its join: not its -EPIPE (0: none) */
	shmqi_owed_fn owed; /* NULL: a close is -EPIPE as soon as nothing is ready */
	const struct shmqi_peer_ops *peers; /* NULL: nothing to watch while parked */
};

/*
 * shmqi_wait_on() - spin for @spin_ns, then park until @wt's ready says so, the writing side
 * closes (other than by the close ignore_closed names), a watched peer dies (@wt's peers:
 * ready is then asked again at once), or @deadline_ns (CLOCK_MONOTONIC; UINT64_MAX for
 * never) passes. @wt's enabled notes that park_state is ON (saves the check next time).
 * @slice_ns: wake up at least this often to call ready anyway (0: no need)
 *
 * Return: 0 (ready), -ETIMEDOUT, -EPIPE (closed and not ready).
 */
int shmqi_wait_on(struct shmqi_waitable *wt, uint64_t spin_ns, uint64_t deadline_ns,
		  uint64_t slice_ns);

/*
 * shmqi_wait_many() - shmqi_wait_on() for up to 128 waitables at once: one vectored
 * futex wait (FUTEX_WAITV) on all their words. @out[i]: 1 ready, -EPIPE closed, 0 neither.
 * Return: how many are ready or closed (> 0), or -ETIMEDOUT.
 */
int shmqi_wait_many(struct shmqi_waitable *ws, size_t n, int *out, uint64_t spin_ns,
		    uint64_t deadline_ns, uint64_t slice_ns);

/*
 * Fill @w for a consumer channel, a subscriber or a group member; @slice_ns (if not NULL) is
 * lowered to how often the handle must look anyway. Return: 0, or -EBADF/-EINVAL.
 */
int shmqi_channel_waitable(shmq_channel *ch, struct shmqi_waitable *w, uint64_t *slice_ns);
int shmqi_sub_waitable(shmq_sub *sub, struct shmqi_waitable *w, uint64_t *slice_ns);
int shmqi_group_waitable(shmq_group *g, struct shmqi_waitable *w, uint64_t *slice_ns);

/*
 * shmqi_park() watching the pidfds of @p (may be NULL; the futex backend ignores them).
 * Return: as shmqi_park(), or SHMQI_PARK_ENDED when a watched process ended.
 */
#define SHMQI_PARK_ENDED (1 << 30) /* not a FUTEX_WAITV index (< 128), nor an error */
int shmqi_park_watch(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns,
		     const struct shmqi_peers *p);

/* Park on several words: returns the index of one that woke, -EAGAIN, -ETIMEDOUT, -EINTR. */
int shmqi_park_many(_Atomic uint32_t *const *words, const uint32_t *expected, unsigned n,
		    uint64_t timeout_ns);

/* The wait, prepared into an io_uring SQE of the caller's (see shmq_channel_prep_wait()). */
int shmqi_arm(struct shmqi_waitable *wt, struct io_uring_sqe *sqe, uint64_t user_data);
void shmqi_arm_done(struct shmqi_waitable *wt);

/*
 * A pollable fd for a handle: a ring of its own with the wait armed in it. _get() makes it
 * (once) and arms it; _idle() re-arms after a receive found nothing; _free() with the handle
 * (@wt NULL: leave the shared wait block alone, as a forked child's copy must).
 */
struct shmqi_fdring;
int shmqi_fdring_get(struct shmqi_fdring **fp, struct shmqi_waitable *wt);
void shmqi_fdring_idle(struct shmqi_fdring *f, struct shmqi_waitable *wt);
void shmqi_fdring_free(struct shmqi_fdring *f, struct shmqi_waitable *wt);

/*
 * The public prep_wait / wait_done / fd trio of a handle kind, in one place: @fill makes
 * the handle's waitable (shmqi_channel_waitable(), shmqi_sub_waitable(), ...) and fails
 * for a handle that cannot wait.
 */
typedef int (*shmqi_waitable_fn)(void *handle, struct shmqi_waitable *w, uint64_t *slice_ns);
int shmqi_handle_prep_wait(shmqi_waitable_fn fill, void *handle, struct io_uring_sqe *sqe,
			   uint64_t user_data);
int shmqi_handle_wait_done(shmqi_waitable_fn fill, void *handle);
int shmqi_handle_fd(shmqi_waitable_fn fill, void *handle);

/*
 * A deadline @timeout_ns from now on shmqi_mono_ns(), saturating at UINT64_MAX ("never",
 * without reading the clock). Every deadline is on that clock and judged on it.
 */
uint64_t shmqi_deadline(uint64_t timeout_ns);

/*
 * membarrier(MEMBARRIER_CMD_GLOBAL): when it returns, every thread of every process has
 * passed a full barrier since the call began (some 20 ms). Return: 0, or -errno (refused).
 */
int shmqi_membarrier_global(void);

/*
 * shmq_wait_any() for a handle made of several (a priority topic's levels, a member's
 * partitions): while some entries are closed (-EPIPE) and none is ready, the open ones are
 * waited on alone, 10 ms at a time (a closed one is looked at again then: a producer may
 * come back), so that a closed entry does not end each wait at once.
 * Return: 0 (an entry is ready), -EPIPE (all closed), -ETIMEDOUT, or shmq_wait_any()'s errors.
 */
int shmqi_wait_open(struct shmq_wait_entry *w, unsigned n, uint64_t spin_ns, uint64_t timeout_ns);

#endif /* SHMQI_WAIT_H */
