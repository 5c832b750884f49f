// SPDX-License-Identifier: MIT
/* stress.c - the stress harness: workers, sequence checks, SIGKILLs, results in shared memory. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>

#include "common.h"
#include "stress.h"

#define WATCHDOG_S 580 /* a hang becomes a failure (SIGALRM) before meson's 600 s timeout */
#define IDLE_FAIL_NS 5000000000ull /* producers done and nothing new for this long: fail */
#define ATTACH_NS 30000000000ull /* every worker opens within this */

/* One worker's results; consumers' last[] outlives a kill, for the one that replaces it. */
struct stress_worker {
	_Atomic int opened;
	_Atomic int exited;
	_Atomic uint32_t restarts;
	int rc;
	char why[STRESS_WHY];
	_Atomic uint64_t last[STRESS_MAX_PRODS]; /* last sequence checked per producer */
	_Atomic uint64_t received;
};

/* Shared by every worker (MAP_SHARED before the forks); count[] only for STRESS_ACROSS. */
struct stress_board {
	size_t size;
	_Atomic int stop, go;
	_Atomic uint32_t prods_done;
	struct stress_worker cons[STRESS_MAX_CONS], prods[STRESS_MAX_PRODS];
	_Atomic uint32_t count[]; /* [producer * n + seq - 1]: times noted finished */
};

struct worker_arg {
	struct stress_run *run;
	uint32_t id;
	bool producer;
	pthread_t thread;
	pid_t pid;
};

static void backoff(unsigned *spins)
{
	if (++*spins % 64 == 0)
		sched_yield();
}

static int failed(struct stress_worker *w, int r)
{
	if (!w->why[0])
		snprintf(w->why, sizeof(w->why), "%s", shmq_strerror(r));
	return r < 0 ? r : -EPROTO;
}

static int produce(struct stress_run *run, uint32_t id)
{
	struct stress_board *b = run->board;
	struct stress_worker *w = &b->prods[id];
	unsigned spins = 0;
	uint64_t seq = 1;
	void *pub;
	int r;

	r = run->kind->pub_open(run, id, &pub, &seq);
	if (r < 0)
		return failed(w, r);
	atomic_store(&w->opened, 1);
	while (!atomic_load(&b->go))
		sched_yield();
	while (seq <= run->n) {
		r = run->kind->send(pub, id, seq, run->n);
		if (r == -EAGAIN) {
			if (atomic_load_explicit(&b->stop, memory_order_relaxed))
				break;
			backoff(&spins);
			continue;
		}
		if (r <= 0)
			break;
		seq += (uint64_t)r;
	}
	run->kind->pub_close(pub);
	if (seq <= run->n)
		return failed(w, r == -EAGAIN ? -ECANCELED : r);
	atomic_fetch_add(&b->prods_done, 1);
	return 0;
}

/* Check one record against what the kind promises; @fresh: first from its producer. */
static int check(struct stress_run *run, struct stress_worker *w, const struct stress_rec *rec,
		 bool *fresh)
{
	uint64_t last, s = rec->seq;

	if (rec->producer >= run->nprod || s < 1 || s > run->n)
		return snprintf(w->why, STRESS_WHY, "producer %u seq %llu out of range",
				rec->producer, (unsigned long long)s),
		       -EPROTO;
	last = atomic_load_explicit(&w->last[rec->producer], memory_order_relaxed);
	if (run->kind->promise == STRESS_ACROSS) {
		if (rec->done)
			atomic_fetch_add(&run->board->count[rec->producer * run->n + s - 1], 1);
	} else if (run->kind->promise == STRESS_EACH_LOSSY ? s <= last
		   : fresh[rec->producer] ? s <= last || s > last + 1 + run->kind->resume_slack
					  : s != last + 1) {
		return snprintf(w->why, STRESS_WHY, "producer %u: seq %llu after %llu%s",
				rec->producer, (unsigned long long)s, (unsigned long long)last,
				fresh[rec->producer] ? " (restarted)" : ""),
		       -EPROTO;
	}
	fresh[rec->producer] = false;
	atomic_store_explicit(&w->last[rec->producer], s > last ? s : last, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->received, 1, memory_order_relaxed);
	return 0;
}

