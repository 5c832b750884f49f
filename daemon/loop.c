// SPDX-License-Identifier: MIT
/*
 * loop.c - shmqd's event loop. On io_uring every watch is a one-shot POLL_ADD re-armed after
 * its callback (liburing 2.3's helpers; nothing here needs a newer one); where the kernel or
 * a seccomp filter refuses io_uring, level-triggered epoll does the same job.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

#define RING_ENTRIES 256
#define BATCH 64

int loop_init(struct loop *l, bool want_epoll)
{
	memset(l, 0, sizeof(*l));
	l->epfd = -1;
	if (!want_epoll) {
		/* -EPERM from kernel.io_uring_disabled or a seccomp filter, -ENOSYS without it */
		l->uring_err = io_uring_queue_init(RING_ENTRIES, &l->ring, 0);
		if (l->uring_err == 0) {
			l->uring = true;
			return 0;
		}
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

const char *loop_backend(const struct loop *l)
{
	return l->uring ? "io_uring" : "epoll";
}

static void free_dead(struct loop *l)
{
	struct watch *w;

	while ((w = l->dead)) {
		l->dead = w->next_dead;
		if (w->free)
			w->free(w);
	}
}

static int once_uring(struct loop *l, int timeout_ms);

void loop_fini(struct loop *l)
{
	int tries;

	/* Removed watches whose polls are still cancelling are freed as their ends come in. */
	for (tries = 0; l->uring && l->armed && tries < 100; tries++)
		once_uring(l, 10);
	free_dead(l);
	if (l->uring)
		io_uring_queue_exit(&l->ring);
	else if (l->epfd >= 0)
		close(l->epfd);
}

/* An SQE, submitting what is queued to make room when the ring is full. */
static struct io_uring_sqe *get_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

static int arm(struct loop *l, struct watch *w)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, w->fd, POLLIN);
	io_uring_sqe_set_data(sqe, w);
	w->armed = true;
	l->armed++;
	return 0;
}

int loop_add(struct loop *l, struct watch *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

	w->dead = false;
	w->armed = false;
	if (l->uring)
		return arm(l, w);
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, struct watch *w)
{
	struct io_uring_sqe *sqe;

	if (w->dead)
		return;
	w->dead = true;
	if (l->uring) {
		if (!w->armed) { /* inside its own callback: nothing in flight refers to it */
			w->next_dead = l->dead;
			l->dead = w;
			return;
		}
		/* Its poll completes with -ECANCELED; the watch is freed when that is reaped. */
		sqe = get_sqe(l);
		if (sqe) {
			io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)w);
			io_uring_sqe_set_data(sqe, NULL);
		}
		return;
	}
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	/* Other events of this batch may still name it: freed after the batch. */
	w->next_dead = l->dead;
	l->dead = w;
}

static void dispatch(struct loop *l, struct watch *w, uint32_t events)
{
	if (w->dead) {
		w->next_dead = l->dead;
		l->dead = w;
		return;
	}
	w->fn(l, w, events);
	if (l->uring && !w->dead)
		arm(l, w);
}

static int once_uring(struct loop *l, int timeout_ms)
{
	struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
					.tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	struct watch *w;
	int r;

	r = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, timeout_ms < 0 ? NULL : &ts, NULL);
	if (r < 0 && r != -ETIME && r != -EINTR)
		return r;
	io_uring_for_each_cqe(&l->ring, head, cqe)
	{
		n++;
		w = io_uring_cqe_get_data(cqe);
		if (!w)
			continue; /* a poll_remove's own completion */
		w->armed = false;
		l->armed--;
		if (cqe->res == -ECANCELED || w->dead) {
			dispatch(l, w, 0); /* dead: queued for freeing */
			continue;
		}
		dispatch(l, w, cqe->res < 0 ? POLLERR : (uint32_t)cqe->res);
	}
	io_uring_cq_advance(&l->ring, n);
	return 0;
}

static int once_epoll(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[BATCH];
	int n, i;

	n = epoll_wait(l->epfd, ev, BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct watch *w = ev[i].data.ptr;

		if (!w->dead)
			w->fn(l, w, ev[i].events);
	}
	return 0;
}

int loop_once(struct loop *l, int timeout_ms)
{
	int r = l->uring ? once_uring(l, timeout_ms) : once_epoll(l, timeout_ms);

	free_dead(l);
	return r;
}
