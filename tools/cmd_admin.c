// SPDX-License-Identifier: MIT
/* cmd_admin.c - the shmq commands that look at and remove objects: info, ls, stat, rm, daemon. */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static void info_usage(FILE *f)
{
	fprintf(f,
		"usage: %s info [-h]\n"
		"The library's version, how parked waiters sleep (the wake backend) and where\n"
		"timestamps come from.\n",
		PROG);
}

int info_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "info", .show = info_usage, .rc = -1 };

	if (cli_getopt(&c, argc, argv, "", opts) != -1 || c.rc >= 0 ||
	    cli_operands(&c, argc, argv, 0, 0, "") >= 0)
		return c.rc;
	printf("libshmq:      %s\n", shmq_version());
	printf("wake backend: %s%s\n", shmq_wake_backend(),
	       getenv(SHMQ_WAKE_BACKEND_ENV) ? " ($" SHMQ_WAKE_BACKEND_ENV " is set)" : "");
	printf("timestamps:   %s%s\n", shmq_clock_source(),
	       getenv(SHMQ_CLOCK_ENV) ? " ($" SHMQ_CLOCK_ENV " is set)" : "");
	return 0;
}

static void ls_usage(FILE *f)
{
	fprintf(f,
		"usage: %s ls [-h] [-n NS] [-o table|json] [--interval D | --no-rate]\n"
		"The objects of a namespace, sorted by name, with their kind: channel, topic,\n"
		"consumer group (TOPIC@GROUP), or unknown for a file of the namespace's name that "
		"is\n"
		"not a segment this library can open, with the reason; then the segment's owner,\n"
		"mode and size, and a topic's producers and subscribers, a group's members, and\n"
		"their rates: records published a second (msg/s), records acked a second\n"
		"(acked/s), from two looks at the counters an interval apart.\n"
		"With -o json, one object per line.\n"
		"options:\n"
		"      --interval D    the rates' interval (default 200ms)\n"
		"      --no-rate       no rates: one look, no wait\n" CLI_COMMON_HELP,
		PROG);
}

#define LS_INTERVAL_NS 200000000ull /* 200 ms */

/*
 * What ls shows of an object besides the listing: its file's owner and mode, its users, and
 * a count (a topic's records published, a group's acks) with when it was read, for a rate.
 */
struct ls_extra {
	char owner[32];
	unsigned mode;
	long producers, subscribers, members; /* -1: not this kind, or unreadable */
	uint64_t count, count_ns; /* count_ns 0: no count read */
	double rate; /* a second, since an earlier look; < 0: none */
};

/* The rate of @x's count since the earlier look @before (NULL: none). */
static void ls_rate(struct ls_extra *x, const struct ls_extra *before)
{
	x->rate = -1;
	if (!before || !before->count_ns || !x->count_ns || x->count_ns <= before->count_ns ||
	    x->count < before->count)
		return;
	x->rate =
		(double)(x->count - before->count) * 1e9 / (double)(x->count_ns - before->count_ns);
}

static void ls_look(shmq_bus *bus, const struct shmq_object_info *o, struct ls_extra *x,
		    const struct ls_extra *before)
{
	struct shmq_topic_stats ts;
	struct shmq_group_stats gs;
	struct passwd *pw;
	char path[512], topic[SHMQ_OBJECT_NAME_MAX + 1], *at;
	struct stat st;

	x->producers = x->subscribers = x->members = -1;
	x->count_ns = 0;
	x->rate = -1;
	snprintf(path, sizeof(path), "/dev/shm/shmq.%s.%s", shmq_bus_namespace(bus), o->name);
	snprintf(x->owner, sizeof(x->owner), "?");
	x->mode = 0;
	if (lstat(path, &st) == 0) {
		pw = getpwuid(st.st_uid);
		if (pw)
			snprintf(x->owner, sizeof(x->owner), "%s", pw->pw_name);
		else
			snprintf(x->owner, sizeof(x->owner), "%u", (unsigned)st.st_uid);
		x->mode = st.st_mode & 07777;
	}
	if (o->error)
		return;
	if (o->kind == SHMQ_KIND_TOPIC && shmq_topic_stat(bus, o->name, &ts, NULL, 0) >= 0) {
		x->producers = ts.producers;
		x->subscribers = ts.subscribers;
		x->count = ts.tail - 1;
		x->count_ns = cli_mono_ns();
	}
	snprintf(topic, sizeof(topic), "%s", o->name);
	at = strchr(topic, '@');
	if (o->kind == SHMQ_KIND_GROUP && at) {
		*at = '\0';
		if (shmq_group_stat(bus, topic, at + 1, &gs, NULL, 0) >= 0) {
			x->members = gs.members;
			x->count = gs.acked;
			x->count_ns = cli_mono_ns();
		}
	}
	ls_rate(x, before);
}

