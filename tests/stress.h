/* SPDX-License-Identifier: MIT */
/*
 * stress.h - one stress harness for every kind: N producers x M consumers, as threads or
 * forked processes, each consumer checking every producer's sequence.
 *
 * A kind gives an adapter (struct stress_kind): open a producer, send records, close; open a
 * consumer, receive records, settle them, close. The harness runs the workers, checks what
 * the consumers receive against what the kind promises, injects SIGKILLs (processes only),
 * and passes the results back through a shared mapping.
 */
#ifndef SHMQ_TEST_STRESS_H
#define SHMQ_TEST_STRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "shmq.h"

#define STRESS_MAX_PRODS 8
#define STRESS_MAX_CONS 8
#define STRESS_BATCH 8 /* the most records one recv() may return */
#define STRESS_WHY 160

/* What a kind promises each consumer about the records it receives. */
enum stress_promise {
	/* every record of every producer, in order per producer (channels, reliable topics) */
	STRESS_EACH_ALL,
	/* in order per producer, with gaps (lossy topics); the kind's finished() ends a run */
	STRESS_EACH_LOSSY,
	/*
	 * every record once across the consumers (groups); with consumers SIGKILLed, at least
	 * once: duplicates and records finished but not noted are counted, at most one per kill
	 */
	STRESS_ACROSS,
};

/* One record as a consumer saw it: the producer's index and that producer's sequence. */
struct stress_rec {
	uint32_t producer;
	uint64_t seq; /* 1-based, per producer */
	bool done; /* STRESS_ACROSS: settle() finished it here (acked) */
};

struct stress_run;

/*
 * The adapter of one kind. Workers call these in their own thread or process; on a failure
 * a callback writes why into @why and returns a negative errno. Optional ones may be NULL.
 */
struct stress_kind {
	const char *name;
	enum stress_promise promise;
	/* a restarted consumer's first record may be up to this far past the last checked */
	uint32_t resume_slack;
	/* *ret_next: the first sequence to send (1, or where a killed producer stopped) */
	int (*pub_open)(struct stress_run *run, uint32_t id, void **ret_pub, uint64_t *ret_next);
	/* send records from @first, at most to @last; return how many (>= 1) or -EAGAIN */
	int (*send)(void *pub, uint32_t id, uint64_t first, uint64_t last);
	void (*pub_close)(void *pub);
	int (*sub_open)(struct stress_run *run, uint32_t id, void **ret_sub);
	/* receive up to @cap records, their payloads checked; return how many or -EAGAIN */
	int (*recv)(void *sub, struct stress_rec *recs, int cap, char *why);
	/* optional: ack, nack or release what recv() returned (STRESS_ACROSS) */
	int (*settle)(void *sub, struct stress_rec *recs, int n, char *why);
	/* optional: the consumer has all it will get (default: every producer's last record) */
	bool (*finished)(void *sub);
	/* optional: after the last record, the kind's own accounting agrees */
	int (*sub_final)(void *sub, char *why);
	void (*sub_close)(void *sub);
	/*
	 * optional, in the test process every millisecond: STRESS_ACROSS runs end when it
	 * returns 1 (the kind has settled every record); it may fail the test itself
	 */
	int (*poll)(struct stress_run *run);
};

/* SIGKILL producer or consumer @idx once consumer 0 has checked @at records; restart it. */
struct stress_event {
	bool producer;
	uint32_t idx;
	uint64_t at;
};

struct stress_board; /* the shared mapping: workers' results, counts, flags */

struct stress_run {
	const struct stress_kind *kind;
	shmq_bus *bus;
	void *ctx; /* the adapter's: its configuration, shared state */
	uint32_t nprod, ncons;
	uint64_t n; /* records per producer */
	bool threads; /* threads (TSan) rather than forked processes */
	bool reopen; /* consumers leave and come back now and then */
	/* processes: SIGKILL a random consumer every 3-8 ms this many times, each replaced */
	uint64_t kills;
	struct stress_event events[4]; /* processes: kills at given progress */
	uint32_t nevents;
	/* results */
	uint64_t killed; /* SIGKILLs sent */
	uint64_t dups, missing; /* STRESS_ACROSS: records noted twice, or not at all */
	struct stress_board *board;
};

/* Run @run to the end with cmocka asserts: every worker succeeded, every record checked. */
void stress_run(struct stress_run *run);

/* STRESS_ACROSS: record @seq of @producer was finished elsewhere (a dead letter, say). */
void stress_note(struct stress_run *run, uint32_t producer, uint64_t seq);

/* Tell the workers to stop: in STRESS_ACROSS runs, the way a run ends. */
void stress_stop(struct stress_run *run);

#endif /* SHMQ_TEST_STRESS_H */
