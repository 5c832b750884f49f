// SPDX-License-Identifier: MIT
/* lat.c - latency side segments: each subscriber's or member's histograms, readable live. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lat.h"
#include "shm_layout.h"

#define LAT_PATH_MAX 512

static int lat_path(const shmq_bus *bus, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/shmq.%s.%s~lat", bus->ns, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct lat_shape {
	uint32_t entries, per_entry;
	uint64_t hist_size, slot_size;
};

static int shape_of(uint32_t entries, uint32_t per_entry, struct lat_shape *s)
{
	size_t hs;
	int r;

	r = shmq_hist_shm_size(SHMQ_LATENCY_LOWEST_NS, SHMQ_LATENCY_HIGHEST_NS,
			       SHMQ_LATENCY_SIGFIGS, &hs);
	if (r < 0)
		return r;
	s->entries = entries;
	s->per_entry = per_entry;
	s->hist_size = hs;
	s->slot_size = sizeof(struct shmqi_lat_slot) + (uint64_t)per_entry * hs;
	return 0;
}

static int lat_init(struct shmqi_seg *seg, void *arg)
{
	const struct lat_shape *s = arg;
	struct shmqi_seg_hdr *hdr = (struct shmqi_seg_hdr *)seg->base;
	struct shmqi_lat *l = (struct shmqi_lat *)(seg->base + SHMQI_LAT_BODY_OFF);

	hdr->body_off = SHMQI_LAT_BODY_OFF;
	l->entries = s->entries;
	l->per_entry = s->per_entry;
	l->slot_size = s->slot_size;
	l->slots_off = SHMQI_LAT_SLOTS_OFF;
	l->hist_size = s->hist_size;
	l->lowest = SHMQ_LATENCY_LOWEST_NS;
	l->highest = SHMQ_LATENCY_HIGHEST_NS;
	l->sigfigs = SHMQ_LATENCY_SIGFIGS;
	return 0; /* the slots are zero: pid 0, no histogram published */
}

/* Is the mapped segment's body sane, and what we would have made? Never trusts the memory. */
static int check_body(const struct shmqi_seg *seg, struct shmqi_lat *ret)
{
	const struct shmqi_seg_hdr *hdr = (const struct shmqi_seg_hdr *)seg->base;
	struct lat_shape want;
	struct shmqi_lat l;

	if (hdr->body_off != SHMQI_LAT_BODY_OFF || seg->size < SHMQI_LAT_SLOTS_OFF)
		goto bad;
	memcpy(&l, seg->base + SHMQI_LAT_BODY_OFF, sizeof(l));
	if (l.per_entry < 1 || l.per_entry > 2 || l.slots_off != SHMQI_LAT_SLOTS_OFF ||
	    shape_of(l.entries, l.per_entry, &want) < 0 || l.hist_size != want.hist_size ||
	    l.slot_size != want.slot_size || l.entries == 0 ||
	    l.entries > (seg->size - SHMQI_LAT_SLOTS_OFF) / l.slot_size)
		goto bad;
	*ret = l;
	return 0;
bad:
	shmqi_detail("a latency segment of another shape");
	return -EPROTO;
}

static struct shmqi_lat_slot *slot_at(const struct shmqi_seg *seg, const struct shmqi_lat *l,
				      uint32_t i)
{
	return (struct shmqi_lat_slot *)(seg->base + l->slots_off + (uint64_t)i * l->slot_size);
}

static void *hist_at(struct shmqi_lat_slot *s, const struct shmqi_lat *l, unsigned which)
{
	return (uint8_t *)s + sizeof(*s) + (uint64_t)which * l->hist_size;
}

/* The mode of the object's own file, so that whoever may read it may read its latency. */
static unsigned object_mode(const shmq_bus *bus, const char *name)
{
	char path[LAT_PATH_MAX];
	struct stat st;

	shmqi_seg_file(bus, name, path, sizeof(path));
	return stat(path, &st) == 0 ? (st.st_mode & 0666) : 0600;
}

