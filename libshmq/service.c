// SPDX-License-Identifier: MIT
/*
 * service.c - request/reply (shmq/service.h) on topics, a consumer group and headers.
 *
 * A requester publishes to the service's topic with headers shmq-reply-to and shmq-deadline
 * and the request's id as correlation id; a responder publishes the reply to that inbox
 * with the same id, then acks its lease. The requester peeks at its inbox: the reply of a
 * request it still waits for is taken, anything else dropped. Nothing here is shared
 * between processes but the topics and the group, so nothing here is lock-free.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "wait.h"

#define INBOX_PREFIX "_INBOX."
#define CHECK_NS 1000000ull /* how often a waiting requester looks for a live responder */
#define INBOX_PRODUCERS 64u /* responders that may reply to one inbox at once */
#define REP_PUBS 8u /* inboxes a responder keeps open */
#define INBOX_CLAIM_NS 100000000ull /* a responder that died mid-reply holds its inbox this long */
#define DL_DIGITS 20 /* a deadline's value: zero-padded, as many digits as UINT64_MAX has */

struct pending {
	uint64_t id;
	uint64_t deadline;
};

struct shmq_req {
	struct shmq_bus bus;
	char service[SHMQ_NAME_MAX + 1];
	shmq_pub *pub; /* to the service */
	shmq_sub *inbox; /* NULL until the first request */
	char inbox_name[SHMQ_NAME_MAX + 1];
	uint32_t max_msg, mode;
	uint64_t next_id;
	struct pending *pend; /* outstanding requests, in id order */
	size_t n_pend;
	uint64_t checked_ns; /* when a live responder was last looked for */
	bool reachable;
	bool replied; /* a reply was taken since checked_ns */
	/*
	 * Until then (shmqi_now_ns(), the cheap clock) no deadline can have passed and no look for
	 * a responder is due: a poll that finds no reply reads no other clock. The cheap clock may
	 * lag, which only makes such an end later, never early: deadlines are judged on
	 * shmqi_mono_ns() once this has passed. 0: work it out at the next poll.
	 */
	uint64_t quiet_until;
	unsigned polls;
	bool gather; /* a scatter-gather request is under way: any subscriber counts */
	uint8_t hdrs[SHMQ_HDRS_MAX];
	size_t hdrs_base; /* the reply-to header, written once */
	size_t hdrs_dl; /* with the deadline header after it, also written once */
	size_t dl_off; /* where its value's DL_DIGITS digits are, rewritten per request */
	struct shmq_req_stats st;
};

static _Atomic uint32_t inbox_count; /* per process: each requester's inbox its own number */

/* ---- inboxes ---- */

bool shmqi_inbox_orphaned(const char *name)
{
	unsigned long long ns, pid, start, n;
	uint64_t mine = shmqi_pidns();
	char tail;

	if (sscanf(name, INBOX_PREFIX "%llu.%llu.%llu.%llu%c", &ns, &pid, &start, &n, &tail) != 4)
		return false;
	if (!mine || ns != mine || pid == 0 || pid > INT32_MAX)
		return false; /* another namespace's: not ours to judge */
	return !shmqi_owner_alive((pid_t)pid, start, 0);
}

/* Remove the inboxes of dead processes in the namespace (without the daemon, nobody else does). */
static void sweep_inboxes(const shmq_bus *bus)
{
	char prefix[16 + SHMQ_NAMESPACE_MAX];
	struct dirent *de;
	size_t pl;
	DIR *d;

	pl = (size_t)snprintf(prefix, sizeof(prefix), "shmq.%s." INBOX_PREFIX, bus->ns);
	d = opendir(SHMQI_SHM_DIR);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, pl) == 0 &&
		    shmqi_inbox_orphaned(de->d_name + pl - strlen(INBOX_PREFIX)))
			shmq_unlink((shmq_bus *)bus, de->d_name + pl - strlen(INBOX_PREFIX));
	closedir(d);
}

/*
 * The request headers, built once: the reply-to, then a deadline whose fixed-width value
 * publish() rewrites in place, so that no request builds or checks a header of its own.
 */
