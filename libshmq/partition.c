// SPDX-License-Identifier: MIT
/*
 * partition.c - keyed partitions (shmq/partition.h): a topic per partition "NAME.partK", a
 * consumer group per partition "NAME.partK@GROUP", and the assignment "NAME@GROUP~parts":
 * a member table and a partition table of owner entries (O1, owner.c).
 *
 * A member looks at the assignment every LOOK_NS (look()): it counts the live members,
 * gives up one partition if it owns more than its share (or more than the floor of it while
 * another member is hungry and nothing is free), and takes free partitions, or dead
 * members', up to its share. It gives a partition up only with nothing of it in flight:
 * its group handle is closed first (the floor stays where its acks left it), then the
 * partition's entry is freed, so the next owner's join comes after the last one's leave.
 * Taking an entry from a dead owner is the owner protocol's; joining the partition's group
 * then releases the dead member's leases there. Two members never own one partition: the
 * entry has one head, taken by CAS.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "group_internal.h"
#include "internal.h"
#include "shm_layout.h"
#include "wait.h"

#define LOOK_NS 5000000ull /* how often a member looks at the assignment */
#define MEMBERS_OFF 256u
#define PART_NAME_MAX (SHMQ_NAME_MAX - 8) /* room for ".partNNN" */
#define DEFAULT_MEMBERS 64u

struct shmq_part_pub {
	unsigned n;
	shmq_pub *pub[SHMQ_PART_MAX];
};

struct shmq_part_group {
	struct shmq_bus bus;
	char name[SHMQ_NAME_MAX + 1];
	char group[SHMQ_GROUP_NAME_MAX + 1];
	unsigned flags;
	struct shmq_group_config cfg;
	bool has_cfg;
	struct shmqi_seg seg;
	struct shmqi_pmember *members;
	struct shmqi_ppart *parts;
	uint32_t n, max_members, idx;
	uint64_t head; /* our member entry's */
	int32_t pid;
	uint64_t start;
	shmq_group *g[SHMQ_PART_MAX]; /* the partitions we own: their groups */
	uint64_t heads[SHMQ_PART_MAX]; /* and their entries' heads, as our takes left them */
	unsigned own[SHMQ_PART_MAX]; /* the partitions we own, in the order we took them */
	unsigned owned, turn;
	uint64_t looked_ns;
};

unsigned shmq_part_of(const void *key, size_t key_len, unsigned partitions)
{
	const uint8_t *p = key;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; p && i < key_len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return partitions ? h % partitions : 0;
}

static int part_name(const char *name, unsigned k, char out[SHMQ_NAME_MAX + 1])
{
	size_t n;

	if (!shmqi_valid_name(name) || strlen(name) > PART_NAME_MAX || k >= SHMQ_PART_MAX)
		return -EINVAL;
	n = strlen(name);
	memcpy(out, name, n);
	memcpy(out + n, ".part", 5);
	n += 5;
	if (k >= 100)
		out[n++] = (char)('0' + k / 100);
	if (k >= 10)
		out[n++] = (char)('0' + k / 10 % 10);
	out[n++] = (char)('0' + k % 10);
	out[n] = '\0';
	return 0;
}

/* How many partitions @name has: its consecutive "NAME.partK" topics from 0. */
static int count_parts(shmq_bus *bus, const char *name)
{
	int k = shmqi_count_series(bus, name, SHMQ_PART_MAX, part_name);

	return k == 0 ? -ENOENT : k;
}

/* ---- producers ---- */

