// SPDX-License-Identifier: MIT
/* psub.c - pattern subscribers: a subscriber per matching topic, new ones found by inotify. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"
#include "wait.h"

/* A file made or moved in (a new topic), removed or moved away, or its mode changed (a
 * creator's fchmod() after the open: a file we could not read may be readable now). */
#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB | IN_ONLYDIR)

#define LOOK_EVERY 256u /* receive calls between looks for new and removed topics */
#define IDLE_LOOK_NS 100000ull /* a receive that finds nothing looks at most this often */
#define WAIT_SLICE_NS 10000000ull /* a parked waiter looks again this often */
#define TURN_SLICE_NS 1000000ull /* above 128 topics: each turn of 128 parks this long */
#define RETRY_MIN_NS 1000000ull /* a failed attach is tried again after 1 ms, */
#define RETRY_MAX_NS 1000000000ull /* doubling up to 1 s */
#define ON_EVENT UINT64_MAX /* retry_ns: only when an event names the file again */
#define PSUB_START (SHMQ_SUB_LATEST | SHMQ_SUB_EARLIEST)

/* One topic whose name matches: attached (@sub), or waiting to be. */
struct ent {
	char name[SHMQ_NAME_MAX + 1];
	shmq_sub *sub;
	uint64_t ino; /* the file @sub attached: a new file under the name is a new topic */
	uint64_t received;
	uint64_t retry_ns; /* not attached: when to try again (ON_EVENT: on the next event) */
	uint64_t backoff_ns;
	uint32_t ignore_closed; /* a close of its producers a wait has seen already */
	unsigned start; /* SHMQ_SUB_LATEST or SHMQ_SUB_EARLIEST */
	int error; /* why it is not attached */
	bool gone; /* its file was removed: read what is left, then close */
};

struct shmq_psub {
	struct shmq_bus bus; /* a copy: the caller may close its bus handle */
	struct shmqi_pattern pat;
	char pattern[SHMQ_PATTERN_MAX + 1];
	struct shmq_topic_config cfg;
	bool has_cfg;
	int ifd; /* inotify on /dev/shm, non-blocking */
	int dfd; /* the daemon's events for the pattern ("watch"), or -1 */
	char prefix[8 + SHMQ_NAMESPACE_MAX]; /* "shmq.NS." */
	size_t prefix_len;
	struct ent **v; /* in the order they were found; receives take turns in it */
	size_t n, cap;
	size_t next; /* the entry the next receive starts at */
	size_t turn; /* above 128 topics: the entry the next wait's turn starts at */
	unsigned since_look;
	uint64_t looked_ns;
	uint64_t retry_due_ns; /* the earliest retry_ns of an entry not attached */
	uint64_t attaches; /* attaches so far: a look says whether it made one */
	bool rescan; /* events were lost (queue overflow, no memory): list the namespace */
	struct shmqi_held hdrs; /* the last record's headers (a copy: its topic may close) */
};

/* The inode of the namespace's file @name, without following a link; false if none. */
static bool file_ino(const shmq_psub *ps, const char *name, uint64_t *ret_ino)
{
	char path[sizeof(SHMQI_SHM_DIR) + SHMQI_PATH_MAX];
	struct stat st;

	shmqi_seg_file(&ps->bus, name, path, sizeof(path));
	if (lstat(path, &st) < 0)
		return false;
	*ret_ino = (uint64_t)st.st_ino;
	return true;
}

/* The entry of @name that is not gone, or NULL. */
static struct ent *find(const shmq_psub *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (!ps->v[i]->gone && strcmp(ps->v[i]->name, name) == 0)
			return ps->v[i];
	return NULL;
}

static struct ent *add(shmq_psub *ps, const char *name, unsigned start)
{
	struct ent **v, *e;
	size_t cap;

