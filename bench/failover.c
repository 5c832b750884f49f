// SPDX-License-Identifier: MIT
/* failover.c - shmq-bench failover: how soon a SIGKILLed member's leases reach another member. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pingpong.h"
#include "topic.h"

/*
 * Per kill, on a fresh reliable topic and durable group: the victim (a forked member) leases
 * FO_LEASES records and holds them; the survivor (a second forked member) parks in
 * shmq_group_wait(); the parent takes t0 just before kill(victim, SIGKILL), and the survivor
 * takes t1 when its receive returns the last of those records again (attempt 2). Three
 * modes, each a different path back:
 *
 * daemon:   shmqd of this run's namespace watches every client through a pidfd and frees a
 *           dead member's leases at once (shmq_group_reap()); ack_wait is an hour. The
 *           survivor's own judgement (every 10 ms while it waits) still runs, and may get
 *           there first: shmqd's "freed" counter says which did, kill by kill.
 * embedded: no daemon (SHMQ_DAEMON=off): the survivor's own judgement finds the dead member
 *           within its 10 ms slice; ack_wait (--ack-wait) is configured but not reached.
 * ack-wait: no daemon, and the victim is pid 1 of a pid namespace of its own: its member
 *           entry names a pid that no judge here finds dead (init, or a process of another
 *           namespace), so only the lease's expiry gives the records back, ack_wait after
 *           the victim's receive (a little less than ack_wait after the kill).
 */

#define FO_LEASES 4u
#define FO_SIZE 64u
#define FO_SLOTS 64u
#define FO_TARGET_NS 10000000ull /* the bound on the daemon's p99 */
#define FO_DAEMON_ACK_WAIT_NS 3600000000000ull
#define FO_GRACE_NS 10000000000ull /* beyond ack_wait and the backoff: the survivor gives up */
#define FO_PHASE_MIN_NS 2000000ull /* the kill comes this long after the survivor parks, */
#define FO_PHASE_SPAN_NS 10000000ull /* plus up to this much more, uniformly */
#define FO_PREPARK_NS 1000000ull /* the survivor's first park, before it reports */
#define FO_WORD_WAIT_MS 10000 /* for a child's word through the pipe */
#define FO_READY_TRIES 1000 /* shmqd's first answer: 10 ms apart */

enum fo_mode { FO_DAEMON, FO_EMBEDDED, FO_ACK_WAIT, FO_NMODES };

static const char *const fo_names[FO_NMODES] = { "daemon", "embedded", "ack-wait" };

struct fo_opts {
	uint64_t kills;
	uint64_t warmup;
	uint64_t ack_wait_ms;
	uint64_t backoff_ns;
	bool use[FO_NMODES];
	const char *shmqd;
	bool json;
};

/* shmqd's counters, from its status reply. */
struct fo_counts {
	uint64_t deaths, freed;
};

/* A word through a kill's pipe: 'L' the victim leased, 'V' its pid, 'P' the survivor parks. */
struct fo_word {
	char what;
	pid_t pid;
};

/* Written by the survivor; read by the parent after reaping it. */
struct fo_shm {
	uint64_t t_all; /* when the last of the victim's records arrived again */
};

struct fo_kill {
	enum fo_mode mode;
	const struct fo_opts *o;
	struct fo_shm *shm;
	int pipe[2];
	uint64_t grace_ns; /* how long the survivor waits for the redeliveries */
	struct fo_counts before; /* daemon mode: shmqd's counters before the kill */
	char tname[TOPIC_NAME_LEN];
	char gtopic[TOPIC_NAME_LEN];
	shmq_pub *pub;
};

/* The run's shmqd: its private directory, socket, state file and log. */
struct fo_daemon {
	char dir[64];
	char sock[96];
	char log[96];
	char state[192];
	char state_tmp[200];
	pid_t pid;
};

struct fo_result {
	struct lat lat;
	bool ran, skipped;
	uint64_t by_shmqd, by_member; /* daemon mode: who freed the dead member */
};

struct fo_run {
	const struct fo_opts *o;
	struct fo_daemon d;
	struct fo_result res[FO_NMODES];
	uint64_t rng;
};

