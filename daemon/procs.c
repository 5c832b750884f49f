// SPDX-License-Identifier: MIT
/*
 * procs.c - liveness at once: a pidfd for every process shmqd knows of, and when one says
 * its process exited, what that process left in the namespace's objects is freed (table
 * entries, group leases and memberships) and the peers parked on it are woken. Also the
 * state file that lets a restarted daemon watch the same processes again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"
#include "shmqd.h"
#include "topic_internal.h"

#define START_MASK ((1ull << 48) - 1)

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static struct proc *find(struct daemon *d, pid_t pid)
{
	struct proc *p;

	for (p = d->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void free_proc(struct watch *w)
{
	struct proc *p = (struct proc *)w;
	int i;

	close(p->w.fd);
	for (i = 0; i < p->nobjects; i++)
		free(p->objects[i]);
	free(p);
}

void procs_opened(struct daemon *d, pid_t pid, uint32_t kind, const char *name)
{
	struct proc *p = find(d, pid);
	int i;

	if (!p || p->unknown)
		return;
	for (i = 0; i < p->nobjects; i++)
		if (p->kinds[i] == kind && !strcmp(p->objects[i], name))
			return;
	if (p->nobjects == PROC_OBJECTS || !(p->objects[p->nobjects] = strdup(name))) {
		p->unknown = true;
		return;
	}
	p->kinds[p->nobjects++] = kind;
}

static void unlink_proc(struct daemon *d, struct proc *p)
{
	struct proc **pp;

	for (pp = &d->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			d->nprocs--;
			return;
		}
	}
}

static struct daemon *daemon_of; /* the loop's callbacks get the watch only */

static uint32_t reap_objects_of(struct daemon *d, const struct proc *p);

static void on_exit_of(struct loop *l, struct watch *w, uint32_t events)
{
	struct proc *p = (struct proc *)w;
	struct daemon *d = daemon_of;
	uint64_t t0 = shmq_now_ns();
	uint32_t n;

	(void)events;
	unlink_proc(d, p);
	loop_del(l, w);
	d->deaths++;
	n = p->unknown ? procs_sweep(d, false) : reap_objects_of(d, p);
	d->state_dirty = true;
	if (d->verbose || n)
		logmsg("pid %d exited: %u entries freed in %llu us", (int)p->pid, n,
		       (unsigned long long)((shmq_now_ns() - t0) / 1000));
}

static uint32_t reap_one(struct daemon *d, const struct shmq_object_info *o);

/* What @p opened, first: the latency a failover sees; the rest of the namespace at the sweep. */
static uint32_t reap_objects_of(struct daemon *d, const struct proc *p)
{
	struct shmq_object_info o;
	uint32_t n = 0;
	int i;

	for (i = 0; i < p->nobjects; i++) {
		/* Its header read first, never waited for: one it died making is not published,
		 * and an attach would wait for it with the loop stopped. */
		if (shmqi_object_look(d->bus, p->objects[i], &o) == 0 && o.kind == p->kinds[i])
			n += reap_one(d, &o);
	}
	d->freed += n;
	return n;
}

static int watch_start(struct daemon *d, pid_t pid, uint64_t start, int pidfd)
{
	struct proc *p;
	uint64_t now;
	int r;

	if (pid <= 0 || pid == getpid() || find(d, pid)) {
		if (pidfd >= 0)
			close(pidfd);
		return 0;
	}
	if (pidfd < 0)
		pidfd = pidfd_open(pid);
	if (pidfd < 0)
		return -errno;
	/* Opened first, judged second: a pid reused before the open fails the judgement. */
	now = shmqi_proc_start(pid);
	if (start && (now & START_MASK) != (start & START_MASK)) {
		close(pidfd);
		return -ESRCH;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(pidfd);
		return -ENOMEM;
	}
	daemon_of = d;
	*p = (struct proc){ .w = { .fd = pidfd, .fn = on_exit_of, .free = free_proc },
			    .pid = pid,
			    .start = now,
			    .unknown = start != 0 }; /* adopted: what it uses is not known */
	r = loop_add(&d->loop, &p->w);
	if (r < 0) {
		free_proc(&p->w);
		return r;
	}
	p->next = d->procs;
	d->procs = p;
	d->nprocs++;
	d->state_dirty = true;
	return 0;
}

int procs_watch(struct daemon *d, pid_t pid, int pidfd)
{
	return watch_start(d, pid, 0, pidfd);
}

void procs_close(struct daemon *d)
{
	struct proc *p;

	while ((p = d->procs)) {
		d->procs = p->next;
		loop_del(&d->loop, &p->w);
	}
	d->nprocs = 0;
}