	if (ps->n == ps->cap) {
		cap = ps->cap ? ps->cap * 2 : 16;
		v = realloc(ps->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		ps->v = v;
		ps->cap = cap;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->start = start;
	e->error = -EAGAIN; /* not tried yet */
	ps->v[ps->n++] = e;
	ps->retry_due_ns = 0; /* try it at the next look */
	return e;
}

/* Drop entry @i, closing its subscriber; the turns go on where they were. */
static void drop(shmq_psub *ps, size_t i)
{
	shmq_sub_close(ps->v[i]->sub);
	free(ps->v[i]);
	memmove(&ps->v[i], &ps->v[i + 1], (ps->n - i - 1) * sizeof(ps->v[0]));
	ps->n--;
	if (ps->next > i)
		ps->next--;
	if (ps->next >= ps->n)
		ps->next = 0;
	if (ps->turn > i)
		ps->turn--;
}

static size_t index_of(const shmq_psub *ps, const struct ent *e)
{
	size_t i = 0;

	while (ps->v[i] != e)
		i++;
	return i;
}

/*
 * Make what we know of @name agree with /dev/shm, whatever the event said (events may be
 * stale, or come in any order with our own listing): a subscriber whose file is gone or was
 * replaced is marked gone; an existing file we have no subscriber for is (re)tried now.
 */
static int reconcile(shmq_psub *ps, const char *name, unsigned start)
{
	uint64_t ino = 0;
	bool exists = file_ino(ps, name, &ino);
	struct ent *e = find(ps, name);

	if (e && e->sub && (!exists || ino != e->ino)) {
		e->gone = true;
		e = NULL;
	}
	if (e && !e->sub && !exists) {
		drop(ps, index_of(ps, e));
		return 0;
	}
	if (!exists || (e && e->sub))
		return 0;
	if (!e && !(e = add(ps, name, start))) {
		ps->rescan = true; /* the name is lost: a listing will find it again */
		return -ENOMEM;
	}
	e->retry_ns = 0;
	e->backoff_ns = 0;
	ps->retry_due_ns = 0;
	return 0;
}

/*
 * Attach @e's topic. The inode before and after tells that the subscriber is on the file
 * the name has now, so that events about it are judged right (reconcile()).
 * Return: 0, or the error of shmq_sub_open(), -ENOENT, -EAGAIN (the file changed meanwhile).
 */
static int attach(shmq_psub *ps, struct ent *e)
{
	const struct shmq_topic_config *cfg = ps->has_cfg ? &ps->cfg : NULL;
	uint64_t ino, again;
	shmq_sub *sub;
	int r;

	if (!file_ino(ps, e->name, &ino))
		return -ENOENT;
	r = shmq_sub_open(&ps->bus, e->name, e->start, cfg, 0, &sub);
	if (r < 0)
		return r;
	if (!file_ino(ps, e->name, &again) || again != ino) {
		shmq_sub_close(sub);
		return -EAGAIN;
	}
	e->sub = sub;
	e->ino = ino;
	e->error = 0;
	ps->attaches++;
	return 0;
}

/* Note why @e could not be attached, and when to try again. */
static void failed(shmq_psub *ps, struct ent *e, int err, uint64_t now)
{
	e->error = err;
	if (err == -EPROTOTYPE || err == -EBADE || err == -EINVAL) {
		e->retry_ns = ON_EVENT; /* not a topic of ours to read: only a new file may be */
		return;
	}
	e->backoff_ns = e->backoff_ns ? e->backoff_ns * 2 : RETRY_MIN_NS;
	if (e->backoff_ns > RETRY_MAX_NS)
		e->backoff_ns = RETRY_MAX_NS;
	e->retry_ns = now + e->backoff_ns;
}

/*
 * Try @e without waiting on its creator: its header is read first, as a listing reads it,
 * and only a published topic is attached (shmq_sub_open() would wait up to 2 s for one).
 */
static void try_attach(shmq_psub *ps, struct ent *e, uint64_t now)
{
	struct shmq_object_info o;
	int r = shmqi_object_look(&ps->bus, e->name, &o);

	if (r == 0 && o.kind != SHMQ_KIND_TOPIC)
		r = -EPROTOTYPE;
	if (r == 0)
		r = attach(ps, e);
	if (r < 0)
		failed(ps, e, r, now);
}

static void retry_due(shmq_psub *ps, uint64_t now)
{
	uint64_t due = UINT64_MAX;
	struct ent *e;
	size_t i;

	for (i = 0; i < ps->n; i++) {
		e = ps->v[i];
		if (e->sub || e->gone)
			continue;
		if (e->retry_ns <= now)
			try_attach(ps, e, now);
		if (!e->sub && e->retry_ns < due)
			due = e->retry_ns;
	}
	ps->retry_due_ns = due;
}

/* Close the subscribers of removed topics once they have read up to the tail. */
static void close_drained(shmq_psub *ps)
{
	struct shmq_sub_stats st;
	size_t i;

	for (i = ps->n; i-- > 0;) {
		if (!ps->v[i]->gone)
			continue;
		if (!ps->v[i]->sub || shmq_sub_stats(ps->v[i]->sub, &st) < 0 ||
		    st.cursor >= st.tail)
			drop(ps, i);
	}
}

/* An event named @file in /dev/shm. */
/* A name an event told of: a new or changed topic of ours is read from its start. */
static int told_of(shmq_psub *ps, const char *name)
{
	if (!shmqi_valid_name(name) || !shmqi_pattern_matches(&ps->pat, name))
		return 0; /* groups ("TOPIC@GROUP") and others' files are no topic of ours */
	return reconcile(ps, name, SHMQ_SUB_EARLIEST);
}

static int event_on(shmq_psub *ps, const char *file)
{
	if (strncmp(file, ps->prefix, ps->prefix_len) != 0)
		return 0;
	return told_of(ps, file + ps->prefix_len);
}

/* Every event queued, none waited for. Return: 0, -ENOMEM, or the error of read(). */
static int read_events(shmq_psub *ps)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t len;
	char *p;
	int r = 0;

	for (;;) {
		len = read(ps->ifd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return errno == EAGAIN ? r : -errno;
		if (len == 0)
			return r;
		for (p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				ps->rescan = true;
			if (ev->len && event_on(ps, ev->name) < 0)
				r = -ENOMEM;
		}
	}
}

/* The daemon's events: each names a topic published now (its header is there). */
static int daemon_events(shmq_psub *ps)
{
	char name[SHMQ_NAME_MAX + 1];
	int r;

	while (ps->dfd >= 0) {
		r = shmqi_reg_event(ps->dfd, name, sizeof(name));
		if (r == -EAGAIN)
			break;
		if (r < 0) { /* the daemon went: inotify goes on alone */
			close(ps->dfd);
			ps->dfd = -1;
			break;
		}
		if (told_of(ps, name) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* One object of a listing; @start for a published topic (the others are new ones). */
static int listed(shmq_psub *ps, const struct shmq_object_info *o, unsigned start)
{
	if (o->kind == SHMQ_KIND_CHANNEL || o->kind == SHMQ_KIND_GROUP)
		return 0;
	if (!shmqi_valid_name(o->name) || !shmqi_pattern_matches(&ps->pat, o->name))
		return 0;
	if (o->kind != SHMQ_KIND_TOPIC || o->error < 0)
		start = SHMQ_SUB_EARLIEST; /* being made: a new topic */
	return reconcile(ps, o->name, start);
}

/*
 * List the namespace and reconcile every matching name in it, and every name we know (which
 * the listing may no longer have): at open, and after events were lost.
 */
static int rescan(shmq_psub *ps, unsigned start)
{
	struct shmq_object_info *objs = NULL, *grown;
	char name[SHMQ_NAME_MAX + 1];
	size_t cap = 0, i;
	int n, r = 0;

	while ((n = shmq_bus_list(&ps->bus, objs, cap)) >= 0 && (size_t)n > cap) {
		cap = (size_t)n + 16; /* room for a few that come meanwhile */
		grown = realloc(objs, cap * sizeof(*objs));
		if (!grown) {
			n = -ENOMEM;
			break;
		}
		objs = grown;
	}
	for (i = 0; n > 0 && i < (size_t)n; i++)
		if (listed(ps, &objs[i], start) < 0)
			r = -ENOMEM;
	free(objs);
	if (n < 0)
		return n;
	for (i = ps->n; i-- > 0;) { /* from the end: reconcile() drops only the one it is given */
		if (ps->v[i]->gone)
			continue;
		memcpy(name, ps->v[i]->name, sizeof(name));
		if (reconcile(ps, name, SHMQ_SUB_EARLIEST) < 0)
			r = -ENOMEM;
	}
	if (r == 0)
		ps->rescan = false;
	return r;
}

/*
 * Catch up with /dev/shm: events, a listing if events were lost, the retries that are due,
 * the removed topics that are read out. A caller's earlier detail is kept: the internal
 * opens fill it. Return: how many topics it attached (>= 0), or -ENOMEM, -errno of read().
 */
static int look(shmq_psub *ps)
{
	char saved[SHMQI_DETAIL_MAX];
	uint64_t before = ps->attaches, now;
	int r;

	shmqi_detail_save(saved);
	r = read_events(ps);
	if (r == 0)
		r = daemon_events(ps);
	if (r == 0 && ps->rescan)
		r = rescan(ps, SHMQ_SUB_EARLIEST);
	now = shmqi_mono_ns();
	if (now >= ps->retry_due_ns)
		retry_due(ps, now);
	close_drained(ps);
	ps->looked_ns = now;
	ps->since_look = 0;
	shmqi_detail_restore(saved);
	return r < 0 ? r : (int)(ps->attaches - before);
}

static int start_watch(shmq_psub *ps)
{
	int r = shmqi_reg_watch(&ps->bus, ps->pattern);

	/* The daemon tells of topics as their creators publish them; inotify stays, for the
	 * topics made by processes that never talk to it, and for a daemon that goes away. */
	if (r < 0 && r != -ENOTCONN)
		return r;
	ps->dfd = r;
	ps->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ps->ifd < 0)
		return -errno;
	if (inotify_add_watch(ps->ifd, SHMQI_SHM_DIR, WATCH_MASK) < 0)
		return -errno;
	return 0;
}

int shmq_psub_open(shmq_bus *bus, const char *pattern, unsigned flags,
		   const struct shmq_topic_config *cfg, shmq_psub **ret_psub)
{
	unsigned start = flags & PSUB_START;
	shmq_psub *ps;
	int r;

	shmqi_detail_clear();
	if (!bus || !ret_psub || (flags & ~PSUB_START) || start == PSUB_START)
		return -EINVAL;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->ifd = -1;
	ps->dfd = -1;
	r = shmqi_held_copy(&ps->hdrs, NULL, 0); /* its buffer now: a receive cannot fail on it */
	if (r == 0)
		r = shmqi_pattern_compile(pattern, &ps->pat);
	if (r == 0)
		snprintf(ps->pattern, sizeof(ps->pattern), "%s", pattern);
	if (r < 0)
		goto err;
	ps->bus = *bus;
	ps->has_cfg = cfg != NULL;
	if (cfg)
		ps->cfg = *cfg;
	ps->prefix_len = (size_t)snprintf(ps->prefix, sizeof(ps->prefix), "shmq.%s.", bus->ns);
	/* The watch before the listing: a topic made in between is in one or the other. */
	r = start_watch(ps);
	if (r == 0)
		r = rescan(ps, start ? start : SHMQ_SUB_LATEST);
	if (r == 0)
		retry_due(ps, shmqi_mono_ns());
	if (r < 0)
		goto err;
	ps->looked_ns = shmqi_mono_ns();
	shmqi_detail_clear(); /* the attaches fill it; an open that worked leaves none */
	*ret_psub = ps;
	return 0;

err:
	shmq_psub_close(ps);
	return r;
}

void shmq_psub_close(shmq_psub *psub)
{
	size_t i;

	if (!psub)
		return;
	for (i = 0; i < psub->n; i++) {
		shmq_sub_close(psub->v[i]->sub);
		free(psub->v[i]);
	}
	free(psub->v);
	if (psub->ifd >= 0)
		close(psub->ifd);
	if (psub->dfd >= 0)
		close(psub->dfd);
	free(psub->hdrs.buf);
	free(psub);
}

/* One round of turns: the first attached topic with a record, from @ps->next on. */
static int recv_round(shmq_psub *ps, void *buf, size_t buf_len, struct shmq_sub_msg *ret_info,
		      char *topic_buf)
{
	struct shmq_sub_msg m;
	const void *h;
	struct ent *e;
	size_t k, i, hn;
	int r;

	for (k = 0; k < ps->n; k++) {
		i = (ps->next + k) % ps->n;
		e = ps->v[i];
		if (!e->sub)
			continue;
		r = shmq_sub_recv(e->sub, buf, buf_len, &m);
		if (r == -EAGAIN)
			continue;
		/* a record too long for @buf stays next, and so does its topic */
		ps->next = r == -EMSGSIZE ? i : (i + 1) % ps->n;
		ps->hdrs.len = 0;
		if (r >= 0) {
			e->received++;
			shmq_sub_headers(e->sub, &h, &hn);
			shmqi_held_copy(&ps->hdrs, h, (uint32_t)hn); /* the buffer is there */
		}
		if (ret_info && (r >= 0 || r == -EMSGSIZE))
			*ret_info = m;
		if (topic_buf)
			memcpy(topic_buf, e->name, strlen(e->name) + 1);
		return r;
	}
	return -EAGAIN;
}

int shmq_psub_recv(shmq_psub *psub, void *buf, size_t buf_len, struct shmq_sub_msg *ret_info,
		   char *topic_buf, size_t topic_len)
{
	int r;

	if (!psub || (!buf && buf_len) || (topic_buf && topic_len < SHMQ_NAME_MAX + 1))
		return -EINVAL;
	if (++psub->since_look >= LOOK_EVERY)
		look(psub); /* a failure is seen again by the look of an idle receive */
	r = recv_round(psub, buf, buf_len, ret_info, topic_buf);
	if (r != -EAGAIN || shmqi_mono_ns() - psub->looked_ns < IDLE_LOOK_NS)
		return r;
	r = look(psub);
	if (r < 0)
		return r;
	return recv_round(psub, buf, buf_len, ret_info, topic_buf);
}

/* Up to 128 attached topics to park on: all of them, or the next turn's 128 above that. */
static size_t fill(shmq_psub *ps, struct shmqi_waitable *ws, struct ent **es, uint64_t *slice,
		   bool *ret_turns)
{
	size_t attached = 0, n = 0, k, first, i;
	struct ent *e;

	for (i = 0; i < ps->n; i++)
		attached += ps->v[i]->sub != NULL;
	*ret_turns = attached > SHMQ_WAIT_MANY_MAX;
	first = *ret_turns ? ps->turn % ps->n : 0;
	for (k = 0; k < ps->n && n < SHMQ_WAIT_MANY_MAX; k++) {
		e = ps->v[(first + k) % ps->n];
		if (!e->sub || shmqi_sub_waitable(e->sub, &ws[n], slice) < 0)
			continue;
		/* a close this handle's waits reported already ends no later wait */
		if (e->ignore_closed)
			ws[n].ignore_closed = e->ignore_closed;
		es[n++] = e;
	}
	if (*ret_turns)
		ps->turn = (first + k) % ps->n;
	return n;
}

/* The earliest of @a and @b. */
static uint64_t min_ns(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Nothing attached: wait on the inotify descriptor, until @deadline or a retry is due. */
static int wait_events(shmq_psub *ps, uint64_t deadline)
{
	struct pollfd pfd[2] = { { .fd = ps->ifd, .events = POLLIN },
				 { .fd = ps->dfd, .events = POLLIN } };
	uint64_t now = shmqi_mono_ns(), until = min_ns(deadline, ps->retry_due_ns);
	struct timespec ts;
	int r;

	if (ps->rescan) /* a listing failed for want of memory: try again soon */
		until = min_ns(until, now + WAIT_SLICE_NS);
	if (until <= now)
		return now >= deadline ? -ETIMEDOUT : -EAGAIN;
	ts = (struct timespec){ .tv_sec = (time_t)((until - now) / 1000000000u),
				.tv_nsec = (long)((until - now) % 1000000000u) };
	r = ppoll(pfd, ps->dfd >= 0 ? 2 : 1, until == UINT64_MAX ? NULL : &ts, NULL);
	if (r < 0 && errno != EINTR)
		return -errno;
	return r > 0 || shmqi_mono_ns() < deadline ? -EAGAIN : -ETIMEDOUT;
}

/*
 * Park on the attached topics for one slice. Return: 0 (one is ready), -EAGAIN (the slice
 * ended: look again), -ETIMEDOUT (@deadline passed), or the error of the wait.
 */
static int wait_round(shmq_psub *ps, uint64_t spin_ns, uint64_t deadline)
{
	struct shmqi_waitable ws[SHMQ_WAIT_MANY_MAX];
	struct ent *es[SHMQ_WAIT_MANY_MAX];
	int out[SHMQ_WAIT_MANY_MAX];
	uint64_t slice = 0, now = shmqi_mono_ns(), end;
	bool turns;
	size_t n = fill(ps, ws, es, &slice, &turns), i;
	int r;

	if (n == 0)
		return wait_events(ps, deadline);
	end = now + (turns ? TURN_SLICE_NS : WAIT_SLICE_NS);
	/* a retry due sooner cuts the slice, but not below an idle look's spacing */
	end = min_ns(end,
		     ps->retry_due_ns > now + IDLE_LOOK_NS ? ps->retry_due_ns : now + IDLE_LOOK_NS);
	end = min_ns(end, deadline);
	r = shmqi_wait_many(ws, n, out, spin_ns, end, slice);
	if (r == -ETIMEDOUT)
		return end >= deadline ? -ETIMEDOUT : -EAGAIN;
	if (r < 0)
		return r;
	for (i = 0; i < n; i++)
		if (out[i] == 1)
			return 0;
	/* Only closes: the topics' producers went away, which ends no pattern wait. */
	for (i = 0; i < n; i++)
		if (out[i] == -EPIPE)
			es[i]->ignore_closed =
				atomic_load_explicit(&ws[i].w->closed, memory_order_seq_cst);
	return -EAGAIN;
}

int shmq_psub_wait(shmq_psub *psub, uint64_t spin_ns, uint64_t timeout_ns)
{
	uint64_t deadline;
	int r;

	if (!psub)
		return -EINVAL;
	deadline = shmqi_deadline(timeout_ns);
	for (;;) {
		r = look(psub);
		if (r < 0)
			return r;
		r = wait_round(psub, spin_ns, deadline);
		if (r != -EAGAIN)
			return r;
		if (shmqi_mono_ns() >= deadline)
			return -ETIMEDOUT;
		spin_ns = 0; /* the spin is the first round's only */
	}
}

int shmq_psub_add_topic(shmq_psub *psub, const char *topic)
{
	struct ent *e;
	int r;

	shmqi_detail_clear();
	if (!psub || !shmqi_valid_name(topic))
		return -EINVAL;
	if (!shmqi_pattern_matches(&psub->pat, topic)) {
		shmqi_detail("topic '%s' does not match the pattern '%s'", topic, psub->pat.text);
		return -EINVAL;
	}
	e = find(psub, topic);
	if (e && e->sub)
		return 0;
	if (e) { /* known to discovery: on failure it stays known */
		r = attach(psub, e);
		if (r < 0)
			failed(psub, e, r, shmqi_mono_ns());
		return r < 0 ? r : 1;
	}
	e = add(psub, topic, SHMQ_SUB_EARLIEST);
	if (!e)
		return -ENOMEM;
	r = attach(psub, e);
	if (r < 0)
		drop(psub, psub->n - 1);
	return r < 0 ? r : 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct shmq_psub_topic *)a)->name,
		      ((const struct shmq_psub_topic *)b)->name);
}

int shmq_psub_topics(const shmq_psub *psub, struct shmq_psub_topic *topics, size_t max)
{
	struct shmq_psub_topic *all;
	size_t n = 0, i;

	if (!psub || (!topics && max))
		return -EINVAL;
	all = malloc((psub->n ? psub->n : 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (i = 0; i < psub->n; i++) {
		/* removed topics, and what turned out to be no topic (a channel) */
		if (psub->v[i]->gone || (!psub->v[i]->sub && psub->v[i]->error == -EPROTOTYPE))
			continue;
		memcpy(all[n].name, psub->v[i]->name, sizeof(all[n].name));
		all[n].error = psub->v[i]->sub ? 0 : psub->v[i]->error;
		all[n++].received = psub->v[i]->received;
	}
	if (n)
		qsort(all, n, sizeof(all[0]), by_name);
	if (max > n)
		max = n;
	if (max)
		memcpy(topics, all, max * sizeof(topics[0]));
	free(all);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int shmq_psub_headers(const shmq_psub *psub, const void **ret_hdrs, size_t *ret_len)
{
	return psub ? shmqi_held_get(&psub->hdrs, ret_hdrs, ret_len) : -EINVAL;
}
