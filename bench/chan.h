/* SPDX-License-Identifier: MIT */
/* chan.h - the benchmark's private bus namespace and its uniquely named, cleaned-up channels. */
#ifndef SHMQ_BENCH_CHAN_H
#define SHMQ_BENCH_CHAN_H

#include <errno.h>
#include <stddef.h>

#include "bench.h"
#include "shmq.h"

#define CHAN_NAME_LEN 64

/* Print "shmq-bench: WHAT: <shmq_strerror(err)>" and return -1. */
int fail(const char *what, int err);

/*
 * The run's bus, namespace "bench<pid>" (opened on first use, never closed), and its name
 * (may be NULL); -1 after printing why it could not be opened. Channels and topics use it.
 */
int bench_bus(shmq_bus **ret_bus, const char **ret_ns);

/* Ring bytes of the channels created from now on; 0 for the library's default. */
void chan_set_capacity(uint64_t capacity);

/*
 * Extra open flags of every channel and topic the run creates from now on (before any
 * fork): SHMQ_OPEN_NO_TIMESTAMPS for throughput --no-timestamps, else 0.
 */
extern unsigned bench_create_flags;

/*
 * chan_create() - create a fresh channel "<prefix>.<n>" in the namespace "bench<pid>" and open
 * it with @role; the name (written to @name) is unlinked at exit unless chan_unlink() came
 * first. Released with shmq_channel_close() and chan_unlink().
 */
int chan_create(const char *prefix, unsigned role, char name[CHAN_NAME_LEN], shmq_channel **ret_ch);
/* Attach to a channel of this run (the peer's side); released with shmq_channel_close(). */
int chan_attach(const char *name, unsigned role, shmq_channel **ret_ch);
/* Remove @name if it is still there; an empty @name is ignored, and emptied. */
void chan_unlink(char name[CHAN_NAME_LEN]);

/*
 * Spin on a full or empty channel; -EPIPE when the peer is gone. One more try after the peer
 * was seen gone: what it published just before exiting is still delivered.
 */
static inline int chan_send(shmq_channel *ch, const void *p, size_t len, struct spin *s)
{
	bool gone = false;
	int e;

	while ((e = shmq_channel_send(ch, p, len)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(s);
	}
	return e;
}

static inline int chan_recv(shmq_channel *ch, void *buf, size_t cap, struct spin *s)
{
	bool gone = false;
	int n;

	while ((n = shmq_channel_recv(ch, buf, cap, NULL)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(s);
	}
	return n;
}

static inline int chan_peek(shmq_channel *ch, const void **data, struct spin *s)
{
	bool gone = false;
	int n;

	while ((n = shmq_channel_peek(ch, data, NULL)) == -EAGAIN) {
		if (gone)
			return -EPIPE;
		gone = spin_check(s);
	}
	return n;
}

/*
 * How long one parked wait lasts before the waiter asks whether its peer is still there: a
 * crashed producer never closes its channel, so nothing else would end the wait.
 */
#define CHAN_PARK_SLICE_NS 1000000000ull

/*
 * Wait in shmq_channel_wait() (spin @spin_ns, then park) until @ch has a message: 0, then a
 * receive finds it; -EPIPE when the peer is gone (after one more look) or closed its end.
 */
static inline int chan_park(shmq_channel *ch, uint64_t spin_ns, struct spin *s)
{
	int e;

	while ((e = shmq_channel_wait(ch, spin_ns, CHAN_PARK_SLICE_NS)) == -ETIMEDOUT) {
		if (spin_peer_gone(s))
			return shmq_channel_wait(ch, 0, 0) == 0 ? 0 : -EPIPE;
	}
	return e;
}

#endif /* SHMQ_BENCH_CHAN_H */
