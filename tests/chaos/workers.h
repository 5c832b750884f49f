/* SPDX-License-Identifier: MIT */
/* workers.h - one chaos worker: what the runner tells the process it forks. */
#ifndef SHMQ_TEST_CHAOS_WORKERS_H
#define SHMQ_TEST_CHAOS_WORKERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct worker {
	int kind; /* enum chaos_kind */
	unsigned wid; /* the worker's number, kept across restarts */
	unsigned inc; /* its incarnation: 0, then one more per restart */
	pid_t pid; /* 0 when not running */
	bool stopped; /* SIGSTOPped, SIGCONT due at cont_ms */
	bool leaving; /* sent SIGTERM: not restarted */
	bool slow; /* a member that dawdles (toggled by SIGUSR1) */
	uint64_t cont_ms; /* when a stopped worker is continued */
	uint64_t seed;
	unsigned pace_us; /* a producer's pause between records */
};

/* The forked worker's body; never returns. */
void worker_main(const struct worker *w, const char *dir, const char *ns);

#endif /* SHMQ_TEST_CHAOS_WORKERS_H */
