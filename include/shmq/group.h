/* SPDX-License-Identifier: MIT */
/* shmq/group.h - consumer groups: work queues with fenced leases, acks, retries, dead letters. */
#ifndef SHMQ_GROUP_H
#define SHMQ_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmq/bus.h"
#include "shmq/topic.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A consumer group is a named, durable set of competing consumers on a topic: producers
 * publish to the topic as usual, and each record is leased to one member of the group at a
 * time. A record stays owed to the group until a member acks it, terminates it, or it is
 * dead-lettered: delivery is at least once. Any number of groups (up to 16 per topic) and
 * plain subscribers read the same topic independently.
 *
 * The group lives in a shared-memory segment of its own beside the topic's
 * ("/shmq.NS.TOPIC@GROUP"): its ack floor (the lowest record still owed), the next record
 * never handed out, a lease table of @max_pending entries and a member table. Nothing on the
 * path talks to a daemon. The group's ack floor holds a reliable topic's producers back as a
 * subscriber's cursor does, whether or not a member is attached: nothing owed is
 * overwritten. On a lossy topic producers never wait; a record overwritten while owed is
 * counted as lost to the group (struct shmq_group_stats.lost), never delivered torn.
 *
 * Every delivery is a lease with an opaque tag (struct shmq_group_msg.lease). Outcomes take
 * the tag and are fenced: each is applied only if that lease is still the current one, else
 * -ESTALE and nothing changes (the lease expired, or its record went to another member).
 *
 * A member that dies has its leases released for redelivery as soon as another member
 * notices (members look every 10 ms while they receive or wait) or a supervisor calls
 * shmq_group_reap(), without waiting for @ack_wait; a live but slow member keeps its lease
 * until @ack_wait. Holder deaths and
 * expiries count as failures, as nacks do: a record that fails @max_deliveries times is
 * dead-lettered, so a record that kills its consumer every time does not loop forever.
 *
 * Receive serves redeliveries whose time has come first, then new records in sequence
 * order. Ordering is not kept across redeliveries (as with RabbitMQ, SQS and Kafka share
 * groups).
 */
typedef struct shmq_group shmq_group;

#define SHMQ_GROUP_NAME_MAX 64 /* [A-Za-z0-9_.-], as topic names */
#define SHMQ_GROUP_MAX_MEMBERS 255u
#define SHMQ_GROUP_MAX_PENDING (1u << 20)

#define SHMQ_GROUP_DEFAULT_ACK_WAIT_NS 30000000000ull /* 30 s */
#define SHMQ_GROUP_DEFAULT_MAX_DELIVERIES 5u
#define SHMQ_GROUP_DELIVERIES_UNLIMITED UINT32_MAX
#define SHMQ_GROUP_DEFAULT_MAX_IN_FLIGHT 256u
#define SHMQ_GROUP_DEFAULT_MAX_PENDING 4096u
#define SHMQ_GROUP_DEFAULT_MEMBERS 64u
#define SHMQ_GROUP_DEFAULT_BACKOFF_NS 100000000ull /* 100 ms */
#define SHMQ_GROUP_DEFAULT_BACKOFF_MAX_NS 60000000000ull /* 60 s */
#define SHMQ_GROUP_DEFAULT_BACKOFF_MULT 2u

/* struct shmq_group_config.flags */
#define SHMQ_GROUP_EPHEMERAL 0x1u /* deleted when its last member closes */
#define SHMQ_GROUP_NO_DLQ 0x2u /* dead letters are dropped (and counted), not published */

/**
 * struct shmq_group_config - how a group is created (fixed from then on).
 * @ack_wait_ns:      lease length: a record not acked, nacked or extended within it is
 *                    redelivered (1 ms to 12 h); 0 for 30 s
 * @max_deliveries:   failures (nacks, expiries, holder deaths) after which a record is
 *                    dead-lettered; 0 for 5; SHMQ_GROUP_DELIVERIES_UNLIMITED for never
 * @max_in_flight:    leases one member may hold at once (prefetch); 0 for 256
 * @max_pending:      the window: records between the ack floor and the next one never
 *                    handed out, a power of two up to 2^20; 0 for 4096
 * @max_members:      member entries, 1-255; 0 for 64
 * @backoff_ns:       delay before the first redelivery after a failure; 0 for 100 ms
 * @backoff_max_ns:   the delay's cap; 0 for 60 s
 * @backoff_mult:     each further failure multiplies the delay by this (1-16); 0 for 2
 * @flags:            SHMQ_GROUP_EPHEMERAL, SHMQ_GROUP_NO_DLQ
 * @mode:             permission bits of a new group segment (0-0777); 0 for 0600
 * @dlq:              the dead-letter topic; NULL for "TOPIC.dlq"
 * @from_seq:         with SHMQ_SUB_FROM_SEQ, the first record a new group wants
 *
 * The backoff applies to nacks without a delay of their own and to expired leases alike;
 * it never changes the lease length (unlike JetStream's BackOff).
 */
