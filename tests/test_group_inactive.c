// SPDX-License-Identifier: MIT
/* test_group_inactive.c - a durable group idle past its inactive threshold is deleted. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "common.h"

#define MS 1000000ull
#define EVENTUALLY_MS 10000u /* generous: the machine may be busy */

static const struct shmq_topic_config tcfg = { .slots = 8,
					       .max_msg = 64,
					       .policy = SHMQ_TOPIC_RELIABLE };

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static shmq_group *join(shmq_bus *bus, const char *group)
{
	shmq_group *g = NULL;

	assert_int_equal(shmq_group_open(bus, "t", group, SHMQ_OPEN_CREATE, NULL, &g), 0);
	return g;
}

static bool exists(shmq_bus *bus, const char *group)
{
	struct shmq_group_stats st;
	int r = shmq_group_stat(bus, "t", group, &st, NULL, 0);

	assert_true(r >= 0 || r == -ENOENT);
	return r >= 0;
}

/* Reap (as shmqd's sweep does) until the group is gone; false if it never went. */
static bool reaped_away(shmq_bus *bus, const char *group)
{
	unsigned i;

	for (i = 0; i < EVENTUALLY_MS / 10; i++) {
		if (shmq_group_reap(bus, "t", group, NULL) == -ENOENT || !exists(bus, group))
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Until the group has been idle past its threshold (as its own clock says). */
static void wait_idle_past(shmq_bus *bus, const char *group)
{
	uint64_t th = 0, idle = 0;
	unsigned i;

	for (i = 0; i < EVENTUALLY_MS / 10; i++) {
		assert_int_equal(shmq_group_inactive(bus, "t", group, &th, &idle), 0);
		if (th && idle >= th)
			return;
		sleep_ms(10);
	}
	fail_msg("group '%s' never idle past its threshold", group);
}

static shmq_pub *open_pub(shmq_bus *bus)
{
	shmq_pub *pub = NULL;

	assert_int_equal(shmq_pub_open(bus, "t", SHMQ_OPEN_CREATE, &tcfg, &pub), 0);
	return pub;
}

/* Fill the topic's log: true when every send went in, false when the producer was held. */
static bool fills(shmq_pub *pub)
{
	uint64_t v = 7;
	unsigned i;
	int r = 0;

	for (i = 0; i <= tcfg.slots && r == 0; i++)
		r = shmq_pub_send(pub, &v, sizeof(v), v);
	assert_true(r == 0 || r == -EAGAIN);
	return r == 0;
}

/* Deleted once idle past the threshold: its gate stops holding the producers back. */
static void test_deleted_after_threshold(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus);
	shmq_group *g = join(bus, "g");
	struct shmq_group_stats st;
	uint64_t th = 0, idle = 1;

	(void)state;
	assert_int_equal(shmq_group_set_inactive(bus, "t", "g", 100 * MS), 0);
	assert_int_equal(shmq_group_inactive(bus, "t", "g", &th, &idle), 0);
	assert_int_equal(th, 100 * MS);
	assert_int_equal(idle, 0); /* a member is attached */
	assert_false(fills(pub)); /* nothing acked: the group holds the producer back */
	assert_true(shmq_group_stat(bus, "t", "g", &st, NULL, 0) >= 0);
	assert_int_equal(st.holding, 1);
	shmq_group_close(g);
	assert_true(exists(bus, "g")); /* durable: kept for now */
	assert_true(reaped_away(bus, "g"));
	assert_int_equal(shmq_topic_groups(bus, "t", NULL, 0), 0);
	assert_int_equal(shmq_group_inactive(bus, "t", "g", &th, &idle), -ENOENT);
	assert_true(fills(pub)); /* nobody holds it back now */
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* Never while a member is attached, however long; nor with the threshold turned off. */
static void test_kept_while_attached(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus);
	shmq_group *g = join(bus, "g"), *h;
	uint64_t th = 0, idle = 1;
	int i;

	(void)state;
	assert_int_equal(shmq_group_set_inactive(bus, "t", "g", 1 * MS), 0);
	for (i = 0; i < 5; i++) {
		sleep_ms(10);
		assert_int_equal(shmq_group_reap(bus, "t", "g", NULL), 0);
		h = join(bus, "h"); /* an open looks at the topic's groups */
		shmq_group_close(h);
	}
	assert_true(exists(bus, "g"));
	assert_int_equal(shmq_group_inactive(bus, "t", "g", &th, &idle), 0);
	assert_int_equal(idle, 0);
	/* Off again: no member, idle past what it was, and kept. */
	shmq_group_close(g);
	wait_idle_past(bus, "g");
	assert_int_equal(shmq_group_set_inactive(bus, "t", "g", 0), 0);
	assert_int_equal(shmq_group_reap(bus, "t", "g", NULL), 0);
	assert_true(exists(bus, "g"));
	assert_int_equal(shmq_group_set_inactive(bus, "t", "g", 1000), -EINVAL); /* < 1 ms */
	assert_int_equal(shmq_group_set_inactive(bus, "t", "g", SHMQ_GROUP_INACTIVE_MAX_NS + 1),
			 -EINVAL);
	assert_int_equal(shmq_group_set_inactive(bus, "t", "nope", MS), -ENOENT);
	assert_int_equal(shmq_group_set_inactive(NULL, "t", "g", MS), -EINVAL);
	assert_int_equal(shmq_group_inactive(NULL, "t", "g", NULL, NULL), -EINVAL);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/*
 * A member that died counts from when its death was noticed: while its entry is not yet
 * judged, the group is kept even long past the threshold, and the reap that judges it
 * starts the idle clock; later reaps delete the group.
 */
static void test_dead_member(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus);
	shmq_group *g = join(bus, "g"), *h;
	uint32_t freed = 0;
	int ready[2];
	pid_t pid;
	char c;

	(void)state;
	shmq_group_close(g);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (shmq_group_open(bus, "t", "g", 0, NULL, &g) < 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(shmq_group_set_inactive(bus, "t", "g", 20 * MS), 0);
	kill(pid, SIGKILL);
	assert_int_equal(test_wait(pid), 128 + SIGKILL);
	sleep_ms(100); /* dead for longer than the threshold, but nobody noticed */
	h = join(bus, "h");
	shmq_group_close(h);
	assert_true(exists(bus, "g"));
	assert_int_equal(shmq_group_reap(bus, "t", "g", &freed), 1); /* noticed now */
	assert_int_equal(freed, 1);
	assert_true(exists(bus, "g"));
	assert_true(reaped_away(bus, "g"));
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* An open looks first: a group past its threshold is gone, or made anew with CREATE. */
static void test_open_deletes(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus);
	shmq_group *g = join(bus, "g");
	struct shmq_group_stats st;
	struct shmq_group_msg m;
	uint64_t v = 5;

	(void)state;
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), v), 0);
	assert_int_equal(shmq_group_recv(g, &v, sizeof(v), &m), (int)sizeof(v));
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	shmq_group_close(g);
	assert_int_equal(shmq_group_set_inactive(bus, "t", "g", 5 * MS), 0);
	wait_idle_past(bus, "g");
	assert_int_equal(shmq_group_open(bus, "t", "g", 0, NULL, &g), -ENOENT);
	assert_false(exists(bus, "g"));
	g = join(bus, "g");
	assert_true(shmq_group_stat(bus, "t", "g", &st, NULL, 0) >= 0);
	assert_int_equal(st.acked, 0); /* a new group */
	assert_int_equal(shmq_group_inactive(bus, "t", "g", &v, NULL), 0);
	assert_int_equal(v, 0); /* and its threshold is off */
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

