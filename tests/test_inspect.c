// SPDX-License-Identifier: MIT
/* test_inspect.c - looking by name: listing a namespace, a channel's stat, reaping a topic. */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "common.h"
#include "internal.h"
#include "shm_layout.h"

/* ---- helpers ---- */

static void make_channel(shmq_bus *bus, const char *name, unsigned mode)
{
	struct shmq_channel_config cfg = { .capacity = 4096, .mode = mode };
	shmq_channel *ch;

	assert_int_equal(
		shmq_channel_open(bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &ch), 0);
	shmq_channel_close(ch);
}

static shmq_pub *open_pub(shmq_bus *bus, const char *name, uint64_t claim_timeout_ns)
{
	struct shmq_topic_config cfg = { .slots = 8,
					 .max_msg = 64,
					 .max_subscribers = 4,
					 .max_producers = 4,
					 .claim_timeout_ns = claim_timeout_ns };
	shmq_pub *pub = NULL;

	assert_int_equal(shmq_pub_open(bus, name, SHMQ_OPEN_CREATE, &cfg, &pub), 0);
	return pub;
}

/* The /dev/shm file of @name on @bus. */
static void shm_file(shmq_bus *bus, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/dev/shm/shmq.%s.%s", shmq_bus_namespace(bus), name);
}

/* The entry of @name in a listing of @n, or NULL. */
static const struct shmq_object_info *find(const struct shmq_object_info *v, int n,
					   const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static const struct shmq_object_info *expect(const struct shmq_object_info *v, int n,
					     const char *name, unsigned kind, int error,
					     const char *note)
{
	const struct shmq_object_info *o = find(v, n, name);

	if (!o)
		fail_msg("'%s' is not listed", name);
	if (o->kind != kind || o->error != error || !strstr(o->note, note))
		fail_msg("'%s': kind %u, error %d, note '%s'; expected kind %u, error %d, '%s'",
			 name, o->kind, o->error, o->note, kind, error, note);
	return o;
}

#define LIST_MAX 64

/* ---- the listing ---- */

static void test_kind_name(void **state)
{
	(void)state;
	assert_string_equal(shmq_kind_name(SHMQ_KIND_CHANNEL), "channel");
	assert_string_equal(shmq_kind_name(SHMQ_KIND_TOPIC), "topic");
	assert_string_equal(shmq_kind_name(SHMQ_KIND_GROUP), "consumer group");
	assert_string_equal(shmq_kind_name(SHMQ_KIND_UNKNOWN), "unknown");
	assert_string_equal(shmq_kind_name(4), "unknown"); /* the clock page is no object */
	assert_string_equal(shmq_kind_name(~0u), "unknown");
}

static void test_list_kinds(void **state)
{
	struct shmq_object_info v[LIST_MAX], one[2];
	const struct shmq_object_info *o;
	uint64_t t0 = test_wall_ns();
	shmq_bus *bus = test_bus();
	shmq_group *g;
	shmq_pub *pub;
	int n;

	(void)state;
	assert_int_equal(shmq_bus_list(bus, NULL, 0), 0);
	assert_int_equal(shmq_bus_list(NULL, v, LIST_MAX), -EINVAL);
	assert_int_equal(shmq_bus_list(bus, NULL, 1), -EINVAL);
	make_channel(bus, "c", 0);
	pub = open_pub(bus, "t", 0);
	assert_int_equal(shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE, NULL, &g), 0);
	n = shmq_bus_list(bus, v, LIST_MAX);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "c"); /* sorted by name */
	assert_string_equal(v[1].name, "t");
	assert_string_equal(v[2].name, "t@g");
	o = expect(v, n, "c", SHMQ_KIND_CHANNEL, 0, "");
	assert_string_equal(o->note, "");
	assert_int_equal(o->creator_pid, getpid());
	assert_true(o->created_ns >= t0 && o->created_ns <= test_wall_ns());
	assert_int_equal(o->size, SHMQI_CHAN_RING_OFF + 4096);
	expect(v, n, "t", SHMQ_KIND_TOPIC, 0, "");
	expect(v, n, "t@g", SHMQ_KIND_GROUP, 0, "");
	/* Room for one: the count, the first by name, nothing else written. */
	memset(one, 0x5a, sizeof(one));
	assert_int_equal(shmq_bus_list(bus, one, 1), 3);
	assert_string_equal(one[0].name, "c");
	assert_int_equal((uint8_t)one[1].name[0], 0x5a);
	assert_int_equal(shmq_bus_list(bus, NULL, 0), 3);
	assert_string_equal(shmq_last_detail(), "");
	/* Another namespace sees none of them. */
	{
		shmq_bus *other;

		assert_int_equal(shmq_bus_open("tother-ns", 0, &other), 0);
		assert_int_equal(shmq_bus_list(other, v, LIST_MAX), 0);
		shmq_bus_close(other);
	}
	shmq_group_close(g);
	assert_int_equal(shmq_group_delete(bus, "t", "g", SHMQ_GROUP_FORCE), 0);
	shmq_pub_close(pub);
	test_unlink(bus, "t");
	test_unlink(bus, "c");
	assert_int_equal(shmq_bus_list(bus, v, LIST_MAX), 0);
	shmq_bus_close(bus);
}

