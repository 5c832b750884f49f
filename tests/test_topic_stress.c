// SPDX-License-Identifier: MIT
/* test_topic_stress.c - topic stress: many producers and subscribers, lossy accounting, crashes. */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "common.h"
#include "internal.h"
#include "shm_layout.h"
#include "stress.h"

#define MAX_MSG 1000u
#define MIN_LEN 24u /* idx (4), len (4), counter (8), checksum (8) */
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
 * What one subscriber has seen beyond the harness's per-producer order: seq == last seq + 1 +
 * lost + skipped, no loss on a reliable topic, one producer id per producer index.
 */
struct verifier {
	uint32_t nprod;
	bool lossy;
	uint64_t last_seq;
	uint32_t prod_id[STRESS_MAX_PRODS];
	uint64_t received, lost, skipped;
};

static int bad(struct verifier *v, const struct shmq_sub_msg *info, const char *what, char *why)
{
	snprintf(why, STRESS_WHY, "%s (seq %llu after %llu, lost %llu, skipped %llu)", what,
		 (unsigned long long)info->seq, (unsigned long long)v->last_seq,
		 (unsigned long long)info->lost, (unsigned long long)info->skipped);
	return -EPROTO;
}

static int check_payload(struct verifier *v, const uint8_t *buf, const struct shmq_sub_msg *info,
			 struct stress_rec *rec, char *why)
{
	uint32_t idx, len;
	uint64_t c, sum;

	if (info->len < MIN_LEN || info->len > MAX_MSG)
		return bad(v, info, "length out of range", why);
	memcpy(&idx, buf, 4);
	memcpy(&len, buf + 4, 4);
	memcpy(&c, buf + 8, 8);
	memcpy(&sum, buf + info->len - 8, 8);
	if (idx >= v->nprod || len != info->len || len != msg_len(idx, c))
		return bad(v, info, "bad producer index or length", why);
	if (sum != test_checksum(buf, len - 8))
		return bad(v, info, "bad checksum (torn record?)", why);
	if (info->corr_id != corr_of(idx, c) || info->producer_seq != c)
		return bad(v, info, "corr_id or producer_seq does not match the payload", why);
	*rec = (struct stress_rec){ .producer = idx, .seq = c };
	return 0;
}

static int verify(struct verifier *v, const uint8_t *buf, const struct shmq_sub_msg *info,
		  struct stress_rec *rec, char *why)
{
	if (info->seq != v->last_seq + 1 + info->lost + info->skipped)
		return bad(v, info, "sequence gap not accounted for", why);
	if (!v->lossy && (info->lost || info->skipped))
		return bad(v, info, "loss on a reliable topic", why);
	if (check_payload(v, buf, info, rec, why) < 0)
		return -EPROTO;
	if (info->producer_id == 0)
		return bad(v, info, "producer id 0", why);
	if (!v->prod_id[rec->producer])
		v->prod_id[rec->producer] = info->producer_id;
	else if (v->prod_id[rec->producer] != info->producer_id)
		return bad(v, info, "producer id changed", why);
	v->last_seq = info->seq;
	v->received++;
	v->lost += info->lost;
	v->skipped += info->skipped;
	return 0;
}

/* ---- the topic's adapter ---- */

struct topic_run {
	const char *name;
	struct shmq_topic_config cfg;
	bool slow; /* subscribers dawdle */
	bool peek_last; /* the last subscriber receives zero-copy (reliable topics) */
	unsigned pub_flags; /* SHMQ_PUB_EXCLUSIVE for a sole producer */
};

static int pub_open(struct stress_run *run, uint32_t id, void **ret_pub, uint64_t *ret_next)
{
	struct topic_run *t = run->ctx;

	return shmq_pub_open(run->bus, t->name, t->pub_flags, &t->cfg, (shmq_pub **)ret_pub);
}

