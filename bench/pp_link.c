// SPDX-License-Identifier: MIT
/* pp_link.c - ping-pong over the links: uds-dgram, eventfd, posix-mq, zmq-ipc, nng-ipc, iceoryx(-ws). */
#include <stdlib.h>
#include <unistd.h>

#include "pingpong.h"

/*
 * The link is set up by run_reset() (its kind and the size) and opened before fork(); each
 * side attaches its own end after it. The echo receives into its buffer and sends the
 * same bytes back; after the last round trip the initiator sends a bye, so that nothing
 * is in flight when the echo closes its end (a library may drop what is).
 */

static int lk_setup(struct pp_run *r)
{
	return r->lk.ops->open(&r->lk);
}

static int lk_serve(struct link *l, uint8_t *buf, uint64_t total)
{
	uint64_t i;
	int n, e;

	for (i = 0; i < total; i++) {
		if (l->ops->relay) {
			n = l->ops->relay(l);
			if (n < 0)
				return fail("echo: relay", n);
			if ((unsigned)n != l->size)
				return fail("echo: wrong length", -EBADMSG);
			continue;
		}
		n = l->ops->recv(l, buf, l->size);
		if (n < 0)
			return fail("echo: recv", n);
		if ((unsigned)n != l->size)
			return fail("echo: wrong length", -EBADMSG);
		e = l->ops->send(l, buf, l->size);
		if (e < 0)
			return fail("echo: send", e);
	}
	return link_bye_wait(l, buf);
}

int pp_link_peer(struct link *l, uint64_t total)
{
	struct spin spin = { .parent = getppid() };
	uint8_t *buf = malloc(l->size);
	int e = buf ? 0 : fail("echo: allocate", -ENOMEM);

	if (e == 0)
		e = link_peer_attach(l, &spin);
	if (e == 0)
		e = lk_serve(l, buf, total);
	l->ops->close(l);
	free(buf);
	return e;
}

static int lk_echo(void *arg)
{
	struct pp_run *r = arg;

	if (r->lk.ops->reexec)
		return link_reexec(&r->lk, "pp", r->total);
	return pp_link_peer(&r->lk, r->total);
}

static int lk_attached(struct pp_run *r)
{
	link_sigchld(true);
	return link_parent_attach(&r->lk, &r->spin, r->rbuf);
}

static int lk_rt(struct pp_run *r, uint64_t seq)
{
	struct link *l = &r->lk;
	int n;

	n = l->ops->send(l, r->buf, r->size);
	if (n < 0)
		return fail("send", n);
	n = l->ops->recv(l, r->rbuf, r->size);
	if (n < 0)
		return fail("recv", n);
	if ((unsigned)n != r->size)
		return fail("wrong length", -EBADMSG);
	return seq == r->total ? link_bye_send(l) : 0;
}

static void lk_teardown(struct pp_run *r)
{
	if (r->lk.ops)
		r->lk.ops->close(&r->lk);
	link_sigchld(false);
}

/* @blk: as the kind's !poll (a static initializer cannot read it) */
#define PP_LINK(kind, nm, blk)                                                                  \
	{                                                                                       \
		.name = nm, .payload = true, .block = blk, .link = &kind, .setup = lk_setup,    \
		.echo = lk_echo, .attached = lk_attached, .rt = lk_rt, .teardown = lk_teardown, \
	}

const struct pp_transport pp_links[LINK_N] = {
	[LINK_UDS_DGRAM] = PP_LINK(link_uds_dgram, LINK_UDS_DGRAM_NAME, true),
	[LINK_EVENTFD] = PP_LINK(link_eventfd, LINK_EVENTFD_NAME, true),
	[LINK_POSIX_MQ] = PP_LINK(link_posix_mq, LINK_POSIX_MQ_NAME, true),
	[LINK_ZMQ] = PP_LINK(link_zmq, LINK_ZMQ_NAME, true),
	[LINK_NNG] = PP_LINK(link_nng, LINK_NNG_NAME, true),
	[LINK_IOX] = PP_LINK(link_iox, LINK_IOX_NAME, false),
	[LINK_IOX_WS] = PP_LINK(link_iox_ws, LINK_IOX_WS_NAME, true),
};

bool pp_available(const struct pp_transport *t)
{
	return !t->link || !t->link->missing;
}

bool pp_fits(const struct pp_transport *t, unsigned size)
{
	return !t->link || link_fits(t->link, size);
}
