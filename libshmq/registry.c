// SPDX-License-Identifier: MIT
/*
 * registry.c - the client side of shmqd: one connection per process, requests and replies
 * in the protocol of docs/protocol.md, and the open calls' questions to the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"
#include "shm_layout.h"

/* Back-off after a failed connect in auto mode: 10 ms, doubling to 1 s. */
#define BACKOFF_MIN_NS 10000000ull
#define BACKOFF_MAX_NS 1000000000ull

/*
 * The process's connection. One at a time (to the last namespace's socket asked); a child
 * after fork() never uses its parent's: the daemon judges a connection by its peer's pidfd,
 * which is the parent's.
 */
static struct {
	pthread_mutex_t mu;
	int fd;
	pid_t pid; /* who connected fd */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t retry_ns; /* no connect tried before this (auto mode) */
	uint64_t backoff_ns;
	uint64_t next_id;
} conn = { .mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

int shmqi_daemon_mode(enum shmqi_daemon_mode *ret_mode)
{
	const char *v = getenv(SHMQ_DAEMON_ENV);

	if (!v || !v[0] || !strcmp(v, "auto"))
		*ret_mode = SHMQI_DAEMON_AUTO;
	else if (!strcmp(v, "required"))
		*ret_mode = SHMQI_DAEMON_REQUIRED;
	else if (!strcmp(v, "off"))
		*ret_mode = SHMQI_DAEMON_OFF;
	else {
		shmqi_detail("$" SHMQ_DAEMON_ENV " is \"%.32s\": auto, required or off", v);
		return -EINVAL;
	}
	return 0;
}

int shmq_daemon_socket(const char *ns, char *buf, size_t len)
{
	char sys[sizeof(conn.path) + SHMQ_NAMESPACE_MAX];
	const char *env = getenv(SHMQ_SOCKET_ENV), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!buf)
		return -EINVAL;
	if (!ns) {
		ns = getenv(SHMQ_NAMESPACE_ENV);
		if (!ns || !ns[0])
			ns = "default";
	}
	if (!shmqi_valid_namespace(ns, "namespace"))
		return -EINVAL;
	snprintf(sys, sizeof(sys), "/run/shmq/%s.sock", ns);
	if (env && env[0])
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0 || access(sys, F_OK) == 0) /* root's, or a system daemon's */
		n = snprintf(buf, len, "%s", sys);
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/shmq/%s.sock", xdg, ns);
	else
		n = snprintf(buf, len, "/tmp/shmq-%u/%s.sock", (unsigned)geteuid(), ns);
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(conn.path))
		return -ENAMETOOLONG;
	return n;
}

const char *shmqi_kind_proto(uint32_t kind)
{
	switch (kind) {
	case SHMQI_KIND_CHANNEL:
		return "channel";
	case SHMQI_KIND_TOPIC:
		return "topic";
	case SHMQI_KIND_GROUP:
		return "group";
	}
	return NULL;
}

json_t *shmqi_topic_cfg_json(const struct shmq_topic_config *c)
{
	return json_pack("{s:I,s:I,s:s,s:I,s:I,s:I,s:I}", "slots", (json_int_t)c->slots, "max_msg",
			 (json_int_t)c->max_msg, "policy",
			 c->policy == SHMQ_TOPIC_LOSSY ? "lossy" : "reliable", "mode",
			 (json_int_t)c->mode, "max_subscribers", (json_int_t)c->max_subscribers,
			 "max_producers", (json_int_t)c->max_producers, "claim_timeout_ns",
			 (json_int_t)c->claim_timeout_ns);
}

