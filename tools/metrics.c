// SPDX-License-Identifier: MIT
/*
 * metrics.c - a namespace's topics, subscribers, groups and channels (and shmqd's counters)
 * in the Prometheus text exposition format 0.0.4.
 *
 * The format wants every sample of a family together, under one HELP and one TYPE line, so
 * the namespace is looked at first (a snapshot of every object's stat) and written family by
 * family from that snapshot. Each object is read on its own: the snapshot is no atomic look
 * at the namespace, as `shmq ls` is not.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* One family: its name after "shmq_", its type, its help text, the multiplier to its base
 * unit (0: an integer written as it is). */
struct family {
	const char *name, *type, *help;
	double scale;
};

enum {
	T_RECORDS,
	T_TAIL,
	T_OLDEST,
	T_SKIPPED,
	T_EXPIRED,
	T_SUBS,
	T_PRODS,
	T_SLOTS,
	T_MAXMSG,
	T_CLAIM,
	NT
};
static const struct family topic_fams[NT] = {
	[T_RECORDS] = { .name = "topic_records_total",
			.type = "counter",
			.help = "Records published to the topic (its tail - 1), skipped ones "
				"included." },
	[T_TAIL] = { .name = "topic_tail",
		     .type = "gauge",
		     .help = "Sequence number the next record will get." },
	[T_OLDEST] = { .name = "topic_oldest",
		       .type = "gauge",
		       .help = "Oldest sequence number the log may still hold." },
	[T_SKIPPED] = { .name = "topic_skipped_total",
			.type = "counter",
			.help = "Records skipped (dead claimants, aborted claims)." },
	[T_EXPIRED] = { .name = "topic_expired_total",
			.type = "counter",
			.help = "Records subscribers skipped because their expiry had passed, once "
				"per subscriber." },
	[T_SUBS] = { .name = "topic_subscribers", .type = "gauge", .help = "Live subscribers." },
	[T_PRODS] = { .name = "topic_producers", .type = "gauge", .help = "Live producers." },
	[T_SLOTS] = { .name = "topic_slots", .type = "gauge", .help = "Slots of the topic's log." },
	[T_MAXMSG] = { .name = "topic_max_message_bytes",
		       .type = "gauge",
		       .help = "Largest record payload." },
	[T_CLAIM] = { .name = "topic_claim_timeout_seconds",
		      .type = "gauge",
		      .help = "Time after which an unfinished claim is skipped.",
		      .scale = 1e-9 },
};

enum { S_LAG, S_RECEIVED, S_LOST, S_SKIPPED, NS };
static const struct family sub_fams[NS] = {
	[S_LAG] = { .name = "subscriber_lag",
		    .type = "gauge",
		    .help = "Records published that the subscriber has not read (tail - cursor; "
			    "the "
			    "largest of a process's subscribers)." },
	[S_RECEIVED] = { .name = "subscriber_received_total",
			 .type = "counter",
			 .help = "Records delivered to the subscriber (a process's subscribers "
				 "summed)." },
	[S_LOST] = { .name = "subscriber_lost_total",
		     .type = "counter",
		     .help = "Records the subscriber lost (lapped, overwritten, corrupt)." },
	[S_SKIPPED] = { .name = "subscriber_skipped_total",
			.type = "counter",
			.help = "Records the subscriber stepped over as skipped." },
};

/* One subscriber handle each: a slot of the topic's table, labelled by pid and index. */
static const struct family each_fams[NS] = {
	[S_LAG] = { .name = "subscription_lag",
		    .type = "gauge",
		    .help = "Records published that one subscriber has not read (tail - cursor); "
			    "index: its place among its process's subscribers of the topic." },
	[S_RECEIVED] = { .name = "subscription_received_total",
			 .type = "counter",
			 .help = "Records delivered to one subscriber." },
	[S_LOST] = { .name = "subscription_lost_total",
		     .type = "counter",
		     .help = "Records one subscriber lost (lapped, overwritten, corrupt)." },
	[S_SKIPPED] = { .name = "subscription_skipped_total",
			.type = "counter",
			.help = "Records one subscriber stepped over as skipped." },
};

/* One live member of a group each, labelled by pid and index, as subscriptions. */
enum { M_IN_FLIGHT, M_DELIVERED, M_ACKED, NM };
static const struct family member_fams[NM] = {
	[M_IN_FLIGHT] = { .name = "group_member_in_flight",
			  .type = "gauge",
			  .help = "Records leased to one member now; index: its place among its "
				  "process's members of the group." },
	[M_DELIVERED] = { .name = "group_member_delivered_total",
			  .type = "counter",
			  .help = "Deliveries to one member since it joined." },
	[M_ACKED] = { .name = "group_member_acked_total",
		      .type = "counter",
		      .help = "Records one member acked since it joined." },
};

