/* SPDX-License-Identifier: MIT */
/* shmq/channel.h - SPSC channels: one producer, one consumer, a byte ring; included by shmq.h. */
#ifndef SHMQ_CHANNEL_H
#define SHMQ_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "shmq/bus.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * SPSC channel: one producer, one consumer, variable-length messages in a byte ring.
 *
 * Every message carries a 64-bit sequence number (the first message of a channel is 1,
 * then +1 per message) and its publish time (CLOCK_MONOTONIC, nanoseconds).
 * Non-blocking: a full ring or an empty one gives -EAGAIN.
 */
typedef struct shmq_channel shmq_channel;

#define SHMQ_DEFAULT_CAPACITY (1u << 20) /* ring bytes */
#define SHMQ_DEFAULT_MAX_MSG (64u << 10) /* largest payload */
#define SHMQ_MIN_CAPACITY 4096u
#define SHMQ_MAX_CAPACITY (1ull << 40)
#define SHMQ_MAX_MSG_LIMIT (1u << 30)

/**
 * struct shmq_channel_config - how a channel is created.
 * @capacity: ring size in bytes, a power of two in [4 KiB, 1 TiB]; 0 for 1 MiB
 * @max_msg:  largest payload in bytes, at most 1 GiB; a record of that size must fit
 *            twice in @capacity with 32 bytes to spare, so that a message of any allowed
 *            size always fits into an empty channel (for 4 KiB: 1984 bytes);
 *            0 for min(64 KiB, the largest that fits)
 * @mode:     permission bits of a new segment (0-0777); 0 for 0600
 *
 * Each record costs 32 bytes of header plus its payload, rounded up to 32 bytes.
 * When attaching to an existing channel, a non-zero @capacity or @max_msg must equal the
 * channel's, else -EBADE (@mode applies only when creating).
 */
struct shmq_channel_config {
	uint64_t capacity;
	uint32_t max_msg;
	uint32_t mode;
};

/* Flags of shmq_channel_open(). Exactly one of PRODUCER/CONSUMER is required. */
#define SHMQ_OPEN_PRODUCER 0x10u /* this handle sends */
#define SHMQ_OPEN_CONSUMER 0x20u /* this handle receives */

/**
 * shmq_channel_open() - attach to an SPSC channel as its producer or its consumer.
 * @bus:    the bus (namespace)
 * @name:   1-200 chars of [A-Za-z0-9_.-], dot-separated non-empty segments
 * @flags:  SHMQ_OPEN_* bits (SHMQ_OPEN_NO_TIMESTAMPS: a channel this call creates carries
 *          no publish times, bus.h); unknown bits are rejected
 * @cfg:    configuration for a new channel, or NULL for the defaults; see
 *          struct shmq_channel_config for what it means when attaching
 * @ret_ch: on success a handle owned by the caller, released with shmq_channel_close();
 *          untouched on failure
 *
 * Two processes racing to create the same channel: one creates it, the other attaches
 * once the creator has published the header. A role (producer or consumer) is held by one
 * live process at a time; the role of a process that died is taken over, resuming at the
 * position it left in shared memory (a consumer that died may see its last unreleased
 * messages again: delivery across a consumer crash is at-least-once). A holder is known by
 * its pid and start time, so a pid reused by another process does not keep the role; one
 * that holds it from another pid namespace cannot be judged and keeps it.
 *
 * Return: 0, or -EINVAL (bad argument, flags, name or configuration), -ENOENT (absent and
 * no SHMQ_OPEN_CREATE), -EEXIST (SHMQ_OPEN_EXCL and present), -EBADE (a configuration
 * that differs from the existing channel's), -EPROTOTYPE (the object is a topic), -EBUSY
 * (the role is held by a live process), -EACCES, -EPROTO (a segment this library does not
 * speak: wrong magic, layout version, unknown kind or size, or a header that was never
 * published), -ENOSPC (no room in /dev/shm), -ENOMEM, -EMFILE/-ENFILE.
 * shmq_last_detail() names the field, the rule or the kind for -EINVAL, -EBADE,
 * -EPROTOTYPE and -EPROTO.
 */
