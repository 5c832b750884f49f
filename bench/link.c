// SPDX-License-Identifier: MIT
/* link.c - the blocking links uds-dgram, eventfd and posix-mq, the steps all links share. */
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chan.h"
#include "link.h"

#define LINK_HELLO 'H'
#define LINK_BYE 'B'

/* ---- the steps every link takes ---- */

void link_init(struct link *l, const struct link_ops *ops, unsigned size, bool stream)
{
	memset(l, 0, sizeof(*l));
	l->ops = ops;
	l->size = size;
	l->stream = stream;
	l->side = -1;
	l->fd[0] = l->fd[1] = l->fd[2] = l->fd[3] = -1;
}

bool link_peer_gone(struct link *l)
{
	return l->spin && spin_peer_gone(l->spin);
}

bool link_fits(const struct link_ops *ops, unsigned size)
{
	unsigned max = ops->max_size ? ops->max_size() : 0;

	return max == 0 || size <= max;
}

void link_skip_print(bool json, const char *bench, const struct link_ops *ops, unsigned size,
		     int width)
{
	unsigned max = ops->max_size();

	if (json)
		printf("{\"bench\":\"%s\",\"transport\":\"%s\",\"wait\":\"%s\",\"size\":%u,"
		       "\"skipped\":true,\"max_size\":%u}\n",
		       bench, ops->name, wait_name(!ops->poll), size, max);
	else
		printf("%6u  %-*s %-5s  skipped: above the %u bytes this host allows (%s)\n", size,
		       width, ops->name, wait_name(!ops->poll), max, ops->max_what);
}

const char *link_missing_text(void)
{
	static char text[512];
	size_t len = 0;
	int i;

	text[0] = '\0';
	for (i = 0; i < LINK_N; i++) {
		if (link_kinds[i]->missing && len < sizeof(text))
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%26s%s: %s\n", "",
						link_kinds[i]->name, link_kinds[i]->missing);
	}
	return text;
}

int link_missing_error(const struct link_ops *ops)
{
	fprintf(stderr, "%s: %s: %s\n", BENCH_PROG, ops->name, ops->missing);
	return -1;
}

/* One byte that must be @want: the hello and the bye. */
static int link_token(struct link *l, void *buf, char want)
{
	int n = l->ops->recv(l, buf, l->size);

	if (n < 0)
		return n;
	return n == 1 && *(char *)buf == want ? 0 : -EBADMSG;
}

int link_peer_attach(struct link *l, struct spin *s)
{
	char hello = LINK_HELLO;
	int e;

	l->spin = s;
	e = l->ops->attach(l, 1);
	if (e == 0)
		e = l->ops->send(l, &hello, 1);
	return e < 0 ? fail("echo/producer: attach", e) : 0;
}

int link_parent_attach(struct link *l, struct spin *s, void *buf)
{
	int e;

	l->spin = s;
	e = l->ops->attach(l, 0);
	if (e == 0)
		e = link_token(l, buf, LINK_HELLO);
	return e < 0 ? fail("wait for the peer's hello", e) : 0;
}

int link_bye_send(struct link *l)
{
	char bye = LINK_BYE;
	int e = l->ops->send(l, &bye, 1);

	return e < 0 ? fail("send bye", e) : 0;
}

int link_bye_wait(struct link *l, void *buf)
{
	int e = link_token(l, buf, LINK_BYE);

	return e < 0 ? fail("wait for bye", e) : 0;
}

int link_reexec(const struct link *l, const char *role, uint64_t total)
{
	char size[16], tot[24];
	char *argv[] = { BENCH_PROG, "_link-peer", (char *)role,   (char *)l->ops->name,
			 size,	     tot,	   (char *)l->url, NULL };

	snprintf(size, sizeof(size), "%u", l->size);
	snprintf(tot, sizeof(tot), "%llu", (unsigned long long)total);
	fflush(NULL);
	execv("/proc/self/exe", argv);
	return fail("exec /proc/self/exe", -errno);
}

/* argv: _link-peer ROLE KIND SIZE TOTAL URL, as link_reexec() wrote it. */
int link_peer_main(int argc, char **argv)
{
	struct link l;
	uint64_t size, total;
	bool pp = argc == 6 && strcmp(argv[1], "pp") == 0;
	int i;

	for (i = 0; argc == 6 && i < LINK_N && strcmp(link_kinds[i]->name, argv[2]) != 0; i++)
		;
	if (argc != 6 || i == LINK_N || u64_parse(argv[3], 1, BENCH_MAX_SIZE, &size) < 0 ||
	    u64_parse(argv[4], 1, UINT64_MAX, &total) < 0 || strlen(argv[5]) >= sizeof(l.url)) {
		fprintf(stderr, "%s: _link-peer: for the benchmark's own use\n", BENCH_PROG);
		return 2;
	}
	link_init(&l, link_kinds[i], (unsigned)size, !pp);
	snprintf(l.url, sizeof(l.url), "%s", argv[5]);
	return (pp ? pp_link_peer(&l, total) : tp_link_peer(&l, total)) < 0 ? 1 : 0;
}