static int inbox_headers(shmq_req *rq)
{
	static const char zeros[DL_DIGITS + 1] = "00000000000000000000";
	const char *v;
	size_t vn;
	int r;

	rq->hdrs_base = 0;
	r = shmq_hdrs_add(rq->hdrs, sizeof(rq->hdrs), &rq->hdrs_base, SHMQ_HDR_REPLY_TO,
			  rq->inbox_name, strlen(rq->inbox_name));
	rq->hdrs_dl = rq->hdrs_base;
	if (r == 0)
		r = shmq_hdrs_add(rq->hdrs, sizeof(rq->hdrs), &rq->hdrs_dl, SHMQ_HDR_DEADLINE,
				  zeros, DL_DIGITS);
	if (r == 0)
		r = shmq_hdrs_get(rq->hdrs, rq->hdrs_dl, SHMQ_HDR_DEADLINE, &v, &vn);
	if (r < 0)
		return r;
	assert(vn == DL_DIGITS);
	rq->dl_off = (size_t)(v - (const char *)rq->hdrs);
	return 0;
}

static int open_inbox(shmq_req *rq)
{
	struct shmq_topic_config c = { .slots = SHMQ_INBOX_SLOTS,
				       .max_msg = rq->max_msg,
				       .policy = SHMQ_TOPIC_LOSSY,
				       .mode = rq->mode,
				       .max_subscribers = 1,
				       .max_producers = INBOX_PRODUCERS,
				       .claim_timeout_ns = INBOX_CLAIM_NS };
	pid_t pid = getpid();
	int r;

	sweep_inboxes(&rq->bus);
	snprintf(rq->inbox_name, sizeof(rq->inbox_name),
		 INBOX_PREFIX "%" PRIu64 ".%d.%" PRIu64 ".%u", shmqi_pidns(), (int)pid,
		 shmqi_proc_start(pid),
		 atomic_fetch_add_explicit(&inbox_count, 1, memory_order_relaxed));
	r = shmq_sub_open(&rq->bus, rq->inbox_name, SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &c, 0,
			  &rq->inbox);
	if (r < 0)
		return r;
	return inbox_headers(rq);
}

/* ---- requesters ---- */

int shmq_req_open(shmq_bus *bus, const char *service, unsigned flags, shmq_req **ret_req)
{
	struct shmq_topic_stats ts;
	char path[sizeof(SHMQI_SHM_DIR) + SHMQI_PATH_MAX];
	struct stat st;
	shmq_req *rq;
	int r;

	if (!bus || !ret_req || flags || !shmqi_valid_name(service))
		return -EINVAL;
	r = shmq_topic_stat(bus, service, &ts, NULL, 0);
	if (r < 0)
		return r;
	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return -ENOMEM;
	rq->bus = *bus;
	snprintf(rq->service, sizeof(rq->service), "%s", service);
	rq->max_msg = ts.max_msg;
	shmqi_seg_file(bus, service, path, sizeof(path));
	rq->mode = stat(path, &st) == 0 ? (uint32_t)(st.st_mode & 0777) : 0;
	rq->pend = malloc(SHMQ_REQ_MAX_IN_FLIGHT * sizeof(*rq->pend));
	r = rq->pend ? shmq_pub_open(bus, service, 0, NULL, &rq->pub) : -ENOMEM;
	if (r < 0) {
		shmq_req_close(rq);
		return r;
	}
	*ret_req = rq;
	return 0;
}

void shmq_req_close(shmq_req *rq)
{
	if (!rq)
		return;
	shmq_pub_close(rq->pub);
	if (rq->inbox) {
		shmq_sub_close(rq->inbox);
		shmq_unlink(&rq->bus, rq->inbox_name);
	}
	free(rq->pend);
	free(rq);
}

/*
 * Is anybody there to answer? Looked up at most every CHECK_NS; and not while replies come:
 * one taken since the last look, less than 2 CHECK_NS ago, says a responder was live since,
 * without the look (a stat maps the topic and the group: some 100 us, once a millisecond).
 */
