/* SPDX-License-Identifier: MIT */
/* metrics.h - a namespace's state in the Prometheus text format; shared by shmq and shmqd. */
#ifndef SHMQ_TOOLS_METRICS_H
#define SHMQ_TOOLS_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "shmq.h"

/*
 * Not part of libshmq: an internal static library that the shmq tool (shmq metrics) and
 * shmqd (--metrics) link.
 */

/**
 * struct metrics_daemon - what shmqd adds to a namespace's metrics.
 * @clients:        connections now
 * @procs:          processes watched now (clients and owners found in tables)
 * @requests:       requests served since start
 * @refused:        requests refused (permissions, bad requests)
 * @deaths:         watched processes whose death was settled
 * @freed:          table entries and leases that dead processes left, freed
 * @uptime_seconds: since the daemon started
 */
struct metrics_daemon {
	uint64_t clients, procs, requests, refused, deaths, freed;
	double uptime_seconds;
};

/**
 * metrics_write() - write the Prometheus text exposition format (version 0.0.4) of the
 * objects of @bus's namespace to @out.
 * @bus: the namespace
 * @out: where to write
 * @d:   the daemon's counters, or NULL (no shmq_daemon_* metrics then)
 *
 * Objects that cannot be read (another layout, no permission, not published yet) are
 * counted in shmq_objects_unreadable, never an error; objects that go away while the
 * namespace is looked at are left out.
 *
 * Return: 0, or -ENOMEM, -EIO (writing @out failed), or the error of listing the namespace.
 */
int metrics_write(shmq_bus *bus, FILE *out, const struct metrics_daemon *d);

/*
 * Other processes' metrics of a namespace (the NATS bridge's): files NAME.PID.prom in the
 * namespace's metrics directory, each the Prometheus text of one live process, written to a
 * temporary name and renamed over. metrics_write() adds the families of the files whose PID
 * is alive, merged family by family (HELP and TYPE once, every sample under them); it skips
 * what is not well-formed. The directory: $SHMQ_METRICS_DIR, else the daemon's socket path
 * (shmq_daemon_socket()) with ".sock" replaced by ".metrics.d".
 */
#define METRICS_DIR_ENV "SHMQ_METRICS_DIR"

/* metrics_dir() - namespace @ns's metrics directory into @buf. Return: its length, or -errno. */
int metrics_dir(const char *ns, char *buf, size_t len);

/* The content type of what metrics_write() writes, for an HTTP response. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* metrics_cmd.c: "shmq metrics [-n NS]" (the exit status). */
int metrics_main(int argc, char **argv);

#endif /* SHMQ_TOOLS_METRICS_H */
