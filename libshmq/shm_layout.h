/* SPDX-License-Identifier: MIT */
/* shm_layout.h - every structure that lives in shared memory, with its size and offsets fixed. */
#ifndef SHMQ_SHM_LAYOUT_H
#define SHMQ_SHM_LAYOUT_H

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Rules (docs/design.md has the reasoning):
 * - fixed-width types and offsets only, never pointers;
 * - each structure's size and field offsets are asserted below; changing any of them
 *   means bumping the version of the kind it belongs to (SHMQI_*_LAYOUT below), with a
 *   line of history; the segment header's own version (SHMQI_HDR_LAYOUT) covers the
 *   header alone;
 * - nothing read from here is trusted: the readers bounds-check every length and position.
 */

static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
static_assert(sizeof(_Atomic uint64_t) == 8, "atomic u64 must be plain-sized");
static_assert(sizeof(_Atomic uint32_t) == 4, "atomic u32 must be plain-sized");

#define SHMQI_MAGIC 0x31474553514d4853ull /* "SHMQSEG1" little-endian */
/*
 * The segment header's layout version, in seg_hdr.layout. Up to 5 it covered every kind's
 * layout too: 2: wait words; 3: topic sub_start, room waits; 4: owner records with head
 * words; 5: topic group gates, the group kind. 6: the kind's own layout version in
 * seg_hdr.kind_layout; this word covers the header alone.
 */
#define SHMQI_HDR_LAYOUT 6u

/*
 * Each kind's layout version, in seg_hdr.kind_layout (the histogram, which lives in memory
 * of the caller's, in its own header). An attacher of a kind whose version differs gets
 * -EPROTO, and the other kinds stay readable. History, per kind:
 * channel 1: struct shmqi_chan, shmqi_rec and the owner records as of header version 5.
 * topic 1:   struct shmqi_topic, the entry tables, shmqi_trec and the 16 group gates as of
 *            header version 5.
 * topic 2:   the lone producer's bias word (struct shmqi_topic's bias, beside the tail): a
 *            library of topic layout 1 would claim by CAS past a biased producer's plain
 *            stores of the tail, so it must not attach.
 * group 1:   struct shmqi_group, shmqi_member and shmqi_lease as of header version 5.
 * clock 1:   struct shmqi_clock as of header version 5 (the page "/shmq-clock.5" then).
 * hist 1:    struct shmqi_hist_shm, the first shared histogram.
 * latency 1: struct shmqi_lat and its entry slots, the first latency side segment.
 */
#define SHMQI_CHAN_LAYOUT 1u
#define SHMQI_TOPIC_LAYOUT 2u
#define SHMQI_GROUP_LAYOUT 1u
#define SHMQI_CLOCK_LAYOUT 1u
#define SHMQI_HIST_LAYOUT 1u
#define SHMQI_LAT_LAYOUT 1u
#define SHMQI_PARTS_LAYOUT 1u
#define SHMQI_CACHE_PAIR 128 /* producer/consumer hot fields sit this far apart */

/* The flags word of a channel's or a topic's control block (cold, set at creation). */
#define SHMQI_NO_TIMESTAMPS 0x1u /* records carry ts_ns 0: producers read no clock */
#define SHMQI_GROUP_NAME_LEN 208 /* a topic or group name with its NUL, rounded up */

/*
 * Where readers park (libshmq/wake.c), on its own pair of lines: written only when someone
 * parks or wakes. @seq is the futex word: a writer that finds @waiters non-zero after
 * publishing increments it and wakes them; a parker sleeps while it still holds the value
 * it read after announcing itself in @waiters. @closed tells parkers that the writing side
 * closed (-EPIPE): bit 0 while it is closed, and above it the number of closes so far.
 */
struct shmqi_wait {
	alignas(SHMQI_CACHE_PAIR) _Atomic uint32_t seq;
	_Atomic uint32_t waiters;
	_Atomic uint32_t closed;
	uint32_t reserved0;
};
static_assert(offsetof(struct shmqi_wait, seq) == 0, "wait seq offset");
static_assert(offsetof(struct shmqi_wait, waiters) == 4, "wait waiters offset");
static_assert(offsetof(struct shmqi_wait, closed) == 8, "wait closed offset");
static_assert(sizeof(struct shmqi_wait) == SHMQI_CACHE_PAIR, "wait block size");

/* park_state in a control block: writers check for waiters only once it is ON. */
#define SHMQI_PARK_OFF 0u
#define SHMQI_PARK_ENABLING 1u /* a reader is making sure every writer will see ON */
#define SHMQI_PARK_ON 2u

/* What a segment holds; checked on attach so a topic is never opened as a channel. */
enum shmqi_kind {
	SHMQI_KIND_CHANNEL = 1,
	SHMQI_KIND_TOPIC = 2,
	SHMQI_KIND_GROUP = 3,
};

/*
 * The first 64 bytes of every segment. The creator fills every field, then stores
 * @layout last with release (R0); an attacher loads @layout with acquire (A0) before it
 * reads any other field, so a non-zero layout word means a complete header.
 */
