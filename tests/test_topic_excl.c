// SPDX-License-Identifier: MIT
/* test_topic_excl.c - topics: the exclusive producer, reused pids, handles closing their own. */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "internal.h"
#include "shm_layout.h"
#include "topic_common.h"

/* ---- the exclusive producer ---- */

static void test_exclusive(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "excl", &cfg), *x = NULL, *y = NULL;
	shmq_sub *sub = open_sub(bus, "excl", 0, &cfg, 0);
	struct shmq_sub_msg info;
	siginfo_t si;
	pid_t pid;

	/* Not while another producer is open. */
	assert_int_equal(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &x), -EBUSY);
	assert_null(x);
	assert_int_equal(topic_stats(bus, "excl").producers, 1);
	shmq_pub_close(pub);
	assert_int_equal(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &x), 0);
	/* No other producer, exclusive or not, while it is open. */
	assert_int_equal(shmq_pub_open(bus, "excl", 0, &cfg, &y), -EBUSY);
	assert_int_equal(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &y), -EBUSY);
	assert_null(y);
	assert_int_equal(topic_stats(bus, "excl").producers, 1);
	for (uint64_t s = 1; s <= 20; s++) {
		send_seq(x, s);
		info = expect_seq(sub, s, 0, 0);
		assert_int_equal(info.producer_id, shmq_pub_id(x));
		assert_int_equal(info.producer_seq, s);
	}
	shmq_pub_close(x);
	pub = open_pub(bus, "excl", &cfg);
	send_seq(pub, 21);
	expect_seq(sub, 21, 0, 0);
	shmq_pub_close(pub);
	/* An exclusive producer that dies is replaced; a zombie (not reaped yet) is dead. */
	pid = fork();
	if (pid == 0)
		_exit(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &x) == 0 ? 0 : 2);
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0); /* a zombie */
	assert_int_equal(si.si_status, 0);
	assert_int_equal(shmq_pub_open(bus, "excl", 0, &cfg, &y), 0);
	shmq_pub_close(y);
	assert_int_equal(shmq_pub_open(bus, "excl", SHMQ_PUB_EXCLUSIVE, &cfg, &x), 0);
	assert_int_equal(test_wait(pid), 0);
	send_seq(x, 22);
	expect_seq(sub, 22, 0, 0);
	shmq_pub_close(x);
	assert_int_equal(shmq_pub_open(bus, "excl", 0x8000u, &cfg, &y), -EINVAL);
	shmq_sub_close(sub);
	test_unlink(bus, "excl");
	shmq_bus_close(bus);
}

/*
 * Our pid, recorded by processes that had it before us and died: an exclusive producer
 * (exclusive_pid and its table entry) and a subscriber that still gates. Neither may hold
 * us back: they are judged by their start time like anybody else's.
 */
