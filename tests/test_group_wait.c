// SPDX-License-Identifier: MIT
/* test_group_wait.c - shmq_wait_any() over a channel, a subscriber and a group member. */
#include <pthread.h>

#include "common.h"

#define LONG_NS 10000000000ull /* "eventually": far longer than anything here takes */

static const struct shmq_channel_config small = { .capacity = 4096 };

struct later {
	void (*fn)(void *arg);
	void *arg;
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Run @fn a little later, so that the caller is parked by then, usually. */
static void *run_later(void *arg)
{
	struct later *l = arg;

	sleep_ms(20);
	l->fn(l->arg);
	return NULL;
}

static void chan_send(void *arg)
{
	assert_int_equal(shmq_channel_send(arg, "c", 1), 0);
}

static void pub_send(void *arg)
{
	uint64_t v = 5;

	assert_int_equal(shmq_pub_send(arg, &v, sizeof(v), v), 0);
}

struct fixture {
	shmq_bus *bus;
	shmq_channel *tx, *rx;
	shmq_pub *ps, *pt;
	shmq_sub *sub;
	shmq_group *g;
	struct shmq_wait_entry e[3];
};

static void fixture_open(struct fixture *f)
{
	f->bus = test_bus();
	assert_int_equal(shmq_channel_open(f->bus, "ch", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER,
					   &small, &f->tx),
			 0);
	assert_int_equal(shmq_channel_open(f->bus, "ch", SHMQ_OPEN_CONSUMER, NULL, &f->rx), 0);
	assert_int_equal(shmq_pub_open(f->bus, "s", SHMQ_OPEN_CREATE, NULL, &f->ps), 0);
	assert_int_equal(shmq_sub_open(f->bus, "s", 0, NULL, 0, &f->sub), 0);
	assert_int_equal(shmq_pub_open(f->bus, "t", SHMQ_OPEN_CREATE, NULL, &f->pt), 0);
	assert_int_equal(shmq_group_open(f->bus, "t", "g", SHMQ_OPEN_CREATE, NULL, &f->g), 0);
	f->e[0] = (struct shmq_wait_entry){ SHMQ_WAIT_CHANNEL, f->rx, 0 };
	f->e[1] = (struct shmq_wait_entry){ SHMQ_WAIT_SUB, f->sub, 0 };
	f->e[2] = (struct shmq_wait_entry){ SHMQ_WAIT_GROUP, f->g, 0 };
}

static void fixture_close(struct fixture *f)
{
	shmq_group_close(f->g);
	shmq_sub_close(f->sub);
	shmq_pub_close(f->ps);
	shmq_pub_close(f->pt);
	shmq_channel_close(f->rx);
	shmq_channel_close(f->tx);
	shmq_bus_close(f->bus);
}

/* Wait while @fn runs in a thread: exactly entry @which wakes the wait. */
static void wakes(struct fixture *f, void (*fn)(void *), void *arg, int which)
{
	struct later l = { fn, arg };
	pthread_t th;
	int i;

	assert_int_equal(pthread_create(&th, NULL, run_later, &l), 0);
	assert_int_equal(shmq_wait_any(f->e, 3, 0, LONG_NS), 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(f->e[i].ready, i == which);
}

/* Each of a channel, a subscriber and a group member wakes the one wait. */
static void test_each_wakes(void **state)
{
	struct shmq_sub_msg sm;
	struct shmq_group_msg gm;
	struct fixture f;
	uint64_t v;
	char c;

	(void)state;
	fixture_open(&f);
	assert_int_equal(shmq_wait_any(f.e, 3, 0, 1000000), -ETIMEDOUT);
	wakes(&f, chan_send, f.tx, 0);
	assert_int_equal(shmq_channel_recv(f.rx, &c, 1, NULL), 1);
	wakes(&f, pub_send, f.ps, 1);
	assert_int_equal(shmq_sub_recv(f.sub, &v, sizeof(v), &sm), (int)sizeof(v));
	wakes(&f, pub_send, f.pt, 2);
	assert_int_equal(shmq_group_recv(f.g, &v, sizeof(v), &gm), (int)sizeof(v));
	assert_int_equal(shmq_wait_any(f.e, 3, 0, 0), -ETIMEDOUT);
	/* A delayed redelivery wakes the member when it comes due, with nothing sent. */
	assert_int_equal(shmq_group_nack(f.g, gm.lease, 30000000), 0);
	assert_int_equal(shmq_wait_any(f.e, 3, 0, LONG_NS), 1);
	assert_int_equal(f.e[2].ready, 1);
	assert_int_equal(shmq_group_recv(f.g, &v, sizeof(v), &gm), (int)sizeof(v));
	assert_int_equal(gm.attempt, 2);
	assert_int_equal(shmq_group_ack(f.g, gm.lease), 0);
	fixture_close(&f);
}

/*
 * The group's -EPIPE rule: its topic's producers closed, but while a record is leased or
 * delayed the wait goes on (and a redelivery that comes due wakes it); once the group owes
 * nothing, the member is -EPIPE.
 */
static void test_group_epipe(void **state)
{
	struct shmq_group_msg gm;
	struct fixture f;
	uint64_t v = 9;

	(void)state;
	fixture_open(&f);
	assert_int_equal(shmq_pub_send(f.pt, &v, sizeof(v), v), 0);
	assert_int_equal(shmq_group_recv(f.g, &v, sizeof(v), &gm), (int)sizeof(v));
	shmq_pub_close(f.pt);
	f.pt = NULL;
	assert_int_equal(shmq_wait_any(f.e, 3, 0, 20000000), -ETIMEDOUT); /* leased: owed */
	assert_int_equal(shmq_group_nack(f.g, gm.lease, 20000000), 0);
	assert_int_equal(shmq_wait_any(f.e, 3, 0, LONG_NS), 1);
	assert_int_equal(f.e[2].ready, 1);
	assert_int_equal(shmq_group_recv(f.g, &v, sizeof(v), &gm), (int)sizeof(v));
	assert_int_equal(shmq_group_ack(f.g, gm.lease), 0);
	assert_int_equal(shmq_wait_any(f.e, 3, 0, LONG_NS), 1);
	assert_int_equal(f.e[0].ready, 0);
	assert_int_equal(f.e[1].ready, 0);
	assert_int_equal(f.e[2].ready, -EPIPE);
	/* shmq_group_wait() says the same. */
	assert_int_equal(shmq_group_wait(f.g, 0, LONG_NS), -EPIPE);
	fixture_close(&f);
}

/* Another member gives a record back after the producers closed: the waiter gets it. */
static void test_group_other_member(void **state)
{
	struct shmq_group_msg gm;
	struct fixture f;
	shmq_group *h;
	uint64_t v = 3;

	(void)state;
	fixture_open(&f);
	assert_int_equal(shmq_group_open(f.bus, "t", "g", 0, NULL, &h), 0);
	assert_int_equal(shmq_pub_send(f.pt, &v, sizeof(v), v), 0);
	assert_int_equal(shmq_group_recv(h, &v, sizeof(v), &gm), (int)sizeof(v));
	shmq_pub_close(f.pt);
	f.pt = NULL;
	assert_int_equal(shmq_wait_any(&f.e[2], 1, 0, 20000000), -ETIMEDOUT);
	assert_int_equal(shmq_group_release(h, gm.lease), 0);
	assert_int_equal(shmq_wait_any(&f.e[2], 1, 0, LONG_NS), 1);
	assert_int_equal(f.e[2].ready, 1);
	assert_int_equal(shmq_group_recv(f.g, &v, sizeof(v), &gm), (int)sizeof(v));
	assert_int_equal(v, 3);
	assert_int_equal(shmq_group_ack(f.g, gm.lease), 0);
	assert_int_equal(shmq_wait_any(&f.e[2], 1, 0, LONG_NS), 1);
	assert_int_equal(f.e[2].ready, -EPIPE);
	shmq_group_close(h);
	fixture_close(&f);
}

static void test_bad_entries(void **state)
{
	struct fixture f;

	(void)state;
	fixture_open(&f);
	assert_int_equal(shmq_wait_any(NULL, 1, 0, 0), -EINVAL);
	assert_int_equal(shmq_wait_any(f.e, 0, 0, 0), -EINVAL);
	assert_int_equal(shmq_wait_any(f.e, SHMQ_WAIT_MANY_MAX + 1, 0, 0), -EINVAL);
	f.e[1].kind = 0;
	assert_int_equal(shmq_wait_any(f.e, 3, 0, 0), -EINVAL);
	f.e[1] = (struct shmq_wait_entry){ SHMQ_WAIT_GROUP, NULL, 0 };
	assert_int_equal(shmq_wait_any(f.e, 3, 0, 0), -EINVAL);
	f.e[1] = (struct shmq_wait_entry){ SHMQ_WAIT_CHANNEL, f.tx, 0 }; /* a producer */
	assert_int_equal(shmq_wait_any(f.e, 3, 0, 0), -EBADF);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_each_wakes, test_cleanup),
		cmocka_unit_test_teardown(test_group_epipe, test_cleanup),
		cmocka_unit_test_teardown(test_group_other_member, test_cleanup),
		cmocka_unit_test_teardown(test_bad_entries, test_cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, test_cleanup);
}
