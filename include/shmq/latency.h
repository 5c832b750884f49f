/* SPDX-License-Identifier: MIT */
/* shmq/latency.h - live delivery and processing latency of subscribers and group members. */
#ifndef SHMQ_LATENCY_H
#define SHMQ_LATENCY_H

#include <stdint.h>
#include <sys/types.h>

#include "shmq/bus.h"
#include "shmq/hist.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A subscriber opened with SHMQ_SUB_LATENCY (shmq_sub_open()), or a group member opened
 * with it (shmq_group_open()), records the delivery latency of every record it receives:
 * the time of the receive minus the record's publish time (struct shmq_sub_msg.ts_ns), both
 * on shmq_now_ns()'s clock. A group member also records its processing time: from the
 * receive of a record to its ack. Recording is off by default: it costs a clock read per
 * record (docs/hist.md has the measurement).
 *
 * The histograms live in a side segment of the topic ("TOPIC~lat", one slot per subscriber
 * entry) or of the group ("TOPIC@GROUP~lat", one slot per member entry), made by the first
 * recorder. shmq_bus_list() does not list these segments; shmq_unlink() of the topic and the
 * deletion of the group remove them. A slot is reset when a new subscriber or member takes
 * its entry, and counts as empty once its owner closes.
 *
 * Every histogram covers SHMQ_LATENCY_LOWEST_NS to SHMQ_LATENCY_HIGHEST_NS at
 * SHMQ_LATENCY_SIGFIGS significant digits, in nanoseconds; a value below the lowest falls in
 * the first bucket, a value above the highest (or negative) is counted as out of range.
 */
#define SHMQ_LATENCY_LOWEST_NS INT64_C(1000) /* 1 us */
#define SHMQ_LATENCY_HIGHEST_NS INT64_C(60000000000) /* 60 s */
#define SHMQ_LATENCY_SIGFIGS 2

/* Which histogram of a slot. */
#define SHMQ_LATENCY_DELIVERY 0u /* publish to receive */
#define SHMQ_LATENCY_PROCESSING 1u /* receive to ack (group members only) */

/* As @entry of shmq_latency_read(): every live slot, merged. */
#define SHMQ_LATENCY_ALL UINT32_MAX

/**
 * shmq_latency_entries() - the number of slots of a topic's or group's latency segment.
 * @bus:   the bus
 * @topic: the topic
 * @group: the group, or NULL for the topic's subscribers
 *
 * Return: the number (the topic's subscriber entries or the group's member entries), or
 * -EINVAL, -ENOENT (nobody has recorded yet), -EACCES, -EPROTO.
 */
SHMQ_API int shmq_latency_entries(shmq_bus *bus, const char *topic, const char *group);

/**
 * shmq_latency_read() - a copy of the live histogram of one slot, or of all of them.
 * @bus:      the bus
 * @topic:    the topic
 * @group:    the group, or NULL for the topic's subscribers
 * @entry:    the slot, 0 to shmq_latency_entries() - 1, or SHMQ_LATENCY_ALL
 * @which:    SHMQ_LATENCY_DELIVERY or SHMQ_LATENCY_PROCESSING
 * @ret_pid:  on success, if not NULL, the recorder's pid (0 for SHMQ_LATENCY_ALL)
 * @ret_hist: on success a snapshot, released with shmq_hist_free(); untouched on failure
 *
 * Read-only: maps the segment without write permission, and may run while the owners
 * record. For "the last second", subtract two snapshots taken a second apart, or reset a
 * private histogram between shmq_hist_add()s (shmq hist --interval does the former).
 *
 * Return: 0, or -EINVAL, -ENOENT (no segment, no such histogram, or no live recorder in
 * the slot(s)), -EACCES, -EPROTO, -ENOMEM.
 */
SHMQ_API int shmq_latency_read(shmq_bus *bus, const char *topic, const char *group, uint32_t entry,
			       unsigned which, pid_t *ret_pid, shmq_hist **ret_hist);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_LATENCY_H */
