// SPDX-License-Identifier: MIT
/* test_group.c - consumer groups: leases, every outcome, fencing, windows, dead letters, deaths. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "common.h"
#include "internal.h"
#include "shm_layout.h"

#define MAXM 128u

static struct shmq_topic_config tcfg(uint32_t slots, uint32_t policy)
{
	return (struct shmq_topic_config){ .slots = slots, .max_msg = MAXM, .policy = policy };
}

static shmq_pub *open_pub(shmq_bus *bus, const char *name, uint32_t slots, uint32_t policy)
{
	struct shmq_topic_config c = tcfg(slots, policy);
	shmq_pub *pub = NULL;

	assert_int_equal(shmq_pub_open(bus, name, SHMQ_OPEN_CREATE, &c, &pub), 0);
	return pub;
}

static shmq_group *open_group(shmq_bus *bus, const char *topic, const char *group,
			      const struct shmq_group_config *cfg)
{
	shmq_group *g = NULL;

	assert_int_equal(
		shmq_group_open(bus, topic, group, SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, cfg, &g),
		0);
	assert_non_null(g);
	return g;
}

static void send_u64(shmq_pub *pub, uint64_t v)
{
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), v), 0);
}

/* Receive one record: its value, with the message info. */
static uint64_t recv_u64(shmq_group *g, struct shmq_group_msg *m)
{
	uint64_t v = 0;

	assert_int_equal(shmq_group_recv(g, &v, sizeof(v), m), (int)sizeof(v));
	assert_int_equal(m->len, sizeof(v));
	assert_int_equal(m->corr_id, v);
	return v;
}

static void expect_empty(shmq_group *g)
{
	struct shmq_group_msg m;
	uint64_t v;

	assert_int_equal(shmq_group_recv(g, &v, sizeof(v), &m), -EAGAIN);
}

static struct shmq_group_stats stat_of(shmq_bus *bus, const char *topic, const char *group)
{
	struct shmq_group_stats st;

	assert_true(shmq_group_stat(bus, topic, group, &st, NULL, 0) >= 0);
	return st;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

static void test_basic(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "jobs", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "jobs", "workers", NULL);
	struct shmq_group_stats st;
	struct shmq_group_msg m;
	uint64_t i;

