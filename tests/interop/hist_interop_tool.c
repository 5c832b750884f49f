// SPDX-License-Identifier: MIT
/* hist_interop_tool.c - the shmq side of the histogram interoperability test. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmq.h"

static const double percentiles[] = { 50.0, 90.0, 99.0, 99.9 };

static void print_stats(FILE *f, const char *tag, const shmq_hist *h)
{
	if (tag)
		fprintf(f, "%s ", tag);
	fprintf(f, "%" PRIu64 " %" PRId64 " %" PRId64, shmq_hist_total(h), shmq_hist_min(h),
		shmq_hist_max(h));
	for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++)
		fprintf(f, " %" PRId64, shmq_hist_value_at_percentile(h, percentiles[i]));
	fputc('\n', f);
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* write LOG EXPECT DIST: an .hlog of three tagged intervals, and shmq's figures for each. */
static int write_log(const char *log_path, const char *expect_path, const char *dist_path)
{
	static const char *tags[] = { NULL, "delivery", "publish" };
	FILE *log = fopen(log_path, "w"), *exp = fopen(expect_path, "w");
	FILE *dist = fopen(dist_path, "w");
	uint64_t seed = 7;
	int r = 0;

	if (!log || !exp || !dist)
		return -errno;
	r = shmq_hist_log_write_header(log, "[Logged with shmq interop test]", 1700000000.0,
				       1700000000.0);
	for (int i = 0; r == 0 && i < 3; i++) {
		shmq_hist *h = NULL;

		r = shmq_hist_new(1, 3600LL * 1000 * 1000 * 1000, 3, &h);
		for (int k = 0; r == 0 && k < 50000 * (i + 1); k++) {
			/* latency-like: mostly microseconds, a tail into milliseconds */
			int64_t v = 200 + (int64_t)(rng(&seed) % 5000);

			if (rng(&seed) % 100 == 0)
				v *= 1 + (int64_t)(rng(&seed) % 2000);
			shmq_hist_record(h, v);
		}
		if (r == 0)
			r = shmq_hist_log_write(log, tags[i], 10.0 * i, 10.0, h);
		print_stats(exp, tags[i] ? tags[i] : "-", h);
		if (i == 0 && r == 0)
			r = shmq_hist_print_percentiles(h, dist, 5, 1.0, 0);
		shmq_hist_free(h);
	}
	fclose(log);
	fclose(exp);
	fclose(dist);
	return r;
}

/* check FILE: decode each hdr-histogram-js encoding and compare with its figures; 1 on a
 * mismatch. */
static int check(const char *path)
{
	char *line = NULL, got[512], *want;
	size_t cap = 0;
	int n = 0, bad = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		shmq_hist *h = NULL;
		char *sp = strchr(line, ' ');
		FILE *m;
		int r;

		if (!sp)
			return -EPROTO;
		r = shmq_hist_decode_base64(line, (size_t)(sp - line), &h);
		if (r < 0) {
			fprintf(stderr, "histogram %d: decode: %s\n", n, strerror(-r));
			return r;
		}
		m = fmemopen(got, sizeof(got), "w");
		print_stats(m, NULL, h);
		fclose(m);
		want = sp + 1;
		if (strcmp(got, want)) {
			fprintf(stderr, "histogram %d: hdr-histogram-js says %sshmq decodes %s", n,
				want, got);
			bad++;
		}
		shmq_hist_free(h);
		n++;
	}
	free(line);
	fclose(f);
	printf("shmq decoded %d hdr-histogram-js histograms: %d mismatches\n", n, bad);
	return bad || n == 0 ? 1 : 0;
}

/* read LOG: an .hlog through shmq's reader; prints "INTERVALS TOTAL" (the counts summed). */
static int read_log(const char *path)
{
	struct shmq_hist_log_entry e;
	shmq_hist_log_reader *rd;
	uint64_t total = 0;
	int r, n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	r = shmq_hist_log_reader_new(f, &rd);
	while (r >= 0 && (r = shmq_hist_log_read(rd, &e)) == 1) {
		total += shmq_hist_total(e.hist);
		shmq_hist_free(e.hist);
		n++;
	}
	shmq_hist_log_reader_free(rd);
	fclose(f);
	if (r < 0)
		return r;
	printf("%d %" PRIu64 "\n", n, total);
	return 0;
}

int main(int argc, char **argv)
{
	int r = -EINVAL;

	if (argc == 5 && !strcmp(argv[1], "write"))
		r = write_log(argv[2], argv[3], argv[4]);
	else if (argc == 3 && !strcmp(argv[1], "check"))
		r = check(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "read"))
		r = read_log(argv[2]);
	else
		fprintf(stderr, "usage: %s write LOG EXPECT DIST | check FILE | read LOG\n",
			argv[0]);
	if (r < 0 && r != -EINVAL)
		fprintf(stderr, "hist_interop_tool: %s\n", strerror(-r));
	return r != 0;
}
