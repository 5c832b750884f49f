// SPDX-License-Identifier: MIT
/* test_pattern.c - wildcard patterns: the matching rules. */
#include <assert.h>

#include "common.h"

/* ---- the matching rules ---- */

struct row {
	const char *pattern;
	const char *topic;
	int want; /* 1 match, 0 none, -EINVAL */
};

static const struct row rows[] = {
	/* literals */
	{ "a", "a", 1 },
	{ "a", "b", 0 },
	{ "a.b", "a.b", 1 },
	{ "a.b", "a.bc", 0 },
	{ "a.b", "a", 0 },
	{ "a", "a.b", 0 },
	{ "A-b_9.c", "A-b_9.c", 1 },
	{ "a.b", "A.b", 0 }, /* case matters */
	/* '*': exactly one token */
	{ "*", "a", 1 },
	{ "*", "a.b", 0 },
	{ "a.*", "a.b", 1 },
	{ "a.*", "a", 0 },
	{ "a.*", "a.b.c", 0 },
	{ "*.b", "a.b", 1 },
	{ "*.*", "a.b", 1 },
	{ "*.*", "a", 0 },
	{ "a.*.c", "a.b.c", 1 },
	{ "a.*.c", "a.c", 0 },
	/* '#': zero or more tokens (RabbitMQ) */
	{ "#", "a", 1 },
	{ "#", "a.b.c", 1 },
	{ "a.#", "a", 1 },
	{ "a.#", "a.b", 1 },
	{ "a.#", "a.b.c", 1 },
	{ "a.#", "b", 0 },
	{ "a.#", "ab", 0 },
	{ "#.c", "c", 1 },
	{ "#.c", "a.b.c", 1 },
	{ "#.c", "a.b.cd", 0 },
	{ "a.#.c", "a.c", 1 },
	{ "a.#.c", "a.b.x.c", 1 },
	{ "a.#.c", "a.b", 0 },
	{ "#.#", "a", 1 },
	{ "#.*", "a", 1 },
	{ "*.#", "a", 1 },
	{ "#.*.#", "a.b.c", 1 },
	{ "a.#.b.#.c", "a.b.c", 1 },
	{ "a.#.b.#.c", "a.c.b", 0 },
	{ "a.#.#.b", "a.b", 1 },
	/* '>': one or more trailing tokens (NATS) */
	{ ">", "a", 1 },
	{ ">", "a.b.c", 1 },
	{ "a.>", "a", 0 },
	{ "a.>", "a.b", 1 },
	{ "a.>", "a.b.c", 1 },
	{ "a.>", "b.c", 0 },
	{ "*.>", "a", 0 },
	{ "*.>", "a.b", 1 },
	{ "#.>", "a", 1 },
	/* '$' topics: a wildcard first never matches them */
	{ "#", "$SYS", 0 },
	{ "#", "$SYS.load", 0 },
	{ ">", "$SYS.load", 0 },
	{ "*.load", "$SYS.load", 0 },
	{ "#.load", "$SYS.load", 0 },
	{ "$SYS.#", "$SYS.load", 1 },
	{ "$SYS.#", "$SYS", 1 },
	{ "$SYS.*", "$SYS.load", 1 },
	{ "$SYS.>", "$SYS.load.avg", 1 },
	{ "$SYS", "SYS", 0 },
	{ "SYS.#", "$SYS.load", 0 },
	{ "a.#", "a.$b", -EINVAL }, /* '$' only starts a topic */
	{ "#", "$", -EINVAL },
	{ "#", "$.a", -EINVAL },
	/* invalid patterns */
	{ NULL, "a", -EINVAL },
	{ "", "a", -EINVAL },
	{ "a*", "a", -EINVAL },
	{ "*a", "a", -EINVAL },
	{ "a.b#", "a.b", -EINVAL },
	{ "a.#b", "a.b", -EINVAL },
	{ "a.>.b", "a.x.b", -EINVAL },
	{ ">.a", "x.a", -EINVAL },
	{ "a.b>", "a.b", -EINVAL },
	{ "**", "a", -EINVAL },
	{ "##", "a", -EINVAL },
	{ "a..b", "a.b", -EINVAL },
	{ ".a", "a", -EINVAL },
	{ "a.", "a", -EINVAL },
	{ ".", "a", -EINVAL },
	{ "a b", "a", -EINVAL },
	{ "a/b", "a", -EINVAL },
	{ "a.$b", "a.b", -EINVAL },
	{ "$", "a", -EINVAL },
	{ "$*", "a", -EINVAL },
	{ "a@b", "a", -EINVAL },
	/* invalid topics */
	{ "#", NULL, -EINVAL },
	{ "#", "", -EINVAL },
	{ "#", "a..b", -EINVAL },
	{ "#", ".a", -EINVAL },
	{ "#", "a.", -EINVAL },
	{ "*", "*", -EINVAL },
	{ "#", "a@b", -EINVAL },
};

