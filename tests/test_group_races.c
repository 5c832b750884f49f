// SPDX-License-Identifier: MIT
/*
 * test_group_races.c - interleavings of the lease protocol that once lost records, leaked a
 * member's in-flight count or a lease's expiry, forced deterministically: a process is
 * stopped at an exact memory access by a page protection (SIGSEGV handler), or killed
 * there. Each scenario runs in a child and fails it when the old behaviour shows.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "common.h"
#include "group_internal.h"

#define PAGE 4096u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint64_t mkword(uint64_t seq, uint32_t gen, uint32_t holder, uint32_t state)
{
	return (seq & SHMQI_LSEQ_MASK) << 19 | (uint64_t)(gen & 0xff) << 11 |
	       (uint64_t)(holder & 0xff) << 3 | state;
}

static shmq_pub *mkpub(shmq_bus *bus, uint32_t slots, uint32_t max_msg)
{
	struct shmq_topic_config c = { .slots = slots,
				       .max_msg = max_msg,
				       .policy = SHMQ_TOPIC_RELIABLE };
	shmq_pub *p = NULL;

	if (shmq_pub_open(bus, "t", SHMQ_OPEN_CREATE, &c, &p) < 0)
		abort();
	return p;
}

static shmq_group *join(shmq_bus *bus, const struct shmq_group_config *c)
{
	shmq_group *g = NULL;
	int r = shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, c, &g);

	if (r < 0) {
		fprintf(stderr, "open: %d\n", r);
		abort();
	}
	return g;
}

static int recv_for(shmq_group *g, unsigned ms, struct shmq_group_msg *m)
{
	uint64_t end = now_ns() + ms * 1000000ull, v;
	int r;

	do {
		r = shmq_group_recv(g, &v, sizeof(v), m);
		if (r >= 0)
			return r;
		sleep_ms(1);
	} while (now_ns() < end);
	return r;
}

static void print_stats(shmq_bus *bus, const char *what)
{
	struct shmq_group_stats st;
	struct shmq_group_member_info mi[64];
	int n = shmq_group_stat(bus, "t", "g", &st, mi, 64), i;

	printf("  %s: floor %llu next %llu tail %llu in_flight %llu delayed %llu members:", what,
	       (unsigned long long)st.floor, (unsigned long long)st.next,
	       (unsigned long long)st.tail, (unsigned long long)st.in_flight,
	       (unsigned long long)st.delayed);
	for (i = 0; i < n && i < 64; i++)
		if (mi[i].in_flight)
			printf(" [pid %d in_flight %u]", mi[i].pid, mi[i].in_flight);
	printf("\n");
}

/* ---- A: a claimer killed between its CAS of the entry and its CAS of next ---- */
static int scenario_dead_claimer(void)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = mkpub(bus, 64, 128);
	shmq_group *g = join(bus, NULL);
	struct shmq_group_msg m;
	uint64_t v = 1, n;
	pid_t pid;
	int r, st;

	shmq_pub_send(pub, &v, sizeof(v), 1);
	n = atomic_load(&g->ctl->next);
	pid = fork();
	if (pid == 0) {
		shmq_group *c = join(bus, NULL);
		struct shmqi_lease *e = &c->leases[n & c->mask];
		uint64_t w = atomic_load(&e->word);

		/* take_new(): its CAS to CLAIMING(n) succeeded; SIGKILL before help_next(). */
		atomic_store(&e->word,
			     mkword(n, shmqi_lw_gen(w) + 1, c->idx, SHMQI_LEASE_CLAIMING));
		raise(SIGKILL);
	}
	waitpid(pid, &st, 0);
	sleep_ms(20); /* the member was parked when the claimer died */
	/* A worker: wait (its thorough ready() judges every 10 ms), then receive. */
	{
		uint64_t end = now_ns() + 500000000ull;
		int waits = 0;

		r = -EAGAIN;
		while (r < 0 && now_ns() < end) {
			if (shmq_group_wait(g, 0, 20000000) == 0)
				waits++;
			r = shmq_group_recv(g, &v, sizeof(v), &m);
		}
		if (r < 0) {
			printf("record %llu never delivered (recv %d, %d wakeups)\n",
			       (unsigned long long)n, r, waits);
			print_stats(bus, "after 500 ms");
			return 1;
		}
	}
	return 0;
}

