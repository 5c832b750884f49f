/* SPDX-License-Identifier: MIT */
/* shmq/inspect.h - looking at a namespace's objects by name, without a role; in shmq.h. */
#ifndef SHMQ_INSPECT_H
#define SHMQ_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmq/bus.h"
#include "shmq/channel.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * For tools (shmq ls, shmq stat) and supervisors: calls that take no role and no table
 * entry, so that they work however many producers and consumers hold the object, and that
 * (except the reaping calls, shmq_channel_reap() and shmq_topic_reap()) attach read-only, so
 * that a user with read permission on a segment may use them.
 */

/* What an object is (struct shmq_object_info.kind). */
#define SHMQ_KIND_UNKNOWN 0u /* not a published segment of this library's header layout */
#define SHMQ_KIND_CHANNEL 1u
#define SHMQ_KIND_TOPIC 2u
#define SHMQ_KIND_GROUP 3u /* a consumer group, named "TOPIC@GROUP" */

/* Longest name in a listing: a /dev/shm file name (255 bytes) less "shmq.NS.". */
#define SHMQ_OBJECT_NAME_MAX 255

/**
 * struct shmq_object_info - one object of a namespace, as its segment's header says.
 * @name:        what follows "shmq.<namespace>." in /dev/shm: a channel's or topic's name,
 *               or "TOPIC@GROUP"; NUL-terminated, and not necessarily a valid name (any
 *               file with the namespace's prefix is listed)
 * @kind:        SHMQ_KIND_*; UNKNOWN for a file that is not a published segment whose
 *               header this library speaks (another program's file, an unpublished or
 *               corrupt header, another header layout, a file it may not read), and for a
 *               header of a known kind under a name that kind cannot have
 * @error:       0 when this library can open the object; else why not, as a negative
 *               errno: -EPROTO (not ours, corrupt, or another layout version: of the
 *               header, or of a known @kind's body), -EINPROGRESS (a header not published
 *               yet: its creator is still making it, or died first), -EACCES (no read
 *               permission), or another error of the look
 * @note:        "" when @error is 0, else what is wrong, as shmq_last_detail() would say
 *               it ("topic layout version 2; this library speaks 1")
 * @size:        the file's size in bytes
 * @creator_pid: from the header, for a known @kind; else 0
 * @created_ns:  from the header (CLOCK_REALTIME), for a known @kind; else 0
 */
struct shmq_object_info {
	char name[SHMQ_OBJECT_NAME_MAX + 1];
	unsigned kind;
	int error;
	char note[96];
	uint64_t size;
	pid_t creator_pid;
	uint64_t created_ns;
};

/**
 * shmq_kind_name() - what SHMQ_KIND_* @kind is called: "channel", "topic",
 * "consumer group", else "unknown".
 *
 * Return: a static string, never NULL.
 */
SHMQ_API const char *shmq_kind_name(unsigned kind);

/**
 * shmq_bus_list() - the objects of a namespace, with their kind, sorted by name.
 * @bus:  the bus (namespace)
 * @objs: where to store them, or NULL (with @max 0) to count them
 * @max:  room in @objs
 *
 * Every file of /dev/shm named "shmq.<namespace>.*" is listed; the host's clock page
 * (/dev/shm/shmq-clock.*) belongs to no namespace and never is. Each file's header is read
 * without mapping it and without trusting it: a file that is not ours, unpublished,
 * truncated, unreadable, or not a regular file (a FIFO, a directory, a link) is listed as
 * SHMQ_KIND_UNKNOWN, never waited for or followed. A listing is a look: objects may come
 * and go while it is made.
 *
 * Return: the number of objects (which may exceed @max: only the first @max in name order
 * are stored, the rest of @objs is untouched), or -EINVAL, -ENOMEM, or the error of
 * reading /dev/shm (-ENOENT, -EACCES).
 */
SHMQ_API int shmq_bus_list(shmq_bus *bus, struct shmq_object_info *objs, size_t max);

/**
 * shmq_channel_stat() - a channel's state by name, without taking a role.
 * @bus:       the bus
 * @name:      the channel's name
 * @ret_stats: on success the state, as shmq_channel_stats() gives it, except that
 *             @producer_pid and @consumer_pid are 0 for a role whose holder is dead (its
 *             liveness judged as an open would judge it), as well as for a free one
 *
 * Attaches read-only: a user with read permission may look, and the roles stay free for
 * whoever wants them. The positions are read one at a time and may be mutually stale by a
 * few messages.
 *
 * Return: 0, or -EINVAL (bad name), -ENOENT, -EACCES, -EPROTOTYPE (the object is a topic),
 * -EPROTO (a segment this library does not speak); shmq_last_detail() as for
 * shmq_channel_open().
 */
