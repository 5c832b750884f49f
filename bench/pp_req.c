// SPDX-License-Identifier: MIT
/* pp_req.c - ping-pong as request/reply (shmq/service.h): a requester and one responder. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pingpong.h"

/*
 * ---- shmq-req, shmq-req-park ----
 * The service is a fresh reliable topic of this run; the echo process is its responder (a
 * member of the group "service", made by its shmq_rep_open()), the initiator a requester
 * whose inbox is made by its first request. Each request carries a 1 s timeout, so the
 * deadline header is built and read on every round trip, as a caller's would be.
 *
 * shmq-req polls on both sides: the initiator sends with shmq_req_send() and polls
 * shmq_req_recv(), the responder polls shmq_rep_recv(), as shmq-topic's sides poll.
 * shmq-req-park is the plain synchronous form: shmq_request() (which parks on the inbox)
 * against a responder that parks in shmq_rep_wait() before each shmq_rep_recv().
 *
 * Before the timed part the initiator sends empty hellos until one is answered (the first
 * are refused while the responder has not joined); the responder answers every empty
 * request and counts only the r->size ones.
 */

#define REQ_TIMEOUT_NS 1000000000ull
#define REQ_HDR_ROOM 256u /* the reply-to and deadline headers beside the payload */
#define REQ_PARK_NS 10000000ull /* a parked responder looks for its parent this often */

static int req_setup(struct pp_run *r)
{
	char seg[2 * TOPIC_NAME_LEN];
	const char *ns;
	shmq_bus *bus;
	shmq_pub *pub = NULL;

	topic_config(&r->tcfg, r->size);
	if (r->size + REQ_HDR_ROOM > SHMQ_TOPIC_DEFAULT_MAX_MSG)
		r->tcfg.max_msg = r->size + REQ_HDR_ROOM;
	if (topic_create("ppq", &r->tcfg, 0, r->treq, &pub, NULL) < 0)
		return -1;
	shmq_pub_close(pub);
	if (bench_bus(&bus, &ns) < 0)
		return -1;
	/* The responders' group, which the echo's shmq_rep_open() makes: removed at exit too. */
	snprintf(seg, sizeof(seg), "%s@%s", r->treq, SHMQ_SERVICE_GROUP);
	cleanup_add_shm(ns, seg);
	snprintf(r->gtopic, TOPIC_NAME_LEN, "%s", r->treq);
	return 0;
}

/* The next request, polling or parked; -EPIPE when the initiator is gone. */
static int req_take(struct pp_run *r, shmq_rep *rp, struct shmq_request_info *info)
{
	bool gone = false;
	int n, e;

	for (;;) {
		n = shmq_rep_recv(rp, r->ebuf, r->size, info);
		if (n != -EAGAIN)
			return n;
		if (gone)
			return -EPIPE;
		if (r->park) {
			e = shmq_rep_wait(rp, 0, REQ_PARK_NS);
			if (e < 0 && e != -ETIMEDOUT)
				return e;
			gone = e == -ETIMEDOUT && spin_peer_gone(&r->spin);
		} else {
			gone = spin_check(&r->spin);
		}
	}
}

static int req_serve(struct pp_run *r, shmq_rep *rp)
{
	struct shmq_request_info info;
	uint64_t done = 0;
	int n, e;

	while (done < r->total) {
		n = req_take(r, rp, &info);
		if (n < 0)
			return fail("shmq-req echo: recv", n);
		if (n != 0 && ((unsigned)n != r->size || info.attempt != 1))
			return fail("shmq-req echo: not the request expected", -EBADMSG);
		e = shmq_rep_reply(rp, &info, r->ebuf, (size_t)n);
		if (e < 0)
			return fail("shmq-req echo: reply", e);
		done += n != 0;
	}
	return 0;
}

static int req_echo(void *arg)
{
	struct pp_run *r = arg;
	shmq_rep *rp = NULL;
	shmq_bus *bus;
	int e;

	r->spin = (struct spin){ .parent = getppid(), .yield = r->yield };
	if (bench_bus(&bus, NULL) < 0)
		return -1;
	e = shmq_rep_open(bus, r->treq, 0, NULL, &rp);
	if (e < 0)
		return fail("shmq-req echo: open the responder", e);
	e = req_serve(r, rp);
	shmq_rep_close(rp);
	return e;
}

/* Empty requests until one is answered: the responder is a live member of the group. */
static int req_hello(struct pp_run *r)
{
	struct timespec ms = { 0, 1000000 };
	int n;

	for (;;) {
		n = shmq_request(r->req, NULL, 0, NULL, 0, REQ_TIMEOUT_NS);
		if (n == 0)
			return 0;
		if (n != -EHOSTUNREACH && n != -ETIMEDOUT)
			return fail("shmq-req: hello", n < 0 ? n : -EBADMSG);
		if (spin_peer_gone(&r->spin))
			return fail("shmq-req: wait for the responder", -EPIPE);
		nanosleep(&ms, NULL);
	}
}

