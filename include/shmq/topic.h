/* SPDX-License-Identifier: MIT */
/* shmq/topic.h - topics: multi-producer logs with fan-out subscribers; included by shmq.h. */
#ifndef SHMQ_TOPIC_H
#define SHMQ_TOPIC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmq/bus.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A topic is one shared-memory segment holding a log of records, written by any number of
 * producer processes at once and read by any number of subscribers, each through a private
 * cursor. Nothing is copied per subscriber.
 *
 * The log is a ring of @slots fixed-size slots; a record takes one slot, whatever its
 * length (0 to @max_msg bytes). Record N (sequence numbers start at 1 and grow by one per
 * record, across all producers) lives in slot N mod @slots, so the log retains the last
 * @slots records at most: that is all the history a late joiner or a replay can get.
 *
 * A producer claims a record (or a batch) with one atomic operation on the log's tail,
 * writes it, and commits it; records are committed independently of each other, and
 * subscribers see only complete records, in sequence order.
 *
 * Two policies, fixed at creation:
 * - SHMQ_TOPIC_RELIABLE: producers are held back by the slowest live subscriber; a full log
 *   gives -EAGAIN. A subscriber that closes or dies stops holding them back. With no
 *   subscriber at all, producers overwrite the oldest records.
 * - SHMQ_TOPIC_LOSSY: producers never wait for subscribers. A subscriber that was lapped
 *   learns exactly how many records it lost (struct shmq_sub_msg.lost and
 *   shmq_sub_stats()) and resumes at the oldest record still retained.
 *
 * Under either policy a producer writes a slot only once the record a lap earlier in it is
 * finished, so a producer stopped mid-write holds up the one that claims the same slot a
 * lap later, for the claim timeout at most: then that one gives up its record
 * (-ETIMEDOUT). This happens only when producers write a whole log while one of them is
 * stopped between claim and commit.
 *
 * A producer that dies between claiming and committing leaves a hole. After the topic's
 * claim timeout, whoever waits on that record (a subscriber, or a producer a lap later)
 * confirms that the claimant is dead (pid and process start time) and turns the hole into
 * a skipped record, which subscribers step over and count (struct shmq_sub_msg.skipped);
 * a supervisor that learns of the death does it at once with shmq_topic_reap(). A claimant
 * that is alive but slow (stopped, descheduled) is waited for, never overwritten.
 */
typedef struct shmq_pub shmq_pub;
typedef struct shmq_sub shmq_sub;

#define SHMQ_TOPIC_RELIABLE 0u
#define SHMQ_TOPIC_LOSSY 1u

#define SHMQ_TOPIC_DEFAULT_SLOTS 1024u
#define SHMQ_TOPIC_DEFAULT_MAX_MSG 976u /* a 1 KiB slot with its 48-byte header */
#define SHMQ_TOPIC_MAX_SLOTS (1u << 24)
#define SHMQ_TOPIC_MAX_SUBSCRIBERS 256u
#define SHMQ_TOPIC_MAX_PRODUCERS 256u
#define SHMQ_TOPIC_DEFAULT_SUBSCRIBERS 64u
#define SHMQ_TOPIC_DEFAULT_PRODUCERS 64u
#define SHMQ_TOPIC_DEFAULT_CLAIM_TIMEOUT_NS 1000000000ull /* 1 s */
#define SHMQ_TOPIC_MIN_CLAIM_TIMEOUT_NS 1000000ull /* 1 ms */
#define SHMQ_TOPIC_MAX_CLAIM_TIMEOUT_NS 3600000000000ull /* 1 h */

/**
 * struct shmq_topic_config - how a topic is created.
 * @slots:            records the log holds, a power of two in [2, 2^24]; 0 for 1024
 * @max_msg:          largest payload in bytes, at most 1 GiB; each slot takes 48 bytes of
 *                    header plus @max_msg, rounded up to 64; 0 for 976 (1 KiB slots)
 * @policy:           SHMQ_TOPIC_RELIABLE or SHMQ_TOPIC_LOSSY
 * @mode:             permission bits of a new segment (0-0777); 0 for 0600
 * @max_subscribers:  subscriber entries, 1-256; 0 for 64
 * @max_producers:    producer entries, 1-256; 0 for 64
 * @claim_timeout_ns: how long a claimed but uncommitted record is waited for before its
 *                    claimant is checked for death, 1 ms to 1 h; 0 for 1 s
 *
 * When attaching to an existing topic, non-zero @slots, @max_msg, @max_subscribers and
 * @max_producers must equal the topic's, and @policy must too, else -EBADE (and
 * shmq_last_detail() names the field); @mode and @claim_timeout_ns apply only when
 * creating.
 */
