// SPDX-License-Identifier: MIT
/* test_channel_stress.c - SPSC stress in processes and threads: sequences, sizes, checksums. */
#include <stdbool.h>

#include "common.h"
#include "stress.h"

#define CAPACITY (64u << 10)
#define MAX_MSG 4000u

/* The size of message @seq, known to both sides: mostly small, now and then large. */
static size_t msg_len(uint64_t seq)
{
	uint64_t r = seq * 0x9e3779b97f4a7c15ull;

	r ^= r >> 29;
	return (r & 31) == 0 ? (size_t)((r >> 8) % (MAX_MSG + 1)) : (size_t)((r >> 8) % 256);
}

/* Layout: [seq (8)] [filler] [checksum of everything before it (8)], as far as len allows. */
static void make_msg(uint8_t *buf, uint64_t seq, size_t len)
{
	uint64_t sum;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq + i * 13);
	if (len >= 8)
		memcpy(buf, &seq, 8);
	if (len >= 16) {
		sum = test_checksum(buf, len - 8);
		memcpy(buf + len - 8, &sum, 8);
	}
}

/* 0 if message @seq arrived intact, else a distinct code for the failure message. */
static int check_msg(const uint8_t *buf, size_t len, uint64_t seq, uint64_t info_seq)
{
	uint64_t v;

	if (info_seq != seq)
		return 1;
	if (len != msg_len(seq))
		return 2;
	if (len >= 8 && (memcpy(&v, buf, 8), v != seq))
		return 3;
	if (len >= 16 && (memcpy(&v, buf + len - 8, 8), v != test_checksum(buf, len - 8)))
		return 4;
	if (len > 0 && len < 8 && buf[len - 1] != (uint8_t)(seq + (len - 1) * 13))
		return 5;
	return 0;
}

/* ---- the channel's adapter: one producer, one consumer; a mix of copy, zero-copy, batches ---- */

static int try_open(shmq_bus *bus, const char *name, unsigned flags, shmq_channel **ch)
{
	struct shmq_channel_config cfg = { .capacity = CAPACITY, .max_msg = MAX_MSG };

	return shmq_channel_open(bus, name, flags, &cfg, ch);
}

/* A replacement producer continues from the sequence in shared memory. */
static int pub_open(struct stress_run *run, uint32_t id, void **ret_pub, uint64_t *ret_next)
{
	struct shmq_channel_stats st;
	shmq_channel *tx;
	int r = try_open(run->bus, run->ctx, SHMQ_OPEN_PRODUCER, &tx);

	if (r < 0)
		return r;
	shmq_channel_stats(tx, &st);
	*ret_next = st.next_seq;
	*ret_pub = tx;
	return 0;
}

static int send_some(void *pub, uint32_t id, uint64_t seq, uint64_t last)
{
	static _Thread_local uint8_t bufs[8][MAX_MSG];
	struct iovec iov[8];
	shmq_channel *tx = pub;
	void *zc;
	int r, k;

	switch (seq % 3) {
	case 0:
		make_msg(bufs[0], seq, msg_len(seq));
		r = shmq_channel_send(tx, bufs[0], msg_len(seq));
		return r < 0 ? r : 1;
	case 1:
		r = shmq_channel_reserve(tx, msg_len(seq), &zc);
		if (r == 0) {
			make_msg(zc, seq, msg_len(seq));
			r = shmq_channel_commit(tx, msg_len(seq));
		}
		return r < 0 ? r : 1;
	default:
		for (k = 0; k < 8 && seq + (uint64_t)k <= last; k++) {
			make_msg(bufs[k], seq + (uint64_t)k, msg_len(seq + (uint64_t)k));
			iov[k] = (struct iovec){ bufs[k], msg_len(seq + (uint64_t)k) };
		}
		return shmq_channel_send_many(tx, iov, (size_t)k);
	}
}

static void ch_close(void *ch)
{
	shmq_channel_close(ch);
}

struct cons {
	shmq_channel *rx;
	unsigned turn;
};

static int sub_open(struct stress_run *run, uint32_t id, void **ret_sub)
{
	struct cons *c = calloc(1, sizeof(*c));
	int r = c ? try_open(run->bus, run->ctx, SHMQ_OPEN_CONSUMER, &c->rx) : -ENOMEM;

	if (r < 0)
		free(c);
	else
		*ret_sub = c;
	return r;
}

static int checked(const uint8_t *buf, const struct shmq_msg_info *info, struct stress_rec *rec,
		   char *why)
{
	int bad = check_msg(buf, info->len, info->seq, info->seq);

	if (bad)
		return snprintf(why, STRESS_WHY, "record %llu: check %d failed",
				(unsigned long long)info->seq, bad),
		       -EPROTO;
	*rec = (struct stress_rec){ .producer = 0, .seq = info->seq };
	return 0;
}

