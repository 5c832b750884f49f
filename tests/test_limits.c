// SPDX-License-Identifier: MIT
/*
 * test_limits.c - every limit reached in one run, on live objects while traffic flows.
 *
 * One reliable topic with two producer processes sending, three subscribers and a consumer
 * group of two members draining it. In turn, while the records flow: a fourth subscriber, a
 * third producer and a third member are refused with -EUSERS, each with its detail;
 * a member at its in-flight limit and a member at the group's window get -EAGAIN with
 * records waiting, counted as window_full, and receive again once the leases at the floor
 * are acked; in a forked child, the file descriptors run out (RLIMIT_NOFILE lowered, the
 * rest taken): every open gets -EMFILE, leaves no segment and no mapping behind, the handles
 * opened before go on working, and opens work again once a descriptor is free. At the end,
 * each subscriber has every record of each producer once and in order, and the group has
 * acked each record once, at its first delivery.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "topic_common.h"

#define PRODS 2u /* the topic's max_producers: both held by the producer processes */
#define SUBS 3u /* its max_subscribers */
#define MEMBERS 2u /* the group's max_members */
#define WINDOW 16u /* its max_pending */
#define IN_FLIGHT 4u /* its max_in_flight */
#define PER_PROD 3000u /* records each producer sends */
#define TOTAL (PRODS * PER_PROD)
#define FILL 4 /* descriptors the fd child leaves to open below its lowered limit */

/* A record: which producer sent it, and its own sequence (1, 2, ...). */
struct rec {
	uint32_t prod;
	uint32_t pad;
	uint64_t seq;
};

static uint64_t corr(uint32_t prod, uint64_t seq)
{
	return (uint64_t)prod << 32 | seq;
}

static struct shmq_topic_config lim_cfg(void)
{
	struct shmq_topic_config c = cfg_of(64, SHMQ_TOPIC_RELIABLE);

	c.max_subscribers = SUBS;
	c.max_producers = PRODS;
	return c;
}

static const struct shmq_group_config grp_cfg = { .max_members = MEMBERS,
						  .max_pending = WINDOW,
						  .max_in_flight = IN_FLIGHT };

/* In a child of @top: die with it, whose failed assertion would leave the child waiting. */
static void die_with(pid_t top)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != top)
		_exit(5);
}

/* A producer process: its entry taken, it says so on @ready, sends, and stays until @done. */
static void producer(pid_t top, uint32_t idx, int ready, const _Atomic bool *done)
{
	shmq_bus *bus = test_bus_of(top);
	struct rec r = { .prod = idx };
	shmq_pub *pub = NULL;
	int e;

	die_with(top);
	if (shmq_pub_open(bus, "lim", 0, NULL, &pub) < 0)
		_exit(2);
	if (write(ready, "p", 1) != 1)
		_exit(3);
	for (r.seq = 1; r.seq <= PER_PROD; r.seq++) {
		/* -EAGAIN: the slowest subscriber or the group's floor holds us back. */
		while ((e = shmq_pub_send(pub, &r, sizeof(r), corr(idx, r.seq))) == -EAGAIN)
			usleep(50);
		if (e < 0)
			_exit(4);
	}
	while (!atomic_load(done))
		usleep(1000);
	shmq_pub_close(pub);
	_exit(0);
}

/* What the parent drains and checks. */
struct run {
	shmq_bus *bus;
	shmq_sub *sub[SUBS];
	uint64_t next[SUBS][PRODS]; /* each subscriber's last sequence seen, per producer */
	uint64_t got[SUBS];
	shmq_group *m[MEMBERS];
	uint8_t acked[PRODS][PER_PROD + 1];
	uint64_t n_acked;
	pid_t fd_child;
	int fd_status;
	uint64_t deadline;
};

/* Every record @s has: the next of its producer, intact, nothing lost before it. */
static int drain_sub(struct run *c, unsigned s)
{
	struct shmq_sub_msg m;
	uint8_t buf[MAXM];
	struct rec r;
	int n, got = 0;

	while ((n = shmq_sub_recv(c->sub[s], buf, sizeof(buf), &m)) >= 0) {
		assert_int_equal(n, sizeof(r));
		memcpy(&r, buf, sizeof(r));
		assert_true(r.prod < PRODS);
		if (r.seq != c->next[s][r.prod] + 1)
			fail_msg("subscriber %u: producer %u's record %llu after %llu", s, r.prod,
				 (unsigned long long)r.seq, (unsigned long long)c->next[s][r.prod]);
		assert_int_equal(m.corr_id, corr(r.prod, r.seq));
		assert_int_equal(m.lost, 0);
		c->next[s][r.prod] = r.seq;
		c->got[s]++;
		got++;
	}
	assert_int_equal(n, -EAGAIN);
	return got;
}

