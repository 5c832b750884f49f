// SPDX-License-Identifier: MIT
/* sys.c - CPU pinning, the forked peer, cleanup of shared memory, and the system banner. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "chan.h"
#include "shmq.h"

/* ---- CPUs ---- */

int cpus_parse(const char *arg, struct cpu_pair *ret)
{
	char *end;
	long a, b;

	errno = 0;
	a = strtol(arg, &end, 10);
	if (errno || end == arg || *end != ',')
		return -1;
	arg = end + 1;
	b = strtol(arg, &end, 10);
	if (errno || end == arg || *end || a < 0 || b < 0 || a >= CPU_SETSIZE || b >= CPU_SETSIZE ||
	    a == b)
		return -1;
	ret->a = (int)a;
	ret->b = (int)b;
	return 0;
}

/*
 * Check the pair against the CPUs this process may use. Without --cpus, take 0 and 1, or
 * the first two allowed ones; with a single allowed CPU, run unpinned (and say so).
 */
int cpus_resolve(struct cpu_pair *cp, bool given)
{
	cpu_set_t set;
	int i, found = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	if (given) {
		if (!CPU_ISSET(cp->a, &set) || !CPU_ISSET(cp->b, &set))
			return -EINVAL;
		cp->pinned = true;
		return 0;
	}
	if (CPU_ISSET(0, &set) && CPU_ISSET(1, &set)) {
		cp->a = 0, cp->b = 1, cp->pinned = true;
		return 0;
	}
	for (i = 0; i < CPU_SETSIZE && found < 2; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		if (found++ == 0)
			cp->a = i;
		else
			cp->b = i;
	}
	cp->pinned = found == 2;
	if (!cp->pinned)
		cp->a = cp->b = -1;
	return 0;
}

int cpu_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

/* ---- cleanup: a fatal signal or exit() kills the peer and unlinks what we created ---- */

#define CLEANUP_SLOTS 8
#define SHM_PATH_MAX (6 + SHMQ_NAMESPACE_MAX + 1 + SHMQ_NAME_MAX + 1)

static char shm_paths[CLEANUP_SLOTS][SHM_PATH_MAX];
static volatile sig_atomic_t shm_used[CLEANUP_SLOTS];
static volatile sig_atomic_t child_pid; /* the running peer, 0 when none */

static void cleanup_now(void)
{
	int i;

	if (child_pid > 0)
		kill(child_pid, SIGKILL);
	for (i = 0; i < CLEANUP_SLOTS; i++) {
		if (shm_used[i])
			shm_unlink(shm_paths[i]); /* async-signal-safe in practice: unlink(2) */
		shm_used[i] = 0;
	}
}

static void on_fatal_signal(int sig)
{
	pid_t pid = child_pid;

	cleanup_now();
	if (pid > 0)
		waitpid(pid, NULL, 0); /* async-signal-safe; the peer is not left a zombie */
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_exit_cleanup(void)
{
	pid_t pid = child_pid;

	cleanup_now();
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

void cleanup_install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	size_t i;

	atexit(on_exit_cleanup);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal_signal);
}

/* Segments are "/shmq.<namespace>.<name>" (see shmq.h), which is what shm_unlink() takes. */
static void shm_path(char *buf, const char *ns, const char *name)
{
	snprintf(buf, SHM_PATH_MAX, "/shmq.%s.%s", ns, name);
}

void cleanup_add_shm(const char *ns, const char *name)
{
	int i;

	for (i = 0; i < CLEANUP_SLOTS; i++) {
		if (!shm_used[i]) {
			shm_path(shm_paths[i], ns, name);
			shm_used[i] = 1;
			return;
		}
	}
}

void cleanup_del_shm(const char *ns, const char *name)
{
	char path[SHM_PATH_MAX];
	int i;

	shm_path(path, ns, name);
	for (i = 0; i < CLEANUP_SLOTS; i++) {
		if (shm_used[i] && strcmp(shm_paths[i], path) == 0)
			shm_used[i] = 0;
	}
}

/* ---- the peer process ---- */

static void child_reset(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	child_pid = 0;
	for (i = 0; i < CLEANUP_SLOTS; i++)
		shm_used[i] = 0; /* the parent owns these names */
}

int peer_start(struct peer *p, int cpu, int (*fn)(void *arg), void *arg)
{
	pid_t parent = getpid();
	pid_t pid;
	int r;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_reset();
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		r = cpu_pin(cpu);
		if (r < 0) {
			fprintf(stderr, "%s: pin to CPU %d: %s\n", BENCH_PROG, cpu, strerror(-r));
			_exit(1);
		}
		_exit(fn(arg) < 0 ? 1 : 0);
	}
	p->pid = pid;
	p->exited = false;
	p->status = 0;
	child_pid = pid;
	return 0;
}

static int peer_status(struct peer *p)
{
	child_pid = 0;
	if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0)
		return 0;
	if (WIFSIGNALED(p->status))
		fprintf(stderr, "%s: peer process %d killed by signal %d\n", BENCH_PROG,
			(int)p->pid, WTERMSIG(p->status));
	else
		fprintf(stderr, "%s: peer process %d exited with status %d\n", BENCH_PROG,
			(int)p->pid, WEXITSTATUS(p->status));
	return -ECHILD;
}

