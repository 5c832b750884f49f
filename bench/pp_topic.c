// SPDX-License-Identifier: MIT
/* pp_topic.c - ping-pong over topics (N echo subscribers, or a group member), raw fan-out. */
#include <assert.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pingpong.h"

/*
 * ---- shmq-topic, shmq-topic-excl, shmq-topic-fanN ----
 * Two reliable topics: requests, published by the initiator and read by the N echo
 * processes; replies, published by all N (one producer each) and read by the initiator.
 * A round trip ends when all N replies are in. The request's correlation id is its
 * sequence number, and each echo publishes its reply with the same one. shmq-topic-excl
 * (N = 1: each topic has one producer) opens both producers with SHMQ_PUB_EXCLUSIVE.
 */

static int topic_setup(struct pp_run *r)
{
	topic_config(&r->tcfg, r->size);
	if (topic_create("ppt", &r->tcfg, r->pub_flags, r->treq, &r->pub, NULL) < 0)
		return -1;
	/* Subscribed before any echo exists: no reply, the hellos included, can be missed. */
	return topic_create("ppt", &r->tcfg, r->pub_flags & SHMQ_SUB_LATENCY, r->trep, NULL,
			    &r->sub);
}

/*
 * As the shmq-spsc echo: the payload goes straight from the request topic's log into the
 * reply topic's (peek, send, release), read and written once.
 */
static int topic_serve(struct pp_run *r, shmq_sub *in, shmq_pub *out)
{
	struct shmq_sub_msg info;
	const void *data;
	uint64_t i;
	int n, e;

	for (i = 1; i <= r->total; i++) {
		n = topic_peek(in, &data, &info, &r->spin);
		if (n < 0)
			return fail("shmq-topic echo: peek", n);
		if ((unsigned)n != r->size || info.corr_id != i || info.lost || info.skipped)
			return fail("shmq-topic echo: not the request expected", -EBADMSG);
		e = topic_send(out, data, (size_t)n, info.corr_id, &r->spin);
		if (e < 0)
			return fail("shmq-topic echo: send", e);
		e = shmq_sub_release(in);
		if (e != 1)
			return fail("shmq-topic echo: release", e < 0 ? e : -EBADMSG);
	}
	return 0;
}

/*
 * ---- shmq-topic-hdrs: shmq-topic whose requests and replies carry a header ----
 * A W3C traceparent, as a traced caller's records would: the initiator sends it with every
 * request, the echo sends the block it read in place back with the reply, and the initiator
 * checks the copy its receive made. What headers cost when used, beside shmq-topic.
 */
#define TRACEPARENT "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define HDRS_ROOM 128u /* the block beside the payload */