static bool reachable(shmq_req *rq, uint64_t now)
{
	struct shmq_topic_stats ts;
	struct shmq_group_stats gs;
	bool fresh;

	if (now - rq->checked_ns < CHECK_NS)
		return rq->reachable;
	fresh = rq->replied && rq->reachable && now - rq->checked_ns < 2 * CHECK_NS;
	rq->checked_ns = now;
	rq->replied = false;
	if (fresh)
		return true;
	rq->reachable =
		shmq_group_stat(&rq->bus, rq->service, SHMQ_SERVICE_GROUP, &gs, NULL, 0) > 0;
	if (!rq->reachable && rq->gather)
		rq->reachable = shmq_topic_stat(&rq->bus, rq->service, &ts, NULL, 0) > 0;
	/* From its end: a stat of a large topic may take longer than CHECK_NS itself. */
	rq->checked_ns = shmqi_mono_ns();
	return rq->reachable;
}

/* @v in decimal, DL_DIGITS digits zero-padded, at @p. */
static void put_digits(uint8_t *p, uint64_t v)
{
	int i;

	for (i = DL_DIGITS - 1; i >= 0; i--, v /= 10)
		p[i] = (uint8_t)('0' + v % 10);
}

/* Publish one request with id @id and @deadline, waiting for room until the deadline. */
static int publish(shmq_req *rq, const void *data, size_t len, uint64_t id, uint64_t deadline)
{
	size_t hl;
	int r;

	if (!rq->inbox && (r = open_inbox(rq)) < 0)
		return r;
	hl = rq->hdrs_base;
	if (deadline != UINT64_MAX) {
		put_digits(rq->hdrs + rq->dl_off, deadline);
		hl = rq->hdrs_dl;
	}
	for (;;) {
		r = shmqi_pub_send_built(rq->pub, rq->hdrs, hl, data, len, id);
		if (r != -EAGAIN)
			break;
		if (shmqi_mono_ns() >= deadline)
			return -ETIMEDOUT;
		r = shmq_pub_wait(rq->pub, 0,
				  deadline == UINT64_MAX ? CHECK_NS : deadline - shmqi_mono_ns());
		if (r < 0 && r != -ETIMEDOUT)
			return r;
	}
	if (r == 0)
		rq->st.sent++;
	return r;
}

