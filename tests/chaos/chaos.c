/* SPDX-License-Identifier: MIT */
/* chaos.c - the chaos runner: a workload, seeded faults into it, then the checker on its logs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmq.h>

#include "chaos.h"
#include "workers.h"

#define MAX_WORKERS 256
#define CLAIM_TIMEOUT_NS 200000000ull /* 200 ms */
#define ACK_WAIT_NS 1000000000ull /* 1 s */
/* The partitioned group's leases outlast any stop: an expired lease is redelivered after a
 * backoff, which lets its partition's later records pass it (partition.h), so none expires. */
#define KEYED_ACK_WAIT_NS 60000000000ull /* 60 s */
#define MAX_MEMBERS 6
#define MIN_MEMBERS 2
#define DRAIN_MS 60000

struct runner {
	const char *dir, *ns, *shmqd, *json;
	char sock[400];
	uint64_t rng;
	unsigned faults, duration_ms;
	struct worker w[MAX_WORKERS];
	unsigned nw;
	struct chaos_run run;
	uint64_t last_change_ms;
	uint64_t last_key[3];
	bool in_stall;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t rnd(struct runner *r, uint32_t n)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return (uint32_t)((r->rng >> 32) % n);
}

static void spawn_daemon(struct runner *r, struct worker *w)
{
	char log[512];
	int fd;

	w->pid = fork();
	if (w->pid != 0)
		return;
	snprintf(log, sizeof(log), "%s/shmqd.log", r->dir);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	dup2(fd, 1);
	dup2(fd, 2);
	execl(r->shmqd, "shmqd", "-n", r->ns, "-f", "-s", r->sock, (char *)NULL);
	_exit(127);
}

static void spawn(struct runner *r, struct worker *w)
{
	w->stopped = false;
	w->seed = r->run.seed;
	if (w->kind == CK_DAEMON) {
		spawn_daemon(r, w);
		return;
	}
	w->pid = fork();
	if (w->pid == 0)
		worker_main(w, r->dir, r->ns);
}

static struct worker *add(struct runner *r, int kind)
{
	struct worker *w = &r->w[r->nw];

	if (r->nw == MAX_WORKERS)
		return NULL;
	*w = (struct worker){ .kind = kind, .wid = r->nw, .pace_us = 300 };
	if (kind == CK_MEMB || kind == CK_KMEMB)
		w->slow = r->nw % 3 == 0;
	r->nw++;
	spawn(r, w);
	return w;
}

static int count_running(const struct runner *r, int kind)
{
	int n = 0;

	for (unsigned i = 0; i < r->nw; i++)
		n += r->w[i].kind == kind && r->w[i].pid > 0 && !r->w[i].leaving;
	return n;
}

/* Reap exits: a leaving worker's is its end, any other unexpected one a failure. */
static void reap(struct runner *r)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (unsigned i = 0; i < r->nw; i++) {
			struct worker *w = &r->w[i];

			if (w->pid != pid)
				continue;
			w->pid = 0;
			if (!w->leaving && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
				fprintf(stderr,
					"chaos: worker %u.%u (kind %d) ended: status 0x%x\n",
					w->wid, w->inc, w->kind, st);
				r->run.failures++;
			}
		}
	}
}

static void kill_restart(struct runner *r, struct worker *w)
{
	kill(w->pid, SIGKILL);
	waitpid(w->pid, NULL, 0);
	w->pid = 0;
	w->inc++;
	r->run.kills++;
	r->run.daemon_kills += w->kind == CK_DAEMON;
	spawn(r, w);
}

/* A worker to hit: running, not stopped or leaving; @killable leaves out the witnesses. */
static struct worker *pick(struct runner *r, bool killable, int only_kind)
{
	struct worker *c[MAX_WORKERS];
	unsigned n = 0;

	for (unsigned i = 0; i < r->nw; i++) {
		struct worker *w = &r->w[i];
		bool witness = w->kind == CK_WSUB || w->kind == CK_LSUB || w->kind == CK_DLQW;

		if (w->pid <= 0 || w->stopped || w->leaving || (killable && witness))
			continue;
		if (only_kind >= 0 && w->kind != only_kind)
			continue;
		c[n++] = w;
	}
	return n ? c[rnd(r, n)] : NULL;
}

/* A member to join, leave or slow down: of the plain group or the partitioned one, by a die. */
static int member_kind(struct runner *r)
{
	return rnd(r, 2) ? CK_KMEMB : CK_MEMB;
}