static inline int hdrs_send(shmq_pub *pub, const void *h, size_t hl, const void *p, size_t len,
			    uint64_t corr_id, struct spin *s)
{
	bool gone = false;
	int e;

	while ((e = shmq_pub_send_hdrs(pub, h, hl, p, len, corr_id)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(s);
	}
	return e;
}

static int hdrs_serve(struct pp_run *r, shmq_sub *in, shmq_pub *out)
{
	struct shmq_sub_msg info;
	const void *data, *h;
	size_t hl;
	uint64_t i;
	int n, e;

	for (i = 1; i <= r->total; i++) {
		n = topic_peek(in, &data, &info, &r->spin);
		if (n < 0)
			return fail("shmq-topic-hdrs echo: peek", n);
		shmq_sub_headers(in, &h, &hl);
		if ((unsigned)n != r->size || info.corr_id != i || hl != r->hdrs_len)
			return fail("shmq-topic-hdrs echo: not the request expected", -EBADMSG);
		e = hdrs_send(out, h, hl, data, (size_t)n, info.corr_id, &r->spin);
		if (e < 0)
			return fail("shmq-topic-hdrs echo: send", e);
		e = shmq_sub_release(in);
		if (e != 1)
			return fail("shmq-topic-hdrs echo: release", e < 0 ? e : -EBADMSG);
	}
	return 0;
}

static int topic_echo(void *arg)
{
	struct pp_run *r = arg;
	shmq_sub *in = NULL;
	shmq_pub *out = NULL;
	int e = -1;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	/* The parent's handles came with fork(); they are its, never closed here. */
	if (topic_attach(r->treq, &r->tcfg, r->pub_flags & SHMQ_SUB_LATENCY, NULL, &in) < 0 ||
	    topic_attach(r->trep, &r->tcfg, r->pub_flags, &out, NULL) < 0)
		goto out;
	/* An empty hello: this echo's subscription is in place before the first request. */
	e = topic_send(out, NULL, 0, 0, &r->spin);
	if (e < 0) {
		e = fail("shmq-topic echo: hello", e);
		goto out;
	}
	e = r->hdrs_len ? hdrs_serve(r, in, out) : topic_serve(r, in, out);
out:
	shmq_sub_close(in);
	shmq_pub_close(out);
	return e;
}

/* Every echo's hello is in: each is attached to both topics. */
static int hellos(struct pp_run *r)
{
	struct shmq_sub_msg info;
	unsigned i;
	int n;

	for (i = 0; i < r->nechoes; i++) {
		n = topic_recv(r->sub, r->rbuf, BENCH_MAX_SIZE, &info, &r->spin);
		if (n != 0)
			return fail("shmq-topic: wait for the echo processes",
				    n < 0 ? n : -EBADMSG);
	}
	return 0;
}

static int topic_attached(struct pp_run *r)
{
	if (hellos(r) < 0)
		return -1;
	topic_unlink(r->treq);
	topic_unlink(r->trep);
	return 0;
}

static int topic_rt(struct pp_run *r, uint64_t seq)
{
	unsigned i;
	int n;

	n = topic_send(r->pub, r->buf, r->size, seq, &r->spin);
	if (n < 0)
		return fail("shmq-topic: send", n);
	for (i = 0; i < r->nechoes; i++) {
		n = topic_recv(r->sub, r->rbuf + i * r->rstride, r->size, &r->rinfo[i], &r->spin);
		if (n < 0)
			return fail("shmq-topic: recv", n);
		if ((unsigned)n != r->size)
			return fail("shmq-topic: wrong length", -EBADMSG);
	}
	return 0;
}

static int bad_reply(uint64_t seq, unsigned i, const char *why)
{
	fprintf(stderr, "%s: shmq-topic: round trip %llu, reply %u: %s\n", BENCH_PROG,
		(unsigned long long)seq, i + 1, why);
	return -1;
}

/*
 * Every echo replies once per request: its reply is its producer's record seq + 1 (after
 * the hello), carries the request's id and payload, and no record was lost or skipped.
 */
static int topic_check(struct pp_run *r, uint64_t seq)
{
	const struct shmq_sub_msg *m;
	unsigned i, j;

	for (i = 0; i < r->nechoes; i++) {
		m = &r->rinfo[i];
		if (memcmp(r->rbuf + i * r->rstride, r->buf, r->size) != 0)
			return bad_reply(seq, i, "payload differs from the one sent");
		if (m->corr_id != seq || m->producer_seq != seq + 1)
			return bad_reply(seq, i, "wrong correlation id or producer sequence");
		if (m->lost || m->skipped)
			return bad_reply(seq, i, "records lost or skipped on a reliable topic");
		for (j = 0; j < i; j++) {
			if (r->rinfo[j].producer_id == m->producer_id)
				return bad_reply(seq, i, "a second reply from one echo process");
		}
	}
	return 0;
}

static void topic_teardown(struct pp_run *r)
{
	shmq_pub_close(r->pub);
	shmq_sub_close(r->sub);
	r->pub = NULL;
	r->sub = NULL;
	topic_unlink(r->treq);
	topic_unlink(r->trep);
}

static int hdrs_setup(struct pp_run *r)
{
	static uint8_t block[HDRS_ROOM];
	size_t hl = 0;
	int e;

	e = shmq_hdrs_add(block, sizeof(block), &hl, "traceparent", TRACEPARENT,
			  strlen(TRACEPARENT));
	if (e < 0)
		return fail("shmq-topic-hdrs: header", e);
	r->hdrs = block;
	r->hdrs_len = hl;
	topic_config(&r->tcfg, r->size);
	if (r->size + HDRS_ROOM > SHMQ_TOPIC_DEFAULT_MAX_MSG)
		r->tcfg.max_msg = r->size + HDRS_ROOM;
	if (topic_create("ppt", &r->tcfg, 0, r->treq, &r->pub, NULL) < 0)
		return -1;
	return topic_create("ppt", &r->tcfg, 0, r->trep, NULL, &r->sub);
}

static int hdrs_rt(struct pp_run *r, uint64_t seq)
{
	int n;

	n = hdrs_send(r->pub, r->hdrs, r->hdrs_len, r->buf, r->size, seq, &r->spin);
	if (n < 0)
		return fail("shmq-topic-hdrs: send", n);
	n = topic_recv(r->sub, r->rbuf, r->size, &r->rinfo[0], &r->spin);
	if (n < 0)
		return fail("shmq-topic-hdrs: recv", n);
	return (unsigned)n == r->size ? 0 : fail("shmq-topic-hdrs: wrong length", -EBADMSG);
}

/* As shmq-topic's check, and the reply's header block is the one sent. */
static int hdrs_check(struct pp_run *r, uint64_t seq)
{
	const void *h;
	size_t hl;

	shmq_sub_headers(r->sub, &h, &hl);
	if (hl != r->hdrs_len || !h || memcmp(h, r->hdrs, hl) != 0)
		return bad_reply(seq, 0, "headers differ from the ones sent");
	return topic_check(r, seq);
}

/*
 * ---- shmq-queue: the requests' reader is a consumer-group member ----
 * As shmq-topic, but the echo process is the member of a group on the request topic: per
 * request it receives (shmq_group_recv(), a copy), acks, then publishes the reply, so the
 * ack is on the round trip's path. The group exists (at the earliest record) before the
 * echo does; the request topic's name stays until teardown, which deletes the group by it.
 */
static int queue_setup(struct pp_run *r)
{
	if (topic_setup(r) < 0)
		return -1;
	return group_create(r->treq, NULL, r->gtopic, NULL);
}

static int queue_serve(struct pp_run *r, shmq_group *in, shmq_pub *out)
{
	struct shmq_group_msg info;
	uint64_t i;
	int n, e;

	for (i = 1; i <= r->total; i++) {
		n = group_recv(in, r->ebuf, r->size, &info, &r->spin);
		if (n < 0)
			return fail("shmq-queue echo: recv", n);
		if ((unsigned)n != r->size || info.corr_id != i || info.attempt != 1)
			return fail("shmq-queue echo: not the request expected", -EBADMSG);
		e = shmq_group_ack(in, info.lease);
		if (e < 0)
			return fail("shmq-queue echo: ack", e);
		e = topic_send(out, r->ebuf, (size_t)n, info.corr_id, &r->spin);
		if (e < 0)
			return fail("shmq-queue echo: send", e);
	}
	/* Each request acked once, none redelivered: the group owes nothing. */
	return group_check(r->treq, r->total, "shmq-queue echo");
}

static int queue_echo(void *arg)
{
	struct pp_run *r = arg;
	shmq_group *in = NULL;
	shmq_pub *out = NULL;
	int e = -1;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	if (group_attach(r->treq, &in) < 0 ||
	    topic_attach(r->trep, &r->tcfg, r->pub_flags, &out, NULL) < 0)
		goto out;
	e = topic_send(out, NULL, 0, 0, &r->spin); /* the hello, as shmq-topic's */
	if (e < 0) {
		e = fail("shmq-queue echo: hello", e);
		goto out;
	}
	e = queue_serve(r, in, out);
out:
	shmq_group_close(in);
	shmq_pub_close(out);
	return e;
}

static int queue_attached(struct pp_run *r)
{
	if (hellos(r) < 0)
		return -1;
	topic_unlink(r->trep);
	return 0;
}

static void queue_teardown(struct pp_run *r)
{
	group_remove(r->gtopic);
	topic_teardown(r);
}

/*
 * ---- raw-cacheline-fanN: the hardware's fan-out ----
 * The initiator stores a counter to its line; each echo spins on it and stores the counter
 * to a line of its own; the round trip ends when the initiator has seen all N.
 */

#define FAN_MAP_SIZE 4096

struct fan_line {
	alignas(128) _Atomic uint64_t v; /* 128 bytes apart: no shared adjacent-line pair */
};

struct raw_fan {
	struct fan_line ping; /* written by the initiator, read by every echo */
	struct fan_line pong[BENCH_MAX_PEERS]; /* pong[i] written by echo i */
};
static_assert(sizeof(struct raw_fan) <= FAN_MAP_SIZE, "raw fan-out lines fit the map");

static int fan_setup(struct pp_run *r)
{
	r->fan = shared_alloc(FAN_MAP_SIZE);
	return r->fan ? 0 : fail("raw-cacheline-fan: mmap", -ENOMEM);
}

static int fan_echo(void *arg)
{
	struct pp_run *r = arg;
	_Atomic uint64_t *ping = &r->fan->ping.v, *pong = &r->fan->pong[r->idx].v;
	uint64_t i;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	for (i = 1; i <= r->total; i++) {
		/* A: pairs with the initiator's release store of ping in fan_rt(). */
		while (atomic_load_explicit(ping, memory_order_acquire) != i) {
			if (spin_check(&r->spin) && atomic_load(ping) != i)
				return fail("raw-cacheline-fan echo", -EPIPE);
		}
		/* R: pairs with the acquire loads of pong[] in fan_rt(). */
		atomic_store_explicit(pong, i, memory_order_release);
	}
	return 0;
}

static int fan_attached(struct pp_run *r)
{
	(void)r;
	return 0;
}

static int fan_rt(struct pp_run *r, uint64_t seq)
{
	_Atomic uint64_t *pong;
	unsigned i;

	/* R: pairs with the acquire load of ping in fan_echo(). */
	atomic_store_explicit(&r->fan->ping.v, seq, memory_order_release);
	for (i = 0; i < r->nechoes; i++) {
		pong = &r->fan->pong[i].v;
		/* A: pairs with the release store of pong[i] in fan_echo(). */
		while (atomic_load_explicit(pong, memory_order_acquire) != seq) {
			if (spin_check(&r->spin) && atomic_load(pong) != seq)
				return fail("raw-cacheline-fan", -EPIPE);
		}
	}
	return 0;
}

static void fan_teardown(struct pp_run *r)
{
	shared_free(r->fan, FAN_MAP_SIZE);
	r->fan = NULL;
}

/* ---- the transports ---- */

#define TOPIC_TRANSPORT(str, n, flags)                                                         \
	{                                                                                      \
		.name = str, .payload = true, .topic = true, .nechoes = n, .pub_flags = flags, \
		.setup = topic_setup, .echo = topic_echo, .attached = topic_attached,          \
		.rt = topic_rt, .check = topic_check, .teardown = topic_teardown,              \
	}

#define FAN_TRANSPORT(str, n)                                                     \
	{                                                                         \
		.name = str, .nechoes = n, .setup = fan_setup, .echo = fan_echo,  \
		.attached = fan_attached, .rt = fan_rt, .teardown = fan_teardown, \
	}

const struct pp_transport pp_topic = TOPIC_TRANSPORT("shmq-topic", 1, 0);
const struct pp_transport pp_topic_excl = TOPIC_TRANSPORT("shmq-topic-excl", 1, SHMQ_PUB_EXCLUSIVE);
/* shmq-topic whose two subscribers record delivery latency: its p50 against shmq-topic's */
const struct pp_transport pp_topic_lat = TOPIC_TRANSPORT("shmq-topic-lat", 1, SHMQ_SUB_LATENCY);

const struct pp_transport pp_topic_hdrs = {
	.name = "shmq-topic-hdrs",
	.payload = true,
	.topic = true,
	.nechoes = 1,
	.setup = hdrs_setup,
	.echo = topic_echo,
	.attached = topic_attached,
	.rt = hdrs_rt,
	.check = hdrs_check,
	.teardown = topic_teardown,
};

const struct pp_transport pp_queue = {
	.name = "shmq-queue",
	.payload = true,
	.group = true,
	.setup = queue_setup,
	.echo = queue_echo,
	.attached = queue_attached,
	.rt = topic_rt,
	.check = topic_check,
	.teardown = queue_teardown,
};

const struct pp_transport pp_topic_fan[PP_NFAN] = {
	TOPIC_TRANSPORT("shmq-topic-fan1", 1, 0),
	TOPIC_TRANSPORT("shmq-topic-fan2", 2, 0),
	TOPIC_TRANSPORT("shmq-topic-fan4", 4, 0),
	TOPIC_TRANSPORT("shmq-topic-fan8", 8, 0),
};

const struct pp_transport pp_raw_fan[PP_NFAN] = {
	FAN_TRANSPORT("raw-cacheline-fan1", 1),
	FAN_TRANSPORT("raw-cacheline-fan2", 2),
	FAN_TRANSPORT("raw-cacheline-fan4", 4),
	FAN_TRANSPORT("raw-cacheline-fan8", 8),
};
