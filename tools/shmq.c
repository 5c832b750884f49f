// SPDX-License-Identifier: MIT
/* shmq.c - the shmq command-line tool: info, ls, stat, and the groups' group, delete, redrive. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "shmq.h"

#define PROG "shmq"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-h] [-V] COMMAND [ARGS]\n"
		"commands:\n"
		"  info               library version, how parked waiters sleep, the clock\n"
		"  ls [-n NS]         the objects of a namespace, with their kind\n"
		"  stat [-n NS] NAME  a topic's configuration, positions, subscribers and groups,\n"
		"                     or a channel's configuration, positions and role holders\n"
		"  group [-n NS] TOPIC GROUP\n"
		"                     a consumer group's positions, counters and members\n"
		"  group-delete [-n NS] [-f] TOPIC GROUP\n"
		"                     remove a consumer group (-f: even with members attached)\n"
		"  redrive [-n NS] [-t TOPIC] [-m N] [-r RATE] DLQ\n"
		"                     move dead letters back to their topic (or -t TOPIC)\n"
		"  daemon [-n NS] [REQUEST]\n"
		"                     the namespace's shmqd: its status, or one raw request\n"
		"  metrics [-n NS]    the namespace's metrics in the Prometheus text format\n"
		"options:\n"
		"  -h, --help         this text (COMMAND --help: the command's)\n"
		"  -V, --version      the version\n",
		PROG);
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

static void stat_usage(FILE *f)
{
	fprintf(f,
		"usage: %s stat [-h] [-n NS] NAME\n"
		"A topic's configuration, positions, subscribers and groups, read without joining\n"
		"it; or a channel's configuration, positions and live role holders, read without\n"
		"taking a role.\n"
		"options:\n"
		"  -n, --namespace NS  the bus namespace (default: $%s, else \"default\")\n"
		"  -h, --help          this text\n",
		PROG, SHMQ_NAMESPACE_ENV);
}

static void ls_usage(FILE *f)
{
	fprintf(f,
		"usage: %s ls [-h] [-n NS]\n"
		"The objects of a namespace, sorted by name, with their kind: channel, topic,\n"
		"consumer group (TOPIC@GROUP), or unknown for a file of the namespace's name that "
		"is\n"
		"not a segment this library can open, with the reason.\n"
		"options:\n"
		"  -n, --namespace NS  the bus namespace (default: $%s, else \"default\")\n"
		"  -h, --help          this text\n",
		PROG, SHMQ_NAMESPACE_ENV);
}

static void group_usage(FILE *f)
{
	fprintf(f,
		"usage: %s group [-h] [-n NS] TOPIC GROUP\n"
		"A consumer group's positions, counters, configuration and members, read without\n"
		"joining it.\n"
		"options:\n"
		"  -n, --namespace NS  the bus namespace (default: $%s, else \"default\")\n"
		"  -h, --help          this text\n",
		PROG, SHMQ_NAMESPACE_ENV);
}

static void delete_usage(FILE *f)
{
	fprintf(f,
		"usage: %s group-delete [-h] [-n NS] [-f] TOPIC GROUP\n"
		"Remove a consumer group: it stops holding the topic's producers back, and what "
		"it\n"
		"owed is forgotten.\n"
		"options:\n"
		"  -n, --namespace NS  the bus namespace (default: $%s, else \"default\")\n"
		"  -f, --force         even while members are attached\n"
		"  -h, --help          this text\n",
		PROG, SHMQ_NAMESPACE_ENV);
}

static void redrive_usage(FILE *f)
{
	fprintf(f,
		"usage: %s redrive [-h] [-n NS] [-t TOPIC] [-m N] [-r RATE] DLQ\n"
		"Move dead letters from the dead-letter topic DLQ back to the topic each came "
		"from,\n"
		"oldest first; each leaves DLQ only once it is republished.\n"
		"options:\n"
		"  -n, --namespace NS  the bus namespace (default: $%s, else \"default\")\n"
		"  -t, --to TOPIC      publish them all to TOPIC instead\n"
		"  -m, --max N         at most N (default: all there are now)\n"
		"  -r, --rate RATE     at most RATE a second (default: no limit)\n"
		"  -h, --help          this text\n",
		PROG, SHMQ_NAMESPACE_ENV);
}

static void info_usage(FILE *f)
{
	fprintf(f,
		"usage: %s info [-h]\n"
		"The library's version, how parked waiters sleep (the wake backend) and where\n"
		"timestamps come from.\n",
		PROG);
}

/* What a command's options gave: the namespace and the command's own ones. */
struct args {
	const char *ns;
	bool force;
	const char *to;
	uint64_t max;
	uint64_t rate;
	char **pos; /* the positional arguments */
	int npos;
};

