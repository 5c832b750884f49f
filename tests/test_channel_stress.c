// SPDX-License-Identifier: MIT
/* test_channel_stress.c - SPSC stress in processes and threads: sequences, sizes, checksums. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"

#define CAPACITY (64u << 10)
#define MAX_MSG 4000u
#define WATCHDOG_S 600 /* a hang becomes a failure (SIGALRM) instead of a stuck CI */

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

/* Set when the consumer failed, so that a producer thread stops instead of waiting forever. */
static _Atomic bool stop_producer;

static void backoff(unsigned *spins)
{
	if (++*spins % 64 == 0)
		sched_yield();
}

/* Send messages [first, last] with a mix of copy, zero-copy and batch sends. */
static int produce(shmq_channel *tx, uint64_t first, uint64_t last)
{
	static _Thread_local uint8_t bufs[8][MAX_MSG];
	struct iovec iov[8];
	unsigned spins = 0;
	uint64_t seq = first;
	void *zc;
	int r, k;

	while (seq <= last) {
		switch (seq % 3) {
		case 0:
			make_msg(bufs[0], seq, msg_len(seq));
			r = shmq_channel_send(tx, bufs[0], msg_len(seq));
			k = 1;
			break;
		case 1:
			r = shmq_channel_reserve(tx, msg_len(seq), &zc);
			if (r == 0) {
				make_msg(zc, seq, msg_len(seq));
				r = shmq_channel_commit(tx, msg_len(seq));
			}
			k = 1;
			break;
		default:
			for (k = 0; k < 8 && seq + (uint64_t)k <= last; k++) {
				make_msg(bufs[k], seq + (uint64_t)k, msg_len(seq + (uint64_t)k));
				iov[k] = (struct iovec){ bufs[k], msg_len(seq + (uint64_t)k) };
			}
			r = shmq_channel_send_many(tx, iov, (size_t)k);
			k = r;
			break;
		}
		if (r == -EAGAIN) {
			if (atomic_load_explicit(&stop_producer, memory_order_relaxed))
				return -ECANCELED;
			backoff(&spins);
			continue;
		}
		if (r < 0)
			return r;
		seq += (uint64_t)k;
	}
	return 0;
}

/* Receive messages [first, last], checking each; mixes copy, batch and zero-copy reads. */
static int consume(shmq_channel *rx, uint64_t first, uint64_t last, _Atomic uint64_t *progress)
{
	static _Thread_local uint8_t bufs[4][MAX_MSG];
	struct shmq_rmsg rm[4];
	struct shmq_msg_info info;
	unsigned spins = 0;
	uint64_t seq = first;
	const void *d;
	int r, i, bad;

	for (i = 0; i < 4; i++)
		rm[i] = (struct shmq_rmsg){ .buf = bufs[i], .cap = MAX_MSG };
	while (seq <= last) {
		switch (seq % 3) {
		case 0:
			r = shmq_channel_recv(rx, bufs[0], MAX_MSG, &rm[0].info);
			r = r < 0 ? r : 1;
			break;
		case 1:
			r = shmq_channel_recv_many(rx, rm, 4);
			break;
		default:
			r = shmq_channel_peek(rx, &d, &info);
			if (r >= 0) {
				bad = check_msg(d, (size_t)r, seq, info.seq);
				if (bad)
					return 100 + bad;
				r = shmq_channel_release(rx);
				if (r != 1)
					return 99;
				seq++;
				r = 0;
			}
			break;
		}
		if (r == -EAGAIN) {
			backoff(&spins);
			continue;
		}
		if (r < 0)
			return r;
		for (i = 0; i < r; i++, seq++) {
			bad = check_msg(bufs[i], rm[i].info.len, seq, rm[i].info.seq);
			if (bad)
				return 100 + bad;
		}
		if (progress)
			atomic_store(progress, seq - 1);
	}
	return 0;
}

static int try_open(shmq_bus *bus, const char *name, unsigned flags, shmq_channel **ch)
{
	struct shmq_channel_config cfg = { .capacity = CAPACITY, .max_msg = MAX_MSG };

	return shmq_channel_open(bus, name, flags, &cfg, ch);
}

static void open_chan(shmq_bus *bus, const char *name, unsigned flags, shmq_channel **ch)
{
	assert_int_equal(try_open(bus, name, flags, ch), 0);
}

/* In a forked child: never a cmocka assert (it would unwind into the child's test runner). */
static shmq_channel *child_open(shmq_bus *bus, const char *name, unsigned flags)
{
	shmq_channel *ch;

	alarm(WATCHDOG_S);
	if (try_open(bus, name, flags, &ch) < 0)
		_exit(2);
	return ch;
}

static void test_processes(void **state)
{
	uint64_t n = test_scaled(10000000);
	shmq_bus *bus = test_bus();
	shmq_channel *rx, *tx;
	pid_t pid;
	int r;

	open_chan(bus, "proc", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, &rx);
	pid = fork();
	if (pid == 0) {
		tx = child_open(bus, "proc", SHMQ_OPEN_PRODUCER);
		_exit(produce(tx, 1, n) == 0 ? 0 : 1);
	}
	r = consume(rx, 1, n, NULL);
	if (r != 0)
		kill(pid, SIGKILL); /* else it waits for room forever */
	assert_int_equal(r, 0);
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_channel_recv(rx, NULL, 0, NULL), -EAGAIN);
	shmq_channel_close(rx);
	test_unlink(bus, "proc");
	shmq_bus_close(bus);
	printf("# %llu messages checked across processes\n", (unsigned long long)n);
}

