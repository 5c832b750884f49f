/* SPDX-License-Identifier: MIT */
/* shmq/wait.h - one thread waiting on many channels and topics at once; included by shmq.h. */
#ifndef SHMQ_WAIT_H
#define SHMQ_WAIT_H

#include <stddef.h>
#include <stdint.h>

#include "shmq/bus.h"
#include "shmq/channel.h"
#include "shmq/topic.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct shmq_wait_item - one of the things shmq_wait_many() waits for.
 * @ch:    a consumer channel handle, or NULL
 * @sub:   a subscriber handle, or NULL (exactly one of @ch and @sub is set)
 * @ready: out: 1 when there is something to receive, -EPIPE when its writing side closed
 *         with nothing left, 0 otherwise
 */
struct shmq_wait_item {
	shmq_channel *ch;
	shmq_sub *sub;
	int ready;
};

#define SHMQ_WAIT_MANY_MAX 128u

/**
 * shmq_wait_many() - wait on up to 128 channels and subscribers at once, from one thread.
 * @items:      what to wait for; @ready is written for every item on success
 * @n:          1..SHMQ_WAIT_MANY_MAX
 * @spin_ns:    as for shmq_sub_wait()
 * @timeout_ns: as for shmq_sub_wait()
 *
 * One vectored futex wait on all of them (IORING_OP_FUTEX_WAITV, or the futex_waitv
 * syscall on the fallback backend).
 *
 * Return: how many items are ready or closed (> 0), or -ETIMEDOUT, -EINVAL (bad item or
 * @n), -EBADF (a channel handle that is not a consumer).
 */
SHMQ_API int shmq_wait_many(struct shmq_wait_item *items, size_t n, uint64_t spin_ns,
			    uint64_t timeout_ns);

/* struct shmq_wait_entry.kind: what @handle is. */
#define SHMQ_WAIT_CHANNEL 1 /* a consumer channel, shmq_channel * */
#define SHMQ_WAIT_SUB 2 /* a subscriber, shmq_sub * */
#define SHMQ_WAIT_GROUP 3 /* a consumer group member, shmq_group * (shmq/group.h) */

/**
 * struct shmq_wait_entry - one of the things shmq_wait_any() waits for.
 * @kind:   SHMQ_WAIT_CHANNEL, SHMQ_WAIT_SUB or SHMQ_WAIT_GROUP
 * @handle: the handle of that kind
 * @ready:  out: 1 when there is something to receive (for a group member: as
 *          shmq_group_wait() returns 0), -EPIPE when its writing side closed with nothing
 *          left (for a group member: the topic's producers closed and the group owes
 *          nothing), 0 otherwise
 */
struct shmq_wait_entry {
	int kind;
	void *handle;
	int ready;
};

/**
 * shmq_wait_any() - shmq_wait_many() for channels, subscribers and consumer group members
 * together, from one thread.
 * @entries:    what to wait for; @ready is written for every entry on success
 * @n:          1..SHMQ_WAIT_MANY_MAX
 * @spin_ns:    as for shmq_sub_wait()
 * @timeout_ns: as for shmq_sub_wait()
 *
 * One vectored futex wait on all of them, as shmq_wait_many(). A group member also wakes
 * when a delayed redelivery or an expired lease comes due, and to look for dead members
 * (every 10 ms while a member waits, as in shmq_group_wait()). A group member whose topic's
 * producers closed is -EPIPE only once the group owes nothing; while a record is delayed,
 * or leased to another member, the wait goes on for it.
 *
 * Return: how many entries are ready or closed (> 0), or -ETIMEDOUT, -EINVAL (bad kind,
 * NULL handle or @n), -EBADF (a channel handle that is not a consumer).
 */
SHMQ_API int shmq_wait_any(struct shmq_wait_entry *entries, size_t n, uint64_t spin_ns,
			   uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_WAIT_H */
