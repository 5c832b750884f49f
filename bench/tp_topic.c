// SPDX-License-Identifier: MIT
/* tp_topic.c - streaming into a topic from 1 or P producers; a subscriber or a member checks. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "throughput.h"

/*
 * Each producer stamps (index << 48 | counter) into its payloads' first and last 8 bytes
 * (counter 1, 2, ... per producer). The subscriber checks, for every record, that the
 * counter is the next one of that producer, that the library's producer sequence agrees,
 * and that a producer index always comes with the same producer id. Payloads under 8 bytes
 * carry nothing: the producer id and sequence alone are checked.
 */
#define PROD_SHIFT 48

static inline uint64_t prod_word(unsigned idx, uint64_t k)
{
	return (uint64_t)idx << PROD_SHIFT | k;
}

static int topic_setup(struct tp_run *r)
{
	unsigned i;

	memset(r->next, 0, sizeof(r->next));
	memset(r->prod_id, 0, sizeof(r->prod_id));
	r->nseen = 0;
	for (i = 0; i < TP_MAX_BATCH; i++)
		r->smsg[i] = (struct shmq_sub_rmsg){ .buf = r->rmsg[i].buf, .cap = r->size };
	topic_config(&r->tcfg, r->size);
	/* Subscribed before any producer exists: a reliable topic then holds them back. */
	return topic_create("tpt", &r->tcfg, 0, r->tname, NULL, &r->sub);
}

/* ---- producers ---- */

static int topic_produce(void *arg)
{
	struct tp_run *r = arg;
	shmq_pub *pub;
	uint64_t k;
	int e = 0;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	if (topic_attach(r->tname, &r->tcfg, r->pub_flags, &pub, NULL) < 0)
		return -1;
	for (k = 1; k <= r->per_prod && e == 0; k++) {
		stamp(r->pbuf, r->size, prod_word(r->idx, k));
		e = topic_send(pub, r->pbuf, r->size, 0, &r->spin);
	}
	shmq_pub_close(pub);
	return e < 0 ? fail("shmq-topic producer: send", e) : 0;
}