SHMQ_API int shmq_channel_open(shmq_bus *bus, const char *name, unsigned flags,
			       const struct shmq_channel_config *cfg, shmq_channel **ret_ch);

/**
 * shmq_channel_close() - release a handle from shmq_channel_open(); NULL is ignored.
 *
 * Gives up the role. An outstanding reservation is dropped (never seen by the consumer);
 * peeked but unreleased messages stay in the ring for the next consumer.
 *
 * A handle belongs to the process that opened it. In a child made by fork(), close the
 * inherited copy to free its memory: that gives up nothing of the parent's. A handle whose
 * role was taken over meanwhile (it was judged dead) gives up nothing either, even when
 * the new holder is another handle of the same process.
 */
SHMQ_API void shmq_channel_close(shmq_channel *ch);

/**
 * shmq_channel_send() - copy one message into the ring.
 * @ch:   a producer handle
 * @data: the payload (may be NULL when @len is 0)
 * @len:  payload bytes, 0 to the channel's max_msg
 *
 * Return: 0, or -EAGAIN (ring full), -EMSGSIZE (@len above max_msg), -EBADF (not a
 * producer handle), -EBUSY (a reservation is outstanding), -EINVAL, -EPROTO (the shared
 * consumer position is corrupt).
 */
SHMQ_API int shmq_channel_send(shmq_channel *ch, const void *data, size_t len);

/**
 * shmq_channel_send_many() - copy several messages with a single publishing store.
 * @ch:   a producer handle
 * @msgs: one iovec per message
 * @n:    number of messages, at least 1
 *
 * Sends a prefix of @msgs: stops at the first message that does not fit (or is too large).
 *
 * Return: the number sent (1..@n), or the error of the first message: -EAGAIN (full),
 * -EMSGSIZE, and the errors of shmq_channel_send().
 */
SHMQ_API int shmq_channel_send_many(shmq_channel *ch, const struct iovec *msgs, size_t n);

/**
 * shmq_channel_reserve() - zero-copy send, step 1: claim room for a payload in the ring.
 * @ch:      a producer handle
 * @len:     payload bytes to reserve, 0 to max_msg
 * @ret_buf: on success where to write the payload (@len bytes, 8-byte aligned)
 *
 * The reservation is invisible to the consumer until shmq_channel_commit(). One
 * reservation may be outstanding at a time.
 *
 * Return: 0, or the errors of shmq_channel_send().
 */
SHMQ_API int shmq_channel_reserve(shmq_channel *ch, size_t len, void **ret_buf);

/**
 * shmq_channel_commit() - zero-copy send, step 2: publish the reserved message.
 * @ch:  a producer handle with an outstanding reservation
 * @len: the payload's final length, at most the reserved length
 *
 * Return: 0, or -EINVAL (no reservation, or @len above it), -EBADF.
 */
SHMQ_API int shmq_channel_commit(shmq_channel *ch, size_t len);

/**
 * struct shmq_msg_info - what a received message carries besides its payload.
 * @seq:   sequence number (1 for the channel's first message)
 * @ts_ns: publish time, CLOCK_MONOTONIC nanoseconds (shmq_now_ns()); 0 in a channel made
 *         with SHMQ_OPEN_NO_TIMESTAMPS
 * @len:   payload length in bytes
 */
struct shmq_msg_info {
	uint64_t seq;
	uint64_t ts_ns;
	size_t len;
};

/**
 * shmq_channel_recv() - copy the next message out of the ring and release it.
 * @ch:       a consumer handle
 * @buf:      where to copy the payload
 * @buf_len:  size of @buf
 * @ret_info: on success the message's sequence, time and length; may be NULL
 *
 * A message longer than @buf_len stays in the ring (-EMSGSIZE); shmq_channel_peek()
 * shows its length.
 *
 * Return: the payload length (>= 0), or -EAGAIN (empty), -EMSGSIZE (@buf too small),
 * -EBADF (not a consumer handle), -EBUSY (peeked messages are unreleased), -EINVAL,
 * -EBADMSG (a corrupt record: the channel stays unusable to this handle).
 */
SHMQ_API int shmq_channel_recv(shmq_channel *ch, void *buf, size_t buf_len,
			       struct shmq_msg_info *ret_info);