struct shmq_topic_config {
	uint32_t slots;
	uint32_t max_msg;
	uint32_t policy;
	uint32_t mode;
	uint32_t max_subscribers;
	uint32_t max_producers;
	uint64_t claim_timeout_ns;
};

/* Flags of shmq_pub_open() and shmq_sub_open() (SHMQ_OPEN_CREATE/EXCL as for channels). */
#define SHMQ_SUB_LATEST 0x100u /* start after the newest record (the default) */
#define SHMQ_SUB_EARLIEST 0x200u /* start at the oldest record the log retains */
#define SHMQ_SUB_FROM_SEQ 0x400u /* start at @from_seq (clamped to what is retained) */
#define SHMQ_SUB_READONLY 0x800u /* a lossy topic's reader that writes nothing (see below) */
#define SHMQ_PUB_EXCLUSIVE 0x1000u /* the topic's only producer: claims need no atomic RMW */
#define SHMQ_SUB_LATENCY 0x2000u /* record delivery latency, readable live (shmq/latency.h) */

/**
 * shmq_pub_open() - attach to a topic as a producer.
 * @bus:     the bus (namespace)
 * @name:    topic name, as for channels
 * @flags:   SHMQ_OPEN_CREATE, SHMQ_OPEN_EXCL, SHMQ_PUB_EXCLUSIVE, SHMQ_OPEN_NO_TIMESTAMPS (a
 *           topic this call creates carries no publish times, bus.h); unknown bits are
 *           rejected
 * @cfg:     configuration for a new topic, or NULL (policy reliable and the defaults); see
 *           struct shmq_topic_config for what it means when attaching
 * @ret_pub: on success a handle owned by the caller, released with shmq_pub_close();
 *           untouched on failure
 *
 * Each producer handle takes a producer entry and a producer id (unique for the life of the
 * topic segment); its records carry that id and a producer sequence (1, 2, 3 ... per
 * handle), so that consumers can tell duplicates and gaps per producer. A handle is used by
 * one thread at a time; open one per thread that publishes.
 *
 * With SHMQ_PUB_EXCLUSIVE the handle is the topic's only producer while it is open (as
 * Aeron's exclusive publication): it claims records with a plain store of the tail instead
 * of a compare-and-swap, about 8 ns less per record. Opening it fails with -EBUSY while
 * another producer handle is open, and other producers get -EBUSY while it is open. A dead
 * exclusive producer (pid gone or a zombie) is replaced by the next one to open.
 *
 * Without it, a producer that is alone on the topic claims in the same way until another
 * producer opens (docs/design.md, "The lone producer's bias"); that open then takes an RCU
 * grace period longer (10-20 ms), once, and waits for the first producer's claim in
 * flight, if any.
 *
 * Return: 0, or -EINVAL, -ENOENT, -EEXIST (SHMQ_OPEN_EXCL and present), -EBADE (a
 * configuration that differs from the topic's), -EPROTOTYPE (the object is a channel),
 * -EUSERS (every producer entry is held by a live process), -EBUSY (an exclusive producer
 * is open, or SHMQ_PUB_EXCLUSIVE and another producer is; or the topic's lone producer
 * stayed in the middle of a claim, stopped there, for the claim timeout and 1 s: the
 * detail says so), -EACCES, -EPROTO, -ENOSPC,
 * -ENOMEM. shmq_last_detail() says more for -EINVAL (a bad name), -EBADE, -EPROTOTYPE,
 * -EPROTO and -EUSERS (how many entries the topic has).
 */
SHMQ_API int shmq_pub_open(shmq_bus *bus, const char *name, unsigned flags,
			   const struct shmq_topic_config *cfg, shmq_pub **ret_pub);

/**
 * shmq_pub_close() - release a handle from shmq_pub_open(); NULL is ignored.
 *
 * An outstanding claim is committed as a skipped record. As with shmq_channel_close(), a
 * forked child's close of an inherited handle, or the close of a handle whose entry was
 * taken over meanwhile, gives up nothing of the holder's.
 */
SHMQ_API void shmq_pub_close(shmq_pub *pub);

