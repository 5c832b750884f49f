// SPDX-License-Identifier: MIT
/* wake.c - parking on a 32-bit word in shared memory: io_uring FUTEX_WAIT, or the futex syscall. */
#include <assert.h>
#include <errno.h>
#include <linux/futex.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "wait.h"

/*
 * The opcodes and flags of io_uring futex waits (kernel 6.7+). Debian 12's liburing 2.3
 * and kernel headers predate them: the values are the kernel's uapi ones.
 */
#define OP_FUTEX_WAIT 51
#define FUTEX2_SIZE_U32 0x02u /* no FUTEX2_PRIVATE: the words live in MAP_SHARED memory */
#define FUTEX_MATCH_ANY 0xffffffffull

#define UD_WAIT 1u
#define UD_TIMEOUT 2u
#define UD_CANCEL 4u
#define UD_PEER (1ull << 63) /* | the pidfd's id: a poll of a watched peer */

/*
 * A park's SQEs: the wait, its linked timeout, the cancels of polls no longer watched, the
 * polls newly watched, and a cancel of the wait after a death.
 */
#define RING_ENTRIES 16u
static_assert(2 * SHMQI_PEERS_MAX + 3 <= RING_ENTRIES, "a park fits in the thread's ring");

static const char *const backend_names[] = {
	[SHMQI_WAKE_FUTEX] = "futex",
	[SHMQI_WAKE_IO_URING] = "io_uring",
};

static _Atomic int backend; /* 0 until detected */

/* 1: io_uring futex waits work; 0: they do not; -1: unknown for now (no descriptor free). */
static int io_uring_futex_works(void)
{
	struct io_uring_probe *probe;
	struct io_uring ring;
	bool ok;
	int r;

	/* -EPERM: kernel.io_uring_disabled or seccomp; -ENOSYS: no io_uring at all. */
	r = io_uring_queue_init(4, &ring, 0);
	if (r == -EMFILE || r == -ENFILE || r == -ENOMEM)
		return -1;
	if (r < 0)
		return 0;
	probe = io_uring_get_probe_ring(&ring);
	ok = probe && io_uring_opcode_supported(probe, OP_FUTEX_WAIT);
	io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return ok;
}

/* The backend, or 0 when it cannot be told yet (then the futex syscall, this time). */
static int detect(void)
{
	const char *want = getenv(SHMQ_WAKE_BACKEND_ENV);
	int r;

	if (want && strcmp(want, "futex") == 0)
		return SHMQI_WAKE_FUTEX;
	r = io_uring_futex_works();
	return r < 0 ? 0 : r ? SHMQI_WAKE_IO_URING : SHMQI_WAKE_FUTEX;
}

int shmqi_wake_backend(void)
{
	int b = atomic_load_explicit(&backend, memory_order_relaxed);

	if (b == 0) { /* racing first callers detect the same answer */
		b = detect();
		if (b == 0) /* out of descriptors: not the machine's answer, asked again later */
			return SHMQI_WAKE_FUTEX;
		atomic_store_explicit(&backend, b, memory_order_relaxed);
	}
	return b;
}

const char *shmq_wake_backend(void)
{
	return backend_names[shmqi_wake_backend()];
}

/* ---- the futex syscall ---- */

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

int shmqi_wake(_Atomic uint32_t *word, int n)
{
	/* Not FUTEX_PRIVATE: waiters in other processes, io_uring ones included, key the
	 * futex by the shared page. */
	return futex(word, FUTEX_WAKE, (uint32_t)n, NULL) < 0 ? -errno : 0;
}

static struct timespec rel_ts(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000u),
				  .tv_nsec = (long)(ns % 1000000000u) };
}

