/* SPDX-License-Identifier: MIT */
/* shmq/pattern.h - wildcard patterns over topic names, and pattern subscribers; in shmq.h. */
#ifndef SHMQ_PATTERN_H
#define SHMQ_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "shmq/bus.h"
#include "shmq/topic.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A pattern names a set of topics. Like a topic name it is a list of tokens separated by
 * '.', and each token is either a literal, matched exactly, or one of three wildcards that
 * stand alone as a whole token:
 *
 *   *  exactly one token                  "a.*" matches "a.b", not "a" nor "a.b.c"
 *   #  zero or more tokens (RabbitMQ)     "a.#" matches "a", "a.b", "a.b.c"; "#" matches all
 *   >  one or more tokens, only as the    "a.>" matches "a.b", "a.b.c", not "a"
 *      last token (NATS)
 *
 * Literal tokens are 1 or more characters of [A-Za-z0-9_-]; the first token may also start
 * with '$'. A wildcard inside a token ("a*", "b#"), '>' before the last token ("a.>.b") and
 * empty tokens ("a..b", ".a", "a.") are invalid. A pattern is at most SHMQ_PATTERN_MAX
 * characters.
 *
 * As in MQTT, a pattern whose first token is a wildcard never matches a topic whose first
 * token starts with '$' ("#" does not match "$SYS.load"; "$SYS.#" does). The names of this
 * library's own objects cannot start with '$' (shmq_pub_open() refuses them): such names are
 * kept for system topics a registry may publish, and shmq_pattern_match() accepts them.
 */

/* Longest pattern, in characters. */
#define SHMQ_PATTERN_MAX 200

/**
 * shmq_pattern_check() - is @pattern a valid pattern?
 * @pattern: the pattern
 *
 * Clears shmq_last_detail() and, when the pattern is invalid, fills it with what is wrong
 * and where ("bad pattern: '*' at offset 1 is inside the token "a*" (a wildcard is a whole
 * token)").
 *
 * Return: 0, or -EINVAL (NULL, empty, too long, a character that is not allowed, an empty
 * token, a wildcard inside a token, '>' before the last token, '$' after the first
 * character).
 */
SHMQ_API int shmq_pattern_check(const char *pattern);

/**
 * shmq_pattern_match() - does @topic match @pattern?
 * @pattern: a pattern, as shmq_pattern_check() checks it
 * @topic:   a topic name as shmq_pub_open() takes it (1-200 chars of [A-Za-z0-9_.-], no
 *           empty dot-separated token), or such a name after a leading '$'
 *
 * Linear in the product of the two token counts (at most 100 each), whatever the wildcards:
 * no backtracking. Clears shmq_last_detail(), and fills it on -EINVAL.
 *
 * Return: 1 (a match), 0 (none), or -EINVAL (a bad pattern, or a @topic that is not a valid
 * name).
 */
SHMQ_API int shmq_pattern_match(const char *pattern, const char *topic);

/*
 * A pattern subscriber reads every topic of a namespace whose name matches a pattern, as one
 * stream: inside, it holds one subscriber (shmq_sub) per matching topic and receives from
 * them in turn, one record from each topic that has one per round, so that a busy topic
 * cannot starve a quiet one. Records of one topic come in their sequence order; there is no
 * order across topics. Each record comes with the name of its topic.
 *
 * Discovery, without a daemon: at open it lists the namespace (shmq_bus_list()) and attaches
 * the matching topics there; channels and consumer groups ("TOPIC@GROUP") are never
 * attached. From then on it watches /dev/shm with inotify: a matching topic that appears is
 * attached from its oldest retained record (SHMQ_SUB_EARLIEST), so that its first records
 * are not missed however late the subscriber notices it. A topic found while its creator is
 * still making it (the file exists, its header is not published yet), or that cannot be
 * attached for a passing reason (no permission yet, every subscriber entry taken), is tried
 * again: 1 ms later, then at doubling intervals up to 1 s, and at once on any new event for
 * its name. A topic whose file is removed (shmq_unlink()) is read up to its tail as it was
 * when the removal was noticed, then its subscriber is closed; a new topic made under the
 * same name is a new topic, read from its start.
 *
 * With shmqd running for the namespace ($SHMQ_DAEMON not "off"), the subscriber also holds
 * a watch on the pattern with the daemon (a connection of its own): the daemon tells it of a
 * matching topic as soon as its creator has published it, which spares the retries above;
 * inotify stays on beside it, for topics made by processes that never talk to the daemon and
 * for a daemon that goes away. With SHMQ_DAEMON=required and no daemon, the open fails with
 * -ECONNREFUSED.
 *
 * When discovery happens: while receiving, every 256th receive call and on a receive that
 * finds nothing (at most every 100 us); while waiting, every 10 ms (1 ms above 128
 * topics) and at once while no topic is attached. A registry that knows of a new topic
 * sooner may tell the subscriber with shmq_psub_add_topic().
 *
 * A handle is used by one thread at a time, and not by a forked child (which would read the
 * parent's inotify events away). Each attached topic takes a subscriber entry of that topic,
 * and on a reliable topic holds its producers back as any subscriber does.
 */
