// SPDX-License-Identifier: MIT
/*
 * priority.c - priority topics (shmq/priority.h): a topic per level, "NAME.pK", and receivers
 * that take the levels highest first (strict) or by weight 2^K (smooth weighted round robin:
 * each receive adds every level's weight to its credit, serves the level with the most, and
 * takes the total off the level it served).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wait.h"

#define LEVEL_NAME_MAX (SHMQ_NAME_MAX - 3) /* room for ".pK" */

struct sched {
	unsigned n;
	bool weighted;
	int64_t credit[SHMQ_PRIO_MAX_LEVELS];
};

struct shmq_prio_pub {
	unsigned n;
	shmq_pub *lv[SHMQ_PRIO_MAX_LEVELS];
};

struct shmq_prio_group {
	struct sched s;
	shmq_group *lv[SHMQ_PRIO_MAX_LEVELS];
};

struct shmq_prio_sub {
	struct sched s;
	shmq_sub *lv[SHMQ_PRIO_MAX_LEVELS];
};

static int level_name(const char *name, unsigned k, char out[SHMQ_NAME_MAX + 1])
{
	if (!shmqi_valid_name(name) || strlen(name) > LEVEL_NAME_MAX)
		return -EINVAL;
	size_t n = strlen(name);

	memcpy(out, name, n);
	out[n] = '.';
	out[n + 1] = 'p';
	out[n + 2] = (char)('0' + k % 10); /* k < SHMQ_PRIO_MAX_LEVELS */
	out[n + 3] = '\0';
	return 0;
}

/* How many levels priority topic @name has: its consecutive "NAME.pK" topics from 0. */
static int count_levels(shmq_bus *bus, const char *name)
{
	int k = shmqi_count_series(bus, name, SHMQ_PRIO_MAX_LEVELS, level_name);

	return k >= 0 && (unsigned)k < SHMQ_PRIO_MIN_LEVELS ? -ENOENT : k;
}

/* The order in which a receive looks at the levels: the scheduled one first, then strict. */
static void plan(struct sched *s, unsigned order[SHMQ_PRIO_MAX_LEVELS])
{
	unsigned k, best = s->n - 1, i = 0;

	if (s->weighted) {
		for (k = 0; k < s->n; k++) {
			s->credit[k] += (int64_t)1 << k;
			if (s->credit[k] > s->credit[best])
				best = k;
		}
		order[i++] = best;
	}
	for (k = s->n; k-- > 0;)
		if (!s->weighted || k != best)
			order[i++] = k;
}

/* Level @k served: the total weight comes off its credit (weighted). */
static void served(struct sched *s, unsigned k)
{
	if (s->weighted)
		s->credit[k] -= ((int64_t)1 << s->n) - 1;
}

/* Nothing served: this round's weights come off again, so idle rounds change nothing. */
static void unplan(struct sched *s)
{
	unsigned k;

	for (k = 0; s->weighted && k < s->n; k++)
		s->credit[k] -= (int64_t)1 << k;
}

/*
 * Park on every level's @handles (of @kind): shmqi_wait_open(), so that a closed level,
 * waited on no more, does not end every wait at once.
 */
static int wait_levels(void **handles, unsigned n, int kind, uint64_t spin_ns, uint64_t timeout_ns)
{
	struct shmq_wait_entry w[SHMQ_PRIO_MAX_LEVELS];
	unsigned k;

	for (k = 0; k < n; k++)
		w[k] = (struct shmq_wait_entry){ .kind = kind, .handle = handles[k] };
	return shmqi_wait_open(w, n, spin_ns, timeout_ns);
}

/* ---- producers ---- */