static int wait_syscall(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	struct timespec ts = rel_ts(timeout_ns);

	if (futex(word, FUTEX_WAIT, expected, timeout_ns == SHMQI_WAIT_FOREVER ? NULL : &ts) == 0)
		return 0;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/* ---- io_uring: one ring per thread, made on first use, never shared across fork ---- */

struct thread_ring {
	struct io_uring ring;
	unsigned forks; /* fork_count when it was made */
	bool ready;
	/*
	 * The pidfd polls armed in the ring, by id (0: none): a poll stays armed from park to
	 * park while the same peer is watched, so a park and its wake cost what they cost
	 * without peers. Cancelled by the next park that no longer watches it.
	 */
	uint64_t armed[SHMQI_PEERS_MAX];
};

static _Thread_local struct thread_ring tring;
static pthread_key_t tring_key;
static pthread_once_t tring_once = PTHREAD_ONCE_INIT;
/* Bumped in every child after fork(): a ring made before belongs to the parent. (getpid()
 * per park would be a system call: glibc no longer caches the pid.) */
static _Atomic unsigned fork_count;

static void tring_free(void *arg)
{
	struct thread_ring *t = arg;

	if (t->ready && t->forks == atomic_load_explicit(&fork_count, memory_order_relaxed))
		io_uring_queue_exit(&t->ring);
	t->ready = false;
}

static void count_fork(void)
{
	atomic_fetch_add_explicit(&fork_count, 1, memory_order_relaxed);
}

static void tring_init_once(void)
{
	pthread_key_create(&tring_key, tring_free);
	pthread_atfork(NULL, NULL, count_fork);
}

static struct io_uring *thread_ring(void)
{
	unsigned forks = atomic_load_explicit(&fork_count, memory_order_relaxed);

	if (tring.ready && tring.forks != forks) /* inherited through fork: the parent's */
		tring.ready = false;
	if (!tring.ready) {
		pthread_once(&tring_once, tring_init_once);
		forks = atomic_load_explicit(&fork_count, memory_order_relaxed);
		if (io_uring_queue_init(RING_ENTRIES, &tring.ring, 0) < 0)
			return NULL;
		memset(tring.armed, 0, sizeof(tring.armed));
		tring.forks = forks;
		tring.ready = true;
		pthread_setspecific(tring_key, &tring);
	}
	return &tring.ring;
}

/* FUTEX_WAIT filled by hand from the kernel's uapi layout (liburing 2.3 has no helper). */
static void prep_futex_wait(struct io_uring_sqe *sqe, _Atomic uint32_t *word, uint32_t expected)
{
	memset(sqe, 0, sizeof(*sqe)); /* liburing 2.3 leaves addr3 and others as they were */
	io_uring_prep_rw(OP_FUTEX_WAIT, sqe, (int)FUTEX2_SIZE_U32, (const void *)word, 0, expected);
	sqe->addr3 = FUTEX_MATCH_ANY; /* the bitmask; 0 would be -EINVAL */
	sqe->user_data = UD_WAIT;
}

/*
 * The thread's ring after an error that may have left requests in it (a failed or short
 * submit): thrown away, with whatever it still holds; the next park makes a new one.
 */
static int ring_broken(struct io_uring *ring, int r)
{
	io_uring_queue_exit(ring);
	tring.ready = false; /* its armed polls went with it */
	return r < 0 ? r : -EIO;
}

static bool watched(const struct shmqi_peers *p, uint64_t id)
{
	unsigned i;

	for (i = 0; p && i < p->n; i++)
		if (p->id[i] == id)
			return true;
	return false;
}

/*
 * Reap until the wait's completions are in (and its linked timeout's, @linked). Completions
 * of pidfd polls come in whenever they do, in this park or a later one: a poll that fired
 * (POLLIN: the process exited) for a peer this park watches ends the park, and the wait is
 * cancelled; any other poll completion (cancelled, or a peer watched no more) only frees
 * its entry in the armed table. The cancels' own completions are passed over.
 * Return: the wait's result, or SHMQI_PARK_ENDED when a watched process ended.
 */
static int reap(struct io_uring *ring, bool linked, const struct shmqi_peers *p)
{
	unsigned need = linked ? 2 : 1, i;
	bool ended = false, cancelled = false;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int res = -ETIMEDOUT, r;
	uint64_t ud;

	while (need) {
		r = io_uring_wait_cqe(ring, &cqe);
		if (r == -EINTR) /* the wait stays armed: keep reaping it */
			continue;
		if (r < 0)
			return ring_broken(ring, r);
		ud = cqe->user_data;
		if (ud == UD_WAIT) {
			res = cqe->res == -ECANCELED ? -ETIMEDOUT : cqe->res;
			need--;
		} else if (ud == UD_TIMEOUT) {
			need--;
		} else if ((ud & UD_PEER) && cqe->res != -ECANCELED) {
			/* A cancelled poll's entry was freed by the park that cancelled it (and
			 * may hold a poll armed for that id since: it stays). */
			for (i = 0; i < SHMQI_PEERS_MAX; i++)
				if (tring.armed[i] == (ud & ~UD_PEER))
					tring.armed[i] = 0;
			if (cqe->res > 0 && watched(p, ud & ~UD_PEER))
				ended = true;
		}
		io_uring_cqe_seen(ring, cqe);
		if (ended && need && !cancelled) {
			sqe = io_uring_get_sqe(ring); /* room was checked before the park */
			io_uring_prep_cancel64(sqe, UD_WAIT, 0);
			sqe->user_data = UD_CANCEL;
			cancelled = true;
			r = io_uring_submit(ring);
			if (r != 1)
				return ring_broken(ring, r);
		}
	}
	return ended ? SHMQI_PARK_ENDED : res;
}

/*
 * Bring the ring's armed polls to @p's peers: a cancel for each armed poll no longer
 * watched, a poll for each watched peer not armed yet. Return: the SQEs added.
 */
static unsigned arm_peers(struct io_uring *ring, const struct shmqi_peers *p)
{
	struct io_uring_sqe *sqe;
	unsigned i, j, added = 0;

	for (i = 0; i < SHMQI_PEERS_MAX; i++) {
		if (!tring.armed[i] || watched(p, tring.armed[i]))
			continue;
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_cancel64(sqe, UD_PEER | tring.armed[i], 0);
		sqe->user_data = UD_CANCEL;
		tring.armed[i] = 0; /* its completion, when it comes, matches nothing */
		added++;
	}
	for (i = 0; p && i < p->n; i++) {
		if (!p->id[i])
			continue; /* not a pidfd of shmqi_watch_owner()'s: never armed */
		for (j = 0; j < SHMQI_PEERS_MAX && tring.armed[j] != p->id[i]; j++)
			;
		if (j < SHMQI_PEERS_MAX)
			continue; /* armed already */
		for (j = 0; tring.armed[j]; j++) /* a free entry: at most MAX are watched */
			;
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_poll_add(sqe, p->fd[i], POLLIN);
		sqe->user_data = UD_PEER | p->id[i];
		tring.armed[j] = p->id[i];
		added++;
	}
	return added;
}

/*
 * Submit @sqe (a futex wait), linked to a timeout unless forever, with the polls of @p's
 * pidfds (may be NULL) armed; reap the wait's completions.
 */
static int submit_wait(struct io_uring *ring, struct io_uring_sqe *sqe, uint64_t timeout_ns,
		       const struct shmqi_peers *p)
{
	struct __kernel_timespec ts = { .tv_sec = (long long)(timeout_ns / 1000000000u),
					.tv_nsec = (long long)(timeout_ns % 1000000000u) };
	bool linked = timeout_ns != SHMQI_WAIT_FOREVER;
	unsigned sqes = linked ? 2 : 1;
	int r;

	sqe->user_data = UD_WAIT;
	if (linked) {
		sqe->flags |= IOSQE_IO_LINK;
		sqe = io_uring_get_sqe(ring); /* room for all was checked */
		io_uring_prep_link_timeout(sqe, &ts, 0);
		sqe->user_data = UD_TIMEOUT;
	}
	sqes += arm_peers(ring, p);
	/*
	 * One system call to submit and sleep; ts is read here, while still in scope. A signal
	 * during the sleep still returns the count submitted; -EINTR means none was, and the
	 * SQEs are submitted by the next call.
	 */
	do
		r = io_uring_submit_and_wait(ring, 1);
	while (r == -EINTR);
	if (r != (int)sqes)
		return ring_broken(ring, r);
	return reap(ring, linked, p);
}

/* The thread's ring with room for a park watching @p, or NULL (then the syscall). */
static struct io_uring *park_ring(const struct shmqi_peers *p)
{
	struct io_uring *ring = thread_ring();

	/* never short of room: every park submits all it prepared */
	if (!ring || io_uring_sq_space_left(ring) < 2 * SHMQI_PEERS_MAX + 3)
		return NULL;
	return ring;
}

/*
 * Without the thread's ring (its io_uring could not be made: no descriptor free), the futex
 * syscall, for a slice at most when there are peers to watch, then a look at their pidfds.
 */
static uint64_t ringless_timeout(uint64_t timeout_ns, const struct shmqi_peers *p)
{
	if (p && p->n && shmqi_room_slice_ns && timeout_ns > shmqi_room_slice_ns)
		return shmqi_room_slice_ns;
	return timeout_ns;
}

static int peers_polled(const struct shmqi_peers *p, int r);

static int wait_io_uring(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns,
			 const struct shmqi_peers *p)
{
	struct io_uring *ring = park_ring(p);
	struct io_uring_sqe *sqe;

	if (!ring || !(sqe = io_uring_get_sqe(ring)))
		return peers_polled(p,
				    wait_syscall(word, expected, ringless_timeout(timeout_ns, p)));
	prep_futex_wait(sqe, word, expected);
	return submit_wait(ring, sqe, timeout_ns, p);
}

/*
 * The futex backend cannot sleep on a pidfd: after a sleep (a slice, plan_watch() made it
 * short), a look at the pidfds without waiting, which costs far less than judging an owner
 * by /proc. Return: SHMQI_PARK_ENDED when one polls readable, else @r.
 */
static int peers_polled(const struct shmqi_peers *p, int r)
{
	struct pollfd pfd[SHMQI_PEERS_MAX];
	unsigned i;

	if (!p || !p->n || (r < 0 && r != -ETIMEDOUT && r != -EAGAIN && r != -EINTR))
		return r;
	for (i = 0; i < p->n; i++)
		pfd[i] = (struct pollfd){ .fd = p->fd[i], .events = POLLIN };
	return poll(pfd, p->n, 0) > 0 ? SHMQI_PARK_ENDED : r;
}

int shmqi_park_watch(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns,
		     const struct shmqi_peers *p)
{
	if (shmqi_wake_backend() == SHMQI_WAKE_IO_URING)
		return wait_io_uring(word, expected, timeout_ns, p);
	return peers_polled(p, wait_syscall(word, expected, timeout_ns));
}

int shmqi_park(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	return shmqi_park_watch(word, expected, timeout_ns, NULL);
}

/* ---- the parking handshake (wait.h) ---- */

#define MEMBARRIER_GLOBAL 1 /* MEMBARRIER_CMD_GLOBAL */
#define FALLBACK_SLICE_NS 1000000ull /* without membarrier, park 1 ms at a time */

uint64_t shmqi_deadline(uint64_t timeout_ns)
{
	uint64_t now;

	if (timeout_ns == SHMQI_WAIT_FOREVER)
		return UINT64_MAX;
	now = shmqi_mono_ns();
	return timeout_ns >= UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
}

int shmqi_membarrier_global(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_GLOBAL, 0, 0) < 0 ? -errno : 0;
}

