// SPDX-License-Identifier: MIT
/* test_headers.c - record headers: blocks, their limits, and their way through topics and groups. */
#include <stdatomic.h>

#include "topic_internal.h"
#include "shm_layout.h"
#include "topic_common.h"

/* A block of "content-type: text/plain" and "traceparent: 00-...-01". */
static size_t two_headers(uint8_t *b, size_t cap)
{
	size_t len = 0;

	assert_int_equal(shmq_hdrs_add(b, cap, &len, "content-type", "text/plain", 10), 0);
	assert_int_equal(shmq_hdrs_add(b, cap, &len, "traceparent",
				       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
				       55),
			 0);
	return len;
}

static void expect_hdr(const void *h, size_t len, const char *key, const char *want)
{
	const char *v;
	size_t vn;

	assert_int_equal(shmq_hdrs_get(h, len, key, &v, &vn), 0);
	assert_int_equal(vn, strlen(want));
	assert_memory_equal(v, want, vn);
}

static void test_block(void **state)
{
	uint8_t b[SHMQ_HDRS_MAX + 64];
	const char *k, *v;
	size_t len, pos = 0, kn, vn;
	char key[SHMQ_HDR_KEY_MAX + 2];
	int i;

	(void)state;
	len = two_headers(b, sizeof(b));
	assert_int_equal(len, 4 + 12 + 10 + 4 + 11 + 55);
	assert_int_equal(shmq_hdrs_check(b, len), 2);
	assert_int_equal(shmq_hdrs_check(NULL, 0), 0);
	expect_hdr(b, len, "content-type", "text/plain");
	assert_int_equal(shmq_hdrs_get(b, len, "Content-Type", &v, &vn),
			 -ENOENT); /* case matters */
	assert_int_equal(shmq_hdrs_next(b, len, &pos, &k, &kn, &v, &vn), 1);
	assert_int_equal(kn, 12);
	assert_memory_equal(k, "content-type", 12);
	assert_int_equal(shmq_hdrs_next(b, len, &pos, &k, &kn, &v, &vn), 1);
	assert_memory_equal(k, "traceparent", 11);
	assert_int_equal(shmq_hdrs_next(b, len, &pos, &k, &kn, &v, &vn), 0);
	assert_int_equal(pos, len);

	/* a repeated key: the first wins; an empty value is a value */
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "content-type", "x", 1), 0);
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "empty", NULL, 0), 0);
	expect_hdr(b, len, "content-type", "text/plain");
	expect_hdr(b, len, "empty", "");

	/* bad keys and values change nothing */
	kn = len;
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "", "v", 1), -EINVAL);
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "a b", "v", 1), -EINVAL);
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "a:b", "v", 1), -EINVAL);
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "k", "a\r\nb", 4), -EINVAL);
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "k", "a\0b", 3), -EINVAL);
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "k", NULL, 1), -EINVAL);
	memset(key, 'k', sizeof(key));
	key[SHMQ_HDR_KEY_MAX + 1] = '\0';
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, key, "v", 1), -EINVAL);
	key[SHMQ_HDR_KEY_MAX] = '\0';
	assert_int_equal(len, kn);
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, key, "v", 1), 0); /* 64 is the most */
	assert_int_equal(shmq_hdrs_add(b, kn, &kn, "k", "v", 1), -ENOSPC);

	/* the count limit */
	len = 0;
	for (i = 0; i < (int)SHMQ_HDRS_MAX_COUNT; i++)
		assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "k", "v", 1), 0);
	assert_int_equal(shmq_hdrs_add(b, sizeof(b), &len, "k", "v", 1), -E2BIG);
	assert_int_equal(shmq_hdrs_check(b, len), (int)SHMQ_HDRS_MAX_COUNT);

	/* the size limit: four values of 1024 bytes do not fit 4096 with their keys */
	len = 0;
	memset(b + 2048, 'v', SHMQ_HDR_VAL_MAX + 1);
	assert_int_equal(shmq_hdrs_add(b, 2048, &len, "k", b + 2048, SHMQ_HDR_VAL_MAX + 1),
			 -EINVAL);
	for (i = 0; i < 3; i++)
		assert_int_equal(shmq_hdrs_add(b, 2048 * 2, &len, "k", b + 2048, 600), 0);
	{
		uint8_t big[SHMQ_HDRS_MAX * 2];
		size_t bl = 0;

		memset(big + SHMQ_HDRS_MAX, 'v', SHMQ_HDR_VAL_MAX);
		for (i = 0; i < 3; i++)
			assert_int_equal(shmq_hdrs_add(big, SHMQ_HDRS_MAX, &bl, "key",
						       big + SHMQ_HDRS_MAX, SHMQ_HDR_VAL_MAX),
					 0);
		assert_int_equal(shmq_hdrs_add(big, SHMQ_HDRS_MAX, &bl, "key", big + SHMQ_HDRS_MAX,
					       SHMQ_HDR_VAL_MAX),
				 -E2BIG);
		assert_int_equal(shmq_hdrs_check(big, SHMQ_HDRS_MAX + 1), -E2BIG);
	}
}

