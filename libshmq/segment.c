// SPDX-License-Identifier: MIT
/* segment.c - create or attach named POSIX shared-memory segments with a published header. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "shm_layout.h"

#define ATTACH_POLL_NS 100000L /* 100 us between looks at a segment being created */
#define OPEN_TRIES 8 /* create/attach rounds when others create and unlink meanwhile */

/* What each kind is called, and the layout version of its body that this library speaks. */
static const struct {
	const char *name;
	uint32_t layout;
} kinds[] = {
	[SHMQI_KIND_CHANNEL] = { "channel", SHMQI_CHAN_LAYOUT },
	[SHMQI_KIND_TOPIC] = { "topic", SHMQI_TOPIC_LAYOUT },
	[SHMQI_KIND_GROUP] = { "consumer group", SHMQI_GROUP_LAYOUT },
	[SHMQI_KIND_CLOCK] = { "clock page", SHMQI_CLOCK_LAYOUT },
	[SHMQI_KIND_LAT] = { "latency histograms", SHMQI_LAT_LAYOUT },
	[SHMQI_KIND_PARTS] = { "partition assignment", SHMQI_PARTS_LAYOUT },
};

const char *shmqi_kind_name(uint32_t kind)
{
	return kind < sizeof(kinds) / sizeof(kinds[0]) ? kinds[kind].name : NULL;
}

uint32_t shmqi_kind_layout(uint32_t kind)
{
	return shmqi_kind_name(kind) ? kinds[kind].layout : 0;
}

static void nap(void)
{
	struct timespec ts = { 0, ATTACH_POLL_NS };

	nanosleep(&ts, NULL);
}

