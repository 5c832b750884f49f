// SPDX-License-Identifier: MIT
/* group_admin.c - consumer groups: create, join, leave, delete, stat, dead letters, redrive. */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "group_internal.h"
#include "registry.h"

#define MEMBERS_OFF 1280u /* body at 128, control block 1152 bytes */
#define ACK_WAIT_MIN_NS 1000000ull /* 1 ms */
#define ACK_WAIT_MAX_NS (12ull * 3600 * 1000000000ull) /* 12 h */
#define GROUP_FLAGS (SHMQ_GROUP_EPHEMERAL | SHMQ_GROUP_NO_DLQ)
#define START_FLAGS (SHMQ_SUB_LATEST | SHMQ_SUB_EARLIEST | SHMQ_SUB_FROM_SEQ)
#define OPEN_FLAGS (SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL | START_FLAGS | SHMQ_SUB_LATENCY)
#define DLQ_HDR ((uint32_t)sizeof(struct shmq_dlq_hdr))
#define REDRIVE_GROUP "redrive"

static_assert(sizeof(struct shmq_dlq_hdr) % 8 == 0, "dead letters' payloads stay aligned");
static_assert(SHMQ_GROUP_NAME_MAX < sizeof(((struct shmqi_gate *)0)->name), "gate name room");
static_assert(SHMQ_NAME_MAX < SHMQI_GROUP_NAME_LEN, "name room");
static_assert(SHMQ_GROUP_MAX_MEMBERS <= SHMQI_LEASE_NOBODY, "holder indexes below NOBODY");
static_assert(MEMBERS_OFF >= SHMQI_GROUP_BODY_OFF + sizeof(struct shmqi_group), "member table");

/* ---- configuration and layout ---- */

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* A configuration a group may have: what a creator checks, and an attacher again. */
static bool valid_cfg(const struct shmq_group_config *c)
{
	return c->ack_wait_ns >= ACK_WAIT_MIN_NS && c->ack_wait_ns <= ACK_WAIT_MAX_NS &&
	       c->max_in_flight >= 1 && pow2(c->max_pending) && c->max_pending >= 2 &&
	       c->max_pending <= SHMQ_GROUP_MAX_PENDING && c->max_members >= 1 &&
	       c->max_members <= SHMQ_GROUP_MAX_MEMBERS && c->backoff_mult >= 1 &&
	       c->backoff_mult <= 16 && c->backoff_ns >= 1 && c->backoff_max_ns >= c->backoff_ns &&
	       !(c->flags & ~GROUP_FLAGS) && c->mode <= 0777;
}

static int resolve_cfg(const struct shmq_group_config *in, struct shmq_group_config *out)
{
	static const struct shmq_group_config none;

	*out = in ? *in : none;
	if (!out->ack_wait_ns)
		out->ack_wait_ns = SHMQ_GROUP_DEFAULT_ACK_WAIT_NS;
	if (!out->max_deliveries)
		out->max_deliveries = SHMQ_GROUP_DEFAULT_MAX_DELIVERIES;
	if (!out->max_in_flight)
		out->max_in_flight = SHMQ_GROUP_DEFAULT_MAX_IN_FLIGHT;
	if (!out->max_pending)
		out->max_pending = SHMQ_GROUP_DEFAULT_MAX_PENDING;
	if (!out->max_members)
		out->max_members = SHMQ_GROUP_DEFAULT_MEMBERS;
	if (!out->backoff_ns)
		out->backoff_ns = SHMQ_GROUP_DEFAULT_BACKOFF_NS;
	if (!out->backoff_max_ns)
		out->backoff_max_ns = SHMQ_GROUP_DEFAULT_BACKOFF_MAX_NS;
	if (!out->backoff_mult)
		out->backoff_mult = SHMQ_GROUP_DEFAULT_BACKOFF_MULT;
	if (!out->mode)
		out->mode = SHMQ_DEFAULT_MODE;
	if (!valid_cfg(out)) {
		shmqi_detail("group configuration out of range (ack_wait 1 ms-12 h, max_pending a "
			     "power of two 2-2^20, max_members 1-255, backoff_mult 1-16)");
		return -EINVAL;
	}
	return 0;
}

static uint64_t leases_off(uint32_t max_members)
{
	return MEMBERS_OFF + (uint64_t)max_members * sizeof(struct shmqi_member);
}

static uint64_t seg_size(uint32_t max_members, uint32_t max_pending)
{
	return leases_off(max_members) + (uint64_t)max_pending * sizeof(struct shmqi_lease);
}

/* "/shmq.NS.TOPIC@GROUP": '@' is no name's character, so no topic or channel has it. */
static int group_path(shmq_bus *bus, const char *topic, const char *group, char *buf, size_t len)
{
	size_t n;
	int r;

	if (!shmqi_valid_name(group) || strlen(group) > SHMQ_GROUP_NAME_MAX) {
		shmqi_detail("group name '%s': 1-%d chars of [A-Za-z0-9_.-], dot-separated",
			     group ? group : "(null)", SHMQ_GROUP_NAME_MAX);
		return -EINVAL;
	}
	r = shmqi_seg_path(bus, topic, buf, len);
	if (r < 0)
		return r;
	n = strlen(buf);
	if (n + 1 + strlen(group) + 1 > len || n + 1 + strlen(group) > 255)
		return -ENAMETOOLONG;
	buf[n] = '@';
	strcpy(buf + n + 1, group);
	return 0;
}

/* ---- the gate in the topic ---- */

static void free_gate(struct shmqi_tmap *t, struct shmqi_gate *gate)
{
	atomic_store_explicit(&gate->state, SHMQI_GATE_FREE, memory_order_seq_cst);
	shmqi_topic_room_made(t);
}

/*
 * Put a gate up for a new group, starting where @start/@from say (S1, F1). Return: 0 with
 * its index, the group's first record and the guard, or -EUSERS (16 groups already).
 */