static void nap(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* xorshift64: the kill's phase against the survivor's 10 ms judgement. */
static uint64_t phase_ns(struct fo_run *run)
{
	uint64_t x = run->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	run->rng = x;
	return FO_PHASE_MIN_NS + x % FO_PHASE_SPAN_NS;
}

static int word_send(int fd, char what, pid_t pid)
{
	struct fo_word w = { .what = what, .pid = pid };

	/* Smaller than PIPE_BUF: the victim's and its helper's words never interleave. */
	return write(fd, &w, sizeof(w)) == (ssize_t)sizeof(w) ? 0 : -EPIPE;
}

/* ==== the victim: lease, say so, hold ==== */

static int victim_body(void *arg)
{
	struct fo_kill *k = arg;
	struct shmq_group_msg m;
	uint8_t buf[FO_SIZE];
	shmq_group *g;
	unsigned i;
	int n;

	if (group_attach(k->tname, &g) < 0)
		return -1;
	for (i = 0; i < FO_LEASES; i++) {
		n = shmq_group_recv(g, buf, sizeof(buf), &m);
		if (n != (int)FO_SIZE || m.attempt != 1)
			return fail("failover victim: recv", n < 0 ? n : -EBADMSG);
	}
	/* In its own pid namespace it is pid 1 there: its helper sends the pid we know. */
	if (word_send(k->pipe[1], 'L', k->mode == FO_ACK_WAIT ? 0 : getpid()) < 0)
		return fail("failover victim: pipe", -EPIPE);
	for (;;)
		pause(); /* the leases are held until SIGKILL */
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), e = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		e = -errno;
	close(fd);
	return e;
}

/*
 * Make the next child the first process of a new pid namespace: as root directly, else
 * inside a user namespace of our own that maps our uid and gid (and drops no permission on
 * the segments, which the mapped ids still own).
 */
static int pidns_enter(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int e;

	if (unshare(CLONE_NEWPID) == 0)
		return 0;
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0)
		return -errno;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	e = write_file("/proc/self/uid_map", map);
	if (e == 0)
		e = write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return e < 0 ? e : write_file("/proc/self/gid_map", map);
}

/* ack-wait mode: the victim's parent, in our pid namespace; the victim is in a new one. */
static int helper_body(void *arg)
{
	struct fo_kill *k = arg;
	int e = pidns_enter(), st;
	pid_t pid;

	if (e < 0)
		return fail("failover: a pid namespace for the victim", e);
	pid = fork();
	if (pid < 0)
		return fail("fork", -errno);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(victim_body(k) < 0 ? 1 : 0);
	}
	if (word_send(k->pipe[1], 'V', pid) < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return fail("failover: reap the victim", -errno);
	}
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : -1;
}

/* Can a child make a pid namespace here? (ack-wait mode needs one; else it is skipped.) */
static bool pidns_possible(void)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(pidns_enter() < 0 ? 1 : 0);
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ==== the survivor: park, take the victim's records back, ack them ==== */

/* One receive: 1 and its lease when a record of the victim's came again, 0 when none. */
static int survivor_recv(shmq_group *g, unsigned *seen, uint64_t *ret_lease)
{
	struct shmq_group_msg m;
	uint8_t buf[FO_SIZE], want[FO_SIZE];
	int n = shmq_group_recv(g, buf, sizeof(buf), &m);

	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return n;
	if (m.seq < 1 || m.seq > FO_LEASES)
		return -EBADMSG;
	pattern_fill(want, sizeof(want), m.seq);
	if (n != (int)FO_SIZE || m.attempt != 2 || (*seen & 1u << (m.seq - 1)) ||
	    memcmp(buf, want, sizeof(want)))
		return -EBADMSG;
	*seen |= 1u << (m.seq - 1);
	*ret_lease = m.lease;
	return 1;
}

/* Wait for all FO_LEASES records; the time of the last one's receive goes to the parent. */
static int survivor_serve(struct fo_kill *k, shmq_group *g, uint64_t *leases)
{
	uint64_t deadline = now_ns() + k->grace_ns, now;
	unsigned got = 0, seen = 0;
	int r;

	while (got < FO_LEASES) {
		r = survivor_recv(g, &seen, &leases[got]);
		if (r < 0)
			return fail("failover survivor: recv", r);
		if (r > 0) {
			if (++got == FO_LEASES)
				k->shm->t_all = now_ns();
			continue;
		}
		now = now_ns();
		r = now < deadline ? shmq_group_wait(g, 0, deadline - now) : -ETIMEDOUT;
		if (r < 0)
			return fail("failover survivor: wait for the redeliveries", r);
	}
	return 0;
}

static int early(const struct fo_kill *k)
{
	fprintf(stderr,
		"%s: failover %s: the victim's records came back before the kill (ack_wait %llu "
		"ms is shorter than a kill's setup)\n",
		BENCH_PROG, fo_names[k->mode], (unsigned long long)k->o->ack_wait_ms);
	return -1;
}

/*
 * Before it says it parks, the survivor parks once (FO_PREPARK_NS, timing out): the first
 * park on a segment switches parking on with a membarrier, which takes milliseconds here and
 * which a member in service did long ago. Without it the kill lands during that switch, and
 * a wake sent meanwhile finds nobody parked: the survivor would only look when it is done.
 */
