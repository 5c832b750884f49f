// SPDX-License-Identifier: MIT
/*
 * idle.c - shmq-bench idle: what a parked waiter costs while nothing happens (CPU time and
 * wakeups), and how soon the death of its peer ends the wait.
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "topic.h"

/*
 * Two children per run: the peer, which holds the other side of an object (a channel's
 * producer or consumer, a topic's producer or its one subscriber), and the waiter, which
 * parks on it with spin 0 and no timeout: a consumer or subscriber on nothing to read, or a
 * producer on a full channel or reliable topic. The waiter parks once with a short timeout
 * before it says it is ready, so that the first park's one-off work (switching parking on
 * for the segment: a membarrier) is not counted.
 *
 * The parent lets it settle, then reads the waiter's CPU time (/proc/PID/schedstat, in ns)
 * and voluntary context switches (/proc/PID/status) at the start and at the end of the idle
 * period, so the figures hold nothing but the park: a wakeup is a context switch in between.
 * Then either the peer gives the waiter what it waits for (a message, room) and the time to
 * the wait's return is the wake latency; or the parent SIGKILLs the peer, and the time from
 * the kill to the wait's return is how soon a death is seen.
 */

#define IDLE_TARGET_PCT 0.01 /* of a CPU, while parked */
#define DEATH_TARGET_NS 1000000ull /* a peer's death ends the wait within 1 ms */
#define SETTLE_NS 100000000ull /* from the waiter's ready to the start of the idle period */
#define WARMUP_NS 1000000ull /* the waiter's first park, before it is ready */

enum { CMD_NONE, CMD_WAKE, CMD_EXIT };

/* Shared by the parent and both children. */
struct idle_shm {
	char name[TOPIC_NAME_LEN > CHAN_NAME_LEN ? TOPIC_NAME_LEN : CHAN_NAME_LEN];
	_Atomic uint32_t peer_ready; /* the object exists, the peer holds its side */
	_Atomic uint32_t ready; /* the waiter parked once and is about to park for good */
	_Atomic uint32_t cmd; /* the parent's word to the peer */
	uint64_t act_ns; /* when the peer acted, or the parent killed it */
	uint64_t ret_ns; /* when the wait returned */
	int ret; /* what it returned */
};

struct idle_kind {
	const char *name;
	const char *role;
	const char *peer_role;
	int (*peer)(struct idle_shm *shm); /* create, hold, act on CMD_WAKE, leave on CMD_EXIT */
	int (*waiter)(struct idle_shm *shm); /* attach, park; sets ret and ret_ns */
	bool death_ends; /* the peer's death ends the wait (else the kill part is skipped) */
	void (*unlink)(char *name); /* a killed peer removes nothing: the parent does */
};

struct idle_opts {
	uint64_t seconds;
	uint64_t death_seconds;
	struct cpu_pair cpus;
	bool cpus_given;
	bool json;
};

/* What the parent measured of one run. */
struct idle_result {
	uint64_t idle_ns, cpu_ns, switches;
	uint64_t latency_ns; /* act_ns to ret_ns */
	uint64_t exit_ns; /* a kill: until the kernel said the peer ended (its pidfd) */
	int ret;
};

/* ---- the peer's and waiter's common steps ---- */

/* The peer: say the object is there, then sleep until told (polled every 1 ms, not timed). */
static uint32_t peer_hold(struct idle_shm *shm)
{
	const struct timespec ms = { 0, 1000000 };
	uint32_t c;

	/* R: pairs with the acquire loads in the waiter and the parent */
	atomic_store_explicit(&shm->peer_ready, 1, memory_order_release);
	while ((c = atomic_load_explicit(&shm->cmd, memory_order_acquire)) == CMD_NONE)
		nanosleep(&ms, NULL);
	return c;
}

static void peer_linger(struct idle_shm *shm)
{
	const struct timespec ms = { 0, 1000000 };

	while (atomic_load_explicit(&shm->cmd, memory_order_acquire) != CMD_EXIT)
		nanosleep(&ms, NULL);
}

/* Until @word is set (polled every 1 ms); -EPIPE if the parent is gone. */
static int flag_wait(_Atomic uint32_t *word)
{
	const struct timespec ms = { 0, 1000000 };

	while (!atomic_load_explicit(word, memory_order_acquire)) {
		if (getppid() == 1)
			return -EPIPE;
		nanosleep(&ms, NULL);
	}
	return 0;
}

