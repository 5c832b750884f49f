// SPDX-License-Identifier: MIT
/* channel.c - the SPSC channel: one producer, one consumer, variable-length records in a ring. */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"
#include "shm_layout.h"
#include "wait.h"

/*
 * Ordering (docs/design.md walks through it):
 * R1/A1  the producer's release store of a record's stamp, the consumer's acquire load of
 *        it: the record's header and payload are complete once the stamp matches.
 * R2/A2  the consumer's release store of read_pos, the producer's acquire load of it: the
 *        consumer has finished reading every byte before read_pos, so they may be reused.
 * R3/A3  a role owner's seq_cst CAS of the head to pid 0 on giving up its role, the seq_cst
 *        grab of the next owner (O1 in internal.h): the positions the previous owner left
 *        are visible to the one that resumes.
 */

#define SLOT SHMQI_REC_ALIGN /* room kept free after each record for its successor's stamp */
#define HDR_LEN ((uint64_t)sizeof(struct shmqi_rec))
#define PEER_CHECK_NS 10000000ull /* a waiter judges the other role's owner this often */

struct shmq_channel {
	struct shmqi_seg seg;
	struct shmqi_chan *ctl;
	uint8_t *ring;
	uint64_t cap;
	uint64_t mask;
	uint32_t max_msg;
	bool no_ts; /* SHMQI_NO_TIMESTAMPS: records carry ts_ns 0 */
	unsigned role; /* SHMQ_OPEN_PRODUCER or SHMQ_OPEN_CONSUMER */
	int32_t pid;
	uint64_t head; /* our role's owner head, as taking the role left it */
	/* producer */
	uint64_t wpos; /* next record position */
	uint64_t seq; /* next sequence number */
	uint64_t cached_rpos; /* consumer position last seen */
	uint64_t resv_pos; /* the outstanding reservation, when resv_active */
	uint64_t resv_len;
	bool resv_active;
	bool room_park_on; /* this handle has seen parking for room switched on */
	bool peer_gone; /* a wait found the other role's owner dead, and nothing to go on with */
	size_t room_len; /* what shmq_channel_wait_room() waits to fit */
	uint64_t peer_check_ns; /* when a wait last judged the other role's owner */
	uint32_t peer_polls; /* spinning looks since, counted to read the clock less often */
	struct shmqi_pidfd peer_fd; /* the other role's owner, watched while parked */
	/* consumer */
	uint64_t rpos; /* released position */
	uint64_t peek_pos; /* next record to read */
	uint64_t last_seq; /* sequence of the last message read, 0 before the first */
	unsigned peeked; /* messages read since the last release */
	bool broken; /* a corrupt record was seen */
	bool park_on; /* this handle has seen parking switched on */
	struct shmqi_fdring *fdring; /* shmq_channel_fd(), when asked for */
};

static inline uint64_t rec_size(uint64_t len)
{
	return (HDR_LEN + len + SHMQI_REC_ALIGN - 1) & ~(uint64_t)(SHMQI_REC_ALIGN - 1);
}

static inline struct shmqi_rec *rec_at(const struct shmq_channel *ch, uint64_t pos)
{
	return (struct shmqi_rec *)(ch->ring + (pos & ch->mask));
}

/* ---- configuration and attach ---- */

/*
 * The largest payload for a ring of @cap bytes: its record fits twice with one SLOT to
 * spare, so that a message of any allowed size fits into an empty ring at any offset
 * (either before the lap's end, or after a padding record of less than one record).
 */
static uint64_t max_payload(uint64_t cap)
{
	return (((cap - SLOT) / 2) & ~(uint64_t)(SHMQI_REC_ALIGN - 1)) - HDR_LEN;
}

static int resolve_cfg(const struct shmq_channel_config *in, struct shmq_channel_config *out)
{
	static const struct shmq_channel_config none;
	uint64_t cap, fit;

	if (!in)
		in = &none;
	cap = in->capacity ? in->capacity : SHMQ_DEFAULT_CAPACITY;
	if (cap < SHMQ_MIN_CAPACITY || cap > SHMQ_MAX_CAPACITY || (cap & (cap - 1)))
		return -EINVAL;
	if (in->mode & ~0777u)
		return -EINVAL;
	fit = max_payload(cap);
	if (fit > SHMQ_MAX_MSG_LIMIT)
		fit = SHMQ_MAX_MSG_LIMIT;
	out->capacity = cap;
	out->max_msg =
		in->max_msg ? in->max_msg
			    : (uint32_t)(fit < SHMQ_DEFAULT_MAX_MSG ? fit : SHMQ_DEFAULT_MAX_MSG);
	out->mode = in->mode ? in->mode : SHMQ_DEFAULT_MODE;
	return out->max_msg <= fit ? 0 : -EINVAL;
}

/* What a creating open writes into a new channel. */
struct chan_new {
	struct shmq_channel_config cfg;
	uint32_t flags; /* SHMQI_NO_TIMESTAMPS */
};