struct racer {
	shmq_bus *bus;
	_Atomic bool gone;
	unsigned joins;
};

/* Join and leave until the group is gone; each join that succeeds finds itself counted. */
static void *join_loop(void *arg)
{
	struct racer *r = arg;
	struct shmq_group_stats st;
	shmq_group *g;
	int i, n;

	while (!atomic_load(&r->gone)) {
		n = shmq_group_open(r->bus, "t", "g", 0, NULL, &g);
		if (n == -ENOENT)
			break;
		assert_int_equal(n, 0);
		r->joins++;
		/* Not deleted under us: the segment we joined is still the group's, with us. */
		assert_true(shmq_group_stat(r->bus, "t", "g", &st, NULL, 0) >= 1);
		shmq_group_close(g);
		/* Idle now and then for longer than the threshold, so that the reaper gets its
		 * chance however fast the joins come; in between, short gaps of yields. */
		if (r->joins % 16 == 0)
			sleep_ms(3);
		for (i = 0; i < (int)(r->joins % 64) * 50; i++)
			sched_yield();
	}
	return NULL;
}

/* A member joining while a reaper deletes: one or the other, never a member of nothing. */
static void test_join_races_delete(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus);
	struct racer r = { .bus = bus };
	pthread_t th;
	shmq_group *g;
	int round;

	(void)state;
	for (round = 0; round < 20; round++) {
		g = join(bus, "g");
		assert_int_equal(shmq_group_set_inactive(bus, "t", "g", 1 * MS), 0);
		shmq_group_close(g);
		atomic_store(&r.gone, false);
		assert_int_equal(pthread_create(&th, NULL, join_loop, &r), 0);
		assert_true(reaped_away(bus, "g"));
		atomic_store(&r.gone, true);
		assert_int_equal(pthread_join(th, NULL), 0);
	}
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_deleted_after_threshold, test_cleanup),
		cmocka_unit_test_teardown(test_kept_while_attached, test_cleanup),
		cmocka_unit_test_teardown(test_dead_member, test_cleanup),
		cmocka_unit_test_teardown(test_open_deletes, test_cleanup),
		cmocka_unit_test_teardown(test_join_races_delete, test_cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, test_cleanup);
}