struct prod_arg {
	shmq_channel *tx;
	uint64_t n;
	int result;
};

static void *producer_thread(void *p)
{
	struct prod_arg *a = p;

	a->result = produce(a->tx, 1, a->n);
	return NULL;
}

static void test_threads(void **state)
{
	shmq_bus *bus = test_bus();
	struct prod_arg a = { .n = test_scaled(10000000) };
	shmq_channel *rx;
	pthread_t t;
	int r;

	open_chan(bus, "thr", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, &rx);
	open_chan(bus, "thr", SHMQ_OPEN_PRODUCER, &a.tx);
	atomic_store(&stop_producer, false);
	assert_int_equal(pthread_create(&t, NULL, producer_thread, &a), 0);
	r = consume(rx, 1, a.n, NULL);
	if (r != 0)
		atomic_store(&stop_producer, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	atomic_store(&stop_producer, false);
	assert_int_equal(r, 0);
	assert_int_equal(a.result, 0);
	shmq_channel_close(a.tx);
	shmq_channel_close(rx);
	test_unlink(bus, "thr");
	shmq_bus_close(bus);
	printf("# %llu messages checked across threads\n", (unsigned long long)a.n);
}

/*
 * Chaos: the producer and the consumer are each SIGKILLed mid-stream and replaced. The
 * replacement producer continues from the sequence in shared memory; the replacement
 * consumer resumes at the last released position. Nothing is lost: sequences stay
 * contiguous. recv() releases before the caller checks, so the killed consumer may have
 * released up to one batch (4) beyond its last checked message; a peeked but unreleased
 * message is seen again by the next consumer (at-least-once).
 */
static pid_t spawn_producer(shmq_bus *bus, uint64_t last)
{
	struct shmq_channel_stats st;
	shmq_channel *tx;
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	tx = child_open(bus, "chaos", SHMQ_OPEN_PRODUCER);
	shmq_channel_stats(tx, &st);
	_exit(produce(tx, st.next_seq, last) == 0 ? 0 : 1);
}

static pid_t spawn_consumer(shmq_bus *bus, uint64_t first, uint64_t last,
			    _Atomic uint64_t *progress)
{
	shmq_channel *rx;
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	rx = child_open(bus, "chaos", SHMQ_OPEN_CONSUMER);
	_exit(consume(rx, first, last, progress) == 0 ? 0 : 1);
}

/* Wait until the consumer child has checked @target messages; fail if a child exits first. */
static void wait_progress(_Atomic uint64_t *progress, uint64_t target, pid_t cons, pid_t prod)
{
	int st;

	while (atomic_load(progress) < target) {
		if (waitpid(cons, &st, WNOHANG) == cons || waitpid(prod, &st, WNOHANG) == prod) {
			kill(prod, SIGKILL);
			kill(cons, SIGKILL);
			fail_msg("a child exited early (status %d) at %llu", st,
				 (unsigned long long)atomic_load(progress));
		}
		sched_yield();
	}
}

static void test_chaos_kill(void **state)
{
	uint64_t n = test_scaled(2000000), resume;
	shmq_bus *bus = test_bus();
	_Atomic uint64_t *progress;
	struct shmq_msg_info info;
	shmq_channel *rx;
	const void *d;
	pid_t prod, cons;
	int r;

	progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(progress != MAP_FAILED);
	open_chan(bus, "chaos", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, &rx);
	shmq_channel_close(rx);
	prod = spawn_producer(bus, n);
	cons = spawn_consumer(bus, 1, n, progress);
	wait_progress(progress, n / 4, cons, prod);
	kill(prod, SIGKILL);
	assert_int_equal(test_wait(prod), 128 + SIGKILL);
	prod = spawn_producer(bus, n);
	wait_progress(progress, n / 2, cons, prod);
	kill(cons, SIGKILL);
	assert_int_equal(test_wait(cons), 128 + SIGKILL);
	/* The next consumer starts right after what the killed one released. */
	open_chan(bus, "chaos", SHMQ_OPEN_CONSUMER, &rx);
	while ((r = shmq_channel_peek(rx, &d, &info)) == -EAGAIN)
		sched_yield();
	assert_true(r >= 0);
	resume = info.seq;
	assert_true(resume > atomic_load(progress) && resume <= atomic_load(progress) + 5);
	shmq_channel_close(rx); /* peeked, not released: the next consumer sees it again */
	cons = spawn_consumer(bus, resume, n, progress);
	assert_int_equal(test_wait(prod), 0);
	assert_int_equal(test_wait(cons), 0);
	assert_int_equal(atomic_load(progress), n);
	test_unlink(bus, "chaos");
	shmq_bus_close(bus);
	munmap(progress, 4096);
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
