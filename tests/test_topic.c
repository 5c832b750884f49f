// SPDX-License-Identifier: MIT
/* test_topic.c - topics: config, publish/receive, full, loss, replay, zero-copy, stats, hostile. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"
#include "internal.h"
#include "shm_layout.h"

#define MAXM 200u /* max_msg of most tests: 48 + 200 bytes round up to 256-byte slots */

static struct shmq_topic_config cfg_of(uint32_t slots, uint32_t policy)
{
	return (struct shmq_topic_config){ .slots = slots,
					   .max_msg = MAXM,
					   .policy = policy,
					   .max_subscribers = 8,
					   .max_producers = 8 };
}

static shmq_pub *open_pub(shmq_bus *bus, const char *name, const struct shmq_topic_config *cfg)
{
	shmq_pub *pub = NULL;

	assert_int_equal(shmq_pub_open(bus, name, SHMQ_OPEN_CREATE, cfg, &pub), 0);
	assert_non_null(pub);
	assert_true(shmq_pub_id(pub) > 0);
	return pub;
}

static shmq_sub *open_sub(shmq_bus *bus, const char *name, unsigned flags,
			  const struct shmq_topic_config *cfg, uint64_t from_seq)
{
	shmq_sub *sub = NULL;

	assert_int_equal(shmq_sub_open(bus, name, SHMQ_OPEN_CREATE | flags, cfg, from_seq, &sub),
			 0);
	assert_non_null(sub);
	return sub;
}

static void fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Record @seq's length and correlation id, known to both sides. */
static size_t len_of(uint64_t seq)
{
	return (size_t)((seq * 37) % (MAXM + 1));
}

static uint64_t corr_of(uint64_t seq)
{
	return seq * 1000 + 7;
}

/* Publish what record @seq is expected to hold (the caller knows it gets sequence @seq). */
static void send_seq(shmq_pub *pub, uint64_t seq)
{
	uint8_t buf[MAXM];

	fill_pattern(buf, len_of(seq), seq);
	assert_int_equal(shmq_pub_send(pub, buf, len_of(seq), corr_of(seq)), 0);
}

/* send_seq(), retrying -EAGAIN for up to 5 s. */
static void send_retry(shmq_pub *pub, uint64_t seq)
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

static void check_rec(const uint8_t *buf, int r, const struct shmq_sub_msg *info, uint64_t seq)
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
static struct shmq_sub_msg expect_seq(shmq_sub *sub, uint64_t seq, uint64_t lost, uint64_t skipped)
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

static void expect_empty(shmq_sub *sub)
{
	uint8_t buf[MAXM];

	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), NULL), -EAGAIN);
}

static struct shmq_sub_stats sub_stats(const shmq_sub *sub)
{
	struct shmq_sub_stats st;

	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(shmq_sub_stats(sub, &st), 0);
	return st;
}

static struct shmq_topic_stats topic_stats(shmq_bus *bus, const char *name)
{
	struct shmq_topic_stats st;

	memset(&st, 0xa5, sizeof(st));
	assert_true(shmq_topic_stat(bus, name, &st, NULL, 0) >= 0);
	return st;
}

/* ---- configuration and attach ---- */

static void expect_bad_cfg(shmq_bus *bus, const struct shmq_topic_config *cfg)
{
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;

	assert_int_equal(shmq_pub_open(bus, "cfg", SHMQ_OPEN_CREATE, cfg, &pub), -EINVAL);
	assert_int_equal(shmq_sub_open(bus, "cfg", SHMQ_OPEN_CREATE, cfg, 0, &sub), -EINVAL);
	assert_null(pub);
	assert_null(sub);
}

static void test_config_invalid(void **state)
{
	static const struct shmq_topic_config bad[] = {
		{ .slots = 1 },
		{ .slots = 3 },
		{ .slots = 1000 },
		{ .slots = SHMQ_TOPIC_MAX_SLOTS * 2 },
		{ .slots = 0x80000000u },
		{ .slots = 0xffffffffu },
		{ .max_msg = (1u << 30) + 1 },
		{ .max_msg = 0xffffffffu },
		{ .policy = 2 },
		{ .policy = 0xffffffffu },
		{ .mode = 01000 },
		{ .mode = 04755 },
		{ .mode = 0xffffffffu },
		{ .max_subscribers = SHMQ_TOPIC_MAX_SUBSCRIBERS + 1 },
		{ .max_subscribers = 0xffffffffu },
		{ .max_producers = SHMQ_TOPIC_MAX_PRODUCERS + 1 },
		{ .max_producers = 0xffffffffu },
	};
	shmq_bus *bus = test_bus();
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_cfg(bus, &bad[i]);
	/* Flags: unknown bits, a subscriber start flag on a producer, two start flags. */
	assert_int_equal(shmq_pub_open(bus, "cfg", SHMQ_OPEN_CREATE | 0x8000u, NULL, &pub),
			 -EINVAL);
	assert_int_equal(
		shmq_pub_open(bus, "cfg", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL, &pub),
		-EINVAL);
	assert_int_equal(
		shmq_pub_open(bus, "cfg", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, NULL, &pub),
		-EINVAL);
	assert_int_equal(shmq_sub_open(bus, "cfg", SHMQ_OPEN_CREATE | 0x8000u, NULL, 0, &sub),
			 -EINVAL);
	assert_int_equal(
		shmq_sub_open(bus, "cfg", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, 0, &sub),
		-EINVAL);
	assert_int_equal(
		shmq_sub_open(bus, "cfg", SHMQ_OPEN_CREATE | SHMQ_PUB_EXCLUSIVE, NULL, 0, &sub),
		-EINVAL);
	assert_int_equal(
		shmq_sub_open(bus, "cfg", SHMQ_SUB_EARLIEST | SHMQ_SUB_FROM_SEQ, NULL, 5, &sub),
		-EINVAL);
	assert_int_equal(
		shmq_sub_open(bus, "cfg", SHMQ_SUB_LATEST | SHMQ_SUB_EARLIEST, NULL, 0, &sub),
		-EINVAL);
	assert_int_equal(
		shmq_sub_open(bus, "cfg", SHMQ_SUB_LATEST | SHMQ_SUB_FROM_SEQ, NULL, 5, &sub),
		-EINVAL);
	/* EXCL only means something with CREATE, as for channels. */
	assert_int_equal(shmq_pub_open(bus, "cfg", SHMQ_OPEN_EXCL, NULL, &pub), -EINVAL);
	assert_int_equal(shmq_sub_open(bus, "cfg", SHMQ_OPEN_EXCL, NULL, 0, &sub), -EINVAL);
	/* Bad handles and names. */
	assert_int_equal(shmq_pub_open(NULL, "cfg", SHMQ_OPEN_CREATE, NULL, &pub), -EINVAL);
	assert_int_equal(shmq_pub_open(bus, NULL, SHMQ_OPEN_CREATE, NULL, &pub), -EINVAL);
	assert_int_equal(shmq_pub_open(bus, "a..b", SHMQ_OPEN_CREATE, NULL, &pub), -EINVAL);
	assert_int_equal(shmq_pub_open(bus, "", SHMQ_OPEN_CREATE, NULL, &pub), -EINVAL);
	assert_int_equal(shmq_pub_open(bus, "cfg", SHMQ_OPEN_CREATE, NULL, NULL), -EINVAL);
	assert_int_equal(shmq_sub_open(NULL, "cfg", SHMQ_OPEN_CREATE, NULL, 0, &sub), -EINVAL);
	assert_int_equal(shmq_sub_open(bus, "a/b", SHMQ_OPEN_CREATE, NULL, 0, &sub), -EINVAL);
	assert_int_equal(shmq_sub_open(bus, "cfg", SHMQ_OPEN_CREATE, NULL, 0, NULL), -EINVAL);
	assert_null(pub);
	assert_null(sub);
	/* None of that created anything. */
	assert_int_equal(shmq_pub_open(bus, "cfg", 0, NULL, &pub), -ENOENT);
	shmq_bus_close(bus);
}

/* The limits themselves are accepted. */
static void test_config_limits(void **state)
{
	static const struct shmq_topic_config good[] = {
		{ .slots = 2 },
		{ .slots = 2, .max_msg = 1 },
		{ .slots = 4, .max_subscribers = 1, .max_producers = 1 },
		{ .slots = 4,
		  .max_subscribers = SHMQ_TOPIC_MAX_SUBSCRIBERS,
		  .max_producers = SHMQ_TOPIC_MAX_PRODUCERS },
		{ .slots = 2, .max_msg = 1u << 20, .policy = SHMQ_TOPIC_LOSSY, .mode = 0777 },
	};
	shmq_bus *bus = test_bus();
	struct shmq_topic_stats st;
	shmq_pub *pub;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(shmq_pub_open(bus, "lim", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL,
					       &good[i], &pub),
				 0);
		st = topic_stats(bus, "lim");
		assert_int_equal(st.slots, good[i].slots);
		assert_int_equal(st.max_msg,
				 good[i].max_msg ? good[i].max_msg : SHMQ_TOPIC_DEFAULT_MAX_MSG);
		assert_int_equal(st.policy, good[i].policy);
		shmq_pub_close(pub);
		test_unlink(bus, "lim");
	}
	shmq_bus_close(bus);
}

static unsigned file_mode(shmq_bus *bus, const char *name)
{
	char path[300], full[320];
	struct stat st;

	test_path(bus, name, path, sizeof(path));
	snprintf(full, sizeof(full), "/dev/shm%s", path);
	assert_int_equal(stat(full, &st), 0);
	return st.st_mode & 07777;
}

static void test_defaults(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_stats st;
	uint64_t before = test_wall_ns();
	shmq_pub *pub = open_pub(bus, "def", NULL);
	shmq_sub *sub = NULL;

	st = topic_stats(bus, "def");
	assert_int_equal(st.slots, SHMQ_TOPIC_DEFAULT_SLOTS);
	assert_int_equal(st.max_msg, SHMQ_TOPIC_DEFAULT_MAX_MSG);
	assert_int_equal(st.policy, SHMQ_TOPIC_RELIABLE);
	assert_int_equal(st.claim_timeout_ns, SHMQ_TOPIC_DEFAULT_CLAIM_TIMEOUT_NS);
	assert_int_equal(st.tail, 1);
	assert_int_equal(st.oldest, 1);
	assert_int_equal(st.subscribers, 0);
	assert_int_equal(st.producers, 1);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.creator_pid, getpid());
	assert_true(st.created_ns >= before && st.created_ns <= test_wall_ns());
	assert_int_equal(file_mode(bus, "def"), 0600);
	/* The default max_msg is exact. */
	assert_int_equal(shmq_sub_open(bus, "def", 0, NULL, 0, &sub), 0);
	{
		static uint8_t big[SHMQ_TOPIC_DEFAULT_MAX_MSG + 1];

		assert_int_equal(shmq_pub_send(pub, big, sizeof(big), 0), -EMSGSIZE);
		assert_int_equal(shmq_pub_send(pub, big, sizeof(big) - 1, 0), 0);
		assert_int_equal(shmq_sub_recv(sub, big, sizeof(big), NULL),
				 SHMQ_TOPIC_DEFAULT_MAX_MSG);
	}
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "def");
	shmq_bus_close(bus);
}

/* Attach as producer and subscriber, with and without CREATE; @detail: what a failure says. */
static void expect_attach(shmq_bus *bus, const char *name, const struct shmq_topic_config *cfg,
			  int want, const char *detail)
{
	for (unsigned flags = 0; flags <= SHMQ_OPEN_CREATE; flags += SHMQ_OPEN_CREATE) {
		shmq_pub *pub = NULL;
		shmq_sub *sub = NULL;

		assert_int_equal(shmq_pub_open(bus, name, flags, cfg, &pub), want);
		assert_string_equal(shmq_last_detail(), detail);
		assert_int_equal(shmq_sub_open(bus, name, flags, cfg, 0, &sub), want);
		assert_string_equal(shmq_last_detail(), detail);
		assert_true((pub != NULL) == (want == 0) && (sub != NULL) == (want == 0));
		shmq_pub_close(pub);
		shmq_sub_close(sub);
	}
}