struct shmq_group_config {
	uint64_t ack_wait_ns;
	uint32_t max_deliveries;
	uint32_t max_in_flight;
	uint32_t max_pending;
	uint32_t max_members;
	uint64_t backoff_ns;
	uint64_t backoff_max_ns;
	uint32_t backoff_mult;
	uint32_t flags;
	uint32_t mode;
	const char *dlq;
	uint64_t from_seq;
};

/**
 * shmq_group_open() - join a consumer group on a topic as a member, creating it if asked.
 * @bus:        the bus
 * @topic:      the topic's name; the topic must exist
 * @group:      the group's name, 1-64 chars of [A-Za-z0-9_.-]
 * @flags:      SHMQ_OPEN_CREATE, SHMQ_OPEN_EXCL, and for a new group where it starts: one
 *              of SHMQ_SUB_LATEST (the default), SHMQ_SUB_EARLIEST, SHMQ_SUB_FROM_SEQ;
 *              SHMQ_SUB_LATENCY: this member records its delivery latency and its
 *              processing time (receive to ack), readable live (shmq/latency.h; off by
 *              default, as for subscribers)
 * @cfg:        configuration of a new group, or NULL for the defaults; ignored when the
 *              group exists (its own configuration applies)
 * @ret_member: on success a member handle owned by the caller, released with
 *              shmq_group_close(); untouched on failure
 *
 * A group that exists resumes where it was: its floor, its pending records and their
 * attempt counts survive every member's exit. A member takes a free member entry, or one a
 * dead member left (whose leases it releases for redelivery first). A handle is used by one
 * thread at a time.
 *
 * Return: 0, or -EINVAL, -ENOENT (no such topic, or no such group without
 * SHMQ_OPEN_CREATE), -EEXIST (SHMQ_OPEN_EXCL and the group exists), -EUSERS (every member
 * entry is held by a live process, or the topic has no free gate: 16 groups at most),
 * -ESTALE (the group's topic was removed and created anew: delete the group), -EBUSY (a
 * live process deleting the group as inactive, shmq_group_set_inactive(), has not
 * finished within a second), -EACCES, -EPROTO, -ENAMETOOLONG, -ENOSPC, -ENOMEM.
 */
SHMQ_API int shmq_group_open(shmq_bus *bus, const char *topic, const char *group, unsigned flags,
			     const struct shmq_group_config *cfg, shmq_group **ret_member);

/**
 * shmq_group_close() - leave the group; NULL is ignored. The member's leases are released
 * for redelivery (without counting a failure). The last member of an ephemeral group
 * deletes it. A forked child's close of an inherited handle gives up nothing.
 */
SHMQ_API void shmq_group_close(shmq_group *member);

/**
 * shmq_group_delete() - remove a group: its gate stops holding producers back, and what it
 * still owed is forgotten.
 * @flags: 0, or SHMQ_GROUP_FORCE: even while members are attached (their handles go on
 *         working on a group nobody else sees; their acks no longer hold anybody back)
 *
 * A group whose segment cannot be read (corrupt, or its creator died before publishing it)
 * is removed all the same, its gate found by name.
 *
 * Return: 0, or -EBUSY (a live member is attached, or one whose process cannot be judged:
 * another pid namespace), -ENOENT, -EINVAL, -EACCES.
 */
#define SHMQ_GROUP_FORCE 0x1u
SHMQ_API int shmq_group_delete(shmq_bus *bus, const char *topic, const char *group, unsigned flags);

