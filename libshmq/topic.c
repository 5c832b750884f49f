// SPDX-License-Identifier: MIT
/* topic.c - topics: a log of fixed-size slots written by many producers, read through cursors. */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "shm_layout.h"
#include "wait.h"

/*
 * Ordering (docs/design.md walks through it):
 * R1/A1  a producer's release store of COMMITTED into a slot's stamp, a subscriber's acquire
 *        load of it: the record's header and payload are complete once the stamp matches.
 * R2/A2  a subscriber's release store of its cursor, a producer's acquire load of it while
 *        scanning: the subscriber has finished reading every record before the cursor, so
 *        their slots may be rewritten (reliable topics).
 * R3/A3  a producer's relaxed stores of pending/pending_n before its claiming CAS on the tail
 *        (seq_cst, so release), the acquire load of the tail by whoever finds an uncommitted
 *        record: a claimant is always visible in the producer table.
 * R4/A4  lossy topics: a producer's store of WRITING into a stamp then a release fence,
 *        the subscriber's re-check of the stamp after an acquire fence: a seqlock, so a
 *        reader that a producer laps sees the change and never delivers a torn record.
 * R5/A5  reliable topics: the claiming CAS of the tail then a release fence before the
 *        payload stores; a replaying subscriber's acquire fence after its copy, then its
 *        load of the tail: a record whose next-lap claim is not visible was not touched.
 * S1     a joining subscriber's seq_cst store of ACTIVE then seq_cst load of the tail, against
 *        a producer's seq_cst loads of state in its scan then its seq_cst CAS of the tail:
 *        a producer that missed the joiner claims nothing past the joiner's starting tail
 *        plus one lap (docs/design.md: "joining a reliable topic").
 * F1     reliable topics: a joining subscriber raises ctl->sub_start to where its cursor
 *        starts before its first (release) cursor store and its S1 store of ACTIVE, and to
 *        where a "latest" start moved before any R2; a producer loads sub_start after the
 *        A2/S1 loads of its scan. A record below every ACTIVE cursor and at or above
 *        sub_start was passed, so finished, by every one of them (through A1 then R2): the
 *        producer owns the slot a lap later without loading its stamp (docs/design.md:
 *        "owning a slot unseen").
 */

#define REC_HDR ((uint32_t)sizeof(struct shmqi_trec))
#define SUBS_OFF 640u /* body at 128, control block 512 bytes */
#define POLL_CHECK_MASK 4095u /* a waiting subscriber looks at the tail every 4096th poll */
#define HEARTBEAT_EVERY 1024u /* records between heartbeats of a busy subscriber */
#define REAP_INTERVAL_NS 1000000ull /* a full producer checks liveness at most every 1 ms */

void (*shmqi_topic_test_hook)(int phase, uint64_t seq);
uint64_t shmqi_room_slice_ns = 10000000ull;

/* What both handles keep: the mapping and the configuration, read and checked once. */
struct topic_map {
	struct shmqi_seg seg;
	struct shmqi_topic *ctl;
	struct shmqi_sub_slot *subs;
	struct shmqi_prod_slot *prods;
	uint8_t *ring;
	uint64_t mask;
	uint32_t slots;
	uint32_t slot_size;
	uint32_t max_msg;
	uint32_t policy;
	uint32_t max_subs;
	uint32_t max_prods;
	uint64_t timeout_ns;
	int32_t pid; /* this process */
	uint64_t start_time; /* this process's start time */
	uint64_t head; /* our table entry's owner head, as our take left it */
};

struct shmq_pub {
	struct topic_map t;
	struct shmqi_prod_slot *me;
	uint32_t id;
	uint64_t pseq; /* next producer sequence */
	uint64_t limit; /* reliable: claims below this sequence need no scan */
	uint64_t free_from; /* reliable: claims from here to @limit own their slot unseen (F1) */
	uint64_t last_reap_ns;
	uint64_t claim_seq; /* the outstanding claim, when claim_len is not UINT32_MAX */
	uint32_t claim_len;
	bool unseen; /* the slot we own was taken without a look at its stamp (F1) */
	bool exclusive; /* the only producer: the tail is ours to store */
	bool room_park_on; /* this handle has seen parking for room switched on */
	uint64_t wait_since_ns; /* this call's first wait for a slot, 0 when none */
};

struct shmq_sub {
	struct topic_map t;
	struct shmqi_sub_slot *me;
	uint64_t cursor; /* next sequence to read */
	uint64_t shared_cursor; /* what me->cursor holds */
	uint64_t received, lost, skipped;
	uint64_t lost_before, skipped_before; /* since the last delivered record */
	uint64_t stuck_seq, stuck_since_ns;
	uint64_t guard; /* reliable: records below this are checked against the tail */
	uint64_t *peek_seqs; /* the records peeked since the last release */
	uint32_t peeked;
	uint32_t peek_cap;
	bool park_on; /* this handle has seen parking switched on */
	struct shmqi_fdring *fdring; /* shmq_sub_fd(), when asked for */
	unsigned polls;
	unsigned since_heartbeat;
};

static inline struct shmqi_trec *slot_at(const struct topic_map *t, uint64_t seq)
{
	return (struct shmqi_trec *)(t->ring + (seq & t->mask) * t->slot_size);
}

static inline uint64_t stamp_seq(uint64_t v)
{
	return v >> 2;
}

/* ---- configuration, layout and attach ---- */

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

static uint64_t prods_off(uint32_t max_subs)
{
	return SUBS_OFF + (uint64_t)max_subs * sizeof(struct shmqi_sub_slot);
}

static uint64_t ring_off(uint32_t max_subs, uint32_t max_prods)
{
	return round_up(prods_off(max_subs) + (uint64_t)max_prods * sizeof(struct shmqi_prod_slot),
			4096);
}

static uint32_t slot_size_for(uint32_t max_msg)
{
	return (uint32_t)round_up((uint64_t)REC_HDR + max_msg, 64);
}

static bool valid_shape(uint32_t slots, uint32_t max_msg, uint32_t subs, uint32_t prods)
{
	if (slots < 2 || slots > SHMQ_TOPIC_MAX_SLOTS || (slots & (slots - 1)))
		return false;
	if (max_msg > SHMQ_MAX_MSG_LIMIT)
		return false;
	if (subs < 1 || subs > SHMQ_TOPIC_MAX_SUBSCRIBERS)
		return false;
	if (prods < 1 || prods > SHMQ_TOPIC_MAX_PRODUCERS)
		return false;
	return (uint64_t)slots * slot_size_for(max_msg) <= SHMQ_MAX_CAPACITY;
}

static int resolve_cfg(const struct shmq_topic_config *in, struct shmq_topic_config *out)
{
	static const struct shmq_topic_config none;

	if (!in)
		in = &none;
	*out = *in;
	if (!out->slots)
		out->slots = SHMQ_TOPIC_DEFAULT_SLOTS;
	if (!out->max_msg)
		out->max_msg = SHMQ_TOPIC_DEFAULT_MAX_MSG;
	if (!out->mode)
		out->mode = SHMQ_DEFAULT_MODE;
	if (!out->max_subscribers)
		out->max_subscribers = SHMQ_TOPIC_DEFAULT_SUBSCRIBERS;
	if (!out->max_producers)
		out->max_producers = SHMQ_TOPIC_DEFAULT_PRODUCERS;
	if (!out->claim_timeout_ns)
		out->claim_timeout_ns = SHMQ_TOPIC_DEFAULT_CLAIM_TIMEOUT_NS;
	if (out->policy > SHMQ_TOPIC_LOSSY || out->mode > 0777)
		return -EINVAL;
	if (out->claim_timeout_ns < SHMQ_TOPIC_MIN_CLAIM_TIMEOUT_NS ||
	    out->claim_timeout_ns > SHMQ_TOPIC_MAX_CLAIM_TIMEOUT_NS)
		return -EINVAL;
	if (!valid_shape(out->slots, out->max_msg, out->max_subscribers, out->max_producers))
		return -EINVAL;
	return 0;
}

