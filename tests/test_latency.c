// SPDX-License-Identifier: MIT
/* test_latency.c - live latency histograms of subscribers and group members, read by others. */
#include "common.h"

#define N_RECS 20
#define WAIT_NS 2000000ull /* every record waits at least this long before its receive */

static void nap_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static shmq_pub *open_pub(shmq_bus *bus, const char *name)
{
	struct shmq_topic_config cfg = { .slots = 64, .max_msg = 64, .max_subscribers = 4 };
	shmq_pub *pub = NULL;

	assert_int_equal(shmq_pub_open(bus, name, SHMQ_OPEN_CREATE, &cfg, &pub), 0);
	return pub;
}

static void publish(shmq_pub *pub, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(shmq_pub_send(pub, "x", 1, 0), 0);
}

/* In a child: read the histogram of @topic (@group) and check its count; exit status. */
static void child_reads(shmq_bus *bus, const char *topic, const char *group, unsigned which,
			uint64_t want)
{
	shmq_hist *h = NULL;
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		int r = shmq_latency_read(bus, topic, group, SHMQ_LATENCY_ALL, which, NULL, &h);

		_exit(r == 0 && shmq_hist_total(h) == want ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_subscriber(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "lat");
	shmq_sub *sub, *plain;
	shmq_hist *h = NULL;
	char buf[64];
	pid_t pid = 0;
	int i, entry = -1, n;

	(void)state;
	assert_int_equal(shmq_sub_open(bus, "lat", 0, NULL, 0, &plain), 0);
	assert_int_equal(shmq_latency_entries(bus, "lat", NULL), -ENOENT);
	assert_int_equal(shmq_sub_open(bus, "lat", SHMQ_SUB_LATENCY, NULL, 0, &sub), 0);
	n = shmq_latency_entries(bus, "lat", NULL);
	assert_int_equal(n, 4);
	publish(pub, N_RECS);
	nap_ns(WAIT_NS);
	for (i = 0; i < N_RECS; i++)
		assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), NULL), 1);
	for (i = 0; i < n; i++)
		if (shmq_latency_read(bus, "lat", NULL, (uint32_t)i, SHMQ_LATENCY_DELIVERY, &pid,
				      &h) == 0)
			break;
	assert_true(i < n);
	entry = i;
	assert_int_equal(pid, getpid());
	assert_int_equal(shmq_hist_total(h), N_RECS);
	assert_true(shmq_hist_value_at_percentile(h, 50) >= (int64_t)WAIT_NS);
	assert_true(shmq_hist_max(h) < INT64_C(10000000000));
	shmq_hist_free(h);
	/* a subscriber has no processing histogram; the plain one has no slot */
	assert_int_equal(shmq_latency_read(bus, "lat", NULL, SHMQ_LATENCY_ALL,
					   SHMQ_LATENCY_PROCESSING, NULL, &h),
			 -ENOENT);
	assert_int_equal(
		shmq_latency_read(bus, "lat", NULL, (uint32_t)n, SHMQ_LATENCY_DELIVERY, NULL, &h),
		-ENOENT);
	child_reads(bus, "lat", NULL, SHMQ_LATENCY_DELIVERY, N_RECS);
	/* once closed, the slot is empty */
	shmq_sub_close(sub);
	assert_int_equal(shmq_latency_read(bus, "lat", NULL, (uint32_t)entry, SHMQ_LATENCY_DELIVERY,
					   NULL, &h),
			 -ENOENT);
	shmq_sub_close(plain);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_group_member(void **state)
{
	struct shmq_group_config cfg = { .max_members = 2 };
	struct shmq_group_msg info;
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "glat");
	shmq_group *g;
	shmq_hist *h = NULL;
	char buf[64];
	int i;

	(void)state;
	assert_int_equal(
		shmq_group_open(bus, "glat", "w", SHMQ_OPEN_CREATE | SHMQ_SUB_LATENCY, &cfg, &g),
		0);
	publish(pub, N_RECS);
	nap_ns(WAIT_NS);
	for (i = 0; i < N_RECS; i++) {
		assert_int_equal(shmq_group_recv(g, buf, sizeof(buf), &info), 1);
		nap_ns(WAIT_NS / 2);
		assert_int_equal(shmq_group_ack(g, info.lease), 0);
	}
	assert_int_equal(shmq_latency_entries(bus, "glat", "w"), 2);
	assert_int_equal(shmq_latency_read(bus, "glat", "w", SHMQ_LATENCY_ALL,
					   SHMQ_LATENCY_DELIVERY, NULL, &h),
			 0);
	assert_int_equal(shmq_hist_total(h), N_RECS);
	assert_true(shmq_hist_value_at_percentile(h, 0) >= (int64_t)WAIT_NS / 2);
	assert_true(shmq_hist_value_at_percentile(h, 50) >= (int64_t)WAIT_NS);
	shmq_hist_free(h);
	assert_int_equal(shmq_latency_read(bus, "glat", "w", SHMQ_LATENCY_ALL,
					   SHMQ_LATENCY_PROCESSING, NULL, &h),
			 0);
	assert_int_equal(shmq_hist_total(h), N_RECS);
	assert_true(shmq_hist_value_at_percentile(h, 0) >= (int64_t)WAIT_NS / 2 - 20000);
	shmq_hist_free(h);
	child_reads(bus, "glat", "w", SHMQ_LATENCY_PROCESSING, N_RECS);
	shmq_group_close(g);
	/* deleting the group removes its latency segment */
	assert_int_equal(shmq_group_delete(bus, "glat", "w", 0), 0);
	assert_int_equal(shmq_latency_entries(bus, "glat", "w"), -ENOENT);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* A recorder in another process, read while it lives; once it died, its slot reads empty. */