/**
 * shmq_group_reset() - move a group's position while none of its members is attached: its
 * ack floor and next record both become one sequence number, and the gate in its topic (a
 * reliable topic's producers wait at it) moves with them, back or forward.
 * @flags:   exactly one of SHMQ_SUB_EARLIEST (the oldest record the topic retains),
 *           SHMQ_SUB_LATEST (after the newest record), SHMQ_SUB_FROM_SEQ (@seq)
 * @seq:     with SHMQ_SUB_FROM_SEQ the first record the group wants next; otherwise 0.
 *           Clamped to what the topic retains: not below its oldest record, not past its
 *           tail
 * @ret_seq: if not NULL, on success the sequence number actually set
 *
 * What the group owed is forgotten: its pending leases, delayed redeliveries and their
 * attempt counts (a record reset over is never dead-lettered). The counters stay. Members
 * that join while the call runs are not excluded: reset a group that nobody uses.
 *
 * Return: 0, or -EBUSY (a live member is attached, or one whose process cannot be judged),
 * -EINVAL, -ENOENT, -EACCES, -EPROTO, -ESTALE (the group's topic was created anew).
 */
SHMQ_API int shmq_group_reset(shmq_bus *bus, const char *topic, const char *group, unsigned flags,
			      uint64_t seq, uint64_t *ret_seq);

/**
 * struct shmq_group_msg - what a delivered record carries besides its payload.
 * @seq, @ts_ns, @corr_id, @producer_id, @producer_seq, @len: as struct shmq_sub_msg
 * @attempt:     the delivery attempt, 1 on first delivery
 * @failed:      failures so far (nacks, expiries, holder deaths)
 * @first_ns:    when it was first delivered, CLOCK_MONOTONIC nanoseconds (shmq_now_ns())
 * @lease:       the lease's tag, for the outcome calls
 */
struct shmq_group_msg {
	uint64_t seq;
	uint64_t ts_ns;
	uint64_t corr_id;
	uint32_t producer_id;
	uint64_t producer_seq;
	size_t len;
	uint32_t attempt;
	uint32_t failed;
	uint64_t first_ns;
	uint64_t lease;
};

/**
 * shmq_group_recv() - lease the next due record and copy it out.
 * @member:   a member handle
 * @buf:      where to copy the payload (may be NULL when @buf_len is 0)
 * @buf_len:  size of @buf
 * @ret_info: on success what the record carries, with its lease tag; must not be NULL
 *
 * Redeliveries whose delay has passed come first, then new records in sequence order. A
 * record longer than @buf_len is leased all the same, and -EMSGSIZE returned with @ret_info
 * filled (its length and tag): release it, or read it with shmq_group_peek() next time.
 *
 * Return: the payload length (>= 0), or -EAGAIN (nothing due; or the window is full:
 * @max_pending records owed, or this member holds @max_in_flight leases, and the group's
 * window_full counter says so), -EMSGSIZE, -EINVAL, -EPROTO (a corrupt group segment).
 */
SHMQ_API int shmq_group_recv(shmq_group *member, void *buf, size_t buf_len,
			     struct shmq_group_msg *ret_info);

/**
 * shmq_group_peek() - lease the next due record, read in place.
 * @ret_data: on success the payload's address in the topic's log (8-byte aligned), valid
 *            until the lease's outcome on a reliable topic (the group's floor protects it)
 *
 * On a lossy topic a producer may overwrite the record meanwhile; copy it out and check
 * shmq_group_stats.lost, or use shmq_group_recv(), which never delivers a torn record.
 * Return: as shmq_group_recv(), without -EMSGSIZE.
 */
SHMQ_API int shmq_group_peek(shmq_group *member, const void **ret_data,
			     struct shmq_group_msg *ret_info);

/**
 * struct shmq_group_rmsg - one buffer of shmq_group_recv_many(): @buf and @cap in, @info out.
 */
struct shmq_group_rmsg {
	void *buf;
	size_t cap;
	struct shmq_group_msg info;
};

/**
 * shmq_group_recv_many() - lease and copy out up to @n records.
 *
 * Stops early when nothing more is due, or the next record does not fit its buffer (it is
 * not leased then).
 * Return: the number received (1..@n), or the error for the first.
 */
SHMQ_API int shmq_group_recv_many(shmq_group *member, struct shmq_group_rmsg *msgs, size_t n);

/**
 * shmq_group_headers() - the headers of the record the last receive delivered, as
 * shmq_sub_headers(): the handle's copy after shmq_group_recv() and shmq_group_recv_many()
 * (a batch ends at the first record with headers), in place after shmq_group_peek(), good
 * as long as the payload is. A dead letter carries its record's headers; a redrive
 * publishes them again. Return: 0, or -EINVAL.
 */
SHMQ_API int shmq_group_headers(const shmq_group *member, const void **ret_hdrs, size_t *ret_len);

/* Outcomes (each fenced by the tag: -ESTALE when the lease is no longer current). */

