// SPDX-License-Identifier: MIT
/* bus.c - bus handles: the namespace that names every segment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "lat.h"

int shmq_bus_open(const char *ns, unsigned flags, shmq_bus **ret_bus)
{
	const char *what = "namespace";
	shmq_bus *bus;

	shmqi_detail_clear();
	if (!ret_bus || flags)
		return -EINVAL;
	if (!ns) {
		ns = getenv(SHMQ_NAMESPACE_ENV);
		what = "namespace from $" SHMQ_NAMESPACE_ENV;
	}
	if (!ns || !ns[0])
		ns = "default";
	if (!shmqi_valid_namespace(ns, what))
		return -EINVAL;
	bus = calloc(1, sizeof(*bus));
	if (!bus)
		return -ENOMEM;
	strcpy(bus->ns, ns);
	*ret_bus = bus;
	return 0;
}

void shmq_bus_close(shmq_bus *bus)
{
	free(bus);
}

const char *shmq_bus_namespace(const shmq_bus *bus)
{
	return bus ? bus->ns : NULL;
}

int shmq_unlink(shmq_bus *bus, const char *name)
{
	char path[SHMQI_PATH_MAX];
	int r;

	shmqi_detail_clear();
	r = shmqi_seg_path(bus, name, path, sizeof(path));
	if (r < 0)
		return r;
	if (shm_unlink(path) < 0)
		return -errno;
	shmqi_lat_unlink(bus, name); /* its latency histograms, if it had any */
	return 0;
}
