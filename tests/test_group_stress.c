// SPDX-License-Identifier: MIT
/*
 * test_group_stress.c - a work queue under fire: 2 producers x 4 members; members ack most
 * records, nack some, terminate a few, and are SIGKILLed at random and restarted (forked
 * processes), or close and reopen at random (threads, for TSan). The checker sees every
 * record acked exactly once or dead-lettered, nothing lost, and no wedge.
 */
#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"
#include "stress.h"

#define PRODUCERS 2
#define MEMBERS 4
#define MAXM 64u
#define STALL_NS 20000000000ull /* no progress for this long after a fault: a wedge */

struct payload {
	uint32_t producer;
	uint32_t pad;
	uint64_t pseq;
	uint64_t check;
};

/* Shared by every process of the run (MAP_SHARED before the forks). */
struct board {
	uint64_t per_producer;
	_Atomic uint32_t acked[PRODUCERS][1u << 20]; /* successful acks per record */
	_Atomic uint32_t dead[PRODUCERS][1u << 20]; /* its dead letters seen */
	_Atomic uint32_t acking[PRODUCERS][1u << 20]; /* acks begun (a kill may end one early) */
	_Atomic uint32_t ack_attempt[PRODUCERS][1u << 20]; /* the attempt that was acked */
	_Atomic uint32_t dead_acquired[PRODUCERS][1u << 20]; /* deliveries its dead letter tells */
	_Atomic uint32_t termed[PRODUCERS][1u << 20]; /* terms that returned 0 */
	_Atomic uint64_t seq_of[PRODUCERS][1u << 20]; /* the topic sequence each record had */
	_Atomic uint64_t deliveries; /* deliveries the members saw */
	_Atomic uint64_t moved; /* records seen at two sequence numbers */
	_Atomic uint64_t bad; /* payloads that did not check */
	_Atomic uint64_t stale; /* outcomes refused as stale */
};

static struct board *board;
static bool threads_mode;

static uint64_t check_of(uint32_t p, uint64_t pseq)
{
	return (pseq * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)p << 56) ^ 0x5bd1e995;
}

static const struct shmq_group_config gcfg = {
	.ack_wait_ns = 50000000, /* dead members are judged sooner; slow ones expire */
	.max_deliveries = 6,
	.max_in_flight = 8,
	.max_pending = 512,
	.backoff_ns = 1000000,
	.backoff_max_ns = 8000000,
};

/* ---- the group's adapter: producers publish to the topic, members lease from the group ---- */

static int pub_open(struct stress_run *run, uint32_t id, void **ret_pub, uint64_t *ret_next)
{
	return shmq_pub_open(run->bus, "work", 0, NULL, (shmq_pub **)ret_pub);
}

static int send_one(void *pub, uint32_t p, uint64_t pseq, uint64_t last)
{
	struct payload m = { .producer = p, .pseq = pseq, .check = check_of(p, pseq) };
	int r = shmq_pub_send(pub, &m, sizeof(m), m.pseq);

	if (r == -EAGAIN)
		shmq_pub_wait(pub, 20000, 100000000);
	return r < 0 ? r : 1;
}

static void pub_close(void *pub)
{
	shmq_pub_close(pub);
}

/* What a member does with one delivery, decided from its seq and attempt. */
static int settle_one(shmq_group *g, const struct shmq_group_msg *m, const struct payload *pl,
		      uint64_t *rnd, bool *ret_acked)
{
	uint64_t x = test_rand(rnd) % 1000;
	int r;

	if (x < 30) /* 3 %: failed, retry */
		r = shmq_group_nack(g, m->lease, x < 10 ? 0 : SHMQ_GROUP_BACKOFF);
	else if (x < 36) { /* 0.6 %: poison, dead-letter now */
		r = shmq_group_term(g, m->lease);
		if (r == 0)
			atomic_fetch_add(&board->termed[pl->producer][pl->pseq - 1], 1);
	} else if (x < 40) /* give it back */
		r = shmq_group_release(g, m->lease);
	else {
		if (x == 999 && test_rand(rnd) % 5 == 0) { /* 0.02 %: slower than the lease */
			struct timespec ts = { 0, 60000000 };

			nanosleep(&ts, NULL);
		}
		atomic_fetch_add(&board->acking[pl->producer][pl->pseq - 1], 1);
		r = shmq_group_ack(g, m->lease);
		if (r == 0) {
			atomic_fetch_add(&board->acked[pl->producer][pl->pseq - 1], 1);
			atomic_store(&board->ack_attempt[pl->producer][pl->pseq - 1], m->attempt);
			*ret_acked = true;
		}
	}
	if (r == -ESTALE)
		atomic_fetch_add(&board->stale, 1);
	else if (r == -EAGAIN) /* the dead-letter topic is full: try again later */
		shmq_group_release(g, m->lease);
	else if (r < 0)
		return r;
	return 0;
}

