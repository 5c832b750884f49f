/* SPDX-License-Identifier: MIT */
/* pingpong.h - one round-trip transport of the ping-pong benchmark, and the state of one run. */
#ifndef SHMQ_BENCH_PINGPONG_H
#define SHMQ_BENCH_PINGPONG_H

#include "bench.h"
#include "chan.h"

struct raw_lines;
struct raw_recs;

/*
 * struct pp_run - one measurement: a transport, a size, warm-up plus timed round trips.
 * The parent (initiator) sends @buf and receives into @rbuf; the forked echo process
 * receives into @ebuf (or reads in place) and sends the same bytes back.
 */
struct pp_run {
	unsigned size;
	uint64_t total; /* round trips the echo side serves: warm-up + timed */
	bool yield; /* unpinned: spinning yields the CPU */
	struct spin spin;
	uint8_t *buf;
	uint8_t *rbuf;
	uint8_t *ebuf;
	/* shmq-spsc: initiator->echo and echo->initiator, and the initiator's handles */
	char ab[CHAN_NAME_LEN];
	char ba[CHAN_NAME_LEN];
	shmq_channel *tx;
	shmq_channel *rx;
	/* raw-cacheline */
	struct raw_lines *raw;
	/* raw-record */
	struct raw_recs *recs;
	uint32_t rec_off[2];
	/* pipe, uds: initiator write/read, echo read/write (the same socket twice for uds) */
	int fd[4];
};

/*
 * struct pp_transport - how a transport sets up, echoes and does one round trip.
 * @payload: false when the transport ignores the size (raw-cacheline)
 * @setup:    in the parent before fork(); @teardown undoes a partial one too
 * @echo:     the child's body: serve r->total round trips, return 0 or -1
 * @attached: in the parent after fork(): wait for the peer, drop what is the child's
 * @rt:       one round trip of message @seq (1, 2, ... in order); prints its own errors
 */
struct pp_transport {
	const char *name;
	bool payload;
	int (*setup)(struct pp_run *r);
	int (*echo)(void *r);
	int (*attached)(struct pp_run *r);
	int (*rt)(struct pp_run *r, uint64_t seq);
	void (*teardown)(struct pp_run *r);
};

/* raw-record is a diagnostic, run only when named in --transports. */
enum { PP_SHMQ, PP_RAW, PP_RAWREC, PP_PIPE, PP_UDS, PP_NTRANSPORTS };

extern const struct pp_transport pp_transports[PP_NTRANSPORTS];

#endif /* SHMQ_BENCH_PINGPONG_H */
