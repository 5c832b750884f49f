// SPDX-License-Identifier: MIT
/* test_hist.c - HDR histogram core: layout, recording, statistics, iterators, text, properties. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist_internal.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic data sets, reproducible from the seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static shmq_hist *new_hist(int64_t lowest, int64_t highest, int sigfigs)
{
	shmq_hist *h = NULL;

	assert_int_equal(shmq_hist_new(lowest, highest, sigfigs, &h), 0);
	assert_non_null(h);
	return h;
}

static void test_config(void **state)
{
	shmq_hist *h = NULL;

	(void)state;
	assert_int_equal(shmq_hist_new(0, 1000, 3, &h), -EINVAL);
	assert_int_equal(shmq_hist_new(1, 1, 3, &h), -EINVAL);
	assert_int_equal(shmq_hist_new(1, 1000, 6, &h), -EINVAL);
	assert_int_equal(shmq_hist_new(1, 1000, -1, &h), -EINVAL);
	assert_int_equal(shmq_hist_new(1, SHMQ_HIST_HIGHEST_MAX + 1, 3, &h), -EINVAL);
	/* unit magnitude 50 + 17 sub-bucket bits leave no room below 2^63 */
	assert_int_equal(shmq_hist_new(INT64_C(1) << 50, INT64_C(1) << 60, 5, &h), -EINVAL);
	assert_int_equal(shmq_hist_new(1, 1000, 3, NULL), -EINVAL);
	assert_null(h);
	shmq_hist_free(NULL);

	/* HdrHistogram's figures for (1, 3.6e9, 3): 22 buckets of 2048, 23552 counts */
	h = new_hist(1, 3600000000LL, 3);
	assert_int_equal(h->cfg.sub_bucket_count, 2048);
	assert_int_equal(h->cfg.bucket_count, 22);
	assert_int_equal(h->cfg.counts_len, 23552);
	assert_int_equal(shmq_hist_lowest(h), 1);
	assert_int_equal(shmq_hist_highest(h), 3600000000LL);
	assert_int_equal(shmq_hist_sigfigs(h), 3);
	shmq_hist_free(h);

	/* the widest range works and its top bucket ends at INT64_MAX */
	h = new_hist(1, SHMQ_HIST_HIGHEST_MAX, 5);
	assert_int_equal(shmq_hist_record(h, SHMQ_HIST_HIGHEST_MAX), 0);
	assert_int_equal(shmq_hist_record(h, INT64_MAX), 0);
	assert_true(shmq_hist_max(h) == INT64_MAX);
	shmq_hist_free(h);
	h = new_hist(1000, 1000000, 0);
	assert_int_equal(h->cfg.sub_bucket_count, 2);
	shmq_hist_free(h);
}

