// SPDX-License-Identifier: MIT
/* idle.c - shmq-bench idle: the CPU a consumer and a subscriber use while parked on nothing. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "topic.h"

/*
 * A forked waiter opens the consumer end of an empty channel (or subscribes to an empty
 * topic), says so, and parks at once with no timeout. The parent sleeps, then publishes one
 * message; the waiter receives it and exits. Its own getrusage() before and after the wait
 * gives the CPU time it used while parked (the first park's membarrier included).
 */

#define IDLE_TARGET_PCT 1.0

/* Written by the waiter; the parent reads the results after reaping it. */
struct idle_shm {
	_Atomic uint32_t attached; /* the waiter's handle is open: the parent may start */
	uint64_t parked_ns; /* the wait, wall clock */
	uint64_t cpu_ns; /* user + system time of the waiter over the wait */
	uint64_t wake_ns; /* from the message's publish time to the wait's return */
};

struct idle_run {
	struct idle_shm *shm;
	char name[CHAN_NAME_LEN];
	shmq_channel *tx;
	struct shmq_topic_config tcfg;
	shmq_pub *pub;
};

/* A waiter's kind: how the parent sets up and publishes, and the waiter's body. */
struct idle_kind {
	const char *name;
	const char *role;
	int (*setup)(struct idle_run *r);
	int (*waiter)(void *r);
	int (*send)(struct idle_run *r);
	void (*teardown)(struct idle_run *r);
};

struct idle_opts {
	uint64_t seconds;
	struct cpu_pair cpus;
	bool cpus_given;
	bool json;
};

/* ---- the waiter's clock ---- */

struct idle_clock {
	uint64_t t0, cpu0;
};

static uint64_t cpu_self_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* Tell the parent the handle is open, and start the clocks. */
static void idle_begin(struct idle_shm *shm, struct idle_clock *c)
{
	/* R: pairs with the acquire load in attached_wait(). */
	atomic_store_explicit(&shm->attached, 1, memory_order_release);
	c->cpu0 = cpu_self_ns();
	c->t0 = now_ns();
}

/* After the wait: the results, and when it returned. */
static uint64_t idle_end(struct idle_shm *shm, const struct idle_clock *c)
{
	uint64_t t1 = now_ns();

	shm->cpu_ns = cpu_self_ns() - c->cpu0;
	shm->parked_ns = t1 - c->t0;
	return t1;
}

/* ---- shmq-spsc: a consumer in shmq_channel_wait() ---- */

static int chan_setup(struct idle_run *r)
{
	return chan_create("idle", SHMQ_OPEN_PRODUCER, r->name, &r->tx);
}

static int chan_waiter(void *arg)
{
	struct idle_run *r = arg;
	struct shmq_msg_info info;
	struct idle_clock c;
	shmq_channel *rx = NULL;
	uint64_t t1;
	uint8_t buf[64];
	int e;

	/* The parent's handle came with fork(); it is the parent's, never closed here. */
	if (chan_attach(r->name, SHMQ_OPEN_CONSUMER, &rx) < 0)
		return -1;
	idle_begin(r->shm, &c);
	e = shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER);
	t1 = idle_end(r->shm, &c);
	if (e < 0)
		e = fail("idle consumer: wait", e);
	else if ((e = shmq_channel_recv(rx, buf, sizeof(buf), &info)) < 0)
		e = fail("idle consumer: recv", e);
	else
		r->shm->wake_ns = t1 - info.ts_ns;
	shmq_channel_close(rx);
	return e < 0 ? -1 : 0;
}

static int chan_send1(struct idle_run *r)
{
	int e = shmq_channel_send(r->tx, "wake", 4);

	return e < 0 ? fail("idle: send", e) : 0;
}

static void chan_teardown(struct idle_run *r)
{
	shmq_channel_close(r->tx);
	r->tx = NULL;
	chan_unlink(r->name);
}

/* ---- shmq-topic: a subscriber in shmq_sub_wait() ---- */

static int topic_setup(struct idle_run *r)
{
	topic_config(&r->tcfg, 64);
	return topic_create("idle", &r->tcfg, 0, r->name, &r->pub, NULL);
}

