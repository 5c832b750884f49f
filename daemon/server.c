// SPDX-License-Identifier: MIT
/*
 * server.c - shmqd's socket: connections, each judged by its peer's credentials
 * (SO_PEERCRED, and SO_PEERPIDFD for a pidfd without the pid-reuse race), and the requests
 * of docs/protocol.md, one per record, each answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"
#include "shmqd.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static char rbuf[SHMQI_PROTO_MAX + 1];

/* ---- declared configurations ---- */

struct decl *decl_find(struct daemon *d, const char *name)
{
	struct decl *c;

	for (c = d->decls; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int decl_set(struct daemon *d, const char *name, const struct shmq_topic_config *cfg)
{
	struct decl *c = decl_find(d, name);

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c || !(c->name = strdup(name))) {
			free(c);
			return -ENOMEM;
		}
		c->next = d->decls;
		d->decls = c;
	}
	c->cfg = *cfg;
	d->state_dirty = true;
	return 0;
}

/* ---- permissions ---- */

static bool in_group(const struct client *c, gid_t g)
{
	int i;

	if (c->gid == g)
		return true;
	for (i = 0; i < c->ngroups; i++)
		if (c->groups[i] == g)
			return true;
	return false;
}

/* May @c open a file of @st with the access bits @want (4 read, 2 write)? */
static bool may(const struct client *c, const struct stat *st, unsigned want)
{
	unsigned bits;

	if (c->uid == 0)
		return true;
	if (c->uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (in_group(c, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & want) == want;
}

/* The peer's supplementary groups, from /proc/PID/status ("Groups:"). */
static void read_groups(struct client *c)
{
	char path[64], line[1024], *p, *end;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)c->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7; c->ngroups < MAX_GROUPS; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			c->groups[c->ngroups++] = (gid_t)g;
		}
		break;
	}
	fclose(f);
}

static int seg_stat(struct daemon *d, const char *name, struct stat *st)
{
	char path[512];

	shmqi_seg_file(d->bus, name, path, sizeof(path));
	return lstat(path, st) < 0 ? -errno : 0;
}

/* A group's name "TOPIC@GROUP", and a channel's or topic's, checked as the library does. */
static int check_name(uint32_t kind, const char *name, char *msg, size_t len)
{
	char topic[SHMQ_NAME_MAX + 1];
	const char *group = group_split(name, topic);

	if (kind == SHMQ_KIND_GROUP ? group && shmqi_valid_name(group) && shmqi_valid_name(topic)
				    : !group && shmqi_valid_name(name))
		return 0;
	snprintf(msg, len, "bad %s name '%.64s'", kind == SHMQ_KIND_GROUP ? "group" : "object",
		 name);
	return -EINVAL;
}

/* ---- requests ---- */

static json_t *obj_json(const struct shmq_object_info *o, const struct stat *st)
{
	json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I}", "name", o->name, "kind",
			      o->kind == SHMQ_KIND_GROUP ? "group" : shmq_kind_name(o->kind),
			      "size", (json_int_t)o->size, "creator_pid",
			      (json_int_t)o->creator_pid, "created_ns", (json_int_t)o->created_ns);

	if (j && st) {
		json_object_set_new(j, "uid", json_integer(st->st_uid));
		json_object_set_new(j, "gid", json_integer(st->st_gid));
		json_object_set_new(j, "mode", json_integer(st->st_mode & 07777));
	}
	if (j && o->error)
		json_object_set_new(j, "note", json_string(o->note));
	return j;
}

/* A topic's configuration as its segment holds it (what a stat reads), added to @j. */
static void add_topic_config(struct daemon *d, const struct shmq_object_info *o, json_t *j)
{
	struct shmq_topic_stats ts;

	if (!j || o->kind != SHMQ_KIND_TOPIC || o->error ||
	    shmq_topic_stat(d->bus, o->name, &ts, NULL, 0) < 0)
		return;
	json_object_set_new(j, "config",
			    json_pack("{s:I,s:I,s:s,s:I}", "slots", (json_int_t)ts.slots, "max_msg",
				      (json_int_t)ts.max_msg, "policy",
				      ts.policy == SHMQ_TOPIC_LOSSY ? "lossy" : "reliable",
				      "claim_timeout_ns", (json_int_t)ts.claim_timeout_ns));
}