enum {
	G_PENDING,
	G_IN_FLIGHT,
	G_DELAYED,
	G_LAG,
	G_MEMBERS,
	G_HOLDING,
	G_ACKED,
	G_NACKED,
	G_RELEASED,
	G_REDELIVERED,
	G_EXPIRED,
	G_DEAD,
	G_TERMINATED,
	G_DROPPED,
	G_WINDOW_FULL,
	G_LOST,
	G_SKIPPED,
	G_DELIVERED,
	G_MAX_PENDING,
	G_ACK_WAIT,
	NG
};
static const struct family group_fams[NG] = {
	[G_PENDING] = { .name = "group_pending",
			.type = "gauge",
			.help = "Records owed by the group (next - floor)." },
	[G_IN_FLIGHT] = { .name = "group_in_flight",
			  .type = "gauge",
			  .help = "Records leased to members now." },
	[G_DELAYED] = { .name = "group_delayed",
			.type = "gauge",
			.help = "Records waiting for a redelivery." },
	[G_LAG] = { .name = "group_lag",
		    .type = "gauge",
		    .help = "Records published and not done (tail - floor)." },
	[G_MEMBERS] = { .name = "group_members", .type = "gauge", .help = "Live members." },
	[G_HOLDING] = { .name = "group_holding",
			.type = "gauge",
			.help = "1 while the group holds a reliable topic's producers back." },
	[G_ACKED] = { .name = "group_acked_total", .type = "counter", .help = "Records acked." },
	[G_NACKED] = { .name = "group_nacked_total", .type = "counter", .help = "Records nacked." },
	[G_RELEASED] = { .name = "group_released_total",
			 .type = "counter",
			 .help = "Leases released without failure." },
	[G_REDELIVERED] = { .name = "group_redelivered_total",
			    .type = "counter",
			    .help = "Redeliveries." },
	[G_EXPIRED] = { .name = "group_expired_total",
			.type = "counter",
			.help = "Leases that ran out." },
	[G_DEAD] = { .name = "group_dead_lettered_total",
		     .type = "counter",
		     .help = "Records dead-lettered." },
	[G_TERMINATED] = { .name = "group_terminated_total",
			   .type = "counter",
			   .help = "Records terminated by members." },
	[G_DROPPED] = { .name = "group_dropped_total",
			.type = "counter",
			.help = "Dead letters dropped (a group without a dead-letter topic)." },
	[G_WINDOW_FULL] = { .name = "group_window_full_total",
			    .type = "counter",
			    .help = "Receives refused because the window was full." },
	[G_LOST] = { .name = "group_lost_total",
		     .type = "counter",
		     .help = "Records overwritten while owed (lossy topics)." },
	[G_SKIPPED] = { .name = "group_skipped_total",
			.type = "counter",
			.help = "Records the topic skipped." },
	[G_DELIVERED] = { .name = "group_delivered_total",
			  .type = "counter",
			  .help = "Deliveries, first ones and redeliveries." },
	[G_MAX_PENDING] = { .name = "group_max_pending",
			    .type = "gauge",
			    .help = "The group's window (configuration)." },
	[G_ACK_WAIT] = { .name = "group_ack_wait_seconds",
			 .type = "gauge",
			 .help = "Lease length (configuration).",
			 .scale = 1e-9 },
};

enum { C_CAPACITY, C_MAXMSG, C_WRITTEN, C_READ, C_USED, C_MESSAGES, C_PRODUCER, C_CONSUMER, NC };
static const struct family chan_fams[NC] = {
	[C_CAPACITY] = { .name = "channel_capacity_bytes", .type = "gauge", .help = "Ring size." },
	[C_MAXMSG] = { .name = "channel_max_message_bytes",
		       .type = "gauge",
		       .help = "Largest message payload." },
	[C_WRITTEN] = { .name = "channel_written_bytes_total",
			.type = "counter",
			.help = "Bytes written by producers (the producer position)." },
	[C_READ] = { .name = "channel_read_bytes_total",
		     .type = "counter",
		     .help = "Bytes released by consumers (the consumer position)." },
	[C_USED] = { .name = "channel_used_bytes",
		     .type = "gauge",
		     .help = "Bytes written and not yet released." },
	[C_MESSAGES] = { .name = "channel_messages_total",
			 .type = "counter",
			 .help = "Messages sent." },
	[C_PRODUCER] = { .name = "channel_producer_attached",
			 .type = "gauge",
			 .help = "1 while a live process holds the producer role." },
	[C_CONSUMER] = { .name = "channel_consumer_attached",
			 .type = "gauge",
			 .help = "1 while a live process holds the consumer role." },
};

enum { D_CLIENTS, D_PROCS, D_REQUESTS, D_REFUSED, D_DEATHS, D_FREED, D_UPTIME, ND };
static const struct family daemon_fams[ND] = {
	[D_CLIENTS] = { .name = "daemon_clients",
			.type = "gauge",
			.help = "Connections to shmqd." },
	[D_PROCS] = { .name = "daemon_processes_watched",
		      .type = "gauge",
		      .help = "Processes shmqd watches (clients and owners found in tables)." },
	[D_REQUESTS] = { .name = "daemon_requests_total",
			 .type = "counter",
			 .help = "Requests served." },
	[D_REFUSED] = { .name = "daemon_refused_total",
			.type = "counter",
			.help = "Requests refused." },
	[D_DEATHS] = { .name = "daemon_deaths_total",
		       .type = "counter",
		       .help = "Deaths of watched processes settled (dead clients reaped)." },
	[D_FREED] = { .name = "daemon_freed_total",
		      .type = "counter",
		      .help = "Table entries and leases of dead processes freed." },
	[D_UPTIME] = { .name = "daemon_uptime_seconds",
		       .type = "gauge",
		       .help = "Time since shmqd started.",
		       .scale = 1e-9 },
};

