// SPDX-License-Identifier: MIT
/* test_wake.c - parking and waking: backends, timeouts, -EPIPE on close, lost-wakeup stress. */
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>

#include "common.h"
#include "internal.h"
#include "shm_layout.h"

#define HANDOFFS_FULL 10000000ull /* the 10 million hand-offs, scaled */
#define WATCHDOG_S 600

static const struct shmq_channel_config small = { .capacity = 1u << 16 };

static void test_backend(void **state)
{
	const char *b = shmq_wake_backend();
	const char *forced = getenv(SHMQ_WAKE_BACKEND_ENV);

	assert_true(strcmp(b, "io_uring") == 0 || strcmp(b, "futex") == 0);
	if (forced && strcmp(forced, "futex") == 0)
		assert_string_equal(b, "futex");
	printf("# wake backend: %s\n", b);
}

static void open_pair(shmq_bus *bus, const char *name, shmq_channel **tx, shmq_channel **rx)
{
	assert_int_equal(
		shmq_channel_open(bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &small, tx), 0);
	assert_int_equal(shmq_channel_open(bus, name, SHMQ_OPEN_CONSUMER, NULL, rx), 0);
}

static void test_timeout(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;
	uint64_t t0;
	char buf[8];

	open_pair(bus, "to", &tx, &rx);
	assert_int_equal(shmq_channel_wait(rx, 0, 0), -ETIMEDOUT);
	t0 = test_now_ns();
	assert_int_equal(shmq_channel_wait(rx, 1000, 20000000), -ETIMEDOUT);
	assert_true(test_now_ns() - t0 >= 20000000); /* never early; no upper bound asserted */
	assert_int_equal(shmq_channel_wait(tx, 0, 0), -EBADF);
	assert_int_equal(shmq_channel_send(tx, "x", 1), 0);
	assert_int_equal(shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER), 0);
	assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), NULL), 1);
	assert_int_equal(shmq_channel_wait(rx, 0, 1000000), -ETIMEDOUT);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "to");
	shmq_bus_close(bus);
}

/* A consumer parked with no timeout learns of the producer's close: -EPIPE. */
static void test_close_wakes_channel(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;
	pid_t pid;

	open_pair(bus, "cl", &tx, &rx);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		_exit(shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER) == -EPIPE ? 0 : 1);
	}
	usleep(100000); /* long enough for the child to park, usually; either way it must end */
	shmq_channel_close(tx);
	assert_int_equal(test_wait(pid), 0);
	shmq_channel_close(rx);
	test_unlink(bus, "cl");
	shmq_bus_close(bus);
}

static void test_close_wakes_topic(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub;
	shmq_sub *sub;
	pid_t pid;

	assert_int_equal(shmq_pub_open(bus, "tcl", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "tcl", 0, NULL, 0, &sub), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		_exit(shmq_sub_wait(sub, 0, SHMQ_WAIT_FOREVER) == -EPIPE ? 0 : 1);
	}
	usleep(100000);
	shmq_pub_close(pub);
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_pub_open(bus, "tcl", 0, NULL, &pub), 0); /* open again: no EPIPE */
	assert_int_equal(shmq_sub_wait(sub, 0, 1000000), -ETIMEDOUT);
	/* A producer that exited without closing does not count: ours is the last one. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_pub *gone;

		_exit(shmq_pub_open(bus, "tcl", 0, NULL, &gone) == 0 ? 0 : 1);
	}
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_sub_wait(sub, 0, 1000000), -ETIMEDOUT);
	shmq_pub_close(pub);
	assert_int_equal(shmq_sub_wait(sub, 0, 30000000000ull), -EPIPE);
	shmq_sub_close(sub);
	test_unlink(bus, "tcl");
	shmq_bus_close(bus);
}

/*
 * A subscriber that joins after the last producer closed (the segment stays between runs)
 * waits for a producer instead of getting -EPIPE at once; a close after it joined, with
 * nothing left, is its -EPIPE, as before.
 */
static void test_sub_before_producer(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_sub_msg m;
	shmq_pub *pub;
	shmq_sub *sub, *early;
	uint64_t v = 7;
	pid_t pid;

	assert_int_equal(shmq_pub_open(bus, "tsb", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "tsb", 0, NULL, 0, &early), 0);
	shmq_pub_close(pub); /* a run that ended */
	assert_int_equal(shmq_sub_wait(early, 0, SHMQ_WAIT_FOREVER), -EPIPE);
	/* The next run: its subscriber starts first. */
	assert_int_equal(shmq_sub_open(bus, "tsb", 0, NULL, 0, &sub), 0);
	assert_int_equal(shmq_sub_wait(sub, 0, 1000000), -ETIMEDOUT);
	assert_int_equal(shmq_sub_wait(sub, 0, 0), -ETIMEDOUT);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_pub *p;

		usleep(50000);
		if (shmq_pub_open(bus, "tsb", 0, NULL, &p) < 0 || shmq_pub_send(p, &v, 8, 0) < 0)
			_exit(1);
		shmq_pub_close(p);
		_exit(0);
	}
	assert_int_equal(shmq_sub_wait(sub, 0, 30000000000ull), 0);
	assert_int_equal(shmq_sub_recv(sub, &v, sizeof(v), &m), 8);
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_sub_wait(sub, 0, 30000000000ull), -EPIPE);
	shmq_sub_close(sub);
	shmq_sub_close(early);
	test_unlink(bus, "tsb");
	shmq_bus_close(bus);
}

/* Sometimes a short pause, so that the other side parks and must be woken. */
static void maybe_pause(uint64_t *rng)
{
	uint64_t r = test_rand(rng);

	if (r % 8 == 0) {
		struct timespec ts = { 0, (long)(r >> 40) % 20000 };

		nanosleep(&ts, NULL);
	} else if (r % 8 == 1) {
		sched_yield();
	}
}

/* Receive message @want (its payload is its number), parking with a random spin budget. */
static int take(shmq_channel *rx, uint64_t want, uint64_t *rng)
{
	uint64_t got = 0, spin = test_rand(rng) % 4 == 0 ? 2000 : 0;
	int r;

	r = shmq_channel_wait(rx, spin, 30000000000ull);
	if (r < 0)
		return r;
	r = shmq_channel_recv(rx, &got, sizeof(got), NULL);
	if (r != sizeof(got))
		return r < 0 ? r : -EBADMSG;
	return got == want ? 0 : -EBADMSG;
}

