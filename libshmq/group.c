// SPDX-License-Identifier: MIT
/* group.c - consumer groups: a claim word, a lease table and an ack floor beside a topic. */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "group_internal.h"

/*
 * Ordering (docs/design.md, "Consumer groups"):
 * L1     a lease entry's fields (due_ns, first_ns, acquired, failed) belong to whoever CASed
 *        its word to BUSY or CLAIMING: it stores them after a release fence and ends with a
 *        release store (or CAS) of the next word. A reader loads the word (acquire), the
 *        fields, fences (acquire) and loads the word again: the same word twice means the
 *        fields are that word's, since every transition back to a state bumps the
 *        generation (8 bits: an ABA needs 256 transitions between the two loads).
 * L2     a lease's seq_cst store of LEASED or DELAYED then its seq_cst load of the due hint,
 *        against a scanner's seq_cst exchange of the hint then its seq_cst loads of the
 *        words: either the scanner sees the entry, or the entry's maker sees the reset hint
 *        and lowers it. The hint is never later than any lease's deadline or delayed
 *        record's due time, but for a scan in progress that will see them.
 * A1     a member's acquire load of a topic record's stamp (pairs with the producer's R1):
 *        the record is complete.
 * R2     the floor's release store into the topic's gate, after the floor's CAS that follows
 *        an acquire load of the entry at the floor showing DONE (pairs with that entry's
 *        release store): producers' A2 in gate_limit() see every record below it done with.
 * S1/F1  as a joining subscriber (topic_internal.h): the creator raises sub_start to the
 *        group's start, stores the gate's cursor (release) and its ACTIVE state (seq_cst),
 *        then loads the tail (seq_cst); records below that tail are checked after a copy
 *        (the guard), as a subscriber does.
 * F2     the DONE store or CAS that ends a lease, then the loads of the floor's entries in
 *        shmqi_group_advance(), all seq_cst: of two that end neighbouring records, one sees
 *        the other's DONE (a store-buffer pattern: release/acquire is not enough).
 * N1     the claim word @next only grows by CAS: a claimer first CASes the entry of record n
 *        to CLAIMING(n), then next from n to n + 1; anyone who finds the entry of n taken
 *        helps move next on, so a claimer that dies between the two CASes stalls nobody.
 */

#define JUDGE_NS 10000000ull /* members look for dead members at most this often */
#define POLL_CHECK_MASK 4095u /* a polling member looks at the tail every 4096th poll */

static inline uint64_t mkword(uint64_t seq, uint32_t gen, uint32_t holder, uint32_t state)
{
	return (seq & SHMQI_LSEQ_MASK) << 19 | (uint64_t)(gen & 0xff) << 11 |
	       (uint64_t)(holder & 0xff) << 3 | state;
}

static inline bool word_is(uint64_t w, uint64_t seq)
{
	return w != 0 && shmqi_lw_seq(w) == (seq & SHMQI_LSEQ_MASK);
}