/* One fault, chosen by the seeded generator; 1 when one was injected. */
static int inject(struct runner *r)
{
	uint32_t dice = rnd(r, 100);
	struct worker *w;
	int kind;

	if (dice < 35) {
		w = pick(r, true, -1);
		if (!w)
			return 0;
		kill_restart(r, w);
		return 1;
	}
	if (dice < 70) {
		w = pick(r, false, -1);
		if (!w)
			return 0;
		kill(w->pid, SIGSTOP);
		w->stopped = true;
		w->cont_ms = now_ms() + 5 + rnd(r, 40);
		r->run.stops++;
		return 1;
	}
	kind = member_kind(r);
	if (dice < 80) {
		if (count_running(r, kind) >= MAX_MEMBERS || !add(r, kind))
			return 0;
		r->run.joins++;
		return 1;
	}
	if (dice < 90) {
		if (count_running(r, kind) <= MIN_MEMBERS || !(w = pick(r, false, kind)))
			return 0;
		w->leaving = true;
		kill(w->pid, SIGTERM);
		r->run.leaves++;
		return 1;
	}
	if (!(w = pick(r, false, kind)))
		return 0;
	kill(w->pid, SIGUSR1);
	r->run.slows++;
	return 1;
}

static void continue_due(struct runner *r, bool all)
{
	uint64_t t = now_ms();

	for (unsigned i = 0; i < r->nw; i++) {
		struct worker *w = &r->w[i];

		if (w->stopped && (all || t >= w->cont_ms)) {
			kill(w->pid, SIGCONT);
			w->stopped = false;
		}
	}
}

static bool any_stopped(const struct runner *r)
{
	for (unsigned i = 0; i < r->nw; i++)
		if (r->w[i].stopped)
			return true;
	return false;
}

/* The partitioned group's floors, summed (@ret_floors); true when a partition owes records. */
static bool keyed_owed(shmq_bus *bus, uint64_t *ret_floors)
{
	struct shmq_part_info pi[CHAOS_PARTS];
	int n = shmq_part_stat(bus, CHAOS_PTOPIC, CHAOS_GROUP, pi, CHAOS_PARTS);
	bool owed = n != (int)CHAOS_PARTS;

	*ret_floors = 0;
	for (int k = 0; k < n && k < (int)CHAOS_PARTS; k++) {
		*ret_floors += pi[k].floor;
		owed |= pi[k].lag > 0;
	}
	return owed;
}

/*
 * Progress: the group's floor, the slowest subscriber of the reliable topic and the
 * partitioned group's floors. A stall is time during which something is owed and none of
 * them moves, with no process stopped; longer than the wedge limit is a wedge. Return
 * whether everything is done (drained).
 */
static bool monitor(struct runner *r, shmq_bus *bus)
{
	struct shmq_topic_sub_info subs[16];
	struct shmq_topic_stats ts, ls, ds;
	struct shmq_group_stats gs;
	uint64_t min = UINT64_MAX, t = now_ms(), kfloors;
	int n, ln, dn;
	bool owed, kowed;

	n = shmq_topic_stat(bus, CHAOS_TOPIC_REL, &ts, subs, 16);
	if (n < 0 || shmq_group_stat(bus, CHAOS_TOPIC_REL, CHAOS_GROUP, &gs, NULL, 0) < 0)
		return false;
	for (int i = 0; i < n && i < 16; i++)
		min = subs[i].cursor < min ? subs[i].cursor : min;
	kowed = keyed_owed(bus, &kfloors);
	owed = gs.floor < ts.tail || min < ts.tail || kowed;
	if (!owed || any_stopped(r) || gs.floor != r->last_key[0] || min != r->last_key[1] ||
	    kfloors != r->last_key[2]) {
		r->last_key[0] = gs.floor;
		r->last_key[1] = min;
		r->last_key[2] = kfloors;
		r->last_change_ms = t;
		r->in_stall = false;
	} else if (t - r->last_change_ms > r->run.max_stall_ms) {
		r->run.max_stall_ms = t - r->last_change_ms;
		if (r->run.max_stall_ms > r->run.wedge_limit_ms && !r->in_stall) {
			r->in_stall = true;
			r->run.wedges++;
			fprintf(stderr,
				"chaos: wedge: floor %llu, slowest cursor %llu, tail %llu, "
				"partition floors %llu%s\n",
				(unsigned long long)gs.floor, (unsigned long long)min,
				(unsigned long long)ts.tail, (unsigned long long)kfloors,
				kowed ? " (owing)" : "");
		}
	}
	ln = shmq_topic_stat(bus, CHAOS_TOPIC_LOSSY, &ls, subs, 1);
	if (ln < 1 || subs[0].cursor < ls.tail)
		return false;
	dn = shmq_topic_stat(bus, CHAOS_TOPIC_DLQ, &ds, subs, 1);
	if (dn < 1 || subs[0].cursor < ds.tail)
		return false;
	return !owed && gs.pending == 0;
}

