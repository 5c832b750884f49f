/* SPDX-License-Identifier: MIT */
/* topic_internal.h - what topic.c, topic_pub.c, topic_sub.c and group.c share about topics. */
#ifndef SHMQ_TOPIC_INTERNAL_H
#define SHMQ_TOPIC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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
 * R6/A6  a producer's release store of pending = 0 once its claim is done, a finder's
 *        acquire load of pending in claimant_alive(): a claim seen finished left every
 *        record of it with its final stamp, so the finder's skip CAS fails on a committed one.
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
 * X1     an exclusive producer's seq_cst store of exclusive_pid then seq_cst scan of the
 *        producer heads, against another producer's seq_cst take of its entry then seq_cst
 *        load of exclusive_pid: one of two racing openers sees the other (topic_pub.c).
 * B1     the lone producer's bias: a holder claims by a plain release store of the tail
 *        after a relaxed check of the bias word; a revoker CASes BIAS_REVOKED in, then
 *        membarrier(GLOBAL), then waits for the holder's acknowledgement or an idle or
 *        settled pending claim (topic_pub.c).
 * O1     owner entries change hands in two CAS steps (internal.h).
 * A relaxed access says why it may be relaxed where that is not plain; statistics (the
 * counters, heartbeats, published) are relaxed throughout.
 */

#define SHMQI_TREC_HDR ((uint32_t)sizeof(struct shmqi_trec))

