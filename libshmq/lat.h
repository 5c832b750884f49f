/* SPDX-License-Identifier: MIT */
/* lat.h - latency side segments: a histogram slot per subscriber or group member entry. */
#ifndef SHMQ_LAT_H
#define SHMQ_LAT_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* What an entry's owner holds while it records. */
struct shmqi_lat_rec {
	struct shmqi_seg seg;
	struct shmqi_lat_slot *slot;
	shmq_hist_shm *h[2]; /* SHMQ_LATENCY_DELIVERY, SHMQ_LATENCY_PROCESSING (or NULL) */
};

/*
 * Become the recorder of slot @entry of the side segment of @name ("TOPIC" or
 * "TOPIC@GROUP"), creating it with @entries slots of @per_entry histograms when absent, with
 * the mode of the object's own file. Released with shmqi_lat_stop().
 * Return: 0, or -errno (-EPROTO: a segment of another shape or layout).
 */
int shmqi_lat_start(const shmq_bus *bus, const char *name, uint32_t entries, uint32_t per_entry,
		    uint32_t entry, struct shmqi_lat_rec *ret);
/* Stop recording; @mine: the slot is still ours, so it is marked free. */
void shmqi_lat_stop(struct shmqi_lat_rec *r, bool mine);
/* Remove the side segment of @name, if there is one. */
void shmqi_lat_unlink(const shmq_bus *bus, const char *name);

/* Record @ns in histogram @which; a value out of range is counted as such by the histogram. */
static inline void shmqi_lat_record(struct shmqi_lat_rec *r, unsigned which, int64_t ns)
{
	if (r->h[which])
		(void)shmq_hist_shm_record(r->h[which], ns);
}

#endif /* SHMQ_LAT_H */
