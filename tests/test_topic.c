// SPDX-License-Identifier: MIT
/* test_topic.c - topics: config, publish/receive, full, loss, replay, batches, stat, threads. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "internal.h"
#include "shm_layout.h"
#include "topic_common.h"

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
 * all read-only mappings) but not subscribe or publish, which write into the segment; a
 * lossy topic of 0644 it may read with SHMQ_SUB_READONLY, which writes nothing.
 */
static void test_read_only_user(void **state)
{
	struct shmq_topic_config cfg = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	struct shmq_topic_config lossy = cfg_of(16, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *pub, *lpub;
	shmq_group *g;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip(); /* needs a second user: run as root */
	cfg.mode = 0644;
	lossy.mode = 0644;
	pub = open_pub(bus, "tro", &cfg);
	lpub = open_pub(bus, "tro.user", &lossy);
	assert_int_equal(shmq_pub_send(lpub, "hello", 5, 1), 0);
	assert_int_equal(shmq_group_open(bus, "tro", "g", SHMQ_OPEN_CREATE,
					 &(struct shmq_group_config){ .mode = 0644 }, &g),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct shmq_group_stats gst;
		struct shmq_topic_stats st;
		struct shmq_sub_msg m;
		shmq_sub *sub;
		shmq_pub *p2;
		char buf[16];

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
		/* A lossy topic it may read: with a reader that writes nothing. */
		if (shmq_sub_open(bus, "tro.user", SHMQ_SUB_READONLY | SHMQ_SUB_EARLIEST, NULL, 0,
				  &sub) != 0 ||
		    shmq_sub_recv(sub, buf, sizeof(buf), &m) != 5 || m.corr_id != 1)
			_exit(16);
		shmq_sub_close(sub);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
	shmq_group_close(g);
	shmq_pub_close(lpub);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/*
 * A read-only subscriber of a lossy topic: it reads, waits (polling), sees the producers'
 * close, and writes nothing (the segment's bytes outside the ring and the records are
 * unchanged by its reads, and it takes no subscriber entry). Refused on a reliable topic.
 */
static void test_readonly_sub(void **state)
{
	struct shmq_topic_config lossy = cfg_of(8, SHMQ_TOPIC_LOSSY);
	struct shmq_topic_config rel = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "tro.lossy", &lossy), *rp = open_pub(bus, "tro.rel", &rel);
	struct shmq_sub_msg m;
	shmq_sub *sub = NULL;
	uint8_t *before, *after;
	size_t size, size2;
	char buf[64];
	uint64_t i;

	(void)state;
	assert_int_equal(shmq_sub_open(bus, "tro.rel", SHMQ_SUB_READONLY, NULL, 0, &sub), -EINVAL);
	assert_non_null(strstr(shmq_last_detail(), "lossy"));
	assert_int_equal(shmq_sub_open(bus, "tro.lossy", SHMQ_SUB_READONLY | SHMQ_OPEN_CREATE, NULL,
				       0, &sub),
			 -EINVAL);
	for (i = 0; i < 3; i++)
		assert_int_equal(shmq_pub_send(pub, "rec", 3, i), 0);
	assert_int_equal(shmq_sub_open(bus, "tro.lossy", SHMQ_SUB_READONLY | SHMQ_SUB_EARLIEST,
				       NULL, 0, &sub),
			 0);
	assert_int_equal(topic_stats(bus, "tro.lossy").subscribers, 0);
	before = test_map(bus, "tro.lossy", &size);
	{
		uint8_t *copy = malloc(size);

		memcpy(copy, before, size);
		for (i = 0; i < 3; i++) {
			assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), 3);
			assert_int_equal(m.corr_id, i);
		}
		assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), -EAGAIN);
		assert_int_equal(shmq_sub_wait(sub, 0, 2000000), -ETIMEDOUT);
		assert_int_equal(shmq_sub_fd(sub), -EOPNOTSUPP);
		after = test_map(bus, "tro.lossy", &size2);
		assert_int_equal(size, size2);
		assert_memory_equal(copy, after, size); /* nothing written by the reads */
		munmap(after, size2);
		free(copy);
	}
	munmap(before, size);
	/* A record comes while it polls; then the last producer closes: -EPIPE. */
	assert_int_equal(shmq_pub_send(pub, "new", 3, 9), 0);
	assert_int_equal(shmq_sub_wait(sub, 0, 1000000000), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), 3);
	assert_int_equal(m.corr_id, 9);
	shmq_pub_close(pub);
	assert_int_equal(shmq_sub_wait(sub, 0, 1000000000), -EPIPE);
	shmq_sub_close(sub);
	shmq_pub_close(rp);
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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		/* configuration and attach */
		cmocka_unit_test(test_config_invalid),
		cmocka_unit_test(test_config_limits),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_kind_check),
		/* publish and receive */
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_producers),
		cmocka_unit_test(test_wrap_around),
		/* reliable: the slowest live subscriber gates */
		cmocka_unit_test(test_reliable_full),
		cmocka_unit_test(test_dead_subscriber),
		/* lossy: counted loss */
		cmocka_unit_test(test_lossy_exact),
		cmocka_unit_test(test_lossy_model),
		/* replay */
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_future),
		cmocka_unit_test(test_replay_lossy),
		/* batches */
		cmocka_unit_test(test_batches),
		/* stat, slot exhaustion */
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_stat_consistent),
		cmocka_unit_test(test_read_only_user),
		cmocka_unit_test(test_readonly_sub),
		cmocka_unit_test(test_eusers),
		/* threads (also run under TSan) */
		cmocka_unit_test(test_threads),
	};

	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("topic", tests, NULL, test_cleanup);
}
