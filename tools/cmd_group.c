// SPDX-License-Identifier: MIT
/* cmd_group.c - the shmq commands of consumer groups and dead letters: group, dlq, redrive. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void group_usage(FILE *f)
{
	fprintf(f,
		"usage: %s group [-h] [-n NS] [-o table|json] ls TOPIC\n"
		"       %s group [-h] [-n NS] [-o table|json] [stat] TOPIC GROUP\n"
		"       %s group [-h] [-n NS] [-o table|json] reset TOPIC GROUP "
		"(--earliest | --latest | --seq N)\n"
		"ls: the consumer groups of a topic, with their lag and members. stat (the "
		"default):\n"
		"a consumer group's positions, counters, configuration and members, read without\n"
		"joining it. reset: move a group that no live member is attached to; what it owed\n"
		"(leases, redeliveries) is forgotten.\n"
		"options:\n"
		"  --earliest          reset: to the oldest record the topic retains\n"
		"  --latest            reset: past the newest record\n"
		"  --seq N             reset: to record N (clamped to what the topic "
		"retains)\n" CLI_COMMON_HELP,
		PROG, PROG, PROG);
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

static json_t *group_json(const char *topic, const char *group, const struct shmq_group_stats *g)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "topic", topic,
			      "group", group, "floor", (json_int_t)g->floor, "next",
			      (json_int_t)g->next, "tail", (json_int_t)g->tail, "lag",
			      (json_int_t)(g->tail - g->floor), "pending", (json_int_t)g->pending,
			      "in_flight", (json_int_t)g->in_flight, "delayed",
			      (json_int_t)g->delayed, "holding", (int)g->holding);
	const struct {
		const char *k;
		uint64_t v;
	} f[] = { { "delivered", g->delivered },
		  { "acked", g->acked },
		  { "nacked", g->nacked },
		  { "released", g->released },
		  { "redelivered", g->redelivered },
		  { "expired", g->expired },
		  { "dead_lettered", g->dead_lettered },
		  { "terminated", g->terminated },
		  { "dropped", g->dropped },
		  { "window_full", g->window_full },
		  { "lost", g->lost },
		  { "skipped", g->skipped },
		  { "members", g->members },
		  { "max_pending", g->max_pending },
		  { "max_in_flight", g->max_in_flight },
		  { "max_deliveries", g->max_deliveries },
		  { "ack_wait_ns", g->ack_wait_ns } };
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		json_object_set_new(o, f[i].k, json_integer((json_int_t)f[i].v));
	json_object_set_new(o, "dlq", json_string(g->dlq));
	return o;
}

/*
 * The inactive threshold and how long the group has had no member (deleted once that reaches
 * it): "" when it has none.
 */
static const char *inactive_text(shmq_bus *bus, const char *topic, const char *group, char *buf,
				 size_t len)
{
	uint64_t th = 0, idle = 0;

	buf[0] = '\0';
	if (shmq_group_inactive(bus, topic, group, &th, &idle) == 0 && th)
		snprintf(buf, len, "no member for %.3f s of its inactive threshold %.3f s",
			 (double)idle / 1e9, (double)th / 1e9);
	return buf;
}

static void inactive_json(shmq_bus *bus, const char *topic, const char *group, json_t *o)
{
	uint64_t th = 0, idle = 0;

	if (shmq_group_inactive(bus, topic, group, &th, &idle) < 0)
		return;
	json_object_set_new(o, "inactive_threshold_ns", json_integer((json_int_t)th));
	json_object_set_new(o, "idle_ns", json_integer((json_int_t)idle));
}