/*
 * Switch parking on for a segment. After the membarrier, every thread of every process
 * has passed a full barrier: a writer that loads park_state from then on sees it set, and
 * one that loaded it before had its earlier publishes made visible by that barrier, so
 * the parker's look after announcing itself finds them. ~20 ms, once per segment.
 * Return: 0, or -errno when membarrier is refused (then park in short slices).
 */
static int park_enable(_Atomic uint32_t *state)
{
	uint32_t cur = atomic_load_explicit(state, memory_order_acquire);
	int r;

	if (cur == SHMQI_PARK_ON)
		return 0;
	if (cur == SHMQI_PARK_OFF)
		atomic_compare_exchange_strong_explicit(state, &cur, SHMQI_PARK_ENABLING,
							memory_order_seq_cst, memory_order_relaxed);
	r = shmqi_membarrier_global();
	if (r < 0)
		return r;
	atomic_store_explicit(state, SHMQI_PARK_ON, memory_order_seq_cst);
	return 0;
}

void shmqi_wait_poke(struct shmqi_wait *w)
{
	/* W1, for the caller's store: the parker reads the head after its P1 (plan_watch()) */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&w->waiters, memory_order_relaxed) == 0)
		return;
	atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
	shmqi_wake(&w->seq, INT32_MAX);
}

