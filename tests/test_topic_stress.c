// SPDX-License-Identifier: MIT
/* test_topic_stress.c - topic stress: many producers and subscribers, lossy accounting, crashes. */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "common.h"
#include "internal.h"
#include "shm_layout.h"

#define MAX_MSG 1000u
#define MIN_LEN 24u /* idx (4), len (4), counter (8), checksum (8) */
#define MAX_PRODS 8
#define WATCHDOG_S 580 /* a hang becomes a failure (SIGALRM) before meson's 600 s timeout */
#define IDLE_FAIL_NS 5000000000ull /* producers done and nothing new for this long: fail */
/* Long, so that a producer the scheduler starves on a loaded machine never times out. */
#define RUN_CLAIM_TIMEOUT_NS 10000000000ull

/* ---- payloads: (producer index, per-producer counter, checksum), of a known length ---- */

static size_t msg_len(uint32_t idx, uint64_t counter)
{
	uint64_t r = (counter + 0x1000ull * idx) * 0x9e3779b97f4a7c15ull;

	r ^= r >> 29;
	if ((r & 31) == 0)
		return MIN_LEN + (size_t)((r >> 8) % (MAX_MSG - MIN_LEN + 1));
	return MIN_LEN + (size_t)((r >> 8) % 232);
}

static uint64_t corr_of(uint32_t idx, uint64_t counter)
{
	return ((uint64_t)idx << 48) ^ counter;
}

static void make_msg(uint8_t *buf, uint32_t idx, uint64_t counter)
{
	uint32_t len = (uint32_t)msg_len(idx, counter);
	uint64_t sum;

	memcpy(buf, &idx, 4);
	memcpy(buf + 4, &len, 4);
	memcpy(buf + 8, &counter, 8);
	for (uint32_t i = 16; i < len - 8; i++)
		buf[i] = (uint8_t)(counter + i * 13 + idx);
	sum = test_checksum(buf, len - 8);
	memcpy(buf + len - 8, &sum, 8);
}

/*
 * What one subscriber has seen. Reliable: every producer's counters arrive complete and in
 * order. Lossy: strictly increasing per producer, and seq == last seq + 1 + lost + skipped.
 */
struct verifier {
	uint32_t nprod;
	bool lossy;
	uint64_t last_seq;
	uint64_t last[MAX_PRODS]; /* last counter seen per producer */
	uint32_t prod_id[MAX_PRODS];
	uint64_t received, lost, skipped;
	char why[160];
};

static int bad(struct verifier *v, const struct shmq_sub_msg *info, const char *what)
{
	snprintf(v->why, sizeof(v->why), "%s (seq %llu after %llu, lost %llu, skipped %llu)", what,
		 (unsigned long long)info->seq, (unsigned long long)v->last_seq,
		 (unsigned long long)info->lost, (unsigned long long)info->skipped);
	return -1;
}

static int check_payload(struct verifier *v, const uint8_t *buf, const struct shmq_sub_msg *info,
			 uint32_t *ret_idx, uint64_t *ret_counter)
{
	uint32_t idx, len;
	uint64_t c, sum;

	if (info->len < MIN_LEN || info->len > MAX_MSG)
		return bad(v, info, "length out of range");
	memcpy(&idx, buf, 4);
	memcpy(&len, buf + 4, 4);
	memcpy(&c, buf + 8, 8);
	memcpy(&sum, buf + info->len - 8, 8);
	if (idx >= v->nprod || len != info->len || len != msg_len(idx, c))
		return bad(v, info, "bad producer index or length");
	if (sum != test_checksum(buf, len - 8))
		return bad(v, info, "bad checksum (torn record?)");
	if (info->corr_id != corr_of(idx, c) || info->producer_seq != c)
		return bad(v, info, "corr_id or producer_seq does not match the payload");
	*ret_idx = idx;
	*ret_counter = c;
	return 0;
}

static int verify(struct verifier *v, const uint8_t *buf, const struct shmq_sub_msg *info)
{
	uint32_t idx;
	uint64_t c;

	if (info->seq != v->last_seq + 1 + info->lost + info->skipped)
		return bad(v, info, "sequence gap not accounted for");
	if (!v->lossy && (info->lost || info->skipped))
		return bad(v, info, "loss on a reliable topic");
	if (check_payload(v, buf, info, &idx, &c) < 0)
		return -1;
	if (info->producer_id == 0)
		return bad(v, info, "producer id 0");
	if (!v->prod_id[idx])
		v->prod_id[idx] = info->producer_id;
	else if (v->prod_id[idx] != info->producer_id)
		return bad(v, info, "producer id changed");
	if (v->lossy ? c <= v->last[idx] : c != v->last[idx] + 1)
		return bad(v, info, v->lossy ? "duplicate or reordered" : "gap or reorder");
	v->last[idx] = c;
	v->last_seq = info->seq;
	v->received++;
	v->lost += info->lost;
	v->skipped += info->skipped;
	return 0;
}

/* ---- producer and subscriber loops (shared by processes and threads) ---- */