static int give(shmq_channel *tx, uint64_t i)
{
	int r;

	while ((r = shmq_channel_send(tx, &i, sizeof(i))) == -EAGAIN)
		;
	return r;
}

/* One side of the ping-pong: @first sends first. Returns 0 or the failing step's error. */
static int play(shmq_channel *tx, shmq_channel *rx, uint64_t n, bool first, uint64_t seed)
{
	uint64_t i, rng = seed;
	int r;

	for (i = 1; i <= n; i++) {
		if (first) {
			maybe_pause(&rng);
			r = give(tx, i);
			if (r == 0)
				r = take(rx, i, &rng);
		} else {
			r = take(rx, i, &rng);
			maybe_pause(&rng);
			if (r == 0)
				r = give(tx, i);
		}
		if (r < 0) {
			fprintf(stderr, "hand-off %llu (%s side): %s\n", (unsigned long long)i,
				first ? "first" : "second", shmq_strerror(r));
			return r;
		}
	}
	return 0;
}

/*
 * Lost-wakeup stress: two processes hand a token back and forth through two channels,
 * each side parking (mostly with no spin at all) while the other sometimes pauses; every
 * hand-off parks one side or races it. A lost wakeup is a sleeper that never wakes: the
 * 30 s wait timeout turns it into a failure, the watchdog any other hang.
 */
static void test_handoff_stress(void **state)
{
	uint64_t n = test_scaled(HANDOFFS_FULL) / 2; /* two hand-offs per round */
	shmq_channel *ab_tx, *ab_rx, *ba_tx, *ba_rx;
	shmq_bus *bus = test_bus();
	uint64_t t0 = test_now_ns();
	pid_t pid;

	open_pair(bus, "ab", &ab_tx, &ab_rx);
	open_pair(bus, "ba", &ba_tx, &ba_rx);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(WATCHDOG_S);
		_exit(play(ba_tx, ab_rx, n, false, 0x9e3779b97f4a7c15ull) == 0 ? 0 : 1);
	}
	alarm(WATCHDOG_S);
	assert_int_equal(play(ab_tx, ba_rx, n, true, 0xd1b54a32d192ed03ull), 0);
	assert_int_equal(test_wait(pid), 0);
	alarm(0);
	printf("# %llu hand-offs on %s in %.1f s\n", (unsigned long long)(2 * n),
	       shmq_wake_backend(), (double)(test_now_ns() - t0) / 1e9);
	shmq_channel_close(ab_tx);
	shmq_channel_close(ab_rx);
	shmq_channel_close(ba_tx);
	shmq_channel_close(ba_rx);
	shmq_bus_close(bus);
}

/* Fan-out: two parked subscribers in child processes get every record of a paced producer. */
static int sub_child(shmq_bus *bus, uint64_t n)
{
	shmq_sub *sub;
	uint64_t i, got;
	int r;

	alarm(120);
	if (shmq_sub_open(bus, "fan", SHMQ_SUB_EARLIEST, NULL, 0, &sub) < 0)
		return 1;
	for (i = 1; i <= n; i++) {
		r = shmq_sub_wait(sub, 0, 30000000000ull);
		if (r == 0)
			r = shmq_sub_recv(sub, &got, sizeof(got), NULL);
		if (r != sizeof(got) || got != i)
			return 2;
	}
	shmq_sub_close(sub);
	return 0;
}

