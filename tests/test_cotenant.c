// SPDX-License-Identifier: MIT
/*
 * test_cotenant.c - a hostile co-tenant and a full /dev/shm.
 *
 * - A process with write permission scribbles seeded random bytes over a live lossy topic's,
 *   a reliable topic's and a channel's segments while a producer and a consumer of each run,
 *   and over a consumer group's segment (not its topic's) while a producer and two members
 *   that receive and ack run: every call the victims make returns an error or a record that
 *   passes its own checks (a length within bounds, the known payload shape), nothing crashes
 *   or hangs (every wait has a timeout, and the parent ends the run), and once the scribbler
 *   stops and the objects are removed and made anew (the group on its old topic), the
 *   victims exchange records correctly again. Run in the plain and the ASan+UBSan builds,
 *   so a read out of bounds is caught where it happens.
 * - /dev/shm full (a 1 MiB tmpfs over it in a private mount namespace, as root): creation
 *   fails with -ENOSPC up front, what did fit works through its whole ring (no SIGBUS), and
 *   a failed creation leaves no file behind.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/mount.h>

#include "topic_common.h"

#define PAYLOAD 48u
#define RUN_MS 1000u

/* A payload: the sequence in its first 8 bytes, then that sequence's low byte repeated. */
static void fill(uint8_t *p, uint64_t seq)
{
	memcpy(p, &seq, 8);
	memset(p + 8, (int)(seq & 0xff), PAYLOAD - 8);
}