struct sub_snap {
	pid_t pid;
	unsigned index; /* one handle's place among its process's (each[] and members[]) */
	uint64_t v[NS];
};

struct member_snap {
	pid_t pid;
	unsigned index;
	uint64_t v[NM];
};

struct topic_snap {
	const char *name;
	const char *policy;
	uint64_t v[NT];
	struct sub_snap *subs; /* a process's subscribers merged */
	size_t nsubs;
	struct sub_snap *each; /* each subscriber on its own */
	size_t neach;
	shmq_hist *lat; /* the subscribers' delivery latency, merged; NULL when none records */
};

struct group_snap {
	char topic[SHMQ_OBJECT_NAME_MAX + 1];
	const char *group;
	uint64_t v[NG];
	struct member_snap *members;
	size_t nmembers;
	shmq_hist *lat[2]; /* the members' delivery latency and processing time, merged */
};

struct chan_snap {
	const char *name;
	uint64_t v[NC];
};

struct snap {
	const char *ns;
	struct shmq_object_info *objs;
	struct topic_snap *topics;
	struct group_snap *groups;
	struct chan_snap *chans;
	size_t ntopics, ngroups, nchans;
	uint64_t unreadable;
};

/* ---- the look at the namespace ---- */

static int list_objects(shmq_bus *bus, struct snap *s, size_t *ret_n)
{
	size_t max = 64;
	int r;

	for (;;) {
		s->objs = calloc(max, sizeof(*s->objs));
		if (!s->objs)
			return -ENOMEM;
		r = shmq_bus_list(bus, s->objs, max);
		if (r < 0)
			return r;
		if ((size_t)r <= max) {
			*ret_n = (size_t)r;
			return 0;
		}
		/* more came than there was room for: again, with room to spare */
		free(s->objs);
		max = (size_t)r + 64;
	}
}

/* A process's subscribers as one: counters summed, the largest lag. */
static void add_sub(struct topic_snap *t, const struct shmq_topic_sub_info *si, uint64_t tail)
{
	struct sub_snap *p = NULL;
	uint64_t lag = tail > si->cursor ? tail - si->cursor : 0;

	for (size_t i = 0; i < t->nsubs && !p; i++)
		if (t->subs[i].pid == si->pid)
			p = &t->subs[i];
	if (!p) {
		p = &t->subs[t->nsubs++];
		*p = (struct sub_snap){ .pid = si->pid };
	}
	if (lag > p->v[S_LAG])
		p->v[S_LAG] = lag;
	p->v[S_RECEIVED] += si->received;
	p->v[S_LOST] += si->lost;
	p->v[S_SKIPPED] += si->skipped;
}

/* One subscriber on its own: its index counts the same process's subscribers before it. */
static void add_each(struct topic_snap *t, const struct shmq_topic_sub_info *si, uint64_t tail)
{
	struct sub_snap *e = &t->each[t->neach];

	*e = (struct sub_snap){ .pid = si->pid };
	for (size_t i = 0; i < t->neach; i++)
		e->index += t->each[i].pid == si->pid;
	e->v[S_LAG] = tail > si->cursor ? tail - si->cursor : 0;
	e->v[S_RECEIVED] = si->received;
	e->v[S_LOST] = si->lost;
	e->v[S_SKIPPED] = si->skipped;
	t->neach++;
}

static int read_subs(shmq_bus *bus, struct topic_snap *t, uint64_t tail, int n)
{
	struct shmq_topic_sub_info *subs;
	struct shmq_topic_stats st;
	int r;

	if (n <= 0)
		return 0;
	subs = calloc((size_t)n, sizeof(*subs));
	t->subs = calloc((size_t)n, sizeof(*t->subs));
	t->each = calloc((size_t)n, sizeof(*t->each));
	if (!subs || !t->subs || !t->each) {
		free(subs);
		return -ENOMEM;
	}
	r = shmq_topic_stat(bus, t->name, &st, subs, (size_t)n);
	if (r > n)
		r = n; /* the ones that joined since are for the next look */
	for (int i = 0; i < r; i++) {
		add_sub(t, &subs[i], tail);
		add_each(t, &subs[i], tail);
	}
	free(subs);
	return r < 0 ? r : 0;
}

