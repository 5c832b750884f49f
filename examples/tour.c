// SPDX-License-Identifier: MIT
/* tour.c - the bus as a user meets it: a publisher, a subscriber and a work queue, with latencies. */
/*
 *     tour [RATE [SECONDS]]     (default 20000 records/s for 2 s)
 *
 * Four processes on the namespace $SHMQ_NAMESPACE (else "default"):
 *   - a publisher sends RATE records a second to the topic "tour.ticks" and as many jobs to
 *     "tour.jobs";
 *   - a subscriber of "tour.ticks" measures each record's delivery latency (receive time -
 *     publish time, both shmq_now_ns());
 *   - two workers of the consumer group "tour.jobs@workers" share the jobs (recv + ack); half
 *     way through, one of them is killed with SIGKILL while it holds leases, and the other
 *     gets those jobs again (at-least-once): the report says how many and how fast.
 * Then each prints its HDR percentiles. With shmqd running for the namespace, the killed
 * worker's leases come back as soon as the daemon sees it die; without, at the survivor's
 * next look (every 10 ms).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmq.h>

#define SPIN_NS 20000
#define HOLD_LEASES 8 /* what the victim holds when it is killed */

static const struct shmq_topic_config cfg = { .slots = 4096, .max_msg = 64 };
static const struct shmq_group_config gcfg = { .ack_wait_ns = 30000000000ull }; /* 30 s */

struct job {
	uint64_t n;
	uint64_t sent_ns;
};

static int fail(const char *who, const char *what, int r)
{
	const char *detail = shmq_last_detail();

	fprintf(stderr, "tour %s: %s: %s%s%s\n", who, what, shmq_strerror(r), detail[0] ? ": " : "",
		detail);
	return 1;
}

static shmq_hist *new_hist(void)
{
	shmq_hist *h = NULL;

	/* 100 ns to 10 s, 3 significant figures */
	if (shmq_hist_new(100, 10000000000ll, 3, &h) < 0)
		exit(1);
	return h;
}

static void report(const char *what, const shmq_hist *h)
{
	printf("  %-28s %8" PRIu64 "  p50 %8.2f  p99 %8.2f  p99.9 %8.2f  max %9.2f us\n", what,
	       shmq_hist_total(h), shmq_hist_value_at_percentile(h, 50) / 1e3,
	       shmq_hist_value_at_percentile(h, 99) / 1e3,
	       shmq_hist_value_at_percentile(h, 99.9) / 1e3, shmq_hist_max(h) / 1e3);
	fflush(stdout);
}

static void sleep_until(uint64_t t)
{
	uint64_t now = shmq_now_ns();
	struct timespec ts;

	if (t <= now + 50000)
		return;
	t -= now;
	ts.tv_sec = (time_t)(t / 1000000000ull);
	ts.tv_nsec = (long)(t % 1000000000ull);
	nanosleep(&ts, NULL);
}

/* Both streams at @rate a second for @total records; a record's payload is its number. */
static int publisher(shmq_bus *bus, long rate, uint64_t total)
{
	shmq_pub *ticks = NULL, *jobs = NULL;
	uint64_t start, i;
	struct job j;
	int r;

	r = shmq_pub_open(bus, "tour.ticks", SHMQ_OPEN_CREATE, &cfg, &ticks);
	if (r == 0)
		r = shmq_pub_open(bus, "tour.jobs", SHMQ_OPEN_CREATE, &cfg, &jobs);
	if (r < 0)
		return fail("publisher", "open", r);
	start = shmq_now_ns();
	for (i = 0; i < total; i++) {
		sleep_until(start + i * 1000000000ull / (uint64_t)rate);
		while ((r = shmq_pub_send(ticks, &i, sizeof(i), i)) == -EAGAIN)
			shmq_pub_wait(ticks, SPIN_NS, SHMQ_WAIT_FOREVER);
		j = (struct job){ .n = i, .sent_ns = shmq_now_ns() };
		while (r >= 0 && (r = shmq_pub_send(jobs, &j, sizeof(j), i)) == -EAGAIN)
			shmq_pub_wait(jobs, SPIN_NS, SHMQ_WAIT_FOREVER);
		if (r < 0)
			return fail("publisher", "send", r);
	}
	shmq_pub_close(ticks);
	shmq_pub_close(jobs);
	return 0;
}

static int subscriber(shmq_bus *bus, int ready)
{
	shmq_hist *lat = new_hist();
	struct shmq_sub_msg m;
	shmq_sub *sub = NULL;
	uint64_t v, lost = 0;
	int r;

	r = shmq_sub_open(bus, "tour.ticks", SHMQ_OPEN_CREATE, &cfg, 0, &sub);
	if (r < 0)
		return fail("subscriber", "open", r);
	(void)!write(ready, "s", 1);
	for (;;) {
		r = shmq_sub_recv(sub, &v, sizeof(v), &m);
		if (r == -EAGAIN) {
			r = shmq_sub_wait(sub, SPIN_NS, SHMQ_WAIT_FOREVER);
			if (r == -EPIPE)
				break; /* the publisher is done and everything was read */
			continue;
		}
		if (r < 0)
			return fail("subscriber", "recv", r);
		shmq_hist_record(lat, (int64_t)(shmq_now_ns() - m.ts_ns));
		lost += m.lost;
	}
	report("subscriber: delivery", lat);
	if (lost)
		printf("  subscriber lost %" PRIu64 " records\n", lost);
	shmq_sub_close(sub);
	shmq_hist_free(lat);
	return 0;
}

/*
 * A worker: recv + ack every job, recording the delivery latency of first deliveries and
 * how long redelivered ones took to come back. The victim stops acking after @stop_at jobs
 * (holding HOLD_LEASES), says so on @ready, and waits to be killed.
 */
