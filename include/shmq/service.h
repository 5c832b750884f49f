/* SPDX-License-Identifier: MIT */
/* shmq/service.h - request/reply: services of responders, requesters with private inboxes. */
#ifndef SHMQ_SERVICE_H
#define SHMQ_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include <shmq/bus.h>
#include <shmq/topic.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A service SERVICE is a request topic of that name with a consumer group "service" of
 * responders on it: requests are load-balanced over the responders, and a responder that
 * dies has its request redelivered to another (the group's lease, judged at once by shmqd
 * or by the next member that looks). Responders may also be plain subscribers of the topic
 * (SHMQ_REP_ALL): each sees every request, which is what scatter-gather asks of them.
 *
 * A requester has a private reply inbox: a lossy topic "_INBOX.PID.START.N" (its process's
 * pid and start time, and a number per handle), made on first use with the request topic's
 * mode and max_msg, removed when the handle closes, and when its process dies by shmqd or,
 * without the daemon, by the next requester that opens an inbox in the namespace. Lossy, so
 * that a requester that stops reading never holds a responder back: replies beyond its
 * 1024 slots unread are lost, and their requests time out.
 *
 * A request carries a correlation id (unique in the process), and headers shmq-reply-to
 * (the inbox) and shmq-deadline (CLOCK_MONOTONIC nanoseconds; a responder drops a request
 * whose deadline has passed, unanswered). A reply carries the request's id. A requester
 * takes only the reply of a request it is still waiting for: a late reply (after its
 * timeout) or a second one (a responder died after replying and before acking, and the
 * request went to another) is dropped and counted.
 *
 * No responder: a request is refused with -EHOSTUNREACH when the service's group has no
 * live member (and, for shmq_req_gather(), the topic no subscriber either). A request
 * waiting for its reply looks again every millisecond, so it ends with -EHOSTUNREACH soon
 * after the last responder is gone rather than at its timeout. A refused request was
 * already published: a responder that joins before its deadline still answers it, and the
 * reply is dropped as late.
 */
typedef struct shmq_req shmq_req;
typedef struct shmq_rep shmq_rep;

#define SHMQ_SERVICE_GROUP "service" /* the responders' group on the request topic */
#define SHMQ_HDR_REPLY_TO "shmq-reply-to"
#define SHMQ_HDR_DEADLINE "shmq-deadline"
#define SHMQ_HDR_STATUS "shmq-status" /* on a reply: "too-large" when it did not fit */
#define SHMQ_REQ_MAX_IN_FLIGHT 1024u
#define SHMQ_INBOX_SLOTS 1024u

/**
 * shmq_req_open() - a requester of @service.
 * @flags:   0
 * @ret_req: on success a handle owned by the caller, for one thread at a time
 *
 * The request topic must exist (a responder made it). The inbox is made at the first
 * request.
 *
 * Return: 0, or -EINVAL, -ENOENT (no such service), -EACCES, -ENOMEM, and the errors of
 * shmq_pub_open().
 */
SHMQ_API int shmq_req_open(shmq_bus *bus, const char *service, unsigned flags, shmq_req **ret_req);

/** shmq_req_close() - close a requester and remove its inbox; NULL is ignored. */
SHMQ_API void shmq_req_close(shmq_req *req);

/**
 * shmq_request() - send a request and wait for its reply.
 * @req:        a requester with no asynchronous request outstanding
 * @data, @len: the request
 * @reply:      where to copy the reply (may be NULL when @reply_cap is 0)
 * @reply_cap:  its size
 * @timeout_ns: how long to wait for the reply (SHMQ_WAIT_FOREVER: no deadline)
 *
 * Return: the reply's length (>= 0), or -EHOSTUNREACH (no responder), -ETIMEDOUT, -EMSGSIZE
 * (the reply was longer than @reply_cap, or too large for the inbox: the responder said
 * so), -EBUSY (asynchronous requests are outstanding), -EINVAL, and the errors of
 * shmq_pub_send().
 */
SHMQ_API int shmq_request(shmq_req *req, const void *data, size_t len, void *reply,
			  size_t reply_cap, uint64_t timeout_ns);

/**
 * shmq_req_send() - send a request without waiting: its reply comes from shmq_req_recv().
 * @ret_id: out: the request's id, which its reply (or its timeout) carries
 *
 * Return: 0, or -EHOSTUNREACH, -EAGAIN (SHMQ_REQ_MAX_IN_FLIGHT requests outstanding, or the
 * request topic is full), -EINVAL, and the errors of shmq_pub_send().
 */
SHMQ_API int shmq_req_send(shmq_req *req, const void *data, size_t len, uint64_t timeout_ns,
			   uint64_t *ret_id);

/**
 * shmq_req_recv() - the next reply to an outstanding request, or the end of one.
 * @buf, @buf_len: where to copy the reply
 * @ret_id:        out: which request (for a reply, a timeout or -EHOSTUNREACH)
 *
 * Return: the reply's length (the request is done), or -ETIMEDOUT / -EHOSTUNREACH (request
 * *@ret_id is done without a reply), -EMSGSIZE (*@ret_id's reply did not fit @buf_len, or
 * the responder's reply did not fit the inbox; the request is done), -EAGAIN (nothing yet),
 * -ENOENT (nothing outstanding), -EINVAL.
 */
SHMQ_API int shmq_req_recv(shmq_req *req, void *buf, size_t buf_len, uint64_t *ret_id);