/* Set when a participant failed, so that the others stop instead of waiting forever. */
struct shared {
	_Atomic int stop;
	_Atomic uint32_t prods_done;
};

static void backoff(unsigned *spins)
{
	if (++*spins % 64 == 0)
		sched_yield();
}

/* Publish counters 1..n with a mix of copy, zero-copy and batch sends. */
static int produce(shmq_pub *pub, uint32_t idx, uint64_t n, struct shared *sh)
{
	static _Thread_local uint8_t bufs[8][MAX_MSG];
	struct shmq_pub_msg m[8];
	unsigned spins = 0;
	uint64_t c = 1;
	void *zc;
	int r, k;

	while (c <= n) {
		switch (c % 3) {
		case 0:
			make_msg(bufs[0], idx, c);
			r = shmq_pub_send(pub, bufs[0], msg_len(idx, c), corr_of(idx, c));
			k = 1;
			break;
		case 1:
			r = shmq_pub_claim(pub, msg_len(idx, c), &zc);
			if (r == 0) {
				make_msg(zc, idx, c);
				r = shmq_pub_commit(pub, msg_len(idx, c), corr_of(idx, c));
			}
			k = 1;
			break;
		default:
			for (k = 0; k < 8 && c + (uint64_t)k <= n; k++) {
				make_msg(bufs[k], idx, c + (uint64_t)k);
				m[k] = (struct shmq_pub_msg){ bufs[k],
							      msg_len(idx, c + (uint64_t)k),
							      corr_of(idx, c + (uint64_t)k) };
			}
			r = shmq_pub_send_many(pub, m, (size_t)k);
			k = r;
			break;
		}
		if (r == -EAGAIN) {
			if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
				return -ECANCELED;
			backoff(&spins);
			continue;
		}
		if (r < 0)
			return r;
		c += (uint64_t)k;
	}
	atomic_fetch_add(&sh->prods_done, 1);
	return 0;
}

/* A slow reader sleeps now and then (lossy test): 1 in 32 records, 20-100 us. */
static void maybe_dawdle(uint64_t *rnd)
{
	struct timespec ts = { 0, 0 };

	if (test_rand(rnd) % 32)
		return;
	ts.tv_nsec = 20000 + (long)(test_rand(rnd) % 80000);
	nanosleep(&ts, NULL);
}

/* Nothing new: fail if the producers are all done and it stays so for IDLE_FAIL_NS. */
static int idle(struct verifier *v, shmq_sub *sub, struct shared *sh, uint64_t *since)
{
	struct shmq_sub_stats ss;
	uint64_t now;

	if (atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		snprintf(v->why, sizeof(v->why), "stopped: another participant failed");
		return -1;
	}
	if (atomic_load(&sh->prods_done) < v->nprod) {
		*since = 0;
		return 0;
	}
	now = test_now_ns();
	if (!*since)
		*since = now;
	if (now - *since < IDLE_FAIL_NS)
		return 0;
	shmq_sub_stats(sub, &ss);
	snprintf(v->why, sizeof(v->why),
		 "stuck: last seq %llu, cursor %llu, tail %llu, received %llu, lost %llu",
		 (unsigned long long)v->last_seq, (unsigned long long)ss.cursor,
		 (unsigned long long)ss.tail, (unsigned long long)v->received,
		 (unsigned long long)v->lost);
	return -1;
}

/* Read until the last of @total records; alternate single and batch receives. */
static int consume(shmq_sub *sub, struct verifier *v, uint64_t total, bool slow, struct shared *sh)
{
	static _Thread_local uint8_t bufs[4][MAX_MSG];
	struct shmq_sub_rmsg rm[4];
	uint64_t rnd = (uint64_t)getpid() * 77 + 1, since = 0;
	unsigned spins = 0, turn = 0;
	int r;

	for (int i = 0; i < 4; i++)
		rm[i] = (struct shmq_sub_rmsg){ .buf = bufs[i], .cap = MAX_MSG };
	while (v->last_seq < total) {
		if (turn++ % 2) {
			r = shmq_sub_recv(sub, bufs[0], MAX_MSG, &rm[0].info);
			r = r < 0 ? r : 1;
		} else {
			r = shmq_sub_recv_many(sub, rm, 4);
		}
		if (r == -EAGAIN) {
			if (idle(v, sub, sh, &since) < 0)
				return -1;
			backoff(&spins);
			continue;
		}
		if (r < 0) {
			snprintf(v->why, sizeof(v->why), "recv: %s", shmq_strerror(r));
			return -1;
		}
		since = 0;
		for (int i = 0; i < r; i++)
			if (verify(v, bufs[i], &rm[i].info) < 0)
				return -1;
		if (slow)
			maybe_dawdle(&rnd);
	}
	return 0;
}

