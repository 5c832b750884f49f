// SPDX-License-Identifier: MIT
/* link_zmq.c - the zmq-ipc link: ZeroMQ ZMQ_PAIR sockets over ipc:// in a private directory. */
#include <zmq.h>

#include "chan.h"
#include "link.h"

/*
 * A context is never shared across fork(): each side makes its own after fork() and
 * terminates it in close(), so no parent's context exists when the next peer is forked.
 * Sends and receives time out every second to ask whether the peer is still there.
 */
#define ZMQ_WAIT_MS 1000

static int zmq_link_open(struct link *l)
{
	return link_dir_open(l);
}

static int zmq_attach(struct link *l, int side)
{
	int ms = ZMQ_WAIT_MS, linger = 0, e;

	l->side = side;
	l->zctx = zmq_ctx_new();
	if (!l->zctx)
		return -errno;
	l->zsock = zmq_socket(l->zctx, ZMQ_PAIR);
	if (!l->zsock)
		return -errno;
	/* Linger 0: a bye ends every exchange, so nothing is in flight at close. */
	if (zmq_setsockopt(l->zsock, ZMQ_RCVTIMEO, &ms, sizeof(ms)) < 0 ||
	    zmq_setsockopt(l->zsock, ZMQ_SNDTIMEO, &ms, sizeof(ms)) < 0 ||
	    zmq_setsockopt(l->zsock, ZMQ_LINGER, &linger, sizeof(linger)) < 0)
		return -errno;
	/* The parent binds; the peer's connect retries until the address is there. */
	e = side == 0 ? zmq_bind(l->zsock, l->url) : zmq_connect(l->zsock, l->url);
	return e < 0 ? -errno : 0;
}

static int zmq_link_send(struct link *l, const void *p, unsigned len)
{
	int e;

	while (zmq_send(l->zsock, p, len, 0) < 0) {
		e = link_again(l, errno == EINTR || errno == EAGAIN, -errno);
		if (e < 0)
			return e;
	}
	return 0;
}

static int zmq_link_recv(struct link *l, void *buf, unsigned cap)
{
	int n, e;

	while ((n = zmq_recv(l->zsock, buf, cap, 0)) < 0) {
		e = link_again(l, errno == EINTR || errno == EAGAIN, -errno);
		if (e < 0)
			return e;
	}
	return (unsigned)n > cap ? -EMSGSIZE : n; /* zmq_recv() reports a truncation so */
}

static void zmq_link_close(struct link *l)
{
	if (l->zsock)
		zmq_close(l->zsock);
	if (l->zctx)
		zmq_ctx_term(l->zctx);
	l->zsock = l->zctx = NULL;
	if (l->side != 1)
		link_dir_close(l);
}

const struct link_ops link_zmq = {
	.name = LINK_ZMQ_NAME,
	.open = zmq_link_open,
	.attach = zmq_attach,
	.send = zmq_link_send,
	.recv = zmq_link_recv,
	.close = zmq_link_close,
};