struct shmqi_seg_hdr {
	uint64_t magic; /* SHMQI_MAGIC */
	_Atomic uint32_t layout; /* SHMQI_HDR_LAYOUT, 0 while the creator initialises */
	uint32_t kind; /* enum shmqi_kind */
	uint64_t size; /* total bytes of the segment, equals the file size */
	int32_t creator_pid;
	uint32_t body_off; /* where the kind's control block starts */
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint32_t kind_layout; /* the kind's layout version: SHMQI_CHAN_LAYOUT, ... */
	uint8_t reserved[20];
};
static_assert(sizeof(struct shmqi_seg_hdr) == 64, "segment header size");
static_assert(offsetof(struct shmqi_seg_hdr, magic) == 0, "magic offset");
static_assert(offsetof(struct shmqi_seg_hdr, layout) == 8, "layout offset");
static_assert(offsetof(struct shmqi_seg_hdr, kind) == 12, "kind offset");
static_assert(offsetof(struct shmqi_seg_hdr, size) == 16, "size offset");
static_assert(offsetof(struct shmqi_seg_hdr, creator_pid) == 24, "creator_pid offset");
static_assert(offsetof(struct shmqi_seg_hdr, body_off) == 28, "body_off offset");
static_assert(offsetof(struct shmqi_seg_hdr, created_ns) == 32, "created_ns offset");
static_assert(offsetof(struct shmqi_seg_hdr, kind_layout) == 40, "kind_layout offset");

/* ---- the host's clock (libshmq/clock.c) ---- */

/*
 * A kind of enum shmqi_kind: the host-wide clock page, outside every namespace,
 * "/shmq-clock.<SHMQI_HDR_LAYOUT>.<SHMQI_CLOCK_LAYOUT>", so that a library that speaks
 * another header or clock layout makes a page of its own.
 */
enum { SHMQI_KIND_CLOCK = 4 };

/*
 * The TSC-to-CLOCK_MONOTONIC conversion every process on the host reads, at seg_hdr.body_off
 * (SHMQI_CLOCK_BODY_OFF). The fields after @seq describe one piece of a piecewise-linear
 * function of the TSC, valid for start_tsc <= tsc < end_tsc:
 *
 *   ns = start_ns + ((tsc - start_tsc) * mult >> 32)
 *
 * Whoever finds the piece ended takes @lock (its TSC when taken, 0 when free) and writes the
 * next one under the seqlock @seq (odd while the fields change; C1 in clock.c). @sum is a
 * check word over the fields and the even seq they were written for, so that a write torn by
 * a writer that lost the lock is seen as such.
 */
struct shmqi_clock {
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t seq;
	_Atomic uint64_t start_tsc;
	_Atomic uint64_t end_tsc;
	_Atomic uint64_t start_ns; /* CLOCK_MONOTONIC at start_tsc */
	_Atomic uint64_t mult; /* ns per tick in 32.32 fixed point, as slewed for this piece */
	_Atomic uint64_t rate; /* ns per tick in 32.32 fixed point, as measured */
	_Atomic uint64_t base_tsc; /* the rate is measured from this (TSC, CLOCK_MONOTONIC) pair */
	_Atomic uint64_t base_ns;
	_Atomic uint64_t next_tsc; /* the pair that becomes the base once a second old */
	_Atomic uint64_t next_ns;
	_Atomic uint64_t gen; /* pieces written since the page was made */
	_Atomic uint64_t sum;
	/* renewers only */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t lock;
};
static_assert(offsetof(struct shmqi_clock, seq) == 0, "clock seq offset");
static_assert(offsetof(struct shmqi_clock, start_tsc) == 8, "clock start_tsc offset");
static_assert(offsetof(struct shmqi_clock, end_tsc) == 16, "clock end_tsc offset");
static_assert(offsetof(struct shmqi_clock, start_ns) == 24, "clock start_ns offset");
static_assert(offsetof(struct shmqi_clock, mult) == 32, "clock mult offset");
static_assert(offsetof(struct shmqi_clock, rate) == 40, "clock rate offset");
static_assert(offsetof(struct shmqi_clock, base_tsc) == 48, "clock base_tsc offset");
static_assert(offsetof(struct shmqi_clock, base_ns) == 56, "clock base_ns offset");
static_assert(offsetof(struct shmqi_clock, next_tsc) == 64, "clock next_tsc offset");
static_assert(offsetof(struct shmqi_clock, next_ns) == 72, "clock next_ns offset");
static_assert(offsetof(struct shmqi_clock, gen) == 80, "clock gen offset");
static_assert(offsetof(struct shmqi_clock, sum) == 88, "clock sum offset");
static_assert(offsetof(struct shmqi_clock, lock) == 128, "clock lock offset");
static_assert(sizeof(struct shmqi_clock) == 256, "clock page body size");

#define SHMQI_CLOCK_BODY_OFF 128u
#define SHMQI_CLOCK_SEG_SIZE 4096u
static_assert(SHMQI_CLOCK_BODY_OFF >= sizeof(struct shmqi_seg_hdr), "clock body after header");
static_assert(SHMQI_CLOCK_BODY_OFF + sizeof(struct shmqi_clock) <= SHMQI_CLOCK_SEG_SIZE,
	      "clock body within its page");

/*
 * A record in a byte ring. Records start on SHMQI_REC_ALIGN boundaries and never wrap:
 * a record that would cross the end of the ring is preceded by a padding record that
 * fills the rest of the lap.
 *
 * @stamp is the commit word: (position | 1) once the record is complete, where position
 * is the record's absolute 64-bit byte position; 0 (or an older lap's value, never equal)
 * otherwise. The producer zeroes the stamp of the following record position before it
 * publishes a record, so the consumer never mistakes stale payload bytes for a stamp.
 */