/* Malformed blocks: every reader stays inside the block and says -EBADMSG. */
static void test_block_garbage(void **state)
{
	uint8_t good[256], *b;
	uint64_t seed = 42;
	size_t len, pos, n, kn, vn;
	const char *k, *v;
	int i, r;

	(void)state;
	len = two_headers(good, sizeof(good));
	for (n = 0; n < len; n++) /* every truncation */
		assert_int_equal(shmq_hdrs_check(good, n),
				 n == 0 || n == 4 + 12 + 10 ? (int)(n != 0) : -EBADMSG);
	good[1] = 1; /* the reserved byte */
	assert_int_equal(shmq_hdrs_check(good, len), -EBADMSG);
	good[1] = 0;
	good[4] = '\n'; /* a key character */
	assert_int_equal(shmq_hdrs_get(good, len, "traceparent", &v, &vn), -EBADMSG);
	for (i = 0; i < 20000; i++) {
		n = 1 + test_rand(&seed) % 64;
		b = malloc(n); /* exactly n bytes: ASan sees any read past them */
		assert_non_null(b);
		for (pos = 0; pos < n; pos++)
			b[pos] = (uint8_t)(test_rand(&seed) % 8 < 6 ? test_rand(&seed) % 8
								    : 'a' + test_rand(&seed) % 26);
		r = shmq_hdrs_check(b, n);
		assert_true(r == -EBADMSG || (r >= 0 && r <= (int)SHMQ_HDRS_MAX_COUNT));
		pos = 0;
		while ((r = shmq_hdrs_next(b, n, &pos, &k, &kn, &v, &vn)) == 1)
			assert_true(pos <= n && k >= (char *)b && v + vn <= (char *)b + n);
		assert_true(r == 0 || r == -EBADMSG);
		r = shmq_hdrs_get(b, n, "a", &v, &vn);
		assert_true(r == 0 || r == -ENOENT || r == -EBADMSG);
		free(b);
	}
}

static void expect_headers(const void *h, size_t len)
{
	assert_non_null(h);
	assert_int_equal(shmq_hdrs_check(h, len), 2);
	expect_hdr(h, len, "content-type", "text/plain");
}

