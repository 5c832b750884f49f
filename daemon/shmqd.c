// SPDX-License-Identifier: MIT
/*
 * shmqd.c - the registry daemon of one namespace: options and config file, the lock that
 * makes it the only one, its socket, signals, timers and the watch on /dev/shm, all on one
 * event loop (loop.c). The data plane never waits for it; see docs/protocol.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "internal.h"
#include "registry.h"
#include "shmqd.h"

struct opts {
	const char *ns, *socket, *state_dir, *config, *loop, *metrics;
	bool foreground, verbose, metrics_any;
};

static bool foreground = true;

void logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("shmqd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shmqd [-n NS] [--socket PATH] [--state-dir DIR] [--config FILE]\n"
		"             [--loop io_uring|epoll] [--metrics ADDR:PORT [--metrics-any]]\n"
		"             [--foreground] [-v] [-h] [-V]\n"
		"The registry daemon of one shmq namespace (see shmqd(8)).\n"
		"  -n, --namespace NS  the namespace (default $SHMQ_NAMESPACE, else default)\n"
		"  -s, --socket PATH   where to listen (default: shmq_daemon_socket())\n"
		"  -d, --state-dir DIR where the state file and the lock go (default: the\n"
		"                      socket's directory)\n"
		"  -c, --config FILE   options and declared topics (see shmqd.conf(5))\n"
		"      --loop KIND     io_uring (the default where the kernel allows) or epoll\n"
		"      --metrics ADDR:PORT\n"
		"                      serve GET /metrics (Prometheus) there; a loopback address\n"
		"                      (127.0.0.1:9464, [::1]:9464) unless --metrics-any\n"
		"      --metrics-any   let --metrics bind an address other than loopback\n"
		"  -f, --foreground    stay in the foreground (systemd: Type=notify)\n"
		"  -v, --verbose       log every death and every refusal\n");
}

/* ---- the config file: "key = value" lines, and "topic NAME key=value ..." ---- */

/* A number of at most @max (any base strtoull() takes); false if it is not one. */
static bool number(const char *s, int base, unsigned long long max, unsigned long long *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, base);
	return *s && *s != '-' && !*end && !errno && *ret <= max;
}

static bool topic_field(struct shmq_topic_config *cfg, const char *key, const char *val)
{
	unsigned long long v;

	if (!strcmp(key, "policy")) {
		cfg->policy = !strcmp(val, "lossy") ? SHMQ_TOPIC_LOSSY : SHMQ_TOPIC_RELIABLE;
		return !strcmp(val, "lossy") || !strcmp(val, "reliable");
	}
	if (!strcmp(key, "mode"))
		return number(val, 8, 0777, &v) && (cfg->mode = (uint32_t)v, true);
	if (!strcmp(key, "claim_timeout_ms"))
		return number(val, 0, 3600000, &v) &&
		       (cfg->claim_timeout_ns = v * 1000000ull, true);
	if (!number(val, 0, UINT32_MAX, &v))
		return false;
	if (!strcmp(key, "slots"))
		cfg->slots = (uint32_t)v;
	else if (!strcmp(key, "max_msg"))
		cfg->max_msg = (uint32_t)v;
	else if (!strcmp(key, "max_subscribers"))
		cfg->max_subscribers = (uint32_t)v;
	else if (!strcmp(key, "max_producers"))
		cfg->max_producers = (uint32_t)v;
	else
		return false;
	return true;
}

static int topic_line(struct daemon *d, char *rest, const char *file, int line)
{
	struct shmq_topic_config cfg = { 0 };
	char *name = strtok(rest, " \t\n"), *kv, *eq;

	if (!name || !shmqi_valid_name(name))
		goto bad;
	while ((kv = strtok(NULL, " \t\n"))) {
		eq = strchr(kv, '=');
		if (!eq)
			goto bad;
		*eq++ = '\0';
		if (!topic_field(&cfg, kv, eq))
			goto bad;
	}
	return decl_set(d, name, &cfg);
bad:
	logmsg("%s:%d: bad topic line (topic NAME [slots=N] [max_msg=N] [policy=reliable|lossy] "
	       "[mode=0NNN] [max_subscribers=N] [max_producers=N] [claim_timeout_ms=N])",
	       file, line);
	return -EINVAL;
}

