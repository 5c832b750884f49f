// SPDX-License-Identifier: MIT
/* pubsub.c - a publisher and a subscriber of one topic that park instead of spinning. */
/*
 * Start the subscriber first, then the publisher, in two shells:
 *
 *     pubsub sub            # prints "received N, lost L" once the publisher is gone
 *     pubsub pub 100000
 *
 * Both open the bus named by $SHMQ_NAMESPACE (else "default"). The topic stays in /dev/shm
 * after both exit; remove it with shmq_unlink() or rm /dev/shm/shmq.default.example.ticks.
 * Build against an installed libshmq with: cc pubsub.c $(pkg-config --cflags --libs shmq)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmq.h>

#define TOPIC "example.ticks"
#define SPIN_NS 20000 /* busy-poll 20 us before parking: the cheap path for a busy stream */

/* Both sides ask for the same configuration: whoever comes first creates the topic. */
static const struct shmq_topic_config cfg = {
	.slots = 256, /* the log keeps the last 256 records */
	.max_msg = 64,
	.policy = SHMQ_TOPIC_RELIABLE, /* the publisher waits for the slowest subscriber */
};

static int fail(const char *what, int r)
{
	const char *detail = shmq_last_detail(); /* read once: reading clears it */

	fprintf(stderr, "pubsub: %s: %s%s%s\n", what, shmq_strerror(r), detail[0] ? ": " : "",
		detail);
	return 1;
}

static int publish(shmq_bus *bus, long count)
{
	shmq_pub *pub;
	char msg[64];
	long i = 1;
	int r;

	r = shmq_pub_open(bus, TOPIC, SHMQ_OPEN_CREATE, &cfg, &pub);
	if (r < 0)
		return fail("open publisher", r);
	while (i <= count) {
		int len = snprintf(msg, sizeof(msg), "tick %ld", i);

		r = shmq_pub_send(pub, msg, (size_t)len, 0);
		if (r == 0)
			i++;
		else if (r == -EAGAIN) /* full: park until the slowest subscriber reads on */
			r = shmq_pub_wait(pub, SPIN_NS, SHMQ_WAIT_FOREVER);
		if (r < 0)
			break;
	}
	shmq_pub_close(pub); /* subscribers read what is left, then their wait gives -EPIPE */
	return r < 0 ? fail("publish", r) : 0;
}

static int subscribe(shmq_bus *bus)
{
	uint64_t received = 0, lost = 0;
	struct shmq_sub_msg m;
	char buf[64];
	shmq_sub *sub;
	int r;

	r = shmq_sub_open(bus, TOPIC, SHMQ_OPEN_CREATE | SHMQ_SUB_LATEST, &cfg, 0, &sub);
	if (r < 0)
		return fail("open subscriber", r);
	for (;;) {
		r = shmq_sub_recv(sub, buf, sizeof(buf), &m);
		if (r >= 0) { /* buf holds r bytes of record m.seq */
			received++;
			lost += m.lost + m.skipped; /* gaps before this record, if any */
			continue;
		}
		if (r != -EAGAIN)
			break; /* -EMSGSIZE, -EBADMSG: report it */
		/* Nothing new: park until a record comes (0), or the producers are gone (-EPIPE). */
		r = shmq_sub_wait(sub, SPIN_NS, SHMQ_WAIT_FOREVER);
		if (r < 0)
			break;
	}
	shmq_sub_close(sub);
	printf("received %" PRIu64 ", lost %" PRIu64 "\n", received, lost);
	return r == -EPIPE ? 0 : fail("receive", r);
}

int main(int argc, char **argv)
{
	shmq_bus *bus;
	int r;

	if (argc < 2 || (strcmp(argv[1], "pub") != 0 && strcmp(argv[1], "sub") != 0)) {
		fprintf(stderr, "usage: pubsub sub | pubsub pub [COUNT]\n");
		return 2;
	}
	r = shmq_bus_open(NULL, 0, &bus); /* $SHMQ_NAMESPACE, else "default" */
	if (r < 0)
		return fail("open bus", r);
	if (strcmp(argv[1], "sub") == 0)
		r = subscribe(bus);
	else
		r = publish(bus, argc > 2 ? atol(argv[2]) : 1000);
	shmq_bus_close(bus);
	return r;
}
