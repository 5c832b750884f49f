// SPDX-License-Identifier: MIT
/* topic_ro.c - what a read-only subscriber needs beside topic_sub.c's readers: its name's fate. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "topic_internal.h"

#define NAME_LOOK_NS 100000000u /* an idle read-only subscriber looks at its name every 100 ms */

/*
 * The segment a read-only subscriber mapped, as its header names it: the creator's pid and
 * creation time (CLOCK_REALTIME ns) tell one segment of a name from the next, as a group
 * tells its topic (group_admin.c). The header is published (A0 at attach) and never changes.
 */
struct shmqi_ro_name {
	char path[SHMQI_PATH_MAX];
	uint64_t created_ns;
	int32_t creator_pid;
	uint64_t next_ns; /* when to look again */
};

int shmqi_ro_name_open(shmq_bus *bus, const char *name, const struct shmqi_tmap *t,
		       struct shmqi_ro_name **ret_n)
{
	const struct shmqi_seg_hdr *hdr = (const struct shmqi_seg_hdr *)t->seg.base;
	struct shmqi_ro_name *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	r = shmqi_seg_path(bus, name, n->path, sizeof(n->path));
	if (r < 0) {
		free(n);
		return r;
	}
	n->created_ns = hdr->created_ns;
	n->creator_pid = hdr->creator_pid;
	*ret_n = n;
	return 0;
}

void shmqi_ro_name_free(struct shmqi_ro_name *n)
{
	free(n);
}

/* Does the file the name gives now hold the header of the segment we mapped? */
static bool still_ours(const struct shmqi_ro_name *n)
{
	struct shmqi_seg_hdr hdr;
	ssize_t got;
	int fd;

	fd = shm_open(n->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return errno != ENOENT; /* another error (a mode changed) tells nothing */
	/* pread(), not a mapping: a file shrunk meanwhile cannot fault us */
	got = pread(fd, &hdr, sizeof(hdr), 0);
	close(fd);
	if (got < 0)
		return true;
	return got == (ssize_t)sizeof(hdr) && hdr.magic == SHMQI_MAGIC &&
	       hdr.created_ns == n->created_ns && hdr.creator_pid == n->creator_pid;
}

bool shmqi_ro_name_gone(struct shmqi_ro_name *n, uint64_t now)
{
	if (!n || now < n->next_ns)
		return false;
	n->next_ns = now + NAME_LOOK_NS;
	return !still_ours(n);
}
