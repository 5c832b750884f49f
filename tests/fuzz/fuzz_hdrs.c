// SPDX-License-Identifier: MIT
/*
 * fuzz_hdrs.c - libFuzzer target for record header blocks (shmq/headers.h): one input is one
 * block as a hostile segment may hold it. What shmq_hdrs_check() accepts must iterate to its
 * end with every key and value inside, and shmq_hdrs_add() must rebuild it byte for byte.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "shmq.h"

/* Is [@p, @p + @n) inside [@base, @base + @len)? */
static bool inside(const uint8_t *base, size_t len, const char *p, size_t n)
{
	const uint8_t *q = (const uint8_t *)p;

	return q >= base && q <= base + len && n <= (size_t)(base + len - q);
}

/* A time header that parses is its decimal digits, leading zeros aside. */
static void check_time(const uint8_t *data, size_t size, const char *key)
{
	const char *v;
	char want[24];
	size_t n;
	uint64_t ns = 0;
	int r = shmq_hdrs_time(data, size, key, &ns), g = shmq_hdrs_get(data, size, key, &v, &n);

	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EBADMSG);
	FUZZ_CHECK(g == 0 || g == -ENOENT || g == -EBADMSG);
	FUZZ_CHECK(r == g || (g == 0 && r == -EBADMSG));
	if (r < 0)
		return;
	while (n > 1 && v[0] == '0')
		v++, n--;
	snprintf(want, sizeof(want), "%" PRIu64, ns);
	FUZZ_CHECK(n == strlen(want) && !memcmp(v, want, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[SHMQ_HDRS_MAX];
	char key[SHMQ_HDR_KEY_MAX + 1];
	const char *k, *v, *first = NULL, *got;
	size_t pos = 0, prev, len = 0, kn, vn, first_n = 0, got_n;
	int n, r, count = 0;

	if (size > 2 * SHMQ_HDRS_MAX)
		return 0;
	n = shmq_hdrs_check(data, size);
	FUZZ_CHECK(n >= 0 || n == -EBADMSG || n == -E2BIG);
	FUZZ_CHECK(n < 0 || ((unsigned)n <= SHMQ_HDRS_MAX_COUNT && size <= SHMQ_HDRS_MAX));
	check_time(data, size, SHMQ_HDR_EXPIRES);
	check_time(data, size, SHMQ_HDR_NOT_BEFORE);
	for (;;) {
		prev = pos;
		r = shmq_hdrs_next(data, size, &pos, &k, &kn, &v, &vn);
		if (r != 1)
			break;
		FUZZ_CHECK(pos > prev && pos <= size && (size_t)count < size / 4);
		FUZZ_CHECK(kn >= 1 && kn <= SHMQ_HDR_KEY_MAX && vn <= SHMQ_HDR_VAL_MAX);
		FUZZ_CHECK(inside(data, size, k, kn) && inside(data, size, v, vn));
		FUZZ_CHECK(k == (const char *)data + prev + 4 && v == k + kn);
		memcpy(key, k, kn);
		key[kn] = '\0';
		FUZZ_CHECK(!memchr(key, '\0', kn));
		/* The first entry of a key is what get() finds. */
		if (!first) {
			first = v;
			first_n = vn;
			FUZZ_CHECK(shmq_hdrs_get(data, size, key, &got, &got_n) == 0);
			FUZZ_CHECK(got == first && got_n == first_n);
		}
		if (n >= 0)
			FUZZ_CHECK(shmq_hdrs_add(again, sizeof(again), &len, key, v, vn) == 0);
		count++;
	}
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK(r == 0 ? pos == size : pos < size);
	if (n == -EBADMSG)
		FUZZ_CHECK(r == -EBADMSG);
	if (n >= 0) {
		FUZZ_CHECK(r == 0 && count == n && len == size);
		FUZZ_CHECK(size == 0 || !memcmp(again, data, size));
		FUZZ_CHECK(shmq_hdrs_check(again, len) == n);
	}
	return 0;
}
