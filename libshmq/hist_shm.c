// SPDX-License-Identifier: MIT
/* hist_shm.c - an HDR histogram in caller-provided shared memory: one recorder, many readers. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "hist_internal.h"
#include "internal.h"

/* Snapshot attempts while the owner keeps resetting, before -EAGAIN. */
#define SNAPSHOT_TRIES 64

struct shmq_hist_shm {
	struct shmqi_hist_shm *hdr;
	_Atomic uint64_t *counts;
	struct shmqi_hist_cfg cfg; /* private copy: never re-read from shared memory */
	bool recorder;
};

static size_t shm_bytes(const struct shmqi_hist_cfg *cfg)
{
	size_t bytes = SHMQI_HIST_COUNTS_OFF + (size_t)cfg->counts_len * sizeof(uint64_t);

	return (bytes + 127) & ~(size_t)127;
}

SHMQ_API int shmq_hist_shm_size(int64_t lowest, int64_t highest, int sigfigs, size_t *ret_size)
{
	struct shmqi_hist_cfg cfg;
	int r;

	if (!ret_size)
		return -EINVAL;
	r = shmqi_hist_cfg_init(&cfg, lowest, highest, sigfigs);
	if (r < 0)
		return r;
	*ret_size = shm_bytes(&cfg);
	return 0;
}

static int handle_new(void *mem, const struct shmqi_hist_cfg *cfg, bool recorder,
		      shmq_hist_shm **ret_shm)
{
	shmq_hist_shm *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->hdr = mem;
	s->counts = (_Atomic uint64_t *)((uint8_t *)mem + SHMQI_HIST_COUNTS_OFF);
	s->cfg = *cfg;
	s->recorder = recorder;
	*ret_shm = s;
	return 0;
}

SHMQ_API int shmq_hist_shm_init(void *mem, size_t size, int64_t lowest, int64_t highest,
				int sigfigs, unsigned flags, shmq_hist_shm **ret_shm)
{
	struct shmqi_hist_shm *hdr = mem;
	struct shmqi_hist_cfg cfg;
	int r;

	if (!mem || !ret_shm || flags || (uintptr_t)mem % SHMQI_HIST_ALIGN)
		return -EINVAL;
	r = shmqi_hist_cfg_init(&cfg, lowest, highest, sigfigs);
	if (r < 0)
		return r;
	if (size < shm_bytes(&cfg))
		return -EMSGSIZE;
	/* unpublish first, so that an attacher never reads a half-written header */
	atomic_store_explicit(&hdr->layout, 0, memory_order_relaxed);
	memset((uint8_t *)mem + sizeof(hdr->magic) + sizeof(hdr->layout), 0,
	       shm_bytes(&cfg) - sizeof(hdr->magic) - sizeof(hdr->layout));
	hdr->magic = SHMQI_HIST_MAGIC;
	hdr->sigfigs = sigfigs;
	hdr->lowest = lowest;
	hdr->highest = highest;
	hdr->size = shm_bytes(&cfg);
	hdr->counts_off = SHMQI_HIST_COUNTS_OFF;
	hdr->counts_len = (uint32_t)cfg.counts_len;
	/* R0: pairs with A0 in shmq_hist_shm_attach(): the header and zeroed counts first */
	atomic_store_explicit(&hdr->layout, SHMQI_HIST_LAYOUT, memory_order_release);
	return handle_new(mem, &cfg, true, ret_shm);
}

/* Not our layout word: say whether it is none, not a histogram, or another version. */
static int bad_layout(const struct shmqi_hist_shm *hdr, uint32_t layout)
{
	if (layout == 0)
		shmqi_detail("the histogram is not initialised (its layout word is 0)");
	else if (hdr->magic != SHMQI_HIST_MAGIC) /* published (A0): the header is complete */
		shmqi_detail("not a shared histogram (wrong magic)");
	else
		shmqi_detail("histogram layout version %u; this library speaks %u", layout,
			     SHMQI_HIST_LAYOUT);
	return -EPROTO;
}

/* Everything in the header is checked against itself and against @size. */
static int validate(const struct shmqi_hist_shm *hdr, size_t size, struct shmqi_hist_cfg *cfg)
{
	if (hdr->magic != SHMQI_HIST_MAGIC)
		return -EPROTO;
	if (shmqi_hist_cfg_init(cfg, hdr->lowest, hdr->highest, hdr->sigfigs) < 0)
		return -EPROTO;
	if (hdr->counts_off != SHMQI_HIST_COUNTS_OFF ||
	    hdr->counts_len != (uint32_t)cfg->counts_len)
		return -EPROTO;
	if (hdr->size != shm_bytes(cfg) || hdr->size > size)
		return -EPROTO;
	return 0;
}

SHMQ_API int shmq_hist_shm_attach(const void *mem, size_t size, unsigned flags,
				  shmq_hist_shm **ret_shm)
{
	const struct shmqi_hist_shm *hdr = mem;
	struct shmqi_hist_cfg cfg;
	uint32_t layout;
	int r;

	shmqi_detail_clear();
	if (!mem || !ret_shm || flags || (uintptr_t)mem % SHMQI_HIST_ALIGN)
		return -EINVAL;
	if (size < SHMQI_HIST_COUNTS_OFF)
		return -EPROTO;
	/* A0: pairs with R0 in shmq_hist_shm_init(); read before any other field */
	layout = atomic_load_explicit(&hdr->layout, memory_order_acquire);
	if (layout != SHMQI_HIST_LAYOUT)
		return bad_layout(hdr, layout);
	r = validate(hdr, size, &cfg);
	if (r < 0)
		return r;
	/* the reading handle never writes: the cast only shares the handle type */
	return handle_new((void *)(uintptr_t)mem, &cfg, false, ret_shm);
}

