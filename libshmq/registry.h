/* SPDX-License-Identifier: MIT */
/*
 * registry.h - what the library and shmqd share about their protocol (docs/protocol.md), and
 * the library's client side: the open calls ask the daemon before they map a segment.
 */
#ifndef SHMQ_REGISTRY_H
#define SHMQ_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmq.h"

#define SHMQI_PROTO_VERSION 1
/* The largest record either side sends or accepts (a request, a reply or an event). */
#define SHMQI_PROTO_MAX 65536
/* How long a client waits for a reply before it gives up on the daemon. */
#define SHMQI_REPLY_TIMEOUT_MS 2000

enum shmqi_daemon_mode { SHMQI_DAEMON_AUTO, SHMQI_DAEMON_REQUIRED, SHMQI_DAEMON_OFF };

/* $SHMQ_DAEMON read once per call; -EINVAL (with the detail) for a value it does not know. */
int shmqi_daemon_mode(enum shmqi_daemon_mode *ret_mode);

/* The kind names the protocol uses ("channel", "topic", "group"); NULL for another kind. */
const char *shmqi_kind_proto(uint32_t kind);

/* A topic's configuration as the protocol's "config" object, and back (-EINVAL if malformed). */
json_t *shmqi_topic_cfg_json(const struct shmq_topic_config *cfg);
int shmqi_topic_cfg_parse(const json_t *j, struct shmq_topic_config *ret_cfg);

/*
 * Send @req (a JSON object: "v" and "id" are added) and wait for its reply. Return 0 with
 * *@ret_reply the reply's object when "ok" is true; the reply's errno negated (the detail
 * set to its message) when it is false; -ENOTCONN when no daemon answers (in auto mode the
 * caller goes on without it). Takes a reference to @req.
 */
int shmqi_reg_call(const shmq_bus *bus, json_t *req, json_t **ret_reply);

/*
 * Before an open call maps object @name of @kind (a group: "TOPIC@GROUP"): ask the daemon
 * whether the caller may, with @flags' SHMQ_OPEN_CREATE. 0: go on; the object's stored
 * configuration (a topic's) is in *@ret_cfg when *@ret_has_cfg says so. -EACCES and the
 * other refusals carry the daemon's message in the detail. With no daemon: 0 in auto and off
 * mode, -ECONNREFUSED in required mode.
 */
int shmqi_reg_open(const shmq_bus *bus, uint32_t kind, const char *name, unsigned flags,
		   struct shmq_topic_config *ret_cfg, bool *ret_has_cfg);

/* After an open call created @name: tell the daemon (best effort; nothing to return). */
void shmqi_reg_created(const shmq_bus *bus, uint32_t kind, const char *name);

/*
 * A connection of its own that watches @pattern (a pattern subscriber's): its descriptor,
 * non-blocking, that shmqi_reg_event() reads; -ENOTCONN with no daemon (auto and off mode),
 * -ECONNREFUSED in required mode. Closed with close().
 */
int shmqi_reg_watch(const shmq_bus *bus, const char *pattern);
/* The next "created" event's topic in @name: 0, -EAGAIN (none queued), -ECONNRESET (gone). */
int shmqi_reg_event(int fd, char *name, size_t len);

#endif /* SHMQ_REGISTRY_H */