static int survivor_body(void *arg)
{
	struct fo_kill *k = arg;
	uint64_t leases[FO_LEASES];
	unsigned seen = 0, i;
	shmq_group *g;
	int e;

	if (group_attach(k->tname, &g) < 0)
		return -1;
	e = survivor_recv(g, &seen, &leases[0]);
	if (e != 0)
		e = e < 0 ? fail("failover survivor: recv", e) : early(k);
	else if ((e = shmq_group_wait(g, 0, FO_PREPARK_NS)) != -ETIMEDOUT)
		e = e < 0 ? fail("failover survivor: the first park", e) : early(k);
	else if (word_send(k->pipe[1], 'P', getpid()) < 0)
		e = fail("failover survivor: pipe", -EPIPE);
	else
		e = survivor_serve(k, g, leases);
	for (i = 0; e == 0 && i < FO_LEASES; i++) {
		e = shmq_group_ack(g, leases[i]);
		if (e < 0)
			e = fail("failover survivor: ack", e);
	}
	shmq_group_close(g);
	return e < 0 ? -1 : 0;
}

/* ==== shmqd: started in the foreground on a private socket, stopped by pid ==== */

/* --shmqd, else $SHMQD, else beside this binary (build tree or install), else $PATH. */
static const char *shmqd_path(const char *given, char *buf, size_t len)
{
	static const char *const rel[] = { "/../daemon/shmqd", "/../sbin/shmqd", "/shmqd" };
	const char *env = getenv("SHMQD");
	char self[PATH_MAX], *slash;
	ssize_t n;
	size_t i;

	if (given)
		return given;
	if (env && env[0])
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	slash = n > 0 ? (self[n] = '\0', strrchr(self, '/')) : NULL;
	for (i = 0; slash && i < sizeof(rel) / sizeof(rel[0]); i++) {
		*slash = '\0';
		snprintf(buf, len, "%s%s", self, rel[i]);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return "shmqd";
}

static void daemon_paths(struct fo_daemon *d, const char *ns)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/shmq-bench-%d", (int)getpid());
	snprintf(d->sock, sizeof(d->sock), "%s/shmqd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/shmqd.log", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/%s.state", d->dir, ns);
	snprintf(d->state_tmp, sizeof(d->state_tmp), "%s.tmp", d->state);
}

static void daemon_cleanup(const struct fo_daemon *d, bool add)
{
	const char *const files[] = { d->sock, d->log, d->state, d->state_tmp };
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (add)
			cleanup_add(CLEANUP_FILE, files[i]);
		else
			cleanup_del(CLEANUP_FILE, files[i]);
	}
	if (add)
		cleanup_add(CLEANUP_DIR, d->dir);
	else
		cleanup_del(CLEANUP_DIR, d->dir);
}

/* The child: its log is the run's, it stops when we die, and it becomes shmqd. */
static void daemon_exec(const struct fo_daemon *d, const char *exe, const char *ns)
{
	int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || dup2(fd, 2) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		_exit(127);
	if (strchr(exe, '/'))
		execl(exe, "shmqd", "-n", ns, "-f", "-s", d->sock, (char *)NULL);
	else
		execlp(exe, "shmqd", "-n", ns, "-f", "-s", d->sock, (char *)NULL);
	fprintf(stderr, "%s: exec %s: %s\n", BENCH_PROG, exe, strerror(errno));
	_exit(127);
}

static void log_dump(const struct fo_daemon *d)
{
	char line[512];
	FILE *f = fopen(d->log, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  %s", line);
	fclose(f);
}

/* Readiness, not timing: up to 10 s for the first answer, or the child's exit. */
static int daemon_ready(struct fo_daemon *d, shmq_bus *bus)
{
	int i, st;

	for (i = 0; i < FO_READY_TRIES; i++) {
		if (shmq_daemon_ping(bus) == 1)
			return 0;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			break;
		}
		nap(10000000);
	}
	fprintf(stderr, "%s: failover: shmqd did not answer on %s; its log:\n", BENCH_PROG,
		d->sock);
	log_dump(d);
	return -1;
}

static void daemon_stop(struct fo_daemon *d);

static int daemon_start(struct fo_daemon *d, const char *exe)
{
	const char *ns;
	shmq_bus *bus;

	if (bench_bus(&bus, &ns) < 0)
		return -1;
	daemon_paths(d, ns);
	if (mkdir(d->dir, 0700) < 0) {
		fprintf(stderr, "%s: mkdir %s: %s\n", BENCH_PROG, d->dir, strerror(errno));
		return -1;
	}
	daemon_cleanup(d, true);
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		d->pid = 0;
		daemon_stop(d);
		return fail("fork", -errno);
	}
	if (d->pid == 0)
		daemon_exec(d, exe, ns);
	setenv(SHMQ_SOCKET_ENV, d->sock, 1);
	setenv(SHMQ_DAEMON_ENV, "required", 1);
	if (daemon_ready(d, bus) == 0)
		return 0;
	daemon_stop(d);
	return -1;
}

