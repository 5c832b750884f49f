// SPDX-License-Identifier: MIT
/* test_segment.c - bus namespaces, names, segment create/attach races, modes and errors. */
#include <stdatomic.h>

#include "common.h"
#include "internal.h"
#include "shm_layout.h"

static void test_namespace(void **state)
{
	char long_ns[SHMQ_NAMESPACE_MAX + 2];
	shmq_bus *bus = NULL;

	unsetenv(SHMQ_NAMESPACE_ENV);
	assert_int_equal(shmq_bus_open(NULL, 0, &bus), 0);
	assert_string_equal(shmq_bus_namespace(bus), "default");
	shmq_bus_close(bus);
	setenv(SHMQ_NAMESPACE_ENV, "from-env_1", 1);
	assert_int_equal(shmq_bus_open(NULL, 0, &bus), 0);
	assert_string_equal(shmq_bus_namespace(bus), "from-env_1");
	shmq_bus_close(bus);
	assert_int_equal(shmq_bus_open("explicit", 0, &bus), 0); /* the argument wins */
	assert_string_equal(shmq_bus_namespace(bus), "explicit");
	shmq_bus_close(bus);
	bus = NULL;
	setenv(SHMQ_NAMESPACE_ENV, "bad/ns", 1);
	assert_int_equal(shmq_bus_open(NULL, 0, &bus), -EINVAL);
	unsetenv(SHMQ_NAMESPACE_ENV);
	memset(long_ns, 'a', sizeof(long_ns) - 1);
	long_ns[sizeof(long_ns) - 1] = '\0';
	assert_int_equal(shmq_bus_open(long_ns, 0, &bus), -EINVAL);
	long_ns[SHMQ_NAMESPACE_MAX] = '\0';
	assert_int_equal(shmq_bus_open(long_ns, 1, &bus), -EINVAL);
	assert_int_equal(shmq_bus_open("a.b", 0, &bus), -EINVAL);
	assert_int_equal(shmq_bus_open("", 0, &bus), 0); /* empty means the default */
	shmq_bus_close(bus);
	assert_int_equal(shmq_bus_open("x", 0, NULL), -EINVAL);
	assert_int_equal(shmq_bus_open(long_ns, 0, &bus), 0);
	shmq_bus_close(bus);
	assert_null(shmq_bus_namespace(NULL));
}

static void test_names(void **state)
{
	static const char *bad[] = { "", ".a", "a.", "a..b", "a/b", "a b", "ä", "a\n" };
	char name[SHMQ_NAME_MAX + 2];
	shmq_bus *bus = test_bus();
	shmq_channel *ch = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(shmq_channel_open(bus, bad[i],
						   SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL,
						   &ch),
				 -EINVAL);
		assert_int_equal(shmq_unlink(bus, bad[i]), -EINVAL);
	}
	assert_int_equal(shmq_unlink(bus, NULL), -EINVAL);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(
		shmq_channel_open(bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL, &ch),
		-EINVAL);
	name[SHMQ_NAME_MAX] = '\0';
	memcpy(name, "orders.eu-1_", 12);
	assert_int_equal(
		shmq_channel_open(bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL, &ch), 0);
	shmq_channel_close(ch);
	assert_int_equal(shmq_unlink(bus, name), 0);
	assert_int_equal(shmq_unlink(bus, name), -ENOENT);
	shmq_bus_close(bus);
}

