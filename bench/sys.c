// SPDX-License-Identifier: MIT
/* sys.c - CPU pinning, the forked peer, cleanup of names and paths, and the system banner. */
#include <assert.h>
#include <errno.h>
#include <mqueue.h>
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

/* a, b, then the other allowed CPUs in order: where the peers go, round-robin. */
static void cpus_order(struct cpu_pair *cp, const cpu_set_t *set)
{
	int i;

	cp->nallowed = CPU_COUNT(set);
	cp->norder = 0;
	if (!cp->pinned)
		return;
	cp->order[cp->norder++] = cp->a;
	cp->order[cp->norder++] = cp->b;
	for (i = 0; i < CPU_SETSIZE && cp->norder < BENCH_MAX_PEERS + 1; i++) {
		if (CPU_ISSET(i, set) && i != cp->a && i != cp->b)
			cp->order[cp->norder++] = i;
	}
}

/* Without --cpus, take 0 and 1, or the first two allowed ones. */
static void cpus_default(struct cpu_pair *cp, const cpu_set_t *set)
{
	int i, found = 0;

	if (CPU_ISSET(0, set) && CPU_ISSET(1, set)) {
		cp->a = 0, cp->b = 1, cp->pinned = true;
		return;
	}
	for (i = 0; i < CPU_SETSIZE && found < 2; i++) {
		if (!CPU_ISSET(i, set))
			continue;
		if (found++ == 0)
			cp->a = i;
		else
			cp->b = i;
	}
	cp->pinned = found == 2;
	if (!cp->pinned)
		cp->a = cp->b = -1;
}

/*
 * Check the pair against the CPUs this process may use; with a single allowed CPU, run
 * unpinned (and say so).
 */
int cpus_resolve(struct cpu_pair *cp, bool given)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	if (given) {
		if (!CPU_ISSET(cp->a, &set) || !CPU_ISSET(cp->b, &set))
			return -EINVAL;
		cp->pinned = true;
	} else {
		cpus_default(cp, &set);
	}
	cpus_order(cp, &set);
	return 0;
}

int cpu_of(const struct cpu_pair *cp, unsigned proc)
{
	if (!cp->pinned || cp->norder == 0)
		return -1;
	return cp->order[proc % (unsigned)cp->norder];
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

/* ---- cleanup: a fatal signal or exit() kills the peer and removes what we created ---- */

#define CLEANUP_SLOTS 16
#define SHM_PATH_MAX (6 + SHMQ_NAMESPACE_MAX + 1 + SHMQ_NAME_MAX + 1)
#define CLEANUP_PATH_MAX (SHM_PATH_MAX > 256 ? SHM_PATH_MAX : 256)

static char clean_paths[CLEANUP_SLOTS][CLEANUP_PATH_MAX];
static volatile sig_atomic_t clean_kind[CLEANUP_SLOTS]; /* enum cleanup_kind + 1, 0: free */
static volatile sig_atomic_t child_pids[BENCH_MAX_PEERS]; /* running peers, 0 when none */

/* Files and names first, then the directories they were in. All are plain syscalls. */
static void cleanup_paths(void)
{
	int pass, i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < CLEANUP_SLOTS; i++) {
			int kind = (int)clean_kind[i] - 1;

			if (kind < 0 || (kind == CLEANUP_DIR) != (pass == 1))
				continue;
			if (kind == CLEANUP_SHM)
				shm_unlink(clean_paths[i]);
			else if (kind == CLEANUP_MQ)
				mq_unlink(clean_paths[i]);
			else if (kind == CLEANUP_FILE)
				unlink(clean_paths[i]);
			else
				rmdir(clean_paths[i]);
			clean_kind[i] = 0;
		}
	}
}

static void cleanup_now(void)
{
	int i;

	for (i = 0; i < BENCH_MAX_PEERS; i++) {
		if (child_pids[i] > 0)
			kill(child_pids[i], SIGKILL);
	}
	cleanup_paths();
}

static void cleanup_reap(void)
{
	pid_t pids[BENCH_MAX_PEERS];
	int i;

	for (i = 0; i < BENCH_MAX_PEERS; i++)
		pids[i] = child_pids[i];
	cleanup_now();
	for (i = 0; i < BENCH_MAX_PEERS; i++) {
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0); /* no peer is left a zombie */
	}
}

static void on_fatal_signal(int sig)
{
	cleanup_reap();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_exit_cleanup(void)
{
	cleanup_reap();
}

static void child_pid_set(pid_t old, pid_t pid)
{
	int i;

	for (i = 0; i < BENCH_MAX_PEERS; i++) {
		if (child_pids[i] == old) {
			child_pids[i] = pid;
			return;
		}
	}
}

void cleanup_install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	size_t i;

	atexit(on_exit_cleanup);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal_signal);
}

void cleanup_add(enum cleanup_kind kind, const char *path)
{
	int i;

	for (i = 0; i < CLEANUP_SLOTS; i++) {
		if (!clean_kind[i]) {
			snprintf(clean_paths[i], CLEANUP_PATH_MAX, "%s", path);
			clean_kind[i] = (sig_atomic_t)kind + 1;
			return;
		}
	}
}