/* A real channel's header, changed by @poke, under @name. */
static void plant_header(shmq_bus *bus, const char *name, void (*poke)(struct shmqi_seg_hdr *))
{
	struct shmqi_seg_hdr h;
	uint8_t *base;
	size_t size;

	make_channel(bus, "model", 0);
	base = test_map(bus, "model", &size);
	memcpy(&h, base, sizeof(h));
	munmap(base, size);
	test_unlink(bus, "model");
	if (poke)
		poke(&h);
	test_plant(bus, name, &h, sizeof(h), size, 0);
}

static void unpublished(struct shmqi_seg_hdr *h)
{
	atomic_store(&h->layout, 0);
}

static void old_header(struct shmqi_seg_hdr *h)
{
	atomic_store(&h->layout, 5);
}

static void clock_kind(struct shmqi_seg_hdr *h)
{
	h->kind = SHMQI_KIND_CLOCK;
}

static void odd_kind(struct shmqi_seg_hdr *h)
{
	h->kind = 77;
}

static void other_layout(struct shmqi_seg_hdr *h)
{
	h->kind_layout = SHMQI_CHAN_LAYOUT + 1;
}

static void wrong_size(struct shmqi_seg_hdr *h)
{
	h->size += 4096;
}

static void group_kind(struct shmqi_seg_hdr *h)
{
	h->kind = SHMQI_KIND_GROUP;
}