static void on_sigchld(int sig)
{
	(void)sig; /* only there to interrupt a blocking call */
}

void link_sigchld(bool on)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on ? on_sigchld : SIG_DFL;
	sa.sa_flags = SA_NOCLDSTOP; /* no SA_RESTART: the wait returns EINTR */
	sigaction(SIGCHLD, &sa, NULL);
}

int link_again(struct link *l, bool early, int err)
{
	if (!early)
		return err;
	return link_peer_gone(l) ? -EPIPE : 0;
}

/* A system call failed: again on EINTR while the peer lives. */
static int sys_again(struct link *l)
{
	int err = errno;

	return link_again(l, err == EINTR, -err);
}

static void close_fds(struct link *l)
{
	int i, j;

	for (i = 0; i < 4; i++) {
		for (j = 0; j < i && l->fd[j] != l->fd[i]; j++)
			;
		if (l->fd[i] >= 0 && j == i)
			close(l->fd[i]);
	}
	for (i = 0; i < 4; i++)
		l->fd[i] = -1;
}

/* ---- a private directory for a library's ipc:// socket ---- */

int link_dir_open(struct link *l)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(l->dir, sizeof(l->dir), "%s/shmq-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(l->dir)) {
		l->dir[0] = '\0';
		return fail("mkdtemp", -errno);
	}
	cleanup_add(CLEANUP_DIR, l->dir);
	snprintf(l->url, sizeof(l->url), "ipc://%s/s", l->dir);
	cleanup_add(CLEANUP_FILE, l->url + 6);
	return 0;
}

void link_dir_close(struct link *l)
{
	if (!l->dir[0])
		return;
	unlink(l->url + 6);
	rmdir(l->dir);
	cleanup_del(CLEANUP_FILE, l->url + 6);
	cleanup_del(CLEANUP_DIR, l->dir);
	l->dir[0] = '\0';
}

/*
 * ---- uds-dgram: a SOCK_SEQPACKET socketpair ----
 * Datagram semantics (one message per send and recv, boundaries kept) on a connected,
 * reliable socket: unlike SOCK_DGRAM, a dead peer reads as end of file.
 */

static int seq_open(struct link *l)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return fail("uds-dgram: socketpair", -errno);
	l->fd[0] = l->fd[1] = sv[0];
	l->fd[2] = l->fd[3] = sv[1];
	return 0;
}

/* Each side closes the other's end, so that its exit reads as end of file here. */
static int fds_attach(struct link *l, int side)
{
	int other = 2 * (1 - side);

	if (l->fd[other] >= 0 && l->fd[other] != l->fd[2 * side])
		close(l->fd[other]);
	if (l->fd[other + 1] >= 0 && l->fd[other + 1] != l->fd[other])
		close(l->fd[other + 1]);
	l->fd[other] = l->fd[other + 1] = -1;
	l->side = side;
	return 0;
}