/* A usage error, "shmq stat: WHAT 'ARG'", then the usage, on stderr; exit status 2. */
static int usage_error(const char *cmd, void (*show)(FILE *), const char *what, const char *arg)
{
	fprintf(stderr, "%s%s%s: %s", PROG, cmd ? " " : "", cmd ? cmd : "", what);
	if (arg)
		fprintf(stderr, " '%s'", arg);
	fputc('\n', stderr);
	show(stderr);
	return 2;
}

/* getopt_long()'s complaint as a usage error (opterr is 0; the optstring starts with ':'). */
static int bad_option(const char *cmd, void (*show)(FILE *), int c, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	/* A missing argument's option is named as it was written, long or short. */
	const char *name = optopt && c != ':' ? opt : argv[optind - 1];

	return usage_error(cmd, show, c == ':' ? "missing the argument of" : "unknown option",
			   name);
}

/* "shmq: WHAT: text: detail", the detail only when the library gave one. */
static void report(const char *what, int err)
{
	const char *detail = shmq_last_detail();

	fprintf(stderr, "%s: %s: %s%s%s\n", PROG, what, shmq_strerror(err), detail[0] ? ": " : "",
		detail);
}

static int cmd_info(void)
{
	printf("libshmq:      %s\n", shmq_version());
	printf("wake backend: %s%s\n", shmq_wake_backend(),
	       getenv(SHMQ_WAKE_BACKEND_ENV) ? " ($" SHMQ_WAKE_BACKEND_ENV " is set)" : "");
	printf("timestamps:   %s%s\n", shmq_clock_source(),
	       getenv(SHMQ_CLOCK_ENV) ? " ($" SHMQ_CLOCK_ENV " is set)" : "");
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

/* The bus of namespace @ns (NULL: the default), or NULL after saying why. */
static shmq_bus *open_bus(const char *ns)
{
	char what[128];
	shmq_bus *bus;
	int r = shmq_bus_open(ns, 0, &bus);

	if (r == 0)
		return bus;
	if (!ns)
		ns = getenv(SHMQ_NAMESPACE_ENV);
	snprintf(what, sizeof(what), "namespace '%s'", ns ? ns : "");
	report(what, r);
	return NULL;
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
	}
}

/* A role's holder: "pid 123", or "none" (free, or its holder is dead). */
static const char *holder(pid_t pid, char *buf, size_t len)
{
	if (!pid)
		return "none";
	snprintf(buf, len, "pid %d", (int)pid);
	return buf;
}

static int stat_channel(shmq_bus *bus, const char *name)
{
	struct shmq_channel_stats st;
	char p[32], c[32];
	int r = shmq_channel_stat(bus, name, &st);

	if (r < 0)
		return r;
	printf("channel %s: capacity %llu, max_msg %u, write_pos %llu, read_pos %llu, in the "
	       "ring %llu bytes, next_seq %llu, producer %s, consumer %s\n",
	       name, (unsigned long long)st.capacity, st.max_msg, (unsigned long long)st.write_pos,
	       (unsigned long long)st.read_pos, (unsigned long long)(st.write_pos - st.read_pos),
	       (unsigned long long)st.next_seq, holder(st.producer_pid, p, sizeof(p)),
	       holder(st.consumer_pid, c, sizeof(c)));
	return 0;
}