static int topic_init(struct shmqi_seg *seg, void *arg)
{
	const struct shmq_topic_config *cfg = arg;
	struct shmqi_seg_hdr *hdr = (struct shmqi_seg_hdr *)seg->base;
	struct shmqi_topic *ctl = (struct shmqi_topic *)(seg->base + SHMQI_TOPIC_BODY_OFF);

	/* Nobody else reads these until R0 in segment.c publishes the header. The file is
	 * fresh, so every table and slot is zero already. */
	hdr->body_off = SHMQI_TOPIC_BODY_OFF;
	ctl->slots = cfg->slots;
	ctl->slot_size = slot_size_for(cfg->max_msg);
	ctl->max_msg = cfg->max_msg;
	ctl->policy = cfg->policy;
	ctl->max_subs = cfg->max_subscribers;
	ctl->max_prods = cfg->max_producers;
	ctl->claim_timeout_ns = cfg->claim_timeout_ns;
	ctl->subs_off = SUBS_OFF;
	ctl->prods_off = prods_off(cfg->max_subscribers);
	ctl->ring_off = ring_off(cfg->max_subscribers, cfg->max_producers);
	atomic_store_explicit(&ctl->tail, 1, memory_order_relaxed);
	return 0;
}

static uint64_t seg_size(const struct shmq_topic_config *cfg)
{
	return ring_off(cfg->max_subscribers, cfg->max_producers) +
	       (uint64_t)cfg->slots * slot_size_for(cfg->max_msg);
}

/* Does the existing topic match what the caller asked for (non-zero fields only)? If not,
 * the detail names the first field that differs. */
static bool cfg_matches(const struct shmqi_topic *ctl, const struct shmq_topic_config *want)
{
	uint32_t has = ctl->policy; /* shared memory: read once */

	if (shmqi_cfg_differs("topic", "slots", ctl->slots, want->slots) ||
	    shmqi_cfg_differs("topic", "max_msg", ctl->max_msg, want->max_msg) ||
	    shmqi_cfg_differs("topic", "max_subscribers", ctl->max_subs, want->max_subscribers) ||
	    shmqi_cfg_differs("topic", "max_producers", ctl->max_prods, want->max_producers))
		return false;
	if (want->policy == has)
		return true;
	shmqi_detail("policy: topic is %s, asked %s", has ? "lossy" : "reliable",
		     want->policy ? "lossy" : "reliable");
	return false;
}

/* Everything the fast paths rely on is read once here, checked, and kept in the handle. */
static int check_topic(struct topic_map *t)
{
	const struct shmqi_seg_hdr *hdr = (const struct shmqi_seg_hdr *)t->seg.base;
	struct shmqi_topic copy;
	const struct shmqi_topic *ctl = &copy;

	if (hdr->body_off != SHMQI_TOPIC_BODY_OFF || t->seg.size < SUBS_OFF)
		return -EPROTO;
	/* One read of the configuration: a writer scribbling meanwhile cannot make the values
	 * used differ from the values checked. (Only the cold fields are read from it.) */
	memcpy(&copy, t->seg.base + SHMQI_TOPIC_BODY_OFF, offsetof(struct shmqi_topic, skipped));
	if (!valid_shape(ctl->slots, ctl->max_msg, ctl->max_subs, ctl->max_prods) ||
	    ctl->policy > SHMQ_TOPIC_LOSSY || ctl->slot_size != slot_size_for(ctl->max_msg))
		return -EPROTO;
	if (ctl->subs_off != SUBS_OFF || ctl->prods_off != prods_off(ctl->max_subs) ||
	    ctl->ring_off != ring_off(ctl->max_subs, ctl->max_prods) ||
	    ctl->ring_off + (uint64_t)ctl->slots * ctl->slot_size != t->seg.size)
		return -EPROTO;
	t->ctl = (struct shmqi_topic *)(t->seg.base + SHMQI_TOPIC_BODY_OFF);
	t->subs = (struct shmqi_sub_slot *)(t->seg.base + ctl->subs_off);
	t->prods = (struct shmqi_prod_slot *)(t->seg.base + ctl->prods_off);
	t->ring = t->seg.base + ctl->ring_off;
	t->slots = ctl->slots;
	t->mask = ctl->slots - 1;
	t->slot_size = ctl->slot_size;
	t->max_msg = ctl->max_msg;
	t->policy = ctl->policy;
	t->max_subs = ctl->max_subs;
	t->max_prods = ctl->max_prods;
	t->timeout_ns = ctl->claim_timeout_ns;
	if (t->timeout_ns < SHMQ_TOPIC_MIN_CLAIM_TIMEOUT_NS ||
	    t->timeout_ns > SHMQ_TOPIC_MAX_CLAIM_TIMEOUT_NS)
		return -EPROTO;
	return 0;
}

/* Open (maybe create) the topic's segment into @t; released with shmqi_seg_close(). */
static int map_topic(shmq_bus *bus, const char *name, unsigned flags,
		     const struct shmq_topic_config *cfg, struct topic_map *t)
{
	struct shmq_topic_config want;
	char path[SHMQI_PATH_MAX];
	unsigned seg_flags = 0;
	int r;

	shmqi_detail_clear();
	if ((flags & SHMQ_OPEN_EXCL) && !(flags & SHMQ_OPEN_CREATE))
		return -EINVAL;
	r = shmqi_seg_path(bus, name, path, sizeof(path));
	if (r == 0)
		r = resolve_cfg(cfg, &want);
	if (r < 0)
		return r;
	seg_flags |= (flags & SHMQ_OPEN_CREATE) ? SHMQI_SEG_CREATE : 0;
	seg_flags |= (flags & SHMQ_OPEN_EXCL) ? SHMQI_SEG_EXCL : 0;
	r = shmqi_seg_open(path, SHMQI_KIND_TOPIC, seg_size(&want), want.mode, seg_flags,
			   topic_init, &want, &t->seg);
	if (r < 0)
		return r;
	r = check_topic(t);
	if (r == 0 && cfg && !t->seg.created && !cfg_matches(t->ctl, cfg))
		r = -EBADE;
	if (r < 0) {
		shmqi_seg_close(&t->seg);
		return r;
	}
	t->pid = (int32_t)getpid();
	t->start_time = shmqi_proc_start(t->pid);
	return 0;
}

/* ---- slot ownership (producer and subscriber tables) ---- */

/* Entry @i of a table of 128-byte entries that each start with their owner. */
static inline struct shmqi_owner *owner_at(void *table, uint32_t i)
{
	static_assert(sizeof(struct shmqi_sub_slot) == sizeof(struct shmqi_prod_slot),
		      "one stride for both tables");
	return (struct shmqi_owner *)((uint8_t *)table + (size_t)i * sizeof(struct shmqi_sub_slot));
}

