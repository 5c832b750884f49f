// SPDX-License-Identifier: MIT
/* topic_pub.c - a topic's producers: claiming records, writing and committing them, the gate. */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "topic_internal.h"
#include "wait.h"

#define REAP_INTERVAL_NS 1000000ull /* a full producer checks liveness at most every 1 ms */

struct shmq_pub {
	struct shmqi_tmap t;
	struct shmqi_prod_entry *me;
	uint32_t id;
	uint64_t pseq; /* next producer sequence */
	uint64_t limit; /* reliable: claims below this sequence need no scan */
	uint64_t free_from; /* reliable: claims from here to @limit own their slot unseen (F1) */
	uint64_t last_reap_ns;
	uint64_t claim_seq; /* the outstanding claim, when claim_len is not UINT32_MAX */
	uint32_t claim_len;
	uint32_t claim_hlen; /* the outstanding claim's header block, written at the claim */
	bool unseen; /* the slot we own was taken without a look at its stamp (F1) */
	bool exclusive; /* the only producer: the tail is ours to store */
	bool biased; /* we hold the topic's bias (B1): claims store the tail while it says so */
	uint64_t bias_tok; /* our bias word */
	uint32_t bias_retry; /* claims until we look whether we are alone again */
	bool no_ts; /* SHMQI_NO_TIMESTAMPS: records carry ts_ns 0 */
	bool room_park_on; /* this handle has seen parking for room switched on */
	uint64_t wait_since_ns; /* this call's first wait for a slot, 0 when none */
	/* parked for room: the subscribers holding the log full, watched (subscriber entry i) */
	struct shmqi_pidfd held_by[SHMQI_PEERS_MAX];
	uint32_t held_by_i[SHMQI_PEERS_MAX];
	bool watched; /* parked, every holder watched: their pidfds say when to free entries */
};

/* ---- producers ---- */

#define PUB_FLAGS (SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | SHMQ_PUB_EXCLUSIVE | SHMQ_OPEN_NO_TIMESTAMPS)

/* A record's publish time: now, or 0 in a topic made with SHMQ_OPEN_NO_TIMESTAMPS. */
static inline uint64_t stamp_now(const shmq_pub *pub)
{
	return pub->no_ts ? 0 : shmqi_now_ns();
}

static int join_producers(shmq_pub *pub)
{
	struct shmqi_tmap *t = &pub->t;
	struct shmqi_prod_entry *p;
	uint32_t i, id;
	int r;

	r = shmqi_topic_take(t, t->prods, t->max_prods, &i);
	if (r < 0)
		return r;
	p = &t->prods[i];
	/*
	 * relaxed: a finder that still reads the pending claim of the dead owner we took the
	 * entry from judges it by our head, which is alive: it waits, and looks again later.
	 */
	atomic_store_explicit(&p->pending, 0, memory_order_relaxed);
	atomic_store_explicit(&p->published, 0, memory_order_relaxed);
	/* relaxed: the RMW makes each id unique whatever the order; 0 is never one ("none") */
	do
		id = atomic_fetch_add_explicit(&t->ctl->next_producer_id, 1, memory_order_relaxed) +
		     1;
	while (id == 0);
	/* relaxed: for inspection; records carry the handle's copy */
	atomic_store_explicit(&p->id, id, memory_order_relaxed);
	pub->me = p;
	pub->id = id;
	pub->pseq = 1;
	pub->claim_len = UINT32_MAX;
	pub->free_from = UINT64_MAX; /* until a scan of the gate says otherwise */
	return 0;
}

/* Producer entries of live owners, one given entry (ours) aside, with a given pid or any. */
struct prod_match {
	const struct shmqi_prod_entry *me;
	const struct shmqi_prod_entry *prods;
	int32_t pid; /* 0: any */
};

static bool other_match(void *arg, uint32_t i, uint64_t head)
{
	const struct prod_match *m = arg;

	return &m->prods[i] != m->me && (!m->pid || shmqi_head_pid(head) == m->pid);
}

/* X1: the scan's seq_cst head loads pair with the seq_cst head CAS of another producer's take. */
static bool other_producer(struct shmqi_tmap *t, const struct shmqi_prod_entry *me)
{
	struct prod_match m = { .me = me, .prods = t->prods };

	return shmqi_owner_scan(t->prods, sizeof(*t->prods), t->max_prods, true, other_match, &m);
}

/*
 * X1: an exclusive producer stores exclusive_pid, then looks for other producers; any other
 * producer takes its table entry, then looks at exclusive_pid; all seq_cst, so at least
 * one of two racing openers sees the other (both may give up: -EBUSY).
 *
 * Is the exclusive producer @pid still open? Judged through its producer entry, any but
 * ours (@me): an entry of ours says nothing about it, even with its pid, which may be ours
 * now that it died.
 */
static bool exclusive_alive(struct shmqi_tmap *t, const struct shmqi_prod_entry *me, int32_t pid)
{
	struct prod_match m = { .me = me, .prods = t->prods, .pid = pid };

	if (pid == 0)
		return false;
	return shmqi_owner_scan(t->prods, sizeof(*t->prods), t->max_prods, true, other_match, &m);
}

static int check_exclusive(shmq_pub *pub, bool want)
{
	struct shmqi_topic *ctl = pub->t.ctl;
	/* X1: after the seq_cst head CAS of our take, against an exclusive producer's store. */
	int32_t cur = atomic_load_explicit(&ctl->exclusive_pid, memory_order_seq_cst);

	if (!want)
		return exclusive_alive(&pub->t, pub->me, cur) ? -EBUSY : 0;
	if (exclusive_alive(&pub->t, pub->me, cur))
		return -EBUSY;
	/* X1: our store, before the seq_cst head loads of other_producer(), against another
	 * producer's take (seq_cst CAS) then its seq_cst load above. */
	if (!atomic_compare_exchange_strong_explicit(&ctl->exclusive_pid, &cur, pub->t.pid,
						     memory_order_seq_cst, memory_order_relaxed))
		return -EBUSY;
	if (other_producer(&pub->t, pub->me)) {
		/* X1: we give up; seq_cst as every access of exclusive_pid */
		atomic_store_explicit(&ctl->exclusive_pid, 0, memory_order_seq_cst);
		return -EBUSY;
	}
	pub->exclusive = true;
	return 0;
}