/* A record delivered to a member: each one once, at its first attempt (no lease failed). */
static void take(struct run *c, const uint8_t *buf, int n, const struct shmq_group_msg *m)
{
	struct rec r;

	assert_int_equal(n, sizeof(r));
	memcpy(&r, buf, sizeof(r));
	assert_true(r.prod < PRODS && r.seq >= 1 && r.seq <= PER_PROD);
	assert_int_equal(m->corr_id, corr(r.prod, r.seq));
	assert_int_equal(m->attempt, 1);
	if (c->acked[r.prod][r.seq])
		fail_msg("producer %u's record %llu delivered twice", r.prod,
			 (unsigned long long)r.seq);
	c->acked[r.prod][r.seq] = 1;
}

/* Receive and ack on member @k until nothing is due (or its window is full). */
static int drain_member(struct run *c, unsigned k)
{
	struct shmq_group_msg m;
	uint8_t buf[MAXM];
	int n, got = 0;

	while ((n = shmq_group_recv(c->m[k], buf, sizeof(buf), &m)) >= 0) {
		take(c, buf, n, &m);
		assert_int_equal(shmq_group_ack(c->m[k], m.lease), 0);
		c->n_acked++;
		got++;
	}
	assert_int_equal(n, -EAGAIN);
	return got;
}

static void check_deadline(const struct run *c, const char *what)
{
	if (test_now_ns() > c->deadline)
		fail_msg("no progress within 60 s: %s (group acked %llu, subscriber 0 has %llu)",
			 what, (unsigned long long)c->n_acked, (unsigned long long)c->got[0]);
}