typedef struct shmq_psub shmq_psub;

/**
 * shmq_psub_open() - subscribe to every topic whose name matches a pattern.
 * @bus:      the bus (namespace); the handle keeps what it needs of it
 * @pattern:  as shmq_pattern_check() checks it
 * @flags:    at most one of SHMQ_SUB_LATEST (the default) and SHMQ_SUB_EARLIEST: where to
 *            start in the topics that exist at open. Topics that appear later are always
 *            read from their oldest retained record. No other bit is accepted
 * @cfg:      NULL to attach any matching topic; else its non-zero fields, and its policy,
 *            must be a topic's for it to be attached (as shmq_sub_open() checks them): a
 *            topic that differs is left out, and shmq_psub_topics() lists it with -EBADE
 * @ret_psub: on success a handle owned by the caller, released with shmq_psub_close();
 *            untouched on failure
 *
 * Topics that match but cannot be attached at open do not fail the open: they are tried
 * again later (see above), and shmq_psub_topics() shows why they are not attached yet.
 *
 * Return: 0, or -EINVAL (NULL @bus or @ret_psub, bad flags, a bad pattern:
 * shmq_last_detail() says what is wrong with it), -ECONNREFUSED (SHMQ_DAEMON=required and
 * no daemon answers), -ENOMEM, -EMFILE or -ENFILE (no file
 * descriptor for inotify), -ENOSPC (the user's inotify watch limit), or the error of
 * reading /dev/shm (-ENOENT, -EACCES).
 */
SHMQ_API int shmq_psub_open(shmq_bus *bus, const char *pattern, unsigned flags,
			    const struct shmq_topic_config *cfg, shmq_psub **ret_psub);

/**
 * shmq_psub_close() - release a handle from shmq_psub_open(); NULL is ignored. Every
 * topic's subscriber is closed (shmq_sub_close()).
 */
SHMQ_API void shmq_psub_close(shmq_psub *psub);

/**
 * shmq_psub_recv() - copy the next record of any attached topic out.
 * @psub:      a pattern subscriber
 * @buf:       where to copy the payload (may be NULL when @buf_len is 0)
 * @buf_len:   size of @buf
 * @ret_info:  on success what the record carries (its @seq is its topic's sequence number),
 *             as shmq_sub_recv() gives it; may be NULL
 * @topic_buf: on success the NUL-terminated name of the record's topic; may be NULL
 * @topic_len: size of @topic_buf: at least SHMQ_NAME_MAX + 1 when @topic_buf is given
 *
 * Topics take turns: the call starts at the topic after the one the last record came from.
 * A record longer than @buf_len stays next (-EMSGSIZE), and its topic stays first in turn;
 * @ret_info and @topic_buf, when given, still get its length and its topic.
 *
 * Return: the payload length (>= 0), or -EAGAIN (nothing in any topic), -EMSGSIZE,
 * -EINVAL (NULL @psub, NULL @buf with a non-zero @buf_len, a @topic_buf shorter than
 * SHMQ_NAME_MAX + 1), -EBADMSG (a corrupt slot in the topic @topic_buf names, counted as lost
 * there; the topic's cursor moved past it), -EPROTO (a topic's corrupt positions), -ENOMEM
 * (no memory to note a topic that appeared: a listing of the namespace finds it later).
 */
SHMQ_API int shmq_psub_recv(shmq_psub *psub, void *buf, size_t buf_len,
			    struct shmq_sub_msg *ret_info, char *topic_buf, size_t topic_len);