static void test_topic_fanout_park(void **state)
{
	uint64_t i, n = test_scaled(20000), rng = 42;
	shmq_bus *bus = test_bus();
	pid_t pids[2];
	shmq_pub *pub;
	int k;

	assert_int_equal(shmq_pub_open(bus, "fan", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	for (k = 0; k < 2; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0)
			_exit(sub_child(bus, n));
	}
	for (i = 1; i <= n; i++) {
		maybe_pause(&rng);
		while (shmq_pub_send(pub, &i, sizeof(i), 0) == -EAGAIN)
			;
	}
	for (k = 0; k < 2; k++)
		assert_int_equal(test_wait(pids[k]), 0);
	shmq_pub_close(pub);
	test_unlink(bus, "fan");
	shmq_bus_close(bus);
}

/* ---- producers waiting for room: a full reliable topic, a full channel ---- */

static const struct shmq_topic_config room_cfg = { .slots = 4, .max_msg = 8 };

/*
 * Only the readers' wakes may end a producer's wait for room: no periodic look (a lost wake
 * then hangs instead of being found by the next slice). slice_on() puts back the default.
 */
static uint64_t saved_slice;

static void slice_off(void)
{
	saved_slice = shmqi_room_slice_ns;
	shmqi_room_slice_ns = 0;
}

static void slice_on(void)
{
	shmqi_room_slice_ns = saved_slice;
}

/* Fill the topic behind @sub (which reads nothing): every send past the log gets -EAGAIN. */
static void fill(shmq_pub *pub)
{
	int r;

	while ((r = shmq_pub_send(pub, "r", 1, 0)) == 0)
		;
	assert_int_equal(r, -EAGAIN);
}

/* What a child does to make room: true when it went as expected. */
static bool sub_read_one(void *sub)
{
	char buf[8];

	return shmq_sub_recv(sub, buf, sizeof(buf), NULL) == 1;
}

/* Fill the channel with 1 KiB messages (nobody reads) until a send gets -EAGAIN. */
static void chan_fill(shmq_channel *tx)
{
	static const char msg[1024];
	int r;

	while ((r = shmq_channel_send(tx, msg, sizeof(msg))) == 0)
		;
	assert_int_equal(r, -EAGAIN);
}

static bool chan_read_one(void *rx)
{
	char buf[1024];

	return shmq_channel_recv(rx, buf, sizeof(buf), NULL) == (int)sizeof(buf);
}

/*
 * A child that makes room (@act) after 100 ms, while we are parked, then stays until @hold
 * is closed: its exit (SIGCHLD) must not be what wakes us. A wait that misses the wake
 * still returns 0, at its 30 s deadline: the child, waiting 10 s for us to go on, fails.
 */
static pid_t later(bool (*act)(void *), void *arg, int hold[2])
{
	struct pollfd p = { .events = POLLIN };
	bool ok;
	int n;
	pid_t pid;

	assert_int_equal(pipe(hold), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid != 0) {
		close(hold[0]);
		return pid;
	}
	alarm(60);
	close(hold[1]);
	usleep(100000);
	ok = act(arg);
	p.fd = hold[0];
	while ((n = poll(&p, 1, 10000)) < 0 && errno == EINTR)
		;
	_exit(!ok ? 1 : n == 1 ? 0 : 2);
}

/* The parent's side: our wait ended; let the child go and reap it. */
static void release(pid_t pid, int hold[2])
{
	close(hold[1]);
	assert_int_equal(test_wait(pid), 0);
}

/* A handle is closed by the process that opened it: here by a thread, after 100 ms. */
static void *sub_close_later(void *sub)
{
	usleep(100000);
	shmq_sub_close(sub);
	return NULL;
}

/*
 * Room comes when the subscriber reads on (in another process), and when it closes (in
 * another thread: a forked child's close of an inherited handle gives nothing up).
 */
static void test_pub_wait(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t t0;
	shmq_pub *pub;
	shmq_sub *sub;
	pthread_t closer;
	void *claimed;
	int hold[2];
	pid_t pid;

	slice_off();
	assert_int_equal(shmq_pub_open(bus, "room", SHMQ_OPEN_CREATE, &room_cfg, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "room", 0, NULL, 0, &sub), 0);
	assert_int_equal(shmq_pub_wait(NULL, 0, 0), -EINVAL);
	assert_int_equal(shmq_pub_wait(pub, 0, 0), 0); /* empty */
	fill(pub);
	assert_int_equal(shmq_pub_wait(pub, 0, 0), -ETIMEDOUT);
	t0 = test_now_ns();
	assert_int_equal(shmq_pub_wait(pub, 1000, 20000000), -ETIMEDOUT);
	assert_true(test_now_ns() - t0 >= 20000000);

	pid = later(sub_read_one, sub, hold);
	assert_int_equal(shmq_pub_wait(pub, 0, 30000000000ull), 0);
	release(pid, hold);
	assert_int_equal(shmq_pub_send(pub, "r", 1, 0), 0);
	assert_int_equal(shmq_pub_send(pub, "r", 1, 0), -EAGAIN);

	assert_int_equal(pthread_create(&closer, NULL, sub_close_later, sub), 0);
	assert_int_equal(shmq_pub_wait(pub, 0, 30000000000ull), 0);
	assert_int_equal(pthread_join(closer, NULL), 0);
	assert_int_equal(shmq_pub_send(pub, "r", 1, 0), 0); /* nobody gates any more */
	assert_int_equal(shmq_pub_claim(pub, 1, &claimed), 0);
	assert_int_equal(shmq_pub_wait(pub, 0, 0), -EBUSY); /* commit or abort first */
	assert_int_equal(shmq_pub_abort(pub), 0);
	assert_int_equal(shmq_pub_wait(pub, 0, 0), 0);
	shmq_pub_close(pub);
	slice_on();
	test_unlink(bus, "room");
	shmq_bus_close(bus);
}

/* A subscriber that dies without closing stops gating: a parked producer finds out. */
static void test_pub_wait_dead_sub(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub;
	shmq_sub *sub;
	int ready[2];
	pid_t pid;
	char c;

	assert_int_equal(shmq_pub_open(bus, "dead", SHMQ_OPEN_CREATE, &room_cfg, &pub), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		if (shmq_sub_open(bus, "dead", 0, NULL, 0, &sub) < 0 ||
		    write(ready[1], "s", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]); /* a child that fails before it writes: EOF, not a hang */
	assert_int_equal(read(ready[0], &c, 1), 1);
	fill(pub);
	kill(pid, SIGKILL);
	assert_int_equal(test_wait(pid), 128 + SIGKILL);
	assert_int_equal(shmq_pub_wait(pub, 0, 30000000000ull), 0);
	assert_int_equal(shmq_pub_send(pub, "r", 1, 0), 0);
	close(ready[0]);
	shmq_pub_close(pub);
	test_unlink(bus, "dead");
	shmq_bus_close(bus);
}

/* The subscriber side of test_room_handoff(): every record, in order, with random pauses. */
static int room_reader(shmq_bus *bus, uint64_t n, int ready)
{
	uint64_t i, got, rng = 0x2545f4914f6cdd1dull;
	shmq_sub *sub;
	int r;

	alarm(WATCHDOG_S);
	if (shmq_sub_open(bus, "hand", 0, NULL, 0, &sub) < 0 || write(ready, "s", 1) != 1)
		return 1;
	for (i = 1; i <= n; i++) {
		maybe_pause(&rng);
		r = shmq_sub_wait(sub, 0, 30000000000ull);
		if (r == 0)
			r = shmq_sub_recv(sub, &got, sizeof(got), NULL);
		if (r != sizeof(got) || got != i) {
			fprintf(stderr, "record %llu: %d, got %llu\n", (unsigned long long)i, r,
				(unsigned long long)got);
			return 2;
		}
	}
	shmq_sub_close(sub);
	return 0;
}

/*
 * Lost-wakeup stress for the other direction: a two-slot reliable topic, so the producer
 * finds it full and parks (no spin) on almost every record, while the subscriber parks
 * for data and pauses at random. A lost wakeup leaves one side asleep: the 30 s timeouts
 * turn that into a failure.
 */
static void test_room_handoff(void **state)
{
	const struct shmq_topic_config cfg = { .slots = 2, .max_msg = 8 };
	uint64_t i, n = test_scaled(200000), rng = 0x9e3779b97f4a7c15ull, waits = 0;
	shmq_bus *bus = test_bus();
	shmq_pub *pub;
	int ready[2], r;
	pid_t pid;
	char c;

	slice_off();
	assert_int_equal(shmq_pub_open(bus, "hand", SHMQ_OPEN_CREATE, &cfg, &pub), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(room_reader(bus, n, ready[1]));
	close(ready[1]); /* a child that fails before it writes: EOF, not a hang */
	assert_int_equal(read(ready[0], &c, 1), 1);
	alarm(WATCHDOG_S);
	for (i = 1; i <= n; i++) {
		maybe_pause(&rng);
		while ((r = shmq_pub_send(pub, &i, sizeof(i), 0)) == -EAGAIN) {
			waits++;
			assert_int_equal(shmq_pub_wait(pub, 0, 30000000000ull), 0);
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(test_wait(pid), 0);
	alarm(0);
	printf("# %llu records through 2 slots, %llu waits for room, on %s\n",
	       (unsigned long long)n, (unsigned long long)waits, shmq_wake_backend());
	assert_true(waits > 0);
	slice_on();
	close(ready[0]);
	shmq_pub_close(pub);
	test_unlink(bus, "hand");
	shmq_bus_close(bus);
}

/*
 * A send that pads the lap's end and then finds no room for its record publishes the pad
 * alone. A consumer's wait must not take the pad for a message (receive would say -EAGAIN).
 */
static void test_wait_pad(void **state)
{
	const struct shmq_channel_config cfg = { .capacity = 4096 };
	static char msg[1024];
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;

	assert_int_equal(
		shmq_channel_open(bus, "pad", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &tx), 0);
	assert_int_equal(shmq_channel_open(bus, "pad", SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
	for (int i = 0; i < 3; i++) /* 1056-byte records: 3168 bytes of the 4096 */
		assert_int_equal(shmq_channel_send(tx, msg, sizeof(msg)), 0);
	assert_int_equal(chan_read_one(rx), true);
	/* The pad (928 bytes) fits, the record after it does not. */
	assert_int_equal(shmq_channel_send(tx, msg, sizeof(msg)), -EAGAIN);
	assert_int_equal(chan_read_one(rx), true);
	assert_int_equal(chan_read_one(rx), true);
	assert_int_equal(shmq_channel_wait(rx, 0, 0), -ETIMEDOUT);
	assert_int_equal(shmq_channel_wait(rx, 1000, 1000000), -ETIMEDOUT);
	assert_int_equal(shmq_channel_recv(rx, msg, sizeof(msg), NULL), -EAGAIN);
	assert_int_equal(shmq_channel_send(tx, msg, sizeof(msg)), 0); /* room now */
	assert_int_equal(shmq_channel_wait(rx, 0, 0), 0);
	assert_int_equal(chan_read_one(rx), true);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "pad");
	shmq_bus_close(bus);
}

/* A channel's producer waits for room; the consumer (another process) makes it. */
static void test_channel_wait_room(void **state)
{
	static char msg[1024];
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;
	void *resv;
	int hold[2];
	pid_t pid;

	slice_off();
	open_pair(bus, "room", &tx, &rx);
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 0), 0);
	assert_int_equal(shmq_channel_wait_room(rx, sizeof(msg), 0, 0), -EBADF);
	assert_int_equal(shmq_channel_wait_room(NULL, 1, 0, 0), -EINVAL);
	assert_int_equal(shmq_channel_wait_room(tx, (size_t)1 << 20, 0, 0), -EMSGSIZE);
	assert_int_equal(shmq_channel_reserve(tx, 8, &resv), 0);
	assert_int_equal(shmq_channel_wait_room(tx, 8, 0, 0), -EBUSY);
	assert_int_equal(shmq_channel_commit(tx, 0), 0);
	assert_int_equal(shmq_channel_recv(rx, NULL, 0, NULL), 0);
	chan_fill(tx);
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 0), -ETIMEDOUT);
	assert_int_equal(shmq_channel_wait_room(tx, 0, 1000, 1000000), -ETIMEDOUT);
	pid = later(chan_read_one, rx, hold);
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 30000000000ull), 0);
	release(pid, hold);
	assert_int_equal(shmq_channel_send(tx, msg, sizeof(msg)), 0);
	slice_on();
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "room");
	shmq_bus_close(bus);
}

