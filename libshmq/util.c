// SPDX-License-Identifier: MIT
/* util.c - name validation, segment paths, clocks, process liveness and owner entries. */
#include <errno.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "shm_layout.h"

static bool name_char(char c, bool dot_ok)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || (dot_ok && c == '.');
}

/* Name what is wrong with character @c at @at of a @what, and the rule it breaks. */
static void bad_char(const char *what, const char *rule, char c, size_t at)
{
	unsigned char u = (unsigned char)c;

	if (u >= 0x20 && u < 0x7f)
		shmqi_detail("bad %s: '%c' at offset %zu is not allowed (%s)", what, c, at, rule);
	else
		shmqi_detail("bad %s: byte 0x%02x at offset %zu is not allowed (%s)", what, u, at,
			     rule);
}

bool shmqi_valid_namespace(const char *ns, const char *what)
{
	static const char rule[] = "1-32 chars of [A-Za-z0-9_-]";
	size_t i;

	static_assert(SHMQ_NAMESPACE_MAX == 32, "the rule's text");
	if (!ns || !ns[0]) {
		shmqi_detail("bad %s: empty (%s)", what, rule);
		return false;
	}
	for (i = 0; ns[i]; i++) {
		if (i >= SHMQ_NAMESPACE_MAX) {
			shmqi_detail("bad %s: %zu chars, at most %d", what, strlen(ns),
				     SHMQ_NAMESPACE_MAX);
			return false;
		}
		if (!name_char(ns[i], false)) {
			bad_char(what, rule, ns[i], i);
			return false;
		}
	}
	return true;
}

/* 1..SHMQ_NAME_MAX chars of [A-Za-z0-9_.-], no empty dot-separated segment. */
bool shmqi_valid_name(const char *name)
{
	static const char rule[] =
		"1-200 chars of [A-Za-z0-9_.-], dot-separated non-empty segments";
	size_t i;

	static_assert(SHMQ_NAME_MAX == 200, "the rule's text");
	if (!name || !name[0]) {
		shmqi_detail("bad name: %s (%s)", name ? "empty" : "NULL", rule);
		return false;
	}
	for (i = 0; name[i]; i++) {
		if (i >= SHMQ_NAME_MAX) {
			shmqi_detail("bad name: %zu chars, at most %d", strlen(name),
				     SHMQ_NAME_MAX);
			return false;
		}
		if (!name_char(name[i], true)) {
			bad_char("name", rule, name[i], i);
			return false;
		}
		if (name[i] == '.' && (i == 0 || name[i + 1] == '.' || name[i + 1] == '\0')) {
			shmqi_detail("bad name: the '.' at offset %zu leaves an empty segment (%s)",
				     i, rule);
			return false;
		}
	}
	return true;
}

int shmqi_seg_path(const shmq_bus *bus, const char *name, char *buf, size_t buf_len)
{
	int n;

	if (!bus) {
		shmqi_detail("no bus (NULL)");
		return -EINVAL;
	}
	if (!shmqi_valid_name(name))
		return -EINVAL;
	n = snprintf(buf, buf_len, "/shmq.%s.%s", bus->ns, name);
	if (n < 0 || (size_t)n >= buf_len)
		return -ENAMETOOLONG;
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t shmqi_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* kill(pid, 0) fails with ESRCH only for a pid that no longer exists (EPERM: alive). */
bool shmqi_pid_alive(pid_t pid)
{
	if (pid <= 0)
		return false;
	return kill(pid, 0) == 0 || errno != ESRCH;
}

/*
 * Fields 3 (state), 20 (threads) and 22 (start time) of /proc/PID/stat. The command name
 * (field 2) may hold spaces and parentheses, so parsing starts after the last ')'.
 */
static bool proc_stat(pid_t pid, char *ret_state, long *ret_threads, uint64_t *ret_start)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	long threads = 0;
	size_t n;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return false;
	*ret_state = p[2];
	for (i = 2; p && i < 22; i++) { /* p points at the space before field i + 1 */
		p = strchr(p + 1, ' ');
		if (p && i + 1 == 20 && sscanf(p + 1, "%ld", &threads) != 1)
			return false;
	}
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return false;
	*ret_threads = threads;
	*ret_start = start;
	return true;
}

uint64_t shmqi_proc_start(pid_t pid)
{
	uint64_t start;
	long threads;
	char state;

	return proc_stat(pid, &state, &threads, &start) ? start : 0;
}

uint64_t shmqi_pidns(void)
{
	/* A process's own pid namespace never changes: unshare() and setns() with
	 * CLONE_NEWPID affect its children only. */
	static _Atomic uint64_t cached;
	uint64_t ns = atomic_load_explicit(&cached, memory_order_relaxed);
	struct stat st;

	if (ns == 0 && stat("/proc/self/ns/pid", &st) == 0) {
		ns = (uint64_t)st.st_ino;
		atomic_store_explicit(&cached, ns, memory_order_relaxed);
	}
	return ns;
}