void shmqi_wait_close(struct shmqi_wait *w, bool closed)
{
	/*
	 * seq_cst: a writer that opens (@closed false) after taking its role or table entry
	 * (a seq_cst CAS) reads a close that a reaper's seq_cst CAS made before that take, so
	 * it clears it (shmqi_wait_close_dead()).
	 */
	uint32_t c = atomic_load_explicit(&w->closed, memory_order_seq_cst), want;

	/* Bit 0: closed now; above it, how many closes there were (the close generation). */
	do
		want = closed ? ((c >> 1) + 1) << 1 | 1 : c & ~1u;
	while (want != c &&
	       !atomic_compare_exchange_weak_explicit(&w->closed, &c, want, memory_order_seq_cst,
						      memory_order_relaxed));
	if (!closed)
		return;
	atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
	shmqi_wake(&w->seq, INT32_MAX);
}

uint32_t shmqi_wait_close_dead(struct shmqi_wait *w)
{
	uint32_t c = atomic_load_explicit(&w->closed, memory_order_seq_cst), want;

	do {
		if (c & 1)
			return 0; /* closed already: its readers were told */
		want = ((c >> 1) + 1) << 1 | 1;
	} while (!atomic_compare_exchange_weak_explicit(&w->closed, &c, want, memory_order_seq_cst,
							memory_order_seq_cst));
	atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
	shmqi_wake(&w->seq, INT32_MAX);
	return want;
}

void shmqi_wait_reopen(struct shmqi_wait *w, uint32_t closed)
{
	uint32_t c = closed;

	/* Only our close: a later one (another generation) or an open since stays as it is. */
	if (closed)
		atomic_compare_exchange_strong_explicit(&w->closed, &c, closed & ~1u,
							memory_order_seq_cst, memory_order_relaxed);
}

uint32_t shmqi_wait_close_seen(const struct shmqi_wait *w)
{
	uint32_t c = atomic_load_explicit(&w->closed, memory_order_seq_cst);

	return c & 1 ? c : 0;
}

bool shmqi_wait_closed_for(const struct shmqi_wait *w, uint32_t ignore)
{
	uint32_t c = atomic_load_explicit(&w->closed, memory_order_seq_cst);

	return (c & 1) && c != ignore;
}

/*
 * The end of a spin of @spin_ns, cut at @deadline_ns, on shmqi_now_ns() (the cheap clock: a
 * spin's length is not a promise, a timeout is); 0 for no spin.
 */
static uint64_t spin_end(uint64_t spin_ns, uint64_t deadline_ns)
{
	uint64_t now;

	if (spin_ns == 0)
		return 0;
	if (deadline_ns != UINT64_MAX) {
		now = shmqi_mono_ns();
		if (now >= deadline_ns)
			return 0;
		if (spin_ns > deadline_ns - now)
			spin_ns = deadline_ns - now;
	}
	now = shmqi_now_ns();
	return spin_ns >= UINT64_MAX - now ? UINT64_MAX : now + spin_ns;
}