static json_t *do_open(struct daemon *d, struct client *c, struct req *q)
{
	char msg[ERR_MAX + 128];
	struct decl *dc = q->kind == SHMQ_KIND_TOPIC ? decl_find(d, q->name) : NULL;
	struct stat st;
	json_t *body;
	int r;

	r = check_name(q->kind, q->name, msg, sizeof(msg));
	if (r < 0)
		return reply_err(q->id, r, msg);
	r = seg_stat(d, q->name, &st);
	if (r < 0 && r != -ENOENT)
		return reply_err(q->id, r, NULL);
	if (r == 0 && !may(c, &st, 6)) {
		snprintf(msg, sizeof(msg),
			 "%s '%s' is mode %04o, uid %u, gid %u: uid %u gid %u may not open it "
			 "read-write",
			 q->kind == SHMQ_KIND_GROUP ? "group" : shmq_kind_name(q->kind), q->name,
			 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
			 (unsigned)c->uid, (unsigned)c->gid);
		return reply_err(q->id, -EACCES, msg);
	}
	/* The proc was watched at accept (or the client is not a process we can watch). */
	procs_opened(d, c->pid, q->kind, q->name);
	body = json_pack("{s:b}", "exists", r == 0);
	if (body && dc)
		json_object_set_new(body, "config", shmqi_topic_cfg_json(&dc->cfg));
	return reply_ok(q->id, body);
}

static json_t *do_lookup(struct daemon *d, struct req *q)
{
	struct shmq_object_info *objs;
	struct stat st;
	json_t *body = NULL, *one;
	size_t n, i;

	objs = objects_list(d, &n);
	for (i = 0; i < n; i++) {
		if (q->op == OP_LOOKUP && strcmp(objs[i].name, q->name))
			continue;
		if (!body)
			body = json_array();
		one = obj_json(&objs[i], seg_stat(d, objs[i].name, &st) == 0 ? &st : NULL);
		add_topic_config(d, &objs[i], one);
		json_array_append_new(body, one);
	}
	free(objs);
	if (q->op == OP_LIST)
		return reply_ok(q->id, json_pack("{s:o}", "objects", body ? body : json_array()));
	if (!body)
		return reply_err(q->id, -ENOENT, "no such object");
	one = json_pack("{s:O}", "object", json_array_get(body, 0));
	json_decref(body);
	return reply_ok(q->id, one);
}

/* The object @q names, its name checked: NULL with *@st filled, or the error reply. */
static json_t *find_named(struct daemon *d, const struct req *q, struct stat *st,
			  const char *missing)
{
	char msg[ERR_MAX + 128];
	int r = check_name(q->kind, q->name, msg, sizeof(msg));

	if (r < 0)
		return reply_err(q->id, r, msg);
	r = seg_stat(d, q->name, st);
	return r < 0 ? reply_err(q->id, r, missing) : NULL;
}

/* Only the owner or root removes an object; the library does the removing. */
static json_t *do_delete(struct daemon *d, struct client *c, struct req *q)
{
	char msg[ERR_MAX + 128], topic[SHMQ_NAME_MAX + 1];
	const char *group = group_split(q->name, topic);
	json_t *err;
	struct stat st;
	int r;

	if ((err = find_named(d, q, &st, NULL)))
		return err;
	if (c->uid != 0 && c->uid != st.st_uid) {
		snprintf(msg, sizeof(msg), "'%s' belongs to uid %u: only it or root may delete it",
			 q->name, (unsigned)st.st_uid);
		return reply_err(q->id, -EPERM, msg);
	}
	if (q->kind == SHMQ_KIND_GROUP) { /* find_named() checked it has a group part */
		r = shmq_group_delete(d->bus, topic, group, q->create ? SHMQ_GROUP_FORCE : 0);
	} else {
		r = shmq_unlink(d->bus, q->name);
	}
	if (r < 0)
		return reply_err(q->id, r, shmq_last_detail()[0] ? shmq_last_detail() : NULL);
	logmsg("uid %u deleted '%s'", (unsigned)c->uid, q->name);
	return reply_ok(q->id, NULL);
}

