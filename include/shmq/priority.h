/* SPDX-License-Identifier: MIT */
/* shmq/priority.h - priority topics: one log per level, served highest first. */
#ifndef SHMQ_PRIORITY_H
#define SHMQ_PRIORITY_H

#include <stddef.h>
#include <stdint.h>

#include <shmq/bus.h>
#include <shmq/group.h>
#include <shmq/topic.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A priority topic NAME of 2-8 levels is one ordinary topic per level, "NAME.p0" (the lowest)
 * to "NAME.pN-1" (the highest), as RabbitMQ keeps one queue per priority: a send names its
 * level, and order is kept within a level, never across levels. Each level is a topic like
 * any other (shmq ls, stat, sub and group see it), all with the configuration they were made
 * with; a level's consumer groups are "NAME.pK@GROUP".
 *
 * Receivers (a group member on every level, or a subscriber of every level) are served by
 * one of two rules, chosen by each receiver:
 *
 * - strict (the default): the highest level with a record always comes first. While a
 *   higher level is never empty, a lower one gets nothing: that is what strict priority
 *   means (RabbitMQ's rule), and the receiver's choice to make.
 * - SHMQ_PRIO_WEIGHTED: level K has weight 2^K: over a run in which every level is busy,
 *   level K gets 2^K of every 2^N - 1 receives (with 2 levels, the high one 2 in 3, the low
 *   one 1 in 3); a level with nothing falls through to the highest that has something, so no
 *   receive waits while any level has a record.
 */
typedef struct shmq_prio_pub shmq_prio_pub;
typedef struct shmq_prio_group shmq_prio_group;
typedef struct shmq_prio_sub shmq_prio_sub;

#define SHMQ_PRIO_MIN_LEVELS 2u
#define SHMQ_PRIO_MAX_LEVELS 8u
#define SHMQ_PRIO_WEIGHTED 0x20000u /* a receiver's open flag: the weighted rule */

/**
 * shmq_prio_pub_open() - a producer of priority topic @name.
 * @levels: with SHMQ_OPEN_CREATE, the levels of a topic made now (2-8); 0 to take the
 *          existing topic's
 * @flags:  SHMQ_OPEN_CREATE (make the levels that are missing, with @cfg)
 *
 * Return: 0, or -EINVAL (@levels out of range, or not the existing topic's), -ENOENT (no
 * such priority topic), and the errors of shmq_pub_open().
 */
SHMQ_API int shmq_prio_pub_open(shmq_bus *bus, const char *name, unsigned levels, unsigned flags,
				const struct shmq_topic_config *cfg, shmq_prio_pub **ret_pub);
SHMQ_API void shmq_prio_pub_close(shmq_prio_pub *pub);

/** shmq_prio_levels() - a producer's level count. */
SHMQ_API unsigned shmq_prio_levels(const shmq_prio_pub *pub);

/**
 * shmq_prio_send() - publish one record at @level (0 the lowest).
 * Return: as shmq_pub_send(), and -EINVAL for a level out of range.
 */
SHMQ_API int shmq_prio_send(shmq_prio_pub *pub, unsigned level, const void *data, size_t len,
			    uint64_t corr_id);

/** shmq_prio_send_hdrs() - shmq_prio_send() with headers, as shmq_pub_send_hdrs(). */
SHMQ_API int shmq_prio_send_hdrs(shmq_prio_pub *pub, unsigned level, const void *hdrs,
				 size_t hdrs_len, const void *data, size_t len, uint64_t corr_id);

/** shmq_prio_pub_level() - the producer of one level (shmq_pub_wait() and the like). */
SHMQ_API shmq_pub *shmq_prio_pub_level(shmq_prio_pub *pub, unsigned level);

/**
 * shmq_prio_group_open() - join consumer group @group on every level of priority topic
 * @name (one member per level, each in "NAME.pK@GROUP").
 * @flags: as shmq_group_open(), and SHMQ_PRIO_WEIGHTED
 * Return: 0, or -ENOENT (no such priority topic), and the errors of shmq_group_open().
 */
SHMQ_API int shmq_prio_group_open(shmq_bus *bus, const char *name, const char *group,
				  unsigned flags, const struct shmq_group_config *cfg,
				  shmq_prio_group **ret_member);
SHMQ_API void shmq_prio_group_close(shmq_prio_group *member);

/**
 * shmq_prio_group_recv() - lease the next record by the member's rule, as
 * shmq_group_recv(); *@ret_level says its level, whose member (shmq_prio_group_level())
 * takes its outcome: shmq_group_ack(shmq_prio_group_level(m, level), info.lease).
 * Return: as shmq_group_recv().
 */
SHMQ_API int shmq_prio_group_recv(shmq_prio_group *member, void *buf, size_t buf_len,
				  struct shmq_group_msg *ret_info, unsigned *ret_level);

/** shmq_prio_group_level() - the member of one level, for outcomes, headers and stats. */
SHMQ_API shmq_group *shmq_prio_group_level(shmq_prio_group *member, unsigned level);

/** shmq_prio_group_wait() - park until any level has a record due; as shmq_group_wait(). */
SHMQ_API int shmq_prio_group_wait(shmq_prio_group *member, uint64_t spin_ns, uint64_t timeout_ns);

/**
 * shmq_prio_sub_open() - subscribe to every level of priority topic @name.
 * @flags: as shmq_sub_open(), and SHMQ_PRIO_WEIGHTED
 */
SHMQ_API int shmq_prio_sub_open(shmq_bus *bus, const char *name, unsigned flags, uint64_t from_seq,
				shmq_prio_sub **ret_sub);
SHMQ_API void shmq_prio_sub_close(shmq_prio_sub *sub);

/**
 * shmq_prio_sub_recv() - copy the next record out by the subscriber's rule; each level's
 * records come in their order. *@ret_level says its level. Return: as shmq_sub_recv().
 */
SHMQ_API int shmq_prio_sub_recv(shmq_prio_sub *sub, void *buf, size_t buf_len,
				struct shmq_sub_msg *ret_info, unsigned *ret_level);

/** shmq_prio_sub_wait() - park until any level has a record; as shmq_sub_wait(). */
SHMQ_API int shmq_prio_sub_wait(shmq_prio_sub *sub, uint64_t spin_ns, uint64_t timeout_ns);

/** shmq_prio_sub_level() - the subscriber of one level (headers, stats). */
SHMQ_API shmq_sub *shmq_prio_sub_level(shmq_prio_sub *sub, unsigned level);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_PRIORITY_H */
