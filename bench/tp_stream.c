// SPDX-License-Identifier: MIT
/* tp_stream.c - streaming over the kernel's byte streams: a pipe and a Unix stream socket. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "throughput.h"

/*
 * A byte stream keeps no message boundaries, so each message goes out as a frame: a 4-byte
 * length, then the payload, in one write() per message (as every other transport sends
 * one message per call). The consumer reads as much as the kernel has, up to
 * STREAM_BUF bytes a call, and takes the frames out of its buffer: what a user of a
 * stream would write. The producer closes its end after the last message, so the
 * consumer sees the end of the stream, and nothing may follow the last frame.
 */

#define STREAM_HDR 4
#define STREAM_BUF (256u << 10)

struct stream_rx {
	uint8_t *buf; /* STREAM_BUF bytes */
	size_t have; /* bytes in buf */
	size_t at; /* the next frame's start */
};

static int pipe_setup(struct tp_run *r)
{
	r->fd[0] = r->fd[1] = -1;
	return pipe2(r->fd, O_CLOEXEC) < 0 ? fail("pipe", -errno) : 0;
}

static int uds_setup(struct tp_run *r)
{
	int sv[2];

	r->fd[0] = r->fd[1] = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail("uds: socketpair", -errno);
	r->fd[0] = sv[0]; /* the parent reads */
	r->fd[1] = sv[1]; /* the producer writes */
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int stream_produce(void *arg)
{
	struct tp_run *r = arg;
	uint8_t *frame = r->pbuf; /* TP_MAX_BATCH messages: room for one frame */
	uint32_t len = r->size;
	uint64_t seq;
	int e = 0;

	close(r->fd[0]);
	memcpy(frame, &len, STREAM_HDR);
	memset(frame + STREAM_HDR, 0x5a, r->size);
	for (seq = 1; seq <= r->total && e == 0; seq++) {
		stamp(frame + STREAM_HDR, r->size, seq);
		e = write_all(r->fd[1], frame, STREAM_HDR + (size_t)r->size);
	}
	close(r->fd[1]);
	return e < 0 ? fail("stream producer: write", e) : 0;
}

/* Read more into @rx, keeping the unread part; 0 at the end of the stream, else > 0. */
static ssize_t stream_fill(int fd, struct stream_rx *rx)
{
	ssize_t n;

	if (rx->at > 0) {
		memmove(rx->buf, rx->buf + rx->at, rx->have - rx->at);
		rx->have -= rx->at;
		rx->at = 0;
	}
	do
		n = read(fd, rx->buf + rx->have, STREAM_BUF - rx->have);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		rx->have += (size_t)n;
	return n < 0 ? -errno : n;
}

static int stream_recv_all(struct tp_run *r, struct stream_rx *rx)
{
	size_t frame = STREAM_HDR + (size_t)r->size;
	uint32_t len;
	uint64_t seq;
	ssize_t n;

	for (seq = 1; seq <= r->total; seq++) {
		while (rx->have - rx->at < frame) {
			n = stream_fill(r->fd[0], rx);
			if (n <= 0)
				return n < 0 ? fail("stream: read", (int)n) : lost("stream", seq);
		}
		memcpy(&len, rx->buf + rx->at, STREAM_HDR);
		if (len != r->size || !stamped(rx->buf + rx->at + STREAM_HDR, r->size, seq))
			return lost("stream", seq);
		rx->at += frame;
		clock_mark(r, seq);
	}
	/* Whatever is left is more than the producer sent. */
	return rx->have != rx->at ? fail("stream: bytes after the last message", -EBADMSG) : 0;
}

static int stream_consume(struct tp_run *r)
{
	struct stream_rx rx = { .buf = malloc(STREAM_BUF) };
	int e;

	close(r->fd[1]); /* the producer's end: only its copy may stay open */
	r->fd[1] = -1;
	if (!rx.buf)
		return fail("stream: allocate", -ENOMEM);
	e = stream_recv_all(r, &rx);
	free(rx.buf);
	return e;
}

/* The producer has exited: its end is closed, so a read ends at once. */
static int stream_finish(struct tp_run *r)
{
	uint8_t byte;
	ssize_t n;

	do
		n = read(r->fd[0], &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0)
		return fail("stream: bytes after the last message", n < 0 ? -errno : -EBADMSG);
	return 0;
}

static void stream_teardown(struct tp_run *r)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (r->fd[i] >= 0)
			close(r->fd[i]);
		r->fd[i] = -1;
	}
}

const struct tp_transport tp_pipe = {
	.name = "pipe",
	.block = true,
	.setup = pipe_setup,
	.produce = stream_produce,
	.consume = stream_consume,
	.finish = stream_finish,
	.teardown = stream_teardown,
};

const struct tp_transport tp_uds = {
	.name = "uds",
	.block = true,
	.setup = uds_setup,
	.produce = stream_produce,
	.consume = stream_consume,
	.finish = stream_finish,
	.teardown = stream_teardown,
};