/* Copy, batch and zero-copy reads in turn; recv() releases before the checks. */
static int recv_some(void *sub, struct stress_rec *recs, int cap, char *why)
{
	static _Thread_local uint8_t bufs[4][MAX_MSG];
	struct shmq_rmsg rm[4];
	struct shmq_msg_info info;
	struct cons *c = sub;
	const void *d;
	int r, i;

	for (i = 0; i < 4; i++)
		rm[i] = (struct shmq_rmsg){ .buf = bufs[i], .cap = MAX_MSG };
	switch (c->turn++ % 3) {
	case 0:
		r = shmq_channel_recv(c->rx, bufs[0], MAX_MSG, &rm[0].info);
		r = r < 0 ? r : 1;
		break;
	case 1:
		r = shmq_channel_recv_many(c->rx, rm, cap < 4 ? (size_t)cap : 4);
		break;
	default:
		r = shmq_channel_peek(c->rx, &d, &info);
		if (r < 0)
			return r;
		info.len = (size_t)r;
		if (checked(d, &info, &recs[0], why) < 0)
			return -EPROTO;
		r = shmq_channel_release(c->rx);
		return r == 1 ? 1 : (snprintf(why, STRESS_WHY, "release: %d", r), -EPROTO);
	}
	for (i = 0; i < r; i++)
		if (checked(bufs[i], &rm[i].info, &recs[i], why) < 0)
			return -EPROTO;
	return r;
}

static int sub_final(void *sub, char *why)
{
	struct cons *c = sub;
	int r = shmq_channel_recv(c->rx, NULL, 0, NULL);

	return r == -EAGAIN ? 0 : (snprintf(why, STRESS_WHY, "a record after the last"), -EPROTO);
}

static void sub_close(void *sub)
{
	struct cons *c = sub;

	shmq_channel_close(c->rx);
	free(c);
}

/*
 * recv() releases before the caller checks, so a killed consumer may have released up to one
 * batch (4) beyond its last checked message; a peeked but unreleased message is seen again by
 * the next consumer (at-least-once).
 */
static const struct stress_kind channel_kind = {
	.name = "channel",
	.promise = STRESS_EACH_ALL,
	.resume_slack = 4,
	.pub_open = pub_open,
	.send = send_some,
	.pub_close = ch_close,
	.sub_open = sub_open,
	.recv = recv_some,
	.sub_final = sub_final,
	.sub_close = sub_close,
};

static void run_channel(const char *name, uint64_t n, bool threads, uint32_t nevents)
{
	struct stress_run run = {
		.kind = &channel_kind,
		.bus = test_bus(),
		.ctx = (void *)name,
		.nprod = 1,
		.ncons = 1,
		.n = n,
		.threads = threads,
		/* chaos: the producer killed at a quarter, the consumer at half, each replaced */
		.events = { { .producer = true, .at = n / 4 }, { .producer = false, .at = n / 2 } },
		.nevents = nevents,
	};
	shmq_channel *ch;

	assert_int_equal(try_open(run.bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, &ch), 0);
	shmq_channel_close(ch);
	stress_run(&run);
	test_unlink(run.bus, name);
	shmq_bus_close(run.bus);
	printf("# %llu messages checked across %s\n", (unsigned long long)n,
	       threads ? "threads" : "processes");
}

static void test_processes(void **state)
{
	run_channel("proc", test_scaled(10000000), false, 0);
}

static void test_threads(void **state)
{
	run_channel("thr", test_scaled(10000000), true, 0);
}

/*
 * Chaos: the producer and the consumer are each SIGKILLed mid-stream and replaced. The
 * replacement producer continues from the sequence in shared memory; the replacement
 * consumer resumes at the last released position. Nothing is lost: sequences stay
 * contiguous, but for what a killed consumer released and had not yet checked.
 */
static void test_chaos_kill(void **state)
{
	run_channel("chaos", test_scaled(2000000), false, 2);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest all[] = {
		cmocka_unit_test(test_processes),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_chaos_kill),
	};
	const struct CMUnitTest threads_only[] = {
		cmocka_unit_test(test_threads),
	};

	/* "--threads": the variant that runs under ThreadSanitizer (it cannot see processes). */
	if (argc > 1 && strcmp(argv[1], "--threads") == 0)
		return cmocka_run_group_tests_name("channel-stress-threads", threads_only, NULL,
						   test_cleanup);
	return cmocka_run_group_tests_name("channel-stress", all, NULL, test_cleanup);
}