/**
 * shmq_req_wait() - park until shmq_req_recv() may have something to say: a reply, an
 * outstanding request's deadline, or (every millisecond) a look for a live responder; so
 * shmq_req_recv() may still say -EAGAIN after it. Return: 0, -ETIMEDOUT (@timeout_ns
 * passed), -ENOENT (nothing outstanding), -EINVAL.
 */
SHMQ_API int shmq_req_wait(shmq_req *req, uint64_t spin_ns, uint64_t timeout_ns);

/**
 * struct shmq_reply - one reply of shmq_req_gather(): @buf and @cap in, @len out.
 */
struct shmq_reply {
	void *buf;
	size_t cap;
	size_t len;
};

/**
 * shmq_req_gather() - scatter-gather: send one request and collect up to @n replies until
 * @timeout_ns passes (every responder of SHMQ_REP_ALL sees it; a group's member one).
 * Replies that do not fit their buffer are dropped and counted.
 * Return: the number of replies (0..@n; 0 when none came in time), or -EHOSTUNREACH (no
 * responder at all), -EBUSY, -EINVAL, and the errors of shmq_pub_send().
 */
SHMQ_API int shmq_req_gather(shmq_req *req, const void *data, size_t len,
			     struct shmq_reply *replies, size_t n, uint64_t timeout_ns);

/**
 * struct shmq_req_stats - a requester's counters.
 * @sent:     requests sent
 * @replied:  requests answered
 * @timed_out, @unreachable: requests that ended so
 * @late:     replies dropped: their request was done (late, duplicate) or unknown
 * @lost:     replies lost in the inbox (the requester read too slowly)
 */
struct shmq_req_stats {
	uint64_t sent, replied, timed_out, unreachable, late, lost;
};

/** shmq_req_stats() - Return: 0, or -EINVAL. */
SHMQ_API int shmq_req_stats(const shmq_req *req, struct shmq_req_stats *ret_stats);

/* shmq_rep_open() flags, besides SHMQ_OPEN_CREATE */
#define SHMQ_REP_ALL 0x10000u /* a plain subscriber: every request (scatter-gather) */

/**
 * shmq_rep_open() - a responder of @service.
 * @flags: SHMQ_OPEN_CREATE (make the request topic, reliable, with @cfg or the defaults),
 *         SHMQ_REP_ALL
 * @cfg:   the request topic's configuration when it is made, or NULL
 *
 * A group responder joins the durable group "service" (made if absent, at the latest
 * record: requests sent while no responder existed were refused).
 *
 * Return: 0, or -EINVAL, -ENOENT, and the errors of shmq_group_open() and shmq_sub_open().
 */
SHMQ_API int shmq_rep_open(shmq_bus *bus, const char *service, unsigned flags,
			   const struct shmq_topic_config *cfg, shmq_rep **ret_rep);

/** shmq_rep_close() - leave the service; a request taken and not replied to is redelivered. */
SHMQ_API void shmq_rep_close(shmq_rep *rep);

/**
 * struct shmq_request_info - a request taken by shmq_rep_recv().
 * @id:          its correlation id, which the reply carries
 * @deadline_ns: the requester's deadline, CLOCK_MONOTONIC (UINT64_MAX: none)
 * @attempt:     the delivery attempt (1 unless a responder died with it)
 * @len:         its length
 * @lease:       its lease in the group (0 for SHMQ_REP_ALL)
 * @reply_to:    the requester's inbox
 */
struct shmq_request_info {
	uint64_t id;
	uint64_t deadline_ns;
	uint32_t attempt;
	size_t len;
	uint64_t lease;
	char reply_to[SHMQ_NAME_MAX + 1];
};

/**
 * shmq_rep_recv() - take the next request.
 *
 * Requests whose deadline has passed, or that carry no inbox, are dropped (acked unanswered).
 * Return: its length, or -EAGAIN, -EMSGSIZE (longer than @buf_len: it stays, taken, for a
 * larger buffer; shmq_rep_drop() gives it up), -EINVAL, and the errors of shmq_group_recv().
 */
SHMQ_API int shmq_rep_recv(shmq_rep *rep, void *buf, size_t buf_len, struct shmq_request_info *ret);

/**
 * shmq_rep_reply() - answer a request taken by shmq_rep_recv(), and end it (its lease is
 * acked after the reply is published: a responder that dies in between has the request
 * redelivered, and the requester drops the second reply).
 * Return: 0, or -EMSGSIZE (the reply does not fit the requester's inbox: the requester is
 * told so, with -EMSGSIZE, and the request ends), -ENOENT (the inbox is gone: the requester
 * left; the request ends), -ESTALE (the lease was lost: another responder has it), -EINVAL.
 */
SHMQ_API int shmq_rep_reply(shmq_rep *rep, const struct shmq_request_info *req, const void *data,
			    size_t len);

/** shmq_rep_drop() - end a request unanswered. Return: 0, or -ESTALE, -EINVAL. */
SHMQ_API int shmq_rep_drop(shmq_rep *rep, const struct shmq_request_info *req);

/**
 * shmq_rep_wait() - park until a request is there; as shmq_group_wait(), but requesters that
 * close (the last one, too) do not end it: it never says -EPIPE.
 */
SHMQ_API int shmq_rep_wait(shmq_rep *rep, uint64_t spin_ns, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_SERVICE_H */
