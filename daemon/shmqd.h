/* SPDX-License-Identifier: MIT */
/* shmqd.h - what shmqd's files share: the daemon's state, its clients and the processes it watches. */
#ifndef SHMQD_H
#define SHMQD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "loop.h"
#include "proto.h"
#include "shmq.h"

struct MHD_Daemon;

#define MAX_CLIENTS 4096
#define MAX_GROUPS 64 /* supplementary groups of a peer that count for permissions */
#define MAX_WATCHES 16 /* patterns per client connection */
#define SWEEP_MS 2000 /* the periodic look for deaths no pidfd told of, and new owners */

/* A process the daemon watches through a pidfd: a client, or an owner found in a table. */
#define PROC_OBJECTS 32 /* objects remembered per process; more: a death reaps them all */

struct proc {
	struct watch w; /* the pidfd */
	pid_t pid;
	uint64_t start; /* /proc/PID/stat's start time: tells a reused pid apart */
	/* What it opened through the daemon ("TOPIC", "TOPIC@GROUP", "CHANNEL"), reaped first
	 * when it dies; the rest of the namespace follows at the next sweep. */
	char *objects[PROC_OBJECTS];
	uint32_t kinds[PROC_OBJECTS];
	int nobjects;
	bool unknown; /* adopted, or more than PROC_OBJECTS: reap everything at once */
	struct proc *next;
};

/* One connection. */
struct client {
	struct watch w;
	struct daemon *d;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	int ngroups;
	char *patterns[MAX_WATCHES];
	int npatterns;
	struct client *next;
};

/* A topic configuration declared ahead of its creation (the config file, or "declare"). */
struct decl {
	char *name;
	struct shmq_topic_config cfg;
	struct decl *next;
};

struct daemon {
	struct loop loop;
	shmq_bus *bus;
	const char *ns;
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[4096];
	char state_path[4096];
	int lock_fd;
	struct watch listen_w, signal_w, timer_w, inotify_w, http_w;
	struct MHD_Daemon *http; /* --metrics: NULL without */
	struct client *clients;
	int nclients;
	struct proc *procs;
	int nprocs;
	struct decl *decls;
	uint64_t started_ns;
	uint64_t requests, refused, deaths, freed;
	bool stop;
	bool state_dirty;
	bool verbose;
};

/* shmqd.c */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* server.c: the listening socket and the requests */
int server_listen(struct daemon *d);
void server_close(struct daemon *d);
/* Tell every client watching a pattern that matches @name that it appeared (or went). */
void server_notify(struct daemon *d, const char *name, bool created);
struct decl *decl_find(struct daemon *d, const char *name);
int decl_set(struct daemon *d, const char *name, const struct shmq_topic_config *cfg);

/* http.c: --metrics, GET /metrics from the loop. 0, or -errno (said in the log). */
struct sockaddr_storage;
/* Whether --metrics @addr_port is one http_start() takes, before the daemon starts. */
int http_check(const char *addr_port, bool any_address, struct sockaddr_storage *ret_sa);
int http_start(struct daemon *d, const char *addr_port, bool any_address);
/* MHD's connection timeouts: from the sweep timer. */
void http_tick(struct daemon *d);
void http_stop(struct daemon *d);

/* procs.c: liveness and cleanup */
/* Watch process @pid (with its pidfd @pidfd, or -1 to open one). 0 or -errno. */
int procs_watch(struct daemon *d, pid_t pid, int pidfd);
/*
 * Free what dead processes left in every object of the namespace, and with @adopt_owners
 * first watch the owners found in its tables (topics' producers and subscribers, groups'
 * members, channels' roles: after a restart, and at each sweep): one listing of the
 * namespace for both. Return: the number of entries freed.
 */
uint32_t procs_sweep(struct daemon *d, bool adopt_owners);
/* Process @pid opened object @name of @kind through the daemon. */
void procs_opened(struct daemon *d, pid_t pid, uint32_t kind, const char *name);
/* The namespace's objects (NULL when none or no memory), *@ret_n of them; free() them. */
struct shmq_object_info *objects_list(struct daemon *d, size_t *ret_n);
/* "TOPIC@GROUP": the group's name, with the topic's in @topic; NULL if it is not one. */
const char *group_split(const char *name, char topic[SHMQ_NAME_MAX + 1]);
void procs_close(struct daemon *d);
/* The state file: written atomically (a temporary file renamed), read at start. */
int state_save(struct daemon *d);
int state_load(struct daemon *d);

#endif /* SHMQD_H */