/* Told by its creator: watchers hear of it before /dev/shm's event comes (events may repeat). */
static json_t *do_created(struct daemon *d, struct req *q)
{
	struct stat st;
	json_t *err = find_named(d, q, &st, "no such segment: nothing was created");

	if (err)
		return err;
	if (q->kind == SHMQ_KIND_TOPIC)
		server_notify(d, q->name, true);
	return reply_ok(q->id, NULL);
}

static json_t *do_declare(struct daemon *d, struct client *c, struct req *q)
{
	char msg[ERR_MAX];

	if (check_name(SHMQ_KIND_TOPIC, q->name, msg, sizeof(msg)) < 0)
		return reply_err(q->id, -EINVAL, msg);
	if (c->uid != 0 && c->uid != geteuid())
		return reply_err(q->id, -EPERM, "only root or shmqd's own user may declare topics");
	return decl_set(d, q->name, &q->cfg) < 0 ? reply_err(q->id, -ENOMEM, NULL)
						 : reply_ok(q->id, NULL);
}

static json_t *do_watch(struct daemon *d, struct client *c, struct req *q)
{
	struct shmq_object_info *objs;
	json_t *names;
	size_t n, i;

	if (shmq_pattern_check(q->pattern) < 0)
		return reply_err(q->id, -EINVAL, shmq_last_detail());
	if (c->npatterns == MAX_WATCHES)
		return reply_err(q->id, -ENOSPC, "16 patterns per connection at most");
	c->patterns[c->npatterns] = strdup(q->pattern);
	if (!c->patterns[c->npatterns])
		return reply_err(q->id, -ENOMEM, NULL);
	c->npatterns++;
	names = json_array();
	objs = objects_list(d, &n);
	for (i = 0; i < n; i++)
		if (objs[i].kind == SHMQ_KIND_TOPIC &&
		    shmq_pattern_match(q->pattern, objs[i].name) == 1)
			json_array_append_new(names, json_string(objs[i].name));
	free(objs);
	return reply_ok(q->id, json_pack("{s:o}", "topics", names));
}

static json_t *do_status(struct daemon *d, struct req *q)
{
	json_t *body = json_pack(
		"{s:s,s:s,s:i,s:s,s:i,s:i,s:I,s:I,s:I,s:I,s:I}", "ns", d->ns, "version",
		shmq_version(), "pid", (int)getpid(), "loop", loop_backend(&d->loop), "clients",
		d->nclients, "procs", d->nprocs, "requests", (json_int_t)d->requests, "refused",
		(json_int_t)d->refused, "deaths", (json_int_t)d->deaths, "freed",
		(json_int_t)d->freed, "uptime_ns", (json_int_t)(shmq_now_ns() - d->started_ns));

	/* epoll where io_uring was wanted: why (an errno name) */
	if (body && d->loop.uring_err)
		json_object_set_new(body, "uring_error",
				    json_string(errno_name(-d->loop.uring_err)));
	return reply_ok(q->id, body);
}

static json_t *do_clients(struct daemon *d, struct req *q)
{
	json_t *procs = json_array(), *conns = json_array();
	struct client *c;
	struct proc *p;

	for (p = d->procs; p; p = p->next)
		json_array_append_new(procs, json_pack("{s:i,s:I}", "pid", (int)p->pid, "start",
						       (json_int_t)p->start));
	for (c = d->clients; c; c = c->next)
		json_array_append_new(conns, json_pack("{s:i,s:i,s:i,s:i}", "pid", (int)c->pid,
						       "uid", (int)c->uid, "gid", (int)c->gid,
						       "watches", c->npatterns));
	return reply_ok(q->id, json_pack("{s:o,s:o}", "procs", procs, "connections", conns));
}

static json_t *dispatch(struct daemon *d, struct client *c, struct req *q)
{
	switch (q->op) {
	case OP_HELLO:
		return reply_ok(q->id, json_pack("{s:s,s:s,s:i,s:s,s:i,s:i}", "ns", d->ns,
						 "version", shmq_version(), "daemon_pid",
						 (int)getpid(), "loop", loop_backend(&d->loop),
						 "uid", (int)c->uid, "gid", (int)c->gid));
	case OP_PING:
		return reply_ok(q->id, NULL);
	case OP_STATUS:
		return do_status(d, q);
	case OP_OPEN:
		return do_open(d, c, q);
	case OP_CREATED:
		return do_created(d, q);
	case OP_LOOKUP:
	case OP_LIST:
		return do_lookup(d, q);
	case OP_DELETE:
		return do_delete(d, c, q);
	case OP_DECLARE:
		return do_declare(d, c, q);
	case OP_WATCH:
		return do_watch(d, c, q);
	case OP_CLIENTS:
		return do_clients(d, q);
	}
	return reply_err(q->id, -EOPNOTSUPP, NULL);
}

