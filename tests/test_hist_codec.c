// SPDX-License-Identifier: MIT
/* test_hist_codec.c - V2 encoding round trips, hostile encoded input, and .hlog files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "hist_internal.h"

static uint64_t rng_state = 0x0123456789abcdefull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static shmq_hist *sample(int64_t lowest, int64_t highest, int sigfigs, int n)
{
	shmq_hist *h = NULL;

	assert_int_equal(shmq_hist_new(lowest, highest, sigfigs, &h), 0);
	for (int i = 0; i < n; i++)
		shmq_hist_record_n(h, (int64_t)(rng() % (uint64_t)highest), 1 + rng() % 3);
	return h;
}

static void assert_same(const shmq_hist *a, const shmq_hist *b)
{
	assert_int_equal(a->cfg.lowest, b->cfg.lowest);
	assert_int_equal(a->cfg.highest, b->cfg.highest);
	assert_int_equal(a->cfg.sigfigs, b->cfg.sigfigs);
	assert_int_equal(a->cfg.counts_len, b->cfg.counts_len);
	assert_memory_equal(a->counts, b->counts, (size_t)a->cfg.counts_len * sizeof(uint64_t));
	assert_int_equal(shmq_hist_total(a), shmq_hist_total(b));
	assert_int_equal(shmq_hist_min(a), shmq_hist_min(b));
	assert_int_equal(shmq_hist_max(a), shmq_hist_max(b));
}

static void roundtrip(const shmq_hist *h, unsigned flags)
{
	shmq_hist *d = NULL;
	size_t len;
	void *buf;

	assert_int_equal(shmq_hist_encode(h, flags, &buf, &len), 0);
	assert_int_equal(shmq_hist_decode(buf, len, 0, &d), 0);
	assert_same(h, d);
	shmq_hist_free(d);
	free(buf);
}

static void test_roundtrip(void **state)
{
	static const int64_t cfgs[][3] = {
		{ 1, 3600LL * 1000 * 1000 * 1000, 3 }, { 1, 1000, 1 },	  { 1000, 100000000, 2 },
		{ 1, SHMQ_HIST_HIGHEST_MAX, 5 },       { 7, 1000000, 0 },
	};
	shmq_hist *h, *d = NULL;
	char *b64;

	(void)state;
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		for (int n = 0; n <= 5000; n += 2500) {
			h = sample(cfgs[i][0], cfgs[i][1], (int)cfgs[i][2], n);
			roundtrip(h, 0);
			roundtrip(h, SHMQ_HIST_ENC_COMPRESSED);
			assert_int_equal(shmq_hist_encode_base64(h, &b64), 0);
			assert_memory_equal(b64, "HISTF", 5);
			assert_int_equal(shmq_hist_decode_base64(b64, strlen(b64), &d), 0);
			assert_same(h, d);
			shmq_hist_free(d);
			free(b64);
			shmq_hist_free(h);
		}
	}
	/* a count above INT64_MAX cannot travel in V2 */
	assert_int_equal(shmq_hist_new(1, 1000, 2, &h), 0);
	shmq_hist_record_n(h, 5, (uint64_t)INT64_MAX + 1);
	assert_int_equal(shmq_hist_encode(h, 0, (void **)&b64, &(size_t){ 0 }), -EOVERFLOW);
	assert_int_equal(shmq_hist_encode(h, 0x8, (void **)&b64, &(size_t){ 0 }), -EINVAL);
	shmq_hist_free(h);
}