static int group_stat(shmq_bus *bus, const char *topic, const char *group, bool json)
{
	struct shmq_group_member_info m[SHMQ_GROUP_MAX_MEMBERS];
	struct shmq_group_stats g;
	char what[512];
	json_t *o, *a;
	int n, i;

	snprintf(what, sizeof(what), "group '%s' of topic '%s' in namespace '%s'", group, topic,
		 shmq_bus_namespace(bus));
	n = shmq_group_stat(bus, topic, group, &g, m, SHMQ_GROUP_MAX_MEMBERS);
	if (n < 0)
		return cli_fail(what, n);
	n = n < (int)SHMQ_GROUP_MAX_MEMBERS ? n : (int)SHMQ_GROUP_MAX_MEMBERS;
	if (json) {
		o = group_json(topic, group, &g);
		a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:i, s:i, s:I, s:I}", "pid",
							   (int)m[i].pid, "in_flight",
							   (int)m[i].in_flight, "delivered",
							   (json_int_t)m[i].delivered, "acked",
							   (json_int_t)m[i].acked));
		json_object_set_new(o, "member_list", a);
		inactive_json(bus, topic, group, o);
		cli_json_line(o);
		return 0;
	}
	print_group(topic, group, &g);
	if (inactive_text(bus, topic, group, what, sizeof(what))[0])
		printf("  %s\n", what);
	for (i = 0; i < n; i++)
		printf("  member pid %d: in flight %u, delivered %llu, acked %llu\n", (int)m[i].pid,
		       m[i].in_flight, (unsigned long long)m[i].delivered,
		       (unsigned long long)m[i].acked);
	return 0;
}

static json_t *ls_json(shmq_bus *bus, const char *topic, const char *group,
		       const struct shmq_group_stats *g)
{
	json_t *o = group_json(topic, group, g);

	inactive_json(bus, topic, group, o);
	return o;
}

static int group_ls(shmq_bus *bus, const char *topic, bool json)
{
	char names[16][SHMQ_GROUP_NAME_MAX + 1], what[512], idle[128];
	struct shmq_group_stats g;
	int i, r, n = shmq_topic_groups(bus, topic, names, 16);

	snprintf(what, sizeof(what), "groups of topic '%s' in namespace '%s'", topic,
		 shmq_bus_namespace(bus));
	if (n < 0)
		return cli_fail(what, n);
	for (i = 0; i < n && i < 16; i++) {
		r = shmq_group_stat(bus, topic, names[i], &g, NULL, 0);
		if (r < 0 && json)
			cli_json_line(json_pack("{s:s, s:s, s:s}", "topic", topic, "group",
						names[i], "error", shmq_strerror(r)));
		else if (r < 0)
			printf("%s  (%s)\n", names[i], shmq_strerror(r));
		else if (json)
			cli_json_line(ls_json(bus, topic, names[i], &g));
		else
			printf("%s  lag %llu, pending %llu, in flight %llu, members %u%s%s%s\n",
			       names[i], (unsigned long long)(g.tail - g.floor),
			       (unsigned long long)g.pending, (unsigned long long)g.in_flight,
			       g.members, g.holding ? ", holding the producers back" : "",
			       inactive_text(bus, topic, names[i], idle, sizeof(idle))[0] ? ", "
											  : "",
			       idle);
	}
	return 0;
}

static int group_reset(shmq_bus *bus, const char *topic, const char *group, unsigned start,
		       uint64_t seq, bool json)
{
	char what[512];
	uint64_t got;
	int r;

	snprintf(what, sizeof(what), "reset group '%s' of topic '%s'", group, topic);
	r = shmq_group_reset(bus, topic, group, start, seq, &got);
	if (r < 0)
		return cli_fail(what, r);
	if (json)
		cli_json_line(json_pack("{s:s, s:s, s:I}", "topic", topic, "group", group, "seq",
					(json_int_t)got));
	else
		printf("group %s on %s: reset to %llu%s\n", group, topic, (unsigned long long)got,
		       start == SHMQ_SUB_FROM_SEQ && got != seq
			       ? " (clamped to the retained records)"
			       : "");
	return 0;
}

/* --earliest, --latest, --seq N: one of them, for reset only. */
struct reset_opts {
	unsigned start;
	uint64_t seq;
	int given;
};

static int reset_opt(struct cli *c, int ch, struct reset_opts *ro)
{
	ro->given++;
	ro->start = ch == 'E' ? SHMQ_SUB_EARLIEST : ch == 'L' ? SHMQ_SUB_LATEST : SHMQ_SUB_FROM_SEQ;
	if (ch == 'S' && (cli_number(c, "--seq", optarg, &ro->seq) < 0 || ro->seq == 0)) {
		if (c->rc < 0)
			c->rc = cli_usage_error(c, "--seq wants a sequence number >= 1", optarg);
		return -1;
	}
	return 0;
}