static void test_record_and_range(void **state)
{
	shmq_hist *h = new_hist(1, 100000, 3);

	(void)state;
	assert_int_equal(shmq_hist_record(h, 0), 0);
	assert_int_equal(shmq_hist_record(h, 1), 0);
	assert_int_equal(shmq_hist_record(h, 100000), 0);
	/* the covered range ends at the top of the last bucket, not at highest */
	assert_int_equal(shmq_hist_record(h, 131071), 0);
	assert_int_equal(shmq_hist_record(h, 131072), -ERANGE);
	assert_int_equal(shmq_hist_record(h, -1), -ERANGE);
	assert_int_equal(shmq_hist_record_n(h, INT64_MAX, 5), -ERANGE);
	assert_int_equal(shmq_hist_total(h), 4);
	assert_int_equal(shmq_hist_out_of_range(h), 7);
	assert_int_equal(shmq_hist_min(h), 0);
	assert_int_equal(shmq_hist_max(h), 131071);
	assert_int_equal(shmq_hist_record_n(h, 5, UINT64_MAX), -EOVERFLOW);
	assert_int_equal(shmq_hist_total(h), 4);
	assert_int_equal(shmq_hist_record(NULL, 5), -EINVAL);

	shmq_hist_reset(h);
	assert_int_equal(shmq_hist_total(h), 0);
	assert_int_equal(shmq_hist_out_of_range(h), 0);
	assert_int_equal(shmq_hist_min(h), 0);
	assert_int_equal(shmq_hist_max(h), 0);
	assert_int_equal(shmq_hist_value_at_percentile(h, 50), 0);
	assert_true(shmq_hist_mean(h) == 0.0);

	assert_int_equal(shmq_hist_record_n(h, 3000, 10), 0);
	assert_int_equal(shmq_hist_count_at(h, 3000), 10);
	assert_int_equal(shmq_hist_count_at(h, 3001), 10); /* same bucket: width 2 at 3000 */
	assert_int_equal(shmq_hist_count_at(h, 3002), 0);
	assert_int_equal(shmq_hist_count_at(h, -3), 0);
	assert_int_equal(shmq_hist_lowest_equivalent(h, 3001), 3000);
	assert_int_equal(shmq_hist_highest_equivalent(h, 3000), 3001);
	assert_int_equal(shmq_hist_lowest_equivalent(h, 2047), 2047);
	assert_int_equal(shmq_hist_highest_equivalent(h, 2047), 2047);
	assert_int_equal(shmq_hist_highest_equivalent(h, 8191), 8191);
	assert_int_equal(shmq_hist_lowest_equivalent(h, 8191), 8188);
	shmq_hist_free(h);
}

static void test_record_corrected(void **state)
{
	shmq_hist *h = new_hist(1, 100000, 3);

	(void)state;
	assert_int_equal(shmq_hist_record_corrected(h, 100, 10), 0);
	/* 100, then 90, 80, ..., 10 */
	assert_int_equal(shmq_hist_total(h), 10);
	assert_int_equal(shmq_hist_count_between(h, 10, 100), 10);
	assert_int_equal(shmq_hist_min(h), 10);
	assert_int_equal(shmq_hist_record_corrected(h, 5, 10), 0);
	assert_int_equal(shmq_hist_record_corrected(h, 50, 0), 0);
	assert_int_equal(shmq_hist_total(h), 12);
	assert_int_equal(shmq_hist_record_corrected(h, 1000000, 10), -ERANGE);
	assert_int_equal(shmq_hist_total(h), 12);
	assert_int_equal(shmq_hist_out_of_range(h), 1);

	/* HdrHistogram's own example: 10000 x 1 ms plus one 100 s stall, sampled every 10 ms */
	shmq_hist_free(h);
	h = new_hist(1, 3600LL * 1000 * 1000, 3);
	for (int i = 0; i < 10000; i++)
		shmq_hist_record_corrected(h, 1000, 10000);
	shmq_hist_record_corrected(h, 100000000, 10000);
	assert_int_equal(shmq_hist_total(h), 20000);
	assert_int_equal(shmq_hist_value_at_percentile(h, 30.0), 1000);
	assert_true(shmq_hist_value_at_percentile(h, 75.0) >= 50000000 * 0.999);
	assert_true(shmq_hist_value_at_percentile(h, 75.0) <= 50000000 * 1.001);
	shmq_hist_free(h);
}