static int seq_send(struct link *l, const void *p, unsigned len)
{
	ssize_t n;
	int e;

	while ((n = send(l->fd[2 * l->side], p, len, MSG_NOSIGNAL)) < 0) {
		e = sys_again(l);
		if (e < 0)
			return e;
	}
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static int seq_recv(struct link *l, void *buf, unsigned cap)
{
	ssize_t n;
	int e;

	while ((n = recv(l->fd[2 * l->side + 1], buf, cap, MSG_TRUNC)) < 0) {
		e = sys_again(l);
		if (e < 0)
			return e;
	}
	if (n == 0)
		return -EPIPE; /* every message has at least one byte: this is the peer's exit */
	return (size_t)n > cap ? -EMSGSIZE : (int)n;
}

static void seq_close(struct link *l)
{
	close_fds(l);
}

/*
 * ---- eventfd: the payload in shared memory, an eventfd per direction to signal ----
 * Direction d (0: parent to peer, 1: back) has slots in a MAP_SHARED area and a "data"
 * eventfd that counts the filled ones; the receiver's blocking read takes all there are.
 * A stream (throughput) has EFD_SLOTS slots and a "room" eventfd in reverse that the
 * receiver credits every EFD_SLOTS / 2 messages and before it blocks, so the sender never
 * overwrites an unread slot and neither waits on the other forever. Ping-pong has one slot
 * and no room: a message is read before the reply that lets the next one go. The slot's
 * bytes are ordered by the eventfd: write(2) and read(2) take its lock on both sides.
 */
#define EFD_SLOTS 64u
#define EFD_HDR 64u

struct efd_shm {
	uint8_t slots[1];
};

static unsigned efd_nslots(const struct link *l)
{
	return l->stream ? EFD_SLOTS : 1;
}

static size_t efd_stride(const struct link *l)
{
	return EFD_HDR + (((size_t)l->size + 63) & ~(size_t)63);
}

static uint8_t *efd_slot(struct link *l, int dir, uint64_t n)
{
	size_t idx = (size_t)dir * efd_nslots(l) + (size_t)(n % efd_nslots(l));

	return l->shm->slots + idx * efd_stride(l);
}

/* fd[0], fd[1]: data of direction 0, 1; fd[2], fd[3]: room of direction 0, 1 (streams). */
static int efd_open(struct link *l)
{
	int i;

	l->shm_size = 2 * efd_nslots(l) * efd_stride(l);
	l->shm = shared_alloc(l->shm_size);
	if (!l->shm)
		return fail("eventfd: mmap", -ENOMEM);
	memset(l->shm, 0, l->shm_size); /* no page fault inside a timed message */
	for (i = 0; i < (l->stream ? 4 : 2); i++) {
		l->fd[i] = eventfd(0, EFD_CLOEXEC);
		if (l->fd[i] < 0)
			return fail("eventfd", -errno);
	}
	return 0;
}

static int efd_attach(struct link *l, int side)
{
	l->side = side;
	l->room = efd_nslots(l);
	return 0;
}

/* Block until @fd counts something; take it all. */
static int efd_take(struct link *l, int fd, uint64_t *ret)
{
	ssize_t n;
	int e;

	while ((n = read(fd, ret, 8)) < 0) {
		e = sys_again(l);
		if (e < 0)
			return e;
	}
	return n == 8 ? 0 : -EIO;
}

static int efd_add(int fd, uint64_t v)
{
	ssize_t n;

	while ((n = write(fd, &v, 8)) < 0 && errno == EINTR)
		;
	return n == 8 ? 0 : -errno;
}

static int efd_send(struct link *l, const void *p, unsigned len)
{
	int dir = l->side, e;
	uint8_t *slot;

	if (l->stream) {
		if (l->room == 0 && (e = efd_take(l, l->fd[2 + dir], &l->room)) < 0)
			return e;
		l->room--;
	}
	slot = efd_slot(l, dir, l->sent++);
	memcpy(slot, &len, sizeof(len));
	memcpy(slot + EFD_HDR, p, len);
	return efd_add(l->fd[dir], 1);
}

/* A stream's receiver gives slots back in bulk, and always before it blocks. */
static int efd_credit(struct link *l, int dir, unsigned at_least)
{
	int e = 0;

	if (l->stream && l->unacked >= at_least && l->unacked > 0) {
		e = efd_add(l->fd[2 + dir], l->unacked);
		l->unacked = 0;
	}
	return e;
}

static int efd_recv(struct link *l, void *buf, unsigned cap)
{
	int dir = 1 - l->side, e = 0;
	uint8_t *slot;
	unsigned len;

	if (l->avail == 0) {
		e = efd_credit(l, dir, 1);
		if (e == 0)
			e = efd_take(l, l->fd[dir], &l->avail);
		if (e < 0)
			return e;
	}
	l->avail--;
	slot = efd_slot(l, dir, l->rcvd++);
	memcpy(&len, slot, sizeof(len));
	if (len > cap || len > l->size)
		return -EMSGSIZE;
	memcpy(buf, slot + EFD_HDR, len);
	l->unacked++;
	e = efd_credit(l, dir, EFD_SLOTS / 2);
	return e < 0 ? e : (int)len;
}

static void efd_close(struct link *l)
{
	close_fds(l);
	shared_free(l->shm, l->shm_size);
	l->shm = NULL;
}

/*
 * ---- posix-mq: mq_send/mq_receive on two queues ----
 * The queues' names are unique per run and unlinked as soon as both are open: the peer
 * inherits the descriptors with fork(). Messages up to /proc/sys/fs/mqueue/msgsize_max;
 * the queue depth is msg_max (10 by default), what an unprivileged user may ask for.
 */

static unsigned proc_uint(const char *path, unsigned dflt)
{
	FILE *f = fopen(path, "r");
	unsigned v = dflt;

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

static unsigned mq_max_size(void)
{
	return proc_uint("/proc/sys/fs/mqueue/msgsize_max", 8192);
}

static int mq_open_one(struct link *l, int dir)
{
	static unsigned counter;
	struct mq_attr attr = { 0 };
	unsigned depth = proc_uint("/proc/sys/fs/mqueue/msg_max", 10);

	attr.mq_maxmsg = depth < 64 ? depth : 64;
	attr.mq_msgsize = l->size;
	snprintf(l->name[dir], sizeof(l->name[dir]), "/shmq-bench.%d.%u.%d", (int)getpid(),
		 counter++, dir);
	cleanup_add(CLEANUP_MQ, l->name[dir]);
	l->fd[dir] = mq_open(l->name[dir], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (l->fd[dir] < 0)
		return fail("posix-mq: mq_open", -errno);
	return 0;
}

static void mq_names_unlink(struct link *l)
{
	int d;

	for (d = 0; d < 2; d++) {
		if (!l->name[d][0])
			continue;
		mq_unlink(l->name[d]);
		cleanup_del(CLEANUP_MQ, l->name[d]);
		l->name[d][0] = '\0';
	}
}

/* fd[d]: the queue of direction d (0: parent to peer). */
static int mq_link_open(struct link *l)
{
	int e = mq_open_one(l, 0);

	if (e == 0)
		e = mq_open_one(l, 1);
	mq_names_unlink(l);
	return e;
}

static int mq_attach(struct link *l, int side)
{
	l->side = side;
	return 0;
}

static int mq_link_send(struct link *l, const void *p, unsigned len)
{
	int e;

	while (mq_send(l->fd[l->side], p, len, 0) < 0) {
		e = sys_again(l);
		if (e < 0)
			return e;
	}
	return 0;
}

static int mq_link_recv(struct link *l, void *buf, unsigned cap)
{
	ssize_t n;
	int e;

	while ((n = mq_receive(l->fd[1 - l->side], buf, cap, NULL)) < 0) {
		e = sys_again(l);
		if (e < 0)
			return e;
	}
	return (int)n;
}

static void mq_link_close(struct link *l)
{
	int d;

	for (d = 0; d < 2; d++) {
		if (l->fd[d] >= 0)
			mq_close(l->fd[d]);
		l->fd[d] = -1;
	}
	mq_names_unlink(l);
}

const struct link_ops link_uds_dgram = {
	.name = LINK_UDS_DGRAM_NAME,
	.open = seq_open,
	.attach = fds_attach,
	.send = seq_send,
	.recv = seq_recv,
	.close = seq_close,
};

const struct link_ops link_eventfd = {
	.name = LINK_EVENTFD_NAME,
	.open = efd_open,
	.attach = efd_attach,
	.send = efd_send,
	.recv = efd_recv,
	.close = efd_close,
};

const struct link_ops link_posix_mq = {
	.name = LINK_POSIX_MQ_NAME,
	.max_size = mq_max_size,
	.max_what = "/proc/sys/fs/mqueue/msgsize_max",
	.open = mq_link_open,
	.attach = mq_attach,
	.send = mq_link_send,
	.recv = mq_link_recv,
	.close = mq_link_close,
};

#ifndef SHMQ_BENCH_ZMQ
const struct link_ops link_zmq = {
	.name = LINK_ZMQ_NAME,
	.missing = "not built (libzmq3-dev was missing)",
};
#endif
#ifndef SHMQ_BENCH_NNG
const struct link_ops link_nng = {
	.name = LINK_NNG_NAME,
	.missing = "not built (libnng-dev was missing)",
};
#endif
#ifndef SHMQ_BENCH_IOX
const struct link_ops link_iox = {
	.name = LINK_IOX_NAME,
	.poll = true,
	.missing = "not built (libiceoryx-binding-c-dev was missing)",
};
const struct link_ops link_iox_ws = {
	.name = LINK_IOX_WS_NAME,
	.missing = "not built (libiceoryx-binding-c-dev was missing)",
};
#endif

const struct link_ops *const link_kinds[LINK_N] = {
	[LINK_UDS_DGRAM] = &link_uds_dgram,
	[LINK_EVENTFD] = &link_eventfd,
	[LINK_POSIX_MQ] = &link_posix_mq,
	[LINK_ZMQ] = &link_zmq,
	[LINK_NNG] = &link_nng,
	[LINK_IOX] = &link_iox,
	[LINK_IOX_WS] = &link_iox_ws,
};