/* The options a config file may set, each unless the command line set it first. */
static int opt_line(struct opts *o, char *key, char *val)
{
	const char **slot = !strcmp(key, "namespace")	? &o->ns
			    : !strcmp(key, "socket")	? &o->socket
			    : !strcmp(key, "state-dir") ? &o->state_dir
			    : !strcmp(key, "loop")	? &o->loop
			    : !strcmp(key, "metrics")	? &o->metrics
							: NULL;

	if (!strcmp(key, "metrics-any")) {
		if (strcmp(val, "true") && strcmp(val, "false"))
			return -EINVAL;
		o->metrics_any |= !strcmp(val, "true");
		return 0;
	}
	if (!slot)
		return -EINVAL;
	if (!*slot)
		*slot = strdup(val);
	return 0;
}

struct config_ctx {
	struct daemon *d;
	struct opts *o;
};

static int config_line(void *arg, char *s, const char *path, int line)
{
	struct config_ctx *c = arg;
	char *key, *val;

	if (!strncmp(s, "topic ", 6) || !strncmp(s, "topic\t", 6))
		return topic_line(c->d, s + 6, path, line);
	if (conf_split(s, &key, &val) < 0 || opt_line(c->o, key, val) < 0) {
		logmsg("%s:%d: unknown line (namespace, socket, state-dir, loop, metrics = "
		       "VALUE; metrics-any = true|false; topic NAME ...)",
		       path, line);
		return -EINVAL;
	}
	return 0;
}

static int read_config(struct daemon *d, struct opts *o)
{
	struct config_ctx c = { d, o };
	int line, r = conf_read(o->config, config_line, &c, &line);

	if (r == -E2BIG)
		logmsg("%s:%d: a line longer than 1023 bytes", o->config, line);
	else if (r < 0 && !line)
		logmsg("config %s: %s", o->config, strerror(-r));
	return r;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "loop", required_argument, NULL, 'L' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "metrics-any", no_argument, NULL, 'A' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:s:d:c:fvhV", longs, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->ns = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			o->state_dir = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'L':
			o->loop = optarg;
			break;
		case 'M':
			o->metrics = optarg;
			break;
		case 'A':
			o->metrics_any = true;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("shmqd %s\n", shmq_version());
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* ---- the lock, the paths ---- */

/* One daemon per namespace: a lock in /dev/shm, beside the namespace's segments. */
/*
 * Is the lock we hold on @fd still the one at the path? A daemon that exits unlinks the lock
 * file before it closes it: one that opened the old file before the unlink and locked it
 * after the close holds a lock on a file nobody else sees, while a third daemon makes a new
 * file and locks that. So a lock counts only while the path names the file locked.
 */
static bool lock_current(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int take_lock(struct daemon *d)
{
	char pid[32] = "";
	ssize_t n;
	int fd, tries = 0;

	snprintf(d->lock_path, sizeof(d->lock_path), SHMQI_SHM_DIR "/shmq-daemon.%s.lock", d->ns);
again:
	fd = open(d->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		logmsg("lock %s: %s", d->lock_path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		logmsg("namespace '%s' already has a live shmqd (pid %s, lock %s)", d->ns,
		       pid[0] ? conf_trim(pid) : "?", d->lock_path);
		close(fd);
		return -EBUSY;
	}
	if (!lock_current(fd, d->lock_path)) {
		close(fd); /* a file its daemon unlinked as it exited: take the path's again */
		if (++tries < 100)
			goto again;
		logmsg("lock %s: the file keeps changing under us", d->lock_path);
		return -EBUSY;
	}
	d->lock_fd = fd;
	return 0;
}

/* The lock names the daemon's pid (after background() forked: the serving process's). */
static void record_pid(struct daemon *d)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (ftruncate(d->lock_fd, 0) < 0 || pwrite(d->lock_fd, pid, (size_t)n, 0) != n)
		logmsg("lock %s: cannot record our pid", d->lock_path);
}

static int set_paths(struct daemon *d, const struct opts *o)
{
	char dir[3000], *slash;
	int r;

	if (o->socket) {
		if (strlen(o->socket) >= sizeof(d->sock_path))
			return -ENAMETOOLONG;
		strcpy(d->sock_path, o->socket);
	} else {
		r = shmq_daemon_socket(d->ns, d->sock_path, sizeof(d->sock_path));
		if (r < 0)
			return r;
	}
	snprintf(dir, sizeof(dir), "%s", o->state_dir ? o->state_dir : d->sock_path);
	if (!o->state_dir && (slash = strrchr(dir, '/')))
		*slash = '\0';
	if (strlen(dir) + strlen(d->ns) + 8 > sizeof(d->state_path))
		return -ENAMETOOLONG;
	snprintf(d->state_path, sizeof(d->state_path), "%s/%.64s.state", dir, d->ns);
	r = conf_mkdirs(d->sock_path);
	if (r == 0)
		r = conf_mkdirs(d->state_path);
	return r;
}

/* ---- signals, timers, /dev/shm ---- */

static struct daemon *the_daemon;

static void on_signal(struct loop *l, struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)l;
	(void)events;
	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		logmsg("SIGHUP: nothing to reload; send SIGTERM to stop");
		return;
	}
	logmsg("signal %d: stopping (no segment is removed)", (int)si.ssi_signo);
	the_daemon->stop = true;
}

