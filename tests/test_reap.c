// SPDX-License-Identifier: MIT
/* test_reap.c - settling deaths now: dead claims, last producers, group members, channel roles. */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

#include "common.h"

#define HOUR_NS 3600000000000ull
#define LONG_WAIT_NS 60000000000ull /* a test that needs it has failed already */

/* A reliable topic whose claim timeout (1 h) explains no skip within a test. */
static struct shmq_topic_config hour_cfg(uint32_t slots)
{
	return (struct shmq_topic_config){ .slots = slots,
					   .max_msg = 64,
					   .policy = SHMQ_TOPIC_RELIABLE,
					   .max_subscribers = 4,
					   .max_producers = 4,
					   .claim_timeout_ns = SHMQ_TOPIC_MAX_CLAIM_TIMEOUT_NS };
}

/* What a child does before it says it is ready (and waits to be killed). */
struct job {
	shmq_bus *bus;
	const char *name;
	int (*fn)(struct job *j);
};

/*
 * Fork a child that runs @j->fn, tells us it is ready and waits to be killed; it dies with
 * us if we fail first. A child whose job failed exits, and the read below sees no byte.
 */
static pid_t start_child(struct job *j)
{
	int ready[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		if (j->fn(j) < 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void kill_child(pid_t pid)
{
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(test_wait(pid), 128 + SIGKILL);
}

static struct shmq_topic_stats topic_stat(shmq_bus *bus, const char *name)
{
	struct shmq_topic_stats st;

	assert_true(shmq_topic_stat(bus, name, &st, NULL, 0) >= 0);
	return st;
}

/* ---- topics: dead claims ---- */

static int open_pub_job(struct job *j)
{
	shmq_pub *p;

	return shmq_pub_open(j->bus, j->name, 0, NULL, &p);
}

static int claim_job(struct job *j)
{
	shmq_pub *p;
	void *buf;
	int r = shmq_pub_open(j->bus, j->name, 0, NULL, &p);

	return r < 0 ? r : shmq_pub_claim(p, 8, &buf);
}

/*
 * A producer killed between claim and commit: the reap skips its record at once (the
 * claim timeout is an hour), and the subscriber gets the next record from another producer.
 * A live producer's outstanding claim is never skipped.
 */
static void test_dead_claim(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_config cfg = hour_cfg(16);
	struct job j = { bus, "claim", claim_job };
	struct shmq_sub_msg m;
	shmq_sub *sub = NULL;
	shmq_pub *pub = NULL;
	uint32_t subs = 9, prods = 9;
	char buf[64];
	void *zc;

	(void)state;
	assert_int_equal(shmq_sub_open(bus, "claim", SHMQ_OPEN_CREATE, &cfg, 0, &sub), 0);
	assert_int_equal(shmq_pub_open(bus, "claim", 0, NULL, &pub), 0);
	kill_child(start_child(&j)); /* record 1: claimed, never committed */
	assert_int_equal(shmq_pub_send(pub, "two", 3, 2), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), -EAGAIN); /* held at 1 */
	assert_int_equal(topic_stat(bus, "claim").skipped, 0);
	assert_int_equal(shmq_topic_reap(bus, "claim", &subs, &prods), 1);
	assert_int_equal(subs, 0);
	assert_int_equal(prods, 1);
	assert_int_equal(topic_stat(bus, "claim").skipped, 1);
	assert_int_equal(topic_stat(bus, "claim").producers, 1);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), 3);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.skipped, 1);
	/* Our own outstanding claim (record 3): alive, so neither freed nor skipped. */
	assert_int_equal(shmq_pub_claim(pub, 5, &zc), 0);
	assert_int_equal(shmq_topic_reap(bus, "claim", &subs, &prods), 0);
	assert_int_equal(topic_stat(bus, "claim").skipped, 1);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), -EAGAIN);
	memcpy(zc, "three", 5);
	assert_int_equal(shmq_pub_commit(pub, 5, 3), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), 5);
	assert_int_equal(m.seq, 3);
	assert_int_equal(m.skipped, 0);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "claim");
	shmq_bus_close(bus);
}

/*
 * A dead claim that no subscriber waits for (there is none) but that a producer a lap later
 * would wait for, for the claim timeout: the reap skips it too, and the lap goes on.
 */