static void ls_users(const struct ls_extra *x, char *buf, size_t len)
{
	char rate[48] = "";

	if (x->rate >= 0)
		snprintf(rate, sizeof(rate), ", %.1f %s", x->rate,
			 x->producers >= 0 ? "msg/s" : "acked/s");
	if (x->producers >= 0)
		snprintf(buf, len, "producers %ld, subscribers %ld%s", x->producers, x->subscribers,
			 rate);
	else if (x->members >= 0)
		snprintf(buf, len, "members %ld%s", x->members, rate);
	else
		buf[0] = '\0';
}

static void ls_table(shmq_bus *bus, const struct shmq_object_info *v, int n,
		     const struct ls_extra *before)
{
	char name[SHMQ_OBJECT_NAME_MAX + 1], users[112];
	struct ls_extra x;
	int i, w = 0, len;

	for (i = 0; i < n; i++) {
		len = (int)strlen(v[i].name);
		w = len > w ? len : w;
	}
	for (i = 0; i < n; i++) {
		ls_look(bus, &v[i], &x, before ? &before[i] : NULL);
		ls_users(&x, users, sizeof(users));
		printf("%-*s  %-14s  %-8s %04o %10llu%s%s%s%s%s\n", w,
		       cli_printable(v[i].name, name, sizeof(name)), shmq_kind_name(v[i].kind),
		       x.owner, x.mode, (unsigned long long)v[i].size, users[0] ? "  " : "", users,
		       v[i].error ? "  (" : "", v[i].note, v[i].error ? ")" : "");
	}
}

static void ls_json(shmq_bus *bus, const struct shmq_object_info *v, int n,
		    const struct ls_extra *before)
{
	char mode[8], name[SHMQ_OBJECT_NAME_MAX + 1];
	struct ls_extra x;
	json_t *o;
	int i;

	for (i = 0; i < n; i++) {
		ls_look(bus, &v[i], &x, before ? &before[i] : NULL);
		snprintf(mode, sizeof(mode), "%04o", x.mode);
		/* a foreign file's name need not be UTF-8: shown as in the table */
		cli_printable(v[i].name, name, sizeof(name));
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i}", "name", name, "kind",
			      shmq_kind_name(v[i].kind), "owner", x.owner, "mode", mode, "size",
			      (json_int_t)v[i].size, "creator_pid", (int)v[i].creator_pid);
		if (!o)
			continue;
		if (x.producers >= 0) {
			json_object_set_new(o, "producers", json_integer(x.producers));
			json_object_set_new(o, "subscribers", json_integer(x.subscribers));
		}
		if (x.members >= 0)
			json_object_set_new(o, "members", json_integer(x.members));
		/* the names of shmq top's: records published, or acked, a second */
		if (x.rate >= 0)
			json_object_set_new(o, x.producers >= 0 ? "rate" : "acked_per_s",
					    json_real(x.rate));
		if (v[i].error)
			json_object_set_new(o, "error", json_string(v[i].note));
		cli_json_line(o);
	}
}

/*
 * The first look of each object's count, then a wait of @interval_ns. Return: the looks, or
 * NULL (no memory, or nothing with a count: no wait then).
 */