static void test_attach(void **state)
{
	const struct shmq_topic_config cfg = { .slots = 16,
					       .max_msg = MAXM,
					       .policy = SHMQ_TOPIC_LOSSY,
					       .mode = 0640,
					       .max_subscribers = 4,
					       .max_producers = 5,
					       .claim_timeout_ns = 5000000 };
	shmq_bus *bus = test_bus();
	struct shmq_topic_config c;
	struct shmq_topic_stats st;
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;

	assert_int_equal(shmq_pub_open(bus, "att", 0, &cfg, &pub), -ENOENT);
	assert_int_equal(shmq_sub_open(bus, "att", SHMQ_SUB_EARLIEST, &cfg, 0, &sub), -ENOENT);
	assert_int_equal(shmq_topic_stat(bus, "att", &st, NULL, 0), -ENOENT);
	assert_int_equal(
		shmq_sub_open(bus, "att", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &cfg, 0, &sub), 0);
	shmq_sub_close(sub);
	sub = NULL;
	assert_int_equal(shmq_pub_open(bus, "att", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &cfg, &pub),
			 -EEXIST);
	assert_int_equal(
		shmq_sub_open(bus, "att", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &cfg, 0, &sub),
		-EEXIST);
	assert_null(pub);
	assert_null(sub);
	assert_int_equal(file_mode(bus, "att"), 0640);
	st = topic_stats(bus, "att");
	assert_int_equal(st.slots, 16);
	assert_int_equal(st.max_msg, MAXM);
	assert_int_equal(st.policy, SHMQ_TOPIC_LOSSY);
	assert_int_equal(st.claim_timeout_ns, 5000000);
	/* Every non-zero field must match; mode and claim timeout do not matter. */
	expect_attach(bus, "att", &cfg, 0, "");
	expect_attach(bus, "att", &(struct shmq_topic_config){ .policy = SHMQ_TOPIC_LOSSY }, 0, "");
	c = cfg;
	c.mode = 0600;
	c.claim_timeout_ns = 7000000;
	expect_attach(bus, "att", &c, 0, "");
	/* A field that differs is -EBADE (not -EEXIST, which is SHMQ_OPEN_EXCL's), named. */
	c = cfg;
	c.slots = 32;
	expect_attach(bus, "att", &c, -EBADE, "slots: topic has 16, asked 32");
	c = cfg;
	c.max_msg = MAXM - 8;
	expect_attach(bus, "att", &c, -EBADE, "max_msg: topic has 200, asked 192");
	c = cfg;
	c.policy = SHMQ_TOPIC_RELIABLE;
	expect_attach(bus, "att", &c, -EBADE, "policy: topic is lossy, asked reliable");
	c = cfg;
	c.max_subscribers = 5;
	expect_attach(bus, "att", &c, -EBADE, "max_subscribers: topic has 4, asked 5");
	c = cfg;
	c.max_producers = 4;
	expect_attach(bus, "att", &c, -EBADE, "max_producers: topic has 5, asked 4");
	/* A bad configuration is rejected even when the topic exists. */
	c = cfg;
	c.slots = 3;
	assert_int_equal(shmq_pub_open(bus, "att", 0, &c, &pub), -EINVAL);
	test_unlink(bus, "att");
	shmq_bus_close(bus);
}

/* A channel is not a topic, and a topic is not a channel: -EPROTOTYPE, which says so. */
static void test_kind_check(void **state)
{
	static const char chan_as_topic[] = "the object is a channel, opened as a topic";
	static const char topic_as_chan[] = "the object is a topic, opened as a channel";
	struct shmq_channel_config ccfg = { .capacity = 4096 };
	shmq_bus *bus = test_bus();
	struct shmq_topic_stats st;
	shmq_channel *ch = NULL;
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;

	assert_int_equal(
		shmq_channel_open(bus, "chan", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &ccfg, &ch),
		0);
	shmq_channel_close(ch);
	ch = NULL;
	assert_int_equal(shmq_pub_open(bus, "chan", 0, NULL, &pub), -EPROTOTYPE);
	assert_string_equal(shmq_last_detail(), chan_as_topic);
	assert_int_equal(shmq_pub_open(bus, "chan", SHMQ_OPEN_CREATE, NULL, &pub), -EPROTOTYPE);
	assert_string_equal(shmq_last_detail(), chan_as_topic);
	assert_int_equal(shmq_sub_open(bus, "chan", 0, NULL, 0, &sub), -EPROTOTYPE);
	assert_string_equal(shmq_last_detail(), chan_as_topic);
	assert_int_equal(shmq_sub_open(bus, "chan", SHMQ_OPEN_CREATE, NULL, 0, &sub), -EPROTOTYPE);
	assert_int_equal(shmq_topic_stat(bus, "chan", &st, NULL, 0), -EPROTOTYPE);
	assert_string_equal(shmq_last_detail(), chan_as_topic);
	assert_string_equal(shmq_last_detail(), ""); /* reading it cleared it */
	assert_null(pub);
	assert_null(sub);
	pub = open_pub(bus, "top", NULL);
	assert_int_equal(shmq_channel_open(bus, "top", SHMQ_OPEN_CONSUMER, NULL, &ch), -EPROTOTYPE);
	assert_string_equal(shmq_last_detail(), topic_as_chan);
	assert_int_equal(shmq_channel_open(bus, "top", SHMQ_OPEN_PRODUCER, NULL, &ch), -EPROTOTYPE);
	assert_string_equal(shmq_last_detail(), topic_as_chan);
	assert_null(ch);
	shmq_pub_close(pub);
	test_unlink(bus, "chan");
	test_unlink(bus, "top");
	shmq_bus_close(bus);
}

/* ---- publish and receive ---- */

static void test_basic(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "basic", NULL);
	shmq_sub *sub = open_sub(bus, "basic", 0, NULL, 0);
	struct shmq_sub_stats ss;
	struct shmq_sub_msg info;
	uint64_t before;
	char buf[MAXM];

	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), -EAGAIN);
	before = test_now_ns();
	assert_int_equal(shmq_pub_send(pub, "hello", 5, 42), 0);
	memset(&info, 0xa5, sizeof(info));
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(info.seq, 1);
	assert_true(info.ts_ns >= before && info.ts_ns <= test_now_ns());
	assert_int_equal(info.corr_id, 42);
	assert_int_equal(info.producer_id, shmq_pub_id(pub));
	assert_int_equal(info.producer_seq, 1);
	assert_int_equal(info.len, 5);
	assert_int_equal(info.lost, 0);
	assert_int_equal(info.skipped, 0);
	for (uint64_t s = 2; s <= 4; s++)
		send_seq(pub, s);
	for (uint64_t s = 2; s <= 4; s++) {
		info = expect_seq(sub, s, 0, 0);
		assert_int_equal(info.producer_seq, s);
		assert_int_equal(info.producer_id, shmq_pub_id(pub));
		assert_true(info.ts_ns >= before && info.ts_ns <= test_now_ns());
	}
	send_seq(pub, 5);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), NULL), (int)len_of(5)); /* no info */
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), -EAGAIN);
	ss = sub_stats(sub);
	assert_int_equal(ss.cursor, 6);
	assert_int_equal(ss.tail, 6);
	assert_int_equal(ss.received, 5);
	assert_int_equal(ss.lost, 0);
	assert_int_equal(ss.skipped, 0);
	/* Argument checks, and NULL handles. */
	assert_int_equal(shmq_pub_send(NULL, "x", 1, 0), -EINVAL);
	assert_int_equal(shmq_pub_send(pub, NULL, 1, 0), -EINVAL);
	assert_int_equal(shmq_sub_recv(NULL, buf, sizeof(buf), NULL), -EINVAL);
	assert_int_equal(shmq_pub_send(pub, "z", 1, 0), 0);
	assert_int_equal(shmq_sub_recv(sub, NULL, 1, NULL), -EINVAL);
	assert_int_equal(shmq_sub_stats(NULL, &ss), -EINVAL);
	assert_int_equal(shmq_sub_stats(sub, NULL), -EINVAL);
	assert_int_equal(shmq_pub_id(NULL), 0);
	shmq_pub_close(NULL);
	shmq_sub_close(NULL);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "basic");
	shmq_bus_close(bus);
}

static void test_sizes(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "sizes", &cfg);
	shmq_sub *sub = open_sub(bus, "sizes", 0, &cfg, 0);
	static uint8_t buf[MAXM + 64], want[MAXM + 64];
	struct shmq_sub_msg info;

	assert_int_equal(shmq_pub_send(pub, NULL, 0, 1), 0);
	assert_int_equal(shmq_pub_send(pub, "x", 0, 2), 0);
	assert_int_equal(shmq_sub_recv(sub, NULL, 0, &info), 0);
	assert_int_equal(info.seq, 1);
	assert_int_equal(info.len, 0);
	assert_int_equal(info.corr_id, 1);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 0);
	assert_int_equal(info.seq, 2);
	/* Exactly max_msg fits; one more does not, and takes no sequence number. */
	fill_pattern(want, MAXM, 3);
	assert_int_equal(shmq_pub_send(pub, want, MAXM + 1, 0), -EMSGSIZE);
	assert_int_equal(shmq_pub_send(pub, want, SIZE_MAX, 0), -EMSGSIZE);
	assert_int_equal(shmq_pub_send(pub, want, MAXM, 3), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), MAXM);
	assert_int_equal(info.seq, 3);
	assert_memory_equal(buf, want, MAXM);
	/* A buffer too small: -EMSGSIZE, the length is told, and the record stays next. */
	fill_pattern(want, 100, 4);
	assert_int_equal(shmq_pub_send(pub, want, 100, 4), 0);
	memset(&info, 0, sizeof(info));
	assert_int_equal(shmq_sub_recv(sub, buf, 99, &info), -EMSGSIZE);
	assert_int_equal(info.len, 100);
	assert_int_equal(shmq_sub_recv(sub, NULL, 0, NULL), -EMSGSIZE);
	assert_int_equal(shmq_sub_recv(sub, buf, 100, &info), 100);
	assert_int_equal(info.seq, 4);
	assert_int_equal(info.corr_id, 4);
	assert_memory_equal(buf, want, 100);
	expect_empty(sub);
	assert_int_equal(sub_stats(sub).received, 4);
	assert_int_equal(topic_stats(bus, "sizes").tail, 5);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "sizes");
	shmq_bus_close(bus);
}

/* Producers get distinct ids, never reused; each stamps its own producer sequence. */
static void test_producers(void **state)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *a = open_pub(bus, "prods", &cfg), *b = open_pub(bus, "prods", &cfg), *c;
	shmq_sub *sub = open_sub(bus, "prods", 0, &cfg, 0);
	static const int who[] = { 0, 1, 0, 0, 1, 1, 0 };
	uint64_t pseq[2] = { 0, 0 };
	uint32_t ids[2] = { shmq_pub_id(a), shmq_pub_id(b) };
	struct shmq_sub_msg info;

	assert_true(ids[0] != ids[1]);
	for (uint64_t s = 1; s <= 7; s++)
		send_seq(who[s - 1] ? b : a, s);
	for (uint64_t s = 1; s <= 7; s++) {
		info = expect_seq(sub, s, 0, 0);
		assert_int_equal(info.producer_id, ids[who[s - 1]]);
		assert_int_equal(info.producer_seq, ++pseq[who[s - 1]]);
	}
	shmq_pub_close(a);
	c = open_pub(bus, "prods", &cfg);
	assert_true(shmq_pub_id(c) != ids[0] && shmq_pub_id(c) != ids[1]);
	send_seq(c, 8);
	info = expect_seq(sub, 8, 0, 0);
	assert_int_equal(info.producer_id, shmq_pub_id(c));
	assert_int_equal(info.producer_seq, 1);
	shmq_pub_close(b);
	shmq_pub_close(c);
	shmq_sub_close(sub);
	test_unlink(bus, "prods");
	shmq_bus_close(bus);
}

