// SPDX-License-Identifier: MIT
/* test_pattern.c - wildcard patterns: the matching rules, and pattern subscribers' discovery. */
#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "topic_common.h"
#include "internal.h"
#include "shm_layout.h"

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

/* ---- pattern subscribers ---- */

/* A namespace of this test's own, "t<pid>p<tag>": patterns see no other test's topics. */
static shmq_bus *ns_bus(const char *tag)
{
	char ns[SHMQ_NAMESPACE_MAX + 1];
	shmq_bus *bus = NULL;

	snprintf(ns, sizeof(ns), "t%dp%s", (int)getpid(), tag);
	assert_int_equal(shmq_bus_open(ns, 0, &bus), 0);
	return bus;
}

/* Remove every file whose name starts with @prefix from /dev/shm. */
static void unlink_prefix(const char *prefix)
{
	char path[300];
	struct dirent *de;
	DIR *d = opendir("/dev/shm");

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(path, sizeof(path), "/%s", de->d_name);
			shm_unlink(path);
		}
	closedir(d);
}

static void ns_close(shmq_bus *bus)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "shmq.%s.", shmq_bus_namespace(bus));
	unlink_prefix(prefix);
	shmq_bus_close(bus);
}

/* The group teardown: every namespace of this process, whatever a failed test left. */
static int cleanup_all(void **state)
{
	char prefix[64];

	(void)state;
	snprintf(prefix, sizeof(prefix), "shmq.t%dp", (int)getpid());
	unlink_prefix(prefix);
	return 0;
}

static shmq_psub *open_psub(shmq_bus *bus, const char *pattern, unsigned flags,
			    const struct shmq_topic_config *cfg)
{
	shmq_psub *ps = NULL;

	assert_int_equal(shmq_psub_open(bus, pattern, flags, cfg, &ps), 0);
	assert_non_null(ps);
	return ps;
}