struct shmqi_rec {
	_Atomic uint64_t stamp;
	uint64_t seq; /* message sequence number, from 1 */
	uint64_t ts_ns; /* publish time, CLOCK_MONOTONIC */
	uint32_t len; /* payload bytes (padding: bytes after the header to the lap's end) */
	uint32_t flags; /* SHMQI_REC_* */
};
static_assert(sizeof(struct shmqi_rec) == 32, "record header size");
static_assert(offsetof(struct shmqi_rec, stamp) == 0, "stamp offset");
static_assert(offsetof(struct shmqi_rec, seq) == 8, "seq offset");
static_assert(offsetof(struct shmqi_rec, ts_ns) == 16, "ts offset");
static_assert(offsetof(struct shmqi_rec, len) == 24, "len offset");
static_assert(offsetof(struct shmqi_rec, flags) == 28, "flags offset");

#define SHMQI_REC_ALIGN 32u
#define SHMQI_REC_PAD 0x1u
#define SHMQI_REC_FLAGS_KNOWN SHMQI_REC_PAD

/*
 * Who owns a channel's role or a topic's table entry (subscriber or producer), with what
 * tells a reused pid apart: its start time (/proc/PID/stat) and its pid namespace (the
 * inode of /proc/self/ns/pid). Liveness is judged only within one pid namespace.
 *
 * @head is one word, so that one CAS takes an entry and nobody pairs a pid with another
 * owner's fields: bits 0-31 the pid (0 free; negated while the entry changes hands), bits
 * 32-47 a generation that every grab increments, bits 48-63 a tag of the owner's pid
 * namespace (0 unknown), so that even an entry in the middle of changing hands is not
 * judged from another namespace. The protocol (O1) is in internal.h.
 */
struct shmqi_owner {
	_Atomic uint64_t head;
	_Atomic uint64_t start_time; /* clock ticks (bits 0-47, 0 unknown), the generation of the
				      * head these fields were written for (bits 48-63) */
	_Atomic uint64_t pidns; /* the namespace's inode (bits 0-31, 0 unknown), the generation
				 * of the head these fields were written for (bits 32-47) */
};
static_assert(offsetof(struct shmqi_owner, head) == 0, "owner head offset");
static_assert(offsetof(struct shmqi_owner, start_time) == 8, "owner start offset");
static_assert(offsetof(struct shmqi_owner, pidns) == 16, "owner pidns offset");
static_assert(sizeof(struct shmqi_owner) == 24, "owner size");

/*
 * The control block of an SPSC channel, at seg_hdr.body_off. The ring follows at
 * @ring_off. Five groups, each on its own 128-byte pair of cache lines:
 * - cold: the configuration, the park switches and the role owners (as a topic's table
 *   entries: struct shmqi_owner);
 * - producer-written: the write position and next sequence (for stats and takeover);
 * - consumer-written: the released read position, which gates the producer;
 * - the wait block where the consumer parks, and the one where the producer parks for room.
 */
struct shmqi_chan {
	/* cold */
	alignas(SHMQI_CACHE_PAIR) uint64_t capacity; /* power of two */
	uint64_t ring_off; /* from the segment's start, a multiple of 4096 */
	uint32_t max_msg;
	uint32_t flags; /* SHMQI_NO_TIMESTAMPS, set at creation; 0 in older segments */
	_Atomic uint32_t park_state; /* SHMQI_PARK_*: set once by the first consumer to park */
	_Atomic uint32_t room_park_state; /* SHMQI_PARK_*: once the producer first parks */
	struct shmqi_owner producer; /* the role owners, pid 0 when free */
	struct shmqi_owner consumer;
	/* producer-written */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t write_pos;
	_Atomic uint64_t next_seq;
	/* consumer-written */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t read_pos;
	/* the consumer parks here */
	struct shmqi_wait wait;
	/* the producer parks here for room; the consumer wakes it */
	struct shmqi_wait room;
};
static_assert(offsetof(struct shmqi_chan, capacity) == 0, "capacity offset");
static_assert(offsetof(struct shmqi_chan, ring_off) == 8, "ring_off offset");
static_assert(offsetof(struct shmqi_chan, max_msg) == 16, "max_msg offset");
static_assert(offsetof(struct shmqi_chan, park_state) == 24, "park_state offset");
static_assert(offsetof(struct shmqi_chan, room_park_state) == 28, "room_park_state offset");
static_assert(offsetof(struct shmqi_chan, producer) == 32, "producer owner offset");
static_assert(offsetof(struct shmqi_chan, consumer) == 56, "consumer owner offset");
static_assert(offsetof(struct shmqi_chan, write_pos) == 128, "write_pos offset");
static_assert(offsetof(struct shmqi_chan, next_seq) == 136, "next_seq offset");
static_assert(offsetof(struct shmqi_chan, read_pos) == 256, "read_pos offset");
static_assert(offsetof(struct shmqi_chan, wait) == 384, "wait offset");
static_assert(offsetof(struct shmqi_chan, room) == 512, "room offset");
static_assert(sizeof(struct shmqi_chan) == 640, "channel control block size");

#define SHMQI_CHAN_BODY_OFF 128u
#define SHMQI_CHAN_RING_OFF 4096u
static_assert(SHMQI_CHAN_BODY_OFF >= sizeof(struct shmqi_seg_hdr), "body after header");
static_assert(SHMQI_CHAN_BODY_OFF + sizeof(struct shmqi_chan) <= SHMQI_CHAN_RING_OFF,
	      "control block before ring");