/*
 * Take a table entry: a free one (pid 0), else one whose owner is dead. Ownership is the
 * CAS of the head word (O1 in internal.h).
 */
static int take_entry(struct topic_map *t, void *table, uint32_t n, uint32_t *ret_i)
{
	struct shmqi_owner *o;
	uint64_t h;
	int32_t cur;
	uint32_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			o = owner_at(table, i);
			h = atomic_load_explicit(&o->head, memory_order_acquire);
			cur = shmqi_head_pid(h);
			if (pass == 0 ? cur != 0 : cur == 0 || shmqi_entry_alive(o, h))
				continue;
			if (shmqi_entry_grab(o, &h, t->pid) &&
			    shmqi_entry_set(o, &h, t->pid, t->start_time, shmqi_pidns())) {
				t->head = h;
				*ret_i = i;
				return 0;
			}
		}
	}
	return -EUSERS;
}

typedef void (*clear_fn)(const struct topic_map *t, void *arg);

/*
 * Free entry @o if its head is still @head: grab it, clear what it holds (@clear, may be
 * NULL) while it is still ours (only a judge that took us for dead could have taken it
 * meanwhile), then give it back. False if the head was another.
 */
static bool free_entry(const struct topic_map *t, struct shmqi_owner *o, uint64_t head,
		       clear_fn clear, void *arg)
{
	if (!shmqi_entry_grab(o, &head, t->pid))
		return false;
	if (clear && atomic_load_explicit(&o->head, memory_order_seq_cst) == head)
		clear(t, arg);
	shmqi_entry_set(o, &head, 0, 0, 0);
	return true;
}

/*
 * Give our entry up, if it is still ours: its head is still the one our take left (another
 * handle of this process that took it after us has another).
 */
static bool drop_entry(const struct topic_map *t, struct shmqi_owner *o, clear_fn clear, void *arg)
{
	return free_entry(t, o, t->head, clear, arg);
}

/* A forked child's copy of a handle gives up nothing of the parent's. */
static bool handle_is_ours(const struct topic_map *t)
{
	return getpid() == t->pid;
}

/* A subscriber moved on or stopped gating: producers parked for room may go on. */
static void room_made(const struct topic_map *t)
{
	shmqi_notify(&t->ctl->room_park_state, &t->ctl->room);
}

/* Between the two steps of freeing a subscriber's entry: it stops gating. */
static void clear_sub(const struct topic_map *t, void *arg)
{
	struct shmqi_sub_slot *s = arg;

	atomic_store_explicit(&s->state, SHMQI_SUB_FREE, memory_order_seq_cst);
	room_made(t);
}

/* Free the slot of a subscriber that died (its head @dead). */
static void reap_sub(const struct topic_map *t, struct shmqi_sub_slot *s, uint64_t dead)
{
	free_entry(t, &s->owner, dead, clear_sub, s);
}

/* ---- the claimant of an uncommitted record ---- */

/*
 * Is a live producer still working on record @seq? Its claim is in the producer table
 * (R3/A3: the caller saw the tail past @seq, so the claim's pending entry is visible
 * unless the claimant has finished and moved on).
 */
static bool claimant_alive(const struct topic_map *t, uint64_t seq)
{
	struct shmqi_prod_slot *p;
	uint64_t first, h;
	uint32_t i, n;

	for (i = 0; i < t->max_prods; i++) {
		p = &t->prods[i];
		h = atomic_load_explicit(&p->owner.head, memory_order_acquire);
		first = atomic_load_explicit(&p->pending, memory_order_acquire);
		n = atomic_load_explicit(&p->pending_n, memory_order_relaxed);
		if (shmqi_head_pid(h) == 0 || first == 0 || seq - first >= n)
			continue;
		if (shmqi_entry_alive(&p->owner, h))
			return true;
	}
	return false;
}

/*
 * Turn record @seq, whose slot still shows @v, into a skipped record unless a live
 * producer claims it. Return: true when the stamp changed (skipped here or elsewhere).
 */
/*
 * Is anyone alive still entitled to the slot that shows @v, on the way to record @seq?
 * Every record of this slot after the one @v finished (from the one @v shows, if it is
 * still being written) up to @seq: a live claimant of any of them may be writing it
 * (reliable topics mark nothing while writing). Records are looked at a lap apart; past
 * 64 laps (only a corrupt stamp says that) the answer is yes, to be safe.
 */
static bool slot_claimed(const struct topic_map *t, uint64_t seq, uint64_t v)
{
	uint64_t from = stamp_seq(v) + ((v & 3) == SHMQI_STAMP_WRITING ? 0 : t->slots);
	unsigned laps = 0;

	if (v == 0 || from > seq) /* never written, or corrupt: only @seq's claim counts */
		from = seq;
	for (; from <= seq; from += t->slots) {
		if (++laps > 64 || claimant_alive(t, from))
			return true;
	}
	return false;
}

static bool skip_dead_claim(const struct topic_map *t, uint64_t seq, uint64_t v)
{
	struct shmqi_trec *rec = slot_at(t, seq);

	if (slot_claimed(t, seq, v))
		return false;
	if (atomic_compare_exchange_strong_explicit(&rec->stamp, &v,
						    SHMQI_STAMP(seq, SHMQI_STAMP_SKIPPED),
						    memory_order_acq_rel, memory_order_relaxed))
		atomic_fetch_add_explicit(&t->ctl->skipped, 1, memory_order_relaxed);
	return true;
}

/* ---- producers ---- */

static uint32_t count_prods(const struct topic_map *t);

#define PUB_FLAGS (SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | SHMQ_PUB_EXCLUSIVE)

static int join_producers(shmq_pub *pub)
{
	struct topic_map *t = &pub->t;
	struct shmqi_prod_slot *p;
	uint32_t i, id;
	int r;

	r = take_entry(t, t->prods, t->max_prods, &i);
	if (r < 0)
		return r;
	p = &t->prods[i];
	atomic_store_explicit(&p->pending, 0, memory_order_relaxed);
	atomic_store_explicit(&p->published, 0, memory_order_relaxed);
	do /* 0 is never an id: it means "none" */
		id = atomic_fetch_add_explicit(&t->ctl->next_producer_id, 1, memory_order_relaxed) +
		     1;
	while (id == 0);
	atomic_store_explicit(&p->id, id, memory_order_relaxed);
	pub->me = p;
	pub->id = id;
	pub->pseq = 1;
	pub->claim_len = UINT32_MAX;
	pub->free_from = UINT64_MAX; /* until a scan of the gate says otherwise */
	return 0;
}

static bool other_producer(const struct topic_map *t, const struct shmqi_prod_slot *me)
{
	uint32_t i;
	uint64_t h;

	for (i = 0; i < t->max_prods; i++) {
		/* X1: pairs with the seq_cst head CAS in take_entry() of another producer. */
		h = atomic_load_explicit(&t->prods[i].owner.head, memory_order_seq_cst);
		if (&t->prods[i] != me && shmqi_head_pid(h) != 0 &&
		    shmqi_entry_alive(&t->prods[i].owner, h))
			return true;
	}
	return false;
}

