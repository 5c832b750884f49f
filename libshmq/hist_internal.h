/* SPDX-License-Identifier: MIT */
/* hist_internal.h - the HDR histogram's private structures and bucket math. */
#ifndef SHMQ_HIST_INTERNAL_H
#define SHMQ_HIST_INTERNAL_H

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm_layout.h"
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

/* The shared-memory histogram's layout (struct shmqi_hist_shm) is in shm_layout.h. */

#endif /* SHMQ_HIST_INTERNAL_H */