static int chan_init(struct shmqi_seg *seg, void *arg)
{
	const struct chan_new *nc = arg;
	struct shmqi_seg_hdr *hdr = (struct shmqi_seg_hdr *)seg->base;
	struct shmqi_chan *ctl = (struct shmqi_chan *)(seg->base + SHMQI_CHAN_BODY_OFF);

	/* Nobody else reads these until R0 in segment.c publishes the header. */
	hdr->body_off = SHMQI_CHAN_BODY_OFF;
	ctl->capacity = nc->cfg.capacity;
	ctl->ring_off = SHMQI_CHAN_RING_OFF;
	ctl->max_msg = nc->cfg.max_msg;
	ctl->flags = nc->flags;
	atomic_store_explicit(&ctl->write_pos, 0, memory_order_relaxed);
	atomic_store_explicit(&ctl->next_seq, 1, memory_order_relaxed);
	atomic_store_explicit(&ctl->read_pos, 0, memory_order_relaxed);
	return 0;
}

/* Everything the fast paths rely on is read once here, checked, and kept in the handle. */
static int check_chan(struct shmq_channel *ch, const struct shmq_channel_config *want)
{
	const struct shmqi_seg_hdr *hdr = (const struct shmqi_seg_hdr *)ch->seg.base;
	const struct shmqi_chan *ctl;
	uint64_t cap;

	if (hdr->body_off + sizeof(*ctl) > ch->seg.size || hdr->body_off % 128)
		return -EPROTO;
	ctl = (const struct shmqi_chan *)(ch->seg.base + hdr->body_off);
	cap = ctl->capacity;
	if (cap < SHMQ_MIN_CAPACITY || cap > SHMQ_MAX_CAPACITY || (cap & (cap - 1)))
		return -EPROTO;
	if (ctl->ring_off < hdr->body_off + sizeof(*ctl) || ctl->ring_off % 4096 ||
	    ctl->ring_off + cap != ch->seg.size)
		return -EPROTO;
	if (ctl->max_msg > SHMQ_MAX_MSG_LIMIT || ctl->max_msg > max_payload(cap))
		return -EPROTO;
	if (!ch->seg.created &&
	    (shmqi_cfg_differs("channel", "capacity", cap, want->capacity) ||
	     shmqi_cfg_differs("channel", "max_msg", ctl->max_msg, want->max_msg)))
		return -EBADE;
	ch->ctl = (struct shmqi_chan *)ctl;
	ch->ring = ch->seg.base + ctl->ring_off;
	ch->cap = cap;
	ch->mask = cap - 1;
	ch->max_msg = ctl->max_msg;
	ch->no_ts = ctl->flags & SHMQI_NO_TIMESTAMPS;
	return 0;
}

/*
 * A role's owner is recorded as a topic's table entries are (O1 in internal.h, owner.c):
 * pid, start time and pid namespace, so a reused pid is not taken for the dead owner (even
 * when it is ours) and an owner in another pid namespace is not judged. A3: the grab's CAS
 * (seq_cst) in shmqi_owner_take_one() pairs with R3, the final CAS of the head to pid 0
 * when the previous owner gave the role up.
 */
static struct shmqi_owner *role_owner(const struct shmq_channel *ch, unsigned role)
{
	return role == SHMQ_OPEN_PRODUCER ? &ch->ctl->producer : &ch->ctl->consumer;
}

/* A committed record at @pos (stamp matches, sane length), or NULL. */
static const struct shmqi_rec *committed_at(const struct shmq_channel *ch, uint64_t pos)
{
	const struct shmqi_rec *rec = rec_at(ch, pos);
	uint64_t off = pos & ch->mask;

	/* A1: pairs with R1 in publish(), send_many() and write_pad(). */
	if (atomic_load_explicit(&rec->stamp, memory_order_acquire) != (pos | 1))
		return NULL;
	if (rec->flags & ~SHMQI_REC_FLAGS_KNOWN || off + HDR_LEN + rec->len > ch->cap)
		return NULL;
	return rec;
}

/*
 * Resume from what the shared memory says, then walk over records a previous producer
 * committed without advertising them (it died between the two stores).
 */
static int producer_resume(struct shmq_channel *ch)
{
	uint64_t w = atomic_load_explicit(&ch->ctl->write_pos, memory_order_relaxed);
	uint64_t s = atomic_load_explicit(&ch->ctl->next_seq, memory_order_relaxed);
	uint64_t r = atomic_load_explicit(&ch->ctl->read_pos, memory_order_acquire); /* A2 */
	const struct shmqi_rec *rec;
	uint64_t walked = 0;

	if ((w | r) % SHMQI_REC_ALIGN || w - r + ch->cap > 2 * ch->cap || s == 0)
		return -EPROTO;
	while (walked < ch->cap && (rec = committed_at(ch, w))) {
		if (!(rec->flags & SHMQI_REC_PAD))
			s = rec->seq + 1;
		w += rec_size(rec->len);
		walked += rec_size(rec->len);
	}
	if (r > w || w - r > ch->cap)
		return -EPROTO;
	ch->wpos = w;
	ch->seq = s;
	ch->cached_rpos = r;
	return 0;
}

static int consumer_resume(struct shmq_channel *ch)
{
	uint64_t r = atomic_load_explicit(&ch->ctl->read_pos, memory_order_relaxed);

	if (r % SHMQI_REC_ALIGN)
		return -EPROTO;
	ch->rpos = ch->peek_pos = r;
	return 0;
}

