// SPDX-License-Identifier: MIT
/* cmd_service.c - the shmq commands of request/reply: req (a requester) and reply (a responder). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define REQ_MAX_REPLIES 1024u /* --replies at most this many buffers */
#define REP_SLICE_NS 200000000ull /* a parked responder looks at its stop flag this often */

/* Long options without a short letter. */
enum {
	OPT_STDIN = 256,
	OPT_ECHO,
	OPT_EXEC,
	OPT_ALL,
	OPT_CREATE,
};

/* ---- shmq req ---- */

static void req_usage(FILE *f)
{
	fprintf(f,
		"usage: %s req [-h] [-n NS] [options] SERVICE [BODY]\n"
		"Send BODY (or with --stdin each line of standard input) as a request to SERVICE\n"
		"and print its reply, a line each; with --replies N, scatter-gather: collect up "
		"to\n"
		"N replies (from responders of shmq reply --all) until the timeout and print "
		"each.\n"
		"Stops at the first request that fails.\n"
		"options:\n"
		"  -t, --timeout D     wait at most D for a reply (default 5s): exit 4\n"
		"  -r, --replies N     scatter-gather: up to N replies (1-%u)\n"
		"      --stdin         a request per line of standard input (without its newline)\n"
		"  -j, --json          one JSON object per reply (as -o json); the payload a\n"
		"                      string, or base64 with "
		"\"encoding\":\"base64\"\n" CLI_COMMON_HELP
		"exit status: 0 replied, 1 no responder or an error, 2 usage, 4 no reply in time\n",
		PROG, REQ_MAX_REPLIES);
}

struct req_args {
	const char *service, *body;
	uint64_t timeout_ns, replies;
	bool stdin_lines;
};

/* --replies N: 1 to REQ_MAX_REPLIES. Return: 0, or -1 (a usage error, reported). */
static int req_replies(struct cli *c, const char *arg, uint64_t *ret)
{
	if (cli_number(c, "--replies", arg, ret) < 0)
		return -1;
	if (*ret >= 1 && *ret <= REQ_MAX_REPLIES)
		return 0;
	cli_usage_error(c, "--replies: not between 1 and 1024:", arg);
	return -1;
}

static int req_parse(struct cli *c, int argc, char **argv, struct req_args *a)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "timeout", required_argument, NULL, 't' },
		{ "replies", required_argument, NULL, 'r' },
		{ "stdin", no_argument, NULL, OPT_STDIN },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r = 0;

	a->timeout_ns = 5000000000ull;
	while (r == 0 && (ch = cli_getopt(c, argc, argv, "t:r:j", opts)) != -1) {
		if (ch == 't')
			r = cli_duration(c, "--timeout", optarg, &a->timeout_ns);
		else if (ch == 'r')
			r = req_replies(c, optarg, &a->replies);
		else if (ch == 'j')
			c->json = true;
		else
			a->stdin_lines = true;
	}
	if (c->rc >= 0 || cli_operands(c, argc, argv, 1, 2, "SERVICE") >= 0)
		return c->rc;
	a->service = argv[optind];
	a->body = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (!a->body == !a->stdin_lines)
		return cli_usage_error(c, "give one of BODY and --stdin", NULL);
	return -1;
}

/* One reply on stdout: its bytes and a newline, or a JSON object. */
static void req_print(const char *service, const void *data, size_t len, bool json)
{
	json_t *o;
	bool b64;

	if (!json) {
		fwrite(data, 1, len, stdout);
		putchar('\n');
		return;
	}
	o = json_pack("{s:s, s:I}", "service", service, "len", (json_int_t)len);
	json_object_set_new(o, "payload", cli_json_payload(data, len, &b64));
	if (b64)
		json_object_set_new(o, "encoding", json_string("base64"));
	cli_json_line(o);
}

/* What a failed request says on stderr. Return: the exit status. */
static int req_fail(shmq_bus *bus, const char *service, int err)
{
	char what[512];

	if (err == -EHOSTUNREACH) {
		fprintf(stderr, "%s: no responder for service '%s' in namespace '%s'\n", PROG,
			service, shmq_bus_namespace(bus));
		return EXIT_ERROR;
	}
	if (err == -ETIMEDOUT) {
		fprintf(stderr, "%s: request to service '%s': no reply in time\n", PROG, service);
		return EXIT_TIMEOUT;
	}
	snprintf(what, sizeof(what), "request to service '%s' in namespace '%s'", service,
		 shmq_bus_namespace(bus));
	return cli_fail(what, err);
}

