// SPDX-License-Identifier: MIT
/* test_channel.c - SPSC channel edge cases: wrap, exact fit, sizes, full, empty, APIs, roles. */
#include <pthread.h>

#include "common.h"
#include "internal.h"
#include "shm_layout.h"

struct pair {
	shmq_bus *bus;
	shmq_channel *tx;
	shmq_channel *rx;
	char name[32];
};

static struct pair open_pair(const char *name, uint64_t cap, uint32_t max_msg)
{
	struct shmq_channel_config cfg = { .capacity = cap, .max_msg = max_msg };
	struct pair p = { .bus = test_bus() };

	snprintf(p.name, sizeof(p.name), "%s", name);
	assert_int_equal(shmq_channel_open(p.bus, name,
					   SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | SHMQ_OPEN_PRODUCER,
					   &cfg, &p.tx),
			 0);
	assert_int_equal(shmq_channel_open(p.bus, name, SHMQ_OPEN_CONSUMER, NULL, &p.rx), 0);
	return p;
}

static void close_pair(struct pair *p)
{
	shmq_channel_close(p->tx);
	shmq_channel_close(p->rx);
	test_unlink(p->bus, p->name);
	shmq_bus_close(p->bus);
}

static void fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7);
}

static void expect_msg(shmq_channel *rx, size_t len, uint64_t seq)
{
	static uint8_t buf[1 << 16], want[1 << 16];
	struct shmq_msg_info info;

	assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), &info), (int)len);
	assert_int_equal(info.seq, seq);
	assert_int_equal(info.len, len);
	fill_pattern(want, len, seq);
	assert_memory_equal(buf, want, len);
}

static void send_pattern(shmq_channel *tx, size_t len, uint64_t seq)
{
	static uint8_t buf[1 << 16];

	fill_pattern(buf, len, seq);
	assert_int_equal(shmq_channel_send(tx, buf, len), 0);
}

