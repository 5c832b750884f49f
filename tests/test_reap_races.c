// SPDX-License-Identifier: MIT
/* test_reap_races.c - interleavings of the reap calls with live producers and members. */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

#include "common.h"
#include "topic_internal.h"

static struct shmq_topic_config hour_cfg(uint32_t slots)
{
	return (struct shmq_topic_config){ .slots = slots,
					   .max_msg = 64,
					   .policy = SHMQ_TOPIC_RELIABLE,
					   .max_subscribers = 4,
					   .max_producers = 8,
					   .claim_timeout_ns = SHMQ_TOPIC_MAX_CLAIM_TIMEOUT_NS };
}

static struct shmq_topic_stats topic_stat(shmq_bus *bus, const char *name)
{
	struct shmq_topic_stats st;

	assert_true(shmq_topic_stat(bus, name, &st, NULL, 0) >= 0);
	return st;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A child that opens a producer and claims one record (it may block there, in own_slot()). */
static pid_t claimer(shmq_bus *bus, const char *name)
{
	pid_t pid = fork();
	shmq_pub *p;
	void *buf;

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (shmq_pub_open(bus, name, 0, NULL, &p) < 0)
			_exit(1);
		shmq_pub_claim(p, 8, &buf);
		for (;;)
			pause();
	}
	return pid;
}

static void wait_tail(shmq_bus *bus, const char *name, uint64_t tail)
{
	int i;

	for (i = 0; i < 5000 && topic_stat(bus, name).tail < tail; i++)
		sleep_ms(1);
	assert_int_equal(topic_stat(bus, name).tail, tail);
	sleep_ms(20); /* it is in own_slot() now */
}

static void kill_wait(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/*
 * The slot of record 1 was never written (stamp 0) and record 1 is claimed by a LIVE
 * producer (zero-copy, still writing). Record 5 (same slot, a lap later) is claimed by a
 * producer that died while it waited for record 1. The reap must not skip record 5: that
 * would give the slot to record 9 while the live producer still writes into it (a stamp of
 * 0 means every claim of the slot from its first lap on counts, not only record 5's).
 */
static void test_first_lap_live_writer(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_config cfg = hour_cfg(4);
	struct shmq_sub_msg m;
	shmq_pub *p = NULL, *b = NULL;
	shmq_sub *sub = NULL;
	char buf[64] = { 0 };
	uint64_t i, skipped;
	void *zc;
	pid_t d;

	(void)state;
	assert_int_equal(shmq_pub_open(bus, "fl", SHMQ_OPEN_CREATE, &cfg, &p), 0);
	assert_int_equal(shmq_pub_open(bus, "fl", 0, NULL, &b), 0);
	assert_int_equal(shmq_pub_claim(p, 4, &zc), 0); /* record 1: live, being written */
	for (i = 2; i <= 4; i++)
		assert_int_equal(shmq_pub_send(b, "x", 1, i), 0);
	d = claimer(bus, "fl"); /* record 5: waits for record 1 */
	wait_tail(bus, "fl", 6);
	kill_wait(d);
	shmq_topic_reap(bus, "fl", NULL, NULL);
	printf("  skipped after the reap: %llu (expected 0: record 1's writer is alive)\n",
	       (unsigned long long)topic_stat(bus, "fl").skipped);
	skipped = topic_stat(bus, "fl").skipped;
	for (i = 6; i <= (skipped ? 9u : 8u); i++) /* record 9 takes slot 1 once 5 is skipped */
		assert_int_equal(shmq_pub_send(b, "nine", 4, i), 0);
	memcpy(zc, "ONE!", 4); /* the live producer goes on writing its record */
	printf("  live producer's commit of record 1: %d (expected 0)\n", shmq_pub_commit(p, 4, 1));
	if (skipped) {
		assert_int_equal(shmq_sub_open(bus, "fl", SHMQ_SUB_FROM_SEQ, NULL, 9, &sub), 0);
		assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), 4);
		printf("  record %llu (sent as \"nine\") payload: %.4s\n",
		       (unsigned long long)m.seq, buf);
	}
	assert_int_equal(skipped, 0);
	shmq_sub_close(sub);
	shmq_pub_close(b);
	shmq_pub_close(p);
	test_unlink(bus, "fl");
	shmq_bus_close(bus);
}

/*
 * A dead claim more than two laps below the tail (a reliable topic with no subscriber: two
 * live producers wait behind it, a lap apart) is still skipped by the reap, so that the
 * producers go on instead of waiting for the claim timeout (1 h here).
 */
