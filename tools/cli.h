/* SPDX-License-Identifier: MIT */
/* cli.h - what the shmq tool's commands share: option parsing, durations, errors, output. */
#ifndef SHMQ_CLI_H
#define SHMQ_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shmq.h"

#define PROG "shmq"

/* Exit statuses of every command. */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_NO_DAEMON = 3, /* SHMQ_DAEMON=required and no daemon answers */
	EXIT_TIMEOUT = 4,
};

/* A command of the table in shmq.c: "shmq NAME ARGS" runs main(argc, argv), argv[0] NAME. */
struct cli_command {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *help; /* one line for "shmq -h" */
};

/* The commands each file defines. */
int info_main(int argc, char **argv);
int ls_main(int argc, char **argv);
int stat_main(int argc, char **argv);
int rm_main(int argc, char **argv);
int daemon_main(int argc, char **argv);
int group_main(int argc, char **argv);
int group_delete_main(int argc, char **argv);
int redrive_main(int argc, char **argv);
int dlq_main(int argc, char **argv);
int pub_main(int argc, char **argv);
int sub_main(int argc, char **argv);
int req_main(int argc, char **argv);
int reply_main(int argc, char **argv);
int hz_main(int argc, char **argv);
int top_main(int argc, char **argv);
int doctor_main(int argc, char **argv);
int hist_main(int argc, char **argv);
int lat_main(int argc, char **argv);

/*
 * cmd_hist.c: the live latency of a topic's subscribers and of a group's members
 * (shmq/latency.h), for shmq stat: a line per live subscriber slot, or the group's merged
 * delivery and processing time; nothing when nobody records.
 */
void cli_lat_print_topic(shmq_bus *bus, const char *topic);
void cli_lat_print_group(shmq_bus *bus, const char *topic, const char *group);
/* The same as JSON: an array of slots, or members' "delivery"/"processing" set in @obj. */
json_t *cli_lat_topic_json(shmq_bus *bus, const char *topic);
void cli_lat_group_json(shmq_bus *bus, const char *topic, const char *group, json_t *obj);
/*
 * What @cur holds that @prev (an earlier snapshot of the same slots, or NULL) did not: an
 * interval's histogram, into @ret (shmq_hist_free()). Return: 0 or -ENOMEM.
 */
int cli_lat_interval(const shmq_hist *cur, const shmq_hist *prev, shmq_hist **ret);
/*
 * hist_svg.c: @h's percentile distribution (latency against percentile in nines) as a
 * standalone SVG file at @path, titled @title (no markup). Return: 0 or -errno.
 */
int cli_hist_svg(const shmq_hist *h, const char *path, const char *title);
/* @ns as a short duration ("850ns", "12.3us", "4.56ms", "1.23s"); returns @buf. */
const char *cli_fmt_ns(int64_t ns, char *buf, size_t len);

/*
 * One command's parse: its name and usage, and what the options every command takes gave
 * (-n NS, -o table|json); @rc is -1 while parsing goes on, else the exit status to return
 * (0 after --help, 2 after a usage error).
 */
struct cli {
	const char *cmd;
	void (*show)(FILE *f);
	const char *ns;
	bool json;
	bool hlog_ok; /* -o also takes FILE.hlog (shmq hist), given in @hlog */
	const char *hlog;
	int rc;
};

/* The long options of -h, -n and -o; first in each command's table. */
#define CLI_COMMON_OPTIONS                                                                 \
	{ "help", no_argument, NULL, 'h' }, { "namespace", required_argument, NULL, 'n' }, \
	{                                                                                  \
		"output", required_argument, NULL, 'o'                                     \
	}

/* The text of -n and -o in a usage. */
#define CLI_COMMON_HELP                                                          \
	"  -n, --namespace NS  the bus namespace (default: $" SHMQ_NAMESPACE_ENV \
	", else \"default\")\n"                                                  \
	"  -o, --output FMT    table (the default) or json\n"                    \
	"  -h, --help          this text\n"

/*
 * getopt_long() over a command's arguments: -h, -n and -o are handled here, and so are
 * unknown options and missing arguments (c->rc set, -1 returned); the command's own
 * options (@shortopts, getopt's letters) are returned to the caller. Options and operands
 * may come in any order ("--" ends the options), unless @shortopts starts with '+': then the
 * first operand ends them, for a subcommand that parses its own.
 */
int cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/*
 * After the options: between @min and @max operands (@names for the message when there
 * are too few). Return: -1 when right, else the usage error's exit status.
 */
int cli_operands(struct cli *c, int argc, char **argv, int min, int max, const char *names);

/* getopt_long()'s '?' or ':' (@ch) as a usage error. Return: 2. */
int cli_bad_option(struct cli *c, int ch, char **argv);

/* "shmq CMD: WHAT 'ARG'" and the usage on stderr. Return: 2. */
int cli_usage_error(struct cli *c, const char *what, const char *arg);

/* "shmq: WHAT: text: detail" on stderr. Return: the exit status that @err calls for. */
int cli_fail(const char *what, int err);

/* The exit status of a failure: 3 for -ECONNREFUSED, 4 for -ETIMEDOUT, else 1. */
int cli_exit_status(int err);

