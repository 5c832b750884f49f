// SPDX-License-Identifier: MIT
/* pp_transport.c - ping-pong over shmq-spsc(-park), raw-cacheline, pipe, uds; the table of all. */
#include <fcntl.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pingpong.h"

/*
 * ---- shmq-spsc: one channel per direction; the echo side peeks, sends, releases ----
 * shmq-spsc-park and shmq-spsc-spinpark are the same with a shmq_channel_wait() before each
 * receive (r->park): both sides sleep in the kernel between messages.
 */

/* Before a receive: wait for the message when the transport parks, else 0 (spin in it). */
static inline int shmq_await(struct pp_run *r, shmq_channel *in)
{
	return __builtin_expect(r->park, 0) ? chan_park(in, r->park_spin_ns, &r->spin) : 0;
}

static int shmq_setup(struct pp_run *r)
{
	if (chan_create("pp", SHMQ_OPEN_PRODUCER, r->ab, &r->tx) < 0)
		return -1;
	return chan_create("pp", SHMQ_OPEN_CONSUMER, r->ba, &r->rx);
}

/*
 * The payload is copied straight from the incoming ring into the outgoing one (peek, send,
 * release): every byte is read and written once, with no intermediate buffer.
 */
static int shmq_serve(struct pp_run *r, shmq_channel *in, shmq_channel *out)
{
	const void *data;
	uint64_t i;
	int n, e;

	for (i = 0; i < r->total; i++) {
		n = shmq_await(r, in);
		if (n == 0)
			n = chan_peek(in, &data, &r->spin);
		if (n < 0)
			return fail("shmq-spsc echo: peek", n);
		if ((unsigned)n != r->size)
			return fail("shmq-spsc echo: wrong length", -EBADMSG);
		e = chan_send(out, data, (size_t)n, &r->spin);
		if (e < 0)
			return fail("shmq-spsc echo: send", e);
		shmq_channel_release(in);
	}
	return 0;
}

static int shmq_echo(void *arg)
{
	struct pp_run *r = arg;
	shmq_channel *in = NULL, *out = NULL;
	int e = -1;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	/* The parent's handles came with fork(); they are its, never closed here. */
	if (chan_attach(r->ab, SHMQ_OPEN_CONSUMER, &in) < 0 ||
	    chan_attach(r->ba, SHMQ_OPEN_PRODUCER, &out) < 0)
		goto out;
	/* An empty hello: both ends are attached, the names may go. */
	e = chan_send(out, NULL, 0, &r->spin);
	if (e < 0) {
		e = fail("shmq-spsc echo: hello", e);
		goto out;
	}
	e = shmq_serve(r, in, out);
out:
	shmq_channel_close(in);
	shmq_channel_close(out);
	return e;
}

static int shmq_attached(struct pp_run *r)
{
	int n = chan_recv(r->rx, r->rbuf, BENCH_MAX_SIZE, &r->spin);

	if (n != 0)
		return fail("shmq-spsc: wait for the echo process", n < 0 ? n : -EBADMSG);
	chan_unlink(r->ab);
	chan_unlink(r->ba);
	return 0;
}

static int shmq_rt(struct pp_run *r, uint64_t seq)
{
	int n;

	(void)seq; /* the payload carries it */
	n = chan_send(r->tx, r->buf, r->size, &r->spin);
	if (n < 0)
		return fail("shmq-spsc: send", n);
	n = shmq_await(r, r->rx);
	if (n == 0)
		n = chan_recv(r->rx, r->rbuf, r->size, &r->spin);
	if (n < 0)
		return fail("shmq-spsc: recv", n);
	return (unsigned)n == r->size ? 0 : fail("shmq-spsc: wrong length", -EBADMSG);
}

static void shmq_teardown(struct pp_run *r)
{
	shmq_channel_close(r->tx);
	shmq_channel_close(r->rx);
	r->tx = r->rx = NULL;
	chan_unlink(r->ab);
	chan_unlink(r->ba);
}

/* ---- raw-cacheline: each side stores a counter to its own line and spins on the other's ---- */

#define RAW_MAP_SIZE 4096