/*
 * One request: its reply (or with --replies its replies) printed. @bufs holds
 * max(1, replies) buffers of @cap bytes. Return: 0, or -errno (-ETIMEDOUT: none came).
 */
static int req_one(shmq_req *rq, const struct req_args *a, bool json, const void *body, size_t len,
		   struct shmq_reply *bufs, size_t cap)
{
	int r, i;

	if (!a->replies) {
		r = shmq_request(rq, body, len, bufs[0].buf, cap, a->timeout_ns);
		if (r >= 0)
			req_print(a->service, bufs[0].buf, (size_t)r, json);
		return r < 0 ? r : 0;
	}
	r = shmq_req_gather(rq, body, len, bufs, a->replies, a->timeout_ns);
	for (i = 0; i < r; i++)
		req_print(a->service, bufs[i].buf, bufs[i].len, json);
	return r < 0 ? r : r == 0 ? -ETIMEDOUT : 0;
}

/* Every request of the run, until the first that fails. Return: 0 or -errno. */
static int req_run(shmq_req *rq, const struct req_args *a, bool json, struct shmq_reply *bufs,
		   size_t cap)
{
	char *line = NULL;
	size_t lcap = 0, len;
	ssize_t got;
	int r = 0;

	if (!a->stdin_lines)
		return req_one(rq, a, json, a->body, strlen(a->body), bufs, cap);
	while (r == 0 && (got = getline(&line, &lcap, stdin)) >= 0) {
		len = (size_t)got - (got > 0 && line[got - 1] == '\n');
		r = req_one(rq, a, json, line, len, bufs, cap);
		fflush(stdout);
	}
	free(line);
	return r;
}

/* Reply buffers: max(1, @n) of @cap bytes each, in one allocation. */
static struct shmq_reply *req_buffers(size_t n, size_t cap)
{
	struct shmq_reply *bufs;
	char *mem;
	size_t i;

	n = n ? n : 1;
	bufs = calloc(n, sizeof(*bufs));
	mem = malloc(n * (cap ? cap : 1));
	if (!bufs || !mem) {
		free(bufs);
		free(mem);
		return NULL;
	}
	for (i = 0; i < n; i++)
		bufs[i] = (struct shmq_reply){ .buf = mem + i * cap, .cap = cap };
	return bufs;
}

static void req_buffers_free(struct shmq_reply *bufs)
{
	if (bufs)
		free(bufs[0].buf);
	free(bufs);
}