int shmq_part_pub_open(shmq_bus *bus, const char *name, unsigned partitions, unsigned flags,
		       const struct shmq_topic_config *cfg, shmq_part_pub **ret_pub)
{
	char pn[SHMQ_NAME_MAX + 1];
	shmq_part_pub *p;
	unsigned k;
	int n, r;

	if (!bus || !ret_pub || (flags & ~SHMQ_OPEN_CREATE) || partitions > SHMQ_PART_MAX ||
	    (!partitions && (flags & SHMQ_OPEN_CREATE)) || part_name(name, 0, pn) < 0)
		return -EINVAL;
	n = count_parts(bus, name);
	if (n < 0 && (n != -ENOENT || !(flags & SHMQ_OPEN_CREATE)))
		return n;
	if (n > 0 && partitions && (unsigned)n != partitions) {
		shmqi_detail("partitioned topic '%s' has %d partitions, not %u", name, n,
			     partitions);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n = partitions ? partitions : (unsigned)n;
	/* The last partition first and partition 0 last: a topic whose partition 0 exists has
	 * all of them, so a count (count_parts()) never sees a topic half made. */
	for (k = p->n, r = 0; k-- > 0 && r == 0;) {
		part_name(name, k, pn);
		r = shmq_pub_open(bus, pn, flags, cfg, &p->pub[k]);
	}
	if (r < 0) {
		shmq_part_pub_close(p);
		return r;
	}
	*ret_pub = p;
	return 0;
}

void shmq_part_pub_close(shmq_part_pub *p)
{
	unsigned k;

	if (!p)
		return;
	for (k = 0; k < p->n; k++)
		shmq_pub_close(p->pub[k]);
	free(p);
}

unsigned shmq_part_count(const shmq_part_pub *p)
{
	return p ? p->n : 0;
}

shmq_pub *shmq_part_pub_partition(shmq_part_pub *p, unsigned partition)
{
	return p && partition < p->n ? p->pub[partition] : NULL;
}

int shmq_part_send_to(shmq_part_pub *p, unsigned partition, const void *data, size_t len,
		      uint64_t corr_id)
{
	if (!p || partition >= p->n)
		return -EINVAL;
	return shmq_pub_send(p->pub[partition], data, len, corr_id);
}

int shmq_part_send(shmq_part_pub *p, const void *key, size_t key_len, const void *data, size_t len,
		   uint64_t corr_id)
{
	if (!p || (!key && key_len))
		return -EINVAL;
	return shmq_pub_send(p->pub[shmq_part_of(key, key_len, p->n)], data, len, corr_id);
}

/* ---- the assignment segment ---- */

struct parts_shape {
	uint32_t partitions, max_members;
};

static size_t parts_size(uint32_t partitions, uint32_t max_members)
{
	return MEMBERS_OFF + (size_t)max_members * sizeof(struct shmqi_pmember) +
	       (size_t)partitions * sizeof(struct shmqi_ppart);
}

static int parts_init(struct shmqi_seg *seg, void *arg)
{
	const struct parts_shape *s = arg;
	struct shmqi_seg_hdr *hdr = (struct shmqi_seg_hdr *)seg->base;
	struct shmqi_parts *b = (struct shmqi_parts *)(seg->base + SHMQI_PARTS_BODY_OFF);

	hdr->body_off = SHMQI_PARTS_BODY_OFF;
	b->partitions = s->partitions;
	b->max_members = s->max_members;
	b->members_off = MEMBERS_OFF;
	b->parts_off = MEMBERS_OFF + (uint64_t)s->max_members * sizeof(struct shmqi_pmember);
	return 0; /* the tables are zero: every entry free */
}

static void parts_path(const shmq_bus *bus, const char *name, const char *group, char *buf,
		       size_t len)
{
	snprintf(buf, len, "/shmq.%s.%s@%s~parts", bus->ns, name, group);
}

/*
 * Copy the mapped assignment's body into @ret, never trusted: the shape must be a sane one,
 * and fit the file. Return: 0, or -EPROTO (the segment closed).
 */
static int read_body(struct shmqi_seg *seg, struct shmqi_parts *ret)
{
	*ret = *(const struct shmqi_parts *)(seg->base + SHMQI_PARTS_BODY_OFF);
	if (ret->partitions == 0 || ret->partitions > SHMQ_PART_MAX || ret->max_members == 0 ||
	    ret->max_members > SHMQ_GROUP_MAX_MEMBERS || ret->members_off != MEMBERS_OFF ||
	    ret->parts_off !=
		    MEMBERS_OFF + (uint64_t)ret->max_members * sizeof(struct shmqi_pmember) ||
	    seg->size < parts_size(ret->partitions, ret->max_members)) {
		shmqi_seg_close(seg);
		return -EPROTO;
	}
	return 0;
}

/* Map the assignment of @name's group @group (made if absent, for @n partitions). */
static int map_parts(shmq_bus *bus, const char *name, const char *group, uint32_t n,
		     uint32_t max_members, struct shmqi_seg *seg, struct shmqi_parts *ret)
{
	char path[SHMQI_PATH_MAX + SHMQ_GROUP_NAME_MAX + 16], pn[SHMQ_NAME_MAX + 1];
	struct parts_shape shape = { n, max_members };
	char file[sizeof(SHMQI_SHM_DIR) + SHMQI_PATH_MAX];
	struct stat st;
	unsigned mode;
	int r;

	parts_path(bus, name, group, path, sizeof(path));
	part_name(name, 0, pn);
	shmqi_seg_file(bus, pn, file, sizeof(file)); /* whoever may use the topic may use this */
	mode = stat(file, &st) == 0 ? (unsigned)(st.st_mode & 0666) : 0600;
	r = shmqi_seg_open(path, SHMQI_KIND_PARTS, parts_size(n, max_members), mode,
			   SHMQI_SEG_CREATE, parts_init, &shape, seg);
	if (r < 0)
		return r;
	return read_body(seg, ret);
}

/* ---- members ---- */

static bool my_partition(const shmq_part_group *m, unsigned k)
{
	return m->g[k] != NULL;
}

/* Take partition @k if it is free or its owner is dead, and join its group. */
static void take(shmq_part_group *m, unsigned k)
{
	char pn[SHMQ_NAME_MAX + 1];
	uint64_t head;

	if (shmqi_owner_take_one(&m->parts[k].owner, m->pid, m->start, &head) < 0)
		return;
	part_name(m->name, k, pn);
	if (shmq_group_open(&m->bus, pn, m->group, m->flags, m->has_cfg ? &m->cfg : NULL,
			    &m->g[k]) < 0) {
		m->g[k] = NULL;
		shmqi_owner_free(&m->parts[k].owner, head, m->pid, NULL, NULL, NULL);
		return;
	}
	m->heads[k] = head;
	m->own[m->owned++] = k;
	atomic_fetch_add_explicit(&m->parts[k].moves, 1, memory_order_relaxed);
}

/* Give up the owned partition at @i of the list: its group first, then its entry. */
static void give_up(shmq_part_group *m, unsigned i)
{
	unsigned k = m->own[i];

	shmq_group_close(m->g[k]);
	m->g[k] = NULL;
	shmqi_owner_free(&m->parts[k].owner, m->heads[k], m->pid, NULL, NULL, NULL);
	m->own[i] = m->own[--m->owned];
}

/* The last owned partition with nothing of it in flight, or -1. */
static int idle_partition(shmq_part_group *m)
{
	unsigned i = m->owned;

	while (i-- > 0) /* a count left high by an expired lease of ours: counted again */
		if (m->g[m->own[i]]->in_flight == 0 || shmqi_group_held(m->g[m->own[i]]) == 0)
			return (int)i;
	return -1;
}

struct hungry_count {
	const shmq_part_group *m;
	uint32_t n;
};

static bool count_hungry(void *arg, uint32_t i, uint64_t head)
{
	struct hungry_count *h = arg;

	(void)head;
	if (i != h->m->idx && atomic_load_explicit(&h->m->members[i].hungry, memory_order_relaxed))
		h->n++;
	return true;
}

static void look(shmq_part_group *m, uint64_t now)
{
	struct hungry_count hc = { .m = m };
	uint32_t live, taken, hi, lo, k, limit;
	int i;

	m->looked_ns = now;
	live = shmqi_owner_scan(m->members, sizeof(*m->members), m->max_members, true, count_hungry,
				&hc);
	if (live == 0)
		live = 1;
	hi = (m->n + live - 1) / live;
	lo = m->n / live;
	taken = shmqi_owner_scan(m->parts, sizeof(*m->parts), m->n, true, NULL, NULL);
	/* More than the share, or more than the floor of it while another is hungry and
	 * nothing is free for it to take: one partition goes, at most, per look. */
	if (m->owned > hi || (m->owned > lo && hc.n && taken >= m->n)) {
		i = idle_partition(m);
		if (i >= 0) {
			give_up(m, (unsigned)i);
			goto out; /* not taken back in the same look: it is the hungry one's */
		}
	}
	/* While another is hungry, up to the floor of the share only: what is left over goes
	 * to it, not back and forth between the members that have their share. */
	limit = hc.n ? lo : hi;
	for (k = 0; k < m->n && m->owned < limit; k++)
		if (!my_partition(m, k))
			take(m, k);
out:
	atomic_store_explicit(&m->members[m->idx].hungry, m->owned < lo, memory_order_relaxed);
	atomic_store_explicit(&m->members[m->idx].owns, m->owned, memory_order_relaxed);
}

/*
 * Every partition's group made now, not as its first owner takes it: a reliable partition
 * is held back for the group from the group's first join on, owned or not.
 */
static void make_groups(shmq_part_group *m)
{
	char pn[SHMQ_NAME_MAX + 1];
	struct shmq_group_stats gs;
	shmq_group *g;
	unsigned k;

	for (k = 0; k < m->n; k++) {
		part_name(m->name, k, pn);
		if (shmq_group_stat(&m->bus, pn, m->group, &gs, NULL, 0) != -ENOENT)
			continue;
		if (shmq_group_open(&m->bus, pn, m->group, m->flags, m->has_cfg ? &m->cfg : NULL,
				    &g) == 0)
			shmq_group_close(g);
	}
}

int shmq_part_group_open(shmq_bus *bus, const char *name, const char *group, unsigned flags,
			 const struct shmq_group_config *cfg, shmq_part_group **ret_member)
{
	struct shmqi_parts b;
	shmq_part_group *m;
	int n, r;

	if (!bus || !ret_member || !group || strlen(group) > SHMQ_GROUP_NAME_MAX ||
	    (flags & SHMQ_OPEN_EXCL) || (cfg && (cfg->flags & SHMQ_GROUP_EPHEMERAL)))
		return -EINVAL; /* the partitions' groups are durable, and made by whoever comes */
	n = count_parts(bus, name);
	if (n < 0)
		return n;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->bus = *bus;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->group, sizeof(m->group), "%s", group);
	m->flags = flags | SHMQ_OPEN_CREATE;
	m->has_cfg = cfg != NULL;
	if (cfg)
		m->cfg = *cfg;
	m->pid = getpid();
	m->start = shmqi_proc_start(m->pid);
	r = map_parts(bus, name, group, (uint32_t)n,
		      cfg && cfg->max_members ? cfg->max_members : DEFAULT_MEMBERS, &m->seg, &b);
	if (r < 0) {
		free(m);
		return r;
	}
	m->n = b.partitions;
	m->max_members = b.max_members;
	m->members = (struct shmqi_pmember *)(m->seg.base + b.members_off);
	m->parts = (struct shmqi_ppart *)(m->seg.base + b.parts_off);
	r = m->n == (uint32_t)n ? 0 : -ESTALE; /* the topic was made anew, with another count */
	if (r == 0)
		r = shmqi_owner_take(m->members, sizeof(*m->members), m->max_members, m->pid,
				     m->start, &m->head, &m->idx);
	if (r < 0) {
		shmqi_seg_close(&m->seg);
		free(m);
		return r;
	}
	make_groups(m);
	look(m, shmqi_mono_ns());
	*ret_member = m;
	return 0;
}

