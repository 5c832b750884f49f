// SPDX-License-Identifier: MIT
/* test_partition.c - keyed partitions: routing, sticky assignment, per-key order under SIGKILL. */
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "common.h"

static pid_t top; /* the test process: its namespace is every child's */

static void test_routing(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_group_msg gm;
	struct shmq_part_info pi[8];
	shmq_part_group *g;
	shmq_part_pub *p;
	unsigned part, owned[8], i;
	char buf[32];
	int n, seen = 0;

	(void)state;
	/* FNV-1a, as published: "a" is 0xe40c292c */
	assert_int_equal(shmq_part_of("a", 1, 0xffffffffu), 0xe40c292cu % 0xffffffffu);
	assert_int_equal(shmq_part_of("a", 1, 8), 0xe40c292cu % 8);
	assert_int_equal(shmq_part_pub_open(bus, "pk", 0, 0, NULL, &p), -ENOENT);
	assert_int_equal(shmq_part_pub_open(bus, "pk", 0, SHMQ_OPEN_CREATE, NULL, &p), -EINVAL);
	assert_int_equal(shmq_part_pub_open(bus, "pk", 257, SHMQ_OPEN_CREATE, NULL, &p), -EINVAL);
	assert_int_equal(shmq_part_pub_open(bus, "pk", 8, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_part_count(p), 8);
	assert_int_equal(shmq_part_group_open(bus, "pk", "g", SHMQ_SUB_EARLIEST, NULL, &g), 0);
	assert_int_equal(shmq_part_group_owned(g, owned, 8), 8); /* alone: all of them */
	for (i = 0; i < 40; i++) {
		char key[8];

		snprintf(key, sizeof(key), "k%u", i % 5);
		snprintf(buf, sizeof(buf), "%s/%u", key, i);
		assert_int_equal(shmq_part_send(p, key, strlen(key), buf, strlen(buf), i), 0);
	}
	assert_int_equal(shmq_part_send_to(p, 8, "x", 1, 0), -EINVAL);
	while ((n = shmq_part_group_recv(g, buf, sizeof(buf) - 1, &gm, &part)) > 0) {
		char key[8];

		buf[n] = '\0';
		snprintf(key, sizeof(key), "%.*s", (int)(strchr(buf, '/') - buf), buf);
		assert_int_equal(part, shmq_part_of(key, strlen(key), 8)); /* its key's partition */
		assert_int_equal(shmq_group_ack(shmq_part_group_partition(g, part), gm.lease), 0);
		seen++;
	}
	assert_int_equal(n, -EAGAIN);
	assert_int_equal(seen, 40);
	assert_int_equal(shmq_part_stat(bus, "pk", "g", pi, 8), 8);
	for (i = 0; i < 8; i++) {
		assert_int_equal(pi[i].owner, getpid());
		assert_int_equal(pi[i].lag, 0);
	}
	shmq_part_group_close(g);
	assert_int_equal(shmq_part_stat(bus, "pk", "g", pi, 8), 8);
	assert_int_equal(pi[0].owner, 0);
	shmq_part_pub_close(p);
	shmq_bus_close(bus);
}

/* Once the producers are gone and everything is acked, a wait says -EPIPE, and at once. */
static void test_closed_wait(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_group_msg gm;
	shmq_part_group *g;
	shmq_part_pub *p;
	unsigned part;
	uint64_t t0;
	char buf[8];

	(void)state;
	assert_int_equal(shmq_part_pub_open(bus, "pw", 2, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_part_group_open(bus, "pw", "g", 0, NULL, &g), 0);
	assert_int_equal(shmq_part_group_wait(g, 0, 2000000), -ETIMEDOUT); /* nothing yet */
	assert_int_equal(shmq_part_send_to(p, 1, "x", 1, 0), 0);
	shmq_part_pub_close(p);
	assert_int_equal(shmq_part_group_wait(g, 0, 1000000000), 0); /* the record first */
	assert_int_equal(shmq_part_group_recv(g, buf, sizeof(buf), &gm, &part), 1);
	assert_int_equal(part, 1);
	assert_int_equal(shmq_group_ack(shmq_part_group_partition(g, part), gm.lease), 0);
	t0 = shmq_now_ns();
	assert_int_equal(shmq_part_group_wait(g, 0, 1000000000), -EPIPE);
	assert_true(shmq_now_ns() - t0 < 500000000u);
	shmq_part_group_close(g);
	shmq_bus_close(bus);
}

/* Receive (and ack) on every member for a while, so that each looks at the assignment. */
static void churn(shmq_part_group **ms, unsigned n, unsigned rounds)
{
	struct shmq_group_msg gm;
	unsigned part, i, r;
	char buf[64];

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < n; i++)
			if (ms[i] && shmq_part_group_recv(ms[i], buf, sizeof(buf), &gm, &part) >= 0)
				shmq_group_ack(shmq_part_group_partition(ms[i], part), gm.lease);
		usleep(1000);
	}
}