int req_main(int argc, char **argv)
{
	struct cli c = { .cmd = "req", .show = req_usage, .rc = -1 };
	struct req_args a = { 0 };
	struct shmq_topic_stats ts;
	struct shmq_reply *bufs = NULL;
	char what[512];
	shmq_bus *bus;
	shmq_req *rq;
	int r, rc;

	if (req_parse(&c, argc, argv, &a) >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	snprintf(what, sizeof(what), "open service '%s' in namespace '%s'", a.service,
		 shmq_bus_namespace(bus));
	r = shmq_topic_stat(bus, a.service, &ts, NULL, 0);
	if (r >= 0)
		r = shmq_req_open(bus, a.service, 0, &rq);
	if (r < 0) {
		shmq_bus_close(bus);
		return cli_fail(what, r);
	}
	/* Replies come through an inbox of the service's max_msg: no larger one fits. */
	bufs = req_buffers(a.replies, ts.max_msg);
	r = bufs ? req_run(rq, &a, c.json, bufs, ts.max_msg) : -ENOMEM;
	fflush(stdout);
	rc = r < 0 ? req_fail(bus, a.service, r) : EXIT_OK;
	req_buffers_free(bufs);
	shmq_req_close(rq);
	shmq_bus_close(bus);
	return rc;
}

/* ---- shmq reply ---- */

static void reply_usage(FILE *f)
{
	fprintf(f,
		"usage: %s reply [-h] [-n NS] [options] SERVICE (--echo | --exec CMD)\n"
		"Answer the requests of SERVICE: with --echo each reply is its request; with\n"
		"--exec each request is the standard input of CMD (run by /bin/sh -c) and the\n"
		"reply its standard output less one trailing newline, also when CMD fails (its\n"
		"exit status is said on stderr). A reply larger than the service's max_msg is not "
		"sent: the requester\n"
		"is told it was too large. Parks while idle. Ends after --count requests, or at\n"
		"SIGINT or SIGTERM (a request taken and not answered goes to another responder).\n"
		"options:\n"
		"  -e, --echo          reply with the request\n"
		"  -x, --exec CMD      reply with what CMD prints for the request\n"
		"  -a, --all           see every request, as a plain subscriber (for scatter-\n"
		"                      gather: shmq req --replies), not one responder of a group\n"
		"  -c, --count N       stop after N requests\n"
		"      --create        create the service's topic if absent\n" CLI_COMMON_HELP,
		PROG);
}

struct reply_args {
	const char *service, *exec;
	uint64_t count;
	bool echo, all, create;
};

static int reply_parse(struct cli *c, int argc, char **argv, struct reply_args *a)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "echo", no_argument, NULL, 'e' },
		{ "exec", required_argument, NULL, 'x' },
		{ "all", no_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'c' },
		{ "create", no_argument, NULL, OPT_CREATE },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r = 0;

	while (r == 0 && (ch = cli_getopt(c, argc, argv, "ex:ac:", opts)) != -1) {
		if (ch == 'e')
			a->echo = true;
		else if (ch == 'x')
			a->exec = optarg;
		else if (ch == 'a')
			a->all = true;
		else if (ch == 'c')
			r = cli_number(c, "--count", optarg, &a->count);
		else
			a->create = true;
	}
	if (c->rc >= 0 || cli_operands(c, argc, argv, 1, 1, "SERVICE") >= 0)
		return c->rc;
	a->service = argv[optind];
	if (a->echo == (a->exec != NULL))
		return cli_usage_error(c, "give one of --echo and --exec CMD", NULL);
	return -1;
}

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* Start "/bin/sh -c @cmd" with pipes on its stdin and stdout. Return: its pid or -errno. */
static pid_t spawn(const char *cmd, int *ret_in, int *ret_out)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL); /* ignored here, not in CMD */
		setpgid(0, 0); /* its own group: a stop ends what it started too */
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid); /* as the child does: whichever runs first */
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -errno;
	}
	*ret_in = in[1];
	*ret_out = out[0];
	return pid;
}

/*
 * Feed @in_len bytes to @in and read @out until its end, both at once (poll), so that a
 * command that writes before it has read all its input cannot deadlock with us. Output past
 * @out_cap is read and thrown away; *@ret_len counts it all.
 */