static int open_gate(struct shmqi_tmap *t, const char *name, uint64_t id, unsigned start,
		     uint64_t from, uint32_t *ret_i, uint64_t *ret_start, uint64_t *ret_guard)
{
	struct shmqi_gate *gate = NULL;
	uint64_t tail, s, oldest;
	uint32_t i, st;

	for (i = 0; i < SHMQI_TOPIC_GATES && !gate; i++) {
		st = SHMQI_GATE_FREE;
		if (atomic_compare_exchange_strong_explicit(&t->gates[i].state, &st,
							    SHMQI_GATE_TAKING, memory_order_seq_cst,
							    memory_order_relaxed))
			gate = &t->gates[i];
	}
	if (!gate) {
		shmqi_detail("the topic has %u groups already", SHMQI_TOPIC_GATES);
		return -EUSERS;
	}
	memset(gate->name, 0, sizeof(gate->name));
	strncpy(gate->name, name, sizeof(gate->name) - 1);
	atomic_store_explicit(&gate->id, id, memory_order_relaxed);
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_acquire);
	oldest = shmqi_oldest(t, tail);
	s = start == SHMQ_SUB_EARLIEST ? oldest : start == SHMQ_SUB_FROM_SEQ ? from : tail;
	if (s < oldest)
		s = oldest;
	shmqi_raise_start(t, s); /* F1: before any cursor of ours is visible */
	atomic_store_explicit(&gate->cursor, s, memory_order_release);
	/* S1: pairs with the seq_cst gate state loads in gate_limit(). */
	atomic_store_explicit(&gate->state, SHMQI_GATE_ACTIVE, memory_order_seq_cst);
	tail = atomic_load_explicit(&t->ctl->tail, memory_order_seq_cst);
	if (start != SHMQ_SUB_EARLIEST && start != SHMQ_SUB_FROM_SEQ && tail > s) {
		s = tail; /* a producer that scanned before us claims below tail + slots */
		shmqi_raise_start(t, s);
		atomic_store_explicit(&gate->cursor, s, memory_order_release);
	}
	*ret_i = (uint32_t)(gate - t->gates);
	*ret_start = s;
	*ret_guard = tail;
	return 0;
}

struct group_init {
	const struct shmq_group_config *cfg;
	struct shmqi_tmap *t;
	const char *topic, *name, *dlq;
	unsigned start;
};

static void copy_name(char *dst, const char *src)
{
	memset(dst, 0, SHMQI_GROUP_NAME_LEN);
	strncpy(dst, src, SHMQI_GROUP_NAME_LEN - 1);
}

/* The creator lays the group out before R0 publishes it (the file is fresh: all zero). */
static int group_init(struct shmqi_seg *seg, void *arg)
{
	struct group_init *a = arg;
	const struct shmq_group_config *c = a->cfg;
	struct shmqi_seg_hdr *hdr = (struct shmqi_seg_hdr *)seg->base;
	struct shmqi_group *ctl = (struct shmqi_group *)(seg->base + SHMQI_GROUP_BODY_OFF);
	const struct shmqi_seg_hdr *thdr = (const struct shmqi_seg_hdr *)a->t->seg.base;
	uint64_t start, guard;
	int r;

	hdr->body_off = SHMQI_GROUP_BODY_OFF;
	ctl->max_pending = c->max_pending;
	ctl->max_members = c->max_members;
	ctl->max_in_flight = c->max_in_flight;
	ctl->max_deliveries =
		c->max_deliveries == SHMQ_GROUP_DELIVERIES_UNLIMITED ? 0 : c->max_deliveries;
	ctl->flags = c->flags;
	ctl->ack_wait_ns = c->ack_wait_ns;
	ctl->backoff_initial_ns = c->backoff_ns;
	ctl->backoff_max_ns = c->backoff_max_ns;
	ctl->backoff_mult = c->backoff_mult;
	ctl->members_off = MEMBERS_OFF;
	ctl->leases_off = leases_off(c->max_members);
	ctl->topic_id = thdr->created_ns;
	ctl->gate_id = hdr->created_ns;
	copy_name(ctl->topic, a->topic);
	copy_name(ctl->name, a->name);
	copy_name(ctl->dlq, (c->flags & SHMQ_GROUP_NO_DLQ) ? "" : a->dlq);
	r = open_gate(a->t, a->name, ctl->gate_id, a->start, c->from_seq, &ctl->gate, &start,
		      &guard);
	if (r < 0)
		return r;
	ctl->guard = guard;
	if (a->start == SHMQ_SUB_FROM_SEQ && start > c->from_seq)
		atomic_store_explicit(&ctl->lost, start - c->from_seq, memory_order_relaxed);
	atomic_store_explicit(&ctl->next, start, memory_order_relaxed);
	atomic_store_explicit(&ctl->floor, start, memory_order_relaxed);
	atomic_store_explicit(&ctl->due_hint, UINT64_MAX - 1, memory_order_relaxed); /* none */
	return 0;
}