/**
 * struct shmq_rmsg - one message of shmq_channel_recv_many().
 * @buf:  in: where to copy the payload
 * @cap:  in: size of @buf
 * @info: out: sequence, time and length of the message copied into @buf
 */
struct shmq_rmsg {
	void *buf;
	size_t cap;
	struct shmq_msg_info info;
};

/**
 * shmq_channel_recv_many() - copy up to @n messages out and release them with one store.
 * @ch:   a consumer handle
 * @msgs: the buffers
 * @n:    number of buffers, at least 1
 *
 * Stops early when the ring is empty or the next message does not fit its buffer.
 *
 * Return: the number received (1..@n), or the error for the first message as
 * shmq_channel_recv() gives it.
 */
SHMQ_API int shmq_channel_recv_many(shmq_channel *ch, struct shmq_rmsg *msgs, size_t n);

/**
 * shmq_channel_peek() - zero-copy receive: the next unread message, in place.
 * @ch:       a consumer handle
 * @ret_data: on success the payload's address in the ring (8-byte aligned)
 * @ret_info: on success its sequence, time and length; may be NULL
 *
 * Each call moves on to the following message; the payloads stay valid and unchanged
 * until shmq_channel_release(), which frees all of them at once.
 *
 * Return: the payload length (>= 0), or -EAGAIN (nothing more to read), -EBADF, -EINVAL,
 * -EBADMSG.
 */
SHMQ_API int shmq_channel_peek(shmq_channel *ch, const void **ret_data,
			       struct shmq_msg_info *ret_info);

/**
 * shmq_channel_release() - give back the room of every message peeked so far.
 *
 * Return: the number of messages released (>= 0), or -EBADF, -EINVAL.
 */
SHMQ_API int shmq_channel_release(shmq_channel *ch);

/**
 * shmq_channel_wait() - wait until a message is there to receive.
 * @ch:         a consumer handle
 * @spin_ns:    busy-poll this long first (0: park at once; SHMQ_SPIN_FOREVER: never park)
 * @timeout_ns: give up after this long (0: just look; SHMQ_WAIT_FOREVER: never)
 *
 * Parking costs the producer nothing until a consumer first parks on the channel: from then
 * on each publish adds a full fence (~10 ns) and, while the consumer sleeps, one futex wake.
 * The first park on a channel makes every process pass a memory barrier (membarrier, some
 * milliseconds, once). Signals do not end the wait.
 *
 * The wait also judges whether the producer died (as shmq_channel_wait_room() judges the
 * consumer: at most every 10 ms per handle while spinning; while parked, the producer's
 * pidfd ends the park as soon as it dies, so an idle consumer makes no wakeups; with the
 * futex backend, or a producer of another pid namespace, every 10 ms). Messages it
 * published before it died are still delivered first. A channel with no producer at all
 * is waited on as usual: one may attach. Only this call judges; the prepared, multi and
 * fd waits end on a message or a close (shmq_channel_reap() closes for a dead producer, and
 * ends this wait at once too).
 *
 * Return: 0 (receive will find a message), -ETIMEDOUT, -EPIPE (the producer closed the
 * channel or died, and nothing is left; a producer that takes the role over makes
 * messages come again), -EBADF (not a consumer handle), -EBADMSG, -EINVAL.
 */
SHMQ_API int shmq_channel_wait(shmq_channel *ch, uint64_t spin_ns, uint64_t timeout_ns);

