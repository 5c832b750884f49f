// SPDX-License-Identifier: MIT
/*
 * test_topic_bias.c - topics: the lone producer's bias (B1 in topic_pub.c). A topic's only
 * producer claims with a plain store of the tail; a second producer revokes that and waits
 * for the first one's claim in flight. A producer stopped between its check of the bias
 * and its store of the tail (the test hook's phase 2) is the case that decides: a second
 * producer that claimed meanwhile would take the same sequence, and a record would be lost.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "internal.h"
#include "shm_layout.h"
#include "topic_common.h"

#define STREAM 2000u /* records of each producer in the stop tests */

/* A record of producer @who (1, 2, ...) with its own number @n: payload "who n n n ...". */
static int send_rec(shmq_pub *pub, uint32_t who, uint64_t n)
{
	uint64_t buf[4] = { who, n, n * 3, n * 7 };
	int r;

	while ((r = shmq_pub_send(pub, buf, sizeof(buf), who)) == -EAGAIN)
		usleep(50);
	return r;
}

/* What a reader saw: each producer's count, and the topic sequence it expects next. */
struct reader {
	uint64_t next_seq;
	uint64_t count[3];
};

/*
 * Read @n records: every one of producer 1 or 2 in its order, its payload intact, each
 * topic sequence once and none missing.
 */
static void read_n(shmq_sub *sub, struct reader *rd, uint64_t n)
{
	uint64_t buf[8], deadline = test_now_ns() + 30000000000ull;
	struct shmq_sub_msg info;
	int r;

	for (uint64_t got = 0; got < n;) {
		r = shmq_sub_recv(sub, buf, sizeof(buf), &info);
		if (r == -EAGAIN) {
			assert_true(test_now_ns() < deadline);
			usleep(50);
			continue;
		}
		assert_int_equal(r, (int)(4 * sizeof(uint64_t)));
		assert_int_equal(info.lost, 0);
		assert_int_equal(info.skipped, 0);
		if (rd->next_seq)
			assert_int_equal(info.seq, rd->next_seq);
		rd->next_seq = info.seq + 1;
		assert_true(info.corr_id == 1 || info.corr_id == 2);
		assert_int_equal(buf[0], info.corr_id);
		/* each producer's records in its order, none missing, none twice */
		assert_int_equal(buf[1], ++rd->count[info.corr_id]);
		assert_int_equal(buf[2], buf[1] * 3);
		assert_int_equal(buf[3], buf[1] * 7);
		got++;
	}
}

/* ---- alone, then not, then alone again ---- */