static void test_send_recv_basic(void **state)
{
	struct pair p = open_pair("basic", 0, 0);
	struct shmq_channel_stats st;
	struct shmq_msg_info info;
	uint64_t before;
	char buf[16];

	assert_int_equal(shmq_channel_recv(p.rx, buf, sizeof(buf), &info), -EAGAIN);
	before = test_now_ns();
	assert_int_equal(shmq_channel_send(p.tx, "hello", 5), 0);
	assert_int_equal(shmq_channel_recv(p.rx, buf, sizeof(buf), &info), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(info.seq, 1);
	assert_true(info.ts_ns >= before && info.ts_ns <= test_now_ns());
	assert_int_equal(shmq_channel_recv(p.rx, buf, sizeof(buf), &info), -EAGAIN);
	assert_int_equal(shmq_channel_stats(p.tx, &st), 0);
	assert_int_equal(st.capacity, SHMQ_DEFAULT_CAPACITY);
	assert_int_equal(st.max_msg, SHMQ_DEFAULT_MAX_MSG);
	assert_int_equal(st.next_seq, 2);
	assert_int_equal(st.producer_pid, getpid());
	assert_int_equal(st.consumer_pid, getpid());
	assert_int_equal(st.creator_pid, getpid());
	assert_int_equal(st.write_pos, st.read_pos);
	close_pair(&p);
}

static void test_zero_length(void **state)
{
	struct pair p = open_pair("zero", 4096, 0);
	struct shmq_msg_info info;
	const void *data;

	assert_int_equal(shmq_channel_send(p.tx, NULL, 0), 0);
	assert_int_equal(shmq_channel_send(p.tx, "x", 0), 0);
	assert_int_equal(shmq_channel_recv(p.rx, NULL, 0, &info), 0);
	assert_int_equal(info.seq, 1);
	assert_int_equal(shmq_channel_peek(p.rx, &data, &info), 0);
	assert_int_equal(info.seq, 2);
	assert_int_equal(shmq_channel_release(p.rx), 1);
	assert_int_equal(shmq_channel_send(p.tx, NULL, 1), -EINVAL);
	close_pair(&p);
}

static void test_max_size(void **state)
{
	struct pair p = open_pair("max", 1 << 16, 1000);
	static uint8_t buf[2000];

	send_pattern(p.tx, 1000, 1);
	assert_int_equal(shmq_channel_send(p.tx, buf, 1001), -EMSGSIZE);
	expect_msg(p.rx, 1000, 1);
	close_pair(&p);

	/* The largest message a 4 KiB ring allows fits into the empty ring at any offset. */
	p = open_pair("maxfit", 4096, 0);
	for (uint64_t s = 1; s <= 16; s += 2) {
		send_pattern(p.tx, 1984, s);
		expect_msg(p.rx, 1984, s);
		send_pattern(p.tx, (size_t)(s * 40), s + 1); /* shift the offset */
		expect_msg(p.rx, (size_t)(s * 40), s + 1);
	}
	assert_int_equal(shmq_channel_send(p.tx, buf, 1985), -EMSGSIZE);
	close_pair(&p);
}

static void test_recv_buffer_too_small(void **state)
{
	struct pair p = open_pair("small", 4096, 0);
	struct shmq_msg_info info;
	char buf[8];

	send_pattern(p.tx, 100, 1);
	assert_int_equal(shmq_channel_recv(p.rx, buf, sizeof(buf), &info), -EMSGSIZE);
	expect_msg(p.rx, 100, 1); /* still there */
	close_pair(&p);
}

/* 96-byte payloads take 128 bytes; 32 more stay free for the next record's stamp. */
static void test_full_and_empty(void **state)
{
	struct pair p = open_pair("full", 4096, 0);
	uint8_t buf[96] = { 0 };
	int n = 0;

	while (shmq_channel_send(p.tx, buf, sizeof(buf)) == 0)
		n++;
	assert_int_equal(n, (4096 - 32) / 128);
	assert_int_equal(shmq_channel_send(p.tx, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(shmq_channel_recv(p.rx, buf, sizeof(buf), NULL), 96);
	assert_int_equal(shmq_channel_send(p.tx, buf, sizeof(buf)), 0); /* ends at the lap end */
	assert_int_equal(shmq_channel_send(p.tx, buf, sizeof(buf)), -EAGAIN);
	for (int i = 0; i < n; i++)
		assert_int_equal(shmq_channel_recv(p.rx, buf, sizeof(buf), NULL), 96);
	assert_int_equal(shmq_channel_recv(p.rx, buf, sizeof(buf), NULL), -EAGAIN);
	close_pair(&p);
}

static void test_wrap_around(void **state)
{
	struct pair p = open_pair("wrap", 4096, 1500);
	struct shmq_channel_stats st;
	uint64_t rnd = 42, sent = 0, got = 0;
	size_t lens[64];

	/* Random sizes, interleaved sends and receives, for many laps. */
	while (got < 20000) {
		size_t len = test_rand(&rnd) % 1501;
		static uint8_t buf[1500];

		fill_pattern(buf, len, sent + 1);
		if (sent - got < 64 && shmq_channel_send(p.tx, buf, len) == 0)
			lens[sent++ % 64] = len;
		else
			expect_msg(p.rx, lens[got % 64], got + 1), got++;
	}
	assert_int_equal(shmq_channel_stats(p.rx, &st), 0);
	assert_true(st.write_pos > 1000 * 4096ull);
	close_pair(&p);
}

static void test_exact_fit_and_pad(void **state)
{
	struct pair p = open_pair("exact", 4096, 0);
	struct shmq_channel_stats st;

	for (uint64_t s = 1; s <= 3; s++) { /* [0, 3072) */
		send_pattern(p.tx, 1024 - 32, s);
		expect_msg(p.rx, 1024 - 32, s);
	}
	send_pattern(p.tx, 1024 - 32, 4); /* [3072, 4096): ends exactly at the ring's end */
	shmq_channel_stats(p.tx, &st);
	assert_int_equal(st.write_pos, 4096);
	send_pattern(p.tx, 8, 5); /* next lap, offset 0, no padding */
	shmq_channel_stats(p.tx, &st);
	assert_int_equal(st.write_pos, 4096 + 64);
	expect_msg(p.rx, 1024 - 32, 4);
	expect_msg(p.rx, 8, 5);
	/* 1952-byte records from offset 64: the third does not fit before the end. */
	send_pattern(p.tx, 1900, 6);
	expect_msg(p.rx, 1900, 6);
	send_pattern(p.tx, 1900, 7);
	expect_msg(p.rx, 1900, 7);
	shmq_channel_stats(p.tx, &st);
	assert_int_equal(st.write_pos, 4096 + 64 + 2 * 1952);
	send_pattern(p.tx, 1900, 8);
	shmq_channel_stats(p.tx, &st);
	assert_int_equal(st.write_pos, 2 * 4096 + 1952);
	expect_msg(p.rx, 1900, 8);
	close_pair(&p);
}

static void test_reopen(void **state)
{
	struct pair p = open_pair("reopen", 4096, 0);

	for (uint64_t s = 1; s <= 3; s++)
		send_pattern(p.tx, 10 * s, s);
	expect_msg(p.rx, 10, 1);
	shmq_channel_close(p.tx);
	shmq_channel_close(p.rx);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &p.rx), 0);
	send_pattern(p.tx, 40, 4);
	expect_msg(p.rx, 20, 2);
	expect_msg(p.rx, 30, 3);
	expect_msg(p.rx, 40, 4);
	close_pair(&p);
}

static void test_reserve_commit(void **state)
{
	struct pair p = open_pair("zc", 4096, 0);
	void *buf, *buf2;

	assert_int_equal(shmq_channel_commit(p.tx, 0), -EINVAL);
	assert_int_equal(shmq_channel_reserve(p.tx, 100, &buf), 0);
	assert_true(((uintptr_t)buf & 7) == 0);
	assert_int_equal(shmq_channel_reserve(p.tx, 10, &buf2), -EBUSY);
	assert_int_equal(shmq_channel_send(p.tx, "x", 1), -EBUSY);
	assert_int_equal(shmq_channel_recv(p.rx, NULL, 0, NULL), -EAGAIN); /* invisible */
	fill_pattern(buf, 50, 1);
	assert_int_equal(shmq_channel_commit(p.tx, 101), -EINVAL);
	assert_int_equal(shmq_channel_commit(p.tx, 50), 0);
	assert_int_equal(shmq_channel_commit(p.tx, 50), -EINVAL);
	expect_msg(p.rx, 50, 1);
	assert_int_equal(shmq_channel_reserve(p.tx, 5000, &buf), -EMSGSIZE);
	assert_int_equal(shmq_channel_reserve(p.tx, 8, NULL), -EINVAL);
	close_pair(&p);
}

static void test_peek_release(void **state)
{
	struct pair p = open_pair("peek", 4096, 0);
	const void *d[3], *x;
	struct shmq_msg_info info;
	uint8_t want[64];

	for (uint64_t s = 1; s <= 3; s++)
		send_pattern(p.tx, 64, s);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(shmq_channel_peek(p.rx, &d[i], &info), 64);
		assert_int_equal(info.seq, (uint64_t)i + 1);
	}
	assert_int_equal(shmq_channel_peek(p.rx, &x, &info), -EAGAIN);
	assert_int_equal(shmq_channel_recv(p.rx, NULL, 0, NULL), -EBUSY);
	for (int i = 0; i < 3; i++) { /* still intact before release */
		fill_pattern(want, 64, (uint64_t)i + 1);
		assert_memory_equal(d[i], want, 64);
	}
	assert_int_equal(shmq_channel_release(p.rx), 3);
	assert_int_equal(shmq_channel_release(p.rx), 0);
	assert_int_equal(shmq_channel_peek(p.rx, NULL, NULL), -EINVAL);
	close_pair(&p);
}

