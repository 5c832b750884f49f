/* SPDX-License-Identifier: MIT */
/* shmq/pattern.h - wildcard patterns over topic names; included by shmq.h. */
#ifndef SHMQ_PATTERN_H
#define SHMQ_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "shmq/bus.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A pattern names a set of topics. Like a topic name it is a list of tokens separated by
 * '.', and each token is either a literal, matched exactly, or one of three wildcards that
 * stand alone as a whole token:
 *
 *   *  exactly one token                  "a.*" matches "a.b", not "a" nor "a.b.c"
 *   #  zero or more tokens (RabbitMQ)     "a.#" matches "a", "a.b", "a.b.c"; "#" matches all
 *   >  one or more tokens, only as the    "a.>" matches "a.b", "a.b.c", not "a"
 *      last token (NATS)
 *
 * Literal tokens are 1 or more characters of [A-Za-z0-9_-]; the first token may also start
 * with '$'. A wildcard inside a token ("a*", "b#"), '>' before the last token ("a.>.b") and
 * empty tokens ("a..b", ".a", "a.") are invalid. A pattern is at most SHMQ_PATTERN_MAX
 * characters.
 *
 * As in MQTT, a pattern whose first token is a wildcard never matches a topic whose first
 * token starts with '$' ("#" does not match "$SYS.load"; "$SYS.#" does). The names of this
 * library's own objects cannot start with '$' (shmq_pub_open() refuses them): such names are
 * kept for system topics a registry may publish, and shmq_pattern_match() accepts them.
 */

/* Longest pattern, in characters. */
#define SHMQ_PATTERN_MAX 200

/**
 * shmq_pattern_check() - is @pattern a valid pattern?
 * @pattern: the pattern
 *
 * Clears shmq_last_detail() and, when the pattern is invalid, fills it with what is wrong
 * and where ("bad pattern: '*' at offset 1 is inside the token "a*" (a wildcard is a whole
 * token)").
 *
 * Return: 0, or -EINVAL (NULL, empty, too long, a character that is not allowed, an empty
 * token, a wildcard inside a token, '>' before the last token, '$' after the first
 * character).
 */
SHMQ_API int shmq_pattern_check(const char *pattern);

/**
 * shmq_pattern_match() - does @topic match @pattern?
 * @pattern: a pattern, as shmq_pattern_check() checks it
 * @topic:   a topic name as shmq_pub_open() takes it (1-200 chars of [A-Za-z0-9_.-], no
 *           empty dot-separated token), or such a name after a leading '$'
 *
 * Linear in the product of the two token counts (at most 100 each), whatever the wildcards:
 * no backtracking. Clears shmq_last_detail(), and fills it on -EINVAL.
 *
 * Return: 1 (a match), 0 (none), or -EINVAL (a bad pattern, or a @topic that is not a valid
 * name).
 */
SHMQ_API int shmq_pattern_match(const char *pattern, const char *topic);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_PATTERN_H */
