// SPDX-License-Identifier: MIT
/* keyed.c - the shmq tool's view of priority and partitioned topics: which a name is, and stat. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Does topic "@name@suffix" exist? */
static bool member_topic(shmq_bus *bus, const char *name, const char *suffix, unsigned k)
{
	char t[SHMQ_NAME_MAX + 2];
	struct shmq_topic_stats st;
	int n = snprintf(t, sizeof(t), "%s%s%u", name, suffix, k);

	return n > 0 && n <= SHMQ_NAME_MAX && shmq_topic_stat(bus, t, &st, NULL, 0) >= 0;
}

int cli_topic_kind(shmq_bus *bus, const char *name)
{
	struct shmq_topic_stats st;

	/* The topic itself first: "NAME" may exist next to a "NAME.p0" of its own. */
	if (cli_is_pattern(name) || shmq_topic_stat(bus, name, &st, NULL, 0) != -ENOENT)
		return CLI_TOPIC_PLAIN;
	if (member_topic(bus, name, ".p", 0))
		return CLI_TOPIC_PRIO;
	if (member_topic(bus, name, ".part", 0))
		return CLI_TOPIC_PART;
	return CLI_TOPIC_PLAIN;
}

/* The topics "@name@suffix"0.. that exist, in order, at most @max: how many there are. */
static unsigned count_members(shmq_bus *bus, const char *name, const char *suffix, unsigned max)
{
	unsigned k = 0;

	while (k < max && member_topic(bus, name, suffix, k))
		k++;
	return k;
}

/* One level or partition: its topic's tail, oldest, producers and subscribers, as JSON. */
static json_t *member_json(shmq_bus *bus, const char *name, const char *suffix, unsigned k,
			   const char *what)
{
	char t[SHMQ_NAME_MAX + 2];
	struct shmq_topic_stats st = { 0 };

	snprintf(t, sizeof(t), "%s%s%u", name, suffix, k);
	shmq_topic_stat(bus, t, &st, NULL, 0);
	return json_pack("{s:i, s:s, s:I, s:I, s:i, s:i}", what, (int)k, "topic", t, "tail",
			 (json_int_t)st.tail, "oldest", (json_int_t)st.oldest, "producers",
			 (int)st.producers, "subscribers", (int)st.subscribers);
}

/* The same as a line: "  level 1 (T.p1): tail 5, oldest 1, producers 0, subscribers 2". */
static void member_line(shmq_bus *bus, const char *name, const char *suffix, unsigned k,
			const char *what)
{
	char t[SHMQ_NAME_MAX + 2];
	struct shmq_topic_stats st = { 0 };

	snprintf(t, sizeof(t), "%s%s%u", name, suffix, k);
	shmq_topic_stat(bus, t, &st, NULL, 0);
	printf("  %s %u (%s): tail %llu, oldest %llu, producers %u, subscribers %u\n", what, k, t,
	       (unsigned long long)st.tail, (unsigned long long)st.oldest, st.producers,
	       st.subscribers);
}

int cli_stat_prio(shmq_bus *bus, const char *name, bool json)
{
	unsigned k, n = count_members(bus, name, ".p", SHMQ_PRIO_MAX_LEVELS);
	json_t *o, *a;

	if (n < SHMQ_PRIO_MIN_LEVELS)
		return -ENOENT;
	if (!json) {
		printf("priority topic %s: %u levels (%s.p0 the lowest)\n", name, n, name);
		for (k = n; k-- > 0;)
			member_line(bus, name, ".p", k, "level");
		return 0;
	}
	o = json_pack("{s:s, s:s, s:i}", "name", name, "kind", "priority", "levels", (int)n);
	a = json_array();
	for (k = 0; k < n; k++)
		json_array_append_new(a, member_json(bus, name, ".p", k, "level"));
	json_object_set_new(o, "level_list", a);
	cli_json_line(o);
	return 0;
}

/* A partition's owner: "pid 123", or "none". */
static const char *owner_of(pid_t pid, char *buf, size_t len)
{
	if (pid <= 0)
		return "none";
	snprintf(buf, len, "pid %d", (int)pid);
	return buf;
}

static void stat_part_table(shmq_bus *bus, const char *name, const char *group, unsigned n,
			    const struct shmq_part_info *pi)
{
	uint64_t lag = 0;
	unsigned k;
	char o[32];

	for (k = 0; pi && k < n; k++)
		lag += pi[k].lag;
	printf("partitioned topic %s: %u partitions", name, n);
	if (pi)
		printf(", group %s: lag %llu", group, (unsigned long long)lag);
	putchar('\n');
	for (k = 0; k < n; k++) {
		if (!pi) {
			member_line(bus, name, ".part", k, "partition");
			continue;
		}
		printf("  partition %u: owner %s, floor %llu, tail %llu, lag %llu, moves %llu\n", k,
		       owner_of(pi[k].owner, o, sizeof(o)), (unsigned long long)pi[k].floor,
		       (unsigned long long)pi[k].tail, (unsigned long long)pi[k].lag,
		       (unsigned long long)pi[k].moves);
	}
}

static void stat_part_json(shmq_bus *bus, const char *name, const char *group, unsigned n,
			   const struct shmq_part_info *pi)
{
	json_t *o = json_pack("{s:s, s:s, s:i}", "name", name, "kind", "partitioned", "partitions",
			      (int)n),
	       *a = json_array(), *p;
	unsigned k;

	if (group)
		json_object_set_new(o, "group", json_string(group));
	for (k = 0; k < n; k++) {
		p = member_json(bus, name, ".part", k, "partition");
		if (pi)
			json_object_update_missing_new(
				p, json_pack("{s:i, s:I, s:I, s:I}", "owner_pid",
					     (int)(pi[k].owner > 0 ? pi[k].owner : 0), "floor",
					     (json_int_t)pi[k].floor, "lag", (json_int_t)pi[k].lag,
					     "moves", (json_int_t)pi[k].moves));
		json_array_append_new(a, p);
	}
	json_object_set_new(o, "partition_list", a);
	cli_json_line(o);
}

int cli_stat_part(shmq_bus *bus, const char *name, const char *group, bool json)
{
	struct shmq_part_info *pi = NULL;
	unsigned n = count_members(bus, name, ".part", SHMQ_PART_MAX);
	int r;

	if (n == 0)
		return -ENOENT;
	if (group) {
		pi = calloc(SHMQ_PART_MAX, sizeof(*pi));
		if (!pi)
			return -ENOMEM;
		r = shmq_part_stat(bus, name, group, pi, SHMQ_PART_MAX);
		if (r < 0) {
			free(pi);
			return r;
		}
		n = (unsigned)r;
	}
	if (json)
		stat_part_json(bus, name, group, n, pi);
	else
		stat_part_table(bus, name, group, n, pi);
	free(pi);
	return 0;
}