/* SIGTERM by pid (a clean stop: shmqd removes its socket), then its files and directory. */
static void daemon_stop(struct fo_daemon *d)
{
	int st = 0;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "%s: failover: shmqd ended with status 0x%x; its log:\n",
				BENCH_PROG, (unsigned)st);
			log_dump(d);
		}
		d->pid = 0;
	}
	unlink(d->sock);
	unlink(d->log);
	unlink(d->state);
	unlink(d->state_tmp);
	rmdir(d->dir);
	daemon_cleanup(d, false);
	unsetenv(SHMQ_SOCKET_ENV);
	setenv(SHMQ_DAEMON_ENV, "off", 1);
}

static int daemon_counts(struct fo_counts *c)
{
	char rep[4096];
	const char *d, *f;
	shmq_bus *bus;
	int n;

	if (bench_bus(&bus, NULL) < 0)
		return -1;
	n = shmq_daemon_request(bus, "{\"op\":\"status\"}", rep, sizeof(rep));
	if (n < 0)
		return fail("failover: shmqd status", n);
	d = strstr(rep, "\"deaths\":");
	f = strstr(rep, "\"freed\":");
	if (!d || !f) {
		fprintf(stderr, "%s: failover: shmqd status without counters: %s\n", BENCH_PROG,
			rep);
		return -1;
	}
	c->deaths = strtoull(d + strlen("\"deaths\":"), NULL, 10);
	c->freed = strtoull(f + strlen("\"freed\":"), NULL, 10);
	return 0;
}

/*
 * Once shmqd has seen both children die (up to 10 s): did its freed counter rise (it freed
 * the victim's member entry) or not (the survivor's own judgement had done so first)?
 */
static int daemon_attribute(const struct fo_counts *before, struct fo_result *r)
{
	struct fo_counts now = { 0 };
	int i;

	for (i = 0; i < 10000; i++) {
		if (daemon_counts(&now) < 0)
			return -1;
		if (now.deaths >= before->deaths + 2)
			break;
		nap(1000000);
	}
	if (now.deaths < before->deaths + 2) {
		fprintf(stderr,
			"%s: failover: shmqd did not see the victim and the survivor exit\n",
			BENCH_PROG);
		return -1;
	}
	if (r && now.freed > before->freed)
		r->by_shmqd++;
	else if (r)
		r->by_member++;
	return 0;
}

/* ==== one kill ==== */

static void group_config(const struct fo_kill *k, struct shmq_group_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ack_wait_ns =
		k->mode == FO_DAEMON ? FO_DAEMON_ACK_WAIT_NS : k->o->ack_wait_ms * 1000000ull;
	c->backoff_ns = k->o->backoff_ns; /* expiries wait it; 0: the library's 100 ms */
	c->backoff_mult = 1;
	c->flags = SHMQ_GROUP_NO_DLQ;
}

/* A fresh topic and durable group (no member), FO_LEASES records owed to it. */
static int kill_setup(struct fo_kill *k)
{
	struct shmq_topic_config tcfg;
	struct shmq_group_config gcfg;
	uint8_t buf[FO_SIZE];
	unsigned i;
	int e;

	if (pipe2(k->pipe, O_CLOEXEC) < 0)
		return fail("pipe", -errno);
	topic_config(&tcfg, FO_SIZE);
	tcfg.slots = FO_SLOTS;
	group_config(k, &gcfg);
	if (topic_create("fo", &tcfg, 0, k->tname, &k->pub, NULL) < 0 ||
	    group_create(k->tname, &gcfg, k->gtopic, NULL) < 0)
		return -1;
	for (i = 1; i <= FO_LEASES; i++) {
		pattern_fill(buf, sizeof(buf), i);
		e = shmq_pub_send(k->pub, buf, sizeof(buf), 0);
		if (e < 0)
			return fail("failover: publish", e);
	}
	return 0;
}

static void kill_teardown(struct fo_kill *k)
{
	shmq_pub_close(k->pub);
	k->pub = NULL;
	group_remove(k->gtopic);
	topic_unlink(k->tname);
	close(k->pipe[0]);
	close(k->pipe[1]);
	k->pipe[0] = k->pipe[1] = -1;
}

/* One word from a child; -1 when none comes in time, or a child failed or all exited. */
static int word_wait(struct fo_kill *k, struct peer *kids, unsigned n, struct fo_word *w)
{
	struct pollfd p = { .fd = k->pipe[0], .events = POLLIN };
	struct spin s = { .child = kids, .nchild = n };
	int i, r;

	for (i = 0; i < FO_WORD_WAIT_MS / 10; i++) {
		r = poll(&p, 1, 10);
		if (r > 0)
			return read(k->pipe[0], w, sizeof(*w)) == (ssize_t)sizeof(*w) ? 0 : -1;
		if ((r < 0 && errno != EINTR) || spin_peer_gone(&s))
			break;
	}
	fprintf(stderr, "%s: failover: a child did not report (victim leased, survivor parks)\n",
		BENCH_PROG);
	return -1;
}

