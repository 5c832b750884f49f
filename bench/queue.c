// SPDX-License-Identifier: MIT
/* queue.c - shmq-bench queue: consumer groups' recv + ack against a subscriber and the kernel. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pingpong.h"
#include "throughput.h"

/*
 * Four measurements of work queues (issue 15), each against its baseline of the same run:
 *
 * cost:   in one process, a reliable topic with a subscriber and a group member on it;
 *         rounds of COST_BATCH records are published, then the subscriber's shmq_sub_recv()
 *         of all of them is timed, and the member's shmq_group_recv() + shmq_group_ack() of
 *         all of them (which goes first alternates from round to round).
 * queue:  1 producer and M members (1, 2, 4), forked; each member loops recv + ack. The
 *         clock runs from the parent's "go" to the last ack (wq_serve()).
 * kernel: throughput's posix-mq and uds (one message per send), the same reps interleaved.
 * rtt:    ping-pong whose echo is a group member that receives, acks and replies
 *         (shmq-queue), against the same with a subscriber echo (shmq-topic).
 */

#define COST_BATCH 2048u
#define COST_SLOTS 4096u
#define COST_MIN_MSG 64u
#define COST_WARMUP 8u /* untimed rounds of each rep */
#define COST_TARGET 2.5 /* recv + ack over a subscriber's recv, 64 bytes */
#define KERNEL_TARGET 10.0 /* 1-member queue over the better of posix-mq and uds, 64 bytes */
#define Q_NM 3
#define Q_MAX_MEMBERS 4

static const unsigned q_members[Q_NM] = { 1, 2, 4 };

struct q_opts {
	unsigned sizes[BENCH_MAX_SIZES];
	int nsizes;
	uint64_t msgs;
	uint64_t reps;
	uint64_t rounds;
	uint64_t iters;
	struct cpu_pair cpus;
	bool cpus_given;
	bool json;
};

/* Per-rep results, [rep][size]: the cost, the queue's rates by member count, the kernel's. */
struct q_rep {
	double sub_ns, grp_ns, ratio;
	double rate[Q_NM];
	double mq, uds;
};

struct q_summary {
	double med, min, max;
};

static void summarize(double *v, size_t n, struct q_summary *s)
{
	s->med = median_double(v, n);
	s->min = v[0];
	s->max = v[n - 1];
}

/* ==== cost: one process ==== */

struct cost_run {
	unsigned size;
	uint64_t seq; /* records published so far */
	shmq_pub *pub;
	shmq_sub *sub;
	shmq_group *grp;
	char tname[TOPIC_NAME_LEN];
	char gtopic[TOPIC_NAME_LEN];
	uint8_t *pbuf, *cbuf;
	double *sub_ns, *grp_ns; /* per timed round */
};

static int cost_open(struct cost_run *c)
{
	struct shmq_topic_config cfg;

	topic_config(&cfg, c->size);
	cfg.slots = COST_SLOTS;
	cfg.max_msg = c->size > COST_MIN_MSG ? c->size : COST_MIN_MSG;
	c->seq = 0;
	if (topic_create("qc", &cfg, 0, c->tname, &c->pub, NULL) < 0)
		return -1;
	if (topic_attach(c->tname, &cfg, 0, NULL, &c->sub) < 0)
		return -1;
	return group_create(c->tname, NULL, c->gtopic, &c->grp);
}

static void cost_close(struct cost_run *c)
{
	shmq_group_close(c->grp);
	shmq_sub_close(c->sub);
	shmq_pub_close(c->pub);
	c->grp = NULL;
	c->sub = NULL;
	c->pub = NULL;
	group_remove(c->gtopic);
	topic_unlink(c->tname);
}

/* Both readers took the previous batch: the topic has room for this one. */
static int cost_publish(struct cost_run *c)
{
	unsigned i;
	int e;

	for (i = 0; i < COST_BATCH; i++) {
		stamp(c->pbuf, c->size, ++c->seq);
		e = shmq_pub_send(c->pub, c->pbuf, c->size, 0);
		if (e < 0)
			return fail("queue cost: publish", e);
	}
	return 0;
}

/* The subscriber reads records @first.. of the batch; its time per record in *@ns. */
static int cost_sub(struct cost_run *c, uint64_t first, double *ns)
{
	struct shmq_sub_msg info;
	uint64_t t0 = now_ns(), s;
	int n;

	for (s = first; s < first + COST_BATCH; s++) {
		n = shmq_sub_recv(c->sub, c->cbuf, c->size, &info);
		if (n != (int)c->size || info.seq != s || !stamped(c->cbuf, c->size, s))
			return fail("queue cost: subscriber recv", n < 0 ? n : -EBADMSG);
	}
	*ns = (double)(now_ns() - t0) / COST_BATCH;
	return 0;
}

/* The member receives and acks the same records. */
static int cost_grp(struct cost_run *c, uint64_t first, double *ns)
{
	struct shmq_group_msg info;
	uint64_t t0 = now_ns(), s;
	int n;

	for (s = first; s < first + COST_BATCH; s++) {
		n = shmq_group_recv(c->grp, c->cbuf, c->size, &info);
		if (n != (int)c->size || info.seq != s || info.attempt != 1 ||
		    !stamped(c->cbuf, c->size, s))
			return fail("queue cost: member recv", n < 0 ? n : -EBADMSG);
		n = shmq_group_ack(c->grp, info.lease);
		if (n < 0)
			return fail("queue cost: ack", n);
	}
	*ns = (double)(now_ns() - t0) / COST_BATCH;
	return 0;
}