static void on_timer(struct loop *l, struct watch *w, uint32_t events)
{
	struct daemon *d = the_daemon;
	uint64_t ticks;

	(void)l;
	(void)events;
	if (read(w->fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	procs_sweep(d, true);
	http_tick(d);
	if (d->state_dirty)
		state_save(d);
}

static void on_shm(struct loop *l, struct watch *w, uint32_t events)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	char prefix[SHMQ_NAMESPACE_MAX + 8];
	ssize_t n;
	size_t plen;

	(void)l;
	(void)events;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "shmq.%s.", the_daemon->ns);
	n = read(w->fd, buf, sizeof(buf));
	for (char *p = buf; n > 0 && p < buf + n; p += sizeof(*ev) + ev->len) {
		ev = (const struct inotify_event *)p;
		if (!ev->len || strncmp(ev->name, prefix, plen) || strchr(ev->name, '@'))
			continue;
		server_notify(the_daemon, ev->name + plen, !(ev->mask & IN_DELETE));
	}
}

static int add_fd_watch(struct daemon *d, struct watch *w, int fd, watch_fn fn)
{
	if (fd < 0)
		return -errno;
	*w = (struct watch){ .fd = fd, .fn = fn };
	return loop_add(&d->loop, w);
}

static int watch_events(struct daemon *d)
{
	struct itimerspec its = { .it_interval = { .tv_nsec = SWEEP_MS % 1000 * 1000000L,
						   .tv_sec = SWEEP_MS / 1000 } };
	sigset_t set;
	int fd, r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = add_fd_watch(d, &d->signal_w, signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK),
			 on_signal);
	its.it_value = its.it_interval;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (r == 0 && fd >= 0 && timerfd_settime(fd, 0, &its, NULL) < 0)
		r = -errno;
	if (r == 0)
		r = add_fd_watch(d, &d->timer_w, fd, on_timer);
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (r == 0 && fd >= 0 &&
	    inotify_add_watch(fd, "/dev/shm", IN_CREATE | IN_DELETE | IN_MOVED_TO) < 0)
		r = -errno;
	if (r == 0)
		r = add_fd_watch(d, &d->inotify_w, fd, on_shm);
	return r;
}

