// SPDX-License-Identifier: MIT
/*
 * fuzz_pattern.c - libFuzzer target for wildcard patterns (shmq/pattern.h): an input is a
 * pattern, a NUL, then a topic name. shmq_pattern_check() and shmq_pattern_match() must agree
 * on what is valid, answer only 0, 1 or -EINVAL, and a literal pattern must match itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "shmq.h"

/* Longer than any valid pattern or name, so that the limits are tried too. */
#define PART_MAX 512

/* Copy @data up to a NUL (or all of it) into @out, terminated. Return: the bytes consumed. */
static size_t part(const uint8_t *data, size_t size, char *out)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t n = nul ? (size_t)(nul - data) : size;

	if (n >= PART_MAX)
		n = PART_MAX - 1;
	memcpy(out, data, n);
	out[n] = '\0';
	return nul ? (size_t)(nul - data) + 1 : size;
}

static bool has_wildcard(const char *p)
{
	return strpbrk(p, "*#>") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char pat[PART_MAX], topic[PART_MAX];
	int c, m, any, self;
	size_t used;

	if (size > 2 * PART_MAX)
		return 0;
	used = part(data, size, pat);
	part(data + used, size - used, topic);
	c = shmq_pattern_check(pat);
	FUZZ_CHECK(c == 0 || c == -EINVAL);
	FUZZ_CHECK(c < 0 || (pat[0] && strlen(pat) <= SHMQ_PATTERN_MAX));
	m = shmq_pattern_match(pat, topic);
	FUZZ_CHECK(m == 0 || m == 1 || m == -EINVAL);
	/* "#" and "$#"-free: whether @topic is a name does not depend on the pattern. */
	any = shmq_pattern_match("#", topic);
	FUZZ_CHECK(any == 0 || any == 1 || any == -EINVAL);
	FUZZ_CHECK(any != 0 || topic[0] == '$');
	if (c < 0)
		FUZZ_CHECK(m == -EINVAL);
	else
		FUZZ_CHECK((m == -EINVAL) == (any == -EINVAL));
	if (c == 0 && !has_wildcard(pat)) {
		/* A literal pattern is a name: it matches itself, and only itself. */
		self = shmq_pattern_match(pat, pat);
		FUZZ_CHECK(self == 1);
		if (m >= 0)
			FUZZ_CHECK(m == !strcmp(pat, topic));
	}
	/* A topic matches itself as a pattern, where it is one. */
	if (any >= 0 && shmq_pattern_check(topic) == 0)
		FUZZ_CHECK(shmq_pattern_match(topic, topic) == 1);
	return 0;
}