/*
 * ---- the lone producer's bias (B1) ----
 *
 * A topic's only producer claims as an exclusive one does, with a plain release store of
 * the tail instead of a CAS: a locked instruction per record, which waits for the store
 * buffer to drain, is most of a shared producer's cost (docs/benchmarks.md). It holds the
 * topic's bias word, and checks it after announcing its claim (pending) and before storing
 * the tail; the check is a plain load after a compiler barrier. A producer that opens while
 * the bias is held revokes it: it sets BIAS_REVOKED, then makes every thread on the host pass
 * a full barrier (membarrier). From then on the holder's checks see the revocation, and a
 * check that passed before it had its pending store made visible by that barrier: the
 * revoker waits until the holder acknowledges (clears the word at its next claim, which is a
 * CAS claim), has no claim pending or stored the tail of the pending one, or is gone. Only
 * then does it claim, by CAS. While the word says REVOKED only the holder moves the tail, and
 * a claim's pending is the tail it started at: a tail past it says that claim's store is done.
 * Taking the bias is X1's pattern: the taker's seq_cst CAS of the word, then seq_cst loads of
 * the other producer entries' heads; an opener's seq_cst take of its entry, then a seq_cst
 * load of the word: at least one of two racing producers sees the other. A producer that
 * lost the bias looks every BIAS_RETRY claims whether it is alone again. The bias is taken
 * only where membarrier(MEMBARRIER_CMD_GLOBAL) is offered (not on nohz_full kernels, say):
 * without it a revoker could only wait for an acknowledgement, which an idle holder never
 * gives.
 */
#define BIAS_REVOKED (1ull << 63)
#define BIAS_RETRY 65536u
#define BIAS_WAIT_NS 1000000000ull /* on top of the claim timeout, for a stopped holder */
#define BIAS_LOOK_NS 1000000ull /* how often a revoker judges the holder's liveness */
#define MEMBARRIER_QUERY 0 /* MEMBARRIER_CMD_QUERY: a mask of the commands offered */
#define MEMBARRIER_GLOBAL_BIT 1 /* MEMBARRIER_CMD_GLOBAL in it */

static uint64_t bias_word(const shmq_pub *pub)
{
	return (uint64_t)(pub->me - pub->t.prods) << 32 | pub->id;
}

/* Does this kernel offer membarrier(MEMBARRIER_CMD_GLOBAL) to this process? Asked once. */
static bool barrier_offered(void)
{
	static _Atomic int offered; /* 0: not asked yet, 1: yes, -1: no */
	int v = atomic_load_explicit(&offered, memory_order_relaxed);
	long r;

	if (v == 0) {
		r = syscall(SYS_membarrier, MEMBARRIER_QUERY, 0, 0);
		v = r >= 0 && (r & MEMBARRIER_GLOBAL_BIT) ? 1 : -1;
		atomic_store_explicit(&offered, v, memory_order_relaxed);
	}
	return v > 0;
}

/*
 * The holder of bias word @w, when it is open (an entry other than ours, with its id; a
 * dead or stale holder is none): or NULL.
 */
static const struct shmqi_prod_entry *bias_holder(const shmq_pub *pub, uint64_t w)
{
	uint64_t i = (w & ~BIAS_REVOKED) >> 32, h;
	const struct shmqi_prod_entry *p;

	if (i >= pub->t.max_prods)
		return NULL; /* not a word we wrote: nobody to wait for */
	p = &pub->t.prods[i];
	if (p == pub->me)
		return NULL; /* our entry now: its earlier owner is gone */
	h = atomic_load_explicit(&p->owner.head, memory_order_acquire);
	/* relaxed: the holder stored its id before its seq_cst CAS of the word, which we read */
	if (atomic_load_explicit(&p->id, memory_order_relaxed) != (uint32_t)w)
		return NULL;
	return shmqi_head_pid(h) != 0 && shmqi_entry_alive(&p->owner, h) ? p : NULL;
}

/*
 * Is any producer entry but ours held (by a live owner, or a dead one not yet reaped)?
 * seq_cst: X1's loads of the heads, against an opener's take (B1).
 */
static bool other_entry_held(const shmq_pub *pub)
{
	uint32_t i;

	for (i = 0; i < pub->t.max_prods; i++)
		if (&pub->t.prods[i] != pub->me &&
		    shmqi_head_pid(atomic_load_explicit(&pub->t.prods[i].owner.head,
							memory_order_seq_cst)) != 0)
			return true;
	return false;
}

/* Take the bias if no other producer is open (B1). Rare: at open, then every BIAS_RETRY. */
static __attribute__((noinline, cold)) void take_bias(shmq_pub *pub)
{
	_Atomic uint64_t *b = &pub->t.ctl->bias;
	uint64_t w = 0, tok = bias_word(pub);

	if (pub->exclusive || !barrier_offered() || other_entry_held(pub))
		return;
	/* B1: seq_cst, before the seq_cst head loads of other_entry_held() */
	if (!atomic_compare_exchange_strong_explicit(b, &w, tok, memory_order_seq_cst,
						     memory_order_acquire)) {
		/* a word its writer left behind (died taking it, or after a revoker gave up) */
		if (bias_holder(pub, w) ||
		    !atomic_compare_exchange_strong_explicit(b, &w, tok, memory_order_seq_cst,
							     memory_order_relaxed))
			return;
	}
	if (other_entry_held(pub)) {
		/* Given up before any claim of ours used it; clearing also answers a revoker. */
		w = tok;
		if (!atomic_compare_exchange_strong_explicit(b, &w, 0, memory_order_release,
							     memory_order_relaxed) &&
		    w == (tok | BIAS_REVOKED))
			atomic_compare_exchange_strong_explicit(b, &w, 0, memory_order_release,
								memory_order_relaxed);
		return;
	}
	pub->bias_tok = tok;
	pub->biased = true;
}