/* ---- B, C: an expirer stopped (or killed) between take_busy() and its fetch_sub ---- */
static void *prot_lo, *prot_hi;
static volatile int phase_action; /* 1: close A and join C; 2: die */
static shmq_group *gA, *gC;
static shmq_bus *gbus;
static const struct shmq_group_config *gcfg;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if ((char *)si->si_addr < (char *)prot_lo || (char *)si->si_addr >= (char *)prot_hi)
		abort();
	if (phase_action == 2)
		raise(SIGKILL);
	if (phase_action == 1) { /* we are B, inside take_due(), the entry BUSY(B) */
		shmq_group_close(gA); /* A leaves: recover(A) skips BUSY(B); fold: 0 */
		gC = join(gbus, gcfg); /* C takes A's member entry: fold: 0 */
	}
	phase_action = 0;
	mprotect(prot_lo, (size_t)((char *)prot_hi - (char *)prot_lo), PROT_READ | PROT_WRITE);
}

static void handle_segv(void)
{
	struct sigaction sa = { 0 };

	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
}

static int scenario_in_flight(bool kill_expirer)
{
	static struct shmq_group_config cfg = { .ack_wait_ns = 1000000,
						.max_in_flight = 1,
						.max_members = 64,
						.backoff_ns = 1000,
						.backoff_max_ns = 1000 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = mkpub(bus, 64, 128);
	shmq_group *fill[30], *A, *B;
	struct shmq_group_msg m;
	uint64_t v = 1;
	unsigned i;
	uint32_t aidx;
	int r, st;
	pid_t pid = 0;

	gbus = bus;
	gcfg = &cfg;
	for (i = 0; i < 30; i++) /* members 0-29: A's entry (30) on the table's second page */
		fill[i] = join(bus, &cfg);
	A = join(bus, &cfg);
	aidx = A->idx;
	gA = A;
	shmq_pub_send(pub, &v, sizeof(v), 1);
	v = 2;
	shmq_pub_send(pub, &v, sizeof(v), 2);
	r = shmq_group_recv(A, &v, sizeof(v), &m);
	sleep_ms(3); /* A's 1 ms lease runs out; A is slow */
	if (kill_expirer) {
		pid = fork();
		if (pid == 0) {
			B = join(bus, &cfg);
			prot_lo = B->seg.base + PAGE;
			prot_hi = B->seg.base + 2 * PAGE;
			handle_segv();
			phase_action = 2;
			mprotect(prot_lo, PAGE, PROT_READ);
			shmq_group_recv(B, &v, sizeof(v), &m);
			_exit(3); /* not reached */
		}
		waitpid(pid, &st, 0);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			return 2;
		/* the record comes back (the judge frees B's BUSY entry); can A take it? */
		r = recv_for(A, 300, &m);
		if (r < 0) {
			printf("member %u, holding nothing, refused: %d\n", aidx, r);
			print_stats(bus, "after 300 ms");
			return 1;
		}
		for (i = 0; i < 30; i++)
			shmq_group_close(fill[i]);
		shmq_group_close(A);
		return 0;
	}
	B = join(bus, &cfg);
	prot_lo = B->seg.base + PAGE; /* B's view of the member entries 22-53 */
	prot_hi = B->seg.base + 2 * PAGE;
	handle_segv();
	phase_action = 1;
	mprotect(prot_lo, PAGE, PROT_READ);
	r = shmq_group_recv(B, &v, sizeof(v), &m); /* expires A's lease; B gets record 2 */
	if (!gC || atomic_load(&gC->members[gC->idx].in_flight) > 1) {
		printf("C's in_flight after the expirer's late decrement: %u\n",
		       gC ? atomic_load(&gC->members[gC->idx].in_flight) : 0);
		return 1;
	}
	if (r >= 0)
		shmq_group_ack(B, m.lease);
	shmq_group_close(B); /* only C is left to take the delayed record 1, and new ones */
	v = 3;
	shmq_pub_send(pub, &v, sizeof(v), 3);
	r = recv_for(gC, 300, &m);
	if (r < 0) {
		printf("C refused with records due: %d\n", r);
		print_stats(bus, "end");
		return 1;
	}
	for (i = 0; i < 30; i++)
		shmq_group_close(fill[i]);
	shmq_group_close(gC);
	return 0;
}

/* ---- D: a member whose lease ran out while it copied the record ---- */
static shmq_group *dB;
static shmq_pub *dpub;
static uint32_t dslots;
#define DLEN 12288u

static void on_segv_copy(int sig, siginfo_t *si, void *uc)
{
	static uint8_t p[DLEN];
	struct shmq_group_msg m;
	uint64_t end;
	uint32_t i;
	int r;

	(void)sig;
	(void)uc;
	if ((char *)si->si_addr < (char *)prot_lo || (char *)si->si_addr >= (char *)prot_hi)
		abort();
	/* A is stopped mid-copy for 3 ms: its 1 ms lease runs out; B takes the record, acks. */
	sleep_ms(3);
	end = now_ns() + 200000000ull;
	do
		r = shmq_group_recv(dB, p, sizeof(p), &m);
	while (r < 0 && now_ns() < end);
	if (r >= 0)
		shmq_group_ack(dB, m.lease);
	memset(p, 'b', sizeof(p));
	for (i = 0; i < dslots; i++) /* the floor passed it: a lap of new records */
		if (shmq_pub_send(dpub, p, sizeof(p), 0) < 0)
			printf("    send %u failed\n", i);
	mprotect(prot_lo, (size_t)((char *)prot_hi - (char *)prot_lo), PROT_READ | PROT_WRITE);
}

static int scenario_torn(void)
{
	struct shmq_group_config cfg = { .ack_wait_ns = 1000000,
					 .backoff_ns = 1,
					 .backoff_max_ns = 1 };
	shmq_bus *bus = test_bus();
	struct sigaction sa = { 0 };
	struct shmq_group_msg m;
	shmq_group *A;
	uint8_t *buf, p[DLEN];
	uint32_t i, a = 0, b = 0;
	int r;

	dslots = 4;
	dpub = mkpub(bus, dslots, DLEN);
	A = join(bus, &cfg);
	dB = join(bus, &cfg);
	memset(p, 'a', sizeof(p));
	shmq_pub_send(dpub, p, sizeof(p), 0);
	buf = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	prot_lo = buf + PAGE;
	prot_hi = buf + 3 * PAGE;
	mprotect(prot_lo, 2 * PAGE, PROT_NONE);
	sa.sa_sigaction = on_segv_copy;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	r = shmq_group_recv(A, buf, DLEN, &m);
	for (i = 0; i < DLEN; i++) {
		a += buf[i] == 'a';
		b += buf[i] == 'b';
	}
	if (r >= 0 && a && b) {
		printf("delivered torn: %u bytes of the record, %u of a later one\n", a, b);
		return 1;
	}
	shmq_group_close(A);
	shmq_group_close(dB);
	return 0;
}

/* ---- E: a nack whose dead letter fails, while a scanner passes its BUSY entry ---- */
static shmq_group *eB;

static void on_segv_dl(int sig, siginfo_t *si, void *uc)
{
	struct shmq_group_msg m;
	uint64_t v;

	(void)sig;
	(void)uc;
	if ((char *)si->si_addr < (char *)prot_lo || (char *)si->si_addr >= (char *)prot_hi)
		abort();
	/* A is inside its nack, the entry BUSY(A): B scans (the lease is past due). */
	shmq_group_recv(eB, &v, sizeof(v), &m);
	mprotect(prot_lo, (size_t)((char *)prot_hi - (char *)prot_lo), PROT_READ | PROT_WRITE);
}

static int scenario_restore(void)
{
	struct shmq_group_config cfg = { .ack_wait_ns = 5000000, .max_deliveries = 1 };
	struct shmq_topic_config dc = { .slots = 2, .max_msg = 512, .policy = SHMQ_TOPIC_RELIABLE };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = mkpub(bus, 64, 128), *dlq_pub = NULL;
	struct sigaction sa = { 0 };
	struct shmq_group_msg m;
	shmq_sub *dsub = NULL;
	shmq_group *A;
	uint8_t *rec;
	uint64_t v = 1;
	int r;

	/* The dead-letter topic is full: its one subscriber is behind. */
	shmq_pub_open(bus, "t.dlq", SHMQ_OPEN_CREATE, &dc, &dlq_pub);
	shmq_sub_open(bus, "t.dlq", 0, NULL, 0, &dsub);
	shmq_pub_send(dlq_pub, &v, sizeof(v), 0);
	shmq_pub_send(dlq_pub, &v, sizeof(v), 0);
	A = join(bus, &cfg);
	eB = join(bus, &cfg);
	shmq_pub_send(pub, &v, sizeof(v), 1);
	r = shmq_group_recv(A, &v, sizeof(v), &m);
	sleep_ms(10); /* past A's 5 ms deadline; nobody has looked yet */
	rec = (uint8_t *)shmqi_slot_at(&A->t, m.seq);
	prot_lo = (void *)((uintptr_t)rec & ~(uintptr_t)(PAGE - 1));
	prot_hi = (char *)prot_lo + PAGE;
	sa.sa_sigaction = on_segv_dl;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	mprotect(prot_lo, PAGE, PROT_NONE); /* A's view of the record: the dead letter's read */
	r = shmq_group_nack(A, m.lease, 0);
	if (r != -EAGAIN) /* the dead letter could not be published: the lease is A's again */
		return 2;
	r = recv_for(eB, 300, &m);
	if (r < 0) {
		printf("the lease never expires: due hint %llu\n",
		       (unsigned long long)atomic_load(&A->ctl->due_hint));
		print_stats(bus, "end");
		return 1;
	}
	shmq_sub_close(dsub);
	shmq_pub_close(dlq_pub);
	shmq_group_close(A);
	shmq_group_close(eB);
	return 0;
}

/* Run @scenario in a child of its own (signal handlers, page protections); 0 is a pass. */
static void run(int (*scenario)(void))
{
	pid_t pid = fork();
	int rc;

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		rc = scenario();
		test_cleanup(NULL);
		_exit(rc);
	}
	assert_int_equal(test_wait(pid), 0);
}

