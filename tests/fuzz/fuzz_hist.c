// SPDX-License-Identifier: MIT
/*
 * fuzz_hist.c - libFuzzer target for the histogram decoders (shmq/hist.h): the first byte
 * picks V2 bytes (shmq_hist_decode()), base64 (shmq_hist_decode_base64()) or .hlog text
 * (shmq_hist_log_read()); the rest is the input. What decodes must encode, and decode again
 * to a histogram with the same configuration and the same count in every bucket.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "shmq.h"

/* Inputs past this take long to decode without reaching anything new. */
#define INPUT_MAX 65536
/* Intervals read from one .hlog input. */
#define LOG_MAX 16

/* @a and @b have the same configuration and counts (every non-empty bucket of either). */
static void same(const shmq_hist *a, const shmq_hist *b)
{
	struct shmq_hist_iter_step st;
	shmq_hist_iter *it;
	uint64_t seen = 0;
	int r;

	FUZZ_CHECK(shmq_hist_lowest(a) == shmq_hist_lowest(b));
	FUZZ_CHECK(shmq_hist_highest(a) == shmq_hist_highest(b));
	FUZZ_CHECK(shmq_hist_sigfigs(a) == shmq_hist_sigfigs(b));
	FUZZ_CHECK(shmq_hist_total(a) == shmq_hist_total(b));
	FUZZ_CHECK(shmq_hist_min(a) == shmq_hist_min(b) && shmq_hist_max(a) == shmq_hist_max(b));
	if (shmq_hist_iter_recorded(a, &it) < 0)
		return; /* -ENOMEM */
	while ((r = shmq_hist_iter_next(it, &st)) == 1) {
		FUZZ_CHECK(st.count_at_value > 0);
		FUZZ_CHECK(shmq_hist_count_at(b, st.value) == st.count_at_value);
		seen += st.count_at_value;
	}
	FUZZ_CHECK(r == 0 && seen == shmq_hist_total(a));
	shmq_hist_iter_free(it);
}

/* Encode @h in V2 (@flags) and in base64, decode both, compare. */
static void round_trip(const shmq_hist *h, unsigned flags)
{
	shmq_hist *back;
	size_t len;
	void *buf;
	char *s;
	int r;

	r = shmq_hist_encode(h, flags, &buf, &len);
	FUZZ_CHECK(r == 0 || r == -EOVERFLOW || r == -ENOMEM);
	if (r < 0)
		return;
	r = shmq_hist_decode(buf, len, 0, &back);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	free(buf);
	if (r == 0) {
		same(h, back);
		same(back, h);
		shmq_hist_free(back);
	}
	if (shmq_hist_encode_base64(h, &s) < 0)
		return;
	r = shmq_hist_decode_base64(s, strlen(s), &back);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	free(s);
	if (r == 0) {
		same(h, back);
		shmq_hist_free(back);
	}
}

static void decoded(int r, shmq_hist *h, unsigned flags)
{
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -EMSGSIZE || r == -ENOMEM);
	if (r < 0)
		return;
	round_trip(h, flags);
	shmq_hist_free(h);
}

/* Read the intervals of an .hlog held in memory. */
static void read_log(const uint8_t *data, size_t size, unsigned flags)
{
	struct shmq_hist_log_entry e;
	shmq_hist_log_reader *rd;
	FILE *f;
	int i, r = 1;

	if (!size)
		return;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return;
	if (shmq_hist_log_reader_new(f, &rd) == 0) {
		for (i = 0; i < LOG_MAX && r == 1; i++) {
			memset(&e, 0, sizeof(e));
			r = shmq_hist_log_read(rd, &e);
			FUZZ_CHECK(r == 1 || r == 0 || r == -EPROTO || r == -EMSGSIZE ||
				   r == -EIO || r == -ENOMEM);
			if (r == 1) {
				FUZZ_CHECK(memchr(e.tag, '\0', sizeof(e.tag)));
				decoded(0, e.hist, flags);
			}
		}
		shmq_hist_log_reader_free(rd);
	}
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags;
	shmq_hist *h = NULL;
	int r;

	if (size < 1 || size > INPUT_MAX)
		return 0;
	/* Bit 2 of the first byte: how to encode it again. */
	flags = data[0] & 4 ? SHMQ_HIST_ENC_COMPRESSED : 0;
	switch (data[0] % 4) {
	case 0:
	case 3:
		r = shmq_hist_decode(data + 1, size - 1, 0, &h);
		decoded(r, h, flags);
		break;
	case 1:
		r = shmq_hist_decode_base64((const char *)data + 1, size - 1, &h);
		decoded(r, h, flags);
		break;
	default:
		read_log(data + 1, size - 1, flags);
	}
	return 0;
}
