/* SPDX-License-Identifier: MIT */
/* proto.h - shmqd's requests as decoded from one record (docs/protocol.md), and replies. */
#ifndef SHMQD_PROTO_H
#define SHMQD_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "shmq.h"

enum op {
	OP_HELLO,
	OP_PING,
	OP_STATUS,
	OP_OPEN,
	OP_CREATED,
	OP_LOOKUP,
	OP_LIST,
	OP_DELETE,
	OP_DECLARE,
	OP_WATCH,
	OP_CLIENTS,
};

/* One decoded request: the strings point into @root, which it owns. */
struct req {
	json_t *root;
	enum op op;
	json_int_t id; /* -1 when the request carried none */
	uint32_t kind; /* SHMQ_KIND_* for the ops that name an object; else 0 */
	const char *name; /* the object ("TOPIC@GROUP" for a group), or NULL */
	const char *pattern; /* OP_WATCH */
	int create; /* OP_OPEN: with SHMQ_OPEN_CREATE; OP_DELETE: "force" */
	struct shmq_topic_config cfg; /* OP_DECLARE */
};

#define ERR_MAX 160

/*
 * Decode one record of @len bytes. 0 with *@ret filled (released with req_free()), or
 * -errno with @err saying what is wrong: -EBADMSG (not a JSON object), -EPROTONOSUPPORT
 * (another protocol version), -EOPNOTSUPP (an unknown op), -EINVAL (a missing or bad field).
 * *@ret_id gets the request's id whenever one could be read, so that even a refusal names it.
 */
int proto_decode(const char *buf, size_t len, struct req *ret, json_int_t *ret_id, char *err,
		 size_t err_len);
void req_free(struct req *r);

/* The reply to request @id: {"v":1,"id":..,"ok":true} plus the members of @body (taken). */
json_t *reply_ok(json_int_t id, json_t *body);
/* {"v":1,"id":..,"ok":false,"error":"EACCES","errno":13,"message":@msg} */
json_t *reply_err(json_int_t id, int err, const char *msg);
/* "EACCES" for 13; "E?" for one this table lacks. */
const char *errno_name(int err);

#endif /* SHMQD_PROTO_H */
