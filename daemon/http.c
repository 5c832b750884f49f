// SPDX-License-Identifier: MIT
/*
 * http.c - shmqd's /metrics endpoint (--metrics ADDR:PORT): libmicrohttpd in its external
 * epoll mode, so that requests are served on the daemon's own thread, from its one loop.
 *
 * MHD keeps its listening socket and connections in an epoll set of its own; that set's
 * descriptor polls readable whenever one of them is ready, so it is one more watch on the
 * loop, and MHD_run() does the work when it fires. The handler therefore reads the daemon's
 * counters as every other callback does, without a lock. Idle connections are timed out by
 * the sweep timer's call of http_tick(), every SWEEP_MS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "shmqd.h"

#define HTTP_CONNECTIONS 16 /* scrapers at once; more are refused by MHD */
#define HTTP_TIMEOUT_S 10 /* an idle or slow connection is closed after this */
#define HTTP_RUNS 16 /* MHD_run() calls per wakeup while MHD says work is pending */

static const char not_found[] = "not found: shmqd serves /metrics\n";

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result r;

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result serve_metrics(struct daemon *d, struct MHD_Connection *conn)
{
	struct metrics_daemon m = {
		.clients = (uint64_t)d->nclients,
		.procs = (uint64_t)d->nprocs,
		.requests = d->requests,
		.refused = d->refused,
		.deaths = d->deaths,
		.freed = d->freed,
		.uptime_seconds = (double)(shmq_now_ns() - d->started_ns) / 1e9,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r = f ? metrics_write(d->bus, f, &m) : -ENOMEM;

	if (f && fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		logmsg("metrics: %s", shmq_strerror(r));
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, (char *)"metrics unavailable\n",
			     20, MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8");
	}
	return reply(conn, MHD_HTTP_OK, buf, len, MHD_RESPMEM_MUST_FREE, METRICS_CONTENT_TYPE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **con_cls)
{
	(void)version;
	(void)upload;
	(void)con_cls;
	if (*upload_len)
		return MHD_NO; /* a body nobody asked for */
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, (char *)"GET or HEAD\n", 12,
			     MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8");
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, (char *)not_found, sizeof(not_found) - 1,
			     MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8");
	return serve_metrics(cls, conn);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	logmsg("metrics: %s", buf);
}

/* Run MHD until it says nothing is pending now (a bounded number of times). */
static void run(struct daemon *d)
{
	MHD_UNSIGNED_LONG_LONG ms;

	for (int i = 0; i < HTTP_RUNS; i++) {
		MHD_run(d->http);
		if (MHD_get_timeout(d->http, &ms) != MHD_YES || ms > 0)
			return;
	}
}

static void on_http(struct loop *l, struct watch *w, uint32_t events)
{
	/* the watch lives in the daemon's struct */
	struct daemon *d = (struct daemon *)(void *)((char *)w - offsetof(struct daemon, http_w));

	(void)l;
	(void)events;
	run(d);
}

/*
 * "ADDR:PORT", ADDR numeric: an IPv4 address or a bracketed IPv6 one ("[::1]:9464"); PORT
 * 0-65535, 0 for one the kernel picks. 0, or -EINVAL.
 */
static int parse_addr(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM },
			*ai;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	size_t hlen = colon ? (size_t)(colon - spec) : 0;
	int r;

	if (!colon || !colon[1] || hlen < 1 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (host[0] == '[') {
		if (hlen < 3 || host[hlen - 1] != ']')
			return -EINVAL;
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
		hints.ai_family = AF_INET6;
	} else {
		hints.ai_family = AF_INET;
	}
	r = getaddrinfo(host, colon + 1, &hints, &ai);
	if (r != 0)
		return -EINVAL;
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static bool loopback(const struct sockaddr_storage *sa)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

	if (sa->ss_family == AF_INET)
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
	       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
}

static int start(struct daemon *d, struct sockaddr_storage *sa)
{
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	/* MHD binds @sa; the port is for its messages */
	uint16_t port =
		ntohs(sa->ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)sa)->sin6_port
						: ((struct sockaddr_in *)(void *)sa)->sin_port);

	if (sa->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the logger first: MHD logs options after it with its own logger */
	d->http = MHD_start_daemon(
		flags, port, NULL, NULL, on_request, d, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_END);
	if (!d->http)
		return -EADDRNOTAVAIL;
	info = MHD_get_daemon_info(d->http, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0)
		return -EINVAL;
	d->http_w = (struct watch){ .fd = info->epoll_fd, .fn = on_http };
	return loop_add(&d->loop, &d->http_w);
}

int http_check(const char *spec, bool any, struct sockaddr_storage *ret_sa)
{
	socklen_t len;

	if (parse_addr(spec, ret_sa, &len) < 0) {
		logmsg("--metrics %s: not ADDR:PORT (a numeric address: 127.0.0.1:9464, "
		       "[::1]:9464)",
		       spec);
		return -EINVAL;
	}
	if (!any && !loopback(ret_sa)) {
		logmsg("--metrics %s: not a loopback address; --metrics-any to serve it anyway",
		       spec);
		return -EINVAL;
	}
	return 0;
}

int http_start(struct daemon *d, const char *spec, bool any)
{
	struct sockaddr_storage sa;
	const union MHD_DaemonInfo *info;
	int r = http_check(spec, any, &sa);

	if (r < 0)
		return r;
	r = start(d, &sa);
	if (r < 0) {
		logmsg("--metrics %s: cannot serve there (see above)", spec);
		http_stop(d);
		return r;
	}
	info = MHD_get_daemon_info(d->http, MHD_DAEMON_INFO_BIND_PORT);
	logmsg("metrics on %.*s:%u/metrics", (int)(strrchr(spec, ':') - spec), spec,
	       info ? (unsigned)info->port : 0u);
	return 0;
}

void http_tick(struct daemon *d)
{
	if (d->http)
		run(d);
}

void http_stop(struct daemon *d)
{
	if (!d->http)
		return;
	if (d->http_w.fn)
		loop_del(&d->loop, &d->http_w);
	MHD_stop_daemon(d->http);
	d->http = NULL;
}