/* Send with headers; copy, peek and batch receive them; records without headers have none. */
static void test_topic(void **state)
{
	struct shmq_topic_config c = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	uint8_t hb[256], buf[MAXM], bufs[4][MAXM];
	struct shmq_sub_rmsg rm[4];
	struct shmq_sub_msg info;
	size_t hl = two_headers(hb, sizeof(hb)), n;
	const void *h, *data;
	void *claim;
	shmq_pub *pub;
	shmq_sub *sub;
	int i;

	(void)state;
	pub = open_pub(bus, "h", &c);
	sub = open_sub(bus, "h", 0, &c, 0);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	assert_null(h);
	assert_int_equal(n, 0);

	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "hello", 5, 77), 0);
	assert_int_equal(shmq_pub_send(pub, "plain", 5, 0), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(info.corr_id, 77);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	assert_int_equal(n, hl);
	expect_headers(h, n);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 5);
	assert_memory_equal(buf, "plain", 5);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	assert_int_equal(n, 0);

	/* peek: in place, the payload aligned after the block */
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "peeked", 6, 0), 0);
	assert_int_equal(shmq_sub_peek(sub, &data, &info), 6);
	assert_int_equal((uintptr_t)data % 8, 0);
	assert_memory_equal(data, "peeked", 6);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	expect_headers(h, n);
	assert_true((const uint8_t *)h + n <= (const uint8_t *)data);
	assert_int_equal(shmq_sub_release(sub), 1);

	/* zero-copy publish with headers */
	assert_int_equal(shmq_pub_claim_hdrs(pub, hb, hl, 8, &claim), 0);
	assert_int_equal((uintptr_t)claim % 8, 0);
	memcpy(claim, "claimed!", 8);
	assert_int_equal(shmq_pub_commit(pub, 8, 5), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 8);
	assert_memory_equal(buf, "claimed!", 8);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	expect_headers(h, n);

	/* a batch ends at the first record with headers */
	assert_int_equal(shmq_pub_send(pub, "a", 1, 0), 0);
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "b", 1, 0), 0);
	assert_int_equal(shmq_pub_send(pub, "c", 1, 0), 0);
	for (i = 0; i < 4; i++)
		rm[i] = (struct shmq_sub_rmsg){ .buf = bufs[i], .cap = MAXM };
	assert_int_equal(shmq_sub_recv_many(sub, rm, 4), 2);
	assert_memory_equal(bufs[1], "b", 1);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	expect_headers(h, n);
	assert_int_equal(shmq_sub_recv_many(sub, rm, 4), 1);
	assert_memory_equal(bufs[0], "c", 1);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	assert_int_equal(n, 0);

	/* limits on send: the block and the payload share max_msg; a bad block is refused */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, buf, MAXM - ((hl + 7) & ~7u), 0), 0);
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, buf, MAXM - ((hl + 7) & ~7u) + 1, 0),
			 -EMSGSIZE);
	assert_int_equal(shmq_pub_claim_hdrs(pub, hb, hl, MAXM, &claim), -EMSGSIZE);
	hb[1] = 9;
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "x", 1, 0), -EINVAL);
	hb[1] = 0;
	assert_int_equal(shmq_pub_send_hdrs(pub, NULL, 4, "x", 1, 0), -EINVAL);
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, SHMQ_HDRS_MAX + 1, "x", 1, 0), -E2BIG);
	assert_int_equal(shmq_pub_send_hdrs(pub, NULL, 0, "x", 1, 0), 0); /* none: a plain send */
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info),
			 (int)(MAXM - ((hl + 7) & ~7u)));
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 1);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(shmq_sub_headers(NULL, &h, &n), -EINVAL);
	assert_int_equal(shmq_sub_headers(sub, NULL, &n), -EINVAL);

	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "h");
	shmq_bus_close(bus);
}

/* Where record @seq lies in the topic's mapping @m. */
static struct shmqi_trec *slot_of(uint8_t *m, uint64_t seq)
{
	struct shmqi_topic *ctl = (struct shmqi_topic *)(m + SHMQI_TOPIC_BODY_OFF);

	return (struct shmqi_trec *)(m + ctl->ring_off + (seq & (ctl->slots - 1)) * ctl->slot_size);
}

/* The sequence of the last record published. */
static uint64_t last_seq(uint8_t *m)
{
	return atomic_load(&((struct shmqi_topic *)(m + SHMQI_TOPIC_BODY_OFF))->tail) - 1;
}

/* A hostile segment: lengths and flags out of bounds are corrupt records; a scribbled block is
 * delivered, and its readers say -EBADMSG. */