static void test_batch(void **state)
{
	struct pair p = open_pair("batch", 4096, 0);
	uint8_t data[10][100], out[10][100];
	struct iovec iov[10];
	struct shmq_rmsg rm[10];
	int n;

	for (int i = 0; i < 10; i++) {
		fill_pattern(data[i], 100, (uint64_t)i + 1);
		iov[i] = (struct iovec){ data[i], (size_t)(10 * i) };
		rm[i] = (struct shmq_rmsg){ .buf = out[i], .cap = 100 };
	}
	assert_int_equal(shmq_channel_send_many(p.tx, iov, 10), 10);
	assert_int_equal(shmq_channel_recv_many(p.rx, rm, 4), 4);
	rm[5].cap = 10; /* message 10 (len 90) does not fit: stop before it */
	n = shmq_channel_recv_many(p.rx, rm + 4, 6);
	assert_int_equal(n, 1);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(rm[i].info.seq, (uint64_t)i + 1);
		assert_int_equal(rm[i].info.len, (size_t)(10 * i));
		assert_memory_equal(out[i], data[i], 10 * i);
	}
	rm[5].cap = 100;
	assert_int_equal(shmq_channel_recv_many(p.rx, rm + 5, 5), 5);
	assert_int_equal(shmq_channel_recv_many(p.rx, rm, 1), -EAGAIN);
	/* A batch that does not fit whole: a prefix is sent. 100-byte payloads take 160. */
	for (int i = 0; i < 10; i++)
		iov[i].iov_len = 100;
	do
		n = shmq_channel_send_many(p.tx, iov, 10);
	while (n == 10);
	assert_true(n > 0 && n < 10);
	assert_int_equal(shmq_channel_send_many(p.tx, iov, 10), -EAGAIN);
	assert_int_equal(shmq_channel_send_many(p.tx, iov, 0), -EINVAL);
	close_pair(&p);
}