/* ---- readiness: systemd's notify socket, or the parent waiting in the foreground ---- */

static void sd_notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[64];
	socklen_t len;
	int fd, n;

	if (!path || !path[0] || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract address */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	n = snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d", (int)getpid());
	if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		logmsg("NOTIFY_SOCKET %s: %s", path, strerror(errno));
	close(fd);
}

/* Without --foreground: the parent returns once the child serves (exit 0) or fails (1). */
static int background(int *ret_ready_fd)
{
	int p[2], fd;
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
	}
	*ret_ready_fd = p[1];
	return 0;
}

static int serve(struct daemon *d, const struct opts *o, int ready_fd)
{
	int r;

	r = state_load(d);
	if (r < 0)
		logmsg("state file %s unreadable (%s): starting afresh", d->state_path,
		       strerror(-r));
	r = (int)procs_sweep(d, true);
	if (r)
		logmsg("%d entries of processes that died meanwhile freed", r);
	r = server_listen(d);
	if (r < 0) {
		logmsg("listen on %s: %s", d->sock_path, strerror(-r));
		return r;
	}
	r = watch_events(d);
	if (r < 0)
		return r;
	if (o->metrics && (r = http_start(d, o->metrics, o->metrics_any)) < 0)
		return r;
	if (d->loop.uring_err)
		logmsg("io_uring refused (%s): the event loop is epoll",
		       strerror(-d->loop.uring_err));
	logmsg("namespace '%s' on %s (loop %s, %d processes watched)", d->ns, d->sock_path,
	       loop_backend(&d->loop), d->nprocs);
	sd_notify_ready();
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "1", 1);
		close(ready_fd);
	}
	while (!d->stop) {
		r = loop_once(&d->loop, -1);
		if (r < 0) {
			logmsg("event loop: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct daemon d = { .lock_fd = -1 };
	static struct opts o; /* its strings from the config file live as long as the process */
	int r, ready_fd = -1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	the_daemon = &d;
	d.verbose = o.verbose;
	if (o.config && read_config(&d, &o) < 0)
		return 1;
	if (o.metrics && http_check(o.metrics, o.metrics_any, &(struct sockaddr_storage){ 0 }) < 0)
		return 2;
	/* The library this daemon calls must never ask the daemon: itself. */
	setenv(SHMQ_DAEMON_ENV, "off", 1);
	r = shmq_bus_open(o.ns, 0, &d.bus);
	if (r < 0) {
		logmsg("namespace: %s (%s)", shmq_strerror(r), shmq_last_detail());
		return 2;
	}
	d.ns = shmq_bus_namespace(d.bus);
	r = set_paths(&d, &o);
	if (r < 0) {
		logmsg("paths for '%s': %s", d.ns, strerror(-r));
		return 1;
	}
	if (take_lock(&d) < 0)
		return 1;
	foreground = o.foreground;
	if (!foreground && background(&ready_fd) < 0)
		return 1;
	record_pid(&d);
	if (o.loop && strcmp(o.loop, "io_uring") && strcmp(o.loop, "epoll")) {
		logmsg("--loop %s: io_uring or epoll", o.loop);
		return 2;
	}
	r = loop_init(&d.loop, o.loop && !strcmp(o.loop, "epoll"));
	if (r < 0) {
		logmsg("event loop: %s", strerror(-r));
		return 1;
	}
	d.started_ns = shmq_now_ns();
	r = serve(&d, &o, ready_fd);
	http_stop(&d);
	state_save(&d);
	server_close(&d);
	procs_close(&d);
	loop_fini(&d.loop);
	unlink(d.lock_path);
	close(d.lock_fd);
	shmq_bus_close(d.bus);
	return r < 0 ? 1 : 0;
}