/* A consumer that dies with the channel full: the parked producer gets -EPIPE. */
static void test_channel_wait_room_dead(void **state)
{
	static char msg[1024];
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;
	int ready[2];
	pid_t pid;
	char c;

	assert_int_equal(
		shmq_channel_open(bus, "dc", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &small, &tx),
		0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		if (shmq_channel_open(bus, "dc", SHMQ_OPEN_CONSUMER, NULL, &rx) < 0 ||
		    write(ready[1], "c", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]); /* a child that fails before it writes: EOF, not a hang */
	assert_int_equal(read(ready[0], &c, 1), 1);
	chan_fill(tx);
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 0), -ETIMEDOUT);
	kill(pid, SIGKILL);
	assert_int_equal(test_wait(pid), 128 + SIGKILL);
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 30000000000ull), -EPIPE);
	/* A new consumer takes over the dead one's role and makes room. */
	assert_int_equal(shmq_channel_open(bus, "dc", SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
	assert_int_equal(chan_read_one(rx), true); /* one record, plus the 32 bytes a send */
	assert_int_equal(chan_read_one(rx), true); /* keeps free after its own: read two */
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 0), 0);
	close(ready[0]);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "dc");
	shmq_bus_close(bus);
}

/*
 * The consumer role names a pid whose process is another one now (the same pid, another
 * start time): the consumer is dead, and a producer waiting for room gets -EPIPE instead
 * of waiting for a process that will never read.
 */
static void test_channel_room_reused_pid(void **state)
{
	static const char msg[1024];
	shmq_bus *bus = test_bus();
	struct shmqi_chan *ctl;
	shmq_channel *tx, *rx;
	uint8_t *base;
	uint32_t gen;
	size_t size;

	(void)state;
	if (shmqi_proc_start(getpid()) == 0) {
		shmq_bus_close(bus);
		skip(); /* no /proc to read start times from */
	}
	assert_int_equal(
		shmq_channel_open(bus, "rp", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &small, &tx),
		0);
	assert_int_equal(shmq_channel_open(bus, "rp", SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
	chan_fill(tx);
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 0), -ETIMEDOUT);
	base = test_map(bus, "rp", &size);
	ctl = (struct shmqi_chan *)(base + SHMQI_CHAN_BODY_OFF);
	assert_int_equal(shmqi_head_pid(atomic_load(&ctl->consumer.head)), getpid());
	gen = (uint32_t)(atomic_load(&ctl->consumer.head) >> 32 & 0xffff);
	atomic_store(&ctl->consumer.start_time,
		     shmqi_owner_start_word(gen, shmqi_proc_start(getpid()) + 1));
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 30000000000ull), -EPIPE);
	/* As itself again, it is alive, and its reads make room. */
	atomic_store(&ctl->consumer.start_time,
		     shmqi_owner_start_word(gen, shmqi_proc_start(getpid())));
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 0), -ETIMEDOUT);
	assert_int_equal(chan_read_one(rx), true);
	assert_int_equal(chan_read_one(rx), true);
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 0), 0);
	munmap(base, size);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "rp");
	shmq_bus_close(bus);
}