/* The layout of a plain V2 buffer, byte for byte. */
static void test_known_bytes(void **state)
{
	static const uint8_t want[] = {
		0x1c, 0x84, 0x93, 0x13, /* cookie */
		0,    0,    0,	  5, /* payload bytes */
		0,    0,    0,	  0, /* normalizing offset */
		0,    0,    0,	  3, /* digits */
		0,    0,    0,	  0,	0, 0, 0,    1, /* lowest */
		0,    0,    0,	  0,	0, 0, 0x03, 0xe8, /* highest */
		0x3f, 0xf0, 0,	  0,	0, 0, 0,    0, /* ratio 1.0 */
		0x03, /* -2: counts 0 and 1 are zero */
		0x0a, /* 5 at value 2 */
	};
	shmq_hist *h = NULL;
	size_t len;
	uint8_t *buf;

	(void)state;
	assert_int_equal(shmq_hist_new(1, 1000, 3, &h), 0);
	shmq_hist_record_n(h, 2, 5);
	shmq_hist_record_n(h, 4, 300);
	assert_int_equal(shmq_hist_encode(h, 0, (void **)&buf, &len), 0);
	assert_int_equal(len, 40 + 5);
	assert_memory_equal(buf, want, 40 + 2);
	assert_int_equal(buf[42], 0x00); /* the single zero count at value 3 */
	assert_int_equal(buf[43], 0xd8); /* 300 zigzagged = 600 = 0x258: 0xd8 0x04 */
	assert_int_equal(buf[44], 0x04);
	free(buf);
	shmq_hist_free(h);
}

static void expect_decode(const void *buf, size_t len, int err)
{
	shmq_hist *h = NULL;

	assert_int_equal(shmq_hist_decode(buf, len, 0, &h), err);
	assert_null(h);
}

static size_t plain_header(uint8_t *p, uint32_t payload, int32_t sigfigs, int64_t lowest,
			   int64_t highest)
{
	uint32_t w[4] = { 0x1c849313u, payload, 0, (uint32_t)sigfigs };

	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 4; b++)
			p[4 * i + b] = (uint8_t)(w[i] >> (24 - 8 * b));
	for (int b = 0; b < 8; b++) {
		p[16 + b] = (uint8_t)((uint64_t)lowest >> (56 - 8 * b));
		p[24 + b] = (uint8_t)((uint64_t)highest >> (56 - 8 * b));
	}
	memset(p + 32, 0, 8);
	return 40;
}

static size_t compress_into(uint8_t *out, size_t cap, const uint8_t *in, size_t len)
{
	uLongf clen = cap - 8;

	assert_int_equal(compress2(out + 8, &clen, in, len, 6), Z_OK);
	out[0] = 0x1c, out[1] = 0x84, out[2] = 0x93, out[3] = 0x14;
	for (int b = 0; b < 4; b++)
		out[4 + b] = (uint8_t)(clen >> (24 - 8 * b));
	return 8 + clen;
}

