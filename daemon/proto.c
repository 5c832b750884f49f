// SPDX-License-Identifier: MIT
/*
 * proto.c - decoding shmqd's requests and encoding its replies: every field checked for
 * type and bounds, nothing trusted, so that a fuzzed record gets an error and no more.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "registry.h"

static const char *const op_names[] = {
	[OP_HELLO] = "hello", [OP_PING] = "ping",	[OP_STATUS] = "status",
	[OP_OPEN] = "open",   [OP_CREATED] = "created", [OP_LOOKUP] = "lookup",
	[OP_LIST] = "list",   [OP_DELETE] = "delete",	[OP_DECLARE] = "declare",
	[OP_WATCH] = "watch", [OP_CLIENTS] = "clients",
};

static const struct {
	int err;
	const char *name;
} errnos[] = {
	{ EPERM, "EPERM" },	      { ENOENT, "ENOENT" },
	{ EACCES, "EACCES" },	      { EEXIST, "EEXIST" },
	{ EINVAL, "EINVAL" },	      { ENOMEM, "ENOMEM" },
	{ EMSGSIZE, "EMSGSIZE" },     { EBADMSG, "EBADMSG" },
	{ EPROTO, "EPROTO" },	      { EPROTONOSUPPORT, "EPROTONOSUPPORT" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { EBUSY, "EBUSY" },
	{ EPROTOTYPE, "EPROTOTYPE" }, { EBADE, "EBADE" },
	{ ENOSPC, "ENOSPC" },	      { ENAMETOOLONG, "ENAMETOOLONG" },
	{ EUSERS, "EUSERS" },	      { EIO, "EIO" },
};

const char *errno_name(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return "E?";
}

static const char *const kinds[] = {
	[SHMQ_KIND_CHANNEL] = "channel", [SHMQ_KIND_TOPIC] = "topic", [SHMQ_KIND_GROUP] = "group"
};

__attribute__((format(printf, 4, 5))) static int bad(char *err, size_t len, int e, const char *fmt,
						     ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return e;
}

/* An optional string member no longer than @max: NULL when absent; -EINVAL if not one. */
static int get_str(json_t *o, const char *key, size_t max, const char **ret, char *err, size_t len)
{
	json_t *v = json_object_get(o, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, len, -EINVAL,
			   "\"%s\" must be a non-empty string of at most %zu bytes", key, max);
	*ret = json_string_value(v);
	return 0;
}

static int get_kind(json_t *o, uint32_t *ret, char *err, size_t len)
{
	const char *k;
	uint32_t i;
	int r = get_str(o, "kind", 16, &k, err, len);

	if (r < 0)
		return r;
	if (!k)
		return bad(err, len, -EINVAL, "\"%s\" is missing: channel, topic or group", "kind");
	for (i = 1; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (kinds[i] && !strcmp(k, kinds[i])) {
			*ret = i;
			return 0;
		}
	}
	return bad(err, len, -EINVAL, "\"kind\" is \"%.32s\": channel, topic or group", k);
}

static int need_name(struct req *q, char *err, size_t len)
{
	int r = get_str(q->root, "name", 255, &q->name, err, len);

	if (r == 0 && !q->name)
		r = bad(err, len, -EINVAL, "\"%s\" is missing", "name");
	return r;
}

static int decode_op(struct req *q, char *err, size_t len)
{
	json_t *c;
	int r = 0;

	switch (q->op) {
	case OP_OPEN:
	case OP_DELETE:
		/* open's "create", delete's "force": booleans when given */
		c = json_object_get(q->root, q->op == OP_OPEN ? "create" : "force");
		if (c && !json_is_boolean(c))
			return bad(err, len, -EINVAL, "\"%s\" must be true or false",
				   q->op == OP_OPEN ? "create" : "force");
		q->create = json_is_true(c);
		r = get_kind(q->root, &q->kind, err, len);
		return r < 0 ? r : need_name(q, err, len);
	case OP_CREATED:
		r = get_kind(q->root, &q->kind, err, len);
		return r < 0 ? r : need_name(q, err, len);
	case OP_LOOKUP:
		return need_name(q, err, len);
	case OP_DECLARE:
		r = need_name(q, err, len);
		if (r == 0 &&
		    shmqi_topic_cfg_parse(json_object_get(q->root, "config"), &q->cfg) < 0)
			r = bad(err, len, -EINVAL, "\"%s\" must be a topic configuration object",
				"config");
		q->kind = SHMQ_KIND_TOPIC;
		return r;
	case OP_WATCH:
		r = get_str(q->root, "pattern", 255, &q->pattern, err, len);
		if (r == 0 && !q->pattern)
			r = bad(err, len, -EINVAL, "\"%s\" is missing", "pattern");
		return r;
	default:
		return 0;
	}
}

static int find_op(struct req *q, char *err, size_t len)
{
	const char *op;
	size_t i;
	int r = get_str(q->root, "op", 32, &op, err, len);

	if (r < 0)
		return r;
	if (!op)
		return bad(err, len, -EINVAL, "\"%s\" is missing", "op");
	for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
		if (!strcmp(op, op_names[i])) {
			q->op = (enum op)i;
			return 0;
		}
	}
	return bad(err, len, -EOPNOTSUPP, "unknown op \"%.32s\"", op);
}

int proto_decode(const char *buf, size_t len, struct req *ret, json_int_t *ret_id, char *err,
		 size_t err_len)
{
	struct req q = { .id = -1 };
	json_error_t je;
	json_t *v;
	int r;

	*ret_id = -1;
	q.root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!q.root || !json_is_object(q.root)) {
		r = bad(err, err_len, -EBADMSG, "not a JSON object: %s",
			q.root ? "another JSON value" : je.text);
		goto fail;
	}
	v = json_object_get(q.root, "id");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
		r = bad(err, err_len, -EINVAL, "\"%s\" must be a non-negative integer", "id");
		goto fail;
	}
	q.id = v ? json_integer_value(v) : -1;
	*ret_id = q.id;
	v = json_object_get(q.root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != SHMQI_PROTO_VERSION) {
		r = bad(err, err_len, -EPROTONOSUPPORT, "\"v\" must be %s (this daemon's protocol)",
			"1");
		goto fail;
	}
	r = find_op(&q, err, err_len);
	if (r == 0)
		r = decode_op(&q, err, err_len);
	if (r < 0)
		goto fail;
	*ret = q;
	return 0;
fail:
	json_decref(q.root);
	return r;
}

void req_free(struct req *q)
{
	json_decref(q->root);
	q->root = NULL;
}

static json_t *reply_head(json_int_t id, bool ok)
{
	json_t *o = json_pack("{s:i,s:b}", "v", SHMQI_PROTO_VERSION, "ok", ok);

	if (o && id >= 0)
		json_object_set_new(o, "id", json_integer(id));
	return o;
}

json_t *reply_ok(json_int_t id, json_t *body)
{
	json_t *o = reply_head(id, true);

	if (o && body)
		json_object_update(o, body);
	json_decref(body);
	return o;
}

json_t *reply_err(json_int_t id, int err, const char *msg)
{
	json_t *o = reply_head(id, false);

	if (err < 0)
		err = -err;
	if (o) {
		json_object_set_new(o, "error", json_string(errno_name(err)));
		json_object_set_new(o, "errno", json_integer(err));
		json_object_set_new(o, "message", json_string(msg ? msg : strerror(err)));
	}
	return o;
}