/* Collect the fd child once it ended (it runs beside the traffic). */
static void reap_fd_child(struct run *c, bool block)
{
	if (c->fd_child <= 0)
		return;
	if (block) {
		c->fd_status = test_wait(c->fd_child);
	} else {
		int st;
		pid_t r = waitpid(c->fd_child, &st, WNOHANG);

		assert_true(r >= 0);
		if (r == 0)
			return;
		c->fd_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	c->fd_child = 0;
}

/* Drain every subscriber and member until each has @until records (at most TOTAL). */
static void pump(struct run *c, uint64_t until)
{
	bool behind;
	unsigned i;
	int got;

	if (until > TOTAL)
		until = TOTAL;
	for (;;) {
		got = 0;
		behind = c->n_acked < until;
		for (i = 0; i < SUBS; i++) {
			got += drain_sub(c, i);
			behind |= c->got[i] < until;
		}
		for (i = 0; i < MEMBERS; i++)
			got += drain_member(c, i);
		reap_fd_child(c, false);
		if (!behind)
			return;
		if (!got)
			usleep(100);
		check_deadline(c, "pump");
	}
}

static struct shmq_group_stats gstat(const struct run *c)
{
	struct shmq_group_stats st;

	assert_int_equal(shmq_group_stat(c->bus, "lim", "g", &st, NULL, 0), (int)MEMBERS);
	return st;
}

/* The entry limits: each refused with -EUSERS while the live objects go on. */
static void subscriber_limit(struct run *c)
{
	shmq_sub *sub = NULL;
	const char *d;

	assert_int_equal(shmq_sub_open(c->bus, "lim", 0, NULL, 0, &sub), -EUSERS);
	assert_null(sub);
	d = shmq_last_detail();
	print_message("subscribers: -EUSERS (%s) \"%s\"\n", shmq_strerror(-EUSERS), d);
	assert_non_null(strstr(d, "all 3 subscriber entries are held by live processes"));
	assert_int_equal(topic_stats(c->bus, "lim").subscribers, SUBS);
}

static void producer_limit(struct run *c)
{
	shmq_pub *pub = NULL;
	const char *d;

	assert_int_equal(shmq_pub_open(c->bus, "lim", 0, NULL, &pub), -EUSERS);
	assert_null(pub);
	d = shmq_last_detail();
	print_message("producers: -EUSERS \"%s\"\n", d);
	assert_non_null(strstr(d, "all 2 producer entries are held by live processes"));
	assert_int_equal(topic_stats(c->bus, "lim").producers, PRODS);
}

static void member_limit(struct run *c)
{
	shmq_group *g = NULL;
	const char *d;

	assert_int_equal(shmq_group_open(c->bus, "lim", "g", 0, NULL, &g), -EUSERS);
	assert_null(g);
	d = shmq_last_detail();
	print_message("members: -EUSERS \"%s\"\n", d);
	assert_non_null(strstr(d, "member entries are held by live processes"));
	assert_int_equal(gstat(c).members, MEMBERS);
}

/* Let the producers run ahead of the group by more than its window (subscribers drained). */
static void group_behind(struct run *c, uint64_t by)
{
	struct shmq_group_stats st;

	for (;;) {
		st = gstat(c);
		if (st.tail - st.next > by)
			return;
		for (unsigned i = 0; i < SUBS; i++)
			drain_sub(c, i);
		usleep(100);
		check_deadline(c, "group_behind");
	}
}

/*
 * The in-flight limit, then the window: member 0 leases IN_FLIGHT records and holds them
 * (they hold the floor); member 1 receives and acks until the window is full. Each stops
 * with -EAGAIN while the topic has records the group has not handed out.
 */
static void window_limits(struct run *c)
{
	struct shmq_group_msg held[IN_FLIGHT], m;
	struct shmq_group_stats st0, st;
	uint8_t buf[MAXM];
	unsigned i;
	int n;

	group_behind(c, WINDOW);
	st0 = gstat(c);
	assert_true(st0.tail - st0.next > WINDOW);
	for (i = 0; i < IN_FLIGHT; i++) {
		n = shmq_group_recv(c->m[0], buf, sizeof(buf), &held[i]);
		take(c, buf, n, &held[i]);
	}
	assert_int_equal(shmq_group_recv(c->m[0], buf, sizeof(buf), &m), -EAGAIN);
	st = gstat(c);
	assert_true(st.window_full > st0.window_full);
	assert_int_equal(st.in_flight, IN_FLIGHT);
	assert_true(st.tail > st.next); /* refused, not empty */
	/* Member 1 at the group's window: WINDOW records owed between the floor and next. */
	while ((n = shmq_group_recv(c->m[1], buf, sizeof(buf), &m)) >= 0) {
		take(c, buf, n, &m);
		assert_int_equal(shmq_group_ack(c->m[1], m.lease), 0);
		c->n_acked++;
	}
	assert_int_equal(n, -EAGAIN);
	st0 = st;
	st = gstat(c);
	assert_int_equal(st.pending, WINDOW);
	assert_int_equal(st.max_pending, WINDOW);
	assert_true(st.window_full > st0.window_full);
	assert_true(st.tail > st.next);
	print_message("in flight %u and window %u: -EAGAIN with %llu records waiting, window_full "
		      "%llu\n",
		      IN_FLIGHT, WINDOW, (unsigned long long)(st.tail - st.next),
		      (unsigned long long)st.window_full);
	/* The held leases acked, the floor moves and both receive again. */
	for (i = 0; i < IN_FLIGHT; i++) {
		assert_int_equal(shmq_group_ack(c->m[0], held[i].lease), 0);
		c->n_acked++;
	}
	assert_true(drain_member(c, 1) > 0);
}

/* ---- the fd child ---- */

#define CHECK(c) CHILD_CHECK(c)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The namespace's objects in /dev/shm, sorted, one a line, into @out. */
static void shm_list(shmq_bus *bus, char *out, size_t len)
{
	char prefix[64], *names[64];
	struct dirent *de;
	DIR *d = opendir("/dev/shm");
	size_t n = 0, i, at = 0;

	CHECK(d);
	snprintf(prefix, sizeof(prefix), "shmq.%s.", shmq_bus_namespace(bus));
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)) && n < 64)
			CHECK((names[n++] = strdup(de->d_name)));
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		at += (size_t)snprintf(out + at, at < len ? len - at : 0, "%s\n", names[i]);
		free(names[i]);
	}
	CHECK(at < len);
}