/**
 * shmq_pub_send() - publish one record (a copy of @data).
 * @pub:     a producer handle
 * @data:    the payload (may be NULL when @len is 0)
 * @len:     0 to the topic's max_msg
 * @corr_id: a correlation id carried to the subscribers (0 for none)
 *
 * Return: 0, or -EAGAIN (reliable topic full: the slowest subscriber is @slots records
 * behind; shmq_pub_wait() waits for room), -EMSGSIZE, -EBUSY (a claim is outstanding),
 * -EINVAL, -EPROTO (a corrupt tail), -ETIMEDOUT (the slot's record a lap earlier is still
 * being written by a live producer after the claim timeout: a producer stopped mid-write;
 * the record is abandoned and subscribers count it as skipped), -ESTALE (the record was
 * skipped before it was written: another process took this one for dead; it is lost).
 */
SHMQ_API int shmq_pub_send(shmq_pub *pub, const void *data, size_t len, uint64_t corr_id);

/**
 * struct shmq_pub_msg - one record of shmq_pub_send_many().
 */
struct shmq_pub_msg {
	const void *data;
	size_t len;
	uint64_t corr_id;
};

/**
 * shmq_pub_send_many() - publish up to @n records, claimed with one atomic operation.
 * @pub:  a producer handle
 * @msgs: the records
 * @n:    at least 1
 *
 * On a reliable topic with less room than @n records, publishes as many as fit. The
 * records get consecutive sequence numbers. What is published is always a prefix of
 * @msgs: when a record fails (-ETIMEDOUT, -ESTALE), the ones after it are not published
 * (their sequence numbers become skipped records) and the count says how far it went.
 *
 * Return: the number published (1..@n), or the error of shmq_pub_send() for the first.
 * Every length is checked before anything is claimed: one too large gives -EMSGSIZE.
 */
SHMQ_API int shmq_pub_send_many(shmq_pub *pub, const struct shmq_pub_msg *msgs, size_t n);

/**
 * shmq_pub_claim() - zero-copy publish, step 1: claim the next record.
 * @pub:     a producer handle
 * @len:     payload bytes wanted, 0 to max_msg
 * @ret_buf: on success where to write up to @len bytes (8-byte aligned)
 *
 * The record's sequence number is taken: subscribers wait at it until it is committed (or
 * aborted, or its claimant dies and the claim times out). Keep the claim short.
 *
 * Return: 0, or the errors of shmq_pub_send().
 */
SHMQ_API int shmq_pub_claim(shmq_pub *pub, size_t len, void **ret_buf);

/**
 * shmq_pub_commit() - zero-copy publish, step 2: publish the claimed record.
 * @pub:     a producer handle with an outstanding claim
 * @len:     the payload's final length, at most the claimed length
 * @corr_id: correlation id, 0 for none
 *
 * Return: 0, or -EINVAL (no claim, or @len above it), -ESTALE (the record was skipped
 * meanwhile by a process that took this one for dead; nothing was published).
 */
SHMQ_API int shmq_pub_commit(shmq_pub *pub, size_t len, uint64_t corr_id);

/**
 * shmq_pub_send_hdrs() - shmq_pub_send() with headers (shmq/headers.h).
 * @hdrs:     a header block (shmq_hdrs_add()), checked as shmq_hdrs_check() does; NULL
 *            with @hdrs_len 0 for none, which is shmq_pub_send()
 * @hdrs_len: its length, at most SHMQ_HDRS_MAX
 *
 * The block and the payload share the record's room: align8(@hdrs_len) + @len must not
 * pass the topic's max_msg. Records with headers go one at a time (shmq_pub_send_many()
 * sends none).
 *
 * Return: as shmq_pub_send(), and -EINVAL (a malformed block), -E2BIG (over the limits),
 * -EMSGSIZE (block and payload do not fit).
 */
SHMQ_API int shmq_pub_send_hdrs(shmq_pub *pub, const void *hdrs, size_t hdrs_len, const void *data,
				size_t len, uint64_t corr_id);

/**
 * shmq_pub_claim_hdrs() - shmq_pub_claim() for a record with headers: the block is copied
 * into the record now, and @ret_buf points past it, where the payload goes (8-byte
 * aligned). shmq_pub_commit() publishes both. Return: as shmq_pub_send_hdrs().
 */
SHMQ_API int shmq_pub_claim_hdrs(shmq_pub *pub, const void *hdrs, size_t hdrs_len, size_t len,
				 void **ret_buf);

