// SPDX-License-Identifier: MIT
/*
 * nats_bench.c - the NATS bridge's benchmark helpers (bench/run-nats.sh runs them):
 *
 *   shmq-nats-bench pub URL SUBJECT N SIZE   a plain libnats publisher: N messages of SIZE
 *                                            bytes, then a flush; prints its rate
 *   shmq-nats-bench sink URL SUBJECT N       a NATS subscriber: waits for N messages and
 *                                            prints the rate from the first to the last
 *   shmq-nats-bench lat FROM TO TOPIC RATE N SIZE
 *                                            N records at RATE a second published to TOPIC
 *                                            in shmq namespace FROM, each carrying its due
 *                                            time, received from TOPIC in namespace TO
 *                                            (where a bridge imports them): the latency
 *                                            from due time to receipt, p50/p90/p99/p99.9/max
 *
 * The sink is the same for a plain publisher and for the bridge, so that both pay the same
 * receiving side; the rates are what the sink saw.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "shmq.h"

#define PROG "shmq-nats-bench"
#define SINK_TIMEOUT_NS (120 * 1000000000ull)

static uint64_t now_ns(void)
{
	return shmq_now_ns();
}

static int nats_fail(const char *what, natsStatus s)
{
	fprintf(stderr, PROG ": %s: %s\n", what, natsStatus_GetText(s));
	return 1;
}

static int pub_main(const char *url, const char *subject, uint64_t n, size_t size)
{
	natsConnection *nc = NULL;
	natsStatus s = natsConnection_ConnectTo(&nc, url);
	char *buf = calloc(1, size < 8 ? 8 : size);
	uint64_t i, t0, t1;

	if (s != NATS_OK || !buf)
		return nats_fail("connect", s);
	t0 = now_ns();
	for (i = 0; i < n && s == NATS_OK; i++) {
		memcpy(buf, &i, 8);
		s = natsConnection_Publish(nc, subject, buf, (int)size);
	}
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(nc, 60000);
	t1 = now_ns();
	if (s != NATS_OK)
		return nats_fail("publish", s);
	printf("pub %" PRIu64 " msgs in %.3f s: %.0f msg/s\n", n, (double)(t1 - t0) / 1e9,
	       (double)n * 1e9 / (double)(t1 - t0));
	natsConnection_Destroy(nc);
	free(buf);
	nats_Close();
	return 0;
}

struct sink {
	pthread_mutex_t mu;
	pthread_cond_t done;
	uint64_t want, got, t_first, t_last;
};

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct sink *k = arg;
	uint64_t t = now_ns();

	(void)nc;
	(void)sub;
	natsMsg_Destroy(msg);
	pthread_mutex_lock(&k->mu);
	if (!k->got++)
		k->t_first = t;
	k->t_last = t;
	if (k->got >= k->want)
		pthread_cond_signal(&k->done);
	pthread_mutex_unlock(&k->mu);
}

static int sink_main(const char *url, const char *subject, uint64_t n)
{
	struct sink k = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n, 0, 0, 0 };
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	natsStatus s = natsConnection_ConnectTo(&nc, url);
	struct timespec until;
	int r = 0;

	if (s == NATS_OK)
		s = natsConnection_Subscribe(&sub, nc, subject, on_msg, &k);
	if (s == NATS_OK) /* the sink keeps up with anything: no slow-consumer drops */
		s = natsSubscription_SetPendingLimits(sub, -1, -1);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(nc, 5000);
	if (s != NATS_OK)
		return nats_fail("subscribe", s);
	printf("ready\n");
	fflush(stdout);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SINK_TIMEOUT_NS / 1000000000ull;
	pthread_mutex_lock(&k.mu);
	while (k.got < k.want && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&k.done, &k.mu, &until);
	pthread_mutex_unlock(&k.mu);
	if (k.got < k.want) {
		fprintf(stderr, PROG ": sink: %" PRIu64 " of %" PRIu64 " messages\n", k.got, n);
		return 1;
	}
	printf("sink %" PRIu64 " msgs in %.3f s: %.0f msg/s\n", n,
	       (double)(k.t_last - k.t_first) / 1e9,
	       (double)(n - 1) * 1e9 / (double)(k.t_last - k.t_first + 1));
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	nats_Close();
	return 0;
}

/* ---- lat: shmq -> NATS -> shmq through two bridges ---- */