/* ---- connections ---- */

static void free_client(struct watch *w)
{
	struct client *c = (struct client *)w;
	int i;

	close(c->w.fd);
	for (i = 0; i < c->npatterns; i++)
		free(c->patterns[i]);
	free(c);
}

static void drop_client(struct daemon *d, struct client *c)
{
	struct client **pp;

	for (pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			d->nclients--;
			break;
		}
	}
	loop_del(&d->loop, &c->w);
}

/* Send one record; a client that lets its socket fill up is dropped, not waited for. */
static int send_json(struct client *c, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	ssize_t n = -1;

	if (text)
		n = send(c->w.fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL);
	free(text);
	json_decref(j);
	return n < 0 ? -1 : 0;
}

static void on_request(struct loop *l, struct watch *w, uint32_t events)
{
	struct client *c = (struct client *)w;
	struct daemon *d = c->d;
	char err[ERR_MAX];
	struct req q;
	json_int_t id;
	json_t *rep;
	ssize_t n;
	int r;

	(void)l;
	(void)events;
	n = recv(c->w.fd, rbuf, sizeof(rbuf), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(d, c);
		return;
	}
	d->requests++;
	if ((size_t)n > SHMQI_PROTO_MAX) {
		r = -EMSGSIZE;
		id = -1;
		snprintf(err, sizeof(err), "a request of %zd bytes: at most %d", n,
			 SHMQI_PROTO_MAX);
	} else {
		r = proto_decode(rbuf, (size_t)n, &q, &id, err, sizeof(err));
	}
	if (r < 0) {
		d->refused++;
		rep = reply_err(id, r, err);
	} else {
		rep = dispatch(d, c, &q);
		if (json_is_false(json_object_get(rep, "ok")))
			d->refused++;
		req_free(&q);
	}
	if (send_json(c, rep) < 0)
		drop_client(d, c);
}

static void on_accept(struct loop *l, struct watch *w, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)w - offsetof(struct daemon, listen_w));
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct client *c;
	int fd, pidfd = -1;

	(void)events;
	fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (d->nclients >= MAX_CLIENTS || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	*c = (struct client){ .w = { .fd = fd, .fn = on_request, .free = free_client },
			      .d = d,
			      .pid = cr.pid,
			      .uid = cr.uid,
			      .gid = cr.gid };
	read_groups(c);
	if (loop_add(l, &c->w) < 0) {
		free_client(&c->w);
		return;
	}
	c->next = d->clients;
	d->clients = c;
	d->nclients++;
	/* The peer's pidfd, race-free (kernel 6.5+); else one opened by pid. */
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = -1;
	procs_watch(d, cr.pid, pidfd);
}

void server_notify(struct daemon *d, const char *name, bool created)
{
	struct client *c, *next;
	int i;

	for (c = d->clients; c; c = next) {
		next = c->next;
		for (i = 0; i < c->npatterns; i++) {
			if (shmq_pattern_match(c->patterns[i], name) != 1)
				continue;
			if (send_json(c, json_pack("{s:i,s:s,s:s,s:s}", "v", SHMQI_PROTO_VERSION,
						   "event", created ? "created" : "removed", "kind",
						   "topic", "name", name)) < 0)
				drop_client(d, c);
			break;
		}
	}
}

int server_listen(struct daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, d->sock_path, strlen(d->sock_path) + 1);
	/* The lock is ours: a socket file left here is a dead daemon's. */
	unlink(d->sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(d->sock_path, 0666) < 0 ||
	    listen(fd, 128) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	d->listen_w = (struct watch){ .fd = fd, .fn = on_accept };
	return loop_add(&d->loop, &d->listen_w);
}

void server_close(struct daemon *d)
{
	while (d->clients)
		drop_client(d, d->clients);
	if (d->listen_w.fd > 0) {
		loop_del(&d->loop, &d->listen_w);
		close(d->listen_w.fd);
		unlink(d->sock_path);
	}
}