static void test_stats(void **state)
{
	shmq_hist *h = new_hist(1, 3600LL * 1000 * 1000, 3);
	double mean, sd;

	(void)state;
	for (int i = 0; i < 10000; i++)
		shmq_hist_record(h, 1000);
	shmq_hist_record(h, 100000000);
	assert_int_equal(shmq_hist_total(h), 10001);
	assert_int_equal(shmq_hist_min(h), 1000);
	/* max reported as the highest value of its bucket */
	assert_int_equal(shmq_hist_max(h), shmq_hist_highest_equivalent(h, 100000000));
	mean = shmq_hist_mean(h);
	sd = shmq_hist_stddev(h);
	/* HdrHistogram's figures for this data: mean 10998.0, stddev 999890 (to 0.1%) */
	assert_true(fabs(mean - 10998.0) < 10998.0 * 0.001);
	assert_true(fabs(sd - 999890.0) < 999890.0 * 0.001);
	assert_int_equal(shmq_hist_value_at_percentile(h, 0.0), 1000);
	assert_int_equal(shmq_hist_value_at_percentile(h, 99.99), 1000);
	assert_int_equal(shmq_hist_value_at_percentile(h, 99.999),
			 shmq_hist_highest_equivalent(h, 100000000));
	assert_int_equal(shmq_hist_value_at_percentile(h, 100.0), shmq_hist_max(h));
	assert_int_equal(shmq_hist_value_at_percentile(h, 250.0), shmq_hist_max(h));
	assert_int_equal(shmq_hist_value_at_percentile(h, NAN), 0);
	assert_int_equal(shmq_hist_count_between(h, 1000, 1000), 10000);
	assert_int_equal(shmq_hist_count_between(h, 5000, 100000000), 1);
	assert_int_equal(shmq_hist_count_between(h, 0, INT64_MAX), 10001);
	assert_int_equal(shmq_hist_count_between(h, 10, 5), 0);
	shmq_hist_free(h);
}

/* Java's rule at its edges: p = 100 * k / n must land on the k-th value exactly. */
static void test_percentile_rounding(void **state)
{
	shmq_hist *h = new_hist(1, 1000000, 3);

	(void)state;
	for (int v = 1; v <= 10; v++)
		shmq_hist_record(h, v);
	for (int k = 1; k <= 10; k++)
		assert_int_equal(shmq_hist_value_at_percentile(h, 10.0 * k), k);
	assert_int_equal(shmq_hist_value_at_percentile(h, 10.0001), 2);
	assert_int_equal(shmq_hist_value_at_percentile(h, 9.9999), 1);
	shmq_hist_reset(h);
	for (int v = 1; v <= 3; v++)
		shmq_hist_record(h, v);
	/* 100/3 is not exact in binary: one ulp down keeps the count at 1 */
	assert_int_equal(shmq_hist_value_at_percentile(h, 100.0 / 3.0), 1);
	assert_int_equal(shmq_hist_value_at_percentile(h, 200.0 / 3.0), 2);
	shmq_hist_free(h);
}

static void test_add(void **state)
{
	shmq_hist *a = new_hist(1, 1000000, 3), *b = new_hist(1, 1000000, 3);
	shmq_hist *c = new_hist(1000, 100000000, 2), *small = new_hist(1, 1000, 3);

	(void)state;
	for (int i = 1; i <= 1000; i++) {
		shmq_hist_record(a, i);
		shmq_hist_record(b, i * 1000);
	}
	shmq_hist_record(b, -5); /* b's own out-of-range count travels too */
	assert_int_equal(shmq_hist_add(a, b), 0);
	assert_int_equal(shmq_hist_total(a), 2000);
	assert_int_equal(shmq_hist_out_of_range(a), 1);
	assert_int_equal(shmq_hist_min(a), 1);
	assert_int_equal(shmq_hist_max(a), shmq_hist_highest_equivalent(a, 1000000));
	assert_int_equal(shmq_hist_value_at_percentile(a, 50.0), 1000);

	/* different layout: each bucket lands at its lowest value in c */
	assert_int_equal(shmq_hist_add(c, a), 0);
	assert_int_equal(shmq_hist_total(c), 2000);
	assert_int_equal(shmq_hist_count_between(c, 0, 511), 511); /* c's first bucket: 0..511 */
	assert_int_equal(shmq_hist_value_at_percentile(c, 100.0),
			 shmq_hist_highest_equivalent(c, 1000000));

	/* values that do not fit are counted, the rest merged */
	assert_int_equal(shmq_hist_add(small, a), -ERANGE);
	/* small covers 0..2047: 1..1000 from a, 1000 and 2000 from b */
	assert_int_equal(shmq_hist_total(small), 1002);
	assert_int_equal(shmq_hist_out_of_range(small), 998 + 1); /* + the one a carried */
	assert_int_equal(shmq_hist_add(a, a), -EINVAL);
	assert_int_equal(shmq_hist_add(NULL, a), -EINVAL);

	/* a same-layout but larger source goes through the general path */
	shmq_hist_reset(small);
	shmq_hist_reset(a);
	shmq_hist_record(a, 500);
	shmq_hist_record(a, 5000);
	assert_int_equal(shmq_hist_add(small, a), -ERANGE);
	assert_int_equal(shmq_hist_total(small), 1);
	assert_int_equal(shmq_hist_out_of_range(small), 1);
	shmq_hist_free(a);
	shmq_hist_free(b);
	shmq_hist_free(c);
	shmq_hist_free(small);
}