/** shmq_group_ack() - the record is done. Return: 0, or -ESTALE, -EINVAL. */
SHMQ_API int shmq_group_ack(shmq_group *member, uint64_t lease);

#define SHMQ_GROUP_BACKOFF UINT64_MAX /* nack delay: the group's backoff schedule */

/**
 * shmq_group_nack() - processing failed: redeliver after @delay_ns (0: as soon as possible;
 * SHMQ_GROUP_BACKOFF: after the group's backoff for this many failures). Counts a failure:
 * the record is dead-lettered instead once it has failed @max_deliveries times.
 * Return: 0, or -ESTALE, -EINVAL, or the dead-letter topic's error (-EAGAIN: it is full; the
 * lease is kept then).
 */
SHMQ_API int shmq_group_nack(shmq_group *member, uint64_t lease, uint64_t delay_ns);

/**
 * shmq_group_release() - give the record back without counting a failure (for example when
 * shutting down); it is redelivered at once. Return: 0, or -ESTALE, -EINVAL.
 */
SHMQ_API int shmq_group_release(shmq_group *member, uint64_t lease);

#define SHMQ_DLQ_MAX_DELIVERIES 1u /* it failed max_deliveries times */
#define SHMQ_DLQ_REJECTED 2u /* a member terminated it */
#define SHMQ_DLQ_EXPIRED 3u /* its time to live passed (SHMQ_HDR_EXPIRES) */
#define SHMQ_DLQ_DELAY 4u /* its not-before was over SHMQ_MAX_DELAY_NS away */

/**
 * shmq_group_term() - dead-letter the record now, with reason SHMQ_DLQ_REJECTED; no more
 * attempts. Return: 0, or -ESTALE, -EINVAL, or the dead-letter topic's error (the lease is
 * kept then).
 */
SHMQ_API int shmq_group_term(shmq_group *member, uint64_t lease);

/**
 * shmq_group_extend() - still working: the lease's deadline becomes now + @ns (0: the
 * group's ack_wait). The lease gets a new tag, written back to *@lease; the old one is
 * stale from then on. Return: 0, or -ESTALE, -EINVAL.
 */
SHMQ_API int shmq_group_extend(shmq_group *member, uint64_t *lease, uint64_t ns);

/**
 * shmq_group_wait() - wait until something is due for this member: a new record (and room
 * in the window), a redelivery whose time has come, or a dead member's leases to recover.
 * @spin_ns, @timeout_ns: as for shmq_sub_wait()
 *
 * Return: 0 (receive will find something, or an error to report), -ETIMEDOUT, -EPIPE (the
 * topic's last live producer closed after this member joined, and the group owes nothing:
 * every record published is done; while a record is delayed, or leased to another member,
 * the wait goes on), -EINVAL. As with subscribers, a member that joins a topic with no
 * producer (the last one closed before) waits for one: that close does not end its wait.
 */
SHMQ_API int shmq_group_wait(shmq_group *member, uint64_t spin_ns, uint64_t timeout_ns);

/**
 * shmq_group_fd() - a descriptor that polls readable when something may be due, as
 * shmq_sub_fd(); it does not wake for a delayed redelivery's time or a dead member:
 * poll with a timeout of 10 ms or so and receive then.
 * Return: the fd, or -EOPNOTSUPP, -EINVAL, -ENOMEM, an io_uring setup error.
 */
SHMQ_API int shmq_group_fd(shmq_group *member);

/**
 * shmq_group_prep_wait() - put the wait for something due onto the caller's own io_uring,
 * as shmq_sub_prep_wait(); as for shmq_group_fd(), link a timeout of 10 ms or so, so that
 * a delayed redelivery's time and a dead member are noticed.
 * Return: 0, or -EINVAL.
 */
SHMQ_API int shmq_group_prep_wait(shmq_group *member, struct io_uring_sqe *sqe, uint64_t user_data);

/** shmq_group_wait_done() - the completion of a prepared wait arrived. Return: 0, -EINVAL. */
SHMQ_API int shmq_group_wait_done(shmq_group *member);