void shmq_part_group_close(shmq_part_group *m)
{
	if (!m)
		return;
	if (getpid() == m->pid) {
		while (m->owned)
			give_up(m, m->owned - 1);
		atomic_store_explicit(&m->members[m->idx].hungry, 0, memory_order_relaxed);
		shmqi_owner_free(&m->members[m->idx].owner, m->head, m->pid, NULL, NULL, NULL);
	} else { /* a forked child's copy: its group handles close, giving nothing up */
		while (m->owned)
			shmq_group_close(m->g[m->own[--m->owned]]);
	}
	shmqi_seg_close(&m->seg);
	free(m);
}

shmq_group *shmq_part_group_partition(shmq_part_group *m, unsigned partition)
{
	return m && partition < m->n ? m->g[partition] : NULL;
}

int shmq_part_group_owned(const shmq_part_group *m, unsigned *parts, size_t max)
{
	unsigned i;

	if (!m || (!parts && max))
		return -EINVAL;
	for (i = 0; i < m->owned && i < max; i++)
		parts[i] = m->own[i];
	return (int)m->owned;
}

int shmq_part_group_recv(shmq_part_group *m, void *buf, size_t buf_len,
			 struct shmq_group_msg *ret_info, unsigned *ret_partition)
{
	uint64_t now = shmqi_mono_ns();
	unsigned i, k;
	int r;