/* What both handles keep: the mapping and the configuration, read and checked once. */
struct shmqi_tmap {
	struct shmqi_seg seg;
	struct shmqi_topic *ctl;
	struct shmqi_sub_entry *subs;
	struct shmqi_prod_entry *prods;
	struct shmqi_gate *gates; /* SHMQI_TOPIC_GATES of them */
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

static inline struct shmqi_trec *shmqi_slot_at(const struct shmqi_tmap *t, uint64_t seq)
{
	return (struct shmqi_trec *)(t->ring + (seq & t->mask) * t->slot_size);
}

/* The room a header block of @hlen bytes takes before the payload. */
static inline uint32_t shmqi_hdrs_span(uint32_t hlen)
{
	return (hlen + 7u) & ~7u;
}

/*
 * Check a record's length fields, read once by the caller (@len, @flags, @hlen; @hlen
 * counts only with SHMQI_TREC_HDRS) against the topic's @max_msg. Return: true when sane.
 */
static inline bool shmqi_trec_sane(uint32_t len, uint32_t flags, uint32_t hlen, uint32_t max_msg)
{
	if (__builtin_expect(flags == 0, 1))
		return len <= max_msg;
	return flags == SHMQI_TREC_HDRS && hlen - 1u < SHMQ_HDRS_MAX && /* 1..SHMQ_HDRS_MAX */
	       shmqi_hdrs_span(hlen) <= max_msg && len <= max_msg - shmqi_hdrs_span(hlen);
}

/* A record's payload, past its header block if it has one (its fields checked sane). */
static inline const uint8_t *shmqi_trec_data(const struct shmqi_trec *rec, uint32_t flags,
					     uint32_t hlen)
{
	return (const uint8_t *)(rec + 1) + (flags ? shmqi_hdrs_span(hlen) : 0);
}

static inline uint64_t shmqi_stamp_seq(uint64_t v)
{
	return v >> 2;
}

/* A forked child's copy of a handle gives up nothing of the parent's. */
static inline bool shmqi_tmap_ours(const struct shmqi_tmap *t)
{
	return getpid() == t->pid;
}

/* A cursor moved on or stopped gating: producers parked for room may go on. */
static inline void shmqi_topic_room_made(const struct shmqi_tmap *t)
{
	shmqi_notify(&t->ctl->room_park_state, &t->ctl->room);
}

/* The oldest sequence the log may still hold, given its tail. */
static inline uint64_t shmqi_oldest(const struct shmqi_tmap *t, uint64_t tail)
{
	return tail > t->slots ? tail - t->slots : 1;
}

/* topic.c */
/*
 * Open (maybe create) the topic's segment into @t; released with shmqi_seg_close(). With
 * SHMQI_MAP_RDONLY in @flags it is attached read-only (inspection: a user with read
 * permission only may do it; nothing may be written through @t then).
 */
#define SHMQI_MAP_RDONLY 0x80000000u
int shmqi_topic_map(shmq_bus *bus, const char *name, unsigned flags,
		    const struct shmq_topic_config *cfg, struct shmqi_tmap *t);
/* Take an entry of a topic's producer or subscriber table; its head goes to t->head. */
int shmqi_topic_take(struct shmqi_tmap *t, void *table, uint32_t n, uint32_t *ret_i);
/*
 * Give our entry up, if it is still ours: its head is still the one our take left (another
 * handle of this process that took it after us has another). @clear as for
 * shmqi_owner_free(), called with @t.
 */
bool shmqi_topic_drop(struct shmqi_tmap *t, struct shmqi_owner *o, shmqi_owner_clear_fn clear,
		      void *arg);
/* Between the two steps of freeing a subscriber's entry (@ctx the map, @arg the slot). */
void shmqi_clear_sub(void *ctx, void *arg);
/*
 * Subscribers whose owner died stop gating: free their slots. Rate-limited by the caller.
 * Return: how many this call freed.
 */
uint32_t shmqi_reap_dead_subs(struct shmqi_tmap *t);
/* Free the entries of producers whose owner died (their claims, see topic.c). Return: how many. */
uint32_t shmqi_reap_dead_prods(struct shmqi_tmap *t);
/* Producers alive in the table (one taking or giving up its entry counts, if its pid does). */
uint32_t shmqi_count_prods(struct shmqi_tmap *t);
/*
 * Turn record @seq, whose slot still shows @v, into a skipped record unless a live
 * producer claims it. Return: true when the stamp changed (skipped here or elsewhere).
 */
bool shmqi_skip_dead_claim(const struct shmqi_tmap *t, uint64_t seq, uint64_t v);
/*
 * Skip, now, the records claimed but unfinished whose claimant is dead: each record from
 * the oldest one that a subscriber or group still needs to the tail, and the records of the
 * claims that dead producers' entries (or free ones) still show, from two laps below the
 * tail on (a producer a lap later may wait there). Each is judged by shmqi_skip_dead_claim():
 * a live claimant's record is never skipped. Return: how many records changed (skipped
 * here, or by another finder meanwhile).
 */
uint32_t shmqi_skip_dead_claims(struct shmqi_tmap *t);
/*
 * No producer may take a record at or above @start, and below our cursor, as passed by us:
 * records claimed before we joined may still be being written (F1). Ordered before S1 or
 * R2 by the caller; a relaxed RMW of a word that only grows.
 */
void shmqi_raise_start(const struct shmqi_tmap *t, uint64_t start);

/*
 * Would record @seq, whose slot still shows @v, be skipped by shmqi_skip_dead_claim(): no
 * live producer claims it, and the stamp still shows @v? Nothing is written: a read-only
 * subscriber steps over such a record for itself.
 */
bool shmqi_claim_dead(const struct shmqi_tmap *t, uint64_t seq, uint64_t v);

/* topic_ro.c: a read-only subscriber's watch on its topic's name (removed, or created anew). */
struct shmqi_ro_name;
/* Remember what segment @t is, by its header; freed with shmqi_ro_name_free(). */
int shmqi_ro_name_open(shmq_bus *bus, const char *name, const struct shmqi_tmap *t,
		       struct shmqi_ro_name **ret_n);
void shmqi_ro_name_free(struct shmqi_ro_name *n);
/*
 * Is the name now free, or another segment's? Looks (an open and a read of the header) at
 * most every 100 ms, at @now (CLOCK_MONOTONIC ns); false in between, and for NULL.
 */
bool shmqi_ro_name_gone(struct shmqi_ro_name *n, uint64_t now);

/* topic_pub.c: the largest payload a producer handle's topic takes. */
uint32_t shmqi_pub_max_msg(const shmq_pub *pub);

#endif /* SHMQ_TOPIC_INTERNAL_H */
