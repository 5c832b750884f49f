// SPDX-License-Identifier: MIT
/* link_nng.c - the nng-ipc link: nng pair0 sockets over ipc:// in a private directory. */
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>

#include "chan.h"
#include "link.h"

/*
 * nng refuses to run in a child forked from a process that used it ("not fork-reentrant
 * safe"): the peer execs a fresh image (reexec), and the parent shuts the library down
 * (nng_fini()) in close(), so that it holds no threads between measurements. Sends and receives time out every
 * second to ask whether the peer is still there (a signal does not interrupt them).
 */
#define NNG_WAIT_MS 1000

static int nng_err(int e)
{
	switch (e) {
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_ECLOSED:
	case NNG_ECONNSHUT:
		return -EPIPE;
	case NNG_EMSGSIZE:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

static int nng_link_open(struct link *l)
{
	return link_dir_open(l);
}

static int nng_attach(struct link *l, int side)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	int e;

	l->side = side;
	e = nng_pair0_open(&s);
	if (e != 0)
		return nng_err(e);
	l->nsock = s.id;
	e = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, NNG_WAIT_MS);
	if (e == 0)
		e = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, NNG_WAIT_MS);
	/* The parent listens; the peer's dial retries in the background until it is there. */
	if (e == 0)
		e = side == 0 ? nng_listen(s, l->url, NULL, 0)
			      : nng_dial(s, l->url, NULL, NNG_FLAG_NONBLOCK);
	return e ? nng_err(e) : 0;
}

static nng_socket sock_of(const struct link *l)
{
	nng_socket s = { .id = l->nsock };

	return s;
}

static int nng_link_send(struct link *l, const void *p, unsigned len)
{
	int e;

	/* Copied, not taken: p is only read. */
	while ((e = nng_send(sock_of(l), (void *)p, len, 0)) != 0) {
		e = link_again(l, e == NNG_ETIMEDOUT, nng_err(e));
		if (e < 0)
			return e;
	}
	return 0;
}

static int nng_link_recv(struct link *l, void *buf, unsigned cap)
{
	size_t n;
	int e;

	for (;;) {
		n = cap;
		e = nng_recv(sock_of(l), buf, &n, 0);
		if (e == 0)
			return n > cap ? -EMSGSIZE : (int)n;
		e = link_again(l, e == NNG_ETIMEDOUT, nng_err(e));
		if (e < 0)
			return e;
	}
}

static void nng_link_close(struct link *l)
{
	if (l->nsock) {
		nng_close(sock_of(l));
		nng_fini();
	}
	l->nsock = 0;
	if (l->side != 1)
		link_dir_close(l);
}

const struct link_ops link_nng = {
	.name = LINK_NNG_NAME,
	.reexec = true,
	.open = nng_link_open,
	.attach = nng_attach,
	.send = nng_link_send,
	.recv = nng_link_recv,
	.close = nng_link_close,
};
