// SPDX-License-Identifier: MIT
/* test_service.c - request/reply: replies matched by id, errors, inboxes, gather, killed responders. */
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "common.h"

enum mode { ECHO, SILENT, HUGE, HELD, ONCE };

static pid_t top; /* the test process: its namespace is every child's */

/* HELD's requests, numbered by their bodies: the last one taken, and how far the test lets go */
struct hold {
	_Atomic uint64_t taken;
	_Atomic uint64_t release;
};
static struct hold *hold;

/* A responder process: echoes each request with "re:" before it (or, by @mode, does not). */
static pid_t responder(const char *service, enum mode mode, unsigned flags)
{
	static char buf[1 << 16];
	struct shmq_request_info ri;
	shmq_bus *bus;
	shmq_rep *rp;
	pid_t pid = fork();
	int n;

	assert_true(pid >= 0);
	if (pid)
		return pid;
	alarm(120);
	bus = test_bus_of(top);
	if (shmq_rep_open(bus, service, SHMQ_OPEN_CREATE | flags, NULL, &rp) < 0)
		_exit(10);
	kill(getppid(), SIGUSR1); /* joined */
	for (;;) {
		n = shmq_rep_recv(rp, buf + 3, sizeof(buf) - 3, &ri);
		if (n == -EAGAIN) { /* HELD spins: it takes a request before a short deadline */
			shmq_rep_wait(rp, mode == HELD ? SHMQ_SPIN_FOREVER : 0, SHMQ_WAIT_FOREVER);
			continue;
		}
		if (n < 0)
			_exit(11);
		if (mode == SILENT)
			continue; /* keeps the lease: never answers */
		if (mode == HELD && n < 16) { /* request k: answered once the test releases k */
			uint64_t k;

			buf[3 + n] = '\0';
			k = strtoull(buf + 3, NULL, 10);
			if (k) /* not a number: answered at once */
				atomic_store(&hold->taken, k);
			while (atomic_load(&hold->release) < k)
				usleep(1000);
		}
		memcpy(buf, "re:", 3);
		n = shmq_rep_reply(rp, &ri, buf, mode == HUGE ? sizeof(buf) : (size_t)n + 3);
		if (n < 0 && n != -EMSGSIZE && n != -ENOENT)
			_exit(12);
		if (mode == ONCE) { /* answers one, and leaves at once */
			shmq_rep_close(rp);
			_exit(0);
		}
	}
}

static volatile sig_atomic_t joined;
static void on_usr1(int sig)
{
	(void)sig;
	joined++;
}

/* Start a responder and wait until it has joined. */
static pid_t start(const char *service, enum mode mode, unsigned flags)
{
	sig_atomic_t before = joined;
	pid_t pid = responder(service, mode, flags);

	while (joined == before)
		usleep(1000);
	return pid;
}

static void stop(pid_t pid)
{
	int status = 0;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status))
		printf("# responder %d had exited %d\n", (int)pid, WEXITSTATUS(status));
}

static int setup(void **state)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	(void)state;
	sigaction(SIGUSR1, &sa, NULL);
	hold = mmap(NULL, sizeof(*hold), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return hold == MAP_FAILED ? -1 : 0;
}

static void test_round_trip(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_req_stats st;
	char reply[64];
	shmq_req *rq;
	pid_t a;
	int i, n;

	(void)state;
	assert_int_equal(shmq_req_open(bus, "svc", 0, &rq), -ENOENT); /* no such service yet */
	a = start("svc", ECHO, 0);
	assert_int_equal(shmq_req_open(bus, "svc", 0, &rq), 0);
	for (i = 0; i < 100; i++) {
		char body[16];

		snprintf(body, sizeof(body), "ping %d", i);
		n = shmq_request(rq, body, strlen(body), reply, sizeof(reply), 5000000000ull);
		assert_int_equal(n, (int)strlen(body) + 3);
		assert_memory_equal(reply, "re:", 3);
		assert_memory_equal(reply + 3, body, strlen(body));
	}
	/* a reply longer than the buffer: -EMSGSIZE, and the request is done */
	assert_int_equal(shmq_request(rq, "0123456789", 10, reply, 4, 5000000000ull), -EMSGSIZE);
	assert_int_equal(shmq_request(rq, "x", 1, reply, sizeof(reply), 5000000000ull), 4);
	assert_int_equal(shmq_req_stats(rq, &st), 0);
	assert_int_equal(st.sent, 102);
	assert_int_equal(st.replied, 101);
	assert_int_equal(st.late, 0);
	assert_int_equal(test_inboxes(bus), 1);
	shmq_req_close(rq);
	assert_int_equal(test_inboxes(bus), 0); /* the close removes it */
	stop(a);
	shmq_bus_close(bus);
}