/* Many laps through a tiny log with the subscriber keeping up; full at every lap offset. */
static void wrap_one(uint32_t slots, uint32_t policy, uint64_t rounds)
{
	struct shmq_topic_config cfg = cfg_of(slots, policy);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "wrap", &cfg);
	shmq_sub *sub = open_sub(bus, "wrap", 0, &cfg, 0);
	uint64_t rnd = slots * 7 + policy, sent = 0, got = 0;
	struct shmq_sub_stats ss;

	while (got < rounds) {
		if (sent - got < slots && test_rand(&rnd) % 2) {
			send_seq(pub, ++sent);
		} else if (sent > got) {
			expect_seq(sub, ++got, 0, 0);
		} else {
			expect_empty(sub);
			send_seq(pub, ++sent);
		}
		if (policy == SHMQ_TOPIC_RELIABLE && sent - got == slots)
			assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN);
	}
	while (got < sent)
		expect_seq(sub, ++got, 0, 0);
	expect_empty(sub);
	ss = sub_stats(sub);
	assert_int_equal(ss.received, sent);
	assert_int_equal(ss.lost, 0);
	assert_int_equal(ss.cursor, sent + 1);
	assert_int_equal(ss.tail, sent + 1);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "wrap");
	shmq_bus_close(bus);
}

static void test_wrap_around(void **state)
{
	wrap_one(4, SHMQ_TOPIC_RELIABLE, 20000);
	wrap_one(8, SHMQ_TOPIC_RELIABLE, 20000);
	wrap_one(2, SHMQ_TOPIC_RELIABLE, 5000);
	wrap_one(4, SHMQ_TOPIC_LOSSY, 20000);
	wrap_one(8, SHMQ_TOPIC_LOSSY, 20000);
}

/* ---- reliable: the slowest live subscriber gates ---- */

static void test_reliable_full(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "full", &cfg);
	shmq_sub *fast = open_sub(bus, "full", 0, &cfg, 0);
	shmq_sub *slow = open_sub(bus, "full", 0, &cfg, 0);
	struct shmq_pub_msg m[5] = { 0 };
	uint64_t s;
	void *zc;

	for (s = 1; s <= 8; s++) {
		send_seq(pub, s);
		expect_seq(fast, s, 0, 0);
	}
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN);
	assert_int_equal(shmq_pub_claim(pub, 0, &zc), -EAGAIN);
	assert_int_equal(shmq_pub_send_many(pub, m, 5), -EAGAIN);
	expect_seq(slow, 1, 0, 0);
	send_seq(pub, 9);
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN);
	expect_seq(slow, 2, 0, 0);
	expect_seq(slow, 3, 0, 0);
	/* Two free slots: a batch of five publishes two. */
	for (int i = 0; i < 5; i++)
		m[i] = (struct shmq_pub_msg){ .data = "abc", .len = 3, .corr_id = (uint64_t)i };
	assert_int_equal(shmq_pub_send_many(pub, m, 5), 2);
	assert_int_equal(shmq_pub_send_many(pub, m, 5), -EAGAIN);
	assert_int_equal(topic_stats(bus, "full").tail, 12);
	expect_seq(fast, 9, 0, 0);
	assert_int_equal(shmq_sub_recv(fast, NULL, 0, NULL), -EMSGSIZE);
	assert_int_equal(shmq_sub_recv(fast, (char[3]){ 0 }, 3, NULL), 3);
	assert_int_equal(shmq_sub_recv(fast, (char[3]){ 0 }, 3, NULL), 3);
	/* The slow one closes: the fast one (cursor 12) alone gates now. */
	shmq_sub_close(slow);
	for (s = 12; s < 12 + 8; s++)
		send_seq(pub, s);
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN);
	for (s = 12; s < 12 + 8; s++)
		expect_seq(fast, s, 0, 0);
	/* No subscriber at all: producers overwrite the oldest records. */
	shmq_sub_close(fast);
	for (s = 20; s < 20 + 3 * 8; s++)
		send_seq(pub, s);
	shmq_pub_close(pub);
	test_unlink(bus, "full");
	shmq_bus_close(bus);
}

/* A child subscribes, then dies without closing: once reaped it no longer gates. */
static void dead_sub_one(bool killed)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "dead", &cfg);
	int ready[2], go[2];
	char c = 0;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		shmq_sub *sub;

		alarm(60);
		if (shmq_sub_open(bus, "dead", 0, &cfg, 0, &sub) != 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(3);
		_exit(0); /* without shmq_sub_close() */
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	for (uint64_t s = 1; s <= 8; s++)
		send_seq(pub, s);
	for (int i = 0; i < 10; i++) /* alive: it holds the producer back */
		assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN);
	if (killed) {
		kill(pid, SIGKILL);
		assert_int_equal(test_wait(pid), 128 + SIGKILL);
	} else {
		assert_int_equal(write(go[1], "g", 1), 1);
		assert_int_equal(test_wait(pid), 0);
	}
	/* Liveness is checked at most every so often: the first send may wait a little. */
	send_retry(pub, 9);
	for (uint64_t s = 10; s <= 9 + 3 * 8; s++)
		send_seq(pub, s);
	assert_int_equal(topic_stats(bus, "dead").subscribers, 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	shmq_pub_close(pub);
	test_unlink(bus, "dead");
	shmq_bus_close(bus);
}

static void test_dead_subscriber(void **state)
{
	dead_sub_one(false);
	dead_sub_one(true);
}

/* ---- lossy: counted loss ---- */

static void test_lossy_exact(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "lossy", &cfg);
	shmq_sub *sub = open_sub(bus, "lossy", 0, &cfg, 0);
	shmq_sub *sub2 = open_sub(bus, "lossy", 0, &cfg, 0);
	struct shmq_topic_sub_info subs[4];
	uint8_t bufs[8][MAXM];
	struct shmq_sub_rmsg rm[8];
	struct shmq_sub_stats ss;
	uint64_t s;

	for (s = 1; s <= 10 * 8; s++)
		send_seq(pub, s);
	/* Retained: 73..80. The first 72 are lost, and told with the first record received. */
	expect_seq(sub, 73, 72, 0);
	for (s = 74; s <= 80; s++)
		expect_seq(sub, s, 0, 0);
	expect_empty(sub);
	ss = sub_stats(sub);
	assert_int_equal(ss.received, 8);
	assert_int_equal(ss.lost, 72);
	assert_int_equal(ss.skipped, 0);
	assert_int_equal(ss.received + ss.lost, 80);
	assert_int_equal(ss.cursor, 81);
	assert_int_equal(ss.tail, 81);
	/* The same through recv_many. */
	for (int i = 0; i < 8; i++)
		rm[i] = (struct shmq_sub_rmsg){ .buf = bufs[i], .cap = MAXM };
	assert_int_equal(shmq_sub_recv_many(sub2, rm, 8), 8);
	for (int i = 0; i < 8; i++) {
		check_rec(bufs[i], (int)rm[i].info.len, &rm[i].info, 73 + (uint64_t)i);
		assert_int_equal(rm[i].info.lost, i == 0 ? 72 : 0);
	}
	assert_int_equal(sub_stats(sub2).lost, 72);
	/* Others see the counters too. */
	assert_int_equal(shmq_topic_stat(bus, "lossy", NULL, subs, 4), -EINVAL);
	assert_int_equal(shmq_topic_stat(bus, "lossy", &(struct shmq_topic_stats){ 0 }, subs, 4),
			 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(subs[i].pid, getpid());
		assert_int_equal(subs[i].cursor, 81);
		assert_int_equal(subs[i].received, 8);
		assert_int_equal(subs[i].lost, 72);
	}
	assert_int_equal(topic_stats(bus, "lossy").oldest, 73);
	shmq_sub_close(sub);
	shmq_sub_close(sub2);
	shmq_pub_close(pub);
	test_unlink(bus, "lossy");
	shmq_bus_close(bus);
}

/*
 * Random publish and receive runs against a model of the promise: a lapped subscriber
 * resumes at the oldest retained record (tail - slots) and is told exactly how many it lost.
 */
static uint64_t model_recv(shmq_sub *sub, uint64_t tail, uint64_t *cur, unsigned n, bool many)
{
	uint8_t bufs[12][MAXM];
	struct shmq_sub_rmsg rm[12];
	uint64_t want, lost, k;
	int r;

	if (n == 0)
		return 0;
	want = tail - *cur > 8 ? tail - 8 : *cur;
	lost = want - *cur;
	k = tail - want < n ? tail - want : n;
	if (!many) {
		for (uint64_t i = 0; i < k; i++)
			expect_seq(sub, want + i, i ? 0 : lost, 0);
		if (k < n)
			expect_empty(sub);
	} else {
		for (unsigned i = 0; i < n; i++)
			rm[i] = (struct shmq_sub_rmsg){ .buf = bufs[i], .cap = MAXM };
		r = shmq_sub_recv_many(sub, rm, n);
		assert_int_equal(r, k ? (int)k : -EAGAIN);
		for (uint64_t i = 0; i < k; i++) {
			check_rec(bufs[i], (int)rm[i].info.len, &rm[i].info, want + i);
			assert_int_equal(rm[i].info.lost, i ? 0 : lost);
		}
	}
	if (k)
		*cur = want + k;
	return k ? lost : 0;
}

static void test_lossy_model(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "model", &cfg);
	shmq_sub *sub = open_sub(bus, "model", 0, &cfg, 0);
	uint64_t rnd = 99, tail = 1, cur = 1, lost = 0;
	struct shmq_sub_stats ss;

	for (int it = 0; it < 5000; it++) {
		unsigned k = (unsigned)(test_rand(&rnd) % 20), n = (unsigned)(test_rand(&rnd) % 12);

		for (unsigned i = 0; i < k; i++)
			send_seq(pub, tail++);
		lost += model_recv(sub, tail, &cur, n, it % 3 == 0);
	}
	lost += model_recv(sub, tail, &cur, 8, false);
	expect_empty(sub);
	ss = sub_stats(sub);
	assert_int_equal(ss.cursor, tail);
	assert_int_equal(ss.tail, tail);
	assert_int_equal(ss.lost, lost);
	assert_int_equal(ss.received + ss.lost, tail - 1);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "model");
	shmq_bus_close(bus);
}

/* ---- replay ---- */

static shmq_sub *sub_from(shmq_bus *bus, unsigned flags, uint64_t from)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);

	return open_sub(bus, "replay", flags, &cfg, from);
}

