/* SPDX-License-Identifier: MIT */
/*
 * shmq/daemon.h - the registry daemon shmqd, seen from a client: where it listens, whether
 * it answers, and raw requests in its protocol (docs/protocol.md).
 *
 * The data plane never talks to the daemon. With one running for a namespace, the open calls
 * (shmq_channel_open(), shmq_pub_open(), shmq_sub_open(), shmq_group_open()) ask it first:
 * it judges the caller's credentials against the object's owner, group and mode (-EACCES,
 * with shmq_last_detail() saying why), hands a topic opened by name the configuration it has
 * stored for it, learns of what was created, and from then on watches the calling process:
 * when it dies, its table entries and leases are freed at once instead of after a timeout.
 *
 * $SHMQ_DAEMON chooses: "auto" (the default: use the daemon when it answers, else go on
 * without it, trying again after a back-off of 10 ms doubling to 1 s), "required" (an open
 * call fails with -ECONNREFUSED when it does not answer), "off" (never ask).
 */
#ifndef SHMQ_DAEMON_H
#define SHMQ_DAEMON_H

#include <stddef.h>

#include "shmq/bus.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHMQ_DAEMON_ENV "SHMQ_DAEMON" /* auto | required | off */
#define SHMQ_SOCKET_ENV "SHMQ_SOCKET" /* the daemon's socket, overriding the default */

/**
 * shmq_daemon_socket() - the socket path of namespace @ns's daemon, as clients and shmqd
 * choose it: $SHMQ_SOCKET if set, else /run/shmq/NS.sock for root and wherever that socket
 * exists (a system daemon's), else $XDG_RUNTIME_DIR/shmq/NS.sock, else
 * /tmp/shmq-UID/NS.sock.
 * @ns:  the namespace; NULL for $SHMQ_NAMESPACE, else "default" (as shmq_bus_open())
 * @buf: where to store the NUL-terminated path
 * @len: room in @buf
 *
 * Return: the path's length, or -EINVAL (a bad namespace), -ENAMETOOLONG (longer than a
 * Unix socket address holds, or than @len).
 */
SHMQ_API int shmq_daemon_socket(const char *ns, char *buf, size_t len);

/**
 * shmq_daemon_ping() - does the bus's daemon answer now?
 * @bus: the bus
 *
 * One round trip on this process's connection to the daemon (made if there is none).
 *
 * Return: 1 when it answers, 0 when it does not (or $SHMQ_DAEMON is "off"), or -EINVAL.
 */
SHMQ_API int shmq_daemon_ping(shmq_bus *bus);

/**
 * shmq_daemon_request() - send one raw request to the daemon and read its reply.
 * @bus:       the bus
 * @request:   a JSON object as docs/protocol.md describes it ("v" may be left out)
 * @reply:     where to store the reply, NUL-terminated JSON text
 * @reply_len: room in @reply
 *
 * For tools: the reply is returned whether it says "ok" or not.
 *
 * Return: the reply's length, or -EINVAL (@request is not a JSON object), -ENOTCONN (no
 * daemon answers), -EMSGSIZE (the request is over 64 KiB, or the reply over @reply_len),
 * -ENOMEM.
 */
SHMQ_API int shmq_daemon_request(shmq_bus *bus, const char *request, char *reply, size_t reply_len);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_DAEMON_H */