static int cost_round(struct cost_run *c, uint64_t round, double *sub_ns, double *grp_ns)
{
	uint64_t first = c->seq + 1;

	if (cost_publish(c) < 0)
		return -1;
	if (round & 1) /* the member first: neither always finds the records freshly written */
		return cost_grp(c, first, grp_ns) < 0 ? -1 : cost_sub(c, first, sub_ns);
	return cost_sub(c, first, sub_ns) < 0 ? -1 : cost_grp(c, first, grp_ns);
}

/* One rep: warm-up rounds, then @rounds timed; their medians into @q. */
static int cost_rep(struct cost_run *c, uint64_t rounds, struct q_rep *q)
{
	double sink_a, sink_b;
	uint64_t i;
	int e = cost_open(c);

	for (i = 0; e == 0 && i < COST_WARMUP; i++)
		e = cost_round(c, i, &sink_a, &sink_b);
	for (i = 0; e == 0 && i < rounds; i++)
		e = cost_round(c, i, &c->sub_ns[i], &c->grp_ns[i]);
	if (e == 0)
		e = group_check(c->gtopic, c->seq, "queue cost");
	cost_close(c);
	if (e < 0)
		return -1;
	q->sub_ns = median_double(c->sub_ns, rounds);
	q->grp_ns = median_double(c->grp_ns, rounds);
	q->ratio = q->grp_ns / q->sub_ns;
	return 0;
}

/* ==== queue: 1 producer, M members, all forked ==== */

enum { WQ_WAIT, WQ_WARM, WQ_TIMED };

/*
 * What the processes share. Each member's ack count is its own line, published every 64
 * acks and whenever it finds nothing to receive; a member that finds nothing sums them
 * all, and the first that sees every record acked stores the time (t1).
 */
struct wq_count {
	alignas(128) _Atomic uint64_t acked;
};

struct wq_shm {
	alignas(128) _Atomic uint32_t go; /* WQ_*: written by the parent */
	alignas(128) _Atomic uint32_t ready; /* children attached */
	alignas(128) _Atomic uint64_t t1;
	struct wq_count count[Q_MAX_MEMBERS];
};

/*
 * struct wq_run - one measurement. @bits holds a bitmap per member (@stride words apart) of
 * the records (1..@total) it acked, in shared memory: the parent checks afterwards that
 * every record was acked by exactly one member.
 */
struct wq_run {
	unsigned size;
	unsigned members;
	uint64_t warmup;
	uint64_t total;
	bool yield;
	unsigned idx; /* in a child: 0 the producer, 1..members a member */
	struct wq_shm *shm;
	uint64_t *bits;
	size_t stride;
	struct shmq_topic_config tcfg;
	char tname[TOPIC_NAME_LEN];
	char gtopic[TOPIC_NAME_LEN];
	struct spin spin;
	uint8_t *buf;
};

static uint64_t wq_acked(const struct wq_run *r)
{
	uint64_t sum = 0;
	unsigned i;

	/* A: pairs with the members' release stores of their counts in wq_serve(). */
	for (i = 0; i < r->members; i++)
		sum += atomic_load_explicit(&r->shm->count[i].acked, memory_order_acquire);
	return sum;
}

static int wq_wait_go(struct wq_run *r, uint32_t phase)
{
	/* A: pairs with the parent's release store of go in wq_drive(). */
	while (atomic_load_explicit(&r->shm->go, memory_order_acquire) < phase) {
		if (spin_check(&r->spin))
			return fail("queue: wait for go", -EPIPE);
	}
	return 0;
}

static int wq_produce(struct wq_run *r)
{
	shmq_pub *pub;
	uint64_t k;
	int e = 0;

	if (topic_attach(r->tname, &r->tcfg, 0, &pub, NULL) < 0)
		return -1;
	atomic_fetch_add_explicit(&r->shm->ready, 1, memory_order_release);
	for (k = 1; k <= r->total && e == 0; k++) {
		if (k == 1 || k == r->warmup + 1)
			e = wq_wait_go(r, k == 1 ? WQ_WARM : WQ_TIMED);
		stamp(r->buf, r->size, k);
		if (e == 0)
			e = topic_send(pub, r->buf, r->size, 0, &r->spin);
	}
	shmq_pub_close(pub);
	return e < 0 ? fail("queue producer: send", e) : 0;
}

static int bad(const struct wq_run *r, const struct shmq_group_msg *m, const char *why)
{
	fprintf(stderr, "%s: queue: member %u, record %llu (attempt %u): %s\n", BENCH_PROG, r->idx,
		(unsigned long long)m->seq, m->attempt, why);
	return -1;
}

