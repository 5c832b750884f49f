// SPDX-License-Identifier: MIT
/* test_timestamps.c - channels and topics made with SHMQ_OPEN_NO_TIMESTAMPS carry no publish time. */
#include <sys/uio.h>

#include "topic_common.h"

#define NO_TS (SHMQ_OPEN_CREATE | SHMQ_OPEN_NO_TIMESTAMPS)

static shmq_channel *chan(shmq_bus *bus, const char *name, unsigned flags)
{
	shmq_channel *ch = NULL;

	assert_int_equal(shmq_channel_open(bus, name, flags, NULL, &ch), 0);
	return ch;
}

/* Two messages through @tx, one by send and one by send_many; their times into @ts. */
static void chan_two(shmq_channel *tx, shmq_channel *rx, uint64_t ts[2])
{
	struct shmq_msg_info info;
	struct iovec iov = { .iov_base = "b", .iov_len = 1 };
	char buf[8];
	int i;

	assert_int_equal(shmq_channel_send(tx, "a", 1), 0);
	assert_int_equal(shmq_channel_send_many(tx, &iov, 1), 1);
	for (i = 0; i < 2; i++) {
		assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), &info), 1);
		assert_int_equal(buf[0], 'a' + i);
		ts[i] = info.ts_ns;
	}
}

static void test_channel(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;
	uint64_t ts[2];

	(void)state;
	/* Made without times: the producer that attaches later writes none either. */
	rx = chan(bus, "c", NO_TS | SHMQ_OPEN_CONSUMER);
	tx = chan(bus, "c", SHMQ_OPEN_PRODUCER);
	chan_two(tx, rx, ts);
	assert_int_equal(ts[0], 0);
	assert_int_equal(ts[1], 0);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	/* Made with times: the flag of a later open does not take them away. */
	rx = chan(bus, "d", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER);
	tx = chan(bus, "d", NO_TS | SHMQ_OPEN_PRODUCER);
	chan_two(tx, rx, ts);
	assert_true(ts[0] > 0 && ts[1] >= ts[0]);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	shmq_bus_close(bus);
}

/* Three records through @pub (send, send_many, claim and commit); their times into @ts. */
static void topic_three(shmq_pub *pub, shmq_sub *sub, uint64_t ts[3])
{
	struct shmq_pub_msg m = { .data = "b", .len = 1 };
	struct shmq_sub_msg info;
	void *slot;
	char buf[8];
	int i;

	assert_int_equal(shmq_pub_send(pub, "a", 1, 0), 0);
	assert_int_equal(shmq_pub_send_many(pub, &m, 1), 1);
	assert_int_equal(shmq_pub_claim(pub, 1, &slot), 0);
	*(char *)slot = 'c';
	assert_int_equal(shmq_pub_commit(pub, 1, 0), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 1);
		assert_int_equal(buf[0], 'a' + i);
		ts[i] = info.ts_ns;
	}
}

static void test_topic(void **state)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = NULL, *other = NULL;
	shmq_sub *sub;
	shmq_hist *h = NULL;
	uint64_t ts[3];
	int i;

	(void)state;
	assert_int_equal(shmq_pub_open(bus, "t", NO_TS, &cfg, &pub), 0);
	sub = open_sub(bus, "t", SHMQ_SUB_LATENCY, &cfg, 0);
	topic_three(pub, sub, ts);
	for (i = 0; i < 3; i++)
		assert_int_equal(ts[i], 0);
	/* A second producer, attached without the flag: the topic's property holds. */
	assert_int_equal(shmq_pub_open(bus, "t", 0, NULL, &other), 0);
	topic_three(other, sub, ts);
	for (i = 0; i < 3; i++)
		assert_int_equal(ts[i], 0);
	/* The subscriber's delivery latency has nothing to measure. */
	assert_int_equal(shmq_latency_read(bus, "t", NULL, SHMQ_LATENCY_ALL, SHMQ_LATENCY_DELIVERY,
					   NULL, &h),
			 0);
	assert_int_equal(shmq_hist_total(h), 0);
	shmq_hist_free(h);
	shmq_pub_close(other);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	/* A topic made with times keeps them whatever a later open asks. */
	sub = open_sub(bus, "u", 0, &cfg, 0);
	assert_int_equal(shmq_pub_open(bus, "u", NO_TS, &cfg, &pub), 0);
	topic_three(pub, sub, ts);
	for (i = 0; i < 3; i++)
		assert_true(ts[i] > 0);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	shmq_bus_close(bus);
}

static void test_group(void **state)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	struct shmq_group_msg m;
	shmq_pub *pub = NULL;
	shmq_group *g = NULL;
	char buf[8];

	(void)state;
	assert_int_equal(shmq_pub_open(bus, "t", NO_TS, &cfg, &pub), 0);
	assert_int_equal(shmq_group_open(bus, "t", "g",
					 SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST | SHMQ_SUB_LATENCY,
					 NULL, &g),
			 0);
	assert_int_equal(shmq_pub_send(pub, "a", 1, 0), 0);
	assert_int_equal(shmq_group_recv(g, buf, sizeof(buf), &m), 1);
	assert_int_equal(m.ts_ns, 0);
	assert_true(m.first_ns > 0); /* the group's own times stay */
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* The flag is an open flag of channels and topics only where it may create. */
static void test_flag_checked(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_channel *ch = NULL;

	(void)state;
	/* Unknown bits stay refused elsewhere: a group's open does not take it. */
	assert_int_equal(shmq_group_open(bus, "t", "g", NO_TS, NULL, &(shmq_group *){ NULL }),
			 -EINVAL);
	assert_int_equal(shmq_channel_open(bus, "c", NO_TS | SHMQ_OPEN_PRODUCER, NULL, &ch), 0);
	shmq_channel_close(ch);
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_channel, test_cleanup),
		cmocka_unit_test_teardown(test_topic, test_cleanup),
		cmocka_unit_test_teardown(test_group, test_cleanup),
		cmocka_unit_test_teardown(test_flag_checked, test_cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