static void test_copy(void **state)
{
	shmq_hist *a = new_hist(1, 1000000, 2), *b = NULL;

	(void)state;
	shmq_hist_record(a, 77);
	shmq_hist_record(a, 5000000);
	assert_int_equal(shmq_hist_copy(a, &b), 0);
	assert_int_equal(shmq_hist_total(b), 1);
	assert_int_equal(shmq_hist_out_of_range(b), 1);
	assert_int_equal(shmq_hist_max(b), shmq_hist_max(a));
	assert_int_equal(shmq_hist_copy(NULL, &b), -EINVAL);
	shmq_hist_free(a);
	shmq_hist_free(b);
}

static int collect(shmq_hist_iter *it, struct shmq_hist_iter_step *steps, int max)
{
	int n = 0, r;

	while ((r = shmq_hist_iter_next(it, &steps[n])) == 1) {
		n++;
		assert_true(n < max);
	}
	assert_int_equal(r, 0);
	assert_int_equal(shmq_hist_iter_next(it, &steps[n]), 0);
	shmq_hist_iter_free(it);
	return n;
}

static void test_iter_recorded_linear_log(void **state)
{
	struct shmq_hist_iter_step s[4096];
	shmq_hist *h = new_hist(1, 3600LL * 1000 * 1000, 3);
	shmq_hist_iter *it = NULL;
	uint64_t sum = 0;
	int n;

	(void)state;
	for (int i = 0; i < 10000; i++)
		shmq_hist_record(h, 1000);
	shmq_hist_record(h, 100000000);

	assert_int_equal(shmq_hist_iter_recorded(h, &it), 0);
	n = collect(it, s, 4096);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].value, 1000);
	assert_int_equal(s[0].count_at_value, 10000);
	assert_int_equal(s[1].value, shmq_hist_highest_equivalent(h, 100000000));
	assert_int_equal(s[1].total_count, 10001);
	assert_true(s[1].percentile == 100.0);

	/* HdrHistogram's linear test: 100 steps of 10000 to 1e6, then on to 1e8 */
	assert_int_equal(shmq_hist_iter_linear(h, 100000, &it), 0);
	n = collect(it, s, 4096);
	assert_int_equal(n, 1000);
	assert_int_equal(s[0].value, 99999);
	assert_int_equal(s[0].count_added, 10000);
	for (int i = 0; i < n; i++)
		sum += s[i].count_added;
	assert_int_equal(sum, 10001);
	assert_int_equal(s[n - 1].count_added, 1);

	/* HdrHistogram's log test: 10000 then x2: 15 steps reach 1e8 */
	assert_int_equal(shmq_hist_iter_log(h, 10000, 2.0, &it), 0);
	n = collect(it, s, 4096);
	assert_int_equal(n, 15);
	assert_int_equal(s[0].value, 9999);
	assert_int_equal(s[0].count_added, 10000);
	assert_int_equal(s[14].count_added, 1);

	assert_int_equal(shmq_hist_iter_linear(h, 0, &it), -EINVAL);
	assert_int_equal(shmq_hist_iter_log(h, 10, 1.0, &it), -EINVAL);
	assert_int_equal(shmq_hist_iter_percentile(h, 0, &it), -EINVAL);
	assert_int_equal(shmq_hist_iter_recorded(NULL, &it), -EINVAL);
	shmq_hist_iter_free(NULL);
	shmq_hist_free(h);
}