static int read_topic(shmq_bus *bus, const char *name, struct topic_snap *t)
{
	struct shmq_topic_stats st;
	int r = shmq_topic_stat(bus, name, &st, NULL, 0);

	if (r < 0)
		return r;
	*t = (struct topic_snap){ .name = name };
	t->policy = st.policy == SHMQ_TOPIC_LOSSY ? "lossy" : "reliable";
	t->v[T_RECORDS] = st.tail ? st.tail - 1 : 0;
	t->v[T_TAIL] = st.tail;
	t->v[T_OLDEST] = st.oldest;
	t->v[T_SKIPPED] = st.skipped;
	(void)shmq_topic_expired(bus, name, &t->v[T_EXPIRED]); /* 0 when it cannot be read */
	t->v[T_SUBS] = st.subscribers;
	t->v[T_PRODS] = st.producers;
	t->v[T_SLOTS] = st.slots;
	t->v[T_MAXMSG] = st.max_msg;
	t->v[T_CLAIM] = st.claim_timeout_ns;
	(void)shmq_latency_read(bus, name, NULL, SHMQ_LATENCY_ALL, SHMQ_LATENCY_DELIVERY, NULL,
				&t->lat); /* absent: no histogram */
	r = read_subs(bus, t, st.tail, r);
	if (r < 0) { /* left out of the snapshot: nothing of it is kept */
		shmq_hist_free(t->lat);
		free(t->subs);
		free(t->each);
		*t = (struct topic_snap){ 0 };
	}
	return r;
}

/* The live members, each with its index among its process's. Return: 0 or -ENOMEM. */
static int read_members(struct group_snap *g, const struct shmq_group_member_info *mi, int n)
{
	struct member_snap *m;

	if (n <= 0)
		return 0;
	g->members = calloc((size_t)n, sizeof(*g->members));
	if (!g->members)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		m = &g->members[g->nmembers];
		*m = (struct member_snap){ .pid = mi[i].pid };
		for (size_t j = 0; j < g->nmembers; j++)
			m->index += g->members[j].pid == mi[i].pid;
		m->v[M_IN_FLIGHT] = mi[i].in_flight;
		m->v[M_DELIVERED] = mi[i].delivered;
		m->v[M_ACKED] = mi[i].acked;
		g->nmembers++;
	}
	return 0;
}

/* The group's counters into @g->v; its live members into @mi. Return: how many, or -errno. */
static int read_group_stat(shmq_bus *bus, const char *name, struct group_snap *g,
			   struct shmq_group_member_info *mi)
{
	struct shmq_group_stats st;
	const char *at = strchr(name, '@');
	int r;

	if (!at || (size_t)(at - name) >= sizeof(g->topic))
		return -EPROTO;
	memcpy(g->topic, name, (size_t)(at - name));
	g->topic[at - name] = '\0';
	g->group = at + 1;
	r = shmq_group_stat(bus, g->topic, g->group, &st, mi, SHMQ_GROUP_MAX_MEMBERS);
	if (r < 0)
		return r;
	g->v[G_PENDING] = st.pending;
	g->v[G_IN_FLIGHT] = st.in_flight;
	g->v[G_DELAYED] = st.delayed;
	g->v[G_LAG] = st.tail > st.floor ? st.tail - st.floor : 0;
	g->v[G_MEMBERS] = st.members;
	g->v[G_HOLDING] = st.holding;
	g->v[G_ACKED] = st.acked;
	g->v[G_NACKED] = st.nacked;
	g->v[G_RELEASED] = st.released;
	g->v[G_REDELIVERED] = st.redelivered;
	g->v[G_EXPIRED] = st.expired;
	g->v[G_DEAD] = st.dead_lettered;
	g->v[G_TERMINATED] = st.terminated;
	g->v[G_DROPPED] = st.dropped;
	g->v[G_WINDOW_FULL] = st.window_full;
	g->v[G_LOST] = st.lost;
	g->v[G_SKIPPED] = st.skipped;
	g->v[G_DELIVERED] = st.delivered;
	g->v[G_MAX_PENDING] = st.max_pending;
	g->v[G_ACK_WAIT] = st.ack_wait_ns;
	return r < (int)SHMQ_GROUP_MAX_MEMBERS ? r : (int)SHMQ_GROUP_MAX_MEMBERS;
}

static int read_group(shmq_bus *bus, const char *name, struct group_snap *g)
{
	struct shmq_group_member_info *mi = calloc(SHMQ_GROUP_MAX_MEMBERS, sizeof(*mi));
	int r = mi ? read_group_stat(bus, name, g, mi) : -ENOMEM;

	if (r >= 0)
		r = read_members(g, mi, r);
	free(mi);
	if (r < 0) /* left out of the snapshot: nothing of it is kept */
		return r;
	for (unsigned w = SHMQ_LATENCY_DELIVERY; w <= SHMQ_LATENCY_PROCESSING; w++)
		(void)shmq_latency_read(bus, g->topic, g->group, SHMQ_LATENCY_ALL, w, NULL,
					&g->lat[w]);
	return 0;
}

static int read_channel(shmq_bus *bus, const char *name, struct chan_snap *c)
{
	struct shmq_channel_stats st;
	int r = shmq_channel_stat(bus, name, &st);

	if (r < 0)
		return r;
	c->name = name;
	c->v[C_CAPACITY] = st.capacity;
	c->v[C_MAXMSG] = st.max_msg;
	c->v[C_WRITTEN] = st.write_pos;
	c->v[C_READ] = st.read_pos;
	c->v[C_USED] = st.write_pos > st.read_pos ? st.write_pos - st.read_pos : 0;
	c->v[C_MESSAGES] = st.next_seq ? st.next_seq - 1 : 0;
	c->v[C_PRODUCER] = st.producer_pid != 0;
	c->v[C_CONSUMER] = st.consumer_pid != 0;
	return 0;
}