/*
 * A role's owner dies while the other side is parked: in a grandchild, that opens @role
 * on channel @name, sends @n messages if it is the producer, says so on @ready, and dies
 * without closing after 200 ms. So no SIGCHLD of ours is what wakes the waiter: the
 * wait's own look, every 10 ms, must find the death. The child reaps it (its pid is
 * gone) and waits on @hold for the other side's wait to end.
 */
static int doomed(shmq_bus *bus, const char *name, unsigned role, int n, int ready, int hold)
{
	shmq_channel *ch;
	int st = 0;
	char c;
	pid_t g;

	alarm(60);
	g = fork();
	if (g < 0)
		return 1;
	if (g == 0) {
		if (shmq_channel_open(bus, name, role, NULL, &ch) < 0)
			_exit(1);
		for (int i = 0; i < n; i++)
			if (shmq_channel_send(ch, "m", 1) != 0)
				_exit(1);
		if (write(ready, "r", 1) != 1)
			_exit(1);
		usleep(200000); /* meanwhile the other side parks */
		_exit(0); /* dies without closing */
	}
	close(ready); /* only the grandchild writes it */
	if (waitpid(g, &st, 0) != g) /* reaped: its pid is gone */
		return 1;
	while (read(hold, &c, 1) < 0 && errno == EINTR) /* until the other side's wait ended */
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* Run doomed() in a child; return once the grandchild is ready. */
static pid_t dies_later(shmq_bus *bus, const char *name, unsigned role, int n, int hold[2])
{
	int ready[2];
	pid_t mid;
	char c;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		close(hold[1]);
		close(ready[0]);
		_exit(doomed(bus, name, role, n, ready[1], hold[0]));
	}
	close(hold[0]);
	close(ready[1]); /* a child that fails before it writes: EOF, not a hang */
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return mid;
}

/*
 * A producer that dies without closing: a consumer parked with no timeout gets -EPIPE
 * (judged every 10 ms while parked), after what it published before it died.
 */
static void test_channel_wait_producer_dies(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_channel *rx, *tx;
	int hold[2];
	char buf[8];
	pid_t mid;

	assert_int_equal(
		shmq_channel_open(bus, "dp", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, &small, &rx),
		0);
	assert_int_equal(shmq_channel_wait(rx, 0, 0), -ETIMEDOUT); /* nobody holds the role */
	mid = dies_later(bus, "dp", SHMQ_OPEN_PRODUCER, 0, hold);
	assert_int_equal(shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER), -EPIPE);
	close(hold[1]);
	assert_int_equal(test_wait(mid), 0);
	/* One that published first: its message, then -EPIPE. */
	mid = dies_later(bus, "dp", SHMQ_OPEN_PRODUCER, 1, hold);
	assert_int_equal(shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER), 0);
	assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), NULL), 1);
	assert_int_equal(shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER), -EPIPE);
	close(hold[1]);
	assert_int_equal(test_wait(mid), 0);
	/* A producer that takes the dead one's role over: waits work again. */
	assert_int_equal(shmq_channel_open(bus, "dp", SHMQ_OPEN_PRODUCER, NULL, &tx), 0);
	assert_int_equal(shmq_channel_wait(rx, 0, 1000000), -ETIMEDOUT);
	assert_int_equal(shmq_channel_send(tx, "n", 1), 0);
	assert_int_equal(shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER), 0);
	assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), NULL), 1);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "dp");
	shmq_bus_close(bus);
}

static void test_channel_room_consumer_dies(void **state)
{
	static char msg[1024];
	shmq_bus *bus = test_bus();
	shmq_channel *tx;
	int hold[2];
	pid_t mid;

	assert_int_equal(
		shmq_channel_open(bus, "dd", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &small, &tx),
		0);
	mid = dies_later(bus, "dd", SHMQ_OPEN_CONSUMER, 0, hold);
	chan_fill(tx);
	assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 30000000000ull), -EPIPE);
	close(hold[1]);
	assert_int_equal(test_wait(mid), 0);
	shmq_channel_close(tx);
	test_unlink(bus, "dd");
	shmq_bus_close(bus);
}

/* A child that takes @role 100 ms from now (the caller parks meanwhile) and dies 100 ms later. */
static pid_t takes_then_dies(shmq_bus *bus, const char *name, unsigned role)
{
	shmq_channel *ch;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		usleep(100000);
		if (shmq_channel_open(bus, name, role, NULL, &ch) < 0)
			_exit(1);
		usleep(100000);
		_exit(0); /* dies without closing */
	}
	return pid;
}

/*
 * A channel's @role parks with no timeout (the producer on a full ring) while its peer dies:
 * one that holds the other role already (dies_later()), or, @late, one that takes the free
 * role while the waiter is parked (a consumer came and closed before, for a producer).
 */