int peer_wait(struct peer *p)
{
	pid_t r;

	if (p->pid <= 0)
		return 0;
	while (!p->exited) {
		r = waitpid(p->pid, &p->status, 0);
		if (r == p->pid)
			p->exited = true;
		else if (errno != EINTR)
			return -errno;
	}
	r = peer_status(p);
	p->pid = 0;
	return r;
}

void peer_kill(struct peer *p)
{
	if (p->pid <= 0)
		return;
	if (!p->exited) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
			;
	}
	child_pid = 0;
	p->pid = 0;
}

bool spin_peer_gone(struct spin *s)
{
	struct peer *p = s->child;

	if (p) {
		if (!p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
			p->exited = true;
		return p->exited;
	}
	return s->parent && getppid() != s->parent;
}

/* ---- memory, parsing, payloads ---- */

void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void shared_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

int u64_parse(const char *arg, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!arg || *arg < '0' || *arg > '9')
		return -1;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*ret = v;
	return 0;
}

int sizes_parse(const char *arg, unsigned *sizes, int max)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	uint64_t v;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max || u64_parse(tok, 1, BENCH_MAX_SIZE, &v) < 0) {
			n = -1;
			break;
		}
		sizes[n++] = (unsigned)v;
	}
	free(copy);
	return n;
}

int list_parse(const char *arg, const char *const *names, int n, bool *use)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int i, found = 0;

	if (!copy)
		return -1;
	memset(use, 0, (size_t)n * sizeof(*use));
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < n && strcmp(tok, names[i]) != 0; i++)
			;
		if (i == n) {
			found = 0;
			break;
		}
		use[i] = true;
		found++;
	}
	free(copy);
	return found > 0 ? 0 : -1;
}

void pattern_fill(void *buf, size_t len, uint64_t seq)
{
	uint8_t *p = buf;
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		w = i ? (seq * 0x9e3779b97f4a7c15ull) ^ i : seq;
		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)(seq + i);
}

/* ---- the banner ---- */

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512], *colon;

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		colon += strspn(colon + 1, " \t") + 1;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* What one clock_gettime(CLOCK_MONOTONIC) costs; every RTT sample includes one. */
static double clock_cost_ns(void)
{
	uint64_t t0, t1, sink = 0;
	int i, n = 1000000;

	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += now_ns();
	t1 = now_ns();
	return sink ? (double)(t1 - t0) / n : 0;
}

static void cpus_text(const struct cpu_pair *cp, char *buf, size_t len)
{
	if (cp->pinned)
		snprintf(buf, len, "%d,%d", cp->a, cp->b);
	else
		snprintf(buf, len, "unpinned");
}

void sysinfo_print(const struct cpu_pair *cp, bool json)
{
	char model[256], load[128], clk[64], date[64], cpus[32];
	struct utsname u;
	time_t t = time(NULL);
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	double cost = clock_cost_ns();

	if (uname(&u) < 0) {
		memset(&u, 0, sizeof(u));
		snprintf(u.release, sizeof(u.release), "unknown");
	}
	cpu_model(model, sizeof(model));
	read_line("/proc/loadavg", load, sizeof(load));
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", clk,
		  sizeof(clk));
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", localtime(&t));
	cpus_text(cp, cpus, sizeof(cpus));
	if (json) {
		/* The model string comes from the kernel; strip what JSON would need escaped. */
		model[strcspn(model, "\"\\")] = '\0';
		printf("{\"bench\":\"info\",\"date\":\"%s\",\"kernel\":\"%s\",\"cpu\":\"%s\","
		       "\"nproc\":%ld,\"cpus\":\"%s\",\"loadavg\":\"%s\",\"clocksource\":\"%s\","
		       "\"clock_ns\":%.1f,\"version\":\"%s\"}\n",
		       date, u.release, model, nproc, cpus, load, clk, cost, shmq_version());
		return;
	}
	printf("date:     %s\nkernel:   %s %s\ncpu:      %s\nnproc:    %ld\n", date, u.sysname,
	       u.release, model, nproc);
	printf("cpus:     %s%s\n", cpus,
	       cp->pinned ? " (initiator/consumer, echo/producer)"
			  : " (only one CPU allowed: both processes share it)");
	printf("loadavg:  %s\nclock:    CLOCK_MONOTONIC via %s, %.1f ns per read\n", load, clk,
	       cost);
	printf("libshmq:  %s\n\n", shmq_version());
}

int bench_start(struct cpu_pair *cpus, bool cpus_given, bool json)
{
	int e;

	if (cpus_resolve(cpus, cpus_given) < 0) {
		fprintf(stderr, "%s: CPUs %d,%d: not both usable by this process\n", BENCH_PROG,
			cpus->a, cpus->b);
		return 2;
	}
	e = cpus->pinned ? cpu_pin(cpus->a) : 0;
	if (e < 0) {
		fail("pin to a CPU", e);
		return 1;
	}
	sysinfo_print(cpus, json);
	return -1;
}
