/* SPDX-License-Identifier: MIT */
/* pattern_pending.h - until shmq/pattern.h lands: "watch" matches a name exactly. */
#ifndef SHMQD_PATTERN_PENDING_H
#define SHMQD_PATTERN_PENDING_H
#include <string.h>
static inline int shmq_pattern_check(const char *p)
{
	return p && p[0] ? 0 : -22;
}
static inline int shmq_pattern_match(const char *p, const char *t)
{
	return strcmp(p, t) == 0;
}
#endif