static bool valid(const struct payload *pl, int n)
{
	return n == (int)sizeof(*pl) && pl->producer < PRODUCERS && pl->pseq >= 1 &&
	       pl->pseq <= board->per_producer && pl->check == check_of(pl->producer, pl->pseq);
}

struct member {
	shmq_group *g;
	uint64_t rnd;
	struct shmq_group_msg m[4];
	struct payload pl[4];
};

static int sub_open(struct stress_run *run, uint32_t id, void **ret_sub)
{
	struct member *mb = calloc(1, sizeof(*mb));
	int r = mb ? shmq_group_open(run->bus, "work", "g", 0, NULL, &mb->g) : -ENOMEM;

	if (r < 0) {
		free(mb);
		return r;
	}
	mb->rnd = ((uint64_t)getpid() << 8 | id) * 1000 + 1;
	*ret_sub = mb;
	return 0;
}

/* A record at two sequence numbers would be a redelivery that is not one. */
static void note_seq(const struct payload *pl, const struct shmq_group_msg *m)
{
	uint64_t was = 0;

	if (!atomic_compare_exchange_strong(&board->seq_of[pl->producer][pl->pseq - 1], &was,
					    m->seq) &&
	    was != m->seq) {
		fprintf(stderr, "record %u/%llu at seq %llu and %llu\n", pl->producer,
			(unsigned long long)pl->pseq, (unsigned long long)was,
			(unsigned long long)m->seq);
		atomic_fetch_add(&board->moved, 1);
	}
}

/* Lease up to 4 records; nothing there: wait a while. */
static int lease_some(void *sub, struct stress_rec *recs, int cap, char *why)
{
	struct member *mb = sub;
	int n, r;

	for (n = 0; n < 4 && n < cap; n++) {
		r = shmq_group_recv(mb->g, &mb->pl[n], sizeof(mb->pl[n]), &mb->m[n]);
		if (r < 0)
			break;
		atomic_fetch_add(&board->deliveries, 1);
		if (!valid(&mb->pl[n], r)) {
			atomic_fetch_add(&board->bad, 1);
			return snprintf(why, STRESS_WHY, "a payload that does not check"), -EPROTO;
		}
		note_seq(&mb->pl[n], &mb->m[n]);
		recs[n] = (struct stress_rec){ .producer = mb->pl[n].producer,
					       .seq = mb->pl[n].pseq };
	}
	if (n == 0)
		shmq_group_wait(mb->g, 20000, 50000000);
	return n ? n : -EAGAIN;
}

static int settle(void *sub, struct stress_rec *recs, int n, char *why)
{
	struct member *mb = sub;
	int r;

	for (int i = 0; i < n; i++) {
		r = settle_one(mb->g, &mb->m[i], &mb->pl[i], &mb->rnd, &recs[i].done);
		if (r < 0)
			return snprintf(why, STRESS_WHY, "settle: %s", shmq_strerror(r)), r;
	}
	return n;
}

static void sub_close(void *sub)
{
	struct member *mb = sub;

	shmq_group_close(mb->g);
	free(mb);
}

/* Read dead letters as they come, marking each record seen (and finished). */
static void drain_dlq(struct stress_run *run, shmq_sub *dlq)
{
	uint8_t buf[MAXM + sizeof(struct shmq_dlq_hdr)];
	struct shmq_dlq_hdr h;
	struct shmq_sub_msg sm;
	struct payload pl;
	int n;

	while ((n = shmq_sub_recv(dlq, buf, sizeof(buf), &sm)) >= 0) {
		memcpy(&h, buf, sizeof(h));
		assert_int_equal(h.magic, SHMQ_DLQ_MAGIC);
		assert_int_equal(n, (int)(h.hdr_len + sizeof(pl)));
		memcpy(&pl, buf + h.hdr_len, sizeof(pl));
		assert_true(valid(&pl, (int)sizeof(pl)));
		assert_true(h.reason == SHMQ_DLQ_REJECTED || h.reason == SHMQ_DLQ_MAX_DELIVERIES);
		atomic_fetch_add(&board->dead[pl.producer][pl.pseq - 1], 1);
		atomic_store(&board->dead_acquired[pl.producer][pl.pseq - 1], h.acquired);
		stress_note(run, pl.producer, pl.pseq);
	}
	assert_int_equal(n, -EAGAIN);
}

