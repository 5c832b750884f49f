/* SPDX-License-Identifier: MIT */
/* group_internal.h - what group.c (the lease protocol) and group_admin.c share. */
#ifndef SHMQI_GROUP_INTERNAL_H
#define SHMQI_GROUP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "lat.h"
#include "topic_internal.h"

/* A lease word's fields (struct shmqi_lease in shm_layout.h). */
#define SHMQI_LSEQ_MASK ((UINT64_C(1) << 45) - 1)
static inline uint32_t shmqi_lw_state(uint64_t w)
{
	return (uint32_t)(w & 7);
}
static inline uint32_t shmqi_lw_holder(uint64_t w)
{
	return (uint32_t)(w >> 3 & 0xff);
}
static inline uint32_t shmqi_lw_gen(uint64_t w)
{
	return (uint32_t)(w >> 11 & 0xff);
}
static inline uint64_t shmqi_lw_seq(uint64_t w)
{
	return w >> 19;
}

struct shmq_group {
	struct shmqi_seg seg;
	struct shmqi_group *ctl;
	struct shmqi_member *members;
	struct shmqi_lease *leases;
	struct shmqi_tmap t; /* the topic, mapped; no entry of its tables is taken */
	struct shmqi_gate *gate;
	struct shmqi_member *me;
	uint32_t idx; /* our member entry (a reaper's: the dead member's it recovers) */
	uint64_t head; /* its owner head, as our take left it */
	int32_t pid;
	/* the configuration, read and checked once */
	uint64_t mask;
	uint32_t max_pending, max_members, max_in_flight, max_deliveries, flags, backoff_mult;
	uint64_t ack_wait_ns, backoff_ns, backoff_max_ns, guard;
	/* this handle's own */
	uint32_t ignore_closed; /* the close it found at its join: its waits go on past it */
	uint64_t last_judge_ns;
	uint64_t stuck_seq, stuck_since_ns;
	uint64_t stuck_recount_ns;
	uint32_t in_flight; /* leases we hold, as far as we know (see set_in_flight()) */
	uint64_t publish_every; /* the gate may lag the floor by this much (publish_due()) */
	unsigned polls;
	bool park_on;
	struct shmqi_fdring *fdring;
	shmq_pub *dlq; /* opened at the first dead letter */
	struct shmq_bus bus;
	char topic[SHMQI_GROUP_NAME_LEN];
	char name[SHMQI_GROUP_NAME_LEN];
	char dlq_name[SHMQI_GROUP_NAME_LEN];
	/* SHMQ_SUB_LATENCY: our histograms, and each leased record's receive time by slot */
	struct shmqi_lat_rec lat;
	uint64_t *recv_ns; /* mask + 1 of them, NULL when not recording */
	struct shmqi_held hdrs; /* the headers of the record delivered last */
};

/* A lease just handed out. */
struct shmqi_glease {
	uint64_t seq;
	uint64_t word; /* its tag */
	uint64_t deadline;
	uint64_t first_ns;
	uint32_t acquired, failed;
};

/* group.c */
void shmqi_group_advance(shmq_group *g);
/*
 * A joiner's: while a scan is marked under way (its scanner may be dead, the hint pushed on
 * as it began), the hint down to "now", so that the next receive scans for due records
 * before it hands out new ones: a record a dead member left due comes first.
 */
void shmqi_group_rescan(shmq_group *g);
/* The leases this member holds, counted in the window (its count set to it). */
uint32_t shmqi_group_held(shmq_group *g);
/* The gate's cursor to the floor now, lagging or not. */
void shmqi_group_publish(shmq_group *g);
void shmqi_group_recover(shmq_group *g, uint32_t holder, bool failure);
/* Fold a member entry's counters into the group's before the entry is reset. */
void shmqi_group_fold(shmq_group *g, struct shmqi_member *m);
/*
 * Free the entries of dead members, their leases back for redelivery (failures), at most
 * every 10 ms unless @force. Return: how many entries were freed.
 */
uint32_t shmqi_group_judge(shmq_group *g, uint64_t now, bool force);
/* shmqi_group_judge() now, by a handle that holds no member entry; parked members woken. */
uint32_t shmqi_group_reap(shmq_group *g);
void shmqi_group_lease(shmq_group *g, struct shmqi_lease *e, uint64_t s, uint64_t busy,
		       uint64_t now, bool fresh, struct shmqi_glease *o);
int shmqi_group_next(shmq_group *g, struct shmqi_glease *o);
void shmqi_group_drop_lost(shmq_group *g, const struct shmqi_glease *o);
bool shmqi_group_intact(const shmq_group *g, uint64_t s, const struct shmqi_lease *e,
			uint64_t held);

/* group_admin.c */
/*
 * Publish record @s (its entry @e held BUSY by us, as @busy) to the dead-letter topic with
 * @reason, or drop it (and count it) when the group has none. Return: 0, or the publish's
 * error.
 */
int shmqi_group_dead_letter(shmq_group *g, struct shmqi_lease *e, uint64_t s, uint64_t busy,
			    uint32_t reason);

#endif /* SHMQI_GROUP_INTERNAL_H */