	(void)state;
	expect_empty(g);
	for (i = 1; i <= 10; i++)
		send_u64(pub, i);
	for (i = 1; i <= 10; i++) {
		assert_int_equal(recv_u64(g, &m), i);
		assert_int_equal(m.seq, i);
		assert_int_equal(m.attempt, 1);
		assert_int_equal(m.failed, 0);
		assert_true(m.first_ns > 0);
		assert_int_equal(m.producer_id, shmq_pub_id(pub));
		assert_int_equal(m.producer_seq, i);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
		/* Fenced: a second outcome with the same tag changes nothing. */
		assert_int_equal(shmq_group_ack(g, m.lease), -ESTALE);
		assert_int_equal(shmq_group_nack(g, m.lease, 0), -ESTALE);
	}
	expect_empty(g);
	st = stat_of(bus, "jobs", "workers");
	assert_int_equal(st.floor, 11);
	assert_int_equal(st.next, 11);
	assert_int_equal(st.tail, 11);
	assert_int_equal(st.acked, 10);
	assert_int_equal(st.delivered, 10);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.members, 1);
	assert_int_equal(st.max_pending, SHMQ_GROUP_DEFAULT_MAX_PENDING);
	assert_int_equal(st.max_deliveries, SHMQ_GROUP_DEFAULT_MAX_DELIVERIES);
	assert_int_equal(st.ack_wait_ns, SHMQ_GROUP_DEFAULT_ACK_WAIT_NS);
	assert_string_equal(st.dlq, "jobs.dlq");
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_bad_args(void **state)
{
	struct shmq_group_config c = { .max_pending = 100 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = NULL;
	struct shmq_group_msg m;
	char name[80];
	uint64_t v;

	(void)state;
	assert_int_equal(shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE, &c, &g), -EINVAL);
	assert_string_not_equal(shmq_last_detail(), "");
	c = (struct shmq_group_config){ .max_members = 256 };
	assert_int_equal(shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE, &c, &g), -EINVAL);
	c = (struct shmq_group_config){ .ack_wait_ns = 1000 };
	assert_int_equal(shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE, &c, &g), -EINVAL);
	assert_int_equal(shmq_group_open(bus, "t", "a b", SHMQ_OPEN_CREATE, NULL, &g), -EINVAL);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(shmq_group_open(bus, "t", name, SHMQ_OPEN_CREATE, NULL, &g), -EINVAL);
	assert_int_equal(shmq_group_open(bus, "nope", "g", SHMQ_OPEN_CREATE, NULL, &g), -ENOENT);
	assert_int_equal(shmq_group_open(bus, "t", "g", 0, NULL, &g), -ENOENT);
	assert_int_equal(shmq_group_open(bus, "t", "g", 0x8000, NULL, &g), -EINVAL);
	assert_int_equal(shmq_group_open(bus, "t", "g",
					 SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST | SHMQ_SUB_LATEST,
					 NULL, &g),
			 -EINVAL);
	assert_int_equal(
		shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE | SHMQ_SUB_FROM_SEQ, NULL, &g),
		-EINVAL);
	assert_null(g);
	assert_int_equal(
		shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, NULL, &g), 0);
	assert_int_equal(shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, NULL,
					 &(shmq_group *){ NULL }),
			 -EEXIST);
	assert_int_equal(shmq_group_recv(NULL, &v, sizeof(v), &m), -EINVAL);
	assert_int_equal(shmq_group_recv(g, &v, sizeof(v), NULL), -EINVAL);
	assert_int_equal(shmq_group_ack(g, 0), -EINVAL);
	assert_int_equal(shmq_group_ack(g, 12345), -EINVAL);
	assert_int_equal(shmq_group_ack(NULL, 0), -EINVAL);
	/* A group is not a topic, nor a channel: its name does not even parse as one. */
	assert_int_equal(shmq_sub_open(bus, "t@g", 0, NULL, 0, &(shmq_sub *){ NULL }), -EINVAL);
	shmq_group_close(g);
	shmq_group_close(NULL);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_competing(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 256, SHMQ_TOPIC_RELIABLE);
	shmq_group *a = open_group(bus, "t", "g", NULL), *b = open_group(bus, "t", "g", NULL);
	struct shmq_group_msg m;
	struct shmq_group_member_info mi[4];
	struct shmq_group_stats st;
	bool seen[201] = { false };
	uint64_t i, v;

	(void)state;
	for (i = 1; i <= 200; i++)
		send_u64(pub, i);
	for (i = 1; i <= 200; i++) {
		v = recv_u64(i & 1 ? a : b, &m);
		assert_false(seen[v]);
		seen[v] = true;
		/* The other member's tag is not ours to settle. */
		assert_int_equal(shmq_group_ack(i & 1 ? b : a, m.lease), -EINVAL);
		assert_int_equal(shmq_group_ack(i & 1 ? a : b, m.lease), 0);
	}
	expect_empty(a);
	expect_empty(b);
	assert_int_equal(shmq_group_stat(bus, "t", "g", &st, mi, 4), 2);
	assert_int_equal(mi[0].pid, getpid());
	assert_int_equal(mi[0].acked + mi[1].acked, 200);
	assert_int_equal(st.acked, 200);
	shmq_group_close(a);
	shmq_group_close(b);
	/* A second group reads the same records independently. */
	a = open_group(bus, "t", "other", NULL);
	for (i = 1; i <= 200; i++) {
		assert_int_equal(recv_u64(a, &m), i);
		assert_int_equal(shmq_group_ack(a, m.lease), 0);
	}
	shmq_group_close(a);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_nack_delay_backoff(void **state)
{
	struct shmq_group_config c = { .backoff_ns = 20000000, .max_deliveries = 10 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", &c);
	struct shmq_group_msg m, m2;
	struct shmq_group_stats st;

	(void)state;
	send_u64(pub, 1);
	send_u64(pub, 2);
	assert_int_equal(recv_u64(g, &m), 1);
	/* nack(0): redelivered first, before record 2, with the attempt counted. */
	assert_int_equal(shmq_group_nack(g, m.lease, 0), 0);
	assert_int_equal(shmq_group_ack(g, m.lease), -ESTALE);
	assert_int_equal(recv_u64(g, &m), 1);
	assert_int_equal(m.attempt, 2);
	assert_int_equal(m.failed, 1);
	/* A delay holds it back without holding back the record after it. */
	assert_int_equal(shmq_group_nack(g, m.lease, 60000000000ull), 0);
	assert_int_equal(recv_u64(g, &m2), 2);
	assert_int_equal(shmq_group_ack(g, m2.lease), 0);
	expect_empty(g);
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.delayed, 1);
	assert_int_equal(st.floor, 1); /* record 1 is still owed */
	assert_int_equal(st.nacked, 2);
	shmq_group_close(g);
	/* The backoff: 20 ms after the first failure of a fresh record. */
	g = open_group(bus, "t", "g2", &c);
	assert_int_equal(recv_u64(g, &m), 1);
	assert_int_equal(shmq_group_nack(g, m.lease, SHMQ_GROUP_BACKOFF), 0);
	assert_int_equal(recv_u64(g, &m2), 2); /* record 1 is not due yet */
	assert_int_equal(shmq_group_ack(g, m2.lease), 0);
	sleep_ns(25000000);
	assert_int_equal(recv_u64(g, &m), 1);
	assert_int_equal(m.attempt, 2);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* Read one dead letter from @sub: its header and payload value. */
static uint64_t recv_dead(shmq_sub *sub, struct shmq_dlq_hdr *h)
{
	uint8_t buf[MAXM + sizeof(struct shmq_dlq_hdr)];
	struct shmq_sub_msg m;
	uint64_t v;
	int n = shmq_sub_recv(sub, buf, sizeof(buf), &m);

	assert_int_equal(n, (int)(sizeof(*h) + sizeof(v)));
	memcpy(h, buf, sizeof(*h));
	assert_int_equal(h->magic, SHMQ_DLQ_MAGIC);
	assert_int_equal(h->version, 1);
	assert_int_equal(h->hdr_len, sizeof(*h));
	assert_int_equal(h->orig_len, sizeof(v));
	memcpy(&v, buf + h->hdr_len, sizeof(v));
	assert_int_equal(m.corr_id, v);
	return v;
}

static void test_dead_letters(void **state)
{
	struct shmq_group_config c = { .max_deliveries = 3 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", &c);
	struct shmq_group_msg m;
	struct shmq_group_stats st;
	struct shmq_dlq_hdr h;
	shmq_sub *dlq;
	int i;

	(void)state;
	send_u64(pub, 7);
	send_u64(pub, 8);
	for (i = 1; i <= 3; i++) {
		assert_int_equal(recv_u64(g, &m), 7);
		assert_int_equal(m.attempt, i);
		assert_int_equal(shmq_group_nack(g, m.lease, 0), 0);
	}
	/* The dead-letter topic exists now (created at the first dead letter). */
	assert_int_equal(shmq_sub_open(bus, "t.dlq", SHMQ_SUB_EARLIEST, NULL, 0, &dlq), 0);
	assert_int_equal(recv_dead(dlq, &h), 7);
	assert_int_equal(h.reason, SHMQ_DLQ_MAX_DELIVERIES);
	assert_int_equal(h.origin_seq, 1);
	assert_int_equal(h.acquired, 3);
	assert_int_equal(h.failed, 3);
	assert_int_equal(h.producer_id, shmq_pub_id(pub));
	assert_int_equal(h.producer_seq, 1);
	assert_true(h.first_ns > 0 && h.last_ns >= h.first_ns);
	assert_string_equal(h.topic, "t");
	assert_string_equal(h.group, "g");
	/* term: at once, reason rejected. */
	assert_int_equal(recv_u64(g, &m), 8);
	assert_int_equal(shmq_group_term(g, m.lease), 0);
	assert_int_equal(shmq_group_term(g, m.lease), -ESTALE);
	assert_int_equal(recv_dead(dlq, &h), 8);
	assert_int_equal(h.reason, SHMQ_DLQ_REJECTED);
	assert_int_equal(h.acquired, 1);
	assert_int_equal(h.failed, 0);
	expect_empty(g);
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.floor, 3);
	assert_int_equal(st.dead_lettered, 2);
	assert_int_equal(st.terminated, 1);
	/* Redrive: both go back to "t", oldest first, and leave the dead-letter topic. */
	assert_int_equal(shmq_group_redrive(bus, "t.dlq", NULL, 0, 0), 2);
	assert_int_equal(recv_u64(g, &m), 7);
	assert_int_equal(m.attempt, 1); /* a new record */
	assert_int_equal(m.seq, 3);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_int_equal(recv_u64(g, &m), 8);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_int_equal(shmq_group_redrive(bus, "t.dlq", NULL, 0, 0), 0);
	st = stat_of(bus, "t.dlq", "redrive");
	assert_int_equal(st.acked, 2);
	assert_int_equal(st.floor, 3);
	shmq_sub_close(dlq);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_no_dlq(void **state)
{
	struct shmq_group_config c = { .max_deliveries = 1, .flags = SHMQ_GROUP_NO_DLQ };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", &c);
	struct shmq_group_msg m;
	struct shmq_group_stats st;

	(void)state;
	send_u64(pub, 1);
	assert_int_equal(recv_u64(g, &m), 1);
	assert_int_equal(shmq_group_nack(g, m.lease, 0), 0);
	expect_empty(g);
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.floor, 2);
	assert_string_equal(st.dlq, "");
	assert_int_equal(shmq_sub_open(bus, "t.dlq", 0, NULL, 0, &(shmq_sub *){ NULL }), -ENOENT);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_expiry_and_extend(void **state)
{
	struct shmq_group_config c = { .ack_wait_ns = 20000000, .backoff_ns = 1000000 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", &c);
	struct shmq_group_msg m, m2;
	struct shmq_group_stats st;
	uint64_t tag;

	(void)state;
	send_u64(pub, 1);
	assert_int_equal(recv_u64(g, &m), 1);
	sleep_ns(30000000); /* past the lease, then past the backoff */
	expect_empty(g); /* this look expires it; the redelivery waits out the backoff */
	sleep_ns(5000000);
	assert_int_equal(recv_u64(g, &m2), 1);
	assert_int_equal(m2.attempt, 2);
	assert_int_equal(m2.failed, 1);
	assert_int_equal(shmq_group_ack(g, m.lease), -ESTALE); /* the expired lease */
	/* extend: a new tag, the old one stale, and the lease outlives its first deadline. */
	tag = m2.lease;
	assert_int_equal(shmq_group_extend(g, &tag, 200000000), 0);
	assert_true(tag != m2.lease);
	assert_int_equal(shmq_group_ack(g, m2.lease), -ESTALE);
	sleep_ns(30000000);
	expect_empty(g);
	assert_int_equal(shmq_group_ack(g, tag), 0);
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.redelivered, 1);
	assert_int_equal(st.floor, 2);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_release_and_resume(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", NULL);
	struct shmq_group_msg m;
	struct shmq_group_stats st;
	uint64_t i;

	(void)state;
	for (i = 1; i <= 5; i++)
		send_u64(pub, i);
	assert_int_equal(recv_u64(g, &m), 1);
	assert_int_equal(shmq_group_release(g, m.lease), 0);
	assert_int_equal(recv_u64(g, &m), 1);
	assert_int_equal(m.attempt, 2);
	assert_int_equal(m.failed, 0); /* a release is no failure */
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_int_equal(recv_u64(g, &m), 2); /* leased when the member leaves */
	shmq_group_close(g);
	/* Durable: floor and pending records survive every member's exit. */
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.members, 0);
	assert_int_equal(st.floor, 2);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.delayed, 1);
	g = open_group(bus, "t", "g", NULL);
	assert_int_equal(recv_u64(g, &m), 2);
	assert_int_equal(m.attempt, 2);
	for (i = 3; i <= 5; i++) {
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
		assert_int_equal(recv_u64(g, &m), i);
	}
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	expect_empty(g);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_window(void **state)
{
	struct shmq_group_config c = { .max_pending = 4, .max_in_flight = 8 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", &c);
	struct shmq_group_msg m[6];
	struct shmq_group_stats st;
	uint64_t i;

	(void)state;
	for (i = 1; i <= 10; i++)
		send_u64(pub, i);
	for (i = 0; i < 4; i++)
		assert_int_equal(recv_u64(g, &m[i]), i + 1);
	expect_empty(g); /* the window: 4 records owed */
	st = stat_of(bus, "t", "g");
	assert_true(st.window_full >= 1);
	assert_int_equal(st.pending, 4);
	assert_int_equal(st.in_flight, 4);
	/* An ack above the floor does not open the window; one at the floor does. */
	assert_int_equal(shmq_group_ack(g, m[1].lease), 0);
	expect_empty(g);
	assert_int_equal(shmq_group_ack(g, m[0].lease), 0);
	assert_int_equal(recv_u64(g, &m[4]), 5);
	assert_int_equal(recv_u64(g, &m[5]), 6);
	expect_empty(g);
	shmq_group_close(g);
	/* max_in_flight: per member. */
	c = (struct shmq_group_config){ .max_in_flight = 2 };
	g = open_group(bus, "t", "g2", &c);
	assert_int_equal(recv_u64(g, &m[0]), 1);
	assert_int_equal(recv_u64(g, &m[1]), 2);
	expect_empty(g);
	assert_int_equal(shmq_group_ack(g, m[0].lease), 0);
	assert_int_equal(recv_u64(g, &m[0]), 3);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* A reliable topic's producers are held back by the group's floor, members or not. */
static void test_gate(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 8, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", NULL);
	char names[4][SHMQ_GROUP_NAME_MAX + 1];
	struct shmq_group_msg m;
	struct shmq_group_stats st;
	uint64_t i, v = 0;

	(void)state;
	for (i = 1; i <= 8; i++)
		send_u64(pub, i);
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), 0), -EAGAIN);
	assert_int_equal(shmq_topic_groups(bus, "t", names, 4), 1);
	assert_string_equal(names[0], "g");
	assert_int_equal(recv_u64(g, &m), 1);
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), 0), -EAGAIN); /* leased, not done */
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	send_u64(pub, 9);
	shmq_group_close(g);
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.holding, 1);
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), 0), -EAGAIN); /* no member: held */
	g = open_group(bus, "t", "g", NULL);
	for (i = 2; i <= 9; i++) {
		assert_int_equal(recv_u64(g, &m), i);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	/* Deleting a group with a member attached is refused; without, its gate goes. */
	assert_int_equal(shmq_group_delete(bus, "t", "g", 0), -EBUSY);
	shmq_group_close(g);
	for (i = 10; i <= 17; i++)
		send_u64(pub, i);
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), 0), -EAGAIN);
	assert_int_equal(shmq_group_delete(bus, "t", "g", 0), 0);
	assert_int_equal(shmq_group_delete(bus, "t", "g", 0), -ENOENT);
	assert_int_equal(shmq_topic_groups(bus, "t", NULL, 0), 0);
	send_u64(pub, 18);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static uint64_t reset_to(shmq_bus *bus, unsigned flags, uint64_t seq)
{
	uint64_t got = 0;

	assert_int_equal(shmq_group_reset(bus, "t", "g", flags, seq, &got), 0);
	return got;
}