/* The same with zero-copy receives: peek up to 4 records, check them in place, release. */
static int consume_peek(shmq_sub *sub, struct verifier *v, uint64_t total, struct shared *sh)
{
	struct shmq_sub_msg info;
	uint64_t since = 0;
	unsigned spins = 0;
	const void *data;
	int r, n = 0;

	while (v->last_seq < total) {
		r = shmq_sub_peek(sub, &data, &info);
		if (r >= 0) {
			if (verify(v, data, &info) < 0)
				return -1;
			if (++n < 4 && v->last_seq < total)
				continue;
		} else if (r != -EAGAIN) {
			snprintf(v->why, sizeof(v->why), "peek: %s", shmq_strerror(r));
			return -1;
		}
		if (n) {
			r = shmq_sub_release(sub);
			if (r != n)
				return snprintf(v->why, sizeof(v->why), "release: %d of %d", r, n),
				       -1;
			n = 0;
			since = 0;
			continue;
		}
		if (idle(v, sub, sh, &since) < 0)
			return -1;
		backoff(&spins);
	}
	return 0;
}

/* After the last record: nothing more, and the library's counters agree with ours. */
static int final_check(shmq_sub *sub, struct verifier *v, uint64_t total, uint64_t n)
{
	struct shmq_sub_stats ss;

	if (shmq_sub_recv(sub, NULL, 0, NULL) != -EAGAIN)
		return snprintf(v->why, sizeof(v->why), "a record after the last"), -1;
	shmq_sub_stats(sub, &ss);
	if (ss.received != v->received || ss.lost != v->lost || ss.skipped != v->skipped ||
	    ss.cursor != total + 1)
		return snprintf(v->why, sizeof(v->why),
				"stats disagree: received %llu/%llu lost %llu/%llu cursor %llu",
				(unsigned long long)ss.received, (unsigned long long)v->received,
				(unsigned long long)ss.lost, (unsigned long long)v->lost,
				(unsigned long long)ss.cursor),
		       -1;
	if (v->received + v->lost + v->skipped != total)
		return snprintf(v->why, sizeof(v->why), "received + lost != published"), -1;
	for (uint32_t i = 0; !v->lossy && i < v->nprod; i++)
		if (v->last[i] != n)
			return snprintf(v->why, sizeof(v->why), "producer %u incomplete", i), -1;
	return 0;
}

/* ---- the process variant ---- */

struct run {
	const char *name;
	struct shmq_topic_config cfg;
	uint32_t nprod, nsub;
	uint64_t n; /* records per producer */
	bool slow; /* subscribers dawdle */
	bool peek_last; /* the last subscriber receives zero-copy (reliable topics) */
	unsigned pub_flags; /* SHMQ_PUB_EXCLUSIVE for a sole producer */
};

static void *map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	memset(p, 0, size);
	return p;
}

/* In a forked child: never a cmocka assert (it would unwind into the child's test runner). */
static void sub_child(shmq_bus *bus, const struct run *run, struct shared *sh, int ready, bool peek)
{
	struct verifier v = { .nprod = run->nprod, .lossy = run->cfg.policy == SHMQ_TOPIC_LOSSY };
	uint64_t total = run->nprod * run->n;
	shmq_sub *sub;
	int r;

	alarm(WATCHDOG_S);
	r = shmq_sub_open(bus, run->name, 0, &run->cfg, 0, &sub);
	if (r < 0) {
		fprintf(stderr, "# subscriber %d: open: %s\n", (int)getpid(), shmq_strerror(r));
		_exit(2);
	}
	if (write(ready, "s", 1) != 1)
		_exit(3);
	close(ready);
	r = peek ? consume_peek(sub, &v, total, sh) : consume(sub, &v, total, run->slow, sh);
	if (r < 0 || final_check(sub, &v, total, run->n) < 0) {
		atomic_store(&sh->stop, 1);
		fprintf(stderr, "# subscriber %d: %s\n", (int)getpid(), v.why);
		_exit(1);
	}
	printf("# subscriber %d%s: received %llu, lost %llu\n", (int)getpid(),
	       peek ? " (zero-copy)" : "", (unsigned long long)v.received,
	       (unsigned long long)v.lost);
	fflush(stdout);
	shmq_sub_close(sub);
	_exit(0);
}

static void pub_child(shmq_bus *bus, const struct run *run, struct shared *sh, uint32_t idx,
		      int ready, int go)
{
	shmq_pub *pub;
	char c;
	int r;

	alarm(WATCHDOG_S);
	r = shmq_pub_open(bus, run->name, run->pub_flags, &run->cfg, &pub);
	if (r < 0) {
		fprintf(stderr, "# producer %u: open: %s\n", idx, shmq_strerror(r));
		_exit(2);
	}
	if (write(ready, "p", 1) != 1 || read(go, &c, 1) < 0) /* EOF: everyone is ready */
		_exit(3);
	close(ready);
	r = produce(pub, idx, run->n, sh);
	if (r < 0) {
		atomic_store(&sh->stop, 1);
		fprintf(stderr, "# producer %u: %s\n", idx, shmq_strerror(r));
		_exit(1);
	}
	shmq_pub_close(pub);
	_exit(0);
}

static pid_t fork_role(shmq_bus *bus, const struct run *run, struct shared *sh, int i, int ready[2],
		       int go[2])
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid != 0)
		return pid;
	close(ready[0]);
	close(go[1]);
	if ((uint32_t)i < run->nsub)
		sub_child(bus, run, sh, ready[1], run->peek_last && (uint32_t)i == run->nsub - 1);
	pub_child(bus, run, sh, (uint32_t)i - run->nsub, ready[1], go[0]);
	_exit(4);
}

