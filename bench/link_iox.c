// SPDX-License-Identifier: MIT
/*
 * link_iox.c - the iceoryx links: a publisher and a subscriber per direction through the
 * RouDi daemon, read by busy-polling (iceoryx) or in a WaitSet (iceoryx-ws).
 */
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iceoryx_binding_c/chunk.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>

#include "chan.h"
#include "link.h"

/*
 * iceoryx needs its daemon, RouDi: the first open() in a run starts iox-roudi ($SHMQ_BENCH_ROUDI
 * names another program) through a keeper process and waits until it says it is ready.
 * RouDi is stopped when the benchmark exits or dies, by whatever signal (keeper_main()).
 * When a RouDi already runs on this host, that one is used and left alone.
 *
 * A process registers once with RouDi under a unique name (iox_runtime_init() is once per
 * process), so the peer runs in a fresh image (reexec). Each link is one service instance,
 * "shmq-bench/<pid>-<n>", with the events "req" (parent to peer) and "rep" (back).
 * Publishers wait for a slow subscriber rather than drop (WAIT_FOR_CONSUMER with
 * BLOCK_PRODUCER): nothing is lost in a stream either.
 *
 * The C binding does not expose a chunk's payload size, so a 4-byte user header carries
 * the message length. Messages are copied in and out as for every other transport; the echo
 * forwards a request with one copy, chunk to chunk (relay), as shmq's echo does.
 */

#define IOX_SERVICE "shmq-bench"
#define IOX_READY "RouDi is ready for clients"
#define IOX_RUNNING "ROUDI_STILL_RUNNING"
#define IOX_EXITED "shmq-bench: RouDi exited"
#define IOX_START_MS 20000 /* RouDi maps ~220 MB first */
#define IOX_CONNECT_MS 10000 /* discovery runs in RouDi's loop, every 100 ms or so */

struct iox_state {
	iox_pub_storage_t pub_st;
	iox_sub_storage_t sub_st;
	iox_ws_storage_t ws_st;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
};

static pid_t keeper_pid; /* the process that runs our RouDi, 0 when none */
static int keeper_fd = -1; /* its pipe: closing our end (or dying) stops RouDi */
static bool roudi_up; /* ours or one that was running */
static bool runtime_up;

static const char *roudi_prog(void)
{
	const char *p = getenv("SHMQ_BENCH_ROUDI");

	return p && *p ? p : "iox-roudi";
}

/* At exit: close the keeper's pipe and wait until RouDi is gone and cleaned up. */
static void roudi_stop(void)
{
	if (keeper_pid <= 0)
		return;
	close(keeper_fd);
	keeper_fd = -1;
	waitpid(keeper_pid, NULL, 0);
	keeper_pid = 0;
}

/* RouDi itself: its own process group (a Ctrl-C is for us), output to @log. */
static void roudi_exec(int log, pid_t keeper)
{
	const char *prog = roudi_prog();

	if (setpgid(0, 0) < 0 || dup2(log, STDOUT_FILENO) < 0 || dup2(log, STDERR_FILENO) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != keeper)
		_exit(126);
	execlp(prog, prog, (char *)NULL);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", prog, strerror(errno));
	_exit(127);
}

/* SIGTERM, then SIGKILL after 10 s; RouDi removes its shared memory on SIGTERM. */
static void roudi_end(pid_t pid)
{
	int i;

	kill(pid, SIGTERM);
	for (i = 0; i < 1000 && waitpid(pid, NULL, WNOHANG) == 0; i++)
		usleep(10000);
	if (i == 1000) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/*
 * The keeper: starts RouDi and stays until the benchmark closes its pipe or dies, which
 * no signal handler of the benchmark has to see. Then it stops RouDi and removes the
 * segments RouDi may have left (it does not when one of its clients died unannounced).
 * When RouDi exits by itself (another one runs), it says so in the log and exits.
 */
static void keeper_main(int log, int stop)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD };
	struct pollfd pfd = { .fd = stop, .events = POLLIN };
	struct passwd *pw = getpwuid(geteuid());
	char user[128];
	pid_t roudi;
	size_t i;

	/* Only the pipe ends it: a signal to the whole group (Ctrl-C, timeout) is for us. */
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], sigs[i] == SIGCHLD ? SIG_DFL : SIG_IGN);
	roudi = fork();
	if (roudi == 0)
		roudi_exec(log, getppid());
	if (roudi < 0)
		_exit(1);
	for (;;) {
		if (poll(&pfd, 1, 100) > 0)
			break; /* the end of the pipe: the benchmark is done or gone */
		if (waitpid(roudi, NULL, WNOHANG) == roudi) {
			dprintf(log, "\n%s\n", IOX_EXITED);
			_exit(1);
		}
	}
	roudi_end(roudi);
	shm_unlink("/iceoryx_mgmt");
	if (pw && snprintf(user, sizeof(user), "/%s", pw->pw_name) < (int)sizeof(user))
		shm_unlink(user); /* the payload segment is named after the user */
	_exit(0);
}