/* Check a delivery (the producer's counter k is the record's seq) and mark it in @bits. */
static int wq_take(const struct wq_run *r, const struct shmq_group_msg *m, uint64_t *bits)
{
	uint64_t k = m->producer_seq, bit;

	if (m->len != r->size || m->attempt != 1)
		return bad(r, m, "wrong length, or a redelivery where every record is acked");
	if (r->size >= 8)
		memcpy(&k, r->buf, 8);
	if (!stamped(r->buf, r->size, k) || k < 1 || k > r->total || m->seq != k ||
	    m->producer_seq != k)
		return bad(r, m, "payload, sequence and producer sequence disagree");
	bit = UINT64_C(1) << ((k - 1) & 63);
	if (bits[(k - 1) / 64] & bit)
		return bad(r, m, "received twice by this member");
	bits[(k - 1) / 64] |= bit;
	return 0;
}

/* Nothing to receive: publish our count; done once the members acked @target in all. */
static bool wq_idle(struct wq_run *r, uint64_t n, uint64_t target)
{
	uint64_t zero = 0;

	/* R: pairs with the acquire loads in wq_acked(). */
	atomic_store_explicit(&r->shm->count[r->idx - 1].acked, n, memory_order_release);
	if (wq_acked(r) < target)
		return false;
	if (target == r->total)
		atomic_compare_exchange_strong_explicit(&r->shm->t1, &zero, now_ns(),
							memory_order_relaxed, memory_order_relaxed);
	return true;
}

/* Receive and ack until every member's acks add up to @target; *@n counts ours. */
static int wq_serve(struct wq_run *r, shmq_group *g, uint64_t target, uint64_t *n)
{
	uint64_t *bits = r->bits + (size_t)(r->idx - 1) * r->stride;
	struct shmq_group_msg m;
	int len;

	for (;;) {
		len = shmq_group_recv(g, r->buf, r->size, &m);
		if (len == -EAGAIN) {
			if (wq_idle(r, *n, target))
				return 0;
			if (spin_check(&r->spin))
				return fail("queue member", -EPIPE);
			continue;
		}
		if (len < 0)
			return fail("queue member: recv", len);
		if (wq_take(r, &m, bits) < 0)
			return -1;
		len = shmq_group_ack(g, m.lease);
		if (len < 0)
			return fail("queue member: ack", len);
		if ((++*n & 63) == 0) /* R: as in wq_idle() */
			atomic_store_explicit(&r->shm->count[r->idx - 1].acked, *n,
					      memory_order_release);
	}
}

static int wq_member(struct wq_run *r)
{
	shmq_group *g;
	uint64_t n = 0;
	int e;

	if (group_attach(r->tname, &g) < 0)
		return -1;
	atomic_fetch_add_explicit(&r->shm->ready, 1, memory_order_release);
	e = wq_wait_go(r, WQ_WARM);
	if (e == 0)
		e = wq_serve(r, g, r->warmup, &n);
	if (e == 0)
		e = wq_wait_go(r, WQ_TIMED);
	if (e == 0)
		e = wq_serve(r, g, r->total, &n);
	shmq_group_close(g);
	return e;
}

static int wq_child(void *arg)
{
	struct wq_run *r = arg;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	return r->idx == 0 ? wq_produce(r) : wq_member(r);
}

/* ---- the parent ---- */