/* The victim (or its helper) is started; wait until it holds its leases; its pid. */
static int victim_start(struct fo_kill *k, struct peer *kid, pid_t *ret_pid)
{
	bool leased = false;
	struct fo_word w;
	pid_t pid = 0;
	int e;

	e = peer_start(kid, -1, k->mode == FO_ACK_WAIT ? helper_body : victim_body, k);
	if (e < 0)
		return fail("fork", e);
	while (!leased || !pid) {
		if (word_wait(k, kid, 1, &w) < 0)
			return -1;
		if (w.what == 'L')
			leased = true;
		if (w.what == 'L' || w.what == 'V')
			pid = w.pid ? w.pid : pid;
	}
	*ret_pid = pid;
	return 0;
}

static int survivor_start(struct fo_kill *k, struct peer *kids)
{
	struct fo_word w = { 0 };
	int e = peer_start(&kids[1], -1, survivor_body, k);

	if (e < 0)
		return fail("fork", e);
	if (word_wait(k, kids, 2, &w) < 0)
		return -1;
	return w.what == 'P' ? 0 : -1;
}

/* t0, then the kill, then the victim reaped (its helper, in ack-wait mode). */
static int strike(struct fo_kill *k, struct peer *kid, pid_t victim, uint64_t *t0)
{
	if (k->mode != FO_ACK_WAIT) {
		*t0 = now_ns();
		peer_kill(kid); /* kill(pid, SIGKILL), then waitpid() */
		if (WIFSIGNALED(kid->status) && WTERMSIG(kid->status) == SIGKILL)
			return 0;
		fprintf(stderr, "%s: failover: the victim ended before the kill\n", BENCH_PROG);
		return -1;
	}
	*t0 = now_ns();
	if (kill(victim, SIGKILL) < 0)
		return fail("failover: kill the victim", -errno);
	return peer_wait(kid) < 0 ? -1 : 0;
}

/* The records came back by the mode's path: expiries in ack-wait mode only, all acked. */
static int kill_verify(const struct fo_kill *k)
{
	uint64_t expired = k->mode == FO_ACK_WAIT ? FO_LEASES : 0;
	struct shmq_group_stats st;
	shmq_bus *bus;
	int e;

	if (bench_bus(&bus, NULL) < 0)
		return -1;
	e = shmq_group_stat(bus, k->gtopic, BENCH_GROUP, &st, NULL, 0);
	if (e < 0)
		return fail("failover: group stat", e);
	if (st.floor == FO_LEASES + 1 && st.in_flight == 0 && st.delayed == 0 &&
	    st.expired == expired)
		return 0;
	fprintf(stderr,
		"%s: failover %s: group after the kill: floor %llu, in flight %llu, delayed %llu, "
		"expired %llu (want floor %u, expired %llu)\n",
		BENCH_PROG, fo_names[k->mode], (unsigned long long)st.floor,
		(unsigned long long)st.in_flight, (unsigned long long)st.delayed,
		(unsigned long long)st.expired, FO_LEASES + 1, (unsigned long long)expired);
	return -1;
}

/* One kill; the failover time in *@ret_ns. */
static int kill_once(struct fo_run *run, struct fo_kill *k, uint64_t *ret_ns)
{
	struct peer kids[2] = { 0 }; /* the victim (or its helper), the survivor */
	uint64_t t0 = 0;
	pid_t victim = 0;
	int e;

	k->shm->t_all = 0;
	e = kill_setup(k);
	if (e == 0)
		e = victim_start(k, &kids[0], &victim);
	if (e == 0)
		e = survivor_start(k, kids);
	if (e == 0 && k->mode == FO_DAEMON)
		e = daemon_counts(&k->before);
	if (e == 0) {
		nap(phase_ns(run)); /* the survivor parks meanwhile */
		e = strike(k, &kids[0], victim, &t0);
	}
	if (e == 0)
		e = peer_wait(&kids[1]);
	if (e == 0)
		e = kill_verify(k);
	if (e == 0 && k->shm->t_all <= t0)
		e = early(k);
	if (e < 0)
		peers_kill(kids, 2);
	kill_teardown(k);
	*ret_ns = k->shm->t_all - t0;
	return e < 0 ? -1 : 0;
}

/* ==== a mode: warm-up kills, then the counted ones ==== */

static int mode_enter(struct fo_run *run, enum fo_mode m)
{
	char buf[PATH_MAX];

	if (m == FO_DAEMON)
		return daemon_start(&run->d, shmqd_path(run->o->shmqd, buf, sizeof(buf)));
	unsetenv(SHMQ_SOCKET_ENV);
	setenv(SHMQ_DAEMON_ENV, "off", 1);
	return 0;
}

