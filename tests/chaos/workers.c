/* SPDX-License-Identifier: MIT */
/* workers.c - the chaos run's worker processes: each does one job and logs what it did. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shmq.h>

#include "chaos.h"
#include "workers.h"

#define WAIT_NS 20000000ull /* a worker looks at its stop flag at least this often */

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t slow_flag;
static int log_fd = -1;
static uint64_t rng;

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	slow_flag = !slow_flag;
}

/* One write(2) per line: a SIGKILL loses at most the line it interrupts. */
static void wlog(const char *fmt, ...)
{
	char line[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(log_fd, line, (size_t)n);
}

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

static shmq_bus *worker_setup(const struct worker *w, const char *dir, const char *ns)
{
	static const char *kinds[] = { "prod", "wsub", "lsub",	"vsub",	 "memb",  "dlqw",
				       "req",  "rep",  "kprod", "kmemb", "daemon" };
	struct sigaction sa = { .sa_handler = on_term };
	char path[512];
	shmq_bus *bus;

	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	snprintf(path, sizeof(path), "%s/w%u.%u.log", dir, w->wid, w->inc);
	log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0)
		_exit(3);
	rng = w->seed * 0x9e3779b97f4a7c15ull + w->wid * 7919u + w->inc + 1;
	slow_flag = w->slow;
	wlog("H %s %u %u %d\n", kinds[w->kind], w->wid, w->inc, (int)getpid());
	if (shmq_bus_open(ns, 0, &bus) < 0)
		_exit(4);
	return bus;
}

/* A clean end: the checker tells a killed worker by its missing "Z" line. */
static void worker_done(shmq_bus *bus)
{
	shmq_bus_close(bus);
	wlog("Z\n");
	_exit(0);
}

/* Send one record; 1 when it is confirmed, 0 when it is to be tried again, -1 when abandoned. */
static int send_one(shmq_pub *pub, const struct worker *w, uint64_t seq)
{
	struct chaos_rec rec = { .wid = w->wid, .inc = w->inc, .seq = seq };
	int r = shmq_pub_send(pub, &rec, sizeof(rec), 0);

	if (r == 0)
		return 1;
	if (r == -EAGAIN) {
		shmq_pub_wait(pub, 0, WAIT_NS);
		return 0;
	}
	return -1; /* -ETIMEDOUT, -ESTALE: the record is given up, never delivered */
}

static void run_producer(shmq_bus *bus, const struct worker *w)
{
	shmq_pub *rel, *lossy;
	uint64_t sr = 1, sl = 1;
	int r;

	if (shmq_pub_open(bus, CHAOS_TOPIC_REL, 0, NULL, &rel) < 0 ||
	    shmq_pub_open(bus, CHAOS_TOPIC_LOSSY, 0, NULL, &lossy) < 0)
		_exit(5);
	while (!stop_flag) {
		r = send_one(rel, w, sr);
		if (r == 1)
			wlog("S r %llu\n", (unsigned long long)sr);
		if (r != 0)
			sr++;
		if (send_one(lossy, w, sl) == 1)
			wlog("S l %llu\n", (unsigned long long)sl);
		sl++;
		usleep(w->pace_us);
	}
	shmq_pub_close(rel);
	shmq_pub_close(lossy);
	worker_done(bus);
}

/*
 * Send record @seq of key @key; 1 when it is confirmed, 0 when it is to be tried again (the
 * same record: a key's next record goes only after this one), -1 when the run is over.
 */
static int send_keyed(shmq_part_pub *pub, const struct worker *w, unsigned key, uint64_t seq)
{
	struct chaos_krec rec = { .wid = w->wid, .inc = w->inc, .key = key, .seq = seq };
	char name[32];
	int r;

	snprintf(name, sizeof(name), "p%u.k%u", w->wid, key);
	while (!stop_flag) {
		r = shmq_part_send(pub, name, strlen(name), &rec, sizeof(rec), 0);
		if (r == 0)
			return 1;
		if (r != -EAGAIN)
			return 0; /* -ETIMEDOUT, -ESTALE: never delivered, so sent again */
		shmq_pub_wait(shmq_part_pub_partition(
				      pub, shmq_part_of(name, strlen(name), shmq_part_count(pub))),
			      0, WAIT_NS);
	}
	return -1;
}

/* Round-robin over the keys; each key's records in sequence, its next after a confirmed one. */
static void run_keyed_producer(shmq_bus *bus, const struct worker *w)
{
	uint64_t seq[CHAOS_KEYS];
	shmq_part_pub *pub;
	unsigned k;
	int r;

	if (shmq_part_pub_open(bus, CHAOS_PTOPIC, 0, 0, NULL, &pub) < 0)
		_exit(5);
	for (k = 0; k < CHAOS_KEYS; k++)
		seq[k] = 1;
	for (k = 0; !stop_flag; k = (k + 1) % CHAOS_KEYS) {
		r = send_keyed(pub, w, k, seq[k]);
		if (r == 1)
			wlog("S k %u %llu\n", k, (unsigned long long)seq[k]++);
		usleep(w->pace_us);
	}
	shmq_part_pub_close(pub);
	worker_done(bus);
}

