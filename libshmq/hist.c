// SPDX-License-Identifier: MIT
/* hist.c - HDR histogram core: layout, recording, statistics, percentiles and merging. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist_internal.h"

/* Smallest m with 2^m >= x, for x >= 1. */
static int32_t ceil_log2(int64_t x)
{
	int32_t m = 0;

	while ((INT64_C(1) << m) < x)
		m++;
	return m;
}

static int32_t buckets_needed(const struct shmqi_hist_cfg *cfg, int64_t highest)
{
	int64_t smallest_untrackable = (int64_t)cfg->sub_bucket_count << cfg->unit_magnitude;
	int32_t buckets = 1;

	while (smallest_untrackable <= highest) {
		/* the next doubling would overflow: one more bucket reaches past INT64_MAX / 2 */
		if (smallest_untrackable > INT64_MAX / 2)
			return buckets + 1;
		smallest_untrackable <<= 1;
		buckets++;
	}
	return buckets;
}

int shmqi_hist_cfg_init(struct shmqi_hist_cfg *cfg, int64_t lowest, int64_t highest, int sigfigs)
{
	int64_t single_unit = 2;
	int32_t mag;

	if (lowest < 1 || sigfigs < SHMQ_HIST_SIGFIGS_MIN || sigfigs > SHMQ_HIST_SIGFIGS_MAX)
		return -EINVAL;
	if (highest > SHMQ_HIST_HIGHEST_MAX || lowest > highest / 2)
		return -EINVAL;
	for (int i = 0; i < sigfigs; i++)
		single_unit *= 10;
	mag = ceil_log2(single_unit);
	memset(cfg, 0, sizeof(*cfg));
	cfg->lowest = lowest;
	cfg->highest = highest;
	cfg->sigfigs = sigfigs;
	cfg->sub_bucket_half_count_magnitude = (mag > 1 ? mag : 1) - 1;
	cfg->unit_magnitude = 63 - __builtin_clzll((uint64_t)lowest);
	if (cfg->unit_magnitude + cfg->sub_bucket_half_count_magnitude > 61)
		return -EINVAL;
	cfg->sub_bucket_count = INT32_C(1) << (cfg->sub_bucket_half_count_magnitude + 1);
	cfg->sub_bucket_half_count = cfg->sub_bucket_count / 2;
	cfg->sub_bucket_mask = (int64_t)(cfg->sub_bucket_count - 1) << cfg->unit_magnitude;
	cfg->bucket_count = buckets_needed(cfg, highest);
	cfg->counts_len = (cfg->bucket_count + 1) * cfg->sub_bucket_half_count;
	cfg->leading_zero_count_base =
		64 - cfg->unit_magnitude - cfg->sub_bucket_half_count_magnitude - 1;
	return 0;
}

int shmqi_hist_alloc(const struct shmqi_hist_cfg *cfg, shmq_hist **ret_hist)
{
	shmq_hist *h;

	h = calloc(1, sizeof(*h) + (size_t)cfg->counts_len * sizeof(h->counts[0]));
	if (!h)
		return -ENOMEM;
	h->cfg = *cfg;
	h->min_value = INT64_MAX;
	*ret_hist = h;
	return 0;
}

SHMQ_API int shmq_hist_new(int64_t lowest, int64_t highest, int sigfigs, shmq_hist **ret_hist)
{
	struct shmqi_hist_cfg cfg;
	int r;

	if (!ret_hist)
		return -EINVAL;
	r = shmqi_hist_cfg_init(&cfg, lowest, highest, sigfigs);
	if (r < 0)
		return r;
	return shmqi_hist_alloc(&cfg, ret_hist);
}

SHMQ_API void shmq_hist_free(shmq_hist *h)
{
	free(h);
}

SHMQ_API int shmq_hist_copy(const shmq_hist *h, shmq_hist **ret_hist)
{
	size_t bytes;
	shmq_hist *c;

	if (!h || !ret_hist)
		return -EINVAL;
	bytes = sizeof(*h) + (size_t)h->cfg.counts_len * sizeof(h->counts[0]);
	c = malloc(bytes);
	if (!c)
		return -ENOMEM;
	memcpy(c, h, bytes);
	*ret_hist = c;
	return 0;
}

int64_t shmqi_hist_value_from_index(const struct shmqi_hist_cfg *cfg, int32_t index)
{
	int32_t bucket = (index >> cfg->sub_bucket_half_count_magnitude) - 1;
	int64_t sub = (index & (cfg->sub_bucket_half_count - 1)) + cfg->sub_bucket_half_count;

	if (bucket < 0) {
		sub -= cfg->sub_bucket_half_count;
		bucket = 0;
	}
	return sub << (bucket + cfg->unit_magnitude);
}

