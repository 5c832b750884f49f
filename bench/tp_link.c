// SPDX-License-Identifier: MIT
/* tp_link.c - streaming over the links: uds-dgram, eventfd, posix-mq, zmq-ipc, nng-ipc, iceoryx(-ws). */
#include <stdlib.h>
#include <unistd.h>

#include "throughput.h"

/*
 * As in pp_link.c: the link is opened before fork() and each side attaches its own end.
 * The producer stamps every message's sequence; after the last one it waits for the
 * consumer's bye, so that nothing is in flight when it closes (a library may drop what is),
 * and it cannot have sent more than r->total.
 */

static int lk_setup(struct tp_run *r)
{
	return r->lk.ops->open(&r->lk);
}

static int lk_send_all(struct link *l, uint8_t *buf, uint64_t total)
{
	uint64_t seq;
	int e;

	for (seq = 1; seq <= total; seq++) {
		stamp(buf, l->size, seq);
		e = l->ops->send(l, buf, l->size);
		if (e < 0)
			return fail("producer: send", e);
	}
	return link_bye_wait(l, buf);
}

int tp_link_peer(struct link *l, uint64_t total)
{
	struct spin spin = { .parent = getppid() };
	uint8_t *buf = malloc(l->size);
	int e = buf ? 0 : fail("producer: allocate", -ENOMEM);

	if (e == 0) {
		memset(buf, 0x5a, l->size);
		e = link_peer_attach(l, &spin);
	}
	if (e == 0)
		e = lk_send_all(l, buf, total);
	l->ops->close(l);
	free(buf);
	return e;
}

static int lk_produce(void *arg)
{
	struct tp_run *r = arg;

	if (r->lk.ops->reexec)
		return link_reexec(&r->lk, "tp", r->total);
	return tp_link_peer(&r->lk, r->total);
}

static int lk_consume(struct tp_run *r)
{
	struct link *l = &r->lk;
	uint64_t seq;
	int n;

	link_sigchld(true);
	if (link_parent_attach(l, &r->spin, r->cbuf) < 0)
		return -1;
	for (seq = 1; seq <= r->total; seq++) {
		n = l->ops->recv(l, r->cbuf, r->size);
		if (n < 0)
			return fail("recv", n);
		if ((unsigned)n != r->size || !stamped(r->cbuf, r->size, seq))
			return lost(l->ops->name, seq);
		clock_mark(r, seq);
	}
	return link_bye_send(l);
}

static int lk_finish(struct tp_run *r)
{
	(void)r; /* the producer sent r->total, then waited for the bye: nothing more can come */
	return 0;
}

static void lk_teardown(struct tp_run *r)
{
	if (r->lk.ops)
		r->lk.ops->close(&r->lk);
	link_sigchld(false);
}

#define TP_LINK(kind, nm, blk)                                                                     \
	{                                                                                          \
		.name = nm, .block = blk, .link = &kind, .setup = lk_setup, .produce = lk_produce, \
		.consume = lk_consume, .finish = lk_finish, .teardown = lk_teardown,               \
	}

const struct tp_transport tp_links[LINK_N] = {
	[LINK_UDS_DGRAM] = TP_LINK(link_uds_dgram, LINK_UDS_DGRAM_NAME, true),
	[LINK_EVENTFD] = TP_LINK(link_eventfd, LINK_EVENTFD_NAME, true),
	[LINK_POSIX_MQ] = TP_LINK(link_posix_mq, LINK_POSIX_MQ_NAME, true),
	[LINK_ZMQ] = TP_LINK(link_zmq, LINK_ZMQ_NAME, true),
	[LINK_NNG] = TP_LINK(link_nng, LINK_NNG_NAME, true),
	[LINK_IOX] = TP_LINK(link_iox, LINK_IOX_NAME, false),
	[LINK_IOX_WS] = TP_LINK(link_iox_ws, LINK_IOX_WS_NAME, true),
};

bool tp_available(const struct tp_transport *t)
{
	return !t->link || !t->link->missing;
}

bool tp_fits(const struct tp_transport *t, unsigned size)
{
	return !t->link || link_fits(t->link, size);
}