/* ---- topics (libshmq/topic.c) ---- */

/*
 * The control block of a topic, at seg_hdr.body_off (SHMQI_TOPIC_BODY_OFF). The subscriber
 * table, the producer table and the ring of slots follow at the offsets it gives (from the
 * segment's start). Cold configuration first; the tail, which every producer CASes, on a
 * 128-byte pair of lines of its own.
 */
struct shmqi_topic {
	/* cold: written by the creator before R0, then read-only (skipped aside) */
	alignas(SHMQI_CACHE_PAIR) uint32_t slots; /* power of two */
	uint32_t slot_size; /* multiple of 64: record header + max_msg, rounded up */
	uint32_t max_msg;
	uint32_t policy; /* SHMQ_TOPIC_RELIABLE or SHMQ_TOPIC_LOSSY */
	uint32_t max_subs;
	uint32_t max_prods;
	uint64_t claim_timeout_ns;
	uint64_t subs_off; /* struct shmqi_sub_entry[max_subs] */
	uint64_t prods_off; /* struct shmqi_prod_entry[max_prods] */
	uint64_t ring_off; /* slots * slot_size bytes, a multiple of 4096 */
	_Atomic uint32_t next_producer_id; /* the last id handed out */
	_Atomic int32_t exclusive_pid; /* an exclusive producer's process, 0 when none */
	_Atomic uint64_t skipped; /* records turned into skipped ones (statistics) */
	_Atomic uint32_t park_state; /* SHMQI_PARK_*: set once by the first subscriber to park */
	_Atomic uint32_t room_park_state; /* SHMQI_PARK_*: set once by the first producer to park */
	/*
	 * The highest sequence any subscriber's cursor started at, raised before it becomes
	 * ACTIVE and before it publishes a cursor past its start; never lowered (F1 in topic.c).
	 */
	_Atomic uint64_t sub_start;
	uint64_t gates_off; /* struct shmqi_gate[SHMQI_TOPIC_GATES], after the producer table */
	/*
	 * The default time to live of records sent without their own expiry, 0 for none; set
	 * at any time by shmq_topic_set_ttl(), read by producers at each send. In the cold
	 * block's padding, so zero in every segment made before it existed.
	 */
	_Atomic uint64_t ttl_ns;
	/* records subscribers skipped because their expiry had passed, each skip once per
	 * subscriber that made it (statistics; also zero in older segments) */
	_Atomic uint64_t expired;
	/* SHMQI_NO_TIMESTAMPS, set at creation; in the cold block's padding, so zero in every
	 * segment made before it existed */
	uint32_t flags;
	/* producer hot */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t tail; /* next sequence to claim, from 1 */
	/*
	 * The lone producer's bias (B1 in topic_pub.c): 0, or the producer that claims with a
	 * plain store of the tail (its entry index in bits 32-62, its id in bits 0-31), with
	 * bit 63 set while another producer revokes it.
	 */
	_Atomic uint64_t bias;
	/* subscribers park here */
	struct shmqi_wait wait;
	/* producers of a reliable topic wait here for room; subscribers wake them */
	struct shmqi_wait room;
};
static_assert(offsetof(struct shmqi_topic, slots) == 0, "slots offset");
static_assert(offsetof(struct shmqi_topic, slot_size) == 4, "slot_size offset");
static_assert(offsetof(struct shmqi_topic, max_msg) == 8, "max_msg offset");
static_assert(offsetof(struct shmqi_topic, policy) == 12, "policy offset");
static_assert(offsetof(struct shmqi_topic, max_subs) == 16, "max_subs offset");
static_assert(offsetof(struct shmqi_topic, max_prods) == 20, "max_prods offset");
static_assert(offsetof(struct shmqi_topic, claim_timeout_ns) == 24, "claim_timeout offset");
static_assert(offsetof(struct shmqi_topic, subs_off) == 32, "subs_off offset");
static_assert(offsetof(struct shmqi_topic, prods_off) == 40, "prods_off offset");
static_assert(offsetof(struct shmqi_topic, ring_off) == 48, "ring_off offset");
static_assert(offsetof(struct shmqi_topic, next_producer_id) == 56, "next_producer_id offset");
static_assert(offsetof(struct shmqi_topic, exclusive_pid) == 60, "exclusive_pid offset");
static_assert(offsetof(struct shmqi_topic, skipped) == 64, "skipped offset");
static_assert(offsetof(struct shmqi_topic, park_state) == 72, "park_state offset");
static_assert(offsetof(struct shmqi_topic, room_park_state) == 76, "room_park_state offset");
static_assert(offsetof(struct shmqi_topic, sub_start) == 80, "sub_start offset");
static_assert(offsetof(struct shmqi_topic, gates_off) == 88, "gates_off offset");
static_assert(offsetof(struct shmqi_topic, ttl_ns) == 96, "ttl_ns offset");
static_assert(offsetof(struct shmqi_topic, expired) == 104, "expired offset");
static_assert(offsetof(struct shmqi_topic, flags) == 112, "topic flags offset");
static_assert(offsetof(struct shmqi_topic, tail) == 128, "tail offset");
static_assert(offsetof(struct shmqi_topic, bias) == 136, "bias offset");
static_assert(offsetof(struct shmqi_topic, wait) == 256, "wait offset");
static_assert(offsetof(struct shmqi_topic, room) == 384, "room offset");
static_assert(sizeof(struct shmqi_topic) == 512, "topic control block size");

