// SPDX-License-Identifier: MIT
/* topic.c - topics: configuration, mapping, table entries, dead claimants and inspection. */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"
#include "topic_internal.h"

#define SUBS_OFF 640u /* body at 128, control block 512 bytes */

void (*shmqi_topic_test_hook)(int phase, uint64_t seq);
uint64_t shmqi_room_slice_ns = 10000000ull;

/* ---- configuration, layout and attach ---- */

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

static uint64_t prods_off(uint32_t max_subs)
{
	return SUBS_OFF + (uint64_t)max_subs * sizeof(struct shmqi_sub_entry);
}

static uint64_t gates_off(uint32_t max_subs, uint32_t max_prods)
{
	return prods_off(max_subs) + (uint64_t)max_prods * sizeof(struct shmqi_prod_entry);
}

static uint64_t ring_off(uint32_t max_subs, uint32_t max_prods)
{
	return round_up(gates_off(max_subs, max_prods) +
				SHMQI_TOPIC_GATES * (uint64_t)sizeof(struct shmqi_gate),
			4096);
}

static uint32_t slot_size_for(uint32_t max_msg)
{
	return (uint32_t)round_up((uint64_t)SHMQI_TREC_HDR + max_msg, 64);
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

/* What a creating open writes into a new topic. */
struct topic_new {
	struct shmq_topic_config cfg;
	uint32_t flags; /* SHMQI_NO_TIMESTAMPS */
};

static int topic_init(struct shmqi_seg *seg, void *arg)
{
	const struct topic_new *tn = arg;
	const struct shmq_topic_config *cfg = &tn->cfg;
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
	ctl->gates_off = gates_off(cfg->max_subscribers, cfg->max_producers);
	ctl->ring_off = ring_off(cfg->max_subscribers, cfg->max_producers);
	ctl->flags = tn->flags;
	/* relaxed: R0 in segment.c publishes it with the rest of the block */
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
static int check_topic(struct shmqi_tmap *t)
{
	const struct shmqi_seg_hdr *hdr = (const struct shmqi_seg_hdr *)t->seg.base;
	struct shmqi_topic copy;
	const struct shmqi_topic *ctl = &copy;

	if (hdr->body_off != SHMQI_TOPIC_BODY_OFF || t->seg.size < SUBS_OFF)
		return -EPROTO;
	/* One read of the configuration: a writer scribbling meanwhile cannot make the values
	 * used differ from the values checked. (Only the cold fields are read from it.) */
	memcpy(&copy, t->seg.base + SHMQI_TOPIC_BODY_OFF, offsetof(struct shmqi_topic, skipped));
	memcpy(&copy.gates_off,
	       t->seg.base + SHMQI_TOPIC_BODY_OFF + offsetof(struct shmqi_topic, gates_off),
	       sizeof(copy.gates_off));
	if (!valid_shape(ctl->slots, ctl->max_msg, ctl->max_subs, ctl->max_prods) ||
	    ctl->policy > SHMQ_TOPIC_LOSSY || ctl->slot_size != slot_size_for(ctl->max_msg))
		return -EPROTO;
	if (ctl->subs_off != SUBS_OFF || ctl->prods_off != prods_off(ctl->max_subs) ||
	    ctl->gates_off != gates_off(ctl->max_subs, ctl->max_prods) ||
	    ctl->ring_off != ring_off(ctl->max_subs, ctl->max_prods) ||
	    ctl->ring_off + (uint64_t)ctl->slots * ctl->slot_size != t->seg.size)
		return -EPROTO;
	t->ctl = (struct shmqi_topic *)(t->seg.base + SHMQI_TOPIC_BODY_OFF);
	t->subs = (struct shmqi_sub_entry *)(t->seg.base + ctl->subs_off);
	t->prods = (struct shmqi_prod_entry *)(t->seg.base + ctl->prods_off);
	t->gates = (struct shmqi_gate *)(t->seg.base + ctl->gates_off);
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

int shmqi_topic_map(shmq_bus *bus, const char *name, unsigned flags,
		    const struct shmq_topic_config *cfg, struct shmqi_tmap *t)
{
	struct shmq_topic_config stored;
	struct topic_new want;
	char path[SHMQI_PATH_MAX];
	unsigned seg_flags = 0;
	bool has_stored = false;
	int r;

	shmqi_detail_clear();
	if ((flags & SHMQ_OPEN_EXCL) && !(flags & SHMQ_OPEN_CREATE))
		return -EINVAL;
	r = shmqi_seg_path(bus, name, path, sizeof(path));
	/* Read-only looks ask nobody; the others ask shmqd, which may store the configuration. */
	if (r == 0 && !(flags & SHMQI_MAP_RDONLY))
		r = shmqi_reg_open(bus, SHMQI_KIND_TOPIC, name, flags, &stored, &has_stored);
	if (r == 0 && !cfg && has_stored)
		cfg = &stored;
	if (r == 0)
		r = resolve_cfg(cfg, &want.cfg);
	if (r < 0)
		return r;
	want.flags = (flags & SHMQ_OPEN_NO_TIMESTAMPS) ? SHMQI_NO_TIMESTAMPS : 0;
	seg_flags |= (flags & SHMQ_OPEN_CREATE) ? SHMQI_SEG_CREATE : 0;
	seg_flags |= (flags & SHMQ_OPEN_EXCL) ? SHMQI_SEG_EXCL : 0;
	seg_flags |= (flags & SHMQI_MAP_RDONLY) ? SHMQI_SEG_RDONLY : 0;
	r = shmqi_seg_open(path, SHMQI_KIND_TOPIC, seg_size(&want.cfg), want.cfg.mode, seg_flags,
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
	if (t->seg.created)
		shmqi_reg_created(bus, SHMQI_KIND_TOPIC, name);
	t->pid = (int32_t)getpid();
	t->start_time = shmqi_proc_start(t->pid);
	return 0;
}

/* ---- table entries (producers and subscribers; owner.c does the taking) ---- */

static_assert(sizeof(struct shmqi_sub_entry) == sizeof(struct shmqi_prod_entry),
	      "one stride for both tables");
#define ENTRY_STRIDE sizeof(struct shmqi_sub_entry)

int shmqi_topic_take(struct shmqi_tmap *t, void *table, uint32_t n, uint32_t *ret_i)
{
	return shmqi_owner_take(table, ENTRY_STRIDE, n, t->pid, t->start_time, &t->head, ret_i);
}

bool shmqi_topic_drop(struct shmqi_tmap *t, struct shmqi_owner *o, shmqi_owner_clear_fn clear,
		      void *arg)
{
	return shmqi_owner_free(o, t->head, t->pid, clear, t, arg);
}

void shmqi_clear_sub(void *ctx, void *arg)
{
	struct shmqi_sub_entry *s = arg;

	/*
	 * S1: seq_cst as every store of a state word, in the one order of gate_limit()'s
	 * seq_cst state loads. It publishes nothing: the cursor of a FREE entry is not read.
	 * Then W1 (wait.h): producers parked for room look again.
	 */
	atomic_store_explicit(&s->state, SHMQI_SUB_FREE, memory_order_seq_cst);
	shmqi_topic_room_made(ctx);
}

/* Free the entry of a subscriber that died (its head @dead); counted if we freed it. */
static bool reap_sub(void *arg, uint32_t i, uint64_t dead)
{
	struct shmqi_tmap *t = arg;

	return shmqi_owner_free(&t->subs[i].owner, dead, t->pid, shmqi_clear_sub, t, &t->subs[i]);
}

uint32_t shmqi_reap_dead_subs(struct shmqi_tmap *t)
{
	/* Our own pid too: it may be a dead subscriber's, reused by us. */
	return shmqi_owner_scan(t->subs, ENTRY_STRIDE, t->max_subs, false, reap_sub, t);
}

/*
 * Free the entry of a producer that died (its head @dead). Its pending claim, if any, stays
 * as it is: claimant_alive() counts a claim only while its owner is alive, and a free entry
 * (pid 0) has no owner, so finders judge the claim as they did with the dead owner in place,
 * and skip its records after the claim timeout. A producer that takes the entry next shows
 * the old claim under a live head until it clears pending (join_producers()): a finder
 * then waits one timeout more, never less. One CAS (shmqi_owner_free_dead()), not a grab:
 * a grabbed entry would count as a live producer, and a last producer closing meanwhile
 * would not tell parked subscribers (shmqi_count_prods() in shmq_pub_close()).
 */
static bool reap_prod(void *arg, uint32_t i, uint64_t dead)
{
	struct shmqi_tmap *t = arg;

	return shmqi_owner_free_dead(&t->prods[i].owner, dead);
}

uint32_t shmqi_reap_dead_prods(struct shmqi_tmap *t)
{
	return shmqi_owner_scan(t->prods, ENTRY_STRIDE, t->max_prods, false, reap_prod, t);
}

uint32_t shmqi_count_prods(struct shmqi_tmap *t)
{
	return shmqi_owner_scan(t->prods, ENTRY_STRIDE, t->max_prods, true, NULL, NULL);
}

/* ---- the claimant of an uncommitted record ---- */

/*
 * Is a live producer still working on record @seq? Its claim is in the producer table
 * (R3/A3: the caller saw the tail past @seq, so the claim's pending entry is visible
 * unless the claimant has finished and moved on).
 */
static bool claimant_alive(const struct shmqi_tmap *t, uint64_t seq)
{
	struct shmqi_prod_entry *p;
	uint64_t first, h;
	uint32_t i, n;

	for (i = 0; i < t->max_prods; i++) {
		p = &t->prods[i];
		/* O1: pairs with the final head CAS of shmqi_entry_set(): the owner's fields. */
		h = atomic_load_explicit(&p->owner.head, memory_order_acquire);
		/* A7: pairs with R7 in claim_seqs(): a length of a later claim is read with
		 * everything before it, so the pending read next is that claim's or newer (0),
		 * never an earlier claim's start paired with a later claim's length. */
		n = atomic_load_explicit(&p->pending_n, memory_order_acquire);
		/* A6: pairs with R6 in claim_done(): a claim seen finished (0) left its records
		 * with their final stamps, so the skip CAS fails on one that was committed. */
		first = atomic_load_explicit(&p->pending, memory_order_acquire);
		if (shmqi_head_pid(h) == 0 || first == 0 || seq - first >= n)
			continue;
		if (shmqi_entry_alive(&p->owner, h))
			return true;
	}
	return false;
}

/*
 * Is anyone alive still entitled to the slot that shows @v, on the way to record @seq?
 * Every record of this slot after the one @v finished (from the one @v shows, if it is
 * still being written) up to @seq: a live claimant of any of them may be writing it
 * (reliable topics mark nothing while writing). Records are looked at a lap apart; past
 * 64 laps (only a corrupt stamp says that) the answer is yes, to be safe.
 */
static bool slot_claimed(const struct shmqi_tmap *t, uint64_t seq, uint64_t v)
{
	uint64_t from = shmqi_stamp_seq(v) + ((v & 3) == SHMQI_STAMP_WRITING ? 0 : t->slots);
	unsigned laps = 0;

	if (v == 0) /* never written: every claim of this slot from its first lap on counts */
		from = ((seq - 1) & t->mask) + 1;
	else if (from > seq) /* corrupt: only @seq's claim counts */
		from = seq;
	for (; from <= seq; from += t->slots) {
		if (++laps > 64 || claimant_alive(t, from))
			return true;
	}
	return false;
}

bool shmqi_skip_dead_claim(const struct shmqi_tmap *t, uint64_t seq, uint64_t v)
{
	struct shmqi_trec *rec = shmqi_slot_at(t, seq);

	if (slot_claimed(t, seq, v))
		return false;
	/*
	 * R1: pairs with A1 in next_rec() and own_slot(): a skipped record is final (there is
	 * nothing to read). Acquire: pairs with the release that stored @v (R1 a lap earlier, or
	 * WRITING in own_slot()), so the slot is handed on after everything its writers did.
	 */
	if (atomic_compare_exchange_strong_explicit(&rec->stamp, &v,
						    SHMQI_STAMP(seq, SHMQI_STAMP_SKIPPED),
						    memory_order_acq_rel, memory_order_relaxed))
		atomic_fetch_add_explicit(&t->ctl->skipped, 1, memory_order_relaxed);
	return true;
}

bool shmqi_claim_dead(const struct shmqi_tmap *t, uint64_t seq, uint64_t v)
{
	const struct shmqi_trec *rec = shmqi_slot_at(t, seq);

	if (slot_claimed(t, seq, v))
		return false;
	/*
	 * A6 in slot_claimed() saw every claim of the slot finished or its claimant dead: a
	 * claim finished meanwhile left its final stamp (R1) before its pending = 0 (R6), so an
	 * unchanged stamp is one nobody will finish. A1: pairs with R1, as in next_rec().
	 */
	return atomic_load_explicit(&rec->stamp, memory_order_acquire) == v;
}

/* ---- dead claims, skipped at once (shmq_topic_reap()) ---- */

/* Records [from, to) a reap looks at. */
struct seq_range {
	uint64_t from, to;
};

/*
 * Where the records that a subscriber or group still needs start: the lowest cursor that
 * gates (ACTIVE), but not below the oldest record retained; @tail when nothing gates.
 * Relaxed: this only says where to look, and shmqi_skip_dead_claim() judges every record
 * looked at; a cursor only grows, so a stale one widens the look.
 */
static uint64_t needed_from(const struct shmqi_tmap *t, uint64_t tail)
{
	uint64_t min = tail, oldest = shmqi_oldest(t, tail), c;
	uint32_t i;

	for (i = 0; i < t->max_subs; i++) {
		if (atomic_load_explicit(&t->subs[i].state, memory_order_relaxed) !=
		    SHMQI_SUB_ACTIVE)
			continue;
		c = atomic_load_explicit(&t->subs[i].cursor, memory_order_relaxed);
		min = c < min ? c : min;
	}
	for (i = 0; i < SHMQI_TOPIC_GATES; i++) {
		if (atomic_load_explicit(&t->gates[i].state, memory_order_relaxed) !=
		    SHMQI_GATE_ACTIVE)
			continue;
		c = atomic_load_explicit(&t->gates[i].cursor, memory_order_relaxed);
		min = c < min ? c : min;
	}
	return min > oldest ? min : oldest;
}

/*
 * The claim producer entry @i still shows, if its owner is dead or gone (a live owner's
 * claim is its own business): its records from @floor on and below @tail, into @r.
 * Relaxed loads of the claim: as in needed_from(), only where to look.
 */
static bool dead_claim(const struct shmqi_tmap *t, uint32_t i, uint64_t floor, uint64_t tail,
		       struct seq_range *r)
{
	const struct shmqi_prod_entry *p = &t->prods[i];
	/* O1: pairs with the final head CAS of shmqi_entry_set(): the owner's fields. */
	uint64_t h = atomic_load_explicit(&p->owner.head, memory_order_acquire);
	/* A7 as in claimant_alive(); relaxed pending: a range to look at, judged there again */
	uint64_t n = atomic_load_explicit(&p->pending_n, memory_order_acquire);
	uint64_t first = atomic_load_explicit(&p->pending, memory_order_relaxed);

	if (first == 0 || first >= tail ||
	    (shmqi_head_pid(h) != 0 && shmqi_entry_alive(&p->owner, h)))
		return false;
	r->from = first > floor ? first : floor;
	r->to = n < tail - first ? first + n : tail;
	return r->from < r->to;
}

/* Record @seq, unless it is finished or a later lap's: skipped if no live producer claims it. */
static bool skip_unfinished(const struct shmqi_tmap *t, uint64_t seq)
{
	/* A1: pairs with R1 of whoever finished the slot's last record, as in next_rec(). */
	uint64_t v = atomic_load_explicit(&shmqi_slot_at(t, seq)->stamp, memory_order_acquire);

	if (shmqi_stamp_seq(v) > seq ||
	    (shmqi_stamp_seq(v) == seq && (v & 3) >= SHMQI_STAMP_COMMITTED))
		return false;
	return shmqi_skip_dead_claim(t, seq, v);
}

static int by_from(const void *a, const void *b)
{
	const struct seq_range *x = a, *y = b;

	return x->from < y->from ? -1 : x->from > y->from;
}

uint32_t shmqi_skip_dead_claims(struct shmqi_tmap *t)
{
	struct seq_range r[SHMQ_TOPIC_MAX_PRODUCERS + 1];
	uint64_t tail, floor, done = 0, s, span;
	uint32_t i, n = 0, changed = 0;

	/* A3: pairs with R3 in claim_seqs(): the claimant of every record below it is in the
	 * producer table when shmqi_skip_dead_claim() judges it. */
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_acquire);
	if (tail == 0 || tail >= SHMQI_SEQ_MAX)
		return 0; /* corrupt: the next claim reports it */
	/* One waiting claimant per producer entry can queue a lap apart behind a dead claim. */
	span = ((uint64_t)t->max_prods + 1) * t->slots;
	floor = tail > span ? tail - span : 1;
	r[0] = (struct seq_range){ needed_from(t, tail), tail };
	n = r[0].from < r[0].to;
	for (i = 0; i < t->max_prods; i++)
		n += dead_claim(t, i, floor, tail, &r[n]);
	qsort(r, n, sizeof(r[0]), by_from);
	/* In sequence order, each record once: a slot's earlier unfinished record comes first. */
	for (i = 0; i < n; i++) {
		for (s = r[i].from > done ? r[i].from : done; s < r[i].to; s++)
			changed += skip_unfinished(t, s);
		done = r[i].to > done ? r[i].to : done;
	}
	return changed;
}

void shmqi_raise_start(const struct shmqi_tmap *t, uint64_t start)
{
	/* F1: relaxed; the caller's S1 or R2 store that follows orders it (topic_internal.h). */
	uint64_t cur = atomic_load_explicit(&t->ctl->sub_start, memory_order_relaxed);

	while (cur < start &&
	       !atomic_compare_exchange_weak_explicit(&t->ctl->sub_start, &cur, start,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- inspection ---- */

static void sub_info(const struct shmqi_sub_entry *s, int32_t pid, struct shmq_topic_sub_info *i)
{
	i->pid = pid;
	/*
	 * A2 (as a producer's scan): pairs with R2 in publish_cursor() and the joiner's first
	 * cursor store. The claims of the records below it happen before this load, so the tail
	 * loaded after it is not behind it.
	 */
	i->cursor = atomic_load_explicit(&s->cursor, memory_order_acquire);
	/* relaxed: the counters are statistics, each true at some moment */
	i->heartbeat_ns = atomic_load_explicit(&s->heartbeat_ns, memory_order_relaxed);
	i->received = atomic_load_explicit(&s->received, memory_order_relaxed);
	i->lost = atomic_load_explicit(&s->lost, memory_order_relaxed);
	i->skipped = atomic_load_explicit(&s->skipped, memory_order_relaxed);
}

struct sub_list {
	const struct shmqi_sub_entry *subs;
	struct shmq_topic_sub_info *out;
	size_t max, n;
};

/* A live subscriber entry counts while it gates (ACTIVE); the first @max are listed. */
static bool list_sub(void *arg, uint32_t i, uint64_t head)
{
	struct sub_list *l = arg;
	const struct shmqi_sub_entry *s = &l->subs[i];
	int32_t pid = shmqi_head_pid(head);

	/* relaxed: which live entries count is statistics; the cursor load is A2 */
	if (atomic_load_explicit(&s->state, memory_order_relaxed) != SHMQI_SUB_ACTIVE)
		return false;
	if (l->out && l->n < l->max)
		sub_info(s, pid < 0 ? -pid : pid, &l->out[l->n]);
	l->n++;
	return true;
}

static uint32_t count_subs(struct shmqi_tmap *t, struct shmq_topic_sub_info *subs, size_t max_subs)
{
	struct sub_list l = { .subs = t->subs, .out = subs, .max = max_subs };

	return shmqi_owner_scan(t->subs, ENTRY_STRIDE, t->max_subs, true, list_sub, &l);
}

int shmq_topic_stat(shmq_bus *bus, const char *name, struct shmq_topic_stats *ret_stats,
		    struct shmq_topic_sub_info *subs, size_t max_subs)
{
	const struct shmqi_seg_hdr *hdr;
	struct shmq_topic_stats st;
	struct shmqi_tmap t = { 0 };
	int r;

	shmqi_detail_clear();
	if (!ret_stats || (!subs && max_subs))
		return -EINVAL;
	r = shmqi_topic_map(bus, name, SHMQI_MAP_RDONLY, NULL, &t);
	if (r < 0)
		return r;
	hdr = (const struct shmqi_seg_hdr *)t.seg.base;
	st.slots = t.slots;
	st.max_msg = t.max_msg;
	st.policy = t.policy;
	st.claim_timeout_ns = t.timeout_ns;
	/*
	 * The cursors first, then the tail: each cursor was read before the tail, and the
	 * records below it were claimed before it was stored, so no cursor is printed ahead of
	 * the tail (every figure could have been true at once, up to the tail's progress).
	 */
	st.subscribers = count_subs(&t, subs, max_subs);
	/* A3: pairs with R3 in claim_seqs(): the producer table read below holds at least the
	 * entries of the claimants whose claims it counts. */
	st.tail = atomic_load_explicit(&t.ctl->tail, memory_order_acquire);
	st.oldest = shmqi_oldest(&t, st.tail);
	st.producers = shmqi_count_prods(&t);
	st.skipped = atomic_load_explicit(&t.ctl->skipped, memory_order_relaxed);
	st.creator_pid = hdr->creator_pid;
	st.created_ns = hdr->created_ns;
	shmqi_seg_close(&t.seg);
	*ret_stats = st;
	return (int)st.subscribers;
}

int shmq_topic_set_ttl(shmq_bus *bus, const char *name, uint64_t ttl_ns)
{
	struct shmqi_tmap t = { 0 };
	int r;

	shmqi_detail_clear();
	r = shmqi_topic_map(bus, name, 0, NULL, &t);
	if (r < 0)
		return r;
	atomic_store_explicit(&t.ctl->ttl_ns, ttl_ns, memory_order_relaxed);
	shmqi_seg_close(&t.seg);
	return 0;
}

/* One word of a topic's control block, read without joining. */
static int read_word(shmq_bus *bus, const char *name, size_t off, uint64_t *ret)
{
	struct shmqi_tmap t = { 0 };
	int r;

	shmqi_detail_clear();
	if (!ret)
		return -EINVAL;
	r = shmqi_topic_map(bus, name, SHMQI_MAP_RDONLY, NULL, &t);
	if (r < 0)
		return r;
	*ret = atomic_load_explicit((_Atomic uint64_t *)((uint8_t *)t.ctl + off),
				    memory_order_relaxed);
	shmqi_seg_close(&t.seg);
	return 0;
}

int shmq_topic_ttl(shmq_bus *bus, const char *name, uint64_t *ret_ttl_ns)
{
	return read_word(bus, name, offsetof(struct shmqi_topic, ttl_ns), ret_ttl_ns);
}

int shmq_topic_expired(shmq_bus *bus, const char *name, uint64_t *ret_count)
{
	return read_word(bus, name, offsetof(struct shmqi_topic, expired), ret_count);
}

int shmqi_count_series(shmq_bus *bus, const char *name, unsigned max, shmqi_series_name_fn fn)
{
	char member[SHMQ_NAME_MAX + 1];
	struct shmq_topic_stats st;
	unsigned k;
	int r;

	for (k = 0; k < max; k++) {
		r = fn(name, k, member);
		if (r < 0)
			return r;
		r = shmq_topic_stat(bus, member, &st, NULL, 0);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
	}
	return (int)k;
}
