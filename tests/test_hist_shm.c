// SPDX-License-Identifier: MIT
/* test_hist_shm.c - shared-memory histograms (threads, processes, corruption) and the recorder. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hist_internal.h"

#define LOWEST 1
#define HIGHEST (3600LL * 1000 * 1000 * 1000)
#define SIGFIGS 3

static void *map_region(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static size_t region_size(void)
{
	size_t size = 0;

	assert_int_equal(shmq_hist_shm_size(LOWEST, HIGHEST, SIGFIGS, &size), 0);
	return size;
}

static void test_basic(void **state)
{
	size_t size = region_size();
	uint8_t *mem = map_region(size);
	shmq_hist_shm *w = NULL, *r = NULL;
	shmq_hist *snap = NULL, *ref = NULL;

	(void)state;
	assert_int_equal(size % 128, 0);
	assert_int_equal(shmq_hist_shm_size(0, HIGHEST, SIGFIGS, &size), -EINVAL);
	assert_int_equal(shmq_hist_shm_init(mem, size - 1, LOWEST, HIGHEST, SIGFIGS, 0, &w),
			 -EMSGSIZE);
	assert_int_equal(shmq_hist_shm_init(mem + 8, size - 8, LOWEST, HIGHEST, SIGFIGS, 0, &w),
			 -EINVAL);
	assert_int_equal(shmq_hist_shm_init(mem, size, LOWEST, HIGHEST, SIGFIGS, 1, &w), -EINVAL);
	assert_int_equal(shmq_hist_shm_init(mem, size, LOWEST, HIGHEST, SIGFIGS, 0, &w), 0);
	assert_int_equal(shmq_hist_shm_attach(mem, size, 0, &r), 0);
	assert_int_equal(shmq_hist_new(LOWEST, HIGHEST, SIGFIGS, &ref), 0);
	for (int64_t v = 0; v < 100000; v += 7) {
		assert_int_equal(shmq_hist_shm_record(w, v * 1000), 0);
		shmq_hist_record(ref, v * 1000);
	}
	assert_int_equal(shmq_hist_shm_record_n(w, 42, 10), 0);
	shmq_hist_record_n(ref, 42, 10);
	assert_int_equal(shmq_hist_shm_record(w, -1), -ERANGE);
	assert_int_equal(shmq_hist_shm_record(w, INT64_MAX), -ERANGE);
	assert_int_equal(shmq_hist_shm_record(r, 5), -EBADF);
	assert_int_equal(shmq_hist_shm_reset(r), -EBADF);
	assert_int_equal(shmq_hist_shm_total(r), shmq_hist_total(ref));
	assert_int_equal(shmq_hist_shm_snapshot(r, &snap), 0);
	assert_int_equal(shmq_hist_total(snap), shmq_hist_total(ref));
	assert_int_equal(shmq_hist_out_of_range(snap), 2);
	assert_int_equal(shmq_hist_min(snap), shmq_hist_min(ref));
	assert_int_equal(shmq_hist_max(snap), shmq_hist_max(ref));
	assert_memory_equal(snap->counts, ref->counts, (size_t)ref->cfg.counts_len * 8);
	assert_int_equal(shmq_hist_value_at_percentile(snap, 99.0),
			 shmq_hist_value_at_percentile(ref, 99.0));
	shmq_hist_free(snap);
	assert_int_equal(shmq_hist_shm_reset(w), 0);
	assert_int_equal(shmq_hist_shm_snapshot(r, &snap), 0);
	assert_int_equal(shmq_hist_total(snap), 0);
	assert_int_equal(shmq_hist_out_of_range(snap), 0);
	shmq_hist_free(snap);
	shmq_hist_free(ref);
	shmq_hist_shm_close(r);
	shmq_hist_shm_close(w);
	shmq_hist_shm_close(NULL);
	munmap(mem, size);
}

static int attach_err(const void *mem, size_t size)
{
	shmq_hist_shm *r = NULL;
	int rc = shmq_hist_shm_attach(mem, size, 0, &r);

	if (rc == 0)
		shmq_hist_shm_close(r);
	return rc;
}

static void test_corrupt(void **state)
{
	size_t size = region_size();
	uint8_t *mem = map_region(size), *copy = malloc(size);
	struct shmqi_hist_shm *hdr = (void *)mem;
	shmq_hist_shm *w = NULL, *r = NULL;
	shmq_hist *snap = NULL;
	char want[128];

	(void)state;
	assert_int_equal(attach_err(mem, size), -EPROTO); /* zero memory: never published */
	assert_string_equal(shmq_last_detail(),
			    "the histogram is not initialised (its layout word is 0)");
	assert_int_equal(shmq_hist_shm_init(mem, size, LOWEST, HIGHEST, SIGFIGS, 0, &w), 0);
	memcpy(copy, mem, size);
	/* Another layout version of the histogram: said so, with both versions. */
	atomic_store(&hdr->layout, SHMQI_HIST_LAYOUT + 1);
	assert_int_equal(attach_err(mem, size), -EPROTO);
	snprintf(want, sizeof(want), "histogram layout version %u; this library speaks %u",
		 SHMQI_HIST_LAYOUT + 1, SHMQI_HIST_LAYOUT);
	assert_string_equal(shmq_last_detail(), want);
	hdr->magic ^= 1;
	assert_int_equal(attach_err(mem, size), -EPROTO);
	assert_string_equal(shmq_last_detail(), "not a shared histogram (wrong magic)");
	memcpy(mem, copy, size);
	assert_int_equal(attach_err(mem, size), 0);
	assert_string_equal(shmq_last_detail(), "");
	assert_int_equal(attach_err(mem, size - 1), -EPROTO);
	assert_int_equal(attach_err(mem, 100), -EPROTO);
	assert_int_equal(attach_err(mem + 64, size - 64), -EPROTO);
	assert_int_equal(attach_err(mem + 8, size - 8), -EINVAL);