/* Publish from counter @c with a mix of copy, zero-copy and batch sends. */
static int send_some(void *pub, uint32_t idx, uint64_t c, uint64_t n)
{
	static _Thread_local uint8_t bufs[8][MAX_MSG];
	struct shmq_pub_msg m[8];
	void *zc;
	int r, k;

	switch (c % 3) {
	case 0:
		make_msg(bufs[0], idx, c);
		r = shmq_pub_send(pub, bufs[0], msg_len(idx, c), corr_of(idx, c));
		return r < 0 ? r : 1;
	case 1:
		r = shmq_pub_claim(pub, msg_len(idx, c), &zc);
		if (r == 0) {
			make_msg(zc, idx, c);
			r = shmq_pub_commit(pub, msg_len(idx, c), corr_of(idx, c));
		}
		return r < 0 ? r : 1;
	default:
		for (k = 0; k < 8 && c + (uint64_t)k <= n; k++) {
			make_msg(bufs[k], idx, c + (uint64_t)k);
			m[k] = (struct shmq_pub_msg){ bufs[k], msg_len(idx, c + (uint64_t)k),
						      corr_of(idx, c + (uint64_t)k) };
		}
		return shmq_pub_send_many(pub, m, (size_t)k);
	}
}

static void pub_close(void *pub)
{
	shmq_pub_close(pub);
}

struct tsub {
	shmq_sub *sub;
	struct verifier v;
	uint64_t total, rnd;
	unsigned turn;
	bool peek, slow;
};

static int sub_open(struct stress_run *run, uint32_t id, void **ret_sub)
{
	struct topic_run *t = run->ctx;
	struct tsub *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	*s = (struct tsub){ .v = { .nprod = run->nprod,
				   .lossy = t->cfg.policy == SHMQ_TOPIC_LOSSY },
			    .total = run->nprod * run->n,
			    .rnd = (uint64_t)getpid() * 77 + id + 1,
			    .peek = t->peek_last && id == run->ncons - 1,
			    .slow = t->slow };
	r = shmq_sub_open(run->bus, t->name, 0, &t->cfg, 0, &s->sub);
	if (r < 0)
		free(s);
	else
		*ret_sub = s;
	return r;
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

/* Zero-copy: peek up to 4 records, check them in place, release them together. */
static int recv_peek(struct tsub *s, struct stress_rec *recs, char *why)
{
	struct shmq_sub_msg info;
	const void *data;
	int r, n = 0;

	while (n < 4 && s->v.last_seq < s->total) {
		r = shmq_sub_peek(s->sub, &data, &info);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			return snprintf(why, STRESS_WHY, "peek: %s", shmq_strerror(r)), r;
		if (verify(&s->v, data, &info, &recs[n++], why) < 0)
			return -EPROTO;
	}
	if (n == 0)
		return -EAGAIN;
	r = shmq_sub_release(s->sub);
	if (r != n)
		return snprintf(why, STRESS_WHY, "release: %d of %d", r, n), -EPROTO;
	return n;
}

/* Single and batch receives in turn. */
static int recv_some(void *sub, struct stress_rec *recs, int cap, char *why)
{
	static _Thread_local uint8_t bufs[4][MAX_MSG];
	struct shmq_sub_rmsg rm[4];
	struct tsub *s = sub;
	int r;

	if (s->peek)
		return recv_peek(s, recs, why);
	for (int i = 0; i < 4; i++)
		rm[i] = (struct shmq_sub_rmsg){ .buf = bufs[i], .cap = MAX_MSG };
	if (s->turn++ % 2) {
		r = shmq_sub_recv(s->sub, bufs[0], MAX_MSG, &rm[0].info);
		r = r < 0 ? r : 1;
	} else {
		r = shmq_sub_recv_many(s->sub, rm, 4);
	}
	if (r < 0 && r != -EAGAIN)
		snprintf(why, STRESS_WHY, "recv: %s", shmq_strerror(r));
	for (int i = 0; i < r; i++)
		if (verify(&s->v, bufs[i], &rm[i].info, &recs[i], why) < 0)
			return -EPROTO;
	if (r > 0 && s->slow)
		maybe_dawdle(&s->rnd);
	return r;
}

static bool finished(void *sub)
{
	struct tsub *s = sub;

	return s->v.last_seq >= s->total;
}

/* After the last record: nothing more, and the library's counters agree with ours. */
static int final_check(void *sub, char *why)
{
	struct tsub *s = sub;
	struct verifier *v = &s->v;
	struct shmq_sub_stats ss;

	if (shmq_sub_recv(s->sub, NULL, 0, NULL) != -EAGAIN)
		return snprintf(why, STRESS_WHY, "a record after the last"), -EPROTO;
	shmq_sub_stats(s->sub, &ss);
	if (ss.received != v->received || ss.lost != v->lost || ss.skipped != v->skipped ||
	    ss.cursor != s->total + 1)
		return snprintf(why, STRESS_WHY,
				"stats disagree: received %llu/%llu lost %llu/%llu cursor %llu",
				(unsigned long long)ss.received, (unsigned long long)v->received,
				(unsigned long long)ss.lost, (unsigned long long)v->lost,
				(unsigned long long)ss.cursor),
		       -EPROTO;
	if (v->received + v->lost + v->skipped != s->total)
		return snprintf(why, STRESS_WHY, "received + lost != published"), -EPROTO;
	return 0;
}

static void sub_close(void *sub)
{
	struct tsub *s = sub;

	shmq_sub_close(s->sub);
	free(s);
}

static void *map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	memset(p, 0, size);
	return p;
}