static struct ls_extra *ls_first(shmq_bus *bus, const struct shmq_object_info *v, int n,
				 uint64_t interval_ns)
{
	struct ls_extra *first = n > 0 ? calloc((size_t)n, sizeof(*first)) : NULL;
	struct timespec ts = { (time_t)(interval_ns / 1000000000u),
			       (long)(interval_ns % 1000000000u) };
	int i;

	if (!first)
		return NULL;
	for (i = 0; i < n; i++)
		ls_look(bus, &v[i], &first[i], NULL);
	for (i = 0; i < n && !first[i].count_ns; i++)
		;
	if (i == n) { /* no topic or group: no rate to wait for */
		free(first);
		return NULL;
	}
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return first;
}

/* --interval D, --no-rate; Return: 0, or -1 (c->rc set). */
static int ls_parse(struct cli *c, int argc, char **argv, uint64_t *ret_interval_ns)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "interval", required_argument, NULL, 'I' },
					      { "no-rate", no_argument, NULL, 'R' },
					      { NULL, 0, NULL, 0 } };
	int ch;

	*ret_interval_ns = LS_INTERVAL_NS;
	while ((ch = cli_getopt(c, argc, argv, "", opts)) != -1) {
		if (ch == 'R') {
			*ret_interval_ns = 0;
		} else if (cli_duration(c, "--interval", optarg, ret_interval_ns) < 0) {
			return -1;
		} else if (*ret_interval_ns < 1000000 || *ret_interval_ns > 60000000000ull) {
			cli_usage_error(c, "--interval: not between 1ms and 60s:", optarg);
			return -1;
		}
	}
	if (c->rc >= 0 || cli_operands(c, argc, argv, 0, 0, "") >= 0)
		return -1;
	return 0;
}