/* Does @p (of @n bytes) have a payload's shape? A co-tenant may forge a record that has. */
static bool shaped(const uint8_t *p, int n)
{
	uint64_t seq;
	unsigned i;

	if (n != (int)PAYLOAD)
		return false;
	memcpy(&seq, p, 8);
	for (i = 8; i < PAYLOAD; i++)
		if (p[i] != (uint8_t)(seq & 0xff))
			return false;
	return true;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A victim's counts, in a shared page: calls made, errors by kind, records, bad records. */
struct tally {
	_Atomic uint64_t calls, errors, records, misshapen;
};

/* An attach refused: counted; go on trying (true) unless the run is over. */
static bool opening(const _Atomic bool *stop, struct tally *t)
{
	t->calls++;
	t->errors++;
	usleep(1000);
	return !atomic_load(stop);
}

/*
 * A receive's result @n (its length, or -errno) and the length its info gave: a record
 * counted (and whether it has a payload's shape), or an error. A length beyond the buffer
 * reported as received ends the victim with status 33: the test fails.
 */
static void tally_recv(struct tally *t, int n, size_t len, const uint8_t *buf, size_t cap)
{
	if (n > (int)cap)
		_exit(33);
	if (n >= 0 && len == (size_t)n) {
		t->records++;
		t->misshapen += !shaped(buf, n);
	} else if (n < 0 && n != -EAGAIN) {
		t->errors++;
	}
}

/* The wait after an empty receive: an error unless it only timed out. */
static void tally_wait(struct tally *t, int r)
{
	if (r < 0 && r != -ETIMEDOUT)
		t->errors++;
}

/* Producer: send until the parent says stop; every error is allowed, none may crash. */
static void topic_producer(pid_t top, const char *name, const _Atomic bool *stop, struct tally *t)
{
	shmq_bus *bus = test_bus_of(top);
	shmq_pub *pub = NULL;
	uint8_t buf[PAYLOAD];
	uint64_t seq = 0;

	/* A segment a co-tenant damaged may refuse an attach: an error, tried again. */
	while (shmq_pub_open(bus, name, 0, NULL, &pub) < 0)
		if (!opening(stop, t))
			_exit(0);
	while (!atomic_load(stop)) {
		fill(buf, ++seq);
		t->calls++;
		if (shmq_pub_send(pub, buf, PAYLOAD, seq) < 0)
			t->errors++;
	}
	shmq_pub_close(pub);
	_exit(0);
}

static void topic_consumer(pid_t top, const char *name, const _Atomic bool *stop, struct tally *t)
{
	shmq_bus *bus = test_bus_of(top);
	struct shmq_sub_msg m;
	shmq_sub *sub = NULL;
	uint8_t buf[SHMQ_TOPIC_DEFAULT_MAX_MSG];
	int n;

	while (shmq_sub_open(bus, name, SHMQ_SUB_EARLIEST, NULL, 0, &sub) < 0)
		if (!opening(stop, t))
			_exit(0);
	while (!atomic_load(stop)) {
		t->calls++;
		n = shmq_sub_recv(sub, buf, sizeof(buf), &m);
		tally_recv(t, n, m.len, buf, sizeof(buf));
		if (n == -EAGAIN)
			tally_wait(t, shmq_sub_wait(sub, 1000, 2000000));
	}
	shmq_sub_close(sub);
	_exit(0);
}

static void chan_producer(pid_t top, const char *name, const _Atomic bool *stop, struct tally *t)
{
	shmq_bus *bus = test_bus_of(top);
	shmq_channel *ch = NULL;
	uint8_t buf[PAYLOAD];
	uint64_t seq = 0;

	while (shmq_channel_open(bus, name, SHMQ_OPEN_PRODUCER, NULL, &ch) < 0)
		if (!opening(stop, t))
			_exit(0);
	while (!atomic_load(stop)) {
		fill(buf, ++seq);
		t->calls++;
		if (shmq_channel_send(ch, buf, PAYLOAD) < 0)
			t->errors++;
	}
	shmq_channel_close(ch);
	_exit(0);
}

static void chan_consumer(pid_t top, const char *name, const _Atomic bool *stop, struct tally *t)
{
	shmq_bus *bus = test_bus_of(top);
	struct shmq_msg_info m;
	shmq_channel *ch = NULL;
	uint8_t buf[4096];
	int n;

	while (shmq_channel_open(bus, name, SHMQ_OPEN_CONSUMER, NULL, &ch) < 0)
		if (!opening(stop, t))
			_exit(0);
	while (!atomic_load(stop)) {
		t->calls++;
		n = shmq_channel_recv(ch, buf, sizeof(buf), &m);
		tally_recv(t, n, m.len, buf, sizeof(buf));
		if (n == -EAGAIN)
			tally_wait(t, shmq_channel_wait(ch, 1000, 2000000));
	}
	shmq_channel_close(ch);
	_exit(0);
}

/*
 * A member of group "g" on reliable topic @name: receive and ack until the parent says stop.
 * The scribbler writes over the group's segment (its lease table, member table and floor)
 * but not over the topic's, so every damage a member meets is the group's. A payload longer
 * than the topic's max_msg ends it with status 34.
 */
static void grp_consumer(pid_t top, const char *name, const _Atomic bool *stop, struct tally *t)
{
	shmq_bus *bus = test_bus_of(top);
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	uint8_t buf[SHMQ_TOPIC_DEFAULT_MAX_MSG];
	int n;

	/* A damaged segment may refuse a join (or make it wait its second: group.h's -EBUSY). */
	while (shmq_group_open(bus, name, "g", 0, NULL, &g) < 0)
		if (!opening(stop, t))
			_exit(0);
	while (!atomic_load(stop)) {
		t->calls++;
		memset(&m, 0, sizeof(m));
		n = shmq_group_recv(g, buf, sizeof(buf), &m);
		tally_recv(t, n, m.len, buf, sizeof(buf));
		if (n > (int)MAXM)
			_exit(34);
		if (n >= 0 || n == -EMSGSIZE) { /* leased either way: settle it */
			t->calls++;
			if (shmq_group_ack(g, m.lease) < 0)
				t->errors++;
		} else if (n == -EAGAIN) {
			tally_wait(t, shmq_group_wait(g, 1000, 2000000));
		}
	}
	shmq_group_close(g);
	_exit(0);
}

/* Scribble over the segments of @names: random bytes at random offsets past the header. */
static void scribbler(const char *ns, const char *const *names, int n, unsigned seed,
		      const _Atomic bool *stop, struct tally *t)
{
	uint8_t *maps[4];
	size_t sizes[4];
	char path[300];
	struct stat st;
	int i, fd;

	srand(seed);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/dev/shm/shmq.%s.%s", ns, names[i]);
		fd = open(path, O_RDWR);
		if (fd < 0 || fstat(fd, &st) < 0)
			_exit(40);
		sizes[i] = (size_t)st.st_size;
		maps[i] = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (maps[i] == MAP_FAILED)
			_exit(41);
	}
	while (!atomic_load(stop)) {
		i = rand() % n;
		/* Past the segment header (the first 128 bytes), which names the kind and size:
		 * a co-tenant that rewrites it makes attaches fail, which the fuzz target covers. */
		size_t off = 128 + (size_t)rand() % (sizes[i] - 136), len = 1 + (size_t)rand() % 8;

		while (len--)
			maps[i][off + len] = (uint8_t)rand();
		t->calls++;
		if (rand() % 64 == 0)
			usleep(100);
	}
	_exit(0);
}