/**
 * shmq_pub_abort() - give up a claim: the record becomes a skipped one.
 *
 * Return: 0, or -EINVAL (no claim).
 */
SHMQ_API int shmq_pub_abort(shmq_pub *pub);

/**
 * shmq_pub_wait() - wait until a reliable topic has room for a record.
 * @pub:        a producer handle
 * @spin_ns:    busy-poll this long first (0: park at once; SHMQ_SPIN_FOREVER: never park)
 * @timeout_ns: give up after this long (0: just look; SHMQ_WAIT_FOREVER: never)
 *
 * For a send that got -EAGAIN. Room comes when the slowest subscriber reads on, closes,
 * or dies: subscribers wake parked producers (paying nothing until a producer first parks
 * on the topic; from then on, for the topic's life, a full fence per receive call, and a
 * futex wake per receive while a producer is parked), and a parked producer watches the
 * pidfds of the subscribers holding it back (up to four; more, or a consumer group holding
 * the topic, every 10 ms; with the futex backend, every 10 ms): one that dies ends the park,
 * and its entry is freed. Another producer may take the
 * room first: send again, and wait again on -EAGAIN. A lossy topic always has room.
 *
 * Return: 0 (a send would find room now), -ETIMEDOUT, -EBUSY (this handle has a claim
 * outstanding: commit or abort it first, as the slowest subscriber may be waiting at it),
 * -EINVAL, or another -errno from the wait itself (io_uring or futex).
 */
SHMQ_API int shmq_pub_wait(shmq_pub *pub, uint64_t spin_ns, uint64_t timeout_ns);

/**
 * shmq_pub_id() - the producer id this handle stamps on its records.
 *
 * Return: the id (> 0), or 0 when @pub is NULL.
 */
SHMQ_API uint32_t shmq_pub_id(const shmq_pub *pub);

/**
 * shmq_sub_open() - attach to a topic as a subscriber with a private cursor.
 * @bus:      the bus
 * @name:     topic name
 * @flags:    SHMQ_OPEN_CREATE, SHMQ_OPEN_EXCL and at most one of SHMQ_SUB_LATEST (the
 *            default), SHMQ_SUB_EARLIEST, SHMQ_SUB_FROM_SEQ; SHMQ_SUB_READONLY;
 *            SHMQ_SUB_LATENCY: record each record's delivery latency where any process
 *            can read it (shmq/latency.h; off by default: it costs a clock read per record,
 *            about 9 % of the 64-byte topic ping-pong's p50; ignored with SHMQ_SUB_READONLY);
 *            SHMQ_OPEN_NO_TIMESTAMPS, as for shmq_pub_open()
 * @cfg:      as for shmq_pub_open()
 * @from_seq: with SHMQ_SUB_FROM_SEQ the first sequence number wanted; otherwise 0
 * @ret_sub:  on success a handle owned by the caller, released with shmq_sub_close()
 *
 * Replay (EARLIEST, FROM_SEQ) starts at the oldest record the log still holds when the
 * wanted one is gone (the records in between count as lost); a @from_seq beyond the newest
 * record waits for it. Records a producer overwrites while the subscriber joins are
 * reported as lost, never delivered torn.
 *
 * On a reliable topic the subscriber holds producers back from the moment this returns.
 *
 * With SHMQ_SUB_READONLY (lossy topics only, without SHMQ_OPEN_CREATE) the subscriber maps
 * the topic read-only (PROT_READ) and writes nothing into it: a user with read permission
 * alone (a topic of mode 0644, say) may read it. Its cursor lives in the handle only. It
 * takes no subscriber entry, so shmq_topic_stat() does not list it and producers do not
 * know of it (on a lossy topic they never wait for a subscriber anyway). It reads with the
 * same checks as any subscriber: a record overwritten before or while it is read is never
 * delivered, and counts as lost (struct shmq_sub_msg.lost, shmq_sub_stats()). Receive,
 * receive many, peek and release, headers, stats and shmq_sub_expired() work as for any
 * subscriber. It cannot announce that it parks, so shmq_sub_wait() polls: it looks every
 * 1 ms once its spin is over, and a record is noticed up to 1 ms late; the prepared and fd
 * waits and shmq_wait_many() refuse it (-EOPNOTSUPP). Its shmq_sub_wait() ends with -EPIPE
 * as any subscriber's (the wait block's close count is read, not written), and with
 * -EIDRM once the topic was removed, or removed and created anew, and everything the
 * segment it mapped holds is read: it looks at the name every 100 ms while idle, and the
 * new topic is read by a new handle. A producer's unfinished record it meets is stepped
 * over (counted as skipped) once the claim timeout has passed and its claimant is found
 * dead, as any subscriber does, but without marking it skipped in the log, since that
 * would be a write.
 *
 * Return: 0, or -EINVAL (also SHMQ_SUB_READONLY on a reliable topic, whose producers must
 * see every cursor, with shmq_last_detail() saying so; or with SHMQ_OPEN_CREATE), -ENOENT,
 * -EEXIST, -EBADE, -EPROTOTYPE (as for shmq_pub_open()),
 * -EUSERS (every subscriber entry is held by a live process; shmq_last_detail() says how
 * many the topic has), -EACCES, -EPROTO, -ENOSPC, -ENOMEM.
 */