int ls_main(int argc, char **argv)
{
	struct cli c = { .cmd = "ls", .show = ls_usage, .rc = -1 };
	struct shmq_object_info *v = NULL;
	struct ls_extra *first = NULL;
	uint64_t interval_ns;
	char what[128];
	shmq_bus *bus;
	int n, got;

	if (ls_parse(&c, argc, argv, &interval_ns) < 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	snprintf(what, sizeof(what), "list namespace '%s'", shmq_bus_namespace(bus));
	n = shmq_bus_list(bus, NULL, 0);
	v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL;
	got = n > 0 && !v ? -ENOMEM : n;
	if (v)
		got = shmq_bus_list(bus, v, (size_t)n); /* more may have come meanwhile */
	if (got < 0) {
		free(v);
		shmq_bus_close(bus);
		return cli_fail(what, got);
	}
	n = got < n ? got : n;
	if (interval_ns)
		first = ls_first(bus, v, n, interval_ns); /* no memory: no rates */
	if (c.json)
		ls_json(bus, v, n, first);
	else
		ls_table(bus, v, n, first);
	free(first);
	free(v);
	shmq_bus_close(bus);
	return 0;
}

static void stat_usage(FILE *f)
{
	fprintf(f,
		"usage: %s stat [-h] [-n NS] [-o table|json] [-g GROUP] NAME\n"
		"A topic's configuration, positions, subscribers and groups, read without joining\n"
		"it; or a channel's configuration, positions and live role holders, read without\n"
		"taking a role. A priority topic (NAME.p0.., no NAME): each level's tail and\n"
		"subscribers; a partitioned one (NAME.part0..): each partition's.\n"
		"options:\n"
		"  -g, --group G       a partitioned topic's group G: each partition's owner pid,\n"
		"                      floor, tail, lag and moves\n" CLI_COMMON_HELP,
		PROG);
}

/* A role's holder: "pid 123", or "none" (free, or its holder is dead). */
static const char *holder(pid_t pid, char *buf, size_t len)
{
	if (!pid)
		return "none";
	snprintf(buf, len, "pid %d", (int)pid);
	return buf;
}

static int stat_channel(shmq_bus *bus, const char *name, bool json)
{
	struct shmq_channel_stats st;
	char p[32], c[32];
	int r = shmq_channel_stat(bus, name, &st);

	if (r < 0)
		return r;
	if (json) {
		cli_json_line(json_pack(
			"{s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:i, s:i, s:i}", "name", name, "kind",
			"channel", "capacity", (json_int_t)st.capacity, "max_msg", (int)st.max_msg,
			"write_pos", (json_int_t)st.write_pos, "read_pos", (json_int_t)st.read_pos,
			"next_seq", (json_int_t)st.next_seq, "producer_pid", (int)st.producer_pid,
			"consumer_pid", (int)st.consumer_pid, "creator_pid", (int)st.creator_pid));
		return 0;
	}
	printf("channel %s: capacity %llu, max_msg %u, write_pos %llu, read_pos %llu, in the "
	       "ring %llu bytes, next_seq %llu, producer %s, consumer %s\n",
	       name, (unsigned long long)st.capacity, st.max_msg, (unsigned long long)st.write_pos,
	       (unsigned long long)st.read_pos, (unsigned long long)(st.write_pos - st.read_pos),
	       (unsigned long long)st.next_seq, holder(st.producer_pid, p, sizeof(p)),
	       holder(st.consumer_pid, c, sizeof(c)));
	return 0;
}

static void print_subs(const struct shmq_topic_sub_info *subs, int n, uint64_t tail)
{
	int i;

	for (i = 0; i < n; i++)
		printf("  subscriber pid %d: cursor %llu, lag %llu, received %llu, lost %llu, "
		       "skipped %llu\n",
		       (int)subs[i].pid, (unsigned long long)subs[i].cursor,
		       (unsigned long long)(tail > subs[i].cursor ? tail - subs[i].cursor : 0),
		       (unsigned long long)subs[i].received, (unsigned long long)subs[i].lost,
		       (unsigned long long)subs[i].skipped);
}

static void print_groups(shmq_bus *bus, const char *topic)
{
	char names[16][SHMQ_GROUP_NAME_MAX + 1];
	struct shmq_group_stats gs;
	int i, n = shmq_topic_groups(bus, topic, names, 16);

	for (i = 0; i < n && i < 16; i++) {
		if (shmq_group_stat(bus, topic, names[i], &gs, NULL, 0) < 0)
			continue;
		printf("  group %s: floor %llu, next %llu, lag %llu, in flight %llu, delayed %llu, "
		       "members %u%s\n",
		       names[i], (unsigned long long)gs.floor, (unsigned long long)gs.next,
		       (unsigned long long)(gs.tail - gs.floor), (unsigned long long)gs.in_flight,
		       (unsigned long long)gs.delayed, gs.members,
		       gs.holding ? ", holding the producers back" : "");
		cli_lat_print_group(bus, topic, names[i]);
	}
}

static json_t *subs_json(const struct shmq_topic_sub_info *subs, int n, uint64_t tail)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < n; i++)
		json_array_append_new(
			a,
			json_pack("{s:i, s:I, s:I, s:I, s:I, s:I}", "pid", (int)subs[i].pid,
				  "cursor", (json_int_t)subs[i].cursor, "lag",
				  (json_int_t)(tail > subs[i].cursor ? tail - subs[i].cursor : 0),
				  "received", (json_int_t)subs[i].received, "lost",
				  (json_int_t)subs[i].lost, "skipped",
				  (json_int_t)subs[i].skipped));
	return a;
}

static json_t *groups_json(shmq_bus *bus, const char *topic)
{
	char names[16][SHMQ_GROUP_NAME_MAX + 1];
	struct shmq_group_stats gs;
	json_t *a = json_array(), *g;
	int i, n = shmq_topic_groups(bus, topic, names, 16);

	for (i = 0; i < n && i < 16; i++) {
		if (shmq_group_stat(bus, topic, names[i], &gs, NULL, 0) < 0)
			continue;
		json_array_append_new(
			a,
			g = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:b}", "name", names[i],
				      "floor", (json_int_t)gs.floor, "next", (json_int_t)gs.next,
				      "lag", (json_int_t)(gs.tail - gs.floor), "in_flight",
				      (json_int_t)gs.in_flight, "delayed", (json_int_t)gs.delayed,
				      "members", (int)gs.members, "holding", (int)gs.holding));
		cli_lat_group_json(bus, topic, names[i], g);
	}
	return a;
}