/*
 * Subscribers attach first, then producers, which start together; every subscriber checks
 * every record it gets, and what the topic says after agrees.
 */
static void run_topic(struct topic_run *t, uint32_t nprod, uint32_t nsub, uint64_t n, bool threads)
{
	struct stress_kind kind = {
		.name = "topic",
		.promise = t->cfg.policy == SHMQ_TOPIC_LOSSY ? STRESS_EACH_LOSSY : STRESS_EACH_ALL,
		.pub_open = pub_open,
		.send = send_some,
		.pub_close = pub_close,
		.sub_open = sub_open,
		.recv = recv_some,
		.finished = finished,
		.sub_final = final_check,
		.sub_close = sub_close,
	};
	struct stress_run run = { .kind = &kind,
				  .bus = test_bus(),
				  .ctx = t,
				  .nprod = nprod,
				  .ncons = nsub,
				  .n = n,
				  .threads = threads };
	struct shmq_topic_stats st;
	shmq_pub *pub;

	t->cfg.claim_timeout_ns = RUN_CLAIM_TIMEOUT_NS;
	assert_int_equal(
		shmq_pub_open(run.bus, t->name, SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &t->cfg, &pub),
		0);
	shmq_pub_close(pub);
	stress_run(&run);
	assert_true(shmq_topic_stat(run.bus, t->name, &st, NULL, 0) >= 0);
	assert_int_equal(st.tail, nprod * n + 1);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.subscribers, 0);
	test_unlink(run.bus, t->name);
	shmq_bus_close(run.bus);
	printf("# %s: %u producers x %llu records, %u subscribers\n", t->name, nprod,
	       (unsigned long long)n, nsub);
}

static void test_reliable_processes(void **state)
{
	struct topic_run t = {
		.name = "rel",
		.cfg = { .slots = 256, .max_msg = MAX_MSG, .policy = SHMQ_TOPIC_RELIABLE },
		.peek_last = true,
	};

	run_topic(&t, 4, 3, test_scaled(1000000), false);
}

/* One exclusive producer (plain stores of the tail) and two subscribers. */
static void test_exclusive_processes(void **state)
{
	struct topic_run t = {
		.name = "excl",
		.cfg = { .slots = 128, .max_msg = MAX_MSG, .policy = SHMQ_TOPIC_RELIABLE },
		.peek_last = true,
		.pub_flags = SHMQ_PUB_EXCLUSIVE,
	};

	run_topic(&t, 1, 2, test_scaled(2000000), false);
}

/*
 * Lossy: a small log and subscribers that dawdle, so they are lapped again and again. Each
 * must account for every record exactly: received + lost == published, and what it gets is
 * in order per producer, complete and untorn.
 */
static void test_lossy_processes(void **state)
{
	struct topic_run t = {
		.name = "lossy",
		.cfg = { .slots = 16, .max_msg = MAX_MSG, .policy = SHMQ_TOPIC_LOSSY },
		.slow = true,
	};

	run_topic(&t, 3, 2, test_scaled(300000), false);
}

/*
 * The thread variant (TSan), reliable only. (No lossy thread variant: a lossy reader
 * deliberately races with the producer that laps it, seqlock-style, and TSan would report
 * that race by design.)
 */
static void test_reliable_threads(void **state)
{
	struct topic_run t = {
		.name = "thr",
		.cfg = { .slots = 64, .max_msg = MAX_MSG, .policy = SHMQ_TOPIC_RELIABLE },
		.peek_last = true,
	};

	run_topic(&t, 4, 3, test_scaled(100000), true);
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
	struct shmqi_prod_entry *prods;
	struct shmqi_topic *ctl;
	uint8_t *base;
	size_t size;

	base = test_map(bus, name, &size);
	ctl = (struct shmqi_topic *)(base + SHMQI_TOPIC_BODY_OFF);
	prods = (struct shmqi_prod_entry *)(base + ctl->prods_off);
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