static int worker(shmq_bus *bus, const char *name, uint64_t stop_at, int ready,
		  const volatile uint64_t *kill_ns)
{
	shmq_hist *lat = new_hist(), *again = new_hist();
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	uint64_t held = 0, n = 0;
	struct job j;
	int r;

	r = shmq_group_open(bus, "tour.jobs", "workers", SHMQ_OPEN_CREATE, &gcfg, &g);
	if (r < 0)
		return fail(name, "join", r);
	(void)!write(ready, "w", 1);
	for (;;) {
		r = shmq_group_recv(g, &j, sizeof(j), &m);
		if (r == -EAGAIN) {
			r = shmq_group_wait(g, SPIN_NS, SHMQ_WAIT_FOREVER);
			if (r == -EPIPE)
				break;
			continue;
		}
		if (r < 0)
			return fail(name, "recv", r);
		if (stop_at && ++n > stop_at) {
			if (++held == HOLD_LEASES) { /* hold these, unacked, until killed */
				(void)!write(ready, "k", 1);
				for (;;)
					pause();
			}
			continue;
		}
		if (m.attempt > 1) /* how long after the kill it came back */
			shmq_hist_record(again, (int64_t)(shmq_now_ns() - *kill_ns));
		else
			shmq_hist_record(lat, (int64_t)(shmq_now_ns() - j.sent_ns));
		shmq_group_ack(g, m.lease);
	}
	/* The survivor reports; what it received twice is the victim's leases. */
	report("work queue: delivery", lat);
	if (shmq_hist_total(again))
		report("work queue: back after kill", again);
	shmq_group_close(g);
	shmq_hist_free(lat);
	shmq_hist_free(again);
	return 0;
}

static pid_t run(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

struct ctx {
	shmq_bus *bus;
	long rate;
	uint64_t total;
	int ready;
	volatile uint64_t *kill_ns; /* shared: when the parent killed the victim */
};

static int run_pub(void *a)
{
	struct ctx *c = a;

	return publisher(c->bus, c->rate, c->total);
}

static int run_sub(void *a)
{
	struct ctx *c = a;

	return subscriber(c->bus, c->ready);
}

static int run_survivor(void *a)
{
	struct ctx *c = a;

	return worker(c->bus, "worker 1", 0, c->ready, c->kill_ns);
}

static int run_victim(void *a)
{
	struct ctx *c = a;

	return worker(c->bus, "worker 2", c->total / 4, c->ready, c->kill_ns);
}

static int make_topics(shmq_bus *bus)
{
	shmq_pub *pub = NULL;
	int r = shmq_pub_open(bus, "tour.ticks", SHMQ_OPEN_CREATE, &cfg, &pub);

	shmq_pub_close(pub);
	pub = NULL;
	if (r == 0)
		r = shmq_pub_open(bus, "tour.jobs", SHMQ_OPEN_CREATE, &cfg, &pub);
	shmq_pub_close(pub);
	return r < 0 ? fail("main", "create the topics", r) : 0;
}

static int cleanup(shmq_bus *bus)
{
	shmq_group_delete(bus, "tour.jobs", "workers", SHMQ_GROUP_FORCE);
	shmq_unlink(bus, "tour.ticks");
	shmq_unlink(bus, "tour.jobs");
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = { .rate = argc > 1 ? atol(argv[1]) : 20000 };
	long secs = argc > 2 ? atol(argv[2]) : 2;
	pid_t pub, sub, w1, w2;
	int p[2], st, fails = 0, i;
	char ch;

	if (c.rate <= 0 || secs <= 0 || argc > 3) {
		fprintf(stderr, "usage: tour [RATE [SECONDS]]\n");
		return 2;
	}
	c.total = (uint64_t)c.rate * (uint64_t)secs;
	c.kill_ns = mmap(NULL, sizeof(*c.kill_ns), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c.kill_ns == MAP_FAILED || shmq_bus_open(NULL, 0, &c.bus) < 0 || pipe(p) < 0)
		return 1;
	cleanup(c.bus); /* what an earlier run left */
	printf("namespace '%s', shmqd: %s; %ld records/s for %ld s on each stream\n",
	       shmq_bus_namespace(c.bus), shmq_daemon_ping(c.bus) == 1 ? "running" : "not running",
	       c.rate, secs);
	fflush(stdout); /* before fork(): printed once */
	/* The topics first: a group is made on its topic, and joining needs the topic there. */
	if (make_topics(c.bus) < 0)
		return 1;
	c.ready = p[1];
	sub = run(run_sub, &c);
	w1 = run(run_survivor, &c);
	w2 = run(run_victim, &c);
	close(p[1]); /* a child that fails closes its end: the reads below see it */
	for (i = 0; i < 3; i++) /* subscriber and both workers attached */
		if (read(p[0], &ch, 1) != 1)
			return 1;
	pub = run(run_pub, &c);
	/* The victim holds its leases: kill it, as a crash would. */
	if (read(p[0], &ch, 1) == 1 && ch == 'k') {
		*c.kill_ns = shmq_now_ns();
		kill(w2, SIGKILL);
		waitpid(w2, NULL, 0);
		printf("  worker 2 killed holding %d leases\n", HOLD_LEASES);
		fflush(stdout);
	}
	waitpid(pub, &st, 0);
	fails += !WIFEXITED(st) || WEXITSTATUS(st);
	waitpid(sub, &st, 0);
	fails += !WIFEXITED(st) || WEXITSTATUS(st);
	waitpid(w1, &st, 0);
	fails += !WIFEXITED(st) || WEXITSTATUS(st);
	cleanup(c.bus);
	shmq_bus_close(c.bus);
	return fails ? 1 : 0;
}