bool shmqi_owner_alive(pid_t pid, uint64_t start, uint64_t pidns)
{
	uint64_t now, mine = shmqi_pidns();
	long threads;
	char state;

	if (pidns && mine && pidns != mine)
		return true;
	if (!shmqi_pid_alive(pid))
		return false;
	/* Unreadable (another pid namespace, hidepid): trust kill(). */
	if (!proc_stat(pid, &state, &threads, &now))
		return true;
	/* Exited, not yet reaped by its parent. The pid's state is its main thread's: a main
	 * thread that called pthread_exit() shows Z while the process's other threads run. */
	if ((state == 'Z' || state == 'X') && threads <= 1)
		return false;
	return start == 0 || now == start;
}

void (*shmqi_owner_test_hook)(struct shmqi_owner *o);

#define HEAD_GEN_SHIFT 32
#define HEAD_NS_SHIFT 48
#define HEAD_FIELD 0xffffull

/* A namespace's tag in a head: 1-65535, or 0 when the namespace is unknown. */
static uint64_t ns_tag(uint64_t pidns)
{
	return pidns ? pidns % HEAD_FIELD + 1 : 0;
}

uint64_t shmqi_owner_head(int32_t pid, uint32_t gen, uint64_t pidns)
{
	return (pid ? ns_tag(pidns) : 0) << HEAD_NS_SHIFT |
	       ((uint64_t)gen & HEAD_FIELD) << HEAD_GEN_SHIFT | (uint32_t)pid;
}

static uint32_t head_gen(uint64_t head)
{
	return (uint32_t)(head >> HEAD_GEN_SHIFT & HEAD_FIELD);
}

/*
 * The pidns word: the namespace's inode (32 bits, as the kernel numbers them) and, above
 * it, the generation of the head it was written for. Fields a late taker wrote after it
 * lost its final CAS carry an older generation than the head, and are not used.
 */
#define NS_INO 0xffffffffull

uint64_t shmqi_owner_ns_word(uint32_t gen, uint64_t pidns)
{
	return ((uint64_t)gen & HEAD_FIELD) << 32 | (pidns & NS_INO);
}

/* The start_time word: the start time (48 bits of clock ticks) and the generation above. */
#define START_TICKS 0xffffffffffffull

uint64_t shmqi_owner_start_word(uint32_t gen, uint64_t start)
{
	return ((uint64_t)gen & HEAD_FIELD) << 48 | (start & START_TICKS);
}

bool shmqi_entry_alive(const struct shmqi_owner *o, uint64_t head)
{
	uint64_t tag = head >> HEAD_NS_SHIFT, mine = ns_tag(shmqi_pidns() & NS_INO), start, ns;
	int32_t pid = shmqi_head_pid(head);

	if (pid == 0)
		return false;
	if (tag && mine && tag != mine)
		return true; /* another pid namespace: its pids mean other processes here */
	if (pid < 0)
		return shmqi_owner_alive(-pid, 0, 0); /* changing hands: no fields to go by */
	start = atomic_load_explicit(&o->start_time, memory_order_relaxed);
	ns = atomic_load_explicit(&o->pidns, memory_order_relaxed);
	if (shmqi_owner_test_hook)
		shmqi_owner_test_hook((struct shmqi_owner *)o); /* tests only */
	/* O1: pairs with the release fence in shmqi_entry_set() of whoever wrote them. */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&o->head, memory_order_relaxed) != head)
		return true; /* another owner's fields, maybe: look again */
	if (ns >> 32 != head_gen(head) || start >> 48 != head_gen(head))
		return shmqi_owner_alive(pid, 0, 0); /* not this owner's fields: its pid alone */
	return shmqi_owner_alive(pid, start & START_TICKS, ns & NS_INO);
}

bool shmqi_entry_grab(struct shmqi_owner *o, uint64_t *head, int32_t me)
{
	uint64_t want = shmqi_owner_head(-me, head_gen(*head) + 1, shmqi_pidns() & NS_INO);

	/* seq_cst: X1 in topic.c's check_exclusive() relies on it. */
	if (!atomic_compare_exchange_strong_explicit(&o->head, head, want, memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	*head = want;
	return true;
}

bool shmqi_entry_set(struct shmqi_owner *o, uint64_t *head, int32_t pid, uint64_t start,
		     uint64_t pidns)
{
	uint64_t want = shmqi_owner_head(pid, head_gen(*head), pidns & NS_INO);

	/* O1: fields stored after this are never paired with the head before our grab. */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&o->start_time, shmqi_owner_start_word(head_gen(*head), start),
			      memory_order_relaxed);
	atomic_store_explicit(&o->pidns, shmqi_owner_ns_word(head_gen(*head), pidns),
			      memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&o->head, head, want, memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	*head = want;
	return true;
}