static void test_roles(void **state)
{
	struct pair p = open_pair("roles", 4096, 0);
	shmq_channel *x = NULL;
	char buf[8];

	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &x), -EBUSY);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &x), -EBUSY);
	assert_null(x);
	assert_int_equal(shmq_channel_send(p.rx, "x", 1), -EBADF);
	assert_int_equal(shmq_channel_recv(p.tx, buf, sizeof(buf), NULL), -EBADF);
	assert_int_equal(shmq_channel_reserve(p.rx, 1, (void **)&x), -EBADF);
	assert_int_equal(shmq_channel_peek(p.tx, (const void **)&x, NULL), -EBADF);
	assert_int_equal(shmq_channel_release(p.tx), -EBADF);
	close_pair(&p);
}

/* A producer that dies is replaced; the new one continues the sequence. */
static void test_takeover_dead_producer(void **state)
{
	struct pair p = open_pair("takeover", 4096, 0);
	struct shmqi_chan *ctl;
	uint8_t *base;
	size_t size;
	pid_t pid;

	shmq_channel_close(p.tx);
	pid = fork();
	if (pid == 0) {
		shmq_channel *tx;

		if (shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &tx))
			_exit(1);
		for (uint64_t s = 1; s <= 5; s++)
			send_pattern(tx, 16, s);
		_exit(0); /* dies holding the role */
	}
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	send_pattern(p.tx, 16, 6);
	for (uint64_t s = 1; s <= 6; s++)
		expect_msg(p.rx, 16, s);

	/* Committed records the dead producer never advertised are found by the next one. */
	send_pattern(p.tx, 16, 7);
	send_pattern(p.tx, 16, 8);
	shmq_channel_close(p.tx);
	base = test_map(p.bus, p.name, &size);
	ctl = (struct shmqi_chan *)(base + SHMQI_CHAN_BODY_OFF);
	atomic_store(&ctl->write_pos, atomic_load(&ctl->write_pos) - 2 * 64);
	atomic_store(&ctl->next_seq, 7);
	atomic_store(&ctl->producer.head, shmqi_owner_head(pid, 0, 0)); /* the dead child */
	munmap(base, size);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	send_pattern(p.tx, 16, 9);
	for (uint64_t s = 7; s <= 9; s++)
		expect_msg(p.rx, 16, s);
	close_pair(&p);
}

/* Skip a test that needs /proc (start times, pid namespaces), closing its pair first. */
static void need_proc(struct pair *p)
{
	if (shmqi_pidns() != 0 && shmqi_proc_start(getpid()) != 0)
		return;
	close_pair(p);
	skip();
}

