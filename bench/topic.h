/* SPDX-License-Identifier: MIT */
/* topic.h - topics of one benchmark run: unique names in the run's namespace, always unlinked. */
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

#endif /* SHMQ_BENCH_TOPIC_H */
