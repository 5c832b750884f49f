/* SPDX-License-Identifier: MIT */
/* loop.h - shmqd's one event loop: readiness of descriptors, on io_uring or epoll. */
#ifndef SHMQD_LOOP_H
#define SHMQD_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct loop;
struct watch;

/* Called when @w's descriptor is readable (or hung up, or in error: @events says). */
typedef void (*watch_fn)(struct loop *l, struct watch *w, uint32_t events);
/* Called once a removed watch is no longer referenced by the loop: close and free it there. */
typedef void (*watch_free_fn)(struct watch *w);

struct watch {
	int fd;
	watch_fn fn;
	watch_free_fn free;
	bool armed; /* io_uring: a poll is in flight for it */
	bool dead; /* removed: freed once nothing refers to it */
	struct watch *next_dead;
};

struct loop {
	bool uring; /* the backend, chosen once by loop_init() */
	int uring_err; /* why not io_uring (-errno from its setup), 0 when asked for epoll */
	struct io_uring ring;
	int epfd;
	struct watch *dead; /* removed while the loop may still see them */
	unsigned armed; /* io_uring: polls in flight (loop_fini() waits for their end) */
};

/* Pick io_uring, else (or with @want_epoll) epoll; @l->uring_err says why not io_uring. */
int loop_init(struct loop *l, bool want_epoll);
void loop_fini(struct loop *l);
const char *loop_backend(const struct loop *l);
/* Watch @w->fd for readability until loop_del(). 0 or -errno. */
int loop_add(struct loop *l, struct watch *w);
/* Stop watching; @w->free runs once the loop holds no reference (maybe at once). */
void loop_del(struct loop *l, struct watch *w);
/* Wait up to @timeout_ms (-1: forever) and dispatch what is ready. 0 or -errno. */
int loop_once(struct loop *l, int timeout_ms);

#endif /* SHMQD_LOOP_H */