SHMQ_API void shmq_hist_shm_close(shmq_hist_shm *s)
{
	free(s);
}

/*
 * One writer: each count is advanced with a relaxed load and store (no locked
 * instruction); readers only need each word to be atomic. The total is stored after the
 * count with release, so a reader that sees a total also sees every count behind it.
 */
static inline int shm_record(shmq_hist_shm *s, int64_t value, uint64_t n)
{
	struct shmqi_hist_shm *hdr = s->hdr;
	uint64_t c, t;
	int64_t idx;

	if (__builtin_expect(value < 0, 0))
		goto err_range;
	idx = shmqi_hist_index(&s->cfg, value);
	if (__builtin_expect(idx >= s->cfg.counts_len, 0))
		goto err_range;
	c = atomic_load_explicit(&s->counts[idx], memory_order_relaxed); /* own writes only */
	atomic_store_explicit(&s->counts[idx], c + n, memory_order_relaxed);
	t = atomic_load_explicit(&hdr->total, memory_order_relaxed); /* own writes only */
	/* R1: pairs with A1 in take_snapshot() */
	atomic_store_explicit(&hdr->total, t + n, memory_order_release);
	return 0;
err_range:
	t = atomic_load_explicit(&hdr->out_of_range, memory_order_relaxed);
	atomic_store_explicit(&hdr->out_of_range, t + n, memory_order_relaxed); /* a statistic */
	return -ERANGE;
}

SHMQ_API int shmq_hist_shm_record(shmq_hist_shm *s, int64_t value)
{
	if (__builtin_expect(!s || !s->recorder, 0))
		return s ? -EBADF : -EINVAL;
	return shm_record(s, value, 1);
}

SHMQ_API int shmq_hist_shm_record_n(shmq_hist_shm *s, int64_t value, uint64_t count)
{
	if (!s || !s->recorder)
		return s ? -EBADF : -EINVAL;
	return shm_record(s, value, count);
}

SHMQ_API int shmq_hist_shm_reset(shmq_hist_shm *s)
{
	struct shmqi_hist_shm *hdr;
	uint64_t e;

	if (!s || !s->recorder)
		return s ? -EBADF : -EINVAL;
	hdr = s->hdr;
	e = atomic_load_explicit(&hdr->epoch, memory_order_relaxed); /* own writes only */
	/* a seqlock: odd while the counts are being zeroed */
	atomic_store_explicit(&hdr->epoch, e + 1, memory_order_relaxed);
	/* R2: pairs with A3 in take_snapshot(): each zeroing store is a release, so a reader
	 * that sees one also sees the odd epoch stored before it (no fence: TSan models these) */
	for (int32_t i = 0; i < s->cfg.counts_len; i++)
		atomic_store_explicit(&s->counts[i], 0, memory_order_release);
	atomic_store_explicit(&hdr->total, 0, memory_order_release);
	atomic_store_explicit(&hdr->out_of_range, 0, memory_order_release);
	/* R3: pairs with A2 in take_snapshot(): the zeroed counts before the even epoch */
	atomic_store_explicit(&hdr->epoch, e + 2, memory_order_release);
	return 0;
}

/* One attempt: 1 consistent, 0 a reset overlapped (retry), -EPROTO corrupt. */
static int take_snapshot(const shmq_hist_shm *s, shmq_hist *h)
{
	const struct shmqi_hist_shm *hdr = s->hdr;
	uint64_t e1, e2, published;

	/* A2: pairs with R3 in shmq_hist_shm_reset() */
	e1 = atomic_load_explicit(&hdr->epoch, memory_order_acquire);
	if (e1 & 1)
		return 0;
	/* A1: pairs with R1 in shm_record(): every count behind this total is visible */
	published = atomic_load_explicit(&hdr->total, memory_order_acquire);
	/* A3: pairs with R2 in shmq_hist_shm_reset(): acquire loads, so a count zeroed by a
	 * reset that began during the copy makes the epoch reloaded below differ (on x86 these
	 * are plain loads) */
	for (int32_t i = 0; i < s->cfg.counts_len; i++)
		h->counts[i] = atomic_load_explicit(&s->counts[i], memory_order_acquire);
	h->out_of_range = atomic_load_explicit(&hdr->out_of_range, memory_order_acquire);
	/* ordered after the acquire loads above */
	e2 = atomic_load_explicit(&hdr->epoch, memory_order_relaxed);
	if (e1 != e2)
		return 0;
	/* counts only grow between resets: their sum can fall short only if corrupt */
	if (shmqi_hist_recount(h) < 0 || h->total < published)
		return -EPROTO;
	return 1;
}

SHMQ_API int shmq_hist_shm_snapshot(const shmq_hist_shm *s, shmq_hist **ret_hist)
{
	shmq_hist *h;
	int r = 0;

	if (!s || !ret_hist)
		return -EINVAL;
	r = shmqi_hist_alloc(&s->cfg, &h);
	if (r < 0)
		return r;
	for (int i = 0; i < SNAPSHOT_TRIES && r == 0; i++) {
		r = take_snapshot(s, h);
		if (r == 0)
			sched_yield();
	}
	if (r <= 0) {
		shmq_hist_free(h);
		return r < 0 ? r : -EAGAIN;
	}
	*ret_hist = h;
	return 0;
}

SHMQ_API uint64_t shmq_hist_shm_total(const shmq_hist_shm *s)
{
	/* relaxed: a live figure, nothing else is read through it */
	return s ? atomic_load_explicit(&s->hdr->total, memory_order_relaxed) : 0;
}