static int stat_topic(shmq_bus *bus, const char *name)
{
	struct shmq_topic_sub_info subs[SHMQ_TOPIC_MAX_SUBSCRIBERS];
	struct shmq_topic_stats st;
	int n = shmq_topic_stat(bus, name, &st, subs, SHMQ_TOPIC_MAX_SUBSCRIBERS);

	if (n < 0)
		return n;
	printf("topic %s: %s, %u slots, max_msg %u, tail %llu, oldest %llu, producers %u, "
	       "subscribers %u, skipped %llu\n",
	       name, st.policy == SHMQ_TOPIC_LOSSY ? "lossy" : "reliable", st.slots, st.max_msg,
	       (unsigned long long)st.tail, (unsigned long long)st.oldest, st.producers,
	       st.subscribers, (unsigned long long)st.skipped);
	print_subs(subs, n < (int)SHMQ_TOPIC_MAX_SUBSCRIBERS ? n : (int)SHMQ_TOPIC_MAX_SUBSCRIBERS,
		   st.tail);
	print_groups(bus, name);
	return 0;
}

/* A topic, else (the object is of the other kind) a channel. */
static int cmd_daemon(const char *ns, const char *req)
{
	char path[256], *reply = malloc(1 << 20);
	shmq_bus *bus = open_bus(ns);
	int r = -ENOMEM;

	if (!bus || !reply) {
		free(reply);
		shmq_bus_close(bus);
		return 1;
	}
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
		report("daemon", r);
	}
	free(reply);
	shmq_bus_close(bus);
	return r == 0 ? 0 : 1;
}

static int cmd_stat(const char *ns, const char *name)
{
	char what[512];
	shmq_bus *bus = open_bus(ns);
	int r;

	if (!bus)
		return 1;
	snprintf(what, sizeof(what), "stat '%s' in namespace '%s'", name, shmq_bus_namespace(bus));
	r = stat_topic(bus, name);
	if (r == -EPROTOTYPE)
		r = stat_channel(bus, name);
	shmq_bus_close(bus);
	if (r < 0) {
		report(what, r);
		return 1;
	}
	return 0;
}

