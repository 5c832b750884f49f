// SPDX-License-Identifier: MIT
/* cli.c - the shmq tool's shared helpers: option parsing, durations, errors, JSON output. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_usage_error(struct cli *c, const char *what, const char *arg)
{
	fprintf(stderr, "%s%s%s: %s", PROG, c->cmd ? " " : "", c->cmd ? c->cmd : "", what);
	if (arg)
		fprintf(stderr, " '%s'", arg);
	fputc('\n', stderr);
	c->show(stderr);
	c->rc = EXIT_USAGE;
	return EXIT_USAGE;
}

/* getopt_long()'s complaint as a usage error (opterr is 0; the optstring starts with ':'). */
int cli_bad_option(struct cli *c, int ch, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	/* A missing argument's option is named as it was written, long or short. */
	const char *name = optopt && ch != ':' ? opt : argv[optind - 1];

	return cli_usage_error(c, ch == ':' ? "missing the argument of" : "unknown option", name);
}

int cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	char optstring[64];
	int ch;

	/* Options and operands may mix, unless @shortopts starts with '+' (a subcommand follows). */
	snprintf(optstring, sizeof(optstring), "%s:hn:o:%s", shortopts[0] == '+' ? "+" : "",
		 shortopts + (shortopts[0] == '+'));
	for (;;) {
		ch = getopt_long(argc, argv, optstring, longopts, NULL);
		if (ch == 'h') {
			c->show(stdout);
			c->rc = EXIT_OK;
			return -1;
		} else if (ch == 'n') {
			c->ns = optarg;
		} else if (ch == 'o' && strcmp(optarg, "json") == 0) {
			c->json = true;
		} else if (ch == 'o' && strcmp(optarg, "table") == 0) {
			c->json = false;
		} else if (ch == 'o' && c->hlog_ok && strlen(optarg) > 5 &&
			   strcmp(optarg + strlen(optarg) - 5, ".hlog") == 0) {
			c->hlog = optarg;
		} else if (ch == 'o') {
			cli_usage_error(c, "not an output format (table, json):", optarg);
			return -1;
		} else if (ch == '?' || ch == ':') {
			cli_bad_option(c, ch, argv);
			return -1;
		} else {
			return ch;
		}
	}
}

int cli_operands(struct cli *c, int argc, char **argv, int min, int max, const char *names)
{
	int n = argc - optind;
	char what[80];

	if (n < min) {
		snprintf(what, sizeof(what), "no %s given", names);
		return cli_usage_error(c, what, NULL);
	}
	if (n > max)
		return cli_usage_error(c, "unexpected argument", argv[optind + max]);
	return -1;
}

int cli_exit_status(int err)
{
	if (err == -ECONNREFUSED)
		return EXIT_NO_DAEMON;
	if (err == -ETIMEDOUT)
		return EXIT_TIMEOUT;
	return EXIT_ERROR;
}

int cli_fail(const char *what, int err)
{
	const char *detail = shmq_last_detail();

	fprintf(stderr, "%s: %s: %s%s%s\n", PROG, what, shmq_strerror(err), detail[0] ? ": " : "",
		detail);
	return cli_exit_status(err);
}

shmq_bus *cli_open_bus(const char *ns)
{
	char what[128];
	shmq_bus *bus;
	int r = shmq_bus_open(ns, 0, &bus);

	if (r == 0)
		return bus;
	if (!ns)
		ns = getenv(SHMQ_NAMESPACE_ENV);
	snprintf(what, sizeof(what), "namespace '%s'", ns ? ns : "");
	cli_fail(what, r);
	return NULL;
}

int cli_number(struct cli *c, const char *opt, const char *arg, uint64_t *ret)
{
	char what[64];
	char *end;

	errno = 0;
	*ret = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-') {
		snprintf(what, sizeof(what), "%s: not a number:", opt);
		cli_usage_error(c, what, arg);
		return -1;
	}
	return 0;
}

int cli_parse_duration(const char *arg, uint64_t *ret_ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ns", 1 },   { "us", 1e3 },   { "ms", 1e6 }, { "s", 1e9 },
		      { "m", 60e9 }, { "h", 3600e9 }, { "", 1e9 } }; /* plain: seconds */
	char *end;
	double v;
	size_t i;

	if (!arg[0] || arg[0] == '-' || arg[0] == '+' || !strchr("0123456789.", arg[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || !isfinite(v))
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v * units[i].ns >= 18e18)
				return -EINVAL;
			*ret_ns = (uint64_t)llround(v * units[i].ns);
			return 0;
		}
	}
	return -EINVAL;
}

int cli_duration(struct cli *c, const char *opt, const char *arg, uint64_t *ret_ns)
{
	char what[96];

	if (cli_parse_duration(arg, ret_ns) == 0)
		return 0;
	snprintf(what, sizeof(what), "%s: not a duration (300ms, 20s, 5m, 1h):", opt);
	cli_usage_error(c, what, arg);
	return -EINVAL;
}

const char *cli_printable(const char *s, char *buf, size_t len)
{
	unsigned char ch;
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++) {
		ch = (unsigned char)s[i];
		buf[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
	}
	buf[i] = '\0';
	return buf;
}

void cli_json_line(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(obj);
}

static char *base64(const unsigned char *p, size_t len)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;
	uint32_t v;

	if (!out)
		return NULL;
	for (i = 0; i < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
		    (i + 2 < len ? p[i + 2] : 0);
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = i + 1 < len ? abc[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? abc[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

json_t *cli_json_payload(const void *data, size_t len, bool *ret_b64)
{
	json_t *s = NULL;
	char *b;

	/* json_stringn() refuses text that is not UTF-8; NUL bytes go to base64 too. */
	if (!len || !memchr(data, '\0', len))
		s = json_stringn(len ? data : "", len);
	*ret_b64 = !s;
	if (s)
		return s;
	b = base64(data, len);
	s = json_string(b ? b : "");
	free(b);
	return s;
}

uint64_t cli_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cli_deadline(uint64_t timeout_ns)
{
	return timeout_ns == UINT64_MAX ? UINT64_MAX : cli_mono_ns() + timeout_ns;
}

uint64_t cli_left(uint64_t deadline)
{
	uint64_t now;

	if (deadline == UINT64_MAX)
		return SHMQ_WAIT_FOREVER;
	now = cli_mono_ns();
	return deadline > now ? deadline - now : 0;
}

bool cli_is_pattern(const char *name)
{
	/* None of these is allowed in a topic name: a name with one is a (maybe bad) pattern. */
	return strpbrk(name, "*#>") != NULL;
}