/* The bias is no longer ours: claim by CAS from now on; answer a revoker (release: our
 * earlier stores of the tail come with it). */
static void lose_bias(shmq_pub *pub)
{
	uint64_t w = pub->bias_tok | BIAS_REVOKED;

	atomic_compare_exchange_strong_explicit(&pub->t.ctl->bias, &w, 0, memory_order_release,
						memory_order_relaxed);
	pub->biased = false;
	pub->bias_retry = BIAS_RETRY;
}

/* Has the holder (entry @p) no claim left that may still store the tail plainly? */
static bool holder_settled(const shmq_pub *pub, const struct shmqi_prod_entry *p)
{
	/*
	 * No claim pending (acquire: pairs with claim_done()'s R6), or the pending one's tail
	 * stored (acquire: pairs with that release store). A zero-copy claim stays pending
	 * until its commit, its tail long stored: the thread holding it may be this one.
	 */
	uint64_t c = atomic_load_explicit(&p->pending, memory_order_acquire);

	return c == 0 || atomic_load_explicit(&pub->t.ctl->tail, memory_order_acquire) > c;
}

/*
 * Before our first claim: no producer may still claim by a plain store. Revoke a bias
 * another holds (B1), and wait until its holder acknowledged, is settled, or is gone.
 * Return: 0, or -EBUSY (the holder stayed between its check and its tail store, stopped
 * there, say; or membarrier is refused to us and the holder, idle, never acknowledged).
 */
static int settle_bias(shmq_pub *pub)
{
	_Atomic uint64_t *b = &pub->t.ctl->bias;
	/* B1: seq_cst, after the seq_cst head CAS of our entry's take */
	uint64_t w = atomic_load_explicit(b, memory_order_seq_cst), rev, now, until, look;
	const struct shmqi_prod_entry *p;
	struct timespec nap = { 0, 20000 };
	bool barrier;

	for (;;) {
		if (w == 0)
			return 0;
		rev = w | BIAS_REVOKED;
		p = bias_holder(pub, w);
		if (!p) { /* its holder is gone (or the word is nobody's): no claim to wait for */
			if (atomic_compare_exchange_strong_explicit(b, &w, 0, memory_order_acquire,
								    memory_order_acquire))
				return 0;
			continue;
		}
		if (w == rev || atomic_compare_exchange_strong_explicit(
					b, &w, rev, memory_order_seq_cst, memory_order_acquire))
			break;
	}
	barrier = shmqi_membarrier_global() == 0;
	now = shmqi_mono_ns();
	until = now + pub->t.timeout_ns + BIAS_WAIT_NS;
	look = now + BIAS_LOOK_NS;
	for (;;) {
		/* acquire: pairs with lose_bias()'s release, the holder's last tail store in it */
		if (atomic_load_explicit(b, memory_order_acquire) != rev)
			return 0;
		if (barrier && holder_settled(pub, p)) /* pending tells only after the barrier */
			break;
		now = shmqi_mono_ns();
		if (now >= look) {
			if (!bias_holder(pub, w))
				break;
			look = now + BIAS_LOOK_NS;
		}
		if (now > until) {
			shmqi_detail("topic: its other producer (id %u) stayed in a claim%s",
				     (unsigned)(uint32_t)w,
				     barrier ? ""
					     : ", and membarrier() is refused to this process");
			return -EBUSY;
		}
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 1000000)
			nap.tv_nsec *= 2;
	}
	atomic_compare_exchange_strong_explicit(b, &rev, 0, memory_order_relaxed,
						memory_order_relaxed);
	return 0;
}

int shmq_pub_open(shmq_bus *bus, const char *name, unsigned flags,
		  const struct shmq_topic_config *cfg, shmq_pub **ret_pub)
{
	shmq_pub *pub;
	int r;

	shmqi_detail_clear();
	if (!ret_pub || (flags & ~PUB_FLAGS))
		return -EINVAL;
	pub = calloc(1, sizeof(*pub));
	if (!pub)
		return -ENOMEM;
	r = shmqi_topic_map(bus, name, flags, cfg, &pub->t);
	if (r < 0)
		goto err_free;
	r = join_producers(pub);
	if (r == -EUSERS)
		shmqi_detail("topic '%s': all %u producer entries are held by live processes", name,
			     pub->t.max_prods);
	if (r < 0)
		goto err_close;
	r = check_exclusive(pub, flags & SHMQ_PUB_EXCLUSIVE);
	if (r < 0)
		goto err_drop;
	r = settle_bias(pub);
	if (r < 0)
		goto err_drop;
	take_bias(pub);
	pub->bias_retry = BIAS_RETRY;
	pub->no_ts = pub->t.ctl->flags & SHMQI_NO_TIMESTAMPS;
	shmqi_wait_close(&pub->t.ctl->wait, false);
	*ret_pub = pub;
	return 0;

err_drop:
	shmqi_topic_drop(&pub->t, &pub->me->owner, NULL, NULL);
err_close:
	shmqi_seg_close(&pub->t.seg);
err_free:
	free(pub);
	return r;
}

uint32_t shmqi_pub_max_msg(const shmq_pub *pub)
{
	return pub->t.max_msg;
}

bool shmqi_pub_biased(const shmq_pub *pub)
{
	return pub->biased;
}

uint32_t shmq_pub_id(const shmq_pub *pub)
{
	return pub ? pub->id : 0;
}

/*
 * The first sequence that claims must stay below: the slowest active cursor plus a lap.
 * Also where claims start to own their slot unseen (F1): a lap past the highest start of
 * any subscriber; never, when none is active.
 */