static int pump(pid_t pid, int in, const char *data, size_t in_len, int out, char *buf,
		size_t out_cap, size_t *ret_len)
{
	struct pollfd p[2] = { { .fd = in_len ? in : -1, .events = POLLOUT },
			       { .fd = out, .events = POLLIN } };
	char sink[4096];
	size_t done = 0, got = 0;
	ssize_t n;
	int r = 0;

	if (!in_len)
		close(in);
	while (p[1].fd >= 0) {
		/* A bounded poll: a signal that came just before it is seen within one slice. */
		p[0].revents = p[1].revents = 0; /* not written by an interrupted poll */
		if (poll(p, 2, (int)(REP_SLICE_NS / 1000000)) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (stop) { /* SIGINT, SIGTERM: CMD's too, and no reply to wait for */
			kill(-pid, SIGTERM);
			break;
		}
		if (p[0].fd >= 0 && p[0].revents) {
			n = write(in, data + done, in_len - done);
			done += n > 0 ? (size_t)n : 0;
			if (done == in_len || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				close(in); /* all written, or CMD stopped reading (EPIPE) */
				p[0].fd = -1;
			}
		}
		if (p[1].revents) {
			n = got < out_cap ? read(out, buf + got, out_cap - got)
					  : read(out, sink, sizeof(sink));
			if (n <= 0 && !(n < 0 && errno == EINTR))
				p[1].fd = -1;
			got += n > 0 ? (size_t)n : 0;
		}
	}
	if (p[0].fd >= 0)
		close(in);
	*ret_len = got;
	return r;
}

/* Run @cmd on a request; its output into @buf (@cap bytes). Return: 0 or -errno. */
static int run_cmd(const char *cmd, const char *req, size_t len, char *buf, size_t cap,
		   size_t *ret_len)
{
	int in = -1, out = -1, r, status;
	pid_t pid = spawn(cmd, &in, &out);

	if (pid < 0)
		return (int)pid;
	fcntl(in, F_SETFL, O_NONBLOCK); /* a short write, never a blocked one, under poll */
	r = pump(pid, in, req, len, out, buf, cap, ret_len);
	close(out);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return r;
	if (stop)
		return r;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		fprintf(stderr, "%s reply: '%s' exited %d (its output is the reply)\n", PROG, cmd,
			WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "%s reply: '%s' killed by signal %d (its output is the reply)\n",
			PROG, cmd, WTERMSIG(status));
	return r;
}

/* Answer request @ri (@n bytes in @buf). Return: 0, or -errno that ends the responder. */
static int answer(shmq_rep *rp, const struct reply_args *a, const struct shmq_request_info *ri,
		  const char *buf, size_t n, char *out, size_t max_msg)
{
	size_t len = n;
	const char *data = buf;
	int r;

	if (a->exec) {
		/* One byte over max_msg: a reply that cannot fit is refused as too large. */
		r = run_cmd(a->exec, buf, n, out, max_msg + 1, &len);
		if (r < 0)
			return r;
		data = out;
		if (len > max_msg)
			len = max_msg + 1;
		else if (len && out[len - 1] == '\n')
			len--; /* a line of output is a reply without its newline */
	}
	if (stop)
		return 0; /* interrupted (CMD likely too): unanswered, redelivered at the close */
	r = shmq_rep_reply(rp, ri, data, len);
	if (r == -EMSGSIZE)
		fprintf(stderr, "%s reply: a reply over %zu bytes: the requester was told\n", PROG,
			max_msg);
	else if (r == -ENOENT || r == -ESTALE)
		fprintf(stderr, "%s reply: request %llu: %s\n", PROG, (unsigned long long)ri->id,
			r == -ENOENT ? "its requester left" : "its lease was lost");
	return r == -EMSGSIZE || r == -ENOENT || r == -ESTALE ? 0 : r;
}

/* Take and answer requests until --count, a signal or an error. Return: 0 or -errno. */
static int reply_run(shmq_rep *rp, const struct reply_args *a, size_t max_msg)
{
	char *buf = malloc(max_msg ? max_msg : 1), *out = malloc(max_msg + 1);
	struct shmq_request_info ri;
	uint64_t done = 0;
	int r = buf && out ? 0 : -ENOMEM;

	while (r >= 0 && !stop && (!a->count || done < a->count)) {
		r = shmq_rep_recv(rp, buf, max_msg, &ri);
		if (r >= 0) {
			r = answer(rp, a, &ri, buf, (size_t)r, out, max_msg);
			done++;
		} else if (r == -EAGAIN) {
			/* In slices, to see a signal: the library's waits go on through EINTR. */
			r = shmq_rep_wait(rp, 0, REP_SLICE_NS);
			r = r == -ETIMEDOUT ? 0 : r;
		}
	}
	free(buf);
	free(out);
	return r;
}

int reply_main(int argc, char **argv)
{
	struct cli c = { .cmd = "reply", .show = reply_usage, .rc = -1 };
	struct sigaction sa = { .sa_handler = on_stop };
	struct reply_args a = { 0 };
	struct shmq_topic_stats ts;
	char what[512];
	shmq_bus *bus;
	shmq_rep *rp;
	int r;

	if (reply_parse(&c, argc, argv, &a) >= 0)
		return c.rc;
	bus = cli_open_bus(c.ns);
	if (!bus)
		return EXIT_ERROR;
	snprintf(what, sizeof(what), "open service '%s' in namespace '%s'", a.service,
		 shmq_bus_namespace(bus));
	r = shmq_rep_open(bus, a.service,
			  (a.create ? SHMQ_OPEN_CREATE : 0u) | (a.all ? SHMQ_REP_ALL : 0u), NULL,
			  &rp);
	if (r == 0 && (r = shmq_topic_stat(bus, a.service, &ts, NULL, 0)) < 0)
		shmq_rep_close(rp);
	if (r < 0) {
		shmq_bus_close(bus);
		return cli_fail(what, r);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a CMD that does not read its input: EPIPE, not death */
	r = reply_run(rp, &a, ts.max_msg);
	shmq_rep_close(rp); /* a request taken and not answered is redelivered */
	snprintf(what, sizeof(what), "answer requests of service '%s'", a.service);
	shmq_bus_close(bus);
	return r < 0 ? cli_fail(what, r) : EXIT_OK;
}