/* The spread: within one partition of even, sticky when a member joins or leaves. */
static void test_spread(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_part_group *ms[3] = { 0 };
	unsigned own[12];
	shmq_part_pub *p;

	(void)state;
	assert_int_equal(shmq_part_pub_open(bus, "sp", 12, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_part_group_open(bus, "sp", "g", 0, NULL, &ms[0]), 0);
	assert_int_equal(shmq_part_group_owned(ms[0], own, 12), 12);
	assert_int_equal(shmq_part_group_open(bus, "sp", "g", 0, NULL, &ms[1]), 0);
	churn(ms, 2, 200);
	assert_int_equal(shmq_part_group_owned(ms[0], own, 12), 6);
	assert_int_equal(shmq_part_group_owned(ms[1], own, 12), 6);
	assert_int_equal(shmq_part_group_open(bus, "sp", "g", 0, NULL, &ms[2]), 0);
	churn(ms, 3, 200);
	assert_int_equal(shmq_part_group_owned(ms[0], own, 12), 4);
	assert_int_equal(shmq_part_group_owned(ms[1], own, 12), 4);
	assert_int_equal(shmq_part_group_owned(ms[2], own, 12), 4);
	shmq_part_group_close(ms[1]); /* its 4 go to the other two */
	ms[1] = NULL;
	churn(ms, 3, 100);
	assert_int_equal(shmq_part_group_owned(ms[0], own, 12), 6);
	assert_int_equal(shmq_part_group_owned(ms[2], own, 12), 6);
	shmq_part_group_close(ms[0]);
	shmq_part_group_close(ms[2]);
	shmq_part_pub_close(p);

	/* 4 partitions over 3 members: 2, 1, 1, and it stays so (no partition going back and
	 * forth between the two that have their share while the third starves) */
	assert_int_equal(shmq_part_pub_open(bus, "sp4", 4, SHMQ_OPEN_CREATE, NULL, &p), 0);
	assert_int_equal(shmq_part_group_open(bus, "sp4", "g", 0, NULL, &ms[0]), 0);
	assert_int_equal(shmq_part_group_open(bus, "sp4", "g", 0, NULL, &ms[1]), 0);
	churn(ms, 2, 100);
	assert_int_equal(shmq_part_group_open(bus, "sp4", "g", 0, NULL, &ms[2]), 0);
	churn(ms, 3, 200);
	{
		struct shmq_part_info pi[4];
		unsigned a = (unsigned)shmq_part_group_owned(ms[0], own, 12),
			 b = (unsigned)shmq_part_group_owned(ms[1], own, 12),
			 c = (unsigned)shmq_part_group_owned(ms[2], own, 12), moves = 0, z;

		assert_int_equal(a + b + c, 4);
		assert_true(a >= 1 && b >= 1 && c >= 1);
		assert_int_equal(shmq_part_stat(bus, "sp4", "g", pi, 4), 4);
		for (z = 0; z < 4; z++)
			moves += (unsigned)pi[z].moves;
		assert_true(moves <= 8); /* 4 first takes, a few moves, no flapping */
	}
	for (int q = 0; q < 3; q++)
		shmq_part_group_close(ms[q]);
	shmq_part_pub_close(p);
	shmq_bus_close(bus);
}

/* ---- per-key order across joins, leaves and SIGKILLs ---- */

#define KEYS 32u
#define PARTS 8u

struct board {
	_Atomic uint64_t last[KEYS]; /* the highest sequence of each key processed so far */
	_Atomic uint64_t skips; /* a record that came before the one before it: order broken */
	_Atomic uint64_t dups;
	_Atomic uint64_t processed;
};

static void member_run(struct board *b, unsigned seed)
{
	shmq_bus *bus = test_bus_of(top);
	struct shmq_group_config cfg = { .max_in_flight = 1, .ack_wait_ns = 60000000000ull };
	struct shmq_group_msg gm;
	shmq_part_group *m;
	unsigned part, key;
	uint64_t seq, last;
	char buf[64];
	int n;

	alarm(120);
	n = shmq_part_group_open(bus, "ko", "g", SHMQ_SUB_EARLIEST, &cfg, &m);
	if (n < 0) {
		fprintf(stderr, "member %d: open %d\n", (int)getpid(), n);
		_exit(10);
	}
	for (unsigned i = 0;; i++) {
		n = shmq_part_group_recv(m, buf, sizeof(buf) - 1, &gm, &part);
		if (n == -EAGAIN) {
			shmq_part_group_wait(m, 0, 100000000);
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "member %d: recv %d\n", (int)getpid(), n);
			_exit(11);
		}
		buf[n] = '\0';
		if (sscanf(buf, "%u/%lu", &key, &seq) != 2 || key >= KEYS)
			_exit(12);
		last = atomic_load(&b->last[key]);
		if (seq > last + 1)
			atomic_fetch_add(&b->skips, 1);
		else if (seq <= last)
			atomic_fetch_add(&b->dups, 1);
		else
			atomic_store(&b->last[key], seq);
		atomic_fetch_add(&b->processed, 1);
		if ((((i + 1) * 2654435761u) ^ seed) % 997 == 0) /* a leave now and then */
			break;
		shmq_group_ack(shmq_part_group_partition(m, part), gm.lease);
	}
	shmq_part_group_close(m); /* its lease unacked: redelivered to the next owner */
	_exit(0);
}

