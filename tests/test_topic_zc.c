// SPDX-License-Identifier: MIT
/* test_topic_zc.c - topics, zero-copy: claim, commit and abort; peek and release. */
#include <stdatomic.h>
#include <stdbool.h>

#include "internal.h"
#include "shm_layout.h"
#include "topic_common.h"

/* ---- zero-copy ---- */

static void test_claim_commit(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "zc", &cfg);
	shmq_sub *sub = open_sub(bus, "zc", 0, &cfg, 0);
	struct shmq_pub_msg m = { .data = "x", .len = 1 };
	struct shmq_sub_msg info;
	uint8_t buf[MAXM], want[MAXM];
	void *zc = NULL;

	assert_int_equal(shmq_pub_commit(pub, 0, 0), -EINVAL);
	assert_int_equal(shmq_pub_abort(pub), -EINVAL);
	assert_int_equal(shmq_pub_commit(NULL, 0, 0), -EINVAL);
	assert_int_equal(shmq_pub_abort(NULL), -EINVAL);
	assert_int_equal(shmq_pub_claim(NULL, 8, &zc), -EINVAL);
	assert_int_equal(shmq_pub_claim(pub, 8, NULL), -EINVAL);
	assert_int_equal(shmq_pub_claim(pub, MAXM + 1, &zc), -EMSGSIZE);
	assert_null(zc);
	assert_int_equal(shmq_pub_claim(pub, 100, &zc), 0);
	assert_non_null(zc);
	assert_true(((uintptr_t)zc & 7) == 0);
	assert_int_equal(shmq_pub_claim(pub, 10, &zc), -EBUSY);
	assert_int_equal(shmq_pub_send(pub, "x", 1, 0), -EBUSY);
	assert_int_equal(shmq_pub_send_many(pub, &m, 1), -EBUSY);
	expect_empty(sub); /* invisible until committed */
	fill_pattern(zc, 100, 1);
	assert_int_equal(shmq_pub_commit(pub, 101, 0), -EINVAL);
	assert_int_equal(shmq_pub_commit(pub, 50, 77), 0); /* shorter than claimed */
	assert_int_equal(shmq_pub_commit(pub, 50, 77), -EINVAL);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 50);
	fill_pattern(want, 50, 1);
	assert_memory_equal(buf, want, 50);
	assert_int_equal(info.seq, 1);
	assert_int_equal(info.corr_id, 77);
	assert_int_equal(info.len, 50);
	assert_int_equal(info.producer_seq, 1);
	assert_int_equal(info.skipped, 0);
	/* max_msg and empty claims. */
	assert_int_equal(shmq_pub_claim(pub, MAXM, &zc), 0);
	fill_pattern(zc, MAXM, 2);
	assert_int_equal(shmq_pub_commit(pub, MAXM, 0), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), MAXM);
	fill_pattern(want, MAXM, 2);
	assert_memory_equal(buf, want, MAXM);
	assert_int_equal(shmq_pub_claim(pub, 0, &zc), 0);
	assert_int_equal(shmq_pub_commit(pub, 0, 3), 0);
	assert_int_equal(shmq_sub_recv(sub, NULL, 0, &info), 0);
	assert_int_equal(info.seq, 3);
	assert_int_equal(info.corr_id, 3);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "zc");
	shmq_bus_close(bus);
}

/* Aborted claims, claims open while others publish, and a close with a claim outstanding. */
static void test_abort_and_order(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *a = open_pub(bus, "abort", &cfg), *b = open_pub(bus, "abort", &cfg);
	shmq_sub *sub = open_sub(bus, "abort", 0, &cfg, 0);
	uint8_t buf[MAXM];
	void *zc;

	send_seq(a, 1);
	assert_int_equal(shmq_pub_claim(a, 10, &zc), 0); /* 2 */
	expect_seq(sub, 1, 0, 0);
	assert_int_equal(shmq_pub_abort(a), 0);
	assert_int_equal(shmq_pub_abort(a), -EINVAL);
	send_seq(a, 3);
	expect_seq(sub, 3, 0, 1);
	assert_int_equal(sub_stats(sub).skipped, 1);
	assert_int_equal(topic_stats(bus, "abort").skipped, 1);
	/* A claim holds up later records of other producers until it is committed. */
	assert_int_equal(shmq_pub_claim(a, len_of(4), &zc), 0); /* 4 */
	send_seq(b, 5);
	expect_empty(sub);
	fill_pattern(zc, len_of(4), 4);
	assert_int_equal(shmq_pub_commit(a, len_of(4), corr_of(4)), 0);
	expect_seq(sub, 4, 0, 0);
	expect_seq(sub, 5, 0, 0);
	/* Closing with a claim outstanding skips it. */
	assert_int_equal(shmq_pub_claim(a, 10, &zc), 0); /* 6 */
	send_seq(b, 7);
	expect_empty(sub);
	shmq_pub_close(a);
	expect_seq(sub, 7, 0, 1);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), NULL), -EAGAIN);
	assert_int_equal(sub_stats(sub).skipped, 2);
	assert_int_equal(sub_stats(sub).received, 5);
	assert_int_equal(topic_stats(bus, "abort").skipped, 2);
	shmq_pub_close(b);
	shmq_sub_close(sub);
	test_unlink(bus, "abort");
	shmq_bus_close(bus);
}

/* ---- zero-copy receive ---- */