/*
 * The partitioned topic, and its group first: from then on its partitions hold their
 * producers back for the group, whether or not a member is attached. One lease in flight
 * per member and slow members drain a partition slowly: 64 slots keep what is owed at the
 * end (up to a partition's slots) to well under a second of work.
 */
static int create_keyed(shmq_bus *bus)
{
	struct shmq_topic_config tc = { .slots = 64,
					.policy = SHMQ_TOPIC_RELIABLE,
					.claim_timeout_ns = CLAIM_TIMEOUT_NS };
	struct shmq_group_config gc = { .ack_wait_ns = KEYED_ACK_WAIT_NS,
					.max_deliveries = SHMQ_GROUP_DELIVERIES_UNLIMITED,
					.max_in_flight = 1,
					.max_pending = 1024 };
	shmq_part_group *g;
	shmq_part_pub *p;
	int e;

	e = shmq_part_pub_open(bus, CHAOS_PTOPIC, CHAOS_PARTS, SHMQ_OPEN_CREATE, &tc, &p);
	if (e < 0)
		return e;
	shmq_part_pub_close(p);
	e = shmq_part_group_open(bus, CHAOS_PTOPIC, CHAOS_GROUP,
				 SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, &gc, &g);
	if (e < 0)
		return e;
	shmq_part_group_close(g);
	return 0;
}

static int create_objects(struct runner *r, shmq_bus *bus)
{
	struct shmq_topic_config rel = { .slots = 256,
					 .policy = SHMQ_TOPIC_RELIABLE,
					 .claim_timeout_ns = CLAIM_TIMEOUT_NS };
	struct shmq_topic_config lossy = { .slots = 256,
					   .policy = SHMQ_TOPIC_LOSSY,
					   .claim_timeout_ns = CLAIM_TIMEOUT_NS };
	struct shmq_group_config gc = { .ack_wait_ns = ACK_WAIT_NS,
					.max_deliveries = 4,
					.backoff_ns = 10000000,
					.backoff_max_ns = 100000000,
					.max_pending = 1024 };
	shmq_pub *p;
	shmq_group *g;
	shmq_rep *rep;
	int e;

	(void)r;
	if ((e = shmq_pub_open(bus, CHAOS_TOPIC_REL, SHMQ_OPEN_CREATE, &rel, &p)) < 0)
		return e;
	shmq_pub_close(p);
	if ((e = shmq_pub_open(bus, CHAOS_TOPIC_LOSSY, SHMQ_OPEN_CREATE, &lossy, &p)) < 0)
		return e;
	shmq_pub_close(p);
	if ((e = shmq_pub_open(bus, CHAOS_TOPIC_DLQ, SHMQ_OPEN_CREATE, NULL, &p)) < 0)
		return e;
	shmq_pub_close(p);
	e = shmq_group_open(bus, CHAOS_TOPIC_REL, CHAOS_GROUP, SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST,
			    &gc, &g);
	if (e < 0)
		return e;
	shmq_group_close(g);
	if ((e = shmq_rep_open(bus, CHAOS_SERVICE, SHMQ_OPEN_CREATE, NULL, &rep)) < 0)
		return e;
	shmq_rep_close(rep);
	return create_keyed(bus);
}