static void test_hostile(void **state)
{
	struct shmq_topic_config c = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	uint8_t hb[256], buf[MAXM], *m;
	struct shmq_sub_msg info;
	size_t hl = two_headers(hb, sizeof(hb)), size, n;
	struct shmqi_trec *rec;
	const void *h, *data;
	const char *v;
	shmq_pub *pub;
	shmq_sub *sub;
	uint64_t seq;
	int i;
	static const struct {
		uint32_t flags, hdrs_len, len;
	} bad[] = {
		{ 2, 0, 1 }, /* an unknown flag */
		{ SHMQI_TREC_HDRS, 0, 1 }, /* the flag without a block */
		{ SHMQI_TREC_HDRS | 4, 8, 1 },
		{ SHMQI_TREC_HDRS, SHMQ_HDRS_MAX + 1, 1 },
		{ SHMQI_TREC_HDRS, MAXM + 1, 0 },
		{ SHMQI_TREC_HDRS, 100, MAXM - 103 }, /* 104 + 97 > 200 */
		{ SHMQI_TREC_HDRS, 0xffffffffu, 1 },
	};

	(void)state;
	pub = open_pub(bus, "hh", &c);
	sub = open_sub(bus, "hh", 0, &c, 0);
	m = test_map(bus, "hh", &size);
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "x", 1, 0), 0);
		seq = last_seq(m);
		rec = slot_of(m, seq);
		assert_int_equal(shmqi_stamp_seq(atomic_load(&rec->stamp)), seq);
		rec->flags = bad[i].flags;
		rec->hdrs_len = bad[i].hdrs_len;
		rec->len = bad[i].len;
		assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), -EBADMSG);
		assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "y", 1, 0), 0);
		assert_int_equal(shmq_sub_peek(sub, &data, &info), 1); /* the next one is fine */
		assert_memory_equal(data, "y", 1);
		assert_int_equal(shmq_sub_release(sub), 1);
	}
	/* scribbled block bytes: delivered, and the readers stay inside the block */
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "z", 1, 0), 0);
	rec = slot_of(m, last_seq(m));
	memset(rec + 1, 0xff, hl);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 1);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	assert_int_equal(n, hl);
	assert_int_equal(shmq_hdrs_check(h, n), -EBADMSG);
	assert_int_equal(shmq_hdrs_get(h, n, "content-type", &v, &n), -EBADMSG);
	munmap(m, size);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "hh");
	shmq_bus_close(bus);
}