static void test_dead_claim_lap(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_config cfg = hour_cfg(4);
	struct job j = { bus, "lap", claim_job };
	shmq_pub *pub = NULL;
	uint64_t i;

	(void)state;
	assert_int_equal(shmq_pub_open(bus, "lap", SHMQ_OPEN_CREATE, &cfg, &pub), 0);
	kill_child(start_child(&j)); /* record 1 */
	for (i = 2; i <= 4; i++)
		assert_int_equal(shmq_pub_send(pub, &i, sizeof(i), i), 0);
	assert_int_equal(shmq_topic_reap(bus, "lap", NULL, NULL), 1);
	assert_int_equal(topic_stat(bus, "lap").skipped, 1);
	/* Record 5 takes record 1's slot: free now, not in an hour. */
	assert_int_equal(shmq_pub_send(pub, &i, sizeof(i), i), 0);
	assert_int_equal(topic_stat(bus, "lap").tail, 6);
	shmq_pub_close(pub);
	test_unlink(bus, "lap");
	shmq_bus_close(bus);
}

/* ---- topics: the last producer's death ---- */

struct sub_waiter {
	shmq_sub *sub;
	int r;
};

static void *sub_wait_thread(void *arg)
{
	struct sub_waiter *w = arg;

	w->r = shmq_sub_wait(w->sub, 0, LONG_WAIT_NS);
	return NULL;
}

/*
 * The only producer is killed; the reap makes its death the last close: a parked
 * subscriber gets -EPIPE (no timeout or wait slice would end its wait: the claim timeout is
 * an hour). A subscriber that joins afterwards waits for a producer, as after a close, and
 * a death freed after a close that was made already closes nothing again.
 */
static void test_dead_last_producer(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_config cfg = hour_cfg(16);
	struct job j = { bus, "last", open_pub_job };
	shmq_sub *late = NULL, *later = NULL;
	struct sub_waiter w = { 0 };
	shmq_pub *pub = NULL;
	uint32_t prods = 9;
	pthread_t th;
	pid_t pid;

	(void)state;
	assert_int_equal(shmq_sub_open(bus, "last", SHMQ_OPEN_CREATE, &cfg, 0, &w.sub), 0);
	pid = start_child(&j);
	assert_int_equal(pthread_create(&th, NULL, sub_wait_thread, &w), 0);
	kill_child(pid);
	assert_int_equal(shmq_topic_reap(bus, "last", NULL, &prods), 1);
	assert_int_equal(prods, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.r, -EPIPE);
	assert_int_equal(shmq_sub_wait(w.sub, 0, 0), -EPIPE);
	/* Joined with no producer: it waits for one, and another reap does not end that. */
	assert_int_equal(shmq_sub_open(bus, "last", 0, NULL, 0, &late), 0);
	assert_int_equal(shmq_sub_wait(late, 0, 0), -ETIMEDOUT);
	assert_int_equal(shmq_topic_reap(bus, "last", NULL, NULL), 0);
	assert_int_equal(shmq_sub_wait(late, 0, 0), -ETIMEDOUT);
	/* A producer opens; another one dies, unreaped; the first closes (the last live one). */
	assert_int_equal(shmq_pub_open(bus, "last", 0, NULL, &pub), 0);
	kill_child(start_child(&j));
	shmq_pub_close(pub);
	assert_int_equal(shmq_sub_wait(late, 0, 0), -EPIPE); /* a close after it joined */
	assert_int_equal(shmq_sub_open(bus, "last", 0, NULL, 0, &later), 0);
	/* Freeing the dead one's entry now is no further close. */
	assert_int_equal(shmq_topic_reap(bus, "last", NULL, &prods), 1);
	assert_int_equal(prods, 1);
	assert_int_equal(shmq_sub_wait(later, 0, 0), -ETIMEDOUT);
	shmq_sub_close(later);
	shmq_sub_close(late);
	shmq_sub_close(w.sub);
	test_unlink(bus, "last");
	shmq_bus_close(bus);
}

/* ---- consumer groups ---- */

static int member_job(struct job *j)
{
	shmq_group *g = NULL;
	struct shmq_group_msg m;
	uint64_t v;
	int r = shmq_group_open(j->bus, j->name, "g", 0, NULL, &g);

	for (int i = 0; r == 0 && i < 2; i++)
		r = shmq_group_recv(g, &v, sizeof(v), &m) == (int)sizeof(v) ? 0 : -EIO;
	return r;
}

static struct shmq_group_stats group_stat(shmq_bus *bus)
{
	struct shmq_group_stats st;

	assert_true(shmq_group_stat(bus, "t", "g", &st, NULL, 0) >= 0);
	return st;
}

