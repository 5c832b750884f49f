/* SPDX-License-Identifier: MIT */
/* throughput.h - one streaming transport of the throughput benchmark, and one run's state. */
#ifndef SHMQ_BENCH_THROUGHPUT_H
#define SHMQ_BENCH_THROUGHPUT_H

#include <stdalign.h>
#include <string.h>
#include <sys/uio.h>

#include "bench.h"
#include "chan.h"
#include "link.h"
#include "topic.h"

#define TP_RING_BYTES SHMQ_DEFAULT_CAPACITY /* raw-stream's ring: as large as a channel's */
#define TP_MAX_BATCH 256

struct raw_ring;

/*
 * struct tp_run - one measurement: the forked producer sends @total messages of @size bytes
 * (with @nprod producers, @per_prod each), the parent consumes and verifies them; the clock
 * runs from message @warmup to the last.
 */
struct tp_run {
	unsigned size;
	unsigned batch;
	uint64_t warmup;
	uint64_t total;
	uint64_t t0;
	uint64_t t1;
	bool yield; /* unpinned or oversubscribed: spinning yields the CPU */
	unsigned nprod;
	unsigned idx; /* in a producer: which one it is, 0..nprod-1 */
	uint64_t per_prod;
	struct spin spin;
	uint8_t *pbuf; /* producer: TP_MAX_BATCH messages */
	uint8_t *cbuf; /* consumer: as many */
	struct iovec iov[TP_MAX_BATCH];
	struct shmq_rmsg rmsg[TP_MAX_BATCH];
	/* shmq-spsc, shmq-spsc-batch */
	char name[CHAN_NAME_LEN];
	shmq_channel *rx;
	/* raw-stream */
	struct raw_ring *ring;
	/* shmq-topic(-excl)(-batch), shmq-topic-mpP; the consumer's per-producer state */
	struct shmq_topic_config tcfg;
	unsigned pub_flags; /* the transport's, for every producer open */
	char tname[TOPIC_NAME_LEN];
	shmq_sub *sub;
	struct shmq_pub_msg pmsg[TP_MAX_BATCH];
	struct shmq_sub_rmsg smsg[TP_MAX_BATCH];
	uint64_t next[BENCH_MAX_PEERS]; /* producer i's counter expected next */
	uint32_t prod_id[BENCH_MAX_PEERS]; /* producer i's id, 0 until its first record */
	unsigned nseen; /* producers seen so far */
	bool keep_name; /* the name stays until teardown (shmq-queue: the group's stat needs it) */
	/* shmq-queue: the parent consumes as the one member of a group on the topic */
	shmq_group *grp;
	char gtopic[TOPIC_NAME_LEN];
	/* pipe, uds: the read end (the parent's), the write end (the producer's) */
	int fd[2];
	/* uds-dgram, eventfd, posix-mq, zmq-ipc, nng-ipc, iceoryx(-ws) */
	struct link lk;
};

/*
 * struct tp_transport - a streaming transport.
 * @topic:    a topic transport: its rows say how many producers
 * @group:    a consumer-group transport (shmq-queue): its rows say producers and members
 * @nprod:    producer processes; 0 means 1
 * @pub_flags: a topic transport's extra flags of every shmq_pub_open(): SHMQ_PUB_EXCLUSIVE
 *            where the topic has one producer (shmq-topic-excl(-batch)), else 0
 * @block:    waits in the kernel or a library (labelled "block"), else busy-polls ("poll")
 * @link:     a link transport's kind (tp_link.c), NULL for the others
 * @setup:    in the parent before fork(); @teardown undoes a partial one too
 * @produce:  the child's body: send r->total messages, return 0 or -1
 * @consume:  in the parent: receive and check every message, set r->t0 and r->t1
 * @finish:   in the parent after the producer exited: check that nothing more came
 */
struct tp_transport {
	const char *name;
	bool topic;
	bool group;
	unsigned nprod;
	unsigned pub_flags;
	bool block;
	const struct link_ops *link;
	int (*setup)(struct tp_run *r);
	int (*produce)(void *r);
	int (*consume)(struct tp_run *r);
	int (*finish)(struct tp_run *r);
	void (*teardown)(struct tp_run *r);
};