/* How many mappings of this namespace's segments the process has. */
static int shm_maps(shmq_bus *bus)
{
	char want[80], line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	int n = 0;

	CHECK(f);
	snprintf(want, sizeof(want), "/dev/shm/shmq.%s.", shmq_bus_namespace(bus));
	while (fgets(line, sizeof(line), f))
		n += strstr(line, want) != NULL;
	fclose(f);
	return n;
}

/* The fd child's handles (those opened after the limit too), and where each one is. */
struct fdrun {
	shmq_pub *pub;
	shmq_sub *sub, *sub2;
	shmq_group *g, *g2;
	shmq_channel *tx, *rx;
	uint64_t sent, sub_at, sub2_at, grp_at, chan_sent, chan_at;
	uint64_t starved; /* records sent while no descriptor was free */
};

/*
 * @n records through the child's topic (to its subscribers and its group's members, each in
 * order, nothing lost) and its channel; then nothing more is there.
 */
static void fd_traffic(struct fdrun *f, unsigned n)
{
	struct shmq_sub_msg sm;
	struct shmq_group_msg gm;
	struct shmq_msg_info cm;
	shmq_group *g;
	uint64_t v, w;
	unsigned i;

	for (i = 0; i < n; i++) {
		v = ++f->sent;
		CHECK(shmq_pub_send(f->pub, &v, sizeof(v), v) == 0);
		CHECK(shmq_sub_wait(f->sub, 0, 1000000000ull) == 0); /* a record: no timeout */
		CHECK(shmq_sub_recv(f->sub, &w, sizeof(w), &sm) == sizeof(w));
		CHECK(w == ++f->sub_at && sm.lost == 0);
		if (f->sub2) {
			CHECK(shmq_sub_recv(f->sub2, &w, sizeof(w), &sm) == sizeof(w));
			CHECK(w == ++f->sub2_at);
		}
		/* One member (or the two in turn) leases and acks each record in order. */
		g = f->g2 && (v & 1) ? f->g2 : f->g;
		CHECK(shmq_group_wait(g, 0, 1000000000ull) == 0);
		CHECK(shmq_group_recv(g, &w, sizeof(w), &gm) == sizeof(w));
		CHECK(w == ++f->grp_at && gm.attempt == 1);
		CHECK(shmq_group_ack(g, gm.lease) == 0);
		v = ++f->chan_sent;
		CHECK(shmq_channel_send(f->tx, &v, sizeof(v)) == 0);
		CHECK(shmq_channel_recv(f->rx, &w, sizeof(w), &cm) == sizeof(w));
		CHECK(w == ++f->chan_at);
	}
	/* Nothing more: the waits time out, the receives are empty. */
	CHECK(shmq_sub_wait(f->sub, 0, 1000000) == -ETIMEDOUT);
	CHECK(shmq_sub_recv(f->sub, &w, sizeof(w), &sm) == -EAGAIN);
	CHECK(shmq_group_recv(f->g, &w, sizeof(w), &gm) == -EAGAIN);
}

/* Every kind of open, with no descriptor left: -EMFILE, and the handle untouched. */
static void opens_refused(shmq_bus *bus, const struct shmq_topic_config *cfg)
{
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;
	shmq_group *g = NULL;
	shmq_channel *ch = NULL;

	CHECK(shmq_sub_open(bus, "fd", 0, NULL, 0, &sub) == -EMFILE && !sub);
	CHECK(shmq_pub_open(bus, "fd", 0, NULL, &pub) == -EMFILE && !pub);
	CHECK(shmq_group_open(bus, "fd", "fg", 0, NULL, &g) == -EMFILE && !g);
	CHECK(shmq_group_open(bus, "fd", "fnew", SHMQ_OPEN_CREATE, NULL, &g) == -EMFILE && !g);
	CHECK(shmq_pub_open(bus, "fdnew", SHMQ_OPEN_CREATE, cfg, &pub) == -EMFILE && !pub);
	CHECK(shmq_channel_open(bus, "fdnewc", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &ch) ==
		      -EMFILE &&
	      !ch);
}

