// SPDX-License-Identifier: MIT
/* tp_transport.c - streaming transports shmq-spsc(-batch), raw-stream(-msg); the table of all. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "throughput.h"

int lost(const char *name, uint64_t seq)
{
	fprintf(stderr, "%s: %s: message %llu arrived wrong (sequence or length)\n", BENCH_PROG,
		name, (unsigned long long)seq);
	return -1;
}

/* ---- shmq-spsc (send/recv) and shmq-spsc-batch (send_many/recv_many) ---- */

static int shmq_setup(struct tp_run *r)
{
	return chan_create("tp", SHMQ_OPEN_CONSUMER, r->name, &r->rx);
}

static int shmq_produce(void *arg)
{
	struct tp_run *r = arg;
	shmq_channel *tx;
	uint64_t seq;
	int e = 0;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	if (chan_attach(r->name, SHMQ_OPEN_PRODUCER, &tx) < 0)
		return -1;
	for (seq = 1; seq <= r->total && e == 0; seq++) {
		stamp(r->pbuf, r->size, seq);
		e = chan_send(tx, r->pbuf, r->size, &r->spin);
	}
	shmq_channel_close(tx);
	return e < 0 ? fail("shmq-spsc producer: send", e) : 0;
}

static int shmq_consume(struct tp_run *r)
{
	uint64_t seq;
	int n;

	for (seq = 1; seq <= r->total; seq++) {
		n = chan_recv(r->rx, r->cbuf, r->size, &r->spin);
		if (n < 0)
			return fail("shmq-spsc: recv", n);
		if ((unsigned)n != r->size || !stamped(r->cbuf, r->size, seq))
			return lost("shmq-spsc", seq);
		clock_mark(r, seq);
		if (seq == 1)
			chan_unlink(r->name); /* the producer is attached */
	}
	return 0;
}

/* Send [seq, seq + n) with as few send_many calls as the free room allows. */
static int batch_send(struct tp_run *r, shmq_channel *tx, uint64_t seq, unsigned n)
{
	unsigned i, off = 0;
	int e;

	for (i = 0; i < n; i++) {
		stamp(r->iov[i].iov_base, r->size, seq + i);
		r->iov[i].iov_len = r->size;
	}
	while (off < n) {
		e = shmq_channel_send_many(tx, r->iov + off, n - off);
		if (e > 0)
			off += (unsigned)e;
		else if (e != -EAGAIN || spin_check(&r->spin))
			return e == -EAGAIN ? -EPIPE : e;
	}
	return 0;
}

static int batch_produce(void *arg)
{
	struct tp_run *r = arg;
	shmq_channel *tx;
	uint64_t seq, left;
	unsigned n;
	int e = 0;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	if (chan_attach(r->name, SHMQ_OPEN_PRODUCER, &tx) < 0)
		return -1;
	for (seq = 1; seq <= r->total && e == 0; seq += n) {
		left = r->total - seq + 1;
		n = left < r->batch ? (unsigned)left : r->batch;
		e = batch_send(r, tx, seq, n);
	}
	shmq_channel_close(tx);
	return e < 0 ? fail("shmq-spsc-batch producer: send_many", e) : 0;
}