/* ---- cleanup ---- */

static uint32_t reap_one(struct daemon *d, const struct shmq_object_info *o)
{
	uint32_t subs = 0, prods = 0, members = 0;
	char topic[SHMQ_NAME_MAX + 1];
	unsigned roles = 0;
	const char *group;
	int r;

	switch (o->kind) {
	case SHMQ_KIND_TOPIC:
		if (shmqi_inbox_orphaned(o->name)) /* a dead requester's: nobody reads it again */
			return shmq_unlink(d->bus, o->name) == 0;
		if (shmq_topic_reap(d->bus, o->name, &subs, &prods) < 0)
			return 0;
		return subs + prods;
	case SHMQ_KIND_GROUP:
		group = group_split(o->name, topic);
		if (!group || shmq_group_reap(d->bus, topic, group, &members) < 0)
			return 0;
		return members;
	case SHMQ_KIND_CHANNEL: /* the count freed; @roles says which (a mask) */
		r = shmq_channel_reap(d->bus, o->name, &roles);
		return r < 0 ? 0 : (uint32_t)r;
	}
	return 0;
}

const char *group_split(const char *name, char topic[SHMQ_NAME_MAX + 1])
{
	const char *at = strchr(name, '@');

	if (!at || (size_t)(at - name) > SHMQ_NAME_MAX)
		return NULL;
	memcpy(topic, name, (size_t)(at - name));
	topic[at - name] = '\0';
	return at + 1;
}

struct shmq_object_info *objects_list(struct daemon *d, size_t *ret_n)
{
	struct shmq_object_info *objs = NULL;
	int n = shmq_bus_list(d->bus, NULL, 0), m;

	*ret_n = 0;
	for (;;) { /* objects may come between the count and the listing: list again */
		if (n <= 0)
			return NULL;
		objs = calloc((size_t)n + 8, sizeof(*objs));
		if (!objs)
			return NULL;
		m = shmq_bus_list(d->bus, objs, (size_t)n + 8);
		if (m >= 0 && m <= n + 8)
			break;
		free(objs);
		n = m;
	}
	*ret_n = (size_t)m;
	return objs;
}

/* Watch every live owner of a table of @n owner entries @stride bytes apart. */
static void adopt_table(struct daemon *d, const void *table, size_t stride, uint32_t n)
{
	const struct shmqi_owner *o;
	uint64_t h;
	int32_t pid;
	uint32_t i;

	for (i = 0; i < n; i++) {
		o = (const struct shmqi_owner *)((const char *)table + (size_t)i * stride);
		/* acquire: the start time written before the head (O1) */
		h = atomic_load_explicit(&o->head, memory_order_acquire);
		pid = shmqi_head_pid(h);
		if (pid < 0)
			pid = -pid;
		if (pid > 0)
			watch_start(d, pid,
				    atomic_load_explicit(&o->start_time, memory_order_relaxed), -1);
	}
}

/* Watch the live owners of a topic's producer and subscriber tables. */
static void adopt_topic(struct daemon *d, const char *name)
{
	struct shmqi_tmap t = { 0 };

	if (shmqi_topic_map(d->bus, name, SHMQI_MAP_RDONLY, NULL, &t) < 0)
		return;
	adopt_table(d, t.subs, sizeof(*t.subs), t.max_subs);
	adopt_table(d, t.prods, sizeof(*t.prods), t.max_prods);
	shmqi_seg_close(&t.seg);
}

/* Map object @name of @kind read-only: its segment, with a body of at least @body bytes. */
static int map_body(struct daemon *d, const char *name, uint32_t kind, size_t body,
		    struct shmqi_seg *ret_seg, const uint8_t **ret_body)
{
	char path[SHMQI_PATH_MAX + 1 + SHMQ_GROUP_NAME_MAX];
	const struct shmqi_seg_hdr *hdr;
	int r;

	/* shm_open()'s name, as the library's shmqi_seg_path() makes it ("@" and all) */
	if ((size_t)snprintf(path, sizeof(path), "/shmq.%s.%s", d->ns, name) >= sizeof(path))
		return -ENAMETOOLONG;
	r = shmqi_seg_open(path, kind, 0, 0, SHMQI_SEG_RDONLY, NULL, NULL, ret_seg);
	if (r < 0)
		return r;
	hdr = (const struct shmqi_seg_hdr *)ret_seg->base;
	if (hdr->body_off % 8 || hdr->body_off > ret_seg->size ||
	    ret_seg->size - hdr->body_off < body) {
		shmqi_seg_close(ret_seg);
		return -EPROTO;
	}
	*ret_body = ret_seg->base + hdr->body_off;
	return 0;
}