/* One object into the snapshot: -ENOENT (it went meanwhile) leaves it out, another error
 * counts it as unreadable; only -ENOMEM fails the look. */
static int read_object(shmq_bus *bus, struct snap *s, const struct shmq_object_info *o)
{
	int r = -EPROTO;

	if (o->error == 0 && o->kind == SHMQ_KIND_TOPIC) {
		r = read_topic(bus, o->name, &s->topics[s->ntopics]);
		s->ntopics += r == 0;
	} else if (o->error == 0 && o->kind == SHMQ_KIND_GROUP) {
		r = read_group(bus, o->name, &s->groups[s->ngroups]);
		s->ngroups += r == 0;
	} else if (o->error == 0 && o->kind == SHMQ_KIND_CHANNEL) {
		r = read_channel(bus, o->name, &s->chans[s->nchans]);
		s->nchans += r == 0;
	}
	if (r == -ENOMEM)
		return r;
	s->unreadable += r < 0 && r != -ENOENT;
	return 0;
}

static int look(shmq_bus *bus, struct snap *s)
{
	size_t n;
	int r = list_objects(bus, s, &n);

	if (r < 0)
		return r;
	s->topics = calloc(n + 1, sizeof(*s->topics));
	s->groups = calloc(n + 1, sizeof(*s->groups));
	s->chans = calloc(n + 1, sizeof(*s->chans));
	if (!s->topics || !s->groups || !s->chans)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++)
		r = read_object(bus, s, &s->objs[i]);
	return r;
}

static void snap_free(struct snap *s)
{
	for (size_t i = 0; s->topics && i < s->ntopics; i++) {
		free(s->topics[i].subs);
		free(s->topics[i].each);
		shmq_hist_free(s->topics[i].lat);
	}
	for (size_t i = 0; s->groups && i < s->ngroups; i++) {
		free(s->groups[i].members);
		shmq_hist_free(s->groups[i].lat[0]);
		shmq_hist_free(s->groups[i].lat[1]);
	}
	free(s->topics);
	free(s->groups);
	free(s->chans);
	free(s->objs);
}

/* ---- the text ---- */

/* A label value, with backslash, double quote and newline escaped. */
static void put_escaped(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\n') {
			fputs("\\n", out);
			continue;
		}
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		fputc(*v, out);
	}
}

/* @labels: name, value pairs, ending with NULL. */
static void put_sample(FILE *out, const struct family *f, const char *const *labels, uint64_t v)
{
	fprintf(out, "shmq_%s{", f->name);
	for (const char *const *l = labels; *l; l += 2) {
		fprintf(out, "%s%s=\"", l == labels ? "" : ",", l[0]);
		put_escaped(out, l[1]);
		fputc('"', out);
	}
	if (f->scale)
		fprintf(out, "} %.9g\n", (double)v * f->scale);
	else
		fprintf(out, "} %" PRIu64 "\n", v);
}

static void put_head(FILE *out, const struct family *f)
{
	fprintf(out, "# HELP shmq_%s %s\n# TYPE shmq_%s %s\n", f->name, f->help, f->name, f->type);
}

static void write_topics(FILE *out, const struct snap *s)
{
	static const struct family info = {
		.name = "topic_info",
		.type = "gauge",
		.help = "The topic's configuration, as labels; always 1."
	};

	if (!s->ntopics)
		return;
	put_head(out, &info);
	for (size_t i = 0; i < s->ntopics; i++)
		put_sample(out, &info,
			   (const char *const[]){ "namespace", s->ns, "topic", s->topics[i].name,
						  "policy", s->topics[i].policy, NULL },
			   1);
	for (int f = 0; f < NT; f++) {
		put_head(out, &topic_fams[f]);
		for (size_t i = 0; i < s->ntopics; i++)
			put_sample(out, &topic_fams[f],
				   (const char *const[]){ "namespace", s->ns, "topic",
							  s->topics[i].name, NULL },
				   s->topics[i].v[f]);
	}
}

static void write_subs(FILE *out, const struct snap *s)
{
	char pid[16];
	size_t n = 0;

	for (size_t i = 0; i < s->ntopics; i++)
		n += s->topics[i].nsubs;
	for (int f = 0; n && f < NS; f++) {
		put_head(out, &sub_fams[f]);
		for (size_t i = 0; i < s->ntopics; i++) {
			for (size_t j = 0; j < s->topics[i].nsubs; j++) {
				snprintf(pid, sizeof(pid), "%d", (int)s->topics[i].subs[j].pid);
				put_sample(out, &sub_fams[f],
					   (const char *const[]){ "namespace", s->ns, "topic",
								  s->topics[i].name, "subscriber",
								  pid, NULL },
					   s->topics[i].subs[j].v[f]);
			}
		}
	}
}