struct lat_run {
	shmq_bus *to;
	const char *topic;
	uint64_t n;
	shmq_hist *h;
	int err;
};

static void *lat_recv(void *arg)
{
	struct lat_run *l = arg;
	struct shmq_sub_msg info;
	shmq_sub *sub = NULL;
	uint64_t got = 0, due, deadline = now_ns() + SINK_TIMEOUT_NS;
	char buf[4096];
	int r;

	r = shmq_sub_open(l->to, l->topic, SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, NULL, 0, &sub);
	while (r >= 0 && got < l->n && now_ns() < deadline) {
		r = shmq_sub_recv(sub, buf, sizeof(buf), &info);
		if (r == -EAGAIN) {
			r = shmq_sub_wait(sub, 20000, 100000000);
			if (r == -ETIMEDOUT || r == -EPIPE)
				r = 0;
			continue;
		}
		if (r >= 8) {
			memcpy(&due, buf, 8);
			shmq_hist_record(l->h, (int64_t)(now_ns() - due));
			got++;
		}
	}
	l->err = got == l->n ? 0 : (r < 0 ? r : -ETIMEDOUT);
	shmq_sub_close(sub);
	return NULL;
}

static int lat_main(const char *from, const char *to, const char *topic, uint64_t rate, uint64_t n,
		    size_t size)
{
	struct lat_run l = { .topic = topic, .n = n };
	shmq_bus *fb = NULL;
	shmq_pub *pub = NULL;
	pthread_t th;
	uint64_t i, t0, due;
	char buf[4096] = { 0 };
	int r;

	if (size < 8 || size > sizeof(buf) || !rate)
		return fprintf(stderr, PROG ": lat: size 8-4096, rate > 0\n"), 2;
	r = shmq_bus_open(from, 0, &fb);
	if (r == 0)
		r = shmq_bus_open(to, 0, &l.to);
	if (r == 0)
		r = shmq_hist_new(1, 60000000000ll, 3, &l.h);
	if (r == 0)
		r = shmq_pub_open(fb, topic, SHMQ_OPEN_CREATE, NULL, &pub);
	if (r < 0)
		return fprintf(stderr, PROG ": lat: %s\n", shmq_strerror(r)), 1;
	if (pthread_create(&th, NULL, lat_recv, &l) != 0)
		return 1;
	t0 = now_ns() + 100000000; /* the receiver subscribed */
	for (i = 0; i < n; i++) {
		due = t0 + i * 1000000000ull / rate;
		while (now_ns() < due)
			;
		memcpy(buf, &due, 8);
		while ((r = shmq_pub_send(pub, buf, size, i)) == -EAGAIN)
			;
		if (r < 0)
			break;
	}
	pthread_join(th, NULL);
	if (r < 0 || l.err < 0) {
		fprintf(stderr, PROG ": lat: %s\n", shmq_strerror(r < 0 ? r : l.err));
		return 1;
	}
	printf("lat %" PRIu64 " msgs at %" PRIu64 "/s: p50 %" PRId64 " p90 %" PRId64 " p99 %" PRId64
	       " p99.9 %" PRId64 " max %" PRId64 " ns\n",
	       n, rate, shmq_hist_value_at_percentile(l.h, 50.0),
	       shmq_hist_value_at_percentile(l.h, 90.0), shmq_hist_value_at_percentile(l.h, 99.0),
	       shmq_hist_value_at_percentile(l.h, 99.9), shmq_hist_max(l.h));
	shmq_hist_free(l.h);
	shmq_pub_close(pub);
	shmq_bus_close(fb);
	shmq_bus_close(l.to);
	return 0;
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 10);
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "pub"))
		return pub_main(argv[2], argv[3], num(argv[4]), (size_t)num(argv[5]));
	if (argc == 5 && !strcmp(argv[1], "sink"))
		return sink_main(argv[2], argv[3], num(argv[4]));
	if (argc == 8 && !strcmp(argv[1], "lat"))
		return lat_main(argv[2], argv[3], argv[4], num(argv[5]), num(argv[6]),
				(size_t)num(argv[7]));
	fprintf(stderr, "usage: " PROG " pub URL SUBJECT N SIZE | sink URL SUBJECT N |\n"
			"       lat FROM-NS TO-NS TOPIC RATE N SIZE\n");
	return 2;
}
