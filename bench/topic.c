// SPDX-License-Identifier: MIT
/* topic.c - topics and groups of one benchmark run: unique names in its namespace, always removed. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "topic.h"

void topic_config(struct shmq_topic_config *cfg, unsigned size)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->policy = SHMQ_TOPIC_RELIABLE;
	if (size > SHMQ_TOPIC_DEFAULT_MAX_MSG)
		cfg->max_msg = size;
}

/*
 * @pub_flags go to a producer's open, but SHMQ_SUB_LATENCY, which goes to a subscriber's
 * only: each would reject the other's.
 */
static int topic_open(const char *name, unsigned flags, unsigned pub_flags,
		      const struct shmq_topic_config *cfg, shmq_pub **ret_pub, shmq_sub **ret_sub)
{
	shmq_bus *bus;
	int e;

	assert(ret_pub || !(pub_flags & ~SHMQ_SUB_LATENCY));
	if (bench_bus(&bus, NULL) < 0)
		return -1;
	if (ret_pub)
		e = shmq_pub_open(bus, name, flags | (pub_flags & ~SHMQ_SUB_LATENCY), cfg, ret_pub);
	else
		e = shmq_sub_open(bus, name, flags | (pub_flags & SHMQ_SUB_LATENCY), cfg, 0,
				  ret_sub);
	if (e < 0) {
		fprintf(stderr, "%s: open topic '%s' as a %s: %s\n", BENCH_PROG, name,
			ret_pub ? "producer" : "subscriber", shmq_strerror(e));
		return -1;
	}
	return 0;
}

int topic_create(const char *prefix, const struct shmq_topic_config *cfg, unsigned pub_flags,
		 char name[TOPIC_NAME_LEN], shmq_pub **ret_pub, shmq_sub **ret_sub)
{
	static unsigned counter;
	const char *ns;
	shmq_bus *bus;

	if (bench_bus(&bus, &ns) < 0)
		return -1;
	snprintf(name, TOPIC_NAME_LEN, "%s.%u", prefix, ++counter);
	/* Registered before it exists: a signal during the open must not leak it. */
	cleanup_add_shm(ns, name);
	if (topic_open(name, SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | bench_create_flags, pub_flags, cfg,
		       ret_pub, ret_sub) < 0) {
		cleanup_del_shm(ns, name);
		name[0] = '\0';
		return -1;
	}
	return 0;
}

int topic_attach(const char *name, const struct shmq_topic_config *cfg, unsigned pub_flags,
		 shmq_pub **ret_pub, shmq_sub **ret_sub)
{
	return topic_open(name, 0, pub_flags, cfg, ret_pub, ret_sub);
}

void topic_unlink(char name[TOPIC_NAME_LEN])
{
	const char *ns;
	shmq_bus *bus;
	int e;

	if (!name[0] || bench_bus(&bus, &ns) < 0)
		return;
	e = shmq_unlink(bus, name);
	if (e < 0 && e != -ENOENT)
		fprintf(stderr, "%s: unlink topic '%s': %s\n", BENCH_PROG, name, shmq_strerror(e));
	cleanup_del_shm(ns, name);
	name[0] = '\0';
}

/* ---- consumer groups ---- */

/* "TOPIC@GROUP": the group segment's name in the namespace, as the library forms it. */
static void group_seg_name(char *buf, size_t len, const char *topic)
{
	snprintf(buf, len, "%s@%s", topic, BENCH_GROUP);
}

static int group_open(const char *topic, unsigned flags, const struct shmq_group_config *cfg,
		      shmq_group **ret_member)
{
	shmq_bus *bus;
	int e;

	if (bench_bus(&bus, NULL) < 0)
		return -1;
	e = shmq_group_open(bus, topic, BENCH_GROUP, flags, cfg, ret_member);
	if (e < 0) {
		fprintf(stderr, "%s: open group '%s' of topic '%s': %s\n", BENCH_PROG, BENCH_GROUP,
			topic, shmq_strerror(e));
		return -1;
	}
	return 0;
}

int group_create(const char *topic, const struct shmq_group_config *cfg,
		 char gtopic[TOPIC_NAME_LEN], shmq_group **ret_member)
{
	char seg[2 * TOPIC_NAME_LEN];
	shmq_group *m;
	const char *ns;
	shmq_bus *bus;

	if (bench_bus(&bus, &ns) < 0)
		return -1;
	group_seg_name(seg, sizeof(seg), topic);
	/* Registered before it exists: a signal during the open must not leak it. */
	cleanup_add_shm(ns, seg);
	if (group_open(topic, SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | SHMQ_SUB_EARLIEST, cfg, &m) < 0) {
		cleanup_del_shm(ns, seg);
		gtopic[0] = '\0';
		return -1;
	}
	snprintf(gtopic, TOPIC_NAME_LEN, "%s", topic);
	if (ret_member)
		*ret_member = m;
	else
		shmq_group_close(m);
	return 0;
}

int group_attach(const char *topic, shmq_group **ret_member)
{
	return group_open(topic, 0, NULL, ret_member);
}

void group_remove(char gtopic[TOPIC_NAME_LEN])
{
	char seg[2 * TOPIC_NAME_LEN], path[3 * TOPIC_NAME_LEN];
	const char *ns;
	shmq_bus *bus;
	int e;

	if (!gtopic[0] || bench_bus(&bus, &ns) < 0)
		return;
	group_seg_name(seg, sizeof(seg), gtopic);
	e = shmq_group_delete(bus, gtopic, BENCH_GROUP, SHMQ_GROUP_FORCE);
	if (e == -ENOENT) {
		/* The topic's name went first: the group cannot be found through it. */
		snprintf(path, sizeof(path), "/shmq.%s.%s", ns, seg);
		e = shm_unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	}
	if (e < 0)
		fprintf(stderr, "%s: delete group '%s' of topic '%s': %s\n", BENCH_PROG,
			BENCH_GROUP, gtopic, shmq_strerror(e));
	cleanup_del_shm(ns, seg);
	gtopic[0] = '\0';
}

/* Every counter of a group that a run without failures leaves at zero. */
static bool group_clean(const struct shmq_group_stats *st)
{
	return !st->in_flight && !st->delayed && !st->nacked && !st->released && !st->redelivered &&
	       !st->expired && !st->dead_lettered && !st->terminated && !st->dropped && !st->lost &&
	       !st->skipped;
}

int group_check(const char *gtopic, uint64_t total, const char *who)
{
	struct shmq_group_stats st;
	shmq_bus *bus;
	int e;

	if (bench_bus(&bus, NULL) < 0)
		return -1;
	e = shmq_group_stat(bus, gtopic, BENCH_GROUP, &st, NULL, 0);
	if (e < 0)
		return fail("group stat", e);
	if (st.floor == total + 1 && st.next == total + 1 && st.acked == total &&
	    st.delivered == total && group_clean(&st))
		return 0;
	fprintf(stderr,
		"%s: %s: group counters after %llu records: floor %llu, next %llu, acked %llu, "
		"delivered %llu, redelivered %llu, in flight %llu, lost %llu, skipped %llu\n",
		BENCH_PROG, who, (unsigned long long)total, (unsigned long long)st.floor,
		(unsigned long long)st.next, (unsigned long long)st.acked,
		(unsigned long long)st.delivered, (unsigned long long)st.redelivered,
		(unsigned long long)st.in_flight, (unsigned long long)st.lost,
		(unsigned long long)st.skipped);
	return -1;
}
