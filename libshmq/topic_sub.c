// SPDX-License-Identifier: MIT
/* topic_sub.c - a topic's subscribers: private cursors, copy, batch and in-place reads, waits. */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lat.h"
#include "topic_internal.h"

#define POLL_CHECK_MASK 4095u /* a waiting subscriber looks at the tail every 4096th poll */
#define HEARTBEAT_EVERY 1024u /* records between heartbeats of a busy subscriber */

struct shmq_sub {
	struct shmqi_tmap t;
	struct shmqi_sub_entry *me;
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
	bool ro; /* SHMQ_SUB_READONLY: no entry (me is NULL), nothing written */
	struct shmqi_ro_name *ro_name; /* SHMQ_SUB_READONLY: its segment, to notice removal */
	uint32_t ignore_closed; /* the close it found at its join: waits go on past it */
	struct shmqi_fdring *fdring; /* shmq_sub_fd(), when asked for */
	unsigned polls;
	unsigned since_heartbeat;
	bool lat_on; /* SHMQ_SUB_LATENCY: lat records */
	struct shmqi_lat_rec lat;
	struct shmqi_held hdrs; /* the headers of the record delivered last */
	uint64_t expired; /* records skipped because their "shmq-expires" had passed */
};

/* A record with headers @h whose expiry has passed: skipped, and counted. */
static bool expired(shmq_sub *sub, const void *h, uint32_t hl)
{
	uint64_t exp = shmqi_hdrs_when(h, hl, SHMQ_HDR_EXPIRES);

	if (!exp || shmqi_now_ns() < exp)
		return false;
	sub->expired++;
	sub->cursor++;
	if (!sub->ro)
		atomic_fetch_add_explicit(&sub->t.ctl->expired, 1, memory_order_relaxed);
	return true;
}

/* ---- subscribers ---- */

#define SUB_START (SHMQ_SUB_LATEST | SHMQ_SUB_EARLIEST | SHMQ_SUB_FROM_SEQ)
#define SUB_FLAGS                                                                               \
	(SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | SUB_START | SHMQ_SUB_READONLY | SHMQ_SUB_LATENCY | \
	 SHMQ_OPEN_NO_TIMESTAMPS)
#define RO_POLL_NS 1000000u /* how often a read-only subscriber looks when it would park */

/* Where a new cursor starts, given the tail; records asked for but gone count as lost. */
static uint64_t start_seq(shmq_sub *sub, unsigned flags, uint64_t from, uint64_t tail)
{
	uint64_t oldest = shmqi_oldest(&sub->t, tail);

	if (flags & SHMQ_SUB_EARLIEST)
		return oldest;
	if (!(flags & SHMQ_SUB_FROM_SEQ))
		return tail;
	if (from >= oldest)
		return from;
	sub->lost = sub->lost_before = oldest - from;
	return oldest;
}