/* Files with the namespace's prefix that are not objects of ours: listed, never a crash. */
static void test_list_hostile(void **state)
{
	struct shmq_object_info v[LIST_MAX];
	uint8_t junk[512];
	uint64_t rnd = 42;
	shmq_bus *bus = test_bus();
	char file[320], to[300];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)test_rand(&rnd);
	test_plant(bus, "junk", junk, sizeof(junk), 8192, 0);
	test_plant(bus, "zeros", NULL, 0, 8192, 0);
	test_plant(bus, "tiny", "SHMQ", 4, 10, 0);
	test_plant(bus, "empty", NULL, 0, 0, 0);
	plant_header(bus, "unpub", unpublished);
	plant_header(bus, "old", old_header);
	plant_header(bus, "clock", clock_kind);
	plant_header(bus, "odd", odd_kind);
	plant_header(bus, "newer", other_layout);
	plant_header(bus, "grown", wrong_size);
	plant_header(bus, "nogroup", group_kind); /* a group's header, no '@' in the name */
	plant_header(bus, "bad name", NULL); /* a channel's header, a name no channel has */
	shm_file(bus, "fifo", file, sizeof(file));
	assert_int_equal(mkfifo(file, 0600), 0); /* opened for reading, it would block */
	shm_file(bus, "dir", file, sizeof(file));
	assert_int_equal(mkdir(file, 0700), 0);
	make_channel(bus, "real", 0);
	shm_file(bus, "link", file, sizeof(file));
	snprintf(to, sizeof(to), "shmq.%s.real", shmq_bus_namespace(bus));
	assert_int_equal(symlink(to, file), 0);

	n = shmq_bus_list(bus, v, LIST_MAX);
	assert_int_equal(n, 16);
	for (int i = 1; i < n; i++)
		assert_true(strcmp(v[i - 1].name, v[i].name) < 0);
	expect(v, n, "real", SHMQ_KIND_CHANNEL, 0, "");
	expect(v, n, "junk", SHMQ_KIND_UNKNOWN, -EPROTO, "not a shmq segment");
	expect(v, n, "zeros", SHMQ_KIND_UNKNOWN, -EPROTO, "not a shmq segment");
	expect(v, n, "tiny", SHMQ_KIND_UNKNOWN, -EPROTO, "too small for a header");
	expect(v, n, "empty", SHMQ_KIND_UNKNOWN, -EPROTO, "too small for a header");
	expect(v, n, "unpub", SHMQ_KIND_UNKNOWN, -EINPROGRESS, "header not published");
	expect(v, n, "old", SHMQ_KIND_UNKNOWN, -EPROTO, "segment header layout version 5");
	expect(v, n, "clock", SHMQ_KIND_UNKNOWN, -EPROTO, "a clock page's header");
	expect(v, n, "odd", SHMQ_KIND_UNKNOWN, -EPROTO, "unknown kind 77");
	/* A channel of another channel layout is a channel all the same, which we cannot open. */
	expect(v, n, "newer", SHMQ_KIND_CHANNEL, -EPROTO, "channel layout version 2");
	expect(v, n, "grown", SHMQ_KIND_CHANNEL, -EPROTO, "corrupt header");
	expect(v, n, "nogroup", SHMQ_KIND_UNKNOWN, -EPROTO, "under a name no consumer group");
	expect(v, n, "bad name", SHMQ_KIND_UNKNOWN, -EPROTO, "under a name no channel has");
	expect(v, n, "fifo", SHMQ_KIND_UNKNOWN, -EPROTO, "not a regular file");
	expect(v, n, "dir", SHMQ_KIND_UNKNOWN, -EPROTO, "not a regular file");
	expect(v, n, "link", SHMQ_KIND_UNKNOWN, -ELOOP, "a symbolic link");
	assert_int_equal(find(v, n, "unpub")->creator_pid, 0);
	assert_string_equal(shmq_last_detail(), "");
	shm_file(bus, "link", file, sizeof(file));
	unlink(file);
	shm_file(bus, "dir", file, sizeof(file));
	rmdir(file);
	shm_file(bus, "fifo", file, sizeof(file));
	unlink(file);
	test_cleanup(NULL);
	shmq_bus_close(bus);
}

/* A file another user may not read is listed as such (as root: a child that drops root). */
static void test_list_unreadable(void **state)
{
	struct shmq_object_info v[LIST_MAX];
	shmq_bus *bus = test_bus();
	pid_t pid;
	int n;

	(void)state;
	if (geteuid() != 0) {
		shmq_bus_close(bus);
		skip(); /* needs a second user: run as root */
	}
	make_channel(bus, "private", 0600);
	make_channel(bus, "public", 0644);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		n = shmq_bus_list(bus, v, LIST_MAX);
		if (n != 2)
			_exit(12);
		if (v[0].kind != SHMQ_KIND_UNKNOWN || v[0].error != -EACCES ||
		    strcmp(v[0].note, "permission denied") != 0)
			_exit(13);
		if (v[1].kind != SHMQ_KIND_CHANNEL || v[1].error != 0)
			_exit(14);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
	test_unlink(bus, "private");
	test_unlink(bus, "public");
	shmq_bus_close(bus);
}

/* ---- a channel's stat by name ---- */