/* Groups deliver the headers; a dead letter keeps them, and a redrive publishes them again. */
static void test_group(void **state)
{
	struct shmq_topic_config c = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	struct shmq_group_config gc = { .max_pending = 16 };
	shmq_bus *bus = test_bus();
	uint8_t hb[256], buf[MAXM + 256];
	struct shmq_group_rmsg rm[3];
	struct shmq_group_msg gm;
	struct shmq_sub_msg info;
	size_t hl = two_headers(hb, sizeof(hb)), n;
	const struct shmq_dlq_hdr *dh;
	const void *h, *data;
	shmq_group *g;
	shmq_pub *pub;
	shmq_sub *dlq;
	uint8_t bufs[3][MAXM];
	int i;

	(void)state;
	pub = open_pub(bus, "w", &c);
	assert_int_equal(shmq_group_open(bus, "w", "workers", SHMQ_OPEN_CREATE, &gc, &g), 0);
	assert_int_equal(shmq_sub_open(bus, "w.dlq", SHMQ_OPEN_CREATE, NULL, 0, &dlq), 0);

	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "job1", 4, 1), 0);
	assert_int_equal(shmq_group_recv(g, buf, sizeof(buf), &gm), 4);
	assert_int_equal(shmq_group_headers(g, &h, &n), 0);
	expect_headers(h, n);
	assert_int_equal(shmq_group_ack(g, gm.lease), 0);

	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "job2", 4, 2), 0);
	assert_int_equal(shmq_group_peek(g, &data, &gm), 4);
	assert_memory_equal(data, "job2", 4);
	assert_int_equal(shmq_group_headers(g, &h, &n), 0);
	expect_headers(h, n);
	assert_int_equal(shmq_group_term(g, gm.lease), 0);

	/* the dead letter: its fixed header, the payload, and the record's headers */
	assert_int_equal(shmq_sub_recv(dlq, buf, sizeof(buf), &info), (int)sizeof(*dh) + 4);
	dh = (const void *)buf;
	assert_int_equal(dh->magic, SHMQ_DLQ_MAGIC);
	assert_memory_equal(buf + dh->hdr_len, "job2", 4);
	assert_int_equal(shmq_sub_headers(dlq, &h, &n), 0);
	expect_headers(h, n);

	/* the redrive publishes it again, headers and all */
	assert_int_equal(shmq_group_redrive(bus, "w.dlq", NULL, 0, 0), 1);
	assert_int_equal(shmq_group_recv(g, buf, sizeof(buf), &gm), 4);
	assert_memory_equal(buf, "job2", 4);
	assert_int_equal(gm.corr_id, 2);
	assert_int_equal(shmq_group_headers(g, &h, &n), 0);
	expect_headers(h, n);
	assert_int_equal(shmq_group_ack(g, gm.lease), 0);

	/* a batch ends at the first record with headers; one without has none */
	assert_int_equal(shmq_pub_send(pub, "a", 1, 0), 0);
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "b", 1, 0), 0);
	assert_int_equal(shmq_pub_send(pub, "c", 1, 0), 0);
	for (i = 0; i < 3; i++)
		rm[i] = (struct shmq_group_rmsg){ .buf = bufs[i], .cap = MAXM };
	assert_int_equal(shmq_group_recv_many(g, rm, 3), 2);
	assert_int_equal(shmq_group_headers(g, &h, &n), 0);
	expect_headers(h, n);
	assert_int_equal(shmq_group_recv_many(g, rm, 3), 1);
	assert_int_equal(shmq_group_headers(g, &h, &n), 0);
	assert_int_equal(n, 0);
	assert_null(h);
	assert_int_equal(shmq_group_headers(NULL, &h, &n), -EINVAL);

	shmq_sub_close(dlq);
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* Subscribers skip expired records and count them; a topic's default TTL stamps records. */
static void test_ttl_sub(void **state)
{
	struct shmq_topic_config c = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	struct shmq_pub_msg pm[2] = { { "m1", 2, 0 }, { "m2", 2, 0 } };
	uint8_t hb[128], buf[MAXM];
	struct shmq_sub_msg info;
	const void *h, *data;
	uint64_t ttl, exp;
	size_t hl = 0, n;
	shmq_pub *pub;
	shmq_sub *sub;

	(void)state;
	pub = open_pub(bus, "ttl", &c);
	sub = open_sub(bus, "ttl", 0, &c, 0);
	assert_int_equal(shmq_hdrs_add_ttl(hb, sizeof(hb), &hl, 1), 0); /* gone at once */
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "old", 3, 0), 0);
	hl = 0;
	assert_int_equal(shmq_hdrs_add_ttl(hb, sizeof(hb), &hl, 3600000000000ull), 0);
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "new", 3, 0), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 3);
	assert_memory_equal(buf, "new", 3);
	assert_int_equal(info.seq, 2);
	assert_int_equal(shmq_sub_expired(sub), 1);
	hl = 0;
	assert_int_equal(shmq_hdrs_add_ttl(hb, sizeof(hb), &hl, 1), 0);
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "old", 3, 0), 0);
	assert_int_equal(shmq_pub_send(pub, "plain", 5, 0), 0);
	assert_int_equal(shmq_sub_peek(sub, &data, &info), 5); /* peek skips it too */
	assert_int_equal(shmq_sub_release(sub), 1);
	assert_int_equal(shmq_sub_expired(sub), 2);

	/* the topic's default: records without their own expiry get one */
	assert_int_equal(shmq_topic_ttl(bus, "ttl", &ttl), 0);
	assert_int_equal(ttl, 0);
	assert_int_equal(shmq_topic_set_ttl(bus, "ttl", 3600000000000ull), 0);
	assert_int_equal(shmq_topic_ttl(bus, "ttl", &ttl), 0);
	assert_int_equal(ttl, 3600000000000ull);
	assert_int_equal(shmq_pub_send(pub, "stamped", 7, 0), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 7);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	assert_int_equal(shmq_hdrs_time(h, n, SHMQ_HDR_EXPIRES, &exp), 0);
	assert_true(exp > shmq_now_ns());
	assert_int_equal(shmq_pub_send_many(pub, pm, 2), 2);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 2);
	assert_int_equal(shmq_sub_headers(sub, &h, &n), 0);
	assert_int_equal(shmq_hdrs_time(h, n, SHMQ_HDR_EXPIRES, &exp), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 2);
	assert_int_equal(shmq_topic_set_ttl(bus, "ttl", 1), 0); /* now everything expires */
	assert_int_equal(shmq_pub_send(pub, "gone", 4, 0), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), -EAGAIN);
	assert_int_equal(shmq_sub_expired(sub), 3);
	assert_int_equal(shmq_topic_expired(bus, "ttl", &exp), 0);
	assert_int_equal(exp, 3); /* in the topic too, for the metrics */
	assert_int_equal(shmq_topic_set_ttl(bus, "nope", 1), -ENOENT);
	hb[0] = 0;
	assert_int_equal(shmq_hdrs_time(hb, 0, SHMQ_HDR_EXPIRES, &exp), -ENOENT);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* A group dead-letters an expired record (reason expired), or drops it without a DLQ. */
