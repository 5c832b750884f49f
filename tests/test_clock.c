// SPDX-License-Identifier: MIT
/*
 * test_clock.c - the timestamp clock: shmq_now_ns() against clock_gettime(CLOCK_MONOTONIC)
 * in one thread, in several threads, across fork() and in the records a channel carries.
 * Run on the detected source and again with SHMQ_CLOCK=monotonic (tests/meson.build).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

#include "common.h"

/*
 * How far a reading may sit outside the clock_gettime() calls around it. The design keeps
 * it well under a microsecond (a rate 0.1 % off would be 1 us off at the end of an
 * anchor's millisecond); a rate 1 % off or a misplaced anchor fails here.
 */
#define SLACK_NS 2000
#define RUN_NS 60000000ull /* 60 ms: past the first anchors and rates */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Readings bracketed by clock_gettime() and never decreasing; the worst offset seen. */
static int64_t bracket_run(uint64_t run_ns)
{
	uint64_t end = mono_ns() + run_ns, a, b, x, prev = 0;
	int64_t worst = 0, off;
	unsigned i = 0;

	do {
		a = mono_ns();
		x = shmq_now_ns();
		b = mono_ns();
		assert_true(x >= prev);
		prev = x;
		off = x < a ? (int64_t)(a - x) : x > b ? (int64_t)(x - b) : 0;
		if (off > worst)
			worst = off;
		/* Also readings back to back, where the extrapolation runs longest. */
		for (i = 0; i < 64; i++) {
			x = shmq_now_ns();
			assert_true(x >= prev);
			prev = x;
		}
	} while (b < end);
	return worst;
}

static void test_source(void **state)
{
	const char *env = getenv(SHMQ_CLOCK_ENV);
	const char *src = shmq_clock_source();

	(void)state;
	assert_non_null(src);
	assert_true(strcmp(src, "tsc") == 0 || strcmp(src, "clock_gettime") == 0);
	assert_string_equal(src, shmq_clock_source()); /* decided once */
	if (env && strcmp(env, "monotonic") == 0)
		assert_string_equal(src, "clock_gettime");
	printf("# timestamps: %s\n", src);
}

static void test_bracket(void **state)
{
	int64_t worst;

	(void)state;
	worst = bracket_run(RUN_NS);
	printf("# worst offset from clock_gettime(): %lld ns\n", (long long)worst);
	assert_true(worst <= SLACK_NS);
}

static void *thread_run(void *arg)
{
	*(int64_t *)arg = bracket_run(RUN_NS / 2);
	return NULL;
}

/* Each thread has its own anchors: all must agree with the one clock. */
static void test_threads(void **state)
{
	pthread_t t[4];
	int64_t worst[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_run, &worst[i]), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(worst[i] <= SLACK_NS);
	}
}

/*
 * A forked producer stamps messages on its own anchors; each record's time must fall
 * between the consumer's clock_gettime() before the child was told to send it and after
 * it arrived.
 */
static void test_records_across_fork(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_channel *rx = NULL, *tx = NULL, *go = NULL, *gorx = NULL;
	struct shmq_msg_info info;
	uint64_t before, after, v, n = 2000, i;
	pid_t pid;
	int st, r;

	(void)state;
	assert_int_equal(
		shmq_channel_open(bus, "clk", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
	assert_int_equal(
		shmq_channel_open(bus, "go", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL, &go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Dies with the parent, whose failed assertion would leave it waiting. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
			_exit(4);
		if (shmq_channel_open(bus, "clk", SHMQ_OPEN_PRODUCER, NULL, &tx) < 0 ||
		    shmq_channel_open(bus, "go", SHMQ_OPEN_CONSUMER, NULL, &gorx) < 0)
			_exit(2);
		for (i = 0; i < n; i++) {
			while ((r = shmq_channel_recv(gorx, &v, sizeof(v), NULL)) == -EAGAIN)
				;
			if (r != (int)sizeof(v) || shmq_channel_send(tx, &v, sizeof(v)) < 0)
				_exit(3);
		}
		_exit(0);
	}
	for (i = 0; i < n; i++) {
		if (i % 100 == 0)
			usleep(1000); /* spread over anchors */
		before = mono_ns();
		assert_int_equal(shmq_channel_send(go, &i, sizeof(i)), 0);
		while ((r = shmq_channel_recv(rx, &v, sizeof(v), &info)) == -EAGAIN)
			;
		after = mono_ns();
		assert_int_equal(r, (int)sizeof(v));
		assert_true(v == i);
		assert_true(info.ts_ns + SLACK_NS >= before);
		assert_true(info.ts_ns <= after + SLACK_NS);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	shmq_channel_close(rx);
	shmq_channel_close(go);
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_bracket),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_records_across_fork),
	};

	return cmocka_run_group_tests_name("clock", tests, NULL, test_cleanup);
}
