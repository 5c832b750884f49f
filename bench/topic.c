// SPDX-License-Identifier: MIT
/* topic.c - topics of one benchmark run: unique names in the private namespace, always unlinked. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "topic.h"

void topic_config(struct shmq_topic_config *cfg, unsigned size)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->policy = SHMQ_TOPIC_RELIABLE;
	if (size > SHMQ_TOPIC_DEFAULT_MAX_MSG)
		cfg->max_msg = size;
}

/* @pub_flags go to a producer's open only: a subscriber would reject them. */
static int topic_open(const char *name, unsigned flags, unsigned pub_flags,
		      const struct shmq_topic_config *cfg, shmq_pub **ret_pub, shmq_sub **ret_sub)
{
	shmq_bus *bus;
	int e;

	assert(ret_pub || !pub_flags);
	if (bench_bus(&bus, NULL) < 0)
		return -1;
	if (ret_pub)
		e = shmq_pub_open(bus, name, flags | pub_flags, cfg, ret_pub);
	else
		e = shmq_sub_open(bus, name, flags, cfg, 0, ret_sub);
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
	if (topic_open(name, SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, pub_flags, cfg, ret_pub, ret_sub) <
	    0) {
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