int shmq_prio_pub_open(shmq_bus *bus, const char *name, unsigned levels, unsigned flags,
		       const struct shmq_topic_config *cfg, shmq_prio_pub **ret_pub)
{
	char ln[SHMQ_NAME_MAX + 1];
	shmq_prio_pub *p;
	unsigned k;
	int n, r;

	if (!bus || !ret_pub || (flags & ~SHMQ_OPEN_CREATE) ||
	    (levels && (levels < SHMQ_PRIO_MIN_LEVELS || levels > SHMQ_PRIO_MAX_LEVELS)) ||
	    (!levels && (flags & SHMQ_OPEN_CREATE)) || level_name(name, 0, ln) < 0)
		return -EINVAL;
	n = count_levels(bus, name);
	if (n < 0 && (n != -ENOENT || !(flags & SHMQ_OPEN_CREATE)))
		return n;
	if (n > 0 && levels && (unsigned)n != levels) {
		shmqi_detail("priority topic '%s' has %d levels, not %u", name, n, levels);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n = levels ? levels : (unsigned)n;
	for (k = 0, r = 0; k < p->n && r == 0; k++) {
		level_name(name, k, ln);
		r = shmq_pub_open(bus, ln, flags, cfg, &p->lv[k]);
	}
	if (r < 0) {
		shmq_prio_pub_close(p);
		return r;
	}
	*ret_pub = p;
	return 0;
}

void shmq_prio_pub_close(shmq_prio_pub *p)
{
	unsigned k;

	if (!p)
		return;
	for (k = 0; k < SHMQ_PRIO_MAX_LEVELS; k++)
		shmq_pub_close(p->lv[k]);
	free(p);
}

unsigned shmq_prio_levels(const shmq_prio_pub *p)
{
	return p ? p->n : 0;
}

shmq_pub *shmq_prio_pub_level(shmq_prio_pub *p, unsigned level)
{
	return p && level < p->n ? p->lv[level] : NULL;
}

int shmq_prio_send_hdrs(shmq_prio_pub *p, unsigned level, const void *hdrs, size_t hdrs_len,
			const void *data, size_t len, uint64_t corr_id)
{
	if (!p || level >= p->n)
		return -EINVAL;
	return shmq_pub_send_hdrs(p->lv[level], hdrs, hdrs_len, data, len, corr_id);
}

int shmq_prio_send(shmq_prio_pub *p, unsigned level, const void *data, size_t len, uint64_t corr_id)
{
	if (!p || level >= p->n)
		return -EINVAL;
	return shmq_pub_send(p->lv[level], data, len, corr_id);
}

/* ---- group members ---- */

int shmq_prio_group_open(shmq_bus *bus, const char *name, const char *group, unsigned flags,
			 const struct shmq_group_config *cfg, shmq_prio_group **ret_member)
{
	char ln[SHMQ_NAME_MAX + 1];
	shmq_prio_group *m;
	unsigned k;
	int n, r = 0;

	if (!bus || !ret_member)
		return -EINVAL;
	n = count_levels(bus, name);
	if (n < 0)
		return n;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->s.n = (unsigned)n;
	m->s.weighted = flags & SHMQ_PRIO_WEIGHTED;
	for (k = 0; k < m->s.n && r == 0; k++) {
		level_name(name, k, ln);
		r = shmq_group_open(bus, ln, group, flags & ~SHMQ_PRIO_WEIGHTED, cfg, &m->lv[k]);
	}
	if (r < 0) {
		shmq_prio_group_close(m);
		return r;
	}
	*ret_member = m;
	return 0;
}

void shmq_prio_group_close(shmq_prio_group *m)
{
	unsigned k;

	if (!m)
		return;
	for (k = 0; k < SHMQ_PRIO_MAX_LEVELS; k++)
		shmq_group_close(m->lv[k]);
	free(m);
}

shmq_group *shmq_prio_group_level(shmq_prio_group *m, unsigned level)
{
	return m && level < m->s.n ? m->lv[level] : NULL;
}

int shmq_prio_group_recv(shmq_prio_group *m, void *buf, size_t buf_len,
			 struct shmq_group_msg *ret_info, unsigned *ret_level)
{
	unsigned order[SHMQ_PRIO_MAX_LEVELS], i;
	int r = -EAGAIN;

	if (!m || !ret_info || !ret_level)
		return -EINVAL;
	plan(&m->s, order);
	for (i = 0; i < m->s.n; i++) {
		r = shmq_group_recv(m->lv[order[i]], buf, buf_len, ret_info);
		if (r != -EAGAIN) {
			*ret_level = order[i];
			served(&m->s, order[i]);
			return r;
		}
	}
	unplan(&m->s);
	return r;
}

int shmq_prio_group_wait(shmq_prio_group *m, uint64_t spin_ns, uint64_t timeout_ns)
{
	return m ? wait_levels((void **)m->lv, m->s.n, SHMQ_WAIT_GROUP, spin_ns, timeout_ns)
		 : -EINVAL;
}

/* ---- subscribers ---- */

int shmq_prio_sub_open(shmq_bus *bus, const char *name, unsigned flags, uint64_t from_seq,
		       shmq_prio_sub **ret_sub)
{
	char ln[SHMQ_NAME_MAX + 1];
	shmq_prio_sub *s;
	unsigned k;
	int n, r = 0;

	if (!bus || !ret_sub)
		return -EINVAL;
	n = count_levels(bus, name);
	if (n < 0)
		return n;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->s.n = (unsigned)n;
	s->s.weighted = flags & SHMQ_PRIO_WEIGHTED;
	for (k = 0; k < s->s.n && r == 0; k++) {
		level_name(name, k, ln);
		r = shmq_sub_open(bus, ln, flags & ~SHMQ_PRIO_WEIGHTED, NULL, from_seq, &s->lv[k]);
	}
	if (r < 0) {
		shmq_prio_sub_close(s);
		return r;
	}
	*ret_sub = s;
	return 0;
}

void shmq_prio_sub_close(shmq_prio_sub *s)
{
	unsigned k;

	if (!s)
		return;
	for (k = 0; k < SHMQ_PRIO_MAX_LEVELS; k++)
		shmq_sub_close(s->lv[k]);
	free(s);
}

shmq_sub *shmq_prio_sub_level(shmq_prio_sub *s, unsigned level)
{
	return s && level < s->s.n ? s->lv[level] : NULL;
}

int shmq_prio_sub_recv(shmq_prio_sub *s, void *buf, size_t buf_len, struct shmq_sub_msg *ret_info,
		       unsigned *ret_level)
{
	unsigned order[SHMQ_PRIO_MAX_LEVELS], i;
	int r = -EAGAIN;

	if (!s || !ret_level)
		return -EINVAL;
	plan(&s->s, order);
	for (i = 0; i < s->s.n; i++) {
		r = shmq_sub_recv(s->lv[order[i]], buf, buf_len, ret_info);
		if (r != -EAGAIN) {
			*ret_level = order[i];
			served(&s->s, order[i]);
			return r;
		}
	}
	unplan(&s->s);
	return r;
}

int shmq_prio_sub_wait(shmq_prio_sub *s, uint64_t spin_ns, uint64_t timeout_ns)
{
	return s ? wait_levels((void **)s->lv, s->s.n, SHMQ_WAIT_SUB, spin_ns, timeout_ns)
		 : -EINVAL;
}