static bool name_ok(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/* Everything the group's paths rely on is read once here, checked, and kept in @g. */
static int check_group(shmq_group *g, const char *topic)
{
	const struct shmqi_seg_hdr *hdr = (const struct shmqi_seg_hdr *)g->seg.base;
	const struct shmqi_group *ctl =
		(const struct shmqi_group *)(g->seg.base + SHMQI_GROUP_BODY_OFF);
	struct shmq_group_config c = { 0 };
	struct shmqi_group copy;

	if (hdr->body_off != SHMQI_GROUP_BODY_OFF || g->seg.size < MEMBERS_OFF)
		return -EPROTO;
	memcpy(&copy, ctl, offsetof(struct shmqi_group, next));
	c.ack_wait_ns = copy.ack_wait_ns;
	c.max_in_flight = copy.max_in_flight;
	c.max_pending = copy.max_pending;
	c.max_members = copy.max_members;
	c.backoff_ns = copy.backoff_initial_ns;
	c.backoff_max_ns = copy.backoff_max_ns;
	c.backoff_mult = copy.backoff_mult;
	c.flags = copy.flags;
	if (!valid_cfg(&c) || copy.gate >= SHMQI_TOPIC_GATES || copy.members_off != MEMBERS_OFF ||
	    copy.leases_off != leases_off(c.max_members) ||
	    seg_size(c.max_members, c.max_pending) != g->seg.size ||
	    !name_ok(copy.topic, sizeof(copy.topic)) || !name_ok(copy.dlq, sizeof(copy.dlq)) ||
	    !name_ok(copy.name, sizeof(copy.name)) || strcmp(copy.topic, topic) != 0)
		return -EPROTO;
	g->ctl = (struct shmqi_group *)ctl;
	g->members = (struct shmqi_member *)(g->seg.base + MEMBERS_OFF);
	g->leases = (struct shmqi_lease *)(g->seg.base + copy.leases_off);
	g->max_pending = c.max_pending;
	g->mask = c.max_pending - 1;
	g->max_members = c.max_members;
	g->max_in_flight = c.max_in_flight;
	g->max_deliveries = copy.max_deliveries;
	g->flags = c.flags;
	g->backoff_mult = c.backoff_mult;
	g->ack_wait_ns = c.ack_wait_ns;
	g->backoff_ns = c.backoff_ns;
	g->backoff_max_ns = c.backoff_max_ns;
	g->guard = copy.guard;
	g->publish_every = g->t.slots / 8 ? g->t.slots / 8 : 1;
	memcpy(g->dlq_name, copy.dlq, sizeof(g->dlq_name));
	memcpy(g->name, copy.name, sizeof(g->name));
	return 0;
}

/* Is our gate in the topic still ours (the topic was not created anew, nor the gate freed)? */
static int check_gate(shmq_group *g)
{
	const struct shmqi_seg_hdr *thdr = (const struct shmqi_seg_hdr *)g->t.seg.base;

	g->gate = &g->t.gates[g->ctl->gate];
	if (thdr->created_ns != g->ctl->topic_id ||
	    atomic_load_explicit(&g->gate->state, memory_order_acquire) != SHMQI_GATE_ACTIVE ||
	    atomic_load_explicit(&g->gate->id, memory_order_relaxed) != g->ctl->gate_id) {
		shmqi_detail("group '%s': its topic was created anew, or its gate freed; delete "
			     "the group",
			     g->name);
		return -ESTALE;
	}
	return 0;
}

/* Map the topic and the group (creating it if asked) into @g. */
static int map_group(shmq_bus *bus, const char *topic, const char *group, unsigned flags,
		     const struct shmq_group_config *cfg, shmq_group *g)
{
	struct group_init ia = { .cfg = cfg, .t = &g->t, .topic = topic, .name = group };
	char path[SHMQI_PATH_MAX + 1 + SHMQ_GROUP_NAME_MAX], dlq[SHMQI_GROUP_NAME_LEN];
	unsigned seg_flags = 0;
	int r;

	r = group_path(bus, topic, group, path, sizeof(path));
	if (r < 0)
		return r;
	if (cfg && cfg->dlq && (!shmqi_valid_name(cfg->dlq) || !strcmp(cfg->dlq, topic)))
		return -EINVAL;
	snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
	ia.dlq = cfg && cfg->dlq ? cfg->dlq : dlq;
	if (strlen(ia.dlq) > SHMQ_NAME_MAX)
		ia.dlq = "";
	ia.start = flags & START_FLAGS;
	r = shmqi_topic_map(bus, topic, flags & SHMQI_MAP_RDONLY, NULL, &g->t);
	if (r < 0)
		return r;
	if (!(flags & SHMQI_MAP_RDONLY)) {
		r = shmqi_reg_open(bus, SHMQI_KIND_GROUP, path + strlen(bus->ns) + 7, flags,
				   &(struct shmq_topic_config){ 0 }, &(bool){ false });
		if (r < 0) {
			shmqi_seg_close(&g->t.seg);
			return r;
		}
	}
	seg_flags |= (flags & SHMQ_OPEN_CREATE) ? SHMQI_SEG_CREATE : 0;
	seg_flags |= (flags & SHMQ_OPEN_EXCL) ? SHMQI_SEG_EXCL : 0;
	seg_flags |= (flags & SHMQI_MAP_RDONLY) ? SHMQI_SEG_RDONLY : 0;
	r = shmqi_seg_open(path, SHMQI_KIND_GROUP,
			   cfg ? seg_size(cfg->max_members, cfg->max_pending) : 0,
			   cfg ? cfg->mode : 0, seg_flags, group_init, &ia, &g->seg);
	if (r == 0 && g->seg.created)
		shmqi_reg_created(bus, SHMQI_KIND_GROUP, path + strlen(bus->ns) + 7);
	if (r == 0) {
		r = check_group(g, topic);
		if (r == 0)
			r = check_gate(g);
		if (r < 0)
			shmqi_seg_close(&g->seg);
	}
	if (r < 0)
		shmqi_seg_close(&g->t.seg);
	return r;
}

static void unmap_group(shmq_group *g)
{
	shmqi_seg_close(&g->seg);
	shmqi_seg_close(&g->t.seg);
}

/* ---- members ---- */

/*
 * J1: pairs with I1 in expire(). Our entry was taken by a seq_cst CAS; the seq_cst loads
 * here come after it. The deleter takes its entry by a seq_cst CAS and then loads the member
 * heads seq_cst: either it sees our entry and backs off, or we see it here and leave.
 * Return: 0 (go on), -EAGAIN (a live process is deleting the group: look again), -ENOENT
 * (deleted as inactive).
 */
static int being_deleted(shmq_group *g)
{
	if (atomic_load_explicit(&g->ctl->inactive_ns, memory_order_seq_cst) &
	    SHMQI_INACTIVE_DELETED)
		return -ENOENT;
	if (shmqi_owner_scan(&g->ctl->deleter, sizeof(g->ctl->deleter), 1, true, NULL, NULL))
		return -EAGAIN;
	return 0;
}

static int join(shmq_group *g)
{
	uint64_t start;
	int r;

	g->pid = (int32_t)getpid();
	start = shmqi_proc_start(g->pid);
	/*
	 * No live producer now (the last one closed before we came): as a subscriber, the
	 * member waits for one, and only a later close is its -EPIPE. Read before our entry is
	 * taken; seq_cst, in one order with the CASes of shmqi_wait_close() (wake.c).
	 */
	g->ignore_closed = shmqi_wait_close_seen(&g->t.ctl->wait);
	r = shmqi_owner_take(g->members, sizeof(*g->members), g->max_members, g->pid, start,
			     &g->head, &g->idx);
	if (r < 0) {
		shmqi_detail("group '%s': all %u member entries are held by live processes",
			     g->name, g->max_members);
		return r;
	}
	g->me = &g->members[g->idx];
	/* An entry a dead member left, taken before a judge freed it: its leases go back. */
	shmqi_group_recover(g, g->idx, true);
	shmqi_group_fold(g, g->me);
	r = being_deleted(g);
	if (r < 0) {
		shmqi_owner_free(&g->me->owner, g->head, g->pid, NULL, NULL, NULL);
		return r;
	}
	atomic_store_explicit(&g->me->joined_ns, shmqi_now_ns(), memory_order_relaxed);
	/*
	 * Then the other dead members: their leases go back now. Only once we hold an entry:
	 * a judge marks what it takes BUSY with its own member index.
	 */
	shmqi_group_judge(g, shmqi_now_ns(), true);
	shmqi_group_rescan(g);
	return 0;
}

/* The latency segment of group @group of @topic, if it has one. */
static void lat_unlink(const shmq_bus *bus, const char *topic, const char *group)
{
	char name[2 * SHMQI_GROUP_NAME_LEN];

	snprintf(name, sizeof(name), "%s@%s", topic, group);
	shmqi_lat_unlink(bus, name);
}

/* Start recording latency (SHMQ_SUB_LATENCY) into our member entry's slot. */
static int lat_start(shmq_group *g)
{
	char name[2 * SHMQI_GROUP_NAME_LEN];
	int r;

	g->recv_ns = calloc(g->mask + 1, sizeof(*g->recv_ns));
	if (!g->recv_ns)
		return -ENOMEM;
	snprintf(name, sizeof(name), "%s@%s", g->topic, g->name);
	r = shmqi_lat_start(&g->bus, name, g->max_members, 2, g->idx, &g->lat);
	if (r < 0) {
		free(g->recv_ns);
		g->recv_ns = NULL;
	}
	return r;
}

static void expire_topic(shmq_bus *bus, const char *topic);

#define JOIN_TRIES 1000 /* 1 ms apart: a deleter takes microseconds */

/*
 * Map the group and join it. A group being deleted as inactive is looked at again until
 * its deleter is done: gone then (or anew, with SHMQ_OPEN_CREATE), or kept.
 */
static int map_join(shmq_bus *bus, const char *topic, const char *group, unsigned flags,
		    const struct shmq_group_config *cfg, shmq_group *g)
{
	struct timespec ms = { 0, 1000000 };
	int r, tries = 0;

	for (;;) {
		r = map_group(bus, topic, group, flags, cfg, g);
		if (r < 0)
			return r;
		r = join(g);
		if (r == 0)
			return 0;
		unmap_group(g);
		if ((r != -EAGAIN && (r != -ENOENT || !(flags & SHMQ_OPEN_CREATE))) ||
		    ++tries == JOIN_TRIES)
			return r == -EAGAIN ? -EBUSY : r;
		nanosleep(&ms, NULL);
	}
}

int shmq_group_open(shmq_bus *bus, const char *topic, const char *group, unsigned flags,
		    const struct shmq_group_config *cfg, shmq_group **ret_member)
{
	struct shmq_group_config want;
	unsigned start = flags & START_FLAGS;
	shmq_group *g;
	int r;

	shmqi_detail_clear();
	if (!bus || !ret_member || (flags & ~OPEN_FLAGS) || (start & (start - 1)) ||
	    ((flags & SHMQ_OPEN_EXCL) && !(flags & SHMQ_OPEN_CREATE)))
		return -EINVAL;
	r = resolve_cfg(cfg, &want);
	if (r < 0)
		return r;
	if ((start == SHMQ_SUB_FROM_SEQ) != (want.from_seq != 0) || want.from_seq >= SHMQI_SEQ_MAX)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->bus = *bus;
	snprintf(g->topic, sizeof(g->topic), "%s", topic ? topic : "");
	if (topic)
		expire_topic(bus, topic);
	r = map_join(bus, topic, group, flags & ~SHMQ_SUB_LATENCY, &want, g);
	if (r < 0)
		goto err_free;
	if ((flags & SHMQ_SUB_LATENCY) && (r = lat_start(g)) < 0) {
		shmq_group_close(g);
		return r;
	}
	*ret_member = g;
	return 0;

err_free:
	free(g);
	return r;
}

static uint32_t live_members(shmq_group *g)
{
	return shmqi_owner_scan(g->members, sizeof(*g->members), g->max_members, true, NULL, NULL);
}

/* The gate comes down and the segment goes; a handle may still be mapping it. */
static void remove_group(shmq_group *g)
{
	char path[SHMQI_PATH_MAX + 1 + SHMQ_GROUP_NAME_MAX];

	if (atomic_load_explicit(&g->gate->id, memory_order_relaxed) == g->ctl->gate_id)
		free_gate(&g->t, g->gate);
	if (group_path(&g->bus, g->topic, g->name, path, sizeof(path)) == 0) {
		shm_unlink(path);
		lat_unlink(&g->bus, g->topic, g->name);
	}
}

/* The group has no live member left: note when, and an ephemeral group goes. */
static void last_member_gone(shmq_group *g)
{
	atomic_store_explicit(&g->ctl->last_member_ns, shmqi_now_ns(), memory_order_relaxed);
	if (g->flags & SHMQ_GROUP_EPHEMERAL)
		remove_group(g);
}

void shmq_group_close(shmq_group *g)
{
	struct shmqi_waitable w;
	bool mine;

	if (!g)
		return;
	mine = getpid() == g->pid;
	if (g->fdring)
		shmqi_fdring_free(g->fdring,
				  mine && shmqi_group_waitable(g, &w, NULL) == 0 ? &w : NULL);
	if (mine) {
		shmqi_group_recover(g, g->idx, false);
		shmqi_group_advance(g);
		shmqi_group_publish(g); /* the gate may lag the floor: not past our leaving */
		shmqi_group_fold(g, g->me);
		shmqi_owner_free(&g->me->owner, g->head, g->pid, NULL, NULL, NULL);
		if (live_members(g) == 0)
			last_member_gone(g);
	}
	shmqi_lat_stop(&g->lat, mine);
	free(g->recv_ns);
	free(g->hdrs.buf);
	shmq_pub_close(g->dlq);
	unmap_group(g);
	free(g);
}

/* A group whose segment cannot be read (never published, corrupt): free its gates by name. */
static void free_gates_named(struct shmqi_tmap *t, const char *group)
{
	struct shmqi_gate *gate;
	uint32_t i;

	for (i = 0; i < SHMQI_TOPIC_GATES; i++) {
		gate = &t->gates[i];
		if (atomic_load_explicit(&gate->state, memory_order_acquire) != SHMQI_GATE_FREE &&
		    strncmp(gate->name, group, sizeof(gate->name)) == 0)
			free_gate(t, gate);
	}
}

int shmq_group_delete(shmq_bus *bus, const char *topic, const char *group, unsigned flags)
{
	char path[SHMQI_PATH_MAX + 1 + SHMQ_GROUP_NAME_MAX];
	shmq_group g = { 0 };
	int r;

	shmqi_detail_clear();
	if (!bus || (flags & ~SHMQ_GROUP_FORCE))
		return -EINVAL;
	r = group_path(bus, topic, group, path, sizeof(path));
	if (r < 0)
		return r;
	g.bus = *bus;
	snprintf(g.topic, sizeof(g.topic), "%s", topic);
	r = map_group(bus, topic, group, 0, NULL, &g);
	if (r == 0) {
		r = !(flags & SHMQ_GROUP_FORCE) && live_members(&g) ? -EBUSY : 0;
		if (r == 0)
			remove_group(&g);
		unmap_group(&g);
		return r;
	}
	if (r != -EPROTO && r != -ESTALE)
		return r;
	/* Unreadable or orphaned: its gates by name, if the topic is there, then the segment. */
	if (shmqi_topic_map(bus, topic, 0, NULL, &g.t) == 0) {
		free_gates_named(&g.t, group);
		shmqi_seg_close(&g.t.seg);
	}
	if (shm_unlink(path) < 0)
		return -errno;
	lat_unlink(bus, topic, group);
	return 0;
}

/* ---- reset ---- */

/* Where a reset puts the group: within what the topic retains, never past its tail. */
static uint64_t reset_target(const struct shmqi_tmap *t, unsigned start, uint64_t seq,
			     uint64_t tail)
{
	uint64_t oldest = shmqi_oldest(t, tail);

	if (start == SHMQ_SUB_LATEST)
		return tail;
	if (start == SHMQ_SUB_EARLIEST || seq < oldest)
		return oldest;
	return seq < tail ? seq : tail;
}

/*
 * The gate to @s, as open_gate() puts a new one up (F1, S1): a producer that scanned the
 * old cursor may claim up to a lap past it, so records below the tail read after the store
 * are checked after a copy (the guard). Return: where the group starts.
 */
static uint64_t reset_gate(shmq_group *g, unsigned start, uint64_t seq)
{
	uint64_t tail = atomic_load_explicit(&g->t.ctl->tail, memory_order_acquire);
	uint64_t s = reset_target(&g->t, start, seq, tail);

	shmqi_raise_start(&g->t, s); /* F1 */
	/* R2: pairs with A2 in gate_limit(); seq_cst, then the tail load (S1). */
	atomic_store_explicit(&g->gate->cursor, s, memory_order_seq_cst);
	tail = atomic_load_explicit(&g->t.ctl->tail, memory_order_seq_cst);
	if (start == SHMQ_SUB_LATEST && tail > s) {
		s = tail;
		shmqi_raise_start(&g->t, s);
		atomic_store_explicit(&g->gate->cursor, s, memory_order_seq_cst);
	} else if (s < shmqi_oldest(&g->t, tail)) {
		/* Lapped meanwhile (a lossy topic, or a producer past the old cursor). */
		s = shmqi_oldest(&g->t, tail);
		atomic_store_explicit(&g->gate->cursor, s, memory_order_seq_cst);
	}
	g->ctl->guard = tail; /* no member reads it now: each copies it when it joins */
	shmqi_topic_room_made(&g->t);
	return s;
}

/* The lease table as new: every lease and delayed record forgotten, no redelivery due. */
static void forget_leases(shmq_group *g)
{
	uint64_t i;

	for (i = 0; i <= g->mask; i++) {
		atomic_store_explicit(&g->leases[i].due_ns, 0, memory_order_relaxed);
		atomic_store_explicit(&g->leases[i].first_ns, 0, memory_order_relaxed);
		atomic_store_explicit(&g->leases[i].acquired, 0, memory_order_relaxed);
		atomic_store_explicit(&g->leases[i].failed, 0, memory_order_relaxed);
		atomic_store_explicit(&g->leases[i].word, 0, memory_order_release);
	}
	atomic_store_explicit(&g->ctl->due_hint, UINT64_MAX - 1, memory_order_relaxed);
}

int shmq_group_reset(shmq_bus *bus, const char *topic, const char *group, unsigned flags,
		     uint64_t seq, uint64_t *ret_seq)
{
	unsigned start = flags & START_FLAGS;
	shmq_group g = { 0 };
	uint64_t s;
	int r;

	shmqi_detail_clear();
	if (!bus || (flags & ~START_FLAGS) || !start || (start & (start - 1)) ||
	    (start == SHMQ_SUB_FROM_SEQ) != (seq != 0) || seq >= SHMQI_SEQ_MAX)
		return -EINVAL;
	r = map_group(bus, topic, group, 0, NULL, &g);
	if (r < 0)
		return r;
	if (live_members(&g)) {
		shmqi_detail("group '%s': a live member is attached", group);
		unmap_group(&g);
		return -EBUSY;
	}
	forget_leases(&g);
	s = reset_gate(&g, start, seq);
	/* Release: a member that joins later and loads them (acquire) sees the table cleared. */
	atomic_store_explicit(&g.ctl->next, s, memory_order_release);
	atomic_store_explicit(&g.ctl->floor, s, memory_order_release);
	unmap_group(&g);
	if (ret_seq)
		*ret_seq = s;
	return 0;
}

/* ---- the inactive threshold ---- */

/* Member entries held, by live members or by dead ones not yet judged (seq_cst loads). */
static uint32_t held_members(shmq_group *g)
{
	return shmqi_owner_scan(g->members, sizeof(*g->members), g->max_members, true, NULL, NULL) +
	       shmqi_owner_scan(g->members, sizeof(*g->members), g->max_members, false, NULL, NULL);
}

/* How long the group has had no member entry at @now (0 while it has one, or not known). */
static uint64_t idle_for(shmq_group *g, uint64_t now)
{
	uint64_t last;

	if (held_members(g))
		return 0;
	last = atomic_load_explicit(&g->ctl->last_member_ns, memory_order_relaxed);
	return last && now > last ? now - last : 0;
}

/* Past its threshold, and not deleted yet? (A look that writes nothing.) */
static bool past_threshold(shmq_group *g)
{
	uint64_t v = atomic_load_explicit(&g->ctl->inactive_ns, memory_order_relaxed);

	return v && !(v & SHMQI_INACTIVE_DELETED) && idle_for(g, shmqi_now_ns()) >= v;
}

/*
 * Delete @g (mapped read-write) if it is past its inactive threshold. I1: pairs with J1 in
 * being_deleted(): our seq_cst take of the deleter entry, then seq_cst loads of the member
 * heads, so that a member joining now either is seen here or sees us. Return: deleted?
 */
static bool expire(shmq_group *g)
{
	int32_t me = (int32_t)getpid();
	uint64_t head;
	bool gone;

	if (!past_threshold(g) ||
	    shmqi_owner_take_one(&g->ctl->deleter, me, shmqi_proc_start(me), &head) < 0)
		return false;
	gone = past_threshold(g); /* I1: the member heads, after our take */
	if (gone) {
		atomic_fetch_or_explicit(&g->ctl->inactive_ns, SHMQI_INACTIVE_DELETED,
					 memory_order_seq_cst);
		remove_group(g);
	}
	shmqi_owner_free(&g->ctl->deleter, head, me, NULL, NULL, NULL);
	return gone;
}

/* Delete group @name of @topic if it is past its threshold; a read-only look first. */
static void expire_named(shmq_bus *bus, const char *topic, const char *name)
{
	shmq_group g = { 0 };
	bool past;

	if (map_group(bus, topic, name, SHMQI_MAP_RDONLY, NULL, &g) < 0)
		return;
	past = past_threshold(&g);
	unmap_group(&g);
	if (!past)
		return;
	memset(&g, 0, sizeof(g));
	g.bus = *bus;
	snprintf(g.topic, sizeof(g.topic), "%s", topic);
	if (map_group(bus, topic, name, 0, NULL, &g) < 0)
		return;
	expire(&g);
	unmap_group(&g);
}

/*
 * Look at every group of @topic and delete those past their threshold (shmq_group_open()).
 * An error (no topic yet, none we may read) is the open's to report.
 */
static void expire_topic(shmq_bus *bus, const char *topic)
{
	char names[SHMQI_TOPIC_GATES][SHMQ_GROUP_NAME_MAX + 1];
	int i, n = shmq_topic_groups(bus, topic, names, SHMQI_TOPIC_GATES);

	for (i = 0; i < n && i < (int)SHMQI_TOPIC_GATES; i++)
		expire_named(bus, topic, names[i]);
}

int shmq_group_set_inactive(shmq_bus *bus, const char *topic, const char *group,
			    uint64_t threshold_ns)
{
	shmq_group g = { 0 };
	uint64_t v, zero = 0;
	int r;

	shmqi_detail_clear();
	if (!bus || (threshold_ns && threshold_ns < ACK_WAIT_MIN_NS) ||
	    threshold_ns > SHMQ_GROUP_INACTIVE_MAX_NS)
		return -EINVAL;
	r = map_group(bus, topic, group, 0, NULL, &g);
	if (r < 0)
		return r;
	v = atomic_load_explicit(&g.ctl->inactive_ns, memory_order_relaxed);
	while (!(v & SHMQI_INACTIVE_DELETED) &&
	       !atomic_compare_exchange_weak_explicit(&g.ctl->inactive_ns, &v, threshold_ns,
						      memory_order_relaxed, memory_order_relaxed))
		;
	r = v & SHMQI_INACTIVE_DELETED ? -ENOENT : 0;
	/* No member and no leave noted (its creator never joined): the idle clock starts. */
	if (r == 0 && threshold_ns && held_members(&g) == 0)
		atomic_compare_exchange_strong_explicit(&g.ctl->last_member_ns, &zero,
							shmqi_now_ns(), memory_order_relaxed,
							memory_order_relaxed);
	unmap_group(&g);
	return r;
}

int shmq_group_inactive(shmq_bus *bus, const char *topic, const char *group,
			uint64_t *ret_threshold_ns, uint64_t *ret_idle_ns)
{
	shmq_group g = { 0 };
	uint64_t v, idle;
	int r;

	shmqi_detail_clear();
	if (!bus)
		return -EINVAL;
	r = map_group(bus, topic, group, SHMQI_MAP_RDONLY, NULL, &g);
	if (r < 0)
		return r;
	v = atomic_load_explicit(&g.ctl->inactive_ns, memory_order_relaxed);
	idle = idle_for(&g, shmqi_now_ns());
	unmap_group(&g);
	if (v & SHMQI_INACTIVE_DELETED)
		return -ENOENT;
	if (ret_threshold_ns)
		*ret_threshold_ns = v;
	if (ret_idle_ns)
		*ret_idle_ns = idle;
	return 0;
}

/* ---- dead letters ---- */

static int open_dlq(shmq_group *g)
{
	char path[SHMQI_PATH_MAX + 16];
	struct stat st;
	bool have;
	struct shmq_topic_config c = { .slots = g->t.slots,
				       .max_msg = g->t.max_msg + DLQ_HDR,
				       .policy = SHMQ_TOPIC_RELIABLE };
	int r;

	if (g->dlq)
		return 0;
	if (c.max_msg > SHMQ_MAX_MSG_LIMIT || c.max_msg < g->t.max_msg)
		c.max_msg = SHMQ_MAX_MSG_LIMIT;
	r = shmq_pub_open(&g->bus, g->dlq_name, 0, NULL, &g->dlq);
	if (r != -ENOENT)
		return r;
	/*
	 * A new dead-letter topic is for the group's members and whoever reads the topic: it
	 * gets the topic's mode and, when we may give it (a supervisor running as root that
	 * reaps a dead member), its owner and group, not the creator's.
	 */
	shmqi_seg_file(&g->bus, g->topic, path, sizeof(path));
	have = stat(path, &st) == 0;
	if (have)
		c.mode = st.st_mode & 0777;
	r = shmq_pub_open(&g->bus, g->dlq_name, SHMQ_OPEN_CREATE, &c, &g->dlq);
	shmqi_seg_file(&g->bus, g->dlq_name, path, sizeof(path));
	if (r == 0 && have && geteuid() == 0)
		(void)!chown(path, st.st_uid, st.st_gid); /* else it stays ours, as before */
	return r;
}

static void fill_dlq_hdr(shmq_group *g, struct shmqi_lease *e, const struct shmqi_trec *rec,
			 uint64_t s, uint32_t reason, struct shmq_dlq_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = SHMQ_DLQ_MAGIC;
	h->version = 1;
	h->hdr_len = (uint16_t)DLQ_HDR;
	h->reason = reason;
	h->producer_id = rec->producer_id;
	h->origin_seq = s;
	h->ts_ns = rec->ts_ns;
	h->corr_id = rec->corr_id;
	h->producer_seq = rec->producer_seq;
	h->acquired = atomic_load_explicit(&e->acquired, memory_order_relaxed);
	h->failed = atomic_load_explicit(&e->failed, memory_order_relaxed);
	h->first_ns = atomic_load_explicit(&e->first_ns, memory_order_relaxed);
	h->last_ns = shmqi_now_ns();
	h->orig_len = rec->len;
	snprintf(h->topic, sizeof(h->topic), "%s", g->topic);
	snprintf(h->group, sizeof(h->group), "%.*s", SHMQ_GROUP_NAME_MAX, g->name);
}

int shmqi_group_dead_letter(shmq_group *g, struct shmqi_lease *e, uint64_t s, uint64_t busy,
			    uint32_t reason)
{
	const struct shmqi_trec *rec = shmqi_slot_at(&g->t, s);
	uint32_t len, cap, flags, hlen, ohlen, room;
	uint8_t kept[SHMQ_HDRS_MAX];
	const void *hdrs;
	void *buf;
	int r;

	if (!g->dlq_name[0]) {
		atomic_fetch_add_explicit(&g->ctl->dropped, 1, memory_order_relaxed);
		return 0;
	}
	r = open_dlq(g);
	if (r < 0)
		return r;
	/* A1: pairs with R1 of the record's producer. */
	if (atomic_load_explicit(&rec->stamp, memory_order_acquire) !=
	    SHMQI_STAMP(s, SHMQI_STAMP_COMMITTED)) {
		atomic_fetch_add_explicit(&g->ctl->lost, 1, memory_order_relaxed);
		return 0; /* nothing left to dead-letter */
	}
	/* Read once and checked: only these copies are used (a lapping writer may change the
	 * slot meanwhile; the intact check below throws such a copy away). */
	len = rec->len;
	flags = rec->flags;
	hlen = ohlen = flags ? rec->hdrs_len : 0;
	if (!shmqi_trec_sane(len, flags, ohlen, g->t.max_msg)) {
		atomic_fetch_add_explicit(&g->ctl->lost, 1, memory_order_relaxed);
		return 0;
	}
	/* The record's headers go with it, when they are sound and fit. */
	if (hlen && (shmq_hdrs_check(rec + 1, hlen) < 0 ||
		     shmqi_hdrs_span(hlen) + DLQ_HDR > shmqi_pub_max_msg(g->dlq)))
		hlen = 0;
	hdrs = kept;
	if (hlen)
		hlen = (uint32_t)shmqi_hdrs_untimed(rec + 1, hlen, kept);
	room = DLQ_HDR + shmqi_hdrs_span(hlen);
	if (shmqi_pub_max_msg(g->dlq) < room) { /* a dead-letter topic made too small */
		atomic_fetch_add_explicit(&g->ctl->dropped, 1, memory_order_relaxed);
		return 0;
	}
	cap = shmqi_pub_max_msg(g->dlq) - room;
	if (len > cap)
		len = cap;
	r = shmq_pub_claim_hdrs(g->dlq, hdrs, hlen, DLQ_HDR + len, &buf);
	if (r < 0)
		return r;
	fill_dlq_hdr(g, e, rec, s, reason, buf);
	memcpy((uint8_t *)buf + DLQ_HDR, shmqi_trec_data(rec, flags, ohlen), len);
	if (!shmqi_group_intact(g, s, e, busy)) {
		shmq_pub_abort(g->dlq);
		atomic_fetch_add_explicit(&g->ctl->lost, 1, memory_order_relaxed);
		return 0;
	}
	r = shmq_pub_commit(g->dlq, DLQ_HDR + len, rec->corr_id);
	if (r == 0)
		atomic_fetch_add_explicit(&g->ctl->dead_lettered, 1, memory_order_relaxed);
	return r;
}

/* ---- inspection ---- */

struct member_list {
	const struct shmqi_member *members;
	struct shmq_group_member_info *out;
	size_t max, n;
	uint64_t acked, delivered;
};

static bool list_member(void *arg, uint32_t i, uint64_t head)
{
	struct member_list *l = arg;
	const struct shmqi_member *m = &l->members[i];
	int32_t pid = shmqi_head_pid(head);

	l->acked += atomic_load_explicit(&m->acked, memory_order_relaxed);
	l->delivered += atomic_load_explicit(&m->delivered, memory_order_relaxed);
	if (l->out && l->n < l->max)
		l->out[l->n] = (struct shmq_group_member_info){
			.pid = pid < 0 ? -pid : pid,
			.in_flight = atomic_load_explicit(&m->in_flight, memory_order_relaxed),
			.delivered = atomic_load_explicit(&m->delivered, memory_order_relaxed),
			.acked = atomic_load_explicit(&m->acked, memory_order_relaxed),
		};
	l->n++;
	return true;
}

/* Leases and delayed records in the window now. */
static void count_window(const shmq_group *g, struct shmq_group_stats *st)
{
	uint64_t s, w;
	uint32_t state;

	for (s = st->floor; s < st->next && s - st->floor < g->max_pending; s++) {
		w = atomic_load_explicit(&g->leases[s & g->mask].word, memory_order_relaxed);
		if (shmqi_lw_seq(w) != (s & SHMQI_LSEQ_MASK))
			continue;
		state = shmqi_lw_state(w);
		st->in_flight += state == SHMQI_LEASE_LEASED || state == SHMQI_LEASE_BUSY;
		st->delayed += state == SHMQI_LEASE_DELAYED;
	}
}

static uint64_t ld(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static void fill_stats(shmq_group *g, struct shmq_group_stats *st, struct member_list *l)
{
	struct shmqi_group *c = g->ctl;

	memset(st, 0, sizeof(*st));
	/* The floor first, then next, then the tail: each read after the one below it, so the
	 * three could have been true at once (floor <= next <= tail). */
	st->floor = atomic_load_explicit(&c->floor, memory_order_acquire);
	st->next = atomic_load_explicit(&c->next, memory_order_acquire);
	st->tail = atomic_load_explicit(&g->t.ctl->tail, memory_order_acquire);
	st->pending = st->next - st->floor;
	count_window(g, st);
	st->members = shmqi_owner_scan(g->members, sizeof(*g->members), g->max_members, true,
				       list_member, l);
	st->acked = ld(&c->acked) + l->acked;
	st->delivered = ld(&c->delivered) + l->delivered;
	st->nacked = ld(&c->nacked);
	st->released = ld(&c->released);
	st->redelivered = ld(&c->redelivered);
	st->expired = ld(&c->expired);
	st->dead_lettered = ld(&c->dead_lettered);
	st->terminated = ld(&c->terminated);
	st->dropped = ld(&c->dropped);
	st->window_full = ld(&c->window_full);
	st->lost = ld(&c->lost);
	st->skipped = ld(&c->skipped);
	st->holding = g->t.policy == SHMQ_TOPIC_RELIABLE && st->tail - st->floor >= g->t.slots;
	st->max_pending = g->max_pending;
	st->max_in_flight = g->max_in_flight;
	st->max_deliveries = g->max_deliveries;
	st->flags = g->flags;
	st->ack_wait_ns = g->ack_wait_ns;
	snprintf(st->dlq, sizeof(st->dlq), "%s", g->dlq_name);
}

int shmq_group_stat(shmq_bus *bus, const char *topic, const char *group,
		    struct shmq_group_stats *ret_stats, struct shmq_group_member_info *members,
		    size_t max_members)
{
	struct member_list l = { .out = members, .max = max_members };
	struct shmq_group_stats st;
	shmq_group g = { 0 };
	int r;

	shmqi_detail_clear();
	if (!bus || !ret_stats || (!members && max_members))
		return -EINVAL;
	r = map_group(bus, topic, group, SHMQI_MAP_RDONLY, NULL, &g);
	if (r < 0)
		return r;
	l.members = g.members;
	fill_stats(&g, &st, &l);
	unmap_group(&g);
	*ret_stats = st;
	return (int)st.members;
}

int shmq_group_reap(shmq_bus *bus, const char *topic, const char *group, uint32_t *ret_members)
{
	shmq_group g = { 0 };
	uint32_t n;
	int r;

	shmqi_detail_clear();
	if (!bus)
		return -EINVAL;
	g.bus = *bus;
	snprintf(g.topic, sizeof(g.topic), "%s", topic ? topic : "");
	r = map_group(bus, topic, group, 0, NULL, &g);
	if (r < 0)
		return r;
	/* No member entry of ours (g.me NULL): the judge recovers as each dead member. */
	g.pid = (int32_t)getpid();
	n = shmqi_group_reap(&g);
	/* An ephemeral group whose last members died goes, as if the last had closed. */
	if (n && live_members(&g) == 0)
		last_member_gone(&g);
	/* A durable one idle past its threshold goes (shmqd's sweep comes here every 2 s). */
	else if (!(g.flags & SHMQ_GROUP_EPHEMERAL))
		expire(&g);
	shmq_pub_close(g.dlq); /* opened if a lease ran out of deliveries */
	unmap_group(&g);
	if (ret_members)
		*ret_members = n;
	return (int)n;
}

int shmq_topic_groups(shmq_bus *bus, const char *topic, char (*names)[SHMQ_GROUP_NAME_MAX + 1],
		      size_t max)
{
	struct shmqi_tmap t = { 0 };
	uint32_t i, n = 0;
	int r;

	if (!names && max)
		return -EINVAL;
	r = shmqi_topic_map(bus, topic, SHMQI_MAP_RDONLY, NULL, &t);
	if (r < 0)
		return r;
	for (i = 0; i < SHMQI_TOPIC_GATES; i++) {
		if (atomic_load_explicit(&t.gates[i].state, memory_order_acquire) !=
		    SHMQI_GATE_ACTIVE)
			continue;
		if (n < max)
			snprintf(names[n], SHMQ_GROUP_NAME_MAX + 1, "%.*s", SHMQ_GROUP_NAME_MAX,
				 t.gates[i].name);
		n++;
	}
	shmqi_seg_close(&t.seg);
	return (int)n;
}

/* ---- redrive ---- */

/* Sleep until @moved records at @rate a second have had their time since @t0. */
static void pace(uint64_t t0, uint64_t moved, uint64_t rate)
{
	uint64_t due, now;
	struct timespec ts;

	if (!rate)
		return;
	due = t0 + moved * (1000000000ull / rate);
	now = shmqi_now_ns();
	if (due <= now)
		return;
	ts.tv_sec = (time_t)((due - now) / 1000000000ull);
	ts.tv_nsec = (long)((due - now) % 1000000000ull);
	nanosleep(&ts, NULL);
}

/* A dead letter's header, checked: it says where the payload starts. */
static const struct shmq_dlq_hdr *dlq_hdr(const void *buf, size_t len)
{
	const struct shmq_dlq_hdr *h = buf;

	if (len < DLQ_HDR || h->magic != SHMQ_DLQ_MAGIC || h->version != 1 ||
	    h->hdr_len < DLQ_HDR || h->hdr_len > len || !name_ok(h->topic, sizeof(h->topic)) ||
	    !shmqi_valid_name(h->topic))
		return NULL;
	return h;
}

struct redrive {
	shmq_bus *bus;
	const char *target;
	shmq_pub *pub;
	char pub_name[SHMQI_GROUP_NAME_LEN];
};

/* Publish one dead letter's payload, with its headers, to its destination. */
static int republish(struct redrive *rd, const void *buf, size_t len, const void *hdrs,
		     size_t hdrs_len)
{
	const struct shmq_dlq_hdr *h = dlq_hdr(buf, len);
	const char *dest;
	int r;

	if (!h)
		return -EPROTO;
	dest = rd->target ? rd->target : h->topic;
	if (!rd->pub || strcmp(rd->pub_name, dest) != 0) {
		shmq_pub_close(rd->pub);
		rd->pub = NULL;
		r = shmq_pub_open(rd->bus, dest, 0, NULL, &rd->pub);
		if (r < 0)
			return r;
		snprintf(rd->pub_name, sizeof(rd->pub_name), "%s", dest);
	}
	return shmq_pub_send_hdrs(rd->pub, hdrs, hdrs_len, (const uint8_t *)buf + h->hdr_len,
				  len - h->hdr_len, h->corr_id);
}

int shmq_group_redrive(shmq_bus *bus, const char *dlq, const char *target, uint64_t max,
		       uint64_t rate_per_sec)
{
	struct redrive rd = { .bus = bus, .target = target };
	struct shmq_group_msg m;
	uint64_t moved = 0, t0 = shmqi_now_ns(), end;
	const void *hdrs;
	size_t hdrs_len;
	shmq_group *g;
	void *buf;
	int r;

	if (!bus || !dlq || (target && !shmqi_valid_name(target)))
		return -EINVAL;
	r = shmq_group_open(bus, dlq, REDRIVE_GROUP, SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, NULL,
			    &g);
	if (r < 0)
		return r;
	buf = malloc(g->t.max_msg ? g->t.max_msg : 1);
	end = atomic_load_explicit(&g->t.ctl->tail, memory_order_acquire);
	r = buf ? 0 : -ENOMEM;
	while (r == 0 && (!max || moved < max)) {
		r = shmq_group_recv(g, buf, g->t.max_msg, &m);
		if (r < 0 || (m.seq >= end && !max)) {
			if (r >= 0)
				shmq_group_release(g, m.lease);
			r = r == -EAGAIN || r >= 0 ? 1 : r;
			break;
		}
		shmq_group_headers(g, &hdrs, &hdrs_len);
		r = republish(&rd, buf, m.len, hdrs, hdrs_len);
		if (r < 0) {
			shmq_group_release(g, m.lease);
			break;
		}
		r = shmq_group_ack(g, m.lease);
		moved++;
		pace(t0, moved, rate_per_sec);
	}
	free(buf);
	shmq_pub_close(rd.pub);
	shmq_group_close(g);
	if (moved == 0)
		return r < 0 ? r : 0;
	return (int)(moved > INT32_MAX ? INT32_MAX : moved);
}