/* Read @n readiness bytes, waiting at most 30 s for each; return how many came. */
static uint32_t read_ready(int fd, uint32_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint32_t got = 0;
	char c;

	while (got < n && poll(&pfd, 1, 30000) == 1 && read(fd, &c, 1) == 1)
		got++;
	return got;
}

/* Subscribers attach first, then producers; the producers start together. */
static void run_processes(const struct run *run)
{
	uint32_t n = run->nsub + run->nprod, forked = 0, got;
	struct shared *sh = map_shared(sizeof(*sh));
	shmq_bus *bus = test_bus();
	struct shmq_topic_stats st;
	pid_t pids[MAX_PRODS + 8];
	int ready[2], go[2], status[MAX_PRODS + 8], failed = 0;
	shmq_pub *pub;

	assert_int_equal(
		shmq_pub_open(bus, run->name, SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &run->cfg, &pub),
		0);
	shmq_pub_close(pub);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	while (forked < run->nsub)
		pids[forked] = fork_role(bus, run, sh, (int)forked, ready, go), forked++;
	got = read_ready(ready[0], run->nsub); /* every subscriber is attached */
	if (got == run->nsub) {
		while (forked < n)
			pids[forked] = fork_role(bus, run, sh, (int)forked, ready, go), forked++;
		got += read_ready(ready[0], run->nprod);
	}
	if (got < n) { /* someone could not attach: end them all */
		atomic_store(&sh->stop, 1);
		for (uint32_t i = 0; i < forked; i++)
			kill(pids[i], SIGKILL);
	}
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]); /* go: the producers read EOF */
	for (uint32_t i = 0; i < forked; i++) {
		status[i] = test_wait(pids[i]);
		failed |= status[i] != 0;
	}
	if (failed || got < n)
		for (uint32_t i = 0; i < forked; i++)
			fprintf(stderr, "# %s %u: exit status %d\n",
				i < run->nsub ? "subscriber" : "producer", i, status[i]);
	assert_int_equal(got, n);
	assert_false(failed);
	assert_true(shmq_topic_stat(bus, run->name, &st, NULL, 0) >= 0);
	assert_int_equal(st.tail, run->nprod * run->n + 1);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.subscribers, 0);
	test_unlink(bus, run->name);
	shmq_bus_close(bus);
	munmap(sh, sizeof(*sh));
}

static void test_reliable_processes(void **state)
{
	struct run run = {
		.name = "rel",
		.cfg = { .slots = 256,
			 .max_msg = MAX_MSG,
			 .policy = SHMQ_TOPIC_RELIABLE,
			 .claim_timeout_ns = RUN_CLAIM_TIMEOUT_NS },
		.nprod = 4,
		.nsub = 3,
		.n = test_scaled(1000000),
		.peek_last = true,
	};

	run_processes(&run);
	printf("# reliable: %u producers x %llu records, %u subscribers checked every one\n",
	       run.nprod, (unsigned long long)run.n, run.nsub);
}

/* One exclusive producer (plain stores of the tail) and two subscribers. */
static void test_exclusive_processes(void **state)
{
	struct run run = {
		.name = "excl",
		.cfg = { .slots = 128,
			 .max_msg = MAX_MSG,
			 .policy = SHMQ_TOPIC_RELIABLE,
			 .claim_timeout_ns = RUN_CLAIM_TIMEOUT_NS },
		.nprod = 1,
		.nsub = 2,
		.n = test_scaled(2000000),
		.peek_last = true,
		.pub_flags = SHMQ_PUB_EXCLUSIVE,
	};

	run_processes(&run);
}

/*
 * Lossy: a small log and subscribers that dawdle, so they are lapped again and again. Each
 * must account for every record exactly: received + lost == published, and what it gets is
 * in order per producer, complete and untorn.
 */
static void test_lossy_processes(void **state)
{
	struct run run = {
		.name = "lossy",
		.cfg = { .slots = 16,
			 .max_msg = MAX_MSG,
			 .policy = SHMQ_TOPIC_LOSSY,
			 .claim_timeout_ns = RUN_CLAIM_TIMEOUT_NS },
		.nprod = 3,
		.nsub = 2,
		.n = test_scaled(300000),
		.slow = true,
	};

	run_processes(&run);
}

/* ---- the thread variant (TSan) ---- */

struct thr {
	const struct run *run;
	struct shared *sh;
	shmq_pub *pub;
	shmq_sub *sub;
	uint32_t idx;
	bool peek;
	int result;
	struct verifier v;
};

static void *pub_thread(void *p)
{
	struct thr *a = p;

	a->result = produce(a->pub, a->idx, a->run->n, a->sh);
	if (a->result < 0)
		atomic_store(&a->sh->stop, 1);
	return NULL;
}

