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
 *   means bumping SHMQI_LAYOUT_VERSION;
 * - nothing read from here is trusted: the readers bounds-check every length and position.
 */

static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
static_assert(sizeof(_Atomic uint64_t) == 8, "atomic u64 must be plain-sized");
static_assert(sizeof(_Atomic uint32_t) == 4, "atomic u32 must be plain-sized");

#define SHMQI_MAGIC 0x31474553514d4853ull /* "SHMQSEG1" little-endian */
#define SHMQI_LAYOUT_VERSION 1u
#define SHMQI_CACHE_PAIR 128 /* producer/consumer hot fields sit this far apart */

/* What a segment holds; checked on attach so a topic is never opened as a channel. */
enum shmqi_kind {
	SHMQI_KIND_CHANNEL = 1,
};

/*
 * The first 64 bytes of every segment. The creator fills every field, then stores
 * @layout last with release (R0); an attacher loads @layout with acquire (A0) before it
 * reads any other field, so a non-zero layout word means a complete header.
 */
struct shmqi_seg_hdr {
	uint64_t magic; /* SHMQI_MAGIC */
	_Atomic uint32_t layout; /* SHMQI_LAYOUT_VERSION, 0 while the creator initialises */
	uint32_t kind; /* enum shmqi_kind */
	uint64_t size; /* total bytes of the segment, equals the file size */
	int32_t creator_pid;
	uint32_t body_off; /* where the kind's control block starts */
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint8_t reserved[24];
};
static_assert(sizeof(struct shmqi_seg_hdr) == 64, "segment header size");
static_assert(offsetof(struct shmqi_seg_hdr, magic) == 0, "magic offset");
static_assert(offsetof(struct shmqi_seg_hdr, layout) == 8, "layout offset");
static_assert(offsetof(struct shmqi_seg_hdr, kind) == 12, "kind offset");
static_assert(offsetof(struct shmqi_seg_hdr, size) == 16, "size offset");
static_assert(offsetof(struct shmqi_seg_hdr, creator_pid) == 24, "creator_pid offset");
static_assert(offsetof(struct shmqi_seg_hdr, body_off) == 28, "body_off offset");
static_assert(offsetof(struct shmqi_seg_hdr, created_ns) == 32, "created_ns offset");

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
 * The control block of an SPSC channel, at seg_hdr.body_off. The ring follows at
 * @ring_off. Three groups, each on its own 128-byte pair of cache lines:
 * - cold: the configuration and the role owners;
 * - producer-written: the write position and next sequence (for stats and takeover);
 * - consumer-written: the released read position, which gates the producer.
 */
struct shmqi_chan {
	/* cold */
	alignas(SHMQI_CACHE_PAIR) uint64_t capacity; /* power of two */
	uint64_t ring_off; /* from the segment's start, a multiple of 4096 */
	uint32_t max_msg;
	uint32_t flags; /* none defined */
	_Atomic int32_t producer_pid; /* role owner, 0 when free */
	_Atomic int32_t consumer_pid;
	/* producer-written */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t write_pos;
	_Atomic uint64_t next_seq;
	/* consumer-written */
	alignas(SHMQI_CACHE_PAIR) _Atomic uint64_t read_pos;
};
static_assert(offsetof(struct shmqi_chan, capacity) == 0, "capacity offset");
static_assert(offsetof(struct shmqi_chan, ring_off) == 8, "ring_off offset");
static_assert(offsetof(struct shmqi_chan, max_msg) == 16, "max_msg offset");
static_assert(offsetof(struct shmqi_chan, producer_pid) == 24, "producer_pid offset");
static_assert(offsetof(struct shmqi_chan, consumer_pid) == 28, "consumer_pid offset");
static_assert(offsetof(struct shmqi_chan, write_pos) == 128, "write_pos offset");
static_assert(offsetof(struct shmqi_chan, next_seq) == 136, "next_seq offset");
static_assert(offsetof(struct shmqi_chan, read_pos) == 256, "read_pos offset");
static_assert(sizeof(struct shmqi_chan) == 384, "channel control block size");

#define SHMQI_CHAN_BODY_OFF 128u
#define SHMQI_CHAN_RING_OFF 4096u
static_assert(SHMQI_CHAN_BODY_OFF >= sizeof(struct shmqi_seg_hdr), "body after header");
static_assert(SHMQI_CHAN_BODY_OFF + sizeof(struct shmqi_chan) <= SHMQI_CHAN_RING_OFF,
	      "control block before ring");

#endif /* SHMQ_SHM_LAYOUT_H */