static void test_ttl_group(void **state)
{
	struct shmq_topic_config c = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	struct shmq_group_config nodlq = { .flags = SHMQ_GROUP_NO_DLQ };
	shmq_bus *bus = test_bus();
	uint8_t hb[128], buf[MAXM + 256];
	struct shmq_group_stats gs;
	struct shmq_group_msg gm;
	struct shmq_sub_msg info;
	const struct shmq_dlq_hdr *dh;
	shmq_group *g, *g2;
	shmq_pub *pub;
	shmq_sub *dlq;
	size_t hl = 0;

	(void)state;
	pub = open_pub(bus, "tg", &c);
	assert_int_equal(shmq_group_open(bus, "tg", "a", SHMQ_OPEN_CREATE, NULL, &g), 0);
	assert_int_equal(shmq_group_open(bus, "tg", "b", SHMQ_OPEN_CREATE, &nodlq, &g2), 0);
	assert_int_equal(shmq_sub_open(bus, "tg.dlq", SHMQ_OPEN_CREATE, NULL, 0, &dlq), 0);
	assert_int_equal(shmq_hdrs_add_ttl(hb, sizeof(hb), &hl, 1), 0);
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "late", 4, 9), 0);
	assert_int_equal(shmq_pub_send(pub, "fine", 4, 10), 0);
	assert_int_equal(shmq_group_recv(g, buf, sizeof(buf), &gm), 4);
	assert_memory_equal(buf, "fine", 4);
	assert_int_equal(shmq_group_ack(g, gm.lease), 0);
	assert_int_equal(shmq_sub_recv(dlq, buf, sizeof(buf), &info), (int)sizeof(*dh) + 4);
	dh = (const void *)buf;
	assert_int_equal(dh->reason, SHMQ_DLQ_EXPIRED);
	assert_int_equal(dh->corr_id, 9);
	assert_int_equal(shmq_group_recv(g2, buf, sizeof(buf), &gm), 4);
	assert_memory_equal(buf, "fine", 4);
	assert_int_equal(shmq_group_ack(g2, gm.lease), 0);
	assert_true(shmq_group_stat(bus, "tg", "b", &gs, NULL, 0) >= 0);
	assert_int_equal(gs.dropped, 1);
	assert_int_equal(gs.floor, 3); /* the expired one is done, not owed */
	shmq_sub_close(dlq);
	shmq_group_close(g2);
	shmq_group_close(g);

	/* a dead-letter topic that refuses (full, held back by its reader): an expired record
	 * fails each time, and after max_deliveries it is dropped, not retried for ever */
	{
		struct shmq_topic_config full = { .slots = 4, .max_msg = 512 };
		struct shmq_group_config gc = { .dlq = "tg.full",
						.max_deliveries = 2,
						.backoff_ns = 1000000,
						.backoff_max_ns = 1000000 };
		shmq_pub *fp;
		shmq_sub *held;
		int i, r;

		fp = open_pub(bus, "tg.full", &full);
		held = open_sub(bus, "tg.full", 0, &full, 0);
		for (i = 0; i < 4; i++)
			assert_int_equal(shmq_pub_send(fp, "x", 1, 0), 0);
		assert_int_equal(shmq_pub_send(fp, "x", 1, 0), -EAGAIN); /* full now */
		assert_int_equal(shmq_group_open(bus, "tg", "c", SHMQ_OPEN_CREATE | SHMQ_SUB_LATEST,
						 &gc, &g),
				 0);
		hl = 0;
		assert_int_equal(shmq_hdrs_add_ttl(hb, sizeof(hb), &hl, 1), 0);
		assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "late", 4, 0), 0);
		for (i = 0; i < 2000; i++) {
			r = shmq_group_recv(g, buf, sizeof(buf), &gm);
			assert_int_equal(r, -EAGAIN); /* never delivered */
			assert_true(shmq_group_stat(bus, "tg", "c", &gs, NULL, 0) >= 0);
			if (gs.dropped == 1)
				break;
			usleep(1000);
		}
		assert_int_equal(gs.dropped, 1);
		assert_int_equal(gs.floor, gs.tail); /* the floor went past it */
		shmq_group_close(g);
		shmq_sub_close(held);
		shmq_pub_close(fp);
	}
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* A delayed record is held back until its time, without holding back the records after it. */
static void test_delay_group(void **state)
{
	struct shmq_topic_config c = cfg_of(16, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	uint8_t hb[128], buf[MAXM];
	struct shmq_group_msg gm;
	const void *h;
	uint64_t nb;
	size_t hl = 0, n;
	shmq_group *g;
	shmq_pub *pub;
	int r;

	(void)state;
	pub = open_pub(bus, "dl", &c);
	assert_int_equal(shmq_group_open(bus, "dl", "a", SHMQ_OPEN_CREATE, NULL, &g), 0);
	assert_int_equal(shmq_hdrs_add_delay(hb, sizeof(hb), &hl, 200000000), 0); /* 200 ms */
	assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "later", 5, 1), 0);
	assert_int_equal(shmq_pub_send(pub, "now", 3, 2), 0);
	assert_int_equal(shmq_group_recv(g, buf, sizeof(buf), &gm), 3);
	assert_memory_equal(buf, "now", 3);
	assert_int_equal(shmq_group_ack(g, gm.lease), 0);
	for (;;) {
		r = shmq_group_recv(g, buf, sizeof(buf), &gm);
		if (r != -EAGAIN)
			break;
		assert_int_equal(shmq_group_wait(g, 0, 10000000000ull), 0);
	}
	assert_int_equal(r, 5);
	assert_memory_equal(buf, "later", 5);
	assert_int_equal(gm.attempt, 1); /* held back, not delivered */
	assert_int_equal(shmq_group_headers(g, &h, &n), 0);
	assert_int_equal(shmq_hdrs_time(h, n, SHMQ_HDR_NOT_BEFORE, &nb), 0);
	assert_true(shmq_now_ns() >= nb); /* never before its time */
	assert_true(gm.first_ns >= nb);
	assert_int_equal(shmq_group_ack(g, gm.lease), 0);

	/* a not-before past the longest delay: refused to build, dead-lettered if written */
	hl = 0;
	assert_int_equal(shmq_hdrs_add_delay(hb, sizeof(hb), &hl, SHMQ_MAX_DELAY_NS + 1), -EINVAL);
	{
		char far[24];
		uint8_t buf2[MAXM + 256];
		struct shmq_sub_msg info;
		shmq_sub *dlq;

		assert_int_equal(shmq_sub_open(bus, "dl.dlq", SHMQ_OPEN_CREATE, NULL, 0, &dlq), 0);
		snprintf(far, sizeof(far), "%llu",
			 (unsigned long long)(shmq_now_ns() + 2 * SHMQ_MAX_DELAY_NS));
		assert_int_equal(
			shmq_hdrs_add(hb, sizeof(hb), &hl, SHMQ_HDR_NOT_BEFORE, far, strlen(far)),
			0);
		assert_int_equal(shmq_pub_send_hdrs(pub, hb, hl, "never", 5, 3), 0);
		assert_int_equal(shmq_pub_send(pub, "after", 5, 4), 0);
		assert_int_equal(shmq_group_recv(g, buf, sizeof(buf), &gm), 5);
		assert_memory_equal(buf, "after", 5);
		assert_int_equal(shmq_group_ack(g, gm.lease), 0);
		assert_true(shmq_sub_recv(dlq, buf2, sizeof(buf2), &info) > 0);
		assert_int_equal(((const struct shmq_dlq_hdr *)buf2)->reason, SHMQ_DLQ_DELAY);
		shmq_sub_close(dlq);
	}
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block),	  cmocka_unit_test(test_block_garbage),
		cmocka_unit_test(test_topic),	  cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_group),	  cmocka_unit_test(test_ttl_sub),
		cmocka_unit_test(test_ttl_group), cmocka_unit_test(test_delay_group),
	};

	return cmocka_run_group_tests(tests, NULL, test_cleanup);
}