/* The subcommand's operands, and reset's options only with reset. Return: -1 when right. */
static int group_operands(struct cli *c, int argc, char **argv, const char *sub,
			  const struct reset_opts *ro)
{
	bool reset = sub && strcmp(sub, "reset") == 0;

	if (reset && ro->given != 1)
		return cli_usage_error(c, "reset wants one of --earliest, --latest, --seq N", NULL);
	if (!reset && ro->given)
		return cli_usage_error(c, "--earliest, --latest and --seq are for reset", sub);
	if (sub && strcmp(sub, "ls") == 0)
		return cli_operands(c, argc, argv, 1, 1, "TOPIC");
	return cli_operands(c, argc, argv, 2, 2, "TOPIC and GROUP");
}

int group_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "earliest", no_argument, NULL, 'E' },
					      { "latest", no_argument, NULL, 'L' },
					      { "seq", required_argument, NULL, 'S' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "group", .show = group_usage, .rc = -1 };
	struct reset_opts ro = { 0 };
	const char *sub = NULL;
	shmq_bus *bus;
	int ch, r;

	while ((ch = cli_getopt(&c, argc, argv, "", opts)) != -1)
		if (reset_opt(&c, ch, &ro) < 0)
			return c.rc;
	if (c.rc >= 0)
		return c.rc;
	if (optind < argc &&
	    (strcmp(argv[optind], "ls") == 0 || strcmp(argv[optind], "reset") == 0 ||
	     (strcmp(argv[optind], "stat") == 0 && argc - optind == 3)))
		sub = argv[optind++];
	if (group_operands(&c, argc, argv, sub, &ro) >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	if (sub && strcmp(sub, "ls") == 0)
		r = group_ls(bus, argv[optind], c.json);
	else if (sub && strcmp(sub, "reset") == 0)
		r = group_reset(bus, argv[optind], argv[optind + 1], ro.start, ro.seq, c.json);
	else
		r = group_stat(bus, argv[optind], argv[optind + 1], c.json);
	shmq_bus_close(bus);
	return r;
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

int group_delete_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "force", no_argument, NULL, 'f' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "group-delete", .show = delete_usage, .rc = -1 };
	bool force = false;
	char what[512];
	shmq_bus *bus;
	int r;

	while (cli_getopt(&c, argc, argv, "f", opts) != -1)
		force = true;
	if (c.rc >= 0 || cli_operands(&c, argc, argv, 2, 2, "TOPIC and GROUP") >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	snprintf(what, sizeof(what), "delete group '%s' of topic '%s' in namespace '%s'",
		 argv[optind + 1], argv[optind], shmq_bus_namespace(bus));
	r = shmq_group_delete(bus, argv[optind], argv[optind + 1], force ? SHMQ_GROUP_FORCE : 0);
	shmq_bus_close(bus);
	return r < 0 ? cli_fail(what, r) : 0;
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

static int redrive(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "to", required_argument, NULL, 't' },
					      { "max", required_argument, NULL, 'm' },
					      { "rate", required_argument, NULL, 'r' },
					      { NULL, 0, NULL, 0 } };
	uint64_t max = 0, rate = 0;
	const char *to = NULL;
	char what[512];
	shmq_bus *bus;
	int ch, r;

	while ((ch = cli_getopt(c, argc, argv, "t:m:r:", opts)) != -1) {
		if (ch == 't')
			to = optarg;
		else if (cli_number(c, ch == 'm' ? "--max" : "--rate", optarg,
				    ch == 'm' ? &max : &rate) < 0)
			break;
	}
	if (c->rc >= 0 || cli_operands(c, argc, argv, 1, 1, "DLQ") >= 0)
		return c->rc;
	bus = cli_open_bus(c->ns);
	if (!bus)
		return EXIT_ERROR;
	snprintf(what, sizeof(what), "redrive '%s' in namespace '%s'", argv[optind],
		 shmq_bus_namespace(bus));
	r = shmq_group_redrive(bus, argv[optind], to, max, rate);
	shmq_bus_close(bus);
	if (r < 0)
		return cli_fail(what, r);
	printf("moved %d\n", r);
	return 0;
}