static void test_hostile(void **state)
{
	uint8_t p[4096], c[4096];
	shmq_hist *h = NULL;
	size_t n;

	(void)state;
	assert_int_equal(shmq_hist_decode(NULL, 0, 0, &h), -EINVAL);
	assert_int_equal(shmq_hist_decode(p, 10, 1, &h), -EINVAL);
	expect_decode(p, 0, -EPROTO);
	/* bad cookie */
	n = plain_header(p, 1, 3, 1, 1000);
	p[n++] = 0x02;
	p[0] = 0x1d;
	expect_decode(p, n, -EPROTO);
	p[0] = 0x1c;
	assert_int_equal(shmq_hist_decode(p, n, 0, &h), 0);
	assert_int_equal(shmq_hist_total(h), 1);
	shmq_hist_free(h);
	h = NULL;
	/* payload length beyond the buffer */
	plain_header(p, 2, 3, 1, 1000);
	expect_decode(p, n, -EPROTO);
	/* payload length beyond what the range could need */
	plain_header(p, 0x7fffffff, 3, 1, 1000);
	expect_decode(p, n, -EMSGSIZE);
	/* configurations HdrHistogram refuses */
	plain_header(p, 1, 9, 1, 1000);
	expect_decode(p, n, -EPROTO);
	plain_header(p, 1, 3, 0, 1000);
	expect_decode(p, n, -EPROTO);
	plain_header(p, 1, 3, 1000, 1000);
	expect_decode(p, n, -EPROTO);
	plain_header(p, 1, 3, 1, INT64_MAX);
	expect_decode(p, n, -EPROTO);
	plain_header(p, 1, -1, 1, 1000);
	expect_decode(p, n, -EPROTO);
	/* more counts than the declared range has: (1, 1000, 1) has 112 */
	n = plain_header(p, 113, 1, 1, 1000);
	memset(p + n, 0x02, 113);
	expect_decode(p, n + 113, -EPROTO);
	plain_header(p, 112, 1, 1, 1000);
	assert_int_equal(shmq_hist_decode(p, n + 112, 0, &h), 0);
	assert_int_equal(shmq_hist_total(h), 112);
	shmq_hist_free(h);
	h = NULL;
	/* a zero run past the end, and the run length INT64_MIN */
	plain_header(p, 2, 1, 1, 1000);
	p[40] = 0x02;
	p[41] = 0xdf; /* zigzag 223: -112 zero counts after one count */
	p[42] = 0x01;
	plain_header(p, 3, 1, 1, 1000);
	expect_decode(p, 43, -EPROTO);
	p[41] = 0xdd; /* -111 fits exactly */
	assert_int_equal(shmq_hist_decode(p, 43, 0, &h), 0);
	shmq_hist_free(h);
	h = NULL;
	plain_header(p, 9, 1, 1, 1000);
	memset(p + 40, 0xff, 8);
	p[48] = 0xff; /* zigzag 2^64-1 = INT64_MIN */
	expect_decode(p, 49, -EPROTO);
	/* a varint cut short by the payload's end */
	plain_header(p, 1, 1, 1, 1000);
	p[40] = 0x80;
	expect_decode(p, 41, -EPROTO);
	/* three counts of INT64_MAX: their sum overflows */
	plain_header(p, 27, 1, 1, 1000);
	for (int i = 0; i < 3; i++) {
		memset(p + 40 + 9 * i, 0xff, 9);
		p[40 + 9 * i] = 0xfe; /* zigzag 2^64 - 2 = INT64_MAX */
	}
	expect_decode(p, 67, -EPROTO);
	plain_header(p, 18, 1, 1, 1000);
	assert_int_equal(shmq_hist_decode(p, 58, 0, &h), 0);
	assert_true(shmq_hist_total(h) == 2 * (uint64_t)INT64_MAX);
	shmq_hist_free(h);
	h = NULL;
	/* compressed: lengths beyond the buffer, a truncated stream, garbage */
	n = plain_header(p, 1, 3, 1, 1000);
	p[n++] = 0x02;
	n = compress_into(c, sizeof(c), p, n);
	assert_int_equal(shmq_hist_decode(c, n, 0, &h), 0);
	shmq_hist_free(h);
	h = NULL;
	expect_decode(c, n - 1, -EPROTO);
	c[7]++;
	expect_decode(c, n, -EPROTO);
	c[7]--;
	c[10] ^= 0x55;
	assert_true(shmq_hist_decode(c, n, 0, &h) < 0);
	assert_null(h);
	c[4] = 0xff;
	expect_decode(c, n, -EPROTO);
}

/* A stream that inflates far past its header's payload length stops at that length. */
static void test_zlib_bomb(void **state)
{
	size_t big = 64u << 20, n, clen;
	uint8_t *plain = calloc(1, big), *c;
	shmq_hist *h = NULL;

	(void)state;
	assert_non_null(plain);
	/* (1, 1000, 1) has 112 counts: at most 1008 payload bytes may be declared */
	plain_header(plain, 1009, 1, 1, 1000);
	clen = compressBound(big) + 8;
	c = malloc(clen);
	assert_non_null(c);
	n = compress_into(c, clen, plain, big);
	assert_true(n < big / 100);
	expect_decode(c, n, -EMSGSIZE);
	/* declared 112 zero counts: decodes, and the 64 MiB behind are never inflated */
	plain_header(plain, 112, 1, 1, 1000);
	n = compress_into(c, clen, plain, big);
	assert_int_equal(shmq_hist_decode(c, n, 0, &h), 0);
	assert_int_equal(shmq_hist_total(h), 0);
	shmq_hist_free(h);
	/* declared beyond the inflated data */
	plain_header(plain, 200, 1, 1, 1000);
	n = compress_into(c, clen, plain, 60);
	expect_decode(c, n, -EPROTO);
	free(plain);
	free(c);
}