static int mode_run(struct fo_run *run, enum fo_mode m)
{
	struct fo_kill k = { .mode = m, .o = run->o, .pipe = { -1, -1 } };
	struct fo_result *r = &run->res[m];
	uint64_t i, ns;
	int e;

	k.grace_ns = FO_GRACE_NS;
	if (m != FO_DAEMON)
		k.grace_ns += run->o->ack_wait_ms * 1000000ull + run->o->backoff_ns;
	k.shm = shared_alloc(sizeof(*k.shm));
	if (!k.shm)
		return fail("failover: mmap", -ENOMEM);
	e = mode_enter(run, m);
	for (i = 0; e == 0 && i < run->o->warmup + run->o->kills; i++) {
		bool counted = i >= run->o->warmup;

		e = kill_once(run, &k, &ns);
		if (e == 0 && m == FO_DAEMON)
			e = daemon_attribute(&k.before, counted ? r : NULL);
		if (e == 0 && counted)
			lat_record(&r->lat, ns);
	}
	if (m == FO_DAEMON)
		daemon_stop(&run->d);
	shared_free(k.shm, sizeof(*k.shm));
	r->ran = e == 0;
	return e;
}

/* ==== reporting ==== */

static const char *freed_by(const struct fo_result *r, enum fo_mode m, char *buf, size_t len)
{
	if (m == FO_DAEMON)
		snprintf(buf, len, "shmqd %llu, survivor %llu", (unsigned long long)r->by_shmqd,
			 (unsigned long long)r->by_member);
	else
		snprintf(buf, len, "%s",
			 m == FO_EMBEDDED ? "survivor's judgement" : "lease expiry");
	return buf;
}

static uint64_t mode_ack_wait_ns(const struct fo_opts *o, enum fo_mode m)
{
	return m == FO_DAEMON ? FO_DAEMON_ACK_WAIT_NS : o->ack_wait_ms * 1000000ull;
}

static void row_json(const struct fo_opts *o, enum fo_mode m, const struct fo_result *r)
{
	const struct lat *l = &r->lat;

	printf("{\"bench\":\"failover\",\"mode\":\"%s\",\"survivor\":\"shmq_group_wait\","
	       "\"leases\":%u,\"size\":%u,\"kills\":%llu,\"warmup\":%llu,\"ack_wait_ns\":%llu,"
	       "\"backoff_ns\":%llu,\"count\":%llu,\"min_ns\":%llu,\"p50_ns\":%llu,"
	       "\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%llu",
	       fo_names[m], FO_LEASES, FO_SIZE, (unsigned long long)o->kills,
	       (unsigned long long)o->warmup, (unsigned long long)mode_ack_wait_ns(o, m),
	       (unsigned long long)o->backoff_ns, (unsigned long long)shmq_hist_total(l->h),
	       (unsigned long long)lat_percentile(l, 0), (unsigned long long)lat_percentile(l, 50),
	       (unsigned long long)lat_percentile(l, 99),
	       (unsigned long long)lat_percentile(l, 99.9),
	       (unsigned long long)lat_percentile(l, 100));
	if (m == FO_DAEMON)
		printf(",\"freed_by_shmqd\":%llu,\"freed_by_survivor\":%llu}\n",
		       (unsigned long long)r->by_shmqd, (unsigned long long)r->by_member);
	else
		printf(",\"mechanism\":\"%s\"}\n",
		       m == FO_EMBEDDED ? "member judgement" : "lease expiry");
}

/* Whole seconds as such ("3600 s"), else milliseconds ("250 ms"). */
static const char *duration(uint64_t ns, char *buf, size_t len)
{
	if (ns % 1000000000ull == 0)
		snprintf(buf, len, "%llu s", (unsigned long long)(ns / 1000000000ull));
	else
		snprintf(buf, len, "%llu ms", (unsigned long long)(ns / 1000000ull));
	return buf;
}

static void row(const struct fo_opts *o, enum fo_mode m, const struct fo_result *r)
{
	const struct lat *l = &r->lat;
	char by[64], aw[32];

	if (o->json && r->skipped)
		printf("{\"bench\":\"failover\",\"mode\":\"%s\",\"skipped\":true}\n", fo_names[m]);
	else if (o->json)
		row_json(o, m, r);
	if (o->json)
		return;
	if (r->skipped) {
		printf("  %-9s skipped: no pid namespace could be made here (needs CAP_SYS_ADMIN "
		       "or user namespaces)\n",
		       fo_names[m]);
		return;
	}
	printf("  %-9s %9s %6llu %10.1f %10.1f %10.1f %10.1f  %s\n", fo_names[m],
	       duration(mode_ack_wait_ns(o, m), aw, sizeof(aw)),
	       (unsigned long long)shmq_hist_total(l->h), (double)lat_percentile(l, 50) / 1e3,
	       (double)lat_percentile(l, 99) / 1e3, (double)lat_percentile(l, 99.9) / 1e3,
	       (double)lat_percentile(l, 100) / 1e3, freed_by(r, m, by, sizeof(by)));
}