static bool spin(shmqi_ready_fn ready, void *arg, uint64_t spin_ns, uint64_t deadline_ns)
{
	uint64_t end = spin_end(spin_ns, deadline_ns), i;

	if (end == 0)
		return false;
	for (i = 1;; i++) {
		if (ready(arg, false))
			return true;
		if (i % 64 == 0 && shmqi_now_ns() >= end)
			return false;
	}
}

/* How long the next sleep may be: up to the deadline, at most a slice; 0 when it is past. */
static uint64_t sleep_time(uint64_t deadline_ns, uint64_t slice_ns)
{
	uint64_t now, ns;

	if (deadline_ns == UINT64_MAX)
		return slice_ns ? slice_ns : SHMQI_WAIT_FOREVER;
	now = shmqi_mono_ns();
	if (now >= deadline_ns)
		return 0;
	ns = deadline_ns - now;
	return slice_ns && ns > slice_ns ? slice_ns : ns;
}

/*
 * Before a park, once the parker announced itself and read the word (so that a watcher's
 * look at what is pending sees all that came before a wake it missed): what @wt's watcher
 * wants watched (@p), and the sleep cut to its slice. The
 * futex backend cannot poll a pidfd beside the word: the pidfds are then looked at after
 * every sleep of at most shmqi_room_slice_ns (peers_polled()). Return: false when a peer
 * was found dead (look again at once).
 */
static bool plan_watch(const struct shmqi_waitable *wt, struct shmqi_peers *p, uint64_t *sleep_ns)
{
	*p = (struct shmqi_peers){ 0 };
	if (!wt->peers)
		return true;
	if (!wt->peers->watch(wt->arg, p)) {
		wt->peers->ended(wt->arg);
		return false;
	}
	if (p->n && shmqi_wake_backend() != SHMQI_WAKE_IO_URING)
		shmqi_peers_look_every(p, shmqi_room_slice_ns);
	if (p->slice_ns && p->slice_ns < *sleep_ns)
		*sleep_ns = p->slice_ns;
	return true;
}