SHMQ_API int shmq_sub_open(shmq_bus *bus, const char *name, unsigned flags,
			   const struct shmq_topic_config *cfg, uint64_t from_seq,
			   shmq_sub **ret_sub);

/**
 * shmq_sub_close() - release a handle from shmq_sub_open(); NULL is ignored. The
 * subscriber's entry is freed and stops holding producers back. A forked child's close of
 * an inherited handle, or the close of a handle whose slot was taken over meanwhile,
 * frees nothing but the handle.
 */
SHMQ_API void shmq_sub_close(shmq_sub *sub);

/**
 * struct shmq_sub_msg - what a received record carries besides its payload.
 * @seq:          the record's sequence number in the topic
 * @ts_ns:        publish time, CLOCK_MONOTONIC nanoseconds (shmq_now_ns()); 0 in a topic
 *                made with SHMQ_OPEN_NO_TIMESTAMPS
 * @corr_id:      correlation id given by the producer (0 for none)
 * @producer_id:  the producer handle that published it (> 0)
 * @producer_seq: its sequence among that producer's records (from 1)
 * @len:          payload length
 * @lost:         records lost right before this one (lapped on a lossy topic)
 * @skipped:      records skipped right before this one (dead claimants, aborts)
 */
struct shmq_sub_msg {
	uint64_t seq;
	uint64_t ts_ns;
	uint64_t corr_id;
	uint32_t producer_id;
	uint64_t producer_seq;
	size_t len;
	uint64_t lost;
	uint64_t skipped;
};

/**
 * shmq_sub_recv() - copy the next record out and move the cursor past it.
 * @sub:      a subscriber handle
 * @buf:      where to copy the payload (may be NULL when @buf_len is 0)
 * @buf_len:  size of @buf
 * @ret_info: on success what the record carries; may be NULL
 *
 * A record longer than @buf_len stays next (-EMSGSIZE; @ret_info, when given, still gets
 * its length).
 *
 * Return: the payload length (>= 0), or -EAGAIN (nothing new), -EMSGSIZE, -EINVAL,
 * -EBUSY (peeked records are not released yet),
 * -EBADMSG (a corrupt slot: the record is counted as lost in shmq_sub_stats() and the
 * cursor has moved past it).
 */
SHMQ_API int shmq_sub_recv(shmq_sub *sub, void *buf, size_t buf_len, struct shmq_sub_msg *ret_info);

/**
 * struct shmq_sub_rmsg - one buffer of shmq_sub_recv_many().
 * @buf:  in: where to copy the payload
 * @cap:  in: size of @buf
 * @info: out: what the record copied into @buf carries
 */
struct shmq_sub_rmsg {
	void *buf;
	size_t cap;
	struct shmq_sub_msg info;
};

/**
 * shmq_sub_recv_many() - copy up to @n records out, moving the shared cursor once.
 *
 * Stops early when nothing more is there, or the next record does not fit its buffer.
 *
 * Return: the number received (1..@n), or the error for the first record.
 */
SHMQ_API int shmq_sub_recv_many(shmq_sub *sub, struct shmq_sub_rmsg *msgs, size_t n);

