// SPDX-License-Identifier: MIT
/* test_hostile.c - random bytes over a channel's header, control block and ring: errors, no crash. */
#include <stdatomic.h>

#include "common.h"
#include "shm_layout.h"

#define CAP 4096u
#define TRIALS 1000

static void scribble(uint8_t *p, size_t len, uint64_t *rnd)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)test_rand(rnd);
}

static void create(shmq_bus *bus)
{
	struct shmq_channel_config cfg = { .capacity = CAP };
	shmq_channel *ch;

	assert_int_equal(
		shmq_channel_open(bus, "h", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &ch), 0);
	shmq_channel_close(ch);
}

/* Whole header and control block random: every attach must fail, as either role. */
static void test_random_header(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t rnd = 0x1234;
	shmq_channel *ch = NULL;
	uint8_t *base;
	size_t size;

	for (int t = 0; t < TRIALS; t++) {
		create(bus);
		base = test_map(bus, "h", &size);
		scribble(base, SHMQI_CHAN_RING_OFF, &rnd);
		munmap(base, size);
		assert_true(shmq_channel_open(bus, "h", SHMQ_OPEN_CONSUMER, NULL, &ch) < 0);
		assert_true(shmq_channel_open(bus, "h", SHMQ_OPEN_PRODUCER, NULL, &ch) < 0);
		assert_null(ch);
		test_unlink(bus, "h");
	}
	shmq_bus_close(bus);
}

/* A few random bytes at a random place in the first page: whatever open says, no crash. */
static void test_partial_header(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t rnd = 0x5678;
	shmq_channel *tx, *rx;
	uint8_t *base, buf[CAP];
	size_t size, off, len;

	for (int t = 0; t < TRIALS; t++) {
		create(bus);
		base = test_map(bus, "h", &size);
		off = test_rand(&rnd) % SHMQI_CHAN_RING_OFF;
		len = 1 + test_rand(&rnd) % 16;
		if (off + len > SHMQI_CHAN_RING_OFF)
			len = SHMQI_CHAN_RING_OFF - off;
		scribble(base + off, len, &rnd);
		munmap(base, size);
		if (shmq_channel_open(bus, "h", SHMQ_OPEN_PRODUCER, NULL, &tx) == 0) {
			for (int i = 0; i < 100 && shmq_channel_send(tx, buf, 100) == 0; i++)
				;
			shmq_channel_close(tx);
		}
		if (shmq_channel_open(bus, "h", SHMQ_OPEN_CONSUMER, NULL, &rx) == 0) {
			for (int i = 0;
			     i < 100 && shmq_channel_recv(rx, buf, sizeof(buf), NULL) >= 0; i++)
				;
			shmq_channel_close(rx);
		}
		test_unlink(bus, "h");
	}
	shmq_bus_close(bus);
}

struct attached {
	shmq_channel *tx, *rx;
	uint8_t *base;
	size_t size;
	struct shmqi_chan *ctl;
	uint8_t *ring;
};

static struct attached attach_both(shmq_bus *bus)
{
	struct attached a;

	create(bus);
	assert_int_equal(shmq_channel_open(bus, "h", SHMQ_OPEN_PRODUCER, NULL, &a.tx), 0);
	assert_int_equal(shmq_channel_open(bus, "h", SHMQ_OPEN_CONSUMER, NULL, &a.rx), 0);
	a.base = test_map(bus, "h", &a.size);
	a.ctl = (struct shmqi_chan *)(a.base + SHMQI_CHAN_BODY_OFF);
	a.ring = a.base + SHMQI_CHAN_RING_OFF;
	return a;
}

static void detach_both(shmq_bus *bus, struct attached *a)
{
	munmap(a->base, a->size);
	shmq_channel_close(a->tx);
	shmq_channel_close(a->rx);
	test_unlink(bus, "h");
}

/*
 * The ring is overwritten while both ends are attached. Half the trials keep a matching
 * stamp at the consumer's position, so the garbage is taken for a committed record and its
 * length, flags and sequence must be rejected; the rest leave a random stamp. Either way
 * every receive fails with -EBADMSG, and keeps failing.
 */