static void write_each(FILE *out, const struct snap *s)
{
	const struct topic_snap *t;
	char pid[16], index[16];
	size_t n = 0;

	for (size_t i = 0; i < s->ntopics; i++)
		n += s->topics[i].neach;
	for (int f = 0; n && f < NS; f++) {
		put_head(out, &each_fams[f]);
		for (size_t i = 0; i < s->ntopics; i++) {
			t = &s->topics[i];
			for (size_t j = 0; j < t->neach; j++) {
				snprintf(pid, sizeof(pid), "%d", (int)t->each[j].pid);
				snprintf(index, sizeof(index), "%u", t->each[j].index);
				put_sample(out, &each_fams[f],
					   (const char *const[]){ "namespace", s->ns, "topic",
								  t->name, "pid", pid, "index",
								  index, NULL },
					   t->each[j].v[f]);
			}
		}
	}
}

static void write_members(FILE *out, const struct snap *s)
{
	const struct group_snap *g;
	char pid[16], index[16];
	size_t n = 0;

	for (size_t i = 0; i < s->ngroups; i++)
		n += s->groups[i].nmembers;
	for (int f = 0; n && f < NM; f++) {
		put_head(out, &member_fams[f]);
		for (size_t i = 0; i < s->ngroups; i++) {
			g = &s->groups[i];
			for (size_t j = 0; j < g->nmembers; j++) {
				snprintf(pid, sizeof(pid), "%d", (int)g->members[j].pid);
				snprintf(index, sizeof(index), "%u", g->members[j].index);
				put_sample(out, &member_fams[f],
					   (const char *const[]){
						   "namespace", s->ns, "topic", g->topic, "group",
						   g->group, "pid", pid, "index", index, NULL },
					   g->members[j].v[f]);
			}
		}
	}
}

static void write_groups(FILE *out, const struct snap *s)
{
	for (int f = 0; s->ngroups && f < NG; f++) {
		put_head(out, &group_fams[f]);
		for (size_t i = 0; i < s->ngroups; i++)
			put_sample(out, &group_fams[f],
				   (const char *const[]){ "namespace", s->ns, "topic",
							  s->groups[i].topic, "group",
							  s->groups[i].group, NULL },
				   s->groups[i].v[f]);
	}
}

/*
 * Histogram buckets, in ns: 1-2-5 steps from 1 us to 10 s. A bucket counts the HDR buckets up
 * to the one holding its bound, so a value at most 1 % above the bound (2 significant
 * digits) may be counted in it.
 */
static const int64_t lat_bounds_ns[] = {
	1000,	   2000,      5000,	  10000,      20000,	  50000,       100000,	 200000,
	500000,	   1000000,   2000000,	  5000000,    10000000,	  20000000,    50000000, 100000000,
	200000000, 500000000, 1000000000, 2000000000, 5000000000, 10000000000,
};

/* One histogram's samples: cumulative buckets, +Inf, _sum and _count. */
static void put_hist(FILE *out, const struct family *f, const char *labels, const shmq_hist *h)
{
	uint64_t total = shmq_hist_total(h);
	size_t i;

	for (i = 0; i < sizeof(lat_bounds_ns) / sizeof(lat_bounds_ns[0]); i++)
		fprintf(out, "shmq_%s_bucket{%s,le=\"%.9g\"} %" PRIu64 "\n", f->name, labels,
			(double)lat_bounds_ns[i] * 1e-9,
			shmq_hist_count_between(h, 0, lat_bounds_ns[i]));
	fprintf(out, "shmq_%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", f->name, labels, total);
	fprintf(out, "shmq_%s_sum{%s} %.9g\n", f->name, labels,
		shmq_hist_mean(h) * (double)total * 1e-9);
	fprintf(out, "shmq_%s_count{%s} %" PRIu64 "\n", f->name, labels, total);
}