static void test_channel_stat(void **state)
{
	struct shmq_channel_config cfg = { .capacity = 4096, .max_msg = 100 };
	struct shmq_channel_stats st, hs;
	shmq_channel *tx, *rx, *rx2;
	shmq_bus *bus = test_bus();
	char buf[100];
	shmq_pub *pub;
	pid_t pid;

	(void)state;
	assert_int_equal(shmq_channel_stat(bus, "ch", &st), -ENOENT);
	assert_int_equal(shmq_channel_stat(bus, "a b", &st), -EINVAL);
	assert_true(strstr(shmq_last_detail(), "bad name") != NULL);
	assert_int_equal(shmq_channel_stat(NULL, "ch", &st), -EINVAL);
	assert_int_equal(
		shmq_channel_open(bus, "ch", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &tx), 0);
	assert_int_equal(shmq_channel_stat(bus, "ch", NULL), -EINVAL);
	/* No role taken: the consumer role stays free while we look. */
	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(shmq_channel_stat(bus, "ch", &st), 0);
	assert_int_equal(st.capacity, 4096);
	assert_int_equal(st.max_msg, 100);
	assert_int_equal(st.write_pos, 0);
	assert_int_equal(st.read_pos, 0);
	assert_int_equal(st.next_seq, 1);
	assert_int_equal(st.producer_pid, getpid());
	assert_int_equal(st.consumer_pid, 0);
	assert_int_equal(st.creator_pid, getpid());
	assert_int_equal(shmq_channel_open(bus, "ch", SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(shmq_channel_send(tx, "hello", 5), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), NULL), 5);
	assert_int_equal(shmq_channel_stat(bus, "ch", &st), 0);
	assert_int_equal(shmq_channel_stats(rx, &hs), 0); /* the same, through a handle */
	assert_int_equal(st.write_pos, 5 * 64);
	assert_int_equal(st.read_pos, 2 * 64);
	assert_int_equal(st.next_seq, 6);
	assert_int_equal(st.consumer_pid, getpid());
	assert_int_equal(st.write_pos, hs.write_pos);
	assert_int_equal(st.read_pos, hs.read_pos);
	assert_int_equal(st.created_ns, hs.created_ns);
	shmq_channel_close(rx);
	/* A consumer that dies holding its role: 0 by name, its pid through a handle. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(shmq_channel_open(bus, "ch", SHMQ_OPEN_CONSUMER, NULL, &rx2) == 0 ? 0 : 2);
	assert_int_equal(test_wait(pid), 0);
	assert_int_equal(shmq_channel_stat(bus, "ch", &st), 0);
	assert_int_equal(st.consumer_pid, 0);
	assert_int_equal(st.producer_pid, getpid());
	assert_int_equal(shmq_channel_stats(tx, &hs), 0);
	assert_int_equal(hs.consumer_pid, pid);
	shmq_channel_close(tx);
	/* A topic is not a channel; a corrupt channel is not ours. */
	assert_int_equal(shmq_pub_open(bus, "top", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	assert_int_equal(shmq_channel_stat(bus, "top", &st), -EPROTOTYPE);
	assert_string_equal(shmq_last_detail(), "the object is a topic, opened as a channel");
	shmq_pub_close(pub);
	{
		size_t size;
		uint8_t *base = test_map(bus, "ch", &size);

		((struct shmqi_chan *)(base + SHMQI_CHAN_BODY_OFF))->capacity = 3000;
		assert_int_equal(shmq_channel_stat(bus, "ch", &st), -EPROTO);
		munmap(base, size);
	}
	test_unlink(bus, "top");
	test_unlink(bus, "ch");
	shmq_bus_close(bus);
}

/* A user with read permission only may look (as root: a child that drops root). */
static void test_channel_stat_read_only(void **state)
{
	struct shmq_channel_config cfg = { .capacity = 4096, .mode = 0644 };
	shmq_bus *bus = test_bus();
	shmq_channel *tx;
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		shmq_bus_close(bus);
		skip(); /* needs a second user: run as root */
	}
	assert_int_equal(
		shmq_channel_open(bus, "ro", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &tx), 0);
	assert_int_equal(shmq_channel_send(tx, "x", 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct shmq_channel_stats st;
		shmq_channel *rx;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (shmq_channel_stat(bus, "ro", &st) != 0 || st.next_seq != 2 ||
		    st.producer_pid != getppid())
			_exit(11);
		if (shmq_channel_open(bus, "ro", SHMQ_OPEN_CONSUMER, NULL, &rx) != -EACCES)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
	shmq_channel_close(tx);
	test_unlink(bus, "ro");
	shmq_bus_close(bus);
}

/* ---- reaping a topic's dead entries ---- */

/* The owner heads of a topic's tables, by hand. */
struct tables {
	uint8_t *base;
	size_t size;
	struct shmqi_topic *ctl;
	struct shmqi_sub_entry *subs;
	struct shmqi_prod_entry *prods;
};

static struct tables tables_of(shmq_bus *bus, const char *name)
{
	struct tables tb;

	tb.base = test_map(bus, name, &tb.size);
	tb.ctl = (struct shmqi_topic *)(tb.base + SHMQI_TOPIC_BODY_OFF);
	tb.subs = (struct shmqi_sub_entry *)(tb.base + tb.ctl->subs_off);
	tb.prods = (struct shmqi_prod_entry *)(tb.base + tb.ctl->prods_off);
	return tb;
}

static uint32_t held(const struct shmqi_owner *first, size_t stride, uint32_t n)
{
	uint32_t count = 0;

	for (uint32_t i = 0; i < n; i++) {
		const struct shmqi_owner *o =
			(const struct shmqi_owner *)((const uint8_t *)first + i * stride);

		count += shmqi_head_pid(atomic_load(&o->head)) != 0;
	}
	return count;
}

/* A child that opens a producer and two subscribers, then dies without closing them. */
static void die_holding(shmq_bus *bus, const char *name)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_pub *p;
		shmq_sub *s1, *s2;

		if (shmq_pub_open(bus, name, 0, NULL, &p) ||
		    shmq_sub_open(bus, name, 0, NULL, 0, &s1) ||
		    shmq_sub_open(bus, name, 0, NULL, 0, &s2))
			_exit(2);
		_exit(0);
	}
	assert_int_equal(test_wait(pid), 0);
}

static void test_reap(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "r", 0);
	shmq_sub *sub = NULL;
	struct shmq_topic_stats st;
	uint32_t subs = 99, prods = 99;
	struct tables tb;

	(void)state;
	assert_int_equal(shmq_sub_open(bus, "r", 0, NULL, 0, &sub), 0);
	assert_int_equal(shmq_topic_reap(bus, "r", &subs, &prods), 0); /* nobody is dead */
	assert_int_equal(subs, 0);
	assert_int_equal(prods, 0);
	die_holding(bus, "r");
	tb = tables_of(bus, "r");
	assert_int_equal(held(&tb.subs[0].owner, sizeof(tb.subs[0]), 4), 3);
	assert_int_equal(held(&tb.prods[0].owner, sizeof(tb.prods[0]), 4), 2);
	assert_int_equal(shmq_topic_stat(bus, "r", &st, NULL, 0), 1); /* the live ones */
	assert_int_equal(st.producers, 1);
	assert_int_equal(shmq_topic_reap(bus, "r", &subs, &prods), 3);
	assert_int_equal(subs, 2);
	assert_int_equal(prods, 1);
	assert_int_equal(held(&tb.subs[0].owner, sizeof(tb.subs[0]), 4), 1); /* ours stay */
	assert_int_equal(held(&tb.prods[0].owner, sizeof(tb.prods[0]), 4), 1);
	for (uint32_t i = 0; i < 4; i++) /* a freed subscriber no longer gates */
		if (shmqi_head_pid(atomic_load(&tb.subs[i].owner.head)) == 0)
			assert_int_equal(atomic_load(&tb.subs[i].state), SHMQI_SUB_FREE);
	assert_int_equal(shmq_topic_reap(bus, "r", NULL, NULL), 0);
	/* What we hold still works. */
	assert_int_equal(shmq_pub_send(pub, "a", 1, 0), 0);
	assert_int_equal(shmq_sub_recv(sub, NULL, 0, NULL), -EMSGSIZE);
	/* Nothing but topics, names and a bus. */
	assert_int_equal(shmq_topic_reap(bus, "none", NULL, NULL), -ENOENT);
	assert_int_equal(shmq_topic_reap(bus, "a b", NULL, NULL), -EINVAL);
	assert_int_equal(shmq_topic_reap(NULL, "r", NULL, NULL), -EINVAL);
	make_channel(bus, "ch", 0);
	assert_int_equal(shmq_topic_reap(bus, "ch", NULL, NULL), -EPROTOTYPE);
	munmap(tb.base, tb.size);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "ch");
	test_unlink(bus, "r");
	shmq_bus_close(bus);
}