static void nap(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

#define WQ_STALL_NS 10000000000ull /* no ack for this long: something is lost or wedged */

/*
 * Sleep in steps of @step_ns until @what(r) reaches @target; -1 when a child failed, all
 * exited short of it, or nothing moved for WQ_STALL_NS.
 */
static int wq_await(struct wq_run *r, uint64_t (*what)(const struct wq_run *), uint64_t target,
		    uint64_t step_ns, const char *name)
{
	uint64_t v, last = UINT64_MAX, since = now_ns();

	while ((v = what(r)) < target) {
		if (v != last) {
			last = v;
			since = now_ns();
		}
		if (spin_peer_gone(&r->spin) && what(r) < target)
			break;
		if (now_ns() - since > WQ_STALL_NS)
			break;
		nap(step_ns);
	}
	if (v >= target)
		return 0;
	fprintf(stderr, "%s: queue: %s: %llu of %llu, and no more\n", BENCH_PROG, name,
		(unsigned long long)what(r), (unsigned long long)target);
	return -1;
}

static uint64_t wq_ready(const struct wq_run *r)
{
	return atomic_load_explicit(&r->shm->ready, memory_order_acquire);
}

/* Attached, warm-up, then the timed part: t0 here, t1 from the member that saw the end. */
static int wq_drive(struct wq_run *r, uint64_t *t0)
{
	if (wq_await(r, wq_ready, r->members + 1, 1000000, "processes attached") < 0)
		return -1;
	/* R: pairs with the children's acquire loads of go in wq_wait_go(). */
	atomic_store_explicit(&r->shm->go, WQ_WARM, memory_order_release);
	if (wq_await(r, wq_acked, r->warmup, 1000000, "warm-up records acked") < 0)
		return -1;
	*t0 = now_ns();
	atomic_store_explicit(&r->shm->go, WQ_TIMED, memory_order_release);
	/* Coarse steps: the parent shares a CPU with a member and must not disturb it. */
	return wq_await(r, wq_acked, r->total, 10000000, "records acked");
}

/* Every record acked by exactly one member, and the group agrees. */
static int wq_verify(const struct wq_run *r)
{
	size_t k, words = (size_t)(r->total + 63) / 64;
	uint64_t once, twice, w;
	unsigned i;

	for (k = 0; k < words; k++) {
		once = twice = 0;
		for (i = 0; i < r->members; i++) {
			w = r->bits[(size_t)i * r->stride + k];
			twice |= once & w;
			once |= w;
		}
		if (k == words - 1 && r->total % 64)
			once |= ~UINT64_C(0) << (r->total % 64);
		if (twice || ~once)
			return fail("queue: records acked twice or never", -EBADMSG);
	}
	if (!atomic_load_explicit(&r->shm->t1, memory_order_relaxed))
		return fail("queue: no member saw the last ack", -EBADMSG);
	return group_check(r->gtopic, r->total, "queue");
}

static int wq_setup(struct wq_run *r)
{
	shmq_sub *sub;

	memset(r->shm, 0, sizeof(*r->shm));
	memset(r->bits, 0, (size_t)r->members * r->stride * sizeof(*r->bits));
	topic_config(&r->tcfg, r->size);
	/* The group is in place before any producer: it holds them back from the first record. */
	if (topic_create("qw", &r->tcfg, 0, r->tname, NULL, &sub) < 0)
		return -1;
	if (group_create(r->tname, NULL, r->gtopic, NULL) < 0) {
		shmq_sub_close(sub);
		return -1;
	}
	shmq_sub_close(sub); /* unread, it would hold the producer back */
	return 0;
}

/* One measurement with @members members: its rate in *@rate (timed records per second). */
static int wq_once(struct wq_run *r, const struct cpu_pair *cp, double *rate)
{
	struct peer kids[Q_MAX_MEMBERS + 1] = { 0 };
	unsigned nproc = r->members + 1;
	uint64_t t0 = 0;
	int e;

	r->yield = !cp->pinned || cpus_oversubscribed(cp, nproc);
	e = wq_setup(r);
	if (e == 0) {
		e = peers_start(kids, nproc, cp, wq_child, r, &r->idx);
		if (e < 0)
			e = fail("fork", e);
	}
	if (e == 0) {
		r->spin = (struct spin){ .child = kids, .nchild = nproc };
		e = wq_drive(r, &t0);
	}
	if (e == 0)
		e = peers_wait(kids, nproc);
	if (e == 0)
		e = wq_verify(r);
	if (e < 0)
		peers_kill(kids, nproc);
	group_remove(r->gtopic);
	topic_unlink(r->tname);
	if (e == 0)
		*rate = (double)(r->total - r->warmup) * 1e9 / (double)(r->shm->t1 - t0);
	return e < 0 ? -1 : 0;
}

/* ==== the kernel's per-message rates, one rep ==== */

static int kernel_rep(const struct q_opts *q, struct q_rep *rep)
{
	struct tp_opts o;
	double *rates = NULL;

	tp_opts_default(&o);
	o.sizes[0] = 64;
	o.nsizes = 1;
	o.msgs = q->msgs;
	o.warmup = q->msgs / 10 ? q->msgs / 10 : 1;
	o.reps = 1;
	o.cpus = q->cpus;
	o.json = true; /* no progress line */
	memset(o.use, 0, sizeof(o.use));
	o.use[TP_POSIX_MQ] = tp_available(tp_transports[TP_POSIX_MQ]);
	o.use[TP_UDS] = tp_available(tp_transports[TP_UDS]);
	if (tp_measure(&o, &rates) < 0)
		return -1;
	rep->mq = rates[TP_POSIX_MQ];
	rep->uds = rates[TP_UDS];
	free(rates);
	return 0;
}

/* ==== all reps, interleaved: rep 1 of everything, then rep 2, ... ==== */

struct q_state {
	struct q_rep *reps; /* [rep][size] */
	struct cost_run cost;
	struct wq_run wq;
	int si64; /* the index of size 64, or -1 */
};

static struct q_rep *rep_at(const struct q_opts *o, struct q_state *st, uint64_t rep, int si)
{
	return &st->reps[rep * (size_t)o->nsizes + (size_t)si];
}

static int q_size(const struct q_opts *o, struct q_state *st, struct q_rep *q, unsigned size)
{
	unsigned m;

	st->cost.size = size;
	if (cost_rep(&st->cost, o->rounds, q) < 0)
		return -1;
	st->wq.size = size;
	st->wq.warmup = o->msgs / 10 ? o->msgs / 10 : 1;
	st->wq.total = st->wq.warmup + o->msgs;
	for (m = 0; m < Q_NM; m++) {
		st->wq.members = q_members[m];
		if (wq_once(&st->wq, &o->cpus, &q->rate[m]) < 0)
			return -1;
	}
	return 0;
}

static int q_all(const struct q_opts *o, struct q_state *st)
{
	uint64_t rep;
	int si;

	for (rep = 0; rep < o->reps; rep++) {
		if (!o->json && isatty(STDERR_FILENO))
			fprintf(stderr, "\rrep %llu/%llu ", (unsigned long long)rep + 1,
				(unsigned long long)o->reps);
		for (si = 0; si < o->nsizes; si++) {
			if (q_size(o, st, rep_at(o, st, rep, si), o->sizes[si]) < 0)
				return -1;
		}
		if (st->si64 >= 0 && kernel_rep(o, rep_at(o, st, rep, st->si64)) < 0)
			return -1;
	}
	if (!o->json && isatty(STDERR_FILENO))
		fprintf(stderr, "\r%20s\r", "");
	return 0;
}

/* The buffers, the per-rep results and the shared memory of the run. */
static int q_alloc(const struct q_opts *o, struct q_state *st)
{
	size_t words = (size_t)(o->msgs + o->msgs / 10 + 1 + 63) / 64; /* warm-up and timed */

	memset(st, 0, sizeof(*st));
	st->reps = calloc((size_t)o->reps * (size_t)o->nsizes, sizeof(*st->reps));
	st->cost.pbuf = aligned_alloc(64, BENCH_MAX_SIZE);
	st->cost.cbuf = aligned_alloc(64, BENCH_MAX_SIZE);
	st->cost.sub_ns = calloc(o->rounds, sizeof(double));
	st->cost.grp_ns = calloc(o->rounds, sizeof(double));
	st->wq.buf = aligned_alloc(64, BENCH_MAX_SIZE);
	st->wq.shm = shared_alloc(sizeof(*st->wq.shm));
	st->wq.stride = words;
	st->wq.bits = shared_alloc(Q_MAX_MEMBERS * words * sizeof(uint64_t));
	if (!st->reps || !st->cost.pbuf || !st->cost.cbuf || !st->cost.sub_ns || !st->cost.grp_ns ||
	    !st->wq.buf || !st->wq.shm || !st->wq.bits)
		return fail("allocate buffers", -ENOMEM);
	memset(st->cost.pbuf, 0x5a, BENCH_MAX_SIZE); /* a pattern, and no page fault while timed */
	memset(st->cost.cbuf, 0, BENCH_MAX_SIZE);
	memset(st->wq.buf, 0x5a, BENCH_MAX_SIZE);
	return 0;
}

static void q_free(struct q_state *st)
{
	free(st->reps);
	free(st->cost.pbuf);
	free(st->cost.cbuf);
	free(st->cost.sub_ns);
	free(st->cost.grp_ns);
	free(st->wq.buf);
	shared_free(st->wq.shm, sizeof(*st->wq.shm));
	shared_free(st->wq.bits, Q_MAX_MEMBERS * st->wq.stride * sizeof(uint64_t));
}

/* ==== reporting ==== */

/* "lo-hi" with @prec decimals, for a min-max column. */
static const char *range(char *buf, size_t len, double lo, double hi, int prec)
{
	snprintf(buf, len, "%.*f-%.*f", prec, lo, prec, hi);
	return buf;
}

/* One field of every rep at size @si, summarized. */
static void field(const struct q_opts *o, struct q_state *st, int si, size_t off,
		  struct q_summary *s)
{
	double *v = calloc(o->reps, sizeof(*v));
	uint64_t rep;

	if (!v)
		abort();
	for (rep = 0; rep < o->reps; rep++)
		memcpy(&v[rep], (const char *)rep_at(o, st, rep, si) + off, sizeof(double));
	summarize(v, o->reps, s);
	free(v);
}

#define FIELD(o, st, si, name, s) field(o, st, si, offsetof(struct q_rep, name), s)

static void cost_report(const struct q_opts *o, struct q_state *st, int si, struct q_summary *ratio)
{
	struct q_summary sub, grp;
	char a[32], b[32];

	FIELD(o, st, si, sub_ns, &sub);
	FIELD(o, st, si, grp_ns, &grp);
	FIELD(o, st, si, ratio, ratio);
	if (o->json) {
		printf("{\"bench\":\"queue-cost\",\"size\":%u,\"batch\":%u,\"rounds\":%llu,"
		       "\"reps\":%llu,\"sub_recv_ns\":%.2f,\"sub_recv_ns_min\":%.2f,"
		       "\"sub_recv_ns_max\":%.2f,\"recv_ack_ns\":%.2f,\"recv_ack_ns_min\":%.2f,"
		       "\"recv_ack_ns_max\":%.2f,\"ratio\":%.3f,\"ratio_min\":%.3f,"
		       "\"ratio_max\":%.3f}\n",
		       o->sizes[si], COST_BATCH, (unsigned long long)o->rounds,
		       (unsigned long long)o->reps, sub.med, sub.min, sub.max, grp.med, grp.min,
		       grp.max, ratio->med, ratio->min, ratio->max);
		return;
	}
	printf("%6u  %11.1f  %-11s  %11.1f  %-11s  %5.2f  %.2f-%.2f\n", o->sizes[si], sub.med,
	       range(a, sizeof(a), sub.min, sub.max, 1), grp.med,
	       range(b, sizeof(b), grp.min, grp.max, 1), ratio->med, ratio->min, ratio->max);
}

static void cost_title(const struct q_opts *o)
{
	if (o->json)
		return;
	printf("one-process cost: a %u-slot reliable topic, a subscriber and a group member in "
	       "one\n"
	       "process; rounds of %u records published, then read by the subscriber\n"
	       "(shmq_sub_recv) and by the member (shmq_group_recv + shmq_group_ack), which one\n"
	       "first alternating; ns per record, median over %llu reps of each rep's median over\n"
	       "%llu rounds (after %u warm-up rounds)\n"
	       "  size  sub recv ns  min-max      recv+ack ns  min-max      ratio  min-max\n",
	       COST_SLOTS, COST_BATCH, (unsigned long long)o->reps, (unsigned long long)o->rounds,
	       COST_WARMUP);
}

static bool over(const struct q_opts *o, unsigned nproc)
{
	return cpus_oversubscribed(&o->cpus, nproc);
}

static void wq_row(const struct q_opts *o, unsigned size, unsigned m, const struct q_summary *s)
{
	unsigned nproc = m + 1;
	char a[32];

	if (o->json) {
		printf("{\"bench\":\"queue-throughput\",\"transport\":\"shmq-queue\","
		       "\"wait\":\"poll\",\"size\":%u,\"producers\":1,\"members\":%u,"
		       "\"processes\":%u,\"oversubscribed\":%s,\"msgs\":%llu,\"reps\":%llu,"
		       "\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,\"msgs_per_s_min\":%.0f,"
		       "\"msgs_per_s_max\":%.0f}\n",
		       size, m, nproc, over(o, nproc) ? "true" : "false",
		       (unsigned long long)o->msgs, (unsigned long long)o->reps, s->med,
		       s->med * size / 1e6, s->min, s->max);
		return;
	}
	printf("%6u  %7u  %9u  %8.2f  %s", size, m, nproc, s->med / 1e6,
	       range(a, sizeof(a), s->min / 1e6, s->max / 1e6, 2));
	if (over(o, nproc))
		printf("%*s oversubscribed: %u processes on %d CPU%s", 11 - (int)strlen(a), "",
		       nproc, o->cpus.nallowed, o->cpus.nallowed == 1 ? "" : "s");
	printf("\n");
}

static void wq_title(const struct q_opts *o)
{
	if (o->json)
		return;
	printf("\nwork queue with acks: 1 producer and M members, forked; each member loops\n"
	       "shmq_group_recv + shmq_group_ack; %llu records timed from the parent's go to the\n"
	       "last ack (after %llu warm-up), every record checked acked once; M msg/s, median\n"
	       "over %llu reps; processes: producer + members (the parent sleeps)\n"
	       "  size  members  processes    Mmsg/s  min-max\n",
	       (unsigned long long)o->msgs, (unsigned long long)(o->msgs / 10 ? o->msgs / 10 : 1),
	       (unsigned long long)o->reps);
}

/* Return the median of the 1-member rate at size @si, for the kernel target. */
static double wq_report(const struct q_opts *o, struct q_state *st, int si)
{
	struct q_summary s;
	double one = 0;
	unsigned m;

	for (m = 0; m < Q_NM; m++) {
		field(o, st, si, offsetof(struct q_rep, rate) + m * sizeof(double), &s);
		wq_row(o, o->sizes[si], q_members[m], &s);
		if (m == 0)
			one = s.med;
	}
	return one;
}

static void kernel_row(const struct q_opts *o, int ti, const struct q_summary *s)
{
	const struct tp_transport *t = tp_transports[ti];
	char a[32];

	if (o->json) {
		printf("{\"bench\":\"queue-baseline\",\"transport\":\"%s\",\"wait\":\"%s\","
		       "\"size\":64,\"processes\":2,\"oversubscribed\":%s,\"msgs\":%llu,"
		       "\"reps\":%llu,\"msgs_per_s\":%.0f,\"msgs_per_s_min\":%.0f,"
		       "\"msgs_per_s_max\":%.0f}\n",
		       t->name, wait_name(t->block), over(o, 2) ? "true" : "false",
		       (unsigned long long)o->msgs, (unsigned long long)o->reps, s->med, s->min,
		       s->max);
		return;
	}
	printf("    64  %-9s  %-5s     %8.2f  %s\n", t->name, wait_name(t->block), s->med / 1e6,
	       range(a, sizeof(a), s->min / 1e6, s->max / 1e6, 2));
}

/* The kernel's rows and the ratio of the 1-member queue (@one) to the better of them. */
static void kernel_report(const struct q_opts *o, struct q_state *st, double one)
{
	struct q_summary mq, uds;
	double best;

	FIELD(o, st, st->si64, mq, &mq);
	FIELD(o, st, st->si64, uds, &uds);
	if (!o->json)
		printf("\nkernel baselines in the same reps: throughput's posix-mq and uds, one "
		       "message\n"
		       "per send, %llu messages; M msg/s\n"
		       "  size  transport  wait       Mmsg/s  min-max\n",
		       (unsigned long long)o->msgs);
	if (mq.med > 0)
		kernel_row(o, TP_POSIX_MQ, &mq);
	if (uds.med > 0)
		kernel_row(o, TP_UDS, &uds);
	best = mq.med > uds.med ? mq.med : uds.med;
	if (o->json)
		printf("{\"bench\":\"queue-ratio\",\"size\":64,\"queue1_over_best_kernel\":%.3f}\n",
		       best > 0 ? one / best : 0);
	else if (best > 0)
		printf("        ratio: shmq-queue (1 member) / %s = %.2f\n",
		       mq.med > uds.med ? "posix-mq" : "uds", one / best);
}

/* ==== rtt: ping-pong through a group member, against a subscriber ==== */

static void rtt_opts(const struct q_opts *q, struct pp_opts *o)
{
	pp_opts_default(o, PP_MODE_PINGPONG);
	memcpy(o->sizes, q->sizes, sizeof(q->sizes));
	o->nsizes = q->nsizes;
	o->iters = q->iters;
	o->warmup = q->iters / 10;
	o->reps = q->reps;
	o->cpus = q->cpus;
	o->json = q->json;
	memset(o->use, 0, sizeof(o->use));
	o->use[PP_TOPIC] = o->use[PP_QUEUE] = true;
}

static void rtt_row(const struct pp_opts *o, int si, int ti, const struct pp_summary *s)
{
	const struct pp_transport *t = pp_transports[ti];

	if (o->json) {
		printf("{\"bench\":\"queue-rtt\",\"transport\":\"%s\",\"wait\":\"poll\","
		       "\"size\":%u,\"processes\":2,\"oversubscribed\":%s,\"iters\":%llu,"
		       "\"reps\":%llu,\"p50_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,"
		       "\"max_ns\":%llu,\"p50_min_ns\":%llu,\"p50_max_ns\":%llu}\n",
		       t->name, o->sizes[si], cpus_oversubscribed(&o->cpus, 2) ? "true" : "false",
		       (unsigned long long)o->iters, (unsigned long long)o->reps,
		       (unsigned long long)s->med[P50], (unsigned long long)s->med[P99],
		       (unsigned long long)s->med[P999], (unsigned long long)s->med[PMAX],
		       (unsigned long long)s->p50_min, (unsigned long long)s->p50_max);
		return;
	}
	printf("%6u  %-10s  %7llu  %7llu  %7llu  %8llu   %llu-%llu\n", o->sizes[si], t->name,
	       (unsigned long long)s->med[P50], (unsigned long long)s->med[P99],
	       (unsigned long long)s->med[P999], (unsigned long long)s->med[PMAX],
	       (unsigned long long)s->p50_min, (unsigned long long)s->p50_max);
}

static void rtt_report(const struct pp_opts *o, const struct pp_results *res)
{
	struct pp_summary topic, queue;
	double ratio;
	int si;

	if (!o->json)
		printf("\nrecv+ack round trip, ns: the echo process receives the request from "
		       "topic\n"
		       "A as a group member (shmq_group_recv), acks it, publishes the reply on "
		       "topic\n"
		       "B (shmq-queue); against a subscriber echo (shmq-topic: peek, send, "
		       "release);\n"
		       "median over %llu reps of %llu round trips (after %llu warm-up)\n"
		       "  size  transport       p50      p99    p99.9       max   p50 min-max\n",
		       (unsigned long long)o->reps, (unsigned long long)o->iters,
		       (unsigned long long)o->warmup);
	for (si = 0; si < o->nsizes; si++) {
		pp_summarize(res, si, PP_TOPIC, &topic);
		pp_summarize(res, si, PP_QUEUE, &queue);
		rtt_row(o, si, PP_TOPIC, &topic);
		rtt_row(o, si, PP_QUEUE, &queue);
		ratio = topic.med[P50] ? (double)queue.med[P50] / (double)topic.med[P50] : 0;
		if (o->json)
			printf("{\"bench\":\"queue-ratio\",\"size\":%u,"
			       "\"rtt_p50_queue_over_topic\":%.3f}\n",
			       o->sizes[si], ratio);
		else
			printf("%6u  ratio p50: shmq-queue / shmq-topic = %.2f\n", o->sizes[si],
			       ratio);
	}
}

static int rtt_run(const struct q_opts *q)
{
	struct pp_opts o;
	struct pp_results res = { 0 };
	int e;

	rtt_opts(q, &o);
	e = pp_measure(&o, &res);
	if (e == 0)
		rtt_report(&o, &res);
	free(res.v);
	return e;
}

/* ==== the report of the reps, and the targets ==== */

static void report(const struct q_opts *o, struct q_state *st, struct q_summary *cost64,
		   double *one64)
{
	struct q_summary ratio;
	int si;

	cost_title(o);
	for (si = 0; si < o->nsizes; si++) {
		cost_report(o, st, si, &ratio);
		if (si == st->si64)
			*cost64 = ratio;
	}
	wq_title(o);
	for (si = 0; si < o->nsizes; si++) {
		double one = wq_report(o, st, si);

		if (si == st->si64)
			*one64 = one;
	}
	if (st->si64 >= 0)
		kernel_report(o, st, *one64);
}

/* The two targets; both are defined at 64 bytes (st->si64 >= 0). */
static void targets(const struct q_opts *o, struct q_state *st, const struct q_summary *cost64,
		    double one64)
{
	struct q_summary mq, uds;
	double best;

	if (!o->json)
		printf("\ntargets (64 bytes, medians of this run%s):\n",
		       o->cpus.pinned ? "" : "; UNPINNED, one CPU: the targets assume two");
	FIELD(o, st, st->si64, mq, &mq);
	FIELD(o, st, st->si64, uds, &uds);
	best = mq.med > uds.med ? mq.med : uds.med;
	target_print(o->json, "one-process recv+ack/sub recv 64-byte cost", true, cost64->med,
		     "<=", COST_TARGET);
	target_print(o->json, "shmq-queue (1 member)/best of posix-mq and uds 64-byte throughput",
		     best > 0, best > 0 ? one64 / best : 0, ">=", KERNEL_TARGET);
}

/* ==== options ==== */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s queue [OPTIONS]\n"
		"Consumer groups (work queues): the one-process cost of recv + ack against a\n"
		"subscriber's recv; work-queue throughput with an ack per record, 1 producer and\n"
		"1, 2, 4 members, against posix-mq and uds; the recv+ack round trip against a\n"
		"subscriber's. Targets at 64 bytes: recv+ack <= %.1fx a subscriber's recv, and\n"
		"1-member throughput >= %.0fx the better of posix-mq and uds.\n"
		"  -s, --sizes LIST   payload bytes, comma-separated (default 64,512)\n"
		"  -m, --msgs N       timed records per throughput measurement (default 500000;\n"
		"                     msgs/10 more go first, untimed)\n"
		"  -r, --reps R       interleaved repetitions; medians are reported (default 5)\n"
		"  -R, --rounds N     timed rounds of %u records per rep of the one-process cost\n"
		"                     (default 64)\n"
		"  -n, --iters N      timed round trips per ping-pong measurement (default 20000)\n"
		"  -c, --cpus A,B     CPUs of the parent (consumer, initiator) and the first "
		"child;\n"
		"                     further children round-robin over the allowed CPUs\n"
		"                     (default 0,1)\n"
		"  -j, --json         one JSON object per line\n"
		"  -h, --help         this text\n",
		BENCH_PROG, COST_TARGET, KERNEL_TARGET, COST_BATCH);
}