/**
 * shmq_channel_wait_room() - wait until a message of @len bytes fits into the channel.
 * @ch:         a producer handle
 * @len:        the payload bytes of the next send, at most max_msg
 * @spin_ns:    busy-poll this long first (0: park at once; SHMQ_SPIN_FOREVER: never park)
 * @timeout_ns: give up after this long (0: just look; SHMQ_WAIT_FOREVER: never)
 *
 * For a send that got -EAGAIN. The consumer wakes the producer as it releases messages;
 * that costs it nothing until the producer first parks on the channel, then a full fence
 * per release and, while the producer sleeps, one futex wake. The wait also judges whether
 * the consumer died (its pid gone, a zombie, or another process's now; a consumer of another
 * pid namespace counts as alive): at most every 10 ms per handle, across calls (a handle's
 * first wait judges at its first look), while spinning, and at once by its pidfd while
 * parked (every 10 ms with the futex backend); then -EPIPE, unless the room came
 * after all. -EPIPE says what was seen then: a new consumer that takes the role over makes
 * room again; shmq_channel_reap() of a dead consumer ends the wait at once (-EPIPE until a
 * consumer opens). A consumer that closed, or one that stopped, makes no room either; the wait
 * goes on, as another consumer may attach, until the timeout. A corrupt read position is
 * reported by the next send (-EPROTO), not here.
 *
 * Return: 0 (a send of @len bytes fits now), -ETIMEDOUT, -EPIPE (the consumer died),
 * -EMSGSIZE, -EBUSY (a reservation is outstanding), -EBADF (not a producer handle),
 * -EINVAL, or another -errno from the wait itself (io_uring or futex).
 */
SHMQ_API int shmq_channel_wait_room(shmq_channel *ch, size_t len, uint64_t spin_ns,
				    uint64_t timeout_ns);

/**
 * shmq_channel_prep_wait() - put the wait for a message onto the caller's own io_uring.
 * @ch:        a consumer handle
 * @sqe:       an SQE from the caller's ring (io_uring_get_sqe()), filled here
 * @user_data: stored in the SQE, to recognise its completion
 *
 * The SQE becomes an IORING_OP_FUTEX_WAIT on the channel's wait word (kernel 6.7+), or a
 * NOP when a message is there already, so its completion arrives when there is something
 * to receive (or spuriously: receive until -EAGAIN, then prepare again). After the
 * completion, call shmq_channel_wait_done() exactly once. Producers wake the ring's
 * waiters with a futex wake per publish until then.
 *
 * Return: 0, or -EBADF (not a consumer handle), -EINVAL.
 */
SHMQ_API int shmq_channel_prep_wait(shmq_channel *ch, struct io_uring_sqe *sqe, uint64_t user_data);

/** shmq_channel_wait_done() - the completion of a prepared wait arrived. Return: 0 or -EBADF. */
SHMQ_API int shmq_channel_wait_done(shmq_channel *ch);

/**
 * shmq_channel_fd() - a file descriptor that polls readable while there is something to
 * receive, for poll/epoll/select users.
 * @ch: a consumer handle
 *
 * The fd is an io_uring of the handle's own with the wait armed in it; it stays readable
 * until a receive on @ch returns -EAGAIN, which re-arms it. Owned by @ch: do not close it;
 * it goes with shmq_channel_close(). Calling this again re-arms it and returns the same fd.
 *
 * Return: the fd (>= 0), or -EOPNOTSUPP (no io_uring futex waits: see
 * shmq_wake_backend()), -EBADF, -ENOMEM, or an io_uring setup error.
 */
SHMQ_API int shmq_channel_fd(shmq_channel *ch);

/**
 * struct shmq_channel_stats - a channel's configuration and positions, read without locks.
 * @capacity:      ring bytes
 * @max_msg:       largest payload
 * @write_pos:     bytes ever written (producer position)
 * @read_pos:      bytes ever released by the consumer
 * @next_seq:      sequence number the next message will get
 * @producer_pid:  pid holding the producer role, 0 when none
 * @consumer_pid:  pid holding the consumer role, 0 when none
 * @creator_pid:   pid that created the segment
 * @created_ns:    creation time, CLOCK_REALTIME nanoseconds
 */
struct shmq_channel_stats {
	uint64_t capacity;
	uint32_t max_msg;
	uint64_t write_pos;
	uint64_t read_pos;
	uint64_t next_seq;
	pid_t producer_pid;
	pid_t consumer_pid;
	pid_t creator_pid;
	uint64_t created_ns;
};

/**
 * shmq_channel_stats() - a snapshot of a channel's state.
 * @ch:        any channel handle
 * @ret_stats: on success the snapshot (the positions are read one at a time and may be
 *             mutually stale by a few messages)
 *
 * Return: 0, or -EINVAL.
 */
SHMQ_API int shmq_channel_stats(const shmq_channel *ch, struct shmq_channel_stats *ret_stats);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_CHANNEL_H */