static void stat_topic_json(shmq_bus *bus, const char *name, const struct shmq_topic_stats *st,
			    const struct shmq_topic_sub_info *subs, int n)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:i, s:i, s:I, s:i}",
			      "name", name, "kind", "topic", "policy",
			      st->policy == SHMQ_TOPIC_LOSSY ? "lossy" : "reliable", "slots",
			      (int)st->slots, "max_msg", (int)st->max_msg, "claim_timeout_ns",
			      (json_int_t)st->claim_timeout_ns, "tail", (json_int_t)st->tail,
			      "oldest", (json_int_t)st->oldest, "producers", (int)st->producers,
			      "subscribers", (int)st->subscribers, "skipped",
			      (json_int_t)st->skipped, "creator_pid", (int)st->creator_pid);

	json_object_set_new(o, "subscriber_list", subs_json(subs, n, st->tail));
	json_object_set_new(o, "latency", cli_lat_topic_json(bus, name));
	json_object_set_new(o, "groups", groups_json(bus, name));
	cli_json_line(o);
}

static int stat_topic(shmq_bus *bus, const char *name, bool json)
{
	struct shmq_topic_sub_info subs[SHMQ_TOPIC_MAX_SUBSCRIBERS];
	struct shmq_topic_stats st;
	int n = shmq_topic_stat(bus, name, &st, subs, SHMQ_TOPIC_MAX_SUBSCRIBERS);

	if (n < 0)
		return n;
	n = n < (int)SHMQ_TOPIC_MAX_SUBSCRIBERS ? n : (int)SHMQ_TOPIC_MAX_SUBSCRIBERS;
	if (json) {
		stat_topic_json(bus, name, &st, subs, n);
		return 0;
	}
	printf("topic %s: %s, %u slots, max_msg %u, tail %llu, oldest %llu, producers %u, "
	       "subscribers %u, skipped %llu\n",
	       name, st.policy == SHMQ_TOPIC_LOSSY ? "lossy" : "reliable", st.slots, st.max_msg,
	       (unsigned long long)st.tail, (unsigned long long)st.oldest, st.producers,
	       st.subscribers, (unsigned long long)st.skipped);
	print_subs(subs, n, st.tail);
	cli_lat_print_topic(bus, name);
	print_groups(bus, name);
	return 0;
}

/* A priority or partitioned topic's stat; -ENOENT for a name that is neither. */
static int stat_keyed(shmq_bus *bus, const char *name, const char *group, bool json)
{
	switch (cli_topic_kind(bus, name)) {
	case CLI_TOPIC_PRIO:
		return group ? -EINVAL : cli_stat_prio(bus, name, json);
	case CLI_TOPIC_PART:
		return cli_stat_part(bus, name, group, json);
	default:
		return group ? -EINVAL : -ENOENT;
	}
}

int stat_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "group", required_argument, NULL, 'g' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "stat", .show = stat_usage, .rc = -1 };
	const char *group = NULL;
	char what[600];
	shmq_bus *bus;
	int ch, r;

	while ((ch = cli_getopt(&c, argc, argv, "g:", opts)) != -1)
		group = optarg; /* 'g' */
	if (c.rc >= 0 || cli_operands(&c, argc, argv, 1, 1, "NAME") >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	snprintf(what, sizeof(what), "stat '%s'%s%s in namespace '%s'", argv[optind],
		 group ? " group " : "", group ? group : "", shmq_bus_namespace(bus));
	/* A topic, else (the object is of the other kind) a channel; with neither, a priority
	 * or partitioned topic's. --group is only a partitioned topic's. */
	r = group ? -ENOENT : stat_topic(bus, argv[optind], c.json);
	if (r == -EPROTOTYPE)
		r = stat_channel(bus, argv[optind], c.json);
	if (r == -ENOENT)
		r = stat_keyed(bus, argv[optind], group, c.json);
	shmq_bus_close(bus);
	if (r == -EINVAL && group)
		return cli_usage_error(&c, "--group: not a partitioned topic:", argv[optind]);
	return r < 0 ? cli_fail(what, r) : 0;
}