static int open_seg(const shmq_bus *bus, const char *name, struct lat_shape *shape, bool create,
		    struct shmqi_seg *seg, struct shmqi_lat *l)
{
	char path[LAT_PATH_MAX];
	int r;

	r = lat_path(bus, name, path, sizeof(path));
	if (r < 0)
		return r;
	r = shmqi_seg_open(path, SHMQI_KIND_LAT,
			   SHMQI_LAT_SLOTS_OFF + (size_t)shape->entries * shape->slot_size,
			   create ? object_mode(bus, name) : 0,
			   create ? SHMQI_SEG_CREATE : SHMQI_SEG_RDONLY, lat_init, shape, seg);
	if (r < 0)
		return r;
	r = check_body(seg, l);
	if (r < 0)
		shmqi_seg_close(seg);
	return r;
}

/*
 * Open the side segment for a recorder. One of another shape was left by an object of the
 * same name that was removed without it (its file alone unlinked): it is replaced, once.
 */
static int open_for_recording(const shmq_bus *bus, const char *name, struct lat_shape *shape,
			      uint32_t entry, struct shmqi_seg *seg, struct shmqi_lat *l)
{
	for (int tries = 0;; tries++) {
		int r = open_seg(bus, name, shape, true, seg, l);

		if (r < 0)
			return r;
		if (l->entries == shape->entries && l->per_entry == shape->per_entry &&
		    entry < l->entries)
			return 0;
		shmqi_seg_close(seg);
		if (tries) {
			shmqi_detail("the latency segment has %u slots of %u histograms",
				     l->entries, l->per_entry);
			return -EPROTO;
		}
		shmqi_lat_unlink(bus, name);
	}
}

int shmqi_lat_start(const shmq_bus *bus, const char *name, uint32_t entries, uint32_t per_entry,
		    uint32_t entry, struct shmqi_lat_rec *ret)
{
	struct lat_shape shape;
	struct shmqi_lat l;
	unsigned i;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = shape_of(entries, per_entry, &shape);
	if (r < 0)
		return r;
	r = open_for_recording(bus, name, &shape, entry, &ret->seg, &l);
	if (r < 0)
		return r;
	ret->slot = slot_at(&ret->seg, &l, entry);
	/* relaxed: readers look at the histograms only after L1 below */
	atomic_store_explicit(&ret->slot->pid, 0, memory_order_relaxed);
	for (i = 0; i < per_entry; i++) {
		r = shmq_hist_shm_init(hist_at(ret->slot, &l, i), l.hist_size,
				       SHMQ_LATENCY_LOWEST_NS, SHMQ_LATENCY_HIGHEST_NS,
				       SHMQ_LATENCY_SIGFIGS, 0, &ret->h[i]);
		if (r < 0)
			goto err_hists;
	}
	atomic_store_explicit(&ret->slot->since_ns, shmqi_wall_ns(), memory_order_relaxed);
	/* L1: pairs with the acquire load of pid in read_slot(). */
	atomic_store_explicit(&ret->slot->pid, (int32_t)getpid(), memory_order_release);
	return 0;

err_hists:
	while (i--)
		shmq_hist_shm_close(ret->h[i]);
	shmqi_seg_close(&ret->seg);
	memset(ret, 0, sizeof(*ret));
	return r;
}

void shmqi_lat_stop(struct shmqi_lat_rec *r, bool mine)
{
	if (!r->slot)
		return;
	if (mine) /* relaxed: a reader that still sees our pid reads a finished histogram */
		atomic_store_explicit(&r->slot->pid, 0, memory_order_relaxed);
	shmq_hist_shm_close(r->h[0]);
	shmq_hist_shm_close(r->h[1]);
	shmqi_seg_close(&r->seg);
	memset(r, 0, sizeof(*r));
}

void shmqi_lat_unlink(const shmq_bus *bus, const char *name)
{
	char path[LAT_PATH_MAX];

	if (lat_path(bus, name, path, sizeof(path)) == 0)
		(void)shm_unlink(path);
}