static int usage_error(const char *what, const char *arg)
{
	if (what)
		fprintf(stderr, "%s queue: invalid %s '%s'\n", BENCH_PROG, what, arg);
	fprintf(stderr, "Try '%s queue --help'.\n", BENCH_PROG);
	return 2;
}

/* One option: -1 to go on, else the exit status. */
static int opt_one(int c, struct q_opts *o)
{
	const char *bad = NULL;

	switch (c) {
	case 's':
		o->nsizes = sizes_parse(optarg, o->sizes, BENCH_MAX_SIZES);
		bad = o->nsizes > 0 ? NULL : "size list";
		break;
	case 'm':
		bad = u64_parse(optarg, 1, 100000000, &o->msgs) ? "message count" : NULL;
		break;
	case 'r':
		bad = u64_parse(optarg, 1, 1000, &o->reps) ? "repetition count" : NULL;
		break;
	case 'R':
		bad = u64_parse(optarg, 1, 100000, &o->rounds) ? "round count" : NULL;
		break;
	case 'n':
		bad = u64_parse(optarg, 1, 100000000, &o->iters) ? "iteration count" : NULL;
		break;
	case 'c':
		o->cpus_given = true;
		bad = cpus_parse(optarg, &o->cpus) ? "CPU pair" : NULL;
		break;
	case 'j':
		o->json = true;
		break;
	case 'h':
		usage(stdout);
		return 0;
	default:
		return usage_error(NULL, NULL);
	}
	return bad ? usage_error(bad, optarg) : -1;
}