/* The psub's entry for @name in @v (of @n), or NULL. */
static const struct shmq_psub_topic *topic_in(const struct shmq_psub_topic *v, int n,
					      const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* Does the psub list @name with @error (1: any error < 0; 2: not listed at all)? */
static bool psub_has(shmq_psub *ps, const char *name, int error)
{
	struct shmq_psub_topic v[16];
	const struct shmq_psub_topic *t;
	int n = shmq_psub_topics(ps, v, 16);

	assert_true(n >= 0 && n <= 16);
	t = topic_in(v, n, name);
	if (error == 2)
		return !t;
	return t && (error == 1 ? t->error < 0 : t->error == error);
}

/* Wait (up to 5 s, the psub looking all the while) until psub_has() holds. */
static void await_topic(shmq_psub *ps, const char *name, int error)
{
	uint64_t deadline = test_now_ns() + 5000000000ull;

	while (!psub_has(ps, name, error)) {
		if (test_now_ns() > deadline)
			fail_msg("'%s' never showed with error %d", name, error);
		shmq_psub_wait(ps, 0, 2000000);
		usleep(500); /* records may be there: the wait returns at once then */
	}
}

/* Receive one record within 5 s. Return: its length; @topic gets its topic. */
static int recv_within(shmq_psub *ps, uint8_t *buf, size_t len, struct shmq_sub_msg *info,
		       char *topic)
{
	uint64_t deadline = test_now_ns() + 5000000000ull;
	int r;

	while ((r = shmq_psub_recv(ps, buf, len, info, topic, SHMQ_NAME_MAX + 1)) == -EAGAIN) {
		if (test_now_ns() > deadline)
			fail_msg("no record within 5 s");
		r = shmq_psub_wait(ps, 0, 100000000);
		assert_true(r == 0 || r == -ETIMEDOUT);
	}
	return r;
}

/* Nothing more within @ms milliseconds of looking. */
static void expect_nothing(shmq_psub *ps, unsigned ms)
{
	uint8_t buf[MAXM];
	char topic[SHMQ_NAME_MAX + 1];
	uint64_t deadline = test_now_ns() + ms * 1000000ull;
	int r;

	while (test_now_ns() < deadline) {
		r = shmq_psub_recv(ps, buf, sizeof(buf), NULL, topic, sizeof(topic));
		if (r != -EAGAIN)
			fail_msg("unexpected record from '%s': %d", topic, r);
		shmq_psub_wait(ps, 0, 5000000);
	}
}

static void test_psub_args(void **state)
{
	struct shmq_psub_topic t;
	shmq_bus *bus = ns_bus("args");
	shmq_psub *ps = NULL;
	char topic[SHMQ_NAME_MAX];
	uint8_t buf[8];

	(void)state;
	assert_int_equal(shmq_psub_open(bus, "a.*b", 0, NULL, &ps), -EINVAL);
	assert_non_null(strstr(shmq_last_detail(), "a wildcard is a whole token"));
	assert_null(ps);
	assert_int_equal(shmq_psub_open(NULL, "a", 0, NULL, &ps), -EINVAL);
	assert_int_equal(shmq_psub_open(bus, "a", 0, NULL, NULL), -EINVAL);
	assert_int_equal(shmq_psub_open(bus, NULL, 0, NULL, &ps), -EINVAL);
	assert_int_equal(shmq_psub_open(bus, "a", SHMQ_OPEN_CREATE, NULL, &ps), -EINVAL);
	assert_int_equal(shmq_psub_open(bus, "a", SHMQ_SUB_FROM_SEQ, NULL, &ps), -EINVAL);
	assert_int_equal(shmq_psub_open(bus, "a", SHMQ_SUB_EARLIEST | SHMQ_SUB_LATEST, NULL, &ps),
			 -EINVAL);
	assert_null(ps);
	ps = open_psub(bus, "a.#", SHMQ_SUB_EARLIEST, NULL);
	assert_string_equal(shmq_last_detail(), "");
	assert_int_equal(shmq_psub_recv(ps, buf, sizeof(buf), NULL, NULL, 0), -EAGAIN);
	assert_int_equal(shmq_psub_recv(ps, NULL, 1, NULL, NULL, 0), -EINVAL);
	assert_int_equal(shmq_psub_recv(ps, buf, sizeof(buf), NULL, topic, sizeof(topic)),
			 -EINVAL); /* shorter than SHMQ_NAME_MAX + 1 */
	assert_int_equal(shmq_psub_recv(NULL, buf, sizeof(buf), NULL, NULL, 0), -EINVAL);
	assert_int_equal(shmq_psub_wait(NULL, 0, 0), -EINVAL);
	assert_int_equal(shmq_psub_wait(ps, 0, 1000000), -ETIMEDOUT);
	assert_int_equal(shmq_psub_topics(ps, NULL, 0), 0);
	assert_int_equal(shmq_psub_topics(ps, NULL, 1), -EINVAL);
	assert_int_equal(shmq_psub_topics(NULL, &t, 1), -EINVAL);
	assert_int_equal(shmq_psub_add_topic(ps, "b.c"), -EINVAL);
	assert_non_null(strstr(shmq_last_detail(), "does not match the pattern 'a.#'"));
	assert_int_equal(shmq_psub_add_topic(ps, "a..c"), -EINVAL);
	assert_non_null(strstr(shmq_last_detail(), "empty segment"));
	assert_int_equal(shmq_psub_add_topic(NULL, "a"), -EINVAL);
	assert_int_equal(shmq_psub_add_topic(ps, "a.absent"), -ENOENT);
	assert_int_equal(shmq_psub_topics(ps, NULL, 0), 0); /* a failed add leaves nothing */
	shmq_psub_close(ps);
	shmq_psub_close(NULL);
	ns_close(bus);
}

/*
 * Opened before its topic exists: a forked child creates the topic and publishes at once,
 * and the subscriber still gets every record from the first, the matching topic only.
 */
static void test_psub_before_topic(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = ns_bus("before");
	char topic[SHMQ_NAME_MAX + 1];
	struct shmq_sub_msg info;
	uint8_t buf[MAXM];
	shmq_psub *ps;
	pid_t pid;
	uint64_t seq;
	int r;

	(void)state;
	ps = open_psub(bus, "orders.*", 0, NULL);
	assert_int_equal(shmq_psub_topics(ps, NULL, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_pub *pub, *other, *deep;

		if (shmq_pub_open(bus, "orders.eu", SHMQ_OPEN_CREATE, &cfg, &pub) < 0 ||
		    shmq_pub_open(bus, "invoices.eu", SHMQ_OPEN_CREATE, &cfg, &other) < 0 ||
		    shmq_pub_open(bus, "orders.eu.late", SHMQ_OPEN_CREATE, &cfg, &deep) < 0)
			_exit(1);
		for (seq = 1; seq <= 40; seq++) {
			uint8_t b[MAXM];

			fill_pattern(b, len_of(seq), seq);
			if (shmq_pub_send(pub, b, len_of(seq), corr_of(seq)) < 0 ||
			    shmq_pub_send(other, b, len_of(seq), corr_of(seq)) < 0 ||
			    shmq_pub_send(deep, b, len_of(seq), corr_of(seq)) < 0)
				_exit(2);
		}
		shmq_pub_close(pub);
		shmq_pub_close(other);
		shmq_pub_close(deep);
		_exit(0);
	}
	for (seq = 1; seq <= 40; seq++) {
		memset(&info, 0xa5, sizeof(info));
		r = recv_within(ps, buf, sizeof(buf), &info, topic);
		assert_string_equal(topic, "orders.eu");
		check_rec(buf, r, &info, seq);
		assert_int_equal(info.lost, 0);
	}
	assert_int_equal(test_wait(pid), 0);
	expect_nothing(ps, 30); /* not invoices.eu, not orders.eu.late */
	assert_true(psub_has(ps, "orders.eu", 0));
	assert_int_equal(shmq_psub_topics(ps, NULL, 0), 1);
	shmq_psub_close(ps);
	ns_close(bus);
}

#define PRODUCERS 3
#define PER_TOPIC 300u

/* A child: create "m.<k>", publish the first 32 records (retained), wait for a subscriber,
 * then the rest, held back by it as the topic is reliable. */
static int produce_topic(shmq_bus *bus, int k, const struct shmq_topic_config *cfg)
{
	struct shmq_topic_stats st;
	char name[32];
	shmq_pub *pub;
	uint64_t seq, deadline = test_now_ns() + 10000000000ull;
	uint8_t b[MAXM];
	int r;

	snprintf(name, sizeof(name), k < 0 ? "other.%d" : "m.%d", k < 0 ? -k : k);
	if (shmq_pub_open(bus, name, SHMQ_OPEN_CREATE, cfg, &pub) < 0)
		return 1;
	for (seq = 1; seq <= PER_TOPIC; seq++) {
		while (seq == 33 && k >= 0 && shmq_topic_stat(bus, name, &st, NULL, 0) == 0 &&
		       st.subscribers == 0) {
			if (test_now_ns() > deadline)
				return 2;
			usleep(1000);
		}
		fill_pattern(b, len_of(seq), seq);
		while ((r = shmq_pub_send(pub, b, len_of(seq), corr_of(seq))) == -EAGAIN)
			if (shmq_pub_wait(pub, 0, 1000000000ull) == -ETIMEDOUT &&
			    test_now_ns() > deadline)
				return 3;
		if (r < 0 && k >= 0)
			return 4;
		if (k < 0 && seq == 32) /* the non-matching topic: nobody reads it */
			break;
	}
	shmq_pub_close(pub);
	return 0;
}

/* Topics made by forked producers while the subscriber waits: each in its order, all of it. */
static void test_psub_many_topics(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = ns_bus("many");
	uint64_t next[PRODUCERS] = { 0 }, got = 0;
	char topic[SHMQ_NAME_MAX + 1];
	struct shmq_psub_topic v[8];
	pid_t pids[PRODUCERS + 1];
	struct shmq_sub_msg info;
	uint8_t buf[MAXM];
	shmq_psub *ps;
	int i, k, r;

	(void)state;
	ps = open_psub(bus, "m.*", 0, NULL);
	for (i = 0; i <= PRODUCERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(produce_topic(bus, i < PRODUCERS ? i : -1, &cfg));
	}
	while (got < PRODUCERS * PER_TOPIC) {
		r = recv_within(ps, buf, sizeof(buf), &info, topic);
		if (sscanf(topic, "m.%d", &k) != 1 || k < 0 || k >= PRODUCERS)
			fail_msg("a record from '%s'", topic);
		check_rec(buf, r, &info, ++next[k]); /* each topic's records in order, none lost */
		assert_int_equal(info.lost, 0);
		got++;
	}
	for (i = 0; i <= PRODUCERS; i++)
		assert_int_equal(test_wait(pids[i]), 0);
	expect_nothing(ps, 30);
	assert_int_equal(shmq_psub_topics(ps, v, 8), PRODUCERS);
	for (i = 0; i < PRODUCERS; i++) {
		char want[8];

		snprintf(want, sizeof(want), "m.%d", i);
		assert_string_equal(v[i].name, want); /* sorted by name */
		assert_int_equal(v[i].error, 0);
		assert_int_equal(v[i].received, PER_TOPIC);
	}
	shmq_psub_close(ps);
	ns_close(bus);
}

/* Topics that exist at open: EARLIEST replays them, taking turns; LATEST skips what is there. */
static void test_psub_turns_and_start(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = ns_bus("turns");
	char topic[SHMQ_NAME_MAX + 1], prev[SHMQ_NAME_MAX + 1] = "";
	struct shmq_sub_msg info;
	shmq_pub *a, *b, *c;
	uint8_t buf[MAXM];
	shmq_psub *ps, *late;
	uint64_t seq;
	int i, r;

	(void)state;
	a = open_pub(bus, "t.a", &cfg);
	b = open_pub(bus, "t.b", &cfg);
	for (seq = 1; seq <= 10; seq++) {
		send_seq(a, seq);
		send_seq(b, seq);
	}
	ps = open_psub(bus, "t.#", SHMQ_SUB_EARLIEST, NULL);
	late = open_psub(bus, "t.#", SHMQ_SUB_LATEST, NULL);
	assert_int_equal(shmq_psub_topics(ps, NULL, 0), 2);
	for (i = 0; i < 20; i++) {
		r = shmq_psub_recv(ps, buf, sizeof(buf), &info, topic, sizeof(topic));
		check_rec(buf, r, &info, (uint64_t)i / 2 + 1);
		assert_string_not_equal(topic, prev); /* the two topics take turns */
		memcpy(prev, topic, sizeof(prev));
	}
	assert_int_equal(shmq_psub_recv(ps, buf, sizeof(buf), NULL, NULL, 0), -EAGAIN);
	/* LATEST: the old records are skipped, new ones come, and a new topic from its start */
	send_seq(a, 11);
	c = open_pub(bus, "t.c", &cfg);
	send_seq(c, 1);
	r = recv_within(late, buf, sizeof(buf), &info, topic);
	check_rec(buf, r, &info, 11);
	assert_string_equal(topic, "t.a");
	r = recv_within(late, buf, sizeof(buf), &info, topic);
	check_rec(buf, r, &info, 1);
	assert_string_equal(topic, "t.c");
	/* the first subscriber gets the same two, in either order */
	for (i = 0; i < 2; i++) {
		r = recv_within(ps, buf, sizeof(buf), &info, topic);
		check_rec(buf, r, &info, strcmp(topic, "t.a") == 0 ? 11 : 1);
		assert_true(strcmp(topic, "t.a") == 0 || strcmp(topic, "t.c") == 0);
		assert_string_not_equal(topic, prev);
		memcpy(prev, topic, sizeof(prev));
	}
	/* a record too long stays next, with its topic */
	send_seq(b, 11); /* len_of(11): 5 bytes */
	r = recv_within(ps, buf, 2, &info, topic);
	assert_int_equal(r, -EMSGSIZE);
	assert_int_equal(info.len, len_of(11));
	assert_string_equal(topic, "t.b");
	r = shmq_psub_recv(ps, buf, sizeof(buf), &info, topic, sizeof(topic));
	check_rec(buf, r, &info, 11);
	assert_string_equal(topic, "t.b");
	shmq_psub_close(ps);
	shmq_psub_close(late);
	shmq_pub_close(a);
	shmq_pub_close(b);
	shmq_pub_close(c);
	ns_close(bus);
}

/* A removed topic is read out, then closed; one made again under its name is a new topic. */
static void test_psub_removed(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = ns_bus("removed");
	char topic[SHMQ_NAME_MAX + 1];
	struct shmq_topic_stats st;
	struct shmq_sub_msg info;
	uint8_t buf[MAXM];
	shmq_psub *ps;
	shmq_pub *pub;
	uint64_t seq;
	int r;

	(void)state;
	ps = open_psub(bus, "r.*", 0, NULL);
	pub = open_pub(bus, "r.a", &cfg);
	await_topic(ps, "r.a", 0);
	for (seq = 1; seq <= 3; seq++)
		send_seq(pub, seq);
	assert_int_equal(shmq_unlink(bus, "r.a"), 0);
	shmq_pub_close(pub);
	for (seq = 1; seq <= 3; seq++) {
		r = recv_within(ps, buf, sizeof(buf), &info, topic);
		check_rec(buf, r, &info, seq);
		assert_string_equal(topic, "r.a");
	}
	await_topic(ps, "r.a", 2); /* not listed any more */
	expect_nothing(ps, 20);
	/* made again: a new topic, from its first record */
	pub = open_pub(bus, "r.a", &cfg);
	send_seq(pub, 1);
	r = recv_within(ps, buf, sizeof(buf), &info, topic);
	check_rec(buf, r, &info, 1);
	assert_string_equal(topic, "r.a");
	/* the old topic's subscriber is closed: the new one has exactly one */
	assert_int_equal(shmq_topic_stat(bus, "r.a", &st, NULL, 0), 1);
	shmq_pub_close(pub);
	shmq_psub_close(ps);
	ns_close(bus);
}

/* Channels, groups and topics of another configuration are not attached; add_topic(). */
static void test_psub_not_topics(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	struct shmq_topic_config other = cfg_of(128, SHMQ_TOPIC_RELIABLE);
	struct shmq_channel_config ccfg = { .capacity = 4096 };
	shmq_bus *bus = ns_bus("kinds");
	char topic[SHMQ_NAME_MAX + 1];
	struct shmq_sub_msg info;
	shmq_channel *ch;
	shmq_group *g;
	uint8_t buf[MAXM];
	shmq_psub *ps;
	shmq_pub *pub, *odd;
	int r;

	(void)state;
	assert_int_equal(
		shmq_channel_open(bus, "k.chan", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &ccfg, &ch),
		0);
	pub = open_pub(bus, "k.t", &cfg);
	assert_int_equal(shmq_group_open(bus, "k.t", "workers", SHMQ_OPEN_CREATE, NULL, &g), 0);
	odd = open_pub(bus, "k.odd", &other);
	ps = open_psub(bus, "k.#", SHMQ_SUB_EARLIEST, &cfg);
	assert_true(psub_has(ps, "k.t", 0));
	assert_true(psub_has(ps, "k.odd", -EBADE));
	assert_true(psub_has(ps, "k.chan", 2));
	assert_int_equal(shmq_psub_topics(ps, NULL, 0), 2);
	/* a channel made later is not listed either */
	shmq_channel_close(ch);
	assert_int_equal(shmq_channel_open(bus, "k.chan2", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER,
					   &ccfg, &ch),
			 0);
	send_seq(odd, 1);
	expect_nothing(ps, 30);
	assert_int_equal(shmq_psub_topics(ps, NULL, 0), 2);
	/* add_topic(): idempotent; a topic of another configuration stays out */
	assert_int_equal(shmq_psub_add_topic(ps, "k.t"), 0);
	assert_int_equal(shmq_psub_add_topic(ps, "k.odd"), -EBADE);
	assert_non_null(strstr(shmq_last_detail(), "slots"));
	assert_int_equal(shmq_psub_add_topic(ps, "k.chan"), -EPROTOTYPE);
	send_seq(pub, 1);
	r = recv_within(ps, buf, sizeof(buf), &info, topic);
	check_rec(buf, r, &info, 1);
	assert_string_equal(topic, "k.t");
	shmq_group_close(g);
	shmq_channel_close(ch);
	shmq_pub_close(pub);
	shmq_pub_close(odd);
	shmq_psub_close(ps);
	ns_close(bus);
}

/* add_topic() attaches at once, before discovery would, and from the topic's start. */
static void test_psub_add_topic(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = ns_bus("add");
	char topic[SHMQ_NAME_MAX + 1];
	struct shmq_sub_msg info;
	uint8_t buf[MAXM];
	shmq_psub *ps;
	shmq_pub *pub;
	int r;

	(void)state;
	ps = open_psub(bus, "add.>", 0, NULL);
	pub = open_pub(bus, "add.x.y", &cfg);
	send_seq(pub, 1);
	assert_int_equal(shmq_psub_add_topic(ps, "add.x.y"), 1); /* no look in between */
	assert_int_equal(shmq_psub_add_topic(ps, "add.x.y"), 0);
	assert_true(psub_has(ps, "add.x.y", 0));
	r = shmq_psub_recv(ps, buf, sizeof(buf), &info, topic, sizeof(topic));
	check_rec(buf, r, &info, 1);
	assert_string_equal(topic, "add.x.y");
	/* discovery's event for it finds it attached: one subscriber, no record twice */
	expect_nothing(ps, 30);
	assert_int_equal(topic_stats(bus, "add.x.y").subscribers, 1);
	assert_int_equal(shmq_psub_add_topic(ps, "add"), -EINVAL); /* '>' wants one more */
	shmq_pub_close(pub);
	shmq_psub_close(ps);
	ns_close(bus);
}

/* The bytes of a topic with @n records, made in a namespace of its own. */
static uint8_t *topic_image(uint64_t n, size_t *ret_size)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *src = ns_bus("src");
	uint8_t *map, *copy;
	shmq_pub *pub = open_pub(src, "img", &cfg);
	uint64_t seq;

	for (seq = 1; seq <= n; seq++)
		send_seq(pub, seq);
	shmq_pub_close(pub);
	map = test_map(src, "img", ret_size);
	copy = malloc(*ret_size);
	assert_non_null(copy);
	memcpy(copy, map, *ret_size);
	munmap(map, *ret_size);
	ns_close(src);
	return copy;
}

/*
 * A file seen before it is a topic: empty (too small for a header), then sized with its
 * header not published, then published. No inotify event comes for the last two steps
 * (writes to a mapping make none): the retries must find the topic, from its first record.
 */
static void test_psub_retries_unpublished(void **state)
{
	shmq_bus *bus = ns_bus("retry");
	struct shmqi_seg_hdr *hdr;
	char topic[SHMQ_NAME_MAX + 1], path[300];
	struct shmq_sub_msg info;
	uint8_t buf[MAXM], *image, *p;
	size_t size;
	shmq_psub *ps;
	uint64_t seq;
	int fd, r;

	(void)state;
	image = topic_image(5, &size);
	ps = open_psub(bus, "slow.*", 0, NULL);
	test_path(bus, "slow.t", path, sizeof(path));
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	await_topic(ps, "slow.t", -EPROTO); /* too small for a header */
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	hdr = (struct shmqi_seg_hdr *)(void *)p;
	memcpy(p + sizeof(*hdr), image + sizeof(*hdr), size - sizeof(*hdr));
	memcpy(p, image, offsetof(struct shmqi_seg_hdr, layout)); /* the magic */
	memcpy(p + offsetof(struct shmqi_seg_hdr, kind),
	       image + offsetof(struct shmqi_seg_hdr, kind),
	       sizeof(*hdr) - offsetof(struct shmqi_seg_hdr, kind));
	await_topic(ps, "slow.t", -EINPROGRESS); /* a header not published yet */
	atomic_store_explicit(&hdr->layout, SHMQI_HDR_LAYOUT, memory_order_release);
	for (seq = 1; seq <= 5; seq++) {
		r = recv_within(ps, buf, sizeof(buf), &info, topic);
		check_rec(buf, r, &info, seq);
		assert_string_equal(topic, "slow.t");
	}
	assert_true(psub_has(ps, "slow.t", 0));
	munmap(p, size);
	free(image);
	shmq_psub_close(ps);
	ns_close(bus);
}

/* CPU time this thread has used. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A waiter parked on a topic wakes for its record, and with no topic, for a new one. */
static void test_psub_wait_wakes(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = ns_bus("wake");
	char topic[SHMQ_NAME_MAX + 1];
	struct shmq_sub_msg info;
	uint8_t buf[MAXM];
	shmq_psub *ps;
	uint64_t t0, cpu;
	pid_t pid;
	int r;

	(void)state;
	ps = open_psub(bus, "w.*", 0, NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_pub *pub;

		usleep(50000);
		if (shmq_pub_open(bus, "w.1", SHMQ_OPEN_CREATE, &cfg, &pub) < 0)
			_exit(1);
		send_seq(pub, 1);
		usleep(50000);
		send_seq(pub, 2);
		shmq_pub_close(pub);
		_exit(0);
	}
	t0 = test_now_ns();
	do /* no topic yet: parked on the inotify descriptor */
		r = shmq_psub_wait(ps, 0, 5000000000ull);
	while (r == 0 && shmq_psub_topics(ps, NULL, 0) == 0);
	assert_int_equal(r, 0);
	assert_true(test_now_ns() - t0 < 4000000000ull);
	r = recv_within(ps, buf, sizeof(buf), &info, topic);
	check_rec(buf, r, &info, 1);
	/* parked on the topic: the second record wakes it well before the timeout */
	t0 = test_now_ns();
	assert_int_equal(shmq_psub_wait(ps, 0, 5000000000ull), 0);
	assert_true(test_now_ns() - t0 < 4000000000ull);
	r = shmq_psub_recv(ps, buf, sizeof(buf), &info, topic, sizeof(topic));
	check_rec(buf, r, &info, 2);
	assert_int_equal(test_wait(pid), 0);
	/* its producer closed: that ends no wait, which times out, parked rather than spinning */
	cpu = cpu_ns();
	assert_int_equal(shmq_psub_wait(ps, 0, 200000000), -ETIMEDOUT);
	assert_true(cpu_ns() - cpu < 100000000);
	shmq_psub_close(ps);
	ns_close(bus);
}

/* Above 128 topics the waiter parks on them in turns: a record in any of them still wakes it. */
static void test_psub_wait_turns(void **state)
{
	struct shmq_topic_config cfg = {
		.slots = 2, .max_msg = 16, .max_subscribers = 2, .max_producers = 1
	};
	shmq_bus *bus = ns_bus("turns130");
	char name[32], topic[SHMQ_NAME_MAX + 1];
	struct shmq_sub_msg info;
	shmq_pub *pubs[130];
	uint8_t buf[16];
	shmq_psub *ps;
	uint64_t t0;
	int i, r;

	(void)state;
	for (i = 0; i < 130; i++) {
		snprintf(name, sizeof(name), "big.%03d", i);
		assert_int_equal(shmq_pub_open(bus, name, SHMQ_OPEN_CREATE, &cfg, &pubs[i]), 0);
	}
	ps = open_psub(bus, "big.*", 0, NULL);
	assert_int_equal(shmq_psub_topics(ps, NULL, 0), 130);
	assert_int_equal(shmq_psub_wait(ps, 0, 3000000), -ETIMEDOUT);
	for (i = 129; i >= 0; i -= 43) { /* 129, 86, 43, 0: in every turn */
		assert_int_equal(shmq_pub_send(pubs[i], "x", 1, (uint64_t)i), 0);
		t0 = test_now_ns();
		assert_int_equal(shmq_psub_wait(ps, 0, 5000000000ull), 0);
		assert_true(test_now_ns() - t0 < 4000000000ull);
		r = shmq_psub_recv(ps, buf, sizeof(buf), &info, topic, sizeof(topic));
		assert_int_equal(r, 1);
		snprintf(name, sizeof(name), "big.%03d", i);
		assert_string_equal(topic, name);
		assert_int_equal(info.corr_id, (uint64_t)i);
	}
	for (i = 0; i < 130; i++)
		shmq_pub_close(pubs[i]);
	shmq_psub_close(ps);
	ns_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_check_detail),
		cmocka_unit_test(test_match_no_backtracking),
		cmocka_unit_test(test_psub_args),
		cmocka_unit_test(test_psub_before_topic),
		cmocka_unit_test(test_psub_many_topics),
		cmocka_unit_test(test_psub_turns_and_start),
		cmocka_unit_test(test_psub_removed),
		cmocka_unit_test(test_psub_not_topics),
		cmocka_unit_test(test_psub_add_topic),
		cmocka_unit_test(test_psub_retries_unpublished),
		cmocka_unit_test(test_psub_wait_wakes),
		cmocka_unit_test(test_psub_wait_turns),
	};

	return cmocka_run_group_tests_name("pattern", tests, NULL, cleanup_all);
}