SHMQ_API int shmq_channel_stat(shmq_bus *bus, const char *name,
			       struct shmq_channel_stats *ret_stats);

/**
 * shmq_channel_reap() - free the roles of a channel whose holders are dead, and tell the
 * other side now, as a close would.
 * @bus:       the bus
 * @name:      the channel's name
 * @ret_roles: if not NULL, on success the roles freed: SHMQ_OPEN_PRODUCER and/or
 *             SHMQ_OPEN_CONSUMER
 *
 * Each holder is judged as an open judges it (pid, process start time, pid namespace: a
 * holder in another pid namespace counts as alive). A dead producer's role is freed and the
 * channel closed for it: the consumer's waits, the prepared, multi and fd waits too (which
 * do not judge liveness themselves), end with -EPIPE once the messages it published are
 * received, as after shmq_channel_close(). A dead consumer's role is freed and a producer
 * in shmq_channel_wait_room() gets -EPIPE unless room came, as it would when it judged the
 * death itself; a consumer that opens ends that. Without this call shmq_channel_wait() and
 * shmq_channel_wait_room() notice a dead peer themselves, at once while parked (its pidfd;
 * within 10 ms while spinning, or with the futex backend), and the dead holder's role is
 * taken over by the next open.
 *
 * Attaches read-write: the caller needs write permission on the segment.
 *
 * Return: the number of roles freed (0-2), or -EINVAL (bad name), -ENOENT, -EACCES,
 * -EPROTOTYPE (the object is a topic), -EPROTO; shmq_last_detail() as for
 * shmq_channel_open().
 */
SHMQ_API int shmq_channel_reap(shmq_bus *bus, const char *name, unsigned *ret_roles);

/**
 * shmq_topic_reap() - free the entries that dead processes left in a topic's subscriber and
 * producer tables, and settle what their deaths leave behind, now (as LMDB's
 * mdb_reader_check() does for readers): for a supervisor that learns of a death (a pidfd).
 * @bus:       the bus
 * @name:      the topic's name
 * @ret_subs:  if not NULL, on success the number of subscriber entries freed
 * @ret_prods: if not NULL, on success the number of producer entries freed
 *
 * Each entry's owner is judged as producers and subscribers judge it (pid, process start
 * time, pid namespace: an owner in another pid namespace counts as alive and is never
 * freed). A dead subscriber's entry stops holding a reliable topic's producers back, and
 * producers parked for room are woken.
 *
 * A record claimed but never committed by a producer that is dead is skipped at once, as a
 * subscriber waiting at it would skip it after the claim timeout: every such record from
 * the oldest one a subscriber or group still needs up to the tail, and those of the claims
 * that dead producers' entries still show (a producer a lap later may be waiting for one).
 * A claim counts only while its claimant is alive, so a live producer's record, however
 * slow, is never skipped. Subscribers and group members parked on the topic are woken when
 * a record was skipped. One case is left to the timeout: a dead claim whose slot still holds
 * a live producer's unfinished record a lap earlier.
 *
 * When this call frees a dead producer's entry and no live producer is left, the death
 * counts as the last close: parked subscribers and group members get -EPIPE once nothing
 * is left (shmq_sub_wait()). A subscriber that joined after the topic was last closed keeps
 * waiting, as it would for that close. A subscriber that joined after the producer died
 * but before this call counts it as a producer that was there.
 *
 * Without this call, dead subscribers' entries are freed lazily (by a full log), and a new
 * subscriber or producer takes a dead one's entry when no free one is left; dead claims are
 * skipped after the claim timeout; a dead last producer ends no wait.
 *
 * Attaches read-write: the caller needs write permission on the segment. The look at the
 * records costs a stamp load for each record from the oldest one still needed to the tail
 * (a lap at most) and in the dead claims (two laps at most), and a liveness check for each
 * unfinished one.
 *
 * Return: the number of entries freed (subscribers and producers), or -EINVAL, -ENOENT,
 * -EACCES, -EPROTOTYPE (the object is a channel), -EPROTO; shmq_last_detail() as for
 * shmq_topic_stat().
 */
SHMQ_API int shmq_topic_reap(shmq_bus *bus, const char *name, uint32_t *ret_subs,
			     uint32_t *ret_prods);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_INSPECT_H */