/* The waiter: the warm-up park must time out (nothing to do yet), then ready. */
static int waiter_ready(struct idle_shm *shm, int warm)
{
	if (warm != -ETIMEDOUT)
		return fail("idle: the first park", warm < 0 ? warm : -EPROTO);
	atomic_store_explicit(&shm->ready, 1, memory_order_release);
	return 0;
}

static int waiter_done(struct idle_shm *shm, int r)
{
	shm->ret_ns = now_ns();
	shm->ret = r;
	return 0;
}

/* ---- shmq-spsc: a consumer in shmq_channel_wait(), its producer the peer ---- */

static int spsc_cons_peer(struct idle_shm *shm)
{
	shmq_channel *tx;
	int e = 0;

	if (chan_create("idle", SHMQ_OPEN_PRODUCER, shm->name, &tx) < 0)
		return -1;
	if (peer_hold(shm) == CMD_WAKE) {
		shm->act_ns = now_ns();
		e = shmq_channel_send(tx, "wake", 4);
		peer_linger(shm);
	}
	shmq_channel_close(tx);
	return e < 0 ? fail("idle: send", e) : 0;
}

static int spsc_cons_waiter(struct idle_shm *shm)
{
	shmq_channel *rx;
	int e;

	if (chan_attach(shm->name, SHMQ_OPEN_CONSUMER, &rx) < 0)
		return -1;
	e = waiter_ready(shm, shmq_channel_wait(rx, 0, WARMUP_NS));
	if (e == 0)
		e = waiter_done(shm, shmq_channel_wait(rx, 0, SHMQ_WAIT_FOREVER));
	shmq_channel_close(rx);
	return e;
}

/* ---- shmq-spsc: a producer in shmq_channel_wait_room() on a full ring ---- */

static int spsc_room_peer(struct idle_shm *shm)
{
	shmq_channel *rx;
	uint8_t buf[64];
	int e = 0;

	if (chan_create("idle", SHMQ_OPEN_CONSUMER, shm->name, &rx) < 0)
		return -1;
	if (peer_hold(shm) == CMD_WAKE) {
		/* Two: the room a record needs includes the stamp word of the one after it. */
		shm->act_ns = now_ns();
		e = shmq_channel_recv(rx, buf, sizeof(buf), NULL);
		if (e >= 0)
			e = shmq_channel_recv(rx, buf, sizeof(buf), NULL);
		peer_linger(shm);
	}
	shmq_channel_close(rx);
	return e < 0 ? fail("idle: recv", e) : 0;
}

static int spsc_room_waiter(struct idle_shm *shm)
{
	uint8_t msg[64] = { 0 };
	shmq_channel *tx;
	int e;

	if (chan_attach(shm->name, SHMQ_OPEN_PRODUCER, &tx) < 0)
		return -1;
	while ((e = shmq_channel_send(tx, msg, sizeof(msg))) == 0)
		;
	if (e != -EAGAIN)
		e = fail("idle: fill the channel", e);
	else
		e = waiter_ready(shm, shmq_channel_wait_room(tx, sizeof(msg), 0, WARMUP_NS));
	if (e == 0)
		e = waiter_done(shm, shmq_channel_wait_room(tx, sizeof(msg), 0, SHMQ_WAIT_FOREVER));
	shmq_channel_close(tx);
	return e;
}

/* ---- shmq-topic: a subscriber in shmq_sub_wait(), the producer the peer ---- */

static int topic_sub_peer(struct idle_shm *shm)
{
	struct shmq_topic_config cfg;
	shmq_pub *pub;
	int e = 0;

	topic_config(&cfg, 64);
	if (topic_create("idle", &cfg, 0, shm->name, &pub, NULL) < 0)
		return -1;
	if (peer_hold(shm) == CMD_WAKE) {
		shm->act_ns = now_ns();
		e = shmq_pub_send(pub, "wake", 4, 0);
		peer_linger(shm);
	}
	shmq_pub_close(pub);
	return e < 0 ? fail("idle: publish", e) : 0;
}

static int topic_sub_waiter(struct idle_shm *shm)
{
	struct shmq_topic_config cfg;
	shmq_sub *sub;
	int e;

	topic_config(&cfg, 64);
	if (topic_attach(shm->name, &cfg, 0, NULL, &sub) < 0)
		return -1;
	e = waiter_ready(shm, shmq_sub_wait(sub, 0, WARMUP_NS));
	if (e == 0)
		e = waiter_done(shm, shmq_sub_wait(sub, 0, SHMQ_WAIT_FOREVER));
	shmq_sub_close(sub);
	return e;
}

/* ---- shmq-topic: a producer in shmq_pub_wait() on a full reliable topic ---- */