/* Announce, look once more, and sleep while nothing changed (P1), watching @wt's peers. */
static int park_once(const struct shmqi_waitable *wt, uint64_t sleep_ns)
{
	struct shmqi_wait *w = wt->w;
	struct shmqi_peers p;
	uint32_t s;
	int r = 0;

	/*
	 * P1: pairs with W1 in shmqi_notify(). The RMW is a full barrier on the machines we
	 * know, but C11 orders a seq_cst RMW only against other seq_cst operations, and the
	 * look below may be acquire loads: the fence makes it a StoreLoad barrier by the rules.
	 */
	atomic_fetch_add_explicit(&w->waiters, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	s = atomic_load_explicit(&w->seq, memory_order_seq_cst);
	if (plan_watch(wt, &p, &sleep_ns) && !wt->ready(wt->arg, false) &&
	    !shmqi_wait_closed_for(w, wt->ignore_closed))
		r = shmqi_park_watch(&w->seq, s, sleep_ns, &p);
	atomic_fetch_sub_explicit(&w->waiters, 1, memory_order_relaxed);
	if (r == SHMQI_PARK_ENDED) {
		wt->peers->ended(wt->arg);
		r = 0;
	}
	return r == -ETIMEDOUT || r == -EAGAIN || r == -EINTR ? 0 : r;
}

int shmqi_wait_on(struct shmqi_waitable *wt, uint64_t spin_ns, uint64_t deadline_ns,
		  uint64_t slice_ns)
{
	uint64_t sleep_ns;
	int r;

	if (wt->ready(wt->arg, true) || spin(wt->ready, wt->arg, spin_ns, deadline_ns))
		return 0;
	if (!*wt->enabled) {
		if (park_enable(wt->park_state) < 0 && (!slice_ns || slice_ns > FALLBACK_SLICE_NS))
			slice_ns = FALLBACK_SLICE_NS; /* stays so for this call only */
		else
			*wt->enabled = true;
	}
	for (;;) {
		if (wt->ready(wt->arg, true))
			return 0;
		if (shmqi_wait_closed_for(wt->w, wt->ignore_closed))
			return -EPIPE;
		sleep_ns = sleep_time(deadline_ns, slice_ns);
		if (!sleep_ns)
			return -ETIMEDOUT;
		r = park_once(wt, sleep_ns);
		if (r < 0)
			return r;
	}
}

/* ---- waiting on several words at once (FUTEX_WAITV) ---- */

#define OP_FUTEX_WAITV 53

static int waitv_syscall(struct futex_waitv *wv, unsigned n, uint64_t timeout_ns)
{
	struct timespec abs;
	uint64_t at;
	long r;

	if (timeout_ns == SHMQI_WAIT_FOREVER) {
		r = syscall(SYS_futex_waitv, wv, n, 0, NULL, CLOCK_MONOTONIC);
	} else {
		at = shmqi_deadline(timeout_ns);
		abs = (struct timespec){ .tv_sec = (time_t)(at / 1000000000u),
					 .tv_nsec = (long)(at % 1000000000u) };
		r = syscall(SYS_futex_waitv, wv, n, 0, &abs, CLOCK_MONOTONIC);
	}
	if (r >= 0)
		return (int)r;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static int waitv_io_uring(struct futex_waitv *wv, unsigned n, uint64_t timeout_ns,
			  const struct shmqi_peers *p)
{
	struct io_uring *ring = park_ring(p);
	struct io_uring_sqe *sqe;

	if (!ring || !(sqe = io_uring_get_sqe(ring)))
		return peers_polled(p, waitv_syscall(wv, n, ringless_timeout(timeout_ns, p)));
	memset(sqe, 0, sizeof(*sqe));
	io_uring_prep_rw(OP_FUTEX_WAITV, sqe, 0, wv, n, 0);
	return submit_wait(ring, sqe, timeout_ns, p);
}

/* shmqi_park_many() watching @p (may be NULL): SHMQI_PARK_ENDED when a peer ended. */
static int park_many_watch(_Atomic uint32_t *const *words, const uint32_t *expected, unsigned n,
			   uint64_t timeout_ns, const struct shmqi_peers *p)
{
	struct futex_waitv wv[FUTEX_WAITV_MAX];
	unsigned i;

	if (n == 0 || n > FUTEX_WAITV_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		wv[i] = (struct futex_waitv){ .val = expected[i],
					      .uaddr = (uint64_t)(uintptr_t)words[i],
					      .flags = FUTEX2_SIZE_U32 };
	if (shmqi_wake_backend() == SHMQI_WAKE_IO_URING)
		return waitv_io_uring(wv, n, timeout_ns, p);
	return peers_polled(p, waitv_syscall(wv, n, timeout_ns));
}

int shmqi_park_many(_Atomic uint32_t *const *words, const uint32_t *expected, unsigned n,
		    uint64_t timeout_ns)
{
	return park_many_watch(words, expected, n, timeout_ns, NULL);
}

/* Mark what is ready (1) or closed (-EPIPE) in @out; return how many are either. */
static int scan_ready(struct shmqi_waitable *ws, size_t n, int *out, bool thorough)
{
	int count = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		out[i] = ws[i].ready(ws[i].arg, thorough) ? 1 : 0;
		if (!out[i] && shmqi_wait_closed_for(ws[i].w, ws[i].ignore_closed) &&
		    !(ws[i].owed && ws[i].owed(ws[i].arg)))
			out[i] = -EPIPE;
		count += out[i] != 0;
	}
	return count;
}

/*
 * plan_watch() for several waitables: their peers in one set. Peers beyond what one park
 * watches are looked at every shmqi_room_slice_ns instead. Return: false when one found a
 * peer dead (look again at once).
 */
static bool plan_watch_all(struct shmqi_waitable *ws, size_t n, struct shmqi_peers *all,
			   uint64_t *sleep_ns)
{
	struct shmqi_peers p;
	bool ok = true;
	size_t i;
	unsigned j;

	*all = (struct shmqi_peers){ 0 };
	for (i = 0; i < n; i++) {
		if (!ws[i].peers)
			continue;
		if (!plan_watch(&ws[i], &p, sleep_ns)) {
			ok = false;
			continue;
		}
		for (j = 0; j < p.n; j++) {
			if (all->n < SHMQI_PEERS_MAX) {
				all->id[all->n] = p.id[j];
				all->fd[all->n++] = p.fd[j];
			} else if (shmqi_room_slice_ns && *sleep_ns > shmqi_room_slice_ns)
				*sleep_ns = shmqi_room_slice_ns;
		}
	}
	return ok;
}

/* After a park that ended by a death: every watcher judges its peers at the next look. */
static void ended_all(struct shmqi_waitable *ws, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ws[i].peers)
			ws[i].peers->ended(ws[i].arg);
}

/* P1 on every wait block, one more look at all, and one vectored sleep watching their peers. */
static int park_all(struct shmqi_waitable *ws, size_t n, int *out, uint64_t sleep_ns)
{
	struct shmqi_peers p;
	_Atomic uint32_t *words[FUTEX_WAITV_MAX];
	uint32_t seqs[FUTEX_WAITV_MAX];
	size_t i;
	int r = 0;

	for (i = 0; i < n; i++) {
		atomic_fetch_add_explicit(&ws[i].w->waiters, 1, memory_order_seq_cst); /* P1 */
		words[i] = &ws[i].w->seq;
	}
	atomic_thread_fence(memory_order_seq_cst); /* P1, as in park_once() */
	for (i = 0; i < n; i++)
		seqs[i] = atomic_load_explicit(&ws[i].w->seq, memory_order_seq_cst);
	if (plan_watch_all(ws, n, &p, &sleep_ns) && scan_ready(ws, n, out, false) == 0)
		r = park_many_watch(words, seqs, (unsigned)n, sleep_ns, &p);
	for (i = 0; i < n; i++)
		atomic_fetch_sub_explicit(&ws[i].w->waiters, 1, memory_order_relaxed);
	if (r == SHMQI_PARK_ENDED)
		ended_all(ws, n);
	return r >= 0 || r == -ETIMEDOUT || r == -EAGAIN || r == -EINTR ? 0 : r;
}

static void enable_all(struct shmqi_waitable *ws, size_t n, uint64_t *slice_ns)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (*ws[i].enabled)
			continue;
		if (park_enable(ws[i].park_state) == 0)
			*ws[i].enabled = true;
		else
			*slice_ns = FALLBACK_SLICE_NS;
	}
}

