/* SPDX-License-Identifier: MIT */
/* compare.h - shmq-bench compare's parts in other files. */
#ifndef SHMQ_BENCH_COMPARE_H
#define SHMQ_BENCH_COMPARE_H

#include "pingpong.h"
#include "throughput.h"

/*
 * cmp_svg.c: write the 64-byte results to @path as an SVG chart: @ps back to back (@po),
 * @fs at the fixed rate (@fo, or NULL when none was run), the throughput @ts (@to).
 */
int cmp_svg(const char *path, const struct pp_opts *po, const struct pp_summary *ps,
	    const struct pp_opts *fo, const struct pp_summary *fs, const struct tp_opts *to,
	    const struct tp_summary *ts);

#endif /* SHMQ_BENCH_COMPARE_H */