/* Publish counters [k, k + n) with as few send_many calls as the free room allows. */
static int batch_send(struct tp_run *r, shmq_pub *pub, uint64_t k, unsigned n)
{
	unsigned i, off = 0;
	int e;

	for (i = 0; i < n; i++) {
		stamp(r->iov[i].iov_base, r->size, prod_word(r->idx, k + i));
		r->pmsg[i] = (struct shmq_pub_msg){ r->iov[i].iov_base, r->size, 0 };
	}
	while (off < n) {
		e = shmq_pub_send_many(pub, r->pmsg + off, n - off);
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
	shmq_pub *pub;
	uint64_t k, left;
	unsigned n;
	int e = 0;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	if (topic_attach(r->tname, &r->tcfg, r->pub_flags, &pub, NULL) < 0)
		return -1;
	for (k = 1; k <= r->per_prod && e == 0; k += n) {
		left = r->per_prod - k + 1;
		n = left < r->batch ? (unsigned)left : r->batch;
		e = batch_send(r, pub, k, n);
	}
	shmq_pub_close(pub);
	return e < 0 ? fail("shmq-topic-batch producer: send_many", e) : 0;
}

/* ---- the subscriber ---- */

static int bad_record(const struct shmq_sub_msg *m, const char *why)
{
	fprintf(stderr, "%s: shmq-topic: record %llu (producer id %u, its record %llu): %s\n",
		BENCH_PROG, (unsigned long long)m->seq, m->producer_id,
		(unsigned long long)m->producer_seq, why);
	return -1;
}

/*
 * Which producer sent @m, and its counter: from the payload, or (under 8 bytes) from the
 * producer id and sequence. -1 when the payload names no producer of this run.
 */
static int producer_of(struct tp_run *r, const uint8_t *p, const struct shmq_sub_msg *m,
		       uint64_t *k)
{
	uint64_t a, b;
	unsigned i;

	if (r->size >= 8) {
		memcpy(&a, p, 8);
		b = a;
		if (!tp_touch_first8)
			memcpy(&b, p + r->size - 8, 8);
		if (a != b || (a >> PROD_SHIFT) >= r->nprod)
			return -1;
		*k = a & ((UINT64_C(1) << PROD_SHIFT) - 1);
		return (int)(a >> PROD_SHIFT);
	}
	*k = m->producer_seq;
	for (i = 0; i < r->nseen; i++) {
		if (r->prod_id[i] == m->producer_id)
			return (int)i;
	}
	return r->nseen < r->nprod ? (int)r->nseen : -1;
}

/* The first record of a producer: learn its id; once all are in, the name may go. */
static int producer_new(struct tp_run *r, unsigned i, const struct shmq_sub_msg *m)
{
	unsigned j;

	for (j = 0; j < BENCH_MAX_PEERS; j++) {
		if (r->prod_id[j] == m->producer_id)
			return bad_record(m, "one producer id for two producer processes");
	}
	r->prod_id[i] = m->producer_id;
	r->next[i] = 1;
	if (++r->nseen == r->nprod && !r->keep_name)
		topic_unlink(r->tname);
	return 0;
}

static int topic_take(struct tp_run *r, const uint8_t *p, const struct shmq_sub_msg *m)
{
	uint64_t k = 0;
	int i = producer_of(r, p, m, &k);

	if (i < 0 || m->len != r->size)
		return bad_record(m, "wrong length or producer index");
	if (!r->prod_id[i] && producer_new(r, (unsigned)i, m) < 0)
		return -1;
	if (m->producer_id != r->prod_id[i])
		return bad_record(m, "a producer index with a second producer id");
	if (k != r->next[i] || m->producer_seq != k)
		return bad_record(m, "out of sequence for its producer");
	if (m->lost || m->skipped)
		return bad_record(m, "records lost or skipped on a reliable topic");
	r->next[i]++;
	return 0;
}

static int topic_consume(struct tp_run *r)
{
	struct shmq_sub_msg info;
	uint64_t seq;
	int n;

	for (seq = 1; seq <= r->total; seq++) {
		n = topic_recv(r->sub, r->cbuf, r->size, &info, &r->spin);
		if (n < 0)
			return fail("shmq-topic: recv", n);
		if (topic_take(r, r->cbuf, &info) < 0)
			return -1;
		clock_mark(r, seq);
	}
	return 0;
}

static int batch_recv(struct tp_run *r)
{
	bool gone = false;
	int n;

	while ((n = shmq_sub_recv_many(r->sub, r->smsg, r->batch)) == -EAGAIN) {
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
			return fail("shmq-topic-batch: recv_many", n);
		for (i = 0; i < n; i++, seq++) {
			if (seq > r->total)
				return bad_record(&r->smsg[i].info, "beyond the last one");
			if (topic_take(r, r->smsg[i].buf, &r->smsg[i].info) < 0)
				return -1;
			clock_mark(r, seq);
		}
	}
	return 0;
}

/* Once the producers are done: every one sent all, nothing more came, nothing was lost. */
static int topic_finish(struct tp_run *r)
{
	struct shmq_sub_stats st;
	unsigned i;
	int n = shmq_sub_recv(r->sub, r->cbuf, BENCH_MAX_SIZE, NULL);

	if (n != -EAGAIN)
		return fail("shmq-topic: a record beyond the last one", n < 0 ? n : -EBADMSG);
	for (i = 0; i < r->nprod; i++) {
		if (r->next[i] != r->per_prod + 1)
			return fail("shmq-topic: a producer's record count", -EBADMSG);
	}
	n = shmq_sub_stats(r->sub, &st);
	if (n < 0)
		return fail("shmq-topic: subscriber stats", n);
	if (st.received != r->total || st.lost || st.skipped)
		return fail("shmq-topic: subscriber counters", -EBADMSG);
	return 0;
}

static void topic_teardown(struct tp_run *r)
{
	shmq_sub_close(r->sub);
	r->sub = NULL;
	topic_unlink(r->tname);
}

/*
 * ---- shmq-queue: the same producer; the parent consumes as the one member of a group ----
 * Every record is received and acked (shmq_group_recv() + shmq_group_ack()) and checked as
 * the subscriber's are; with one member that acks everything, each comes once, on its first
 * delivery, in order. The topic's name stays until teardown: the group's stat needs it.
 */
static int queue_setup(struct tp_run *r)
{
	int e = topic_setup(r);

	if (e < 0)
		return e;
	r->keep_name = true;
	e = group_create(r->tname, NULL, r->gtopic, &r->grp);
	/* The group's floor holds the producer back from now on; an unread subscriber must not. */
	shmq_sub_close(r->sub);
	r->sub = NULL;
	return e;
}

static int queue_take(struct tp_run *r, const struct shmq_group_msg *g)
{
	const struct shmq_sub_msg m = { .seq = g->seq,
					.ts_ns = g->ts_ns,
					.corr_id = g->corr_id,
					.producer_id = g->producer_id,
					.producer_seq = g->producer_seq,
					.len = g->len };
	int e;

	if (g->attempt != 1 || g->failed)
		return bad_record(&m, "a redelivery to the one member, which acks everything");
	if (topic_take(r, r->cbuf, &m) < 0)
		return -1;
	e = shmq_group_ack(r->grp, g->lease);
	return e < 0 ? fail("shmq-queue: ack", e) : 0;
}

static int queue_consume(struct tp_run *r)
{
	struct shmq_group_msg info;
	uint64_t seq;
	int n;

	for (seq = 1; seq <= r->total; seq++) {
		n = group_recv(r->grp, r->cbuf, r->size, &info, &r->spin);
		if (n < 0)
			return fail("shmq-queue: recv", n);
		if (queue_take(r, &info) < 0)
			return -1;
		clock_mark(r, seq);
	}
	return 0;
}

/* Once the producer is done: it sent all, nothing more came, the group owes nothing. */
static int queue_finish(struct tp_run *r)
{
	struct shmq_group_msg info;
	unsigned i;
	int n = shmq_group_recv(r->grp, r->cbuf, BENCH_MAX_SIZE, &info);

	if (n != -EAGAIN)
		return fail("shmq-queue: a record beyond the last one", n < 0 ? n : -EBADMSG);
	for (i = 0; i < r->nprod; i++) {
		if (r->next[i] != r->per_prod + 1)
			return fail("shmq-queue: a producer's record count", -EBADMSG);
	}
	return group_check(r->gtopic, r->total, "shmq-queue");
}

static void queue_teardown(struct tp_run *r)
{
	shmq_group_close(r->grp);
	r->grp = NULL;
	group_remove(r->gtopic);
	topic_teardown(r);
}

/* @flags: SHMQ_PUB_EXCLUSIVE for the -excl variants, whose topic has one producer. */
#define TOPIC_TRANSPORT(str, n, flags, prod, cons)                                                \
	{                                                                                         \
		.name = str, .topic = true, .nprod = n, .pub_flags = flags, .setup = topic_setup, \
		.produce = prod, .consume = cons, .finish = topic_finish,                         \
		.teardown = topic_teardown,                                                       \
	}

const struct tp_transport tp_topic =
	TOPIC_TRANSPORT("shmq-topic", 1, 0, topic_produce, topic_consume);
const struct tp_transport tp_topic_batch =
	TOPIC_TRANSPORT("shmq-topic-batch", 1, 0, batch_produce, batch_consume);
const struct tp_transport tp_topic_excl =
	TOPIC_TRANSPORT("shmq-topic-excl", 1, SHMQ_PUB_EXCLUSIVE, topic_produce, topic_consume);
const struct tp_transport tp_topic_excl_batch = TOPIC_TRANSPORT(
	"shmq-topic-excl-batch", 1, SHMQ_PUB_EXCLUSIVE, batch_produce, batch_consume);

const struct tp_transport tp_topic_mp[TP_NMP] = {
	TOPIC_TRANSPORT("shmq-topic-mp1", 1, 0, topic_produce, topic_consume),
	TOPIC_TRANSPORT("shmq-topic-mp2", 2, 0, topic_produce, topic_consume),
	TOPIC_TRANSPORT("shmq-topic-mp4", 4, 0, topic_produce, topic_consume),
	TOPIC_TRANSPORT("shmq-topic-mp8", 8, 0, topic_produce, topic_consume),
};

const struct tp_transport tp_queue = {
	.name = "shmq-queue",
	.group = true,
	.nprod = 1,
	.setup = queue_setup,
	.produce = topic_produce,
	.consume = queue_consume,
	.finish = queue_finish,
	.teardown = queue_teardown,
};