static int take_role(struct shmq_channel *ch, unsigned role)
{
	struct shmqi_owner *owner = role_owner(ch, role);
	int r;

	ch->role = role;
	ch->pid = (int32_t)getpid();
	r = shmqi_owner_take_one(owner, ch->pid, shmqi_proc_start(ch->pid), &ch->head);
	if (r < 0)
		return r;
	/* At once: the other role's parked waiter watches whoever holds our role, now us (a
	 * death between the take and this poke is the one it misses: no slice, no watch). */
	shmqi_wait_poke(role == SHMQ_OPEN_PRODUCER ? &ch->ctl->wait : &ch->ctl->room);
	r = role == SHMQ_OPEN_PRODUCER ? producer_resume(ch) : consumer_resume(ch);
	if (r < 0) {
		shmqi_owner_free(owner, ch->head, ch->pid, NULL, NULL, NULL);
		return r;
	}
	/* a close a reaper made for our dead predecessor ends (shmq_channel_reap()) */
	shmqi_wait_close(role == SHMQ_OPEN_PRODUCER ? &ch->ctl->wait : &ch->ctl->room, false);
	return 0;
}

#define OPEN_FLAGS                                                                     \
	(SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | SHMQ_OPEN_PRODUCER | SHMQ_OPEN_CONSUMER | \
	 SHMQ_OPEN_NO_TIMESTAMPS)

int shmq_channel_open(shmq_bus *bus, const char *name, unsigned flags,
		      const struct shmq_channel_config *cfg, shmq_channel **ret_ch)
{
	struct chan_new want;
	char path[SHMQI_PATH_MAX];
	unsigned role = flags & (SHMQ_OPEN_PRODUCER | SHMQ_OPEN_CONSUMER);
	unsigned seg_flags = 0;
	shmq_channel *ch;
	int r;

	shmqi_detail_clear();
	if (!ret_ch || (flags & ~OPEN_FLAGS) ||
	    (role != SHMQ_OPEN_PRODUCER && role != SHMQ_OPEN_CONSUMER))
		return -EINVAL;
	if ((flags & SHMQ_OPEN_EXCL) && !(flags & SHMQ_OPEN_CREATE))
		return -EINVAL;
	r = shmqi_seg_path(bus, name, path, sizeof(path));
	if (r == 0)
		r = resolve_cfg(cfg, &want.cfg);
	if (r < 0)
		return r;
	want.flags = (flags & SHMQ_OPEN_NO_TIMESTAMPS) ? SHMQI_NO_TIMESTAMPS : 0;
	seg_flags |= (flags & SHMQ_OPEN_CREATE) ? SHMQI_SEG_CREATE : 0;
	seg_flags |= (flags & SHMQ_OPEN_EXCL) ? SHMQI_SEG_EXCL : 0;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	r = shmqi_reg_open(bus, SHMQI_KIND_CHANNEL, name, flags, &(struct shmq_topic_config){ 0 },
			   &(bool){ false });
	if (r == 0)
		r = shmqi_seg_open(path, SHMQI_KIND_CHANNEL,
				   SHMQI_CHAN_RING_OFF + want.cfg.capacity, want.cfg.mode,
				   seg_flags, chan_init, &want, &ch->seg);
	if (r < 0)
		goto err_free;
	if (ch->seg.created)
		shmqi_reg_created(bus, SHMQI_KIND_CHANNEL, name);
	r = check_chan(ch, cfg ? cfg : &(struct shmq_channel_config){ 0 });
	if (r == 0)
		r = take_role(ch, role);
	if (r < 0)
		goto err_close;
	*ret_ch = ch;
	return 0;

err_close:
	shmqi_seg_close(&ch->seg);
err_free:
	free(ch);
	return r;
}

void shmq_channel_close(shmq_channel *ch)
{
	struct shmqi_waitable w;
	bool mine;

	if (!ch)
		return;
	/* A forked child's copy of the handle: its close gives up nothing of the parent's. */
	mine = ch->ctl && getpid() == ch->pid;
	/* R3: pairs with A3 in shmqi_owner_take_one(); only if we still own it. */
	if (mine &&
	    shmqi_owner_free(role_owner(ch, ch->role), ch->head, ch->pid, NULL, NULL, NULL) &&
	    ch->role == SHMQ_OPEN_PRODUCER)
		shmqi_wait_close(&ch->ctl->wait, true); /* a parked consumer: -EPIPE */
	if (ch->fdring)
		shmqi_fdring_free(ch->fdring,
				  mine && shmqi_channel_waitable(ch, &w, NULL) == 0 ? &w : NULL);
	shmqi_pidfd_close(&ch->peer_fd);
	shmqi_seg_close(&ch->seg);
	free(ch);
}

/* ---- producer ---- */

static int check_producer(const shmq_channel *ch)
{
	if (!ch)
		return -EINVAL;
	if (ch->role != SHMQ_OPEN_PRODUCER)
		return -EBADF;
	return ch->resv_active ? -EBUSY : 0;
}