static int join_subscribers(shmq_sub *sub, unsigned flags, uint64_t from)
{
	struct shmqi_tmap *t = &sub->t;
	struct shmqi_sub_entry *s;
	uint64_t tail;
	uint32_t i;
	int r;

	r = shmqi_topic_take(t, t->subs, t->max_subs, &i);
	if (r < 0)
		return r;
	/*
	 * No live producer now (the last one closed before we came): we wait for one, and only
	 * a close after this one is our -EPIPE. Read before our entry is ACTIVE: a producer that
	 * opens and closes from here on makes a later close. seq_cst: in one order with the
	 * seq_cst CASes of shmqi_wait_close() (wake.c) and with our S1 store below.
	 */
	sub->ignore_closed = shmqi_wait_close_seen(&t->ctl->wait);
	s = sub->me = &t->subs[i];
	atomic_store_explicit(&s->heartbeat_ns, shmqi_now_ns(), memory_order_relaxed);
	/* A3: pairs with R3 in claim_seqs(): the claimants of the records from here on are
	 * visible in the producer table when not_ready() judges them. */
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_acquire);
	sub->cursor = start_seq(sub, flags, from, tail);
	/* relaxed: statistics; the cursor store below is what producers order by */
	atomic_store_explicit(&s->received, 0, memory_order_relaxed);
	atomic_store_explicit(&s->lost, sub->lost, memory_order_relaxed);
	atomic_store_explicit(&s->skipped, 0, memory_order_relaxed);
	/*
	 * F1: raised before any cursor of ours is visible. The entry may still be ACTIVE for a
	 * dead owner we took it from, so a scan can read this cursor before our S1; it then
	 * reads it with acquire (A2), which this release pairs with.
	 */
	shmqi_raise_start(t, sub->cursor);
	/* R2: pairs with A2 in gate_limit() and in shmq_topic_stat(). */
	atomic_store_explicit(&s->cursor, sub->cursor, memory_order_release);
	/* S1: pairs with the seq_cst state loads in gate_limit(). */
	atomic_store_explicit(&s->state, SHMQI_SUB_ACTIVE, memory_order_seq_cst);
	/* S1: after our ACTIVE store; pairs with gate_limit()'s seq_cst tail load and the
	 * claiming CAS in claim_seqs(): a producer that missed us claims below this + slots. */
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_seq_cst);
	/* A producer that scanned before us claims below tail + slots: "latest" starts here. */
	if (!(flags & (SHMQ_SUB_EARLIEST | SHMQ_SUB_FROM_SEQ)) && tail > sub->cursor) {
		sub->cursor = tail;
		shmqi_raise_start(t, tail); /* F1: before R2 publishes any cursor past the first */
	}
	/* Producers that scanned before S1 may still overwrite records below the tail. */
	sub->guard = tail;
	sub->shared_cursor = 0;
	/* A dead owner's cursor we replaced may have been what held producers back. */
	shmqi_topic_room_made(t);
	return 0;
}

/*
 * A read-only reader: a cursor of its own in this process only. The close it finds is not
 * its -EPIPE (as for a joiner); nothing it does is seen by producers, so it needs none of
 * the joiner's orderings (S1, F1, R2): on a lossy topic, overwritten records are found by
 * their stamps and reported as lost, whoever reads them.
 */
static int join_readonly(shmq_sub *sub, unsigned flags, uint64_t from)
{
	struct shmqi_tmap *t = &sub->t;
	uint64_t tail;

	if (t->policy != SHMQ_TOPIC_LOSSY) {
		shmqi_detail("a read-only subscriber needs a lossy topic: a reliable topic's "
			     "producers must see its cursor");
		return -EINVAL;
	}
	sub->ro = true;
	sub->ignore_closed = shmqi_wait_close_seen(&t->ctl->wait);
	/* A3: pairs with R3 in claim_seqs(), as a joiner's */
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_acquire);
	sub->cursor = start_seq(sub, flags, from, tail);
	sub->guard = tail;
	return 0;
}

int shmq_sub_open(shmq_bus *bus, const char *name, unsigned flags,
		  const struct shmq_topic_config *cfg, uint64_t from_seq, shmq_sub **ret_sub)
{
	unsigned start = flags & SUB_START;
	shmq_sub *sub;
	int r;

	shmqi_detail_clear();
	if (!ret_sub || (flags & ~SUB_FLAGS) || (start & (start - 1)))
		return -EINVAL;
	if ((start == SHMQ_SUB_FROM_SEQ) != (from_seq != 0) || from_seq >= SHMQI_SEQ_MAX)
		return -EINVAL;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	if ((flags & SHMQ_SUB_READONLY) && (flags & SHMQ_OPEN_CREATE)) {
		free(sub);
		return -EINVAL;
	}
	r = shmqi_topic_map(bus, name,
			    (flags & SHMQ_SUB_READONLY)
				    ? SHMQI_MAP_RDONLY
				    : flags & (SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL),
			    cfg, &sub->t);
	if (r < 0)
		goto err_free;
	r = (flags & SHMQ_SUB_READONLY) ? join_readonly(sub, start, from_seq)
					: join_subscribers(sub, start, from_seq);
	if (r == -EUSERS)
		shmqi_detail("topic '%s': all %u subscriber entries are held by live processes",
			     name, sub->t.max_subs);
	if (r == 0 && sub->ro)
		r = shmqi_ro_name_open(bus, name, &sub->t, &sub->ro_name);
	if (r < 0)
		goto err_close;
	if ((flags & SHMQ_SUB_LATENCY) && !sub->ro) {
		r = shmqi_lat_start(bus, name, sub->t.max_subs, 1,
				    (uint32_t)(sub->me - sub->t.subs), &sub->lat);
		if (r < 0)
			goto err_leave;
		sub->lat_on = true;
	}
	*ret_sub = sub;
	return 0;

err_leave:
	shmqi_topic_drop(&sub->t, &sub->me->owner, shmqi_clear_sub, sub->me);
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
	mine = shmqi_tmap_ours(&sub->t);
	if (sub->fdring)
		shmqi_fdring_free(sub->fdring,
				  mine && shmqi_sub_waitable(sub, &w, NULL) == 0 ? &w : NULL);
	/* Only while the entry is ours: a judge that took us for dead may have given it on. */
	shmqi_lat_stop(&sub->lat, mine);
	if (mine && !sub->ro)
		shmqi_topic_drop(&sub->t, &sub->me->owner, shmqi_clear_sub, sub->me);
	shmqi_seg_close(&sub->t.seg);
	shmqi_ro_name_free(sub->ro_name);
	free(sub->peek_seqs);
	free(sub->hdrs.buf);
	free(sub);
}