/**
 * shmq_sub_peek() - zero-copy receive: the next record, in place.
 * @sub:      a subscriber handle
 * @ret_data: on success the payload's address in the log (8-byte aligned)
 * @ret_info: on success what the record carries; may be NULL
 *
 * Each call moves on to the following record. Producers are held back from the peeked
 * records (reliable topics) until shmq_sub_release(), which gives all of them back at
 * once. On a lossy topic a producer may overwrite a peeked record meanwhile:
 * shmq_sub_release() then says so, and what was read from it must be discarded.
 *
 * Return: the payload length (>= 0), or -EAGAIN, -EBADMSG, -EPROTO, -EINVAL, -ENOMEM
 * (no room to remember one more peeked record).
 */
SHMQ_API int shmq_sub_peek(shmq_sub *sub, const void **ret_data, struct shmq_sub_msg *ret_info);

/**
 * shmq_sub_release() - give back every record peeked so far and move the shared cursor.
 *
 * Return: the number of records released (>= 0), or -ESTALE when a producer overwrote a
 * peeked record before it was released (lossy topics, or a replay racing producers; the
 * records are released all the same and the overwritten ones counted as lost), -EINVAL.
 */
SHMQ_API int shmq_sub_release(shmq_sub *sub);

/**
 * shmq_sub_headers() - the headers of the record the last receive delivered.
 * @sub:      a subscriber handle
 * @ret_hdrs: out: its header block (read it with shmq_hdrs_get(), shmq_hdrs_next()), or
 *            NULL when it had none
 * @ret_len:  out: the block's length, 0 for none
 *
 * After shmq_sub_recv() and shmq_sub_recv_many() the block is the handle's copy, good
 * until the next receive; a batch ends at the first record that has headers, so only the
 * last record of a batch may have any. After shmq_sub_peek() it lies in the log beside
 * the payload, good as long as the payload is (and on a lossy topic checked the same way,
 * by shmq_sub_release()). Whatever the block holds, the readers of shmq/headers.h stay
 * inside it.
 *
 * Return: 0, or -EINVAL.
 */
SHMQ_API int shmq_sub_headers(const shmq_sub *sub, const void **ret_hdrs, size_t *ret_len);

/**
 * shmq_topic_set_ttl() - a topic's default time to live: records sent from now on without
 * their own SHMQ_HDR_EXPIRES header get one @ttl_ns after their send (0: none, the
 * default). It lives in the topic's segment, for every producer, and can change at any
 * time. Records with it carry headers; shmq_pub_send_many() then sends one at a time.
 * Return: 0, or the errors of shmq_pub_open().
 */
SHMQ_API int shmq_topic_set_ttl(shmq_bus *bus, const char *name, uint64_t ttl_ns);

/** shmq_topic_ttl() - a topic's default time to live (0: none). Return: 0 or -errno. */
SHMQ_API int shmq_topic_ttl(shmq_bus *bus, const char *name, uint64_t *ret_ttl_ns);

/**
 * shmq_topic_expired() - records the topic's subscribers skipped because their expiry had
 * passed (a record each subscriber skips counts once for it; read-only subscribers count
 * only in their own shmq_sub_expired()). Return: 0 or -errno.
 */
SHMQ_API int shmq_topic_expired(shmq_bus *bus, const char *name, uint64_t *ret_count);

/**
 * shmq_sub_expired() - records this subscriber skipped because their expiry
 * (SHMQ_HDR_EXPIRES, shmq/headers.h) had passed when it came to them; 0 for NULL.
 */
SHMQ_API uint64_t shmq_sub_expired(const shmq_sub *sub);

/**
 * shmq_sub_wait() - wait until a record is there to receive.
 * @sub:        a subscriber handle
 * @spin_ns:    busy-poll this long first (0: park at once; SHMQ_SPIN_FOREVER: never park)
 * @timeout_ns: give up after this long (0: just look; SHMQ_WAIT_FOREVER: never)
 *
 * As shmq_channel_wait(): producers pay nothing until a subscriber first parks on the
 * topic, then a full fence per publish and a wake while subscribers sleep. A parked
 * subscriber wakes by itself only while a record at its cursor is claimed and not yet
 * committed: after the claim timeout, to skip it if its producer died. With nothing pending
 * it makes no wakeups.
 *
 * Return: 0 (receive will find a record, or an error to report), -ETIMEDOUT, -EPIPE (the
 * last live producer closed after this subscriber joined, and nothing is left; producers
 * that died without closing do not count, nor wake anybody, until shmq_topic_reap() frees
 * the last one's entry: its death is the last close then), -EIDRM (SHMQ_SUB_READONLY
 * only: the topic was removed, see shmq_sub_open()), -EINVAL. A subscriber that
 * joins a topic with no producer (the last one closed before, and the segment stays in
 * /dev/shm between runs) waits for one: the close it found does not end its wait, the next
 * one does. This holds for shmq_wait_many() too.
 */