static int topic_room_peer(struct idle_shm *shm)
{
	struct shmq_topic_config cfg;
	uint8_t buf[64];
	shmq_sub *sub;
	int e = 0;

	topic_config(&cfg, 64);
	if (topic_create("idle", &cfg, 0, shm->name, NULL, &sub) < 0)
		return -1;
	if (peer_hold(shm) == CMD_WAKE) {
		shm->act_ns = now_ns();
		e = shmq_sub_recv(sub, buf, sizeof(buf), NULL);
		peer_linger(shm);
	}
	shmq_sub_close(sub);
	return e < 0 ? fail("idle: receive", e) : 0;
}

static int topic_room_waiter(struct idle_shm *shm)
{
	struct shmq_topic_config cfg;
	uint8_t msg[64] = { 0 };
	shmq_pub *pub;
	int e;

	topic_config(&cfg, 64);
	if (topic_attach(shm->name, &cfg, 0, &pub, NULL) < 0)
		return -1;
	while ((e = shmq_pub_send(pub, msg, sizeof(msg), 0)) == 0)
		;
	if (e != -EAGAIN)
		e = fail("idle: fill the topic", e);
	else
		e = waiter_ready(shm, shmq_pub_wait(pub, 0, WARMUP_NS));
	if (e == 0)
		e = waiter_done(shm, shmq_pub_wait(pub, 0, SHMQ_WAIT_FOREVER));
	shmq_pub_close(pub);
	return e;
}

static const struct idle_kind idle_kinds[] = {
	{ "shmq-spsc", "consumer", "producer", spsc_cons_peer, spsc_cons_waiter, true,
	  chan_unlink },
	{ "shmq-spsc", "producer-room", "consumer", spsc_room_peer, spsc_room_waiter, true,
	  chan_unlink },
	/* A topic's producers are judged by shmqd or shmq_topic_reap(), not by subscribers. */
	{ "shmq-topic", "subscriber", "producer", topic_sub_peer, topic_sub_waiter, false,
	  topic_unlink },
	{ "shmq-topic", "producer-room", "subscriber", topic_room_peer, topic_room_waiter, true,
	  topic_unlink },
};

#define IDLE_NKINDS (sizeof(idle_kinds) / sizeof(idle_kinds[0]))

/* ---- the parent ---- */

struct child_arg {
	const struct idle_kind *k;
	struct idle_shm *shm;
};

static int peer_main(void *arg)
{
	struct child_arg *a = arg;

	return a->k->peer(a->shm) < 0 ? -1 : 0;
}

static int waiter_main(void *arg)
{
	struct child_arg *a = arg;

	if (flag_wait(&a->shm->peer_ready) < 0)
		return -1;
	return a->k->waiter(a->shm) < 0 ? -1 : 0;
}

/* The waiter's CPU time so far (ns) and voluntary context switches; false if unreadable. */
static bool proc_sample(pid_t pid, uint64_t *ret_cpu, uint64_t *ret_switches)
{
	char path[64], line[256];
	unsigned long long v;
	bool got = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "re");
	if (!f || fscanf(f, "%llu", &v) != 1) {
		if (f)
			fclose(f);
		return false;
	}
	fclose(f);
	*ret_cpu = v;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1) {
			*ret_switches = v;
			got = true;
		}
	fclose(f);
	return got;
}

/* Until the waiter is ready: polled every millisecond, not timed. */
static int ready_wait(struct idle_shm *shm, struct peer *peer, struct peer *waiter)
{
	struct spin s = { .child = waiter, .nchild = 1 };
	struct spin sp = { .child = peer, .nchild = 1 };
	const struct timespec ms = { 0, 1000000 };

	while (!atomic_load_explicit(&shm->ready, memory_order_acquire)) {
		if (spin_peer_gone(&s) || spin_peer_gone(&sp))
			return fail("idle: a child", -EPIPE);
		nanosleep(&ms, NULL);
	}
	return 0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec at;

	clock_gettime(CLOCK_MONOTONIC, &at);
	at.tv_sec += (time_t)(ns / 1000000000u);
	at.tv_nsec += (long)(ns % 1000000000u);
	if (at.tv_nsec >= 1000000000) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
		;
}

/* The idle period: its length, and the waiter's CPU time and switches in it. */
static int measure_idle(pid_t pid, uint64_t seconds, struct idle_result *res)
{
	uint64_t c0, c1, s0, s1, t0, t1;

	sleep_ns(SETTLE_NS);
	t0 = now_ns();
	if (!proc_sample(pid, &c0, &s0))
		return fail("idle: /proc of the waiter", -errno);
	sleep_ns(seconds * 1000000000ull);
	if (!proc_sample(pid, &c1, &s1))
		return fail("idle: /proc of the waiter", -errno);
	t1 = now_ns();
	res->idle_ns = t1 - t0;
	res->cpu_ns = c1 - c0;
	res->switches = s1 - s0;
	return 0;
}