int shmqi_wait_many(struct shmqi_waitable *ws, size_t n, int *out, uint64_t spin_ns,
		    uint64_t deadline_ns, uint64_t slice_ns)
{
	uint64_t end, sleep_ns;
	int r;

	end = spin_end(spin_ns, deadline_ns);
	do {
		r = scan_ready(ws, n, out, false);
		if (r > 0)
			return r;
	} while (end && shmqi_now_ns() < end);
	enable_all(ws, n, &slice_ns);
	for (;;) {
		r = scan_ready(ws, n, out, true);
		if (r > 0)
			return r;
		sleep_ns = sleep_time(deadline_ns, slice_ns);
		if (!sleep_ns)
			return -ETIMEDOUT;
		r = park_all(ws, n, out, sleep_ns);
		if (r < 0)
			return r;
	}
}

static_assert(SHMQ_WAIT_MANY_MAX <= FUTEX_WAITV_MAX, "one vectored wait holds them all");

/* The waitable of one entry of shmq_wait_any(), by its kind. */
static int entry_waitable(const struct shmq_wait_entry *e, struct shmqi_waitable *w,
			  uint64_t *slice_ns)
{
	if (!e->handle)
		return -EINVAL;
	switch (e->kind) {
	case SHMQ_WAIT_CHANNEL:
		return shmqi_channel_waitable(e->handle, w, slice_ns);
	case SHMQ_WAIT_SUB:
		return shmqi_sub_waitable(e->handle, w, slice_ns);
	case SHMQ_WAIT_GROUP:
		return shmqi_group_waitable(e->handle, w, slice_ns);
	}
	return -EINVAL;
}

int shmq_wait_any(struct shmq_wait_entry *entries, size_t n, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmqi_waitable ws[FUTEX_WAITV_MAX];
	int out[FUTEX_WAITV_MAX];
	uint64_t slice = 0;
	size_t i;
	int r;

	if (!entries || n == 0 || n > SHMQ_WAIT_MANY_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		r = entry_waitable(&entries[i], &ws[i], &slice);
		if (r < 0)
			return r;
	}
	/* A group's slice (its next due time, its judge's 10 ms) is taken once, at the start:
	 * a due time that comes closer meanwhile is seen within the judge's slice. */
	r = shmqi_wait_many(ws, n, out, spin_ns, shmqi_deadline(timeout_ns), slice);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++)
		entries[i].ready = out[i];
	return r;
}

/* How often shmqi_wait_open() looks at its closed entries again (a producer may come back). */
#define REOPEN_SLICE_NS 10000000u

/* The time left until @deadline: SHMQI_WAIT_FOREVER for none, 0 once it passed. */
static uint64_t time_left(uint64_t deadline)
{
	uint64_t now;

	if (deadline == UINT64_MAX)
		return SHMQI_WAIT_FOREVER;
	now = shmqi_mono_ns();
	return now >= deadline ? 0 : deadline - now;
}

int shmqi_wait_open(struct shmq_wait_entry *w, unsigned n, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmq_wait_entry open[SHMQ_WAIT_MANY_MAX];
	uint64_t deadline = shmqi_deadline(timeout_ns), left = timeout_ns;
	unsigned i, m;
	int r;

	for (;;) {
		r = shmq_wait_any(w, n, spin_ns, left);
		if (r < 0)
			return r;
		for (i = 0, m = 0; i < n; i++) {
			if (w[i].ready > 0)
				return 0;
			if (w[i].ready == 0)
				open[m++] = w[i];
		}
		if (m == 0)
			return -EPIPE;
		/* some closed, none ready: the open ones alone, a slice at a time */
		left = time_left(deadline);
		r = shmq_wait_any(open, m, spin_ns,
				  left < REOPEN_SLICE_NS ? left : REOPEN_SLICE_NS);
		if (r < 0 && r != -ETIMEDOUT)
			return r;
		for (i = 0; r > 0 && i < m; i++)
			if (open[i].ready > 0)
				return 0;
		left = time_left(deadline);
		if (left == 0)
			return -ETIMEDOUT;
	}
}