int redrive_main(int argc, char **argv)
{
	struct cli c = { .cmd = "redrive", .show = redrive_usage, .rc = -1 };

	return redrive(&c, argc, argv);
}

static void dlq_usage(FILE *f)
{
	fprintf(f,
		"usage: %s dlq [-h] [-n NS] [-o table|json] ls\n"
		"       %s dlq [-h] [-n NS] [-o table|json] peek [-c N] DLQ\n"
		"       %s dlq [-h] [-n NS] redrive [-t TOPIC] [-m N] [-r RATE] DLQ\n"
		"       %s dlq [-h] [-n NS] purge [-y] DLQ\n"
		"ls: the dead-letter topics (named *.dlq, or a group's), with the records they\n"
		"hold that were not redriven. peek: the first N (default 10) of those, with where\n"
		"each came from, read without consuming them. redrive: as shmq redrive. purge:\n"
		"drop every dead letter there is now, after asking on the terminal.\n"
		"options:\n"
		"  -c, --count N       peek at N records\n"
		"  -y, --yes           purge without asking\n" CLI_COMMON_HELP,
		PROG, PROG, PROG, PROG);
}

static bool dlq_named(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".dlq") == 0;
}

/*
 * The first dead letter not redriven yet: shmq_group_redrive() acks what it moved in the
 * dead-letter topic's group "redrive", whose floor is that record; 0 when it never ran.
 */
static uint64_t dlq_first(shmq_bus *bus, const char *dlq)
{
	struct shmq_group_stats g;

	return shmq_group_stat(bus, dlq, "redrive", &g, NULL, 0) >= 0 ? g.floor : 0;
}

/* " (seq A to B)" of the records from @oldest below @tail; "" when there is none. */
static const char *dlq_range(uint64_t oldest, uint64_t tail, char *buf, size_t len)
{
	buf[0] = '\0';
	if (tail > oldest)
		snprintf(buf, len, " (seq %llu to %llu)", (unsigned long long)oldest,
			 (unsigned long long)tail - 1);
	return buf;
}

/* The dead-letter topics of the namespace: *.dlq topics, and every group's dlq. */
/* Is topic @i of listing @v a dead-letter topic: named *.dlq, or some group's? */
static bool dlq_is(shmq_bus *bus, const struct shmq_object_info *v, int n, int i)
{
	char topic[SHMQ_OBJECT_NAME_MAX + 1], *at;
	struct shmq_group_stats gs;
	int j;

	if (v[i].kind != SHMQ_KIND_TOPIC || v[i].error)
		return false;
	if (dlq_named(v[i].name))
		return true;
	for (j = 0; j < n; j++) {
		snprintf(topic, sizeof(topic), "%s", v[j].name);
		at = strchr(topic, '@');
		if (v[j].kind != SHMQ_KIND_GROUP || !at)
			continue;
		*at = '\0';
		if (shmq_group_stat(bus, topic, at + 1, &gs, NULL, 0) >= 0 &&
		    strcmp(gs.dlq, v[i].name) == 0)
			return true;
	}
	return false;
}

static int dlq_ls(shmq_bus *bus, bool json)
{
	int n = shmq_bus_list(bus, NULL, 0), i;
	struct shmq_object_info *v;
	struct shmq_topic_stats ts;
	char range[64];
	uint64_t first;

	if (n < 0)
		return cli_fail("list namespace", n);
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v)
		return cli_fail("list namespace", -ENOMEM);
	n = shmq_bus_list(bus, v, (size_t)n);
	for (i = 0; i < n; i++) {
		if (!dlq_is(bus, v, n, i) || shmq_topic_stat(bus, v[i].name, &ts, NULL, 0) < 0)
			continue;
		first = dlq_first(bus, v[i].name);
		ts.oldest = first > ts.oldest ? first : ts.oldest;
		if (json)
			cli_json_line(json_pack("{s:s, s:I, s:I, s:I}", "name", v[i].name,
						"records", (json_int_t)(ts.tail - ts.oldest),
						"oldest", (json_int_t)ts.oldest, "tail",
						(json_int_t)ts.tail));
		else
			printf("%s  records %llu%s\n", v[i].name,
			       (unsigned long long)(ts.tail - ts.oldest),
			       dlq_range(ts.oldest, ts.tail, range, sizeof(range)));
	}
	free(v);
	return 0;
}