/*
 * One subscriber: its cursor and counters, written by the subscriber only, read by
 * producers (gating) and by anyone who inspects the topic.
 */
struct shmqi_sub_entry {
	alignas(SHMQI_CACHE_PAIR) struct shmqi_owner owner;
	_Atomic uint32_t state; /* SHMQI_SUB_* */
	uint32_t reserved0;
	_Atomic uint64_t cursor; /* next sequence it reads */
	_Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC */
	_Atomic uint64_t received;
	_Atomic uint64_t lost;
	_Atomic uint64_t skipped;
};
static_assert(offsetof(struct shmqi_sub_entry, owner) == 0, "sub owner offset");
static_assert(offsetof(struct shmqi_sub_entry, state) == 24, "sub state offset");
static_assert(offsetof(struct shmqi_sub_entry, cursor) == 32, "sub cursor offset");
static_assert(offsetof(struct shmqi_sub_entry, heartbeat_ns) == 40, "sub heartbeat offset");
static_assert(offsetof(struct shmqi_sub_entry, received) == 48, "sub received offset");
static_assert(offsetof(struct shmqi_sub_entry, lost) == 56, "sub lost offset");
static_assert(offsetof(struct shmqi_sub_entry, skipped) == 64, "sub skipped offset");
static_assert(sizeof(struct shmqi_sub_entry) == 128, "subscriber entry size");

#define SHMQI_SUB_FREE 0u /* joining, leaving, or free: does not gate */
#define SHMQI_SUB_ACTIVE 1u /* its cursor gates producers (reliable topics) */

/*
 * One producer. @pending is the first sequence of the claim in progress (0 when none),
 * stored before the claiming CAS on the tail, so that whoever finds an uncommitted record
 * can tell who claimed it.
 */
struct shmqi_prod_entry {
	alignas(SHMQI_CACHE_PAIR) struct shmqi_owner owner;
	_Atomic uint32_t id; /* producer id stamped on its records */
	_Atomic uint32_t pending_n; /* records in the claim in progress */
	_Atomic uint64_t pending; /* first sequence of the claim in progress, 0 when none */
	_Atomic uint64_t published; /* records committed (statistics) */
};
static_assert(offsetof(struct shmqi_prod_entry, owner) == 0, "prod owner offset");
static_assert(offsetof(struct shmqi_prod_entry, id) == 24, "prod id offset");
static_assert(offsetof(struct shmqi_prod_entry, pending_n) == 28, "prod pending_n offset");
static_assert(offsetof(struct shmqi_prod_entry, pending) == 32, "prod pending offset");
static_assert(offsetof(struct shmqi_prod_entry, published) == 40, "prod published offset");
static_assert(sizeof(struct shmqi_prod_entry) == 128, "producer entry size");

/*
 * The header of a record, at the start of its slot; the payload follows at byte 48.
 * @stamp is (seq << 2) | state: WRITING while a producer owns the slot for record seq,
 * COMMITTED once the record is complete, SKIPPED when its claimant gave up or died.
 * 0 for a slot never written.
 */
struct shmqi_trec {
	_Atomic uint64_t stamp;
	uint64_t ts_ns; /* publish time, CLOCK_MONOTONIC */
	uint64_t producer_seq;
	uint64_t corr_id;
	uint32_t len;
	uint32_t producer_id;
	uint32_t flags; /* SHMQI_TREC_*; 0 for a record without headers */
	uint32_t hdrs_len; /* SHMQI_TREC_HDRS: the header block's bytes, else 0 */
};
static_assert(offsetof(struct shmqi_trec, stamp) == 0, "trec stamp offset");
static_assert(offsetof(struct shmqi_trec, ts_ns) == 8, "trec ts offset");
static_assert(offsetof(struct shmqi_trec, producer_seq) == 16, "trec pseq offset");
static_assert(offsetof(struct shmqi_trec, corr_id) == 24, "trec corr offset");
static_assert(offsetof(struct shmqi_trec, len) == 32, "trec len offset");
static_assert(offsetof(struct shmqi_trec, producer_id) == 36, "trec producer offset");
static_assert(offsetof(struct shmqi_trec, flags) == 40, "trec flags offset");
static_assert(offsetof(struct shmqi_trec, hdrs_len) == 44, "trec hdrs_len offset");
static_assert(sizeof(struct shmqi_trec) == 48, "topic record header size");

/*
 * SHMQI_TREC_HDRS: the record carries headers (shmq/headers.h). The slot after the header
 * holds the block's @hdrs_len bytes, zeros to the next multiple of 8, then the @len bytes of
 * payload; both together fit the topic's max_msg.
 */
#define SHMQI_TREC_HDRS 0x1u
#define SHMQI_TREC_FLAGS_KNOWN SHMQI_TREC_HDRS

#define SHMQI_STAMP_WRITING 1u
#define SHMQI_STAMP_COMMITTED 2u
#define SHMQI_STAMP_SKIPPED 3u
#define SHMQI_STAMP(seq, state) (((uint64_t)(seq) << 2) | (state))
#define SHMQI_SEQ_MAX (UINT64_C(1) << 61) /* sequences stay below this: stamps never wrap */

#define SHMQI_TOPIC_BODY_OFF 128u

/*
 * A consumer group's gate in its topic: the group's ack floor, which holds a reliable
 * topic's producers back as a subscriber's cursor does, whether or not a member is attached.
 * Written by the group's members (group.c), read by producers (topic_pub.c). @id and @name
 * say which group segment it belongs to (the group's created_ns and name).
 */