static int opts_parse(int argc, char **argv, struct q_opts *o)
{
	static const struct option lopts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "msgs", required_argument, NULL, 'm' },
		{ "reps", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "iters", required_argument, NULL, 'n' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, e;

	memset(o, 0, sizeof(*o));
	o->sizes[0] = 64;
	o->sizes[1] = 512;
	o->nsizes = 2;
	o->msgs = 500000;
	o->reps = 5;
	o->rounds = 64;
	o->iters = 20000;
	while ((c = getopt_long(argc, argv, "s:m:r:R:n:c:jh", lopts, NULL)) != -1) {
		e = opt_one(c, o);
		if (e >= 0)
			return e;
	}
	if (optind < argc)
		return usage_error("argument", argv[optind]);
	return -1;
}

/* ==== entry ==== */

static int size_index(const struct q_opts *o, unsigned size)
{
	int si;

	for (si = 0; si < o->nsizes; si++) {
		if (o->sizes[si] == size)
			return si;
	}
	return -1;
}

int queue_main(int argc, char **argv)
{
	struct q_summary cost64 = { 0 };
	struct q_state st;
	struct q_opts o;
	double one64 = 0;
	int e = opts_parse(argc, argv, &o);

	if (e >= 0)
		return e;
	e = bench_start(&o.cpus, o.cpus_given, o.json);
	if (e >= 0)
		return e;
	e = q_alloc(&o, &st);
	st.si64 = size_index(&o, 64);
	if (e == 0)
		e = q_all(&o, &st);
	if (e == 0) {
		report(&o, &st, &cost64, &one64);
		e = rtt_run(&o);
	}
	if (e == 0 && st.si64 >= 0)
		targets(&o, &st, &cost64, one64);
	else if (e == 0 && !o.json)
		printf("\ntargets: not checked (they are defined at 64 bytes; add 64 to "
		       "--sizes)\n");
	q_free(&st);
	return e < 0 ? 1 : 0;
}