/* Is there room for @need bytes at wpos? Looks at the consumer only when the cache says no. */
static int ensure_room(struct shmq_channel *ch, uint64_t need)
{
	uint64_t r;

	if (ch->wpos + need - ch->cached_rpos <= ch->cap)
		return 0;
	/* A2: pairs with R2 in release_to(): the consumer is done with bytes before r. */
	r = atomic_load_explicit(&ch->ctl->read_pos, memory_order_acquire);
	if (r < ch->cached_rpos || r > ch->wpos || r % SHMQI_REC_ALIGN)
		return -EPROTO;
	ch->cached_rpos = r;
	return ch->wpos + need - r <= ch->cap ? 0 : -EAGAIN;
}

/* Zero the stamp where the next record will start, so stale bytes there never match. */
static inline void clear_successor(struct shmq_channel *ch, uint64_t next_pos)
{
	/* Relaxed: ordered before the consumer can look there by the R1 that follows. */
	atomic_store_explicit(&rec_at(ch, next_pos)->stamp, 0, memory_order_relaxed);
}

/* Fill the rest of the lap with a padding record and publish it at once. */
static int write_pad(struct shmq_channel *ch)
{
	uint64_t size = ch->cap - (ch->wpos & ch->mask);
	struct shmqi_rec *rec = rec_at(ch, ch->wpos);
	int r;

	r = ensure_room(ch, size + SLOT);
	if (r < 0)
		return r;
	rec->seq = ch->seq;
	rec->ts_ns = 0;
	rec->len = (uint32_t)(size - HDR_LEN);
	rec->flags = SHMQI_REC_PAD;
	clear_successor(ch, ch->wpos + size);
	/* R1: pairs with A1 in committed_at()/next_msg(). */
	atomic_store_explicit(&rec->stamp, ch->wpos | 1, memory_order_release);
	ch->wpos += size;
	return 0;
}

/* Find room for a record of @len payload bytes at wpos (padding the lap end if needed). */
/* The padding a record of @size bytes at wpos needs first, so as not to cross the lap's end. */
static inline uint64_t pad_before(const struct shmq_channel *ch, uint64_t size)
{
	uint64_t off = ch->wpos & ch->mask;

	return off + size > ch->cap ? ch->cap - off : 0;
}

static int claim(struct shmq_channel *ch, size_t len, struct shmqi_rec **ret_rec)
{
	uint64_t size;
	int r;

	if (len > ch->max_msg)
		return -EMSGSIZE;
	size = rec_size(len);
	if (pad_before(ch, size)) {
		r = write_pad(ch);
		if (r < 0)
			return r;
	}
	r = ensure_room(ch, size + SLOT);
	if (r < 0)
		return r;
	*ret_rec = rec_at(ch, ch->wpos);
	return 0;
}

/* A record's publish time: now, or 0 in a channel made with SHMQ_OPEN_NO_TIMESTAMPS. */
static inline uint64_t stamp_now(const struct shmq_channel *ch)
{
	return ch->no_ts ? 0 : shmqi_now_ns();
}

/* Write the header, clear the successor's stamp, advance; the stamp itself is the caller's. */
static inline uint64_t fill(struct shmq_channel *ch, struct shmqi_rec *rec, size_t len, uint64_t ts)
{
	uint64_t pos = ch->wpos;

	rec->seq = ch->seq++;
	rec->ts_ns = ts;
	rec->len = (uint32_t)len;
	rec->flags = 0;
	ch->wpos += rec_size(len);
	clear_successor(ch, ch->wpos);
	return pos;
}

/* For stats and for a producer that takes over after this one dies. */
static inline void advertise(struct shmq_channel *ch)
{
	atomic_store_explicit(&ch->ctl->next_seq, ch->seq, memory_order_relaxed);
	atomic_store_explicit(&ch->ctl->write_pos, ch->wpos, memory_order_relaxed);
}

/* Complete the record at wpos, whose payload is written, and make it visible. */
static inline void publish(struct shmq_channel *ch, struct shmqi_rec *rec, size_t len)
{
	uint64_t pos = fill(ch, rec, len, stamp_now(ch));

	/* R1: pairs with A1 in next_msg(): header and payload are complete. */
	atomic_store_explicit(&rec->stamp, pos | 1, memory_order_release);
	advertise(ch);
	shmqi_notify(&ch->ctl->park_state, &ch->ctl->wait);
}

int shmq_channel_send(shmq_channel *ch, const void *data, size_t len)
{
	struct shmqi_rec *rec;
	int r;

	r = check_producer(ch);
	if (r < 0)
		return r;
	if (!data && len)
		return -EINVAL;
	r = claim(ch, len, &rec);
	if (r < 0)
		return r;
	if (len)
		memcpy(rec + 1, data, len);
	publish(ch, rec, len);
	return 0;
}

/*
 * Every record but the first is stamped relaxed as it is written; the first is stamped
 * last with release (R1), which publishes the whole batch: the consumer reaches the later
 * records only through the first.
 */