enum {
	TP_SHMQ,
	TP_BATCH,
	TP_TOPIC,
	TP_TOPIC_BATCH,
	TP_TOPIC_EXCL,
	TP_TOPIC_EXCL_BATCH,
	TP_QUEUE, /* shmq-queue: a group member's recv + ack per record */
	TP_RAW,
	TP_RAW_MSG,
	TP_PIPE,
	TP_UDS,
	TP_UDS_DGRAM, /* TP_UDS_DGRAM + LINK_*: the link transports */
	TP_EVENTFD,
	TP_POSIX_MQ,
	TP_ZMQ,
	TP_NNG,
	TP_IOX,
	TP_IOX_WS,
	TP_MP1,
	TP_MP2,
	TP_MP4,
	TP_MP8,
	TP_NTRANSPORTS
};
#define TP_NMP 4 /* producer counts of shmq-topic-mpP: 1, 2, 4, 8 */

extern const struct tp_transport *const tp_transports[TP_NTRANSPORTS];

/* tp_link.c: the link transports, in the order of enum LINK_* */
extern const struct tp_transport tp_links[LINK_N];

/* Built (its library was there), and taking @size bytes on this host. */
bool tp_available(const struct tp_transport *t);
bool tp_fits(const struct tp_transport *t, unsigned size);

/* ---- a measurement, as throughput and compare run it (throughput.c) ---- */

struct tp_opts {
	unsigned sizes[BENCH_MAX_SIZES];
	int nsizes;
	uint64_t msgs;
	uint64_t warmup;
	uint64_t reps;
	uint64_t batch;
	bool use[TP_NTRANSPORTS];
	struct cpu_pair cpus;
	bool cpus_given;
	bool warmup_given;
	bool json;
};

struct tp_summary {
	double med;
	double min;
	double max;
};

void tp_opts_default(struct tp_opts *o);
/*
 * Messages per second of each rep, [rep][size][transport] (0 where a transport does not
 * take a size), into *@ret_rates, released with free(); the CPUs are resolved.
 */
int tp_measure(const struct tp_opts *o, double **ret_rates);
void tp_summarize(const struct tp_opts *o, double *rates, int si, int ti, struct tp_summary *s);

/* tp_stream.c */
extern const struct tp_transport tp_pipe;
extern const struct tp_transport tp_uds;

/* tp_topic.c */
extern const struct tp_transport tp_topic;
extern const struct tp_transport tp_topic_batch;
extern const struct tp_transport tp_topic_excl;
extern const struct tp_transport tp_topic_excl_batch;
extern const struct tp_transport tp_queue;
extern const struct tp_transport tp_topic_mp[TP_NMP];

/*
 * throughput --touch: what the workload itself writes and reads of each payload. By default
 * the sequence goes into the payload's first and last 8 bytes (the transport copies the
 * rest); with tp_touch_first8 (--touch 8, set before any fork) only into the first 8, as the
 * samples of peers that touch 8 bytes of a message.
 */
extern bool tp_touch_first8;

/* tp_transport.c: the sequence into the payload's first and last 8 bytes, and its check */
static inline void stamp(uint8_t *p, unsigned size, uint64_t seq)
{
	if (size >= 8) {
		memcpy(p, &seq, 8);
		if (!tp_touch_first8)
			memcpy(p + size - 8, &seq, 8);
	}
}

static inline bool stamped(const uint8_t *p, unsigned size, uint64_t seq)
{
	uint64_t a, b;

	if (size < 8)
		return true;
	memcpy(&a, p, 8);
	if (tp_touch_first8)
		return a == seq;
	memcpy(&b, p + size - 8, 8);
	return a == seq && b == seq;
}

/* Say that message @seq arrived wrong; -1. */
int lost(const char *name, uint64_t seq);

/* The consumer's clock: t0 once the warm-up is in, t1 at the last message. */
static inline void clock_mark(struct tp_run *r, uint64_t seq)
{
	if (seq == r->warmup)
		r->t0 = now_ns();
	else if (seq == r->total)
		r->t1 = now_ns();
}

#endif /* SHMQ_BENCH_THROUGHPUT_H */