/* The calls the first @n victims made. */
static unsigned long long calls_of(const struct tally *t, int n)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += t[i].calls;
	return sum;
}

static pid_t spawn(void (*fn)(pid_t, const char *, const _Atomic bool *, struct tally *),
		   const char *name, const _Atomic bool *stop, struct tally *t)
{
	pid_t top = getpid(), pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		fn(top, name, stop, t);
	return pid;
}

/* Send and receive 100 records through a fresh topic and channel of these names. */
static void exchange_ok(shmq_bus *bus, const char *lossy, const char *rel, const char *chan)
{
	const char *topics[2] = { lossy, rel };
	struct shmq_topic_config c[2] = { cfg_of(64, SHMQ_TOPIC_LOSSY),
					  cfg_of(64, SHMQ_TOPIC_RELIABLE) };
	struct shmq_sub_msg sm;
	struct shmq_msg_info cm;
	shmq_channel *tx, *rx;
	uint8_t buf[PAYLOAD], got[256];
	uint64_t s;
	int k;

	for (k = 0; k < 2; k++) {
		shmq_sub *sub = open_sub(bus, topics[k], 0, &c[k], 0);
		shmq_pub *pub = open_pub(bus, topics[k], &c[k]);

		for (s = 1; s <= 100; s++) {
			fill(buf, s);
			assert_int_equal(shmq_pub_send(pub, buf, PAYLOAD, s), 0);
			assert_int_equal(shmq_sub_recv(sub, got, sizeof(got), &sm), (int)PAYLOAD);
			assert_true(shaped(got, PAYLOAD));
			assert_int_equal(sm.corr_id, s);
		}
		shmq_pub_close(pub);
		shmq_sub_close(sub);
	}
	assert_int_equal(
		shmq_channel_open(bus, chan, SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
	assert_int_equal(shmq_channel_open(bus, chan, SHMQ_OPEN_PRODUCER, NULL, &tx), 0);
	for (s = 1; s <= 100; s++) {
		fill(buf, s);
		assert_int_equal(shmq_channel_send(tx, buf, PAYLOAD), 0);
		assert_int_equal(shmq_channel_recv(rx, got, sizeof(got), &cm), (int)PAYLOAD);
		assert_true(shaped(got, PAYLOAD));
	}
	shmq_channel_close(tx);
	shmq_channel_close(rx);
}

/*
 * Group "g" of topic @topic removed (its segment damaged: removed all the same, group.h)
 * and made anew on the same topic: 100 records sent after that are each received once, in
 * order, and acked, and the new group owes nothing.
 */
static void group_ok(shmq_bus *bus, const char *topic)
{
	struct shmq_group_stats st;
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	shmq_pub *pub = NULL;
	uint8_t buf[PAYLOAD], got[256];
	uint64_t s;

	assert_int_equal(shmq_group_delete(bus, topic, "g", SHMQ_GROUP_FORCE), 0);
	assert_int_equal(shmq_group_open(bus, topic, "g", SHMQ_OPEN_CREATE, NULL, &g), 0);
	assert_int_equal(shmq_pub_open(bus, topic, 0, NULL, &pub), 0);
	for (s = 1; s <= 100; s++) {
		fill(buf, s);
		assert_int_equal(shmq_pub_send(pub, buf, PAYLOAD, s), 0);
		assert_int_equal(shmq_group_recv(g, got, sizeof(got), &m), (int)PAYLOAD);
		assert_true(shaped(got, PAYLOAD));
		assert_int_equal(m.corr_id, s);
		assert_int_equal(m.attempt, 1);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	assert_true(shmq_group_stat(bus, topic, "g", &st, NULL, 0) >= 0);
	assert_int_equal(st.acked, 100);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.delivered, 100);
	shmq_pub_close(pub);
	shmq_group_close(g);
}

/* Fresh topic @topic (reliable) with a durable group "g" from its first record. */
static void fresh_group(shmq_bus *bus, const char *topic, const struct shmq_topic_config *cfg)
{
	shmq_group *g = NULL;
	int r = shmq_group_delete(bus, topic, "g", SHMQ_GROUP_FORCE);

	assert_true(r == 0 || r == -ENOENT);
	test_unlink(bus, topic);
	shmq_pub_close(open_pub(bus, topic, cfg));
	assert_int_equal(
		shmq_group_open(bus, topic, "g", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, NULL, &g),
		0);
	shmq_group_close(g); /* durable: it stays, and holds the topic's producers back */
}

static void test_scribbler(void **state)
{
	/* What the scribbler writes over: the group's segment ("TOPIC@GROUP"), not its topic's. */
	static const char *const names[] = { "cl", "cr", "cc", "cg@g" };
	struct shmq_topic_config lossy = cfg_of(64, SHMQ_TOPIC_LOSSY),
				 rel = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus();
	shmq_channel *keep = NULL;
	shmq_pub *p1, *p2;
	struct tally *t;
	_Atomic bool *stop;
	pid_t pids[10];
	int i, st, seed;

	(void)state;
	for (seed = 1; seed <= 3; seed++) {
		/* Fresh objects each round, made before anyone attaches. */
		for (i = 0; i < 3; i++)
			shmq_unlink(bus, names[i]);
		p1 = open_pub(bus, "cl", &lossy);
		p2 = open_pub(bus, "cr", &rel);
		shmq_pub_close(p1);
		shmq_pub_close(p2);
		assert_int_equal(shmq_channel_open(
					 bus, "cc", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER,
					 &(struct shmq_channel_config){ .capacity = 65536 }, &keep),
				 0);
		shmq_channel_close(keep);
		fresh_group(bus, "cg", &rel);
		stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(stop != MAP_FAILED);
		t = (struct tally *)(void *)((uint8_t *)stop + 64);
		atomic_store(stop, false);
		pids[0] = spawn(topic_consumer, "cl", stop, &t[0]);
		pids[1] = spawn(topic_producer, "cl", stop, &t[1]);
		pids[2] = spawn(topic_consumer, "cr", stop, &t[2]);
		pids[3] = spawn(topic_producer, "cr", stop, &t[3]);
		pids[4] = spawn(chan_consumer, "cc", stop, &t[4]);
		pids[5] = spawn(chan_producer, "cc", stop, &t[5]);
		pids[6] = spawn(topic_producer, "cg", stop, &t[6]);
		pids[7] = spawn(grp_consumer, "cg", stop, &t[7]);
		pids[8] = spawn(grp_consumer, "cg", stop, &t[8]);
		usleep(100000); /* traffic first */
		pids[9] = fork();
		assert_true(pids[9] >= 0);
		if (pids[9] == 0)
			scribbler(shmq_bus_namespace(bus), names, 4, (unsigned)seed, stop, &t[9]);
		usleep(RUN_MS * 1000);
		atomic_store(stop, true);
		for (i = 0; i < 10; i++) {
			uint64_t until = mono_ms() + 10000;

			/* A victim that hangs in a call is a failure: no wait is for ever. */
			while (waitpid(pids[i], &st, WNOHANG) == 0 && mono_ms() < until)
				usleep(1000);
			if (mono_ms() >= until) {
				kill(pids[i], SIGKILL);
				waitpid(pids[i], &st, 0);
				fail_msg("seed %d: process %d hung", seed, i);
			}
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				fail_msg("seed %d: process %d ended with status 0x%x", seed, i, st);
		}
		print_message(
			"seed %d: %llu scribbles; topic lossy %llu records (%llu misshapen), "
			"reliable %llu (%llu), channel %llu (%llu), group %llu (%llu); errors "
			"%llu/%llu/%llu/%llu/%llu/%llu/%llu/%llu/%llu of %llu calls\n",
			seed, (unsigned long long)t[9].calls, (unsigned long long)t[0].records,
			(unsigned long long)t[0].misshapen, (unsigned long long)t[2].records,
			(unsigned long long)t[2].misshapen, (unsigned long long)t[4].records,
			(unsigned long long)t[4].misshapen,
			(unsigned long long)(t[7].records + t[8].records),
			(unsigned long long)(t[7].misshapen + t[8].misshapen),
			(unsigned long long)t[0].errors, (unsigned long long)t[1].errors,
			(unsigned long long)t[2].errors, (unsigned long long)t[3].errors,
			(unsigned long long)t[4].errors, (unsigned long long)t[5].errors,
			(unsigned long long)t[6].errors, (unsigned long long)t[7].errors,
			(unsigned long long)t[8].errors, (unsigned long long)calls_of(t, 9));
		munmap((void *)stop, 4096);
	}
	/* Recovery: the damaged objects removed and made anew, the victims' kind of traffic
	 * goes through again, every record intact; the group anew on its old topic. */
	for (i = 0; i < 3; i++)
		assert_int_equal(shmq_unlink(bus, names[i]), 0);
	exchange_ok(bus, "cl", "cr", "cc");
	group_ok(bus, "cg");
	shmq_bus_close(bus);
}

/* ---- /dev/shm full ---- */

/* In a child: a 1 MiB tmpfs over /dev/shm in a mount namespace of our own; 77 to skip. */
static int private_shm(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0)
		return 77;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=1m,mode=1777") < 0)
		return 77;
	return 0;
}

static int shm_files(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, "shmq.", 5);
	closedir(d);
	return n;
}