/* The new objects and handles, once a descriptor is free: each open works. */
static void opens_work(shmq_bus *bus, const struct shmq_topic_config *cfg, struct fdrun *f)
{
	shmq_pub *pub = NULL;
	shmq_group *g = NULL;
	shmq_channel *ch = NULL;

	CHECK(shmq_sub_open(bus, "fd", 0, NULL, 0, &f->sub2) == 0);
	f->sub2_at = f->sent;
	CHECK(shmq_group_open(bus, "fd", "fg", 0, NULL, &f->g2) == 0);
	CHECK(shmq_pub_open(bus, "fdnew", SHMQ_OPEN_CREATE, cfg, &pub) == 0);
	shmq_pub_close(pub);
	CHECK(shmq_group_open(bus, "fd", "fnew", SHMQ_OPEN_CREATE, NULL, &g) == 0);
	shmq_group_close(g);
	CHECK(shmq_channel_open(bus, "fdnewc", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &ch) ==
	      0);
	shmq_channel_close(ch);
}

/*
 * A handle's own descriptor (shmq_sub_fd(), an io_uring) takes the last free one: the next
 * open is refused again, and works once that handle is closed. Only with io_uring.
 */
static void handle_fd(shmq_bus *bus, struct fdrun *f)
{
	shmq_sub *sub = NULL;

	if (strcmp(shmq_wake_backend(), "io_uring") != 0) {
		CHECK(shmq_sub_fd(f->sub2) == -EOPNOTSUPP);
		printf("fd child: no io_uring, no handle descriptors to check\n");
		return;
	}
	CHECK(shmq_sub_fd(f->sub2) >= 0);
	CHECK(shmq_sub_open(bus, "fd", 0, NULL, 0, &sub) == -EMFILE && !sub);
	shmq_sub_close(f->sub2);
	f->sub2 = NULL;
	CHECK(shmq_sub_open(bus, "fd", 0, NULL, 0, &f->sub2) == 0);
	f->sub2_at = f->sent;
}

static void fd_child(pid_t top)
{
	struct shmq_topic_config cfg = cfg_of(64, SHMQ_TOPIC_RELIABLE);
	shmq_bus *bus = test_bus_of(top);
	struct fdrun f = { 0 };
	char before[4096], after[4096];
	int fill[FILL], nfill = 0, fd, maps, lowest;
	struct rlimit rl;

	die_with(top);
	alarm(60);
	/* The wake backend is told before the descriptors run out: its probe needs one (one
	 * asked with none free says futex for that park only, and is asked again later). */
	printf("fd child: wake backend %s\n", shmq_wake_backend());
	CHECK(shmq_pub_open(bus, "fd", SHMQ_OPEN_CREATE, &cfg, &f.pub) == 0);
	CHECK(shmq_sub_open(bus, "fd", 0, NULL, 0, &f.sub) == 0);
	CHECK(shmq_group_open(bus, "fd", "fg", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, NULL, &f.g) ==
	      0);
	CHECK(shmq_channel_open(bus, "fdc", SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &f.rx) ==
	      0);
	CHECK(shmq_channel_open(bus, "fdc", SHMQ_OPEN_PRODUCER, NULL, &f.tx) == 0);
	fd_traffic(&f, 20);
	shm_list(bus, before, sizeof(before));
	maps = shm_maps(bus);
	/* The limit FILL above the lowest free descriptor, and those taken by files of our
	 * own (as an application's sockets would be): no descriptor is left. */
	lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(lowest >= 0 && close(lowest) == 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = (rlim_t)lowest + FILL;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		CHECK(nfill < FILL && (fill[nfill++] = fd) >= 0);
	CHECK(errno == EMFILE && nfill >= 1);
	opens_refused(bus, &cfg);
	CHECK(shmq_sub_fd(f.sub) ==
	      (strcmp(shmq_wake_backend(), "io_uring") ? -EOPNOTSUPP : -EMFILE));
	/* The handles opened before: sends, receives, acks and waits as before. */
	fd_traffic(&f, 50);
	f.starved = 50;
	/* One descriptor free: nothing was left behind, and every open works again. */
	close(fill[--nfill]);
	shm_list(bus, after, sizeof(after));
	CHECK(strcmp(before, after) == 0);
	CHECK(shm_maps(bus) == maps);
	opens_work(bus, &cfg, &f);
	handle_fd(bus, &f);
	fd_traffic(&f, 30);
	while (nfill)
		close(fill[--nfill]);
	printf("fd child: limit %d descriptors; 6 opens -EMFILE, no segment or mapping left; "
	       "%llu records through the handles opened before (%llu with no descriptor free), "
	       "then through the new ones too\n",
	       lowest + FILL, (unsigned long long)f.sent, (unsigned long long)f.starved);
	shmq_group_close(f.g2);
	shmq_group_close(f.g);
	shmq_sub_close(f.sub2);
	shmq_sub_close(f.sub);
	shmq_pub_close(f.pub);
	shmq_channel_close(f.tx);
	shmq_channel_close(f.rx);
	fflush(stdout);
	_exit(0);
}

/* ---- the run ---- */

static void open_all(struct run *c)
{
	struct shmq_topic_config cfg = lim_cfg();
	unsigned i;

	shmq_pub_close(open_pub(c->bus, "lim", &cfg)); /* made; its entry freed again */
	for (i = 0; i < MEMBERS; i++)
		assert_int_equal(shmq_group_open(c->bus, "lim", "g",
						 SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, &grp_cfg,
						 &c->m[i]),
				 0);
	for (i = 0; i < SUBS; i++)
		assert_int_equal(shmq_sub_open(c->bus, "lim", 0, NULL, 0, &c->sub[i]), 0);
}

static void check_all(struct run *c)
{
	struct shmq_group_stats st = gstat(c);
	unsigned i, p;
	uint64_t s;

	for (i = 0; i < SUBS; i++) {
		assert_int_equal(c->got[i], TOTAL);
		for (p = 0; p < PRODS; p++)
			assert_int_equal(c->next[i][p], PER_PROD);
	}
	for (p = 0; p < PRODS; p++)
		for (s = 1; s <= PER_PROD; s++)
			if (!c->acked[p][s])
				fail_msg("producer %u's record %llu never acked", p,
					 (unsigned long long)s);
	assert_int_equal(c->n_acked, TOTAL);
	assert_int_equal(st.acked, TOTAL);
	assert_int_equal(st.delivered, TOTAL);
	assert_int_equal(st.redelivered, 0);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.in_flight, 0);
}

