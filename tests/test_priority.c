// SPDX-License-Identifier: MIT
/* test_priority.c - priority topics: levels, order within a level, the strict and weighted rules. */
#include <sys/wait.h>

#include "common.h"

static void send_at(shmq_prio_pub *p, unsigned level, unsigned i)
{
	char b[16];

	snprintf(b, sizeof(b), "%u:%u", level, i);
	assert_int_equal(shmq_prio_send(p, level, b, strlen(b), i), 0);
}

static void test_open(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_stats st;
	shmq_prio_pub *p, *q;
	shmq_prio_group *g;
	shmq_prio_sub *s;

	(void)state;
	assert_int_equal(shmq_prio_pub_open(bus, "pq", 1, SHMQ_OPEN_CREATE, NULL, &p), -EINVAL);
	assert_int_equal(shmq_prio_pub_open(bus, "pq", 9, SHMQ_OPEN_CREATE, NULL, &p), -EINVAL);
	assert_int_equal(shmq_prio_pub_open(bus, "pq", 0, SHMQ_OPEN_CREATE, NULL, &p), -EINVAL);
	assert_int_equal(shmq_prio_pub_open(bus, "pq", 0, 0, NULL, &p), -ENOENT);
	assert_int_equal(shmq_prio_sub_open(bus, "pq", 0, 0, &s), -ENOENT);
	assert_int_equal(shmq_prio_group_open(bus, "pq", "g", SHMQ_OPEN_CREATE, NULL, &g), -ENOENT);
	assert_int_equal(shmq_prio_pub_open(bus, "pq", 3, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_prio_levels(p), 3);
	/* each level is a topic of its own, as the tools see it */
	assert_true(shmq_topic_stat(bus, "pq.p0", &st, NULL, 0) >= 0);
	assert_true(shmq_topic_stat(bus, "pq.p2", &st, NULL, 0) >= 0);
	assert_int_equal(shmq_topic_stat(bus, "pq.p3", &st, NULL, 0), -ENOENT);
	assert_int_equal(shmq_prio_pub_open(bus, "pq", 4, SHMQ_OPEN_CREATE, NULL, &q), -EINVAL);
	assert_int_equal(shmq_prio_pub_open(bus, "pq", 0, 0, NULL, &q), 0); /* the existing 3 */
	assert_int_equal(shmq_prio_levels(q), 3);
	assert_int_equal(shmq_prio_send(q, 3, "x", 1, 0), -EINVAL);
	assert_null(shmq_prio_pub_level(q, 3));
	assert_non_null(shmq_prio_pub_level(q, 2));
	shmq_prio_pub_close(q);
	shmq_prio_pub_close(p);
	shmq_bus_close(bus);
}

/* Strict: the highest level first, every level in its own order. */
static void test_strict_group(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_group_msg gm;
	unsigned level, want_level = 2, want_i = 0, i;
	shmq_prio_group *g;
	shmq_prio_pub *p;
	char buf[32], want[16];
	int n;

	(void)state;
	assert_int_equal(shmq_prio_pub_open(bus, "ps", 3, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_prio_group_open(bus, "ps", "w", SHMQ_OPEN_CREATE, NULL, &g), 0);
	for (i = 0; i < 10; i++) { /* interleaved sends: levels 0, 1, 2, 0, 1, 2, ... */
		send_at(p, 0, i);
		send_at(p, 1, i);
		send_at(p, 2, i);
	}
	assert_int_equal(shmq_prio_group_wait(g, 0, 0), 0);
	for (i = 0; i < 30; i++) {
		n = shmq_prio_group_recv(g, buf, sizeof(buf) - 1, &gm, &level);
		assert_true(n > 0);
		buf[n] = '\0';
		snprintf(want, sizeof(want), "%u:%u", want_level, want_i);
		assert_string_equal(buf, want);
		assert_int_equal(level, want_level);
		assert_int_equal(shmq_group_ack(shmq_prio_group_level(g, level), gm.lease), 0);
		if (++want_i == 10) {
			want_i = 0;
			want_level--;
		}
	}
	assert_int_equal(shmq_prio_group_recv(g, buf, sizeof(buf), &gm, &level), -EAGAIN);
	assert_int_equal(shmq_prio_group_wait(g, 0, 0), -ETIMEDOUT);
	/* the starvation rule: with the high level never empty, the low one gets nothing */
	send_at(p, 0, 99);
	for (i = 0; i < 100; i++) {
		send_at(p, 2, i);
		assert_int_equal(shmq_prio_group_recv(g, buf, sizeof(buf), &gm, &level),
				 3 + (i > 9));
		assert_int_equal(level, 2);
		assert_int_equal(shmq_group_ack(shmq_prio_group_level(g, 2), gm.lease), 0);
	}
	assert_true(shmq_prio_group_recv(g, buf, sizeof(buf), &gm, &level) > 0);
	assert_int_equal(level, 0); /* its turn once the high level is empty */
	assert_int_equal(shmq_group_ack(shmq_prio_group_level(g, 0), gm.lease), 0);
	shmq_prio_group_close(g);
	shmq_prio_pub_close(p);
	shmq_bus_close(bus);
}

/* Weighted: with both levels always busy, the high one gets 2 of every 3, the low one 1. */
static void test_weighted(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_group_msg gm;
	struct shmq_sub_msg sm;
	unsigned level, got[2] = { 0 }, next[2] = { 0 }, i, k;
	shmq_prio_group *g;
	shmq_prio_sub *s;
	shmq_prio_pub *p;
	char buf[32];
	int n;

	(void)state;
	assert_int_equal(shmq_prio_pub_open(bus, "pw", 2, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_prio_group_open(bus, "pw", "w", SHMQ_OPEN_CREATE | SHMQ_PRIO_WEIGHTED,
					      NULL, &g),
			 0);
	assert_int_equal(shmq_prio_sub_open(bus, "pw", SHMQ_PRIO_WEIGHTED, 0, &s), 0);
	for (i = 0; i < 10; i++) { /* a backlog on both levels, topped up as it goes */
		send_at(p, 0, next[0]++);
		send_at(p, 1, next[1]++);
	}
	for (i = 0; i < 300; i++) {
		n = shmq_prio_group_recv(g, buf, sizeof(buf), &gm, &level);
		assert_true(n > 0 && level < 2);
		got[level]++;
		assert_int_equal(shmq_group_ack(shmq_prio_group_level(g, level), gm.lease), 0);
		send_at(p, level, next[level]++);
	}
	printf("# weighted, both busy: high %u, low %u of 300\n", got[1], got[0]);
	assert_int_equal(got[1], 200);
	assert_int_equal(got[0], 100);

	/* a subscriber: every level in its own order, both levels served by weight */
	memset(got, 0, sizeof(got));
	for (i = 0; i < 300; i++) {
		n = shmq_prio_sub_recv(s, buf, sizeof(buf) - 1, &sm, &level);
		assert_true(n > 0 && level < 2);
		buf[n] = '\0';
		k = (unsigned)strtoul(strchr(buf, ':') + 1, NULL, 10);
		assert_int_equal(k, got[level]); /* in order within its level */
		got[level]++;
	}
	assert_true(got[0] > 0 && got[1] > got[0]);
	assert_non_null(shmq_prio_sub_level(s, 1));
	assert_null(shmq_prio_sub_level(s, 2));
	shmq_prio_sub_close(s);
	shmq_prio_group_close(g);
	shmq_prio_pub_close(p);
	shmq_bus_close(bus);
}

/* A parked member wakes for a record at any level. */
static void test_parked_member(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_group_msg gm;
	shmq_prio_group *g;
	shmq_prio_pub *p;
	unsigned level;
	char buf[32];
	pid_t pid;

	(void)state;
	assert_int_equal(shmq_prio_pub_open(bus, "pt", 4, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_prio_group_open(bus, "pt", "w", SHMQ_OPEN_CREATE, NULL, &g), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_prio_pub *mine;

		usleep(50000);
		_exit(shmq_prio_pub_open(bus, "pt", 0, 0, NULL, &mine) == 0 &&
				      shmq_prio_send(mine, 1, "wake", 4, 0) == 0
			      ? 0
			      : 1);
	}
	assert_int_equal(shmq_prio_group_wait(g, 0, 10000000000ull), 0);
	assert_int_equal(shmq_prio_group_recv(g, buf, sizeof(buf), &gm, &level), 4);
	assert_int_equal(level, 1);
	assert_int_equal(test_wait(pid), 0);
	shmq_prio_group_close(g);
	shmq_prio_pub_close(p);
	shmq_bus_close(bus);
}

/*
 * The producers gone: a member's wait ends with -EPIPE once no level owes it anything, and a
 * level with nothing more (closed) does not end a wait at once while another level's record
 * is leased to someone else.
 */
static void test_closed_wait(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_group_msg gm;
	shmq_prio_group *a, *b;
	shmq_prio_pub *p;
	unsigned level;
	uint64_t t0;
	char buf[8];

	(void)state;
	assert_int_equal(shmq_prio_pub_open(bus, "pc", 2, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_prio_group_open(bus, "pc", "w", SHMQ_OPEN_CREATE, NULL, &a), 0);
	assert_int_equal(shmq_prio_group_open(bus, "pc", "w", SHMQ_OPEN_CREATE, NULL, &b), 0);
	assert_int_equal(shmq_prio_send(p, 1, "x", 1, 0), 0);
	shmq_prio_pub_close(p);
	assert_int_equal(shmq_prio_group_recv(a, buf, sizeof(buf), &gm, &level), 1);
	assert_int_equal(level, 1);
	/* level 0 is closed and owes nothing, level 1's record is a's: b waits it out */
	t0 = shmq_now_ns();
	assert_int_equal(shmq_prio_group_wait(b, 0, 50000000), -ETIMEDOUT);
	assert_true(shmq_now_ns() - t0 >= 40000000u);
	assert_int_equal(shmq_group_ack(shmq_prio_group_level(a, level), gm.lease), 0);
	assert_int_equal(shmq_prio_group_wait(b, 0, 1000000000), -EPIPE);
	shmq_prio_group_close(b);
	shmq_prio_group_close(a);
	shmq_bus_close(bus);
}

/* A closed level that gets a producer again wakes a waiter (within the 10 ms re-look). */
static void test_reopened_level(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_group_msg gm;
	shmq_prio_group *g;
	shmq_prio_pub *p;
	shmq_pub *high;
	unsigned level;
	uint64_t t0;
	char buf[8];
	pid_t pid;

	(void)state;
	assert_int_equal(shmq_prio_pub_open(bus, "pr", 2, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_pub_open(bus, "pr.p1", 0, NULL, &high), 0); /* level 1 stays open */
	assert_int_equal(shmq_prio_group_open(bus, "pr", "w", SHMQ_OPEN_CREATE, NULL, &g), 0);
	shmq_prio_pub_close(p); /* level 0 closed, with nothing owed */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_prio_pub *mine;

		usleep(50000);
		_exit(shmq_prio_pub_open(bus, "pr", 0, 0, NULL, &mine) == 0 &&
				      shmq_prio_send(mine, 0, "low", 3, 0) == 0
			      ? 0
			      : 1);
	}
	t0 = shmq_now_ns();
	assert_int_equal(shmq_prio_group_wait(g, 0, 5000000000ull), 0);
	assert_true(shmq_now_ns() - t0 < 2000000000u);
	assert_int_equal(shmq_prio_group_recv(g, buf, sizeof(buf), &gm, &level), 3);
	assert_int_equal(level, 0);
	assert_int_equal(test_wait(pid), 0);
	shmq_prio_group_close(g);
	shmq_pub_close(high);
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),	    cmocka_unit_test(test_strict_group),
		cmocka_unit_test(test_weighted),    cmocka_unit_test(test_parked_member),
		cmocka_unit_test(test_closed_wait), cmocka_unit_test(test_reopened_level),
	};

	return cmocka_run_group_tests(tests, NULL, test_cleanup);
}
