// SPDX-License-Identifier: MIT
/* pattern.c - wildcard patterns over topic names: the rules, a matcher that never backtracks. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

static const char rule[] = "tokens of [A-Za-z0-9_-], or a wildcard * # > alone, between dots";

static bool lit_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool wild_char(char c)
{
	return c == '*' || c == '#' || c == '>';
}

/* Is token @i of @pat the wildcard @w? */
static bool tok_is(const struct shmqi_pattern *pat, unsigned i, char w)
{
	return pat->len[i] == 1 && pat->text[pat->off[i]] == w;
}

/* What is wrong with character @at of @p, in the token [@start, @end). Return: -EINVAL. */
static int bad_at(const char *p, size_t at, size_t start, size_t end)
{
	unsigned char u = (unsigned char)p[at];

	if (wild_char(p[at]))
		shmqi_detail("bad pattern: '%c' at offset %zu is inside the token \"%.*s\" (a "
			     "wildcard is a whole token)",
			     p[at], at, (int)(end - start), p + start);
	else if (p[at] == '$')
		shmqi_detail("bad pattern: '$' at offset %zu (only the first token may start with "
			     "'$')",
			     at);
	else if (u >= 0x20 && u < 0x7f)
		shmqi_detail("bad pattern: '%c' at offset %zu is not allowed (%s)", p[at], at,
			     rule);
	else
		shmqi_detail("bad pattern: byte 0x%02x at offset %zu is not allowed (%s)", u, at,
			     rule);
	return -EINVAL;
}

/* Check the token [@start, @end) of @p: a wildcard alone, or a literal. */
static int check_token(const char *p, size_t start, size_t end)
{
	size_t i;

	if (end == start) {
		shmqi_detail("bad pattern: the '.' at offset %zu leaves an empty token (%s)",
			     p[end] == '.' ? end : start - 1, rule);
		return -EINVAL;
	}
	if (end - start == 1 && wild_char(p[start]))
		return 0;
	if (p[start] == '$' && start == 0 && end == 1) {
		shmqi_detail("bad pattern: the token \"$\" has nothing after its '$'");
		return -EINVAL;
	}
	for (i = start; i < end; i++)
		if (!lit_char(p[i]) && !(i == 0 && p[i] == '$'))
			return bad_at(p, i, start, end);
	return 0;
}

int shmqi_pattern_compile(const char *pattern, struct shmqi_pattern *pat)
{
	size_t len, start = 0, i;
	int r;

	static_assert(SHMQ_PATTERN_MAX < 256, "token offsets fit in a byte");
	if (!pattern || !pattern[0]) {
		shmqi_detail("bad pattern: %s (%s)", pattern ? "empty" : "NULL", rule);
		return -EINVAL;
	}
	len = strnlen(pattern, SHMQ_PATTERN_MAX + 1);
	if (len > SHMQ_PATTERN_MAX) {
		shmqi_detail("bad pattern: %zu chars, at most %d", strlen(pattern),
			     SHMQ_PATTERN_MAX);
		return -EINVAL;
	}
	pat->n = 0;
	for (i = 0; i <= len; i++) {
		if (pattern[i] != '.' && pattern[i] != '\0')
			continue;
		r = check_token(pattern, start, i);
		if (r < 0)
			return r;
		if (pat->n && pat->len[pat->n - 1] == 1 && pattern[pat->off[pat->n - 1]] == '>') {
			shmqi_detail("bad pattern: '>' at offset %u is not the last token",
				     pat->off[pat->n - 1]);
			return -EINVAL;
		}
		/* non-empty tokens: at most (200 + 1) / 2 of them */
		pat->off[pat->n] = (uint8_t)start;
		pat->len[pat->n++] = (uint8_t)(i - start);
		start = i + 1;
	}
	memcpy(pat->text, pattern, len + 1);
	return 0;
}