static uint64_t equiv_range_size(const struct shmqi_hist_cfg *cfg, int64_t value)
{
	int32_t bucket = shmqi_hist_bucket_index(cfg, value);
	int64_t sub = value >> (bucket + cfg->unit_magnitude);

	if (sub >= cfg->sub_bucket_count)
		bucket++;
	return UINT64_C(1) << (cfg->unit_magnitude + bucket);
}

int64_t shmqi_hist_lowest_equiv(const struct shmqi_hist_cfg *cfg, int64_t value)
{
	int32_t bucket = shmqi_hist_bucket_index(cfg, value);
	int64_t sub = value >> (bucket + cfg->unit_magnitude);

	return sub << (bucket + cfg->unit_magnitude);
}

int64_t shmqi_hist_highest_equiv(const struct shmqi_hist_cfg *cfg, int64_t value)
{
	/* unsigned: the top bucket of a 2^62 range ends at INT64_MAX exactly */
	return (int64_t)((uint64_t)shmqi_hist_lowest_equiv(cfg, value) +
			 equiv_range_size(cfg, value) - 1);
}

static double median_equiv(const struct shmqi_hist_cfg *cfg, int64_t value)
{
	return (double)shmqi_hist_lowest_equiv(cfg, value) +
	       (double)(equiv_range_size(cfg, value) >> 1);
}

/* The recording fast path, shared by every record call. */
static inline int record_count(shmq_hist *h, int64_t value, uint64_t n)
{
	int64_t idx;

	if (__builtin_expect(value < 0, 0))
		goto err_range;
	idx = shmqi_hist_index(&h->cfg, value);
	if (__builtin_expect(idx >= h->cfg.counts_len, 0))
		goto err_range;
	h->counts[idx] += n;
	h->total += n;
	if (value < h->min_value)
		h->min_value = value;
	if (value > h->max_value)
		h->max_value = value;
	return 0;
err_range:
	h->out_of_range += n;
	return -ERANGE;
}

SHMQ_API int shmq_hist_record(shmq_hist *h, int64_t value)
{
	if (__builtin_expect(!h, 0))
		return -EINVAL;
	return record_count(h, value, 1);
}

SHMQ_API int shmq_hist_record_n(shmq_hist *h, int64_t value, uint64_t count)
{
	if (!h)
		return -EINVAL;
	if (h->total + count < h->total)
		return -EOVERFLOW;
	return record_count(h, value, count);
}

SHMQ_API int shmq_hist_record_corrected(shmq_hist *h, int64_t value, int64_t interval)
{
	int r;

	if (!h)
		return -EINVAL;
	r = record_count(h, value, 1);
	if (r < 0 || interval <= 0)
		return r;
	for (int64_t missing = value - interval; missing >= interval; missing -= interval)
		record_count(h, missing, 1);
	return 0;
}

SHMQ_API void shmq_hist_reset(shmq_hist *h)
{
	if (!h)
		return;
	memset(h->counts, 0, (size_t)h->cfg.counts_len * sizeof(h->counts[0]));
	h->total = 0;
	h->out_of_range = 0;
	h->min_value = INT64_MAX;
	h->max_value = 0;
}

int shmqi_hist_recount(shmq_hist *h)
{
	int32_t min_idx = -1, max_idx = -1;
	uint64_t total = 0;

	for (int32_t i = 0; i < h->cfg.counts_len; i++) {
		if (!h->counts[i])
			continue;
		if (total + h->counts[i] < total)
			return -EOVERFLOW;
		total += h->counts[i];
		if (min_idx < 0)
			min_idx = i;
		max_idx = i;
	}
	h->total = total;
	h->min_value = min_idx < 0 ? INT64_MAX : shmqi_hist_value_from_index(&h->cfg, min_idx);
	h->max_value = max_idx < 0 ? 0 : shmqi_hist_value_from_index(&h->cfg, max_idx);
	return 0;
}

static bool same_layout(const struct shmqi_hist_cfg *a, const struct shmqi_hist_cfg *b)
{
	return a->unit_magnitude == b->unit_magnitude && a->sub_bucket_count == b->sub_bucket_count;
}

SHMQ_API int shmq_hist_add(shmq_hist *dst, const shmq_hist *src)
{
	bool dropped = false;

	if (!dst || !src || dst == src)
		return -EINVAL;
	if (dst->total + src->total < dst->total)
		return -EOVERFLOW;
	/* same layout: bucket i means the same values in both, so add counts directly */
	if (same_layout(&dst->cfg, &src->cfg) && src->cfg.counts_len <= dst->cfg.counts_len) {
		for (int32_t i = 0; i < src->cfg.counts_len; i++)
			dst->counts[i] += src->counts[i];
		dst->total += src->total;
		if (src->total && src->min_value < dst->min_value)
			dst->min_value = src->min_value;
		if (src->max_value > dst->max_value)
			dst->max_value = src->max_value;
		dst->out_of_range += src->out_of_range;
		return 0;
	}
	for (int32_t i = 0; i < src->cfg.counts_len; i++) {
		int64_t v;

		if (!src->counts[i])
			continue;
		v = shmqi_hist_value_from_index(&src->cfg, i);
		if (record_count(dst, v, src->counts[i]) < 0)
			dropped = true; /* record_count() counted it as out of range */
	}
	dst->out_of_range += src->out_of_range;
	return dropped ? -ERANGE : 0;
}