/*
 * SIGKILL the peer, and time how long the kernel takes to end it (its pidfd polls readable
 * then; this is the part of a death's latency that no waiter can have less of).
 */
static int kill_timed(struct idle_shm *shm, pid_t pid, uint64_t *ret_exit_ns)
{
	struct pollfd pfd = { .events = POLLIN };
	int e = 0;

	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0)
		return fail("idle: pidfd_open", -errno);
	shm->act_ns = now_ns();
	if (kill(pid, SIGKILL) < 0 || poll(&pfd, 1, -1) < 0)
		e = fail("idle: kill", -errno);
	*ret_exit_ns = now_ns() - shm->act_ns;
	close(pfd.fd);
	return e;
}

/* One run: park, measure, then wake (@kill false) or kill the peer; results in @res. */
static int idle_one(const struct idle_kind *k, const struct idle_opts *o, bool kill_peer,
		    struct idle_result *res)
{
	struct idle_shm *shm = shared_alloc(sizeof(*shm));
	struct peer peer = { 0 }, waiter = { 0 };
	struct child_arg a = { k, shm };
	int e;

	if (!shm)
		return fail("idle: mmap", -ENOMEM);
	memset(res, 0, sizeof(*res));
	e = peer_start(&peer, cpu_of(&o->cpus, 0), peer_main, &a);
	if (e == 0)
		e = peer_start(&waiter, cpu_of(&o->cpus, 1), waiter_main, &a);
	if (e < 0)
		e = fail("fork", e);
	if (e == 0)
		e = ready_wait(shm, &peer, &waiter);
	if (e == 0)
		e = measure_idle(waiter.pid, kill_peer ? o->death_seconds : o->seconds, res);
	if (e == 0 && kill_peer) {
		e = kill_timed(shm, peer.pid, &res->exit_ns);
	} else if (e == 0) {
		atomic_store_explicit(&shm->cmd, CMD_WAKE, memory_order_release);
	}
	if (e == 0)
		e = peer_wait(&waiter);
	atomic_store_explicit(&shm->cmd, CMD_EXIT, memory_order_release);
	if (kill_peer)
		peer_kill(&peer); /* reaps it */
	else if (e == 0)
		e = peer_wait(&peer);
	peer_kill(&waiter);
	peer_kill(&peer);
	if (e == 0) {
		res->ret = shm->ret;
		res->latency_ns = shm->ret_ns - shm->act_ns;
	}
	if (shm->name[0]) /* the peer made it; a killed one removes nothing */
		k->unlink(shm->name);
	shared_free(shm, sizeof(*shm));
	return e < 0 ? -1 : 0;
}

static void idle_print(const struct idle_kind *k, const struct idle_opts *o,
		       const struct idle_result *m)
{
	double pct = m->idle_ns ? 100.0 * (double)m->cpu_ns / (double)m->idle_ns : 0;
	const char *verdict = pct < IDLE_TARGET_PCT && m->switches == 0 ? "PASS" : "MISS";

	if (o->json) {
		printf("{\"bench\":\"idle\",\"transport\":\"%s\",\"role\":\"%s\",\"backend\":\"%"
		       "s\","
		       "\"idle_ns\":%llu,\"cpu_ns\":%llu,\"cpu_pct\":%.5f,\"wakeups\":%llu,"
		       "\"wake_ns\":%llu,\"wait_ret\":%d,\"limit_pct\":%.2f,\"result\":\"%s\"}\n",
		       k->name, k->role, shmq_wake_backend(), (unsigned long long)m->idle_ns,
		       (unsigned long long)m->cpu_ns, pct, (unsigned long long)m->switches,
		       (unsigned long long)m->latency_ns, m->ret, IDLE_TARGET_PCT, verdict);
		return;
	}
	printf("idle %s %s parked %.1f s: %.4f %% of a CPU, %llu wakeups (target < %.2f %%, "
	       "0): %s\n",
	       k->name, k->role, (double)m->idle_ns / 1e9, pct, (unsigned long long)m->switches,
	       IDLE_TARGET_PCT, verdict);
	printf("    backend %s; %.1f us CPU; woken %.1f us after the %s acted (wait: %s%s)\n",
	       shmq_wake_backend(), (double)m->cpu_ns / 1e3, (double)m->latency_ns / 1e3,
	       k->peer_role, m->ret < 0 ? "-" : "", m->ret < 0 ? strerrorname_np(-m->ret) : "0");
}