/* A bad name's detail says what is wrong and the rule; a good call leaves none. */
static void test_name_detail(void **state)
{
	static const char rule[] = "(1-200 chars of [A-Za-z0-9_.-], dot-separated non-empty "
				   "segments)";
	static const struct {
		const char *name, *what;
	} bad[] = {
		{ "", "bad name: empty " },
		{ ".a", "bad name: the '.' at offset 0 leaves an empty segment " },
		{ "a.", "bad name: the '.' at offset 1 leaves an empty segment " },
		{ "a..b", "bad name: the '.' at offset 1 leaves an empty segment " },
		{ "a/b", "bad name: '/' at offset 1 is not allowed " },
		{ "ab c", "bad name: ' ' at offset 2 is not allowed " },
		{ "\xc3\xa4", "bad name: byte 0xc3 at offset 0 is not allowed " },
		{ "a\n", "bad name: byte 0x0a at offset 1 is not allowed " },
	};
	char name[SHMQ_NAME_MAX + 2], want[200];
	shmq_bus *bus = test_bus();
	shmq_channel *ch = NULL;
	shmq_pub *pub = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "%s%s", bad[i].what, rule);
		assert_int_equal(shmq_channel_open(bus, bad[i].name,
						   SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL,
						   &ch),
				 -EINVAL);
		assert_string_equal(shmq_last_detail(), want);
		assert_int_equal(shmq_unlink(bus, bad[i].name), -EINVAL);
		assert_string_equal(shmq_last_detail(), want);
		assert_int_equal(shmq_pub_open(bus, bad[i].name, SHMQ_OPEN_CREATE, NULL, &pub),
				 -EINVAL);
		assert_string_equal(shmq_last_detail(), want);
	}
	assert_int_equal(shmq_unlink(bus, NULL), -EINVAL);
	assert_string_equal(shmq_last_detail(), "bad name: NULL (1-200 chars of [A-Za-z0-9_.-], "
						"dot-separated non-empty segments)");
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(shmq_unlink(bus, name), -EINVAL);
	assert_string_equal(shmq_last_detail(), "bad name: 201 chars, at most 200");
	/* A call that succeeds, or fails with nothing to add, leaves no detail behind. */
	assert_int_equal(shmq_unlink(bus, "a/b"), -EINVAL);
	assert_int_equal(shmq_unlink(bus, "absent"), -ENOENT);
	assert_string_equal(shmq_last_detail(), "");
	assert_int_equal(shmq_unlink(bus, "a/b"), -EINVAL);
	assert_int_equal(
		shmq_channel_open(bus, "ok", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL, &ch), 0);
	assert_string_equal(shmq_last_detail(), "");
	shmq_channel_close(ch);
	test_unlink(bus, "ok");
	assert_null(pub);
	shmq_bus_close(bus);
}

static void test_namespace_detail(void **state)
{
	shmq_bus *bus = NULL;

	setenv(SHMQ_NAMESPACE_ENV, "bad/ns", 1);
	assert_int_equal(shmq_bus_open(NULL, 0, &bus), -EINVAL);
	assert_string_equal(shmq_last_detail(), "bad namespace from $SHMQ_NAMESPACE: '/' at "
						"offset 3 is not allowed (1-32 chars of "
						"[A-Za-z0-9_-])");
	unsetenv(SHMQ_NAMESPACE_ENV);
	assert_int_equal(shmq_bus_open("a.b", 0, &bus), -EINVAL);
	assert_string_equal(shmq_last_detail(), "bad namespace: '.' at offset 1 is not allowed "
						"(1-32 chars of [A-Za-z0-9_-])");
	assert_int_equal(shmq_bus_open("abcdefghijklmnopqrstuvwxyz0123456", 0, &bus), -EINVAL);
	assert_string_equal(shmq_last_detail(), "bad namespace: 33 chars, at most 32");
	assert_null(bus);
}

static int slow_init(struct shmqi_seg *seg, void *arg)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 }; /* widen the window for attachers */
	struct shmqi_seg_hdr *hdr = (struct shmqi_seg_hdr *)seg->base;

	hdr->body_off = 64;
	nanosleep(&ts, NULL);
	return 0;
}

/* Exit 10 for "created", 11 for "attached", anything else is a failure. */
static int race_child(const char *path, int go_fd)
{
	struct shmqi_seg seg;
	char c;

	if (read(go_fd, &c, 1) != 0) /* EOF when the parent releases everyone at once */
		return 1;
	if (shmqi_seg_open(path, 99, 8192, 0600, SHMQI_SEG_CREATE, slow_init, NULL, &seg) < 0)
		return 2;
	if (((struct shmqi_seg_hdr *)seg.base)->body_off != 64 || seg.size != 8192)
		return 3;
	return seg.created ? 10 : 11;
}

static void test_create_race(void **state)
{
	enum { CHILDREN = 8, ROUNDS = 5 };
	char path[64];
	pid_t pids[CHILDREN];
	int fds[2];

	snprintf(path, sizeof(path), "/shmq.t%d.race", (int)getpid());
	for (int round = 0; round < ROUNDS; round++) {
		int created = 0, attached = 0;

		assert_int_equal(pipe(fds), 0);
		for (int i = 0; i < CHILDREN; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				close(fds[1]);
				_exit(race_child(path, fds[0]));
			}
		}
		close(fds[0]);
		close(fds[1]); /* go */
		for (int i = 0; i < CHILDREN; i++) {
			int st = test_wait(pids[i]);

			assert_true(st == 10 || st == 11);
			created += st == 10;
			attached += st == 11;
		}
		assert_int_equal(created, 1);
		assert_int_equal(attached, CHILDREN - 1);
		assert_int_equal(shm_unlink(path), 0);
	}
}

