// SPDX-License-Identifier: MIT
/* inspect.c - looking at a namespace by name: the listing of its objects, a topic's reaping. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topic_internal.h"

#define HDR_READS 4 /* reads of a header that keeps changing, before it counts as unpublished */

const char *shmq_kind_name(unsigned kind)
{
	switch (kind) {
	case SHMQ_KIND_CHANNEL:
		return "channel";
	case SHMQ_KIND_TOPIC:
		return "topic";
	case SHMQ_KIND_GROUP:
		return "consumer group";
	default:
		return "unknown";
	}
}

static_assert(SHMQ_KIND_CHANNEL == SHMQI_KIND_CHANNEL && SHMQ_KIND_TOPIC == SHMQI_KIND_TOPIC &&
		      SHMQ_KIND_GROUP == SHMQI_KIND_GROUP,
	      "public kinds are the header's");

/* ---- the listing ---- */

/* @o is not an object we can open: why, as an errno and a note. Return: @err. */
static int unknown(struct shmq_object_info *o, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int unknown(struct shmq_object_info *o, int err, const char *fmt, ...)
{
	va_list ap;

	o->error = err;
	va_start(ap, fmt);
	vsnprintf(o->note, sizeof(o->note), fmt, ap);
	va_end(ap);
	return err;
}

/*
 * The header, read with pread() (no mapping: a file truncated meanwhile cannot fault us)
 * until two reads agree, since a creator may be writing it: a published header never
 * changes. Return: 0, or -EINPROGRESS (it kept changing), -errno of the read.
 */
static int read_hdr(int fd, struct shmqi_seg_hdr *hdr)
{
	struct shmqi_seg_hdr again;
	ssize_t n;
	int i;

	for (i = 0; i < HDR_READS; i++) {
		n = pread(fd, hdr, sizeof(*hdr), 0);
		if (n < 0)
			return -errno;
		if ((size_t)n < sizeof(*hdr))
			return -ENODATA;
		n = pread(fd, &again, sizeof(again), 0);
		if (n == (ssize_t)sizeof(again) && memcmp(hdr, &again, sizeof(again)) == 0)
			return 0;
	}
	return -EINPROGRESS;
}

/* Can a @kind have this name? Groups are "TOPIC@GROUP", the others a name without '@'. */
static bool name_fits(uint32_t kind, const char *name)
{
	const char *at = strchr(name, '@');
	char topic[SHMQ_OBJECT_NAME_MAX + 1];

	if (kind != SHMQI_KIND_GROUP)
		return !at && shmqi_valid_name(name);
	if (!at || (size_t)(at - name) >= sizeof(topic) || strlen(at + 1) > SHMQ_GROUP_NAME_MAX)
		return false;
	memcpy(topic, name, (size_t)(at - name));
	topic[at - name] = '\0';
	return shmqi_valid_name(topic) && shmqi_valid_name(at + 1);
}

/*
 * What the header says @o is; @o->kind stays UNKNOWN unless it is a header we speak.
 * Return: 0 when we can open it, else why not (as @o->error).
 */
static int judge_hdr(struct shmq_object_info *o, const struct shmqi_seg_hdr *h)
{
	/* relaxed: a private copy, read whole by read_hdr() */
	uint32_t layout = atomic_load_explicit(&h->layout, memory_order_relaxed);

	if (h->magic != SHMQI_MAGIC)
		return unknown(o, -EPROTO, "not a shmq segment (wrong magic)");
	if (layout == 0)
		return unknown(o, -EINPROGRESS,
			       "header not published (being made, or its maker died)");
	if (layout != SHMQI_HDR_LAYOUT)
		return unknown(o, -EPROTO,
			       "segment header layout version %u; this library speaks %u", layout,
			       SHMQI_HDR_LAYOUT);
	if (h->kind == SHMQI_KIND_CLOCK)
		return unknown(o, -EPROTO, "a clock page's header, under an object's name");
	if (h->kind < SHMQI_KIND_CHANNEL || h->kind > SHMQI_KIND_GROUP)
		return unknown(o, -EPROTO, "unknown kind %u", h->kind);
	if (!name_fits(h->kind, o->name))
		return unknown(o, -EPROTO, "a %s header under a name no %s has",
			       shmqi_kind_name(h->kind), shmqi_kind_name(h->kind));
	o->kind = h->kind;
	o->creator_pid = h->creator_pid;
	o->created_ns = h->created_ns;
	if (h->size != o->size || h->body_off < sizeof(*h) || h->body_off >= o->size)
		return unknown(o, -EPROTO, "corrupt header: size %llu, body offset %u, file %llu",
			       (unsigned long long)h->size, h->body_off,
			       (unsigned long long)o->size);
	if (h->kind_layout != shmqi_kind_layout(h->kind))
		return unknown(o, -EPROTO, "%s layout version %u; this library speaks %u",
			       shmqi_kind_name(h->kind), h->kind_layout,
			       shmqi_kind_layout(h->kind));
	return 0;
}

/* The note for an error of open(), fstat() or pread(). */
static const char *sys_note(int err)
{
	if (err == -ELOOP)
		return "a symbolic link";
	if (err == -EACCES)
		return "permission denied";
	return shmq_strerror(err);
}

/*
 * Look at the file @o->name of the namespace (@dir: /dev/shm, @file: its name there).
 * Return: 0 when we can open it, else why not (as @o->error).
 */
static int look(int dir, const char *file, struct shmq_object_info *o)
{
	struct shmqi_seg_hdr h;
	struct stat st;
	int fd, r;

	/* Never follow a link, never wait on a FIFO, never become a terminal's reader. */
	fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return unknown(o, -errno, "%s", sys_note(-errno));
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return unknown(o, r, "%s", sys_note(r));
	}
	o->size = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return unknown(o, -EPROTO, "not a regular file");
	}
	r = read_hdr(fd, &h);
	close(fd);
	if (r == -ENODATA)
		return unknown(o, -EPROTO, "%llu bytes, too small for a header",
			       (unsigned long long)st.st_size);
	if (r == -EINPROGRESS)
		return unknown(o, r, "header changing (being made)");
	if (r < 0)
		return unknown(o, r, "%s", sys_note(r));
	return judge_hdr(o, &h);
}