static void parked_channel_peer_dies(shmq_bus *bus, unsigned role, bool late)
{
	static char msg[1024];
	unsigned other = role == SHMQ_OPEN_PRODUCER ? SHMQ_OPEN_CONSUMER : SHMQ_OPEN_PRODUCER;
	shmq_channel *ch, *rx;
	int hold[2];
	pid_t mid;

	assert_int_equal(shmq_channel_open(bus, "pd", SHMQ_OPEN_CREATE | role, &small, &ch), 0);
	if (role == SHMQ_OPEN_PRODUCER)
		chan_fill(ch);
	if (late && role == SHMQ_OPEN_PRODUCER) { /* the role free, the room wait not closed */
		assert_int_equal(shmq_channel_open(bus, "pd", SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
		shmq_channel_close(rx);
	}
	mid = late ? takes_then_dies(bus, "pd", other) : dies_later(bus, "pd", other, 0, hold);
	if (role == SHMQ_OPEN_PRODUCER)
		assert_int_equal(shmq_channel_wait_room(ch, sizeof(msg), 0, SHMQ_WAIT_FOREVER),
				 -EPIPE);
	else
		assert_int_equal(shmq_channel_wait(ch, 0, SHMQ_WAIT_FOREVER), -EPIPE);
	if (!late)
		close(hold[1]);
	assert_int_equal(test_wait(mid), 0);
	shmq_channel_close(ch);
	test_unlink(bus, "pd");
}

/*
 * A parked waiter watches its peer's pidfd: a death ends the park with no slice to wake
 * it (shmqi_room_slice_ns 0: never), for a channel's consumer and producer and a topic's
 * producer parked for room. The waits have no timeout (a deadline would end the park and
 * judge the peer): a death the park misses is a hang, which the alarm makes a failure. The
 * futex backend has no pidfd beside the word: skipped there.
 */
static void test_parked_peer_dies(void **state)
{
	const uint64_t saved = shmqi_room_slice_ns;
	shmq_bus *bus;
	shmq_pub *pub;
	shmq_sub *sub;
	int ready[2];
	pid_t mid;
	char c;

	if (shmqi_wake_backend() != SHMQI_WAKE_IO_URING)
		skip(); /* before the bus is opened: a skip returns at once */
	bus = test_bus();
	shmqi_room_slice_ns = 0;
	alarm(30);
	parked_channel_peer_dies(bus, SHMQ_OPEN_CONSUMER, false);
	parked_channel_peer_dies(bus, SHMQ_OPEN_PRODUCER, false);
	/* The role taken while the other side is parked, by one that dies: the taker's open
	 * tells the parked side to watch it. */
	parked_channel_peer_dies(bus, SHMQ_OPEN_CONSUMER, true);
	parked_channel_peer_dies(bus, SHMQ_OPEN_PRODUCER, true);

	/* A subscriber that dies while the producer is parked: its entry is freed, room comes. */
	assert_int_equal(shmq_pub_open(bus, "pd", SHMQ_OPEN_CREATE, &room_cfg, &pub), 0);
	assert_int_equal(pipe(ready), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		alarm(60);
		if (shmq_sub_open(bus, "pd", 0, NULL, 0, &sub) < 0 || write(ready[1], "s", 1) != 1)
			_exit(1);
		usleep(200000); /* meanwhile the producer fills the topic and parks */
		_exit(0); /* dies without closing */
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	fill(pub);
	assert_int_equal(shmq_pub_wait(pub, 0, SHMQ_WAIT_FOREVER), 0);
	assert_int_equal(shmq_pub_send(pub, "r", 1, 0), 0);
	assert_int_equal(test_wait(mid), 0);
	close(ready[0]);
	shmq_pub_close(pub);
	test_unlink(bus, "pd");
	alarm(0);
	shmqi_room_slice_ns = saved;
	shmq_bus_close(bus);
}

/* A process's voluntary context switches so far (/proc/PID/status); -1 if unreadable. */
static long long voluntary_switches(pid_t pid)
{
	char path[64], line[256];
	long long v = -1, n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %lld", &n) == 1)
			v = n;
	fclose(f);
	return v;
}

/* Until @pid sleeps (its state S): then it is in the park that follows its 'ready'. */
static void until_asleep(pid_t pid)
{
	char path[64], buf[512], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 10000; i++) {
		FILE *f = fopen(path, "re");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		usleep(1000);
	}
	fail_msg("process %d never slept", (int)pid);
}

/* The waiter of test_parked_no_wakeups(): park once briefly, say so, park for good. */
static int idle_waiter(shmq_bus *bus, bool channel, int ready)
{
	shmq_channel *rx = NULL;
	shmq_sub *sub = NULL;
	int r;

	alarm(60);
	if (channel ? shmq_channel_open(bus, "nw", SHMQ_OPEN_CONSUMER, NULL, &rx)
		    : shmq_sub_open(bus, "nw", 0, NULL, 0, &sub))
		return 1;
	/* the first park switches parking on (a membarrier): not part of what is counted */
	r = channel ? shmq_channel_wait(rx, 0, 1000000) : shmq_sub_wait(sub, 0, 1000000);
	if (r != -ETIMEDOUT || write(ready, "r", 1) != 1)
		return 2;
	r = channel ? shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER)
		    : shmq_sub_wait(sub, 0, SHMQ_WAIT_FOREVER);
	return r == 0 ? 0 : 3;
}

/*
 * A parked subscriber with nothing pending makes no wakeups (it used to wake every claim
 * timeout, 20 ms here), nor does a parked channel consumer (it used to wake every 10 ms to
 * judge its producer; it now watches the producer's pidfd, io_uring only). Counted: the
 * waiter's voluntary context switches over 300 ms of its park.
 */
static void test_parked_no_wakeups(void **state)
{
	const struct shmq_topic_config cfg = { .slots = 64,
					       .max_msg = 8,
					       .claim_timeout_ns = 20000000 };
	shmq_bus *bus = test_bus();
	long long before, after;
	int tries;
	shmq_channel *tx;
	shmq_pub *pub;
	int ready[2], k;
	pid_t pid;
	char c;

	for (k = 0; k < 2; k++) {
		bool channel = k == 1;

		if (channel && shmqi_wake_backend() != SHMQI_WAKE_IO_URING)
			break; /* the futex backend looks at the producer every 10 ms */
		if (channel)
			assert_int_equal(shmq_channel_open(bus, "nw",
							   SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER,
							   &small, &tx),
					 0);
		else
			assert_int_equal(shmq_pub_open(bus, "nw", SHMQ_OPEN_CREATE, &cfg, &pub), 0);
		assert_int_equal(pipe(ready), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(idle_waiter(bus, channel, ready[1]));
		close(ready[1]);
		assert_int_equal(read(ready[0], &c, 1), 1);
		close(ready[0]);
		/* asleep, and still so 20 ms later with no switch: in its park, not on the way
		 * (a few tries: a waiter that wakes on its own fails below) */
		for (tries = 0; tries < 5; tries++) {
			until_asleep(pid);
			before = voluntary_switches(pid);
			usleep(20000);
			if (voluntary_switches(pid) == before)
				break;
		}
		usleep(300000);
		after = voluntary_switches(pid);
		assert_true(before >= 0 && after >= 0);
		if (after != before)
			fail_msg("%s: %lld wakeups while parked",
				 channel ? "consumer" : "subscriber", after - before);
		if (channel)
			assert_int_equal(shmq_channel_send(tx, "w", 1), 0);
		else
			assert_int_equal(shmq_pub_send(pub, "w", 1, 0), 0);
		assert_int_equal(test_wait(pid), 0);
		if (channel)
			shmq_channel_close(tx);
		else
			shmq_pub_close(pub);
		test_unlink(bus, "nw");
	}
	shmq_bus_close(bus);
}

/* The consumer of test_channel_room_handoff(): every message in order, pausing at random. */
static int chan_reader(shmq_channel *rx, uint64_t n)
{
	uint64_t i, rng = 0x2545f4914f6cdd1dull, got[128];
	int r;

	alarm(WATCHDOG_S);
	for (i = 1; i <= n; i++) {
		maybe_pause(&rng);
		r = shmq_channel_wait(rx, 0, 30000000000ull);
		if (r == 0)
			r = shmq_channel_recv(rx, got, sizeof(got), NULL);
		if (r != (int)sizeof(got) || got[0] != i || got[127] != i) {
			fprintf(stderr, "message %llu: %d\n", (unsigned long long)i, r);
			return 2;
		}
	}
	return 0;
}

/* The lost-wakeup stress of test_room_handoff() for a 4 KiB channel (three 1 KiB messages). */
static void test_channel_room_handoff(void **state)
{
	const struct shmq_channel_config cfg = { .capacity = 4096 };
	uint64_t i, n = test_scaled(100000), rng = 0x9e3779b97f4a7c15ull, waits = 0, msg[128];
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;
	pid_t pid;
	int r;

	slice_off();
	assert_int_equal(
		shmq_channel_open(bus, "chand", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &tx),
		0);
	assert_int_equal(shmq_channel_open(bus, "chand", SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(chan_reader(rx, n));
	alarm(WATCHDOG_S);
	for (i = 1; i <= n; i++) {
		maybe_pause(&rng);
		msg[0] = msg[127] = i;
		while ((r = shmq_channel_send(tx, msg, sizeof(msg))) == -EAGAIN) {
			waits++;
			assert_int_equal(shmq_channel_wait_room(tx, sizeof(msg), 0, 30000000000ull),
					 0);
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(test_wait(pid), 0);
	alarm(0);
	printf("# %llu messages through a 4 KiB channel, %llu waits for room, on %s\n",
	       (unsigned long long)n, (unsigned long long)waits, shmq_wake_backend());
	assert_true(waits > 0);
	slice_on();
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "chand");
	shmq_bus_close(bus);
}

/* One thread waits on three channels and a subscriber; a child writes to one of them. */
static void test_wait_many(void **state)
{
	const char *names[3] = { "m0", "m1", "m2" };
	struct shmq_wait_item items[4] = { 0 };
	shmq_channel *tx[3], *rx[3];
	shmq_bus *bus = test_bus();
	uint64_t v = 7;
	shmq_pub *pub;
	shmq_sub *sub;
	pid_t pid;
	int i;

	for (i = 0; i < 3; i++) {
		open_pair(bus, names[i], &tx[i], &rx[i]);
		items[i].ch = rx[i];
	}
	assert_int_equal(shmq_pub_open(bus, "mt", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "mt", 0, NULL, 0, &sub), 0);
	items[3].sub = sub;
	assert_int_equal(shmq_wait_many(items, 4, 0, 10000000), -ETIMEDOUT);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(50000); /* the parent is parked by then, usually */
		_exit(shmq_channel_send(tx[1], &v, sizeof(v)) == 0 ? 0 : 1);
	}
	assert_int_equal(shmq_wait_many(items, 4, 0, 10000000000ull), 1);
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(items[0].ready, 0);
	assert_int_equal(items[1].ready, 1);
	assert_int_equal(items[2].ready, 0);
	assert_int_equal(items[3].ready, 0);
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), 0), 0);
	shmq_channel_close(tx[2]); /* closed with nothing left: -EPIPE */
	assert_int_equal(shmq_wait_many(items, 4, 0, 0), 3);
	assert_int_equal(items[1].ready, 1);
	assert_int_equal(items[2].ready, -EPIPE);
	assert_int_equal(items[3].ready, 1);
	items[3].ch = rx[0]; /* both set */
	assert_int_equal(shmq_wait_many(items, 4, 0, 0), -EINVAL);
	items[3].ch = tx[0];
	items[3].sub = NULL; /* a producer handle */
	assert_int_equal(shmq_wait_many(items, 4, 0, 0), -EBADF);
	assert_int_equal(shmq_wait_many(items, 0, 0, 0), -EINVAL);
	for (i = 0; i < 3; i++) {
		if (i != 2)
			shmq_channel_close(tx[i]);
		shmq_channel_close(rx[i]);
		test_unlink(bus, names[i]);
	}
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "mt");
	shmq_bus_close(bus);
}