static void test_bias_taken_revoked_retaken(void **state)
{
	struct shmq_topic_config cfg = cfg_of(1024, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_sub *sub = open_sub(bus, "bias", 0, &cfg, 0);
	shmq_pub *a = open_pub(bus, "bias", &cfg), *b;
	struct reader rd = { 0 };

	(void)state;
	assert_true(shmqi_pub_biased(a));
	assert_int_equal(send_rec(a, 1, 1), 0);
	b = open_pub(bus, "bias", &cfg); /* revokes a's bias */
	assert_false(shmqi_pub_biased(b));
	assert_int_equal(send_rec(a, 1, 2), 0); /* a learns of it at this claim */
	assert_false(shmqi_pub_biased(a));
	for (uint64_t n = 1; n <= 100; n++) {
		assert_int_equal(send_rec(b, 2, n), 0);
		assert_int_equal(send_rec(a, 1, n + 2), 0);
	}
	read_n(sub, &rd, 202);
	assert_int_equal(rd.count[1], 102);
	assert_int_equal(rd.count[2], 100);
	shmq_pub_close(b);
	/* Alone again: a takes the bias back within BIAS_RETRY (65536) claims. */
	for (uint64_t n = 103; n <= 103 + 70000 && !shmqi_pub_biased(a); n++) {
		assert_int_equal(send_rec(a, 1, n), 0);
		read_n(sub, &rd, 1);
	}
	assert_true(shmqi_pub_biased(a));
	shmq_pub_close(a);
	/* An exclusive producer never holds the bias; and one opened alone after it does. */
	assert_int_equal(shmq_pub_open(bus, "bias", SHMQ_PUB_EXCLUSIVE, &cfg, &a), 0);
	assert_false(shmqi_pub_biased(a));
	shmq_pub_close(a);
	a = open_pub(bus, "bias", &cfg);
	assert_true(shmqi_pub_biased(a));
	shmq_pub_close(a);
	shmq_sub_close(sub);
	test_unlink(bus, "bias");
	shmq_bus_close(bus);
}

/* ---- a holder stopped between its check and its tail store ---- */

static void stop_in_phase2(int phase, uint64_t seq)
{
	(void)seq;
	if (phase == 2) {
		shmqi_topic_test_hook = NULL; /* once */
		raise(SIGSTOP);
	}
}

/* A child: producer 1, biased, sends STREAM records; stopped in the claim of its 11th. */
static pid_t spawn_holder(const struct shmq_topic_config *cfg)
{
	pid_t top = getpid(), pid = fork();
	shmq_pub *pub = NULL;
	shmq_bus *bus;

	assert_true(pid >= 0);
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(60);
	bus = test_bus_of(top);
	CHILD_CHECK(shmq_pub_open(bus, "bias-stop", 0, cfg, &pub) == 0);
	CHILD_CHECK(shmqi_pub_biased(pub));
	for (uint64_t n = 1; n <= STREAM; n++) {
		if (n == 11)
			shmqi_topic_test_hook = stop_in_phase2;
		CHILD_CHECK(send_rec(pub, 1, n) == 0);
	}
	shmq_pub_close(pub);
	_exit(0);
}

static void wait_stopped(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
	assert_true(WIFSTOPPED(st));
}

struct opener {
	shmq_bus *bus;
	const struct shmq_topic_config *cfg;
	shmq_pub *pub;
	_Atomic int rc; /* 1 while the open is under way */
};

static void *open_thread(void *arg)
{
	struct opener *o = arg;

	atomic_store(&o->rc, shmq_pub_open(o->bus, "bias-stop", 0, o->cfg, &o->pub));
	return NULL;
}

static void test_bias_holder_stopped(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8192, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_sub *sub = open_sub(bus, "bias-stop", 0, &cfg, 0);
	struct opener o = { .bus = bus, .cfg = &cfg, .rc = 1 };
	shmq_pub *c = NULL;
	struct reader rd = { 0 };
	uint64_t t0;
	pthread_t th;
	pid_t pid;

	(void)state;
	pid = spawn_holder(&cfg);
	wait_stopped(pid);
	/* The second producer's open waits for the claim in flight... */
	assert_int_equal(pthread_create(&th, NULL, open_thread, &o), 0);
	usleep(200000);
	assert_int_equal(atomic_load(&o.rc), 1);
	/* ... and goes on once it is done. */
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(atomic_load(&o.rc), 0);
	for (uint64_t n = 1; n <= STREAM; n++)
		assert_int_equal(send_rec(o.pub, 2, n), 0);
	assert_int_equal(test_wait(pid), 0);
	read_n(sub, &rd, 2 * STREAM);
	assert_int_equal(rd.count[1], STREAM);
	assert_int_equal(rd.count[2], STREAM);
	expect_empty(sub);
	shmq_pub_close(o.pub);

	/* A holder that stays stopped there: the open gives up (the claim timeout, then 1 s). */
	cfg.claim_timeout_ns = 1000000;
	pid = spawn_holder(&cfg);
	wait_stopped(pid);
	t0 = test_now_ns();
	assert_int_equal(shmq_pub_open(bus, "bias-stop", 0, &cfg, &c), -EBUSY);
	assert_null(c);
	assert_true(test_now_ns() - t0 >= 1000000000ull);
	assert_non_null(strstr(shmq_last_detail(), "stayed in a claim"));
	/* Killed there: nothing to wait for. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	c = open_pub(bus, "bias-stop", &cfg);
	for (uint64_t n = 1; n <= 10; n++)
		assert_int_equal(send_rec(c, 2, n), 0);
	shmq_pub_close(c);
	shmq_sub_close(sub);
	test_unlink(bus, "bias-stop");
	shmq_bus_close(bus);
}

/* ---- a zero-copy claim held by the very thread that opens a second producer ---- */

static void test_bias_zero_copy_claim_held(void **state)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_sub *sub = open_sub(bus, "bias-zc", 0, &cfg, 0);
	shmq_pub *a = open_pub(bus, "bias-zc", &cfg), *b;
	struct reader rd = { 0 };
	uint64_t *p, t0;

	(void)state;
	assert_true(shmqi_pub_biased(a));
	assert_int_equal(shmq_pub_claim(a, 4 * sizeof(uint64_t), (void **)&p), 0);
	t0 = test_now_ns();
	b = open_pub(bus, "bias-zc", &cfg); /* its tail is stored: no wait for the commit */
	assert_true(test_now_ns() - t0 < 1000000000ull);
	p[0] = 1, p[1] = 1, p[2] = 3, p[3] = 7;
	assert_int_equal(shmq_pub_commit(a, 4 * sizeof(uint64_t), 1), 0);
	assert_int_equal(send_rec(b, 2, 1), 0);
	assert_int_equal(send_rec(a, 1, 2), 0);
	read_n(sub, &rd, 3);
	assert_int_equal(rd.count[1], 2);
	assert_int_equal(rd.count[2], 1);
	shmq_pub_close(a);
	shmq_pub_close(b);
	shmq_sub_close(sub);
	test_unlink(bus, "bias-zc");
	shmq_bus_close(bus);
}

/* ---- a streaming holder while other producers come and go ---- */

#define CHURN_RECS 300000u
#define CHURN_OPENS 12u

static void test_bias_churn(void **state)
{
	struct shmq_topic_config cfg = cfg_of(65536, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_sub *sub = open_sub(bus, "bias-churn", 0, &cfg, 0);
	pid_t top = getpid(), pid;
	struct reader rd = { 0 };
	uint64_t sent2 = 0;
	shmq_pub *b;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_pub *pub = NULL;
		shmq_bus *cb;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(120);
		cb = test_bus_of(top);
		CHILD_CHECK(shmq_pub_open(cb, "bias-churn", 0, &cfg, &pub) == 0);
		for (uint64_t n = 1; n <= CHURN_RECS; n++)
			CHILD_CHECK(send_rec(pub, 1, n) == 0);
		shmq_pub_close(pub);
		_exit(0);
	}
	/* The reader keeps up with its own pace; each second producer opens (a revocation when
	 * the streamer took the bias back since), sends a few, closes. */
	for (uint64_t got = 0; got < CHURN_RECS + sent2;) {
		if (sent2 < CHURN_OPENS * 50 && got >= (sent2 / 50 + 1) * (CHURN_RECS / 16)) {
			b = open_pub(bus, "bias-churn", &cfg);
			for (uint64_t n = 1; n <= 50; n++) {
				uint64_t m = ++sent2, rec[4] = { 2, m, m * 3, m * 7 };
				int r;

				/* the log may be full: this thread is also its reader */
				while ((r = shmq_pub_send(b, rec, sizeof(rec), 2)) == -EAGAIN) {
					read_n(sub, &rd, 1);
					got++;
				}
				assert_int_equal(r, 0);
			}
			shmq_pub_close(b);
		}
		read_n(sub, &rd, 1);
		got++;
	}
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(rd.count[1], CHURN_RECS);
	assert_int_equal(rd.count[2], sent2);
	assert_int_equal(sent2, CHURN_OPENS * 50);
	shmq_sub_close(sub);
	test_unlink(bus, "bias-churn");
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bias_taken_revoked_retaken),
		cmocka_unit_test(test_bias_holder_stopped),
		cmocka_unit_test(test_bias_zero_copy_claim_held),
		cmocka_unit_test(test_bias_churn),
	};

	return cmocka_run_group_tests(tests, NULL, test_cleanup);
}