/* 128 bytes apart, so that neither the line nor its adjacent-line prefetch pair is shared. */
struct raw_lines {
	alignas(128) _Atomic uint64_t ping; /* written by the initiator */
	alignas(128) _Atomic uint64_t pong; /* written by the echo side */
};

static int raw_setup(struct pp_run *r)
{
	r->raw = shared_alloc(RAW_MAP_SIZE);
	return r->raw ? 0 : fail("raw-cacheline: mmap", -ENOMEM);
}

static int raw_echo(void *arg)
{
	struct pp_run *r = arg;
	uint64_t i;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	for (i = 1; i <= r->total; i++) {
		/* A: pairs with the initiator's release store of ping in raw_rt(). */
		while (atomic_load_explicit(&r->raw->ping, memory_order_acquire) != i) {
			if (spin_check(&r->spin) && atomic_load(&r->raw->ping) != i)
				return fail("raw-cacheline echo", -EPIPE);
		}
		/* R: pairs with the acquire load of pong in raw_rt(). */
		atomic_store_explicit(&r->raw->pong, i, memory_order_release);
	}
	return 0;
}

static int raw_attached(struct pp_run *r)
{
	(void)r;
	return 0;
}

static int raw_rt(struct pp_run *r, uint64_t seq)
{
	/* R: pairs with the acquire load of ping in raw_echo(). */
	atomic_store_explicit(&r->raw->ping, seq, memory_order_release);
	/* A: pairs with the release store of pong in raw_echo(). */
	while (atomic_load_explicit(&r->raw->pong, memory_order_acquire) != seq) {
		if (spin_check(&r->spin) && atomic_load(&r->raw->pong) != seq)
			return fail("raw-cacheline", -EPIPE);
	}
	return 0;
}

static void raw_teardown(struct pp_run *r)
{
	shared_free(r->raw, RAW_MAP_SIZE);
	r->raw = NULL;
}

/*
 * ---- raw-record: a channel's record layout and nothing else ----
 * Per direction a 1 MiB ring of records: a 32-byte header whose first word is the commit
 * flag (the message's sequence number, so a previous lap's flag never matches), then the
 * payload, rounded up to 32 bytes; a record that would cross the end starts over at 0.
 * The same cache lines move as in a channel, without indices, clock reads or checks.
 */
#define REC_RING (1u << 20)
#define REC_HDR 32u

struct raw_recs {
	uint8_t ab[REC_RING];
	uint8_t ba[REC_RING];
};

struct rec_cursor {
	uint8_t *ring;
	uint32_t off;
};

static int rec_setup(struct pp_run *r)
{
	r->recs = shared_alloc(sizeof(*r->recs));
	return r->recs ? 0 : fail("raw-record: mmap", -ENOMEM);
}

/* Where the next record goes; both sides step through the same offsets. */
static inline uint8_t *rec_next(struct rec_cursor *c, unsigned len)
{
	uint32_t size = (REC_HDR + len + 31) & ~31u;
	uint8_t *rec;

	if (c->off + size > REC_RING)
		c->off = 0;
	rec = c->ring + c->off;
	c->off += size;
	return rec;
}

static inline _Atomic uint64_t *rec_flag(uint8_t *rec)
{
	return (_Atomic uint64_t *)(void *)rec;
}

static inline bool rec_wait(uint8_t *rec, uint64_t seq, struct spin *s)
{
	/* A: pairs with the release store of the flag in rec_put(). */
	while (atomic_load_explicit(rec_flag(rec), memory_order_acquire) != seq) {
		if (spin_check(s) && atomic_load(rec_flag(rec)) != seq)
			return false;
	}
	return true;
}

static inline void rec_put(uint8_t *rec, uint64_t seq, const void *p, unsigned len)
{
	uint64_t len64 = len;

	memcpy(rec + 8, &len64, 8);
	memcpy(rec + REC_HDR, p, len);
	/* R: pairs with the acquire load in rec_wait(): header and payload are written. */
	atomic_store_explicit(rec_flag(rec), seq, memory_order_release);
}

static inline unsigned rec_len(const uint8_t *rec)
{
	uint64_t len;

	memcpy(&len, rec + 8, 8);
	return (unsigned)len;
}

