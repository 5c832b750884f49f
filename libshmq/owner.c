// SPDX-License-Identifier: MIT
/* owner.c - who owns a role or a table entry: liveness of processes and the O1 protocol. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "shm_layout.h"
#include "wait.h"

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
	/*
	 * Unreadable: another pid namespace or hidepid (trust kill()), or the process was reaped
	 * between kill() and the read, which a second kill() tells (a zombie passes the first;
	 * its parent's wait may come before we read its state).
	 */
	if (!proc_stat(pid, &state, &threads, &now))
		return shmqi_pid_alive(pid);
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

/* ---- pidfds of owners, for waiters that sleep on a peer's death (wait.h) ---- */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

/*
 * A pidfd of the owner of @head (loaded with acquire from @o). It is opened first and the
 * owner judged alive after: a process alive after the open held its pid throughout, so the
 * pidfd is that process's and not a later one's that reused the pid.
 * Return: the fd, -ESRCH (dead, or the entry changed hands: look again), -EOPNOTSUPP (another
 * pid namespace, or no pidfds), or another -errno (-EMFILE).
 */
static int entry_pidfd(const struct shmqi_owner *o, uint64_t head)
{
	uint64_t tag = head >> HEAD_NS_SHIFT, self = shmqi_pidns() & NS_INO, mine = ns_tag(self);
	uint64_t ns = atomic_load_explicit(&o->pidns, memory_order_relaxed);
	int32_t pid = shmqi_head_pid(head);
	int fd;

	if (tag && mine && tag != mine)
		return -EOPNOTSUPP; /* its pid means another process here */
	/* The head's tag is 16 bits of the namespace: two may share one. The owner's field,
	 * when written for this head, has all of it (a look only: a misread costs a slice). */
	if (pid > 0 && ns >> 32 == head_gen(head) && (ns & NS_INO) && self && (ns & NS_INO) != self)
		return -EOPNOTSUPP;
	fd = (int)syscall(SYS_pidfd_open, pid < 0 ? -pid : pid, 0);
	if (fd < 0)
		return errno == ENOSYS || errno == EPERM ? -EOPNOTSUPP : -errno;
	/* O1: an acquire load, as every head load before a judgement */
	if (!shmqi_entry_alive(o, head) ||
	    atomic_load_explicit(&o->head, memory_order_acquire) != head) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int shmqi_pidfd_ended(const struct shmqi_pidfd *pf, uint64_t head)
{
	struct pollfd pfd = { .fd = pf->fd, .events = POLLIN };
	int r;

	if (!pf->open || pf->head != head)
		return -1;
	r = poll(&pfd, 1, 0);
	return r < 0 ? -1 : r > 0;
}

static _Atomic uint64_t pidfd_ids = 1;

void shmqi_pidfd_close(struct shmqi_pidfd *pf)
{
	if (pf->open)
		close(pf->fd);
	pf->open = false;
}

bool shmqi_watch_owner(struct shmqi_pidfd *pf, const struct shmqi_owner *o, struct shmqi_peers *p)
{
	uint64_t head = atomic_load_explicit(&o->head, memory_order_acquire);
	int fd;

	if (pf->open && pf->head == head)
		goto add;
	shmqi_pidfd_close(pf);
	if (shmqi_head_pid(head) == 0)
		return true; /* nobody holds it: an owner that comes is no death */
	fd = entry_pidfd(o, head);
	if (fd == -ESRCH)
		return false;
	if (fd < 0) { /* cannot be watched: looked at every slice */
		shmqi_peers_look_every(p, shmqi_room_slice_ns);
		return true;
	}
	/* relaxed: only unique, never ordered; 0 is "none" to the rings */
	*pf = (struct shmqi_pidfd){ .fd = fd,
				    .open = true,
				    .head = head,
				    .id = atomic_fetch_add_explicit(&pidfd_ids, 1,
								    memory_order_relaxed) };
add:
	if (p->n == SHMQI_PEERS_MAX) { /* more than a park watches: looked at every slice */
		shmqi_peers_look_every(p, shmqi_room_slice_ns);
		return true;
	}
	p->fd[p->n] = pf->fd;
	p->id[p->n++] = pf->id;
	return true;
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

/* ---- taking, giving up and scanning entries (roles and tables) ---- */

static inline struct shmqi_owner *entry_at(void *table, size_t stride, uint32_t i)
{
	return (struct shmqi_owner *)((uint8_t *)table + (size_t)i * stride);
}

int shmqi_owner_take(void *table, size_t stride, uint32_t n, int32_t me, uint64_t start,
		     uint64_t *ret_head, uint32_t *ret_i)
{
	struct shmqi_owner *o;
	uint64_t h;
	int32_t cur;
	uint32_t i;
	int pass;

	/* A free entry first, then one whose owner is dead. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			o = entry_at(table, stride, i);
			h = atomic_load_explicit(&o->head, memory_order_acquire);
			cur = shmqi_head_pid(h);
			if (pass == 0 ? cur != 0 : cur == 0 || shmqi_entry_alive(o, h))
				continue;
			if (shmqi_entry_grab(o, &h, me) &&
			    shmqi_entry_set(o, &h, me, start, shmqi_pidns())) {
				*ret_head = h;
				*ret_i = i;
				return 0;
			}
		}
	}
	return -EUSERS;
}

int shmqi_owner_take_one(struct shmqi_owner *o, int32_t me, uint64_t start, uint64_t *ret_head)
{
	uint64_t h;
	int i;

	for (i = 0; i < 8; i++) {
		h = atomic_load_explicit(&o->head, memory_order_acquire);
		if (shmqi_head_pid(h) != 0 && shmqi_entry_alive(o, h)) {
			if (atomic_load_explicit(&o->head, memory_order_acquire) != h)
				continue; /* it changed while we judged it: look again */
			return -EBUSY;
		}
		if (shmqi_entry_grab(o, &h, me)) {
			if (!shmqi_entry_set(o, &h, me, start, shmqi_pidns()))
				return -EBUSY;
			*ret_head = h;
			return 0;
		}
		/* Somebody else changed it: look again. */
	}
	return -EBUSY;
}