static void setup_topics(shmq_bus *bus, shmq_pub **ret_keep, shmq_sub **ret_dlq)
{
	struct shmq_topic_config t = { .slots = 1024, .max_msg = MAXM };
	struct shmq_topic_config d = { .slots = 4096,
				       .max_msg = MAXM + sizeof(struct shmq_dlq_hdr) };
	shmq_group *g;

	assert_int_equal(shmq_pub_open(bus, "work", SHMQ_OPEN_CREATE, &t, ret_keep), 0);
	assert_int_equal(shmq_sub_open(bus, "work.dlq", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, &d, 0,
				       ret_dlq),
			 0);
	assert_int_equal(
		shmq_group_open(bus, "work", "g", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, &gcfg, &g),
		0);
	shmq_group_close(g); /* durable: it stays, holding the producers back */
}

/*
 * Every record acked once, or dead-lettered; never acked twice, never lost. A member killed
 * between the group's ack and its note of it leaves a record done but not noted: its begun
 * ack says so. A member killed between a dead letter's publish and the end of its lease
 * (a crash window that at-least-once allows) has its record delivered again: acked, or
 * dead-lettered again, so that both show; there are never more of those than kills.
 */
static void check_board(shmq_bus *bus, uint64_t kills)
{
	struct shmq_group_stats st;
	uint64_t p, i, acked = 0, dead = 0, dups = 0, unnoted = 0;
	uint32_t a, d, begun;

	assert_int_equal(atomic_load(&board->bad), 0);
	assert_int_equal(atomic_load(&board->moved), 0);
	assert_true(shmq_group_stat(bus, "work", "g", &st, NULL, 0) >= 0);
	if (st.lost || st.skipped || st.dropped)
		fail_msg("lost %llu, skipped %llu, dropped %llu", (unsigned long long)st.lost,
			 (unsigned long long)st.skipped, (unsigned long long)st.dropped);
	for (p = 0; p < PRODUCERS; p++) {
		for (i = 0; i < board->per_producer; i++) {
			a = atomic_load(&board->acked[p][i]);
			d = atomic_load(&board->dead[p][i]);
			begun = atomic_load(&board->acking[p][i]);
			if (a > 1 || (a == 0 && d == 0 && begun == 0))
				fail_msg("record %llu of producer %llu: acked %u (attempt %u), "
					 "dead-lettered %u (after %u deliveries), acks begun %u, "
					 "seq %llu, "
					 "termed %u",
					 (unsigned long long)i + 1, (unsigned long long)p, a,
					 atomic_load(&board->ack_attempt[p][i]), d,
					 atomic_load(&board->dead_acquired[p][i]), begun,
					 (unsigned long long)atomic_load(&board->seq_of[p][i]),
					 atomic_load(&board->termed[p][i]));
			unnoted += a == 0 && d == 0;
			acked += a;
			dead += d ? 1 : 0;
			dups += (a && d) + (d > 1 ? d - 1 : 0);
		}
	}
	assert_int_equal(st.floor, st.tail);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.skipped, 0);
	assert_true(unnoted <= kills && dups <= kills);
	assert_true(st.acked >= acked && st.acked <= acked + unnoted);
	/* Every delivery a member saw was a first one or a counted redelivery. */
	assert_true(atomic_load(&board->deliveries) <=
		    PRODUCERS * board->per_producer + st.redelivered);
	print_message("records %llu: acked %llu (+%llu by members killed before they noted it), "
		      "dead-lettered %llu, crash-window duplicates %llu, kills %llu, redelivered "
		      "%llu, expired %llu, nacked %llu, released %llu, stale %llu\n",
		      (unsigned long long)(PRODUCERS * board->per_producer),
		      (unsigned long long)acked, (unsigned long long)unnoted,
		      (unsigned long long)dead, (unsigned long long)dups, (unsigned long long)kills,
		      (unsigned long long)st.redelivered, (unsigned long long)st.expired,
		      (unsigned long long)st.nacked, (unsigned long long)st.released,
		      (unsigned long long)atomic_load(&board->stale));
}

