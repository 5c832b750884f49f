/* SPDX-License-Identifier: MIT */
/* shmq/partition.h - keyed partitions: per-key order, one member per partition at a time. */
#ifndef SHMQ_PARTITION_H
#define SHMQ_PARTITION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <shmq/bus.h>
#include <shmq/group.h>
#include <shmq/topic.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A partitioned topic NAME of N partitions is one ordinary topic per partition, "NAME.part0"
 * to "NAME.partN-1" (Kafka's partitions). A record's key picks its partition by a stable hash
 * (shmq_part_of(): 32-bit FNV-1a of the key's bytes, modulo N), or the producer names it, so
 * records with the same key land in one partition, in order.
 *
 * A consumer group on a partitioned topic gives each partition to one member at a time: its
 * records come only to that member, in order, and are acked in a per-partition consumer group
 * "NAME.partK@GROUP" (durable: the floor and the pending records survive the owner). The
 * assignment lives in shared memory ("NAME@GROUP~parts"), in owner entries as the other
 * tables are:
 *
 * - Sticky: a member keeps what it owns while it owns no more than its share
 *   (ceil(N / live members)); a member with fewer than floor(N / members) says so, and one
 *   with more than that gives one up. So a join or a leave moves as few partitions as
 *   possible, and the spread ends within one partition of even.
 * - A partition changes hands only when its owner has nothing of it in flight: the next owner
 *   starts where the last one acked, so per-key order holds across joins and leaves.
 * - A member that dies holds its partitions until another member looks (every 5 ms while it
 *   receives or waits) and finds it dead: the partition is taken, and joining its group
 *   releases the dead owner's leases, which come again first, in sequence order. Delivery
 *   is at least once: a record the dead member took and did not ack comes again.
 * - Order holds while a record's failure is handled in place: a nack with a delay lets the
 *   partition's later records pass it (as any group redelivery does). With max_in_flight 1
 *   and nacks of delay 0, a failed record comes again before the next. A record with a
 *   "shmq-not-before" time lets the records after it pass by design, and so does one whose
 *   dead letter the dead-letter topic refuses (it waits a backoff, then tries again).
 * - The partitions' groups are durable: SHMQ_GROUP_EPHEMERAL and SHMQ_OPEN_EXCL are refused.
 *   A member's handle belongs to the process that opened it (a forked child's copy gives
 *   nothing up and receives nothing).
 */
typedef struct shmq_part_pub shmq_part_pub;
typedef struct shmq_part_group shmq_part_group;

#define SHMQ_PART_MAX 256u

/** shmq_part_of() - the partition of @key among @partitions (FNV-1a, 32 bits, modulo). */
SHMQ_API unsigned shmq_part_of(const void *key, size_t key_len, unsigned partitions);

/**
 * shmq_part_pub_open() - a producer of partitioned topic @name.
 * @partitions: with SHMQ_OPEN_CREATE, the partitions of a topic made now (1-256); 0 to take
 *              the existing topic's
 * Return: 0, or -EINVAL, -ENOENT, and the errors of shmq_pub_open().
 */
SHMQ_API int shmq_part_pub_open(shmq_bus *bus, const char *name, unsigned partitions,
				unsigned flags, const struct shmq_topic_config *cfg,
				shmq_part_pub **ret_pub);
SHMQ_API void shmq_part_pub_close(shmq_part_pub *pub);
SHMQ_API unsigned shmq_part_count(const shmq_part_pub *pub);

/**
 * shmq_part_pub_partition() - the producer of one partition: shmq_pub_wait() on it waits for
 * room after -EAGAIN (its groups' gates move promptly for a producer that waits so, and
 * may lag by a few records for one that only retries). NULL for a partition out of range.
 */
SHMQ_API shmq_pub *shmq_part_pub_partition(shmq_part_pub *pub, unsigned partition);

/** shmq_part_send() - publish a record to its key's partition. Return: as shmq_pub_send(). */
SHMQ_API int shmq_part_send(shmq_part_pub *pub, const void *key, size_t key_len, const void *data,
			    size_t len, uint64_t corr_id);

/** shmq_part_send_to() - publish a record to partition @partition. */
SHMQ_API int shmq_part_send_to(shmq_part_pub *pub, unsigned partition, const void *data, size_t len,
			       uint64_t corr_id);

/**
 * shmq_part_group_open() - join consumer group @group of partitioned topic @name.
 * @flags: SHMQ_OPEN_CREATE, and where a partition's group starts when it is made
 *         (SHMQ_SUB_LATEST, SHMQ_SUB_EARLIEST), as shmq_group_open()
 * @cfg:   the per-partition groups' configuration when they are made (NULL: defaults);
 *         its max_members also sizes the assignment (0: 64)
 *
 * The first member's join makes every partition's group, owned or not, so that from then on
 * a reliable partition holds its producers back for the group (records published before
 * the group existed are the topic's to keep or overwrite, as for any new group). The
 * member takes its share of the partitions now (free ones, and those of dead members).
 * Return: 0, or -ENOENT, -EUSERS (max_members live members), and the errors of
 * shmq_group_open().
 */
SHMQ_API int shmq_part_group_open(shmq_bus *bus, const char *name, const char *group,
				  unsigned flags, const struct shmq_group_config *cfg,
				  shmq_part_group **ret_member);

/**
 * shmq_part_group_close() - leave: the member's partitions go to the others (its leases are
 * released for redelivery, in order, to their next owner).
 */
SHMQ_API void shmq_part_group_close(shmq_part_group *member);

/**
 * shmq_part_group_recv() - lease the next record of one of the member's partitions (they
 * take turns), as shmq_group_recv(); *@ret_partition says which, and
 * shmq_part_group_partition() gives its group for the outcome. Looks at the assignment
 * every 5 ms (taking a share, giving one up). Return: as shmq_group_recv().
 */
SHMQ_API int shmq_part_group_recv(shmq_part_group *member, void *buf, size_t buf_len,
				  struct shmq_group_msg *ret_info, unsigned *ret_partition);

/** shmq_part_group_partition() - the member's group of a partition it owns, else NULL. */
SHMQ_API shmq_group *shmq_part_group_partition(shmq_part_group *member, unsigned partition);

/**
 * shmq_part_group_wait() - park until a partition of the member's has a record, at most
 * 5 ms at a time (the assignment is looked at again then: it returns 0, and a receive may
 * still find nothing). Return: 0, -ETIMEDOUT, -EINVAL, -EPIPE (every partition the member
 * owns has had its producers close and owes nothing, as shmq_group_wait()).
 */
SHMQ_API int shmq_part_group_wait(shmq_part_group *member, uint64_t spin_ns, uint64_t timeout_ns);

/**
 * shmq_part_group_owned() - the partitions the member owns now, into @parts (up to @max).
 * Return: how many it owns.
 */
SHMQ_API int shmq_part_group_owned(const shmq_part_group *member, unsigned *parts, size_t max);

/**
 * struct shmq_part_info - one partition of a group, as shmq_part_stat() reads it.
 * @owner: the owning member's pid, 0 for none (negative: being taken over)
 * @floor: the partition group's ack floor
 * @tail:  the partition topic's next sequence
 * @lag:   @tail - @floor
 * @moves: times it changed owner
 */
struct shmq_part_info {
	pid_t owner;
	uint64_t floor, tail, lag, moves;
};

/**
 * shmq_part_stat() - each partition's owner, floor and lag, without joining.
 * Return: the number of partitions (only @max stored), or -ENOENT, -EINVAL, -EPROTO.
 */
SHMQ_API int shmq_part_stat(shmq_bus *bus, const char *name, const char *group,
			    struct shmq_part_info *parts, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_PARTITION_H */
