// SPDX-License-Identifier: MIT
/* lat.c - latency samples in an HDR histogram, and medians over repetitions. */
#include <errno.h>
#include <stdlib.h>

#include "bench.h"

#define LAT_HIGHEST 3600000000000ll /* one hour in ns */

int lat_init(struct lat *l)
{
	return shmq_hist_new(1, LAT_HIGHEST, 3, &l->h);
}

void lat_free(struct lat *l)
{
	shmq_hist_free(l->h);
	l->h = NULL;
}

void lat_reset(struct lat *l)
{
	shmq_hist_reset(l->h);
}

uint64_t lat_percentile(const struct lat *l, double q)
{
	int64_t v;

	if (shmq_hist_total(l->h) == 0)
		return 0;
	v = q >= 100.0 ? shmq_hist_max(l->h) : shmq_hist_value_at_percentile(l->h, q);
	return v < 0 ? 0 : (uint64_t)v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts @v in place (so v[0] and v[n - 1] are the extremes afterwards); 0 when @n is 0. */
uint64_t median_u64(uint64_t *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2;
}

double median_double(double *v, size_t n)
{
	size_t i, j;
	double t;

	for (i = 1; i < n; i++) {
		t = v[i];
		for (j = i; j > 0 && v[j - 1] > t; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	if (n == 0)
		return 0;
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