/*
 * X1: an exclusive producer stores exclusive_pid, then looks for other producers; any other
 * producer takes its table entry, then looks at exclusive_pid; all seq_cst, so at least
 * one of two racing openers sees the other (both may give up: -EBUSY).
 */
/*
 * Is the exclusive producer @pid still open? Judged through its producer entry, any but
 * ours (@me): an entry of ours says nothing about it, even with its pid, which may be ours
 * now that it died.
 */
static bool exclusive_alive(const struct topic_map *t, const struct shmqi_prod_slot *me,
			    int32_t pid)
{
	uint32_t i;
	uint64_t h;

	if (pid == 0)
		return false;
	for (i = 0; i < t->max_prods; i++) {
		if (&t->prods[i] == me)
			continue;
		h = atomic_load_explicit(&t->prods[i].owner.head, memory_order_acquire);
		if (shmqi_head_pid(h) == pid && shmqi_entry_alive(&t->prods[i].owner, h))
			return true;
	}
	return false;
}

static int check_exclusive(shmq_pub *pub, bool want)
{
	struct shmqi_topic *ctl = pub->t.ctl;
	int32_t cur = atomic_load_explicit(&ctl->exclusive_pid, memory_order_seq_cst);

	if (!want)
		return exclusive_alive(&pub->t, pub->me, cur) ? -EBUSY : 0;
	if (exclusive_alive(&pub->t, pub->me, cur))
		return -EBUSY;
	if (!atomic_compare_exchange_strong_explicit(&ctl->exclusive_pid, &cur, pub->t.pid,
						     memory_order_seq_cst, memory_order_relaxed))
		return -EBUSY;
	if (other_producer(&pub->t, pub->me)) {
		atomic_store_explicit(&ctl->exclusive_pid, 0, memory_order_seq_cst);
		return -EBUSY;
	}
	pub->exclusive = true;
	return 0;
}

int shmq_pub_open(shmq_bus *bus, const char *name, unsigned flags,
		  const struct shmq_topic_config *cfg, shmq_pub **ret_pub)
{
	shmq_pub *pub;
	int r;

	if (!ret_pub || (flags & ~PUB_FLAGS))
		return -EINVAL;
	pub = calloc(1, sizeof(*pub));
	if (!pub)
		return -ENOMEM;
	r = map_topic(bus, name, flags, cfg, &pub->t);
	if (r < 0)
		goto err_free;
	r = join_producers(pub);
	if (r < 0)
		goto err_close;
	r = check_exclusive(pub, flags & SHMQ_PUB_EXCLUSIVE);
	if (r < 0)
		goto err_drop;
	shmqi_wait_close(&pub->t.ctl->wait, false);
	*ret_pub = pub;
	return 0;

err_drop:
	drop_entry(&pub->t, &pub->me->owner, NULL, NULL);
err_close:
	shmqi_seg_close(&pub->t.seg);
err_free:
	free(pub);
	return r;
}

uint32_t shmq_pub_id(const shmq_pub *pub)
{
	return pub ? pub->id : 0;
}

/* Subscribers whose owner died stop gating: free their slots. Rate-limited by the caller. */
static void reap_dead_subs(const struct topic_map *t)
{
	struct shmqi_sub_slot *s;
	uint32_t i;
	uint64_t h;
	int32_t pid;

	for (i = 0; i < t->max_subs; i++) {
		s = &t->subs[i];
		h = atomic_load_explicit(&s->owner.head, memory_order_acquire);
		pid = shmqi_head_pid(h);
		/* Our own pid too: it may be a dead subscriber's, reused by us. */
		if (pid != 0 && !shmqi_entry_alive(&s->owner, h))
			reap_sub(t, s, h);
	}
}

/*
 * The first sequence that claims must stay below: the slowest active cursor plus a lap.
 * Also where claims start to own their slot unseen (F1): a lap past the highest start of
 * any subscriber; never, when none is active.
 */
static uint64_t gate_limit(const struct topic_map *t, uint64_t tail, uint64_t *ret_free_from)
{
	uint64_t min = UINT64_MAX, c, now, start;
	uint32_t i;

	for (i = 0; i < t->max_subs; i++) {
		/* S1: pairs with the joiner's seq_cst store of ACTIVE in join_subscribers(). */
		if (atomic_load_explicit(&t->subs[i].state, memory_order_seq_cst) !=
		    SHMQI_SUB_ACTIVE)
			continue;
		/* A2: pairs with R2 in publish_cursor(): slots before c are read. */
		c = atomic_load_explicit(&t->subs[i].cursor, memory_order_acquire);
		if (c < min)
			min = c;
	}
	/* F1: after the loads above, so at least the start of every subscriber they saw. */
	start = atomic_load_explicit(&t->ctl->sub_start, memory_order_relaxed);
	*ret_free_from = min != UINT64_MAX && start < SHMQI_SEQ_MAX ? start + t->slots : UINT64_MAX;
	/* S1: a tail read after the state loads (seq_cst), never one read before them. */
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
		now = shmqi_now_ns();
		if (now - pub->last_reap_ns < REAP_INTERVAL_NS)
			return 0;
		pub->last_reap_ns = now;
		reap_dead_subs(&pub->t);
		pub->limit = gate_limit(&pub->t, tail, &pub->free_from);
		if (pub->limit <= tail)
			return 0;
	}
	return pub->limit - tail < n ? pub->limit - tail : n;
}

/* Claim up to @n consecutive sequences with one CAS on the tail. */
static inline int claim_seqs(shmq_pub *pub, uint64_t n, uint64_t *ret_first, uint64_t *ret_n)
{
	struct shmqi_topic *ctl = pub->t.ctl;
	uint64_t t = atomic_load_explicit(&ctl->tail, memory_order_relaxed);
	uint64_t k;

	for (;;) {
		if (t == 0 || t >= SHMQI_SEQ_MAX - n) {
			atomic_store_explicit(&pub->me->pending, 0, memory_order_relaxed);
			return -EPROTO;
		}
		k = pub->t.policy == SHMQ_TOPIC_LOSSY ? n : room(pub, t, n);
		if (k == 0) {
			/* A claim that lost its CAS must not look like ours to a finder. */
			atomic_store_explicit(&pub->me->pending, 0, memory_order_relaxed);
			return -EAGAIN;
		}
		/* R3: ordered before the claim by its release; pairs with A3. */
		atomic_store_explicit(&pub->me->pending_n, (uint32_t)k, memory_order_relaxed);
		atomic_store_explicit(&pub->me->pending, t, memory_order_relaxed);
		if (pub->exclusive) { /* nobody else stores the tail (X1) */
			atomic_store_explicit(&ctl->tail, t + k, memory_order_release);
			break;
		}
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
static bool slot_free_for(const struct topic_map *t, uint64_t v, uint64_t seq)
{
	if (seq <= t->slots)
		return stamp_seq(v) < seq;
	return stamp_seq(v) == seq - t->slots && (v & 3) >= SHMQI_STAMP_COMMITTED;
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
	    skip_dead_claim(&pub->t, seq - pub->t.slots, v))
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
	const struct shmqi_prod_slot *me = pub->me;
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
	v = atomic_load_explicit(&rec->stamp, memory_order_relaxed);
	if (pub->t.policy == SHMQ_TOPIC_LOSSY)
		return v == SHMQI_STAMP(seq, SHMQI_STAMP_WRITING);
	return stamp_seq(v) < seq;
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
	struct shmqi_trec *rec = slot_at(&pub->t, seq);
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
		if (stamp_seq(v) >= seq)
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
		/* Release: whoever sees WRITING(seq) also sees the tail past seq. */
		atomic_store_explicit(&rec->stamp, v, memory_order_release);
	}
owned:
	/* R4 (pairs with A4), R5 (pairs with A5): the payload stores below become visible
	 * after WRITING and after the claiming CAS of the tail. */
	atomic_thread_fence(memory_order_release);
	*ret_rec = rec;
	return 0;
}

