// SPDX-License-Identifier: MIT
/*
 * fuzz_segment.c - libFuzzer target for attaching to hostile shared memory: the first byte
 * picks a topic (a subscriber), a channel (its consumer) or a consumer group (a member); the
 * object is made with the API, then the rest of the input is written over its segment where
 * its next two bytes say (never over the 64-byte header), and the handle attaches and
 * receives a few times. Every call must end (no hang: every loop is bounded) with data or
 * an errno its header documents.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "internal.h"
#include "shm_layout.h"

/* Receives tried per input. */
#define TRIES 4

static shmq_bus *bus;

static const struct shmq_topic_config tcfg = {
	.slots = 8,
	.max_msg = 64,
	.claim_timeout_ns = 1000000, /* 1 ms: a hole is stepped over at once */
};

static const struct shmq_channel_config ccfg = { .capacity = 4096, .max_msg = 64 };

/* A namespace of this process's own, and no daemon to ask. */
static void setup(void)
{
	char ns[SHMQ_NAMESPACE_MAX + 1];

	setenv(SHMQ_DAEMON_ENV, "off", 1);
	snprintf(ns, sizeof(ns), "fz%d", (int)getpid());
	FUZZ_CHECK(shmq_bus_open(ns, 0, &bus) == 0);
}

static void unlink_all(void)
{
	static const char *const names[] = { "t", "c", "t@g" };
	char path[300];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "/shmq.%s.%s", shmq_bus_namespace(bus), names[i]);
		shm_unlink(path);
	}
}

/*
 * Write @data over the segment @name: its first two bytes (little-endian) say where, in
 * 8-byte steps after the 64-byte header, so that every part of the body (control block,
 * tables, ring) is in reach of a short input. A group's record of its topic's identity is
 * put back, so that the fuzzer gets past the -ESTALE check into the body.
 */
static void overlay(const char *name, const uint8_t *data, size_t size, bool group)
{
	struct shmqi_group *g;
	uint64_t topic_id;
	char path[300];
	struct stat st;
	size_t off, room;
	uint8_t *p;
	int fd;

	if (size < 2)
		return;
	off = sizeof(struct shmqi_seg_hdr) + 8 * (size_t)(data[0] | data[1] << 8);
	snprintf(path, sizeof(path), "/shmq.%s.%s", shmq_bus_namespace(bus), name);
	fd = shm_open(path, O_RDWR, 0);
	FUZZ_CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > SHMQI_GROUP_BODY_OFF);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	FUZZ_CHECK(p != MAP_FAILED);
	close(fd);
	g = (struct shmqi_group *)(p + SHMQI_GROUP_BODY_OFF);
	topic_id = g->topic_id;
	room = off < (size_t)st.st_size ? (size_t)st.st_size - off : 0;
	memcpy(p + off, data + 2, size - 2 < room ? size - 2 : room);
	if (group)
		g->topic_id = topic_id;
	munmap(p, (size_t)st.st_size);
}

/* A delivered record's header block: any bytes, but a length the readers can walk. */
static void check_hdrs(int r, const void *hdrs, size_t len)
{
	int n;

	FUZZ_CHECK(r == 0 && (hdrs || !len));
	n = shmq_hdrs_check(hdrs, len);
	FUZZ_CHECK(n >= 0 || n == -EBADMSG || n == -E2BIG);
}

/* A topic with two records, then a subscriber from the oldest: recv, peek, release. */
static void topic_case(uint32_t policy, const uint8_t *data, size_t size)
{
	struct shmq_topic_config c = tcfg;
	struct shmq_sub_msg info;
	const void *p;
	char buf[128];
	size_t n;
	shmq_pub *pub;
	shmq_sub *sub;
	int r, i;

	c.policy = policy;
	FUZZ_CHECK(shmq_pub_open(bus, "t", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &c, &pub) == 0);
	FUZZ_CHECK(shmq_pub_send(pub, "one", 3, 1) == 0 && shmq_pub_send(pub, "two", 3, 2) == 0);
	shmq_pub_close(pub);
	overlay("t", data, size, false);
	r = shmq_sub_open(bus, "t", SHMQ_SUB_EARLIEST, NULL, 0, &sub);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT || r == -EBADE || r == -EPROTOTYPE ||
		   r == -EUSERS || r == -EACCES || r == -EPROTO || r == -ENOMEM);
	if (r < 0)
		return;
	for (i = 0; i < TRIES; i++) {
		r = shmq_sub_recv(sub, buf, i == 0 ? 1 : sizeof(buf), &info);
		FUZZ_CHECK(r >= 0 || r == -EAGAIN || r == -EMSGSIZE || r == -EBADMSG);
		FUZZ_CHECK(r < 0 || ((size_t)r == info.len && info.len <= sizeof(buf)));
		if (r >= 0)
			check_hdrs(shmq_sub_headers(sub, &p, &n), p, n);
		r = shmq_sub_peek(sub, &p, &info);
		FUZZ_CHECK(r >= 0 || r == -EAGAIN || r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
		r = shmq_sub_release(sub);
		FUZZ_CHECK(r >= 0 || r == -ESTALE);
	}
	shmq_sub_close(sub);
}