/* What the entries at the floor hold (lease words: state 0-2, holder 3-10, gen 11-18). */
static void dump_floor(shmq_bus *bus, uint64_t floor)
{
	size_t size;
	uint8_t *p = test_map(bus, "work@g", &size);
	uint64_t w, f[3], s;

	for (s = floor - 1; s <= floor + 1; s++) {
		memcpy(&w, p + 1280 + 64 * 128 + (s % gcfg.max_pending) * 32, 8);
		memcpy(f, p + 1280 + 64 * 128 + (s % gcfg.max_pending) * 32 + 8, 24);
		print_message("entry %llu: state %u holder %u gen %u seq %llu due %llu first %llu "
			      "acq/failed %llx\n",
			      (unsigned long long)s, (unsigned)(w & 7), (unsigned)(w >> 3 & 0xff),
			      (unsigned)(w >> 11 & 0xff), (unsigned long long)(w >> 19),
			      (unsigned long long)f[0], (unsigned long long)f[1],
			      (unsigned long long)f[2]);
	}
	munmap(p, size);
}

struct group_run {
	shmq_sub *dlq;
	uint64_t last_floor, last_move;
	bool settled; /* every record settled: now the dead letters */
};

/*
 * In the test process: drain dead letters; 1 once the group has settled every record and
 * every dead letter published is there to read (a member killed between claiming a
 * dead-letter record and committing it leaves a hole, which holds the later ones back until
 * the topic's claim timeout skips it); fail on a wedge.
 */
static int poll_group(struct stress_run *run)
{
	struct group_run *gr = run->ctx;
	struct shmq_group_stats st;
	struct shmq_sub_stats ss;

	drain_dlq(run, gr->dlq);
	if (gr->settled) {
		assert_int_equal(shmq_sub_stats(gr->dlq, &ss), 0);
		return ss.cursor == ss.tail;
	}
	assert_true(shmq_group_stat(run->bus, "work", "g", &st, NULL, 0) >= 0);
	if (st.floor == PRODUCERS * board->per_producer + 1) {
		gr->settled = true;
	} else if (st.floor != gr->last_floor || !gr->last_move) {
		gr->last_floor = st.floor;
		gr->last_move = test_now_ns();
	} else if (test_now_ns() - gr->last_move > STALL_NS) {
		dump_floor(run->bus, st.floor);
		fail_msg("wedged: floor %llu, next %llu, tail %llu, in flight %llu, delayed %llu",
			 (unsigned long long)st.floor, (unsigned long long)st.next,
			 (unsigned long long)st.tail, (unsigned long long)st.in_flight,
			 (unsigned long long)st.delayed);
	}
	return 0;
}

static const struct stress_kind group_kind = {
	.name = "group",
	.promise = STRESS_ACROSS,
	.pub_open = pub_open,
	.send = send_one,
	.pub_close = pub_close,
	.sub_open = sub_open,
	.recv = lease_some,
	.settle = settle,
	.sub_close = sub_close,
	.poll = poll_group,
};

/*
 * Processes: every 3-8 ms a random member is SIGKILLed and another started in its place,
 * test_scaled(250) times, then the run goes on until every record is settled. Threads
 * (TSan): members close and reopen at random instead.
 */
static void run_group(bool threads)
{
	struct group_run gr = { 0 };
	struct stress_run run = { .kind = &group_kind,
				  .bus = test_bus(),
				  .ctx = &gr,
				  .nprod = PRODUCERS,
				  .ncons = MEMBERS,
				  .n = board->per_producer,
				  .threads = threads,
				  .reopen = threads,
				  .kills = threads ? 0 : test_scaled(250) };
	shmq_pub *keep;

	setup_topics(run.bus, &keep, &gr.dlq);
	stress_run(&run);
	check_board(run.bus, run.killed);
	shmq_sub_close(gr.dlq);
	shmq_pub_close(keep);
	shmq_bus_close(run.bus);
}

static void test_processes(void **state)
{
	run_group(false);
}

static void test_threads(void **state)
{
	run_group(true);
}

static int setup_board(void **state)
{
	(void)state;
	board = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	assert_true(board != MAP_FAILED);
	board->per_producer = test_scaled(threads_mode ? 20000 : 100000);
	return 0;
}

static int teardown_board(void **state)
{
	munmap(board, sizeof(*board));
	return test_cleanup(state);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest procs[] = {
		cmocka_unit_test_setup_teardown(test_processes, setup_board, teardown_board),
	};
	const struct CMUnitTest threads[] = {
		cmocka_unit_test_setup_teardown(test_threads, setup_board, teardown_board),
	};

	threads_mode = argc > 1 && strcmp(argv[1], "--threads") == 0;
	if (threads_mode)
		return cmocka_run_group_tests_name("group-stress-threads", threads, NULL, NULL);
	return cmocka_run_group_tests_name("group-stress-processes", procs, NULL, NULL);
}