/* ---- readers ---- */

/* Merge slot @i's histogram @which into @*acc (made at the first). Return: 1, 0 (none). */
static int read_slot(const struct shmqi_seg *seg, const struct shmqi_lat *l, uint32_t i,
		     unsigned which, shmq_hist **acc, pid_t *ret_pid)
{
	struct shmqi_lat_slot *s = slot_at(seg, l, i);
	shmq_hist_shm *hs;
	shmq_hist *h;
	int32_t pid;
	int r;

	/* L1: pairs with the release store of pid in shmqi_lat_start() */
	pid = atomic_load_explicit(&s->pid, memory_order_acquire);
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH)) /* none, or it died recording */
		return 0;
	r = shmq_hist_shm_attach(hist_at(s, l, which), l->hist_size, 0, &hs);
	if (r < 0) /* being set up again by a new owner */
		return 0;
	r = shmq_hist_shm_snapshot(hs, &h);
	shmq_hist_shm_close(hs);
	/* L1 again: a new owner that took the slot meanwhile may have reset it under us */
	if (atomic_load_explicit(&s->pid, memory_order_acquire) != pid) {
		if (r == 0)
			shmq_hist_free(h);
		return 0;
	}
	if (r < 0)
		return r == -EAGAIN ? 0 : r;
	if (*acc) {
		(void)shmq_hist_add(*acc, h);
		shmq_hist_free(h);
	} else {
		*acc = h;
	}
	*ret_pid = pid;
	return 1;
}

static int map_reader(shmq_bus *bus, const char *topic, const char *group, struct shmqi_seg *seg,
		      struct shmqi_lat *l)
{
	char name[LAT_PATH_MAX];
	struct lat_shape shape = { 0 };

	if (!bus || !shmqi_valid_name(topic) || (group && !shmqi_valid_name(group)))
		return -EINVAL;
	snprintf(name, sizeof(name), group ? "%s@%s" : "%s", topic, group);
	return open_seg(bus, name, &shape, false, seg, l);
}

SHMQ_API int shmq_latency_entries(shmq_bus *bus, const char *topic, const char *group)
{
	struct shmqi_seg seg;
	struct shmqi_lat l;
	int r;

	shmqi_detail_clear();
	r = map_reader(bus, topic, group, &seg, &l);
	if (r < 0)
		return r;
	shmqi_seg_close(&seg);
	return (int)l.entries;
}

SHMQ_API int shmq_latency_read(shmq_bus *bus, const char *topic, const char *group, uint32_t entry,
			       unsigned which, pid_t *ret_pid, shmq_hist **ret_hist)
{
	struct shmqi_seg seg;
	struct shmqi_lat l;
	shmq_hist *acc = NULL;
	pid_t pid = 0;
	uint32_t i;
	int r, n = 0;

	shmqi_detail_clear();
	if (!ret_hist || which > SHMQ_LATENCY_PROCESSING)
		return -EINVAL;
	r = map_reader(bus, topic, group, &seg, &l);
	if (r < 0)
		return r;
	r = -ENOENT;
	if (which >= l.per_entry && group == NULL)
		shmqi_detail("subscribers have no processing time: only group members");
	if (which >= l.per_entry || (entry != SHMQ_LATENCY_ALL && entry >= l.entries))
		goto out;
	for (i = entry == SHMQ_LATENCY_ALL ? 0 : entry; i < l.entries; i++) {
		r = read_slot(&seg, &l, i, which, &acc, &pid);
		if (r < 0)
			goto out;
		n += r;
		if (entry != SHMQ_LATENCY_ALL)
			break;
	}
	r = n ? 0 : -ENOENT;
	if (r < 0)
		shmqi_detail("no live subscriber or member records latency there");
	if (r == 0) {
		if (ret_pid)
			*ret_pid = entry == SHMQ_LATENCY_ALL ? 0 : pid;
		*ret_hist = acc;
		acc = NULL;
	}
out:
	shmq_hist_free(acc);
	shmqi_seg_close(&seg);
	return r;
}