static void test_replay(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "replay", &cfg);
	shmq_sub *sub;
	uint64_t s;

	/* Fewer than @slots published: EARLIEST gets them all. */
	for (s = 1; s <= 5; s++)
		send_seq(pub, s);
	sub = sub_from(bus, SHMQ_SUB_EARLIEST, 0);
	for (s = 1; s <= 5; s++)
		expect_seq(sub, s, 0, 0);
	expect_empty(sub);
	shmq_sub_close(sub);
	/*
	 * 20 published (nobody gating): the last 8 are retained. EARLIEST wants the oldest
	 * retained record, which is there: nothing counts as lost. FROM_SEQ 1 wants record 1,
	 * which is gone: the 12 before the oldest count as lost.
	 */
	for (s = 6; s <= 20; s++)
		send_seq(pub, s);
	assert_int_equal(topic_stats(bus, "replay").oldest, 13);
	sub = sub_from(bus, SHMQ_SUB_EARLIEST, 0);
	expect_seq(sub, 13, 0, 0);
	for (s = 14; s <= 20; s++)
		expect_seq(sub, s, 0, 0);
	expect_empty(sub);
	assert_int_equal(sub_stats(sub).lost, 0);
	shmq_sub_close(sub);
	sub = sub_from(bus, SHMQ_SUB_FROM_SEQ, 1);
	expect_seq(sub, 13, 12, 0);
	for (s = 14; s <= 20; s++)
		expect_seq(sub, s, 0, 0);
	expect_empty(sub);
	assert_int_equal(sub_stats(sub).lost, 12);
	assert_int_equal(sub_stats(sub).received + sub_stats(sub).lost, 20);
	shmq_sub_close(sub);
	/* FROM_SEQ in the retained range starts there, with nothing lost. */
	sub = sub_from(bus, SHMQ_SUB_FROM_SEQ, 15);
	assert_int_equal(sub_stats(sub).cursor, 15);
	for (s = 15; s <= 20; s++)
		expect_seq(sub, s, 0, 0);
	expect_empty(sub);
	shmq_sub_close(sub);
	sub = sub_from(bus, SHMQ_SUB_FROM_SEQ, 13);
	expect_seq(sub, 13, 0, 0);
	shmq_sub_close(sub);
	/* FROM_SEQ older than retained: the oldest, and the gap is lost. */
	sub = sub_from(bus, SHMQ_SUB_FROM_SEQ, 5);
	expect_seq(sub, 13, 8, 0);
	assert_int_equal(sub_stats(sub).lost, 8);
	shmq_sub_close(sub);
	/* LATEST: only what comes next. */
	sub = sub_from(bus, SHMQ_SUB_LATEST, 0);
	expect_empty(sub);
	send_seq(pub, 21);
	expect_seq(sub, 21, 0, 0);
	shmq_sub_close(sub);
	sub = sub_from(bus, 0, 0); /* the default is LATEST */
	expect_empty(sub);
	send_seq(pub, 22);
	expect_seq(sub, 22, 0, 0);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "replay");
	shmq_bus_close(bus);
}

/*
 * FROM_SEQ at the tail or beyond waits for that record; the records before it were not
 * wanted (nothing lost). On a reliable topic such a subscriber gates only from its cursor.
 */
static void test_replay_future(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "replay", &cfg);
	shmq_sub *sub;
	uint64_t s;

	for (s = 1; s <= 3; s++)
		send_seq(pub, s);
	sub = sub_from(bus, SHMQ_SUB_FROM_SEQ, 4); /* the tail */
	expect_empty(sub);
	send_seq(pub, 4);
	expect_seq(sub, 4, 0, 0);
	shmq_sub_close(sub);
	sub = sub_from(bus, SHMQ_SUB_FROM_SEQ, 8);
	expect_empty(sub);
	for (s = 5; s <= 7; s++) {
		send_seq(pub, s);
		expect_empty(sub);
	}
	send_seq(pub, 8);
	expect_seq(sub, 8, 0, 0);
	send_seq(pub, 9);
	expect_seq(sub, 9, 0, 0);
	shmq_sub_close(sub);
	/* Far ahead: producers run freely up to cursor + slots - 1, then are held. */
	sub = sub_from(bus, SHMQ_SUB_FROM_SEQ, 30);
	for (s = 10; s < 30 + 8; s++)
		send_seq(pub, s);
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN);
	for (s = 30; s < 30 + 8; s++)
		expect_seq(sub, s, 0, 0);
	expect_empty(sub);
	assert_int_equal(sub_stats(sub).lost, 0);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "replay");
	shmq_bus_close(bus);
}

static void test_replay_lossy(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "rl", &cfg);
	shmq_sub *sub;
	uint64_t s;

	for (s = 1; s <= 30; s++)
		send_seq(pub, s);
	sub = open_sub(bus, "rl", SHMQ_SUB_EARLIEST, &cfg, 0);
	expect_seq(sub, 23, 0, 0);
	shmq_sub_close(sub);
	sub = open_sub(bus, "rl", SHMQ_SUB_FROM_SEQ, &cfg, 27);
	for (s = 27; s <= 30; s++)
		expect_seq(sub, s, 0, 0);
	expect_empty(sub);
	shmq_sub_close(sub);
	sub = open_sub(bus, "rl", SHMQ_SUB_FROM_SEQ, &cfg, 2);
	expect_seq(sub, 23, 21, 0);
	shmq_sub_close(sub);
	sub = open_sub(bus, "rl", SHMQ_SUB_FROM_SEQ, &cfg, 33);
	for (s = 31; s <= 32; s++)
		send_seq(pub, s);
	expect_empty(sub);
	send_seq(pub, 33);
	expect_seq(sub, 33, 0, 0);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "rl");
	shmq_bus_close(bus);
}

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

/* ---- the exclusive producer ---- */

static void test_exclusive(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "excl", &cfg), *x = NULL, *y = NULL;
	shmq_sub *sub = open_sub(bus, "excl", 0, &cfg, 0);
	struct shmq_sub_msg info;
	siginfo_t si;
	pid_t pid;

	/* Not while another producer is open. */
	assert_int_equal(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &x), -EBUSY);
	assert_null(x);
	assert_int_equal(topic_stats(bus, "excl").producers, 1);
	shmq_pub_close(pub);
	assert_int_equal(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &x), 0);
	/* No other producer, exclusive or not, while it is open. */
	assert_int_equal(shmq_pub_open(bus, "excl", 0, &cfg, &y), -EBUSY);
	assert_int_equal(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &y), -EBUSY);
	assert_null(y);
	assert_int_equal(topic_stats(bus, "excl").producers, 1);
	for (uint64_t s = 1; s <= 20; s++) {
		send_seq(x, s);
		info = expect_seq(sub, s, 0, 0);
		assert_int_equal(info.producer_id, shmq_pub_id(x));
		assert_int_equal(info.producer_seq, s);
	}
	shmq_pub_close(x);
	pub = open_pub(bus, "excl", &cfg);
	send_seq(pub, 21);
	expect_seq(sub, 21, 0, 0);
	shmq_pub_close(pub);
	/* An exclusive producer that dies is replaced; a zombie (not reaped yet) is dead. */
	pid = fork();
	if (pid == 0)
		_exit(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &x) == 0 ? 0 : 2);
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0); /* a zombie */
	assert_int_equal(si.si_status, 0);
	assert_int_equal(shmq_pub_open(bus, "excl", 0, &cfg, &y), 0);
	shmq_pub_close(y);
	assert_int_equal(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &x), 0);
	assert_int_equal(test_wait(pid), 0);
	send_seq(x, 22);
	expect_seq(sub, 22, 0, 0);
	shmq_pub_close(x);
	assert_int_equal(shmq_pub_open(bus, "excl", 0x8000u, &cfg, &y), -EINVAL);
	shmq_sub_close(sub);
	test_unlink(bus, "excl");
	shmq_bus_close(bus);
}

/*
 * Our pid, recorded by processes that had it before us and died: an exclusive producer
 * (exclusive_pid and its table entry) and a subscriber that still gates. Neither may hold
 * us back: they are judged by their start time like anybody else's.
 */
static void test_own_pid_reused(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	uint64_t start = shmqi_proc_start(getpid()), ns = shmqi_pidns();
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "ownpid", &cfg), *x = NULL;
	shmq_sub *ghost = open_sub(bus, "ownpid", 0, &cfg, 0), *sub;
	struct shmqi_prod_slot *prods;
	struct shmqi_sub_slot *subs;
	struct shmqi_topic *ctl;
	uint8_t *base;
	size_t size;
	uint32_t i;

	(void)state;
	if (start == 0 || ns == 0) {
		shmq_sub_close(ghost);
		shmq_pub_close(pub);
		test_unlink(bus, "ownpid");
		shmq_bus_close(bus);
		skip(); /* no /proc to read start times and namespaces from */
	}
	base = test_map(bus, "ownpid", &size);
	ctl = (struct shmqi_topic *)(base + SHMQI_TOPIC_BODY_OFF);
	prods = (struct shmqi_prod_slot *)(base + ctl->prods_off);
	subs = (struct shmqi_sub_slot *)(base + ctl->subs_off);
	/* The subscriber "ghost" becomes a dead one's entry: our pid, another start time. */
	for (i = 0; i < ctl->max_subs; i++) {
		uint64_t h = atomic_load(&subs[i].owner.head);

		if (shmqi_head_pid(h) == getpid())
			atomic_store(&subs[i].owner.start_time,
				     shmqi_owner_start_word((uint32_t)(h >> 32), start + 1));
	}
	sub = open_sub(bus, "ownpid", 0, &cfg, 0);
	for (uint64_t s = 1; s <= 8; s++) {
		send_seq(pub, s);
		expect_seq(sub, s, 0, 0);
	}
	/* The ghost's cursor is at 1: it gates until a producer finds it dead and reaps it. */
	send_retry(pub, 9);
	expect_seq(sub, 9, 0, 0);
	shmq_pub_close(pub);
	/* A dead exclusive producer with our pid: its entry and exclusive_pid. */
	atomic_store(&prods[0].owner.start_time, shmqi_owner_start_word(3, start + 1));
	atomic_store(&prods[0].owner.pidns, shmqi_owner_ns_word(3, ns));
	atomic_store(&prods[0].owner.head, shmqi_owner_head(getpid(), 3, ns));
	atomic_store(&ctl->exclusive_pid, getpid());
	assert_int_equal(shmq_pub_open(bus, "ownpid", 0, &cfg, &x), 0);
	send_seq(x, 10);
	expect_seq(sub, 10, 0, 0);
	shmq_pub_close(x);
	x = NULL;
	atomic_store(&prods[0].owner.head, shmqi_owner_head(getpid(), 3, ns));
	assert_int_equal(shmq_pub_open(bus, "ownpid", SHMQ_PUB_EXCLUSIVE, &cfg, &x), 0);
	send_seq(x, 11);
	expect_seq(sub, 11, 0, 0);
	shmq_pub_close(x);
	munmap(base, size);
	shmq_sub_close(ghost);
	shmq_sub_close(sub);
	test_unlink(bus, "ownpid");
	shmq_bus_close(bus);
}

/*
 * A subscriber handle gives up only what it holds: after it was judged dead and its entry
 * went to another handle of this process, its close leaves that one gating; a forked
 * child's close of inherited handles leaves ours alone.
 */