int shmq_channel_send_many(shmq_channel *ch, const struct iovec *msgs, size_t n)
{
	struct shmqi_rec *rec, *first = NULL;
	uint64_t ts, pos, first_pos = 0;
	size_t i;
	int r = 0;

	r = check_producer(ch);
	if (r < 0)
		return r;
	if (!msgs || n == 0 || n > INT32_MAX)
		return -EINVAL;
	ts = stamp_now(ch);
	for (i = 0; i < n; i++) {
		r = msgs[i].iov_base || !msgs[i].iov_len ? claim(ch, msgs[i].iov_len, &rec)
							 : -EINVAL;
		if (r < 0)
			break;
		if (msgs[i].iov_len)
			memcpy(rec + 1, msgs[i].iov_base, msgs[i].iov_len);
		pos = fill(ch, rec, msgs[i].iov_len, ts);
		if (first)
			atomic_store_explicit(&rec->stamp, pos | 1, memory_order_relaxed);
		else
			first = rec, first_pos = pos;
	}
	if (!first)
		return r;
	atomic_store_explicit(&first->stamp, first_pos | 1, memory_order_release); /* R1 */
	advertise(ch);
	shmqi_notify(&ch->ctl->park_state, &ch->ctl->wait);
	return (int)i;
}

int shmq_channel_reserve(shmq_channel *ch, size_t len, void **ret_buf)
{
	struct shmqi_rec *rec;
	int r;

	r = check_producer(ch);
	if (r < 0)
		return r;
	if (!ret_buf)
		return -EINVAL;
	r = claim(ch, len, &rec);
	if (r < 0)
		return r;
	ch->resv_active = true;
	ch->resv_pos = ch->wpos;
	ch->resv_len = len;
	*ret_buf = rec + 1;
	return 0;
}

int shmq_channel_commit(shmq_channel *ch, size_t len)
{
	if (!ch)
		return -EINVAL;
	if (ch->role != SHMQ_OPEN_PRODUCER)
		return -EBADF;
	if (!ch->resv_active || len > ch->resv_len)
		return -EINVAL;
	assert(ch->resv_pos == ch->wpos);
	publish(ch, rec_at(ch, ch->wpos), len);
	ch->resv_active = false;
	return 0;
}

/* ---- consumer ---- */

struct view {
	const uint8_t *data;
	struct shmq_msg_info info;
	uint64_t next_pos;
};

static int check_consumer(const shmq_channel *ch)
{
	if (!ch)
		return -EINVAL;
	if (ch->role != SHMQ_OPEN_CONSUMER)
		return -EBADF;
	return ch->broken ? -EBADMSG : 0;
}

static int corrupt(struct shmq_channel *ch)
{
	ch->broken = true;
	return -EBADMSG;
}

static void release_to(struct shmq_channel *ch, uint64_t pos)
{
	ch->rpos = pos;
	/* R2: pairs with A2 in ensure_room(): we are done reading every byte before pos. */
	atomic_store_explicit(&ch->ctl->read_pos, pos, memory_order_release);
	/* W1 for a producer parked for room; a relaxed load until one first parks. */
	shmqi_notify(&ch->ctl->room_park_state, &ch->ctl->room);
}

/* Step over a padding record; give its room back at once if nothing else is held. */
static int skip_pad(struct shmq_channel *ch, uint64_t off, uint32_t len)
{
	if (off + HDR_LEN + len != ch->cap)
		return corrupt(ch);
	ch->peek_pos += ch->cap - off;
	if (ch->peeked == 0)
		release_to(ch, ch->peek_pos);
	return 0;
}

/*
 * While the consumer polls an empty ring, ask for the line after the expected record's
 * header too. A record of 33-96 payload bytes spans two lines; without this the second
 * line is fetched only after the stamp is seen, a second cache-to-cache transfer in series
 * (64-byte ping-pong: 1.35x the raw cache-line RTT without, 1.10x with; docs/benchmarks.md).
 * A prefetch is a hint, not an access: it cannot fault and needs no ordering.
 */
static inline void prefetch_second_line(const struct shmqi_rec *rec)
{
	__builtin_prefetch((const uint8_t *)rec + 64);
}

/* The next message at peek_pos, without taking it. Every length read is checked first. */
static int next_msg(struct shmq_channel *ch, struct view *v)
{
	const struct shmqi_rec *rec;
	uint64_t stamp, off = 0;
	uint32_t len = 0, flags = 0;
	int pads, r;

	for (pads = 0; pads < 2; pads++) {
		rec = rec_at(ch, ch->peek_pos);
		/* A1: pairs with R1 in publish(), send_many() and write_pad(). */
		stamp = atomic_load_explicit(&rec->stamp, memory_order_acquire);
		if (stamp == 0) {
			prefetch_second_line(rec);
			return -EAGAIN;
		}
		if (stamp != (ch->peek_pos | 1))
			return corrupt(ch);
		off = ch->peek_pos & ch->mask;
		len = rec->len;
		flags = rec->flags;
		if (flags != SHMQI_REC_PAD)
			break;
		r = skip_pad(ch, off, len);
		if (r < 0)
			return r;
	}
	if (pads == 2 || flags != 0 || len > ch->max_msg || off + HDR_LEN + len > ch->cap)
		return corrupt(ch);
	v->info.seq = rec->seq;
	if (ch->last_seq && v->info.seq != ch->last_seq + 1)
		return corrupt(ch);
	v->info.ts_ns = rec->ts_ns;
	v->info.len = len;
	v->data = (const uint8_t *)(rec + 1);
	v->next_pos = ch->peek_pos + rec_size(len);
	return 0;
}