static void test_dead_claim_two_laps(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_config cfg = hour_cfg(4);
	shmq_pub *b = NULL;
	pid_t d, p1, p2;
	uint64_t i;

	(void)state;
	assert_int_equal(shmq_pub_open(bus, "tl", SHMQ_OPEN_CREATE, &cfg, &b), 0);
	d = claimer(bus, "tl"); /* record 1 */
	wait_tail(bus, "tl", 2);
	kill_wait(d);
	for (i = 2; i <= 4; i++)
		assert_int_equal(shmq_pub_send(b, "x", 1, i), 0);
	p1 = claimer(bus, "tl"); /* record 5: waits for 1 */
	wait_tail(bus, "tl", 6);
	for (i = 6; i <= 8; i++)
		assert_int_equal(shmq_pub_send(b, "x", 1, i), 0);
	p2 = claimer(bus, "tl"); /* record 9: waits for 5 */
	wait_tail(bus, "tl", 10);
	for (i = 10; i <= 12; i++)
		assert_int_equal(shmq_pub_send(b, "x", 1, i), 0);
	shmq_topic_reap(bus, "tl", NULL, NULL);
	printf("  skipped after the reap: %llu (expected 1: record 1's claimant is dead)\n",
	       (unsigned long long)topic_stat(bus, "tl").skipped);
	assert_int_equal(topic_stat(bus, "tl").skipped, 1);
	kill_wait(p1);
	kill_wait(p2);
	shmq_pub_close(b);
	test_unlink(bus, "tl");
	shmq_bus_close(bus);
}

/* A member running as uid 65534: receives one record, then nacks it (or waits to be killed). */
static pid_t nobody_member(shmq_bus *bus, bool nack, int *ret_pipe)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct shmq_group_msg m;
		shmq_group *g = NULL;
		uint64_t v;
		int r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(1);
		r = shmq_group_open(bus, "t", "g", 0, NULL, &g);
		if (r == 0)
			r = shmq_group_recv(g, &v, sizeof(v), &m) == (int)sizeof(v) ? 0 : -EIO;
		if (r == 0 && nack)
			r = shmq_group_nack(g, m.lease, 0);
		if (write(fds[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		if (nack)
			_exit(0);
		for (;;)
			pause();
	}
	close(fds[1]);
	*ret_pipe = fds[0];
	return pid;
}

/*
 * The reaper (shmqd runs as root) dead-letters a dead member's record and so creates
 * TOPIC.dlq itself: with the topic's mode (and owner), so that members of another uid can
 * still dead-letter into it (before, root's and 0600: their nacks failed with -EACCES).
 */
static void test_reaper_creates_dlq(void **state)
{
	if (geteuid() != 0)
		skip(); /* needs root, to drop to another uid */

	shmq_bus *bus = test_bus();
	struct shmq_topic_config cfg = hour_cfg(16);
	struct shmq_group_config gc = { .ack_wait_ns = 3600000000000ull,
					.max_deliveries = 1,
					.mode = 0666 };
	char path[300];
	struct stat st;
	shmq_group *g = NULL;
	shmq_pub *pub = NULL;
	uint64_t v;
	int fd, r = 1, s;
	pid_t pid;

	(void)state;
	cfg.mode = 0666;
	assert_int_equal(shmq_pub_open(bus, "t", SHMQ_OPEN_CREATE, &cfg, &pub), 0);
	assert_int_equal(
		shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, &gc, &g), 0);
	shmq_group_close(g); /* durable: stays without members */
	for (v = 1; v <= 2; v++)
		assert_int_equal(shmq_pub_send(pub, &v, sizeof(v), v), 0);
	pid = nobody_member(bus, false, &fd);
	assert_int_equal(read(fd, &r, sizeof(r)), sizeof(r));
	close(fd);
	assert_int_equal(r, 0); /* it holds record 1 */
	kill_wait(pid);
	assert_int_equal(shmq_group_reap(bus, "t", "g", NULL), 1); /* as shmqd: dead-letters 1 */
	test_path(bus, "t.dlq", path, sizeof(path));
	snprintf(path, sizeof(path), "/dev/shm/shmq.%s.t.dlq", shmq_bus_namespace(bus));
	assert_int_equal(stat(path, &st), 0);
	printf("  %s: uid %u mode %04o\n", path, (unsigned)st.st_uid, st.st_mode & 0777);
	pid = nobody_member(bus, true, &fd); /* record 2, nacked: its dead letter */
	assert_int_equal(read(fd, &r, sizeof(r)), sizeof(r));
	close(fd);
	waitpid(pid, &s, 0);
	printf("  a member of uid 65534 nacks its last delivery: %d (%s)\n", r, shmq_strerror(r));
	assert_int_equal(r, 0);
	shmq_pub_close(pub);
	shmq_group_delete(bus, "t", "g", SHMQ_GROUP_FORCE);
	test_unlink(bus, "t.dlq");
	test_unlink(bus, "t");
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_lap_live_writer),
		cmocka_unit_test(test_dead_claim_two_laps),
		cmocka_unit_test(test_reaper_creates_dlq),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("reap_races", tests, NULL, test_cleanup);
}