int shmq_wait_many(struct shmq_wait_item *items, size_t n, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmq_wait_entry es[SHMQ_WAIT_MANY_MAX];
	size_t i;
	int r;

	if (!items || n == 0 || n > SHMQ_WAIT_MANY_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!items[i].ch == !items[i].sub)
			return -EINVAL;
		es[i] = items[i].ch ? (struct shmq_wait_entry){ SHMQ_WAIT_CHANNEL, items[i].ch, 0 }
				    : (struct shmq_wait_entry){ SHMQ_WAIT_SUB, items[i].sub, 0 };
	}
	r = shmq_wait_any(es, n, spin_ns, timeout_ns);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++)
		items[i].ready = es[i].ready;
	return r;
}

/* ---- the caller's own io_uring, and a pollable file descriptor ---- */

#define OP_NOP 0

/*
 * Fill @sqe with the wait on @wt: announce (P1), look once more, then FUTEX_WAIT on the
 * word, or a NOP when something is there already, so the completion comes at once.
 * shmqi_arm_done() undoes the announcement once the completion is in.
 */
int shmqi_arm(struct shmqi_waitable *wt, struct io_uring_sqe *sqe, uint64_t user_data)
{
	uint32_t s;

	if (!*wt->enabled && park_enable(wt->park_state) == 0)
		*wt->enabled = true;
	atomic_fetch_add_explicit(&wt->w->waiters, 1, memory_order_seq_cst); /* P1 */
	atomic_thread_fence(memory_order_seq_cst); /* as in park_once() */
	s = atomic_load_explicit(&wt->w->seq, memory_order_seq_cst);
	if (wt->ready(wt->arg, true) || shmqi_wait_closed_for(wt->w, wt->ignore_closed)) {
		memset(sqe, 0, sizeof(*sqe));
		io_uring_prep_rw(OP_NOP, sqe, -1, NULL, 0, 0);
	} else {
		prep_futex_wait(sqe, &wt->w->seq, s);
	}
	sqe->user_data = user_data;
	return 0;
}

void shmqi_arm_done(struct shmqi_waitable *wt)
{
	atomic_fetch_sub_explicit(&wt->w->waiters, 1, memory_order_relaxed);
}

/* A handle's own ring, whose fd polls readable while a completion waits in it. */
struct shmqi_fdring {
	struct io_uring ring;
	bool armed;
};

static int fdring_rearm(struct shmqi_fdring *f, struct shmqi_waitable *wt)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int r;

	while (io_uring_peek_cqe(&f->ring, &cqe) == 0) { /* the previous completion */
		io_uring_cqe_seen(&f->ring, cqe);
		if (f->armed)
			shmqi_arm_done(wt);
		f->armed = false;
	}
	if (f->armed)
		return 0; /* still waiting: the fd is not readable, as it should be */
	sqe = io_uring_get_sqe(&f->ring);
	if (!sqe)
		return -EBUSY; /* never: one SQE at a time */
	shmqi_arm(wt, sqe, UD_WAIT);
	f->armed = true;
	r = io_uring_submit(&f->ring);
	return r < 0 ? r : 0;
}

int shmqi_fdring_get(struct shmqi_fdring **fp, struct shmqi_waitable *wt)
{
	struct shmqi_fdring *f = *fp;
	int r;

	if (shmqi_wake_backend() != SHMQI_WAKE_IO_URING)
		return -EOPNOTSUPP;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			return -ENOMEM;
		r = io_uring_queue_init(2, &f->ring, 0);
		if (r < 0) {
			free(f);
			return r;
		}
		*fp = f;
	}
	r = fdring_rearm(f, wt);
	return r < 0 ? r : f->ring.ring_fd;
}

/* After a receive found nothing: make the fd wait again (no-op without an fd). */
void shmqi_fdring_idle(struct shmqi_fdring *f, struct shmqi_waitable *wt)
{
	if (f)
		fdring_rearm(f, wt);
}

void shmqi_fdring_free(struct shmqi_fdring *f, struct shmqi_waitable *wt)
{
	if (!f)
		return;
	if (f->armed && wt)
		shmqi_arm_done(wt);
	io_uring_queue_exit(&f->ring); /* cancels a wait still armed */
	free(f);
}

int shmqi_handle_prep_wait(shmqi_waitable_fn fill, void *handle, struct io_uring_sqe *sqe,
			   uint64_t user_data)
{
	struct shmqi_waitable w;
	int r = fill(handle, &w, NULL);

	if (r < 0)
		return r;
	return sqe ? shmqi_arm(&w, sqe, user_data) : -EINVAL;
}

int shmqi_handle_wait_done(shmqi_waitable_fn fill, void *handle)
{
	struct shmqi_waitable w;
	int r = fill(handle, &w, NULL);

	if (r == 0)
		shmqi_arm_done(&w);
	return r;
}

int shmqi_handle_fd(shmqi_waitable_fn fill, void *handle)
{
	struct shmqi_waitable w;
	int r = fill(handle, &w, NULL);

	if (r == 0 && !w.fdring)
		r = -EOPNOTSUPP;
	return r < 0 ? r : shmqi_fdring_get(w.fdring, &w);
}