/* Nothing to read (-EAGAIN): a pollable fd, if there is one, must wait again. */
static int idle(struct shmq_channel *ch, int r)
{
	struct shmqi_waitable w;

	if (r == -EAGAIN && ch->fdring && shmqi_channel_waitable(ch, &w, NULL) == 0)
		shmqi_fdring_idle(ch->fdring, &w);
	return r;
}

static void take(struct shmq_channel *ch, const struct view *v)
{
	ch->peek_pos = v->next_pos;
	ch->last_seq = v->info.seq;
	ch->peeked++;
}

int shmq_channel_peek(shmq_channel *ch, const void **ret_data, struct shmq_msg_info *ret_info)
{
	struct view v;
	int r;

	r = check_consumer(ch);
	if (r < 0)
		return r;
	if (!ret_data)
		return -EINVAL;
	r = next_msg(ch, &v);
	if (r < 0)
		return idle(ch, r);
	take(ch, &v);
	*ret_data = v.data;
	if (ret_info)
		*ret_info = v.info;
	return (int)v.info.len;
}

int shmq_channel_release(shmq_channel *ch)
{
	int n;

	if (!ch)
		return -EINVAL;
	if (ch->role != SHMQ_OPEN_CONSUMER)
		return -EBADF;
	n = (int)ch->peeked;
	if (ch->peek_pos != ch->rpos)
		release_to(ch, ch->peek_pos);
	ch->peeked = 0;
	return n;
}

int shmq_channel_recv_many(shmq_channel *ch, struct shmq_rmsg *msgs, size_t n)
{
	struct view v;
	size_t i;
	int r = 0;

	r = check_consumer(ch);
	if (r < 0)
		return r;
	if (!msgs || n == 0 || n > INT32_MAX)
		return -EINVAL;
	if (ch->peeked)
		return -EBUSY;
	for (i = 0; i < n; i++) {
		r = next_msg(ch, &v);
		if (r == 0 && v.info.len > msgs[i].cap)
			r = -EMSGSIZE;
		if (r == 0 && v.info.len && !msgs[i].buf)
			r = -EINVAL;
		if (r < 0)
			break;
		if (v.info.len) /* buf may be NULL for an empty message */
			memcpy(msgs[i].buf, v.data, v.info.len);
		msgs[i].info = v.info;
		take(ch, &v);
	}
	if (i == 0)
		return idle(ch, r);
	shmq_channel_release(ch);
	return (int)i;
}

int shmq_channel_recv(shmq_channel *ch, void *buf, size_t buf_len, struct shmq_msg_info *ret_info)
{
	struct shmq_rmsg m = { .buf = buf, .cap = buf_len };
	int r;

	r = shmq_channel_recv_many(ch, &m, 1);
	if (r < 0)
		return r;
	if (ret_info)
		*ret_info = m.info;
	return (int)m.info.len;
}

/*
 * Is there a message to receive (or a corrupt record to report)? A1 as in next_msg(). A
 * padding record alone is not one: a producer pads the lap's end before it finds room for
 * the record after it, so the pad can be published long before that record.
 */
static bool chan_ready(void *arg, bool thorough)
{
	shmq_channel *ch = arg;
	const struct shmqi_rec *rec = rec_at(ch, ch->peek_pos);
	uint64_t stamp = atomic_load_explicit(&rec->stamp, memory_order_acquire);

	(void)thorough;
	if (stamp != (ch->peek_pos | 1) || rec->flags != SHMQI_REC_PAD)
		return stamp != 0;
	if ((ch->peek_pos & ch->mask) + HDR_LEN + rec->len != ch->cap)
		return true; /* a pad that does not end the lap: the receive reports it */
	rec = rec_at(ch, ch->peek_pos + ch->cap - (ch->peek_pos & ch->mask));
	return atomic_load_explicit(&rec->stamp, memory_order_acquire) != 0;
}

int shmqi_channel_waitable(shmq_channel *ch, struct shmqi_waitable *w, uint64_t *slice_ns)
{
	int r = check_consumer(ch);

	if (r < 0)
		return r;
	*w = (struct shmqi_waitable){ .park_state = &ch->ctl->park_state,
				      .w = &ch->ctl->wait,
				      .enabled = &ch->park_on,
				      .ready = chan_ready,
				      .arg = ch,
				      .fdring = &ch->fdring };
	(void)slice_ns; /* a channel never needs waking without a writer */
	return 0;
}

static int chan_fill(void *handle, struct shmqi_waitable *w, uint64_t *slice_ns)
{
	return shmqi_channel_waitable(handle, w, slice_ns);
}

int shmq_channel_prep_wait(shmq_channel *ch, struct io_uring_sqe *sqe, uint64_t user_data)
{
	return shmqi_handle_prep_wait(chan_fill, ch, sqe, user_data);
}

int shmq_channel_wait_done(shmq_channel *ch)
{
	return shmqi_handle_wait_done(chan_fill, ch);
}