static uint64_t gate_limit(const struct shmqi_tmap *t, uint64_t tail, uint64_t *ret_free_from)
{
	uint64_t min = UINT64_MAX, c, now, start;
	uint32_t i;

	/*
	 * S1: the tail @tail came from (a relaxed load, or an exclusive producer's own release
	 * store) is ordered before the state loads below, on every machine: the scan is the
	 * slow path, once a lap at most.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	for (i = 0; i < t->max_subs; i++) {
		/* S1: pairs with the joiner's seq_cst store of ACTIVE, then seq_cst tail load, in
		 * join_subscribers(). */
		if (atomic_load_explicit(&t->subs[i].state, memory_order_seq_cst) !=
		    SHMQI_SUB_ACTIVE)
			continue;
		/* A2: pairs with R2 in publish_cursor(): slots before c are read. */
		c = atomic_load_explicit(&t->subs[i].cursor, memory_order_acquire);
		if (c < min)
			min = c;
	}
	for (i = 0; i < SHMQI_TOPIC_GATES; i++) {
		/* S1: pairs with the group creator's seq_cst store of ACTIVE (group.c). */
		if (atomic_load_explicit(&t->gates[i].state, memory_order_seq_cst) !=
		    SHMQI_GATE_ACTIVE)
			continue;
		/* A2: pairs with R2 in group.c's publish_floor(): records below are done. */
		c = atomic_load_explicit(&t->gates[i].cursor, memory_order_acquire);
		if (c < min)
			min = c;
	}
	/*
	 * F1: pairs with shmqi_raise_start() before the S1 and R2 stores that the loads above
	 * read, so at least the start of every subscriber and group they saw. Relaxed: the
	 * acquire and seq_cst loads above keep it after them.
	 */
	start = atomic_load_explicit(&t->ctl->sub_start, memory_order_relaxed);
	*ret_free_from = min != UINT64_MAX && start < SHMQI_SEQ_MAX ? start + t->slots : UINT64_MAX;
	/*
	 * S1: a tail read after the state loads (seq_cst), never one read before them; the
	 * joiner's seq_cst tail load after its ACTIVE store is the other side. Read-read
	 * coherence makes it at least @tail, which the caller read before this scan: the limit
	 * rests on @tail (see claim_seqs()).
	 */
	now = atomic_load_explicit(&t->ctl->tail, memory_order_seq_cst);
	if (now < min)
		min = now;
	if (tail < min)
		min = tail;
	return min + t->slots;
}

/* How many of @n records may be claimed at @tail (reliable topics); 0 when full. */
static uint64_t room(shmq_pub *pub, uint64_t tail, uint64_t n)
{
	uint64_t now;

	if (tail + n <= pub->limit)
		return n;
	pub->limit = gate_limit(&pub->t, tail, &pub->free_from);
	if (pub->limit <= tail) {
		if (pub->watched)
			return 0; /* nobody holding it has died: no reap to try */
		now = shmqi_now_ns();
		if (now - pub->last_reap_ns < REAP_INTERVAL_NS)
			return 0;
		pub->last_reap_ns = now;
		shmqi_reap_dead_subs(&pub->t);
		pub->limit = gate_limit(&pub->t, tail, &pub->free_from);
		if (pub->limit <= tail)
			return 0;
	}
	return pub->limit - tail < n ? pub->limit - tail : n;
}

static void hook(int phase, uint64_t seq)
{
	if (shmqi_topic_test_hook)
		shmqi_topic_test_hook(phase, seq);
}

/* Claim up to @n consecutive sequences with one CAS on the tail. */
static inline int claim_seqs(shmq_pub *pub, uint64_t n, uint64_t *ret_first, uint64_t *ret_n)
{
	struct shmqi_topic *ctl = pub->t.ctl;
	/*
	 * relaxed: the CAS below checks it before anything is claimed. It is also the base of
	 * the gate limit room() computes, which S1 needs read before gate_limit()'s seq_cst
	 * state loads: x86 keeps loads in that order, the C11 model does not promise it for a
	 * relaxed load (docs/design.md, "Joining a reliable topic (S1)").
	 */
	uint64_t t, k;

	if (!pub->biased && !--pub->bias_retry) { /* alone again? (B1) */
		pub->bias_retry = BIAS_RETRY;
		take_bias(pub);
	}
	t = atomic_load_explicit(&ctl->tail, memory_order_relaxed);
	for (;;) {
		if (t == 0 || t >= SHMQI_SEQ_MAX - n) {
			/* relaxed: our own entry, and no claim of ours in the tail covers it */
			atomic_store_explicit(&pub->me->pending, 0, memory_order_relaxed);
			return -EPROTO;
		}
		k = pub->t.policy == SHMQ_TOPIC_LOSSY ? n : room(pub, t, n);
		if (k == 0) {
			/* A claim that lost its CAS must not look like ours to a finder. */
			atomic_store_explicit(&pub->me->pending, 0, memory_order_relaxed);
			return -EAGAIN;
		}
		/* R3: ordered before the claim by its release; pairs with A3 in not_ready(),
		 * lapped() and the other finders' tail loads. R7: pairs with A7 in
		 * claimant_alive(): the previous claim's end (R6) and commits come with it. */
		atomic_store_explicit(&pub->me->pending_n, (uint32_t)k, memory_order_release);
		atomic_store_explicit(&pub->me->pending, t, memory_order_relaxed);
		if (pub->exclusive) { /* nobody else stores the tail (X1) */
			/* R3, and R5 with the fence in own_slot(), as the CAS below. Not S1: a
			 * release store may pass the next scan's state loads (docs/design.md). */
			atomic_store_explicit(&ctl->tail, t + k, memory_order_release);
			break;
		}
		if (pub->biased) {
			/* B1: the check after the pending stores in program order; a revoker's
			 * membarrier orders them for it. The release store keeps the check before
			 * the tail's store. As the exclusive store above otherwise. */
			atomic_signal_fence(memory_order_seq_cst);
			if (atomic_load_explicit(&ctl->bias, memory_order_relaxed) ==
			    pub->bias_tok) {
				hook(2, t);
				atomic_store_explicit(&ctl->tail, t + k, memory_order_release);
				break;
			}
			lose_bias(pub);
		}
		/* R3; S1: pairs with the joiner's seq_cst tail load in join_subscribers(); R5 with
		 * the fence in own_slot(). Relaxed on failure: the value is checked again. */
		if (atomic_compare_exchange_weak_explicit(
			    &ctl->tail, &t, t + k, memory_order_seq_cst, memory_order_relaxed))
			break;
	}
	*ret_first = t;
	*ret_n = k;
	return 0;
}