static int topic_waiter(void *arg)
{
	struct idle_run *r = arg;
	struct shmq_sub_msg info;
	struct idle_clock c;
	shmq_sub *sub = NULL;
	uint64_t t1;
	uint8_t buf[64];
	int e;

	/* Subscribed before it says so: the parent's one record cannot be missed. */
	if (topic_attach(r->name, &r->tcfg, 0, NULL, &sub) < 0)
		return -1;
	idle_begin(r->shm, &c);
	e = shmq_sub_wait(sub, 0, SHMQ_WAIT_FOREVER);
	t1 = idle_end(r->shm, &c);
	if (e < 0)
		e = fail("idle subscriber: wait", e);
	else if ((e = shmq_sub_recv(sub, buf, sizeof(buf), &info)) < 0)
		e = fail("idle subscriber: recv", e);
	else
		r->shm->wake_ns = t1 - info.ts_ns;
	shmq_sub_close(sub);
	return e < 0 ? -1 : 0;
}

static int topic_send1(struct idle_run *r)
{
	int e = shmq_pub_send(r->pub, "wake", 4, 0);

	return e < 0 ? fail("idle: publish", e) : 0;
}

static void topic_teardown(struct idle_run *r)
{
	shmq_pub_close(r->pub);
	r->pub = NULL;
	topic_unlink(r->name);
}

static const struct idle_kind idle_kinds[] = {
	{ "shmq-spsc", "consumer", chan_setup, chan_waiter, chan_send1, chan_teardown },
	{ "shmq-topic", "subscriber", topic_setup, topic_waiter, topic_send1, topic_teardown },
};

#define IDLE_NKINDS (sizeof(idle_kinds) / sizeof(idle_kinds[0]))

/* ---- the parent ---- */

/* Until the waiter has its handle open: polled every millisecond, not timed. */
static int attached_wait(struct idle_run *r, struct peer *kid)
{
	struct spin s = { .child = kid, .nchild = 1 };
	const struct timespec ms = { 0, 1000000 };

	/* A: pairs with the release store in idle_begin(). */
	while (!atomic_load_explicit(&r->shm->attached, memory_order_acquire)) {
		if (spin_peer_gone(&s))
			return fail("idle: the waiter", -EPIPE);
		nanosleep(&ms, NULL);
	}
	return 0;
}

static void sleep_s(uint64_t seconds)
{
	struct timespec at;

	clock_gettime(CLOCK_MONOTONIC, &at);
	at.tv_sec += (time_t)seconds;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
		;
}

/* One waiter: park it, sleep, wake it, reap it; its results land in @ret. */
static int idle_one(const struct idle_kind *k, const struct idle_opts *o, struct idle_shm *ret)
{
	struct idle_run r = { 0 };
	struct peer kid = { 0 };
	int e;

	r.shm = shared_alloc(sizeof(*r.shm));
	if (!r.shm)
		return fail("idle: mmap", -ENOMEM);
	e = k->setup(&r);
	if (e == 0 && (e = peer_start(&kid, cpu_of(&o->cpus, 1), k->waiter, &r)) < 0)
		e = fail("fork", e);
	if (e == 0 && (e = attached_wait(&r, &kid)) == 0) {
		sleep_s(o->seconds);
		e = k->send(&r);
	}
	if (e == 0)
		e = peer_wait(&kid);
	if (e < 0)
		peer_kill(&kid);
	/* The waiter was reaped: what it wrote is all there. */
	memcpy(ret, r.shm, sizeof(*ret));
	k->teardown(&r);
	shared_free(r.shm, sizeof(*r.shm));
	return e < 0 ? -1 : 0;
}