/* Every prefix and many random corruptions of valid encodings: an error or a histogram. */
static void test_mutations(void **state)
{
	shmq_hist *src, *h;
	unsigned flags[] = { 0, SHMQ_HIST_ENC_COMPRESSED };

	(void)state;
	src = sample(1, 3600LL * 1000 * 1000, 3, 300);
	for (int f = 0; f < 2; f++) {
		uint8_t *buf, *m;
		size_t len;

		assert_int_equal(shmq_hist_encode(src, flags[f], (void **)&buf, &len), 0);
		for (size_t cut = 0; cut < len; cut++) {
			m = malloc(cut ? cut : 1); /* exact size, so ASan sees any overread */
			memcpy(m, buf, cut);
			h = NULL;
			assert_true(shmq_hist_decode(m, cut, 0, &h) < 0);
			free(m);
		}
		for (int i = 0; i < 3000; i++) {
			m = malloc(len);
			memcpy(m, buf, len);
			for (int k = 0; k < 1 + i % 4; k++)
				m[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
			h = NULL;
			if (shmq_hist_decode(m, len, 0, &h) == 0)
				shmq_hist_free(h);
			free(m);
		}
		free(buf);
	}
	shmq_hist_free(src);
}

static void test_base64_hostile(void **state)
{
	shmq_hist *h = NULL;

	(void)state;
	assert_int_equal(shmq_hist_decode_base64("HISTF!AA", 8, &h), -EPROTO);
	assert_int_equal(shmq_hist_decode_base64("HISTFAAAA", 9, &h), -EPROTO); /* 9 % 4 == 1 */
	assert_int_equal(shmq_hist_decode_base64("", 0, &h), -EPROTO);
	assert_int_equal(shmq_hist_decode_base64("====", 4, &h), -EPROTO);
	assert_int_equal(shmq_hist_decode_base64("HISTFAAAACh42pNpmSzMwMDAxAABzFAaTBNK", 36, &h),
			 -EPROTO);
	assert_null(h);
}

static FILE *mem_file(const char *text)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	fputs(text, f);
	rewind(f);
	return f;
}

static void test_hlog_roundtrip(void **state)
{
	struct shmq_hist_log_entry e;
	shmq_hist_log_reader *r = NULL;
	shmq_hist *h[3];
	const char *tags[3] = { NULL, "lat.p0", "tcp" };
	FILE *f = tmpfile();
	char line[256];

	(void)state;
	assert_int_equal(shmq_hist_log_write_header(f, "[Logged with shmq test]", 1700000000.5,
						    1700000000.5),
			 0);
	for (int i = 0; i < 3; i++) {
		h[i] = sample(1, 3600LL * 1000 * 1000 * 1000, 3, 1000 * (i + 1));
		assert_int_equal(shmq_hist_log_write(f, tags[i], 1.0 * i, 1.0, h[i]), 0);
	}
	assert_int_equal(shmq_hist_log_write(f, "bad tag", 0.0, 1.0, h[0]), -EINVAL);
	assert_int_equal(shmq_hist_log_write(f, "a,b", 0.0, 1.0, h[0]), -EINVAL);
	assert_int_equal(shmq_hist_log_write_header(f, "two\nlines", 0, 0), -EINVAL);
	rewind(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "#[Logged with shmq test]\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "#[Histogram log format version 1.3]\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "#[StartTime: 1700000000.500 (seconds since epoch), "
				  "Tue Nov 14 22:13:20 UTC 2023]\n");
	rewind(f);
	assert_int_equal(shmq_hist_log_reader_new(f, &r), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(shmq_hist_log_read(r, &e), 1);
		assert_string_equal(e.tag, tags[i] ? tags[i] : "");
		assert_true(e.start_s == 1.0 * i);
		assert_true(e.interval_s == 1.0);
		assert_true(e.max > 0.0);
		assert_same(h[i], e.hist);
		shmq_hist_free(e.hist);
		shmq_hist_free(h[i]);
	}
	assert_int_equal(shmq_hist_log_read(r, &e), 0);
	assert_true(shmq_hist_log_start_time(r) == 1700000000.5);
	assert_true(shmq_hist_log_base_time(r) == 1700000000.5);
	shmq_hist_log_reader_free(r);
	shmq_hist_log_reader_free(NULL);
	fclose(f);
}