static int map_fd(int fd, size_t size, bool rdonly, uint8_t **ret_base)
{
	void *p = mmap(NULL, size, rdonly ? PROT_READ : PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*ret_base = p;
	return 0;
}

/* Reserve the memory now, so that a full /dev/shm is -ENOSPC here rather than SIGBUS later. */
static int size_fd(int fd, size_t size)
{
	int r;

	do {
		r = posix_fallocate(fd, 0, (off_t)size);
	} while (r == EINTR);
	if (r == EFBIG)
		r = ENOSPC;
	return -r;
}

static int create_seg(const char *path, uint32_t kind, size_t size, unsigned mode,
		      shmqi_seg_init_fn init, void *init_arg, struct shmqi_seg *seg)
{
	struct shmqi_seg_hdr *hdr;
	int fd, r;

	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = size_fd(fd, size);
	if (r == 0 && fchmod(fd, mode) < 0) /* the umask must not narrow the asked-for mode */
		r = -errno;
	if (r == 0)
		r = map_fd(fd, size, false, &seg->base);
	close(fd);
	if (r < 0)
		goto err_unlink;
	seg->size = size;
	hdr = (struct shmqi_seg_hdr *)seg->base;
	hdr->magic = SHMQI_MAGIC;
	hdr->kind = kind;
	hdr->size = size;
	hdr->creator_pid = (int32_t)getpid();
	hdr->created_ns = shmqi_wall_ns();
	hdr->kind_layout = shmqi_kind_layout(kind);
	r = init(seg, init_arg);
	if (r < 0)
		goto err_unmap;
	/* R0: pairs with A0 in wait_published(): publishes the header and the body. */
	atomic_store_explicit(&hdr->layout, SHMQI_HDR_LAYOUT, memory_order_release);
	seg->created = true;
	return 0;

err_unmap:
	munmap(seg->base, size);
err_unlink:
	shm_unlink(path);
	return r;
}

/* Wait until the creator has sized the file; -ENOENT if it was unlinked meanwhile. */
static int wait_sized(int fd, uint64_t deadline, size_t *ret_size)
{
	struct stat st;

	for (;;) {
		if (fstat(fd, &st) < 0)
			return -errno;
		if (st.st_nlink == 0)
			return -ENOENT;
		if ((uint64_t)st.st_size >= sizeof(struct shmqi_seg_hdr))
			break;
		if (shmqi_now_ns() > deadline) {
			shmqi_detail("the file is %lld bytes, too small for a header, after 2 s",
				     (long long)st.st_size);
			return -EPROTO;
		}
		nap();
	}
	if ((uint64_t)st.st_size > SIZE_MAX)
		return -EPROTO;
	*ret_size = (size_t)st.st_size;
	return 0;
}

static int wait_published(const struct shmqi_seg_hdr *hdr, uint64_t deadline)
{
	uint32_t layout;

	/* A0: pairs with R0 in create_seg(): the header fields are complete once non-zero. */
	while ((layout = atomic_load_explicit(&hdr->layout, memory_order_acquire)) == 0) {
		if (shmqi_now_ns() > deadline) {
			shmqi_detail("the header was not published within 2 s (its creator died "
				     "or is stuck)");
			return -EPROTO;
		}
		nap();
	}
	if (layout == SHMQI_HDR_LAYOUT)
		return 0;
	/* Published (A0), so the magic is complete: say which of the two is wrong. */
	if (hdr->magic != SHMQI_MAGIC)
		shmqi_detail("not a shmq segment (wrong magic)");
	else
		shmqi_detail("segment header layout version %u; this library speaks %u", layout,
			     SHMQI_HDR_LAYOUT);
	return -EPROTO;
}

/* Is the body of our kind laid out as this library lays it out? */
static int check_kind_layout(const struct shmqi_seg_hdr *hdr, uint32_t kind)
{
	if (hdr->kind_layout == shmqi_kind_layout(kind))
		return 0;
	shmqi_detail("%s layout version %u; this library speaks %u", shmqi_kind_name(kind),
		     hdr->kind_layout, shmqi_kind_layout(kind));
	return -EPROTO;
}

/*
 * A segment of another kind we know is -EPROTOTYPE (whatever its layout version); anything
 * else amiss, our kind in another layout version included, is -EPROTO.
 */
static int check_hdr(const struct shmqi_seg_hdr *hdr, uint32_t kind, size_t size)
{
	const char *is;

	if (hdr->magic != SHMQI_MAGIC) {
		shmqi_detail("not a shmq segment (wrong magic)");
		return -EPROTO;
	}
	if (hdr->size != size || hdr->body_off < sizeof(*hdr) || hdr->body_off >= size) {
		shmqi_detail("corrupt header: size %llu and body offset %u, in a file of %zu bytes",
			     (unsigned long long)hdr->size, hdr->body_off, size);
		return -EPROTO;
	}
	if (hdr->kind == kind)
		return check_kind_layout(hdr, kind);
	is = shmqi_kind_name(hdr->kind);
	if (!is) {
		shmqi_detail("unknown kind %u", hdr->kind);
		return -EPROTO;
	}
	if (hdr->kind == SHMQI_KIND_CLOCK) { /* not an object of a namespace: no name clash */
		shmqi_detail("the file is a %s, opened as a %s", is, shmqi_kind_name(kind));
		return -EPROTO;
	}
	shmqi_detail("the object is a %s, opened as a %s", is, shmqi_kind_name(kind));
	return -EPROTOTYPE;
}

/* Attach to @path; @rdonly: opened and mapped for reading only (a look, never a write). */
static int attach_seg(const char *path, uint32_t kind, bool rdonly, struct shmqi_seg *seg)
{
	uint64_t deadline = shmqi_now_ns() + SHMQI_ATTACH_WAIT_NS;
	const struct shmqi_seg_hdr *hdr;
	size_t size = 0;
	int fd, r;

	fd = shm_open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = wait_sized(fd, deadline, &size);
	if (r == 0)
		r = map_fd(fd, size, rdonly, &seg->base);
	close(fd);
	if (r < 0)
		return r;
	hdr = (const struct shmqi_seg_hdr *)seg->base;
	r = wait_published(hdr, deadline);
	if (r == 0)
		r = check_hdr(hdr, kind, size);
	if (r < 0) {
		munmap(seg->base, size);
		return r;
	}
	seg->size = size;
	seg->created = false;
	return 0;
}

int shmqi_seg_open(const char *path, uint32_t kind, size_t size, unsigned mode, unsigned flags,
		   shmqi_seg_init_fn init, void *init_arg, struct shmqi_seg *ret_seg)
{
	struct shmqi_seg seg = { 0 };
	int r = -ENOENT, i;

	assert(path && ret_seg && (init || !(flags & SHMQI_SEG_CREATE))); /* init: to create */
	for (i = 0; i < OPEN_TRIES; i++) {
		if (flags & SHMQI_SEG_CREATE) {
			r = create_seg(path, kind, size, mode, init, init_arg, &seg);
			if (r != -EEXIST || (flags & SHMQI_SEG_EXCL))
				break;
		}
		r = attach_seg(path, kind, flags & SHMQI_SEG_RDONLY, &seg);
		if (r != -ENOENT || !(flags & SHMQI_SEG_CREATE))
			break;
	}
	if (r < 0)
		return r;
	*ret_seg = seg;
	return 0;
}

void shmqi_seg_close(struct shmqi_seg *seg)
{
	if (!seg || !seg->base)
		return;
	munmap(seg->base, seg->size);
	seg->base = NULL;
}