static int mode_of(shmq_bus *bus, const char *name)
{
	char path[300], file[320];
	struct stat st;

	test_path(bus, name, path, sizeof(path));
	snprintf(file, sizeof(file), "/dev/shm%s", path);
	assert_int_equal(stat(file, &st), 0);
	return (int)(st.st_mode & 0777);
}

static void test_modes(void **state)
{
	struct shmq_channel_config cfg = { .capacity = 4096, .mode = 0660 };
	shmq_bus *bus = test_bus();
	shmq_channel *ch;
	mode_t old = umask(077);

	assert_int_equal(
		shmq_channel_open(bus, "m1", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL, &ch), 0);
	assert_int_equal(mode_of(bus, "m1"), 0600);
	shmq_channel_close(ch);
	assert_int_equal(
		shmq_channel_open(bus, "m2", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &ch), 0);
	assert_int_equal(mode_of(bus, "m2"), 0660); /* the umask does not narrow it */
	shmq_channel_close(ch);
	umask(old);
	test_unlink(bus, "m1");
	test_unlink(bus, "m2");
	shmq_bus_close(bus);
}

/*
 * Another user may not open a 0600 channel: checked from a child that drops to nobody
 * (as root), or on a file made unreadable to its owner (as anyone else).
 */
static void test_permission_denied(void **state)
{
	shmq_bus *bus = test_bus();
	char path[300], file[320];
	shmq_channel *ch;
	pid_t pid;

	assert_int_equal(
		shmq_channel_open(bus, "private", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL, &ch),
		0);
	test_path(bus, "private", path, sizeof(path));
	snprintf(file, sizeof(file), "/dev/shm%s", path);
	if (geteuid() != 0)
		assert_int_equal(chmod(file, 0), 0);
	pid = fork();
	if (pid == 0) {
		shmq_channel *x;

		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		_exit(shmq_channel_open(bus, "private", SHMQ_OPEN_CONSUMER, NULL, &x) == -EACCES
			      ? 0
			      : 1);
	}
	assert_int_equal(test_wait(pid), 0);
	shmq_channel_close(ch);
	test_unlink(bus, "private");
	shmq_bus_close(bus);
}

static void test_no_space(void **state)
{
	struct shmq_channel_config cfg = { .capacity = SHMQ_MAX_CAPACITY };
	shmq_bus *bus = test_bus();
	shmq_channel *ch = NULL;

	assert_int_equal(
		shmq_channel_open(bus, "huge", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &ch),
		-ENOSPC);
	assert_null(ch);
	/* Nothing is left behind. */
	assert_int_equal(shmq_channel_open(bus, "huge", SHMQ_OPEN_PRODUCER, NULL, &ch), -ENOENT);
	shmq_bus_close(bus);
}

static void test_absent_and_unlink(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_channel *tx, *rx, *x = NULL;
	char buf[8];

	assert_int_equal(shmq_channel_open(bus, "gone", SHMQ_OPEN_CONSUMER, NULL, &x), -ENOENT);
	assert_int_equal(
		shmq_channel_open(bus, "gone", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, NULL, &tx),
		0);
	assert_int_equal(shmq_channel_open(bus, "gone", SHMQ_OPEN_CONSUMER, NULL, &rx), 0);
	assert_int_equal(shmq_unlink(bus, "gone"), 0);
	assert_int_equal(shmq_channel_open(bus, "gone", SHMQ_OPEN_CONSUMER, NULL, &x), -ENOENT);
	/* Open handles keep working after unlink. */
	assert_int_equal(shmq_channel_send(tx, "abc", 3), 0);
	assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), NULL), 3);
	shmq_channel_close(tx);
	shmq_channel_close(rx);
	shmq_bus_close(bus);
}