static void test_own_pid_reused(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	uint64_t start = shmqi_proc_start(getpid()), ns = shmqi_pidns();
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "ownpid", &cfg), *x = NULL;
	shmq_sub *ghost = open_sub(bus, "ownpid", 0, &cfg, 0), *sub;
	struct shmqi_prod_entry *prods;
	struct shmqi_sub_entry *subs;
	struct shmqi_topic *ctl;
	uint8_t *base;
	size_t size;
	uint32_t i;

	(void)state;
	if (start == 0 || ns == 0) {
		shmq_sub_close(ghost);
		shmq_pub_close(pub);
		test_unlink(bus, "ownpid");
		shmq_bus_close(bus);
		skip(); /* no /proc to read start times and namespaces from */
	}
	base = test_map(bus, "ownpid", &size);
	ctl = (struct shmqi_topic *)(base + SHMQI_TOPIC_BODY_OFF);
	prods = (struct shmqi_prod_entry *)(base + ctl->prods_off);
	subs = (struct shmqi_sub_entry *)(base + ctl->subs_off);
	/* The subscriber "ghost" becomes a dead one's entry: our pid, another start time. */
	for (i = 0; i < ctl->max_subs; i++) {
		uint64_t h = atomic_load(&subs[i].owner.head);

		if (shmqi_head_pid(h) == getpid())
			atomic_store(&subs[i].owner.start_time,
				     shmqi_owner_start_word((uint32_t)(h >> 32), start + 1));
	}
	sub = open_sub(bus, "ownpid", 0, &cfg, 0);
	for (uint64_t s = 1; s <= 8; s++) {
		send_seq(pub, s);
		expect_seq(sub, s, 0, 0);
	}
	/* The ghost's cursor is at 1: it gates until a producer finds it dead and reaps it. */
	send_retry(pub, 9);
	expect_seq(sub, 9, 0, 0);
	shmq_pub_close(pub);
	/* A dead exclusive producer with our pid: its entry and exclusive_pid. */
	atomic_store(&prods[0].owner.start_time, shmqi_owner_start_word(3, start + 1));
	atomic_store(&prods[0].owner.pidns, shmqi_owner_ns_word(3, ns));
	atomic_store(&prods[0].owner.head, shmqi_owner_head(getpid(), 3, ns));
	atomic_store(&ctl->exclusive_pid, getpid());
	assert_int_equal(shmq_pub_open(bus, "ownpid", 0, &cfg, &x), 0);
	send_seq(x, 10);
	expect_seq(sub, 10, 0, 0);
	shmq_pub_close(x);
	x = NULL;
	atomic_store(&prods[0].owner.head, shmqi_owner_head(getpid(), 3, ns));
	assert_int_equal(shmq_pub_open(bus, "ownpid", SHMQ_PUB_EXCLUSIVE, &cfg, &x), 0);
	send_seq(x, 11);
	expect_seq(sub, 11, 0, 0);
	shmq_pub_close(x);
	munmap(base, size);
	shmq_sub_close(ghost);
	shmq_sub_close(sub);
	test_unlink(bus, "ownpid");
	shmq_bus_close(bus);
}

/*
 * A subscriber handle gives up only what it holds: after it was judged dead and its entry
 * went to another handle of this process, its close leaves that one gating; a forked
 * child's close of inherited handles leaves ours alone.
 */
static void test_topic_close_only_its_own(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	uint64_t start = shmqi_proc_start(getpid()), h;
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "onlyown", &cfg);
	shmq_sub *stale = open_sub(bus, "onlyown", 0, &cfg, 0), *sub;
	struct shmqi_sub_entry *subs;
	struct shmqi_topic *ctl;
	uint8_t *base;
	size_t size;
	uint64_t s;
	pid_t pid;

	(void)state;
	if (start == 0) {
		shmq_sub_close(stale);
		shmq_pub_close(pub);
		test_unlink(bus, "onlyown");
		shmq_bus_close(bus);
		skip(); /* no /proc to read start times from */
	}
	base = test_map(bus, "onlyown", &size);
	ctl = (struct shmqi_topic *)(base + SHMQI_TOPIC_BODY_OFF);
	subs = (struct shmqi_sub_entry *)(base + ctl->subs_off);
	h = atomic_load(&subs[0].owner.head);
	assert_int_equal(shmqi_head_pid(h), getpid());
	atomic_store(&subs[0].owner.start_time,
		     shmqi_owner_start_word((uint32_t)(h >> 32), start + 1)); /* looks dead */
	for (s = 1; s <= 8; s++)
		send_seq(pub, s);
	send_retry(pub, 9); /* the stale one is reaped */
	sub = open_sub(bus, "onlyown", 0, &cfg, 0); /* takes the freed entry */
	assert_int_equal(shmqi_head_pid(atomic_load(&subs[0].owner.head)), getpid());
	shmq_sub_close(stale);
	assert_int_equal(topic_stats(bus, "onlyown").subscribers, 1);
	for (s = 10; s <= 17; s++)
		send_seq(pub, s);
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN); /* it still gates */
	/* A forked child closes its copies: the subscriber still gates, the producer stays. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_sub_close(sub);
		shmq_pub_close(pub);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(topic_stats(bus, "onlyown").subscribers, 1);
	assert_int_equal(topic_stats(bus, "onlyown").producers, 1);
	assert_int_equal(shmq_pub_send(pub, NULL, 0, 0), -EAGAIN);
	for (s = 10; s <= 17; s++)
		expect_seq(sub, s, 0, 0);
	send_seq(pub, 18);
	expect_seq(sub, 18, 0, 0);
	munmap(base, size);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "onlyown");
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclusive),
		cmocka_unit_test(test_own_pid_reused),
		cmocka_unit_test(test_topic_close_only_its_own),
	};

	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("topic-excl", tests, NULL, test_cleanup);
}
