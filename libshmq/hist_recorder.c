// SPDX-License-Identifier: MIT
/* hist_recorder.c - interval recorder: active/inactive histograms swapped under a phaser. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "hist_internal.h"

/*
 * HdrHistogram's WriterReaderPhaser. A recording enters by incrementing @start (its sign
 * tells the phase), records into @active, and leaves by incrementing the end counter of
 * the phase it entered in. To swap, the reader publishes the new active histogram, resets
 * @start to the other phase's origin, and waits until the old phase's end counter has
 * caught up with the @start value it took: then no recording still touches the old one.
 */
struct shmq_hist_recorder {
	_Atomic(shmq_hist *) active;
	shmq_hist *inactive; /* reader-owned, under @lock */
	_Atomic int64_t start;
	_Atomic int64_t even_end;
	_Atomic int64_t odd_end;
	pthread_mutex_t lock; /* serialises readers */
};

SHMQ_API int shmq_hist_recorder_new(int64_t lowest, int64_t highest, int sigfigs,
				    shmq_hist_recorder **ret_rec)
{
	shmq_hist_recorder *rec;
	shmq_hist *a = NULL, *b = NULL;
	int r;

	if (!ret_rec)
		return -EINVAL;
	r = shmq_hist_new(lowest, highest, sigfigs, &a);
	if (r < 0)
		return r;
	r = shmq_hist_new(lowest, highest, sigfigs, &b);
	if (r < 0)
		goto err_free;
	rec = calloc(1, sizeof(*rec));
	if (!rec) {
		r = -ENOMEM;
		goto err_free;
	}
	atomic_init(&rec->active, a);
	atomic_init(&rec->odd_end, INT64_MIN); /* the phase that starts with the first flip */
	rec->inactive = b;
	pthread_mutex_init(&rec->lock, NULL);
	*ret_rec = rec;
	return 0;
err_free:
	shmq_hist_free(a);
	shmq_hist_free(b);
	return r;
}

SHMQ_API void shmq_hist_recorder_free(shmq_hist_recorder *rec)
{
	if (!rec)
		return;
	pthread_mutex_destroy(&rec->lock);
	shmq_hist_free(atomic_load_explicit(&rec->active, memory_order_relaxed));
	shmq_hist_free(rec->inactive);
	free(rec);
}

SHMQ_API int shmq_hist_recorder_record(shmq_hist_recorder *rec, int64_t value)
{
	shmq_hist *h;
	int64_t phase;
	int r;

	if (!rec)
		return -EINVAL;
	/* A1: pairs with R1 in flip(): the RMW orders the load of @active after it */
	phase = atomic_fetch_add_explicit(&rec->start, 1, memory_order_acq_rel);
	/* A2: pairs with R2 in shmq_hist_recorder_interval() */
	h = atomic_load_explicit(&rec->active, memory_order_acquire);
	r = shmq_hist_record(h, value);
	/* R3: pairs with A3 in flip(): the recording is done before the end counter moves */
	atomic_fetch_add_explicit(phase < 0 ? &rec->odd_end : &rec->even_end, 1,
				  memory_order_release);
	return r;
}

/* Starts a new phase and waits for every recording that entered the old one to leave. */
static void flip(shmq_hist_recorder *rec)
{
	int64_t start = atomic_load_explicit(&rec->start, memory_order_relaxed);
	bool next_even = start < 0;
	int64_t origin = next_even ? 0 : INT64_MIN;
	_Atomic int64_t *old_end = next_even ? &rec->odd_end : &rec->even_end;
	int64_t entered;

	atomic_store_explicit(next_even ? &rec->even_end : &rec->odd_end, origin,
			      memory_order_relaxed); /* no writer uses the next phase yet */
	/* R1: pairs with A1 in shmq_hist_recorder_record() */
	entered = atomic_exchange_explicit(&rec->start, origin, memory_order_acq_rel);
	/* A3: pairs with R3 in shmq_hist_recorder_record() */
	while (atomic_load_explicit(old_end, memory_order_acquire) != entered)
		sched_yield();
}

SHMQ_API int shmq_hist_recorder_interval(shmq_hist_recorder *rec, shmq_hist *dst)
{
	shmq_hist *old;
	int r;

	if (!rec || !dst)
		return -EINVAL;
	pthread_mutex_lock(&rec->lock);
	shmq_hist_reset(rec->inactive);
	old = atomic_load_explicit(&rec->active, memory_order_relaxed); /* only readers swap */
	/* R2: pairs with A2 in shmq_hist_recorder_record(): the reset histogram first */
	atomic_store_explicit(&rec->active, rec->inactive, memory_order_release);
	flip(rec);
	rec->inactive = old;
	shmq_hist_reset(dst);
	r = shmq_hist_add(dst, old);
	pthread_mutex_unlock(&rec->lock);
	return r;
}