	if (!m || !ret_info || !ret_partition || getpid() != m->pid)
		return -EINVAL; /* a forked child's copy: the partitions are its parent's */
	if (now - m->looked_ns >= LOOK_NS)
		look(m, now);
	for (i = 0; i < m->owned; i++) {
		k = m->own[(m->turn + i) % m->owned];
		r = shmq_group_recv(m->g[k], buf, buf_len, ret_info);
		if (r != -EAGAIN) {
			m->turn = (m->turn + i + 1) % m->owned;
			*ret_partition = k;
			return r;
		}
	}
	return -EAGAIN;
}

int shmq_part_group_wait(shmq_part_group *m, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmq_wait_entry w[SHMQ_WAIT_MANY_MAX];
	uint64_t slice = timeout_ns < LOOK_NS ? timeout_ns : LOOK_NS;
	struct timespec ts;
	unsigned i, n;
	int r;

	if (!m)
		return -EINVAL;
	n = m->owned < SHMQ_WAIT_MANY_MAX ? m->owned : SHMQ_WAIT_MANY_MAX;
	for (i = 0; i < n; i++)
		w[i] = (struct shmq_wait_entry){ .kind = SHMQ_WAIT_GROUP,
						 .handle = m->g[m->own[i]] };
	if (n == 0) {
		ts = (struct timespec){ 0, (long)slice };
		nanosleep(&ts, NULL);
		r = -ETIMEDOUT;
	} else {
		r = shmqi_wait_open(w, n, spin_ns, slice);
	}
	if (r == -ETIMEDOUT)
		return slice < timeout_ns ? 0 : -ETIMEDOUT; /* a look is due */
	return r;
}