SHMQ_API int64_t shmq_hist_lowest(const shmq_hist *h)
{
	return h ? h->cfg.lowest : 0;
}

SHMQ_API int64_t shmq_hist_highest(const shmq_hist *h)
{
	return h ? h->cfg.highest : 0;
}

SHMQ_API int shmq_hist_sigfigs(const shmq_hist *h)
{
	return h ? h->cfg.sigfigs : 0;
}

SHMQ_API uint64_t shmq_hist_total(const shmq_hist *h)
{
	return h ? h->total : 0;
}

SHMQ_API uint64_t shmq_hist_out_of_range(const shmq_hist *h)
{
	return h ? h->out_of_range : 0;
}

SHMQ_API int64_t shmq_hist_min(const shmq_hist *h)
{
	if (!h || !h->total)
		return 0;
	return shmqi_hist_lowest_equiv(&h->cfg, h->min_value);
}

SHMQ_API int64_t shmq_hist_max(const shmq_hist *h)
{
	if (!h || !h->total)
		return 0;
	return shmqi_hist_highest_equiv(&h->cfg, h->max_value);
}

SHMQ_API double shmq_hist_mean(const shmq_hist *h)
{
	double sum = 0.0;

	if (!h || !h->total)
		return 0.0;
	for (int32_t i = 0; i < h->cfg.counts_len; i++) {
		if (h->counts[i])
			sum += median_equiv(&h->cfg, shmqi_hist_value_from_index(&h->cfg, i)) *
			       (double)h->counts[i];
	}
	return sum / (double)h->total;
}

SHMQ_API double shmq_hist_stddev(const shmq_hist *h)
{
	double mean, sum = 0.0;

	if (!h || !h->total)
		return 0.0;
	mean = shmq_hist_mean(h);
	for (int32_t i = 0; i < h->cfg.counts_len; i++) {
		double d;

		if (!h->counts[i])
			continue;
		d = median_equiv(&h->cfg, shmqi_hist_value_from_index(&h->cfg, i)) - mean;
		sum += d * d * (double)h->counts[i];
	}
	return sqrt(sum / (double)h->total);
}

SHMQ_API int64_t shmq_hist_value_at_percentile(const shmq_hist *h, double p)
{
	uint64_t target, running = 0;
	double req;

	if (!h || !h->total || isnan(p))
		return 0;
	/* Java's rule: one ulp down, then round the count up, so p = k/total hits k exactly */
	req = fmin(fmax(nextafter(p, -INFINITY), 0.0), 100.0);
	target = (uint64_t)ceil(req * (double)h->total / 100.0);
	if (target < 1)
		target = 1;
	for (int32_t i = 0; i < h->cfg.counts_len; i++) {
		running += h->counts[i];
		if (running >= target) {
			int64_t v = shmqi_hist_value_from_index(&h->cfg, i);

			return p == 0.0 ? shmqi_hist_lowest_equiv(&h->cfg, v)
					: shmqi_hist_highest_equiv(&h->cfg, v);
		}
	}
	return 0;
}

/* The counts index of @value clamped into [0, counts_len - 1]. */
static int32_t clamped_index(const struct shmqi_hist_cfg *cfg, int64_t value)
{
	int64_t idx;

	if (value <= 0)
		return 0;
	idx = shmqi_hist_index(cfg, value);
	return idx >= cfg->counts_len ? cfg->counts_len - 1 : (int32_t)idx;
}

SHMQ_API uint64_t shmq_hist_count_between(const shmq_hist *h, int64_t lo, int64_t hi)
{
	uint64_t sum = 0;
	int32_t from, to;

	if (!h || lo > hi)
		return 0;
	from = clamped_index(&h->cfg, lo);
	to = clamped_index(&h->cfg, hi);
	for (int32_t i = from; i <= to; i++)
		sum += h->counts[i];
	return sum;
}

SHMQ_API uint64_t shmq_hist_count_at(const shmq_hist *h, int64_t value)
{
	int64_t idx;

	if (!h || value < 0)
		return 0;
	idx = shmqi_hist_index(&h->cfg, value);
	return idx < h->cfg.counts_len ? h->counts[idx] : 0;
}

SHMQ_API int64_t shmq_hist_lowest_equivalent(const shmq_hist *h, int64_t value)
{
	if (!h || value < 0)
		return 0;
	return shmqi_hist_lowest_equiv(&h->cfg, value);
}

SHMQ_API int64_t shmq_hist_highest_equivalent(const shmq_hist *h, int64_t value)
{
	if (!h || value < 0)
		return 0;
	return shmqi_hist_highest_equiv(&h->cfg, value);
}