/* The claim is finished: no record of it is left without its final stamp. */
static void claim_done(shmq_pub *pub)
{
	/* R6: pairs with A6 in claimant_alive(): every record of the claim has its final stamp. */
	atomic_store_explicit(&pub->me->pending, 0, memory_order_release);
	atomic_store_explicit(&pub->me->published, pub->pseq - 1, memory_order_relaxed);
	shmqi_notify(&pub->t.ctl->park_state, &pub->t.ctl->wait);
}

static void backoff(unsigned *spins)
{
	if (++*spins > 64)
		sched_yield();
}

/*
 * Is the slot free for record @seq? Only once the record a lap earlier is finished
 * (committed or skipped): then its claimant is done with the slot, and no other producer
 * can want it before we finish ours, so owning it needs no CAS. In the first lap there is
 * no earlier record.
 */
static bool slot_free_for(const struct shmqi_tmap *t, uint64_t v, uint64_t seq)
{
	if (seq <= t->slots)
		return shmqi_stamp_seq(v) < seq;
	return shmqi_stamp_seq(v) == seq - t->slots && (v & 3) >= SHMQI_STAMP_COMMITTED;
}

/*
 * The record a lap earlier is not finished: its producer is slow, or died. Wait; after the
 * claim timeout (counted from the first wait of this call), skip it if its claimant is
 * dead. A live one is never overwritten: give up instead (-ETIMEDOUT).
 */
static int wait_prev(shmq_pub *pub, uint64_t seq, uint64_t v, unsigned *spins)
{
	uint64_t now;

	backoff(spins);
	if (*spins % 1024)
		return 0;
	now = shmqi_now_ns();
	if (!pub->wait_since_ns) {
		pub->wait_since_ns = now;
		return 0;
	}
	if (now - pub->wait_since_ns < pub->t.timeout_ns ||
	    shmqi_skip_dead_claim(&pub->t, seq - pub->t.slots, v))
		return 0;
	return -ETIMEDOUT;
}

/*
 * Does our table entry still show our claim of @seq? Finders judge a claimant by it: while
 * it does, and liveness is judged right, nobody takes us for dead. It catches our entry
 * taken over or scribbled on; a finder that misjudges a live pid is not seen here.
 */
static inline bool claim_intact(const shmq_pub *pub, uint64_t seq)
{
	const struct shmqi_prod_entry *me = pub->me;
	/* relaxed: our own entry's words, which only a finder's misjudgement or a scribbler
	 * changes; this look is a check against those, and no order would make it exact */
	uint64_t first = atomic_load_explicit(&me->pending, memory_order_relaxed);

	return first && seq - first < atomic_load_explicit(&me->pending_n, memory_order_relaxed) &&
	       atomic_load_explicit(&me->owner.head, memory_order_relaxed) == pub->t.head;
}

/*
 * Is the slot of record @seq still ours? Only a finder that took us for dead changes it
 * meanwhile (a pid it could not judge right, or a scribbled producer table); then our
 * record is skipped and must not be written. A slot we looked at is in our cache: a cheap
 * look at the stamp. One owned unseen may be polled by a subscriber: a look at our own
 * table entry instead, which is what a finder goes by.
 */
static inline bool still_ours(const shmq_pub *pub, const struct shmqi_trec *rec, uint64_t seq)
{
	uint64_t v;

	if (pub->unseen)
		return claim_intact(pub, seq);
	/* relaxed: a finder's SKIPPED (or a later lap) is what we look for; as above, no order
	 * closes the window between this look and our writes (docs/design.md) */
	v = atomic_load_explicit(&rec->stamp, memory_order_relaxed);
	if (pub->t.policy == SHMQ_TOPIC_LOSSY)
		return v == SHMQI_STAMP(seq, SHMQI_STAMP_WRITING);
	return shmqi_stamp_seq(v) < seq;
}

/*
 * Own the slot of record @seq: wait until the record a lap earlier is finished, then (lossy
 * topics) mark the slot WRITING(seq). Return: 0, or -ESTALE when the slot already shows
 * @seq or later (a finder skipped our record, taking us for dead), -ETIMEDOUT when a live
 * producer has not finished the record a lap earlier within the claim timeout. Either way
 * our record is abandoned: once the earlier one is finished, whoever waits at ours skips
 * it (no live claimant covers it once our claim is done).
 *
 * Where the gate vouches that the earlier record is finished (F1), the stamp is not even
 * loaded: a subscriber polling it would make that load a cache-to-cache transfer, and the
 * writes that follow a second one (docs/design.md: "owning a slot unseen").
 */
static inline int own_slot(shmq_pub *pub, uint64_t seq, struct shmqi_trec **ret_rec)
{
	struct shmqi_trec *rec = shmqi_slot_at(&pub->t, seq);
	unsigned spins = 0;
	uint64_t v;
	int r;

	pub->unseen = pub->t.policy == SHMQ_TOPIC_RELIABLE && seq >= pub->free_from;
	if (pub->unseen) {
		if (!claim_intact(pub, seq))
			return -ESTALE;
		goto owned;
	}
	for (;;) {
		/* A1: pairs with R1 of the previous lap's producer: it is done with the slot. */
		v = atomic_load_explicit(&rec->stamp, memory_order_acquire);
		if (shmqi_stamp_seq(v) >= seq)
			return -ESTALE;
		if (slot_free_for(&pub->t, v, seq))
			break;
		r = wait_prev(pub, seq, v, &spins);
		if (r < 0)
			return r;
	}
	/*
	 * Lossy topics mark the slot first, for the seqlock. Reliable ones do not: the gate
	 * keeps subscribers off it, and a subscriber polling the stamp would pull the line
	 * away between this store and the commit (a second cache-line transfer per record;
	 * docs/design.md).
	 */
	if (pub->t.policy == SHMQ_TOPIC_LOSSY) {
		v = SHMQI_STAMP(seq, SHMQI_STAMP_WRITING);
		/* Release: pairs with A1 in next_rec() and in own_slot() a lap later; whoever sees
		 * WRITING(seq) also sees our claim of seq (the tail past it, pending: R3). */
		atomic_store_explicit(&rec->stamp, v, memory_order_release);
	}
owned:
	/* R4 (pairs with A4), R5 (pairs with A5), both in still_valid() and peeked_intact():
	 * the payload stores below become visible after WRITING and after the claiming CAS. */
	atomic_thread_fence(memory_order_release);
	*ret_rec = rec;
	return 0;
}

