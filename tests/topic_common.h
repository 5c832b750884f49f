/* SPDX-License-Identifier: MIT */
/* topic_common.h - what the topic tests share: configurations, known records, receive checks. */
#ifndef SHMQ_TEST_TOPIC_COMMON_H
#define SHMQ_TEST_TOPIC_COMMON_H

#include "common.h"

#define MAXM 200u /* max_msg of most tests: 48 + 200 bytes round up to 256-byte slots */

static inline struct shmq_topic_config cfg_of(uint32_t slots, uint32_t policy)
{
	return (struct shmq_topic_config){ .slots = slots,
					   .max_msg = MAXM,
					   .policy = policy,
					   .max_subscribers = 8,
					   .max_producers = 8 };
}

static inline shmq_pub *open_pub(shmq_bus *bus, const char *name,
				 const struct shmq_topic_config *cfg)
{
	shmq_pub *pub = NULL;

	assert_int_equal(shmq_pub_open(bus, name, SHMQ_OPEN_CREATE, cfg, &pub), 0);
	assert_non_null(pub);
	assert_true(shmq_pub_id(pub) > 0);
	return pub;
}

static inline shmq_sub *open_sub(shmq_bus *bus, const char *name, unsigned flags,
				 const struct shmq_topic_config *cfg, uint64_t from_seq)
{
	shmq_sub *sub = NULL;

	assert_int_equal(shmq_sub_open(bus, name, SHMQ_OPEN_CREATE | flags, cfg, from_seq, &sub),
			 0);
	assert_non_null(sub);
	return sub;
}

static inline void fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Record @seq's length and correlation id, known to both sides. */
static inline size_t len_of(uint64_t seq)
{
	return (size_t)((seq * 37) % (MAXM + 1));
}

static inline uint64_t corr_of(uint64_t seq)
{
	return seq * 1000 + 7;
}

/* Publish what record @seq is expected to hold (the caller knows it gets sequence @seq). */
static inline void send_seq(shmq_pub *pub, uint64_t seq)
{
	uint8_t buf[MAXM];

	fill_pattern(buf, len_of(seq), seq);
	assert_int_equal(shmq_pub_send(pub, buf, len_of(seq), corr_of(seq)), 0);
}

/* send_seq(), retrying -EAGAIN for up to 5 s. */
static inline void send_retry(shmq_pub *pub, uint64_t seq)
{
	uint64_t deadline = test_now_ns() + 5000000000ull;
	uint8_t buf[MAXM];
	int r;

	fill_pattern(buf, len_of(seq), seq);
	while ((r = shmq_pub_send(pub, buf, len_of(seq), corr_of(seq))) == -EAGAIN &&
	       test_now_ns() < deadline)
		usleep(100);
	assert_int_equal(r, 0);
}

static inline void check_rec(const uint8_t *buf, int r, const struct shmq_sub_msg *info,
			     uint64_t seq)
{
	uint8_t want[MAXM];

	if (r < 0)
		fail_msg("recv: %d (%s), expected record %llu", r, shmq_strerror(r),
			 (unsigned long long)seq);
	assert_int_equal(info->seq, seq);
	assert_int_equal(r, (int)len_of(seq));
	assert_int_equal(info->len, len_of(seq));
	assert_int_equal(info->corr_id, corr_of(seq));
	assert_true(info->producer_id > 0);
	assert_true(info->producer_seq > 0);
	fill_pattern(want, len_of(seq), seq);
	assert_memory_equal(buf, want, len_of(seq));
}

/* Receive record @seq, checking its payload and what was lost or skipped right before it. */
static inline struct shmq_sub_msg expect_seq(shmq_sub *sub, uint64_t seq, uint64_t lost,
					     uint64_t skipped)
{
	struct shmq_sub_msg info;
	uint8_t buf[MAXM];
	int r;

	memset(&info, 0xa5, sizeof(info));
	r = shmq_sub_recv(sub, buf, sizeof(buf), &info);
	check_rec(buf, r, &info, seq);
	assert_int_equal(info.lost, lost);
	assert_int_equal(info.skipped, skipped);
	return info;
}

static inline void expect_empty(shmq_sub *sub)
{
	uint8_t buf[MAXM];

	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), NULL), -EAGAIN);
}

static inline struct shmq_sub_stats sub_stats(const shmq_sub *sub)
{
	struct shmq_sub_stats st;

	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(shmq_sub_stats(sub, &st), 0);
	return st;
}

static inline struct shmq_topic_stats topic_stats(shmq_bus *bus, const char *name)
{
	struct shmq_topic_stats st;

	memset(&st, 0xa5, sizeof(st));
	assert_true(shmq_topic_stat(bus, name, &st, NULL, 0) >= 0);
	return st;
}

#endif /* SHMQ_TEST_TOPIC_COMMON_H */