static void test_topic_close_only_its_own(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	uint64_t start = shmqi_proc_start(getpid()), h;
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "onlyown", &cfg);
	shmq_sub *stale = open_sub(bus, "onlyown", 0, &cfg, 0), *sub;
	struct shmqi_sub_slot *subs;
	struct shmqi_topic *ctl;
	uint8_t *base;
	size_t size;
	uint64_t s;
	pid_t pid;

	(void)state;
	if (start == 0) {
		shmq_sub_close(stale);
		shmq_pub_close(pub);
		test_unlink(bus, "onlyown");
		shmq_bus_close(bus);
		skip(); /* no /proc to read start times from */
	}
	base = test_map(bus, "onlyown", &size);
	ctl = (struct shmqi_topic *)(base + SHMQI_TOPIC_BODY_OFF);
	subs = (struct shmqi_sub_slot *)(base + ctl->subs_off);
	h = atomic_load(&subs[0].owner.head);
	assert_int_equal(shmqi_head_pid(h), getpid());
	atomic_store(&subs[0].owner.start_time,
		     shmqi_owner_start_word((uint32_t)(h >> 32), start + 1)); /* looks dead */
	for (s = 1; s <= 8; s++)
		send_seq(pub, s);
	send_retry(pub, 9); /* the stale one is reaped */
	sub = open_sub(bus, "onlyown", 0, &cfg, 0); /* takes the freed entry */
	assert_int_equal(shmqi_head_pid(atomic_load(&subs[0].owner.head)), getpid());
	shmq_sub_close(stale);
	assert_int_equal(topic_stats(bus, "onlyown").subscribers, 1);
	for (s = 10; s <= 17; s++)
		send_seq(pub, s);
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN); /* it still gates */
	/* A forked child closes its copies: the subscriber still gates, the producer stays. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_sub_close(sub);
		shmq_pub_close(pub);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(topic_stats(bus, "onlyown").subscribers, 1);
	assert_int_equal(topic_stats(bus, "onlyown").producers, 1);
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN);
	for (s = 10; s <= 17; s++)
		expect_seq(sub, s, 0, 0);
	send_seq(pub, 18);
	expect_seq(sub, 18, 0, 0);
	munmap(base, size);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "onlyown");
	shmq_bus_close(bus);
}

/* ---- batches ---- */

static void batch_check(shmq_sub *sub, struct shmq_sub_rmsg *rm, size_t n, uint64_t first,
			const shmq_pub *pub)
{
	int r = shmq_sub_recv_many(sub, rm, n);

	assert_int_equal(r, (int)n);
	for (size_t i = 0; i < n; i++) {
		check_rec(rm[i].buf, (int)rm[i].info.len, &rm[i].info, first + i);
		assert_int_equal(rm[i].info.producer_id, shmq_pub_id(pub));
		assert_int_equal(rm[i].info.producer_seq, first + i);
		assert_int_equal(rm[i].info.lost, 0);
	}
}

static void test_batches(void **state)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "batch", &cfg);
	shmq_sub *sub = open_sub(bus, "batch", 0, &cfg, 0);
	static uint8_t data[26][MAXM], out[16][MAXM];
	struct shmq_pub_msg m[26];
	struct shmq_sub_rmsg rm[16];

	for (uint64_t s = 1; s <= 26; s++) {
		fill_pattern(data[s - 1], len_of(s), s);
		m[s - 1] = (struct shmq_pub_msg){ data[s - 1], len_of(s), corr_of(s) };
	}
	for (int i = 0; i < 16; i++)
		rm[i] = (struct shmq_sub_rmsg){ .buf = out[i], .cap = MAXM };
	assert_int_equal(shmq_pub_send_many(pub, m, 0), -EINVAL);
	assert_int_equal(shmq_pub_send_many(pub, NULL, 1), -EINVAL);
	assert_int_equal(shmq_pub_send_many(NULL, m, 1), -EINVAL);
	m[3].len = MAXM + 1; /* checked before anything is claimed */
	assert_int_equal(shmq_pub_send_many(pub, m, 10), -EMSGSIZE);
	assert_int_equal(topic_stats(bus, "batch").tail, 1);
	m[3].len = len_of(4);
	assert_int_equal(shmq_pub_send_many(pub, m, 10), 10);
	assert_int_equal(shmq_sub_recv_many(sub, rm, 0), -EINVAL);
	assert_int_equal(shmq_sub_recv_many(NULL, rm, 1), -EINVAL);
	batch_check(sub, rm, 4, 1, pub);
	/* Stops before a record that does not fit its buffer; fails if that is the first. */
	rm[1].cap = len_of(6) - 1;
	assert_int_equal(shmq_sub_recv_many(sub, rm, 6), 1);
	assert_int_equal(rm[0].info.seq, 5);
	rm[0].cap = len_of(6) - 1;
	assert_int_equal(shmq_sub_recv_many(sub, rm, 6), -EMSGSIZE);
	rm[0].cap = rm[1].cap = MAXM;
	assert_int_equal(shmq_sub_recv_many(sub, rm, 16), 5); /* stops when nothing is left */
	assert_int_equal(rm[4].info.seq, 10);
	assert_int_equal(shmq_sub_recv_many(sub, rm, 16), -EAGAIN);
	/* A nearly full reliable log: what fits of a batch is published. */
	assert_int_equal(shmq_pub_send_many(pub, m + 10, 10), 10);
	assert_int_equal(shmq_pub_send_many(pub, m + 20, 6), 6);
	assert_int_equal(shmq_pub_send_many(pub, m, 1), -EAGAIN);
	batch_check(sub, rm, 3, 11, pub);
	assert_int_equal(shmq_pub_send_many(pub, m, 5), 3);
	batch_check(sub, rm, 13, 14, pub);
	assert_int_equal(shmq_sub_recv_many(sub, rm, 16), 3);
	assert_int_equal(rm[2].info.seq, 29);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "batch");
	shmq_bus_close(bus);
}

/* ---- stat, slot exhaustion ---- */

static const struct shmq_topic_sub_info *find_sub(const struct shmq_topic_sub_info *subs, int n,
						  pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (subs[i].pid == pid)
			return &subs[i];
	fail_msg("no subscriber of pid %d", (int)pid);
	return NULL;
}

/* A child subscribes and reads @n records, then waits for a byte on @go (EOF: exit). */
static pid_t spawn_reader(shmq_bus *bus, const char *name, uint64_t n, int ready_fd, int go[2],
			  bool close_it)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	uint8_t buf[MAXM];
	shmq_sub *sub;
	char c;
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	alarm(60);
	close(go[1]); /* so that the parent's close is an EOF here */
	if (shmq_sub_open(bus, name, SHMQ_SUB_EARLIEST, &cfg, 0, &sub) != 0)
		_exit(2);
	for (uint64_t i = 0; i < n; i++)
		if (shmq_sub_recv(sub, buf, sizeof(buf), NULL) < 0)
			_exit(3);
	if (write(ready_fd, "r", 1) != 1 || read(go[0], &c, 1) < 0)
		_exit(4);
	if (close_it)
		shmq_sub_close(sub);
	_exit(0);
}

struct stream_arg {
	shmq_bus *bus;
	_Atomic int stop;
};

static void *stream_pub(void *arg)
{
	struct stream_arg *a = arg;
	shmq_pub *pub;
	uint64_t v = 0;

	assert_int_equal(shmq_pub_open(a->bus, "tsc", 0, NULL, &pub), 0);
	while (!atomic_load(&a->stop))
		if (shmq_pub_send(pub, &v, sizeof(v), 0) == -EAGAIN)
			sched_yield();
	shmq_pub_close(pub);
	return NULL;
}

static void *stream_sub(void *arg)
{
	struct stream_arg *a = arg;
	uint64_t v;
	shmq_sub *sub;

	assert_int_equal(shmq_sub_open(a->bus, "tsc", 0, NULL, 0, &sub), 0);
	while (!atomic_load(&a->stop))
		if (shmq_sub_recv(sub, &v, sizeof(v), NULL) == -EAGAIN)
			sched_yield();
	shmq_sub_close(sub);
	return NULL;
}

/*
 * A topic created 0644: another user may look (stat, the groups of a topic, a group's stat:
 * all read-only mappings) but not subscribe or publish, which write into the segment.
 */
static void test_read_only_user(void **state)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_group *g;
	shmq_pub *pub;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip(); /* needs a second user: run as root */
	cfg.mode = 0644;
	pub = open_pub(bus, "tro", &cfg);
	assert_int_equal(shmq_group_open(bus, "tro", "g", SHMQ_OPEN_CREATE,
					 &(struct shmq_group_config){ .mode = 0644 }, &g),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct shmq_group_stats gst;
		struct shmq_topic_stats st;
		shmq_sub *sub;
		shmq_pub *p2;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (shmq_topic_stat(bus, "tro", &st, NULL, 0) < 0 || st.producers != 1)
			_exit(11);
		if (shmq_topic_groups(bus, "tro", NULL, 0) != 1)
			_exit(12);
		if (shmq_group_stat(bus, "tro", "g", &gst, NULL, 0) != 1)
			_exit(13);
		if (shmq_sub_open(bus, "tro", 0, NULL, 0, &sub) != -EACCES)
			_exit(14);
		if (shmq_pub_open(bus, "tro", 0, NULL, &p2) != -EACCES)
			_exit(15);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* During a stream, a stat never shows a subscriber's cursor ahead of the tail. */
static void test_stat_consistent(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	struct stream_arg a = { .bus = test_bus() };
	struct shmq_topic_sub_info si[2];
	struct shmq_topic_stats st;
	pthread_t p, c;
	shmq_pub *keep = open_pub(a.bus, "tsc", &cfg);
	int i, n, seen = 0;

	(void)state;
	assert_int_equal(pthread_create(&c, NULL, stream_sub, &a), 0);
	assert_int_equal(pthread_create(&p, NULL, stream_pub, &a), 0);
	for (i = 0; i < 3000; i++) {
		n = shmq_topic_stat(a.bus, "tsc", &st, si, 2);
		assert_true(n >= 0);
		if (n < 1)
			continue;
		seen++;
		if (si[0].cursor > st.tail)
			fail_msg("stat %d: cursor %llu ahead of tail %llu", i,
				 (unsigned long long)si[0].cursor, (unsigned long long)st.tail);
	}
	atomic_store(&a.stop, 1);
	assert_int_equal(pthread_join(p, NULL), 0);
	assert_int_equal(pthread_join(c, NULL), 0);
	assert_true(seen > 0);
	shmq_pub_close(keep);
	test_unlink(a.bus, "tsc");
	shmq_bus_close(a.bus);
}

static void test_stat(void **state)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "stat", &cfg);
	shmq_sub *sub = open_sub(bus, "stat", 0, &cfg, 0);
	struct shmq_topic_sub_info subs[4];
	const struct shmq_topic_sub_info *si;
	struct shmq_topic_stats st;
	int ready[2], go[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	for (uint64_t s = 1; s <= 10; s++)
		send_seq(pub, s);
	expect_seq(sub, 1, 0, 0);
	expect_seq(sub, 2, 0, 0);
	pid = spawn_reader(bus, "stat", 3, ready[1], go, true);
	assert_int_equal(read(ready[0], &c, 1), 1);
	memset(subs, 0, sizeof(subs));
	subs[1].pid = -7;
	assert_int_equal(shmq_topic_stat(bus, "stat", &st, subs, 1), 2); /* room for one only */
	assert_int_equal(subs[1].pid, -7);
	assert_int_equal(shmq_topic_stat(bus, "stat", &st, NULL, 0), 2);
	assert_int_equal(shmq_topic_stat(bus, "stat", &st, subs, 4), 2);
	assert_int_equal(st.subscribers, 2);
	assert_int_equal(st.producers, 1);
	assert_int_equal(st.tail, 11);
	assert_int_equal(st.oldest, 1);
	assert_int_equal(st.slots, 16);
	assert_int_equal(st.max_msg, MAXM);
	assert_int_equal(st.policy, SHMQ_TOPIC_RELIABLE);
	assert_int_equal(st.skipped, 0);
	si = find_sub(subs, 2, pid); /* another process's cursor: its lag is visible */
	assert_int_equal(si->cursor, 4);
	assert_int_equal(si->received, 3);
	assert_int_equal(si->lost, 0);
	assert_true(si->heartbeat_ns > 0 && si->heartbeat_ns <= test_now_ns());
	si = find_sub(subs, 2, getpid());
	assert_int_equal(si->cursor, 3);
	assert_int_equal(si->received, 2);
	assert_int_equal(st.tail - si->cursor, 8);
	/* It closes and exits. */
	close(go[1]);
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_topic_stat(bus, "stat", &st, subs, 4), 1);
	assert_int_equal(subs[0].pid, getpid());
	/* Another one exits without closing: no longer counted once it is gone. */
	close(go[0]);
	assert_int_equal(pipe(go), 0);
	pid = spawn_reader(bus, "stat", 1, ready[1], go, false);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(shmq_topic_stat(bus, "stat", &st, subs, 4), 2);
	close(go[1]);
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_topic_stat(bus, "stat", &st, subs, 4), 1);
	assert_int_equal(st.subscribers, 1);
	close(go[0]);
	close(ready[0]);
	close(ready[1]);
	assert_int_equal(shmq_topic_stat(NULL, "stat", &st, NULL, 0), -EINVAL);
	assert_int_equal(shmq_topic_stat(bus, "no.such", &st, NULL, 0), -ENOENT);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "stat");
	shmq_bus_close(bus);
}