int shmq_channel_fd(shmq_channel *ch)
{
	return shmqi_handle_fd(chan_fill, ch);
}

/*
 * Is the other role's owner @o dead? Waits judge it at most every PEER_CHECK_NS per handle,
 * across calls (reading /proc costs microseconds, and a consumer may wait once per
 * message), while spinning; the first wait of a handle judges at its first look, and a
 * parked one when its pidfd says the owner ended (peer_ended()). A role nobody holds is not
 * a dead one: somebody may attach.
 */
static bool peer_dead(shmq_channel *ch, const struct shmqi_owner *o, bool thorough)
{
	uint64_t now, head;
	int ended;

	/* A spinning look (not thorough) reads the clock only every 64th time: it is polled. */
	if (!thorough && ch->peer_check_ns && ++ch->peer_polls % 64 != 0)
		return false;
	now = shmqi_now_ns();
	if (ch->peer_check_ns && now - ch->peer_check_ns < PEER_CHECK_NS)
		return false;
	ch->peer_check_ns = now;
	head = atomic_load_explicit(&o->head, memory_order_acquire);
	if (shmqi_head_pid(head) == 0)
		return false;
	/* The pidfd a park watched, if it is this owner's: a poll instead of /proc. */
	ended = shmqi_pidfd_ended(&ch->peer_fd, head);
	return ended >= 0 ? ended == 1 : !shmqi_entry_alive(o, head);
}

/*
 * What shmq_channel_wait() waits for: a message, or a producer that died (then none will
 * come until another producer takes the role over). After a death is seen, the ring is
 * looked at once more: what the producer published before it died is delivered first.
 */
static bool chan_msg(void *arg, bool thorough)
{
	shmq_channel *ch = arg;

	if (chan_ready(ch, thorough))
		return true;
	if (!peer_dead(ch, &ch->ctl->producer, thorough))
		return false;
	ch->peer_gone = !chan_ready(ch, thorough);
	return true;
}

/* While parked, the other role's owner is watched: its death ends the park at once. */
static bool watch_peer(void *arg, struct shmqi_peers *p)
{
	shmq_channel *ch = arg;
	unsigned other = ch->role == SHMQ_OPEN_PRODUCER ? SHMQ_OPEN_CONSUMER : SHMQ_OPEN_PRODUCER;

	return shmqi_watch_owner(&ch->peer_fd, role_owner(ch, other), p);
}

static void peer_ended(void *arg)
{
	shmq_channel *ch = arg;

	ch->peer_check_ns = 0; /* the next look judges the owner */
}

static const struct shmqi_peer_ops peer_watch = { watch_peer, peer_ended };

int shmq_channel_wait(shmq_channel *ch, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmqi_waitable w;
	int r = shmqi_channel_waitable(ch, &w, NULL);

	if (r < 0)
		return r;
	ch->peer_gone = false;
	w.ready = chan_msg;
	w.peers = &peer_watch;
	r = shmqi_wait_on(&w, spin_ns, shmqi_deadline(timeout_ns), 0);
	return r == 0 && ch->peer_gone ? -EPIPE : r;
}

/*
 * Would a claim of ch->room_len bytes fit now (its padding included: write_pad() and claim()
 * check the two in turn)? -EPROTO counts as yes: the send reports it.
 */
static bool room_now(shmq_channel *ch)
{
	uint64_t size = rec_size(ch->room_len);

	return ensure_room(ch, pad_before(ch, size) + size + SLOT) != -EAGAIN;
}

/*
 * What shmq_channel_wait_room() waits for: room, or a dead consumer (then no room will
 * come). After a death is seen, room is looked for once more, so a release the consumer
 * made just before it died is not lost.
 */
static bool chan_room(void *arg, bool thorough)
{
	shmq_channel *ch = arg;

	if (room_now(ch))
		return true;
	if (!peer_dead(ch, &ch->ctl->consumer, thorough))
		return false;
	ch->peer_gone = !room_now(ch);
	return true;
}

int shmq_channel_wait_room(shmq_channel *ch, size_t len, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmqi_waitable w;
	int r = check_producer(ch);

	if (r < 0)
		return r;
	if (len > ch->max_msg)
		return -EMSGSIZE;
	ch->room_len = len;
	ch->peer_gone = false;
	/* P1/W1 (wake.c) with release_to(): a read_pos store, then a look for a parked producer. */
	w = (struct shmqi_waitable){ .park_state = &ch->ctl->room_park_state,
				     .w = &ch->ctl->room,
				     .enabled = &ch->room_park_on,
				     .ready = chan_room,
				     .arg = ch,
				     .peers = &peer_watch };
	r = shmqi_wait_on(&w, spin_ns, shmqi_deadline(timeout_ns), 0);
	return r == 0 && ch->peer_gone ? -EPIPE : r;
}

/*
 * A role's owner for the statistics; one in the middle of taking or giving it up counts.
 * @judge: only if it is alive (a look by name, which holds no role of its own).
 */