static void expect_proto(shmq_bus *bus, const char *name)
{
	shmq_channel *ch = NULL;

	assert_int_equal(shmq_channel_open(bus, name, SHMQ_OPEN_CONSUMER, NULL, &ch), -EPROTO);
	assert_int_equal(
		shmq_channel_open(bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &ch),
		-EPROTO);
	assert_null(ch);
	test_unlink(bus, name);
}

static void test_foreign_segments(void **state)
{
	shmq_bus *bus = test_bus();
	uint64_t t0;

	test_plant(bus, "junk", NULL, 0, 8192, 0xab); /* wrong magic and layout word */
	t0 = test_now_ns();
	expect_proto(bus, "junk");
	assert_true(test_now_ns() - t0 < SHMQI_ATTACH_WAIT_NS); /* no waiting for a published one */
	test_plant(bus, "zeros", NULL, 0, 8192, 0); /* a header that never gets published */
	expect_proto(bus, "zeros");
	test_plant(bus, "tiny", NULL, 0, 10, 0); /* too small to hold a header */
	expect_proto(bus, "tiny");
	shmq_bus_close(bus);
}

/* Corrupt one header field of a real channel and expect -EPROTO on the next attach. */
static void corrupt_field(shmq_bus *bus, const char *name, int which)
{
	struct shmq_channel_config cfg = { .capacity = 4096 };
	struct shmqi_seg_hdr *hdr;
	struct shmqi_chan *ctl;
	shmq_channel *ch;
	uint8_t *base;
	size_t size;
	char path[300];
	int fd;

	assert_int_equal(
		shmq_channel_open(bus, name, SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &cfg, &ch), 0);
	shmq_channel_close(ch);
	base = test_map(bus, name, &size);
	hdr = (struct shmqi_seg_hdr *)base;
	ctl = (struct shmqi_chan *)(base + SHMQI_CHAN_BODY_OFF);
	switch (which) {
	case 0:
		atomic_store(&hdr->layout, SHMQI_HDR_LAYOUT + 1);
		break;
	case 1:
		hdr->magic ^= 1;
		break;
	case 2:
		hdr->kind = 77;
		break;
	case 3:
		hdr->size += 4096;
		break;
	case 4:
		hdr->body_off = (uint32_t)size;
		break;
	case 5:
		ctl->capacity = 3000;
		break;
	case 6:
		ctl->ring_off = 64;
		break;
	case 7:
		ctl->max_msg = 4000;
		break;
	case 8: /* the file grew behind our back: size disagrees with the header */
		test_path(bus, name, path, sizeof(path));
		fd = shm_open(path, O_RDWR, 0);
		assert_true(fd >= 0 && ftruncate(fd, (off_t)size * 2) == 0);
		close(fd);
		break;
	}
	munmap(base, size);
	expect_proto(bus, name);
}

static void test_corrupt_header_fields(void **state)
{
	shmq_bus *bus = test_bus();

	for (int i = 0; i <= 8; i++)
		corrupt_field(bus, "corrupt", i);
	shmq_bus_close(bus);
}

/* Open @name as what @kind is: 0 or the error, and the detail it left in @detail. */
static int open_as(shmq_bus *bus, uint32_t kind, const char *name, char *detail, size_t len)
{
	struct shmq_topic_stats st;
	struct shmq_group_stats gs;
	shmq_channel *ch;
	int r;

	if (kind == SHMQI_KIND_CHANNEL) {
		r = shmq_channel_open(bus, name, SHMQ_OPEN_CONSUMER, NULL, &ch);
		if (r == 0)
			shmq_channel_close(ch);
	} else if (kind == SHMQI_KIND_TOPIC) {
		r = shmq_topic_stat(bus, name, &st, NULL, 0);
	} else {
		r = shmq_group_stat(bus, "lt", "g", &gs, NULL, 0);
	}
	snprintf(detail, len, "%s", shmq_last_detail());
	return r < 0 ? r : 0;
}