/* The bus of @ns (NULL: the default), or NULL after saying why. */
shmq_bus *cli_open_bus(const char *ns);

/* A decimal number into @ret, or a usage error (c->rc set). Return: 0 or -1. */
int cli_number(struct cli *c, const char *opt, const char *arg, uint64_t *ret);

/*
 * A duration: a number with a unit, ns, us, ms, s, m or h; a plain number is seconds.
 * Fractions are allowed ("1.5s", "0.25"). Return: 0, or -EINVAL (c->rc set).
 */
int cli_duration(struct cli *c, const char *opt, const char *arg, uint64_t *ret_ns);

/* Parse a duration without reporting: 0 or -EINVAL. */
int cli_parse_duration(const char *arg, uint64_t *ret_ns);

/* @s with every byte a terminal would act on shown as '?', into @buf. */
const char *cli_printable(const char *s, char *buf, size_t len);

/* Print @obj as one line of compact JSON and release it. */
void cli_json_line(json_t *obj);

/* A payload as JSON: a string when it is UTF-8 without NUL, else base64 (@ret_b64 true). */
json_t *cli_json_payload(const void *data, size_t len, bool *ret_b64);

/* CLOCK_MONOTONIC now, nanoseconds. */
uint64_t cli_mono_ns(void);

/* A deadline @timeout_ns from now (UINT64_MAX for none), and the time left until it. */
uint64_t cli_deadline(uint64_t timeout_ns);
uint64_t cli_left(uint64_t deadline);

/* Is @name a pattern: does it hold a wildcard character (*, #, >)? */
bool cli_is_pattern(const char *name);

/*
 * What sub and hz read from: a subscriber of one topic, of a pattern's topics, or a member
 * of a consumer group; and one record of it.
 */
struct cli_source {
	shmq_sub *sub;
	shmq_psub *psub;
	shmq_group *member;
	shmq_prio_sub *prio_sub; /* a priority topic's subscriber */
	shmq_prio_group *prio_member; /* a priority topic's group member */
	shmq_part_group *part_member; /* a partitioned topic's group member */
	const char *name; /* the topic, or the pattern */
	shmq_bus *bus;
};

struct cli_record {
	char topic[SHMQ_NAME_MAX + 1];
	uint64_t seq, ts_ns, corr_id, producer_seq, lost, skipped, lease;
	uint32_t producer_id, attempt; /* attempt: 0 outside a group */
	int level, partition; /* of a priority or partitioned topic, else -1 */
	shmq_group *group; /* the group member that takes its ack, or NULL */
	size_t len;
	const void *hdrs; /* its header block (the handle's copy, good until the next receive) */
	size_t hdrs_len;
};

/*
 * Open @src on @name: a pattern subscriber when @name has a wildcard token, a group member
 * when @group is given (the group made if absent), else a subscriber; @flags one of
 * SHMQ_SUB_LATEST, _EARLIEST, _FROM_SEQ (with @from_seq), SHMQ_SUB_LATENCY and
 * SHMQ_SUB_READONLY. A subscriber refused for want of write permission on a lossy topic falls
 * back to SHMQ_SUB_READONLY (and says so on stderr). A priority
 * topic (cli_topic_kind()) is read through shmq/priority.h (SHMQ_PRIO_WEIGHTED in @flags: the
 * weighted rule), a partitioned one, with @group only, through shmq/partition.h. Return: 0 or
 * -errno (reported here, with the exit status in *ret_rc).
 */
int cli_source_open(struct cli_source *src, shmq_bus *bus, const char *name, const char *group,
		    unsigned flags, uint64_t from_seq, int *ret_rc);
void cli_source_close(struct cli_source *src);

/* The next record into *@buf (grown as needed, *@cap its size). Return: length or -errno. */
int cli_source_recv(struct cli_source *src, char **buf, size_t *cap, struct cli_record *rec);

/* Park until a record is there (0), or -ETIMEDOUT, -EPIPE (no producer left), -errno. */
int cli_source_wait(struct cli_source *src, uint64_t timeout_ns);

/* What cli_topic_kind() finds @name to be. */
enum {
	CLI_TOPIC_PLAIN = 0, /* a topic, a pattern, or nothing at all */
	CLI_TOPIC_PRIO, /* no topic NAME, and a NAME.p0 (shmq/priority.h) */
	CLI_TOPIC_PART, /* no topic NAME, and a NAME.part0 (shmq/partition.h) */
};

/* keyed.c: which kind of topic @name is (a look, nothing opened). */
int cli_topic_kind(shmq_bus *bus, const char *name);

/* keyed.c: shmq stat of a priority topic: each level's tail and subscribers. Return: 0, -errno. */
int cli_stat_prio(shmq_bus *bus, const char *name, bool json);

/*
 * keyed.c: shmq stat of a partitioned topic: each partition's topic, or with @group each one's
 * owner, floor, lag and moves (shmq_part_stat()). Return: 0 or -errno.
 */
int cli_stat_part(shmq_bus *bus, const char *name, const char *group, bool json);

#endif /* SHMQ_CLI_H */