/*
 * Read what RouDi wrote to @fd until it is ready, it exits, or the time is up: 0 (ready),
 * 1 (another RouDi runs) or -errno. @text keeps the last of it, for the error.
 */
static int roudi_wait_ready(int fd, char *text, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int i;

	text[0] = '\0';
	for (i = 0; i < IOX_START_MS / 10; i++) {
		while (len + 1 < cap && (n = read(fd, text + len, cap - 1 - len)) > 0) {
			len += (size_t)n;
			text[len] = '\0';
		}
		if (strstr(text, IOX_READY))
			return 0;
		if (strstr(text, IOX_EXITED))
			return strstr(text, IOX_RUNNING) ? 1 : -ECHILD;
		if (len + 1 >= cap) /* keep reading: the ready line may come late */
			len = 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static int roudi_start(void)
{
	char path[] = "/tmp/shmq-bench-roudi.XXXXXX";
	char text[4096];
	int log, rd, e, stop[2];

	log = mkstemp(path);
	if (log < 0)
		return fail("iceoryx: RouDi's log file", -errno);
	rd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	if (rd < 0 || pipe2(stop, O_CLOEXEC) < 0) {
		e = -errno;
		close(log);
		if (rd >= 0)
			close(rd);
		return fail("iceoryx: RouDi's log file", e);
	}
	fflush(NULL);
	keeper_pid = fork();
	if (keeper_pid == 0) {
		close(stop[1]);
		keeper_main(log, stop[0]);
	}
	close(log);
	close(stop[0]);
	keeper_fd = stop[1];
	if (keeper_pid < 0) {
		keeper_pid = 0;
		close(rd);
		close(keeper_fd);
		return fail("iceoryx: fork", -errno);
	}
	atexit(roudi_stop); /* before iox_runtime_init(): the runtime is gone before RouDi is */
	e = roudi_wait_ready(rd, text, sizeof(text));
	close(rd);
	if (e != 0)
		roudi_stop();
	if (e == 1)
		fprintf(stderr, "%s: iceoryx: using the RouDi that already runs on this host\n",
			BENCH_PROG);
	else if (e < 0) {
		fprintf(stderr, "%s: iceoryx: %s %s; it said:\n%s\n", BENCH_PROG, roudi_prog(),
			e == -ETIMEDOUT ? "was not ready in time" : "exited before it was ready",
			text);
		return -1;
	}
	roudi_up = true;
	return 0;
}

/* Once per process: register with RouDi under a name no other process has. */
static void runtime_start(void)
{
	char name[64];

	if (runtime_up)
		return;
	snprintf(name, sizeof(name), "shmq-bench-%ld", (long)getpid());
	iox_set_loglevel(Iceoryx_LogLevel_Warn); /* its debug lines would mix with the tables */
	iox_runtime_init(name);
	runtime_up = true;
}

static int iox_link_open(struct link *l)
{
	static unsigned n;

	if (!roudi_up && roudi_start() < 0)
		return -1;
	/* The instance name travels to the re-executed peer as the link's url. */
	snprintf(l->url, sizeof(l->url), "%ld-%u", (long)getpid(), n++);
	return 0;
}

static bool iox_connected(struct iox_state *s)
{
	return iox_pub_has_subscribers(s->pub) &&
	       iox_sub_get_subscription_state(s->sub) == SubscribeState_SUBSCRIBED;
}

static int iox_attach(struct link *l, int side)
{
	struct iox_state *s = calloc(1, sizeof(*s));
	iox_pub_options_t po;
	iox_sub_options_t so;
	int i;

	l->side = side;
	if (!s)
		return -ENOMEM;
	l->iox = s;
	runtime_start();
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	iox_sub_options_init(&so);
	so.historyRequest = 0;
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	s->pub = iox_pub_init(&s->pub_st, IOX_SERVICE, l->url, side == 0 ? "req" : "rep", &po);
	s->sub = iox_sub_init(&s->sub_st, IOX_SERVICE, l->url, side == 0 ? "rep" : "req", &so);
	if (!l->ops->poll) {
		s->ws = iox_ws_init(&s->ws_st);
		if (iox_ws_attach_subscriber_state(s->ws, s->sub, SubscriberState_HAS_DATA, 0,
						   NULL) != WaitSetResult_SUCCESS)
			return -ENOSPC;
	}
	/* Both ends wait until each direction is connected: nothing sent is then missed. */
	for (i = 0; !iox_connected(s); i++) {
		if (i == IOX_CONNECT_MS || link_peer_gone(l))
			return i == IOX_CONNECT_MS ? -ETIMEDOUT : -EPIPE;
		usleep(1000);
	}
	return 0;
}

/* A loaned chunk of @len payload bytes, its length in the user header. */
static int iox_loan(struct link *l, unsigned len, void **chunk)
{
	struct iox_state *s = l->iox;
	enum iox_AllocationResult a;

	for (;;) {
		a = iox_pub_loan_aligned_chunk_with_user_header(
			s->pub, chunk, len ? len : 1, 8, sizeof(uint32_t), alignof(uint32_t));
		if (a == AllocationResult_SUCCESS)
			break;
		/* The pool is empty while the consumer holds or queues its chunks. */
		if (a != AllocationResult_RUNNING_OUT_OF_CHUNKS)
			return -ENOMEM;
		if (link_peer_gone(l))
			return -EPIPE;
		sched_yield();
	}
	*(uint32_t *)iox_chunk_header_to_user_header(iox_chunk_header_from_user_payload(*chunk)) =
		len;
	return 0;
}

static int iox_link_send(struct link *l, const void *p, unsigned len)
{
	void *chunk;
	int e = iox_loan(l, len, &chunk);

	if (e < 0)
		return e;
	memcpy(chunk, p, len);
	iox_pub_publish_chunk(((struct iox_state *)l->iox)->pub, chunk);
	return 0;
}

/* The next message's chunk and length: busy-polling, or in the WaitSet. */
static int iox_take(struct link *l, const void **chunk)
{
	struct iox_state *s = l->iox;
	iox_notification_info_t info[1];
	struct timespec second = { 1, 0 };
	uint64_t missed;
	enum iox_ChunkReceiveResult r;
	int e;

	while ((r = iox_sub_take_chunk(s->sub, chunk)) != ChunkReceiveResult_SUCCESS) {
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
			return -EIO;
		if (l->ops->poll) {
			if (spin_check(l->spin))
				return -EPIPE;
		} else if (iox_ws_timed_wait(s->ws, second, info, 1, &missed) == 0) {
			e = link_again(l, true, 0);
			if (e < 0)
				return e;
		}
	}
	return (int)*(const uint32_t *)iox_chunk_header_to_user_header_const(
		iox_chunk_header_from_user_payload_const(*chunk));
}

static int iox_link_recv(struct link *l, void *buf, unsigned cap)
{
	const void *chunk;
	int n = iox_take(l, &chunk);

	if (n < 0)
		return n;
	if ((unsigned)n <= cap)
		memcpy(buf, chunk, (size_t)n);
	iox_sub_release_chunk(((struct iox_state *)l->iox)->sub, chunk);
	return (unsigned)n > cap ? -EMSGSIZE : n;
}

static int iox_relay(struct link *l)
{
	const void *in;
	void *out;
	int n = iox_take(l, &in), e;

	if (n < 0)
		return n;
	e = iox_loan(l, (unsigned)n, &out);
	if (e == 0) {
		memcpy(out, in, (size_t)n);
		iox_pub_publish_chunk(((struct iox_state *)l->iox)->pub, out);
	}
	iox_sub_release_chunk(((struct iox_state *)l->iox)->sub, in);
	return e < 0 ? e : n;
}

static void iox_link_close(struct link *l)
{
	struct iox_state *s = l->iox;

	if (s) {
		if (s->ws)
			iox_ws_deinit(s->ws);
		if (s->sub)
			iox_sub_deinit(s->sub);
		if (s->pub)
			iox_pub_deinit(s->pub);
		free(s);
	}
	l->iox = NULL;
}

const struct link_ops link_iox = {
	.name = LINK_IOX_NAME,
	.poll = true,
	.reexec = true,
	.open = iox_link_open,
	.attach = iox_attach,
	.send = iox_link_send,
	.recv = iox_link_recv,
	.relay = iox_relay,
	.close = iox_link_close,
};

const struct link_ops link_iox_ws = {
	.name = LINK_IOX_WS_NAME,
	.reexec = true,
	.open = iox_link_open,
	.attach = iox_attach,
	.send = iox_link_send,
	.recv = iox_link_recv,
	.relay = iox_relay,
	.close = iox_link_close,
};
