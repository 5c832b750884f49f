/* SPDX-License-Identifier: MIT */
/* shmq.h - the public API of libshmq, a shared-memory message bus for one Linux host. */
#ifndef SHMQ_H
#define SHMQ_H

/*
 * The umbrella header: one header per concept under shmq/, each of which compiles on its own
 * and includes what it builds on. They come here in dependency order.
 */
#include "shmq/bus.h" /* version, errors, clock, the bus, what all kinds share */
#include "shmq/channel.h" /* SPSC channels */
#include "shmq/headers.h" /* key/value headers on records */
#include "shmq/topic.h" /* topics: producers and subscribers */
#include "shmq/group.h" /* consumer groups: work queues on topics */
#include "shmq/service.h" /* request/reply */
#include "shmq/priority.h" /* priority topics */
#include "shmq/partition.h" /* keyed partitions */
#include "shmq/wait.h" /* shmq_wait_many(), shmq_wait_any() over channels, topics, groups */
#include "shmq/hist.h" /* HDR latency histograms */
#include "shmq/latency.h" /* live latency of subscribers and group members */
#include "shmq/inspect.h" /* looking at objects by name: listing, channel stat, reaping */
#include "shmq/daemon.h" /* the registry daemon shmqd, from a client's side */
#include "shmq/pattern.h" /* wildcard patterns over topic names, pattern subscribers */

#endif /* SHMQ_H */