struct shmqi_gate {
	alignas(SHMQI_CACHE_PAIR) _Atomic uint32_t state; /* SHMQI_GATE_* */
	uint32_t reserved0;
	_Atomic uint64_t cursor; /* the group's ack floor: every record below it is done */
	_Atomic uint64_t id; /* the group segment's created_ns */
	char name[104]; /* the group's name, NUL-terminated */
};
static_assert(offsetof(struct shmqi_gate, state) == 0, "gate state offset");
static_assert(offsetof(struct shmqi_gate, cursor) == 8, "gate cursor offset");
static_assert(offsetof(struct shmqi_gate, id) == 16, "gate id offset");
static_assert(offsetof(struct shmqi_gate, name) == 24, "gate name offset");
static_assert(sizeof(struct shmqi_gate) == 128, "gate size");

#define SHMQI_TOPIC_GATES 16u
#define SHMQI_GATE_FREE 0u
#define SHMQI_GATE_TAKING 1u /* a group being created fills it; does not gate yet */
#define SHMQI_GATE_ACTIVE 2u /* its cursor gates producers (reliable topics) */

/* ---- consumer groups (libshmq/group.c) ---- */

/*
 * The control block of a group segment ("/shmq.NS.TOPIC@GROUP"), at seg_hdr.body_off
 * (SHMQI_GROUP_BODY_OFF). The member table and the lease table follow at the offsets it
 * gives. Cold configuration, written by the creator before R0; then the claim word @next,
 * the ack floor and the due hint, and the counters, each on a pair of lines of its own.
 */
struct shmqi_group {
	/* cold */
	alignas(SHMQI_CACHE_PAIR) uint32_t max_pending; /* lease table entries, a power of two */
	uint32_t max_members; /* 1-255 */
	uint32_t max_in_flight; /* leases one member may hold */
	uint32_t max_deliveries; /* failures before a record is dead-lettered, 0 unlimited */
	uint32_t flags; /* SHMQ_GROUP_* */
	uint32_t gate; /* our gate's index in the topic */
	uint64_t gate_id; /* our gate's id there */
	uint64_t ack_wait_ns;
	uint64_t backoff_initial_ns;
	uint64_t backoff_max_ns;
	uint32_t backoff_mult;
	uint32_t reserved0;
	uint64_t guard; /* the topic's tail once the gate was up: records below may be torn */
	uint64_t members_off;
	uint64_t leases_off;
	uint64_t topic_id; /* the topic segment's created_ns */
	uint8_t reserved1[16];
	char topic[SHMQI_GROUP_NAME_LEN]; /* the topic's name, NUL-terminated */
	char dlq[SHMQI_GROUP_NAME_LEN]; /* the dead-letter topic, "" for none */
	char name[SHMQI_GROUP_NAME_LEN]; /* the group's name */
	/* claimed by CAS by every member: the next record never handed out */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t next;
	/* the ack floor (every record below it is done), and a lower bound of when a lease or
	 * a delayed record is due next (UINT64_MAX: none known) */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t floor;
	_Atomic uint64_t due_hint;
	_Atomic uint64_t last_member_ns; /* when the last member left (and the idle clock) */
	/*
	 * shmq_group_set_inactive(): delete the group once it has had no member for this long
	 * (0: never); SHMQI_INACTIVE_DELETED once it was. @deleter is held by the process
	 * deleting it (I1 and J1 in group_admin.c), so that a member joining meanwhile backs
	 * off, and one that died there holds nobody back. Both change after creation, so they
	 * are not among the cold fields, which are fixed and copied once; they take room that
	 * was this line's padding, zero in every segment made before them, and move no field:
	 * the layout version stays, and a library that predates them never deletes.
	 */
	_Atomic uint64_t inactive_ns;
	struct shmqi_owner deleter;
	/* counters (statistics) */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t acked;
	_Atomic uint64_t nacked;
	_Atomic uint64_t released;
	_Atomic uint64_t redelivered;
	_Atomic uint64_t expired;
	_Atomic uint64_t dead_lettered;
	_Atomic uint64_t terminated;
	_Atomic uint64_t window_full;
	_Atomic uint64_t lost;
	_Atomic uint64_t skipped;
	_Atomic uint64_t dropped; /* to be dead-lettered, but no dead-letter topic */
	_Atomic uint64_t delivered;
};
static_assert(offsetof(struct shmqi_group, max_pending) == 0, "group max_pending offset");
static_assert(offsetof(struct shmqi_group, gate_id) == 24, "group gate_id offset");
static_assert(offsetof(struct shmqi_group, ack_wait_ns) == 32, "group ack_wait offset");
static_assert(offsetof(struct shmqi_group, guard) == 64, "group guard offset");
static_assert(offsetof(struct shmqi_group, topic_id) == 88, "group topic_id offset");
static_assert(offsetof(struct shmqi_group, topic) == 112, "group topic offset");
static_assert(offsetof(struct shmqi_group, next) % SHMQI_CACHE_PAIR == 0, "group next align");
static_assert(offsetof(struct shmqi_group, floor) ==
		      offsetof(struct shmqi_group, next) + SHMQI_CACHE_PAIR,
	      "group floor offset");
static_assert(offsetof(struct shmqi_group, inactive_ns) == offsetof(struct shmqi_group, floor) + 24,
	      "group inactive_ns offset");