#define CORRUPT(stmt)                                             \
	do {                                                      \
		stmt;                                             \
		assert_int_equal(attach_err(mem, size), -EPROTO); \
		memcpy(mem, copy, size);                          \
	} while (0)
	CORRUPT(hdr->magic ^= 1);
	CORRUPT(atomic_store(&hdr->layout, 2));
	CORRUPT(hdr->sigfigs = 7);
	CORRUPT(hdr->lowest = 0);
	CORRUPT(hdr->lowest = -5);
	CORRUPT(hdr->highest = 1);
	CORRUPT(hdr->highest = INT64_MAX);
	CORRUPT(hdr->counts_len += 1);
	CORRUPT(hdr->counts_len = UINT32_MAX);
	CORRUPT(hdr->counts_off = 128);
	CORRUPT(hdr->size = UINT64_MAX);
	/* the same memory with a larger range than the mapping holds */
	CORRUPT(hdr->highest = INT64_C(1) << 62);
#undef CORRUPT
	/* counts that cannot be: their sum overflows, or falls short of the published total */
	assert_int_equal(shmq_hist_shm_attach(mem, size, 0, &r), 0);
	atomic_store((_Atomic uint64_t *)(mem + SHMQI_HIST_COUNTS_OFF), UINT64_MAX);
	atomic_store((_Atomic uint64_t *)(mem + SHMQI_HIST_COUNTS_OFF + 8), 2);
	assert_int_equal(shmq_hist_shm_snapshot(r, &snap), -EPROTO);
	memcpy(mem, copy, size);
	atomic_store(&hdr->total, 10);
	assert_int_equal(shmq_hist_shm_snapshot(r, &snap), -EPROTO);
	/* a reset that never finishes (odd epoch) ends in -EAGAIN, not a hang */
	memcpy(mem, copy, size);
	atomic_store(&hdr->epoch, 1);
	assert_int_equal(shmq_hist_shm_snapshot(r, &snap), -EAGAIN);
	assert_null(snap);
	shmq_hist_shm_close(r);
	shmq_hist_shm_close(w);
	free(copy);
	munmap(mem, size);
}

struct writer_arg {
	shmq_hist_shm *w;
	int64_t n;
	int resets;
	_Atomic int done;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;

	for (int64_t i = 0; i < a->n; i++) {
		shmq_hist_shm_record(a->w, (i % 1000) * 997 + 1);
		if (a->resets && i % (a->n / a->resets) == a->n / a->resets - 1)
			shmq_hist_shm_reset(a->w);
	}
	atomic_store(&a->done, 1);
	return NULL;
}

/* Snapshots while a thread records: each is self-consistent and totals never go back. */
static void concurrent(int resets)
{
	size_t size = region_size();
	uint8_t *mem = map_region(size);
	struct writer_arg a = { .n = 3000000, .resets = resets };
	shmq_hist_shm *r = NULL;
	uint64_t last = 0;
	int snaps = 0;
	pthread_t t;

	assert_int_equal(shmq_hist_shm_init(mem, size, LOWEST, HIGHEST, SIGFIGS, 0, &a.w), 0);
	assert_int_equal(shmq_hist_shm_attach(mem, size, 0, &r), 0);
	assert_int_equal(pthread_create(&t, NULL, writer, &a), 0);
	while (!atomic_load(&a.done) || snaps < 3) {
		shmq_hist *s = NULL;
		int rc = shmq_hist_shm_snapshot(r, &s);

		if (rc == -EAGAIN && resets)
			continue;
		assert_int_equal(rc, 0);
		assert_true(shmq_hist_total(s) <= (uint64_t)a.n);
		assert_int_equal(shmq_hist_count_between(s, 0, INT64_MAX), shmq_hist_total(s));
		if (!resets)
			assert_true(shmq_hist_total(s) >= last);
		last = shmq_hist_total(s);
		shmq_hist_free(s);
		snaps++;
	}
	pthread_join(t, NULL);
	if (!resets) {
		shmq_hist *s = NULL;

		assert_int_equal(shmq_hist_shm_snapshot(r, &s), 0);
		assert_int_equal(shmq_hist_total(s), a.n);
		assert_int_equal(shmq_hist_count_at(s, 1), a.n / 1000);
		shmq_hist_free(s);
	}
	shmq_hist_shm_close(r);
	shmq_hist_shm_close(a.w);
	munmap(mem, size);
}

