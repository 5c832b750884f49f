/* SPDX-License-Identifier: MIT */
/* pingpong.h - one round-trip transport of the ping-pong benchmark, and the state of one run. */
#ifndef SHMQ_BENCH_PINGPONG_H
#define SHMQ_BENCH_PINGPONG_H

#include <stdio.h>

#include "bench.h"
#include "chan.h"
#include "link.h"
#include "topic.h"

struct raw_lines;
struct raw_recs;
struct raw_fan;
struct raw_futex;

/*
 * struct pp_run - one measurement: a transport, a size, warm-up plus timed round trips.
 * The parent (initiator) sends @buf and receives into @rbuf; the forked echo process
 * receives into @ebuf (or reads in place) and sends the same bytes back. With a fan-out,
 * @nechoes processes echo, and reply i lands at @rbuf + i * @rstride.
 */
struct pp_run {
	unsigned size;
	uint64_t total; /* round trips the echo side serves: warm-up + timed */
	bool yield; /* unpinned or oversubscribed: spinning yields the CPU */
	unsigned nechoes;
	unsigned idx; /* in an echo process: which one it is, 0..nechoes-1 */
	size_t rstride;
	struct spin spin;
	uint8_t *buf;
	uint8_t *rbuf;
	uint8_t *ebuf;
	/* shmq-spsc: initiator->echo and echo->initiator, and the initiator's handles */
	char ab[CHAN_NAME_LEN];
	char ba[CHAN_NAME_LEN];
	shmq_channel *tx;
	shmq_channel *rx;
	/* shmq-spsc-park, -spinpark: wait in shmq_channel_wait() before each receive */
	bool park;
	uint64_t park_spin_ns;
	/* raw-cacheline */
	struct raw_lines *raw;
	/* raw-futex */
	struct raw_futex *futex;
	/* raw-record */
	struct raw_recs *recs;
	uint32_t rec_off[2];
	/* pipe, uds: initiator write/read, echo read/write (the same socket twice for uds) */
	int fd[4];
	/* shmq-topic(-excl, -fanN): requests (initiator->echoes), replies (echoes->initiator) */
	struct shmq_topic_config tcfg;
	unsigned pub_flags; /* the transport's, for every producer open */
	char treq[TOPIC_NAME_LEN];
	char trep[TOPIC_NAME_LEN];
	shmq_pub *pub; /* the initiator's, on treq */
	shmq_sub *sub; /* the initiator's, on trep */
	struct shmq_sub_msg rinfo[BENCH_MAX_PEERS];
	/* shmq-queue: the group on treq whose member the echo process is */
	char gtopic[TOPIC_NAME_LEN];
	/* shmq-req(-park): the initiator's requester of the service treq, its counters then */
	shmq_req *req;
	struct shmq_req_stats req_base;
	/* shmq-topic-hdrs: the header block every request and reply carries */
	const void *hdrs;
	size_t hdrs_len;
	/* raw-cacheline-fanN */
	struct raw_fan *fan;
	/* uds-dgram, eventfd, posix-mq, zmq-ipc, nng-ipc */
	struct link lk;
};

/*
 * struct pp_transport - how a transport sets up, echoes and does one round trip.
 * @payload:  false when the transport ignores the size (raw-cacheline)
 * @topic:    a topic transport: its rows say how many subscribers
 * @group:    the echo is a consumer-group member (shmq-queue): its rows say so
 * @nechoes:  echo processes (fan-out); 0 means 1
 * @pub_flags: a topic transport's extra flags of every shmq_pub_open(): SHMQ_PUB_EXCLUSIVE
 *            where each topic has one producer (shmq-topic-excl), else 0
 * @block:    waits in the kernel or a library (labelled "block"), else busy-polls ("poll")
 * @park:     a shmq-spsc that waits in shmq_channel_wait() before each receive, spinning
 *            @park_spin_ns first (0: park at once)
 * @link:     a link transport's kind (pp_link.c), NULL for the others
 * @setup:    in the parent before fork(); @teardown undoes a partial one too
 * @echo:     the child's body: serve r->total round trips, return 0 or -1
 * @attached: in the parent after fork(): wait for the peers, drop what is theirs
 * @rt:       one round trip of message @seq (1, 2, ... in order); prints its own errors
 * @check:    optional, after the timed part of round trip @seq: what @rt received
 */
struct pp_transport {
	const char *name;
	bool payload;
	bool topic;
	bool group;
	unsigned nechoes;
	unsigned pub_flags;
	bool block;
	bool park;
	uint64_t park_spin_ns;
	const struct link_ops *link;
	int (*setup)(struct pp_run *r);
	int (*echo)(void *r);
	int (*attached)(struct pp_run *r);
	int (*rt)(struct pp_run *r, uint64_t seq);
	int (*check)(struct pp_run *r, uint64_t seq);
	void (*teardown)(struct pp_run *r);
};