/* The label text "namespace=...,topic=...[,group=...]", escaped, into a memstream's buffer. */
static char *lat_labels(const char *ns, const char *topic, const char *group)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fputs("namespace=\"", f);
	put_escaped(f, ns);
	fputs("\",topic=\"", f);
	put_escaped(f, topic);
	if (group) {
		fputs("\",group=\"", f);
		put_escaped(f, group);
	}
	fputc('"', f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void put_lat(FILE *out, const struct family *f, const char *ns, const char *topic,
		    const char *group, const shmq_hist *h)
{
	char *labels;

	if (!h)
		return;
	labels = lat_labels(ns, topic, group);
	if (labels)
		put_hist(out, f, labels, h);
	free(labels);
}

static void write_latency(FILE *out, const struct snap *s)
{
	static const struct family fams[2] = {
		{ .name = "delivery_latency_seconds",
		  .type = "histogram",
		  .help = "Time from a record's publish to its receive, by the subscribers (per "
			  "topic) or the members (per group) that record it (SHMQ_SUB_LATENCY)." },
		{ .name = "processing_seconds",
		  .type = "histogram",
		  .help = "Time from a record's receive to its ack, by the group's members that "
			  "record it (SHMQ_SUB_LATENCY)." },
	};
	bool any[2] = { false, false };
	size_t i;

	for (i = 0; i < s->ntopics; i++)
		any[0] |= s->topics[i].lat != NULL;
	for (i = 0; i < s->ngroups; i++) {
		any[0] |= s->groups[i].lat[0] != NULL;
		any[1] |= s->groups[i].lat[1] != NULL;
	}
	if (any[0]) {
		put_head(out, &fams[0]);
		for (i = 0; i < s->ntopics; i++)
			put_lat(out, &fams[0], s->ns, s->topics[i].name, NULL, s->topics[i].lat);
		for (i = 0; i < s->ngroups; i++)
			put_lat(out, &fams[0], s->ns, s->groups[i].topic, s->groups[i].group,
				s->groups[i].lat[0]);
	}
	if (any[1]) {
		put_head(out, &fams[1]);
		for (i = 0; i < s->ngroups; i++)
			put_lat(out, &fams[1], s->ns, s->groups[i].topic, s->groups[i].group,
				s->groups[i].lat[1]);
	}
}

static void write_channels(FILE *out, const struct snap *s)
{
	for (int f = 0; s->nchans && f < NC; f++) {
		put_head(out, &chan_fams[f]);
		for (size_t i = 0; i < s->nchans; i++)
			put_sample(out, &chan_fams[f],
				   (const char *const[]){ "namespace", s->ns, "channel",
							  s->chans[i].name, NULL },
				   s->chans[i].v[f]);
	}
}

static void write_daemon(FILE *out, const char *ns, const struct metrics_daemon *d)
{
	const uint64_t v[ND] = {
		[D_CLIENTS] = d->clients,
		[D_PROCS] = d->procs,
		[D_REQUESTS] = d->requests,
		[D_REFUSED] = d->refused,
		[D_DEATHS] = d->deaths,
		[D_FREED] = d->freed,
		[D_UPTIME] = (uint64_t)(d->uptime_seconds * 1e9),
	};

	for (int f = 0; f < ND; f++) {
		put_head(out, &daemon_fams[f]);
		put_sample(out, &daemon_fams[f], (const char *const[]){ "namespace", ns, NULL },
			   v[f]);
	}
}

static void write_objects(FILE *out, const struct snap *s)
{
	static const struct family objects = { .name = "objects",
					       .type = "gauge",
					       .help = "Objects of the namespace, by kind." };
	static const struct family unreadable = { .name = "objects_unreadable",
						  .type = "gauge",
						  .help = "Files of the namespace that could not "
							  "be read (another layout, no permission, "
							  "not published yet, not ours)." };
	const char *kinds[] = { "topic", "group", "channel" };
	const size_t n[] = { s->ntopics, s->ngroups, s->nchans };

	put_head(out, &objects);
	for (int k = 0; k < 3; k++)
		put_sample(out, &objects,
			   (const char *const[]){ "namespace", s->ns, "kind", kinds[k], NULL },
			   n[k]);
	put_head(out, &unreadable);
	put_sample(out, &unreadable, (const char *const[]){ "namespace", s->ns, NULL },
		   s->unreadable);
}

/* ---- other processes' files: NAME.PID.prom in the metrics directory ---- */

#define OTHER_MAX_BYTES (1u << 20) /* a larger file is not read */
#define OTHER_MAX_FAMILIES 1024u

struct other_fam {
	char name[128];
	char *help, *type; /* their whole lines, the first seen */
	char *samples; /* every sample line, with its newline */
	size_t len;
};

struct others {
	struct other_fam *fams;
	size_t n;
};

int metrics_dir(const char *ns, char *buf, size_t len)
{
	const char *env = getenv(METRICS_DIR_ENV);
	int n;

	if (env && env[0]) {
		n = snprintf(buf, len, "%s", env);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
	}
	n = shmq_daemon_socket(ns, buf, len);
	if (n < 0)
		return n;
	if (n < 5 || strcmp(buf + n - 5, ".sock") != 0)
		return -EINVAL;
	buf[n - 5] = '\0';
	n = snprintf(buf + n - 5, len - (size_t)(n - 5), ".metrics.d") + n - 5;
	return (size_t)n >= len ? -ENAMETOOLONG : n;
}

/* A metric name's length at @s ([a-zA-Z_:][a-zA-Z0-9_:]*), 0 if none. */
static size_t name_len(const char *s)
{
	size_t i = 0;

	while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' ||
	       s[i] == ':' || (i && s[i] >= '0' && s[i] <= '9'))
		i++;
	return i < 128 ? i : 0;
}

static struct other_fam *other_fam(struct others *o, const char *name, size_t n, bool add)
{
	size_t i;
	struct other_fam *f;

	for (i = 0; i < o->n; i++)
		if (strlen(o->fams[i].name) == n && !memcmp(o->fams[i].name, name, n))
			return &o->fams[i];
	if (!add || o->n == OTHER_MAX_FAMILIES)
		return NULL;
	f = realloc(o->fams, (o->n + 1) * sizeof(*f));
	if (!f)
		return NULL;
	o->fams = f;
	f = &o->fams[o->n++];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, name, n);
	return f;
}