/* An optional unsigned member of @j no larger than @max: 0 when absent. */
static int get_u(const json_t *j, const char *key, uint64_t max, uint64_t *ret)
{
	const json_t *v = json_object_get(j, key);

	*ret = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -EINVAL;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

int shmqi_topic_cfg_parse(const json_t *j, struct shmq_topic_config *c)
{
	const json_t *pol = json_object_get(j, "policy");
	uint64_t v[7];
	int r = 0;

	if (!json_is_object(j))
		return -EINVAL;
	r |= get_u(j, "slots", UINT32_MAX, &v[0]);
	r |= get_u(j, "max_msg", UINT32_MAX, &v[1]);
	r |= get_u(j, "mode", 0777, &v[2]);
	r |= get_u(j, "max_subscribers", UINT32_MAX, &v[3]);
	r |= get_u(j, "max_producers", UINT32_MAX, &v[4]);
	r |= get_u(j, "claim_timeout_ns", INT64_MAX, &v[5]);
	if (r)
		return -EINVAL;
	v[6] = SHMQ_TOPIC_RELIABLE;
	if (pol && json_is_string(pol) && !strcmp(json_string_value(pol), "lossy"))
		v[6] = SHMQ_TOPIC_LOSSY;
	else if (pol && (!json_is_string(pol) || strcmp(json_string_value(pol), "reliable")))
		return -EINVAL;
	*c = (struct shmq_topic_config){ .slots = (uint32_t)v[0],
					 .max_msg = (uint32_t)v[1],
					 .policy = (uint32_t)v[6],
					 .mode = (uint32_t)v[2],
					 .max_subscribers = (uint32_t)v[3],
					 .max_producers = (uint32_t)v[4],
					 .claim_timeout_ns = v[5] };
	return 0;
}

/* ---- the connection (conn.mu held) ---- */

static void drop_conn(void)
{
	/* A child's copy of its parent's descriptor is closed too: it is of no use here. */
	if (conn.fd >= 0)
		close(conn.fd);
	conn.fd = -1;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* A connection to @path for this process: 0, or -ENOTCONN (none now, and not retried yet). */
static int ensure_conn(const char *path)
{
	uint64_t now = shmqi_now_ns();
	int fd;

	if (conn.fd >= 0 && (conn.pid != getpid() || strcmp(conn.path, path))) {
		drop_conn();
		conn.retry_ns = 0;
	}
	if (conn.fd >= 0)
		return 0;
	if (strcmp(conn.path, path)) {
		conn.retry_ns = 0;
		conn.backoff_ns = 0;
	}
	snprintf(conn.path, sizeof(conn.path), "%s", path);
	if (conn.retry_ns && now < conn.retry_ns && conn.pid == getpid())
		return -ENOTCONN;
	fd = dial(path);
	conn.pid = getpid();
	if (fd < 0) {
		conn.backoff_ns = conn.backoff_ns ? conn.backoff_ns * 2 : BACKOFF_MIN_NS;
		if (conn.backoff_ns > BACKOFF_MAX_NS)
			conn.backoff_ns = BACKOFF_MAX_NS;
		conn.retry_ns = now + conn.backoff_ns;
		return -ENOTCONN;
	}
	conn.fd = fd;
	conn.backoff_ns = 0;
	conn.retry_ns = 0;
	return 0;
}

/*
 * Wait up to the reply timeout for a record: its length, or -ETIMEDOUT (no answer: as good as
 * no daemon), -ECONNRESET (the daemon closed the connection: it died or restarted), -EMSGSIZE.
 */
static ssize_t read_record(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, SHMQI_REPLY_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -ETIMEDOUT;
	n = recv(fd, buf, len, MSG_TRUNC);
	if (n <= 0)
		return -ECONNRESET;
	if ((size_t)n >= len)
		return -EMSGSIZE;
	buf[n] = '\0';
	return n;
}

/* One request on @fd and its reply: the reply's length, or -errno as read_record(). */
static ssize_t try_once(int fd, const char *text, size_t tlen, uint64_t id, char *buf, size_t len)
{
	json_t *rep, *rid;
	ssize_t n;

	if (send(fd, text, tlen, MSG_NOSIGNAL) != (ssize_t)tlen)
		return -ECONNRESET;
	for (;;) {
		n = read_record(fd, buf, len);
		if (n < 0)
			return n;
		rep = json_loadb(buf, (size_t)n, 0, NULL);
		rid = json_object_get(rep, "id");
		if (rep && json_is_integer(rid) && (uint64_t)json_integer_value(rid) == id) {
			json_decref(rep);
			return n;
		}
		json_decref(rep); /* an event, or a stale reply: not ours */
	}
}

/*
 * One request and its reply (conn.mu held): the reply text in @buf. A connection made by an
 * earlier call may lead to a daemon that has since died or restarted: when it turns out
 * closed, the request goes once more on a new connection.
 */
static ssize_t exchange(const char *path, const char *text, uint64_t id, char *buf, size_t len)
{
	size_t tlen = strlen(text);
	ssize_t n = -ENOTCONN;
	bool reused;
	int i;

	if (tlen > SHMQI_PROTO_MAX)
		return -EMSGSIZE;
	for (i = 0; i < 2; i++) {
		reused = conn.fd >= 0 && conn.pid == getpid() && !strcmp(conn.path, path);
		if (ensure_conn(path) < 0)
			return -ENOTCONN;
		n = try_once(conn.fd, text, tlen, id, buf, len);
		if (n >= 0)
			return n;
		drop_conn();
		if (n != -ECONNRESET || !reused)
			break;
	}
	return n == -EMSGSIZE ? n : -ENOTCONN;
}

static int daemon_path(const shmq_bus *bus, char *path, size_t len)
{
	int r = shmq_daemon_socket(bus->ns, path, len);

	return r < 0 ? r : 0;
}

/* No daemon answers, and $SHMQ_DAEMON says one is required: -ECONNREFUSED, saying where. */
static int refused(const shmq_bus *bus)
{
	char path[sizeof(conn.path)];

	daemon_path(bus, path, sizeof(path));
	shmqi_detail("$" SHMQ_DAEMON_ENV "=required and no shmqd answers on %s", path);
	return -ECONNREFUSED;
}

/* Send @req with "v" and "id" set; the reply, parsed, in *@ret. Takes @req's reference. */
static int call(const shmq_bus *bus, json_t *req, json_t **ret)
{
	char path[sizeof(conn.path)], *text = NULL, *buf;
	uint64_t id;
	ssize_t n;
	int r;

	*ret = NULL;
	r = daemon_path(bus, path, sizeof(path));
	buf = malloc(SHMQI_PROTO_MAX + 1);
	if (r < 0 || !buf || !req) {
		free(buf);
		json_decref(req);
		return r < 0 ? r : -ENOMEM;
	}
	pthread_mutex_lock(&conn.mu);
	id = ++conn.next_id;
	if (json_object_set_new(req, "v", json_integer(SHMQI_PROTO_VERSION)) == 0 &&
	    json_object_set_new(req, "id", json_integer((json_int_t)id)) == 0)
		text = json_dumps(req, JSON_COMPACT);
	n = text ? exchange(path, text, id, buf, SHMQI_PROTO_MAX + 1) : -ENOMEM;
	pthread_mutex_unlock(&conn.mu);
	free(text);
	json_decref(req);
	if (n >= 0) {
		*ret = json_loadb(buf, (size_t)n, 0, NULL);
		if (!*ret)
			n = -EPROTO;
	}
	free(buf);
	return n < 0 ? (int)n : 0;
}

int shmqi_reg_call(const shmq_bus *bus, json_t *req, json_t **ret_reply)
{
	const char *msg;
	json_t *rep;
	int r = call(bus, req, &rep), e;

	*ret_reply = NULL;
	if (r < 0)
		return r;
	if (json_is_true(json_object_get(rep, "ok"))) {
		*ret_reply = rep;
		return 0;
	}
	e = (int)json_integer_value(json_object_get(rep, "errno"));
	if (e <= 0 || e > 4095)
		e = EPROTO;
	msg = json_string_value(json_object_get(rep, "message"));
	shmqi_detail("shmqd: %s", msg ? msg : "refused with no message");
	json_decref(rep);
	return -e;
}

int shmqi_reg_open(const shmq_bus *bus, uint32_t kind, const char *name, unsigned flags,
		   struct shmq_topic_config *ret_cfg, bool *ret_has_cfg)
{
	enum shmqi_daemon_mode mode;
	json_t *rep;
	int r;

	*ret_has_cfg = false;
	r = shmqi_daemon_mode(&mode);
	if (r < 0 || mode == SHMQI_DAEMON_OFF)
		return r;
	r = shmqi_reg_call(bus,
			   json_pack("{s:s,s:s,s:s,s:b}", "op", "open", "kind",
				     shmqi_kind_proto(kind), "name", name, "create",
				     (flags & SHMQ_OPEN_CREATE) != 0),
			   &rep);
	if (r == -ENOTCONN)
		return mode == SHMQI_DAEMON_AUTO ? 0 : refused(bus);
	if (r < 0)
		return r;
	if (kind == SHMQI_KIND_TOPIC && json_object_get(rep, "config") &&
	    shmqi_topic_cfg_parse(json_object_get(rep, "config"), ret_cfg) == 0)
		*ret_has_cfg = true;
	json_decref(rep);
	return 0;
}

void shmqi_reg_created(const shmq_bus *bus, uint32_t kind, const char *name)
{
	enum shmqi_daemon_mode mode;
	json_t *rep;

	if (shmqi_daemon_mode(&mode) < 0 || mode == SHMQI_DAEMON_OFF)
		return;
	if (shmqi_reg_call(bus,
			   json_pack("{s:s,s:s,s:s}", "op", "created", "kind",
				     shmqi_kind_proto(kind), "name", name),
			   &rep) == 0)
		json_decref(rep);
}

int shmqi_reg_watch(const shmq_bus *bus, const char *pattern)
{
	char path[sizeof(conn.path)], *buf, *text = NULL;
	enum shmqi_daemon_mode mode;
	json_t *req, *rep = NULL;
	ssize_t n = -ENOMEM;
	int r, fd;

	r = shmqi_daemon_mode(&mode);
	if (r < 0 || mode == SHMQI_DAEMON_OFF)
		return r < 0 ? r : -ENOTCONN;
	r = daemon_path(bus, path, sizeof(path));
	if (r < 0)
		return r;
	buf = malloc(SHMQI_PROTO_MAX + 1); /* the reply lists the matching topics */
	fd = buf ? dial(path) : -ENOMEM;
	if (fd >= 0) {
		req = json_pack("{s:i,s:s,s:i,s:s}", "v", SHMQI_PROTO_VERSION, "op", "watch", "id",
				1, "pattern", pattern);
		text = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
		n = text ? try_once(fd, text, strlen(text), 1, buf, SHMQI_PROTO_MAX + 1) : -ENOMEM;
		free(text);
		rep = n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
		r = json_is_true(json_object_get(rep, "ok")) ? 0 : -ENOTCONN;
		json_decref(rep);
		if (r == 0 && fcntl(fd, F_SETFL, O_NONBLOCK) == 0) {
			free(buf);
			return fd;
		}
		close(fd);
	}
	free(buf);
	if (fd == -ENOMEM)
		return -ENOMEM;
	return mode == SHMQI_DAEMON_AUTO ? -ENOTCONN : refused(bus);
}

int shmqi_reg_event(int fd, char *name, size_t len)
{
	char buf[1024];
	const char *ev, *nm;
	json_t *j;
	ssize_t n;
	int r;

	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -ECONNRESET;
		if (n == 0)
			return -ECONNRESET;
		j = json_loadb(buf, (size_t)n, 0, NULL);
		ev = json_string_value(json_object_get(j, "event"));
		nm = json_string_value(json_object_get(j, "name"));
		r = ev && nm && !strcmp(ev, "created") && strlen(nm) < len;
		if (r)
			strcpy(name, nm);
		json_decref(j);
		if (r)
			return 0;
	}
}

/* ---- public ---- */

int shmq_daemon_ping(shmq_bus *bus)
{
	enum shmqi_daemon_mode mode;
	json_t *rep;
	int r;

	if (!bus)
		return -EINVAL;
	r = shmqi_daemon_mode(&mode);
	if (r < 0)
		return r;
	if (mode == SHMQI_DAEMON_OFF)
		return 0;
	r = shmqi_reg_call(bus, json_pack("{s:s}", "op", "ping"), &rep);
	json_decref(rep);
	return r == 0 ? 1 : r == -ENOTCONN ? 0 : r;
}

int shmq_daemon_request(shmq_bus *bus, const char *request, char *reply, size_t reply_len)
{
	json_t *req, *rep;
	char *text;
	size_t n;
	int r;

	if (!bus || !request || !reply)
		return -EINVAL;
	if (strlen(request) > SHMQI_PROTO_MAX)
		return -EMSGSIZE;
	req = json_loads(request, 0, NULL);
	if (!json_is_object(req)) {
		json_decref(req);
		return -EINVAL;
	}
	r = call(bus, req, &rep);
	if (r < 0)
		return r;
	text = json_dumps(rep, JSON_COMPACT);
	json_decref(rep);
	if (!text)
		return -ENOMEM;
	n = strlen(text);
	if (n >= reply_len) {
		free(text);
		return -EMSGSIZE;
	}
	memcpy(reply, text, n + 1);
	free(text);
	return (int)n;
}