static void *sub_thread(void *p)
{
	struct thr *a = p;
	uint64_t total = a->run->nprod * a->run->n;

	a->v = (struct verifier){ .nprod = a->run->nprod };
	a->result = a->peek ? consume_peek(a->sub, &a->v, total, a->sh)
			    : consume(a->sub, &a->v, total, false, a->sh);
	if (a->result == 0)
		a->result = final_check(a->sub, &a->v, total, a->run->n);
	if (a->result < 0) {
		atomic_store(&a->sh->stop, 1);
		shmq_sub_close(a->sub); /* stop gating the producers */
		a->sub = NULL;
	}
	return NULL;
}

/*
 * Reliable only. (No lossy thread variant: a lossy reader deliberately races with the
 * producer that laps it, seqlock-style, and TSan would report that race by design.)
 */
static void test_reliable_threads(void **state)
{
	struct run run = {
		.name = "thr",
		.cfg = { .slots = 64,
			 .max_msg = MAX_MSG,
			 .policy = SHMQ_TOPIC_RELIABLE,
			 .claim_timeout_ns = RUN_CLAIM_TIMEOUT_NS },
		.nprod = 4,
		.nsub = 3,
		.n = test_scaled(100000),
	};
	struct shared sh = { 0 };
	shmq_bus *bus = test_bus();
	struct thr pa[4], sa[3];
	pthread_t pt[4], st[3];

	for (int i = 0; i < 3; i++) {
		sa[i] = (struct thr){ .run = &run, .sh = &sh, .peek = i == 2 };
		assert_int_equal(
			shmq_sub_open(bus, "thr", SHMQ_OPEN_CREATE, &run.cfg, 0, &sa[i].sub), 0);
	}
	for (int i = 0; i < 4; i++) {
		pa[i] = (struct thr){ .run = &run, .sh = &sh, .idx = (uint32_t)i };
		assert_int_equal(shmq_pub_open(bus, "thr", 0, &run.cfg, &pa[i].pub), 0);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&st[i], NULL, sub_thread, &sa[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&pt[i], NULL, pub_thread, &pa[i]), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(pt[i], NULL), 0);
		shmq_pub_close(pa[i].pub);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(st[i], NULL), 0);
		if (sa[i].result)
			fprintf(stderr, "# subscriber thread %d: %s\n", i, sa[i].v.why);
		shmq_sub_close(sa[i].sub);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pa[i].result, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sa[i].result, 0);
	test_unlink(bus, "thr");
	shmq_bus_close(bus);
	printf("# threads: %u producers x %llu records, %u subscribers\n", run.nprod,
	       (unsigned long long)run.n, run.nsub);
}

/* ---- crashes between claim and commit ---- */

#define CLAIM_TIMEOUT_NS 50000000ull /* 50 ms */
#define DEADLINE_NS 10000000000ull /* generous: only a hang reaches it */

/* Shared with the parent: what the stopped child claimed, and what its send returned. */
struct crash_shm {
	_Atomic uint64_t seq;
	_Atomic int rc;
};

static struct crash_shm *crash;

static uint64_t topic_skipped(shmq_bus *bus, const char *name)
{
	struct shmq_topic_stats st;

	assert_true(shmq_topic_stat(bus, name, &st, NULL, 0) >= 0);
	return st.skipped;
}
static int hook_phase = -1;

/* The test hook, in the child only: stop (SIGSTOP) once, at the chosen phase. */
static void stop_in_hook(int phase, uint64_t seq)
{
	if (phase != hook_phase)
		return;
	hook_phase = -1;
	atomic_store(&crash->seq, seq);
	raise(SIGSTOP);
}

/* A producer child that publishes @before records, then stops in the hook on the next. */
static pid_t spawn_stopper(shmq_bus *bus, const char *name, const struct shmq_topic_config *cfg,
			   int phase, int before)
{
	shmq_pub *pub;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid != 0)
		return pid;
	alarm(60);
	/* A failed assertion ends the parent with this child stopped: it must not stay. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (shmq_pub_open(bus, name, 0, cfg, &pub) < 0)
		_exit(2);
	for (int i = 0; i < before; i++)
		if (shmq_pub_send(pub, "before", 6, 1) < 0)
			_exit(3);
	hook_phase = phase;
	shmqi_topic_test_hook = stop_in_hook;
	atomic_store(&crash->rc, 1);
	atomic_store(&crash->rc, shmq_pub_send(pub, "stopped", 7, 2)); /* after SIGCONT */
	if (atomic_load(&crash->rc) < 0)
		_exit(4);
	shmq_pub_close(pub);
	_exit(0);
}

/* Wait until the child stopped in the hook; return the sequence it claimed. */
static uint64_t wait_stopped(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, WUNTRACED) < 0)
		assert_int_equal(errno, EINTR);
	if (!WIFSTOPPED(st)) {
		kill(pid, SIGKILL);
		fail_msg("the producer did not stop in the test hook (status %#x)", st);
	}
	return atomic_load(&crash->seq);
}

