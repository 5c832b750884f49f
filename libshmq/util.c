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

/* Name what is wrong with character @c at @at of a @what, and the rule it breaks. */
static void bad_char(const char *what, const char *rule, char c, size_t at)
{
	unsigned char u = (unsigned char)c;

	if (u >= 0x20 && u < 0x7f)
		shmqi_detail("bad %s: '%c' at offset %zu is not allowed (%s)", what, c, at, rule);
	else
		shmqi_detail("bad %s: byte 0x%02x at offset %zu is not allowed (%s)", what, u, at,
			     rule);
}

bool shmqi_valid_namespace(const char *ns, const char *what)
{
	static const char rule[] = "1-32 chars of [A-Za-z0-9_-]";
	size_t i;

	static_assert(SHMQ_NAMESPACE_MAX == 32, "the rule's text");
	if (!ns || !ns[0]) {
		shmqi_detail("bad %s: empty (%s)", what, rule);
		return false;
	}
	for (i = 0; ns[i]; i++) {
		if (i >= SHMQ_NAMESPACE_MAX) {
			shmqi_detail("bad %s: %zu chars, at most %d", what, strlen(ns),
				     SHMQ_NAMESPACE_MAX);
			return false;
		}
		if (!name_char(ns[i], false)) {
			bad_char(what, rule, ns[i], i);
			return false;
		}
	}
	return true;
}

/* 1..SHMQ_NAME_MAX chars of [A-Za-z0-9_.-], no empty dot-separated segment. */
bool shmqi_valid_name(const char *name)
{
	static const char rule[] =
		"1-200 chars of [A-Za-z0-9_.-], dot-separated non-empty segments";
	size_t i;

	static_assert(SHMQ_NAME_MAX == 200, "the rule's text");
	if (!name || !name[0]) {
		shmqi_detail("bad name: %s (%s)", name ? "empty" : "NULL", rule);
		return false;
	}
	for (i = 0; name[i]; i++) {
		if (i >= SHMQ_NAME_MAX) {
			shmqi_detail("bad name: %zu chars, at most %d", strlen(name),
				     SHMQ_NAME_MAX);
			return false;
		}
		if (!name_char(name[i], true)) {
			bad_char("name", rule, name[i], i);
			return false;
		}
		if (name[i] == '.' && (i == 0 || name[i + 1] == '.' || name[i + 1] == '\0')) {
			shmqi_detail("bad name: the '.' at offset %zu leaves an empty segment (%s)",
				     i, rule);
			return false;
		}
	}
	return true;
}

void shmqi_seg_file(const shmq_bus *bus, const char *name, char *buf, size_t buf_len)
{
	snprintf(buf, buf_len, SHMQI_SHM_DIR "/shmq.%s.%s", bus->ns, name);
}

int shmqi_seg_path(const shmq_bus *bus, const char *name, char *buf, size_t buf_len)
{
	int n;

	if (!bus) {
		shmqi_detail("no bus (NULL)");
		return -EINVAL;
	}
	if (!shmqi_valid_name(name))
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