static void test_other_process(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "xp");
	int up[2], down[2], st;
	shmq_hist *h = NULL;
	char c = 0, buf[8];
	pid_t pid, rec;

	(void)state;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_sub *sub;
		int n = 0;

		if (shmq_sub_open(bus, "xp", SHMQ_SUB_LATENCY, NULL, 0, &sub) < 0)
			_exit(1);
		if (write(up[1], "s", 1) != 1) /* subscribed */
			_exit(1);
		while (n < N_RECS) {
			int r = shmq_sub_recv(sub, buf, sizeof(buf), NULL);

			if (r == -EAGAIN && shmq_sub_wait(sub, 0, UINT64_MAX) >= 0)
				continue;
			if (r < 0)
				_exit(1);
			n++;
		}
		if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1) /* received; wait */
			_exit(1);
		_exit(0); /* dies without closing */
	}
	assert_int_equal(read(up[0], &c, 1), 1);
	publish(pub, N_RECS);
	assert_int_equal(read(up[0], &c, 1), 1);
	assert_int_equal(shmq_latency_read(bus, "xp", NULL, SHMQ_LATENCY_ALL, SHMQ_LATENCY_DELIVERY,
					   &rec, &h),
			 0);
	assert_int_equal(rec, 0); /* merged: no one pid */
	assert_int_equal(shmq_hist_total(h), N_RECS);
	assert_true(shmq_hist_max(h) < INT64_C(10000000000));
	shmq_hist_free(h);
	assert_int_equal(write(down[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(shmq_latency_read(bus, "xp", NULL, SHMQ_LATENCY_ALL, SHMQ_LATENCY_DELIVERY,
					   NULL, &h),
			 -ENOENT);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* The side segment is not an object of its own, and goes with its topic. */
static void test_listing_and_unlink(void **state)
{
	struct shmq_object_info objs[16];
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "ul");
	shmq_sub *sub;
	int i, n;

	(void)state;
	assert_int_equal(shmq_sub_open(bus, "ul", SHMQ_SUB_LATENCY, NULL, 0, &sub), 0);
	n = shmq_bus_list(bus, objs, 16);
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		assert_null(strchr(objs[i].name, '~'));
		assert_int_equal(objs[i].error, 0);
	}
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	assert_int_equal(shmq_latency_entries(bus, "ul", NULL), 4);
	assert_int_equal(shmq_unlink(bus, "ul"), 0);
	assert_int_equal(shmq_latency_entries(bus, "ul", NULL), -ENOENT);
	/* a side segment left by a topic whose file alone was removed is replaced */
	pub = open_pub(bus, "ul");
	assert_int_equal(shmq_sub_open(bus, "ul", SHMQ_SUB_LATENCY, NULL, 0, &sub), 0);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	{
		struct shmq_topic_config big = { .slots = 64, .max_msg = 64, .max_subscribers = 8 };
		char path[300];

		snprintf(path, sizeof(path), "/shmq.%s.ul", shmq_bus_namespace(bus));
		assert_int_equal(shm_unlink(path), 0);
		assert_int_equal(shmq_pub_open(bus, "ul", SHMQ_OPEN_CREATE, &big, &pub), 0);
	}
	assert_int_equal(shmq_sub_open(bus, "ul", SHMQ_SUB_LATENCY, NULL, 0, &sub), 0);
	assert_int_equal(shmq_latency_entries(bus, "ul", NULL), 8);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	assert_int_equal(shmq_unlink(bus, "ul"), 0);
	/* bad arguments */
	assert_int_equal(shmq_latency_entries(NULL, "ul", NULL), -EINVAL);
	assert_int_equal(shmq_latency_entries(bus, "u~l", NULL), -EINVAL);
	assert_int_equal(shmq_latency_read(bus, "ul", NULL, 0, 2, NULL, &(shmq_hist *){ NULL }),
			 -EINVAL);
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subscriber),
		cmocka_unit_test(test_group_member),
		cmocka_unit_test(test_other_process),
		cmocka_unit_test(test_listing_and_unlink),
	};

	return cmocka_run_group_tests(tests, NULL, test_cleanup);
}