/* Poll for @ns (busy: many looks at the stuck record); every receive must be -EAGAIN. */
static void expect_held(shmq_sub *sub, uint64_t ns)
{
	uint64_t end = test_now_ns() + ns;
	uint8_t buf[64];
	long polls = 0;

	while (test_now_ns() < end) {
		assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), NULL), -EAGAIN);
		polls++;
	}
	assert_true(polls > 1000);
}

/* Poll until a record arrives (or the deadline); return its info. */
static struct shmq_sub_msg recv_within(shmq_sub *sub, uint8_t *buf, size_t cap, int *ret_len)
{
	uint64_t deadline = test_now_ns() + DEADLINE_NS;
	struct shmq_sub_msg info;
	int r;

	while ((r = shmq_sub_recv(sub, buf, cap, &info)) == -EAGAIN && test_now_ns() < deadline)
		;
	if (r < 0)
		fail_msg("recv: %d (%s)", r, shmq_strerror(r));
	*ret_len = r;
	return info;
}

static void expect_rec(shmq_sub *sub, uint64_t seq, const char *payload, uint64_t skipped)
{
	struct shmq_sub_msg info;
	uint8_t buf[64];
	int r;

	info = recv_within(sub, buf, sizeof(buf), &r);
	assert_int_equal(info.seq, seq);
	assert_int_equal(info.skipped, skipped);
	assert_int_equal(info.lost, 0);
	assert_int_equal(r, (int)strlen(payload));
	assert_memory_equal(buf, payload, strlen(payload));
}

/*
 * One round: a child stops at @phase while claiming; the parent's producer publishes three
 * records after it. While the child is alive (stopped) the subscriber waits at its record
 * for 3x the claim timeout; then the child is killed (or continued) and the subscriber
 * steps over the hole (or gets the record).
 */
static uint64_t crash_round(shmq_bus *bus, const struct shmq_topic_config *cfg, shmq_pub *pub,
			    shmq_sub *sub, int phase, bool kill_it, uint64_t next)
{
	pid_t pid = spawn_stopper(bus, "crash", cfg, phase, 2);
	uint64_t s = wait_stopped(pid);

	assert_int_equal(s, next + 2);
	expect_rec(sub, next, "before", 0);
	expect_rec(sub, next + 1, "before", 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(shmq_pub_send(pub, "after", 5, 3), 0);
	expect_held(sub, 3 * CLAIM_TIMEOUT_NS);
	if (kill_it) {
		kill(pid, SIGKILL);
		assert_int_equal(test_wait(pid), 128 + SIGKILL); /* reaped: no longer alive */
		expect_rec(sub, s + 1, "after", 1);
	} else {
		kill(pid, SIGCONT);
		assert_int_equal(test_wait(pid), 0);
		expect_rec(sub, s, "stopped", 0);
		expect_rec(sub, s + 1, "after", 0);
	}
	expect_rec(sub, s + 2, "after", 0);
	expect_rec(sub, s + 3, "after", 0);
	return s + 4;
}

static void test_crash_claims(void **state)
{
	const struct shmq_topic_config cfg = { .slots = 64,
					       .max_msg = 256,
					       .policy = SHMQ_TOPIC_RELIABLE,
					       .claim_timeout_ns = CLAIM_TIMEOUT_NS };
	shmq_bus *bus = test_bus();
	struct shmq_sub_stats ss;
	shmq_pub *pub;
	shmq_sub *sub;
	uint64_t next = 1;

	crash = map_shared(sizeof(*crash));
	assert_int_equal(shmq_sub_open(bus, "crash", SHMQ_OPEN_CREATE, &cfg, 0, &sub), 0);
	assert_int_equal(shmq_pub_open(bus, "crash", 0, &cfg, &pub), 0);
	next = crash_round(bus, &cfg, pub, sub, 0, true, next);
	assert_int_equal(topic_skipped(bus, "crash"), 1);
	next = crash_round(bus, &cfg, pub, sub, 1, true, next);
	assert_int_equal(topic_skipped(bus, "crash"), 2);
	next = crash_round(bus, &cfg, pub, sub, 1, false, next); /* continued: nothing skipped */
	next = crash_round(bus, &cfg, pub, sub, 0, false, next);
	assert_int_equal(topic_skipped(bus, "crash"), 2);
	assert_int_equal(shmq_sub_stats(sub, &ss), 0);
	assert_int_equal(ss.skipped, 2);
	assert_int_equal(ss.lost, 0);
	assert_int_equal(ss.cursor, next);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "crash");
	shmq_bus_close(bus);
	munmap(crash, sizeof(*crash));
}

/* The stamp of @seq's slot, read directly (white box). */
static uint64_t slot_stamp(shmq_bus *bus, const char *name, uint64_t seq)
{
	const struct shmqi_topic *ctl;
	uint64_t v;
	uint8_t *base;
	size_t size;

	base = test_map(bus, name, &size);
	ctl = (const struct shmqi_topic *)(base + SHMQI_TOPIC_BODY_OFF);
	v = atomic_load(&((struct shmqi_trec *)(base + ctl->ring_off +
						(seq & (ctl->slots - 1)) * ctl->slot_size))
				 ->stamp);
	munmap(base, size);
	return v;
}