void cleanup_del(enum cleanup_kind kind, const char *path)
{
	int i;

	for (i = 0; i < CLEANUP_SLOTS; i++) {
		if (clean_kind[i] == (sig_atomic_t)kind + 1 && strcmp(clean_paths[i], path) == 0)
			clean_kind[i] = 0;
	}
}

/* Segments are "/shmq.<namespace>.<name>" (see shmq.h), which is what shm_unlink() takes. */
static void shm_path(char *buf, const char *ns, const char *name)
{
	snprintf(buf, SHM_PATH_MAX, "/shmq.%s.%s", ns, name);
}

void cleanup_add_shm(const char *ns, const char *name)
{
	char path[SHM_PATH_MAX];

	shm_path(path, ns, name);
	cleanup_add(CLEANUP_SHM, path);
}

void cleanup_del_shm(const char *ns, const char *name)
{
	char path[SHM_PATH_MAX];

	shm_path(path, ns, name);
	cleanup_del(CLEANUP_SHM, path);
}

/* ---- the peer process ---- */

static void child_reset(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	for (i = 0; i < BENCH_MAX_PEERS; i++)
		child_pids[i] = 0; /* the parent's other peers are not ours to kill */
	for (i = 0; i < CLEANUP_SLOTS; i++)
		clean_kind[i] = 0; /* the parent owns these names */
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
	child_pid_set(0, pid);
	return 0;
}

static int peer_status(struct peer *p)
{
	child_pid_set(p->pid, 0);
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
	child_pid_set(p->pid, 0);
	p->pid = 0;
}

int peers_start(struct peer *p, unsigned n, const struct cpu_pair *cp, int (*fn)(void *arg),
		void *arg, unsigned *idx)
{
	unsigned i;
	int e;

	assert(n <= BENCH_MAX_PEERS);
	for (i = 0; i < n; i++) {
		*idx = i;
		e = peer_start(&p[i], cpu_of(cp, i + 1), fn, arg);
		if (e < 0) {
			peers_kill(p, i);
			return e;
		}
	}
	return 0;
}

int peers_wait(struct peer *p, unsigned n)
{
	unsigned i;
	int e, ret = 0;

	for (i = 0; i < n; i++) {
		e = peer_wait(&p[i]);
		if (e < 0 && ret == 0)
			ret = e;
	}
	return ret;
}

void peers_kill(struct peer *p, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		peer_kill(&p[i]);
}

static bool peer_failed(const struct peer *p)
{
	return p->exited && !(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0);
}

/* In the parent: one child failed, or all exited (those that finished are not an error). */
static bool children_gone(struct spin *s)
{
	unsigned i, n = s->nchild ? s->nchild : 1, exited = 0;
	struct peer *p;

	for (i = 0; i < n; i++) {
		p = &s->child[i];
		if (p->pid > 0 && !p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
			p->exited = true;
		if (p->pid <= 0 || p->exited)
			exited++;
		if (p->pid > 0 && peer_failed(p))
			return true;
	}
	return exited == n;
}

bool spin_peer_gone(struct spin *s)
{
	if (s->child)
		return children_gone(s);
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

static const char *cpus_note(const struct cpu_pair *cp)
{
	if (cp->pinned)
		return " (initiator/consumer, echo/producer)";
	if (cp->nallowed > 1) /* a command that pins nothing by choice (failover) */
		return " (no process pinned: the scheduler places them)";
	return " (only one CPU allowed: both processes share it)";
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
		       "\"nproc\":%ld,\"cpus\":\"%s\",\"cpus_allowed\":%d,\"loadavg\":\"%s\","
		       "\"clocksource\":\"%s\",\"clock_ns\":%.1f,\"version\":\"%s\","
		       "\"wake_backend\":\"%s\",\"timestamps\":\"%s\"}\n",
		       date, u.release, model, nproc, cpus, cp->nallowed, load, clk, cost,
		       shmq_version(), shmq_wake_backend(), shmq_clock_source());
		return;
	}
	printf("date:     %s\nkernel:   %s %s\ncpu:      %s\nnproc:    %ld\n", date, u.sysname,
	       u.release, model, nproc);
	printf("cpus:     %s%s\n", cpus, cpus_note(cp));
	if (cp->pinned)
		printf("          further peers round-robin over the %d allowed CPUs\n",
		       cp->nallowed);
	printf("loadavg:  %s\nclock:    CLOCK_MONOTONIC via %s, %.1f ns per read\n", load, clk,
	       cost);
	printf("libshmq:  %s (timestamps: %s)\n", shmq_version(), shmq_clock_source());
	/* Inherited by the forked peers: both sides of a measurement park the same way. */
	printf("wake:     %s (parked waits; %s=futex forces the futex syscall)\n\n",
	       shmq_wake_backend(), SHMQ_WAKE_BACKEND_ENV);
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