/*
 * raw-record is a diagnostic, run only when named in --transports. The fan-out pairs
 * (PP_FAN1 + i, PP_RAWFAN1 + i for 1, 2, 4, 8 echo processes) are the fanout command's.
 */
enum {
	PP_SHMQ,
	PP_TOPIC,
	PP_TOPIC_EXCL,
	PP_QUEUE, /* shmq-queue: the echo is a group member that receives, acks, replies */
	PP_RAW,
	PP_RAWREC,
	PP_PIPE,
	PP_UDS,
	PP_UDS_DGRAM, /* PP_UDS_DGRAM + LINK_*: the link transports */
	PP_EVENTFD,
	PP_POSIX_MQ,
	PP_ZMQ,
	PP_NNG,
	PP_IOX,
	PP_IOX_WS,
	PP_SPSC_PARK, /* shmq-spsc parked in shmq_channel_wait(), and its futex baseline */
	PP_SPSC_SPINPARK,
	PP_RAW_FUTEX,
	PP_TOPIC_LAT, /* shmq-topic with SHMQ_SUB_LATENCY subscribers: recording's cost */
	PP_TOPIC_HDRS, /* shmq-topic whose records carry a traceparent header: its cost */
	PP_REQ, /* shmq-req: request/reply, both sides polling */
	PP_REQ_PARK, /* shmq-req-park: shmq_request() against a parked responder */
	PP_FAN1,
	PP_FAN2,
	PP_FAN4,
	PP_FAN8,
	PP_RAWFAN1,
	PP_RAWFAN2,
	PP_RAWFAN4,
	PP_RAWFAN8,
	PP_NTRANSPORTS
};
#define PP_NFAN 4 /* fan-out widths: 1, 2, 4, 8 */

extern const struct pp_transport *const pp_transports[PP_NTRANSPORTS];

/* Built (its library was there), and taking @size bytes on this host. */
bool pp_available(const struct pp_transport *t);
bool pp_fits(const struct pp_transport *t, unsigned size);

/* ---- a measurement, as pingpong and compare run it (pingpong.c) ---- */

enum { P50, P90, P99, P999, PMAX, NPCT };

struct pp_opts {
	unsigned sizes[BENCH_MAX_SIZES];
	int nsizes;
	uint64_t iters;
	uint64_t warmup;
	uint64_t reps;
	uint64_t capacity;
	uint64_t rate; /* --rate: round trips per second, 0 for back to back */
	bool use[PP_NTRANSPORTS];
	struct cpu_pair cpus;
	bool cpus_given;
	bool json;
	enum pp_mode mode;
	const char *hlog; /* --hlog FILE: every measurement as a tagged interval */
	FILE *hlog_f;
	uint64_t hlog_base_ns; /* CLOCK_REALTIME of the log's BaseTime */
};

/* Per-rep percentiles, [rep][size][transport][pct]; a size a transport does not take is 0. */
struct pp_results {
	const struct pp_opts *o;
	uint64_t *v;
};

struct pp_summary {
	uint64_t med[NPCT]; /* median over reps of each percentile */
	uint64_t p50_min;
	uint64_t p50_max;
};

void pp_opts_default(struct pp_opts *o, enum pp_mode m);
/*
 * Run every selected transport at every size, o->reps times interleaved; the CPUs are
 * resolved (bench_start()). @res is released with free(res->v), o->hlog_f with fclose().
 */
int pp_measure(struct pp_opts *o, struct pp_results *res);
void pp_summarize(const struct pp_results *res, int si, int ti, struct pp_summary *s);
/* One target line: PASS, MISS, or SKIP when @have is false (a transport was not run). */
void target_print(bool json, const char *name, bool have, double value, const char *op,
		  double limit);

/* pp_link.c: the link transports, in the order of enum LINK_* */
extern const struct pp_transport pp_links[LINK_N];

/* pp_futex.c: the plain futex baseline of the parked shmq-spsc */
extern const struct pp_transport pp_raw_futex;

/* pp_topic.c */
extern const struct pp_transport pp_topic;
extern const struct pp_transport pp_topic_excl;
extern const struct pp_transport pp_topic_lat;
extern const struct pp_transport pp_topic_hdrs;
extern const struct pp_transport pp_queue;
extern const struct pp_transport pp_topic_fan[PP_NFAN];
extern const struct pp_transport pp_raw_fan[PP_NFAN];

/* pp_req.c */
extern const struct pp_transport pp_req;
extern const struct pp_transport pp_req_park;

#endif /* SHMQ_BENCH_PINGPONG_H */
