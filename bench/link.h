/* SPDX-License-Identifier: MIT */
/* link.h - blocking message links between the parent and one forked peer (kernel, libraries). */
#ifndef SHMQ_BENCH_LINK_H
#define SHMQ_BENCH_LINK_H

#include "bench.h"

#define LINK_PATH_MAX 108 /* sun_path */

/*
 * struct link - one bidirectional message link: side 0 is the parent (initiator or
 * consumer), side 1 the forked peer. open() runs in the parent before fork(); after it each
 * side calls attach() for its own end, then send()/recv(), then close(). Every wait is the
 * kernel's or the library's (poll-free); a wait that ends early (EINTR, a timeout) asks
 * link_peer_gone() and goes on.
 *
 * @stream: many messages in flight (throughput); ping-pong has one at a time, which a
 *          link without its own flow control (eventfd) relies on
 */
struct link {
	const struct link_ops *ops;
	unsigned size;
	bool stream;
	int side;
	struct spin *spin;
	int fd[4]; /* descriptors, as the kind lays them out */
	/* eventfd: the slots and counters in shared memory, what this side has in hand */
	struct efd_shm *shm;
	size_t shm_size;
	uint64_t sent, rcvd, room, avail, unacked;
	/* posix-mq: queue names; zmq-ipc, nng-ipc: a private directory and its socket */
	char name[2][64];
	char dir[LINK_PATH_MAX];
	char url[LINK_PATH_MAX + 8];
	void *zctx;
	void *zsock;
	uint32_t nsock;
	/* iceoryx: its publisher, subscriber and WaitSet */
	void *iox;
};

/*
 * struct link_ops - a link's kind.
 * @missing:  NULL, or why it was not built (its library was absent at build time)
 * @max_size: 0, or the largest message it takes on this host; @max_what says where from
 * @poll:     its receive busy-polls (labelled "poll"); the others wait in the kernel or
 *            the library ("block")
 * @reexec:   the peer runs in a fresh image of this program (link_reexec()): the library
 *            cannot be used in a child forked from a process that used it (nng)
 * @close:    the calling side's end; in the parent (side 0 or before attach) also every
 *            name and path open() made. Closing with messages in flight may drop them:
 *            callers finish with a bye (link_bye_send(), link_bye_wait()).
 */
struct link_ops {
	const char *name;
	const char *missing;
	unsigned (*max_size)(void);
	const char *max_what;
	bool poll;
	bool reexec;
	int (*open)(struct link *l);
	int (*attach)(struct link *l, int side);
	int (*send)(struct link *l, const void *p, unsigned len);
	int (*recv)(struct link *l, void *buf, unsigned cap); /* the length, or -errno */
	/* optional: send back what comes in, read and written once; the length, or -errno */
	int (*relay)(struct link *l);
	void (*close)(struct link *l);
};

enum {
	LINK_UDS_DGRAM,
	LINK_EVENTFD,
	LINK_POSIX_MQ,
	LINK_ZMQ,
	LINK_NNG,
	LINK_IOX,
	LINK_IOX_WS,
	LINK_N
};

/* The names, for the transport tables' static initializers too. */
#define LINK_UDS_DGRAM_NAME "uds-dgram"
#define LINK_EVENTFD_NAME "eventfd"
#define LINK_POSIX_MQ_NAME "posix-mq"
#define LINK_ZMQ_NAME "zmq-ipc"
#define LINK_NNG_NAME "nng-ipc"
#define LINK_IOX_NAME "iceoryx"
#define LINK_IOX_WS_NAME "iceoryx-ws"

extern const struct link_ops *const link_kinds[LINK_N];
extern const struct link_ops link_uds_dgram;
extern const struct link_ops link_eventfd;
extern const struct link_ops link_posix_mq;

/* link.c: the steps every user takes */
void link_init(struct link *l, const struct link_ops *ops, unsigned size, bool stream);
/* The peer's end: attach, then a one-byte hello so that the parent knows it is connected. */
int link_peer_attach(struct link *l, struct spin *s);
/* The parent's end: attach and wait for the hello, received into @buf (l->size bytes). */
int link_parent_attach(struct link *l, struct spin *s, void *buf);
/* After the last message: the receiver sends a one-byte bye, the sender waits for it. */
int link_bye_send(struct link *l);
int link_bye_wait(struct link *l, void *buf);
/* Whether the run's other process is gone. */
bool link_peer_gone(struct link *l);
/*
 * A wait that ended early (@early: EINTR, a timeout): 0 to wait again, -EPIPE when the peer
 * is gone; any other failure is @err, returned as it is.
 */
int link_again(struct link *l, bool early, int err);
/* Does @size fit @ops on this host? */
bool link_fits(const struct link_ops *ops, unsigned size);
/*
 * In the forked peer of a @reexec link: exec this program as "shmq-bench _link-peer ROLE
 * KIND SIZE TOTAL URL", where link_peer_main() runs the peer's body (@role "pp": the echo,
 * "tp": the producer). Returns only on failure.
 */
int link_reexec(const struct link *l, const char *role, uint64_t total);
int link_peer_main(int argc, char **argv);
/* The peers' bodies (pp_link.c, tp_link.c): attach, serve @total messages, close. */
int pp_link_peer(struct link *l, uint64_t total);
int tp_link_peer(struct link *l, uint64_t total);

/* The row of a size that @ops does not take here: "skipped", and why; @width: the name column. */
void link_skip_print(bool json, const char *bench, const struct link_ops *ops, unsigned size,
		     int width);
/* For --help: a line per link kind that was not built, or "". */
const char *link_missing_text(void);
/* Say that @ops was not built, and why; -1. */
int link_missing_error(const struct link_ops *ops);

/*
 * In the parent: make SIGCHLD interrupt blocking calls (EINTR), so that a wait on a dead
 * peer ends (on=false restores the default). The signal can still come just before a
 * call blocks; a Ctrl-C then ends the run, with the usual cleanup.
 */
void link_sigchld(bool on);

/*
 * A fresh directory under $TMPDIR (or /tmp) for an ipc:// socket: l->url is
 * "ipc://DIR/s"; both are removed by link_dir_close(), at exit and on a fatal signal.
 */
int link_dir_open(struct link *l);
void link_dir_close(struct link *l);

/* link_zmq.c, link_nng.c, link_iox.c when their libraries were found, else stubs that say so */
extern const struct link_ops link_zmq;
extern const struct link_ops link_nng;
extern const struct link_ops link_iox;
extern const struct link_ops link_iox_ws;

#endif /* SHMQ_BENCH_LINK_H */