static const char *dlq_reason(uint32_t r)
{
	switch (r) {
	case SHMQ_DLQ_MAX_DELIVERIES:
		return "max-deliveries";
	case SHMQ_DLQ_REJECTED:
		return "rejected";
	case SHMQ_DLQ_EXPIRED:
		return "expired";
	case SHMQ_DLQ_DELAY:
		return "delay-too-long";
	default:
		return "unknown";
	}
}

/* Bytes as text, each one a terminal would act on (and every non-ASCII one) as \xNN. */
static void print_escaped(const char *p, size_t len)
{
	unsigned char ch;
	size_t i;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)p[i];
		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('\n');
}

static void dlq_print(const struct shmq_sub_msg *m, const char *buf, size_t len, bool json)
{
	struct shmq_dlq_hdr h;
	json_t *o;
	bool b64;

	if (len < sizeof(h) || (memcpy(&h, buf, sizeof(h)), h.magic != SHMQ_DLQ_MAGIC) ||
	    h.hdr_len > len) {
		if (json)
			cli_json_line(json_pack("{s:I, s:s}", "seq", (json_int_t)m->seq, "error",
						"not a dead letter"));
		else
			printf("%llu  (not a dead letter)\n", (unsigned long long)m->seq);
		return;
	}
	h.topic[sizeof(h.topic) - 1] = h.group[sizeof(h.group) - 1] = '\0';
	if (!json) {
		printf("%llu  from %s seq %llu, group %s, %s, failed %u, %u bytes: ",
		       (unsigned long long)m->seq, h.topic, (unsigned long long)h.origin_seq,
		       h.group, dlq_reason(h.reason), h.failed, h.orig_len);
		print_escaped(buf + h.hdr_len, len - h.hdr_len);
		return;
	}
	o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:i, s:i, s:I, s:i}", "seq", (json_int_t)m->seq,
		      "topic", h.topic, "origin_seq", (json_int_t)h.origin_seq, "group", h.group,
		      "reason", dlq_reason(h.reason), "failed", (int)h.failed, "acquired",
		      (int)h.acquired, "corr", (json_int_t)h.corr_id, "len", (int)h.orig_len);
	json_object_set_new(o, "payload", cli_json_payload(buf + h.hdr_len, len - h.hdr_len, &b64));
	if (b64)
		json_object_set_new(o, "encoding", json_string("base64"));
	cli_json_line(o);
}

/* Read up to @count records from the oldest with a subscriber of our own, then close it. */
static int dlq_peek(shmq_bus *bus, const char *dlq, uint64_t count, bool json)
{
	struct shmq_sub_msg m;
	struct shmq_topic_stats ts;
	char what[512], *buf;
	shmq_sub *sub;
	uint64_t i, first;
	int r;

	snprintf(what, sizeof(what), "open topic '%s' in namespace '%s'", dlq,
		 shmq_bus_namespace(bus));
	r = shmq_topic_stat(bus, dlq, &ts, NULL, 0);
	if (r < 0)
		return cli_fail(what, r);
	first = dlq_first(bus, dlq);
	r = shmq_sub_open(bus, dlq, first ? SHMQ_SUB_FROM_SEQ : SHMQ_SUB_EARLIEST, NULL, first,
			  &sub);
	if (r < 0)
		return cli_fail(what, r);
	buf = malloc(ts.max_msg ? ts.max_msg : 1);
	for (i = 0; buf && i < count; i++) {
		r = shmq_sub_recv(sub, buf, ts.max_msg, &m);
		if (r == -EBADMSG)
			continue;
		if (r < 0)
			break;
		dlq_print(&m, buf, (size_t)r, json);
	}
	free(buf);
	shmq_sub_close(sub);
	return 0;
}