static void idle_print(const struct idle_kind *k, const struct idle_opts *o,
		       const struct idle_shm *m)
{
	double pct = m->parked_ns ? 100.0 * (double)m->cpu_ns / (double)m->parked_ns : 0;
	const char *verdict = pct < IDLE_TARGET_PCT ? "PASS" : "MISS";

	if (o->json) {
		printf("{\"bench\":\"idle\",\"transport\":\"%s\",\"role\":\"%s\",\"backend\":\"%"
		       "s\","
		       "\"seconds\":%llu,\"parked_ns\":%llu,\"cpu_ns\":%llu,\"cpu_pct\":%.4f,"
		       "\"wake_ns\":%llu,\"limit_pct\":%.2f,\"result\":\"%s\"}\n",
		       k->name, k->role, shmq_wake_backend(), (unsigned long long)o->seconds,
		       (unsigned long long)m->parked_ns, (unsigned long long)m->cpu_ns, pct,
		       (unsigned long long)m->wake_ns, IDLE_TARGET_PCT, verdict);
		return;
	}
	printf("idle %s %s parked %llu s: %.2f %% of a CPU (target < %.0f %%): %s\n", k->name,
	       k->role, (unsigned long long)o->seconds, pct, IDLE_TARGET_PCT, verdict);
	printf("    backend %s; %.3f ms CPU in %.3f s parked; woken %.1f us after the publish\n",
	       shmq_wake_backend(), (double)m->cpu_ns / 1e6, (double)m->parked_ns / 1e9,
	       (double)m->wake_ns / 1e3);
}

/* ---- options and entry ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s idle [OPTIONS]\n"
		"CPU use of a waiter parked on nothing: a shmq-spsc consumer in\n"
		"shmq_channel_wait() and a shmq-topic subscriber in shmq_sub_wait(), each with\n"
		"spin 0 and no timeout, woken after N seconds by one message. The CPU time is the\n"
		"waiter's getrusage() (user + system) over its wait; the target is < 1 %% of a "
		"CPU.\n"
		"%s=futex forces the futex syscall backend.\n"
		"  -s, --seconds N  how long each waiter stays parked (default 5)\n"
		"  -c, --cpus A,B   CPUs of the parent and the waiter (default 0,1)\n"
		"  -j, --json       one JSON object per line\n"
		"  -h, --help       this text\n",
		BENCH_PROG, SHMQ_WAKE_BACKEND_ENV);
}

static int usage_error(const char *what, const char *arg)
{
	if (what)
		fprintf(stderr, "%s idle: invalid %s '%s'\n", BENCH_PROG, what, arg);
	fprintf(stderr, "Try '%s idle --help'.\n", BENCH_PROG);
	return 2;
}

/* One option: -1 to go on, else the exit status. */
static int opt_one(int c, struct idle_opts *o)
{
	switch (c) {
	case 's':
		return u64_parse(optarg, 1, 3600, &o->seconds) ? usage_error("seconds", optarg)
							       : -1;
	case 'c':
		o->cpus_given = true;
		return cpus_parse(optarg, &o->cpus) ? usage_error("CPU pair", optarg) : -1;
	case 'j':
		o->json = true;
		return -1;
	case 'h':
		usage(stdout);
		return 0;
	default:
		return usage_error(NULL, NULL);
	}
}

static int opts_parse(int argc, char **argv, struct idle_opts *o)
{
	static const struct option lopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, e;

	memset(o, 0, sizeof(*o));
	o->seconds = 5;
	while ((c = getopt_long(argc, argv, "s:c:jh", lopts, NULL)) != -1) {
		e = opt_one(c, o);
		if (e >= 0)
			return e;
	}
	if (optind < argc)
		return usage_error("argument", argv[optind]);
	return -1;
}

int idle_main(int argc, char **argv)
{
	struct idle_opts o;
	struct idle_shm m;
	size_t i;
	int e = opts_parse(argc, argv, &o);

	if (e >= 0)
		return e;
	e = bench_start(&o.cpus, o.cpus_given, o.json);
	if (e >= 0)
		return e;
	if (!o.json)
		printf("idle: each waiter parks at once (spin 0, no timeout) and is woken by one "
		       "message after %llu s\n",
		       (unsigned long long)o.seconds);
	for (i = 0; i < IDLE_NKINDS; i++) {
		if (idle_one(&idle_kinds[i], &o, &m) < 0)
			return 1;
		idle_print(&idle_kinds[i], &o, &m);
		fflush(stdout);
	}
	return 0;
}