static void test_random_ring(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t rnd = 0x9abc, pos;
	struct attached a;
	uint8_t buf[CAP];
	const void *d;

	for (int t = 0; t < TRIALS; t++) {
		a = attach_both(bus);
		for (int i = 0; i < 1 + t % 5; i++)
			assert_int_equal(shmq_channel_send(a.tx, buf, 40), 0);
		for (int i = 0; i < 1 + t % 5; i++)
			assert_int_equal(shmq_channel_recv(a.rx, buf, sizeof(buf), NULL), 40);
		pos = atomic_load(&a.ctl->read_pos);
		scribble(a.ring, CAP, &rnd);
		if (t % 2)
			atomic_store(&((struct shmqi_rec *)(a.ring + pos % CAP))->stamp, pos | 1);
		assert_int_equal(shmq_channel_recv(a.rx, buf, sizeof(buf), NULL), -EBADMSG);
		assert_int_equal(shmq_channel_peek(a.rx, &d, NULL), -EBADMSG);
		detach_both(bus, &a);
	}
	shmq_bus_close(bus);
}

/* A record whose length runs past the ring's end, or a padding record that lies. */
static void test_lying_records(void **state)
{
	shmq_bus *bus = test_bus();
	struct attached a;
	struct shmqi_rec *rec;
	uint8_t buf[CAP];
	static const struct {
		uint32_t len, flags;
	} lies[] = {
		{ CAP, 0 },  { CAP - 32 + 1, 0 },    { 0xffffffffu, 0 },
		{ 1985, 0 }, { 100, SHMQI_REC_PAD }, { CAP - 32, SHMQI_REC_PAD },
		{ 8, 0x80 },
	};

	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		a = attach_both(bus);
		assert_int_equal(shmq_channel_send(a.tx, buf, 8), 0);
		rec = (struct shmqi_rec *)a.ring;
		rec->len = lies[i].len;
		rec->flags = lies[i].flags;
		assert_int_equal(shmq_channel_recv(a.rx, buf, sizeof(buf), NULL), -EBADMSG);
		detach_both(bus, &a);
	}
	/* A sequence that jumps. */
	a = attach_both(bus);
	assert_int_equal(shmq_channel_send(a.tx, buf, 8), 0);
	assert_int_equal(shmq_channel_send(a.tx, buf, 8), 0);
	assert_int_equal(shmq_channel_recv(a.rx, buf, sizeof(buf), NULL), 8);
	((struct shmqi_rec *)(a.ring + 64))->seq = 7;
	assert_int_equal(shmq_channel_recv(a.rx, buf, sizeof(buf), NULL), -EBADMSG);
	detach_both(bus, &a);
	shmq_bus_close(bus);
}

/* The consumer's shared position is garbage: the producer refuses to trust it. */
static void test_random_read_pos(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t rnd = 0xdef0;
	struct attached a;
	uint8_t buf[256] = { 0 };
	int r = 0;

	for (int t = 0; t < TRIALS; t++) {
		a = attach_both(bus);
		atomic_store(&a.ctl->read_pos, test_rand(&rnd) | 1);
		for (int i = 0; i < 64 && (r = shmq_channel_send(a.tx, buf, sizeof(buf))) == 0; i++)
			;
		assert_int_equal(r, -EPROTO);
		detach_both(bus, &a);
	}
	shmq_bus_close(bus);
}

/* Garbage positions met by a producer or consumer that takes over a role. */
static void test_random_takeover(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t rnd = 0x4242;
	shmq_channel *ch;
	struct attached a;
	uint8_t buf[CAP];

	for (int t = 0; t < TRIALS; t++) {
		a = attach_both(bus);
		shmq_channel_close(a.tx);
		shmq_channel_close(a.rx);
		scribble((uint8_t *)&a.ctl->write_pos, 16, &rnd);
		scribble((uint8_t *)&a.ctl->read_pos, 8, &rnd);
		if (t % 3 == 0)
			scribble(a.ring, CAP, &rnd);
		assert_true(shmq_channel_open(bus, "h", SHMQ_OPEN_PRODUCER, NULL, &ch) < 0);
		if (shmq_channel_open(bus, "h", SHMQ_OPEN_CONSUMER, NULL, &ch) == 0) {
			assert_true(shmq_channel_recv(ch, buf, sizeof(buf), NULL) < 0);
			shmq_channel_close(ch);
		}
		a.tx = a.rx = NULL;
		detach_both(bus, &a);
	}
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_header),	cmocka_unit_test(test_partial_header),
		cmocka_unit_test(test_random_ring),	cmocka_unit_test(test_lying_records),
		cmocka_unit_test(test_random_read_pos), cmocka_unit_test(test_random_takeover),
	};

	return cmocka_run_group_tests_name("hostile", tests, NULL, test_cleanup);
}