static int rec_echo(void *arg)
{
	struct pp_run *r = arg;
	struct rec_cursor in = { r->recs->ab, 0 }, out = { r->recs->ba, 0 };
	uint8_t *rec;
	uint64_t i;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	for (i = 1; i <= r->total; i++) {
		rec = rec_next(&in, r->size);
		if (!rec_wait(rec, i, &r->spin))
			return fail("raw-record echo", -EPIPE);
		if (rec_len(rec) != r->size)
			return fail("raw-record echo: wrong length", -EBADMSG);
		rec_put(rec_next(&out, r->size), i, rec + REC_HDR, r->size);
	}
	return 0;
}

/* The initiator's cursors live in the run; the child has its own copy after fork(). */
static int rec_rt(struct pp_run *r, uint64_t seq)
{
	struct rec_cursor out = { r->recs->ab, r->rec_off[0] }, in = { r->recs->ba, r->rec_off[1] };
	uint8_t *rec;

	rec_put(rec_next(&out, r->size), seq, r->buf, r->size);
	rec = rec_next(&in, r->size);
	if (!rec_wait(rec, seq, &r->spin))
		return fail("raw-record", -EPIPE);
	if (rec_len(rec) != r->size)
		return fail("raw-record: wrong length", -EBADMSG);
	memcpy(r->rbuf, rec + REC_HDR, r->size);
	r->rec_off[0] = out.off;
	r->rec_off[1] = in.off;
	return 0;
}

static void rec_teardown(struct pp_run *r)
{
	shared_free(r->recs, sizeof(*r->recs));
	r->recs = NULL;
}

/* ---- pipe and uds: blocking read and write of exactly size bytes ---- */

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n, len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n, len -= (size_t)n;
	}
	return 0;
}

static void close_pair(int *a, int *b)
{
	if (*a >= 0)
		close(*a);
	if (*b >= 0 && *b != *a)
		close(*b);
	*a = *b = -1;
}

static int pipe_setup(struct pp_run *r)
{
	int ab[2], ba[2];

	if (pipe2(ab, O_CLOEXEC) < 0)
		return fail("pipe: pipe2", -errno);
	if (pipe2(ba, O_CLOEXEC) < 0) {
		close_pair(&ab[0], &ab[1]);
		return fail("pipe: pipe2", -errno);
	}
	r->fd[0] = ab[1], r->fd[1] = ba[0]; /* initiator writes ab, reads ba */
	r->fd[2] = ab[0], r->fd[3] = ba[1];
	return 0;
}

/* SOCK_STREAM: the common choice for local IPC; reads loop until the whole message is in. */
static int uds_setup(struct pp_run *r)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail("uds: socketpair", -errno);
	r->fd[0] = r->fd[1] = sv[0];
	r->fd[2] = r->fd[3] = sv[1];
	return 0;
}

static int fd_echo(void *arg)
{
	struct pp_run *r = arg;
	uint64_t i;
	int e = 0;

	close_pair(&r->fd[0], &r->fd[1]); /* so that the initiator's exit reads as EOF here */
	for (i = 0; i < r->total && e == 0; i++) {
		e = read_full(r->fd[2], r->ebuf, r->size);
		if (e == 0)
			e = write_full(r->fd[3], r->ebuf, r->size);
	}
	return e < 0 ? fail("echo: read/write", e) : 0;
}

static int fd_attached(struct pp_run *r)
{
	close_pair(&r->fd[2], &r->fd[3]);
	return 0;
}

static int fd_rt(struct pp_run *r, uint64_t seq)
{
	int e;

	(void)seq;
	e = write_full(r->fd[0], r->buf, r->size);
	if (e == 0)
		e = read_full(r->fd[1], r->rbuf, r->size);
	return e < 0 ? fail("write/read", e) : 0;
}

static void fd_teardown(struct pp_run *r)
{
	close_pair(&r->fd[0], &r->fd[1]);
	close_pair(&r->fd[2], &r->fd[3]);
}

#define PP_SPSC(nm, parks, spin_ns)                                                  \
	{                                                                            \
		.name = nm, .payload = true, .block = parks, .park = parks,          \
		.park_spin_ns = spin_ns, .setup = shmq_setup, .echo = shmq_echo,     \
		.attached = shmq_attached, .rt = shmq_rt, .teardown = shmq_teardown, \
	}