static void test_match_table(void **state)
{
	size_t i;
	int r;

	(void)state;
	static_assert(sizeof(rows) / sizeof(rows[0]) >= 40, "the table covers the rules");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = shmq_pattern_match(rows[i].pattern, rows[i].topic);
		if (r != rows[i].want)
			fail_msg("row %zu: match(\"%s\", \"%s\") = %d, want %d", i,
				 rows[i].pattern ? rows[i].pattern : "(null)",
				 rows[i].topic ? rows[i].topic : "(null)", r, rows[i].want);
		/* a failure says why; a result leaves no detail */
		assert_int_equal(shmq_last_detail()[0] != '\0', r == -EINVAL);
		/* a pattern that matched or did not is one check() accepts */
		if (r != -EINVAL)
			assert_int_equal(shmq_pattern_check(rows[i].pattern), 0);
	}
}

/* The detail names the rule a pattern breaks. */
static void test_check_detail(void **state)
{
	static const struct {
		const char *pattern, *says;
	} cases[] = {
		{ "a*", "inside the token \"a*\"" },
		{ "a.b#.c", "'#' at offset 3 is inside the token \"b#\"" },
		{ "a.>.b", "'>' at offset 2 is not the last token" },
		{ "a..b", "'.' at offset 2 leaves an empty token" },
		{ ".a", "'.' at offset 0 leaves an empty token" },
		{ "a.", "'.' at offset 1 leaves an empty token" },
		{ "a.b c", "' ' at offset 3 is not allowed" },
		{ "a.$b", "only the first token may start with '$'" },
		{ "", "empty" },
	};
	char longp[SHMQ_PATTERN_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(shmq_pattern_check(cases[i].pattern), -EINVAL);
		if (!strstr(shmq_last_detail(), cases[i].says))
			fail_msg("\"%s\": detail \"%s\" lacks \"%s\"", cases[i].pattern,
				 shmq_last_detail(), cases[i].says);
	}
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(shmq_pattern_check(longp), -EINVAL);
	assert_non_null(strstr(shmq_last_detail(), "201 chars, at most 200"));
	longp[SHMQ_PATTERN_MAX] = '\0';
	assert_int_equal(shmq_pattern_check(longp), 0);
	assert_string_equal(shmq_last_detail(), "");
	/* a bad topic says what is wrong with the name */
	assert_int_equal(shmq_pattern_match("#", "a..b"), -EINVAL);
	assert_non_null(strstr(shmq_last_detail(), "empty segment"));
}

/*
 * Many '#' against a long topic that does not match: a backtracking matcher takes
 * exponential time here, the dynamic programme 100 x 100 steps.
 */
static void test_match_no_backtracking(void **state)
{
	char pattern[SHMQ_PATTERN_MAX + 1], topic[SHMQ_NAME_MAX + 1];
	uint64_t t0;
	size_t i;

	(void)state;
	for (i = 0; i < 49; i++)
		memcpy(pattern + 2 * i, "#.", 2);
	memcpy(pattern + 98, "z", 2); /* "#.#. ... #.z": 50 tokens */
	for (i = 0; i < 100; i++)
		memcpy(topic + 2 * i, "a.", 2);
	topic[199] = '\0'; /* "a.a. ... a": 100 tokens */
	t0 = test_now_ns();
	for (i = 0; i < 1000; i++)
		assert_int_equal(shmq_pattern_match(pattern, topic), 0);
	topic[198] = 'z';
	assert_int_equal(shmq_pattern_match(pattern, topic), 1);
	/* 1000 calls: well under a millisecond each, even on a loaded machine */
	assert_true(test_now_ns() - t0 < 2000000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_check_detail),
		cmocka_unit_test(test_match_no_backtracking),
	};

	return cmocka_run_group_tests_name("pattern", tests, NULL, NULL);
}