/* Wait (10 s at most) until @topic has @n subscribers: the witnesses attach before any send. */
static int wait_subs(shmq_bus *bus, const char *topic, int n)
{
	struct shmq_topic_stats ts;

	for (int i = 0; i < 1000; i++) {
		if (shmq_topic_stat(bus, topic, &ts, NULL, 0) >= n)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static int start_workload(struct runner *r, shmq_bus *bus)
{
	static const int rest[] = { CK_VSUB,  CK_MEMB, CK_MEMB,	 CK_MEMB, CK_KMEMB, CK_KMEMB,
				    CK_KMEMB, CK_REP,  CK_REP,	 CK_REQ,  CK_REQ,   CK_PROD,
				    CK_PROD,  CK_PROD, CK_KPROD, CK_KPROD };
	int e;

	add(r, CK_WSUB);
	add(r, CK_WSUB);
	add(r, CK_LSUB);
	add(r, CK_DLQW);
	if ((e = wait_subs(bus, CHAOS_TOPIC_REL, 2)) < 0 ||
	    (e = wait_subs(bus, CHAOS_TOPIC_LOSSY, 1)) < 0 ||
	    (e = wait_subs(bus, CHAOS_TOPIC_DLQ, 1)) < 0)
		return e;
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		add(r, rest[i]);
	return 0;
}

static void signal_kind(struct runner *r, int kind, int sig)
{
	for (unsigned i = 0; i < r->nw; i++) {
		struct worker *w = &r->w[i];

		if (w->pid > 0 && (kind < 0 || w->kind == kind)) {
			w->leaving = true;
			kill(w->pid, sig);
		}
	}
}

/* Wait (@ms at most) until no worker of @kind runs. */
static void wait_kind(struct runner *r, int kind, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	do {
		reap(r);
		bool left = false;
		for (unsigned i = 0; i < r->nw; i++)
			left |= r->w[i].pid > 0 && (kind < 0 || r->w[i].kind == kind);
		if (!left)
			return;
		usleep(5000);
	} while (now_ms() < end);
}

/* Count and remove what is left of the run's namespace in /dev/shm (its own names only). */
static unsigned leaked_segments(const char *ns)
{
	char prefix[64], path[512];
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir("/dev/shm");

	snprintf(prefix, sizeof(prefix), "shmq.%s.", ns);
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		fprintf(stderr, "chaos: leaked segment /dev/shm/%s\n", de->d_name);
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		unlink(path);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* The partitions' groups and topics, and the assignment, which no call of the library removes:
 * its segment is unlinked by name. */
static void remove_keyed(shmq_bus *bus)
{
	char name[128];

	for (unsigned k = 0; k < CHAOS_PARTS; k++) {
		snprintf(name, sizeof(name), "%s.part%u", CHAOS_PTOPIC, k);
		shmq_group_delete(bus, name, CHAOS_GROUP, SHMQ_GROUP_FORCE);
		shmq_unlink(bus, name);
	}
	snprintf(name, sizeof(name), "/shmq.%s.%s@%s~parts", shmq_bus_namespace(bus), CHAOS_PTOPIC,
		 CHAOS_GROUP);
	shm_unlink(name);
}

static void remove_objects(shmq_bus *bus)
{
	remove_keyed(bus);
	shmq_group_delete(bus, CHAOS_TOPIC_REL, CHAOS_GROUP, SHMQ_GROUP_FORCE);
	shmq_group_delete(bus, CHAOS_SERVICE, SHMQ_SERVICE_GROUP, SHMQ_GROUP_FORCE);
	shmq_unlink(bus, CHAOS_TOPIC_REL);
	shmq_unlink(bus, CHAOS_TOPIC_LOSSY);
	shmq_unlink(bus, CHAOS_TOPIC_DLQ);
	shmq_unlink(bus, CHAOS_SERVICE);
	shmq_unlink(bus, CHAOS_SERVICE ".dlq");
}

static void tick(struct runner *r, shmq_bus *bus, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	do {
		continue_due(r, false);
		reap(r);
		monitor(r, bus);
		usleep(2000);
	} while (now_ms() < end);
}

/* The end: producers and requesters stop, then everything owed must be done. */
static void drain(struct runner *r, shmq_bus *bus)
{
	struct shmq_group_stats gs;
	uint64_t end;

	continue_due(r, true);
	signal_kind(r, CK_PROD, SIGTERM);
	signal_kind(r, CK_KPROD, SIGTERM);
	signal_kind(r, CK_REQ, SIGTERM);
	wait_kind(r, CK_PROD, 10000);
	wait_kind(r, CK_KPROD, 10000);
	wait_kind(r, CK_REQ, 10000);
	end = now_ms() + DRAIN_MS;
	while (!(r->run.drained = monitor(r, bus)) && now_ms() < end) {
		reap(r);
		usleep(5000);
	}
	if (shmq_group_stat(bus, CHAOS_TOPIC_REL, CHAOS_GROUP, &gs, NULL, 0) >= 0)
		r->run.group_acked = gs.acked;
	signal_kind(r, -1, SIGTERM);
	wait_kind(r, -1, 10000);
	for (unsigned i = 0; i < r->nw; i++) {
		if (r->w[i].pid > 0) {
			fprintf(stderr, "chaos: worker %u did not end\n", r->w[i].wid);
			kill(r->w[i].pid, SIGKILL);
			waitpid(r->w[i].pid, NULL, 0);
			r->run.leaked_processes++;
		}
	}
	r->run.leaked_processes += waitpid(-1, NULL, WNOHANG) > 0;
}

static int run(struct runner *r)
{
	unsigned step = r->duration_ms / (r->faults ? r->faults : 1);
	struct worker *daemon;
	shmq_bus *bus;
	int e;

	snprintf(r->sock, sizeof(r->sock), "%s/d.sock", r->dir);
	setenv(SHMQ_SOCKET_ENV, r->sock, 1);
	setenv(SHMQ_DAEMON_ENV, "auto", 1);
	if ((e = shmq_bus_open(r->ns, 0, &bus)) < 0)
		return e;
	daemon = add(r, CK_DAEMON);
	for (int i = 0; i < 1000 && shmq_daemon_ping(bus) != 1; i++)
		usleep(10000);
	if ((e = create_objects(r, bus)) < 0 || (e = start_workload(r, bus)) < 0) {
		fprintf(stderr, "chaos: setup: %s\n", shmq_strerror(e));
		signal_kind(r, -1, SIGKILL);
		wait_kind(r, -1, 10000);
		remove_objects(bus);
		shmq_bus_close(bus);
		return e;
	}
	tick(r, bus, 200);
	while (r->run.faults < r->faults) {
		/* A stop ends by the next fault at the latest: which processes can be picked then
		 * does not depend on timing, so the seed alone gives the faults and their targets. */
		continue_due(r, true);
		r->run.faults += inject(r);
		tick(r, bus, step);
	}
	drain(r, bus);
	/* The daemon went with the rest; a last one judges nothing, so the objects go directly. */
	(void)daemon;
	setenv(SHMQ_DAEMON_ENV, "off", 1);
	shmq_bus_close(bus);
	if ((e = shmq_bus_open(r->ns, 0, &bus)) < 0)
		return e;
	remove_objects(bus);
	shmq_bus_close(bus);
	r->run.leaked_segments = leaked_segments(r->ns);
	r->run.wedges += !r->run.drained;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: chaos --shmqd PATH --dir DIR [--seed S] [--faults N] [--duration MS]\n"
		   "             [--ns NAMESPACE] [--json FILE]\n"
		   "       chaos --check DIR [--json FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "seed", required_argument, NULL, 's' },
					      { "faults", required_argument, NULL, 'f' },
					      { "duration", required_argument, NULL, 'd' },
					      { "dir", required_argument, NULL, 'D' },
					      { "ns", required_argument, NULL, 'n' },
					      { "shmqd", required_argument, NULL, 'x' },
					      { "json", required_argument, NULL, 'j' },
					      { "check", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	static struct runner r = { .faults = 100 };
	char nsbuf[32], dirbuf[64];
	const char *check = NULL;
	int c, e;

	r.run.seed = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			r.run.seed = strtoull(optarg, NULL, 0);
			break;
		case 'f':
			r.faults = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'd':
			r.duration_ms = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'D':
			r.dir = optarg;
			break;
		case 'n':
			r.ns = optarg;
			break;
		case 'x':
			r.shmqd = optarg;
			break;
		case 'j':
			r.json = optarg;
			break;
		case 'c':
			check = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (check)
		return chaos_check(check, r.json) == 0 ? 0 : 1;
	if (!r.shmqd) {
		usage(stderr);
		return 2;
	}
	if (!r.ns) {
		snprintf(nsbuf, sizeof(nsbuf), "chaos%d", (int)getpid());
		r.ns = nsbuf;
	}
	if (!r.dir) {
		snprintf(dirbuf, sizeof(dirbuf), "/tmp/shmq-chaos-%d", (int)getpid());
		r.dir = dirbuf;
	}
	if (!r.duration_ms)
		r.duration_ms = r.faults * 20;
	mkdir(r.dir, 0755);
	r.rng = r.run.seed * 0x9e3779b97f4a7c15ull + 1;
	r.run.wedge_limit_ms = (ACK_WAIT_NS + CLAIM_TIMEOUT_NS) / 1000000 + 2000;
	if ((e = run(&r)) < 0)
		return 1;
	if ((e = chaos_run_write(r.dir, &r.run)) < 0)
		return 1;
	e = chaos_check(r.dir, r.json);
	return e == 0 ? 0 : 1;
}