static bool have_io_uring(void)
{
	return strcmp(shmq_wake_backend(), "io_uring") == 0;
}

/*
 * A child takes the producer role of @name (the parent gave it up), sends one message after
 * a pause, so that the parent is waiting by then, and exits holding the role: the parent
 * takes it over afterwards, resuming where the child left (a handle inherited through
 * fork() must not be used by both processes).
 */
static pid_t send_later(shmq_bus *bus, const char *name)
{
	shmq_channel *tx;
	uint64_t v = 9;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(50000);
		if (shmq_channel_open(bus, name, SHMQ_OPEN_PRODUCER, NULL, &tx) < 0)
			_exit(2);
		_exit(shmq_channel_send(tx, &v, sizeof(v)) == 0 ? 0 : 1);
	}
	return pid;
}

static void reopen_tx(shmq_bus *bus, const char *name, shmq_channel **tx)
{
	assert_int_equal(shmq_channel_open(bus, name, SHMQ_OPEN_PRODUCER, NULL, tx), 0);
}

/* A channel with only its consumer open: no producer yet, so none has closed it. */
static shmq_channel *open_rx(shmq_bus *bus, const char *name)
{
	shmq_channel *rx;

	assert_int_equal(
		shmq_channel_open(bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, &small, &rx),
		0);
	return rx;
}