static inline struct shmqi_lease *lease_at(const shmq_group *g, uint64_t seq)
{
	return &g->leases[seq & g->mask];
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Parked members look again: something became due, or the window has room. */
static void wake_members(const shmq_group *g)
{
	shmqi_notify(&g->t.ctl->park_state, &g->t.ctl->wait);
}

/* ---- the due hint (L2) ---- */

/*
 * The hint is a time in ns with bit 0 clear, or, while a scanner recomputes it, the time by
 * which the scan must be done with bit 0 set (HINT_SCAN): a scanner that dies leaves a hint
 * that comes due soon, and another scans again.
 */
#define HINT_SCAN 1u

static inline uint64_t hint_time(uint64_t h)
{
	return h & ~(uint64_t)HINT_SCAN;
}

/*
 * After a lease or delayed record with time @due became visible (seq_cst). A scan in
 * progress learns of it when its flag is gone (its final CAS fails), and the hint never
 * goes later than that scan's own deadline.
 */
static void lower_hint(shmq_group *g, uint64_t due)
{
	uint64_t h = atomic_load_explicit(&g->ctl->due_hint, memory_order_seq_cst), want;

	due = hint_time(due);
	for (;;) {
		if (h & HINT_SCAN)
			want = due < hint_time(h) ? due : hint_time(h);
		else if (due < h)
			want = due;
		else
			return;
		if (atomic_compare_exchange_weak_explicit(&g->ctl->due_hint, &h, want,
							  memory_order_seq_cst,
							  memory_order_relaxed))
			return;
	}
}

/* ---- the floor ---- */

/* R2: the floor moved to @f; producers held back by the gate may go on. */
static void publish_floor(shmq_group *g, uint64_t f)
{
	uint64_t c = atomic_load_explicit(&g->gate->cursor, memory_order_relaxed);

	/* A group deleted by force while we are attached: the gate may be another's now. */
	if (atomic_load_explicit(&g->gate->id, memory_order_relaxed) != g->ctl->gate_id)
		return;
	while (c < f &&
	       !atomic_compare_exchange_weak_explicit(&g->gate->cursor, &c, f, memory_order_release,
						      memory_order_relaxed))
		;
	shmqi_topic_room_made(&g->t);
}

/*
 * Does the gate need the floor now? The gate's cursor may lag the floor by up to an eighth
 * of the topic's slots: producers lose at most that much room, and the gate's line is not
 * written at every ack. It is published at once when the floor caught up with next
 * (nothing leased below it: no later ack would publish), or a producer is parked for room.
 */
/* Is a producer parked for room on the topic (then the gate moves at once)? */
static bool producers_parked(const shmq_group *g)
{
	const struct shmqi_topic *ctl = g->t.ctl;

	return atomic_load_explicit(&ctl->room_park_state, memory_order_relaxed) !=
		       SHMQI_PARK_OFF &&
	       atomic_load_explicit(&ctl->room.waiters, memory_order_relaxed) != 0;
}

static bool publish_due(const shmq_group *g, uint64_t f, uint64_t n)
{
	uint64_t c = atomic_load_explicit(&g->gate->cursor, memory_order_relaxed);

	return f >= n || f - c >= g->publish_every || producers_parked(g);
}

void shmqi_group_publish(shmq_group *g)
{
	publish_floor(g, atomic_load_explicit(&g->ctl->floor, memory_order_acquire));
}

/* Move the floor over done records. */
void shmqi_group_advance(shmq_group *g)
{
	uint64_t f = atomic_load_explicit(&g->ctl->floor, memory_order_acquire), f0 = f, n, w;

	n = atomic_load_explicit(&g->ctl->next, memory_order_acquire);
	while (f < n) {
		w = atomic_load_explicit(&lease_at(g, f)->word, memory_order_seq_cst); /* F2 */
		if (!word_is(w, f) || shmqi_lw_state(w) != SHMQI_LEASE_DONE)
			break;
		if (atomic_compare_exchange_strong_explicit(
			    &g->ctl->floor, &f, f + 1, memory_order_acq_rel, memory_order_acquire))
			f++;
	}
	if (f == f0)
		return;
	if (publish_due(g, f, n))
		publish_floor(g, f);
	if (n - f0 >= g->max_pending) /* the window was full: members may be parked on it */
		wake_members(g);
}

/* ---- ending a lease ---- */

/* We hold @e BUSY for record @s: it is done (acked, dead-lettered, dropped, skipped, lost). */
static void finish(shmq_group *g, struct shmqi_lease *e, uint64_t busy)
{
	/*
	 * L1: pairs with the loads of the word in shmqi_group_advance() and scans. F2: seq_cst,
	 * as the ack's CAS and the advance's loads: two that finish neighbouring records and
	 * each look at the other's entry (a store-buffer pattern) do not both miss the other's
	 * DONE, so the floor never lags a DONE record with nobody left to move it.
	 */
	atomic_store_explicit(&e->word, (busy & ~(uint64_t)7) | SHMQI_LEASE_DONE,
			      memory_order_seq_cst);
	shmqi_group_advance(g);
}

static uint64_t backoff_for(const shmq_group *g, uint32_t failed)
{
	uint64_t d = g->backoff_ns;
	uint32_t i;

	if (g->backoff_mult < 2) /* a constant delay: no loop over the failures */
		return d < g->backoff_max_ns ? d : g->backoff_max_ns;
	for (i = 1; i < failed && d < g->backoff_max_ns; i++)
		d = d > UINT64_MAX / g->backoff_mult ? UINT64_MAX : d * g->backoff_mult;
	return d < g->backoff_max_ns ? d : g->backoff_max_ns;
}

/* Delay a BUSY entry of record @s until @due: it is delivered again from then on. */
static void delay_entry(shmq_group *g, struct shmqi_lease *e, uint64_t busy, uint64_t due)
{
	atomic_store_explicit(&e->due_ns, due, memory_order_relaxed);
	/* L1, L2 */
	atomic_store_explicit(&e->word,
			      (busy & ~(uint64_t)0x7ff) | (uint64_t)SHMQI_LEASE_NOBODY << 3 |
				      SHMQI_LEASE_DELAYED,
			      memory_order_seq_cst);
	lower_hint(g, due);
	wake_members(g);
}

/*
 * A dead letter could not be published: the lease @tag we held BUSY is ours again, with its
 * deadline; stored seq_cst, and the hint lowered to it (L2), as a maker of a lease does.
 */
static void restore_lease(shmq_group *g, struct shmqi_lease *e, uint64_t tag)
{
	atomic_store_explicit(&e->word, tag, memory_order_seq_cst);
	lower_hint(g, atomic_load_explicit(&e->due_ns, memory_order_relaxed));
}

/*
 * We hold @e BUSY (word @busy) for record @s, after a failure (@inc 1) or a give-back (@inc
 * 0): delay it by @delay (SHMQ_GROUP_BACKOFF: the schedule), or dead-letter it once it has
 * failed max_deliveries times. If the dead letter cannot be published, @restore (non-zero)
 * is stored back and the error returned; without one the record is delayed by the backoff
 * and tried again then.
 */
static int end_failed(shmq_group *g, struct shmqi_lease *e, uint64_t s, uint64_t busy, uint32_t inc,
		      uint64_t delay, uint64_t restore)
{
	uint32_t failed = atomic_load_explicit(&e->failed, memory_order_relaxed) + inc;
	int r;

	atomic_store_explicit(&e->failed, failed, memory_order_relaxed);
	if (inc && g->max_deliveries && failed >= g->max_deliveries) {
		r = shmqi_group_dead_letter(g, e, s, busy, SHMQ_DLQ_MAX_DELIVERIES);
		if (r == 0) {
			finish(g, e, busy);
			return 0;
		}
		if (restore) {
			atomic_store_explicit(&e->failed, failed - inc, memory_order_relaxed);
			restore_lease(g, e, restore);
			return r;
		}
		delay = SHMQ_GROUP_BACKOFF;
	}
	if (delay == SHMQ_GROUP_BACKOFF)
		delay = backoff_for(g, failed);
	/* No delay: due at once, 0, not "now" on this process's clock, which may lie ahead of
	 * another member's (another clock mode): that one would take new records first. */
	delay_entry(g, e, busy, delay ? add_sat(shmqi_now_ns(), delay) : 0);
	return 0;
}

/* Take @e from @w to BUSY, held by us; L1's release fence follows. */
static bool take_busy(shmq_group *g, struct shmqi_lease *e, uint64_t w, uint64_t *ret_busy)
{
	uint64_t busy = (w & ~(uint64_t)0x7ff) | (uint64_t)g->idx << 3 | SHMQI_LEASE_BUSY;

	if (!atomic_compare_exchange_strong_explicit(&e->word, &w, busy, memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	atomic_thread_fence(memory_order_release); /* L1 */
	*ret_busy = busy;
	return true;
}

/* ---- dead members ---- */

/*
 * Every lease @holder holds, or is changing, goes back for redelivery: a failure when the
 * holder died (@failure), a give-back when it closes.
 */
static void help_next(shmq_group *g, uint64_t n);

void shmqi_group_recover(shmq_group *g, uint32_t holder, bool failure)
{
	uint64_t f = atomic_load_explicit(&g->ctl->floor, memory_order_acquire);
	uint64_t n = atomic_load_explicit(&g->ctl->next, memory_order_acquire), s, w, busy;
	struct shmqi_lease *e;
	uint32_t st;

	/*
	 * Up to next itself: a claimer that died between its CAS of the entry and its CAS of
	 * next (N1) left the entry of next CLAIMING; nobody else can claim it.
	 */
	for (s = f; s <= n && s - f <= g->max_pending; s++) {
		e = lease_at(g, s);
		w = atomic_load_explicit(&e->word, memory_order_acquire);
		st = shmqi_lw_state(w);
		if (!word_is(w, s) || shmqi_lw_holder(w) != holder ||
		    (st != SHMQI_LEASE_LEASED && st != SHMQI_LEASE_BUSY &&
		     st != SHMQI_LEASE_CLAIMING))
			continue;
		if (!take_busy(g, e, w, &busy))
			continue;
		if (st == SHMQI_LEASE_CLAIMING) { /* never delivered: as new */
			help_next(g, s); /* N1: a scan must see it below next */
			atomic_store_explicit(&e->acquired, 0, memory_order_relaxed);
			atomic_store_explicit(&e->failed, 0, memory_order_relaxed);
			atomic_store_explicit(&e->first_ns, 0, memory_order_relaxed);
			delay_entry(g, e, busy, 0);
			continue;
		}
		if (!failure)
			atomic_fetch_add_explicit(&g->ctl->released, 1, memory_order_relaxed);
		end_failed(g, e, s, busy, failure, 0, 0);
	}
}

void shmqi_group_fold(shmq_group *g, struct shmqi_member *m)
{
	atomic_fetch_add_explicit(&g->ctl->acked,
				  atomic_exchange_explicit(&m->acked, 0, memory_order_relaxed),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&g->ctl->delivered,
				  atomic_exchange_explicit(&m->delivered, 0, memory_order_relaxed),
				  memory_order_relaxed);
	atomic_store_explicit(&m->in_flight, 0, memory_order_relaxed);
}

struct recover_ctx {
	shmq_group *g;
	uint32_t idx;
};

static void clear_dead(void *ctx, void *arg)
{
	struct recover_ctx *c = ctx;

	(void)arg;
	shmqi_group_recover(c->g, c->idx, true);
	shmqi_group_fold(c->g, &c->g->members[c->idx]);
}

/*
 * A dead member's entry: take it, send its leases back, free it. A judge without an entry
 * of its own (shmq_group_reap()) marks what it takes BUSY with the dead member's index: the
 * entry is ours while we recover it (grabbed, O1), and if we die meanwhile, the next judge
 * finds it dead again and recovers those leases with the rest.
 */
static bool reap_member(void *arg, uint32_t i, uint64_t head)
{
	struct recover_ctx c = { .g = arg, .idx = i };

	if (!c.g->me)
		c.g->idx = i;
	return shmqi_owner_free(&c.g->members[i].owner, head, c.g->pid, clear_dead, &c, NULL);
}

uint32_t shmqi_group_judge(shmq_group *g, uint64_t now, bool force)
{
	if (!force && now - g->last_judge_ns < JUDGE_NS)
		return 0;
	g->last_judge_ns = now;
	return shmqi_owner_scan(g->members, sizeof(*g->members), g->max_members, false, reap_member,
				g);
}

uint32_t shmqi_group_reap(shmq_group *g)
{
	uint32_t n;

	assert(!g->me);
	n = shmqi_group_judge(g, shmqi_now_ns(), true);
	if (n == 0)
		return 0;
	/* Recovery woke them for each lease it put back already; this one makes sure every
	 * parked member has looked again once the judgement is over. */
	wake_members(g);
	return n;
}

/* ---- receiving ---- */

/* A leased record's payload, read from the topic: complete and intact? */
static int read_rec(const shmq_group *g, uint64_t s, const struct shmqi_trec **ret_rec)
{
	const struct shmqi_trec *rec = shmqi_slot_at(&g->t, s);
	/* A1: pairs with R1 of the record's producer. */
	uint64_t v = atomic_load_explicit(&rec->stamp, memory_order_acquire);

	if (v != SHMQI_STAMP(s, SHMQI_STAMP_COMMITTED))
		return -ESTALE; /* overwritten (lossy topics) or corrupt */
	if (!shmqi_trec_sane(rec->len, rec->flags, rec->flags ? rec->hdrs_len : 0, g->t.max_msg))
		return -EBADMSG;
	*ret_rec = rec;
	return 0;
}

/*
 * Was record @s left alone while we read it? Lossy topics: its stamp is unchanged (A4).
 * Reliable ones: the entry still shows @held, the lease (or BUSY hold) we read it under. A
 * producer rewrites the slot only once the floor passed @s, which needs the entry DONE
 * first; the payload it wrote after its release fence (R5) and our acquire fence after the
 * copy (A5) make that DONE visible to the load here, so an entry still ours means a copy
 * nobody wrote into. Records below the guard (claimed before the gate was up) are checked
 * against the tail instead, as a replaying subscriber's are.
 */
bool shmqi_group_intact(const shmq_group *g, uint64_t s, const struct shmqi_lease *e, uint64_t held)
{
	const struct shmqi_trec *rec = shmqi_slot_at(&g->t, s);

	atomic_thread_fence(memory_order_acquire);
	if (g->t.policy == SHMQ_TOPIC_LOSSY)
		return atomic_load_explicit(&rec->stamp, memory_order_relaxed) ==
		       SHMQI_STAMP(s, SHMQI_STAMP_COMMITTED);
	if (s >= g->guard)
		return atomic_load_explicit(&e->word, memory_order_relaxed) == held;
	return atomic_load_explicit(&g->t.ctl->tail, memory_order_relaxed) <= s + g->t.slots;
}

/*
 * Redeliver or expire what is due: a scan of the window, taking the hint to "none" first
 * and lowering it again to the earliest time it saw (L2). Delivers one record at most.
 * Return: 0 with @o filled, or -EAGAIN.
 */

/*
 * The leases this member holds: counted by the member alone (a plain store for the stats);
 * an expiry or a recovery by another member leaves it too high, until the member, at its
 * limit, counts what it really holds.
 */
static void set_in_flight(shmq_group *g, uint32_t n)
{
	g->in_flight = n;
	atomic_store_explicit(&g->me->in_flight, n, memory_order_relaxed);
}

/* A counter of our member entry: only we write it while we live (no atomic RMW needed). */
static inline void bump(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* One lease of ours less (it ended, by us); never below zero. */
static void lease_gone(shmq_group *g)
{
	if (g->in_flight)
		set_in_flight(g, g->in_flight - 1);
}

uint32_t shmqi_group_held(shmq_group *g)
{
	uint64_t f, n, s, w;
	uint32_t k = 0;

	f = atomic_load_explicit(&g->ctl->floor, memory_order_acquire);
	n = atomic_load_explicit(&g->ctl->next, memory_order_acquire);
	for (s = f; s < n && s - f < g->max_pending; s++) {
		w = atomic_load_explicit(&g->leases[s & g->mask].word, memory_order_acquire);
		k += word_is(w, s) && shmqi_lw_holder(w) == g->idx &&
		     shmqi_lw_state(w) == SHMQI_LEASE_LEASED;
	}
	set_in_flight(g, k);
	return k;
}

/* At the in-flight limit: count what we really hold (a count an expirer left wrong). */
static bool in_flight_ok(shmq_group *g, uint64_t now)
{
	if (g->in_flight < g->max_in_flight)
		return true;
	if (now - g->stuck_recount_ns < JUDGE_NS)
		return false;
	g->stuck_recount_ns = now;
	return shmqi_group_held(g) < g->max_in_flight;
}

static int take_due(shmq_group *g, uint64_t now, struct shmqi_glease *o)
{
	uint64_t h = atomic_load_explicit(&g->ctl->due_hint, memory_order_seq_cst);
	uint64_t f, n, s, w, w2, due, busy, min = UINT64_MAX, mine;
	struct shmqi_lease *e;
	int found = -EAGAIN;
	uint32_t st;

	mine = hint_time(add_sat(now, JUDGE_NS)) | HINT_SCAN;
	if (now < hint_time(h) ||
	    !atomic_compare_exchange_strong_explicit(&g->ctl->due_hint, &h, mine,
						     memory_order_seq_cst, memory_order_relaxed))
		return -EAGAIN;
	f = atomic_load_explicit(&g->ctl->floor, memory_order_acquire);
	n = atomic_load_explicit(&g->ctl->next, memory_order_acquire);
	for (s = f; s < n && s - f <= g->max_pending; s++) {
		e = lease_at(g, s);
		w = atomic_load_explicit(&e->word, memory_order_seq_cst);
		st = shmqi_lw_state(w);
		if (!word_is(w, s))
			continue;
		if (st == SHMQI_LEASE_CLAIMING) { /* its deadline is not out yet (L2): soon */
			min = now;
			continue;
		}
		if (st != SHMQI_LEASE_DELAYED && st != SHMQI_LEASE_LEASED)
			continue;
		due = atomic_load_explicit(&e->due_ns, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire); /* L1 */
		w2 = atomic_load_explicit(&e->word, memory_order_relaxed);
		if (w2 != w || found == 0) { /* changing, or one for the next call: soon */
			min = now;
			continue;
		}
		if (due > now) {
			min = due < min ? due : min;
			continue;
		}
		if (!take_busy(g, e, w, &busy)) {
			min = now;
			continue;
		}
		if (st == SHMQI_LEASE_LEASED) { /* the lease ran out */
			atomic_fetch_add_explicit(&g->ctl->expired, 1, memory_order_relaxed);
			end_failed(g, e, s, busy, 1, SHMQ_GROUP_BACKOFF, 0);
			continue;
		}
		shmqi_group_lease(g, e, s, busy, now, false, o);
		atomic_fetch_add_explicit(&g->ctl->redelivered, 1, memory_order_relaxed);
		found = 0;
	}
	if (found == 0 && o->deadline < min)
		min = o->deadline;
	/* Ours still: the time we found. Changed meanwhile: lower it to that (L2). */
	if (!atomic_compare_exchange_strong_explicit(&g->ctl->due_hint, &mine, hint_time(min),
						     memory_order_seq_cst, memory_order_relaxed))
		lower_hint(g, min);
	return found;
}

/*
 * Hand out the entry @e of record @s, which we hold BUSY or CLAIMING (word @busy), as a
 * lease of ours: its fields (@fresh: a first delivery's, none to read), then LEASED with a
 * new generation (L1, L2).
 */
void shmqi_group_lease(shmq_group *g, struct shmqi_lease *e, uint64_t s, uint64_t busy,
		       uint64_t now, bool fresh, struct shmqi_glease *o)
{
	uint32_t acq = fresh ? 1 : atomic_load_explicit(&e->acquired, memory_order_relaxed) + 1;
	uint64_t first = fresh ? 0 : atomic_load_explicit(&e->first_ns, memory_order_relaxed);
	uint64_t w;

	if (!first)
		first = now;
	o->deadline = add_sat(now, g->ack_wait_ns);
	o->failed = fresh ? 0 : atomic_load_explicit(&e->failed, memory_order_relaxed);
	atomic_store_explicit(&e->acquired, acq, memory_order_relaxed);
	atomic_store_explicit(&e->first_ns, first, memory_order_relaxed);
	atomic_store_explicit(&e->due_ns, o->deadline, memory_order_relaxed);
	if (fresh)
		atomic_store_explicit(&e->failed, 0, memory_order_relaxed);
	set_in_flight(g, g->in_flight + 1);
	w = mkword(s, shmqi_lw_gen(busy) + 1, g->idx, SHMQI_LEASE_LEASED);
	/* L1; L2: a first delivery's CLAIMING CAS (seq_cst) came first, a redelivery's BUSY
	 * CAS does not suffice, so its store is seq_cst. */
	atomic_store_explicit(&e->word, w,
			      shmqi_lw_state(busy) == SHMQI_LEASE_CLAIMING ? memory_order_release
									   : memory_order_seq_cst);
	o->seq = s;
	o->word = w;
	o->acquired = acq;
	o->first_ns = first;
}

/* Nothing committed at @n yet: after the claim timeout, skip a dead producer's record. */
static int not_ready(shmq_group *g, uint64_t n, uint64_t v, uint64_t now)
{
	uint64_t tail;

	if (++g->polls & POLL_CHECK_MASK)
		return -EAGAIN;
	/* A3 (topic_internal.h): a claimant of record n is visible once the tail passed it. */
	tail = atomic_load_explicit(&g->t.ctl->tail, memory_order_acquire);
	if (tail <= n) {
		g->stuck_seq = 0;
		return -EAGAIN;
	}
	if (g->stuck_seq != n) {
		g->stuck_seq = n;
		g->stuck_since_ns = now;
		return -EAGAIN;
	}
	if (now - g->stuck_since_ns < g->t.timeout_ns)
		return -EAGAIN;
	if (shmqi_skip_dead_claim(&g->t, n, v))
		return 0;
	g->stuck_since_ns = now;
	return -EAGAIN;
}

enum { NEW_DELIVER, NEW_SKIP, NEW_LOST };

/* What record @n of the topic is to the group; -EAGAIN when it is not there yet. */
static int classify(shmq_group *g, uint64_t n, uint64_t now)
{
	const struct shmqi_trec *rec;
	uint64_t v;

	for (;;) {
		rec = shmqi_slot_at(&g->t, n);
		/* A1: pairs with R1 of the producer of record n. */
		v = atomic_load_explicit(&rec->stamp, memory_order_acquire);
		if (v == SHMQI_STAMP(n, SHMQI_STAMP_COMMITTED))
			return NEW_DELIVER;
		if (v == SHMQI_STAMP(n, SHMQI_STAMP_SKIPPED))
			return NEW_SKIP;
		if (shmqi_stamp_seq(v) > n) /* lapped (lossy topics), or a corrupt stamp */
			return NEW_LOST;
		if (not_ready(g, n, v, now) < 0)
			return -EAGAIN;
	}
}

/* Room for one more lease: the window and this member's in-flight limit. */
static bool window_open(shmq_group *g, uint64_t n)
{
	uint64_t f = atomic_load_explicit(&g->ctl->floor, memory_order_acquire);

	if (n - f >= g->max_pending) {
		shmqi_group_advance(g);
		f = atomic_load_explicit(&g->ctl->floor, memory_order_acquire);
	}
	return n - f < g->max_pending;
}

/*
 * May the entry showing @w be claimed for record @n? Only in its first use (never written),
 * or when it shows the record a window earlier done: the floor passed that one. A claimer
 * whose @n went stale meanwhile finds a later record there, in whatever state.
 */
static bool reusable(const shmq_group *g, uint64_t w, uint64_t n)
{
	if (w == 0)
		return true;
	return shmqi_lw_state(w) == SHMQI_LEASE_DONE && n >= g->max_pending &&
	       shmqi_lw_seq(w) == ((n - g->max_pending) & SHMQI_LSEQ_MASK);
}

/* N1: next from @n to @n + 1, unless somebody did it already. */
static void help_next(shmq_group *g, uint64_t n)
{
	uint64_t cur = n; /* a failed CAS writes the current value here, never into @n */

	atomic_compare_exchange_strong_explicit(&g->ctl->next, &cur, n + 1, memory_order_acq_rel,
						memory_order_relaxed);
}

/*
 * Claim the next record never handed out (N1). Skipped and lost records are claimed and
 * done at once. Return: 0 with @o filled, or -EAGAIN, -EPROTO.
 */
static int take_new(shmq_group *g, uint64_t now, struct shmqi_glease *o)
{
	struct shmqi_lease *e;
	uint64_t n, w, busy;
	int kind;

	for (;;) {
		n = atomic_load_explicit(&g->ctl->next, memory_order_acquire);
		if (n >= SHMQI_SEQ_MAX)
			return -EPROTO;
		if (!window_open(g, n)) {
			atomic_fetch_add_explicit(&g->ctl->window_full, 1, memory_order_relaxed);
			return -EAGAIN;
		}
		kind = classify(g, n, now);
		if (kind < 0)
			return kind;
		e = lease_at(g, n);
		w = atomic_load_explicit(&e->word, memory_order_acquire);
		if (word_is(w, n)) { /* taken: help next on (N1) */
			help_next(g, n);
			continue;
		}
		if (!reusable(g, w, n)) {
			/* Our n is stale (next moved on, and the entry with it), or the entry is
			 * corrupt: only the first lets next move. */
			if (atomic_load_explicit(&g->ctl->next, memory_order_acquire) == n)
				return -EPROTO;
			continue;
		}
		busy = mkword(n, shmqi_lw_gen(w) + 1, g->idx, SHMQI_LEASE_CLAIMING);
		/* seq_cst: L2's store for a first delivery (its LEASED store is then a release). */
		if (!atomic_compare_exchange_strong_explicit(
			    &e->word, &w, busy, memory_order_seq_cst, memory_order_relaxed))
			continue;
		help_next(g, n);
		atomic_thread_fence(memory_order_release); /* L1 */
		if (kind == NEW_DELIVER) {
			shmqi_group_lease(g, e, n, busy, now, true, o);
			lower_hint(g, o->deadline);
			return 0;
		}
		atomic_fetch_add_explicit(kind == NEW_SKIP ? &g->ctl->skipped : &g->ctl->lost, 1,
					  memory_order_relaxed);
		finish(g, e, busy);
	}
}

int shmqi_group_next(shmq_group *g, struct shmqi_glease *o)
{
	uint64_t now = shmqi_now_ns();
	int r;

	shmqi_group_judge(g, now, false); /* a member at its limit still judges */
	if (!in_flight_ok(g, now)) {
		atomic_fetch_add_explicit(&g->ctl->window_full, 1, memory_order_relaxed);
		return -EAGAIN;
	}
	if (now >= hint_time(atomic_load_explicit(&g->ctl->due_hint, memory_order_relaxed))) {
		r = take_due(g, now, o);
		if (r != -EAGAIN)
			return r;
	}
	return take_new(g, now, o);
}

/* A leased record we cannot deliver (overwritten, corrupt): it is lost to the group. */
void shmqi_group_drop_lost(shmq_group *g, const struct shmqi_glease *o)
{
	struct shmqi_lease *e = lease_at(g, o->seq);
	uint64_t w = o->word, busy;

	if (!take_busy(g, e, w, &busy))
		return;
	lease_gone(g);
	atomic_fetch_add_explicit(&g->ctl->lost, 1, memory_order_relaxed);
	finish(g, e, busy);
}

static void info_of(const struct shmqi_glease *o, const struct shmqi_trec *rec, uint32_t len,
		    struct shmq_group_msg *m)
{
	m->seq = o->seq;
	m->ts_ns = rec->ts_ns;
	m->corr_id = rec->corr_id;
	m->producer_id = rec->producer_id;
	m->producer_seq = rec->producer_seq;
	m->len = len;
	m->attempt = o->acquired;
	m->failed = o->failed;
	m->first_ns = o->first_ns;
	m->lease = o->word;
}

/* Delivery latency of record @s, published at @ts_ns; its receive time kept for the ack. */
static void record_delivery(shmq_group *g, uint64_t s, uint64_t ts_ns)
{
	uint64_t now = shmq_now_ns(); /* ordered after our loads of the record */

	g->recv_ns[s & g->mask] = now;
	if (ts_ns) /* none without a publish time (SHMQ_OPEN_NO_TIMESTAMPS) */
		shmqi_lat_record(&g->lat, SHMQ_LATENCY_DELIVERY, (int64_t)(now - ts_ns));
}

/*
 * A leased record with headers may not be for now: expired ("shmq-expires" passed: dead-
 * lettered, or dropped and counted without a dead-letter topic), or early ("shmq-not-before"
 * to come: delayed until then, its delivery not counted, the records after it free to go).
 * Return: true when it was so taken out of this receive.
 */
static bool held_back(shmq_group *g, const struct shmqi_glease *o, const void *h, uint32_t hl)
{
	uint64_t now = shmqi_now_ns(), exp = shmqi_hdrs_when(h, hl, SHMQ_HDR_EXPIRES),
		 nb = shmqi_hdrs_when(h, hl, SHMQ_HDR_NOT_BEFORE), busy;
	struct shmqi_lease *e = lease_at(g, o->seq);
	bool expired = exp && now >= exp, too_far = nb > now && nb - now > SHMQ_MAX_DELAY_NS;

	if (!expired && nb <= now)
		return false;
	if (!take_busy(g, e, o->word, &busy))
		return true; /* no longer ours: whoever has it decides */
	lease_gone(g);
	if ((expired || too_far) &&
	    shmqi_group_dead_letter(g, e, o->seq, busy,
				    expired ? SHMQ_DLQ_EXPIRED : SHMQ_DLQ_DELAY) == 0) {
		finish(g, e, busy);
		return true;
	}
	if (expired || too_far) {
		/* Its dead letter refused (the dead-letter topic full): a failure, and a backoff;
		 * after max_deliveries of them it is dropped and counted, so that it cannot pin
		 * the floor for as long as the dead-letter topic refuses. L1: ours while BUSY. */
		uint32_t failed = atomic_load_explicit(&e->failed, memory_order_relaxed) + 1;

		atomic_store_explicit(&e->failed, failed, memory_order_relaxed);
		if (g->max_deliveries && failed >= g->max_deliveries) {
			atomic_fetch_add_explicit(&g->ctl->dropped, 1, memory_order_relaxed);
			finish(g, e, busy);
			return true;
		}
		delay_entry(g, e, busy, add_sat(now, backoff_for(g, failed)));
		return true;
	}
	/* early: held until its time; this handout does not count (L1: ours while BUSY) */
	atomic_store_explicit(&e->acquired, o->acquired - 1, memory_order_relaxed);
	if (o->acquired == 1)
		atomic_store_explicit(&e->first_ns, 0, memory_order_relaxed);
	delay_entry(g, e, busy, nb);
	return true;
}

/*
 * Lease the next due record and copy it into @m (or, @m->buf NULL and @peek set, point at
 * it). Return: its length, or -EAGAIN, -EMSGSIZE (leased all the same), -EPROTO.
 */
static int recv_one(shmq_group *g, struct shmq_group_rmsg *m, const void **peek, bool fit)
{
	const struct shmqi_trec *rec;
	struct shmqi_glease o;
	uint32_t len, flags, hlen;
	int r;

	for (;;) {
		r = shmqi_group_next(g, &o);
		if (r < 0)
			return r;
		r = read_rec(g, o.seq, &rec);
		if (r < 0) {
			shmqi_group_drop_lost(g, &o);
			continue;
		}
		len = rec->len;
		flags = rec->flags;
		hlen = flags ? rec->hdrs_len : 0;
		if (!shmqi_trec_sane(len, flags, hlen,
				     g->t.max_msg)) { /* changed since read_rec() */
			shmqi_group_drop_lost(g, &o);
			continue;
		}
		if (fit && len > m->cap) { /* recv_many: not this one; give it back */
			shmq_group_release(g, o.word);
			return -EMSGSIZE;
		}
		info_of(&o, rec, len, &m->info);
		g->hdrs.len = 0;
		if (peek) {
			*peek = shmqi_trec_data(rec, flags, hlen);
			shmqi_held_point(&g->hdrs, rec + 1, hlen);
		} else {
			if (len <= m->cap && len)
				memcpy(m->buf, shmqi_trec_data(rec, flags, hlen), len);
			if (hlen && shmqi_held_copy(&g->hdrs, rec + 1, hlen) < 0) {
				shmq_group_release(g, o.word);
				return -ENOMEM;
			}
		}
		if (!shmqi_group_intact(g, o.seq, lease_at(g, o.seq), o.word)) {
			shmqi_group_drop_lost(g, &o);
			continue;
		}
		if (hlen && held_back(g, &o, peek ? (const void *)(rec + 1) : g->hdrs.buf, hlen)) {
			g->hdrs.len = 0;
			continue;
		}
		bump(&g->me->delivered);
		if (g->recv_ns)
			record_delivery(g, o.seq, rec->ts_ns);
		if (!peek && len > m->cap)
			return -EMSGSIZE;
		return (int)len;
	}
}

static int recv_done(shmq_group *g, int r)
{
	struct shmqi_waitable w;

	if (r == -EAGAIN && g->fdring && shmqi_group_waitable(g, &w, NULL) == 0)
		shmqi_fdring_idle(g->fdring, &w);
	return r;
}

int shmq_group_recv(shmq_group *g, void *buf, size_t buf_len, struct shmq_group_msg *ret_info)
{
	struct shmq_group_rmsg m = { .buf = buf, .cap = buf_len };
	int r;

	if (!g || !ret_info || (!buf && buf_len))
		return -EINVAL;
	r = recv_one(g, &m, NULL, false);
	if (r >= 0 || r == -EMSGSIZE)
		*ret_info = m.info;
	return recv_done(g, r);
}

int shmq_group_peek(shmq_group *g, const void **ret_data, struct shmq_group_msg *ret_info)
{
	struct shmq_group_rmsg m = { 0 };
	const void *p;
	int r;

	if (!g || !ret_data || !ret_info)
		return -EINVAL;
	r = recv_one(g, &m, &p, false);
	if (r >= 0) {
		*ret_data = p;
		*ret_info = m.info;
	}
	return recv_done(g, r);
}

int shmq_group_recv_many(shmq_group *g, struct shmq_group_rmsg *msgs, size_t n)
{
	size_t i;
	int r = 0;

	if (!g || !msgs || n == 0 || n > INT32_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!msgs[i].buf && msgs[i].cap)
			return i ? (int)i : -EINVAL;
		r = recv_one(g, &msgs[i], NULL, i > 0);
		if (r < 0)
			break;
		if (g->hdrs.len) { /* only the last of a batch may have headers */
			i++;
			break;
		}
	}
	return i ? (int)i : recv_done(g, r);
}

/* ---- outcomes ---- */

/* The entry a tag of ours names, or NULL for a tag that is not a lease of ours. */
static struct shmqi_lease *tag_entry(shmq_group *g, uint64_t tag)
{
	if (shmqi_lw_state(tag) != SHMQI_LEASE_LEASED || shmqi_lw_holder(tag) != g->idx)
		return NULL;
	return &g->leases[shmqi_lw_seq(tag) & g->mask];
}

/* The full sequence number of a lease of ours, from its 45 bits and the window. */
static uint64_t tag_seq(const shmq_group *g, uint64_t tag)
{
	uint64_t f = atomic_load_explicit(&g->ctl->floor, memory_order_relaxed);
	uint64_t low = shmqi_lw_seq(tag);

	return (f & ~SHMQI_LSEQ_MASK) + low +
	       ((f & SHMQI_LSEQ_MASK) > low ? SHMQI_LSEQ_MASK + 1 : 0);
}

/* Take our lease @tag BUSY. Return: the entry, or NULL (-ESTALE). */
static struct shmqi_lease *take_ours(shmq_group *g, uint64_t tag, uint64_t *busy, int *err)
{
	struct shmqi_lease *e = g ? tag_entry(g, tag) : NULL;

	*err = -EINVAL;
	if (!e)
		return NULL;
	*err = -ESTALE;
	return take_busy(g, e, tag, busy) ? e : NULL;
}

int shmq_group_ack(shmq_group *g, uint64_t lease)
{
	struct shmqi_lease *e;
	uint64_t w = lease;

	if (!g)
		return -EINVAL;
	e = tag_entry(g, lease);
	if (!e)
		return -EINVAL;
	/* L1, F2 (finish()): pairs with the seq_cst loads in shmqi_group_advance(). */
	if (!atomic_compare_exchange_strong_explicit(&e->word, &w,
						     (lease & ~(uint64_t)7) | SHMQI_LEASE_DONE,
						     memory_order_seq_cst, memory_order_relaxed))
		return -ESTALE;
	lease_gone(g);
	bump(&g->me->acked);
	if (g->recv_ns)
		shmqi_lat_record(
			&g->lat, SHMQ_LATENCY_PROCESSING,
			(int64_t)(shmq_now_ns() - g->recv_ns[tag_seq(g, lease) & g->mask]));
	shmqi_group_advance(g);
	return 0;
}

/*
 * A lease of ours goes back for redelivery after @delay: a failure (@inc 1: nack) or not
 * (release); the record is dead-lettered instead once it failed max_deliveries times (if
 * that cannot be published, the lease stays ours and the error is returned).
 */
static int give_back(shmq_group *g, uint64_t lease, uint32_t inc, uint64_t delay,
		     _Atomic uint64_t *counter)
{
	struct shmqi_lease *e;
	uint64_t busy;
	int r;

	e = take_ours(g, lease, &busy, &r);
	if (!e)
		return r;
	r = end_failed(g, e, tag_seq(g, lease), busy, inc, delay, lease);
	if (r < 0)
		return r;
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
	lease_gone(g);
	return 0;
}

int shmq_group_nack(shmq_group *g, uint64_t lease, uint64_t delay_ns)
{
	return g ? give_back(g, lease, 1, delay_ns, &g->ctl->nacked) : -EINVAL;
}

int shmq_group_release(shmq_group *g, uint64_t lease)
{
	return g ? give_back(g, lease, 0, 0, &g->ctl->released) : -EINVAL;
}

int shmq_group_term(shmq_group *g, uint64_t lease)
{
	struct shmqi_lease *e;
	uint64_t busy;
	int r;

	e = take_ours(g, lease, &busy, &r);
	if (!e)
		return r;
	r = shmqi_group_dead_letter(g, e, tag_seq(g, lease), busy, SHMQ_DLQ_REJECTED);
	if (r < 0) {
		restore_lease(g, e, lease);
		return r;
	}
	atomic_fetch_add_explicit(&g->ctl->terminated, 1, memory_order_relaxed);
	lease_gone(g);
	finish(g, e, busy);
	return 0;
}

int shmq_group_extend(shmq_group *g, uint64_t *lease, uint64_t ns)
{
	struct shmqi_lease *e;
	uint64_t busy, due, w;
	int r;

	if (!g || !lease)
		return -EINVAL;
	e = take_ours(g, *lease, &busy, &r);
	if (!e)
		return r;
	due = add_sat(shmqi_now_ns(), ns ? ns : g->ack_wait_ns);
	atomic_store_explicit(&e->due_ns, due, memory_order_relaxed);
	w = mkword(shmqi_lw_seq(busy), shmqi_lw_gen(busy) + 1, g->idx, SHMQI_LEASE_LEASED);
	atomic_store_explicit(&e->word, w, memory_order_seq_cst); /* L1, L2 */
	lower_hint(g, due);
	*lease = w;
	return 0;
}

/* ---- waiting ---- */

/* Something for this member to do? A new record with room for it, or something due. */
static bool group_ready(void *arg, bool thorough)
{
	shmq_group *g = arg;
	uint64_t now = shmqi_now_ns(), n;

	if (thorough)
		shmqi_group_judge(g, now, false);
	if (!in_flight_ok(g, now))
		return false;
	if (now >= hint_time(atomic_load_explicit(&g->ctl->due_hint, memory_order_relaxed)))
		return true;
	n = atomic_load_explicit(&g->ctl->next, memory_order_acquire);
	if (!window_open(g, n))
		return false;
	if (thorough)
		g->polls |= POLL_CHECK_MASK; /* the next not_ready() looks at the tail */
	return classify(g, n, now) >= 0;
}

static bool owes(const shmq_group *g);

/* The topic's producers closed: is a record still owed (the rule of shmq_group_wait())? */
static bool group_owed(void *arg)
{
	return owes(arg);
}

int shmqi_group_waitable(shmq_group *g, struct shmqi_waitable *w, uint64_t *slice_ns)
{
	uint64_t now, due, s = JUDGE_NS;

	if (!g)
		return -EINVAL;
	*w = (struct shmqi_waitable){ .park_state = &g->t.ctl->park_state,
				      .w = &g->t.ctl->wait,
				      .enabled = &g->park_on,
				      .ready = group_ready,
				      .arg = g,
				      .fdring = &g->fdring,
				      .ignore_closed = g->ignore_closed,
				      .owed = group_owed };
	if (!slice_ns)
		return 0;
	/* Wake for dead members, dead producers' records, and the next due time. */
	if (g->t.timeout_ns < s)
		s = g->t.timeout_ns;
	now = shmqi_now_ns();
	due = hint_time(atomic_load_explicit(&g->ctl->due_hint, memory_order_relaxed));
	if (due > now && due - now < s)
		s = due - now;
	if (!*slice_ns || *slice_ns > s)
		*slice_ns = s;
	return 0;
}

static int group_fill(void *handle, struct shmqi_waitable *w, uint64_t *slice_ns)
{
	return shmqi_group_waitable(handle, w, slice_ns);
}

int shmq_group_fd(shmq_group *g)
{
	return shmqi_handle_fd(group_fill, g);
}

int shmq_group_prep_wait(shmq_group *g, struct io_uring_sqe *sqe, uint64_t user_data)
{
	return shmqi_handle_prep_wait(group_fill, g, sqe, user_data);
}

int shmq_group_wait_done(shmq_group *g)
{
	return shmqi_handle_wait_done(group_fill, g);
}

/* Does the group still owe anything: a record below the topic's tail not done? */
static bool owes(const shmq_group *g)
{
	uint64_t f = atomic_load_explicit(&g->ctl->floor, memory_order_acquire);

	return f < atomic_load_explicit(&g->t.ctl->tail, memory_order_acquire);
}

/*
 * The topic's producers are gone (-EPIPE from the wait), but records may still be owed:
 * delayed, or leased to another member that may give them back. Sleep a judge's slice (or
 * until the next due time) and look again. Return: 0 to wait again, or -EPIPE, -ETIMEDOUT.
 */
static int producers_gone(shmq_group *g, uint64_t deadline)
{
	struct timespec ts = { 0, (long)JUDGE_NS };
	uint64_t now = shmqi_mono_ns();

	if (!owes(g))
		return -EPIPE;
	if (now >= deadline)
		return -ETIMEDOUT;
	if (deadline - now < JUDGE_NS)
		ts.tv_nsec = (long)(deadline - now);
	nanosleep(&ts, NULL);
	return 0;
}

int shmq_group_wait(shmq_group *g, uint64_t spin_ns, uint64_t timeout_ns)
{
	uint64_t deadline = shmqi_deadline(timeout_ns), slice;
	struct shmqi_waitable w;
	int r;

	do {
		slice = 0;
		r = shmqi_group_waitable(g, &w, &slice);
		if (r < 0)
			return r;
		r = shmqi_wait_on(&w, spin_ns, deadline, slice);
	} while (r == -EPIPE && (r = producers_gone(g, deadline)) == 0);
	return r;
}

void shmqi_group_forget_closes(shmq_group *g)
{
	g->ignore_closed = shmqi_wait_close_seen(&g->t.ctl->wait);
}

int shmq_group_headers(const shmq_group *member, const void **ret_hdrs, size_t *ret_len)
{
	return member ? shmqi_held_get(&member->hdrs, ret_hdrs, ret_len) : -EINVAL;
}

void shmqi_group_rescan(shmq_group *g)
{
	if (atomic_load_explicit(&g->ctl->due_hint, memory_order_seq_cst) & HINT_SCAN)
		lower_hint(g, 0); /* a scan under way, or its scanner dead: scan again now */
}