/* Split a valid topic into its tokens. Return: how many. */
static unsigned split(const char *topic, uint8_t *off, uint8_t *len)
{
	unsigned n = 0;
	size_t i, start = 0;

	for (i = 0;; i++) {
		if (topic[i] != '.' && topic[i] != '\0')
			continue;
		off[n] = (uint8_t)start;
		len[n++] = (uint8_t)(i - start);
		if (!topic[i])
			return n;
		start = i + 1;
	}
}

/*
 * The standard dynamic programme over token positions: after pattern token i, @dp[j] says
 * whether the first i pattern tokens match the first j topic tokens. A '#' ORs the row's
 * prefix in (zero or more), '>' the prefix before j (one or more): O(pattern tokens x topic
 * tokens), at most 100 x 100 steps, with no backtracking whatever the pattern.
 */
bool shmqi_pattern_matches(const struct shmqi_pattern *pat, const char *topic)
{
	uint8_t toff[SHMQI_TOKENS_MAX], tlen[SHMQI_TOKENS_MAX];
	bool dp[SHMQI_TOKENS_MAX + 1], nx[SHMQI_TOKENS_MAX + 1], run, any;
	unsigned nt = split(topic, toff, tlen), i, j;
	const char *p;

	/* MQTT: a wildcard first never reaches into '$' topics, not even '#' by zero tokens */
	if (topic[0] == '$' && (tok_is(pat, 0, '*') || tok_is(pat, 0, '#') || tok_is(pat, 0, '>')))
		return false;
	memset(dp, 0, sizeof(dp));
	dp[0] = true;
	for (i = 0; i < pat->n; i++) {
		p = pat->text + pat->off[i];
		run = any = nx[0] = false;
		if (tok_is(pat, i, '#'))
			run = nx[0] = dp[0];
		for (j = 1; j <= nt; j++) {
			if (tok_is(pat, i, '#'))
				run = nx[j] = run || dp[j];
			else if (tok_is(pat, i, '>'))
				run = nx[j] = run || dp[j - 1];
			else
				nx[j] = dp[j - 1] &&
					(tok_is(pat, i, '*') ||
					 (pat->len[i] == tlen[j - 1] &&
					  memcmp(p, topic + toff[j - 1], tlen[j - 1]) == 0));
			any = any || nx[j];
		}
		if (!any && !nx[0])
			return false;
		memcpy(dp, nx, (nt + 1) * sizeof(dp[0]));
	}
	return dp[nt];
}

/* A name as shmqi_valid_name() takes it, or a '$' and such a name. */
static bool topic_ok(const char *topic)
{
	char copy[SHMQ_NAME_MAX + 1];
	size_t len;

	if (!topic || topic[0] != '$')
		return shmqi_valid_name(topic);
	len = strnlen(topic, SHMQ_NAME_MAX + 1);
	if (len > SHMQ_NAME_MAX) {
		shmqi_detail("bad name: %zu chars, at most %d", strlen(topic), SHMQ_NAME_MAX);
		return false;
	}
	if (topic[1] == '\0' || topic[1] == '.') {
		shmqi_detail("bad name: the '$' at offset 0 starts no token");
		return false;
	}
	/* the same rules, and the same offsets in the detail, for what follows the '$' */
	memcpy(copy, topic, len + 1);
	copy[0] = 'x';
	return shmqi_valid_name(copy);
}

int shmq_pattern_check(const char *pattern)
{
	struct shmqi_pattern pat;

	shmqi_detail_clear();
	return shmqi_pattern_compile(pattern, &pat);
}

int shmq_pattern_match(const char *pattern, const char *topic)
{
	struct shmqi_pattern pat;
	int r;

	shmqi_detail_clear();
	r = shmqi_pattern_compile(pattern, &pat);
	if (r < 0)
		return r;
	if (!topic_ok(topic))
		return -EINVAL;
	return shmqi_pattern_matches(&pat, topic) ? 1 : 0;
}
