// SPDX-License-Identifier: MIT
/*
 * test_daemon.c - shmqd and the library's client side: the protocol's replies and errors,
 * opens through the daemon, declared configurations, permissions across uids, and the
 * cleanup after a SIGKILLed client (asserted on state: entries freed, records redelivered).
 */
#include <dirent.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "daemon_common.h"
#include "topic_internal.h"
#include "topic_common.h"

static struct test_daemon td;

/* The daemon's options: the loop the test run asks for. */
static const char *loop_arg(void)
{
	return getenv("SHMQD_TEST_LOOP") ? "--loop=epoll" : NULL;
}

/* Start shmqd (again); the tests' own opens require it (daemon_start() leaves auto mode). */
static void restart(void)
{
	daemon_start(&td, loop_arg());
	setenv(SHMQ_DAEMON_ENV, "required", 1);
}

static int setup(void **state)
{
	(void)state;
	restart();
	return 0;
}

static int teardown(void **state)
{
	int st = daemon_stop(&td, SIGTERM);

	test_cleanup(state);
	daemon_dir_remove(&td);
	/* A clean stop exits 0 and leaves its socket removed. */
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(access(td.sock, F_OK), -1);
	return 0;
}

static void expect_error(const char *req, size_t len, const char *err)
{
	char rep[70000];

	raw_request(&td, req, len ? len : strlen(req), rep, sizeof(rep));
	if (!strstr(rep, "\"ok\":false") || !strstr(rep, err))
		fail_msg("reply %s lacks %s", rep, err);
}

static void test_protocol_errors(void **state)
{
	static char big[SHMQ_TOPIC_DEFAULT_MAX_MSG * 80];
	char rep[512];
	int n;

	(void)state;
	expect_error("garbage", 0, "\"EBADMSG\"");
	expect_error("[1,2]", 0, "\"EBADMSG\"");
	expect_error("{\"v\":2,\"op\":\"ping\"}", 0, "\"EPROTONOSUPPORT\"");
	expect_error("{\"op\":\"ping\"}", 0, "\"EPROTONOSUPPORT\"");
	expect_error("{\"v\":1}", 0, "\"EINVAL\"");
	expect_error("{\"v\":1,\"op\":7}", 0, "\"EINVAL\"");
	expect_error("{\"v\":1,\"op\":\"fly\",\"id\":4}", 0, "\"id\":4");
	expect_error("{\"v\":1,\"op\":\"fly\"}", 0, "\"EOPNOTSUPP\"");
	expect_error("{\"v\":1,\"op\":\"ping\",\"id\":-1}", 0, "\"EINVAL\"");
	expect_error("{\"v\":1,\"op\":\"open\",\"kind\":\"queue\",\"name\":\"a\"}", 0,
		     "\"EINVAL\"");
	expect_error("{\"v\":1,\"op\":\"open\",\"kind\":\"topic\"}", 0, "name");
	expect_error("{\"v\":1,\"op\":\"open\",\"kind\":\"topic\",\"name\":\"a..b\"}", 0,
		     "\"EINVAL\"");
	expect_error("{\"v\":1,\"op\":\"open\",\"kind\":\"topic\",\"name\":\"a\",\"create\":1}", 0,
		     "create");
	expect_error("{\"v\":1,\"op\":\"ping\",\"op\":\"ping\"}", 0, "\"EBADMSG\"");
	expect_error("{\"v\":1,\"op\":\"lookup\",\"name\":\"nothing.here\"}", 0, "\"ENOENT\"");
	expect_error("{\"v\":1,\"op\":\"watch\",\"pattern\":\"a.>.b\"}", 0, "\"EINVAL\"");
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"v\":1,\"op\":\"ping\"}", 19);
	expect_error(big, sizeof(big), "\"EMSGSIZE\"");
	/* The daemon goes on after each of them. */
	n = raw_request(&td, "{\"v\":1,\"op\":\"ping\",\"id\":9}", 26, rep, sizeof(rep));
	assert_true(n > 0);
	assert_non_null(strstr(rep, "\"ok\":true"));
	assert_non_null(strstr(rep, "\"id\":9"));
}

static void test_status(void **state)
{
	shmq_bus *bus = test_bus();
	char rep[4096];

	(void)state;
	assert_true(shmq_daemon_request(bus, "{\"op\":\"status\"}", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, getenv("SHMQD_TEST_LOOP") ? "\"loop\":\"epoll\""
							      : "\"loop\":\"io_uring\""));
	assert_int_equal(shmq_daemon_request(bus, "not json", rep, sizeof(rep)), -EINVAL);
	assert_int_equal(shmq_daemon_request(bus, "{\"op\":\"status\"}", rep, 8), -EMSGSIZE);
	shmq_bus_close(bus);
}

/* A topic opened through the daemon is listed by it, with owner and mode. */
static void test_open_lists(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_config cfg = { .slots = 16, .mode = 0640 };
	shmq_pub *pub = open_pub(bus, "d.listed", &cfg);
	char rep[8192];

	(void)state;
	assert_true(shmq_daemon_request(bus, "{\"op\":\"lookup\",\"name\":\"d.listed\"}", rep,
					sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "\"kind\":\"topic\""));
	assert_non_null(strstr(rep, "\"mode\":416")); /* 0640 */
	/* its configuration, as the segment holds it */
	assert_non_null(strstr(rep, "\"config\":{\"slots\":16,"));
	assert_non_null(strstr(rep, "\"policy\":\"reliable\""));
	shmq_pub_close(pub);
	assert_true(shmq_daemon_request(
			    bus, "{\"op\":\"delete\",\"kind\":\"topic\",\"name\":\"d.listed\"}",
			    rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "\"ok\":true"));
	assert_int_equal(shmq_sub_open(bus, "d.listed", 0, NULL, 0, &(shmq_sub *){ NULL }),
			 -ENOENT);
	shmq_bus_close(bus);
}