/**
 * struct shmq_group_stats - a group's positions, counters and configuration.
 * @floor:         the ack floor: every record below it is done
 * @next:          the next record never handed out
 * @tail:          the topic's tail (lag: @tail - @floor)
 * @pending:       records owed (@next - @floor, done ones above the floor included)
 * @in_flight:     records leased now
 * @delayed:       records waiting for a redelivery
 * @acked, @nacked, @released, @redelivered, @expired (leases that ran out),
 * @dead_lettered, @terminated, @dropped (dead letters without a dead-letter topic),
 * @window_full (receives refused by the window), @lost (overwritten while owed, lossy
 * topics), @skipped (records the topic skipped), @delivered (deliveries, first ones and
 * redeliveries)
 * @members:       live members
 * @holding:       1 when the group holds the topic's producers back now (a reliable topic
 *                 whose log is full up to the group's floor); the inactive threshold and
 *                 idle time come from shmq_group_inactive()
 * @max_pending, @max_in_flight, @max_deliveries, @ack_wait_ns, @flags: the configuration
 */
struct shmq_group_stats {
	uint64_t floor, next, tail, pending, in_flight, delayed;
	uint64_t acked, nacked, released, redelivered, expired, dead_lettered, terminated;
	uint64_t dropped, window_full, lost, skipped, delivered;
	uint32_t members;
	uint32_t holding;
	uint32_t max_pending, max_in_flight, max_deliveries, flags;
	uint64_t ack_wait_ns;
	char dlq[208];
};

/**
 * struct shmq_group_member_info - one member as other processes see it.
 */
struct shmq_group_member_info {
	pid_t pid;
	uint32_t in_flight;
	uint64_t delivered;
	uint64_t acked;
};

/**
 * shmq_group_stat() - read a group's state without joining it.
 * @members:     where to store the live members, or NULL
 * @max_members: room in @members
 *
 * Return: the number of live members (only @max_members are stored), or -EINVAL, -ENOENT,
 * -EACCES, -EPROTO.
 */
SHMQ_API int shmq_group_stat(shmq_bus *bus, const char *topic, const char *group,
			     struct shmq_group_stats *ret_stats,
			     struct shmq_group_member_info *members, size_t max_members);

/**
 * shmq_group_reap() - settle the deaths of a group's members now, without joining: for a
 * supervisor that learns of a death (a pidfd).
 * @bus:         the bus
 * @topic:       the topic's name
 * @group:       the group's name
 * @ret_members: if not NULL, on success the number of member entries freed
 *
 * Every member entry's owner is judged as members judge it (pid, process start time, pid
 * namespace: one in another pid namespace counts as alive). A dead member's leases go back
 * for redelivery at once, each counted as a failure (the backoff delays nacks and expiries,
 * not a holder's death; a record that has failed @max_deliveries times is dead-lettered
 * instead), its entry is freed, and members parked in a wait are woken. Without this call the members do the same when they next
 * look (every 10 ms while they receive or wait); a group with no live member keeps a dead
 * member's leases until a member joins. An ephemeral group (SHMQ_GROUP_EPHEMERAL) whose
 * last live members were the dead ones is deleted, as when its last member closes; a durable
 * group with no member entry left, idle past its inactive threshold
 * (shmq_group_set_inactive()), is deleted too (then the call returns -ENOENT next time).
 *
 * Takes no member entry, so it works on a group whose member entries are all held. Attaches
 * read-write: the caller needs write permission on the group's and the topic's segments.
 * Dead letters go out through a producer handle of the call's own, closed before it
 * returns (as a member's is when the member closes).
 *
 * Return: the number of member entries freed, or -EINVAL, -ENOENT, -EACCES, -EPROTO, -ESTALE
 * (the group's topic was created anew), -ENAMETOOLONG; shmq_last_detail() as for
 * shmq_group_stat().
 */
SHMQ_API int shmq_group_reap(shmq_bus *bus, const char *topic, const char *group,
			     uint32_t *ret_members);

#define SHMQ_GROUP_INACTIVE_MAX_NS (UINT64_C(1) << 62) /* about 146 years */

/**
 * shmq_group_set_inactive() - delete a durable group once it has had no member for
 * @threshold_ns (JetStream's InactiveThreshold), so that a group nobody comes back to stops
 * holding a reliable topic's producers back.
 * @bus:          the bus
 * @topic:        the topic's name
 * @group:        the group's name
 * @threshold_ns: 1 ms to SHMQ_GROUP_INACTIVE_MAX_NS; 0 turns it off (the default)
 *
 * Kept in the group's shared memory for every process (struct shmq_group_config is fixed
 * and cannot carry it); set it again to change it. The idle time counts from when the last
 * member left: it closed, or a member or shmq_group_reap() judged it dead. A member that
 * died counts from when its death was noticed, never from before it: a group with a member
 * entry, live or dead and not yet judged, is never deleted. A group with no member and no
 * leave time noted starts its idle clock at this call.
 *
 * Who deletes: shmq_group_reap() (and so shmqd's sweep, every 2 s) and shmq_group_open()
 * of any group of the topic, which looks at the topic's groups first; never a send or a
 * receive. Without shmqd, a group past its threshold stays until one of them runs. A member
 * that joins while the group is being deleted gets -ENOENT, or with SHMQ_OPEN_CREATE a new
 * group of that name. Deletion is as shmq_group_delete(): what the group owed is forgotten.
 *
 * Return: 0, or -EINVAL, -ENOENT (no such group, or it is being deleted), -EACCES, -EPROTO,
 * -ESTALE, -ENAMETOOLONG.
 */