/* A child takes every slot and dies without closing: the slots are reclaimed. */
static void eusers_dead(shmq_bus *bus, const struct shmq_topic_config *cfg)
{
	shmq_pub *p[3] = { NULL };
	shmq_sub *s[3] = { NULL };
	pid_t pid = fork();

	if (pid == 0) {
		alarm(60);
		for (int i = 0; i < 2; i++)
			if (shmq_pub_open(bus, "users", 0, cfg, &p[i]) ||
			    shmq_sub_open(bus, "users", 0, cfg, 0, &s[i]))
				_exit(2);
		_exit(shmq_pub_open(bus, "users", 0, cfg, &p[2]) == -EUSERS &&
				      shmq_sub_open(bus, "users", 0, cfg, 0, &s[2]) == -EUSERS
			      ? 0
			      : 3);
	}
	assert_int_equal(test_wait(pid), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(shmq_pub_open(bus, "users", 0, cfg, &p[i]), 0);
		assert_int_equal(shmq_sub_open(bus, "users", 0, cfg, 0, &s[i]), 0);
	}
	assert_int_equal(shmq_pub_open(bus, "users", 0, cfg, &p[2]), -EUSERS);
	assert_int_equal(shmq_sub_open(bus, "users", 0, cfg, 0, &s[2]), -EUSERS);
	for (int i = 0; i < 2; i++) {
		shmq_pub_close(p[i]);
		shmq_sub_close(s[i]);
	}
}

static void test_eusers(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *p1, *p2, *p3 = NULL;
	shmq_sub *s1, *s2, *s3 = NULL;
	uint32_t id2;

	cfg.max_subscribers = 2;
	cfg.max_producers = 2;
	p1 = open_pub(bus, "users", &cfg);
	p2 = open_pub(bus, "users", &cfg);
	id2 = shmq_pub_id(p2);
	assert_int_equal(shmq_pub_open(bus, "users", 0, &cfg, &p3), -EUSERS);
	assert_null(p3);
	s1 = open_sub(bus, "users", 0, &cfg, 0);
	s2 = open_sub(bus, "users", 0, &cfg, 0);
	assert_int_equal(shmq_sub_open(bus, "users", 0, &cfg, 0, &s3), -EUSERS);
	assert_null(s3);
	assert_int_equal(topic_stats(bus, "users").producers, 2);
	assert_int_equal(topic_stats(bus, "users").subscribers, 2);
	shmq_pub_close(p2);
	p3 = open_pub(bus, "users", &cfg);
	assert_true(shmq_pub_id(p3) != id2 && shmq_pub_id(p3) != shmq_pub_id(p1));
	shmq_sub_close(s1);
	s3 = open_sub(bus, "users", 0, &cfg, 0);
	shmq_pub_close(p1);
	shmq_pub_close(p3);
	shmq_sub_close(s2);
	shmq_sub_close(s3);
	assert_int_equal(topic_stats(bus, "users").subscribers, 0);
	eusers_dead(bus, &cfg);
	test_unlink(bus, "users");
	shmq_bus_close(bus);
}

/* ---- threads (also run under TSan) ---- */

#define T_PRODS 3
#define T_SUBS 2
#define T_COUNT 20000u

struct t_arg {
	shmq_pub *pub;
	shmq_sub *sub;
	uint32_t idx;
	int result;
};

/* Set by a thread that failed, so that the others stop waiting for it. */
static _Atomic bool t_stop;

static void *t_producer(void *p)
{
	struct t_arg *a = p;
	uint8_t buf[64];
	uint64_t c = 1;
	int r;

	while (c <= T_COUNT) {
		memcpy(buf, &a->idx, 4);
		memcpy(buf + 8, &c, 8);
		fill_pattern(buf + 16, (size_t)(c % 48), c);
		r = shmq_pub_send(a->pub, buf, 16 + (size_t)(c % 48), c);
		if (r == -EAGAIN && !atomic_load(&t_stop)) {
			sched_yield();
			continue;
		}
		if (r < 0) {
			a->result = r;
			atomic_store(&t_stop, true);
			return NULL;
		}
		c++;
	}
	return NULL;
}

static int t_check(const uint8_t *buf, int r, const struct shmq_sub_msg *info, uint64_t *next,
		   uint64_t *last_seq)
{
	uint8_t want[64];
	uint32_t idx;
	uint64_t c;

	if (r < 16 || info->seq != *last_seq + 1 || info->lost || info->skipped)
		return 1;
	memcpy(&idx, buf, 4);
	memcpy(&c, buf + 8, 8);
	if (idx >= T_PRODS || c != next[idx] || info->producer_seq != c || info->corr_id != c)
		return 2;
	fill_pattern(want, (size_t)(c % 48), c);
	if (r != 16 + (int)(c % 48) || memcmp(buf + 16, want, (size_t)(c % 48)))
		return 3;
	next[idx]++;
	*last_seq = info->seq;
	return 0;
}

static void *t_subscriber(void *p)
{
	struct t_arg *a = p;
	uint64_t next[T_PRODS] = { 1, 1, 1 }, last_seq = 0, got = 0;
	struct shmq_sub_msg info;
	uint8_t buf[64];
	int r;

	while (got < (uint64_t)T_PRODS * T_COUNT) {
		r = shmq_sub_recv(a->sub, buf, sizeof(buf), &info);
		if (r == -EAGAIN && !atomic_load(&t_stop)) {
			sched_yield();
			continue;
		}
		a->result = t_check(buf, r, &info, next, &last_seq);
		if (a->result) {
			atomic_store(&t_stop, true);
			return NULL;
		}
		got++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	struct t_arg pa[T_PRODS], sa[T_SUBS];
	pthread_t pt[T_PRODS], st[T_SUBS];

	atomic_store(&t_stop, false);
	for (int i = 0; i < T_SUBS; i++) {
		sa[i] = (struct t_arg){ .sub = open_sub(bus, "thr", 0, &cfg, 0) };
		assert_int_equal(pthread_create(&st[i], NULL, t_subscriber, &sa[i]), 0);
	}
	for (int i = 0; i < T_PRODS; i++) {
		pa[i] = (struct t_arg){ .pub = open_pub(bus, "thr", &cfg), .idx = (uint32_t)i };
		assert_int_equal(pthread_create(&pt[i], NULL, t_producer, &pa[i]), 0);
	}
	for (int i = 0; i < T_SUBS; i++)
		assert_int_equal(pthread_join(st[i], NULL), 0);
	for (int i = 0; i < T_PRODS; i++) {
		assert_int_equal(pthread_join(pt[i], NULL), 0);
		assert_int_equal(pa[i].result, 0);
		shmq_pub_close(pa[i].pub);
	}
	for (int i = 0; i < T_SUBS; i++) {
		assert_int_equal(sa[i].result, 0);
		expect_empty(sa[i].sub);
		shmq_sub_close(sa[i].sub);
	}
	test_unlink(bus, "thr");
	shmq_bus_close(bus);
}

/* ---- hostile shared memory ---- */

#define H_SLOTS 8u
#define H_MAXM 200u
#define H_TRIALS 400

static const struct shmq_topic_config hcfg_reliable = {
	.slots = H_SLOTS,
	.max_msg = H_MAXM,
	.policy = SHMQ_TOPIC_RELIABLE,
	.max_subscribers = 4,
	.max_producers = 4,
	.claim_timeout_ns = 2000000, /* 2 ms: a hole left by garbage is stepped over quickly */
};

struct hmap {
	uint8_t *base;
	size_t size;
	struct shmqi_topic *ctl;
	uint64_t subs_off, prods_off, ring_off, ring_end;
	uint32_t slot_size;
};

static struct shmq_topic_config hcfg(uint32_t policy)
{
	struct shmq_topic_config c = hcfg_reliable;

	c.policy = policy;
	return c;
}

static void scribble(uint8_t *p, size_t len, uint64_t *rnd)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)test_rand(rnd);
}

static struct hmap hmap_of(shmq_bus *bus)
{
	struct hmap m;

	m.base = test_map(bus, "h", &m.size);
	m.ctl = (struct shmqi_topic *)(m.base + SHMQI_TOPIC_BODY_OFF);
	m.subs_off = m.ctl->subs_off;
	m.prods_off = m.ctl->prods_off;
	m.ring_off = m.ctl->ring_off;
	m.slot_size = m.ctl->slot_size;
	m.ring_end = m.ring_off + (uint64_t)m.ctl->slots * m.slot_size;
	/* What every hostile test relies on: the layout it scribbles over is the one expected. */
	assert_int_equal(((struct shmqi_seg_hdr *)m.base)->body_off, SHMQI_TOPIC_BODY_OFF);
	assert_int_equal(m.ctl->slots, H_SLOTS);
	assert_true(m.slot_size >= sizeof(struct shmqi_trec) + H_MAXM && m.slot_size % 64 == 0);
	assert_true(m.subs_off >= SHMQI_TOPIC_BODY_OFF + sizeof(struct shmqi_topic));
	assert_true(m.prods_off >= m.subs_off + 4 * sizeof(struct shmqi_sub_slot));
	assert_true(m.ring_off >= m.prods_off + 4 * sizeof(struct shmqi_prod_slot));
	assert_true(m.ring_end <= m.size);
	return m;
}

static struct hmap hcreate(shmq_bus *bus, uint32_t policy)
{
	struct shmq_topic_config c = hcfg(policy);
	shmq_pub *pub;

	assert_int_equal(shmq_pub_open(bus, "h", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &c, &pub), 0);
	shmq_pub_close(pub);
	return hmap_of(bus);
}

static void hdestroy(shmq_bus *bus, struct hmap *m)
{
	munmap(m->base, m->size);
	test_unlink(bus, "h");
}

/* An error this library may give for garbage, or a sane success. */
static void h_check(int r, int max_ok, const char *what)
{
	if (r >= 0 && r <= max_ok)
		return;
	switch (r) {
	case -EAGAIN:
	case -EBADMSG:
	case -EPROTO:
	case -ETIMEDOUT:
	case -EBUSY:
	case -EMSGSIZE:
	case -EUSERS:
	case -ESTALE: /* a producer's slot shows a later record; a peeked record overwritten */
		return;
	default:
		fail_msg("%s: unexpected %d (%s)", what, r, shmq_strerror(r));
	}
}

/* Receive into a heap buffer of exactly @cap bytes, so that ASan sees any overrun. */
static void h_recv(shmq_sub *sub, size_t cap)
{
	uint8_t *buf = malloc(cap ? cap : 1);
	struct shmq_sub_msg info;
	int r;

	assert_non_null(buf);
	r = shmq_sub_recv(sub, cap ? buf : NULL, cap, &info);
	h_check(r, (int)cap, "recv");
	if (r >= 0) {
		assert_int_equal(info.len, (size_t)r);
		assert_true(info.len <= H_MAXM);
	}
	free(buf);
}