/**
 * shmq_psub_headers() - the headers of the record shmq_psub_recv() delivered last, as
 * shmq_sub_headers(): a copy held by the handle until the next receive (NULL and 0 for
 * none). Return: 0, or -EINVAL.
 */
SHMQ_API int shmq_psub_headers(const shmq_psub *psub, const void **ret_hdrs, size_t *ret_len);

/**
 * shmq_psub_wait() - wait until a record is there to receive in any attached topic.
 * @psub:       a pattern subscriber
 * @spin_ns:    busy-poll this long first (0: park at once; SHMQ_SPIN_FOREVER: never park)
 * @timeout_ns: give up after this long (0: just look; SHMQ_WAIT_FOREVER: never)
 *
 * Parks on up to 128 attached topics at once (one vectored futex wait, as
 * shmq_wait_many()): a record in any of them wakes it at once. It wakes every 10 ms to look
 * for new and removed topics, or waits on the inotify descriptor alone (woken at once by a
 * new file) while no topic is attached. Above 128 attached topics it parks on 128 at a
 * time, taking turns 1 ms each: a record in a topic outside the current turn waits for its
 * turn, up to 1 ms per 128 topics.
 *
 * A topic's producers going away ends nothing: topics come and go, and the wait goes on for
 * the others (and for that topic's next producer).
 *
 * Return: 0 (receive will find a record, or an error to report), -ETIMEDOUT, -EINVAL,
 * -ENOMEM (as for shmq_psub_recv()), or another -errno of the wait itself (io_uring, futex
 * or ppoll).
 */
SHMQ_API int shmq_psub_wait(shmq_psub *psub, uint64_t spin_ns, uint64_t timeout_ns);

/**
 * shmq_psub_add_topic() - attach a topic now, as discovery would.
 * @psub:  a pattern subscriber
 * @topic: a topic name matching the subscriber's pattern
 *
 * For a registry that learns of new topics before /dev/shm says so. The topic is read from
 * its oldest retained record (SHMQ_SUB_EARLIEST). Idempotent: a topic already attached is
 * left as it is. Unlike discovery, it waits (up to 2 s, as shmq_sub_open() does) for a header
 * that is being made. Clears shmq_last_detail(), and fills it as shmq_sub_open() does, or
 * with why @topic does not match.
 *
 * Return: 1 (attached now), 0 (already attached), or -EINVAL (NULL @psub, a bad name, a
 * name that does not match the pattern), -ENOENT, -EPROTOTYPE (not a topic), -EBADE (a
 * configuration other than the subscriber's @cfg), -EUSERS, -EACCES, -EPROTO, -ENOMEM, as
 * shmq_sub_open() gives them. A topic discovery already knows of stays known on failure,
 * and is tried again as discovery tries it.
 */
SHMQ_API int shmq_psub_add_topic(shmq_psub *psub, const char *topic);

/**
 * struct shmq_psub_topic - one topic a pattern subscriber knows of.
 * @name:     the topic's name, NUL-terminated
 * @error:    0 when it is attached; else why it is not (yet), as the last try to attach it
 *            said: -EINPROGRESS (its header not published yet), -EPROTO (not a segment this
 *            library speaks, or too small for a header yet), -EACCES, -EUSERS, -EBADE (a
 *            configuration other than @cfg), ...; tried again as the discovery rules
 *            say, except after -EBADE, which waits for the next event on its name
 * @received: records delivered from it through this handle
 */
struct shmq_psub_topic {
	char name[SHMQ_NAME_MAX + 1];
	int error;
	uint64_t received;
};

/**
 * shmq_psub_topics() - the topics a pattern subscriber is attached to or waits to attach,
 * sorted by name, as its last receive or wait left them (this call looks at nothing).
 * @psub:   a pattern subscriber
 * @topics: where to store them, or NULL (with @max 0) to count them
 * @max:    room in @topics
 *
 * Topics whose removal was noticed are not listed, even while their last records are read;
 * nor are matching names that turned out to be channels.
 *
 * Return: the number of topics (which may exceed @max: only the first @max in name order are
 * stored), or -EINVAL, -ENOMEM.
 */
SHMQ_API int shmq_psub_topics(const shmq_psub *psub, struct shmq_psub_topic *topics, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_PATTERN_H */
