/* SPDX-License-Identifier: MIT */
/* throughput.h - one streaming transport of the throughput benchmark, and one run's state. */
#ifndef SHMQ_BENCH_THROUGHPUT_H
#define SHMQ_BENCH_THROUGHPUT_H

#include <stdalign.h>
#include <sys/uio.h>

#include "bench.h"
#include "chan.h"

#define TP_RING_BYTES SHMQ_DEFAULT_CAPACITY /* raw-stream's ring: as large as a channel's */
#define TP_MAX_BATCH 256

struct raw_ring;

/*
 * struct tp_run - one measurement: the forked producer sends @total messages of @size bytes,
 * the parent consumes and verifies them; the clock runs from message @warmup to the last.
 */
struct tp_run {
	unsigned size;
	unsigned batch;
	uint64_t warmup;
	uint64_t total;
	uint64_t t0;
	uint64_t t1;
	bool yield; /* unpinned: spinning yields the CPU */
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
};

/*
 * struct tp_transport - a streaming transport.
 * @setup:    in the parent before fork(); @teardown undoes a partial one too
 * @produce:  the child's body: send r->total messages, return 0 or -1
 * @consume:  in the parent: receive and check every message, set r->t0 and r->t1
 * @finish:   in the parent after the producer exited: check that nothing more came
 */
struct tp_transport {
	const char *name;
	int (*setup)(struct tp_run *r);
	int (*produce)(void *r);
	int (*consume)(struct tp_run *r);
	int (*finish)(struct tp_run *r);
	void (*teardown)(struct tp_run *r);
};

enum { TP_SHMQ, TP_BATCH, TP_RAW, TP_RAW_MSG, TP_NTRANSPORTS };

extern const struct tp_transport tp_transports[TP_NTRANSPORTS];

#endif /* SHMQ_BENCH_THROUGHPUT_H */