static const struct pp_transport pp_spsc = PP_SPSC("shmq-spsc", false, 0);
/* Park at once: every message is a futex wake and a wake-up, as raw-futex's are. */
static const struct pp_transport pp_spsc_park = PP_SPSC("shmq-spsc-park", true, 0);
/* Spin 20 us first: a reply that comes within it never parks. */
static const struct pp_transport pp_spsc_spinpark = PP_SPSC("shmq-spsc-spinpark", true, 20000);

static const struct pp_transport pp_raw = {
	.name = "raw-cacheline",
	.setup = raw_setup,
	.echo = raw_echo,
	.attached = raw_attached,
	.rt = raw_rt,
	.teardown = raw_teardown,
};

static const struct pp_transport pp_rawrec = {
	.name = "raw-record",
	.payload = true,
	.setup = rec_setup,
	.echo = rec_echo,
	.attached = raw_attached,
	.rt = rec_rt,
	.teardown = rec_teardown,
};

static const struct pp_transport pp_pipe = {
	.name = "pipe",
	.payload = true,
	.block = true,
	.setup = pipe_setup,
	.echo = fd_echo,
	.attached = fd_attached,
	.rt = fd_rt,
	.teardown = fd_teardown,
};

static const struct pp_transport pp_uds = {
	.name = "uds",
	.payload = true,
	.block = true,
	.setup = uds_setup,
	.echo = fd_echo,
	.attached = fd_attached,
	.rt = fd_rt,
	.teardown = fd_teardown,
};

const struct pp_transport *const pp_transports[PP_NTRANSPORTS] = {
	[PP_SHMQ] = &pp_spsc,
	[PP_TOPIC] = &pp_topic, /* pp_topic.c, like the fan-out pairs */
	[PP_TOPIC_EXCL] = &pp_topic_excl,
	[PP_QUEUE] = &pp_queue,
	[PP_RAW] = &pp_raw,
	[PP_RAWREC] = &pp_rawrec,
	[PP_PIPE] = &pp_pipe,
	[PP_UDS] = &pp_uds,
	/* pp_link.c: the kernel and library peers */
	[PP_UDS_DGRAM] = &pp_links[LINK_UDS_DGRAM],
	[PP_EVENTFD] = &pp_links[LINK_EVENTFD],
	[PP_POSIX_MQ] = &pp_links[LINK_POSIX_MQ],
	[PP_ZMQ] = &pp_links[LINK_ZMQ],
	[PP_NNG] = &pp_links[LINK_NNG],
	[PP_IOX] = &pp_links[LINK_IOX],
	[PP_IOX_WS] = &pp_links[LINK_IOX_WS],
	/* parked in shmq_channel_wait(), and the plain futex baseline (pp_futex.c) */
	[PP_SPSC_PARK] = &pp_spsc_park,
	[PP_SPSC_SPINPARK] = &pp_spsc_spinpark,
	[PP_RAW_FUTEX] = &pp_raw_futex,
	/* shmq-topic recording delivery latency (pp_topic.c) */
	[PP_TOPIC_LAT] = &pp_topic_lat,
	/* shmq-topic with a header on every record (pp_topic.c) */
	[PP_TOPIC_HDRS] = &pp_topic_hdrs,
	/* request/reply (pp_req.c) */
	[PP_REQ] = &pp_req,
	[PP_REQ_PARK] = &pp_req_park,
	/* fan-out to 1, 2, 4, 8 subscribers */
	[PP_FAN1] = &pp_topic_fan[0],
	[PP_FAN2] = &pp_topic_fan[1],
	[PP_FAN4] = &pp_topic_fan[2],
	[PP_FAN8] = &pp_topic_fan[3],
	/* the same widths with raw cache lines */
	[PP_RAWFAN1] = &pp_raw_fan[0],
	[PP_RAWFAN2] = &pp_raw_fan[1],
	[PP_RAWFAN4] = &pp_raw_fan[2],
	[PP_RAWFAN8] = &pp_raw_fan[3],
};