/* Start again the members that left on their own. Return: how many. */
static unsigned respawn(struct board *b, pid_t *ms, int n, unsigned seed)
{
	unsigned left = 0;
	int status, q;

	for (q = 0; q < n; q++) {
		if (waitpid(ms[q], &status, WNOHANG) != ms[q])
			continue;
		left++;
		ms[q] = fork();
		assert_true(ms[q] >= 0);
		if (ms[q] == 0)
			member_run(b, seed + (unsigned)q);
	}
	return left;
}

static void test_key_order(void **state)
{
	enum { MEMBERS = 4 };
	unsigned per = (unsigned)test_scaled(2000), kills = 0, leaves = 0, k, i;
	/* a kill every 50 rounds; in a short run (a small SHMQ_STRESS_SCALE) two: order across a
	 * kill is what this test is about, and a run without one would check none of it */
	unsigned every = per >= 100 ? 50 : (per + 1) / 2;
	struct board *b =
		mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	shmq_bus *bus = test_bus();
	pid_t ms[MEMBERS];
	uint64_t seed = 3, done;
	shmq_part_pub *p;
	int status, j;
	char body[32], key[8];

	(void)state;
	assert_true(b != MAP_FAILED);
	assert_int_equal(shmq_part_pub_open(bus, "ko", PARTS, SHMQ_OPEN_CREATE, NULL, &p), 0);
	{ /* the group first: from then on the partitions hold their producers back for it */
		struct shmq_group_config cfg = { .max_in_flight = 1,
						 .ack_wait_ns = 60000000000ull };
		shmq_part_group *first;

		assert_int_equal(
			shmq_part_group_open(bus, "ko", "g", SHMQ_SUB_EARLIEST, &cfg, &first), 0);
		shmq_part_group_close(first);
	}
	for (j = 0; j < MEMBERS; j++) {
		ms[j] = fork();
		assert_true(ms[j] >= 0);
		if (ms[j] == 0)
			member_run(b, (unsigned)j);
	}
	for (i = 1; i <= per; i++) {
		for (k = 0; k < KEYS; k++) {
			snprintf(key, sizeof(key), "%u", k);
			snprintf(body, sizeof(body), "%u/%u", k, i);
			while (shmq_part_send(p, key, strlen(key), body, strlen(body), i) ==
			       -EAGAIN) {
				leaves += respawn(b, ms, MEMBERS, i);
				shmq_pub_wait(shmq_part_pub_partition(
						      p, shmq_part_of(key, strlen(key), PARTS)),
					      0, 10000000);
			}
		}
		if (i % every == 0)
			leaves += respawn(b, ms, MEMBERS, i);
		if (i % every == 0) { /* kill one member and start it again */
			j = (int)(test_rand(&seed) % MEMBERS);
			kill(ms[j], SIGKILL);
			waitpid(ms[j], &status, 0);
			kills++;
			ms[j] = fork();
			assert_true(ms[j] >= 0);
			if (ms[j] == 0)
				member_run(b, (unsigned)(i + (unsigned)j));
		}
	}
	for (j = 0; j < 6000; j++) { /* every key to its last record: 60 s at most */
		for (k = 0, done = 0; k < KEYS; k++)
			done += atomic_load(&b->last[k]) == per;
		if (done == KEYS)
			break;
		leaves += respawn(b, ms, MEMBERS, (unsigned)j);
		usleep(10000);
	}
	printf("# %u records, %lu processed, %lu again, %u kills, %u leaves\n", per * KEYS,
	       (unsigned long)atomic_load(&b->processed), (unsigned long)atomic_load(&b->dups),
	       kills, leaves);
	for (j = 0; j < MEMBERS; j++) {
		kill(ms[j], SIGKILL);
		waitpid(ms[j], NULL, 0);
	}
	assert_int_equal(atomic_load(&b->skips), 0);
	assert_int_equal(done, KEYS);
	assert_true(kills > 0);
	shmq_part_pub_close(p);
	munmap(b, sizeof(*b));
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_closed_wait),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_key_order),
	};

	top = getpid();
	return cmocka_run_group_tests(tests, NULL, test_cleanup);
}