static void h_recv_many(shmq_sub *sub)
{
	struct shmq_sub_rmsg rm[3];
	int r;

	for (int i = 0; i < 3; i++) {
		rm[i].cap = (size_t)(40 * (i + 1));
		rm[i].buf = malloc(rm[i].cap);
		assert_non_null(rm[i].buf);
	}
	r = shmq_sub_recv_many(sub, rm, 3);
	h_check(r, 3, "recv_many");
	for (int i = 0; i < r; i++)
		assert_true(rm[i].info.len <= rm[i].cap);
	for (int i = 0; i < 3; i++)
		free(rm[i].buf);
}

static void h_publish(shmq_pub *pub)
{
	struct shmq_pub_msg m[3] = { { "abc", 3, 1 }, { NULL, 0, 2 }, { "defgh", 5, 3 } };
	uint8_t data[H_MAXM] = { 0 };
	void *zc;
	int r;

	h_check(shmq_pub_send(pub, data, 40, 9), 0, "send");
	h_check(shmq_pub_send(pub, data, H_MAXM, 9), 0, "send max");
	h_check(shmq_pub_send_many(pub, m, 3), 3, "send_many");
	r = shmq_pub_claim(pub, 24, &zc);
	h_check(r, 0, "claim");
	if (r == 0) {
		memset(zc, 0x5a, 24);
		assert_int_equal(shmq_pub_commit(pub, 24, 1), 0);
	}
	r = shmq_pub_claim(pub, 8, &zc);
	h_check(r, 0, "claim");
	if (r == 0)
		assert_int_equal(shmq_pub_abort(pub), 0);
}

static void h_stat(shmq_bus *bus)
{
	struct shmq_topic_sub_info *subs = malloc(2 * sizeof(*subs));
	struct shmq_topic_stats st;
	int r;

	assert_non_null(subs);
	r = shmq_topic_stat(bus, "h", &st, subs, 2);
	h_check(r, SHMQ_TOPIC_MAX_SUBSCRIBERS, "stat");
	free(subs);
}

/* Zero-copy: whatever a peek says the record holds must lie in the mapping (read it all). */
static void h_peek(shmq_sub *sub)
{
	struct shmq_sub_msg info;
	const uint8_t *data;
	unsigned sum = 0;
	int r;

	for (int i = 0; i < 2; i++) {
		r = shmq_sub_peek(sub, (const void **)&data, &info);
		h_check(r, H_MAXM, "peek");
		for (int k = 0; k < r; k++)
			sum += data[k];
	}
	h_check(shmq_sub_release(sub), 2, "release");
	assert_true(sum < 256u * H_MAXM * 2);
}

static void h_exercise_sub(shmq_sub *sub)
{
	struct shmq_sub_stats ss;

	for (int i = 0; i < 4; i++)
		h_recv(sub, i % 2 ? H_MAXM : 16);
	h_recv_many(sub);
	h_recv(sub, 0);
	h_peek(sub);
	assert_int_equal(shmq_sub_stats(sub, &ss), 0);
}

/* Whatever opens on the garbage, every call on it is an error or sane. */
static void h_exercise(shmq_bus *bus, uint32_t policy)
{
	struct shmq_topic_config c = hcfg(policy);
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL, *sub2 = NULL;
	int r;

	h_stat(bus);
	r = shmq_sub_open(bus, "h", SHMQ_SUB_EARLIEST, &c, 0, &sub);
	h_check(r, 0, "sub_open");
	r = shmq_sub_open(bus, "h", SHMQ_SUB_FROM_SEQ, &c, 3, &sub2);
	h_check(r, 0, "sub_open from");
	r = shmq_pub_open(bus, "h", 0, &c, &pub);
	h_check(r, 0, "pub_open");
	if (pub)
		h_publish(pub);
	if (sub)
		h_exercise_sub(sub);
	if (sub2)
		h_exercise_sub(sub2);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	shmq_sub_close(sub2);
}

/*
 * A call on garbage that never returns is a failure of its own, not a stuck test run: each
 * trial runs under alarm(), and SIGALRM jumps back here to report which trial hung. (The
 * handles of that trial are leaked; the group teardown removes the segment.)
 */
#define HANG_S 10

typedef void (*trial_fn)(shmq_bus *bus, int t, uint64_t *rnd);

static sigjmp_buf hang_jmp;

static void hang_alarm(int sig)
{
	(void)sig;
	siglongjmp(hang_jmp, 1);
}

static void guarded_trials(const char *what, trial_fn fn, int trials, uint64_t seed)
{
	shmq_bus *bus = test_bus();
	uint64_t rnd = seed;
	volatile int t;

	signal(SIGALRM, hang_alarm);
	for (t = 0; t < trials; t++) {
		if (sigsetjmp(hang_jmp, 1)) {
			signal(SIGALRM, SIG_DFL);
			fail_msg("%s: trial %d did not return within %d s (a call loops)", what, t,
				 HANG_S);
		}
		alarm(HANG_S);
		fn(bus, t, &rnd);
		alarm(0);
	}
	signal(SIGALRM, SIG_DFL);
	shmq_bus_close(bus);
}

/* Garbage over the segment header and control block (or the block alone): nothing opens. */
static void control_random_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	struct hmap m = hcreate(bus, (uint32_t)t % 2);
	struct shmq_topic_stats st;
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;

	if (t % 2)
		scribble(m.base + SHMQI_TOPIC_BODY_OFF, sizeof(struct shmqi_topic), rnd);
	else
		scribble(m.base, SHMQI_TOPIC_BODY_OFF + sizeof(struct shmqi_topic), rnd);
	if (atomic_load(&((struct shmqi_seg_hdr *)m.base)->layout) == 0)
		atomic_store(&((struct shmqi_seg_hdr *)m.base)->layout, 2); /* no 2 s wait */
	assert_true(shmq_pub_open(bus, "h", 0, NULL, &pub) < 0);
	assert_true(shmq_sub_open(bus, "h", SHMQ_SUB_EARLIEST, NULL, 0, &sub) < 0);
	assert_true(shmq_topic_stat(bus, "h", &st, NULL, 0) < 0);
	assert_null(pub);
	assert_null(sub);
	hdestroy(bus, &m);
}

static void test_hostile_control_random(void **state)
{
	guarded_trials("control_random", control_random_one, H_TRIALS, 0x1234);
}

/* Each field of the control block set to an extreme value. */
struct poke {
	uint32_t off, width;
	uint64_t value; /* for offsets: added to the segment size when ABOVE_SIZE */
	bool must_fail;
	bool above_size;
};

#define CTL(f) ((uint32_t)offsetof(struct shmqi_topic, f))

static const struct poke pokes[] = {
	{ CTL(slots), 4, 0, true, false },
	{ CTL(slots), 4, 1, true, false },
	{ CTL(slots), 4, 3, true, false },
	{ CTL(slots), 4, 16, true, false }, /* ring past the end */
	{ CTL(slots), 4, 4, true, false }, /* ring shorter than the segment */
	{ CTL(slots), 4, 1u << 31, true, false },
	{ CTL(slots), 4, 0xffffffffu, true, false },
	{ CTL(slot_size), 4, 0, true, false },
	{ CTL(slot_size), 4, 48, true, false },
	{ CTL(slot_size), 4, 100, true, false },
	{ CTL(slot_size), 4, 128, true, false }, /* smaller than header + max_msg */
	{ CTL(slot_size), 4, 0xffffffc0u, true, false },
	{ CTL(max_msg), 4, 0xffffffffu, true, false },
	{ CTL(max_msg), 4, 256 - 48 + 1, true, false },
	{ CTL(max_msg), 4, (1u << 30) + 1, true, false },
	{ CTL(policy), 4, 2, true, false },
	{ CTL(policy), 4, 0xffffffffu, true, false },
	{ CTL(max_subs), 4, 0, true, false },
	{ CTL(max_subs), 4, 257, true, false },
	{ CTL(max_subs), 4, 0xffffffffu, true, false },
	{ CTL(max_prods), 4, 0, true, false },
	{ CTL(max_prods), 4, 257, true, false },
	{ CTL(max_prods), 4, 0xffffffffu, true, false },
	{ CTL(subs_off), 8, 0, true, false },
	{ CTL(subs_off), 8, 1, true, false },
	{ CTL(subs_off), 8, 0, true, true },
	{ CTL(subs_off), 8, (uint64_t)-128, true, true },
	{ CTL(subs_off), 8, UINT64_MAX, true, false },
	{ CTL(subs_off), 8, UINT64_MAX - 127, true, false },
	{ CTL(prods_off), 8, 0, true, false },
	{ CTL(prods_off), 8, 3, true, false },
	{ CTL(prods_off), 8, 0, true, true },
	{ CTL(prods_off), 8, UINT64_MAX, true, false },
	{ CTL(prods_off), 8, UINT64_MAX - 127, true, false },
	{ CTL(ring_off), 8, 0, true, false },
	{ CTL(ring_off), 8, 64, true, false },
	{ CTL(ring_off), 8, 0, true, true },
	{ CTL(ring_off), 8, 4096, true, true },
	{ CTL(ring_off), 8, UINT64_MAX, true, false },
	{ CTL(ring_off), 8, UINT64_MAX - 4095, true, false },
	{ CTL(claim_timeout_ns), 8, 0, false, false },
	{ CTL(claim_timeout_ns), 8, UINT64_MAX, false, false },
	{ CTL(next_producer_id), 4, 0xffffffffu, false, false },
	{ CTL(next_producer_id), 4, 0xfffffffeu, false, false },
	{ CTL(skipped), 8, UINT64_MAX, false, false },
	{ CTL(tail), 8, 0, false, false },
	{ CTL(tail), 8, 2, false, false },
	{ CTL(tail), 8, 1000, false, false },
	{ CTL(tail), 8, SHMQI_SEQ_MAX - 2, false, false },
	{ CTL(tail), 8, SHMQI_SEQ_MAX, false, false },
	{ CTL(tail), 8, 1ull << 63, false, false },
	{ CTL(tail), 8, UINT64_MAX - 3, false, false },
	{ CTL(tail), 8, UINT64_MAX, false, false },
};

static void apply_poke(struct hmap *m, const struct poke *p)
{
	uint8_t *at = (uint8_t *)m->ctl + p->off;
	uint64_t v = p->above_size ? m->size + p->value : p->value;
	uint32_t v32 = (uint32_t)v;

	if (p->width == 4)
		memcpy(at, &v32, 4);
	else
		memcpy(at, &v, 8);
}

static void expect_proto(shmq_bus *bus, const struct shmq_topic_config *c, size_t i)
{
	struct shmq_topic_stats st;
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;
	int r[3];

	r[0] = shmq_pub_open(bus, "h", 0, c, &pub);
	r[1] = shmq_sub_open(bus, "h", SHMQ_SUB_EARLIEST, c, 0, &sub);
	r[2] = shmq_topic_stat(bus, "h", &st, NULL, 0);
	if (r[0] != -EPROTO || r[1] != -EPROTO || r[2] != -EPROTO)
		fail_msg("poke %zu (off %u = %llu): pub_open %d, sub_open %d, stat %d, not -EPROTO",
			 i, pokes[i].off, (unsigned long long)pokes[i].value, r[0], r[1], r[2]);
}

/* Trial t: poke t / 2 under policy t % 2. */
static void fields_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	uint32_t policy = (uint32_t)t % 2;
	size_t i = (size_t)t / 2;
	struct shmq_topic_config c = hcfg(policy);
	shmq_pub *pub;
	shmq_sub *sub;
	struct hmap m;

	(void)rnd;
	/* Attach after the damage: refused where the layout is impossible. */
	m = hcreate(bus, policy);
	apply_poke(&m, &pokes[i]);
	if (pokes[i].must_fail)
		expect_proto(bus, NULL, i);
	h_exercise(bus, policy);
	hdestroy(bus, &m);
	/* Attached before the damage: whatever the handles do, no crash. */
	m = hcreate(bus, policy);
	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", SHMQ_SUB_EARLIEST, &c, 0, &sub), 0);
	h_publish(pub);
	apply_poke(&m, &pokes[i]);
	h_publish(pub);
	h_exercise_sub(sub);
	h_exercise(bus, policy);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	hdestroy(bus, &m);
}