/* Fill the header of an owned slot and publish the record. */
static int commit_rec(shmq_pub *pub, struct shmqi_trec *rec, uint64_t seq, size_t len,
		      uint32_t hlen, uint64_t corr_id, uint64_t ts)
{
	if (!still_ours(pub, rec, seq))
		return -ESTALE;
	rec->ts_ns = ts;
	rec->producer_seq = pub->pseq++;
	rec->corr_id = corr_id;
	rec->len = (uint32_t)len;
	rec->producer_id = pub->id;
	rec->flags = hlen ? SHMQI_TREC_HDRS : 0;
	rec->hdrs_len = hlen;
	/* R1: pairs with A1 in next_rec(): header and payload are complete. */
	atomic_store_explicit(&rec->stamp, SHMQI_STAMP(seq, SHMQI_STAMP_COMMITTED),
			      memory_order_release);
	return 0;
}

static int check_pub(shmq_pub *pub)
{
	if (!pub)
		return -EINVAL;
	pub->wait_since_ns = 0;
	return pub->claim_len != UINT32_MAX ? -EBUSY : 0;
}

/* Copy a header block into an owned slot, padded; return where the payload goes. */
static uint8_t *put_hdrs(struct shmqi_trec *rec, const void *hdrs, uint32_t hlen)
{
	uint8_t *p = (uint8_t *)(rec + 1);

	if (!hlen)
		return p;
	memcpy(p, hdrs, hlen);
	memset(p + hlen, 0, shmqi_hdrs_span(hlen) - hlen);
	return p + shmqi_hdrs_span(hlen);
}

/* Write one claimed record, with the header block @hdrs of @hlen bytes (0 for none). */
static int put_rec(shmq_pub *pub, uint64_t seq, const struct shmq_pub_msg *m, const void *hdrs,
		   uint32_t hlen, uint64_t ts)
{
	struct shmqi_trec *rec;
	uint8_t *p;
	int r;

	hook(0, seq);
	r = own_slot(pub, seq, &rec);
	if (r < 0)
		return r;
	hook(1, seq);
	if (!still_ours(pub, rec, seq))
		return -ESTALE;
	p = put_hdrs(rec, hdrs, hlen);
	if (m->len)
		memcpy(p, m->data, m->len);
	return commit_rec(pub, rec, seq, m->len, hlen, m->corr_id, ts);
}

/*
 * A claimed record we will not write: mark it skipped now if its slot is free, else leave
 * it to whoever waits there (our claim is done, so it is skipped after the timeout).
 */
static void give_up(shmq_pub *pub, uint64_t seq)
{
	struct shmqi_trec *rec = shmqi_slot_at(&pub->t, seq);
	/* A1: pairs with R1 of the previous lap's producer, as in own_slot(). */
	uint64_t v = atomic_load_explicit(&rec->stamp, memory_order_acquire);

	if (shmqi_stamp_seq(v) >= seq || !slot_free_for(&pub->t, v, seq))
		return;
	/* R1 and acquire of @v's release, as in shmqi_skip_dead_claim(). */
	if (atomic_compare_exchange_strong_explicit(&rec->stamp, &v,
						    SHMQI_STAMP(seq, SHMQI_STAMP_SKIPPED),
						    memory_order_acq_rel, memory_order_relaxed))
		atomic_fetch_add_explicit(&pub->t.ctl->skipped, 1, memory_order_relaxed);
}

/* The topic's default time to live (shmq_topic_set_ttl()), 0 for none. */
static inline uint64_t topic_ttl(const shmq_pub *pub)
{
	return atomic_load_explicit(&pub->t.ctl->ttl_ns, memory_order_relaxed);
}

/*
 * @hdrs with the topic's expiry added, in @buf, unless it has one of its own: the block
 * to send and its length in *@ret_len. Return: the block, or NULL (-E2BIG: no room).
 */
static const void *with_ttl(uint64_t ttl, const void *hdrs, size_t hlen, uint8_t *buf,
			    size_t *ret_len)
{
	const char *v;

	*ret_len = hlen;
	if (hlen && shmq_hdrs_get(hdrs, hlen, SHMQ_HDR_EXPIRES, &v, NULL) == 0)
		return hdrs;
	if (hlen)
		memcpy(buf, hdrs, hlen);
	return shmq_hdrs_add_ttl(buf, SHMQ_HDRS_MAX, ret_len, ttl) == 0 ? buf : NULL;
}

int shmq_pub_send_many(shmq_pub *pub, const struct shmq_pub_msg *msgs, size_t n)
{
	uint64_t first, k, i, ts;
	int r, e;

	r = check_pub(pub);
	if (r < 0)
		return r;
	if (!msgs || n == 0 || n > INT32_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (msgs[i].len > pub->t.max_msg)
			return -EMSGSIZE;
		if (!msgs[i].data && msgs[i].len)
			return -EINVAL;
	}
	if (topic_ttl(pub)) { /* each record gets its own expiry: one at a time */
		for (i = 0; i < n; i++) {
			r = shmq_pub_send_hdrs(pub, NULL, 0, msgs[i].data, msgs[i].len,
					       msgs[i].corr_id);
			if (r < 0)
				break;
		}
		return i ? (int)i : r;
	}
	r = claim_seqs(pub, n, &first, &k);
	if (r < 0)
		return r;
	ts = stamp_now(pub);
	for (i = 0; i < k; i++) {
		r = put_rec(pub, first + i, &msgs[i], NULL, 0, ts);
		if (r < 0)
			break;
	}
	for (e = (int)i + 1; (uint64_t)e < k; e++) /* a prefix is published, never more */
		give_up(pub, first + (uint64_t)e);
	claim_done(pub);
	return i ? (int)i : r;
}