/* The wait on the caller's own io_uring: one SQE, one completion when the message came. */
static void test_prep_wait(void **state)
{
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_cqe *cqe;
	shmq_bus *bus;
	shmq_channel *tx, *rx;
	struct io_uring ring;
	uint64_t v;
	pid_t pid;

	if (!have_io_uring())
		skip(); /* before anything is allocated: skip() does not return */
	bus = test_bus();
	rx = open_rx(bus, "pw");
	assert_int_equal(io_uring_queue_init(4, &ring, 0), 0);
	assert_int_equal(shmq_channel_prep_wait(rx, io_uring_get_sqe(&ring), 4242), 0);
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_int_equal(io_uring_wait_cqe_timeout(
				 &ring, &cqe, &(struct __kernel_timespec){ .tv_nsec = 20000000 }),
			 -ETIME);
	pid = send_later(bus, "pw");
	assert_int_equal(io_uring_wait_cqe_timeout(&ring, &cqe, &ts), 0);
	assert_int_equal(cqe->user_data, 4242);
	io_uring_cqe_seen(&ring, cqe);
	assert_int_equal(shmq_channel_wait_done(rx), 0);
	assert_int_equal(shmq_channel_recv(rx, &v, sizeof(v), NULL), (int)sizeof(v));
	assert_int_equal(test_wait(pid), 0);
	reopen_tx(bus, "pw", &tx);
	/* Something there already: a NOP that completes at once. */
	assert_int_equal(shmq_channel_send(tx, &v, sizeof(v)), 0);
	assert_int_equal(shmq_channel_prep_wait(rx, io_uring_get_sqe(&ring), 7), 0);
	assert_int_equal(io_uring_submit_and_wait(&ring, 1), 1);
	assert_int_equal(io_uring_peek_cqe(&ring, &cqe), 0);
	assert_int_equal(cqe->user_data, 7);
	io_uring_cqe_seen(&ring, cqe);
	assert_int_equal(shmq_channel_wait_done(rx), 0);
	assert_int_equal(shmq_channel_prep_wait(tx, io_uring_get_sqe(&ring), 1), -EBADF);
	io_uring_queue_exit(&ring);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "pw");
	shmq_bus_close(bus);
}

static int poll_in(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms);
}

/* poll() on the handle's fd: readable while there is something, quiet after -EAGAIN. */
static void test_fd(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;
	struct shmq_sub_msg m;
	shmq_pub *pub;
	shmq_sub *sub;
	int fd, fd2;
	uint64_t v;
	pid_t pid;

	rx = open_rx(bus, "fd");
	tx = NULL;
	fd = shmq_channel_fd(rx);
	if (!have_io_uring()) {
		assert_int_equal(fd, -EOPNOTSUPP);
		goto out;
	}
	assert_true(fd >= 0);
	assert_int_equal(poll_in(fd, 20), 0);
	pid = send_later(bus, "fd");
	assert_int_equal(poll_in(fd, 10000), 1);
	assert_int_equal(test_wait(pid), 0);
	reopen_tx(bus, "fd", &tx);
	assert_int_equal(shmq_channel_fd(tx), -EBADF);
	assert_int_equal(poll_in(fd, 0), 1); /* level: still readable until -EAGAIN */
	assert_int_equal(shmq_channel_recv(rx, &v, sizeof(v), NULL), (int)sizeof(v));
	assert_int_equal(shmq_channel_recv(rx, &v, sizeof(v), NULL), -EAGAIN);
	assert_int_equal(poll_in(fd, 20), 0);
	assert_int_equal(shmq_channel_fd(rx), fd);
	/* A subscriber's fd. */
	assert_int_equal(shmq_pub_open(bus, "fdt", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "fdt", 0, NULL, 0, &sub), 0);
	fd2 = shmq_sub_fd(sub);
	assert_true(fd2 >= 0);
	assert_int_equal(poll_in(fd2, 20), 0);
	assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), 0), 0);
	assert_int_equal(poll_in(fd2, 10000), 1);
	assert_int_equal(shmq_sub_recv(sub, &v, sizeof(v), &m), (int)sizeof(v));
	assert_int_equal(shmq_sub_recv(sub, &v, sizeof(v), &m), -EAGAIN);
	assert_int_equal(poll_in(fd2, 20), 0);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "fdt");
out:
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "fd");
	shmq_bus_close(bus);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* Signals interrupt the sleep (no SA_RESTART) but neither end the wait nor lose the wake. */
static void test_signals(void **state)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx;
	uint64_t v = 5;
	int i, ready[2];
	pid_t pid;
	char c;

	open_pair(bus, "sig", &tx, &rx);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		sigaction(SIGUSR1, &sa, NULL); /* sa_flags 0: interrupted calls return EINTR */
		if (write(ready[1], "r", 1) != 1 || shmq_channel_wait(rx, 0, 30000000000ull) != 0)
			_exit(1);
		_exit(shmq_channel_recv(rx, &v, sizeof(v), NULL) == (int)sizeof(v) ? 0 : 2);
	}
	close(ready[1]); /* a child that fails before it writes: EOF, not a hang */
	/* a signal before the handler is in would kill it (a slow fork under ASan did) */
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	usleep(50000); /* most of the signals while it is parked */
	for (i = 0; i < 200; i++) {
		kill(pid, SIGUSR1);
		usleep(200);
	}
	assert_int_equal(shmq_channel_send(tx, &v, sizeof(v)), 0);
	assert_int_equal(test_wait(pid), 0);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	test_unlink(bus, "sig");
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest unit[] = {
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_close_wakes_channel),
		cmocka_unit_test(test_close_wakes_topic),
		cmocka_unit_test(test_sub_before_producer),
		cmocka_unit_test(test_topic_fanout_park),
		cmocka_unit_test(test_pub_wait),
		cmocka_unit_test(test_pub_wait_dead_sub),
		cmocka_unit_test(test_room_handoff),
		cmocka_unit_test(test_wait_pad),
		cmocka_unit_test(test_channel_wait_room),
		cmocka_unit_test(test_channel_wait_room_dead),
		cmocka_unit_test(test_channel_room_reused_pid),
		cmocka_unit_test(test_channel_room_consumer_dies),
		cmocka_unit_test(test_channel_wait_producer_dies),
		cmocka_unit_test(test_channel_room_handoff),
		cmocka_unit_test(test_parked_peer_dies),
		cmocka_unit_test(test_parked_no_wakeups),
		cmocka_unit_test(test_wait_many),
		cmocka_unit_test(test_prep_wait),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_signals),
	};
	const struct CMUnitTest stress[] = {
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_handoff_stress),
	};

	if (argc > 1 && strcmp(argv[1], "--stress") == 0)
		return cmocka_run_group_tests(stress, NULL, test_cleanup);
	return cmocka_run_group_tests(unit, NULL, test_cleanup);
}