/* A topic declared to the daemon gets that configuration when opened by name alone. */
static void test_declared_config(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_stats st;
	shmq_pub *pub = NULL;
	char rep[1024];

	(void)state;
	assert_true(shmq_daemon_request(bus,
					"{\"op\":\"declare\",\"name\":\"d.declared\",\"config\":"
					"{\"slots\":64,\"max_msg\":200,\"policy\":\"lossy\"}}",
					rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "\"ok\":true"));
	assert_int_equal(shmq_pub_open(bus, "d.declared", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	assert_true(shmq_topic_stat(bus, "d.declared", &st, NULL, 0) >= 0);
	assert_int_equal(st.slots, 64);
	assert_int_equal(st.max_msg, 200);
	assert_int_equal(st.policy, SHMQ_TOPIC_LOSSY);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* Required mode without a daemon fails clearly; auto mode goes on without it. */
static void test_required_without_daemon(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = NULL;

	(void)state;
	setenv(SHMQ_SOCKET_ENV, "/tmp/shmq-test-nobody-listens.sock", 1);
	assert_int_equal(shmq_pub_open(bus, "d.req", SHMQ_OPEN_CREATE, NULL, &pub), -ECONNREFUSED);
	assert_non_null(strstr(shmq_last_detail(), "required"));
	setenv(SHMQ_DAEMON_ENV, "auto", 1);
	assert_int_equal(shmq_pub_open(bus, "d.req", SHMQ_OPEN_CREATE, NULL, &pub), 0);
	shmq_pub_close(pub);
	setenv(SHMQ_DAEMON_ENV, "bogus", 1);
	assert_int_equal(shmq_pub_open(bus, "d.req", 0, NULL, &pub), -EINVAL);
	setenv(SHMQ_DAEMON_ENV, "required", 1);
	setenv(SHMQ_SOCKET_ENV, td.sock, 1);
	shmq_bus_close(bus);
}

/* A second daemon for the namespace refuses, naming the live one. */
static void test_second_daemon_refuses(void **state)
{
	struct test_daemon two = { .exe = td.exe };
	char log[4096] = "";
	int st, fd;
	ssize_t n;

	(void)state;
	snprintf(two.dir, sizeof(two.dir), "%s", td.dir);
	snprintf(two.sock, sizeof(two.sock), "%s/two.sock", td.dir);
	snprintf(two.log, sizeof(two.log), "%s/two.log", td.dir);
	two.pid = fork();
	if (two.pid == 0) {
		char ns[32];

		snprintf(ns, sizeof(ns), "t%d", (int)getppid());
		fd = open(two.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		execl(two.exe, "shmqd", "-n", ns, "-f", "-s", two.sock, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(two.pid, &st, 0), two.pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	fd = open(two.log, O_RDONLY);
	n = read(fd, log, sizeof(log) - 1);
	close(fd);
	log[n > 0 ? n : 0] = '\0';
	assert_non_null(strstr(log, "already has a live shmqd"));
}

static int fchown_seg(shmq_bus *bus, const char *name, uid_t uid, gid_t gid)
{
	char path[300];

	snprintf(path, sizeof(path), "/dev/shm/shmq.%s.%s", shmq_bus_namespace(bus), name);
	return chown(path, uid, gid);
}

/* Another namespace's daemon, run as systemd would, then as a script would (in the background). */
static void test_ready(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char ns[32], sock[160], msg[128] = "", lock[128], pid[32] = "";
	struct timeval tv = { .tv_sec = 10 };
	shmq_bus *bus = NULL;
	int fd, st, lfd, r;
	pid_t child;
	ssize_t n;

	(void)state;
	snprintf(ns, sizeof(ns), "t%dr", (int)getpid());
	snprintf(sock, sizeof(sock), "%s/ready.sock", td.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", td.dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unlink(sa.sun_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(shmq_bus_open(ns, 0, &bus), 0);
	child = fork();
	if (child == 0) {
		setenv("NOTIFY_SOCKET", sa.sun_path, 1);
		execl(td.exe, "shmqd", "-n", ns, "-f", "-s", sock, (char *)NULL);
		_exit(127);
	}
	/* Type=notify: READY=1 comes once the socket serves, so the next request is answered. */
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	assert_true(n > 0);
	assert_non_null(strstr(msg, "READY=1"));
	setenv(SHMQ_SOCKET_ENV, sock, 1);
	r = shmq_daemon_ping(bus);
	setenv(SHMQ_SOCKET_ENV, td.sock, 1); /* whatever fails below, the other tests go on */
	assert_int_equal(r, 1);
	kill(child, SIGTERM);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
	/* Without --foreground it returns once it serves, and the lock names its pid. */
	child = fork();
	if (child == 0) {
		execl(td.exe, "shmqd", "-n", ns, "-s", sock, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	setenv(SHMQ_SOCKET_ENV, sock, 1);
	r = shmq_daemon_ping(bus);
	setenv(SHMQ_SOCKET_ENV, td.sock, 1);
	assert_int_equal(r, 1);
	snprintf(lock, sizeof(lock), "/dev/shm/shmq-daemon.%s.lock", ns);
	lfd = open(lock, O_RDONLY);
	assert_true(lfd >= 0);
	assert_true(read(lfd, pid, sizeof(pid) - 1) > 0);
	close(lfd);
	assert_int_equal(kill((pid_t)atoi(pid), SIGTERM), 0);
	WAIT_UNTIL(access(lock, F_OK) < 0);
	shmq_bus_close(bus);
}

/* Refuse io_uring_setup() with EPERM in this process, as Docker's default seccomp profile does. */
static void refuse_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		_exit(98);
}

/* Where io_uring is refused, shmqd serves on epoll and says why, in its log and its status. */
static void test_uring_refused(void **state)
{
	char ns[32], sock[160], log[160], text[8192] = "", rep[4096];
	shmq_bus *bus = NULL;
	int fd, st, r = 0, i;
	pid_t child;
	ssize_t n;

	(void)state;
	snprintf(ns, sizeof(ns), "t%du", (int)getpid());
	snprintf(sock, sizeof(sock), "%s/uring.sock", td.dir);
	snprintf(log, sizeof(log), "%s/uring.log", td.dir);
	assert_int_equal(shmq_bus_open(ns, 0, &bus), 0);
	child = fork();
	if (child == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		refuse_io_uring();
		execl(td.exe, "shmqd", "-n", ns, "-f", "-s", sock, (char *)NULL);
		_exit(127);
	}
	setenv(SHMQ_SOCKET_ENV, sock, 1);
	for (i = 0; i < 1000 && (r = shmq_daemon_ping(bus)) != 1; i++)
		usleep(10000);
	if (r == 1)
		r = shmq_daemon_request(bus, "{\"op\":\"status\"}", rep, sizeof(rep));
	setenv(SHMQ_SOCKET_ENV, td.sock, 1); /* whatever fails below, the other tests go on */
	kill(child, SIGTERM);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(r > 0);
	assert_non_null(strstr(rep, "\"loop\":\"epoll\""));
	assert_non_null(strstr(rep, "\"uring_error\":\"EPERM\""));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fd = open(log, O_RDONLY);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	assert_non_null(strstr(text, "io_uring refused (Operation not permitted)"));
	shmq_bus_close(bus);
}

/* Fork a child that drops to @uid (and @gid) and tries to subscribe; its open's result. */
static int open_as(shmq_bus *bus, uid_t uid, gid_t gid, const char *name, bool daemon)
{
	int p[2], r = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		shmq_sub *sub = NULL;

		setenv(SHMQ_DAEMON_ENV, daemon ? "required" : "off", 1);
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(99);
		r = shmq_sub_open(bus, name, 0, NULL, 0, &sub);
		if (r == -EACCES && daemon && !strstr(shmq_last_detail(), "may not open"))
			r = -EPROTO; /* refused, but not by the daemon's judgement */
		(void)!write(p[1], &r, sizeof(r));
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &r, sizeof(r)), sizeof(r));
	close(p[0]);
	waitpid(pid, NULL, 0);
	return r;
}

/* A segment file's mode bits, after checking that it belongs to this process's uid and gid. */
static int seg_owner_mode(shmq_bus *bus, const char *name)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/shmq.%s.%s", shmq_bus_namespace(bus), name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_gid, getegid());
	return (int)(st.st_mode & 07777);
}

static void test_permissions(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_topic_config priv = { .mode = 0600 }, shared = { .mode = 0660 };
	shmq_pub *a, *b;

	(void)state;
	if (geteuid() != 0)
		skip(); /* needs root, to drop to other uids */
	a = open_pub(bus, "d.private", &priv);
	b = open_pub(bus, "d.shared", &shared);
	/* the segment files carry the creator's owner and the topic's mode, for direct opens */
	assert_int_equal(seg_owner_mode(bus, "d.private"), 0600);
	assert_int_equal(seg_owner_mode(bus, "d.shared"), 0660);
	/* group 4242 owns the shared topic: its members may open it, others may not */
	assert_int_equal(fchown_seg(bus, "d.shared", 0, 4242), 0);
	assert_int_equal(open_as(bus, 65534, 65534, "d.private", true), -EACCES);
	assert_int_equal(open_as(bus, 65534, 65534, "d.private", false), -EACCES);
	assert_int_equal(open_as(bus, 65534, 4242, "d.shared", true), 0);
	assert_int_equal(open_as(bus, 65534, 4242, "d.shared", false), 0);
	assert_int_equal(open_as(bus, 65534, 65534, "d.shared", true), -EACCES);
	assert_int_equal(open_as(bus, 65534, 65534, "d.shared", false), -EACCES);
	shmq_pub_close(a);
	shmq_pub_close(b);
	shmq_bus_close(bus);
}

/* ---- a SIGKILLed client's leftovers, freed by the daemon at once ---- */

static uint64_t status_field(shmq_bus *bus, const char *field)
{
	char rep[4096], key[64], *p;

	assert_true(shmq_daemon_request(bus, "{\"op\":\"status\"}", rep, sizeof(rep)) > 0);
	snprintf(key, sizeof(key), "\"%s\":", field);
	p = strstr(rep, key);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

/* Run @fn in a child that reports readiness through a pipe, then waits to be killed. */
static pid_t child_ready(void (*fn)(shmq_bus *bus), shmq_bus *bus)
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		/* a test that fails before its kill_child() leaves no child behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(bus);
		(void)!write(p[1], "r", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/*
 * Entries with an owner, dead or alive, in a topic's subscriber (@subs) or producer table,
 * read from the table itself: what only a free by somebody changes.
 */
static int entries(shmq_bus *bus, const char *name, bool subs)
{
	struct shmqi_tmap t = { 0 };
	uint32_t i, n_max;
	int n = 0;

	assert_int_equal(shmqi_topic_map(bus, name, SHMQI_MAP_RDONLY, NULL, &t), 0);
	n_max = subs ? t.max_subs : t.max_prods;
	for (i = 0; i < n_max; i++)
		n += shmqi_head_pid(atomic_load(subs ? &t.subs[i].owner.head
						     : &t.prods[i].owner.head)) != 0;
	shmqi_seg_close(&t.seg);
	return n;
}

static const struct shmq_topic_config slow_cfg = { .slots = 64,
						   .claim_timeout_ns = 3600000000000ull };

static void claim_and_stop(shmq_bus *bus)
{
	shmq_pub *pub = NULL;
	void *buf;

	if (shmq_pub_open(bus, "d.dead.prod", 0, &slow_cfg, &pub) < 0 ||
	    shmq_pub_claim(pub, 8, &buf) < 0)
		_exit(1);
}

/*
 * A producer killed between claim and commit: its entry is freed and its record skipped
 * without waiting for the claim timeout (1 h here), so the next record reaches the subscriber.
 */
static void test_dead_producer(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *live = open_pub(bus, "d.dead.prod", &slow_cfg);
	shmq_sub *sub = open_sub(bus, "d.dead.prod", SHMQ_SUB_EARLIEST, &slow_cfg, 0);
	struct shmq_sub_msg m;
	char buf[64];
	pid_t pid;
	int r;

	(void)state;
	pid = child_ready(claim_and_stop, bus);
	assert_int_equal(topic_stats(bus, "d.dead.prod").producers, 2);
	kill_child(pid);
	/* Nobody but the daemon frees entries or skips records here since the kill (the
	 * stat's count of producers judges the dead one out before that: not a proof). */
	WAIT_UNTIL(entries(bus, "d.dead.prod", false) == 1);
	assert_true(topic_stats(bus, "d.dead.prod").skipped >= 1);
	assert_int_equal(shmq_pub_send(live, "next", 4, 7), 0);
	WAIT_UNTIL((r = shmq_sub_recv(sub, buf, sizeof(buf), &m)) != -EAGAIN);
	assert_int_equal(r, 4);
	assert_int_equal(m.corr_id, 7);
	assert_int_equal(m.seq, 2); /* record 1 was the dead claim, skipped */
	assert_true(topic_stats(bus, "d.dead.prod").skipped >= 1);
	shmq_sub_close(sub);
	shmq_pub_close(live);
	shmq_bus_close(bus);
}

static const struct shmq_group_config hold_cfg = { .ack_wait_ns = 3600000000000ull };

static void lease_and_stop(shmq_bus *bus)
{
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	char buf[64];
	int i;

	if (shmq_group_open(bus, "d.dead.grp", "work", SHMQ_OPEN_CREATE, &hold_cfg, &g) < 0)
		_exit(1);
	for (i = 0; i < 3; i++)
		if (shmq_group_recv(g, buf, sizeof(buf), &m) < 0)
			_exit(2);
}

/* A member killed holding three leases (1 h each): they come back as redeliveries at once. */
static void test_dead_member(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "d.dead.grp", NULL);
	struct shmq_group_stats gs;
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	char buf[64];
	pid_t pid;
	int i;

	(void)state;
	assert_int_equal(
		shmq_group_open(bus, "d.dead.grp", "work", SHMQ_OPEN_CREATE, &hold_cfg, &g), 0);
	shmq_group_close(g); /* a durable group, no member now */
	for (i = 0; i < 3; i++)
		assert_int_equal(shmq_pub_send(pub, "job", 3, (uint64_t)i), 0);
	pid = child_ready(lease_and_stop, bus);
	kill_child(pid);
	/* Read-only looks only: the daemon alone frees the entry and sends the leases back. */
	WAIT_UNTIL(shmq_group_stat(bus, "d.dead.grp", "work", &gs, NULL, 0) >= 0 &&
		   gs.members == 0 && gs.in_flight == 0);
	assert_int_equal(shmq_group_open(bus, "d.dead.grp", "work", 0, NULL, &g), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(shmq_group_recv(g, buf, sizeof(buf), &m), 3);
		assert_int_equal(m.attempt, 2);
		assert_int_equal(m.corr_id, (uint64_t)i);
		assert_int_equal(shmq_group_ack(g, m.lease), 0);
	}
	shmq_group_close(g);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* A clean stop (SIGTERM) removes no segment that live processes use: they go on without it. */
static void test_sigterm_keeps(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "d.term", NULL);
	shmq_sub *sub = open_sub(bus, "d.term", SHMQ_SUB_EARLIEST, NULL, 0);
	struct shmq_sub_msg m;
	char path[300], buf[16];
	int st;

	(void)state;
	st = daemon_stop(&td, SIGTERM);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(path, sizeof(path), "/dev/shm/shmq.%s.d.term", shmq_bus_namespace(bus));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(shmq_pub_send(pub, "on", 2, 3), 0);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &m), 2);
	assert_int_equal(m.corr_id, 3);
	restart();
	shmq_sub_close(sub);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* ---- a restarted daemon: deaths while it was down, members it adopts from the segments ---- */

static void hold_down(shmq_bus *bus)
{
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	shmq_sub *sub = NULL;
	char buf[64];
	int i;

	if (shmq_sub_open(bus, "d.down", 0, NULL, 0, &sub) < 0 ||
	    shmq_group_open(bus, "d.down", "work", 0, NULL, &g) < 0)
		_exit(1);
	for (i = 0; i < 2; i++)
		if (shmq_group_recv(g, buf, sizeof(buf), &m) < 0)
			_exit(2);
}

/* A durable group on @topic whose leases last an hour, and @n jobs for it. */
static shmq_pub *jobs_for(shmq_bus *bus, const char *topic, int n)
{
	shmq_pub *pub = open_pub(bus, topic, NULL);
	shmq_group *g = NULL;
	int i;

	assert_int_equal(shmq_group_open(bus, topic, "work", SHMQ_OPEN_CREATE, &hold_cfg, &g), 0);
	shmq_group_close(g);
	for (i = 0; i < n; i++)
		assert_int_equal(shmq_pub_send(pub, "job", 3, (uint64_t)i), 0);
	return pub;
}

/* Its group's leases all back and no member left: what only a reap changes (stat only looks). */
static bool group_idle(shmq_bus *bus, const char *topic)
{
	struct shmq_group_stats gs;

	return shmq_group_stat(bus, topic, "work", &gs, NULL, 0) >= 0 && gs.members == 0 &&
	       gs.in_flight == 0;
}

/*
 * A subscriber and member that dies while shmqd is down (SIGKILLed): the restarted daemon
 * frees its entry and sends its leases back, although it never saw it die.
 */
static void test_died_while_down(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = jobs_for(bus, "d.down", 2);
	pid_t pid;
	int st;

	(void)state;
	pid = child_ready(hold_down, bus);
	assert_int_equal(entries(bus, "d.down", true), 1);
	st = daemon_stop(&td, SIGKILL);
	assert_true(WIFSIGNALED(st));
	kill_child(pid);
	assert_int_equal(entries(bus, "d.down", true), 1); /* nobody freed it meanwhile */
	assert_false(group_idle(bus, "d.down"));
	restart();
	WAIT_UNTIL(entries(bus, "d.down", true) == 0 && group_idle(bus, "d.down"));
	assert_true(status_field(bus, "freed") >= 2);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void lease_one(shmq_bus *bus)
{
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	char buf[64];

	if (shmq_group_open(bus, "d.adopt", "work", 0, NULL, &g) < 0 ||
	    shmq_group_recv(g, buf, sizeof(buf), &m) < 0)
		_exit(1);
}

/* Whether the daemon watches process @pid (its "clients" reply lists it). */
static bool watched(shmq_bus *bus, pid_t pid)
{
	char rep[65536], key[48];

	assert_true(shmq_daemon_request(bus, "{\"op\":\"clients\"}", rep, sizeof(rep)) > 0);
	snprintf(key, sizeof(key), "{\"pid\":%d,", (int)pid);
	return strstr(rep, key) != NULL;
}

/*
 * A group member (no topic entry of its own) that lives on across a SIGKILL of shmqd: the
 * restarted daemon, without its state file, finds it in the group's member table and
 * watches it again, so that its death is seen through its pidfd, not at a later sweep.
 */
static void test_member_readopted(void **state)
{
	char path[200];
	shmq_bus *bus = test_bus();
	shmq_pub *pub = jobs_for(bus, "d.adopt", 1);
	uint64_t deaths;
	pid_t pid;
	int st;

	(void)state;
	pid = child_ready(lease_one, bus);
	st = daemon_stop(&td, SIGKILL);
	assert_true(WIFSIGNALED(st));
	snprintf(path, sizeof(path), "%s/t%d.state", td.dir, (int)getpid());
	unlink(path); /* the segments alone must tell */
	restart();
	WAIT_UNTIL(watched(bus, pid));
	deaths = status_field(bus, "deaths");
	kill_child(pid);
	WAIT_UNTIL(status_field(bus, "deaths") > deaths);
	WAIT_UNTIL(group_idle(bus, "d.adopt"));
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void produce_adopted(shmq_bus *bus)
{
	shmq_channel *ch = NULL;

	if (shmq_channel_open(bus, "d.adopt.chan", SHMQ_OPEN_PRODUCER, NULL, &ch) < 0 ||
	    shmq_channel_send(ch, "one", 3) < 0)
		_exit(1);
}

/* The same for a channel's producer: re-adopted from the channel's roles, then its death ends
 * the consumer's wait with -EPIPE (an hour's timeout: only the daemon's reap can). */
static void test_channel_readopted(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_msg_info info;
	shmq_channel *rx = NULL;
	char path[200], buf[16];
	uint64_t deaths;
	pid_t pid;
	int st, r;

	(void)state;
	assert_int_equal(shmq_channel_open(bus, "d.adopt.chan",
					   SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &rx),
			 0);
	pid = child_ready(produce_adopted, bus);
	st = daemon_stop(&td, SIGKILL);
	assert_true(WIFSIGNALED(st));
	snprintf(path, sizeof(path), "%s/t%d.state", td.dir, (int)getpid());
	unlink(path);
	restart();
	WAIT_UNTIL(watched(bus, pid));
	deaths = status_field(bus, "deaths");
	kill_child(pid);
	WAIT_UNTIL(status_field(bus, "deaths") > deaths);
	assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), &info), 3);
	do
		r = shmq_channel_wait(rx, 0, 3600000000000ull);
	while (r == 0 && shmq_channel_recv(rx, buf, sizeof(buf), &info) == -EAGAIN);
	assert_int_equal(r, -EPIPE);
	shmq_channel_close(rx);
	shmq_bus_close(bus);
}

/* ---- shmqd SIGKILLed again and again under a stream: nothing lost, nothing stops ---- */

#define KILLS 20
static const struct shmq_topic_config stream_cfg = { .slots = 256 };
static _Atomic int *kills_done; /* shared with the children: the parent stopped killing */

/* At least this many records, and on until the killing is over. */
static uint64_t stream_min(void)
{
	const char *s = getenv("SHMQ_STRESS_SCALE");
	uint64_t pct = s ? strtoull(s, NULL, 10) : 100;

	return (pct ? pct : 100) * 1000;
}

struct stream_result {
	uint64_t count, bad, pings;
};

/*
 * The producer: records 0, 1, 2 ... (a short pause every 64, so that the stream spans the
 * kills), then UINT64_MAX to end it; it pings the daemon every 1,000 records.
 */
static void stream_producer(shmq_bus *bus, int out)
{
	struct stream_result res = { 0 };
	shmq_pub *pub = NULL;
	uint64_t i, end = UINT64_MAX;
	int r;

	if (shmq_pub_open(bus, "d.stream", 0, &stream_cfg, &pub) < 0)
		_exit(1);
	(void)!write(out, "r", 1);
	for (i = 0; i < stream_min() || !atomic_load(kills_done); i++) {
		while ((r = shmq_pub_send(pub, &i, sizeof(i), i)) == -EAGAIN)
			shmq_pub_wait(pub, 0, 100000000ull);
		if (r < 0)
			_exit(2);
		if (i % 64 == 0)
			usleep(100);
		if (i % 1000 == 0 && shmq_daemon_ping(bus) == 1)
			res.pings++;
	}
	while (shmq_pub_send(pub, &end, sizeof(end), end) == -EAGAIN)
		shmq_pub_wait(pub, 0, 100000000ull);
	res.count = i;
	(void)!write(out, &res, sizeof(res));
	shmq_pub_close(pub);
	_exit(0);
}

/* Check one received record against the next expected value; false at the end marker. */
static bool stream_check(struct stream_result *res, int r, uint64_t v, uint64_t corr)
{
	if (r == sizeof(v) && v == UINT64_MAX)
		return false;
	if (r != sizeof(v) || v != res->count || corr != res->count) {
		if (!res->bad)
			fprintf(stderr, "record %llu: r %d value %llu\n",
				(unsigned long long)res->count, r, (unsigned long long)v);
		res->bad++;
	}
	res->count++;
	return true;
}

/* A group member: every record exactly once and in order (one member, no failure), acked. */
static void stream_member(shmq_bus *bus, int out)
{
	struct stream_result res = { 0 };
	struct shmq_group_msg m;
	shmq_group *g = NULL;
	uint64_t v = 0;
	int r;

	if (shmq_group_open(bus, "d.stream", "g", 0, NULL, &g) < 0)
		_exit(1);
	(void)!write(out, "r", 1);
	for (;;) {
		r = shmq_group_recv(g, &v, sizeof(v), &m);
		if (r == -EAGAIN) {
			shmq_group_wait(g, 0, 100000000ull);
			continue;
		}
		if (r >= 0)
			shmq_group_ack(g, m.lease);
		if (!stream_check(&res, r, v, m.corr_id))
			break;
	}
	(void)!write(out, &res, sizeof(res));
	shmq_group_close(g);
	_exit(0);
}

/* A subscriber: every record, consecutive sequence numbers, nothing lost. */
static void stream_sub(shmq_bus *bus, int out)
{
	struct stream_result res = { 0 };
	struct shmq_sub_msg m;
	shmq_sub *sub = NULL;
	uint64_t v = 0, first = 0;
	int r;

	if (shmq_sub_open(bus, "d.stream", SHMQ_SUB_EARLIEST, NULL, 0, &sub) < 0)
		_exit(1);
	(void)!write(out, "r", 1);
	for (;;) {
		r = shmq_sub_recv(sub, &v, sizeof(v), &m);
		if (r == -EAGAIN) {
			shmq_sub_wait(sub, 0, 100000000ull);
			continue;
		}
		if (!res.count)
			first = m.seq;
		if (r >= 0 && (m.seq != first + res.count || m.lost))
			res.bad++;
		if (!stream_check(&res, r, v, m.corr_id))
			break;
	}
	(void)!write(out, &res, sizeof(res));
	shmq_sub_close(sub);
	_exit(0);
}

/*
 * Start a stream child and wait until it is attached (it writes one byte), so that the
 * subscriber and the member are there before the first record and the kills. The children
 * use the daemon when it answers (auto mode): one killed at the moment of an open is not
 * what this test is about.
 */
static pid_t spawn(void (*fn)(shmq_bus *, int), shmq_bus *bus, int *ret_fd)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		setenv(SHMQ_DAEMON_ENV, "auto", 1);
		fn(bus, p[1]);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	*ret_fd = p[0];
	return pid;
}

static struct stream_result result_of(pid_t pid, int fd)
{
	struct stream_result v = { UINT64_MAX, UINT64_MAX, 0 };
	int st;

	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	close(fd);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return v;
}

static void test_daemon_killed(void **state)
{
	shmq_bus *bus = test_bus();
	struct stream_result p, m, u;
	shmq_group *g = NULL;
	pid_t prod, member, sub;
	int fp, fm, fs, k, st;
	char rep[4096];

	(void)state;
	kills_done = mmap(NULL, sizeof(*kills_done), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(kills_done != MAP_FAILED);
	shmq_pub_close(open_pub(bus, "d.stream", &stream_cfg));
	assert_int_equal(shmq_group_open(bus, "d.stream", "g", SHMQ_OPEN_CREATE, NULL, &g), 0);
	shmq_group_close(g);
	member = spawn(stream_member, bus, &fm);
	sub = spawn(stream_sub, bus, &fs);
	prod = spawn(stream_producer, bus, &fp);
	srand((unsigned)getpid());
	for (k = 0; k < KILLS; k++) {
		usleep(20000 + (useconds_t)(rand() % 60000));
		st = daemon_stop(&td, SIGKILL);
		assert_true(WIFSIGNALED(st));
		daemon_start(&td, NULL);
	}
	atomic_store(kills_done, 1);
	setenv(SHMQ_DAEMON_ENV, "required", 1);
	p = result_of(prod, fp);
	m = result_of(member, fm);
	u = result_of(sub, fs);
	print_message("%llu records, %d daemon kills, %llu of the producer's pings answered\n",
		      (unsigned long long)p.count, KILLS, (unsigned long long)p.pings);
	assert_int_equal(m.count, p.count);
	assert_int_equal(m.bad, 0);
	assert_int_equal(u.count, p.count);
	assert_int_equal(u.bad, 0);
	assert_true(p.pings > 0);
	/* The registry comes back from the segments. */
	assert_true(shmq_daemon_request(bus, "{\"op\":\"list\"}", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "\"name\":\"d.stream\""));
	assert_non_null(strstr(rep, "\"name\":\"d.stream@g\""));
	munmap(kills_done, sizeof(*kills_done));
	shmq_bus_close(bus);
}

static void subscribe_and_stop(shmq_bus *bus)
{
	shmq_sub *sub = NULL;

	if (shmq_sub_open(bus, "d.dead.sub", 0, NULL, 0, &sub) < 0)
		_exit(1);
}

/* A subscriber killed without reading: its entry goes, and it holds the producer back no more. */
static void test_dead_subscriber(void **state)
{
	struct shmq_topic_config cfg = { .slots = 4 };
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "d.dead.sub", &cfg);
	pid_t pid;
	int i;

	(void)state;
	pid = child_ready(subscribe_and_stop, bus);
	for (i = 0; i < 4; i++)
		assert_int_equal(shmq_pub_send(pub, "x", 1, (uint64_t)i), 0);
	assert_int_equal(shmq_pub_send(pub, "x", 1, 4), -EAGAIN); /* held back by it */
	kill_child(pid);
	/* Freed by the daemon, not judged out (as a stat counts it) nor taken by the producer's
	 * own look when full: nobody else touches the table since the kill. */
	WAIT_UNTIL(entries(bus, "d.dead.sub", true) == 0);
	assert_true(status_field(bus, "deaths") > 0 && status_field(bus, "freed") > 0);
	assert_int_equal(shmq_pub_send(pub, "x", 1, 4), 0);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void produce_and_stop(shmq_bus *bus)
{
	shmq_channel *ch = NULL;

	if (shmq_channel_open(bus, "d.dead.chan", SHMQ_OPEN_PRODUCER, NULL, &ch) < 0 ||
	    shmq_channel_send(ch, "last", 4) < 0)
		_exit(1);
}

/* A channel's producer killed: its consumer, parked, reads what it sent, then gets -EPIPE. */
static void test_dead_channel_producer(void **state)
{
	shmq_bus *bus = test_bus();
	struct shmq_msg_info info;
	shmq_channel *rx = NULL;
	char buf[16];
	pid_t pid;
	int r;

	(void)state;
	assert_int_equal(shmq_channel_open(bus, "d.dead.chan",
					   SHMQ_OPEN_CREATE | SHMQ_OPEN_CONSUMER, NULL, &rx),
			 0);
	pid = child_ready(produce_and_stop, bus);
	kill_child(pid);
	assert_int_equal(shmq_channel_recv(rx, buf, sizeof(buf), &info), 4);
	/* An hour's timeout: only the dead producer's reaped role can end this wait. */
	do
		r = shmq_channel_wait(rx, 0, 3600000000000ull);
	while (r == 0 && shmq_channel_recv(rx, buf, sizeof(buf), &info) == -EAGAIN);
	assert_int_equal(r, -EPIPE);
	shmq_channel_close(rx);
	shmq_bus_close(bus);
}

static void publish_first(shmq_bus *bus)
{
	shmq_pub *pub = NULL;

	if (shmq_pub_open(bus, "d.wild.eu", SHMQ_OPEN_CREATE, NULL, &pub) < 0 ||
	    shmq_pub_send(pub, "first", 5, 1) < 0)
		_exit(1);
	shmq_pub_close(pub);
}

/*
 * A pattern subscriber opened before its topic exists gets the topic's first record; with
 * the daemon, it holds a watch on it (the daemon tells it of the topic once it is published).
 */
static void test_pattern_before_topic(void **state)
{
	shmq_bus *bus = test_bus();
	char buf[64], topic[SHMQ_NAME_MAX + 1], rep[4096];
	struct shmq_sub_msg m;
	shmq_psub *ps = NULL;
	pid_t pid;
	int r;

	(void)state;
	assert_int_equal(shmq_psub_open(bus, "d.wild.*", SHMQ_SUB_LATEST, NULL, &ps), 0);
	assert_true(shmq_daemon_request(bus, "{\"op\":\"clients\"}", rep, sizeof(rep)) > 0);
	assert_non_null(strstr(rep, "\"watches\":1"));
	pid = fork();
	if (pid == 0) {
		publish_first(bus);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	do
		r = shmq_psub_recv(ps, buf, sizeof(buf), &m, topic, sizeof(topic));
	while (r == -EAGAIN && shmq_psub_wait(ps, 0, 10000000000ull) == 0);
	assert_int_equal(r, 5);
	assert_string_equal(topic, "d.wild.eu");
	assert_int_equal(m.corr_id, 1);
	shmq_psub_close(ps);
	shmq_bus_close(bus);
}

static void join_ephemeral(shmq_bus *bus)
{
	struct shmq_group_config cfg = { .flags = SHMQ_GROUP_EPHEMERAL };
	shmq_group *g = NULL;

	if (shmq_group_open(bus, "d.eph", "tmp", SHMQ_OPEN_CREATE, &cfg, &g) < 0)
		_exit(1);
}

/* An ephemeral group whose only member is killed is removed by the daemon. */
static void test_dead_ephemeral(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "d.eph", NULL);
	struct shmq_group_stats gs;
	pid_t pid;

	(void)state;
	pid = child_ready(join_ephemeral, bus);
	assert_true(shmq_group_stat(bus, "d.eph", "tmp", &gs, NULL, 0) >= 0);
	assert_int_equal(gs.members, 1);
	kill_child(pid);
	WAIT_UNTIL(shmq_group_stat(bus, "d.eph", "tmp", &gs, NULL, 0) == -ENOENT);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

/* A durable group idle past its inactive threshold goes at shmqd's sweep (2 s), unasked. */
static void test_inactive_swept(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_pub *pub = open_pub(bus, "d.idle", NULL);
	struct shmq_group_stats gs;
	shmq_group *g = NULL;

	(void)state;
	assert_int_equal(shmq_group_open(bus, "d.idle", "old", SHMQ_OPEN_CREATE, NULL, &g), 0);
	shmq_group_close(g);
	assert_int_equal(shmq_group_set_inactive(bus, "d.idle", "old", 1000000), 0);
	/* Only looks from here on (a stat deletes nothing): the daemon's sweep does it. */
	WAIT_UNTIL(shmq_group_stat(bus, "d.idle", "old", &gs, NULL, 0) == -ENOENT);
	assert_int_equal(shmq_topic_groups(bus, "d.idle", NULL, 0), 0);
	shmq_pub_close(pub);
	shmq_bus_close(bus);
}

static void request_and_stop(shmq_bus *bus)
{
	shmq_req *rq = NULL;
	uint64_t id;

	if (shmq_req_open(bus, "d.svc", 0, &rq) < 0 ||
	    shmq_req_send(rq, "q", 1, 60000000000ull, &id) < 0)
		_exit(1); /* its inbox is made, and never removed by it */
}

/* A requester killed: shmqd removes its inbox at once (no other requester needed). */
static void test_dead_requester(void **state)
{
	shmq_bus *bus = test_bus();
	shmq_rep *rp = NULL;
	pid_t pid;

	(void)state;
	assert_int_equal(shmq_rep_open(bus, "d.svc", SHMQ_OPEN_CREATE, NULL, &rp), 0);
	pid = child_ready(request_and_stop, bus);
	assert_int_equal(test_inboxes(bus), 1);
	kill_child(pid);
	WAIT_UNTIL(test_inboxes(bus) == 0);
	shmq_rep_close(rp);
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest killed[] = {
		cmocka_unit_test(test_daemon_killed),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_open_lists),
		cmocka_unit_test(test_declared_config),
		cmocka_unit_test(test_required_without_daemon),
		cmocka_unit_test(test_second_daemon_refuses),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_uring_refused),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_dead_producer),
		cmocka_unit_test(test_dead_member),
		cmocka_unit_test(test_sigterm_keeps),
		cmocka_unit_test(test_died_while_down),
		cmocka_unit_test(test_member_readopted),
		cmocka_unit_test(test_channel_readopted),
		cmocka_unit_test(test_dead_ephemeral),
		cmocka_unit_test(test_inactive_swept),
		cmocka_unit_test(test_pattern_before_topic),
		cmocka_unit_test(test_dead_subscriber),
		cmocka_unit_test(test_dead_channel_producer),
		cmocka_unit_test(test_dead_requester),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test_daemon PATH-OF-SHMQD [--killed]\n");
		return 2;
	}
	td.exe = argv[1];
	if (argc > 2 && !strcmp(argv[2], "--killed"))
		return cmocka_run_group_tests(killed, setup, teardown);
	return cmocka_run_group_tests(tests, setup, teardown);
}
