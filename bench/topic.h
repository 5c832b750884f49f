/* SPDX-License-Identifier: MIT */
/* topic.h - topics and consumer groups of one benchmark run: unique names, always removed. */
#ifndef SHMQ_BENCH_TOPIC_H
#define SHMQ_BENCH_TOPIC_H

#include <errno.h>
#include <stddef.h>

#include "bench.h"
#include "chan.h"
#include "shmq.h"

#define TOPIC_NAME_LEN CHAN_NAME_LEN

/*
 * A reliable topic for payloads of up to @size bytes: the library's defaults (1024 slots of
 * 1 KiB), with max_msg raised to @size when it is larger.
 */
void topic_config(struct shmq_topic_config *cfg, unsigned size);

/*
 * topic_create() - create a fresh topic "<prefix>.<n>" in the namespace "bench<pid>" and open
 * it as a producer (@ret_pub, with the extra open flags @pub_flags: SHMQ_PUB_EXCLUSIVE or 0)
 * or a subscriber (@ret_sub; the other one is NULL, and so is @pub_flags); the name (written
 * to @name) is unlinked at exit unless topic_unlink() came first. Released with
 * shmq_pub_close() or shmq_sub_close(), and topic_unlink().
 */
int topic_create(const char *prefix, const struct shmq_topic_config *cfg, unsigned pub_flags,
		 char name[TOPIC_NAME_LEN], shmq_pub **ret_pub, shmq_sub **ret_sub);
/* Attach to a topic of this run as a producer or a subscriber (one of the two is NULL). */
int topic_attach(const char *name, const struct shmq_topic_config *cfg, unsigned pub_flags,
		 shmq_pub **ret_pub, shmq_sub **ret_sub);
/* Remove @name if it is still there; an empty @name is ignored, and emptied. */
void topic_unlink(char name[TOPIC_NAME_LEN]);

/*
 * Consumer groups (work queues) of this run: one group, BENCH_GROUP, per topic. Its segment
 * ("TOPIC@work" beside the topic's) is removed at exit unless group_remove() came first.
 */
#define BENCH_GROUP "work"

/*
 * group_create() - create the group of topic @topic (which must exist), starting at its
 * earliest record, with the configuration @cfg (NULL: the library's defaults), and join it
 * (@ret_member, released with shmq_group_close(); NULL: leave it at once, the group stays).
 * The topic's name is copied to @gtopic, which group_remove() takes.
 */
int group_create(const char *topic, const struct shmq_group_config *cfg,
		 char gtopic[TOPIC_NAME_LEN], shmq_group **ret_member);
/* Join the group of @topic (a peer's side); released with shmq_group_close(). */
int group_attach(const char *topic, shmq_group **ret_member);
/*
 * Delete the group of @gtopic if it is still there (by force: a member a test left behind
 * does not keep it), and remove its segment by name when the topic's name is gone already;
 * an empty @gtopic is ignored, and emptied.
 */
void group_remove(char gtopic[TOPIC_NAME_LEN]);
/*
 * After a run in which @total records were each received once and acked: the group's floor
 * and next are @total + 1, it counts @total acks and deliveries, and no redelivery, loss,
 * skip or dead letter. -1 after printing what differs (@who names the run).
 */
int group_check(const char *gtopic, uint64_t total, const char *who);

/*
 * Spin on a full or empty topic; -EPIPE when the peer is gone. One more try after the peer
 * was seen gone: what it published just before exiting is still delivered.
 */
static inline int topic_send(shmq_pub *pub, const void *p, size_t len, uint64_t corr_id,
			     struct spin *s)
{
	bool gone = false;
	int e;

	while ((e = shmq_pub_send(pub, p, len, corr_id)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(s);
	}
	return e;
}

static inline int topic_recv(shmq_sub *sub, void *buf, size_t cap, struct shmq_sub_msg *info,
			     struct spin *s)
{
	bool gone = false;
	int n;

	while ((n = shmq_sub_recv(sub, buf, cap, info)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(s);
	}
	return n;
}

static inline int topic_peek(shmq_sub *sub, const void **data, struct shmq_sub_msg *info,
			     struct spin *s)
{
	bool gone = false;
	int n;

	while ((n = shmq_sub_peek(sub, data, info)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(s);
	}
	return n;
}

/* Lease the next record of a group, spinning while there is none; -EPIPE as above. */
static inline int group_recv(shmq_group *g, void *buf, size_t cap, struct shmq_group_msg *info,
			     struct spin *s)
{
	bool gone = false;
	int n;

	while ((n = shmq_group_recv(g, buf, cap, info)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(s);
	}
	return n;
}

#endif /* SHMQ_BENCH_TOPIC_H */