bool shmqi_owner_free(struct shmqi_owner *o, uint64_t head, int32_t me, shmqi_owner_clear_fn clear,
		      void *ctx, void *arg)
{
	if (!shmqi_entry_grab(o, &head, me))
		return false;
	if (clear && atomic_load_explicit(&o->head, memory_order_seq_cst) == head)
		clear(ctx, arg);
	return shmqi_entry_set(o, &head, 0, 0, 0);
}

bool shmqi_owner_free_dead(struct shmqi_owner *o, uint64_t dead)
{
	uint64_t want = shmqi_owner_head(0, head_gen(dead) + 1, 0);

	/* seq_cst, as every head CAS: in one order with the scans' head loads (X1). */
	return atomic_compare_exchange_strong_explicit(&o->head, &dead, want, memory_order_seq_cst,
						       memory_order_relaxed);
}

uint32_t shmqi_owner_scan(void *table, size_t stride, uint32_t n, bool live,
			  shmqi_owner_visit_fn visit, void *arg)
{
	struct shmqi_owner *o;
	uint32_t i, count = 0;
	uint64_t h;
	int32_t pid;

	for (i = 0; i < n; i++) {
		o = entry_at(table, stride, i);
		/* seq_cst: X1 in topic_pub.c reads producer heads this way; acquire elsewhere. */
		h = atomic_load_explicit(&o->head, memory_order_seq_cst);
		pid = shmqi_head_pid(h);
		if (pid == 0 || shmqi_entry_alive(o, h) != live)
			continue;
		if (!visit || visit(arg, i, h))
			count++;
	}
	return count;
}