static int in_flight_late_decrement(void)
{
	return scenario_in_flight(false);
}

static int in_flight_dead_expirer(void)
{
	return scenario_in_flight(true);
}

/* A claimer killed between its CAS of the entry and its CAS of next: the record comes. */
static void test_dead_claimer_at_next(void **state)
{
	(void)state;
	run(scenario_dead_claimer);
}

/* An expirer stopped between its take of a lease and its decrement of the holder's count,
 * while the holder leaves and another joins in its entry: the newcomer is not refused. */
static void test_in_flight_underflow(void **state)
{
	(void)state;
	run(in_flight_late_decrement);
}

/* An expirer killed there: the holder's count is put right, and the entry recovered. */
static void test_in_flight_leak(void **state)
{
	(void)state;
	run(in_flight_dead_expirer);
}

/* A member stopped mid-copy past its lease, the record then acked and overwritten: never
 * delivered torn. */
static void test_torn_after_expiry(void **state)
{
	(void)state;
	run(scenario_torn);
}

/* A nack whose dead letter fails while a scanner passes its BUSY entry: the restored
 * lease still expires. */
static void test_restore_keeps_expiry(void **state)
{
	(void)state;
	run(scenario_restore);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dead_claimer_at_next),
		cmocka_unit_test(test_in_flight_underflow),
		cmocka_unit_test(test_in_flight_leak),
		cmocka_unit_test(test_torn_after_expiry),
		cmocka_unit_test(test_restore_keeps_expiry),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("group-races", tests, NULL, test_cleanup);
}