static void expect_peek(shmq_sub *sub, uint64_t seq, uint64_t lost)
{
	struct shmq_sub_msg info;
	const void *data = NULL;
	int r;

	memset(&info, 0xa5, sizeof(info));
	r = shmq_sub_peek(sub, &data, &info);
	check_rec(data, r, &info, seq);
	assert_true(((uintptr_t)data & 7) == 0);
	assert_int_equal(info.lost, lost);
	assert_int_equal(info.skipped, 0);
}

/* Reliable: peeked records hold producers back until released; receives wait for it. */
static void test_peek_release(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "peek", &cfg);
	shmq_sub *sub = open_sub(bus, "peek", 0, &cfg, 0);
	struct shmq_sub_rmsg rm = { .buf = (uint8_t[MAXM]){ 0 }, .cap = MAXM };
	const void *data;
	uint64_t s;

	assert_int_equal(shmq_sub_peek(sub, &data, NULL), -EAGAIN);
	assert_int_equal(shmq_sub_peek(sub, NULL, NULL), -EINVAL);
	assert_int_equal(shmq_sub_peek(NULL, &data, NULL), -EINVAL);
	assert_int_equal(shmq_sub_release(NULL), -EINVAL);
	assert_int_equal(shmq_sub_release(sub), 0);
	for (s = 1; s <= 8; s++)
		send_seq(pub, s);
	for (s = 1; s <= 8; s++)
		expect_peek(sub, s, 0);
	assert_int_equal(shmq_sub_peek(sub, &data, NULL), -EAGAIN);
	assert_int_equal(shmq_sub_recv(sub, NULL, 0, NULL), -EBUSY);
	assert_int_equal(shmq_sub_recv_many(sub, &rm, 1), -EBUSY);
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN); /* still held */
	assert_int_equal(sub_stats(sub).cursor, 9);
	assert_int_equal(shmq_sub_release(sub), 8);
	assert_int_equal(shmq_sub_release(sub), 0);
	for (s = 9; s <= 16; s++)
		send_seq(pub, s);
	expect_peek(sub, 9, 0);
	expect_peek(sub, 10, 0);
	assert_int_equal(shmq_sub_release(sub), 2);
	expect_seq(sub, 11, 0, 0); /* copy and zero-copy receives mix */
	expect_peek(sub, 12, 0);
	assert_int_equal(shmq_sub_release(sub), 1);
	assert_int_equal(shmq_sub_recv_many(sub, &rm, 1), 1);
	assert_int_equal(rm.info.seq, 13);
	assert_int_equal(sub_stats(sub).received, 13);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "peek");
	shmq_bus_close(bus);
}

/* Lossy: peeked records overwritten before the release are said so, and counted lost. */
static void test_peek_lossy(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "peekl", &cfg);
	shmq_sub *sub = open_sub(bus, "peekl", 0, &cfg, 0);
	struct shmq_sub_stats ss;
	uint64_t s;

	for (s = 1; s <= 4; s++)
		send_seq(pub, s);
	for (s = 1; s <= 4; s++)
		expect_peek(sub, s, 0);
	for (s = 5; s <= 8; s++) /* slots 5..7, 0: the peeked ones are intact */
		send_seq(pub, s);
	assert_int_equal(shmq_sub_release(sub), 4);
	for (s = 5; s <= 7; s++)
		expect_peek(sub, s, 0);
	for (s = 9; s <= 14; s++) /* 13 and 14 overwrite the peeked 5 and 6; 7 is intact */
		send_seq(pub, s);
	assert_int_equal(shmq_sub_release(sub), -ESTALE);
	ss = sub_stats(sub);
	assert_int_equal(ss.lost, 2);
	assert_int_equal(ss.received, 5);
	assert_int_equal(ss.cursor, 8);
	for (s = 8; s <= 14; s++) /* retained: 7..14 */
		expect_seq(sub, s, 0, 0);
	ss = sub_stats(sub);
	assert_int_equal(ss.received + ss.lost, 14);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "peekl");
	shmq_bus_close(bus);
}

/* Lossy: lapped in the middle of a peeked run; only the overwritten record is lost. */
static void test_peek_lapped(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "peekj", &cfg);
	shmq_sub *sub = open_sub(bus, "peekj", 0, &cfg, 0);
	struct shmq_sub_stats ss;
	uint64_t s;

	for (s = 1; s <= 2; s++)
		send_seq(pub, s);
	expect_peek(sub, 1, 0);
	for (s = 3; s <= 16; s++) /* tail 17: retained 9..16; 9 overwrote the peeked 1 */
		send_seq(pub, s);
	expect_peek(sub, 9, 7); /* 2..8 lost */
	expect_peek(sub, 10, 0);
	assert_int_equal(shmq_sub_release(sub), -ESTALE);
	ss = sub_stats(sub);
	assert_int_equal(ss.lost, 8); /* 1 (peeked, overwritten) and 2..8 */
	assert_int_equal(ss.received, 2); /* 9 and 10 are intact */
	assert_int_equal(ss.cursor, 11);
	for (s = 11; s <= 16; s++)
		expect_seq(sub, s, 0, 0);
	assert_int_equal(sub_stats(sub).received + sub_stats(sub).lost, 16);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "peekj");
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		/* the producer side */
		cmocka_unit_test(test_claim_commit),
		cmocka_unit_test(test_abort_and_order),
		/* the subscriber side */
		cmocka_unit_test(test_peek_release),
		cmocka_unit_test(test_peek_lossy),
		cmocka_unit_test(test_peek_lapped),
	};

	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("topic-zc", tests, NULL, test_cleanup);
}
