// SPDX-License-Identifier: MIT
/* hist_iter.c - HDR histogram iterators and the classic percentile distribution text. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "hist_internal.h"

enum iter_kind {
	ITER_PERCENTILE,
	ITER_LINEAR,
	ITER_LOG,
	ITER_RECORDED,
};

/*
 * One walk over the counts, as HdrHistogram's AbstractHistogramIterator does it: the kind
 * decides when a reporting level is reached, what value a step reports and how the level
 * moves on; the walk itself is common.
 */
struct shmq_hist_iter {
	const shmq_hist *h;
	enum iter_kind kind;
	uint64_t array_total;
	int32_t index;
	int64_t value_at_index;
	int64_t next_value_at_index;
	int64_t prev_value_to;
	uint64_t total_to_prev;
	uint64_t total_to_index;
	uint64_t count_at_value;
	bool fresh;
	/* percentile */
	unsigned ticks_per_half;
	double level_to;
	bool reached_last;
	/* recorded */
	int32_t visited;
	/* linear and logarithmic */
	int64_t step;
	double log_base;
	double next_level;
	int64_t step_highest;
	int64_t step_lowest;
};

static int iter_new(const shmq_hist *h, enum iter_kind kind, shmq_hist_iter **ret_iter)
{
	shmq_hist_iter *it;

	if (!h || !ret_iter)
		return -EINVAL;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->h = h;
	it->kind = kind;
	it->array_total = h->total;
	it->next_value_at_index = INT64_C(1) << h->cfg.unit_magnitude;
	it->fresh = true;
	it->visited = -1;
	*ret_iter = it;
	return 0;
}

SHMQ_API int shmq_hist_iter_percentile(const shmq_hist *h, unsigned ticks_per_half,
				       shmq_hist_iter **ret_iter)
{
	int r;

	if (ticks_per_half < 1)
		return -EINVAL;
	r = iter_new(h, ITER_PERCENTILE, ret_iter);
	if (r == 0)
		(*ret_iter)->ticks_per_half = ticks_per_half;
	return r;
}

static void set_step_level(shmq_hist_iter *it, int64_t highest)
{
	it->step_highest = highest;
	it->step_lowest = shmqi_hist_lowest_equiv(&it->h->cfg, highest < 0 ? 0 : highest);
}

SHMQ_API int shmq_hist_iter_linear(const shmq_hist *h, int64_t step, shmq_hist_iter **ret_iter)
{
	int r;

	if (step < 1)
		return -EINVAL;
	r = iter_new(h, ITER_LINEAR, ret_iter);
	if (r < 0)
		return r;
	(*ret_iter)->step = step;
	set_step_level(*ret_iter, step - 1);
	return 0;
}

SHMQ_API int shmq_hist_iter_log(const shmq_hist *h, int64_t first, double base,
				shmq_hist_iter **ret_iter)
{
	int r;

	if (first < 1 || !(base > 1.0))
		return -EINVAL;
	r = iter_new(h, ITER_LOG, ret_iter);
	if (r < 0)
		return r;
	(*ret_iter)->log_base = base;
	(*ret_iter)->next_level = (double)first;
	set_step_level(*ret_iter, first - 1);
	return 0;
}

SHMQ_API int shmq_hist_iter_recorded(const shmq_hist *h, shmq_hist_iter **ret_iter)
{
	return iter_new(h, ITER_RECORDED, ret_iter);
}

SHMQ_API void shmq_hist_iter_free(shmq_hist_iter *it)
{
	free(it);
}

/* A level as an int64_t, saturating (log levels grow past any value). */
static int64_t level_value(double level)
{
	return level >= 0x1p63 ? INT64_MAX : (int64_t)level;
}

static bool has_next(shmq_hist_iter *it)
{
	if (it->total_to_index < it->array_total)
		return true;
	switch (it->kind) {
	case ITER_PERCENTILE:
		if (it->reached_last || !it->array_total)
			return false;
		it->level_to = 100.0; /* one more step, at 100% */
		it->reached_last = true;
		return true;
	case ITER_LINEAR:
		return it->step_highest < INT64_MAX &&
		       it->step_highest + 1 < it->next_value_at_index;
	case ITER_LOG: {
		int64_t lvl = level_value(it->next_level);

		return lvl < INT64_MAX &&
		       shmqi_hist_lowest_equiv(&it->h->cfg, lvl) < it->next_value_at_index;
	}
	default:
		return false;
	}
}

static bool reached_level(const shmq_hist_iter *it)
{
	switch (it->kind) {
	case ITER_PERCENTILE:
		if (!it->count_at_value)
			return false;
		return 100.0 * (double)it->total_to_index / (double)it->array_total >= it->level_to;
	case ITER_RECORDED:
		return it->h->counts[it->index] != 0 && it->visited != it->index;
	default:
		return it->value_at_index >= it->step_lowest ||
		       it->index >= it->h->cfg.counts_len - 1;
	}
}