/* Receive until a record comes, waiting (so that a dead claim is judged) for up to 5 s. */
static int recv_waiting(shmq_sub *sub, char *buf, size_t len, struct shmq_sub_msg *m)
{
	uint64_t deadline = test_now_ns() + 5000000000ull;
	int r;

	while ((r = shmq_sub_recv(sub, buf, len, m)) == -EAGAIN && test_now_ns() < deadline)
		shmq_sub_wait(sub, 0, 100000000ull);
	return r;
}

/*
 * A producer that died with a claim outstanding: the reap frees its entry and skips the
 * record, and the stream goes on. A live producer's outstanding claim is neither freed nor
 * skipped (test_reap.c has the same with a claim timeout no test outlives).
 */
static void test_reap_pending_claim(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "rc", SHMQ_TOPIC_MIN_CLAIM_TIMEOUT_NS);
	struct shmq_sub_msg m;
	shmq_sub *sub = NULL;
	uint32_t subs, prods;
	struct tables tb;
	char buf[64];
	void *zc;
	pid_t pid;

	(void)state;
	assert_int_equal(shmq_sub_open(bus, "rc", 0, NULL, 0, &sub), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmq_pub *p;
		void *b;

		if (shmq_pub_open(bus, "rc", 0, NULL, &p) || shmq_pub_claim(p, 8, &b))
			_exit(2);
		_exit(0); /* record 1 claimed, never committed */
	}
	assert_int_equal(test_wait(pid), 0);
	tb = tables_of(bus, "rc");
	assert_int_equal(held(&tb.prods[0].owner, sizeof(tb.prods[0]), 4), 2);
	assert_int_equal(shmq_pub_send(pub, "two", 3, 2), 0);
	assert_int_equal(shmq_topic_reap(bus, "rc", &subs, &prods), 1);
	assert_int_equal(subs, 0);
	assert_int_equal(prods, 1);
	assert_int_equal(held(&tb.prods[0].owner, sizeof(tb.prods[0]), 4), 1);
	assert_int_equal(recv_waiting(sub, buf, sizeof(buf), &m), 3);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.skipped, 1); /* the dead claim */
	/* Our own claim, outstanding: alive, so kept, and its record waited for. */
	assert_int_equal(shmq_pub_claim(pub, 4, &zc), 0); /* record 3 */
	assert_int_equal(shmq_topic_reap(bus, "rc", &subs, &prods), 0);
	usleep(20000); /* many claim timeouts */
	assert_int_equal(shmq_sub_wait(sub, 0, 20000000ull), -ETIMEDOUT);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), -EAGAIN);
	memcpy(zc, "three", 4);
	assert_int_equal(shmq_pub_commit(pub, 4, 3), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), 4);
	assert_int_equal(m.seq, 3);
	assert_int_equal(m.skipped, 0);
	munmap(tb.base, tb.size);
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	test_unlink(bus, "rc");
	shmq_bus_close(bus);
}