static int req_attached(struct pp_run *r)
{
	shmq_bus *bus;
	int e;

	if (bench_bus(&bus, NULL) < 0)
		return -1;
	e = shmq_req_open(bus, r->treq, 0, &r->req);
	if (e < 0)
		return fail("shmq-req: open the requester", e);
	if (req_hello(r) < 0)
		return -1;
	return shmq_req_stats(r->req, &r->req_base) < 0 ? fail("shmq-req: stats", -EINVAL) : 0;
}

/* shmq-req: send, then poll the inbox. */
static int req_rt(struct pp_run *r, uint64_t seq)
{
	uint64_t id, got;
	bool gone = false;
	int n;

	(void)seq; /* the payload carries it */
	n = shmq_req_send(r->req, r->buf, r->size, REQ_TIMEOUT_NS, &id);
	if (n < 0)
		return fail("shmq-req: send", n);
	while ((n = shmq_req_recv(r->req, r->rbuf, r->size, &got)) == -EAGAIN) {
		if (gone)
			return fail("shmq-req: recv", -EPIPE);
		gone = spin_check(&r->spin);
	}
	if (n < 0)
		return fail("shmq-req: recv", n);
	if (got != id || (unsigned)n != r->size)
		return fail("shmq-req: not the reply expected", -EBADMSG);
	return 0;
}

/* shmq-req-park: the synchronous call. */
static int req_park_rt(struct pp_run *r, uint64_t seq)
{
	int n;

	(void)seq;
	n = shmq_request(r->req, r->buf, r->size, r->rbuf, r->size, REQ_TIMEOUT_NS);
	if (n < 0)
		return fail("shmq-req-park: request", n);
	return (unsigned)n == r->size ? 0 : fail("shmq-req-park: wrong length", -EBADMSG);
}

/*
 * Since the hellos: every request was answered once, in time, and no reply was late or lost
 * (a hello that timed out would have its reply come late; none is expected).
 */
static int req_check_stats(struct pp_run *r)
{
	const struct shmq_req_stats *b = &r->req_base;
	struct shmq_req_stats st;
	int e = shmq_req_stats(r->req, &st);

	if (e < 0)
		return fail("shmq-req: stats", e);
	st.sent -= b->sent, st.replied -= b->replied, st.timed_out -= b->timed_out;
	st.late -= b->late, st.lost -= b->lost;
	if (st.sent == r->total && st.replied == r->total && !st.timed_out && !st.late && !st.lost)
		return 0;
	fprintf(stderr,
		"%s: shmq-req: %llu round trips: %llu sent, %llu replied, %llu timed out, %llu "
		"late, %llu lost\n",
		BENCH_PROG, (unsigned long long)r->total, (unsigned long long)st.sent,
		(unsigned long long)st.replied, (unsigned long long)st.timed_out,
		(unsigned long long)st.late, (unsigned long long)st.lost);
	return -1;
}

static int req_check(struct pp_run *r, uint64_t seq)
{
	return seq == r->total ? req_check_stats(r) : 0;
}

static void req_teardown(struct pp_run *r)
{
	char seg[2 * TOPIC_NAME_LEN];
	const char *ns;
	shmq_bus *bus;
	int e;

	shmq_req_close(r->req); /* removes its inbox */
	r->req = NULL;
	if (r->gtopic[0] && bench_bus(&bus, &ns) == 0) {
		e = shmq_group_delete(bus, r->gtopic, SHMQ_SERVICE_GROUP, SHMQ_GROUP_FORCE);
		if (e < 0 && e != -ENOENT)
			fprintf(stderr, "%s: delete group '%s' of topic '%s': %s\n", BENCH_PROG,
				SHMQ_SERVICE_GROUP, r->gtopic, shmq_strerror(e));
		snprintf(seg, sizeof(seg), "%s@%s", r->gtopic, SHMQ_SERVICE_GROUP);
		cleanup_del_shm(ns, seg);
	}
	r->gtopic[0] = '\0';
	topic_unlink(r->treq);
}

const struct pp_transport pp_req = {
	.name = "shmq-req",
	.payload = true,
	.group = true,
	.setup = req_setup,
	.echo = req_echo,
	.attached = req_attached,
	.rt = req_rt,
	.check = req_check,
	.teardown = req_teardown,
};

const struct pp_transport pp_req_park = {
	.name = "shmq-req-park",
	.payload = true,
	.group = true,
	.block = true,
	.park = true,
	.setup = req_setup,
	.echo = req_echo,
	.attached = req_attached,
	.rt = req_park_rt,
	.check = req_check,
	.teardown = req_teardown,
};