int shmqi_object_look(const shmq_bus *bus, const char *name, struct shmq_object_info *o)
{
	char path[sizeof(SHMQI_SHM_DIR) + SHMQI_PATH_MAX];

	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	shmqi_seg_file(bus, name, path, sizeof(path));
	return look(AT_FDCWD, path, o);
}

struct listing {
	struct shmq_object_info *v;
	size_t n, cap;
};

static struct shmq_object_info *add(struct listing *l)
{
	struct shmq_object_info *v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

/* Every file named @prefix* in /dev/shm, looked at, into @l. */
static int scan(const char *prefix, struct listing *l)
{
	size_t plen = strlen(prefix);
	struct shmq_object_info *o;
	struct dirent *de;
	DIR *d = opendir(SHMQI_SHM_DIR);
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, plen) != 0 || !de->d_name[plen])
			continue;
		/* a topic's or group's latency histograms ("~lat"): part of it, not an object */
		if (strchr(de->d_name + plen, '~'))
			continue;
		o = add(l);
		if (!o) {
			r = -ENOMEM;
			break;
		}
		snprintf(o->name, sizeof(o->name), "%s", de->d_name + plen);
		look(dirfd(d), de->d_name, o);
	}
	closedir(d);
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct shmq_object_info *)a)->name,
		      ((const struct shmq_object_info *)b)->name);
}

int shmq_bus_list(shmq_bus *bus, struct shmq_object_info *objs, size_t max)
{
	struct listing l = { 0 };
	char prefix[8 + SHMQ_NAMESPACE_MAX];
	int r;

	shmqi_detail_clear();
	if (!bus || (!objs && max))
		return -EINVAL;
	snprintf(prefix, sizeof(prefix), "shmq.%s.", bus->ns);
	r = scan(prefix, &l);
	if (r == 0) {
		if (l.n) /* none: no array, which qsort() may not be given */
			qsort(l.v, l.n, sizeof(l.v[0]), by_name);
		if (max > l.n)
			max = l.n;
		if (max)
			memcpy(objs, l.v, max * sizeof(objs[0]));
		r = l.n > INT32_MAX ? INT32_MAX : (int)l.n;
	}
	free(l.v);
	shmqi_detail_clear(); /* the name checks fill it; a listing that worked leaves none */
	return r;
}

/* ---- reaping a topic's dead entries ---- */

/*
 * Before dead producers' entries are freed: when there are some and no live producer,
 * parked subscribers get -EPIPE, as for a last close, unless the topic says closed already
 * (a subscriber that joined since then waits for a producer, and must go on waiting). The
 * close comes before the free, so a reaper killed in between leaves the dead entries for the
 * next reap to find and close for; after it, the topic is rightly closed. A producer that
 * opens meanwhile clears the close if its open reads it; if its open read the word before
 * our close, its take (seq_cst) came before our recount (seq_cst) after the free, which sees
 * it, and we undo our close. Return: the close to undo, or 0.
 */
static uint32_t close_for_dead(struct shmqi_tmap *t)
{
	if (shmqi_owner_scan(t->prods, sizeof(*t->prods), t->max_prods, false, NULL, NULL) == 0 ||
	    shmqi_count_prods(t) != 0)
		return 0;
	return shmqi_wait_close_dead(&t->ctl->wait);
}

int shmq_topic_reap(shmq_bus *bus, const char *name, uint32_t *ret_subs, uint32_t *ret_prods)
{
	struct shmqi_tmap t = { 0 };
	uint32_t subs, prods, skipped, closed;
	int r;

	shmqi_detail_clear();
	r = shmqi_topic_map(bus, name, 0, NULL, &t);
	if (r < 0)
		return r;
	subs = shmqi_reap_dead_subs(&t);
	/* Before the producer entries are freed: a freed one may be taken, and its claim
	 * cleared, by a producer that opens meanwhile, and we would not see where to look. */
	skipped = shmqi_skip_dead_claims(&t);
	closed = close_for_dead(&t);
	prods = shmqi_reap_dead_prods(&t);
	if (skipped) /* W1: the skips are published (R1); subscribers parked at them go on */
		shmqi_notify(&t.ctl->park_state, &t.ctl->wait);
	if (closed && shmqi_count_prods(&t) != 0)
		shmqi_wait_reopen(&t.ctl->wait, closed);
	shmqi_seg_close(&t.seg);
	if (ret_subs)
		*ret_subs = subs;
	if (ret_prods)
		*ret_prods = prods;
	return (int)(subs + prods);
}
