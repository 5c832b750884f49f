// SPDX-License-Identifier: MIT
/*
 * fuzz_proto.c - libFuzzer target for shmqd's request decoder: one input is one record as
 * the daemon reads it, decoded by proto_decode() and answered as on_request() would answer
 * a refusal; every reply is encoded as send_json() does, then everything is freed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"
#include "registry.h"

/* Encode @rep as the daemon sends it and check what a client would read back. */
static void send_reply(json_t *rep, json_int_t id, int ok)
{
	json_error_t je;
	json_t *back, *v;
	char *text;

	FUZZ_CHECK(rep);
	text = json_dumps(rep, JSON_COMPACT);
	FUZZ_CHECK(text && strlen(text) <= SHMQI_PROTO_MAX);
	back = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	FUZZ_CHECK(json_is_object(back));
	FUZZ_CHECK(json_integer_value(json_object_get(back, "v")) == SHMQI_PROTO_VERSION);
	FUZZ_CHECK(json_is_boolean(json_object_get(back, "ok")));
	FUZZ_CHECK(json_is_true(json_object_get(back, "ok")) == ok);
	v = json_object_get(back, "id");
	FUZZ_CHECK(id < 0 ? !v : json_integer_value(v) == id);
	json_decref(back);
	free(text);
	json_decref(rep);
}

/* A refusal carries a known errno name and a message that is a terminated string. */
static void refuse(json_int_t id, int r, const char *err)
{
	FUZZ_CHECK(r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EOPNOTSUPP || r == -EINVAL);
	FUZZ_CHECK(memchr(err, '\0', ERR_MAX) && err[0]);
	FUZZ_CHECK(strcmp(errno_name(r), "E?"));
	send_reply(reply_err(id, r, err), id, 0);
}

/* What a decoded request promises the dispatcher: the members its op reads are there. */
static void check_req(const struct req *q)
{
	FUZZ_CHECK(json_is_object(q->root));
	FUZZ_CHECK(q->id >= -1);
	FUZZ_CHECK(q->op <= OP_CLIENTS);
	if (q->op == OP_OPEN || q->op == OP_CREATED || q->op == OP_DELETE)
		FUZZ_CHECK(q->kind == SHMQ_KIND_CHANNEL || q->kind == SHMQ_KIND_TOPIC ||
			   q->kind == SHMQ_KIND_GROUP);
	if (q->op == OP_OPEN || q->op == OP_CREATED || q->op == OP_DELETE || q->op == OP_LOOKUP ||
	    q->op == OP_DECLARE)
		FUZZ_CHECK(q->name && q->name[0] && strlen(q->name) <= 255);
	if (q->op == OP_WATCH)
		FUZZ_CHECK(q->pattern && q->pattern[0] && strlen(q->pattern) <= 255);
	if (q->op == OP_DECLARE)
		FUZZ_CHECK(q->cfg.mode <= 0777 && q->cfg.claim_timeout_ns <= (uint64_t)INT64_MAX &&
			   (q->cfg.policy == SHMQ_TOPIC_RELIABLE ||
			    q->cfg.policy == SHMQ_TOPIC_LOSSY));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ERR_MAX], msg[ERR_MAX + 128];
	json_int_t id = -2;
	struct req q;
	int r;

	/* The daemon answers a longer record with EMSGSIZE before it decodes anything. */
	if (size > SHMQI_PROTO_MAX)
		return 0;
	memset(err, 0x55, sizeof(err));
	r = proto_decode((const char *)data, size, &q, &id, err, sizeof(err));
	FUZZ_CHECK(id >= -1);
	if (r < 0) {
		refuse(id, r, err);
		return 0;
	}
	FUZZ_CHECK(r == 0 && id == q.id);
	check_req(&q);
	/* The refusals the handlers build from a request's own members, as server.c words them. */
	if (q.name) {
		snprintf(msg, sizeof(msg), "bad %s name '%.64s'",
			 q.kind == SHMQ_KIND_GROUP ? "group" : "object", q.name);
		send_reply(reply_err(q.id, -EINVAL, msg), q.id, 0);
		snprintf(msg, sizeof(msg), "'%s' belongs to uid %u: only it or root may delete it",
			 q.name, 0u);
		send_reply(reply_err(q.id, -EPERM, msg), q.id, 0);
	}
	send_reply(reply_err(q.id, -ENOENT, NULL), q.id, 0);
	send_reply(reply_ok(q.id, json_pack("{s:b}", "exists", q.create)), q.id, 1);
	req_free(&q);
	FUZZ_CHECK(!q.root);
	return 0;
}