/* Where id @id is among the outstanding requests, or n_pend. */
static size_t find_pending(const shmq_req *rq, uint64_t id)
{
	size_t lo = 0, hi = rq->n_pend, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (rq->pend[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rq->n_pend && rq->pend[lo].id == id ? lo : rq->n_pend;
}

static void drop_pending(shmq_req *rq, size_t i)
{
	memmove(&rq->pend[i], &rq->pend[i + 1], (rq->n_pend - i - 1) * sizeof(*rq->pend));
	rq->n_pend--;
}

int shmq_req_send(shmq_req *rq, const void *data, size_t len, uint64_t timeout_ns, uint64_t *ret_id)
{
	uint64_t now, id, deadline;
	int r;

	if (!rq || !ret_id || (!data && len) || rq->gather)
		return -EINVAL;
	if (rq->n_pend >= SHMQ_REQ_MAX_IN_FLIGHT)
		return -EAGAIN;
	now = shmqi_mono_ns();
	if (!reachable(rq, now)) {
		rq->st.unreachable++;
		return -EHOSTUNREACH;
	}
	/* shmqi_deadline() on the clock just read */
	deadline = timeout_ns == SHMQI_WAIT_FOREVER || timeout_ns >= UINT64_MAX - now
			   ? UINT64_MAX
			   : now + timeout_ns;
	id = ++rq->next_id;
	r = publish(rq, data, len, id, deadline);
	if (r < 0)
		return r;
	rq->pend[rq->n_pend++] = (struct pending){ .id = id, .deadline = deadline };
	rq->quiet_until = 0; /* an earlier deadline, maybe */
	*ret_id = id;
	return 0;
}

/*
 * The next reply in the inbox for an outstanding request, copied to @buf: its length and id,
 * or -EMSGSIZE (it or its responder says it did not fit), -EAGAIN (none there). Replies to
 * nothing outstanding are dropped.
 */
static int take_reply(shmq_req *rq, void *buf, size_t buf_len, uint64_t *ret_id, bool any)
{
	struct shmq_sub_msg m;
	const void *data, *h;
	size_t hl, i;
	int r, n;

	for (;;) {
		n = shmq_sub_peek(rq->inbox, &data, &m);
		if (n == -EBADMSG)
			continue;
		if (n < 0)
			return n;
		i = find_pending(rq, m.corr_id);
		if (i == rq->n_pend && !(any && m.corr_id == rq->next_id)) {
			rq->st.late++;
			shmq_sub_release(rq->inbox);
			continue;
		}
		shmq_sub_headers(rq->inbox, &h, &hl);
		r = hl && shmq_hdrs_get(h, hl, SHMQ_HDR_STATUS, NULL, NULL) == 0 ? -EMSGSIZE : n;
		if (r >= 0 && (size_t)n > buf_len)
			r = -EMSGSIZE;
		if (r >= 0 && n)
			memcpy(buf, data, (size_t)n);
		if (shmq_sub_release(rq->inbox) == -ESTALE)
			continue; /* overwritten while we read it: lost (the inbox counts it) */
		*ret_id = m.corr_id;
		if (i < rq->n_pend)
			drop_pending(rq, i);
		rq->replied = true;
		return r;
	}
}

/*
 * The outstanding request that ended without a reply, if one did: its id and why; or a
 * reply after all, into @buf. A responder publishes its reply before it leaves the group, so
 * once no live responder is seen, the inbox is looked at again before a request is declared
 * unreachable: a responder that answers and exits at once (shmq reply --count 1) must not
 * lose its reply to that race.
 */
static int end_one(shmq_req *rq, void *buf, size_t buf_len, uint64_t *ret_id)
{
	uint64_t t, now, next;
	size_t i, first = rq->n_pend;
	int r;

	/* A poll in 16 reads even the cheap clock: an end comes a few polls late at most. */
	if (rq->quiet_until && (++rq->polls & 15))
		return -EAGAIN;
	t = shmqi_now_ns();
	if (t < rq->quiet_until)
		return -EAGAIN;
	now = shmqi_mono_ns();

	for (i = 0; i < rq->n_pend; i++)
		if (rq->pend[i].deadline <= now &&
		    (first == rq->n_pend || rq->pend[i].deadline < rq->pend[first].deadline))
			first = i;
	if (first < rq->n_pend) {
		*ret_id = rq->pend[first].id;
		drop_pending(rq, first);
		rq->st.timed_out++;
		return -ETIMEDOUT;
	}
	if (rq->n_pend && !reachable(rq, now)) {
		r = take_reply(rq, buf, buf_len, ret_id, false);
		if (r != -EAGAIN)
			return r;
		*ret_id = rq->pend[0].id;
		drop_pending(rq, 0);
		rq->st.unreachable++;
		return -EHOSTUNREACH;
	}
	next = rq->checked_ns + CHECK_NS;
	for (i = 0; i < rq->n_pend; i++)
		next = rq->pend[i].deadline < next ? rq->pend[i].deadline : next;
	rq->quiet_until = next > now ? t + (next - now) : 0;
	return -EAGAIN;
}

int shmq_req_recv(shmq_req *rq, void *buf, size_t buf_len, uint64_t *ret_id)
{
	int r;

	if (!rq || !ret_id || (!buf && buf_len) || rq->gather)
		return -EINVAL;
	if (rq->n_pend == 0)
		return -ENOENT;
	r = take_reply(rq, buf, buf_len, ret_id, false);
	if (r == -EAGAIN)
		r = end_one(rq, buf, buf_len, ret_id);
	rq->st.replied += r >= 0;
	return r;
}

/*
 * Park on the inbox until @until (mono), at most CHECK_NS. Return: 0 (a reply may be there,
 * or it is time to look for a responder again), -ETIMEDOUT (@until passed), -errno.
 */
static int park(shmq_req *rq, uint64_t spin_ns, uint64_t until)
{
	uint64_t now = shmqi_mono_ns(), ns;
	int r;

	if (now >= until)
		return -ETIMEDOUT;
	ns = until - now < CHECK_NS ? until - now : CHECK_NS;
	r = shmq_sub_wait(rq->inbox, spin_ns, ns);
	if (r == -EPIPE) { /* a responder closed its end of our inbox: more may come */
		shmqi_sub_forget_closes(rq->inbox);
		r = 0;
	}
	if (r == -ETIMEDOUT && shmqi_mono_ns() < until)
		r = 0; /* CHECK_NS passed: time to look for a responder again */
	return r;
}

int shmq_req_wait(shmq_req *rq, uint64_t spin_ns, uint64_t timeout_ns)
{
	uint64_t end, until, dl;
	size_t i;
	int r;

	if (!rq || rq->gather)
		return -EINVAL;
	if (rq->n_pend == 0)
		return -ENOENT;
	end = until = shmqi_deadline(timeout_ns);
	for (i = 0; i < rq->n_pend; i++) {
		dl = rq->pend[i].deadline;
		until = dl < until ? dl : until;
	}
	r = park(rq, spin_ns, until);
	return r == -ETIMEDOUT && until < end ? 0 : r; /* a request's deadline: recv says so */
}

int shmq_request(shmq_req *rq, const void *data, size_t len, void *reply, size_t reply_cap,
		 uint64_t timeout_ns)
{
	uint64_t id, got;
	int r;

	if (!rq || (!reply && reply_cap))
		return -EINVAL;
	if (rq->n_pend)
		return -EBUSY;
	r = shmq_req_send(rq, data, len, timeout_ns, &id);
	if (r < 0)
		return r;
	for (;;) {
		r = shmq_req_recv(rq, reply, reply_cap, &got);
		if (r != -EAGAIN)
			return r; /* the only one outstanding: @got is @id */
		r = park(rq, 0, rq->pend[0].deadline);
		if (r < 0 && r != -ETIMEDOUT)
			return r;
	}
}

int shmq_req_gather(shmq_req *rq, const void *data, size_t len, struct shmq_reply *replies,
		    size_t n, uint64_t timeout_ns)
{
	uint64_t deadline, id;
	size_t got = 0;
	int r;

	if (!rq || !replies || n == 0 || n > INT32_MAX || (!data && len))
		return -EINVAL;
	if (rq->n_pend)
		return -EBUSY;
	rq->gather = true;
	rq->checked_ns = 0; /* look now, with subscribers counted */
	if (!reachable(rq, shmqi_mono_ns())) {
		rq->gather = false;
		rq->checked_ns = 0;
		rq->st.unreachable++;
		return -EHOSTUNREACH;
	}
	deadline = shmqi_deadline(timeout_ns);
	id = ++rq->next_id;
	r = publish(rq, data, len, id, deadline);
	while (r == 0 && got < n) {
		r = take_reply(rq, replies[got].buf, replies[got].cap, &id, true);
		if (r >= 0) {
			replies[got++].len = (size_t)r;
			r = 0;
		} else if (r == -EMSGSIZE) {
			rq->st.late++;
			r = 0;
		} else if (r == -EAGAIN) {
			r = park(rq, 0, deadline);
			r = r == -ETIMEDOUT ? 1 : r < 0 ? r : 0;
		}
	}
	rq->gather = false;
	rq->checked_ns = 0;
	rq->st.replied += got > 0;
	if (r < 0)
		return got ? (int)got : r;
	return (int)got;
}

int shmq_req_stats(const shmq_req *rq, struct shmq_req_stats *ret)
{
	struct shmq_sub_stats ss;

	if (!rq || !ret)
		return -EINVAL;
	*ret = rq->st;
	if (rq->inbox && shmq_sub_stats(rq->inbox, &ss) == 0)
		ret->lost = ss.lost;
	return 0;
}

/* ---- responders ---- */

struct inbox_pub {
	char name[SHMQ_NAME_MAX + 1];
	shmq_pub *pub;
	uint64_t used;
};

struct shmq_rep {
	struct shmq_bus bus;
	shmq_group *member; /* a group responder */
	shmq_sub *sub; /* or SHMQ_REP_ALL */
	struct inbox_pub pubs[REP_PUBS];
	uint64_t uses;
	char last_ok[SHMQ_NAME_MAX + 1]; /* the last inbox name found valid */
};

int shmq_rep_open(shmq_bus *bus, const char *service, unsigned flags,
		  const struct shmq_topic_config *cfg, shmq_rep **ret_rep)
{
	struct shmq_group_config gc = { .flags = SHMQ_GROUP_NO_DLQ };
	shmq_pub *maker;
	shmq_rep *rp;
	int r;

	if (!bus || !ret_rep || (flags & ~(SHMQ_OPEN_CREATE | SHMQ_REP_ALL)) ||
	    !shmqi_valid_name(service))
		return -EINVAL;
	if (flags & SHMQ_OPEN_CREATE) { /* the topic first, reliable unless @cfg says */
		r = shmq_pub_open(bus, service, SHMQ_OPEN_CREATE, cfg, &maker);
		if (r < 0)
			return r;
		shmq_pub_close(maker);
	}
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->bus = *bus;
	if (flags & SHMQ_REP_ALL)
		r = shmq_sub_open(bus, service, SHMQ_SUB_LATEST, NULL, 0, &rp->sub);
	else
		r = shmq_group_open(bus, service, SHMQ_SERVICE_GROUP,
				    SHMQ_OPEN_CREATE | SHMQ_SUB_LATEST, &gc, &rp->member);
	if (r < 0) {
		free(rp);
		return r;
	}
	*ret_rep = rp;
	return 0;
}

void shmq_rep_close(shmq_rep *rp)
{
	unsigned i;

	if (!rp)
		return;
	for (i = 0; i < REP_PUBS; i++)
		shmq_pub_close(rp->pubs[i].pub);
	shmq_group_close(rp->member);
	shmq_sub_close(rp->sub);
	free(rp);
}

/* Fill @info from the request's headers; false for one that cannot be answered. */
/*
 * Has a request's deadline passed? Judged on the cheap clock, which may lead by up to a
 * piece: only a deadline DROP_SLACK_NS behind it counts, so no request is dropped early.
 */
#define DROP_SLACK_NS 2000000ull
static bool past(uint64_t deadline)
{
	return deadline < UINT64_MAX - DROP_SLACK_NS && shmqi_now_ns() > deadline + DROP_SLACK_NS;
}

static bool request_info(shmq_rep *rp, const void *h, size_t hl, struct shmq_request_info *info)
{
	size_t pos = 0, kn, vn, i;
	const char *k, *v;
	bool to = false;
	uint64_t d;

	info->deadline_ns = UINT64_MAX;
	/* One pass over the block: the first of each of the two keys counts. */
	while (shmq_hdrs_next(h, hl, &pos, &k, &kn, &v, &vn) == 1) {
		if (!to && kn == sizeof(SHMQ_HDR_REPLY_TO) - 1 &&
		    memcmp(k, SHMQ_HDR_REPLY_TO, kn) == 0) {
			if (vn == 0 || vn > SHMQ_NAME_MAX)
				return false;
			memcpy(info->reply_to, v, vn);
			info->reply_to[vn] = '\0';
			to = true;
		} else if (info->deadline_ns == UINT64_MAX && kn == sizeof(SHMQ_HDR_DEADLINE) - 1 &&
			   memcmp(k, SHMQ_HDR_DEADLINE, kn) == 0 && vn && vn <= 20) {
			for (i = 0, d = 0; i < vn && v[i] >= '0' && v[i] <= '9' &&
					   d <= (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10;
			     i++)
				d = d * 10 + (uint64_t)(v[i] - '0');
			if (i == vn)
				info->deadline_ns = d;
		}
	}
	if (!to || strncmp(info->reply_to, INBOX_PREFIX, strlen(INBOX_PREFIX)) != 0)
		return false; /* replies go to inboxes only, never into any topic a request names */
	if (strcmp(info->reply_to, rp->last_ok) == 0) /* the inbox of the request before */
		return true;
	if (!shmqi_valid_name(info->reply_to))
		return false;
	memcpy(rp->last_ok, info->reply_to, sizeof(rp->last_ok));
	return true;
}

int shmq_rep_recv(shmq_rep *rp, void *buf, size_t buf_len, struct shmq_request_info *ret)
{
	struct shmq_group_msg gm;
	struct shmq_sub_msg m;
	const void *h;
	size_t hl;
	int r;

	if (!rp || !ret || (!buf && buf_len))
		return -EINVAL;
	for (;;) {
		memset(ret, 0, sizeof(*ret));
		if (rp->member) {
			r = shmq_group_recv(rp->member, buf, buf_len, &gm);
			if (r < 0 && r != -EMSGSIZE)
				return r;
			shmq_group_headers(rp->member, &h, &hl);
			*ret = (struct shmq_request_info){ .id = gm.corr_id,
							   .attempt = gm.attempt,
							   .len = gm.len,
							   .lease = gm.lease };
		} else {
			r = shmq_sub_recv(rp->sub, buf, buf_len, &m);
			if (r == -EBADMSG)
				continue;
			if (r < 0 && r != -EMSGSIZE)
				return r;
			shmq_sub_headers(rp->sub, &h, &hl);
			*ret = (struct shmq_request_info){ .id = m.corr_id,
							   .attempt = 1,
							   .len = m.len };
		}
		if (request_info(rp, h, hl, ret) && !past(ret->deadline_ns))
			return r;
		if (rp->member) /* no inbox, or its requester gave up: nobody wants an answer */
			shmq_group_ack(rp->member, ret->lease);
		else if (r == -EMSGSIZE)
			return r; /* a subscriber's record stays; the caller must take it */
	}
}

/* A publisher to @inbox, from the few kept open (the least recently used one makes room). */
static int inbox_pub(shmq_rep *rp, const char *inbox, shmq_pub **ret)
{
	struct inbox_pub *slot = &rp->pubs[0];
	unsigned i;
	int r;

	for (i = 0; i < REP_PUBS; i++) {
		if (rp->pubs[i].pub && strcmp(rp->pubs[i].name, inbox) == 0) {
			rp->pubs[i].used = ++rp->uses;
			*ret = rp->pubs[i].pub;
			return 0;
		}
		if (rp->pubs[i].used < slot->used)
			slot = &rp->pubs[i];
	}
	shmq_pub_close(slot->pub);
	slot->pub = NULL;
	r = shmq_pub_open(&rp->bus, inbox, 0, NULL, &slot->pub);
	if (r < 0)
		return r;
	snprintf(slot->name, sizeof(slot->name), "%s", inbox);
	slot->used = ++rp->uses;
	*ret = slot->pub;
	return 0;
}

int shmq_rep_reply(shmq_rep *rp, const struct shmq_request_info *req, const void *data, size_t len)
{
	uint8_t hb[32];
	size_t hl = 0;
	shmq_pub *pub;
	int r, e;

	if (!rp || !req || (!data && len) || !memchr(req->reply_to, '\0', sizeof(req->reply_to)))
		return -EINVAL;
	r = inbox_pub(rp, req->reply_to, &pub); /* a name it has not opened is checked there */
	if (r == 0) {
		r = shmq_pub_send(pub, data, len, req->id);
		if (r == -EMSGSIZE) { /* tell the requester, with an empty reply */
			shmq_hdrs_add(hb, sizeof(hb), &hl, SHMQ_HDR_STATUS, "too-large", 9);
			e = shmq_pub_send_hdrs(pub, hb, hl, NULL, 0, req->id);
			r = e < 0 ? e : -EMSGSIZE;
		}
	}
	if (r == 0 || r == -EMSGSIZE || r == -ENOENT) {
		e = shmq_rep_drop(rp, req); /* done: answered, or nobody to answer */
		if (e < 0)
			return e;
	}
	return r;
}

int shmq_rep_drop(shmq_rep *rp, const struct shmq_request_info *req)
{
	if (!rp || !req)
		return -EINVAL;
	return rp->member ? shmq_group_ack(rp->member, req->lease) : 0;
}

int shmq_rep_wait(shmq_rep *rp, uint64_t spin_ns, uint64_t timeout_ns)
{
	uint64_t deadline = shmqi_deadline(timeout_ns), now;
	int r;

	if (!rp)
		return -EINVAL;
	for (;;) {
		now = shmqi_mono_ns();
		timeout_ns = deadline == UINT64_MAX ? SHMQ_WAIT_FOREVER
			     : deadline > now	    ? deadline - now
						    : 0;
		r = rp->member ? shmq_group_wait(rp->member, spin_ns, timeout_ns)
			       : shmq_sub_wait(rp->sub, spin_ns, timeout_ns);
		if (r != -EPIPE)
			return r;
		/* The last requester closed: the service goes on, parked for the next one. */
		if (rp->member)
			shmqi_group_forget_closes(rp->member);
		else
			shmqi_sub_forget_closes(rp->sub);
	}
}