static void test_iter_percentile(void **state)
{
	struct shmq_hist_iter_step s[4096];
	shmq_hist *h = new_hist(1, 1000000, 3);
	shmq_hist_iter *it = NULL;
	int n;

	(void)state;
	assert_int_equal(shmq_hist_iter_percentile(h, 5, &it), 0);
	assert_int_equal(collect(it, s, 4096), 0); /* empty: no steps at all */
	for (int v = 1; v <= 1000; v++)
		shmq_hist_record(h, v);
	assert_int_equal(shmq_hist_iter_percentile(h, 5, &it), 0);
	n = collect(it, s, 4096);
	assert_true(n > 20);
	/* levels 0, 10, 20, ..., 50, then 55, 60, ... (5 ticks a half) */
	assert_true(s[0].percentile_level == 0.0);
	assert_int_equal(s[0].value, 1);
	assert_true(s[1].percentile_level == 10.0);
	assert_int_equal(s[1].value, 100);
	assert_true(s[5].percentile_level == 50.0);
	assert_true(s[6].percentile_level == 55.0);
	assert_int_equal(s[5].value, 500);
	assert_true(s[n - 1].percentile_level == 100.0);
	assert_int_equal(s[n - 1].value, 1000);
	for (int i = 1; i < n; i++) {
		assert_true(s[i].percentile_level > s[i - 1].percentile_level);
		assert_true(s[i].value >= s[i - 1].value);
	}
	shmq_hist_free(h);
}

static char *print_to_string(const shmq_hist *h, unsigned flags, double ratio)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(shmq_hist_print_percentiles(h, f, 5, ratio, flags), 0);
	fclose(f);
	return buf;
}