static int batch_recv(struct tp_run *r)
{
	bool gone = false;
	int n;

	while ((n = shmq_channel_recv_many(r->rx, r->rmsg, r->batch)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(&r->spin);
	}
	return n;
}

static int batch_consume(struct tp_run *r)
{
	uint64_t seq = 1;
	int i, n;

	while (seq <= r->total) {
		n = batch_recv(r);
		if (n < 0)
			return fail("shmq-spsc-batch: recv_many", n);
		for (i = 0; i < n; i++, seq++) {
			if (seq > r->total || r->rmsg[i].info.len != r->size ||
			    !stamped(r->rmsg[i].buf, r->size, seq))
				return lost("shmq-spsc-batch", seq);
			clock_mark(r, seq);
		}
		if (seq - (uint64_t)n == 1)
			chan_unlink(r->name);
	}
	return 0;
}

/* Once the producer is done, nothing may be left: it sent exactly r->total. */
static int shmq_finish(struct tp_run *r)
{
	int n = shmq_channel_recv(r->rx, r->cbuf, BENCH_MAX_SIZE, NULL);

	if (n != -EAGAIN)
		return fail("shmq-spsc: a message beyond the last one", n < 0 ? n : -EBADMSG);
	return 0;
}

static void shmq_teardown(struct tp_run *r)
{
	shmq_channel_close(r->rx);
	r->rx = NULL;
	chan_unlink(r->name);
}

/*
 * ---- raw-stream: payload bytes in a ring and two indices, no framing ----
 * raw-stream publishes and releases its indices once per --batch messages (the streaming
 * limit); raw-stream-msg once per message, the granularity of plain send/recv.
 */

#define RAW_DATA_OFF 4096
#define RAW_MAP_SIZE (RAW_DATA_OFF + TP_RING_BYTES)

struct raw_ring {
	alignas(128) _Atomic uint64_t wpos; /* bytes ever written; producer */
	alignas(128) _Atomic uint64_t rpos; /* bytes ever consumed; consumer */
};

static inline uint8_t *raw_data(struct raw_ring *ring)
{
	return (uint8_t *)ring + RAW_DATA_OFF;
}

static int raw_setup(struct tp_run *r)
{
	r->ring = shared_alloc(RAW_MAP_SIZE);
	if (!r->ring)
		return fail("raw-stream: mmap", -ENOMEM);
	memset(r->ring, 0, RAW_MAP_SIZE); /* fault the pages in now, like a channel's ring */
	return 0;
}

/* Messages start 8-byte aligned; a message that crosses the ring's end is split in two. */
static inline unsigned raw_stride(unsigned size)
{
	return (size + 7) & ~7u;
}

static inline void copy_in(uint8_t *data, uint64_t pos, const uint8_t *src, unsigned len)
{
	size_t off = pos & (TP_RING_BYTES - 1), first = TP_RING_BYTES - off;

	if (first >= len) {
		memcpy(data + off, src, len);
		return;
	}
	memcpy(data + off, src, first);
	memcpy(data, src + first, len - first);
}

static inline void copy_out(uint8_t *dst, const uint8_t *data, uint64_t pos, unsigned len)
{
	size_t off = pos & (TP_RING_BYTES - 1), first = TP_RING_BYTES - off;

	if (first >= len) {
		memcpy(dst, data + off, len);
		return;
	}
	memcpy(dst, data + off, first);
	memcpy(dst + first, data, len - first);
}

/* Wait until @need bytes after @w are free; -EPIPE when the consumer died. */
static inline int raw_room(struct tp_run *r, uint64_t w, uint64_t need, uint64_t *cached_r)
{
	while (w + need - *cached_r > TP_RING_BYTES) {
		/* A2: pairs with R2 in raw_consume_every(): the consumer is done with those bytes. */
		*cached_r = atomic_load_explicit(&r->ring->rpos, memory_order_acquire);
		if (w + need - *cached_r > TP_RING_BYTES && spin_check(&r->spin))
			return -EPIPE;
	}
	return 0;
}

/*
 * The producer publishes its index every @every messages (and before it waits for room); the
 * consumer releases its own as often (and before it waits for data).
 */
static int raw_produce_every(struct tp_run *r, unsigned every)
{
	uint8_t *data = raw_data(r->ring);
	unsigned stride = raw_stride(r->size), pending = 0;
	uint64_t seq, w = 0, cached_r = 0;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	for (seq = 1; seq <= r->total; seq++) {
		if (w + stride - cached_r > TP_RING_BYTES) {
			/* R1: pairs with A1 in raw_avail(): the messages' bytes are written. */
			atomic_store_explicit(&r->ring->wpos, w, memory_order_release);
			pending = 0;
			if (raw_room(r, w, stride, &cached_r) < 0)
				return fail("raw-stream producer", -EPIPE);
		}
		stamp(r->pbuf, r->size, seq);
		copy_in(data, w, r->pbuf, r->size);
		w += stride;
		if (++pending == every || seq == r->total) {
			atomic_store_explicit(&r->ring->wpos, w, memory_order_release); /* R1 */
			pending = 0;
		}
	}
	return 0;
}

static int raw_produce(void *arg)
{
	struct tp_run *r = arg;

	return raw_produce_every(r, r->batch);
}

static int raw_produce_msg(void *arg)
{
	return raw_produce_every(arg, 1);
}

/* Wait until @need bytes after @rd are written; -EPIPE when the producer is gone. */
static inline int raw_avail(struct tp_run *r, uint64_t rd, uint64_t need, uint64_t *cached_w)
{
	bool gone = false;

	while (rd + need > *cached_w) {
		if (gone)
			return -EPIPE;
		/* A1: pairs with R1 in raw_produce_every(). */
		*cached_w = atomic_load_explicit(&r->ring->wpos, memory_order_acquire);
		if (rd + need > *cached_w)
			gone = spin_check(&r->spin);
	}
	return 0;
}

static int raw_consume_every(struct tp_run *r, unsigned every)
{
	const uint8_t *data = raw_data(r->ring);
	unsigned stride = raw_stride(r->size), pending = 0;
	uint64_t seq, rd = 0, cached_w = 0;

	for (seq = 1; seq <= r->total; seq++) {
		if (rd + stride > cached_w) {
			/* R2: pairs with A2 in raw_room(): we are done with the bytes before rd. */
			atomic_store_explicit(&r->ring->rpos, rd, memory_order_release);
			pending = 0;
			if (raw_avail(r, rd, stride, &cached_w) < 0)
				return fail("raw-stream", -EPIPE);
		}
		copy_out(r->cbuf, data, rd, r->size);
		if (!stamped(r->cbuf, r->size, seq))
			return lost("raw-stream", seq);
		clock_mark(r, seq);
		rd += stride;
		if (++pending == every) {
			atomic_store_explicit(&r->ring->rpos, rd, memory_order_release); /* R2 */
			pending = 0;
		}
	}
	return 0;
}

static int raw_consume(struct tp_run *r)
{
	return raw_consume_every(r, r->batch);
}

static int raw_consume_msg(struct tp_run *r)
{
	return raw_consume_every(r, 1);
}

static int raw_finish(struct tp_run *r)
{
	uint64_t w = atomic_load_explicit(&r->ring->wpos, memory_order_acquire);

	if (w != r->total * raw_stride(r->size))
		return fail("raw-stream: byte count", -EBADMSG);
	return 0;
}

static void raw_teardown(struct tp_run *r)
{
	shared_free(r->ring, RAW_MAP_SIZE);
	r->ring = NULL;
}

static const struct tp_transport tp_spsc = {
	.name = "shmq-spsc",
	.setup = shmq_setup,
	.produce = shmq_produce,
	.consume = shmq_consume,
	.finish = shmq_finish,
	.teardown = shmq_teardown,
};

static const struct tp_transport tp_spsc_batch = {
	.name = "shmq-spsc-batch",
	.setup = shmq_setup,
	.produce = batch_produce,
	.consume = batch_consume,
	.finish = shmq_finish,
	.teardown = shmq_teardown,
};

static const struct tp_transport tp_raw = {
	.name = "raw-stream",
	.setup = raw_setup,
	.produce = raw_produce,
	.consume = raw_consume,
	.finish = raw_finish,
	.teardown = raw_teardown,
};

static const struct tp_transport tp_raw_msg = {
	.name = "raw-stream-msg",
	.setup = raw_setup,
	.produce = raw_produce_msg,
	.consume = raw_consume_msg,
	.finish = raw_finish,
	.teardown = raw_teardown,
};

const struct tp_transport *const tp_transports[TP_NTRANSPORTS] = {
	[TP_SHMQ] = &tp_spsc,
	[TP_BATCH] = &tp_spsc_batch,
	[TP_TOPIC] = &tp_topic, /* tp_topic.c, like the multi-producer runs */
	[TP_TOPIC_BATCH] = &tp_topic_batch,
	[TP_TOPIC_EXCL] = &tp_topic_excl,
	[TP_TOPIC_EXCL_BATCH] = &tp_topic_excl_batch,
	[TP_QUEUE] = &tp_queue, /* tp_topic.c: a group member consumes */
	[TP_RAW] = &tp_raw,
	[TP_RAW_MSG] = &tp_raw_msg,
	[TP_PIPE] = &tp_pipe, /* tp_stream.c */
	[TP_UDS] = &tp_uds,
	/* tp_link.c: the kernel and library peers */
	[TP_UDS_DGRAM] = &tp_links[LINK_UDS_DGRAM],
	[TP_EVENTFD] = &tp_links[LINK_EVENTFD],
	[TP_POSIX_MQ] = &tp_links[LINK_POSIX_MQ],
	[TP_ZMQ] = &tp_links[LINK_ZMQ],
	[TP_NNG] = &tp_links[LINK_NNG],
	[TP_IOX] = &tp_links[LINK_IOX],
	[TP_IOX_WS] = &tp_links[LINK_IOX_WS],
	/* 1, 2, 4, 8 producer processes into one topic */
	[TP_MP1] = &tp_topic_mp[0],
	[TP_MP2] = &tp_topic_mp[1],
	[TP_MP4] = &tp_topic_mp[2],
	[TP_MP8] = &tp_topic_mp[3],
};