SHMQ_API int shmq_sub_wait(shmq_sub *sub, uint64_t spin_ns, uint64_t timeout_ns);

/**
 * shmq_sub_prep_wait() - put the wait for a record onto the caller's own io_uring; as
 * shmq_channel_prep_wait(). A dead producer's unfinished record is noticed only by a
 * receive or a wait call: prepare the SQE with a linked timeout of the claim timeout to
 * be sure to look.
 * Return: 0, or -EINVAL.
 */
SHMQ_API int shmq_sub_prep_wait(shmq_sub *sub, struct io_uring_sqe *sqe, uint64_t user_data);

/** shmq_sub_wait_done() - the completion of a prepared wait arrived. Return: 0 or -EINVAL. */
SHMQ_API int shmq_sub_wait_done(shmq_sub *sub);

/**
 * shmq_sub_fd() - a file descriptor that polls readable while there is something to
 * receive; as shmq_channel_fd() (re-armed by a receive or peek that returns -EAGAIN).
 * Return: the fd, or -EOPNOTSUPP, -EINVAL, -ENOMEM, an io_uring setup error.
 */
SHMQ_API int shmq_sub_fd(shmq_sub *sub);

/**
 * struct shmq_sub_stats - one subscriber's position and counters.
 * @cursor:   sequence number of the next record it reads
 * @tail:     sequence number the next claimed record will get
 * @received: records delivered
 * @lost:     records lost (lapped, overwritten while joining, corrupt)
 * @skipped:  records skipped (dead claimants, aborted claims)
 */
struct shmq_sub_stats {
	uint64_t cursor;
	uint64_t tail;
	uint64_t received;
	uint64_t lost;
	uint64_t skipped;
};

/**
 * shmq_sub_stats() - a subscriber's counters (lag is @tail - @cursor).
 *
 * Return: 0, or -EINVAL.
 */
SHMQ_API int shmq_sub_stats(const shmq_sub *sub, struct shmq_sub_stats *ret_stats);

/**
 * struct shmq_topic_stats - a topic's configuration, its positions and who is attached.
 * @slots, @max_msg, @policy, @claim_timeout_ns: the configuration
 * @tail:        sequence number the next claimed record will get
 * @oldest:      oldest sequence number the log may still hold
 * @subscribers: live subscriber entries in use
 * @producers:   live producers (slots left by producers that died are not counted)
 * @skipped:     records turned into skipped ones (dead claimants, aborts) so far
 * @creator_pid, @created_ns: from the segment header (created_ns: CLOCK_REALTIME)
 */
struct shmq_topic_stats {
	uint32_t slots;
	uint32_t max_msg;
	uint32_t policy;
	uint64_t claim_timeout_ns;
	uint64_t tail;
	uint64_t oldest;
	uint32_t subscribers;
	uint32_t producers;
	uint64_t skipped;
	pid_t creator_pid;
	uint64_t created_ns;
};

/**
 * struct shmq_topic_sub_info - one subscriber as other processes see it.
 * @pid:          the process holding the slot
 * @cursor:       next sequence number it reads (lag: tail - cursor)
 * @heartbeat_ns: last time it looked for records, CLOCK_MONOTONIC
 * @received, @lost, @skipped: its counters
 */
struct shmq_topic_sub_info {
	pid_t pid;
	uint64_t cursor;
	uint64_t heartbeat_ns;
	uint64_t received;
	uint64_t lost;
	uint64_t skipped;
};

/**
 * shmq_topic_stat() - read a topic's state without joining it.
 * @bus:       the bus
 * @name:      topic name
 * @ret_stats: on success the topic's state
 * @subs:      where to store the attached subscribers, or NULL
 * @max_subs:  room in @subs
 *
 * Return: the number of live subscribers (which may exceed @max_subs; only @max_subs are
 * stored), or -EINVAL, -ENOENT, -EACCES, -EPROTOTYPE (the object is a channel), -EPROTO;
 * shmq_last_detail() as for shmq_pub_open().
 */
SHMQ_API int shmq_topic_stat(shmq_bus *bus, const char *name, struct shmq_topic_stats *ret_stats,
			     struct shmq_topic_sub_info *subs, size_t max_subs);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_TOPIC_H */
