/* SPDX-License-Identifier: MIT */
/* chaos.h - the chaos run's workers, its log lines and the checker, shared by runner and checker. */
#ifndef SHMQ_TEST_CHAOS_H
#define SHMQ_TEST_CHAOS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Every worker process writes one log file, DIR/w<wid>.<inc>.log, a line per event, each line
 * one write(2) (no stdio buffer), so a SIGKILL loses at most the line being written. A line
 * is written only after the call it reports returned: "S" after a send returned 0, so a
 * producer killed between its send and its "S" line leaves a record that is delivered but
 * unconfirmed (an allowed extra, never a loss).
 *
 *   H kind wid inc pid          first line: who wrote the file
 *   S t seq                     producer: record seq sent to topic t ('r' reliable, 'l' lossy)
 *   D t pw pi seq               subscriber: delivered record (producer wid pw, incarnation pi)
 *   G pw pi seq attempt         group member: leased (delivered)
 *   A pw pi seq                 group member: ack returned 0
 *   N pw pi seq                 group member: nack returned 0
 *   X pw pi seq reason          dead-letter witness: a dead letter of that record
 *   Q n                         requester: request n about to be sent
 *   R n code                    requester: request n ended (0 a right reply, -errno, 1 a wrong one)
 *   P n                         responder: replied to request n
 *   S k key seq                 keyed producer: record seq of its key number key sent
 *   L pw pi key seq part ns     partitioned member: leased (pw's key, incarnation pi) from
 *                               partition part, at CLOCK_MONOTONIC ns (read after the receive
 *                               returned: the members' lines merge by it into one order)
 *   A|N pw pi key seq           partitioned member: ack or nack (delay 0) of its lease returned 0
 *   F pw pi key seq err         partitioned member: the ack or nack failed
 */
enum chaos_kind {
	CK_PROD, /* producer on both topics, restarted after a kill */
	CK_WSUB, /* reliable-topic witness subscriber: stopped, never killed */
	CK_LSUB, /* lossy-topic witness subscriber: stopped, never killed */
	CK_VSUB, /* reliable-topic subscriber that may be killed (order and duplicates only) */
	CK_MEMB, /* group member: acks, nacks some, slow at times */
	CK_DLQW, /* dead-letter topic witness */
	CK_REQ, /* requester */
	CK_REP, /* responder */
	CK_KPROD, /* keyed producer on the partitioned topic, restarted after a kill */
	CK_KMEMB, /* member of the partitioned topic's group: acks, nacks some, slow at times */
	CK_DAEMON /* shmqd */
};

#define CHAOS_TOPIC_REL "chaos.rel"
#define CHAOS_TOPIC_LOSSY "chaos.lossy"
#define CHAOS_TOPIC_DLQ "chaos.rel.dlq"
#define CHAOS_GROUP "work"
#define CHAOS_SERVICE "chaos.svc"
#define CHAOS_PTOPIC "chaos.keyed"
#define CHAOS_PARTS 4u /* partitions of CHAOS_PTOPIC */
#define CHAOS_KEYS 8u /* keys per keyed producer: "p<wid>.k<key>" */

/* The payload of a producer's record. */
struct chaos_rec {
	uint32_t wid;
	uint32_t inc;
	uint64_t seq;
};

/*
 * The payload of a keyed producer's record. A key's records go out in sequence order, one at a
 * time (the next only after the last was confirmed, the same one again after a send gave up on
 * it), and a restarted incarnation starts its keys at 1 again: a key's order is (inc, seq).
 */
struct chaos_krec {
	uint32_t wid;
	uint32_t inc;
	uint32_t key;
	uint32_t pad;
	uint64_t seq;
};

/* What the runner measured itself, beside the logs (DIR/run.txt). */
struct chaos_run {
	uint64_t seed;
	unsigned faults, kills, stops, joins, leaves, slows, daemon_kills;
	unsigned wedges;
	uint64_t max_stall_ms, wedge_limit_ms;
	unsigned leaked_segments, leaked_processes;
	unsigned failures; /* workers that ended by themselves, not cleanly */
	uint64_t group_acked; /* the group's own count of acks at the end */
	bool drained;
};

int chaos_run_write(const char *dir, const struct chaos_run *run);

/* Read DIR's logs and run.txt; print the summary line; write JSON to @json (or not: NULL).
 * Return: 0 when every figure is as promised, 1 when one is off, -errno when unreadable. */
int chaos_check(const char *dir, const char *json);

#endif /* SHMQ_TEST_CHAOS_H */