static bool cons_finished(struct stress_run *run, struct stress_worker *w, void *sub)
{
	if (run->kind->promise == STRESS_ACROSS)
		return atomic_load(&run->board->stop);
	if (run->kind->finished)
		return run->kind->finished(sub);
	for (uint32_t p = 0; p < run->nprod; p++)
		if (atomic_load_explicit(&w->last[p], memory_order_relaxed) < run->n)
			return false;
	return true;
}

/* Nothing new: fail if another worker failed, or the producers are done and it stays so. */
static int idle(struct stress_run *run, struct stress_worker *w, uint64_t *since)
{
	uint64_t now;

	if (run->kind->promise == STRESS_ACROSS)
		return 0; /* the test's poll() judges a wedge */
	if (atomic_load_explicit(&run->board->stop, memory_order_relaxed))
		return snprintf(w->why, STRESS_WHY, "stopped: another worker failed"), -ECANCELED;
	if (atomic_load(&run->board->prods_done) < run->nprod) {
		*since = 0;
		return 0;
	}
	now = test_now_ns();
	if (!*since)
		*since = now;
	if (now - *since < IDLE_FAIL_NS)
		return 0;
	return snprintf(w->why, STRESS_WHY, "stuck: producers done, received %llu, last of 0: %llu",
			(unsigned long long)atomic_load(&w->received),
			(unsigned long long)atomic_load(&w->last[0])),
	       -ETIMEDOUT;
}

static int consume_loop(struct stress_run *run, struct stress_worker *w, uint32_t id, void **sub)
{
	struct stress_rec recs[STRESS_BATCH];
	bool fresh[STRESS_MAX_PRODS];
	uint64_t rnd = id * 7919 + 1, since = 0;
	unsigned spins = 0;
	int r, i;

	for (i = 0; i < STRESS_MAX_PRODS; i++)
		fresh[i] = atomic_load(&w->restarts) > 0;
	while (!cons_finished(run, w, *sub)) {
		r = run->kind->recv(*sub, recs, STRESS_BATCH, w->why);
		if (r == -EAGAIN) {
			r = idle(run, w, &since);
			if (r < 0)
				return r;
			backoff(&spins);
			continue;
		}
		if (r < 0)
			return r;
		since = 0;
		if (run->kind->settle && (r = run->kind->settle(*sub, recs, r, w->why)) < 0)
			return r;
		for (i = 0; i < r; i++)
			if (check(run, w, &recs[i], fresh) < 0)
				return -EPROTO;
		if (run->reopen && test_rand(&rnd) % 500 == 0) { /* leave and come back */
			run->kind->sub_close(*sub);
			*sub = NULL;
			if ((r = run->kind->sub_open(run, id, sub)) < 0)
				return r;
		}
	}
	return run->kind->sub_final ? run->kind->sub_final(*sub, w->why) : 0;
}

static int consume(struct stress_run *run, uint32_t id)
{
	struct stress_worker *w = &run->board->cons[id];
	void *sub = NULL;
	int r;

	r = run->kind->sub_open(run, id, &sub);
	if (r < 0)
		return failed(w, r);
	atomic_store(&w->opened, 1);
	r = consume_loop(run, w, id, &sub);
	if (sub)
		run->kind->sub_close(sub);
	return r < 0 ? failed(w, r) : 0;
}

static int work(struct worker_arg *a)
{
	struct stress_worker *w =
		a->producer ? &a->run->board->prods[a->id] : &a->run->board->cons[a->id];
	int r = a->producer ? produce(a->run, a->id) : consume(a->run, a->id);

	w->rc = r < 0 ? 1 : 0;
	if (r < 0)
		atomic_store(&a->run->board->stop, 1);
	atomic_store(&w->exited, 1);
	return w->rc;
}

