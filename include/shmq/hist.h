/* SPDX-License-Identifier: MIT */
/* shmq/hist.h - HDR latency histograms (HdrHistogram-compatible); included by shmq.h. */
#ifndef SHMQ_HIST_H
#define SHMQ_HIST_H

#endif /* SHMQ_HIST_H */