/* A child that lives until the parent closes *@fd (the write end of its pipe). */
static pid_t live_child(int *fd)
{
	int pfd[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[1]);
		while (read(pfd[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(pfd[0]);
	*fd = pfd[1];
	return pid;
}

/*
 * Write a role's owner by hand: head of generation 7, fields written for generation
 * @field_gen (7: this owner's; another: left by a taker that lost its final CAS).
 */
static void poke_owner_gen(struct pair *p, bool producer, int32_t pid, uint64_t start, uint64_t ns,
			   uint32_t field_gen)
{
	struct shmqi_chan *ctl;
	struct shmqi_owner *o;
	uint8_t *base;
	size_t size;

	base = test_map(p->bus, p->name, &size);
	ctl = (struct shmqi_chan *)(base + SHMQI_CHAN_BODY_OFF);
	o = producer ? &ctl->producer : &ctl->consumer;
	atomic_store(&o->start_time, shmqi_owner_start_word(field_gen, start));
	atomic_store(&o->pidns, shmqi_owner_ns_word(field_gen, ns));
	atomic_store(&o->head, shmqi_owner_head(pid, 7, ns));
	munmap(base, size);
}

/* Write a role's owner by hand, as a process that holds it would have left it. */
static void poke_owner(struct pair *p, bool producer, int32_t pid, uint64_t start, uint64_t ns)
{
	poke_owner_gen(p, producer, pid, start, ns, 7);
}

/*
 * A role's owner is a pid, its start time and its pid namespace: a live process that
 * reuses a dead owner's pid does not hold the role, and an owner of another pid namespace,
 * which cannot be judged from here, does.
 */
static void test_role_owner_identity(void **state)
{
	struct pair p = open_pair("ident", 4096, 0);
	struct shmq_channel_stats st;
	uint64_t start, ns = shmqi_pidns();
	shmq_channel *tx2 = NULL;
	pid_t live, dead, zombie;
	int fd;

	(void)state;
	need_proc(&p);
	live = live_child(&fd);
	start = shmqi_proc_start(live);
	assert_true(start != 0);
	dead = fork();
	if (dead == 0)
		_exit(0);
	assert_int_equal(test_wait(dead), 0);
	shmq_channel_close(p.tx);
	p.tx = NULL;

	/* The live child, as itself: it holds the role; statistics name it. */
	poke_owner(&p, true, live, start, ns);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), -EBUSY);
	assert_int_equal(shmq_channel_stats(p.rx, &st), 0);
	assert_int_equal(st.producer_pid, live);
	/* Its pid with another start time: a dead owner whose pid was reused. */
	poke_owner(&p, true, live, start + 1, ns);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	send_pattern(p.tx, 16, 1);
	expect_msg(p.rx, 16, 1);
	assert_int_equal(shmq_channel_stats(p.rx, &st), 0);
	assert_int_equal(st.producer_pid, getpid());
	shmq_channel_close(p.tx);
	p.tx = NULL;
	/* Another pid namespace cannot be judged: even a pid dead here holds the role. */
	poke_owner(&p, true, dead, 0, ns + 1);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), -EBUSY);
	/* An owner in the middle of taking the role (negated pid) is judged by its pid. */
	poke_owner(&p, true, -live, 0, 0);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), -EBUSY);
	assert_int_equal(shmq_channel_stats(p.rx, &st), 0);
	assert_int_equal(st.producer_pid, live);
	poke_owner(&p, true, -dead, 0, 0);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	send_pattern(p.tx, 16, 2);
	expect_msg(p.rx, 16, 2);
	shmq_channel_close(p.tx);
	p.tx = NULL;
	/* Fields another taker left after it lost its final CAS: the pid alone decides. */
	poke_owner_gen(&p, true, live, start + 1, ns, 6);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), -EBUSY);
	/* A zombie in the middle of taking the role (exited, not yet reaped) is dead. */
	zombie = fork();
	if (zombie == 0)
		_exit(0);
	while (shmqi_owner_alive(zombie, 0, 0) && kill(zombie, 0) == 0)
		usleep(1000); /* until it has exited */
	poke_owner(&p, true, -zombie, 0, 0);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	assert_int_equal(test_wait(zombie), 0);
	send_pattern(p.tx, 16, 3);
	expect_msg(p.rx, 16, 3);

	/* The consumer role the same way. */
	shmq_channel_close(p.rx);
	p.rx = NULL;
	poke_owner(&p, false, live, start, ns);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &p.rx), -EBUSY);
	poke_owner(&p, false, dead, 0, ns + 1);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &p.rx), -EBUSY);
	/* Changing hands in another namespace: not judged by a pid that means nothing here. */
	poke_owner(&p, false, -dead, 0, ns + 1);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &p.rx), -EBUSY);
	poke_owner(&p, false, -live, 0, ns);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &p.rx), -EBUSY);
	poke_owner(&p, false, -dead, 0, ns);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &p.rx), 0);
	send_pattern(p.tx, 16, 4);
	expect_msg(p.rx, 16, 4);
	shmq_channel_close(p.rx);
	p.rx = NULL;
	poke_owner(&p, false, live, start - 1, ns);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &p.rx), 0);
	send_pattern(p.tx, 16, 5);
	expect_msg(p.rx, 16, 5);

	/* Our own pid, recorded by a process that had it before us: that owner is dead. */
	shmq_channel_close(p.tx);
	p.tx = NULL;
	poke_owner(&p, true, getpid(), shmqi_proc_start(getpid()) + 1, ns);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	send_pattern(p.tx, 16, 6);
	expect_msg(p.rx, 16, 6);
	/* And as ourselves: another handle of this process already holds the role. */
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &tx2), -EBUSY);

	close(fd);
	assert_int_equal(test_wait(live), 0);
	close_pair(&p);
}