/* Ask on the terminal whether to go on; no terminal and no --yes is a usage error (2). */
static int purge_confirm(const char *dlq, uint64_t n)
{
	char line[16];

	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "%s dlq purge: standard input is not a terminal: give --yes\n",
			PROG);
		return EXIT_USAGE;
	}
	fprintf(stderr, "purge %llu dead letters from %s? [y/N] ", (unsigned long long)n, dlq);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin) || (line[0] != 'y' && line[0] != 'Y')) {
		fprintf(stderr, "%s dlq purge: nothing purged\n", PROG);
		return EXIT_ERROR;
	}
	return -1;
}

/*
 * Ack everything below @end through a member of the group "redrive", whose floor is where
 * dlq ls and dlq peek start: the records stay in the log until it wraps, but count as gone.
 */
static int purge_run(shmq_bus *bus, const char *dlq, uint64_t end, uint64_t *ret_n)
{
	struct shmq_group_msg m;
	shmq_group *g;
	uint64_t n = 0;
	int r;

	r = shmq_group_open(bus, dlq, "redrive", SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, NULL, &g);
	if (r < 0)
		return r;
	for (;;) {
		r = shmq_group_recv(g, NULL, 0, &m); /* -EMSGSIZE: leased all the same */
		if (r < 0 && r != -EMSGSIZE)
			break;
		if (m.seq >= end) {
			shmq_group_release(g, m.lease);
			break;
		}
		r = shmq_group_ack(g, m.lease);
		if (r < 0)
			break;
		n++;
	}
	shmq_group_close(g);
	*ret_n = n;
	return r == -EAGAIN || r >= 0 ? 0 : r;
}

static int dlq_purge(shmq_bus *bus, const char *dlq, bool yes)
{
	struct shmq_topic_stats ts;
	uint64_t first, n;
	char what[512];
	int r;

	snprintf(what, sizeof(what), "purge '%s' in namespace '%s'", dlq, shmq_bus_namespace(bus));
	r = shmq_topic_stat(bus, dlq, &ts, NULL, 0);
	if (r < 0)
		return cli_fail(what, r);
	first = dlq_first(bus, dlq);
	first = first > ts.oldest ? first : ts.oldest;
	if (ts.tail <= first) {
		printf("purged 0\n");
		return 0;
	}
	if (!yes && (r = purge_confirm(dlq, ts.tail - first)) >= 0)
		return r;
	r = purge_run(bus, dlq, ts.tail, &n);
	if (r < 0)
		return cli_fail(what, r);
	printf("purged %llu\n", (unsigned long long)n);
	return 0;
}

int dlq_main(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "count", required_argument, NULL, 'c' },
					      { "yes", no_argument, NULL, 'y' },
					      { NULL, 0, NULL, 0 } };
	struct cli c = { .cmd = "dlq", .show = dlq_usage, .rc = -1 };
	uint64_t count = 10;
	bool yes = false;
	const char *sub;
	shmq_bus *bus;
	int ch, r;

	if (cli_getopt(&c, argc, argv, "+", opts) != -1 || c.rc >= 0 ||
	    cli_operands(&c, argc, argv, 1, argc, "ls, peek, redrive or purge") >= 0)
		return c.rc;
	sub = argv[optind];
	if (strcmp(sub, "redrive") == 0) {
		int first = optind;

		c.cmd = "dlq redrive";
		optind = 0; /* start over on the subcommand's own arguments */
		return redrive(&c, argc - first, argv + first);
	}
	if (strcmp(sub, "ls") && strcmp(sub, "peek") && strcmp(sub, "purge"))
		return cli_usage_error(&c, "unknown subcommand", sub);
	argc -= optind;
	argv += optind;
	optind = 0;
	while ((ch = cli_getopt(&c, argc, argv, "c:y", opts)) != -1) {
		if (ch == 'y')
			yes = true;
		else if (cli_number(&c, "--count", optarg, &count) < 0)
			break;
	}
	if (c.rc >= 0 || cli_operands(&c, argc, argv, sub[0] == 'p', sub[0] == 'p', "DLQ") >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	if (strcmp(sub, "purge") == 0)
		r = dlq_purge(bus, argv[optind], yes);
	else if (sub[0] == 'p')
		r = dlq_peek(bus, argv[optind], count, c.json);
	else
		r = dlq_ls(bus, c.json);
	shmq_bus_close(bus);
	return r;
}