static pid_t owner_pid(const struct shmqi_owner *o, bool judge)
{
	/* O1: pairs with the final head CAS of shmqi_entry_set() (the fields, when judged);
	 * relaxed would do for the pid alone */
	uint64_t h = atomic_load_explicit(&o->head, memory_order_acquire);
	int32_t pid = shmqi_head_pid(h);

	if (judge && pid != 0 && !shmqi_entry_alive(o, h))
		return 0;
	return pid < 0 ? -pid : pid;
}

/* The positions are statistics: relaxed loads, each true at some moment. */
static void fill_stats(const shmq_channel *ch, bool judge, struct shmq_channel_stats *s)
{
	const struct shmqi_seg_hdr *hdr = (const struct shmqi_seg_hdr *)ch->seg.base;

	s->capacity = ch->cap;
	s->max_msg = ch->max_msg;
	s->write_pos = atomic_load_explicit(&ch->ctl->write_pos, memory_order_relaxed);
	s->read_pos = atomic_load_explicit(&ch->ctl->read_pos, memory_order_relaxed);
	s->next_seq = atomic_load_explicit(&ch->ctl->next_seq, memory_order_relaxed);
	s->producer_pid = owner_pid(&ch->ctl->producer, judge);
	s->consumer_pid = owner_pid(&ch->ctl->consumer, judge);
	s->creator_pid = hdr->creator_pid;
	s->created_ns = hdr->created_ns;
}

int shmq_channel_stats(const shmq_channel *ch, struct shmq_channel_stats *ret_stats)
{
	struct shmq_channel_stats s;

	if (!ch || !ret_stats)
		return -EINVAL;
	fill_stats(ch, false, &s);
	*ret_stats = s;
	return 0;
}

int shmq_channel_stat(shmq_bus *bus, const char *name, struct shmq_channel_stats *ret_stats)
{
	static const struct shmq_channel_config any; /* attach: no field to compare */
	struct shmq_channel ch = { 0 };
	struct shmq_channel_stats s;
	char path[SHMQI_PATH_MAX];
	int r;

	shmqi_detail_clear();
	if (!ret_stats)
		return -EINVAL;
	r = shmqi_seg_path(bus, name, path, sizeof(path));
	if (r < 0)
		return r;
	/* Read-only: nothing is written through this mapping, no role is taken. */
	r = shmqi_seg_open(path, SHMQI_KIND_CHANNEL, 0, 0, SHMQI_SEG_RDONLY, chan_init, NULL,
			   &ch.seg);
	if (r < 0)
		return r;
	r = check_chan(&ch, &any);
	if (r == 0)
		fill_stats(&ch, true, &s);
	shmqi_seg_close(&ch.seg);
	if (r == 0)
		*ret_stats = s;
	return r;
}

/* ---- reaping dead role holders ---- */

/*
 * Free role @role if its holder is dead, and tell the other side as a close would: a
 * consumer waiting for messages, or a producer waiting for room (on the room wait block,
 * which only this closes). The close comes first: a new holder that takes the role after
 * our free reads it when it opens, and clears it (its seq_cst load in shmqi_wait_close());
 * one that took the role from the dead holder before our free makes our CAS fail, and our
 * close is undone unless it was cleared already. Return: true when we freed it.
 */
static bool reap_role(struct shmq_channel *ch, unsigned role)
{
	struct shmqi_owner *o = role_owner(ch, role);
	struct shmqi_wait *w = role == SHMQ_OPEN_PRODUCER ? &ch->ctl->wait : &ch->ctl->room;
	/* O1: pairs with the final head CAS of shmqi_entry_set(): the owner's fields. */
	uint64_t h = atomic_load_explicit(&o->head, memory_order_acquire);
	uint32_t closed;

	if (shmqi_head_pid(h) == 0 || shmqi_entry_alive(o, h))
		return false;
	closed = shmqi_wait_close_dead(w);
	if (shmqi_owner_free_dead(o, h))
		return true;
	h = atomic_load_explicit(&o->head, memory_order_acquire);
	if (shmqi_head_pid(h) != 0 && shmqi_entry_alive(o, h))
		shmqi_wait_reopen(w, closed);
	return false;
}

int shmq_channel_reap(shmq_bus *bus, const char *name, unsigned *ret_roles)
{
	static const struct shmq_channel_config any; /* attach: no field to compare */
	struct shmq_channel ch = { 0 };
	char path[SHMQI_PATH_MAX];
	unsigned roles = 0;
	int r;

	shmqi_detail_clear();
	r = shmqi_seg_path(bus, name, path, sizeof(path));
	if (r < 0)
		return r;
	r = shmqi_seg_open(path, SHMQI_KIND_CHANNEL, 0, 0, 0, chan_init, NULL, &ch.seg);
	if (r < 0)
		return r;
	r = check_chan(&ch, &any);
	if (r == 0) {
		roles |= reap_role(&ch, SHMQ_OPEN_PRODUCER) ? SHMQ_OPEN_PRODUCER : 0;
		roles |= reap_role(&ch, SHMQ_OPEN_CONSUMER) ? SHMQ_OPEN_CONSUMER : 0;
	}
	shmqi_seg_close(&ch.seg);
	if (r < 0)
		return r;
	if (ret_roles)
		*ret_roles = roles;
	return !!(roles & SHMQ_OPEN_PRODUCER) + !!(roles & SHMQ_OPEN_CONSUMER);
}