/* The one-record case of shmq_pub_send_many(), kept apart because it is the hot path. */
/* Claim, write and publish one record, with the header block @hdrs of @hlen bytes. */
static inline int send_one(shmq_pub *pub, const void *data, size_t len, uint64_t corr_id,
			   const void *hdrs, uint32_t hlen)
{
	struct shmq_pub_msg m = { .data = data, .len = len, .corr_id = corr_id };
	uint64_t seq, k;
	int r;

	r = claim_seqs(pub, 1, &seq, &k);
	if (r < 0)
		return r;
	r = put_rec(pub, seq, &m, hdrs, hlen, stamp_now(pub));
	claim_done(pub);
	return r;
}

int shmq_pub_send(shmq_pub *pub, const void *data, size_t len, uint64_t corr_id)
{
	int r;

	r = check_pub(pub);
	if (r < 0)
		return r;
	if (__builtin_expect(topic_ttl(pub) != 0, 0))
		return shmq_pub_send_hdrs(pub, NULL, 0, data, len, corr_id);
	if (len > pub->t.max_msg)
		return -EMSGSIZE;
	if (!data && len)
		return -EINVAL;
	return send_one(pub, data, len, corr_id, NULL, 0);
}

/* Do a block of @hlen bytes (at most SHMQ_HDRS_MAX) and @len payload bytes fit a record? */
static bool fits(const shmq_pub *pub, size_t hlen, size_t len)
{
	return shmqi_hdrs_span((uint32_t)hlen) <= pub->t.max_msg &&
	       len <= pub->t.max_msg - shmqi_hdrs_span((uint32_t)hlen);
}

/*
 * The block a record sent with headers carries: *@hdrs, checked as shmq_hdrs_check() does
 * unless @built (the library made it), with the topic's expiry added (in @buf) when the
 * topic has a time to live. Return: 0, or -EINVAL, -E2BIG, -EMSGSIZE.
 */
static int final_block(const shmq_pub *pub, const void **hdrs, size_t *hlen, size_t len,
		       uint8_t *buf, bool built)
{
	uint64_t ttl = topic_ttl(pub);
	int r;

	if (!*hdrs && *hlen)
		return -EINVAL;
	if (!built) {
		r = shmq_hdrs_check(*hdrs, *hlen);
		if (r < 0)
			return r == -E2BIG ? -E2BIG : -EINVAL;
	}
	if (ttl) { /* a well-formed block gets its expiry, unless it is too full for one */
		*hdrs = with_ttl(ttl, *hdrs, *hlen, buf, hlen);
		if (!*hdrs)
			return -E2BIG;
	}
	return fits(pub, *hlen, len) ? 0 : -EMSGSIZE;
}

/* shmq_pub_send_hdrs(), the block checked (@built: trusted) and sent. */
static int send_block(shmq_pub *pub, const void *hdrs, size_t hdrs_len, const void *data,
		      size_t len, uint64_t corr_id, bool built)
{
	uint8_t buf[SHMQ_HDRS_MAX];
	int r;

	r = check_pub(pub);
	if (r < 0)
		return r;
	if (!data && len)
		return -EINVAL;
	r = final_block(pub, &hdrs, &hdrs_len, len, buf, built);
	if (r < 0)
		return r;
	return send_one(pub, data, len, corr_id, hdrs, (uint32_t)hdrs_len);
}

int shmqi_pub_send_built(shmq_pub *pub, const void *hdrs, size_t hdrs_len, const void *data,
			 size_t len, uint64_t corr_id)
{
	return send_block(pub, hdrs, hdrs_len, data, len, corr_id, true);
}

int shmq_pub_send_hdrs(shmq_pub *pub, const void *hdrs, size_t hdrs_len, const void *data,
		       size_t len, uint64_t corr_id)
{
	return send_block(pub, hdrs, hdrs_len, data, len, corr_id, false);
}

int shmq_pub_claim_hdrs(shmq_pub *pub, const void *hdrs, size_t hdrs_len, size_t len,
			void **ret_buf)
{
	uint8_t buf[SHMQ_HDRS_MAX];
	struct shmqi_trec *rec;
	uint64_t seq, k;
	int r;

	r = check_pub(pub);
	if (r < 0)
		return r;
	if (!ret_buf)
		return -EINVAL;
	r = final_block(pub, &hdrs, &hdrs_len, len, buf, false);
	if (r < 0)
		return r;
	r = claim_seqs(pub, 1, &seq, &k);
	if (r < 0)
		return r;
	hook(0, seq);
	r = own_slot(pub, seq, &rec);
	if (r < 0) {
		claim_done(pub);
		return r;
	}
	hook(1, seq);
	pub->claim_seq = seq;
	pub->claim_len = (uint32_t)len;
	pub->claim_hlen = (uint32_t)hdrs_len;
	*ret_buf = put_hdrs(rec, hdrs, (uint32_t)hdrs_len);
	return 0;
}

int shmq_pub_claim(shmq_pub *pub, size_t len, void **ret_buf)
{
	return shmq_pub_claim_hdrs(pub, NULL, 0, len, ret_buf);
}

int shmq_pub_commit(shmq_pub *pub, size_t len, uint64_t corr_id)
{
	int r;

	if (!pub || pub->claim_len == UINT32_MAX || len > pub->claim_len)
		return -EINVAL;
	r = commit_rec(pub, shmqi_slot_at(&pub->t, pub->claim_seq), pub->claim_seq, len,
		       pub->claim_hlen, corr_id, stamp_now(pub));
	pub->claim_len = UINT32_MAX;
	claim_done(pub);
	return r;
}

int shmq_pub_abort(shmq_pub *pub)
{
	struct shmqi_trec *rec;

	if (!pub || pub->claim_len == UINT32_MAX)
		return -EINVAL;
	rec = shmqi_slot_at(&pub->t, pub->claim_seq);
	if (still_ours(pub, rec, pub->claim_seq)) { /* else a finder skipped it already */
		/* R1: pairs with A1 in next_rec() and own_slot(): a skipped record is complete
		 * too (there is nothing to read). */
		atomic_store_explicit(&rec->stamp, SHMQI_STAMP(pub->claim_seq, SHMQI_STAMP_SKIPPED),
				      memory_order_release);
		atomic_fetch_add_explicit(&pub->t.ctl->skipped, 1, memory_order_relaxed);
	}
	pub->claim_len = UINT32_MAX;
	claim_done(pub);
	return 0;
}

