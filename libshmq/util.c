// SPDX-License-Identifier: MIT
/* util.c - name validation, segment paths and clocks. */
#include <errno.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "shm_layout.h"

static bool name_char(char c, bool dot_ok)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || (dot_ok && c == '.');
}

bool shmqi_valid_namespace(const char *ns)
{
	size_t i;

	if (!ns)
		return false;
	for (i = 0; ns[i]; i++) {
		if (i >= SHMQ_NAMESPACE_MAX || !name_char(ns[i], false))
			return false;
	}
	return i > 0;
}

/* 1..SHMQ_NAME_MAX chars of [A-Za-z0-9_.-], no empty dot-separated segment. */
bool shmqi_valid_name(const char *name)
{
	size_t i;

	if (!name || name[0] == '.')
		return false;
	for (i = 0; name[i]; i++) {
		if (i >= SHMQ_NAME_MAX || !name_char(name[i], true))
			return false;
		if (name[i] == '.' && (name[i + 1] == '.' || name[i + 1] == '\0'))
			return false;
	}
	return i > 0;
}

int shmqi_seg_path(const shmq_bus *bus, const char *name, char *buf, size_t buf_len)
{
	int n;

	if (!bus || !shmqi_valid_name(name))
		return -EINVAL;
	n = snprintf(buf, buf_len, "/shmq.%s.%s", bus->ns, name);
	if (n < 0 || (size_t)n >= buf_len)
		return -ENAMETOOLONG;
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t shmqi_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}