static void test_every_limit(void **state)
{
	static struct run run; /* the acked table is large for a stack */
	struct run *c = &run;
	_Atomic bool *done;
	pid_t prods[PRODS], me = getpid();
	int ready[2];
	unsigned i;
	char b;

	(void)state;
	memset(c, 0, sizeof(*c));
	c->bus = test_bus();
	c->deadline = test_now_ns() + 60000000000ull;
	open_all(c);
	done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(done != MAP_FAILED);
	atomic_store(done, false);
	assert_int_equal(pipe(ready), 0);
	fflush(stdout); /* the children's output after ours, never a copy of it */
	for (i = 0; i < PRODS; i++) {
		prods[i] = fork();
		assert_true(prods[i] >= 0);
		if (prods[i] == 0)
			producer(me, i, ready[1], done);
	}
	for (i = 0; i < PRODS; i++)
		assert_int_equal(read(ready[0], &b, 1), 1);
	/* Each limit in turn, a stretch of traffic before and after it. */
	subscriber_limit(c);
	pump(c, TOTAL / 8);
	producer_limit(c);
	pump(c, TOTAL / 4);
	member_limit(c);
	pump(c, 3 * TOTAL / 8);
	window_limits(c);
	pump(c, TOTAL / 2);
	fflush(stdout);
	c->fd_child = fork();
	assert_true(c->fd_child >= 0);
	if (c->fd_child == 0)
		fd_child(me);
	pump(c, TOTAL);
	reap_fd_child(c, true);
	assert_int_equal(c->fd_status, 0);
	check_all(c);
	/* The limits are counts of live entries: one freed, one more is admitted. */
	atomic_store(done, true);
	for (i = 0; i < PRODS; i++)
		assert_int_equal(test_wait(prods[i]), 0);
	shmq_sub_close(c->sub[0]);
	assert_int_equal(shmq_sub_open(c->bus, "lim", 0, NULL, 0, &c->sub[0]), 0);
	shmq_group_close(c->m[0]);
	assert_int_equal(shmq_group_open(c->bus, "lim", "g", 0, NULL, &c->m[0]), 0);
	print_message("%u records: each subscriber had all, in order; the group acked each once\n",
		      TOTAL);
	for (i = 0; i < SUBS; i++)
		shmq_sub_close(c->sub[i]);
	for (i = 0; i < MEMBERS; i++)
		shmq_group_close(c->m[i]);
	close(ready[0]);
	close(ready[1]);
	munmap((void *)done, 4096);
	shmq_bus_close(c->bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_every_limit, test_cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