/* Garbage in the tables: a reap returns, frees only what it judged dead, never crashes. */
static void test_reap_hostile(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t rnd = 7;
	struct tables tb;
	shmq_pub *pub;
	int r;

	(void)state;
	for (int t = 0; t < 200; t++) {
		pub = open_pub(bus, "rh", 0);
		shmq_pub_close(pub);
		tb = tables_of(bus, "rh");
		for (size_t i = 0; i < 4 * sizeof(struct shmqi_sub_entry); i++)
			((uint8_t *)tb.subs)[i] = (uint8_t)test_rand(&rnd);
		for (size_t i = 0; i < 4 * sizeof(struct shmqi_prod_entry); i++)
			((uint8_t *)tb.prods)[i] = (uint8_t)test_rand(&rnd);
		r = shmq_topic_reap(bus, "rh", NULL, NULL);
		assert_true(r >= 0 && r <= 8);
		r = shmq_pub_open(bus, "rh", 0, NULL, &pub); /* whatever it left is usable */
		assert_true(r == 0 || r == -EUSERS);
		shmq_pub_close(r == 0 ? pub : NULL);
		munmap(tb.base, tb.size);
		test_unlink(bus, "rh");
	}
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		/* the listing */
		cmocka_unit_test(test_kind_name),
		cmocka_unit_test(test_list_kinds),
		cmocka_unit_test(test_list_hostile),
		cmocka_unit_test(test_list_unreadable),
		/* a channel's stat by name */
		cmocka_unit_test(test_channel_stat),
		cmocka_unit_test(test_channel_stat_read_only),
		/* reaping a topic's dead entries */
		cmocka_unit_test(test_reap),
		cmocka_unit_test(test_reap_pending_claim),
		cmocka_unit_test(test_reap_hostile),
	};

	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("inspect", tests, NULL, test_cleanup);
}
