// SPDX-License-Identifier: MIT
/* cmd_doctor.c - shmq doctor: checks of the host and the namespaces, each OK, WARN or FAIL. */
#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"

static void doctor_usage(FILE *f)
{
	fprintf(f,
		"usage: %s doctor [-h] [-n NS]\n"
		"Check the host and the bus: the daemon answers, /dev/shm is a tmpfs with room,\n"
		"io_uring and pidfd_open are there, no segment's creator is dead, every segment\n"
		"can be read. One line a check: OK, WARN (works, less well) or FAIL. Looks at\n"
		"namespace NS, or at every namespace in /dev/shm without -n. Exit status 1 when a\n"
		"check fails.\n"
		"options:\n" CLI_COMMON_HELP,
		PROG);
}

enum { OK, WARN, FAIL };

/* One line of the report; the worst level so far is kept in *@worst. */
static void say(int *worst, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(int *worst, int level, const char *fmt, ...)
{
	static const char *const names[] = { "OK  ", "WARN", "FAIL" };
	va_list ap;

	*worst = level > *worst ? level : *worst;
	printf("%s  ", names[level]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void check_shm(int *worst)
{
	struct statfs fs;
	double size, avail;

	if (statfs("/dev/shm", &fs) < 0) {
		say(worst, FAIL, "/dev/shm: %s", strerror(errno));
		return;
	}
	if (fs.f_type != TMPFS_MAGIC) {
		say(worst, FAIL, "/dev/shm: not a tmpfs (type 0x%lx)", (unsigned long)fs.f_type);
		return;
	}
	size = (double)fs.f_blocks * (double)fs.f_bsize;
	avail = (double)fs.f_bavail * (double)fs.f_bsize;
	say(worst, avail < size / 10 ? WARN : OK, "/dev/shm: tmpfs, %.1f MiB, %.1f MiB free",
	    size / 1048576, avail / 1048576);
}

static void check_kernel(int *worst)
{
	const char *wake = shmq_wake_backend();
	long fd = syscall(SYS_pidfd_open, (long)getpid(), 0L);

	if (strcmp(wake, "io_uring") == 0)
		say(worst, OK, "io_uring: parked waiters sleep through io_uring");
	else
		say(worst, WARN, "io_uring: not available, waiters use the futex syscall");
	if (fd >= 0) {
		close((int)fd);
		say(worst, OK, "pidfd_open: available");
	} else {
		say(worst, WARN, "pidfd_open: %s (deaths are noticed by polling)", strerror(errno));
	}
}

static void check_daemon(int *worst, shmq_bus *bus)
{
	const char *mode = getenv(SHMQ_DAEMON_ENV);
	bool required = mode && strcmp(mode, "required") == 0;
	char path[256];

	if (shmq_daemon_socket(shmq_bus_namespace(bus), path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "?");
	if (mode && strcmp(mode, "off") == 0)
		say(worst, OK, "namespace %s: daemon: not asked ($%s=off)", shmq_bus_namespace(bus),
		    SHMQ_DAEMON_ENV);
	else if (shmq_daemon_ping(bus) == 1)
		say(worst, OK, "namespace %s: daemon answers on %s", shmq_bus_namespace(bus), path);
	else
		say(worst, required ? FAIL : WARN, "namespace %s: no daemon answers on %s%s",
		    shmq_bus_namespace(bus), path,
		    required ? " and $" SHMQ_DAEMON_ENV " is required" : "");
}

static void check_segments(int *worst, shmq_bus *bus)
{
	const char *ns = shmq_bus_namespace(bus);
	struct shmq_object_info *v;
	char name[SHMQ_OBJECT_NAME_MAX + 1];
	int n = shmq_bus_list(bus, NULL, 0), i, bad = 0;

	v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL;
	n = v ? shmq_bus_list(bus, v, (size_t)n) : n;
	if (n < 0) {
		say(worst, FAIL, "namespace %s: cannot list: %s", ns, shmq_strerror(n));
		return;
	}
	for (i = 0; v && i < n; i++) {
		cli_printable(v[i].name, name, sizeof(name));
		if (v[i].error == -EACCES) {
			say(worst, WARN, "namespace %s: %s: this user may not read it", ns, name);
			bad++;
		} else if (v[i].error) {
			say(worst, WARN, "namespace %s: %s: %s", ns, name, v[i].note);
			bad++;
		} else if (v[i].creator_pid > 0 && kill(v[i].creator_pid, 0) < 0 &&
			   errno == ESRCH) {
			say(worst, WARN, "namespace %s: %s: its creator, pid %d, is dead", ns, name,
			    (int)v[i].creator_pid);
			bad++;
		}
	}
	if (!bad)
		say(worst, OK, "namespace %s: %d segments, all readable, creators alive", ns, n);
	free(v);
}

static void check_namespace(int *worst, const char *ns)
{
	shmq_bus *bus;
	int r = shmq_bus_open(ns, 0, &bus);

	if (r < 0) {
		say(worst, FAIL, "namespace %s: %s", ns ? ns : "(default)", shmq_strerror(r));
		return;
	}
	check_daemon(worst, bus);
	check_segments(worst, bus);
	shmq_bus_close(bus);
}

/* Every namespace that has a segment in /dev/shm ("shmq.NS.NAME"), each once. */
static void check_all(int *worst)
{
	char seen[64][SHMQ_NAMESPACE_MAX + 1], ns[SHMQ_NAMESPACE_MAX + 1];
	struct dirent *e;
	const char *dot;
	DIR *d = opendir("/dev/shm");
	int n = 0, i;

	if (!d)
		return;
	while ((e = readdir(d)) && n < 64) {
		if (strncmp(e->d_name, "shmq.", 5) || !(dot = strchr(e->d_name + 5, '.')) ||
		    dot - e->d_name - 5 > SHMQ_NAMESPACE_MAX || dot == e->d_name + 5)
			continue;
		snprintf(ns, sizeof(ns), "%.*s", (int)(dot - e->d_name - 5), e->d_name + 5);
		for (i = 0; i < n && strcmp(seen[i], ns); i++)
			;
		if (i == n)
			memcpy(seen[n++], ns, sizeof(ns));
	}
	closedir(d);
	if (n == 0)
		check_namespace(worst, NULL);
	for (i = 0; i < n; i++)
		check_namespace(worst, seen[i]);
}

int doctor_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "doctor", .show = doctor_usage, .rc = -1 };
	int worst = OK;

	if (cli_getopt(&c, argc, argv, "", opts) != -1 || c.rc >= 0 ||
	    cli_operands(&c, argc, argv, 0, 0, "") >= 0)
		return c.rc;
	check_shm(&worst);
	check_kernel(&worst);
	if (c.ns)
		check_namespace(&worst, c.ns);
	else
		check_all(&worst);
	return worst == FAIL ? EXIT_ERROR : 0;
}