static void rm_usage(FILE *f)
{
	fprintf(f,
		"usage: %s rm [-h] [-n NS] [-f] NAME...\n"
		"Remove channels and topics by name, as unlink(2): processes that have one open\n"
		"keep using it. TOPIC@GROUP removes a consumer group (-f: even with members).\n"
		"options:\n"
		"  -f, --force         a group even while members are attached\n" CLI_COMMON_HELP,
		PROG);
}

static int rm_one(shmq_bus *bus, const char *name, bool force)
{
	char what[512], topic[SHMQ_OBJECT_NAME_MAX + 1], *at;
	int r;

	snprintf(topic, sizeof(topic), "%s", name);
	at = strchr(topic, '@');
	if (at) {
		*at = '\0';
		snprintf(what, sizeof(what), "remove group '%s' of topic '%s' in namespace '%s'",
			 at + 1, topic, shmq_bus_namespace(bus));
		r = shmq_group_delete(bus, topic, at + 1, force ? SHMQ_GROUP_FORCE : 0);
	} else {
		snprintf(what, sizeof(what), "remove '%s' in namespace '%s'", name,
			 shmq_bus_namespace(bus));
		r = shmq_unlink(bus, name);
	}
	return r < 0 ? cli_fail(what, r) : 0;
}

int rm_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "force", no_argument, NULL, 'f' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "rm", .show = rm_usage, .rc = -1 };
	bool force = false;
	shmq_bus *bus;
	int ch, i, rc = 0, r;

	while ((ch = cli_getopt(&c, argc, argv, "f", opts)) != -1)
		force = true;
	if (c.rc >= 0 || cli_operands(&c, argc, argv, 1, argc, "NAME") >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	for (i = optind; i < argc; i++) {
		r = rm_one(bus, argv[i], force);
		rc = rc ? rc : r;
	}
	shmq_bus_close(bus);
	return rc;
}

static void daemon_usage(FILE *f)
{
	fprintf(f,
		"usage: %s daemon [-h] [-n NS] [REQUEST]\n"
		"Send one request to the namespace's shmqd and print its reply (JSON, one line);\n"
		"without REQUEST, {\"op\":\"status\"}. REQUEST is a JSON object as "
		"docs/protocol.md\n"
		"describes it, e.g. '{\"op\":\"list\"}'. Exit status 0 when the reply says ok, 1 "
		"when\n"
		"it does not or no daemon answers.\n"
		"options:\n"
		"  -n, --namespace NS  the bus namespace (default: $%s, else \"default\")\n"
		"  -h, --help          this text\n",
		PROG, SHMQ_NAMESPACE_ENV);
}

static int daemon_request(shmq_bus *bus, const char *req)
{
	char path[256], *reply = malloc(1 << 20);
	int r = -ENOMEM;

	if (reply)
		r = shmq_daemon_request(bus, req ? req : "{\"op\":\"status\"}", reply, 1 << 20);
	if (r >= 0) {
		printf("%s\n", reply);
		r = strstr(reply, "\"ok\":true") ? 0 : -EPROTO;
	} else if (r == -EINVAL) {
		fprintf(stderr, "%s: daemon: the request is not a JSON object\n", PROG);
	} else if (r == -ENOTCONN &&
		   shmq_daemon_socket(shmq_bus_namespace(bus), path, sizeof(path)) > 0) {
		fprintf(stderr, "%s: daemon: no shmqd answers on %s\n", PROG, path);
	} else {
		cli_fail("daemon", r);
	}
	free(reply);
	return r == 0 ? 0 : EXIT_ERROR;
}

int daemon_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "daemon", .show = daemon_usage, .rc = -1 };
	shmq_bus *bus;
	int r;

	if (cli_getopt(&c, argc, argv, "", opts) != -1 || c.rc >= 0 ||
	    cli_operands(&c, argc, argv, 0, 1, "") >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	r = daemon_request(bus, optind < argc ? argv[optind] : NULL);
	shmq_bus_close(bus);
	return r;
}