/* Send one 1-byte record, timing the call. */
static int timed_send(shmq_pub *pub, uint64_t *ret_ns)
{
	uint64_t t0 = test_now_ns();
	int r = shmq_pub_send(pub, "p", 1, 0);

	*ret_ns = test_now_ns() - t0;
	return r;
}

/*
 * A producer a lap later needs the slot of a claimant stopped (at @phase) on record 3, with
 * nobody subscribed, so that nothing but that slot holds it back. A live claimant is never
 * overwritten: the later producer waits the claim timeout, then gives up its own record
 * (-ETIMEDOUT), which becomes a skipped one; the claimant, continued, commits its record.
 * A dead claimant's record is skipped after the claim timeout and the slot reused.
 *
 * With @latest, a subscriber joins at the latest record (4) while the claimant is stopped
 * and reads 4..10 as they come: its cursor gates the producer, but never vouches for
 * record 3, which it did not pass; the producer must still look at that slot (F1).
 */
static void latest_reader(shmq_bus *bus, const struct shmq_topic_config *cfg, shmq_pub *pub)
{
	shmq_sub *sub;

	assert_int_equal(shmq_sub_open(bus, "lap", SHMQ_SUB_LATEST, cfg, 0, &sub), 0);
	for (uint64_t s = 4; s <= 10; s++) { /* slots 4..7, 0..2 */
		assert_int_equal(shmq_pub_send(pub, "p", 1, 0), 0);
		expect_rec(sub, s, "p", 0);
	}
	shmq_sub_close(sub);
}

static void lap_round(uint32_t policy, int phase, bool kill_it, bool latest)
{
	const struct shmq_topic_config cfg = {
		.slots = 8, .max_msg = 64, .policy = policy, .claim_timeout_ns = CLAIM_TIMEOUT_NS
	};
	shmq_bus *bus = test_bus();
	uint64_t ns, first;
	shmq_pub *pub;
	shmq_sub *sub;
	pid_t pid;

	assert_int_equal(shmq_pub_open(bus, "lap", SHMQ_OPEN_CREATE, &cfg, &pub), 0);
	assert_int_equal(shmq_pub_send(pub, "p", 1, 0), 0);
	assert_int_equal(shmq_pub_send(pub, "p", 1, 0), 0);
	pid = spawn_stopper(bus, "lap", &cfg, phase, 0);
	assert_int_equal(wait_stopped(pid), 3);
	if (latest)
		latest_reader(bus, &cfg, pub);
	else
		for (int i = 4; i <= 10; i++) /* slots 4..7, 0..2 */
			assert_int_equal(shmq_pub_send(pub, "p", 1, 0), 0);
	if (kill_it) {
		kill(pid, SIGKILL);
		assert_int_equal(test_wait(pid), 128 + SIGKILL);
		assert_int_equal(timed_send(pub, &ns), 0); /* 11: record 3 skipped, slot reused */
		assert_true(ns >= CLAIM_TIMEOUT_NS);
		assert_int_equal(topic_skipped(bus, "lap"), 1);
		first = 4;
	} else {
		assert_int_equal(timed_send(pub, &ns), -ETIMEDOUT); /* 11 is abandoned */
		assert_true(ns >= CLAIM_TIMEOUT_NS);
		assert_int_equal(topic_skipped(bus, "lap"), 0);
		kill(pid, SIGCONT);
		assert_int_equal(test_wait(pid), 0);
		assert_int_equal(atomic_load(&crash->rc), 0);
		assert_int_equal(slot_stamp(bus, "lap", 3), SHMQI_STAMP(3, SHMQI_STAMP_COMMITTED));
		assert_int_equal(shmq_pub_send(pub, "p", 1, 0), 0); /* 12 */
		first = 5;
	}
	/* What is retained: complete records, and the abandoned one as a skipped record. */
	assert_int_equal(shmq_sub_open(bus, "lap", SHMQ_SUB_EARLIEST, &cfg, 0, &sub), 0);
	for (uint64_t s = first; s <= 10; s++)
		expect_rec(sub, s, "p", 0);
	expect_rec(sub, kill_it ? 11 : 12, "p", kill_it ? 0 : 1);
	assert_int_equal(shmq_sub_recv(sub, NULL, 0, NULL), -EAGAIN);
	assert_int_equal(topic_skipped(bus, "lap"), 1);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "lap");
	shmq_bus_close(bus);
}

static void test_crash_lap(void **state)
{
	crash = map_shared(sizeof(*crash));
	for (uint32_t policy = 0; policy <= 1; policy++) {
		for (int phase = 0; phase <= 1; phase++) {
			for (int latest = 0; latest <= 1; latest++) {
				lap_round(policy, phase, false, latest);
				lap_round(policy, phase, true, latest);
			}
		}
	}
	munmap(crash, sizeof(*crash));
}

/*
 * A claimant taken for dead while it is not (here: its claim is erased from the producer
 * table while it is stopped; in real life, say, a pid namespace that hides it) has its
 * record skipped by the subscriber waiting at it. Continued, its send fails with -ESTALE
 * (its record is lost) and it writes nothing: with @reuse, the slot has meanwhile been
 * given to the record a lap later, which must arrive intact. With @lap, a lap of records
 * is published and read first: on a reliable topic the subscriber's cursor then vouches
 * for every slot, and producers own them without looking at them (F1).
 */
