// SPDX-License-Identifier: MIT
/* chan.c - channels of one benchmark run: unique names in a private namespace, always unlinked. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"

static shmq_bus *the_bus;
static struct shmq_channel_config bench_cfg; /* zeros: the library's defaults */
unsigned bench_create_flags;
static char bench_ns[SHMQ_NAMESPACE_MAX + 1];

int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", BENCH_PROG, what, shmq_strerror(err));
	return -1;
}

/* "bench<pid>": no two runs share names, and nothing else on the host uses them. */
int bench_bus(shmq_bus **ret, const char **ret_ns)
{
	int e;

	if (!the_bus) {
		snprintf(bench_ns, sizeof(bench_ns), "bench%d", (int)getpid());
		e = shmq_bus_open(bench_ns, 0, &the_bus);
		if (e < 0) {
			fprintf(stderr, "%s: open bus '%s': %s\n", BENCH_PROG, bench_ns,
				shmq_strerror(e));
			return -1;
		}
	}
	*ret = the_bus;
	if (ret_ns)
		*ret_ns = bench_ns;
	return 0;
}

static int chan_open(const char *name, unsigned flags, shmq_channel **ret_ch)
{
	shmq_bus *bus;
	int e;

	if (bench_bus(&bus, NULL) < 0)
		return -1;
	e = shmq_channel_open(bus, name, flags, &bench_cfg, ret_ch);
	if (e < 0) {
		fprintf(stderr, "%s: open channel '%s': %s\n", BENCH_PROG, name, shmq_strerror(e));
		return -1;
	}
	return 0;
}

void chan_set_capacity(uint64_t capacity)
{
	bench_cfg.capacity = capacity;
}

int chan_create(const char *prefix, unsigned role, char name[CHAN_NAME_LEN], shmq_channel **ret_ch)
{
	static unsigned counter;
	shmq_bus *bus;

	if (bench_bus(&bus, NULL) < 0)
		return -1;
	snprintf(name, CHAN_NAME_LEN, "%s.%u", prefix, ++counter);
	/* Registered before it exists: a signal during the open must not leak it. */
	cleanup_add_shm(bench_ns, name);
	if (chan_open(name, SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | bench_create_flags | role, ret_ch) <
	    0) {
		cleanup_del_shm(bench_ns, name);
		name[0] = '\0';
		return -1;
	}
	return 0;
}

int chan_attach(const char *name, unsigned role, shmq_channel **ret_ch)
{
	return chan_open(name, role, ret_ch);
}

void chan_unlink(char name[CHAN_NAME_LEN])
{
	int e;

	if (!name[0] || !the_bus)
		return;
	e = shmq_unlink(the_bus, name);
	if (e < 0 && e != -ENOENT)
		fprintf(stderr, "%s: unlink channel '%s': %s\n", BENCH_PROG, name,
			shmq_strerror(e));
	cleanup_del_shm(bench_ns, name);
	name[0] = '\0';
}