static void death_print(const struct idle_kind *k, const struct idle_opts *o,
			const struct idle_result *m)
{
	bool ok = m->latency_ns <= DEATH_TARGET_NS;

	if (o->json) {
		printf("{\"bench\":\"idle-death\",\"transport\":\"%s\",\"role\":\"%s\","
		       "\"backend\":\"%s\",\"peer\":\"%s\",\"death_ns\":%llu,\"wait_ret\":%d,"
		       "\"exit_ns\":%llu,\"wakeups\":%llu,\"limit_ns\":%llu,\"result\":\"%s\"}\n",
		       k->name, k->role, shmq_wake_backend(), k->peer_role,
		       (unsigned long long)m->latency_ns, m->ret, (unsigned long long)m->exit_ns,
		       (unsigned long long)m->switches, (unsigned long long)DEATH_TARGET_NS,
		       ok ? "PASS" : "MISS");
		return;
	}
	printf("death %s %s: its %s SIGKILLed after %llu s parked: the wait returned %s%s %.1f us "
	       "after the kill (target < %.0f us): %s\n",
	       k->name, k->role, k->peer_role, (unsigned long long)o->death_seconds,
	       m->ret < 0 ? "-" : "", m->ret < 0 ? strerrorname_np(-m->ret) : "0",
	       (double)m->latency_ns / 1e3, (double)DEATH_TARGET_NS / 1e3, ok ? "PASS" : "MISS");
	printf("    backend %s; the kernel ended the %s %.1f us after the kill\n",
	       shmq_wake_backend(), k->peer_role, (double)m->exit_ns / 1e3);
}

/* ---- options and entry ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s idle [OPTIONS]\n"
		"What a parked waiter costs while nothing happens, and how soon its peer's death\n"
		"ends the wait. Waiters: a shmq-spsc consumer (shmq_channel_wait()) and producer "
		"on\n"
		"a full ring (shmq_channel_wait_room()), a shmq-topic subscriber "
		"(shmq_sub_wait())\n"
		"and producer on a full reliable topic (shmq_pub_wait()); each parks with spin 0\n"
		"and no timeout. Its CPU time and voluntary context switches (wakeups) over the\n"
		"idle period are read from /proc; the target is < %.2f %% of a CPU and no wakeup.\n"
		"Then the peer acts (a message, room), or is SIGKILLed: the wait must end within\n"
		"1 ms of the kill. %s=futex forces the futex syscall backend.\n"
		"  -s, --seconds N        idle period of the wake runs (default 5)\n"
		"  -d, --death-seconds N  idle period before the kill (default 1; 0: no kill "
		"runs)\n"
		"  -c, --cpus A,B         CPUs of the peer and the waiter (default 0,1)\n"
		"  -j, --json             one JSON object per line\n"
		"  -h, --help             this text\n",
		BENCH_PROG, IDLE_TARGET_PCT, SHMQ_WAKE_BACKEND_ENV);
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
	case 'd':
		return u64_parse(optarg, 0, 3600, &o->death_seconds)
			       ? usage_error("death seconds", optarg)
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
		{ "death-seconds", required_argument, NULL, 'd' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, e;

	memset(o, 0, sizeof(*o));
	o->seconds = 5;
	o->death_seconds = 1;
	while ((c = getopt_long(argc, argv, "s:d:c:jh", lopts, NULL)) != -1) {
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
	const struct idle_kind *k;
	struct idle_result m;
	struct idle_opts o;
	shmq_bus *bus;
	size_t i;
	int e = opts_parse(argc, argv, &o);

	if (e >= 0)
		return e;
	e = bench_start(&o.cpus, o.cpus_given, o.json);
	if (e >= 0)
		return e;
	if (bench_bus(&bus, NULL) < 0) /* before the forks: one namespace for all */
		return 1;
	if (!o.json)
		printf("idle: each waiter parks (spin 0, no timeout) for %llu s, then its peer "
		       "acts; then again for %llu s, and its peer is killed\n",
		       (unsigned long long)o.seconds, (unsigned long long)o.death_seconds);
	for (i = 0; i < IDLE_NKINDS; i++) {
		k = &idle_kinds[i];
		if (idle_one(k, &o, false, &m) < 0)
			return 1;
		idle_print(k, &o, &m);
		if (o.death_seconds && k->death_ends) {
			if (idle_one(k, &o, true, &m) < 0)
				return 1;
			death_print(k, &o, &m);
		}
		fflush(stdout);
	}
	return 0;
}