static void test_print(void **state)
{
	shmq_hist *h = new_hist(1, 1000000, 3);
	char *out;

	(void)state;
	for (int v = 1; v <= 1000; v++)
		shmq_hist_record(h, v);
	out = print_to_string(h, 0, 1.0);
	assert_memory_equal(out, "       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 57);
	assert_non_null(strstr(out, "\n       1.000 0.000000000000          1           1.00\n"));
	assert_non_null(strstr(out, "\n     500.000 0.500000000000        500           2.00\n"));
	assert_non_null(strstr(out, "\n    1000.000 1.000000000000       1000\n"));
	assert_non_null(strstr(out, "#[Mean    =      500.500, StdDeviation   =      288.675]\n"
				    "#[Max     =     1000.000, Total count    =         1000]\n"
				    "#[Buckets =           10, SubBuckets     =         2048]\n"));
	free(out);
	out = print_to_string(h, SHMQ_HIST_PRINT_CSV, 1000.0);
	assert_memory_equal(out, "\"Value\",\"Percentile\",\"TotalCount\",\"1/(1-Percentile)\"\n",
			    53);
	assert_non_null(strstr(out, "\n0.500,0.500000000000,500,2.00\n"));
	assert_non_null(strstr(out, "\n1.000,1.000000000000,1000,Infinity\n"));
	free(out);
	assert_int_equal(shmq_hist_print_percentiles(h, stdout, 5, 0.0, 0), -EINVAL);
	assert_int_equal(shmq_hist_print_percentiles(h, stdout, 5, 1.0, 0x10), -EINVAL);
	assert_int_equal(shmq_hist_print_percentiles(h, NULL, 5, 1.0, 0), -EINVAL);
	shmq_hist_free(h);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* A value of one of three shapes: uniform, log-uniform (latency-like) or a narrow spike. */
static int64_t random_value(int shape, int64_t top)
{
	switch (shape) {
	case 0:
		return (int64_t)(rng() % (uint64_t)top);
	case 1:
		return (int64_t)fmin(exp2((double)(rng() % 10000) / 10000.0 * log2((double)top)),
				     (double)top - 1);
	default:
		return top / 3 + (int64_t)(rng() % 64);
	}
}

static const double percentiles[] = { 0.0,  1.0,  10.0,	 25.0,	 50.0,	75.0,	 90.0,
				      99.0, 99.9, 99.99, 99.999, 100.0, 33.3333, 66.6667 };

/* The histogram's answer must be the bucket of the exact order statistic, and close. */
static void check_percentiles(const shmq_hist *h, const int64_t *sorted, size_t n)
{
	double tol = pow(10.0, -h->cfg.sigfigs);

	for (size_t j = 0; j < sizeof(percentiles) / sizeof(percentiles[0]); j++) {
		double p = percentiles[j];
		uint64_t k = (uint64_t)ceil(nextafter(p, -INFINITY) * (double)n / 100.0);
		int64_t exact, got;

		k = k < 1 ? 1 : (k > n ? n : k);
		exact = sorted[k - 1];
		got = shmq_hist_value_at_percentile(h, p);
		if (p == 0.0) {
			assert_int_equal(got, shmqi_hist_lowest_equiv(&h->cfg, exact));
			continue;
		}
		assert_int_equal(got, shmqi_hist_highest_equiv(&h->cfg, exact));
		assert_true(got >= exact);
		assert_true((double)(got - exact) <= fmax((double)exact * tol, h->cfg.lowest));
	}
}

static void check_stats(const shmq_hist *h, const int64_t *sorted, size_t n)
{
	double tol = pow(10.0, -h->cfg.sigfigs), mean = 0.0;

	assert_int_equal(shmq_hist_total(h), n);
	assert_int_equal(shmq_hist_min(h), shmqi_hist_lowest_equiv(&h->cfg, sorted[0]));
	assert_int_equal(shmq_hist_max(h), shmqi_hist_highest_equiv(&h->cfg, sorted[n - 1]));
	for (size_t i = 0; i < n; i++)
		mean += (double)sorted[i] / (double)n;
	assert_true(fabs(shmq_hist_mean(h) - mean) <= mean * tol + (double)h->cfg.lowest);
	assert_int_equal(shmq_hist_count_between(h, sorted[0], sorted[n - 1]), n);
}

static void property_run(int64_t lowest, int64_t highest, int sigfigs, int shape, size_t n)
{
	int64_t *v = malloc(n * sizeof(*v)),
		top = highest < INT64_MAX / 2 ? highest : INT64_MAX / 2;
	shmq_hist *h = new_hist(lowest, highest, sigfigs);

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i] = random_value(shape, top);
		assert_int_equal(shmq_hist_record(h, v[i]), 0);
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	check_percentiles(h, v, n);
	check_stats(h, v, n);
	free(v);
	shmq_hist_free(h);
}

static void test_property_percentiles(void **state)
{
	static const int64_t ranges[][2] = {
		{ 1, 3600LL * 1000 * 1000 * 1000 }, /* 1 ns .. 1 h */
		{ 1, 1000 },
		{ 1000, 100LL * 1000 * 1000 },
		{ 7, 1000000 },
		{ 1, SHMQ_HIST_HIGHEST_MAX },
		{ 1024, INT64_C(1) << 40 },
	};
	int runs = 0;

	(void)state;
	rng_state = 0x5eed1234abcdull;
	for (int sig = 0; sig <= 5; sig++) {
		for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
			for (int shape = 0; shape < 3; shape++) {
				size_t n = 1 + (size_t)(rng() % 5000);
				struct shmqi_hist_cfg cfg;

				if (shmqi_hist_cfg_init(&cfg, ranges[r][0], ranges[r][1], sig) < 0)
					continue;
				property_run(ranges[r][0], ranges[r][1], sig, shape, n);
				runs++;
			}
		}
	}
	assert_true(runs >= 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_record_and_range),
		cmocka_unit_test(test_record_corrected),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_percentile_rounding),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_iter_recorded_linear_log),
		cmocka_unit_test(test_iter_percentile),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_property_percentiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