/* The family a sample named @name (@n bytes) belongs to: a histogram's or summary's
 * _bucket, _sum and _count belong to the base name's, if that was declared. */
static struct other_fam *sample_fam(struct others *o, const char *name, size_t n)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	struct other_fam *f;
	size_t k, sl;

	for (k = 0; k < 3; k++) {
		sl = strlen(suffixes[k]);
		if (n > sl && !memcmp(name + n - sl, suffixes[k], sl)) {
			f = other_fam(o, name, n - sl, false);
			if (f && f->type)
				return f;
		}
	}
	return other_fam(o, name, n, true);
}

/* After a sample's name (@p): optional {labels}, a space, a value, an optional timestamp. */
static bool sample_ok(const char *p)
{
	char *end;

	if (*p == '{') {
		for (p++; *p != '}'; p++) {
			if (!name_len(p))
				return false;
			p += name_len(p);
			if (p[0] != '=' || p[1] != '"')
				return false;
			for (p += 2; *p != '"'; p++)
				if (!*p || (*p == '\\' && !*++p))
					return false;
			if (p[1] == ',')
				p++;
		}
		p++;
	}
	if (*p++ != ' ')
		return false;
	if (strncmp(p, "NaN", 3) && strncmp(p, "+Inf", 4) && strncmp(p, "-Inf", 4))
		(void)strtod(p, &end);
	else
		end = (char *)p + (p[0] == 'N' ? 3 : 4);
	if (end == p)
		return false;
	if (*end == ' ')
		(void)strtoll(end + 1, &end, 10);
	return *end == '\0';
}

static bool append(char **buf, size_t *len, const char *line, size_t n)
{
	char *b = realloc(*buf, *len + n + 2);

	if (!b)
		return false;
	memcpy(b + *len, line, n);
	b[*len + n] = '\n';
	*len += n + 1;
	b[*len] = '\0';
	*buf = b;
	return true;
}

/* One line of another process's file. Lines not of the text format are skipped. */
static void other_line(struct others *o, char *line)
{
	struct other_fam *f;
	size_t n, i;
	char **slot;

	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return; /* no control characters */
	if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
		n = name_len(line + 7);
		if (!n || line[7 + n] != ' ')
			return;
		f = other_fam(o, line + 7, n, true);
		if (!f)
			return;
		slot = line[2] == 'H' ? &f->help : &f->type;
		if (!*slot)
			*slot = strdup(line);
		return;
	}
	if (line[0] == '#' || !line[0])
		return;
	n = name_len(line);
	if (!n || !sample_ok(line + n))
		return;
	f = sample_fam(o, line, n);
	if (f)
		append(&f->samples, &f->len, line, strlen(line));
}

/* NAME.PID.prom, PID alive: read it into @o. */
static void other_file(struct others *o, const char *dir, const char *name)
{
	const char *dot = strrchr(name, '.'), *p;
	char path[4096], *line, *save = NULL, *text;
	unsigned long pid;
	size_t got;
	FILE *f;

	if (!dot || strcmp(dot, ".prom") != 0)
		return;
	for (p = dot; p > name && p[-1] >= '0' && p[-1] <= '9'; p--)
		;
	if (p == dot || p == name || p[-1] != '.' || dot - p > 10)
		return;
	pid = strtoul(p, NULL, 10);
	if (!pid || pid > INT32_MAX || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return; /* a dead writer's file */
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	text = malloc(OTHER_MAX_BYTES + 1);
	got = text ? fread(text, 1, OTHER_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (text && got <= OTHER_MAX_BYTES) {
		text[got] = '\0';
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			other_line(o, line);
	}
	free(text);
}

static void write_others(FILE *out, const char *ns)
{
	struct others o = { 0 };
	char dir[4096];
	struct dirent *de;
	DIR *d;
	size_t i;

	if (metrics_dir(ns, dir, sizeof(dir)) < 0)
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			other_file(&o, dir, de->d_name);
	closedir(d);
	for (i = 0; i < o.n; i++) {
		if (o.fams[i].samples) {
			if (o.fams[i].help)
				fprintf(out, "%s\n", o.fams[i].help);
			if (o.fams[i].type)
				fprintf(out, "%s\n", o.fams[i].type);
			fputs(o.fams[i].samples, out);
		}
		free(o.fams[i].help);
		free(o.fams[i].type);
		free(o.fams[i].samples);
	}
	free(o.fams);
}

int metrics_write(shmq_bus *bus, FILE *out, const struct metrics_daemon *d)
{
	struct snap s = { .ns = shmq_bus_namespace(bus) };
	int r = look(bus, &s);

	if (r == 0) {
		write_objects(out, &s);
		write_topics(out, &s);
		write_subs(out, &s);
		write_each(out, &s);
		write_groups(out, &s);
		write_members(out, &s);
		write_latency(out, &s);
		write_channels(out, &s);
		if (d)
			write_daemon(out, s.ns, d);
		write_others(out, s.ns);
		if (fflush(out) != 0 || ferror(out))
			r = -EIO;
	}
	snap_free(&s);
	return r;
}
