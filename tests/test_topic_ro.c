// SPDX-License-Identifier: MIT
/* test_topic_ro.c - read-only subscribers (SHMQ_SUB_READONLY): another user's reads, garbage. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "internal.h"
#include "shm_layout.h"
#include "topic_common.h"

#define RO_UID 65534 /* nobody: a user with read permission only on a 0644 topic */
#define RO_BURSTS 60
#define RO_BURST 40 /* records per burst: five laps of the 8-slot log, in well under 1 ms */

/* What the reading child reports to the test. */
struct ro_report {
	int status; /* 0, or the check that failed */
	uint64_t received, lost, gaps, last_seq;
	uint64_t stats_lost, stats_received;
};

/* How many mappings of segment @path ("/shmq.NS.NAME") this process has; *@ret_w: writable. */
static int mappings_of(const char *path, int *ret_w)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	*ret_w = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char perms[8] = "";

		if (!strstr(line, path) || sscanf(line, "%*s %7s", perms) != 1)
			continue;
		n++;
		*ret_w += perms[1] == 'w';
	}
	fclose(f);
	return n;
}

/*
 * The reader: every record it gets must be the one its sequence says, in order; a gap
 * before a record must be what m.lost says. Return: 0 or the number of the failed check.
 */
static int ro_read_all(shmq_sub *sub, struct ro_report *rep)
{
	uint8_t buf[MAXM], want[MAXM];
	struct shmq_sub_msg m;
	int r;

	for (;;) {
		r = shmq_sub_recv(sub, buf, sizeof(buf), &m);
		if (r == -EAGAIN) {
			r = shmq_sub_wait(sub, 0, 10000000000ull);
			if (r == -EPIPE)
				return 0;
			if (r < 0)
				return 40;
			continue;
		}
		if (r < 0)
			return 41;
		if (m.seq <= rep->last_seq || m.seq - rep->last_seq - 1 != m.lost)
			return 42;
		fill_pattern(want, len_of(m.seq), m.seq);
		if ((size_t)r != len_of(m.seq) || m.len != (size_t)r ||
		    m.corr_id != corr_of(m.seq) || memcmp(buf, want, (size_t)r) != 0)
			return 43;
		rep->gaps += m.seq - rep->last_seq - 1;
		rep->lost += m.lost;
		rep->received++;
		rep->last_seq = m.seq;
	}
}

/* The child of test_other_user_reads(): drop to RO_UID, check the refusals, read. */
static int ro_child(shmq_bus *bus, int ready_fd, int go_fd, struct ro_report *rep)
{
	struct shmq_sub_stats ss;
	shmq_sub *sub = NULL;
	char path[300];
	int n, w, n2, w2;
	char go;

	if (setgid(RO_UID) < 0 || setuid(RO_UID) < 0)
		return 10;
	prctl(PR_SET_DUMPABLE, 1); /* the uid change made /proc/self/maps unreadable to us */
	/* A subscriber that would write its cursor: refused by the file's mode. */
	if (shmq_sub_open(bus, "ro.stream", 0, NULL, 0, &sub) != -EACCES)
		return 11;
	/* A reliable topic has no read-only reader: its producers must see every cursor. */
	if (shmq_sub_open(bus, "ro.rel", SHMQ_SUB_READONLY, NULL, 0, &sub) != -EINVAL ||
	    !strstr(shmq_last_detail(), "lossy"))
		return 12;
	/* The producer handle inherited from the parent maps it writable: one more mapping, not
	 * writable, is the reader's. */
	test_path(bus, "ro.stream", path, sizeof(path));
	n = mappings_of(path, &w);
	if (shmq_sub_open(bus, "ro.stream", SHMQ_SUB_READONLY | SHMQ_SUB_EARLIEST, NULL, 0, &sub))
		return 13;
	n2 = mappings_of(path, &w2);
	if (n < 0 || n2 != n + 1 || w2 != w)
		return 14;
	if (shmq_sub_fd(sub) != -EOPNOTSUPP)
		return 15;
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &go, 1) != 1)
		return 16;
	rep->status = ro_read_all(sub, rep);
	if (shmq_sub_stats(sub, &ss) < 0)
		return 17;
	rep->stats_lost = ss.lost;
	rep->stats_received = ss.received;
	shmq_sub_close(sub);
	return rep->status;
}