static void title(const struct fo_opts *o)
{
	if (o->json)
		return;
	printf("failover: a group member leases %u records (%u bytes, a reliable topic) and\n"
	       "is SIGKILLed; another member, parked in shmq_group_wait(), receives them again\n"
	       "(attempt 2). Time from just before kill() to the survivor's receive of the\n"
	       "last of them; %llu kills per mode after %llu warm-up, each on a fresh topic and\n"
	       "group; the kill comes 2-12 ms (uniformly) after the survivor parks, so every\n"
	       "phase of its 10 ms judgement is met; group backoff %llu ns; nothing pinned\n",
	       FO_LEASES, FO_SIZE, (unsigned long long)o->kills, (unsigned long long)o->warmup,
	       (unsigned long long)o->backoff_ns);
	if (o->use[FO_ACK_WAIT])
		printf("(ack-wait mode: each kill waits out ack_wait, %llu ms)\n",
		       (unsigned long long)o->ack_wait_ms);
	printf("  mode      ack_wait  count     p50 us     p99 us   p99.9 us     max us  "
	       "freed by\n");
}

static void legend(const struct fo_opts *o)
{
	if (o->json)
		return;
	printf("\n"
	       "  daemon:   shmqd of this run (private socket, SHMQ_DAEMON=required) frees\n"
	       "            a dead client's leases when its pidfd says it exited; ack_wait\n"
	       "            1 h. The survivor's own 10 ms judgement runs too: \"freed by\"\n"
	       "            counts the kills where shmqd's freed counter rose (it was first)\n"
	       "            and those where it did not (the survivor was)\n"
	       "  embedded: no daemon (SHMQ_DAEMON=off): the survivor's own judgement of\n"
	       "            dead members, at most 10 ms apart while it waits; ack_wait is\n"
	       "            not reached\n"
	       "  ack-wait: no daemon; the victim is pid 1 of a pid namespace of its own,\n"
	       "            which no judge here finds dead: the lease's expiry, ack_wait\n"
	       "            after the victim's receive\n\n");
}

static void targets(const struct fo_opts *o, const struct fo_run *run)
{
	const struct fo_result *d = &run->res[FO_DAEMON];
	double dp99 = (double)lat_percentile(&d->lat, 99);
	enum fo_mode m;

	target_print(o->json, "shmqd failover p99 / 10 ms", d->ran, dp99 / (double)FO_TARGET_NS,
		     "<=", 1.0);
	for (m = FO_EMBEDDED; m < FO_NMODES; m++) {
		const struct fo_result *r = &run->res[m];
		double ratio = dp99 > 0 ? (double)lat_percentile(&r->lat, 99) / dp99 : 0;

		if (!d->ran || !r->ran)
			continue;
		if (o->json)
			printf("{\"bench\":\"failover-ratio\",\"mode\":\"%s\","
			       "\"p99_over_daemon_p99\":%.2f}\n",
			       fo_names[m], ratio);
		else
			printf("info: %s p99 / daemon p99 = %.1f\n", fo_names[m], ratio);
	}
}

/* ==== options ==== */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s failover [OPTIONS]\n"
		"How soon a SIGKILLed consumer-group member's leases reach another member: with\n"
		"shmqd (target: p99 under 10 ms), with the members' own judgement alone, and by\n"
		"ack_wait alone. Each kill: a member leases %u records and is killed; another,\n"
		"parked in shmq_group_wait(), times its receive of the last of them again.\n"
		"  -n, --kills N       counted kills per mode (default 100)\n"
		"  -w, --warmup N      kills per mode before them, not counted (default 3)\n"
		"  -m, --mode LIST     daemon, embedded, ack-wait, comma-separated; both (the\n"
		"                      default: daemon,embedded) or all\n"
		"      --shmqd PATH    the daemon (default: $SHMQD, else the one beside this\n"
		"                      binary in the build tree or installation, else $PATH)\n"
		"  -a, --ack-wait MS   the group's ack_wait without the daemon (default 1000;\n"
		"                      the daemon mode's is an hour)\n"
		"  -b, --backoff NS    the group's backoff, which an expired lease waits before\n"
		"                      its redelivery (default 1; 0 for the library's 100 ms); a\n"
		"                      dead holder's leases come back without it\n"
		"  -j, --json          one JSON object per line\n"
		"  -h, --help          this text\n"
		"The daemon mode starts shmqd itself, in the foreground on a private socket\n"
		"in /tmp/shmq-bench-PID/, and stops it with SIGTERM. The ack-wait mode puts the\n"
		"victim in a pid namespace of its own (root or user namespaces); each of its\n"
		"kills lasts ack_wait.\n",
		BENCH_PROG, FO_LEASES);
}

