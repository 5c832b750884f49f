/* SPDX-License-Identifier: MIT */
/* common.h - helpers shared by the cmocka tests: private namespaces, segment paths, children. */
#ifndef SHMQ_TEST_COMMON_H
#define SHMQ_TEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shmq.h"

/* A namespace of our own per test process, so parallel tests and leftovers never collide. */
static inline shmq_bus *test_bus(void)
{
	char ns[SHMQ_NAMESPACE_MAX + 1];
	shmq_bus *bus = NULL;

	snprintf(ns, sizeof(ns), "t%d", (int)getpid());
	assert_int_equal(shmq_bus_open(ns, 0, &bus), 0);
	return bus;
}

/*
 * In a forked child: the namespace of test process @top (what its test_bus() opened), so
 * that children and their own children meet the parent's objects. Exits 30 on failure.
 */
static inline shmq_bus *test_bus_of(pid_t top)
{
	char ns[SHMQ_NAMESPACE_MAX + 1];
	shmq_bus *bus = NULL;

	snprintf(ns, sizeof(ns), "t%d", (int)top);
	if (shmq_bus_open(ns, 0, &bus) < 0)
		_exit(30);
	return bus;
}

/*
 * In a forked child, where a cmocka assertion must not run (it would unwind into the
 * parent's test): a failed condition names its line and ends the child with status 1.
 */
#define CHILD_CHECK(c)                                                  \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "line %d: %s\n", __LINE__, #c); \
			_exit(1);                                       \
		}                                                       \
	} while (0)

/*
 * Remove every segment of this process's test namespace: a cmocka group teardown, so a
 * failed assertion (which skips a test's own cleanup) leaves nothing behind.
 */
static inline int test_cleanup(void **state)
{
	char prefix[64], path[300];
	struct dirent *de;
	DIR *d = opendir("/dev/shm");

	(void)state;
	if (!d)
		return 0;
	snprintf(prefix, sizeof(prefix), "shmq.t%d.", (int)getpid());
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(path, sizeof(path), "/%s", de->d_name);
			shm_unlink(path);
		}
	}
	closedir(d);
	return 0;
}

/* How many requesters' inboxes ("_INBOX.*", shmq/service.h) the namespace of @bus holds. */
static inline int test_inboxes(shmq_bus *bus)
{
	char prefix[64];
	struct dirent *de;
	DIR *d = opendir("/dev/shm");
	int n = 0;

	assert_non_null(d);
	snprintf(prefix, sizeof(prefix), "shmq.%s._INBOX.", shmq_bus_namespace(bus));
	while ((de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* The /dev/shm path of @name on @bus (what shm_open() would name it). */
static inline void test_path(shmq_bus *bus, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/shmq.%s.%s", shmq_bus_namespace(bus), name);
}

static inline void test_unlink(shmq_bus *bus, const char *name)
{
	int r = shmq_unlink(bus, name);

	assert_true(r == 0 || r == -ENOENT);
}

/* Map a segment by hand, as another (possibly hostile) process would; munmap when done. */
static inline uint8_t *test_map(shmq_bus *bus, const char *name, size_t *ret_size)
{
	char path[300];
	struct stat st;
	void *p;
	int fd;

	test_path(bus, name, path, sizeof(path));
	fd = shm_open(path, O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	*ret_size = (size_t)st.st_size;
	return p;
}

/*
 * Create a raw file of @size bytes in /dev/shm under @name, as another program might: its
 * first bytes from @bytes (@n of them, may be NULL), the rest @fill.
 */
static inline void test_plant(shmq_bus *bus, const char *name, const void *bytes, size_t n,
			      size_t size, int fill)
{
	char path[300];
	uint8_t *p;
	int fd;

	test_path(bus, name, path, sizeof(path));
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (size) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		assert_true(p != MAP_FAILED);
		memset(p, fill, size);
		if (bytes)
			memcpy(p, bytes, n < size ? n : size);
		munmap(p, size);
	}
	close(fd);
}

static inline uint64_t test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME in ns, the clock of created_ns (time() may run a tick behind it). */
static inline uint64_t test_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Wait for a child and return its exit status, or 128+signal. */
static inline int test_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/* A small, fast, seedable generator (xorshift64*) for reproducible random tests. */
static inline uint64_t test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* FNV-1a over 8-byte words, then bytes: the stress tests' payload checksum. */
static inline uint64_t test_checksum(const uint8_t *p, size_t len)
{
	uint64_t h = 1469598103934665603ull, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 1099511628211ull;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* How many messages a stress test sends: @full scaled by $SHMQ_STRESS_SCALE percent. */
static inline uint64_t test_scaled(uint64_t full)
{
	const char *s = getenv("SHMQ_STRESS_SCALE");
	uint64_t pct = s ? strtoull(s, NULL, 10) : 100;

	if (pct == 0 || pct > 100)
		pct = 100;
	return full * pct / 100 ? full * pct / 100 : 1;
}

#endif /* SHMQ_TEST_COMMON_H */