/*
 * What the owner hook does once: the role changes hands while a judge reads it. The owner
 * it read closed, another took the role and left, and the first opened it again: the
 * fields the judge read belong to the one in between, the head is the first one's again
 * but of a later generation.
 */
static uint64_t swap_start;
static int32_t swap_pid;

static void swap_owner(struct shmqi_owner *o)
{
	uint64_t h = atomic_load(&o->head), ns = shmqi_pidns();

	shmqi_owner_test_hook = NULL;
	/* It closes; another (our parent, say) takes the role and gives it up; it reopens. */
	assert_true(shmqi_entry_grab(o, &h, swap_pid) && shmqi_entry_set(o, &h, 0, 0, 0));
	assert_true(shmqi_entry_grab(o, &h, getppid()) &&
		    shmqi_entry_set(o, &h, getppid(), shmqi_proc_start(getppid()), ns));
	assert_true(shmqi_entry_grab(o, &h, getppid()) && shmqi_entry_set(o, &h, 0, 0, 0));
	assert_true(shmqi_entry_grab(o, &h, swap_pid) &&
		    shmqi_entry_set(o, &h, swap_pid, swap_start, ns));
	assert_int_equal(shmqi_head_pid(h), swap_pid);
}

/*
 * A judge that paired a pid with another owner's fields would take a live owner for dead:
 * the head's generation and the second look at it keep the role with its live owner.
 */
static void test_role_owner_changes_while_judged(void **state)
{
	struct pair p = open_pair("judged", 4096, 0);
	uint64_t start, ns = shmqi_pidns();
	pid_t live;
	int fd;

	(void)state;
	need_proc(&p);
	live = live_child(&fd);
	start = shmqi_proc_start(live);
	shmq_channel_close(p.tx);
	p.tx = NULL;
	/* The claimant pairs the live child's pid with another start time (the in-between
	 * owner's), then sees the same pid at the head again. */
	poke_owner(&p, true, live, start + 1, ns);
	swap_pid = live;
	swap_start = start;
	shmqi_owner_test_hook = swap_owner;
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), -EBUSY);
	assert_null(shmqi_owner_test_hook);
	/* The same for a producer that judges the consumer while it waits for room. */
	poke_owner(&p, true, 0, 0, 0);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	while (shmq_channel_send(p.tx, "x", 1) == 0)
		;
	poke_owner(&p, false, live, start + 1, ns);
	shmqi_owner_test_hook = swap_owner;
	assert_int_equal(shmq_channel_wait_room(p.tx, 1, 0, 0), -ETIMEDOUT);
	assert_null(shmqi_owner_test_hook);
	poke_owner(&p, false, getpid(), shmqi_proc_start(getpid()), ns); /* p.rx again */
	close(fd);
	assert_int_equal(test_wait(live), 0);
	close_pair(&p);
}

/* The state letter of /proc/PID/stat (the pid's main thread), or 0. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* In the child: wait for EOF, then end the process (_exit: no leak check at exit). */
static void *exit_at_eof(void *arg)
{
	char c;

	while (read((int)(intptr_t)arg, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/*
 * A process whose main thread called pthread_exit() shows Z for its pid while its other
 * threads run: it is alive, and keeps its role.
 */
static void test_owner_main_thread_gone(void **state)
{
	struct pair p = open_pair("mainexit", 4096, 0);
	int pfd[2], ready[2];
	pthread_t th;
	pid_t pid;
	char c;

	(void)state;
	shmq_channel_close(p.tx);
	p.tx = NULL;
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_channel *tx;

		close(pfd[1]);
		alarm(60);
		if (shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &tx) != 0 ||
		    pthread_create(&th, NULL, exit_at_eof, (void *)(intptr_t)pfd[0]) != 0 ||
		    write(ready[1], "r", 1) != 1)
			_exit(1);
		pthread_exit(NULL); /* the process lives on in its other thread */
	}
	close(pfd[0]);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	while (proc_state(pid) != 'Z' && proc_state(pid) != 0)
		usleep(1000);
	if (proc_state(pid) == 'Z') { /* /proc shows the main thread's state */
		assert_true(shmqi_owner_alive(pid, shmqi_proc_start(pid), 0));
		assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx),
				 -EBUSY);
	}
	close(pfd[1]); /* the thread returns: the process exits */
	assert_int_equal(test_wait(pid), 0);
	close(ready[0]);
	assert_false(shmqi_owner_alive(pid, 0, 0));
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &p.tx), 0);
	close_pair(&p);
}

