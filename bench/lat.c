// SPDX-License-Identifier: MIT
/* lat.c - latency samples and their exact percentiles (nearest rank over sorted samples). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "bench.h"

int lat_init(struct lat *l, size_t cap)
{
	l->v = calloc(cap ? cap : 1, sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	l->n = 0;
	l->cap = cap;
	l->sorted = true;
	return 0;
}

void lat_free(struct lat *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void lat_reset(struct lat *l)
{
	l->n = 0;
	l->sorted = true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least q% of all samples at or below it. */
uint64_t lat_percentile(struct lat *l, double q)
{
	size_t rank;

	if (l->n == 0)
		return 0;
	if (!l->sorted) {
		qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
		l->sorted = true;
	}
	/* The epsilon keeps 99.9% of 1000 samples at rank 999, not 1000. */
	rank = (size_t)ceil(q * (double)l->n / 100.0 - 1e-9);
	if (rank < 1)
		rank = 1;
	if (rank > l->n)
		rank = l->n;
	return l->v[rank - 1];
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