static void next_level(shmq_hist_iter *it)
{
	double ticks;

	switch (it->kind) {
	case ITER_PERCENTILE:
		/* fixed-size ticks within each halving of the distance to 100% (Java's math) */
		if (it->level_to >= 100.0)
			return;
		ticks = floor(log(100.0 / (100.0 - it->level_to)) / log(2.0));
		ticks = (double)it->ticks_per_half * ldexp(1.0, (int)ticks + 1);
		it->level_to += 100.0 / ticks;
		return;
	case ITER_RECORDED:
		it->visited = it->index;
		return;
	case ITER_LINEAR:
		set_step_level(it, it->step_highest > INT64_MAX - it->step
					   ? INT64_MAX
					   : it->step_highest + it->step);
		return;
	case ITER_LOG:
		it->next_level *= it->log_base;
		set_step_level(it, level_value(it->next_level) - 1);
		return;
	}
}

static int64_t value_iterated_to(const shmq_hist_iter *it)
{
	if (it->kind == ITER_LINEAR || it->kind == ITER_LOG)
		return it->step_highest;
	return shmqi_hist_highest_equiv(&it->h->cfg, it->value_at_index);
}

static void fill_step(shmq_hist_iter *it, struct shmq_hist_iter_step *s)
{
	s->value = value_iterated_to(it);
	s->value_from = it->prev_value_to;
	s->count_at_value = it->count_at_value;
	s->count_added = it->total_to_index - it->total_to_prev;
	s->total_count = it->total_to_index;
	s->percentile = it->array_total
				? 100.0 * (double)it->total_to_index / (double)it->array_total
				: 100.0;
	s->percentile_level = it->kind == ITER_PERCENTILE ? it->level_to : s->percentile;
	it->prev_value_to = s->value;
	it->total_to_prev = it->total_to_index;
}

static void next_index(shmq_hist_iter *it)
{
	const struct shmqi_hist_cfg *cfg = &it->h->cfg;

	it->fresh = true;
	it->index++;
	it->value_at_index = shmqi_hist_value_from_index(cfg, it->index);
	it->next_value_at_index = it->index + 1 < cfg->counts_len
					  ? shmqi_hist_value_from_index(cfg, it->index + 1)
					  : INT64_MAX;
}

SHMQ_API int shmq_hist_iter_next(shmq_hist_iter *it, struct shmq_hist_iter_step *ret_step)
{
	if (!it || !ret_step)
		return -EINVAL;
	if (!has_next(it))
		return 0;
	while (it->index < it->h->cfg.counts_len) {
		it->count_at_value = it->h->counts[it->index];
		if (it->fresh) {
			it->total_to_index += it->count_at_value;
			it->fresh = false;
		}
		if (reached_level(it)) {
			fill_step(it, ret_step);
			next_level(it);
			return 1;
		}
		next_index(it);
	}
	return 0;
}

static int print_line(FILE *f, const struct shmq_hist_iter_step *s, int sig, double ratio, bool csv)
{
	double v = (double)s->value / ratio, p = s->percentile_level / 100.0;
	unsigned long long total = s->total_count;

	if (s->percentile_level == 100.0)
		return csv ? fprintf(f, "%.*f,%.12f,%llu,Infinity\n", sig, v, p, total)
			   : fprintf(f, "%12.*f %2.12f %10llu\n", sig, v, p, total);
	return csv ? fprintf(f, "%.*f,%.12f,%llu,%.2f\n", sig, v, p, total, 1.0 / (1.0 - p))
		   : fprintf(f, "%12.*f %2.12f %10llu %14.2f\n", sig, v, p, total, 1.0 / (1.0 - p));
}

static int print_footer(const shmq_hist *h, FILE *f, double ratio)
{
	int sig = h->cfg.sigfigs;
	double mean = shmq_hist_mean(h);

	if (fprintf(f, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", sig, mean / ratio, sig,
		    shmq_hist_stddev(h) / ratio) < 0)
		return -EIO;
	if (fprintf(f, "#[Max     = %12.*f, Total count    = %12llu]\n", sig,
		    (double)shmq_hist_max(h) / ratio, (unsigned long long)h->total) < 0)
		return -EIO;
	if (fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", h->cfg.bucket_count,
		    h->cfg.sub_bucket_count) < 0)
		return -EIO;
	return 0;
}

SHMQ_API int shmq_hist_print_percentiles(const shmq_hist *h, FILE *f, unsigned ticks_per_half,
					 double unit_ratio, unsigned flags)
{
	struct shmq_hist_iter_step s;
	bool csv = flags & SHMQ_HIST_PRINT_CSV;
	shmq_hist_iter *it;
	int r;

	if (!h || !f || !(unit_ratio > 0.0) || (flags & ~SHMQ_HIST_PRINT_CSV))
		return -EINVAL;
	r = shmq_hist_iter_percentile(h, ticks_per_half, &it);
	if (r < 0)
		return r;
	if (csv)
		r = fprintf(f, "\"Value\",\"Percentile\",\"TotalCount\",\"1/(1-Percentile)\"\n");
	else
		r = fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
			    "1/(1-Percentile)");
	while (r >= 0 && shmq_hist_iter_next(it, &s) == 1)
		r = print_line(f, &s, h->cfg.sigfigs, unit_ratio, csv);
	shmq_hist_iter_free(it);
	if (r < 0)
		return -EIO;
	if (!csv)
		return print_footer(h, f, unit_ratio);
	return fflush(f) == 0 ? 0 : -EIO;
}