#define CHECK(c) CHILD_CHECK(c)

static void full_child(void)
{
	struct shmq_topic_config big = cfg_of(4096, SHMQ_TOPIC_RELIABLE); /* 1 MiB of slots */
	struct shmq_channel_config small = { .capacity = 65536 };
	struct shmq_msg_info m;
	shmq_channel *tx = NULL, *rx = NULL;
	shmq_pub *pub = NULL;
	shmq_bus *bus = NULL;
	uint8_t buf[PAYLOAD], got[256];
	char name[32];
	int i, r, made = 0;
	uint64_t s;

	CHECK(shmq_bus_open("full", 0, &bus) == 0);
	/* Too big for the whole tmpfs: refused at creation, and nothing is left behind. */
	CHECK(shmq_pub_open(bus, "big", SHMQ_OPEN_CREATE, &big, &pub) == -ENOSPC);
	CHECK(shm_files() == 0);
	/* Channels until the tmpfs is full: each made one works through several laps. */
	for (i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		r = shmq_channel_open(bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, &small,
				      &rx);
		if (r == -ENOSPC)
			break;
		CHECK(r == 0);
		made++;
		CHECK(shmq_channel_open(bus, name, SHMQ_OPEN_PRODUCER, NULL, &tx) == 0);
		for (s = 1; s <= 4000; s++) { /* 4000 x 96 bytes: six laps of 64 KiB */
			fill(buf, s);
			CHECK(shmq_channel_send(tx, buf, PAYLOAD) == 0);
			CHECK(shmq_channel_recv(rx, got, sizeof(got), &m) == (int)PAYLOAD);
			CHECK(shaped(got, PAYLOAD));
		}
		shmq_channel_close(tx);
		shmq_channel_close(rx);
	}
	CHECK(made > 0 && i < 64);
	CHECK(shm_files() == made); /* the refused one left no file */
	printf("full /dev/shm: %d channels of 64 KiB made and used, the next one -ENOSPC\n", made);
	_exit(0);
}

static void test_shm_full(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int r = private_shm();

		if (r)
			_exit(r);
		full_child();
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		print_message("skipped: needs root and a private mount namespace\n");
		skip();
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_scribbler, test_cleanup),
		cmocka_unit_test(test_shm_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