/*
 * A plain subscriber's receive that gave no record (@r): an unexpected error is logged, an
 * empty topic waited on a while. Return: true when the run is over (asked to stop, and
 * nothing left to read).
 */
static bool sub_idle(shmq_sub *sub, int r)
{
	if (r >= 0 || (r != -EAGAIN && r != -EBADMSG))
		wlog("E recv %d\n", r);
	if (r != -EAGAIN)
		return false;
	if (stop_flag)
		return true;
	if (shmq_sub_wait(sub, 0, WAIT_NS) == -EPIPE)
		usleep(1000);
	return false;
}

static void run_subscriber(shmq_bus *bus, const struct worker *w)
{
	const char *topic = w->kind == CK_LSUB ? CHAOS_TOPIC_LOSSY : CHAOS_TOPIC_REL;
	char t = w->kind == CK_LSUB ? 'l' : 'r';
	struct chaos_rec rec;
	struct shmq_sub_msg m;
	shmq_sub *sub;
	int r;

	if (shmq_sub_open(bus, topic, 0, NULL, 0, &sub) < 0)
		_exit(5);
	wlog("J\n");
	for (;;) {
		r = shmq_sub_recv(sub, &rec, sizeof(rec), &m);
		if (r == (int)sizeof(rec)) {
			wlog("D %c %u %u %llu\n", t, rec.wid, rec.inc, (unsigned long long)rec.seq);
			continue;
		}
		if (sub_idle(sub, r))
			break;
	}
	shmq_sub_close(sub);
	worker_done(bus);
}

/* Ack most, nack some, terminate a few (dead letters), and dawdle when slow. */
static void handle_lease(shmq_group *g, const struct chaos_rec *rec, const struct shmq_group_msg *m)
{
	uint32_t dice = next_rand() % 1000;
	unsigned long long seq = (unsigned long long)rec->seq;
	int r;

	wlog("G %u %u %llu %u\n", rec->wid, rec->inc, seq, m->attempt);
	if (slow_flag)
		usleep(1000 + next_rand() % 20000);
	if (dice < 80) {
		if (shmq_group_nack(g, m->lease, SHMQ_GROUP_BACKOFF) == 0)
			wlog("N %u %u %llu\n", rec->wid, rec->inc, seq);
		return;
	}
	if (dice < 85) {
		r = shmq_group_term(g, m->lease);
		if (r != 0)
			wlog("F %u %u %llu %d\n", rec->wid, rec->inc, seq, r);
		return;
	}
	r = shmq_group_ack(g, m->lease);
	if (r == 0)
		wlog("A %u %u %llu\n", rec->wid, rec->inc, seq);
	else
		wlog("F %u %u %llu %d\n", rec->wid, rec->inc, seq, r);
}

static void run_member(shmq_bus *bus, const struct worker *w)
{
	struct shmq_group_msg m;
	struct chaos_rec rec;
	shmq_group *g;
	int r;

	if (shmq_group_open(bus, CHAOS_TOPIC_REL, CHAOS_GROUP, 0, NULL, &g) < 0)
		_exit(5);
	while (!stop_flag) {
		r = shmq_group_recv(g, &rec, sizeof(rec), &m);
		if (r == (int)sizeof(rec)) {
			handle_lease(g, &rec, &m);
			continue;
		}
		if (r >= 0 || r == -EMSGSIZE) {
			wlog("E recv %d\n", r);
			shmq_group_term(g, m.lease);
			continue;
		}
		if (r != -EAGAIN)
			wlog("E recv %d\n", r);
		if (shmq_group_wait(g, 0, WAIT_NS) == -EPIPE)
			usleep(1000);
	}
	shmq_group_close(g);
	worker_done(bus);
}

/*
 * A partitioned member's lease: logged with the time, then acked, or nacked with delay 0
 * (4 %): with one lease in flight the partition gives that record again before its next, so a
 * nack keeps key order. No terminations: a dead letter lets the records after it pass.
 */