/*
 * Watch the live members of a group: they take no entry of the topic's tables, so without
 * this a restarted daemon would see a member's death only at a later sweep.
 */
static void adopt_group(struct daemon *d, const char *name)
{
	const struct shmqi_group *ctl;
	struct shmqi_seg seg;
	uint64_t off, n;

	if (map_body(d, name, SHMQ_KIND_GROUP, sizeof(*ctl), &seg, (const uint8_t **)&ctl) < 0)
		return;
	off = ctl->members_off;
	n = ctl->max_members;
	/* a hostile or torn control block never leads the reads out of the segment */
	if (off <= seg.size && n <= (seg.size - off) / sizeof(struct shmqi_member))
		adopt_table(d, seg.base + off, sizeof(struct shmqi_member), (uint32_t)n);
	shmqi_seg_close(&seg);
}

/* Watch a channel's producer and consumer. */
static void adopt_channel(struct daemon *d, const char *name)
{
	const struct shmqi_chan *ch;
	struct shmqi_seg seg;

	if (map_body(d, name, SHMQ_KIND_CHANNEL, sizeof(*ch), &seg, (const uint8_t **)&ch) < 0)
		return;
	adopt_table(d, &ch->producer, sizeof(ch->producer), 1);
	adopt_table(d, &ch->consumer, sizeof(ch->consumer), 1);
	shmqi_seg_close(&seg);
}

/* Watch the live owners of what object @o's tables name. */
static void adopt(struct daemon *d, const struct shmq_object_info *o)
{
	if (o->kind == SHMQ_KIND_TOPIC)
		adopt_topic(d, o->name);
	else if (o->kind == SHMQ_KIND_GROUP)
		adopt_group(d, o->name);
	else if (o->kind == SHMQ_KIND_CHANNEL)
		adopt_channel(d, o->name);
}

uint32_t procs_sweep(struct daemon *d, bool adopt_owners)
{
	struct shmq_object_info *objs;
	uint32_t n = 0;
	size_t i, cnt;

	objs = objects_list(d, &cnt);
	for (i = 0; i < cnt; i++) {
		if (objs[i].error) /* one being made, or not ours: never waited for */
			continue;
		if (adopt_owners)
			adopt(d, &objs[i]);
		n += reap_one(d, &objs[i]);
	}
	free(objs);
	d->freed += n;
	return n;
}

/* ---- the state file ---- */

static json_t *state_json(struct daemon *d)
{
	json_t *procs = json_array(), *decls = json_object();
	struct proc *p;
	struct decl *c;

	for (p = d->procs; p; p = p->next)
		json_array_append_new(procs, json_pack("[i,I]", (int)p->pid, (json_int_t)p->start));
	for (c = d->decls; c; c = c->next)
		json_object_set_new(decls, c->name, shmqi_topic_cfg_json(&c->cfg));
	return json_pack("{s:i,s:s,s:o,s:o}", "v", 1, "ns", d->ns, "procs", procs, "declared",
			 decls);
}

int state_save(struct daemon *d)
{
	char tmp[sizeof(d->state_path) + 8];
	json_t *j = state_json(d);
	int fd, r = 0;

	d->state_dirty = false;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !j || json_dumpfd(j, fd, JSON_INDENT(1)) < 0 || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	json_decref(j);
	if (r == 0 && rename(tmp, d->state_path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		logmsg("cannot write the state file %s: %s", d->state_path, strerror(-r));
	}
	return r;
}

int state_load(struct daemon *d)
{
	struct shmq_topic_config cfg;
	json_error_t je;
	json_t *j = json_load_file(d->state_path, JSON_REJECT_DUPLICATES, &je), *v, *procs;
	const char *name;
	size_t i;

	if (!j)
		return access(d->state_path, F_OK) == 0 ? -EPROTO : 0;
	procs = json_object_get(j, "procs");
	json_array_foreach(procs, i, v)
	{
		json_int_t pid = json_integer_value(json_array_get(v, 0));
		json_int_t start = json_integer_value(json_array_get(v, 1));

		if (pid > 0 && pid < (1 << 30) && start >= 0)
			watch_start(d, (pid_t)pid, (uint64_t)start, -1);
	}
	json_object_foreach(json_object_get(j, "declared"), name, v)
	{
		/* The config file's declarations (read before) win over the stored ones. */
		if (shmqi_valid_name(name) && !decl_find(d, name) &&
		    shmqi_topic_cfg_parse(v, &cfg) == 0)
			decl_set(d, name, &cfg);
	}
	json_decref(j);
	return 0;
}