static void test_hostile_fields(void **state)
{
	guarded_trials("fields", fields_one, (int)(2 * sizeof(pokes) / sizeof(pokes[0])), 0);
}

/* A few random bytes anywhere before the ring's end, with nobody attached. */
static void partial_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	uint32_t policy = (uint32_t)t % 2;
	struct shmq_topic_config c = hcfg(policy);
	struct hmap m = hcreate(bus, policy);
	uint64_t off, len;
	shmq_pub *pub;

	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	for (int i = 0; i < t % 11; i++)
		assert_int_equal(shmq_pub_send(pub, "0123456789", 10, 0), 0);
	shmq_pub_close(pub);
	off = test_rand(rnd) % m.ring_end;
	len = 1 + test_rand(rnd) % 16;
	if (off + len > m.ring_end)
		len = m.ring_end - off;
	if (off < 12 && off + len > 8) /* keep the layout word: no 2 s wait */
		off = 12;
	scribble(m.base + off, (size_t)len, rnd);
	h_exercise(bus, policy);
	hdestroy(bus, &m);
}

static void test_hostile_partial(void **state)
{
	guarded_trials("partial", partial_one, H_TRIALS, 0x5678);
}

/* Garbage over the tables, the ring or the hot words while producers and subscribers run. */
static void hostile_live_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	uint32_t policy = (uint32_t)t % 2;
	struct shmq_topic_config c = hcfg(policy);
	struct hmap m = hcreate(bus, policy);
	shmq_pub *pub;
	shmq_sub *sub, *lag;
	uint64_t off, len;

	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", 0, &c, 0, &sub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", 0, &c, 0, &lag), 0);
	for (int i = 0; i < 1 + t % 7; i++) {
		assert_int_equal(shmq_pub_send(pub, "abcdefgh", 8, 1), 0);
		assert_int_equal(shmq_sub_recv(sub, NULL, 0, NULL), -EMSGSIZE);
		assert_int_equal(shmq_sub_recv(sub, (char[8]){ 0 }, 8, NULL), 8);
	}
	switch (t % 5) {
	case 0: /* the subscriber table */
		off = m.subs_off;
		len = 4 * sizeof(struct shmqi_sub_slot);
		break;
	case 1: /* the producer table */
		off = m.prods_off;
		len = 4 * sizeof(struct shmqi_prod_slot);
		break;
	case 2: /* every slot */
		off = m.ring_off;
		len = m.ring_end - m.ring_off;
		break;
	case 3: /* the record headers only */
		for (uint32_t i = 0; i < H_SLOTS; i++)
			scribble(m.base + m.ring_off + (uint64_t)i * m.slot_size,
				 sizeof(struct shmqi_trec), rnd);
		off = m.ring_off;
		len = 0;
		break;
	default: /* the hot words of the control block */
		off = SHMQI_TOPIC_BODY_OFF + CTL(next_producer_id);
		len = sizeof(struct shmqi_topic) - CTL(next_producer_id);
		break;
	}
	scribble(m.base + off, (size_t)len, rnd);
	for (int i = 0; i < 3; i++) {
		h_publish(pub);
		h_exercise_sub(sub);
		h_exercise_sub(lag);
	}
	h_exercise(bus, policy);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	shmq_sub_close(lag);
	hdestroy(bus, &m);
}

static void test_hostile_live(void **state)
{
	guarded_trials("live", hostile_live_one, H_TRIALS, 0x9abc);
}

/* A committed record that lies about itself: -EBADMSG, counted as lost, then the next one. */
static void lie_one(shmq_bus *bus, uint32_t policy, int lie)
{
	struct shmq_topic_config c = hcfg(policy);
	struct hmap m = hcreate(bus, policy);
	struct shmq_sub_stats ss;
	struct shmq_sub_msg info;
	struct shmqi_trec *rec;
	uint8_t buf[H_MAXM];
	shmq_pub *pub;
	shmq_sub *sub;

	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", 0, &c, 0, &sub), 0);
	assert_int_equal(shmq_pub_send(pub, "first", 5, 1), 0);
	assert_int_equal(shmq_pub_send(pub, "second", 6, 2), 0);
	rec = (struct shmqi_trec *)(m.base + m.ring_off + 1 * m.slot_size); /* seq 1 */
	assert_int_equal(atomic_load(&rec->stamp), SHMQI_STAMP(1, SHMQI_STAMP_COMMITTED));
	switch (lie) {
	case 0:
		rec->len = H_MAXM + 1;
		break;
	case 1:
		rec->len = 0xffffffffu;
		break;
	case 2:
		rec->len = (uint32_t)m.slot_size;
		break;
	default:
		rec->flags = 1u << (lie - 3);
		break;
	}
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), -EBADMSG);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 6);
	assert_int_equal(info.seq, 2);
	assert_memory_equal(buf, "second", 6);
	ss = sub_stats(sub);
	assert_int_equal(ss.lost, 1);
	assert_int_equal(ss.received, 1);
	assert_int_equal(ss.cursor, 3);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	hdestroy(bus, &m);
}

/* Stamps that no producer could have written: an error or sane, never a crash. */
static void stamp_one(shmq_bus *bus, uint32_t policy, uint64_t stamp, bool at_second)
{
	struct shmq_topic_config c = hcfg(policy);
	struct hmap m = hcreate(bus, policy);
	struct shmqi_trec *rec;
	shmq_pub *pub;
	shmq_sub *sub;

	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", 0, &c, 0, &sub), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(shmq_pub_send(pub, "abc", 3, 0), 0);
	rec = (struct shmqi_trec *)(m.base + m.ring_off + (at_second ? 2 : 1) * m.slot_size);
	atomic_store(&rec->stamp, stamp);
	for (int i = 0; i < 6; i++) {
		h_exercise_sub(sub);
		h_publish(pub);
		usleep(1000); /* past the 2 ms claim timeout, eventually */
	}
	h_exercise(bus, policy);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	hdestroy(bus, &m);
}

static const uint64_t odd_stamps[] = {
	SHMQI_STAMP(1, 0),
	SHMQI_STAMP(1, SHMQI_STAMP_WRITING),
	SHMQI_STAMP(1, SHMQI_STAMP_SKIPPED),
	SHMQI_STAMP(1 + H_SLOTS, SHMQI_STAMP_COMMITTED),
	SHMQI_STAMP(1 + 1000 * H_SLOTS, SHMQI_STAMP_COMMITTED),
	SHMQI_STAMP(1 + 1000 * H_SLOTS, SHMQI_STAMP_WRITING),
	SHMQI_STAMP(SHMQI_SEQ_MAX - H_SLOTS + 1, SHMQI_STAMP_COMMITTED),
	SHMQI_STAMP(SHMQI_SEQ_MAX + 1, SHMQI_STAMP_COMMITTED),
	UINT64_MAX,
	UINT64_MAX - 1,
	0,
	SHMQI_STAMP(9, SHMQI_STAMP_COMMITTED), /* a lap ahead of seq 1 */
};

#define N_LIES (3 + 32)
#define N_STAMPS ((int)(sizeof(odd_stamps) / sizeof(odd_stamps[0])))

/* Trials: every lie, then every odd stamp at seq 1 and at seq 2, under both policies. */
static void records_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	uint32_t policy = (uint32_t)t % 2;
	int k = t / 2;

	(void)rnd;
	if (k < N_LIES)
		lie_one(bus, policy, k);
	else
		stamp_one(bus, policy, odd_stamps[(k - N_LIES) / 2], (k - N_LIES) % 2);
}

static void test_hostile_records(void **state)
{
	guarded_trials("records", records_one, 2 * (N_LIES + 2 * N_STAMPS), 0);
}

/*
 * A live producer mid-write (an outstanding claim) is never overwritten, not even by the
 * producer that finds a later record of the same slot abandoned: that one times out.
 */
static void test_live_writer_not_overwritten(void **state)
{
	const struct shmq_topic_config cfg = {
		.slots = 2, .max_msg = 64, .policy = SHMQ_TOPIC_LOSSY, .claim_timeout_ns = 20000000
	};
	shmq_bus *bus = test_bus();
	struct shmq_sub_msg mi;
	shmq_pub *q, *p;
	shmq_sub *sub;
	char rb[64];
	void *buf;

	assert_int_equal(shmq_pub_open(bus, "live", SHMQ_OPEN_CREATE, &cfg, &q), 0);
	assert_int_equal(shmq_pub_open(bus, "live", 0, &cfg, &p), 0);
	assert_int_equal(shmq_pub_send(q, "a", 1, 0), 0); /* 1 */
	assert_int_equal(shmq_pub_send(q, "b", 1, 0), 0); /* 2 */
	assert_int_equal(shmq_pub_claim(q, 8, &buf), 0); /* 3: WRITING in slot 1 */
	assert_int_equal(shmq_pub_send(p, "c", 1, 0), 0); /* 4 */
	assert_int_equal(shmq_pub_send(p, "d", 1, 0), -ETIMEDOUT); /* 5: behind live 3 */
	assert_int_equal(shmq_pub_send(p, "e", 1, 0), 0); /* 6 */
	assert_int_equal(shmq_pub_send(p, "XXXXXXX", 8, 0), -ETIMEDOUT); /* 7: slot of 3 */
	assert_memory_not_equal(buf, "XXXXXXX", 7); /* nobody wrote into Q's record */
	memcpy(buf, "QQQQQQQ", 8);
	assert_int_equal(shmq_pub_commit(q, 8, 0), 0);
	/* The log retains 6 and 7 only; 7 was abandoned and is skipped once it times out. */
	assert_int_equal(shmq_sub_open(bus, "live", SHMQ_SUB_EARLIEST, &cfg, 0, &sub), 0);
	assert_int_equal(shmq_sub_recv(sub, rb, sizeof(rb), &mi), 1);
	assert_int_equal(mi.seq, 6);
	assert_int_equal(shmq_sub_wait(sub, 0, 5000000000ull), -ETIMEDOUT); /* nothing after */
	shmq_sub_close(sub);
	shmq_pub_close(p);
	shmq_pub_close(q);
	test_unlink(bus, "live");
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_writer_not_overwritten),
		cmocka_unit_test(test_config_invalid),
		cmocka_unit_test(test_config_limits),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_kind_check),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_producers),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_reliable_full),
		cmocka_unit_test(test_dead_subscriber),
		cmocka_unit_test(test_lossy_exact),
		cmocka_unit_test(test_lossy_model),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_future),
		cmocka_unit_test(test_replay_lossy),
		cmocka_unit_test(test_claim_commit),
		cmocka_unit_test(test_abort_and_order),
		cmocka_unit_test(test_peek_release),
		cmocka_unit_test(test_peek_lossy),
		cmocka_unit_test(test_peek_lapped),
		cmocka_unit_test(test_exclusive),
		cmocka_unit_test(test_own_pid_reused),
		cmocka_unit_test(test_topic_close_only_its_own),
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_stat_consistent),
		cmocka_unit_test(test_read_only_user),
		cmocka_unit_test(test_eusers),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_hostile_control_random),
		cmocka_unit_test(test_hostile_fields),
		cmocka_unit_test(test_hostile_partial),
		cmocka_unit_test(test_hostile_records),
		cmocka_unit_test(test_hostile_live),
	};

	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("topic", tests, NULL, test_cleanup);
}