static int read_one(const char *text)
{
	struct shmq_hist_log_entry e;
	shmq_hist_log_reader *r = NULL;
	FILE *f = mem_file(text);
	int rc;

	assert_int_equal(shmq_hist_log_reader_new(f, &r), 0);
	rc = shmq_hist_log_read(r, &e);
	if (rc == 1)
		shmq_hist_free(e.hist);
	shmq_hist_log_reader_free(r);
	fclose(f);
	return rc;
}

static void test_hlog_hostile(void **state)
{
	shmq_hist *h = sample(1, 1000000, 2, 100);
	char *b64, line[8192];
	FILE *f;

	(void)state;
	assert_int_equal(shmq_hist_encode_base64(h, &b64), 0);
	assert_int_equal(read_one(""), 0);
	assert_int_equal(read_one("#only\n\"StartTimestamp\",\"x\"\n\n"), 0);
	snprintf(line, sizeof(line), "0.000,1.000,2.000,%s\r\n", b64);
	assert_int_equal(read_one(line), 1);
	snprintf(line, sizeof(line), "Tag=x,0.000,1.000,2.000,%s", b64);
	assert_int_equal(read_one(line), 1);
	snprintf(line, sizeof(line), "0.000,1.000,%s\n", b64);
	assert_int_equal(read_one(line), -EPROTO);
	snprintf(line, sizeof(line), "Tag=,0.000,1.000,2.000,%s\n", b64);
	assert_int_equal(read_one(line), -EPROTO);
	snprintf(line, sizeof(line), "x,0.000,1.000,2.000,%s\n", b64);
	assert_int_equal(read_one(line), -EPROTO);
	assert_int_equal(read_one("0.000,1.000,2.000,HISTFAAAA\n"), -EPROTO);
	assert_int_equal(read_one("Tag=no-comma-at-all\n"), -EPROTO);
	assert_int_equal(read_one("0.0,nan,1,HISTF\n"), -EPROTO);
	/* a line past the limit is refused without holding it all */
	f = tmpfile();
	for (size_t i = 0; i < SHMQ_HIST_LOG_LINE_MAX / 4096 + 2; i++)
		fwrite(memset(line, 'A', 4096), 1, 4096, f);
	rewind(f);
	{
		shmq_hist_log_reader *r = NULL;
		struct shmq_hist_log_entry e;

		assert_int_equal(shmq_hist_log_reader_new(f, &r), 0);
		assert_int_equal(shmq_hist_log_read(r, &e), -EMSGSIZE);
		shmq_hist_log_reader_free(r);
	}
	fclose(f);
	free(b64);
	shmq_hist_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_known_bytes),
		cmocka_unit_test(test_hostile),	       cmocka_unit_test(test_zlib_bomb),
		cmocka_unit_test(test_mutations),      cmocka_unit_test(test_base64_hostile),
		cmocka_unit_test(test_hlog_roundtrip), cmocka_unit_test(test_hlog_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