/*
 * Room for one record? As a claim would judge it: the cached limit, else a scan of the
 * cursors, and on a full log the dead subscribers' entries freed (at most every 1 ms).
 */
static bool pub_ready(void *arg, bool thorough)
{
	shmq_pub *pub = arg;
	/* relaxed: a look; the claim that follows reads the tail again (claim_seqs()) */
	uint64_t tail = atomic_load_explicit(&pub->t.ctl->tail, memory_order_relaxed);

	/* A corrupt tail: let the send report it. */
	return tail == 0 || tail >= SHMQI_SEQ_MAX - 1 || room(pub, tail, 1) > 0;
}

/* The first @from watched subscribers are the ones still holding the log: close the rest. */
static void unwatch_from(shmq_pub *pub, unsigned from)
{
	for (; from < SHMQI_PEERS_MAX; from++)
		shmqi_pidfd_close(&pub->held_by[from]);
}

/*
 * While parked for room: the subscribers that hold the log full (a lap behind the tail) are
 * watched, up to what a park watches; their death ends the park, and the next look frees
 * their entries. More of them, or a consumer group holding the log (its members are judged
 * by the group), are looked at every shmqi_room_slice_ns instead.
 */
static bool pub_watch(void *arg, struct shmqi_peers *p)
{
	shmq_pub *pub = arg;
	struct shmqi_tmap *t = &pub->t;
	/* relaxed: a look at whom to watch; every judgement reads the owner again (O1) */
	uint64_t tail = atomic_load_explicit(&t->ctl->tail, memory_order_relaxed), c;
	unsigned n = 0, fds;
	uint32_t i;

	pub->watched = true;
	for (i = 0; i < t->max_subs; i++) {
		if (atomic_load_explicit(&t->subs[i].state, memory_order_relaxed) !=
		    SHMQI_SUB_ACTIVE)
			continue;
		c = atomic_load_explicit(&t->subs[i].cursor, memory_order_relaxed);
		if (c + t->slots > tail)
			continue; /* not holding us */
		if (n == SHMQI_PEERS_MAX) {
			shmqi_peers_look_every(p, shmqi_room_slice_ns);
			pub->watched = false;
			break;
		}
		if (pub->held_by_i[n] != i)
			shmqi_pidfd_close(&pub->held_by[n]);
		pub->held_by_i[n] = i;
		fds = p->n;
		if (!shmqi_watch_owner(&pub->held_by[n++], &t->subs[i].owner, p)) {
			pub->watched = false;
			return false;
		}
		if (p->n == fds) /* not watched by a pidfd: judged by looking */
			pub->watched = false;
	}
	unwatch_from(pub, n);
	for (i = 0; i < SHMQI_TOPIC_GATES; i++) {
		if (atomic_load_explicit(&t->gates[i].state, memory_order_relaxed) ==
			    SHMQI_GATE_ACTIVE &&
		    atomic_load_explicit(&t->gates[i].cursor, memory_order_relaxed) + t->slots <=
			    tail) {
			shmqi_peers_look_every(p, shmqi_room_slice_ns);
			pub->watched = false;
		}
	}
	return true;
}

static void pub_ended(void *arg)
{
	shmq_pub *pub = arg;

	pub->watched = false;
	pub->last_reap_ns = 0; /* the next look for room frees dead subscribers' entries */
}

static const struct shmqi_peer_ops pub_peers = { pub_watch, pub_ended };

int shmq_pub_wait(shmq_pub *pub, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmqi_waitable w;
	struct shmqi_tmap *t;
	int r;

	if (!pub)
		return -EINVAL;
	if (pub->claim_len != UINT32_MAX) /* the slowest subscriber may be waiting for it */
		return -EBUSY;
	t = &pub->t;
	if (t->policy == SHMQ_TOPIC_LOSSY)
		return 0;
	/* P1/W1 (wake.c) with shmqi_topic_room_made(): a cursor store, then a look for parked producers. */
	w = (struct shmqi_waitable){ .park_state = &t->ctl->room_park_state,
				     .w = &t->ctl->room,
				     .enabled = &pub->room_park_on,
				     .ready = pub_ready,
				     .arg = pub,
				     .peers = &pub_peers };
	r = shmqi_wait_on(&w, spin_ns, shmqi_deadline(timeout_ns), 0);
	pub->watched = false;
	return r;
}

/* Our bias, if we hold it, goes with our entry (before it is free for another). */
static void clear_bias(shmq_pub *pub)
{
	uint64_t w = pub->bias_tok;

	if (!pub->biased)
		return;
	/* release: our tail stores before it, for a producer that takes the word next */
	if (!atomic_compare_exchange_strong_explicit(&pub->t.ctl->bias, &w, 0, memory_order_release,
						     memory_order_relaxed))
		lose_bias(pub);
	pub->biased = false;
}

static void clear_exclusive(void *ctx, void *arg)
{
	const struct shmqi_tmap *t = ctx;

	(void)arg;
	/* X1: seq_cst as every access of exclusive_pid; done while our entry is still ours */
	atomic_store_explicit(&t->ctl->exclusive_pid, 0, memory_order_seq_cst);
}

void shmq_pub_close(shmq_pub *pub)
{
	if (!pub)
		return;
	if (shmqi_tmap_ours(&pub->t)) {
		if (pub->claim_len != UINT32_MAX)
			shmq_pub_abort(pub);
		clear_bias(pub);
		shmqi_topic_drop(&pub->t, &pub->me->owner, pub->exclusive ? clear_exclusive : NULL,
				 NULL);
		/* The last live one (entries dead producers left do not count): parked
		 * subscribers get -EPIPE. */
		if (shmqi_count_prods(&pub->t) == 0)
			shmqi_wait_close(&pub->t.ctl->wait, true);
	}
	unwatch_from(pub, 0);
	shmqi_seg_close(&pub->t.seg);
	free(pub);
}
