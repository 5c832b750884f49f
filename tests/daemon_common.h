/* SPDX-License-Identifier: MIT */
/* daemon_common.h - the daemon tests' shmqd: started on a private socket, stopped by pid. */
#ifndef SHMQ_TEST_DAEMON_COMMON_H
#define SHMQ_TEST_DAEMON_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common.h"

struct test_daemon {
	const char *exe;
	char dir[64];
	char sock[128];
	char log[128];
	pid_t pid;
};

/* Start shmqd for this test's namespace (t<pid>) with @extra arguments; wait until it answers. */
static inline void daemon_start(struct test_daemon *td, const char *extra)
{
	char ns[32];
	shmq_bus *bus = test_bus();
	int fd, i;

	snprintf(ns, sizeof(ns), "t%d", (int)getpid());
	if (!td->dir[0]) {
		snprintf(td->dir, sizeof(td->dir), "/tmp/shmq-test-%d", (int)getpid());
		mkdir(td->dir, 0755);
		snprintf(td->sock, sizeof(td->sock), "%s/d.sock", td->dir);
		snprintf(td->log, sizeof(td->log), "%s/shmqd.log", td->dir);
	}
	setenv(SHMQ_SOCKET_ENV, td->sock, 1);
	td->pid = fork();
	assert_true(td->pid >= 0);
	if (td->pid == 0) {
		fd = open(td->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		if (extra)
			execl(td->exe, "shmqd", "-n", ns, "-f", "-v", "-s", td->sock, extra,
			      (char *)NULL);
		else
			execl(td->exe, "shmqd", "-n", ns, "-f", "-v", "-s", td->sock, (char *)NULL);
		_exit(127);
	}
	/* Readiness, not timing: wait (up to 10 s) for the first answer. */
	setenv(SHMQ_DAEMON_ENV, "auto", 1);
	for (i = 0; i < 1000 && shmq_daemon_ping(bus) != 1; i++)
		usleep(10000);
	assert_int_equal(shmq_daemon_ping(bus), 1);
	shmq_bus_close(bus);
}

/* Stop it with @sig (SIGTERM: a clean stop, exit 0; SIGKILL: a crash). Return its status. */
static inline int daemon_stop(struct test_daemon *td, int sig)
{
	int st = 0;

	if (td->pid <= 0)
		return -1;
	kill(td->pid, sig);
	assert_int_equal(waitpid(td->pid, &st, 0), td->pid);
	td->pid = 0;
	return st;
}

/* Remove the test's directory: its sockets, the state file, the daemon's log (printed first). */
static inline void daemon_dir_remove(struct test_daemon *td)
{
	char path[400], line[512];
	struct dirent *de;
	FILE *f = fopen(td->log, "r");
	DIR *d;

	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  %s", line);
	if (f)
		fclose(f);
	d = opendir(td->dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", td->dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(td->dir);
}

/* One raw record to the daemon and its reply, on a connection of its own (not the library's). */
static inline int raw_request(const struct test_daemon *td, const void *req, size_t len,
			      char *reply, size_t reply_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, td->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
	n = recv(fd, reply, reply_len - 1, 0);
	close(fd);
	assert_true(n > 0);
	reply[n] = '\0';
	return (int)n;
}

/*
 * Wait (up to 10 s) until @cond holds: state, never time, is what a test asserts. @cond is
 * evaluated once per try, never again after it held (it may consume, as a receive does).
 */
#define WAIT_UNTIL(cond)                                                     \
	do {                                                                 \
		bool held_ = false;                                          \
		for (int wait_i_ = 0; wait_i_ < 2000 && !held_; wait_i_++) { \
			held_ = (cond);                                      \
			if (!held_)                                          \
				usleep(5000);                                \
		}                                                            \
		assert_true(held_);                                          \
	} while (0)

#endif /* SHMQ_TEST_DAEMON_COMMON_H */