/* ---- inspection ---- */

int shmq_part_stat(shmq_bus *bus, const char *name, const char *group, struct shmq_part_info *out,
		   size_t max)
{
	char path[SHMQI_PATH_MAX + SHMQ_GROUP_NAME_MAX + 16], pn[SHMQ_NAME_MAX + 1];
	const struct shmqi_ppart *parts;
	struct parts_shape shape = { 0 };
	struct shmq_group_stats gs;
	struct shmqi_parts b;
	struct shmqi_seg seg;
	unsigned k;
	int r;

	if (!bus || !group || (!out && max) || part_name(name, 0, pn) < 0)
		return -EINVAL;
	parts_path(bus, name, group, path, sizeof(path));
	r = shmqi_seg_open(path, SHMQI_KIND_PARTS, 0, 0, SHMQI_SEG_RDONLY, parts_init, &shape,
			   &seg); /* attached only: never made here */
	if (r < 0)
		return r;
	r = read_body(&seg, &b);
	if (r < 0)
		return r;
	parts = (const struct shmqi_ppart *)(seg.base + b.parts_off);
	for (k = 0; k < b.partitions && k < max; k++) {
		uint64_t head = atomic_load_explicit(&parts[k].owner.head, memory_order_acquire);

		out[k] = (struct shmq_part_info){
			.owner = shmqi_head_pid(head) && shmqi_entry_alive(&parts[k].owner, head)
					 ? shmqi_head_pid(head)
					 : 0,
			.moves = atomic_load_explicit(&parts[k].moves, memory_order_relaxed),
		};
		part_name(name, k, pn);
		if (shmq_group_stat(bus, pn, group, &gs, NULL, 0) >= 0) {
			out[k].floor = gs.floor;
			out[k].tail = gs.tail;
			out[k].lag = gs.tail > gs.floor ? gs.tail - gs.floor : 0;
		}
	}
	shmqi_seg_close(&seg);
	return (int)b.partitions;
}