static_assert(offsetof(struct shmqi_group, deleter) + sizeof(struct shmqi_owner) <=
		      offsetof(struct shmqi_group, floor) + SHMQI_CACHE_PAIR,
	      "group deleter in the floor's line");
static_assert(offsetof(struct shmqi_group, acked) ==
		      offsetof(struct shmqi_group, floor) + SHMQI_CACHE_PAIR,
	      "group counters offset");
static_assert(sizeof(struct shmqi_group) == 1152, "group control block size");

#define SHMQI_INACTIVE_DELETED (UINT64_C(1) << 63)

/* One member of a group: its owner and what it holds (128 bytes, as topic entries). */
struct shmqi_member {
	alignas(SHMQI_CACHE_PAIR) struct shmqi_owner owner;
	_Atomic uint32_t in_flight; /* its leases: +1 by it at each lease, -1 by whoever ends one */
	uint32_t reserved0;
	_Atomic uint64_t delivered;
	_Atomic uint64_t acked;
	_Atomic uint64_t joined_ns; /* CLOCK_MONOTONIC */
};
static_assert(offsetof(struct shmqi_member, owner) == 0, "member owner offset");
static_assert(offsetof(struct shmqi_member, in_flight) == 24, "member in_flight offset");
static_assert(offsetof(struct shmqi_member, delivered) == 32, "member delivered offset");
static_assert(sizeof(struct shmqi_member) == 128, "member size");

/*
 * One lease table entry: record seq lives at seq mod max_pending while it is owed. @word
 * changes only by CAS (or a release store by whoever holds it BUSY): bits 0-2 the state,
 * 3-10 the holder (a member index, SHMQI_LEASE_NOBODY when none), 11-18 a generation
 * bumped by every delivery and extension, 19-63 the sequence's low 45 bits. The other
 * fields are written only by whoever holds the entry BUSY (L1 in group.c).
 */
struct shmqi_lease {
	_Atomic uint64_t word;
	_Atomic uint64_t due_ns; /* LEASED: the lease's deadline; DELAYED: when it is due */
	_Atomic uint64_t first_ns; /* first delivery, CLOCK_REALTIME; 0 before */
	_Atomic uint32_t acquired; /* deliveries so far */
	_Atomic uint32_t failed; /* nacks, expiries, holder deaths */
};
static_assert(offsetof(struct shmqi_lease, word) == 0, "lease word offset");
static_assert(offsetof(struct shmqi_lease, due_ns) == 8, "lease due offset");
static_assert(offsetof(struct shmqi_lease, first_ns) == 16, "lease first offset");
static_assert(offsetof(struct shmqi_lease, acquired) == 24, "lease acquired offset");
static_assert(offsetof(struct shmqi_lease, failed) == 28, "lease failed offset");
static_assert(sizeof(struct shmqi_lease) == 32, "lease size");

#define SHMQI_LEASE_FREE 0u /* never used */
#define SHMQI_LEASE_BUSY 1u /* a holder's outcome, or a judge, is changing it */
#define SHMQI_LEASE_LEASED 2u /* delivered to its holder until due_ns */
#define SHMQI_LEASE_DELAYED 3u /* to be delivered again from due_ns on */
#define SHMQI_LEASE_DONE 4u /* acked, dead-lettered, dropped, skipped or lost */
#define SHMQI_LEASE_CLAIMING 5u /* being handed out the first time */
#define SHMQI_LEASE_NOBODY 255u

#define SHMQI_GROUP_BODY_OFF 128u

/* ---- the shared histogram (libshmq/hist_shm.c) ---- */

/*
 * The shared-memory histogram (hist_shm.c). It lives at the start of a caller-provided,
 * 64-byte aligned region, not in a segment of ours: this header, with a magic and a layout
 * word of its own (SHMQI_HIST_LAYOUT, above), then counts_len atomic 64-bit counts at
 * counts_off.
 *
 * The initialiser fills every cold field and zeroes the counts, then stores @layout last
 * with release (R0 in hist_shm.c); an attacher loads @layout with acquire (A0) before any
 * other field. Only the recording owner writes to the region after that.
 */
#define SHMQI_HIST_MAGIC 0x3154534948514d53ull /* "SMQHIST1" little-endian */
#define SHMQI_HIST_ALIGN 64u

struct shmqi_hist_shm {
	/* cold: written once before R0 */
	uint64_t magic; /* SHMQI_HIST_MAGIC */
	_Atomic uint32_t layout; /* SHMQI_HIST_LAYOUT; 0 while being initialised */
	int32_t sigfigs;
	int64_t lowest;
	int64_t highest;
	uint64_t size; /* bytes the histogram occupies, counts included */
	uint32_t counts_off; /* from the header's start */
	uint32_t counts_len;
	/* hot: written by the recording owner only */
	alignas(128) _Atomic uint64_t epoch; /* odd while a reset runs (a seqlock) */
	_Atomic uint64_t total; /* published after each count, release (R1) */
	_Atomic uint64_t out_of_range;
};
static_assert(offsetof(struct shmqi_hist_shm, magic) == 0, "hist magic offset");
static_assert(offsetof(struct shmqi_hist_shm, layout) == 8, "hist layout offset");
static_assert(offsetof(struct shmqi_hist_shm, sigfigs) == 12, "hist sigfigs offset");
static_assert(offsetof(struct shmqi_hist_shm, lowest) == 16, "hist lowest offset");
static_assert(offsetof(struct shmqi_hist_shm, highest) == 24, "hist highest offset");
static_assert(offsetof(struct shmqi_hist_shm, size) == 32, "hist size offset");
static_assert(offsetof(struct shmqi_hist_shm, counts_off) == 40, "hist counts_off offset");
static_assert(offsetof(struct shmqi_hist_shm, counts_len) == 44, "hist counts_len offset");
static_assert(offsetof(struct shmqi_hist_shm, epoch) == 128, "hist epoch offset");
static_assert(offsetof(struct shmqi_hist_shm, total) == 136, "hist total offset");
static_assert(offsetof(struct shmqi_hist_shm, out_of_range) == 144, "hist oor offset");
static_assert(sizeof(struct shmqi_hist_shm) == 256, "hist shared header size");