static void handle_keyed(shmq_group *g, const struct chaos_krec *rec,
			 const struct shmq_group_msg *m, unsigned part)
{
	unsigned long long seq = (unsigned long long)rec->seq;
	uint32_t dice = next_rand() % 1000;
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	wlog("L %u %u %u %llu %u %llu\n", rec->wid, rec->inc, rec->key, seq, part,
	     (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
	if (slow_flag)
		usleep(1000 + next_rand() % 20000);
	r = dice < 40 ? shmq_group_nack(g, m->lease, 0) : shmq_group_ack(g, m->lease);
	if (r == 0)
		wlog("%c %u %u %u %llu\n", dice < 40 ? 'N' : 'A', rec->wid, rec->inc, rec->key,
		     seq);
	else
		wlog("F %u %u %u %llu %d\n", rec->wid, rec->inc, rec->key, seq, r);
}

static void run_keyed_member(shmq_bus *bus, const struct worker *w)
{
	struct shmq_group_msg m;
	struct chaos_krec rec;
	shmq_part_group *g;
	unsigned part;
	int r;

	(void)w;
	if (shmq_part_group_open(bus, CHAOS_PTOPIC, CHAOS_GROUP, 0, NULL, &g) < 0)
		_exit(5);
	while (!stop_flag) {
		r = shmq_part_group_recv(g, &rec, sizeof(rec), &m, &part);
		if (r == (int)sizeof(rec)) {
			handle_keyed(shmq_part_group_partition(g, part), &rec, &m, part);
			continue;
		}
		if (r >= 0 || r == -EMSGSIZE) {
			wlog("E recv %d\n", r);
			shmq_group_term(shmq_part_group_partition(g, part), m.lease);
			continue;
		}
		if (r != -EAGAIN)
			wlog("E recv %d\n", r);
		if (shmq_part_group_wait(g, 0, WAIT_NS) == -EPIPE)
			usleep(1000);
	}
	shmq_part_group_close(g);
	worker_done(bus);
}

static void run_dlq_witness(shmq_bus *bus, const struct worker *w)
{
	char buf[512];
	struct shmq_dlq_hdr h;
	struct chaos_rec rec;
	shmq_sub *sub;
	int r;

	(void)w;
	if (shmq_sub_open(bus, CHAOS_TOPIC_DLQ, 0, NULL, 0, &sub) < 0)
		_exit(5);
	wlog("J\n");
	for (;;) {
		r = shmq_sub_recv(sub, buf, sizeof(buf), NULL);
		if (r >= (int)sizeof(h)) {
			memcpy(&h, buf, sizeof(h));
			if (h.hdr_len <= (unsigned)r && (unsigned)r - h.hdr_len == sizeof(rec)) {
				memcpy(&rec, buf + h.hdr_len, sizeof(rec));
				wlog("X %u %u %llu %u\n", rec.wid, rec.inc,
				     (unsigned long long)rec.seq, h.reason);
				continue;
			}
		}
		if (sub_idle(sub, r))
			break;
	}
	shmq_sub_close(sub);
	worker_done(bus);
}

static void run_requester(shmq_bus *bus, const struct worker *w)
{
	char q[64], want[80], got[80];
	shmq_req *req;
	unsigned n;
	int r;

	if (shmq_req_open(bus, CHAOS_SERVICE, 0, &req) < 0)
		_exit(5);
	for (n = 1; !stop_flag; n++) {
		snprintf(q, sizeof(q), "%u.%u.%u", w->wid, w->inc, n);
		snprintf(want, sizeof(want), "re:%s", q);
		wlog("Q %u\n", n);
		r = shmq_request(req, q, strlen(q), got, sizeof(got) - 1, 500000000ull);
		if (r >= 0)
			r = ((size_t)r == strlen(want) && !memcmp(got, want, (size_t)r)) ? 0 : 1;
		wlog("R %u %d\n", n, r);
		if (r == -EHOSTUNREACH)
			usleep(5000);
		usleep(w->pace_us * 4);
	}
	shmq_req_close(req);
	worker_done(bus);
}

static void run_responder(shmq_bus *bus, const struct worker *w)
{
	struct shmq_request_info info;
	char q[64], a[80];
	shmq_rep *rep;
	int r;

	(void)w;
	if (shmq_rep_open(bus, CHAOS_SERVICE, 0, NULL, &rep) < 0)
		_exit(5);
	while (!stop_flag) {
		r = shmq_rep_recv(rep, q, sizeof(q) - 1, &info);
		if (r >= 0) {
			q[r] = '\0';
			snprintf(a, sizeof(a), "re:%s", q);
			if (shmq_rep_reply(rep, &info, a, strlen(a)) == 0)
				wlog("P %s\n", q);
			continue;
		}
		if (r != -EAGAIN)
			wlog("E recv %d\n", r);
		shmq_rep_wait(rep, 0, WAIT_NS);
	}
	shmq_rep_close(rep);
	worker_done(bus);
}

void worker_main(const struct worker *w, const char *dir, const char *ns)
{
	shmq_bus *bus = worker_setup(w, dir, ns);

	switch (w->kind) {
	case CK_PROD:
		run_producer(bus, w);
		break;
	case CK_WSUB:
	case CK_LSUB:
	case CK_VSUB:
		run_subscriber(bus, w);
		break;
	case CK_MEMB:
		run_member(bus, w);
		break;
	case CK_DLQW:
		run_dlq_witness(bus, w);
		break;
	case CK_REQ:
		run_requester(bus, w);
		break;
	case CK_REP:
		run_responder(bus, w);
		break;
	case CK_KPROD:
		run_keyed_producer(bus, w);
		break;
	case CK_KMEMB:
		run_keyed_member(bus, w);
		break;
	default:
		break;
	}
	_exit(6);
}