static int usage_error(const char *what, const char *arg)
{
	if (what)
		fprintf(stderr, "%s failover: invalid %s '%s'\n", BENCH_PROG, what, arg);
	fprintf(stderr, "Try '%s failover --help'.\n", BENCH_PROG);
	return 2;
}

/* "both", "all", or a list of mode names. */
static int modes_parse(const char *arg, bool *use)
{
	size_t m;

	for (m = 0; m < FO_NMODES; m++)
		use[m] = !strcmp(arg, "all") || (!strcmp(arg, "both") && m != FO_ACK_WAIT);
	if (!strcmp(arg, "all") || !strcmp(arg, "both"))
		return 0;
	return list_parse(arg, fo_names, FO_NMODES, use);
}

/* One option: -1 to go on, else the exit status. */
static int opt_one(int c, struct fo_opts *o)
{
	const char *bad = NULL;

	switch (c) {
	case 'n':
		bad = u64_parse(optarg, 1, 1000000, &o->kills) ? "kill count" : NULL;
		break;
	case 'w':
		bad = u64_parse(optarg, 0, 1000000, &o->warmup) ? "warm-up count" : NULL;
		break;
	case 'm':
		bad = modes_parse(optarg, o->use) ? "mode list" : NULL;
		break;
	case 'D':
		o->shmqd = optarg;
		break;
	case 'a':
		bad = u64_parse(optarg, 1, 12 * 3600 * 1000, &o->ack_wait_ms) ? "ack_wait" : NULL;
		break;
	case 'b':
		bad = u64_parse(optarg, 0, 60000000000ull, &o->backoff_ns) ? "backoff" : NULL;
		break;
	case 'j':
		o->json = true;
		break;
	case 'h':
		usage(stdout);
		return 0;
	default:
		return usage_error(NULL, NULL);
	}
	return bad ? usage_error(bad, optarg) : -1;
}

static int opts_parse(int argc, char **argv, struct fo_opts *o)
{
	static const struct option lopts[] = {
		{ "kills", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "mode", required_argument, NULL, 'm' },
		{ "shmqd", required_argument, NULL, 'D' },
		{ "ack-wait", required_argument, NULL, 'a' },
		{ "backoff", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, e;

	memset(o, 0, sizeof(*o));
	o->kills = 100;
	o->warmup = 3;
	o->ack_wait_ms = 1000;
	o->backoff_ns = 1;
	o->use[FO_DAEMON] = o->use[FO_EMBEDDED] = true;
	while ((c = getopt_long(argc, argv, "n:w:m:a:b:jh", lopts, NULL)) != -1) {
		e = opt_one(c, o);
		if (e >= 0)
			return e;
	}
	if (optind < argc)
		return usage_error("argument", argv[optind]);
	return -1;
}

/* ==== entry ==== */

/*
 * The banner, with no process pinned: shmqd, the victim and the survivor go where the
 * scheduler puts them, as they would in service.
 */
static void banner(const struct fo_opts *o)
{
	struct cpu_pair cp = { 0 };

	cpus_resolve(&cp, false);
	cp.pinned = false;
	cp.norder = 0;
	sysinfo_print(&cp, o->json);
}

static int run_all(struct fo_run *run)
{
	const struct fo_opts *o = run->o;
	enum fo_mode m;
	int e = 0;

	for (m = 0; m < FO_NMODES; m++)
		if (lat_init(&run->res[m].lat) < 0)
			return fail("failover: histogram", -ENOMEM);
	title(o);
	for (m = 0; e == 0 && m < FO_NMODES; m++) {
		if (!o->use[m])
			continue;
		if (m == FO_ACK_WAIT && !pidns_possible())
			run->res[m].skipped = true;
		else
			e = mode_run(run, m);
		if (e == 0)
			row(o, m, &run->res[m]);
		fflush(stdout);
	}
	if (e == 0) {
		legend(o);
		if (o->use[FO_DAEMON])
			targets(o, run);
	}
	for (m = 0; m < FO_NMODES; m++)
		lat_free(&run->res[m].lat);
	return e;
}

int failover_main(int argc, char **argv)
{
	struct fo_run run = { 0 };
	struct fo_opts o;
	int e = opts_parse(argc, argv, &o);

	if (e >= 0)
		return e;
	banner(&o);
	run.o = &o;
	run.rng = (now_ns() ^ (uint64_t)getpid() << 32) | 1;
	e = run_all(&run);
	return e < 0 ? 1 : 0;
}