static void hook(int phase, uint64_t seq)
{
	if (shmqi_topic_test_hook)
		shmqi_topic_test_hook(phase, seq);
}

/* Fill the header of an owned slot and publish the record. */
static int commit_rec(shmq_pub *pub, struct shmqi_trec *rec, uint64_t seq, size_t len,
		      uint64_t corr_id, uint64_t ts)
{
	if (!still_ours(pub, rec, seq))
		return -ESTALE;
	rec->ts_ns = ts;
	rec->producer_seq = pub->pseq++;
	rec->corr_id = corr_id;
	rec->len = (uint32_t)len;
	rec->producer_id = pub->id;
	rec->flags = 0;
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

/* Write one claimed record. */
static int put_rec(shmq_pub *pub, uint64_t seq, const struct shmq_pub_msg *m, uint64_t ts)
{
	struct shmqi_trec *rec;
	int r;

	hook(0, seq);
	r = own_slot(pub, seq, &rec);
	if (r < 0)
		return r;
	hook(1, seq);
	if (!still_ours(pub, rec, seq))
		return -ESTALE;
	if (m->len)
		memcpy(rec + 1, m->data, m->len);
	return commit_rec(pub, rec, seq, m->len, m->corr_id, ts);
}

/*
 * A claimed record we will not write: mark it skipped now if its slot is free, else leave
 * it to whoever waits there (our claim is done, so it is skipped after the timeout).
 */
static void give_up(shmq_pub *pub, uint64_t seq)
{
	struct shmqi_trec *rec = slot_at(&pub->t, seq);
	uint64_t v = atomic_load_explicit(&rec->stamp, memory_order_acquire);

	if (stamp_seq(v) >= seq || !slot_free_for(&pub->t, v, seq))
		return;
	if (atomic_compare_exchange_strong_explicit(&rec->stamp, &v,
						    SHMQI_STAMP(seq, SHMQI_STAMP_SKIPPED),
						    memory_order_acq_rel, memory_order_relaxed))
		atomic_fetch_add_explicit(&pub->t.ctl->skipped, 1, memory_order_relaxed);
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
	r = claim_seqs(pub, n, &first, &k);
	if (r < 0)
		return r;
	ts = shmqi_now_ns();
	for (i = 0; i < k; i++) {
		r = put_rec(pub, first + i, &msgs[i], ts);
		if (r < 0)
			break;
	}
	for (e = (int)i + 1; (uint64_t)e < k; e++) /* a prefix is published, never more */
		give_up(pub, first + (uint64_t)e);
	claim_done(pub);
	return i ? (int)i : r;
}

/* The one-record case of shmq_pub_send_many(), kept apart because it is the hot path. */
int shmq_pub_send(shmq_pub *pub, const void *data, size_t len, uint64_t corr_id)
{
	struct shmq_pub_msg m = { .data = data, .len = len, .corr_id = corr_id };
	uint64_t seq, k;
	int r;

	r = check_pub(pub);
	if (r < 0)
		return r;
	if (len > pub->t.max_msg)
		return -EMSGSIZE;
	if (!data && len)
		return -EINVAL;
	r = claim_seqs(pub, 1, &seq, &k);
	if (r < 0)
		return r;
	r = put_rec(pub, seq, &m, shmqi_now_ns());
	claim_done(pub);
	return r;
}

int shmq_pub_claim(shmq_pub *pub, size_t len, void **ret_buf)
{
	struct shmqi_trec *rec;
	uint64_t seq, k;
	int r;

	r = check_pub(pub);
	if (r < 0)
		return r;
	if (!ret_buf)
		return -EINVAL;
	if (len > pub->t.max_msg)
		return -EMSGSIZE;
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
	*ret_buf = rec + 1;
	return 0;
}

int shmq_pub_commit(shmq_pub *pub, size_t len, uint64_t corr_id)
{
	int r;

	if (!pub || pub->claim_len == UINT32_MAX || len > pub->claim_len)
		return -EINVAL;
	r = commit_rec(pub, slot_at(&pub->t, pub->claim_seq), pub->claim_seq, len, corr_id,
		       shmqi_now_ns());
	pub->claim_len = UINT32_MAX;
	claim_done(pub);
	return r;
}

int shmq_pub_abort(shmq_pub *pub)
{
	struct shmqi_trec *rec;

	if (!pub || pub->claim_len == UINT32_MAX)
		return -EINVAL;
	rec = slot_at(&pub->t, pub->claim_seq);
	if (still_ours(pub, rec, pub->claim_seq)) { /* else a finder skipped it already */
		/* R1: a skipped record is complete too (there is nothing to read). */
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
	uint64_t tail = atomic_load_explicit(&pub->t.ctl->tail, memory_order_relaxed);

	/* A corrupt tail: let the send report it. */
	return tail == 0 || tail >= SHMQI_SEQ_MAX - 1 || room(pub, tail, 1) > 0;
}

int shmq_pub_wait(shmq_pub *pub, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct topic_map *t;

	if (!pub)
		return -EINVAL;
	if (pub->claim_len != UINT32_MAX) /* the slowest subscriber may be waiting for it */
		return -EBUSY;
	t = &pub->t;
	if (t->policy == SHMQ_TOPIC_LOSSY)
		return 0;
	/* P1/W1 (wake.c) with room_made(): a cursor store, then a look for parked producers. */
	return shmqi_wait_until(&t->ctl->room_park_state, &t->ctl->room, &pub->room_park_on,
				pub_ready, pub, spin_ns, shmqi_deadline(timeout_ns),
				shmqi_room_slice_ns);
}

static void clear_exclusive(const struct topic_map *t, void *arg)
{
	(void)arg;
	atomic_store_explicit(&t->ctl->exclusive_pid, 0, memory_order_seq_cst);
}

void shmq_pub_close(shmq_pub *pub)
{
	if (!pub)
		return;
	if (handle_is_ours(&pub->t)) {
		if (pub->claim_len != UINT32_MAX)
			shmq_pub_abort(pub);
		drop_entry(&pub->t, &pub->me->owner, pub->exclusive ? clear_exclusive : NULL, NULL);
		/* The last live one (entries dead producers left do not count): parked
		 * subscribers get -EPIPE. */
		if (count_prods(&pub->t) == 0)
			shmqi_wait_close(&pub->t.ctl->wait, true);
	}
	shmqi_seg_close(&pub->t.seg);
	free(pub);
}

/* ---- subscribers ---- */

#define SUB_START (SHMQ_SUB_LATEST | SHMQ_SUB_EARLIEST | SHMQ_SUB_FROM_SEQ)
#define SUB_FLAGS (SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | SUB_START)

static uint64_t oldest_retained(const struct topic_map *t, uint64_t tail)
{
	return tail > t->slots ? tail - t->slots : 1;
}

/* Where a new cursor starts, given the tail; records asked for but gone count as lost. */
static uint64_t start_seq(shmq_sub *sub, unsigned flags, uint64_t from, uint64_t tail)
{
	uint64_t oldest = oldest_retained(&sub->t, tail);

	if (flags & SHMQ_SUB_EARLIEST)
		return oldest;
	if (!(flags & SHMQ_SUB_FROM_SEQ))
		return tail;
	if (from >= oldest)
		return from;
	sub->lost = sub->lost_before = oldest - from;
	return oldest;
}

/*
 * No producer may take a record at or above @start, and below our cursor, as passed by us:
 * records claimed before we joined may still be being written (F1). Ordered before S1 or
 * R2 by the caller; a relaxed RMW of a word that only grows.
 */
static void raise_start(const struct topic_map *t, uint64_t start)
{
	uint64_t cur = atomic_load_explicit(&t->ctl->sub_start, memory_order_relaxed);

	while (cur < start &&
	       !atomic_compare_exchange_weak_explicit(&t->ctl->sub_start, &cur, start,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

static int join_subscribers(shmq_sub *sub, unsigned flags, uint64_t from)
{
	struct topic_map *t = &sub->t;
	struct shmqi_sub_slot *s;
	uint64_t tail;
	uint32_t i;
	int r;

	r = take_entry(t, t->subs, t->max_subs, &i);
	if (r < 0)
		return r;
	s = sub->me = &t->subs[i];
	atomic_store_explicit(&s->heartbeat_ns, shmqi_now_ns(), memory_order_relaxed);
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_acquire);
	sub->cursor = start_seq(sub, flags, from, tail);
	atomic_store_explicit(&s->received, 0, memory_order_relaxed);
	atomic_store_explicit(&s->lost, sub->lost, memory_order_relaxed);
	atomic_store_explicit(&s->skipped, 0, memory_order_relaxed);
	/*
	 * F1: raised before any cursor of ours is visible. The entry may still be ACTIVE for a
	 * dead owner we took it from, so a scan can read this cursor before our S1; it then
	 * reads it with acquire (A2), which this release pairs with.
	 */
	raise_start(t, sub->cursor);
	atomic_store_explicit(&s->cursor, sub->cursor, memory_order_release);
	/* S1: pairs with the seq_cst state loads in gate_limit(). */
	atomic_store_explicit(&s->state, SHMQI_SUB_ACTIVE, memory_order_seq_cst);
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_seq_cst);
	/* A producer that scanned before us claims below tail + slots: "latest" starts here. */
	if (!(flags & (SHMQ_SUB_EARLIEST | SHMQ_SUB_FROM_SEQ)) && tail > sub->cursor) {
		sub->cursor = tail;
		raise_start(t, tail); /* F1: before R2 publishes any cursor past the first */
	}
	/* Producers that scanned before S1 may still overwrite records below the tail. */
	sub->guard = tail;
	sub->shared_cursor = 0;
	/* A dead owner's cursor we replaced may have been what held producers back. */
	room_made(t);
	return 0;
}

int shmq_sub_open(shmq_bus *bus, const char *name, unsigned flags,
		  const struct shmq_topic_config *cfg, uint64_t from_seq, shmq_sub **ret_sub)
{
	unsigned start = flags & SUB_START;
	shmq_sub *sub;
	int r;

	if (!ret_sub || (flags & ~SUB_FLAGS) || (start & (start - 1)))
		return -EINVAL;
	if ((start == SHMQ_SUB_FROM_SEQ) != (from_seq != 0) || from_seq >= SHMQI_SEQ_MAX)
		return -EINVAL;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	r = map_topic(bus, name, flags & (SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL), cfg, &sub->t);
	if (r < 0)
		goto err_free;
	r = join_subscribers(sub, start, from_seq);
	if (r < 0)
		goto err_close;
	*ret_sub = sub;
	return 0;

err_close:
	shmqi_seg_close(&sub->t.seg);
err_free:
	free(sub);
	return r;
}

void shmq_sub_close(shmq_sub *sub)
{
	struct shmqi_waitable w;
	bool mine;

	if (!sub)
		return;
	mine = handle_is_ours(&sub->t);
	if (sub->fdring)
		shmqi_fdring_free(sub->fdring,
				  mine && shmqi_sub_waitable(sub, &w, NULL) == 0 ? &w : NULL);
	/* Only while the entry is ours: a judge that took us for dead may have given it on. */
	if (mine)
		drop_entry(&sub->t, &sub->me->owner, clear_sub, sub->me);
	shmqi_seg_close(&sub->t.seg);
	free(sub->peek_seqs);
	free(sub);
}

/* Make the cursor and counters visible to producers and to shmq_topic_stat(). */
static void publish_cursor(shmq_sub *sub)
{
	struct shmqi_sub_slot *s = sub->me;

	if (sub->cursor == sub->shared_cursor)
		return;
	atomic_store_explicit(&s->received, sub->received, memory_order_relaxed);
	atomic_store_explicit(&s->lost, sub->lost, memory_order_relaxed);
	atomic_store_explicit(&s->skipped, sub->skipped, memory_order_relaxed);
	/* R2: pairs with A2 in gate_limit(): every record before the cursor is read. */
	atomic_store_explicit(&s->cursor, sub->cursor, memory_order_release);
	sub->shared_cursor = sub->cursor;
	room_made(&sub->t);
	if (++sub->since_heartbeat >= HEARTBEAT_EVERY) {
		sub->since_heartbeat = 0;
		atomic_store_explicit(&s->heartbeat_ns, shmqi_now_ns(), memory_order_relaxed);
	}
}

/* The cursor's record was overwritten: resume at the oldest retained one, counting. */
static void lapped(shmq_sub *sub)
{
	uint64_t tail = atomic_load_explicit(&sub->t.ctl->tail, memory_order_acquire);
	uint64_t next = oldest_retained(&sub->t, tail);

	if (next <= sub->cursor) /* a stamp from the future: only a corrupt slot says that */
		next = sub->cursor + 1;
	sub->lost += next - sub->cursor;
	sub->lost_before += next - sub->cursor;
	sub->cursor = next;
}

/*
 * Nothing committed at the cursor. Every 4096th time, look at the tail: a record claimed
 * but not committed for longer than the claim timeout is skipped if its claimant is dead.
 * Return: -EAGAIN, or 0 when the slot changed and is worth another look.
 */
static int not_ready(shmq_sub *sub, uint64_t v)
{
	struct topic_map *t = &sub->t;
	uint64_t tail, now;

	if (++sub->polls & POLL_CHECK_MASK)
		return -EAGAIN;
	now = shmqi_now_ns();
	atomic_store_explicit(&sub->me->heartbeat_ns, now, memory_order_relaxed);
	/* A3: pairs with R3 in claim_seqs(): a claimant of the cursor's record is visible. */
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_acquire);
	if (tail <= sub->cursor) {
		sub->stuck_seq = 0;
		return -EAGAIN;
	}
	if (sub->stuck_seq != sub->cursor) {
		sub->stuck_seq = sub->cursor;
		sub->stuck_since_ns = now;
		return -EAGAIN;
	}
	if (now - sub->stuck_since_ns < t->timeout_ns)
		return -EAGAIN;
	if (skip_dead_claim(t, sub->cursor, v))
		return 0;
	sub->stuck_since_ns = now; /* a live claimant: look again after another timeout */
	return -EAGAIN;
}

/* A record whose header makes no sense: count it lost and move on. */
static int corrupt(shmq_sub *sub)
{
	sub->lost++;
	sub->cursor++;
	return -EBADMSG;
}

/*
 * The committed record at the cursor, stepping over skipped records and laps.
 * Return: 0 with *ret_rec and *ret_v (its stamp), or -EAGAIN, -EPROTO.
 */
static int next_rec(shmq_sub *sub, const struct shmqi_trec **ret_rec, uint64_t *ret_v)
{
	const struct shmqi_trec *rec;
	uint64_t v, c;

	for (;;) {
		c = sub->cursor;
		if (c >= SHMQI_SEQ_MAX)
			return -EPROTO;
		rec = slot_at(&sub->t, c);
		/* A1: pairs with R1 in commit_rec() and shmq_pub_abort(). */
		v = atomic_load_explicit(&rec->stamp, memory_order_acquire);
		if (v == SHMQI_STAMP(c, SHMQI_STAMP_COMMITTED)) {
			*ret_rec = rec;
			*ret_v = v;
			return 0;
		}
		if (v == SHMQI_STAMP(c, SHMQI_STAMP_SKIPPED)) {
			sub->skipped++;
			sub->skipped_before++;
			sub->cursor++;
		} else if (stamp_seq(v) > c) {
			/* A1 ordered the tail's claim of that record before: unless it is a
			 * stamp nobody can have written (a corrupt slot), we were lapped. */
			if (stamp_seq(v) >=
			    atomic_load_explicit(&sub->t.ctl->tail, memory_order_acquire))
				return corrupt(sub);
			lapped(sub);
		} else if (not_ready(sub, v) < 0) {
			/* A record of 17-80 payload bytes spans two lines: ask for the second
			 * while waiting, so it does not follow the stamp's line in series. */
			__builtin_prefetch((const uint8_t *)rec + 64);
			return -EAGAIN;
		}
	}
}

/*
 * Was the record at the cursor left alone while we copied it? Lossy topics: its stamp is
 * unchanged (A4, pairs with R4 in own_slot()). Reliable topics: the gate protects every
 * record from the join tail on; below it, nobody has claimed the record a lap later
 * (A5, pairs with R5).
 */
static inline bool still_valid(const shmq_sub *sub, const struct shmqi_trec *rec, uint64_t v)
{
	atomic_thread_fence(memory_order_acquire);
	if (sub->t.policy == SHMQ_TOPIC_LOSSY)
		return atomic_load_explicit(&rec->stamp, memory_order_relaxed) == v;
	if (sub->cursor >= sub->guard)
		return true;
	return atomic_load_explicit(&sub->t.ctl->tail, memory_order_relaxed) <=
	       sub->cursor + sub->t.slots;
}

static void info_of(const shmq_sub *sub, const struct shmqi_trec *rec, uint32_t len,
		    struct shmq_sub_msg *m)
{
	m->seq = sub->cursor;
	m->ts_ns = rec->ts_ns;
	m->corr_id = rec->corr_id;
	m->producer_id = rec->producer_id;
	m->producer_seq = rec->producer_seq;
	m->len = len;
	m->lost = sub->lost_before;
	m->skipped = sub->skipped_before;
}

/*
 * Copy the next record into @m. Return: its length, or -EAGAIN, -EMSGSIZE (m->info.len
 * tells the length), -EBADMSG, -EPROTO, -EINVAL.
 */
static int recv_one(shmq_sub *sub, struct shmq_sub_rmsg *m)
{
	const struct shmqi_trec *rec;
	uint64_t v;
	uint32_t len;
	int r;

	for (;;) {
		r = next_rec(sub, &rec, &v);
		if (r < 0)
			return r;
		len = rec->len;
		if (len > sub->t.max_msg || rec->flags) {
			if (still_valid(sub, rec, v))
				return corrupt(sub);
			lapped(sub);
			continue;
		}
		info_of(sub, rec, len, &m->info);
		if (len > m->cap || (len && !m->buf))
			return len > m->cap ? -EMSGSIZE : -EINVAL;
		if (len)
			memcpy(m->buf, rec + 1, len);
		if (still_valid(sub, rec, v))
			break;
		lapped(sub); /* overwritten while we copied: what we have is torn */
	}
	sub->cursor++;
	sub->received++;
	sub->lost_before = sub->skipped_before = 0;
	return (int)len;
}

static bool sub_ready(void *arg, bool thorough);

/* Nothing to read (-EAGAIN): a pollable fd, if there is one, must wait again. */
static int sub_idle(shmq_sub *sub, int r)
{
	struct shmqi_waitable w;

	if (r == -EAGAIN && sub->fdring && shmqi_sub_waitable(sub, &w, NULL) == 0)
		shmqi_fdring_idle(sub->fdring, &w);
	return r;
}

static int check_sub(const shmq_sub *sub)
{
	if (!sub)
		return -EINVAL;
	return sub->peeked ? -EBUSY : 0;
}

/* Room for twice as many peeked records (at least 16). */
static int grow_peeks(shmq_sub *sub)
{
	uint32_t cap = sub->peek_cap ? sub->peek_cap * 2 : 16;
	uint64_t *p;

	if (cap < sub->peek_cap)
		return -ENOMEM;
	p = realloc(sub->peek_seqs, (size_t)cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	sub->peek_seqs = p;
	sub->peek_cap = cap;
	return 0;
}

int shmq_sub_peek(shmq_sub *sub, const void **ret_data, struct shmq_sub_msg *ret_info)
{
	const struct shmqi_trec *rec;
	struct shmq_sub_msg info;
	uint64_t v;
	uint32_t len;
	int r;

	if (!sub || !ret_data)
		return -EINVAL;
	if (sub->peeked == sub->peek_cap && grow_peeks(sub) < 0)
		return -ENOMEM;
	r = next_rec(sub, &rec, &v);
	if (r < 0)
		return sub_idle(sub, r);
	len = rec->len;
	if (len > sub->t.max_msg || rec->flags)
		return corrupt(sub);
	info_of(sub, rec, len, &info);
	sub->peek_seqs[sub->peeked++] = sub->cursor;
	sub->cursor++;
	sub->received++;
	sub->lost_before = sub->skipped_before = 0;
	*ret_data = rec + 1;
	if (ret_info)
		*ret_info = info;
	return (int)len;
}

/* Is peeked record @seq still there? */
static bool peeked_intact(const shmq_sub *sub, uint64_t seq)
{
	const struct shmqi_trec *rec = slot_at(&sub->t, seq);
	uint64_t v;

	atomic_thread_fence(memory_order_acquire); /* A4/A5 */
	if (sub->t.policy == SHMQ_TOPIC_LOSSY) {
		v = atomic_load_explicit(&rec->stamp, memory_order_relaxed);
		return stamp_seq(v) <= seq;
	}
	return seq >= sub->guard ||
	       atomic_load_explicit(&sub->t.ctl->tail, memory_order_relaxed) <= seq + sub->t.slots;
}

int shmq_sub_release(shmq_sub *sub)
{
	uint64_t torn = 0;
	uint32_t i, n;

	if (!sub)
		return -EINVAL;
	n = sub->peeked;
	for (i = 0; i < n; i++)
		torn += !peeked_intact(sub, sub->peek_seqs[i]);
	sub->peeked = 0;
	sub->lost += torn;
	sub->received -= torn;
	publish_cursor(sub);
	return torn ? -ESTALE : (int)n;
}

int shmq_sub_recv_many(shmq_sub *sub, struct shmq_sub_rmsg *msgs, size_t n)
{
	size_t i;
	int r = 0;

	r = check_sub(sub);
	if (r < 0)
		return r;
	if (!msgs || n == 0 || n > INT32_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		r = recv_one(sub, &msgs[i]);
		if (r < 0)
			break;
	}
	publish_cursor(sub);
	return i ? (int)i : sub_idle(sub, r);
}

int shmq_sub_recv(shmq_sub *sub, void *buf, size_t buf_len, struct shmq_sub_msg *ret_info)
{
	struct shmq_sub_rmsg m = { .buf = buf, .cap = buf_len };
	int r;

	r = check_sub(sub);
	if (r < 0)
		return r;
	if (!buf && buf_len)
		return -EINVAL;
	r = recv_one(sub, &m);
	publish_cursor(sub);
	if (ret_info && (r >= 0 || r == -EMSGSIZE))
		*ret_info = m.info;
	return sub_idle(sub, r);
}

/*
 * Something to do at the cursor? While spinning, the stamp alone says; from the park loop,
 * also the tail and stuck claims (next_rec() skips a dead claimant's record once its
 * timeout has passed, which a parked subscriber must not sleep through).
 */
static bool sub_ready(void *arg, bool thorough)
{
	shmq_sub *sub = arg;
	const struct shmqi_trec *rec;
	uint64_t v;

	if (thorough)
		sub->polls |= POLL_CHECK_MASK; /* the next not_ready() looks at the tail */
	return next_rec(sub, &rec, &v) != -EAGAIN;
}

int shmqi_sub_waitable(shmq_sub *sub, struct shmqi_waitable *w, uint64_t *slice_ns)
{
	if (!sub)
		return -EINVAL;
	*w = (struct shmqi_waitable){ .park_state = &sub->t.ctl->park_state,
				      .w = &sub->t.ctl->wait,
				      .enabled = &sub->park_on,
				      .ready = sub_ready,
				      .arg = sub };
	/* Wake every claim timeout: a dead producer's record is skipped by looking. */
	if (slice_ns && (!*slice_ns || *slice_ns > sub->t.timeout_ns))
		*slice_ns = sub->t.timeout_ns;
	return 0;
}

int shmq_sub_prep_wait(shmq_sub *sub, struct io_uring_sqe *sqe, uint64_t user_data)
{
	struct shmqi_waitable w;
	int r = shmqi_sub_waitable(sub, &w, NULL);

	if (r < 0)
		return r;
	return sqe ? shmqi_arm(&w, sqe, user_data) : -EINVAL;
}

int shmq_sub_wait_done(shmq_sub *sub)
{
	struct shmqi_waitable w;
	int r = shmqi_sub_waitable(sub, &w, NULL);

	if (r == 0)
		shmqi_arm_done(&w);
	return r;
}

int shmq_sub_fd(shmq_sub *sub)
{
	struct shmqi_waitable w;
	int r = shmqi_sub_waitable(sub, &w, NULL);

	return r < 0 ? r : shmqi_fdring_get(&sub->fdring, &w);
}

int shmq_sub_wait(shmq_sub *sub, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmqi_waitable w;
	uint64_t slice = 0;
	int r = shmqi_sub_waitable(sub, &w, &slice);

	if (r < 0)
		return r;
	return shmqi_wait_until(w.park_state, w.w, w.enabled, w.ready, w.arg, spin_ns,
				shmqi_deadline(timeout_ns), slice);
}

int shmq_sub_stats(const shmq_sub *sub, struct shmq_sub_stats *ret_stats)
{
	if (!sub || !ret_stats)
		return -EINVAL;
	ret_stats->cursor = sub->cursor;
	ret_stats->tail = atomic_load_explicit(&sub->t.ctl->tail, memory_order_relaxed);
	ret_stats->received = sub->received;
	ret_stats->lost = sub->lost;
	ret_stats->skipped = sub->skipped;
	return 0;
}

/* ---- inspection ---- */

static void sub_info(const struct shmqi_sub_slot *s, int32_t pid, struct shmq_topic_sub_info *i)
{
	i->pid = pid;
	i->cursor = atomic_load_explicit(&s->cursor, memory_order_relaxed);
	i->heartbeat_ns = atomic_load_explicit(&s->heartbeat_ns, memory_order_relaxed);
	i->received = atomic_load_explicit(&s->received, memory_order_relaxed);
	i->lost = atomic_load_explicit(&s->lost, memory_order_relaxed);
	i->skipped = atomic_load_explicit(&s->skipped, memory_order_relaxed);
}

static uint32_t count_subs(const struct topic_map *t, struct shmq_topic_sub_info *subs,
			   size_t max_subs)
{
	const struct shmqi_sub_slot *s;
	uint32_t i, n = 0;
	uint64_t h;
	int32_t pid;

	for (i = 0; i < t->max_subs; i++) {
		s = &t->subs[i];
		h = atomic_load_explicit(&s->owner.head, memory_order_acquire);
		pid = shmqi_head_pid(h);
		if (pid == 0 ||
		    atomic_load_explicit(&s->state, memory_order_relaxed) != SHMQI_SUB_ACTIVE ||
		    !shmqi_entry_alive(&s->owner, h))
			continue;
		if (subs && n < max_subs)
			sub_info(s, pid < 0 ? -pid : pid, &subs[n]);
		n++;
	}
	return n;
}

/* Producers alive in the table (one taking or giving up its entry counts, if its pid does). */
static uint32_t count_prods(const struct topic_map *t)
{
	uint32_t i, n = 0;
	uint64_t h;

	for (i = 0; i < t->max_prods; i++) {
		h = atomic_load_explicit(&t->prods[i].owner.head, memory_order_acquire);
		n += shmqi_head_pid(h) != 0 && shmqi_entry_alive(&t->prods[i].owner, h);
	}
	return n;
}

int shmq_topic_stat(shmq_bus *bus, const char *name, struct shmq_topic_stats *ret_stats,
		    struct shmq_topic_sub_info *subs, size_t max_subs)
{
	const struct shmqi_seg_hdr *hdr;
	struct shmq_topic_stats st;
	struct topic_map t = { 0 };
	int r;

	if (!ret_stats || (!subs && max_subs))
		return -EINVAL;
	r = map_topic(bus, name, 0, NULL, &t);
	if (r < 0)
		return r;
	hdr = (const struct shmqi_seg_hdr *)t.seg.base;
	st.slots = t.slots;
	st.max_msg = t.max_msg;
	st.policy = t.policy;
	st.claim_timeout_ns = t.timeout_ns;
	st.tail = atomic_load_explicit(&t.ctl->tail, memory_order_relaxed);
	st.oldest = oldest_retained(&t, st.tail);
	st.subscribers = count_subs(&t, subs, max_subs);
	st.producers = count_prods(&t);
	st.skipped = atomic_load_explicit(&t.ctl->skipped, memory_order_relaxed);
	st.creator_pid = hdr->creator_pid;
	st.created_ns = hdr->created_ns;
	shmqi_seg_close(&t.seg);
	*ret_stats = st;
	return (int)st.subscribers;
}
