// SPDX-License-Identifier: MIT
/* worker.c - a work queue: a producer of jobs, and competing workers that ack each one. */
/*
 * In three shells (or in any order: the producer creates a durable group, which keeps
 * every job until a worker acks it):
 *
 *     worker produce 100000   # publishes jobs 1..100000, then exits
 *     worker work             # processes jobs until none is left and the producer is gone
 *     worker work
 *
 * A job whose number ends in 7 fails its first attempt (nack: it comes back after the
 * group's backoff); job 13 always fails and, after max_deliveries attempts, lands in the
 * dead-letter topic "example.jobs.dlq". Each worker prints what it did. The segments stay in
 * /dev/shm: rm /dev/shm/shmq.default.example.jobs*
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmq.h>

#define TOPIC "example.jobs"
#define GROUP "workers"
#define SPIN_NS 20000

static const struct shmq_topic_config tcfg = { .slots = 1024, .max_msg = 64 };
static const struct shmq_group_config gcfg = {
	.ack_wait_ns = 5000000000ull, /* a job not settled within 5 s goes to another worker */
	.max_deliveries = 3, /* the third failure dead-letters it */
	.backoff_ns = 10000000, /* 10 ms, 20 ms, ... before a failed job comes back */
};

static int fail(const char *what, int r)
{
	const char *detail = shmq_last_detail();

	fprintf(stderr, "worker: %s: %s%s%s\n", what, shmq_strerror(r), detail[0] ? ": " : "",
		detail);
	return 1;
}

static int produce(shmq_bus *bus, long count)
{
	shmq_group *g;
	shmq_pub *pub;
	long job = 1;
	int r;

	r = shmq_pub_open(bus, TOPIC, SHMQ_OPEN_CREATE, &tcfg, &pub);
	if (r < 0)
		return fail("open producer", r);
	/* The group first, from the oldest record: no job is lost to a late worker. */
	r = shmq_group_open(bus, TOPIC, GROUP, SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, &gcfg, &g);
	if (r < 0)
		return fail("create group", r);
	shmq_group_close(g); /* durable: it stays, and holds the producer back when full */
	while (job <= count && r >= 0) {
		r = shmq_pub_send(pub, &job, sizeof(job), 0);
		if (r == 0)
			job++;
		else if (r == -EAGAIN) /* the group owes a full log: wait for its acks */
			r = shmq_pub_wait(pub, SPIN_NS, SHMQ_WAIT_FOREVER);
	}
	shmq_pub_close(pub);
	return r < 0 ? fail("publish", r) : 0;
}

/* Process one job: 0 done, -1 failed. */
static int process(long job, uint32_t attempt)
{
	if (job == 13)
		return -1; /* poison */
	if (job % 10 == 7 && attempt == 1)
		return -1; /* a passing failure */
	return 0;
}

static int work(shmq_bus *bus)
{
	uint64_t done = 0, failed = 0;
	struct shmq_group_msg m;
	shmq_group *g;
	long job;
	int r;

	r = shmq_group_open(bus, TOPIC, GROUP, 0, NULL, &g);
	if (r < 0)
		return fail("join group (start the producer first)", r);
	for (;;) {
		r = shmq_group_recv(g, &job, sizeof(job), &m);
		if (r == (int)sizeof(job)) {
			if (process(job, m.attempt) == 0) {
				r = shmq_group_ack(g, m.lease);
				done += r == 0;
			} else {
				r = shmq_group_nack(g, m.lease, SHMQ_GROUP_BACKOFF);
				failed++;
			}
			if (r < 0 && r != -ESTALE) /* -ESTALE: it expired and went to another */
				break;
			continue;
		}
		if (r >= 0 || r != -EAGAIN)
			break; /* a record that is no job, or an error */
		/* Nothing due: park until a job comes, or -EPIPE: no producer and nothing owed. */
		r = shmq_group_wait(g, SPIN_NS, SHMQ_WAIT_FOREVER);
		if (r < 0)
			break;
	}
	shmq_group_close(g);
	printf("done %" PRIu64 ", failed %" PRIu64 "\n", done, failed);
	return r == -EPIPE ? 0 : fail("work", r < 0 ? r : -EBADMSG);
}

int main(int argc, char **argv)
{
	shmq_bus *bus;
	int r;

	if (argc < 2 || (strcmp(argv[1], "produce") != 0 && strcmp(argv[1], "work") != 0)) {
		fprintf(stderr, "usage: worker produce [COUNT] | worker work\n");
		return 2;
	}
	r = shmq_bus_open(NULL, 0, &bus);
	if (r < 0)
		return fail("open bus", r);
	if (strcmp(argv[1], "work") == 0)
		r = work(bus);
	else
		r = produce(bus, argc > 2 ? atol(argv[2]) : 1000);
	shmq_bus_close(bus);
	return r;
}