/*
 * Another user (uid 65534) reads a lossy topic of mode 0644 while its owner publishes in
 * bursts that lap it: every record it gets is intact and in order, the records it lost are
 * exactly the gaps and what its stats say, it never maps the segment writable (a write
 * through its mapping would kill it), takes no subscriber entry, and ends with -EPIPE once
 * the producer closes.
 */
static void test_other_user_reads(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	struct shmq_topic_config rel = cfg_of(8, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	struct ro_report rep = { 0 };
	shmq_pub *pub, *rpub;
	int ready[2], go[2], res[2];
	uint64_t seq = 0, b, i;
	char c;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip(); /* needs a second user: run as root */
	cfg.mode = rel.mode = 0644;
	pub = open_pub(bus, "ro.stream", &cfg);
	rpub = open_pub(bus, "ro.rel", &rel);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(res), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		rep.status = ro_child(bus, ready[1], go[0], &rep);
		if (write(res[1], &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			_exit(20);
		_exit(rep.status);
	}
	close(ready[1]);
	close(res[1]);
	if (read(ready[0], &c, 1) != 1)
		fail_msg("the reader failed before reading: check %d", test_wait(pid));
	for (b = 0; b < RO_BURSTS; b++) {
		for (i = 0; i < RO_BURST; i++)
			send_seq(pub, ++seq);
		assert_int_equal(topic_stats(bus, "ro.stream").subscribers, 0);
		/* The first burst laps it before it reads: records 1-32 are lost for sure. */
		if (b == 0)
			assert_int_equal(write(go[1], "g", 1), 1);
		usleep(3000); /* the reader catches up (it looks every 1 ms) */
	}
	shmq_pub_close(pub);
	assert_int_equal(read(res[0], &rep, sizeof(rep)), (ssize_t)sizeof(rep));
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(rep.status, 0);
	/* Everything published was received or counted lost; the last one was received. */
	assert_int_equal(rep.last_seq, seq);
	assert_int_equal(rep.received + rep.lost, seq);
	assert_int_equal(rep.gaps, rep.lost);
	assert_int_equal(rep.stats_lost, rep.lost);
	assert_int_equal(rep.stats_received, rep.received);
	print_message("read-only reader: %llu received, %llu lost of %llu\n",
		      (unsigned long long)rep.received, (unsigned long long)rep.lost,
		      (unsigned long long)seq);
	assert_true(rep.lost >= RO_BURST - 8); /* the first burst lapped it */
	close(ready[0]);
	close(go[0]);
	close(go[1]);
	close(res[0]);
	shmq_pub_close(rpub);
	shmq_bus_close(bus);
}

/* The stamp of record @seq of topic @name, as the segment holds it. */
static uint64_t stamp_of(shmq_bus *bus, const char *name, uint64_t seq)
{
	size_t size;
	uint8_t *base = test_map(bus, name, &size);
	const struct shmqi_topic *ctl = (const struct shmqi_topic *)(base + SHMQI_TOPIC_BODY_OFF);
	const struct shmqi_trec *rec =
		(const struct shmqi_trec *)(base + ctl->ring_off +
					    (seq & (ctl->slots - 1)) * ctl->slot_size);
	uint64_t v = atomic_load(&rec->stamp);

	munmap(base, size);
	return v;
}

/*
 * A producer dies between claim and commit: once the claim timeout has passed, a read-only
 * subscriber steps over the record for itself (counted as skipped) and reads on, without
 * marking it skipped in the log (its stamp still says WRITING); a subscriber that comes
 * later judges it for itself.
 */
static void test_dead_claim(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *pub;
	struct shmq_sub_msg m;
	shmq_sub *sub;
	uint8_t buf[MAXM];
	pid_t pid;

	(void)state;
	cfg.claim_timeout_ns = 2000000; /* 2 ms */
	pub = open_pub(bus, "ro.dead", &cfg);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) { /* claims record 1 and dies with it */
		shmq_pub *p;
		void *b;

		if (shmq_pub_open(bus, "ro.dead", 0, NULL, &p) < 0 || shmq_pub_claim(p, 8, &b) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
	send_seq(pub, 2);
	assert_int_equal(
		shmq_sub_open(bus, "ro.dead", SHMQ_SUB_READONLY | SHMQ_SUB_EARLIEST, NULL, 0, &sub),
		0);
	assert_int_equal(shmq_sub_wait(sub, 0, 5000000000ull), 0);
	memset(&m, 0, sizeof(m));
	check_rec(buf, shmq_sub_recv(sub, buf, sizeof(buf), &m), &m, 2);
	assert_int_equal(m.skipped, 1);
	assert_int_equal(m.lost, 0);
	assert_int_equal(stamp_of(bus, "ro.dead", 1), SHMQI_STAMP(1, SHMQI_STAMP_WRITING));
	assert_int_equal(topic_stats(bus, "ro.dead").skipped, 0);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/*
 * The topic is removed under a read-only subscriber, then created anew: what the old
 * segment held is still read, and then the wait says -EIDRM (its producer, still attached
 * to the old segment, never closes); an open of the name reads the new topic.
 */
static void test_removed(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *old = open_pub(bus, "ro.gone", &cfg), *new;
	shmq_sub *sub, *sub2;
	uint64_t t0;

	(void)state;
	send_seq(old, 1);
	send_seq(old, 2);
	assert_int_equal(
		shmq_sub_open(bus, "ro.gone", SHMQ_SUB_READONLY | SHMQ_SUB_EARLIEST, NULL, 0, &sub),
		0);
	expect_seq(sub, 1, 0, 0);
	assert_int_equal(shmq_sub_wait(sub, 0, 300000000), 0); /* record 2: not removed yet */
	test_unlink(bus, "ro.gone");
	assert_int_equal(shmq_sub_wait(sub, 0, 1000000000), 0); /* record 2 is still there */
	expect_seq(sub, 2, 0, 0);
	t0 = test_now_ns();
	assert_int_equal(shmq_sub_wait(sub, 0, 5000000000ull), -EIDRM);
	assert_true(test_now_ns() - t0 < 4000000000ull); /* found by looking, not by the timeout */
	/* Created anew: the old handle's wait says so too; a new handle reads the new topic. */
	new = open_pub(bus, "ro.gone", &cfg);
	assert_int_equal(shmq_sub_wait(sub, 0, 5000000000ull), -EIDRM);
	assert_int_equal(shmq_sub_open(bus, "ro.gone", SHMQ_SUB_READONLY | SHMQ_SUB_EARLIEST, NULL,
				       0, &sub2),
			 0);
	send_seq(new, 1);
	expect_seq(sub2, 1, 0, 0);
	assert_int_equal(shmq_sub_wait(sub2, 0, 300000000), -ETIMEDOUT); /* its name is its own */
	shmq_sub_close(sub2);
	shmq_sub_close(sub);
	shmq_pub_close(new);
	shmq_pub_close(old);
	shmq_bus_close(bus);
}

/* ---- garbage in the log ---- */

struct ro_map {
	uint8_t *base;
	size_t size;
	struct shmqi_topic *ctl;
	uint8_t *ring;
	uint32_t slot_size, slots;
};

static struct ro_map ro_map_of(shmq_bus *bus, const char *name)
{
	struct ro_map m;

	m.base = test_map(bus, name, &m.size);
	m.ctl = (struct shmqi_topic *)(m.base + SHMQI_TOPIC_BODY_OFF);
	m.ring = m.base + m.ctl->ring_off;
	m.slot_size = m.ctl->slot_size;
	m.slots = m.ctl->slots;
	assert_true(m.ctl->ring_off + (uint64_t)m.slots * m.slot_size == m.size);
	return m;
}

/* One hostile round: each slot gets garbage of one kind. */
static void scribble_slots(const struct ro_map *m, uint64_t *rnd, uint64_t tail)
{
	for (uint32_t s = 0; s < m->slots; s++) {
		struct shmqi_trec *rec = (struct shmqi_trec *)(m->ring + (size_t)s * m->slot_size);
		uint64_t k = test_rand(rnd) % 4, seq = tail - m->slots + s;

		if (k == 0) { /* random bytes throughout */
			for (uint32_t i = 0; i < m->slot_size; i++)
				((uint8_t *)rec)[i] = (uint8_t)test_rand(rnd);
			continue;
		}
		/* a stamp that claims a plausible (or future) record, with garbage fields */
		atomic_store(&rec->stamp, SHMQI_STAMP(k == 3 ? seq + test_rand(rnd) % 64 : seq,
						      SHMQI_STAMP_COMMITTED));
		rec->len = k == 1 ? (uint32_t)test_rand(rnd) : (uint32_t)(test_rand(rnd) % MAXM);
		rec->flags = (uint32_t)(test_rand(rnd) % 3);
		rec->hdrs_len = (uint32_t)test_rand(rnd) % (2 * MAXM);
	}
}

/* What a read-only subscriber may return from a hostile log: an error, or sane data. */
static void check_reads(shmq_sub *sub)
{
	uint64_t last = 0;
	uint8_t buf[MAXM];
	struct shmq_sub_msg m;
	const void *data;
	int r, i;

	for (i = 0; i < 64; i++) {
		r = (i & 1) ? shmq_sub_recv(sub, buf, sizeof(buf), &m)
			    : shmq_sub_peek(sub, &data, &m);
		if (r >= 0) {
			assert_true(r <= (int)MAXM && m.len == (size_t)r);
			assert_true(m.seq > last);
			last = m.seq;
			if (!(i & 1))
				(void)shmq_sub_release(sub);
			continue;
		}
		assert_true(r == -EAGAIN || r == -EBADMSG || r == -EPROTO || r == -EMSGSIZE);
		if (r == -EAGAIN || r == -EPROTO)
			break;
	}
	r = shmq_sub_wait(sub, 0, 1000000);
	assert_true(r == 0 || r == -ETIMEDOUT || r == -EPIPE);
}

/*
 * Garbage in every slot, and a tail far ahead or torn: the read-only subscriber returns
 * errors or records of sane lengths in increasing order, never crashes, and still writes
 * nothing (the segment's bytes are the same after its reads).
 */
static void test_garbage(void **state)
{
	struct shmq_topic_config cfg = cfg_of(8, SHMQ_TOPIC_LOSSY);
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "ro.junk", &cfg);
	uint64_t rnd = 0x5eed0001, seq, tail;
	struct ro_map m = ro_map_of(bus, "ro.junk");
	uint8_t *copy = malloc(m.size);
	shmq_sub *sub;
	int round;

	(void)state;
	assert_non_null(copy);
	for (seq = 1; seq <= 20; seq++)
		send_seq(pub, seq);
	for (round = 0; round < 200; round++) {
		unsigned from = round & 1 ? SHMQ_SUB_EARLIEST : SHMQ_SUB_FROM_SEQ;

		assert_int_equal(shmq_sub_open(bus, "ro.junk", SHMQ_SUB_READONLY | from, NULL,
					       from == SHMQ_SUB_FROM_SEQ ? (uint64_t)round + 1 : 0,
					       &sub),
				 0);
		tail = atomic_load(&m.ctl->tail);
		scribble_slots(&m, &rnd, tail);
		if (round % 5 == 4) /* a tail pushed far ahead: every stamp is "lapped" */
			atomic_store(&m.ctl->tail, tail + (test_rand(&rnd) % (1u << 20)));
		memcpy(copy, m.base, m.size);
		check_reads(sub);
		assert_memory_equal(copy, m.base, m.size); /* the reader wrote nothing */
		shmq_sub_close(sub);
		atomic_store(&m.ctl->tail, tail);
	}
	free(copy);
	munmap(m.base, m.size);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_other_user_reads),
		cmocka_unit_test(test_dead_claim),
		cmocka_unit_test(test_removed),
		cmocka_unit_test(test_garbage),
	};

	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("topic-ro", tests, NULL, test_cleanup);
}