static void erase_claim(shmq_bus *bus, const char *name, pid_t pid)
{
	struct shmqi_prod_slot *prods;
	struct shmqi_topic *ctl;
	uint8_t *base;
	size_t size;

	base = test_map(bus, name, &size);
	ctl = (struct shmqi_topic *)(base + SHMQI_TOPIC_BODY_OFF);
	prods = (struct shmqi_prod_slot *)(base + ctl->prods_off);
	for (uint32_t i = 0; i < ctl->max_prods; i++)
		if (shmqi_head_pid(atomic_load(&prods[i].owner.head)) == pid)
			atomic_store(&prods[i].pending, 0);
	munmap(base, size);
}

static void estale_round(uint32_t policy, int phase, bool reuse, bool lap)
{
	const struct shmq_topic_config cfg = {
		.slots = 8, .max_msg = 64, .policy = policy, .claim_timeout_ns = CLAIM_TIMEOUT_NS
	};
	shmq_bus *bus = test_bus();
	uint64_t b = lap ? cfg.slots : 0, last = b + (reuse ? 10 : 3), stamp;
	shmq_pub *pub;
	shmq_sub *sub;
	pid_t pid;
	int rc;

	assert_int_equal(shmq_sub_open(bus, "stale", SHMQ_OPEN_CREATE, &cfg, 0, &sub), 0);
	assert_int_equal(shmq_pub_open(bus, "stale", 0, &cfg, &pub), 0);
	for (uint64_t s = 1; s <= b; s++) {
		assert_int_equal(shmq_pub_send(pub, "early", 5, 0), 0);
		expect_rec(sub, s, "early", 0);
	}
	pid = spawn_stopper(bus, "stale", &cfg, phase, 1);
	assert_int_equal(wait_stopped(pid), b + 2);
	assert_int_equal(shmq_pub_send(pub, "after", 5, 0), 0); /* b + 3 */
	expect_rec(sub, b + 1, "before", 0);
	erase_claim(bus, "stale", pid);
	expect_rec(sub, b + 3, "after", 1);
	for (uint64_t s = b + 4; s <= last; s++) { /* b + 10 takes the slot of b + 2 */
		assert_int_equal(shmq_pub_send(pub, "after", 5, 0), 0);
		if (s < last)
			expect_rec(sub, s, "after", 0);
	}
	kill(pid, SIGCONT);
	test_wait(pid); /* exits 4 when its send failed */
	rc = atomic_load(&crash->rc);
	stamp = slot_stamp(bus, "stale", b + 2);
	if (rc != -ESTALE) {
		shmq_sub_close(sub);
		shmq_pub_close(pub);
		test_unlink(bus, "stale");
		shmq_bus_close(bus);
		fail_msg("%s, phase %d%s%s: a claimant taken for dead got %d from send, not "
			 "-ESTALE; its slot now holds stamp seq %llu state %llu",
			 policy ? "lossy" : "reliable", phase, reuse ? ", slot reused" : "",
			 lap ? ", second lap" : "", rc, (unsigned long long)(stamp >> 2),
			 (unsigned long long)(stamp & 3));
	}
	assert_int_equal(stamp, reuse ? SHMQI_STAMP(b + 10, SHMQI_STAMP_COMMITTED)
				      : SHMQI_STAMP(b + 2, SHMQI_STAMP_SKIPPED));
	assert_int_equal(shmq_pub_send(pub, "after", 5, 0), 0);
	if (reuse)
		expect_rec(sub, b + 10, "after", 0);
	expect_rec(sub, last + 1, "after", 0);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "stale");
	shmq_bus_close(bus);
}

static void test_crash_estale(void **state)
{
	crash = map_shared(sizeof(*crash));
	for (int lap = 0; lap <= 1; lap++)
		for (int reuse = 0; reuse <= 1; reuse++)
			for (int phase = 0; phase <= 1; phase++)
				for (uint32_t policy = 0; policy <= 1; policy++)
					estale_round(policy, phase, reuse, lap);
	munmap(crash, sizeof(*crash));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest all[] = {
		cmocka_unit_test(test_reliable_processes),
		cmocka_unit_test(test_exclusive_processes),
		cmocka_unit_test(test_lossy_processes),
		cmocka_unit_test(test_reliable_threads),
		cmocka_unit_test(test_crash_claims),
		cmocka_unit_test(test_crash_lap),
		cmocka_unit_test(test_crash_estale),
	};
	const struct CMUnitTest threads_only[] = {
		cmocka_unit_test(test_reliable_threads),
	};

	/* "--threads": the variant that runs under ThreadSanitizer (it cannot see processes). */
	if (argc > 1 && strcmp(argv[1], "--threads") == 0)
		return cmocka_run_group_tests_name("topic-stress-threads", threads_only, NULL,
						   test_cleanup);
	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("topic-stress", all, NULL, test_cleanup);
}