/*
 * A member killed while it holds two leases of an hour: the reap frees its entry without
 * joining, the leases go back as failures, and another member gets them as redeliveries
 * (attempt 2) at once, before the record nobody had.
 */
static void test_group_dead_member(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_config cfg = hour_cfg(64);
	struct shmq_group_config gc = {
		.ack_wait_ns = HOUR_NS, .backoff_ns = 1, .backoff_max_ns = 1, .backoff_mult = 1
	};
	struct job j = { bus, "t", member_job };
	struct shmq_group_stats st;
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	shmq_pub *pub = NULL;
	uint32_t members = 9;
	uint64_t v, seen = 0;

	(void)state;
	assert_int_equal(shmq_pub_open(bus, "t", SHMQ_OPEN_CREATE, &cfg, &pub), 0);
	assert_int_equal(
		shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, &gc, &g), 0);
	for (v = 1; v <= 3; v++)
		assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), v), 0);
	kill_child(start_child(&j)); /* it held records 1 and 2 */
	st = group_stat(bus);
	assert_int_equal(st.in_flight, 2);
	assert_int_equal(st.delayed, 0);
	assert_int_equal(shmq_group_reap(bus, "t", "g", &members), 1);
	assert_int_equal(members, 1);
	st = group_stat(bus);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.delayed, 2);
	assert_int_equal(st.members, 1);
	assert_int_equal(shmq_group_reap(bus, "t", "g", &members), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(shmq_group_recv(g, &v, sizeof(v), &m), (int)sizeof(v));
		assert_true(v == 1 || v == 2);
		seen |= 1u << v;
		assert_int_equal(m.attempt, 2);
		assert_int_equal(m.failed, 1);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	assert_int_equal(seen, 6);
	assert_int_equal(shmq_group_recv(g, &v, sizeof(v), &m), (int)sizeof(v));
	assert_int_equal(v, 3);
	assert_int_equal(m.attempt, 1);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_int_equal(group_stat(bus).floor, 4);
	/* Errors as for shmq_group_stat(). */
	assert_int_equal(shmq_group_reap(bus, "t", "none", NULL), -ENOENT);
	assert_int_equal(shmq_group_reap(bus, "t", "a b", NULL), -EINVAL);
	assert_int_equal(shmq_group_reap(bus, "none", "g", NULL), -ENOENT);
	assert_int_equal(shmq_group_reap(NULL, "t", "g", NULL), -EINVAL);
	shmq_group_close(g);
	shmq_pub_close(pub);
	assert_int_equal(shmq_group_delete(bus, "t", "g", 0), 0);
	test_unlink(bus, "t");
	shmq_bus_close(bus);
}

/* ---- channels ---- */

static int chan_producer_job(struct job *j)
{
	shmq_channel *ch;
	int r = shmq_channel_open(j->bus, j->name, SHMQ_OPEN_PRODUCER, NULL, &ch);

	return r < 0 ? r : shmq_channel_send(ch, j->name, 1);
}

static int chan_consumer_job(struct job *j)
{
	shmq_channel *ch;

	return shmq_channel_open(j->bus, j->name, SHMQ_OPEN_CONSUMER, NULL, &ch);
}

struct many_waiter {
	struct shmq_wait_item item;
	int r;
};

static void *wait_many_thread(void *arg)
{
	struct many_waiter *w = arg;

	w->r = shmq_wait_many(&w->item, 1, 0, LONG_WAIT_NS);
	return NULL;
}

static struct shmq_channel_stats chan_stats(const shmq_channel *ch)
{
	struct shmq_channel_stats st;

	assert_int_equal(shmq_channel_stats(ch, &st), 0);
	return st;
}

/*
 * A producer killed: the reap frees its role and closes the channel for it, so that a
 * consumer parked in shmq_wait_many() (which never judges liveness) gets -EPIPE. What a
 * dead producer published comes first; a producer that opens afterwards reopens.
 */