/* Each kind's layout version, in its header: a change to one leaves the others readable. */
static void test_kind_layout(void **state)
{
	static const struct {
		uint32_t kind;
		const char *name, *said;
	} k[] = {
		{ SHMQI_KIND_CHANNEL, "lc", "channel" },
		{ SHMQI_KIND_TOPIC, "lt", "topic" },
		{ SHMQI_KIND_GROUP, "lt@g", "consumer group" },
	};
	struct shmq_channel_config ccfg = { .capacity = 4096 };
	shmq_bus *bus = test_bus();
	char want[128], got[256];
	struct shmqi_seg_hdr *hdr;
	shmq_channel *ch;
	shmq_group *g;
	shmq_pub *pub;
	size_t size, i, j;

	assert_int_equal(
		shmq_channel_open(bus, "lc", SHMQ_OPEN_CREATE | SHMQ_OPEN_PRODUCER, &ccfg, &ch), 0);
	shmq_channel_close(ch);
	assert_int_equal(shmq_pub_open(bus, "lt", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	assert_int_equal(shmq_group_open(bus, "lt", "g", SHMQ_OPEN_CREATE, NULL, &g), 0);
	shmq_group_close(g);
	assert_string_equal(shmqi_kind_name(SHMQI_KIND_CLOCK), "clock page");
	assert_null(shmqi_kind_name(77));
	assert_int_equal(shmqi_kind_layout(77), 0);
	for (i = 0; i < 3; i++) {
		hdr = (struct shmqi_seg_hdr *)test_map(bus, k[i].name, &size);
		assert_int_equal(atomic_load(&hdr->layout), SHMQI_HDR_LAYOUT);
		assert_int_equal(hdr->kind, k[i].kind);
		assert_true(hdr->kind_layout > 0);
		assert_int_equal(hdr->kind_layout, shmqi_kind_layout(k[i].kind));
		hdr->kind_layout++;
		assert_int_equal(open_as(bus, k[i].kind, k[i].name, got, sizeof(got)), -EPROTO);
		snprintf(want, sizeof(want), "%s layout version %u; this library speaks %u",
			 k[i].said, shmqi_kind_layout(k[i].kind) + 1, shmqi_kind_layout(k[i].kind));
		assert_string_equal(got, want);
		for (j = 0; j < 3; j++) { /* the other kinds still open (a group reads its topic) */
			if (j == i || (i == 1 && j == 2))
				continue;
			assert_int_equal(open_as(bus, k[j].kind, k[j].name, got, sizeof(got)), 0);
		}
		hdr->kind_layout--;
		assert_int_equal(open_as(bus, k[i].kind, k[i].name, got, sizeof(got)), 0);
		munmap(hdr, size);
	}
	/* Another kind is still -EPROTOTYPE, whatever its layout version. */
	hdr = (struct shmqi_seg_hdr *)test_map(bus, "lt", &size);
	hdr->kind_layout += 5;
	assert_int_equal(open_as(bus, SHMQI_KIND_CHANNEL, "lt", got, sizeof(got)), -EPROTOTYPE);
	hdr->kind_layout -= 5;
	/* The header's own version. */
	atomic_store(&hdr->layout, SHMQI_HDR_LAYOUT + 1);
	assert_int_equal(open_as(bus, SHMQI_KIND_TOPIC, "lt", got, sizeof(got)), -EPROTO);
	snprintf(want, sizeof(want), "segment header layout version %u; this library speaks %u",
		 SHMQI_HDR_LAYOUT + 1, SHMQI_HDR_LAYOUT);
	assert_string_equal(got, want);
	atomic_store(&hdr->layout, SHMQI_HDR_LAYOUT);
	/* A clock page's header under an object's name: not an object, -EPROTO. */
	hdr->kind = SHMQI_KIND_CLOCK;
	assert_int_equal(open_as(bus, SHMQI_KIND_TOPIC, "lt", got, sizeof(got)), -EPROTO);
	assert_string_equal(got, "the file is a clock page, opened as a topic");
	hdr->kind = SHMQI_KIND_TOPIC;
	munmap(hdr, size);
	shmq_pub_close(pub);
	assert_int_equal(shmq_group_delete(bus, "lt", "g", SHMQ_GROUP_FORCE), 0);
	test_unlink(bus, "lt");
	test_unlink(bus, "lc");
	shmq_bus_close(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_detail),
		cmocka_unit_test(test_namespace_detail),
		cmocka_unit_test(test_create_race),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_permission_denied),
		cmocka_unit_test(test_no_space),
		cmocka_unit_test(test_absent_and_unlink),
		cmocka_unit_test(test_foreign_segments),
		cmocka_unit_test(test_corrupt_header_fields),
		cmocka_unit_test(test_kind_layout),
	};

	return cmocka_run_group_tests_name("segment", tests, NULL, test_cleanup);
}