static void test_concurrent(void **state)
{
	(void)state;
	concurrent(0);
}

static void test_concurrent_resets(void **state)
{
	(void)state;
	concurrent(50);
}

/* Another process records into the shared mapping; this one reads it live. */
static void test_processes(void **state)
{
	size_t size = region_size();
	uint8_t *mem = map_region(size);
	shmq_hist_shm *w = NULL, *r = NULL;
	shmq_hist *s = NULL;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(shmq_hist_shm_init(mem, size, LOWEST, HIGHEST, SIGFIGS, 0, &w), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int64_t i = 0; i < 2000000; i++)
			shmq_hist_shm_record(w, 1000 + i % 5000);
		_exit(0);
	}
	assert_int_equal(shmq_hist_shm_attach(mem, size, 0, &r), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(shmq_hist_shm_snapshot(r, &s), 0);
		assert_int_equal(shmq_hist_count_between(s, 0, INT64_MAX), shmq_hist_total(s));
		shmq_hist_free(s);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(shmq_hist_shm_snapshot(r, &s), 0);
	assert_int_equal(shmq_hist_total(s), 2000000);
	assert_int_equal(shmq_hist_count_between(s, 1000, 1999), 400000);
	shmq_hist_free(s);
	shmq_hist_shm_close(r);
	shmq_hist_shm_close(w);
	munmap(mem, size);
}

struct rec_arg {
	shmq_hist_recorder *rec;
	int64_t n;
	_Atomic int done;
};

static void *rec_writer(void *p)
{
	struct rec_arg *a = p;

	for (int64_t i = 0; i < a->n; i++)
		shmq_hist_recorder_record(a->rec, 1 + i % 100000);
	atomic_store(&a->done, 1);
	return NULL;
}

/* Intervals taken during recording add up to exactly what was recorded. */
static void test_recorder(void **state)
{
	struct rec_arg a = { .n = 2000000 };
	shmq_hist *iv = NULL, *sum = NULL;
	uint64_t total = 0;
	int intervals = 0;
	pthread_t t;

	(void)state;
	assert_int_equal(shmq_hist_recorder_new(0, HIGHEST, SIGFIGS, &a.rec), -EINVAL);
	assert_int_equal(shmq_hist_recorder_new(LOWEST, HIGHEST, SIGFIGS, &a.rec), 0);
	assert_int_equal(shmq_hist_new(LOWEST, HIGHEST, SIGFIGS, &iv), 0);
	assert_int_equal(shmq_hist_new(LOWEST, HIGHEST, SIGFIGS, &sum), 0);
	assert_int_equal(pthread_create(&t, NULL, rec_writer, &a), 0);
	while (!atomic_load(&a.done)) {
		assert_int_equal(shmq_hist_recorder_interval(a.rec, iv), 0);
		total += shmq_hist_total(iv);
		shmq_hist_add(sum, iv);
		intervals++;
		usleep(1000);
	}
	pthread_join(t, NULL);
	assert_int_equal(shmq_hist_recorder_interval(a.rec, iv), 0);
	total += shmq_hist_total(iv);
	shmq_hist_add(sum, iv);
	assert_int_equal(total, a.n);
	assert_int_equal(shmq_hist_count_between(sum, 1, 1), a.n / 100000);
	assert_true(intervals > 1);
	assert_int_equal(shmq_hist_recorder_record(a.rec, -1), -ERANGE);
	assert_int_equal(shmq_hist_recorder_interval(a.rec, iv), 0);
	assert_int_equal(shmq_hist_out_of_range(iv), 1);
	assert_int_equal(shmq_hist_recorder_interval(NULL, iv), -EINVAL);
	shmq_hist_recorder_free(a.rec);
	shmq_hist_recorder_free(NULL);
	shmq_hist_free(iv);
	shmq_hist_free(sum);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),	   cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_concurrent), cmocka_unit_test(test_concurrent_resets),
		cmocka_unit_test(test_processes),  cmocka_unit_test(test_recorder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