static void test_channel_dead_producer(void **state)
{
	shmq_bus *bus = test_bus();
	struct job j = { bus, "c", chan_producer_job };
	struct many_waiter w = { 0 };
	shmq_channel *ch = NULL;
	unsigned roles = 0;
	pthread_t th;
	char buf[8];
	pid_t pid;

	(void)state;
	assert_int_equal(
		shmq_channel_open(bus, "c", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &ch), 0);
	pid = start_child(&j);
	assert_int_equal(shmq_channel_recv(ch, buf, sizeof(buf), NULL), 1);
	assert_int_equal(chan_stats(ch).producer_pid, pid);
	w.item.ch = ch;
	assert_int_equal(pthread_create(&th, NULL, wait_many_thread, &w), 0);
	kill_child(pid);
	assert_int_equal(shmq_channel_reap(bus, "c", &roles), 1);
	assert_int_equal(roles, SHMQ_OPEN_PRODUCER);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.r, 1);
	assert_int_equal(w.item.ready, -EPIPE);
	assert_int_equal(chan_stats(ch).producer_pid, 0);
	assert_int_equal(shmq_channel_wait(ch, 0, 0), -EPIPE);
	assert_int_equal(shmq_channel_reap(bus, "c", &roles), 0);
	assert_int_equal(roles, 0);
	/* Another producer opens, publishes and dies: its message first, then -EPIPE. */
	kill_child(start_child(&j));
	assert_int_equal(shmq_channel_reap(bus, "c", &roles), 1);
	assert_int_equal(shmq_channel_wait(ch, 0, 0), 0);
	assert_int_equal(shmq_channel_recv(ch, buf, sizeof(buf), NULL), 1);
	assert_int_equal(shmq_channel_wait(ch, 0, 0), -EPIPE);
	/* Errors. */
	assert_int_equal(shmq_channel_reap(bus, "none", NULL), -ENOENT);
	assert_int_equal(shmq_channel_reap(bus, "a b", NULL), -EINVAL);
	assert_int_equal(shmq_channel_reap(NULL, "c", NULL), -EINVAL);
	shmq_channel_close(ch);
	test_unlink(bus, "c");
	shmq_bus_close(bus);
}

/*
 * A consumer killed while the producer waits for room: the reap frees its role and the
 * producer's wait says -EPIPE, however recently it judged the consumer alive. A consumer
 * that opens ends that.
 */
static void test_channel_dead_consumer(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_channel_config cfg = { .capacity = SHMQ_MIN_CAPACITY, .max_msg = 64 };
	struct job j = { bus, "d", chan_consumer_job };
	shmq_channel *ch = NULL, *cons = NULL;
	unsigned roles = 0;
	char buf[64] = { 0 };
	pid_t pid;

	(void)state;
	assert_int_equal(
		shmq_channel_open(bus, "d", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &ch), 0);
	pid = start_child(&j);
	while (shmq_channel_send(ch, buf, sizeof(buf)) == 0)
		;
	assert_int_equal(shmq_channel_send(ch, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(shmq_channel_wait_room(ch, sizeof(buf), 0, 0), -ETIMEDOUT); /* alive */
	assert_int_equal(chan_stats(ch).consumer_pid, pid);
	kill_child(pid);
	assert_int_equal(shmq_channel_reap(bus, "d", &roles), 1);
	assert_int_equal(roles, SHMQ_OPEN_CONSUMER);
	assert_int_equal(chan_stats(ch).consumer_pid, 0);
	assert_int_equal(shmq_channel_wait_room(ch, sizeof(buf), 0, 0), -EPIPE);
	/* A new consumer: no -EPIPE any more; room once it receives. */
	assert_int_equal(shmq_channel_open(bus, "d", SHMQ_OPEN_CONSUMER, NULL, &cons), 0);
	assert_int_equal(shmq_channel_wait_room(ch, sizeof(buf), 0, 0), -ETIMEDOUT);
	while (shmq_channel_recv(cons, buf, sizeof(buf), NULL) == (int)sizeof(buf))
		;
	assert_int_equal(shmq_channel_wait_room(ch, sizeof(buf), 0, 0), 0);
	/* A topic is not a channel. */
	{
		struct shmq_topic_config tc = hour_cfg(4);
		shmq_pub *pub = NULL;

		assert_int_equal(shmq_pub_open(bus, "dt", SHMQ_OPEN_CREATE, &tc, &pub), 0);
		assert_int_equal(shmq_channel_reap(bus, "dt", NULL), -EPROTOTYPE);
		shmq_pub_close(pub);
		test_unlink(bus, "dt");
	}
	shmq_channel_close(cons);
	shmq_channel_close(ch);
	test_unlink(bus, "d");
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dead_claim),
		cmocka_unit_test(test_dead_claim_lap),
		cmocka_unit_test(test_dead_last_producer),
		cmocka_unit_test(test_group_dead_member),
		cmocka_unit_test(test_channel_dead_producer),
		cmocka_unit_test(test_channel_dead_consumer),
	};

	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("reap", tests, NULL, test_cleanup);
}