/* A reset moves floor, next and gate, forgets what was owed, and clamps to what is retained. */
static void test_reset(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 8, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", NULL);
	struct shmq_group_stats st;
	struct shmq_group_msg m;
	uint64_t i, v = 0;

	(void)state;
	for (i = 1; i <= 4; i++)
		send_u64(pub, i);
	assert_int_equal(recv_u64(g, &m), 1); /* leased, never acked */
	assert_int_equal(recv_u64(g, &m), 2);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_int_equal(shmq_group_reset(bus, "t", "g", SHMQ_SUB_LATEST, 0, NULL), -EBUSY);
	assert_int_equal(shmq_group_reset(bus, "t", "g", 0, 0, NULL), -EINVAL);
	assert_int_equal(
		shmq_group_reset(bus, "t", "g", SHMQ_SUB_LATEST | SHMQ_SUB_EARLIEST, 0, NULL),
		-EINVAL);
	assert_int_equal(shmq_group_reset(bus, "t", "g", SHMQ_SUB_FROM_SEQ, 0, NULL), -EINVAL);
	assert_int_equal(shmq_group_reset(bus, "t", "nope", SHMQ_SUB_LATEST, 0, NULL), -ENOENT);
	shmq_group_close(g); /* record 1 goes back for redelivery: the reset forgets it */

	/* Latest: 1, 3 and 4 are skipped. */
	assert_int_equal(reset_to(bus, SHMQ_SUB_LATEST, 0), 5);
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.floor, 5);
	assert_int_equal(st.next, 5);
	assert_int_equal(st.in_flight + st.delayed, 0);
	g = open_group(bus, "t", "g", NULL);
	expect_empty(g);
	for (i = 5; i <= 12; i++)
		send_u64(pub, i);
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), 0), -EAGAIN); /* 5-12 owed */
	for (i = 5; i <= 12; i++) {
		assert_int_equal(recv_u64(g, &m), i);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	shmq_group_close(g);

	/* Earliest: 5-12 are retained and owed again; the gate holds producers back again. */
	assert_int_equal(reset_to(bus, SHMQ_SUB_EARLIEST, 0), 5);
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), 0), -EAGAIN);
	g = open_group(bus, "t", "g", NULL);
	for (i = 5; i <= 12; i++) {
		assert_int_equal(recv_u64(g, &m), i);
		assert_int_equal(m.attempt, 1);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	expect_empty(g);
	shmq_group_close(g);
	send_u64(pub, 13);

	/* A sequence number: clamped to the oldest retained record (6) and to the tail (14). */
	assert_int_equal(reset_to(bus, SHMQ_SUB_FROM_SEQ, 2), 6);
	assert_int_equal(stat_of(bus, "t", "g").floor, 6);
	assert_int_equal(reset_to(bus, SHMQ_SUB_FROM_SEQ, 100), 14);
	assert_int_equal(reset_to(bus, SHMQ_SUB_FROM_SEQ, 10), 10);
	g = open_group(bus, "t", "g", NULL);
	for (i = 10; i <= 13; i++) {
		assert_int_equal(recv_u64(g, &m), i);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	expect_empty(g);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_ephemeral_and_limits(void **state)
{
	struct shmq_group_config c = { .flags = SHMQ_GROUP_EPHEMERAL, .max_members = 1 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 8, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "e", &c), *more[SHMQI_TOPIC_GATES];
	struct shmq_group_stats st;
	char name[16];
	unsigned i;

	(void)state;
	assert_int_equal(shmq_group_open(bus, "t", "e", 0, NULL, &(shmq_group *){ NULL }), -EUSERS);
	shmq_group_close(g);
	assert_int_equal(shmq_group_stat(bus, "t", "e", &st, NULL, 0), -ENOENT);
	assert_int_equal(shmq_topic_groups(bus, "t", NULL, 0), 0);
	for (i = 0; i < SHMQI_TOPIC_GATES; i++) {
		snprintf(name, sizeof(name), "g%u", i);
		more[i] = open_group(bus, "t", name, NULL);
	}
	assert_int_equal(
		shmq_group_open(bus, "t", "last", SHMQ_OPEN_CREATE, NULL, &(shmq_group *){ NULL }),
		-EUSERS);
	for (i = 0; i < SHMQI_TOPIC_GATES; i++) {
		shmq_group_close(more[i]);
		snprintf(name, sizeof(name), "g%u", i);
		assert_int_equal(shmq_group_delete(bus, "t", name, 0), 0);
	}
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* A topic removed and created anew: the group's gate is gone with it. */
static void test_topic_recreated(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 8, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", NULL);

	(void)state;
	shmq_group_close(g);
	shmq_pub_close(pub);
	assert_int_equal(shmq_unlink(bus, "t"), 0);
	pub = open_pub(bus, "t", 8, SHMQ_TOPIC_RELIABLE);
	assert_int_equal(shmq_group_open(bus, "t", "g", 0, NULL, &g), -ESTALE);
	assert_int_equal(shmq_group_delete(bus, "t", "g", 0), 0);
	g = open_group(bus, "t", "g", NULL);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_start_positions(void **state)
{
	struct shmq_group_config c = { .from_seq = 3 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 8, SHMQ_TOPIC_LOSSY);
	shmq_group *g;
	struct shmq_group_msg m;
	uint64_t i;

	(void)state;
	for (i = 1; i <= 12; i++) /* 5-12 are retained */
		send_u64(pub, i);
	assert_int_equal(shmq_group_open(bus, "t", "latest", SHMQ_OPEN_CREATE, NULL, &g), 0);
	expect_empty(g);
	send_u64(pub, 13);
	assert_int_equal(recv_u64(g, &m), 13);
	shmq_group_close(g);
	assert_int_equal(
		shmq_group_open(bus, "t", "from", SHMQ_OPEN_CREATE | SHMQ_SUB_FROM_SEQ, &c, &g), 0);
	assert_int_equal(recv_u64(g, &m), 6); /* 3-5 are gone: counted as lost */
	assert_int_equal(stat_of(bus, "t", "from").lost, 3);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* On a lossy topic producers never wait: what is overwritten while owed is lost, not torn. */
static void test_lossy(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 8, SHMQ_TOPIC_LOSSY);
	shmq_group *g = open_group(bus, "t", "g", NULL);
	struct shmq_group_msg m;
	struct shmq_group_stats st;
	uint64_t i, v;

	(void)state;
	send_u64(pub, 1);
	assert_int_equal(recv_u64(g, &m), 1);
	assert_int_equal(shmq_group_nack(g, m.lease, 0), 0);
	for (i = 2; i <= 20; i++)
		send_u64(pub, i);
	/* Record 1 (delayed) and 2-12 were overwritten; 13-20 are there. */
	for (i = 13; i <= 20; i++) {
		v = recv_u64(g, &m);
		assert_int_equal(v, i);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	expect_empty(g);
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.lost, 12);
	assert_int_equal(st.floor, 21);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_skipped(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 8, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", NULL);
	struct shmq_group_msg m;
	void *buf;

	(void)state;
	assert_int_equal(shmq_pub_claim(pub, 8, &buf), 0);
	assert_int_equal(shmq_pub_abort(pub), 0);
	send_u64(pub, 2);
	assert_int_equal(recv_u64(g, &m), 2);
	assert_int_equal(m.seq, 2);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_int_equal(stat_of(bus, "t", "g").skipped, 1);
	assert_int_equal(stat_of(bus, "t", "g").floor, 3);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_peek_many_msgsize(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", NULL);
	struct shmq_group_rmsg rm[4];
	struct shmq_group_msg m;
	uint64_t vals[4], i, v;
	const void *p;
	char small[2];

	(void)state;
	for (i = 1; i <= 8; i++)
		send_u64(pub, i);
	assert_int_equal(shmq_group_peek(g, &p, &m), (int)sizeof(v));
	assert_int_equal(((uintptr_t)p) % 8, 0);
	memcpy(&v, p, sizeof(v));
	assert_int_equal(v, 1);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	for (i = 0; i < 4; i++)
		rm[i] = (struct shmq_group_rmsg){ .buf = &vals[i], .cap = sizeof(vals[i]) };
	assert_int_equal(shmq_group_recv_many(g, rm, 4), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(vals[i], i + 2);
		assert_int_equal(rm[i].info.seq, i + 2);
		assert_int_equal(shmq_group_ack(g, rm[i].info.lease), 0);
	}
	/* Too small a buffer: leased all the same, with its length; release and read again. */
	assert_int_equal(shmq_group_recv(g, small, sizeof(small), &m), -EMSGSIZE);
	assert_int_equal(m.len, sizeof(v));
	assert_int_equal(shmq_group_release(g, m.lease), 0);
	assert_int_equal(recv_u64(g, &m), 6);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* A member that dies has its leases back at once, counted as failures. */
static void test_dead_member(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", NULL);
	struct shmq_group_msg m;
	struct shmq_group_stats st;
	int ready[2], i;
	uint64_t t0;
	pid_t pid;
	char c;

	(void)state;
	for (i = 1; i <= 3; i++)
		send_u64(pub, (uint64_t)i);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_group *cg = NULL;
		struct shmq_group_msg cm;
		uint64_t v;

		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a parent that fails early takes us along */
		if (shmq_group_open(bus, "t", "g", 0, NULL, &cg) < 0 ||
		    shmq_group_recv(cg, &v, sizeof(v), &cm) != sizeof(v) ||
		    shmq_group_recv(cg, &v, sizeof(v), &cm) != sizeof(v))
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(recv_u64(g, &m), 3); /* 1 and 2 are the child's */
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_int_equal(stat_of(bus, "t", "g").in_flight, 2);
	kill(pid, SIGKILL);
	assert_int_equal(test_wait(pid), 128 + SIGKILL);
	/* Within the judge's 10 ms, not the 30 s lease. */
	t0 = test_now_ns();
	for (i = 1; i <= 2; i++) {
		assert_int_equal(shmq_group_wait(g, 0, 5000000000ull), 0);
		assert_int_equal(recv_u64(g, &m), (uint64_t)i);
		assert_int_equal(m.attempt, 2);
		assert_int_equal(m.failed, 1);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	assert_true(test_now_ns() - t0 < SHMQ_GROUP_DEFAULT_ACK_WAIT_NS);
	st = stat_of(bus, "t", "g");
	assert_int_equal(st.members, 1);
	assert_int_equal(st.floor, 4);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

struct waker {
	shmq_pub *pub;
	shmq_group *other;
	uint64_t lease;
};

static void *publish_later(void *arg)
{
	struct waker *w = arg;

	sleep_ns(20000000);
	if (w->other)
		assert_int_equal(shmq_group_release(w->other, w->lease), 0);
	else
		send_u64(w->pub, 42);
	return NULL;
}

/* A parked member wakes for a new record, and for a record another member gives back. */
static void test_parked(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	shmq_group *g = open_group(bus, "t", "g", NULL), *h = open_group(bus, "t", "g", NULL);
	struct waker w = { .pub = pub };
	struct shmq_group_msg m, hm;
	pthread_t th;

	(void)state;
	assert_int_equal(shmq_group_wait(g, 0, 1000000), -ETIMEDOUT);
	assert_int_equal(pthread_create(&th, NULL, publish_later, &w), 0);
	assert_int_equal(shmq_group_wait(g, 0, SHMQ_WAIT_FOREVER), 0);
	assert_int_equal(recv_u64(g, &m), 42);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	send_u64(pub, 43);
	assert_int_equal(recv_u64(h, &hm), 43);
	w = (struct waker){ .other = h, .lease = hm.lease };
	assert_int_equal(pthread_create(&th, NULL, publish_later, &w), 0);
	assert_int_equal(shmq_group_wait(g, 0, SHMQ_WAIT_FOREVER), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(recv_u64(g, &m), 43);
	assert_int_equal(m.attempt, 2);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_true(shmq_group_fd(g) >= 0 || shmq_group_fd(g) == -EOPNOTSUPP);
	assert_int_equal(shmq_group_prep_wait(NULL, NULL, 0), -EINVAL);
	assert_int_equal(shmq_group_prep_wait(g, NULL, 0), -EINVAL);
	assert_int_equal(shmq_group_wait_done(NULL), -EINVAL);
	shmq_group_close(h);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/*
 * A member that joins after the topic's last producer closed waits for a producer, as a
 * subscriber does; the next producer's close, once everything is done, is its -EPIPE.
 */
static void test_join_without_producer(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	struct shmq_group_msg m;
	shmq_group *g;

	(void)state;
	shmq_pub_close(pub); /* the topic says closed now */
	g = open_group(bus, "t", "g", NULL);
	assert_int_equal(shmq_group_wait(g, 0, 2000000), -ETIMEDOUT);
	pub = open_pub(bus, "t", 64, SHMQ_TOPIC_RELIABLE);
	send_u64(pub, 7);
	shmq_pub_close(pub);
	assert_int_equal(shmq_group_wait(g, 0, SHMQ_WAIT_FOREVER), 0);
	assert_int_equal(recv_u64(g, &m), 7);
	/* Leased to us, not done: the group still owes it, so the wait goes on. */
	assert_int_equal(shmq_group_wait(g, 0, 2000000), -ETIMEDOUT);
	assert_int_equal(shmq_group_ack(g, m.lease), 0);
	assert_int_equal(shmq_group_wait(g, 0, 1000000000), -EPIPE);
	shmq_group_close(g);
	shmq_bus_close(bus);
}

/* Random bytes over a group's control block and lease table: errors, never a crash. */
static void test_hostile(void **state)
{
	shmq_bus *bus = test_bus();
	/* Lossy: a group whose scribbled segment cannot be deleted does not hold anybody. */
	shmq_pub *pub = open_pub(bus, "t", 16, SHMQ_TOPIC_LOSSY);
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int trial;

	(void)state;
	for (trial = 0; trial < 200; trial++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct shmq_group_config c = { .max_pending = 16, .max_members = 4 };
			struct shmq_group_stats st;
			struct shmq_group_msg m;
			shmq_group *g = NULL;
			uint8_t *p, buf[MAXM];
			size_t size, i, from;
			char name[32];
			int k;

			snprintf(name, sizeof(name), "h%d", trial);
			k = shmq_group_open(bus, "t", name, SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST,
					    &c, &g);
			if (k < 0) {
				fprintf(stderr, "trial %d: open: %s (%s)\n", trial,
					shmq_strerror(k), shmq_last_detail());
				_exit(2);
			}
			shmq_group_close(g);
			snprintf(name, sizeof(name), "t@h%d", trial);
			p = test_map(bus, name, &size);
			from = trial % 2 ? 128 : 1280; /* the control block, or the tables */
			for (i = 0; i < 64; i++)
				p[from + test_rand(&seed) % (size - from)] =
					(uint8_t)test_rand(&seed);
			snprintf(name, sizeof(name), "h%d", trial);
			if (shmq_group_open(bus, "t", name, 0, NULL, &g) == 0) {
				for (k = 0; k < 50; k++)
					if (shmq_group_recv(g, buf, sizeof(buf), &m) >= 0)
						shmq_group_ack(g, m.lease);
				shmq_group_close(g);
			}
			shmq_group_stat(bus, "t", name, &st, NULL, 0);
			k = shmq_group_delete(bus, "t", name, SHMQ_GROUP_FORCE);
			if (k < 0)
				fprintf(stderr, "trial %d: delete: %s\n", trial, shmq_strerror(k));
			_exit(0);
		}
		seed += (uint64_t)trial;
		send_u64(pub, (uint64_t)trial);
		assert_int_equal(test_wait(pid), 0);
	}
	assert_int_equal(shmq_topic_groups(bus, "t", NULL, 0), 0); /* no gate left behind */
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_basic, test_cleanup),
		cmocka_unit_test_teardown(test_bad_args, test_cleanup),
		cmocka_unit_test_teardown(test_competing, test_cleanup),
		cmocka_unit_test_teardown(test_nack_delay_backoff, test_cleanup),
		cmocka_unit_test_teardown(test_dead_letters, test_cleanup),
		cmocka_unit_test_teardown(test_no_dlq, test_cleanup),
		cmocka_unit_test_teardown(test_expiry_and_extend, test_cleanup),
		cmocka_unit_test_teardown(test_release_and_resume, test_cleanup),
		cmocka_unit_test_teardown(test_window, test_cleanup),
		cmocka_unit_test_teardown(test_gate, test_cleanup),
		cmocka_unit_test_teardown(test_reset, test_cleanup),
		cmocka_unit_test_teardown(test_ephemeral_and_limits, test_cleanup),
		cmocka_unit_test_teardown(test_topic_recreated, test_cleanup),
		cmocka_unit_test_teardown(test_start_positions, test_cleanup),
		cmocka_unit_test_teardown(test_lossy, test_cleanup),
		cmocka_unit_test_teardown(test_skipped, test_cleanup),
		cmocka_unit_test_teardown(test_peek_many_msgsize, test_cleanup),
		cmocka_unit_test_teardown(test_dead_member, test_cleanup),
		cmocka_unit_test_teardown(test_parked, test_cleanup),
		cmocka_unit_test_teardown(test_join_without_producer, test_cleanup),
		cmocka_unit_test_teardown(test_hostile, test_cleanup),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("group", tests, NULL, test_cleanup);
}