SHMQ_API int shmq_group_set_inactive(shmq_bus *bus, const char *topic, const char *group,
				     uint64_t threshold_ns);

/**
 * shmq_group_inactive() - a group's inactive threshold and how long it has had no member,
 * read without joining it (struct shmq_group_stats is released and cannot carry them).
 * @ret_threshold_ns: the threshold, 0 when off; may be NULL
 * @ret_idle_ns:      how long the group has had no member entry, 0 while it has one (a
 *                    dead member not yet judged counts as one); may be NULL
 *
 * A group is deleted once @ret_idle_ns reaches a threshold that is not 0.
 * Return: 0, or as shmq_group_stat().
 */
SHMQ_API int shmq_group_inactive(shmq_bus *bus, const char *topic, const char *group,
				 uint64_t *ret_threshold_ns, uint64_t *ret_idle_ns);

/**
 * shmq_topic_groups() - the consumer groups that have a gate in a topic (each holds a
 * reliable topic's producers back at its ack floor, members or not).
 * @names: where to store their names, or NULL; @max: room in @names
 *
 * Return: how many there are (only @max are stored), or -EINVAL, -ENOENT, -EACCES, -EPROTO.
 */
SHMQ_API int shmq_topic_groups(shmq_bus *bus, const char *topic,
			       char (*names)[SHMQ_GROUP_NAME_MAX + 1], size_t max);

/**
 * struct shmq_dlq_hdr - what starts every record of a dead-letter topic; the original
 * payload follows at @hdr_len bytes. Fixed layout, little-endian as the host.
 * @magic:        SHMQ_DLQ_MAGIC
 * @version:      1
 * @hdr_len:      bytes of this header (the payload starts there)
 * @reason:       SHMQ_DLQ_*
 * @origin_seq:   the record's sequence number in its topic
 * @ts_ns:        its publish time (CLOCK_MONOTONIC; 0 without timestamps)
 * @corr_id, @producer_id, @producer_seq: as it carried them
 * @acquired:     times it was delivered
 * @failed:       times it failed
 * @first_ns, @last_ns: first delivery and dead-lettering, CLOCK_MONOTONIC (as @ts_ns)
 * @orig_len:     the original payload's length; when the dead-letter topic's records are
 *                too small for header and payload, fewer bytes follow (truncated)
 * @topic:        the topic it came from; @group: the group that gave up on it
 */
#define SHMQ_DLQ_MAGIC 0x4c445153u /* "SQDL" */
struct shmq_dlq_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_len;
	uint32_t reason;
	uint32_t producer_id;
	uint64_t origin_seq;
	uint64_t ts_ns;
	uint64_t corr_id;
	uint64_t producer_seq;
	uint32_t acquired;
	uint32_t failed;
	uint64_t first_ns;
	uint64_t last_ns;
	uint32_t orig_len;
	uint32_t reserved0;
	char topic[208];
	char group[72];
};

/**
 * shmq_group_redrive() - move dead letters back to where they came from, oldest first.
 * @bus:          the bus
 * @dlq:          the dead-letter topic
 * @target:       the topic to publish them to, or NULL for each one's origin topic
 * @max:          move at most this many (0: all there are now)
 * @rate_per_sec: at most this many a second (0: no limit)
 *
 * Reads the dead-letter topic through its own durable group "redrive", publishes each
 * record's original payload (with its corr id) and acks it only after the publish
 * succeeded: a record is never removed before it is republished (a crash in between
 * publishes it twice, at most).
 *
 * Return: the number moved (>= 0), or -ENOENT, -EINVAL, -EPROTO (a record without a valid
 * header; it stays), or the target's error (-EAGAIN: full; what was moved stays moved).
 */
SHMQ_API int shmq_group_redrive(shmq_bus *bus, const char *dlq, const char *target, uint64_t max,
				uint64_t rate_per_sec);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_GROUP_H */