/* @name with every byte a terminal would act on shown as '?'. */
static const char *printable(const char *name, char *buf, size_t len)
{
	unsigned char c;
	size_t i;

	for (i = 0; name[i] && i + 1 < len; i++) {
		c = (unsigned char)name[i];
		buf[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}

static void print_objects(const struct shmq_object_info *v, int n)
{
	char name[SHMQ_OBJECT_NAME_MAX + 1];
	int i, w = 0, len;

	for (i = 0; i < n; i++) {
		len = (int)strlen(v[i].name);
		w = len > w ? len : w;
	}
	for (i = 0; i < n; i++)
		printf("%-*s  %s%s%s%s\n", w, printable(v[i].name, name, sizeof(name)),
		       shmq_kind_name(v[i].kind), v[i].error ? " (" : "", v[i].note,
		       v[i].error ? ")" : "");
}

static int cmd_ls(const char *ns)
{
	struct shmq_object_info *v = NULL;
	char what[128];
	shmq_bus *bus = open_bus(ns);
	int n, got;

	if (!bus)
		return 1;
	snprintf(what, sizeof(what), "list namespace '%s'", shmq_bus_namespace(bus));
	n = shmq_bus_list(bus, NULL, 0);
	v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL;
	got = n > 0 && !v ? -ENOMEM : n;
	if (v)
		got = shmq_bus_list(bus, v, (size_t)n); /* more may have come meanwhile */
	shmq_bus_close(bus);
	if (got < 0) {
		free(v);
		report(what, got);
		return 1;
	}
	print_objects(v, got < n ? got : n);
	free(v);
	return 0;
}

static void print_group(const char *topic, const char *group, const struct shmq_group_stats *g)
{
	printf("group %s on %s: floor %llu, next %llu, tail %llu, lag %llu, pending %llu, "
	       "in flight %llu, delayed %llu%s\n",
	       group, topic, (unsigned long long)g->floor, (unsigned long long)g->next,
	       (unsigned long long)g->tail, (unsigned long long)(g->tail - g->floor),
	       (unsigned long long)g->pending, (unsigned long long)g->in_flight,
	       (unsigned long long)g->delayed, g->holding ? ", holding the producers back" : "");
	printf("  delivered %llu, acked %llu, nacked %llu, released %llu, redelivered %llu, "
	       "expired %llu, dead-lettered %llu (terminated %llu), dropped %llu, window full "
	       "%llu, lost %llu, skipped %llu\n",
	       (unsigned long long)g->delivered, (unsigned long long)g->acked,
	       (unsigned long long)g->nacked, (unsigned long long)g->released,
	       (unsigned long long)g->redelivered, (unsigned long long)g->expired,
	       (unsigned long long)g->dead_lettered, (unsigned long long)g->terminated,
	       (unsigned long long)g->dropped, (unsigned long long)g->window_full,
	       (unsigned long long)g->lost, (unsigned long long)g->skipped);
	printf("  max_pending %u, max_in_flight %u, max_deliveries %u, ack_wait %.3f s, "
	       "dead letters to %s%s\n",
	       g->max_pending, g->max_in_flight, g->max_deliveries, (double)g->ack_wait_ns / 1e9,
	       g->dlq[0] ? g->dlq : "(none: dropped)",
	       g->flags & SHMQ_GROUP_EPHEMERAL ? ", ephemeral" : "");
}

static int cmd_group(const char *ns, const char *topic, const char *group)
{
	struct shmq_group_member_info m[SHMQ_GROUP_MAX_MEMBERS];
	struct shmq_group_stats g;
	char what[512];
	shmq_bus *bus = open_bus(ns);
	int n, i;

	if (!bus)
		return 1;
	snprintf(what, sizeof(what), "group '%s' of topic '%s' in namespace '%s'", group, topic,
		 shmq_bus_namespace(bus));
	n = shmq_group_stat(bus, topic, group, &g, m, SHMQ_GROUP_MAX_MEMBERS);
	shmq_bus_close(bus);
	if (n < 0) {
		report(what, n);
		return 1;
	}
	print_group(topic, group, &g);
	for (i = 0; i < n && i < (int)SHMQ_GROUP_MAX_MEMBERS; i++)
		printf("  member pid %d: in flight %u, delivered %llu, acked %llu\n", (int)m[i].pid,
		       m[i].in_flight, (unsigned long long)m[i].delivered,
		       (unsigned long long)m[i].acked);
	return 0;
}

static int cmd_group_delete(const char *ns, const char *topic, const char *group, bool force)
{
	char what[512];
	shmq_bus *bus = open_bus(ns);
	int r;

	if (!bus)
		return 1;
	snprintf(what, sizeof(what), "delete group '%s' of topic '%s' in namespace '%s'", group,
		 topic, shmq_bus_namespace(bus));
	r = shmq_group_delete(bus, topic, group, force ? SHMQ_GROUP_FORCE : 0);
	shmq_bus_close(bus);
	if (r < 0) {
		report(what, r);
		return 1;
	}
	return 0;
}

static int cmd_redrive(const struct args *a)
{
	char what[512];
	shmq_bus *bus = open_bus(a->ns);
	int r;

	if (!bus)
		return 1;
	snprintf(what, sizeof(what), "redrive '%s' in namespace '%s'", a->pos[0],
		 shmq_bus_namespace(bus));
	r = shmq_group_redrive(bus, a->pos[0], a->to, a->max, a->rate);
	shmq_bus_close(bus);
	if (r < 0) {
		report(what, r);
		return 1;
	}
	printf("moved %d\n", r);
	return 0;
}

static int number(const char *cmd, void (*show)(FILE *), const char *arg, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-')
		return usage_error(cmd, show, "not a number:", arg);
	return 0;
}

/*
 * The options every command takes (-n, -h) and the ones of @cmd (@extra, short letters of
 * getopt), then exactly @npos positional arguments (@names, for the message). Return: 0, or the exit status (-1 after
 * --help: exit 0).
 */
static int parse(int argc, char **argv, const char *cmd, void (*show)(FILE *), const char *extra,
		 int npos, const char *names, struct args *a)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { "force", no_argument, NULL, 'f' },
					      { "to", required_argument, NULL, 't' },
					      { "max", required_argument, NULL, 'm' },
					      { "rate", required_argument, NULL, 'r' },
					      { NULL, 0, NULL, 0 } };
	char optstring[32];
	int c, r = 0;

	snprintf(optstring, sizeof(optstring), "+:n:h%s", extra);
	optind = 0; /* GNU: start over on the command's own arguments */
	while (r == 0 && (c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		if (c == 'h') {
			show(stdout);
			return -1;
		} else if (c == 'n') {
			a->ns = optarg;
		} else if (c == 'f' && strchr(extra, 'f')) {
			a->force = true;
		} else if (c == 't' && strchr(extra, 't')) {
			a->to = optarg;
		} else if (c == 'm' && strchr(extra, 'm')) {
			r = number(cmd, show, optarg, &a->max);
		} else if (c == 'r' && strchr(extra, 'r')) {
			r = number(cmd, show, optarg, &a->rate);
		} else {
			return bad_option(cmd, show, c, argv);
		}
	}
	if (r)
		return r;
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (a->npos < npos) {
		char what[64];

		snprintf(what, sizeof(what), "no %s given", names);
		return usage_error(cmd, show, what, NULL);
	}
	/* "[NAME]": one more, optional */
	npos += names[0] == '[' && names[strlen(names) - 1] == ']';
	if (a->npos > npos)
		return usage_error(cmd, show, "unexpected argument", argv[optind + npos]);
	return 0;
}

static int stat_main(int argc, char **argv)
{
	struct args a = { 0 };
	int r = parse(argc, argv, "stat", stat_usage, "", 1, "NAME", &a);

	return r ? (r < 0 ? 0 : r) : cmd_stat(a.ns, a.pos[0]);
}

static int ls_main(int argc, char **argv)
{
	struct args a = { 0 };
	int r = parse(argc, argv, "ls", ls_usage, "", 0, "", &a);

	return r ? (r < 0 ? 0 : r) : cmd_ls(a.ns);
}

static int group_main(int argc, char **argv)
{
	struct args a = { 0 };
	int r = parse(argc, argv, "group", group_usage, "", 2, "TOPIC and GROUP", &a);

	return r ? (r < 0 ? 0 : r) : cmd_group(a.ns, a.pos[0], a.pos[1]);
}

static int delete_main(int argc, char **argv)
{
	struct args a = { 0 };
	int r = parse(argc, argv, "group-delete", delete_usage, "f", 2, "TOPIC and GROUP", &a);

	return r ? (r < 0 ? 0 : r) : cmd_group_delete(a.ns, a.pos[0], a.pos[1], a.force);
}

static int redrive_main(int argc, char **argv)
{
	struct args a = { 0 };
	int r = parse(argc, argv, "redrive", redrive_usage, "t:m:r:", 1, "DLQ", &a);

	return r ? (r < 0 ? 0 : r) : cmd_redrive(&a);
}

static int daemon_main(int argc, char **argv)
{
	struct args a = { 0 };
	int r = parse(argc, argv, "daemon", daemon_usage, "", 0, "[REQUEST]", &a);

	return r ? (r < 0 ? 0 : r) : cmd_daemon(a.ns, a.npos ? a.pos[0] : NULL);
}

static int info_main(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (c != 'h')
			return bad_option("info", info_usage, c, argv);
		info_usage(stdout);
		return 0;
	}
	if (optind != argc)
		return usage_error("info", info_usage, "unexpected argument", argv[optind]);
	return cmd_info();
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { NULL, 0, NULL, 0 } };
	int c;

	opterr = 0; /* bad_option() says what was wrong, as "shmq stat: ..." */
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'V') {
			printf("%s %s\n", PROG, shmq_version());
			return 0;
		}
		return bad_option(NULL, usage, c, argv);
	}
	if (optind == argc)
		return usage_error(NULL, usage, "no COMMAND given", NULL);
	if (strcmp(argv[optind], "info") == 0)
		return info_main(argc - optind, argv + optind);
	if (strcmp(argv[optind], "ls") == 0)
		return ls_main(argc - optind, argv + optind);
	if (strcmp(argv[optind], "stat") == 0)
		return stat_main(argc - optind, argv + optind);
	if (strcmp(argv[optind], "group") == 0)
		return group_main(argc - optind, argv + optind);
	if (strcmp(argv[optind], "group-delete") == 0)
		return delete_main(argc - optind, argv + optind);
	if (strcmp(argv[optind], "redrive") == 0)
		return redrive_main(argc - optind, argv + optind);
	if (strcmp(argv[optind], "daemon") == 0)
		return daemon_main(argc - optind, argv + optind);
	if (strcmp(argv[optind], "metrics") == 0)
		return metrics_main(argc - optind, argv + optind);
	return usage_error(NULL, usage, "unknown command", argv[optind]);
}