/*
 * A handle gives up only what it holds. One judged dead (its entry taken over by another
 * handle of this same process) and a forked child's copy of a handle give up nothing.
 */
static void test_close_gives_up_only_its_own(void **state)
{
	struct pair p = open_pair("own", 4096, 0);
	uint64_t start = shmqi_proc_start(getpid()), ns = shmqi_pidns();
	shmq_channel *rx2 = NULL, *rx3 = NULL;
	pid_t pid;

	(void)state;
	need_proc(&p);
	/* The consumer handle looks dead (its entry shows another start time)... */
	poke_owner(&p, false, getpid(), start + 1, ns);
	/* ...so another handle of ours takes the role, and the first one's close is stale. */
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &rx2), 0);
	shmq_channel_close(p.rx);
	p.rx = rx2;
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &rx3), -EBUSY);
	send_pattern(p.tx, 16, 1);
	expect_msg(p.rx, 16, 1);
	/* A forked child closes its copies of both handles: we keep both roles. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_channel_close(p.tx);
		shmq_channel_close(p.rx);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_CONSUMER, NULL, &rx3), -EBUSY);
	assert_int_equal(shmq_channel_open(p.bus, p.name, SHMQ_OPEN_PRODUCER, NULL, &rx3), -EBUSY);
	send_pattern(p.tx, 16, 2);
	expect_msg(p.rx, 16, 2);
	close_pair(&p);
}

static void test_bad_config(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_channel_config cfg = { 0 };
	const unsigned tx = SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER;
	shmq_channel *ch = NULL;

	cfg.capacity = 5000;
	assert_int_equal(shmq_channel_open(bus, "c", tx, &cfg, &ch), -EINVAL);
	cfg.capacity = 2048;
	assert_int_equal(shmq_channel_open(bus, "c", tx, &cfg, &ch), -EINVAL);
	cfg.capacity = 4096;
	cfg.max_msg = 1985;
	assert_int_equal(shmq_channel_open(bus, "c", tx, &cfg, &ch), -EINVAL);
	cfg.max_msg = 0;
	cfg.mode = 01777;
	assert_int_equal(shmq_channel_open(bus, "c", tx, &cfg, &ch), -EINVAL);
	cfg.mode = 0;
	assert_int_equal(shmq_channel_open(bus, "c", tx | 0x100, &cfg, &ch), -EINVAL);
	assert_int_equal(shmq_channel_open(bus, "c", tx | SHMQ_OPEN_CONSUMER, &cfg, &ch), -EINVAL);
	assert_int_equal(shmq_channel_open(bus, "c", SHMQ_OPEN_CREATE, &cfg, &ch), -EINVAL);
	assert_int_equal(
		shmq_channel_open(bus, "c", SHMQ_OPEN_EXCL | SHMQ_OPEN_PRODUCER, &cfg, &ch),
		-EINVAL);
	assert_int_equal(shmq_channel_open(bus, "c", SHMQ_OPEN_PRODUCER, &cfg, &ch), -ENOENT);
	assert_int_equal(shmq_channel_open(NULL, "c", tx, &cfg, &ch), -EINVAL);
	assert_int_equal(shmq_channel_open(bus, "c", tx, &cfg, NULL), -EINVAL);
	assert_null(ch);
	assert_int_equal(shmq_channel_open(bus, "c", tx | SHMQ_OPEN_EXCL, &cfg, &ch), 0);
	shmq_channel_close(ch);
	ch = NULL;
	assert_int_equal(shmq_channel_open(bus, "c", tx | SHMQ_OPEN_EXCL, &cfg, &ch), -EEXIST);
	assert_string_equal(shmq_last_detail(), "");
	/* A configuration that differs is -EBADE, and the detail names the field. */
	cfg.capacity = 8192;
	assert_int_equal(shmq_channel_open(bus, "c", SHMQ_OPEN_CONSUMER, &cfg, &ch), -EBADE);
	assert_string_equal(shmq_last_detail(), "capacity: channel has 4096, asked 8192");
	cfg = (struct shmq_channel_config){ .capacity = 4096, .max_msg = 1000 };
	assert_int_equal(shmq_channel_open(bus, "c", SHMQ_OPEN_CONSUMER, &cfg, &ch), -EBADE);
	assert_string_equal(shmq_last_detail(), "max_msg: channel has 1984, asked 1000");
	assert_int_equal(
		shmq_channel_open(bus, "c", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, &cfg, &ch),
		-EBADE);
	/* A later call that fails for another reason does not show the old detail. */
	assert_int_equal(shmq_channel_open(bus, "c", SHMQ_OPEN_CONSUMER, NULL, NULL), -EINVAL);
	assert_string_equal(shmq_last_detail(), "");
	assert_null(ch);
	test_unlink(bus, "c");
	shmq_bus_close(bus);
}