/* Make the cursor and counters visible to producers and to shmq_topic_stat(). */
static void publish_cursor(shmq_sub *sub)
{
	struct shmqi_sub_entry *s = sub->me;

	if (sub->cursor == sub->shared_cursor || sub->ro)
		return;
	/* relaxed: statistics, for shmq_topic_stat() */
	atomic_store_explicit(&s->received, sub->received, memory_order_relaxed);
	atomic_store_explicit(&s->lost, sub->lost, memory_order_relaxed);
	atomic_store_explicit(&s->skipped, sub->skipped, memory_order_relaxed);
	/* R2: pairs with A2 in gate_limit(): every record before the cursor is read. */
	atomic_store_explicit(&s->cursor, sub->cursor, memory_order_release);
	sub->shared_cursor = sub->cursor;
	shmqi_topic_room_made(&sub->t);
	if (++sub->since_heartbeat >= HEARTBEAT_EVERY) {
		sub->since_heartbeat = 0;
		atomic_store_explicit(&s->heartbeat_ns, shmqi_now_ns(), memory_order_relaxed);
	}
}

/* The cursor's record was overwritten: resume at the oldest retained one, counting. */
static void lapped(shmq_sub *sub)
{
	/* A3: pairs with R3 in claim_seqs(): the claimants of the records we move to are
	 * visible in the producer table when not_ready() judges them. */
	uint64_t tail = atomic_load_explicit(&sub->t.ctl->tail, memory_order_acquire);
	uint64_t next = shmqi_oldest(&sub->t, tail);

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
	struct shmqi_tmap *t = &sub->t;
	uint64_t tail, now;

	if (++sub->polls & POLL_CHECK_MASK)
		return -EAGAIN;
	now = shmqi_now_ns();
	if (!sub->ro)
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
	if (sub->ro && shmqi_claim_dead(t, sub->cursor, v)) {
		/* Skipping it in the log is a write: step over it for ourselves, as if SKIPPED. */
		sub->skipped++;
		sub->skipped_before++;
		sub->cursor++;
		return 0;
	}
	if (!sub->ro && shmqi_skip_dead_claim(t, sub->cursor, v))
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
		rec = shmqi_slot_at(&sub->t, c);
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
		} else if (shmqi_stamp_seq(v) > c) {
			/* A1 ordered the tail's claim of that record before: unless it is a
			 * stamp nobody can have written (a corrupt slot), we were lapped. A3:
			 * pairs with R3 in claim_seqs(), as every finder's tail load. */
			if (shmqi_stamp_seq(v) >=
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
	/* A4/A5: pairs with the release fence (R4/R5) in own_slot(); the relaxed loads below
	 * come after the copy because of it. */
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
	uint32_t len, flags, hlen;
	int r;

	for (;;) {
		r = next_rec(sub, &rec, &v);
		if (r < 0)
			return r;
		len = rec->len;
		flags = rec->flags;
		hlen = flags ? rec->hdrs_len : 0;
		if (!shmqi_trec_sane(len, flags, hlen, sub->t.max_msg)) {
			if (still_valid(sub, rec, v))
				return corrupt(sub);
			lapped(sub);
			continue;
		}
		info_of(sub, rec, len, &m->info);
		sub->hdrs.len = 0;
		if (len > m->cap || (len && !m->buf))
			return len > m->cap ? -EMSGSIZE : -EINVAL;
		if (len)
			memcpy(m->buf, shmqi_trec_data(rec, flags, hlen), len);
		if (hlen && shmqi_held_copy(&sub->hdrs, rec + 1, hlen) < 0)
			return -ENOMEM;
		if (!still_valid(sub, rec, v)) {
			lapped(sub); /* overwritten while we copied: what we have is torn */
			continue;
		}
		if (!hlen || !expired(sub, sub->hdrs.buf, hlen))
			break;
		sub->hdrs.len = 0;
	}
	sub->cursor++;
	sub->received++;
	sub->lost_before = sub->skipped_before = 0;
	if (sub->lat_on && m->info.ts_ns) /* shmq_now_ns(): after our loads of the record */
		shmqi_lat_record(&sub->lat, SHMQ_LATENCY_DELIVERY,
				 (int64_t)(shmq_now_ns() - m->info.ts_ns));
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
	uint32_t len, flags, hlen;
	int r;

	if (!sub || !ret_data)
		return -EINVAL;
	if (sub->peeked == sub->peek_cap && grow_peeks(sub) < 0)
		return -ENOMEM;
again:
	r = next_rec(sub, &rec, &v);
	if (r < 0)
		return sub_idle(sub, r);
	len = rec->len;
	flags = rec->flags;
	hlen = flags ? rec->hdrs_len : 0;
	if (!shmqi_trec_sane(len, flags, hlen, sub->t.max_msg))
		return corrupt(sub);
	if (hlen && expired(sub, rec + 1, hlen))
		goto again; /* the next one, then */
	info_of(sub, rec, len, &info);
	shmqi_held_point(&sub->hdrs, rec + 1, hlen);
	sub->peek_seqs[sub->peeked++] = sub->cursor;
	sub->cursor++;
	sub->received++;
	sub->lost_before = sub->skipped_before = 0;
	*ret_data = shmqi_trec_data(rec, flags, hlen);
	if (sub->lat_on && info.ts_ns) /* none without a publish time */
		shmqi_lat_record(&sub->lat, SHMQ_LATENCY_DELIVERY,
				 (int64_t)(shmq_now_ns() - info.ts_ns));
	if (ret_info)
		*ret_info = info;
	return (int)len;
}

/* Is peeked record @seq still there? */
static bool peeked_intact(const shmq_sub *sub, uint64_t seq)
{
	const struct shmqi_trec *rec = shmqi_slot_at(&sub->t, seq);
	uint64_t v;

	atomic_thread_fence(memory_order_acquire); /* A4/A5, as in still_valid() */
	if (sub->t.policy == SHMQ_TOPIC_LOSSY) {
		v = atomic_load_explicit(&rec->stamp, memory_order_relaxed);
		return shmqi_stamp_seq(v) <= seq;
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
		if (sub->hdrs.len) { /* only the last of a batch may have headers */
			i++;
			break;
		}
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

/*
 * Before a park: a record claimed at the cursor and not committed (the tail is past it) is
 * looked at again after a claim timeout, since a dead claimant's record is skipped by looking.
 * Otherwise nothing is due, and the park lasts until a producer publishes or closes: a
 * claim made meanwhile is seen when the record after it is published, whose wake brings
 * the subscriber here again.
 */
static bool sub_watch(void *arg, struct shmqi_peers *p)
{
	shmq_sub *sub = arg;
	/* A3: pairs with R3 in claim_seqs(), as in not_ready() */
	uint64_t tail = atomic_load_explicit(&sub->t.ctl->tail, memory_order_acquire);

	if (tail > sub->cursor)
		shmqi_peers_look_every(p, sub->t.timeout_ns);
	return true;
}

static void sub_ended(void *arg)
{
	(void)arg; /* it watches no process */
}

static const struct shmqi_peer_ops sub_peers = { sub_watch, sub_ended };

int shmqi_sub_waitable(shmq_sub *sub, struct shmqi_waitable *w, uint64_t *slice_ns)
{
	(void)slice_ns; /* sub_watch() says, park by park, when a look is due */
	if (!sub)
		return -EINVAL;
	if (sub->ro)
		return -EOPNOTSUPP; /* it cannot announce that it parks */
	*w = (struct shmqi_waitable){ .park_state = &sub->t.ctl->park_state,
				      .w = &sub->t.ctl->wait,
				      .enabled = &sub->park_on,
				      .ready = sub_ready,
				      .arg = sub,
				      .fdring = &sub->fdring,
				      .ignore_closed = sub->ignore_closed,
				      .peers = &sub_peers };
	return 0;
}

static int sub_fill(void *handle, struct shmqi_waitable *w, uint64_t *slice_ns)
{
	return shmqi_sub_waitable(handle, w, slice_ns);
}

int shmq_sub_prep_wait(shmq_sub *sub, struct io_uring_sqe *sqe, uint64_t user_data)
{
	return shmqi_handle_prep_wait(sub_fill, sub, sqe, user_data);
}

int shmq_sub_wait_done(shmq_sub *sub)
{
	return shmqi_handle_wait_done(sub_fill, sub);
}

int shmq_sub_fd(shmq_sub *sub)
{
	return shmqi_handle_fd(sub_fill, sub);
}

/* A read-only subscriber's wait: spin, then look every RO_POLL_NS (it cannot park). */
static int ro_wait(shmq_sub *sub, uint64_t spin_ns, uint64_t deadline)
{
	uint64_t spin_end = shmqi_deadline(spin_ns), now, ns;
	struct timespec ts;

	for (;;) {
		if (sub_ready(sub, true))
			return 0;
		if (shmqi_wait_closed_for(&sub->t.ctl->wait, sub->ignore_closed))
			return -EPIPE;
		now = shmqi_mono_ns();
		if (shmqi_ro_name_gone(sub->ro_name, now))
			return -EIDRM; /* all read; a producer that opens the name goes elsewhere */
		if (now >= deadline)
			return -ETIMEDOUT;
		if (now < spin_end)
			continue;
		ns = deadline - now < RO_POLL_NS ? deadline - now : RO_POLL_NS;
		ts = (struct timespec){ .tv_sec = 0, .tv_nsec = (long)ns };
		nanosleep(&ts, NULL);
	}
}

int shmq_sub_wait(shmq_sub *sub, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmqi_waitable w;
	uint64_t slice = 0;
	int r;

	if (sub && sub->ro)
		return ro_wait(sub, spin_ns, shmqi_deadline(timeout_ns));
	r = shmqi_sub_waitable(sub, &w, &slice);

	if (r < 0)
		return r;
	return shmqi_wait_on(&w, spin_ns, shmqi_deadline(timeout_ns), slice);
}

int shmq_sub_stats(const shmq_sub *sub, struct shmq_sub_stats *ret_stats)
{
	if (!sub || !ret_stats)
		return -EINVAL;
	ret_stats->cursor = sub->cursor;
	/* relaxed: statistics */
	ret_stats->tail = atomic_load_explicit(&sub->t.ctl->tail, memory_order_relaxed);
	ret_stats->received = sub->received;
	ret_stats->lost = sub->lost;
	ret_stats->skipped = sub->skipped;
	return 0;
}

int shmq_sub_headers(const shmq_sub *sub, const void **ret_hdrs, size_t *ret_len)
{
	return sub ? shmqi_held_get(&sub->hdrs, ret_hdrs, ret_len) : -EINVAL;
}

void shmqi_sub_forget_closes(shmq_sub *sub)
{
	sub->ignore_closed = shmqi_wait_close_seen(&sub->t.ctl->wait);
}

uint64_t shmq_sub_expired(const shmq_sub *sub)
{
	return sub ? sub->expired : 0;
}