#define SHMQI_HIST_COUNTS_OFF 256u
static_assert(SHMQI_HIST_COUNTS_OFF >= sizeof(struct shmqi_hist_shm), "counts after header");

/* ---- latency side segments (libshmq/lat.c) ---- */

/*
 * A kind of enum shmqi_kind: the latency histograms of a topic's subscribers
 * ("TOPIC~lat") or of a group's members ("TOPIC@GROUP~lat"), one entry slot per table
 * entry of the topic or group, so that entry i's owner is the only recorder of slot i.
 * The '~' keeps the name out of every object name (shmq_bus_list() skips such files).
 */
enum { SHMQI_KIND_LAT = 5 };

/* The body at seg_hdr.body_off (SHMQI_LAT_BODY_OFF), cold: written before R0. */
struct shmqi_lat {
	uint32_t entries; /* slots: the topic's max_subs or the group's max_members */
	uint32_t per_entry; /* histograms per slot: 1 (delivery) or 2 (and processing) */
	uint64_t slot_size; /* bytes per slot, header and histograms, a multiple of 128 */
	uint64_t slots_off; /* from the segment's start */
	uint64_t hist_size; /* bytes per histogram (shmq_hist_shm_size()) */
	int64_t lowest, highest;
	int32_t sigfigs;
	uint32_t reserved0;
};
static_assert(offsetof(struct shmqi_lat, entries) == 0, "lat entries offset");
static_assert(offsetof(struct shmqi_lat, per_entry) == 4, "lat per_entry offset");
static_assert(offsetof(struct shmqi_lat, slot_size) == 8, "lat slot_size offset");
static_assert(offsetof(struct shmqi_lat, slots_off) == 16, "lat slots_off offset");
static_assert(offsetof(struct shmqi_lat, hist_size) == 24, "lat hist_size offset");
static_assert(offsetof(struct shmqi_lat, lowest) == 32, "lat lowest offset");
static_assert(offsetof(struct shmqi_lat, highest) == 40, "lat highest offset");
static_assert(offsetof(struct shmqi_lat, sigfigs) == 48, "lat sigfigs offset");
static_assert(sizeof(struct shmqi_lat) == 56, "lat body size");
#define SHMQI_LAT_BODY_OFF 128u
#define SHMQI_LAT_SLOTS_OFF 256u

/*
 * Each slot starts with this header; its histograms follow at 128-byte steps of hist_size.
 * The recorder that takes the slot stores @pid = 0, initialises its histograms (each
 * published by its own R0), then stores its pid with release (L1); a reader loads @pid
 * with acquire (L1) and attaches the histograms only when it is non-zero.
 */
struct shmqi_lat_slot {
	alignas(128) _Atomic int32_t pid; /* the recorder, 0 while none or being set up */
	uint32_t reserved0;
	_Atomic uint64_t since_ns; /* CLOCK_REALTIME when the recorder took the slot */
};
static_assert(offsetof(struct shmqi_lat_slot, pid) == 0, "lat slot pid offset");
static_assert(offsetof(struct shmqi_lat_slot, since_ns) == 8, "lat slot since offset");
static_assert(sizeof(struct shmqi_lat_slot) == 128, "lat slot header size");

/*
 * A kind of enum shmqi_kind: the partition assignment of consumer group GROUP on partitioned
 * topic NAME ("NAME@GROUP~parts", skipped by listings for its '~'): who is in the group, and
 * which member owns each partition. Both tables are owner entries (O1); a partition's entry
 * is held by the process of the member that owns it.
 */
enum { SHMQI_KIND_PARTS = 6 };

struct shmqi_parts {
	uint32_t partitions; /* 1..SHMQ_PART_MAX */
	uint32_t max_members; /* 1..255 */
	uint64_t members_off; /* struct shmqi_pmember[max_members], from the segment's start */
	uint64_t parts_off; /* struct shmqi_ppart[partitions] */
};
static_assert(sizeof(struct shmqi_parts) == 24, "parts body size");
#define SHMQI_PARTS_BODY_OFF 128u

struct shmqi_pmember {
	alignas(SHMQI_CACHE_PAIR) struct shmqi_owner owner;
	_Atomic uint32_t hungry; /* it owns fewer than its share: somebody should give one up */
	_Atomic uint32_t owns; /* partitions it owns (statistics) */
};
static_assert(sizeof(struct shmqi_pmember) == 128, "parts member size");

struct shmqi_ppart {
	alignas(64) struct shmqi_owner owner;
	_Atomic uint64_t moves; /* times it changed owner (statistics) */
	uint8_t reserved[32];
};
static_assert(sizeof(struct shmqi_ppart) == 64, "parts partition entry size");

#endif /* SHMQ_SHM_LAYOUT_H */