static void test_strerror_version(void **state)
{
	char want[32];

	/* the library and the headers it was built with agree (both from shmq/version.h) */
	snprintf(want, sizeof(want), "%d.%d.%d", SHMQ_VERSION_MAJOR, SHMQ_VERSION_MINOR,
		 SHMQ_VERSION_PATCH);
	assert_string_equal(shmq_version(), want);
	assert_non_null(strstr(shmq_strerror(-EPROTO), "layout"));
	assert_non_null(strstr(shmq_strerror(-EBADMSG), "Corrupt"));
	assert_string_equal(shmq_strerror(-ENOENT), "No such object (nothing of that name in the "
						    "namespace)");
	assert_string_equal(shmq_strerror(ENOENT), shmq_strerror(-ENOENT));
	assert_string_equal(shmq_strerror(-EHOSTDOWN), "Host is down"); /* not ours: the system's */
	assert_non_null(shmq_strerror(-99999));
	shmq_channel_close(NULL);
	shmq_bus_close(NULL);
}

/* Every code the API documents gets a text in shmq words, not the system's generic one. */
static void test_strerror_texts(void **state)
{
	static const struct {
		int err;
		const char *words;
	} codes[] = {
		{ EUSERS, "subscriber or producer entry is held by a live process" },
		{ ESTALE, "no longer this handle's" },
		{ EBUSY, "held by a live process" },
		{ EPIPE, "closed or died" },
		{ EMSGSIZE, "max_msg" },
		{ EAGAIN, "full" },
		{ ETIMEDOUT, "claim timeout" },
		{ EPROTO, "layout" },
		{ EPROTOTYPE, "a topic opened as a channel, or the reverse" },
		{ EBADE, "configuration differs" },
		{ EBADMSG, "Corrupt record" },
		{ EACCES, "segment's mode" },
		{ ENOENT, "No such object" },
		{ EEXIST, "SHMQ_OPEN_EXCL" },
		{ EINVAL, "name, flag or configuration" },
		{ EBADF, "consumer handle" },
		{ ENOSPC, "/dev/shm" },
		{ EOPNOTSUPP, "io_uring" },
		{ EIDRM, "created anew" },
		{ ERANGE, "histogram" },
		{ EOVERFLOW, "count" },
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = shmq_strerror(-codes[i].err);

		assert_string_not_equal(s, strerror(codes[i].err));
		assert_non_null(strstr(s, codes[i].words));
		assert_string_equal(shmq_strerror(codes[i].err), s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_recv_basic),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_recv_buffer_too_small),
		cmocka_unit_test(test_full_and_empty),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_exact_fit_and_pad),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_reserve_commit),
		cmocka_unit_test(test_peek_release),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_takeover_dead_producer),
		cmocka_unit_test(test_role_owner_identity),
		cmocka_unit_test(test_role_owner_changes_while_judged),
		cmocka_unit_test(test_owner_main_thread_gone),
		cmocka_unit_test(test_close_gives_up_only_its_own),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_strerror_version),
		cmocka_unit_test(test_strerror_texts),
	};

	return cmocka_run_group_tests_name("channel", tests, NULL, test_cleanup);
}