static void test_no_responder(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_reply rr[2];
	char reply[64];
	shmq_req *rq;
	shmq_pub *pub;
	pid_t a;

	(void)state;
	assert_int_equal(shmq_pub_open(bus, "none", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	assert_int_equal(shmq_req_open(bus, "none", 0, &rq), 0);
	assert_int_equal(shmq_request(rq, "x", 1, reply, sizeof(reply), 5000000000ull),
			 -EHOSTUNREACH);
	rr[0] = (struct shmq_reply){ .buf = reply, .cap = sizeof(reply) };
	assert_int_equal(shmq_req_gather(rq, "x", 1, rr, 1, 100000000), -EHOSTUNREACH);
	/* a responder that dies while a request waits: -EHOSTUNREACH, not the timeout */
	a = start("none", SILENT, 0);
	usleep(2000); /* past the requester's last look */
	{
		uint64_t id, got, t0 = test_now_ns();

		assert_int_equal(shmq_req_send(rq, "y", 1, 30000000000ull, &id), 0);
		stop(a);
		for (;;) {
			int r = shmq_req_recv(rq, reply, sizeof(reply), &got);

			if (r == -EAGAIN) {
				assert_int_equal(shmq_req_wait(rq, 0, SHMQ_WAIT_FOREVER), 0);
				continue;
			}
			assert_int_equal(r, -EHOSTUNREACH);
			assert_int_equal(got, id);
			break;
		}
		assert_true(test_now_ns() - t0 < 30000000000ull);
	}
	shmq_req_close(rq);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void test_timeout_late(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t timeout = 50000000, k;
	struct shmq_req_stats st;
	char reply[64], body[24];
	shmq_req *rq;
	pid_t a;

	(void)state;
	a = start("held", HELD, 0);
	assert_int_equal(shmq_req_open(bus, "held", 0, &rq), 0);
	/*
	 * The responder holds request k until it is released here, after our timeout: its reply
	 * comes late however fast either side runs. It drops a request whose deadline has passed
	 * before it takes it (a slow or emulated machine: no reply at all), so the deadline
	 * doubles until one is taken.
	 */
	for (k = 1;; k++, timeout *= 2) {
		snprintf(body, sizeof(body), "%llu", (unsigned long long)k);
		assert_int_equal(
			shmq_request(rq, body, strlen(body), reply, sizeof(reply), timeout),
			-ETIMEDOUT);
		atomic_store(&hold->release, k);
		/* the responder takes its requests in order: this one's wait drops k's late reply */
		assert_int_equal(shmq_request(rq, "b", 1, reply, sizeof(reply), 5000000000ull), 4);
		assert_memory_equal(reply, "re:b", 4);
		if (atomic_load(&hold->taken) == k)
			break;
		assert_true(k < 10); /* 25.6 s of patience at the last */
	}
	printf("# request %llu taken before its deadline\n", (unsigned long long)k);
	assert_int_equal(shmq_req_stats(rq, &st), 0);
	assert_int_equal(st.timed_out, k);
	assert_int_equal(st.late, 1);
	shmq_req_close(rq);
	stop(a);
	shmq_bus_close(bus);
}

static void test_too_large(void **state)
{
	shmq_bus *bus = test_bus();
	char reply[64];
	shmq_req *rq;
	pid_t a;

	(void)state;
	a = start("big", HUGE, 0); /* replies 64 KiB on a topic (and inbox) of 976 bytes */
	assert_int_equal(shmq_req_open(bus, "big", 0, &rq), 0);
	assert_int_equal(shmq_request(rq, "a", 1, reply, sizeof(reply), 5000000000ull), -EMSGSIZE);
	shmq_req_close(rq);
	stop(a);
	shmq_bus_close(bus);
}

/* Many requests in flight from one handle: each reply is its own request's. */
static void test_async(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t ids[64], id;
	bool done[64] = { 0 };
	char body[64], reply[64];
	unsigned got = 0, i;
	shmq_req *rq;
	pid_t a, b;
	int n;

	(void)state;
	a = start("as", ECHO, 0);
	b = start("as", ECHO, 0);
	assert_int_equal(shmq_req_open(bus, "as", 0, &rq), 0);
	assert_int_equal(shmq_req_recv(rq, reply, sizeof(reply), &id), -ENOENT);
	for (i = 0; i < 64; i++) {
		snprintf(body, sizeof(body), "%u", i);
		assert_int_equal(shmq_req_send(rq, body, strlen(body), 5000000000ull, &ids[i]), 0);
	}
	assert_int_equal(shmq_request(rq, "x", 1, reply, sizeof(reply), 1000), -EBUSY);
	while (got < 64) {
		n = shmq_req_recv(rq, reply, sizeof(reply) - 1, &id);
		if (n == -EAGAIN) {
			assert_int_equal(shmq_req_wait(rq, 0, SHMQ_WAIT_FOREVER), 0);
			continue;
		}
		assert_true(n > 3);
		reply[n] = '\0';
		i = (unsigned)strtoul(reply + 3, NULL, 10);
		assert_true(i < 64 && !done[i]);
		assert_int_equal(ids[i], id);
		done[i] = true;
		got++;
	}
	shmq_req_close(rq);
	stop(a);
	stop(b);
	shmq_bus_close(bus);
}

static void test_gather(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_reply rr[4];
	char bufs[4][64];
	shmq_req *rq;
	pid_t p[3];
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		p[i] = start("all", ECHO, SHMQ_REP_ALL);
	assert_int_equal(shmq_req_open(bus, "all", 0, &rq), 0);
	for (i = 0; i < 4; i++)
		rr[i] = (struct shmq_reply){ .buf = bufs[i], .cap = sizeof(bufs[i]) };
	assert_int_equal(shmq_req_gather(rq, "q", 1, rr, 3, 5000000000ull), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(rr[i].len, 4);
		assert_memory_equal(bufs[i], "re:q", 4);
	}
	/* asked for 4, there are 3: the deadline ends it with 3 */
	assert_int_equal(shmq_req_gather(rq, "r", 1, rr, 4, 200000000), 3);
	shmq_req_close(rq);
	for (i = 0; i < 3; i++)
		stop(p[i]);
	shmq_bus_close(bus);
}

/*
 * A responder outlives its requesters: once the last one has closed, shmq_rep_wait() parks
 * for the next (a timeout), not -EPIPE. A group responder with requesters; a plain
 * subscriber (which shmq_req_send() does not count as a responder) with a publisher's
 * record, which it drops: it carries no inbox.
 */
static void test_rep_wait_after_requesters(void **state)
{
	struct shmq_request_info ri;
	shmq_bus *bus = test_bus();
	shmq_rep *rp, *all;
	shmq_req *rq;
	shmq_pub *pub;
	uint64_t id, got;
	char buf[64];
	int round;

	(void)state;
	assert_int_equal(shmq_rep_open(bus, "wg", SHMQ_OPEN_CREATE, NULL, &rp), 0);
	assert_int_equal(shmq_rep_open(bus, "wa", SHMQ_OPEN_CREATE | SHMQ_REP_ALL, NULL, &all), 0);
	for (round = 0; round < 2; round++) {
		assert_int_equal(shmq_req_open(bus, "wg", 0, &rq), 0);
		assert_int_equal(shmq_req_send(rq, "q", 1, 5000000000ull, &id), 0);
		assert_int_equal(shmq_rep_wait(rp, 0, 5000000000ull), 0);
		assert_int_equal(shmq_rep_recv(rp, buf, sizeof(buf), &ri), 1);
		assert_int_equal(shmq_rep_reply(rp, &ri, "r", 1), 0);
		assert_int_equal(shmq_req_wait(rq, 0, 5000000000ull), 0);
		assert_int_equal(shmq_req_recv(rq, buf, sizeof(buf), &got), 1);
		assert_int_equal(got, id);
		shmq_req_close(rq);
		assert_int_equal(shmq_rep_wait(rp, 0, 50000000), -ETIMEDOUT);

		assert_int_equal(shmq_pub_open(bus, "wa", 0, NULL, &pub), 0);
		assert_int_equal(shmq_pub_send(pub, "q", 1, 0), 0);
		shmq_pub_close(pub);
		assert_int_equal(shmq_rep_wait(all, 0, 5000000000ull), 0);
		assert_int_equal(shmq_rep_recv(all, buf, sizeof(buf), &ri), -EAGAIN);
		assert_int_equal(shmq_rep_wait(all, 0, 50000000), -ETIMEDOUT);
	}
	shmq_rep_close(rp);
	shmq_rep_close(all);
	shmq_bus_close(bus);
}

/*
 * A responder that answers and leaves at once: its reply is in the inbox before the requester
 * can see it gone, and the requester takes it rather than say -EHOSTUNREACH.
 */
static void test_reply_then_leave(void **state)
{
	shmq_bus *bus = test_bus();
	char reply[64];
	shmq_req *rq;
	pid_t p;
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		p = start("once", ONCE, 0);
		assert_int_equal(shmq_req_open(bus, "once", 0, &rq), 0);
		assert_int_equal(shmq_request(rq, "q", 1, reply, sizeof(reply), 5000000000ull), 4);
		shmq_req_close(rq);
		assert_int_equal(waitpid(p, NULL, 0), p);
	}
	shmq_bus_close(bus);
}

/* A requester that dies leaves its inbox; the next requester's first request removes it. */
static void test_dead_inbox(void **state)
{
	shmq_bus *bus = test_bus();
	char reply[64];
	shmq_req *rq;
	pid_t a, c;

	(void)state;
	a = start("dd", ECHO, 0);
	c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		shmq_bus *b = test_bus_of(top);

		if (shmq_req_open(b, "dd", 0, &rq) < 0 ||
		    shmq_request(rq, "x", 1, reply, sizeof(reply), 5000000000ull) != 4)
			_exit(1);
		_exit(0); /* no close: the inbox stays */
	}
	assert_int_equal(test_wait(c), 0);
	assert_int_equal(test_inboxes(bus), 1);
	assert_int_equal(shmq_req_open(bus, "dd", 0, &rq), 0);
	assert_int_equal(shmq_request(rq, "y", 1, reply, sizeof(reply), 5000000000ull), 4);
	assert_int_equal(test_inboxes(bus), 1); /* ours; the dead one's is gone */
	shmq_req_close(rq);
	assert_int_equal(test_inboxes(bus), 0);
	stop(a);
	shmq_bus_close(bus);
}

/*
 * Under load with responders SIGKILLed at random and restarted: every request gets its own
 * reply or a timeout, never another's; duplicates (a responder killed between its reply
 * and its ack) are dropped as late.
 */
static void test_killed_responders(void **state)
{
	enum { REQUESTERS = 3, RESPONDERS = 3 };
	unsigned per = (unsigned)test_scaled(30000), kills = 0;
	shmq_bus *bus = test_bus();
	pid_t rs[RESPONDERS], qs[REQUESTERS];
	uint64_t seed = 7;
	int i, status, left = REQUESTERS;

	(void)state;
	for (i = 0; i < RESPONDERS; i++)
		rs[i] = start("kk", ECHO, 0);
	for (i = 0; i < REQUESTERS; i++) {
		qs[i] = fork();
		assert_true(qs[i] >= 0);
		if (qs[i] == 0) {
			shmq_bus *b = test_bus_of(top);
			char body[32], reply[64];
			unsigned k, ok = 0, timeouts = 0;
			shmq_req *rq;
			int n;

			alarm(300);
			if (shmq_req_open(b, "kk", 0, &rq) < 0)
				_exit(20);
			for (k = 0; k < per; k++) {
				snprintf(body, sizeof(body), "%d/%u", i, k);
				n = shmq_request(rq, body, strlen(body), reply, sizeof(reply),
						 2000000000ull);
				if (n == -ETIMEDOUT || n == -EHOSTUNREACH) {
					timeouts++;
					continue;
				}
				if (n != (int)strlen(body) + 3 ||
				    memcmp(reply + 3, body, strlen(body)))
					_exit(21); /* someone else's reply */
				ok++;
			}
			printf("# requester %d: %u replies, %u timeouts\n", i, ok, timeouts);
			fflush(stdout);
			_exit(ok + timeouts == per && ok > per / 2 ? 0 : 22);
		}
	}
	while (left) {
		pid_t w = waitpid(-1, &status, WNOHANG);

		for (i = 0; w > 0 && i < REQUESTERS; i++) {
			if (w == qs[i]) {
				assert_true(WIFEXITED(status));
				assert_int_equal(WEXITSTATUS(status), 0);
				left--;
			}
		}
		if (w > 0)
			continue;
		usleep(2000 + test_rand(&seed) % 8000);
		i = (int)(test_rand(&seed) % RESPONDERS);
		stop(rs[i]);
		kills++;
		rs[i] = start("kk", ECHO, 0);
	}
	printf("# %u responders killed\n", kills);
	assert_true(kills > 10);
	for (i = 0; i < RESPONDERS; i++)
		stop(rs[i]);
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_no_responder),
		cmocka_unit_test(test_timeout_late),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_gather),
		cmocka_unit_test(test_rep_wait_after_requesters),
		cmocka_unit_test(test_reply_then_leave),
		cmocka_unit_test(test_dead_inbox),
		cmocka_unit_test(test_killed_responders),
	};

	top = getpid();
	return cmocka_run_group_tests(tests, setup, test_cleanup);
}
