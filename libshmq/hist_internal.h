/* SPDX-License-Identifier: MIT */
/* hist_internal.h - the HDR histogram's private structures, bucket math and shared layout. */
#ifndef SHMQ_HIST_INTERNAL_H
#define SHMQ_HIST_INTERNAL_H

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmq.h"

/*
 * The derived layout of a configuration (HdrHistogram's): sub_bucket_count is the power of
 * two at or above 2 * 10^sigfigs; bucket 0 uses all of its sub-buckets, every later bucket
 * only the top half (its bottom half is covered, at finer resolution, by the buckets below).
 */
struct shmqi_hist_cfg {
	int64_t lowest;
	int64_t highest;
	int64_t sub_bucket_mask; /* (sub_bucket_count - 1) << unit_magnitude */
	int32_t sigfigs;
	int32_t unit_magnitude; /* floor(log2(lowest)) */
	int32_t sub_bucket_half_count_magnitude;
	int32_t sub_bucket_count;
	int32_t sub_bucket_half_count;
	int32_t bucket_count;
	int32_t counts_len; /* (bucket_count + 1) * sub_bucket_half_count */
	int32_t leading_zero_count_base; /* 64 - unit_magnitude - half_count_magnitude - 1 */
};

struct shmq_hist {
	struct shmqi_hist_cfg cfg;
	uint64_t total;
	uint64_t out_of_range;
	int64_t min_value; /* smallest value recorded, INT64_MAX when none */
	int64_t max_value; /* largest value recorded, 0 when none */
	uint64_t counts[];
};

/* hist.c */
int shmqi_hist_cfg_init(struct shmqi_hist_cfg *cfg, int64_t lowest, int64_t highest, int sigfigs);
int shmqi_hist_alloc(const struct shmqi_hist_cfg *cfg, shmq_hist **ret_hist);
int64_t shmqi_hist_value_from_index(const struct shmqi_hist_cfg *cfg, int32_t index);
int64_t shmqi_hist_highest_equiv(const struct shmqi_hist_cfg *cfg, int64_t value);
int64_t shmqi_hist_lowest_equiv(const struct shmqi_hist_cfg *cfg, int64_t value);
/* Recompute total, min and max from the counts; -EOVERFLOW when the sum overflows. */
int shmqi_hist_recount(shmq_hist *h);

static inline int32_t shmqi_hist_bucket_index(const struct shmqi_hist_cfg *cfg, int64_t value)
{
	/* value | mask is never 0, so clzll is defined; small values fall in bucket 0 */
	return cfg->leading_zero_count_base -
	       __builtin_clzll((uint64_t)value | (uint64_t)cfg->sub_bucket_mask);
}

/* The counts index of a value >= 0; may be >= counts_len for values above the range. */
static inline int64_t shmqi_hist_index(const struct shmqi_hist_cfg *cfg, int64_t value)
{
	int32_t bucket = shmqi_hist_bucket_index(cfg, value);
	int64_t sub = value >> (bucket + cfg->unit_magnitude);

	return ((int64_t)(bucket + 1) << cfg->sub_bucket_half_count_magnitude) +
	       (sub - cfg->sub_bucket_half_count);
}

/* V2 codec limits (hist_codec.c). */
#define SHMQI_HIST_V2_HEADER 40u
#define SHMQI_HIST_V2_MAX_WORD 9u

/*
 * The shared-memory histogram (hist_shm.c). It lives at the start of a caller-provided,
 * 64-byte aligned region: this header, then counts_len atomic 64-bit counts at counts_off.
 *
 * The initialiser fills every cold field and zeroes the counts, then stores @layout last
 * with release (R0 in hist_shm.c); an attacher loads @layout with acquire (A0) before any
 * other field. Only the recording owner writes to the region after that.
 */
#define SHMQI_HIST_MAGIC 0x3154534948514d53ull /* "SMQHIST1" little-endian */
#define SHMQI_HIST_LAYOUT_VERSION 1u
#define SHMQI_HIST_ALIGN 64u

struct shmqi_hist_shm {
	/* cold: written once before R0 */
	uint64_t magic; /* SHMQI_HIST_MAGIC */
	_Atomic uint32_t layout; /* SHMQI_HIST_LAYOUT_VERSION; 0 while being initialised */
	int32_t sigfigs;
	int64_t lowest;
	int64_t highest;
	uint64_t size; /* bytes the histogram occupies, counts included */
	uint32_t counts_off; /* from the header's start */
	uint32_t counts_len;
	/* hot: written by the recording owner only */
	alignas(128) _Atomic uint64_t epoch; /* odd while a reset runs (a seqlock) */
	_Atomic uint64_t total; /* published after each count, release (R1) */
	_Atomic uint64_t out_of_range;
};
static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
static_assert(sizeof(_Atomic uint64_t) == 8, "atomic u64 must be plain-sized");
static_assert(offsetof(struct shmqi_hist_shm, magic) == 0, "hist magic offset");
static_assert(offsetof(struct shmqi_hist_shm, layout) == 8, "hist layout offset");
static_assert(offsetof(struct shmqi_hist_shm, sigfigs) == 12, "hist sigfigs offset");
static_assert(offsetof(struct shmqi_hist_shm, lowest) == 16, "hist lowest offset");
static_assert(offsetof(struct shmqi_hist_shm, highest) == 24, "hist highest offset");
static_assert(offsetof(struct shmqi_hist_shm, size) == 32, "hist size offset");
static_assert(offsetof(struct shmqi_hist_shm, counts_off) == 40, "hist counts_off offset");
static_assert(offsetof(struct shmqi_hist_shm, counts_len) == 44, "hist counts_len offset");
static_assert(offsetof(struct shmqi_hist_shm, epoch) == 128, "hist epoch offset");
static_assert(offsetof(struct shmqi_hist_shm, total) == 136, "hist total offset");
static_assert(offsetof(struct shmqi_hist_shm, out_of_range) == 144, "hist oor offset");
static_assert(sizeof(struct shmqi_hist_shm) == 256, "hist shared header size");

#define SHMQI_HIST_COUNTS_OFF 256u
static_assert(SHMQI_HIST_COUNTS_OFF >= sizeof(struct shmqi_hist_shm), "counts after header");

#endif /* SHMQ_HIST_INTERNAL_H */
