// SPDX-License-Identifier: MIT
/* make_objects.c - leaves a channel, a topic and a consumer group in a namespace, for test_cli. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmq.h"

/*
 * make_objects NS [RECORDS [--hold]]: the channel "chan" (4 KiB; three messages sent, one
 * received, no role held), the topic "top" and its group "top@work"; then RECORDS records
 * (default 0) published to "top", all owed to the group. With --hold, a subscriber of "top"
 * from its earliest record receives two of them, "ready" is printed, and the process stays
 * (a live subscriber for test_metrics) until it is killed. Exits 0, or 1 saying what failed.
 */
static int fail(const char *what, int r)
{
	fprintf(stderr, "make_objects: %s: %s\n", what, shmq_strerror(r));
	return 1;
}

/* A subscriber from the earliest record that receives two, then waits to be killed. */
static int hold(shmq_bus *bus)
{
	shmq_sub *sub;
	char buf[16];
	int r = shmq_sub_open(bus, "top", SHMQ_SUB_EARLIEST | SHMQ_SUB_LATENCY, NULL, 0, &sub);

	if (r < 0)
		return fail("subscribe", r);
	for (int i = 0; i < 2; i++)
		if ((r = shmq_sub_recv(sub, buf, sizeof(buf), NULL)) < 0)
			return fail("receive", r);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	struct shmq_channel_config cc = { .capacity = 4096 };
	shmq_channel *tx, *rx;
	shmq_group *g;
	shmq_bus *bus;
	shmq_pub *pub;
	char buf[16];
	int r;

	if (argc < 2 || argc > 4 || (argc == 4 && strcmp(argv[3], "--hold"))) {
		fprintf(stderr, "usage: make_objects NS [RECORDS [--hold]]\n");
		return 2;
	}
	r = shmq_bus_open(argv[1], 0, &bus);
	if (r < 0)
		return fail("bus", r);
	r = shmq_channel_open(bus, "chan", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cc, &tx);
	if (r < 0)
		return fail("channel", r);
	r = shmq_channel_open(bus, "chan", SHMQ_OPEN_CONSUMER, NULL, &rx);
	if (r < 0)
		return fail("consumer", r);
	for (int i = 0; i < 3; i++)
		if ((r = shmq_channel_send(tx, "hello", 5)) < 0)
			return fail("send", r);
	if ((r = shmq_channel_recv(rx, buf, sizeof(buf), NULL)) < 0)
		return fail("recv", r);
	shmq_channel_close(rx);
	shmq_channel_close(tx);
	if ((r = shmq_pub_open(bus, "top", SHMQ_OPEN_CREATE, NULL, &pub)) < 0)
		return fail("topic", r);
	if ((r = shmq_group_open(bus, "top", "work", SHMQ_OPEN_CREATE, NULL, &g)) < 0)
		return fail("group", r);
	shmq_group_close(g);
	for (long i = 0; argc > 2 && i < atol(argv[2]); i++)
		if ((r = shmq_pub_send(pub, "record", 6, 0)) < 0)
			return fail("publish", r);
	shmq_pub_close(pub);
	if (argc == 4)
		return hold(bus);
	shmq_bus_close(bus);
	return 0;
}