static void *work_thread(void *p)
{
	work(p);
	return NULL;
}

static void start(struct worker_arg *a)
{
	if (a->run->threads) {
		assert_int_equal(pthread_create(&a->thread, NULL, work_thread, a), 0);
		return;
	}
	a->pid = fork();
	assert_true(a->pid >= 0);
	if (a->pid == 0) {
		/* Never a cmocka assert here: it would unwind into the child's test runner. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(WATCHDOG_S);
		_exit(work(a));
	}
}

/* Processes: reap what has exited, keeping its status; 1 when every worker is done. */
static bool all_exited(struct stress_run *run, struct worker_arg *a, uint32_t n)
{
	struct stress_worker *w;
	bool all = true;
	int st;

	for (uint32_t i = 0; i < n; i++) {
		w = a[i].producer ? &run->board->prods[a[i].id] : &run->board->cons[a[i].id];
		if (!run->threads && a[i].pid > 0 && waitpid(a[i].pid, &st, WNOHANG) == a[i].pid) {
			a[i].pid = 0;
			w->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			if (w->rc)
				atomic_store(&run->board->stop, 1);
			atomic_store(&w->exited, 1);
		}
		all = all && atomic_load(&w->exited);
	}
	return all;
}

/* SIGKILL a worker, reap it and start another in its place (a consumer resumes its checks). */
static void kill_restart(struct stress_run *run, struct worker_arg *a)
{
	struct stress_worker *w =
		a->producer ? &run->board->prods[a->id] : &run->board->cons[a->id];

	if (a->pid <= 0)
		return; /* it has exited already: all_exited() judges it */
	kill(a->pid, SIGKILL);
	assert_int_equal(test_wait(a->pid), 128 + SIGKILL);
	run->killed++;
	atomic_fetch_add(&w->restarts, 1);
	atomic_store(&w->opened, 0);
	start(a);
}

static uint64_t progress(struct stress_run *run)
{
	uint64_t sum = 0;

	for (uint32_t p = 0; p < run->nprod; p++)
		sum += atomic_load(&run->board->cons[0].last[p]);
	return sum;
}

/* The events due, and one random consumer kill every 3-8 ms until run->kills. */
static void inject(struct stress_run *run, struct worker_arg *a, uint64_t *rnd, uint64_t *last_ns,
		   uint64_t *random)
{
	struct stress_event *e;
	uint64_t now = test_now_ns();

	for (uint32_t i = 0; i < run->nevents; i++) {
		e = &run->events[i];
		if (e->at && progress(run) >= e->at) {
			kill_restart(run, &a[e->producer ? run->ncons + e->idx : e->idx]);
			e->at = 0;
		}
	}
	if (*random >= run->kills || now - *last_ns < 3000000 + test_rand(rnd) % 5000000)
		return;
	*last_ns = now;
	kill_restart(run, &a[test_rand(rnd) % run->ncons]);
	++*random;
}

static void wait_opened(struct stress_run *run, struct worker_arg *a, uint32_t from, uint32_t to)
{
	uint64_t end = test_now_ns() + ATTACH_NS;
	uint32_t i = from;

	while (i < to && test_now_ns() < end && !atomic_load(&run->board->stop)) {
		struct stress_worker *w =
			a[i].producer ? &run->board->prods[a[i].id] : &run->board->cons[a[i].id];

		if (atomic_load(&w->opened) || atomic_load(&w->exited))
			i++;
		else
			usleep(100);
	}
	if (i < to)
		atomic_store(&run->board->stop, 1);
}

/* Consumers attach first, then producers, which start together; then watch until the end. */
static void supervise(struct stress_run *run, struct worker_arg *a)
{
	uint32_t n = run->ncons + run->nprod;
	uint64_t rnd = 0x1234567, last_ns = test_now_ns(), random = 0;
	int r;

	for (uint32_t i = 0; i < run->ncons; i++)
		start(&a[i]);
	wait_opened(run, a, 0, run->ncons);
	for (uint32_t i = run->ncons; i < n; i++)
		start(&a[i]);
	wait_opened(run, a, run->ncons, n);
	atomic_store(&run->board->go, 1);
	while (!all_exited(run, a, n)) {
		if (!run->threads && !atomic_load(&run->board->stop))
			inject(run, a, &rnd, &last_ns, &random);
		r = run->kind->poll ? run->kind->poll(run) : 0;
		if (r != 0 && random >= run->kills)
			stress_stop(run);
		usleep(1000); /* a timed sleep: the workers' wakes must not time the kills */
	}
	for (uint32_t i = 0; run->threads && i < n; i++)
		assert_int_equal(pthread_join(a[i].thread, NULL), 0);
}

/* Every record noted once; with kills, at most one duplicate and one missing per kill. */
static void check_across(struct stress_run *run)
{
	uint32_t c;

	run->dups = run->missing = 0;
	for (uint64_t i = 0; i < run->nprod * run->n; i++) {
		c = atomic_load(&run->board->count[i]);
		run->missing += c == 0;
		run->dups += c > 1 ? c - 1 : 0;
	}
	if (run->missing > run->killed || run->dups > run->killed)
		fail_msg("%llu records missing, %llu noted twice, with %llu kills",
			 (unsigned long long)run->missing, (unsigned long long)run->dups,
			 (unsigned long long)run->killed);
}

static void report(struct stress_run *run)
{
	struct stress_board *b = run->board;
	bool bad = false;

	for (uint32_t i = 0; i < run->ncons; i++) {
		if (b->cons[i].rc)
			fprintf(stderr, "# %s consumer %u: exit %d: %s\n", run->kind->name, i,
				b->cons[i].rc, b->cons[i].why);
		bad |= b->cons[i].rc != 0;
	}
	for (uint32_t i = 0; i < run->nprod; i++) {
		if (b->prods[i].rc)
			fprintf(stderr, "# %s producer %u: exit %d: %s\n", run->kind->name, i,
				b->prods[i].rc, b->prods[i].why);
		bad |= b->prods[i].rc != 0;
	}
	assert_false(bad);
	for (uint32_t i = 0; i < run->ncons; i++)
		printf("# %s consumer %u: %llu records checked\n", run->kind->name, i,
		       (unsigned long long)atomic_load(&b->cons[i].received));
}

void stress_run(struct stress_run *run)
{
	uint32_t n = run->ncons + run->nprod;
	struct worker_arg a[STRESS_MAX_CONS + STRESS_MAX_PRODS];
	size_t size = sizeof(*run->board);

	assert_true(run->nprod >= 1 && run->nprod <= STRESS_MAX_PRODS);
	assert_true(run->ncons >= 1 && run->ncons <= STRESS_MAX_CONS);
	assert_true(!run->threads || (run->kills == 0 && run->nevents == 0));
	if (run->kind->promise == STRESS_ACROSS)
		size += run->nprod * run->n * sizeof(run->board->count[0]);
	run->board = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(run->board != MAP_FAILED);
	run->board->size = size;
	run->killed = 0;
	for (uint32_t i = 0; i < n; i++)
		a[i] = (struct worker_arg){ .run = run,
					    .producer = i >= run->ncons,
					    .id = i >= run->ncons ? i - run->ncons : i };
	supervise(run, a);
	report(run);
	if (run->kind->promise == STRESS_ACROSS)
		check_across(run);
	assert_true(run->killed >= run->kills + run->nevents);
	munmap(run->board, size);
	run->board = NULL;
}

void stress_note(struct stress_run *run, uint32_t producer, uint64_t seq)
{
	assert_true(producer < run->nprod && seq >= 1 && seq <= run->n);
	atomic_fetch_add(&run->board->count[producer * run->n + seq - 1], 1);
}

void stress_stop(struct stress_run *run)
{
	atomic_store(&run->board->stop, 1);
}