/* A channel with two messages, then its consumer: peek, release, recv. */
static void channel_case(const uint8_t *data, size_t size)
{
	struct shmq_msg_info info;
	const void *p;
	char buf[128];
	shmq_channel *ch;
	int r, i;

	FUZZ_CHECK(shmq_channel_open(bus, "c",
				     SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | SHMQ_OPEN_PRODUCER, &ccfg,
				     &ch) == 0);
	FUZZ_CHECK(shmq_channel_send(ch, "one", 3) == 0 && shmq_channel_send(ch, "two", 3) == 0);
	shmq_channel_close(ch);
	overlay("c", data, size, false);
	r = shmq_channel_open(bus, "c", SHMQ_OPEN_CONSUMER, NULL, &ch);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT || r == -EBADE || r == -EPROTOTYPE ||
		   r == -EBUSY || r == -EACCES || r == -EPROTO || r == -ENOMEM);
	if (r < 0)
		return;
	for (i = 0; i < TRIES; i++) {
		r = shmq_channel_peek(ch, &p, &info);
		FUZZ_CHECK(r >= 0 || r == -EAGAIN || r == -EBADMSG);
		r = shmq_channel_release(ch);
		FUZZ_CHECK(r >= 0);
		r = shmq_channel_recv(ch, buf, i == 0 ? 1 : sizeof(buf), &info);
		FUZZ_CHECK(r >= 0 || r == -EAGAIN || r == -EMSGSIZE || r == -EBADMSG);
		FUZZ_CHECK(r <= (int)sizeof(buf));
	}
	shmq_channel_close(ch);
}

/* A topic with two records and a group on it, then a member: recv, ack or release, peek. */
static void group_case(const uint8_t *data, size_t size)
{
	struct shmq_group_msg info;
	shmq_group *m;
	const void *p;
	char buf[128];
	size_t n;
	shmq_pub *pub;
	int r, i;

	FUZZ_CHECK(shmq_pub_open(bus, "t", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &tcfg, &pub) == 0);
	FUZZ_CHECK(shmq_group_open(bus, "t", "g", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, NULL, &m) ==
		   0);
	shmq_group_close(m);
	FUZZ_CHECK(shmq_pub_send(pub, "one", 3, 1) == 0 && shmq_pub_send(pub, "two", 3, 2) == 0);
	shmq_pub_close(pub);
	overlay("t@g", data, size, true);
	r = shmq_group_open(bus, "t", "g", 0, NULL, &m);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT || r == -EUSERS || r == -ESTALE ||
		   r == -EBUSY || r == -EACCES || r == -EPROTO || r == -ENOMEM);
	if (r < 0)
		return;
	for (i = 0; i < TRIES; i++) {
		r = shmq_group_recv(m, buf, i == 0 ? 1 : sizeof(buf), &info);
		FUZZ_CHECK(r >= 0 || r == -EAGAIN || r == -EMSGSIZE || r == -EPROTO);
		if (r >= 0 || r == -EMSGSIZE) {
			if (r >= 0)
				check_hdrs(shmq_group_headers(m, &p, &n), p, n);
			r = i & 1 ? shmq_group_release(m, info.lease)
				  : shmq_group_ack(m, info.lease);
			FUZZ_CHECK(r == 0 || r == -ESTALE);
		}
		r = shmq_group_peek(m, &p, &info);
		FUZZ_CHECK(r >= 0 || r == -EAGAIN || r == -EPROTO);
		if (r >= 0)
			FUZZ_CHECK((r = shmq_group_release(m, info.lease)) == 0 || r == -ESTALE);
	}
	shmq_group_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bus)
		setup();
	if (size < 1 || size > 65536)
		return 0;
	switch (data[0] % 4) {
	case 0:
		topic_case(SHMQ_TOPIC_RELIABLE, data + 1, size - 1);
		break;
	case 1:
		topic_case(SHMQ_TOPIC_LOSSY, data + 1, size - 1);
		break;
	case 2:
		channel_case(data + 1, size - 1);
		break;
	default:
		group_case(data + 1, size - 1);
	}
	unlink_all();
	return 0;
}
